/* synthflow runs list [DAG] | show RUN | cancel RUN */
#include <getopt.h>

#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"

#define DEFAULT_LIMIT 50

static void print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	puts(text);
	free(text);
}

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
		print_json(root);
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

/*
 * "provenance" of the run (its host, variables, programs) and of each task
 * instance (docs/replication.md); null where none was recorded.
 */
static int add_provenance(struct store *st, const char *run_id, json_t *run)
{
	json_t *prov, *tasks, *t;
	size_t i;

	if (store_prov_load(st, run_id, &prov) < 0)
		return -1;
	tasks = json_object_get(prov, "tasks");
	json_array_foreach(json_object_get(run, "tasks"), i, t) {
		json_t *idx = json_object_get(t, "index");
		char *key = store_prov_key(json_string_value(json_object_get(t, "task_id")),
					   json_is_integer(idx) ? (int)json_integer_value(idx) : -1);
		json_t *doc = json_object_get(tasks, key);
		json_object_set(t, "provenance", doc ? doc : json_null());
		free(key);
	}
	json_object_set(run, "provenance", json_object_get(prov, "run"));
	json_decref(prov);
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
		    add_provenance(st, run_id, j) < 0) {
			json_decref(j);
			sb_release(&err);
			store_ti_list_free(tis, n);
			store_run_release(&r);
			return 1;
		}
		json_object_set_new(j, "metrics", metrics);
		print_json(j);
		json_decref(j);
	} else {
		run_print(stdout, &r, tis, n);
	}
	store_ti_list_free(tis, n);
	store_run_release(&r);
	return 0;
}

static int runs_cancel(struct store *st, const char *run_id)
{
	struct store_run r = { 0 };

	if (run_find(st, run_id, &r) < 0)
		return 1;
	store_run_release(&r);
	if (sched_cancel(st, run_id))
		return 1;
	printf("run %s: cancel requested\n", run_id);
	return 0;
}

int cmd_runs(int argc, char **argv, struct sf_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub;
	struct store *st;
	int json = 0, c, ret, nargs;
	long limit = DEFAULT_LIMIT;
	char *end;

	if (argc < 2)
		return cmd_usage_error(ctx, "'runs' needs list, show or cancel");
	sub = argv[1];
	argc--;
	argv++;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'l') {
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 0)
				return cmd_usage_error(ctx, "bad --limit '%s'", optarg);
		} else if (c == ':') {
			return cmd_usage_error(ctx, "option '%s' needs a value", argv[optind - 1]);
		} else {
			return cmd_usage_error(ctx, "unknown option '%s' for 'runs %s'", argv[optind - 1], sub);
		}
	}
	nargs = argc - optind;
	if (!strcmp(sub, "list")) {
		if (nargs > 1)
			return cmd_usage_error(ctx, "too many arguments");
	} else if (!strcmp(sub, "show") || !strcmp(sub, "cancel")) {
		if (nargs != 1)
			return cmd_usage_error(ctx, "'runs %s' needs one RUN id", sub);
	} else {
		return cmd_usage_error(ctx, "unknown subcommand 'runs %s'", sub);
	}
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!st)
		return 1;
	if (!strcmp(sub, "list"))
		ret = runs_list(ctx, st, nargs ? argv[optind] : NULL, (size_t)limit, json);
	else if (!strcmp(sub, "show"))
		ret = runs_show(st, argv[optind], json);
	else
		ret = runs_cancel(st, argv[optind]);
	store_close(st);
	return ret;
}
