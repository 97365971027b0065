/*
 * Unit tests for src/flow/cron.c and src/util/tz.c: parsing, diagnostics,
 * next times in UTC, and the DST policy in two zones (docs/dags.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flow/cron.h"
#include "util/common.h"
#include "util/tz.h"

static struct tz *zone(const char *name)
{
	struct strbuf err = STRBUF_INIT;
	struct tz *z = tz_load(name, &err);

	if (!z)
		fail_msg("zone '%s': %s", name ? name : "(local)", err.buf);
	sb_release(&err);
	return z;
}

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

static time_t next_in(const char *zname, const char *expr, time_t after)
{
	struct cron c;
	struct strbuf err = STRBUF_INIT;
	int r = cron_parse(expr, &c, &err);
	struct tz *z = zone(zname);
	int64_t t;

	if (r < 0)
		fail_msg("'%s' did not parse: %s", expr, err.buf);
	sb_release(&err);
	t = cron_next(&c, z, after);
	tz_free(z);
	return (time_t)t;
}

static time_t next(const char *expr, time_t after)
{
	return next_in("UTC", expr, after);
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
	struct tz *z;
	struct cron c;
	struct strbuf err = STRBUF_INIT;

	/* cron_parse refuses these; a hand-made one must still end */
	assert_int_equal(cron_parse("0 0 31 * *", &c, &err), 0);
	c.months = 1u << 4; /* April has 30 days */
	z = zone("UTC");
	assert_int_equal(cron_next(&c, z, utc(2026, 1, 1, 0, 0, 0)), -1);
	tz_free(z);
	sb_release(&err);
}

/* each of `want` in turn, starting after `after` */
static void series(const char *zname, const char *expr, time_t after, const time_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		time_t got = next_in(zname, expr, after);
		if (got != want[i])
			fail_msg("%s '%s' #%zu: got %lld, want %lld", zname, expr, i, (long long)got,
				 (long long)want[i]);
		after = got;
	}
}

#define SERIES(z, e, after, ...)                                                  \
	do {                                                                      \
		const time_t w_[] = { __VA_ARGS__ };                              \
		series(z, e, after, w_, ARRAY_SIZE(w_));                          \
	} while (0)

/* Berlin 2027: 28 March 02:00 CET -> 03:00 CEST (01:00Z); 31 October 03:00 CEST -> 02:00 CET (01:00Z). */
static void dst_berlin(void **state)
{
	const char *b = "Europe/Berlin";

	/* a named time in the gap fires once, at the end of the gap (03:00 CEST) */
	SERIES(b, "30 2 * * *", utc(2027, 3, 27, 12, 0, 0), utc(2027, 3, 28, 1, 0, 0),
	       utc(2027, 3, 29, 0, 30, 0));
	SERIES(b, "*/15 2 * * *", utc(2027, 3, 27, 12, 0, 0), utc(2027, 3, 28, 1, 0, 0),
	       utc(2027, 3, 29, 0, 0, 0), utc(2027, 3, 29, 0, 15, 0));
	SERIES(b, "0 3 * * *", utc(2027, 3, 27, 12, 0, 0), utc(2027, 3, 28, 1, 0, 0),
	       utc(2027, 3, 29, 1, 0, 0));
	/* '*' hours follow absolute time: every real hour */
	SERIES(b, "30 * * * *", utc(2027, 3, 28, 0, 0, 0), utc(2027, 3, 28, 0, 30, 0),
	       utc(2027, 3, 28, 1, 30, 0), utc(2027, 3, 28, 2, 30, 0));
	/* a named time in the repeated hour fires at its first occurrence only */
	SERIES(b, "30 2 * * *", utc(2027, 10, 30, 12, 0, 0), utc(2027, 10, 31, 0, 30, 0),
	       utc(2027, 11, 1, 1, 30, 0));
	SERIES(b, "*/20 2 * * *", utc(2027, 10, 30, 12, 0, 0), utc(2027, 10, 31, 0, 0, 0),
	       utc(2027, 10, 31, 0, 20, 0), utc(2027, 10, 31, 0, 40, 0), utc(2027, 11, 1, 1, 0, 0));
	SERIES(b, "30 * * * *", utc(2027, 10, 31, 0, 0, 0), utc(2027, 10, 31, 0, 30, 0),
	       utc(2027, 10, 31, 1, 30, 0), utc(2027, 10, 31, 2, 30, 0));
	/* @daily is "0 0": untouched by a change at 02:00 */
	SERIES(b, "@daily", utc(2027, 3, 27, 12, 0, 0), utc(2027, 3, 27, 23, 0, 0),
	       utc(2027, 3, 28, 22, 0, 0));
}

/* New York 2027: 14 March 02:00 EST -> 03:00 EDT (07:00Z); 7 November 02:00 EDT -> 01:00 EST (06:00Z). */
static void dst_new_york(void **state)
{
	const char *ny = "America/New_York";

	SERIES(ny, "30 2 * * *", utc(2027, 3, 13, 12, 0, 0), utc(2027, 3, 14, 7, 0, 0),
	       utc(2027, 3, 15, 6, 30, 0));
	SERIES(ny, "0 * * * *", utc(2027, 3, 14, 5, 30, 0), utc(2027, 3, 14, 6, 0, 0),
	       utc(2027, 3, 14, 7, 0, 0), utc(2027, 3, 14, 8, 0, 0));
	SERIES(ny, "30 1 * * *", utc(2027, 11, 6, 12, 0, 0), utc(2027, 11, 7, 5, 30, 0),
	       utc(2027, 11, 8, 6, 30, 0));
	SERIES(ny, "*/30 * * * *", utc(2027, 11, 7, 5, 0, 0), utc(2027, 11, 7, 5, 30, 0),
	       utc(2027, 11, 7, 6, 0, 0), utc(2027, 11, 7, 6, 30, 0), utc(2027, 11, 7, 7, 0, 0));
}

/* tz.c's offsets agree with the C library's for two centuries, file and POSIX rule alike. */
static void offsets_match_libc(void **state)
{
	const char *names[] = { "Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC",
				"CET-1CEST,M3.5.0,M10.5.0/3" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int rule = strchr(names[i], ',') != NULL;
		struct tz *z;
		time_t from = rule ? utc(1997, 1, 1, 0, 0, 0) : utc(1900, 1, 1, 0, 0, 0);

		setenv("TZ", names[i], 1);
		tzset();
		z = rule ? zone(NULL) : zone(names[i]);
		for (time_t t = from; t < utc(2100, 1, 1, 0, 0, 0); t += 5 * 3600 + 17) {
			struct tm tm;
			int64_t c = tz_next_change(z, t);

			localtime_r(&t, &tm);
			if (tz_offset(z, t) != tm.tm_gmtoff)
				fail_msg("%s at %lld: %d, libc %ld", names[i], (long long)t,
					 tz_offset(z, t), tm.tm_gmtoff);
			if (c != INT64_MAX && (tz_offset(z, c - 1) != tz_offset(z, t) ||
					       tz_offset(z, c) == tz_offset(z, t)))
				fail_msg("%s: next change after %lld is wrong (%lld)", names[i],
					 (long long)t, (long long)c);
		}
		tz_free(z);
	}
	setenv("TZ", "UTC", 1);
	tzset();
}

static void zone_names_and_format(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct tz *z = zone("Europe/Berlin");
	char buf[40];

	tz_format(z, utc(2027, 3, 28, 1, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2027-03-28T03:00:00+02:00");
	assert_string_equal(tz_name(z), "Europe/Berlin");
	tz_free(z);
	z = zone("America/New_York");
	tz_format(z, utc(2027, 11, 7, 6, 30, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2027-11-07T01:30:00-05:00");
	tz_free(z);
	assert_null(tz_load("Europe/Berlinn", &err));
	assert_non_null(strstr(err.buf, "unknown time zone 'Europe/Berlinn'"));
	sb_reset(&err);
	assert_null(tz_load("../etc/passwd", &err));
	assert_non_null(strstr(err.buf, "not a time zone name"));
	sb_reset(&err);
	assert_null(tz_load("/etc/localtime", &err));
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
		cmocka_unit_test(dst_berlin),
		cmocka_unit_test(dst_new_york),
		cmocka_unit_test(offsets_match_libc),
		cmocka_unit_test(zone_names_and_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
