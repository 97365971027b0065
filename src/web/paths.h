#ifndef SF_PATHS_H
#define SF_PATHS_H

/*
 * Path safety for everything the server reads from disk on a client's
 * behalf (logs, results).  A path from a URL is only ever resolved below a
 * base folder, and the answer is the *real* path (symlinks resolved), which
 * must still lie below that base: encoded "..", absolute paths and symlinks
 * pointing out are all refused.
 */

#include "util/strbuf.h"

/*
 * Resolves `rel` (relative, from a URL) below `base`.  Returns 0 with
 * *out = the malloc'd real path of an existing file or folder, else an
 * HTTP status (400 malformed, 403 outside base, 404 missing) with the
 * reason in err.
 */
int paths_resolve(const char *base, const char *rel, char **out, struct strbuf *err);

/*
 * For a path the server itself recorded (a log file): 0 with *out = its
 * real path when that lies within `root`, else 403 or 404 as above.
 */
int paths_check_within(const char *root, const char *path, char **out, struct strbuf *err);

/* The Content-Type for a file name, from its extension. */
const char *paths_content_type(const char *name);

#endif
