/*
 * Server-sent events: one thread follows the store's change feed (which
 * also sees runs changed by other processes, such as `synthflow trigger` or
 * `runs cancel`) and broadcasts each change to every open stream.
 *
 *   event: run     data: {"seq","run_id","dag_id","state"}
 *   event: task    data: {"seq","run_id","dag_id","task_id","index","state","try"}
 *   event: dags    data: {}        (the DAG files changed)
 */
#include "web/web-impl.h"

#include <errno.h>
#include <time.h>

#include "util/common.h"
#include "util/timeutil.h"

#define POLL_MS 100
#define DAGS_CHECK_MS 1000
/* Idle streams get a comment this often, which also finds dead clients. */
#define PING_MS 15000
#define BATCH 2000

static int format_change(const struct store_change *c, void *arg)
{
	struct strbuf *out = arg;
	json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "seq", (json_int_t)c->seq, "run_id", c->run_id,
			      "dag_id", c->dag_id, "state", c->state);
	char *s;

	if (c->task_id) {
		json_object_set_new(j, "task_id", json_string(c->task_id));
		json_object_set_new(j, "index", c->index < 0 ? json_null() : json_integer(c->index));
		json_object_set_new(j, "try", json_integer(c->try_number));
	}
	s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	sb_addf(out, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)c->seq,
		c->task_id ? "task" : "run", s);
	free(s);
	json_decref(j);
	return 0;
}

static void publish_changes(struct web *w, struct store *s, int64_t *seq)
{
	struct strbuf out = STRBUF_INIT;
	int64_t before;

	do {
		before = *seq;
		sb_reset(&out);
		if (store_changes_since(s, *seq, BATCH, format_change, &out, seq) < 0)
			break;
		if (out.len)
			httpd_broadcast(w->httpd, out.buf, out.len);
	} while (*seq != before && out.len);
	sb_release(&out);
}

static int wait_tick(struct web *w)
{
	struct timespec ts;
	int stopping;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += POLL_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->events_lock);
	if (!w->stopping)
		pthread_cond_timedwait(&w->events_cond, &w->events_lock, &ts);
	stopping = w->stopping;
	pthread_mutex_unlock(&w->events_lock);
	return !stopping;
}

static void *events_main(void *arg)
{
	struct web *w = arg;
	struct store *s = web_store(w);
	int64_t seq = 0, dags_at = time_mono_ms(), ping_at = time_mono_ms();

	if (!s || store_seq(s, &seq) < 0)
		return NULL;
	while (wait_tick(w)) {
		int64_t now = time_mono_ms();
		if (store_changed_elsewhere(s))
			publish_changes(w, s, &seq);
		if (now - dags_at >= DAGS_CHECK_MS) {
			dags_at = now;
			if (dags_refresh(w))
				httpd_broadcast(w->httpd, "event: dags\ndata: {}\n\n", 21);
		}
		if (now - ping_at >= PING_MS) {
			ping_at = now;
			httpd_broadcast(w->httpd, ": ping\n\n", 8);
		}
	}
	return NULL;
}

int events_start(struct web *w)
{
	int rc = pthread_create(&w->events, NULL, events_main, w);
	if (rc) {
		errno = rc;
		return error_errno("cannot start the events thread");
	}
	w->events_running = 1;
	return 0;
}

void events_stop(struct web *w)
{
	if (!w->events_running)
		return;
	pthread_mutex_lock(&w->events_lock);
	w->stopping = 1;
	pthread_cond_signal(&w->events_cond);
	pthread_mutex_unlock(&w->events_lock);
	pthread_join(w->events, NULL);
	w->events_running = 0;
}

void api_events(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = web_store(w);
	int64_t seq = 0;

	if (!s || store_seq(s, &seq) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	resp->status = 200;
	resp->sse = 1;
	resp->content_type = "text/event-stream";
	/* The current sequence lets a client know which snapshot it holds. */
	sb_addf(&resp->body, "retry: 3000\nevent: hello\ndata: {\"seq\":%lld}\n\n", (long long)seq);
}
