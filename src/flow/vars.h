#ifndef SF_VARS_H
#define SF_VARS_H

/*
 * Changing variables ({{ vars.X }}, docs/events.md): what `synthflow
 * vars` and the web API share.  A change sets the value, creates the runs
 * of the DAGs whose on_variable matches the key, and records both in the
 * variable's history, in one store transaction: a change starts its runs
 * exactly once, or not at all.
 */

#include <jansson.h>

#include "core/config.h"
#include "flow/dag.h"
#include "store/store.h"

/* A change that changed nothing: the variable already had that value (or was not set). */
#define VARS_UNCHANGED 3

/* 1 when key is a valid variable name: letters, digits, '_', '-', '.'. */
int vars_key_valid(const char *key);

/*
 * Sets `key` to `value` (NULL: unsets it), for `source` ("cli", "api",
 * "ui"), and starts a run (params.variable = key) of each DAG of `dags`
 * (may be NULL) whose on_variable matches the key and that is not paused
 * and could start (sched_trigger_check against cfg's serve: a DAG that
 * could not gets a warning instead), and writes the variable-changed event
 * for every workspace of cfg's data folder that has the script (events.h;
 * none when cfg is NULL), all in one transaction.
 * 0 changed (and recorded), VARS_UNCHANGED when the value was already that
 * (nothing recorded, no run), STORE_NOT_FOUND when unsetting a variable
 * that is not set, -1 after error() (nothing changed).  *out (may be NULL)
 * receives the change as {"key","old","new","at","source","runs"}.
 */
int vars_change(struct store *st, const struct config *cfg, const struct dag_set *dags,
		const char *key, const char *value, const char *source, json_t **out);

/* One history entry as JSON: {"key","old","new","at","source","runs"}. */
json_t *vars_change_json(const struct store_var_change *c);

#endif
