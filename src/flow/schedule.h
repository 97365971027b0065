#ifndef SF_SCHEDULE_H
#define SF_SCHEDULE_H

/*
 * A DAG's schedule (docs/dags.md "Schedules"): its cron expression in its
 * time zone, the times it fires, the times missed between two instants,
 * and the clock serve goes by.  All times in milliseconds since the epoch.
 */
#include <stddef.h>
#include <stdint.h>

#include "flow/cron.h"
#include "flow/dag.h"
#include "util/strbuf.h"
#include "util/tz.h"

struct schedule {
	struct cron cron;
	struct tz *tz;
};

/* 0, or -1 with err (no schedule, a zone that cannot be read). */
int schedule_open(const struct dag *d, struct schedule *s, struct strbuf *err);
void schedule_close(struct schedule *s);
/* The first fire time strictly after `after`, or -1 when there is none. */
int64_t schedule_next(const struct schedule *s, int64_t after);
/*
 * The fire times t with last < t <= now: the newest `keep` of them, oldest
 * first, into out (room for keep); returns how many.  *older is set when
 * earlier ones were left out.
 */
size_t schedule_missed(const struct schedule *s, int64_t last, int64_t now, size_t keep,
		       int64_t *out, int *older);

/*
 * The schedule clock: the real one, or, as a test aid for DST and catch-up
 * cases only, $SYNTHFLOW_NOW (ISO-8601 with Z or an offset) plus the time
 * since the process read it.  -1 with err when $SYNTHFLOW_NOW is malformed.
 */
int schedule_clock_init(struct strbuf *err);
int64_t schedule_now(void);

/*
 * The next fire time after schedule_now() as ISO-8601 in the DAG's zone
 * ("2027-03-28T03:00:00+02:00", at least 32 bytes) into buf; "" when the
 * DAG has no schedule (or it cannot be read).
 */
void schedule_next_text(const struct dag *d, char *buf, size_t size);

/* "2027-03-28T03:00:00+02:00", "...Z", seconds and fractions optional: ms, or -1. */
int64_t schedule_parse_iso(const char *s);

/*
 * The schedules of `synthflow serve` (schedule-serve.c): a thread with its
 * own store connection that fires each unpaused DAG's due times as runs.
 */
struct config;
struct schedules;
/* Starts the thread (cfg must outlive it); NULL after an error. */
struct schedules *schedules_start(const struct config *cfg);
/* Stops and frees it (NULL is fine). */
void schedules_stop(struct schedules *sc);

#endif
