#ifndef SF_HTTP_H
#define SF_HTTP_H

/*
 * A small HTTP layer over libmicrohttpd.  Requests are parsed into a plain
 * `struct http_req` (decoded path segments, query, headers, body) and
 * answered by filling a `struct http_resp`; only http.c knows about
 * libmicrohttpd, so the request-to-handler path can be driven directly by
 * unit tests and the fuzzer (see http_handle_raw).
 */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/strbuf.h"

/* Request bodies beyond this are refused with 413 before they are read. */
#define HTTP_MAX_BODY (1024 * 1024)
#define HTTP_MAX_SEGMENTS 16

struct http_kv {
	char *key;
	char *value;
};

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH, HTTP_OTHER };

enum http_auth { AUTH_NONE, AUTH_BEARER, AUTH_COOKIE };

struct http_req {
	enum http_method method;
	char *path;             /* the raw path as sent, without the query */
	char *seg[HTTP_MAX_SEGMENTS]; /* percent-decoded path segments */
	size_t nseg;
	struct http_kv *query;  /* percent-decoded, '+' as space */
	size_t nquery, aquery;
	struct http_kv *headers; /* names as sent; looked up case-insensitively */
	size_t nheaders, aheaders;
	const char *body;       /* not NUL-terminated; may be NULL */
	size_t body_len;
	enum http_auth auth;
	const char *arg[4];     /* route captures ("*" segments), in order */
	size_t route;           /* index of the matched route; SIZE_MAX = none */
};

/* Extra response headers a handler may set (Location, Content-Range...). */
#define HTTP_MAX_RESP_HEADERS 6

struct http_resp {
	int status;
	const char *content_type; /* static string */
	struct strbuf body;
	int fd;                 /* >= 0: the body is this file's bytes [off, off+len) */
	uint64_t off, len;
	struct http_kv headers[HTTP_MAX_RESP_HEADERS]; /* malloc'd copies */
	size_t nheaders;
	int sse;                /* 1: turn the connection into an event stream */
	int cacheable;          /* 1: static asset, may be cached */
};

void http_req_init(struct http_req *req);
void http_req_release(struct http_req *req);
void http_resp_init(struct http_resp *resp);
void http_resp_release(struct http_resp *resp);

/*
 * Splits a request target ("/a/b%2Fc?x=1&y") into the decoded segments and
 * query of req.  Returns -1 on a malformed target (bad %-escape, an encoded
 * NUL, too many segments), which the caller answers with 400.
 */
int http_req_set_target(struct http_req *req, const char *target);
void http_req_add_header(struct http_req *req, const char *name, const char *value);
enum http_method http_method_parse(const char *s);
const char *http_method_name(enum http_method m);

/* Lookups; NULL when absent.  Header names are case-insensitive. */
const char *http_header(const struct http_req *req, const char *name);
const char *http_query(const struct http_req *req, const char *key);
/* A cookie's value from the Cookie header, malloc'd, or NULL. */
char *http_cookie(const struct http_req *req, const char *name);

/*
 * Decodes %XX escapes (and '+' as space when plus_space) into out.
 * -1 on a malformed escape or an encoded NUL byte.
 */
int http_unescape(const char *s, size_t n, int plus_space, struct strbuf *out);

/* Response helpers. */
void http_resp_header(struct http_resp *resp, const char *name, const char *value);
/* Takes the reference to `j` and serialises it compactly. */
void http_json(struct http_resp *resp, int status, json_t *j);
/* {"error": MSG} with status. */
void http_error(struct http_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_text(struct http_resp *resp, int status, const char *type, const char *text);

/*
 * The body of a POST as a JSON object.  An empty body is {}.  On failure
 * answers resp (415 wrong content type, 400 malformed JSON or not an
 * object) and returns NULL.
 */
json_t *http_json_body(const struct http_req *req, struct http_resp *resp);

/*
 * A non-negative integer query parameter: *out = def when absent; -1 and a
 * 400 in resp when it is not a number in [0, max].
 */
int http_query_uint(const struct http_req *req, struct http_resp *resp, const char *key,
		    long def, long max, long *out);

/*
 * ?limit= of a list: *out = def when absent; -1 and a 400 when it is not a
 * number in [1, max].  0 is refused, not taken as "no limit": the stores
 * read a limit of 0 as every row, which would lift the cap.
 */
int http_query_limit(const struct http_req *req, struct http_resp *resp, long def, long max,
		     long *out);

/*
 * The routing table.  A pattern is a path whose "*" segments match any one
 * segment and are captured into req->arg.  A path that matches a pattern
 * under another method gets 405.
 */
typedef void (*http_handler)(void *ctx, struct http_req *req, struct http_resp *resp);

struct http_route {
	const char *method;     /* "GET", "POST" */
	const char *pattern;    /* "/api/v1/dags/(star)/runs" */
	http_handler fn;
	unsigned flags;
};

/* Route flags, interpreted by the application's pre-dispatch hook. */
enum { ROUTE_PUBLIC = 1 << 0 };

/*
 * Finds the route for req: its index, or -1 (no path matched: 404) or -2
 * (the path matched under another method: 405).
 */
ssize_t http_route_match(const struct http_route *routes, size_t n, struct http_req *req);

#endif
