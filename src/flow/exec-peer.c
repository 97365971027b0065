/*
 * Sharing a run's task instances between the serves of one PostgreSQL
 * store (docs/engine.md, "Sharing work"), in two halves:
 *
 * The coordinator (the serve that owns the run) offers a ready instance it
 * has no room for as an executor backend (exec-impl.h), "peer": start
 * writes an offer row carrying the try it prepared exactly as the local
 * executor would run it (command, the task's environment, folder, log), a
 * tick follows its offers in the store (claimed: its timeout starts; done:
 * the try ends with the runner's wait status), kill asks the runner to
 * stop it, and a runner whose lease died loses its tries (lost, run again
 * without using a retry).  The coordinator stays the only writer of the
 * instance, its tries, metrics and provenance: the log and metrics files
 * are in the shared data folder.
 *
 * The runner (every serve, the coordinator too) claims open offers for the
 * cpus its own work leaves free, runs each as a local process group with
 * the runner's own environment under the offered one, drains its output
 * into the capped log, and records its wait status in the offer, on the
 * condition that the offer is still its own.  Its tries carry
 * SF_TRY_KEY=<runner id>/offer/... (so its watchdog ends them when it
 * stops or is stopped) and SF_OFFER_KEY (so a run's recovery on the same
 * machine leaves them alone, procs.h).  It stops a try when the
 * coordinator asks, when the offer is taken back, when it stops itself and
 * when its lease is no longer fresh; the last two are reported as "lost:"
 * so the coordinator runs them again without using a retry.
 *
 * Only local tasks without container, gpus, batch or more than one cpu are
 * offered, only on a shared store, and only while another serve is alive:
 * SQLite and a lone serve keep the plain local path.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/exec-impl.h"
#include "flow/procs.h"
#include "flow/sched-int.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

/* How often a coordinator looks at its offers, and a runner for offers and stop requests. */
#define LOOK_MS 50
#define LOOK_IDLE_MS 250
/* How long a killed try's processes get to be confirmed gone. */
#define PEER_KILL_CONFIRM_MS 5000

struct peer_try {               /* coordinator: an offered try */
	char *spec;             /* until its offer is written */
	int written;            /* its offer is in the store (with its try and state) */
	int claimed;
	char *runner, *runner_host;
	int kill, kill_want;    /* asked of the runner, to ask: 1 SIGTERM, 2 SIGKILL */
};

struct peer_job {               /* runner: a try run for an offer */
	struct store_offer o;   /* its key, try and coordinator */
	struct exec_proc ep;
	char *key;              /* SF_TRY_KEY */
	char *offer_key;        /* SF_OFFER_KEY */
	int signalled;          /* 1 SIGTERM, 2 SIGKILL sent */
	int gone;               /* the offer is no longer ours: nothing to report */
	const char *lost;       /* we stopped it (stop, lease): reported as lost */
	int reaped, status;
	int64_t ended_at;
};

struct exec_peer {
	size_t noffered;        /* coordinator: tries of ours held by the peer executor */
	struct sproc **pending; /* coordinator: offers for the next write of the store */
	size_t npending, pending_alloc;
	int64_t next_look, next_alive; /* coordinator: its offers, its runners' leases */
	int64_t next_claim, next_check; /* runner: open offers, its own (stop requests) */
	struct peer_job **jobs;
	size_t njobs, jobs_alloc;
};

static struct exec_peer *state(struct sched *s)
{
	if (!s->peer)
		s->peer = xcalloc(1, sizeof(*s->peer));
	return s->peer;
}

/* ---- coordinator ---- */

/* Kept as a count (peer_start, peer_reattach, peer_release): the loop asks every turn. */
static size_t offered(const struct sched *s)
{
	return s->peer ? s->peer->noffered : 0;
}

int exec_peer_offer_room(struct sched *s)
{
	if (!s->opts.serve || !s->epoch || !store_shared(s->store) || s->live_leases < 2 ||
	    s->stopping || !sched_lease_fresh(s))
		return 0;
	/* as many as the others could run at once, each with our parallelism */
	return offered(s) < (size_t)s->parallelism * (size_t)(s->live_leases - 1);
}

int exec_peer_may_offer(struct sched *s, const struct sti *ti)
{
	const struct dag_task *def = ti->task->def;

	return exec_ops_for(ti->task->run->dag, def, s->opts.cfg->flow_executor) ==
		       &exec_local_ops &&
	       !def->container && def->res.gpus <= 0 && def->res.cpus <= 1 &&
	       !(def->batch && ti->index >= 0);
}

static char *offer_spec(struct sched *s, const struct exec_spec *spec)
{
	json_t *env = json_array(), *o;
	char *text;

	for (char **e = spec->envp + s->nbase_env; *e; e++)
		json_array_append_new(env, json_string(*e));
	o = json_pack("{s:s, s:o, s:s, s:s}", "cmd", spec->cmd, "env", env, "workdir",
		      spec->workdir, "log_path", spec->log_path);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/*
 * The offer is written with the try's start and the instance's state, in
 * the scheduler's next write of the store (exec_peer_write): no runner can
 * see an offer whose try a scheduler that takes the run over would not.
 */
static int peer_start(struct sched *s, struct sproc *p, const struct exec_spec *spec,
		      struct strbuf *err)
{
	struct exec_peer *st = state(s);

	(void)err;
	exec_proc_init(&p->ep, spec->log_path);
	p->peer = xcalloc(1, sizeof(*p->peer));
	p->peer->spec = offer_spec(s, spec);
	st->noffered++;
	ALLOC_GROW(st->pending, st->npending + 1, st->pending_alloc);
	st->pending[st->npending++] = p;
	return 0;
}

int exec_peer_write(struct sched *s)
{
	struct exec_peer *st = s->peer;

	for (size_t i = 0; st && i < st->npending; i++) {
		struct sproc *p = st->pending[i];
		struct sti *ti = p->ti;
		struct store_offer o = { .run_id = ti->task->run->run_id,
					 .task_id = (char *)ti->task->def->id, .index = ti->index,
					 .try_number = ti->try_number, .coordinator = s->owner,
					 .spec = p->peer->spec };
		if (store_offer_add(s->store, &o) < 0)
			return -1;
	}
	return 0;
}

/* What the coordinator asked before the offer was written, or could not write. */
static void send_kill(struct sched *s, struct sproc *p)
{
	struct sti *ti = p->ti;

	if (!p->peer->written || p->peer->kill >= p->peer->kill_want)
		return;
	if (store_offer_kill(s->store, ti->task->run->run_id, ti->task->def->id, ti->index,
			     ti->try_number, p->peer->kill_want) == 0)
		p->peer->kill = p->peer->kill_want;
}

void exec_peer_written(struct sched *s)
{
	struct exec_peer *st = s->peer;

	for (size_t i = 0; st && i < st->npending; i++) {
		struct sproc *p = st->pending[i];
		p->peer->written = 1;
		free(p->peer->spec);
		p->peer->spec = NULL;
		send_kill(s, p);
	}
	if (st && st->npending) {
		st->npending = 0;
		st->next_look = 0;
	}
}

static void peer_kill(struct sched *s, struct sproc *p, int hard)
{
	int level = hard ? 2 : 1;

	if (p->peer->kill_want < level)
		p->peer->kill_want = level;
	/* not written yet: sent once it is; a failed write: again at each look */
	send_kill(s, p);
	state(s)->next_look = 0;
}

/* The runner confirmed its processes gone before it reported the end. */
static int peer_reap(struct sproc *p, int killed)
{
	(void)p;
	(void)killed;
	return 0;
}

/* serve stops: the try goes on under its runner, and the run's next owner follows it. */
static int peer_detach(struct sched *s, struct sproc *p)
{
	(void)s;
	(void)p;
	return 1;
}

static void peer_release(struct sproc *p)
{
	struct exec_peer *st = p->ti->task->run->s->peer;

	/* released before its offer was written (serve stopped): it never will be */
	for (size_t i = 0; st && i < st->npending; i++)
		if (st->pending[i] == p) {
			st->pending[i] = st->pending[--st->npending];
			break;
		}
	if (p->peer) {
		st->noffered--;
		free(p->peer->spec);
		free(p->peer->runner);
		free(p->peer->runner_host);
		free(p->peer);
		p->peer = NULL;
	}
	exec_release(&p->ep);
}

static void set_claimed(struct sched *s, struct sproc *p, const struct store_offer *o)
{
	const struct dag_task *def = p->ti->task->def;

	if (p->peer->claimed)
		return;
	p->peer->claimed = 1;
	p->peer->runner = xstrdup(o->runner);
	p->peer->runner_host = xstrdup(o->runner_host ? o->runner_host : "");
	/* the timeout counts from when a runner took it, not while it waited */
	p->started_mono = time_mono_ms();
	if (def->timeout_ms > 0)
		sched_timer_add(s, p->ti, TM_TIMEOUT, p->started_mono + def->timeout_ms);
}

/* The try ended without a word from its runner: lost, run again without using a retry. */
static void end_lost(struct sched *s, struct sproc *p, char *why)
{
	free(p->why);
	p->why = why;
	if (p->ti->kill == KILL_NONE || p->ti->kill == KILL_STOP)
		p->ti->kill = KILL_RUNNER;
	sched_try_ended(s, p, W_EXITCODE(0, SIGKILL));
}

static int same_key(const struct store_offer *o, const struct sti *ti)
{
	return !strcmp(o->run_id, ti->task->run->run_id) && !strcmp(o->task_id, ti->task->def->id) &&
	       o->index == ti->index;
}

/*
 * Takes an offered try back from a runner whose lease ran out: its offer
 * goes (only while that runner still holds it), and when the runner was on
 * this machine its processes are killed.  0 when taken back; -1 when the
 * offer ended meanwhile or the store failed.
 */
static int take_back(struct sched *s, const char *run_id, const char *task_id, int index,
		     int try_number, const char *runner, const char *runner_host)
{
	char *key;

	if (store_offer_drop(s->store, run_id, task_id, index, try_number, runner) != 0)
		return -1;
	if (runner_host && !strcmp(runner_host, sched_host_id())) {
		key = exec_peer_offer_key(run_id, task_id, index, try_number);
		procs_kill_offer(key, PEER_KILL_CONFIRM_MS);
		free(key);
	}
	return 0;
}

/*
 * A runner that is no longer alive: its try is taken back (only from it)
 * and ends as lost.  On this machine its processes are killed first; on
 * another, its watchdog ended them before its lease ran out.
 */
static void runner_dead(struct sched *s, struct sproc *p)
{
	struct sti *ti = p->ti;
	char *why;

	if (take_back(s, ti->task->run->run_id, ti->task->def->id, ti->index, ti->try_number,
		      p->peer->runner, p->peer->runner_host) != 0)
		return; /* it ended meanwhile (the next look sees it), or the store failed */
	why = xasprintf("scheduler lost: the serve running it on host '%s' stopped renewing its "
			"lease", p->peer->runner_host);
	end_lost(s, p, why);
}

static void coordinator_tick(struct sched *s)
{
	struct exec_peer *st = state(s);
	struct store_offer *v = NULL;
	struct sproc **mine;
	size_t n = 0, nmine = 0;
	int64_t now = time_mono_ms();
	int check_alive;

	if (!st->noffered || now < st->next_look || s->lease_lost)
		return;
	st->next_look = now + LOOK_MS;
	if (store_offer_list(s->store, s->owner, &v, &n) < 0)
		return; /* the store is away: the tries stay as they are */
	/* runners' leases once per heartbeat */
	check_alive = now >= st->next_alive;
	if (check_alive)
		st->next_alive = now + s->opts.cfg->sched_heartbeat_ms;
	/* ended tries leave s->procs: work on a copy */
	mine = xcalloc(st->noffered, sizeof(*mine));
	for (size_t i = 0; i < s->nprocs && nmine < st->noffered; i++)
		if (s->procs[i]->ops == &exec_peer_ops)
			mine[nmine++] = s->procs[i];
	for (size_t i = 0; i < nmine; i++) {
		struct sproc *p = mine[i];
		struct sti *ti = p->ti;
		const struct store_offer *o = NULL;

		if (!p->peer->written)
			continue;
		send_kill(s, p);
		for (size_t k = 0; k < n && !o; k++)
			if (same_key(&v[k], ti))
				o = &v[k];
		if (!o || o->try_number != ti->try_number) {
			end_lost(s, p, xstrdup("lost: its offer to the other schedulers is gone from "
					       "the store"));
			continue;
		}
		if (o->state != OFFER_OPEN)
			set_claimed(s, p, o);
		if (o->state == OFFER_DONE) {
			int status = o->status;
			if (o->reason) {
				free(p->why);
				p->why = xstrdup(o->reason);
				if (!strncmp(o->reason, "lost:", 5) && ti->kill == KILL_NONE)
					ti->kill = KILL_RUNNER;
			}
			if (p->prov && o->runner_host)
				json_object_set_new(p->prov, "ran_on_host", json_string(o->runner_host));
			/* the end as the runner saw it, never before the try started */
			p->ended_at = o->ended_at > ti->started_at ? o->ended_at : ti->started_at;
			store_offer_drop(s->store, o->run_id, o->task_id, o->index, o->try_number, NULL);
			sched_try_ended(s, p, status);
		} else if (o->state == OFFER_RUNNING && check_alive &&
			   !sched_owner_alive(s->store, o->runner)) {
			runner_dead(s, p);
		}
	}
	free(mine);
	store_offer_list_free(v, n);
}

/*
 * A try recorded as running of a run this scheduler takes over: followed
 * again when it is offered (its offer moves to us; a dead runner's is
 * taken back and the try is lost).
 */
static int peer_reattach(struct sched *s, struct sproc *p, const struct store_try *last,
			 struct strbuf *why)
{
	struct sti *ti = p->ti;
	struct store_offer *v = NULL;
	const struct store_offer *o = NULL;
	size_t n = 0;
	int ret = -1;

	if (store_offer_list_run(s->store, ti->task->run->run_id, &v, &n) < 0) {
		sb_adds(why, "its offer could not be read");
		return -1;
	}
	for (size_t k = 0; k < n && !o; k++)
		if (same_key(&v[k], ti) && v[k].try_number == last->try_number)
			o = &v[k];
	if (!o) {
		sb_adds(why, "it was not offered");
	} else if (o->state == OFFER_RUNNING && !sched_owner_alive(s->store, o->runner)) {
		take_back(s, o->run_id, o->task_id, o->index, o->try_number, o->runner,
			  o->runner_host);
		sb_addf(why, "its runner on host '%s' is gone", o->runner_host ? o->runner_host : "");
	} else if (store_offer_adopt(s->store, o->run_id, s->owner) == 0) {
		exec_proc_init(&p->ep, last->log_path ? last->log_path : "");
		p->peer = xcalloc(1, sizeof(*p->peer));
		p->peer->written = 1;
		p->peer->kill = p->peer->kill_want = o->kill;
		state(s)->noffered++;
		p->ops = &exec_peer_ops;
		ti->try_number = last->try_number;
		if (o->state != OFFER_OPEN)
			set_claimed(s, p, o);
		state(s)->next_look = 0;
		ret = 0;
	}
	store_offer_list_free(v, n);
	return ret;
}

int exec_peer_reattach(struct sti *ti, struct sproc *p, const struct store_try *last)
{
	struct sched *s = ti->task->run->s;
	struct strbuf why = STRBUF_INIT;
	int ret;

	if (!store_shared(s->store))
		return -1;
	ret = peer_reattach(s, p, last, &why);
	sb_release(&why);
	return ret;
}

/* ---- runner ---- */

char *exec_peer_offer_key(const char *run_id, const char *task_id, int index, int try_number)
{
	return index >= 0 ? xasprintf("%s/%s.%d/%d", run_id, task_id, index, try_number)
			  : xasprintf("%s/%s/%d", run_id, task_id, try_number);
}

static int env_name_eq(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");
	return la == lb && !memcmp(a, b, la);
}

/*
 * The try's environment here: this serve's own, under what the offer
 * carries, with our own SF_TRY_KEY and SF_SYNTHFLOW and its SF_OFFER_KEY.
 */
static char **job_env(struct sched *s, struct peer_job *j, json_t *env)
{
	size_t n = 0, alloc = s->nbase_env + json_array_size(env) + 4, i;
	char **envp = xcalloc(alloc, sizeof(*envp));
	const char *self = fs_self_exe();
	json_t *e;

	for (size_t b = 0; b < s->nbase_env; b++) {
		int shadowed = 0;
		json_array_foreach(env, i, e)
			if (json_is_string(e) && env_name_eq(s->base_env[b], json_string_value(e)))
				shadowed = 1;
		if (!shadowed)
			envp[n++] = xstrdup(s->base_env[b]);
	}
	json_array_foreach(env, i, e) {
		const char *v = json_string_value(e);
		if (!v || !strchr(v, '=') || !strncmp(v, "SF_TRY_KEY=", 11) ||
		    !strncmp(v, "SF_OFFER_KEY=", 13) || (self[0] && !strncmp(v, "SF_SYNTHFLOW=", 13)))
			continue;
		envp[n++] = xstrdup(v);
	}
	envp[n++] = xasprintf("SF_TRY_KEY=%s", j->key);
	envp[n++] = xasprintf("SF_OFFER_KEY=%s", j->offer_key);
	if (self[0])
		envp[n++] = xasprintf("SF_SYNTHFLOW=%s", self);
	envp[n] = NULL;
	return envp;
}

static void free_env(char **envp)
{
	for (char **e = envp; e && *e; e++)
		free(*e);
	free(envp);
}

static void job_free(struct peer_job *j)
{
	store_offer_release(&j->o);
	exec_release(&j->ep);
	free(j->key);
	free(j->offer_key);
	free(j);
}

/* Writes the job's end; 1 when it is done with (written, or no longer ours to write). */
static int job_report(struct sched *s, struct peer_job *j)
{
	int ret;

	if (j->gone || s->lease_lost)
		return 1;
	j->o.status = j->status;
	j->o.ended_at = j->ended_at;
	free(j->o.reason);
	j->o.reason = j->lost ? xstrdup(j->lost) : NULL;
	if (!j->lost && (j->ep.truncated || j->ep.log_errno)) {
		struct strbuf why = STRBUF_INIT;
		if (j->ep.truncated)
			sb_addf(&why, "log truncated at %llu bytes", (unsigned long long)j->ep.log_max);
		if (j->ep.log_errno)
			sb_addf(&why, "%swriting the log failed: %s", why.len ? "; " : "",
				strerror(j->ep.log_errno));
		j->o.reason = sb_detach(&why, NULL);
	}
	ret = store_offer_end(s->store, &j->o, s->owner);
	/*
	 * A failed write is tried again at the next tick, except when this
	 * serve stops: its lease goes with it, and the coordinator then takes
	 * the try back as lost.
	 */
	return ret != -1 || s->stopping;
}

static void job_start(struct sched *s, struct store_offer *o)
{
	struct exec_peer *st = state(s);
	struct peer_job *j = xcalloc(1, sizeof(*j));
	json_t *spec = json_loads(o->spec ? o->spec : "", 0, NULL);
	const char *cmd = json_string_value(json_object_get(spec, "cmd"));
	const char *workdir = json_string_value(json_object_get(spec, "workdir"));
	const char *log_path = json_string_value(json_object_get(spec, "log_path"));
	struct strbuf err = STRBUF_INIT;
	char **envp = NULL;
	int rc = -1;

	j->o = *o;
	memset(o, 0, sizeof(*o));
	free(j->o.spec);
	j->o.spec = NULL;
	j->key = xasprintf("%s/offer/%s/%s.%d/%d", s->id, j->o.run_id, j->o.task_id, j->o.index,
			   j->o.try_number);
	j->offer_key = exec_peer_offer_key(j->o.run_id, j->o.task_id, j->o.index, j->o.try_number);
	exec_pool_lend(s, 1);
	if (!cmd || !workdir || !log_path) {
		sb_adds(&err, "the offer's try cannot be read");
	} else {
		struct exec_spec es = { .cmd = cmd, .workdir = workdir, .log_path = log_path };
		es.envp = envp = job_env(s, j, json_object_get(spec, "env"));
		rc = exec_spawn(&es, &j->ep, &err);
	}
	if (rc == 0) {
		procs_attach(j->ep.pid, "offers", j->key);
		s->spawned = 1;
	} else {
		/* It never started: the coordinator records the failure, with our words. */
		exec_proc_init(&j->ep, log_path ? log_path : "/dev/null");
		exec_log_note(&j->ep, "[synthflow] could not start on host '%s': %s", sched_host_id(),
			      err.buf);
		j->reaped = 1;
		j->status = W_EXITCODE(127, 0);
		j->ended_at = time_now_ms();
	}
	ALLOC_GROW(st->jobs, st->njobs + 1, st->jobs_alloc);
	st->jobs[st->njobs++] = j;
	free_env(envp);
	json_decref(spec);
	sb_release(&err);
}

static void job_signal(struct peer_job *j, int level)
{
	if (j->reaped || j->signalled >= level)
		return;
	kill(-j->ep.pid, level >= 2 ? SIGKILL : SIGTERM);
	j->signalled = level;
}

/* Claims what our spare cpus can run, at most every LOOK_MS (LOOK_IDLE_MS after none). */
static void claim(struct sched *s)
{
	struct exec_peer *st = state(s);
	struct store_offer *v = NULL;
	size_t n = 0;
	int64_t now = time_mono_ms();
	int spare;

	/* our own ready work first: it is offered when there is no room for it */
	if (now < st->next_claim || s->ready_len)
		return;
	spare = exec_pool_spare(s);
	if (spare <= 0)
		return;
	if (store_offer_claim(s->store, s->owner, sched_host_id(), spare, &v, &n) < 0) {
		st->next_claim = now + LOOK_IDLE_MS;
		return;
	}
	st->next_claim = now + (n ? LOOK_MS : LOOK_IDLE_MS);
	for (size_t i = 0; i < n; i++)
		job_start(s, &v[i]);
	store_offer_list_free(v, n);
}

/* What coordinators asked (stop), and offers taken back: at most every LOOK_MS. */
static void check_jobs(struct sched *s)
{
	struct exec_peer *st = state(s);
	struct store_offer *v = NULL;
	size_t n = 0;
	int64_t now = time_mono_ms();

	if (now < st->next_check)
		return;
	st->next_check = now + LOOK_MS;
	if (store_offer_running(s->store, s->owner, &v, &n) < 0)
		return;
	for (size_t i = 0; i < st->njobs; i++) {
		struct peer_job *j = st->jobs[i];
		const struct store_offer *o = NULL;
		if (j->reaped)
			continue;
		for (size_t k = 0; k < n && !o; k++)
			if (!strcmp(v[k].run_id, j->o.run_id) && !strcmp(v[k].task_id, j->o.task_id) &&
			    v[k].index == j->o.index && v[k].try_number == j->o.try_number)
				o = &v[k];
		if (!o) {
			j->gone = 1;
			job_signal(j, 2);
		} else if (o->kill) {
			job_signal(j, o->kill);
		}
	}
	store_offer_list_free(v, n);
}

static void runner_tick(struct sched *s)
{
	struct exec_peer *st = state(s);
	const char *lost = NULL;
	size_t w = 0;

	if (!store_shared(s->store) || !s->epoch)
		return;
	if (s->lease_lost || s->stopping)
		lost = "lost: the serve running it stopped";
	else if (!sched_lease_fresh(s))
		lost = "lost: the serve running it could not renew its lease";
	for (size_t i = 0; i < st->njobs; i++) {
		struct peer_job *j = st->jobs[i];
		if (lost && !j->reaped && !j->lost) {
			j->lost = lost;
			job_signal(j, 2);
		}
	}
	if (st->njobs && !lost)
		check_jobs(s);
	/* ended: reported, then forgotten */
	for (size_t i = 0; i < st->njobs; i++) {
		struct peer_job *j = st->jobs[i];
		if (j->reaped && job_report(s, j)) {
			exec_pool_lend(s, -1);
			job_free(j);
		} else {
			st->jobs[w++] = j;
		}
	}
	st->njobs = w;
	/* others may offer, or our own offers wait for room */
	if (!lost && (s->live_leases >= 2 || offered(s)))
		claim(s);
}

int exec_peer_reaped(struct sched *s, pid_t pid, int status)
{
	struct exec_peer *st = s->peer;

	for (size_t i = 0; st && i < st->njobs; i++) {
		struct peer_job *j = st->jobs[i];
		if (j->reaped || j->ep.pid != pid)
			continue;
		/* nothing of a stopped try is left when its end is told */
		if (j->signalled)
			procs_kill_try("offers", j->key, j->ep.pid, PEER_KILL_CONFIRM_MS);
		else
			procs_try_done("offers", j->key);
		exec_finish(&j->ep);
		j->reaped = 1;
		j->status = status;
		j->ended_at = time_now_ms();
		if (j->lost)
			exec_log_note(&j->ep, "[synthflow] %s (host '%s')", j->lost, sched_host_id());
		st->next_check = 0;
		return 1;
	}
	return 0;
}

size_t exec_peer_pollfds(struct sched *s, struct pollfd *pfds)
{
	size_t n = 0;

	for (size_t i = 0; s->peer && i < s->peer->njobs; i++)
		if (s->peer->jobs[i]->ep.out_fd >= 0)
			pfds[n++] = (struct pollfd){ .fd = s->peer->jobs[i]->ep.out_fd, .events = POLLIN };
	return n;
}

void exec_peer_drain(struct sched *s, const struct pollfd *pfds)
{
	size_t k = 0;

	for (size_t i = 0; s->peer && i < s->peer->njobs; i++) {
		struct exec_proc *ep = &s->peer->jobs[i]->ep;
		if (ep->out_fd < 0)
			continue;
		if (pfds[k++].revents && exec_drain(ep)) {
			close(ep->out_fd);
			ep->out_fd = -1;
		}
	}
}

size_t exec_peer_jobs(const struct sched *s)
{
	return s->peer ? s->peer->njobs : 0;
}

static void peer_tick(struct sched *s)
{
	coordinator_tick(s);
	runner_tick(s);
}

static int64_t peer_wait_ms(struct sched *s)
{
	struct exec_peer *st = s->peer;
	int64_t now = time_mono_ms(), w = -1;

	if (!st || !store_shared(s->store) || !s->epoch)
		return -1;
	if (offered(s))
		w = st->next_look - now;
	if (st->njobs && (w < 0 || st->next_check - now < w))
		w = st->next_check - now;
	if ((s->live_leases >= 2 || offered(s)) && exec_pool_spare(s) > 0 && !s->ready_len &&
	    (w < 0 || st->next_claim - now < w))
		w = st->next_claim - now;
	return w < 0 && (offered(s) || st->njobs) ? 0 : w;
}

static void peer_shutdown(struct sched *s)
{
	struct exec_peer *st = s->peer;

	if (!st)
		return;
	for (size_t i = 0; i < st->njobs; i++) {
		struct peer_job *j = st->jobs[i];
		if (!j->reaped)
			procs_kill_try("offers", j->key, j->ep.pid, PEER_KILL_CONFIRM_MS);
		job_free(j);
	}
	free(st->jobs);
	free(st->pending);
	free(st);
	s->peer = NULL;
}

const struct exec_ops exec_peer_ops = {
	.name = "peer",
	.times_from_start = 0,
	.remote = 1,
	.start = peer_start,
	.kill = peer_kill,
	.reap = peer_reap,
	.detach = peer_detach,
	.reattach = peer_reattach,
	.tick = peer_tick,
	.wait_ms = peer_wait_ms,
	.release = peer_release,
	.shutdown = peer_shutdown,
};
