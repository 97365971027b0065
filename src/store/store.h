#ifndef SF_STORE_H
#define SF_STORE_H

/*
 * The metadata store: DAG runs, their task instances, every try of every
 * task instance, variables, and control requests (cancel, clear).  The
 * scheduler, the CLI and the HTTP API use only this interface; a backend
 * (sqlite.c, postgres.c) fills in `struct store_ops`
 * (store-impl.h) and nothing above it changes.
 *
 * Threads: a `struct store` is a connection; use it from one thread at a
 * time.  Open one per thread (SQLite in WAL mode lets readers run beside the
 * writer; every connection waits up to a busy timeout for the write lock, so
 * `serve`, the web threads and CLI commands share one database safely).
 *
 * Errors: functions return 0 on success and -1 after reporting with
 * error().  Lookups return STORE_NOT_FOUND (1) without printing anything, so
 * the caller can say "unknown run 'x' (did you mean 'y'?)".
 *
 * Times are wall-clock milliseconds since the epoch; 0 means "not yet".
 *
 * Writes: each call is its own transaction unless the caller wraps several
 * in store_begin()/store_commit(); the scheduler batches every state change
 * of one loop iteration that way (one fsync per batch, not per task).
 *
 * Changes: every write of a run or a task instance stamps it with the
 * store's change sequence (one number per transaction, increasing).
 * store_changes_since() returns what changed after a given number, so a
 * reader (the web UI's server-sent events) never misses a state change, even
 * one made by another process.
 */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/state.h"
#include "util/strbuf.h"

#define STORE_NOT_FOUND 1
#define STORE_EXISTS 2

struct store;

/*
 * Opens the store named by `url` (flow.store in synthflow.yaml):
 *   sqlite:PATH            PATH relative to data_dir unless absolute
 *   postgresql://...       a PostgreSQL database, the url handed to libpq
 *                          (postgres://... too)
 * Creates the database (SQLite) or the tables and migrates the schema as
 * needed.  NULL after an error naming the url (its password hidden).
 */
struct store *store_open(const char *url, const char *data_dir);
/*
 * For commands that only read (runs list and show, tasks logs, vars list
 * and get, files): a SQLite store that this user cannot write (a data
 * folder on read-only media, another user's folder) is opened read-only,
 * and one that does not exist yet reads as empty; otherwise as store_open().
 */
struct store *store_open_reader(const char *url, const char *data_dir);
/* 1 when s was opened read-only by store_open_reader(): every write fails. */
int store_read_only(const struct store *s);
/*
 * `url` with any password replaced by "***" (user:PASSWORD@ and
 * ?password=), malloc'd: the only form of a store url that may be printed.
 */
char *store_url_redact(const char *url);
void store_close(struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* ---- DAG runs ---- */

struct store_run {
	char *run_id;           /* e.g. "20261129T001946-3fa2c1": unique, safe in paths */
	char *dag_id;
	enum run_state state;
	json_t *params;         /* typed params (object), owned */
	int64_t created_at, started_at, ended_at;
	char *reason;           /* why it failed or was cancelled, or NULL */
	char *owner;            /* the scheduler running it: "PID:STARTTIME", or NULL */
	int64_t seq;            /* change sequence of its last write */
	json_t *vars;           /* the variables when it was created (object), owned; NULL for
				 * runs created before snapshots were kept */
	char *trigger;          /* what started it: manual, api, schedule, file, variable */
	int64_t scheduled_for;  /* the scheduled time it fired for (ms), 0 = not scheduled */
};
void store_run_release(struct store_run *r);

/*
 * A new run of `dag_id` in state `queued` with typed params (borrowed), and
 * a snapshot of the variables as they are inside the same transaction.
 * *run_id receives the new id (malloc'd).  `owner` is NULL for a run that
 * `serve` should pick up, or the caller's owner string (`test` runs its own).
 */
int store_run_create(struct store *s, const char *dag_id, json_t *params, const char *owner,
		     char **run_id);
/* The same with `vars` (borrowed) as its snapshot and trigger "replay": a replay runs with the variables it replays. */
int store_run_create_vars(struct store *s, const char *dag_id, json_t *params, json_t *vars,
			  const char *owner, char **run_id);
/* The same, recording what started it: "manual" (as above), "api", "variable"... */
int store_run_create_by(struct store *s, const char *dag_id, json_t *params, const char *owner,
			const char *trigger, char **run_id);
/*
 * Scheduled time `at` (ms) of dag_id fires: the record of (dag_id, at) and a
 * queued run (trigger "schedule", scheduled_for = at, typed params
 * borrowed) in one transaction, so a crash can neither lose the time nor
 * run it twice.  params NULL records the time without a run (a baseline:
 * nothing up to it is missed).  STORE_EXISTS, writing nothing, when that
 * time has a record already.
 */
int store_schedule_fire(struct store *s, const char *dag_id, int64_t at, json_t *params,
			char **run_id);
/* The latest recorded scheduled time of dag_id (ms), 0 when none. */
int store_schedule_last(struct store *s, const char *dag_id, int64_t *at);
/* STORE_NOT_FOUND when there is no such run. */
int store_run_get(struct store *s, const char *run_id, struct store_run *out);

/* Selects runs for store_run_list; zero fields mean "any". */
struct store_run_filter {
	const char *dag_id;
	const char *trigger;    /* what started it (manual, api, ...); NULL = any */
	unsigned states;        /* bit mask of (1u << RUN_x); 0 = all */
	size_t limit, offset;   /* limit 0 = no limit */
};
/* Newest first.  *total counts every match ignoring limit/offset (may be NULL). */
int store_run_list(struct store *s, const struct store_run_filter *f, struct store_run **runs,
		   size_t *n, size_t *total);
void store_run_list_free(struct store_run *runs, size_t n);

/* Sets state, started_at, ended_at (0 = not yet) and reason (NULL = none), exactly. */
int store_run_set_state(struct store *s, const char *run_id, enum run_state st,
			int64_t started_at, int64_t ended_at, const char *reason);
/*
 * Takes the run for `owner` when its owner is `expect` (NULL = none):
 * 0 taken, STORE_NOT_FOUND when someone else holds it (compare-and-set,
 * so two schedulers never run the same run).
 */
int store_run_claim(struct store *s, const char *run_id, const char *expect, const char *owner);
/*
 * Takes up to `limit` (-1: every) queued runs that nobody owns, oldest
 * first, for `owner`, in one transaction; *ids gets their ids (malloc'd
 * array of malloc'd strings).  PostgreSQL: SELECT ... FOR UPDATE SKIP
 * LOCKED, so schedulers claiming at once each get different runs.
 */
int store_run_claim_queued(struct store *s, const char *owner, int64_t limit, char ***ids,
			   size_t *n);

/* ---- task instances: one per (run, task, index) ---- */

struct store_ti {
	char *task_id;
	int index;              /* foreach item 0..n-1, or -1 for a task without foreach */
	enum ti_state state;
	int try_number;         /* tries started so far (0 = never ran) */
	int exit_code;          /* of the last finished try; -1 = none; 128+N = killed by signal N */
	int64_t started_at, ended_at; /* of the last try */
	int64_t next_try_at;    /* up_for_retry: when the next try may start */
	int max_tries;          /* try_number may grow to this (retries + 1, more after a clear) */
	char *item;             /* foreach: the item's absolute path, else NULL */
	char *reason;           /* why the last try ended as it did, or NULL */
	int cached;             /* success by restoring its outputs from the content cache */
	int64_t seq;
};
void store_ti_release(struct store_ti *ti);

/* Inserts or replaces the instance (run_id, ti->task_id, ti->index). */
int store_ti_put(struct store *s, const char *run_id, const struct store_ti *ti);
int store_ti_delete(struct store *s, const char *run_id, const char *task_id, int index);
/* Every instance of the run, ordered by task id then index. */
int store_ti_list(struct store *s, const char *run_id, struct store_ti **tis, size_t *n);
void store_ti_list_free(struct store_ti *tis, size_t n);

/* ---- tries: every attempt of a task instance ---- */

struct store_try {
	int try_number;         /* 1, 2, ... */
	int64_t started_at, ended_at; /* ended_at 0 = still running (or lost) */
	int exit_code;          /* -1 until ended; 128+N = killed by signal N */
	char *log_path;         /* absolute */
	pid_t pid;              /* the task's process (and process group) */
	uint64_t pid_start;     /* its start time, /proc/PID/stat field 22 */
	char *reason;           /* "timed out after 10m", "process lost: ...", or NULL */
};
void store_try_release(struct store_try *t);

/* Inserts or replaces the try (run_id, task_id, index, t->try_number). */
int store_try_put(struct store *s, const char *run_id, const char *task_id, int index,
		  const struct store_try *t);
/* Tries of one instance, oldest first. */
int store_try_list(struct store *s, const char *run_id, const char *task_id, int index,
		   struct store_try **tries, size_t *n);
void store_try_list_free(struct store_try *tries, size_t n);

/* ---- variables ({{ vars.X }}) ---- */

/* *value malloc'd; STORE_NOT_FOUND when unset. */
int store_var_get(struct store *s, const char *key, char **value);
int store_var_set(struct store *s, const char *key, const char *value);
/* STORE_NOT_FOUND when it was not set. */
int store_var_unset(struct store *s, const char *key);
/* Every variable as a new JSON object of strings, for tmpl_ctx.vars. */
int store_var_all(struct store *s, json_t **vars);

/*
 * One change of a variable.  Written by vars_change() (flow/vars.h), which
 * sets the value, starts the runs it triggers and records this in one
 * transaction; store_var_set/unset alone keep no history.
 */
struct store_var_change {
	int64_t id;             /* increasing */
	char *key;
	char *old_value, *new_value; /* NULL: was not set / was unset */
	int64_t at;
	char *source;           /* "cli", "api", "ui" */
	json_t *runs;           /* [{"dag_id", "run_id"}] started by on_variable, or NULL */
};
int store_var_history_add(struct store *s, const struct store_var_change *c);
/* The changes of `key`, oldest first. */
int store_var_history(struct store *s, const char *key, struct store_var_change **v, size_t *n);
void store_var_history_free(struct store_var_change *v, size_t n);

/* ---- control requests, applied by the scheduler that owns the run ---- */

enum store_req_kind { REQ_CANCEL, REQ_CLEAR };

struct store_req {
	int64_t id;
	char *run_id;
	enum store_req_kind kind;
	char *task_id;          /* REQ_CLEAR only */
	int downstream;         /* REQ_CLEAR: everything downstream too */
};
void store_req_release(struct store_req *r);

int store_req_add(struct store *s, const char *run_id, enum store_req_kind kind,
		  const char *task_id, int downstream);
/* Pending requests for `run_id` (NULL = any run), oldest first. */
int store_req_list(struct store *s, const char *run_id, struct store_req **reqs, size_t *n);
void store_req_list_free(struct store_req *reqs, size_t n);
int store_req_done(struct store *s, int64_t id);

/* ---- change feed ---- */

struct store_change {
	int64_t seq;
	const char *run_id;
	const char *dag_id;
	const char *task_id;    /* NULL: the run itself changed */
	int index;
	const char *state;
	int try_number;
};
typedef int (*store_change_fn)(const struct store_change *c, void *arg);

/* The latest change sequence (0 for an empty store). */
int store_seq(struct store *s, int64_t *seq);
/*
 * Calls fn for each run and task instance whose last change is after
 * `since`, in sequence order, at most `limit` (0 = all); *last gets the
 * highest sequence seen (unchanged when nothing changed).  Only the latest
 * state of each row is reported, so a slow reader sees where things are
 * now, not every step.  fn returning non-zero stops early.
 */
int store_changes_since(struct store *s, int64_t since, size_t limit, store_change_fn fn,
			void *arg, int64_t *last);
/*
 * 1 when another connection (any process) committed since the last call,
 * else 0: cheap (no disk I/O in SQLite), so a scheduler can poll it to
 * notice triggers and requests quickly.
 */
int store_changed_elsewhere(struct store *s);
/*
 * A descriptor that becomes readable when another connection commits, for
 * poll(2) beside store_changed_elsewhere() (which consumes what it reads),
 * or -1 when the backend has none (SQLite: poll store_changed_elsewhere).
 * PostgreSQL: the connection's socket, where notifications arrive.
 */
int store_changes_fd(struct store *s);

/* ---- DAG flags (the UI's pause toggle) ---- */

/*
 * A paused DAG starts no runs from its schedule or its on_file trigger;
 * runs triggered by hand are still queued and run.
 */
int store_dag_set_paused(struct store *s, const char *dag_id, int paused);
/* 1 paused, 0 not, -1 error. */
int store_dag_paused(struct store *s, const char *dag_id);
/* A new JSON object {"DAG_ID": true, ...} of every paused DAG. */
int store_dag_paused_all(struct store *s, json_t **paused);

/* ---- files in downloaded/ (the watcher in serve, `synthflow files`) ---- */

/*
 * A file (or a `dirs: true` folder) seen in downloaded/.  ident is its
 * identity as text: "SIZE:MTIME_NS:INODE" for a file, "dir:FILES:SIZE:MTIME_NS"
 * for a folder; a different ident is a different arrival.
 */
struct store_file {
	char *rel;              /* relative to downloaded/ */
	char *ident;
	int dir;
	char *state;            /* "waiting" (being written), "arrived", "gone", "unreadable", "ignored" */
	int64_t seen_at;
	char *note;             /* why it is gone, unreadable or ignored, or NULL */
};
/* Inserts or replaces the row of f->rel. */
int store_file_put(struct store *s, const struct store_file *f);
/* Every file, by path. */
int store_file_list(struct store *s, struct store_file **files, size_t *n);
void store_file_list_free(struct store_file *files, size_t n);

/*
 * What one DAG made of one identity of a file: exactly one row per
 * (dag, rel, ident, attempt); attempt 0 is the arrival, 1.. are retries.
 */
struct store_arrival {
	char *dag_id, *rel, *ident;
	int attempt;
	char *state;            /* "run" (run_id set), "pending" (DAG paused), "ignored", "failed" */
	char *run_id;
	json_t *params;         /* the run's typed params (owned) */
	char *note;             /* why it was ignored or failed, or NULL */
	int64_t at;
};
void store_arrival_release(struct store_arrival *a);
void store_arrival_list_free(struct store_arrival *v, size_t n);
/*
 * Records an arrival: with state "run" a new queued run with a->params is
 * created in the same transaction (a->run_id receives its id), so a crash
 * can neither lose the file nor run it twice.  Returns STORE_EXISTS
 * without writing when the identity already has a row and `again` is 0;
 * with `again` the row is a new attempt.  a->attempt is set.
 */
int store_arrival_add(struct store *s, struct store_arrival *a, int again);
/* Rows of one DAG (NULL = all) in one state (NULL = any), by path. */
int store_arrival_list(struct store *s, const char *dag_id, const char *state,
		       struct store_arrival **v, size_t *n);
/*
 * A pending arrival (dag_id, rel, ident, attempt) gets its run, created in
 * the same transaction; a->run_id receives the id.  STORE_NOT_FOUND when it
 * is not pending (any more).
 */
int store_arrival_start(struct store *s, struct store_arrival *a);
/* 1 when the DAG has any row for rel (any identity), 0 when not, -1 on error. */
int store_arrival_seen(struct store *s, const char *dag_id, const char *rel);

/* ---- deliveries: run callbacks and event scripts, an outbox (docs/events.md) ---- */

/*
 * One command to run once because of one event: a run callback (on_success,
 * on_failure, on_retry) or an event script.  The row is written in the
 * transaction of the state change that causes it, so a crash can neither
 * lose it nor make it twice; the deliverer claims it (state "running",
 * committed before the command starts) and records how it ended.  A row
 * found "running" under a dead owner was interrupted by a crash: it is run
 * again and ends "redelivered" (exit 0) or "failed".
 */
struct store_delivery {
	int64_t id;
	char *kind;             /* "callback" or "event" */
	char *event;            /* callbacks: success, failure, retry; events: file-added, ... */
	char *run_id, *dag_id, *task_id; /* what it is about, NULL when not */
	int index;              /* the task instance's foreach index, -1 without */
	int try_number;         /* retry callbacks: the try that failed, else 0 */
	char *workspace;        /* event scripts: the workspace whose script runs, else NULL */
	char *command;          /* callbacks: the expanded shell command; events: the script */
	char *payload;          /* JSON object: callbacks' environment, events' standard input */
	char *state;            /* pending, running, delivered, failed, redelivered */
	char *owner;            /* the scheduler delivering it ("PID:START@NS"), or NULL */
	int attempts;           /* times it was started */
	int64_t created_at, started_at, ended_at;
	int exit_code;          /* -1 until it ended (and when it could not start) */
	char *log_path;         /* absolute, or NULL */
	char *note;             /* why it failed without an exit code (timeout, cannot start) */
};
void store_delivery_release(struct store_delivery *d);
void store_delivery_list_free(struct store_delivery *v, size_t n);

/* A new row (state d->state, "pending" when NULL); d->id receives its id. */
int store_delivery_add(struct store *s, struct store_delivery *d);

/* Selects rows for store_delivery_list; zero fields mean "any". */
struct store_delivery_filter {
	int64_t id;
	const char *run_id;
	const char *kind;
	const char *workspace;
	int open;               /* only pending and running rows */
	size_t limit;           /* the newest `limit` rows (0 = all) */
};
/* Oldest first. */
int store_delivery_list(struct store *s, const struct store_delivery_filter *f,
			struct store_delivery **v, size_t *n);
/*
 * Takes row `id` for `owner` when its owner is `expect` and its state
 * `expect_state`: it becomes running, started now, one more attempt.
 * STORE_NOT_FOUND when someone else took it or it ended.
 */
int store_delivery_claim(struct store *s, int64_t id, const char *expect, const char *expect_state,
			 const char *owner);
/* Records the end (state, exit_code, ended_at, log_path, note) of a row `owner` runs. */
int store_delivery_end(struct store *s, const struct store_delivery *d);
/*
 * {"id","kind","event","state","exit_code","at","created_at","started_at","ended_at",
 *  "attempts","redelivered","run_id","dag_id","task_id","index","try","workspace","log","note"}
 * where "at" is when it last changed.
 */
json_t *store_delivery_json(const struct store_delivery *d);
/* Sets the run JSON's "callbacks": its callback deliveries, oldest first. */
int store_run_add_callbacks(struct store *s, const char *run_id, json_t *run);

/* ---- summaries, for the web UI's grid ---- */

/* How many instances of a task of a run are in one state. */
struct store_ti_count {
	const char *run_id;
	const char *task_id;
	int foreach;            /* the instances have an index */
	enum ti_state state;
	size_t n;
};
typedef void (*store_ti_count_fn)(const struct store_ti_count *c, void *arg);
/*
 * Calls fn once per (run, task, state) of the given runs: one query, and
 * no row per instance, however large a foreach is.  Order unspecified.
 */
int store_ti_counts(struct store *s, char *const *run_ids, size_t n, store_ti_count_fn fn,
		    void *arg);

/* ---- schedulers: leases with fencing epochs (docs/engine.md) ---- */

/*
 * A `serve` holds a lease while it runs: a row renewed by a heartbeat.
 * Its epoch is unique and increasing (never reused), so a scheduler that
 * lost its lease can never pass for the one that holds it now.  Times are
 * the store's clock (PostgreSQL: the server's), so machines whose clocks
 * disagree still agree on a lease's age.
 */
struct store_lease {
	int64_t epoch;
	char *host;             /* SYNTHFLOW_HOST_ID, the machine id or the host name */
	int pid;
	char *owner;            /* what it writes in runs.owner: "PREFIX#EPOCH" */
	int64_t started_at, beat_at;
	int64_t age_ms;         /* since its last heartbeat, now */
	char *duties;           /* the once-only duties it holds, comma-separated, "" none */
	int64_t runs;           /* unfinished runs it owns */
	int64_t offered;        /* tries it runs for offers (its own runs' or others') */
	int64_t ttl_ms, grace_ms; /* its owner's schedulers.lease_ttl and .grace */
};
/*
 * Past its time to live and grace: its owner counts as dead on any other
 * host (its duties and runs may be taken).  Each lease carries its owner's
 * own figures, so serves configured differently still agree on it.
 */
static inline int store_lease_dead(const struct store_lease *l)
{
	return l->age_ms >= l->ttl_ms + l->grace_ms;
}
void store_lease_release(struct store_lease *l);
void store_lease_list_free(struct store_lease *v, size_t n);
/*
 * A new lease: *epoch gets its epoch, and its owner is `owner_prefix`
 * followed by "#EPOCH"; ttl_ms and grace_ms are its owner's settings.
 */
int store_lease_take(struct store *s, const char *host, int pid, const char *owner_prefix,
		     int64_t ttl_ms, int64_t grace_ms, int64_t *epoch);
/* Renews it and records its duties: STORE_NOT_FOUND when the lease is gone (fenced). */
int store_lease_beat(struct store *s, int64_t epoch, const char *duties);
/*
 * The heartbeat of a scheduler that wants the once-only duties in `want`
 * (comma-separated): renews the lease and, in the same transaction and one
 * election at a time, takes each wanted duty that no other lease holds
 * unless that lease is dead (store_lease_dead: its duties are free).
 * *held (malloc'd) gets the duties it holds now, comma-separated, "" none.
 * STORE_NOT_FOUND when the lease is gone (fenced).
 */
int store_lease_elect(struct store *s, int64_t epoch, const char *want, char **held);
/* Ends it (a clean stop). */
int store_lease_drop(struct store *s, int64_t epoch);
/*
 * Inside a transaction: 0 while the lease exists, STORE_NOT_FOUND when it is
 * gone (the scheduler was fenced: another took its runs).  PostgreSQL holds
 * a share lock on the lease until the commit, so the batch either commits
 * before an adopter ends the lease or fails after it.
 */
int store_lease_fence(struct store *s, int64_t epoch);
/*
 * Ends the lease if its heartbeat is at least older_than_ms old (0: in any
 * case): 0 ended, STORE_NOT_FOUND when it was renewed meanwhile or is gone.
 */
int store_lease_expire(struct store *s, int64_t epoch, int64_t older_than_ms);
/* STORE_NOT_FOUND when there is no such lease (ended, or taken from a dead scheduler). */
int store_lease_get(struct store *s, int64_t epoch, struct store_lease *out);
/* Every lease, oldest epoch first. */
int store_lease_list(struct store *s, struct store_lease **v, size_t *n);
/*
 * {"epoch","host","pid","started_at","heartbeat_at","heartbeat_age_ms","alive",
 *  "lease_ttl_ms","grace_ms","runs","duties":[...]}: alive while the heartbeat
 *  is younger than the lease's TTL; no duties once it is dead.
 */
json_t *store_lease_json(const struct store_lease *l);

/*
 * ---- offers: task instances any live serve may run (docs/engine.md, "Sharing work") ----
 *
 * The owner of a run (its coordinator) offers a ready instance its own
 * pool has no room for, with the try it prepared (command, environment,
 * folder, log); a runner (any live serve, the coordinator too) claims it,
 * runs the try and records how it ended; the coordinator applies that end
 * to the instance (it stays the only writer of tis, tries and runs).  One
 * offer per instance at a time; a runner's writes are conditional on being
 * its runner, and the coordinator's on the try it offered.
 */
enum store_offer_state { OFFER_OPEN, OFFER_RUNNING, OFFER_DONE };
struct store_offer {
	char *run_id, *task_id;
	int index, try_number;
	char *coordinator;      /* the owner string of the run's owner */
	char *runner;           /* the owner string of the serve running it, NULL while open */
	char *runner_host;      /* that serve's host id, NULL while open */
	enum store_offer_state state;
	int status;             /* done: the try's wait status (as waitpid gives it) */
	int kill;               /* the coordinator asks it to stop: 1 SIGTERM, 2 SIGKILL */
	int64_t claimed_at, ended_at;
	char *reason;           /* done: NULL, or why the runner could not keep it ("lost: ...") */
	char *spec;             /* the try as JSON (exec-peer.c); only store_offer_claim fills it */
};
void store_offer_release(struct store_offer *o);
void store_offer_list_free(struct store_offer *v, size_t n);
/*
 * Offers o's instance for o->try_number with o->spec, coordinated by
 * o->coordinator, open (replaces an older offer of the instance).
 */
int store_offer_add(struct store *s, const struct store_offer *o);
/*
 * Claims up to `limit` open offers for `runner` on `host`, in (run, task,
 * index) order, in one transaction; PostgreSQL: FOR UPDATE SKIP LOCKED, so
 * runners claiming at once each get different ones and never wait.
 */
int store_offer_claim(struct store *s, const char *runner, const char *host, int64_t limit,
		      struct store_offer **v, size_t *n);
/*
 * The runner's end of its try (o->status, o->ended_at, o->reason), for
 * o->try_number: STORE_NOT_FOUND when the offer is no longer that try
 * running under `runner` (the coordinator took it back: nothing to report).
 */
int store_offer_end(struct store *s, const struct store_offer *o, const char *runner);
/* The coordinator asks the runner of try try_number to stop: kill 1 (SIGTERM) or 2 (SIGKILL). */
int store_offer_kill(struct store *s, const char *run_id, const char *task_id, int index,
		     int try_number, int kill);
/*
 * Takes the offer of try try_number back (deletes it), only while `runner`
 * runs it (NULL: in any state): STORE_NOT_FOUND when it is not so.
 */
int store_offer_drop(struct store *s, const char *run_id, const char *task_id, int index,
		     int try_number, const char *runner);
/* The offers of a coordinator, or those a runner runs, in (run, task, index) order. */
int store_offer_list(struct store *s, const char *coordinator, struct store_offer **v,
		     size_t *n);
int store_offer_running(struct store *s, const char *runner, struct store_offer **v, size_t *n);
/* The offers of a run, and the run's new coordinator after a takeover. */
int store_offer_list_run(struct store *s, const char *run_id, struct store_offer **v,
			 size_t *n);
int store_offer_adopt(struct store *s, const char *run_id, const char *coordinator);

/*
 * 1 when other machines may share the store (PostgreSQL): several `serve`
 * processes may run on it; 0 for SQLite (one `serve`, flow/serve.lock).
 */
int store_shared(struct store *s);

/* ---- copying a whole store (synthflow store copy) ---- */

typedef int (*store_row_fn)(size_t ncols, const char *const *cols, const char *const *vals,
			    void *arg);
/* Called once per table after the copy: its rows in the source and in the copy. */
typedef void (*store_copied_fn)(const char *table, int64_t from_rows, int64_t to_rows, void *arg);

/*
 * Copies every row of every table of `from` into `to`, which must hold no
 * rows yet (besides a new store's change number), in one transaction of
 * `to`, while `from` is held in one transaction (SQLite: no writer gets in
 * meanwhile).  Then counts the rows of each table on both sides: 0 when
 * every count agrees, -1 after reporting otherwise (a failed copy leaves
 * `to` as it was).  Both stores must have the same schema version.
 */
int store_copy(struct store *from, struct store *to, store_copied_fn fn, void *arg);

/* ---- statistics, for GET /metrics ---- */

#define STORE_DURATION_BUCKETS 10
/* Upper bounds (ms) of the task duration histogram's buckets. */
extern const int64_t store_duration_bucket_ms[STORE_DURATION_BUCKETS];

struct store_ti_stats {
	uint64_t by_state[TI_NSTATES];  /* task instances */
	uint64_t duration_le[STORE_DURATION_BUCKETS]; /* finished tries, cumulative */
	uint64_t duration_count;
	double duration_sum_ms;
};
int store_ti_stats(struct store *s, struct store_ti_stats *out);

/* ---- per-item metrics: what a task writes to $SF_METRICS (docs/dags.md) ---- */

/* A try's metrics file is read up to this size; the rest is dropped with a note. */
#define STORE_METRICS_MAX_BYTES ((size_t)64 << 20)

/*
 * Replaces the metrics of the task instance (run, task, index) with the
 * JSON objects in `jsonl` (one per line; blank lines are ignored, other
 * lines that are not JSON objects are skipped and counted in *bad).  A row's
 * item is the object's "item" string, else `item` (the instance's foreach
 * item, may be NULL).  Borrowed arguments.
 */
int store_metrics_put(struct store *s, const char *run_id, const char *task_id, int index,
		      int try_number, const char *item, const char *jsonl, size_t len, size_t *bad);

/*
 * A query over a run's metrics.  filter: conditions separated by ',', each
 * KEY OP VALUE with OP one of = != < <= > >= ~ (~: contains, any case); KEY
 * a metric's name ([A-Za-z0-9_]), or "item", "task", "index"; VALUE a number
 * (compared as numbers) or text.  sort: KEY (ascending) or -KEY; ties and
 * the default are task, index, line.
 */
struct store_metrics_query {
	const char *task_id;    /* NULL: every task */
	const char *filter;     /* NULL or "": everything */
	const char *sort;       /* NULL or "": task, index, line */
	size_t limit, offset;   /* limit 0 = no limit */
};

enum store_metrics_op { SMO_EQ, SMO_NE, SMO_LT, SMO_LE, SMO_GT, SMO_GE, SMO_CONTAINS };
struct store_metrics_cond {
	char *key;              /* a metric, or "item" / "task" / "index" */
	enum store_metrics_op op;
	char *text;             /* the value as written */
	int is_number;
	double number;
};
/* Parses a filter; -1 with the problem in err (naming the condition). */
int store_metrics_filter_parse(const char *filter, struct store_metrics_cond **conds, size_t *n,
			       struct strbuf *err);
void store_metrics_filter_free(struct store_metrics_cond *conds, size_t n);
/* 1 when key may name a metric ([A-Za-z0-9_], 1..64 characters). */
int store_metrics_key_ok(const char *key);

/*
 * *rows: a new JSON array of {"task_id","index","item","metrics":{...}}
 * (index null without foreach); *total counts every match.  A bad filter or
 * sort: -1 with the problem in err, nothing printed; store errors: -1 after
 * error() and err left empty.
 */
int store_metrics_list(struct store *s, const char *run_id, const struct store_metrics_query *q,
		       json_t **rows, size_t *total, struct strbuf *err);
/* A sort as the query takes it: NULL, KEY or -KEY; -1 with the problem in err. */
int store_metrics_sort_parse(const char *sort, const char **key, int *desc, struct strbuf *err);

/*
 * Every metrics row of a run as stored, in the order of task, index, line
 * (the default order of store_metrics_list): item may be NULL, data is the
 * JSON text of the line.  Non-zero from fn stops (and is returned).
 */
typedef int (*store_metrics_fn)(const char *task_id, int index, const char *item,
				const char *data, size_t len, void *arg);
int store_metrics_each(struct store *s, const char *run_id, store_metrics_fn fn, void *arg);
/* ---- provenance (docs/replication.md): what each task instance ran with ---- */

/*
 * Replaces the record of (run_id, task_id, index); task_id "" (index -1) is
 * the run's own record (host, variable snapshot, programs).  `doc` is
 * borrowed.
 */
int store_prov_put(struct store *s, const char *run_id, const char *task_id, int index,
		   json_t *doc);
/* *doc is a new reference; STORE_NOT_FOUND when there is no record. */
int store_prov_get(struct store *s, const char *run_id, const char *task_id, int index,
		   json_t **doc);
/*
 * Every record of a run as a new object {"run": DOC or null, "tasks": {"TASK": DOC,
 * "TASK.INDEX": DOC ...}} (the keys of the run JSON's task instances).
 */
int store_prov_load(struct store *s, const char *run_id, json_t **out);
/* The key of an instance in store_prov_load's "tasks": "TASK", or "TASK.INDEX" (malloc'd). */
char *store_prov_key(const char *task_id, int index);
/* Backend iteration: doc is JSON text; non-zero from fn stops (and is returned). */
typedef int (*store_prov_fn)(const char *task_id, int index, const char *doc, void *arg);

/* ---- JSON (docs/api.md, contract) ---- */

/*
 * {"run_id","dag_id","state","params","created_at","started_at","ended_at",
 *  "reason", "tasks":[{"task_id","index","state","try","exit_code",
 *  "started_at","ended_at","reason","item"}]}
 * (store_run_load_json adds "callbacks": the run's callback deliveries.)
 * Times as "2026-11-28T23:45:01.123Z" or null; index null without foreach;
 * exit_code null before a try ended; reason and item null when there is none.
 * "tasks" is empty until the run has started.
 */
json_t *store_run_json(const struct store_run *r, const struct store_ti *tis, size_t ntis);
/* The same without "tasks", for run lists. */
json_t *store_run_summary_json(const struct store_run *r);
/* Loads the run and its instances: STORE_NOT_FOUND / -1 as store_run_get. */
int store_run_load_json(struct store *s, const char *run_id, json_t **out);
/* JSON of one try, for logs views: {"try","started_at","ended_at","exit_code","pid","log","reason"}. */
json_t *store_try_json(const struct store_try *t);

#endif
