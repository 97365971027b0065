/*
 * The graph of a DAG file's tasks: needs resolved to task indexes (unknown
 * tasks with a "did you mean", duplicates, self-needs), cycles reported with
 * their path, and the tasks put in a stable topological order.  Generated
 * DAGs have tens of thousands of tasks: lookups are by a sorted index, and
 * nothing recurses.
 */
#include "flow/dag-load.h"

/* Task ids that are valid, for did-you-mean hints. */
static const char **task_names(const struct dag *d, size_t *n)
{
	const char **v = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(char *));

	*n = 0;
	for (size_t i = 0; i < d->ntasks; i++)
		if (d->tasks[i].id && dag_id_valid(d->tasks[i].id))
			v[(*n)++] = d->tasks[i].id;
	return v;
}

/* Task ids sorted, for lookups in big generated DAGs. */
struct id_index {
	const char *id;
	size_t idx;
};

static int cmp_id_index(const void *a, const void *b)
{
	return strcmp(((const struct id_index *)a)->id, ((const struct id_index *)b)->id);
}

struct needs_ctx {
	struct id_index *index;
	const char **names;     /* valid ids, for hints */
	size_t nnames;
	size_t *seen;           /* per task: 1 + the task that last listed it in needs */
};

static void resolve_need(struct loader *L, struct dag_task *t, size_t k, const struct ynode *item,
			 struct needs_ctx *nc, size_t mark)
{
	struct id_index key = { t->needs[k], 0 }, *found;
	struct strbuf sb = STRBUF_INIT;

	t->need_idx[k] = SIZE_MAX;
	found = bsearch(&key, nc->index, L->d->ntasks, sizeof(key), cmp_id_index);
	if (!found) {
		sb_addf(&sb, "unknown task '%s' in needs", t->needs[k]);
		add_hint(&sb, t->needs[k], nc->names, nc->nnames, "tasks");
		err_at(L, item, "%s", sb.buf);
		sb_release(&sb);
		return;
	}
	/* seen[] marks which task last listed each need: no quadratic scan on a big fan-in */
	if (nc->seen[found->idx] == mark) {
		err_at(L, item, "task '%s' is listed twice in needs", t->needs[k]);
		return;
	}
	nc->seen[found->idx] = mark;
	if (!strcmp(t->needs[k], t->id)) {
		err_at(L, item, "task '%s' needs itself", t->id);
		return;
	}
	t->need_idx[k] = found->idx;
}

static void resolve_needs(struct loader *L, const struct ynode *tasks)
{
	struct dag *d = L->d;
	struct needs_ctx nc;

	nc.names = task_names(d, &nc.nnames);
	nc.index = xcalloc(d->ntasks, sizeof(*nc.index));
	for (size_t i = 0; i < d->ntasks; i++) {
		nc.index[i].id = d->tasks[i].id;
		nc.index[i].idx = i;
	}
	qsort(nc.index, d->ntasks, sizeof(*nc.index), cmp_id_index);
	nc.seen = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(*nc.seen));
	for (size_t i = 0; i < d->ntasks; i++) {
		struct dag_task *t = &d->tasks[i];
		const struct ynode *seq = ynode_get(tasks->vals[i], "needs");
		size_t k = 0;

		t->need_idx = xcalloc(t->nneeds ? t->nneeds : 1, sizeof(size_t));
		if (!seq || seq->type != YN_SEQ)
			continue;
		for (size_t j = 0; j < seq->n && k < t->nneeds; j++)
			if (seq->vals[j]->type == YN_SCALAR && !ynode_is_null(seq->vals[j]))
				resolve_need(L, t, k++, seq->vals[j], &nc, i + 1);
	}
	free(nc.names);
	free(nc.index);
	free(nc.seen);
}

/* ---- cycles and order ---- */

struct cycle_walk {
	struct loader *L;
	const struct ynode *tasks;
	unsigned char *color;   /* 0 new, 1 on the path, 2 done */
	size_t *path;           /* the tasks on the current path */
	size_t *next;           /* per path entry: the next of its needs to follow */
	size_t depth;
	int reported;
};

/* path[from..depth-1] each need the next; the last needs path[from]. */
static void report_cycle(struct cycle_walk *w, size_t from)
{
	struct dag *d = w->L->d;
	struct strbuf sb = STRBUF_INIT;
	size_t m = w->depth - from, first = from;
	const struct ynode *seq, *at;
	size_t target;

	for (size_t k = from; k < w->depth; k++)
		if (w->path[k] < w->path[first])
			first = k;
	/* print in run order (upstream -> downstream), starting at the first task in the file */
	sb_addf(&sb, "dependency cycle: %s", d->tasks[w->path[first]].id);
	for (size_t s = 1; s <= m; s++) {
		size_t k = from + (first - from + m - s) % m;
		/* a long cycle shows its ends: the message must stay readable */
		if (m > 12 && s == 9) {
			sb_addf(&sb, " -> ... (%zu more)", m - 11);
			s = m - 3;
			continue;
		}
		sb_addf(&sb, " -> %s", d->tasks[w->path[k]].id);
	}
	/* point at the needs entry of that first task that closes the cycle */
	target = w->path[from + (first - from + 1) % m];
	seq = ynode_get(w->tasks->vals[w->path[first]], "needs");
	at = w->tasks->keys[w->path[first]];
	for (size_t j = 0; seq && seq->type == YN_SEQ && j < seq->n; j++)
		if (seq->vals[j]->type == YN_SCALAR && !strcmp(seq->vals[j]->str, d->tasks[target].id))
			at = seq->vals[j];
	err_at(w->L, at, "%s", sb.buf);
	sb_release(&sb);
	w->reported++;
}

/* Depth-first along needs, without recursion: generated DAGs can be deep. */
static void visit(struct cycle_walk *w, size_t root)
{
	const struct dag_task *tasks = w->L->d->tasks;

	w->color[root] = 1;
	w->path[0] = root;
	w->next[0] = 0;
	w->depth = 1;
	while (w->depth && w->reported < 10) {
		const struct dag_task *t = &tasks[w->path[w->depth - 1]];
		size_t u, from;

		if (w->next[w->depth - 1] == t->nneeds) {
			w->color[w->path[--w->depth]] = 2;
			continue;
		}
		u = t->need_idx[w->next[w->depth - 1]++];
		if (u == SIZE_MAX)
			continue;
		if (w->color[u] == 1) {
			for (from = 0; w->path[from] != u; from++)
				;
			report_cycle(w, from);
		} else if (!w->color[u]) {
			w->color[u] = 1;
			w->path[w->depth] = u;
			w->next[w->depth++] = 0;
		}
	}
}

static int find_cycles(struct loader *L, const struct ynode *tasks)
{
	size_t n = L->d->ntasks;
	struct cycle_walk w = { L, tasks, xcalloc(n, 1), xcalloc(n, sizeof(size_t)),
				xcalloc(n, sizeof(size_t)), 0, 0 };

	for (size_t i = 0; i < n && w.reported < 10; i++)
		if (!w.color[i])
			visit(&w, i);
	free(w.color);
	free(w.path);
	free(w.next);
	return w.reported;
}

/* Kahn's algorithm, seeded in file order so the order is stable. */
static void topo_sort(struct dag *d)
{
	size_t n = d->ntasks, head = 0, tail = 0;
	size_t *indeg = xcalloc(n, sizeof(size_t)), *start = xcalloc(n + 1, sizeof(size_t));
	size_t *down, *fill = xcalloc(n, sizeof(size_t));

	for (size_t i = 0; i < n; i++) {
		indeg[i] = d->tasks[i].nneeds;
		for (size_t k = 0; k < d->tasks[i].nneeds; k++)
			start[d->tasks[i].need_idx[k] + 1]++;
	}
	/* the downstream tasks of u are down[start[u] .. start[u + 1]) */
	for (size_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	down = xcalloc(start[n] ? start[n] : 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < d->tasks[i].nneeds; k++) {
			size_t u = d->tasks[i].need_idx[k];
			down[start[u] + fill[u]++] = i;
		}
	}
	d->topo = xcalloc(n, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		if (!indeg[i])
			d->topo[tail++] = i;
	while (head < tail) {
		size_t u = d->topo[head++];
		for (size_t k = start[u]; k < start[u + 1]; k++)
			if (!--indeg[down[k]])
				d->topo[tail++] = down[k];
	}
	if (tail != n)
		BUG("topological sort of an acyclic DAG placed %zu of %zu tasks", tail, n);
	free(indeg);
	free(start);
	free(down);
	free(fill);
}

void dag_load_graph(struct loader *L, const struct ynode *tasks, size_t errors_before)
{
	resolve_needs(L, tasks);
	if (!find_cycles(L, tasks) && L->dl->errors == errors_before)
		topo_sort(L->d);
}
