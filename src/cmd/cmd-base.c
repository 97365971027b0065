/*
 * synthflow base [--suite SUITE] [--mirror URL] [--force]: a Debian base
 * image made with debootstrap and imported into the engine, for machines
 * with no image registry.  An existing image is kept unless --force.
 */
#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "workspace/engine.h"
#include "workspace/lock.h"
#include "workspace/ws.h"

static int check_suite(const char *s)
{
	if (!*s || !islower((unsigned char)*s))
		goto bad;
	for (const char *p = s; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			goto bad;
	return 0;
bad:
	return error("'%s' is not a Debian suite name (e.g. bookworm, trixie)", s);
}

static void progress(const char *buf, size_t len, void *data)
{
	fwrite(buf, 1, len, stderr);
}

/* debootstrap's root without what only made the install work: downloaded packages. */
static int debootstrap(const char *suite, const char *mirror, const char *root)
{
	char *debs = path_join(root, "var/cache/apt/archives");
	int st = spawn_stream((const char *const[]){ "debootstrap", "--variant=minbase", suite, root,
						     mirror, NULL },
			      progress, NULL);
	if (st != 0) {
		free(debs);
		return error("debootstrap of '%s' from '%s' failed (exit %d; its output is above)",
			     suite, mirror, st);
	}
	spawn_capture((const char *const[]){ "find", debs, "-name", "*.deb", "-delete", NULL }, NULL,
		      NULL);
	free(debs);
	return 0;
}

/*
 * tar -C ROOT -c . | ENGINE import - IMAGE, through a pipe rather than a
 * temporary file.  The labels say what it was built from: such an image has
 * no registry digest, so a lock (docs/replication.md) records them.
 */
static int import(const struct engine *e, const char *root, const char *image, const char *suite,
		  const char *mirror)
{
	struct spawn_io tar_io = { SPAWN_NULL, -1, SPAWN_INHERIT };
	struct spawn_io imp_io = { -1, SPAWN_NULL, SPAWN_INHERIT };
	struct strvec imp_av = STRVEC_INIT;
	int p[2], st_tar, st_imp;
	char built[40];
	pid_t tar, imp;

	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno("cannot create a pipe");
	tar_io.out = p[1];
	imp_io.in = p[0];
	tar = spawn_start((const char *const[]){ "tar", "--numeric-owner", "-C", root, "-c", ".",
						 NULL },
			  &tar_io);
	time_format_iso(time_now_ms(), built, sizeof(built));
	engine_import_args(e, image,
			   (const char *const[]){ WS_LABEL_BASE_SUITE, suite, WS_LABEL_BASE_MIRROR,
						  mirror, WS_LABEL_BASE_BUILT, built, NULL },
			   &imp_av);
	imp = tar < 0 ? -1 : spawn_start(strvec_argv(&imp_av), &imp_io);
	strvec_clear(&imp_av);
	close(p[0]);
	close(p[1]);
	st_tar = tar < 0 ? -1 : spawn_wait(tar);
	st_imp = imp < 0 ? -1 : spawn_wait(imp);
	if (st_tar != 0 || st_imp != 0)
		return error("importing '%s' into %s failed (tar exit %d, import exit %d)", root,
			     e->cli, st_tar, st_imp);
	return 0;
}

static int base(struct sf_ctx *ctx, const char *suite, const char *mirror, bool force)
{
	struct engine e;
	char *image = xasprintf("synthflow-base:%s", suite), *have, *root = NULL;
	char tmpl[] = "/var/tmp/synthflow-base.XXXXXX";
	int64_t t0 = time_mono_ms();
	int ret = 1;

	if (engine_open(&ctx->cfg, &e, NULL) < 0)
		goto out;
	have = engine_image_format(&e, image, "{{.Id}}");
	if (have && !force) {
		fprintf(stderr, "%s exists already ('synthflow base --force' builds it again)\n", image);
		printf("%s\n", image);
		free(have);
		ret = 0;
		goto out;
	}
	free(have);
	if (geteuid() != 0) {
		error("debootstrap needs root; run 'sudo synthflow base'");
		goto out;
	}
	if (!spawn_in_path("debootstrap")) {
		error("'debootstrap' is not installed; install it with 'sudo apt-get install debootstrap'");
		goto out;
	}
	if (!(root = mkdtemp(tmpl))) {
		error_errno("cannot create a folder in /var/tmp");
		goto out;
	}
	fprintf(stderr, "building %s with debootstrap from %s\n", image, mirror);
	if (debootstrap(suite, mirror, root) < 0 || import(&e, root, image, suite, mirror) < 0)
		goto out;
	fprintf(stderr, "built %s in %.0fs\n", image, (double)(time_mono_ms() - t0) / 1000.0);
	printf("%s\n", image);
	ret = 0;
out:
	if (root && ws_remove_tree(root) < 0)
		warning("could not remove '%s'; remove it by hand", root);
	free(image);
	return ret;
}

static int exec_base(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *suite = cmd_str(a, "suite", "bookworm");
	const char *given_mirror = cmd_str(a, "mirror", NULL);
	char *mirror;
	int ret;

	if (check_suite(suite) < 0)
		return 2;
	/* No data folder is needed; when there is one, its workspace.engine applies. */
	if (!ctx->cfg.data_dir) {
		char *dir;
		error_set_quiet(1);
		dir = datadir_find(ctx->opt_data);
		error_set_quiet(0);
		if (dir && config_load(&ctx->cfg, dir) < 0) {
			free(dir);
			return 1;
		}
		free(dir);
	}
	mirror = given_mirror ? xstrdup(given_mirror) : ws_host_mirror();
	ret = base(ctx, suite, mirror, cmd_flag(a, "force"));
	free(mirror);
	return ret;
}

const struct cmd_entry cmd_base_entry = {
	.name = "base",
	.summary = "build a local base image with debootstrap (no registry needed)",
	.usage = "synthflow base [--suite SUITE] [--mirror URL] [--force]\n"
		 "\n"
		 "Builds the image synthflow-base:SUITE (default bookworm) with debootstrap\n"
		 "and imports it into the engine, then prints its name; use it with\n"
		 "workspace.base_image in synthflow.yaml.  Needs root.  An existing image is\n"
		 "kept unless --force.\n"
		 "\n"
		 "  --mirror URL   Debian mirror (default: the one the host's apt uses)\n",
	.options = (const struct cmd_option[]){
		CMD_STRING("suite", 0, "SUITE", "the Debian suite (default bookworm)"),
		CMD_STRING("mirror", 0, "URL", "Debian mirror (default: the one the host's apt uses)"),
		CMD_FLAG("force", 0, "build again even when the image exists"),
		CMD_END,
	},
	.exec = exec_base,
};
