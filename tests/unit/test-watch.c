/*
 * Unit tests for src/flow/watch.c: glob matching with `**`, identities, the
 * arrival tracker (quiet periods on a test clock), the params of a run
 * started by a file, and the on_file checks of the DAG loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "flow/watch.h"
#include "util/common.h"
#include "util/fs.h"

static void glob_matching(void **state)
{
	(void)state;
	assert_true(watch_glob_match("*", "a.zip"));
	assert_false(watch_glob_match("*", "d/a.zip"));
	assert_true(watch_glob_match("*.zip", "a.zip"));
	assert_false(watch_glob_match("*.zip", "a.tar"));
	assert_true(watch_glob_match("**/*.wav", "a.wav"));
	assert_true(watch_glob_match("**/*.wav", "x/y/z/a.wav"));
	assert_false(watch_glob_match("**/*.wav", "x/y/a.flac"));
	assert_true(watch_glob_match("clips/**", "clips/a/b"));
	assert_true(watch_glob_match("a/**/b/*.txt", "a/b/c.txt"));
	assert_true(watch_glob_match("a/**/b/*.txt", "a/x/y/b/c.txt"));
	assert_false(watch_glob_match("a/**/b/*.txt", "a/x/y/c/c.txt"));
	/* hidden files (partial downloads, rsync's temporaries) only by a leading '.' */
	assert_false(watch_glob_match("*", ".a.zip.part"));
	assert_false(watch_glob_match("**/*.zip", "d/.tmp.zip"));
	assert_true(watch_glob_match(".*", ".hidden"));
	assert_true(watch_glob_match("[ab]?.zip", "b1.zip"));
	assert_false(watch_glob_match("*", ""));
}

static void identities(void **state)
{
	struct stat st = { 0 };
	char *a, *b;

	(void)state;
	st.st_size = 10;
	st.st_mtim.tv_sec = 100;
	st.st_mtim.tv_nsec = 5;
	st.st_ino = 7;
	a = watch_ident_file(&st);
	assert_string_equal(a, "10:100.000000005:7");
	st.st_ino = 8; /* replaced by a rename: same size and time, new inode */
	b = watch_ident_file(&st);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	/* the printf-free formatting agrees with printf at the extremes */
	st.st_size = INT64_MAX;
	st.st_mtim.tv_sec = -1000000000000;
	st.st_mtim.tv_nsec = 999999999;
	st.st_ino = UINT64_MAX;
	a = watch_ident_file(&st);
	b = xasprintf("%llu:%lld.%09ld:%llu", (unsigned long long)st.st_size,
		      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
	assert_string_equal(a, b);
	assert_string_equal(a, "9223372036854775807:-1000000000000.999999999:18446744073709551615");
	free(a);
	free(b);
	st.st_size = 0;
	st.st_mtim.tv_sec = 0;
	st.st_mtim.tv_nsec = 0;
	st.st_ino = 0;
	a = watch_ident_file(&st);
	assert_string_equal(a, "0:0.000000000:0");
	free(a);
	a = watch_ident_dir(3, 300, 1500000000123);
	assert_string_equal(a, "dir:3:300:1500.000000123");
	free(a);
}

static void quiet_period(void **state)
{
	struct watch_tracker t;
	struct watch_entry *e;

	(void)state;
	watch_tracker_init(&t);
	assert_int_equal(watch_next_due(&t), INT64_MAX);
	assert_int_equal(watch_note(&t, "a.wav", 0, "1:1:1", 5000, 0), WN_WAITING);
	assert_int_equal(watch_next_due(&t), 5000);
	/* growing while being written: each change starts the quiet period again */
	assert_int_equal(watch_note(&t, "a.wav", 0, "2:2:1", 5000, 1000), WN_WAITING);
	assert_int_equal(watch_note(&t, "a.wav", 0, "2:2:1", 5000, 2000), WN_SAME);
	assert_int_equal(watch_next_due(&t), 6000);
	e = watch_find(&t, "a.wav");
	/* measured at the end of the period and found changed: waits again */
	assert_int_equal(watch_settle(&t, e, "3:3:1", 6000), WSET_WAIT);
	assert_int_equal(watch_next_due(&t), 11000);
	assert_int_equal(watch_settle(&t, e, "3:3:1", 11000), WSET_ARRIVED);
	assert_int_equal(watch_next_due(&t), INT64_MAX);
	assert_string_equal(e->done, "3:3:1");
	/* seen again unchanged (a rescan): nothing new */
	assert_int_equal(watch_note(&t, "a.wav", 0, "3:3:1", 5000, 20000), WN_SAME);
	/* rewritten in place: a new arrival after its own quiet period */
	assert_int_equal(watch_note(&t, "a.wav", 0, "4:4:1", 5000, 30000), WN_WAITING);
	assert_int_equal(watch_settle(&t, e, "4:4:1", 35000), WSET_ARRIVED);
	watch_tracker_release(&t);
}

static void inotify_marks(void **state)
{
	struct watch_tracker t;
	struct watch_entry *e;

	(void)state;
	watch_tracker_init(&t);
	watch_restore(&t, "ds", 1, "dir:1:1:1.000000000");
	/* an event inside the folder: changed, identity not measured yet */
	assert_int_equal(watch_note(&t, "ds", 1, NULL, 1000, 0), WN_WAITING);
	e = watch_find(&t, "ds");
	assert_int_equal(watch_settle(&t, e, "dir:2:2:2.000000000", 1000), WSET_ARRIVED);
	/* touched, but the same identity as handled: not a new arrival */
	assert_int_equal(watch_note(&t, "ds", 1, NULL, 1000, 5000), WN_WAITING);
	assert_int_equal(watch_settle(&t, e, "dir:2:2:2.000000000", 6000), WSET_UNCHANGED);
	watch_tracker_release(&t);
}

/* Unreadable when its quiet period ended: not handled, not waiting, until noted changed. */
static void blocked_until_noted(void **state)
{
	struct watch_tracker t;
	struct watch_entry *e;

	(void)state;
	watch_tracker_init(&t);
	assert_int_equal(watch_note(&t, "u.wav", 0, "5:1:9", 1000, 0), WN_WAITING);
	e = watch_find(&t, "u.wav");
	watch_block(&t, e, "5:1:9");
	assert_int_equal(watch_next_due(&t), INT64_MAX);
	assert_null(e->done);
	assert_string_equal(e->blocked, "5:1:9");
	/* its permissions changed (the caller checked): it waits again, then arrives */
	assert_int_equal(watch_note(&t, "u.wav", 0, "5:1:9", 1000, 7000), WN_WAITING);
	assert_null(e->blocked);
	assert_int_equal(watch_next_due(&t), 8000);
	assert_int_equal(watch_settle(&t, e, "5:1:9", 8000), WSET_ARRIVED);
	watch_tracker_release(&t);
}

static void folder_loops(void **state)
{
	struct watch_dirs d = { 0 };
	struct stat a = { 0 }, b = { 0 }, c = { 0 };
	char tmpl[] = "/tmp/sf-test-watch.XXXXXX", *sub;
	struct stat st;

	(void)state;
	a.st_dev = b.st_dev = c.st_dev = 1;
	a.st_ino = 10;
	b.st_ino = 11;
	c.st_ino = 10; /* a again, e.g. a bind mount of it below b */
	watch_dirs_push(&d, &a);
	watch_dirs_push(&d, &b);
	assert_false(watch_dirs_loops(&d));
	assert_true(watch_dirs_has(&d, &c));
	b.st_dev = 2; /* the same inode number on another file system is another folder */
	b.st_ino = 10;
	assert_false(watch_dirs_has(&(struct watch_dirs){ .v = d.v, .n = 1 }, &b));
	watch_dirs_push(&d, &c);
	assert_true(watch_dirs_loops(&d));
	watch_dirs_release(&d);
	/* the folders on the way to root/x/y, both ends included */
	assert_non_null(mkdtemp(tmpl));
	sub = xasprintf("%s/x/y", tmpl);
	assert_int_equal(mkdir_p(sub, 0755), 0);
	assert_int_equal(watch_dirs_path(&d, tmpl, "x/y"), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(d.v[2].ino == st.st_ino && !watch_dirs_loops(&d));
	watch_dirs_release(&d);
	assert_int_equal(watch_dirs_path(&d, tmpl, "x/nothing"), -1);
	watch_dirs_release(&d);
	free(sub);
	sub = xasprintf("rm -rf %s", tmpl);
	assert_int_equal(system(sub), 0);
	free(sub);
}

static void printable_names(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_true(watch_utf8_valid("Stimme-\xc3\xbc.wav"));
	assert_true(watch_utf8_valid("a\nb"));
	assert_false(watch_utf8_valid("bad\xffname"));
	assert_false(watch_utf8_valid("\xc3"));              /* cut short */
	assert_false(watch_utf8_valid("\xc0\xaf"));          /* overlong '/' */
	assert_false(watch_utf8_valid("\xed\xa0\x80"));      /* a surrogate */
	assert_false(watch_utf8_valid("\xf4\x90\x80\x80"));  /* beyond U+10FFFF */
	assert_true(watch_utf8_valid("\xf0\x9f\x8e\xb5"));   /* U+1F3B5 */
	watch_printable(&sb, "two\nlines \x1b[31m \xc3\xbc \xff\xc3.wav");
	assert_string_equal(sb.buf, "two\\x0alines \\x1b[31m \xc3\xbc \\xff\\xc3.wav");
	sb_release(&sb);
}

static void many_entries_and_forget(void **state)
{
	struct watch_tracker t;
	char name[32];

	(void)state;
	watch_tracker_init(&t);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(watch_note(&t, name, 0, "1:1:1", 100, i), WN_WAITING);
	}
	assert_int_equal(t.n, 5000);
	assert_int_equal(t.nwaiting, 5000);
	assert_int_equal(watch_next_due(&t), 100);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		watch_forget(&t, name);
	}
	assert_int_equal(t.n, 2500);
	assert_int_equal(t.nwaiting, 2500);
	assert_int_equal(watch_next_due(&t), 101);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		if (i % 2)
			assert_non_null(watch_find(&t, name));
		else
			assert_null(watch_find(&t, name));
	}
	watch_tracker_release(&t);
}

static struct dag *load(const char *yaml, struct diag_list *dl)
{
	diag_init(dl, "t.yaml");
	return dag_load_buffer("t.yaml", yaml, strlen(yaml), dl);
}

static void params_of_a_file(void **state)
{
	struct diag_list dl;
	struct strbuf err = STRBUF_INIT;
	json_t *p = NULL;
	struct dag *d;

	(void)state;
	d = load("params:\n  dataset: {type: string}\n  rel: {type: string, default: x}\n"
		 "  n: {type: integer, default: 1}\n"
		 "on_file: {glob: \"*\", dirs: true, quiet: 2s, on_change: ignore,\n"
		 "          params: {dataset: \"{{ file.name }}\", rel: \"{{ file.dir }}|{{ file.rel }}|{{ file.stem }}\"}}\n"
		 "tasks:\n  a:\n    run: echo {{ params.dataset }}\n", &dl);
	assert_non_null(d);
	assert_int_equal(d->file_trigger.quiet_ms, 2000);
	assert_int_equal(d->file_trigger.on_change, ON_CHANGE_IGNORE);
	assert_true(d->file_trigger.dirs);
	assert_true(watch_dag_takes(d, "Twilight.clipper", 1));
	assert_false(watch_dag_takes(d, "Twilight.clipper", 0));
	assert_int_equal(watch_params(d, "/d/downloaded/Twi light.clipper", "Twi light.clipper", "/d",
				      NULL, &p, &err), 0);
	assert_string_equal(json_string_value(json_object_get(p, "dataset")), "Twi light.clipper");
	assert_string_equal(json_string_value(json_object_get(p, "rel")),
			    "/d/downloaded|Twi light.clipper|Twi light");
	assert_int_equal(json_integer_value(json_object_get(p, "n")), 1);
	json_decref(p);
	dag_free(d);
	diag_release(&dl);

	/* the string form sets the declared `file` param */
	d = load("params:\n  file: {type: path}\non_file: \"*.zip\"\ntasks:\n  a: {run: ls}\n", &dl);
	assert_non_null(d);
	assert_int_equal(d->file_trigger.quiet_ms, 5000);
	assert_int_equal(watch_params(d, "/d/downloaded/a.zip", "a.zip", "/d", NULL, &p, &err), 0);
	assert_string_equal(json_string_value(json_object_get(p, "file")), "/d/downloaded/a.zip");
	json_decref(p);
	dag_free(d);
	diag_release(&dl);

	/* a value the param's type refuses is an error naming the param */
	d = load("params:\n  n: {type: integer}\non_file: {glob: \"*\", params: {n: \"{{ file.stem }}\"}}\n"
		 "tasks:\n  a: {run: ls}\n", &dl);
	assert_non_null(d);
	assert_int_equal(watch_params(d, "/d/downloaded/x.zip", "x.zip", "/d", NULL, &p, &err), -1);
	assert_non_null(strstr(err.buf, "'n'"));
	dag_free(d);
	diag_release(&dl);
	sb_release(&err);
}

static void expect_error(const char *yaml, const char *msg)
{
	struct diag_list dl;
	struct dag *d = load(yaml, &dl);
	int found = 0;

	for (size_t i = 0; i < dl.n; i++)
		found |= strstr(dl.v[i].msg, msg) != NULL;
	if (d || !found) {
		for (size_t i = 0; i < dl.n; i++)
			print_message("%d:%d: %s\n", dl.v[i].line, dl.v[i].col, dl.v[i].msg);
		fail_msg("expected an error containing '%s'", msg);
	}
	diag_release(&dl);
}

static void on_file_diagnostics(void **state)
{
	(void)state;
	expect_error("on_file: {dirs: true}\ntasks:\n  a: {run: ls}\n", "needs 'glob'");
	expect_error("on_file: {glob: \"*\", quiet: soon}\ntasks:\n  a: {run: ls}\n", "bad duration");
	expect_error("on_file: {glob: \"*\", on_change: again}\ntasks:\n  a: {run: ls}\n",
		     "'rerun' or 'ignore'");
	expect_error("on_file: {glob: \"*\", dirs: maybe}\ntasks:\n  a: {run: ls}\n", "true or false");
	expect_error("on_file: {glob: \"*\", dir: true}\ntasks:\n  a: {run: ls}\n",
		     "unknown key 'dir'");
	expect_error("params:\n  datasets: {type: string, default: a}\n"
		     "on_file: {glob: \"*\", params: {dataset: \"{{ file }}\"}}\ntasks:\n  a: {run: ls}\n",
		     "not a param of this DAG (did you mean 'datasets'?)");
	expect_error("params:\n  ds: {type: string}\non_file: {glob: \"*\"}\ntasks:\n  a: {run: ls}\n",
		     "required param 'ds' is not set by 'on_file.params'");
	expect_error("params:\n  ds: {type: string}\non_file: \"*\"\ntasks:\n  a: {run: ls}\n",
		     "required param 'ds' has no value in runs started by on_file");
	expect_error("tasks:\n  a: {run: \"cat {{ file.name }}\"}\n",
		     "'{{ file.name }}' is only available in 'on_file.params'");
	expect_error("params:\n  ds: {type: string}\n"
		     "on_file: {glob: \"*\", params: {ds: \"{{ run.id }}\"}}\ntasks:\n  a: {run: ls}\n",
		     "the run does not exist yet");
	expect_error("on_file: {glob: ../x}\ntasks:\n  a: {run: ls}\n", "relative to downloaded/");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(glob_matching),
		cmocka_unit_test(identities),
		cmocka_unit_test(quiet_period),
		cmocka_unit_test(inotify_marks),
		cmocka_unit_test(blocked_until_noted),
		cmocka_unit_test(printable_names),
		cmocka_unit_test(folder_loops),
		cmocka_unit_test(many_entries_and_forget),
		cmocka_unit_test(params_of_a_file),
		cmocka_unit_test(on_file_diagnostics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
