/*
 * TZif reading and POSIX TZ rules (see tz.h).  Only what offsets need is
 * kept: transition instants and the offset after each; leap seconds and
 * abbreviations are skipped.
 */
#include "util/tz.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/common.h"

#define TZ_FILE_MAX (1 << 20)

/* A POSIX rule date: Jn (1-365, no Feb 29), n (0-365), Mm.w.d; at `secs` local time. */
struct rule_date {
	char kind; /* 'J', 'D' or 'M' */
	int n, m, w, d;
	int32_t secs;
};

struct tz {
	char *name;
	size_t n;
	int64_t *at;      /* transition instants, ascending */
	int32_t *off;     /* the offset from at[i] on */
	int32_t first;    /* before at[0] */
	int rule;         /* the POSIX rule applies after the table */
	int has_dst;
	int32_t std_off, dst_off;
	struct rule_date start, end;
};

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->at);
	free(z->off);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

/* ---- civil dates (proleptic Gregorian, no time zone) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t year_of(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	return (int64_t)tm.tm_year + 1900;
}

/* The instant (as UTC seconds of local midnight + secs) of a rule date in year y. */
static int64_t rule_local(const struct rule_date *r, int64_t y)
{
	int64_t day;

	if (r->kind == 'J') {
		day = days_from_civil(y, 1, 1) + r->n - 1;
		if (is_leap(y) && r->n >= 60)
			day++;
	} else if (r->kind == 'D') {
		day = days_from_civil(y, 1, 1) + r->n;
	} else {
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int64_t first = days_from_civil(y, r->m, 1);
		int len = mdays[r->m - 1] + (r->m == 2 && is_leap(y));
		int wd_first = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
		int dom = 1 + (r->d - wd_first + 7) % 7 + (r->w - 1) * 7;

		while (dom > len)
			dom -= 7;
		day = first + dom - 1;
	}
	return day * 86400 + r->secs;
}

/* The year's DST start and end as instants. */
static void rule_year(const struct tz *z, int64_t y, int64_t *start, int64_t *end)
{
	*start = rule_local(&z->start, y) - z->std_off;
	*end = rule_local(&z->end, y) - z->dst_off;
}

static int32_t rule_offset(const struct tz *z, int64_t t)
{
	int64_t y = year_of(t + z->std_off), s, e;

	if (!z->has_dst)
		return z->std_off;
	rule_year(z, y, &s, &e);
	if (s < e)
		return t >= s && t < e ? z->dst_off : z->std_off;
	/* southern hemisphere: DST spans the new year */
	return t >= e && t < s ? z->std_off : z->dst_off;
}

int32_t tz_offset(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n;

	if (!z->n || t < z->at[0])
		return z->n || !z->rule ? z->first : rule_offset(z, t);
	if (z->rule && t >= z->at[z->n - 1])
		return rule_offset(z, t);
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

int64_t tz_next_change(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n;
	int64_t best = INT64_MAX;

	/* the first table entry after t whose offset really differs */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < z->n; i++)
		if (z->off[i] != tz_offset(z, z->at[i] - 1))
			return z->at[i];
	if (z->rule && z->has_dst) {
		int64_t y = year_of(t + z->std_off);
		for (int64_t yy = y - 1; yy <= y + 1; yy++) {
			int64_t s, e;
			rule_year(z, yy, &s, &e);
			if (s > t && s < best && (!z->n || s >= z->at[z->n - 1]))
				best = s;
			if (e > t && e < best && (!z->n || e >= z->at[z->n - 1]))
				best = e;
		}
	}
	return best;
}

void tz_format(const struct tz *z, int64_t t, char *buf, size_t size)
{
	int32_t off = tz_offset(z, t), a = off < 0 ? -off : off;
	time_t local = (time_t)(t + off);
	struct tm tm;
	char tmp[32];

	gmtime_r(&local, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s%c%02d:%02d", tmp, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* ---- POSIX TZ rules ---- */

static int parse_name(const char **p)
{
	const char *s = *p;

	if (*s == '<') {
		const char *e = strchr(s, '>');
		if (!e || e - s < 4)
			return -1;
		*p = e + 1;
		return 0;
	}
	while (isalpha((unsigned char)*s))
		s++;
	if (s - *p < 3)
		return -1;
	*p = s;
	return 0;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to 167 (RFC 8536's extension). */
static int parse_hms(const char **p, int32_t *out)
{
	const char *s = *p;
	long v[3] = { 0, 0, 0 };
	int sign = 1, i;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s) && v[i] < 1000)
			v[i] = v[i] * 10 + (*s++ - '0');
		if (*s != ':' || i == 2)
			break;
		s++;
	}
	if (v[0] > 167 || v[1] > 59 || v[2] > 59)
		return -1;
	*out = (int32_t)(sign * (v[0] * 3600 + v[1] * 60 + v[2]));
	*p = s;
	return 0;
}

static int parse_num(const char **p, int lo, int hi, int *out)
{
	long v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s) && v <= hi)
		v = v * 10 + (*s++ - '0');
	if (v < lo || v > hi)
		return -1;
	*out = (int)v;
	*p = s;
	return 0;
}

static int parse_date(const char **p, struct rule_date *r)
{
	const char *s = *p;

	r->secs = 7200;
	if (*s == 'J') {
		s++;
		r->kind = 'J';
		if (parse_num(&s, 1, 365, &r->n) < 0)
			return -1;
	} else if (*s == 'M') {
		s++;
		r->kind = 'M';
		if (parse_num(&s, 1, 12, &r->m) < 0 || *s++ != '.' || parse_num(&s, 1, 5, &r->w) < 0 ||
		    *s++ != '.' || parse_num(&s, 0, 6, &r->d) < 0)
			return -1;
	} else {
		r->kind = 'D';
		if (parse_num(&s, 0, 365, &r->n) < 0)
			return -1;
	}
	if (*s == '/') {
		s++;
		if (parse_hms(&s, &r->secs) < 0)
			return -1;
	}
	*p = s;
	return 0;
}

/* "CET-1CEST,M3.5.0,M10.5.0/3" into z's rule; -1 when it is not one. */
static int parse_rule(struct tz *z, const char *s)
{
	int32_t v;

	if (parse_name(&s) < 0 || parse_hms(&s, &v) < 0)
		return -1;
	z->std_off = -v;
	z->dst_off = z->std_off + 3600;
	z->rule = 1;
	if (!*s)
		return 0;
	if (parse_name(&s) < 0)
		return -1;
	z->has_dst = 1;
	if (*s && *s != ',') {
		if (parse_hms(&s, &v) < 0)
			return -1;
		z->dst_off = -v;
	}
	if (!*s) {
		/* no dates: the US rule, as POSIX implementations assume */
		z->start = (struct rule_date){ .kind = 'M', .m = 3, .w = 2, .d = 0, .secs = 7200 };
		z->end = (struct rule_date){ .kind = 'M', .m = 11, .w = 1, .d = 0, .secs = 7200 };
		return 0;
	}
	if (*s++ != ',' || parse_date(&s, &z->start) < 0 || *s++ != ',' ||
	    parse_date(&s, &z->end) < 0 || *s)
		return -1;
	return 0;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int parse_tzif(struct tz *z, const unsigned char *b, size_t len)
{
	const unsigned char *h = b, *d;
	uint32_t cnt[6];
	size_t tsize = 4, need, types_at, times_at, idx_at;

	if (len < 44 || memcmp(b, "TZif", 4))
		return -1;
	for (int pass = 0;; pass++) {
		for (int i = 0; i < 6; i++)
			cnt[i] = be32(h + 20 + 4 * i);
		/* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
		if (cnt[3] > 100000 || cnt[4] == 0 || cnt[4] > 256 || cnt[5] > 100000 ||
		    cnt[2] > 100000)
			return -1;
		need = 44 + cnt[3] * tsize + cnt[3] + cnt[4] * 6 + cnt[5] + cnt[2] * (tsize + 4) +
		       cnt[1] + cnt[0];
		if ((size_t)(h - b) + need > len)
			return -1;
		if (pass == 0 && h[4] >= '2') {
			h += need; /* skip the 32-bit block: the 64-bit one follows */
			tsize = 8;
			if ((size_t)(h - b) + 44 > len || memcmp(h, "TZif", 4))
				return -1;
			continue;
		}
		break;
	}
	d = h + 44;
	times_at = 0;
	idx_at = cnt[3] * tsize;
	types_at = idx_at + cnt[3];
	z->n = cnt[3];
	z->at = xcalloc(z->n ? z->n : 1, sizeof(*z->at));
	z->off = xcalloc(z->n ? z->n : 1, sizeof(*z->off));
	for (size_t i = 0; i < z->n; i++) {
		unsigned ti = d[idx_at + i];
		if (ti >= cnt[4])
			return -1;
		z->at[i] = tsize == 8 ? be64(d + times_at + 8 * i) : (int32_t)be32(d + times_at + 4 * i);
		z->off[i] = (int32_t)be32(d + types_at + 6 * ti);
		if (i && z->at[i] <= z->at[i - 1])
			return -1;
	}
	z->first = (int32_t)be32(d + types_at);
	if (tsize == 8) {
		/* the footer: "\n" POSIX-TZ "\n" */
		const unsigned char *f = h + need, *e = b + len;
		if (f < e && *f == '\n') {
			const unsigned char *nl = memchr(f + 1, '\n', (size_t)(e - f - 1));
			if (nl && nl > f + 1) {
				char *rule = xstrndup((const char *)f + 1, (size_t)(nl - f - 1));
				int bad = parse_rule(z, rule) < 0;
				free(rule);
				if (bad)
					return -1;
			}
		}
	}
	return 0;
}

static int name_ok(const char *name)
{
	const char *p;

	if (!*name || *name == '/' || strlen(name) > 200)
		return 0;
	for (p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-.", *p))
			return 0;
	for (p = name; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
		if (p[0] == '.')
			return 0;
	return 1;
}

static struct tz *load_file(const char *path, const char *name, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	struct tz *z;

	sb.max = TZ_FILE_MAX;
	if (sb_read_file(&sb, path) < 0) {
		sb_addf(err, "cannot read '%s': %s", path, strerror(errno));
		sb_release(&sb);
		return NULL;
	}
	z = xcalloc(1, sizeof(*z));
	z->name = xstrdup(name);
	if (parse_tzif(z, (const unsigned char *)sb.buf, sb.len) < 0) {
		sb_addf(err, "'%s' is not a valid time zone file", path);
		tz_free(z);
		z = NULL;
	}
	sb_release(&sb);
	return z;
}

static struct tz *load_name(const char *name, struct strbuf *err)
{
	const char *dir = getenv("TZDIR");
	char *path;
	struct tz *z;

	if (!name_ok(name)) {
		sb_addf(err, "'%s' is not a time zone name (such as Europe/Berlin or UTC)", name);
		return NULL;
	}
	path = xasprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	if (access(path, R_OK) < 0) {
		sb_addf(err, "unknown time zone '%s' (no %s; names are IANA's, such as "
			"Europe/Berlin, America/New_York or UTC)", name, path);
		free(path);
		return NULL;
	}
	z = load_file(path, name, err);
	free(path);
	return z;
}

/* The local zone's name from /etc/localtime's link, when it is one. */
static char *localtime_name(void)
{
	char buf[512];
	ssize_t n = readlink("/etc/localtime", buf, sizeof(buf) - 1);
	const char *p;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strstr(buf, "zoneinfo/");
	return p && name_ok(p + 9) ? xstrdup(p + 9) : NULL;
}

static struct tz *load_local(struct strbuf *err)
{
	const char *env = getenv("TZ");
	struct tz *z;
	char *name;

	if (env && *env == ':')
		env++;
	if (env && *env) {
		if (*env == '/')
			return load_file(env, env, err);
		if (name_ok(env) && (z = load_name(env, err)))
			return z;
		sb_reset(err);
		z = xcalloc(1, sizeof(*z));
		z->name = xstrdup(env);
		if (parse_rule(z, env) == 0)
			return z;
		tz_free(z);
		sb_addf(err, "$TZ '%s' is neither a time zone name nor a POSIX TZ rule", env);
		return NULL;
	}
	if (access("/etc/localtime", R_OK) < 0) {
		z = xcalloc(1, sizeof(*z));
		z->name = xstrdup("UTC");
		return z;
	}
	name = localtime_name();
	z = load_file("/etc/localtime", name ? name : "localtime", err);
	free(name);
	return z;
}

struct tz *tz_load(const char *name, struct strbuf *err)
{
	return name ? load_name(name, err) : load_local(err);
}
