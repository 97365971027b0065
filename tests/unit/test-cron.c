/* Unit tests for src/flow/cron.c: parsing, diagnostics and next times (UTC). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flow/cron.h"
#include "util/common.h"

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return timegm(&tm);
}

static int setup_utc(void **state)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

static time_t next(const char *expr, time_t after)
{
	struct cron c;
	struct strbuf err = STRBUF_INIT;
	int r = cron_parse(expr, &c, &err);

	if (r < 0)
		fail_msg("'%s' did not parse: %s", expr, err.buf);
	sb_release(&err);
	return cron_next(&c, after);
}

static void parse_fields_and_shortcuts(void **state)
{
	struct cron c;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(cron_parse("*/15 9-17/4 1,15 jan-mar mon-fri", &c, &err), 0);
	assert_true(c.minutes == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
	assert_int_equal(c.hours, (1u << 9) | (1u << 13) | (1u << 17));
	assert_int_equal(c.mdays, (1u << 1) | (1u << 15));
	assert_int_equal(c.months, (1u << 1) | (1u << 2) | (1u << 3));
	assert_int_equal(c.wdays, 0x3e);
	assert_false(c.mday_star);
	assert_false(c.wday_star);

	assert_int_equal(cron_parse("0 0 * * 7", &c, &err), 0);
	assert_int_equal(c.wdays, 1); /* 7 is Sunday, as 0 */
	assert_int_equal(cron_parse("5/20 * * * SUN", &c, &err), 0);
	assert_true(c.minutes == ((1ULL << 5) | (1ULL << 25) | (1ULL << 45)));
	assert_int_equal(c.wdays, 1);

	assert_int_equal(cron_parse("@daily", &c, &err), 0);
	assert_true(c.minutes == 1 && c.hours == 1 && c.mday_star && c.wday_star);
	assert_int_equal(cron_parse("@weekly", &c, &err), 0);
	assert_int_equal(c.wdays, 1);
	assert_int_equal(cron_parse("@annually", &c, &err), 0);
	assert_int_equal(c.months, 1u << 1);
	for (const char *s = "@hourly\0@monthly\0@yearly\0@midnight\0"; *s; s += strlen(s) + 1)
		assert_int_equal(cron_parse(s, &c, &err), 0);
	sb_release(&err);
}

static void expect_error(const char *expr, const char *msg)
{
	struct cron c;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(cron_parse(expr, &c, &err), -1);
	if (!strstr(err.buf, msg))
		fail_msg("'%s': got '%s', wanted '%s'", expr, err.buf, msg);
	sb_release(&err);
}

static void parse_errors_name_the_field(void **state)
{
	expect_error("60 * * * *", "minute field: 60 is out of range 0-59");
	expect_error("* 24 * * *", "hour field: 24 is out of range 0-23");
	expect_error("* * 0 * *", "day-of-month field: 0 is out of range 1-31");
	expect_error("* * * 13 *", "month field: 13 is out of range 1-12");
	expect_error("* * * * 8", "day-of-week field: 8 is out of range 0-7");
	expect_error("* * * *", "expected 5 fields");
	expect_error("* * * * * *", "found 6");
	expect_error("", "found 0");
	expect_error("10-5 * * * *", "range 10-5 is backwards");
	expect_error("*/0 * * * *", "step 0 is out of range");
	expect_error("*/ * * * *", "a step needs a number");
	expect_error("1,,2 * * * *", "empty item");
	expect_error("x * * * *", "minute field: expected a number, found 'x'");
	expect_error("* * * foo *", "month field: unknown name 'foo'");
	expect_error("* * * * mondays", "unknown name 'mondays'");
	expect_error("1-2-3 * * * *", "unexpected '-'");
	expect_error("@reboot", "unknown shortcut '@reboot'");
	expect_error("@daily 5", "unknown shortcut");
	expect_error("0 0 30 2 *", "no selected day exists");
	expect_error("0 0 31 4,6,9,11 *", "no selected day exists");
	expect_error("99999999999999999999 * * * *", "out of range");
}

static void next_basic(void **state)
{
	time_t t = utc(2026, 11, 28, 23, 45, 1);

	assert_int_equal(next("0 3 * * *", t), utc(2026, 11, 29, 3, 0, 0));
	assert_int_equal(next("*/15 * * * *", t), utc(2026, 11, 29, 0, 0, 0));
	assert_int_equal(next("* * * * *", t), utc(2026, 11, 28, 23, 46, 0));
	/* strictly after: a time that matches gives the next one */
	assert_int_equal(next("*/15 * * * *", utc(2026, 11, 28, 10, 15, 0)),
			 utc(2026, 11, 28, 10, 30, 0));
	assert_int_equal(next("@monthly", t), utc(2026, 12, 1, 0, 0, 0));
	assert_int_equal(next("@yearly", t), utc(2027, 1, 1, 0, 0, 0));
	assert_int_equal(next("@hourly", t), utc(2026, 11, 29, 0, 0, 0));
	assert_int_equal(next("30 12 * jan-mar *", t), utc(2027, 1, 1, 12, 30, 0));
	assert_int_equal(next("0 0 29 2 *", utc(2026, 3, 1, 0, 0, 0)), utc(2028, 2, 29, 0, 0, 0));
	assert_int_equal(next("0 0 31 * *", utc(2026, 4, 1, 0, 0, 0)), utc(2026, 5, 31, 0, 0, 0));
}

/* Vixie cron: both day fields restricted means either may match. */
static void next_day_fields_or(void **state)
{
	time_t sat = utc(2026, 11, 28, 12, 0, 0); /* a Saturday */

	/* the 13th or any Friday: Friday 4 December comes first */
	assert_int_equal(next("0 0 13 * 5", sat), utc(2026, 12, 4, 0, 0, 0));
	/* the 1st or any Friday: 1 December (a Tuesday) comes first */
	assert_int_equal(next("0 0 1 * fri", sat), utc(2026, 12, 1, 0, 0, 0));
	/* only day-of-week restricted: Mondays */
	assert_int_equal(next("0 0 * * 1", sat), utc(2026, 11, 30, 0, 0, 0));
	/* only day-of-month restricted */
	assert_int_equal(next("0 0 13 * *", sat), utc(2026, 12, 13, 0, 0, 0));
	/* '*' + step counts as '*' (Vixie's DOM_STAR): odd days AND Mondays */
	assert_int_equal(next("0 0 */2 * 1", sat), utc(2026, 12, 7, 0, 0, 0));
	/* 7 is Sunday */
	assert_int_equal(next("0 0 * * 7", sat), utc(2026, 11, 29, 0, 0, 0));
}

static void next_never(void **state)
{
	struct cron c;
	struct strbuf err = STRBUF_INIT;

	/* cron_parse refuses these; a hand-made one must still end */
	assert_int_equal(cron_parse("0 0 31 * *", &c, &err), 0);
	c.months = 1u << 4; /* April has 30 days */
	assert_int_equal(cron_next(&c, utc(2026, 1, 1, 0, 0, 0)), -1);
	sb_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_fields_and_shortcuts),
		cmocka_unit_test(parse_errors_name_the_field),
		cmocka_unit_test_setup(next_basic, setup_utc),
		cmocka_unit_test_setup(next_day_fields_or, setup_utc),
		cmocka_unit_test_setup(next_never, setup_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
