/*
 * Unit tests for src/store through the store.h interface.  By default they
 * run on SQLite; with SF_TEST_PG set to the socket folder of a PostgreSQL
 * server (tests/pg.sh, as tests/run.sh's unit-pg suite does) the same tests
 * run on PostgreSQL, each on a fresh database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <poll.h>
#include <sqlite3.h>
#include <unistd.h>
#ifdef HAVE_LIBPQ
#include <libpq-fe.h>
#endif

#include "flow/vars.h"
#include "store/store-impl.h"
#include "util/common.h"
#include "util/timeutil.h"

struct fixture {
	char dir[64];
	char *url;
	struct store *s;
};

static const char *pg_dir(void)
{
	const char *d = getenv("SF_TEST_PG");
	return d && *d ? d : NULL;
}

#ifdef HAVE_LIBPQ
/* Runs one statement on database `db` of the test server. */
static void pg_exec(const char *db, const char *sql)
{
	char *conninfo = xasprintf("host=%s user=postgres dbname=%s", pg_dir(), db);
	PGconn *c = PQconnectdb(conninfo);
	PGresult *res;

	free(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
}
#endif

static int setup(void **state)
{
	static int count;
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/sf-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (pg_dir()) {
#ifdef HAVE_LIBPQ
		char *db = xasprintf("sf_unit_%d_%d", (int)getpid(), ++count);
		char *sql = xasprintf("CREATE DATABASE %s", db);
		pg_exec("postgres", sql);
		f->url = xasprintf("postgresql:///%s?host=%s&user=postgres", db, pg_dir());
		free(sql);
		free(db);
#else
		fail_msg("SF_TEST_PG is set but this build has no libpq");
#endif
	} else {
		f->url = xasprintf("sqlite:%s/flow/x.db", f->dir);
	}
	f->s = store_open(f->url, "/nonexistent");
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	store_close(f->s);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->url);
	free(f);
	return 0;
}

static void every_op_is_set(void **state)
{
	struct fixture *f = *state;
	/* both backends' tables, whichever this run opens */
	assert_int_equal(store_ops_check(&store_sqlite_ops), 0);
#ifdef HAVE_LIBPQ
	assert_int_equal(store_ops_check(&store_pg_ops), 0);
#endif
	assert_int_equal(store_ops_check(f->s->ops), 0);
	assert_string_equal(f->s->ops->name, pg_dir() ? "postgresql" : "sqlite");
}

static void urls_are_redacted(void **state)
{
	static const char *const cases[][2] = {
		{ "postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db" },
		{ "postgresql://u@h/db?password=secret&sslmode=require",
		  "postgresql://u@h/db?password=***&sslmode=require" },
		{ "postgres://u:p%40ss@h/db?sslmode=verify-full&password=x",
		  "postgres://u:***@h/db?sslmode=verify-full&password=***" },
		{ "postgresql:///db?host=/tmp/s", "postgresql:///db?host=/tmp/s" },
		{ "sqlite:flow/x.db", "sqlite:flow/x.db" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *r = store_url_redact(cases[i][0]);
		assert_string_equal(r, cases[i][1]);
		free(r);
	}
}

static void urls(void **state)
{
	error_set_quiet(1);
	/* nothing listens there: refused at once, the password never shown */
	assert_null(store_open("postgresql://u:pw@127.0.0.1:1/db?connect_timeout=5", "/tmp"));
	assert_null(store_open("mysql://x", "/tmp"));
	assert_null(store_open("sqlite:", "/tmp"));
	error_set_quiet(0);
}

static void runs_create_get_list(void **state)
{
	struct fixture *f = *state;
	struct store_run r = { 0 }, *runs;
	struct store_run_filter flt = { .dag_id = "a" };
	json_t *params = json_pack("{s:s,s:i}", "split", "train", "rate", 22050);
	char *ids[3];
	size_t n, total;

	for (int i = 0; i < 3; i++)
		assert_int_equal(store_run_create(f->s, i == 1 ? "b" : "a", params, NULL, &ids[i]), 0);
	assert_int_equal(store_run_get(f->s, ids[0], &r), 0);
	assert_string_equal(r.dag_id, "a");
	assert_int_equal(r.state, RUN_QUEUED);
	assert_int_equal(json_integer_value(json_object_get(r.params, "rate")), 22050);
	assert_null(r.owner);
	store_run_release(&r);
	assert_int_equal(store_run_get(f->s, "nope", &r), STORE_NOT_FOUND);

	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	store_run_list_free(runs, n);
	flt.limit = 1;
	flt.offset = 1;
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(total, 2);
	store_run_list_free(runs, n);

	assert_int_equal(store_run_set_state(f->s, ids[0], RUN_RUNNING, 5, 0, NULL), 0);
	flt = (struct store_run_filter){ .states = 1u << RUN_RUNNING };
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(runs[0].run_id, ids[0]);
	assert_int_equal(runs[0].started_at, 5);
	store_run_list_free(runs, n);

	assert_int_equal(store_run_claim(f->s, ids[0], NULL, "1:2"), 0);
	assert_int_equal(store_run_claim(f->s, ids[0], NULL, "3:4"), STORE_NOT_FOUND);
	assert_int_equal(store_run_claim(f->s, ids[0], "1:2", "3:4"), 0);
	for (int i = 0; i < 3; i++)
		free(ids[i]);
	json_decref(params);
}

static void tis_tries_and_json(void **state)
{
	struct fixture *f = *state;
	struct store_ti ti = { .task_id = "t", .index = -1, .state = TI_QUEUED, .exit_code = -1 };
	struct store_try tr = { .try_number = 1, .started_at = 1000, .exit_code = -1,
				.log_path = "/x/try-1.log", .pid = 42, .pid_start = 7 };
	struct store_ti *tis;
	struct store_try *tries;
	size_t n;
	char *id;
	json_t *j, *t0;

	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &id), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_ti_put(f->s, id, &ti), 0);
	ti.task_id = "u";
	ti.index = 0;
	ti.state = TI_SUCCESS;
	ti.try_number = 2;
	ti.exit_code = 0;
	ti.started_at = 1700000000000;
	ti.cached = 1;
	assert_int_equal(store_ti_put(f->s, id, &ti), 0);
	assert_int_equal(store_try_put(f->s, id, "u", 0, &tr), 0);
	tr.try_number = 2;
	tr.ended_at = 2000;
	tr.exit_code = 0;
	assert_int_equal(store_try_put(f->s, id, "u", 0, &tr), 0);
	assert_int_equal(store_commit(f->s), 0);

	assert_int_equal(store_ti_list(f->s, id, &tis, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(tis[1].task_id, "u");
	assert_int_equal(tis[1].try_number, 2);
	/* an instance restored from the content cache says so */
	assert_int_equal(tis[0].cached, 0);
	assert_int_equal(tis[1].cached, 1);
	store_ti_list_free(tis, n);
	assert_int_equal(store_try_list(f->s, id, "u", 0, &tries, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(tries[0].pid, 42);
	assert_int_equal(tries[0].pid_start, 7);
	assert_int_equal(tries[1].ended_at, 2000);
	store_try_list_free(tries, n);

	assert_int_equal(store_run_load_json(f->s, id, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "queued");
	assert_true(json_is_null(json_object_get(j, "started_at")));
	t0 = json_array_get(json_object_get(j, "tasks"), 0);
	assert_true(json_is_null(json_object_get(t0, "index")));
	assert_true(json_is_null(json_object_get(t0, "exit_code")));
	t0 = json_array_get(json_object_get(j, "tasks"), 1);
	assert_int_equal(json_integer_value(json_object_get(t0, "index")), 0);
	assert_int_equal(json_integer_value(json_object_get(t0, "try")), 2);
	assert_string_equal(json_string_value(json_object_get(t0, "started_at")),
			    "2023-11-14T22:13:20.000Z");
	json_decref(j);
	assert_int_equal(store_run_load_json(f->s, "nope", &j), STORE_NOT_FOUND);
	free(id);
}

static void rollback_discards_batch(void **state)
{
	struct fixture *f = *state;
	struct store_ti ti = { .task_id = "t", .index = -1, .state = TI_RUNNING, .exit_code = -1 };
	struct store_ti *tis;
	size_t n;
	char *id;

	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &id), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_ti_put(f->s, id, &ti), 0);
	store_rollback(f->s);
	assert_int_equal(store_ti_list(f->s, id, &tis, &n), 0);
	assert_int_equal(n, 0);
	free(id);
}

static int count_change(const struct store_change *c, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void changes_feed(void **state)
{
	struct fixture *f = *state;
	struct store_ti ti = { .task_id = "t", .index = -1, .state = TI_RUNNING, .exit_code = -1 };
	int64_t seq0, last = -1;
	int count = 0;
	char *id;

	assert_int_equal(store_seq(f->s, &seq0), 0);
	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &id), 0);
	assert_int_equal(store_ti_put(f->s, id, &ti), 0);
	assert_int_equal(store_changes_since(f->s, seq0, 0, count_change, &count, &last), 0);
	assert_int_equal(count, 2);
	assert_int_equal(last, seq0 + 2);
	count = 0;
	assert_int_equal(store_changes_since(f->s, last, 0, count_change, &count, &last), 0);
	assert_int_equal(count, 0);
	free(id);
}

static void vars_and_requests(void **state)
{
	struct fixture *f = *state;
	struct store_req *reqs;
	char *v;
	json_t *all;
	size_t n;

	assert_int_equal(store_var_get(f->s, "k", &v), STORE_NOT_FOUND);
	assert_int_equal(store_var_set(f->s, "k", "1"), 0);
	assert_int_equal(store_var_set(f->s, "k", "2"), 0);
	assert_int_equal(store_var_get(f->s, "k", &v), 0);
	assert_string_equal(v, "2");
	free(v);
	assert_int_equal(store_var_all(f->s, &all), 0);
	assert_string_equal(json_string_value(json_object_get(all, "k")), "2");
	json_decref(all);
	assert_int_equal(store_var_unset(f->s, "k"), 0);
	assert_int_equal(store_var_unset(f->s, "k"), STORE_NOT_FOUND);

	assert_int_equal(store_req_add(f->s, "r1", REQ_CLEAR, "t", 1), 0);
	assert_int_equal(store_req_add(f->s, "r2", REQ_CANCEL, NULL, 0), 0);
	assert_int_equal(store_req_list(f->s, "r1", &reqs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(reqs[0].kind, REQ_CLEAR);
	assert_int_equal(reqs[0].downstream, 1);
	assert_int_equal(store_req_done(f->s, reqs[0].id), 0);
	store_req_list_free(reqs, n);
	assert_int_equal(store_req_list(f->s, NULL, &reqs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(reqs[0].kind, REQ_CANCEL);
	store_req_list_free(reqs, n);
}

static void add_count(const struct store_ti_count *c, void *arg)
{
	size_t *sums = arg;
	sums[c->foreach * TI_NSTATES + c->state] += c->n;
}

static void stats_and_counts(void **state)
{
	struct fixture *f = *state;
	struct store_ti ti = { .task_id = "t", .index = -1, .state = TI_SUCCESS, .exit_code = 0 };
	struct store_try tr = { .try_number = 1, .started_at = 1000, .ended_at = 1300, .exit_code = 0 };
	struct store_ti_stats st;
	size_t sums[2 * TI_NSTATES] = { 0 };
	char *id;

	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &id), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_ti_put(f->s, id, &ti), 0);
	assert_int_equal(store_try_put(f->s, id, "t", -1, &tr), 0);
	ti.task_id = "u";
	for (int i = 0; i < 3; i++) {
		ti.index = i;
		ti.state = i ? TI_FAILED : TI_SUCCESS;
		assert_int_equal(store_ti_put(f->s, id, &ti), 0);
	}
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_ti_stats(f->s, &st), 0);
	assert_int_equal(st.by_state[TI_SUCCESS], 2);
	assert_int_equal(st.by_state[TI_FAILED], 2);
	assert_int_equal(st.duration_count, 1);
	assert_true(st.duration_sum_ms == 300.0);
	assert_int_equal(st.duration_le[0], 0); /* <= 100 ms */
	assert_int_equal(st.duration_le[1], 1); /* <= 500 ms */
	assert_int_equal(store_ti_counts(f->s, &id, 1, add_count, sums), 0);
	assert_int_equal(sums[TI_SUCCESS], 1);
	assert_int_equal(sums[TI_NSTATES + TI_SUCCESS], 1);
	assert_int_equal(sums[TI_NSTATES + TI_FAILED], 2);
	assert_int_equal(store_dag_paused(f->s, "d"), 0);
	assert_int_equal(store_dag_set_paused(f->s, "d", 1), 0);
	assert_int_equal(store_dag_paused(f->s, "d"), 1);
	assert_int_equal(store_dag_set_paused(f->s, "d", 0), 0);
	assert_int_equal(store_dag_paused(f->s, "d"), 0);
	free(id);
}

/*
 * SQLite notices another connection's commit at once; PostgreSQL's
 * notification reaches this connection's socket a moment after the commit
 * returns, so wait for it (up to 10 s) rather than assume it is there.
 */
static int changed_within(struct store *s, int64_t ms)
{
	int64_t end = time_mono_ms() + ms;
	for (;;) {
		if (store_changed_elsewhere(s))
			return 1;
		if (time_mono_ms() >= end)
			return 0;
		poll(NULL, 0, 5);
	}
}

static void other_connection_is_noticed(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = store_open(f->url, "/");
	int64_t seq;

	assert_non_null(s2);
	store_changed_elsewhere(f->s);
	assert_int_equal(store_changed_elsewhere(f->s), 0);
	/* its own writes are not news */
	assert_int_equal(store_var_set(f->s, "x", "y"), 0);
	assert_int_equal(store_seq(f->s, &seq), 0);
	assert_int_equal(store_changed_elsewhere(f->s), 0);
	assert_int_equal(store_var_set(s2, "a", "b"), 0);
	assert_int_equal(changed_within(f->s, 10000), 1);
	assert_int_equal(store_changed_elsewhere(f->s), 0);
	store_close(s2);
}

/* Two connections each take change numbers in their own transactions: all distinct. */
static void concurrent_batches_get_distinct_changes(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = store_open(f->url, "/");
	struct store_ti ti = { .task_id = "t", .index = -1, .state = TI_RUNNING, .exit_code = -1 };
	struct store_run a = { 0 }, b = { 0 };
	char *ida, *idb;

	assert_non_null(s2);
	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &ida), 0);
	assert_int_equal(store_run_create(s2, "d", NULL, NULL, &idb), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_ti_put(f->s, ida, &ti), 0);
	assert_int_equal(store_run_set_state(f->s, ida, RUN_RUNNING, 1, 0, NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_run_set_state(s2, idb, RUN_RUNNING, 1, 0, NULL), 0);
	assert_int_equal(store_run_get(f->s, ida, &a), 0);
	assert_int_equal(store_run_get(f->s, idb, &b), 0);
	assert_true(b.seq > a.seq);
	store_run_release(&a);
	store_run_release(&b);
	free(ida);
	free(idb);
	store_close(s2);
}

/*
 * Leases: increasing epochs never given twice, the owner names the epoch, a
 * heartbeat renews only a lease that exists, runs held are counted, a
 * dropped lease is gone (and cannot be renewed: fenced).
 */
static void leases(void **state)
{
	struct fixture *f = *state;
	struct store_lease *v, l = { 0 }, l2 = { 0 };
	int64_t a, b, c;
	size_t n;
	char *run_id, *owner;
	json_t *j;
	char dead_duties[] = "files";
	struct store_lease dead = { .age_ms = 15000, .ttl_ms = 10000, .grace_ms = 5000,
				    .duties = dead_duties };

	assert_int_equal(store_lease_list(f->s, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(store_lease_take(f->s, "host-a", 11, "11:5@9", 10000, 5000, &a), 0);
	assert_int_equal(store_lease_take(f->s, "host-b", 22, "22:6@9", 3000, 1500, &b), 0);
	assert_true(a > 0 && b > a);
	assert_int_equal(store_lease_get(f->s, a, &l), 0);
	assert_string_equal(l.host, "host-a");
	assert_int_equal(l.pid, 11);
	assert_int_equal(l.ttl_ms, 10000);
	assert_int_equal(l.grace_ms, 5000);
	assert_false(store_lease_dead(&l));
	owner = xasprintf("11:5@9#%lld", (long long)a);
	assert_string_equal(l.owner, owner);
	assert_string_equal(l.duties, "");
	assert_true(l.age_ms >= 0 && l.age_ms < 60000);
	assert_int_equal(l.runs, 0);
	store_lease_release(&l);

	/* a run it owns is counted while it is not finished */
	assert_int_equal(store_run_create(f->s, "d", NULL, owner, &run_id), 0);
	assert_int_equal(store_lease_beat(f->s, a, "files,schedules"), 0);
	assert_int_equal(store_lease_get(f->s, a, &l), 0);
	assert_int_equal(l.runs, 1);
	assert_string_equal(l.duties, "files,schedules");
	j = store_lease_json(&l);
	assert_int_equal(json_array_size(json_object_get(j, "duties")), 2);
	assert_true(json_is_true(json_object_get(j, "alive")));
	assert_string_equal(json_string_value(json_object_get(j, "host")), "host-a");
	assert_int_equal(json_integer_value(json_object_get(j, "lease_ttl_ms")), 10000);
	json_decref(j);
	/* each lease by its own figures: b's */
	assert_int_equal(store_lease_get(f->s, b, &l2), 0);
	assert_int_equal(l2.ttl_ms, 3000);
	assert_int_equal(l2.grace_ms, 1500);
	store_lease_release(&l2);
	/* past its TTL it is not alive; past TTL + grace it is dead and holds no duty */
	j = store_lease_json(&dead);
	assert_true(store_lease_dead(&dead));
	assert_false(json_is_true(json_object_get(j, "alive")));
	assert_int_equal(json_array_size(json_object_get(j, "duties")), 0);
	json_decref(j);
	dead.age_ms = 14999;
	assert_false(store_lease_dead(&dead));
	store_lease_release(&l);
	assert_int_equal(store_run_set_state(f->s, run_id, RUN_SUCCESS, 1, 2, NULL), 0);
	assert_int_equal(store_lease_get(f->s, a, &l), 0);
	assert_int_equal(l.runs, 0);
	store_lease_release(&l);

	/* dropped: gone, cannot be renewed, and its epoch is never given again */
	assert_int_equal(store_lease_drop(f->s, b), 0);
	assert_int_equal(store_lease_get(f->s, b, &l), STORE_NOT_FOUND);
	assert_int_equal(store_lease_beat(f->s, b, ""), STORE_NOT_FOUND);
	assert_int_equal(store_lease_take(f->s, "host-b", 22, "22:6@9", 10000, 5000, &c), 0);
	assert_true(c > b);
	assert_int_equal(store_lease_list(f->s, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true(v[0].epoch == a && v[1].epoch == c);
	store_lease_list_free(v, n);
	free(owner);
	free(run_id);
}

/*
 * Duty elections: a duty goes to the first lease that wants it and stays
 * with it while its holder is not dead (by the holder's own TTL and grace);
 * a dropped or dead holder's duties go to the next; a gone lease cannot elect.
 */
static void lease_elect(void **state)
{
	struct fixture *f = *state;
	struct store_lease l = { 0 };
	int64_t a, b, c;
	char *held;

	assert_int_equal(store_lease_take(f->s, "host-a", 11, "11:5@9", 60000, 0, &a), 0);
	assert_int_equal(store_lease_take(f->s, "host-b", 22, "22:6@9", 60000, 0, &b), 0);
	assert_int_equal(store_lease_elect(f->s, a, "deliveries,files", &held), 0);
	assert_string_equal(held, "deliveries,files");
	free(held);
	assert_int_equal(store_lease_elect(f->s, b, "deliveries,files,schedules", &held), 0);
	assert_string_equal(held, "schedules");
	free(held);
	/* renewing keeps what it holds */
	assert_int_equal(store_lease_elect(f->s, a, "deliveries,files,schedules", &held), 0);
	assert_string_equal(held, "deliveries,files");
	free(held);
	assert_int_equal(store_lease_get(f->s, a, &l), 0);
	assert_string_equal(l.duties, "deliveries,files");
	store_lease_release(&l);
	/* giving up (a stopping scheduler) frees them at once */
	assert_int_equal(store_lease_elect(f->s, b, "", &held), 0);
	assert_string_equal(held, "");
	free(held);
	assert_int_equal(store_lease_drop(f->s, b), 0);
	assert_int_equal(store_lease_elect(f->s, b, "files", &held), STORE_NOT_FOUND);
	assert_null(held);
	assert_int_equal(store_lease_elect(f->s, a, "deliveries,files,schedules", &held), 0);
	assert_string_equal(held, "deliveries,files,schedules");
	free(held);
	/*
	 * a holder past its own TTL + grace (here 0: at once) counts as dead:
	 * a takes everything back from c, however long a's own TTL is
	 */
	assert_int_equal(store_lease_elect(f->s, a, "", &held), 0);
	free(held);
	assert_int_equal(store_lease_take(f->s, "host-c", 33, "33:7@9", 0, 0, &c), 0);
	assert_int_equal(store_lease_elect(f->s, c, "deliveries,files,schedules", &held), 0);
	assert_string_equal(held, "deliveries,files,schedules");
	free(held);
	assert_int_equal(store_lease_elect(f->s, a, "deliveries,files,schedules", &held), 0);
	assert_string_equal(held, "deliveries,files,schedules");
	free(held);
}

/* vars_change records each change; a run's snapshot is taken when it is created. */
static void vars_history_and_snapshot(void **state)
{
	struct fixture *f = *state;
	struct store_var_change *h;
	struct store_run r;
	char *a = NULL, *b = NULL;
	json_t *params = json_object(), *out;
	size_t n;

	assert_int_equal(store_run_create(f->s, "d", params, NULL, &a), 0);
	assert_int_equal(vars_change(f->s, NULL, NULL, "k", "1", "cli", &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "new")), "1");
	assert_true(json_is_null(json_object_get(out, "old")));
	json_decref(out);
	assert_int_equal(vars_change(f->s, NULL, NULL, "k", "1", "api", NULL), VARS_UNCHANGED);
	assert_int_equal(vars_change(f->s, NULL, NULL, "j", "x", "ui", NULL), 0);
	assert_int_equal(store_run_create(f->s, "d", params, NULL, &b), 0);
	assert_int_equal(vars_change(f->s, NULL, NULL, "k", "2", "api", NULL), 0);
	assert_int_equal(vars_change(f->s, NULL, NULL, "k", NULL, "ui", NULL), 0);
	assert_int_equal(vars_change(f->s, NULL, NULL, "k", NULL, "ui", NULL), STORE_NOT_FOUND);

	assert_int_equal(store_var_history(f->s, "k", &h, &n), 0);
	assert_int_equal(n, 3);
	assert_null(h[0].old_value);
	assert_string_equal(h[0].new_value, "1");
	assert_string_equal(h[0].source, "cli");
	assert_string_equal(h[1].old_value, "1");
	assert_string_equal(h[1].new_value, "2");
	assert_string_equal(h[1].source, "api");
	assert_string_equal(h[2].old_value, "2");
	assert_null(h[2].new_value);
	assert_string_equal(h[2].source, "ui");
	assert_true(h[0].id < h[1].id && h[1].id < h[2].id && h[0].at <= h[2].at);
	store_var_history_free(h, n);

	assert_int_equal(store_run_get(f->s, a, &r), 0);
	assert_true(json_is_object(r.vars) && json_object_size(r.vars) == 0);
	store_run_release(&r);
	assert_int_equal(store_run_get(f->s, b, &r), 0);
	assert_int_equal(json_object_size(r.vars), 2);
	assert_string_equal(json_string_value(json_object_get(r.vars, "k")), "1");
	assert_string_equal(json_string_value(json_object_get(r.vars, "j")), "x");
	store_run_release(&r);
	free(a);

	/* a replay's run takes the given snapshot, not the store's variables */
	out = json_pack("{s:s}", "colour", "blue");
	assert_int_equal(store_run_create_vars(f->s, "d", params, out, NULL, &a), 0);
	json_decref(out);
	assert_int_equal(store_run_get(f->s, a, &r), 0);
	assert_int_equal(json_object_size(r.vars), 1);
	assert_string_equal(json_string_value(json_object_get(r.vars, "colour")), "blue");
	store_run_release(&r);
	json_decref(params);
	free(a);
	free(b);
}

/* Fencing and adoption: a lease that is gone fails the batch; expiry is conditional. */
static void lease_fence_expire_claim(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = store_open(f->url, "/");
	char *r1, *r2, *r3, **ids;
	size_t n;
	int64_t a;

	assert_non_null(s2);
	assert_int_equal(store_lease_take(f->s, "h", 1, "1:1@1", 10000, 5000, &a), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_lease_fence(f->s, a), 0);
	assert_int_equal(store_commit(f->s), 0);
	/* renewed just now: not old enough to be ended */
	assert_int_equal(store_lease_expire(s2, a, 60000), STORE_NOT_FOUND);
	assert_int_equal(store_lease_expire(s2, a, 0), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_lease_fence(f->s, a), STORE_NOT_FOUND);
	store_rollback(f->s);

	/* queued runs nobody owns, oldest first, each to one claimer */
	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &r1), 0);
	assert_int_equal(store_run_create(f->s, "d", NULL, NULL, &r2), 0);
	assert_int_equal(store_run_create(f->s, "d", NULL, "someone", &r3), 0);
	assert_int_equal(store_run_claim_queued(f->s, "me", 1, &ids, &n), 0);
	assert_int_equal(n, 1);
	/* created in the same millisecond, ties go by run id */
	assert_true(!strcmp(ids[0], r1) || !strcmp(ids[0], r2));
	free(ids[0]);
	free(ids);
	if (pg_dir()) {
		/* SKIP LOCKED: while one claimer's transaction holds r2, another gets nothing */
		assert_int_equal(store_begin(f->s), 0);
		assert_int_equal(store_run_claim_queued(f->s, "me", -1, &ids, &n), 0);
		assert_int_equal(n, 1);
		free(ids[0]);
		free(ids);
		assert_int_equal(store_run_claim_queued(s2, "other", -1, &ids, &n), 0);
		assert_int_equal(n, 0);
		free(ids);
		assert_int_equal(store_commit(f->s), 0);
	} else {
		assert_int_equal(store_run_claim_queued(f->s, "me", -1, &ids, &n), 0);
		assert_int_equal(n, 1);
		free(ids[0]);
		free(ids);
	}
	assert_int_equal(store_run_claim_queued(s2, "other", -1, &ids, &n), 0);
	assert_int_equal(n, 0);
	free(ids);
	free(r1);
	free(r2);
	free(r3);
	store_close(s2);
}

/*
 * PostgreSQL: a connection the server ended while it sat idle (a restart,
 * an administrator, an idle timeout) costs its user nothing.  The next read,
 * and the next transaction, fail on it once, reconnect and go on: serve's web
 * threads each hold such a connection, and one that no request used while
 * the database was away must not answer its first request after with a 500.
 */
static void ended_connection_is_replaced(void **state)
{
	struct fixture *f = *state;
#ifdef HAVE_LIBPQ
	const char *db = f->url + strlen("postgresql:///");
	char *name = xstrndup(db, strcspn(db, "?"));
	char *end = xasprintf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			      "WHERE datname = '%s' AND pid <> pg_backend_pid()", name);
	char *v = NULL;

	assert_int_equal(store_var_set(f->s, "k", "1"), 0);
	pg_exec(name, end);
	error_set_quiet(1); /* "connection lost ... reconnecting" */
	assert_int_equal(store_var_get(f->s, "k", &v), 0);
	assert_string_equal(v, "1");
	free(v);
	pg_exec(name, end);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_var_set(f->s, "k", "2"), 0);
	assert_int_equal(store_commit(f->s), 0);
	error_set_quiet(0);
	assert_int_equal(store_var_get(f->s, "k", &v), 0);
	assert_string_equal(v, "2");
	free(v);
	free(end);
	free(name);
#else
	(void)f;
#endif
}

static void newer_schema_refused(void **state)
{
	struct fixture *f = *state;

	if (pg_dir()) {
#ifdef HAVE_LIBPQ
		const char *db = f->url + strlen("postgresql:///");
		char *name = xstrndup(db, strcspn(db, "?"));
		pg_exec(name, "UPDATE schema_version SET v = 99");
		free(name);
#endif
	} else {
		char *path = xasprintf("%s/flow/x.db", f->dir);
		sqlite3 *db;
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(db);
		free(path);
	}
	error_set_quiet(1);
	assert_null(store_open(f->url, "/"));
	error_set_quiet(0);
}

static void metrics_filter_parse(void **state)
{
	struct store_metrics_cond *c;
	struct strbuf err = STRBUF_INIT;
	size_t n;

	assert_int_equal(store_metrics_filter_parse("lufs<-30, item ~ Fluttershy,n>=2.5,tag=a b", &c,
						    &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(c[0].key, "lufs");
	assert_int_equal(c[0].op, SMO_LT);
	assert_true(c[0].is_number && c[0].number == -30);
	assert_string_equal(c[1].key, "item");
	assert_int_equal(c[1].op, SMO_CONTAINS);
	assert_string_equal(c[1].text, "Fluttershy");
	assert_false(c[1].is_number);
	assert_int_equal(c[2].op, SMO_GE);
	assert_true(c[2].number == 2.5);
	assert_string_equal(c[3].text, "a b");
	assert_false(c[3].is_number);
	store_metrics_filter_free(c, n);
	assert_int_equal(store_metrics_filter_parse("", &c, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_metrics_filter_parse("lufs<1,duration", &c, &n, &err), -1);
	assert_string_equal(err.buf, "filter condition 'duration' has no operator (= != < <= > >= ~)");
	assert_null(c);
	sb_reset(&err);
	assert_int_equal(store_metrics_filter_parse("$.x=1", &c, &n, &err), -1);
	assert_string_equal(err.buf, "bad filter condition '$.x=1'");
	sb_release(&err);
}

static void metrics_put_replace_list(void **state)
{
	struct fixture *f = *state;
	const char *lines = "{\"item\": \"a\", \"d\": 2}\nnope\n\n{\"d\": 1}\n{\"d\": \"x\"}";
	struct store_metrics_query q = { .sort = "-d" };
	struct strbuf err = STRBUF_INIT;
	json_t *rows;
	size_t bad, total;

	assert_int_equal(store_metrics_put(f->s, "r", "t", 0, 1, "/x/b.wav", lines, strlen(lines),
					   &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), 0);
	assert_int_equal(total, 3);
	/* descending: text above numbers in SQLite's order, then 2, 1 */
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "item")),
			    "/x/b.wav");
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "item")), "a");
	json_decref(rows);
	q.sort = NULL;
	q.filter = "d>1.5";
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), 0);
	assert_int_equal(total, 1);
	json_decref(rows);
	/* a later try replaces the instance's lines */
	assert_int_equal(store_metrics_put(f->s, "r", "t", 0, 2, NULL, "{\"d\": 9}", 8, &bad), 0);
	q.filter = NULL;
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), 0);
	assert_int_equal(total, 1);
	assert_true(json_is_null(json_object_get(json_array_get(rows, 0), "item")));
	json_decref(rows);
	q.sort = "-a-b";
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), -1);
	assert_true(strstr(err.buf, "bad sort key '-a-b'") != NULL);
	sb_release(&err);
}

static int metrics_seen(const char *task_id, int index, const char *item, const char *data,
			size_t len, void *arg)
{
	struct strbuf *sb = arg;

	sb_addf(sb, "%s %d %s %.*s\n", task_id, index, item ? item : "-", (int)len, data);
	return 0;
}

/* Every row as stored, in task, index, line order, other runs left out. */
static void metrics_each_in_order(void **state)
{
	struct fixture *f = *state;
	struct strbuf sb = STRBUF_INIT;
	size_t bad;
	const char *two = "{\"a\": 1}\n{\"a\":2}";

	assert_int_equal(store_metrics_put(f->s, "r", "t", 1, 1, NULL, two, strlen(two), &bad), 0);
	assert_int_equal(store_metrics_put(f->s, "r", "s", -1, 1, "/i", "{\"item\": \"x\"}", 13,
					   &bad), 0);
	assert_int_equal(store_metrics_put(f->s, "r", "t", 0, 1, "/j", "{}", 2, &bad), 0);
	assert_int_equal(store_metrics_put(f->s, "q", "t", 0, 1, NULL, "{}", 2, &bad), 0);
	assert_int_equal(store_metrics_each(f->s, "r", metrics_seen, &sb), 0);
	assert_string_equal(sb.buf, "s -1 x {\"item\": \"x\"}\nt 0 /j {}\nt 1 - {\"a\": 1}\n"
				    "t 1 - {\"a\":2}\n");
	sb_release(&sb);
}

/*
 * A key spelled with an escape is the key: filters, sorts and the stored
 * text agree on every backend (SQLite's json_extract alone would miss it).
 */
static void metrics_escaped_keys(void **state)
{
	struct fixture *f = *state;
	const char *lines = "{\"k\\u0065y\": 5, \"item\": \"\\u0061.wav\", \"t\": \"x\\\"y\"}\n"
			    "{\"key\": 1}\n{\"k\\u0065y\": 3, \"t\": \"\\u00e9t\\u00e9\"}";
	struct store_metrics_query q = { .filter = "key>2", .sort = "-key" };
	struct strbuf err = STRBUF_INIT, sb = STRBUF_INIT;
	json_t *rows;
	size_t bad, total;

	assert_int_equal(store_metrics_put(f->s, "r", "t", 0, 1, NULL, lines, strlen(lines), &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), 0);
	assert_int_equal(total, 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(rows, 0),
									   "metrics"), "key")), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "item")),
			    "a.wav");
	json_decref(rows);
	q.filter = "t=\xc3\xa9t\xc3\xa9";
	q.sort = NULL;
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), 0);
	assert_int_equal(total, 1);
	json_decref(rows);
	q.filter = "t~x\"y";
	assert_int_equal(store_metrics_list(f->s, "r", &q, &rows, &total, &err), 0);
	assert_int_equal(total, 1);
	json_decref(rows);
	/* stored as jansson writes the line back; lines without escapes as written */
	assert_int_equal(store_metrics_each(f->s, "r", metrics_seen, &sb), 0);
	assert_string_equal(sb.buf, "t 0 a.wav {\"key\":5,\"item\":\"a.wav\",\"t\":\"x\\\"y\"}\n"
				    "t 0 - {\"key\": 1}\nt 0 - {\"key\":3,\"t\":\"\xc3\xa9t\xc3\xa9\"}\n");
	sb_release(&sb);
	sb_release(&err);
}

static void provenance_records(void **state)
{
	struct fixture *f = *state;
	json_t *doc = json_pack("{s:s, s:i}", "command", "true", "exit_code", 0), *got = NULL, *all;
	json_t *params = json_object();
	char *run_id = NULL;

	assert_int_equal(store_run_create(f->s, "d", params, NULL, &run_id), 0);
	json_decref(params);
	assert_int_equal(store_prov_get(f->s, run_id, "t", -1, &got), STORE_NOT_FOUND);
	assert_int_equal(store_prov_put(f->s, run_id, "t", 2, doc), 0);
	json_object_set_new(doc, "exit_code", json_integer(1));
	assert_int_equal(store_prov_put(f->s, run_id, "t", 2, doc), 0); /* replaces */
	assert_int_equal(store_prov_put(f->s, run_id, "", -1, doc), 0);
	assert_int_equal(store_prov_get(f->s, run_id, "t", 2, &got), 0);
	assert_true(json_equal(got, doc));
	json_decref(got);
	assert_int_equal(store_prov_load(f->s, run_id, &all), 0);
	assert_true(json_equal(json_object_get(all, "run"), doc));
	assert_true(json_equal(json_object_get(json_object_get(all, "tasks"), "t.2"), doc));
	assert_int_equal(json_object_size(json_object_get(all, "tasks")), 1);
	json_decref(all);
	json_decref(doc);
	free(run_id);
}

/* Arrivals: one row and one run per identity, written together; pending ones start once. */
static void arrivals_once_per_identity(void **state)
{
	struct fixture *f = *state;
	struct store_arrival a = { 0 }, *v;
	struct store_file file = { "ds", "dir:1:1:1.000000000", 1, "arrived", 5, NULL };
	struct store_run_filter flt = { .dag_id = "d" };
	struct store_file *files;
	struct store_run r, *runs;
	size_t n, total;

	a.dag_id = xstrdup("d");
	a.rel = xstrdup("ds");
	a.ident = xstrdup("dir:1:1:1.000000000");
	a.state = xstrdup("run");
	a.params = json_pack("{s:s}", "dataset", "ds");
	assert_int_equal(store_arrival_add(f->s, &a, 0), 0);
	assert_non_null(a.run_id);
	assert_int_equal(a.attempt, 0);
	assert_int_equal(store_run_get(f->s, a.run_id, &r), 0);
	assert_string_equal(json_string_value(json_object_get(r.params, "dataset")), "ds");
	store_run_release(&r);
	/* the same identity again: nothing written, also inside a batch */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_arrival_add(f->s, &a, 0), STORE_EXISTS);
	assert_int_equal(store_file_put(f->s, &file), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	store_run_list_free(runs, n);
	assert_int_equal(total, 1);
	/* a retry is a new attempt with a new run */
	assert_int_equal(store_arrival_add(f->s, &a, 1), 0);
	assert_int_equal(a.attempt, 1);
	assert_int_equal(store_arrival_seen(f->s, "d", "ds"), 1);
	assert_int_equal(store_arrival_seen(f->s, "d", "other"), 0);
	/* a paused DAG: pending, started exactly once */
	free(a.state);
	a.state = xstrdup("pending");
	free(a.ident);
	a.ident = xstrdup("dir:2:2:2.000000000");
	assert_int_equal(store_arrival_add(f->s, &a, 0), 0);
	assert_null(a.run_id);
	assert_int_equal(store_arrival_list(f->s, NULL, "pending", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_arrival_start(f->s, &v[0]), 0);
	assert_non_null(v[0].run_id);
	assert_int_equal(store_arrival_start(f->s, &v[0]), STORE_NOT_FOUND);
	store_arrival_list_free(v, n);
	assert_int_equal(store_arrival_list(f->s, "d", NULL, &v, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i].state, "run");
	store_arrival_list_free(v, n);
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	store_run_list_free(runs, n);
	assert_int_equal(total, 3);
	assert_int_equal(store_file_list(f->s, &files, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(files[0].ident, "dir:1:1:1.000000000");
	assert_true(files[0].dir);
	store_file_list_free(files, n);
	store_arrival_release(&a);
}

/* The outbox: a row is claimed once, a rollback takes it back, the end is recorded. */
/*
 * Offers: each open offer is claimed by one runner, in (run, task, index)
 * order, with its spec; only its runner may end it, and only for the try
 * offered; the coordinator asks it to stop and takes it back (only from a
 * given runner, or in any state); a takeover moves a run's offers to the
 * new coordinator; PostgreSQL: a claim in progress elsewhere is skipped,
 * not waited for.
 */
static int offer(struct store *s, const char *run, const char *task, int index, int try_number,
		 const char *coordinator)
{
	struct store_offer o = { .run_id = (char *)run, .task_id = (char *)task, .index = index,
				 .try_number = try_number, .coordinator = (char *)coordinator,
				 .spec = (char *)"{\"cmd\":\"true\"}" };
	return store_offer_add(s, &o);
}

static void offers_claimed_once(void **state)
{
	struct fixture *f = *state;
	struct store *s2 = store_open(f->url, "/");
	struct store_offer *v, *w, end;
	size_t n, m;

	assert_non_null(s2);
	assert_int_equal(offer(f->s, "r1", "b", 0, 1, "C#1"), 0);
	assert_int_equal(offer(f->s, "r1", "a", 1, 1, "C#1"), 0);
	assert_int_equal(offer(f->s, "r1", "a", 0, 2, "C#1"), 0);
	assert_int_equal(offer(f->s, "r2", "a", -1, 1, "D#2"), 0);
	assert_int_equal(store_offer_claim(f->s, "R#3", "host-r", 2, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].task_id, "a");
	assert_int_equal(v[0].index, 0);
	assert_int_equal(v[0].try_number, 2);
	assert_string_equal(v[0].runner, "R#3");
	assert_string_equal(v[0].runner_host, "host-r");
	assert_string_equal(v[0].spec, "{\"cmd\":\"true\"}");
	assert_int_equal(v[0].state, OFFER_RUNNING);
	assert_int_equal(v[0].kill, 0);
	assert_true(v[0].claimed_at > 0);
	assert_int_equal(v[1].index, 1);
	/* the other runner gets the rest, never the same */
	assert_int_equal(store_offer_claim(s2, "S#4", "host-s", 10, &w, &m), 0);
	assert_int_equal(m, 2);
	assert_string_equal(w[0].task_id, "b");
	assert_string_equal(w[1].run_id, "r2");
	store_offer_list_free(w, m);
	assert_int_equal(store_offer_claim(s2, "S#4", "host-s", 10, &w, &m), 0);
	assert_int_equal(m, 0);
	store_offer_list_free(w, m);
	assert_int_equal(store_offer_running(f->s, "R#3", &w, &m), 0);
	assert_int_equal(m, 2);
	assert_null(w[0].spec); /* only a claim reads it */
	store_offer_list_free(w, m);

	/* asked to stop: the runner sees it; the level only rises */
	assert_int_equal(store_offer_kill(f->s, "r1", "a", 1, 1, 2), 0);
	assert_int_equal(store_offer_kill(f->s, "r1", "a", 1, 1, 1), 0);
	assert_int_equal(store_offer_kill(f->s, "r1", "a", 1, 7, 1), 0); /* another try: nothing */
	assert_int_equal(store_offer_running(s2, "R#3", &w, &m), 0);
	assert_int_equal(w[1].kill, 2);
	assert_int_equal(w[0].kill, 0);
	store_offer_list_free(w, m);

	/* ended by its runner only, for its try only */
	end = v[0];
	end.status = 256;
	end.ended_at = 42;
	end.reason = NULL;
	assert_int_equal(store_offer_end(s2, &end, "S#4"), STORE_NOT_FOUND);
	end.try_number = 1;
	assert_int_equal(store_offer_end(f->s, &end, "R#3"), STORE_NOT_FOUND);
	end.try_number = 2;
	assert_int_equal(store_offer_end(f->s, &end, "R#3"), 0);
	assert_int_equal(store_offer_end(f->s, &end, "R#3"), STORE_NOT_FOUND);
	/* a dead runner's offer is taken back once, only from it */
	assert_int_equal(store_offer_drop(f->s, "r1", "a", 1, 1, "S#4"), STORE_NOT_FOUND);
	assert_int_equal(store_offer_drop(f->s, "r1", "a", 1, 1, "R#3"), 0);
	assert_int_equal(store_offer_drop(f->s, "r1", "a", 1, 1, "R#3"), STORE_NOT_FOUND);
	store_offer_list_free(v, n);
	assert_int_equal(store_offer_list(f->s, "C#1", &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].state, OFFER_DONE);
	assert_int_equal(v[0].status, 256);
	assert_int_equal(v[0].ended_at, 42);
	assert_string_equal(v[1].task_id, "b");
	assert_int_equal(v[1].state, OFFER_RUNNING);
	store_offer_list_free(v, n);
	/* offered again: open, no runner, no kill */
	assert_int_equal(offer(f->s, "r1", "b", 0, 2, "C#1"), 0);
	assert_int_equal(store_offer_list_run(f->s, "r1", &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].state, OFFER_OPEN);
	assert_int_equal(v[1].try_number, 2);
	assert_null(v[1].runner);
	assert_null(v[1].runner_host);
	store_offer_list_free(v, n);
	/* a takeover: the run's offers follow its new owner */
	assert_int_equal(store_offer_adopt(f->s, "r1", "N#9"), 0);
	assert_int_equal(store_offer_list(f->s, "N#9", &v, &n), 0);
	assert_int_equal(n, 2);
	store_offer_list_free(v, n);
	assert_int_equal(store_offer_list(f->s, "C#1", &v, &n), 0);
	assert_int_equal(n, 0);
	store_offer_list_free(v, n);

	if (store_shared(f->s)) {
		/* a claim not yet committed elsewhere: skipped, not waited for */
		assert_int_equal(offer(f->s, "r3", "a", 0, 1, "E#5"), 0);
		assert_int_equal(store_begin(s2), 0);
		assert_int_equal(store_offer_claim(s2, "S#4", "host-s", 10, &w, &m), 0);
		assert_int_equal(m, 2);
		assert_int_equal(store_offer_claim(f->s, "R#3", "host-r", 10, &v, &n), 0);
		assert_int_equal(n, 0);
		store_offer_list_free(v, n);
		assert_int_equal(store_commit(s2), 0);
		store_offer_list_free(w, m);
	}
	/* taken back in any state */
	assert_int_equal(store_offer_drop(f->s, "r1", "a", 0, 2, NULL), 0);
	assert_int_equal(store_offer_list(f->s, "N#9", &v, &n), 0);
	assert_int_equal(n, 1);
	store_offer_list_free(v, n);
	store_close(s2);
}

static void deliveries_claimed_once(void **state)
{
	struct fixture *f = *state;
	struct store_delivery d = { .index = -1, .exit_code = -1 }, *v;
	struct store_delivery_filter all = { .run_id = "r1" }, open = { .open = 1 };
	json_t *j;
	size_t n;

	d.kind = xstrdup("callback");
	d.event = xstrdup("success");
	d.run_id = xstrdup("r1");
	d.command = xstrdup("true");
	d.payload = xstrdup("{\"SF_RUN_ID\":\"r1\"}");
	d.owner = xstrdup("1:1");
	/* written in a batch that is rolled back: gone */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_delivery_add(f->s, &d), 0);
	store_rollback(f->s);
	assert_int_equal(store_delivery_list(f->s, &all, &v, &n), 0);
	assert_int_equal(n, 0);
	store_delivery_list_free(v, n);
	assert_int_equal(store_delivery_add(f->s, &d), 0);
	assert_true(d.id > 0);
	assert_int_equal(store_delivery_list(f->s, &open, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].state, "pending");
	assert_string_equal(v[0].payload, d.payload);
	assert_int_equal(v[0].attempts, 0);
	store_delivery_list_free(v, n);
	/* two claimants: one wins */
	assert_int_equal(store_delivery_claim(f->s, d.id, "1:1", "pending", "2:2"), 0);
	assert_int_equal(store_delivery_claim(f->s, d.id, "1:1", "pending", "3:3"), STORE_NOT_FOUND);
	/* a dead owner's running row is taken again */
	assert_int_equal(store_delivery_claim(f->s, d.id, "2:2", "running", "3:3"), 0);
	free(d.owner);
	d.owner = xstrdup("3:3");
	free(d.state);
	d.state = xstrdup("redelivered");
	d.exit_code = 0;
	d.ended_at = 42;
	d.log_path = xstrdup("/x.log");
	assert_int_equal(store_delivery_end(f->s, &d), 0);
	assert_int_equal(store_delivery_list(f->s, &open, &v, &n), 0);
	assert_int_equal(n, 0);
	store_delivery_list_free(v, n);
	assert_int_equal(store_delivery_list(f->s, &all, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].attempts, 2);
	j = store_delivery_json(&v[0]);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "redelivered");
	assert_true(json_is_true(json_object_get(j, "redelivered")));
	assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 0);
	json_decref(j);
	store_delivery_list_free(v, n);
	store_delivery_release(&d);
}

/* A scheduled time fires once, written with its run; other runs say what started them. */
static void schedule_fires_once(void **state)
{
	struct fixture *f = *state;
	struct store_run_filter flt = { .dag_id = "d" };
	json_t *p = json_pack("{s:i}", "n", 1);
	struct store_run r, *runs;
	char *run = NULL, *again = NULL, *manual = NULL;
	int64_t last = -1;
	size_t n, total;

	assert_int_equal(store_schedule_last(f->s, "d", &last), 0);
	assert_int_equal(last, 0);
	/* a baseline: recorded, no run */
	assert_int_equal(store_schedule_fire(f->s, "d", 1000, NULL, &run), 0);
	assert_null(run);
	assert_int_equal(store_schedule_fire(f->s, "d", 60000, p, &run), 0);
	assert_non_null(run);
	assert_int_equal(store_schedule_last(f->s, "d", &last), 0);
	assert_int_equal(last, 60000);
	/* the same time again, also inside a batch: nothing written */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_schedule_fire(f->s, "d", 60000, p, &again), STORE_EXISTS);
	assert_int_equal(store_commit(f->s), 0);
	assert_null(again);
	assert_int_equal(store_run_get(f->s, run, &r), 0);
	assert_string_equal(r.trigger, "schedule");
	assert_int_equal(r.scheduled_for, 60000);
	assert_int_equal(json_integer_value(json_object_get(r.params, "n")), 1);
	store_run_release(&r);
	assert_int_equal(store_run_create_by(f->s, "d", p, NULL, "api", &manual), 0);
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	assert_int_equal(total, 2);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(runs[i].trigger,
				    strcmp(runs[i].run_id, run) ? "api" : "schedule");
	store_run_list_free(runs, n);
	/* by trigger (synthflow_runs_created_total), alone and with the DAG */
	flt.trigger = "api";
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_int_equal(n, 1);
	assert_string_equal(runs[0].run_id, manual);
	store_run_list_free(runs, n);
	flt.dag_id = NULL;
	flt.trigger = "schedule";
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	assert_int_equal(total, 1);
	assert_string_equal(runs[0].run_id, run);
	store_run_list_free(runs, n);
	flt.trigger = "replay";
	assert_int_equal(store_run_list(f->s, &flt, &runs, &n, &total), 0);
	assert_int_equal(total, 0);
	assert_int_equal(n, 0);
	store_run_list_free(runs, n);
	free(run);
	free(manual);
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls),
		cmocka_unit_test(urls_are_redacted),
		cmocka_unit_test_setup_teardown(every_op_is_set, setup, teardown),
		cmocka_unit_test_setup_teardown(runs_create_get_list, setup, teardown),
		cmocka_unit_test_setup_teardown(tis_tries_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(rollback_discards_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(changes_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(vars_and_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(vars_history_and_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(other_connection_is_noticed, setup, teardown),
		cmocka_unit_test_setup_teardown(stats_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_batches_get_distinct_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(leases, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_elect, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_fence_expire_claim, setup, teardown),
		cmocka_unit_test(metrics_filter_parse),
		cmocka_unit_test_setup_teardown(metrics_put_replace_list, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics_each_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics_escaped_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(provenance_records, setup, teardown),
		cmocka_unit_test_setup_teardown(arrivals_once_per_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(schedule_fires_once, setup, teardown),
		cmocka_unit_test_setup_teardown(deliveries_claimed_once, setup, teardown),
		cmocka_unit_test_setup_teardown(offers_claimed_once, setup, teardown),
	};
	/* SQLite has no connection to lose: these run in the PostgreSQL pass only */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(ended_connection_is_replaced, setup, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	if (pg_dir())
		failed += cmocka_run_group_tests(pg_tests, NULL, NULL);
	return failed;
}
