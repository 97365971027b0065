#ifndef SF_NOTYET_H
#define SF_NOTYET_H

/*
 * What the docs list and the code parses but does not act on yet.  Each such
 * DAG key or setting is accepted, so existing files keep working, with a
 * warning "not acted on yet" from `dags validate`, `serve` and the web UI.
 * The table is in notyet.c: the issue that makes a feature work deletes its
 * row there, and the warnings go with it.
 */

#include "core/config.h"
#include "util/spawn.h" /* struct strvec */

/* The warning (to free) for a top-level DAG key not acted on yet, else NULL. */
char *notyet_dag_key(const char *key);

struct dag;
/* Appends one warning per key of d that is not acted on yet. */
void notyet_dag(const struct dag *d, struct strvec *out);
/* Appends one warning per synthflow.yaml setting of cfg not acted on yet. */
void notyet_config(const struct config *cfg, struct strvec *out);
/* warning() for each of notyet_config's, as dags validate and serve print them. */
void notyet_config_warn(const struct config *cfg);

#endif
