#ifndef SF_PROCS_H
#define SF_PROCS_H

/*
 * Every process of a try, wherever it went (docs/engine.md, "Processes").
 * Each try's processes carry SF_TRY_KEY=<key> (and SF_RUN_ID) in their
 * environment and, where the machine lets us make cgroup v2 groups, live in
 * a cgroup of their own: <our cgroup>/synthflow/<run id>/<try>.  Killing a
 * try kills its cgroup, every process carrying its key and its process
 * group, then waits until none of them is left.
 */

#include <sys/types.h>

/* "<scheduler id>/<run id>/<task>[.<index>]/<try>", malloc'd. */
char *procs_try_key(const char *sched_id, const char *run_id, const char *task_id, int index,
		    int try_number);

/* Right after the spawn: moves pid into the try's own cgroup (best effort). */
void procs_attach(pid_t pid, const char *run_id, const char *key);

/* After a try ended by itself: removes its cgroup if nothing of it is left. */
void procs_try_done(const char *run_id, const char *key);

/*
 * SIGKILLs every process of the try `key` (its cgroup, the processes whose
 * environment holds SF_TRY_KEY=key, the process group pgid when > 0) and
 * waits up to wait_ms until none is left.  Returns how many are still
 * there (0: confirmed gone).
 */
int procs_kill_try(const char *run_id, const char *key, pid_t pgid, int wait_ms);

/*
 * The same by key alone, for processes outside any run's cgroup: a
 * callback or event script (SF_TRY_KEY=delivery/<row id>/<created>/<run>,
 * sched-outbox.c).
 */
int procs_kill_key(const char *key, int wait_ms);

/*
 * The same for the try a serve runs for an offer (SF_OFFER_KEY=offer_key,
 * exec-peer.c), wherever it is on this machine: its runner died.
 */
int procs_kill_offer(const char *offer_key, int wait_ms);

/*
 * The same for every try of a run (SF_RUN_ID=run_id, the run's cgroups),
 * except those run for an offer; *killed counts.
 */
int procs_kill_run(const char *run_id, int wait_ms, int *killed);

/* The same for every try a scheduler started (keys "<sched_id>/..."): end of test and serve. */
int procs_kill_sched(const char *sched_id, int wait_ms);

/* 1 when tries get cgroups here (for tests and docs). */
int procs_have_cgroups(void);

#endif
