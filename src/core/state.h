#ifndef SF_STATE_H
#define SF_STATE_H

/*
 * The states of docs/engine.md (contract).  The names are what users,
 * the store, the JSON and the API see; the enums are the scheduler's.
 */

enum ti_state {
	TI_QUEUED,          /* not started yet (waiting for upstream or a slot) */
	TI_RUNNING,
	TI_SUCCESS,
	TI_FAILED,
	TI_UP_FOR_RETRY,    /* failed, another try is due at next_try_at */
	TI_UPSTREAM_FAILED,
	TI_SKIPPED,
	TI_CANCELLED,
	TI_NSTATES
};

enum run_state {
	RUN_QUEUED,
	RUN_RUNNING,
	RUN_SUCCESS,
	RUN_FAILED,
	RUN_CANCELLED,
	RUN_NSTATES
};

const char *ti_state_name(enum ti_state s);
const char *run_state_name(enum run_state s);
/* 0 and *out set when `s` is a state name; -1 (no message) otherwise. */
int ti_state_parse(const char *s, enum ti_state *out);
int run_state_parse(const char *s, enum run_state *out);

/* Finished for good: success, failed, upstream_failed, skipped, cancelled. */
int ti_state_is_final(enum ti_state s);
int run_state_is_final(enum run_state s);

#endif
