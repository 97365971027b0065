/*
 * synthflow lock NAME: builds the workspace's image when its inputs changed
 * (as 'build' does), reads what it has installed and what it was built
 * from, and writes container/synthflow.lock (docs/replication.md).
 */
#include <errno.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "workspace/build.h"
#include "workspace/engine.h"
#include "workspace/lock.h"
#include "workspace/ws.h"

/* "" and Go templates' "<no value>" (a label that is not set) mean nothing. */
static char *field_or_null(const char *s)
{
	return *s && strcmp(s, "<no value>") ? xstrdup(s) : NULL;
}

/*
 * An image with no labels of 'synthflow base' and no registry digest (such
 * as one an older 'synthflow base' made): the suite and mirror from its apt
 * sources, which debootstrap writes as "deb MIRROR SUITE main".
 */
static void base_from_sources(const struct engine *e, struct ws_lock *l)
{
	struct strbuf out = STRBUF_INIT, mirror = STRBUF_INIT;
	const char *p;

	if (engine_image_run_capture(e, l->base_id,
				     (const char *const[]){ "cat", "/etc/apt/sources.list", NULL },
				     &out, NULL) == 0 &&
	    ws_debian_mirror(out.buf, &mirror) && (p = strstr(out.buf, mirror.buf))) {
		p += mirror.len;
		while (*p == '/' || *p == ' ')
			p++;
		l->base_mirror = xstrdup(mirror.buf);
		if (*p && *p != '\n')
			l->base_suite = xstrndup(p, strcspn(p, " \n"));
	}
	sb_release(&out);
	sb_release(&mirror);
}

/* What the lock says of the base image (workspace.base_image, as the image was built from). */
static int read_base(const struct engine *e, const char *base, struct ws_lock *l)
{
	char *out = engine_image_format(
		e, base,
		"{{.Id}}\t{{range .RepoDigests}}{{.}} {{end}}\t{{.Created}}"
		/* an image with no labels at all has a nil map, which index refuses */
		"{{with .Config.Labels}}"
		"\t{{index . \"" WS_LABEL_BASE_SUITE "\"}}"
		"\t{{index . \"" WS_LABEL_BASE_MIRROR "\"}}"
		"\t{{index . \"" WS_LABEL_BASE_BUILT "\"}}{{end}}");
	char *f[6] = { 0 }, *p = out;

	if (!out)
		return error("the base image '%s' is not here; build the workspace again", base);
	for (int i = 0; i < 6 && p; i++) {
		f[i] = p;
		if ((p = strchr(p, '\t')))
			*p++ = '\0';
	}
	l->base = xstrdup(base);
	l->base_id = xstrdup(f[0]);
	l->base_digest = f[1] ? ws_lock_base_digest(base, f[1]) : NULL;
	l->base_suite = f[3] ? field_or_null(f[3]) : NULL;
	l->base_mirror = f[4] ? field_or_null(f[4]) : NULL;
	l->base_built = f[5] ? field_or_null(f[5]) : NULL;
	if (!l->base_digest && !l->base_suite) {
		base_from_sources(e, l);
		if (l->base_suite && !l->base_built && f[2])
			l->base_built = field_or_null(f[2]);
	}
	free(out);
	return 0;
}

/* The packages installed in image, sorted, as the lock lists them. */
static int read_packages(const struct engine *e, const char *image, struct strvec *out)
{
	struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
	int st = engine_image_run_capture(
		e, image, (const char *const[]){ "sh", "-c", ws_script_text("sf-packages"), NULL },
		&sb, &err);
	int ret;

	sb_rtrim(&err);
	if (st != 0)
		ret = error("cannot list the packages of '%s' (exit %d): %s", image, st, err.buf);
	else
		ret = ws_lock_packages(sb.buf, out);
	sb_release(&sb);
	sb_release(&err);
	return ret;
}

static int exec_lock(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct ws ws = { 0 };
	struct ws_lock l = { 0 };
	struct ws_build_opts o = { .relock = true };
	struct engine e;
	struct strbuf text = STRBUF_INIT;
	char *image_id = NULL, *path = NULL;
	bool machine = false;
	size_t napt = 0, npip = 0;
	int ret = 1;

	if (ws_open(&ws, ctx->cfg.data_dir, a->argv[0]) < 0)
		goto out; /* ws_open() may have filled ws before its check failed */
	if (ws_build(&ctx->cfg, &ws, &o, &machine) < 0) {
		if (machine)
			cmd_doctor_hint();
		goto out;
	}
	if (engine_open(&ctx->cfg, &e, NULL) < 0)
		goto out;
	if (!(image_id = engine_image_format(&e, ws.image, "{{.Id}}"))) {
		error("the image '%s' is not here after its build", ws.image);
		goto out;
	}
	l.synthflow = xstrdup(SF_VERSION);
	l.engine = engine_version(&e);
	if (read_base(&e, ctx->cfg.ws_base_image, &l) < 0 || ws_lock_hooks(&ws, &l.hooks) < 0 ||
	    read_packages(&e, image_id, &l.packages) < 0)
		goto out;
	ws_lock_format(&l, ws.name, &text);
	path = path_join(ws.hooks_dir, WS_LOCK);
	if (write_file_atomic(path, text.buf, text.len, 0644) < 0) {
		error_errno("cannot write '%s'", path);
		goto out;
	}
	for (size_t i = 0; i < l.packages.nr; i++) {
		napt += !strncmp(l.packages.v[i], "apt ", 4);
		npip += !strncmp(l.packages.v[i], "pip ", 4);
	}
	printf("wrote %s: %zu Debian and %zu pip packages of %s (%.19s)\n", path, napt, npip,
	       ws.image, image_id);
	ret = 0;
out:
	free(image_id);
	free(path);
	sb_release(&text);
	ws_lock_release(&l);
	ws_release(&ws);
	return ret;
}

const struct cmd_entry cmd_lock_entry = {
	.name = "lock",
	.summary = "write a workspace's lock: base image, packages, hooks (for build --frozen)",
	.usage = "synthflow lock NAME\n"
		 "\n"
		 "Builds the image of workspace NAME when its inputs changed (as 'build'\n"
		 "does), then writes src/NAME/container/synthflow.lock: the base image (its\n"
		 "registry digest, or the id, suite, mirror and date of a 'synthflow base'\n"
		 "image), every Debian package with the version installed in the image,\n"
		 "every pip package (pip freeze), the sha256 of each hook file, and the\n"
		 "synthflow and engine versions.  Commit it with the workspace: 'synthflow\n"
		 "build NAME --frozen' builds exactly it, 'status' says whether the running\n"
		 "image matches it, and 'pack' puts it in the bundle.  The format is in\n"
		 "docs/replication.md.\n",
	.args = "NAME",
	.flags = CMD_NEEDS_DATA,
	.exec = exec_lock,
};
