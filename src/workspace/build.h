#ifndef SF_BUILD_H
#define SF_BUILD_H

#include <stdbool.h>

#include "core/config.h"
#include "workspace/lock.h"

/*
 * Building a workspace's image (docs/workspaces.md): `synthflow build`,
 * and `synthflow lock`, which builds before it reads the image.
 */
struct ws_build_opts {
	bool no_cache, pull;
	/* build --frozen: exactly this lock (its packages, pins and base) instead of the hooks */
	const struct ws_lock *frozen;
	/* no warning that the lock is older than the hooks: 'lock' is about to write it again */
	bool relock;
};

/*
 * Writes build-data/NAME/ and builds the image, or says it is up to date.
 * 0 on success; -1 after error(), with *machine set when the cause may be
 * the machine (no engine, or it does not answer) rather than the hooks.
 */
int ws_build(const struct config *cfg, struct ws *ws, const struct ws_build_opts *o,
	     bool *machine);

#endif
