/*
 * The command framework (see cmd.h): parses a command line against the
 * entry that describes it, so every command reports the same mistakes in
 * the same words, and holds the helpers every command shares (usage errors,
 * the data folder, the JSON printer, the stop signals).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <strings.h>
#include <stdarg.h>

#include "cmd/cmd.h"
#include "flow/sched.h"
#include "util/common.h"
#include "util/suggest.h"
#include "util/timeutil.h"

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

/* Jansson keeps insertion order unless told to sort; reals as the API sends them. */
static char *json_encode(json_t *j, size_t flags)
{
	char *text = json_dumps(j, flags | JSON_REAL_PRECISION(15));

	if (!text)
		BUG("cannot encode a JSON value");
	return text;
}

void cmd_print_json(json_t *j)
{
	char *text = json_encode(j, JSON_INDENT(2));

	puts(text);
	free(text);
}

char *cmd_json_line(json_t *j)
{
	return json_encode(j, JSON_COMPACT);
}

static struct sched *signal_sched;

static void on_stop_signal(int sig)
{
	(void)sig;
	if (signal_sched)
		sched_stop(signal_sched);
}

void cmd_stop_on_signals(struct sched *s)
{
	/* No SA_RESTART: the scheduler's poll() returns at once either way. */
	struct sigaction sa = { .sa_handler = s ? on_stop_signal : SIG_DFL };

	sigemptyset(&sa.sa_mask);
	if (s)
		signal_sched = s;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!s)
		signal_sched = NULL;
}

static size_t option_index(const struct cmd_args *a, const char *name, enum cmd_opt_type type)
{
	const struct cmd_option *o = a->entry->options;

	for (size_t i = 0; o && o[i].name; i++) {
		if (strcmp(o[i].name, name))
			continue;
		if (o[i].type != type &&
		    !(type == CMD_OPT_STRING &&
		      (o[i].type == CMD_OPT_CHOICE || o[i].type == CMD_OPT_INT ||
		       o[i].type == CMD_OPT_NUMBER)) &&
		    !(type == CMD_OPT_INT && o[i].type == CMD_OPT_DURATION))
			BUG("option '--%s' of '%s' read as another type", name, a->entry->name);
		return i;
	}
	BUG("'%s' reads the option '--%s' it does not declare", a->entry->name, name);
}

bool cmd_flag(const struct cmd_args *a, const char *name)
{
	return a->vals[option_index(a, name, CMD_OPT_FLAG)].set;
}

const char *cmd_str(const struct cmd_args *a, const char *name, const char *def)
{
	const struct cmd_optval *v = &a->vals[option_index(a, name, CMD_OPT_STRING)];
	return v->str ? v->str : def;
}

long cmd_int(const struct cmd_args *a, const char *name, long def)
{
	const struct cmd_optval *v = &a->vals[option_index(a, name, CMD_OPT_INT)];
	return v->set && !v->str ? v->num : def;
}

double cmd_num(const struct cmd_args *a, const char *name, double def)
{
	const struct cmd_optval *v = &a->vals[option_index(a, name, CMD_OPT_NUMBER)];
	return v->set && !v->str ? v->real : def;
}

char **cmd_list(const struct cmd_args *a, const char *name, size_t *n)
{
	const struct cmd_optval *v = &a->vals[option_index(a, name, CMD_OPT_LIST)];
	*n = v->n;
	return v->list;
}

/* "dags list" or "trigger": how messages name the command. */
static const char *display_name(const struct sf_ctx *ctx, struct strbuf *sb)
{
	sb_reset(sb);
	sb_adds(sb, ctx->name);
	if (ctx->sub)
		sb_addf(sb, " %s", ctx->sub);
	return sb->buf;
}

static int unknown_option(const struct sf_ctx *ctx, const struct cmd_option *opts, const char *word)
{
	struct strbuf name = STRBUF_INIT, cmd = STRBUF_INIT;
	const char **cands;
	const char *hint;
	size_t n = 0;
	int ret;

	for (size_t i = 0; opts && opts[i].name; i++)
		n++;
	cands = xcalloc(n + 1, sizeof(*cands));
	for (size_t i = 0; i < n; i++)
		cands[i] = xasprintf("--%s", opts[i].name);
	sb_add(&name, word, strcspn(word, "="));
	hint = suggest_closest(name.buf, cands, n);
	if (hint)
		ret = cmd_usage_error(ctx, "unknown option '%s' for '%s' (did you mean '%s'?)", name.buf,
				      display_name(ctx, &cmd), hint);
	else
		ret = cmd_usage_error(ctx, "unknown option '%s' for '%s'", name.buf,
				      display_name(ctx, &cmd));
	for (size_t i = 0; i < n; i++)
		free((char *)cands[i]);
	free(cands);
	sb_release(&name);
	sb_release(&cmd);
	return ret;
}

/* "auto|all|none" -> "auto, all or none". */
static void add_choices(struct strbuf *sb, const char *choices)
{
	const char *last = strrchr(choices, '|');

	for (const char *p = choices; *p; p++) {
		if (*p != '|')
			sb_addch(sb, *p);
		else
			sb_adds(sb, p == last ? " or " : ", ");
	}
}

static int is_choice(const char *choices, const char *v)
{
	size_t len = strlen(v);

	for (const char *p = choices; *p;) {
		size_t n = strcspn(p, "|");
		if (n == len && !strncmp(p, v, n))
			return 1;
		p += n + (p[n] == '|');
	}
	return 0;
}

/* What follows the number in value is nothing or the option's unit ("22050Hz"); else -1. */
static int strip_unit(const struct cmd_option *o, const char *value, const char *end)
{
	return !*end || (end != value && o->unit && !strcasecmp(end, o->unit)) ? 0 : -1;
}

/* Parses an INT, NUMBER or DURATION value into v and checks its range; -1 when it is not one. */
static int number_value(const struct cmd_option *o, const char *value, struct cmd_optval *v)
{
	char *end;

	errno = 0;
	switch (o->type) {
	case CMD_OPT_INT:
		v->num = strtol(value, &end, 10);
		if (end == value || errno || strip_unit(o, value, end) < 0)
			return -1;
		return v->num < o->min || (o->max && v->num > o->max) ? -1 : 0;
	case CMD_OPT_NUMBER:
		v->real = strtod(value, &end);
		if (end == value || errno || !isfinite(v->real) || strip_unit(o, value, end) < 0)
			return -1;
		return v->real < o->lo || v->real > o->hi ? -1 : 0;
	case CMD_OPT_DURATION:
		v->num = (long)duration_parse_ms(value);
		return v->num < 0 || v->num < o->min || (o->max && v->num > o->max) ? -1 : 0;
	default:
		BUG("option '--%s' is not a number", o->name);
	}
}

static void add_duration(struct strbuf *sb, long ms)
{
	if (ms && ms % 1000 == 0)
		sb_addf(sb, "%lds", ms / 1000);
	else
		sb_addf(sb, "%ldms", ms);
}

/* "an integer from 1000 to 768000 (Hz) or keep": what an INT, NUMBER or DURATION option takes. */
static void expected_value(struct strbuf *sb, const struct cmd_option *o)
{
	switch (o->type) {
	case CMD_OPT_INT:
		if (o->max)
			sb_addf(sb, "an integer from %ld to %ld", o->min, o->max);
		else
			sb_addf(sb, "an integer of at least %ld", o->min);
		break;
	case CMD_OPT_NUMBER:
		if (isfinite(o->lo) && isfinite(o->hi))
			sb_addf(sb, "a number from %g to %g", o->lo, o->hi);
		else if (isfinite(o->lo))
			sb_addf(sb, "a number of at least %g", o->lo);
		else if (isfinite(o->hi))
			sb_addf(sb, "a number of at most %g", o->hi);
		else
			sb_adds(sb, "a number");
		break;
	default:
		sb_adds(sb, "a duration");
		if (o->min || o->max) {
			sb_adds(sb, o->max ? " from " : " of at least ");
			add_duration(sb, o->min);
			if (o->max) {
				sb_adds(sb, " to ");
				add_duration(sb, o->max);
			}
		}
		sb_adds(sb, " such as 500ms or 2s");
		break;
	}
	if (o->unit)
		sb_addf(sb, " (%s)", o->unit);
	if (o->choices) {
		sb_adds(sb, " or ");
		add_choices(sb, o->choices);
	}
}

/* Checks and stores one option's value; spelled is how the user wrote the option. */
static int set_value(const struct sf_ctx *ctx, const struct cmd_option *o, struct cmd_optval *v,
		     const char *spelled, char *value)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	switch (o->type) {
	case CMD_OPT_FLAG:
		break;
	case CMD_OPT_STRING:
		v->str = value;
		break;
	case CMD_OPT_LIST:
		v->list[v->n++] = value;
		break;
	case CMD_OPT_CHOICE:
		if (!is_choice(o->choices, value)) {
			add_choices(&sb, o->choices);
			ret = cmd_usage_error(ctx, "option '%s' must be %s, not '%s'", spelled, sb.buf,
					      value);
		}
		v->str = value;
		break;
	case CMD_OPT_INT:
	case CMD_OPT_NUMBER:
	case CMD_OPT_DURATION:
		v->str = NULL; /* given twice: the last one counts */
		if (o->choices && is_choice(o->choices, value)) {
			v->str = value;
			break;
		}
		if (number_value(o, value, v) < 0) {
			expected_value(&sb, o);
			ret = cmd_usage_error(ctx, "option '%s' needs %s, not '%s'", spelled, sb.buf,
					      value);
		}
		break;
	}
	v->set = true;
	sb_release(&sb);
	return ret;
}

/* The option named by word ("--json", "--port=1", "-p", "-pK=V"), or NULL. */
static const struct cmd_option *find_option(const struct cmd_option *opts, const char *word,
					    char **attached)
{
	*attached = NULL;
	for (size_t i = 0; opts && opts[i].name; i++) {
		const struct cmd_option *o = &opts[i];
		size_t n = strlen(o->name);
		if (word[1] == '-' && !strncmp(word + 2, o->name, n) &&
		    (word[2 + n] == '\0' || word[2 + n] == '=')) {
			if (word[2 + n] == '=')
				*attached = (char *)word + 3 + n;
			return o;
		}
		if (word[1] != '-' && o->short_name && word[1] == o->short_name) {
			if (word[2])
				*attached = (char *)word + 2;
			return o;
		}
	}
	return NULL;
}

/* The index-th word of entry->args ("[FILE...]"), its length in *n; NULL past the end. */
static const char *operand_word(const char *args, int index, size_t *n)
{
	for (int i = 0; args && *(args += strspn(args, " ")); i++) {
		*n = strcspn(args, " ");
		if (i == index)
			return args;
		args += *n;
	}
	*n = 0;
	return NULL;
}

/* The number of operands entry->args takes: [X] is optional, X... repeats. */
static void operand_counts(const char *args, int *min, int *max)
{
	const char *w;
	size_t n;

	*min = *max = 0;
	for (int i = 0; (w = operand_word(args, i, &n)); i++) {
		if (w[0] != '[')
			(*min)++;
		if ((n > 3 && !strncmp(w + n - 3, "...", 3)) || (n > 4 && !strncmp(w + n - 4, "...]", 4)))
			*max = INT_MAX;
		else if (*max != INT_MAX)
			(*max)++;
	}
}

/* How messages call the operand at index ("DAG" -> "DAG id"). */
static void add_operand_name(struct strbuf *sb, const char *args, int index)
{
	static const struct { const char *word, *says; } words[] = {
		{ "DAG", "DAG id" }, { "RUN", "run id" }, { "TASK", "task id" },
		{ "NAME", "workspace NAME" }, { "CMD", "command" },
	};
	size_t n;
	const char *w = operand_word(args, index, &n);

	if (!w)
		BUG("operand %d is not in '%s'", index, args);
	while (n && *w == '[') {
		w++;
		n--;
	}
	while (n && (w[n - 1] == ']' || w[n - 1] == '.'))
		n--;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (strlen(words[i].word) == n && !strncmp(words[i].word, w, n)) {
			sb_adds(sb, words[i].says);
			return;
		}
	}
	sb_add(sb, w, n);
}

static int check_operands(const struct sf_ctx *ctx, const struct cmd_entry *e, int argc, char **argv)
{
	struct strbuf what = STRBUF_INIT, cmd = STRBUF_INIT;
	int min, max, ret = 0;

	operand_counts(e->args, &min, &max);
	if (argc >= min && argc <= max)
		return 0;
	if (min == 1 && max == 1)
		add_operand_name(&what, e->args, 0);
	display_name(ctx, &cmd);
	if (argc < min) {
		struct strbuf missing = STRBUF_INIT;
		add_operand_name(&missing, e->args, argc);
		if (what.len)
			ret = cmd_usage_error(ctx, "missing the %s: '%s' takes exactly one %s",
					      missing.buf, cmd.buf, what.buf);
		else
			ret = cmd_usage_error(ctx, "missing the %s", missing.buf);
		sb_release(&missing);
	} else if (max == 0) {
		ret = cmd_usage_error(ctx, "unexpected argument '%s'", argv[0]);
	} else if (what.len) {
		ret = cmd_usage_error(ctx, "too many arguments: '%s' takes exactly one %s", cmd.buf,
				      what.buf);
	} else {
		ret = cmd_usage_error(ctx, "too many arguments");
	}
	sb_release(&what);
	sb_release(&cmd);
	return ret;
}

/* Fills a from argv[1..argc): options into a->vals, the rest into a->argv. */
static int parse(const struct sf_ctx *ctx, const struct cmd_entry *e, int argc, char **argv,
		 struct cmd_args *a)
{
	const struct cmd_option *opts = e->options;
	int only_operands = 0;

	for (int i = 1; i < argc; i++) {
		char *w = argv[i], *value;
		const struct cmd_option *o;
		struct strbuf spelled = STRBUF_INIT;
		int ret;

		if (only_operands || w[0] != '-' || !w[1]) {
			a->argv[a->argc++] = w;
			if (e->flags & CMD_OPTIONS_FIRST)
				only_operands = 1;
			continue;
		}
		if (!strcmp(w, "--")) {
			only_operands = 1;
			continue;
		}
		o = find_option(opts, w, &value);
		if (!o || (o->type == CMD_OPT_FLAG && value && w[1] != '-'))
			return unknown_option(ctx, opts, w);
		sb_add(&spelled, w, strcspn(w, "="));
		if (o->type == CMD_OPT_FLAG && value) {
			ret = cmd_usage_error(ctx, "option '%s' takes no value", spelled.buf);
		} else if (o->type != CMD_OPT_FLAG && !value && i + 1 >= argc) {
			ret = cmd_usage_error(ctx, "option '%s' needs a value", spelled.buf);
		} else {
			if (o->type != CMD_OPT_FLAG && !value)
				value = argv[++i];
			ret = set_value(ctx, o, &a->vals[o - opts], spelled.buf, value);
		}
		sb_release(&spelled);
		if (ret)
			return ret;
	}
	return check_operands(ctx, e, a->argc, a->argv);
}

/* The sub of a family that argv[1] names, or NULL after a usage error. */
static const struct cmd_entry *find_sub(const struct sf_ctx *ctx, const struct cmd_entry *e,
					int argc, char **argv)
{
	struct strbuf list = STRBUF_INIT;
	const char **names;
	const char *hint;
	size_t n = 0;

	for (; e->subs[n].name; n++)
		if (argc > 1 && !strcmp(argv[1], e->subs[n].name))
			return &e->subs[n];
	names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		names[i] = e->subs[i].name;
		sb_addf(&list, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	}
	if (argc < 2)
		cmd_usage_error(ctx, "missing subcommand (%s)", list.buf);
	else if ((hint = suggest_closest(argv[1], names, n)))
		cmd_usage_error(ctx, "unknown subcommand '%s %s' (did you mean '%s'?)", e->name, argv[1],
				hint);
	else
		cmd_usage_error(ctx, "unknown subcommand '%s %s' (%s)", e->name, argv[1], list.buf);
	free(names);
	sb_release(&list);
	return NULL;
}

int cmd_exec(const struct cmd_entry *e, int argc, char **argv, struct sf_ctx *ctx)
{
	struct cmd_args a = { .entry = e };
	size_t nopts = 0;
	int ret;

	if (e->subs) {
		e = find_sub(ctx, e, argc, argv);
		if (!e)
			return 2;
		ctx->sub = e->name;
		argc--;
		argv++;
		a.entry = e;
	}
	if (e->flags & CMD_RAW_ARGS) {
		a.argc = argc - 1;
		a.argv = argv + 1;
		return e->exec(&a, ctx);
	}
	for (; e->options && e->options[nopts].name; nopts++)
		;
	a.vals = xcalloc(nopts + 1, sizeof(*a.vals));
	for (size_t i = 0; i < nopts; i++)
		if (e->options[i].type == CMD_OPT_LIST)
			a.vals[i].list = xcalloc((size_t)argc + 1, sizeof(char *));
	a.argv = xcalloc((size_t)argc + 1, sizeof(char *));
	ret = parse(ctx, e, argc, argv, &a);
	if (!ret)
		ret = e->exec(&a, ctx);
	for (size_t i = 0; i < nopts; i++)
		free(a.vals[i].list);
	free(a.vals);
	free(a.argv);
	return ret;
}
