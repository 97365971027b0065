/*
 * synthflow serve: the engine daemon.  The scheduler (src/flow/sched.h) runs
 * in this thread; it takes queued runs from the store, so anything that can
 * write the store (trigger, the web API in another thread of this process)
 * starts runs without talking to it directly.
 */
#include <signal.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/sched.h"
#include "util/common.h"

static struct sched *the_sched;

static void on_signal(int sig)
{
	(void)sig;
	if (the_sched)
		sched_stop(the_sched);
}

int cmd_serve(int argc, char **argv, struct sf_ctx *ctx)
{
	struct sched_opts so = { .cfg = &ctx->cfg, .serve = 1 };
	struct sigaction sa = { 0 };
	struct sched *s;
	int ret;

	if (argc > 1)
		return cmd_usage_error(ctx, "unexpected argument '%s'", argv[1]);
	s = sched_new(&so);
	if (!s)
		return 1;
	the_sched = s;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "synthflow serve: scheduler running for %s (pid %d, parallelism %d)\n",
		ctx->cfg.data_dir, (int)getpid(), config_parallelism(&ctx->cfg));
	ret = sched_run(s);
	the_sched = NULL;
	sched_free(s);
	fprintf(stderr, "synthflow serve: stopped\n");
	return ret < 0 ? 1 : 0;
}
