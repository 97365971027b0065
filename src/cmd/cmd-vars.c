/* synthflow vars list|get|set|unset|history: variables for {{ vars.X }} templates. */
#include "cmd/cmd.h"
#include "flow/vars.h"
#include "store/store.h"
#include "util/common.h"

static int vars_list(struct store *st, int json)
{
	json_t *vars;
	const char *key;
	json_t *v;

	if (store_var_all(st, &vars) < 0)
		return 1;
	if (json) {
		cmd_print_json(vars);
	} else {
		json_object_foreach(vars, key, v)
			printf("%s=%s\n", key, json_string_value(v));
	}
	json_decref(vars);
	return 0;
}

/* A value as JSON text, so that newlines and quotes stay visible on one line. */
static void print_value(json_t *v)
{
	char *s;

	if (json_is_null(v)) {
		fputs("(unset)", stdout);
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY);
	fputs(s, stdout);
	free(s);
}

static int vars_history(struct store *st, const char *key, int json)
{
	struct store_var_change *v;
	json_t *all = json_array();
	size_t n;

	if (store_var_history(st, key, &v, &n) < 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, vars_change_json(&v[i]));
	store_var_history_free(v, n);
	if (json) {
		cmd_print_json(all);
	} else {
		size_t i;
		json_t *c;

		json_array_foreach(all, i, c) {
			printf("%s  %-3s  ", json_string_value(json_object_get(c, "at")),
			       json_string_value(json_object_get(c, "source")));
			print_value(json_object_get(c, "old"));
			fputs(" -> ", stdout);
			print_value(json_object_get(c, "new"));
			putchar('\n');
		}
	}
	json_decref(all);
	return 0;
}

/* set or unset; the runs it started are named on stderr (stdout stays empty for scripts) */
static int vars_set(struct store *st, const struct config *cfg, const char *key, const char *value)
{
	struct dag_set dags = { 0 };
	json_t *out = NULL, *r;
	size_t i;
	int ret;

	dagset_load(&dags, cfg->data_dir, NULL);
	ret = vars_change(st, cfg, &dags, key, value, "cli", &out);
	dagset_release(&dags);
	if (ret == STORE_NOT_FOUND)
		return error("variable '%s' is not set", key), 1;
	if (ret < 0)
		return 1;
	json_array_foreach(json_object_get(out, "runs"), i, r)
		fprintf(stderr, "variable '%s' changed: run %s of DAG '%s' (on_variable)\n", key,
			json_string_value(json_object_get(r, "run_id")),
			json_string_value(json_object_get(r, "dag_id")));
	json_decref(out);
	return 0;
}

static int vars_get(struct store *st, const char *key)
{
	char *value;
	int ret = store_var_get(st, key, &value);

	if (ret == STORE_NOT_FOUND)
		return error("variable '%s' is not set", key), 1;
	if (ret < 0)
		return 1;
	puts(value);
	free(value);
	return 0;
}

/* One exec for every sub: the store and the key check are the same. */
static int exec_vars(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct store *st;
	int ret;

	if (a->argc && !vars_key_valid(a->argv[0]))
		return cmd_usage_error(ctx, "bad variable name '%s' (letters, digits, _ - .)", a->argv[0]);
	if (!strcmp(ctx->sub, "list") || !strcmp(ctx->sub, "get") || !strcmp(ctx->sub, "history"))
		st = store_open_reader(ctx->cfg.flow_store, ctx->cfg.data_dir);
	else
		st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!st)
		return 1;
	if (!strcmp(ctx->sub, "list"))
		ret = vars_list(st, cmd_flag(a, "json"));
	else if (!strcmp(ctx->sub, "history"))
		ret = vars_history(st, a->argv[0], cmd_flag(a, "json"));
	else if (!strcmp(ctx->sub, "get"))
		ret = vars_get(st, a->argv[0]);
	else
		ret = vars_set(st, &ctx->cfg, a->argv[0],
			       !strcmp(ctx->sub, "set") ? a->argv[1] : NULL);
	store_close(st);
	return ret;
}

const struct cmd_entry cmd_vars_entry = {
	.name = "vars",
	.summary = "list, get, set and unset variables ({{ vars.X }}), with their history",
	.usage = "synthflow vars list [--json] | get KEY | set KEY VALUE | unset KEY\n"
		 "       synthflow vars history KEY [--json]\n"
		 "\n"
		 "Every set and unset is kept in the variable's history (old value, new value,\n"
		 "time, source: cli, api or ui).  A run uses the variables as they were when it\n"
		 "was created: changing one never changes a run that exists already.\n",
	.flags = CMD_NEEDS_DATA,
	.subs = (const struct cmd_entry[]){
		{ .name = "list", .summary = "every variable as KEY=VALUE",
		  .options = (const struct cmd_option[]){
			CMD_FLAG("json", 0, "print one JSON object"),
			CMD_END,
		  },
		  .exec = exec_vars },
		{ .name = "get", .summary = "print a variable's value", .args = "KEY",
		  .exec = exec_vars },
		/* A value may start with '-'. */
		{ .name = "set", .summary = "set a variable", .args = "KEY VALUE",
		  .flags = CMD_OPTIONS_FIRST, .exec = exec_vars },
		{ .name = "unset", .summary = "remove a variable", .args = "KEY", .exec = exec_vars },
		{ .name = "history", .summary = "every change of a variable, oldest first",
		  .args = "KEY",
		  .options = (const struct cmd_option[]){
			CMD_FLAG("json", 0, "print a JSON array of {key, old, new, at, source, runs}"),
			CMD_END,
		  },
		  .exec = exec_vars },
		CMD_END,
	},
};
