/*
 * Runs in the scheduler's memory: loading one from the store (fresh, or
 * left behind by a scheduler that died), foreach expansion, requests
 * (cancel, clear), and writing every change back in one transaction.
 *
 * Crash safety: a try's pid and process start time are written in the same
 * loop iteration that started it.  A scheduler taking over a run whose
 * owner died finds its `running` instances; each last try is ended as lost
 * (its process group is killed if it still runs, since its exit status can
 * no longer be known), and the instance is queued for a new try that does
 * not count against its retries.  A task therefore never succeeds twice in
 * the store, but it may run again after a crash: tasks should be idempotent.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "flow/events.h"
#include "flow/exec-impl.h"
#include "flow/procs.h"
#include <sys/stat.h>

#include "flow/sched-int.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

unsigned long long owner_pidns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/*
 * An owner in another pid namespace (the host's `test` seen from a serve in
 * a workspace container, or the other way round) cannot be looked up in our
 * /proc: it counts as alive, so its run is never taken over while it may
 * still be running (docs/engine.md).
 */
int owner_alive(const char *owner)
{
	unsigned long long start, ns;
	const char *at;
	int pid;

	if (!owner || sscanf(owner, "%d:%llu", &pid, &start) != 2)
		return 0;
	at = strchr(owner, '@');
	if (at && sscanf(at + 1, "%llu", &ns) == 1 && ns != owner_pidns())
		return 1;
	return exec_proc_alive((pid_t)pid, (uint64_t)start);
}

static void init_instance(struct sti *ti, struct stask *t, int index)
{
	memset(ti, 0, sizeof(*ti));
	ti->task = t;
	ti->index = index;
	ti->state = TI_QUEUED;
	ti->exit_code = -1;
	ti->max_tries = t->def->retries + 1;
}

static void link_tasks(struct srun *run)
{
	const struct dag *d = run->dag;
	size_t *ndown = xcalloc(d->ntasks, sizeof(*ndown));

	for (size_t i = 0; i < d->ntasks; i++)
		for (size_t k = 0; k < d->tasks[i].nneeds; k++)
			ndown[d->tasks[i].need_idx[k]]++;
	for (size_t i = 0; i < d->ntasks; i++)
		run->tasks[i].down = xcalloc(ndown[i] ? ndown[i] : 1, sizeof(size_t));
	for (size_t i = 0; i < d->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		if (!t->active)
			continue;
		for (size_t k = 0; k < d->tasks[i].nneeds; k++) {
			struct stask *u = &run->tasks[d->tasks[i].need_idx[k]];
			if (!u->active)
				continue;
			u->down[u->ndown++] = i;
			t->up.total++; /* u's placeholder; adjusted when u expands */
		}
	}
	free(ndown);
}

char *sched_run_dir(const char *data_dir, const struct store_run *r, char run_date[16])
{
	time_t secs = (time_t)(r->created_at / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(run_date, 16, "%Y-%m-%d", &tm);
	return xasprintf("%s/generated/%s/%s", data_dir, r->dag_id, r->run_id);
}

static struct srun *srun_new(struct sched *s, const struct store_run *r, struct dag *d)
{
	struct srun *run = xcalloc(1, sizeof(*run));

	run->s = s;
	run->run_id = xstrdup(r->run_id);
	run->dag = d;
	run->params = json_incref(r->params);
	run->run_dir = sched_run_dir(s->data_dir, r, run->run_date);
	run->state = RUN_QUEUED;
	run->created_at = r->created_at;
	run->started_at = r->started_at;
	/* The snapshot taken when the run was created: a later `vars set` never changes a run. */
	if (r->vars)
		run->vars = json_incref(r->vars);
	else if (store_var_all(s->store, &run->vars) < 0) /* a run from before snapshots */
		run->vars = json_object();
	sprov_load_run(run);
	run->ntasks = d->ntasks;
	run->tasks = xcalloc(d->ntasks, sizeof(*run->tasks));
	for (size_t i = 0; i < d->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		t->def = &d->tasks[i];
		t->idx = i;
		t->run = run;
		t->active = !s->opts.only_task || !strcmp(t->def->id, s->opts.only_task);
		init_instance(&t->placeholder, t, -1);
		t->inst = &t->placeholder;
		t->ninst = 1;
		if (t->active) {
			run->cnt[TI_QUEUED]++;
			run->ninst++;
		}
	}
	link_tasks(run);
	return run;
}

void srun_free(struct srun *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		for (size_t k = 0; k < t->ninst; k++) {
			free(t->inst[k].reason);
			scache_ti_release(&t->inst[k]);
		}
		if (t->inst != &t->placeholder) {
			free(t->placeholder.reason);
			scache_ti_release(&t->placeholder);
			free(t->inst);
		}
		if (t->items)
			exec_glob_free(t->items, t->ninst);
		free(t->down);
		free(t->blocked);
	}
	free(run->tasks);
	dag_free(run->dag);
	json_decref(run->params);
	json_decref(run->vars);
	sprov_run_release(run);
	free(run->run_dir);
	free(run->run_id);
	free(run->reason);
	free(run);
}

/*
 * Replaces the placeholder by one instance per item.  The placeholder stays
 * in the dirty list as `deleted`, so its row goes in the same transaction
 * as the new ones.
 */
static void expand_into(struct stask *t, char **items, size_t n)
{
	struct srun *run = t->run;

	t->expanded = 1;
	if (!n)
		return; /* the caller marks the placeholder skipped */
	t->items = items;
	t->inst = xcalloc(n, sizeof(*t->inst));
	t->ninst = n;
	for (size_t i = 0; i < n; i++) {
		init_instance(&t->inst[i], t, (int)i);
		sched_mark_dirty(&t->inst[i]);
	}
	t->placeholder.deleted = 1;
	sched_mark_dirty(&t->placeholder);
	run->cnt[TI_QUEUED] += n - 1;
	run->ninst += n - 1;
	for (size_t i = 0; i < t->ndown; i++)
		run->tasks[t->down[i]].up.total += n - 1;
}

int srun_expand(struct stask *t, struct strbuf *err)
{
	struct srun *run = t->run;
	struct tmpl_ctx ctx = {
		.dag = run->dag, .params = run->params, .vars = run->vars, .run_id = run->run_id,
		.run_dir = run->run_dir, .run_date = run->run_date, .task_id = t->def->id,
		.data_dir = run->s->data_dir, .quote = 0,
	};
	struct strbuf pat = STRBUF_INIT;
	char **items;
	size_t n;

	if (tmpl_expand(t->def->foreach, &ctx, &pat, err) < 0) {
		sb_release(&pat);
		return -1;
	}
	if (pat.buf[0] != '/') {
		char *abs = path_join(run->s->data_dir, pat.buf);
		sb_reset(&pat);
		sb_adds(&pat, abs);
		free(abs);
	}
	if (exec_glob(pat.buf, &items, &n, err) < 0) {
		sb_release(&pat);
		return -1;
	}
	sb_release(&pat);
	expand_into(t, items, n);
	if (!n)
		free(items);
	return 0;
}

/* ---- loading a run ---- */

static void copy_stored(struct sti *ti, const struct store_ti *r)
{
	struct srun *run = ti->task->run;
	run->cnt[ti->state]--;
	ti->state = r->state;
	run->cnt[ti->state]++;
	ti->try_number = r->try_number;
	ti->max_tries = r->max_tries > 0 ? r->max_tries : ti->max_tries;
	ti->exit_code = r->exit_code;
	ti->started_at = r->started_at;
	ti->ended_at = r->ended_at;
	ti->next_try_at = r->next_try_at;
	ti->reason = r->reason ? xstrdup(r->reason) : NULL;
	ti->cached = r->cached;
}

/* Stored instances of one task: tis[lo..hi) (the list is sorted by task, index). */
static void restore_task(struct stask *t, const struct store_ti *tis, size_t lo, size_t hi)
{
	if (tis[lo].index < 0) {
		copy_stored(&t->placeholder, &tis[lo]);
		if (t->def->foreach && t->placeholder.state == TI_SKIPPED)
			t->expanded = 1;
		return;
	}
	char **items = xcalloc(hi - lo, sizeof(*items));
	for (size_t i = lo; i < hi; i++)
		items[i - lo] = xstrdup(tis[i].item ? tis[i].item : "");
	expand_into(t, items, hi - lo);
	for (size_t i = lo; i < hi; i++)
		copy_stored(&t->inst[i - lo], &tis[i]);
}

/* Recomputes every task's upstream counts from its upstream instances. */
static void recount(struct srun *run)
{
	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *u = &run->tasks[i];
		for (size_t k = 0; k < u->ndown; k++) {
			struct upstream_counts *c = &run->tasks[u->down[k]].up;
			for (size_t j = 0; j < u->ninst; j++) {
				enum ti_state st = u->inst[j].state;
				if (!ti_state_is_final(st))
					continue;
				c->done++;
				c->success += st == TI_SUCCESS;
				c->failed += st == TI_FAILED;
				c->upstream_failed += st == TI_UPSTREAM_FAILED;
				c->skipped += st == TI_SKIPPED;
			}
		}
	}
}

void srun_try_lost(struct sti *ti, const struct store_try *last, const char *host)
{
	struct sched *s = ti->task->run->s;
	struct store_try t = *last;
	struct pending_try *p;
	char *why;

	if (host) {
		/* Its process is on another machine: ours cannot see or kill it (docs/engine.md). */
		why = xasprintf("scheduler lost: the scheduler running it on host '%s' stopped "
				"renewing its lease", host);
	} else if (exec_proc_alive(last->pid, last->pid_start)) {
		kill(-last->pid, SIGKILL);
		why = xasprintf("lost: the scheduler running it stopped; process %d was killed "
				"because its exit status could not be known",
				(int)last->pid);
	} else {
		why = xasprintf("lost: the scheduler running it stopped and process %d is gone",
				(int)last->pid);
	}
	t.ended_at = time_now_ms();
	t.reason = why;
	ALLOC_GROW(s->tries, s->ntries + 1, s->tries_alloc);
	p = &s->tries[s->ntries++];
	p->run = ti->task->run;
	p->ti = ti;
	p->t = t;
	p->t.log_path = last->log_path ? xstrdup(last->log_path) : NULL;
	p->metrics = NULL;
	/* Not the task's failure: the retry budget is kept. */
	ti->max_tries++;
	ti->ended_at = t.ended_at;
	sched_set_state(ti, TI_QUEUED, why);
}

/* How long the processes of a recovered run get to be confirmed gone after SIGKILL. */
#define RECOVER_KILL_MS 10000

/* host: the lost scheduler's, when it was another machine (nothing of it runs here), else NULL */
static void recover_running(struct srun *run, const char *host)
{
	struct sched *s = run->s;
	struct sti **lost = NULL;
	size_t nlost = 0, lost_alloc = 0;
	int killed = 0, left;

	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		for (size_t k = 0; k < t->ninst; k++) {
			struct sti *ti = &t->inst[k];
			struct store_try *tries = NULL;
			size_t n = 0;
			if (ti->state != TI_RUNNING)
				continue;
			if (store_try_list(s->store, run->run_id, t->def->id, ti->index, &tries, &n) < 0 ||
			    !n) {
				struct store_try none = { .try_number = ti->try_number, .exit_code = -1 };
				srun_try_lost(ti, &none, host);
			} else if (sched_reattach(ti, &tries[n - 1]) == 0) {
				/* Its executor follows it again (Slurm): not lost. */
				store_try_list_free(tries, n);
				continue;
			} else {
				srun_try_lost(ti, &tries[n - 1], host);
			}
			store_try_list_free(tries, n);
			ALLOC_GROW(lost, nlost + 1, lost_alloc);
			lost[nlost++] = ti;
		}
	}
	/*
	 * Before anything of this run starts again, every process of it is
	 * killed and confirmed gone: children whose task's main process died,
	 * tasks started in the last write window before the crash (no try on
	 * record yet), what left its process group.
	 */
	if (host) {
		free(lost);
		return;
	}
	left = procs_kill_run(run->run_id, RECOVER_KILL_MS, &killed);
	if (killed)
		warning("run %s: killed %d task process(es) left running by the scheduler that stopped",
			run->run_id, killed);
	if (left) {
		char *why = xasprintf("lost: %d process(es) of this run could not be killed within "
				      "%d s; not started again while they may still run", left,
				      RECOVER_KILL_MS / 1000);
		warning("run %s: %s", run->run_id, why);
		for (size_t i = 0; i < nlost; i++)
			sched_set_state(lost[i], TI_FAILED, why);
		free(why);
	}
	free(lost);
}

static int restore(struct srun *run, const char *host, struct strbuf *why)
{
	struct store_ti *tis = NULL;
	size_t n = 0, lo = 0;

	if (store_ti_list(run->s->store, run->run_id, &tis, &n) < 0) {
		sb_adds(why, "cannot read its task instances from the store");
		return -1;
	}
	while (lo < n) {
		size_t hi = lo + 1;
		ssize_t idx;
		while (hi < n && !strcmp(tis[hi].task_id, tis[lo].task_id))
			hi++;
		idx = dag_task_index(run->dag, tis[lo].task_id);
		if (idx < 0) {
			sb_addf(why, "task '%s' of this run is no longer in DAG '%s' (%s)", tis[lo].task_id,
				run->dag->id, run->dag->path);
			store_ti_list_free(tis, n);
			return -1;
		}
		if (run->tasks[idx].active)
			restore_task(&run->tasks[idx], tis, lo, hi);
		lo = hi;
	}
	store_ti_list_free(tis, n);
	recount(run);
	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		for (size_t k = 0; k < t->ninst; k++)
			if (t->inst[k].state != TI_QUEUED)
				t->decided = 1;
	}
	recover_running(run, host);
	return 0;
}

struct srun *srun_load(struct sched *s, const struct store_run *r, struct dag *d,
		       const char *host)
{
	struct srun *run = srun_new(s, r, d);
	struct strbuf why = STRBUF_INIT;
	int fresh = !r->started_at;

	if (fresh) {
		exec_warn_unused(d, s->opts.cfg->flow_executor);
		for (size_t i = 0; i < run->ntasks; i++)
			if (run->tasks[i].active)
				sched_mark_dirty(&run->tasks[i].placeholder);
	}
	/* A local task asking for more cpus or gpus than there are would wait forever. */
	if ((!fresh && restore(run, host, &why) < 0) || exec_pool_check(s, d, &why) < 0)
		srun_fail(run, sb_detach(&why, NULL));
	run->dirty = 1;
	sb_release(&why);
	return run;
}

void srun_fail(struct srun *run, char *reason)
{
	run->state = RUN_FAILED;
	free(run->reason);
	run->reason = reason;
	run->ended_at = time_now_ms();
	run->dirty = 1;
	sout_run_ended(run);
	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		if (!t->active)
			continue;
		t->decided = 1;
		for (size_t k = 0; k < t->ninst; k++) {
			struct sti *ti = &t->inst[k];
			if (!ti_state_is_final(ti->state) && ti->state != TI_RUNNING)
				sched_set_state(ti, TI_FAILED, reason);
		}
	}
}

/* ---- requests ---- */

void srun_cancel(struct srun *run)
{
	struct sched *s = run->s;

	if (run_state_is_final(run->state))
		return;
	run->cancelling = 1;
	free(run->reason);
	run->reason = xstrdup("cancelled");
	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		if (!t->active)
			continue;
		for (size_t k = 0; k < t->ninst; k++) {
			struct sti *ti = &t->inst[k];
			if (ti->state == TI_RUNNING)
				sched_kill(s, ti, KILL_CANCEL);
			else if (!ti_state_is_final(ti->state))
				sched_set_state(ti, TI_CANCELLED, "cancelled");
		}
	}
	if (run->state == RUN_QUEUED) {
		run->state = RUN_CANCELLED;
		run->ended_at = time_now_ms();
		sout_run_ended(run);
	}
	run->dirty = 1;
}

static void clear_task(struct stask *t)
{
	struct sched *s = t->run->s;

	t->decided = 0;
	if (t->def->foreach && t->inst == &t->placeholder)
		t->expanded = 0; /* matched nothing: look again */
	for (size_t k = 0; k < t->ninst; k++) {
		struct sti *ti = &t->inst[k];
		/* A full set of tries again, as Airflow's clear gives. */
		ti->max_tries = ti->try_number + t->def->retries + 1;
		if (ti->state == TI_RUNNING)
			sched_kill(s, ti, KILL_CLEAR);
		else
			sched_set_state(ti, TI_QUEUED, "cleared");
	}
	sched_eval_push(s, t);
}

void srun_apply_request(struct srun *run, const struct store_req *req)
{
	ssize_t idx;
	size_t *stack, n = 0;
	char *seen;

	if (req->kind == REQ_CANCEL) {
		srun_cancel(run);
		return;
	}
	idx = req->task_id ? dag_task_index(run->dag, req->task_id) : -1;
	if (idx < 0 || !run->tasks[idx].active)
		return;
	seen = xcalloc(run->ntasks, 1);
	stack = xcalloc(run->ntasks, sizeof(*stack));
	stack[n++] = (size_t)idx;
	seen[idx] = 1;
	while (n) {
		struct stask *t = &run->tasks[stack[--n]];
		clear_task(t);
		if (!req->downstream)
			continue;
		for (size_t i = 0; i < t->ndown; i++)
			if (!seen[t->down[i]]) {
				seen[t->down[i]] = 1;
				stack[n++] = t->down[i];
			}
	}
	free(seen);
	free(stack);
	run->cancelling = 0;
	if (run_state_is_final(run->state)) {
		run->state = RUN_QUEUED;
		run->ended_at = 0;
		run->s->runs_changed = 1;
	}
	free(run->reason);
	run->reason = NULL;
	run->dirty = 1;
}

/* ---- writing changes ---- */

static void to_store_ti(const struct sti *ti, struct store_ti *out)
{
	const struct stask *t = ti->task;
	*out = (struct store_ti){
		.task_id = t->def->id, .index = ti->index, .state = ti->state,
		.try_number = ti->try_number, .exit_code = ti->exit_code,
		.started_at = ti->started_at, .ended_at = ti->ended_at,
		.next_try_at = ti->next_try_at, .max_tries = ti->max_tries,
		.item = ti->index >= 0 && t->items ? t->items[ti->index] : NULL,
		.reason = ti->reason, .cached = ti->cached,
	};
}

static int flush_all(struct sched *s)
{
	/* Fencing: the batch is written only while this scheduler still holds its lease. */
	if (s->epoch) {
		int ret = store_lease_fence(s->store, s->epoch);
		if (ret == STORE_NOT_FOUND)
			sched_fenced(s);
		if (ret)
			return -1;
	}
	for (size_t i = 0; i < s->ndirty; i++) {
		struct sti *ti = s->dirty[i];
		const char *run_id = ti->task->run->run_id;
		struct store_ti st;
		if (ti->deleted) {
			if (store_ti_delete(s->store, run_id, ti->task->def->id, -1) < 0)
				return -1;
			continue;
		}
		to_store_ti(ti, &st);
		if (store_ti_put(s->store, run_id, &st) < 0)
			return -1;
	}
	for (size_t i = 0; i < s->ntries; i++) {
		struct pending_try *p = &s->tries[i];
		struct sproc *proc = p->ti->proc;
		/*
		 * Only a try still running at the write needs its start time (for
		 * recovery); it is our unreaped child, so its pid cannot be reused yet.
		 */
		if (!p->t.ended_at && !p->t.pid_start && proc && p->t.pid > 0 &&
		    proc->ep.pid == p->t.pid) {
			if (!proc->start_time)
				exec_proc_start_time(proc->ep.pid, &proc->start_time);
			p->t.pid_start = proc->start_time;
		}
		if (store_try_put(s->store, p->run->run_id, p->ti->task->def->id, p->ti->index, &p->t) <
		    0)
			return -1;
		if (p->metrics &&
		    store_metrics_put(s->store, p->run->run_id, p->ti->task->def->id, p->ti->index,
				      p->t.try_number,
				      p->ti->index >= 0 && p->ti->task->items
					      ? p->ti->task->items[p->ti->index] : NULL,
				      p->metrics->buf, p->metrics->len, NULL) < 0)
			return -1;
	}
	if (sprov_write(s) < 0 || sout_write(s) < 0 || exec_peer_write(s) < 0)
		return -1;
	for (size_t i = 0; i < s->nruns; i++) {
		struct srun *run = s->runs[i];
		if (run->dirty && store_run_set_state(s->store, run->run_id, run->state, run->started_at,
						      run->ended_at, run->reason) < 0)
			return -1;
	}
	return 0;
}

int sched_flush(struct sched *s)
{
	int dirty_runs = 0;

	for (size_t i = 0; i < s->nruns; i++)
		dirty_runs |= s->runs[i]->dirty;
	if (!s->ndirty && !s->ntries && !dirty_runs && !s->nprovs && !s->noutq)
		return 0;
	if (store_begin(s->store) < 0 || flush_all(s) < 0 ||
	    store_commit(s->store) < 0) {
		store_rollback(s->store);
		/* Kept for the next iteration: a locked or full database may recover. */
		if (!s->flush_failed) {
			error("the store could not be written; retrying every second");
			s->flush_failed_at = time_mono_ms();
		}
		s->flush_failed = 1;
		s->flush_tried_at = time_mono_ms();
		return -1;
	}
	if (s->flush_failed)
		note("the store is written again");
	s->flush_failed = 0;
	s->last_flush = time_mono_ms();
	for (size_t i = 0; i < s->ndirty; i++)
		s->dirty[i]->dirty = 0;
	s->ndirty = 0;
	for (size_t i = 0; i < s->ntries; i++) {
		free(s->tries[i].t.log_path);
		free(s->tries[i].t.reason);
		if (s->tries[i].metrics)
			sb_release(s->tries[i].metrics);
		free(s->tries[i].metrics);
	}
	s->ntries = 0;
	sprov_written(s);
	sout_written(s);
	exec_peer_written(s);
	for (size_t i = 0; i < s->nruns; i++)
		s->runs[i]->dirty = 0;
	return 0;
}

/* ---- the store: new runs, runs left behind, requests ---- */

/* A run's DAG, parsed afresh (a DAG file may change while runs go on). */
static struct dag *load_dag(struct sched *s, const char *dag_id, const char *path,
			    struct strbuf *why)
{
	struct dag *d = dag_load_id(s->data_dir, dag_id, path);

	if (!d)
		sb_addf(why, "DAG '%s' cannot be loaded: it is gone or its file has errors now "
			     "(see 'synthflow dags validate')",
			dag_id);
	return d;
}

static struct srun *find_run(struct sched *s, const char *run_id)
{
	for (size_t i = 0; i < s->nruns; i++)
		if (!strcmp(s->runs[i]->run_id, run_id))
			return s->runs[i];
	return NULL;
}

/* Takes a claimed run into memory with its DAG d (NULL: it cannot be loaded, why says so). */
static int adopt_run(struct sched *s, const struct store_run *r, struct dag *d, struct strbuf *why,
		     const char *host)
{
	if (!d) {
		/*
		 * Nothing can run: end it with the reason, so it does not sit queued
		 * forever, with the deliveries of its end (what can be known of them).
		 */
		if (store_begin(s->store) == 0) {
			if (store_run_set_state(s->store, r->run_id, RUN_FAILED, r->started_at,
						time_now_ms(), why->buf) < 0 ||
			    sout_end_outside(s->store, s->data_dir, r, NULL, RUN_FAILED, why->buf, "",
					     s->owner) < 0)
				store_rollback(s->store);
			else if (store_commit(s->store) == 0)
				s->out_check = 1;
		}
		return -1;
	}
	ALLOC_GROW(s->runs, s->nruns + 1, s->runs_alloc);
	s->runs[s->nruns++] = srun_load(s, r, d, host);
	s->runs_changed = 1;
	return 0;
}

static int take_run(struct sched *s, const struct store_run *r, const char *dag_path,
		    const char *host)
{
	struct strbuf why = STRBUF_INIT;
	int ret = adopt_run(s, r, load_dag(s, r->dag_id, dag_path, &why), &why, host);

	sb_release(&why);
	return ret;
}

/* The run-queued event (events.h) of a run nobody started yet, in the claim's transaction. */
static int queued_event(struct sched *s, const struct store_run *r, const struct dag *d)
{
	char at[32];
	json_t *ev;
	int ret;

	if (!d || !d->workspace || r->started_at)
		return 0;
	time_format_iso(r->created_at, at, sizeof(at));
	ev = json_pack("{s:s, s:s, s:s?, s:s, s:O?}", "run_id", r->run_id, "dag_id", d->id,
		       "trigger", r->trigger, "queued_at", at, "params", r->params);
	ret = events_add(s->store, s->data_dir, d->workspace, "run-queued", ev, s->owner);
	json_decref(ev);
	return ret;
}

int sched_add_run(struct sched *s, const char *run_id, const char *dag_path)
{
	struct store_run r = { 0 };
	int ret = store_run_get(s->store, run_id, &r);

	if (ret)
		return ret < 0 ? -1 : error("unknown run '%s'", run_id);
	ret = take_run(s, &r, dag_path, NULL);
	if (ret < 0)
		error("run '%s': DAG '%s' cannot be loaded", run_id, r.dag_id);
	store_run_release(&r);
	return ret;
}

/*
 * New runs nobody owns, as many as sched_claim_limit() says, claimed with
 * SKIP LOCKED together with their run-queued events in one transaction, so
 * each event is written once per run however many serves look.
 */
static void claim_queued(struct sched *s)
{
	int64_t limit = sched_claim_limit(s);
	struct strbuf why = STRBUF_INIT;
	struct store_run *runs;
	struct dag **dags;
	char **ids;
	size_t n;
	int ret = 0;

	if (!limit || store_begin(s->store) < 0)
		return;
	if (store_run_claim_queued(s->store, s->owner, limit, &ids, &n) < 0) {
		store_rollback(s->store);
		return;
	}
	runs = xcalloc(n + 1, sizeof(*runs));
	dags = xcalloc(n + 1, sizeof(*dags));
	for (size_t i = 0; i < n && !ret; i++) {
		ret = store_run_get(s->store, ids[i], &runs[i]) ? -1 : 0;
		if (!ret) {
			/* the reason it cannot be loaded, for adopt_run, kept in runs[i].reason */
			dags[i] = load_dag(s, runs[i].dag_id, NULL, &why);
			if (!dags[i]) {
				free(runs[i].reason);
				runs[i].reason = sb_detach(&why, NULL);
			}
			ret = queued_event(s, &runs[i], dags[i]);
		}
	}
	if (ret)
		store_rollback(s->store);
	if (!ret && store_commit(s->store) == 0) {
		s->out_check = 1;
		for (size_t i = 0; i < n; i++) {
			sb_reset(&why);
			if (!dags[i] && runs[i].reason)
				sb_adds(&why, runs[i].reason);
			adopt_run(s, &runs[i], dags[i], &why, NULL);
			dags[i] = NULL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		dag_free(dags[i]);
		store_run_release(&runs[i]);
		free(ids[i]);
	}
	free(dags);
	free(runs);
	free(ids);
	sb_release(&why);
}

static void claim_runs(struct sched *s)
{
	struct store_run_filter f = { .states = 1u << RUN_QUEUED | 1u << RUN_RUNNING };
	struct store_run *runs;
	size_t n;

	if (!sched_lease_fresh(s))
		return;
	claim_queued(s);
	if (store_run_list(s->store, &f, &runs, &n, NULL) < 0)
		return;
	/* Runs whose owner is gone.  The list is newest first; older runs go first. */
	for (size_t i = n; i-- > 0;) {
		struct store_run *r = &runs[i];
		char *host = NULL;
		if (find_run(s, r->run_id) || (!r->owner && r->state == RUN_QUEUED))
			continue;
		if (sched_take_over(s, r, &host) == 0)
			take_run(s, r, NULL, host);
		free(host);
	}
	store_run_list_free(runs, n);
}

/*
 * A clear of a run that serve finished (and dropped from memory) brings the
 * run back: serve loads it again, as it would a run left by a dead owner.
 */
static struct srun *reload_run(struct sched *s, const char *run_id)
{
	struct store_run r = { 0 };
	struct srun *run = NULL;

	if (store_run_get(s->store, run_id, &r))
		return NULL;
	if ((!r.owner || !strcmp(r.owner, s->owner) || !sched_owner_alive(s->store, r.owner)) &&
	    store_run_claim(s->store, run_id, r.owner, s->owner) == 0 &&
	    take_run(s, &r, NULL, NULL) == 0)
		run = s->runs[s->nruns - 1];
	store_run_release(&r);
	return run;
}

static void apply_requests(struct sched *s)
{
	struct store_req *reqs;
	size_t n;

	if (store_req_list(s->store, NULL, &reqs, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct srun *run = find_run(s, reqs[i].run_id);
		if (!run && s->opts.serve && !s->stopping && reqs[i].kind == REQ_CLEAR)
			run = reload_run(s, reqs[i].run_id);
		if (!run)
			continue;
		srun_apply_request(run, &reqs[i]);
		store_req_done(s->store, reqs[i].id);
	}
	store_req_list_free(reqs, n);
}

int sched_poll_store(struct sched *s)
{
	if (!store_changed_elsewhere(s->store) && s->polled)
		return 0;
	s->polled = 1;
	/* rows another process wrote (a file's event, a dead test's callback) */
	s->out_check = 1;
	if (s->opts.serve && !s->stopping)
		claim_runs(s);
	apply_requests(s);
	return 0;
}
