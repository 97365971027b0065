/* Changing variables with their history (vars.h). */
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

int vars_change(struct store *st, const char *key, const char *value, const char *source,
		json_t **out)
{
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
	if (ret != 0 || store_var_history_add(st, &c) < 0)
		goto fail;
	if (store_commit(st) < 0) {
		free(old);
		return -1;
	}
	if (out)
		*out = vars_change_json(&c);
	free(old);
	return 0;
fail:
	store_rollback(st);
	free(old);
	return -1;
}
