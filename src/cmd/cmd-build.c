/*
 * synthflow build NAME [--no-cache] [--pull]: writes build-data/NAME/
 * (Dockerfile, inputs.txt, context/), then runs the engine's build with its
 * output shown as it goes and kept in build-data/NAME/build.log.  When the
 * image already carries the content hash of every input, the engine's build
 * is not run at all.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

struct build_log {
	FILE *log;
};

static void tee_sink(const char *buf, size_t len, void *data)
{
	struct build_log *bl = data;
	fwrite(buf, 1, len, stderr);
	if (bl->log)
		fwrite(buf, 1, len, bl->log);
}

/* A user name useradd accepts on every distribution. */
static int check_user(const char *user)
{
	if (!*user || strlen(user) > 32 || !(islower((unsigned char)*user) || *user == '_'))
		goto bad;
	for (const char *p = user; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("_-", *p))
			goto bad;
	return 0;
bad:
	return error("workspace.user '%s' is not a valid user name; use lowercase letters, digits, "
		     "'_' and '-', starting with a letter", user);
}

/* Prints the output of the hook that failed, found between the markers sf-hook writes. */
static int explain_failure(const struct ws *ws, const char *log_path, int status)
{
	struct strbuf sb = STRBUF_INIT, hook_out = STRBUF_INIT;
	const char *fail = NULL, *p, *start;
	char hook[64] = "";
	int code = 0;

	if (sb_read_file(&sb, log_path) == 0) {
		for (p = strstr(sb.buf, "==> synthflow: hook "); p;
		     p = strstr(p + 1, "==> synthflow: hook "))
			fail = p;
	}
	if (!fail || sscanf(fail, "==> synthflow: hook %63s failed with exit status %d", hook,
			    &code) != 2) {
		sb_release(&sb);
		return error("the build of '%s' failed (exit %d); the full log is in '%s'", ws->name,
			     status, log_path);
	}
	start = sb.buf;
	for (p = strstr(sb.buf, "==> synthflow: running hook "); p && p < fail;
	     p = strstr(p + 1, "==> synthflow: running hook "))
		start = p;
	start = strchrnul(start, '\n');
	if (*start)
		start++;
	sb_add(&hook_out, start, (size_t)(fail - start));
	sb_rtrim(&hook_out);
	error("the build of '%s' failed: hook '%s' exited with status %d", ws->name, hook, code);
	fprintf(stderr, "--- output of %s ---\n%s%s---\nfix %s/%s and build again; the full log is "
			"in '%s'\n",
		hook, hook_out.buf, hook_out.len ? "\n" : "", ws->hooks_dir, hook, log_path);
	sb_release(&sb);
	sb_release(&hook_out);
	return -1;
}

static int run_build(const struct engine *e, const struct ws *ws, bool no_cache, bool pull)
{
	char *log_path = path_join(ws->build_dir, "build.log");
	char *df = path_join(ws->build_dir, "Dockerfile");
	char *context = path_join(ws->build_dir, "context");
	struct engine_build_opts o = { df, context, ws->image, no_cache, pull };
	struct strvec av = STRVEC_INIT;
	struct build_log bl = { fopen(log_path, "we") };
	int st;

	if (!bl.log)
		warning("cannot write the build log '%s': %s", log_path, strerror(errno));
	engine_build_args(e, &o, &av);
	st = spawn_stream(strvec_argv(&av), tee_sink, &bl);
	if (bl.log)
		fclose(bl.log);
	if (st > 0)
		st = explain_failure(ws, log_path, st);
	strvec_clear(&av);
	free(log_path);
	free(df);
	free(context);
	return st;
}

/* Records the image built last, which 'synthflow run' uses when no NAME is given. */
static void mark_built(const struct ws *ws, const char *hash)
{
	char *p = path_join(ws->build_dir, "built");
	struct strbuf sb = STRBUF_INIT;
	sb_addf(&sb, "%s %s\n", ws->image, hash);
	if (write_file_atomic(p, sb.buf, sb.len, 0644) < 0)
		warning("cannot write '%s': %s", p, strerror(errno));
	sb_release(&sb);
	free(p);
}

static int build(struct sf_ctx *ctx, const char *name, bool no_cache, bool pull)
{
	struct engine e;
	struct ws ws = { 0 };
	struct ws_spec spec = { 0 };
	struct strvec pkgs = STRVEC_INIT;
	struct strbuf info = STRBUF_INIT;
	const char *source;
	char hash[65], *have = NULL, *base = NULL, *old_id = NULL;
	int64_t t0 = time_mono_ms();
	int ret = 1;

	/* Mistakes in the hooks are reported before anything talks to the engine. */
	if (ws_open(&ws, ctx->cfg.data_dir, name) < 0 || check_user(ctx->cfg.ws_user) < 0 ||
	    ws_read_hooks(&ws, &spec, &pkgs) < 0 || !(source = ws_source_dir()))
		goto out;
	engine_init(&e, ctx->cfg.ws_engine, geteuid() != 0);
	if (!spawn_in_path(e.cli)) {
		engine_probe(&e, &info); /* says what to install */
		cmd_doctor_hint();
		goto out;
	}
	spec.name = ws.name;
	spec.base_image = ctx->cfg.ws_base_image;
	spec.user = ctx->cfg.ws_user;
	ws_image_ids(getuid(), getgid(), &spec.uid, &spec.gid);
	/* The base's id is an input too: a rebuilt base must rebuild the workspace. */
	base = engine_image_format(&e, spec.base_image, "{{.Id}}");
	if (ws_prepare(&ws, &spec, source, base ? base : spec.base_image, hash) < 0)
		goto out;
	have = engine_image_label(&e, ws.image, WS_LABEL_HASH, &old_id);
	if (have && !strcmp(have, hash) && !no_cache && !pull) {
		printf("%s is up to date (inputs unchanged, hash %.12s); nothing to build\n", ws.image,
		       hash);
		ret = 0;
		goto out;
	}
	/* Only now the full probe: the skip above needs two engine calls, not three. */
	if (engine_probe(&e, &info) < 0) {
		cmd_doctor_hint();
		goto out;
	}
	if (!base && !pull)
		note("the base image '%s' is not here; the engine will try to pull it (offline, build "
		     "one with 'synthflow base' and set workspace.base_image)", spec.base_image);
	fprintf(stderr, "building %s from %s (Dockerfile and log in %s)\n", ws.image, ws.hooks_dir,
		ws.build_dir);
	if (run_build(&e, &ws, no_cache, pull) < 0)
		goto out;
	mark_built(&ws, hash);
	/*
	 * The image this one replaces would stay behind untagged, a few hundred MB
	 * per build; the engine keeps whatever layers the new one shares, and
	 * refuses (quietly) while a container still uses it.
	 */
	if (old_id)
		engine_rmi(&e, old_id);
	printf("built %s in %.1fs\n", ws.image, (double)(time_mono_ms() - t0) / 1000.0);
	ret = 0;
out:
	free(base);
	free(have);
	free(old_id);
	sb_release(&info);
	strvec_clear(&pkgs);
	if (ws.name)
		ws_release(&ws);
	return ret;
}

static int exec_build(const struct cmd_args *a, struct sf_ctx *ctx)
{
	return build(ctx, a->argv[0], cmd_flag(a, "no-cache"), cmd_flag(a, "pull"));
}

const struct cmd_entry cmd_build_entry = {
	.name = "build",
	.summary = "build a workspace's image (skips when nothing changed)",
	.usage = "synthflow build NAME [--no-cache] [--pull]\n"
		 "\n"
		 "Writes build-data/NAME/Dockerfile from src/NAME/container/ (pre-install.sh,\n"
		 "packages.txt, requirements.txt, post-install.sh, pre-run.sh; all optional)\n"
		 "and builds the image synthflow/NAME with the engine compiled in.  Output is\n"
		 "shown as it goes and kept in build-data/NAME/build.log.  When no input\n"
		 "changed since the last build, nothing is done.\n"
		 "\n"
		 "  --no-cache   rebuild every layer\n"
		 "  --pull       fetch a newer base image first\n",
	.args = "NAME",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("no-cache", 0, "rebuild every layer"),
		CMD_FLAG("pull", 0, "fetch a newer base image first"),
		CMD_END,
	},
	.exec = exec_build,
};
