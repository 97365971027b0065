#ifndef SF_CRON_H
#define SF_CRON_H

/*
 * Cron expressions for DAG schedules: five fields (minute hour day-of-month
 * month day-of-week) with '*', ranges 'a-b', lists 'a,b', steps '*' + '/n'
 * and 'a-b/n', month names jan-dec and day names sun-sat (0 and 7 are
 * Sunday), or one of @hourly @daily @midnight @weekly @monthly @yearly
 * @annually.  As in Vixie cron, when both day fields are restricted a day
 * matches if EITHER matches; when one starts with '*' only the other counts.
 * Times are wall-clock times of a time zone (util/tz.h).  Around DST changes
 * cronie's policy holds: with an hour field that starts with '*' a schedule
 * follows absolute time (every real hour, none skipped or doubled); with
 * named hours, a time inside a spring-forward gap fires at the first instant
 * after the gap (several such times fire once) and a time in a repeated
 * hour fires at its first occurrence.
 */

#include <stdint.h>
#include <time.h>

#include "util/strbuf.h"
#include "util/tz.h"

struct cron {
	uint64_t minutes;       /* bit n = minute n (0-59) */
	uint32_t hours;         /* 0-23 */
	uint32_t mdays;         /* 1-31 */
	uint16_t months;        /* 1-12 */
	uint8_t wdays;          /* 0-6, Sunday = 0 */
	int mday_star, wday_star; /* the field began with '*' */
	int hour_star;
};

/* 0, or -1 with err saying which field is wrong and why. */
int cron_parse(const char *expr, struct cron *out, struct strbuf *err);
/*
 * The first fire time strictly after `after` (seconds since the epoch) in
 * zone z, or -1 when nothing matches within the next eight years (e.g.
 * "0 0 30 2 *").
 */
int64_t cron_next(const struct cron *c, const struct tz *z, int64_t after);

#endif
