#include "core/state.h"

#include "util/common.h"

static const char *const ti_names[TI_NSTATES] = {
	[TI_QUEUED] = "queued",
	[TI_RUNNING] = "running",
	[TI_SUCCESS] = "success",
	[TI_FAILED] = "failed",
	[TI_UP_FOR_RETRY] = "up_for_retry",
	[TI_UPSTREAM_FAILED] = "upstream_failed",
	[TI_SKIPPED] = "skipped",
	[TI_CANCELLED] = "cancelled",
};

static const char *const run_names[RUN_NSTATES] = {
	[RUN_QUEUED] = "queued",
	[RUN_RUNNING] = "running",
	[RUN_SUCCESS] = "success",
	[RUN_FAILED] = "failed",
	[RUN_CANCELLED] = "cancelled",
};

const char *ti_state_name(enum ti_state s)
{
	if ((unsigned)s >= TI_NSTATES)
		BUG("bad task state %d", (int)s);
	return ti_names[s];
}

const char *run_state_name(enum run_state s)
{
	if ((unsigned)s >= RUN_NSTATES)
		BUG("bad run state %d", (int)s);
	return run_names[s];
}

int ti_state_parse(const char *s, enum ti_state *out)
{
	for (int i = 0; i < TI_NSTATES; i++)
		if (!strcmp(s, ti_names[i])) {
			*out = (enum ti_state)i;
			return 0;
		}
	return -1;
}

int run_state_parse(const char *s, enum run_state *out)
{
	for (int i = 0; i < RUN_NSTATES; i++)
		if (!strcmp(s, run_names[i])) {
			*out = (enum run_state)i;
			return 0;
		}
	return -1;
}

int ti_state_is_final(enum ti_state s)
{
	return s == TI_SUCCESS || s == TI_FAILED || s == TI_UPSTREAM_FAILED || s == TI_SKIPPED ||
	       s == TI_CANCELLED;
}

int run_state_is_final(enum run_state s)
{
	return s == RUN_SUCCESS || s == RUN_FAILED || s == RUN_CANCELLED;
}
