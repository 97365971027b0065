/* Unit tests for src/pack/bundle.c: the checks made on every entry of a bundle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pack/bundle.h"
#include "util/common.h"

static void entry_names(void **state)
{
	static const char *const good[] = { "sfpack.json", "outputs/uploadable/a b/c.txt",
					    "dag/", "inputs/..x", "a/.b" };
	static const char *const bad[] = { "", "/etc/passwd", "../x", "a/../../x", "a/..",
					   "a//b", "./a", "a/./b" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct strbuf why = STRBUF_INIT;
		assert_int_equal(bundle_name_ok(good[i], &why), 0);
		sb_release(&why);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct strbuf why = STRBUF_INIT;
		assert_int_equal(bundle_name_ok(bad[i], &why), -1);
		assert_true(why.len > 0);
		sb_release(&why);
	}
}

static void symlinks(void **state)
{
	assert_true(bundle_symlink_stays("outputs/uploadable/ds/latest", "clips/a.flac"));
	assert_true(bundle_symlink_stays("outputs/uploadable/ds/x/link", "../other/f"));
	assert_true(bundle_symlink_stays("outputs/uploadable/ds/link", "../other-ds/f"));
	assert_false(bundle_symlink_stays("outputs/uploadable/link", "../generated/f"));
	assert_false(bundle_symlink_stays("outputs/uploadable/ds/link", "../../x"));
	assert_false(bundle_symlink_stays("outputs/uploadable/ds/link", "/data/uploadable/ds/f"));
	assert_false(bundle_symlink_stays("outputs/generated/link", "f"));
	assert_false(bundle_symlink_stays("outputs/uploadable/ds/link", ""));
}

static void absolute_paths(void **state)
{
	const char *roots[] = { "/home/anon/run-data", "/home/anon", "/data" };
	const char *text = "clips/a.flac|Hi|Twilight\n"
			   "/home/anon/run-data/uploadable/ds/clips/b.flac|Yes|Rarity\n"
			   "sub/data/x.flac|Relative|Fine\n"
			   "/datasets/x.flac|Another root|Fine\n"
			   "x=\"/data/uploadable/c.flac\"\n"
			   "see /home/anon/notes.txt\n";
	struct strvec p = STRVEC_INIT;

	bundle_scan_text("fl.txt", text, strlen(text), roots, ARRAY_SIZE(roots), &p);
	assert_int_equal(p.nr, 3);
	assert_string_equal(p.v[0], "fl.txt:2: holds the absolute path "
				    "'/home/anon/run-data/uploadable/ds/clips/b.flac' of the packing machine");
	assert_string_equal(p.v[1], "fl.txt:5: holds the absolute path '/data/uploadable/c.flac' "
				    "of the packing machine");
	assert_string_equal(p.v[2], "fl.txt:6: holds the absolute path '/home/anon/notes.txt' of "
				    "the packing machine");
	strvec_clear(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(entry_names),
		cmocka_unit_test(symlinks),
		cmocka_unit_test(absolute_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
