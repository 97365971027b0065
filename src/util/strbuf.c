#include "util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/xalloc.h"

char strbuf_empty[1];

void sb_init(struct strbuf *sb, size_t hint)
{
	sb->len = 0;
	sb->alloc = 0;
	sb->max = 0;
	sb->buf = strbuf_empty;
	if (hint)
		sb_grow(sb, hint);
}

void sb_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sb->len = sb->alloc = 0;
	sb->buf = strbuf_empty;
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
	char *out;
	if (!sb->alloc)
		sb_grow(sb, 1);
	out = sb->buf;
	if (len)
		*len = sb->len;
	sb->len = sb->alloc = 0;
	sb->buf = strbuf_empty;
	return out;
}

void sb_reset(struct strbuf *sb)
{
	sb_setlen(sb, 0);
}

int sb_grow(struct strbuf *sb, size_t extra)
{
	size_t want = sb->len + extra + 1;
	if (want < sb->len)
		die("string too large");
	if (sb->max && sb->len + extra > sb->max)
		return -1;
	if (want <= sb->alloc)
		return 0;
	{
		size_t n = sb->alloc ? sb->alloc : 64;
		while (n < want)
			n *= 2;
		if (!sb->alloc) {
			sb->buf = xmalloc(n);
			sb->buf[0] = '\0';
		} else {
			sb->buf = xrealloc(sb->buf, n);
		}
		sb->alloc = n;
	}
	return 0;
}

void sb_setlen(struct strbuf *sb, size_t len)
{
	if (len > (sb->alloc ? sb->alloc - 1 : 0))
		BUG("sb_setlen beyond allocation");
	sb->len = len;
	if (sb->alloc)
		sb->buf[len] = '\0';
}

int sb_add(struct strbuf *sb, const void *data, size_t len)
{
	if (sb_grow(sb, len) < 0)
		return -1;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
	return 0;
}

int sb_adds(struct strbuf *sb, const char *s)
{
	return sb_add(sb, s, strlen(s));
}

int sb_addch(struct strbuf *sb, int c)
{
	char ch = (char)c;
	return sb_add(sb, &ch, 1);
}

int sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if (sb_grow(sb, (size_t)n) < 0)
		return -1;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

int sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = sb_vaddf(sb, fmt, ap);
	va_end(ap);
	return r;
}

void sb_rtrim(struct strbuf *sb)
{
	while (sb->len && (sb->buf[sb->len - 1] == '\n' || sb->buf[sb->len - 1] == ' ' ||
			   sb->buf[sb->len - 1] == '\t' || sb->buf[sb->len - 1] == '\r'))
		sb->len--;
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
}

void sb_add_shell_quoted(struct strbuf *sb, const char *s)
{
	sb_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sb_adds(sb, "'\\''");
		else
			sb_addch(sb, *s);
	}
	sb_addch(sb, '\'');
}

int sb_read_fd(struct strbuf *sb, int fd)
{
	for (;;) {
		ssize_t n;
		if (sb_grow(sb, 8192) < 0)
			return -1;
		n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		sb->buf[sb->len] = '\0';
	}
	return 0;
}

int sb_read_file(struct strbuf *sb, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;
	if (fd < 0)
		return -1;
	r = sb_read_fd(sb, fd);
	close(fd);
	return r;
}
