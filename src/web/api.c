/*
 * The JSON API of docs/api.md (contract: paths and shapes) and the few
 * additions the UI needs (pause, tries; the grid is grid.c).  Handlers
 * validate everything they are given and answer {"error": "..."} with the
 * status that names the problem; they never exit and never trust ids as
 * paths.
 */
#include "web/web-impl.h"

#include <errno.h>
#include <unistd.h>

#include "flow/cache.h"
#include "flow/events.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "flow/schedule.h"
#include "flow/watch.h"
#include "util/common.h"
#include "util/timeutil.h"
#include "web/paths.h"

/* Runs shown per DAG in the list, and the bounds of ?limit=. */
#define RECENT_RUNS 8
#define MAX_LIMIT 1000
#define HEALTH_TICK_MS 10000

struct store *api_store(struct web *w, struct http_resp *resp)
{
	struct store *s = web_store(w);
	if (!s)
		http_error(resp, 500, "cannot open the store");
	return s;
}

const struct dag *api_find_dag(struct dag_snap *snap, const char *id, struct http_resp *resp)
{
	const struct dag *d = dagset_find(&snap->set, id);
	const char *near;

	if (d)
		return d;
	near = dagset_closest(&snap->set, id);
	if (near)
		http_error(resp, 404, "unknown DAG '%s' (did you mean '%s'?)", id, near);
	else
		http_error(resp, 404, "unknown DAG '%s'", id);
	return NULL;
}

static size_t dag_pos(struct dag_snap *snap, const struct dag *d)
{
	for (size_t i = 0; i < snap->set.n; i++)
		if (snap->set.dags[i] == d)
			return i;
	BUG("DAG '%s' not in its snapshot", d->id);
}

/* 0 with *r loaded; else the response says why. */
static int load_run(struct store *s, const char *run_id, struct store_run *r, struct http_resp *resp)
{
	int rc = store_run_get(s, run_id, r);
	if (rc == STORE_NOT_FOUND)
		http_error(resp, 404, "unknown run '%s'", run_id);
	else if (rc < 0)
		http_error(resp, 500, "cannot read run '%s' from the store", run_id);
	return rc ? -1 : 0;
}

/*
 * Healthy: the store answers a read, and the scheduler beside the server
 * went round its loop within HEALTH_TICK_MS (it does every 50 ms).  Public,
 * like any liveness check: it says nothing about runs.
 */
void api_health(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = web_store(w);
	int64_t seq, age = w->o.tick_age_ms ? w->o.tick_age_ms(w->o.metrics_arg) : -1;
	json_t *tick = age >= 0 ? json_integer(age) : json_null();

	if (!s || store_seq(s, &seq) < 0) {
		json_decref(tick);
		http_json(resp, 503, json_pack("{s:s,s:s}", "status", "unhealthy", "reason",
					       "the store cannot be read (see serve's output)"));
	} else if (age > HEALTH_TICK_MS) {
		char *why = xasprintf("the scheduler loop has not ticked for %lld ms (limit %d ms)",
				      (long long)age, HEALTH_TICK_MS);
		json_decref(tick);
		http_json(resp, 503, json_pack("{s:s,s:s}", "status", "unhealthy", "reason", why));
		free(why);
	} else {
		http_json(resp, 200, json_pack("{s:s,s:s,s:o}", "status", "ok", "store", "ok",
					       "scheduler_tick_ms_ago", tick));
	}
}

/* The newest runs of a DAG, as little as the list shows of them. */
static json_t *recent_runs(struct store *s, const char *dag_id)
{
	struct store_run_filter f = { .dag_id = dag_id, .limit = RECENT_RUNS };
	struct store_run *runs = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	char at[32];

	if (store_run_list(s, &f, &runs, &n, NULL) < 0) {
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		time_format_iso(runs[i].created_at, at, sizeof(at));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "run_id", runs[i].run_id,
						     "state", run_state_name(runs[i].state),
						     "created_at", at));
	}
	store_run_list_free(runs, n);
	return arr;
}

/* The list entry of a DAG: what the DAG list page shows, nothing more. */
static json_t *dag_summary(const struct dag *d, json_t *full, int paused, json_t *recent)
{
	char next[40];

	static const char *const keep[] = { "dag_id", "description", "workspace", "schedule",
					    "on_file", "max_active_runs", "warnings" };
	json_t *o = json_object();

	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		json_t *v = json_object_get(full, keep[i]);
		json_object_set(o, keep[i], v ? v : json_null());
	}
	json_object_set_new(o, "task_count", json_integer((json_int_t)json_array_size(
							json_object_get(full, "tasks"))));
	json_object_set_new(o, "param_count",
			    json_integer((json_int_t)json_object_size(json_object_get(full, "params"))));
	json_object_set_new(o, "paused", json_boolean(paused));
	schedule_next_text(d, next, sizeof(next));
	json_object_set_new(o, "next_run", *next ? json_string(next) : json_null());
	json_object_set_new(o, "recent_runs", recent);
	return o;
}

static json_t *dag_list(struct store *s, struct dag_snap *snap, json_t *paused, long limit,
		       long offset)
{
	json_t *arr = json_array();

	for (size_t i = (size_t)offset; i < snap->set.n && json_array_size(arr) < (size_t)limit; i++) {
		const char *id = snap->set.dags[i]->id;
		json_t *recent = recent_runs(s, id);
		if (!recent) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, dag_summary(snap->set.dags[i], snap->json[i],
						       json_is_true(json_object_get(paused, id)), recent));
	}
	return json_pack("{s:o,s:I,s:I}", "dags", arr, "total", (json_int_t)snap->set.n,
			 "invalid_files", (json_int_t)snap->set.bad_files);
}

/* 1 and the cached body in resp when the cache answers this request. */
static int list_cached(struct web *w, struct dag_snap *snap, int64_t seq, const char *paused,
		       long limit, long offset, struct http_resp *resp)
{
	struct list_cache *c = &w->list;
	int hit;

	pthread_mutex_lock(&c->lock);
	hit = c->body && c->snap == snap && c->seq == seq && !strcmp(c->paused, paused) &&
	      c->limit == limit && c->offset == offset && c->minute == schedule_now() / 60000;
	if (hit) {
		resp->status = 200;
		resp->content_type = "application/json";
		sb_add(&resp->body, c->body, c->len);
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void list_remember(struct web *w, struct dag_snap *snap, int64_t seq, const char *paused,
			  long limit, long offset, const struct strbuf *body)
{
	struct list_cache *c = &w->list;
	struct dag_snap *old;

	atomic_fetch_add(&snap->refs, 1);
	pthread_mutex_lock(&c->lock);
	old = c->snap;
	free(c->paused);
	free(c->body);
	c->snap = snap;
	c->seq = seq;
	c->minute = schedule_now() / 60000;
	c->paused = xstrdup(paused);
	c->limit = limit;
	c->offset = offset;
	c->body = xstrndup(body->buf, body->len);
	c->len = body->len;
	pthread_mutex_unlock(&c->lock);
	dags_put(old);
}

void api_cache_release(struct web *w)
{
	api_grid_release(w);
	dags_put(w->list.snap);
	free(w->list.paused);
	free(w->list.body);
	w->list.snap = NULL;
	w->list.paused = w->list.body = NULL;
}

void api_dags(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct dag_snap *snap;
	json_t *list, *paused = NULL;
	char *paused_text = NULL;
	long limit, offset;
	int64_t seq = 0;

	if (!s || http_query_limit(req, resp, MAX_LIMIT, MAX_LIMIT, &limit) < 0 ||
	    http_query_uint(req, resp, "offset", 0, 1L << 30, &offset) < 0)
		return;
	/* Read before the runs: a change in between only makes the next request recompute. */
	if (store_seq(s, &seq) < 0 || store_dag_paused_all(s, &paused) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	paused_text = json_dumps(paused, JSON_COMPACT | JSON_SORT_KEYS);
	snap = dags_get(w);
	if (!list_cached(w, snap, seq, paused_text, limit, offset, resp)) {
		list = dag_list(s, snap, paused, limit, offset);
		if (list) {
			http_json(resp, 200, list);
			list_remember(w, snap, seq, paused_text, limit, offset, &resp->body);
		} else {
			http_error(resp, 500, "cannot read the store");
		}
	}
	free(paused_text);
	json_decref(paused);
	dags_put(snap);
}

void api_dag(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct dag_snap *snap;
	const struct dag *d;
	int paused;

	if (!s)
		return;
	snap = dags_get(w);
	d = api_find_dag(snap, req->arg[0], resp);
	if (d) {
		json_t *j = json_deep_copy(snap->json[dag_pos(snap, d)]);
		paused = store_dag_paused(s, d->id);
		if (paused < 0) {
			json_decref(j);
			http_error(resp, 500, "cannot read the store");
		} else {
			char next[40];
			json_object_set_new(j, "paused", json_boolean(paused));
			schedule_next_text(d, next, sizeof(next));
			json_object_set_new(j, "next_run", *next ? json_string(next) : json_null());
			http_json(resp, 200, j);
		}
	}
	dags_put(snap);
}

static int state_filter(const struct http_req *req, struct http_resp *resp, unsigned *mask)
{
	const char *v = http_query(req, "state");
	enum run_state st;

	*mask = 0;
	if (!v || !*v)
		return 0;
	if (run_state_parse(v, &st) < 0) {
		http_error(resp, 400, "unknown run state '%s' in ?state=", v);
		return -1;
	}
	*mask = 1u << st;
	return 0;
}

void api_dag_runs(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run_filter f = { .dag_id = req->arg[0] };
	struct store_run *runs = NULL;
	struct dag_snap *snap;
	size_t n = 0, total = 0;
	long limit, offset;
	json_t *arr;

	if (!s || http_query_limit(req, resp, 25, MAX_LIMIT, &limit) < 0 ||
	    http_query_uint(req, resp, "offset", 0, 1L << 30, &offset) < 0 ||
	    state_filter(req, resp, &f.states) < 0)
		return;
	f.limit = (size_t)limit;
	f.offset = (size_t)offset;
	if (store_run_list(s, &f, &runs, &n, &total) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	/* A DAG whose file is gone still has its history; only a name never seen is unknown. */
	snap = dags_get(w);
	if (!total && !f.states && !api_find_dag(snap, req->arg[0], resp)) {
		dags_put(snap);
		store_run_list_free(runs, n);
		return;
	}
	dags_put(snap);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, store_run_summary_json(&runs[i]));
	store_run_list_free(runs, n);
	http_json(resp, 200, json_pack("{s:o,s:I}", "runs", arr, "total", (json_int_t)total));
}

/* "param 'rate': ..." from dag_params_from_json: the param the UI marks. */
static json_t *param_of_message(const char *msg)
{
	const char *p = strstr(msg, "param '");
	const char *end;

	if (!p)
		return json_null();
	p += strlen("param '");
	end = strchr(p, '\'');
	return end ? json_stringn(p, (size_t)(end - p)) : json_null();
}

static int only_keys(json_t *body, const char *const *keys, size_t n, struct http_resp *resp)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v) {
		size_t i;
		for (i = 0; i < n && strcmp(k, keys[i]); i++)
			;
		if (i == n) {
			http_error(resp, 400, "unknown field '%s' in the request body", k);
			return -1;
		}
	}
	return 0;
}

/*
 * What a handler of /api/v1/dags/{dag}/... works on: the store, the DAG
 * from the current snapshot, and for a POST its JSON body.
 */
struct dag_call {
	struct web *w;
	struct store *s;
	struct dag_snap *snap;
	const struct dag *d;
	json_t *body;
	const char *by;         /* who asks: "api" (a bearer token) or "manual" (the UI) */
};

/*
 * Calls fn once the store opened, the DAG was found and, when keys is not
 * NULL, the body is a JSON object with no field outside keys; otherwise
 * answers why not (500, 404, 400).
 */
static void on_dag(void *ctx, struct http_req *req, struct http_resp *resp,
		   const char *const *keys, size_t nkeys,
		   void (*fn)(struct dag_call *c, struct http_resp *resp))
{
	struct dag_call c = { .w = ctx, .by = req->auth == AUTH_BEARER ? "api" : "manual" };

	if (!(c.s = api_store(c.w, resp)))
		return;
	c.snap = dags_get(c.w);
	if ((c.d = api_find_dag(c.snap, req->arg[0], resp)) &&
	    (!keys || ((c.body = http_json_body(req, resp)) &&
		       only_keys(c.body, keys, nkeys, resp) == 0)))
		fn(&c, resp);
	json_decref(c.body);
	dags_put(c.snap);
}

static void trigger(struct dag_call *c, struct http_resp *resp)
{
	struct strbuf err = STRBUF_INIT;
	json_t *given = json_object_get(c->body, "params"), *none = NULL, *typed = NULL;
	const char *task, *field;
	char *run_id = NULL, *loc;
	int rc;

	if (given && !json_is_object(given)) {
		http_error(resp, 400, "'params' must be a JSON object");
		return;
	}
	if (!given)
		given = none = json_object(); /* nothing given: every default */
	rc = dag_params_from_json(c->d, given, &typed, &err);
	json_decref(none);
	if (rc < 0) {
		http_json(resp, 400, json_pack("{s:s,s:o}", "error", err.buf, "param",
					       param_of_message(err.buf)));
		sb_release(&err);
		return;
	}
	sb_reset(&err);
	if (sched_trigger_check(c->w->o.cfg, c->d, &err, &task, &field) < 0) {
		json_decref(typed);
		http_json(resp, 422, json_pack("{s:s,s:s,s:s}", "error", err.buf, "task", task,
					       "field", field));
		sb_release(&err);
		return;
	}
	sb_release(&err);
	if (sched_trigger(c->s, c->d, typed, c->by, &run_id) < 0) {
		json_decref(typed);
		http_error(resp, 500, "cannot create a run of '%s'", c->d->id);
		return;
	}
	json_decref(typed);
	loc = xasprintf("/api/v1/runs/%s", run_id);
	http_resp_header(resp, "Location", loc);
	free(loc);
	http_json(resp, 201, json_pack("{s:s,s:s}", "run_id", run_id, "state", "queued"));
	free(run_id);
}

void api_dag_trigger(void *ctx, struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "params" };
	on_dag(ctx, req, resp, keys, ARRAY_SIZE(keys), trigger);
}

static void set_paused(struct dag_call *c, struct http_resp *resp)
{
	json_t *paused = json_object_get(c->body, "paused");

	if (!json_is_boolean(paused))
		http_error(resp, 400, "'paused' must be true or false");
	else if (events_set_paused(c->s, c->w->data_dir, c->d, json_is_true(paused),
				   strcmp(c->by, "api") ? "ui" : "api") < 0)
		http_error(resp, 500, "cannot write the store");
	else
		http_json(resp, 200, json_pack("{s:s,s:b}", "dag_id", c->d->id, "paused",
					       json_is_true(paused)));
}

void api_dag_pause(void *ctx, struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "paused" };
	on_dag(ctx, req, resp, keys, ARRAY_SIZE(keys), set_paused);
}

static void files(struct dag_call *c, struct http_resp *resp)
{
	json_t *rows = watch_files_json(c->s, c->d);

	if (rows)
		http_json(resp, 200, json_pack("{s:s,s:o}", "dag_id", c->d->id, "files", rows));
	else
		http_error(resp, 500, "cannot read the store");
}

/* GET /api/v1/dags/{dag}/files: what `synthflow files DAG --json` prints. */
void api_dag_files(void *ctx, struct http_req *req, struct http_resp *resp)
{
	on_dag(ctx, req, resp, NULL, 0, files);
}

static void files_retry(struct dag_call *c, struct http_resp *resp)
{
	struct strbuf err = STRBUF_INIT;
	json_t *path = json_object_get(c->body, "path"), *runs;

	if (!json_is_string(path) || !json_string_length(path) ||
	    json_string_value(path)[0] == '/') {
		http_error(resp, 400, "'path' must be a path relative to downloaded/");
		return;
	}
	runs = watch_retry(c->s, &c->snap->set, c->w->o.cfg, json_string_value(path), c->d->id,
			   &err);
	if (runs)
		http_json(resp, 200, json_pack("{s:o}", "runs", runs));
	else
		http_error(resp, 400, "%s", err.buf);
	sb_release(&err);
}

/* POST /api/v1/dags/{dag}/files/retry {"path": "..."}: a new arrival of the file. */
void api_dag_files_retry(void *ctx, struct http_req *req, struct http_resp *resp)
{
	static const char *const keys[] = { "path" };
	on_dag(ctx, req, resp, keys, ARRAY_SIZE(keys), files_retry);
}

void api_run(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	json_t *j = NULL;
	int rc;

	if (!s)
		return;
	rc = store_run_load_json(s, req->arg[0], &j);
	if (rc == STORE_NOT_FOUND)
		http_error(resp, 404, "unknown run '%s'", req->arg[0]);
	else if (rc < 0)
		http_error(resp, 500, "cannot read run '%s' from the store", req->arg[0]);
	else
		http_json(resp, 200, j);
}

/* GET /api/v1/runs/{run}/provenance: the run's own record (host, variables, a replay's report). */
void api_run_provenance(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run r = { 0 };
	json_t *doc;
	int rc;

	if (!s || load_run(s, req->arg[0], &r, resp) < 0)
		return;
	rc = store_prov_get(s, r.run_id, "", -1, &doc);
	if (rc < 0)
		http_error(resp, 500, "cannot read the store");
	else
		http_json(resp, 200, json_pack("{s:s, s:o}", "run_id", r.run_id, "provenance",
					       rc == STORE_NOT_FOUND ? json_null() : doc));
	store_run_release(&r);
}

/* GET /api/v1/runs/{a}/diff/{b}: the Compare view (run_diff in flow/run.h). */
void api_run_diff(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run a = { 0 }, b = { 0 };
	json_t *d;

	if (!s || load_run(s, req->arg[0], &a, resp) < 0)
		return;
	if (load_run(s, req->arg[1], &b, resp) == 0) {
		if (run_diff(s, a.run_id, b.run_id, &d) < 0)
			http_error(resp, 500, "cannot compare runs '%s' and '%s'", a.run_id, b.run_id);
		else
			http_json(resp, 200, d);
	}
	store_run_release(&a);
	store_run_release(&b);
}

void api_run_cancel(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run r = { 0 };

	if (!s || load_run(s, req->arg[0], &r, resp) < 0)
		return;
	if (run_state_is_final(r.state))
		http_error(resp, 409, "run '%s' already ended (%s)", r.run_id, run_state_name(r.state));
	else if (sched_cancel(s, w->data_dir, r.run_id) != 0)
		http_error(resp, 500, "cannot cancel run '%s'", r.run_id);
	else
		http_json(resp, 202, json_pack("{s:s,s:s,s:s}", "run_id", r.run_id, "state",
					       run_state_name(r.state), "requested", "cancel"));
	store_run_release(&r);
}

/* A task of the run: in its DAG, or (DAG file gone) among its instances. */
static int task_known(struct web *w, struct store *s, const struct store_run *r, const char *task)
{
	struct dag_snap *snap = dags_get(w);
	const struct dag *d = dagset_find(&snap->set, r->dag_id);
	int known = d && dag_task(d, task);
	struct store_ti *tis = NULL;
	size_t n = 0;

	dags_put(snap);
	if (known || d)
		return known;
	if (store_ti_list(s, r->run_id, &tis, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !known; i++)
		known = !strcmp(tis[i].task_id, task);
	store_ti_list_free(tis, n);
	return known;
}

static int want_downstream(const struct http_req *req, struct http_resp *resp, int *down)
{
	static const char *const keys[] = { "downstream" };
	const char *q = http_query(req, "downstream");
	json_t *body, *v;

	*down = q && (!strcmp(q, "1") || !strcmp(q, "true"));
	if (!(body = http_json_body(req, resp)))
		return -1;
	if (only_keys(body, keys, ARRAY_SIZE(keys), resp) < 0) {
		json_decref(body);
		return -1;
	}
	v = json_object_get(body, "downstream");
	if (v && !json_is_boolean(v)) {
		json_decref(body);
		http_error(resp, 400, "'downstream' must be true or false");
		return -1;
	}
	if (v)
		*down = json_is_true(v);
	json_decref(body);
	return 0;
}

void api_task_clear(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run r = { 0 };
	int down;

	if (!s || want_downstream(req, resp, &down) < 0 || load_run(s, req->arg[0], &r, resp) < 0)
		return;
	if (!task_known(w, s, &r, req->arg[1]))
		http_error(resp, 404, "unknown task '%s' in run '%s'", req->arg[1], r.run_id);
	else if (sched_clear(s, r.run_id, req->arg[1], down) != 0)
		http_error(resp, 500, "cannot clear task '%s' of run '%s'", req->arg[1], r.run_id);
	else
		http_json(resp, 202, json_pack("{s:s,s:s,s:b,s:s}", "run_id", r.run_id, "task_id",
					       req->arg[1], "downstream", down, "requested", "clear"));
	store_run_release(&r);
}

/*
 * The instance a log or tries request means: ?index= for a foreach task
 * (required when it has several), -1 for a plain task.
 */
static int pick_index(struct store *s, const struct http_req *req, struct http_resp *resp,
		      const char *run_id, const char *task, int *index)
{
	struct store_ti *tis = NULL;
	size_t n = 0, count = 0;
	long want;
	int found = 0;

	if (http_query_uint(req, resp, "index", -1, 1L << 30, &want) < 0)
		return -1;
	if (store_ti_list(s, run_id, &tis, &n) < 0) {
		http_error(resp, 500, "cannot read the store");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tis[i].task_id, task))
			continue;
		count++;
		if (want >= 0 ? tis[i].index == want : count == 1) {
			*index = tis[i].index;
			found = 1;
		}
	}
	store_ti_list_free(tis, n);
	if (!count)
		http_error(resp, 404, "task '%s' has no instance in run '%s' yet", task, run_id);
	else if (want < 0 && count > 1)
		http_error(resp, 400, "task '%s' has %zu instances (foreach): give ?index=0..%zu",
			   task, count, count - 1);
	else if (!found)
		http_error(resp, 404, "task '%s' has no instance with index %ld", task, want);
	return count && found && !(want < 0 && count > 1) ? 0 : -1;
}

void api_task_tries(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run r = { 0 };
	struct store_try *tries = NULL;
	size_t n = 0;
	int index;
	json_t *arr, *prov;

	if (!s || load_run(s, req->arg[0], &r, resp) < 0)
		return;
	if (pick_index(s, req, resp, r.run_id, req->arg[1], &index) < 0)
		goto out;
	if (store_try_list(s, r.run_id, req->arg[1], index, &tries, &n) < 0) {
		http_error(resp, 500, "cannot read the store");
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, store_try_json(&tries[i]));
	store_try_list_free(tries, n);
	/* What the latest try ran with (docs/replication.md); null before one ended. */
	if (store_prov_get(s, r.run_id, req->arg[1], index, &prov))
		prov = json_null();
	http_json(resp, 200, json_pack("{s:s,s:s,s:o,s:o,s:o}", "run_id", r.run_id, "task_id",
				       req->arg[1], "index", index < 0 ? json_null() : json_integer(index),
				       "tries", arr, "provenance", prov));
out:
	store_run_release(&r);
}

/* GET /api/v1/runs/{run}/metrics?task=&filter=&sort=&limit=&offset= (docs/api.md) */
void api_run_metrics(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run r = { 0 };
	struct store_metrics_query q = { 0 };
	struct strbuf err = STRBUF_INIT;
	json_t *rows;
	size_t total = 0;
	long limit, offset;
	int rc;

	if (!s || http_query_limit(req, resp, 100, METRICS_MAX_LIMIT, &limit) < 0 ||
	    http_query_uint(req, resp, "offset", 0, 1L << 30, &offset) < 0 ||
	    load_run(s, req->arg[0], &r, resp) < 0)
		return;
	q.task_id = http_query(req, "task");
	q.filter = http_query(req, "filter");
	q.sort = http_query(req, "sort");
	q.limit = (size_t)limit;
	q.offset = (size_t)offset;
	rc = mcache_list(w, s, &r, &q, &rows, &total, &err);
	if (!rc)
		rc = store_metrics_list(s, r.run_id, &q, &rows, &total, &err);
	if (rc < 0) {
		if (err.len)
			http_error(resp, 400, "%s", err.buf);
		else
			http_error(resp, 500, "cannot read metrics from the store");
	} else {
		http_json(resp, 200, json_pack("{s:s, s:o, s:I, s:I, s:I}", "run_id", r.run_id,
					       "items", rows, "total", (json_int_t)total,
					       "limit", (json_int_t)limit, "offset",
					       (json_int_t)offset));
	}
	sb_release(&err);
	store_run_release(&r);
}

/* The log path of try `want` (0 = the latest), checked to lie in flow/logs. */
static char *log_path(struct web *w, struct store *s, const char *run_id, const char *task,
		      int index, long want, struct http_resp *resp)
{
	struct store_try *tries = NULL;
	struct strbuf err = STRBUF_INIT;
	char *logs = config_path(w->o.cfg, "flow/logs"), *real = NULL;
	const struct store_try *t = NULL;
	size_t n = 0;
	int status;

	if (store_try_list(s, run_id, task, index, &tries, &n) < 0) {
		http_error(resp, 500, "cannot read the store");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (want ? tries[i].try_number == want : 1)
			t = &tries[i];
	if (!t) {
		if (want)
			http_error(resp, 404, "task '%s' has no try %ld", task, want);
		else
			http_error(resp, 404, "task '%s' has not started yet", task);
		goto out;
	}
	if (!t->log_path) {
		http_error(resp, 404, "try %d of task '%s' has no log", t->try_number, task);
		goto out;
	}
	if (access(t->log_path, F_OK) < 0 && errno == ENOENT) {
		/* The engine makes a try's log on its first output: none yet is an empty log. */
		http_text(resp, 200, "text/plain; charset=utf-8", "");
		goto out;
	}
	status = paths_check_within(logs, t->log_path, &real, &err);
	if (status)
		http_error(resp, status, "log of try %d: %s", t->try_number, err.buf);
out:
	store_try_list_free(tries, n);
	sb_release(&err);
	free(logs);
	return real;
}

void api_task_log(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run r = { 0 };
	long want;
	int index;
	char *path;

	if (!s || http_query_uint(req, resp, "try", 0, 1L << 20, &want) < 0 ||
	    load_run(s, req->arg[0], &r, resp) < 0)
		return;
	if (pick_index(s, req, resp, r.run_id, req->arg[1], &index) == 0) {
		/* restored from the cache: the log of the instance that made its outputs */
		char *from = NULL;
		int from_index = -1;
		if (!want && cache_made_by(s, r.run_id, req->arg[1], index, &from, &from_index) == 0) {
			char idx[24];
			snprintf(idx, sizeof(idx), "%d", from_index);
			http_resp_header(resp, "X-Synthflow-Log-Run", from);
			if (from_index >= 0)
				http_resp_header(resp, "X-Synthflow-Log-Index", idx);
		}
		path = log_path(w, s, from ? from : r.run_id, req->arg[1], from ? from_index : index,
				want, resp);
		if (path)
			web_send_file(req, resp, path, "text/plain; charset=utf-8");
		free(path);
		free(from);
	}
	store_run_release(&r);
}
