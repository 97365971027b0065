/*
 * The lease a `serve` holds in the store while it runs (docs/engine.md,
 * "Schedulers and leases"): taken when it starts, renewed by a heartbeat
 * every schedulers.heartbeat from the loop, ended when it stops.  Its epoch is
 * part of the owner string the scheduler writes in runs.owner
 * ("PID:START@PIDNS#EPOCH"), so anyone who reads a run can ask the store
 * whether its owner still holds its lease.
 *
 * Is an owner alive?  On its own machine (same host id) the process table
 * says so exactly and at once, as it did before leases (owner_alive); on
 * another machine only the lease can: its owner is alive until its
 * heartbeat is lease_ttl + grace old (store_lease_dead: the figures its
 * owner recorded in it).  A lease that is gone (ended, or ended by the
 * scheduler that took its runs over) is dead.
 *
 * Its own lease a scheduler judges by its configuration (config.c checks
 * the keys together): it stops its tries and claims nothing once its last
 * heartbeat that got through is lease_ttl - heartbeat old (suspend_after),
 * its watchdog kills them after schedulers.watchdog, and both come before
 * lease_ttl + grace, when another host may take its runs.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/exec-impl.h"
#include "flow/procs.h"
#include "flow/sched-int.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

static int64_t suspend_after(const struct sched *s)
{
	return s->opts.cfg->sched_lease_ttl_ms - s->opts.cfg->sched_heartbeat_ms;
}

const char *sched_host_id(void)
{
	static char id[256];
	const char *env;
	struct strbuf sb = STRBUF_INIT;

	if (id[0])
		return id;
	env = getenv("SYNTHFLOW_HOST_ID");
	if (env && *env) {
		snprintf(id, sizeof(id), "%s", env);
		return id;
	}
	/* The machine id survives renaming the host; containers may lack it. */
	if (sb_read_file(&sb, "/etc/machine-id") == 0) {
		sb_rtrim(&sb);
		if (sb.len)
			snprintf(id, sizeof(id), "%s", sb.buf);
	}
	sb_release(&sb);
	if (!id[0] && gethostname(id, sizeof(id) - 1) < 0)
		snprintf(id, sizeof(id), "unknown");
	return id;
}

int sched_owner_alive(struct store *st, const char *owner)
{
	const char *hash = owner ? strrchr(owner, '#') : NULL;
	struct store_lease l = { 0 };
	int64_t epoch;
	int ret, alive;

	if (!hash)
		return owner_alive(owner);
	epoch = strtoll(hash + 1, NULL, 10);
	ret = store_lease_get(st, epoch, &l);
	if (ret == STORE_NOT_FOUND)
		return 0;
	if (ret < 0)
		return 1; /* cannot tell: never take a run over on a guess */
	if (!strcmp(l.host, sched_host_id()))
		alive = owner_alive(owner);
	else
		alive = !store_lease_dead(&l);
	store_lease_release(&l);
	return alive;
}

int sched_scheduler_running(struct store *st, const char *data_dir)
{
	struct store_lease *v;
	size_t n;
	int alive = 0;

	if (sched_serve_running(data_dir))
		return 1;
	/* A serve of another data folder or machine on this store runs its runs too. */
	if (store_lease_list(st, &v, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !alive; i++)
		alive = strcmp(v[i].host, sched_host_id()) ? !store_lease_dead(&v[i])
							   : owner_alive(v[i].owner);
	store_lease_list_free(v, n);
	return alive;
}

/* Leases of this host whose process is gone (a serve killed with -9) end now; counts the live. */
static void look_around(struct sched *s)
{
	struct store_lease *v;
	size_t n;
	int live = 0;

	if (store_lease_list(s->store, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (v[i].epoch != s->epoch && !strcmp(v[i].host, sched_host_id()) &&
		    !owner_alive(v[i].owner))
			store_lease_expire(s->store, v[i].epoch, 0);
		else if (v[i].age_ms < v[i].ttl_ms)
			live++;
	}
	s->live_leases = live;
	store_lease_list_free(v, n);
}

/*
 * The watchdog (shared stores only): a child process, forked while this one
 * has no other thread yet, that the scheduler tells of each heartbeat that
 * got through.  When none came for schedulers.watchdog (the scheduler is
 * stopped, or stuck) or the scheduler died without saying goodbye (kill -9),
 * it kills every process of the scheduler's tries (by their SF_TRY_KEY,
 * procs.h), before another host may take the runs over (lease_ttl + grace):
 * a try never runs on beside its adopter's new one.  The scheduler itself
 * does the same when it can (suspend(), below), a little earlier.
 */

static void suspend(struct sched *s);

static int one_thread(void)
{
	struct strbuf st = STRBUF_INIT;
	const char *t;
	int n = 0;

	if (sb_read_file(&st, "/proc/self/status") == 0 && (t = strstr(st.buf, "\nThreads:")))
		n = atoi(t + 9);
	sb_release(&st);
	return n == 1;
}

static void watchdog_main(int fd, const char *sched_id, int64_t after_ms)
{
	int64_t beat = time_mono_ms();
	int fired = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t now;
		char buf[64];
		ssize_t n;

		if (poll(&p, 1, 250) > 0) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0 && memchr(buf, 'q', (size_t)n))
				_exit(0); /* a clean stop: it ends its tries itself */
			if (n <= 0) {
				procs_kill_sched(sched_id, 5000); /* it died */
				_exit(0);
			}
			beat = time_mono_ms();
			fired = 0;
		}
		now = time_mono_ms();
		if (!fired && now - beat >= after_ms) {
			procs_kill_sched(sched_id, 5000);
			fired = 1;
		}
	}
}

static void watchdog_start(struct sched *s)
{
	int sv[2];
	pid_t pid;

	if (!store_shared(s->store))
		return; /* SQLite: every adopter is on this host and kills leftovers itself */
	if (!one_thread()) {
		warning("no watchdog for this scheduler's tries: it was started with threads running");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		warning("no watchdog for this scheduler's tries: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		warning("no watchdog for this scheduler's tries: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (!pid) {
		/* Not the store's connection nor anything else of the scheduler: only its end. */
		if (sv[1] > 3)
			close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0U, 0);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGINT, SIG_IGN); /* a Ctrl-C stops the scheduler, which says 'q' */
		prctl(PR_SET_NAME, "sf-watchdog");
		prctl(PR_SET_CHILD_SUBREAPER, 0);
		watchdog_main(sv[1], s->id, s->opts.cfg->sched_watchdog_ms);
	}
	close(sv[1]);
	s->wd_fd = sv[0];
	s->wd_pid = pid;
}

static void watchdog_say(struct sched *s, char c)
{
	if (s->wd_fd >= 0 && send(s->wd_fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
	    errno != EAGAIN) {
		close(s->wd_fd);
		s->wd_fd = -1;
	}
}

static void watchdog_stop(struct sched *s)
{
	if (s->wd_fd < 0)
		return;
	watchdog_say(s, 'q');
	if (s->wd_fd >= 0)
		close(s->wd_fd);
	s->wd_fd = -1;
	waitpid(s->wd_pid, NULL, 0); /* at once: it ends on 'q' (or was reaped already) */
}

void sched_lease_check(struct sched *s)
{
	/* Stopped or stalled past suspend_after (the watchdog may have ended our tries): say so first. */
	if (s->epoch && store_shared(s->store) && !s->suspended && !s->lease_lost &&
	    time_mono_ms() - s->beat_ok_at >= suspend_after(s))
		suspend(s);
}

int sched_lease_take(struct sched *s)
{
	struct strbuf owner = STRBUF_INIT;

	look_around(s);
	if (store_lease_take(s->store, sched_host_id(), (int)getpid(), s->owner,
			     s->opts.cfg->sched_lease_ttl_ms, s->opts.cfg->sched_grace_ms, &s->epoch) < 0)
		return error("cannot register this scheduler in the store");
	sb_addf(&owner, "%s#%lld", s->owner, (long long)s->epoch);
	if (owner.len >= sizeof(s->owner))
		BUG("owner '%s' too long", owner.buf);
	memcpy(s->owner, owner.buf, owner.len + 1);
	sb_release(&owner);
	watchdog_start(s);
	/* The first heartbeat now: the duties held start before the loop does. */
	s->beat_ok_at = s->next_beat = time_mono_ms();
	sched_lease_tick(s);
	return 0;
}

/* The duties' names in the store (schedulers.duties), in the order they are listed. */
static const struct {
	unsigned bit;
	const char *name;
} duty_names[] = {
	{ SCHED_DUTY_DELIVERIES, "deliveries" },
	{ SCHED_DUTY_FILES, "files" },
	{ SCHED_DUTY_SCHEDULES, "schedules" },
};

static unsigned duties_of(const char *list)
{
	unsigned bits = 0;

	while (list && *list) {
		size_t len = strcspn(list, ",");
		for (size_t i = 0; i < ARRAY_SIZE(duty_names); i++)
			if (strlen(duty_names[i].name) == len && !strncmp(list, duty_names[i].name, len))
				bits |= duty_names[i].bit;
		list += len + (list[len] == ',');
	}
	return bits;
}

static void set_duties(struct sched *s, unsigned bits)
{
	struct strbuf names = STRBUF_INIT;

	if (bits == s->duties)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(duty_names); i++)
		if (bits & duty_names[i].bit)
			sb_addf(&names, "%s%s", names.len ? ", " : "", duty_names[i].name);
	note("synthflow serve: once-only duties held now: %s", names.len ? names.buf : "none");
	sb_release(&names);
	/* rows written while another delivered them may wait: look now */
	if (bits & ~s->duties & SCHED_DUTY_DELIVERIES)
		s->out_check = 1;
	s->duties = bits;
	if (s->opts.duties_changed)
		s->opts.duties_changed(bits, s->opts.duties_arg);
}

int sched_duty_held(const struct sched *s, unsigned duty)
{
	return (s->duties & duty) && sched_lease_fresh(s);
}

/*
 * Cut off (or too slow) for suspend_after: another scheduler may take our
 * runs `grace` after our lease runs out, so our tries end now, before that
 * (two tries of one instance never run at once), and nothing new starts
 * until a heartbeat gets through.  Tries on a cluster (Slurm) go on: a
 * scheduler that takes the run over follows the same job.
 */
static void suspend(struct sched *s)
{
	size_t killed = 0;

	s->suspended = 1;
	set_duties(s, 0);
	for (size_t i = 0; i < s->nprocs; i++)
		if (!s->procs[i]->ops->remote) {
			sched_kill(s, s->procs[i]->ti, KILL_LEASE);
			killed++;
		}
	error("this scheduler could not renew its lease for %g s: %zu running tries stopped, "
	      "nothing starts until the store answers again",
	      (double)suspend_after(s) / 1000, killed);
}

void sched_lease_tick(struct sched *s)
{
	int64_t now = time_mono_ms();
	char *held = NULL;
	int ret;

	if (!s->epoch || s->lease_lost || now < s->next_beat)
		return;
	s->next_beat = now + s->opts.cfg->sched_heartbeat_ms;
	/* Stopping: the duties go to another scheduler at once. */
	ret = store_lease_elect(s->store, s->epoch, s->stopping ? "" : "deliveries,files,schedules",
				&held);
	if (ret == 0) {
		s->beat_ok_at = now;
		watchdog_say(s, 'b');
		set_duties(s, duties_of(held));
		free(held);
		if (s->suspended)
			note("the lease is renewed again: this scheduler goes on");
		s->suspended = 0;
		look_around(s);
		/* Owners die without a word to the store: look at the runs again now and then. */
		s->polled = 0;
	} else if (ret == STORE_NOT_FOUND) {
		sched_fenced(s);
	} else if (store_shared(s->store) && !s->suspended &&
		   now - s->beat_ok_at >= suspend_after(s)) {
		suspend(s);
	}
}

int sched_lease_fresh(const struct sched *s)
{
	/* SQLite: adopters are on this host and go by the process table, never by age. */
	if (!s->epoch || !store_shared(s->store))
		return !s->lease_lost;
	return !s->lease_lost && !s->suspended && time_mono_ms() - s->beat_ok_at < suspend_after(s);
}

void sched_fenced(struct sched *s)
{
	if (s->lease_lost)
		return;
	s->lease_lost = 1;
	s->stop = 1;
	set_duties(s, 0);
	error("this scheduler's lease (epoch %lld) was ended by another scheduler, which took its "
	      "runs over; stopping without writing anything more",
	      (long long)s->epoch);
}

void sched_lease_drop(struct sched *s)
{
	watchdog_stop(s);
	if (s->epoch && !s->lease_lost)
		store_lease_drop(s->store, s->epoch);
	s->epoch = 0;
	for (size_t i = 0; i < s->ngone; i++)
		free(s->gone[i].host);
	free(s->gone);
	s->gone = NULL;
	s->ngone = 0;
}

static const char *gone_host(struct sched *s, int64_t epoch)
{
	for (size_t i = 0; i < s->ngone; i++)
		if (s->gone[i].epoch == epoch)
			return s->gone[i].host;
	return NULL;
}

int sched_take_over(struct sched *s, const struct store_run *r, char **host)
{
	const char *hash = r->owner ? strrchr(r->owner, '#') : NULL;
	struct store_lease l = { 0 };
	int64_t epoch;
	int ret, gone = 0;

	*host = NULL;
	if (r->owner && !hash && owner_alive(r->owner))
		return 1;
	if (store_begin(s->store) < 0)
		return 1;
	epoch = hash ? strtoll(hash + 1, NULL, 10) : 0;
	ret = hash ? store_lease_get(s->store, epoch, &l) : STORE_NOT_FOUND;
	if (ret == 0) {
		int local = !strcmp(l.host, sched_host_id());
		/* Ended in this transaction: its next batch (or heartbeat) finds it gone. */
		if (local && !owner_alive(r->owner))
			gone = store_lease_expire(s->store, l.epoch, 0) == 0;
		else if (!local && store_lease_dead(&l))
			gone = store_lease_expire(s->store, l.epoch, l.ttl_ms + l.grace_ms) == 0;
		if (gone && !local) {
			*host = xstrdup(l.host);
			ALLOC_GROW(s->gone, s->ngone + 1, s->gone_alloc);
			s->gone[s->ngone++] = (struct gone_lease){ .epoch = epoch,
								   .host = xstrdup(l.host) };
		}
		store_lease_release(&l);
	} else if (ret == STORE_NOT_FOUND) {
		/* Ended: by us for one of its runs just before this one, or by its clean stop. */
		gone = 1;
		if (gone_host(s, epoch))
			*host = xstrdup(gone_host(s, epoch));
	}
	if (gone && store_run_claim(s->store, r->run_id, r->owner, s->owner) == 0 &&
	    store_commit(s->store) == 0) {
		if (*host)
			warning("run %s: taken over from host '%s', whose scheduler stopped renewing "
				"its lease", r->run_id, *host);
		return 0;
	}
	store_rollback(s->store);
	free(*host);
	*host = NULL;
	return 1;
}

int64_t sched_claim_limit(struct sched *s)
{
	size_t active = 0;

	/* Alone on the store: every queued run, as with SQLite. */
	if (!store_shared(s->store) || s->live_leases <= 1)
		return -1;
	/* Several: a share, so that the others get runs too. */
	for (size_t i = 0; i < s->nruns; i++)
		active += !run_state_is_final(s->runs[i]->state);
	return active < (size_t)s->parallelism ? (int64_t)(s->parallelism - active) : 0;
}
