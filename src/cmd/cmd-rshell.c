/* synthflow rshell: a root shell in the running workspace, in /data. */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"

int cmd_rshell(int argc, char **argv, struct sf_ctx *ctx)
{
	static const char *const bash[] = { "bash", NULL };
	struct engine e;
	struct ws_container c;
	const char *const *cmd = bash;
	int st;

	/* Like shell, a command after "--" runs instead of the shell (handy in scripts). */
	if (argc > 1 && !strcmp(argv[1], "--"))
		cmd = argc > 2 ? (const char *const *)argv + 2 : bash;
	else if (argc > 1)
		return cmd_usage_error(ctx, argv[1][0] == '-' ? "unknown option '%s'" :
								"unexpected argument '%s' (put a command after '--')",
				       argv[1]);
	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	st = engine_exec(&e, &(struct engine_exec_opts){ c.name, "0", "/data", true,
							   isatty(0) && isatty(1), false, cmd });
	ws_container_release(&c);
	return st < 0 ? 1 : st;
}
