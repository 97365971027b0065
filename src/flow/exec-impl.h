#ifndef SF_EXEC_IMPL_H
#define SF_EXEC_IMPL_H

/*
 * What an executor provides to the scheduler (sched.c), which holds a try
 * as a `struct sproc` and never needs to know where it runs.  Two backends:
 * the local one (exec-local.c: a process group on this machine, its output
 * drained through a pipe, its end learnt from SIGCHLD) and Slurm
 * (exec-slurm.c: a batch job whose node-side wrapper writes the log and an
 * exit-code file, its end learnt by polling).  A task's executor is its own
 * `executor:`, else its DAG's, else flow.executor.
 *
 * An executor reports a try's end with sched_try_ended(); the scheduler then
 * records it exactly as for any other executor (retries, trigger rules).
 */

#include "flow/dag.h"
#include "flow/exec.h"
#include "store/store.h"
#include "util/spawn.h"

struct sched;
struct sproc;

struct exec_ops {
	const char *name;
	/*
	 * 1: a task's timeout counts from the start; 0: the executor starts the
	 * clock itself (sched_timer_add) once the try really runs (Slurm: not
	 * while the job waits in the queue).
	 */
	int times_from_start;
	/* 1: tries run on other machines, so flow.parallelism does not hold them back. */
	int remote;
	/* Starts a try (p->ti is set); -1 with a message in err: it never started. */
	int (*start)(struct sched *s, struct sproc *p, const struct exec_spec *spec,
		     struct strbuf *err);
	/* Asks a running try to stop (timeout, cancel); hard = the grace is over. */
	void (*kill)(struct sched *s, struct sproc *p, int hard);
	/*
	 * The try ended; `killed`: after a timeout or cancel, so nothing of it may
	 * be left running once it is recorded.  Returns how many of its
	 * processes could not be confirmed gone.
	 */
	int (*reap)(struct sproc *p, int killed);
	/*
	 * serve stops while the try runs: 1 when the try keeps running, for the
	 * next serve to re-attach (p is then released by the caller); 0 when it
	 * must be killed.  NULL = 0.
	 */
	int (*detach)(struct sched *s, struct sproc *p);
	/*
	 * A try a scheduler that died recorded as running: 0 when it was found
	 * again and p follows it; -1 with the reason in why (it is then lost).
	 * NULL = never re-attached.
	 */
	int (*reattach)(struct sched *s, struct sproc *p, const struct store_try *last,
			struct strbuf *why);
	/* Once per loop iteration: may end tries (sched_try_ended).  NULL = none. */
	void (*tick)(struct sched *s);
	/* Milliseconds until tick wants to run again; -1 = no wish. */
	int64_t (*wait_ms)(struct sched *s);
	/* Frees what start or reattach allocated in p. */
	void (*release)(struct sproc *p);
	/* Frees the backend's state at sched_free. */
	void (*shutdown)(struct sched *s);
};

extern const struct exec_ops exec_local_ops;
extern const struct exec_ops exec_slurm_ops;
extern const struct exec_ops exec_peer_ops;
/* Every backend, for the loop's tick and wait_ms. */
extern const struct exec_ops *const exec_backends[];
extern const size_t exec_nbackends;

/* The executor of a task: its own, else its DAG's, else `dflt` (flow.executor). */
const struct exec_ops *exec_ops_for(const struct dag *d, const struct dag_task *t,
				    const char *dflt);

/* Warns about the resources of tasks that will run locally that only Slurm acts on. */
void exec_warn_unused(const struct dag *d, const char *dflt);

/*
 * exec-pool.c: the local executor's cpus (flow.parallelism) and gpus
 * (flow.gpu_devices, else nvidia-smi -L).  The scheduler's start_ready
 * begins each pass with exec_pool_pass, starts the waiting tries that
 * exec_pool_next_waiting hands it, then pops ready ones while
 * exec_pool_room, each only when exec_pool_admit says so (else it waits in
 * the pool, in_wait set).
 */
struct srun;
/* -1 with the reason in err when a local task of d asks for more than there is. */
int exec_pool_check(struct sched *s, const struct dag *d, struct strbuf *err);
/*
 * serve, once it runs: what it holds (flow.executor, flow.parallelism, the
 * number of gpus in its pool, read now) into flow/serve-capacity.json,
 * against which sched_trigger_check of other processes checks new runs.
 */
void exec_pool_publish(struct sched *s);
void exec_pool_pass(struct sched *s);
/*
 * The cpus free for tries this serve runs for other schedulers' offers
 * (exec-peer.c): none while a try of its own waits for cpus or gpus.
 * exec_pool_lend takes (cpus > 0) or gives back (cpus < 0) what they use.
 */
int exec_pool_spare(struct sched *s);
void exec_pool_lend(struct sched *s, int cpus);
int exec_pool_room(struct sched *s);
struct sti *exec_pool_next_waiting(struct sched *s, size_t *cursor);
/* 1: start ti now (or it does not run locally); 0: it waits in the pool. */
int exec_pool_admit(struct sched *s, struct sti *ti);
/* The run is freed: its waiting instances leave the pool. */
void exec_pool_forget_run(struct sched *s, const struct srun *run);
/*
 * local_start: p takes its task's cpus and gpus.  With gpus, returns the
 * try's environment with its CUDA_VISIBLE_DEVICES (to free, not its
 * strings), else NULL.
 */
char **exec_pool_take(struct sched *s, struct sproc *p, char **envp);
void exec_pool_give(struct sproc *p);
void exec_pool_free(struct sched *s);
/* The device indices in `nvidia-smi -L` output, appended to ids; how many. */
int exec_pool_parse_smi(const char *out, struct strvec *ids);

/*
 * exec-container.c: a local try of a `container:` task.  0: av is the
 * engine's command line (p->ctr names the container); 1: it runs as any
 * local try (the scheduler is inside that workspace); -1 with what is
 * missing in err.
 */
int ctr_local_argv(struct sched *s, struct sproc *p, const struct exec_spec *spec,
		   struct strvec *av, struct strbuf *err);
/* Removes p's container, if it has one, running or not (a killed try). */
void ctr_local_remove(struct sched *s, struct sproc *p);

/* sched.c: a try ended; status as waitpid's.  Removes p from the running set. */
void sched_try_ended(struct sched *s, struct sproc *p, int status);

#endif
