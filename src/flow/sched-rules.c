/*
 * The pure decisions of the scheduler: trigger rules and retry delays.
 * Kept apart from the event loop so unit tests can check them exhaustively.
 */
#include "flow/sched.h"

#include "util/common.h"

#define RETRY_DELAY_CAP_MS (60LL * 60 * 1000)

int64_t sched_retry_delay_ms(int64_t base_ms, int next_try)
{
	int64_t d = base_ms;
	if (base_ms <= 0)
		return 0;
	for (int i = 2; i < next_try; i++) {
		if (d >= RETRY_DELAY_CAP_MS / 2)
			return RETRY_DELAY_CAP_MS;
		d *= 2;
	}
	return d < RETRY_DELAY_CAP_MS ? d : RETRY_DELAY_CAP_MS;
}

/*
 * As Airflow's TriggerRuleDep with flag_upstream_failed: a verdict is given
 * as soon as it cannot change (all_success fails fast on the first failed
 * upstream), and a task without upstream always runs.
 */
enum tr_verdict sched_trigger_eval(enum trigger_rule rule, const struct upstream_counts *c)
{
	size_t failed = c->failed + c->upstream_failed;
	int all_done = c->done >= c->total;

	if (c->total == 0)
		return TR_RUN;
	switch (rule) {
	case TR_ALL_SUCCESS:
		if (failed)
			return TR_UPSTREAM_FAILED;
		if (c->skipped)
			return TR_SKIP;
		if (c->success == c->total)
			return TR_RUN;
		/* an upstream that ended otherwise (cancelled) can never succeed now */
		return all_done ? TR_UPSTREAM_FAILED : TR_WAIT;
	case TR_ALL_FAILED:
		if (c->success || c->skipped)
			return TR_SKIP;
		return all_done ? TR_RUN : TR_WAIT;
	case TR_ALL_DONE:
		return all_done ? TR_RUN : TR_WAIT;
	case TR_ONE_SUCCESS:
		if (c->success)
			return TR_RUN;
		if (!all_done)
			return TR_WAIT;
		return c->skipped == c->total ? TR_SKIP : TR_UPSTREAM_FAILED;
	case TR_ONE_FAILED:
		if (failed)
			return TR_RUN;
		return all_done ? TR_SKIP : TR_WAIT;
	case TR_NONE_FAILED:
		if (failed)
			return TR_UPSTREAM_FAILED;
		return all_done ? TR_RUN : TR_WAIT;
	case TR_ALWAYS:
		return TR_RUN;
	case TR_NONE_FAILED_MIN_ONE_SUCCESS:
		if (failed)
			return TR_UPSTREAM_FAILED;
		if (!all_done)
			return TR_WAIT;
		return c->success ? TR_RUN : TR_SKIP;
	case TR_NONE_SKIPPED:
		if (c->skipped)
			return TR_SKIP;
		return all_done ? TR_RUN : TR_WAIT;
	case TR_ALL_SKIPPED:
		if (c->done > c->skipped)
			return TR_SKIP;
		return all_done ? TR_RUN : TR_WAIT;
	case TR_ONE_DONE:
		if (c->success || c->failed)
			return TR_RUN;
		return all_done ? TR_SKIP : TR_WAIT;
	}
	BUG("unknown trigger rule %d", (int)rule);
}
