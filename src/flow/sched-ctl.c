/*
 * Control from outside the scheduler (CLI commands, HTTP API): trigger,
 * cancel, clear.  These only touch the store.  A run owned by a live
 * scheduler gets a request that its owner applies within ~50 ms; a run
 * nobody runs is changed here directly (cancel) or queued again for `serve`
 * (clear).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include "flow/events.h"
#include "flow/procs.h"
#include "flow/sched-int.h"
#include "util/common.h"
#include "util/timeutil.h"

int sched_serve_running(const char *data_dir)
{
	char *path = xasprintf("%s/flow/serve.lock", data_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC), held = 0;

	free(path);
	if (fd < 0)
		return 0;
	/* serve holds it exclusively for as long as it runs (the kernel drops it when it dies) */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		held = errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int sched_trigger(struct store *st, const struct dag *d, json_t *params, const char *trigger,
		  char **run_id)
{
	return store_run_create_by(st, d->id, params, NULL, trigger, run_id);
}

/* Kills what is left of a running try whose scheduler is gone. */
static void kill_orphan(struct store *st, const char *run_id, const struct store_ti *ti)
{
	struct store_try *tries;
	size_t n;

	if (store_try_list(st, run_id, ti->task_id, ti->index, &tries, &n) < 0)
		return;
	if (n && !tries[n - 1].ended_at &&
	    exec_proc_alive(tries[n - 1].pid, tries[n - 1].pid_start)) {
		kill(-tries[n - 1].pid, SIGKILL);
		tries[n - 1].ended_at = time_now_ms();
		free(tries[n - 1].reason);
		tries[n - 1].reason = xstrdup("cancelled");
		store_try_put(st, run_id, ti->task_id, ti->index, &tries[n - 1]);
	}
	store_try_list_free(tries, n);
}

/* The tasks with a failed instance, comma-separated, each once ($SF_FAILED_TASKS). */
static char *failed_tasks(const struct store_ti *tis, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		if (tis[i].state != TI_FAILED)
			continue;
		while (k < i && !(tis[k].state == TI_FAILED && !strcmp(tis[k].task_id, tis[i].task_id)))
			k++;
		if (k == i)
			sb_addf(&sb, "%s%s", sb.len ? "," : "", tis[i].task_id);
	}
	return sb_detach(&sb, NULL);
}

/* The deliveries of the end of a run nobody runs (sched-outbox.c), for serve to deliver. */
static int end_deliveries(struct store *st, const char *data_dir, const struct store_run *r,
			  const struct dag *d, enum run_state state, const char *reason,
			  const struct store_ti *tis, size_t n)
{
	char *failed = failed_tasks(tis, n);
	int ret = sout_end_outside(st, data_dir, r, d, state, reason, failed, NULL);

	free(failed);
	return ret;
}

static int cancel_here(struct store *st, const char *data_dir, const struct store_run *r)
{
	struct dag *d = dag_load_id(data_dir, r->dag_id, NULL);
	struct store_ti *tis;
	size_t n;
	int ret = 0;

	/* Every process of it, also what left its process group, before it is marked ended. */
	procs_kill_run(r->run_id, 10000, NULL);
	if (store_begin(st) < 0) {
		dag_free(d);
		return -1;
	}
	if (store_ti_list(st, r->run_id, &tis, &n) < 0) {
		store_rollback(st);
		dag_free(d);
		return -1;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		if (ti_state_is_final(tis[i].state))
			continue;
		if (tis[i].state == TI_RUNNING)
			kill_orphan(st, r->run_id, &tis[i]);
		tis[i].state = TI_CANCELLED;
		free(tis[i].reason);
		tis[i].reason = xstrdup("cancelled");
		ret = store_ti_put(st, r->run_id, &tis[i]);
	}
	if (!ret)
		ret = store_run_set_state(st, r->run_id, RUN_CANCELLED, r->started_at, time_now_ms(),
					  "cancelled");
	if (!ret)
		ret = end_deliveries(st, data_dir, r, d, RUN_CANCELLED, "cancelled", tis, n);
	store_ti_list_free(tis, n);
	dag_free(d);
	if (ret) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

/* The task-failed event of an instance failed here (events.h). */
static int task_failed_event(struct store *st, const char *data_dir, const struct store_run *r,
			     const struct dag *d, const struct store_ti *ti)
{
	json_t *ev;
	int ret;

	if (!d || !d->workspace)
		return 0;
	ev = json_pack("{s:s, s:s, s:s, s:i, s:s?}", "run_id", r->run_id, "dag_id", r->dag_id,
		       "task_id", ti->task_id, "try", ti->try_number, "reason", ti->reason);
	if (ti->index >= 0)
		json_object_set_new(ev, "index", json_integer(ti->index));
	ret = events_add(st, data_dir, d->workspace, "task-failed", ev, NULL);
	json_decref(ev);
	return ret;
}

/*
 * Ends a run whose runner is gone: what did not finish failed, with the
 * reason, and the deliveries of those ends (the runner cannot send them).
 */
static int end_dead_run(struct store *st, const char *data_dir, const struct store_run *r,
			const char *why)
{
	struct dag *d = dag_load_id(data_dir, r->dag_id, NULL);
	struct store_ti *tis;
	size_t n;
	int ret = 0;

	if (store_begin(st) < 0) {
		dag_free(d);
		return -1;
	}
	/* Unless someone (a serve starting now) took it meanwhile. */
	ret = store_run_claim(st, r->run_id, r->owner, NULL);
	if (!ret)
		ret = store_ti_list(st, r->run_id, &tis, &n);
	if (ret) {
		store_rollback(st);
		dag_free(d);
		return ret < 0 ? -1 : 0;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		if (ti_state_is_final(tis[i].state))
			continue;
		tis[i].state = TI_FAILED;
		free(tis[i].reason);
		tis[i].reason = xstrdup(why);
		ret = store_ti_put(st, r->run_id, &tis[i]);
		if (!ret)
			ret = task_failed_event(st, data_dir, r, d, &tis[i]);
	}
	if (!ret)
		ret = store_run_set_state(st, r->run_id, RUN_FAILED, r->started_at, time_now_ms(), why);
	if (!ret)
		ret = end_deliveries(st, data_dir, r, d, RUN_FAILED, why, tis, n);
	store_ti_list_free(tis, n);
	dag_free(d);
	if (ret) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int sched_end_dead_runs(struct store *st, const char *data_dir)
{
	struct store_run_filter f = { .states = 1u << RUN_RUNNING };
	struct store_run *runs = NULL;
	size_t n = 0;
	int ended = 0;

	/*
	 * A running serve adopts them and carries them on instead (on a shared
	 * store, a serve of any machine); a store this user cannot write keeps
	 * them until someone who can opens it.
	 */
	if (store_read_only(st) || sched_scheduler_running(st, data_dir) ||
	    store_run_list(st, &f, &runs, &n, NULL) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char *why;
		const char *tail = runs[i].owner ? strrchr(runs[i].owner, ':') : NULL;
		if (!tail || strcmp(tail, ":test") || owner_alive(runs[i].owner))
			continue;
		why = xasprintf("runner died: process %.*s that ran it is gone",
				(int)strcspn(runs[i].owner, ":"), runs[i].owner);
		procs_kill_run(runs[i].run_id, 10000, NULL);
		if (end_dead_run(st, data_dir, &runs[i], why) == 0)
			ended++;
		free(why);
	}
	store_run_list_free(runs, n);
	return ended;
}

int sched_cancel(struct store *st, const char *data_dir, const char *run_id)
{
	struct store_run r = { 0 };
	int ret = store_run_get(st, run_id, &r);

	if (ret)
		return ret;
	if (run_state_is_final(r.state))
		ret = error("run '%s' has already ended (%s)", run_id, run_state_name(r.state));
	else if (r.owner && sched_owner_alive(st, r.owner))
		ret = store_req_add(st, run_id, REQ_CANCEL, NULL, 0);
	else
		ret = cancel_here(st, data_dir, &r);
	store_run_release(&r);
	return ret;
}

int sched_clear(struct store *st, const char *run_id, const char *task_id, int downstream)
{
	struct store_run r = { 0 };
	int ret = store_run_get(st, run_id, &r);

	if (ret)
		return ret;
	if (store_begin(st) < 0) {
		store_run_release(&r);
		return -1;
	}
	ret = store_req_add(st, run_id, REQ_CLEAR, task_id, downstream);
	/* Nobody runs it: `serve` takes it up, applies the request and continues. */
	if (!ret && !(r.owner && sched_owner_alive(st, r.owner))) {
		ret = store_run_claim(st, run_id, r.owner, NULL);
		if (!ret && run_state_is_final(r.state))
			ret = store_run_set_state(st, run_id, RUN_QUEUED, r.started_at, 0, NULL);
	}
	if (ret)
		store_rollback(st);
	else
		ret = store_commit(st);
	store_run_release(&r);
	return ret < 0 ? -1 : 0;
}
