/*
 * DAG files: YAML tree -> struct dag, with complete validation.  The loader
 * never stops at the first problem: every error in the file goes to the
 * diagnostics list with its line and column, and only a file without any
 * error yields a struct dag.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>

#include "flow/cron.h"
#include "flow/dag-load.h"
#include "flow/notyet.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/suggest.h"
#include "util/timeutil.h"
#include "util/yaml.h"

/* Bigger than any hand-written DAG; keeps a stray binary file cheap. */
#define DAG_FILE_MAX (4u << 20)

static const char *const top_keys[] = {
	"id", "description", "params", "schedule", "on_file", "max_active_runs",
	"on_success", "on_failure", "defaults", "tasks", "executor", "on_variable", "timezone",
	"catchup", "max_catchup",
};
static const char *const task_keys[] = {
	"run", "needs", "trigger", "foreach", "retries", "retry_delay", "timeout",
	"env", "workdir", "inputs", "input_names", "outputs", "max_active", "batch", "executor",
	"resources", "skip_exit_code", "on_retry", "cache", "container",
};
static const char *const resource_keys[] = {
	"cpus", "mem", "gpus", "time", "partition", "account", "extra",
};
static const char *const default_keys[] = { "retries", "retry_delay", "timeout", "on_retry", "cache" };
static const char *const trigger_names[] = {
	"all_success", "all_done", "all_failed", "one_success", "one_failed", "none_failed", "always",
	"none_failed_min_one_success", "none_skipped", "all_skipped", "one_done",
};

const char *trigger_rule_name(enum trigger_rule r)
{
	return (size_t)r < ARRAY_SIZE(trigger_names) ? trigger_names[r] : "?";
}

int trigger_rule_parse(const char *s, enum trigger_rule *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(trigger_names); i++) {
		if (!strcmp(s, trigger_names[i])) {
			*out = (enum trigger_rule)i;
			return 0;
		}
	}
	return -1;
}

int dag_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '.' && s[n] != '-')
			return 0;
	return n > 0 && n <= ID_MAX;
}

static int get_int(struct loader *L, const struct ynode *n, const char *what, long long max,
		   int *out)
{
	long long v;

	if (n->type == YN_SCALAR && n->plain && ynode_is_int_literal(n) && ynode_to_int(n, &v) < 0) {
		err_at(L, n, "'%s' is out of range: it must be between 0 and %lld, found %s", what, max,
		       n->str);
		return -1;
	}
	if (n->type != YN_SCALAR || !n->plain || ynode_to_int(n, &v) < 0) {
		err_at(L, n, "'%s' must be an integer, found %s", what, ynode_type_name(n));
		return -1;
	}
	if (v < 0 || v > max) {
		err_at(L, n, "'%s' must be between 0 and %lld, found %lld", what, max, v);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int get_bool(struct loader *L, const struct ynode *n, const char *what, int *out)
{
	if (n->type != YN_SCALAR || !n->plain || ynode_to_bool(n, out) < 0) {
		err_at(L, n, "'%s' must be true or false, found %s%s%s", what,
		       n->type == YN_SCALAR ? "'" : "", n->type == YN_SCALAR ? n->str : ynode_type_name(n),
		       n->type == YN_SCALAR ? "'" : "");
		return -1;
	}
	return 0;
}

static int get_duration(struct loader *L, const struct ynode *n, const char *what, int64_t *out)
{
	int64_t ms;

	if (n->type != YN_SCALAR || ynode_is_null(n)) {
		err_at(L, n, "'%s' must be a duration such as 30s, found %s", what, ynode_type_name(n));
		return -1;
	}
	ms = duration_parse_ms(n->str);
	if (ms < 0) {
		err_at(L, n, "bad duration '%s' for '%s': write a number and a unit "
			     "(500ms, 30s, 10m, 2h, 1d)", n->str, what);
		return -1;
	}
	*out = ms;
	return 0;
}

/* The text of line `line` (1-based) of the file, and its length. */
static const char *line_text(const struct loader *L, int line, size_t *len)
{
	const char *p = L->buf, *end = L->buf + L->len, *nl;

	for (int l = 1; l < line && p < end; l++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
	*len = (size_t)((nl ? nl : end) - p);
	return p;
}

/*
 * Where byte `off` of a scalar's text lies in the file.  Exact for plain and
 * quoted one-line scalars and for literal blocks (|), the forms commands are
 * written in; other forms fold lines, so the scalar's own position is given.
 */
static void scalar_pos(struct loader *L, const struct ynode *n, size_t off, int *line, int *col)
{
	const char *p, *end = L->buf + L->len, *nl;
	size_t lines_before = 0, line_start = 0, len;
	int indent = 0;

	*line = n->line;
	*col = n->col;
	p = line_text(L, n->line, &len);
	if ((size_t)n->col > len)
		return;
	p += n->col - 1;
	for (size_t i = 0; i < off && n->str[i]; i++) {
		if (n->str[i] == '\n') {
			lines_before++;
			line_start = i + 1;
		}
	}
	if (*p != '|') {
		if (lines_before || strchr(n->str, '\n'))
			return;
		*col = n->col + (int)off + (*p == '"' || *p == '\'');
		return;
	}
	/* literal block: its lines start on the next line, at the block's indent */
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return;
	for (p = nl + 1; p < end; p = nl + 1) {
		const char *q = p;
		while (q < end && *q == ' ')
			q++;
		if (q < end && *q != '\n') {
			indent = (int)(q - p);
			break;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return;
	}
	*line = n->line + 1 + (int)lines_before;
	*col = indent + 1 + (int)(off - line_start);
}

struct tmpl_report {
	struct loader *L;
	const struct ynode *node;
};

static void report_tmpl(void *data, size_t off, const char *msg)
{
	struct tmpl_report *r = data;
	int line, col;

	scalar_pos(r->L, r->node, off, &line, &col);
	err_at_pos(r->L, line, col, "%s", msg);
}

/* '{{ params.X | raw }}' in a command: only for params whose values the file fixes. */
static void check_raw_param(void *data, size_t off, const char *name)
{
	struct tmpl_report *r = data;
	const struct dag_param *p = dag_param(r->L->d, name);
	struct strbuf msg = STRBUF_INIT;

	if (!p || tmpl_param_raw_ok(p->type))
		return;
	sb_addf(&msg, "'{{ params.%s | raw }}' is refused: a %s param's value comes from whoever "
		"triggers the run; write '{{ params.%s }}' (quoted for where it sits) or make it "
		"an enum ('values: [...]')", name, param_type_name(p->type), name);
	report_tmpl(data, off, msg.buf);
	sb_release(&msg);
}

static void check_tmpl(struct loader *L, const struct ynode *n, unsigned scope)
{
	struct tmpl_report r = { L, n };

	if (!n || n->type != YN_SCALAR)
		return;
	tmpl_check(n->str, L->pnames, L->npnames, scope, report_tmpl, &r);
	if (scope & TMPL_SHELL)
		tmpl_raw_params(n->str, check_raw_param, &r);
}

static void check_tmpl_list(struct loader *L, const struct ynode *n, unsigned scope)
{
	if (n && n->type == YN_SEQ)
		for (size_t i = 0; i < n->n; i++)
			check_tmpl(L, n->vals[i], scope);
}

/* ---- tasks ---- */

struct task_defaults {
	int retries;
	int64_t retry_delay_ms, timeout_ms;
	char *on_retry;         /* the callback of tasks without their own */
	int cache;              /* defaults: {cache: true} */
	const struct ynode *cache_node; /* where it was written, for diagnostics */
};

/* retries, retry_delay and timeout: the keys a task shares with 'defaults'. */
static void parse_policy(struct loader *L, const struct ynode *map, int *retries,
			 int64_t *retry_delay_ms, int64_t *timeout_ms)
{
	const struct ynode *v;

	if ((v = ynode_get(map, "retries")))
		get_int(L, v, "retries", 1000, retries);
	if ((v = ynode_get(map, "retry_delay")))
		get_duration(L, v, "retry_delay", retry_delay_ms);
	if ((v = ynode_get(map, "timeout")))
		get_duration(L, v, "timeout", timeout_ms);
}

static void parse_defaults(struct loader *L, const struct ynode *n, struct task_defaults *td)
{
	const struct ynode *v;

	if (n->type != YN_MAP) {
		err_at(L, n, "'defaults' must be a mapping such as {retries: 2, timeout: 1h}, found %s",
		       ynode_type_name(n));
		return;
	}
	check_keys(L, n, default_keys, ARRAY_SIZE(default_keys), " in defaults");
	parse_policy(L, n, &td->retries, &td->retry_delay_ms, &td->timeout_ms);
	if ((v = ynode_get(n, "cache")) && !get_bool(L, v, "cache", &td->cache))
		td->cache_node = v;
	if ((v = ynode_get(n, "on_retry")) && !get_string(L, v, "on_retry", &td->on_retry))
		check_tmpl(L, v, TMPL_SHELL | TMPL_TASK);
}

static void parse_env(struct loader *L, const struct ynode *n, struct dag_task *t)
{
	if (n->type != YN_MAP) {
		err_at(L, n, "'env' must be a mapping of NAME: value, found %s", ynode_type_name(n));
		return;
	}
	t->env = xcalloc(n->n ? n->n : 1, sizeof(*t->env));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];
		const char *p = k->str;
		int ok = isalpha((unsigned char)*p) || *p == '_';
		for (; ok && *p; p++)
			ok = isalnum((unsigned char)*p) || *p == '_';
		if (!ok)
			err_at(L, k, "invalid environment variable name '%s'", k->str);
		if (v->type != YN_SCALAR || ynode_is_null(v)) {
			err_at(L, v, "value of env '%s' must be a string, found %s", k->str,
			       ynode_type_name(v));
			continue;
		}
		t->env[t->nenv].key = xstrdup(k->str);
		t->env[t->nenv++].value = xstrdup(v->str);
	}
}

static void parse_trigger(struct loader *L, const struct ynode *n, struct dag_task *t)
{
	struct strbuf sb = STRBUF_INIT;

	if (n->type == YN_SCALAR && !trigger_rule_parse(n->str, &t->trigger))
		return;
	if (n->type == YN_SCALAR) {
		sb_addf(&sb, "unknown trigger rule '%s'", n->str);
		add_hint(&sb, n->str, trigger_names, ARRAY_SIZE(trigger_names), "rules");
	} else {
		sb_addf(&sb, "'trigger' must be a string, found %s", ynode_type_name(n));
	}
	err_at(L, n, "%s", sb.buf);
	sb_release(&sb);
}

/*
 * inputs and outputs name files of the data folder, never the engine's own
 * (flow/: the store, the token, logs): relative, or under {{ data }} or
 * {{ run.dir }}, with no '..'.  The files API checks the real path again.
 */
static void check_paths(struct loader *L, const struct ynode *list, const char *what)
{
	if (!list || list->type != YN_SEQ)
		return;
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *n = list->vals[i];
		const char *p, *seg;
		int first = 1;

		if (n->type != YN_SCALAR)
			continue;
		p = n->str;
		if (!strncmp(p, "{{", 2)) {
			const char *close = strstr(p, "}}");
			char *name = close ? xstrndup(p + 2, (size_t)(close - p - 2)) : NULL;
			char *t = name;
			while (t && isspace((unsigned char)*t))
				t++;
			if (t && (!strncmp(t, "data", 4) && (isspace((unsigned char)t[4]) || !t[4])))
				p = close + 2;
			else if (t && !strncmp(t, "run.dir", 7))
				p = close + 2, first = 0;
			free(name);
		} else if (*p == '/') {
			err_at(L, n, "'%s' entry '%s' is absolute: write it relative to the data folder",
			       what, n->str);
			continue;
		}
		for (seg = p; *seg;) {
			size_t len;
			while (*seg == '/')
				seg++;
			len = strcspn(seg, "/");
			if ((len == 2 && !strncmp(seg, "..", 2)) ||
			    (first && len == 4 && !strncmp(seg, "flow", 4))) {
				err_at(L, n, "'%s' entry '%s' %s", what, n->str,
				       len == 2 ? "leaves its folder ('..'): name a file in the data folder"
						: "names the engine's folder flow/ (its store, token and "
						  "logs): name a file of your own");
				break;
			}
			if (len && !(len == 1 && *seg == '.'))
				first = 0;
			seg += len;
		}
	}
}

/* Templates of one task, once we know whether it has a foreach. */
static void check_task_templates(struct loader *L, const struct ynode *spec, int has_foreach)
{
	unsigned scope = TMPL_TASK | (has_foreach ? TMPL_ITEM : 0);
	const struct ynode *env = ynode_get(spec, "env");
	/* one process for several items: no single item, {{ items }} in the command */
	unsigned proc = has_foreach && ynode_get(spec, "batch") ? TMPL_TASK | TMPL_BATCH : scope;

	check_tmpl(L, ynode_get(spec, "run"), proc | TMPL_SHELL);
	check_tmpl(L, ynode_get(spec, "foreach"), TMPL_TASK | TMPL_GLOB);
	/* a batch's instances are retried one by one: each has its item */
	check_tmpl(L, ynode_get(spec, "on_retry"), scope | TMPL_SHELL);
	check_tmpl(L, ynode_get(spec, "workdir"), proc & ~TMPL_BATCH);
	check_tmpl_list(L, ynode_get(spec, "inputs"), scope);
	check_tmpl_list(L, ynode_get(spec, "input_names"), scope);
	check_tmpl_list(L, ynode_get(spec, "outputs"), scope);
	check_paths(L, ynode_get(spec, "inputs"), "inputs");
	check_paths(L, ynode_get(spec, "input_names"), "input_names");
	check_paths(L, ynode_get(spec, "outputs"), "outputs");
	if (env && env->type == YN_MAP)
		for (size_t i = 0; i < env->n; i++)
			check_tmpl(L, env->vals[i], proc & ~TMPL_BATCH);
}

static void parse_executor(struct loader *L, const struct ynode *n, enum dag_executor *out)
{
	if (n->type == YN_SCALAR && !strcmp(n->str, "local"))
		*out = DAG_EXEC_LOCAL;
	else if (n->type == YN_SCALAR && !strcmp(n->str, "slurm"))
		*out = DAG_EXEC_SLURM;
	else
		err_at(L, n, "'executor' must be 'local' or 'slurm', found %s%s%s",
		       n->type == YN_SCALAR ? "'" : "", n->type == YN_SCALAR ? n->str : ynode_type_name(n),
		       n->type == YN_SCALAR ? "'" : "");
}

/* Slurm's memory sizes: a number of MB, or with a unit K, M, G or T. */
static int64_t parse_mem_mb(const char *s)
{
	char *end;
	unsigned long long v;
	int shift;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v == 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = -10; break;
	case '\0': case 'M': shift = 0; break;
	case 'G': shift = 10; break;
	case 'T': shift = 20; break;
	default: return -1;
	}
	if (*end && end[1] && !((end[1] == 'B' || end[1] == 'b') && !end[2]))
		return -1;
	if (shift < 0)
		return (int64_t)((v + 1023) >> 10);
	if (v > (1ULL << 40) >> shift)
		return -1;
	return (int64_t)(v << shift);
}

static void parse_resources(struct loader *L, const struct ynode *n, struct dag_task *t)
{
	struct dag_resources *r = &t->res;
	const struct ynode *v;
	char *where;

	if (n->type != YN_MAP) {
		err_at(L, n, "'resources' must be a mapping such as {cpus: 4, mem: 8G}, found %s",
		       ynode_type_name(n));
		return;
	}
	where = xasprintf(" in the resources of task '%s'", t->id);
	check_keys(L, n, resource_keys, ARRAY_SIZE(resource_keys), where);
	free(where);
	if ((v = ynode_get(n, "cpus")) && get_int(L, v, "cpus", 100000, &r->cpus) == 0 && !r->cpus)
		err_at(L, v, "'cpus' must be at least 1");
	if ((v = ynode_get(n, "gpus")))
		get_int(L, v, "gpus", 1024, &r->gpus);
	if ((v = ynode_get(n, "mem"))) {
		if (v->type != YN_SCALAR || (r->mem_mb = parse_mem_mb(v->str)) <= 0) {
			r->mem_mb = 0;
			err_at(L, v, "bad size for 'mem': write a number and a unit (512M, 4G, 1T)");
		}
	}
	if ((v = ynode_get(n, "time")) && get_duration(L, v, "time", &r->time_ms) == 0 &&
	    !r->time_ms)
		err_at(L, v, "'time' must be longer than 0");
	if ((v = ynode_get(n, "partition")))
		get_string(L, v, "partition", &r->partition);
	if ((v = ynode_get(n, "account")))
		get_string(L, v, "account", &r->account);
	if ((v = ynode_get(n, "extra")) &&
	    get_string_list(L, v, "extra", &r->extra, &r->nextra) == 0) {
		for (size_t i = 0; i < v->n; i++)
			if (v->vals[i]->str[0] != '-')
				err_at(L, v->vals[i], "items of 'extra' must be sbatch options "
						      "starting with '-', found '%s'", v->vals[i]->str);
	}
}

static void parse_task_fields(struct loader *L, const struct ynode *spec, struct dag_task *t)
{
	const struct ynode *v;

	if ((v = ynode_get(spec, "needs")))
		get_string_list(L, v, "needs", &t->needs, &t->nneeds);
	if ((v = ynode_get(spec, "trigger")))
		parse_trigger(L, v, t);
	if ((v = ynode_get(spec, "foreach")))
		get_string(L, v, "foreach", &t->foreach);
	parse_policy(L, spec, &t->retries, &t->retry_delay_ms, &t->timeout_ms);
	if ((v = ynode_get(spec, "env")))
		parse_env(L, v, t);
	if ((v = ynode_get(spec, "workdir")))
		get_string(L, v, "workdir", &t->workdir);
	if ((v = ynode_get(spec, "inputs")))
		get_string_list(L, v, "inputs", &t->inputs, &t->ninputs);
	if ((v = ynode_get(spec, "input_names")))
		get_string_list(L, v, "input_names", &t->input_names, &t->ninput_names);
	if ((v = ynode_get(spec, "outputs")))
		get_string_list(L, v, "outputs", &t->outputs, &t->noutputs);
	if ((v = ynode_get(spec, "max_active")))
		get_int(L, v, "max_active", 1000000, &t->max_active);
	if ((v = ynode_get(spec, "batch")) && get_int(L, v, "batch", 100000, &t->batch) == 0) {
		if (!t->batch)
			err_at(L, v, "'batch' must be at least 1 (items per process)");
		else if (!t->foreach)
			err_at(L, v, "'batch' needs 'foreach': it groups the foreach items");
	}
	if ((v = ynode_get(spec, "executor")))
		parse_executor(L, v, &t->executor);
	if ((v = ynode_get(spec, "resources")))
		parse_resources(L, v, t);
	/* a workspace name, as src/NAME/ allows it (ws_check_name) */
	if ((v = ynode_get(spec, "container")) && get_string(L, v, "container", &t->container) == 0 &&
	    (!dag_id_valid(t->container) || t->container[0] == '.' || t->container[0] == '-'))
		err_at(L, v, "'container' must name a workspace (a folder of src/: letters, digits, "
			     "'_', '.' and '-', not starting with '.' or '-'), found '%s'", t->container);
	if ((v = ynode_get(spec, "skip_exit_code")) &&
	    !get_int(L, v, "skip_exit_code", 255, &t->skip_exit_code)) {
		if (t->skip_exit_code == 0)
			err_at(L, v, "'skip_exit_code' must be between 1 and 255 (0 is success)");
		else if (t->batch)
			/* a batch's items end through $SF_RESULTS, not one exit code each */
			err_at(L, v, "'skip_exit_code' does not apply to a 'batch' task");
		if (t->skip_exit_code == 0 || t->batch)
			t->skip_exit_code = -1;
	}
}

/*
 * cache: true (docs/replication.md, "Content cache") restores a task's
 * declared outputs instead of running it: without outputs there is nothing
 * to restore, which is an error rather than a cache that never works.
 */
static void parse_cache(struct loader *L, const struct ynode *key, const struct ynode *spec,
			struct dag_task *t, const struct task_defaults *td)
{
	const struct ynode *v = ynode_get(spec, "cache");

	t->cache = td->cache;
	if (v && get_bool(L, v, "cache", &t->cache) < 0)
		return;
	if (!t->cache || t->noutputs)
		return;
	if (v)
		err_at(L, v, "task '%s' has 'cache: true' but declares no 'outputs': the cache "
			     "restores declared outputs, so declare them", t->id);
	else
		err_at(L, key, "task '%s' is cached by 'defaults: {cache: true}' (line %d) but "
			       "declares no 'outputs': declare them, or give it 'cache: false'",
		       t->id, td->cache_node ? td->cache_node->line : 0);
}

static void parse_task(struct loader *L, const struct ynode *key, const struct ynode *spec,
		       struct dag_task *t, const struct task_defaults *td)
{
	const struct ynode *run, *v;
	char *where;

	t->id = xstrdup(key->str);
	t->line = key->line;
	t->col = key->col;
	t->retries = td->retries;
	t->skip_exit_code = -1;
	t->retry_delay_ms = td->retry_delay_ms;
	t->timeout_ms = td->timeout_ms;
	if (!dag_id_valid(t->id))
		err_at(L, key, "invalid task id '%s': use letters, digits, '_', '.' and '-'", t->id);
	if (spec->type != YN_MAP) {
		err_at(L, spec, "task '%s' must be a mapping with at least 'run', found %s", t->id,
		       ynode_type_name(spec));
		return;
	}
	where = xasprintf(" in task '%s'", t->id);
	check_keys(L, spec, task_keys, ARRAY_SIZE(task_keys), where);
	free(where);
	run = ynode_get(spec, "run");
	if (!run)
		err_at(L, key, "task '%s' has no 'run' command", t->id);
	else if (!get_string(L, run, "run", &t->run) && !t->run[strspn(t->run, " \t\n")])
		err_at(L, run, "'run' of task '%s' is empty", t->id);
	parse_task_fields(L, spec, t);
	parse_cache(L, key, spec, t, td);
	if ((v = ynode_get(spec, "on_retry")))
		get_string(L, v, "on_retry", &t->on_retry);
	else if (td->on_retry)
		t->on_retry = xstrdup(td->on_retry);
	check_task_templates(L, spec, ynode_get(spec, "foreach") != NULL);
}

static void parse_tasks(struct loader *L, const struct ynode *root, const struct task_defaults *td)
{
	const struct ynode *tasks = ynode_get(root, "tasks");
	struct dag *d = L->d;
	size_t before = L->dl->errors;

	if (!tasks) {
		static const char *const want[] = { "tasks" };
		/* 'taks:' already got "did you mean 'tasks'?" */
		for (size_t i = 0; i < root->n; i++)
			if (hint(root->keys[i]->str, want, 1))
				return;
		err_at(L, root, "a DAG needs 'tasks' (a mapping of task ids to {run: ...})");
		return;
	}
	if (tasks->type != YN_MAP) {
		err_at(L, tasks, "'tasks' must be a mapping of task ids to {run: ...}, found %s",
		       ynode_type_name(tasks));
		return;
	}
	if (!tasks->n) {
		err_at(L, tasks, "'tasks' is empty: a DAG needs at least one task");
		return;
	}
	d->tasks = xcalloc(tasks->n, sizeof(*d->tasks));
	d->ntasks = tasks->n;
	for (size_t i = 0; i < tasks->n; i++)
		parse_task(L, tasks->keys[i], tasks->vals[i], &d->tasks[i], td);
	dag_load_graph(L, tasks, before);
}

/* ---- the whole file ---- */

static char *id_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return dot && dot != base ? xstrndup(base, (size_t)(dot - base)) : xstrdup(base);
}

/* NAME when the file is .../src/NAME/dags/FILE, else NULL. */
static char *workspace_of(const char *path)
{
	const char *c[4] = { NULL, NULL, NULL, NULL }; /* starts of the last components */
	const char *p = path;

	for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		memmove(c, c + 1, sizeof(c[0]) * 3);
		c[3] = s + 1;
	}
	if (!c[0] || strncmp(c[0], "src/", 4) || strncmp(c[2], "dags/", 5) || c[2] - c[1] < 2)
		return NULL;
	return xstrndup(c[1], (size_t)(c[2] - c[1] - 1));
}

static void parse_id(struct loader *L, const struct ynode *root, const char *path)
{
	const struct ynode *n = ynode_get(root, "id");
	struct dag *d = L->d;

	if (!n) {
		d->id = id_from_path(path);
		d->id_line = d->id_col = 1;
		if (!dag_id_valid(d->id))
			err_at_pos(L, 1, 1, "the file name gives DAG id '%s', which is not valid "
					    "(use letters, digits, '_', '.' and '-'); rename the file or set 'id:'",
				   d->id);
		return;
	}
	d->id_line = n->line;
	d->id_col = n->col;
	if (get_string(L, n, "id", &d->id) < 0)
		return;
	if (!dag_id_valid(d->id))
		err_at(L, n, "invalid DAG id '%s': use letters, digits, '_', '.' and '-'", d->id);
}

static void parse_schedule(struct loader *L, const struct ynode *n)
{
	struct strbuf why = STRBUF_INIT;
	struct cron c;

	if (get_string(L, n, "schedule", &L->d->schedule) < 0)
		return;
	if (cron_parse(L->d->schedule, &c, &why) < 0)
		err_at(L, n, "bad cron expression '%s': %s", L->d->schedule, why.buf);
	sb_release(&why);
}

/* timezone, catchup, max_catchup: only with a schedule, which they shape. */
static void parse_schedule_options(struct loader *L, const struct ynode *root)
{
	static const char *const keys[] = { "timezone", "catchup", "max_catchup" };
	const struct ynode *v;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!L->d->schedule && (v = ynode_get(root, keys[i])))
			err_at(L, v, "'%s' needs 'schedule': it only shapes when scheduled runs fire",
			       keys[i]);
	if ((v = ynode_get(root, "timezone")) && !get_string(L, v, "timezone", &L->d->timezone)) {
		struct strbuf why = STRBUF_INIT;
		struct tz *z = tz_load(L->d->timezone, &why);

		if (!z)
			err_at(L, v, "'timezone': %s", why.buf);
		tz_free(z);
		sb_release(&why);
	}
	if ((v = ynode_get(root, "catchup")) &&
	    (v->type != YN_SCALAR || !v->plain || ynode_to_bool(v, &L->d->catchup) < 0))
		err_at(L, v, "'catchup' must be true or false, found %s",
		       v->type == YN_SCALAR ? v->str : ynode_type_name(v));
	if ((v = ynode_get(root, "max_catchup")) &&
	    !get_int(L, v, "max_catchup", 100000, &L->d->max_catchup) && !L->d->max_catchup)
		err_at(L, v, "'max_catchup' must be at least 1");
	/*
	 * A scheduled run gets every default: without one, serve records each
	 * time without a run.  A warning, not an error: the DAG still runs when
	 * triggered with the param (or from a file).
	 */
	v = ynode_get(root, "schedule");
	for (size_t i = 0; v && i < L->d->nparams; i++)
		if (!L->d->params[i].def)
			diag_add(L->dl, DIAG_WARNING, v->line, v->col,
				 "required param '%s' has no default, so the schedule starts no"
				 " runs (each time is logged and skipped)", L->d->params[i].name);
}

static const char *const on_file_keys[] = { "glob", "quiet", "on_change", "dirs", "params" };

static void check_on_file_glob(struct loader *L, const struct ynode *n, const char *s)
{
	if (!*s || *s == '/' || !strcmp(s, "..") || !strncmp(s, "../", 3) || strstr(s, "/../") ||
	    (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")))
		err_at(L, n, "'on_file' must be a glob relative to downloaded/ (no leading '/' or '..'),"
			     " found '%s'", s);
}

/* on_file.params: NAME: template of the file, NAME a declared param. */
static void parse_on_file_params(struct loader *L, const struct ynode *n)
{
	struct dag_on_file *f = &L->d->file_trigger;

	if (n->type != YN_MAP) {
		err_at(L, n, "'on_file.params' must be a mapping of param names to templates such as"
			     " \"{{ file.name }}\", found %s", ynode_type_name(n));
		return;
	}
	f->params = xcalloc(n->n ? n->n : 1, sizeof(*f->params));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->keys[i], *v = n->vals[i];

		if (!dag_param(L->d, k->str)) {
			struct strbuf sb = STRBUF_INIT;
			sb_addf(&sb, "'on_file.params' names '%s', which is not a param of this DAG",
				k->str);
			add_hint(&sb, k->str, L->pnames, L->npnames, "params");
			err_at(L, k, "%s", sb.buf);
			sb_release(&sb);
		}
		if (v->type != YN_SCALAR || ynode_is_null(v)) {
			err_at(L, v, "value of on_file param '%s' must be a template string, found %s",
			       k->str, ynode_type_name(v));
			continue;
		}
		check_tmpl(L, v, TMPL_FILE);
		f->params[f->nparams].key = xstrdup(k->str);
		f->params[f->nparams++].value = xstrdup(v->str);
	}
}

/* A run started by a file must be complete: every required param gets a value. */
static void check_on_file_required(struct loader *L, const struct ynode *n)
{
	const struct dag_on_file *f = &L->d->file_trigger;

	for (size_t i = 0; i < L->d->nparams; i++) {
		const struct dag_param *p = &L->d->params[i];
		size_t j;

		if (p->def)
			continue;
		if (!f->mapping) {
			if (strcmp(p->name, "file"))
				err_at(L, n, "required param '%s' has no value in runs started by on_file"
					     " (give it a default, or use the mapping form with"
					     " params: {%s: ...})", p->name, p->name);
			continue;
		}
		for (j = 0; j < f->nparams && strcmp(f->params[j].key, p->name); j++)
			;
		if (j == f->nparams)
			err_at(L, n, "required param '%s' is not set by 'on_file.params' (map it, e.g."
				     " %s: \"{{ file }}\", or give it a default)", p->name, p->name);
	}
}

static void parse_on_file(struct loader *L, const struct ynode *n)
{
	struct dag_on_file *f = &L->d->file_trigger;
	const struct ynode *v;
	int64_t quiet = 5000;

	f->quiet_ms = quiet;
	if (n->type != YN_MAP) {
		if (get_string(L, n, "on_file", &L->d->on_file) < 0)
			return;
		check_on_file_glob(L, n, L->d->on_file);
		check_on_file_required(L, n);
		return;
	}
	f->mapping = 1;
	check_keys(L, n, on_file_keys, ARRAY_SIZE(on_file_keys), " in 'on_file'");
	v = ynode_get(n, "glob");
	if (!v) {
		err_at(L, n, "'on_file' needs 'glob' (relative to downloaded/), e.g. glob: \"*.zip\"");
		return;
	}
	if (get_string(L, v, "on_file.glob", &L->d->on_file) < 0)
		return;
	check_on_file_glob(L, v, L->d->on_file);
	if ((v = ynode_get(n, "quiet")) && !get_duration(L, v, "on_file.quiet", &quiet))
		f->quiet_ms = quiet;
	if ((v = ynode_get(n, "on_change"))) {
		if (v->type == YN_SCALAR && !strcmp(v->str, "rerun"))
			f->on_change = ON_CHANGE_RERUN;
		else if (v->type == YN_SCALAR && !strcmp(v->str, "ignore"))
			f->on_change = ON_CHANGE_IGNORE;
		else
			err_at(L, v, "'on_file.on_change' must be 'rerun' or 'ignore', found '%s'",
			       v->type == YN_SCALAR ? v->str : ynode_type_name(v));
	}
	if ((v = ynode_get(n, "dirs")) &&
	    (v->type != YN_SCALAR || !v->plain || ynode_to_bool(v, &f->dirs) < 0))
		err_at(L, v, "'on_file.dirs' must be true or false, found %s",
		       v->type == YN_SCALAR ? v->str : ynode_type_name(v));
	if ((v = ynode_get(n, "params")))
		parse_on_file_params(L, v);
	check_on_file_required(L, n);
}

/*
 * on_variable: GLOB of variable keys.  The run gets the key in its declared
 * param `variable`; every other param needs a default.
 */
static void parse_on_variable(struct loader *L, const struct ynode *n)
{
	const struct dag_param *p;
	const char *s;

	if (get_string(L, n, "on_variable", &L->d->on_variable) < 0)
		return;
	for (s = L->d->on_variable; *s; s++)
		if (!strchr("_-.*?[]!", *s) && !isalnum((unsigned char)*s))
			break;
	if (!*L->d->on_variable || *s)
		err_at(L, n, "'on_variable' must be a glob of variable names (letters, digits, _ - ."
			     " and * ? [...]), found '%s'", L->d->on_variable);
	p = dag_param(L->d, "variable");
	if (!p || p->type != PT_STRING)
		err_at(L, n, "'on_variable' gives the changed variable's name to the param 'variable':"
			     " declare it, params: {variable: {type: string}}");
	for (size_t i = 0; i < L->d->nparams; i++)
		if (!L->d->params[i].def && strcmp(L->d->params[i].name, "variable"))
			err_at(L, n, "required param '%s' has no value in runs started by on_variable"
				     " (give it a default)", L->d->params[i].name);
}

static void parse_dag(struct loader *L, const struct ynode *root, const char *path)
{
	struct dag *d = L->d;
	struct task_defaults td = { .retries = 0 };
	const struct ynode *v;

	if (root->type != YN_MAP) {
		err_at(L, root, "a DAG file must be a mapping (id, tasks, ...), found %s",
		       ynode_type_name(root));
		return;
	}
	check_keys(L, root, top_keys, ARRAY_SIZE(top_keys), "");
	for (size_t i = 0; i < root->n; i++) {
		char *why = notyet_dag_key(root->keys[i]->str);
		if (why)
			diag_add(L->dl, DIAG_WARNING, root->keys[i]->line, root->keys[i]->col, "%s", why);
		free(why);
	}
	parse_id(L, root, path);
	d->workspace = workspace_of(path);
	if ((v = ynode_get(root, "description")))
		get_string(L, v, "description", &d->description);
	if ((v = ynode_get(root, "params")))
		dag_load_params(L, v);
	if ((v = ynode_get(root, "schedule")))
		parse_schedule(L, v);
	d->max_catchup = 10;
	parse_schedule_options(L, root);
	if ((v = ynode_get(root, "on_file")))
		parse_on_file(L, v);
	if ((v = ynode_get(root, "on_variable")))
		parse_on_variable(L, v);
	if ((v = ynode_get(root, "max_active_runs")))
		get_int(L, v, "max_active_runs", 1000000, &d->max_active_runs);
	if ((v = ynode_get(root, "executor")))
		parse_executor(L, v, &d->executor);
	if ((v = ynode_get(root, "on_success")) && !get_string(L, v, "on_success", &d->on_success))
		check_tmpl(L, v, TMPL_SHELL);
	if ((v = ynode_get(root, "on_failure")) && !get_string(L, v, "on_failure", &d->on_failure))
		check_tmpl(L, v, TMPL_SHELL);
	if ((v = ynode_get(root, "defaults")))
		parse_defaults(L, v, &td);
	parse_tasks(L, root, &td);
	free(td.on_retry);
}

/*
 * libyaml's complaints name the parser's state, not the user's mistake.  The
 * usual ones are a template or a cron expression left unquoted (YAML reads
 * '{' as a mapping and '*' as an alias) and tabs in the indentation: add the
 * fix to syntax errors on lines that show them.
 */
static void hint_yaml_errors(struct loader *L, size_t first)
{
	for (size_t i = first; i < L->dl->n; i++) {
		struct diag *dg = &L->dl->v[i];
		size_t len, ind = 0;
		const char *p = line_text(L, dg->line, &len), *fix = NULL;
		char *msg;

		/* the buffer need not end in a NUL: stay within the line */
		while (ind < len && (p[ind] == ' ' || p[ind] == '\t'))
			ind++;
		if (memmem(p, len, "{{", 2))
			fix = "a value holding '{{ }}' must be quoted when it starts with '{{' or sits"
			      " inside {...}: write \"...\"";
		else if (strstr(dg->msg, "alias") && memchr(p, '*', len))
			fix = "a value starting with '*', such as a cron schedule, must be quoted:"
			      " schedule: \"*/5 * * * *\"";
		else if (memchr(p, '\t', ind))
			fix = "indent with spaces: YAML does not allow tabs there";
		if (!fix)
			continue;
		msg = xasprintf("%s (%s)", dg->msg, fix);
		free(dg->msg);
		dg->msg = msg;
	}
}

struct dag *dag_load_buffer(const char *path, const char *buf, size_t len, struct diag_list *dl)
{
	struct loader L = { dl, buf, len, NULL, NULL, 0 };
	size_t before = dl->errors;
	struct ynode *root;

	if (len > DAG_FILE_MAX) {
		diag_error(dl, 0, 0, "file is too large for a DAG (%zu bytes, at most %u)", len,
			   DAG_FILE_MAX);
		return NULL;
	}
	root = yaml_parse(buf, len, dl);
	if (!root) {
		hint_yaml_errors(&L, before);
		return NULL;
	}
	L.d = xcalloc(1, sizeof(*L.d));
	L.d->path = xstrdup(path);
	parse_dag(&L, root, path);
	ynode_free(root);
	free(L.pnames);
	if (dl->errors > before) {
		dag_free(L.d);
		return NULL;
	}
	return L.d;
}

struct dag *dag_load_file(const char *path, struct diag_list *dl)
{
	struct strbuf sb = STRBUF_INIT;
	struct dag *d;

	/* sb_read_fd grows 8 KiB at a time: leave room to see that a file is too big */
	sb.max = DAG_FILE_MAX + 16384;
	errno = 0;
	if (sb_read_file(&sb, path) < 0) {
		if (errno)
			diag_error(dl, 0, 0, "cannot read: %s", strerror(errno));
		else
			diag_error(dl, 0, 0, "file is too large for a DAG (over %u bytes)", DAG_FILE_MAX);
		sb_release(&sb);
		return NULL;
	}
	d = dag_load_buffer(path, sb.buf, sb.len, dl);
	sb_release(&sb);
	return d;
}
