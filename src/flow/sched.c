/*
 * The scheduler's event loop.
 *
 * One thread, one poll(2): a self-pipe written by the SIGCHLD handler (and
 * by sched_stop), the output pipes of running tasks, and a timeout from the
 * timer heap (retries, timeouts, kill escalation) and the store poll tick
 * (sched_wake() skips the tick for runs committed by a thread of ours).
 * Nothing busy-waits.  Each iteration:
 *   reap exited children -> fire due timers -> (serve) look at the store ->
 *   evaluate trigger rules of tasks whose upstream changed -> start ready
 *   instances up to the limits -> finish runs -> write every change of the
 *   iteration in one store transaction.
 * Starting the next task happens before the write, so the exit-to-start gap
 * of a chain is one waitpid, one rule evaluation and one posix_spawn.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/exec-impl.h"
#include "flow/procs.h"
#include "flow/sched-int.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

#define STORE_POLL_MS 50
#define KILL_GRACE_MS 5000
#define PROGRESS_MS 100
/*
 * Changes are written at most this long after they happen while tasks run
 * (at once when the scheduler goes idle, a run ends or it stops): one
 * commit then carries several task ends of a fan-out instead of one each.
 * 20 ms rather than 5: a 10,000-task fan-out then costs the scheduler a
 * quarter of the commits and of the /proc reads of tries still running at
 * a write, about 15% of its CPU, which on 2 cores competes with the tasks.
 */
#define FLUSH_MS 20
#define FLUSH_RETRY_MS 1000
/* `test` gives up when its finished run cannot be written for this long. */
#define FLUSH_GIVE_UP_MS 30000

extern char **environ;

static int wake_fd[2] = { -1, -1 };

static void on_sigchld(int sig)
{
	int saved = errno;
	char c = 'c';
	(void)sig;
	if (write(wake_fd[1], &c, 1) < 0) {
		/* A full pipe already holds a wakeup. */
	}
	errno = saved;
}

void sched_stop(struct sched *s)
{
	int saved = errno;
	char c = 's';
	s->stop = 1;
	if (write(wake_fd[1], &c, 1) < 0) {
		/* as above */
	}
	errno = saved;
}

void sched_wake(struct sched *s)
{
	int saved = errno;
	char c = 'w';
	/* set before the byte, so the iteration the byte wakes sees it */
	atomic_store(&s->look_now, 1);
	if (write(wake_fd[1], &c, 1) < 0) {
		/* as above */
	}
	errno = saved;
}

const char *sched_owner(const struct sched *s)
{
	return s->owner;
}

/* ---- the timer heap ---- */

static void heap_swap(struct timer *a, struct timer *b)
{
	struct timer t = *a;
	*a = *b;
	*b = t;
}

void sched_timer_add(struct sched *s, struct sti *ti, enum timer_kind kind, int64_t when)
{
	size_t i;
	ALLOC_GROW(s->timers, s->ntimers + 1, s->timers_alloc);
	i = s->ntimers++;
	s->timers[i] = (struct timer){ .when = when, .ti = ti, .gen = ti->gen, .kind = kind };
	while (i && s->timers[(i - 1) / 2].when > s->timers[i].when) {
		heap_swap(&s->timers[(i - 1) / 2], &s->timers[i]);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sched *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->ntimers && s->timers[l].when < s->timers[m].when)
			m = l;
		if (r < s->ntimers && s->timers[r].when < s->timers[m].when)
			m = r;
		if (m == i)
			return;
		heap_swap(&s->timers[i], &s->timers[m]);
		i = m;
	}
}

static struct timer heap_pop(struct sched *s)
{
	struct timer t = s->timers[0];
	s->timers[0] = s->timers[--s->ntimers];
	heap_down(s, 0);
	return t;
}

/* Drops the timers of a run about to be freed (rare: once per run). */
static void timers_drop_run(struct sched *s, struct srun *run)
{
	size_t w = 0;
	for (size_t i = 0; i < s->ntimers; i++)
		if (s->timers[i].ti->task->run != run)
			s->timers[w++] = s->timers[i];
	s->ntimers = w;
	for (size_t i = s->ntimers / 2 + 1; i-- > 0;)
		heap_down(s, i);
}

/* ---- queues ---- */

void sched_ready_push(struct sched *s, struct sti *ti)
{
	if (ti->in_ready || ti->in_wait)
		return;
	if (s->ready_len == s->ready_alloc) {
		size_t n = s->ready_alloc ? s->ready_alloc * 2 : 64;
		struct sti **q = xmalloc(n * sizeof(*q));
		for (size_t i = 0; i < s->ready_len; i++)
			q[i] = s->ready[(s->ready_head + i) % s->ready_alloc];
		free(s->ready);
		s->ready = q;
		s->ready_alloc = n;
		s->ready_head = 0;
	}
	s->ready[(s->ready_head + s->ready_len++) % s->ready_alloc] = ti;
	ti->in_ready = 1;
}

/*
 * An entry whose instance has in_ready clear is stale: a batch took that
 * instance without popping it (start_batch), so it is not ready because of
 * this entry, and popping it must not start it (a failed batch item would
 * skip its retry delay).
 */
static struct sti *ready_pop(struct sched *s)
{
	struct sti *ti;
	do {
		if (!s->ready_len)
			return NULL;
		ti = s->ready[s->ready_head];
		s->ready_head = (s->ready_head + 1) % s->ready_alloc;
		s->ready_len--;
	} while (!ti->in_ready);
	ti->in_ready = 0;
	return ti;
}

/* A run leaves memory: its entries (live or stale) leave the ring. */
static void ready_drop_run(struct sched *s, const struct srun *run)
{
	size_t w = 0;
	for (size_t i = 0; i < s->ready_len; i++) {
		struct sti *ti = s->ready[(s->ready_head + i) % s->ready_alloc];
		if (ti->task->run != run)
			s->ready[(s->ready_head + w++) % s->ready_alloc] = ti;
	}
	s->ready_len = w;
}

void sched_eval_push(struct sched *s, struct stask *t)
{
	if (t->in_evalq || t->decided || !t->active)
		return;
	ALLOC_GROW(s->evalq, s->nevalq + 1, s->evalq_alloc);
	s->evalq[s->nevalq++] = t;
	t->in_evalq = 1;
}

void sched_mark_dirty(struct sti *ti)
{
	struct sched *s = ti->task->run->s;
	if (ti->dirty)
		return;
	ti->dirty = 1;
	ALLOC_GROW(s->dirty, s->ndirty + 1, s->dirty_alloc);
	s->dirty[s->ndirty++] = ti;
}

/* ---- state changes: keep every count in step ---- */

static void count_upstream(struct upstream_counts *c, enum ti_state st, int delta)
{
	if (!ti_state_is_final(st))
		return;
	c->done += (size_t)delta;
	switch (st) {
	case TI_SUCCESS: c->success += (size_t)delta; break;
	case TI_FAILED: c->failed += (size_t)delta; break;
	case TI_UPSTREAM_FAILED: c->upstream_failed += (size_t)delta; break;
	case TI_SKIPPED: c->skipped += (size_t)delta; break;
	default: break;
	}
}

void sched_set_state(struct sti *ti, enum ti_state st, const char *reason)
{
	struct stask *t = ti->task;
	struct srun *run = t->run;
	enum ti_state old = ti->state;

	if (reason || st != old) {
		free(ti->reason);
		ti->reason = reason ? xstrdup(reason) : NULL;
	}
	sched_mark_dirty(ti);
	if (st == old)
		return;
	ti->gen++;
	if (st == TI_QUEUED) {
		/* cleared or stopped: it runs (or is looked up in the cache) afresh */
		ti->cached = 0;
		ti->cache_st = 0;
	}
	run->cnt[old]--;
	run->cnt[st]++;
	ti->state = st;
	if (st == TI_UP_FOR_RETRY && t->def->on_retry)
		sout_retry(ti);
	if (st == TI_FAILED)
		sout_task_failed(ti);
	if (ti_state_is_final(old) != ti_state_is_final(st) || ti_state_is_final(st)) {
		for (size_t i = 0; i < t->ndown; i++) {
			struct stask *d = &run->tasks[t->down[i]];
			count_upstream(&d->up, old, -1);
			count_upstream(&d->up, st, +1);
			sched_eval_push(run->s, d);
		}
	}
}

/* ---- trigger rules ---- */

static void decide_all(struct stask *t, enum ti_state st, const char *why)
{
	for (size_t i = 0; i < t->ninst; i++)
		if (!ti_state_is_final(t->inst[i].state))
			sched_set_state(&t->inst[i], st, why);
}

static void eval_task(struct sched *s, struct stask *t)
{
	struct srun *run = t->run;
	enum tr_verdict v;
	struct strbuf msg = STRBUF_INIT;

	t->in_evalq = 0;
	if (t->decided || !t->active || run->state != RUN_RUNNING || run->cancelling)
		return;
	v = sched_trigger_eval(t->def->trigger, &t->up);
	if (v == TR_WAIT)
		return;
	t->decided = 1;
	switch (v) {
	case TR_RUN:
		if (t->def->foreach && !t->expanded && srun_expand(t, &msg) < 0) {
			decide_all(t, TI_FAILED, msg.buf);
			break;
		}
		if (t->def->foreach && t->ninst == 1 && t->inst == &t->placeholder) {
			decide_all(t, TI_SKIPPED, "foreach matched no files");
			break;
		}
		for (size_t i = 0; i < t->ninst; i++)
			if (t->inst[i].state == TI_QUEUED)
				sched_ready_push(s, &t->inst[i]);
		break;
	case TR_SKIP:
		sb_addf(&msg, "trigger rule %s: upstream skipped or not met",
			trigger_rule_name(t->def->trigger));
		decide_all(t, TI_SKIPPED, msg.buf);
		break;
	case TR_UPSTREAM_FAILED:
		sb_addf(&msg, "trigger rule %s: an upstream task %s",
			trigger_rule_name(t->def->trigger),
			t->up.failed + t->up.upstream_failed ? "failed" : "was cancelled");
		decide_all(t, TI_UPSTREAM_FAILED, msg.buf);
		break;
	case TR_WAIT:
		break;
	}
	sb_release(&msg);
}

/* ---- starting a try ---- */

void sched_run_tmpl_ctx(struct srun *run, struct tmpl_ctx *ctx, int quote)
{
	*ctx = (struct tmpl_ctx){
		.dag = run->dag,
		.params = run->params,
		.vars = run->vars,
		.run_id = run->run_id,
		.run_dir = run->run_dir,
		.run_date = run->run_date,
		.data_dir = run->s->data_dir,
		.quote = quote,
	};
}

/*
 * A try is written when it starts and when it ends; both within one flush
 * (a short task) make one write: the end replaces the start.
 */
static void queue_try(struct sched *s, struct sti *ti, const struct store_try *t)
{
	struct pending_try *p;
	size_t last = ti->pending_try;

	if (last && last <= s->ntries && s->tries[last - 1].ti == ti &&
	    s->tries[last - 1].t.try_number == t->try_number) {
		p = &s->tries[last - 1];
		free(p->t.log_path);
		free(p->t.reason);
		if (p->metrics)
			sb_release(p->metrics);
		free(p->metrics);
	} else {
		ALLOC_GROW(s->tries, s->ntries + 1, s->tries_alloc);
		p = &s->tries[s->ntries++];
		ti->pending_try = s->ntries;
	}
	p->run = ti->task->run;
	p->ti = ti;
	p->t = *t;
	p->t.log_path = t->log_path ? xstrdup(t->log_path) : NULL;
	p->t.reason = t->reason ? xstrdup(t->reason) : NULL;
	p->metrics = NULL;
}

static void finish_failure(struct sched *s, struct sti *ti, const char *reason);

/* ops: where it runs (NULL: the task's executor) */
static void start_try(struct sched *s, struct sti *ti, const struct exec_ops *ops)
{
	struct strbuf cmd = STRBUF_INIT, err = STRBUF_INIT;
	char **envp = NULL, *workdir = NULL, *log_path;
	struct exec_spec spec;
	struct sproc *p = xcalloc(1, sizeof(*p));
	struct store_try t = { 0 };

	ti->try_number++;
	ti->started_at = time_now_ms();
	ti->ended_at = 0;
	ti->exit_code = -1;
	ti->kill = KILL_NONE;
	log_path = sched_try_log_path(ti);
	p->key = procs_try_key(s->id, ti->task->run->run_id, ti->task->def->id, ti->index,
			       ti->try_number);
	t.try_number = ti->try_number;
	t.started_at = ti->started_at;
	t.exit_code = -1;
	t.log_path = log_path;
	p->ti = ti;
	p->ops = ops ? ops : exec_ops_for(ti->task->run->dag, ti->task->def,
					  s->opts.cfg->flow_executor);
	p->started_mono = time_mono_ms();
	if (sched_try_prepare(ti, p->key, NULL, 0, &cmd, &envp, &workdir, &err) == 0) {
		spec = (struct exec_spec){ .cmd = cmd.buf, .envp = envp, .workdir = workdir,
					   .log_path = log_path };
		if (p->ops->start(s, p, &spec, &err) == 0) {
			s->spawned |= !p->ops->remote;
			sprov_start(p, cmd.buf, envp + s->nbase_env, workdir);
			ti->proc = p;
			t.pid = p->ep.pid;
			ALLOC_GROW(s->procs, s->nprocs + 1, s->procs_alloc);
			s->procs[s->nprocs++] = p;
			ti->task->running++;
			s->nremote += p->ops->remote;
			sched_set_state(ti, TI_RUNNING, NULL);
			queue_try(s, ti, &t);
			if (ti->task->def->timeout_ms > 0 && p->ops->times_from_start)
				sched_timer_add(s, ti, TM_TIMEOUT,
						p->started_mono + ti->task->def->timeout_ms);
			p = NULL;
		}
	}
	if (p) {
		/* It never started: a failed try, under the retry policy like any other. */
		free(p->key);
		free(p);
		ti->ended_at = time_now_ms();
		t.ended_at = ti->ended_at;
		t.reason = err.buf;
		queue_try(s, ti, &t);
		finish_failure(s, ti, err.buf);
	}
	free(log_path);
	free(workdir);
	sched_try_env_free(s, envp);
	sb_release(&cmd);
	sb_release(&err);
}

static int task_blocked(struct sti *ti)
{
	struct stask *t = ti->task;
	if (t->def->max_active > 0 && t->running >= (size_t)t->def->max_active) {
		ALLOC_GROW(t->blocked, t->nblocked + 1, t->blocked_alloc);
		t->blocked[t->nblocked++] = ti;
		return 1;
	}
	return 0;
}

static int cmp_sti_index(const void *a, const void *b)
{
	const struct sti *x = *(struct sti *const *)a, *y = *(struct sti *const *)b;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * A batch: `ti` and up to batch - 1 more ready instances of its task, in
 * one process.  Each instance still has its own try (sharing the batch's
 * log), so the UI and 'runs show' keep one row per item; the process counts
 * once for parallelism and max_active.
 */
static void start_batch(struct sched *s, struct sti *ti)
{
	struct stask *t = ti->task;
	size_t cap = (size_t)t->def->batch, n = 0;
	struct sti **m = xcalloc(cap, sizeof(*m));
	char **items = xcalloc(cap, sizeof(*items));
	struct strbuf cmd = STRBUF_INIT, err = STRBUF_INIT;
	char **envp = NULL, *workdir = NULL, *log_path;
	struct sproc *p = xcalloc(1, sizeof(*p));
	struct store_try tr = { 0 };
	int64_t now = time_now_ms();

	m[n++] = ti;
	for (size_t k = 0; k < t->ninst && n < cap; k++) {
		struct sti *o = &t->inst[k];
		if (o != ti && o->in_ready && (o->state == TI_QUEUED || o->state == TI_UP_FOR_RETRY) &&
		    (!t->def->cache || o->cache_st == SCACHE_MISSED))
			m[n++] = o;
	}
	/* $SF_ITEMS in item order; the first instance's log is the batch's */
	qsort(m, n, sizeof(*m), cmp_sti_index);
	for (size_t i = 0; i < n; i++) {
		m[i]->in_ready = 0; /* its entry in the ring is now stale (ready_pop) */
		m[i]->try_number++;
		m[i]->started_at = now;
		m[i]->ended_at = 0;
		m[i]->exit_code = -1;
		m[i]->kill = KILL_NONE;
		items[i] = t->items[m[i]->index];
	}
	ti = m[0];
	log_path = sched_try_log_path(ti);
	p->key = procs_try_key(s->id, t->run->run_id, t->def->id, ti->index, ti->try_number);
	tr = (struct store_try){ .started_at = now, .exit_code = -1, .log_path = log_path };
	p->ti = ti;
	p->ops = &exec_local_ops;
	if (exec_ops_for(t->run->dag, t->def, s->opts.cfg->flow_executor) != &exec_local_ops)
		sb_adds(&err, "'batch' is not supported by the slurm executor yet: remove 'batch' "
			      "or give the task 'executor: local'");
	else if (sched_try_prepare(ti, p->key, items, n, &cmd, &envp, &workdir, &err) == 0) {
		struct exec_spec spec = { .cmd = cmd.buf, .envp = envp, .workdir = workdir,
					  .log_path = log_path };
		if (p->ops->start(s, p, &spec, &err) == 0) {
			s->spawned = 1;
			/* provenance: one record per batch, on its first item */
			sprov_start(p, cmd.buf, envp + s->nbase_env, workdir);
			p->batch = m;
			p->nbatch = n;
			p->started_mono = time_mono_ms();
			tr.pid = p->ep.pid;
			ALLOC_GROW(s->procs, s->nprocs + 1, s->procs_alloc);
			s->procs[s->nprocs++] = p;
			t->running++;
			for (size_t i = 0; i < n; i++) {
				m[i]->proc = p;
				tr.try_number = m[i]->try_number;
				sched_set_state(m[i], TI_RUNNING, NULL);
				queue_try(s, m[i], &tr);
			}
			if (t->def->timeout_ms > 0)
				sched_timer_add(s, ti, TM_TIMEOUT, p->started_mono + t->def->timeout_ms);
			p = NULL;
			m = NULL;
		}
	}
	if (p) {
		free(p->key);
		free(p);
		tr.ended_at = time_now_ms();
		tr.reason = err.buf;
		for (size_t i = 0; i < n; i++) {
			m[i]->ended_at = tr.ended_at;
			tr.try_number = m[i]->try_number;
			queue_try(s, m[i], &tr);
			finish_failure(s, m[i], err.buf);
		}
	}
	free(m);
	free(items);
	free(log_path);
	free(workdir);
	sched_try_env_free(s, envp);
	sb_release(&cmd);
	sb_release(&err);
}

static void start_one(struct sched *s, struct sti *ti)
{
	if (ti->task->def->batch && ti->index >= 0 && ti->task->items)
		start_batch(s, ti);
	else
		start_try(s, ti, NULL);
}

/*
 * No room left here: ready instances that another serve of the store could
 * run are offered to them (exec-peer.c), as many as they could take.  An
 * instance that may not be offered (gpus, container, ...) goes back to the
 * ring; a long row of them ends the pass, to start locally later.
 */
/* The next ready instance that may start (its run goes on), or NULL. */
static struct sti *pop_startable(struct sched *s)
{
	struct sti *ti;

	while ((ti = ready_pop(s)))
		if ((ti->state == TI_QUEUED || ti->state == TI_UP_FOR_RETRY) &&
		    ti->task->run->state == RUN_RUNNING && !ti->task->run->cancelling)
			return ti;
	return NULL;
}

static void offer_ready(struct sched *s)
{
	struct sti *ti;
	int skipped = 0;

	for (size_t n = s->ready_len; n-- && skipped < 64 && exec_peer_offer_room(s);) {
		if (!(ti = pop_startable(s)))
			return;
		if (!exec_peer_may_offer(s, ti)) {
			sched_ready_push(s, ti);
			skipped++;
			continue;
		}
		skipped = 0;
		if (scache_take(s, ti) || task_blocked(ti))
			continue;
		start_try(s, ti, &exec_peer_ops);
	}
}

/* Local tries take cpus (flow.parallelism) and gpus: those that wait for them go first. */
static void start_ready(struct sched *s)
{
	struct sti *ti;
	size_t cursor = 0;

	exec_pool_pass(s);
	while (!s->stopping && sched_lease_fresh(s) && (ti = exec_pool_next_waiting(s, &cursor)))
		if (!task_blocked(ti))
			start_one(s, ti);
	while (exec_pool_room(s) && !s->stopping && sched_lease_fresh(s)) {
		if (!(ti = pop_startable(s)))
			return;
		if (scache_take(s, ti))
			continue;
		if (task_blocked(ti) || !exec_pool_admit(s, ti))
			continue;
		start_one(s, ti);
	}
	if (s->ready_len && s->epoch && s->live_leases >= 2)
		offer_ready(s);
}

/* ---- a try ends ---- */

/*
 * The retry delay counts from the try's recorded end (ended_at, wall
 * clock), and the timer that wakes us is only a hint: fire_timers starts
 * the retry once the wall clock has reached next_try_at, so the recorded
 * started_at of the next try is never less than ended_at + delay.  (It was
 * counted from a later reading of the monotonic clock, truncated to whole
 * milliseconds like the recorded times: the two truncations could put a
 * retry 9 ms after a recorded end with a 10 ms delay.)
 */
static void finish_failure(struct sched *s, struct sti *ti, const char *reason)
{
	if (ti->try_number < ti->max_tries) {
		int64_t delay = sched_retry_delay_ms(ti->task->def->retry_delay_ms, ti->try_number + 1);
		ti->next_try_at = ti->ended_at + delay;
		sched_set_state(ti, TI_UP_FOR_RETRY, reason);
		sched_timer_add(s, ti, TM_RETRY, time_mono_ms() + delay);
	} else {
		sched_set_state(ti, TI_FAILED, reason);
	}
}

static void unblock(struct sched *s, struct stask *t)
{
	if (t->blocked_head == t->nblocked)
		return;
	sched_ready_push(s, t->blocked[t->blocked_head++]);
	/* Emptied: start over, so the array never grows past the longest wait. */
	if (t->blocked_head == t->nblocked)
		t->blocked_head = t->nblocked = 0;
}

static void describe_end(struct sti *ti, int status, struct strbuf *why)
{
	const struct exec_proc *ep = &ti->proc->ep;
	const char *said = ti->proc->why;
	char dur[32];

	switch (ti->kill) {
	case KILL_TIMEOUT:
		if (ti->task->def->timeout_ms % 1000)
			snprintf(dur, sizeof(dur), "%lldms", (long long)ti->task->def->timeout_ms);
		else
			snprintf(dur, sizeof(dur), "%llds", (long long)ti->task->def->timeout_ms / 1000);
		sb_addf(why, "timed out after %s", dur);
		break;
	case KILL_CANCEL: sb_adds(why, "cancelled"); break;
	case KILL_CLEAR: sb_adds(why, "cleared while running"); break;
	case KILL_STOP: sb_adds(why, "the scheduler stopped while it ran"); break;
	case KILL_PREEMPT: sb_addf(why, "%s; tried again", said ? said : "preempted"); break;
	case KILL_LOST:
		sb_adds(why, "lost: the scheduler following it stopped and its job is gone");
		break;
	case KILL_LEASE:
		sb_adds(why, "the scheduler could not renew its lease; tried again");
		break;
	case KILL_RUNNER:
		sb_addf(why, "%s; tried again", said ? said : "lost: the serve running it stopped");
		break;
	case KILL_NONE:
		if (said)
			sb_adds(why, said);
		else if (WIFSIGNALED(status))
			sb_addf(why, "killed by signal %d (%s)", WTERMSIG(status),
				strsignal(WTERMSIG(status)));
		else if (WEXITSTATUS(status))
			sb_addf(why, "exit code %d", WEXITSTATUS(status));
		break;
	}
	if (ep->truncated)
		sb_addf(why, "%slog truncated at %llu bytes", why->len ? "; " : "",
			(unsigned long long)ep->log_max);
	if (ep->log_errno)
		sb_addf(why, "%swriting the log failed: %s", why->len ? "; " : "",
			strerror(ep->log_errno));
}

/* The state an instance takes when its try ended; `why` may be "" (no reason). */
static void settle(struct sched *s, struct sti *ti, enum kill_why kill_why, int ok, const char *why)
{
	switch (kill_why) {
	case KILL_CANCEL:
		sched_set_state(ti, TI_CANCELLED, why);
		break;
	case KILL_CLEAR:
	case KILL_STOP:
	case KILL_PREEMPT:
	case KILL_LOST:
	case KILL_LEASE:
	case KILL_RUNNER:
		/* Not the task's failure: the try does not count against its retries. */
		ti->max_tries++;
		sched_set_state(ti, TI_QUEUED, why);
		if (kill_why != KILL_STOP && ti->task->decided)
			sched_ready_push(s, ti);
		break;
	default:
		if (ok)
			sched_set_state(ti, TI_SUCCESS, *why ? why : NULL);
		else
			finish_failure(s, ti, why);
	}
}

/*
 * A batch's $SF_RESULTS: "INDEX<TAB>ok" or "INDEX<TAB>failed[<TAB>reason]"
 * per line.  out[i] becomes 1 (ok) or 2 (failed, reason in why[i]); lines
 * that do not parse are noted in the log.
 */
static void read_results(struct sti *lead, struct exec_proc *ep, size_t n, int *out, char **why)
{
	char *path = sched_batch_path(lead, "results");
	struct strbuf sb = STRBUF_INIT;
	size_t bad = 0, line = 0, first = 0;

	sb.max = STORE_METRICS_MAX_BYTES;
	if (sb_read_file(&sb, path) < 0 && errno != ENOENT)
		exec_log_note(ep, "cannot read $SF_RESULTS '%s': %s", path, strerror(errno));
	for (char *p = sb.buf, *end = sb.buf + sb.len; p < end; line++) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *tab, *num_end;
		unsigned long idx;

		if (nl)
			*nl = '\0';
		errno = 0;
		idx = strtoul(p, &num_end, 10);
		tab = num_end;
		if (num_end == p || *tab != '\t' || errno || idx >= n) {
			if (*p && !bad++)
				first = line + 1;
		} else if (!strcmp(tab + 1, "ok")) {
			out[idx] = 1;
		} else if (!strncmp(tab + 1, "failed", 6) && (!tab[7] || tab[7] == '\t')) {
			out[idx] = 2;
			free(why[idx]);
			why[idx] = tab[7] ? xstrdup(tab + 8) : NULL;
		} else if (!bad++) {
			first = line + 1;
		}
		p = nl ? nl + 1 : end;
	}
	if (bad)
		exec_log_note(ep, "$SF_RESULTS: %zu line(s) are not 'INDEX<TAB>ok|failed[<TAB>reason]' "
			      "with INDEX under %zu, and are ignored (the first is line %zu)",
			      bad, n, first);
	sb_release(&sb);
	free(path);
}

/* The batch's metrics lines, each to the instance its "item" names (else the first). */
static void split_metrics(struct sproc *p, struct strbuf *all, struct strbuf **per)
{
	char *const *items = p->ti->task->items;

	for (const char *l = all->buf, *end = all->buf + all->len; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t len = nl ? (size_t)(nl - l) : (size_t)(end - l), to = 0;
		json_t *o = json_loadb(l, len, 0, NULL);
		const char *item = json_string_value(json_object_get(o, "item"));

		for (size_t i = 0; item && i < p->nbatch; i++)
			if (!strcmp(items[p->batch[i]->index], item)) {
				to = i;
				break;
			}
		json_decref(o);
		if (!per[to]) {
			per[to] = xcalloc(1, sizeof(*per[to]));
			sb_init(per[to], 0);
		}
		sb_add(per[to], l, len);
		sb_addch(per[to], '\n');
		l = nl ? nl + 1 : end;
	}
	sb_release(all);
	free(all);
}

static void finish_batch(struct sched *s, struct sproc *p, int status)
{
	struct sti *lead = p->ti;
	size_t n = p->nbatch;
	int *res = xcalloc(n, sizeof(*res));
	char **res_why = xcalloc(n, sizeof(*res_why)), *log_path = sched_try_log_path(lead);
	struct strbuf why = STRBUF_INIT, **metrics = xcalloc(n, sizeof(*metrics)), *all;
	enum kill_why kill_why = KILL_NONE;
	int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	int64_t now = time_now_ms();

	int left = 0;

	for (size_t i = 0; i < n && kill_why == KILL_NONE; i++)
		kill_why = p->batch[i]->kill;
	left = p->ops->reap(p, kill_why != KILL_NONE);
	exec_finish(&p->ep);
	lead->kill = kill_why;
	lead->exit_code = exit_code;
	lead->ended_at = now;
	if (kill_why != KILL_NONE) {
		describe_end(lead, status, &why);
		if (left)
			sb_addf(&why, "; %d process(es) of it could not be killed", left);
		exec_log_note(&p->ep, "%s", why.buf);
		sb_reset(&why);
	}
	describe_end(lead, status, &why);
	if ((all = sched_try_read_metrics(lead, &p->ep)))
		split_metrics(p, all, metrics);
	read_results(lead, &p->ep, n, res, res_why);
	p->ops->release(p);
	sprov_finish(s, p);
	lead->task->running--;
	unblock(s, lead->task);
	for (size_t i = 0; i < n; i++) {
		struct sti *ti = p->batch[i];
		struct strbuf r = STRBUF_INIT;
		struct store_try t;

		/* an item reported ok before its batch ended badly keeps its success */
		if (kill_why != KILL_NONE && !(res[i] == 1 && kill_why == KILL_TIMEOUT))
			sb_adds(&r, why.buf);
		else if (res[i] == 2)
			sb_addf(&r, "failed in its batch%s%s", res_why[i] ? ": " : "",
				res_why[i] ? res_why[i] : "");
		else if (!res[i])
			sb_addf(&r, "its batch ended without reporting it (%s)",
				why.len ? why.buf : "exit code 0");
		ti->exit_code = exit_code;
		ti->ended_at = now;
		t = (struct store_try){ .try_number = ti->try_number, .started_at = ti->started_at,
					.ended_at = now, .exit_code = exit_code, .log_path = log_path,
					.pid = p->ep.pid, .pid_start = p->start_time,
					.reason = r.len ? r.buf : NULL };
		queue_try(s, ti, &t);
		s->tries[ti->pending_try - 1].metrics = metrics[i];
		ti->proc = NULL;
		ti->kill = KILL_NONE;
		settle(s, ti, kill_why, res[i] == 1, r.buf);
		scache_succeeded(s, ti);
		sb_release(&r);
		free(res_why[i]);
	}
	free(res);
	free(res_why);
	free(metrics);
	free(log_path);
	sb_release(&why);
	free(p->batch);
	free(p->key);
	free(p->why);
	free(p);
}

static void finish_try(struct sched *s, struct sproc *p, int status)
{
	struct sti *ti = p->ti;
	struct strbuf why = STRBUF_INIT;
	struct store_try t = { 0 };
	char *log_path = sched_try_log_path(ti);
	enum kill_why kill_why = ti->kill;
	struct strbuf *metrics;
	int left = 0, skip;

	/*
	 * A try that was stopped ends only once every process of it is gone,
	 * also those that left its process group (setsid, double fork).
	 */
	left = p->ops->reap(p, kill_why != KILL_NONE);
	ti->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ti->ended_at = p->ended_at ? p->ended_at : time_now_ms();
	exec_finish(&p->ep); /* its last output, before the reason is known */
	metrics = sched_try_read_metrics(ti, &p->ep);
	if (kill_why != KILL_NONE) {
		describe_end(ti, status, &why);
		if (left)
			sb_addf(&why, "; %d process(es) of it could not be killed", left);
		exec_log_note(&p->ep, "%s", why.buf);
		sb_reset(&why);
	}
	describe_end(ti, status, &why);
	/* an exit the executor explains (a Slurm node failure) is never the task's own skip */
	skip = kill_why == KILL_NONE && WIFEXITED(status) && !p->why &&
	       ti->task->def->skip_exit_code > 0 && ti->exit_code == ti->task->def->skip_exit_code;
	p->ops->release(p);
	sprov_finish(s, p);
	free(p->why);
	t = (struct store_try){ .try_number = ti->try_number, .started_at = ti->started_at,
				.ended_at = ti->ended_at, .exit_code = ti->exit_code,
				.log_path = log_path, .pid = p->ep.pid,
				.pid_start = p->start_time, .reason = why.len ? why.buf : NULL };
	queue_try(s, ti, &t);
	s->tries[ti->pending_try - 1].metrics = metrics;
	ti->proc = NULL;
	ti->kill = KILL_NONE;
	ti->task->running--;
	s->nremote -= p->ops->remote;
	unblock(s, ti->task);
	if (skip)
		/* the task said it has nothing to do: no retry, its downstream decides */
		sched_set_state(ti, TI_SKIPPED, "exited with its skip_exit_code");
	else
		settle(s, ti, kill_why, ti->exit_code == 0 && kill_why == KILL_NONE, why.buf);
	scache_succeeded(s, ti);
	free(log_path);
	sb_release(&why);
	free(p->key);
	free(p);
}

static void reap(struct sched *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < s->nprocs; i++) {
			if (s->procs[i]->ep.pid != pid)
				continue;
			struct sproc *p = s->procs[i];
			s->procs[i] = s->procs[--s->nprocs];
			if (p->batch)
				finish_batch(s, p, status);
			else
				finish_try(s, p, status);
			pid = 0;
			break;
		}
		if (pid > 0 && !exec_peer_reaped(s, pid, status))
			sout_reaped(s, pid, status);
	}
}

void sched_try_ended(struct sched *s, struct sproc *p, int status)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i] == p) {
			s->procs[i] = s->procs[--s->nprocs];
			finish_try(s, p, status);
			return;
		}
	}
}

/* serve stops and the executor keeps the try running for the next serve to follow. */
static int detach(struct sched *s, struct sproc *p)
{
	if (!p->ops->detach || !p->ops->detach(s, p))
		return 0;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i] == p)
			s->procs[i] = s->procs[--s->nprocs];
	p->ti->proc = NULL;
	p->ti->task->running--;
	s->nremote -= p->ops->remote;
	p->ops->release(p);
	sprov_drop(p);
	free(p->key);
	free(p->why);
	free(p);
	return 1;
}

void sched_kill(struct sched *s, struct sti *ti, enum kill_why why)
{
	if (!ti->proc || ti->kill != KILL_NONE)
		return;
	if (why == KILL_STOP && detach(s, ti->proc))
		return;
	ti->kill = why;
	ti->proc->ops->kill(s, ti->proc, 0);
	sched_timer_add(s, ti, TM_KILL, time_mono_ms() + KILL_GRACE_MS);
}

int sched_reattach(struct sti *ti, const struct store_try *last)
{
	struct sched *s = ti->task->run->s;
	struct sproc *p = xcalloc(1, sizeof(*p));
	struct strbuf why = STRBUF_INIT;

	p->ti = ti;
	p->ops = exec_ops_for(ti->task->run->dag, ti->task->def, s->opts.cfg->flow_executor);
	p->started_mono = time_mono_ms();
	/* offered to the other serves: followed through its offer (exec-peer.c) */
	if (exec_peer_reattach(ti, p, last) == 0) {
		/* p->ops is now the peer executor */
	} else if (!p->ops->reattach || p->ops->reattach(s, p, last, &why) < 0) {
		sb_release(&why);
		free(p);
		return -1;
	}
	sb_release(&why);
	ti->proc = p;
	ti->task->running++;
	s->nremote += p->ops->remote;
	ALLOC_GROW(s->procs, s->nprocs + 1, s->procs_alloc);
	s->procs[s->nprocs++] = p;
	return 0;
}

/* A retry's timer fired: due by the recorded clock (see finish_failure)? */
static void retry_due(struct sched *s, struct sti *ti)
{
	int64_t now = time_now_ms(), wait = ti->next_try_at - now;

	if (wait <= 0) {
		sched_ready_push(s, ti);
		return;
	}
	/* A wall clock set back past the try's end: the delay counts from now. */
	if (now < ti->ended_at) {
		wait = sched_retry_delay_ms(ti->task->def->retry_delay_ms, ti->try_number + 1);
		ti->next_try_at = now + wait;
	}
	sched_timer_add(s, ti, TM_RETRY, time_mono_ms() + wait);
}

static void fire_timers(struct sched *s)
{
	int64_t now = time_mono_ms();

	while (s->ntimers && s->timers[0].when <= now) {
		struct timer t = heap_pop(s);
		struct sti *ti = t.ti;
		if (t.gen != ti->gen)
			continue;
		switch (t.kind) {
		case TM_RETRY:
			if (ti->state == TI_UP_FOR_RETRY)
				retry_due(s, ti);
			break;
		case TM_TIMEOUT:
			if (ti->state == TI_RUNNING)
				sched_kill(s, ti, KILL_TIMEOUT);
			break;
		case TM_KILL:
			if (ti->proc)
				ti->proc->ops->kill(s, ti->proc, 1);
			break;
		}
	}
}

/* ---- runs ---- */

static int leaves_ok(struct srun *run)
{
	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		if (!t->active || t->ndown)
			continue;
		for (size_t j = 0; j < t->ninst; j++)
			if (t->inst[j].state != TI_SUCCESS && t->inst[j].state != TI_SKIPPED)
				return 0;
	}
	return 1;
}

/*
 * The end state of a run that was not cancelled as a whole follows from its
 * instances (also after a cancel and then a clear): success when every leaf
 * succeeded or was skipped; else failed, naming the first failed instance;
 * else cancelled, naming the first cancelled one.  Never failed without why.
 */
static void settle_run(struct srun *run)
{
	const struct sti *failed = NULL, *cancelled = NULL, *other = NULL;
	const struct sti *pick;
	struct strbuf why = STRBUF_INIT;

	if (leaves_ok(run)) {
		run->state = RUN_SUCCESS;
		return;
	}
	for (size_t i = 0; i < run->ntasks; i++) {
		const struct stask *t = &run->tasks[i];
		for (size_t j = 0; t->active && j < t->ninst; j++) {
			const struct sti *ti = &t->inst[j];
			if (!failed && (ti->state == TI_FAILED || ti->state == TI_UPSTREAM_FAILED))
				failed = ti;
			else if (!cancelled && ti->state == TI_CANCELLED)
				cancelled = ti;
			else if (!other && ti->state != TI_SUCCESS && ti->state != TI_SKIPPED)
				other = ti;
		}
	}
	pick = failed ? failed : cancelled ? cancelled : other;
	run->state = !failed && cancelled ? RUN_CANCELLED : RUN_FAILED;
	if (pick) {
		sb_addf(&why, "task '%s'", pick->task->def->id);
		if (pick->index >= 0)
			sb_addf(&why, " [%d]", pick->index);
		sb_addf(&why, " %s", ti_state_name(pick->state));
		if (pick->reason)
			sb_addf(&why, ": %s", pick->reason);
	} else {
		sb_adds(&why, "a task did not succeed");
	}
	free(run->reason);
	run->reason = sb_detach(&why, NULL);
}

/* Ends the runs with nothing left to do; returns how many. */
static int finish_runs(struct sched *s)
{
	int ended = 0;

	for (size_t i = 0; i < s->nruns; i++) {
		struct srun *run = s->runs[i];
		if (run->state != RUN_RUNNING)
			continue;
		if (run->cnt[TI_QUEUED] + run->cnt[TI_RUNNING] + run->cnt[TI_UP_FOR_RETRY])
			continue;
		if (run->cache_pending || sprov_run_wait(s, run))
			continue;
		if (run->cancelling)
			run->state = RUN_CANCELLED;
		else
			settle_run(run);
		run->ended_at = time_now_ms();
		run->dirty = 1;
		sout_run_ended(run);
		ended++;
		if (s->opts.serve)
			fprintf(stderr, "synthflow serve: run %s of '%s' ended: %s\n", run->run_id,
				run->dag->id, run_state_name(run->state));
	}
	return ended;
}

/*
 * Queued runs start when their DAG's max_active_runs allows.  Looked at only
 * when runs came or went: many queued runs must not cost every iteration.
 */
static void start_runs(struct sched *s)
{
	if (!s->runs_changed)
		return;
	s->runs_changed = 0;
	for (size_t i = 0; i < s->nruns; i++) {
		struct srun *run = s->runs[i];
		size_t active = 0;
		if (run->state != RUN_QUEUED)
			continue;
		for (size_t j = 0; j < s->nruns; j++)
			if (s->runs[j]->state == RUN_RUNNING && !strcmp(s->runs[j]->dag->id, run->dag->id))
				active++;
		if (run->dag->max_active_runs > 0 && active >= (size_t)run->dag->max_active_runs)
			continue;
		if (mkdir_p(run->run_dir, 0755) < 0) {
			srun_fail(run, xasprintf("cannot create the run folder '%s': %s", run->run_dir,
						 strerror(errno)));
			continue;
		}
		run->state = RUN_RUNNING;
		if (!run->started_at) {
			run->started_at = time_now_ms();
			sout_run_started(run);
		}
		run->dirty = 1;
		if (s->opts.serve)
			fprintf(stderr, "synthflow serve: run %s of '%s' running\n", run->run_id,
				run->dag->id);
		for (size_t t = 0; t < run->ntasks; t++)
			sched_eval_push(s, &run->tasks[t]);
		/* Instances that were waiting for a retry when an earlier scheduler stopped. */
		for (size_t t = 0; t < run->ntasks; t++)
			for (size_t k = 0; k < run->tasks[t].ninst; k++) {
				struct sti *ti = &run->tasks[t].inst[k];
				if (ti->state == TI_UP_FOR_RETRY) {
					int64_t wait = ti->next_try_at - time_now_ms();
					sched_timer_add(s, ti, TM_RETRY, time_mono_ms() + (wait > 0 ? wait : 0));
				} else if (ti->state == TI_QUEUED && run->tasks[t].decided) {
					sched_ready_push(s, ti);
				}
			}
	}
}

/* Finished runs leave memory once written; their timers go with them. */
static void drop_finished(struct sched *s)
{
	size_t w = 0;
	for (size_t i = 0; i < s->nruns; i++) {
		struct srun *run = s->runs[i];
		if (run_state_is_final(run->state) && !run->dirty && !s->ndirty && !s->nprovs &&
		    !s->noutq) {
			timers_drop_run(s, run);
			ready_drop_run(s, run);
			exec_pool_forget_run(s, run);
			srun_free(run);
			continue;
		}
		s->runs[w++] = run;
	}
	s->nruns = w;
}

static void progress(struct sched *s, int force)
{
	int64_t now = time_mono_ms();
	struct sched_progress p = { 0 };

	if (!s->opts.progress || !s->nruns || (!force && now - s->last_progress < PROGRESS_MS))
		return;
	s->last_progress = now;
	for (size_t i = 0; i < s->nruns; i++) {
		struct srun *run = s->runs[i];
		p.run_id = run->run_id;
		p.total += run->ninst;
		p.running += run->cnt[TI_RUNNING];
		p.failed += run->cnt[TI_FAILED] + run->cnt[TI_UPSTREAM_FAILED];
		p.done += run->cnt[TI_SUCCESS] + run->cnt[TI_FAILED] + run->cnt[TI_UPSTREAM_FAILED] +
			  run->cnt[TI_SKIPPED] + run->cnt[TI_CANCELLED];
	}
	s->opts.progress(&p, s->opts.progress_arg);
}

/* ---- setup ---- */

static int install_signals(void)
{
	struct sigaction sa;

	if (wake_fd[0] < 0 && pipe2(wake_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_errno("cannot create the scheduler's wakeup pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		return error_errno("cannot install the SIGCHLD handler");
	/* A task closing its pipe must not kill the scheduler. */
	signal(SIGPIPE, SIG_IGN);
	/* Orphaned descendants of tasks become ours to reap (local_reap, exec-local.c). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

/*
 * The pid a serve wrote into its lock, or 0 when it holds none yet (it is
 * about to write it) or the file cannot be read.
 */
static pid_t lock_writer(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return pid > 0 && pid <= INT_MAX && (*end == '\n' || !*end) ? (pid_t)pid : 0;
}

/*
 * Only one `serve` per data folder: two would fight over the same runs.
 *
 * The kernel drops the lock when the last descriptor of it closes, and a
 * serve's own is not always the last: a task it was starting holds a copy
 * from posix_spawn's clone until its exec closes it (O_CLOEXEC).  So a serve
 * killed at that moment leaves its lock held for a few milliseconds after it
 * is gone, and the next serve started at once (a restart after kill -9)
 * found it taken.  While the serve named in the lock is gone, the lock is
 * tried again for a while; a serve that runs is refused at once.
 */
#define LOCK_WAIT_MS 5000

static int lock_serve(struct sched *s)
{
	char *path = xasprintf("%s/flow/serve.lock", s->data_dir);
	int64_t deadline = time_mono_ms() + LOCK_WAIT_MS;
	char pid[32];
	pid_t other;
	int n, gone;

	mkdir_p(s->data_dir, 0755);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		error_errno("cannot open '%s'", path);
		free(path);
		return -1;
	}
	while (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		if (err == EINTR)
			continue;
		other = lock_writer(s->lock_fd);
		gone = other && !exec_proc_running(other);
		if (err == EWOULDBLOCK && (gone || !other) && time_mono_ms() < deadline) {
			poll(NULL, 0, 10);
			continue;
		}
		if (err != EWOULDBLOCK)
			error("cannot lock '%s': %s", path, strerror(err));
		else if (gone)
			error("another process holds '%s', though the 'synthflow serve' that took it "
			      "(pid %d) is gone: a process it started may still have it open",
			      path, (int)other);
		else if (other)
			error("another 'synthflow serve' is running for '%s' (pid %d)", s->data_dir,
			      (int)other);
		else
			error("another 'synthflow serve' is running for '%s'", s->data_dir);
		free(path);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(s->lock_fd, 0) < 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) < 0)
		warning("cannot write '%s': %s", path, strerror(errno));
	free(path);
	return 0;
}

struct sched *sched_new(const struct sched_opts *opts)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	uint64_t start = 0;
	size_t env_alloc = 0;

	s->opts = *opts;
	s->lock_fd = -1;
	s->wd_fd = -1;
	s->id = xasprintf("%d-%lld", (int)getpid(), (long long)time_now_ms());
	atomic_store(&s->last_tick_ms, time_mono_ms());
	s->data_dir = xstrdup(opts->cfg->data_dir);
	s->parallelism = config_parallelism(opts->cfg);
	s->delivery_timeout_ms = opts->cfg->flow_delivery_timeout_ms;
	s->out_check = 1;
	if (s->parallelism < 1)
		s->parallelism = 1;
	exec_proc_start_time(getpid(), &start);
	/* ":test": a run whose `test` died is ended by the next command, not adopted (sched.h). */
	/* "@NS": our pid namespace, so a serve in a workspace container never judges a host pid dead. */
	snprintf(s->owner, sizeof(s->owner), "%d:%llu@%llu%s", (int)getpid(), (unsigned long long)start,
		 owner_pidns(), opts->serve ? "" : ":test");
	/* Tasks get their own SF_* variables, never the scheduler's. */
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "SF_", 3)) {
			ALLOC_GROW(s->base_env, s->nbase_env + 1, env_alloc);
			s->base_env[s->nbase_env++] = xstrdup(*e);
		}
	if (install_signals() < 0) {
		sched_free(s);
		return NULL;
	}
	s->wake_write_fd = wake_fd[1];
	s->store = store_open(opts->cfg->flow_store, s->data_dir);
	/* SQLite: one serve per data folder.  A shared store takes several (leases). */
	if (!s->store || (opts->serve && !store_shared(s->store) && lock_serve(s) < 0) ||
	    (opts->serve && sched_lease_take(s) < 0)) {
		sched_free(s);
		return NULL;
	}
	store_changed_elsewhere(s->store);
	if (opts->serve)
		exec_pool_publish(s);
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nruns; i++)
		srun_free(s->runs[i]);
	free(s->runs);
	for (size_t i = 0; i < s->nprocs; i++) {
		s->procs[i]->ops->release(s->procs[i]);
		sprov_drop(s->procs[i]);
		free(s->procs[i]->key);
		free(s->procs[i]->batch);
		free(s->procs[i]->why);
		free(s->procs[i]);
	}
	sprov_free(s);
	sout_free(s);
	/* What tries left running (daemons, setsid) ends with test and serve. */
	if (s->spawned)
		procs_kill_sched(s->id, KILL_CONFIRM_MS);
	free(s->id);
	free(s->procs);
	for (size_t i = 0; i < exec_nbackends; i++)
		if (exec_backends[i]->shutdown)
			exec_backends[i]->shutdown(s);
	free(s->ready);
	free(s->evalq);
	free(s->timers);
	free(s->dirty);
	for (size_t i = 0; i < s->ntries; i++) {
		free(s->tries[i].t.log_path);
		free(s->tries[i].t.reason);
		if (s->tries[i].metrics)
			sb_release(s->tries[i].metrics);
		free(s->tries[i].metrics);
	}
	free(s->tries);
	free(s->pfds);
	for (size_t i = 0; i < s->nbase_env; i++)
		free(s->base_env[i]);
	free(s->base_env);
	if (s->store)
		sched_lease_drop(s);
	store_close(s->store);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->data_dir);
	free(s);
}

/* ---- the loop ---- */

static void handle_stop(struct sched *s)
{
	s->stopping = 1;
	for (size_t i = 0; i < s->nruns; i++) {
		struct srun *run = s->runs[i];
		if (!s->opts.serve) {
			srun_cancel(run);
			continue;
		}
		/* serve: the tasks stop, the runs stay with the next scheduler. */
		for (size_t t = 0; t < run->ntasks; t++)
			for (size_t k = 0; k < run->tasks[t].ninst; k++)
				sched_kill(s, &run->tasks[t].inst[k], KILL_STOP);
	}
}

static int poll_timeout(struct sched *s)
{
	int64_t now = time_mono_ms(), wait = -1;

	if (s->ntimers)
		wait = s->timers[0].when - now;
	if (s->opts.serve || s->nruns) {
		int64_t w = s->next_poll - now;
		if (wait < 0 || w < wait)
			wait = w;
	}
	{
		int64_t w = sout_wait_ms(s);
		if (w >= 0 && (wait < 0 || w < wait))
			wait = w;
	}
	if (s->ndirty || s->ntries || s->nprovs || s->noutq) {
		int64_t w = s->flush_failed ? s->flush_tried_at + FLUSH_RETRY_MS - now
					    : s->last_flush + FLUSH_MS - now;
		if (wait < 0 || w < wait)
			wait = w;
	}
	if (s->epoch && (wait < 0 || s->next_beat - now < wait))
		wait = s->next_beat - now;
	if (s->opts.progress && s->nprocs) {
		int64_t w = s->last_progress + PROGRESS_MS - now;
		if (wait < 0 || w < wait)
			wait = w;
	}
	for (size_t i = 0; i < exec_nbackends; i++) {
		int64_t w = exec_backends[i]->wait_ms ? exec_backends[i]->wait_ms(s) : -1;
		if (w >= 0 && (wait < 0 || w < wait))
			wait = w;
	}
	if (wait < 0 && (s->ntimers || s->opts.serve || s->nruns))
		wait = 0;
	return wait > 60000 ? 60000 : (int)wait;
}

static void wait_events(struct sched *s)
{
	size_t n = 0;
	char buf[256];
	int store_fd = store_changes_fd(s->store);

	size_t peer_at;

	ALLOC_GROW(s->pfds, s->nprocs + exec_peer_jobs(s) + 2, s->pfds_alloc);
	s->pfds[n++] = (struct pollfd){ .fd = wake_fd[0], .events = POLLIN };
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i]->ep.out_fd >= 0)
			s->pfds[n++] = (struct pollfd){ .fd = s->procs[i]->ep.out_fd, .events = POLLIN };
	peer_at = n;
	n += exec_peer_pollfds(s, s->pfds + n);
	/* PostgreSQL: another process's commit wakes us (the poll reads it at once). */
	if (store_fd >= 0)
		s->pfds[n++] = (struct pollfd){ .fd = store_fd, .events = POLLIN };
	if (poll(s->pfds, n, poll_timeout(s)) <= 0)
		return;
	if (store_fd >= 0 && s->pfds[n - 1].revents)
		s->next_poll = 0;
	/* A short read emptied the pipe: no second read to learn it. */
	if (s->pfds[0].revents)
		while (read(wake_fd[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf))
			;
	for (size_t i = 0, k = 1; i < s->nprocs; i++) {
		struct exec_proc *ep = &s->procs[i]->ep;
		if (ep->out_fd < 0)
			continue;
		if (s->pfds[k++].revents && exec_drain(ep)) {
			/*
			 * Not while the executor holds the write end (exec.h); kept
			 * so that a closed pipe can never make poll spin.
			 */
			close(ep->out_fd);
			ep->out_fd = -1;
		}
	}
	exec_peer_drain(s, s->pfds + peer_at);
}

static int flush_due(struct sched *s)
{
	if (s->flush_failed)
		return time_mono_ms() - s->flush_tried_at >= FLUSH_RETRY_MS;
	if (s->stopping || !s->nprocs || time_mono_ms() - s->last_flush >= FLUSH_MS)
		return 1;
	for (size_t i = 0; i < s->nruns; i++)
		if (s->runs[i]->dirty && run_state_is_final(s->runs[i]->state))
			return 1;
	return 0;
}

static size_t active_runs(struct sched *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nruns; i++)
		if (!run_state_is_final(s->runs[i]->state))
			n++;
	return n;
}

int sched_run(struct sched *s)
{
	for (;;) {
		int64_t busy_from = sched_loop_begin();
		int ended;
		sched_lease_check(s);
		reap(s);
		if (s->stop && !s->stopping)
			handle_stop(s);
		fire_timers(s);
		for (size_t i = 0; i < exec_nbackends; i++)
			if (exec_backends[i]->tick)
				exec_backends[i]->tick(s);
		sched_lease_tick(s);
		if (atomic_exchange(&s->look_now, 0) || time_mono_ms() >= s->next_poll) {
			s->next_poll = time_mono_ms() + STORE_POLL_MS;
			sched_poll_store(s);
		}
		start_runs(s);
		sprov_drain(s); /* cache lookups back: their instances end or get ready */
		do {
			while (s->nevalq)
				eval_task(s, s->evalq[--s->nevalq]);
			start_ready(s);
		} while (s->nevalq);
		sprov_drain(s);
		ended = finish_runs(s);
		if (ended)
			s->runs_changed = 1;
		if (flush_due(s))
			sched_flush(s);
		sout_tick(s);
		progress(s, ended);
		drop_finished(s);
		/* Fenced: what is left to write never will be. */
		if (s->stopping && !s->nprocs && !exec_peer_jobs(s) &&
		    (s->lease_lost || (!s->prov_inflight && !s->nprovs && !s->ndlv)))
			break;
		if (!s->opts.serve && !active_runs(s) &&
		    ((!s->ndirty && !s->nprovs && !sout_busy(s)) || (s->flush_failed &&
				    time_mono_ms() - s->flush_failed_at > FLUSH_GIVE_UP_MS)))
			break;
		sched_loop_end(s, busy_from);
		wait_events(s);
	}
	return s->flush_failed || s->lease_lost ? -1 : 0;
}
