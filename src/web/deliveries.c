/*
 * The deliveries API (docs/api.md): what `synthflow events list|log` show,
 * for the UI's Events view: run callbacks and event scripts, each with its
 * state, exit code, times and output.
 */
#include "util/common.h"
#include "web/web-impl.h"

/* GET /api/v1/deliveries?kind=&workspace=&limit=: the latest, oldest first. */
void api_deliveries(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct store *s = api_store(ctx, resp);
	const char *kind = http_query(req, "kind");
	struct store_delivery_filter f = { .workspace = http_query(req, "workspace") };
	struct store_delivery *v;
	json_t *all;
	long limit;
	size_t n;

	if (!s || http_query_limit(req, resp, 50, 1000000, &limit) < 0)
		return;
	if (kind && strcmp(kind, "callback") && strcmp(kind, "event")) {
		http_error(resp, 400, "'kind' must be callback or event, not '%s'", kind);
		return;
	}
	f.kind = kind;
	f.limit = (size_t)limit;
	if (store_delivery_list(s, &f, &v, &n) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	all = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, store_delivery_json(&v[i]));
	store_delivery_list_free(v, n);
	http_json(resp, 200, json_pack("{s:o}", "deliveries", all));
}

/* GET /api/v1/deliveries/{id}/log: what it printed (flow/event-logs/). */
void api_delivery_log(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct store *s = api_store(ctx, resp);
	char *end;
	long long id = strtoll(req->arg[0], &end, 10);
	struct store_delivery_filter f = { .id = id };
	struct store_delivery *v = NULL;
	size_t n = 0;

	if (!s)
		return;
	if (*end || id <= 0) {
		http_error(resp, 400, "'%s' is not a delivery id", req->arg[0]);
		return;
	}
	if (store_delivery_list(s, &f, &v, &n) < 0)
		http_error(resp, 500, "cannot read the store");
	else if (!n)
		http_error(resp, 404, "no delivery %lld", id);
	else if (!v[0].log_path)
		http_error(resp, 404, "delivery %lld has no output (it never started)", id);
	else
		web_send_file(req, resp, v[0].log_path, "text/plain; charset=utf-8");
	store_delivery_list_free(v, n);
}
