/*
 * The web server of `synthflow serve`: the route table, authentication
 * before every handler, the embedded UI, and the server's life cycle.
 */
#include "web/web-impl.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/resource.h>

#include "util/common.h"
#include "util/timeutil.h"
#include "web/assets.h"

/* The API of docs/api.md (contract) and the UI's own additions. */
const struct http_route web_routes[] = {
	{ "GET", "/api/v1/health", api_health, ROUTE_PUBLIC },
	{ "GET", "/api/v1/dags", api_dags, 0 },
	{ "GET", "/api/v1/dags/*", api_dag, 0 },
	{ "GET", "/api/v1/dags/*/runs", api_dag_runs, 0 },
	{ "POST", "/api/v1/dags/*/runs", api_dag_trigger, 0 },
	{ "GET", "/api/v1/dags/*/grid", api_dag_grid, 0 },
	{ "POST", "/api/v1/dags/*/pause", api_dag_pause, 0 },
	{ "GET", "/api/v1/dags/*/files", api_dag_files, 0 },
	{ "POST", "/api/v1/dags/*/files/retry", api_dag_files_retry, 0 },
	{ "GET", "/api/v1/runs/*", api_run, 0 },
	{ "GET", "/api/v1/runs/*/diff/*", api_run_diff, 0 },
	{ "GET", "/api/v1/runs/*/provenance", api_run_provenance, 0 },
	{ "POST", "/api/v1/runs/*/cancel", api_run_cancel, 0 },
	{ "GET", "/api/v1/runs/*/files", api_run_files, 0 },
	{ "GET", "/api/v1/runs/*/file", api_run_file, 0 },
	{ "POST", "/api/v1/runs/*/tasks/*/clear", api_task_clear, 0 },
	{ "GET", "/api/v1/runs/*/tasks/*/tries", api_task_tries, 0 },
	{ "GET", "/api/v1/runs/*/tasks/*/log", api_task_log, 0 },
	{ "GET", "/api/v1/runs/*/metrics", api_run_metrics, 0 },
	{ "GET", "/api/v1/datasets", api_datasets, 0 },
	{ "GET", "/api/v1/datasets/*/metrics", api_dataset_metrics, 0 },
	{ "GET", "/api/v1/datasets/*/file", api_dataset_file, 0 },
	{ "GET", "/api/v1/variables", api_vars, 0 },
	{ "PUT", "/api/v1/variables/*", api_var_put, 0 },
	{ "DELETE", "/api/v1/variables/*", api_var_delete, 0 },
	{ "GET", "/api/v1/variables/*/history", api_var_history, 0 },
	{ "GET", "/api/v1/deliveries", api_deliveries, 0 },
	{ "GET", "/api/v1/deliveries/*/log", api_delivery_log, 0 },
	{ "GET", "/api/v1/events", api_events, 0 },
	{ "GET", "/metrics", api_metrics, 0 },
};
const size_t web_nroutes = ARRAY_SIZE(web_routes);

/*
 * Sent with every response.  The UI needs nothing but its own origin: no
 * inline script or style, no framing, no referrer (a URL may hold the token).
 */
static const struct http_kv security_headers[] = {
	{ "Content-Security-Policy",
	  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
	  "media-src 'self'; connect-src 'self'; font-src 'self'; form-action 'self'; "
	  "frame-ancestors 'none'; base-uri 'none'" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cross-Origin-Opener-Policy", "same-origin" },
	{ "Cross-Origin-Resource-Policy", "same-origin" },
};

static void web_store_close(void *p)
{
	store_close(p);
}

struct store *web_store(struct web *w)
{
	struct store *s = pthread_getspecific(w->store_key);

	if (!s) {
		s = store_open(w->o.cfg->flow_store, w->data_dir);
		if (s)
			pthread_setspecific(w->store_key, s);
	}
	return s;
}

static int is_mutating(enum http_method m)
{
	return m != HTTP_GET && m != HTTP_HEAD;
}

static const struct web_asset *asset_find(const char *path)
{
	if (!strcmp(path, "/"))
		path = "/index.html";
	for (size_t i = 0; i < web_nassets; i++)
		if (!strcmp(web_assets[i].path, path))
			return &web_assets[i];
	return NULL;
}

/*
 * GET /?token=T: the browser presents the token once; it gets the cookies
 * and a redirect to the same page without the token, so the token leaves
 * the address bar and the history.
 */
static void token_exchange(struct web *w, struct http_req *req, struct http_resp *resp)
{
	if (!auth_token_equal(&w->auth, http_query(req, "token"))) {
		http_text(resp, 401, "text/plain; charset=utf-8",
			  "wrong token: open the URL that 'synthflow serve' printed\n");
		return;
	}
	auth_set_cookies(&w->auth, resp);
	http_resp_header(resp, "Location", req->path);
	http_text(resp, 303, "text/plain; charset=utf-8", "signed in\n");
}

static void serve_asset(struct web *w, struct http_req *req, struct http_resp *resp)
{
	const struct web_asset *a;
	const char *inm;

	if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
		http_error(resp, 405, "method %s not allowed on '%s'", http_method_name(req->method),
			   req->path);
		return;
	}
	if (http_query(req, "token")) {
		token_exchange(w, req, resp);
		return;
	}
	a = asset_find(req->path);
	if (!a) {
		http_error(resp, 404, "no such page '%s'", req->path);
		return;
	}
	http_resp_header(resp, "ETag", a->etag);
	resp->cacheable = 1;
	http_resp_header(resp, "Cache-Control", "no-cache");
	inm = http_header(req, "If-None-Match");
	if (inm && !strcmp(inm, a->etag)) {
		resp->status = 304;
		return;
	}
	resp->status = 200;
	resp->content_type = a->type;
	sb_add(&resp->body, a->data, a->len);
}

static int is_api_path(const char *path)
{
	return !strncmp(path, "/api/", 5) || !strcmp(path, "/api") || !strcmp(path, "/metrics");
}

void web_handle(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	ssize_t r = http_route_match(web_routes, web_nroutes, req);

	if (r >= 0 && (web_routes[r].flags & ROUTE_PUBLIC)) {
		web_routes[r].fn(w, req, resp);
		return;
	}
	if (!is_api_path(req->path)) {
		serve_asset(w, req, resp);
		return;
	}
	req->auth = auth_check(&w->auth, req);
	if (req->auth == AUTH_NONE) {
		http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"synthflow\"");
		http_error(resp, 401, "missing or wrong token: send 'Authorization: Bearer TOKEN' "
				      "(the token is in flow/secret of the data folder)");
		return;
	}
	if (req->auth == AUTH_COOKIE && is_mutating(req->method) && !auth_csrf_ok(&w->auth, req)) {
		http_error(resp, 403, "cross-site request refused: send the %s header",
			   AUTH_CSRF_HEADER);
		return;
	}
	if (r == -1)
		http_error(resp, 404, "no such endpoint '%s'", req->path);
	else if (r == -2)
		http_error(resp, 405, "method %s not allowed on '%s'", http_method_name(req->method),
			   req->path);
	else
		web_routes[r].fn(w, req, resp);
}

struct web *web_open(const struct web_opts *o)
{
	struct web *w = xcalloc(1, sizeof(*w));

	w->o = *o;
	w->data_dir = o->cfg->data_dir;
	w->started_ms = time_now_ms();
	w->stats = xcalloc(web_nroutes + 1, sizeof(*w->stats));
	pthread_key_create(&w->store_key, web_store_close);
	pthread_mutex_init(&w->dags_lock, NULL);
	pthread_mutex_init(&w->events_lock, NULL);
	pthread_cond_init(&w->events_cond, NULL);
	pthread_mutex_init(&w->list.lock, NULL);
	pthread_mutex_init(&w->grid.lock, NULL);
	pthread_mutex_init(&w->mcache.lock, NULL);
	pthread_cond_init(&w->mcache.read.done, NULL);
	pthread_mutex_init(&w->mcache.file_lock, NULL);
	pthread_cond_init(&w->mcache.file_read.done, NULL);
	w->grid.rows = json_object();
	if (auth_init(&w->auth, w->data_dir) < 0 || !web_store(w)) {
		web_close(w);
		return NULL;
	}
	auth_set_port(&w->auth, o->port < 0 ? o->cfg->web_port : o->port);
	dags_refresh(w);
	return w;
}

void web_close(struct web *w)
{
	struct store *s;

	if (!w)
		return;
	mcache_release(w); /* joins its loader, which uses a store connection */
	/* The key's destructor runs only at thread exit: close ours now. */
	s = pthread_getspecific(w->store_key);
	pthread_setspecific(w->store_key, NULL);
	store_close(s);
	pthread_key_delete(w->store_key);
	api_cache_release(w);
	dags_release_all(w);
	auth_release(&w->auth);
	pthread_mutex_destroy(&w->dags_lock);
	pthread_mutex_destroy(&w->events_lock);
	pthread_cond_destroy(&w->events_cond);
	pthread_mutex_destroy(&w->list.lock);
	pthread_mutex_destroy(&w->grid.lock);
	pthread_mutex_destroy(&w->mcache.lock);
	pthread_cond_destroy(&w->mcache.read.done);
	pthread_mutex_destroy(&w->mcache.file_lock);
	pthread_cond_destroy(&w->mcache.file_read.done);
	free(w->stats);
	free(w->url);
	free(w);
}

static int is_loopback(const char *bind)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!strcasecmp(bind, "localhost"))
		return 1;
	if (inet_pton(AF_INET, bind, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, bind, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* A thousand event streams need a thousand descriptors: use what we may. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static char *make_url(const char *bind, int port, const char *token)
{
	const char *host = bind;
	if (!strcmp(bind, "0.0.0.0") || !strcmp(bind, "::") || !strcmp(bind, "localhost"))
		host = "127.0.0.1";
	if (strchr(host, ':'))
		return xasprintf("http://[%s]:%d/?token=%s", host, port, token);
	return xasprintf("http://%s:%d/?token=%s", host, port, token);
}

struct web *web_start(const struct web_opts *o)
{
	struct httpd_opts ho = { 0 };
	struct web *w;

	raise_fd_limit();
	w = web_open(o);
	if (!w)
		return NULL;
	ho.bind = o->bind ? o->bind : o->cfg->web_bind;
	ho.port = o->port < 0 ? o->cfg->web_port : o->port;
	ho.threads = 4;
	ho.handle = web_handle;
	ho.done = metrics_request_done;
	ho.ctx = w;
	ho.headers = security_headers;
	ho.nheaders = ARRAY_SIZE(security_headers);
	ho.max_streams = 4096;
	w->is_public = !is_loopback(ho.bind);
	w->httpd = httpd_start(&ho);
	if (!w->httpd) {
		web_close(w);
		return NULL;
	}
	auth_set_port(&w->auth, httpd_port(w->httpd));
	if (events_start(w) < 0) {
		httpd_stop(w->httpd);
		web_close(w);
		return NULL;
	}
	w->url = make_url(ho.bind, httpd_port(w->httpd), w->auth.token);
	mcache_preload(w);
	datasets_preload(w);
	return w;
}

const char *web_url(const struct web *w)
{
	return w->url;
}

int web_is_public(const struct web *w)
{
	return w->is_public;
}

void web_stop(struct web *w)
{
	if (!w)
		return;
	/* Events first: its thread writes to the streams httpd_stop ends. */
	events_stop(w);
	httpd_stop(w->httpd);
	web_close(w);
}
