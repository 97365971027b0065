/*
 * libFuzzer target for the DAG language: the YAML tree, the loader and
 * validator, diagnostics, the JSON form, trigger params, template checks and
 * expansion (of every template field of a DAG that loads, and of the raw
 * input), and cron parsing.  Any crash, leak or hang here is a bug a user
 * could hit with a malformed file.
 */
#include "flow/cron.h"
#include "util/tz.h"
#include "flow/dag.h"
#include "flow/template.h"
#include "util/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bigger inputs only slow the search down: nothing new is reachable. */
#define FUZZ_MAX 65536

static void ignore(void *data, size_t off, const char *msg)
{
	(void)data;
	(void)off;
	(void)msg;
}

static void expand(const char *tmpl, const struct tmpl_ctx *ctx)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

	if (tmpl)
		tmpl_expand(tmpl, ctx, &out, &err);
	sb_release(&out);
	sb_release(&err);
}

/* Params for a run: defaults, and a value of the right type for required ones. */
static json_t *some_params(const struct dag *d)
{
	json_t *p = json_object();

	for (size_t i = 0; i < d->nparams; i++) {
		const struct dag_param *dp = &d->params[i];
		json_t *v = dp->def ? json_incref(dp->def)
			  : dp->type == PT_ENUM ? json_string(dp->values[0])
			  : dp->type == PT_INTEGER ? json_integer(1)
			  : dp->type == PT_NUMBER ? json_real(0.5)
			  : dp->type == PT_BOOLEAN ? json_true() : json_string("it's $(x)");
		json_object_set_new(p, dp->name, v);
	}
	return p;
}

static void exercise_dag(const struct dag *d)
{
	struct strbuf err = STRBUF_INIT;
	json_t *j = dag_to_json(d), *checked = NULL, *params = some_params(d);
	struct tmpl_ctx ctx = { .dag = d, .params = params, .run_id = "r", .run_dir = "/g/r",
				.run_date = "2026-01-01", .data_dir = "/data", .quote = 1 };
	char *s = json_dumps(j, 0), **env = NULL;
	size_t n = 0, alloc = 0;

	free(s);
	json_decref(j);
	if (dag_params_from_json(d, params, &checked, &err) == 0)
		json_decref(checked);
	sb_release(&err);
	expand(d->on_success, &ctx);
	expand(d->on_failure, &ctx);
	for (size_t i = 0; i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		ctx.task_id = t->id;
		ctx.item = t->foreach ? "/data/x/clip.flac" : NULL;
		expand(t->run, &ctx);
		expand(t->foreach, &ctx);
		expand(t->workdir, &ctx);
		for (size_t k = 0; k < t->nenv; k++)
			expand(t->env[k].value, &ctx);
		for (size_t k = 0; k < t->noutputs; k++)
			expand(t->outputs[k], &ctx);
		tmpl_env(&ctx, &env, &n, &alloc);
	}
	for (size_t k = 0; k < n; k++)
		free(env[k]);
	free(env);
	json_decref(params);
}

static void exercise_text(const char *text)
{
	struct tmpl_ctx ctx = { .run_id = "r", .item = "/a/b.c", .quote = 1 };
	struct strbuf err = STRBUF_INIT;
	struct cron c;

	tmpl_check(text, NULL, 0, TMPL_TASK | TMPL_ITEM, ignore, NULL);
	expand(text, &ctx);
	if (strlen(text) < 256 && cron_parse(text, &c, &err) == 0) {
		/* a zone with DST changes, so the gap and repeated-hour paths are fuzzed too */
		static struct tz *zone;
		if (!zone)
			zone = tz_load("Europe/Berlin", &err);
		if (zone)
			cron_next(&c, zone, 1795909501);
	}
	sb_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct diag_list dl;
	struct dag *d;
	char *text;

	if (size > FUZZ_MAX)
		return 0;
	if (!devnull) {
		error_set_quiet(1);
		devnull = fopen("/dev/null", "w");
	}
	diag_init(&dl, "/data/src/ws/dags/fuzz.yaml");
	d = dag_load_buffer(dl.path, (const char *)data, size, &dl);
	diag_print(&dl, devnull);
	diag_release(&dl);
	if (d)
		exercise_dag(d);
	dag_free(d);
	text = xstrndup((const char *)data, size);
	exercise_text(text);
	free(text);
	return 0;
}
