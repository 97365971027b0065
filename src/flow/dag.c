/*
 * The DAG model's lookups and lifetime, and the set of all DAGs of a data
 * folder.  Loading and validation live in dag-load.c, params in
 * dag-params.c, JSON in dag-json.c.
 */
#include "flow/dag.h"

#include <glob.h>
#include <sys/stat.h>

#include "util/common.h"
#include "util/suggest.h"

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void task_release(struct dag_task *t)
{
	free(t->id);
	free(t->run);
	free_strv(t->needs, t->nneeds);
	free(t->need_idx);
	free(t->foreach);
	free(t->on_retry);
	for (size_t i = 0; i < t->nenv; i++) {
		free(t->env[i].key);
		free(t->env[i].value);
	}
	free(t->env);
	free(t->workdir);
	free(t->container);
	free_strv(t->inputs, t->ninputs);
	free_strv(t->input_names, t->ninput_names);
	free_strv(t->outputs, t->noutputs);
	free(t->res.partition);
	free(t->res.account);
	free_strv(t->res.extra, t->res.nextra);
}

const char *dag_executor_name(enum dag_executor e)
{
	return e == DAG_EXEC_SLURM ? "slurm" : e == DAG_EXEC_LOCAL ? "local" : "default";
}

void dag_free(struct dag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nparams; i++) {
		struct dag_param *p = &d->params[i];
		free(p->name);
		free(p->description);
		json_decref(p->def);
		free_strv(p->values, p->nvalues);
	}
	free(d->params);
	for (size_t i = 0; i < d->ntasks; i++)
		task_release(&d->tasks[i]);
	free(d->tasks);
	free(d->topo);
	free(d->id);
	free(d->path);
	free(d->workspace);
	free(d->description);
	free(d->schedule);
	free(d->timezone);
	free(d->on_file);
	free(d->on_variable);
	for (size_t i = 0; i < d->file_trigger.nparams; i++) {
		free(d->file_trigger.params[i].key);
		free(d->file_trigger.params[i].value);
	}
	free(d->file_trigger.params);
	free(d->on_success);
	free(d->on_failure);
	free(d);
}

ssize_t dag_task_index(const struct dag *d, const char *id)
{
	for (size_t i = 0; i < d->ntasks; i++)
		if (d->tasks[i].id && !strcmp(d->tasks[i].id, id))
			return (ssize_t)i;
	return -1;
}

const struct dag_task *dag_task(const struct dag *d, const char *id)
{
	ssize_t i = dag_task_index(d, id);
	return i < 0 ? NULL : &d->tasks[i];
}

const struct dag_param *dag_param(const struct dag *d, const char *name)
{
	for (size_t i = 0; i < d->nparams; i++)
		if (!strcmp(d->params[i].name, name))
			return &d->params[i];
	return NULL;
}

/* ---- the set of a data folder ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_dag_id(const void *a, const void *b)
{
	const struct dag *x = *(struct dag *const *)a, *y = *(struct dag *const *)b;
	int c = strcmp(x->id, y->id);
	return c ? c : strcmp(x->path, y->path);
}

static void set_add(struct dag_set *set, struct dag *d)
{
	ALLOC_GROW(set->dags, set->n + 1, set->alloc);
	set->dags[set->n++] = d;
}

/* Each file of a group sharing an id names the others; none is kept. */
static size_t drop_group(struct dag_set *set, size_t from, size_t to, FILE *diag_out)
{
	for (size_t i = from; i < to; i++) {
		const struct dag *d = set->dags[i];
		if (diag_out) {
			fprintf(diag_out, "%s:%d:%d: error: duplicate DAG id '%s' (also defined in ",
				d->path, d->id_line, d->id_col, d->id);
			for (size_t j = from, k = 0; j < to; j++)
				if (j != i)
					fprintf(diag_out, "%s%s", k++ ? ", " : "", set->dags[j]->path);
			fputs(")\n", diag_out);
		}
	}
	for (size_t i = from; i < to; i++)
		dag_free(set->dags[i]);
	return to - from;
}

static void drop_duplicates(struct dag_set *set, FILE *diag_out)
{
	size_t w = 0, i = 0;

	if (set->n > 1)
		qsort(set->dags, set->n, sizeof(*set->dags), cmp_dag_id);
	while (i < set->n) {
		size_t j = i + 1;
		while (j < set->n && !strcmp(set->dags[j]->id, set->dags[i]->id))
			j++;
		if (j - i > 1)
			set->bad_files += drop_group(set, i, j, diag_out);
		else
			set->dags[w++] = set->dags[i];
		i = j;
	}
	set->n = w;
}

size_t dagset_load_files(struct dag_set *set, char **paths, size_t n, FILE *diag_out)
{
	for (size_t i = 0; i < n; i++) {
		struct diag_list dl;
		struct dag *d;

		diag_init(&dl, paths[i]);
		d = dag_load_file(paths[i], &dl);
		if (diag_out)
			diag_print(&dl, diag_out);
		diag_release(&dl);
		if (d)
			set_add(set, d);
		else
			set->bad_files++;
	}
	drop_duplicates(set, diag_out);
	return set->bad_files;
}

/*
 * The one place that knows where DAG files are: src/WORKSPACE/dags/NAME.yaml
 * or .yml under the data folder.  name is "*" for all of them.
 */
static void dag_glob(const char *data_dir, const char *name, glob_t *g)
{
	static const char *const exts[] = { "yaml", "yml" };
	int flags = 0;

	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		char *pat = xasprintf("%s/src/*/dags/%s.%s", data_dir, name, exts[i]);
		glob(pat, flags, NULL, g);
		flags = GLOB_APPEND;
		free(pat);
	}
	if (g->gl_pathc)
		qsort(g->gl_pathv, g->gl_pathc, sizeof(char *), cmp_str);
}

char **dag_files(const char *data_dir, size_t *n)
{
	glob_t g;
	char **v;

	dag_glob(data_dir, "*", &g);
	*n = g.gl_pathc;
	v = xcalloc(*n + 1, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = xstrdup(g.gl_pathv[i]);
	globfree(&g);
	return v;
}

size_t dagset_load(struct dag_set *set, const char *data_dir, FILE *diag_out)
{
	glob_t g;

	dag_glob(data_dir, "*", &g);
	dagset_load_files(set, g.gl_pathv, g.gl_pathc, diag_out);
	globfree(&g);
	return set->bad_files;
}

/* The DAG in path when it parses and has the id, else NULL (silently). */
static struct dag *load_if_id(const char *path, const char *id)
{
	struct diag_list dl;
	struct dag *d;

	diag_init(&dl, path);
	d = dag_load_file(path, &dl);
	diag_release(&dl);
	if (d && strcmp(d->id, id)) {
		dag_free(d);
		d = NULL;
	}
	return d;
}

struct dag *dag_load_id(const char *data_dir, const char *id, const char *path_hint)
{
	struct dag_set set = { 0 };
	struct dag *d = path_hint ? load_if_id(path_hint, id) : NULL, *found;
	glob_t g;

	if (!d && dag_id_valid(id)) {
		dag_glob(data_dir, id, &g);
		for (size_t i = 0; i < g.gl_pathc && !d; i++)
			d = load_if_id(g.gl_pathv[i], id);
		globfree(&g);
	}
	if (d)
		return d;
	dagset_load(&set, data_dir, NULL);
	found = dagset_find(&set, id);
	if (found)
		d = load_if_id(found->path, id);
	dagset_release(&set);
	return d;
}

const char *dagset_closest(const struct dag_set *set, const char *id)
{
	const char **ids = xcalloc(set->n + 1, sizeof(*ids));
	const char *near;

	for (size_t i = 0; i < set->n; i++)
		ids[i] = set->dags[i]->id;
	near = suggest_closest(id, ids, set->n);
	free(ids);
	return near;
}

const char *dag_closest_task(const struct dag *d, const char *task_id)
{
	const char **ids = xcalloc(d->ntasks + 1, sizeof(*ids));
	const char *near;

	for (size_t i = 0; i < d->ntasks; i++)
		ids[i] = d->tasks[i].id;
	near = suggest_closest(task_id, ids, d->ntasks);
	free(ids);
	return near;
}

struct dag *dagset_find(const struct dag_set *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->dags[i]->id, id))
			return set->dags[i];
	return NULL;
}

void dagset_release(struct dag_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		dag_free(set->dags[i]);
	free(set->dags);
	memset(set, 0, sizeof(*set));
}

/* Names, sizes and modification times of every DAG file. */
char *dagset_signature(const char *data_dir)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n;
	char **files = dag_files(data_dir, &n);

	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(files[i], &st) == 0)
			sb_addf(&sb, "%s %lld %lld.%09ld\n", files[i], (long long)st.st_size,
				(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		free(files[i]);
	}
	free(files);
	return sb_detach(&sb, NULL);
}
