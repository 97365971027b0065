#ifndef SF_SLURM_H
#define SF_SLURM_H

/*
 * What the Slurm executor (exec-slurm.c) knows about Slurm, as pure code
 * with no process or file involved, so unit tests cover it with recorded
 * outputs of the real commands: job states, squeue and sbatch output, the
 * sbatch command line and the batch script that runs a try on a node.
 */

#include <stddef.h>
#include <stdint.h>

#include "flow/container.h"
#include "flow/dag.h"
#include "util/spawn.h"
#include "util/strbuf.h"

enum slurm_class {
	SLURM_WAITING,  /* PENDING, CONFIGURING, SUSPENDED, REQUEUED...: not running yet (or again) */
	SLURM_RUNNING,  /* RUNNING, COMPLETING, STAGE_OUT, ... */
	SLURM_ENDED,    /* COMPLETED, FAILED: the wrapper wrote the exit code */
	SLURM_KILLED,   /* ended by Slurm: time limit, memory, node, cancel ... */
	SLURM_REQUEUE,  /* PREEMPTED: run it again without counting a try */
	SLURM_UNKNOWN,
};

/*
 * The class of a job state as squeue (%T) or sacct (State) print it;
 * "CANCELLED by 0" is CANCELLED.  *reason gets the words recorded on the
 * try for SLURM_KILLED and SLURM_REQUEUE ("time limit", "out of memory",
 * "node failure", ...), NULL otherwise.
 */
enum slurm_class slurm_state_class(const char *state, const char **reason);

/* One line of `squeue -h -r -o '%i|%T|%j'`, split in place. */
struct slurm_row {
	char *id;       /* 123, or 123_4 for an array element */
	char *state;
	char *name;
};
int slurm_parse_row(char *line, struct slurm_row *row);

/*
 * One line of `sacct --noheader --parsable2 --allocations
 * --format=JobID,State,ExitCode,JobName`, split in place: ExitCode "N:S" is
 * the batch script's exit code and the signal that ended it (S > 0).
 * `status` gets it as waitpid would have.
 */
struct slurm_acct_row {
	char *id;
	char *state;
	int status;
	char *name;
};
int slurm_parse_acct_row(char *line, struct slurm_acct_row *row);

/* 1 when sacct's error output says the cluster keeps no accounting. */
int slurm_acct_disabled(const char *err);

/* `sbatch --parsable` prints "ID" or "ID;CLUSTER": the id, or -1. */
long long slurm_parse_jobid(const char *out);

/*
 * MaxArraySize from `scontrol show config` ("MaxArraySize = 1001"): array
 * task ids run from 0 to one less.  -1 when the text has no such line.
 */
int slurm_parse_max_array(const char *config);

/* --time in whole minutes: `ms` rounded up, at least 1. */
long long slurm_minutes(int64_t ms);

/* What a try is submitted with. */
struct slurm_submit {
	const char *key;        /* the job name: finds the job again after a crash */
	const char *workdir;
	const char *script;     /* path of the batch script */
	const struct dag_resources *res;
	int64_t timeout_ms;     /* the task's timeout: --time when res->time_ms is 0 */
	const char *partition, *account; /* defaults from slurm: in synthflow.yaml, "" = none */
	int array_n;            /* > 0: a job array of elements 0..array_n-1 */
	int throttle;           /* > 0: at most this many elements at once (%N) */
};
/* The sbatch command line (argv[0] "sbatch"). */
void slurm_sbatch_argv(struct strvec *argv, const struct slurm_submit *sub);

/* What the node-side wrapper does for one try. */
struct slurm_script {
	const char *cmd;        /* the expanded command, run by /bin/sh -c */
	const char *workdir;    /* where it runs (an array starts all its elements in one folder) */
	const char *log_path;
	const char *exit_path;  /* the exit-code file, written and fsynced last */
	uint64_t log_max;       /* the log cap (a note marks the cut) */
	char **env;             /* variables to set: the try's own (SF_*, env:) */
	size_t nenv;
	/* container: WORKSPACE (container.h), else all NULL */
	const char *ctr_workspace, *ctr_image, *ctr_sif, *ctr_name;
	const char *data_dir;   /* bound in the container at its own path */
	unsigned uid, gid;      /* who a docker or podman container runs as */
	int gpus;               /* the task's gpus: the container gets the job's */
};
/*
 * The batch script (bash).  The job starts with the environment sbatch was
 * given (the scheduler's, as for a local task); the script drops the
 * scheduler's own SF_* variables and sets the try's, so the command sees
 * what the local executor would give it.
 */
void slurm_script_text(struct strbuf *out, const struct slurm_script *sc);

/*
 * The batch script of a job array: element K runs the batch script named on
 * line K+1 of the list file (one try's script, as slurm_script_text writes).
 */
void slurm_array_script_text(struct strbuf *out, const char *list_path);

/* 1 when `name` can be a shell variable (only those are passed). */
int slurm_env_name_ok(const char *entry);

#endif
