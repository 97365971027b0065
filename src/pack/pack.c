/*
 * synthflow pack: one run into one bundle (pack.h).  Everything that goes
 * in is decided and checked first (outputs unchanged since the run wrote
 * them, the workspace's git commit), then written in one pass to a
 * temporary file, which is renamed over the target only when complete.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/dag.h"
#include "flow/run.h"
#include "pack/bundle.h"
#include "pack/pack.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "util/timeutil.h"
#include "workspace/engine.h"

struct packw {
	struct archive *a;
	struct strbuf manifest;
	const char *file;
	time_t mtime;
};

static int pw_fail(struct packw *w, const char *what)
{
	struct strbuf why = STRBUF_INIT;
	int ret = error("writing bundle '%s' (at %s): %s", w->file, what,
			bundle_archive_why(w->a, &why));

	sb_release(&why);
	return ret;
}

static struct archive_entry *pw_entry(struct packw *w, const char *name, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, w->mtime, 0);
	return e;
}

static int pw_add_buf(struct packw *w, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = pw_entry(w, name, (int64_t)len);
	char hex[65];
	int ret = 0;

	if (archive_write_header(w->a, e) != ARCHIVE_OK ||
	    (len && archive_write_data(w->a, data, len) != (la_ssize_t)len))
		ret = pw_fail(w, name);
	archive_entry_free(e);
	if (!ret && strcmp(name, SFPACK_MANIFEST)) {
		sha256_hex(data, len, hex);
		sb_addf(&w->manifest, "%s  %s\n", hex, name);
	}
	return ret;
}

static int pw_add_json(struct packw *w, const char *name, json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	int ret = pw_add_buf(w, name, text, strlen(text));
	free(text);
	return ret;
}

/*
 * Streams a file in; its hash must still be `want` (the file may change
 * under us).  A link is followed only when `follow` (an output linked into
 * its run, carried as what it points to: its content is still checked).
 */
static int pw_add_file(struct packw *w, const char *name, const char *path, const char *want,
		       int follow)
{
	struct archive_entry *e;
	struct sha256 h;
	struct stat st;
	char buf[65536], hex[65];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)), ret = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return error_errno("cannot read '%s'", path);
	}
	e = pw_entry(w, name, st.st_size);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		ret = pw_fail(w, name);
	archive_entry_free(e);
	sha256_begin(&h);
	while (!ret && ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))) {
		if (n < 0)
			continue;
		sha256_update(&h, buf, (size_t)n);
		if (archive_write_data(w->a, buf, (size_t)n) != n)
			ret = pw_fail(w, name);
	}
	sha256_end(&h, hex);
	close(fd);
	if (!ret && want && strcmp(hex, want))
		ret = error("'%s' changed while it was being packed", path);
	if (!ret)
		sb_addf(&w->manifest, "%s  %s\n", hex, name);
	return ret;
}

static int pw_add_symlink(struct packw *w, const char *name, const char *target)
{
	struct archive_entry *e = archive_entry_new();
	int ret = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFLNK);
	archive_entry_set_perm(e, 0777);
	archive_entry_set_symlink(e, target);
	archive_entry_set_mtime(e, w->mtime, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		ret = pw_fail(w, name);
	archive_entry_free(e);
	return ret;
}

/* ---- what goes in ---- */

struct output {
	char *path;             /* relative to the data folder */
	char *sha256;
	int64_t size;
	char *task;             /* "TASK" or "TASK.INDEX" that wrote it */
	char *link;             /* a symlink's target, else NULL */
};

struct plan {
	struct output *outs, *ins;
	size_t nouts, nins, outs_alloc, ins_alloc;
};

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->nouts; i++) {
		free(p->outs[i].path);
		free(p->outs[i].sha256);
		free(p->outs[i].task);
		free(p->outs[i].link);
	}
	for (size_t i = 0; i < p->nins; i++) {
		free(p->ins[i].path);
		free(p->ins[i].sha256);
		free(p->ins[i].task);
	}
	free(p->outs);
	free(p->ins);
}

static struct output *find(struct output *v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].path, path))
			return &v[i];
	return NULL;
}

static void add_record(struct output **v, size_t *n, size_t *alloc, json_t *f, const char *task,
		       const char *path)
{
	const char *sha = json_string_value(json_object_get(f, "sha256"));
	struct output *o;

	if (!path || !sha || path[0] == '/')
		return; /* missing, or outside the data folder: nothing to carry */
	o = find(*v, *n, path);
	if (!o) {
		ALLOC_GROW(*v, *n + 1, *alloc);
		o = &(*v)[(*n)++];
		memset(o, 0, sizeof(*o));
		o->path = xstrdup(path);
	}
	free(o->sha256);
	free(o->task);
	o->sha256 = xstrdup(sha);
	o->size = json_integer_value(json_object_get(f, "size"));
	o->task = xstrdup(task);
}

/* A downloaded/ file read, directly or through a link into downloaded/ (its target). */
static void add_input(struct plan *p, json_t *f, const char *task)
{
	const char *path = json_string_value(json_object_get(f, "target"));

	if (!path)
		path = json_string_value(json_object_get(f, "path"));
	if (path && !strncmp(path, "downloaded/", 11))
		add_record(&p->ins, &p->nins, &p->ins_alloc, f, task, path);
}

/* Every declared output (and, with inputs, every downloaded/ file read) of the run. */
static void plan_collect(struct plan *p, json_t *prov, int with_inputs)
{
	const char *key;
	json_t *doc, *f;
	size_t i;

	json_object_foreach(json_object_get(prov, "tasks"), key, doc) {
		json_array_foreach(json_object_get(doc, "outputs"), i, f)
			add_record(&p->outs, &p->nouts, &p->outs_alloc, f, key,
				   json_string_value(json_object_get(f, "path")));
		if (!with_inputs)
			continue;
		json_array_foreach(json_object_get(doc, "inputs"), i, f)
			add_input(p, f, key);
		if ((f = json_object_get(doc, "item")))
			add_input(p, f, key);
	}
}

/* The later run that changed `path` to `now`, for the refusal's message (malloc'd or NULL). */
static char *who_changed(struct store *st, const struct store_run *self, const char *path,
			 const char *now)
{
	struct store_run_filter flt = { 0 };
	struct store_run *runs;
	size_t n, total;
	char *found = NULL, *declared = NULL;

	if (store_run_list(st, &flt, &runs, &n, &total) < 0)
		return NULL;
	/* Newest first: the last writer is found first. */
	for (size_t i = 0; i < n && !found; i++) {
		json_t *prov, *doc, *f;
		const char *key;
		size_t k;
		if (runs[i].created_at <= self->created_at || !strcmp(runs[i].run_id, self->run_id))
			continue;
		if (store_prov_load(st, runs[i].run_id, &prov) < 0)
			continue;
		json_object_foreach(json_object_get(prov, "tasks"), key, doc)
			json_array_foreach(json_object_get(doc, "outputs"), k, f) {
				const char *fp = json_string_value(json_object_get(f, "path"));
				const char *sha = json_string_value(json_object_get(f, "sha256"));
				if (!fp || strcmp(fp, path))
					continue;
				if (sha && !strcmp(sha, now) && !found)
					found = xstrdup(runs[i].run_id);
				else if (!declared)
					declared = xstrdup(runs[i].run_id);
			}
		json_decref(prov);
	}
	store_run_list_free(runs, n);
	if (found) {
		free(declared);
		return found;
	}
	return declared;
}

/* Each file still as the run left it; otherwise one error per file, naming who changed it. */
static int plan_check(struct plan *p, struct store *st, const struct store_run *r,
		      const char *data_dir)
{
	int bad = 0;

	for (size_t i = 0; i < p->nouts + p->nins; i++) {
		int is_out = i < p->nouts;
		struct output *o = is_out ? &p->outs[i] : &p->ins[i - p->nouts];
		char *full = path_join(data_dir, o->path), hex[65];
		struct stat sb;

		/* a link elsewhere (a dataset linked into a run) is carried as its file */
		if (lstat(full, &sb) == 0 && S_ISLNK(sb.st_mode) && is_out &&
		    !strncmp(o->path, "uploadable/", 11)) {
			struct strbuf t = STRBUF_INIT;
			char buf[4096];
			ssize_t n = readlink(full, buf, sizeof(buf) - 1);
			if (n >= 0) {
				sb_add(&t, buf, (size_t)n);
				o->link = sb_detach(&t, NULL);
			}
			sb_release(&t);
		} else if (sha256_file_hex(full, hex) < 0) {
			bad = error("'%s' (%s of %s) is gone since run '%s' %s it", o->path,
				    is_out ? "an output" : "an input", o->task, r->run_id,
				    is_out ? "wrote" : "read");
		} else if (strcmp(hex, o->sha256)) {
			char *later = is_out ? who_changed(st, r, o->path, hex) : NULL;
			if (later)
				bad = error("'%s' was changed by run '%s' after run '%s' wrote it; "
					    "pack '%s' instead, or run '%s' again",
					    o->path, later, r->run_id, later, r->dag_id);
			else
				bad = error("'%s' changed since run '%s' %s it", o->path, r->run_id,
					    is_out ? "wrote" : "read");
			free(later);
		}
		free(full);
	}
	return bad;
}

/* ---- the workspace's source ---- */

struct source {
	char *commit;
	struct strbuf tar, diff;
	json_t *untracked;
};

static int git(const char *dir, const char *const *args, struct strbuf *out)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	int rc;

	strvec_pushv(&av, (const char *const[]){ "git", "-C", dir, NULL });
	strvec_pushv(&av, args);
	rc = spawn_capture(strvec_argv(&av), out, &err);
	strvec_clear(&av);
	sb_release(&err);
	return rc;
}

static int source_get(const char *ws_dir, struct source *src)
{
	struct strbuf top = STRBUF_INIT, out = STRBUF_INIT;
	char *real = path_real(ws_dir), *top_real = NULL;
	int ret = -1;

	memset(src, 0, sizeof(*src));
	src->untracked = json_array();
	if (git(ws_dir, (const char *const[]){ "rev-parse", "--show-toplevel", NULL }, &top) != 0 ||
	    (sb_rtrim(&top), !(top_real = path_real(top.buf))) || !real || strcmp(real, top_real)) {
		error("workspace '%s' has no git history of its own: the bundle names the source by "
		      "its commit (git -C '%s' init && git -C '%s' add -A && git -C '%s' commit)",
		      ws_dir, ws_dir, ws_dir, ws_dir);
		goto out;
	}
	if (git(ws_dir, (const char *const[]){ "rev-parse", "--verify", "HEAD", NULL }, &out) != 0) {
		error("workspace '%s' has no commit yet: the bundle names the source by its commit "
		      "(git -C '%s' add -A && git -C '%s' commit)", ws_dir, ws_dir, ws_dir);
		goto out;
	}
	sb_rtrim(&out);
	src->commit = sb_detach(&out, NULL);
	if (git(ws_dir, (const char *const[]){ "archive", "--format=tar", "HEAD", NULL },
		&src->tar) != 0) {
		error("workspace '%s': git archive failed", ws_dir);
		goto out;
	}
	if (git(ws_dir, (const char *const[]){ "diff", "--binary", "HEAD", NULL }, &src->diff) !=
	    0) {
		error("workspace '%s': git diff failed", ws_dir);
		goto out;
	}
	sb_reset(&out);
	if (git(ws_dir, (const char *const[]){ "ls-files", "--others", "--exclude-standard", "-z", NULL },
		&out) == 0)
		for (size_t i = 0; i < out.len; i += strlen(out.buf + i) + 1)
			json_array_append_new(src->untracked, json_string(out.buf + i));
	ret = 0;
out:
	free(real);
	free(top_real);
	sb_release(&top);
	sb_release(&out);
	return ret;
}

static void source_release(struct source *src)
{
	free(src->commit);
	sb_release(&src->tar);
	sb_release(&src->diff);
	json_decref(src->untracked);
}

/* ---- the bundle ---- */

static json_t *files_json(const struct output *v, size_t n, int with_task)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:I}", "path", v[i].path, "sha256", v[i].sha256,
				      "size", (json_int_t)v[i].size);
		if (with_task)
			json_object_set_new(o, "task", json_string(v[i].task));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *meta_build(const struct store_run *r, const struct dag *d, json_t *rprov,
			  const struct source *src, const char *lock, const struct plan *p,
			  const char *data_dir, int with_inputs)
{
	char now[40], *real = path_real(data_dir), *dag_rel;
	const char *home = getenv("HOME");
	json_t *meta;
	size_t wl;

	time_format_iso(time_now_ms(), now, sizeof(now));
	wl = strlen(data_dir) + strlen("/src/") + strlen(d->workspace) + 1;
	dag_rel = strlen(d->path) > wl ? xstrdup(d->path + wl) : xstrdup(path_basename(d->path));
	meta = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "format", SFPACK_FORMAT, "synthflow",
			 SF_VERSION, "packed_at", now, "run_id", r->run_id, "dag_id", r->dag_id,
			 "dag_file", "dag/dag.yaml", "dag_path", dag_rel);
	json_object_set(meta, "params", r->params);
	json_object_set(meta, "vars", json_object_get(rprov, "vars") ?: json_object());
	json_object_set_new(
		meta, "workspace",
		json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:O}", "name", d->workspace, "commit", src->commit,
			  "dirty", src->diff.len > 0, "diff",
			  src->diff.len ? "workspace/uncommitted.diff" : NULL, "lock", lock,
			  "untracked", src->untracked));
	json_object_set_new(meta, "packed_from",
			    json_pack("{s:s, s:s?, s:s?, s:O?}", "data_dir", data_dir, "data_dir_real",
				      real && strcmp(real, data_dir) ? real : NULL, "home",
				      home && *home ? home : NULL, "host", json_object_get(rprov, "host")));
	json_object_set(meta, "programs", json_object_get(rprov, "programs") ?: json_object());
	json_object_set_new(meta, "outputs", files_json(p->outs, p->nouts, 1));
	if (with_inputs)
		json_object_set_new(meta, "inputs", files_json(p->ins, p->nins, 0));
	free(real);
	free(dag_rel);
	return meta;
}

static int write_bundle(struct packw *w, json_t *meta, json_t *run, const struct dag *d,
			const struct source *src, const char *lock_path, const struct plan *p,
			const char *data_dir, const char *image_tar)
{
	struct strbuf dag = STRBUF_INIT;
	json_t *crate;
	int ret;

	if (pw_add_json(w, SFPACK_META, meta) < 0 || pw_add_json(w, "run.json", run) < 0)
		return -1;
	if (sb_read_file(&dag, d->path) < 0) {
		sb_release(&dag);
		return error_errno("cannot read '%s'", d->path);
	}
	ret = pw_add_buf(w, "dag/dag.yaml", dag.buf, dag.len);
	sb_release(&dag);
	if (ret < 0 || pw_add_buf(w, "workspace/source.tar", src->tar.buf, src->tar.len) < 0 ||
	    (src->diff.len &&
	     pw_add_buf(w, "workspace/uncommitted.diff", src->diff.buf, src->diff.len) < 0) ||
	    (lock_path && pw_add_file(w, "workspace/synthflow.lock", lock_path, NULL, 0) < 0))
		return -1;
	for (size_t i = 0; i < p->nouts; i++) {
		char *name = xasprintf("outputs/%s", p->outs[i].path);
		char *full = path_join(data_dir, p->outs[i].path);
		ret = p->outs[i].link ? pw_add_symlink(w, name, p->outs[i].link)
				      : pw_add_file(w, name, full, p->outs[i].sha256, 1);
		free(name);
		free(full);
		if (ret < 0)
			return -1;
	}
	for (size_t i = 0; i < p->nins; i++) {
		char *name = xasprintf("inputs/%s", p->ins[i].sha256);
		char *full = path_join(data_dir, p->ins[i].path);
		/* By content, each once: two paths with one content share an entry. */
		ret = 0;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(p->ins[k].sha256, p->ins[i].sha256))
				ret = 1;
		if (!ret)
			ret = pw_add_file(w, name, full, p->ins[i].sha256, 0);
		free(name);
		free(full);
		if (ret < 0)
			return -1;
	}
	if (image_tar && pw_add_file(w, SFPACK_IMAGE, image_tar, NULL, 0) < 0)
		return -1;
	crate = crate_build(meta, run);
	ret = pw_add_json(w, "ro-crate-metadata.json", crate);
	json_decref(crate);
	if (ret < 0)
		return -1;
	return pw_add_buf(w, SFPACK_MANIFEST, w->manifest.buf, w->manifest.len);
}

/*
 * --with-image: the image the run's workspace container ran (by the id its
 * provenance records: the tag may have moved since), saved by the engine
 * to `tar`; its description for sfpack.json, or NULL after error().
 */
static json_t *save_image(const struct pack_opts *o, const struct store_run *r, json_t *rprov,
			  const char *tar)
{
	json_t *ws = json_object_get(json_object_get(rprov, "host"), "workspace");
	const char *id = json_string_value(json_object_get(ws, "image_id"));
	struct strbuf err = STRBUF_INIT;
	struct engine e;
	struct stat sb;
	json_t *img = NULL;
	char *have;

	if (!json_is_object(ws)) {
		error("run '%s' was not made inside a workspace, so it has no image to pack; leave "
		      "out --with-image", r->run_id);
		return NULL;
	}
	if (!id) {
		error("run '%s' does not record the id of its workspace image (its container was "
		      "started by an older synthflow): start the workspace again ('synthflow stop', "
		      "'synthflow run %s') and run the DAG again", r->run_id,
		      json_string_value(json_object_get(ws, "name")) ?: "NAME");
		return NULL;
	}
	if (engine_open(o->cfg, &e, NULL) < 0)
		return NULL;
	/* Asked first: the engine's words for a missing image vary by engine and version. */
	if (!(have = engine_image_format(&e, id, "{{.Id}}"))) {
		error("cannot pack image %.19s, which run '%s' ran in: the engine no longer has it "
		      "(the workspace was built again since and the old image removed)", id, r->run_id);
		return NULL;
	}
	free(have);
	fprintf(stderr, "saving the workspace image %.19s (%s save)\n", id, e.cli);
	if (engine_save(&e, id, tar, &err) != 0) {
		sb_rtrim(&err);
		error("cannot save image %.19s, which run '%s' ran in, to '%s': %s", id, r->run_id, tar,
		      err.len ? err.buf : "no message");
	} else if (stat(tar, &sb) < 0) {
		error_errno("cannot read '%s'", tar);
	} else {
		img = json_pack("{s:s, s:s?, s:s, s:I}", "id", id, "name",
				json_string_value(json_object_get(ws, "image")), "file", SFPACK_IMAGE,
				"size", (json_int_t)sb.st_size);
	}
	sb_release(&err);
	return img;
}

int pack_run(struct store *st, const char *data_dir, const struct pack_opts *o)
{
	struct store_run r = { 0 };
	struct store_ti *tis = NULL;
	struct plan p = { 0 };
	struct source src = { 0 };
	struct packw w = { 0 };
	struct dag *d = NULL;
	json_t *prov = NULL, *run = NULL, *meta = NULL, *image = NULL;
	char *out = NULL, *tmp = NULL, *ws_dir = NULL, *lock = NULL, *image_tar = NULL;
	size_t nti = 0;
	int ret = -1;

	if (run_find(st, o->run_id, &r) < 0)
		return -1;
	if (r.state != RUN_SUCCESS) {
		error("run '%s' has not succeeded (%s): only a successful run can be replayed to the "
		      "same outputs", r.run_id, run_state_name(r.state));
		goto out;
	}
	d = run_load_dag(data_dir, r.dag_id);
	if (!d)
		goto out;
	if (store_prov_load(st, r.run_id, &prov) < 0 || store_ti_list(st, r.run_id, &tis, &nti) < 0)
		goto out;
	if (json_is_null(json_object_get(prov, "run"))) {
		error("run '%s' has no provenance (it ran with flow.provenance false, or before "
		      "this version of synthflow recorded it)",
		      r.run_id);
		goto out;
	}
	plan_collect(&p, prov, o->with_inputs);
	if (plan_check(&p, st, &r, data_dir) < 0)
		goto out;
	ws_dir = xasprintf("%s/src/%s", data_dir, d->workspace);
	if (source_get(ws_dir, &src) < 0)
		goto out;
	if (src.diff.len)
		warning("workspace '%s' has uncommitted changes: packed as a diff, flagged in the bundle",
			d->workspace);
	if (json_array_size(src.untracked))
		warning("workspace '%s' has %zu untracked files, not packed (commit them to include them)",
			d->workspace, json_array_size(src.untracked));
	lock = xasprintf("%s/container/synthflow.lock", ws_dir);
	if (!is_file(lock)) {
		free(lock);
		lock = NULL;
	}
	run = store_run_json(&r, tis, nti);
	if (run_add_provenance(st, r.run_id, run) < 0)
		goto out;
	meta = meta_build(&r, d, json_object_get(prov, "run"), &src,
			  lock ? "workspace/synthflow.lock" : NULL, &p, data_dir, o->with_inputs);

	out = o->out ? xstrdup(o->out) : xasprintf("%s.sfpack", r.run_id);
	tmp = xasprintf("%s.tmp.%d", out, (int)getpid());
	if (o->with_image) {
		/* beside the bundle: on the disk that must hold it anyway */
		image_tar = xasprintf("%s.image.tar", tmp);
		if (!(image = save_image(o, &r, json_object_get(prov, "run"), image_tar)))
			goto out;
		json_object_set(meta, "image", image);
	}
	w.file = out;
	w.mtime = (time_t)(r.ended_at / 1000);
	w.a = archive_write_new();
	if (archive_write_add_filter_zstd(w.a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_open_filename(w.a, tmp) != ARCHIVE_OK) {
		pw_fail(&w, "opening");
		archive_write_free(w.a);
		unlink(tmp);
		goto out;
	}
	ret = write_bundle(&w, meta, run, d, &src, lock, &p, data_dir, image_tar);
	if (archive_write_close(w.a) != ARCHIVE_OK && !ret)
		ret = pw_fail(&w, "finishing");
	archive_write_free(w.a);
	if (!ret) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0 || rename(tmp, out) < 0)
			ret = error_errno("cannot write '%s'", out);
		if (fd >= 0)
			close(fd);
	}
	if (ret)
		unlink(tmp);
	else
		printf("%s: run %s, %zu outputs%s%s\n", out, r.run_id, p.nouts,
		       image ? ", the workspace image" : "",
		       src.diff.len ? " (workspace with uncommitted changes)" : "");
out:
	if (image_tar)
		unlink(image_tar);
	free(image_tar);
	json_decref(image);
	source_release(&src);
	plan_release(&p);
	store_ti_list_free(tis, nti);
	store_run_release(&r);
	dag_free(d);
	json_decref(prov);
	json_decref(run);
	json_decref(meta);
	sb_release(&w.manifest);
	free(out);
	free(tmp);
	free(ws_dir);
	free(lock);
	return ret ? -1 : 0;
}
