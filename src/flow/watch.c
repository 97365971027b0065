/*
 * The pure part of the downloaded/ watcher (watch.h): matching, identities,
 * the arrival tracker and the params of a run started by a file.
 */
#include "flow/watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include "flow/template.h"
#include "util/common.h"

/* Matches components [p, pend) of the glob against [r, rend) of the path. */
static int match_from(char **pc, size_t np, char **rc, size_t nr)
{
	if (!np)
		return nr == 0;
	if (!strcmp(pc[0], "**")) {
		for (size_t skip = 0; skip <= nr; skip++)
			if (match_from(pc + 1, np - 1, rc + skip, nr - skip))
				return 1;
		return 0;
	}
	if (!nr || fnmatch(pc[0], rc[0], FNM_PERIOD))
		return 0;
	return match_from(pc + 1, np - 1, rc + 1, nr - 1);
}

/* Splits at '/' in place (empty components dropped); *n gets the count. */
static char **split_path(char *s, size_t *n)
{
	size_t alloc = 0;
	char **v = NULL;

	*n = 0;
	for (char *tok = strtok(s, "/"); tok; tok = strtok(NULL, "/")) {
		ALLOC_GROW(v, *n + 1, alloc);
		v[(*n)++] = tok;
	}
	return v;
}

int watch_glob_match(const char *glob, const char *rel)
{
	char *g = xstrdup(glob), *r = xstrdup(rel);
	size_t ng, nr;
	char **gc = split_path(g, &ng), **rc = split_path(r, &nr);
	int ok = nr > 0 && match_from(gc, ng, rc, nr);

	free(gc);
	free(rc);
	free(g);
	free(r);
	return ok;
}

int watch_dag_takes(const struct dag *d, const char *rel, int is_dir)
{
	return d->on_file && !d->file_trigger.dirs == !is_dir && watch_glob_match(d->on_file, rel);
}

/* v in decimal at p, at least `width` digits (zero-padded); the end. */
static char *put_u64(char *p, uint64_t v, int width)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* SIZE:SEC.NSEC:INODE, as "%llu:%lld.%09ld:%llu" would print it (20+1+20+1+9+1+20+1 bytes at most). */
const char *watch_ident_file_buf(char buf[WATCH_IDENT_MAX], const struct stat *st)
{
	int64_t sec = (int64_t)st->st_mtim.tv_sec;
	char *p = put_u64(buf, (uint64_t)st->st_size, 1);

	*p++ = ':';
	if (sec < 0)
		*p++ = '-';
	p = put_u64(p, sec < 0 ? -(uint64_t)sec : (uint64_t)sec, 1);
	*p++ = '.';
	p = put_u64(p, (uint64_t)st->st_mtim.tv_nsec, 9);
	*p++ = ':';
	p = put_u64(p, (uint64_t)st->st_ino, 1);
	*p = '\0';
	return buf;
}

char *watch_ident_file(const struct stat *st)
{
	char buf[WATCH_IDENT_MAX];

	return xstrdup(watch_ident_file_buf(buf, st));
}

char *watch_ident_dir(uint64_t files, uint64_t bytes, int64_t newest_mtime_ns)
{
	return xasprintf("dir:%llu:%llu:%lld.%09lld", (unsigned long long)files,
			 (unsigned long long)bytes, (long long)(newest_mtime_ns / 1000000000),
			 (long long)(newest_mtime_ns % 1000000000));
}

/* The length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

int watch_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	for (; *p; p += n)
		if (!(n = utf8_len(p)))
			return 0;
	return 1;
}

void watch_printable(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);
		if (!n || *p < 0x20 || *p == 0x7f) {
			sb_addf(sb, "\\x%02x", *p);
			p++;
			continue;
		}
		sb_add(sb, (const char *)p, n);
		p += n;
	}
}

int watch_dirs_has(const struct watch_dirs *d, const struct stat *st)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].dev == st->st_dev && d->v[i].ino == st->st_ino)
			return 1;
	return 0;
}

int watch_dirs_loops(const struct watch_dirs *d)
{
	for (size_t i = 0; i + 1 < d->n; i++)
		if (d->v[i].dev == d->v[d->n - 1].dev && d->v[i].ino == d->v[d->n - 1].ino)
			return 1;
	return 0;
}

void watch_dirs_push(struct watch_dirs *d, const struct stat *st)
{
	ALLOC_GROW(d->v, d->n + 1, d->alloc);
	d->v[d->n].dev = st->st_dev;
	d->v[d->n].ino = st->st_ino;
	d->n++;
}

int watch_dirs_path(struct watch_dirs *d, const char *root, const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	int ret = 0;

	sb_adds(&p, root);
	for (const char *c = rel;;) {
		size_t n;

		if (stat(p.buf, &st) < 0) {
			ret = -1;
			break;
		}
		watch_dirs_push(d, &st);
		while (*c == '/')
			c++;
		if (!*c)
			break;
		n = strcspn(c, "/");
		sb_addch(&p, '/');
		sb_add(&p, c, n);
		c += n;
	}
	sb_release(&p);
	return ret;
}

void watch_dirs_release(struct watch_dirs *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* Adds up the files below the folder `dfd` (closed here), the last of `up`. */
static void dir_total(int dfd, struct watch_dirs *up, uint64_t *files, uint64_t *bytes,
		      int64_t *newest)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *de;

	if (!dir) {
		close(dfd);
		return;
	}
	while ((de = readdir(dir))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			int64_t ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			(*files)++;
			*bytes += (uint64_t)st.st_size;
			if (ns > *newest)
				*newest = ns;
		} else if (S_ISDIR(st.st_mode) && !watch_dirs_has(up, &st)) {
			int cfd = openat(dirfd(dir), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0) {
				watch_dirs_push(up, &st);
				dir_total(cfd, up, files, bytes, newest);
				up->n--;
			}
		}
	}
	closedir(dir);
}

char *watch_measure(const char *root, const char *rel, int dir)
{
	char *abs = xasprintf("%s/%s", root, rel);
	uint64_t files = 0, bytes = 0;
	int64_t newest = 0;
	struct watch_dirs up = { 0 };
	struct stat st;
	int fd;

	if (lstat(abs, &st) < 0 || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		free(abs);
		return NULL;
	}
	if (!dir) {
		free(abs);
		return watch_ident_file(&st);
	}
	fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(abs);
	if (fd < 0)
		return NULL;
	/* a loop inside the folder leads to it or to a folder above it */
	if (watch_dirs_path(&up, root, rel) < 0) {
		close(fd);
		watch_dirs_release(&up);
		return NULL;
	}
	dir_total(fd, &up, &files, &bytes, &newest);
	watch_dirs_release(&up);
	return watch_ident_dir(files, bytes, newest);
}

int watch_params(const struct dag *d, const char *abs, const char *rel, const char *data_dir,
		 json_t *vars, json_t **out, struct strbuf *err)
{
	const struct dag_on_file *f = &d->file_trigger;
	struct tmpl_ctx ctx = { .dag = d, .vars = vars, .data_dir = data_dir, .file = abs,
				.file_rel = rel };
	struct strbuf val = STRBUF_INIT;
	char **kv = NULL;
	size_t n = 0;
	int ret = 0;

	if (!f->mapping) {
		if (dag_param(d, "file")) {
			kv = xcalloc(1, sizeof(*kv));
			kv[n++] = xasprintf("file=%s", abs);
		}
	} else {
		kv = xcalloc(f->nparams + 1, sizeof(*kv));
		for (size_t i = 0; i < f->nparams && !ret; i++) {
			sb_reset(&val);
			if (tmpl_expand(f->params[i].value, &ctx, &val, err) < 0) {
				ret = -1;
				break;
			}
			kv[n++] = xasprintf("%s=%s", f->params[i].key, val.buf);
		}
	}
	if (!ret)
		ret = dag_params_from_kv(d, kv, n, out, err);
	for (size_t i = 0; i < n; i++)
		free(kv[i]);
	free(kv);
	sb_release(&val);
	return ret < 0 ? -1 : 0;
}

/* ---- the tracker: a hash table of entries by path, and the waiting list ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void watch_tracker_init(struct watch_tracker *t)
{
	memset(t, 0, sizeof(*t));
	t->nslots = 1024;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
}

static void entry_free(struct watch_entry *e)
{
	free(e->blocked);
	free(e->ident);
	free(e->done);
	free(e);
}

void watch_tracker_release(struct watch_tracker *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i])
			entry_free(t->slots[i]);
	free(t->slots);
	free(t->waiting);
	memset(t, 0, sizeof(*t));
}

static size_t slot_of(const struct watch_tracker *t, const char *rel)
{
	size_t i = hash_str(rel) & (t->nslots - 1);
	while (t->slots[i] && strcmp(t->slots[i]->rel, rel))
		i = (i + 1) & (t->nslots - 1);
	return i;
}

struct watch_entry *watch_find(struct watch_tracker *t, const char *rel)
{
	return t->slots[slot_of(t, rel)];
}

static void grow(struct watch_tracker *t)
{
	struct watch_entry **old = t->slots;
	size_t nold = t->nslots;

	t->nslots *= 2;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	for (size_t i = 0; i < nold; i++)
		if (old[i])
			t->slots[slot_of(t, old[i]->rel)] = old[i];
	free(old);
}

static struct watch_entry *entry_get(struct watch_tracker *t, const char *rel, int dir)
{
	size_t i = slot_of(t, rel), len;
	struct watch_entry *e;

	if (t->slots[i])
		return t->slots[i];
	if ((t->n + 1) * 2 > t->nslots) {
		grow(t);
		i = slot_of(t, rel);
	}
	len = strlen(rel);
	e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->rel, rel, len + 1);
	e->dir = dir;
	e->state = WS_ARRIVED;
	t->slots[i] = e;
	t->n++;
	return e;
}

static void wait_add(struct watch_tracker *t, struct watch_entry *e)
{
	if (e->state == WS_WAITING)
		return;
	e->state = WS_WAITING;
	ALLOC_GROW(t->waiting, t->nwaiting + 1, t->awaiting);
	e->wpos = t->nwaiting;
	t->waiting[t->nwaiting++] = e;
}

static void wait_remove(struct watch_tracker *t, struct watch_entry *e)
{
	if (e->state != WS_WAITING)
		return;
	t->waiting[e->wpos] = t->waiting[--t->nwaiting];
	t->waiting[e->wpos]->wpos = e->wpos;
	e->state = WS_ARRIVED;
}

static void set_str(char **p, const char *v)
{
	free(*p);
	*p = v ? xstrdup(v) : NULL;
}

static int same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

void watch_restore(struct watch_tracker *t, const char *rel, int dir, const char *ident)
{
	struct watch_entry *e = entry_get(t, rel, dir);

	wait_remove(t, e);
	set_str(&e->ident, ident);
	set_str(&e->done, ident);
}

enum watch_note watch_note(struct watch_tracker *t, const char *rel, int dir, const char *ident,
			   int64_t quiet_ms, int64_t now)
{
	struct watch_entry *e = entry_get(t, rel, dir);

	e->seen = 1;
	e->dir = dir;
	e->quiet_ms = quiet_ms;
	if (ident && e->state == WS_ARRIVED && same(ident, e->done))
		return WN_SAME;
	if (ident && e->state == WS_WAITING && same(ident, e->ident))
		return WN_SAME;
	free(e->blocked);
	e->blocked = NULL;
	set_str(&e->ident, ident);
	e->since = now;
	wait_add(t, e);
	return WN_WAITING;
}

void watch_forget(struct watch_tracker *t, const char *rel)
{
	size_t i = slot_of(t, rel), j;
	struct watch_entry *e = t->slots[i];

	if (!e)
		return;
	wait_remove(t, e);
	entry_free(e);
	t->slots[i] = NULL;
	t->n--;
	/* re-insert the rest of the cluster (linear probing without tombstones) */
	for (j = (i + 1) & (t->nslots - 1); t->slots[j]; j = (j + 1) & (t->nslots - 1)) {
		struct watch_entry *m = t->slots[j];
		t->slots[j] = NULL;
		t->slots[slot_of(t, m->rel)] = m;
	}
}

void watch_block(struct watch_tracker *t, struct watch_entry *e, const char *ident)
{
	wait_remove(t, e);
	set_str(&e->ident, ident);
	set_str(&e->blocked, ident);
}

int64_t watch_next_due(const struct watch_tracker *t)
{
	int64_t due = INT64_MAX;

	for (size_t i = 0; i < t->nwaiting; i++) {
		const struct watch_entry *e = t->waiting[i];
		if (e->since + e->quiet_ms < due)
			due = e->since + e->quiet_ms;
	}
	return due;
}

enum watch_settled watch_settle(struct watch_tracker *t, struct watch_entry *e, const char *ident,
				int64_t now)
{
	if (e->ident && !same(ident, e->ident)) {
		set_str(&e->ident, ident);
		e->since = now;
		return WSET_WAIT;
	}
	set_str(&e->ident, ident);
	wait_remove(t, e);
	if (same(ident, e->done))
		return WSET_UNCHANGED;
	set_str(&e->done, ident);
	return WSET_ARRIVED;
}
