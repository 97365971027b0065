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
	  "  validate [FILE...]  checks the given files or folders (no data folder needed),\n"
	  "                      or every DAG file of the data folder; prints problems as\n"
	  "                      FILE:LINE:COL: error: MESSAGE and exits 1 if any\n"
	  "  graph ID            the DAG as Graphviz DOT (pipe it to 'dot -Tsvg')\n"
	  "\n"
	  "The DAG language is described in docs/dags.md.\n" },
	{ "test", cmd_test, NEEDS_DATA, "run a DAG now in the foreground (no server needed)",
	  "synthflow test DAG [-p KEY=VALUE]... [--task TASK] [--json]\n"
	  "\n"
	  "Runs DAG now with a scheduler of its own and waits for the end.  Prints the\n"
	  "run id first (progress goes to stderr, as a bar on a terminal), or with\n"
	  "--json only the final run object.  Params (-p) are checked against the DAG's\n"
	  "schema before anything runs.  --task runs only TASK, without its upstream.\n"
	  "Ctrl-C cancels the run.  Exit status 0 when the run succeeded, else 1.\n" },
	{ "trigger", cmd_trigger, NEEDS_DATA, "queue a run of a DAG for 'serve'; print its id",
	  "synthflow trigger DAG [-p KEY=VALUE]... [--wait]\n"
	  "\n"
	  "Queues a run of DAG and prints only its run id.  'synthflow serve' starts it\n"
	  "(within 100 ms when it is running).  --wait blocks until the run has ended\n"
	  "and exits 0 when it succeeded, 1 when not.\n" },
	{ "runs", cmd_runs, NEEDS_DATA, "list, show and cancel DAG runs",
	  "synthflow runs list [DAG] [--limit N] [--json] | show RUN [--json] | cancel RUN\n"
	  "\n"
	  "  list [DAG]    the newest runs first (50 unless --limit N; 0 = all)\n"
	  "  show RUN      a run and its task instances (--json: the run object)\n"
	  "  cancel RUN    ends the run as cancelled; running tasks are killed\n" },
	{ "tasks", cmd_tasks, NEEDS_DATA, "show logs of task tries; clear tasks to run again",
	  "synthflow tasks logs RUN TASK [--try N] [--index I] [-f] | clear RUN TASK [--downstream]\n"
	  "\n"
	  "  logs    prints the log of a try (default the last one); --index picks a\n"
	  "          foreach item; -f follows it while the try runs\n"
	  "  clear   runs TASK (every foreach item; with --downstream everything after\n"
	  "          it too) again with a new try; a finished run continues in 'serve'\n" },
	{ "vars", cmd_vars, NEEDS_DATA, "list, get, set and unset variables ({{ vars.X }})",
	  "synthflow vars list [--json] | get KEY | set KEY VALUE | unset KEY\n" },
	{ "serve", cmd_serve, NEEDS_DATA, "the engine daemon: runs queued DAG runs",
	  "synthflow serve [--bind ADDR] [--port N]\n"
	  "\n"
	  "Runs every queued DAG run (from 'trigger', the web UI, schedules) and takes\n"
	  "over runs left behind by a scheduler that stopped.  One per data folder.\n"
	  "SIGINT/SIGTERM stop it; running tasks are stopped and run again next time.\n"
	  "\n"
	  "It also serves the web UI and the JSON API (docs/api.md) on web.bind and\n"
	  "web.port of synthflow.yaml (default 127.0.0.1:8881), and prints the URL to\n"
	  "open, with the access token from flow/secret, like Jupyter does.\n"
	  "  --bind ADDR   listen on ADDR (a warning when it is not loopback)\n"
	  "  --port N      listen on port N (0: any free port)\n" },
	{ "new", cmd_new, NEEDS_DATA, "create a workspace's container/ hooks from the template",
	  "synthflow new NAME\n"
	  "\n"
	  "Copies src/template/container/ to src/NAME/container/ and adds src/NAME/dags/\n"
	  "with an example DAG.  src/NAME may already hold a cloned repository; no\n"
	  "existing file is overwritten.\n" },
	{ "build", cmd_build, NEEDS_DATA, "build a workspace's image (skips when nothing changed)",
	  "synthflow build NAME [--no-cache] [--pull]\n"
	  "\n"
	  "Writes build-data/NAME/Dockerfile from src/NAME/container/ (pre-install.sh,\n"
	  "packages.txt, requirements.txt, post-install.sh, pre-run.sh; all optional)\n"
	  "and builds the image synthflow/NAME with the engine compiled in.  Output is\n"
	  "shown as it goes and kept in build-data/NAME/build.log.  When no input\n"
	  "changed since the last build, nothing is done.\n"
	  "\n"
	  "  --no-cache   rebuild every layer\n"
	  "  --pull       fetch a newer base image first\n" },
	{ "run", cmd_run, NEEDS_DATA, "start a workspace container",
	  "synthflow run [NAME] [--detach] [--gpus auto|all|none]\n"
	  "\n"
	  "Starts the workspace NAME (default: the one built last): run-data at /data,\n"
	  "downloaded/ read-only, the web and Jupyter ports on 127.0.0.1 only,\n"
	  "pre-run.sh as root, then the engine as the workspace user.  Without\n"
	  "--detach a shell opens and the container stops when it exits.\n"
	  "\n"
	  "  -d, --detach   return once the engine answers its health check\n"
	  "  --gpus MODE    auto (default: GPUs when the engine has the NVIDIA runtime\n"
	  "                 or a CDI spec), all, or none\n" },
	{ "stop", cmd_stop, NEEDS_DATA, "stop the workspace container",
	  "synthflow stop\n"
	  "\n"
	  "Stops and removes this data folder's workspace container.  Files in\n"
	  "run-data are not touched.\n" },
	{ "status", cmd_status, NEEDS_DATA, "show the workspace container and its engine",
	  "synthflow status [--json]\n"
	  "\n"
	  "Shows the workspace container of this data folder: state, image, ports,\n"
	  "GPUs and whether the engine inside answers its health check.\n" },
	{ "shell", cmd_shell, NEEDS_DATA, "a shell (or a command) in the running workspace",
	  "synthflow shell [-- CMD...]\n"
	  "\n"
	  "Runs bash, or CMD, as the workspace user in /data/src/NAME of the running\n"
	  "workspace, and exits with its status.\n" },
	{ "rshell", cmd_rshell, NEEDS_DATA, "a root shell in the running workspace",
	  "synthflow rshell [-- CMD...]\n"
	  "\n"
	  "Runs bash, or CMD, as root in /data of the running workspace.\n" },
	{ "jupyter", cmd_jupyter, NEEDS_DATA, "start Jupyter in the workspace; print its URL",
	  "synthflow jupyter\n"
	  "\n"
	  "Starts Jupyter Notebook in the running workspace as the user (unless it\n"
	  "already runs) on the published Jupyter port and prints its URL with the\n"
	  "token.  The image needs it: jupyter-notebook in packages.txt, or notebook\n"
	  "in requirements.txt.\n" },
	{ "web", cmd_web, NEEDS_DATA, "make sure the engine serves; print the UI URL",
	  "synthflow web\n"
	  "\n"
	  "Starts the engine in the running workspace again if it does not answer,\n"
	  "and prints the web UI's URL with its token.\n" },
	{ "audio", cmd_audio, 0, "clean clips (filter, resample, trim, level) and measure them",
	  "synthflow audio clean IN... -o OUTDIR [OPTIONS] | stats IN... [--json]\n"
	  "\n"
	  "  clean   one decode, one pass and one encode per clip, clips in parallel:\n"
	  "          first channel (or mix), high-pass, low-pass, resample (libsoxr),\n"
	  "          trim silence, level to a loudness (or RMS) target under a peak limit.\n"
	  "          Each output is OUTDIR/ plus the input's path relative to the inputs'\n"
	  "          common folder (or --base), same name, extension of --format.\n"
	  "  stats   duration, rate, channels, peak, RMS, loudness, clipped samples,\n"
	  "          leading/trailing silence and an SNR estimate per clip\n"
	  "\n"
	  "  --items FILE        more inputs, NUL-separated (a batch's $SF_ITEMS)\n"
	  "  --jobs N            worker threads (default: the number of CPUs)\n"
	  "  --json              one JSON object per clip on stdout\n"
	  "  --trim-db DB        silence is DB under the clip's peak (default -45; 0: no trim)\n"
	  "clean only:\n"
	  "  -o OUTDIR           output folder (created)     --base DIR   folder outputs are relative to\n"
	  "  --rate HZ|keep      output rate (22050)         --channels first|mix (first)\n"
	  "  --bits 16|24|32f    sample format (16)          --format flac|wav (flac)\n"
	  "  --highpass HZ       order-8 Butterworth (40; 0: off)\n"
	  "  --lowpass HZ        order-8 Butterworth (18000; 0: off; skipped at or above Nyquist)\n"
	  "  --trim-pad DUR      silence kept at each end (50ms)\n"
	  "  --loudness LUFS|off integrated loudness target (-23); clips under 400 ms by RMS\n"
	  "  --rms-db DB         RMS level target instead of loudness\n"
	  "  --peak-db DB        sample peak limit, wins over the target (-1)\n"
	  "\n"
	  "A clip that fails (unreadable, empty, silent, unsupported) is reported with its\n"
	  "name and the others go on; exit 1 when any failed.  With $SF_METRICS set, one\n"
	  "JSON line per clip is appended there.  See docs/audio.md.\n" },
	{ "base", cmd_base, 0, "build a local base image with debootstrap (no registry needed)",
	  "synthflow base [--suite SUITE] [--mirror URL] [--force]\n"
	  "\n"
	  "Builds the image synthflow-base:SUITE (default bookworm) with debootstrap\n"
	  "and imports it into the engine, then prints its name; use it with\n"
	  "workspace.base_image in synthflow.yaml.  Needs root.  An existing image is\n"
	  "kept unless --force.\n"
	  "\n"
	  "  --mirror URL   Debian mirror (default: the one the host's apt uses)\n" },
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

int cmd_no_args(const struct sf_ctx *ctx, int argc, char **argv)
{
	if (argc <= 1)
		return 0;
	if (argv[1][0] == '-')
		return cmd_usage_error(ctx, "unknown option '%s'", argv[1]);
	return cmd_usage_error(ctx, "unexpected argument '%s'", argv[1]);
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
