/*
 * libFuzzer target for the request-to-handler path of the web server:
 * request target parsing (path segments, %-escapes, query strings),
 * headers (auth, cookies, CSRF, ranges), JSON bodies, routing, and every
 * handler, against a real data folder with a DAG and a SQLite store.
 *
 * Input format (so mutations stay meaningful):
 *   METHOD TARGET\n
 *   Header: value\n ...
 *   \n
 *   body
 * The text "TOKEN" anywhere in the target or a header value is replaced
 * by the server's real token, so authenticated routes are reached too.
 */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "web/web-impl.h"

static struct web *w;
static struct config cfg;

static const char dag_yaml[] =
	"description: fuzz <b>\n"
	"params:\n"
	"  name: {type: string, default: x}\n"
	"  rate: {type: integer, default: 10, minimum: 1, maximum: 100}\n"
	"  split: {type: enum, values: [a, b], default: a}\n"
	"tasks:\n"
	"  one:\n"
	"    run: echo {{ params.name }}\n"
	"    outputs: [\"uploadable/{{ params.name }}.txt\"]\n"
	"  two:\n"
	"    needs: [one]\n"
	"    foreach: \"{{ run.dir }}/*.wav\"\n"
	"    run: echo {{ item }}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/sf-fuzz-http-XXXXXX";
	char *dir = mkdtemp(tmpl), *p;
	struct web_opts o = { 0 };

	if (!dir)
		abort();
	p = path_join(dir, "src/fuzz/dags");
	mkdir_p(p, 0755);
	free(p);
	p = path_join(dir, "flow");
	mkdir_p(p, 0755);
	free(p);
	p = path_join(dir, "src/fuzz/dags/f.yaml");
	write_file_atomic(p, dag_yaml, sizeof(dag_yaml) - 1, 0644);
	free(p);
	if (config_load(&cfg, dir) < 0)
		abort();
	error_set_quiet(1);
	o.cfg = &cfg;
	o.port = 8881;
	w = web_open(&o);
	if (!w)
		abort();
	return 0;
}

/* Copies s[0..n) with every "TOKEN" replaced by the real token. */
static char *with_token(const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (n - i >= 5 && !memcmp(s + i, "TOKEN", 5)) {
			sb_adds(&sb, w->auth.token);
			i += 4;
		} else {
			sb_addch(&sb, s[i] ? s[i] : ' ');
		}
	}
	return sb_detach(&sb, NULL);
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl : end;
}

static void parse_headers(struct http_req *req, const char **pp, const char *end)
{
	const char *p = *pp;

	while (p < end && *p != '\n') {
		const char *eol = line_end(p, end);
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon) {
			char *name = xstrndup(p, (size_t)(colon - p));
			const char *v = colon + 1;
			char *value;
			while (v < eol && *v == ' ')
				v++;
			value = with_token(v, (size_t)(eol - v));
			http_req_add_header(req, name, value);
			free(name);
			free(value);
		}
		p = eol < end ? eol + 1 : end;
	}
	*pp = p < end ? p + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *eol = line_end(p, end);
	const char *sp = memchr(p, ' ', (size_t)(eol - p));
	struct http_req req;
	struct http_resp resp;
	char *method, *target;

	if (!sp)
		return 0;
	http_req_init(&req);
	http_resp_init(&resp);
	method = xstrndup(p, (size_t)(sp - p));
	target = with_token(sp + 1, (size_t)(eol - sp - 1));
	req.method = http_method_parse(method);
	p = eol < end ? eol + 1 : end;
	parse_headers(&req, &p, end);
	req.body = p;
	req.body_len = (size_t)(end - p);
	if (http_req_set_target(&req, target) == 0)
		web_handle(w, &req, &resp);
	if (resp.fd >= 0)
		close(resp.fd);
	http_resp_release(&resp);
	http_req_release(&req);
	free(target);
	free(method);
	return 0;
}
