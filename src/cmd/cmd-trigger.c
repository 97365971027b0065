/* synthflow trigger DAG [-p K=V]... [--wait]: queues a run for `serve`. */
#include <getopt.h>

#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"

static int trigger(struct sf_ctx *ctx, const struct dag *d, json_t *params, int wait)
{
	struct store *st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	enum run_state state = RUN_FAILED;
	char *run_id = NULL;
	int ret = 1;

	if (!st)
		return 1;
	if (sched_trigger(st, d, params, &run_id) == 0) {
		printf("%s\n", run_id);
		fflush(stdout);
		ret = 0;
		if (wait)
			ret = run_wait(st, run_id, &state) == 0 && state == RUN_SUCCESS ? 0 : 1;
	}
	free(run_id);
	store_close(st);
	return ret;
}

int cmd_trigger(int argc, char **argv, struct sf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "param", required_argument, NULL, 'p' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	char **kv = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t nkv = 0;
	int wait = 0, c, ret = 1;
	struct dag *d;
	json_t *params = NULL;
	const char *bad = NULL;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:", opts, NULL)) != -1) {
		if (c == 'p') {
			kv[nkv++] = optarg;
		} else if (c == 'w') {
			wait = 1;
		} else if (c == ':') {
			free(kv);
			return cmd_usage_error(ctx, "option '%s' needs a value", argv[optind - 1]);
		} else {
			free(kv);
			return cmd_usage_error(ctx, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc || (bad = run_kv_malformed(kv, nkv))) {
		free(kv);
		if (optind + 1 != argc)
			return cmd_usage_error(ctx, optind >= argc ? "'trigger' needs a DAG id"
								    : "too many arguments");
		return cmd_usage_error(ctx, "malformed param '%s': expected -p KEY=VALUE", bad);
	}
	d = run_load_dag(ctx->cfg.data_dir, argv[optind]);
	if (d && run_params(d, kv, nkv, &params) == 0)
		ret = trigger(ctx, d, params, wait);
	json_decref(params);
	dag_free(d);
	free(kv);
	return ret;
}
