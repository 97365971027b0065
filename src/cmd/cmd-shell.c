/*
 * synthflow shell [-- CMD...]: a shell, or CMD, as the workspace user in
 * /data/src/NAME of the running workspace.  The exit status is CMD's.
 */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"

static int exec_shell(const struct cmd_args *a, struct sf_ctx *ctx)
{
	static const char *const bash[] = { "bash", NULL };
	struct engine e;
	struct engine_container c;
	const char *const *cmd = bash;
	char *wd;
	int st;

	if (a->argc && !strcmp(a->argv[0], "--"))
		cmd = a->argc > 1 ? (const char *const *)a->argv + 1 : bash;
	else if (a->argc && a->argv[0][0] == '-')
		return cmd_usage_error(ctx, "unknown option '%s' for 'shell'", a->argv[0]);
	else if (a->argc)
		cmd = (const char *const *)a->argv;
	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	wd = xasprintf("/data/src/%s", c.workspace);
	st = engine_exec(&e, &(struct engine_exec_opts){ c.name, c.user, wd, true,
							   isatty(0) && isatty(1), false, cmd });
	free(wd);
	engine_container_release(&c);
	return st < 0 ? 1 : st;
}

const struct cmd_entry cmd_shell_entry = {
	.name = "shell",
	.summary = "a shell (or a command) in the running workspace",
	.usage = "synthflow shell [-- CMD...]\n"
		 "\n"
		 "Runs bash, or CMD, as the workspace user in /data/src/NAME of the running\n"
		 "workspace, and exits with its status.\n",
	.args = "[CMD...]",
	/* CMD's own options pass through untouched. */
	.flags = CMD_NEEDS_DATA | CMD_RAW_ARGS,
	.exec = exec_shell,
};
