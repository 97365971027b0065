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

/*
 * Every member after `name` is a function pointer and every backend sets
 * all of them: store_ops_check() verifies it when a store opens (and the
 * unit tests do for each backend), so adding an op to one backend only
 * fails at once instead of calling NULL later.
 */
struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);

	/* vars NULL: the snapshot of the store's variables; trigger: what started it ("manual" ...) */
	int (*run_create)(struct store *s, const char *dag_id, json_t *params, json_t *vars,
			  const char *owner, const char *trigger, char **run_id);
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
	int (*var_history_add)(struct store *s, const struct store_var_change *c);
	int (*var_history)(struct store *s, const char *key, struct store_var_change **v, size_t *n);

	int (*req_add)(struct store *s, const char *run_id, enum store_req_kind kind,
		       const char *task_id, int downstream);
	int (*req_list)(struct store *s, const char *run_id, struct store_req **reqs, size_t *n);
	int (*req_done)(struct store *s, int64_t id);

	int (*seq)(struct store *s, int64_t *seq);
	int (*changes_since)(struct store *s, int64_t since, size_t limit, store_change_fn fn,
			     void *arg, int64_t *last);
	int (*changed_elsewhere)(struct store *s);
	int (*changes_fd)(struct store *s);

	int (*dag_set_paused)(struct store *s, const char *dag_id, int paused);
	int (*dag_paused_all)(struct store *s, json_t **paused);
	int (*ti_stats)(struct store *s, struct store_ti_stats *out);
	int (*file_put)(struct store *s, const struct store_file *f);
	int (*file_list)(struct store *s, struct store_file **files, size_t *n);
	int (*arrival_add)(struct store *s, struct store_arrival *a, int again);
	int (*arrival_list)(struct store *s, const char *dag_id, const char *state,
			    struct store_arrival **v, size_t *n);
	int (*arrival_start)(struct store *s, struct store_arrival *a);
	int (*arrival_seen)(struct store *s, const char *dag_id, const char *rel);
	int (*delivery_add)(struct store *s, struct store_delivery *d);
	int (*delivery_list)(struct store *s, const struct store_delivery_filter *f,
			     struct store_delivery **v, size_t *n);
	int (*delivery_claim)(struct store *s, int64_t id, const char *expect,
			      const char *expect_state, const char *owner);
	int (*delivery_end)(struct store *s, const struct store_delivery *d);
	int (*schedule_fire)(struct store *s, const char *dag_id, int64_t at, json_t *params,
			     char **run_id);
	int (*schedule_last)(struct store *s, const char *dag_id, int64_t *at);
	int (*ti_counts)(struct store *s, char *const *run_ids, size_t n, store_ti_count_fn fn,
			 void *arg);
	int (*metrics_put)(struct store *s, const char *run_id, const char *task_id, int index,
			   int try_number, const char *item, const char *jsonl, size_t len, size_t *bad);
	/* conds already parsed (store.c), sort key checked: only the query is the backend's */
	int (*metrics_list)(struct store *s, const char *run_id, const struct store_metrics_query *q,
			    const struct store_metrics_cond *conds, size_t nconds, const char *sort_key,
			    int sort_desc, json_t **rows, size_t *total);
	int (*metrics_each)(struct store *s, const char *run_id, store_metrics_fn fn, void *arg);

	/* Provenance records as JSON text; store.c parses and prints them. */
	int (*prov_put)(struct store *s, const char *run_id, const char *task_id, int index,
			const char *doc);
	int (*prov_get)(struct store *s, const char *run_id, const char *task_id, int index,
			char **doc);
	int (*prov_list)(struct store *s, const char *run_id, store_prov_fn fn, void *arg);
	int (*lease_take)(struct store *s, const char *host, int pid, const char *owner_prefix,
			  int64_t ttl_ms, int64_t grace_ms, int64_t *epoch);
	int (*lease_beat)(struct store *s, int64_t epoch, const char *duties);
	int (*offer_add)(struct store *s, const struct store_offer *o);
	int (*offer_claim)(struct store *s, const char *runner, const char *host, int64_t limit,
			   struct store_offer **v, size_t *n);
	int (*offer_end)(struct store *s, const struct store_offer *o, const char *runner);
	int (*offer_kill)(struct store *s, const char *run_id, const char *task_id, int index,
			  int try_number, int kill);
	int (*offer_drop)(struct store *s, const char *run_id, const char *task_id, int index,
			  int try_number, const char *runner);
	/* by = 0: coordinator, 1: runner (running ones), 2: run_id */
	int (*offer_list)(struct store *s, int by, const char *who, struct store_offer **v,
			  size_t *n);
	int (*offer_adopt)(struct store *s, const char *run_id, const char *coordinator);
	/*
	 * Inside a transaction: held until its end, so that elections (look at
	 * every lease, then claim) happen one at a time.
	 */
	int (*lease_lock)(struct store *s);
	int (*lease_drop)(struct store *s, int64_t epoch);
	int (*lease_fence)(struct store *s, int64_t epoch);
	int (*lease_expire)(struct store *s, int64_t epoch, int64_t older_than_ms);
	int (*run_claim_queued)(struct store *s, const char *owner, int64_t limit, char ***ids,
				size_t *n);
	/* epoch 0: every lease (oldest first) into *v; else the one lease, *n 0 or 1 */
	int (*lease_list)(struct store *s, int64_t epoch, struct store_lease **v, size_t *n);

	/*
	 * Whole tables as text, for store_copy(): the names of the data tables
	 * (not the schema version's), their row counts and rows (column names
	 * and values, NULL for SQL NULL), a row loaded as it is (replacing the
	 * row with its primary key: every table has one), and load_done after
	 * the last row (PostgreSQL moves its id sequences past the loaded ids).
	 */
	int (*tables)(struct store *s, char ***names, size_t *n);
	int (*table_count)(struct store *s, const char *table, int64_t *n);
	int (*table_rows)(struct store *s, const char *table, store_row_fn fn, void *arg);
	int (*table_load)(struct store *s, const char *table, size_t ncols, const char *const *cols,
			  const char *const *vals);
	int (*load_done)(struct store *s);
};

/*
 * The lines of a metrics file for metrics_put, parsed once for every
 * backend: fn gets each JSON object line (numbered from 0) with its item
 * (the object's "item" string, else `item`); blank lines are skipped, other
 * lines counted in *bad.  fn returning non-zero stops it: -1.
 */
typedef int (*store_metrics_line_fn)(int line, const char *item, const char *text, size_t len,
				     void *arg);
int store_metrics_lines(const char *jsonl, size_t len, const char *item,
			store_metrics_line_fn fn, void *arg, size_t *bad);

/* Every backend's connection struct begins with this. */
struct store {
	const struct store_ops *ops;
	/* store_error()'s last cause and its repeats (a connection has one user thread) */
	char *err_name, *err_cause;
	unsigned err_repeats;
	int read_only; /* store_open_reader() could not open it for writing */
};

/*
 * A backend's error: prints "store 'NAME': WHAT: CAUSE" and returns -1.
 * Loops retry failed writes (the scheduler once a second while the disk is
 * full), so the same cause again is only counted; store_written() reports
 * the count once a write succeeds, store_close() if none does.
 */
int store_error(struct store *s, const char *name, const char *what, const char *cause);
/* A transaction was committed: reports and forgets the repeats of the last error. */
void store_written(struct store *s);

/* reader: store_open_reader()'s read-only open when this user cannot write path. */
struct store *store_sqlite_open(const char *path, int reader);
/*
 * The backends' tables, public so that the unit tests check every one of
 * them is complete (store_ops_check) even where no PostgreSQL server runs:
 * an op added to one backend only fails `tests/run.sh build unit` at once.
 */
extern const struct store_ops store_sqlite_ops;
#ifdef HAVE_LIBPQ
/* `url` goes to libpq as it is (postgresql://...). */
struct store *store_pg_open(const char *url);
extern const struct store_ops store_pg_ops;
#endif
/* 0 when every op of the table is set, else -1 after naming the first missing one. */
int store_ops_check(const struct store_ops *ops);

/* A new run id: UTC time and 24 random bits, "20261129T001946-3fa2c1". */
char *store_new_run_id(void);

#endif
