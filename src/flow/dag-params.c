/*
 * Params given when triggering a run, checked against the DAG's schema.
 * The same check (dag_param_check) validates defaults when a file loads, so
 * a default can never be something a user could not have typed.
 */
#include <errno.h>
#include <math.h>
#include <strings.h>

#include "flow/dag.h"
#include "util/common.h"
#include "util/suggest.h"

static void add_num(struct strbuf *sb, double d)
{
	sb_addf(sb, "%.15g", d);
}

static const char *json_kind(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int check_type(const struct dag_param *p, json_t *v, struct strbuf *err)
{
	int ok;

	switch (p->type) {
	case PT_INTEGER: ok = json_is_integer(v); break;
	case PT_NUMBER: ok = json_is_number(v); break;
	case PT_BOOLEAN: ok = json_is_boolean(v); break;
	default: ok = json_is_string(v); break;
	}
	if (!ok) {
		sb_addf(err, "expected %s %s, found %s", p->type == PT_INTEGER || p->type == PT_ENUM ? "an" : "a",
			param_type_name(p->type), json_kind(v));
		return -1;
	}
	if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v)) {
		sb_adds(err, "the value contains a NUL character");
		return -1;
	}
	return 0;
}

static int check_enum(const struct dag_param *p, const char *s, struct strbuf *err)
{
	for (size_t i = 0; i < p->nvalues; i++)
		if (!strcmp(p->values[i], s))
			return 0;
	sb_addf(err, "'%s' is not one of: ", s);
	for (size_t i = 0; i < p->nvalues; i++)
		sb_addf(err, "%s%s", i ? ", " : "", p->values[i]);
	return -1;
}

int dag_param_check(const struct dag_param *p, json_t *v, struct strbuf *err)
{
	double d;

	if (check_type(p, v, err) < 0)
		return -1;
	if (p->type == PT_ENUM)
		return check_enum(p, json_string_value(v), err);
	if (p->type != PT_INTEGER && p->type != PT_NUMBER)
		return 0;
	d = json_number_value(v);
	if (p->has_min && d < p->min) {
		add_num(err, d);
		sb_adds(err, " is below the minimum ");
		add_num(err, p->min);
		return -1;
	}
	if (p->has_max && d > p->max) {
		add_num(err, d);
		sb_adds(err, " is above the maximum ");
		add_num(err, p->max);
		return -1;
	}
	return 0;
}

static json_t *from_text(const struct dag_param *p, const char *s, struct strbuf *err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	char *end;

	errno = 0;
	switch (p->type) {
	case PT_INTEGER: {
		long long v = strtoll(s, &end, 10);
		if (*s && !*end && !errno)
			return json_integer(v);
		break;
	}
	case PT_NUMBER: {
		double v = strtod(s, &end);
		if (*s && !*end && !errno && isfinite(v))
			return json_real(v);
		break;
	}
	case PT_BOOLEAN:
		for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
			if (!strcasecmp(s, yes[i]))
				return json_true();
			if (!strcasecmp(s, no[i]))
				return json_false();
		}
		sb_addf(err, "'%s' is not a boolean (use true or false)", s);
		return NULL;
	default:
		return json_string(s);
	}
	sb_addf(err, "'%s' is not %s %s", s, p->type == PT_INTEGER ? "an" : "a", param_type_name(p->type));
	return NULL;
}

/*
 * A given value in the param's type.  Strings are converted for typed params
 * because forms and -p send text; JSON numbers are taken as they are.
 */
static json_t *convert(const struct dag_param *p, json_t *v, struct strbuf *err)
{
	if (json_is_string(v) && p->type != PT_STRING && p->type != PT_PATH && p->type != PT_ENUM)
		return from_text(p, json_string_value(v), err);
	if (p->type == PT_INTEGER && json_is_real(v)) {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 9e15)
			return json_integer((json_int_t)d);
	}
	if (p->type == PT_NUMBER && json_is_integer(v))
		return json_real((double)json_integer_value(v));
	if (check_type(p, v, err) < 0)
		return NULL;
	return json_incref(v);
}

static void unknown_param(const struct dag *d, const char *key, struct strbuf *err)
{
	const char **names = xcalloc(d->nparams ? d->nparams : 1, sizeof(char *));
	const char *hint;

	for (size_t i = 0; i < d->nparams; i++)
		names[i] = d->params[i].name;
	hint = suggest_closest(key, names, d->nparams);
	sb_addf(err, "unknown param '%s'", key);
	if (hint)
		sb_addf(err, " (did you mean '%s'?)", hint);
	else if (!d->nparams)
		sb_adds(err, "; it takes no params");
	else
		for (size_t i = 0; i < d->nparams; i++)
			sb_addf(err, "%s%s", i ? ", " : "; params: ", names[i]);
	free(names);
}

static int fill_defaults(const struct dag *d, json_t *res, struct strbuf *err)
{
	for (size_t i = 0; i < d->nparams; i++) {
		const struct dag_param *p = &d->params[i];
		if (json_object_get(res, p->name))
			continue;
		if (!p->def) {
			sb_addf(err, "param '%s' is required (it has no default): give it with -p %s=VALUE",
				p->name, p->name);
			return -1;
		}
		json_object_set(res, p->name, p->def);
	}
	return 0;
}

int dag_params_from_json(const struct dag *d, json_t *given, json_t **out, struct strbuf *err)
{
	json_t *res = json_object(), *v;
	const char *key;

	*out = NULL;
	if (given && !json_is_object(given)) {
		sb_addf(err, "params must be an object of NAME: value, found %s", json_kind(given));
		goto fail;
	}
	json_object_foreach(given, key, v) {
		const struct dag_param *p = dag_param(d, key);
		json_t *typed;
		if (!p) {
			unknown_param(d, key, err);
			goto fail;
		}
		sb_addf(err, "param '%s': ", key);
		typed = convert(p, v, err);
		if (!typed || dag_param_check(p, typed, err) < 0) {
			json_decref(typed);
			goto fail;
		}
		sb_reset(err);
		json_object_set_new(res, key, typed);
	}
	if (fill_defaults(d, res, err) < 0)
		goto fail;
	*out = res;
	return 0;
fail:
	json_decref(res);
	return -1;
}

int dag_params_from_kv(const struct dag *d, char **kv, size_t n, json_t **out, struct strbuf *err)
{
	json_t *given = json_object();
	int ret = -1;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		char *key;
		json_t *val;
		if (!eq || eq == kv[i]) {
			sb_addf(err, "malformed param '%s': expected KEY=VALUE", kv[i]);
			goto out;
		}
		key = xstrndup(kv[i], (size_t)(eq - kv[i]));
		if (json_object_get(given, key)) {
			sb_addf(err, "param '%s' is given twice", key);
			free(key);
			goto out;
		}
		val = json_string(eq + 1);
		if (!val) {
			sb_addf(err, "param '%s': the value is not valid UTF-8", key);
			free(key);
			goto out;
		}
		json_object_set_new_nocheck(given, key, val);
		free(key);
	}
	ret = dag_params_from_json(d, given, out, err);
out:
	json_decref(given);
	return ret;
}
