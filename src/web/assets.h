#ifndef SF_ASSETS_H
#define SF_ASSETS_H

/*
 * The UI's files (web/ in the source tree), compiled into the binary by
 * embed-assets.py so the server needs no files and no network at run time.
 */

#include <stddef.h>

struct web_asset {
	const char *path;       /* "/index.html", "/app.js" */
	const char *type;       /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag;       /* quoted, from the content's hash */
};

extern const struct web_asset web_assets[];
extern const size_t web_nassets;

#endif
