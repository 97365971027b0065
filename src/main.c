/*
 * synthflow: the command table and the dispatcher.  Each subcommand is one
 * file in src/cmd/; this file only finds the entry, does the common setup
 * (global options, data folder, configuration) once, and calls it.
 */
#include <getopt.h>
#include <stdarg.h>

#include "cmd/cmd.h"
#include "util/common.h"

enum { NEEDS_DATA = 1 << 0 };

struct command {
	const char *name;
	cmd_fn fn;
	unsigned flags;
	const char *summary;
	const char *usage;
};

static const struct command commands[] = {
	{ "init", cmd_init, 0, "create the run-data/ folder layout",
	  "synthflow init [DIR]\n"
	  "\n"
	  "Creates DIR (default ./run-data) with synthflow.yaml, flow/, downloaded/,\n"
	  "uploadable/, generated/ and src/template/container/.  Existing files are\n"
	  "never overwritten, so running it again changes nothing.\n" },
	{ "dags", cmd_dags, 0, "list, show, validate and graph DAG files",
	  "synthflow dags list [--json] | show ID [--json] | validate [FILE...] | graph ID\n"
	  "\n"
	  "  list [--json]       every DAG under run-data/src/*/dags/*.yaml|yml: id, tasks,\n"
	  "                      schedule, description and file.  Files with errors are\n"
	  "                      reported on stderr (exit 1) and the good DAGs still listed.\n"
	  "  show ID [--json]    one DAG: params, tasks in run order, settings\n"
	  "  validate [FILE...]  checks the given files (no data folder needed), or every\n"
	  "                      DAG file of the data folder; prints each problem as\n"
	  "                      FILE:LINE:COL: error: MESSAGE and exits 1 if any\n"
	  "  graph ID            the DAG as Graphviz DOT (pipe it to 'dot -Tsvg')\n"
	  "\n"
	  "The DAG language is described in docs/dags.md.\n" },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_help(FILE *out)
{
	fputs("usage: synthflow [--data DIR] [--version] [--help] COMMAND [ARGS]\n\n"
	      "SynthFlow builds reproducible workspaces and runs DAGs of tasks over them.\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nThe data folder is --data DIR, else $SYNTHFLOW_DATA, else the nearest run-data/\n"
	      "at or above the current directory.  'synthflow COMMAND --help' describes a command.\n",
	      out);
}

static void print_command_help(const struct command *c, FILE *out)
{
	fprintf(out, "usage: %s", c->usage);
}

int cmd_usage_error(const struct sf_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	fputs("synthflow: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctx && ctx->usage) {
		const char *nl = strchr(ctx->usage, '\n');
		fprintf(stderr, "usage: %.*s\n", nl ? (int)(nl - ctx->usage) : (int)strlen(ctx->usage),
			ctx->usage);
		fprintf(stderr, "Try 'synthflow %s --help' for more.\n", ctx->name);
	}
	return 2;
}

/* --help anywhere before a "--" asks for the command's help. */
static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	}
	return 0;
}

int cmd_load_data(struct sf_ctx *ctx)
{
	char *dir;
	int ret;

	if (ctx->cfg.data_dir)
		return 0;
	dir = datadir_find(ctx->opt_data);
	if (!dir)
		return -1;
	ret = config_load(&ctx->cfg, dir);
	free(dir);
	if (ret < 0) {
		config_release(&ctx->cfg);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sf_ctx ctx = { 0 };
	const struct command *c;
	int opt, ret;

	/* "+": stop at the first non-option, which is the command. */
	while ((opt = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			ctx.opt_data = optarg;
			break;
		case 'h':
			print_help(stdout);
			return 0;
		case 'V':
			printf("synthflow %s\n", SF_VERSION);
			return 0;
		default:
			print_help(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		print_help(stderr);
		return 2;
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 < argc && (c = find_command(argv[optind + 1]))) {
			print_command_help(c, stdout);
			return 0;
		}
		print_help(stdout);
		return 0;
	}
	c = find_command(argv[optind]);
	if (!c) {
		error("unknown command '%s'; see 'synthflow --help'", argv[optind]);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (wants_help(argc, argv)) {
		print_command_help(c, stdout);
		return 0;
	}
	ctx.name = c->name;
	ctx.usage = c->usage;
	if ((c->flags & NEEDS_DATA) && cmd_load_data(&ctx) < 0)
		return 1;
	optind = 0; /* GNU getopt: reinitialise for the command's own parsing */
	ret = c->fn(argc, argv, &ctx);
	if (ctx.cfg.data_dir)
		config_release(&ctx.cfg);
	fflush(stdout);
	return ret;
}
