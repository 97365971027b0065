#ifndef SF_PACK_H
#define SF_PACK_H

/*
 * Packing a run into a bundle (bundle.h, docs/replication.md) and the
 * Workflow Run RO-Crate that describes it.
 */

#include <jansson.h>

#include "core/config.h"
#include "store/store.h"

struct pack_opts {
	const char *run_id;
	const char *out;        /* the bundle to write; NULL = RUN_ID.sfpack */
	int with_inputs;        /* add the downloaded/ files the run read */
	int with_image;         /* add the workspace image the run ran in */
	const struct config *cfg; /* the engine to save that image with */
};

/*
 * Writes the bundle (to a temporary file renamed at the end: an error or a
 * full disk leaves nothing behind).  Refuses, naming the file and the run,
 * when an output changed after the run wrote it, when the workspace has no
 * git history, or when the run did not succeed.  0, or -1 after error().
 */
int pack_run(struct store *st, const char *data_dir, const struct pack_opts *o);

/*
 * The ro-crate-metadata.json of a bundle: its sfpack.json `meta` and the
 * run's JSON with provenance (run_add_provenance).  A new object.
 */
json_t *crate_build(json_t *meta, json_t *run);

#endif
