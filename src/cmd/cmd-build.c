/*
 * synthflow build NAME [--no-cache] [--pull] [--frozen]: the workspace's
 * image, from its hooks or (--frozen) exactly from its lock; the work is in
 * src/workspace/build.c.
 */
#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/build.h"
#include "workspace/lock.h"
#include "workspace/ws.h"

static int exec_build(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct ws ws = { 0 };
	struct ws_lock lock = { 0 };
	struct ws_build_opts o = { .no_cache = cmd_flag(a, "no-cache"), .pull = cmd_flag(a, "pull") };
	bool machine = false, frozen = cmd_flag(a, "frozen");
	int ret = 1, r;

	if (ws_open(&ws, ctx->cfg.data_dir, a->argv[0]) < 0)
		goto out; /* ws_open() may have filled ws before its check failed */
	if (frozen && (r = ws_lock_read(&ws, &lock)) != 0) {
		if (r > 0)
			error("workspace '%s' has no lock ('%s/%s'); write one with 'synthflow lock %s'",
			      ws.name, ws.hooks_dir, WS_LOCK, ws.name);
		goto out;
	}
	if (frozen)
		o.frozen = &lock;
	ret = ws_build(&ctx->cfg, &ws, &o, &machine) < 0 ? 1 : 0;
	if (ret && machine)
		cmd_doctor_hint();
out:
	ws_lock_release(&lock);
	ws_release(&ws);
	return ret;
}

const struct cmd_entry cmd_build_entry = {
	.name = "build",
	.summary = "build a workspace's image (skips when nothing changed)",
	.usage = "synthflow build NAME [--no-cache] [--pull] [--frozen]\n"
		 "\n"
		 "Writes build-data/NAME/Dockerfile from src/NAME/container/ (pre-install.sh,\n"
		 "packages.txt, requirements.txt, post-install.sh, pre-run.sh; all optional)\n"
		 "and builds the image synthflow/NAME with the engine compiled in.  Output is\n"
		 "shown as it goes and kept in build-data/NAME/build.log.  When no input\n"
		 "changed since the last build, nothing is done.  When the hooks changed\n"
		 "since container/synthflow.lock was written ('synthflow lock NAME'), it warns.\n"
		 "\n"
		 "  --no-cache   rebuild every layer\n"
		 "  --pull       fetch a newer base image first\n"
		 "  --frozen     build exactly the lock: its base image, every Debian package at\n"
		 "               its version, every pip package pinned; fails naming what the\n"
		 "               mirror or pip cannot give, or what differs in the image\n",
	.args = "NAME",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("no-cache", 0, "rebuild every layer"),
		CMD_FLAG("pull", 0, "fetch a newer base image first"),
		CMD_FLAG("frozen", 0, "build exactly container/synthflow.lock"),
		CMD_END,
	},
	.exec = exec_build,
};
