/*
 * Unit tests for the socket-free parts of src/web: request parsing and
 * routing (http.c), token, cookie and CSRF checks (auth.c), path
 * safety (paths.c), the health check's contract (api.c), and the dataset
 * view's in-memory queries (mcache.c) against the store's own answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/paths.h"
#include "web/web-impl.h"

#include <jansson.h>
#include <sqlite3.h>

static void unescape_cases(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(http_unescape("a%2Fb+c", 7, 0, &sb), 0);
	assert_string_equal(sb.buf, "a/b+c");
	sb_reset(&sb);
	assert_int_equal(http_unescape("a+b%20c", 7, 1, &sb), 0);
	assert_string_equal(sb.buf, "a b c");
	sb_reset(&sb);
	assert_int_equal(http_unescape("%2e%2E", 6, 0, &sb), 0);
	assert_string_equal(sb.buf, "..");
	sb_reset(&sb);
	assert_int_equal(http_unescape("bad%zz", 6, 0, &sb), -1);
	sb_reset(&sb);
	assert_int_equal(http_unescape("cut%4", 5, 0, &sb), -1);
	sb_reset(&sb);
	/* An encoded NUL would hide what follows it from every C string check. */
	assert_int_equal(http_unescape("a%00b", 5, 0, &sb), -1);
	sb_release(&sb);
}

static void target_parsing(void **state)
{
	struct http_req req;

	http_req_init(&req);
	assert_int_equal(http_req_set_target(&req, "/api/v1/runs/a%2Fb/?x=1&y=&z&t=a+b%26c"), 0);
	assert_int_equal(req.nseg, 4);
	assert_string_equal(req.seg[3], "a/b");
	assert_string_equal(http_query(&req, "x"), "1");
	assert_string_equal(http_query(&req, "y"), "");
	assert_string_equal(http_query(&req, "z"), "");
	assert_string_equal(http_query(&req, "t"), "a b&c");
	assert_null(http_query(&req, "w"));
	http_req_release(&req);

	http_req_init(&req);
	assert_int_equal(http_req_set_target(&req, "/"), 0);
	assert_int_equal(req.nseg, 0);
	http_req_release(&req);

	http_req_init(&req);
	assert_int_equal(http_req_set_target(&req, "no-slash"), -1);
	http_req_release(&req);
	http_req_init(&req);
	assert_int_equal(http_req_set_target(&req, "/a/%zz"), -1);
	http_req_release(&req);
	http_req_init(&req);
	assert_int_equal(http_req_set_target(&req, "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17"), -1);
	http_req_release(&req);
}

static void noop(void *ctx, struct http_req *req, struct http_resp *resp)
{
}

static const struct http_route routes[] = {
	{ "GET", "/api/v1/dags", noop, 0 },
	{ "GET", "/api/v1/dags/*", noop, 0 },
	{ "POST", "/api/v1/dags/*/runs", noop, 0 },
	{ "GET", "/api/v1/runs/*/tasks/*/log", noop, 0 },
};

static ssize_t match(enum http_method m, const char *target, struct http_req *req)
{
	http_req_init(req);
	req->method = m;
	assert_int_equal(http_req_set_target(req, target), 0);
	return http_route_match(routes, ARRAY_SIZE(routes), req);
}

static void routing(void **state)
{
	struct http_req req;

	assert_int_equal(match(HTTP_GET, "/api/v1/dags", &req), 0);
	http_req_release(&req);
	assert_int_equal(match(HTTP_HEAD, "/api/v1/dags/x%20y", &req), 1);
	assert_string_equal(req.arg[0], "x y");
	http_req_release(&req);
	assert_int_equal(match(HTTP_GET, "/api/v1/runs/r1/tasks/t%2F2/log", &req), 3);
	assert_string_equal(req.arg[0], "r1");
	assert_string_equal(req.arg[1], "t/2");
	http_req_release(&req);
	assert_int_equal(match(HTTP_DELETE, "/api/v1/dags/x", &req), -2);
	assert_null(req.arg[0]);
	http_req_release(&req);
	assert_int_equal(match(HTTP_GET, "/api/v1/dags/x/y", &req), -1);
	http_req_release(&req);
	assert_int_equal(match(HTTP_GET, "/api/v1", &req), -1);
	http_req_release(&req);
}

static void cookies_and_headers(void **state)
{
	struct http_req req;
	char *c;

	http_req_init(&req);
	http_req_add_header(&req, "cookie", "a=1; sf_token_1=abc; sf_token_10=zzz");
	http_req_add_header(&req, "X-Thing", "v");
	c = http_cookie(&req, "sf_token_1");
	assert_string_equal(c, "abc");
	free(c);
	c = http_cookie(&req, "sf_token_10");
	assert_string_equal(c, "zzz");
	free(c);
	assert_null(http_cookie(&req, "sf_token"));
	assert_string_equal(http_header(&req, "x-thing"), "v");
	http_req_release(&req);
}

static void json_bodies(void **state)
{
	struct http_req req;
	struct http_resp resp;
	json_t *j;

	http_req_init(&req);
	http_resp_init(&resp);
	j = http_json_body(&req, &resp); /* empty body: {} */
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 0);
	json_decref(j);

	req.body = "{\"a\":1}";
	req.body_len = strlen(req.body);
	assert_null(http_json_body(&req, &resp));
	assert_int_equal(resp.status, 415);

	http_req_add_header(&req, "Content-Type", "application/json; charset=utf-8");
	req.body = "{\"a\":";
	req.body_len = strlen(req.body);
	assert_null(http_json_body(&req, &resp));
	assert_int_equal(resp.status, 400);
	assert_non_null(strstr(resp.body.buf, "malformed JSON"));

	req.body = "[1]";
	req.body_len = 3;
	assert_null(http_json_body(&req, &resp));
	assert_int_equal(resp.status, 400);

	req.body = "{\"a\":1,\"a\":2}";
	req.body_len = strlen(req.body);
	assert_null(http_json_body(&req, &resp));
	assert_int_equal(resp.status, 400);
	http_resp_release(&resp);
	http_req_release(&req);
}

static void query_numbers(void **state)
{
	struct http_req req;
	struct http_resp resp;
	long v;

	http_req_init(&req);
	http_resp_init(&resp);
	assert_int_equal(http_req_set_target(&req, "/x?limit=10&offset=-1&big=99999&junk=1x"), 0);
	assert_int_equal(http_query_uint(&req, &resp, "limit", 5, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(http_query_uint(&req, &resp, "absent", 5, 100, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(http_query_uint(&req, &resp, "offset", 0, 100, &v), -1);
	assert_int_equal(resp.status, 400);
	assert_int_equal(http_query_uint(&req, &resp, "big", 0, 100, &v), -1);
	assert_int_equal(http_query_uint(&req, &resp, "junk", 0, 100, &v), -1);
	assert_non_null(strstr(resp.body.buf, "'junk'"));
	http_resp_release(&resp);
	http_req_release(&req);
}

static char *scratch(void)
{
	char tmpl[] = "/tmp/sf-test-web-XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	return xstrdup(dir);
}

static void cleanup(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void secret_is_created_private_and_kept(void **state)
{
	char *dir = scratch(), *flow = path_join(dir, "flow"), *secret = path_join(dir, "flow/secret");
	struct web_auth a, b;
	struct stat st;

	assert_int_equal(mkdir_p(flow, 0755), 0);
	assert_int_equal(auth_init(&a, dir), 0);
	assert_int_equal(stat(secret, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strlen(a.token), 64);
	assert_int_equal(auth_init(&b, dir), 0);
	assert_string_equal(a.token, b.token);
	assert_string_equal(a.csrf, b.csrf);
	auth_release(&b);
	/* A secret others could read is made private again. */
	assert_int_equal(chmod(secret, 0644), 0);
	error_set_quiet(1);
	assert_int_equal(auth_init(&b, dir), 0);
	error_set_quiet(0);
	assert_int_equal(stat(secret, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	auth_release(&b);
	auth_release(&a);
	cleanup(dir);
	free(flow);
	free(secret);
	free(dir);
}

static enum http_auth check(const struct web_auth *a, const char *hname, const char *hval,
			    const char *target)
{
	struct http_req req;
	enum http_auth r;

	http_req_init(&req);
	assert_int_equal(http_req_set_target(&req, target), 0);
	if (hname)
		http_req_add_header(&req, hname, hval);
	r = auth_check(a, &req);
	http_req_release(&req);
	return r;
}

static void token_checks(void **state)
{
	struct web_auth a = { 0 };
	char *bearer, *cookie;

	a.token = xstrdup("0123456789abcdef0123456789abcdef");
	auth_set_port(&a, 8881);
	bearer = xasprintf("Bearer %s", a.token);
	cookie = xasprintf("other=1; sf_token_8881=%s", a.token);
	assert_int_equal(check(&a, "Authorization", bearer, "/api/v1/dags"), AUTH_BEARER);
	assert_int_equal(check(&a, "Authorization", "Bearer 0123456789abcdef0123456789abcdeX",
			       "/api/v1/dags"),
			 AUTH_NONE);
	assert_int_equal(check(&a, "Authorization", "Bearer ", "/x"), AUTH_NONE);
	assert_int_equal(check(&a, "Authorization", "Basic abc", "/x"), AUTH_NONE);
	assert_int_equal(check(&a, "Cookie", cookie, "/api/v1/dags"), AUTH_COOKIE);
	assert_int_equal(check(&a, "Cookie", "sf_token_9999=0123456789abcdef0123456789abcdef", "/x"),
			 AUTH_NONE);
	assert_int_equal(check(&a, NULL, NULL, "/x?token=0123456789abcdef0123456789abcdef"),
			 AUTH_BEARER);
	assert_int_equal(check(&a, NULL, NULL, "/x?token=0123456789abcdef"), AUTH_NONE);
	assert_int_equal(check(&a, NULL, NULL, "/x"), AUTH_NONE);
	free(bearer);
	free(cookie);
	free(a.token);
}

static int csrf(const struct web_auth *a, const char *header, const char *origin, const char *site)
{
	struct http_req req;
	int ok;

	http_req_init(&req);
	http_req_add_header(&req, "Host", "127.0.0.1:8881");
	if (header)
		http_req_add_header(&req, AUTH_CSRF_HEADER, header);
	if (origin)
		http_req_add_header(&req, "Origin", origin);
	if (site)
		http_req_add_header(&req, "Sec-Fetch-Site", site);
	ok = auth_csrf_ok(a, &req);
	http_req_release(&req);
	return ok;
}

static void csrf_checks(void **state)
{
	char *dir = scratch(), *flow = path_join(dir, "flow");
	struct web_auth a;

	assert_int_equal(mkdir_p(flow, 0755), 0);
	assert_int_equal(auth_init(&a, dir), 0);
	assert_true(csrf(&a, a.csrf, "http://127.0.0.1:8881", "same-origin"));
	assert_true(csrf(&a, a.csrf, NULL, NULL));
	assert_false(csrf(&a, NULL, "http://127.0.0.1:8881", NULL));
	assert_false(csrf(&a, "0000", NULL, NULL));
	assert_false(csrf(&a, a.csrf, "http://evil.example", NULL));
	assert_false(csrf(&a, a.csrf, "null", NULL));
	assert_false(csrf(&a, a.csrf, NULL, "cross-site"));
	auth_release(&a);
	cleanup(dir);
	free(flow);
	free(dir);
}

static int resolve(const char *base, const char *rel)
{
	struct strbuf err = STRBUF_INIT;
	char *out = NULL;
	int rc = paths_resolve(base, rel, &out, &err);

	if (!rc) {
		assert_non_null(out);
		assert_true(path_is_within(base, out));
	} else {
		assert_null(out);
		assert_true(err.len > 0);
	}
	free(out);
	sb_release(&err);
	return rc;
}

static void path_safety(void **state)
{
	char *dir = scratch(), *real = path_real(dir);
	char *data = path_join(real, "data"), *run = path_join(real, "data/generated/r1");
	char *f = path_join(run, "out.txt"), *secret = path_join(real, "secret.txt");
	char *link = path_join(run, "escape"), *dirlink = path_join(run, "up");

	assert_int_equal(mkdir_p(run, 0755), 0);
	assert_int_equal(write_file_atomic(f, "x", 1, 0644), 0);
	assert_int_equal(write_file_atomic(secret, "s", 1, 0644), 0);
	assert_int_equal(symlink(secret, link), 0);
	assert_int_equal(symlink(real, dirlink), 0);

	assert_int_equal(resolve(data, "generated/r1/out.txt"), 0);
	assert_int_equal(resolve(run, "out.txt"), 0);
	assert_int_equal(resolve(run, "./out.txt"), 0);
	assert_int_equal(resolve(run, "missing.txt"), 404);
	assert_int_equal(resolve(run, ""), 400);
	assert_int_equal(resolve(run, "../../../secret.txt"), 403);
	assert_int_equal(resolve(run, "a/../../out.txt"), 403);
	assert_int_equal(resolve(run, "/etc/passwd"), 403);
	assert_int_equal(resolve(run, "escape"), 403);
	assert_int_equal(resolve(run, "up/secret.txt"), 403);
	assert_int_equal(resolve(data, "generated/r1/escape"), 403);

	assert_string_equal(paths_content_type("a/b.WAV"), "audio/wav");
	assert_string_equal(paths_content_type("x.flac"), "audio/flac");
	assert_string_equal(paths_content_type("x.html"), "application/octet-stream");
	assert_string_equal(paths_content_type("x.svg"), "application/octet-stream");
	assert_string_equal(paths_content_type("noext"), "application/octet-stream");
	cleanup(real);
	free(link);
	free(dirlink);
	free(secret);
	free(f);
	free(run);
	free(data);
	free(real);
	free(dir);
}

static int64_t tick_age;

static int64_t fake_tick_age(void *arg)
{
	return tick_age;
}

/* GET target through the handler with the token; returns the status, *body its JSON. */
static int get_json(struct web *w, const char *target, json_t **body)
{
	struct strbuf auth = STRBUF_INIT;
	struct http_req req;
	struct http_resp resp;
	int status;

	http_req_init(&req);
	http_resp_init(&resp);
	req.method = http_method_parse("GET");
	assert_int_equal(http_req_set_target(&req, target), 0);
	sb_addf(&auth, "Bearer %s", w->auth.token);
	http_req_add_header(&req, "Authorization", auth.buf);
	web_handle(w, &req, &resp);
	sb_release(&auth);
	status = resp.status;
	*body = json_loadb(resp.body.buf, resp.body.len, 0, NULL);
	if (!*body)
		fail_msg("%s: %d %.*s", target, status, (int)resp.body.len, resp.body.buf);
	http_resp_release(&resp);
	http_req_release(&req);
	return status;
}

/* GET /api/v1/health through the handler; returns the status, *body its JSON. */
static int health(struct web *w, json_t **body)
{
	return get_json(w, "/api/v1/health", body);
}

/*
 * 200 {"status": "ok", "store": "ok", "scheduler_tick_ms_ago": N} while the
 * store reads and the scheduler ticked within 10 s; 503 {"status":
 * "unhealthy", "reason": ...} otherwise.
 */
static void health_contract(void **state)
{
	char *dir = scratch(), *flow = path_join(dir, "flow"), *db = path_join(dir, "flow/synthflow.db");
	struct config cfg;
	struct web_opts o = { .cfg = &cfg, .port = 8881, .tick_age_ms = fake_tick_age };
	struct web *w;
	json_t *j;
	sqlite3 *q;

	assert_int_equal(mkdir_p(flow, 0755), 0);
	assert_int_equal(config_load(&cfg, dir), 0);
	w = web_open(&o);
	assert_non_null(w);

	tick_age = 42;
	assert_int_equal(health(w, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(j, "store")), "ok");
	assert_int_equal(json_integer_value(json_object_get(j, "scheduler_tick_ms_ago")), 42);
	json_decref(j);

	tick_age = 10001;
	assert_int_equal(health(w, &j), 503);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "unhealthy");
	assert_non_null(strstr(json_string_value(json_object_get(j, "reason")),
			       "scheduler loop has not ticked for 10001 ms"));
	json_decref(j);

	/* A store that cannot be read: its table of counters is gone. */
	tick_age = 0;
	assert_int_equal(sqlite3_open(db, &q), SQLITE_OK);
	assert_int_equal(sqlite3_exec(q, "DROP TABLE meta", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(q);
	error_set_quiet(1);
	assert_int_equal(health(w, &j), 503);
	error_set_quiet(0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "unhealthy");
	assert_non_null(strstr(json_string_value(json_object_get(j, "reason")), "store"));
	json_decref(j);

	web_close(w);
	config_release(&cfg);
	cleanup(dir);
	free(flow);
	free(db);
	free(dir);
}

static void query_add(struct strbuf *sb, const char *name, const char *val)
{
	if (!val)
		return;
	sb_addf(sb, "&%s=", name);
	for (const unsigned char *p = (const unsigned char *)val; *p; p++)
		if (isalnum(*p))
			sb_addch(sb, (char)*p);
		else
			sb_addf(sb, "%%%02X", *p);
}

/* One query through the API (the in-memory table) and the store: the same answer. */
static void same_answer(struct web *w, struct store *s, const char *run_id,
			const struct store_metrics_query *q)
{
	struct strbuf target = STRBUF_INIT, err = STRBUF_INIT;
	json_t *body, *rows;
	size_t total;

	sb_addf(&target, "/api/v1/runs/%s/metrics?limit=%zu&offset=%zu", run_id, q->limit, q->offset);
	query_add(&target, "task", q->task_id);
	query_add(&target, "filter", q->filter);
	query_add(&target, "sort", q->sort);
	assert_int_equal(get_json(w, target.buf, &body), 200);
	assert_int_equal(store_metrics_list(s, run_id, q, &rows, &total, &err), 0);
	if (!json_equal(json_object_get(body, "items"), rows) ||
	    json_integer_value(json_object_get(body, "total")) != (json_int_t)total) {
		char *a = json_dumps(body, JSON_COMPACT), *b = json_dumps(rows, JSON_COMPACT);
		fail_msg("%s\napi:   %s\nstore: %zu %s", target.buf, a, total, b);
	}
	json_decref(body);
	json_decref(rows);
	sb_release(&target);
	sb_release(&err);
}

/*
 * A finished run's metrics are queried in memory (mcache.c): every filter
 * and sort must give the store's answer, types mixed under one key, missing
 * and null values, arrays, booleans included; a clear (a new sequence
 * number) makes the next query read the run again.
 */
static void dataset_cache_matches_store(void **state)
{
	static const char *const filters[] = {
		"", "n<5", "n>=2.5", "n=3", "n!=3", "s=b", "s<b", "s~B", "n~1", "n~.5", "x>1",
		"x=b", "x<zz", "arr~a", "flag=1", "item~x", "task=b", "index<1", "index>=0",
		"missing=1", "n<abc", "s>5", "n>0,s~a,x!=2", "s~", "arr~",
		"e~ut", "e=plain", "key=5", "key<1", "key>6", "big>1000", "big<0",
	};
	static const char *const sorts[] = {
		"", "n", "-n", "s", "-s", "x", "-x", "item", "-item", "-index", "task", "missing", "arr",
		"flag", "e", "-key", "big",
	};
	static const char *const svals[] = { "a", "b", "Ba", "ab", "" };
	char *dir = scratch(), *flow = path_join(dir, "flow"), *run_id = NULL;
	struct config cfg;
	struct web_opts o = { .cfg = &cfg, .port = 8881, .tick_age_ms = fake_tick_age };
	struct strbuf lines = STRBUF_INIT;
	struct web *w;
	struct store *s;
	json_t *params = json_object(), *body;
	size_t bad, k = 0;

	assert_int_equal(mkdir_p(flow, 0755), 0);
	assert_int_equal(config_load(&cfg, dir), 0);
	w = web_open(&o);
	assert_non_null(w);
	s = web_store(w);
	assert_int_equal(store_run_create(s, "ds", params, "me", &run_id), 0);
	for (int idx = -1; idx < 4; idx++) {
		const char *task = idx < 0 ? "b" : "a";
		sb_reset(&lines);
		for (int i = 0; i < 6; i++) {
			int v = idx * 6 + i + 6;
			sb_addf(&lines, "{\"item\": \"/in/%cx%02d.wav\"", "xyz"[v % 3], v % 7);
			if (v % 6 == 1)
				sb_adds(&lines, ", \"n\": -1.25");
			else if (v % 5)
				sb_addf(&lines, ", \"n\": %s", v % 4 ? (v % 2 ? "2.5" : "10.0") : "3");
			sb_addf(&lines, ", \"s\": \"%s\"", svals[v % 5]);
			sb_addf(&lines, ", \"x\": %s", v % 3 == 0 ? "\"b\"" : v % 3 == 1 ? "2" : "null");
			if (v % 4 == 1)
				sb_adds(&lines, ", \"arr\": [\"a\", 1, {\"k\": true}]");
			else if (v % 4 == 2)
				sb_adds(&lines, ", \"arr\": []");
			/* escapes (read by jansson), odd spacing and number forms (read directly) */
			if (v % 7 == 2)
				sb_adds(&lines, ", \"e\": \"q\\\"u\\u0074e\"");
			else if (v % 7 == 4)
				sb_adds(&lines, ", \"key\": 5, \"e\": \"tab\\tut\"");
			else if (v % 7 == 5)
				sb_adds(&lines, ",\t\"key\" :  -0 , \"e\":\"plain\"");
			else if (v % 7 == 6)
				sb_adds(&lines, ", \"k\\u0065y\": 7"); /* the key "key" too */
			sb_addf(&lines, ", \"big\": %s", v % 3 == 0 ? "1e3" : v % 3 == 1 ? "123456789012" : "-2.5E-1");
			sb_addf(&lines, ", \"flag\": %s}\n", v % 2 ? "true" : "false");
		}
		assert_int_equal(store_metrics_put(s, run_id, task, idx < 0 ? -1 : idx, 1, NULL,
						   lines.buf, lines.len, &bad), 0);
		assert_int_equal(bad, 0);
	}
	assert_int_equal(store_run_set_state(s, run_id, RUN_SUCCESS, 1, 2, NULL), 0);
	for (size_t f = 0; f < ARRAY_SIZE(filters); f++)
		for (size_t t = 0; t < ARRAY_SIZE(sorts); t++, k++) {
			struct store_metrics_query q = {
				.filter = filters[f], .sort = sorts[t], .task_id = k % 5 == 4 ? "a" : NULL,
				.limit = k % 3 ? 100 : 4, .offset = k % 3 == 2 ? 3 : 0,
			};
			same_answer(w, s, run_id, &q);
		}

	/* cleared and run again: new metrics, a new sequence number */
	assert_int_equal(store_run_set_state(s, run_id, RUN_RUNNING, 1, 0, NULL), 0);
	assert_int_equal(store_metrics_put(s, run_id, "b", -1, 2, NULL, "{\"n\": 7}", 8, &bad), 0);
	assert_int_equal(store_run_set_state(s, run_id, RUN_FAILED, 1, 3, NULL), 0);
	sb_reset(&lines);
	sb_addf(&lines, "/api/v1/runs/%s/metrics?filter=n%%3D7", run_id);
	assert_int_equal(get_json(w, lines.buf, &body), 200);
	assert_int_equal(json_integer_value(json_object_get(body, "total")), 1);
	json_decref(body);
	same_answer(w, s, run_id, &(struct store_metrics_query){ .sort = "-n", .limit = 100 });

	web_close(w);
	config_release(&cfg);
	cleanup(dir);
	json_decref(params);
	sb_release(&lines);
	free(run_id);
	free(flow);
	free(dir);
}

/* GET target, with its body as compact JSON text (NULL when it is not JSON). */
static int get_text(struct web *w, const char *target, char **text)
{
	json_t *body = NULL;
	int status = get_json(w, target, &body);

	*text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	return status;
}

/*
 * A dataset's file not in memory: its first page (no filter, no sort) is
 * answered from the file while a thread reads it (mcache.c), and must be the
 * page the table then gives; a page it cannot answer (a bad line in it, an
 * item that is not text, a big page) waits for the read, and a file whose
 * read failed is not shown as good any more.
 */
static void dataset_first_page_before_read(void **state)
{
	static const struct { int offset, limit; } pages[] = {
		{ 0, 50 }, { 0, 1 }, { 3, 4 }, { 7, 100 }, { 40, 10 }, { 0, 1000 },
	};
	char *dir = scratch(), *flow = path_join(dir, "flow"), *up = path_join(dir, "uploadable/Set");
	char *file = path_join(up, "metrics.jsonl"), *quick, *table;
	struct config cfg;
	struct web_opts o = { .cfg = &cfg, .port = 8881, .tick_age_ms = fake_tick_age };
	struct strbuf lines = STRBUF_INIT, target = STRBUF_INIT;
	struct metrics_cache *c;
	struct web *w;

	assert_int_equal(mkdir_p(flow, 0755), 0);
	assert_int_equal(mkdir_p(up, 0755), 0);
	assert_int_equal(config_load(&cfg, dir), 0);
	w = web_open(&o);
	assert_non_null(w);
	c = &w->mcache;
	for (int i = 0; i < 30; i++) {
		if (i % 7 == 3)
			sb_adds(&lines, "  \t\n\n"); /* blank lines count as lines, not rows */
		if (i % 5 == 0)
			sb_addf(&lines, "  {\"n\": %d, \"a\": [1, {\"b\": null}]}\n", i);
		else if (i % 5 == 1)
			sb_addf(&lines, "{\"item\": \"clips/x\\u0079%d.wav\", \"n\": %d.5e1}\n", i, i);
		else if (i % 5 == 2)
			sb_addf(&lines, "{\"item\": %d, \"s\": \"t\\tu\"}\n", i);
		else if (i % 5 == 3)
			sb_addf(&lines, "{\"item\": null, \"n\": -%d}\n", i);
		else
			sb_addf(&lines, "{\"item\": \"clips/%02d_Fluttershy.flac\", \"lufs\": -2%d}", i, i % 10);
		if (i % 5 == 4 && i < 29)
			sb_addch(&lines, '\n');
	}
	for (size_t k = 0; k < ARRAY_SIZE(pages); k++) {
		/* a new file each time (a rename: another inode), so it is not in memory */
		assert_int_equal(write_file_atomic(file, lines.buf, lines.len, 0644), 0);
		assert_int_equal(c->file_read.joinable, 0);
		sb_reset(&target);
		sb_addf(&target, "/api/v1/datasets/Set/metrics?offset=%d&limit=%d", pages[k].offset,
			pages[k].limit);
		assert_int_equal(get_text(w, target.buf, &quick), 200);
		/* answered before the read: it was left to a thread */
		assert_int_equal(c->file_read.joinable, 1);
		/* a filter waits for the read (or finds it ended, and joins it); the page then comes from the table */
		assert_int_equal(get_text(w, "/api/v1/datasets/Set/metrics?filter=n>0", &table), 200);
		assert_int_equal(c->file_read.joinable, 0);
		free(table);
		assert_int_equal(get_text(w, target.buf, &table), 200);
		assert_non_null(quick);
		assert_string_equal(quick, table);
		free(quick);
		free(table);
	}

	/* an item that is not text, in the page: the table answers (its item is null) */
	sb_adds(&lines, "\n{\"item\": [1], \"n\": 1}\n");
	assert_int_equal(write_file_atomic(file, lines.buf, lines.len, 0644), 0);
	assert_int_equal(get_text(w, "/api/v1/datasets/Set/metrics?offset=28", &table), 200);
	assert_int_equal(c->file_read.joinable, 0);
	assert_non_null(strstr(table, "\"total\":31"));
	free(table);

	/* a bad line after the first page: first shown, then named, also on the first page */
	sb_adds(&lines, "{\"n\": 1,}\n");
	assert_int_equal(write_file_atomic(file, lines.buf, lines.len, 0644), 0);
	assert_int_equal(get_text(w, "/api/v1/datasets/Set/metrics?limit=5", &quick), 200);
	assert_non_null(strstr(quick, "\"total\":32"));
	free(quick);
	assert_int_equal(get_text(w, "/api/v1/datasets/Set/metrics?sort=n", &table), 422);
	assert_non_null(strstr(table, "uploadable/Set/metrics.jsonl:"));
	free(table);
	assert_int_equal(get_text(w, "/api/v1/datasets/Set/metrics?limit=5", &table), 422);
	free(table);
	/* and a bad line in the first page is named at once */
	assert_int_equal(write_file_atomic(file, "{\"n\": 1}\n{\"n\": }\n", 17, 0644), 0);
	assert_int_equal(get_text(w, "/api/v1/datasets/Set/metrics", &table), 422);
	assert_non_null(strstr(table, "uploadable/Set/metrics.jsonl:2:"));
	assert_int_equal(c->file_read.joinable, 0);
	free(table);

	web_close(w);
	config_release(&cfg);
	cleanup(dir);
	sb_release(&lines);
	sb_release(&target);
	free(file);
	free(up);
	free(flow);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(health_contract),
		cmocka_unit_test(dataset_cache_matches_store),
		cmocka_unit_test(dataset_first_page_before_read),
		cmocka_unit_test(unescape_cases),
		cmocka_unit_test(target_parsing),
		cmocka_unit_test(routing),
		cmocka_unit_test(cookies_and_headers),
		cmocka_unit_test(json_bodies),
		cmocka_unit_test(query_numbers),
		cmocka_unit_test(secret_is_created_private_and_kept),
		cmocka_unit_test(token_checks),
		cmocka_unit_test(csrf_checks),
		cmocka_unit_test(path_safety),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
