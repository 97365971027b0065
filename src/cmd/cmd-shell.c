/*
 * synthflow shell [-- CMD...]: a shell, or CMD, as the workspace user in
 * /data/src/NAME of the running workspace.  The exit status is CMD's.
 */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"

int cmd_shell(int argc, char **argv, struct sf_ctx *ctx)
{
	static const char *const bash[] = { "bash", NULL };
	struct engine e;
	struct ws_container c;
	const char *const *cmd = bash;
	char *wd;
	int st;

	if (argc > 1 && !strcmp(argv[1], "--"))
		cmd = argc > 2 ? (const char *const *)argv + 2 : bash;
	else if (argc > 1 && argv[1][0] == '-')
		return cmd_usage_error(ctx, "unknown option '%s'", argv[1]);
	else if (argc > 1)
		cmd = (const char *const *)argv + 1;
	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	wd = xasprintf("/data/src/%s", c.workspace);
	st = engine_exec(&e, &(struct engine_exec_opts){ c.name, c.user, wd, true,
							   isatty(0) && isatty(1), false, cmd });
	free(wd);
	ws_container_release(&c);
	return st < 0 ? 1 : st;
}
