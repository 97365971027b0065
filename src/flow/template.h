#ifndef SF_TEMPLATE_H
#define SF_TEMPLATE_H

/*
 * {{ ... }} templates (docs/dags.md).  Names: params.X, vars.X,
 * run.id, run.dir, run.date, dag.id, task.id, item, item.name, item.stem,
 * item.dir, items (a batch's items, as separate words), data, and in
 * on_file.params file, file.name, file.stem, file.dir, file.rel.  In a
 * command every substitution is quoted for the shell
 * context it sits in (shctx.h), or refused where no quoting is safe, unless
 * written {{ X | raw }}, which only values fixed by the DAG file may use.
 */

#include <jansson.h>

#include "flow/dag.h"
#include "util/strbuf.h"

struct tmpl_ctx {
	const struct dag *dag;
	json_t *params;         /* typed params (object) */
	json_t *vars;           /* variables (object of strings), may be NULL */
	const char *run_id;
	const char *run_dir;    /* absolute */
	const char *run_date;   /* ISO date of the run's logical date */
	const char *task_id;
	const char *item;       /* absolute path of a foreach item, or NULL */
	char *const *items;     /* a batch's items ({{ items }}), or NULL */
	size_t nitems;
	const char *data_dir;   /* absolute */
	const char *file;       /* on_file.params: the arrival's absolute path, else NULL */
	const char *file_rel;   /* the same relative to downloaded/ */
	int quote;              /* 1: shell-quote (commands); 0: plain (globs, paths, env) */
};

/* Expands into out; -1 with a message in err on an unknown name. */
int tmpl_expand(const char *tmpl, const struct tmpl_ctx *ctx, struct strbuf *out, struct strbuf *err);

/*
 * The SF_* environment for a task: SF_PARAM_<NAME> (upper-cased), SF_RUN_ID,
 * SF_RUN_DIR, SF_ITEM (when set), SF_DAG_ID, SF_TASK_ID, SF_DATA.  Appends
 * "KEY=VALUE" strings (malloc'd) to *envp (NULL-terminated, grown as needed).
 */
void tmpl_env(const struct tmpl_ctx *ctx, char ***envp, size_t *n, size_t *alloc);

/*
 * Static checks for the DAG validator, before any run exists: syntax
 * (unclosed '{{', empty or malformed names, unknown filters), unknown names,
 * params.X against the DAG's param names, and names used where they have no
 * value (`scope`).  Each problem goes to report() with the byte offset in
 * tmpl where it starts; returns the number of problems.
 */
#define TMPL_ITEM 1u /* item and item.*: only in a task with foreach */
#define TMPL_TASK 2u /* task.id: only inside a task */
#define TMPL_GLOB 4u /* the foreach glob itself: item is what it produces */
#define TMPL_SHELL 8u /* a shell command: where each template sits, '| raw' */
#define TMPL_BATCH 16u /* a batched task's command: items, not item */
#define TMPL_FILE 32u /* on_file.params: file and file.*, no run yet */
typedef void (*tmpl_report_fn)(void *data, size_t offset, const char *msg);
int tmpl_check(const char *tmpl, const char *const *params, size_t nparams, unsigned scope,
	       tmpl_report_fn report, void *data);

/*
 * `{{ params.X | raw }}` is allowed only for params whose every value is
 * fixed by the DAG file or typed (enum, integer, number, boolean); the
 * validator calls fn for each such use with the param's name.
 */
typedef void (*tmpl_raw_fn)(void *data, size_t offset, const char *param);
void tmpl_raw_params(const char *tmpl, tmpl_raw_fn fn, void *data);
int tmpl_param_raw_ok(enum param_type type);

#endif
