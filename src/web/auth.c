/* Token, cookie and CSRF checks; see auth.h for the scheme. */
#include "web/auth.h"

#include <errno.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/common.h"
#include "util/random.h"
#include "util/fs.h"

#define TOKEN_BYTES 32

static int token_is_valid(const char *t)
{
	size_t n = strlen(t);
	if (n < 16 || n > 256)
		return 0;
	return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static int create_secret(const char *path)
{
	char hex[2 * TOKEN_BYTES + 2];

	if (random_hex(hex, TOKEN_BYTES) < 0)
		return error_errno("cannot get random bytes for '%s'", path);
	hex[2 * TOKEN_BYTES] = '\n';
	hex[2 * TOKEN_BYTES + 1] = '\0';
	/* O_EXCL: when two servers start at once, both end up with one secret. */
	if (write_file_if_missing(path, hex, 2 * TOKEN_BYTES + 1, 0600) < 0)
		return error_errno("cannot create '%s'", path);
	return 0;
}

static char *read_secret(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;

	if (sb_read_file(&sb, path) < 0) {
		error_errno("cannot read '%s'", path);
		goto fail;
	}
	sb_rtrim(&sb);
	if (!token_is_valid(sb.buf)) {
		error("'%s' does not hold a token (16 to 256 characters of [A-Za-z0-9._-])", path);
		goto fail;
	}
	if (!stat(path, &st) && (st.st_mode & 077)) {
		warning("'%s' was readable by other users; making it private (0600)", path);
		if (chmod(path, 0600) < 0)
			warning("cannot chmod '%s': %s", path, strerror(errno));
	}
	return sb_detach(&sb, NULL);
fail:
	sb_release(&sb);
	return NULL;
}

char *auth_token_load(const char *data_dir, int create)
{
	char *path = path_join(data_dir, AUTH_SECRET_FILE), *token = NULL;

	if (create && !is_file(path) && create_secret(path) < 0)
		goto out;
	if (!create && !is_file(path))
		goto out;
	token = read_secret(path);
out:
	free(path);
	return token;
}

int auth_init(struct web_auth *a, const char *data_dir)
{
	char *mac;

	memset(a, 0, sizeof(*a));
	a->token = auth_token_load(data_dir, 1);
	if (!a->token)
		return -1;
	mac = xasprintf("csrf:%s", a->token);
	sha256_hex(mac, strlen(mac), a->csrf);
	free(mac);
	auth_set_port(a, 0);
	return 0;
}

void auth_set_port(struct web_auth *a, int port)
{
	snprintf(a->token_cookie, sizeof(a->token_cookie), "sf_token_%d", port);
	snprintf(a->csrf_cookie, sizeof(a->csrf_cookie), "sf_csrf_%d", port);
}

void auth_release(struct web_auth *a)
{
	free(a->token);
	a->token = NULL;
}

/* Compares in time independent of where the strings differ. */
static int secret_equal(const char *secret, const char *s)
{
	size_t n = strlen(secret), m = strlen(s);
	unsigned char diff = n != m;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < m ? s[i] : 0);
	return diff == 0;
}

int auth_token_equal(const struct web_auth *a, const char *s)
{
	return s && secret_equal(a->token, s);
}

enum http_auth auth_check(const struct web_auth *a, const struct http_req *req)
{
	const char *h = http_header(req, "Authorization");
	const char *q = http_query(req, "token");
	char *cookie;
	enum http_auth ret = AUTH_NONE;

	if (h) {
		if (!strncasecmp(h, "Bearer ", 7) && auth_token_equal(a, h + 7))
			return AUTH_BEARER;
		return AUTH_NONE; /* a wrong token is never rescued by a cookie */
	}
	if (q)
		return auth_token_equal(a, q) ? AUTH_BEARER : AUTH_NONE;
	cookie = http_cookie(req, a->token_cookie);
	if (cookie && auth_token_equal(a, cookie))
		ret = AUTH_COOKIE;
	free(cookie);
	return ret;
}

/* Origin, when the browser sends one, must be this very server. */
static int same_origin(const struct http_req *req)
{
	const char *origin = http_header(req, "Origin");
	const char *host = http_header(req, "Host");
	const char *site = http_header(req, "Sec-Fetch-Site");
	const char *rest;

	if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
		return 0;
	if (!origin)
		return 1;
	if (!host)
		return 0;
	if (!strncmp(origin, "http://", 7))
		rest = origin + 7;
	else if (!strncmp(origin, "https://", 8))
		rest = origin + 8;
	else
		return 0;
	return !strcmp(rest, host);
}

int auth_csrf_ok(const struct web_auth *a, const struct http_req *req)
{
	const char *h = http_header(req, AUTH_CSRF_HEADER);
	return h && secret_equal(a->csrf, h) && same_origin(req);
}

void auth_set_cookies(const struct web_auth *a, struct http_resp *resp)
{
	char *c = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict", a->token_cookie, a->token);
	http_resp_header(resp, "Set-Cookie", c);
	free(c);
	/* Readable by our own scripts, which echo it in X-SynthFlow-CSRF. */
	c = xasprintf("%s=%s; Path=/; SameSite=Strict", a->csrf_cookie, a->csrf);
	http_resp_header(resp, "Set-Cookie", c);
	free(c);
}
