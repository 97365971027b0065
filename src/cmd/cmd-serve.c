/*
 * synthflow serve: the engine daemon.  The scheduler (src/flow/sched.h) runs
 * in this thread; it takes queued runs from the store, so anything that can
 * write the store (trigger, the web API in another thread of this process)
 * starts runs without talking to it directly.
 */
#include <pthread.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/dag.h"
#include "flow/notyet.h"
#include "flow/sched.h"
#include "flow/schedule.h"
#include "flow/watch-serve.h"
#include "util/common.h"
#include "web/web.h"

struct serve_parts {
	const struct config *cfg;
	struct sched *sched;
	pthread_mutex_t lock;        /* the watcher, which the web thread's /metrics reads */
	struct watcher *watcher;     /* while this serve holds the files duty */
	struct schedules *schedules; /* while it holds the schedules duty */
	int failed;                  /* one of them could not start */
};

static void serve_metrics(struct strbuf *out, void *arg)
{
	struct serve_parts *p = arg;

	sched_metrics(p->sched, out);
	pthread_mutex_lock(&p->lock);
	if (p->watcher)
		watcher_metrics(p->watcher, out);
	pthread_mutex_unlock(&p->lock);
}

/*
 * From the watcher's thread, after it committed runs: the scheduler starts
 * them now instead of at its next look at the store (up to 50 ms later).
 * p->sched is set before sched_run() can start the watcher.
 */
static void wake_scheduler(void *arg)
{
	struct serve_parts *p = arg;

	sched_wake(p->sched);
}

/*
 * The once-only duties this serve was elected to (sched.h), from the
 * scheduler's thread: the downloaded/ watcher and the schedules run only
 * while it holds theirs, so that with several serves on one store one of
 * each runs.
 */
static void serve_duties(unsigned duties, void *arg)
{
	struct serve_parts *p = arg;
	struct watcher *w;

	if ((duties & SCHED_DUTY_FILES) && !p->watcher) {
		/* New files in downloaded/ become runs through the store, like triggers. */
		w = watcher_start(p->cfg, wake_scheduler, p);
		pthread_mutex_lock(&p->lock);
		p->watcher = w;
		pthread_mutex_unlock(&p->lock);
		p->failed |= !w;
	} else if (!(duties & SCHED_DUTY_FILES) && p->watcher) {
		pthread_mutex_lock(&p->lock);
		w = p->watcher;
		p->watcher = NULL;
		pthread_mutex_unlock(&p->lock);
		watcher_stop(w);
	}
	if ((duties & SCHED_DUTY_SCHEDULES) && !p->schedules) {
		p->schedules = schedules_start(p->cfg);
		p->failed |= !p->schedules;
	} else if (!(duties & SCHED_DUTY_SCHEDULES) && p->schedules) {
		schedules_stop(p->schedules);
		p->schedules = NULL;
	}
	if (p->failed && p->sched)
		sched_stop(p->sched);
}

static void serve_parts_stop(struct serve_parts *p)
{
	serve_duties(0, p);
	pthread_mutex_destroy(&p->lock);
}

/* What the settings and the DAGs ask for that nothing does yet (notyet.h). */
static void warn_not_acted_on(const struct config *cfg)
{
	struct dag_set set = { 0 };
	struct strvec w = STRVEC_INIT;

	notyet_config_warn(cfg);
	dagset_load(&set, cfg->data_dir, NULL);
	for (size_t i = 0; i < set.n; i++) {
		notyet_dag(set.dags[i], &w);
		for (size_t j = 0; j < w.nr; j++)
			warning("DAG '%s': %s", set.dags[i]->id, w.v[j]);
		strvec_clear(&w);
	}
	dagset_release(&set);
}

/* The web server's health check: called with metrics_arg, i.e. the parts. */
static int64_t scheduler_tick_age(void *arg)
{
	struct serve_parts *p = arg;

	return sched_tick_age_ms(p->sched);
}

static struct web *start_web(struct web_opts *wo)
{
	struct web *w = web_start(wo);

	if (!w)
		return NULL;
	if (web_is_public(w))
		warning("the web server listens on '%s', not only on this machine: anyone who "
			"can reach it and has the token controls your runs",
			wo->bind ? wo->bind : wo->cfg->web_bind);
	fprintf(stderr, "synthflow serve: web UI and API; open this URL in a browser:\n");
	printf("%s\n", web_url(w));
	fflush(stdout);
	return w;
}

static int exec_serve(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct serve_parts parts = { .cfg = &ctx->cfg, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sched_opts so = { .cfg = &ctx->cfg, .serve = 1, .duties_changed = serve_duties,
				 .duties_arg = &parts };
	struct web_opts wo = { .cfg = &ctx->cfg, .bind = cmd_str(a, "bind", NULL),
			       .port = (int)cmd_int(a, "port", -1) };
	struct strbuf clock_err = STRBUF_INIT;
	struct sched *s;
	struct web *w;
	int ret;

	warn_not_acted_on(&ctx->cfg);
	if (schedule_clock_init(&clock_err) < 0)
		die("%s", clock_err.buf);
	/* Its first heartbeat starts the watcher and the schedules it was elected to. */
	s = sched_new(&so);
	if (!s || parts.failed) {
		serve_parts_stop(&parts);
		sched_free(s);
		return 1;
	}
	parts.sched = s;
	cmd_stop_on_signals(s);
	/* After the handlers: a client may stop us as soon as it reads the URL. */
	wo.metrics = serve_metrics;
	wo.metrics_arg = &parts;
	wo.tick_age_ms = scheduler_tick_age;
	w = start_web(&wo);
	if (!w) {
		cmd_stop_on_signals(NULL);
		serve_parts_stop(&parts);
		sched_free(s);
		return 1;
	}
	fprintf(stderr, "synthflow serve: scheduler running for %s (pid %d, parallelism %d)\n",
		ctx->cfg.data_dir, (int)getpid(), config_parallelism(&ctx->cfg));
	ret = sched_run(s);
	cmd_stop_on_signals(NULL);
	web_stop(w);
	serve_parts_stop(&parts);
	sched_free(s);
	fprintf(stderr, "synthflow serve: stopped\n");
	return ret < 0 || parts.failed ? 1 : 0;
}

const struct cmd_entry cmd_serve_entry = {
	.name = "serve",
	.summary = "the engine daemon: runs queued DAG runs",
	.usage = "synthflow serve [--bind ADDR] [--port N]\n"
		 "\n"
		 "Runs every queued DAG run (from 'trigger', the web UI) and takes over runs\n"
		 "left behind by a scheduler that stopped.  One per data folder with SQLite;\n"
		 "several may share a PostgreSQL store (docs/engine.md).  New files\n"
		 "in downloaded/ start the DAGs whose on_file takes them (docs/events.md).\n"
		 "SIGINT/SIGTERM stop it; running tasks are stopped and run again next time.\n"
		 "\n"
		 "It also serves the web UI and the JSON API (docs/api.md) on web.bind and\n"
		 "web.port of synthflow.yaml (default 127.0.0.1:8881), and prints the URL to\n"
		 "open, with the access token from flow/secret, like Jupyter does.\n"
		 "  --bind ADDR   listen on ADDR (a warning when it is not loopback)\n"
		 "  --port N      listen on port N (0: any free port)\n",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_STRING("bind", 0, "ADDR", "listen on ADDR (a warning when it is not loopback)"),
		CMD_INT("port", 0, "N", 0, 65535, "listen on port N (0: any free port)"),
		CMD_END,
	},
	.exec = exec_serve,
};
