/*
 * Requests, responses and routing, independent of the socket layer
 * (httpd.c), so tests and the fuzzer can drive them directly.
 */
#include "web/http.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>

#include "util/common.h"

void http_req_init(struct http_req *req)
{
	memset(req, 0, sizeof(*req));
	req->route = SIZE_MAX;
}

static void kv_release(struct http_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
}

void http_req_release(struct http_req *req)
{
	free(req->path);
	for (size_t i = 0; i < req->nseg; i++)
		free(req->seg[i]);
	kv_release(req->query, req->nquery);
	free(req->query);
	kv_release(req->headers, req->nheaders);
	free(req->headers);
	http_req_init(req);
}

void http_resp_init(struct http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	sb_init(&resp->body, 0);
	resp->fd = -1;
	resp->status = 200;
}

void http_resp_release(struct http_resp *resp)
{
	sb_release(&resp->body);
	kv_release(resp->headers, resp->nheaders);
	resp->nheaders = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int http_unescape(const char *s, size_t n, int plus_space, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		/* An embedded NUL would cut C strings short and hide what follows. */
		if (c == '\0')
			return -1;
		sb_addch(out, c);
	}
	return 0;
}

static int parse_path(struct http_req *req, const char *p, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i = 0;

	if (!n || p[0] != '/')
		return -1;
	req->path = xstrndup(p, n);
	while (i < n) {
		size_t start = ++i; /* skip the '/' */
		while (i < n && p[i] != '/')
			i++;
		if (i == start && i == n)
			break; /* trailing slash: "/api/v1/dags/" is "/api/v1/dags" */
		if (req->nseg == HTTP_MAX_SEGMENTS)
			goto fail;
		sb_reset(&sb);
		if (http_unescape(p + start, i - start, 0, &sb) < 0)
			goto fail;
		req->seg[req->nseg++] = xstrdup(sb.buf);
	}
	sb_release(&sb);
	return 0;
fail:
	sb_release(&sb);
	return -1;
}

static int parse_query(struct http_req *req, const char *q)
{
	struct strbuf k = STRBUF_INIT, v = STRBUF_INIT;
	int ret = 0;

	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		if (len) {
			sb_reset(&k);
			sb_reset(&v);
			if (http_unescape(q, klen, 1, &k) < 0 ||
			    (eq && http_unescape(eq + 1, len - klen - 1, 1, &v) < 0)) {
				ret = -1;
				break;
			}
			ALLOC_GROW(req->query, req->nquery + 1, req->aquery);
			req->query[req->nquery].key = xstrdup(k.buf);
			req->query[req->nquery].value = xstrdup(v.buf);
			req->nquery++;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	sb_release(&k);
	sb_release(&v);
	return ret;
}

int http_req_set_target(struct http_req *req, const char *target)
{
	const char *q = strchr(target, '?');
	size_t plen = q ? (size_t)(q - target) : strlen(target);

	if (parse_path(req, target, plen) < 0)
		return -1;
	return q ? parse_query(req, q + 1) : 0;
}

void http_req_add_header(struct http_req *req, const char *name, const char *value)
{
	ALLOC_GROW(req->headers, req->nheaders + 1, req->aheaders);
	req->headers[req->nheaders].key = xstrdup(name);
	req->headers[req->nheaders].value = xstrdup(value);
	req->nheaders++;
}

static const char *const method_names[] = {
	[HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST", [HTTP_PUT] = "PUT",
	[HTTP_DELETE] = "DELETE", [HTTP_PATCH] = "PATCH", [HTTP_OTHER] = "OTHER",
};

enum http_method http_method_parse(const char *s)
{
	for (size_t i = 0; i < HTTP_OTHER; i++)
		if (!strcmp(s, method_names[i]))
			return (enum http_method)i;
	return HTTP_OTHER;
}

const char *http_method_name(enum http_method m)
{
	return method_names[m];
}

const char *http_header(const struct http_req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].key, name))
			return req->headers[i].value;
	return NULL;
}

const char *http_query(const struct http_req *req, const char *key)
{
	for (size_t i = 0; i < req->nquery; i++)
		if (!strcmp(req->query[i].key, key))
			return req->query[i].value;
	return NULL;
}

char *http_cookie(const struct http_req *req, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t h = 0; h < req->nheaders; h++) {
		const char *p = req->headers[h].value;
		if (strcasecmp(req->headers[h].key, "Cookie"))
			continue;
		while (*p) {
			size_t len;
			while (*p == ' ' || *p == ';')
				p++;
			len = strcspn(p, ";");
			if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=')
				return xstrndup(p + nlen + 1, len - nlen - 1);
			p += len;
		}
	}
	return NULL;
}

void http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
	if (resp->nheaders == HTTP_MAX_RESP_HEADERS)
		BUG("too many response headers");
	resp->headers[resp->nheaders].key = xstrdup(name);
	resp->headers[resp->nheaders].value = xstrdup(value);
	resp->nheaders++;
}

void http_json(struct http_resp *resp, int status, json_t *j)
{
	/* 15 digits: a decimal such as 0.1 or -23.012 prints as written, not as 0.10000000000000001 */
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));

	resp->status = status;
	resp->content_type = "application/json";
	sb_reset(&resp->body);
	sb_adds(&resp->body, s ? s : "null");
	sb_addch(&resp->body, '\n');
	free(s);
	json_decref(j);
}

void http_error(struct http_resp *resp, int status, const char *fmt, ...)
{
	struct strbuf msg = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&msg, fmt, ap);
	va_end(ap);
	http_json(resp, status, json_pack("{s:s}", "error", msg.buf));
	sb_release(&msg);
}

void http_text(struct http_resp *resp, int status, const char *type, const char *text)
{
	resp->status = status;
	resp->content_type = type;
	sb_reset(&resp->body);
	sb_adds(&resp->body, text);
}

/* "application/json" or "application/json; charset=utf-8". */
static int is_json_type(const char *ct)
{
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n))
		return 0;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

json_t *http_json_body(const struct http_req *req, struct http_resp *resp)
{
	const char *ct = http_header(req, "Content-Type");
	json_error_t jerr;
	json_t *j;

	if (!req->body_len)
		return json_object();
	if (!ct || !is_json_type(ct)) {
		http_error(resp, 415, "request body must be application/json, not '%s'",
			   ct ? ct : "(none)");
		return NULL;
	}
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		http_error(resp, 400, "malformed JSON at line %d column %d: %s", jerr.line,
			   jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		http_error(resp, 400, "request body must be a JSON object");
		return NULL;
	}
	return j;
}

/* An integer query parameter in [min, max]; def when absent. */
static int query_range(const struct http_req *req, struct http_resp *resp, const char *key,
		       long def, long min, long max, long *out)
{
	const char *v = http_query(req, key);
	char *end;
	long n;

	*out = def;
	if (!v)
		return 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || n < min || n > max || !isdigit((unsigned char)*v)) {
		http_error(resp, 400, "query parameter '%s' must be an integer from %ld to %ld, not '%s'",
			   key, min, max, v);
		return -1;
	}
	*out = n;
	return 0;
}

int http_query_uint(const struct http_req *req, struct http_resp *resp, const char *key,
		    long def, long max, long *out)
{
	return query_range(req, resp, key, def, 0, max, out);
}

int http_query_limit(const struct http_req *req, struct http_resp *resp, long def, long max,
		     long *out)
{
	return query_range(req, resp, "limit", def, 1, max, out);
}

static int pattern_match(const char *pattern, struct http_req *req)
{
	const char *p = pattern + 1;
	size_t i = 0, nargs = 0;

	while (*p) {
		size_t len = strcspn(p, "/");
		if (i == req->nseg)
			return 0;
		if (len == 1 && *p == '*') {
			if (nargs < ARRAY_SIZE(req->arg))
				req->arg[nargs++] = req->seg[i];
		} else if (strlen(req->seg[i]) != len || strncmp(req->seg[i], p, len)) {
			return 0;
		}
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == req->nseg;
}

ssize_t http_route_match(const struct http_route *routes, size_t n, struct http_req *req)
{
	const char *m = http_method_name(req->method == HTTP_HEAD ? HTTP_GET : req->method);
	ssize_t other = -1;

	for (size_t i = 0; i < n; i++) {
		if (!pattern_match(routes[i].pattern, req))
			continue;
		if (!strcmp(routes[i].method, m)) {
			req->route = i;
			return (ssize_t)i;
		}
		other = -2;
	}
	memset(req->arg, 0, sizeof(req->arg));
	return other;
}
