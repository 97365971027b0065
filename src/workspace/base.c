/*
 * 'synthflow base': a Debian base image built with debootstrap and imported
 * into the engine, for machines that reach a Debian mirror but no image
 * registry.  The mirror defaults to the one the host's apt already uses.
 */
#include "workspace/ws.h"

#include <ctype.h>
#include <dirent.h>

#include "util/common.h"
#include "util/fs.h"

static int is_debian_archive(const char *uri, size_t len)
{
	while (len && uri[len - 1] == '/')
		len--;
	return (!strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8)) && len > 7 &&
	       !strncmp(uri + len - 7, "/debian", 7);
}

/* The URI words of one line: "deb [opts] URI suite..." or "URIs: URI...". */
static int mirror_in_line(const char *line, size_t len, struct strbuf *out)
{
	const char *p = line, *end = line + len;
	if (len > 4 && !strncmp(p, "deb ", 4)) {
		p += 4;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p < end && *p == '[') {
			const char *close = memchr(p, ']', (size_t)(end - p));
			if (!close)
				return 0;
			p = close + 1;
		}
	} else if (len > 5 && !strncasecmp(p, "URIs:", 5)) {
		p += 5;
	} else {
		return 0;
	}
	while (p < end) {
		const char *w;
		while (p < end && isspace((unsigned char)*p))
			p++;
		w = p;
		while (p < end && !isspace((unsigned char)*p))
			p++;
		if (p > w && is_debian_archive(w, (size_t)(p - w))) {
			sb_add(out, w, (size_t)(p - w));
			return 1;
		}
		if (!strncmp(line, "deb ", 4))
			return 0; /* only the first word is the URI there */
	}
	return 0;
}

int ws_debian_mirror(const char *text, struct strbuf *out)
{
	const char *p = text;
	while (*p) {
		const char *eol = strchrnul(p, '\n');
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (*p != '#' && mirror_in_line(p, (size_t)(eol - p), out))
			return 1;
		p = *eol ? eol + 1 : eol;
	}
	return 0;
}

static int mirror_in_file(const char *path, struct strbuf *out)
{
	struct strbuf sb = STRBUF_INIT;
	int found = sb_read_file(&sb, path) == 0 && ws_debian_mirror(sb.buf, out);
	sb_release(&sb);
	return found;
}

char *ws_host_mirror(void)
{
	struct strbuf out = STRBUF_INIT;
	struct dirent **ents;
	int n, found = mirror_in_file("/etc/apt/sources.list", &out);

	n = found ? -1 : scandir("/etc/apt/sources.list.d", &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;
		size_t l = strlen(e);
		if (!found && ((l > 5 && !strcmp(e + l - 5, ".list")) ||
			       (l > 8 && !strcmp(e + l - 8, ".sources")))) {
			char *p = path_join("/etc/apt/sources.list.d", e);
			found = mirror_in_file(p, &out);
			free(p);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	if (!found)
		sb_adds(&out, "http://deb.debian.org/debian");
	return sb_detach(&out, NULL);
}
