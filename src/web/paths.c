/* Resolving client-supplied paths without letting them escape. */
#include "web/paths.h"

#include <errno.h>
#include <strings.h>

#include "util/common.h"
#include "util/fs.h"

static int has_dotdot(const char *rel)
{
	const char *p = rel;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += len;
		while (*p == '/')
			p++;
	}
	return 0;
}

int paths_check_within(const char *root, const char *path, char **out, struct strbuf *err)
{
	char *root_real = path_real(root);
	char *real = NULL;
	int status = 0;

	*out = NULL;
	if (!root_real) {
		sb_addf(err, "folder '%s' does not exist", root);
		return 404;
	}
	real = path_real(path);
	if (!real) {
		sb_addf(err, "no such file '%s'", path_basename(path));
		status = errno == ENOENT || errno == ENOTDIR ? 404 : 403;
	} else if (!path_is_within(root_real, real)) {
		sb_adds(err, "path leads outside the data folder");
		status = 403;
	}
	free(root_real);
	if (status)
		free(real);
	else
		*out = real;
	return status;
}

int paths_resolve(const char *base, const char *rel, char **out, struct strbuf *err)
{
	char *full;
	int status;

	*out = NULL;
	if (!*rel) {
		sb_adds(err, "empty path");
		return 400;
	}
	if (rel[0] == '/' || rel[0] == '\\') {
		sb_adds(err, "absolute paths are not served");
		return 403;
	}
	if (has_dotdot(rel)) {
		sb_adds(err, "'..' is not allowed in paths");
		return 403;
	}
	full = path_join(base, rel);
	status = paths_check_within(base, full, out, err);
	free(full);
	return status;
}

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{ "txt", "text/plain; charset=utf-8" }, { "log", "text/plain; charset=utf-8" },
	{ "csv", "text/plain; charset=utf-8" }, { "tsv", "text/plain; charset=utf-8" },
	{ "yaml", "text/plain; charset=utf-8" }, { "yml", "text/plain; charset=utf-8" },
	{ "py", "text/plain; charset=utf-8" }, { "sh", "text/plain; charset=utf-8" },
	{ "md", "text/plain; charset=utf-8" }, { "json", "application/json" },
	{ "wav", "audio/wav" }, { "flac", "audio/flac" }, { "ogg", "audio/ogg" },
	{ "opus", "audio/ogg" }, { "mp3", "audio/mpeg" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "webp", "image/webp" },
};

const char *paths_content_type(const char *name)
{
	const char *base = path_basename(name);
	const char *dot = strrchr(base, '.');

	if (dot)
		for (size_t i = 0; i < ARRAY_SIZE(types); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	/* Never text/html or SVG: a result file must not run as a page of ours. */
	return "application/octet-stream";
}
