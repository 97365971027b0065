#ifndef SF_STRBUF_H
#define SF_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A growable string.  Invariants (as git's strbuf.h):
 *  - buf is always NUL-terminated, even when len == 0 (it then points to a
 *    static "" until the first growth, so an initialised strbuf is never NULL);
 *  - len < alloc whenever alloc > 0;
 *  - max, when non-zero, caps len: appends beyond it fail with -1 and leave
 *    the buffer unchanged (use it for untrusted input such as request bodies).
 */
struct strbuf {
	size_t len;
	size_t alloc;
	size_t max;
	char *buf;
};

extern char strbuf_empty[];
#define STRBUF_INIT { 0, 0, 0, strbuf_empty }

void sb_init(struct strbuf *sb, size_t hint);
void sb_release(struct strbuf *sb);
char *sb_detach(struct strbuf *sb, size_t *len);
void sb_reset(struct strbuf *sb);
int sb_grow(struct strbuf *sb, size_t extra);
int sb_add(struct strbuf *sb, const void *data, size_t len);
int sb_adds(struct strbuf *sb, const char *s);
int sb_addch(struct strbuf *sb, int c);
int sb_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void sb_setlen(struct strbuf *sb, size_t len);
void sb_rtrim(struct strbuf *sb);
/* Appends s quoted for a POSIX shell: 'it'\''s' (always quoted, so inert). */
void sb_add_shell_quoted(struct strbuf *sb, const char *s);
/* Reads a whole file descriptor; -1 on error or when max is exceeded. */
int sb_read_fd(struct strbuf *sb, int fd);
int sb_read_file(struct strbuf *sb, const char *path);

#endif
