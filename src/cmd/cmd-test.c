/*
 * synthflow test DAG [-p K=V]... [--task T] [--json]: runs a DAG now, in the
 * foreground, with a scheduler of its own (no server needed).  The run is
 * recorded in the store like any other; Ctrl-C cancels it.
 */
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"

/* "[#######.......]  12/500 done  2 running  0 failed" on one rewritten line. */
static void show_progress(const struct sched_progress *p, void *arg)
{
	int *shown = arg;
	char bar[31];
	size_t fill = p->total ? p->done * (sizeof(bar) - 1) / p->total : 0;

	for (size_t i = 0; i < sizeof(bar) - 1; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[sizeof(bar) - 1] = '\0';
	fprintf(stderr, "\r\033[K[%s] %zu/%zu done  %zu running  %zu failed", bar, p->done, p->total,
		p->running, p->failed);
	fflush(stderr);
	*shown = 1;
}

/* On stderr after the run: what failed, and where its log is. */
static void summarize(struct store *st, const char *run_id)
{
	struct store_run r = { 0 };
	struct store_ti *tis = NULL;
	size_t n = 0, bad = 0;

	if (store_run_get(st, run_id, &r) || store_ti_list(st, run_id, &tis, &n) < 0) {
		store_run_release(&r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_try *tries;
		size_t nt;
		if (tis[i].state != TI_FAILED || bad++ >= 10)
			continue;
		if (store_try_list(st, run_id, tis[i].task_id, tis[i].index, &tries, &nt) == 0 && nt)
			fprintf(stderr, "  failed: %s%s%.0d (%s); log: %s\n", tis[i].task_id,
				tis[i].index >= 0 ? "." : "", tis[i].index >= 0 ? tis[i].index : 0,
				tis[i].reason ? tis[i].reason : "", tries[nt - 1].log_path);
		store_try_list_free(tries, nt);
	}
	fprintf(stderr, "run %s: %s (%zu task instances)%s%s\n", run_id, run_state_name(r.state), n,
		r.reason ? ": " : "", r.reason ? r.reason : "");
	store_ti_list_free(tis, n);
	store_run_release(&r);
}

static int run_test(struct sf_ctx *ctx, const struct cmd_args *a, const struct dag *d,
		    json_t *params)
{
	int shown = 0, json = cmd_flag(a, "json"), tty = !json && isatty(2);
	struct sched_opts so = { .cfg = &ctx->cfg, .only_task = cmd_str(a, "task", NULL),
				 .progress = tty ? show_progress : NULL, .progress_arg = &shown };
	struct sched *s = sched_new(&so);
	struct store *st;
	struct store_run r = { 0 };
	char *run_id = NULL;
	int ret = 1;

	if (!s)
		return 1;
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (st)
		sched_end_dead_runs(st, ctx->cfg.data_dir);
	if (!st || store_run_create(st, d->id, params, sched_owner(s), &run_id) < 0)
		goto out;
	if (!json) {
		printf("%s\n", run_id);
		fflush(stdout);
	}
	cmd_stop_on_signals(s);
	if (sched_add_run(s, run_id, d->path) < 0)
		goto out;
	if (sched_run(s) < 0) {
		error("run %s: its state could not be written to the store", run_id);
		goto out;
	}
	if (shown)
		fputs("\r\033[K", stderr);
	if (json) {
		json_t *j;
		if (store_run_load_json(st, run_id, &j))
			goto out;
		cmd_print_json(j);
		json_decref(j);
	} else {
		summarize(st, run_id);
	}
	if (store_run_get(st, run_id, &r) == 0)
		ret = r.state == RUN_SUCCESS ? 0 : 1;
	store_run_release(&r);
out:
	cmd_stop_on_signals(NULL);
	free(run_id);
	store_close(st);
	sched_free(s);
	return ret;
}

static int exec_test(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *task = cmd_str(a, "task", NULL), *bad;
	size_t nkv;
	char **kv = cmd_list(a, "param", &nkv);
	struct dag *d;
	json_t *params = NULL;
	int ret = 1;

	if ((bad = run_kv_malformed(kv, nkv)))
		return cmd_usage_error(ctx, "malformed param '%s': expected -p KEY=VALUE", bad);
	d = run_load_dag(ctx->cfg.data_dir, a->argv[0]);
	if (d && (!task || run_find_task(d, task)) && run_params(d, kv, nkv, &params) == 0)
		ret = run_test(ctx, a, d, params);
	json_decref(params);
	dag_free(d);
	return ret;
}

const struct cmd_entry cmd_test_entry = {
	.name = "test",
	.summary = "run a DAG now in the foreground (no server needed)",
	.usage = "synthflow test DAG [-p KEY=VALUE]... [--task TASK] [--json]\n"
		 "\n"
		 "Runs DAG now with a scheduler of its own and waits for the end.  Prints the\n"
		 "run id first (progress goes to stderr, as a bar on a terminal), or with\n"
		 "--json only the final run object.  Params (-p) are checked against the DAG's\n"
		 "schema before anything runs.  --task runs only TASK, without its upstream.\n"
		 "Ctrl-C cancels the run.  Exit status 0 when the run succeeded, else 1.\n",
	.args = "DAG",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_LIST("param", 'p', "KEY=VALUE", "a param of the run"),
		CMD_STRING("task", 0, "TASK", "run only TASK, without its upstream"),
		CMD_FLAG("json", 0, "print only the final run object as JSON"),
		CMD_END,
	},
	.exec = exec_test,
};
