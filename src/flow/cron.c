#include "flow/cron.h"

#include <ctype.h>
#include <strings.h>

#include "util/common.h"

struct field_spec {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] means min + i, or NULL */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					    "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* Day-of-week allows 7 for Sunday, folded onto 0 after parsing. */
static const struct field_spec fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, day_names },
};

static const struct {
	const char *name, *expr;
} shortcuts[] = {
	{ "@hourly", "0 * * * *" },  { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },  { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* A number or a name of the field; advances *p.  -1 with err on failure. */
static int parse_value(const struct field_spec *f, const char **p, int *out, struct strbuf *err)
{
	const char *s = *p;
	long v = 0;

	if (isdigit((unsigned char)*s)) {
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (*s++ - '0');
			if (v > 1000)
				break;
		}
		while (isdigit((unsigned char)*s))
			s++;
	} else if (f->names && isalpha((unsigned char)*s)) {
		size_t i, n = f == &fields[3] ? ARRAY_SIZE(month_names) : ARRAY_SIZE(day_names);
		for (i = 0; i < n && strncasecmp(s, f->names[i], 3); i++)
			;
		if (i == n || isalpha((unsigned char)s[3])) {
			sb_addf(err, "%s field: unknown name '%.*s'", f->name, (int)strcspn(s, ",-/"), s);
			return -1;
		}
		v = f->min + (long)i;
		s += 3;
	} else {
		sb_addf(err, "%s field: expected a number%s, found '%.*s'", f->name,
			f->names ? " or a name" : "", (int)(strcspn(s, ",-/") ? strcspn(s, ",-/") : 1), s);
		return -1;
	}
	if (v < f->min || v > f->max) {
		sb_addf(err, "%s field: %ld is out of range %d-%d", f->name, v, f->min, f->max);
		return -1;
	}
	*out = (int)v;
	*p = s;
	return 0;
}

/* One list item: '*', 'a', 'a-b', each optionally '/step'; sets bits. */
static int parse_item(const struct field_spec *f, const char *s, uint64_t *bits, struct strbuf *err)
{
	int lo = f->min, hi = f->max, step = 1, star = 0, explicit_range = 0;

	if (*s == '*') {
		star = 1;
		s++;
	} else {
		if (parse_value(f, &s, &lo, err) < 0)
			return -1;
		hi = lo;
		if (*s == '-') {
			s++;
			if (parse_value(f, &s, &hi, err) < 0)
				return -1;
			if (hi < lo) {
				sb_addf(err, "%s field: range %d-%d is backwards", f->name, lo, hi);
				return -1;
			}
			explicit_range = 1;
		}
	}
	if (*s == '/') {
		long v = 0;
		s++;
		if (!isdigit((unsigned char)*s)) {
			sb_addf(err, "%s field: a step needs a number after '/'", f->name);
			return -1;
		}
		while (isdigit((unsigned char)*s) && v <= 1000)
			v = v * 10 + (*s++ - '0');
		if (v < 1 || v > f->max) {
			sb_addf(err, "%s field: step %ld is out of range 1-%d", f->name, v, f->max);
			return -1;
		}
		step = (int)v;
		/* "5/15" means 5-max/15, as cronie reads it */
		if (!star && !explicit_range)
			hi = f->max;
	}
	if (*s) {
		sb_addf(err, "%s field: unexpected '%c'", f->name, *s);
		return -1;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
}

static int parse_field(const struct field_spec *f, const char *text, uint64_t *bits,
		       struct strbuf *err)
{
	char *copy = xstrdup(text), *save = NULL, *item;
	int ret = 0;

	*bits = 0;
	if (text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,")) {
		sb_addf(err, "%s field: empty item in list '%s'", f->name, text);
		free(copy);
		return -1;
	}
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if ((ret = parse_item(f, item, bits, err)) < 0)
			break;
	free(copy);
	return ret;
}

static const int month_days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

/* "0 0 30 2 *" is accepted by cron and never runs: say so instead. */
static int check_days_exist(const struct cron *c, struct strbuf *err)
{
	if (c->mday_star || !c->wday_star)
		return 0;
	for (int m = 1; m <= 12; m++) {
		if (!(c->months & (1u << m)))
			continue;
		for (int d = 1; d <= month_days[m - 1]; d++)
			if (c->mdays & (1u << d))
				return 0;
	}
	sb_adds(err, "day-of-month field: no selected day exists in the selected month(s)");
	return -1;
}

static int parse_fields(const char *expr, struct cron *c, struct strbuf *err)
{
	char *copy = xstrdup(expr), *save = NULL, *tok;
	char *parts[5];
	uint64_t bits[5];
	int n = 0, ret = -1;

	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n < 5)
			parts[n] = tok;
		n++;
	}
	if (n != 5) {
		sb_addf(err, "expected 5 fields (minute hour day-of-month month day-of-week), found %d", n);
		goto out;
	}
	for (int i = 0; i < 5; i++)
		if (parse_field(&fields[i], parts[i], &bits[i], err) < 0)
			goto out;
	c->minutes = bits[0];
	c->hours = (uint32_t)bits[1];
	c->mdays = (uint32_t)bits[2];
	c->months = (uint16_t)bits[3];
	c->wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
	c->mday_star = parts[2][0] == '*';
	c->wday_star = parts[4][0] == '*';
	c->hour_star = parts[1][0] == '*';
	ret = check_days_exist(c, err);
out:
	free(copy);
	return ret;
}

int cron_parse(const char *expr, struct cron *out, struct strbuf *err)
{
	const char *s = expr;

	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '@') {
		size_t len = strcspn(s, " \t\n");
		for (size_t i = 0; i < ARRAY_SIZE(shortcuts); i++)
			if (strlen(shortcuts[i].name) == len && !strncmp(s, shortcuts[i].name, len) &&
			    !s[len + strspn(s + len, " \t\n")])
				return parse_fields(shortcuts[i].expr, out, err);
		sb_addf(err, "unknown shortcut '%.*s' (use @hourly, @daily, @weekly, @monthly or @yearly)",
			(int)len, s);
		return -1;
	}
	return parse_fields(s, out, err);
}

static int day_matches(const struct cron *c, const struct tm *tm)
{
	int dom = !!(c->mdays & (1u << tm->tm_mday));
	int dow = !!(c->wdays & (1u << tm->tm_wday));

	if (c->mday_star || c->wday_star)
		return dom && dow;
	return dom || dow;
}

/*
 * The first matching wall-clock minute at or after w, wall times being
 * counted as if the zone were UTC (so no zone is involved); -1 when none
 * within eight years.
 */
static int64_t wall_next(const struct cron *c, int64_t w)
{
	time_t t = (time_t)(w - ((w % 60) + 60) % 60), n;
	struct tm tm;
	int last_year;

	if ((w % 60 + 60) % 60)
		t += 60;
	gmtime_r(&t, &tm);
	last_year = tm.tm_year + 8;
	while (tm.tm_year <= last_year) {
		if (!(c->months & (1u << (tm.tm_mon + 1)))) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!(c->hours & (1u << tm.tm_hour))) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!(c->minutes & (1ULL << tm.tm_min))) {
			tm.tm_min++;
		} else {
			return (int64_t)timegm(&tm);
		}
		n = timegm(&tm);
		gmtime_r(&n, &tm);
	}
	return -1;
}

/*
 * The instant a named wall time w fires at: itself when it exists once, its
 * first occurrence in a repeated hour, the end of the gap when it does not
 * exist.  Assumes at most one offset change within a day of w.
 */
static int64_t wall_fire(const struct tz *z, int64_t w)
{
	int32_t a = tz_offset(z, w - 86400), b = tz_offset(z, w + 86400);
	int64_t ta = w - a, tb = w - b;
	int va = tz_offset(z, ta) == a, vb = tz_offset(z, tb) == b;

	if (va && vb)
		return ta < tb ? ta : tb;
	if (va)
		return ta;
	if (vb)
		return tb;
	/* in the gap: from the earlier reading on, the first change */
	return tz_next_change(z, (ta < tb ? ta : tb) - 1);
}

int64_t cron_next(const struct cron *c, const struct tz *z, int64_t after)
{
	if (!c->hour_star) {
		/* fire times grow with wall times: the first one past `after` */
		int64_t w = after + tz_offset(z, after) - 3 * 3600;
		for (int guard = 0; guard < 100000; guard++) {
			int64_t t;
			if ((w = wall_next(c, w)) < 0)
				return -1;
			if ((t = wall_fire(z, w)) > after)
				return t;
			w += 60;
		}
		return -1;
	}
	/* absolute time: search each stretch of one offset in turn */
	for (int64_t from = after - ((after % 60) + 60) % 60 + 60, guard = 0; guard < 1000; guard++) {
		int32_t off = tz_offset(z, from);
		int64_t end = tz_next_change(z, from), w = wall_next(c, from + off);

		if (w < 0)
			return -1;
		if (w - off < end)
			return w - off;
		from = end;
	}
	return -1;
}
