/*
 * The local executor as an executor backend (exec-impl.h): a try is a
 * process group on this machine (exec.c); its end comes from SIGCHLD, which
 * the scheduler's loop reaps, so it needs no tick.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "flow/exec-impl.h"
#include "flow/procs.h"
#include "flow/sched-int.h"
#include "util/common.h"

static int local_start(struct sched *s, struct sproc *p, const struct exec_spec *spec,
		       struct strbuf *err)
{
	struct exec_spec mine = *spec;
	char **envp = exec_pool_take(s, p, spec->envp);
	struct strvec av = STRVEC_INIT;
	int rc = 0;

	if (envp)
		mine.envp = envp;
	if (p->ti->task->def->container && (rc = ctr_local_argv(s, p, spec, &av, err)) == 0)
		mine.argv = av.v;
	if (rc >= 0)
		rc = exec_spawn(&mine, &p->ep, err);
	strvec_clear(&av);
	free(envp);
	if (rc < 0) {
		free(p->ctr);
		p->ctr = NULL;
		exec_pool_give(p);
		return -1;
	}
	procs_attach(p->ep.pid, p->ti->task->run->run_id, p->key);
	return 0;
}

static void local_kill(struct sched *s, struct sproc *p, int hard)
{
	kill(-p->ep.pid, hard ? SIGKILL : SIGTERM);
	/* the engine's daemon runs a container: a killed client leaves it running */
	if (hard)
		ctr_local_remove(s, p);
}

/*
 * After a timeout or a cancel, what is left of the try's process group is
 * killed and, since the scheduler is their subreaper, reaped here: when
 * the try is recorded as ended, none of its processes exists any more, not
 * even as a zombie.  Bounded (100 ms), as a process in uninterruptible
 * sleep dies only when it wakes.  Then every other process of the try
 * (its cgroup, SF_TRY_KEY: also those that left the group) goes too.
 */
static int local_reap(struct sproc *p, int killed)
{
	pid_t pgid = p->ep.pid;
	const char *run_id = p->ti->task->run->run_id;

	if (!killed) {
		procs_try_done(run_id, p->key);
		return 0;
	}
	kill(-pgid, SIGKILL);
	ctr_local_remove(p->ti->task->run->s, p);
	for (int i = 0; i < 100; i++) {
		while (waitpid(-pgid, NULL, WNOHANG) > 0)
			;
		if (kill(-pgid, 0) < 0 && errno == ESRCH)
			break;
		poll(NULL, 0, 1);
	}
	return procs_kill_try(run_id, p->key, pgid, KILL_CONFIRM_MS);
}

static void local_release(struct sproc *p)
{
	free(p->ctr);
	p->ctr = NULL;
	exec_pool_give(p);
	exec_release(&p->ep);
}

const struct exec_ops exec_local_ops = {
	.name = "local",
	.times_from_start = 1,
	.start = local_start,
	.kill = local_kill,
	.reap = local_reap,
	.release = local_release,
	.shutdown = exec_pool_free,
};

const struct exec_ops *const exec_backends[] = { &exec_local_ops, &exec_slurm_ops,
						  &exec_peer_ops };
const size_t exec_nbackends = ARRAY_SIZE(exec_backends);

const struct exec_ops *exec_ops_for(const struct dag *d, const struct dag_task *t,
				    const char *dflt)
{
	enum dag_executor e = t->executor ? t->executor : d->executor;

	if (e == DAG_EXEC_DEFAULT)
		e = dflt && !strcmp(dflt, "slurm") ? DAG_EXEC_SLURM : DAG_EXEC_LOCAL;
	return e == DAG_EXEC_SLURM ? &exec_slurm_ops : &exec_local_ops;
}

void exec_warn_unused(const struct dag *d, const char *dflt)
{
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		const struct dag_resources *r = &t->res;
		struct strbuf keys = STRBUF_INIT;

		if (exec_ops_for(d, t, dflt) != &exec_local_ops)
			continue;
		if (r->mem_mb)
			sb_adds(&keys, ", mem");
		if (r->time_ms)
			sb_adds(&keys, ", time");
		if (r->partition)
			sb_adds(&keys, ", partition");
		if (r->account)
			sb_adds(&keys, ", account");
		if (r->nextra)
			sb_adds(&keys, ", extra");
		if (keys.len)
			warning("DAG '%s', task '%s': the local executor does not act on %s (only "
				"cpus and gpus); the slurm executor passes them on", d->id, t->id,
				keys.buf + 2);
		sb_release(&keys);
	}
}
