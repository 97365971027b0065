/*
 * The params: block of a DAG file: each param's type (given, or inferred
 * from its default or values), bounds, allowed values and default, checked
 * as trigger params are (dag_param_check), so a default can never be
 * something a user could not have typed.
 */
#include <math.h>

#include "flow/dag-load.h"

static const char *const param_keys[] = {
	"type", "default", "description", "minimum", "maximum", "values",
};
static const char *const param_types[] = { "string", "integer", "number", "boolean", "enum", "path" };
const char *param_type_name(enum param_type t)
{
	return (size_t)t < ARRAY_SIZE(param_types) ? param_types[t] : "?";
}

static json_t *typed_value(struct loader *L, const struct dag_param *p, const struct ynode *n)
{
	long long i;
	double d;
	int b;

	if (n->type != YN_SCALAR || ynode_is_null(n))
		goto wrong;
	switch (p->type) {
	case PT_INTEGER:
		if (n->plain && !ynode_to_int(n, &i))
			return json_integer(i);
		goto wrong;
	case PT_NUMBER:
		if (n->plain && !ynode_to_double(n, &d))
			return json_real(d);
		goto wrong;
	case PT_BOOLEAN:
		if (n->plain && !ynode_to_bool(n, &b))
			return json_boolean(b);
		goto wrong;
	default:
		return json_string(n->str);
	}
wrong:
	err_at(L, n, "default of %s param '%s' must be %s %s, found %s", param_type_name(p->type),
	       p->name, p->type == PT_INTEGER ? "an" : "a", param_type_name(p->type),
	       ynode_type_name(n));
	return NULL;
}

/* No type: take it from the default (or `values`), else a string. */
static enum param_type infer_type(const struct ynode *spec)
{
	const struct ynode *def = ynode_get(spec, "default");
	long long i;
	double d;
	int b;

	if (ynode_get(spec, "values"))
		return PT_ENUM;
	if (!def || def->type != YN_SCALAR || !def->plain)
		return PT_STRING;
	if (!ynode_to_int(def, &i))
		return PT_INTEGER;
	if (!ynode_to_double(def, &d))
		return PT_NUMBER;
	if (!ynode_to_bool(def, &b))
		return PT_BOOLEAN;
	return PT_STRING;
}

static int parse_param_type(struct loader *L, const struct ynode *spec, struct dag_param *p)
{
	const struct ynode *t = ynode_get(spec, "type");
	struct strbuf sb = STRBUF_INIT;

	if (!t) {
		p->type = infer_type(spec);
		return 0;
	}
	if (t->type == YN_SCALAR) {
		for (size_t i = 0; i < ARRAY_SIZE(param_types); i++) {
			if (!strcmp(t->str, param_types[i])) {
				p->type = (enum param_type)i;
				return 0;
			}
		}
		sb_addf(&sb, "unknown type '%s' for param '%s'", t->str, p->name);
		add_hint(&sb, t->str, param_types, ARRAY_SIZE(param_types), "types");
	} else {
		sb_addf(&sb, "'type' of param '%s' must be a string, found %s", p->name,
			ynode_type_name(t));
	}
	err_at(L, t, "%s", sb.buf);
	sb_release(&sb);
	return -1;
}

static int parse_bound(struct loader *L, const struct ynode *spec, const char *key,
		       struct dag_param *p, int *has, double *out)
{
	const struct ynode *n = ynode_get(spec, key);

	if (!n)
		return 0;
	if (p->type != PT_INTEGER && p->type != PT_NUMBER) {
		err_at(L, n, "'%s' applies only to integer and number params; '%s' is %s", key,
		       p->name, param_type_name(p->type));
		return -1;
	}
	if (n->type != YN_SCALAR || !n->plain || ynode_to_double(n, out) < 0) {
		err_at(L, n, "'%s' of param '%s' must be a number, found %s", key, p->name,
		       ynode_type_name(n));
		return -1;
	}
	if (p->type == PT_INTEGER && (*out != floor(*out) || fabs(*out) > 9e15)) {
		err_at(L, n, "'%s' of integer param '%s' must be an integer, found %s", key, p->name,
		       n->str);
		return -1;
	}
	*has = 1;
	return 0;
}

static int parse_values(struct loader *L, const struct ynode *spec, struct dag_param *p)
{
	const struct ynode *n = ynode_get(spec, "values");
	int bad = 0;

	if (!n) {
		if (p->type != PT_ENUM)
			return 0;
		err_at(L, spec, "enum param '%s' needs its 'values' (e.g. values: [train, val])", p->name);
		return -1;
	}
	if (p->type != PT_ENUM) {
		err_at(L, n, "'values' applies only to enum params; '%s' is %s", p->name,
		       param_type_name(p->type));
		return -1;
	}
	if (get_string_list(L, n, "values", &p->values, &p->nvalues) < 0)
		return -1;
	if (!p->nvalues) {
		err_at(L, n, "enum param '%s' needs at least one value", p->name);
		return -1;
	}
	for (size_t i = 1; i < p->nvalues; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(p->values[i], p->values[j])) {
				err_at(L, n->vals[i], "value '%s' is listed twice", p->values[i]);
				bad = 1;
				break;
			}
		}
	}
	return bad ? -1 : 0;
}

static int parse_default(struct loader *L, const struct ynode *spec, struct dag_param *p)
{
	const struct ynode *n = ynode_get(spec, "default");
	struct strbuf why = STRBUF_INIT;

	if (!n)
		return 0;
	p->def = typed_value(L, p, n);
	if (!p->def)
		return -1;
	if (dag_param_check(p, p->def, &why) < 0) {
		err_at(L, n, "default of param '%s' breaks its own schema: %s", p->name, why.buf);
		sb_release(&why);
		return -1;
	}
	return 0;
}

static int parse_param(struct loader *L, const struct ynode *key, const struct ynode *spec,
		       struct dag_param *p)
{
	const struct ynode *desc;
	char *where;
	int bad = 0;

	p->name = xstrdup(key->str);
	p->line = key->line;
	p->col = key->col;
	if (!dag_id_valid(p->name)) {
		err_at(L, key, "invalid param name '%s': use letters, digits, '_', '.' and '-'",
		       p->name);
		bad = 1;
	}
	if (spec->type != YN_MAP) {
		err_at(L, spec, "param '%s' must be a mapping such as {type: string, default: x}, "
				"found %s", p->name, ynode_type_name(spec));
		return -1;
	}
	where = xasprintf(" in param '%s'", p->name);
	check_keys(L, spec, param_keys, ARRAY_SIZE(param_keys), where);
	free(where);
	if (parse_param_type(L, spec, p) < 0)
		return -1;
	desc = ynode_get(spec, "description");
	if (desc && get_string(L, desc, "description", &p->description) < 0)
		bad = 1;
	bad |= parse_bound(L, spec, "minimum", p, &p->has_min, &p->min) < 0;
	bad |= parse_bound(L, spec, "maximum", p, &p->has_max, &p->max) < 0;
	if (p->has_min && p->has_max && p->min > p->max) {
		err_at(L, ynode_get(spec, "minimum"), "minimum %g of param '%s' is above its maximum %g",
		       p->min, p->name, p->max);
		bad = 1;
	}
	bad |= parse_values(L, spec, p) < 0;
	if (!bad)
		bad |= parse_default(L, spec, p) < 0;
	return bad ? -1 : 0;
}

void dag_load_params(struct loader *L, const struct ynode *n)
{
	struct dag *d = L->d;

	if (n->type != YN_MAP) {
		if (!ynode_is_null(n))
			err_at(L, n, "'params' must be a mapping of names to {type, default, ...}, "
				     "found %s", ynode_type_name(n));
		return;
	}
	d->params = xcalloc(n->n ? n->n : 1, sizeof(*d->params));
	L->pnames = xcalloc(n->n ? n->n : 1, sizeof(char *));
	for (size_t i = 0; i < n->n; i++) {
		parse_param(L, n->keys[i], n->vals[i], &d->params[d->nparams++]);
		if (dag_id_valid(n->keys[i]->str))
			L->pnames[L->npnames++] = n->keys[i]->str;
	}
}
