/*
 * GET /metrics in the Prometheus text format: runs and task instances by
 * state, task durations, HTTP requests per route, event streams, memory,
 * and whatever the scheduler adds through web_opts.metrics.
 */
#include "web/web-impl.h"

#include <unistd.h>

#include "util/common.h"
#include "util/timeutil.h"

void metrics_request_done(void *ctx, const struct http_req *req, int status, int64_t usec)
{
	struct web *w = ctx;
	struct route_stats *st = &w->stats[req->route < web_nroutes ? req->route : web_nroutes];
	int cls = status / 100;

	atomic_fetch_add(&st->count[cls >= 1 && cls <= 5 ? cls : 0], 1);
	atomic_fetch_add(&st->usec, (unsigned long long)(usec > 0 ? usec : 0));
}

static void http_metrics(struct web *w, struct strbuf *out)
{
	sb_adds(out, "# HELP synthflow_http_requests_total HTTP requests answered, by route and "
		     "status class.\n# TYPE synthflow_http_requests_total counter\n");
	for (size_t r = 0; r <= web_nroutes; r++) {
		const char *route = r < web_nroutes ? web_routes[r].pattern : "other";
		const char *method = r < web_nroutes ? web_routes[r].method : "any";
		for (int c = 1; c <= 5; c++) {
			unsigned long long n = atomic_load(&w->stats[r].count[c]);
			if (n)
				sb_addf(out,
					"synthflow_http_requests_total{method=\"%s\",route=\"%s\","
					"code=\"%dxx\"} %llu\n",
					method, route, c, n);
		}
	}
	sb_adds(out, "# HELP synthflow_http_request_seconds_total Time spent answering, by route.\n"
		     "# TYPE synthflow_http_request_seconds_total counter\n");
	for (size_t r = 0; r <= web_nroutes; r++) {
		unsigned long long us = atomic_load(&w->stats[r].usec);
		if (us)
			sb_addf(out, "synthflow_http_request_seconds_total{method=\"%s\",route=\"%s\"} %.6f\n",
				r < web_nroutes ? web_routes[r].method : "any",
				r < web_nroutes ? web_routes[r].pattern : "other", us / 1e6);
	}
}

static int run_metrics(struct store *s, struct strbuf *out)
{
	sb_adds(out, "# HELP synthflow_runs DAG runs in the store, by state.\n"
		     "# TYPE synthflow_runs gauge\n");
	for (int st = 0; st < RUN_NSTATES; st++) {
		struct store_run_filter f = { .states = 1u << st, .limit = 1 };
		struct store_run *runs = NULL;
		size_t n = 0, total = 0;
		if (store_run_list(s, &f, &runs, &n, &total) < 0)
			return -1;
		store_run_list_free(runs, n);
		sb_addf(out, "synthflow_runs{state=\"%s\"} %zu\n", run_state_name(st), total);
	}
	return 0;
}

/*
 * Counted in the store, where every run is created with what started it, so
 * runs that other processes create (the CLI's trigger, vars set, replay)
 * count too; runs are never deleted, so the counts only grow.
 */
static int created_metrics(struct store *s, struct strbuf *out)
{
	static const char *const triggers[] = { "manual", "api", "schedule", "file", "variable",
						"replay" };

	sb_adds(out, "# HELP synthflow_runs_created_total DAG runs created, by what started them.\n"
		     "# TYPE synthflow_runs_created_total counter\n");
	for (size_t i = 0; i < ARRAY_SIZE(triggers); i++) {
		struct store_run_filter f = { .trigger = triggers[i], .limit = 1 };
		struct store_run *runs = NULL;
		size_t n = 0, total = 0;
		if (store_run_list(s, &f, &runs, &n, &total) < 0)
			return -1;
		store_run_list_free(runs, n);
		sb_addf(out, "synthflow_runs_created_total{trigger=\"%s\"} %zu\n", triggers[i], total);
	}
	return 0;
}

static int task_metrics(struct store *s, struct strbuf *out)
{
	struct store_ti_stats ts;

	if (store_ti_stats(s, &ts) < 0)
		return -1;
	sb_adds(out, "# HELP synthflow_task_instances Task instances in the store, by state.\n"
		     "# TYPE synthflow_task_instances gauge\n");
	for (int st = 0; st < TI_NSTATES; st++)
		sb_addf(out, "synthflow_task_instances{state=\"%s\"} %llu\n", ti_state_name(st),
			(unsigned long long)ts.by_state[st]);
	sb_adds(out, "# HELP synthflow_task_duration_seconds Duration of finished task tries.\n"
		     "# TYPE synthflow_task_duration_seconds histogram\n");
	for (size_t b = 0; b < STORE_DURATION_BUCKETS; b++)
		sb_addf(out, "synthflow_task_duration_seconds_bucket{le=\"%g\"} %llu\n",
			store_duration_bucket_ms[b] / 1000.0, (unsigned long long)ts.duration_le[b]);
	sb_addf(out, "synthflow_task_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)ts.duration_count);
	sb_addf(out, "synthflow_task_duration_seconds_sum %.3f\n", ts.duration_sum_ms / 1000.0);
	sb_addf(out, "synthflow_task_duration_seconds_count %llu\n",
		(unsigned long long)ts.duration_count);
	return 0;
}

static void process_metrics(struct web *w, struct strbuf *out)
{
	struct dag_snap *snap = dags_get(w);
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	sb_addf(out,
		"# HELP synthflow_dags DAGs loaded.\n# TYPE synthflow_dags gauge\n"
		"synthflow_dags %zu\n"
		"# HELP synthflow_dag_files_invalid DAG files with errors.\n"
		"# TYPE synthflow_dag_files_invalid gauge\nsynthflow_dag_files_invalid %zu\n"
		"# HELP synthflow_event_streams Open server-sent event streams.\n"
		"# TYPE synthflow_event_streams gauge\nsynthflow_event_streams %zu\n"
		"# HELP process_resident_memory_bytes Resident memory.\n"
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
		"# HELP synthflow_uptime_seconds Seconds since the server started.\n"
		"# TYPE synthflow_uptime_seconds gauge\nsynthflow_uptime_seconds %.3f\n",
		snap->set.n, snap->set.bad_files, w->httpd ? httpd_nstreams(w->httpd) : 0,
		resident * sysconf(_SC_PAGESIZE), (time_now_ms() - w->started_ms) / 1000.0);
	dags_put(snap);
}

void api_metrics(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = web_store(w);

	if (!s || run_metrics(s, &resp->body) < 0 || created_metrics(s, &resp->body) < 0 ||
	    task_metrics(s, &resp->body) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	process_metrics(w, &resp->body);
	http_metrics(w, &resp->body);
	if (w->o.metrics)
		w->o.metrics(&resp->body, w->o.metrics_arg);
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
