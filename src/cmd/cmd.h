#ifndef SF_CMD_H
#define SF_CMD_H

#include "core/config.h"

/*
 * What the dispatcher in main.c prepares once for every command.  A command
 * whose table entry has NEEDS_DATA gets `cfg` loaded from the data folder;
 * others get cfg.data_dir == NULL (and may look for it themselves).
 */
struct sf_ctx {
	const char *name;       /* "dags", "build", ... */
	const char *usage;      /* the command's usage text from the table */
	const char *opt_data;   /* --data DIR as given, or NULL */
	struct config cfg;
};

/*
 * Each subcommand lives in src/cmd/cmd-NAME.c and exports only this.
 * argv[0] is the command name; the return value is the exit status
 * (0 ok, 1 failed, 2 usage error).
 */
typedef int (*cmd_fn)(int argc, char **argv, struct sf_ctx *ctx);

/* Prints "synthflow: error: MSG" and the command's usage; returns 2. */
int cmd_usage_error(const struct sf_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For commands that take no arguments: 0 when there are none, else the usage error (2). */
int cmd_no_args(const struct sf_ctx *ctx, int argc, char **argv);

/*
 * Finds the data folder and loads its configuration into ctx->cfg, as the
 * dispatcher does for NEEDS_DATA commands; for commands that need it only
 * sometimes (dags validate FILE... does not).  0, or -1 after an error.
 */
int cmd_load_data(struct sf_ctx *ctx);

int cmd_init(int argc, char **argv, struct sf_ctx *ctx);
int cmd_dags(int argc, char **argv, struct sf_ctx *ctx);
int cmd_test(int argc, char **argv, struct sf_ctx *ctx);
int cmd_trigger(int argc, char **argv, struct sf_ctx *ctx);
int cmd_runs(int argc, char **argv, struct sf_ctx *ctx);
int cmd_tasks(int argc, char **argv, struct sf_ctx *ctx);
int cmd_vars(int argc, char **argv, struct sf_ctx *ctx);
int cmd_serve(int argc, char **argv, struct sf_ctx *ctx);
int cmd_new(int argc, char **argv, struct sf_ctx *ctx);
int cmd_build(int argc, char **argv, struct sf_ctx *ctx);
int cmd_run(int argc, char **argv, struct sf_ctx *ctx);
int cmd_stop(int argc, char **argv, struct sf_ctx *ctx);
int cmd_status(int argc, char **argv, struct sf_ctx *ctx);
int cmd_shell(int argc, char **argv, struct sf_ctx *ctx);
int cmd_rshell(int argc, char **argv, struct sf_ctx *ctx);
int cmd_jupyter(int argc, char **argv, struct sf_ctx *ctx);
int cmd_web(int argc, char **argv, struct sf_ctx *ctx);
int cmd_base(int argc, char **argv, struct sf_ctx *ctx);
int cmd_audio(int argc, char **argv, struct sf_ctx *ctx);

#endif
