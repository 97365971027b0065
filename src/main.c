/*
 * synthflow: the command table and the dispatcher.  Each subcommand is one
 * file in src/cmd/; this file only finds the entry, does the common setup
 * (global options, data folder, configuration) once, and calls it.
 */
#include <getopt.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/suggest.h"

/*
 * Every command, in the order `synthflow --help` lists them.  Each entry
 * (name, usage, options, flags) lives beside its code in src/cmd/cmd-NAME.c;
 * src/cmd/cmd.h says how to add one.
 */
static const struct cmd_entry *const commands[] = {
	&cmd_init_entry,
	&cmd_dags_entry,
	&cmd_test_entry,
	&cmd_trigger_entry,
	&cmd_runs_entry,
	&cmd_tasks_entry,
	&cmd_vars_entry,
	&cmd_store_entry,
	&cmd_files_entry,
	&cmd_events_entry,
	&cmd_serve_entry,
	&cmd_schedulers_entry,
	&cmd_new_entry,
	&cmd_build_entry,
	&cmd_lock_entry,
	&cmd_run_entry,
	&cmd_stop_entry,
	&cmd_status_entry,
	&cmd_shell_entry,
	&cmd_rshell_entry,
	&cmd_jupyter_entry,
	&cmd_web_entry,
	&cmd_pack_entry,
	&cmd_verify_entry,
	&cmd_replay_entry,
	&cmd_cache_entry,
	&cmd_audio_entry,
	&cmd_doctor_entry,
	&cmd_base_entry,
};

static const struct cmd_entry *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void print_help(FILE *out)
{
	fputs("usage: synthflow [--data DIR] [--version] [--help] COMMAND [ARGS]\n\n"
	      "SynthFlow builds reproducible workspaces and runs DAGs of tasks over them.\n\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\nThe data folder is --data DIR, else $SYNTHFLOW_DATA, else the nearest run-data/\n"
	      "at or above the current directory.  'synthflow COMMAND --help' describes a command.\n"
	      "'synthflow --man COMMAND' prints its man page (roff; 'make install' installs them\n"
	      "as synthflow-COMMAND(1)), 'synthflow --completion' the bash completion script.\n",
	      out);
}

static void unknown_command(const char *name)
{
	const char *names[ARRAY_SIZE(commands)];
	const char *hint;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		names[i] = commands[i]->name;
	hint = suggest_closest(name, names, ARRAY_SIZE(names));
	if (hint)
		error("unknown command '%s' (did you mean '%s'?); see 'synthflow --help'", name, hint);
	else
		error("unknown command '%s'; see 'synthflow --help'", name);
}

static void print_command_help(const struct cmd_entry *c, FILE *out)
{
	fprintf(out, "usage: %s", c->usage);
}

/* synthflow(1) for "synthflow", else the command's page. */
static int print_man(const char *name)
{
	const struct cmd_entry *c = find_command(name);

	if (!strcmp(name, "synthflow")) {
		cmd_write_man_index(commands, ARRAY_SIZE(commands), stdout);
		return 0;
	}
	if (!c) {
		unknown_command(name);
		return 2;
	}
	cmd_write_man(c, stdout);
	return 0;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "man", required_argument, NULL, 'm' },
		{ "completion", no_argument, NULL, 'c' },
		{ "complete", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct sf_ctx ctx = { 0 };
	const struct cmd_entry *c;
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
		case 'm':
			return print_man(optarg);
		case 'c':
			cmd_write_completion(commands, ARRAY_SIZE(commands), stdout);
			return 0;
		case 'k':
			ret = cmd_complete(commands, ARRAY_SIZE(commands), &ctx, optarg);
			if (ctx.cfg.data_dir)
				config_release(&ctx.cfg);
			return ret;
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
		unknown_command(argv[optind]);
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
	if ((c->flags & CMD_NEEDS_DATA) && cmd_load_data(&ctx) < 0)
		return 1;
	ret = cmd_exec(c, argc, argv, &ctx);
	if (ctx.cfg.data_dir)
		config_release(&ctx.cfg);
	fflush(stdout);
	return ret;
}
