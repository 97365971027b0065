/*
 * Reading and checking run bundles (bundle.h).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "pack/bundle.h"
#include "util/common.h"
#include "util/fs.h"

/* Text outputs larger than this are not scanned for absolute paths (not filelists). */
#define SCAN_MAX (16u << 20)
#define JSON_MAX (64u << 20)

struct bundle_reader {
	struct archive *a;
	struct archive_entry *e;
	const char *file;
	const char *name;
};

static void problem(struct bundle *b, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct bundle *b, const char *file, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	sb_addf(&sb, "%s: ", file);
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	strvec_push(&b->problems, sb.buf);
	sb_release(&sb);
}

int bundle_name_ok(const char *name, struct strbuf *why)
{
	const char *p = name;

	if (!*name) {
		sb_adds(why, "an empty entry name");
		return -1;
	}
	if (*name == '/') {
		sb_adds(why, "an absolute path");
		return -1;
	}
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && !strncmp(p, "..", 2)) {
			sb_adds(why, "a path leaving the bundle ('..')");
			return -1;
		}
		if (len == 0 || (len == 1 && *p == '.')) {
			/* "a//b" and "a/./b": harmless on disk, but two names for one file */
			if (!(len == 0 && !p[0])) {
				sb_adds(why, "an empty or '.' path component");
				return -1;
			}
		}
		p += len;
		if (*p == '/') {
			p++;
			if (!*p)
				break; /* a folder's trailing slash */
		}
	}
	return 0;
}

int bundle_symlink_stays(const char *name, const char *target)
{
	static const char root[] = "outputs/uploadable/";
	size_t depth = 0;
	const char *p;

	if (strncmp(name, root, sizeof(root) - 1) || target[0] == '/' || !*target)
		return 0;
	/* Folders between uploadable/ and the link: how far '..' may climb. */
	for (p = name + sizeof(root) - 1; *p; p++)
		if (*p == '/')
			depth++;
	for (p = target; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && !strncmp(p, "..", 2)) {
			if (!depth)
				return 0;
			depth--;
		} else if (len && !(len == 1 && *p == '.')) {
			depth++;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 1;
}

/* Characters that may precede an absolute path in a filelist, CSV, JSON or YAML. */
static int path_boundary(const char *buf, size_t at)
{
	char c;
	if (!at)
		return 1;
	c = buf[at - 1];
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '|' ||
	       c == '=' || c == ':' || c == ',' || c == ';' || c == '(' || c == '[' || c == '<';
}

void bundle_scan_text(const char *name, const char *buf, size_t len, const char *const *roots,
		      size_t nroots, struct strvec *problems)
{
	size_t line = 1, line_start = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			line++;
			line_start = i + 1;
			continue;
		}
		if (buf[i] != '/' || !path_boundary(buf, i))
			continue;
		for (size_t r = 0; r < nroots; r++) {
			size_t rl = strlen(roots[r]);
			size_t end;
			if (!rl || len - i < rl || memcmp(buf + i, roots[r], rl))
				continue;
			/* the folder itself or something below it, not "/datasets" for "/data" */
			if (i + rl < len && buf[i + rl] != '/' && buf[i + rl] != '\n' &&
			    !path_boundary(buf, i + rl + 1))
				continue;
			end = i;
			while (end < len && buf[end] != '\n' && buf[end] != '|' && buf[end] != '"' &&
			       buf[end] != '\t' && buf[end] != ',')
				end++;
			struct strbuf sb = STRBUF_INIT;
			sb_addf(&sb, "%s:%zu: holds the absolute path '%.*s' of the packing machine", name,
				line, (int)(end - i), buf + i);
			strvec_push(problems, sb.buf);
			sb_release(&sb);
			i = end - 1;
			break;
		}
		(void)line_start;
	}
}

static struct archive *open_bundle(const char *file)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, file, 65536) != ARCHIVE_OK) {
		if (access(file, R_OK) == 0)
			error("'%s' is not a SynthFlow bundle (a tar archive compressed with zstd): %s",
			      file, archive_error_string(a));
		else
			error_errno("cannot read bundle '%s'", file);
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Reads the current entry: hash, and its bytes when `keep` (up to max). */
static int read_entry(struct archive *a, char hex[65], struct strbuf *keep, size_t max,
		      int *too_big)
{
	struct sha256 h;
	const void *block;
	size_t size;
	la_int64_t off;
	int rc;

	sha256_begin(&h);
	*too_big = 0;
	while ((rc = archive_read_data_block(a, &block, &size, &off)) == ARCHIVE_OK) {
		sha256_update(&h, block, size);
		if (keep && !*too_big) {
			if (keep->len + size > max)
				*too_big = 1;
			else
				sb_add(keep, block, size);
		}
	}
	sha256_end(&h, hex);
	return rc == ARCHIVE_EOF ? 0 : -1;
}

static void parse_manifest(struct bundle *b, const char *file, const struct strbuf *text,
			   json_t *listed)
{
	char *copy = xstrndup(text->buf, text->len), *save = NULL;
	size_t line = 0;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		if (strlen(l) < 67 || l[64] != ' ' || l[65] != ' ' ||
		    strspn(l, "0123456789abcdef") != 64) {
			problem(b, file, SFPACK_MANIFEST ":%zu: not 'SHA256  NAME'", line);
			continue;
		}
		l[64] = '\0';
		json_object_set_new(listed, l + 66, json_string(l));
	}
	free(copy);
}

static void check_meta(struct bundle *b, const char *file, json_t *meta)
{
	json_t *fmt = json_object_get(meta, "format");

	if (!json_is_integer(fmt)) {
		problem(b, file, SFPACK_META ": no format version");
		return;
	}
	if (json_integer_value(fmt) > SFPACK_FORMAT)
		problem(b, file,
			"made by a newer synthflow (%s, bundle format %lld; this one reads format %d)",
			json_string_value(json_object_get(meta, "synthflow")) ?: "?",
			(long long)json_integer_value(fmt), SFPACK_FORMAT);
}

/* The packing machine's folders that must not appear in shared text. */
static size_t roots_of(json_t *meta, const char **roots)
{
	json_t *from = json_object_get(meta, "packed_from");
	static const char *const keys[] = { "data_dir", "data_dir_real", "home" };
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = json_string_value(json_object_get(from, keys[i]));
		if (v && strlen(v) > 1)
			roots[n++] = v;
	}
	roots[n++] = "/data";
	return n;
}

static int is_text(const struct strbuf *sb)
{
	return !memchr(sb->buf, '\0', sb->len);
}

int bundle_verify(const char *file, struct bundle *b)
{
	struct archive *a = open_bundle(file);
	struct archive_entry *e;
	json_t *seen = json_object(), *listed = json_object();
	struct strbuf manifest = STRBUF_INIT;
	const char *roots[4];
	size_t nroots = 0, nentries = 0;
	int rc, have_manifest = 0;

	memset(b, 0, sizeof(*b));
	if (!a) {
		json_decref(seen);
		json_decref(listed);
		return -1;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		struct strbuf why = STRBUF_INIT, keep = STRBUF_INIT;
		unsigned type = archive_entry_filetype(e);
		char hex[65];
		int too_big = 0, want_text;

		nentries++;
		if (!name || bundle_name_ok(name, &why) < 0) {
			problem(b, file, "'%s': %s", name ? name : "", why.buf);
			sb_release(&why);
			continue;
		}
		sb_release(&why);
		if (nentries == 1 && strcmp(name, SFPACK_META)) {
			problem(b, file, "not a SynthFlow bundle (its first entry is '%s', not " SFPACK_META ")",
				name);
			break;
		}
		if (archive_entry_hardlink(e)) {
			problem(b, file, "%s: a hard link (bundles hold plain files)", name);
			continue;
		}
		if (type == AE_IFDIR)
			continue;
		if (type == AE_IFLNK) {
			const char *target = archive_entry_symlink(e);
			if (!bundle_symlink_stays(name, target ? target : ""))
				problem(b, file, "%s: a symlink to '%s', outside uploadable/", name,
					target ? target : "");
			continue;
		}
		if (type != AE_IFREG) {
			problem(b, file, "%s: not a regular file", name);
			continue;
		}
		if (json_object_get(seen, name)) {
			problem(b, file, "%s: stored twice", name);
			continue;
		}
		want_text = !strncmp(name, "outputs/uploadable/", 19) ||
			    !strcmp(name, SFPACK_META) || !strcmp(name, "run.json") ||
			    !strcmp(name, SFPACK_MANIFEST);
		if (read_entry(a, hex, want_text ? &keep : NULL,
			       strncmp(name, "outputs/", 8) ? JSON_MAX : SCAN_MAX, &too_big) < 0) {
			problem(b, file, "%s: damaged or truncated (%s)", name, archive_error_string(a));
			sb_release(&keep);
			rc = ARCHIVE_FATAL;
			break;
		}
		if (!strcmp(name, SFPACK_MANIFEST)) {
			have_manifest = 1;
			sb_add(&manifest, keep.buf, keep.len);
		} else {
			json_object_set_new(seen, name, json_string(hex));
		}
		if (!strcmp(name, SFPACK_META) || !strcmp(name, "run.json")) {
			json_t *j = too_big ? NULL : json_loadb(keep.buf, keep.len, 0, NULL);
			if (!j)
				problem(b, file, "%s: not valid JSON", name);
			else if (!strcmp(name, SFPACK_META))
				b->meta = j;
			else
				b->run = j;
			if (b->meta && !strcmp(name, SFPACK_META)) {
				check_meta(b, file, b->meta);
				if (b->problems.nr) {
					/* a newer format: nothing else is understood */
					sb_release(&keep);
					break;
				}
				nroots = roots_of(b->meta, roots);
			}
		} else if (want_text && !too_big && !strncmp(name, "outputs/", 8) && is_text(&keep)) {
			struct strvec found = STRVEC_INIT;
			bundle_scan_text(name, keep.buf, keep.len, roots, nroots, &found);
			for (size_t i = 0; i < found.nr; i++)
				problem(b, file, "%s", found.v[i]);
			strvec_clear(&found);
		}
		sb_release(&keep);
	}
	if (rc != ARCHIVE_EOF && rc != ARCHIVE_OK && !b->problems.nr)
		problem(b, file, "damaged or truncated after %zu entries (%s)", nentries,
			archive_error_string(a));
	else if (rc == ARCHIVE_FATAL && nentries == 0)
		problem(b, file, "not a SynthFlow bundle (%s)", archive_error_string(a));
	archive_read_free(a);
	if (!b->problems.nr) {
		const char *name;
		json_t *v;
		size_t i;
		if (!b->meta)
			problem(b, file, "not a SynthFlow bundle (no " SFPACK_META ")");
		if (!have_manifest)
			problem(b, file, "no " SFPACK_MANIFEST " (the bundle is incomplete)");
		else
			parse_manifest(b, file, &manifest, listed);
		json_object_foreach(listed, name, v) {
			json_t *got = json_object_get(seen, name);
			if (!got)
				problem(b, file, "%s: listed in " SFPACK_MANIFEST " but missing", name);
			else if (!json_equal(got, v))
				problem(b, file, "%s: its sha256 differs from " SFPACK_MANIFEST
					" (changed after packing)", name);
		}
		json_object_foreach(seen, name, v)
			if (have_manifest && !json_object_get(listed, name))
				problem(b, file, "%s: not listed in " SFPACK_MANIFEST, name);
		json_array_foreach(json_object_get(b->meta, "outputs"), i, v) {
			const char *path = json_string_value(json_object_get(v, "path"));
			const char *sha = json_string_value(json_object_get(v, "sha256"));
			char *entry = xasprintf("outputs/%s", path ? path : "");
			json_t *got = json_object_get(seen, entry);
			if (!path || !sha)
				problem(b, file, SFPACK_META ": output %zu has no path or sha256", i);
			else if (!got)
				problem(b, file, "%s: an output of the run, missing from the bundle", entry);
			else if (strcmp(json_string_value(got), sha))
				problem(b, file, "%s: differs from the output the run wrote", entry);
			free(entry);
		}
		if (json_object_get(b->meta, "image") && !json_object_get(seen, SFPACK_IMAGE))
			problem(b, file, SFPACK_IMAGE ": named in " SFPACK_META " but missing");
	}
	sb_release(&manifest);
	json_decref(seen);
	json_decref(listed);
	return 0;
}

void bundle_release(struct bundle *b)
{
	json_decref(b->meta);
	json_decref(b->run);
	strvec_clear(&b->problems);
	memset(b, 0, sizeof(*b));
}

int bundle_each(const char *file, const char *prefix, bundle_entry_fn fn, void *arg)
{
	struct archive *a = open_bundle(file);
	struct bundle_reader r = { .a = a, .file = file };
	size_t plen = strlen(prefix);
	int rc, ret = 0;

	if (!a)
		return -1;
	while ((rc = archive_read_next_header(a, &r.e)) == ARCHIVE_OK) {
		struct strbuf why = STRBUF_INIT;
		r.name = archive_entry_pathname(r.e);
		if (!r.name || bundle_name_ok(r.name, &why) < 0) {
			ret = error("bundle '%s': entry '%s': %s", file, r.name ? r.name : "", why.buf);
			sb_release(&why);
			break;
		}
		if (archive_entry_filetype(r.e) != AE_IFREG || strncmp(r.name, prefix, plen))
			continue;
		ret = fn(&r, r.name, arg);
		if (ret)
			break;
	}
	if (!ret && rc != ARCHIVE_EOF)
		ret = error("bundle '%s': %s", file, archive_error_string(a));
	archive_read_free(a);
	return ret;
}

int bundle_entry_read(struct bundle_reader *r, struct strbuf *out, size_t max)
{
	char hex[65];
	int too_big;

	if (read_entry(r->a, hex, out, max, &too_big) < 0)
		return error("bundle '%s': %s: %s", r->file, r->name, archive_error_string(r->a));
	if (too_big)
		return error("bundle '%s': %s is larger than %zu bytes", r->file, r->name, max);
	return 0;
}

int bundle_entry_save(struct bundle_reader *r, const char *path)
{
	const void *block;
	size_t size;
	la_int64_t off;
	int rc, fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return error_errno("cannot create '%s'", path);
	while ((rc = archive_read_data_block(r->a, &block, &size, &off)) == ARCHIVE_OK) {
		const char *p = block;
		while (size) {
			ssize_t w = write(fd, p, size);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				error_errno("writing '%s'", path);
				close(fd);
				unlink(path);
				return -1;
			}
			p += w;
			size -= (size_t)w;
		}
	}
	if (rc != ARCHIVE_EOF || fsync(fd) < 0 || close(fd) < 0) {
		error("writing '%s' from bundle '%s': %s", path, r->file,
		      rc != ARCHIVE_EOF ? archive_error_string(r->a) : strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

const char *bundle_archive_why(struct archive *a, struct strbuf *sb)
{
	const char *msg = archive_error_string(a);
	int e = archive_errno(a);

	sb_reset(sb);
	sb_adds(sb, msg ? msg : "failed");
	/* libarchive's own errors use EILSEQ (format) and EINVAL (misuse): not a reason to add */
	if (e > 0 && e != EILSEQ && e != EINVAL && !strstr(sb->buf, strerror(e)))
		sb_addf(sb, ": %s", strerror(e));
	return sb->buf;
}

int bundle_untar(const char *what, const void *data, size_t len, const char *dest)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	int rc, ret = 0, cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
						    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME);
	if (cwd < 0 || chdir(dest) < 0) {
		ret = error_errno("cannot enter '%s'", dest);
		goto out;
	}
	if (archive_read_open_memory(in, data, len) != ARCHIVE_OK) {
		ret = error("%s: %s", what, archive_error_string(in));
		goto out;
	}
	while ((rc = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		struct strbuf why = STRBUF_INIT;
		const char *name = archive_entry_pathname(e);
		const void *block;
		size_t size;
		la_int64_t off;

		if (!name || bundle_name_ok(name, &why) < 0) {
			ret = error("%s: entry '%s': %s", what, name ? name : "", why.buf);
			sb_release(&why);
			break;
		}
		if (archive_entry_hardlink(e)) {
			ret = error("%s: entry '%s': a hard link", what, name);
			break;
		}
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			ret = error("cannot write '%s/%s' (from %s): %s", dest, name, what,
				    bundle_archive_why(out, &why));
			sb_release(&why);
			break;
		}
		while ((rc = archive_read_data_block(in, &block, &size, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(out, block, size, off) != ARCHIVE_OK) {
				rc = ARCHIVE_FATAL;
				break;
			}
		if (rc != ARCHIVE_EOF || archive_write_finish_entry(out) != ARCHIVE_OK) {
			ret = error("cannot write '%s/%s' (from %s): %s", dest, name, what,
				    bundle_archive_why(out, &why));
			sb_release(&why);
			break;
		}
	}
	if (!ret && rc != ARCHIVE_EOF)
		ret = error("%s: %s", what, archive_error_string(in));
out:
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			ret = error_errno("cannot return to the working folder");
		close(cwd);
	}
	archive_read_free(in);
	archive_write_free(out);
	return ret ? -1 : 0;
}
