/* Unit tests for src/core/config.c: the value types, the key table, defaults and the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "core/config.h"
#include "util/common.h"
#include "util/fs.h"

static void value_types(void **state)
{
	struct strbuf why = STRBUF_INIT;
	struct strvec list = STRVEC_INIT;
	char *str = NULL;
	int64_t ms = 0;
	int n = 0;

	assert_int_equal(config_parse_value(CFG_DURATION, NULL, "1500ms", &ms, &why), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(config_parse_value(CFG_DURATION, NULL, "2h", &ms, &why), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(config_parse_value(CFG_DURATION, NULL, "soon", &ms, &why), -1);
	assert_non_null(strstr(why.buf, "expected a duration"));
	sb_reset(&why);

	assert_int_equal(config_parse_value(CFG_BOOL, NULL, "yes", &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(config_parse_value(CFG_BOOL, NULL, "off", &n, &why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(config_parse_value(CFG_BOOL, NULL, "maybe", &n, &why), -1);
	sb_reset(&why);

	assert_int_equal(config_parse_value(CFG_INT, NULL, "-12", &n, &why), 0);
	assert_int_equal(n, -12);
	assert_int_equal(config_parse_value(CFG_INT, NULL, "12x", &n, &why), -1);
	assert_int_equal(config_parse_value(CFG_INT, NULL, "99999999999", &n, &why), -1);
	sb_reset(&why);

	assert_int_equal(config_parse_value(CFG_LIST, NULL, " a, b ,c", &list, &why), 0);
	assert_int_equal(list.nr, 3);
	assert_string_equal(list.v[0], "a");
	assert_string_equal(list.v[1], "b");
	assert_string_equal(list.v[2], "c");
	assert_int_equal(config_parse_value(CFG_LIST, NULL, "", &list, &why), 0);
	assert_int_equal(list.nr, 0);
	assert_int_equal(config_parse_value(CFG_LIST, NULL, "a,,b", &list, &why), -1);
	assert_non_null(strstr(why.buf, "empty items"));
	sb_reset(&why);

	assert_int_equal(config_parse_value(CFG_CHOICE, "docker|podman", "podman", &str, &why), 0);
	assert_string_equal(str, "podman");
	assert_int_equal(config_parse_value(CFG_CHOICE, "docker|podman", "dock", &str, &why), -1);
	assert_string_equal(why.buf, "expected 'docker' or 'podman', got 'dock'");
	assert_string_equal(str, "podman");
	free(str);
	strvec_clear(&list);
	sb_release(&why);
}

/* The file init writes is every default, so loading it changes nothing. */
static void default_file_loads_to_defaults(void **state)
{
	char dir[] = "/tmp/sf-test-config-XXXXXX";
	struct strbuf text = STRBUF_INIT;
	struct config def, cfg;
	char *path;

	assert_non_null(mkdtemp(dir));
	path = path_join(dir, "synthflow.yaml");
	config_write_default(&text);
	assert_non_null(strstr(text.buf, "\nslurm:"));
	assert_non_null(strstr(text.buf, "  # poll: 5s"));
	assert_non_null(strstr(text.buf, "\nschedulers:"));
	assert_non_null(strstr(text.buf, "  # lease_ttl: 10s"));
	assert_int_equal(write_file_if_missing(path, text.buf, text.len, 0644), 1);
	config_defaults(&def);
	assert_int_equal(config_load(&cfg, dir), 0);
	assert_string_equal(cfg.ws_engine, def.ws_engine);
	assert_string_equal(cfg.flow_store, def.flow_store);
	assert_int_equal(cfg.port_web, 8881);
	assert_int_equal(cfg.slurm_poll_ms, 5000);
	assert_int_equal(cfg.slurm_fs_grace_ms, 30000);
	assert_string_equal(cfg.slurm_partition, "");
	assert_int_equal(cfg.sched_heartbeat_ms, 2000);
	assert_int_equal(cfg.sched_lease_ttl_ms, 10000);
	assert_int_equal(cfg.sched_grace_ms, 5000);
	assert_int_equal(cfg.sched_watchdog_ms, 9000);
	config_release(&cfg);
	config_release(&def);
	unlink(path);
	rmdir(dir);
	free(path);
	sb_release(&text);
}

/* Loads a synthflow.yaml of the given text: config_load's result. */
static int load_text(const char *text)
{
	char dir[] = "/tmp/sf-test-config-XXXXXX";
	struct config cfg;
	char *path;
	int ret;

	assert_non_null(mkdtemp(dir));
	path = path_join(dir, "synthflow.yaml");
	assert_int_equal(write_file_if_missing(path, text, strlen(text), 0644), 1);
	ret = config_load(&cfg, dir);
	config_release(&cfg);
	unlink(path);
	rmdir(dir);
	free(path);
	return ret;
}

/* The schedulers: keys are checked together: each rule at its boundary, and one past it. */
static void lease_keys_together(void **state)
{
	error_set_quiet(1);
	/* heartbeat at most lease_ttl / 3 */
	assert_int_equal(load_text("schedulers:\n  lease_ttl: 6s\n  heartbeat: 2s\n"
				   "  watchdog: 4s\n"), 0);
	assert_int_equal(load_text("schedulers:\n  lease_ttl: 6s\n  heartbeat: 2001ms\n"
				   "  watchdog: 4s\n"), -1);
	/* watchdog from lease_ttl - heartbeat to lease_ttl + grace - 1s */
	assert_int_equal(load_text("schedulers:\n  watchdog: 8s\n"), 0);
	assert_int_equal(load_text("schedulers:\n  watchdog: 7999ms\n"), -1);
	assert_int_equal(load_text("schedulers:\n  watchdog: 14s\n"), 0);
	assert_int_equal(load_text("schedulers:\n  watchdog: 14001ms\n"), -1);
	assert_int_equal(load_text("schedulers:\n  grace: 1s\n  watchdog: 10s\n"), 0);
	assert_int_equal(load_text("schedulers:\n  grace: 999ms\n  watchdog: 10s\n"), -1);
	error_set_quiet(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(value_types),
		cmocka_unit_test(default_file_loads_to_defaults),
		cmocka_unit_test(lease_keys_together),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
