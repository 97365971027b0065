/*
 * synthflow files [DAG] [--json] | files retry PATH [--dag DAG]: what the
 * downloaded/ watcher of `serve` saw and what each DAG made of it
 * (docs/events.md), and a deliberate new arrival of a file.
 */
#include "cmd/cmd.h"
#include "flow/run.h"
#include "flow/watch.h"
#include "store/store.h"
#include "util/common.h"

static void print_table(json_t *rows)
{
	struct strbuf path = STRBUF_INIT;
	json_t *r;
	size_t i;

	printf("%-40s  %-24s  %s\n", "PATH", "DAG", "STATUS");
	json_array_foreach(rows, i, r) {
		const char *dag = json_string_value(json_object_get(r, "dag_id"));
		sb_reset(&path);
		watch_printable(&path, json_string_value(json_object_get(r, "path")));
		if (json_is_true(json_object_get(r, "dir")))
			sb_addch(&path, '/');
		printf("%-40s  %-24s  %s\n", path.buf, dag ? dag : "-",
		       json_string_value(json_object_get(r, "status")));
	}
	sb_release(&path);
}

static int files_list(struct sf_ctx *ctx, const char *dag_id, int json)
{
	struct dag *only = NULL;
	struct store *st;
	json_t *rows = NULL;

	if (dag_id && !(only = run_load_dag(ctx->cfg.data_dir, dag_id)))
		return 1;
	st = store_open_reader(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (st)
		rows = watch_files_json(st, only);
	if (rows && json) {
		cmd_print_json(rows);
	} else if (rows) {
		print_table(rows);
		if (!json_array_size(rows) && only && !only->on_file)
			note("DAG '%s' has no on_file: no file in downloaded/ starts it", only->id);
		else if (!json_array_size(rows) && only)
			note("nothing in downloaded/ matches on_file '%s'%s of DAG '%s' yet",
			     only->on_file, only->file_trigger.dirs ? " (folders)" : "", only->id);
		else if (!json_array_size(rows))
			note("no files seen in downloaded/ yet ('synthflow serve' watches it)");
	}
	json_decref(rows);
	if (st)
		store_close(st);
	dag_free(only);
	return rows ? 0 : 1;
}

static int files_retry(struct sf_ctx *ctx, const char *path, const char *dag_id)
{
	struct strbuf err = STRBUF_INIT;
	struct dag_set set = { 0 };
	struct store *st;
	json_t *runs = NULL, *r;
	size_t i;

	dagset_load(&set, ctx->cfg.data_dir, NULL);
	if (dag_id && !run_find_dag(&set, dag_id)) {
		dagset_release(&set);
		return 1;
	}
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (st && !(runs = watch_retry(st, &set, &ctx->cfg, path, dag_id, &err)))
		error("%s", err.buf);
	json_array_foreach(runs, i, r) {
		if (json_is_string(json_object_get(r, "run_id")))
			printf("%s\n", json_string_value(json_object_get(r, "run_id")));
		else
			printf("pending (DAG '%s' is paused)\n",
			       json_string_value(json_object_get(r, "dag_id")));
	}
	json_decref(runs);
	if (st)
		store_close(st);
	dagset_release(&set);
	sb_release(&err);
	return runs ? 0 : 1;
}

/* `files [DAG]` lists; `files retry PATH` (a DAG cannot be called "retry" here). */
static int exec_files(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *dag = cmd_str(a, "dag", NULL);

	if (a->argc && !strcmp(a->argv[0], "retry")) {
		if (a->argc != 2)
			return cmd_usage_error(ctx, "'files retry' needs one PATH in downloaded/");
		if (cmd_flag(a, "json"))
			return cmd_usage_error(ctx, "--json is for the listing, not for 'files retry'");
		return files_retry(ctx, a->argv[1], dag);
	}
	if (a->argc > 1)
		return cmd_usage_error(ctx, "unexpected argument '%s'", a->argv[1]);
	if (dag)
		return cmd_usage_error(ctx, "--dag is for 'files retry'; list one DAG's files with"
				       " 'synthflow files DAG'");
	return files_list(ctx, a->argc ? a->argv[0] : NULL, cmd_flag(a, "json"));
}

const struct cmd_entry cmd_files_entry = {
	.name = "files",
	.summary = "files seen in downloaded/ and the runs they started",
	.usage = "synthflow files [DAG] [--json] | files retry PATH [--dag DAG]\n"
		 "\n"
		 "  files [DAG]   every file (or dirs: true folder) 'serve' saw in downloaded/ and\n"
		 "                what became of it per DAG: run RUN, pending (paused), waiting\n"
		 "                (being written), ignored (no DAG matches), ignored (on_change:\n"
		 "                ignore), failed (why), gone (deleted), unreadable (why), ignored\n"
		 "                (why: a link, a FIFO, a name that is not UTF-8)\n"
		 "  retry PATH    a new arrival of PATH (relative to downloaded/, or absolute) for\n"
		 "                every DAG whose on_file takes it, or only --dag DAG: a new run\n"
		 "                (pending while the DAG is paused), e.g. after fixing the DAG\n"
		 "\n"
		 "How files become runs is described in docs/events.md.\n",
	.args = "[DAG] [FILE]",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("json", 0, "print a JSON array, one object per file and DAG"),
		CMD_STRING("dag", 0, "DAG", "retry: only for this DAG"),
		CMD_END,
	},
	.exec = exec_files,
};
