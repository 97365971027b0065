/*
 * The SQLite store backend.
 *
 * Durability: WAL journal with synchronous=NORMAL.  A committed transaction
 * survives the crash of any process (kill -9 of serve included); after a
 * power loss the last few transactions may be rolled back, but the database
 * is never corrupt.  Every write runs in a transaction (BEGIN IMMEDIATE, so
 * two writers queue on the busy timeout instead of failing on a lock
 * upgrade).  Statements are prepared once per connection and reused: the
 * scheduler writes tens of thousands of rows per run.
 *
 * Schema versions live in PRAGMA user_version; migrations[] holds one SQL
 * script per version, applied in order inside a transaction.
 */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-impl.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

#define BUSY_TIMEOUT_MS 30000
#define DELIVERY_COLS "id, kind, event, run_id, dag_id, task_id, idx, try, workspace, command," \
	" payload, state, owner, attempts, created_at, started_at, ended_at, exit_code, log_path, note"

static const char *const migrations[] = {
	/* 1: runs, task instances, tries, variables, requests, change sequence */
	"CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"INSERT INTO meta VALUES('seq', 0);"
	"CREATE TABLE runs(run_id TEXT PRIMARY KEY, dag_id TEXT NOT NULL, state TEXT NOT NULL,"
	" params TEXT NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0,"
	" ended_at INTEGER NOT NULL DEFAULT 0, reason TEXT, owner TEXT, seq INTEGER NOT NULL);"
	"CREATE INDEX runs_dag ON runs(dag_id, created_at);"
	"CREATE INDEX runs_created ON runs(created_at);"
	"CREATE INDEX runs_state ON runs(state);"
	"CREATE INDEX runs_seq ON runs(seq);"
	"CREATE TABLE tis(run_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" state TEXT NOT NULL, try INTEGER NOT NULL, exit_code INTEGER NOT NULL,"
	" started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, next_try_at INTEGER NOT NULL,"
	" max_tries INTEGER NOT NULL, item TEXT, reason TEXT, seq INTEGER NOT NULL, PRIMARY KEY(run_id, task_id, idx)) WITHOUT ROWID;"
	"CREATE INDEX tis_seq ON tis(seq);"
	"CREATE TABLE tries(run_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" try INTEGER NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL,"
	" exit_code INTEGER NOT NULL, log_path TEXT, pid INTEGER NOT NULL,"
	" pid_start INTEGER NOT NULL, reason TEXT,"
	" PRIMARY KEY(run_id, task_id, idx, try)) WITHOUT ROWID;"
	"CREATE TABLE vars(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE requests(id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,"
	" kind TEXT NOT NULL, task_id TEXT, downstream INTEGER NOT NULL, created_at INTEGER NOT NULL);",
	/* 2: per-DAG flags (paused), set from the web UI */
	"CREATE TABLE dag_flags(dag_id TEXT PRIMARY KEY, paused INTEGER NOT NULL) WITHOUT ROWID;",
	/* 3: per-item metrics ($SF_METRICS), one row per JSON line of a task instance */
	"CREATE TABLE metrics(run_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" line INTEGER NOT NULL, try INTEGER NOT NULL, item TEXT, data TEXT NOT NULL,"
	" PRIMARY KEY(run_id, task_id, idx, line)) WITHOUT ROWID;",
	/* 4: provenance of task instances (task_id '' = the run's own record), JSON text */
	"CREATE TABLE provenance(run_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" doc TEXT NOT NULL, PRIMARY KEY(run_id, task_id, idx)) WITHOUT ROWID;",
	/* 5: files seen in downloaded/ and what each DAG made of them (one row per identity) */
	"CREATE TABLE files(rel TEXT PRIMARY KEY, ident TEXT NOT NULL, dir INTEGER NOT NULL,"
	" state TEXT NOT NULL, seen_at INTEGER NOT NULL, note TEXT) WITHOUT ROWID;"
	"CREATE TABLE arrivals(dag_id TEXT NOT NULL, rel TEXT NOT NULL, ident TEXT NOT NULL,"
	" attempt INTEGER NOT NULL, state TEXT NOT NULL, run_id TEXT, params TEXT, note TEXT,"
	" at INTEGER NOT NULL, PRIMARY KEY(dag_id, rel, ident, attempt)) WITHOUT ROWID;"
	"CREATE INDEX arrivals_state ON arrivals(state, at);",
	/* 6: schedulers' leases; AUTOINCREMENT: an epoch is never given twice */
	"CREATE TABLE schedulers(epoch INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL,"
	" pid INTEGER NOT NULL, owner TEXT NOT NULL, started_at INTEGER NOT NULL,"
	" beat_at INTEGER NOT NULL, duties TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX runs_owner ON runs(owner);",
	/* 7: each run's variable snapshot; the history of every variable change */
	"ALTER TABLE runs ADD COLUMN vars TEXT;"
	"CREATE TABLE var_history(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,"
	" old TEXT, new TEXT, at INTEGER NOT NULL, source TEXT NOT NULL, runs TEXT);"
	"CREATE INDEX var_history_key ON var_history(key, id);",
	/* 8: the outbox of run callbacks and event scripts (store_delivery) */
	"CREATE TABLE deliveries(id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
	" event TEXT NOT NULL, run_id TEXT, dag_id TEXT, task_id TEXT, idx INTEGER NOT NULL,"
	" try INTEGER NOT NULL, workspace TEXT, command TEXT, payload TEXT NOT NULL,"
	" state TEXT NOT NULL, owner TEXT, attempts INTEGER NOT NULL, created_at INTEGER NOT NULL,"
	" started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, exit_code INTEGER NOT NULL,"
	" log_path TEXT, note TEXT);"
	"CREATE INDEX deliveries_state ON deliveries(state, id);"
	"CREATE INDEX deliveries_run ON deliveries(run_id, id);",
	/*
	 * 9: what started each run (older runs: file when an arrival made
	 * them, else manual) and the scheduled time it fired for (0: none);
	 * one row per (DAG, scheduled time), run_id NULL for a baseline
	 */
	"ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'manual';"
	"ALTER TABLE runs ADD COLUMN scheduled_for INTEGER NOT NULL DEFAULT 0;"
	"UPDATE runs SET triggered_by = 'file' WHERE run_id IN"
	" (SELECT run_id FROM arrivals WHERE run_id IS NOT NULL);"
	"CREATE TABLE schedule_fires(dag_id TEXT NOT NULL, at INTEGER NOT NULL, run_id TEXT,"
	" PRIMARY KEY(dag_id, at)) WITHOUT ROWID;",
	/*
	 * 10: a run's metrics counted (the dataset view's total) from keys
	 * only: the table's own rows hold each line's text, five times the pages
	 */
	"CREATE INDEX metrics_run ON metrics(run_id);",
	/* 11: an instance that ended by restoring its outputs from the content cache */
	"ALTER TABLE tis ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;",
	/* 12: each lease's own time to live and grace (schedulers.lease_ttl, .grace) */
	"ALTER TABLE schedulers ADD COLUMN ttl_ms INTEGER NOT NULL DEFAULT 10000;"
	"ALTER TABLE schedulers ADD COLUMN grace_ms INTEGER NOT NULL DEFAULT 5000;",
	/* 13: task instances offered to any live serve (store_offer, docs/engine.md) */
	"CREATE TABLE offers(run_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL,"
	" try INTEGER NOT NULL, coordinator TEXT NOT NULL, runner TEXT, runner_host TEXT,"
	" state INTEGER NOT NULL, status INTEGER NOT NULL, kill INTEGER NOT NULL,"
	" claimed_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, reason TEXT, spec TEXT NOT NULL,"
	" PRIMARY KEY(run_id, task_id, idx)) WITHOUT ROWID;"
	"CREATE INDEX offers_open ON offers(state, run_id, task_id, idx);"
	"CREATE INDEX offers_coordinator ON offers(coordinator);"
	"CREATE INDEX offers_runner ON offers(runner);",
};

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_NEXT_SEQ,
	ST_SEQ,
	ST_RUN_INSERT,
	ST_RUN_GET,
	ST_RUN_SET_STATE,
	ST_RUN_CLAIM,
	ST_TI_PUT,
	ST_TI_DELETE,
	ST_TI_LIST,
	ST_TRY_PUT,
	ST_TRY_LIST,
	ST_VAR_GET,
	ST_VAR_SET,
	ST_VAR_UNSET,
	ST_VAR_ALL,
	ST_VAR_HISTORY_ADD,
	ST_VAR_HISTORY,
	ST_REQ_ADD,
	ST_REQ_LIST_RUN,
	ST_REQ_LIST_ALL,
	ST_REQ_DONE,
	ST_CHANGES,
	ST_DATA_VERSION,
	ST_METRICS_DELETE,
	ST_METRICS_INSERT,
	ST_PROV_PUT,
	ST_PROV_GET,
	ST_PROV_LIST,
	ST_METRICS_EACH,
	ST_FILE_PUT,
	ST_FILE_LIST,
	ST_ARRIVAL_ATTEMPT,
	ST_ARRIVAL_INSERT,
	ST_ARRIVAL_SEEN,
	ST_ARRIVAL_LIST,
	ST_ARRIVAL_GET,
	ST_ARRIVAL_SET,
	ST_LEASE_TAKE,
	ST_LEASE_BEAT,
	ST_LEASE_DROP,
	ST_LEASE_LIST,
	ST_DELIVERY_ADD,
	ST_DELIVERY_LIST,
	ST_DELIVERY_CLAIM,
	ST_DELIVERY_END,
	ST_FIRE_INSERT,
	ST_FIRE_SET_RUN,
	ST_FIRE_LAST,
	ST_LEASE_FENCE,
	ST_LEASE_EXPIRE,
	ST_RUN_CLAIM_QUEUED,
	ST_OFFER_ADD,
	ST_OFFER_OPEN,
	ST_OFFER_TAKE,
	ST_OFFER_END,
	ST_OFFER_KILL,
	ST_OFFER_DROP,
	ST_OFFER_BY_COORDINATOR,
	ST_OFFER_BY_RUNNER,
	ST_OFFER_BY_RUN,
	ST_OFFER_ADOPT,
	ST_COUNT
};

#define RUN_COLS "run_id, dag_id, state, params, created_at, started_at, ended_at, reason, owner," \
		 " seq, vars, triggered_by, scheduled_for"

/* spec last: only a claim reads it */
#define OFFER_COLS "run_id, task_id, idx, try, coordinator, runner, runner_host, state, status," \
		   " kill, claimed_at, ended_at, reason"
#define OFFER_KEY "run_id = ?1 AND task_id = ?2 AND idx = ?3"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_METRICS_DELETE] = "DELETE FROM metrics WHERE run_id = ?1 AND task_id = ?2 AND idx = ?3",
	[ST_METRICS_INSERT] = "INSERT INTO metrics(run_id, task_id, idx, line, try, item, data)"
			      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_NEXT_SEQ] = "UPDATE meta SET v = v + 1 WHERE k = 'seq' RETURNING v",
	[ST_SEQ] = "SELECT v FROM meta WHERE k = 'seq'",
	/* The variable snapshot is taken by the insert itself: the run sees what was committed. */
	[ST_RUN_INSERT] = "INSERT INTO runs(run_id, dag_id, state, params, created_at, owner, seq, vars,"
			  " triggered_by, scheduled_for)"
			  " VALUES(?1, ?2, 'queued', ?3, ?4, ?5, ?6, coalesce(?7,"
			  " (SELECT json_group_object(key, value) FROM (SELECT key, value FROM vars"
			  " ORDER BY key))), ?8, ?9)",
	[ST_RUN_GET] = "SELECT " RUN_COLS " FROM runs WHERE run_id = ?1",
	[ST_FIRE_INSERT] = "INSERT OR IGNORE INTO schedule_fires(dag_id, at) VALUES(?1, ?2)",
	[ST_FIRE_SET_RUN] = "UPDATE schedule_fires SET run_id = ?3 WHERE dag_id = ?1 AND at = ?2",
	[ST_FIRE_LAST] = "SELECT max(at) FROM schedule_fires WHERE dag_id = ?1",
	[ST_RUN_SET_STATE] = "UPDATE runs SET state = ?2, started_at = ?3, ended_at = ?4,"
			     " reason = ?5, seq = ?6 WHERE run_id = ?1",
	[ST_RUN_CLAIM] = "UPDATE runs SET owner = ?3, seq = ?4 WHERE run_id = ?1 AND owner IS ?2",
	[ST_TI_PUT] = "INSERT OR REPLACE INTO tis(run_id, task_id, idx, state, try, exit_code,"
		      " started_at, ended_at, next_try_at, max_tries, item, reason, seq, cached)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_TI_DELETE] = "DELETE FROM tis WHERE run_id = ?1 AND task_id = ?2 AND idx = ?3",
	[ST_TI_LIST] = "SELECT task_id, idx, state, try, exit_code, started_at, ended_at,"
		       " next_try_at, max_tries, item, reason, seq, cached FROM tis WHERE run_id = ?1"
		       " ORDER BY task_id, idx",
	[ST_TRY_PUT] = "INSERT OR REPLACE INTO tries(run_id, task_id, idx, try, started_at,"
		       " ended_at, exit_code, log_path, pid, pid_start, reason)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_TRY_LIST] = "SELECT try, started_at, ended_at, exit_code, log_path, pid, pid_start,"
			" reason FROM tries WHERE run_id = ?1 AND task_id = ?2 AND idx = ?3"
			" ORDER BY try",
	[ST_VAR_GET] = "SELECT value FROM vars WHERE key = ?1",
	[ST_VAR_SET] = "INSERT OR REPLACE INTO vars(key, value) VALUES(?1, ?2)",
	[ST_VAR_UNSET] = "DELETE FROM vars WHERE key = ?1",
	[ST_VAR_ALL] = "SELECT key, value FROM vars ORDER BY key",
	[ST_VAR_HISTORY_ADD] = "INSERT INTO var_history(key, old, new, at, source, runs)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_VAR_HISTORY] = "SELECT id, key, old, new, at, source, runs FROM var_history"
			   " WHERE key = ?1 ORDER BY id",
	[ST_REQ_ADD] = "INSERT INTO requests(run_id, kind, task_id, downstream, created_at)"
		       " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_REQ_LIST_RUN] = "SELECT id, run_id, kind, task_id, downstream FROM requests"
			    " WHERE run_id = ?1 ORDER BY id",
	[ST_REQ_LIST_ALL] = "SELECT id, run_id, kind, task_id, downstream FROM requests ORDER BY id",
	[ST_REQ_DONE] = "DELETE FROM requests WHERE id = ?1",
	[ST_CHANGES] = "SELECT seq, run_id, dag_id, NULL, -1, state, 0 FROM runs WHERE seq > ?1"
		       " UNION ALL"
		       " SELECT t.seq, t.run_id, r.dag_id, t.task_id, t.idx, t.state, t.try"
		       " FROM tis t JOIN runs r ON r.run_id = t.run_id WHERE t.seq > ?1"
		       " ORDER BY 1 LIMIT ?2",
	[ST_DATA_VERSION] = "PRAGMA data_version",
	[ST_PROV_PUT] = "INSERT OR REPLACE INTO provenance(run_id, task_id, idx, doc) VALUES(?1, ?2, ?3, ?4)",
	[ST_PROV_GET] = "SELECT doc FROM provenance WHERE run_id = ?1 AND task_id = ?2 AND idx = ?3",
	[ST_PROV_LIST] = "SELECT task_id, idx, doc FROM provenance WHERE run_id = ?1 ORDER BY task_id, idx",
	[ST_METRICS_EACH] = "SELECT task_id, idx, item, data FROM metrics WHERE run_id = ?1"
			    " ORDER BY task_id, idx, line",
	[ST_FILE_PUT] = "INSERT OR REPLACE INTO files(rel, ident, dir, state, seen_at, note)"
			" VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_FILE_LIST] = "SELECT rel, ident, dir, state, seen_at, note FROM files ORDER BY rel",
	[ST_ARRIVAL_ATTEMPT] = "SELECT max(attempt) FROM arrivals WHERE dag_id = ?1 AND rel = ?2"
			       " AND ident = ?3",
	[ST_ARRIVAL_INSERT] = "INSERT INTO arrivals(dag_id, rel, ident, attempt, state, run_id,"
			      " params, at, note) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_ARRIVAL_SEEN] = "SELECT 1 FROM arrivals WHERE dag_id = ?1 AND rel = ?2 LIMIT 1",
	[ST_ARRIVAL_LIST] = "SELECT dag_id, rel, ident, attempt, state, run_id, params, at, note"
			    " FROM arrivals WHERE (?1 IS NULL OR dag_id = ?1)"
			    " AND (?2 IS NULL OR state = ?2) ORDER BY rel, dag_id, ident, attempt",
	[ST_ARRIVAL_GET] = "SELECT params FROM arrivals WHERE dag_id = ?1 AND rel = ?2"
			   " AND ident = ?3 AND attempt = ?4 AND state = 'pending'",
	[ST_ARRIVAL_SET] = "UPDATE arrivals SET state = 'run', run_id = ?5 WHERE dag_id = ?1"
			   " AND rel = ?2 AND ident = ?3 AND attempt = ?4 AND state = 'pending'",
	[ST_LEASE_TAKE] = "INSERT INTO schedulers(host, pid, owner, started_at, beat_at, ttl_ms,"
			  " grace_ms) VALUES(?1, ?2, ?3, ?4, ?4, ?5, ?6) RETURNING epoch",
	[ST_LEASE_BEAT] = "UPDATE schedulers SET beat_at = ?2, duties = ?3 WHERE epoch = ?1",
	[ST_LEASE_DROP] = "DELETE FROM schedulers WHERE epoch = ?1",
	[ST_LEASE_LIST] = "SELECT epoch, host, pid, owner, started_at, beat_at, ?1 - beat_at, duties,"
			  " (SELECT count(*) FROM runs r WHERE r.owner = l.owner"
			  " AND r.state IN ('queued', 'running')), ttl_ms, grace_ms,"
			  " (SELECT count(*) FROM offers o WHERE o.runner = l.owner AND o.state = 1)"
			  " FROM schedulers l WHERE ?2 = 0 OR epoch = ?2 ORDER BY epoch",
	[ST_DELIVERY_ADD] = "INSERT INTO deliveries(kind, event, run_id, dag_id, task_id, idx, try,"
			    " workspace, command, payload, state, owner, attempts, created_at,"
			    " started_at, ended_at, exit_code, log_path, note) VALUES(?1, ?2, ?3, ?4,"
			    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, 0, ?14, ?15, NULL, ?16)"
			    " RETURNING id",
	[ST_DELIVERY_LIST] = "SELECT * FROM (SELECT " DELIVERY_COLS " FROM deliveries"
			     " WHERE (?1 = 0 OR id = ?1) AND (?2 IS NULL OR run_id = ?2)"
			     " AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR workspace = ?4)"
			     " AND (?5 = 0 OR state IN ('pending', 'running'))"
			     " ORDER BY id DESC LIMIT ?6) ORDER BY id",
	[ST_DELIVERY_CLAIM] = "UPDATE deliveries SET owner = ?4, state = 'running',"
			      " attempts = attempts + 1, started_at = ?5, ended_at = 0, exit_code = -1"
			      " WHERE id = ?1 AND owner IS ?2 AND state = ?3",
	[ST_DELIVERY_END] = "UPDATE deliveries SET state = ?3, exit_code = ?4, ended_at = ?5,"
			    " log_path = ?6, note = ?7 WHERE id = ?1 AND owner IS ?2"
			    " AND state = 'running'",
	[ST_LEASE_FENCE] = "SELECT 1 FROM schedulers WHERE epoch = ?1",
	[ST_LEASE_EXPIRE] = "DELETE FROM schedulers WHERE epoch = ?1 AND ?3 - beat_at >= ?2",
	[ST_OFFER_ADD] = "INSERT OR REPLACE INTO offers(" OFFER_COLS ", spec) VALUES(?1, ?2, ?3, ?4,"
			 " ?5, NULL, NULL, 0, -1, 0, 0, 0, NULL, ?6)",
	[ST_OFFER_OPEN] = "SELECT " OFFER_COLS ", spec FROM offers WHERE state = 0"
			  " ORDER BY run_id, task_id, idx LIMIT ?1",
	[ST_OFFER_TAKE] = "UPDATE offers SET runner = ?4, runner_host = ?5, state = 1, claimed_at = ?6"
			  " WHERE " OFFER_KEY " AND state = 0",
	[ST_OFFER_END] = "UPDATE offers SET state = 2, status = ?6, ended_at = ?7, reason = ?8"
			 " WHERE " OFFER_KEY " AND try = ?4 AND runner = ?5 AND state = 1",
	[ST_OFFER_KILL] = "UPDATE offers SET kill = max(kill, ?5) WHERE " OFFER_KEY " AND try = ?4",
	[ST_OFFER_DROP] = "DELETE FROM offers WHERE " OFFER_KEY " AND try = ?4"
			  " AND (?5 IS NULL OR (runner = ?5 AND state = 1))",
	[ST_OFFER_BY_COORDINATOR] = "SELECT " OFFER_COLS " FROM offers WHERE coordinator = ?1"
				    " ORDER BY run_id, task_id, idx",
	[ST_OFFER_BY_RUNNER] = "SELECT " OFFER_COLS " FROM offers WHERE runner = ?1 AND state = 1"
			       " ORDER BY run_id, task_id, idx",
	[ST_OFFER_BY_RUN] = "SELECT " OFFER_COLS " FROM offers WHERE run_id = ?1"
			    " ORDER BY run_id, task_id, idx",
	[ST_OFFER_ADOPT] = "UPDATE offers SET coordinator = ?2 WHERE run_id = ?1",
	[ST_RUN_CLAIM_QUEUED] = "SELECT run_id FROM runs WHERE state = 'queued' AND owner IS NULL"
				" ORDER BY created_at, run_id LIMIT ?1",
};

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	int depth;              /* nesting of store_begin() */
	int failed;             /* a write inside the open transaction failed */
	int64_t seq;            /* this transaction's change number, 0 = not taken yet */
	int64_t data_version;
};

static struct sqlite_store *ss(struct store *s)
{
	return (struct sqlite_store *)s;
}

static int db_error(struct sqlite_store *q, const char *what)
{
	return store_error(&q->base, q->path, what, sqlite3_errmsg(q->db));
}

static sqlite3_stmt *stmt(struct sqlite_store *q, enum stmt_id id)
{
	if (!q->st[id] && sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &q->st[id], NULL) != SQLITE_OK) {
		db_error(q, "preparing a statement");
		return NULL;
	}
	return q->st[id];
}

/* Runs a statement that returns no rows (or whose rows are ignored). */
static int exec_stmt(struct sqlite_store *q, sqlite3_stmt *st, const char *what)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return db_error(q, what);
	return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? json_loads(t, 0, NULL) : NULL;
}

/*
 * The one walk over a query's rows: steps st (bound by the caller) and calls
 * row(st, arg) for each row; a nonzero return stops the walk and is
 * returned.  st is then reset with its bindings cleared, ready for its next
 * use (a statement prepared for one query is finalized by its caller).
 * A failed step is db_error(what).  st NULL (preparing failed): -1.
 */
typedef int (*row_fn)(sqlite3_stmt *st, void *arg);

static int each_row(struct sqlite_store *q, sqlite3_stmt *st, row_fn row, void *arg,
		    const char *what)
{
	int rc = SQLITE_DONE, ret = 0;

	if (!st)
		return -1;
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = row(st, arg);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (ret)
		return ret;
	return rc == SQLITE_DONE ? 0 : db_error(q, what);
}

/* How the rows of a list op become the elements of its array. */
struct row_type {
	size_t size;                                    /* of one element */
	void (*fill)(sqlite3_stmt *st, void *elem);     /* elem is zeroed */
	void (*free_list)(void *v, size_t n);           /* the store's store_X_list_free */
};

struct row_list {
	const struct row_type *t;
	char *v;
	size_t n, alloc;
};

static int list_row(sqlite3_stmt *st, void *arg)
{
	struct row_list *l = arg;
	void *elem;

	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->v = xrealloc(l->v, l->alloc * l->t->size);
	}
	elem = l->v + l->n++ * l->t->size;
	memset(elem, 0, l->t->size);
	l->t->fill(st, elem);
	return 0;
}

/*
 * each_row() into an array of t's elements: *v (malloc'd, NULL when empty)
 * and *n.  On an error nothing is returned (*v NULL, *n 0).
 */
static int list_rows(struct sqlite_store *q, sqlite3_stmt *st, const struct row_type *t, void **v,
		     size_t *n, const char *what)
{
	struct row_list l = { .t = t };
	int ret = each_row(q, st, list_row, &l, what);

	if (ret) {
		t->free_list(l.v, l.n);
		l.v = NULL;
		l.n = 0;
	}
	*v = l.v;
	*n = l.n;
	return ret;
}

static int sq_begin(struct store *s)
{
	struct sqlite_store *q = ss(s);
	if (q->depth++)
		return 0;
	q->failed = 0;
	q->seq = 0;
	if (exec_stmt(q, stmt(q, ST_BEGIN), "starting a transaction") < 0) {
		q->depth = 0;
		return -1;
	}
	return 0;
}

static void sq_rollback(struct store *s)
{
	struct sqlite_store *q = ss(s);
	if (!q->depth)
		return;
	if (--q->depth) {
		q->failed = 1; /* the outermost commit must not keep a partial batch */
		return;
	}
	if (sqlite3_get_autocommit(q->db) == 0)
		exec_stmt(q, stmt(q, ST_ROLLBACK), "rolling back");
	q->seq = 0;
}

static int sq_commit(struct store *s)
{
	struct sqlite_store *q = ss(s);
	if (!q->depth)
		BUG("store_commit without store_begin");
	if (--q->depth)
		return 0;
	q->seq = 0;
	if (q->failed) {
		q->depth = 1;
		sq_rollback(s);
		return error("store '%s': transaction rolled back after an earlier error", q->path);
	}
	if (exec_stmt(q, stmt(q, ST_COMMIT), "committing") < 0) {
		q->depth = 1;
		sq_rollback(s);
		return -1;
	}
	store_written(s);
	return 0;
}

/* The change number of the open transaction, taken on its first write. */
static int64_t cur_seq(struct sqlite_store *q)
{
	sqlite3_stmt *st;
	if (q->seq)
		return q->seq;
	st = stmt(q, ST_NEXT_SEQ);
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		q->seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (!q->seq) {
		db_error(q, "taking a change number");
		return -1;
	}
	return q->seq;
}

/*
 * Every write goes through here: the statement runs inside the caller's
 * transaction, or in one of its own.
 */
static int write_stmt(struct sqlite_store *q, sqlite3_stmt *st, const char *what)
{
	int ret;
	if (sq_begin(&q->base) < 0) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	ret = exec_stmt(q, st, what);
	if (ret < 0) {
		sq_rollback(&q->base);
		return -1;
	}
	return sq_commit(&q->base);
}

static int read_version(struct sqlite_store *q, int *version)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_error(q, "reading the schema version");
	if (sqlite3_step(st) != SQLITE_ROW) {
		/* not 0: inside the migration lock that would migrate a store again */
		db_error(q, "reading the schema version");
		sqlite3_finalize(st);
		return -1;
	}
	*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/*
 * Switches a store to WAL.  With several processes opening a new store at
 * once (twenty `vars set` from a script), this can answer SQLITE_BUSY at
 * once, without the busy timeout's wait (seen 2 times in 250 such rounds;
 * SQLite skips its busy handler where waiting could deadlock, which is the
 * likely case here, not proven).  Tried again after a short random pause,
 * for as long as the busy timeout.
 */
static int set_wal(struct sqlite_store *q)
{
	int64_t until = time_mono_ms() + BUSY_TIMEOUT_MS;
	unsigned seed = (unsigned)getpid();
	int rc;

	while ((rc = sqlite3_exec(q->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) == SQLITE_BUSY &&
	       time_mono_ms() < until)
		usleep(1000 + rand_r(&seed) % 20000);
	return rc;
}

/* Inside one write transaction, so two processes opening a new store never both migrate. */
static int migrate(struct sqlite_store *q)
{
	int version = 0;
	char *msg = NULL;

	if (read_version(q, &version) < 0)
		return -1;
	if (version == (int)ARRAY_SIZE(migrations))
		return 0;
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(q, "locking for a schema migration");
	if (read_version(q, &version) < 0)
		goto fail;
	if (version > (int)ARRAY_SIZE(migrations)) {
		error("store '%s' has schema version %d, newer than this synthflow knows (%d)",
		      q->path, version, (int)ARRAY_SIZE(migrations));
		goto fail;
	}
	for (; version < (int)ARRAY_SIZE(migrations); version++) {
		char *sql = xasprintf("%s PRAGMA user_version = %d;", migrations[version], version + 1);
		int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
		free(sql);
		if (rc != SQLITE_OK) {
			error("store '%s': migrating to schema version %d: %s", q->path, version + 1,
			      msg ? msg : "unknown error");
			sqlite3_free(msg);
			goto fail;
		}
	}
	if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_error(q, "committing a schema migration");
		goto fail;
	}
	return 0;
fail:
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}


static void sq_close(struct store *s)
{
	struct sqlite_store *q = ss(s);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q->path);
	free(q);
}

/* path's folder, malloc'd ("." for a bare name). */
static char *folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
}

/*
 * Whether this user may write the store: the file (or, when it does not
 * exist yet, its creation) and its folder, where SQLite keeps the -wal and
 * -shm files.  A read-only mount answers EROFS, so root is covered too.
 */
static int can_write(const char *path)
{
	char *dir = folder_of(path);
	int ok = access(dir, W_OK) == 0 && (access(path, W_OK) == 0 || errno == ENOENT);
	int e = errno;

	free(dir);
	errno = e; /* why not, for the caller's message */
	return ok;
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* The "file:" URI of path ('?', '#' and '%' escaped) with its query. */
static char *file_uri(const char *path, const char *query)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "file:");
	for (const char *p = path; *p; p++) {
		if (*p == '?' || *p == '#' || *p == '%')
			sb_addf(&sb, "%%%02X", (unsigned char)*p);
		else
			sb_add(&sb, p, 1);
	}
	sb_addf(&sb, "?%s", query);
	return sb_detach(&sb, NULL);
}

/*
 * A store this user cannot write, opened read-only.  A WAL database is read
 * through its -shm file, which only a writer can create: while a writer has
 * it open, both files exist and are shared; when none exist, the last writer
 * closed the database cleanly (everything is in the main file) and nobody
 * who could write it is using it now, so it is read as immutable.  A store
 * that does not exist yet reads as empty (an in-memory schema).
 */
static int open_read_only(struct sqlite_store *q)
{
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
	char *dir = folder_of(q->path), *wal = xasprintf("%s-wal", q->path);
	char *shm = xasprintf("%s-shm", q->path), *uri;
	int version = 0, ret = 0;

	if (!file_exists(q->path))
		uri = xstrdup(":memory:");
	else if (access(dir, W_OK) < 0 && !(file_exists(wal) && file_exists(shm)))
		uri = file_uri(q->path, "mode=ro&immutable=1");
	else
		uri = file_uri(q->path, "mode=ro");
	q->base.read_only = 1;
	if (!strcmp(uri, ":memory:"))
		flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(uri, &q->db, flags, NULL) != SQLITE_OK) {
		ret = error("cannot open store '%s' read-only: %s", q->path,
			    q->db ? sqlite3_errmsg(q->db) : "out of memory");
	} else {
		sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
		sqlite3_extended_result_codes(q->db, 1);
		if (!strcmp(uri, ":memory:")) {
			if (migrate(q) < 0 ||
			    sqlite3_exec(q->db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK)
				ret = -1;
		} else if (read_version(q, &version) < 0) {
			ret = -1;
		} else if (version != (int)ARRAY_SIZE(migrations)) {
			ret = error("store '%s' has schema version %d and this synthflow uses %d; it "
				    "cannot be migrated while this user cannot write it",
				    q->path, version, (int)ARRAY_SIZE(migrations));
		}
	}
	free(dir);
	free(wal);
	free(shm);
	free(uri);
	return ret;
}

struct store *store_sqlite_open(const char *path, int reader)
{
	struct sqlite_store *q = xcalloc(1, sizeof(*q));
	char *dir = folder_of(path);

	q->base.ops = &store_sqlite_ops;
	q->path = xstrdup(path);
	if (reader && !can_write(path)) {
		free(dir);
		if (open_read_only(q) < 0) {
			store_close(&q->base);
			return NULL;
		}
		q->data_version = -1;
		return &q->base;
	}
	if (mkdir_p(dir, 0755) < 0)
		error_errno("cannot create '%s'", dir);
	free(dir);
	if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		error("cannot open store '%s': %s", path, q->db ? sqlite3_errmsg(q->db) : "out of memory");
		sq_close(&q->base);
		return NULL;
	}
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(q->db, 1);
	if (set_wal(q) != SQLITE_OK ||
	    sqlite3_exec(q->db,
			 "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    migrate(q) < 0) {
		if (!can_write(path))
			error_errno("cannot open store '%s' for writing; commands that only read it "
				    "(runs list, runs show, tasks logs) still work", path);
		else if (sqlite3_errcode(q->db) != SQLITE_OK)
			db_error(q, "opening");
		store_close(&q->base); /* also the error store_error() kept */
		return NULL;
	}
	q->data_version = -1;
	return &q->base;
}

/* ---- runs ---- */

/*
 * Inserts a queued run inside the open transaction.  24 random bits per
 * second: a colliding id fails only its own statement (SQLite keeps the
 * transaction), so the next try takes a fresh id.
 */
static int insert_run(struct sqlite_store *q, const char *dag_id, const char *params_text,
		      const char *vars_text, const char *owner, const char *trigger,
		      int64_t scheduled_for, char **run_id)
{
	int64_t seq = cur_seq(q);

	if (seq < 0)
		return -1;
	for (int attempt = 0; attempt < 8; attempt++) {
		sqlite3_stmt *st = stmt(q, ST_RUN_INSERT);
		char *id = store_new_run_id();
		int rc;

		if (!st) {
			free(id);
			return -1;
		}
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, dag_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, params_text ? params_text : "{}", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, time_now_ms());
		bind_text(st, 5, owner);
		sqlite3_bind_int64(st, 6, seq);
		bind_text(st, 7, vars_text);
		sqlite3_bind_text(st, 8, trigger, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 9, scheduled_for);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc == SQLITE_DONE) {
			*run_id = id;
			return 0;
		}
		free(id);
		if (rc != SQLITE_CONSTRAINT_PRIMARYKEY)
			return db_error(q, "creating a run");
	}
	return error("store '%s': no free run id after 8 tries", q->path);
}

static int sq_run_create(struct store *s, const char *dag_id, json_t *params, json_t *vars,
			 const char *owner, const char *trigger, char **run_id)
{
	struct sqlite_store *q = ss(s);
	char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
	char *vtext = vars ? json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int ret;

	if (sq_begin(s) < 0) {
		free(text);
		free(vtext);
		return -1;
	}
	ret = insert_run(q, dag_id, text, vtext, owner, trigger, 0, run_id);
	free(text);
	free(vtext);
	if (ret < 0) {
		sq_rollback(s);
		return -1;
	}
	if (sq_commit(s) < 0) {
		free(*run_id);
		*run_id = NULL;
		return -1;
	}
	return 0;
}

static void run_from_row(sqlite3_stmt *st, struct store_run *r)
{
	const char *params = (const char *)sqlite3_column_text(st, 3);
	enum run_state state = RUN_FAILED;

	memset(r, 0, sizeof(*r));
	r->run_id = col_strdup(st, 0);
	r->dag_id = col_strdup(st, 1);
	run_state_parse((const char *)sqlite3_column_text(st, 2), &state);
	r->state = state;
	r->params = params ? json_loads(params, 0, NULL) : NULL;
	if (!r->params)
		r->params = json_object();
	r->created_at = sqlite3_column_int64(st, 4);
	r->started_at = sqlite3_column_int64(st, 5);
	r->ended_at = sqlite3_column_int64(st, 6);
	r->reason = col_strdup(st, 7);
	r->owner = col_strdup(st, 8);
	r->seq = sqlite3_column_int64(st, 9);
	r->vars = sqlite3_column_type(st, 10) == SQLITE_NULL ? NULL :
		json_loads((const char *)sqlite3_column_text(st, 10), 0, NULL);
	r->trigger = col_strdup(st, 11);
	r->scheduled_for = sqlite3_column_int64(st, 12);
}

static void fill_run(sqlite3_stmt *st, void *elem)
{
	run_from_row(st, elem);
}

static void free_runs(void *v, size_t n)
{
	store_run_list_free(v, n);
}

static const struct row_type run_rows = { sizeof(struct store_run), fill_run, free_runs };

static int sq_run_get(struct store *s, const char *run_id, struct store_run *out)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_RUN_GET);
	int rc, ret;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		run_from_row(st, out);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = STORE_NOT_FOUND;
	} else {
		ret = db_error(q, "reading a run");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

/* The WHERE clause of a run filter; filter_bind binds its values in the same order. */
static void filter_sql(const struct store_run_filter *f, struct strbuf *sb)
{
	sb_adds(sb, " WHERE 1");
	if (f->dag_id)
		sb_adds(sb, " AND dag_id = ?");
	if (f->trigger)
		sb_adds(sb, " AND triggered_by = ?");
	if (f->states) {
		const char *sep = "";
		sb_adds(sb, " AND state IN (");
		for (int i = 0; i < RUN_NSTATES; i++)
			if (f->states & (1u << i)) {
				sb_addf(sb, "%s'%s'", sep, run_state_name((enum run_state)i));
				sep = ", ";
			}
		sb_adds(sb, ")");
	}
}

static void filter_bind(sqlite3_stmt *st, const struct store_run_filter *f)
{
	int i = 1;

	if (f->dag_id)
		sqlite3_bind_text(st, i++, f->dag_id, -1, SQLITE_TRANSIENT);
	if (f->trigger)
		sqlite3_bind_text(st, i, f->trigger, -1, SQLITE_TRANSIENT);
}

static int count_runs(struct sqlite_store *q, const struct store_run_filter *f, size_t *total)
{
	struct strbuf sql = STRBUF_INIT;
	sqlite3_stmt *st;
	int ret = 0;

	sb_adds(&sql, "SELECT count(*) FROM runs");
	filter_sql(f, &sql);
	if (sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL) != SQLITE_OK) {
		sb_release(&sql);
		return db_error(q, "counting runs");
	}
	filter_bind(st, f);
	if (sqlite3_step(st) == SQLITE_ROW)
		*total = (size_t)sqlite3_column_int64(st, 0);
	else
		ret = db_error(q, "counting runs");
	sqlite3_finalize(st);
	sb_release(&sql);
	return ret;
}

static int sq_run_list(struct store *s, const struct store_run_filter *f, struct store_run **runs,
		       size_t *n, size_t *total)
{
	struct sqlite_store *q = ss(s);
	struct strbuf sql = STRBUF_INIT;
	sqlite3_stmt *st;
	void *v;
	int ret;

	*runs = NULL;
	*n = 0;
	if (total && count_runs(q, f, total) < 0)
		return -1;
	sb_adds(&sql, "SELECT " RUN_COLS " FROM runs");
	filter_sql(f, &sql);
	sb_addf(&sql, " ORDER BY created_at DESC, run_id DESC LIMIT %lld OFFSET %lld",
		f->limit ? (long long)f->limit : -1LL, (long long)f->offset);
	if (sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL) != SQLITE_OK) {
		sb_release(&sql);
		return db_error(q, "listing runs");
	}
	sb_release(&sql);
	filter_bind(st, f);
	ret = list_rows(q, st, &run_rows, &v, n, "listing runs");
	*runs = v;
	sqlite3_finalize(st);
	return ret;
}

static int sq_run_set_state(struct store *s, const char *run_id, enum run_state state,
			    int64_t started_at, int64_t ended_at, const char *reason)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_RUN_SET_STATE);
	int64_t seq;

	if (!st || sq_begin(s) < 0)
		return -1;
	if ((seq = cur_seq(q)) < 0) {
		sq_rollback(s);
		return -1;
	}
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, run_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, started_at);
	sqlite3_bind_int64(st, 4, ended_at);
	bind_text(st, 5, reason);
	sqlite3_bind_int64(st, 6, seq);
	if (write_stmt(q, st, "setting a run's state") < 0) {
		sq_rollback(s);
		return -1;
	}
	return sq_commit(s);
}

static int sq_run_claim(struct store *s, const char *run_id, const char *expect, const char *owner)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_RUN_CLAIM);
	int64_t seq;
	int changed;

	if (!st || sq_begin(s) < 0)
		return -1;
	if ((seq = cur_seq(q)) < 0) {
		sq_rollback(s);
		return -1;
	}
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	bind_text(st, 2, expect);
	bind_text(st, 3, owner);
	sqlite3_bind_int64(st, 4, seq);
	if (exec_stmt(q, st, "claiming a run") < 0) {
		sq_rollback(s);
		return -1;
	}
	changed = sqlite3_changes(q->db);
	if (sq_commit(s) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

/* ---- task instances ---- */

static int sq_ti_put(struct store *s, const char *run_id, const struct store_ti *ti)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_TI_PUT);
	int64_t seq;

	if (!st || sq_begin(s) < 0)
		return -1;
	if ((seq = cur_seq(q)) < 0) {
		sq_rollback(s);
		return -1;
	}
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, ti->task_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, ti->index);
	sqlite3_bind_text(st, 4, ti_state_name(ti->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, ti->try_number);
	sqlite3_bind_int(st, 6, ti->exit_code);
	sqlite3_bind_int64(st, 7, ti->started_at);
	sqlite3_bind_int64(st, 8, ti->ended_at);
	sqlite3_bind_int64(st, 9, ti->next_try_at);
	sqlite3_bind_int(st, 10, ti->max_tries);
	bind_text(st, 11, ti->item);
	bind_text(st, 12, ti->reason);
	sqlite3_bind_int64(st, 13, seq);
	sqlite3_bind_int(st, 14, ti->cached);
	if (write_stmt(q, st, "writing a task instance") < 0) {
		sq_rollback(s);
		return -1;
	}
	return sq_commit(s);
}

static int sq_ti_delete(struct store *s, const char *run_id, const char *task_id, int index)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_TI_DELETE);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, task_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, index);
	return write_stmt(q, st, "deleting a task instance");
}

static void fill_ti(sqlite3_stmt *st, void *elem)
{
	struct store_ti *ti = elem;
	enum ti_state state = TI_FAILED;

	ti->task_id = col_strdup(st, 0);
	ti->index = sqlite3_column_int(st, 1);
	ti_state_parse((const char *)sqlite3_column_text(st, 2), &state);
	ti->state = state;
	ti->try_number = sqlite3_column_int(st, 3);
	ti->exit_code = sqlite3_column_int(st, 4);
	ti->started_at = sqlite3_column_int64(st, 5);
	ti->ended_at = sqlite3_column_int64(st, 6);
	ti->next_try_at = sqlite3_column_int64(st, 7);
	ti->max_tries = sqlite3_column_int(st, 8);
	ti->item = col_strdup(st, 9);
	ti->reason = col_strdup(st, 10);
	ti->seq = sqlite3_column_int64(st, 11);
	ti->cached = sqlite3_column_int(st, 12);
}

static void free_tis(void *v, size_t n)
{
	store_ti_list_free(v, n);
}

static const struct row_type ti_rows = { sizeof(struct store_ti), fill_ti, free_tis };

static int sq_ti_list(struct store *s, const char *run_id, struct store_ti **tis, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_TI_LIST);
	void *v;
	int ret;

	if (st)
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	ret = list_rows(q, st, &ti_rows, &v, n, "listing task instances");
	*tis = v;
	return ret;
}

/* ---- tries ---- */

static int sq_try_put(struct store *s, const char *run_id, const char *task_id, int index,
		      const struct store_try *t)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_TRY_PUT);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, task_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, index);
	sqlite3_bind_int(st, 4, t->try_number);
	sqlite3_bind_int64(st, 5, t->started_at);
	sqlite3_bind_int64(st, 6, t->ended_at);
	sqlite3_bind_int(st, 7, t->exit_code);
	bind_text(st, 8, t->log_path);
	sqlite3_bind_int64(st, 9, t->pid);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)t->pid_start);
	bind_text(st, 11, t->reason);
	return write_stmt(q, st, "writing a try");
}

static void fill_try(sqlite3_stmt *st, void *elem)
{
	struct store_try *t = elem;

	t->try_number = sqlite3_column_int(st, 0);
	t->started_at = sqlite3_column_int64(st, 1);
	t->ended_at = sqlite3_column_int64(st, 2);
	t->exit_code = sqlite3_column_int(st, 3);
	t->log_path = col_strdup(st, 4);
	t->pid = (pid_t)sqlite3_column_int64(st, 5);
	t->pid_start = (uint64_t)sqlite3_column_int64(st, 6);
	t->reason = col_strdup(st, 7);
}

static void free_tries(void *v, size_t n)
{
	store_try_list_free(v, n);
}

static const struct row_type try_rows = { sizeof(struct store_try), fill_try, free_tries };

static int sq_try_list(struct store *s, const char *run_id, const char *task_id, int index,
		       struct store_try **tries, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_TRY_LIST);
	void *v;
	int ret;

	if (st) {
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, task_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, index);
	}
	ret = list_rows(q, st, &try_rows, &v, n, "listing tries");
	*tries = v;
	return ret;
}

/* ---- variables ---- */

static int sq_var_get(struct store *s, const char *key, char **value)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_VAR_GET);
	int rc, ret;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*value = col_strdup(st, 0);
		ret = 0;
	} else {
		ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : db_error(q, "reading a variable");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static int sq_var_set(struct store *s, const char *key, const char *value)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_VAR_SET);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	return write_stmt(q, st, "setting a variable");
}

static int sq_var_unset(struct store *s, const char *key)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_VAR_UNSET);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (write_stmt(q, st, "unsetting a variable") < 0)
		return -1;
	return sqlite3_changes(q->db) ? 0 : STORE_NOT_FOUND;
}

static int var_row(sqlite3_stmt *st, void *arg)
{
	json_object_set_new(arg, (const char *)sqlite3_column_text(st, 0),
			    json_string((const char *)sqlite3_column_text(st, 1)));
	return 0;
}

static int sq_var_all(struct store *s, json_t **vars)
{
	struct sqlite_store *q = ss(s);

	*vars = json_object();
	if (each_row(q, stmt(q, ST_VAR_ALL), var_row, *vars, "listing variables")) {
		json_decref(*vars);
		*vars = NULL;
		return -1;
	}
	return 0;
}

static int sq_var_history_add(struct store *s, const struct store_var_change *c)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_VAR_HISTORY_ADD);
	char *runs = c->runs ? json_dumps(c->runs, JSON_COMPACT) : NULL;
	int ret;

	if (!st) {
		free(runs);
		return -1;
	}
	bind_text(st, 1, c->key);
	bind_text(st, 2, c->old_value);
	bind_text(st, 3, c->new_value);
	sqlite3_bind_int64(st, 4, c->at);
	bind_text(st, 5, c->source);
	bind_text(st, 6, runs);
	ret = write_stmt(q, st, "recording a variable change");
	free(runs);
	return ret;
}

static void fill_var_change(sqlite3_stmt *st, void *elem)
{
	struct store_var_change *c = elem;

	c->id = sqlite3_column_int64(st, 0);
	c->key = col_strdup(st, 1);
	c->old_value = col_strdup(st, 2);
	c->new_value = col_strdup(st, 3);
	c->at = sqlite3_column_int64(st, 4);
	c->source = col_strdup(st, 5);
	c->runs = col_json(st, 6);
}

static void free_var_changes(void *v, size_t n)
{
	store_var_history_free(v, n);
}

static const struct row_type var_change_rows = {
	sizeof(struct store_var_change), fill_var_change, free_var_changes
};

static int sq_var_history(struct store *s, const char *key, struct store_var_change **v, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_VAR_HISTORY);
	void *list;
	int ret;

	if (st)
		bind_text(st, 1, key);
	ret = list_rows(q, st, &var_change_rows, &list, n, "reading a variable's history");
	*v = list;
	return ret;
}

/* ---- provenance ---- */

static int sq_prov_put(struct store *s, const char *run_id, const char *task_id, int index,
		       const char *doc)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_PROV_PUT);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, task_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, index);
	sqlite3_bind_text(st, 4, doc, -1, SQLITE_TRANSIENT);
	return write_stmt(q, st, "writing provenance");
}

static int sq_prov_get(struct store *s, const char *run_id, const char *task_id, int index,
		       char **doc)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_PROV_GET);
	int rc, ret;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, task_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, index);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*doc = col_strdup(st, 0);
		ret = 0;
	} else {
		ret = rc == SQLITE_DONE ? STORE_NOT_FOUND : db_error(q, "reading provenance");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

struct prov_walk {
	store_prov_fn fn;
	void *arg;
};

static int prov_row(sqlite3_stmt *st, void *arg)
{
	struct prov_walk *w = arg;
	return w->fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
		     (const char *)sqlite3_column_text(st, 2), w->arg);
}

static int sq_prov_list(struct store *s, const char *run_id, store_prov_fn fn, void *arg)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_PROV_LIST);
	struct prov_walk w = { fn, arg };

	if (st)
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	return each_row(q, st, prov_row, &w, "listing provenance");
}

/* ---- requests ---- */

static int sq_req_add(struct store *s, const char *run_id, enum store_req_kind kind,
		      const char *task_id, int downstream)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_REQ_ADD);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, kind == REQ_CANCEL ? "cancel" : "clear", -1, SQLITE_STATIC);
	bind_text(st, 3, task_id);
	sqlite3_bind_int(st, 4, downstream);
	sqlite3_bind_int64(st, 5, time_now_ms());
	return write_stmt(q, st, "adding a request");
}

static void fill_req(sqlite3_stmt *st, void *elem)
{
	struct store_req *r = elem;

	r->id = sqlite3_column_int64(st, 0);
	r->run_id = col_strdup(st, 1);
	r->kind = strcmp((const char *)sqlite3_column_text(st, 2), "cancel") ? REQ_CLEAR : REQ_CANCEL;
	r->task_id = col_strdup(st, 3);
	r->downstream = sqlite3_column_int(st, 4);
}

static void free_reqs(void *v, size_t n)
{
	store_req_list_free(v, n);
}

static const struct row_type req_rows = { sizeof(struct store_req), fill_req, free_reqs };

static int sq_req_list(struct store *s, const char *run_id, struct store_req **reqs, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, run_id ? ST_REQ_LIST_RUN : ST_REQ_LIST_ALL);
	void *v;
	int ret;

	if (st && run_id)
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	ret = list_rows(q, st, &req_rows, &v, n, "listing requests");
	*reqs = v;
	return ret;
}

static int sq_req_done(struct store *s, int64_t id)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_REQ_DONE);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return write_stmt(q, st, "removing a request");
}

/* ---- changes ---- */

static int sq_seq(struct store *s, int64_t *seq)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_SEQ);
	int rc;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	*seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_error(q, "reading the change number");
}

struct change_walk {
	store_change_fn fn;
	void *arg;
	int64_t *last;
};

static int change_row(sqlite3_stmt *st, void *arg)
{
	struct change_walk *w = arg;
	struct store_change c = {
		.seq = sqlite3_column_int64(st, 0),
		.run_id = (const char *)sqlite3_column_text(st, 1),
		.dag_id = (const char *)sqlite3_column_text(st, 2),
		.task_id = (const char *)sqlite3_column_text(st, 3),
		.index = sqlite3_column_int(st, 4),
		.state = (const char *)sqlite3_column_text(st, 5),
		.try_number = sqlite3_column_int(st, 6),
	};

	if (w->last)
		*w->last = c.seq;
	return w->fn(&c, w->arg) ? 1 : 0; /* 1: the caller has seen enough */
}

static int sq_changes_since(struct store *s, int64_t since, size_t limit, store_change_fn fn,
			    void *arg, int64_t *last)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_CHANGES);
	struct change_walk w = { fn, arg, last };
	int ret;

	if (st) {
		sqlite3_bind_int64(st, 1, since);
		sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : -1);
	}
	ret = each_row(q, st, change_row, &w, "reading changes");
	return ret > 0 ? 0 : ret;
}

static int sq_changed_elsewhere(struct store *s)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_DATA_VERSION);
	int64_t v = -1;
	int changed;

	if (!st)
		return 1; /* when in doubt, make the caller look */
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	changed = v != q->data_version;
	q->data_version = v;
	return changed;
}

static int sq_changes_fd(struct store *s)
{
	return -1;
}

/* ---- DAG flags and statistics (rare calls: statements are not kept) ---- */

static int sq_dag_set_paused(struct store *s, const char *dag_id, int paused)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(q->db, "INSERT OR REPLACE INTO dag_flags(dag_id, paused) VALUES(?1, ?2)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(q, "preparing a statement");
	sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, !!paused);
	if (write_stmt(q, st, "pausing a DAG") < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

static int paused_row(sqlite3_stmt *st, void *arg)
{
	json_object_set_new(arg, (const char *)sqlite3_column_text(st, 0), json_true());
	return 0;
}

static int sq_dag_paused_all(struct store *s, json_t **paused)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st;
	int ret;

	if (sqlite3_prepare_v2(q->db, "SELECT dag_id FROM dag_flags WHERE paused", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_error(q, "preparing a statement");
	*paused = json_object();
	ret = each_row(q, st, paused_row, *paused, "reading paused DAGs");
	sqlite3_finalize(st);
	if (ret) {
		json_decref(*paused);
		*paused = NULL;
	}
	return ret;
}

static int state_count_row(sqlite3_stmt *st, void *arg)
{
	struct store_ti_stats *out = arg;
	enum ti_state t;

	if (ti_state_parse((const char *)sqlite3_column_text(st, 0), &t) == 0)
		out->by_state[t] = (uint64_t)sqlite3_column_int64(st, 1);
	return 0;
}

static int ti_counts(struct sqlite_store *q, struct store_ti_stats *out)
{
	sqlite3_stmt *st;
	int ret;

	if (sqlite3_prepare_v2(q->db, "SELECT state, count(*) FROM tis GROUP BY state", -1, &st,
			       NULL) != SQLITE_OK)
		return db_error(q, "preparing a statement");
	ret = each_row(q, st, state_count_row, out, "counting task instances");
	sqlite3_finalize(st);
	return ret;
}

static int try_durations(struct sqlite_store *q, struct store_ti_stats *out)
{
	struct strbuf sql = STRBUF_INIT;
	sqlite3_stmt *st;
	int rc;

	sb_adds(&sql, "SELECT count(*), total(ended_at - started_at)");
	for (size_t b = 0; b < STORE_DURATION_BUCKETS; b++)
		sb_addf(&sql, ", total(ended_at - started_at <= %lld)",
			(long long)store_duration_bucket_ms[b]);
	sb_adds(&sql, " FROM tries WHERE ended_at > 0");
	rc = sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL);
	sb_release(&sql);
	if (rc != SQLITE_OK)
		return db_error(q, "preparing a statement");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->duration_count = (uint64_t)sqlite3_column_int64(st, 0);
		out->duration_sum_ms = sqlite3_column_double(st, 1);
		for (int b = 0; b < STORE_DURATION_BUCKETS; b++)
			out->duration_le[b] = (uint64_t)sqlite3_column_double(st, 2 + b);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_error(q, "summing task durations");
}

static int sq_ti_stats(struct store *s, struct store_ti_stats *out)
{
	struct sqlite_store *q = ss(s);
	return ti_counts(q, out) < 0 || try_durations(q, out) < 0 ? -1 : 0;
}

struct ti_count_walk {
	store_ti_count_fn fn;
	void *arg;
};

static int ti_count_row(sqlite3_stmt *st, void *arg)
{
	struct ti_count_walk *w = arg;
	struct store_ti_count c = {
		.run_id = (const char *)sqlite3_column_text(st, 0),
		.task_id = (const char *)sqlite3_column_text(st, 1),
		.foreach = sqlite3_column_int(st, 2),
		.n = (size_t)sqlite3_column_int64(st, 4),
	};

	if (ti_state_parse((const char *)sqlite3_column_text(st, 3), &c.state) == 0)
		w->fn(&c, w->arg);
	return 0;
}

static int sq_ti_counts(struct store *s, char *const *run_ids, size_t n, store_ti_count_fn fn,
			void *arg)
{
	struct sqlite_store *q = ss(s);
	struct strbuf sql = STRBUF_INIT;
	struct ti_count_walk w = { fn, arg };
	sqlite3_stmt *st;
	int rc;

	sb_adds(&sql, "SELECT run_id, task_id, idx >= 0, state, count(*) FROM tis WHERE run_id IN (");
	for (size_t i = 0; i < n; i++)
		sb_adds(&sql, i ? ", ?" : "?");
	sb_adds(&sql, ") GROUP BY run_id, task_id, idx >= 0, state");
	rc = sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL);
	sb_release(&sql);
	if (rc != SQLITE_OK)
		return db_error(q, "preparing a statement");
	for (size_t i = 0; i < n; i++)
		sqlite3_bind_text(st, (int)i + 1, run_ids[i], -1, SQLITE_STATIC);
	rc = each_row(q, st, ti_count_row, &w, "counting task instances");
	sqlite3_finalize(st);
	return rc;
}

/* ---- per-item metrics ---- */

struct metrics_row {
	struct sqlite_store *q;
	sqlite3_stmt *ins;
	const char *run_id, *task_id;
	int index, try_number;
};

static int metrics_row_put(int line, const char *item, const char *text, size_t len, void *arg)
{
	struct metrics_row *m = arg;
	sqlite3_bind_text(m->ins, 1, m->run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(m->ins, 2, m->task_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(m->ins, 3, m->index);
	sqlite3_bind_int(m->ins, 4, line);
	sqlite3_bind_int(m->ins, 5, m->try_number);
	bind_text(m->ins, 6, item);
	sqlite3_bind_text(m->ins, 7, text, (int)len, SQLITE_STATIC);
	return write_stmt(m->q, m->ins, "writing metrics") < 0 ? -1 : 0;
}

static int sq_metrics_put(struct store *s, const char *run_id, const char *task_id, int index,
			  int try_number, const char *item, const char *jsonl, size_t len, size_t *bad)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *del = stmt(q, ST_METRICS_DELETE);
	struct metrics_row m = { q, stmt(q, ST_METRICS_INSERT), run_id, task_id, index, try_number };

	*bad = 0;
	if (!del || !m.ins || sq_begin(s) < 0)
		return -1;
	sqlite3_bind_text(del, 1, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(del, 2, task_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(del, 3, index);
	if (write_stmt(q, del, "replacing metrics") < 0 ||
	    store_metrics_lines(jsonl, len, item, metrics_row_put, &m, bad) < 0) {
		sq_rollback(s);
		return -1;
	}
	return sq_commit(s);
}

/* The SQL for a key: a column, or the metric out of the JSON (path bound as a parameter). */
static const char *metric_column(const char *key)
{
	if (!strcmp(key, "item"))
		return "item";
	if (!strcmp(key, "task"))
		return "task_id";
	if (!strcmp(key, "index"))
		return "idx";
	return NULL;
}

static void metrics_where(struct strbuf *sql, const struct store_metrics_query *mq,
			  const struct store_metrics_cond *conds, size_t n)
{
	static const char *const op_sql[] = {
		[SMO_EQ] = "=", [SMO_NE] = "!=", [SMO_LT] = "<", [SMO_LE] = "<=",
		[SMO_GT] = ">", [SMO_GE] = ">=",
	};

	sb_adds(sql, " FROM metrics WHERE run_id = ?");
	if (mq->task_id)
		sb_adds(sql, " AND task_id = ?");
	for (size_t i = 0; i < n; i++) {
		const char *col = metric_column(conds[i].key);
		const char *x = col ? col : "json_extract(data, ?)";
		if (conds[i].op == SMO_CONTAINS) {
			sb_addf(sql, " AND instr(lower(CAST(%s AS TEXT)), lower(?)) > 0", x);
		} else if (conds[i].is_number && conds[i].op != SMO_EQ && conds[i].op != SMO_NE) {
			/* numbers against numbers only: SQLite orders any text above every number */
			sb_addf(sql, " AND typeof(%s) IN ('integer', 'real') AND %s %s ?", x, x,
				op_sql[conds[i].op]);
		} else {
			sb_addf(sql, " AND %s %s ?", x, op_sql[conds[i].op]);
		}
	}
}

static void metrics_bind(sqlite3_stmt *st, int *k, const char *run_id,
			 const struct store_metrics_query *mq, const struct store_metrics_cond *conds,
			 size_t n, struct strbuf *paths)
{
	sqlite3_bind_text(st, ++*k, run_id, -1, SQLITE_STATIC);
	if (mq->task_id)
		sqlite3_bind_text(st, ++*k, mq->task_id, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		int numeric = conds[i].is_number && conds[i].op != SMO_CONTAINS;
		if (!metric_column(conds[i].key)) {
			sqlite3_bind_text(st, ++*k, paths[i].buf, -1, SQLITE_STATIC);
			if (numeric && conds[i].op != SMO_EQ && conds[i].op != SMO_NE)
				sqlite3_bind_text(st, ++*k, paths[i].buf, -1, SQLITE_STATIC);
		}
		if (numeric)
			sqlite3_bind_double(st, ++*k, conds[i].number);
		else
			sqlite3_bind_text(st, ++*k, conds[i].text, -1, SQLITE_STATIC);
	}
}

struct metrics_walk {
	store_metrics_fn fn;
	void *arg;
};

static int metrics_each_row(sqlite3_stmt *st, void *arg)
{
	struct metrics_walk *w = arg;
	return w->fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
		     (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
		     (size_t)sqlite3_column_bytes(st, 3), w->arg);
}

static int sq_metrics_each(struct store *s, const char *run_id, store_metrics_fn fn, void *arg)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_METRICS_EACH);
	struct metrics_walk w = { fn, arg };

	if (st)
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	return each_row(q, st, metrics_each_row, &w, "reading metrics");
}

struct metrics_page {
	json_t *rows;
	size_t *total;  /* from the window's count(*), or NULL */
};

static int metrics_page_row(sqlite3_stmt *st, void *arg)
{
	struct metrics_page *p = arg;
	int idx = sqlite3_column_int(st, 1);
	const char *item = (const char *)sqlite3_column_text(st, 2);
	json_t *data = json_loadb((const char *)sqlite3_column_text(st, 3),
				  (size_t)sqlite3_column_bytes(st, 3), 0, NULL);

	if (p->total)
		*p->total = (size_t)sqlite3_column_int64(st, 4);
	json_array_append_new(p->rows, json_pack("{s:s, s:o, s:o, s:o}",
						 "task_id", sqlite3_column_text(st, 0),
						 "index", idx >= 0 ? json_integer(idx) : json_null(),
						 "item", item ? json_string(item) : json_null(),
						 "metrics", data ? data : json_object()));
	return 0;
}

static int sq_metrics_list(struct store *s, const char *run_id,
			   const struct store_metrics_query *mq, const struct store_metrics_cond *conds,
			   size_t n, const char *sort_key, int sort_desc, json_t **rows, size_t *total)
{
	struct sqlite_store *q = ss(s);
	struct strbuf sql = STRBUF_INIT, where = STRBUF_INIT, sort_path = STRBUF_INIT;
	struct strbuf *paths = xcalloc(n ? n : 1, sizeof(*paths));
	struct metrics_page mp;
	sqlite3_stmt *st = NULL;
	int k = 0, ret = -1, window;

	*rows = json_array();
	for (size_t i = 0; i < n; i++) {
		sb_init(&paths[i], 0);
		sb_addf(&paths[i], "$.%s", conds[i].key);
	}
	metrics_where(&where, mq, conds, n);
	*total = 0;
	/*
	 * Filtered or sorted: the count rides along, one scan for everything.
	 * Neither: the primary key's order, a page read directly, counted apart.
	 */
	window = n || sort_key;
	sb_addf(&sql, "SELECT task_id, idx, item, data, %s%s ORDER BY ",
		window ? "count(*) OVER ()" : "0", where.buf);
	if (sort_key) {
		const char *col = metric_column(sort_key);
		sb_addf(&sql, "%s %s NULLS LAST, ", col ? col : "json_extract(data, ?)",
			sort_desc ? "DESC" : "ASC");
		sb_addf(&sort_path, "$.%s", sort_key);
	}
	sb_adds(&sql, "task_id, idx, line LIMIT ? OFFSET ?");
	if (sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL) != SQLITE_OK) {
		db_error(q, "preparing a metrics query");
		goto out;
	}
	metrics_bind(st, &k, run_id, mq, conds, n, paths);
	if (sort_key && !metric_column(sort_key))
		sqlite3_bind_text(st, ++k, sort_path.buf, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, ++k, mq->limit ? (sqlite3_int64)mq->limit : -1);
	sqlite3_bind_int64(st, ++k, (sqlite3_int64)mq->offset);
	mp.rows = *rows;
	mp.total = window ? total : NULL;
	if (each_row(q, st, metrics_page_row, &mp, "reading metrics"))
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	/* past the last match a window counts nothing */
	if (!window || (!json_array_size(*rows) && mq->offset)) {
		sb_reset(&sql);
		sb_addf(&sql, "SELECT count(*)%s", where.buf);
		if (sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL) != SQLITE_OK) {
			db_error(q, "preparing a metrics query");
			goto out;
		}
		k = 0;
		metrics_bind(st, &k, run_id, mq, conds, n, paths);
		if (sqlite3_step(st) != SQLITE_ROW) {
			db_error(q, "counting metrics");
			goto out;
		}
		*total = (size_t)sqlite3_column_int64(st, 0);
	}
	ret = 0;
out:
	if (st)
		sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++)
		sb_release(&paths[i]);
	free(paths);
	sb_release(&sql);
	sb_release(&where);
	sb_release(&sort_path);
	if (ret < 0) {
		json_decref(*rows);
		*rows = NULL;
	}
	return ret;
}

/* ---- schedulers' leases ---- */

static int sq_lease_take(struct store *s, const char *host, int pid, const char *owner_prefix,
			 int64_t ttl_ms, int64_t grace_ms, int64_t *epoch)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_LEASE_TAKE);
	struct strbuf owner = STRBUF_INIT;
	int ret = -1;

	*epoch = 0;
	if (!st || sq_begin(s) < 0)
		return -1;
	/* The owner names the epoch, which the insert gives: set in the same transaction. */
	sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, pid);
	sqlite3_bind_text(st, 3, owner_prefix, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, time_now_ms());
	sqlite3_bind_int64(st, 5, ttl_ms);
	sqlite3_bind_int64(st, 6, grace_ms);
	if (sqlite3_step(st) == SQLITE_ROW)
		*epoch = sqlite3_column_int64(st, 0);
	if (exec_stmt(q, st, "taking a scheduler lease") == 0 && *epoch > 0) {
		sqlite3_stmt *up;
		sb_addf(&owner, "%s#%lld", owner_prefix, (long long)*epoch);
		if (sqlite3_prepare_v2(q->db, "UPDATE schedulers SET owner = ?2 WHERE epoch = ?1", -1,
				       &up, NULL) != SQLITE_OK) {
			db_error(q, "preparing a statement");
		} else {
			sqlite3_bind_int64(up, 1, *epoch);
			sqlite3_bind_text(up, 2, owner.buf, -1, SQLITE_TRANSIENT);
			ret = exec_stmt(q, up, "naming a scheduler lease's owner");
			sqlite3_finalize(up);
		}
	}
	sb_release(&owner);
	if (ret < 0) {
		sq_rollback(s);
		*epoch = 0;
		return -1;
	}
	return sq_commit(s);
}

static int sq_lease_beat(struct store *s, int64_t epoch, const char *duties)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_LEASE_BEAT);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, epoch);
	sqlite3_bind_int64(st, 2, time_now_ms());
	sqlite3_bind_text(st, 3, duties, -1, SQLITE_TRANSIENT);
	if (write_stmt(q, st, "renewing a scheduler lease") < 0)
		return -1;
	return sqlite3_changes(q->db) ? 0 : STORE_NOT_FOUND;
}

/* Nothing to take: a transaction here is BEGIN IMMEDIATE, which already keeps other writers out. */
static int sq_lease_lock(struct store *s)
{
	(void)s;
	return 0;
}

static int sq_lease_drop(struct store *s, int64_t epoch)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_LEASE_DROP);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, epoch);
	return write_stmt(q, st, "ending a scheduler lease");
}

static void fill_lease(sqlite3_stmt *st, void *elem)
{
	struct store_lease *l = elem;

	l->epoch = sqlite3_column_int64(st, 0);
	l->host = col_strdup(st, 1);
	l->pid = sqlite3_column_int(st, 2);
	l->owner = col_strdup(st, 3);
	l->started_at = sqlite3_column_int64(st, 4);
	l->beat_at = sqlite3_column_int64(st, 5);
	l->age_ms = sqlite3_column_int64(st, 6);
	l->duties = col_strdup(st, 7);
	l->runs = sqlite3_column_int64(st, 8);
	l->offered = sqlite3_column_int64(st, 11);
	l->ttl_ms = sqlite3_column_int64(st, 9);
	l->grace_ms = sqlite3_column_int64(st, 10);
}

static void free_leases(void *v, size_t n)
{
	store_lease_list_free(v, n);
}

static const struct row_type lease_rows = { sizeof(struct store_lease), fill_lease, free_leases };

/* Inside the caller's transaction (BEGIN IMMEDIATE: no other writer until its commit). */
static int sq_lease_fence(struct store *s, int64_t epoch)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_LEASE_FENCE);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, epoch);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(q, "checking this scheduler's lease");
	return rc == SQLITE_ROW ? 0 : STORE_NOT_FOUND;
}

static int sq_lease_expire(struct store *s, int64_t epoch, int64_t older_than_ms)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_LEASE_EXPIRE);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, epoch);
	sqlite3_bind_int64(st, 2, older_than_ms);
	sqlite3_bind_int64(st, 3, time_now_ms());
	if (write_stmt(q, st, "ending a dead scheduler's lease") < 0)
		return -1;
	return sqlite3_changes(q->db) ? 0 : STORE_NOT_FOUND;
}

static int sq_run_claim_queued(struct store *s, const char *owner, int64_t limit, char ***ids,
			       size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_RUN_CLAIM_QUEUED);
	size_t alloc = 0;
	int rc, ret = 0;

	*ids = NULL;
	*n = 0;
	if (!st || sq_begin(s) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ALLOC_GROW(*ids, *n + 1, alloc);
		(*ids)[(*n)++] = col_strdup(st, 0);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		ret = db_error(q, "claiming queued runs");
	for (size_t i = 0; i < *n && !ret; i++)
		ret = sq_run_claim(s, (*ids)[i], NULL, owner) ? -1 : 0;
	if (ret < 0)
		sq_rollback(s);
	if (ret < 0 || sq_commit(s) < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*ids)[i]);
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* ---- offers ---- */

static void fill_offer(sqlite3_stmt *st, void *elem)
{
	struct store_offer *o = elem;

	o->run_id = col_strdup(st, 0);
	o->task_id = col_strdup(st, 1);
	o->index = sqlite3_column_int(st, 2);
	o->try_number = sqlite3_column_int(st, 3);
	o->coordinator = col_strdup(st, 4);
	o->runner = col_strdup(st, 5);
	o->runner_host = col_strdup(st, 6);
	o->state = (enum store_offer_state)sqlite3_column_int(st, 7);
	o->status = sqlite3_column_int(st, 8);
	o->kill = sqlite3_column_int(st, 9);
	o->claimed_at = sqlite3_column_int64(st, 10);
	o->ended_at = sqlite3_column_int64(st, 11);
	o->reason = col_strdup(st, 12);
	if (sqlite3_column_count(st) > 13)
		o->spec = col_strdup(st, 13);
}

static void free_offers(void *v, size_t n)
{
	store_offer_list_free(v, n);
}

static const struct row_type offer_rows = { sizeof(struct store_offer), fill_offer, free_offers };

/* Binds the offer's key (run_id, task_id, idx) to ?1-?3. */
static sqlite3_stmt *offer_stmt(struct sqlite_store *q, enum stmt_id id, const char *run_id,
				const char *task_id, int index)
{
	sqlite3_stmt *st = stmt(q, id);

	if (st) {
		bind_text(st, 1, run_id);
		bind_text(st, 2, task_id);
		sqlite3_bind_int(st, 3, index);
	}
	return st;
}

static int sq_offer_add(struct store *s, const struct store_offer *o)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = offer_stmt(q, ST_OFFER_ADD, o->run_id, o->task_id, o->index);

	if (!st)
		return -1;
	sqlite3_bind_int(st, 4, o->try_number);
	bind_text(st, 5, o->coordinator);
	bind_text(st, 6, o->spec ? o->spec : "{}");
	return write_stmt(q, st, "offering a task instance");
}

/* One transaction (BEGIN IMMEDIATE: no other writer until it ends): read, then take. */
static int sq_offer_claim(struct store *s, const char *runner, const char *host, int64_t limit,
			  struct store_offer **v, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_OFFER_OPEN);
	int64_t now = time_now_ms();
	void *list;
	int ret;

	if (!st || sq_begin(s) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, limit);
	ret = list_rows(q, st, &offer_rows, &list, n, "listing open offers");
	*v = list;
	for (size_t i = 0; i < *n && !ret; i++) {
		struct store_offer *o = &(*v)[i];
		sqlite3_stmt *take = offer_stmt(q, ST_OFFER_TAKE, o->run_id, o->task_id, o->index);
		if (!take) {
			ret = -1;
			break;
		}
		bind_text(take, 4, runner);
		bind_text(take, 5, host);
		sqlite3_bind_int64(take, 6, now);
		ret = write_stmt(q, take, "claiming an offer");
		o->runner = xstrdup(runner);
		o->runner_host = xstrdup(host);
		o->state = OFFER_RUNNING;
		o->claimed_at = now;
	}
	if (ret)
		sq_rollback(s);
	if (ret || sq_commit(s) < 0) {
		store_offer_list_free(*v, *n);
		*v = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

static int sq_offer_end(struct store *s, const struct store_offer *o, const char *runner)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = offer_stmt(q, ST_OFFER_END, o->run_id, o->task_id, o->index);

	if (!st)
		return -1;
	sqlite3_bind_int(st, 4, o->try_number);
	bind_text(st, 5, runner);
	sqlite3_bind_int(st, 6, o->status);
	sqlite3_bind_int64(st, 7, o->ended_at);
	bind_text(st, 8, o->reason);
	if (write_stmt(q, st, "ending an offered try") < 0)
		return -1;
	return sqlite3_changes(q->db) ? 0 : STORE_NOT_FOUND;
}

static int sq_offer_kill(struct store *s, const char *run_id, const char *task_id, int index,
			 int try_number, int kill)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = offer_stmt(q, ST_OFFER_KILL, run_id, task_id, index);

	if (!st)
		return -1;
	sqlite3_bind_int(st, 4, try_number);
	sqlite3_bind_int(st, 5, kill);
	return write_stmt(q, st, "asking an offered try to stop");
}

static int sq_offer_drop(struct store *s, const char *run_id, const char *task_id, int index,
			 int try_number, const char *runner)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = offer_stmt(q, ST_OFFER_DROP, run_id, task_id, index);

	if (!st)
		return -1;
	sqlite3_bind_int(st, 4, try_number);
	bind_text(st, 5, runner);
	if (write_stmt(q, st, "taking an offer back") < 0)
		return -1;
	return sqlite3_changes(q->db) ? 0 : STORE_NOT_FOUND;
}

static int sq_offer_list(struct store *s, int by, const char *who, struct store_offer **v,
			 size_t *n)
{
	static const enum stmt_id ids[] = { ST_OFFER_BY_COORDINATOR, ST_OFFER_BY_RUNNER,
					    ST_OFFER_BY_RUN };
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ids[by]);
	void *list;
	int ret;

	if (st)
		bind_text(st, 1, who);
	ret = list_rows(q, st, &offer_rows, &list, n, "listing offers");
	*v = list;
	return ret;
}

static int sq_offer_adopt(struct store *s, const char *run_id, const char *coordinator)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_OFFER_ADOPT);

	if (!st)
		return -1;
	bind_text(st, 1, run_id);
	bind_text(st, 2, coordinator);
	return write_stmt(q, st, "taking a run's offers over");
}

static int sq_lease_list(struct store *s, int64_t epoch, struct store_lease **v, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_LEASE_LIST);
	void *list;
	int ret;

	if (st) {
		sqlite3_bind_int64(st, 1, time_now_ms());
		sqlite3_bind_int64(st, 2, epoch);
	}
	ret = list_rows(q, st, &lease_rows, &list, n, "listing schedulers");
	*v = list;
	return ret;
}

/* ---- whole tables, for store_copy() (names come from the schema, quoted anyway) ---- */

static void fill_name(sqlite3_stmt *st, void *elem)
{
	*(char **)elem = col_strdup(st, 0);
}

static void free_names(void *v, size_t n)
{
	char **names = v;

	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static const struct row_type name_rows = { sizeof(char *), fill_name, free_names };

static int sq_tables(struct store *s, char ***names, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st;
	void *v;
	int ret;

	*names = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(q->db,
			       "SELECT name FROM sqlite_master WHERE type = 'table'"
			       " AND name NOT LIKE 'sqlite_%' ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(q, "listing tables");
	ret = list_rows(q, st, &name_rows, &v, n, "listing tables");
	*names = v;
	sqlite3_finalize(st);
	return ret;
}

static int sq_table_count(struct store *s, const char *table, int64_t *n)
{
	struct sqlite_store *q = ss(s);
	char *sql = xasprintf("SELECT count(*) FROM \"%s\"", table);
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_error(q, "counting rows");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_error(q, "counting rows");
}

struct table_walk {
	store_row_fn fn;
	void *arg;
	int ncols;
	const char **cols, **vals;
};

static int table_row(sqlite3_stmt *st, void *arg)
{
	struct table_walk *w = arg;

	for (int i = 0; i < w->ncols; i++)
		w->vals[i] = (const char *)sqlite3_column_text(st, i);
	return w->fn((size_t)w->ncols, w->cols, w->vals, w->arg) ? 1 : 0;
}

static int sq_table_rows(struct store *s, const char *table, store_row_fn fn, void *arg)
{
	struct sqlite_store *q = ss(s);
	char *sql = xasprintf("SELECT * FROM \"%s\"", table);
	struct table_walk w = { .fn = fn, .arg = arg };
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return db_error(q, "reading a table");
	w.ncols = sqlite3_column_count(st);
	w.cols = xcalloc((size_t)w.ncols + 1, sizeof(*w.cols));
	w.vals = xcalloc((size_t)w.ncols + 1, sizeof(*w.vals));
	for (int i = 0; i < w.ncols; i++)
		w.cols[i] = sqlite3_column_name(st, i);
	rc = each_row(q, st, table_row, &w, "reading a table");
	sqlite3_finalize(st);
	free(w.cols);
	free(w.vals);
	return rc ? -1 : 0; /* stopped by fn, or an error */
}

static int sq_table_load(struct store *s, const char *table, size_t ncols,
			 const char *const *cols, const char *const *vals)
{
	struct sqlite_store *q = ss(s);
	struct strbuf sql = STRBUF_INIT;
	sqlite3_stmt *st;
	int rc;

	sb_addf(&sql, "INSERT OR REPLACE INTO \"%s\"(", table);
	for (size_t i = 0; i < ncols; i++)
		sb_addf(&sql, "%s\"%s\"", i ? ", " : "", cols[i]);
	sb_adds(&sql, ") VALUES(");
	for (size_t i = 0; i < ncols; i++)
		sb_adds(&sql, i ? ", ?" : "?");
	sb_adds(&sql, ")");
	rc = sqlite3_prepare_v2(q->db, sql.buf, -1, &st, NULL);
	sb_release(&sql);
	if (rc != SQLITE_OK)
		return db_error(q, "loading a row");
	for (size_t i = 0; i < ncols; i++)
		bind_text(st, (int)i + 1, vals[i]);
	if (write_stmt(q, st, "loading a row") < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* AUTOINCREMENT follows explicit ids by itself. */
static int sq_load_done(struct store *s)
{
	return 0;
}

/* ---- files in downloaded/ and their arrivals ---- */

static int sq_file_put(struct store *s, const struct store_file *f)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_FILE_PUT);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, f->rel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, f->ident, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, f->dir);
	sqlite3_bind_text(st, 4, f->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, f->seen_at);
	bind_text(st, 6, f->note);
	return write_stmt(q, st, "recording a file");
}

static void fill_file(sqlite3_stmt *st, void *elem)
{
	struct store_file *f = elem;

	f->rel = col_strdup(st, 0);
	f->ident = col_strdup(st, 1);
	f->dir = sqlite3_column_int(st, 2);
	f->state = col_strdup(st, 3);
	f->seen_at = sqlite3_column_int64(st, 4);
	f->note = col_strdup(st, 5);
}

static void free_files(void *v, size_t n)
{
	store_file_list_free(v, n);
}

static const struct row_type file_rows = { sizeof(struct store_file), fill_file, free_files };

static int sq_file_list(struct store *s, struct store_file **files, size_t *n)
{
	struct sqlite_store *q = ss(s);
	void *v;
	int ret = list_rows(q, stmt(q, ST_FILE_LIST), &file_rows, &v, n, "listing files");

	*files = v;
	return ret;
}

/*
 * Ends a transaction of an arrival op: committed when it wrote, or when it
 * wrote nothing by design (ret > 0, not an error for an enclosing batch).
 */
static int end_tx(struct store *s, int ret)
{
	if (ret < 0) {
		sq_rollback(s);
		return ret;
	}
	if (sq_commit(s) < 0)
		return -1;
	return ret;
}

/* The highest attempt of (dag, rel, ident): -1 when there is none, -2 on error. */
static int arrival_attempt(struct sqlite_store *q, const struct store_arrival *a)
{
	sqlite3_stmt *st = stmt(q, ST_ARRIVAL_ATTEMPT);
	int rc, ret = -1;

	if (!st)
		return -2;
	sqlite3_bind_text(st, 1, a->dag_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, a->rel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, a->ident, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		ret = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_error(q, "reading arrivals");
		return -2;
	}
	return ret;
}

static int arrival_insert(struct sqlite_store *q, const struct store_arrival *a, const char *params)
{
	sqlite3_stmt *st = stmt(q, ST_ARRIVAL_INSERT);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, a->dag_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, a->rel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, a->ident, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, a->attempt);
	sqlite3_bind_text(st, 5, a->state, -1, SQLITE_TRANSIENT);
	bind_text(st, 6, a->run_id);
	bind_text(st, 7, params);
	sqlite3_bind_int64(st, 8, a->at);
	bind_text(st, 9, a->note);
	return exec_stmt(q, st, "recording an arrival");
}

static int sq_arrival_add(struct store *s, struct store_arrival *a, int again)
{
	struct sqlite_store *q = ss(s);
	char *params = a->params ? json_dumps(a->params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int last, ret = -1;

	if (sq_begin(s) < 0) {
		free(params);
		return -1;
	}
	last = arrival_attempt(q, a);
	if (last == -2)
		goto out;
	if (last >= 0 && !again) {
		ret = STORE_EXISTS;
		goto out;
	}
	a->attempt = last + 1;
	if (!a->at)
		a->at = time_now_ms();
	free(a->run_id);
	a->run_id = NULL;
	if (!strcmp(a->state, "run") &&
	    insert_run(q, a->dag_id, params, NULL, NULL, "file", 0, &a->run_id) < 0)
		goto out;
	ret = arrival_insert(q, a, params);
out:
	free(params);
	return end_tx(s, ret);
}

static void fill_arrival(sqlite3_stmt *st, void *elem)
{
	struct store_arrival *a = elem;

	a->dag_id = col_strdup(st, 0);
	a->rel = col_strdup(st, 1);
	a->ident = col_strdup(st, 2);
	a->attempt = sqlite3_column_int(st, 3);
	a->state = col_strdup(st, 4);
	a->run_id = col_strdup(st, 5);
	a->params = col_json(st, 6);
	a->at = sqlite3_column_int64(st, 7);
	a->note = col_strdup(st, 8);
}

static void free_arrivals(void *v, size_t n)
{
	store_arrival_list_free(v, n);
}

static const struct row_type arrival_rows = {
	sizeof(struct store_arrival), fill_arrival, free_arrivals
};

static int sq_arrival_list(struct store *s, const char *dag_id, const char *state,
			   struct store_arrival **v, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_ARRIVAL_LIST);
	void *list;
	int ret;

	if (st) {
		bind_text(st, 1, dag_id);
		bind_text(st, 2, state);
	}
	ret = list_rows(q, st, &arrival_rows, &list, n, "listing arrivals");
	*v = list;
	return ret;
}

static int sq_arrival_seen(struct store *s, const char *dag_id, const char *rel)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_ARRIVAL_SEEN);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, rel, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(q, "reading arrivals");
	return rc == SQLITE_ROW;
}

static void bind_arrival_key(sqlite3_stmt *st, const struct store_arrival *a)
{
	sqlite3_bind_text(st, 1, a->dag_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, a->rel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, a->ident, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, a->attempt);
}

static int sq_arrival_start(struct store *s, struct store_arrival *a)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *get = stmt(q, ST_ARRIVAL_GET), *set = stmt(q, ST_ARRIVAL_SET);
	char *params = NULL;
	int rc, ret = -1;

	if (!get || !set || sq_begin(s) < 0)
		return -1;
	/* Read inside the write transaction: two callers cannot both see it pending. */
	bind_arrival_key(get, a);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		params = col_strdup(get, 0);
	sqlite3_reset(get);
	sqlite3_clear_bindings(get);
	if (rc == SQLITE_DONE) {
		ret = STORE_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		db_error(q, "reading an arrival");
		goto out;
	}
	free(a->run_id);
	a->run_id = NULL;
	if (insert_run(q, a->dag_id, params, NULL, NULL, "file", 0, &a->run_id) < 0)
		goto out;
	bind_arrival_key(set, a);
	sqlite3_bind_text(set, 5, a->run_id, -1, SQLITE_TRANSIENT);
	ret = exec_stmt(q, set, "starting an arrival");
out:
	free(params);
	return end_tx(s, ret);
}

/* ---- deliveries (the outbox of callbacks and event scripts) ---- */

static int sq_delivery_add(struct store *s, struct store_delivery *d)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_DELIVERY_ADD);
	int rc;

	if (!st || sq_begin(s) < 0)
		return -1;
	if (!d->created_at)
		d->created_at = time_now_ms();
	sqlite3_bind_text(st, 1, d->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, d->event, -1, SQLITE_TRANSIENT);
	bind_text(st, 3, d->run_id);
	bind_text(st, 4, d->dag_id);
	bind_text(st, 5, d->task_id);
	sqlite3_bind_int(st, 6, d->index);
	sqlite3_bind_int(st, 7, d->try_number);
	bind_text(st, 8, d->workspace);
	bind_text(st, 9, d->command);
	sqlite3_bind_text(st, 10, d->payload ? d->payload : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, d->state ? d->state : "pending", -1, SQLITE_TRANSIENT);
	bind_text(st, 12, d->owner);
	sqlite3_bind_int64(st, 13, d->created_at);
	sqlite3_bind_int64(st, 14, d->ended_at);
	sqlite3_bind_int(st, 15, d->exit_code);
	bind_text(st, 16, d->note);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		d->id = sqlite3_column_int64(st, 0);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		db_error(q, "recording a delivery");
		sq_rollback(s);
		return -1;
	}
	return sq_commit(s);
}

static void fill_delivery(sqlite3_stmt *st, void *elem)
{
	struct store_delivery *d = elem;

	d->id = sqlite3_column_int64(st, 0);
	d->kind = col_strdup(st, 1);
	d->event = col_strdup(st, 2);
	d->run_id = col_strdup(st, 3);
	d->dag_id = col_strdup(st, 4);
	d->task_id = col_strdup(st, 5);
	d->index = sqlite3_column_int(st, 6);
	d->try_number = sqlite3_column_int(st, 7);
	d->workspace = col_strdup(st, 8);
	d->command = col_strdup(st, 9);
	d->payload = col_strdup(st, 10);
	d->state = col_strdup(st, 11);
	d->owner = col_strdup(st, 12);
	d->attempts = sqlite3_column_int(st, 13);
	d->created_at = sqlite3_column_int64(st, 14);
	d->started_at = sqlite3_column_int64(st, 15);
	d->ended_at = sqlite3_column_int64(st, 16);
	d->exit_code = sqlite3_column_int(st, 17);
	d->log_path = col_strdup(st, 18);
	d->note = col_strdup(st, 19);
}

static void free_deliveries(void *v, size_t n)
{
	store_delivery_list_free(v, n);
}

static const struct row_type delivery_rows = {
	sizeof(struct store_delivery), fill_delivery, free_deliveries
};

static int sq_delivery_list(struct store *s, const struct store_delivery_filter *f,
			    struct store_delivery **v, size_t *n)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_DELIVERY_LIST);
	void *list;
	int ret;

	if (st) {
		sqlite3_bind_int64(st, 1, f->id);
		bind_text(st, 2, f->run_id);
		bind_text(st, 3, f->kind);
		bind_text(st, 4, f->workspace);
		sqlite3_bind_int(st, 5, f->open);
		sqlite3_bind_int64(st, 6, f->limit ? (int64_t)f->limit : -1);
	}
	ret = list_rows(q, st, &delivery_rows, &list, n, "listing deliveries");
	*v = list;
	return ret;
}

static int sq_delivery_claim(struct store *s, int64_t id, const char *expect,
			     const char *expect_state, const char *owner)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_DELIVERY_CLAIM);
	int changed;

	if (!st || sq_begin(s) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, expect);
	sqlite3_bind_text(st, 3, expect_state, -1, SQLITE_TRANSIENT);
	bind_text(st, 4, owner);
	sqlite3_bind_int64(st, 5, time_now_ms());
	if (exec_stmt(q, st, "claiming a delivery") < 0) {
		sq_rollback(s);
		return -1;
	}
	changed = sqlite3_changes(q->db);
	if (sq_commit(s) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

static int sq_delivery_end(struct store *s, const struct store_delivery *d)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_DELIVERY_END);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, d->id);
	bind_text(st, 2, d->owner);
	sqlite3_bind_text(st, 3, d->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, d->exit_code);
	sqlite3_bind_int64(st, 5, d->ended_at);
	bind_text(st, 6, d->log_path);
	bind_text(st, 7, d->note);
	return write_stmt(q, st, "recording a delivery's end");
}

/* ---- schedules: one row per (DAG, scheduled time), written with its run ---- */

static int fire_row(struct sqlite_store *q, enum stmt_id id, const char *dag_id, int64_t at,
		    const char *run_id)
{
	sqlite3_stmt *st = stmt(q, id);

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, at);
	if (run_id)
		sqlite3_bind_text(st, 3, run_id, -1, SQLITE_TRANSIENT);
	return exec_stmt(q, st, "recording a scheduled time");
}

static int sq_schedule_fire(struct store *s, const char *dag_id, int64_t at, json_t *params,
			    char **run_id)
{
	struct sqlite_store *q = ss(s);
	char *text = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int ret = -1;

	*run_id = NULL;
	if (sq_begin(s) < 0) {
		free(text);
		return -1;
	}
	if (fire_row(q, ST_FIRE_INSERT, dag_id, at, NULL) < 0)
		goto out;
	ret = 0;
	if (!sqlite3_changes(q->db))
		ret = STORE_EXISTS; /* fired already: nothing written */
	else if (params && (insert_run(q, dag_id, text, NULL, NULL, "schedule", at, run_id) < 0 ||
			    fire_row(q, ST_FIRE_SET_RUN, dag_id, at, *run_id) < 0))
		ret = -1;
out:
	free(text);
	ret = end_tx(s, ret);
	if (ret) {
		free(*run_id);
		*run_id = NULL;
	}
	return ret;
}

static int sq_schedule_last(struct store *s, const char *dag_id, int64_t *at)
{
	struct sqlite_store *q = ss(s);
	sqlite3_stmt *st = stmt(q, ST_FIRE_LAST);
	int rc;

	*at = 0;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(q, "reading the last scheduled time");
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.run_create = sq_run_create,
	.run_get = sq_run_get,
	.run_list = sq_run_list,
	.run_set_state = sq_run_set_state,
	.run_claim = sq_run_claim,
	.ti_put = sq_ti_put,
	.ti_delete = sq_ti_delete,
	.ti_list = sq_ti_list,
	.try_put = sq_try_put,
	.try_list = sq_try_list,
	.var_get = sq_var_get,
	.var_set = sq_var_set,
	.var_unset = sq_var_unset,
	.var_all = sq_var_all,
	.var_history_add = sq_var_history_add,
	.var_history = sq_var_history,
	.req_add = sq_req_add,
	.req_list = sq_req_list,
	.req_done = sq_req_done,
	.seq = sq_seq,
	.changes_since = sq_changes_since,
	.changed_elsewhere = sq_changed_elsewhere,
	.changes_fd = sq_changes_fd,
	.dag_set_paused = sq_dag_set_paused,
	.file_put = sq_file_put,
	.file_list = sq_file_list,
	.arrival_add = sq_arrival_add,
	.arrival_list = sq_arrival_list,
	.arrival_start = sq_arrival_start,
	.arrival_seen = sq_arrival_seen,
	.delivery_add = sq_delivery_add,
	.delivery_list = sq_delivery_list,
	.delivery_claim = sq_delivery_claim,
	.delivery_end = sq_delivery_end,
	.schedule_fire = sq_schedule_fire,
	.schedule_last = sq_schedule_last,
	.dag_paused_all = sq_dag_paused_all,
	.ti_stats = sq_ti_stats,
	.ti_counts = sq_ti_counts,
	.metrics_put = sq_metrics_put,
	.metrics_list = sq_metrics_list,
	.metrics_each = sq_metrics_each,
	.prov_put = sq_prov_put,
	.prov_get = sq_prov_get,
	.prov_list = sq_prov_list,
	.lease_fence = sq_lease_fence,
	.lease_expire = sq_lease_expire,
	.run_claim_queued = sq_run_claim_queued,
	.offer_add = sq_offer_add,
	.offer_claim = sq_offer_claim,
	.offer_end = sq_offer_end,
	.offer_kill = sq_offer_kill,
	.offer_drop = sq_offer_drop,
	.offer_list = sq_offer_list,
	.offer_adopt = sq_offer_adopt,
	.lease_take = sq_lease_take,
	.lease_beat = sq_lease_beat,
	.lease_lock = sq_lease_lock,
	.lease_drop = sq_lease_drop,
	.lease_list = sq_lease_list,
	.tables = sq_tables,
	.table_count = sq_table_count,
	.table_rows = sq_table_rows,
	.table_load = sq_table_load,
	.load_done = sq_load_done,
};
