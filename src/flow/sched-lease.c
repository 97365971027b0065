/*
 * The lease a `serve` holds in the store while it runs (docs/engine.md,
 * "Schedulers and leases"): taken when it starts, renewed by a heartbeat
 * every LEASE_BEAT_MS from the loop, ended when it stops.  Its epoch is
 * part of the owner string the scheduler writes in runs.owner
 * ("PID:START@PIDNS#EPOCH"), so anyone who reads a run can ask the store
 * whether its owner still holds its lease.
 *
 * Is an owner alive?  On its own machine (same host id) the process table
 * says so exactly and at once, as it did before leases (owner_alive); on
 * another machine only the lease can: its owner is alive until its
 * heartbeat is LEASE_TTL_MS + LEASE_GRACE_MS old.  A lease that is gone
 * (ended, or ended by the scheduler that took its runs over) is dead.
 */
#include <errno.h>
#include <unistd.h>

#include "flow/sched-int.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

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
		alive = l.age_ms < LEASE_TTL_MS + LEASE_GRACE_MS;
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
		alive = strcmp(v[i].host, sched_host_id()) ? v[i].age_ms < LEASE_TTL_MS + LEASE_GRACE_MS
							   : owner_alive(v[i].owner);
	store_lease_list_free(v, n);
	return alive;
}

/* Leases of this host whose process is gone (a serve killed with -9) end now. */
static void drop_dead_local(struct sched *s)
{
	struct store_lease *v;
	size_t n;

	if (store_lease_list(s->store, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].host, sched_host_id()) && !owner_alive(v[i].owner))
			store_lease_drop(s->store, v[i].epoch);
	store_lease_list_free(v, n);
}

int sched_lease_take(struct sched *s)
{
	struct strbuf owner = STRBUF_INIT;

	drop_dead_local(s);
	if (store_lease_take(s->store, sched_host_id(), (int)getpid(), s->owner, &s->epoch) < 0)
		return error("cannot register this scheduler in the store");
	sb_addf(&owner, "%s#%lld", s->owner, (long long)s->epoch);
	if (owner.len >= sizeof(s->owner))
		BUG("owner '%s' too long", owner.buf);
	memcpy(s->owner, owner.buf, owner.len + 1);
	sb_release(&owner);
	/* The first heartbeat, at the loop's first turn, records the duties. */
	s->beat_ok_at = s->next_beat = time_mono_ms();
	return 0;
}

void sched_lease_tick(struct sched *s)
{
	int64_t now = time_mono_ms();
	int ret;

	if (!s->epoch || now < s->next_beat)
		return;
	s->next_beat = now + LEASE_BEAT_MS;
	ret = store_lease_beat(s->store, s->epoch, "files");
	if (ret == 0) {
		s->beat_ok_at = now;
		s->lease_lost = 0;
	} else if (ret == STORE_NOT_FOUND && !s->lease_lost) {
		s->lease_lost = 1;
		error("this scheduler's lease (epoch %lld) is gone from the store",
		      (long long)s->epoch);
	}
}

void sched_lease_drop(struct sched *s)
{
	if (s->epoch && !s->lease_lost)
		store_lease_drop(s->store, s->epoch);
	s->epoch = 0;
}
