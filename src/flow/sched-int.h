#ifndef SF_SCHED_INT_H
#define SF_SCHED_INT_H

/*
 * The scheduler's private structures, shared by sched.c (the event loop),
 * sched-run.c (runs: loading, recovery, persisting) and sched-ctl.c.
 *
 * Everything the loop needs per event is O(1): each task keeps the counts of
 * its upstream instances by state (struct upstream_counts), updated when an
 * instance enters or leaves a final state, so a 10,000-way fan-in costs one
 * increment per finished instance, never a scan.
 */

#include <poll.h>

#include "flow/exec.h"
#include "flow/sched.h"

/* How long a stopped try's processes get to be confirmed gone after SIGKILL. */
#define KILL_CONFIRM_MS 10000

enum kill_why {
	KILL_NONE, KILL_TIMEOUT, KILL_CANCEL, KILL_CLEAR, KILL_STOP,
	KILL_PREEMPT,           /* the cluster took its node back (Slurm PREEMPTED) */
	KILL_LOST,              /* re-attached after a restart, but its job was gone */
	KILL_LEASE,             /* the scheduler could not renew its lease in time */
	KILL_RUNNER,            /* offered: its runner stopped, or lost it (sproc.why says) */
};

struct stask;
struct srun;

struct sti {                    /* one task instance */
	struct stask *task;
	int index;              /* foreach item, -1 without foreach (or not expanded yet) */
	enum ti_state state;
	unsigned dirty : 1;     /* to be written at the next flush */
	unsigned deleted : 1;   /* a foreach placeholder replaced by its items */
	unsigned in_ready : 1;
	unsigned in_wait : 1;   /* waits for the local executor's cpus or gpus (exec-pool.c) */
	unsigned cached : 1;    /* ended by restoring its outputs from the content cache */
	unsigned cache_st : 2;  /* sched-cache.c: not looked up, being looked up, missed */
	enum kill_why kill;     /* why we signalled its process, if we did */
	int try_number, max_tries;
	int exit_code;
	int64_t started_at, ended_at, next_try_at; /* wall clock */
	uint32_t gen;           /* bumped on each state change: stale timers ignore it */
	char *reason;
	struct sproc *proc;     /* while running */
	size_t pending_try;     /* 1 + its entry in sched.tries, if one may be there */
	char *cache_key;        /* a cache miss: the key its outputs are saved under */
	json_t *cache_doc;      /* and what the key was made of */
};

struct stask {
	const struct dag_task *def;
	size_t idx;             /* in dag->tasks */
	struct srun *run;
	struct sti placeholder; /* the instance before a foreach is expanded */
	struct sti *inst;       /* &placeholder, or the expanded array */
	size_t ninst;
	char **items;           /* foreach: one absolute path per instance */
	int expanded;
	int decided;            /* the trigger rule gave its verdict */
	int active;             /* part of this run (test --task runs one task) */
	int in_evalq;
	struct upstream_counts up;
	size_t *down, ndown;    /* active downstream tasks */
	size_t running;         /* for max_active */
	struct sti **blocked;   /* ready but held back by max_active: a FIFO */
	size_t blocked_head, nblocked, blocked_alloc;
};

struct srun {
	struct sched *s;
	char *run_id;
	struct dag *dag;
	json_t *params, *vars;
	char *run_dir, run_date[16];
	enum run_state state;
	int64_t created_at, started_at, ended_at;
	char *reason;
	int dirty;
	int cancelling;
	struct stask *tasks;
	size_t ntasks;
	size_t cnt[TI_NSTATES]; /* instances by state */
	size_t ninst;
	/* provenance (sched-prov.c) */
	json_t *prov_preset;    /* the run's record as created (a replay's variables), or NULL */
	char **programs;        /* distinct programs its commands started */
	size_t nprograms, programs_alloc;
	size_t prov_pending;    /* documents still being hashed */
	int prov_submitted;     /* the run's own record is on its way */
	size_t cache_pending;   /* content cache lookups and saves in the pool */
};

struct sproc {
	struct sti *ti;         /* a batch: its first instance, whose log and timers it uses */
	struct sti **batch;     /* batch: every instance it runs (ti first), else NULL */
	size_t nbatch;
	const struct exec_ops *ops; /* its executor (exec-impl.h) */
	struct exec_proc ep;    /* the local executor's process; the log path for others */
	struct slurm_job *job;  /* the Slurm executor's job */
	char *why;              /* the executor's words on how it ended ("out of memory"), or NULL */
	int64_t started_mono;
	uint64_t start_time;    /* /proc/PID/stat field 22, read when its try is first written */
	json_t *prov;           /* its provenance document, finished when it ends */
	char *key;              /* SF_TRY_KEY (procs.h) */
	struct exec_pool *pool; /* the local executor's pool while it holds cpus of it */
	int cpus, ngpus;        /* what it holds of that pool */
	char *gpu_env;          /* CUDA_VISIBLE_DEVICES=... of its gpus, or NULL */
	char *ctr;              /* container: its container's name (exec-container.c), or NULL */
	struct peer_try *peer;  /* offered to the other serves (exec-peer.c), or NULL */
	int64_t ended_at;       /* when it ended, as its executor knows it; 0: when reaped */
};

enum timer_kind { TM_RETRY, TM_TIMEOUT, TM_KILL };

struct timer {
	int64_t when;           /* monotonic ms */
	struct sti *ti;
	uint32_t gen;
	enum timer_kind kind;
};

struct pending_try {
	struct srun *run;
	struct sti *ti;
	struct store_try t;     /* log_path and reason owned */
	struct strbuf *metrics; /* what the ended try wrote to $SF_METRICS, or NULL; owned */
};

struct pending_prov {
	char *run_id, *task_id; /* task_id "" for the run's own record */
	int index;
	json_t *doc;
};

struct sched {
	struct sched_opts opts;
	struct store *store;
	char *data_dir;
	char owner[128];        /* runs.owner: "PID:START@PIDNS", then "#EPOCH" (serve) */
	int64_t epoch;          /* serve: its lease in the store (sched-lease.c), else 0 */
	int64_t next_beat, beat_ok_at; /* monotonic ms */
	int lease_lost;         /* the store says it is gone: fenced, stopping */
	int suspended;          /* no heartbeat for lease_ttl - heartbeat: starts and claims nothing */
	int live_leases;        /* schedulers alive at the last heartbeat (this one too) */
	unsigned duties;        /* SCHED_DUTY_* held since the last heartbeat */
	int wd_fd;              /* to the watchdog (sched-lease.c): a byte per heartbeat, -1 none */
	pid_t wd_pid;
	struct gone_lease {     /* leases of other hosts this one ended: their other runs follow */
		int64_t epoch;
		char *host;
	} *gone;
	size_t ngone, gone_alloc;
	int parallelism;
	int lock_fd;
	char *id;               /* "<pid>-<start ms>": the prefix of its tries' SF_TRY_KEY */
	int spawned;            /* started a try: its leftovers are killed at the end */

	struct srun **runs;
	size_t nruns, runs_alloc;

	struct sproc **procs;   /* running */
	size_t nprocs, procs_alloc;
	size_t nremote;         /* of which on other machines (Slurm): not held to parallelism */

	struct sti **ready;     /* ring buffer of instances ready to start */
	size_t ready_head, ready_len, ready_alloc;

	struct stask **evalq;
	size_t nevalq, evalq_alloc;

	struct timer *timers;   /* min-heap on `when` */
	size_t ntimers, timers_alloc;

	struct sti **dirty;
	size_t ndirty, dirty_alloc;
	struct pending_try *tries;
	size_t ntries, tries_alloc;

	struct pollfd *pfds;
	size_t pfds_alloc;

	struct exec_slurm *slurm; /* the Slurm executor's state, once it is used */
	struct exec_pool *res;  /* the local executor's cpus and gpus, once used */
	struct exec_peer *peer; /* offers made and tries run for others' (exec-peer.c), once used */

	char **base_env;        /* the scheduler's environment, copied once */
	size_t nbase_env;

	struct prov_pool *pool; /* started with the first file to hash */
	int wake_write_fd;
	struct pending_prov *provs; /* finished documents, written at the next flush */
	size_t nprovs, provs_alloc;
	struct prov_job **prov_local; /* done without a pool */
	size_t nprov_local, prov_local_alloc;
	size_t prov_inflight;

	int64_t next_poll, last_progress, last_flush;
	_Atomic int look_now;   /* sched_wake(): look at the store in this iteration */
	int polled;             /* the store was looked at once */
	int runs_changed;       /* a run came, ended or was queued again */
	volatile int stop;
	int stopping;
	int flush_failed;       /* the last write failed: retried every second */
	int64_t flush_failed_at, flush_tried_at;

	/* The outbox (sched-outbox.c): rows for the next flush, deliveries running. */
	struct store_delivery *outq;
	size_t noutq, outq_alloc;
	struct sdelivery *dlv;
	size_t ndlv, dlv_alloc;
	int out_check;          /* look for rows to deliver at the next tick */
	int64_t out_next_scan;  /* serve: monotonic ms of the next look anyway */
	int64_t out_retry_at;   /* a look failed (store down): not again before */
	int64_t delivery_timeout_ms;
	_Atomic uint64_t deliveries[2][3]; /* [callback, event][ok, failed, redelivered] */

	/* Loop statistics for sched_metrics(), which other threads call. */
	_Atomic uint64_t loops, loop_busy_us, loop_max_us;
	_Atomic size_t running_now, ready_now;
	_Atomic int64_t last_tick_ms; /* monotonic: the end of the last iteration */
};

/* sched.c */
struct tmpl_ctx;
struct prov_job;
/* The template context of a run (no task, no item). */
void sched_run_tmpl_ctx(struct srun *run, struct tmpl_ctx *ctx, int quote);
void sched_set_state(struct sti *ti, enum ti_state st, const char *reason);
void sched_eval_push(struct sched *s, struct stask *t);
void sched_ready_push(struct sched *s, struct sti *ti);
void sched_timer_add(struct sched *s, struct sti *ti, enum timer_kind kind, int64_t when);
void sched_mark_dirty(struct sti *ti);
void sched_kill(struct sched *s, struct sti *ti, enum kill_why why);
int sched_reattach(struct sti *ti, const struct store_try *last);

/* sched-run.c */
/* host: the scheduler it is taken from was on that other machine, else NULL */
struct srun *srun_load(struct sched *s, const struct store_run *r, struct dag *d,
		       const char *host);
void srun_free(struct srun *run);
int srun_expand(struct stask *t, struct strbuf *err);
void srun_try_lost(struct sti *ti, const struct store_try *last, const char *host);
void srun_apply_request(struct srun *run, const struct store_req *req);
void srun_cancel(struct srun *run);
/*
 * The run cannot start (its folder cannot be made, its record cannot be
 * restored): it fails with reason (taken), and so does every instance that
 * had not started, so none is left queued under a finished run.
 */
void srun_fail(struct srun *run, char *reason);
int sched_flush(struct sched *s);
int sched_poll_store(struct sched *s);
int owner_alive(const char *owner);
/* Our pid namespace's inode: owners carry it after "@" (see owner_alive). */
unsigned long long owner_pidns(void);

/* sched-try.c: what a try is made of, and its files */
/* The log of the instance's current try (its other files lie beside it). */
char *sched_try_log_path(struct sti *ti);
/* A batch's file beside its lead's log: ext "items" ($SF_ITEMS) or "results". */
char *sched_batch_path(struct sti *ti, const char *ext);
/*
 * The command, environment and folder of a try; -1 with a message in err.
 * For a batch, `items` are its items' paths ({{ items }}, $SF_ITEMS).  The
 * environment starts with the scheduler's own variables (borrowed): free it
 * with sched_try_env_free().
 */
int sched_try_prepare(struct sti *ti, const char *key, char *const *items, size_t nitems,
		      struct strbuf *cmd, char ***envp, char **workdir, struct strbuf *err);
void sched_try_env_free(struct sched *s, char **envp);
/*
 * The metrics file of an ended try, at most STORE_METRICS_MAX_BYTES (cut at
 * the last whole line, with a note in the log); NULL when there is none.
 */
struct strbuf *sched_try_read_metrics(struct sti *ti, struct exec_proc *ep);

/* exec-peer.c: task instances shared between the serves of a store */
/* 1 while this serve may offer more instances to the others (exec_peer_may_offer: which). */
int exec_peer_offer_room(struct sched *s);
int exec_peer_may_offer(struct sched *s, const struct sti *ti);
/* Reattach of a taken-over run: 0 when the try was offered and is followed again. */
int exec_peer_reattach(struct sti *ti, struct sproc *p, const struct store_try *last);
/* SF_OFFER_KEY of an offered try: "<run>/<task>[.<index>]/<try>" (malloc'd). */
char *exec_peer_offer_key(const char *run_id, const char *task_id, int index, int try_number);
/* The runner's side in the loop: its children, their output pipes, how many are left. */
int exec_peer_reaped(struct sched *s, pid_t pid, int status);
size_t exec_peer_pollfds(struct sched *s, struct pollfd *pfds);
void exec_peer_drain(struct sched *s, const struct pollfd *pfds);
size_t exec_peer_jobs(const struct sched *s);
/* Inside the flush's transaction: the offers made since the last one; after its commit. */
int exec_peer_write(struct sched *s);
void exec_peer_written(struct sched *s);

/* sched-lease.c */
/* SYNTHFLOW_HOST_ID, else /etc/machine-id, else the host name. */
const char *sched_host_id(void);
/* The owner of a run still runs it: by its lease, and on this host by /proc. */
int sched_owner_alive(struct store *st, const char *owner);
int sched_lease_take(struct sched *s);
/* The heartbeat, when it is due. */
void sched_lease_tick(struct sched *s);
/*
 * At each turn of the loop, before reaping: a scheduler whose last heartbeat
 * that got through is lease_ttl - heartbeat old (it was stopped, or stalled)
 * suspends now, so that tries its watchdog killed meanwhile end as lost to
 * the lease, not as failures.
 */
void sched_lease_check(struct sched *s);
void sched_lease_drop(struct sched *s);
/*
 * 1 while tries may start: no lease (test), or one renewed less than
 * lease_ttl - heartbeat ago and neither fenced nor suspended.  Checked before
 * each start, so a scheduler resumed after a stop (SIGSTOP) starts nothing
 * before a heartbeat says whether its runs are still its own.
 */
int sched_lease_fresh(const struct sched *s);
/* The store says our lease is gone: stop (killing our tries) and write nothing more. */
void sched_fenced(struct sched *s);
/*
 * Takes run r over when its owner is gone, ending the owner's lease in the
 * same transaction: 0 taken (*host: the owner's machine when it was another
 * one, malloc'd, else NULL), else 1.
 */
int sched_take_over(struct sched *s, const struct store_run *r, char **host);
/* How many new runs to claim now: -1 every one. */
int64_t sched_claim_limit(struct sched *s);
/* 1 while this scheduler holds the duty (SCHED_DUTY_*) and may act on it. */
int sched_duty_held(const struct sched *s, unsigned duty);

/* sched-prov.c */
void sprov_start(struct sproc *p, const char *cmd, char **env_tail, const char *workdir);
void sprov_finish(struct sched *s, struct sproc *p);
void sprov_drop(struct sproc *p);
/* 1 while the run's documents are not all back (the first call sends the run's own). */
int sprov_run_wait(struct sched *s, struct srun *run);
void sprov_drain(struct sched *s);
int sprov_write(struct sched *s);
void sprov_written(struct sched *s);
void sprov_free(struct sched *s);
void sprov_load_run(struct srun *run);
void sprov_run_release(struct srun *run);
/* Declared paths expanded in ctx, relative ones under the data folder (malloc'd, n of them). */
char **sprov_expand_paths(struct sched *s, char **tmpls, size_t n, struct tmpl_ctx *ctx);
/* Hands other work to the hashing pool (counted in prov_inflight; comes back to scache_done). */
void sprov_submit(struct sched *s, struct prov_job *job);
/* The provenance document of an instance restored from the cache. */
void sprov_cached(struct sched *s, struct sti *ti, const char *key, const char *from_run,
		  int from_index, json_t *inputs, json_t *outputs);

/* sched-cache.c: the content cache (cache.h) */
#define SCACHE_MISSED 2 /* cache_st: looked up and not found; its key is known */
/* 1 when the ready instance went to the cache lookup instead of starting now. */
int scache_take(struct sched *s, struct sti *ti);
/* The instance ran and succeeded: its outputs are saved under its key. */
void scache_succeeded(struct sched *s, struct sti *ti);
void scache_done(struct sched *s, struct prov_job *job);
void scache_ti_release(struct sti *ti);

/* sched-outbox.c: callbacks and event scripts (docs/events.md) */
/* A run's folder (malloc'd) and the ISO date of its creation ({{ run.dir }}, {{ run.date }}). */
char *sched_run_dir(const char *data_dir, const struct store_run *r, char run_date[16]);
void sout_run_ended(struct srun *run);  /* the run just reached its final state */
/*
 * The same deliveries for an end written without a scheduler's run in memory
 * (a dead test's run, a cancel of a run nobody runs, a DAG that cannot be
 * loaded), written in the caller's transaction; d NULL: the DAG cannot be
 * loaded, a failed callback row says so.  owner NULL: serve delivers them.
 */
int sout_end_outside(struct store *st, const char *data_dir, const struct store_run *r,
		     const struct dag *d, enum run_state state, const char *reason,
		     const char *failed, const char *owner);
void sout_retry(struct sti *ti);        /* the instance is up for retry: its on_retry */
void sout_run_started(struct srun *run); /* event scripts: run-started */
void sout_task_failed(struct sti *ti);  /* event scripts: task-failed */
int sout_write(struct sched *s);        /* inside the flush's transaction */
void sout_written(struct sched *s);     /* after its commit */
void sout_tick(struct sched *s);        /* starts rows due, enforces timeouts */
int sout_reaped(struct sched *s, pid_t pid, int status); /* 1: the pid was a delivery */
int64_t sout_wait_ms(struct sched *s);  /* until sout_tick has something to do; -1 never */
int sout_busy(struct sched *s);         /* rows of ours not written or not delivered yet */
void sout_free(struct sched *s);
void sout_metrics(struct sched *s, struct strbuf *out);

/* sched-metrics.c: time one loop iteration (begin returns a monotonic us stamp). */
int64_t sched_loop_begin(void);
void sched_loop_end(struct sched *s, int64_t busy_from);

#endif
