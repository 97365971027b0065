/*
 * The variables API (docs/api.md): list, set, unset, history.  Changes go
 * through vars_change() like `synthflow vars`, with the source "ui" for the
 * web UI (cookie) and "api" for a client with the bearer token.
 */
#include "flow/vars.h"
#include "util/common.h"
#include "web/web-impl.h"

static const char *key_or_400(struct http_req *req, struct http_resp *resp)
{
	if (!vars_key_valid(req->arg[0])) {
		http_error(resp, 400, "bad variable name '%s' (letters, digits, _ - .)", req->arg[0]);
		return NULL;
	}
	return req->arg[0];
}

/* GET /api/v1/variables: {"variables": {KEY: VALUE}}. */
void api_vars(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct store *s = api_store(ctx, resp);
	json_t *vars;

	if (!s)
		return;
	if (store_var_all(s, &vars) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	http_json(resp, 200, json_pack("{s:o}", "variables", vars));
}

static void change(struct web *w, struct http_req *req, struct http_resp *resp, const char *key,
		   const char *value)
{
	struct store *s = api_store(w, resp);
	struct dag_snap *snap;
	json_t *out = NULL;
	int ret;

	if (!s)
		return;
	snap = dags_get(w);
	ret = vars_change(s, w->o.cfg, &snap->set, key, value,
			  req->auth == AUTH_COOKIE ? "ui" : "api", &out);
	dags_put(snap);
	if (ret == STORE_NOT_FOUND)
		http_error(resp, 404, "variable '%s' is not set", key);
	else if (ret < 0)
		http_error(resp, 500, "cannot write the store");
	else if (ret == VARS_UNCHANGED)
		http_json(resp, 200, json_pack("{s:s, s:s, s:b}", "key", key, "value", value,
					       "changed", 0));
	else
		http_json(resp, 200, json_pack("{s:s, s:b, s:o}", "key", key, "changed", 1, "change",
					       out));
}

/* PUT /api/v1/variables/{key} {"value": "..."} */
void api_var_put(void *ctx, struct http_req *req, struct http_resp *resp)
{
	const char *key = key_or_400(req, resp);
	json_t *body, *value;
	const char *k;
	json_t *v;

	if (!key || !(body = http_json_body(req, resp)))
		return;
	json_object_foreach(body, k, v) {
		if (strcmp(k, "value")) {
			http_error(resp, 400, "unknown field '%s' in the request body", k);
			json_decref(body);
			return;
		}
	}
	value = json_object_get(body, "value");
	if (!json_is_string(value))
		http_error(resp, 400, "'value' must be a string");
	else
		change(ctx, req, resp, key, json_string_value(value));
	json_decref(body);
}

/* DELETE /api/v1/variables/{key} */
void api_var_delete(void *ctx, struct http_req *req, struct http_resp *resp)
{
	const char *key = key_or_400(req, resp);

	if (key)
		change(ctx, req, resp, key, NULL);
}

/* GET /api/v1/variables/{key}/history: what `vars history KEY --json` prints. */
void api_var_history(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct store *s = api_store(ctx, resp);
	const char *key = s ? key_or_400(req, resp) : NULL;
	struct store_var_change *v;
	json_t *all;
	size_t n;

	if (!key)
		return;
	if (store_var_history(s, key, &v, &n) < 0) {
		http_error(resp, 500, "cannot read the store");
		return;
	}
	all = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(all, vars_change_json(&v[i]));
	store_var_history_free(v, n);
	http_json(resp, 200, json_pack("{s:s, s:o}", "key", key, "history", all));
}
