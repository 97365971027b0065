#ifndef SF_SCHED_H
#define SF_SCHED_H

/*
 * The scheduler: runs DAG runs to the end, the way Airflow does (states of
 * docs/engine.md, trigger rules, retries, timeouts, foreach, limits),
 * with the local executor (exec.h).  All state lives in memory and is
 * mirrored to the store in one transaction per loop iteration.
 *
 * Two uses:
 *  - `synthflow test`: sched_new(.serve = 0), sched_add_run() for the run it
 *    created, sched_run() returns when that run is finished;
 *  - `synthflow serve`: sched_new(.serve = 1) takes every queued run from the
 *    store (and runs left behind by a scheduler that died), and notices new
 *    runs and requests from other connections within ~50 ms (it polls the
 *    store's cheap change check), at once when a thread of its own process
 *    calls sched_wake().  sched_run() returns after sched_stop().
 *
 * Threads: the scheduler is single-threaded (one poll loop driven by a
 * SIGCHLD self-pipe and timers).  The web server may run in other threads of
 * the same process: they open their own `struct store` and use the control
 * functions below, which only write to the store; the scheduler picks the
 * change up.  Block no signals the scheduler needs (SIGCHLD) in those threads'
 * creators after sched_new(): sched_new() installs the SIGCHLD handler.
 */

#include <jansson.h>

#include "core/config.h"
#include "flow/dag.h"
#include "store/store.h"

struct sched;

struct sched_progress {
	size_t total, done, running, failed; /* task instances of the run */
	const char *run_id;
};
typedef void (*sched_progress_fn)(const struct sched_progress *p, void *arg);

/*
 * The once-only duties of `serve` (docs/engine.md): with several serves on
 * one store, each is held by one elected scheduler at a time, and moves to
 * another when its holder's lease is dead (lease_ttl + grace old, or gone).
 * A holder stops doing them once its heartbeat is lease_ttl - heartbeat
 * old, before anyone else may take them.
 */
enum {
	SCHED_DUTY_DELIVERIES = 1, /* callbacks and event scripts (the outbox) */
	SCHED_DUTY_FILES = 2,      /* watching downloaded/ */
	SCHED_DUTY_SCHEDULES = 4,  /* firing DAG schedules */
};
typedef void (*sched_duties_fn)(unsigned duties, void *arg);

struct sched_opts {
	const struct config *cfg;   /* data_dir, flow.store, flow.parallelism, schedulers.* */
	int serve;                  /* 1: take queued runs from the store; run until stopped */
	const char *only_task;      /* test --task T: run only T (its upstream is not run) */
	sched_progress_fn progress; /* called at most ~10 times a second, may be NULL */
	void *progress_arg;
	/*
	 * serve: called from sched_run()'s thread with the SCHED_DUTY_* bits it
	 * holds, whenever they change (first at its first heartbeat, 0 when it
	 * loses them).  The deliveries are done inside the scheduler; the
	 * caller starts and stops what does the others.
	 */
	sched_duties_fn duties_changed;
	void *duties_arg;
};

/* NULL after an error (store cannot be opened, another serve is running, ...). */
struct sched *sched_new(const struct sched_opts *opts);
void sched_free(struct sched *s);
/*
 * A run created by the caller (with the owner string sched_owner() gives).
 * dag_path, when known, saves looking for the DAG's file (NULL: by its id).
 */
int sched_add_run(struct sched *s, const char *run_id, const char *dag_path);
/* "PID:STARTTIME@PIDNS" of this process (serve: then "#EPOCH"), as stored in runs.owner. */
const char *sched_owner(const struct sched *s);
/* Runs the loop; 0 when it ended normally (stopped, or nothing left for test). */
int sched_run(struct sched *s);
/* Ends sched_run() soon; async-signal-safe and callable from any thread. */
void sched_stop(struct sched *s);
/*
 * Makes sched_run() look at the store now rather than at its next 50 ms
 * poll: for a thread of this process that has just committed runs (serve's
 * downloaded/ watcher).  Async-signal-safe, any thread.
 */
void sched_wake(struct sched *s);

/*
 * Control, for the CLI and the HTTP API (any process, any thread; they only
 * touch the store).  Each reports with error() and returns -1, or
 * STORE_NOT_FOUND for an unknown run without printing.
 *
 * sched_trigger: a new queued run with params already checked by
 *   dag_params_from_json / dag_params_from_kv; *run_id malloc'd.  `trigger`
 *   is what the run records as having started it ("manual", "api").
 * sched_cancel: the run ends as cancelled; running tasks are killed
 *   (their process groups get SIGTERM, then SIGKILL).  A run nobody runs is
 *   ended here, with its on_failure and run-finished deliveries for serve.
 * sched_clear: the task instance(s) of `task_id` (every foreach index), and
 *   with `downstream` everything downstream of it, get a new try; a finished
 *   run is queued again and continues.
 */
int sched_trigger(struct store *st, const struct dag *d, json_t *params, const char *trigger,
		  char **run_id);
/*
 * Before sched_trigger and every other way of creating a run (schedules,
 * file arrivals): 0 when d can run; -1 when a task that runs locally asks
 * for more cpus than flow.parallelism or more gpus than the gpu pool holds,
 * with "DAGFILE: task 'T' asks ..." in err and *task (borrowed from d) and
 * *field ("resources.cpus", "resources.gpus") set: such a run would only
 * fail, so it is not created.  The limits are those of the serve running
 * for cfg->data_dir on this machine (what it published when it started),
 * else cfg's own.  The run-start check stays for runs created otherwise.
 */
int sched_trigger_check(const struct config *cfg, const struct dag *d, struct strbuf *err,
			const char **task, const char **field);
/* 1 when a `serve` runs for this data folder (it holds flow/serve.lock). */
int sched_serve_running(const char *data_dir);
/*
 * 1 when a scheduler will run this store's queued runs: a serve of this data
 * folder, or a live lease of one elsewhere (another folder or machine on the
 * same store, e.g. PostgreSQL).
 */
int sched_scheduler_running(struct store *st, const char *data_dir);
/*
 * Runs left `running` by a `synthflow test` that died, when no serve runs to
 * adopt them (a dead serve's runs wait for the next serve): their unfinished instances and the run end
 * `failed`, reason "runner died ...", and leftover processes are killed.
 * Called by the commands that open the store read-write; returns how many.
 */
int sched_end_dead_runs(struct store *st, const char *data_dir);
int sched_cancel(struct store *st, const char *data_dir, const char *run_id);
int sched_clear(struct store *st, const char *run_id, const char *task_id, int downstream);

/*
 * Prometheus text about the scheduler loop (iterations, time spent working
 * rather than waiting, the longest iteration) and its queues, for the web
 * server's /metrics.  Safe to call from any thread while sched_run() runs.
 */
void sched_metrics(struct sched *s, struct strbuf *out);
/*
 * Milliseconds since the loop last went round (it does at least every
 * 50 ms in serve, and when it was made), for /api/v1/health.  Any thread.
 */
int64_t sched_tick_age_ms(struct sched *s);

/* ---- pure parts, exposed for unit tests ---- */

/* Delay before try `next_try` (2, 3, ...): base * 2^(next_try - 2), capped at 1h. */
int64_t sched_retry_delay_ms(int64_t base_ms, int next_try);

/* Counts of an instance's upstream states, for trigger rule evaluation. */
struct upstream_counts {
	size_t total;
	size_t success, failed, upstream_failed, skipped, done; /* done = all final states */
};
enum tr_verdict {
	TR_WAIT,                /* not decidable yet */
	TR_RUN,
	TR_SKIP,                /* becomes skipped */
	TR_UPSTREAM_FAILED      /* becomes upstream_failed */
};
/* Airflow's semantics, including skip and upstream_failed propagation. */
enum tr_verdict sched_trigger_eval(enum trigger_rule rule, const struct upstream_counts *c);

#endif
