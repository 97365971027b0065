/* Unit tests for src/util: strbuf, suggest, durations, yaml tree, fs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "util/suggest.h"
#include "util/timeutil.h"
#include "util/yaml.h"

static void strbuf_basics(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	assert_string_equal(sb.buf, "");
	sb_addf(&sb, "%d-%s", 42, "x");
	sb_addch(&sb, '!');
	assert_string_equal(sb.buf, "42-x!");
	assert_int_equal(sb.len, 5);
	sb_release(&sb);
	assert_string_equal(sb.buf, "");
}

static void strbuf_max_caps_growth(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	sb.max = 4;
	assert_int_equal(sb_adds(&sb, "abcd"), 0);
	assert_int_equal(sb_adds(&sb, "e"), -1);
	assert_string_equal(sb.buf, "abcd");
	sb_release(&sb);
}

static void shell_quote_is_inert(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	sb_add_shell_quoted(&sb, "it's $(rm -rf /); `x`");
	assert_string_equal(sb.buf, "'it'\\''s $(rm -rf /); `x`'");
	sb_release(&sb);
}

static void suggest_finds_typos(void **state)
{
	const char *const c[] = { "resample", "extract", "filelists" };
	assert_string_equal(suggest_closest("resampel", c, 3), "resample");
	assert_null(suggest_closest("zzzzzzzz", c, 3));
	assert_int_equal(edit_distance("ab", "ba"), 1);
}

static void durations(void **state)
{
	assert_int_equal(duration_parse_ms("500ms"), 500);
	assert_int_equal(duration_parse_ms("30s"), 30000);
	assert_int_equal(duration_parse_ms("10m"), 600000);
	assert_int_equal(duration_parse_ms("2h"), 7200000);
	assert_int_equal(duration_parse_ms("1d"), 86400000);
	assert_int_equal(duration_parse_ms("10"), -1);
	assert_int_equal(duration_parse_ms("s"), -1);
	assert_int_equal(duration_parse_ms("5 m"), -1);
}

static void yaml_duplicate_keys_are_reported(void **state)
{
	const char doc[] = "a: 1\nb: 2\na: 3\n";
	struct diag_list dl;
	struct ynode *root;
	diag_init(&dl, "x.yaml");
	root = yaml_parse(doc, strlen(doc), &dl);
	assert_non_null(root);
	assert_int_equal(dl.errors, 1);
	assert_int_equal(dl.v[0].line, 3);
	assert_int_equal(dl.v[0].col, 1);
	assert_non_null(strstr(dl.v[0].msg, "duplicate key 'a'"));
	ynode_free(root);
	diag_release(&dl);
}

static void yaml_duplicates_in_large_maps(void **state)
{
	struct strbuf doc = STRBUF_INIT;
	struct diag_list dl;
	struct ynode *root;
	for (int i = 0; i < 5000; i++)
		sb_addf(&doc, "k%d: %d\n", i, i);
	sb_adds(&doc, "k17: again\nk4999: again\n");
	diag_init(&dl, "big.yaml");
	root = yaml_parse(doc.buf, doc.len, &dl);
	assert_non_null(root);
	assert_int_equal(root->n, 5002);
	assert_int_equal(dl.errors, 2);
	assert_non_null(strstr(dl.v[0].msg, "duplicate key 'k17' (first defined at line 18)"));
	assert_int_equal(dl.v[0].line, 5001);
	assert_non_null(strstr(dl.v[1].msg, "duplicate key 'k4999' (first defined at line 5000)"));
	ynode_free(root);
	diag_release(&dl);
	sb_release(&doc);
}

static void yaml_positions_and_errors(void **state)
{
	const char doc[] = "tasks:\n  x:\n    run: [unclosed\n";
	const char good[] = "k:\n  - v\n";
	struct diag_list dl;
	struct ynode *root;
	diag_init(&dl, "x.yaml");
	assert_null(yaml_parse(doc, strlen(doc), &dl));
	assert_true(dl.errors >= 1);
	diag_release(&dl);
	diag_init(&dl, "y.yaml");
	root = yaml_parse(good, strlen(good), &dl);
	assert_non_null(root);
	assert_int_equal(ynode_get(root, "k")->vals[0]->line, 2);
	assert_int_equal(ynode_get(root, "k")->vals[0]->col, 5);
	ynode_free(root);
	diag_release(&dl);
}

static void yaml_alias_refused(void **state)
{
	const char doc[] = "a: &x 1\nb: *x\n";
	struct diag_list dl;
	diag_init(&dl, "x.yaml");
	assert_null(yaml_parse(doc, strlen(doc), &dl));
	assert_non_null(strstr(dl.v[0].msg, "aliases"));
	diag_release(&dl);
}

static void path_helpers(void **state)
{
	char *p = path_join("/a/", "/b");
	assert_string_equal(p, "/a/b");
	free(p);
	p = path_join("/", "x");
	assert_string_equal(p, "/x");
	free(p);
	assert_true(path_is_within("/data", "/data/x"));
	assert_true(path_is_within("/data", "/data"));
	assert_false(path_is_within("/data", "/database"));
}

/* Files in dir, for the temporary files left behind (none). */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Temporary files beside a path: new ones each time, the mode less the umask; atomic writes leave none. */
static void tmp_beside_and_atomic_writes(void **state)
{
	char dir[] = "/tmp/sf-test-util.XXXXXX", *a, *b, *c = NULL, *path, *missing;
	struct strbuf text = STRBUF_INIT;
	struct stat st;
	mode_t old = umask(027);
	int fa, fb;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = path_join(dir, "out.flac");
	fa = fs_tmp_beside(path, 0666, &a);
	fb = fs_tmp_beside(path, 0666, &b);
	umask(old);
	assert_true(fa >= 0 && fb >= 0);
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, dir, strlen(dir)), 0);
	assert_int_equal(strncmp(path_basename(a), ".out.flac.", 10), 0);
	assert_int_equal(fstat(fa, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	close(fa);
	close(fb);
	unlink(a);
	unlink(b);
	assert_int_equal(write_file_atomic(path, "one", 3, 0644), 0);
	assert_int_equal(write_file_atomic(path, "two!", 4, 0644), 0);
	assert_int_equal(entries(dir), 1);
	assert_int_equal(sb_read_file(&text, path), 0);
	assert_string_equal(text.buf, "two!");
	/* a folder that does not exist: -1 with errno, nothing made */
	missing = path_join(dir, "no/such");
	assert_int_equal(fs_tmp_beside(missing, 0644, &c), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(c);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	sb_release(&text);
	free(missing);
	free(path);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strbuf_basics),
		cmocka_unit_test(strbuf_max_caps_growth),
		cmocka_unit_test(shell_quote_is_inert),
		cmocka_unit_test(suggest_finds_typos),
		cmocka_unit_test(durations),
		cmocka_unit_test(yaml_duplicate_keys_are_reported),
		cmocka_unit_test(yaml_duplicates_in_large_maps),
		cmocka_unit_test(yaml_positions_and_errors),
		cmocka_unit_test(yaml_alias_refused),
		cmocka_unit_test(path_helpers),
		cmocka_unit_test(tmp_beside_and_atomic_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
