#ifndef SF_DAG_H
#define SF_DAG_H

/*
 * The DAG model (docs/dags.md): what a DAG file means once loaded and
 * validated.  Everything else (scheduler, store, web UI, CLI) works on this
 * model, never on YAML.  A `struct dag` is only handed out when its file had
 * no errors, so consumers may rely on every invariant below.
 */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/diag.h"
#include "util/strbuf.h"

enum trigger_rule {
	TR_ALL_SUCCESS, /* default */
	TR_ALL_DONE,
	TR_ALL_FAILED,
	TR_ONE_SUCCESS,
	TR_ONE_FAILED,
	TR_NONE_FAILED,
	TR_ALWAYS,
	TR_NONE_FAILED_MIN_ONE_SUCCESS,
	TR_NONE_SKIPPED,
	TR_ALL_SKIPPED,
	TR_ONE_DONE,
};
const char *trigger_rule_name(enum trigger_rule r);
int trigger_rule_parse(const char *s, enum trigger_rule *out);

enum param_type { PT_STRING, PT_INTEGER, PT_NUMBER, PT_BOOLEAN, PT_ENUM, PT_PATH };
const char *param_type_name(enum param_type t);

struct dag_param {
	char *name;
	enum param_type type;
	char *description;      /* may be NULL */
	json_t *def;            /* typed default; NULL = required when triggering */
	int has_min, has_max;   /* integer and number only */
	double min, max;
	char **values;          /* enum only */
	size_t nvalues;
	int line, col;
};

struct dag_env {
	char *key;
	char *value;            /* a template */
};

/* Where tasks run: flow.executor in synthflow.yaml, else the DAG's, else the task's. */
enum dag_executor { DAG_EXEC_DEFAULT, DAG_EXEC_LOCAL, DAG_EXEC_SLURM };
const char *dag_executor_name(enum dag_executor e);

/* A task's `resources:`; 0 / NULL = not asked for. */
struct dag_resources {
	int cpus, gpus;
	int64_t mem_mb;
	int64_t time_ms;
	char *partition, *account;
	char **extra;           /* more sbatch options, as written */
	size_t nextra;
};

struct dag_task {
	char *id;
	char *run;              /* the command, a template */
	char **needs;           /* upstream task ids, as written */
	size_t *need_idx;       /* the same, as indices into dag->tasks */
	size_t nneeds;
	enum trigger_rule trigger;
	char *foreach;          /* glob template, or NULL */
	int retries;            /* extra tries after the first; 0 = none */
	int64_t retry_delay_ms; /* before the first retry; doubles per try, capped at 1h */
	int64_t timeout_ms;     /* 0 = none */
	char *on_retry;         /* callback when a try failed and another follows, or NULL */
	struct dag_env *env;
	size_t nenv;
	char *workdir;          /* template or NULL (= the data folder) */
	char **inputs, **outputs; /* templates */
	size_t ninputs, noutputs;
	char **input_names;     /* templates: only the names of the files below count */
	size_t ninput_names;
	int max_active;         /* 0 = unlimited */
	int batch;              /* foreach items per process; 0 = one process per item */
	enum dag_executor executor;
	struct dag_resources res;
	int skip_exit_code;     /* this exit code ends the task skipped; -1 = none */
	int cache;              /* skipped when the content cache has its key (cache.h) */
	char *container;        /* a workspace NAME: the try runs in its image, or NULL */
	int line, col;
};

/*
 * on_file (docs/dags.md): arrivals in downloaded/ that start runs.  The
 * string form is a glob alone (params.file = the path); the mapping form
 * adds the rest.
 */
enum on_change { ON_CHANGE_RERUN, ON_CHANGE_IGNORE };

struct dag_on_file {
	int64_t quiet_ms;       /* size and mtime unchanged this long = arrived (default 5 s) */
	enum on_change on_change;
	int dirs;               /* the glob matches folders, each one arrival */
	struct dag_env *params; /* NAME: template of {{ file.* }}; mapping form only */
	size_t nparams;
	int mapping;            /* written as a mapping: params come from `params` only */
};

struct dag {
	char *id;
	char *path;             /* the file it came from */
	char *workspace;        /* NAME of src/NAME/dags/, or NULL */
	char *description;
	struct dag_param *params;
	size_t nparams;
	char *schedule;         /* cron text as written, or NULL */
	char *timezone;         /* IANA name for the schedule, or NULL: the local zone */
	int catchup;            /* fire every missed time (at most max_catchup), not the last */
	int max_catchup;
	char *on_file;          /* glob relative to downloaded/, or NULL */
	struct dag_on_file file_trigger; /* the rest of on_file, when on_file is set */
	char *on_variable;      /* glob over variable keys: a change starts a run, or NULL */
	int max_active_runs;    /* 0 = unlimited */
	enum dag_executor executor;
	char *on_success, *on_failure; /* callback commands (templates), or NULL */
	struct dag_task *tasks; /* in file order */
	size_t ntasks;
	size_t *topo;           /* task indices in a topological order */
	int id_line, id_col;    /* where 'id:' was written (1:1 when from the file name) */
};

/*
 * Loads and validates one DAG file.  Every problem found goes to `dl` (which
 * the caller initialised with the path); NULL is returned when there was
 * any error.  dag_load_buffer is the same on a buffer (fuzzers, tests).
 */
struct dag *dag_load_file(const char *path, struct diag_list *dl);
struct dag *dag_load_buffer(const char *path, const char *buf, size_t len, struct diag_list *dl);
void dag_free(struct dag *d);

/* [A-Za-z0-9_.-]+, at most 128 characters: DAG ids, task ids, param names. */
int dag_id_valid(const char *s);

const struct dag_task *dag_task(const struct dag *d, const char *id);
ssize_t dag_task_index(const struct dag *d, const char *id);
const struct dag_param *dag_param(const struct dag *d, const char *name);

/*
 * All DAGs of a data folder: every src/(star)/dags/(star).yaml|yml.  A bad file
 * never hides the good ones; duplicate ids across files are reported with
 * both paths (and neither file's DAG is kept).
 */
struct dag_set {
	struct dag **dags;      /* sorted by id */
	size_t n, alloc;
	size_t bad_files;       /* files that had errors */
};

/*
 * Every DAG file of the data folder, sorted (malloc'd, n of them, NULL-terminated;
 * free each and the array).  The only place that knows the layout.
 */
char **dag_files(const char *data_dir, size_t *n);
/* Prints diagnostics to `diag_out` (NULL = silent); returns bad_files. */
size_t dagset_load(struct dag_set *set, const char *data_dir, FILE *diag_out);
/*
 * The DAG `id` of the data folder, for the caller to dag_free(), or NULL
 * (silently) when no file that parses has it.  path_hint (where the DAG was
 * last seen, may be NULL) is tried first, then src/(any)/dags/ID.yaml|yml on
 * its own, and only then every DAG file: parsing them all is what finding it
 * costs otherwise (a third of a second for a 10,000-task DAG).
 */
struct dag *dag_load_id(const char *data_dir, const char *id, const char *path_hint);
/*
 * "Did you mean" as data: the id in the set (or the task of d) closest to
 * a mistyped one, or NULL; callers word the message (CLI or API).
 */
const char *dagset_closest(const struct dag_set *set, const char *id);
const char *dag_closest_task(const struct dag *d, const char *task_id);
/* Loads only the given files (dags validate FILE...). */
size_t dagset_load_files(struct dag_set *set, char **paths, size_t n, FILE *diag_out);
struct dag *dagset_find(const struct dag_set *set, const char *id);
void dagset_release(struct dag_set *set);
/*
 * Names, sizes and modification times of every DAG file of the data folder
 * (malloc'd): when it differs from the last one, the set needs reloading.
 */
char *dagset_signature(const char *data_dir);

/*
 * Params given when triggering (from -p KEY=VALUE as strings, or from the
 * API as JSON) checked against the schema: unknown names, type, range, enum,
 * and required ones.  On success *out is a new object with every param
 * typed and defaults filled in.  On failure returns -1 and `err` names the
 * param: "param 'sample_rate': 5 is below the minimum 8000".
 */
int dag_params_from_json(const struct dag *d, json_t *given, json_t **out, struct strbuf *err);
/* "KEY=VALUE" strings; VALUE is converted to the param's type. */
int dag_params_from_kv(const struct dag *d, char **kv, size_t n, json_t **out, struct strbuf *err);

/*
 * Checks a typed value against one param's schema (type, minimum, maximum,
 * enum values).  On failure returns -1 and appends the reason to `err`
 * without naming the param ("5 is below the minimum 8000"), so callers can
 * say whose value it was.
 */
int dag_param_check(const struct dag_param *p, json_t *v, struct strbuf *err);

/*
 * JSON of a DAG for `dags show --json` and GET /api/v1/dags/{dag}:
 * {"dag_id","description","path","workspace","schedule","on_file","on_variable",
 *  "max_active_runs","on_success","on_failure","warnings":["... not acted on
 *  yet: ..."],"params":{NAME:{"type","default","description",
 *  "minimum","maximum","values","required"}},"tasks":[{"task_id","run",
 *  "needs","trigger","foreach","retries","retry_delay_ms","timeout_ms",
 *  "outputs"}],"edges":[["from","to"]]}
 */
json_t *dag_to_json(const struct dag *d);

#endif
