/*
 * Unit tests for the DAG model: what the loader fills in, several errors per
 * file, the set of a data folder, trigger params and the JSON form.  The
 * per-error diagnostics are covered by the data-driven corpus in
 * tests/cli/data/bad-dags/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <unistd.h>

#include "flow/dag.h"
#include "util/common.h"
#include "util/fs.h"

static const char design_example[] =
	"id: clipper-preprocess\n"
	"description: Clean and package one character's clips\n"
	"params:\n"
	"  character:   {type: string,  default: Twilight, description: Speaker to keep}\n"
	"  sample_rate: {type: integer, default: 22050, minimum: 8000, maximum: 192000}\n"
	"  split:       {type: enum, values: [train, val], default: train}\n"
	"  ratio:       {type: number, default: 0.9, minimum: 0, maximum: 1}\n"
	"  dry:         {type: boolean, default: no}\n"
	"  file:        {type: path}\n"
	"schedule: \"0 3 * * *\"\n"
	"on_file: \"*.clipper.zip\"\n"
	"max_active_runs: 1\n"
	"on_success: notify-send done\n"
	"defaults: {retries: 2, retry_delay: 30s, timeout: 2h}\n"
	"tasks:\n"
	"  filelists:\n"
	"    needs: [resample]\n"
	"    trigger: all_done\n"
	"    run: python3 make_filelists.py {{ run.dir }}/clean {{ params.split }}\n"
	"    timeout: 10m\n"
	"    env: {OMP_NUM_THREADS: \"1\"}\n"
	"    outputs: [\"uploadable/{{ params.character }}/filelist_*.txt\"]\n"
	"  extract:\n"
	"    run: unzip -q {{ params.file }} -d {{ run.dir }}/raw\n"
	"  resample:\n"
	"    needs: [extract]\n"
	"    foreach: \"{{ run.dir }}/raw/**/*.flac\"\n"
	"    run: sox {{ item }} -r {{ params.sample_rate }} {{ run.dir }}/clean/{{ item.name }}\n"
	"    retries: 1\n"
	"    max_active: 4\n";

static struct dag *load(const char *path, const char *text, struct diag_list *dl)
{
	diag_init(dl, path);
	return dag_load_buffer(path, text, strlen(text), dl);
}

static struct dag *load_ok(const char *text)
{
	struct diag_list dl;
	struct dag *d = load("x.yaml", text, &dl);

	if (!d) {
		fail_msg("expected a valid DAG");
	}
	diag_release(&dl);
	return d;
}

static void model_is_filled(void **state)
{
	struct dag *d = load_ok(design_example);
	const struct dag_task *ex, *rs, *fl;
	const struct dag_param *p;

	assert_string_equal(d->id, "clipper-preprocess");
	assert_string_equal(d->schedule, "0 3 * * *");
	assert_string_equal(d->on_file, "*.clipper.zip");
	assert_string_equal(d->on_success, "notify-send done");
	assert_null(d->on_failure);
	assert_int_equal(d->max_active_runs, 1);
	assert_int_equal(d->ntasks, 3);
	assert_int_equal(d->nparams, 6);

	ex = dag_task(d, "extract");
	rs = dag_task(d, "resample");
	fl = dag_task(d, "filelists");
	assert_non_null(ex);
	assert_null(dag_task(d, "nope"));
	assert_int_equal(dag_task_index(d, "filelists"), 0);
	/* defaults apply unless the task overrides */
	assert_int_equal(ex->retries, 2);
	assert_int_equal(ex->retry_delay_ms, 30000);
	assert_int_equal(ex->timeout_ms, 7200000);
	assert_int_equal(rs->retries, 1);
	assert_int_equal(fl->timeout_ms, 600000);
	assert_int_equal(rs->max_active, 4);
	assert_int_equal(fl->trigger, TR_ALL_DONE);
	assert_int_equal(ex->trigger, TR_ALL_SUCCESS);
	assert_string_equal(rs->foreach, "{{ run.dir }}/raw/**/*.flac");
	assert_null(ex->foreach);
	assert_int_equal(fl->nenv, 1);
	assert_string_equal(fl->env[0].key, "OMP_NUM_THREADS");
	assert_string_equal(fl->env[0].value, "1");
	assert_int_equal(fl->noutputs, 1);
	/* needs as indices, and an order that respects them */
	assert_int_equal(rs->nneeds, 1);
	assert_int_equal(rs->need_idx[0], (size_t)dag_task_index(d, "extract"));
	assert_int_equal(fl->need_idx[0], (size_t)dag_task_index(d, "resample"));
	assert_int_equal(d->topo[0], 1);
	assert_int_equal(d->topo[1], 2);
	assert_int_equal(d->topo[2], 0);

	p = dag_param(d, "sample_rate");
	assert_int_equal(p->type, PT_INTEGER);
	assert_true(json_is_integer(p->def) && json_integer_value(p->def) == 22050);
	assert_true(p->has_min && p->min == 8000 && p->has_max && p->max == 192000);
	p = dag_param(d, "split");
	assert_int_equal(p->type, PT_ENUM);
	assert_int_equal(p->nvalues, 2);
	assert_true(json_is_string(p->def));
	assert_true(json_is_real(dag_param(d, "ratio")->def));
	assert_true(json_is_false(dag_param(d, "dry")->def));
	assert_string_equal(dag_param(d, "character")->description, "Speaker to keep");
	assert_null(dag_param(d, "file")->def);
	assert_int_equal(dag_param(d, "file")->type, PT_PATH);
	dag_free(d);
}

static void id_from_file_name_and_inferred_types(void **state)
{
	struct diag_list dl;
	struct dag *d = load("/data/src/ws/dags/my-dag.v2.yml",
			     "params:\n  n: {default: 3}\n  f: {default: 0.5}\n  b: {default: true}\n"
			     "  s: {default: x}\n  e: {values: [a, b], default: b}\n"
			     "tasks: {a: {run: \"true\"}}\n", &dl);

	assert_non_null(d);
	assert_string_equal(d->id, "my-dag.v2");
	assert_string_equal(d->workspace, "ws");
	assert_int_equal(dag_param(d, "n")->type, PT_INTEGER);
	assert_int_equal(dag_param(d, "f")->type, PT_NUMBER);
	assert_int_equal(dag_param(d, "b")->type, PT_BOOLEAN);
	assert_int_equal(dag_param(d, "s")->type, PT_STRING);
	assert_int_equal(dag_param(d, "e")->type, PT_ENUM);
	assert_int_equal(d->tasks[0].retries, 0);
	assert_int_equal(d->tasks[0].retry_delay_ms, 0);
	assert_int_equal(d->tasks[0].timeout_ms, 0);
	dag_free(d);
	diag_release(&dl);
}

static void several_errors_per_file(void **state)
{
	struct diag_list dl;
	struct dag *d = load("bad.yaml",
			     "tasks:\n"
			     "  a:\n"
			     "    run: echo {{ params.x }}\n"
			     "    retries: lots\n"
			     "  b:\n"
			     "    needs: [a, c]\n", &dl);

	assert_null(d);
	assert_int_equal(dl.errors, 4);
	{
		FILE *null = fopen("/dev/null", "w");
		diag_print(&dl, null); /* sorts by position */
		fclose(null);
	}
	assert_int_equal(dl.v[0].line, 3);
	assert_int_equal(dl.v[1].line, 4);
	assert_int_equal(dl.v[2].line, 5); /* b has no run */
	assert_int_equal(dl.v[3].line, 6);
	assert_int_equal(dl.v[3].col, 16);
	assert_string_equal(dl.v[3].msg, "unknown task 'c' in needs; tasks: a, b");
	diag_release(&dl);
}

/* container: a workspace name, checked where it is written; kept in the model and the JSON */
static void container_names_a_workspace(void **state)
{
	struct diag_list dl;
	struct dag *d;
	json_t *j;

	(void)state;
	d = load_ok("tasks:\n  a: {container: my-ws.2, run: \"true\"}\n  b: {run: \"true\"}\n");
	assert_string_equal(d->tasks[0].container, "my-ws.2");
	assert_null(d->tasks[1].container);
	j = dag_to_json(d);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "tasks"), 0), "container")),
			    "my-ws.2");
	json_decref(j);
	dag_free(d);
	d = load("bad.yaml", "tasks:\n  a: {run: \"true\", container: ../x}\n  b: {run: \"true\", container: [w]}\n", &dl);
	assert_null(d);
	assert_int_equal(dl.errors, 2);
	assert_int_equal(dl.v[0].line, 2);
	assert_int_equal(dl.v[0].col, 31);
	assert_string_equal(dl.v[0].msg, "'container' must name a workspace (a folder of src/: "
					 "letters, digits, '_', '.' and '-', not starting with '.' "
					 "or '-'), found '../x'");
	assert_string_equal(dl.v[1].msg, "'container' must be a string, found a list");
	diag_release(&dl);
}

static void cycle_is_printed_in_run_order(void **state)
{
	struct diag_list dl;
	struct dag *d = load("c.yaml",
			     "tasks:\n"
			     "  x: {run: x}\n"
			     "  b: {run: b, needs: [a, x]}\n"
			     "  c: {run: c, needs: [b]}\n"
			     "  a: {run: a, needs: [c]}\n", &dl);

	assert_null(d);
	assert_int_equal(dl.errors, 1);
	assert_string_equal(dl.v[0].msg, "dependency cycle: b -> c -> a -> b");
	assert_int_equal(dl.v[0].line, 3);
	assert_int_equal(dl.v[0].col, 23);
	diag_release(&dl);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char *path = path_join(dir, rel);
	char *slash = strrchr(path, '/');

	*slash = '\0';
	assert_int_equal(mkdir_p(path, 0755), 0);
	*slash = '/';
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
	free(path);
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void dagset_of_a_data_folder(void **state)
{
	char dir[] = "/tmp/sf-dagset-XXXXXX";
	struct dag_set set = { 0 };
	FILE *diags = tmpfile();
	char buf[4096];
	size_t n;

	assert_non_null(mkdtemp(dir));
	write_file(dir, "src/w1/dags/zeta.yaml", "tasks: {a: {run: a}}\n");
	write_file(dir, "src/w1/dags/alpha.yml", "tasks: {a: {run: a}}\n");
	write_file(dir, "src/w1/dags/broken.yaml", "tasks: {a: {run: a, needs: [b]}}\n");
	write_file(dir, "src/w2/dags/one.yaml", "id: dup\ntasks: {a: {run: a}}\n");
	write_file(dir, "src/w2/dags/two.yaml", "id: dup\ntasks: {a: {run: a}}\n");
	write_file(dir, "src/w2/dags/notes.txt", "not a DAG\n");
	write_file(dir, "src/w2/other/x.yaml", "not: a DAG folder\n");

	assert_int_equal(dagset_load(&set, dir, diags), 3);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.dags[0]->id, "alpha");
	assert_string_equal(set.dags[1]->id, "zeta");
	assert_string_equal(set.dags[1]->workspace, "w1");
	assert_ptr_equal(dagset_find(&set, "zeta"), set.dags[1]);
	assert_null(dagset_find(&set, "dup"));
	rewind(diags);
	n = fread(buf, 1, sizeof(buf) - 1, diags);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "w1/dags/broken.yaml:1:29: error: unknown task 'b' in needs"));
	assert_non_null(strstr(buf, "w2/dags/one.yaml:1:5: error: duplicate DAG id 'dup' (also defined in "));
	assert_non_null(strstr(buf, "w2/dags/two.yaml)\n"));
	assert_non_null(strstr(buf, "w2/dags/two.yaml:1:5: error: duplicate DAG id 'dup'"));
	fclose(diags);
	dagset_release(&set);
	assert_int_equal(set.n, 0);

	/* explicit files, silently */
	{
		char *p = path_join(dir, "src/w1/dags/zeta.yaml");
		assert_int_equal(dagset_load_files(&set, &p, 1, NULL), 0);
		assert_int_equal(set.n, 1);
		dagset_release(&set);
		free(p);
	}
	rm_rf(dir);
}

static json_t *params_kv(const struct dag *d, const char *a, const char *b, struct strbuf *err)
{
	char *kv[2] = { (char *)a, (char *)b };
	json_t *out = NULL;
	size_t n = !a ? 0 : !b ? 1 : 2;

	sb_reset(err);
	if (dag_params_from_kv(d, kv, n, &out, err) < 0)
		assert_null(out);
	return out;
}

static void expect_kv_error(const struct dag *d, const char *a, const char *b, const char *msg)
{
	struct strbuf err = STRBUF_INIT;

	assert_null(params_kv(d, a, b, &err));
	if (strcmp(err.buf, msg))
		fail_msg("got '%s', wanted '%s'", err.buf, msg);
	sb_release(&err);
}

static void params_from_kv(void **state)
{
	struct dag *d = load_ok(design_example);
	struct strbuf err = STRBUF_INIT;
	json_t *p;

	p = params_kv(d, "file=/x/it's here.zip", "sample_rate=44100", &err);
	assert_non_null(p);
	assert_int_equal(json_integer_value(json_object_get(p, "sample_rate")), 44100);
	assert_string_equal(json_string_value(json_object_get(p, "file")), "/x/it's here.zip");
	assert_string_equal(json_string_value(json_object_get(p, "character")), "Twilight");
	assert_string_equal(json_string_value(json_object_get(p, "split")), "train");
	assert_true(json_is_false(json_object_get(p, "dry")));
	assert_int_equal(json_object_size(p), 6);
	json_decref(p);
	p = params_kv(d, "file=f", "ratio=1", &err);
	assert_true(json_is_real(json_object_get(p, "ratio")));
	json_decref(p);
	p = params_kv(d, "file=f", "dry=YES", &err);
	assert_true(json_is_true(json_object_get(p, "dry")));
	json_decref(p);

	expect_kv_error(d, "file=f", "sample_rate=5",
			"param 'sample_rate': 5 is below the minimum 8000");
	expect_kv_error(d, "file=f", "sample_rate=500000",
			"param 'sample_rate': 500000 is above the maximum 192000");
	expect_kv_error(d, "file=f", "sample_rate=fast", "param 'sample_rate': 'fast' is not an integer");
	expect_kv_error(d, "file=f", "sample_rate=1.5", "param 'sample_rate': '1.5' is not an integer");
	expect_kv_error(d, "file=f", "ratio=2", "param 'ratio': 2 is above the maximum 1");
	expect_kv_error(d, "file=f", "ratio=abc", "param 'ratio': 'abc' is not a number");
	expect_kv_error(d, "file=f", "dry=maybe", "param 'dry': 'maybe' is not a boolean (use true or false)");
	expect_kv_error(d, "file=f", "split=test", "param 'split': 'test' is not one of: train, val");
	expect_kv_error(d, "file=f", "sample_rat=1",
			"unknown param 'sample_rat' (did you mean 'sample_rate'?)");
	expect_kv_error(d, "file=f", "noequals", "malformed param 'noequals': expected KEY=VALUE");
	expect_kv_error(d, "file=f", "=v", "malformed param '=v': expected KEY=VALUE");
	expect_kv_error(d, "file=f", "file=g", "param 'file' is given twice");
	expect_kv_error(d, "split=val", NULL,
			"param 'file' is required (it has no default): give it with -p file=VALUE");
	sb_release(&err);
	dag_free(d);
}

static void params_from_json(void **state)
{
	struct dag *d = load_ok(design_example);
	struct strbuf err = STRBUF_INIT;
	json_t *given, *out;

	given = json_pack("{s:s, s:i, s:s, s:b}", "file", "f", "sample_rate", 16000, "ratio", "0.25",
			  "dry", 1);
	assert_int_equal(dag_params_from_json(d, given, &out, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "sample_rate")), 16000);
	assert_true(json_real_value(json_object_get(out, "ratio")) == 0.25);
	json_decref(out);
	json_decref(given);

	given = json_pack("{s:s, s:f}", "file", "f", "sample_rate", 16000.0);
	assert_int_equal(dag_params_from_json(d, given, &out, &err), 0);
	assert_true(json_is_integer(json_object_get(out, "sample_rate")));
	json_decref(out);
	json_decref(given);

	given = json_pack("{s:i}", "file", 5);
	assert_int_equal(dag_params_from_json(d, given, &out, &err), -1);
	assert_null(out);
	assert_string_equal(err.buf, "param 'file': expected a path, found an integer");
	json_decref(given);

	sb_reset(&err);
	given = json_pack("{s:s, s:[]}", "file", "f", "dry", "x");
	assert_int_equal(dag_params_from_json(d, given, &out, &err), -1);
	assert_string_equal(err.buf, "param 'dry': expected a boolean, found a list");
	json_decref(given);

	sb_reset(&err);
	given = json_pack("[]");
	assert_int_equal(dag_params_from_json(d, given, &out, &err), -1);
	assert_non_null(strstr(err.buf, "params must be an object"));
	json_decref(given);

	sb_reset(&err);
	given = json_pack("{s:s#}", "file", "a\0b", (size_t)3);
	assert_int_equal(dag_params_from_json(d, given, &out, &err), -1);
	assert_non_null(strstr(err.buf, "NUL"));
	json_decref(given);

	/* NULL means none given: fine when nothing is required */
	dag_free(d);
	d = load_ok("params: {a: {default: 1}}\ntasks: {t: {run: x}}\n");
	assert_int_equal(dag_params_from_json(d, NULL, &out, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(out, "a")), 1);
	json_decref(out);
	sb_release(&err);
	dag_free(d);
}

static void json_form(void **state)
{
	struct dag *d = load_ok(design_example);
	json_t *j = dag_to_json(d), *t;
	char *s;

	assert_string_equal(json_string_value(json_object_get(j, "dag_id")), "clipper-preprocess");
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 3);
	t = json_array_get(json_object_get(j, "tasks"), 2);
	assert_string_equal(json_string_value(json_object_get(t, "task_id")), "resample");
	assert_int_equal(json_integer_value(json_object_get(t, "retry_delay_ms")), 30000);
	s = json_dumps(json_object_get(j, "edges"), JSON_COMPACT);
	assert_string_equal(s, "[[\"resample\",\"filelists\"],[\"extract\",\"resample\"]]");
	free(s);
	s = json_dumps(json_object_get(json_object_get(j, "params"), "sample_rate"),
		       JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"default\":22050,\"description\":null,\"maximum\":192000,"
			       "\"minimum\":8000,\"required\":false,\"type\":\"integer\"}");
	free(s);
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(j, "params"), "file"),
						 "required")));
	json_decref(j);
	dag_free(d);
}

static void trigger_rules_round_trip(void **state)
{
	enum trigger_rule r;
	const char *names[] = { "all_success", "all_done", "all_failed", "one_success",
				"one_failed", "none_failed", "always", "none_failed_min_one_success",
				"none_skipped", "all_skipped", "one_done" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		assert_int_equal(trigger_rule_parse(names[i], &r), 0);
		assert_int_equal(r, (enum trigger_rule)i);
		assert_string_equal(trigger_rule_name(r), names[i]);
	}
	assert_int_equal(trigger_rule_parse("sometimes", &r), -1);
	assert_true(dag_id_valid("a.b_c-9"));
	assert_false(dag_id_valid(""));
	assert_false(dag_id_valid("a b"));
	assert_false(dag_id_valid("a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_is_filled),
		cmocka_unit_test(id_from_file_name_and_inferred_types),
		cmocka_unit_test(several_errors_per_file),
		cmocka_unit_test(container_names_a_workspace),
		cmocka_unit_test(cycle_is_printed_in_run_order),
		cmocka_unit_test(dagset_of_a_data_folder),
		cmocka_unit_test(params_from_kv),
		cmocka_unit_test(params_from_json),
		cmocka_unit_test(json_form),
		cmocka_unit_test(trigger_rules_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
