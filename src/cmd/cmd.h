#ifndef SF_CMD_H
#define SF_CMD_H

/*
 * The command framework (as tmux's cmd_entry and git's parse_options): each
 * command describes itself once, in a `struct cmd_entry` beside its code,
 * and everything users see about it comes from that entry: `--help`, the
 * uniform usage errors, the man page (`synthflow --man NAME`, installed as
 * synthflow-NAME(1)) and the bash completion (`synthflow --completion`).
 *
 * How to add a command NAME:
 *  1. write src/cmd/cmd-NAME.c; everything in it is static except
 *        const struct cmd_entry cmd_NAME_entry = {
 *                .name = "NAME", .summary = "one line for the command list",
 *                .usage = "synthflow NAME [--json] DAG\n\nWhat it does...\n",
 *                .args = "DAG", .flags = CMD_NEEDS_DATA,
 *                .options = (const struct cmd_option[]){
 *                        CMD_FLAG("json", 0, "print JSON"),
 *                        CMD_END },
 *                .exec = exec_NAME,
 *        };
 *     and exec_NAME(const struct cmd_args *a, struct sf_ctx *ctx) reads its
 *     operands from a->argv[0..a->argc) and its options with cmd_flag(),
 *     cmd_str(), cmd_int() and cmd_list();
 *  2. declare cmd_NAME_entry at the end of this header;
 *  3. add &cmd_NAME_entry to the list in src/main.c (its order is the order
 *     of `synthflow --help`) and the file to src/cmd/meson.build.
 * A family of subcommands (`dags list|show|...`) sets .subs to a table of
 * entries terminated by { 0 } instead of .exec; each sub has its own args,
 * options and exec, and a mistyped sub gets a "did you mean".
 *
 * Before exec runs, the framework has checked everything the entry declares,
 * with one message per kind of mistake and exit status 2: an unknown option
 * ("unknown option '--jsn' for 'dags list' (did you mean '--json'?)"), a
 * missing value, an integer out of range, a value not among the choices, and
 * too few or too many operands.  exec returns the exit status: 0 ok,
 * 1 failed, 2 usage error (cmd_usage_error()).
 */

#include <stdbool.h>

#include <jansson.h>

#include "core/config.h"

struct sched;

/* What the dispatcher prepares once for every command. */
struct sf_ctx {
	const char *name;       /* "dags", "build", ... */
	const char *sub;        /* "list" for `dags list`, else NULL */
	const char *usage;      /* the command's usage text from its entry */
	const char *opt_data;   /* --data DIR as given, or NULL */
	struct config cfg;      /* loaded when the entry has CMD_NEEDS_DATA, else data_dir == NULL */
};

enum cmd_flags {
	/* The dispatcher loads the data folder's configuration into ctx->cfg. */
	CMD_NEEDS_DATA = 1 << 0,
	/*
	 * Options only before the first operand, so that an operand may start
	 * with '-' (`vars set KEY -1`).
	 */
	CMD_OPTIONS_FIRST = 1 << 1,
	/*
	 * No parsing at all: a->argv is everything after the command's name
	 * (`shell -- CMD...` passes CMD's own options through).  Only --help
	 * before a "--" is still the command's help.
	 */
	CMD_RAW_ARGS = 1 << 2,
};

enum cmd_opt_type {
	CMD_OPT_FLAG,           /* --json */
	CMD_OPT_STRING,         /* --task TASK; given twice, the last one counts */
	CMD_OPT_INT,            /* --limit N, an integer in [min, max] */
	CMD_OPT_LIST,           /* -p KEY=VALUE, repeatable: every value in order */
	CMD_OPT_CHOICE,         /* --gpus MODE, one of `choices` */
	CMD_OPT_NUMBER,         /* --peak-db DB, a real number in [lo, hi] */
	CMD_OPT_DURATION,       /* --trim-pad DUR, "50ms", "2s" as in DAG files: ms in [min, max] */
};

struct cmd_option {
	const char *name;       /* the long name, without "--" */
	char short_name;        /* 'p' for -p, or 0 */
	enum cmd_opt_type type;
	const char *arg;        /* the value's name in usage and man page ("N"); NULL for a flag */
	const char *help;       /* one line for the man page */
	long min, max;          /* CMD_OPT_INT, _DURATION: the range (max 0: no upper bound) */
	double lo, hi;          /* CMD_OPT_NUMBER: the range (-INFINITY, INFINITY: open) */
	/*
	 * CMD_OPT_CHOICE: "auto|all|none".  Bash completes choices, and values
	 * named DAG, RUN, NAME, FILE, DIR or OUTDIR (as operands).
	 * CMD_OPT_INT, _NUMBER: words taken instead of a number ("keep"; the
	 * exec reads them with cmd_str()), or NULL.
	 */
	const char *choices;
	/* CMD_OPT_INT, _NUMBER: a unit the number may carry, any case ("Hz": 22050Hz), or NULL. */
	const char *unit;
};

/* Option table rows, as git's OPT_BOOL(): one per line, the table ends with CMD_END. */
#define CMD_FLAG(n_, c_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_FLAG, .help = (help_) }
#define CMD_STRING(n_, c_, arg_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_STRING, .arg = (arg_), \
	  .help = (help_) }
#define CMD_INT(n_, c_, arg_, min_, max_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_INT, .arg = (arg_), \
	  .help = (help_), .min = (min_), .max = (max_) }
#define CMD_LIST(n_, c_, arg_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_LIST, .arg = (arg_), \
	  .help = (help_) }
#define CMD_CHOICE(n_, c_, arg_, choices_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_CHOICE, .arg = (arg_), \
	  .help = (help_), .choices = (choices_) }
/* A number with an optional unit suffix, or one of the words ("off"; NULL: none). */
#define CMD_INT_UNIT(n_, c_, arg_, min_, max_, unit_, words_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_INT, .arg = (arg_), \
	  .help = (help_), .min = (min_), .max = (max_), .unit = (unit_), .choices = (words_) }
#define CMD_NUMBER(n_, c_, arg_, lo_, hi_, unit_, words_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_NUMBER, .arg = (arg_), \
	  .help = (help_), .lo = (lo_), .hi = (hi_), .unit = (unit_), .choices = (words_) }
#define CMD_DURATION(n_, c_, arg_, min_ms_, max_ms_, help_) \
	{ .name = (n_), .short_name = (c_), .type = CMD_OPT_DURATION, .arg = (arg_), \
	  .help = (help_), .min = (min_ms_), .max = (max_ms_) }
#define CMD_END { .name = NULL }

struct cmd_args;

struct cmd_entry {
	const char *name;
	const char *summary;    /* one line: `synthflow --help` and the man page's NAME */
	/*
	 * The first line is the synopsis ("synthflow NAME ..."), the rest the
	 * description; `synthflow NAME --help` prints all of it after "usage: ".
	 * A sub of a family needs only its synopsis.
	 */
	const char *usage;
	/*
	 * The operands as in the synopsis, in words from this list so that
	 * messages and completion know them: DAG (a DAG id), RUN (a run id),
	 * TASK, NAME (a workspace), KEY, VALUE, FILE, DIR, CMD; [X] is optional,
	 * X... repeats.  NULL: none.  "DAG [RUN]" takes one or two.
	 */
	const char *args;
	unsigned flags;         /* enum cmd_flags */
	const struct cmd_option *options;       /* terminated by CMD_END; NULL: none */
	int (*exec)(const struct cmd_args *a, struct sf_ctx *ctx);
	const struct cmd_entry *subs;           /* a family: terminated by { 0 }; exec is NULL */
};

struct cmd_optval {
	bool set;
	const char *str;        /* STRING, CHOICE: the value */
	long num;               /* INT; DURATION in ms */
	double real;            /* NUMBER */
	char **list;            /* LIST: the values in order (borrowed from argv) */
	size_t n;
};

/* The parsed command line handed to exec; valid while exec runs. */
struct cmd_args {
	int argc;               /* the operands (with CMD_RAW_ARGS: every word after the name) */
	char **argv;
	const struct cmd_entry *entry;
	struct cmd_optval *vals;        /* one per entry->options[i] */
};

/*
 * The value of the option with this long name; calling them with a name the
 * entry does not declare is a BUG().
 */
bool cmd_flag(const struct cmd_args *a, const char *name);
/* Also the word given to an INT or NUMBER option that has words (else def). */
const char *cmd_str(const struct cmd_args *a, const char *name, const char *def);
/* INT, or DURATION in ms; def when not given or given one of its words. */
long cmd_int(const struct cmd_args *a, const char *name, long def);
/* NUMBER; def when not given or given one of its words. */
double cmd_num(const struct cmd_args *a, const char *name, double def);
/* The values of a CMD_OPT_LIST option (borrowed), n of them (0 when it was not given). */
char **cmd_list(const struct cmd_args *a, const char *name, size_t *n);

/*
 * Runs the entry: picks the sub of a family, parses the options against the
 * entry, checks the operands, then calls exec.  argv[0] is the command's
 * name.  Returns the exit status.
 */
int cmd_exec(const struct cmd_entry *e, int argc, char **argv, struct sf_ctx *ctx);

/* Prints "synthflow: error: MSG" and the command's usage line; returns 2. */
int cmd_usage_error(const struct sf_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Finds the data folder and loads its configuration into ctx->cfg, as the
 * dispatcher does for CMD_NEEDS_DATA commands; for commands that need it
 * only sometimes (dags validate FILE... does not).  0, or -1 after an error.
 */
int cmd_load_data(struct sf_ctx *ctx);

/*
 * The one JSON printer of the command line: indented by two, keys in the
 * order the object was built (the order the web API sends), one newline.
 */
void cmd_print_json(json_t *j);
/*
 * The same encoding on one line, for JSON Lines output (one object per
 * record: `audio --json` and $SF_METRICS); malloc'd, without the newline.
 */
char *cmd_json_line(json_t *j);

/*
 * SIGINT and SIGTERM stop the scheduler s (sched_stop(), safe in a signal
 * handler) for `test` and `serve`; NULL restores the default actions.
 * Install it before anything can learn our pid, remove it before freeing s.
 */
void cmd_stop_on_signals(struct sched *s);

/*
 * Generated from the entries (generate.c): the man page of a command, the
 * overview page synthflow(1), the bash completion script, and the words it
 * completes: KIND is commands, dag, run or workspace (exit status 2 for
 * another kind; nothing printed when there is no data folder).
 */
void cmd_write_man(const struct cmd_entry *e, FILE *out);
void cmd_write_man_index(const struct cmd_entry *const *entries, size_t n, FILE *out);
void cmd_write_completion(const struct cmd_entry *const *entries, size_t n, FILE *out);
int cmd_complete(const struct cmd_entry *const *entries, size_t n, struct sf_ctx *ctx,
		 const char *kind);

extern const struct cmd_entry cmd_init_entry;
extern const struct cmd_entry cmd_dags_entry;
extern const struct cmd_entry cmd_test_entry;
extern const struct cmd_entry cmd_trigger_entry;
extern const struct cmd_entry cmd_runs_entry;
extern const struct cmd_entry cmd_tasks_entry;
extern const struct cmd_entry cmd_vars_entry;
extern const struct cmd_entry cmd_store_entry;
extern const struct cmd_entry cmd_files_entry;
extern const struct cmd_entry cmd_events_entry;
extern const struct cmd_entry cmd_serve_entry;
extern const struct cmd_entry cmd_schedulers_entry;
extern const struct cmd_entry cmd_new_entry;
extern const struct cmd_entry cmd_build_entry;
extern const struct cmd_entry cmd_lock_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_stop_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_shell_entry;
extern const struct cmd_entry cmd_rshell_entry;
extern const struct cmd_entry cmd_jupyter_entry;
extern const struct cmd_entry cmd_web_entry;
extern const struct cmd_entry cmd_base_entry;
extern const struct cmd_entry cmd_audio_entry;
extern const struct cmd_entry cmd_doctor_entry;
extern const struct cmd_entry cmd_cache_entry;
/* After a failure that may come from the machine (engine, GPUs, ports, disk): "see doctor". */
void cmd_doctor_hint(void);
extern const struct cmd_entry cmd_pack_entry;
extern const struct cmd_entry cmd_verify_entry;
extern const struct cmd_entry cmd_replay_entry;

#endif
