/*
 * synthflow stop: stops and removes the workspace containers of this data
 * folder (found by label, so no container id is needed).  run-data is a
 * bind mount: nothing in it is touched.
 */
#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"

static int exec_stop(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct engine e;
	struct strvec names = STRVEC_INIT;
	int ret = 0;

	if (engine_open(&ctx->cfg, &e, NULL) < 0 ||
	    engine_find_containers(&e, ctx->cfg.data_dir, &names) < 0)
		return 1;
	if (!names.nr)
		printf("no workspace container for '%s'; nothing to stop\n", ctx->cfg.data_dir);
	for (size_t i = 0; i < names.nr; i++) {
		struct strbuf err = STRBUF_INIT;
		if (engine_stop(&e, names.v[i], &err) != 0 || engine_rm(&e, names.v[i], &err) != 0) {
			sb_rtrim(&err);
			ret = error("cannot stop '%s': %s", names.v[i], err.buf);
		} else {
			printf("stopped %s\n", names.v[i]);
		}
		sb_release(&err);
	}
	strvec_clear(&names);
	return ret ? 1 : 0;
}

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.summary = "stop the workspace container",
	.usage = "synthflow stop\n"
		 "\n"
		 "Stops and removes this data folder's workspace container.  Files in\n"
		 "run-data are not touched.\n",
	.flags = CMD_NEEDS_DATA,
	.exec = exec_stop,
};
