#ifndef SF_PROV_H
#define SF_PROV_H

/*
 * Provenance of task instances (docs/replication.md): what each one ran
 * with, and the sha256 and size of the files it declared.
 *
 * Hashing files can take seconds, so the scheduler never does it on its
 * loop: it hands a job (a JSON document plus the paths to hash) to a small
 * pool of threads and gets the finished document back on its next wakeup
 * (the pool writes one byte to the scheduler's wakeup pipe).  An instance
 * with no declared inputs, outputs or foreach item never enters the pool:
 * its document is finished on the loop at the cost of building it.
 *
 * The pool threads start no processes: the scheduler reaps every child with
 * waitpid(-1), so a child of a pool thread would be reaped from under it.
 * Package versions are read from dpkg's database files instead.
 */

#include <jansson.h>
#include <stddef.h>

struct prov_pool;

struct prov_job {
	void *owner;            /* the caller's (the scheduler's instance or run) */
	json_t *doc;            /* owned; the results are added to it */
	char **inputs, **outputs; /* absolute paths or globs (with **), owned */
	size_t ninputs, noutputs;
	char *item;             /* the foreach item (absolute), owned, or NULL */
	char **programs;        /* command names whose package versions to record, owned */
	size_t nprograms;
	char *path_env;         /* PATH to find the programs in, owned */
	char *data_dir;         /* paths below it are recorded relative to it, owned */
	/* Other work for the pool (the content cache): run instead of the above. */
	void (*run)(struct prov_job *job);
	void *ext;              /* its data, freed by ext_free */
	void (*ext_free)(void *ext);
	struct prov_job *next;
};

/* `wake_fd` gets one byte whenever a job is done.  NULL after error(). */
struct prov_pool *prov_pool_new(int nthreads, int wake_fd);
/* Waits for the jobs in progress, drops queued ones, frees everything. */
void prov_pool_free(struct prov_pool *p);
/* Takes ownership of the job. */
void prov_pool_submit(struct prov_pool *p, struct prov_job *job);
/* The finished jobs, oldest first (a list through ->next), or NULL. */
struct prov_job *prov_pool_take_done(struct prov_pool *p);
void prov_job_free(struct prov_job *job);

/* Runs a job in the calling thread (what a pool thread does with it). */
void prov_job_run(struct prov_job *job);

/*
 * {"path","sha256","size"} of one file; path relative to data_dir when it
 * lies below it.  {"path","missing":true} when it cannot be read.
 */
json_t *prov_file_json(const char *path, const char *data_dir);

/*
 * Every file the paths or globs name (a folder: every file below it,
 * sorted), each as prov_file_json(); a pattern matching nothing is one
 * {"path","missing":true}.
 */
json_t *prov_hash_patterns(char **pats, size_t n, const char *data_dir);

/*
 * The host's identity for a run's record: {"hostname","os":PRETTY_NAME,
 * "os_id","os_version","kernel","engine_version","workspace":{...} or null}.
 */
json_t *prov_host_json(void);

/* The program a shell command starts: its first word after VAR=value words (malloc'd), or NULL. */
char *prov_command_program(const char *cmd);

/*
 * Where `prog` is found in `path_env` and what it is: {"path", "package",
 * "version"} for a Debian package's file, else {"path", "sha256"}; NULL
 * when it is not found.
 */
json_t *prov_program_json(const char *prog, const char *path_env);

/*
 * The Debian package owning an absolute path and its version, from dpkg's
 * database under `root` ("" for /).  0 found, 1 not a package's file.
 */
int prov_dpkg_owner(const char *root, const char *path, char **package, char **version);

#endif
