/* synthflow runs list [DAG] | show RUN | cancel RUN */
#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"

#define DEFAULT_LIMIT 50

static int runs_list(struct sf_ctx *ctx, struct store *st, const char *dag_id, size_t limit,
		     int json)
{
	struct store_run_filter f = { .dag_id = dag_id, .limit = limit };
	struct store_run *runs;
	size_t n, total;

	if (store_run_list(st, &f, &runs, &n, &total) < 0)
		return 1;
	if (dag_id && !total) {
		/* No runs: say so, and catch a mistyped DAG id. */
		struct dag_set set = { 0 };
		int known;
		dagset_load(&set, ctx->cfg.data_dir, NULL);
		known = run_find_dag(&set, dag_id) != NULL;
		dagset_release(&set);
		if (!known) {
			store_run_list_free(runs, n);
			return 1;
		}
	}
	if (json) {
		json_t *arr = json_array(), *root;
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, store_run_summary_json(&runs[i]));
		root = json_pack("{s:o, s:I}", "runs", arr, "total", (json_int_t)total);
		cmd_print_json(root);
		json_decref(root);
	} else if (n) {
		run_print_list(stdout, runs, n);
		if (total > n)
			printf("(%zu of %zu runs; --limit 0 shows all)\n", n, total);
	} else {
		printf("no runs yet\n");
	}
	store_run_list_free(runs, n);
	return 0;
}

/* Under the task table: each callback, how it ended and where its output is. */
static int print_callbacks(struct store *st, const char *run_id)
{
	struct store_delivery_filter f = { .run_id = run_id, .kind = "callback" };
	struct store_delivery *v;
	size_t n;

	if (store_delivery_list(st, &f, &v, &n) < 0)
		return -1;
	if (n)
		printf("\nCALLBACK   TASK                 STATE        EXIT  LOG\n");
	for (size_t i = 0; i < n; i++) {
		char exit_code[16] = "-";
		if (v[i].exit_code >= 0)
			snprintf(exit_code, sizeof(exit_code), "%d", v[i].exit_code);
		printf("%-10s %-20s %-12s %4s  %s%s%s\n", v[i].event, v[i].task_id ? v[i].task_id : "-",
		       v[i].state, exit_code, v[i].log_path ? v[i].log_path : "-",
		       v[i].note ? ": " : "", v[i].note ? v[i].note : "");
	}
	store_delivery_list_free(v, n);
	return 0;
}

static int runs_show(struct store *st, const char *run_id, int json)
{
	struct store_run r = { 0 };
	struct store_ti *tis;
	size_t n;

	if (run_find(st, run_id, &r) < 0)
		return 1;
	if (store_ti_list(st, run_id, &tis, &n) < 0) {
		store_run_release(&r);
		return 1;
	}
	if (json) {
		json_t *j = store_run_json(&r, tis, n), *metrics;
		struct store_metrics_query q = { 0 };
		struct strbuf err = STRBUF_INIT;
		size_t total;
		/* what the tasks wrote to $SF_METRICS, every line of every instance */
		if (store_metrics_list(st, r.run_id, &q, &metrics, &total, &err) < 0 ||
		    run_add_provenance(st, run_id, j) < 0 || store_run_add_callbacks(st, run_id, j) < 0) {
			json_decref(j);
			sb_release(&err);
			store_ti_list_free(tis, n);
			store_run_release(&r);
			return 1;
		}
		json_object_set_new(j, "metrics", metrics);
		cmd_print_json(j);
		json_decref(j);
	} else {
		run_print(stdout, &r, tis, n);
		if (print_callbacks(st, run_id) < 0) {
			store_ti_list_free(tis, n);
			store_run_release(&r);
			return 1;
		}
	}
	store_ti_list_free(tis, n);
	store_run_release(&r);
	return 0;
}

static int runs_cancel(struct store *st, const char *data_dir, const char *run_id)
{
	struct store_run r = { 0 };

	if (run_find(st, run_id, &r) < 0)
		return 1;
	store_run_release(&r);
	if (sched_cancel(st, data_dir, run_id))
		return 1;
	printf("run %s: cancel requested\n", run_id);
	return 0;
}

static void print_pair(const char *what, json_t *diff)
{
	const char *k;
	json_t *v;

	json_object_foreach(diff, k, v) {
		char *a = json_dumps(json_array_get(v, 0), JSON_ENCODE_ANY | JSON_COMPACT);
		char *b = json_dumps(json_array_get(v, 1), JSON_ENCODE_ANY | JSON_COMPACT);
		printf("%s %s: %s -> %s\n", what, k, a, b);
		free(a);
		free(b);
	}
}

static void print_ms(json_t *v)
{
	if (json_is_integer(v))
		printf("%10.3fs", (double)json_integer_value(v) / 1000);
	else
		printf("%11s", "-");
}

/* What differs first (params, variables, outputs), then every instance's durations. */
static int runs_diff(struct store *st, const char *a, const char *b, int json)
{
	json_t *d, *t;
	size_t i, differ = 0;

	if (run_diff(st, a, b, &d) < 0)
		return 1;
	if (json) {
		cmd_print_json(d);
		json_decref(d);
		return 0;
	}
	printf("a: %s  b: %s\n", json_string_value(json_object_get(d, "a")),
	       json_string_value(json_object_get(d, "b")));
	print_pair("param", json_object_get(d, "params"));
	print_pair("var", json_object_get(d, "vars"));
	printf("%-40s %-10s %-10s %11s %11s  %s\n", "TASK", "STATE A", "STATE B", "A", "B", "OUTPUTS");
	json_array_foreach(json_object_get(d, "tasks"), i, t) {
		json_t *st2 = json_object_get(t, "state"), *dur = json_object_get(t, "duration_ms");
		size_t nd = json_array_size(json_object_get(t, "outputs_differ"));
		printf("%-40s %-10s %-10s ", json_string_value(json_object_get(t, "key")),
		       json_string_value(json_array_get(st2, 0)) ?: "-",
		       json_string_value(json_array_get(st2, 1)) ?: "-");
		print_ms(json_array_get(dur, 0));
		putchar(' ');
		print_ms(json_array_get(dur, 1));
		if (nd)
			printf("  %zu of %lld differ", nd,
			       (long long)json_integer_value(json_object_get(t, "outputs")));
		else if (json_integer_value(json_object_get(t, "outputs")))
			printf("  same");
		putchar('\n');
		differ += nd;
	}
	printf("%zu params, %zu variables and %zu outputs differ\n",
	       json_object_size(json_object_get(d, "params")),
	       json_object_size(json_object_get(d, "vars")), differ);
	json_decref(d);
	return 0;
}

/* One exec for every sub: they all work on the store. */
static int exec_runs(const struct cmd_args *a, struct sf_ctx *ctx)
{
	/* list and show only read: they work where this user cannot write the store */
	struct store *st = strcmp(ctx->sub, "cancel")
				   ? store_open_reader(ctx->cfg.flow_store, ctx->cfg.data_dir)
				   : store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	int ret;

	if (!st)
		return 1;
	sched_end_dead_runs(st, ctx->cfg.data_dir);
	if (!strcmp(ctx->sub, "list"))
		ret = runs_list(ctx, st, a->argc ? a->argv[0] : NULL,
				(size_t)cmd_int(a, "limit", DEFAULT_LIMIT), cmd_flag(a, "json"));
	else if (!strcmp(ctx->sub, "show"))
		ret = runs_show(st, a->argv[0], cmd_flag(a, "json"));
	else if (!strcmp(ctx->sub, "diff"))
		ret = runs_diff(st, a->argv[0], a->argv[1], cmd_flag(a, "json"));
	else
		ret = runs_cancel(st, ctx->cfg.data_dir, a->argv[0]);
	store_close(st);
	return ret;
}

const struct cmd_entry cmd_runs_entry = {
	.name = "runs",
	.summary = "list, show, cancel and compare DAG runs",
	.usage = "synthflow runs list [DAG] [--limit N] [--json] | show RUN [--json] | cancel RUN\n"
		 "                   | diff RUN_A RUN_B [--json]\n"
		 "\n"
		 "  list [DAG]    the newest runs first (50 unless --limit N; 0 = all)\n"
		 "  show RUN      a run and its task instances (--json: the run object)\n"
		 "  cancel RUN    ends the run as cancelled; running tasks are killed\n"
		 "  diff A B      params and variables that differ, per task instance the\n"
		 "                outputs whose hashes differ, and durations side by side\n",
	.flags = CMD_NEEDS_DATA,
	.subs = (const struct cmd_entry[]){
		{ .name = "list", .summary = "the newest runs first", .args = "[DAG]",
		  .options = (const struct cmd_option[]){
			CMD_INT("limit", 0, "N", 0, 0, "at most N runs (default 50; 0 = all)"),
			CMD_FLAG("json", 0, "print JSON (the web API's objects)"),
			CMD_END,
		  },
		  .exec = exec_runs },
		{ .name = "show", .summary = "a run and its task instances", .args = "RUN",
		  .options = (const struct cmd_option[]){
			CMD_FLAG("json", 0, "print the run object as JSON"),
			CMD_END,
		  },
		  .exec = exec_runs },
		{ .name = "cancel", .summary = "end the run as cancelled; running tasks are killed",
		  .args = "RUN", .exec = exec_runs },
		{ .name = "diff", .summary = "two runs side by side: params, variables, outputs, durations",
		  .args = "RUN RUN",
		  .options = (const struct cmd_option[]){
			CMD_FLAG("json", 0, "print the comparison as JSON"),
			CMD_END,
		  },
		  .exec = exec_runs },
		CMD_END,
	},
};
