/*
 * {{ ... }} templates: one scanner shared by the validator (tmpl_check, no
 * values yet) and the executor (tmpl_expand), so both agree on the syntax.
 */
#include "flow/template.h"

#include <ctype.h>

#include "flow/dag.h"
#include "flow/shctx.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/suggest.h"

/* What a name inside {{ }} refers to. */
enum tmpl_kind {
	TK_PARAM, TK_VAR, TK_RUN_ID, TK_RUN_DIR, TK_RUN_DATE, TK_DAG_ID, TK_TASK_ID,
	TK_ITEM, TK_ITEM_NAME, TK_ITEM_STEM, TK_ITEM_DIR, TK_ITEM_REL, TK_ITEM_RELSTEM, TK_ITEMS, TK_DATA,
	TK_FILE, TK_FILE_NAME, TK_FILE_STEM, TK_FILE_DIR, TK_FILE_REL, TK_UNKNOWN,
};

static const struct {
	const char *name;
	enum tmpl_kind kind;
} fixed_names[] = {
	{ "run.id", TK_RUN_ID }, { "run.dir", TK_RUN_DIR }, { "run.date", TK_RUN_DATE },
	{ "dag.id", TK_DAG_ID }, { "task.id", TK_TASK_ID }, { "item", TK_ITEM },
	{ "item.name", TK_ITEM_NAME }, { "item.stem", TK_ITEM_STEM }, { "item.dir", TK_ITEM_DIR },
	{ "item.rel", TK_ITEM_REL }, { "item.relstem", TK_ITEM_RELSTEM },
	{ "items", TK_ITEMS }, { "data", TK_DATA }, { "file", TK_FILE }, { "file.name", TK_FILE_NAME },
	{ "file.stem", TK_FILE_STEM }, { "file.dir", TK_FILE_DIR }, { "file.rel", TK_FILE_REL },
};

/* One {{ expression }}: offsets into the template. */
struct tmpl_expr {
	size_t start, end;      /* "{{" .. just after "}}" */
	char *name;             /* trimmed, malloc'd */
	int raw;
};

static int is_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '.' || c == '-';
}

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return xstrndup(s, len);
}

/*
 * Finds the next expression at or after *pos.  Returns 1 with *e filled
 * (free e->name), 0 when there is none, -1 on a syntax error with *why set
 * and *pos at the offending "{{"; e->end is then past its "}}", or 0 when
 * there is none (nothing after it can be scanned).
 */
static int tmpl_scan(const char *s, size_t *pos, struct tmpl_expr *e, struct strbuf *why)
{
	const char *open = strstr(s + *pos, "{{"), *close, *bar;
	char *filter = NULL;

	if (!open)
		return 0;
	*pos = (size_t)(open - s);
	e->end = 0;
	close = strstr(open + 2, "}}");
	if (!close) {
		sb_adds(why, "unclosed '{{' (expected '}}')");
		return -1;
	}
	bar = memchr(open + 2, '|', (size_t)(close - open - 2));
	e->start = *pos;
	e->end = (size_t)(close - s) + 2;
	e->raw = 0;
	e->name = trimmed(open + 2, (size_t)((bar ? bar : close) - open - 2));
	if (bar) {
		filter = trimmed(bar + 1, (size_t)(close - bar - 1));
		if (strcmp(filter, "raw")) {
			sb_addf(why, "unknown filter '%s' (the only filter is 'raw')", filter);
			goto bad;
		}
		e->raw = 1;
	}
	if (!*e->name) {
		sb_adds(why, "empty '{{ }}': write a name such as '{{ params.NAME }}'");
		goto bad;
	}
	for (const char *p = e->name; *p; p++) {
		if (!is_name_char((unsigned char)*p)) {
			sb_addf(why, "malformed template name '%s'", e->name);
			goto bad;
		}
	}
	free(filter);
	return 1;
bad:
	free(filter);
	free(e->name);
	e->name = NULL;
	return -1;
}

static enum tmpl_kind name_kind(const char *name, const char **rest)
{
	*rest = NULL;
	if (!strncmp(name, "params.", 7) && name[7]) {
		*rest = name + 7;
		return TK_PARAM;
	}
	if (!strncmp(name, "vars.", 5) && name[5]) {
		*rest = name + 5;
		return TK_VAR;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fixed_names); i++)
		if (!strcmp(name, fixed_names[i].name))
			return fixed_names[i].kind;
	return TK_UNKNOWN;
}

static void unknown_name(const char *name, struct strbuf *msg)
{
	const char *cands[ARRAY_SIZE(fixed_names) + 2];
	const char *hint;
	struct strbuf guess = STRBUF_INIT;
	size_t n = 0;
	const char *dot = strchr(name, '.');

	for (size_t i = 0; i < ARRAY_SIZE(fixed_names); i++)
		cands[n++] = fixed_names[i].name;
	cands[n++] = "params";
	cands[n++] = "vars";
	/* "parms.rate" -> compare the prefix, suggest "params.rate" */
	if (dot)
		sb_add(&guess, name, (size_t)(dot - name));
	else
		sb_adds(&guess, name);
	hint = suggest_closest(guess.buf, cands, n);
	if (!hint)
		hint = suggest_closest(name, cands, ARRAY_SIZE(fixed_names));
	sb_addf(msg, "unknown template name '%s'", name);
	if (hint && (!strcmp(hint, "params") || !strcmp(hint, "vars")) && dot)
		sb_addf(msg, " (did you mean '%s%s'?)", hint, dot);
	else if (hint && strcmp(hint, "params") && strcmp(hint, "vars"))
		sb_addf(msg, " (did you mean '%s'?)", hint);
	else
		sb_adds(msg, "; known: params.NAME, vars.NAME, run.id, run.dir, run.date, dag.id,"
			     " task.id, item, item.name, item.stem, item.dir, item.rel, item.relstem, items,"
			     " data, file,"
			     " file.name,"
			     " file.stem, file.dir, file.rel");
	sb_release(&guess);
}

static void unknown_param(const char *p, const char *const *params, size_t nparams,
			  struct strbuf *msg)
{
	const char *hint = suggest_closest(p, params, nparams);

	sb_addf(msg, "unknown param '%s' in '{{ params.%s }}'", p, p);
	if (hint) {
		sb_addf(msg, " (did you mean '%s'?)", hint);
		return;
	}
	if (!nparams) {
		sb_adds(msg, "; this DAG declares no params");
		return;
	}
	sb_adds(msg, "; params: ");
	for (size_t i = 0; i < nparams; i++)
		sb_addf(msg, "%s%s", i ? ", " : "", params[i]);
}

/* Problems of one expression that are known before any run; 0 when fine. */
static int check_expr(const struct tmpl_expr *e, const char *const *params, size_t nparams,
		      unsigned scope, struct strbuf *msg)
{
	const char *rest;
	enum tmpl_kind k = name_kind(e->name, &rest);
	size_t i;

	switch (k) {
	case TK_UNKNOWN:
		unknown_name(e->name, msg);
		return -1;
	case TK_PARAM:
		for (i = 0; i < nparams && strcmp(params[i], rest); i++)
			;
		if (i == nparams) {
			unknown_param(rest, params, nparams, msg);
			return -1;
		}
		return 0;
	case TK_ITEM:
	case TK_ITEM_NAME:
	case TK_ITEM_STEM:
	case TK_ITEM_DIR:
	case TK_ITEM_REL:
	case TK_ITEM_RELSTEM:
		if (scope & TMPL_ITEM)
			return 0;
		if (scope & TMPL_BATCH)
			sb_addf(msg, "'{{ %s }}' is refused in a batched task (one process for several "
				"items): use '{{ items }}' or the file named by $SF_ITEMS", e->name);
		else if (scope & TMPL_GLOB)
			sb_addf(msg, "'{{ %s }}' cannot be used in 'foreach': the items come from it",
				e->name);
		else if (scope & TMPL_TASK)
			sb_addf(msg, "'{{ %s }}' is only available in a task with 'foreach'", e->name);
		else
			sb_addf(msg, "'{{ %s }}' is not available here (only in a task with 'foreach')",
				e->name);
		return -1;
	case TK_ITEMS:
		if ((scope & TMPL_BATCH) && (scope & TMPL_SHELL))
			return 0;
		if (scope & TMPL_BATCH)
			sb_adds(msg, "'{{ items }}' is only available in the command ('run') of a batched task");
		else
			sb_adds(msg, "'{{ items }}' is only available in a task with 'batch'");
		return -1;
	case TK_TASK_ID:
		if (scope & TMPL_TASK)
			return 0;
		sb_adds(msg, "'{{ task.id }}' is not available here (only inside a task)");
		return -1;
	case TK_FILE:
	case TK_FILE_NAME:
	case TK_FILE_STEM:
	case TK_FILE_DIR:
	case TK_FILE_REL:
		if (scope & TMPL_FILE)
			return 0;
		sb_addf(msg, "'{{ %s }}' is only available in 'on_file.params'", e->name);
		return -1;
	case TK_RUN_ID:
	case TK_RUN_DIR:
	case TK_RUN_DATE:
		if (!(scope & TMPL_FILE))
			return 0;
		sb_addf(msg, "'{{ %s }}' is not available in 'on_file.params' (the run does not exist"
			     " yet)", e->name);
		return -1;
	default:
		return 0;
	}
}

/*
 * Whether `{{ X | raw }}` may insert X's text unquoted into a command: only
 * values the DAG file or the engine fixes.  A param is decided by its type
 * (the caller knows it); file names, foreach items, variables and any name
 * added later are refused unless listed here.
 */
static const char *raw_refused(enum tmpl_kind k)
{
	switch (k) {
	case TK_PARAM:
	case TK_RUN_ID:
	case TK_RUN_DIR:
	case TK_RUN_DATE:
	case TK_DAG_ID:
	case TK_TASK_ID:
	case TK_DATA:
		return NULL;
	case TK_ITEM:
	case TK_ITEM_NAME:
	case TK_ITEM_STEM:
	case TK_ITEM_DIR:
	case TK_ITEM_REL:
	case TK_ITEM_RELSTEM:
	case TK_ITEMS:
	case TK_FILE:
	case TK_FILE_NAME:
	case TK_FILE_STEM:
	case TK_FILE_DIR:
	case TK_FILE_REL:
		return "a file name";
	case TK_VAR:
		return "a variable set outside the DAG file";
	default:
		return "outside the DAG file";
	}
}

static void raw_refused_msg(const char *name, const char *from, struct strbuf *msg)
{
	sb_addf(msg, "'{{ %s | raw }}' is refused: its value comes from %s; write '{{ %s }}' "
		"(quoted for where it sits)", name, from, name);
}

/* "'{{ NAME }}' " + why, with each "{{}}" of why standing for the template. */
static void refused_msg(const char *name, const char *why, struct strbuf *msg)
{
	const char *p;

	sb_addf(msg, "'{{ %s }}' ", name);
	while ((p = strstr(why, "{{}}"))) {
		sb_add(msg, why, (size_t)(p - why));
		sb_addf(msg, "{{ %s }}", name);
		why = p + 4;
	}
	sb_adds(msg, why);
}

/* Where each expression of a command sits (slots[i] for ex[i]). */
static struct sh_slot *shell_places(const char *tmpl, const struct tmpl_expr *ex, size_t n)
{
	struct strbuf text = STRBUF_INIT;
	struct sh_slot *slots = xcalloc(n ? n : 1, sizeof(*slots));
	size_t lit = 0;

	for (size_t i = 0; i < n; i++) {
		sb_add(&text, tmpl + lit, ex[i].start - lit);
		slots[i].pos = text.len;
		sb_addch(&text, 'x');
		lit = ex[i].end;
	}
	sb_adds(&text, tmpl + lit);
	sh_classify(text.buf, text.len, slots, n);
	sb_release(&text);
	return slots;
}

static void free_exprs(struct tmpl_expr *ex, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ex[i].name);
	free(ex);
}

/*
 * '{{ items }}' becomes one word per item, so it must be a whole word:
 * inside quotes the items would merge into one, and glued to other text
 * (x{{ items }}, v={{ items }}) only the first or last item would get it.
 */
static const char *items_misplaced(const struct sh_slot *slot)
{
	if (slot->where == SHW_WORD && slot->alone)
		return NULL;
	return slot->where == SHW_WORD
		? "'{{ items }}' must be a word of its own, with nothing glued to it: it becomes "
		  "one word per item"
		: "'{{ items }}' must stand outside quotes: it becomes one word per item";
}

/*
 * The shell checks of a command whose syntax is fine; returns the problems.
 * The place of '{{ items }}' is checked where it is allowed at all (a batched
 * task): elsewhere check_expr has said so already.
 */
static int check_shell(const char *tmpl, const struct tmpl_expr *ex, size_t n, unsigned scope,
		       tmpl_report_fn report, void *data)
{
	struct sh_slot *slots = shell_places(tmpl, ex, n);
	struct strbuf msg = STRBUF_INIT;
	const char *rest, *from;
	int problems = 0;

	for (size_t i = 0; i < n; i++) {
		sb_reset(&msg);
		if (ex[i].raw) {
			from = raw_refused(name_kind(ex[i].name, &rest));
			if (!from)
				continue;
			raw_refused_msg(ex[i].name, from, &msg);
		} else if (slots[i].where == SHW_REFUSED) {
			refused_msg(ex[i].name, slots[i].why, &msg);
		} else if ((scope & TMPL_BATCH) && name_kind(ex[i].name, &rest) == TK_ITEMS &&
			   items_misplaced(&slots[i])) {
			sb_adds(&msg, items_misplaced(&slots[i]));
		} else {
			continue;
		}
		report(data, ex[i].start, msg.buf);
		problems++;
	}
	sb_release(&msg);
	free(slots);
	return problems;
}

int tmpl_check(const char *tmpl, const char *const *params, size_t nparams, unsigned scope,
	       tmpl_report_fn report, void *data)
{
	struct strbuf msg = STRBUF_INIT;
	struct tmpl_expr e, *ex = NULL;
	size_t pos = 0, n = 0, alloc = 0;
	int problems = 0, r, bad_syntax = 0;

	while ((r = tmpl_scan(tmpl, &pos, &e, &msg)) != 0) {
		if (r < 0) {
			report(data, pos, msg.buf);
			problems++;
			bad_syntax = 1;
			if (!e.end)
				break;
			sb_reset(&msg);
			pos = e.end;
			continue;
		}
		if (check_expr(&e, params, nparams, scope, &msg) < 0) {
			report(data, e.start, msg.buf);
			problems++;
		}
		sb_reset(&msg);
		ALLOC_GROW(ex, n + 1, alloc);
		ex[n++] = e;
		pos = e.end;
	}
	/* Where the syntax is broken, the shell text between templates is unknown. */
	if ((scope & TMPL_SHELL) && !bad_syntax)
		problems += check_shell(tmpl, ex, n, scope, report, data);
	free_exprs(ex, n);
	sb_release(&msg);
	return problems;
}

void tmpl_raw_params(const char *tmpl, tmpl_raw_fn fn, void *data)
{
	struct strbuf why = STRBUF_INIT;
	struct tmpl_expr e;
	const char *rest;
	size_t pos = 0;
	int r;

	while ((r = tmpl_scan(tmpl, &pos, &e, &why)) > 0) {
		if (e.raw && name_kind(e.name, &rest) == TK_PARAM)
			fn(data, e.start, rest);
		free(e.name);
		pos = e.end;
	}
	sb_release(&why);
}

int tmpl_param_raw_ok(enum param_type type)
{
	return type == PT_INTEGER || type == PT_NUMBER || type == PT_BOOLEAN || type == PT_ENUM;
}

/* A JSON scalar as the text a command sees: strings unquoted, 0.5 not 0.50000000000000000. */
static void json_text(json_t *v, struct strbuf *out)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		sb_add(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		sb_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: {
		char buf[64];
		double d = json_real_value(v);
		snprintf(buf, sizeof(buf), "%.15g", d);
		if (strtod(buf, NULL) != d)
			snprintf(buf, sizeof(buf), "%.17g", d);
		sb_adds(out, buf);
		break;
	}
	case JSON_TRUE:
		sb_adds(out, "true");
		break;
	case JSON_FALSE:
		sb_adds(out, "false");
		break;
	default:
		break;
	}
}

/* item.* and file.*: the same parts of a path. */
static void item_part(const char *item, enum tmpl_kind k, struct strbuf *out)
{
	const char *slash = strrchr(item, '/');
	const char *name = slash ? slash + 1 : item;
	const char *dot;

	switch (k) {
	case TK_ITEM_NAME:
	case TK_FILE_NAME:
		sb_adds(out, name);
		break;
	case TK_ITEM_STEM:
	case TK_FILE_STEM:
		dot = strrchr(name, '.');
		/* ".bashrc" has no extension: its stem is the whole name */
		sb_add(out, name, dot && dot != name ? (size_t)(dot - name) : strlen(name));
		break;
	case TK_ITEM_DIR:
	case TK_FILE_DIR:
		if (!slash)
			sb_addch(out, '.');
		else if (slash == item)
			sb_addch(out, '/');
		else
			sb_add(out, item, (size_t)(slash - item));
		break;
	default:
		sb_adds(out, item);
		break;
	}
}

/*
 * item.rel: the item below its foreach glob's folder, the part before the
 * first component with a wildcard (a glob "{{ run.dir }}/source/" followed
 * by wildcards gives "a/b.flac" for the item source/a/b.flac), so a task can
 * mirror its input tree in its outputs; item.relstem is the same without
 * the last suffix.
 */
static int item_rel(const struct tmpl_ctx *ctx, int stem, struct strbuf *out, struct strbuf *err)
{
	const struct dag_task *t = ctx->dag && ctx->task_id ? dag_task(ctx->dag, ctx->task_id) : NULL;
	struct tmpl_ctx glob_ctx = *ctx;
	struct strbuf pat = STRBUF_INIT;
	size_t base = 0, len;

	if (!t || !t->foreach) {
		sb_adds(err, "'{{ item.rel }}' has no value here");
		return -1;
	}
	glob_ctx.item = NULL;
	glob_ctx.items = NULL;
	glob_ctx.quote = 0;
	if (tmpl_expand(t->foreach, &glob_ctx, &pat, err) < 0) {
		sb_release(&pat);
		return -1;
	}
	for (size_t i = 0; i < pat.len && !strchr("*?[", pat.buf[i]); i++)
		if (pat.buf[i] == '/')
			base = i + 1;
	len = base;
	/* a relative foreach is relative to the data folder, as its items are */
	if (pat.buf[0] != '/' && ctx->data_dir && ctx->item[0] == '/') {
		size_t dl = strlen(ctx->data_dir);
		if (!strncmp(ctx->item, ctx->data_dir, dl) && ctx->item[dl] == '/' &&
		    !strncmp(ctx->item + dl + 1, pat.buf, base))
			len = dl + 1 + base;
		else
			len = 0;
	} else if (strncmp(ctx->item, pat.buf, base)) {
		len = 0;
	}
	/* not below it (cannot happen for the glob's own items): the name */
	{
		const char *rel = len ? ctx->item + len : path_basename(ctx->item);
		const char *name = path_basename(rel), *dot = strrchr(name, '.');
		/* relstem: without the last suffix, as item.stem */
		sb_add(out, rel, stem && dot && dot != name ? (size_t)(dot - rel) : strlen(rel));
	}
	sb_release(&pat);
	return 0;
}

/* A param or variable as text into out; -1 with err when it is not set. */
static int lookup(json_t *obj, const char *key, int is_param, struct strbuf *out,
		  struct strbuf *err)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;

	if (v) {
		json_text(v, out);
		return 0;
	}
	if (is_param)
		sb_addf(err, "unknown param '%s'", key);
	else
		sb_addf(err, "variable '%s' is not set (see 'synthflow vars set')", key);
	return -1;
}

/* The value of one name into out (unquoted); -1 with err when it has none. */
static int resolve(const char *name, const struct tmpl_ctx *ctx, struct strbuf *out,
		   struct strbuf *err)
{
	const char *rest, *s = NULL;
	enum tmpl_kind k = name_kind(name, &rest);

	switch (k) {
	case TK_PARAM:
		return lookup(ctx->params, rest, 1, out, err);
	case TK_VAR:
		return lookup(ctx->vars, rest, 0, out, err);
	case TK_RUN_ID: s = ctx->run_id; break;
	case TK_RUN_DIR: s = ctx->run_dir; break;
	case TK_RUN_DATE: s = ctx->run_date; break;
	case TK_DAG_ID: s = ctx->dag ? ctx->dag->id : NULL; break;
	case TK_TASK_ID: s = ctx->task_id; break;
	case TK_DATA: s = ctx->data_dir; break;
	case TK_ITEM:
	case TK_ITEM_NAME:
	case TK_ITEM_STEM:
	case TK_ITEM_DIR:
		if (!ctx->item)
			break;
		item_part(ctx->item, k, out);
		return 0;
	case TK_ITEM_REL:
	case TK_ITEM_RELSTEM:
		if (!ctx->item)
			break;
		return item_rel(ctx, k == TK_ITEM_RELSTEM, out, err);
	case TK_ITEMS:
		/* words of their own: tmpl_expand quotes each (quoted commands only) */
		if (!ctx->items || !ctx->quote)
			break;
		return 0;
	case TK_FILE:
	case TK_FILE_NAME:
	case TK_FILE_STEM:
	case TK_FILE_DIR:
		if (!ctx->file)
			break;
		item_part(ctx->file, k, out);
		return 0;
	case TK_FILE_REL: s = ctx->file_rel; break;
	case TK_UNKNOWN:
		sb_addf(err, "unknown template name '%s'", name);
		return -1;
	}
	if (!s) {
		sb_addf(err, "'{{ %s }}' has no value here", name);
		return -1;
	}
	sb_adds(out, s);
	return 0;
}

/* raw_refused() at run time, where a param's type is known. */
static const char *raw_refused_at_run(const char *name, const struct tmpl_ctx *ctx)
{
	const char *rest;
	enum tmpl_kind k = name_kind(name, &rest);
	const struct dag_param *p;
	json_t *v;

	if (k != TK_PARAM)
		return raw_refused(k);
	p = ctx->dag ? dag_param(ctx->dag, rest) : NULL;
	if (p)
		return tmpl_param_raw_ok(p->type) ? NULL : "whoever triggers the run";
	v = ctx->params ? json_object_get(ctx->params, rest) : NULL;
	return v && json_is_string(v) ? "whoever triggers the run" : NULL;
}

int tmpl_expand(const char *tmpl, const struct tmpl_ctx *ctx, struct strbuf *out, struct strbuf *err)
{
	struct strbuf val = STRBUF_INIT;
	struct tmpl_expr e, *ex = NULL;
	struct sh_slot *slots = NULL;
	const char *from;
	size_t pos = 0, lit = 0, n = 0, alloc = 0;
	int r, ret = -1;

	while ((r = tmpl_scan(tmpl, &pos, &e, err)) > 0) {
		ALLOC_GROW(ex, n + 1, alloc);
		ex[n++] = e;
		pos = e.end;
	}
	if (r < 0)
		goto out;
	if (ctx->quote)
		slots = shell_places(tmpl, ex, n);
	for (size_t i = 0; i < n; i++) {
		sb_add(out, tmpl + lit, ex[i].start - lit);
		sb_reset(&val);
		if (resolve(ex[i].name, ctx, &val, err) < 0)
			goto out;
		if (!ctx->quote) {
			sb_add(out, val.buf, val.len);
		} else if (ex[i].raw) {
			if ((from = raw_refused_at_run(ex[i].name, ctx))) {
				raw_refused_msg(ex[i].name, from, err);
				goto out;
			}
			sb_add(out, val.buf, val.len);
		} else if (slots[i].where == SHW_REFUSED) {
			refused_msg(ex[i].name, slots[i].why, err);
			goto out;
		} else if (name_kind(ex[i].name, &from) == TK_ITEMS) {
			if (items_misplaced(&slots[i])) {
				sb_adds(err, items_misplaced(&slots[i]));
				goto out;
			}
			for (size_t k = 0; k < ctx->nitems; k++) {
				if (k)
					sb_addch(out, ' ');
				sh_quote_for(out, SHW_WORD, ctx->items[k]);
			}
		} else {
			sh_quote_for(out, slots[i].where, val.buf);
		}
		lit = ex[i].end;
	}
	sb_adds(out, tmpl + lit);
	ret = 0;
out:
	free(slots);
	free_exprs(ex, n);
	sb_release(&val);
	return ret;
}

static void env_add(char ***envp, size_t *n, size_t *alloc, char *kv)
{
	ALLOC_GROW(*envp, *n + 2, *alloc);
	(*envp)[(*n)++] = kv;
	(*envp)[*n] = NULL;
}

/* SF_PARAM_<NAME>: param names allow '.' and '-', environment names do not. */
static char *param_env_name(const char *name)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "SF_PARAM_");
	for (const char *p = name; *p; p++)
		sb_addch(&sb, isalnum((unsigned char)*p) ? toupper((unsigned char)*p) : '_');
	return sb_detach(&sb, NULL);
}

void tmpl_env(const struct tmpl_ctx *ctx, char ***envp, size_t *n, size_t *alloc)
{
	const struct { const char *key, *val; } fixed[] = {
		{ "SF_RUN_ID", ctx->run_id }, { "SF_RUN_DIR", ctx->run_dir },
		{ "SF_RUN_DATE", ctx->run_date }, { "SF_ITEM", ctx->item },
		{ "SF_DAG_ID", ctx->dag ? ctx->dag->id : NULL }, { "SF_TASK_ID", ctx->task_id },
		{ "SF_DATA", ctx->data_dir },
	};
	const char *key;
	json_t *v;

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (fixed[i].val)
			env_add(envp, n, alloc, xasprintf("%s=%s", fixed[i].key, fixed[i].val));
	if (!ctx->params)
		return;
	json_object_foreach(ctx->params, key, v) {
		struct strbuf sb = STRBUF_INIT;
		char *name = param_env_name(key);
		sb_addf(&sb, "%s=", name);
		json_text(v, &sb);
		env_add(envp, n, alloc, sb_detach(&sb, NULL));
		free(name);
	}
}
