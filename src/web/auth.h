#ifndef SF_AUTH_H
#define SF_AUTH_H

/*
 * Token auth (docs/api.md).  The secret lives in flow/secret (mode
 * 0600), created at the first start.  API clients send
 * "Authorization: Bearer TOKEN"; a browser visits /?token=TOKEN once and
 * gets it back as an HttpOnly SameSite=Strict cookie.  Requests that change
 * something and are authenticated by that cookie must also carry the CSRF
 * token (a second, script-readable cookie) in the X-SynthFlow-CSRF header,
 * which a cross-site page can neither read nor send without a preflight.
 */

#include "web/http.h"

#define AUTH_CSRF_HEADER "X-SynthFlow-CSRF"

struct web_auth {
	char *token;
	char csrf[65];          /* hex SHA-256 of "csrf:" TOKEN */
	char token_cookie[32];  /* "sf_token_PORT": cookies ignore ports, we don't */
	char csrf_cookie[32];
};

/* The token's file under the data folder; only auth.c reads or writes it. */
#define AUTH_SECRET_FILE "flow/secret"

/*
 * The token in DATA_DIR/flow/secret (malloc'd), checked, and its mode
 * tightened when others could read it.  A missing file is created (0600,
 * 32 random bytes as hex) when create is set, else NULL without a message
 * (no server has started yet); NULL after an error otherwise.
 */
char *auth_token_load(const char *data_dir, int create);
/* auth_token_load(create) and the cookies and CSRF token derived from it. */
int auth_init(struct web_auth *a, const char *data_dir);
/* Names the cookies after the port: browsers share cookies across ports. */
void auth_set_port(struct web_auth *a, int port);
void auth_release(struct web_auth *a);

/* Constant-time comparison with the token. */
int auth_token_equal(const struct web_auth *a, const char *s);
/* How the request proves it knows the token: bearer, ?token=, or cookie. */
enum http_auth auth_check(const struct web_auth *a, const struct http_req *req);
/* For mutating requests with cookie auth: 1 when the CSRF check passes. */
int auth_csrf_ok(const struct web_auth *a, const struct http_req *req);
/* Set-Cookie headers for a browser that just presented the token. */
void auth_set_cookies(const struct web_auth *a, struct http_resp *resp);

#endif
