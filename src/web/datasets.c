/*
 * The datasets of uploadable/ (docs/api.md): GET /api/v1/datasets lists its
 * folders, /api/v1/datasets/{name}/metrics serves a folder's metrics.jsonl
 * as the run routes serve a run's metrics (filtered and sorted in memory,
 * mcache.c), /api/v1/datasets/{name}/file one of its files.  Read-only, and
 * under the run files' rules: a name is one folder of uploadable/, and
 * every path is resolved to its real path, which must lie in the data
 * folder and in the dataset ("..", absolute paths and symlinks out are
 * refused).
 */
#include "web/web-impl.h"

#include <dirent.h>
#include <sys/stat.h>

#include "util/common.h"
#include "util/fs.h"
#include "web/paths.h"

#define DATASET_METRICS "metrics.jsonl"

/*
 * The real path of uploadable/NAME, a folder in the data folder; NULL after
 * answering resp (404 unknown, 403 out of the data folder).
 */
static char *dataset_dir(struct web *w, const char *name, struct http_resp *resp)
{
	struct strbuf rel = STRBUF_INIT, err = STRBUF_INIT;
	char *root = path_real(w->data_dir), *real = NULL;
	int status = 404;

	/* one folder name, not a hidden one (make-filelists builds .NAME.new beside it) */
	if (!root || !*name || name[0] == '.' || strchr(name, '/')) {
		sb_addf(&err, "no such dataset");
	} else {
		sb_addf(&rel, "uploadable/%s", name);
		status = paths_resolve(root, rel.buf, &real, &err);
		if (!status && !is_dir(real)) {
			sb_reset(&err);
			sb_adds(&err, "not a folder");
			status = 404;
		}
	}
	if (status) {
		http_error(resp, status, "dataset '%s': %s", name, err.buf);
		free(real);
		real = NULL;
	}
	sb_release(&rel);
	sb_release(&err);
	free(root);
	return real;
}

/* 1 when dir holds a metrics file that is a regular file inside it. */
static int has_metrics(const char *dir)
{
	struct strbuf err = STRBUF_INIT;
	char *real = NULL;
	int ok = !paths_resolve(dir, DATASET_METRICS, &real, &err) && is_file(real);

	free(real);
	sb_release(&err);
	return ok;
}

void datasets_preload(struct web *w)
{
	char *root = path_real(w->data_dir), *up = root ? path_join(root, "uploadable") : NULL;
	struct dirent **ents = NULL;
	struct strbuf shown = STRBUF_INIT;
	char *newest = NULL;
	struct timespec newest_mtime = { 0 };
	int n = up ? scandir(up, &ents, NULL, alphasort) : 0;

	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct strbuf rel = STRBUF_INIT, err = STRBUF_INIT;
		char *dir = NULL, *file = NULL;
		struct stat st;

		sb_addf(&rel, "uploadable/%s", name);
		/* the folders api_datasets lists, their metrics file as api_dataset_metrics finds it */
		if (name[0] != '.' && !paths_resolve(root, rel.buf, &dir, &err) && is_dir(dir) &&
		    !paths_resolve(dir, DATASET_METRICS, &file, &err) && !stat(file, &st) &&
		    S_ISREG(st.st_mode) &&
		    (!newest || st.st_mtim.tv_sec > newest_mtime.tv_sec ||
		     (st.st_mtim.tv_sec == newest_mtime.tv_sec &&
		      st.st_mtim.tv_nsec > newest_mtime.tv_nsec))) {
			free(newest);
			newest = file;
			file = NULL;
			newest_mtime = st.st_mtim;
			sb_reset(&shown);
			sb_addf(&shown, "uploadable/%s/" DATASET_METRICS, name);
		}
		free(file);
		free(dir);
		sb_release(&rel);
		sb_release(&err);
		free(ents[i]);
	}
	free(ents);
	if (newest)
		mcache_file_preload(w, newest, shown.buf);
	free(newest);
	sb_release(&shown);
	free(up);
	free(root);
}

void api_datasets(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	char *root = path_real(w->data_dir), *up = root ? path_join(root, "uploadable") : NULL;
	struct dirent **ents = NULL;
	json_t *list = json_array();
	int n = up ? scandir(up, &ents, NULL, alphasort) : 0;

	(void)req;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct strbuf rel = STRBUF_INIT, err = STRBUF_INIT;
		char *real = NULL;

		sb_addf(&rel, "uploadable/%s", name);
		if (name[0] != '.' && !paths_resolve(root, rel.buf, &real, &err) && is_dir(real))
			json_array_append_new(list, json_pack("{s:s, s:b}", "name", name, "metrics",
							      has_metrics(real)));
		free(real);
		sb_release(&rel);
		sb_release(&err);
		free(ents[i]);
	}
	free(ents);
	free(up);
	free(root);
	http_json(resp, 200, json_pack("{s:o}", "datasets", list));
}

void api_dataset_metrics(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct web *w = ctx;
	struct store_metrics_query q = { 0 };
	struct strbuf err = STRBUF_INIT, shown = STRBUF_INIT;
	char *dir, *path = NULL;
	json_t *rows = NULL;
	size_t total = 0;
	long limit, offset;
	int status;

	if (http_query_limit(req, resp, 100, METRICS_MAX_LIMIT, &limit) < 0 ||
	    http_query_uint(req, resp, "offset", 0, 1L << 30, &offset) < 0 ||
	    !(dir = dataset_dir(w, req->arg[0], resp)))
		return;
	sb_addf(&shown, "uploadable/%s/" DATASET_METRICS, req->arg[0]);
	status = paths_resolve(dir, DATASET_METRICS, &path, &err);
	if (!status) {
		q.filter = http_query(req, "filter");
		q.sort = http_query(req, "sort");
		q.limit = (size_t)limit;
		q.offset = (size_t)offset;
		status = mcache_file_list(w, path, shown.buf, &q, &rows, &total, &err);
	}
	if (status)
		http_error(resp, status, "%s", status == 404 ? "dataset has no " DATASET_METRICS : err.buf);
	else
		http_json(resp, 200, json_pack("{s:s, s:o, s:I, s:I, s:I}", "dataset", req->arg[0],
					       "items", rows, "total", (json_int_t)total,
					       "limit", (json_int_t)limit, "offset",
					       (json_int_t)offset));
	sb_release(&err);
	sb_release(&shown);
	free(path);
	free(dir);
}

/* GET /api/v1/datasets/{name}/file?path=REL (REL relative to the dataset's folder). */
void api_dataset_file(void *ctx, struct http_req *req, struct http_resp *resp)
{
	struct strbuf err = STRBUF_INIT;
	const char *rel = http_query(req, "path");
	char *dir, *real = NULL;
	int status;

	if (!rel) {
		http_error(resp, 400, "missing ?path= (a path relative to the dataset's folder)");
		return;
	}
	if (!(dir = dataset_dir(ctx, req->arg[0], resp)))
		return;
	status = paths_resolve(dir, rel, &real, &err);
	if (!status && !is_file(real)) {
		sb_adds(&err, "not a file");
		status = 404;
	}
	if (status)
		http_error(resp, status, "%s", err.buf);
	else
		web_send_file(req, resp, real, paths_content_type(real));
	sb_release(&err);
	free(real);
	free(dir);
}
