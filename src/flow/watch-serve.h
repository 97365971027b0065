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

/* Starts the thread (cfg must outlive it); NULL after an error. */
struct watcher *watcher_start(const struct config *cfg);
/* Stops and frees it (NULL is fine). */
void watcher_stop(struct watcher *w);
/* Prometheus text: files seen, runs created, lag, rescan time. */
void watcher_metrics(struct watcher *w, struct strbuf *out);

#endif
