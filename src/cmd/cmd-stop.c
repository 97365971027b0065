/*
 * synthflow stop: stops and removes the workspace containers of this data
 * folder (found by label, so no container id is needed).  run-data is a
 * bind mount: nothing in it is touched.
 */
#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"

int cmd_stop(int argc, char **argv, struct sf_ctx *ctx)
{
	struct engine e;
	struct strvec names = STRVEC_INIT;
	int ret = 0;

	if (cmd_no_args(ctx, argc, argv))
		return 2;
	if (engine_open(&ctx->cfg, &e, NULL) < 0 ||
	    engine_find_containers(&e, ctx->cfg.data_dir, &names) < 0)
		return 1;
	if (!names.nr)
		printf("no workspace container for '%s'; nothing to stop\n", ctx->cfg.data_dir);
	for (size_t i = 0; i < names.nr; i++) {
		struct strbuf err = STRBUF_INIT;
		if (engine_quiet(&e, (const char *const[]){ "stop", names.v[i], NULL }, &err) != 0 ||
		    engine_quiet(&e, (const char *const[]){ "rm", names.v[i], NULL }, &err) != 0) {
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
