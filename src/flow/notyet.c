/*
 * The one table of what is accepted but not acted on yet (see notyet.h):
 * DAG keys, and setting values (a key whose every value is inert is
 * flagged KEY_NOT_YET in config.c's key table instead).  When a feature lands, its issue deletes its rows here; nothing
 * else needs to change for the warnings to stop.
 */
#include "flow/notyet.h"

#include "flow/dag.h"
#include "util/common.h"


static const struct row {
	const char *key;         /* a DAG's top-level key, or a setting as section.key */
	const char *(*value)(const struct config *c); /* settings: their value */
	const char *prefix;      /* settings: the values (by prefix) not acted on */
	const char *meanwhile;   /* what happens instead, until it is */
} rows[] = {
	/* nothing at the moment: schedules, files and callbacks are acted on */
	{ .key = NULL },        /* the end (a table may be empty) */
};

char *notyet_dag_key(const char *key)
{
	for (size_t i = 0; rows[i].key; i++)
		if (!rows[i].value && !strcmp(rows[i].key, key))
			return xasprintf("'%s' is not acted on yet: %s", key, rows[i].meanwhile);
	return NULL;
}

void notyet_dag(const struct dag *d, struct strvec *out)
{
	const struct {
		const char *key;
		const char *set;
	} keys[] = {
		{ "on_file", d->on_file },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char *why = keys[i].set ? notyet_dag_key(keys[i].key) : NULL;
		if (why)
			strvec_push(out, why);
		free(why);
	}
}

void notyet_config(const struct config *cfg, struct strvec *out)
{
	for (size_t i = 0; rows[i].key; i++) {
		const char *v = rows[i].value ? rows[i].value(cfg) : NULL;
		if (v && !strncmp(v, rows[i].prefix, strlen(rows[i].prefix)))
			strvec_pushf(out, "synthflow.yaml: %s '%s' is not acted on yet: %s", rows[i].key,
				     v, rows[i].meanwhile);
	}
}

void notyet_config_warn(const struct config *cfg)
{
	struct strvec w = STRVEC_INIT;

	notyet_config(cfg, &w);
	for (size_t i = 0; i < w.nr; i++)
		warning("%s", w.v[i]);
	strvec_clear(&w);
}
