#ifndef SF_RUN_H
#define SF_RUN_H

/*
 * What the run commands (test, trigger, runs, tasks) and the web API share:
 * finding a DAG or a run by id with a "did you mean" hint, checking -p
 * params, waiting for a run, and the human-readable views of runs.
 */

#include <jansson.h>
#include <stdio.h>

#include "flow/dag.h"
#include "store/store.h"

/* The DAG `id` of an already loaded set, or NULL after "unknown DAG 'x' (did you mean ...)". */
struct dag *run_find_dag(struct dag_set *set, const char *id);
/*
 * The DAG `id` of the data folder, for the caller to dag_free(), or NULL
 * after an error with a hint.  src/(any)/dags/ID.yaml|yml is tried first, on
 * its own: parsing every DAG file of the folder is what finding it costs
 * otherwise (a third of a second for a 10,000-task DAG).
 */
struct dag *run_load_dag(const char *data_dir, const char *id);
/* A task of d, or NULL after "unknown task 'x' in DAG 'd' (did you mean ...)". */
const struct dag_task *run_find_task(const struct dag *d, const char *task_id);
/*
 * The run `run_id`: 0, or -1 after "unknown run 'x' (did you mean ...)"
 * (the hint comes from the most recent runs) or a store error.
 */
int run_find(struct store *st, const char *run_id, struct store_run *out);

/*
 * Adds "provenance" to a run's JSON (store_run_json) and to each of its task
 * instances (docs/replication.md), null where none was recorded, and
 * "replay_of": the run it replays, or null.
 */
int run_add_provenance(struct store *st, const char *run_id, json_t *run);
/*
 * Two runs compared (runs diff, GET /api/v1/runs/{a}/diff/{b}): a new object
 * {"a","b","dag_id","dag_id_b","params":{KEY:[A,B]},"vars":{KEY:[A,B]},
 *  "duration_ms":[A,B],"tasks":[{"key","task_id","state":[A,B],
 *  "duration_ms":[A,B],"outputs","outputs_differ":[PATH...]}]}, only the
 * params and variables that differ; instances matched by task and foreach
 * item (its path with the run id replaced by "{run}"), null on the side
 * that lacks one.  -1 after an error naming an unknown run.
 */
int run_diff(struct store *st, const char *run_a, const char *run_b, json_t **out);
/* The first -p argument that is not KEY=VALUE (a usage error), or NULL. */
const char *run_kv_malformed(char **kv, size_t n);
/* Typed params from -p KEY=VALUE: 0, or -1 after an error naming the param. */
int run_params(const struct dag *d, char **kv, size_t n, json_t **out);

/* Blocks until the run has ended (polling the store); its final state in *state. */
int run_wait(struct store *st, const char *run_id, enum run_state *state);

/* runs list: one line per run. */
void run_print_list(FILE *out, const struct store_run *runs, size_t n);
/* runs show: the run, then one line per task instance. */
void run_print(FILE *out, const struct store_run *r, const struct store_ti *tis, size_t n);

#endif
