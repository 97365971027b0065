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
		char *text = json_dumps(vars, JSON_INDENT(2) | JSON_SORT_KEYS);
		puts(text);
		free(text);
	} else {
		json_object_foreach(vars, key, v)
			printf("%s=%s\n", key, json_string_value(v));
	}
	json_decref(vars);
	return 0;
}

static int vars_do(struct store *st, const char *sub, char **args, int nargs)
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

int cmd_vars(int argc, char **argv, struct sf_ctx *ctx)
{
	static const struct { const char *name; int nargs; } subs[] = {
		{ "list", 0 }, { "get", 1 }, { "set", 2 }, { "unset", 1 },
	};
	struct store *st;
	int json = 0, nargs = -1, ret;
	char *args[3];
	int n = 0;

	if (argc < 2)
		return cmd_usage_error(ctx, "'vars' needs list, get, set or unset");
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (!strcmp(argv[1], subs[i].name))
			nargs = subs[i].nargs;
	if (nargs < 0)
		return cmd_usage_error(ctx, "unknown subcommand 'vars %s'", argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json") && !strcmp(argv[1], "list"))
			json = 1;
		else if (argv[i][0] == '-' && argv[i][1] && !(n == 1 && !strcmp(argv[1], "set")))
			return cmd_usage_error(ctx, "unknown option '%s'", argv[i]);
		else if (n < 3)
			args[n++] = argv[i];
		else
			n++;
	}
	if (n != nargs)
		return cmd_usage_error(ctx, "'vars %s' takes %d argument%s", argv[1], nargs,
				       nargs == 1 ? "" : "s");
	if (nargs && !valid_key(args[0]))
		return cmd_usage_error(ctx, "bad variable name '%s' (letters, digits, _ - .)", args[0]);
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!st)
		return 1;
	ret = nargs ? vars_do(st, argv[1], args, nargs) : vars_list(st, json);
	store_close(st);
	return ret;
}
