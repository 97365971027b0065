#ifndef SF_STORE_IMPL_H
#define SF_STORE_IMPL_H

/*
 * What a store backend provides (sqlite.c; a PostgreSQL backend later).
 * store.c dispatches every public store_* call through these, and owns
 * what is backend-independent (the JSON of runs).  Each entry has the
 * meaning and return convention of the public function of the same name
 * in store.h.
 */

#include "store/store.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);

	int (*run_create)(struct store *s, const char *dag_id, json_t *params, const char *owner,
			  char **run_id);
	int (*run_get)(struct store *s, const char *run_id, struct store_run *out);
	int (*run_list)(struct store *s, const struct store_run_filter *f, struct store_run **runs,
			size_t *n, size_t *total);
	int (*run_set_state)(struct store *s, const char *run_id, enum run_state st,
			     int64_t started_at, int64_t ended_at, const char *reason);
	int (*run_claim)(struct store *s, const char *run_id, const char *expect, const char *owner);

	int (*ti_put)(struct store *s, const char *run_id, const struct store_ti *ti);
	int (*ti_delete)(struct store *s, const char *run_id, const char *task_id, int index);
	int (*ti_list)(struct store *s, const char *run_id, struct store_ti **tis, size_t *n);

	int (*try_put)(struct store *s, const char *run_id, const char *task_id, int index,
		       const struct store_try *t);
	int (*try_list)(struct store *s, const char *run_id, const char *task_id, int index,
			struct store_try **tries, size_t *n);

	int (*var_get)(struct store *s, const char *key, char **value);
	int (*var_set)(struct store *s, const char *key, const char *value);
	int (*var_unset)(struct store *s, const char *key);
	int (*var_all)(struct store *s, json_t **vars);

	int (*req_add)(struct store *s, const char *run_id, enum store_req_kind kind,
		       const char *task_id, int downstream);
	int (*req_list)(struct store *s, const char *run_id, struct store_req **reqs, size_t *n);
	int (*req_done)(struct store *s, int64_t id);

	int (*seq)(struct store *s, int64_t *seq);
	int (*changes_since)(struct store *s, int64_t since, size_t limit, store_change_fn fn,
			     void *arg, int64_t *last);
	int (*changed_elsewhere)(struct store *s);

	int (*dag_set_paused)(struct store *s, const char *dag_id, int paused);
	int (*dag_paused_all)(struct store *s, json_t **paused);
	int (*ti_stats)(struct store *s, struct store_ti_stats *out);
	int (*ti_counts)(struct store *s, char *const *run_ids, size_t n, store_ti_count_fn fn,
			 void *arg);
	int (*metrics_put)(struct store *s, const char *run_id, const char *task_id, int index,
			   int try_number, const char *item, const char *jsonl, size_t len, size_t *bad);
	/* conds already parsed (store.c), sort key checked: only the query is the backend's */
	int (*metrics_list)(struct store *s, const char *run_id, const struct store_metrics_query *q,
			    const struct store_metrics_cond *conds, size_t nconds, const char *sort_key,
			    int sort_desc, json_t **rows, size_t *total);

	/* Provenance records as JSON text; store.c parses and prints them. */
	int (*prov_put)(struct store *s, const char *run_id, const char *task_id, int index,
			const char *doc);
	int (*prov_get)(struct store *s, const char *run_id, const char *task_id, int index,
			char **doc);
	int (*prov_list)(struct store *s, const char *run_id, store_prov_fn fn, void *arg);
};

/* Every backend's connection struct begins with this. */
struct store {
	const struct store_ops *ops;
};

struct store *store_sqlite_open(const char *path);

/* A new run id: UTC time and 24 random bits, "20261129T001946-3fa2c1". */
char *store_new_run_id(void);

#endif
