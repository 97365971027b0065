/*
 * The outbox: run callbacks (on_success, on_failure, on_retry) as rows of
 * the store's deliveries table, and the deliverer that runs each row once.
 *
 * Exactly once, as far as a crash allows: a row is queued here when the
 * state change that causes it happens in memory, and written by the flush
 * that writes that state change, in the same transaction (sched-run.c), so
 * the state and its callback are both stored or neither is.  Delivering a
 * row is a claim (state "running", owner = this scheduler) committed before
 * the command starts, then the end (exit code, time, log).  A row left
 * "running" by a scheduler that died is the only one ever started again;
 * it ends "redelivered" (or "failed"), so callbacks should be idempotent.
 *
 * The deliverer lives in the scheduler's loop, not in a thread: the loop
 * reaps every child with waitpid(-1), and hands the pids that are not tries
 * to sout_reaped().  The `serve` elected to the deliveries duty
 * (sched-lease.c) delivers the rows of every serve and those of schedulers
 * that died; each row is claimed first (with SKIP LOCKED on PostgreSQL), so
 * one scheduler delivers it.  `test` delivers the rows of its own runs and
 * waits for them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/events.h"
#include "flow/procs.h"
#include "flow/sched-int.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

/* Deliveries running at once; the rest wait for a slot. */
#define MAX_RUNNING 16
/* serve looks for rows that others wrote (or whose owner died) this often. */
#define SCAN_MS 5000
/* A look that failed (the store is down) is tried again after this long. */
#define SCAN_RETRY_MS 1000
/* After SIGTERM on a timeout, SIGKILL this much later. */
#define KILL_GRACE_MS 5000
/* What is left of an interrupted delivery gets this long to be confirmed gone. */
#define LEFTOVER_KILL_MS 10000

struct sdelivery {
	struct store_delivery row;  /* owner is ours once claimed */
	pid_t pid;                  /* 0 once reaped */
	int redelivery;
	int stage;                  /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
	int stopped;                /* by our stop: left "running" for the next scheduler */
	int64_t deadline;           /* monotonic ms of the next step */
	int recorded_failed;        /* the end could not be written yet: retried */
};

extern char **environ;

/* ---- queueing, from the scheduler's state changes ---- */

static void queue(struct sched *s, struct store_delivery *d)
{
	ALLOC_GROW(s->outq, s->noutq + 1, s->outq_alloc);
	s->outq[s->noutq++] = *d;
}

/* The SF_* environment of a callback as a JSON object of strings (the row's payload). */
static char *env_payload(const struct tmpl_ctx *ctx, json_t *extra)
{
	char **env = NULL;
	size_t n = 0, alloc = 0;
	json_t *o = json_object();
	const char *k;
	json_t *v;
	char *text;

	ALLOC_GROW(env, 8, alloc);
	env[0] = NULL;
	tmpl_env(ctx, &env, &n, &alloc);
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(env[i], '=');
		if (eq) {
			*eq = '\0';
			json_object_set_new(o, env[i], json_string(eq + 1));
		}
		free(env[i]);
	}
	free(env);
	json_object_foreach(extra, k, v)
		json_object_set(o, k, v);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/* Expands the command; a template that cannot be expanded makes a failed row. */
static void make_row(const char *owner, struct store_delivery *d, const char *tmpl,
		     const struct tmpl_ctx *ctx, json_t *extra)
{
	struct strbuf cmd = STRBUF_INIT, err = STRBUF_INIT;

	d->kind = xstrdup("callback");
	d->owner = owner ? xstrdup(owner) : NULL;
	d->exit_code = -1;
	d->created_at = time_now_ms();
	if (tmpl_expand(tmpl, ctx, &cmd, &err) < 0) {
		d->state = xstrdup("failed");
		d->note = xasprintf("the command cannot be expanded: %s", err.buf);
		d->ended_at = d->created_at;
		d->command = xstrdup(tmpl);
		sb_release(&cmd);
	} else {
		d->command = sb_detach(&cmd, NULL);
	}
	sb_release(&err);
	d->payload = env_payload(ctx, extra);
}

/* The ids of the tasks with a failed instance, comma-separated, in file order. */
static char *failed_tasks(struct srun *run)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < run->ntasks; i++) {
		struct stask *t = &run->tasks[i];
		for (size_t k = 0; t->active && k < t->ninst; k++)
			if (t->inst[k].state == TI_FAILED) {
				if (sb.len)
					sb_addch(&sb, ',');
				sb_adds(&sb, t->def->id);
				break;
			}
	}
	return sb_detach(&sb, NULL);
}

/* The run's event for its workspace's script, if it has one (events.h). */
static void run_event(struct srun *run, const char *event, json_t *payload)
{
	struct sched *s = run->s;
	struct store_delivery *v = NULL;
	size_t n = 0, alloc = 0;

	if (payload && run->dag->workspace)
		events_rows(s->data_dir, run->dag->workspace, event, payload, s->owner, &v, &n, &alloc);
	for (size_t i = 0; i < n; i++)
		queue(s, &v[i]);
	free(v);
	json_decref(payload);
}

void sout_run_started(struct srun *run)
{
	run_event(run, "run-started", json_pack("{ssss}", "run_id", run->run_id, "dag_id",
						 run->dag->id));
}

void sout_task_failed(struct sti *ti)
{
	struct srun *run = ti->task->run;
	json_t *p = json_pack("{sssssssi}", "run_id", run->run_id, "dag_id", run->dag->id,
			      "task_id", ti->task->def->id, "try", ti->try_number);

	if (ti->index >= 0)
		json_object_set_new(p, "index", json_integer(ti->index));
	if (ti->reason)
		json_object_set_new(p, "reason", json_string(ti->reason));
	run_event(run, "task-failed", p);
}

/* What the deliveries of a run's end need, from a run in memory or from the store. */
struct run_end {
	const char *data_dir, *owner;
	const struct dag *dag;          /* NULL: it cannot be loaded */
	const char *dag_id, *run_id, *reason;
	enum run_state state;
	json_t *params;
	const char *failed;             /* the failed tasks, comma-separated */
	const struct tmpl_ctx *ctx;     /* the run's template context, when dag is set */
};

/* The run-finished event rows and the on_success/on_failure row of a run's end. */
static void end_rows(const struct run_end *e, struct store_delivery **v, size_t *n,
		     size_t *alloc)
{
	int ok = e->state == RUN_SUCCESS;
	const char *tmpl = !e->dag ? NULL : ok ? e->dag->on_success : e->dag->on_failure;
	struct store_delivery *d;
	json_t *extra, *ev;

	ev = json_pack("{ssssssss}", "run_id", e->run_id, "dag_id", e->dag_id, "state",
		       run_state_name(e->state), "failed_tasks", e->failed);
	json_object_set_new(ev, "reason", e->reason ? json_string(e->reason) : json_null());
	json_object_set(ev, "params", e->params ? e->params : json_null());
	if (e->dag && e->dag->workspace)
		events_rows(e->data_dir, e->dag->workspace, "run-finished", ev, e->owner, v, n, alloc);
	json_decref(ev);
	if (!tmpl && e->dag)
		return;
	ALLOC_GROW(*v, *n + 1, *alloc);
	d = &(*v)[(*n)++];
	memset(d, 0, sizeof(*d));
	d->index = -1;
	d->event = xstrdup(ok ? "success" : "failure");
	d->run_id = xstrdup(e->run_id);
	d->dag_id = xstrdup(e->dag_id);
	extra = json_pack("{ssssssss}", "SF_RUN_ID", e->run_id, "SF_DAG_ID", e->dag_id,
			  "SF_RUN_STATE", run_state_name(e->state), "SF_FAILED_TASKS", e->failed);
	if (e->dag) {
		make_row(e->owner, d, tmpl, e->ctx, extra);
	} else {
		/* nothing says whether it had a callback, or which: said, never dropped in silence */
		d->kind = xstrdup("callback");
		d->owner = e->owner ? xstrdup(e->owner) : NULL;
		d->state = xstrdup("failed");
		d->exit_code = -1;
		d->created_at = d->ended_at = time_now_ms();
		d->note = xasprintf("not run: DAG '%s' cannot be loaded (it is gone or its file has "
				    "errors), so its %s command, if it has one, is not known",
				    e->dag_id, ok ? "on_success" : "on_failure");
		d->payload = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);
	}
	json_decref(extra);
}

void sout_run_ended(struct srun *run)
{
	struct store_delivery *v = NULL;
	size_t n = 0, alloc = 0;
	struct tmpl_ctx ctx;
	char *failed = failed_tasks(run);
	struct run_end e = {
		.data_dir = run->s->data_dir, .owner = run->s->owner, .dag = run->dag,
		.dag_id = run->dag->id, .run_id = run->run_id, .reason = run->reason,
		.state = run->state, .params = run->params, .failed = failed, .ctx = &ctx,
	};

	sched_run_tmpl_ctx(run, &ctx, 1);
	end_rows(&e, &v, &n, &alloc);
	for (size_t i = 0; i < n; i++)
		queue(run->s, &v[i]);
	free(v);
	free(failed);
}

int sout_end_outside(struct store *st, const char *data_dir, const struct store_run *r,
		     const struct dag *d, enum run_state state, const char *reason,
		     const char *failed, const char *owner)
{
	struct store_delivery *v = NULL;
	size_t n = 0, alloc = 0;
	json_t *vars = r->vars ? json_incref(r->vars) : NULL;
	char run_date[16], *run_dir = sched_run_dir(data_dir, r, run_date);
	struct tmpl_ctx ctx;
	struct run_end e = {
		.data_dir = data_dir, .owner = owner, .dag = d, .dag_id = r->dag_id,
		.run_id = r->run_id, .reason = reason, .state = state, .params = r->params,
		.failed = failed, .ctx = &ctx,
	};
	int ret = 0;

	/* the same context a scheduler gives the run (sched-run.c srun_new) */
	if (!vars && store_var_all(st, &vars) < 0)
		vars = json_object();
	ctx = (struct tmpl_ctx){
		.dag = d, .params = r->params, .vars = vars, .run_id = r->run_id,
		.run_dir = run_dir, .run_date = run_date, .data_dir = data_dir, .quote = 1,
	};
	end_rows(&e, &v, &n, &alloc);
	for (size_t i = 0; i < n && !ret; i++)
		ret = store_delivery_add(st, &v[i]);
	store_delivery_list_free(v, n);
	json_decref(vars);
	free(run_dir);
	return ret;
}

void sout_retry(struct sti *ti)
{
	struct srun *run = ti->task->run;
	struct store_delivery d = { .index = ti->index };
	struct tmpl_ctx ctx;
	json_t *extra;
	char *try = xasprintf("%d", ti->try_number);

	sched_run_tmpl_ctx(run, &ctx, 1);
	ctx.task_id = ti->task->def->id;
	ctx.item = ti->index >= 0 && ti->task->items ? ti->task->items[ti->index] : NULL;
	extra = json_pack("{ssssssssssss}", "SF_RUN_ID", run->run_id, "SF_DAG_ID", run->dag->id,
			  "SF_RUN_STATE", run_state_name(run->state), "SF_FAILED_TASKS",
			  ti->task->def->id, "SF_TRY_NUMBER", try, "SF_REASON",
			  ti->reason ? ti->reason : "");
	free(try);
	d.event = xstrdup("retry");
	d.run_id = xstrdup(run->run_id);
	d.dag_id = xstrdup(run->dag->id);
	d.task_id = xstrdup(ti->task->def->id);
	d.try_number = ti->try_number;
	make_row(run->s->owner, &d, ti->task->def->on_retry, &ctx, extra);
	json_decref(extra);
	queue(run->s, &d);
}

/* ---- writing, with the flush ---- */

int sout_write(struct sched *s)
{
	for (size_t i = 0; i < s->noutq; i++)
		if (store_delivery_add(s->store, &s->outq[i]) < 0)
			return -1;
	return 0;
}

void sout_written(struct sched *s)
{
	if (s->noutq)
		s->out_check = 1;
	for (size_t i = 0; i < s->noutq; i++) {
		/* a row that failed at once (its template) is counted when written */
		if (s->outq[i].state && !strcmp(s->outq[i].state, "failed"))
			atomic_fetch_add(&s->deliveries[0][1], 1);
		store_delivery_release(&s->outq[i]);
	}
	s->noutq = 0;
}

/* ---- delivering ---- */

static int kind_index(const char *kind)
{
	return strcmp(kind, "callback") ? 1 : 0;
}

static char *log_path_for(struct sched *s, const struct store_delivery *d)
{
	return xasprintf("%s/flow/event-logs/%lld-%s-%s.log", s->data_dir, (long long)d->id, d->kind,
			 d->event);
}

/*
 * SF_TRY_KEY of a row's processes (procs.h), found again after a crash of
 * ours.  The row id alone is not unique on a machine: every store counts
 * from 1, so a redelivery in one data folder killed the running script of
 * the same id in another (found by two test suites run side by side).  The
 * creation time and run come from the row, so whoever delivers it again,
 * from whichever data folder, computes the same key.
 */
static char *delivery_key(const struct store_delivery *d)
{
	return xasprintf("delivery/%lld/%lld/%s", (long long)d->id, (long long)d->created_at,
			 d->run_id ? d->run_id : "-");
}

/*
 * The environment: the scheduler's, then a callback's SF_* variables (its
 * payload), or an event script's SF_EVENT and SF_DATA (its payload is its input).
 */
static char **make_env(struct sched *s, const struct store_delivery *d)
{
	int callback = !strcmp(d->kind, "callback");
	json_t *o = callback && d->payload ? json_loads(d->payload, 0, NULL)
					   : json_pack("{ssss}", "SF_EVENT", d->event, "SF_DATA", s->data_dir);
	size_t n = 0, alloc = 0;
	char **env = NULL;
	const char *k;
	char *key;
	json_t *v;

	ALLOC_GROW(env, s->nbase_env + json_object_size(o) + 3, alloc);
	for (size_t i = 0; i < s->nbase_env; i++)
		env[n++] = xstrdup(s->base_env[i]);
	/* its processes can be found after a crash of ours (procs.h) */
	key = delivery_key(d);
	env[n++] = xasprintf("SF_TRY_KEY=%s", key);
	free(key);
	json_object_foreach(o, k, v)
		if (json_is_string(v))
			env[n++] = xasprintf("%s=%s", k, json_string_value(v));
	env[n] = NULL;
	json_decref(o);
	return env;
}

static void free_strings(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/*
 * Starts the row's command in its own process group, output appended to
 * its log; -1 with the reason in err.
 */
static int start(struct sched *s, struct sdelivery *x, struct strbuf *err)
{
	struct store_delivery *d = &x->row;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int callback = !strcmp(d->kind, "callback");
	char *sh_argv[] = { "/bin/sh", "-c", d->command, NULL };
	char *script_argv[] = { d->command, NULL };
	char **env, *dir, *workdir;
	int fd, rc, in[2] = { -1, -1 };

	d->log_path = log_path_for(s, d);
	dir = xstrdup(d->log_path);
	*strrchr(dir, '/') = '\0';
	if (mkdir_p(dir, 0755) < 0) {
		sb_addf(err, "cannot create '%s': %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		sb_addf(err, "cannot open its log '%s': %s", d->log_path, strerror(errno));
		return -1;
	}
	if (x->redelivery)
		dprintf(fd, "[synthflow] run again: the scheduler delivering it stopped before it "
			    "ended (attempt %d)\n", d->attempts);
	/* an event script reads the event (a few KiB at most: the pipe holds it) */
	if (!callback && pipe2(in, O_CLOEXEC) == 0) {
		size_t len = d->payload ? strlen(d->payload) : 0;
		if (write(in[1], d->payload ? d->payload : "", len) != (ssize_t)len ||
		    write(in[1], "\n", 1) != 1)
			dprintf(fd, "[synthflow] the event could not be written to the script's input\n");
		close(in[1]);
	}
	env = make_env(s, d);
	/* callbacks in the data folder, event scripts in their workspace */
	workdir = callback ? xstrdup(s->data_dir) : xasprintf("%s/src/%s", s->data_dir, d->workspace);
	posix_spawn_file_actions_init(&fa);
	if (in[0] >= 0)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addchdir_np(&fa, workdir);
	/* its own process group: a timeout stops everything it started */
	exec_spawnattr(&attr, 0);
	rc = posix_spawn(&x->pid, callback ? "/bin/sh" : d->command, &fa, &attr,
			 callback ? sh_argv : script_argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	if (in[0] >= 0)
		close(in[0]);
	free(workdir);
	free_strings(env);
	if (rc) {
		sb_addf(err, "cannot start '%s': %s", callback ? "/bin/sh" : d->command, strerror(rc));
		x->pid = 0;
		return -1;
	}
	x->deadline = time_mono_ms() + s->delivery_timeout_ms;
	return 0;
}

/* Writes how it ended; kept for the next tick when the store refuses. */
static int record(struct sched *s, struct sdelivery *x)
{
	if (store_delivery_end(s->store, &x->row) < 0) {
		x->recorded_failed = 1;
		return -1;
	}
	if (s->opts.serve)
		fprintf(stderr, "synthflow serve: %s '%s'%s%s: %s\n", x->row.kind, x->row.event,
			x->row.run_id ? " of run " : "", x->row.run_id ? x->row.run_id : "",
			x->row.state);
	atomic_fetch_add(&s->deliveries[kind_index(x->row.kind)]
				      [!strcmp(x->row.state, "failed") ? 1
				       : !strcmp(x->row.state, "redelivered") ? 2 : 0], 1);
	return 0;
}

static void drop(struct sched *s, size_t i)
{
	store_delivery_release(&s->dlv[i].row);
	s->dlv[i] = s->dlv[--s->ndlv];
	/* a slot is free: rows may be waiting for it */
	s->out_check = 1;
}

static void end_now(struct sched *s, struct sdelivery *x, const char *state, const char *note)
{
	free(x->row.state);
	x->row.state = xstrdup(state);
	free(x->row.note);
	x->row.note = note ? xstrdup(note) : NULL;
	x->row.ended_at = time_now_ms();
	record(s, x);
}

/* 1 when this scheduler should deliver the row now (and how: *redelivery). */
static int ours(struct sched *s, const struct store_delivery *d, int *redelivery)
{
	int mine = d->owner && !strcmp(d->owner, s->owner);

	*redelivery = !strcmp(d->state, "running");
	for (size_t i = 0; i < s->ndlv; i++)
		if (s->dlv[i].row.id == d->id)
			return 0;
	if (!s->opts.serve)
		return mine && !*redelivery; /* test: the rows of its own runs */
	/* serve: only the elected deliverer, for every serve (docs/engine.md) */
	if (!sched_duty_held(s, SCHED_DUTY_DELIVERIES))
		return 0;
	if (mine)
		return !*redelivery;
	/* a live serve's row waiting to be delivered; else only those whose owner is gone */
	if (!*redelivery && d->owner && strchr(d->owner, '#') &&
	    sched_owner_alive(s->store, d->owner))
		return 1;
	return !sched_owner_alive(s->store, d->owner);
}

static void scan(struct sched *s)
{
	struct store_delivery_filter f = { .open = 1 };
	struct store_delivery *v;
	size_t n;

	if (store_delivery_list(s->store, &f, &v, &n) < 0) {
		/*
		 * Looked at again, but not at once: an immediate retry made the
		 * loop poll with no timeout, a busy loop for as long as the
		 * store (e.g. a PostgreSQL server) was away.
		 */
		s->out_check = 1;
		s->out_retry_at = time_mono_ms() + SCAN_RETRY_MS;
		return;
	}
	for (size_t i = 0; i < n && s->ndlv < MAX_RUNNING; i++) {
		struct store_delivery *d = &v[i];
		struct strbuf err = STRBUF_INIT;
		struct sdelivery *x;
		int redelivery;

		if (!ours(s, d, &redelivery) ||
		    store_delivery_claim(s->store, d->id, d->owner, d->state, s->owner) != 0)
			continue;
		ALLOC_GROW(s->dlv, s->ndlv + 1, s->dlv_alloc);
		x = &s->dlv[s->ndlv++];
		memset(x, 0, sizeof(*x));
		x->row = *d;
		memset(d, 0, sizeof(*d));
		free(x->row.owner);
		x->row.owner = xstrdup(s->owner);
		x->row.attempts++;
		x->row.exit_code = -1;
		x->redelivery = redelivery;
		if (redelivery) {
			/* what the interrupted run of it left behind goes first */
			char *key = delivery_key(&x->row);
			procs_kill_key(key, LEFTOVER_KILL_MS);
			free(key);
		}
		if (start(s, x, &err) < 0) {
			end_now(s, x, "failed", err.buf);
			if (!x->recorded_failed)
				drop(s, s->ndlv - 1);
		}
		sb_release(&err);
	}
	if (n > 0 && s->ndlv >= MAX_RUNNING)
		s->out_check = 1;
	store_delivery_list_free(v, n);
}

void sout_tick(struct sched *s)
{
	int64_t now = time_mono_ms();

	for (size_t i = 0; i < s->ndlv;) {
		struct sdelivery *x = &s->dlv[i];
		if (x->recorded_failed) {
			x->recorded_failed = 0;
			if (record(s, x) == 0) {
				drop(s, i);
				continue;
			}
		} else if (x->pid > 0 && s->stopping && !x->stage) {
			/* not ended: the next scheduler runs it again (a redelivery) */
			kill(-x->pid, SIGTERM);
			x->stage = 1;
			x->stopped = 1;
			x->deadline = now + KILL_GRACE_MS;
		} else if (x->pid > 0 && now >= x->deadline && x->stage < 2) {
			kill(-x->pid, x->stage ? SIGKILL : SIGTERM);
			x->stage++;
			x->deadline = now + KILL_GRACE_MS;
		}
		i++;
	}
	if (s->stopping)
		return;
	if (s->opts.serve && now >= s->out_next_scan)
		s->out_check = 1;
	if (!s->out_check || s->ndlv >= MAX_RUNNING || now < s->out_retry_at)
		return;
	s->out_check = 0;
	s->out_next_scan = now + SCAN_MS;
	scan(s);
}

int sout_reaped(struct sched *s, pid_t pid, int status)
{
	for (size_t i = 0; i < s->ndlv; i++) {
		struct sdelivery *x = &s->dlv[i];
		char *note = NULL;
		int code;

		if (x->pid != pid)
			continue;
		x->pid = 0;
		if (x->stopped) {
			store_delivery_release(&x->row);
			s->dlv[i] = s->dlv[--s->ndlv];
			return 1;
		}
		code = WIFEXITED(status) ? WEXITSTATUS(status)
		       : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
		x->row.exit_code = code;
		if (x->stage && s->delivery_timeout_ms % 1000)
			note = xasprintf("timed out after %lldms (flow.delivery_timeout)",
					 (long long)s->delivery_timeout_ms);
		else if (x->stage)
			note = xasprintf("timed out after %llds (flow.delivery_timeout)",
					 (long long)s->delivery_timeout_ms / 1000);
		end_now(s, x, code == 0 && !x->stage ? (x->redelivery ? "redelivered" : "delivered")
						     : "failed", note);
		free(note);
		if (!x->recorded_failed)
			drop(s, i);
		return 1;
	}
	return 0;
}

int64_t sout_wait_ms(struct sched *s)
{
	int64_t now = time_mono_ms(), wait = -1;

	if (s->out_check && !s->stopping && s->ndlv < MAX_RUNNING)
		return now < s->out_retry_at ? s->out_retry_at - now : 0;
	for (size_t i = 0; i < s->ndlv; i++) {
		const struct sdelivery *x = &s->dlv[i];
		int64_t w;
		if (x->recorded_failed)
			w = 1000;
		else if (x->pid > 0 && x->stage < 2)
			w = x->deadline > now ? x->deadline - now : 0;
		else
			continue;
		if (wait < 0 || w < wait)
			wait = w;
	}
	if (s->opts.serve && !s->stopping) {
		int64_t w = s->out_next_scan - now;
		if (wait < 0 || w < wait)
			wait = w < 0 ? 0 : w;
	}
	return wait;
}

int sout_busy(struct sched *s)
{
	return s->noutq || s->ndlv || (s->out_check && !s->stopping);
}

void sout_free(struct sched *s)
{
	for (size_t i = 0; i < s->noutq; i++)
		store_delivery_release(&s->outq[i]);
	free(s->outq);
	for (size_t i = 0; i < s->ndlv; i++)
		store_delivery_release(&s->dlv[i].row);
	free(s->dlv);
}

void sout_metrics(struct sched *s, struct strbuf *out)
{
	static const char *const kinds[] = { "callback", "event" };
	static const char *const results[] = { "ok", "failed", "redelivered" };

	sb_adds(out, "# HELP synthflow_deliveries_total Callbacks and event scripts run to the end,"
		     " by result (redelivered: run again after a crash).\n"
		     "# TYPE synthflow_deliveries_total counter\n");
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		for (size_t r = 0; r < ARRAY_SIZE(results); r++)
			sb_addf(out, "synthflow_deliveries_total{kind=\"%s\",result=\"%s\"} %llu\n",
				kinds[k], results[r],
				(unsigned long long)atomic_load(&s->deliveries[k][r]));
}
