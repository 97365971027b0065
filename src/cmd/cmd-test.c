/*
 * synthflow test DAG [-p K=V]... [--task T] [--json]: runs a DAG now, in the
 * foreground, with a scheduler of its own (no server needed).  The run is
 * recorded in the store like any other; Ctrl-C cancels it.
 */
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"

static struct sched *the_sched;

static void on_signal(int sig)
{
	(void)sig;
	if (the_sched)
		sched_stop(the_sched);
}

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

struct test_opts {
	const char *dag_id, *task;
	char **kv;
	size_t nkv;
	int json;
};

static int parse(int argc, char **argv, struct sf_ctx *ctx, struct test_opts *o)
{
	static const struct option opts[] = {
		{ "param", required_argument, NULL, 'p' },
		{ "task", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bad;
	int c;

	o->kv = xcalloc((size_t)argc + 1, sizeof(char *));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o->kv[o->nkv++] = optarg; break;
		case 't': o->task = optarg; break;
		case 'j': o->json = 1; break;
		case ':': return cmd_usage_error(ctx, "option '%s' needs a value", argv[optind - 1]);
		default: return cmd_usage_error(ctx, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(ctx, "'test' needs a DAG id");
	if (optind + 1 < argc)
		return cmd_usage_error(ctx, "too many arguments");
	o->dag_id = argv[optind];
	if ((bad = run_kv_malformed(o->kv, o->nkv)))
		return cmd_usage_error(ctx, "malformed param '%s': expected -p KEY=VALUE", bad);
	return 0;
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

static int run_test(struct sf_ctx *ctx, const struct test_opts *o, const struct dag *d,
		    json_t *params)
{
	int shown = 0, tty = !o->json && isatty(2);
	struct sched_opts so = { .cfg = &ctx->cfg, .only_task = o->task,
				 .progress = tty ? show_progress : NULL, .progress_arg = &shown };
	struct sched *s = sched_new(&so);
	struct store *st;
	struct store_run r = { 0 };
	char *run_id = NULL;
	int ret = 1;

	if (!s)
		return 1;
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!st || store_run_create(st, d->id, params, sched_owner(s), &run_id) < 0)
		goto out;
	if (!o->json) {
		printf("%s\n", run_id);
		fflush(stdout);
	}
	the_sched = s;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (sched_add_run(s, run_id, d->path) < 0)
		goto out;
	if (sched_run(s) < 0) {
		error("run %s: its state could not be written to the store", run_id);
		goto out;
	}
	if (shown)
		fputs("\r\033[K", stderr);
	if (o->json) {
		json_t *j;
		if (store_run_load_json(st, run_id, &j))
			goto out;
		char *text = json_dumps(j, JSON_INDENT(2));
		puts(text);
		free(text);
		json_decref(j);
	} else {
		summarize(st, run_id);
	}
	if (store_run_get(st, run_id, &r) == 0)
		ret = r.state == RUN_SUCCESS ? 0 : 1;
	store_run_release(&r);
out:
	the_sched = NULL;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	free(run_id);
	store_close(st);
	sched_free(s);
	return ret;
}

int cmd_test(int argc, char **argv, struct sf_ctx *ctx)
{
	struct test_opts o = { 0 };
	struct dag *d;
	json_t *params = NULL;
	int ret = parse(argc, argv, ctx, &o);

	if (ret) {
		free(o.kv);
		return ret;
	}
	ret = 1;
	d = run_load_dag(ctx->cfg.data_dir, o.dag_id);
	if (d && (!o.task || run_find_task(d, o.task)) && run_params(d, o.kv, o.nkv, &params) == 0)
		ret = run_test(ctx, &o, d, params);
	json_decref(params);
	dag_free(d);
	free(o.kv);
	return ret;
}
