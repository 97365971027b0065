#ifndef SF_BUNDLE_H
#define SF_BUNDLE_H

/*
 * Run bundles (.sfpack, docs/replication.md): a tar archive compressed with
 * zstd, written and read through libarchive.  The first entry is
 * sfpack.json (format version, the run, what was packed and from where),
 * the last is manifest.sha256 (sha256sum format: every other entry).
 *
 * Reading never trusts the archive: every entry name is checked before
 * anything is done with it (relative, no "..", no empty component), only
 * regular files and folders are accepted (a symlink only below
 * outputs/uploadable/ and only when it stays there), and extraction goes
 * through libarchive's secure disk writer below one target folder.
 */

#include <jansson.h>
#include <stddef.h>

#include "util/spawn.h"
#include "util/strbuf.h"

#define SFPACK_FORMAT 1
#define SFPACK_MANIFEST "manifest.sha256"
#define SFPACK_META "sfpack.json"
/* pack --with-image: the workspace image, as the engine's save writes it */
#define SFPACK_IMAGE "image/image.tar"

/* What reading a whole bundle found. */
struct bundle {
	json_t *meta;           /* sfpack.json, or NULL */
	json_t *run;            /* run.json, or NULL */
	struct strvec problems; /* one line each, naming the file */
};

/*
 * Reads every entry of `file`, checking names, types, hashes against the
 * manifest and sfpack.json's outputs, and uploadable/ text outputs for
 * absolute paths of the packing machine.  0 when the file could be read
 * at all (b->problems may still be non-empty), -1 after error().
 */
int bundle_verify(const char *file, struct bundle *b);
void bundle_release(struct bundle *b);

/* ---- pure checks (unit-tested) ---- */

/* 0 when an entry name is safe to use below a folder; -1 with the reason in `why`. */
int bundle_name_ok(const char *name, struct strbuf *why);
/* 1 when a symlink entry `name` pointing at `target` stays inside outputs/uploadable/. */
int bundle_symlink_stays(const char *name, const char *target);
/*
 * Problems of one text file's contents: each occurrence of one of `roots`
 * (absolute folders of the packing machine, "/data" too) used as an
 * absolute path, as "NAME:LINE: holds the absolute path 'PATH'".
 */
void bundle_scan_text(const char *name, const char *buf, size_t len, const char *const *roots,
		      size_t nroots, struct strvec *problems);

/*
 * Calls fn for each entry of the bundle whose name begins with `prefix`,
 * the data readable through bundle_entry_read() until fn returns.  Stops
 * at fn's first non-zero return (returned).  -1 after error().
 */
struct bundle_reader;
typedef int (*bundle_entry_fn)(struct bundle_reader *r, const char *name, void *arg);
int bundle_each(const char *file, const char *prefix, bundle_entry_fn fn, void *arg);
/* The rest of the current entry into `out` (up to `max` bytes, else -1). */
int bundle_entry_read(struct bundle_reader *r, struct strbuf *out, size_t max);
/* The current entry written to `path` (created, never through a symlink). */
int bundle_entry_save(struct bundle_reader *r, const char *path);

/*
 * libarchive's message for what `a` failed to write, with the system's
 * reason when it keeps one in its errno ("Write error" alone does not say
 * that the disk is full); in sb, which it returns.
 */
struct archive;
const char *bundle_archive_why(struct archive *a, struct strbuf *sb);

/*
 * Extracts a tar archive held in memory (the workspace source) below
 * `dest`, refusing absolute names, "..", and writing through symlinks.
 */
int bundle_untar(const char *what, const void *data, size_t len, const char *dest);

#endif
