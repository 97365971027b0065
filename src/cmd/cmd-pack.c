/*
 * synthflow pack RUN [-o FILE] [--with-inputs] [--with-image]: the run, its DAG, the
 * workspace source at its commit, provenance and outputs in one bundle
 * (docs/replication.md).
 */
#include "cmd/cmd.h"
#include "pack/pack.h"
#include "util/common.h"

static int exec_pack(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct pack_opts o = {
		.run_id = a->argv[0],
		.out = cmd_str(a, "output", NULL),
		.with_inputs = cmd_flag(a, "with-inputs"),
		.with_image = cmd_flag(a, "with-image"),
		.cfg = &ctx->cfg,
	};
	struct store *st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	int ret;

	if (!st)
		return 1;
	ret = pack_run(st, ctx->cfg.data_dir, &o) < 0 ? 1 : 0;
	store_close(st);
	return ret;
}

const struct cmd_entry cmd_pack_entry = {
	.name = "pack",
	.summary = "pack a run into a bundle another machine can replay",
	.usage = "synthflow pack RUN [-o FILE] [--with-inputs] [--with-image]\n"
		 "\n"
		 "Writes FILE (default RUN.sfpack), a tar archive compressed with zstd: the DAG,\n"
		 "the workspace source at its git commit (uncommitted changes as a flagged diff),\n"
		 "its synthflow.lock if any, params, the variable snapshot, the provenance of\n"
		 "every task instance, the run's declared outputs with a sha256 manifest, and a\n"
		 "Workflow Run RO-Crate (ro-crate-metadata.json).  Refuses, naming the file and\n"
		 "the run, when an output changed after the run wrote it, and when the workspace\n"
		 "has no git commit.  See docs/replication.md.\n"
		 "\n"
		 "  -o, --output FILE   the bundle to write\n"
		 "  --with-inputs       add the downloaded/ files the run read (each content once)\n"
		 "  --with-image        add the workspace image the run ran in (the engine's save,\n"
		 "                      compressed): 'replay' loads it instead of building one\n",
	.args = "RUN",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_STRING("output", 'o', "FILE", "the bundle to write (default RUN.sfpack)"),
		CMD_FLAG("with-inputs", 0, "add the downloaded/ files the run read"),
		CMD_FLAG("with-image", 0, "add the workspace image the run ran in"),
		CMD_END,
	},
	.exec = exec_pack,
};
