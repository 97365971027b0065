/*
 * The PostgreSQL store backend (libpq): the schema, the transactions and
 * the change feed of sqlite.c, for a database several processes and
 * machines share.
 *
 * Connecting: flow.store is handed to libpq as it is, so every libpq
 * convention works: URL parameters (?sslmode=, ?host=/socket/dir), the
 * PG* environment variables (PGPASSFILE, PGSSLMODE, ...) and ~/.pgpass.
 * Messages name the url with its password replaced by "***"; libpq's own
 * messages never contain it.
 *
 * Transactions: every write runs in one (BEGIN ... COMMIT); the scheduler
 * wraps a batch of changes in store_begin()/store_commit().  The change
 * sequence is one row of `meta`, incremented by a writing transaction on
 * its first write: its row lock is held until commit, so sequence numbers
 * become visible in increasing order and a reader of changes_since never
 * skips a number committed late.
 *
 * Change feed across processes: a writing transaction ends with
 * NOTIFY synthflow; every connection LISTENs, and changed_elsewhere()
 * reads the notifications that arrived on its socket (no round trip).
 *
 * Connection loss: a read or the start of a transaction reconnects, at
 * most once per back-off interval (0.1 s doubling to 5 s), so a database
 * that blinks costs the caller a failed call, not a stuck process; the
 * scheduler keeps its changes in memory and writes them again (sched.c).
 * A transaction that was open when the connection broke is lost as a
 * whole, never half-applied.
 */
#ifdef HAVE_LIBPQ

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/store-impl.h"
#include "util/common.h"
#include "util/timeutil.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_ARGS 16
/* Advisory lock key of schema migrations. */
#define MIGRATE_LOCK_KEY 0x53466c6f77L
/* Advisory lock key of duty elections: one scheduler looks and claims at a time. */
#define ELECT_LOCK_KEY 0x53466c6f78L

static const char *const migrations[] = {
	/* 1: runs, task instances, tries, variables, requests, change sequence */
	"CREATE TABLE meta(k TEXT PRIMARY KEY, v BIGINT NOT NULL);"
	"INSERT INTO meta VALUES('seq', 0);"
	"CREATE TABLE runs(run_id TEXT COLLATE \"C\" PRIMARY KEY, dag_id TEXT COLLATE \"C\" NOT NULL,"
	" state TEXT NOT NULL, params TEXT NOT NULL, created_at BIGINT NOT NULL,"
	" started_at BIGINT NOT NULL DEFAULT 0, ended_at BIGINT NOT NULL DEFAULT 0, reason TEXT,"
	" owner TEXT, seq BIGINT NOT NULL);"
	"CREATE INDEX runs_dag ON runs(dag_id, created_at);"
	"CREATE INDEX runs_created ON runs(created_at);"
	"CREATE INDEX runs_state ON runs(state);"
	"CREATE INDEX runs_seq ON runs(seq);"
	"CREATE TABLE tis(run_id TEXT COLLATE \"C\" NOT NULL, task_id TEXT COLLATE \"C\" NOT NULL,"
	" idx INTEGER NOT NULL, state TEXT NOT NULL, try INTEGER NOT NULL, exit_code INTEGER NOT NULL,"
	" started_at BIGINT NOT NULL, ended_at BIGINT NOT NULL, next_try_at BIGINT NOT NULL,"
	" max_tries INTEGER NOT NULL, item TEXT, reason TEXT, seq BIGINT NOT NULL,"
	" PRIMARY KEY(run_id, task_id, idx));"
	"CREATE INDEX tis_seq ON tis(seq);"
	"CREATE TABLE tries(run_id TEXT COLLATE \"C\" NOT NULL, task_id TEXT COLLATE \"C\" NOT NULL,"
	" idx INTEGER NOT NULL, try INTEGER NOT NULL, started_at BIGINT NOT NULL,"
	" ended_at BIGINT NOT NULL, exit_code INTEGER NOT NULL, log_path TEXT, pid BIGINT NOT NULL,"
	" pid_start BIGINT NOT NULL, reason TEXT, PRIMARY KEY(run_id, task_id, idx, try));"
	"CREATE TABLE vars(key TEXT COLLATE \"C\" PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE requests(id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, kind TEXT NOT NULL,"
	" task_id TEXT, downstream INTEGER NOT NULL, created_at BIGINT NOT NULL);",
	/* 2: per-DAG flags (paused), set from the web UI */
	"CREATE TABLE dag_flags(dag_id TEXT COLLATE \"C\" PRIMARY KEY, paused INTEGER NOT NULL);",
	/* 3: per-item metrics ($SF_METRICS), one row per JSON line of a task instance */
	"CREATE TABLE metrics(run_id TEXT COLLATE \"C\" NOT NULL, task_id TEXT COLLATE \"C\" NOT NULL,"
	" idx INTEGER NOT NULL, line INTEGER NOT NULL, try INTEGER NOT NULL, item TEXT COLLATE \"C\","
	" data TEXT NOT NULL, PRIMARY KEY(run_id, task_id, idx, line));",
	/* 4: provenance of task instances (task_id '' = the run's own record), JSON text */
	"CREATE TABLE provenance(run_id TEXT COLLATE \"C\" NOT NULL, task_id TEXT COLLATE \"C\" NOT NULL,"
	" idx INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY(run_id, task_id, idx));",
	/* 5: files seen in downloaded/ and what each DAG made of them (one row per identity) */
	"CREATE TABLE files(rel TEXT COLLATE \"C\" PRIMARY KEY, ident TEXT NOT NULL,"
	" dir INTEGER NOT NULL, state TEXT NOT NULL, seen_at BIGINT NOT NULL, note TEXT);"
	"CREATE TABLE arrivals(dag_id TEXT COLLATE \"C\" NOT NULL, rel TEXT COLLATE \"C\" NOT NULL,"
	" ident TEXT COLLATE \"C\" NOT NULL, attempt INTEGER NOT NULL, state TEXT NOT NULL,"
	" run_id TEXT, params TEXT, note TEXT, at BIGINT NOT NULL,"
	" PRIMARY KEY(dag_id, rel, ident, attempt));"
	"CREATE INDEX arrivals_state ON arrivals(state, at);",
	/* 6: schedulers' leases; the sequence never gives an epoch twice */
	"CREATE TABLE schedulers(epoch BIGSERIAL PRIMARY KEY, host TEXT NOT NULL,"
	" pid INTEGER NOT NULL, owner TEXT NOT NULL, started_at BIGINT NOT NULL,"
	" beat_at BIGINT NOT NULL, duties TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX runs_owner ON runs(owner);",
	/* 7: each run's variable snapshot; the history of every variable change */
	"ALTER TABLE runs ADD COLUMN vars TEXT;"
	"CREATE TABLE var_history(id BIGSERIAL PRIMARY KEY, key TEXT COLLATE \"C\" NOT NULL,"
	" old TEXT, new TEXT, at BIGINT NOT NULL, source TEXT NOT NULL, runs TEXT);"
	"CREATE INDEX var_history_key ON var_history(key, id);",
	/* 8: the outbox of run callbacks and event scripts (store_delivery) */
	"CREATE TABLE deliveries(id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, event TEXT NOT NULL,"
	" run_id TEXT COLLATE \"C\", dag_id TEXT COLLATE \"C\", task_id TEXT COLLATE \"C\","
	" idx INTEGER NOT NULL, try INTEGER NOT NULL, workspace TEXT COLLATE \"C\", command TEXT,"
	" payload TEXT NOT NULL, state TEXT NOT NULL, owner TEXT, attempts INTEGER NOT NULL,"
	" created_at BIGINT NOT NULL, started_at BIGINT NOT NULL, ended_at BIGINT NOT NULL,"
	" exit_code INTEGER NOT NULL, log_path TEXT, note TEXT);"
	"CREATE INDEX deliveries_state ON deliveries(state, id);"
	"CREATE INDEX deliveries_run ON deliveries(run_id, id);",
	/*
	 * 9: what started each run (older runs: file when an arrival made
	 * them, else manual) and the scheduled time it fired for (0: none);
	 * one row per (DAG, scheduled time), run_id NULL for a baseline
	 */
	"ALTER TABLE runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'manual';"
	"ALTER TABLE runs ADD COLUMN scheduled_for BIGINT NOT NULL DEFAULT 0;"
	"UPDATE runs SET triggered_by = 'file' WHERE run_id IN"
	" (SELECT run_id FROM arrivals WHERE run_id IS NOT NULL);"
	"CREATE TABLE schedule_fires(dag_id TEXT COLLATE \"C\" NOT NULL, at BIGINT NOT NULL,"
	" run_id TEXT, PRIMARY KEY(dag_id, at));",
	/* 10: an instance that ended by restoring its outputs from the content cache */
	"ALTER TABLE tis ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;",
	/* 11: each lease's own time to live and grace (schedulers.lease_ttl, .grace) */
	"ALTER TABLE schedulers ADD COLUMN ttl_ms BIGINT NOT NULL DEFAULT 10000;"
	"ALTER TABLE schedulers ADD COLUMN grace_ms BIGINT NOT NULL DEFAULT 5000;",
	/* 12: task instances offered to any live serve (store_offer, docs/engine.md) */
	"CREATE TABLE offers(run_id TEXT COLLATE \"C\" NOT NULL, task_id TEXT COLLATE \"C\" NOT NULL,"
	" idx INTEGER NOT NULL, try INTEGER NOT NULL, coordinator TEXT NOT NULL, runner TEXT,"
	" runner_host TEXT, state INTEGER NOT NULL, status INTEGER NOT NULL, kill INTEGER NOT NULL,"
	" claimed_at BIGINT NOT NULL, ended_at BIGINT NOT NULL, reason TEXT, spec TEXT NOT NULL,"
	" PRIMARY KEY(run_id, task_id, idx));"
	"CREATE INDEX offers_open ON offers(state, run_id, task_id, idx);"
	"CREATE INDEX offers_coordinator ON offers(coordinator);"
	"CREATE INDEX offers_runner ON offers(runner);",
};

/* The server's clock in ms: every lease's times, so machines' clocks need not agree. */
#define DB_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

enum stmt_id {
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
	ST_DAG_SET_PAUSED,
	ST_DAG_PAUSED_ALL,
	ST_TI_STATES,
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
	ST_OFFER_CLAIM,
	ST_OFFER_END,
	ST_OFFER_KILL,
	ST_OFFER_DROP,
	ST_OFFER_BY_COORDINATOR,
	ST_OFFER_BY_RUNNER,
	ST_OFFER_BY_RUN,
	ST_OFFER_ADOPT,
	ST_COUNT
};

#define DELIVERY_COLS "id, kind, event, run_id, dag_id, task_id, idx, try, workspace, command," \
	" payload, state, owner, attempts, created_at, started_at, ended_at, exit_code, log_path, note"
#define RUN_COLS "run_id, dag_id, state, params, created_at, started_at, ended_at, reason, owner," \
		 " seq, vars, triggered_by, scheduled_for"

/* spec last: only a claim reads it */
#define OFFER_COLS "run_id, task_id, idx, try, coordinator, runner, runner_host, state, status," \
		   " kill, claimed_at, ended_at, reason"
#define OFFER_KEY "run_id = $1 AND task_id = $2 AND idx = $3"

/* A statement whose last parameter is the change number says so in `seq_last`. */
static const struct {
	const char *sql;
	int seq_last;
} stmts[ST_COUNT] = {
	[ST_NEXT_SEQ] = { "UPDATE meta SET v = v + 1 WHERE k = 'seq' RETURNING v", 0 },
	[ST_SEQ] = { "SELECT v FROM meta WHERE k = 'seq'", 0 },
	/* The variable snapshot is taken by the insert itself: the run sees what was committed. */
	[ST_RUN_INSERT] = { "INSERT INTO runs(run_id, dag_id, state, params, created_at, owner, vars,"
			    " triggered_by, scheduled_for, seq)"
			    " VALUES($1, $2, 'queued', $3, $4, $5, coalesce($6::text, (SELECT"
			    " coalesce(json_object_agg(key, value ORDER BY key)::text, '{}') FROM vars)),"
			    " $7, $8, $9) ON CONFLICT DO NOTHING", 1 },
	[ST_RUN_GET] = { "SELECT " RUN_COLS " FROM runs WHERE run_id = $1", 0 },
	[ST_RUN_SET_STATE] = { "UPDATE runs SET state = $2, started_at = $3, ended_at = $4,"
			       " reason = $5, seq = $6 WHERE run_id = $1", 1 },
	[ST_RUN_CLAIM] = { "UPDATE runs SET owner = $3, seq = $4"
			   " WHERE run_id = $1 AND owner IS NOT DISTINCT FROM $2", 1 },
	[ST_TI_PUT] = { "INSERT INTO tis(run_id, task_id, idx, state, try, exit_code, started_at,"
			" ended_at, next_try_at, max_tries, item, reason, cached, seq)"
			" VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
			" ON CONFLICT(run_id, task_id, idx) DO UPDATE SET state = EXCLUDED.state,"
			" try = EXCLUDED.try, exit_code = EXCLUDED.exit_code,"
			" started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"
			" next_try_at = EXCLUDED.next_try_at, max_tries = EXCLUDED.max_tries,"
			" item = EXCLUDED.item, reason = EXCLUDED.reason, cached = EXCLUDED.cached,"
			" seq = EXCLUDED.seq", 1 },
	[ST_TI_DELETE] = { "DELETE FROM tis WHERE run_id = $1 AND task_id = $2 AND idx = $3", 0 },
	[ST_TI_LIST] = { "SELECT task_id, idx, state, try, exit_code, started_at, ended_at,"
			 " next_try_at, max_tries, item, reason, seq, cached FROM tis WHERE run_id = $1"
			 " ORDER BY task_id, idx", 0 },
	[ST_TRY_PUT] = { "INSERT INTO tries(run_id, task_id, idx, try, started_at, ended_at,"
			 " exit_code, log_path, pid, pid_start, reason)"
			 " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
			 " ON CONFLICT(run_id, task_id, idx, try) DO UPDATE SET"
			 " started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"
			 " exit_code = EXCLUDED.exit_code, log_path = EXCLUDED.log_path,"
			 " pid = EXCLUDED.pid, pid_start = EXCLUDED.pid_start, reason = EXCLUDED.reason", 0 },
	[ST_TRY_LIST] = { "SELECT try, started_at, ended_at, exit_code, log_path, pid, pid_start,"
			  " reason FROM tries WHERE run_id = $1 AND task_id = $2 AND idx = $3"
			  " ORDER BY try", 0 },
	[ST_VAR_GET] = { "SELECT value FROM vars WHERE key = $1", 0 },
	[ST_VAR_SET] = { "INSERT INTO vars(key, value) VALUES($1, $2)"
			 " ON CONFLICT(key) DO UPDATE SET value = EXCLUDED.value", 0 },
	[ST_VAR_UNSET] = { "DELETE FROM vars WHERE key = $1", 0 },
	[ST_VAR_ALL] = { "SELECT key, value FROM vars ORDER BY key", 0 },
	[ST_VAR_HISTORY_ADD] = { "INSERT INTO var_history(key, old, new, at, source, runs)"
				 " VALUES($1, $2, $3, $4, $5, $6)", 0 },
	[ST_VAR_HISTORY] = { "SELECT id, key, old, new, at, source, runs FROM var_history"
			     " WHERE key = $1 ORDER BY id", 0 },
	[ST_REQ_ADD] = { "INSERT INTO requests(run_id, kind, task_id, downstream, created_at)"
			 " VALUES($1, $2, $3, $4, $5)", 0 },
	[ST_REQ_LIST_RUN] = { "SELECT id, run_id, kind, task_id, downstream FROM requests"
			      " WHERE run_id = $1 ORDER BY id", 0 },
	[ST_REQ_LIST_ALL] = { "SELECT id, run_id, kind, task_id, downstream FROM requests ORDER BY id", 0 },
	[ST_REQ_DONE] = { "DELETE FROM requests WHERE id = $1", 0 },
	[ST_CHANGES] = { "SELECT seq, run_id, dag_id, NULL::text, -1, state, 0 FROM runs WHERE seq > $1"
			 " UNION ALL"
			 " SELECT t.seq, t.run_id, r.dag_id, t.task_id, t.idx, t.state, t.try"
			 " FROM tis t JOIN runs r ON r.run_id = t.run_id WHERE t.seq > $1"
			 " ORDER BY 1 LIMIT $2", 0 },
	[ST_DAG_SET_PAUSED] = { "INSERT INTO dag_flags(dag_id, paused) VALUES($1, $2)"
				" ON CONFLICT(dag_id) DO UPDATE SET paused = EXCLUDED.paused", 0 },
	[ST_DAG_PAUSED_ALL] = { "SELECT dag_id FROM dag_flags WHERE paused <> 0", 0 },
	[ST_TI_STATES] = { "SELECT state, count(*) FROM tis GROUP BY state", 0 },
	[ST_METRICS_DELETE] = { "DELETE FROM metrics WHERE run_id = $1 AND task_id = $2 AND idx = $3", 0 },
	[ST_METRICS_INSERT] = { "INSERT INTO metrics(run_id, task_id, idx, line, try, item, data)"
				" VALUES($1, $2, $3, $4, $5, $6, $7)", 0 },
	[ST_PROV_PUT] = { "INSERT INTO provenance(run_id, task_id, idx, doc) VALUES($1, $2, $3, $4)"
			  " ON CONFLICT(run_id, task_id, idx) DO UPDATE SET doc = EXCLUDED.doc", 0 },
	[ST_PROV_GET] = { "SELECT doc FROM provenance WHERE run_id = $1 AND task_id = $2 AND idx = $3", 0 },
	[ST_PROV_LIST] = { "SELECT task_id, idx, doc FROM provenance WHERE run_id = $1"
			   " ORDER BY task_id, idx", 0 },
	[ST_METRICS_EACH] = { "SELECT task_id, idx, item, data FROM metrics WHERE run_id = $1"
			      " ORDER BY task_id, idx, line", 0 },
	[ST_FILE_PUT] = { "INSERT INTO files(rel, ident, dir, state, seen_at, note)"
			  " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(rel) DO UPDATE SET"
			  " ident = EXCLUDED.ident, dir = EXCLUDED.dir, state = EXCLUDED.state,"
			  " seen_at = EXCLUDED.seen_at, note = EXCLUDED.note", 0 },
	[ST_FILE_LIST] = { "SELECT rel, ident, dir, state, seen_at, note FROM files"
			   " ORDER BY rel COLLATE \"C\"", 0 },
	[ST_ARRIVAL_ATTEMPT] = { "SELECT max(attempt) FROM arrivals WHERE dag_id = $1 AND rel = $2"
				 " AND ident = $3", 0 },
	[ST_ARRIVAL_INSERT] = { "INSERT INTO arrivals(dag_id, rel, ident, attempt, state, run_id,"
				" params, at, note) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)", 0 },
	[ST_ARRIVAL_SEEN] = { "SELECT 1 FROM arrivals WHERE dag_id = $1 AND rel = $2 LIMIT 1", 0 },
	[ST_ARRIVAL_LIST] = { "SELECT dag_id, rel, ident, attempt, state, run_id, params, at, note"
			      " FROM arrivals WHERE ($1::text IS NULL OR dag_id = $1)"
			      " AND ($2::text IS NULL OR state = $2)"
			      " ORDER BY rel COLLATE \"C\", dag_id, ident, attempt", 0 },
	[ST_ARRIVAL_GET] = { "SELECT params FROM arrivals WHERE dag_id = $1 AND rel = $2"
			     " AND ident = $3 AND attempt = $4 AND state = 'pending' FOR UPDATE", 0 },
	[ST_ARRIVAL_SET] = { "UPDATE arrivals SET state = 'run', run_id = $5 WHERE dag_id = $1"
			     " AND rel = $2 AND ident = $3 AND attempt = $4 AND state = 'pending'", 0 },
	[ST_LEASE_TAKE] = { "INSERT INTO schedulers(epoch, host, pid, owner, started_at, beat_at,"
			    " ttl_ms, grace_ms) SELECT e, $1, $2, $3::text || '#' || e, " DB_NOW_MS ", "
			    DB_NOW_MS ", $4::bigint, $5::bigint"
			    " FROM nextval('schedulers_epoch_seq') e RETURNING epoch", 0 },
	[ST_LEASE_BEAT] = { "UPDATE schedulers SET beat_at = " DB_NOW_MS ", duties = $2"
			    " WHERE epoch = $1", 0 },
	[ST_LEASE_DROP] = { "DELETE FROM schedulers WHERE epoch = $1", 0 },
	[ST_LEASE_LIST] = { "SELECT epoch, host, pid, owner, started_at, beat_at, " DB_NOW_MS
			    " - beat_at, duties, (SELECT count(*) FROM runs r WHERE r.owner = l.owner"
			    " AND r.state IN ('queued', 'running')), ttl_ms, grace_ms,"
			    " (SELECT count(*) FROM offers o WHERE o.runner = l.owner AND o.state = 1)"
			    " FROM schedulers l WHERE $1 = 0 OR epoch = $1 ORDER BY epoch", 0 },
	[ST_DELIVERY_ADD] = { "INSERT INTO deliveries(kind, event, run_id, dag_id, task_id, idx, try,"
			      " workspace, command, payload, state, owner, attempts, created_at,"
			      " started_at, ended_at, exit_code, log_path, note) VALUES($1, $2, $3, $4,"
			      " $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, 0, $14, $15, NULL, $16)"
			      " RETURNING id", 0 },
	[ST_DELIVERY_LIST] = { "SELECT * FROM (SELECT " DELIVERY_COLS " FROM deliveries"
			       " WHERE ($1::bigint = 0 OR id = $1) AND ($2::text IS NULL OR run_id = $2)"
			       " AND ($3::text IS NULL OR kind = $3)"
			       " AND ($4::text IS NULL OR workspace = $4)"
			       " AND ($5::int = 0 OR state IN ('pending', 'running'))"
			       " ORDER BY id DESC LIMIT $6::bigint) d ORDER BY id", 0 },
	[ST_DELIVERY_CLAIM] = { "UPDATE deliveries SET owner = $4, state = 'running',"
				" attempts = attempts + 1, started_at = $5, ended_at = 0, exit_code = -1"
				" WHERE id = (SELECT id FROM deliveries WHERE id = $1"
				" AND owner IS NOT DISTINCT FROM $2 AND state = $3"
				" FOR UPDATE SKIP LOCKED)", 0 },
	[ST_DELIVERY_END] = { "UPDATE deliveries SET state = $3, exit_code = $4, ended_at = $5,"
			      " log_path = $6, note = $7 WHERE id = $1"
			      " AND owner IS NOT DISTINCT FROM $2 AND state = 'running'", 0 },
	[ST_FIRE_INSERT] = { "INSERT INTO schedule_fires(dag_id, at) VALUES($1, $2)"
			     " ON CONFLICT DO NOTHING", 0 },
	[ST_FIRE_SET_RUN] = { "UPDATE schedule_fires SET run_id = $3 WHERE dag_id = $1 AND at = $2",
			      0 },
	[ST_FIRE_LAST] = { "SELECT max(at) FROM schedule_fires WHERE dag_id = $1", 0 },
	/* Held until commit: a DELETE of the lease (adoption) waits for this batch, or it fails. */
	[ST_LEASE_FENCE] = { "SELECT 1 FROM schedulers WHERE epoch = $1 FOR SHARE", 0 },
	[ST_LEASE_EXPIRE] = { "DELETE FROM schedulers WHERE epoch = $1 AND " DB_NOW_MS
			      " - beat_at >= $2", 0 },
	/* Lock order: runs rows, oldest first; SKIP LOCKED: claimers never wait on each other. */
	[ST_OFFER_ADD] = { "INSERT INTO offers(" OFFER_COLS ", spec) VALUES($1, $2, $3, $4, $5, NULL,"
			   " NULL, 0, -1, 0, 0, 0, NULL, $6) ON CONFLICT(run_id, task_id, idx) DO UPDATE"
			   " SET try = EXCLUDED.try, coordinator = EXCLUDED.coordinator, runner = NULL,"
			   " runner_host = NULL, state = 0, status = -1, kill = 0, claimed_at = 0,"
			   " ended_at = 0, reason = NULL, spec = EXCLUDED.spec", 0 },
	/* Lock order: instance rows by (run, task, index); SKIP LOCKED: runners never wait. */
	[ST_OFFER_CLAIM] = { "UPDATE offers o SET runner = $1, runner_host = $2, state = 1,"
			     " claimed_at = " DB_NOW_MS " FROM (SELECT run_id, task_id, idx FROM offers"
			     " WHERE state = 0 ORDER BY run_id, task_id, idx LIMIT $3 FOR UPDATE SKIP"
			     " LOCKED) c WHERE o.run_id = c.run_id AND o.task_id = c.task_id"
			     " AND o.idx = c.idx RETURNING o.run_id, o.task_id, o.idx, o.try,"
			     " o.coordinator, o.runner, o.runner_host, o.state, o.status, o.kill,"
			     " o.claimed_at, o.ended_at, o.reason, o.spec", 0 },
	[ST_OFFER_END] = { "UPDATE offers SET state = 2, status = $6, ended_at = $7, reason = $8"
			   " WHERE " OFFER_KEY " AND try = $4 AND runner = $5 AND state = 1", 0 },
	[ST_OFFER_KILL] = { "UPDATE offers SET kill = GREATEST(kill, $5) WHERE " OFFER_KEY
			    " AND try = $4", 0 },
	[ST_OFFER_DROP] = { "DELETE FROM offers WHERE " OFFER_KEY " AND try = $4"
			    " AND ($5::text IS NULL OR (runner = $5 AND state = 1))", 0 },
	[ST_OFFER_BY_COORDINATOR] = { "SELECT " OFFER_COLS " FROM offers WHERE coordinator = $1"
				      " ORDER BY run_id, task_id, idx", 0 },
	[ST_OFFER_BY_RUNNER] = { "SELECT " OFFER_COLS " FROM offers WHERE runner = $1 AND state = 1"
				 " ORDER BY run_id, task_id, idx", 0 },
	[ST_OFFER_BY_RUN] = { "SELECT " OFFER_COLS " FROM offers WHERE run_id = $1"
			      " ORDER BY run_id, task_id, idx", 0 },
	[ST_OFFER_ADOPT] = { "UPDATE offers SET coordinator = $2 WHERE run_id = $1", 0 },
	[ST_RUN_CLAIM_QUEUED] = { "SELECT run_id FROM runs WHERE state = 'queued' AND owner IS NULL"
				  " ORDER BY created_at, run_id LIMIT $1 FOR UPDATE SKIP LOCKED", 0 },
};

struct pg_store {
	struct store base;
	PGconn *conn;
	char *shown;            /* the url with its password hidden, for messages */
	unsigned char prepared[ST_COUNT];
	int depth;              /* nesting of store_begin() */
	int failed;             /* a statement inside the open transaction failed */
	int wrote;              /* the open transaction wrote: NOTIFY at commit */
	int64_t seq;            /* this transaction's change number, 0 = not taken yet */
	int lost;               /* the connection broke; reconnecting with back-off */
	int64_t retry_at;       /* monotonic ms: no reconnect before */
	int64_t backoff_ms;
	unsigned back_seen;     /* back_gen when this connection was lost */
	int notified;           /* changed_elsewhere() must say yes once (opened, reconnected) */
};

/* Positional text parameters of one statement. */
struct pgargs {
	int n;
	const char *v[MAX_ARGS];
	char num[MAX_ARGS][24];
};

static void arg_text(struct pgargs *a, const char *s)
{
	if (a->n >= MAX_ARGS)
		BUG("too many statement parameters");
	a->v[a->n++] = s;
}

static void arg_int(struct pgargs *a, int64_t x)
{
	if (a->n >= MAX_ARGS)
		BUG("too many statement parameters");
	snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", (long long)x);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

static struct pg_store *ps(struct store *s)
{
	return (struct pg_store *)s;
}

/* libpq's messages end with a newline; ours do not. */
static const char *pq_msg(const char *m)
{
	static __thread char buf[512];
	size_t n;

	if (!m || !*m)
		return "unknown error";
	n = strlen(m);
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, m, n);
	buf[n] = '\0';
	return buf;
}

static int db_error(struct pg_store *q, const char *what, const PGresult *res)
{
	const char *m = res ? PQresultErrorMessage(res) : "";
	if (!*m)
		m = PQerrorMessage(q->conn);
	return store_error(&q->base, q->shown, what, pq_msg(m));
}

static int result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static PGconn *connect_url(const char *url)
{
	/*
	 * Keywords before dbname are defaults the url may override: a dead host
	 * must not hang the scheduler for the kernel's TCP timeout.
	 */
	static const char *const keys[] = { "connect_timeout", "fallback_application_name", "dbname", NULL };
	const char *vals[] = { "10", "synthflow", url, NULL };
	return PQconnectdbParams(keys, vals, 1);
}

/*
 * Each connection, also after a reconnect: the change feed, and a limit on
 * how long a transaction may sit idle.  A scheduler stopped (SIGSTOP, a
 * stall, a partition) inside a batch would otherwise hold its row locks and
 * the FOR SHARE on its lease for ever, and the scheduler taking its runs over
 * (15 s after its last heartbeat, sched.h) would wait on them: the server
 * ends such a session after 8 s, so the locks are gone before that, and the
 * batch is lost (and fenced when its writer wakes) instead of written late.
 */
static int listen_changes(struct pg_store *q)
{
	PGresult *res = PQexec(q->conn, "SET idle_in_transaction_session_timeout = 8000;"
					" LISTEN synthflow");
	int ok = result_ok(res);
	if (!ok)
		db_error(q, "listening for changes", res);
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * Bumped by every reconnect that succeeds.  Each connection backs off on
 * its own (serve's web threads have one each, the scheduler one), and a
 * web thread that tried during an outage could otherwise answer 500 for up
 * to BACKOFF_MAX_MS after the database is back: once one connection of the
 * process is through, the others try at their next use.
 */
static atomic_uint back_gen;

/*
 * Notes that the connection broke: reconnecting starts at the next use, at
 * once (retry_at 0), then backs off.  Only this; the caller that saw the
 * failure decides whether to try again (a statement outside a transaction
 * is tried once more, a transaction is lost).  Reconnecting here would hide
 * the loss from that caller: a stale connection (the server restarted while
 * it sat idle) would fail its first statement though a fresh one was at hand.
 */
static void mark_lost(struct pg_store *q)
{
	if (q->lost)
		return;
	q->lost = 1;
	q->backoff_ms = BACKOFF_MIN_MS;
	q->retry_at = 0;
	q->back_seen = atomic_load(&back_gen);
	error("store '%s': connection lost: %s; reconnecting", q->shown,
	      pq_msg(PQerrorMessage(q->conn)));
}

/*
 * A usable connection, reconnecting after a loss at most once per back-off
 * interval (or at once when another connection of this process got through).
 * Only outside a transaction: one that was open is lost.
 */
static int ensure_conn(struct pg_store *q)
{
	int64_t now;

	if (PQstatus(q->conn) == CONNECTION_OK && !q->lost)
		return 0;
	mark_lost(q);
	if (q->depth)
		return -1;
	now = time_mono_ms();
	if (now < q->retry_at && atomic_load(&back_gen) == q->back_seen)
		return -1;
	q->back_seen = atomic_load(&back_gen);
	PQreset(q->conn);
	if (PQstatus(q->conn) != CONNECTION_OK || listen_changes(q) < 0) {
		q->retry_at = now + q->backoff_ms;
		q->backoff_ms = q->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : q->backoff_ms * 2;
		return -1;
	}
	memset(q->prepared, 0, sizeof(q->prepared));
	q->lost = 0;
	atomic_fetch_add(&back_gen, 1);
	q->notified = 1; /* notifications sent while we were away are gone */
	note("store '%s': connected again", q->shown);
	return 0;
}

/* After a failed statement: was it the connection? */
static void check_lost(struct pg_store *q)
{
	if (PQstatus(q->conn) != CONNECTION_OK)
		mark_lost(q);
}

/*
 * Runs statement `id` (prepared once per connection), or with id < 0 the
 * one-off `sql` (built at run time); NULL after reporting.  A statement
 * outside a transaction is tried again once on a fresh connection.
 */
static PGresult *exec_retry(struct pg_store *q, int id, const char *sql, int n,
			    const char *const *vals, const char *what)
{
	char name[16];
	PGresult *res;

	snprintf(name, sizeof(name), "sf%d", id);
	for (int attempt = 0;; attempt++) {
		const char *doing = what;
		if (ensure_conn(q) < 0)
			break;
		res = NULL;
		if (id >= 0 && !q->prepared[id]) {
			res = PQprepare(q->conn, name, stmts[id].sql, 0, NULL);
			if (result_ok(res)) {
				PQclear(res);
				res = NULL;
				q->prepared[id] = 1;
			} else {
				doing = "preparing a statement";
			}
		}
		if (!res)
			res = id >= 0 ? PQexecPrepared(q->conn, name, n, vals, NULL, NULL, 0)
				      : PQexecParams(q->conn, sql, n, NULL, vals, NULL, NULL, 0);
		if (result_ok(res))
			return res;
		check_lost(q);
		if (!q->lost)
			db_error(q, doing, res);
		PQclear(res);
		if (q->lost && !q->depth && !attempt)
			continue;
		break;
	}
	if (q->depth)
		q->failed = 1;
	return NULL;
}

static PGresult *exec_stmt(struct pg_store *q, enum stmt_id id, const struct pgargs *a,
			   const char *what)
{
	return exec_retry(q, (int)id, NULL, a ? a->n : 0, a ? a->v : NULL, what);
}

static PGresult *exec_params(struct pg_store *q, const char *sql, int n, const char *const *vals,
			     const char *what)
{
	return exec_retry(q, -1, sql, n, vals, what);
}

static PGresult *exec_sql(struct pg_store *q, const char *sql, const struct pgargs *a,
			  const char *what)
{
	return exec_params(q, sql, a ? a->n : 0, a ? a->v : NULL, what);
}

static int exec_simple(struct pg_store *q, const char *sql, const char *what)
{
	PGresult *res = PQexec(q->conn, sql);
	int ok = result_ok(res);
	if (!ok) {
		check_lost(q);
		if (!q->lost)
			db_error(q, what, res);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

static int64_t get_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static char *get_str(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

static const char *get_cstr(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static json_t *get_json(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : json_loads(PQgetvalue(res, row, col), 0, NULL);
}

/* How the rows of a list op become the elements of its array. */
struct row_type {
	size_t size;                                            /* of one element */
	void (*fill)(const PGresult *res, int row, void *elem); /* elem is zeroed */
};

/*
 * The one list builder: the rows of res (a query's result, cleared here; NULL
 * when the query failed and said so) as an array of t's elements, *v
 * (malloc'd; NULL when there are none, as the SQLite store gives) and *n.
 */
static int list_rows(PGresult *res, const struct row_type *t, void **v, size_t *n)
{
	size_t rows;

	*v = NULL;
	*n = 0;
	if (!res)
		return -1;
	rows = (size_t)PQntuples(res);
	if (rows)
		*v = xcalloc(rows, t->size);
	for (size_t i = 0; i < rows; i++)
		t->fill(res, (int)i, (char *)*v + i * t->size);
	*n = rows;
	PQclear(res);
	return 0;
}

/* ---- transactions ---- */

static int pg_begin(struct store *s)
{
	struct pg_store *q = ps(s);
	if (q->depth) {
		q->depth++;
		return 0;
	}
	q->failed = 0;
	q->wrote = 0;
	q->seq = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (ensure_conn(q) < 0)
			return -1;
		if (exec_simple(q, "BEGIN", "starting a transaction") == 0) {
			q->depth = 1;
			return 0;
		}
		if (!q->lost)
			break;
	}
	return -1;
}

static void pg_rollback(struct store *s)
{
	struct pg_store *q = ps(s);
	if (!q->depth)
		return;
	if (--q->depth) {
		q->failed = 1; /* the outermost commit must not keep a partial batch */
		return;
	}
	q->seq = 0;
	if (PQstatus(q->conn) == CONNECTION_OK &&
	    PQtransactionStatus(q->conn) != PQTRANS_IDLE)
		exec_simple(q, "ROLLBACK", "rolling back");
}

static int pg_commit(struct store *s)
{
	struct pg_store *q = ps(s);
	PGresult *res;
	int ok;

	if (!q->depth)
		BUG("store_commit without store_begin");
	if (--q->depth)
		return 0;
	q->seq = 0;
	if (q->failed) {
		q->depth = 1;
		pg_rollback(s);
		return error("store '%s': transaction rolled back after an earlier error", q->shown);
	}
	/* One round trip: the notification is sent only if the commit succeeds. */
	res = PQexec(q->conn, q->wrote ? "NOTIFY synthflow; COMMIT" : "COMMIT");
	ok = result_ok(res) && !strcmp(PQcmdStatus(res), "COMMIT");
	if (!ok) {
		check_lost(q);
		if (q->lost)
			error("store '%s': the connection broke while committing; the transaction "
			      "is lost", q->shown);
		else
			db_error(q, "committing", res);
	}
	PQclear(res);
	if (!ok) {
		q->depth = 1;
		pg_rollback(s);
		return -1;
	}
	store_written(s);
	return 0;
}

/* The change number of the open transaction, taken on its first write. */
static int64_t cur_seq(struct pg_store *q)
{
	PGresult *res;
	if (q->seq)
		return q->seq;
	res = exec_stmt(q, ST_NEXT_SEQ, NULL, "taking a change number");
	if (!res)
		return -1;
	if (PQntuples(res) == 1)
		q->seq = get_int(res, 0, 0);
	PQclear(res);
	if (!q->seq) {
		q->failed = 1;
		error("store '%s': the change number is missing", q->shown);
		return -1;
	}
	return q->seq;
}

/*
 * Every write goes through here: inside the caller's transaction, or one
 * of its own.  *changed (may be NULL) gets the number of rows touched.
 */
static int write_stmt(struct pg_store *q, enum stmt_id id, struct pgargs *a, const char *what,
		      long *changed)
{
	PGresult *res;

	if (pg_begin(&q->base) < 0)
		return -1;
	if (stmts[id].seq_last) {
		int64_t seq = cur_seq(q);
		if (seq < 0) {
			pg_rollback(&q->base);
			return -1;
		}
		arg_int(a, seq);
	}
	res = exec_stmt(q, id, a, what);
	if (!res) {
		pg_rollback(&q->base);
		return -1;
	}
	q->wrote = 1;
	if (changed)
		*changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return pg_commit(&q->base);
}

/* ---- opening, schema ---- */

static int migrate(struct pg_store *q)
{
	PGresult *res;
	int version = 0;
	struct pgargs a = { 0 };

	if (pg_begin(&q->base) < 0)
		return -1;
	arg_int(&a, MIGRATE_LOCK_KEY);
	res = exec_sql(q, "SELECT pg_advisory_xact_lock($1)", &a, "locking for a schema migration");
	if (!res)
		goto fail;
	PQclear(res);
	if (exec_simple(q, "CREATE TABLE IF NOT EXISTS schema_version(v INTEGER NOT NULL)",
			"creating the schema version") < 0)
		goto fail;
	res = exec_sql(q, "SELECT v FROM schema_version", NULL, "reading the schema version");
	if (!res)
		goto fail;
	if (PQntuples(res))
		version = (int)get_int(res, 0, 0);
	PQclear(res);
	if (version > (int)ARRAY_SIZE(migrations)) {
		error("store '%s' has schema version %d, newer than this synthflow knows (%d)",
		      q->shown, version, (int)ARRAY_SIZE(migrations));
		goto fail;
	}
	if (version == (int)ARRAY_SIZE(migrations)) {
		pg_rollback(&q->base);
		return 0;
	}
	for (int v = version; v < (int)ARRAY_SIZE(migrations); v++) {
		char what[64];
		snprintf(what, sizeof(what), "migrating to schema version %d", v + 1);
		if (exec_simple(q, migrations[v], what) < 0)
			goto fail;
	}
	a.n = 0;
	arg_int(&a, (int64_t)ARRAY_SIZE(migrations));
	res = exec_sql(q,
		       version ? "UPDATE schema_version SET v = $1"
			       : "INSERT INTO schema_version(v) VALUES($1)",
		       &a, "writing the schema version");
	if (!res)
		goto fail;
	PQclear(res);
	return pg_commit(&q->base);
fail:
	q->failed = 1;
	pg_rollback(&q->base);
	return -1;
}


static void pg_close(struct store *s)
{
	struct pg_store *q = ps(s);
	PQfinish(q->conn);
	free(q->shown);
	free(q);
}

struct store *store_pg_open(const char *url)
{
	struct pg_store *q = xcalloc(1, sizeof(*q));

	q->base.ops = &store_pg_ops;
	q->shown = store_url_redact(url);
	q->conn = connect_url(url);
	if (!q->conn) {
		error("cannot open store '%s': out of memory", q->shown);
		pg_close(&q->base);
		return NULL;
	}
	if (PQstatus(q->conn) != CONNECTION_OK) {
		error("cannot open store '%s': %s", q->shown, pq_msg(PQerrorMessage(q->conn)));
		pg_close(&q->base);
		return NULL;
	}
	/* Our messages, not the server's NOTICEs ("relation already exists, skipping"). */
	if (exec_simple(q, "SET client_min_messages = warning", "opening") < 0 ||
	    migrate(q) < 0 || listen_changes(q) < 0) {
		store_close(&q->base); /* also the error store_error() kept */
		return NULL;
	}
	q->notified = 1;
	return &q->base;
}

/* ---- runs ---- */

static int pg_run_create(struct store *s, const char *dag_id, json_t *params, json_t *vars,
			 const char *owner, const char *trigger, char **run_id)
{
	struct pg_store *q = ps(s);
	char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
	char *vtext = vars ? json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int ret = -1;

	/* 24 random bits per second: retry the rare collision with a fresh id. */
	for (int attempt = 0; attempt < 8; attempt++) {
		struct pgargs a = { 0 };
		char *id = store_new_run_id();
		long changed = 0;

		arg_text(&a, id);
		arg_text(&a, dag_id);
		arg_text(&a, text ? text : "{}");
		arg_int(&a, time_now_ms());
		arg_text(&a, owner);
		arg_text(&a, vtext); /* $6; the change number is $9 */
		arg_text(&a, trigger);
		arg_int(&a, 0);
		if (write_stmt(q, ST_RUN_INSERT, &a, "creating a run", &changed) < 0) {
			free(id);
			break;
		}
		if (changed) {
			*run_id = id;
			ret = 0;
			break;
		}
		free(id);
	}
	free(text);
	free(vtext);
	return ret;
}

static void run_from_row(const PGresult *res, int row, struct store_run *r)
{
	const char *params = get_cstr(res, row, 3);
	enum run_state state = RUN_FAILED;

	memset(r, 0, sizeof(*r));
	r->run_id = get_str(res, row, 0);
	r->dag_id = get_str(res, row, 1);
	run_state_parse(get_cstr(res, row, 2), &state);
	r->state = state;
	r->params = params ? json_loads(params, 0, NULL) : NULL;
	if (!r->params)
		r->params = json_object();
	r->created_at = get_int(res, row, 4);
	r->started_at = get_int(res, row, 5);
	r->ended_at = get_int(res, row, 6);
	r->reason = get_str(res, row, 7);
	r->owner = get_str(res, row, 8);
	r->seq = get_int(res, row, 9);
	r->vars = PQgetisnull(res, row, 10) ? NULL : json_loads(PQgetvalue(res, row, 10), 0, NULL);
	r->trigger = get_str(res, row, 11);
	r->scheduled_for = get_int(res, row, 12);
}

static void fill_run(const PGresult *res, int row, void *elem)
{
	run_from_row(res, row, elem);
}

static const struct row_type run_rows = { sizeof(struct store_run), fill_run };

static int pg_run_get(struct store *s, const char *run_id, struct store_run *out)
{
	struct pg_store *q = ps(s);
	struct pgargs a = { 0 };
	PGresult *res;
	int ret;

	arg_text(&a, run_id);
	res = exec_stmt(q, ST_RUN_GET, &a, "reading a run");
	if (!res)
		return -1;
	ret = PQntuples(res) ? 0 : STORE_NOT_FOUND;
	if (!ret)
		run_from_row(res, 0, out);
	PQclear(res);
	return ret;
}

/* The WHERE clause of a run filter, its values appended to a. */
static void filter_sql(const struct store_run_filter *f, struct strbuf *sb, struct pgargs *a)
{
	sb_adds(sb, " WHERE true");
	if (f->dag_id) {
		arg_text(a, f->dag_id);
		sb_addf(sb, " AND dag_id = $%d", a->n);
	}
	if (f->trigger) {
		arg_text(a, f->trigger);
		sb_addf(sb, " AND triggered_by = $%d", a->n);
	}
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

static int pg_run_list(struct store *s, const struct store_run_filter *f, struct store_run **runs,
		       size_t *n, size_t *total)
{
	struct pg_store *q = ps(s);
	struct strbuf sql = STRBUF_INIT;
	struct pgargs a = { 0 };
	PGresult *res;
	void *v;
	int ret;

	*runs = NULL;
	*n = 0;
	if (total) {
		sb_adds(&sql, "SELECT count(*) FROM runs");
		filter_sql(f, &sql, &a);
		res = exec_sql(q, sql.buf, &a, "counting runs");
		sb_release(&sql);
		if (!res)
			return -1;
		*total = (size_t)get_int(res, 0, 0);
		PQclear(res);
		a.n = 0;
	}
	sb_adds(&sql, "SELECT " RUN_COLS " FROM runs");
	filter_sql(f, &sql, &a);
	sb_adds(&sql, " ORDER BY created_at DESC, run_id DESC");
	if (f->limit)
		sb_addf(&sql, " LIMIT %zu", f->limit);
	sb_addf(&sql, " OFFSET %zu", f->offset);
	res = exec_sql(q, sql.buf, &a, "listing runs");
	sb_release(&sql);
	ret = list_rows(res, &run_rows, &v, n);
	*runs = v;
	return ret;
}

static int pg_run_set_state(struct store *s, const char *run_id, enum run_state state,
			    int64_t started_at, int64_t ended_at, const char *reason)
{
	struct pgargs a = { 0 };
	arg_text(&a, run_id);
	arg_text(&a, run_state_name(state));
	arg_int(&a, started_at);
	arg_int(&a, ended_at);
	arg_text(&a, reason);
	return write_stmt(ps(s), ST_RUN_SET_STATE, &a, "setting a run's state", NULL);
}

static int pg_run_claim(struct store *s, const char *run_id, const char *expect, const char *owner)
{
	struct pgargs a = { 0 };
	long changed = 0;
	arg_text(&a, run_id);
	arg_text(&a, expect);
	arg_text(&a, owner);
	if (write_stmt(ps(s), ST_RUN_CLAIM, &a, "claiming a run", &changed) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

/* ---- task instances ---- */

static int pg_ti_put(struct store *s, const char *run_id, const struct store_ti *ti)
{
	struct pgargs a = { 0 };
	arg_text(&a, run_id);
	arg_text(&a, ti->task_id);
	arg_int(&a, ti->index);
	arg_text(&a, ti_state_name(ti->state));
	arg_int(&a, ti->try_number);
	arg_int(&a, ti->exit_code);
	arg_int(&a, ti->started_at);
	arg_int(&a, ti->ended_at);
	arg_int(&a, ti->next_try_at);
	arg_int(&a, ti->max_tries);
	arg_text(&a, ti->item);
	arg_text(&a, ti->reason);
	arg_int(&a, ti->cached);
	return write_stmt(ps(s), ST_TI_PUT, &a, "writing a task instance", NULL);
}

static int pg_ti_delete(struct store *s, const char *run_id, const char *task_id, int index)
{
	struct pgargs a = { 0 };
	arg_text(&a, run_id);
	arg_text(&a, task_id);
	arg_int(&a, index);
	return write_stmt(ps(s), ST_TI_DELETE, &a, "deleting a task instance", NULL);
}

static void fill_ti(const PGresult *res, int i, void *elem)
{
	struct store_ti *ti = elem;
	enum ti_state state = TI_FAILED;

	ti->task_id = get_str(res, i, 0);
	ti->index = (int)get_int(res, i, 1);
	ti_state_parse(get_cstr(res, i, 2), &state);
	ti->state = state;
	ti->try_number = (int)get_int(res, i, 3);
	ti->exit_code = (int)get_int(res, i, 4);
	ti->started_at = get_int(res, i, 5);
	ti->ended_at = get_int(res, i, 6);
	ti->next_try_at = get_int(res, i, 7);
	ti->max_tries = (int)get_int(res, i, 8);
	ti->item = get_str(res, i, 9);
	ti->reason = get_str(res, i, 10);
	ti->seq = get_int(res, i, 11);
	ti->cached = (int)get_int(res, i, 12);
}

static const struct row_type ti_rows = { sizeof(struct store_ti), fill_ti };

static int pg_ti_list(struct store *s, const char *run_id, struct store_ti **tis, size_t *n)
{
	struct pgargs a = { 0 };
	void *v;
	int ret;

	arg_text(&a, run_id);
	ret = list_rows(exec_stmt(ps(s), ST_TI_LIST, &a, "listing task instances"), &ti_rows, &v, n);
	*tis = v;
	return ret;
}

/* ---- tries ---- */

static int pg_try_put(struct store *s, const char *run_id, const char *task_id, int index,
		      const struct store_try *t)
{
	struct pgargs a = { 0 };
	arg_text(&a, run_id);
	arg_text(&a, task_id);
	arg_int(&a, index);
	arg_int(&a, t->try_number);
	arg_int(&a, t->started_at);
	arg_int(&a, t->ended_at);
	arg_int(&a, t->exit_code);
	arg_text(&a, t->log_path);
	arg_int(&a, t->pid);
	arg_int(&a, (int64_t)t->pid_start);
	arg_text(&a, t->reason);
	return write_stmt(ps(s), ST_TRY_PUT, &a, "writing a try", NULL);
}

static void fill_try(const PGresult *res, int i, void *elem)
{
	struct store_try *t = elem;

	t->try_number = (int)get_int(res, i, 0);
	t->started_at = get_int(res, i, 1);
	t->ended_at = get_int(res, i, 2);
	t->exit_code = (int)get_int(res, i, 3);
	t->log_path = get_str(res, i, 4);
	t->pid = (pid_t)get_int(res, i, 5);
	t->pid_start = (uint64_t)get_int(res, i, 6);
	t->reason = get_str(res, i, 7);
}

static const struct row_type try_rows = { sizeof(struct store_try), fill_try };

static int pg_try_list(struct store *s, const char *run_id, const char *task_id, int index,
		       struct store_try **tries, size_t *n)
{
	struct pgargs a = { 0 };
	void *v;
	int ret;

	arg_text(&a, run_id);
	arg_text(&a, task_id);
	arg_int(&a, index);
	ret = list_rows(exec_stmt(ps(s), ST_TRY_LIST, &a, "listing tries"), &try_rows, &v, n);
	*tries = v;
	return ret;
}

/* ---- variables ---- */

static int pg_var_get(struct store *s, const char *key, char **value)
{
	struct pgargs a = { 0 };
	PGresult *res;
	int ret;

	arg_text(&a, key);
	res = exec_stmt(ps(s), ST_VAR_GET, &a, "reading a variable");
	if (!res)
		return -1;
	ret = PQntuples(res) ? 0 : STORE_NOT_FOUND;
	if (!ret)
		*value = get_str(res, 0, 0);
	PQclear(res);
	return ret;
}

static int pg_var_set(struct store *s, const char *key, const char *value)
{
	struct pgargs a = { 0 };
	arg_text(&a, key);
	arg_text(&a, value);
	return write_stmt(ps(s), ST_VAR_SET, &a, "setting a variable", NULL);
}

static int pg_var_unset(struct store *s, const char *key)
{
	struct pgargs a = { 0 };
	long changed = 0;
	arg_text(&a, key);
	if (write_stmt(ps(s), ST_VAR_UNSET, &a, "unsetting a variable", &changed) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

static int pg_var_all(struct store *s, json_t **vars)
{
	PGresult *res = exec_stmt(ps(s), ST_VAR_ALL, NULL, "listing variables");
	if (!res)
		return -1;
	*vars = json_object();
	for (int i = 0; i < PQntuples(res); i++)
		json_object_set_new(*vars, PQgetvalue(res, i, 0), json_string(PQgetvalue(res, i, 1)));
	PQclear(res);
	return 0;
}

static int pg_var_history_add(struct store *s, const struct store_var_change *c)
{
	struct pgargs a = { 0 };
	char *runs = c->runs ? json_dumps(c->runs, JSON_COMPACT) : NULL;
	int ret;

	arg_text(&a, c->key);
	arg_text(&a, c->old_value);
	arg_text(&a, c->new_value);
	arg_int(&a, c->at);
	arg_text(&a, c->source);
	arg_text(&a, runs);
	ret = write_stmt(ps(s), ST_VAR_HISTORY_ADD, &a, "recording a variable change", NULL);
	free(runs);
	return ret;
}

static void fill_var_change(const PGresult *res, int i, void *elem)
{
	struct store_var_change *c = elem;

	c->id = get_int(res, i, 0);
	c->key = get_str(res, i, 1);
	c->old_value = get_str(res, i, 2);
	c->new_value = get_str(res, i, 3);
	c->at = get_int(res, i, 4);
	c->source = get_str(res, i, 5);
	c->runs = get_json(res, i, 6);
}

static const struct row_type var_change_rows = { sizeof(struct store_var_change), fill_var_change };

static int pg_var_history(struct store *s, const char *key, struct store_var_change **v, size_t *n)
{
	struct pgargs a = { 0 };
	void *list;
	int ret;

	arg_text(&a, key);
	ret = list_rows(exec_stmt(ps(s), ST_VAR_HISTORY, &a, "reading a variable's history"),
			&var_change_rows, &list, n);
	*v = list;
	return ret;
}

/* ---- requests ---- */

static int pg_req_add(struct store *s, const char *run_id, enum store_req_kind kind,
		      const char *task_id, int downstream)
{
	struct pgargs a = { 0 };
	arg_text(&a, run_id);
	arg_text(&a, kind == REQ_CANCEL ? "cancel" : "clear");
	arg_text(&a, task_id);
	arg_int(&a, downstream);
	arg_int(&a, time_now_ms());
	return write_stmt(ps(s), ST_REQ_ADD, &a, "adding a request", NULL);
}

static void fill_req(const PGresult *res, int i, void *elem)
{
	struct store_req *r = elem;

	r->id = get_int(res, i, 0);
	r->run_id = get_str(res, i, 1);
	r->kind = strcmp(PQgetvalue(res, i, 2), "cancel") ? REQ_CLEAR : REQ_CANCEL;
	r->task_id = get_str(res, i, 3);
	r->downstream = (int)get_int(res, i, 4);
}

static const struct row_type req_rows = { sizeof(struct store_req), fill_req };

static int pg_req_list(struct store *s, const char *run_id, struct store_req **reqs, size_t *n)
{
	struct pgargs a = { 0 };
	void *v;
	int ret;

	if (run_id)
		arg_text(&a, run_id);
	ret = list_rows(exec_stmt(ps(s), run_id ? ST_REQ_LIST_RUN : ST_REQ_LIST_ALL, &a,
				  "listing requests"), &req_rows, &v, n);
	*reqs = v;
	return ret;
}

static int pg_req_done(struct store *s, int64_t id)
{
	struct pgargs a = { 0 };
	arg_int(&a, id);
	return write_stmt(ps(s), ST_REQ_DONE, &a, "removing a request", NULL);
}

/* ---- changes ---- */

static int pg_seq(struct store *s, int64_t *seq)
{
	PGresult *res = exec_stmt(ps(s), ST_SEQ, NULL, "reading the change number");
	if (!res)
		return -1;
	*seq = PQntuples(res) ? get_int(res, 0, 0) : 0;
	PQclear(res);
	return 0;
}

static int pg_changes_since(struct store *s, int64_t since, size_t limit, store_change_fn fn,
			    void *arg, int64_t *last)
{
	struct pgargs a = { 0 };
	PGresult *res;

	arg_int(&a, since);
	if (limit)
		arg_int(&a, (int64_t)limit);
	else
		arg_text(&a, NULL); /* LIMIT NULL: all */
	res = exec_stmt(ps(s), ST_CHANGES, &a, "reading changes");
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_change c = {
			.seq = get_int(res, i, 0),
			.run_id = get_cstr(res, i, 1),
			.dag_id = get_cstr(res, i, 2),
			.task_id = get_cstr(res, i, 3),
			.index = (int)get_int(res, i, 4),
			.state = get_cstr(res, i, 5),
			.try_number = (int)get_int(res, i, 6),
		};
		if (last)
			*last = c.seq;
		if (fn(&c, arg))
			break;
	}
	PQclear(res);
	return 0;
}

static int pg_changed_elsewhere(struct store *s)
{
	struct pg_store *q = ps(s);
	int changed = q->notified;
	int self = PQbackendPID(q->conn);
	PGnotify *n;

	q->notified = 0;
	if (q->lost || PQstatus(q->conn) != CONNECTION_OK || !PQconsumeInput(q->conn)) {
		/* When in doubt, make the caller look (its read reconnects). */
		q->notified = 1;
		return 1;
	}
	while ((n = PQnotifies(q->conn))) {
		if (n->be_pid != self)
			changed = 1;
		PQfreemem(n);
	}
	return changed;
}

static int pg_changes_fd(struct store *s)
{
	struct pg_store *q = ps(s);
	return q->lost ? -1 : PQsocket(q->conn);
}

/* ---- DAG flags and statistics ---- */

static int pg_dag_set_paused(struct store *s, const char *dag_id, int paused)
{
	struct pgargs a = { 0 };
	arg_text(&a, dag_id);
	arg_int(&a, !!paused);
	return write_stmt(ps(s), ST_DAG_SET_PAUSED, &a, "pausing a DAG", NULL);
}

static int pg_dag_paused_all(struct store *s, json_t **paused)
{
	PGresult *res = exec_stmt(ps(s), ST_DAG_PAUSED_ALL, NULL, "reading paused DAGs");
	if (!res)
		return -1;
	*paused = json_object();
	for (int i = 0; i < PQntuples(res); i++)
		json_object_set_new(*paused, PQgetvalue(res, i, 0), json_true());
	PQclear(res);
	return 0;
}

static int pg_ti_stats(struct store *s, struct store_ti_stats *out)
{
	struct pg_store *q = ps(s);
	struct strbuf sql = STRBUF_INIT;
	PGresult *res = exec_stmt(q, ST_TI_STATES, NULL, "counting task instances");

	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		enum ti_state t;
		if (ti_state_parse(PQgetvalue(res, i, 0), &t) == 0)
			out->by_state[t] = (uint64_t)get_int(res, i, 1);
	}
	PQclear(res);

	sb_adds(&sql, "SELECT count(*), coalesce(sum(ended_at - started_at), 0)::float8");
	for (size_t b = 0; b < STORE_DURATION_BUCKETS; b++)
		sb_addf(&sql, ", count(*) FILTER (WHERE ended_at - started_at <= %lld)",
			(long long)store_duration_bucket_ms[b]);
	sb_adds(&sql, " FROM tries WHERE ended_at > 0");
	res = exec_sql(q, sql.buf, NULL, "summing task durations");
	sb_release(&sql);
	if (!res)
		return -1;
	out->duration_count = (uint64_t)get_int(res, 0, 0);
	out->duration_sum_ms = strtod(PQgetvalue(res, 0, 1), NULL);
	for (int b = 0; b < STORE_DURATION_BUCKETS; b++)
		out->duration_le[b] = (uint64_t)get_int(res, 0, 2 + b);
	PQclear(res);
	return 0;
}

static int pg_ti_counts(struct store *s, char *const *run_ids, size_t n, store_ti_count_fn fn,
			void *arg)
{
	struct strbuf sql = STRBUF_INIT;
	const char **vals = xcalloc(n, sizeof(*vals));
	PGresult *res;

	sb_adds(&sql, "SELECT run_id, task_id, (idx >= 0)::int, state, count(*) FROM tis"
		      " WHERE run_id IN (");
	for (size_t i = 0; i < n; i++) {
		sb_addf(&sql, i ? ", $%zu" : "$%zu", i + 1);
		vals[i] = run_ids[i];
	}
	sb_adds(&sql, ") GROUP BY 1, 2, 3, 4");
	res = exec_params(ps(s), sql.buf, (int)n, vals, "counting task instances");
	sb_release(&sql);
	free(vals);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		struct store_ti_count c = {
			.run_id = PQgetvalue(res, i, 0),
			.task_id = PQgetvalue(res, i, 1),
			.foreach = (int)get_int(res, i, 2),
			.n = (size_t)get_int(res, i, 4),
		};
		if (ti_state_parse(PQgetvalue(res, i, 3), &c.state) == 0)
			fn(&c, arg);
	}
	PQclear(res);
	return 0;
}

/*
 * ---- schedulers' leases ----
 * Written outside any batch and without NOTIFY: a heartbeat every two
 * seconds is no news to the schedulers and web pages that listen.
 */

static int pg_lease_take(struct store *s, const char *host, int pid, const char *owner_prefix,
			 int64_t ttl_ms, int64_t grace_ms, int64_t *epoch)
{
	struct pgargs a = { 0 };
	PGresult *res;

	*epoch = 0;
	arg_text(&a, host);
	arg_int(&a, pid);
	arg_text(&a, owner_prefix);
	arg_int(&a, ttl_ms);
	arg_int(&a, grace_ms);
	res = exec_stmt(ps(s), ST_LEASE_TAKE, &a, "taking a scheduler lease");
	if (!res)
		return -1;
	if (PQntuples(res) == 1)
		*epoch = get_int(res, 0, 0);
	PQclear(res);
	return *epoch > 0 ? 0 : error("store '%s': no epoch for a new scheduler lease", ps(s)->shown);
}

static int pg_lease_beat(struct store *s, int64_t epoch, const char *duties)
{
	struct pgargs a = { 0 };
	PGresult *res;
	long changed;

	arg_int(&a, epoch);
	arg_text(&a, duties);
	res = exec_stmt(ps(s), ST_LEASE_BEAT, &a, "renewing a scheduler lease");
	if (!res)
		return -1;
	changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return changed ? 0 : STORE_NOT_FOUND;
}

static int pg_lease_lock(struct store *s)
{
	struct pgargs a = { 0 };
	PGresult *res;

	arg_int(&a, ELECT_LOCK_KEY);
	res = exec_sql(ps(s), "SELECT pg_advisory_xact_lock($1)", &a, "locking for an election");
	PQclear(res);
	return res ? 0 : -1;
}

static int pg_lease_drop(struct store *s, int64_t epoch)
{
	struct pgargs a = { 0 };
	PGresult *res;

	arg_int(&a, epoch);
	res = exec_stmt(ps(s), ST_LEASE_DROP, &a, "ending a scheduler lease");
	PQclear(res);
	return res ? 0 : -1;
}

static void fill_lease(const PGresult *res, int i, void *elem)
{
	struct store_lease *l = elem;

	l->epoch = get_int(res, i, 0);
	l->host = get_str(res, i, 1);
	l->pid = (int)get_int(res, i, 2);
	l->owner = get_str(res, i, 3);
	l->started_at = get_int(res, i, 4);
	l->beat_at = get_int(res, i, 5);
	l->age_ms = get_int(res, i, 6);
	l->duties = get_str(res, i, 7);
	l->runs = get_int(res, i, 8);
	l->offered = get_int(res, i, 11);
	l->ttl_ms = get_int(res, i, 9);
	l->grace_ms = get_int(res, i, 10);
}

static const struct row_type lease_rows = { sizeof(struct store_lease), fill_lease };

static int pg_lease_fence(struct store *s, int64_t epoch)
{
	struct pgargs a = { 0 };
	PGresult *res;
	int n;

	arg_int(&a, epoch);
	res = exec_stmt(ps(s), ST_LEASE_FENCE, &a, "checking this scheduler's lease");
	if (!res)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n ? 0 : STORE_NOT_FOUND;
}

static int pg_lease_expire(struct store *s, int64_t epoch, int64_t older_than_ms)
{
	struct pgargs a = { 0 };
	long changed = 0;

	arg_int(&a, epoch);
	arg_int(&a, older_than_ms);
	if (write_stmt(ps(s), ST_LEASE_EXPIRE, &a, "ending a dead scheduler's lease", &changed) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

static int pg_run_claim_queued(struct store *s, const char *owner, int64_t limit, char ***ids,
			       size_t *n)
{
	struct pg_store *q = ps(s);
	struct pgargs a = { 0 };
	PGresult *res;
	int ret = 0;

	*ids = NULL;
	*n = 0;
	if (pg_begin(s) < 0)
		return -1;
	if (limit >= 0)
		arg_int(&a, limit);
	else
		arg_text(&a, NULL); /* LIMIT NULL: all */
	res = exec_stmt(q, ST_RUN_CLAIM_QUEUED, &a, "claiming queued runs");
	if (!res) {
		pg_rollback(s);
		return -1;
	}
	*ids = xcalloc((size_t)PQntuples(res) + 1, sizeof(**ids));
	/* Locked by this transaction: nobody else can take them before the commit. */
	for (int i = 0; i < PQntuples(res) && !ret; i++) {
		struct pgargs c = { 0 };
		(*ids)[(*n)++] = get_str(res, i, 0);
		arg_text(&c, (*ids)[*n - 1]);
		arg_text(&c, NULL);
		arg_text(&c, owner);
		ret = write_stmt(q, ST_RUN_CLAIM, &c, "claiming a run", NULL);
	}
	PQclear(res);
	if (ret < 0)
		pg_rollback(s);
	if (ret < 0 || pg_commit(s) < 0) {
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

static void fill_offer(const PGresult *res, int i, void *elem)
{
	struct store_offer *o = elem;

	o->run_id = get_str(res, i, 0);
	o->task_id = get_str(res, i, 1);
	o->index = (int)get_int(res, i, 2);
	o->try_number = (int)get_int(res, i, 3);
	o->coordinator = get_str(res, i, 4);
	o->runner = get_str(res, i, 5);
	o->runner_host = get_str(res, i, 6);
	o->state = (enum store_offer_state)get_int(res, i, 7);
	o->status = (int)get_int(res, i, 8);
	o->kill = (int)get_int(res, i, 9);
	o->claimed_at = get_int(res, i, 10);
	o->ended_at = get_int(res, i, 11);
	o->reason = get_str(res, i, 12);
	if (PQnfields(res) > 13)
		o->spec = get_str(res, i, 13);
}

static const struct row_type offer_rows = { sizeof(struct store_offer), fill_offer };

static void offer_key(struct pgargs *a, const char *run_id, const char *task_id, int index)
{
	arg_text(a, run_id);
	arg_text(a, task_id);
	arg_int(a, index);
}

static int pg_offer_add(struct store *s, const struct store_offer *o)
{
	struct pgargs a = { 0 };

	offer_key(&a, o->run_id, o->task_id, o->index);
	arg_int(&a, o->try_number);
	arg_text(&a, o->coordinator);
	arg_text(&a, o->spec ? o->spec : "{}");
	return write_stmt(ps(s), ST_OFFER_ADD, &a, "offering a task instance", NULL);
}

static int pg_offer_claim(struct store *s, const char *runner, const char *host, int64_t limit,
			  struct store_offer **v, size_t *n)
{
	struct pgargs a = { 0 };
	void *list;
	int ret;

	arg_text(&a, runner);
	arg_text(&a, host);
	arg_int(&a, limit);
	ret = list_rows(exec_stmt(ps(s), ST_OFFER_CLAIM, &a, "claiming offers"), &offer_rows,
			&list, n);
	*v = list;
	return ret;
}

static int pg_offer_end(struct store *s, const struct store_offer *o, const char *runner)
{
	struct pgargs a = { 0 };
	long changed = 0;

	offer_key(&a, o->run_id, o->task_id, o->index);
	arg_int(&a, o->try_number);
	arg_text(&a, runner);
	arg_int(&a, o->status);
	arg_int(&a, o->ended_at);
	arg_text(&a, o->reason);
	if (write_stmt(ps(s), ST_OFFER_END, &a, "ending an offered try", &changed) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

static int pg_offer_kill(struct store *s, const char *run_id, const char *task_id, int index,
			 int try_number, int kill)
{
	struct pgargs a = { 0 };

	offer_key(&a, run_id, task_id, index);
	arg_int(&a, try_number);
	arg_int(&a, kill);
	return write_stmt(ps(s), ST_OFFER_KILL, &a, "asking an offered try to stop", NULL);
}

static int pg_offer_drop(struct store *s, const char *run_id, const char *task_id, int index,
			 int try_number, const char *runner)
{
	struct pgargs a = { 0 };
	long changed = 0;

	offer_key(&a, run_id, task_id, index);
	arg_int(&a, try_number);
	arg_text(&a, runner);
	if (write_stmt(ps(s), ST_OFFER_DROP, &a, "taking an offer back", &changed) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

static int pg_offer_list(struct store *s, int by, const char *who, struct store_offer **v,
			 size_t *n)
{
	static const enum stmt_id ids[] = { ST_OFFER_BY_COORDINATOR, ST_OFFER_BY_RUNNER,
					    ST_OFFER_BY_RUN };
	struct pgargs a = { 0 };
	void *list;
	int ret;

	arg_text(&a, who);
	ret = list_rows(exec_stmt(ps(s), ids[by], &a, "listing offers"), &offer_rows, &list, n);
	*v = list;
	return ret;
}

static int pg_offer_adopt(struct store *s, const char *run_id, const char *coordinator)
{
	struct pgargs a = { 0 };

	arg_text(&a, run_id);
	arg_text(&a, coordinator);
	return write_stmt(ps(s), ST_OFFER_ADOPT, &a, "taking a run's offers over", NULL);
}

static int pg_lease_list(struct store *s, int64_t epoch, struct store_lease **v, size_t *n)
{
	struct pgargs a = { 0 };
	void *list;
	int ret;

	arg_int(&a, epoch);
	ret = list_rows(exec_stmt(ps(s), ST_LEASE_LIST, &a, "listing schedulers"), &lease_rows,
			&list, n);
	*v = list;
	return ret;
}

/* ---- provenance ---- */

static int pg_prov_put(struct store *s, const char *run_id, const char *task_id, int index,
		       const char *doc)
{
	struct pgargs a = { 0 };
	arg_text(&a, run_id);
	arg_text(&a, task_id);
	arg_int(&a, index);
	arg_text(&a, doc);
	return write_stmt(ps(s), ST_PROV_PUT, &a, "writing provenance", NULL);
}

static int pg_prov_get(struct store *s, const char *run_id, const char *task_id, int index,
		       char **doc)
{
	struct pgargs a = { 0 };
	PGresult *res;
	int ret;

	arg_text(&a, run_id);
	arg_text(&a, task_id);
	arg_int(&a, index);
	res = exec_stmt(ps(s), ST_PROV_GET, &a, "reading provenance");
	if (!res)
		return -1;
	ret = PQntuples(res) ? 0 : STORE_NOT_FOUND;
	if (!ret)
		*doc = get_str(res, 0, 0);
	PQclear(res);
	return ret;
}

static int pg_prov_list(struct store *s, const char *run_id, store_prov_fn fn, void *arg)
{
	struct pgargs a = { 0 };
	PGresult *res;
	int ret = 0;

	arg_text(&a, run_id);
	res = exec_stmt(ps(s), ST_PROV_LIST, &a, "listing provenance");
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res) && !ret; i++)
		ret = fn(PQgetvalue(res, i, 0), (int)get_int(res, i, 1), PQgetvalue(res, i, 2), arg);
	PQclear(res);
	return ret;
}

/* ---- per-item metrics ---- */

struct metrics_row {
	struct pg_store *q;
	const char *run_id, *task_id;
	int index, try_number;
};

static int metrics_row_put(int line, const char *item, const char *text, size_t len, void *arg)
{
	struct metrics_row *m = arg;
	struct pgargs a = { 0 };
	char *data = xstrndup(text, len);
	int ret;

	arg_text(&a, m->run_id);
	arg_text(&a, m->task_id);
	arg_int(&a, m->index);
	arg_int(&a, line);
	arg_int(&a, m->try_number);
	arg_text(&a, item);
	arg_text(&a, data);
	ret = write_stmt(m->q, ST_METRICS_INSERT, &a, "writing metrics", NULL);
	free(data);
	return ret < 0 ? -1 : 0;
}

static int pg_metrics_put(struct store *s, const char *run_id, const char *task_id, int index,
			  int try_number, const char *item, const char *jsonl, size_t len, size_t *bad)
{
	struct pg_store *q = ps(s);
	struct metrics_row m = { q, run_id, task_id, index, try_number };
	struct pgargs a = { 0 };

	*bad = 0;
	if (pg_begin(s) < 0)
		return -1;
	arg_text(&a, run_id);
	arg_text(&a, task_id);
	arg_int(&a, index);
	if (write_stmt(q, ST_METRICS_DELETE, &a, "replacing metrics", NULL) < 0 ||
	    store_metrics_lines(jsonl, len, item, metrics_row_put, &m, bad) < 0) {
		pg_rollback(s);
		return -1;
	}
	return pg_commit(s);
}

/* Parameters of a query built at run time: any number, numbers kept as text. */
struct qparams {
	size_t n, alloc;
	char **v;
};

/* Adds a parameter and writes its placeholder ($N) to sql. */
static void qp_add(struct qparams *p, struct strbuf *sql, char *owned)
{
	ALLOC_GROW(p->v, p->n + 1, p->alloc);
	p->v[p->n++] = owned;
	sb_addf(sql, "$%zu", p->n);
}

static void qp_release(struct qparams *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/*
 * A key's value as SQLite's json_extract() sees it, whose order the SQLite
 * backend (and so the API) follows: rank NULL (missing or JSON null), 1 a
 * number (true/false count as 1/0), 2 text; then the number and the text.
 */
struct mkey {
	struct strbuf rank, num, txt;
};

static void mkey_build(struct mkey *k, const char *key, struct qparams *p)
{
	struct strbuf j = STRBUF_INIT;

	sb_init(&k->rank, 0);
	sb_init(&k->num, 0);
	sb_init(&k->txt, 0);
	if (!strcmp(key, "index")) {
		sb_adds(&k->rank, "1");
		sb_adds(&k->num, "idx::float8");
		sb_adds(&k->txt, "NULL::text");
		return;
	}
	if (!strcmp(key, "item") || !strcmp(key, "task")) {
		const char *col = key[0] == 'i' ? "item" : "task_id";
		sb_addf(&k->rank, "CASE WHEN %s IS NULL THEN NULL ELSE 2 END", col);
		sb_adds(&k->num, "NULL::float8");
		sb_addf(&k->txt, "%s", col);
		return;
	}
	sb_adds(&j, "(data::jsonb -> ");
	qp_add(p, &j, xstrdup(key));
	sb_adds(&j, ")");
	sb_addf(&k->rank,
		"CASE jsonb_typeof(%s) WHEN 'number' THEN 1 WHEN 'boolean' THEN 1"
		" WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2 END",
		j.buf);
	sb_addf(&k->num,
		"CASE jsonb_typeof(%s) WHEN 'number' THEN (%s #>> '{}')::float8"
		" WHEN 'boolean' THEN (%s #>> '{}')::boolean::int::float8 END",
		j.buf, j.buf, j.buf);
	sb_addf(&k->txt, "CASE WHEN jsonb_typeof(%s) IN ('string', 'object', 'array') THEN %s #>> '{}' END",
		j.buf, j.buf);
	sb_release(&j);
}

static void mkey_release(struct mkey *k)
{
	sb_release(&k->rank);
	sb_release(&k->num);
	sb_release(&k->txt);
}

static void metrics_where(struct strbuf *sql, struct qparams *p, const char *run_id,
			  const struct store_metrics_query *mq,
			  const struct store_metrics_cond *conds, size_t n)
{
	static const char *const op_sql[] = {
		[SMO_EQ] = "=", [SMO_NE] = "<>", [SMO_LT] = "<", [SMO_LE] = "<=",
		[SMO_GT] = ">", [SMO_GE] = ">=",
	};

	sb_adds(sql, " FROM metrics WHERE run_id = ");
	qp_add(p, sql, xstrdup(run_id));
	if (mq->task_id) {
		sb_adds(sql, " AND task_id = ");
		qp_add(p, sql, xstrdup(mq->task_id));
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_metrics_cond *c = &conds[i];
		struct mkey k;
		mkey_build(&k, c->key, p);
		if (c->op == SMO_CONTAINS) {
			sb_addf(sql, " AND strpos(lower(coalesce(%s, %s::text)), lower(", k.txt.buf,
				k.num.buf);
			qp_add(p, sql, xstrdup(c->text));
			sb_adds(sql, ")) > 0");
		} else if (c->is_number && c->op != SMO_EQ && c->op != SMO_NE) {
			/* numbers against numbers only, as in SQLite */
			sb_addf(sql, " AND %s %s ", k.num.buf, op_sql[c->op]);
			qp_add(p, sql, xasprintf("%.17g", c->number));
		} else {
			/* across types, SQLite orders numbers below text */
			int vrank = c->is_number ? 1 : 2;
			sb_addf(sql, " AND CASE WHEN (%s) IS NULL THEN false WHEN (%s) <> %d THEN (%s) %s %d"
				     " ELSE %s %s ",
				k.rank.buf, k.rank.buf, vrank, k.rank.buf, op_sql[c->op], vrank,
				c->is_number ? k.num.buf : k.txt.buf, op_sql[c->op]);
			if (c->is_number)
				qp_add(p, sql, xasprintf("%.17g", c->number));
			else
				qp_add(p, sql, xstrdup(c->text));
			sb_adds(sql, c->is_number ? "::float8 END" : "::text COLLATE \"C\" END");
		}
		mkey_release(&k);
	}
}

static int pg_metrics_each(struct store *s, const char *run_id, store_metrics_fn fn, void *arg)
{
	struct pgargs a = { 0 };
	PGresult *res;
	int ret = 0;

	arg_text(&a, run_id);
	res = exec_stmt(ps(s), ST_METRICS_EACH, &a, "reading metrics");
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res) && !ret; i++)
		ret = fn(PQgetvalue(res, i, 0), (int)get_int(res, i, 1), get_cstr(res, i, 2),
			 PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3), arg);
	PQclear(res);
	return ret;
}

static int pg_metrics_list(struct store *s, const char *run_id,
			   const struct store_metrics_query *mq, const struct store_metrics_cond *conds,
			   size_t n, const char *sort_key, int sort_desc, json_t **rows, size_t *total)
{
	struct pg_store *q = ps(s);
	struct strbuf sql = STRBUF_INIT, where = STRBUF_INIT;
	struct qparams p = { 0 };
	PGresult *res;
	int ret = -1;

	*rows = json_array();
	metrics_where(&where, &p, run_id, mq, conds, n);
	sb_addf(&sql, "SELECT count(*)%s", where.buf);
	res = exec_params(q, sql.buf, (int)p.n, (const char *const *)p.v, "counting metrics");
	if (!res)
		goto out;
	*total = (size_t)get_int(res, 0, 0);
	PQclear(res);

	sb_reset(&sql);
	sb_addf(&sql, "SELECT task_id, idx, item, data%s ORDER BY ", where.buf);
	if (sort_key) {
		const char *dir = sort_desc ? "DESC" : "ASC";
		struct mkey k;
		mkey_build(&k, sort_key, &p);
		sb_addf(&sql, "(%s) IS NULL, (%s) %s, (%s) %s, (%s) COLLATE \"C\" %s, ", k.rank.buf,
			k.rank.buf, dir, k.num.buf, dir, k.txt.buf, dir);
		mkey_release(&k);
	}
	sb_adds(&sql, "task_id, idx, line");
	if (mq->limit)
		sb_addf(&sql, " LIMIT %zu", mq->limit);
	sb_addf(&sql, " OFFSET %zu", mq->offset);
	res = exec_params(q, sql.buf, (int)p.n, (const char *const *)p.v, "reading metrics");
	if (!res)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		int idx = (int)get_int(res, i, 1);
		const char *item = get_cstr(res, i, 2);
		json_t *data = json_loads(PQgetvalue(res, i, 3), 0, NULL);
		json_array_append_new(*rows, json_pack("{s:s, s:o, s:o, s:o}",
						       "task_id", PQgetvalue(res, i, 0),
						       "index", idx >= 0 ? json_integer(idx) : json_null(),
						       "item", item ? json_string(item) : json_null(),
						       "metrics", data ? data : json_object()));
	}
	PQclear(res);
	ret = 0;
out:
	qp_release(&p);
	sb_release(&sql);
	sb_release(&where);
	if (ret < 0) {
		json_decref(*rows);
		*rows = NULL;
	}
	return ret;
}

/* ---- whole tables, for store_copy() (names come from the schema, quoted anyway) ---- */

static void fill_name(const PGresult *res, int i, void *elem)
{
	*(char **)elem = get_str(res, i, 0);
}

static const struct row_type name_rows = { sizeof(char *), fill_name };

static int pg_tables(struct store *s, char ***names, size_t *n)
{
	PGresult *res = exec_sql(ps(s),
				 "SELECT table_name FROM information_schema.tables"
				 " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
				 " AND table_name <> 'schema_version' ORDER BY 1",
				 NULL, "listing tables");
	void *v;
	int ret = list_rows(res, &name_rows, &v, n);

	*names = v;
	return ret;
}

static int pg_table_count(struct store *s, const char *table, int64_t *n)
{
	char *sql = xasprintf("SELECT count(*) FROM \"%s\"", table);
	PGresult *res = exec_sql(ps(s), sql, NULL, "counting rows");
	free(sql);
	if (!res)
		return -1;
	*n = get_int(res, 0, 0);
	PQclear(res);
	return 0;
}

static int pg_table_rows(struct store *s, const char *table, store_row_fn fn, void *arg)
{
	char *sql = xasprintf("SELECT * FROM \"%s\"", table);
	PGresult *res = exec_sql(ps(s), sql, NULL, "reading a table");
	int ncols, ret = 0;
	const char **cols, **vals;

	free(sql);
	if (!res)
		return -1;
	ncols = PQnfields(res);
	cols = xcalloc((size_t)ncols + 1, sizeof(*cols));
	vals = xcalloc((size_t)ncols + 1, sizeof(*vals));
	for (int i = 0; i < ncols; i++)
		cols[i] = PQfname(res, i);
	for (int r = 0; r < PQntuples(res) && !ret; r++) {
		for (int i = 0; i < ncols; i++)
			vals[i] = get_cstr(res, r, i);
		if (fn((size_t)ncols, cols, vals, arg))
			ret = -1;
	}
	free(cols);
	free(vals);
	PQclear(res);
	return ret;
}

/*
 * Replaces the row with the same primary key (the constraint PostgreSQL
 * names TABLE_pkey): a new store's change number in `meta` is overwritten
 * by the source's.
 */
static int pg_table_load(struct store *s, const char *table, size_t ncols,
			 const char *const *cols, const char *const *vals)
{
	struct pg_store *q = ps(s);
	struct strbuf sql = STRBUF_INIT;
	PGresult *res;

	sb_addf(&sql, "INSERT INTO \"%s\"(", table);
	for (size_t i = 0; i < ncols; i++)
		sb_addf(&sql, "%s\"%s\"", i ? ", " : "", cols[i]);
	sb_adds(&sql, ") VALUES(");
	for (size_t i = 0; i < ncols; i++)
		sb_addf(&sql, i ? ", $%zu" : "$%zu", i + 1);
	sb_addf(&sql, ") ON CONFLICT ON CONSTRAINT \"%s_pkey\" DO UPDATE SET ", table);
	for (size_t i = 0; i < ncols; i++)
		sb_addf(&sql, "%s\"%s\" = EXCLUDED.\"%s\"", i ? ", " : "", cols[i], cols[i]);
	if (pg_begin(s) < 0) {
		sb_release(&sql);
		return -1;
	}
	res = exec_params(q, sql.buf, (int)ncols, vals, "loading a row");
	sb_release(&sql);
	if (!res) {
		pg_rollback(s);
		return -1;
	}
	q->wrote = 1;
	PQclear(res);
	return pg_commit(s);
}

/* Id sequences (BIGSERIAL) continue after the highest id loaded. */
static int pg_load_done(struct store *s)
{
	struct pg_store *q = ps(s);
	PGresult *res = exec_sql(q,
				 "SELECT table_name, column_name FROM information_schema.columns"
				 " WHERE table_schema = current_schema()"
				 " AND column_default LIKE 'nextval(%'",
				 NULL, "listing id sequences");
	int ret = 0;

	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res) && !ret; i++) {
		const char *t = PQgetvalue(res, i, 0), *c = PQgetvalue(res, i, 1);
		char *sql = xasprintf("SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'),"
				      " coalesce(max(\"%s\"), 0) + 1, false) FROM \"%s\"",
				      t, c, c, t);
		PGresult *r = exec_sql(q, sql, NULL, "moving an id sequence");
		free(sql);
		if (!r)
			ret = -1;
		PQclear(r);
	}
	PQclear(res);
	return ret;
}

/* ---- files in downloaded/ and their arrivals ---- */

static int pg_file_put(struct store *s, const struct store_file *f)
{
	struct pgargs a = { 0 };
	arg_text(&a, f->rel);
	arg_text(&a, f->ident);
	arg_int(&a, f->dir);
	arg_text(&a, f->state);
	arg_int(&a, f->seen_at);
	arg_text(&a, f->note);
	return write_stmt(ps(s), ST_FILE_PUT, &a, "recording a file", NULL);
}

static void fill_file(const PGresult *res, int i, void *elem)
{
	struct store_file *f = elem;

	f->rel = get_str(res, i, 0);
	f->ident = get_str(res, i, 1);
	f->dir = (int)get_int(res, i, 2);
	f->state = get_str(res, i, 3);
	f->seen_at = get_int(res, i, 4);
	f->note = get_str(res, i, 5);
}

static const struct row_type file_rows = { sizeof(struct store_file), fill_file };

static int pg_file_list(struct store *s, struct store_file **files, size_t *n)
{
	void *v;
	int ret = list_rows(exec_stmt(ps(s), ST_FILE_LIST, NULL, "listing files"), &file_rows, &v, n);

	*files = v;
	return ret;
}

/* A queued run inside the open transaction (ON CONFLICT: a colliding id takes a fresh one). */
static int insert_run(struct pg_store *q, const char *dag_id, const char *params,
		      const char *trigger, int64_t scheduled_for, char **run_id)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		struct pgargs a = { 0 };
		char *id = store_new_run_id();
		long changed = 0;

		arg_text(&a, id);
		arg_text(&a, dag_id);
		arg_text(&a, params ? params : "{}");
		arg_int(&a, time_now_ms());
		arg_text(&a, NULL);
		arg_text(&a, NULL); /* the store's variables */
		arg_text(&a, trigger);
		arg_int(&a, scheduled_for);
		if (write_stmt(q, ST_RUN_INSERT, &a, "creating a run", &changed) < 0) {
			free(id);
			return -1;
		}
		if (changed) {
			*run_id = id;
			return 0;
		}
		free(id);
	}
	return error("store '%s': no free run id after 8 tries", q->shown);
}

/* Ends an arrival op's transaction: ret > 0 wrote nothing by design (not an error). */
static int end_tx(struct store *s, int ret)
{
	if (ret < 0) {
		pg_rollback(s);
		return ret;
	}
	if (pg_commit(s) < 0)
		return -1;
	return ret;
}

static int pg_arrival_add(struct store *s, struct store_arrival *a, int again)
{
	struct pg_store *q = ps(s);
	char *params = a->params ? json_dumps(a->params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct pgargs k = { 0 }, ins = { 0 };
	PGresult *res;
	int last = -1, ret = -1;

	if (pg_begin(s) < 0) {
		free(params);
		return -1;
	}
	arg_text(&k, a->dag_id);
	arg_text(&k, a->rel);
	arg_text(&k, a->ident);
	res = exec_stmt(q, ST_ARRIVAL_ATTEMPT, &k, "reading arrivals");
	if (!res)
		goto out;
	if (PQntuples(res) && !PQgetisnull(res, 0, 0))
		last = (int)get_int(res, 0, 0);
	PQclear(res);
	if (last >= 0 && !again) {
		ret = STORE_EXISTS;
		goto out;
	}
	a->attempt = last + 1;
	if (!a->at)
		a->at = time_now_ms();
	free(a->run_id);
	a->run_id = NULL;
	if (!strcmp(a->state, "run") && insert_run(q, a->dag_id, params, "file", 0, &a->run_id) < 0)
		goto out;
	arg_text(&ins, a->dag_id);
	arg_text(&ins, a->rel);
	arg_text(&ins, a->ident);
	arg_int(&ins, a->attempt);
	arg_text(&ins, a->state);
	arg_text(&ins, a->run_id);
	arg_text(&ins, params);
	arg_int(&ins, a->at);
	arg_text(&ins, a->note);
	ret = write_stmt(q, ST_ARRIVAL_INSERT, &ins, "recording an arrival", NULL);
out:
	free(params);
	return end_tx(s, ret);
}

static void fill_arrival(const PGresult *res, int i, void *elem)
{
	struct store_arrival *r = elem;

	r->dag_id = get_str(res, i, 0);
	r->rel = get_str(res, i, 1);
	r->ident = get_str(res, i, 2);
	r->attempt = (int)get_int(res, i, 3);
	r->state = get_str(res, i, 4);
	r->run_id = get_str(res, i, 5);
	r->params = get_json(res, i, 6);
	r->at = get_int(res, i, 7);
	r->note = get_str(res, i, 8);
}

static const struct row_type arrival_rows = { sizeof(struct store_arrival), fill_arrival };

static int pg_arrival_list(struct store *s, const char *dag_id, const char *state,
			   struct store_arrival **v, size_t *n)
{
	struct pgargs a = { 0 };
	void *list;
	int ret;

	arg_text(&a, dag_id);
	arg_text(&a, state);
	ret = list_rows(exec_stmt(ps(s), ST_ARRIVAL_LIST, &a, "listing arrivals"), &arrival_rows,
			&list, n);
	*v = list;
	return ret;
}

/* ---- deliveries (the outbox of callbacks and event scripts) ---- */

static int pg_delivery_add(struct store *s, struct store_delivery *d)
{
	struct pg_store *q = ps(s);
	struct pgargs a = { 0 };
	PGresult *res;

	if (!d->created_at)
		d->created_at = time_now_ms();
	arg_text(&a, d->kind);
	arg_text(&a, d->event);
	arg_text(&a, d->run_id);
	arg_text(&a, d->dag_id);
	arg_text(&a, d->task_id);
	arg_int(&a, d->index);
	arg_int(&a, d->try_number);
	arg_text(&a, d->workspace);
	arg_text(&a, d->command);
	arg_text(&a, d->payload ? d->payload : "{}");
	arg_text(&a, d->state ? d->state : "pending");
	arg_text(&a, d->owner);
	arg_int(&a, d->created_at);
	arg_int(&a, d->ended_at);
	arg_int(&a, d->exit_code);
	arg_text(&a, d->note);
	if (pg_begin(s) < 0)
		return -1;
	res = exec_stmt(q, ST_DELIVERY_ADD, &a, "recording a delivery");
	if (!res) {
		pg_rollback(s);
		return -1;
	}
	q->wrote = 1;
	d->id = PQntuples(res) ? get_int(res, 0, 0) : 0;
	PQclear(res);
	return pg_commit(s);
}

static void fill_delivery(const PGresult *res, int i, void *elem)
{
	struct store_delivery *d = elem;

	d->id = get_int(res, i, 0);
	d->kind = get_str(res, i, 1);
	d->event = get_str(res, i, 2);
	d->run_id = get_str(res, i, 3);
	d->dag_id = get_str(res, i, 4);
	d->task_id = get_str(res, i, 5);
	d->index = (int)get_int(res, i, 6);
	d->try_number = (int)get_int(res, i, 7);
	d->workspace = get_str(res, i, 8);
	d->command = get_str(res, i, 9);
	d->payload = get_str(res, i, 10);
	d->state = get_str(res, i, 11);
	d->owner = get_str(res, i, 12);
	d->attempts = (int)get_int(res, i, 13);
	d->created_at = get_int(res, i, 14);
	d->started_at = get_int(res, i, 15);
	d->ended_at = get_int(res, i, 16);
	d->exit_code = (int)get_int(res, i, 17);
	d->log_path = get_str(res, i, 18);
	d->note = get_str(res, i, 19);
}

static const struct row_type delivery_rows = { sizeof(struct store_delivery), fill_delivery };

static int pg_delivery_list(struct store *s, const struct store_delivery_filter *f,
			    struct store_delivery **v, size_t *n)
{
	struct pgargs a = { 0 };
	void *list;
	int ret;

	arg_int(&a, f->id);
	arg_text(&a, f->run_id);
	arg_text(&a, f->kind);
	arg_text(&a, f->workspace);
	arg_int(&a, f->open);
	if (f->limit)
		arg_int(&a, (int64_t)f->limit);
	else
		arg_text(&a, NULL);
	ret = list_rows(exec_stmt(ps(s), ST_DELIVERY_LIST, &a, "listing deliveries"), &delivery_rows,
			&list, n);
	*v = list;
	return ret;
}

static int pg_delivery_claim(struct store *s, int64_t id, const char *expect,
			     const char *expect_state, const char *owner)
{
	struct pgargs a = { 0 };
	long changed = 0;

	arg_int(&a, id);
	arg_text(&a, expect);
	arg_text(&a, expect_state);
	arg_text(&a, owner);
	arg_int(&a, time_now_ms());
	if (write_stmt(ps(s), ST_DELIVERY_CLAIM, &a, "claiming a delivery", &changed) < 0)
		return -1;
	return changed ? 0 : STORE_NOT_FOUND;
}

static int pg_delivery_end(struct store *s, const struct store_delivery *d)
{
	struct pgargs a = { 0 };

	arg_int(&a, d->id);
	arg_text(&a, d->owner);
	arg_text(&a, d->state);
	arg_int(&a, d->exit_code);
	arg_int(&a, d->ended_at);
	arg_text(&a, d->log_path);
	arg_text(&a, d->note);
	return write_stmt(ps(s), ST_DELIVERY_END, &a, "recording a delivery's end", NULL);
}

static void arrival_key(struct pgargs *k, const struct store_arrival *a)
{
	arg_text(k, a->dag_id);
	arg_text(k, a->rel);
	arg_text(k, a->ident);
	arg_int(k, a->attempt);
}

static int pg_arrival_start(struct store *s, struct store_arrival *a)
{
	struct pg_store *q = ps(s);
	struct pgargs k = { 0 }, set = { 0 };
	char *params = NULL;
	PGresult *res;
	int ret = -1;

	if (pg_begin(s) < 0)
		return -1;
	/* FOR UPDATE: two callers cannot both see it pending */
	arrival_key(&k, a);
	res = exec_stmt(q, ST_ARRIVAL_GET, &k, "reading an arrival");
	if (!res)
		goto out;
	if (!PQntuples(res)) {
		PQclear(res);
		ret = STORE_NOT_FOUND;
		goto out;
	}
	params = get_str(res, 0, 0);
	PQclear(res);
	free(a->run_id);
	a->run_id = NULL;
	if (insert_run(q, a->dag_id, params, "file", 0, &a->run_id) < 0)
		goto out;
	arrival_key(&set, a);
	arg_text(&set, a->run_id);
	ret = write_stmt(q, ST_ARRIVAL_SET, &set, "starting an arrival", NULL);
out:
	free(params);
	return end_tx(s, ret);
}

static int pg_arrival_seen(struct store *s, const char *dag_id, const char *rel)
{
	struct pgargs a = { 0 };
	PGresult *res;
	int ret;

	arg_text(&a, dag_id);
	arg_text(&a, rel);
	res = exec_stmt(ps(s), ST_ARRIVAL_SEEN, &a, "reading arrivals");
	if (!res)
		return -1;
	ret = PQntuples(res) > 0;
	PQclear(res);
	return ret;
}

/* ---- schedules: one row per (DAG, scheduled time), written with its run ---- */

static int pg_schedule_fire(struct store *s, const char *dag_id, int64_t at, json_t *params,
			    char **run_id)
{
	struct pg_store *q = ps(s);
	char *text = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct pgargs k = { 0 }, set = { 0 };
	long changed = 0;
	int ret = -1;

	*run_id = NULL;
	if (pg_begin(s) < 0) {
		free(text);
		return -1;
	}
	arg_text(&k, dag_id);
	arg_int(&k, at);
	if (write_stmt(q, ST_FIRE_INSERT, &k, "recording a scheduled time", &changed) < 0)
		goto out;
	ret = 0;
	if (!changed) {
		ret = STORE_EXISTS; /* fired already: nothing written */
	} else if (params) {
		if (insert_run(q, dag_id, text, "schedule", at, run_id) < 0) {
			ret = -1;
			goto out;
		}
		arg_text(&set, dag_id);
		arg_int(&set, at);
		arg_text(&set, *run_id);
		if (write_stmt(q, ST_FIRE_SET_RUN, &set, "recording a scheduled time", NULL) < 0)
			ret = -1;
	}
out:
	free(text);
	ret = end_tx(s, ret);
	if (ret) {
		free(*run_id);
		*run_id = NULL;
	}
	return ret;
}

static int pg_schedule_last(struct store *s, const char *dag_id, int64_t *at)
{
	struct pg_store *q = ps(s);
	struct pgargs a = { 0 };
	PGresult *res;

	*at = 0;
	arg_text(&a, dag_id);
	if (!(res = exec_stmt(q, ST_FIRE_LAST, &a, "reading the last scheduled time")))
		return -1;
	if (PQntuples(res) && !PQgetisnull(res, 0, 0))
		*at = get_int(res, 0, 0);
	PQclear(res);
	return 0;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.run_create = pg_run_create,
	.run_get = pg_run_get,
	.run_list = pg_run_list,
	.run_set_state = pg_run_set_state,
	.run_claim = pg_run_claim,
	.ti_put = pg_ti_put,
	.ti_delete = pg_ti_delete,
	.ti_list = pg_ti_list,
	.try_put = pg_try_put,
	.try_list = pg_try_list,
	.var_get = pg_var_get,
	.var_set = pg_var_set,
	.var_unset = pg_var_unset,
	.var_all = pg_var_all,
	.var_history_add = pg_var_history_add,
	.var_history = pg_var_history,
	.req_add = pg_req_add,
	.req_list = pg_req_list,
	.req_done = pg_req_done,
	.seq = pg_seq,
	.changes_since = pg_changes_since,
	.changed_elsewhere = pg_changed_elsewhere,
	.changes_fd = pg_changes_fd,
	.dag_set_paused = pg_dag_set_paused,
	.dag_paused_all = pg_dag_paused_all,
	.ti_stats = pg_ti_stats,
	.ti_counts = pg_ti_counts,
	.metrics_put = pg_metrics_put,
	.metrics_list = pg_metrics_list,
	.metrics_each = pg_metrics_each,
	.prov_put = pg_prov_put,
	.prov_get = pg_prov_get,
	.prov_list = pg_prov_list,
	.lease_fence = pg_lease_fence,
	.lease_expire = pg_lease_expire,
	.run_claim_queued = pg_run_claim_queued,
	.offer_add = pg_offer_add,
	.offer_claim = pg_offer_claim,
	.offer_end = pg_offer_end,
	.offer_kill = pg_offer_kill,
	.offer_drop = pg_offer_drop,
	.offer_list = pg_offer_list,
	.offer_adopt = pg_offer_adopt,
	.lease_take = pg_lease_take,
	.lease_beat = pg_lease_beat,
	.lease_lock = pg_lease_lock,
	.lease_drop = pg_lease_drop,
	.lease_list = pg_lease_list,
	.tables = pg_tables,
	.table_count = pg_table_count,
	.table_rows = pg_table_rows,
	.table_load = pg_table_load,
	.load_done = pg_load_done,
	.file_put = pg_file_put,
	.file_list = pg_file_list,
	.arrival_add = pg_arrival_add,
	.arrival_list = pg_arrival_list,
	.arrival_start = pg_arrival_start,
	.arrival_seen = pg_arrival_seen,
	.delivery_add = pg_delivery_add,
	.delivery_list = pg_delivery_list,
	.delivery_claim = pg_delivery_claim,
	.delivery_end = pg_delivery_end,
	.schedule_fire = pg_schedule_fire,
	.schedule_last = pg_schedule_last,
};

#endif /* HAVE_LIBPQ */
