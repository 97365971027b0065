#ifndef SF_ERROR_H
#define SF_ERROR_H

/*
 * One error convention for the whole program (as git's usage.c):
 *  - helpers report with `return error("...")`, which prints
 *    "synthflow: error: ..." to stderr and returns -1;
 *  - only top-level command code calls die() (exit 1); usage errors go
 *    through cmd_usage_error() (exit 2, src/cmd/cmd.h);
 *  - the scheduler and the HTTP server never exit: they report to the task
 *    log or the request instead;
 *  - BUG() marks a broken invariant and aborts.
 * Messages are lowercase, without a full stop, quoting the subject:
 *   error: unknown task 'resampel' in needs (did you mean 'resample'?)
 */

#include <stdarg.h>

int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void bug_fl(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define BUG(...) bug_fl(__FILE__, __LINE__, __VA_ARGS__)

/* Silences error()/warning() output (used by fuzzers and quiet probes). */
void error_set_quiet(int quiet);

#endif
