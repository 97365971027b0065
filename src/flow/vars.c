/* Changing variables with their history and on_variable runs (vars.h). */
#include <fnmatch.h>

#include "flow/events.h"
#include "flow/sched.h"
#include "flow/vars.h"
#include "util/common.h"
#include "util/timeutil.h"

int vars_key_valid(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (!(*k == '_' || *k == '-' || *k == '.' || (*k >= 'a' && *k <= 'z') ||
		      (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9')))
			return 0;
	return 1;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *vars_change_json(const struct store_var_change *c)
{
	char at[32];

	time_format_iso(c->at, at, sizeof(at));
	return json_pack("{s:s, s:o, s:o, s:s, s:s, s:o}", "key", c->key, "old",
			 str_or_null(c->old_value), "new", str_or_null(c->new_value), "at", at,
			 "source", c->source, "runs", c->runs ? json_incref(c->runs) : json_array());
}

/* Inside the open transaction: the runs of the DAGs that on_variable this key, into c->runs. */
static int start_runs(struct store *st, const struct config *cfg, const struct dag_set *dags,
		      struct store_var_change *c)
{
	json_t *paused = NULL, *given = json_pack("{s:s}", "variable", c->key);
	struct strbuf err = STRBUF_INIT;
	int ret = 0;

	c->runs = json_array();
	if (!dags)
		goto out;
	if (store_dag_paused_all(st, &paused) < 0) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < dags->n && !ret; i++) {
		const struct dag *d = dags->dags[i];
		const char *task, *field;
		json_t *params = NULL;
		char *run_id = NULL;

		if (!d->on_variable || fnmatch(d->on_variable, c->key, 0) ||
		    json_is_true(json_object_get(paused, d->id)))
			continue;
		sb_reset(&err);
		/* the variable changes all the same; a run that could never start is not made */
		if (cfg && sched_trigger_check(cfg, d, &err, &task, &field) < 0) {
			warning("variable '%s' changed: no run of DAG '%s' (on_variable): %s", c->key,
				d->id, err.buf);
			continue;
		}
		/* the loader made sure the params fit; a failure here is a bug to report, not skip */
		if (dag_params_from_json(d, given, &params, &err) < 0) {
			ret = error("DAG '%s': on_variable: %s", d->id, err.buf);
		} else if (store_run_create_by(st, d->id, params, NULL, "variable", &run_id) < 0) {
			ret = -1;
		} else {
			json_array_append_new(c->runs, json_pack("{s:s, s:s}", "dag_id", d->id,
								 "run_id", run_id));
		}
		json_decref(params);
		free(run_id);
	}
out:
	json_decref(paused);
	json_decref(given);
	sb_release(&err);
	return ret;
}

/* Inside the open transaction: the variable-changed event rows (events.h). */
static int change_event(struct store *st, const char *data_dir, const struct store_var_change *c)
{
	json_t *ev;
	int ret;

	if (!data_dir)
		return 0;
	ev = vars_change_json(c);
	/* "variable", as the payload names it; "at" becomes the event's time */
	json_object_set(ev, "variable", json_object_get(ev, "key"));
	json_object_del(ev, "key");
	json_object_del(ev, "at");
	ret = events_add(st, data_dir, NULL, "variable-changed", ev, NULL);
	json_decref(ev);
	return ret;
}

int vars_change(struct store *st, const struct config *cfg, const struct dag_set *dags,
		const char *key, const char *value, const char *source, json_t **out)
{
	const char *data_dir = cfg ? cfg->data_dir : NULL;
	struct store_var_change c = { .key = (char *)key, .new_value = (char *)value,
				      .source = (char *)source };
	char *old = NULL;
	int ret;

	if (out)
		*out = NULL;
	/* SQLite's write lock is taken here: the old value is the one replaced. */
	if (store_begin(st) < 0)
		return -1;
	ret = store_var_get(st, key, &old);
	if (ret < 0)
		goto fail;
	if (ret == STORE_NOT_FOUND && !value) {
		store_rollback(st);
		return STORE_NOT_FOUND;
	}
	if (old && value && !strcmp(old, value)) {
		store_rollback(st);
		free(old);
		return VARS_UNCHANGED;
	}
	c.old_value = old;
	c.at = time_now_ms();
	ret = value ? store_var_set(st, key, value) : store_var_unset(st, key);
	/* the runs' snapshots, taken by their inserts, hold the new value */
	if (ret != 0 || start_runs(st, cfg, dags, &c) < 0 || store_var_history_add(st, &c) < 0 ||
	    change_event(st, data_dir, &c) < 0)
		goto fail;
	if (store_commit(st) < 0)
		goto fail_commit;
	if (out)
		*out = vars_change_json(&c);
	json_decref(c.runs);
	free(old);
	return 0;
fail:
	store_rollback(st);
fail_commit:
	json_decref(c.runs);
	free(old);
	return -1;
}
