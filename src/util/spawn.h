#ifndef SF_SPAWN_H
#define SF_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"

/*
 * Running other programs from an argv array, never through a shell, so no
 * argument is ever re-parsed.  Children are started with posix_spawnp;
 * pipes are close-on-exec so a child never inherits another child's pipe.
 */

/* A NULL-terminated, growable argv (as git's strvec): v[nr] is always NULL. */
struct strvec {
	char **v;
	size_t nr, alloc;
};
#define STRVEC_INIT { NULL, 0, 0 }

void strvec_push(struct strvec *sv, const char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pushes each string of a NULL-terminated list. */
void strvec_pushv(struct strvec *sv, const char *const *list);
/* The argv (an empty, NULL-terminated one before the first push). */
const char *const *strvec_argv(struct strvec *sv);
void strvec_clear(struct strvec *sv);

/*
 * Where a child's standard streams go: SPAWN_INHERIT keeps ours, SPAWN_NULL
 * is /dev/null, any other value >= 0 is a descriptor to dup onto it.
 */
enum { SPAWN_INHERIT = -1, SPAWN_NULL = -2 };

struct spawn_io {
	int in, out, err;
};

/* Starts argv[0] (looked up in PATH).  Returns the pid, or -1 after error(). */
pid_t spawn_start(const char *const *argv, const struct spawn_io *io);
/*
 * Waits for pid.  Returns its exit status, 128+N when killed by signal N,
 * or -1 after error().
 */
int spawn_wait(pid_t pid);

/*
 * Runs argv to completion, collecting its stdout into `out` and its stderr
 * into `err` (either may be NULL: the stream is then discarded), with stdin
 * from /dev/null.  Returns the exit status as spawn_wait() does; -1 when the
 * program could not be started (errno ENOENT when it does not exist).
 */
int spawn_capture(const char *const *argv, struct strbuf *out, struct strbuf *err);

/*
 * Runs argv with stdout and stderr merged into one pipe; every chunk read is
 * passed to `sink` as it arrives (for showing progress while keeping a log).
 */
typedef void (*spawn_sink)(const char *buf, size_t len, void *data);
int spawn_stream(const char *const *argv, spawn_sink sink, void *data);

/* Runs argv with our own standard streams (interactive use).  Status as spawn_wait(). */
int spawn_interactive(const char *const *argv);

/* 1 when argv[0] names a program found in PATH. */
int spawn_in_path(const char *prog);

#endif
