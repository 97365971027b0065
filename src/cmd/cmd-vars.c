/* synthflow vars list|get|set|unset: variables for {{ vars.X }} templates. */
#include "cmd/cmd.h"
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

static int vars_do(struct store *st, const char *sub, char **args)
{
	char *value;
	int ret;

	if (!strcmp(sub, "get")) {
		ret = store_var_get(st, args[0], &value);
		if (ret == STORE_NOT_FOUND)
			return error("variable '%s' is not set", args[0]), 1;
		if (ret < 0)
			return 1;
		puts(value);
		free(value);
		return 0;
	}
	if (!strcmp(sub, "set"))
		return store_var_set(st, args[0], args[1]) < 0 ? 1 : 0;
	ret = store_var_unset(st, args[0]);
	if (ret == STORE_NOT_FOUND)
		return error("variable '%s' is not set", args[0]), 1;
	return ret < 0 ? 1 : 0;
}

static int valid_key(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (!(*k == '_' || *k == '-' || *k == '.' || (*k >= 'a' && *k <= 'z') ||
		      (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9')))
			return 0;
	return 1;
}

/* One exec for every sub: the store and the key check are the same. */
static int exec_vars(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct store *st;
	int ret;

	if (a->argc && !valid_key(a->argv[0]))
		return cmd_usage_error(ctx, "bad variable name '%s' (letters, digits, _ - .)", a->argv[0]);
	if (!strcmp(ctx->sub, "list") || !strcmp(ctx->sub, "get"))
		st = store_open_reader(ctx->cfg.flow_store, ctx->cfg.data_dir);
	else
		st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!st)
		return 1;
	if (!strcmp(ctx->sub, "list"))
		ret = vars_list(st, cmd_flag(a, "json"));
	else
		ret = vars_do(st, ctx->sub, a->argv);
	store_close(st);
	return ret;
}

const struct cmd_entry cmd_vars_entry = {
	.name = "vars",
	.summary = "list, get, set and unset variables ({{ vars.X }})",
	.usage = "synthflow vars list [--json] | get KEY | set KEY VALUE | unset KEY\n",
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
		CMD_END,
	},
};
