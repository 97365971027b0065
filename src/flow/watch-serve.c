/*
 * The downloaded/ watcher inside `synthflow serve` (watch.h): one thread
 * with its own store connection.  inotify on every folder of the tree tells
 * it quickly that something changed; a full rescan every flow.rescan (and at
 * start) finds what inotify cannot see (NFS, a full event queue, files that
 * came while serve was down).  Either way a file only counts once it stayed
 * unchanged for its quiet period, and each arrival is written together with
 * its run (store_arrival_add); once that commits, the scheduler is woken
 * (watcher_start's runs_committed) to start the run at once, rather than at
 * its next poll of the store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "flow/events.h"
#include "flow/sched.h"
#include "flow/watch-serve.h"
#include "store/store.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

#define DEFAULT_QUIET_MS 5000
#define PENDING_CHECK_MS 1000
#define DAGS_CHECK_MS 1000

struct watcher {
	const struct config *cfg;
	pthread_t thread;
	int stop_pipe[2];
	char *dl;               /* downloaded/ as configured (it may be a link) */
	char *root;             /* what it resolves to */
	dev_t root_dev;         /* and that folder's identity */
	ino_t root_ino;
	int root_lost;          /* downloaded/ could not be read at the last look */
	char **bad_dirs;        /* folders that cannot be read (reported once each) */
	size_t nbad_dirs, abad_dirs;
	int report_unmatched;   /* DAGs (re)loaded: say which globs match nothing yet */
	struct strbuf shown;    /* a name as log lines show it (watch_printable) */
	struct strbuf path;     /* the walk's path, relative to downloaded/ */
	struct store *st;
	struct dag_set dags;
	char *dags_sig;
	int64_t dags_checked;
	struct watch_tracker t;
	int ino;                /* inotify fd, -1 when off */
	char **wds;             /* folder (relative) of each watch descriptor */
	size_t nwds;
	int ino_full_warned;
	int64_t next_rescan, next_pending;
	int in_batch;
	int batch_runs;         /* the batch creates runs: wake the scheduler after it */
	void (*runs_committed)(void *arg);
	void *runs_arg;
	int64_t batch_quiet_end; /* the earliest quiet period's end arrived in this batch */
	int batch_bad;          /* a read failed: the batch is rolled back, the tracker rebuilt */
	json_t *b_paused, *b_vars; /* paused DAGs and variables, read once per batch */
	/* metrics (read by other threads without locks: counters only grow) */
	_Atomic uint64_t seen_total, runs_total, rescans;
	_Atomic int64_t lag_ms, rescan_ms, rescan_cpu_us, pending;
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---- the DAGs (reloaded when a DAG file changed, checked once a second) ---- */

static void dags_refresh(struct watcher *w, int64_t now)
{
	char *sig;

	if (w->dags_sig && now - w->dags_checked < DAGS_CHECK_MS)
		return;
	w->dags_checked = now;
	sig = dagset_signature(w->cfg->data_dir);
	if (w->dags_sig && !strcmp(sig, w->dags_sig)) {
		free(sig);
		return;
	}
	free(w->dags_sig);
	w->dags_sig = sig;
	dagset_release(&w->dags);
	dagset_load(&w->dags, w->cfg->data_dir, NULL);
	w->report_unmatched = 1;
}

/* rel as log lines show it: control characters and bytes that are not UTF-8 escaped. */
static const char *show(struct watcher *w, const char *rel)
{
	sb_reset(&w->shown);
	watch_printable(&w->shown, rel);
	return w->shown.buf;
}

/* The longest quiet period of the DAGs that take rel; the default when none does. */
static int64_t quiet_of(struct watcher *w, const char *rel, int dir)
{
	int64_t q = -1;

	for (size_t i = 0; i < w->dags.n; i++) {
		const struct dag *d = w->dags.dags[i];
		if (d->file_trigger.quiet_ms > q && watch_dag_takes(d, rel, dir))
			q = d->file_trigger.quiet_ms;
	}
	return q < 0 ? DEFAULT_QUIET_MS : q;
}

/* 1 when some DAG takes rel as a folder. */
static int is_dir_unit(struct watcher *w, const char *rel)
{
	for (size_t i = 0; i < w->dags.n; i++)
		if (watch_dag_takes(w->dags.dags[i], rel, 1))
			return 1;
	return 0;
}

/* 1 when rel lies inside a folder that some DAG takes whole. */
static int inside_dir_unit(struct watcher *w, const char *rel)
{
	char *p = xstrdup(rel), *slash;
	int in = 0;

	while (!in && (slash = strrchr(p, '/'))) {
		*slash = '\0';
		in = is_dir_unit(w, p);
	}
	free(p);
	return in;
}

/* ---- store writes, batched per loop iteration ---- */

static void batch_begin(struct watcher *w)
{
	if (!w->in_batch && store_begin(w->st) == 0)
		w->in_batch = 1;
}

static void restore(struct watcher *w);

/*
 * A batch that cannot be committed (or read) leaves the tracker ahead of
 * the store: start again from what the store holds, and look at everything
 * now.
 */
static void batch_end(struct watcher *w)
{
	json_decref(w->b_paused);
	json_decref(w->b_vars);
	w->b_paused = w->b_vars = NULL;
	if (w->in_batch && w->batch_bad)
		store_rollback(w->st);
	if (w->batch_bad || (w->in_batch && store_commit(w->st) < 0)) {
		watch_tracker_release(&w->t);
		watch_tracker_init(&w->t);
		restore(w);
		w->next_rescan = 0;
	} else {
		if (w->in_batch && w->batch_quiet_end != INT64_MAX)
			w->lag_ms = time_mono_ms() - w->batch_quiet_end;
		if (w->in_batch && w->batch_runs && w->runs_committed)
			w->runs_committed(w->runs_arg);
	}
	w->in_batch = 0;
	w->batch_runs = 0;
	w->batch_bad = 0;
	w->batch_quiet_end = INT64_MAX;
}

/*
 * The files row of rel.  A name that is not valid UTF-8 cannot be stored as
 * it is (PostgreSQL, JSON): its row is keyed by the escaped name, as shown.
 */
static void put_file(struct watcher *w, const char *rel, int dir, const char *ident,
		     const char *state, const char *note)
{
	struct strbuf key = STRBUF_INIT;
	struct store_file f = { .ident = (char *)(ident ? ident : ""), .dir = dir,
				.state = (char *)state, .seen_at = time_now_ms(),
				.note = (char *)note };

	watch_printable(&key, rel);
	f.rel = watch_utf8_valid(rel) ? (char *)rel : key.buf;
	batch_begin(w);
	store_file_put(w->st, &f);
	sb_release(&key);
}

/* One DAG's share of an arrival: a run, pending while paused, ignored or failed. */
static void arrive_for(struct watcher *w, const struct dag *d, const char *rel, const char *ident,
		       json_t *paused, json_t *vars, json_t *dags)
{
	struct store_arrival a = { 0 };
	struct strbuf err = STRBUF_INIT;
	const char *task, *field;
	char *abs = path_join(w->root, rel);
	int ret;

	a.dag_id = xstrdup(d->id);
	a.rel = xstrdup(rel);
	a.ident = xstrdup(ident);
	if (d->file_trigger.on_change == ON_CHANGE_IGNORE && store_arrival_seen(w->st, d->id, rel) > 0) {
		a.state = xstrdup("ignored");
		a.note = xstrdup("changed, and the DAG has on_change: ignore");
	} else if (sched_trigger_check(w->cfg, d, &err, &task, &field) < 0 ||
		   watch_params(d, abs, rel, w->cfg->data_dir, vars, &a.params, &err) < 0) {
		/* no run: one that could never start is refused like a trigger */
		a.state = xstrdup("failed");
		a.note = xstrdup(err.buf);
		warning("file '%s': no run of DAG '%s': %s", show(w, rel), d->id, err.buf);
	} else {
		a.state = xstrdup(json_is_true(json_object_get(paused, d->id)) ? "pending" : "run");
	}
	batch_begin(w);
	ret = store_arrival_add(w->st, &a, 0);
	/* for the file's event (its "dags") */
	json_array_append_new(dags, json_pack("{s:s, s:s, s:s?}", "dag_id", d->id, "state", a.state,
					      "run_id", a.run_id));
	if (ret == 0 && a.run_id) {
		w->runs_total++;
		w->batch_runs = 1;
		fprintf(stderr, "synthflow serve: file '%s': run %s of DAG '%s'\n", show(w, rel), a.run_id,
			d->id);
	}
	store_arrival_release(&a);
	sb_release(&err);
	free(abs);
}

/*
 * The file-added or file-changed event, for every workspace that has the
 * script; `source` says what made the arrival (docs/events.md).
 */
static void file_event(struct watcher *w, const char *rel, int dir, int changed, json_t *dags,
		       const char *source)
{
	char *abs = path_join(w->root, rel);
	json_t *ev = json_pack("{s:s, s:s, s:b, s:O, s:s}", "file", abs, "rel", rel, "dir", dir,
			       "dags", dags, "source", source);

	/*
	 * (names that are not UTF-8 never arrive: they are refused when seen);
	 * an event that cannot be written takes its batch with it
	 */
	if (!ev || events_add(w->st, w->cfg->data_dir, NULL, changed ? "file-changed" : "file-added",
			      ev, NULL) < 0)
		w->batch_bad = 1;
	json_decref(ev);
	free(abs);
}

/* changed: an earlier identity of it was handled (a rewrite, a replacement). */
static void arrive(struct watcher *w, struct watch_entry *e, int64_t quiet_end, int changed)
{
	json_t *dags = json_array();
	size_t matched = 0;

	if (quiet_end < w->batch_quiet_end)
		w->batch_quiet_end = quiet_end;
	for (size_t i = 0; i < w->dags.n; i++) {
		const struct dag *d = w->dags.dags[i];
		if (!watch_dag_takes(d, e->rel, e->dir))
			continue;
		/* read once per batch, and only when some DAG takes a file */
		if (!w->b_paused && (store_dag_paused_all(w->st, &w->b_paused) < 0 ||
				     store_var_all(w->st, &w->b_vars) < 0)) {
			batch_begin(w);
			w->batch_bad = 1;
			json_decref(dags);
			return;
		}
		matched++;
		arrive_for(w, d, e->rel, e->done, w->b_paused, w->b_vars, dags);
	}
	if (matched || e->dir || !inside_dir_unit(w, e->rel)) {
		put_file(w, e->rel, e->dir, e->done, "arrived", matched ? NULL : "no DAG matches");
		file_event(w, e->rel, e->dir, changed, dags, "watcher");
	}
	json_decref(dags);
}

/* ---- measuring files and folders ---- */

struct agg {
	uint64_t files, bytes;
	int64_t newest_ns;
};

static void agg_add(struct agg *a, const struct stat *st)
{
	int64_t ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;

	a->files++;
	a->bytes += (uint64_t)st->st_size;
	if (ns > a->newest_ns)
		a->newest_ns = ns;
}

static void add_watch(struct watcher *w, const char *rel);
static void refuse(struct watcher *w, const char *rel, int dir, const char *ident,
		   const char *state, const char *why);
static void noted(struct watcher *w, const char *rel, int dir, const char *ident, int64_t now);
static void special(struct watcher *w, const char *rel, const struct stat *st);
static void dir_readable(struct watcher *w, const char *rel, int err);

/* The identity noted for a dirs: true folder that cannot be opened. */
#define UNREADABLE_DIR "dir:unreadable"

/*
 * Walks the folder `rel` (its fd `dfd`, closed here), totalling its files
 * into *a: every file and every folder some DAG takes is noted in the
 * tracker, and new folders are watched.  rel is the walk's path buffer:
 * names are appended to it and cut off again, so a file costs no
 * allocation (a rescan of 100,000 files must take under a second).
 * Symbolic links are not followed (a link loop cannot trap the walk): they,
 * FIFOs and the like are listed as not handled; so is a folder that is one
 * of `up` (the folders the walk is inside, this one last), a bind mount
 * loop.  A folder that cannot be opened is reported.
 */
static void walk(struct watcher *w, int dfd, struct strbuf *rel, struct watch_dirs *up,
		 struct agg *a, int64_t now)
{
	DIR *dir = fdopendir(dfd);
	size_t len = rel->len;
	struct dirent *de;

	if (!dir) {
		close(dfd);
		return;
	}
	add_watch(w, rel->buf);
	while ((de = readdir(dir))) {
		struct stat st;

		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (len)
			sb_addch(rel, '/');
		sb_adds(rel, de->d_name);
		if (S_ISREG(st.st_mode)) {
			char ident[WATCH_IDENT_MAX];
			agg_add(a, &st);
			noted(w, rel->buf, 0, watch_ident_file_buf(ident, &st), now);
		} else if (S_ISDIR(st.st_mode) && watch_dirs_has(up, &st)) {
			refuse(w, rel->buf, 0, "loop", "ignored", WATCH_LOOP_NOTE);
		} else if (S_ISDIR(st.st_mode)) {
			struct agg sub = { 0 };
			int unit = is_dir_unit(w, rel->buf);
			int cfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int err = cfd >= 0 ? 0 : errno;
			if (cfd >= 0) {
				watch_dirs_push(up, &st);
				walk(w, cfd, rel, up, &sub, now);
				up->n--;
			}
			if (!unit)
				dir_readable(w, rel->buf, err);
			a->files += sub.files;
			a->bytes += sub.bytes;
			if (sub.newest_ns > a->newest_ns)
				a->newest_ns = sub.newest_ns;
			if (unit) {
				char *ident = cfd >= 0 ? watch_ident_dir(sub.files, sub.bytes, sub.newest_ns)
						       : xstrdup(UNREADABLE_DIR);
				noted(w, rel->buf, 1, ident, now);
				free(ident);
			}
		} else {
			special(w, rel->buf, &st);
		}
		sb_setlen(rel, len);
	}
	closedir(dir);
}

static int open_rel(struct watcher *w, const char *rel)
{
	char *abs = *rel ? path_join(w->root, rel) : xstrdup(w->root);
	int fd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	free(abs);
	return fd;
}

static char *measure(struct watcher *w, const char *rel, int dir)
{
	return watch_measure(w->root, rel, dir);
}

/* 0 when rel can be opened for reading now, else why not (an errno). */
static int can_open(struct watcher *w, const char *rel, int dir)
{
	char *abs = path_join(w->root, rel);
	int fd = open(abs, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC |
			   (dir ? O_DIRECTORY : 0));
	int err = fd < 0 ? errno : 0;

	free(abs);
	if (fd >= 0)
		close(fd);
	return err;
}

/* 1 when some DAG takes rel. */
static int taken(struct watcher *w, const char *rel, int dir)
{
	for (size_t i = 0; i < w->dags.n; i++)
		if (watch_dag_takes(w->dags.dags[i], rel, dir))
			return 1;
	return 0;
}

/*
 * A folder that no DAG takes whole could (err 0) or could not be opened by
 * the walk: what is in it stays unseen, so that is said once, and once
 * more when it can be read again.
 */
static void dir_readable(struct watcher *w, const char *rel, int err)
{
	size_t i;

	for (i = 0; i < w->nbad_dirs && strcmp(w->bad_dirs[i], rel); i++)
		;
	if (!err && i < w->nbad_dirs) {
		fprintf(stderr, "synthflow serve: folder '%s' in downloaded/ can be read again\n",
			show(w, rel));
		free(w->bad_dirs[i]);
		w->bad_dirs[i] = w->bad_dirs[--w->nbad_dirs];
	} else if (err && i == w->nbad_dirs) {
		warning("cannot open the folder '%s' in downloaded/: %s; files in it are not picked up"
			" until it can be read", show(w, rel), strerror(err));
		ALLOC_GROW(w->bad_dirs, w->nbad_dirs + 1, w->abad_dirs);
		w->bad_dirs[w->nbad_dirs++] = xstrdup(rel);
	}
}

/* ---- the tracker, fed by the walk and by inotify ---- */

static int same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * rel is listed with `state` and why, and not handled: recorded (and said
 * in the log) once per identity; the tracker holds it as handled with
 * `ident`, so that rescans pass over it until it changes.
 */
static void refuse(struct watcher *w, const char *rel, int dir, const char *ident,
		   const char *state, const char *why)
{
	struct watch_entry *e = watch_find(&w->t, rel);

	if (e && same(e->done, ident)) {
		e->seen = 1;
		return;
	}
	if (!e)
		w->seen_total++;
	watch_restore(&w->t, rel, dir, ident);
	watch_find(&w->t, rel)->seen = 1;
	if (!dir && inside_dir_unit(w, rel))
		return;
	put_file(w, rel, dir, ident, state, why);
	warning("'%s' in downloaded/: %s", show(w, rel), why);
}

/*
 * Neither a regular file nor a folder: a symbolic link (never followed, so
 * a link loop cannot trap the watcher), a FIFO (opening one would hang), a
 * socket or a device.
 */
static void special(struct watcher *w, const char *rel, const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		refuse(w, rel, 0, "link", "ignored",
		       "a symbolic link; links in downloaded/ are not followed");
	else if (S_ISFIFO(st->st_mode))
		refuse(w, rel, 0, "fifo", "ignored", "a FIFO, not a regular file");
	else
		refuse(w, rel, 0, "special", "ignored", "a socket or device, not a regular file");
}

static void noted(struct watcher *w, const char *rel, int dir, const char *ident, int64_t now)
{
	struct watch_entry *e = watch_find(&w->t, rel);
	int was_waiting = e && e->state == WS_WAITING;

	/*
	 * Handled with this identity already: what a rescan finds for nearly
	 * every file, so nothing else is looked at (a refused name's identity
	 * is a word, never a file's, so it takes the long way below)
	 */
	if (e && !was_waiting && ident && same(ident, e->done)) {
		e->seen = 1;
		return;
	}

	if (!watch_utf8_valid(rel)) {
		refuse(w, rel, dir, "name", "ignored",
		       "its name is not valid UTF-8; rename it to have it handled");
		return;
	}
	/* unreadable, and unchanged since: no new try until its permissions change */
	if (e && ident && same(ident, e->blocked) && can_open(w, rel, dir)) {
		e->seen = 1;
		return;
	}
	if (!e)
		w->seen_total++;
	if (watch_note(&w->t, rel, dir, ident, quiet_of(w, rel, dir), now) == WN_WAITING &&
	    !was_waiting && (dir || !inside_dir_unit(w, rel)))
		put_file(w, rel, dir, ident, "waiting", NULL);
}

/* Its quiet period ended, but it cannot be opened: held back until it can. */
static void unreadable(struct watcher *w, struct watch_entry *e, const char *ident, int err)
{
	struct strbuf why = STRBUF_INIT;

	sb_addf(&why, "cannot open it: %s; it is handled once it can be read", strerror(err));
	if (!same(e->blocked, ident)) {
		if (e->dir || !inside_dir_unit(w, e->rel))
			put_file(w, e->rel, e->dir, ident, "unreadable", why.buf);
		warning("'%s' in downloaded/: %s", show(w, e->rel), why.buf);
	}
	watch_block(&w->t, e, ident);
	sb_release(&why);
}

static void gone(struct watcher *w, const char *rel)
{
	struct watch_entry *e = watch_find(&w->t, rel);
	int listed;

	if (!e)
		return;
	listed = e->dir || !inside_dir_unit(w, rel);
	if (e->state == WS_WAITING && listed) {
		put_file(w, rel, e->dir, e->ident, "gone", "deleted before it stayed unchanged for its"
			 " quiet period");
		fprintf(stderr, "synthflow serve: file '%s': deleted before its quiet period ended;"
			" no run\n", show(w, rel));
	} else if ((e->done || e->blocked) && listed) {
		put_file(w, rel, e->dir, e->done ? e->done : e->blocked, "gone", "deleted");
	}
	watch_forget(&w->t, rel);
}

/* Every folder that some DAG takes whole and that contains rel changed. */
static void touch_dir_units(struct watcher *w, const char *rel, int64_t now)
{
	char *p = xstrdup(rel), *slash;

	while ((slash = strrchr(p, '/'))) {
		*slash = '\0';
		if (is_dir_unit(w, p))
			noted(w, p, 1, NULL, now);
	}
	free(p);
}

static void inotify_reset(struct watcher *w)
{
	if (w->ino < 0)
		return;
	close(w->ino);
	for (size_t i = 0; i < w->nwds; i++)
		free(w->wds[i]);
	free(w->wds);
	w->wds = NULL;
	w->nwds = 0;
	w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

/*
 * downloaded/ may be replaced while serve runs (moved to a bigger disk and
 * linked back, deleted and made again): the watcher follows what it leads
 * to now.  The inotify watches belong to the old folders, so they are all
 * dropped and the walk that follows adds new ones.  An fd of it, or -1
 * while it cannot be read (said once; nothing in it counts as gone then).
 */
static int open_root(struct watcher *w)
{
	char *real = path_real(w->dl);
	struct stat st;
	int fd = real ? open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (fd < 0 || fstat(fd, &st) < 0) {
		/* what inotify still reports of the folder it was is not downloaded/ any more */
		if (!w->root_lost) {
			warning("cannot read '%s': %s; files there are not picked up until it is back",
				w->dl, strerror(errno));
			inotify_reset(w);
		}
		w->root_lost = 1;
		if (fd >= 0)
			close(fd);
		free(real);
		return -1;
	}
	if (strcmp(real, w->root) || st.st_dev != w->root_dev || st.st_ino != w->root_ino) {
		fprintf(stderr, "synthflow serve: '%s' now leads to '%s' (a folder other than '%s'"
			" before); watching it\n", w->dl, real, w->root);
		free(w->root);
		w->root = real;
		real = NULL;
		w->root_dev = st.st_dev;
		w->root_ino = st.st_ino;
		inotify_reset(w);
	} else if (w->root_lost) {
		fprintf(stderr, "synthflow serve: '%s' can be read again\n", w->dl);
	}
	w->root_lost = 0;
	free(real);
	return fd;
}

/*
 * This thread's CPU time (µs): with the rescan's wall time it tells a slow
 * walk from a busy machine (bench/files.sh compares both with find's).
 */
static int64_t thread_cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A full walk; entries not found any more are gone. */
static void rescan(struct watcher *w, int64_t now)
{
	struct agg a = { 0 };
	int64_t t0 = time_mono_ms(), cpu0 = thread_cpu_us();
	int fd = open_root(w);
	struct watch_dirs up = { 0 };
	struct stat st;
	char **lost = NULL;
	size_t nlost = 0, alloc = 0;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		watch_dirs_push(&up, &st);
	for (size_t i = 0; i < w->t.nslots; i++)
		if (w->t.slots[i])
			w->t.slots[i]->seen = 0;
	sb_reset(&w->path);
	walk(w, fd, &w->path, &up, &a, now);
	watch_dirs_release(&up);
	for (size_t i = 0; i < w->t.nslots; i++) {
		if (w->t.slots[i] && !w->t.slots[i]->seen) {
			ALLOC_GROW(lost, nlost + 1, alloc);
			lost[nlost++] = xstrdup(w->t.slots[i]->rel);
		}
	}
	for (size_t i = 0; i < nlost; i++) {
		gone(w, lost[i]);
		free(lost[i]);
	}
	free(lost);
	w->rescans++;
	w->rescan_ms = time_mono_ms() - t0;
	w->rescan_cpu_us = thread_cpu_us() - cpu0;
}

static void add_watch(struct watcher *w, const char *rel)
{
	char *abs;
	int wd;

	if (w->ino < 0)
		return;
	abs = *rel ? path_join(w->root, rel) : xstrdup(w->root);
	wd = inotify_add_watch(w->ino, abs, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
				  IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_MOVE_SELF |
				  IN_DELETE_SELF | IN_DONT_FOLLOW |
				  IN_ONLYDIR);
	free(abs);
	if (wd < 0) {
		if (errno == ENOSPC && !w->ino_full_warned) {
			warning("inotify: no more watches (fs.inotify.max_user_watches); folders beyond"
				" the limit are found by the rescan every %llds",
				(long long)(w->cfg->flow_rescan_ms / 1000));
			w->ino_full_warned = 1;
		}
		return;
	}
	if ((size_t)wd >= w->nwds) {
		size_t n = (size_t)wd * 2 + 16;
		w->wds = xrealloc(w->wds, n * sizeof(*w->wds));
		memset(w->wds + w->nwds, 0, (n - w->nwds) * sizeof(*w->wds));
		w->nwds = n;
	}
	free(w->wds[wd]);
	w->wds[wd] = xstrdup(rel);
}

/* Everything below rel (a folder that went away) is gone. */
static void gone_below(struct watcher *w, const char *rel)
{
	size_t len = strlen(rel);
	char **lost = NULL;
	size_t n = 0, alloc = 0;

	for (size_t i = 0; i < w->t.nslots; i++) {
		struct watch_entry *e = w->t.slots[i];
		if (e && (!strcmp(e->rel, rel) || (!strncmp(e->rel, rel, len) && e->rel[len] == '/'))) {
			ALLOC_GROW(lost, n + 1, alloc);
			lost[n++] = xstrdup(e->rel);
		}
	}
	for (size_t i = 0; i < n; i++) {
		gone(w, lost[i]);
		free(lost[i]);
	}
	free(lost);
}

static void on_event(struct watcher *w, const struct inotify_event *ev, int64_t now)
{
	const char *dir;
	char *rel;

	if (ev->mask & IN_Q_OVERFLOW) {
		w->next_rescan = now; /* events were lost: look at everything */
		return;
	}
	if (ev->wd < 0 || (size_t)ev->wd >= w->nwds || !(dir = w->wds[ev->wd]))
		return;
	if (!*dir && (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED)))
		w->next_rescan = now; /* downloaded/ itself moved or went: see what it is now */
	if (ev->mask & IN_IGNORED) {
		free(w->wds[ev->wd]);
		w->wds[ev->wd] = NULL;
		return;
	}
	if (!ev->len)
		return;
	rel = *dir ? xasprintf("%s/%s", dir, ev->name) : xstrdup(ev->name);
	touch_dir_units(w, rel, now);
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
		gone_below(w, rel);
	} else if (ev->mask & IN_ISDIR) {
		/* a new folder: watch it and everything already in it */
		int fd = open_rel(w, rel), unit = is_dir_unit(w, rel), err = fd >= 0 ? 0 : errno;
		struct watch_dirs up = { 0 };
		struct agg a = { 0 };
		/* the folders above it and itself: one of them met again below is a loop */
		int loop = fd >= 0 && watch_dirs_path(&up, w->root, rel) == 0 && watch_dirs_loops(&up);
		if (loop) {
			refuse(w, rel, 0, "loop", "ignored", WATCH_LOOP_NOTE);
			close(fd);
		} else {
			if (!unit)
				dir_readable(w, rel, err);
			sb_reset(&w->path);
			sb_adds(&w->path, rel);
			if (fd >= 0)
				walk(w, fd, &w->path, &up, &a, now);
			if (unit)
				noted(w, rel, 1, fd >= 0 ? NULL : UNREADABLE_DIR, now);
		}
		watch_dirs_release(&up);
	} else {
		char *abs = path_join(w->root, rel);
		struct stat st;
		int found = lstat(abs, &st) == 0;
		if (found && S_ISREG(st.st_mode)) {
			char *ident = watch_ident_file(&st);
			noted(w, rel, 0, ident, now);
			free(ident);
		} else if (found && !S_ISDIR(st.st_mode)) {
			special(w, rel, &st);
		}
		free(abs);
	}
	free(rel);
}

static void read_events(struct watcher *w, int64_t now)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;

	while ((len = read(w->ino, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			on_event(w, ev, now);
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* Entries whose quiet period ended: measured again, and arrived when unchanged. */
static void settle_due(struct watcher *w, int64_t now)
{
	char **due = NULL;
	size_t n = 0, alloc = 0;

	for (size_t i = 0; i < w->t.nwaiting; i++) {
		struct watch_entry *e = w->t.waiting[i];
		if (e->since + e->quiet_ms <= now) {
			ALLOC_GROW(due, n + 1, alloc);
			due[n++] = xstrdup(e->rel);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct watch_entry *e = watch_find(&w->t, due[i]);
		int64_t quiet_end;
		char *ident;
		int err, changed;

		if (!e) {
			free(due[i]);
			continue;
		}
		quiet_end = e->since + e->quiet_ms;
		ident = measure(w, e->rel, e->dir);
		changed = e->done != NULL;
		err = ident ? 0 : e->dir ? can_open(w, e->rel, 1) : ENOENT;
		if (!ident && err != ENOENT && err != ENOTDIR && err != ELOOP)
			unreadable(w, e, UNREADABLE_DIR, err);
		else if (!ident)
			gone(w, due[i]);
		/* about to arrive (unchanged): only once it can be read */
		else if ((!e->ident || !strcmp(e->ident, ident)) && !same(ident, e->done) &&
			 taken(w, e->rel, e->dir) && (err = can_open(w, e->rel, e->dir)) &&
			 err != ENOENT)
			unreadable(w, e, ident, err);
		else if (watch_settle(&w->t, e, ident, now) == WSET_ARRIVED)
			arrive(w, e, quiet_end, changed);
		free(ident);
		free(due[i]);
	}
	free(due);
}

/* Arrivals kept while their DAG was paused get their runs once it is not. */
static void start_pending(struct watcher *w)
{
	struct store_arrival *v;
	json_t *paused = NULL;
	size_t n;

	if (store_arrival_list(w->st, NULL, "pending", &v, &n) < 0)
		return;
	w->pending = (int64_t)n;
	if (n && store_dag_paused_all(w->st, &paused) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (json_is_true(json_object_get(paused, v[i].dag_id)))
				continue;
			batch_begin(w);
			if (store_arrival_start(w->st, &v[i]) == 0) {
				/* its file-added, with this DAG's run, in the run's transaction */
				json_t *dags = json_pack("[{s:s, s:s, s:s}]", "dag_id", v[i].dag_id,
							 "state", "run", "run_id", v[i].run_id);
				file_event(w, v[i].rel, !strncmp(v[i].ident, "dir:", 4), 0, dags, "unpause");
				json_decref(dags);
				w->runs_total++;
				w->batch_runs = 1;
				w->pending--;
				fprintf(stderr, "synthflow serve: file '%s': run %s of DAG '%s' (was pending)\n",
					show(w, v[i].rel), v[i].run_id, v[i].dag_id);
			}
		}
	}
	json_decref(paused);
	store_arrival_list_free(v, n);
}

static void restore(struct watcher *w)
{
	struct store_file *f;
	size_t n;

	if (store_file_list(w->st, &f, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i].state, "arrived"))
			watch_restore(&w->t, f[i].rel, f[i].dir, f[i].ident);
	store_file_list_free(f, n);
}

/*
 * After a rescan with new DAGs: each whose on_file matches nothing in
 * downloaded/ is said once in the log (a typo in a glob shows there, and
 * in `synthflow files DAG`).
 */
static void report_unmatched(struct watcher *w)
{
	for (size_t i = 0; i < w->dags.n; i++) {
		const struct dag *d = w->dags.dags[i];
		size_t k = 0;

		if (!d->on_file)
			continue;
		while (k < w->t.nslots &&
		       !(w->t.slots[k] && watch_dag_takes(d, w->t.slots[k]->rel, w->t.slots[k]->dir)))
			k++;
		if (k == w->t.nslots)
			fprintf(stderr, "synthflow serve: DAG '%s': nothing in downloaded/ matches on_file"
				" '%s'%s yet; a run starts when something does\n", d->id, d->on_file,
				d->file_trigger.dirs ? " (folders)" : "");
	}
	w->report_unmatched = 0;
}

/* When the next rescan is due: within a second while downloaded/ cannot be read. */
static int64_t rescan_after(struct watcher *w, int64_t now)
{
	return now + (w->root_lost ? min64(1000, w->cfg->flow_rescan_ms) : w->cfg->flow_rescan_ms);
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	int64_t now = time_mono_ms();

	dags_refresh(w, now);
	restore(w);
	rescan(w, now);
	batch_end(w);
	w->next_rescan = rescan_after(w, now);
	for (;;) {
		struct pollfd pfd[2] = { { w->stop_pipe[0], POLLIN, 0 }, { w->ino, POLLIN, 0 } };
		int64_t due;

		now = time_mono_ms();
		/* nothing is measured while downloaded/ cannot be read (it is not gone) */
		due = min64(w->root_lost ? INT64_MAX : watch_next_due(&w->t), w->next_rescan);
		due = min64(due, w->next_pending);
		poll(pfd, w->ino >= 0 ? 2 : 1, due <= now ? 0 : (int)min64(due - now, 60000));
		if (pfd[0].revents)
			break;
		now = time_mono_ms();
		dags_refresh(w, now);
		if (w->ino >= 0 && pfd[1].revents)
			read_events(w, now);
		if (now >= w->next_rescan) {
			rescan(w, now);
			w->next_rescan = rescan_after(w, time_mono_ms());
		}
		if (w->report_unmatched && !w->root_lost && w->rescans)
			report_unmatched(w);
		if (!w->root_lost)
			settle_due(w, time_mono_ms());
		if (now >= w->next_pending) {
			start_pending(w);
			w->next_pending = now + PENDING_CHECK_MS;
		}
		batch_end(w);
	}
	return NULL;
}

struct watcher *watcher_start(const struct config *cfg, void (*runs_committed)(void *arg),
			      void *arg)
{
	struct watcher *w = xcalloc(1, sizeof(*w));
	char *dl = config_path(cfg, "downloaded");
	struct stat st;

	w->cfg = cfg;
	w->runs_committed = runs_committed;
	w->runs_arg = arg;
	w->ino = -1;
	w->batch_quiet_end = INT64_MAX;
	sb_init(&w->shown, 0);
	sb_init(&w->path, 256);
	if (lstat(dl, &st) == 0 && S_ISLNK(st.st_mode))
		fprintf(stderr, "synthflow serve: '%s' is a symbolic link; watching what it points to\n",
			dl);
	if (mkdir_p(dl, 0755) < 0 || !(w->root = path_real(dl)) || stat(w->root, &st) < 0) {
		error_errno("cannot use '%s' for new files", dl);
		free(w->root);
		free(dl);
		free(w);
		return NULL;
	}
	w->dl = dl;
	w->root_dev = st.st_dev;
	w->root_ino = st.st_ino;
	w->st = store_open(cfg->flow_store, cfg->data_dir);
	if (!w->st || pipe2(w->stop_pipe, O_CLOEXEC) < 0) {
		if (w->st)
			store_close(w->st);
		free(w->root);
		free(w->dl);
		free(w);
		return NULL;
	}
	watch_tracker_init(&w->t);
	if (cfg->flow_inotify) {
		w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->ino < 0)
			warning("inotify is not available (%s): new files are found by the rescan every"
				" %llds", strerror(errno), (long long)(cfg->flow_rescan_ms / 1000));
	}
	if (pthread_create(&w->thread, NULL, watcher_main, w)) {
		error("cannot start the file watcher thread");
		watcher_stop(w);
		return NULL;
	}
	return w;
}

void watcher_stop(struct watcher *w)
{
	if (!w)
		return;
	if (w->thread) {
		ssize_t r = write(w->stop_pipe[1], "x", 1);
		(void)r;
		pthread_join(w->thread, NULL);
	}
	close(w->stop_pipe[0]);
	close(w->stop_pipe[1]);
	if (w->ino >= 0)
		close(w->ino);
	for (size_t i = 0; i < w->nwds; i++)
		free(w->wds[i]);
	free(w->wds);
	watch_tracker_release(&w->t);
	dagset_release(&w->dags);
	free(w->dags_sig);
	store_close(w->st);
	for (size_t i = 0; i < w->nbad_dirs; i++)
		free(w->bad_dirs[i]);
	free(w->bad_dirs);
	sb_release(&w->shown);
	sb_release(&w->path);
	free(w->root);
	free(w->dl);
	free(w);
}

void watcher_metrics(struct watcher *w, struct strbuf *out)
{
	sb_addf(out, "# HELP synthflow_files_seen_total Files and folders seen in downloaded/.\n"
		     "# TYPE synthflow_files_seen_total counter\nsynthflow_files_seen_total %llu\n",
		(unsigned long long)w->seen_total);
	sb_addf(out, "# HELP synthflow_files_pending Arrivals kept for paused DAGs.\n"
		     "# TYPE synthflow_files_pending gauge\nsynthflow_files_pending %lld\n",
		(long long)w->pending);
	sb_addf(out, "# HELP synthflow_file_runs_created_total Runs created for arrivals in"
		     " downloaded/.\n# TYPE synthflow_file_runs_created_total counter\n"
		     "synthflow_file_runs_created_total %llu\n", (unsigned long long)w->runs_total);
	sb_addf(out, "# HELP synthflow_watcher_lag_seconds From the end of the earliest quiet period"
		     " in the last batch of arrivals to its runs being committed.\n"
		     "# TYPE synthflow_watcher_lag_seconds gauge\n"
		     "synthflow_watcher_lag_seconds %.3f\n", (double)w->lag_ms / 1000.0);
	sb_addf(out, "# HELP synthflow_watcher_rescan_seconds Duration of the last full rescan of"
		     " downloaded/.\n# TYPE synthflow_watcher_rescan_seconds gauge\n"
		     "synthflow_watcher_rescan_seconds %.3f\n", (double)w->rescan_ms / 1000.0);
	sb_addf(out, "# HELP synthflow_watcher_rescan_cpu_seconds CPU time of the last full rescan"
		     " of downloaded/.\n# TYPE synthflow_watcher_rescan_cpu_seconds gauge\n"
		     "synthflow_watcher_rescan_cpu_seconds %.3f\n", (double)w->rescan_cpu_us / 1e6);
}
