/* The JSON form of a DAG (dags show --json, GET /api/v1/dags/{dag}). */
#include "flow/dag.h"
#include "flow/notyet.h"
#include "util/common.h"

/* Strings of a loaded DAG come from libyaml, which accepts only UTF-8. */
static json_t *str_or_null(const char *s)
{
	json_t *v = s ? json_string(s) : NULL;
	return v ? v : json_null();
}

/* What the DAG asks for that is not acted on yet, for the UI to show. */
static json_t *notyet_json(const struct dag *d)
{
	struct strvec w = STRVEC_INIT;
	json_t *arr = json_array();

	notyet_dag(d, &w);
	for (size_t i = 0; i < w.nr; i++)
		json_array_append_new(arr, json_string(w.v[i]));
	strvec_clear(&w);
	return arr;
}

static json_t *strv(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, str_or_null(v[i]));
	return a;
}

static json_t *param_json(const struct dag_param *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string(param_type_name(p->type)));
	json_object_set_new(o, "default", p->def ? json_incref(p->def) : json_null());
	json_object_set_new(o, "description", str_or_null(p->description));
	if (p->has_min)
		json_object_set_new(o, "minimum", p->type == PT_INTEGER ? json_integer((json_int_t)p->min)
								: json_real(p->min));
	if (p->has_max)
		json_object_set_new(o, "maximum", p->type == PT_INTEGER ? json_integer((json_int_t)p->max)
								: json_real(p->max));
	if (p->type == PT_ENUM)
		json_object_set_new(o, "values", strv(p->values, p->nvalues));
	json_object_set_new(o, "required", json_boolean(!p->def));
	return o;
}

static json_t *task_json(const struct dag_task *t)
{
	json_t *o = json_object(), *env = json_object();

	json_object_set_new(o, "task_id", str_or_null(t->id));
	json_object_set_new(o, "run", str_or_null(t->run));
	json_object_set_new(o, "needs", strv(t->needs, t->nneeds));
	json_object_set_new(o, "trigger", json_string(trigger_rule_name(t->trigger)));
	json_object_set_new(o, "foreach", str_or_null(t->foreach));
	json_object_set_new(o, "retries", json_integer(t->retries));
	json_object_set_new(o, "retry_delay_ms", json_integer(t->retry_delay_ms));
	json_object_set_new(o, "timeout_ms", json_integer(t->timeout_ms));
	json_object_set_new(o, "on_retry", str_or_null(t->on_retry));
	for (size_t i = 0; i < t->nenv; i++)
		json_object_set_new(env, t->env[i].key, str_or_null(t->env[i].value));
	json_object_set_new(o, "env", env);
	json_object_set_new(o, "workdir", str_or_null(t->workdir));
	json_object_set_new(o, "inputs", strv(t->inputs, t->ninputs));
	json_object_set_new(o, "input_names", strv(t->input_names, t->ninput_names));
	json_object_set_new(o, "outputs", strv(t->outputs, t->noutputs));
	json_object_set_new(o, "cache", json_boolean(t->cache));
	json_object_set_new(o, "max_active", json_integer(t->max_active));
	json_object_set_new(o, "batch", t->batch ? json_integer(t->batch) : json_null());
	json_object_set_new(o, "skip_exit_code",
			    t->skip_exit_code < 0 ? json_null() : json_integer(t->skip_exit_code));
	json_object_set_new(o, "container", str_or_null(t->container));
	return o;
}

json_t *dag_to_json(const struct dag *d)
{
	json_t *o = json_object(), *params = json_object(), *tasks = json_array();
	json_t *edges = json_array();

	json_object_set_new(o, "dag_id", str_or_null(d->id));
	json_object_set_new(o, "description", str_or_null(d->description));
	json_object_set_new(o, "path", str_or_null(d->path));
	json_object_set_new(o, "workspace", str_or_null(d->workspace));
	json_object_set_new(o, "schedule", str_or_null(d->schedule));
	json_object_set_new(o, "timezone", str_or_null(d->timezone));
	json_object_set_new(o, "catchup", json_boolean(d->catchup));
	json_object_set_new(o, "max_catchup", json_integer(d->max_catchup));
	json_object_set_new(o, "on_file", str_or_null(d->on_file));
	json_object_set_new(o, "on_variable", str_or_null(d->on_variable));
	json_object_set_new(o, "max_active_runs", json_integer(d->max_active_runs));
	json_object_set_new(o, "on_success", str_or_null(d->on_success));
	json_object_set_new(o, "on_failure", str_or_null(d->on_failure));
	json_object_set_new(o, "warnings", notyet_json(d));
	for (size_t i = 0; i < d->nparams; i++)
		json_object_set_new(params, d->params[i].name, param_json(&d->params[i]));
	json_object_set_new(o, "params", params);
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		json_array_append_new(tasks, task_json(t));
		for (size_t k = 0; k < t->nneeds; k++)
			json_array_append_new(edges, json_pack("[ss]", t->needs[k], t->id));
	}
	json_object_set_new(o, "tasks", tasks);
	json_object_set_new(o, "edges", edges);
	return o;
}
