#ifndef SF_FS_H
#define SF_FS_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p; 0 on success (existing directories are fine), -1 with errno. */
int mkdir_p(const char *path, mode_t mode);
int is_dir(const char *path);
int is_file(const char *path);
/* Joins a and b with exactly one '/'; the result is malloc'd. */
char *path_join(const char *a, const char *b);
/* The last component (no allocation; points into path). */
const char *path_basename(const char *path);
/* realpath() that dies on nothing: NULL with errno on failure. */
char *path_real(const char *path);
/*
 * The running program's own file (/proc/self/exe), read once; "" when it
 * cannot be read.  Tries get it as $SF_SYNTHFLOW, so a task can call
 * 'synthflow audio' without PATH.
 */
const char *fs_self_exe(void);
/* 1 when `path` (already resolved) is `root` or lies below it. */
int path_is_within(const char *root, const char *path);
/*
 * Durable replace of a file's contents: write a temp file beside it, fsync,
 * rename over, fsync the directory.  After a crash the file holds either the
 * old or the new contents, never a mix.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/*
 * A new empty file beside `path` (same folder, so renaming it onto path is
 * atomic), named ".NAME.PID.N", created with `mode` (less the umask) and
 * never one that exists.  Returns its descriptor and *tmp its name
 * (malloc'd); -1 with errno.
 */
int fs_tmp_beside(const char *path, mode_t mode, char **tmp);
/* Creates the file only when it does not exist yet (never overwrites). 1 created, 0 existed, -1 error. */
int write_file_if_missing(const char *path, const void *data, size_t len, mode_t mode);
int copy_file(const char *src, const char *dst, mode_t mode);
/* The entries of dir but . and .., sorted by strcmp (malloc'd, each too); -1 when unreadable. */
int fs_sorted_names(const char *dir, char ***names, size_t *n);
/* Hex SHA-256 (65 bytes incl. NUL) of a buffer / a file. */
void sha256_hex(const void *data, size_t len, char out[65]);
int sha256_file_hex(const char *path, char out[65]);
/* A digest fed piece by piece (a file streamed out of an archive). */
struct sha256 {
	void *ctx;
};
void sha256_begin(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t len);
void sha256_end(struct sha256 *h, char out[65]);

#endif
