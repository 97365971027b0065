/* synthflow dags list|show|validate|graph: the DAG files of a data folder. */
#include <glob.h>
#include <inttypes.h>

#include "cmd/cmd.h"
#include "flow/dag.h"
#include "flow/events.h"
#include "flow/notyet.h"
#include "flow/run.h"
#include "flow/schedule.h"
#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"

/* Loads every DAG of the data folder; diagnostics to diag_out (NULL = silent). */
static int load_all(struct sf_ctx *ctx, struct dag_set *set, FILE *diag_out)
{
	if (cmd_load_data(ctx) < 0)
		return -1;
	dagset_load(set, ctx->cfg.data_dir, diag_out);
	return 0;
}

static const char *rel_path(const struct sf_ctx *ctx, const char *path)
{
	size_t n = strlen(ctx->cfg.data_dir);

	if (!strncmp(path, ctx->cfg.data_dir, n) && path[n] == '/')
		return path + n + 1;
	return path;
}

static void list_table(struct sf_ctx *ctx, const struct dag_set *set)
{
	int wid = 2, wsched = 8;
	char next[40];

	for (size_t i = 0; i < set->n; i++) {
		const struct dag *d = set->dags[i];
		if ((int)strlen(d->id) > wid)
			wid = (int)strlen(d->id);
		if (d->schedule && (int)strlen(d->schedule) > wsched)
			wsched = (int)strlen(d->schedule);
	}
	printf("%-*s  %5s  %-*s  %-25s  %-40s  %s\n", wid, "ID", "TASKS", wsched, "SCHEDULE", "NEXT",
	       "DESCRIPTION", "PATH");
	for (size_t i = 0; i < set->n; i++) {
		const struct dag *d = set->dags[i];
		const char *desc = d->description ? d->description : "";
		int dlen = (int)strcspn(desc, "\n");

		schedule_next_text(d, next, sizeof(next));
		if (!*next)
			snprintf(next, sizeof(next), "-");
		if (dlen > 40)
			printf("%-*s  %5zu  %-*s  %-25s  %.37s...  %s\n", wid, d->id, d->ntasks, wsched,
			       d->schedule ? d->schedule : "-", next, desc, rel_path(ctx, d->path));
		else
			printf("%-*s  %5zu  %-*s  %-25s  %-40.*s  %s\n", wid, d->id, d->ntasks, wsched,
			       d->schedule ? d->schedule : "-", next, dlen, desc, rel_path(ctx, d->path));
	}
}

static int dags_list(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct dag_set set = { 0 };
	struct strbuf err = STRBUF_INIT;
	int ret;

	if (schedule_clock_init(&err) < 0) {
		error("%s", err.buf);
		sb_release(&err);
		return 1;
	}
	if (load_all(ctx, &set, stderr) < 0)
		return 1;
	if (cmd_flag(a, "json")) {
		json_t *arr = json_array(), *root;
		for (size_t i = 0; i < set.n; i++) {
			json_t *o = dag_to_json(set.dags[i]);
			char next[40];
			schedule_next_text(set.dags[i], next, sizeof(next));
			json_object_set_new(o, "next_run", *next ? json_string(next) : json_null());
			json_array_append_new(arr, o);
		}
		root = json_pack("{s:o, s:I}", "dags", arr, "total", (json_int_t)set.n);
		cmd_print_json(root);
		json_decref(root);
	} else if (set.n) {
		list_table(ctx, &set);
	} else if (!set.bad_files) {
		printf("no DAGs yet: add DAG files as %s/src/WORKSPACE/dags/NAME.yaml\n",
		       ctx->cfg.data_dir);
	}
	if (set.bad_files)
		error("%zu DAG file(s) with errors; the DAGs in them are not listed", set.bad_files);
	ret = set.bad_files ? 1 : 0;
	dagset_release(&set);
	return ret;
}

/* The DAG named ID, or NULL after an error (with a hint). */
static struct dag *find_dag(struct sf_ctx *ctx, struct dag_set *set, const char *id)
{
	if (load_all(ctx, set, NULL) < 0)
		return NULL;
	return run_find_dag(set, id);
}

/* 90000 -> "90s", 7200000 -> "2h": the largest unit that divides exactly. */
static void add_duration(struct strbuf *sb, int64_t ms)
{
	static const struct { int64_t ms; const char *unit; } units[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms && ms % units[i].ms == 0) {
			sb_addf(sb, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
			return;
		}
	}
	sb_addf(sb, "%" PRId64 "ms", ms);
}

static void show_param(const struct dag_param *p)
{
	printf("  %-16s %-8s", p->name, param_type_name(p->type));
	if (p->def) {
		char *s = json_dumps(p->def, JSON_ENCODE_ANY);
		printf(" default %s", s);
		free(s);
	} else {
		fputs(" required", stdout);
	}
	if (p->has_min)
		printf(" min %.15g", p->min);
	if (p->has_max)
		printf(" max %.15g", p->max);
	for (size_t i = 0; i < p->nvalues; i++)
		printf("%s%s", i ? "|" : " values ", p->values[i]);
	if (p->description)
		printf("  (%s)", p->description);
	putchar('\n');
}

static void show_task(const struct dag_task *t)
{
	struct strbuf sb = STRBUF_INIT;

	printf("  %s\n", t->id);
	for (size_t k = 0; k < t->nneeds; k++)
		printf("%s%s", k ? ", " : "    needs:   ", t->needs[k]);
	if (t->nneeds)
		printf("  (trigger %s)\n", trigger_rule_name(t->trigger));
	if (t->foreach)
		printf("    foreach: %s\n", t->foreach);
	printf("    run:     %s\n", t->run);
	if (t->retries) {
		sb_addf(&sb, "%d, first delay ", t->retries);
		add_duration(&sb, t->retry_delay_ms);
		printf("    retries: %s\n", sb.buf);
	}
	if (t->timeout_ms) {
		sb_reset(&sb);
		add_duration(&sb, t->timeout_ms);
		printf("    timeout: %s\n", sb.buf);
	}
	for (size_t i = 0; i < t->nenv; i++)
		printf("    env:     %s=%s\n", t->env[i].key, t->env[i].value);
	if (t->workdir)
		printf("    workdir: %s\n", t->workdir);
	for (size_t i = 0; i < t->ninputs; i++)
		printf("    input:   %s\n", t->inputs[i]);
	for (size_t i = 0; i < t->ninput_names; i++)
		printf("    input names: %s\n", t->input_names[i]);
	for (size_t i = 0; i < t->noutputs; i++)
		printf("    output:  %s\n", t->outputs[i]);
	if (t->max_active)
		printf("    max_active: %d\n", t->max_active);
	sb_release(&sb);
}

static void show_text(const struct dag *d)
{
	printf("dag:         %s\n", d->id);
	printf("path:        %s\n", d->path);
	if (d->workspace)
		printf("workspace:   %s\n", d->workspace);
	if (d->description)
		printf("description: %s\n", d->description);
	if (d->schedule)
		printf("schedule:    %s\n", d->schedule);
	if (d->on_file)
		printf("on_file:     %s\n", d->on_file);
	if (d->max_active_runs)
		printf("max_active_runs: %d\n", d->max_active_runs);
	if (d->on_success)
		printf("on_success:  %s\n", d->on_success);
	if (d->on_failure)
		printf("on_failure:  %s\n", d->on_failure);
	if (d->nparams)
		puts("params:");
	for (size_t i = 0; i < d->nparams; i++)
		show_param(&d->params[i]);
	puts("tasks (in run order):");
	for (size_t i = 0; i < d->ntasks; i++)
		show_task(&d->tasks[d->topo[i]]);
}

static int dags_show(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct dag_set set = { 0 };
	struct dag *d = find_dag(ctx, &set, a->argv[0]);

	if (d && cmd_flag(a, "json")) {
		json_t *j = dag_to_json(d);
		cmd_print_json(j);
		json_decref(j);
	} else if (d) {
		show_text(d);
	}
	dagset_release(&set);
	return d ? 0 : 1;
}

static void dot_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

static int dags_graph(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct dag_set set = { 0 };
	struct dag *d;

	if (!(d = find_dag(ctx, &set, a->argv[0]))) {
		dagset_release(&set);
		return 1;
	}
	fputs("digraph ", stdout);
	dot_quoted(d->id);
	fputs(" {\n\trankdir=LR;\n\tnode [shape=box, style=rounded];\n", stdout);
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		putchar('\t');
		dot_quoted(t->id);
		if (t->foreach)
			fputs(" [shape=box3d]", stdout);
		fputs(";\n", stdout);
	}
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		for (size_t k = 0; k < t->nneeds; k++) {
			putchar('\t');
			dot_quoted(t->needs[k]);
			fputs(" -> ", stdout);
			dot_quoted(t->id);
			fputs(";\n", stdout);
		}
	}
	fputs("}\n", stdout);
	dagset_release(&set);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FILE... with each folder replaced by its *.yaml and *.yml files, sorted. */
static char **expand_folders(char **args, size_t n, size_t *count)
{
	char **v = NULL;
	size_t alloc = 0;

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		glob_t g;
		size_t first = *count;
		if (!is_dir(args[i])) {
			ALLOC_GROW(v, *count + 1, alloc);
			v[(*count)++] = xstrdup(args[i]);
			continue;
		}
		for (const char *ext = "yaml\0yml\0"; *ext; ext += strlen(ext) + 1) {
			char *pat = xasprintf("%s/*.%s", args[i], ext);
			memset(&g, 0, sizeof(g));
			if (!glob(pat, 0, NULL, &g)) {
				ALLOC_GROW(v, *count + g.gl_pathc, alloc);
				for (size_t k = 0; k < g.gl_pathc; k++)
					v[(*count)++] = xstrdup(g.gl_pathv[k]);
			}
			globfree(&g);
			free(pat);
		}
		if (*count - first > 1)
			qsort(v + first, *count - first, sizeof(*v), cmp_str);
	}
	return v;
}

static int dags_validate(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct dag_set set = { 0 };
	char **files = NULL;
	size_t nfiles = 0;
	int ret;

	if (a->argc) {
		files = expand_folders(a->argv, (size_t)a->argc, &nfiles);
		dagset_load_files(&set, files, nfiles, stderr);
	} else if (load_all(ctx, &set, stderr) < 0) {
		return 1;
	}
	notyet_config_warn(&ctx->cfg);
	printf("%zu DAG(s) valid\n", set.n);
	if (set.bad_files)
		error("%zu DAG file(s) invalid", set.bad_files);
	else if (a->argc && !nfiles)
		note("no *.yaml or *.yml files in the given folders");
	else if (!a->argc && !set.n)
		note("no DAG files under %s/src/*/dags/", ctx->cfg.data_dir);
	ret = set.bad_files ? 1 : 0;
	dagset_release(&set);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return ret;
}

/*
 * next DAG [-n N] [--after ISO]: the times serve will fire, computed by the
 * same code (schedule.c), in the DAG's zone with its offset.
 */
static int dags_next(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct strbuf err = STRBUF_INIT;
	const char *after_s = cmd_str(a, "after", NULL);
	long n = cmd_int(a, "n", 5);
	struct dag_set set = { 0 };
	struct schedule s;
	struct dag *d;
	int64_t t;
	int ret = 1;

	if (schedule_clock_init(&err) < 0) {
		error("%s", err.buf);
		goto out;
	}
	t = after_s ? schedule_parse_iso(after_s) : schedule_now();
	if (t < 0) {
		error("--after '%s' is not an ISO-8601 time with Z or an offset, such as"
		      " 2027-03-28T01:30:00+01:00", after_s);
		goto out;
	}
	if (!(d = find_dag(ctx, &set, a->argv[0])))
		goto out;
	if (!d->schedule) {
		error("DAG '%s' has no schedule", d->id);
		goto out;
	}
	if (schedule_open(d, &s, &err) < 0) {
		error("DAG '%s': %s", d->id, err.buf);
		schedule_close(&s);
		goto out;
	}
	for (long i = 0; i < n && (t = schedule_next(&s, t)) >= 0; i++) {
		char buf[40];
		tz_format(s.tz, t / 1000, buf, sizeof(buf));
		printf("%s\n", buf);
	}
	schedule_close(&s);
	ret = 0;
out:
	sb_release(&err);
	dagset_release(&set);
	return ret;
}

/* pause / unpause: schedules and file arrivals wait; manual triggers still run. */
static int dags_pause(const struct cmd_args *a, struct sf_ctx *ctx)
{
	int paused = !strcmp(ctx->sub, "pause");
	struct store *st;
	struct dag *d;
	int ret;

	if (cmd_load_data(ctx) < 0 || !(d = run_load_dag(ctx->cfg.data_dir, a->argv[0])))
		return 1;
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	ret = !st || events_set_paused(st, ctx->cfg.data_dir, d, paused, "cli") < 0;
	if (!ret)
		printf("%s %s\n", d->id, paused ? "paused" : "unpaused");
	if (st)
		store_close(st);
	dag_free(d);
	return ret;
}

static const struct cmd_option next_options[] = {
	CMD_INT("n", 'n', "N", 1, 100000, "how many times (default 5)"),
	CMD_STRING("after", 0, "ISO", "from this time on (default now), e.g. 2027-03-28T00:00:00Z"),
	CMD_END,
};

static const struct cmd_option json_option[] = {
	CMD_FLAG("json", 0, "print JSON (the web API's objects)"),
	CMD_END,
};

const struct cmd_entry cmd_dags_entry = {
	.name = "dags",
	.summary = "list, show, validate, graph, pause and unpause DAGs; next scheduled times",
	.usage = "synthflow dags list [--json] | show ID [--json] | validate [FILE...] | graph ID\n"
		 "               | next ID [-n N] [--after ISO] | pause ID | unpause ID\n"
		 "\n"
		 "  list [--json]       every DAG under run-data/src/*/dags/*.yaml|yml: id, tasks,\n"
		 "                      schedule and its next time, description and file.  Files\n"
		 "                      with errors are reported on stderr (exit 1) and the good\n"
		 "                      DAGs still listed.\n"
		 "  show ID [--json]    one DAG: params, tasks in run order, settings\n"
		 "  validate [FILE...]  checks the given files or folders (no data folder needed),\n"
		 "                      or every DAG file of the data folder; prints problems as\n"
		 "                      FILE:LINE:COL: error: MESSAGE and exits 1 if any\n"
		 "  graph ID            the DAG as Graphviz DOT (pipe it to 'dot -Tsvg')\n"
		 "  next ID [-n N] [--after ISO]\n"
		 "                      the next N (default 5) times its schedule fires, in its\n"
		 "                      time zone with the offset (2027-03-28T03:00:00+02:00)\n"
		 "  pause ID            its schedule stops and new files in downloaded/ wait for\n"
		 "                      it (see 'synthflow files'); runs triggered by hand still run\n"
		 "  unpause ID          the files that waited get their runs; the schedule fires\n"
		 "                      its newest missed time (or, with catchup, up to max_catchup)\n"
		 "\n"
		 "The DAG language is described in docs/dags.md.\n",
	.subs = (const struct cmd_entry[]){
		{ .name = "list", .summary = "every DAG of the data folder", .options = json_option,
		  .exec = dags_list },
		{ .name = "show", .summary = "one DAG: params, tasks in run order, settings",
		  .args = "DAG", .options = json_option, .exec = dags_show },
		{ .name = "validate", .summary = "check DAG files; FILE:LINE:COL for each problem",
		  .args = "[FILE...]", .exec = dags_validate },
		{ .name = "graph", .summary = "the DAG as Graphviz DOT", .args = "DAG",
		  .exec = dags_graph },
		{ .name = "next", .summary = "the next times its schedule fires", .args = "DAG",
		  .options = next_options, .exec = dags_next },
		{ .name = "pause", .summary = "schedule stops, new files wait; manual triggers still run",
		  .args = "DAG", .exec = dags_pause },
		{ .name = "unpause", .summary = "resume; waiting files and missed times get runs",
		  .args = "DAG", .exec = dags_pause },
		CMD_END,
	},
};
