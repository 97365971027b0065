#include "flow/schedule.h"

#include <ctype.h>
#include <stdlib.h>
#include <time.h>

#include "util/common.h"
#include "util/timeutil.h"

int schedule_open(const struct dag *d, struct schedule *s, struct strbuf *err)
{
	memset(s, 0, sizeof(*s));
	if (!d->schedule) {
		sb_addf(err, "DAG '%s' has no schedule", d->id);
		return -1;
	}
	if (cron_parse(d->schedule, &s->cron, err) < 0)
		return -1;
	if (!(s->tz = tz_load(d->timezone, err)))
		return -1;
	return 0;
}

void schedule_close(struct schedule *s)
{
	tz_free(s->tz);
	s->tz = NULL;
}

void schedule_next_text(const struct dag *d, char *buf, size_t size)
{
	struct strbuf err = STRBUF_INIT;
	struct schedule s;
	int64_t t;

	buf[0] = '\0';
	if (d->schedule && schedule_open(d, &s, &err) == 0 && (t = schedule_next(&s, schedule_now())) >= 0)
		tz_format(s.tz, t / 1000, buf, size);
	if (d->schedule)
		schedule_close(&s);
	sb_release(&err);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

int64_t schedule_next(const struct schedule *s, int64_t after)
{
	int64_t t = cron_next(&s->cron, s->tz, floor_div(after, 1000));

	return t < 0 ? -1 : t * 1000;
}

/* The newest `keep` fire times in (from, now], oldest first; returns how many were found. */
static size_t collect(const struct schedule *s, int64_t from, int64_t now, size_t keep,
		      int64_t *out, size_t *n)
{
	size_t found = 0;

	*n = 0;
	for (int64_t t = schedule_next(s, from); t >= 0 && t <= now; t = schedule_next(s, t)) {
		if (*n == keep) {
			memmove(out, out + 1, (keep - 1) * sizeof(*out));
			(*n)--;
		}
		out[(*n)++] = t;
		found++;
	}
	return found;
}

size_t schedule_missed(const struct schedule *s, int64_t last, int64_t now, size_t keep,
		       int64_t *out, int *older)
{
	size_t n = 0;

	*older = 0;
	if (!keep || now <= last)
		return 0;
	/*
	 * Look back over a window that doubles until it holds `keep` times or
	 * reaches `last`: a long downtime of a frequent schedule is not walked
	 * minute by minute.
	 */
	for (int64_t span = 3600 * 1000;; span *= 2) {
		int64_t from = now - span > last ? now - span : last;
		size_t found = collect(s, from, now, keep, out, &n);

		if (found > keep || (found == keep && from > last)) {
			int64_t first = schedule_next(s, last);
			*older = found > keep || (first >= 0 && first < out[0]);
			return n;
		}
		if (from == last)
			return n;
	}
}

static int64_t clock_base = -1, clock_mono;

int schedule_clock_init(struct strbuf *err)
{
	const char *v = getenv("SYNTHFLOW_NOW");

	if (!v || !*v)
		return 0;
	if ((clock_base = schedule_parse_iso(v)) < 0) {
		sb_addf(err, "$SYNTHFLOW_NOW '%s' is not an ISO-8601 time such as"
			" 2027-03-28T00:59:00Z", v);
		return -1;
	}
	clock_mono = time_mono_ms();
	return 0;
}

int64_t schedule_now(void)
{
	if (clock_base < 0)
		return time_now_ms();
	return clock_base + (time_mono_ms() - clock_mono);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

int64_t schedule_parse_iso(const char *s)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec = 0, ms = 0, oh = 0, om = 0, sign = 1;
	int64_t t;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
	    digits(&s, 2, &d) || (*s != 'T' && *s != ' ') || !*s++ || digits(&s, 2, &h) ||
	    *s++ != ':' || digits(&s, 2, &mi))
		return -1;
	if (*s == ':') {
		s++;
		if (digits(&s, 2, &sec))
			return -1;
		if (*s == '.') {
			int scale = 100;
			if (!isdigit((unsigned char)*++s))
				return -1;
			for (; isdigit((unsigned char)*s); s++, scale /= 10)
				ms += (*s - '0') * scale;
		}
	}
	if (*s == 'Z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh))
			return -1;
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om))
			return -1;
	} else {
		return -1;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return t < 0 ? -1 : t * 1000 + ms;
}
