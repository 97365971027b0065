/*
 * What a CLI's users expect besides --help, generated from the same command
 * entries so it cannot drift from the parser: a man page per command
 * (synthflow-NAME(1)) and an overview page (synthflow(1)), the bash
 * completion script, and the words it completes (DAG ids, run ids,
 * workspaces) read from the data folder.  The build writes the pages and the
 * script with these (meson.build, doc/), `make install` installs them.
 */
#include <dirent.h>

#include "cmd/cmd.h"
#include "flow/dag.h"
#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"

/* Text as roff: backslashes escaped, no line may start a request. */
static void roff_text(FILE *out, const char *s, size_t n)
{
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (bol && (s[i] == '.' || s[i] == '\''))
			fputs("\\&", out);
		if (s[i] == '\\')
			fputs("\\e", out);
		else if (s[i] == '-')
			fputs("\\-", out);
		else
			fputc(s[i], out);
		bol = s[i] == '\n';
	}
}

static void roff_str(FILE *out, const char *s)
{
	roff_text(out, s, strlen(s));
}

static void upper(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s == '-' ? '-' : *s, out);
}

static void man_options(FILE *out, const struct cmd_option *o)
{
	for (; o && o->name; o++) {
		fputs(".TP\n", out);
		if (o->short_name)
			fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
		fputs("\\fB\\-\\-", out);
		roff_str(out, o->name);
		fputs("\\fR", out);
		if (o->arg) {
			fputs(" \\fI", out);
			roff_str(out, o->arg);
			fputs("\\fR", out);
		}
		fputc('\n', out);
		roff_str(out, o->help ? o->help : "");
		if (o->type == CMD_OPT_CHOICE) {
			fputs(" (", out);
			for (const char *p = o->choices; *p; p++)
				*p == '|' ? fputs(", ", out) : fputc(*p, out);
			fputc(')', out);
		}
		if (o->type == CMD_OPT_LIST)
			fputs("; may be given more than once", out);
		fputc('\n', out);
	}
}

/* "synthflow runs list [DAG] [--limit N] [--json]": a sub's synopsis from its entry. */
static void synopsis(FILE *out, const char *family, const struct cmd_entry *e)
{
	fprintf(out, "synthflow %s ", family);
	roff_str(out, e->name);
	if (e->args) {
		fputc(' ', out);
		roff_str(out, e->args);
	}
	for (const struct cmd_option *o = e->options; o && o->name; o++) {
		fprintf(out, " [\\-\\-%s%s%s]%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "",
			o->type == CMD_OPT_LIST ? "..." : "");
	}
	fputc('\n', out);
}

void cmd_write_man(const struct cmd_entry *e, FILE *out)
{
	const char *nl = strchr(e->usage, '\n');
	size_t first = nl ? (size_t)(nl - e->usage) : strlen(e->usage);
	const char *rest = nl ? nl + 1 : "";

	fputs(".TH SYNTHFLOW-", out);
	upper(out, e->name);
	fprintf(out, " 1 \"\" \"synthflow %s\" \"SynthFlow Manual\"\n", SF_VERSION);
	fprintf(out, ".SH NAME\nsynthflow\\-%s \\- ", e->name);
	roff_str(out, e->summary);
	fputs("\n.SH SYNOPSIS\n.nf\n", out);
	if (e->subs) {
		for (const struct cmd_entry *s = e->subs; s->name; s++)
			synopsis(out, e->name, s);
	} else {
		roff_text(out, e->usage, first);
		fputc('\n', out);
	}
	fputs(".fi\n", out);
	rest += strspn(rest, "\n");
	if (*rest) {
		fputs(".SH DESCRIPTION\n.nf\n", out);
		roff_str(out, rest);
		fputs(".fi\n", out);
	}
	if (e->subs) {
		fputs(".SH SUBCOMMANDS\n", out);
		for (const struct cmd_entry *s = e->subs; s->name; s++) {
			fputs(".TP\n.B ", out);
			roff_str(out, s->name);
			fputc('\n', out);
			roff_str(out, s->summary ? s->summary : "");
			fputc('\n', out);
			if (s->options) {
				fputs(".RS\n", out);
				man_options(out, s->options);
				fputs(".RE\n", out);
			}
		}
	}
	if (e->options) {
		fputs(".SH OPTIONS\n", out);
		man_options(out, e->options);
	}
	fputs(".SH SEE ALSO\n.BR synthflow (1)\n", out);
}

void cmd_write_man_index(const struct cmd_entry *const *entries, size_t n, FILE *out)
{
	fprintf(out, ".TH SYNTHFLOW 1 \"\" \"synthflow %s\" \"SynthFlow Manual\"\n", SF_VERSION);
	fputs(".SH NAME\nsynthflow \\- reproducible workspaces and DAGs of tasks over them\n"
	      ".SH SYNOPSIS\n.B synthflow\n[\\-\\-data \\fIDIR\\fR] [\\-\\-version] [\\-\\-help] "
	      "\\fICOMMAND\\fR [\\fIARGS\\fR]\n"
	      ".SH DESCRIPTION\nThe data folder is \\-\\-data DIR, else $SYNTHFLOW_DATA, else the "
	      "nearest run\\-data/ at or above the current directory.\n"
	      "Usage errors exit with status 2, failures with 1.\n"
	      ".SH COMMANDS\n",
	      out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, ".TP\n.BR synthflow\\-%s (1)\n", entries[i]->name);
		roff_str(out, entries[i]->summary);
		fputc('\n', out);
	}
	fputs(".SH FILES\n.TP\n.I run\\-data/synthflow.yaml\n"
	      "the configuration; `synthflow init` writes it with every key and its default\n", out);
}

/* What bash completes for an operand or option value named w ("DAG", "[FILE...]"). */
static const char *kind_of(const char *w, size_t n)
{
	static const struct { const char *word, *kind; } kinds[] = {
		{ "DAG", "dag" }, { "RUN", "run" }, { "NAME", "workspace" }, { "FILE", "file" },
		{ "DIR", "dir" }, { "OUTDIR", "dir" },
	};

	while (n && *w == '[') {
		w++;
		n--;
	}
	while (n && (w[n - 1] == ']' || w[n - 1] == '.'))
		n--;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (strlen(kinds[i].word) == n && !strncmp(kinds[i].word, w, n))
			return kinds[i].kind;
	return "-";
}

static void completion_entry(FILE *out, const char *key, const struct cmd_entry *e)
{
	fprintf(out, "_sf_opts[%s]='", key);
	for (const struct cmd_option *o = e->options; o && o->name; o++)
		fprintf(out, "%s--%s", o == e->options ? "" : " ", o->name);
	fprintf(out, "'\n_sf_vals[%s]='", key);
	for (const struct cmd_option *o = e->options; o && o->name; o++) {
		if (o->type == CMD_OPT_FLAG)
			continue;
		fprintf(out, " --%s", o->name);
		if (o->short_name)
			fprintf(out, " -%c", o->short_name);
	}
	fprintf(out, " '\n_sf_args[%s]='", key);
	for (const char *p = e->args; p && *(p += strspn(p, " "));) {
		size_t n = strcspn(p, " ");
		fprintf(out, "%s%s%s", p == e->args ? "" : " ", kind_of(p, n),
			memmem(p, n, "...", 3) ? "..." : "");
		p += n;
	}
	fputs("'\n", out);
	for (const struct cmd_option *o = e->options; o && o->name; o++) {
		const char *v;
		if (o->type == CMD_OPT_FLAG)
			continue;
		v = o->type == CMD_OPT_CHOICE ? o->choices : kind_of(o->arg, strlen(o->arg));
		fprintf(out, "_sf_optval['%s --%s']='%s'\n", key, o->name, v);
		if (o->short_name)
			fprintf(out, "_sf_optval['%s -%c']='%s'\n", key, o->short_name, v);
	}
}

void cmd_write_completion(const struct cmd_entry *const *entries, size_t n, FILE *out)
{
	fputs("# bash completion for synthflow, generated by 'synthflow --completion' from the\n"
	      "# command entries: commands, subcommands, options and their values, DAG ids,\n"
	      "# run ids and workspaces (asked from 'synthflow --complete KIND').\n"
	      "declare -gA _sf_subs=() _sf_opts=() _sf_vals=() _sf_args=() _sf_optval=()\n"
	      "_sf_cmds='",
	      out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? " " : "", entries[i]->name);
	fputs("'\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct cmd_entry *e = entries[i];
		if (!e->subs) {
			completion_entry(out, e->name, e);
			continue;
		}
		fprintf(out, "_sf_subs[%s]='", e->name);
		for (const struct cmd_entry *s = e->subs; s->name; s++)
			fprintf(out, "%s%s", s == e->subs ? "" : " ", s->name);
		fputs("'\n", out);
		for (const struct cmd_entry *s = e->subs; s->name; s++) {
			char *key = xasprintf("%s/%s", e->name, s->name);
			completion_entry(out, key, s);
			free(key);
		}
	}
	fputs("_synthflow_value() {\n"
	      "\tcase $1 in\n"
	      "\tfile) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	      "\tdir) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
	      "\tdag|run|workspace) COMPREPLY=($(compgen -W \"$(synthflow ${data:+--data \"$data\"} "
	      "--complete \"$1\" 2>/dev/null)\" -- \"$cur\")) ;;\n"
	      "\t-|'') ;;\n"
	      "\t*) COMPREPLY=($(compgen -W \"${1//|/ }\" -- \"$cur\")) ;;\n"
	      "\tesac\n"
	      "}\n"
	      "_synthflow() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} data= key= expect= w i nops=0 rest=0\n"
	      "\tCOMPREPLY=()\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tif [[ -n $expect ]]; then\n"
	      "\t\t\t[[ $expect == --data ]] && data=$w\n"
	      "\t\t\texpect=\n"
	      "\t\telif [[ -z $key ]]; then\n"
	      "\t\t\tcase $w in --data) expect=--data ;; -*) ;; *) key=$w ;; esac\n"
	      "\t\telif [[ -n ${_sf_subs[$key]} ]]; then\n"
	      "\t\t\tkey=$key/$w\n"
	      "\t\telif ((rest)) || [[ $w != -* ]]; then\n"
	      "\t\t\t((nops++))\n"
	      "\t\telif [[ $w == -- ]]; then\n"
	      "\t\t\trest=1\n"
	      "\t\telif [[ \" ${_sf_vals[$key]} \" == *\" $w \"* ]]; then\n"
	      "\t\t\texpect=$w\n"
	      "\t\tfi\n"
	      "\tdone\n"
	      "\tif [[ $expect == --data ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -d -- \"$cur\"))\n"
	      "\telif [[ -z $key ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$_sf_cmds --data --help --version\" -- \"$cur\"))\n"
	      "\telif [[ -n ${_sf_subs[$key]} ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"${_sf_subs[$key]}\" -- \"$cur\"))\n"
	      "\telif [[ -n $expect ]]; then\n"
	      "\t\t_synthflow_value \"${_sf_optval[$key $expect]}\"\n"
	      "\telif [[ $cur == -* ]] && ((!rest)); then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"${_sf_opts[$key]} --help\" -- \"$cur\"))\n"
	      "\telse\n"
	      "\t\tlocal -a kinds=(${_sf_args[$key]})\n"
	      "\t\tlocal k=${kinds[nops]}\n"
	      "\t\tif [[ -z $k && ${#kinds[@]} -gt 0 && ${kinds[-1]} == *... ]]; then\n"
	      "\t\t\tk=${kinds[-1]}\n"
	      "\t\tfi\n"
	      "\t\t_synthflow_value \"${k%...}\"\n"
	      "\tfi\n"
	      "\treturn 0\n"
	      "}\n"
	      "complete -F _synthflow synthflow\n",
	      out);
}

static void complete_workspaces(const char *data_dir)
{
	char *src = path_join(data_dir, "src");
	DIR *d = opendir(src);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *hooks = xasprintf("%s/%s/container", src, de->d_name);
		if (de->d_name[0] != '.' && strcmp(de->d_name, "template") && is_dir(hooks))
			puts(de->d_name);
		free(hooks);
	}
	if (d)
		closedir(d);
	free(src);
}

/* The newest runs only: completion must answer at once on a long history. */
#define COMPLETE_RUNS 100

int cmd_complete(const struct cmd_entry *const *entries, size_t n, struct sf_ctx *ctx,
		 const char *kind)
{
	if (!strcmp(kind, "commands")) {
		for (size_t i = 0; i < n; i++)
			puts(entries[i]->name);
		return 0;
	}
	if (strcmp(kind, "dag") && strcmp(kind, "run") && strcmp(kind, "workspace"))
		return error("cannot complete '%s' (commands, dag, run or workspace)", kind), 2;
	/* Completion prints words or nothing: never an error in the middle of a command line. */
	error_set_quiet(1);
	if (cmd_load_data(ctx) < 0)
		return 1;
	if (!strcmp(kind, "dag")) {
		struct dag_set set = { 0 };
		dagset_load(&set, ctx->cfg.data_dir, NULL);
		for (size_t i = 0; i < set.n; i++)
			puts(set.dags[i]->id);
		dagset_release(&set);
	} else if (!strcmp(kind, "run")) {
		struct store_run_filter f = { .limit = COMPLETE_RUNS };
		struct store *st = store_open_reader(ctx->cfg.flow_store, ctx->cfg.data_dir);
		struct store_run *runs;
		size_t nruns, total;
		if (st && store_run_list(st, &f, &runs, &nruns, &total) == 0) {
			for (size_t i = 0; i < nruns; i++)
				puts(runs[i].run_id);
			store_run_list_free(runs, nruns);
		}
		if (st)
			store_close(st);
	} else {
		complete_workspaces(ctx->cfg.data_dir);
	}
	return 0;
}
