#ifndef SF_WEB_IMPL_H
#define SF_WEB_IMPL_H

/*
 * Inside the web module: the server's state and what its parts (web.c,
 * api.c, files.c, events.c, dagcache.c, metrics.c) share.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "flow/dag.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/httpd.h"
#include "web/web.h"

/*
 * The DAGs as last loaded from the data folder, shared read-only by
 * requests.  A new snapshot replaces it when the DAG files change; old ones
 * live until their last reader lets go.
 */
struct dag_snap {
	atomic_int refs;
	struct dag_set set;
	json_t **json;          /* dag_to_json of set.dags[i] */
	char *signature;        /* what the DAG files looked like (names, sizes, mtimes) */
};

/* Per route: requests by status class and total time, for /metrics. */
struct route_stats {
	atomic_ullong count[6]; /* index status/100: 1xx..5xx */
	atomic_ullong usec;
};

/*
 * The last GET /api/v1/dags answer, reused while nothing it depends on has
 * changed (the DAG files, the store's change sequence, the paused flags,
 * limit and offset): a dashboard polling the list costs a lookup.
 */
struct list_cache {
	pthread_mutex_t lock;
	struct dag_snap *snap;  /* a reference, so the pointer is never reused */
	int64_t seq;
	char *paused;
	long limit, offset;
	int64_t minute;         /* of the schedule clock: next_run moves on with it */
	char *body;
	size_t len;
};

/*
 * Grid rows of finished runs, which change only when a clear makes the run
 * active again (and so changes its sequence number): a DAG page over runs
 * with big foreach tasks counts their instances once, not on every load.
 */
struct grid_cache {
	pthread_mutex_t lock;
	struct dag_snap *snap;  /* rows follow this snapshot's task order */
	json_t *rows;           /* {run_id: [seq, row]} */
};

/*
 * The dataset view's queries over one finished run, in memory (mcache.c).
 * The first plain page is read from the store while a loader thread reads
 * the run into the table; a filter or sort waits for it.
 */
struct mtable;
/* A read in a thread of its own; `done` is signalled under its cache's lock when it ends. */
struct mread {
	pthread_t thread;
	pthread_cond_t done;
	int loading, joinable;
};
struct metrics_cache {
	pthread_mutex_t lock;
	struct mtable *t;
	struct mread read;
	char *load_run;         /* what the loader reads */
	int64_t load_seq;
	/*
	 * The last dataset's metrics file asked for, read by a thread of its
	 * own (at serve's start, or when a first page finds it changed) or,
	 * for a query that needs it, in the request.
	 */
	pthread_mutex_t file_lock;
	struct mtable *file;
	struct mread file_read;
	char *file_load_path, *file_load_shown; /* what file_loader reads */
	char *file_failed;      /* the file whose last read failed, as stat saw it then */
	struct stat file_failed_st;
};

struct web {
	struct web_opts o;
	const char *data_dir;
	struct web_auth auth;
	struct httpd *httpd;
	char *url;
	int is_public;
	pthread_key_t store_key;        /* one store connection per thread */
	pthread_mutex_t dags_lock;
	struct dag_snap *dags;
	pthread_t events;
	int events_running;
	pthread_mutex_t events_lock;
	pthread_cond_t events_cond;
	int stopping;
	struct route_stats *stats;      /* one per route, plus one for the rest */
	struct list_cache list;
	struct grid_cache grid;
	struct metrics_cache mcache;
	int64_t started_ms;
};

/* The route table (web.c) and the handlers behind it. */
extern const struct http_route web_routes[];
extern const size_t web_nroutes;

/*
 * Everything but the sockets and threads: the fuzzer and the unit tests
 * build a server with this and call web_handle directly.
 */
struct web *web_open(const struct web_opts *o);
void web_close(struct web *w);
void web_handle(void *ctx, struct http_req *req, struct http_resp *resp);

/* This thread's store connection (opened on first use); NULL after error(). */
struct store *web_store(struct web *w);

/* The largest ?limit= of the metrics routes: the dataset view pages through 100,000 clips. */
#define METRICS_MAX_LIMIT 100000

/* mcache.c: 1 when the cache answered, 0 when the store should, -1 as store_metrics_list. */
int mcache_list(struct web *w, struct store *s, const struct store_run *run,
		const struct store_metrics_query *q, json_t **rows, size_t *total, struct strbuf *err);
/*
 * A dataset's metrics file at the real path `path` (named `shown` in
 * errors), kept while stat says it is the same file: 0 with *rows and
 * *total, else an HTTP status with the reason in err (400 bad query, 404
 * no file, 413 too big, 422 a bad line, as "SHOWN:LINE:COL: reason").
 */
int mcache_file_list(struct web *w, const char *path, const char *shown,
		     const struct store_metrics_query *q, json_t **rows, size_t *total,
		     struct strbuf *err);
/* datasets.c: at serve's start, the newest metrics file of uploadable/ to mcache_file_preload */
void datasets_preload(struct web *w);
/*
 * serve's start: the newest finished run with metrics (of the last 20 that
 * finished) is read into memory in the background, so that the dataset
 * view's first filter after a restart need not wait for it.
 */
void mcache_preload(struct web *w);
/*
 * serve's start too: the newest metrics file of uploadable/'s folders (real
 * path, shown as in errors) is read in the background (datasets.c finds it).
 */
void mcache_file_preload(struct web *w, const char *path, const char *shown);
void mcache_release(struct web *w);

/* dagcache.c */
struct dag_snap *dags_get(struct web *w);
void dags_put(struct dag_snap *snap);
/* Reloads when the DAG files changed; 1 when a new snapshot was made. */
int dags_refresh(struct web *w);
void dags_release_all(struct web *w);

/* api.c */
/* The store, or NULL after answering 500 "cannot open the store". */
struct store *api_store(struct web *w, struct http_resp *resp);
/* The DAG of the snapshot, or NULL after answering 404 (with a "did you mean"). */
const struct dag *api_find_dag(struct dag_snap *snap, const char *id, struct http_resp *resp);
void api_cache_release(struct web *w);
void api_health(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dags(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dag(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dag_runs(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dag_trigger(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dag_pause(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dag_files(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dag_files_retry(void *ctx, struct http_req *req, struct http_resp *resp);
void api_run(void *ctx, struct http_req *req, struct http_resp *resp);
void api_run_diff(void *ctx, struct http_req *req, struct http_resp *resp);
void api_run_provenance(void *ctx, struct http_req *req, struct http_resp *resp);
void api_run_cancel(void *ctx, struct http_req *req, struct http_resp *resp);
void api_task_clear(void *ctx, struct http_req *req, struct http_resp *resp);
void api_task_tries(void *ctx, struct http_req *req, struct http_resp *resp);
void api_task_log(void *ctx, struct http_req *req, struct http_resp *resp);
void api_run_metrics(void *ctx, struct http_req *req, struct http_resp *resp);

/* grid.c: the DAG page's grid of runs and tasks */
void api_dag_grid(void *ctx, struct http_req *req, struct http_resp *resp);
void api_grid_release(struct web *w);

/* vars.c: variables */
void api_vars(void *ctx, struct http_req *req, struct http_resp *resp);
void api_var_put(void *ctx, struct http_req *req, struct http_resp *resp);
void api_var_delete(void *ctx, struct http_req *req, struct http_resp *resp);
void api_var_history(void *ctx, struct http_req *req, struct http_resp *resp);

/* deliveries.c: callbacks and event scripts run */
void api_deliveries(void *ctx, struct http_req *req, struct http_resp *resp);
void api_delivery_log(void *ctx, struct http_req *req, struct http_resp *resp);

/* files.c: results */
void api_run_files(void *ctx, struct http_req *req, struct http_resp *resp);
void api_run_file(void *ctx, struct http_req *req, struct http_resp *resp);
/*
 * Answers with the file at `path` (already checked), honouring a single
 * "Range: bytes=A-B" request.
 */
void web_send_file(struct http_req *req, struct http_resp *resp, const char *path,
		   const char *type);

/* datasets.c: the folders of uploadable/ and their metrics files */
void api_datasets(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dataset_metrics(void *ctx, struct http_req *req, struct http_resp *resp);
void api_dataset_file(void *ctx, struct http_req *req, struct http_resp *resp);

/* events.c: server-sent events */
void api_events(void *ctx, struct http_req *req, struct http_resp *resp);
int events_start(struct web *w);
void events_stop(struct web *w);

/* metrics.c */
void api_metrics(void *ctx, struct http_req *req, struct http_resp *resp);
void metrics_request_done(void *ctx, const struct http_req *req, int status, int64_t usec);

#endif
