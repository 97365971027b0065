/*
 * What `synthflow files` and the web API share (watch.h): the listing of
 * files seen in downloaded/ with what each DAG made of them, and a
 * deliberate new arrival of a file (retry).
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/events.h"
#include "flow/sched.h"
#include "flow/watch.h"
#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

/* What one arrival row means to a user. */
static void arrival_status(const struct store_arrival *a, struct strbuf *out)
{
	if (!strcmp(a->state, "run"))
		sb_addf(out, "run %s", a->run_id);
	else if (!strcmp(a->state, "pending"))
		sb_adds(out, "pending (paused)");
	else if (!strcmp(a->state, "ignored"))
		sb_adds(out, "ignored (on_change: ignore)");
	else
		sb_addf(out, "%s (%s)", a->state, a->note ? a->note : "no reason recorded");
}

static void file_status(const struct store_file *f, struct strbuf *out)
{
	if (!strcmp(f->state, "waiting"))
		sb_adds(out, "waiting (being written)");
	else if (!strcmp(f->state, "gone"))
		sb_addf(out, "gone (%s)", f->note ? f->note : "deleted");
	else if (!strcmp(f->state, "unreadable"))
		sb_addf(out, "unreadable (%s)", f->note ? f->note : "cannot open it");
	else if (f->note)
		sb_addf(out, "ignored (%s)", f->note);
	else
		sb_adds(out, "arrived");
}

static void add_row(json_t *rows, const struct store_file *f, const struct store_arrival *a)
{
	struct strbuf status = STRBUF_INIT;
	char when[40];

	if (a)
		arrival_status(a, &status);
	else
		file_status(f, &status);
	time_format_iso(a ? a->at : f->seen_at, when, sizeof(when));
	json_array_append_new(rows, json_pack("{s:s,s:b,s:s?,s:s,s:s,s:s?,s:s?,s:s}", "path", f->rel,
					      "dir", f->dir, "dag_id", a ? a->dag_id : NULL,
					      "state", a ? a->state : f->state, "status",
					      status.buf, "run_id", a ? a->run_id : NULL, "note",
					      a ? a->note : f->note, "at", when));
	sb_release(&status);
}

/*
 * A file with, per DAG, the latest row of its current identity (rows of
 * older identities are history).  v holds the rows of this path, ordered by
 * (dag, ident, attempt), so the last row of a DAG and identity is its latest
 * (not by time: the clock may have been set back between two attempts).
 */
static void file_rows(json_t *rows, const struct store_file *f, struct store_arrival *v, size_t n,
		      const struct dag *only)
{
	int shown = 0;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].ident, f->ident))
			continue;
		if (i + 1 < n && !strcmp(v[i + 1].dag_id, v[i].dag_id) &&
		    !strcmp(v[i + 1].ident, v[i].ident))
			continue;
		add_row(rows, f, &v[i]);
		shown = 1;
	}
	if (shown)
		return;
	/* one DAG's list: what its glob takes that has no run (yet), e.g. unreadable */
	if (only && (!strcmp(f->state, "arrived") || !only->on_file ||
		     !watch_glob_match(only->on_file, f->rel)))
		return;
	add_row(rows, f, NULL);
}

json_t *watch_files_json(struct store *st, const struct dag *only)
{
	struct store_file *files = NULL;
	struct store_arrival *v = NULL;
	size_t nf = 0, nv = 0, j = 0;
	json_t *rows = NULL;

	if (store_file_list(st, &files, &nf) < 0 ||
	    store_arrival_list(st, only ? only->id : NULL, NULL, &v, &nv) < 0)
		goto out;
	rows = json_array();
	/* both lists are sorted by path: walk them side by side */
	for (size_t i = 0; i < nf; i++) {
		size_t k;
		while (j < nv && strcmp(v[j].rel, files[i].rel) < 0)
			j++;
		for (k = j; k < nv && !strcmp(v[k].rel, files[i].rel); k++)
			;
		file_rows(rows, &files[i], v + j, k - j, only);
	}
out:
	store_file_list_free(files, nf);
	store_arrival_list_free(v, nv);
	return rows;
}

/*
 * PATH relative to root (malloc'd): PATH is absolute, relative to root, or
 * else relative to the current folder.  NULL with err set.
 */
static char *rel_of(const char *root, const char *path, struct strbuf *err)
{
	char *abs = path[0] == '/' ? xstrdup(path) : path_join(root, path);
	char *real, *rel = NULL;
	size_t n = strlen(root);

	if (path[0] != '/' && access(abs, F_OK) < 0 && access(path, F_OK) == 0) {
		free(abs);
		abs = xstrdup(path);
	}
	real = path_real(abs);
	if (!real)
		sb_addf(err, "'%s' does not exist in downloaded/", path);
	else if (strncmp(real, root, n) || real[n] != '/')
		sb_addf(err, "'%s' is not inside '%s'", path, root);
	else
		rel = xstrdup(real + n + 1);
	free(real);
	free(abs);
	return rel;
}

static int retry_one(struct store *st, const struct dag *d, const char *root, const char *rel,
		     const char *ident, const struct config *cfg, json_t *paused, json_t *vars,
		     json_t *out, struct strbuf *err)
{
	struct store_arrival a = { 0 };
	const char *task, *field;
	char *abs = path_join(root, rel);
	int ret = -1;
	struct strbuf why = STRBUF_INIT;

	if (sched_trigger_check(cfg, d, &why, &task, &field) < 0 ||
	    watch_params(d, abs, rel, cfg->data_dir, vars, &a.params, &why) < 0) {
		sb_addf(err, "DAG '%s': %s", d->id, why.buf);
		goto out;
	}
	a.dag_id = xstrdup(d->id);
	a.rel = xstrdup(rel);
	a.ident = xstrdup(ident);
	a.state = xstrdup(json_is_true(json_object_get(paused, d->id)) ? "pending" : "run");
	if (store_arrival_add(st, &a, 1) != 0) {
		sb_adds(err, "cannot write the store");
		goto out;
	}
	json_array_append_new(out, json_pack("{s:s,s:s,s:s?}", "dag_id", d->id, "state", a.state,
					     "run_id", a.run_id));
	ret = 0;
out:
	store_arrival_release(&a);
	sb_release(&why);
	free(abs);
	return ret;
}

json_t *watch_retry(struct store *st, const struct dag_set *set, const struct config *cfg,
		    const char *path, const char *dag_id, struct strbuf *err)
{
	const char *data_dir = cfg->data_dir;
	char *dl = path_join(data_dir, "downloaded"), *root = path_real(dl), *rel = NULL;
	char *abs = NULL, *ident = NULL;
	json_t *paused = NULL, *vars = NULL, *out = json_array(), *ev = NULL;
	struct store_file f = { 0 };
	size_t taken = 0;
	int dir = 0, bad = 1, in_tx = 0;
	struct stat sb;

	if (!root) {
		sb_addf(err, "cannot use '%s': %s", dl, strerror(errno));
		goto done;
	}
	if (!(rel = rel_of(root, path, err)))
		goto done;
	abs = path_join(root, rel);
	dir = lstat(abs, &sb) == 0 && S_ISDIR(sb.st_mode);
	if (!(ident = watch_measure(root, rel, dir))) {
		sb_addf(err, "'%s' is not a regular file or folder in downloaded/", rel);
		goto done;
	}
	if (store_dag_paused_all(st, &paused) < 0 || store_var_all(st, &vars) < 0) {
		sb_adds(err, "cannot read the store");
		goto done;
	}
	/* the arrivals, their runs, the file's row and its event: all or nothing */
	if (store_begin(st) < 0) {
		sb_adds(err, "cannot write the store");
		goto done;
	}
	in_tx = 1;
	for (size_t i = 0; i < set->n; i++) {
		const struct dag *d = set->dags[i];
		if (dag_id ? strcmp(d->id, dag_id) : !watch_dag_takes(d, rel, dir))
			continue;
		if (!d->on_file) {
			sb_addf(err, "DAG '%s' has no on_file", d->id);
			goto done;
		}
		if (!watch_dag_takes(d, rel, dir)) {
			sb_addf(err, "DAG '%s' does not take '%s%s' (on_file: '%s', %s)", d->id, rel,
				dir ? "/" : "", d->on_file, d->file_trigger.dirs ? "folders" : "files");
			goto done;
		}
		taken++;
		if (retry_one(st, d, root, rel, ident, cfg, paused, vars, out, err) < 0)
			goto done;
	}
	if (!taken) {
		if (dag_id)
			sb_addf(err, "unknown DAG '%s'", dag_id);
		else
			sb_addf(err, "no DAG's on_file takes '%s'", rel);
		goto done;
	}
	f.rel = rel;
	f.ident = ident;
	f.dir = dir;
	f.state = "arrived";
	f.seen_at = time_now_ms();
	ev = json_pack("{s:s, s:s, s:b, s:O, s:s}", "file", abs, "rel", rel, "dir", dir, "dags", out,
		       "source", "retry");
	if (store_file_put(st, &f) < 0 ||
	    events_add(st, data_dir, NULL, "file-added", ev, NULL) < 0 || store_commit(st) < 0) {
		sb_adds(err, "cannot write the store");
		goto done;
	}
	in_tx = 0;
	bad = 0;
done:
	if (in_tx)
		store_rollback(st);
	if (bad) {
		json_decref(out);
		out = NULL;
	}
	json_decref(ev);
	json_decref(paused);
	json_decref(vars);
	free(ident);
	free(abs);
	free(rel);
	free(root);
	free(dl);
	return out;
}
