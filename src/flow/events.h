#ifndef SF_EVENTS_H
#define SF_EVENTS_H

/*
 * Event scripts (docs/events.md): an executable run-data/src/<ws>/events/<event>
 * runs for each event, with the event as one JSON object on its standard
 * input.  This file decides which scripts an event goes to and makes their
 * outbox rows (store_delivery, kind "event"); whoever makes the state change
 * writes them in its transaction, and the scheduler's deliverer runs them
 * (sched-outbox.c).
 */

#include <jansson.h>

#include "flow/dag.h"
#include "store/store.h"

/* Every event name, in the order docs/events.md lists them. */
extern const char *const events_names[];
extern const size_t events_count;

/* 1 when `name` is an event. */
int events_known(const char *name);

/*
 * The rows for one event: for workspace `ws`, or for every workspace that
 * has the script when ws is NULL (file and variable events).  `payload`
 * (borrowed) gets "event" and "at"; its "run_id", "dag_id" and "task_id"
 * also go to the rows' columns.  A script that exists but cannot be run
 * (not executable, not a file) makes a row that is already failed, saying
 * why.  Rows are appended to *v (grown with *alloc).
 */
void events_rows(const char *data_dir, const char *ws, const char *event, json_t *payload,
		 const char *owner, struct store_delivery **v, size_t *n, size_t *alloc);

/* events_rows, then each row written (in the caller's transaction, if one is open). */
int events_add(struct store *st, const char *data_dir, const char *ws, const char *event,
	       json_t *payload, const char *owner);

/*
 * Pauses (paused=1) or unpauses DAG d, with its dag-paused or dag-unpaused
 * event for its workspace's script in the same transaction; `source` is
 * cli, api or ui.  1 changed, 0 when it already was so (no event), -1 after
 * error().
 */
int events_set_paused(struct store *st, const char *data_dir, const struct dag *d, int paused,
		      const char *source);

#endif
