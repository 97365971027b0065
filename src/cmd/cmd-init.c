/*
 * synthflow init [DIR]: lays down the data folder (docs/guide.md, section 2).
 * Idempotent by construction: directories are created with mkdir -p and
 * files only with O_EXCL, so a second run (or a user's edited file) is
 * never touched.
 */
#include <errno.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"

struct hook {
	const char *name;
	mode_t mode;
	const char *text;
};

static const struct hook hooks[] = {
	{ "packages.txt", 0644,
	  "# Debian/Ubuntu packages to install in the image with apt, one per line.\n"
	  "# Installed at build time, as root, after pre-install.sh.\n"
	  "# Comments and blank lines are ignored.  Example:\n"
	  "# sox\n"
	  "# ffmpeg\n" },
	{ "requirements.txt", 0644,
	  "# Python packages to install in the image with pip (requirements format).\n"
	  "# Installed at build time, as root, after packages.txt.  Example:\n"
	  "# librosa==0.10.1\n" },
	{ "pre-install.sh", 0755,
	  "#!/bin/sh\n"
	  "# Runs at build time, as root, before packages.txt is installed:\n"
	  "# add apt sources or keys here.  A non-zero exit fails the build.\n"
	  "set -e\n" },
	{ "post-install.sh", 0755,
	  "#!/bin/sh\n"
	  "# Runs at build time, as root, after packages and Python requirements are\n"
	  "# installed: compile extensions, fetch tools.  Changing only this file\n"
	  "# rebuilds only the last layers.  A non-zero exit fails the build.\n"
	  "set -e\n" },
	{ "pre-run.sh", 0755,
	  "#!/bin/sh\n"
	  "# Runs each time the workspace container starts ('synthflow run'), as root,\n"
	  "# before the engine starts as the workspace user.  /data is mounted.\n"
	  "set -e\n" },
};

static const char *const dirs[] = {
	"flow", "flow/logs", "downloaded", "uploadable", "generated", "src", "src/template",
	"src/template/container",
};

static int make_file(const char *root, const char *rel, const char *text, mode_t mode, int *created)
{
	char *path = path_join(root, rel);
	int r = write_file_if_missing(path, text, strlen(text), mode);
	if (r < 0)
		error_errno("cannot create '%s'", path);
	else if (r > 0) {
		chmod(path, mode); /* O_CREAT honours the umask; hooks must be executable */
		printf("created %s\n", path);
		(*created)++;
	}
	free(path);
	return r < 0 ? -1 : 0;
}

static int exec_init(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *dir = "run-data";
	struct strbuf config = STRBUF_INIT;
	char *real;
	int created = 0;

	if (a->argc) {
		dir = a->argv[0];
	} else if (ctx->opt_data) {
		dir = ctx->opt_data;
	}
	if (mkdir_p(dir, 0755) < 0)
		return error_errno("cannot create '%s'", dir), 1;
	real = path_real(dir);
	if (!real)
		return error_errno("cannot resolve '%s'", dir), 1;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = path_join(real, dirs[i]);
		int existed = is_dir(p);
		if (mkdir_p(p, 0755) < 0) {
			error_errno("cannot create '%s'", p);
			free(p);
			free(real);
			return 1;
		}
		if (!existed)
			created++;
		free(p);
	}
	config_write_default(&config);
	if (make_file(real, "synthflow.yaml", config.buf, 0644, &created) < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(hooks); i++) {
		char *rel = xasprintf("src/template/container/%s", hooks[i].name);
		int r = make_file(real, rel, hooks[i].text, hooks[i].mode, &created);
		free(rel);
		if (r < 0)
			goto fail;
	}
	if (created)
		printf("initialised data folder %s\n", real);
	else
		printf("data folder %s is already initialised; nothing changed\n", real);
	sb_release(&config);
	free(real);
	return 0;
fail:
	sb_release(&config);
	free(real);
	return 1;
}

const struct cmd_entry cmd_init_entry = {
	.name = "init",
	.summary = "create the run-data/ folder layout",
	.usage = "synthflow init [DIR]\n"
		 "\n"
		 "Creates DIR (default ./run-data) with synthflow.yaml, flow/, downloaded/,\n"
		 "uploadable/, generated/ and src/template/container/.  Existing files are\n"
		 "never overwritten, so running it again changes nothing.\n",
	.args = "[DIR]",
	.exec = exec_init,
};
