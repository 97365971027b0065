#ifndef SF_WEB_H
#define SF_WEB_H

/*
 * The web UI and JSON API of `synthflow serve` (docs/api.md, docs/ui.md).
 * web_start() opens the listening socket, the token and the store, and
 * serves from its own threads until web_stop(); the scheduler runs beside
 * it and meets it only in the store (the web side writes runs and control
 * requests, and reads the store's change feed for live updates).
 */

#include "core/config.h"
#include "util/strbuf.h"

struct web;

struct web_opts {
	const struct config *cfg;  /* data folder, store, web.bind, web.port */
	const char *bind;          /* NULL: cfg->web_bind */
	int port;                  /* -1: cfg->web_port; 0: any free port */
	/* Appends the caller's own Prometheus lines (scheduler timing) to /metrics. */
	void (*metrics)(struct strbuf *out, void *arg);
	void *metrics_arg;
	/*
	 * Milliseconds since the scheduler's loop last went round, for
	 * /api/v1/health (arg: metrics_arg); NULL when no scheduler runs beside.
	 */
	int64_t (*tick_age_ms)(void *arg);
};

/* NULL after error() (address taken, unreadable secret, store error). */
struct web *web_start(const struct web_opts *o);
/* "http://127.0.0.1:8881/?token=..." as serve prints it. */
const char *web_url(const struct web *w);
/* 1 when bound to an address other than loopback (serve warns). */
int web_is_public(const struct web *w);
void web_stop(struct web *w);

#endif
