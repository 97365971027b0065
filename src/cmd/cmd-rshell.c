/* synthflow rshell: a root shell in the running workspace, in /data. */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"

static int exec_rshell(const struct cmd_args *a, struct sf_ctx *ctx)
{
	static const char *const bash[] = { "bash", NULL };
	struct engine e;
	struct engine_container c;
	const char *const *cmd = bash;
	int st;

	/* Like shell, a command after "--" runs instead of the shell (handy in scripts). */
	if (a->argc && !strcmp(a->argv[0], "--"))
		cmd = a->argc > 1 ? (const char *const *)a->argv + 1 : bash;
	else if (a->argc && a->argv[0][0] == '-')
		return cmd_usage_error(ctx, "unknown option '%s' for 'rshell'", a->argv[0]);
	else if (a->argc)
		return cmd_usage_error(ctx, "unexpected argument '%s' (put a command after '--')",
				       a->argv[0]);
	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	st = engine_exec(&e, &(struct engine_exec_opts){ c.name, "0", "/data", true,
							   isatty(0) && isatty(1), false, cmd });
	engine_container_release(&c);
	return st < 0 ? 1 : st;
}

const struct cmd_entry cmd_rshell_entry = {
	.name = "rshell",
	.summary = "a root shell in the running workspace",
	.usage = "synthflow rshell [-- CMD...]\n"
		 "\n"
		 "Runs bash, or CMD, as root in /data of the running workspace.\n",
	.args = "[CMD...]",
	.flags = CMD_NEEDS_DATA | CMD_RAW_ARGS,
	.exec = exec_rshell,
};
