/*
 * Workspace names and folders, the hooks of container/, and the build
 * context with the content hash that lets 'build' skip unchanged images.
 */
#include "workspace/ws.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "workspace/ws-source.h"

int ws_check_name(const char *name)
{
	if (!*name)
		return error("the workspace name is empty");
	if (strchr(name, '/'))
		return error("workspace name '%s' contains '/'; name a single folder under run-data/src/",
			     name);
	if (!strcmp(name, ".") || !strcmp(name, "..") || name[0] == '.')
		return error("workspace name '%s' must not start with '.'; name a folder under "
			     "run-data/src/", name);
	if (name[0] == '-')
		return error("workspace name '%s' must not start with '-'", name);
	if (!strcmp(name, "template"))
		return error("'template' holds the hooks new workspaces start from; create a workspace "
			     "with 'synthflow new NAME'");
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return error("workspace name '%s' has the character '%c'; use letters, digits, "
				     "'_', '.' and '-'", name, *p);
	if (strlen(name) > 100)
		return error("workspace name '%.20s...' is longer than 100 characters", name);
	return 0;
}

void ws_init(struct ws *ws, const char *data_dir, const char *name)
{
	char *lower = xstrdup(name);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	ws->name = xstrdup(name);
	ws->data_dir = xstrdup(data_dir);
	ws->src_dir = xasprintf("%s/src/%s", data_dir, name);
	ws->hooks_dir = xasprintf("%s/container", ws->src_dir);
	ws->build_dir = xasprintf("%s/build-data/%s", data_dir, name);
	/* Image repositories must be lowercase and may not start with '.', '_' or '-'. */
	ws->image = xasprintf("synthflow/%s:latest", lower);
	ws->container = xasprintf("synthflow-%s", name);
	free(lower);
}

int ws_open(struct ws *ws, const char *data_dir, const char *name)
{
	if (ws_check_name(name) < 0)
		return -1;
	ws_init(ws, data_dir, name);
	if (!is_dir(ws->src_dir))
		return error("no workspace '%s': '%s' is not a folder; clone the repository there or "
			     "create it with 'synthflow new %s'", name, ws->src_dir, name);
	if (!is_dir(ws->hooks_dir))
		return error("workspace '%s' has no container/ folder ('%s'); copy the hooks with "
			     "'cp -r %s/src/template/container %s'", name, ws->hooks_dir, data_dir,
			     ws->src_dir);
	return 0;
}

void ws_release(struct ws *ws)
{
	free(ws->name);
	free(ws->data_dir);
	free(ws->src_dir);
	free(ws->hooks_dir);
	free(ws->build_dir);
	free(ws->image);
	free(ws->container);
	memset(ws, 0, sizeof(*ws));
}

/* What apt accepts on its command line for one package (name[=version][/release][:arch]). */
static int package_ok(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("+-.:=~_/", *s))
			return 0;
	return 1;
}

int ws_parse_packages(const char *text, const char *path, struct strvec *out)
{
	int line = 0, ret = 0;
	const char *p = text;

	while (*p) {
		const char *eol = strchrnul(p, '\n');
		const char *hash = memchr(p, '#', (size_t)(eol - p));
		const char *end = hash ? hash : eol;
		line++;
		while (p < end) {
			const char *w;
			char *word;
			while (p < end && isspace((unsigned char)*p))
				p++;
			w = p;
			while (p < end && !isspace((unsigned char)*p))
				p++;
			if (p == w)
				break;
			word = xstrndup(w, (size_t)(p - w));
			if (package_ok(word))
				strvec_push(out, word);
			else
				ret = error("%s:%d: '%s' is not a package name", path, line, word);
			free(word);
		}
		p = *eol ? eol + 1 : eol;
	}
	return ret;
}

int ws_has_requirements(const char *text)
{
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p && *p != '\n' && *p != '#')
			return 1;
		p = strchrnul(p, '\n');
		if (*p)
			p++;
	}
	return 0;
}

static int hook_present(const struct ws *ws, const char *hook)
{
	char *p = path_join(ws->hooks_dir, hook);
	int r = is_file(p);
	free(p);
	return r;
}

int ws_read_hooks(const struct ws *ws, struct ws_spec *spec, struct strvec *pkgs)
{
	char *path = path_join(ws->hooks_dir, WS_PACKAGES);
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	if (sb_read_file(&sb, path) == 0)
		ret = ws_parse_packages(sb.buf, path, pkgs);
	else if (errno != ENOENT)
		ret = error_errno("cannot read '%s'", path);
	free(path);
	sb_reset(&sb);
	path = path_join(ws->hooks_dir, WS_REQUIREMENTS);
	if (sb_read_file(&sb, path) == 0)
		spec->requirements = ws_has_requirements(sb.buf);
	else if (errno != ENOENT)
		ret = error_errno("cannot read '%s'", path);
	free(path);
	sb_release(&sb);
	spec->packages = strvec_argv(pkgs);
	spec->pre_install = hook_present(ws, WS_PRE_INSTALL);
	spec->post_install = hook_present(ws, WS_POST_INSTALL);
	spec->pre_run = hook_present(ws, WS_PRE_RUN);
	return ret;
}

const char *ws_source_dir(void)
{
	const char *env = getenv("SYNTHFLOW_SOURCE");
	const char *dir = env && *env ? env : SF_SOURCE_DIR;
	char *probe = path_join(dir, "src/main.c");
	int ok = is_file(probe);
	free(probe);
	if (!ok) {
		error("the synthflow source tree is needed to build the engine into the image, and "
		      "'%s' is not one; set SYNTHFLOW_SOURCE to a checkout of synthflow", dir);
		return NULL;
	}
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	int r = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (r < 0 && errno != ENOENT)
		return error_errno("cannot remove '%s'", path);
	return 0;
}

int ws_remove_tree(const char *path)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	/* FTW_MOUNT: never descend into something mounted inside (a failed debootstrap may leave proc). */
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? -1 : 0;
}

/*
 * The build context is scratch, rewritten by every build: plain writes, no
 * fsync (fs.h's durable writes cost more than the rest of a skipped build).
 */
static int write_plain(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		return -1;
	return chmod(path, mode);
}

static int copy_plain(const char *src, const char *dst, mode_t mode)
{
	struct strbuf sb = STRBUF_INIT;
	int r = sb_read_file(&sb, src);
	if (r == 0)
		r = write_plain(dst, sb.buf, sb.len, mode);
	sb_release(&sb);
	return r;
}

/* Copies src to dst recursively: regular files and folders only (links are skipped). */
static int copy_tree(const char *src, const char *dst)
{
	struct dirent **ents;
	int n, ret = 0;
	struct stat st;

	if (lstat(src, &st) < 0)
		return error_errno("cannot read '%s'", src);
	if (S_ISREG(st.st_mode))
		return copy_plain(src, dst, st.st_mode & 0755) < 0 ? error_errno("cannot copy '%s'", src)
								     : 0;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (mkdir_p(dst, 0755) < 0)
		return error_errno("cannot create '%s'", dst);
	n = scandir(src, &ents, NULL, alphasort);
	if (n < 0)
		return error_errno("cannot list '%s'", src);
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;
		if (!ret && strcmp(e, ".") && strcmp(e, "..")) {
			char *s = path_join(src, e), *d = path_join(dst, e);
			ret = copy_tree(s, d);
			free(s);
			free(d);
		}
		free(ents[i]);
	}
	free(ents);
	return ret;
}

/* Appends "relpath mode sha256" for every file below dir, in sorted order. */
static int manifest(const char *dir, const char *rel, struct strbuf *out)
{
	struct dirent **ents;
	int n, ret = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return error_errno("cannot list '%s'", dir);
	for (int i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;
		if (!ret && strcmp(e, ".") && strcmp(e, "..")) {
			char *p = path_join(dir, e);
			char *r = *rel ? xasprintf("%s/%s", rel, e) : xstrdup(e);
			struct stat st;
			char hex[65];
			if (lstat(p, &st) < 0)
				ret = error_errno("cannot read '%s'", p);
			else if (S_ISDIR(st.st_mode))
				ret = manifest(p, r, out);
			else if (sha256_file_hex(p, hex) < 0)
				ret = error_errno("cannot read '%s'", p);
			else
				sb_addf(out, "%s %o %s\n", r, (unsigned)(st.st_mode & 0777), hex);
			free(p);
			free(r);
		}
		free(ents[i]);
	}
	free(ents);
	return ret;
}

/*
 * The parts of the source tree the engine's build reads: meson.build
 * enters tests/unit, so it comes along; the rest (data, builds, docs)
 * would only make the context bigger and the hash change more often.
 */
static const char *const source_parts[] = {
	"meson.build", "meson_options.txt", "src", "tests/unit", "web",
};

static int copy_sources(const char *source_dir, const char *ctx)
{
	for (size_t i = 0; i < ARRAY_SIZE(source_parts); i++) {
		char *s = path_join(source_dir, source_parts[i]);
		char *d = xasprintf("%s/synthflow/src/%s", ctx, source_parts[i]);
		char *slash = strrchr(d, '/');
		int r = 0;
		if (access(s, F_OK) == 0) {
			*slash = '\0';
			r = mkdir_p(d, 0755) < 0 ? error_errno("cannot create '%s'", d) : 0;
			*slash = '/';
			if (!r)
				r = copy_tree(s, d);
		}
		free(s);
		free(d);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int write_scripts(const char *ctx)
{
	char *bin = path_join(ctx, "synthflow/bin");
	int ret = mkdir_p(bin, 0755) < 0 ? error_errno("cannot create '%s'", bin) : 0;
	for (size_t i = 0; !ret && i < ws_nscripts; i++) {
		char *p = path_join(bin, ws_scripts[i].name);
		if (write_plain(p, ws_scripts[i].text, strlen(ws_scripts[i].text), 0755) < 0)
			ret = error_errno("cannot write '%s'", p);
		free(p);
	}
	free(bin);
	return ret;
}

/* Hooks go into the context executable, whatever their mode in container/. */
static int copy_hooks(const struct ws *ws, const char *ctx)
{
	static const char *const hooks[] = { WS_PRE_INSTALL, WS_REQUIREMENTS, WS_POST_INSTALL,
					     WS_PRE_RUN };
	char *dir = path_join(ctx, "hooks");
	int ret = mkdir_p(dir, 0755) < 0 ? error_errno("cannot create '%s'", dir) : 0;
	for (size_t i = 0; !ret && i < ARRAY_SIZE(hooks); i++) {
		char *s = path_join(ws->hooks_dir, hooks[i]);
		char *d = path_join(dir, hooks[i]);
		mode_t mode = strstr(hooks[i], ".sh") ? 0755 : 0644;
		if (is_file(s) && copy_plain(s, d, mode) < 0)
			ret = error_errno("cannot copy '%s' into the build context", s);
		free(s);
		free(d);
	}
	free(dir);
	return ret;
}

/* build --frozen: the lock's files, read by the steps that replace the hooks. */
static int write_frozen(const struct ws_spec *spec, const char *ctx)
{
	const char *const files[][2] = { { "apt.txt", spec->frozen_apt },
					 { "requirements.txt", spec->frozen_pip },
					 { "packages.txt", spec->frozen_packages } };
	char *dir = path_join(ctx, "synthflow/frozen");
	int ret = mkdir_p(dir, 0755) < 0 ? error_errno("cannot create '%s'", dir) : 0;
	for (size_t i = 0; !ret && i < ARRAY_SIZE(files); i++) {
		char *p = path_join(dir, files[i][0]);
		if (write_plain(p, files[i][1], strlen(files[i][1]), 0644) < 0)
			ret = error_errno("cannot write '%s'", p);
		free(p);
	}
	free(dir);
	return ret;
}

int ws_prepare(const struct ws *ws, const struct ws_spec *spec, const char *source_dir,
	       const char *extra, char hash[65])
{
	char *ctx = path_join(ws->build_dir, "context");
	char *df_path = path_join(ws->build_dir, "Dockerfile");
	char *inputs_path = path_join(ws->build_dir, "inputs.txt");
	struct strbuf df = STRBUF_INIT, inputs = STRBUF_INIT;
	int ret = -1;

	if (mkdir_p(ws->build_dir, 0755) < 0) {
		error_errno("cannot create '%s'", ws->build_dir);
		goto out;
	}
	if (ws_remove_tree(ctx) < 0 || write_scripts(ctx) < 0 || copy_hooks(ws, ctx) < 0 ||
	    copy_sources(source_dir, ctx) < 0 ||
	    (spec->frozen_packages && write_frozen(spec, ctx) < 0) || manifest(ctx, "", &inputs) < 0)
		goto out;
	ws_dockerfile(spec, &df);
	sha256_hex(df.buf, df.len, hash);
	sb_addf(&inputs, "Dockerfile - %s\n", hash);
	sb_addf(&inputs, "extra - %s\n", extra ? extra : "");
	sha256_hex(inputs.buf, inputs.len, hash);
	ws_dockerfile_label(&df, ws->name, hash);
	if (write_file_atomic(df_path, df.buf, df.len, 0644) < 0 ||
	    write_file_atomic(inputs_path, inputs.buf, inputs.len, 0644) < 0) {
		error_errno("cannot write into '%s'", ws->build_dir);
		goto out;
	}
	ret = 0;
out:
	sb_release(&df);
	sb_release(&inputs);
	free(ctx);
	free(df_path);
	free(inputs_path);
	return ret;
}
