/* synthflow trigger DAG [-p K=V]... [--wait]: queues a run for `serve`. */
#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"

static int trigger(struct sf_ctx *ctx, const struct dag *d, json_t *params, int wait)
{
	struct store *st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	enum run_state state = RUN_FAILED;
	struct strbuf why = STRBUF_INIT;
	const char *task, *field;
	char *run_id = NULL;
	int ret = 1;

	if (!st)
		return 1;
	sched_end_dead_runs(st, ctx->cfg.data_dir);
	if (sched_trigger_check(&ctx->cfg, d, &why, &task, &field) < 0)
		error("%s; no run was created", why.buf);
	else if (sched_trigger(st, d, params, "manual", &run_id) == 0) {
		printf("%s\n", run_id);
		fflush(stdout);
		ret = 0;
		/* Queued with nobody to run it: say so, and never wait for nothing. */
		if (!sched_scheduler_running(st, ctx->cfg.data_dir)) {
			if (wait) {
				error("no scheduler is running for '%s': run %s stays queued; start one "
				      "with 'synthflow serve' (or run the DAG now with 'synthflow test %s')",
				      ctx->cfg.data_dir, run_id, d->id);
				ret = 1;
			} else {
				warning("no scheduler is running for '%s': run %s stays queued until "
					"'synthflow serve' starts there", ctx->cfg.data_dir, run_id);
			}
		} else if (wait) {
			ret = run_wait(st, run_id, &state) == 0 && state == RUN_SUCCESS ? 0 : 1;
		}
	}
	free(run_id);
	sb_release(&why);
	store_close(st);
	return ret;
}

static int exec_trigger(const struct cmd_args *a, struct sf_ctx *ctx)
{
	size_t nkv;
	char **kv = cmd_list(a, "param", &nkv);
	const char *bad = run_kv_malformed(kv, nkv);
	json_t *params = NULL;
	struct dag *d;
	int ret = 1;

	if (bad)
		return cmd_usage_error(ctx, "malformed param '%s': expected -p KEY=VALUE", bad);
	d = run_load_dag(ctx->cfg.data_dir, a->argv[0]);
	if (d && run_params(d, kv, nkv, &params) == 0)
		ret = trigger(ctx, d, params, cmd_flag(a, "wait"));
	json_decref(params);
	dag_free(d);
	return ret;
}

const struct cmd_entry cmd_trigger_entry = {
	.name = "trigger",
	.summary = "queue a run of a DAG for 'serve'; print its id",
	.usage = "synthflow trigger DAG [-p KEY=VALUE]... [--wait]\n"
		 "\n"
		 "Queues a run of DAG and prints only its run id.  'synthflow serve' starts it\n"
		 "(within 100 ms when it is running; without one, trigger says so on stderr).\n"
		 "--wait blocks until the run has ended and exits 0 when it succeeded, 1 when\n"
		 "not, or at once when no 'serve' runs for the data folder.  A run that could\n"
		 "never start (a local task asking for more cpus than flow.parallelism or more\n"
		 "gpus than the pool holds, of the running serve, else of this configuration)\n"
		 "is refused: nothing is queued and trigger exits 1 naming the task.\n",
	.args = "DAG",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_LIST("param", 'p', "KEY=VALUE", "a param of the run"),
		CMD_FLAG("wait", 0, "wait for the end; exit 0 only when the run succeeded"),
		CMD_END,
	},
	.exec = exec_trigger,
};
