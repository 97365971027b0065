/*
 * The content cache (cache.h): keys, lookups that restore, saves, and the
 * listing and collection behind `synthflow cache`.
 *
 * Objects are written once and never changed (read-only, named by their
 * hash), so a restored output may share one: it is placed by reflink where
 * the file system has them, else by hard link, else copied.  Entries are
 * written to a temporary name and renamed, so a reader sees a whole entry
 * or none; a crash may leave an object shorter than its name says, which
 * the size check of a restore catches (the lookup is then a miss).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/cache.h"
#include "flow/exec.h"
#include "flow/prov.h"
#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "workspace/ws.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A name beside path for a file being made: unique across the pool's threads too. */
static char *tmp_beside(const char *path, const char *what)
{
	static _Atomic unsigned seq;
	return xasprintf("%s.%s.%d.%u", path, what, (int)getpid(), seq++);
}

void cache_work_release(struct cache_work *w)
{
	free(w->cache_dir);
	free(w->run_dir);
	free(w->data_dir);
	json_decref(w->keydoc);
	for (size_t i = 0; i < w->ninputs; i++)
		free(w->inputs[i]);
	free(w->inputs);
	for (size_t i = 0; i < w->nnames; i++)
		free(w->names[i]);
	free(w->names);
	free(w->item);
	free(w->lock_path);
	for (size_t i = 0; i < w->noutputs; i++)
		free(w->outputs[i]);
	free(w->outputs);
	json_decref(w->about);
	free(w->from_run);
	json_decref(w->inputs_json);
	json_decref(w->outputs_json);
	free(w->error);
	memset(w, 0, sizeof(*w));
}

/* ---- paths ---- */

static const char *below(const char *path, const char *dir)
{
	size_t n = dir ? strlen(dir) : 0;
	if (n && !strncmp(path, dir, n) && (path[n] == '/' || !path[n]))
		return path + n;
	return NULL;
}

void cache_norm_path(const char *path, const char *run_dir, const char *data_dir,
		     struct strbuf *out)
{
	const char *rest;

	/* the run's folder lies inside the data folder: it is looked at first */
	if ((rest = below(path, run_dir)))
		sb_addf(out, "%s%s", CACHE_RUN_DIR, rest);
	else if ((rest = below(path, data_dir)))
		sb_addf(out, "%s%s", CACHE_DATA, rest);
	else
		sb_adds(out, path);
}

char *cache_real_path(const char *norm, const char *run_dir, const char *data_dir)
{
	size_t rl = strlen(CACHE_RUN_DIR), dl = strlen(CACHE_DATA);

	if (!strncmp(norm, CACHE_RUN_DIR, rl))
		return xasprintf("%s%s", run_dir, norm + rl);
	if (!strncmp(norm, CACHE_DATA, dl))
		return xasprintf("%s%s", data_dir, norm + dl);
	return xstrdup(norm);
}

/* prov_file_json's path (relative to the data folder, or absolute) normalised. */
static char *norm_prov_path(const char *p, const char *run_dir, const char *data_dir)
{
	struct strbuf sb = STRBUF_INIT;
	char *abs = p[0] == '/' ? xstrdup(p) : path_join(data_dir, p);

	cache_norm_path(abs, run_dir, data_dir, &sb);
	free(abs);
	return sb_detach(&sb, NULL);
}

/* The hashed files for the key: the same records, paths normalised. */
static json_t *norm_files(json_t *files, const char *run_dir, const char *data_dir)
{
	json_t *out = json_array(), *f;
	size_t i;

	json_array_foreach(files, i, f) {
		json_t *c = json_copy(f);
		char *p = norm_prov_path(json_string_value(json_object_get(f, "path")), run_dir,
					 data_dir);
		json_object_set_new(c, "path", json_string(p));
		free(p);
		json_array_append_new(out, c);
	}
	return out;
}

void cache_key_of(json_t *keydoc, char out[65])
{
	char *text = json_dumps(keydoc, JSON_COMPACT | JSON_SORT_KEYS);
	sha256_hex(text, strlen(text), out);
	free(text);
}

static char *entry_path(const char *cache_dir, const char *key)
{
	return xasprintf("%s/entries/%.2s/%s.json", cache_dir, key, key);
}

static char *object_path(const char *cache_dir, const char *sha)
{
	return xasprintf("%s/objects/%.2s/%s", cache_dir, sha, sha);
}

/* ---- placing a file ---- */

static int copy_fd(int in, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			off += w;
		}
	}
	return 0;
}

/* dst (which must not exist) gets src's content: reflink, else a copy. */
static int clone_or_copy(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out, ret = 0;

	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	if (ioctl(out, FICLONE, in) < 0)
		ret = copy_fd(in, out);
	close(in);
	if (close(out) < 0)
		ret = -1;
	if (ret < 0)
		unlink(dst);
	return ret;
}

/* An object into its place: beside it first, then renamed over what is there. */
static int place(const char *obj, const char *dst, mode_t mode, int link_ok)
{
	char *tmp = tmp_beside(dst, "sfcache");
	char *slash = strrchr(tmp, '/');
	int ret = -1;

	if (slash) {
		*slash = '\0';
		mkdir_p(tmp, 0755);
		*slash = '/';
	}
	unlink(tmp);
	/* reflink first: a hard link shares the object, a reflink does not */
	if (clone_or_copy(obj, tmp, mode) == 0 || (link_ok && link(obj, tmp) == 0))
		ret = rename(tmp, dst);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

/*
 * Places restored files by reflink or hard link, copying only where neither
 * works: reflink is tried by clone_or_copy, whose copy is the slowest way,
 * so a hard link is tried before it when the file system has no reflinks.
 */
static int place_fast(const char *obj, const char *dst, mode_t mode)
{
	char *tmp = tmp_beside(dst, "sfcache");
	char *slash = strrchr(tmp, '/');
	int ret = -1, in, out;

	if (slash) {
		*slash = '\0';
		mkdir_p(tmp, 0755);
		*slash = '/';
	}
	unlink(tmp);
	in = open(obj, O_RDONLY | O_CLOEXEC);
	out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (out >= 0 && ioctl(out, FICLONE, in) == 0) {
		ret = 0;
	} else if (out >= 0) {
		close(out);
		out = -1;
		unlink(tmp);
	}
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		ret = -1;
	if (ret == 0 || link(obj, tmp) == 0) {
		ret = rename(tmp, dst);
		if (ret < 0)
			unlink(tmp);
		free(tmp);
		return ret;
	}
	free(tmp);
	return place(obj, dst, mode, 0);
}

/* A link to target at dst, beside it first. */
static int place_link(const char *target, const char *dst)
{
	char *tmp = tmp_beside(dst, "sfcache"), *slash = strrchr(tmp, '/');
	int ret;

	if (slash) {
		*slash = '\0';
		mkdir_p(tmp, 0755);
		*slash = '/';
	}
	ret = symlink(target, tmp) < 0 ? -1 : rename(tmp, dst);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* ---- lookup ---- */

/* The names below dir (prefix/name), folders walked, appended to names; no content read. */
static void list_tree(const char *dir, const char *prefix, json_t *out)
{
	char **names;
	size_t n;

	if (fs_sorted_names(dir, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *p = path_join(dir, names[i]);
		char *rel = *prefix ? path_join(prefix, names[i]) : xstrdup(names[i]);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			list_tree(p, rel, out);
		else
			json_array_append_new(out, json_string(rel));
		free(rel);
		free(p);
		free(names[i]);
	}
	free(names);
}

/*
 * input_names for the key: each matching path (normalised) with the names
 * of the files below it, or missing.  Only names: a task that links or
 * lists a folder depends on which files are there, not on their bytes.
 */
static json_t *listing_json(struct cache_work *w)
{
	json_t *arr = json_array();
	struct strbuf norm = STRBUF_INIT, err = STRBUF_INIT;

	for (size_t i = 0; i < w->nnames; i++) {
		char **paths;
		size_t np = 0;
		if (exec_glob(w->names[i], &paths, &np, &err) < 0)
			paths = NULL;
		if (!np) {
			sb_reset(&norm);
			cache_norm_path(w->names[i], w->run_dir, w->data_dir, &norm);
			json_array_append_new(arr, json_pack("{s:s, s:b}", "path", norm.buf,
							     "missing", 1));
		}
		for (size_t k = 0; k < np; k++) {
			json_t *names = json_array();
			struct stat st;
			sb_reset(&norm);
			cache_norm_path(paths[k], w->run_dir, w->data_dir, &norm);
			if (stat(paths[k], &st) == 0 && S_ISDIR(st.st_mode))
				list_tree(paths[k], "", names);
			json_array_append_new(arr, json_pack("{s:s, s:o}", "path", norm.buf,
							     "names", names));
		}
		exec_glob_free(paths, np);
	}
	sb_release(&norm);
	sb_release(&err);
	return arr;
}

/* Every object of the entry is there with its size: 0, else -1 and why. */
static int entry_complete(const char *cache_dir, json_t *outputs, struct strbuf *why)
{
	json_t *o, *f;
	size_t i, k;

	json_array_foreach(outputs, i, o) {
		json_array_foreach(json_object_get(o, "files"), k, f) {
			const char *sha = json_string_value(json_object_get(f, "sha256"));
			char *obj;
			struct stat st;
			if (json_is_string(json_object_get(f, "symlink")))
				continue;
			if (!sha || strlen(sha) != 64) {
				sb_adds(why, "an output has no sha256");
				return -1;
			}
			obj = object_path(cache_dir, sha);
			if (stat(obj, &st) < 0 ||
			    (json_int_t)st.st_size != json_integer_value(json_object_get(f, "size"))) {
				sb_addf(why, "object '%s' is %s", obj, errno == ENOENT ? "gone" : "damaged");
				free(obj);
				return -1;
			}
			free(obj);
		}
	}
	return 0;
}

/* One output as the entry has it: a folder is replaced as a whole. */
static int restore_output(struct cache_work *w, json_t *o, struct strbuf *why)
{
	const char *decl = json_string_value(json_object_get(o, "path"));
	int dir = json_is_true(json_object_get(o, "dir"));
	char *target, *into, *old = NULL;
	json_t *f;
	size_t i;
	int ret = 0;

	if (!decl || json_is_true(json_object_get(o, "absent")))
		return 0;
	target = cache_real_path(decl, w->run_dir, w->data_dir);
	into = dir ? tmp_beside(target, "sfcache") : xstrdup(target);
	if (dir && ws_remove_tree(into) < 0) {
		sb_addf(why, "cannot clear '%s'", into);
		ret = -1;
	}
	if (dir && !ret && mkdir_p(into, 0755) < 0) {
		sb_addf(why, "cannot create '%s': %s", into, strerror(errno));
		ret = -1;
	}
	json_array_foreach(json_object_get(o, "files"), i, f) {
		const char *p = json_string_value(json_object_get(f, "path"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		const char *link = json_string_value(json_object_get(f, "symlink"));
		mode_t mode = (mode_t)json_integer_value(json_object_get(f, "mode")) & 0777;
		char *real, *dst, *obj;
		if (ret || !p || (!sha && !link))
			break;
		real = cache_real_path(p, w->run_dir, w->data_dir);
		dst = dir ? xasprintf("%s%s", into, real + strlen(target)) : xstrdup(real);
		obj = link ? cache_real_path(link, w->run_dir, w->data_dir) : object_path(w->cache_dir, sha);
		if (link ? place_link(obj, dst) < 0 : place_fast(obj, dst, mode ? mode : 0644) < 0) {
			sb_addf(why, "cannot restore '%s': %s", real, strerror(errno));
			ret = -1;
		} else {
			json_t *rec = prov_file_json(real, w->data_dir);
			if (sha) {
				/* its content is the object's: no need to read it again */
				json_object_set_new(rec, "sha256", json_string(sha));
				json_object_set(rec, "size", json_object_get(f, "size"));
				json_object_del(rec, "missing");
			}
			json_array_append_new(w->outputs_json, rec);
		}
		free(real);
		free(dst);
		free(obj);
	}
	if (dir && !ret) {
		/* the old folder moves aside, the restored one takes its place */
		old = tmp_beside(target, "sfold");
		ws_remove_tree(old);
		if ((rename(target, old) < 0 && errno != ENOENT) || rename(into, target) < 0) {
			sb_addf(why, "cannot put '%s' in place: %s", target, strerror(errno));
			ret = -1;
		}
		ws_remove_tree(old);
	}
	if (dir && ret)
		ws_remove_tree(into);
	free(old);
	free(into);
	free(target);
	return ret;
}

void cache_lookup(struct cache_work *w)
{
	char *path;
	struct strbuf sb = STRBUF_INIT, why = STRBUF_INIT;
	json_t *entry, *outputs, *o;
	size_t i;

	w->inputs_json = prov_hash_patterns(w->inputs, w->ninputs, w->data_dir);
	json_object_set_new(w->keydoc, "inputs", norm_files(w->inputs_json, w->run_dir, w->data_dir));
	if (w->nnames)
		json_object_set_new(w->keydoc, "input_names", listing_json(w));
	if (w->item) {
		json_t *it = prov_file_json(w->item, w->data_dir);
		char *p = norm_prov_path(json_string_value(json_object_get(it, "path")), w->run_dir,
					 w->data_dir);
		json_object_set_new(it, "path", json_string(p));
		free(p);
		json_object_set_new(w->keydoc, "item", it);
	}
	if (w->lock_path) {
		/* the lock hash (a workspace without a lock has none: null) */
		char hex[65];
		json_t *ws = json_object_get(w->keydoc, "workspace");
		if (json_is_object(ws))
			json_object_set_new(ws, "lock", sha256_file_hex(w->lock_path, hex) == 0 ?
						json_string(hex) : json_null());
	}
	cache_key_of(w->keydoc, w->key);
	path = entry_path(w->cache_dir, w->key);
	if (sb_read_file(&sb, path) < 0) {
		free(path);
		sb_release(&sb);
		return;
	}
	entry = json_loadb(sb.buf, sb.len, 0, NULL);
	sb_release(&sb);
	outputs = json_object_get(entry, "outputs");
	if (!json_is_array(outputs) ||
	    json_integer_value(json_object_get(entry, "format")) != CACHE_FORMAT) {
		w->error = xasprintf("cache entry '%s' is not readable: ran instead", path);
	} else if (entry_complete(w->cache_dir, outputs, &why) < 0) {
		w->error = xasprintf("cache entry %.12s: %s: ran instead", w->key, why.buf);
	} else {
		w->outputs_json = json_array();
		json_array_foreach(outputs, i, o)
			if (restore_output(w, o, &why) < 0)
				break;
		if (why.len) {
			w->error = xasprintf("cache entry %.12s: %s: ran instead", w->key, why.buf);
		} else {
			const char *run = json_string_value(json_object_get(entry, "run_id"));
			w->hit = 1;
			json_t *index = json_object_get(entry, "index");
			w->from_run = xstrdup(run ? run : "?");
			w->from_index = json_is_integer(index) ? (int)json_integer_value(index) : -1;
			/* its mtime says when it was last used: gc --older-than keeps it */
			utimensat(AT_FDCWD, path, NULL, 0);
		}
	}
	json_decref(entry);
	sb_release(&why);
	free(path);
}

/* ---- save ---- */

/* The object of one file (copied once); its record for the entry, or NULL and why. */
static json_t *save_file(struct cache_work *w, const char *file, struct strbuf *why)
{
	char hex[65], *obj, *tmp;
	struct stat st;
	json_t *rec = NULL;
	struct strbuf norm = STRBUF_INIT;

	if (lstat(file, &st) == 0 && S_ISLNK(st.st_mode)) {
		/*
		 * A link stays a link (a dataset linked into the run is not
		 * copied); one into the run's or data folder is restored
		 * pointing into the new run's or the same data folder.
		 */
		char target[4096];
		ssize_t n = readlink(file, target, sizeof(target) - 1);
		struct strbuf t = STRBUF_INIT;
		if (n < 0) {
			sb_addf(why, "cannot read link '%s'", file);
			return NULL;
		}
		target[n] = '\0';
		cache_norm_path(target, w->run_dir, w->data_dir, &t);
		cache_norm_path(file, w->run_dir, w->data_dir, &norm);
		rec = json_pack("{s:s, s:s}", "path", norm.buf, "symlink", t.buf);
		sb_release(&t);
		sb_release(&norm);
		return rec;
	}
	if (stat(file, &st) < 0 || !S_ISREG(st.st_mode) || sha256_file_hex(file, hex) < 0) {
		sb_addf(why, "cannot read output '%s'", file);
		return NULL;
	}
	obj = object_path(w->cache_dir, hex);
	if (access(obj, F_OK) < 0) {
		char *slash;
		tmp = tmp_beside(obj, "tmp");
		slash = strrchr(tmp, '/');
		*slash = '\0';
		mkdir_p(tmp, 0755);
		*slash = '/';
		unlink(tmp);
		/* a copy (or reflink), never a link: the output stays the task's to change */
		if (place(file, tmp, 0444, 0) < 0 || rename(tmp, obj) < 0) {
			sb_addf(why, "cannot store '%s' in '%s': %s", file, obj, strerror(errno));
			unlink(tmp);
			free(tmp);
			free(obj);
			return NULL;
		}
		chmod(obj, 0444);
		free(tmp);
	}
	free(obj);
	cache_norm_path(file, w->run_dir, w->data_dir, &norm);
	rec = json_pack("{s:s, s:s, s:I, s:i}", "path", norm.buf, "sha256", hex, "size",
			(json_int_t)st.st_size, "mode", (int)(st.st_mode & 0777));
	sb_release(&norm);
	return rec;
}

/* Every file below dir, sorted, appended to files. */
static int save_tree(struct cache_work *w, const char *dir, json_t *files, struct strbuf *why)
{
	char **names;
	size_t n;
	int ret = 0;

	if (fs_sorted_names(dir, &names, &n) < 0) {
		sb_addf(why, "cannot read output folder '%s'", dir);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *p = path_join(dir, names[i]);
		struct stat st;
		if (!ret && lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			ret = save_tree(w, p, files, why);
		} else if (!ret) {
			json_t *rec = save_file(w, p, why);
			if (rec)
				json_array_append_new(files, rec);
			else
				ret = -1;
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return ret;
}

void cache_save(struct cache_work *w)
{
	json_t *outputs = json_array(), *entry;
	struct strbuf why = STRBUF_INIT, norm = STRBUF_INIT;
	char now[40], *path, *text;
	int ret = 0;

	for (size_t i = 0; i < w->noutputs && !ret; i++) {
		char **paths;
		size_t np;
		if (exec_glob(w->outputs[i], &paths, &np, &why) < 0) {
			ret = -1;
			break;
		}
		if (!np) {
			/* declared but not written: restored as nothing */
			sb_reset(&norm);
			cache_norm_path(w->outputs[i], w->run_dir, w->data_dir, &norm);
			json_array_append_new(outputs, json_pack("{s:s, s:b}", "path", norm.buf,
								 "absent", 1));
		}
		for (size_t k = 0; k < np && !ret; k++) {
			json_t *files = json_array();
			int dir = is_dir(paths[k]);
			if (dir) {
				ret = save_tree(w, paths[k], files, &why);
			} else {
				json_t *rec = save_file(w, paths[k], &why);
				if (rec)
					json_array_append_new(files, rec);
				else
					ret = -1;
			}
			sb_reset(&norm);
			cache_norm_path(paths[k], w->run_dir, w->data_dir, &norm);
			json_array_append_new(outputs, json_pack("{s:s, s:b, s:o}", "path", norm.buf,
								 "dir", dir, "files", files));
		}
		exec_glob_free(paths, np);
	}
	if (ret) {
		w->error = xasprintf("not saved in the cache: %s", why.buf);
		goto out;
	}
	time_format_iso(time_now_ms(), now, sizeof(now));
	entry = json_pack("{s:i, s:s, s:s, s:I, s:s, s:o, s:O}", "format", CACHE_FORMAT, "key",
			  w->key, "created_at", now, "created_ms", (json_int_t)time_now_ms(),
			  "engine_version", SF_VERSION, "outputs", outputs,
			  "key_doc", w->keydoc ? w->keydoc : json_null());
	outputs = NULL;
	json_object_update(entry, w->about);
	text = json_dumps(entry, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(entry);
	path = entry_path(w->cache_dir, w->key);
	{
		/* a whole entry or none; not synced: a lost entry is only a miss */
		char *tmp = tmp_beside(path, "tmp"), *slash = strrchr(tmp, '/');
		FILE *f;
		*slash = '\0';
		mkdir_p(tmp, 0755);
		*slash = '/';
		f = fopen(tmp, "we");
		if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
			w->error = xasprintf("not saved in the cache: cannot write '%s': %s", path,
					     strerror(errno));
			unlink(tmp);
		}
		free(tmp);
	}
	free(text);
	free(path);
out:
	json_decref(outputs);
	sb_release(&why);
	sb_release(&norm);
}

/* ---- list and gc ---- */

typedef int (*entry_fn)(const char *path, json_t *entry, struct stat *st, void *data);

/* Calls fn for each entry file (entry NULL when it does not parse). */
static int each_entry(const char *cache_dir, entry_fn fn, void *data)
{
	char *top = path_join(cache_dir, "entries");
	DIR *d = opendir(top), *sub;
	struct dirent *de, *fe;
	int ret = 0;

	if (!d) {
		free(top);
		return errno == ENOENT ? 0 : error_errno("cannot read '%s'", cache_dir);
	}
	while (!ret && (de = readdir(d))) {
		char *dir;
		if (de->d_name[0] == '.')
			continue;
		dir = path_join(top, de->d_name);
		sub = opendir(dir);
		while (sub && !ret && (fe = readdir(sub))) {
			size_t n = strlen(fe->d_name);
			char *p;
			struct stat st;
			struct strbuf sb = STRBUF_INIT;
			json_t *entry = NULL;
			if (n < 6 || strcmp(fe->d_name + n - 5, ".json"))
				continue;
			p = path_join(dir, fe->d_name);
			if (stat(p, &st) == 0) {
				if (sb_read_file(&sb, p) == 0)
					entry = json_loadb(sb.buf, sb.len, 0, NULL);
				ret = fn(p, entry, &st, data);
			}
			json_decref(entry);
			sb_release(&sb);
			free(p);
		}
		if (sub)
			closedir(sub);
		free(dir);
	}
	closedir(d);
	free(top);
	return ret;
}

struct list_ctx {
	struct cache_entry_info *v;
	size_t n, alloc;
};

static int list_one(const char *path, json_t *e, struct stat *st, void *data)
{
	struct list_ctx *c = data;
	struct cache_entry_info *info;
	const char *key = json_string_value(json_object_get(e, "key"));
	json_t *o, *f, *idx = json_object_get(e, "index");
	size_t i, k;

	if (!key || strlen(key) != 64)
		return 0;
	ALLOC_GROW(c->v, c->n + 1, c->alloc);
	info = &c->v[c->n++];
	memset(info, 0, sizeof(*info));
	memcpy(info->key, key, 65);
	info->dag_id = dup_or_null(json_string_value(json_object_get(e, "dag_id")));
	info->task_id = dup_or_null(json_string_value(json_object_get(e, "task_id")));
	info->run_id = dup_or_null(json_string_value(json_object_get(e, "run_id")));
	info->index = json_is_integer(idx) ? (int)json_integer_value(idx) : -1;
	info->created_ms = (int64_t)json_integer_value(json_object_get(e, "created_ms"));
	info->used_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
	json_array_foreach(json_object_get(e, "outputs"), i, o)
		json_array_foreach(json_object_get(o, "files"), k, f) {
			info->nfiles++;
			info->bytes += (uint64_t)json_integer_value(json_object_get(f, "size"));
		}
	(void)path;
	return 0;
}

static int cmp_used(const void *a, const void *b)
{
	const struct cache_entry_info *x = a, *y = b;
	if (x->used_ms != y->used_ms)
		return x->used_ms < y->used_ms ? -1 : 1;
	return strcmp(x->key, y->key);
}

int cache_list(const char *cache_dir, struct cache_entry_info **out, size_t *n)
{
	struct list_ctx c = { 0 };
	int ret = each_entry(cache_dir, list_one, &c);

	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_used);
	*out = c.v;
	*n = c.n;
	return ret;
}

void cache_list_free(struct cache_entry_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].dag_id);
		free(v[i].task_id);
		free(v[i].run_id);
	}
	free(v);
}

struct gc_ctx {
	int64_t cutoff_ms;      /* entries used before it go; 0: none by age */
	char **keep;            /* sha256s of kept entries' objects */
	size_t nkeep, keep_alloc;
	struct cache_gc_result *res;
};

static int gc_entry(const char *path, json_t *e, struct stat *st, void *data)
{
	struct gc_ctx *c = data;
	int64_t used = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
	json_t *o, *f;
	size_t i, k;

	if (!e || !json_is_array(json_object_get(e, "outputs")) ||
	    (c->cutoff_ms && used < c->cutoff_ms)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return error_errno("cannot remove '%s'", path);
		c->res->entries++;
		return 0;
	}
	c->res->kept_entries++;
	json_array_foreach(json_object_get(e, "outputs"), i, o)
		json_array_foreach(json_object_get(o, "files"), k, f) {
			const char *sha = json_string_value(json_object_get(f, "sha256"));
			if (!sha)
				continue;
			ALLOC_GROW(c->keep, c->nkeep + 1, c->keep_alloc);
			c->keep[c->nkeep++] = xstrdup(sha);
		}
	return 0;
}

int cache_gc(const char *cache_dir, int64_t older_ms, struct cache_gc_result *res)
{
	struct gc_ctx c = { .res = res };
	char *top = path_join(cache_dir, "objects");
	DIR *d, *sub;
	struct dirent *de, *fe;
	int ret;

	memset(res, 0, sizeof(*res));
	if (older_ms > 0)
		c.cutoff_ms = time_now_ms() - older_ms;
	ret = each_entry(cache_dir, gc_entry, &c);
	if (c.nkeep)
		qsort(c.keep, c.nkeep, sizeof(*c.keep), cmp_str);
	d = ret ? NULL : opendir(top);
	if (!d && !ret && errno != ENOENT)
		ret = error_errno("cannot read '%s'", top);
	while (d && !ret && (de = readdir(d))) {
		char *dir;
		if (de->d_name[0] == '.')
			continue;
		dir = path_join(top, de->d_name);
		sub = opendir(dir);
		while (sub && !ret && (fe = readdir(sub))) {
			const char *name = fe->d_name;
			char *p;
			struct stat st;
			if (name[0] == '.')
				continue;
			if (strlen(name) == 64 && c.nkeep &&
			    bsearch(&name, c.keep, c.nkeep, sizeof(*c.keep), cmp_str)) {
				res->kept_objects++;
				continue;
			}
			p = path_join(dir, name);
			if (lstat(p, &st) == 0 && unlink(p) == 0) {
				res->objects++;
				res->bytes += (uint64_t)st.st_size;
			} else if (errno != ENOENT) {
				ret = error_errno("cannot remove '%s'", p);
			}
			free(p);
		}
		if (sub)
			closedir(sub);
		rmdir(dir); /* when empty */
		free(dir);
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < c.nkeep; i++)
		free(c.keep[i]);
	free(c.keep);
	free(top);
	return ret;
}

/* ---- who made a restored output ---- */

int cache_made_by(struct store *st, const char *run_id, const char *task_id, int index,
		  char **from_run, int *from_index)
{
	json_t *doc, *idx;
	const char *from;
	int rc = store_prov_get(st, run_id, task_id, index, &doc);

	if (rc)
		return rc;
	from = json_string_value(json_object_get(doc, "cached_from"));
	idx = json_object_get(doc, "cached_from_index");
	rc = from ? 0 : STORE_NOT_FOUND;
	if (from) {
		*from_run = xstrdup(from);
		/* records from before the index was kept: the same instance */
		*from_index = json_is_integer(idx) ? (int)json_integer_value(idx)
				: idx ? -1 : index;
	}
	json_decref(doc);
	return rc;
}
