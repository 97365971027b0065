/*
 * Results of a run: the files under its run.dir (generated/DAG/RUN/) and
 * the files its tasks declare as `outputs`, listed and served.  Only those
 * are reachable: every path from a URL is resolved by paths.c and must land
 * on one of them.
 */
#include "web/web-impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "web/paths.h"

#define MAX_FILES 5000
#define MAX_DEPTH 16

/* "Range: bytes=A-B", "bytes=A-", "bytes=-N"; 0 ok, -1 ignore, -2 unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	unsigned long long a = 0, b = 0;
	const char *p;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return -1;
	p = h + 6;
	if (*p == '-') {
		b = strtoull(p + 1, &end, 10);
		if (end == p + 1 || *end)
			return -1;
		if (!b || !size)
			return -2;
		*off = b >= size ? 0 : size - b;
		*len = size - *off;
		return 0;
	}
	a = strtoull(p, &end, 10);
	if (end == p || *end != '-')
		return -1;
	p = end + 1;
	if (*p) {
		b = strtoull(p, &end, 10);
		if (*end || b < a)
			return -1;
	} else {
		b = size ? size - 1 : 0;
	}
	if (a >= size)
		return -2;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 0;
}

void web_send_file(struct http_req *req, struct http_resp *resp, const char *path, const char *type)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint64_t off = 0, len;
	char cr[96];
	int rc;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		http_error(resp, 404, "'%s' is not a readable file", path_basename(path));
		return;
	}
	len = (uint64_t)st.st_size;
	http_resp_header(resp, "Accept-Ranges", "bytes");
	rc = parse_range(http_header(req, "Range"), (uint64_t)st.st_size, &off, &len);
	if (rc == -2) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)st.st_size);
		http_resp_header(resp, "Content-Range", cr);
		http_error(resp, 416, "range not satisfiable: the file has %llu bytes",
			   (unsigned long long)st.st_size);
		return;
	}
	resp->status = 200;
	if (rc == 0) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)st.st_size);
		http_resp_header(resp, "Content-Range", cr);
		resp->status = 206;
	}
	resp->content_type = type;
	resp->fd = fd;
	resp->off = off;
	resp->len = len;
}

struct file_list {
	char *root;             /* real path of the data folder */
	json_t *files;
	char **reals;           /* real paths of the declared outputs */
	size_t nreals, areals;
	int truncated;
};

static void add_file(struct file_list *fl, const char *real, const struct stat *st,
		     const char *task)
{
	json_t *f;

	if (json_array_size(fl->files) >= MAX_FILES) {
		fl->truncated = 1;
		return;
	}
	f = json_pack("{s:s,s:I,s:s,s:I}", "path", real + strlen(fl->root) + 1, "size",
		      (json_int_t)st->st_size, "type", paths_content_type(real), "mtime",
		      (json_int_t)st->st_mtim.tv_sec);
	json_object_set_new(f, "output", task ? json_string(task) : json_null());
	json_array_append_new(fl->files, f);
}

/* Regular files below dir, sorted; symlinks are not followed. */
static void walk(struct file_list *fl, const char *dir, int depth)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *p;
		struct stat st;
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			free(ents[i]);
			continue;
		}
		p = path_join(dir, name);
		if (!lstat(p, &st)) {
			if (S_ISREG(st.st_mode))
				add_file(fl, p, &st, NULL);
			else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
				walk(fl, p, depth + 1);
		}
		free(p);
		free(ents[i]);
	}
	free(ents);
}

static char *run_dir_of(const char *root, const struct store_run *r)
{
	return xasprintf("%s/generated/%s/%s", root, r->dag_id, r->run_id);
}

/* Expands each task's `outputs` for this run and globs them in the data folder. */
static void add_outputs(struct file_list *fl, const struct dag *d, const struct store_run *r,
			json_t *vars, const char *run_dir, int list)
{
	char date[32];
	struct tmpl_ctx tc = { .dag = d, .params = r->params, .vars = vars, .run_id = r->run_id,
			       .run_dir = run_dir, .run_date = date, .data_dir = fl->root };
	struct strbuf pat = STRBUF_INIT, err = STRBUF_INIT;
	/* The engine's own files (store, token, logs) are never an output, whatever a DAG says. */
	char *engine = path_join(fl->root, "flow");

	time_format_iso(r->created_at, date, sizeof(date));
	date[10] = '\0';
	for (size_t t = 0; t < d->ntasks; t++) {
		tc.task_id = d->tasks[t].id;
		for (size_t o = 0; o < d->tasks[t].noutputs; o++) {
			glob_t g;
			sb_reset(&pat);
			sb_reset(&err);
			/* An output naming {{ item }} has no single value: it is not listed. */
			if (tmpl_expand(d->tasks[t].outputs[o], &tc, &pat, &err) < 0)
				continue;
			if (pat.buf[0] != '/') {
				char *abs = path_join(fl->root, pat.buf);
				sb_reset(&pat);
				sb_adds(&pat, abs);
				free(abs);
			}
			if (glob(pat.buf, 0, NULL, &g))
				continue;
			for (size_t i = 0; i < g.gl_pathc; i++) {
				char *real = path_real(g.gl_pathv[i]);
				struct stat st;
				if (real && path_is_within(fl->root, real) &&
				    !path_is_within(engine, real) && !stat(real, &st) &&
				    S_ISREG(st.st_mode) && !path_is_within(run_dir, real)) {
					if (list)
						add_file(fl, real, &st, d->tasks[t].id);
					ALLOC_GROW(fl->reals, fl->nreals + 1, fl->areals);
					fl->reals[fl->nreals++] = real;
				} else {
					free(real);
				}
			}
			globfree(&g);
		}
	}
	sb_release(&pat);
	sb_release(&err);
	free(engine);
}

static void file_list_release(struct file_list *fl)
{
	free(fl->root);
	for (size_t i = 0; i < fl->nreals; i++)
		free(fl->reals[i]);
	free(fl->reals);
	json_decref(fl->files);
}

/*
 * Fills fl for run r: the run dir's files (when `list`) and the outputs.
 * *run_dir gets the run dir's real path (or its would-be path).
 */
static int collect(struct web *w, struct store *s, const struct store_run *r, struct file_list *fl,
		   int list, char **run_dir)
{
	struct dag_snap *snap = dags_get(w);
	const struct dag *d = dagset_find(&snap->set, r->dag_id);
	json_t *vars = NULL;
	char *rd = run_dir_of(fl->root, r);

	*run_dir = path_real(rd);
	if (!*run_dir)
		*run_dir = rd;
	else
		free(rd);
	/* A run dir reached through a symlink out of the data folder is not served. */
	if (list && is_dir(*run_dir) && path_is_within(fl->root, *run_dir))
		walk(fl, *run_dir, 0);
	/* the run's own snapshot: its outputs are where its tasks wrote them */
	if (r->vars)
		vars = json_incref(r->vars);
	else if (store_var_all(s, &vars) < 0)
		vars = NULL;
	if (d && vars)
		add_outputs(fl, d, r, vars, *run_dir, list);
	json_decref(vars);
	dags_put(snap);
	return 0;
}

/*
 * What both results routes start with: the run of the URL in *r and the
 * data folder's real path in fl->root.  0, or -1 after answering resp.
 */
static int results_begin(struct web *w, struct http_req *req, struct http_resp *resp,
			 struct store **s, struct store_run *r, struct file_list *fl)
{
	int rc;

	*s = web_store(w);
	fl->root = path_real(w->data_dir);
	if (!*s || !fl->root) {
		http_error(resp, 500, "cannot open the store or the data folder");
		return -1;
	}
	rc = store_run_get(*s, req->arg[0], r);
	if (rc) {
		http_error(resp, rc == STORE_NOT_FOUND ? 404 : 500, "unknown run '%s'", req->arg[0]);
		return -1;
	}
	return 0;
}

void api_run_files(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct store *s;
	struct store_run r = { 0 };
	struct file_list fl = { 0 };
	char *run_dir = NULL;

	if (results_begin(ctx, req, resp, &s, &r, &fl) == 0) {
		fl.files = json_array();
		collect(ctx, s, &r, &fl, 1, &run_dir);
		http_json(resp, 200, json_pack("{s:s,s:s,s:O,s:b}", "run_id", r.run_id, "run_dir",
					       path_is_within(fl.root, run_dir) ?
						       run_dir + strlen(fl.root) + 1 : "",
					       "files", fl.files, "truncated", fl.truncated));
	}
	store_run_release(&r);
	file_list_release(&fl);
	free(run_dir);
}

static int is_output(const struct file_list *fl, const char *real)
{
	for (size_t i = 0; i < fl->nreals; i++)
		if (!strcmp(fl->reals[i], real))
			return 1;
	return 0;
}

/* GET /api/v1/runs/{run}/file?path=REL (REL relative to the data folder). */
void api_run_file(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct store *s;
	struct store_run r = { 0 };
	struct file_list fl = { 0 };
	struct strbuf err = STRBUF_INIT;
	const char *rel = http_query(req, "path");
	char *run_dir = NULL, *real = NULL;
	int rc;

	if (!rel) {
		http_error(resp, 400, "missing ?path= (a path relative to the data folder)");
		return;
	}
	if (results_begin(ctx, req, resp, &s, &r, &fl) < 0)
		goto out;
	rc = paths_resolve(fl.root, rel, &real, &err);
	if (rc) {
		http_error(resp, rc, "%s", err.buf);
		goto out;
	}
	collect(ctx, s, &r, &fl, 0, &run_dir);
	if (!path_is_within(run_dir, real) && !is_output(&fl, real))
		http_error(resp, 403, "'%s' is neither in the run's folder nor one of its outputs", rel);
	else
		web_send_file(req, resp, real, paths_content_type(real));
out:
	store_run_release(&r);
	file_list_release(&fl);
	sb_release(&err);
	free(real);
	free(run_dir);
}
