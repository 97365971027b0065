/*
 * The grid of the DAG page (GET /api/v1/dags/ID/grid, docs/api.md): the
 * latest runs of a DAG against its tasks, each cell an instance's state or,
 * for a foreach task, its counts by state.  Rows of finished runs are
 * cached per DAG snapshot (a finished run's row changes only with its
 * change number), so a page of 200 runs costs one counting query for the
 * runs still going.
 */
#include <stdatomic.h>

#include "util/common.h"
#include "web/web-impl.h"

#define GRID_DEFAULT 25
#define GRID_MAX 200

/* Filling the grid's cells from store_ti_counts(). */
struct grid_fill {
	const struct dag *d;
	json_t *row_of;         /* {run_id: row index} */
	json_t *rows;
};

static void grid_count(const struct store_ti_count *c, void *arg)
{
	struct grid_fill *g = arg;
	ssize_t t = dag_task_index(g->d, c->task_id);
	json_t *at = json_object_get(g->row_of, c->run_id);
	json_t *row = at ? json_array_get(g->rows, (size_t)json_integer_value(at)) : NULL;
	json_t *cell;

	if (t < 0 || !row)
		return; /* a task since removed from the file */
	if (!c->foreach) {
		json_array_set_new(row, (size_t)t, json_string(ti_state_name(c->state)));
		return;
	}
	cell = json_array_get(row, (size_t)t);
	if (!json_is_object(cell)) {
		cell = json_object();
		json_array_set_new(row, (size_t)t, cell);
	}
	json_object_set_new(cell, ti_state_name(c->state), json_integer((json_int_t)c->n));
}

#define GRID_CACHE_MAX 5000

/*
 * Takes the rows of finished runs from the cache into g->rows; the others
 * get an empty row and their ids in ids[] (*nq of them) to be counted.
 */
static void grid_from_cache(struct web *w, struct dag_snap *snap, struct grid_fill *g,
			    const struct store_run *runs, size_t n, char **ids, size_t *nq)
{
	struct grid_cache *c = &w->grid;

	pthread_mutex_lock(&c->lock);
	if (c->snap != snap) {
		json_object_clear(c->rows);
		atomic_fetch_add(&snap->refs, 1);
		dags_put(c->snap);
		c->snap = snap;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *hit = json_object_get(c->rows, runs[i].run_id), *row;
		if (run_state_is_final(runs[i].state) && hit &&
		    json_integer_value(json_array_get(hit, 0)) == runs[i].seq) {
			json_array_append(g->rows, json_array_get(hit, 1));
			continue;
		}
		row = json_array();
		for (size_t t = 0; t < g->d->ntasks; t++)
			json_array_append_new(row, json_null());
		json_array_append_new(g->rows, row);
		json_object_set_new(g->row_of, runs[i].run_id, json_integer((json_int_t)i));
		ids[(*nq)++] = runs[i].run_id;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Keeps the freshly counted rows of finished runs. */
static void grid_to_cache(struct web *w, struct dag_snap *snap, struct grid_fill *g,
			  const struct store_run *runs, size_t n)
{
	struct grid_cache *c = &w->grid;

	pthread_mutex_lock(&c->lock);
	if (c->snap == snap) {
		if (json_object_size(c->rows) + n > GRID_CACHE_MAX)
			json_object_clear(c->rows);
		for (size_t i = 0; i < n; i++)
			if (run_state_is_final(runs[i].state) &&
			    json_object_get(g->row_of, runs[i].run_id))
				json_object_set_new(c->rows, runs[i].run_id,
						    json_pack("[I,O]", (json_int_t)runs[i].seq,
							      json_array_get(g->rows, i)));
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * The grid's JSON for runs[0..n) of d: cached rows for finished runs, one
 * counting query for the rest; NULL when the store fails.  A cell is null
 * (no instance), a state, or for a foreach task an object of counts.
 */
static json_t *grid_json(struct web *w, struct store *s, struct dag_snap *snap,
			 const struct dag *d, const struct store_run *runs, size_t n, size_t total)
{
	struct grid_fill g = { d, json_object(), json_array() };
	json_t *tasks = json_array(), *jruns = json_array();
	char **ids = xcalloc(n + 1, sizeof(*ids));
	size_t nq = 0;
	int rc;

	for (size_t t = 0; t < d->ntasks; t++)
		json_array_append_new(tasks, json_pack("{s:s,s:b}", "task_id", d->tasks[t].id,
						       "foreach", d->tasks[t].foreach != NULL));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(jruns, store_run_summary_json(&runs[i]));
	grid_from_cache(w, snap, &g, runs, n, ids, &nq);
	rc = store_ti_counts(s, ids, nq, grid_count, &g);
	if (rc == 0)
		grid_to_cache(w, snap, &g, runs, n);
	free(ids);
	json_decref(g.row_of);
	if (rc < 0) {
		json_decref(tasks);
		json_decref(jruns);
		json_decref(g.rows);
		return NULL;
	}
	return json_pack("{s:s,s:o,s:o,s:o,s:I}", "dag_id", d->id, "tasks", tasks, "runs", jruns,
			 "cells", g.rows, "total", (json_int_t)total);
}

void api_dag_grid(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store *s = api_store(w, resp);
	struct store_run_filter f = { .dag_id = req->arg[0] };
	struct store_run *runs = NULL;
	struct dag_snap *snap;
	const struct dag *d;
	size_t n = 0, total = 0;
	long limit, offset;
	json_t *grid = NULL;

	if (!s || http_query_limit(req, resp, GRID_DEFAULT, GRID_MAX, &limit) < 0 ||
	    http_query_uint(req, resp, "offset", 0, 1L << 30, &offset) < 0)
		return;
	snap = dags_get(w);
	if ((d = api_find_dag(snap, req->arg[0], resp))) {
		f.limit = (size_t)limit;
		f.offset = (size_t)offset;
		if (store_run_list(s, &f, &runs, &n, &total) == 0)
			grid = grid_json(w, s, snap, d, runs, n, total);
		if (grid)
			http_json(resp, 200, grid);
		else
			http_error(resp, 500, "cannot read the store");
	}
	store_run_list_free(runs, n);
	dags_put(snap);
}

void api_grid_release(struct web *w)
{
	dags_put(w->grid.snap);
	json_decref(w->grid.rows);
	w->grid.snap = NULL;
	w->grid.rows = NULL;
}
