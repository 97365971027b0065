/*
 * The schedules inside `synthflow serve` (schedule.h): one thread with its
 * own store connection.  Once a second, or at the next due time when that
 * is sooner, it compares each unpaused scheduled DAG's fire times with the
 * latest time the store recorded for it.  Each time fires through
 * store_schedule_fire, which writes the time's record and its run in one
 * transaction: a time is never lost to a crash between the two, and a
 * restarted serve (or a second thread) cannot fire it again.
 *
 * Missed times (serve was down, the DAG was paused): with catchup false
 * only the newest fires; with catchup true the newest max_catchup fire,
 * oldest first.  A DAG with no record yet gets a baseline at the current
 * time, so adding a schedule never fires times from before it was seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "core/config.h"
#include "flow/sched.h"
#include "flow/schedule.h"
#include "store/store.h"
#include "util/common.h"
#include "util/timeutil.h"

#define TICK_MS 1000

struct sched_dag {
	struct dag *d;          /* borrowed from the set */
	struct schedule s;
	int ok;                 /* the schedule opened */
};

struct schedules {
	const struct config *cfg;
	struct store *st;
	pthread_t thread;
	int stop_pipe[2];
	struct dag_set dags;
	struct sched_dag *sd;
	size_t nsd;
	char *dags_sig;
};

static void forget_dags(struct schedules *sc)
{
	for (size_t i = 0; i < sc->nsd; i++)
		schedule_close(&sc->sd[i].s);
	free(sc->sd);
	sc->sd = NULL;
	sc->nsd = 0;
	dagset_release(&sc->dags);
}

/* The scheduled DAGs, loaded again when a DAG file changed. */
static void dags_refresh(struct schedules *sc)
{
	char *sig = dagset_signature(sc->cfg->data_dir);

	if (sc->dags_sig && !strcmp(sig, sc->dags_sig)) {
		free(sig);
		return;
	}
	free(sc->dags_sig);
	sc->dags_sig = sig;
	forget_dags(sc);
	dagset_load(&sc->dags, sc->cfg->data_dir, NULL);
	sc->sd = xcalloc(sc->dags.n ? sc->dags.n : 1, sizeof(*sc->sd));
	for (size_t i = 0; i < sc->dags.n; i++) {
		struct strbuf err = STRBUF_INIT;
		struct sched_dag *x;

		if (!sc->dags.dags[i]->schedule)
			continue;
		x = &sc->sd[sc->nsd++];
		x->d = sc->dags.dags[i];
		x->ok = schedule_open(x->d, &x->s, &err) == 0;
		if (!x->ok)
			warning("DAG '%s': its schedule is not acted on: %s", x->d->id, err.buf);
		sb_release(&err);
	}
}

static void fire(struct schedules *sc, const struct dag *d, const struct schedule *s, int64_t at)
{
	struct strbuf err = STRBUF_INIT;
	json_t *none = json_object(), *params = NULL;
	const char *task, *field;
	char *run_id = NULL, when[40];
	int ret;

	tz_format(s->tz, at / 1000, when, sizeof(when));
	/*
	 * A required param without a default (the loader warned), or a run
	 * that could never start: the time passes, said in serve's log.
	 */
	if (dag_params_from_json(d, none, &params, &err) < 0 ||
	    sched_trigger_check(sc->cfg, d, &err, &task, &field) < 0) {
		warning("DAG '%s': no run for its scheduled time %s: %s", d->id, when, err.buf);
		ret = store_schedule_fire(sc->st, d->id, at, NULL, &run_id);
	} else {
		ret = store_schedule_fire(sc->st, d->id, at, params, &run_id);
		if (ret == 0)
			fprintf(stderr, "synthflow serve: schedule of DAG '%s' at %s: run %s\n", d->id,
				when, run_id);
	}
	free(run_id);
	json_decref(params);
	json_decref(none);
	sb_release(&err);
}

/* Fires what is due for one DAG; returns its next fire time (-1: none known). */
static int64_t check_dag(struct schedules *sc, struct sched_dag *x, int64_t now)
{
	size_t keep = x->d->catchup ? (size_t)x->d->max_catchup : 1, n;
	int64_t last, *due;
	int older;

	if (store_schedule_last(sc->st, x->d->id, &last) < 0)
		return -1;
	if (!last) {
		char *none = NULL;
		/* first sight: times before now were never this schedule's to fire */
		if (store_schedule_fire(sc->st, x->d->id, now, NULL, &none) < 0)
			return -1;
		return schedule_next(&x->s, now);
	}
	due = xcalloc(keep, sizeof(*due));
	n = schedule_missed(&x->s, last, now, keep, due, &older);
	if (older)
		fprintf(stderr, "synthflow serve: DAG '%s' missed scheduled times before the %zu"
			" it runs now (%s)\n", x->d->id, n,
			x->d->catchup ? "max_catchup" : "catchup: false");
	for (size_t i = 0; i < n; i++)
		fire(sc, x->d, &x->s, due[i]);
	free(due);
	return schedule_next(&x->s, now);
}

static void *schedules_main(void *arg)
{
	struct schedules *sc = arg;

	for (;;) {
		struct pollfd pfd = { sc->stop_pipe[0], POLLIN, 0 };
		int64_t now = schedule_now(), wait = TICK_MS;
		json_t *paused = NULL;

		dags_refresh(sc);
		if (sc->nsd && store_dag_paused_all(sc->st, &paused) == 0) {
			for (size_t i = 0; i < sc->nsd; i++) {
				int64_t next;
				if (!sc->sd[i].ok || json_is_true(json_object_get(paused, sc->sd[i].d->id)))
					continue;
				next = check_dag(sc, &sc->sd[i], now);
				if (next >= 0 && next - schedule_now() < wait)
					wait = next - schedule_now();
			}
		}
		json_decref(paused);
		if (poll(&pfd, 1, wait < 0 ? 0 : (int)wait) > 0)
			break;
	}
	return NULL;
}

struct schedules *schedules_start(const struct config *cfg)
{
	struct schedules *sc = xcalloc(1, sizeof(*sc));

	sc->cfg = cfg;
	sc->st = store_open(cfg->flow_store, cfg->data_dir);
	if (!sc->st || pipe2(sc->stop_pipe, O_CLOEXEC) < 0) {
		if (sc->st)
			store_close(sc->st);
		free(sc);
		return NULL;
	}
	if (pthread_create(&sc->thread, NULL, schedules_main, sc)) {
		error("cannot start the schedules thread");
		close(sc->stop_pipe[0]);
		close(sc->stop_pipe[1]);
		store_close(sc->st);
		free(sc);
		return NULL;
	}
	return sc;
}

void schedules_stop(struct schedules *sc)
{
	ssize_t r;

	if (!sc)
		return;
	r = write(sc->stop_pipe[1], "x", 1);
	(void)r;
	pthread_join(sc->thread, NULL);
	close(sc->stop_pipe[0]);
	close(sc->stop_pipe[1]);
	forget_dags(sc);
	free(sc->dags_sig);
	store_close(sc->st);
	free(sc);
}
