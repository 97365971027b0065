/*
 * synthflow serve: the engine daemon.  The scheduler (src/flow/sched.h) runs
 * in this thread; it takes queued runs from the store, so anything that can
 * write the store (trigger, the web API in another thread of this process)
 * starts runs without talking to it directly.
 */
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/sched.h"
#include "util/common.h"
#include "web/web.h"

static struct sched *the_sched;

static void on_signal(int sig)
{
	(void)sig;
	if (the_sched)
		sched_stop(the_sched);
}

/* --bind ADDR --port N: the web server's address (default web.bind, web.port). */
static int parse_web_opts(int argc, char **argv, struct sf_ctx *ctx, struct web_opts *wo)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long port;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'b') {
			wo->bind = optarg;
		} else if (c == 'p') {
			port = strtol(optarg, &end, 10);
			if (!*optarg || *end || port < 0 || port > 65535)
				return cmd_usage_error(ctx, "--port must be 0..65535, not '%s'", optarg);
			wo->port = (int)port;
		} else {
			return cmd_usage_error(ctx, "unknown option for 'serve'");
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static void scheduler_metrics(struct strbuf *out, void *sched)
{
	sched_metrics(sched, out);
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

int cmd_serve(int argc, char **argv, struct sf_ctx *ctx)
{
	struct sched_opts so = { .cfg = &ctx->cfg, .serve = 1 };
	struct web_opts wo = { .cfg = &ctx->cfg, .port = -1 };
	struct sigaction sa = { 0 };
	struct sched *s;
	struct web *w;
	int ret;

	if ((ret = parse_web_opts(argc, argv, ctx, &wo)))
		return ret;
	s = sched_new(&so);
	if (!s)
		return 1;
	the_sched = s;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* After the handlers: a client may stop us as soon as it reads the URL. */
	wo.metrics = scheduler_metrics;
	wo.metrics_arg = s;
	w = start_web(&wo);
	if (!w) {
		the_sched = NULL;
		sched_free(s);
		return 1;
	}
	fprintf(stderr, "synthflow serve: scheduler running for %s (pid %d, parallelism %d)\n",
		ctx->cfg.data_dir, (int)getpid(), config_parallelism(&ctx->cfg));
	ret = sched_run(s);
	the_sched = NULL;
	web_stop(w);
	sched_free(s);
	fprintf(stderr, "synthflow serve: stopped\n");
	return ret < 0 ? 1 : 0;
}
