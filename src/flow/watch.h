#ifndef SF_WATCH_H
#define SF_WATCH_H

/*
 * Files arriving in downloaded/ (docs/events.md).  Two layers:
 *  - the pure part (watch.c): glob matching with `**`, identities, the
 *    tracker that decides when a file or folder has arrived (unchanged for
 *    its quiet period), and the params a DAG's run gets from a file; no
 *    I/O besides stat, so unit tests drive it with their own clock;
 *  - the watcher (watch-serve.c): inotify on the whole tree plus a periodic
 *    rescan, in a thread of `synthflow serve`, writing arrivals and their
 *    runs to the store in one transaction each.
 */

#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/config.h"
#include "flow/dag.h"
#include "util/strbuf.h"

/*
 * 1 when `rel` (relative to downloaded/) matches `glob`: components are
 * matched one by one with fnmatch (a leading '.' only by a leading '.'),
 * and a `**` component matches any number of components, none included.
 */
int watch_glob_match(const char *glob, const char *rel);

/* 1 when the DAG's on_file takes `rel`, a folder when is_dir. */
int watch_dag_takes(const struct dag *d, const char *rel, int is_dir);

/* Identities (store.h, struct store_file): malloc'd text. */
char *watch_ident_file(const struct stat *st);
/*
 * watch_ident_file's text in buf, returned, without allocating or printf:
 * a rescan makes one per file (100,000 in under a second).
 */
#define WATCH_IDENT_MAX 72
const char *watch_ident_file_buf(char buf[WATCH_IDENT_MAX], const struct stat *st);
char *watch_ident_dir(uint64_t files, uint64_t bytes, int64_t newest_mtime_ns);

/*
 * The folders a walk is inside, from downloaded/ down: a folder met again
 * below itself (a bind mount of a folder above it) is a loop, never walked
 * into (symbolic links are not followed at all).
 */
struct watch_dirs {
	struct { dev_t dev; ino_t ino; } *v;
	size_t n, alloc;
};
/* 1 when the folder `st` is one of them. */
int watch_dirs_has(const struct watch_dirs *d, const struct stat *st);
void watch_dirs_push(struct watch_dirs *d, const struct stat *st);
/* 1 when the last of them is also one before it: a walk came back into itself. */
int watch_dirs_loops(const struct watch_dirs *d);
/* Pushes `root` and each folder on the way to root/rel (rel itself too); -1 when one cannot be read. */
int watch_dirs_path(struct watch_dirs *d, const char *root, const char *rel);
void watch_dirs_release(struct watch_dirs *d);
/* How a folder that loops is listed (docs/events.md, Faults). */
#define WATCH_LOOP_NOTE "the same folder as one above it (a bind mount loop); not walked"

/*
 * The identity of downloaded/rel now (a folder's when dir), malloc'd; NULL
 * when it is gone or not a regular file (a folder).  Folders are walked
 * without following symbolic links or entering a loop (watch_dirs).
 */
char *watch_measure(const char *root, const char *rel, int dir);

/*
 * The typed params of the run `d` gets for the file at `abs` (`rel` below
 * downloaded/): the string form sets the declared `file` param, the mapping
 * form expands on_file.params (vars: for {{ vars.X }}, may be NULL).  -1
 * with the reason in err.
 */
int watch_params(const struct dag *d, const char *abs, const char *rel, const char *data_dir,
		 json_t *vars, json_t **out, struct strbuf *err);

/* 1 when s is valid UTF-8 (names that are not cannot go into JSON or PostgreSQL). */
int watch_utf8_valid(const char *s);
/*
 * s for a terminal, a log line or JSON: control characters and bytes that
 * are not valid UTF-8 as `\xNN`, the rest (valid UTF-8) unchanged.
 */
void watch_printable(struct strbuf *sb, const char *s);

/* ---- shared by `synthflow files` and the web API (watch-files.c) ---- */

struct store;
/*
 * Every file seen (one DAG's when `only`), as an array of {"path", "dir",
 * "dag_id", "state", "status", "run_id", "note", "at"}: per DAG the latest
 * row of the file's current identity, or the file's own state.  NULL when
 * the store cannot be read (reported).
 */
json_t *watch_files_json(struct store *st, const struct dag *only);
/*
 * A new arrival of `path` (absolute, relative to downloaded/, or to the
 * current folder) for every DAG of `set` that takes it, or only `dag_id`:
 * an array of {"dag_id", "state": "run"|"pending", "run_id"}.  NULL with
 * the reason in err (nothing written), also when a DAG's run could never
 * start (sched_trigger_check against cfg's serve).
 */
json_t *watch_retry(struct store *st, const struct dag_set *set, const struct config *cfg,
		    const char *path, const char *dag_id, struct strbuf *err);

/* ---- the tracker ---- */

enum watch_state {
	WS_WAITING,     /* seen, not yet unchanged for its quiet period */
	WS_ARRIVED,     /* handled with `ident` */
};

struct watch_entry {
	int dir;
	enum watch_state state;
	char *ident;            /* last seen; NULL = changed, not measured yet */
	char *done;             /* the identity last handled, or NULL */
	char *blocked;          /* an identity that could not be opened: no arrival until it can */
	int64_t since;          /* when ident was last seen to change (ms, caller's clock) */
	int64_t quiet_ms;
	int seen;               /* found by the current rescan */
	size_t wpos;            /* index in the waiting list while waiting */
	char rel[];             /* in the entry: a lookup touches one block, not two */
};

struct watch_tracker {
	struct watch_entry **slots; /* open addressing by rel */
	size_t nslots, n;
	struct watch_entry **waiting;
	size_t nwaiting, awaiting;
};

void watch_tracker_init(struct watch_tracker *t);
void watch_tracker_release(struct watch_tracker *t);
struct watch_entry *watch_find(struct watch_tracker *t, const char *rel);

/* A file or folder handled before (from the store): arrived with `ident`. */
void watch_restore(struct watch_tracker *t, const char *rel, int dir, const char *ident);

enum watch_note {
	WN_SAME,        /* nothing new (waiting on, or handled with this identity) */
	WN_WAITING,     /* new or changed: waits for its quiet period from now */
};
/*
 * The entry of `rel` was seen with `ident` (NULL: it changed, identity not
 * measured yet) at `now`.
 */
enum watch_note watch_note(struct watch_tracker *t, const char *rel, int dir, const char *ident,
			   int64_t quiet_ms, int64_t now);
/* `rel` is gone: its entry is dropped (a waiting one never arrives). */
void watch_forget(struct watch_tracker *t, const char *rel);

/*
 * The entry's quiet period ended with `ident`, but it cannot be opened: it
 * stops waiting and is not handled; the watcher notes it again (its
 * permissions changed, or the next rescan) and it waits from there.
 */
void watch_block(struct watch_tracker *t, struct watch_entry *e, const char *ident);

/* The earliest time a waiting entry's quiet period ends; INT64_MAX when none waits. */
int64_t watch_next_due(const struct watch_tracker *t);
enum watch_settled {
	WSET_WAIT,      /* it changed meanwhile: waits again from now */
	WSET_ARRIVED,   /* arrived with a new identity (done = ident): act on it */
	WSET_UNCHANGED, /* quiet again, with the identity already handled */
};
/*
 * The entry's quiet period ended and it measures `ident` now.  It has
 * arrived when it was unchanged since it was last noted, or it was noted
 * as changed (NULL, an inotify event) and nothing was noted since.
 */
enum watch_settled watch_settle(struct watch_tracker *t, struct watch_entry *e, const char *ident,
				int64_t now);

#endif
