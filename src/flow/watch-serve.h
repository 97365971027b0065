#ifndef SF_WATCH_SERVE_H
#define SF_WATCH_SERVE_H

/*
 * The downloaded/ watcher of `synthflow serve` (watch.h for the design):
 * a thread that turns arrivals into runs through the store.
 */

#include "core/config.h"
#include "flow/watch.h"
#include "util/strbuf.h"

struct watcher;

/*
 * Starts the thread (cfg must outlive it); NULL after an error.
 * runs_committed(arg), when not NULL, is called from the watcher's thread
 * after each commit that created runs (serve wakes its scheduler with it).
 */
struct watcher *watcher_start(const struct config *cfg, void (*runs_committed)(void *arg),
			      void *arg);
/* Stops and frees it (NULL is fine). */
void watcher_stop(struct watcher *w);
/* Prometheus text: files seen, runs created, lag, rescan time. */
void watcher_metrics(struct watcher *w, struct strbuf *out);

#endif
