#ifndef SF_EXEC_H
#define SF_EXEC_H

/*
 * The local executor: starts one try of a task instance as its own process
 * group and carries its output into the try's log file.
 *
 * Output goes through a pipe that the scheduler drains (exec_drain), not
 * straight into the file, so that
 *  - a log is capped (SF_LOG_MAX_BYTES, default 100 MB) with a note where it
 *    was cut, while the task keeps running and its output is discarded;
 *  - a full disk is noticed and reported in the try instead of blocking;
 *  - a task that daemonizes and keeps stdout open does not hold its try:
 *    the try ends when the main process exits (exec_finish reads what is
 *    already in the pipe, then closes it).
 * The executor keeps a copy of the pipe's write end until exec_finish: the
 * read end then never reports end of file, so a task's exit wakes the
 * scheduler once (SIGCHLD), not twice (end of output, then SIGCHLD).
 */

#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/strbuf.h"

struct exec_spec {
	const char *cmd;        /* the expanded command */
	char **envp;            /* the whole environment, NULL-terminated */
	const char *workdir;    /* absolute */
	const char *log_path;   /* created (with its folder) on the first output */
	char *const *argv;      /* NULL, or what runs instead of cmd (no shell) */
};

struct exec_proc {
	pid_t pid;              /* also the process group id */
	int out_fd;             /* read end of the output pipe, -1 once closed */
	int out_w;              /* our copy of its write end (see above), -1 once closed */
	char *log_path;
	int log_fd;             /* -1 until the first output */
	uint64_t log_bytes;
	uint64_t log_max;
	int truncated;
	int log_errno;          /* first write error (ENOSPC, ...), 0 = none */
};

/*
 * Starts the process; -1 with a message in err (the try never started).
 * The log file exists only once the task printed something (or the
 * scheduler noted something): readers take a missing log as empty.
 */
int exec_spawn(const struct exec_spec *spec, struct exec_proc *p, struct strbuf *err);
/* Moves what the pipe holds into the log; 1 at end of file, 0 otherwise. */
int exec_drain(struct exec_proc *p);
/* After the main process exited: takes what is left in the pipe and closes it. */
void exec_finish(struct exec_proc *p);
/*
 * A try's log without a process of ours (exec_spawn starts with it; the
 * Slurm executor uses it alone, for the notes it appends to a node's log).
 */
void exec_proc_init(struct exec_proc *p, const char *log_path);
/* Closes the log and frees what exec_spawn allocated (after exec_finish, or instead). */
void exec_release(struct exec_proc *p);
/* Appends a line from the scheduler to the log ("[synthflow] timed out ..."). */
void exec_log_note(struct exec_proc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Attributes for a child of the scheduler: its own process group, no
 * blocked signals, default handlers for the ones the scheduler catches;
 * `flags` adds POSIX_SPAWN_* flags.  Destroy with posix_spawnattr_destroy.
 */
void exec_spawnattr(posix_spawnattr_t *attr, short flags);

/* 1 when the command needs /bin/sh (quotes, $, |, ;, globs, redirections ...). */
int exec_needs_shell(const char *cmd);

/* /proc/PID/stat field 22 (clock ticks since boot); -1 when there is no such process. */
int exec_proc_start_time(pid_t pid, uint64_t *start);
/* 1 when pid still runs and started at `start` (so a reused pid does not count). */
int exec_proc_alive(pid_t pid, uint64_t start);
/* 1 when a process pid exists and is not a zombie (it has not exited). */
int exec_proc_running(pid_t pid);

/*
 * foreach: the paths matching an absolute glob pattern, sorted (strcmp),
 * without duplicates.  `*`, `?` and `[...]` match within one name and not
 * a leading dot; `**` as a whole component matches any number of folders.
 * Zero matches is not an error.
 */
int exec_glob(const char *pattern, char ***paths, size_t *n, struct strbuf *err);
void exec_glob_free(char **paths, size_t n);

/* The log cap: SF_LOG_MAX_BYTES when set, else 100 MB. */
uint64_t exec_log_max(void);

#endif
