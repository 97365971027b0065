/* Unit tests for src/flow/prov.c: the program a command starts, dpkg owners, file records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "flow/prov.h"
#include "util/common.h"
#include "util/fs.h"

static void command_program(void **state)
{
	static const struct { const char *cmd, *prog; } cases[] = {
		{ "sh src/x.sh a b", "sh" },
		{ "  python3 -c 'x'", "python3" },
		{ "OMP=1 LANG=C sox in out", "sox" },
		{ "/usr/bin/env true", "/usr/bin/env" },
		{ "true", "true" },
		{ "echo hi | wc", "echo" },
		{ "", NULL },
		{ "'quoted' x", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p = prov_command_program(cases[i].cmd);
		if (cases[i].prog)
			assert_string_equal(p, cases[i].prog);
		else
			assert_null(p);
		free(p);
	}
}

/* A dpkg database of our own: the owner is found through the merged-/usr name too. */
static void dpkg_owner(void **state)
{
	char dir[] = "/tmp/sf-prov-XXXXXX", *info, *f, *pkg, *ver, *cmd;
	const char *status = "Package: other\nVersion: 9\n\nPackage: dash\nStatus: install ok\n"
			     "Version: 0.5.12-2\n\n";

	assert_non_null(mkdtemp(dir));
	info = xasprintf("%s/var/lib/dpkg/info", dir);
	assert_int_equal(mkdir_p(info, 0755), 0);
	f = xasprintf("%s/dash.list", info);
	assert_int_equal(write_file_atomic(f, "/.\n/bin\n/bin/dash\n", 19, 0644), 0);
	free(f);
	f = xasprintf("%s/var/lib/dpkg/status", dir);
	assert_int_equal(write_file_atomic(f, status, strlen(status), 0644), 0);
	free(f);
	assert_int_equal(prov_dpkg_owner(dir, "/usr/bin/dash", &pkg, &ver), 0);
	assert_string_equal(pkg, "dash");
	assert_string_equal(ver, "0.5.12-2");
	free(pkg);
	free(ver);
	assert_int_equal(prov_dpkg_owner(dir, "/usr/local/bin/mine", &pkg, &ver), 1);
	assert_null(pkg);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(info);
}

static void file_record(void **state)
{
	char dir[] = "/tmp/sf-prov-XXXXXX", *p;
	json_t *o;

	assert_non_null(mkdtemp(dir));
	p = xasprintf("%s/a.txt", dir);
	assert_int_equal(write_file_atomic(p, "abc", 3, 0644), 0);
	o = prov_file_json(p, dir);
	assert_string_equal(json_string_value(json_object_get(o, "path")), "a.txt");
	assert_string_equal(json_string_value(json_object_get(o, "sha256")),
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(json_integer_value(json_object_get(o, "size")), 3);
	json_decref(o);
	unlink(p);
	o = prov_file_json(p, "/elsewhere");
	assert_string_equal(json_string_value(json_object_get(o, "path")), p);
	assert_true(json_is_true(json_object_get(o, "missing")));
	json_decref(o);
	rmdir(dir);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(command_program),
		cmocka_unit_test(dpkg_owner),
		cmocka_unit_test(file_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
