/*
 * Building a workspace's image: writes build-data/NAME/ (Dockerfile,
 * inputs.txt, context/), then runs the engine's build with its output shown
 * as it goes and kept in build-data/NAME/build.log.  When the image already
 * carries the content hash of every input, the engine's build is not run
 * at all.  With a lock (build --frozen) the image gets exactly the lock's
 * packages and base, and a last step checks that it did.
 */
#include "workspace/build.h"

#include <ctype.h>
#include <errno.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"
#include "workspace/engine.h"

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

#define MARK "==> synthflow: "

/* The text after prefix on each line of log that starts with it. */
static void marked_lines(const char *log, const char *prefix, struct strvec *out)
{
	size_t n = strlen(prefix);
	for (const char *p = strstr(log, prefix); p; p = strstr(p + n, prefix)) {
		const char *eol = strchrnul(p, '\n');
		if (p == log || p[-1] == '\n')
			strvec_pushf(out, "%.*s", (int)(eol - p - (ptrdiff_t)n), p + n);
	}
}

/*
 * A frozen build's failure: each package the mirror or pip could not give,
 * and each difference between the image and the lock, one error each.
 */
static int explain_frozen(const struct ws *ws, const char *log, const char *log_path)
{
	struct strvec cannot = STRVEC_INIT, lock_only = STRVEC_INIT, image_only = STRVEC_INIT;
	struct strvec why = STRVEC_INIT;
	char *lock = path_join(ws->hooks_dir, WS_LOCK);

	marked_lines(log, MARK "cannot have ", &cannot);
	marked_lines(log, MARK "lock only: ", &lock_only);
	marked_lines(log, MARK "image only: ", &image_only);
	ws_lock_diff(&lock_only, &image_only, &why);
	for (size_t i = 0; i < cannot.nr; i++)
		error("%s: cannot have %s", lock, cannot.v[i]);
	for (size_t i = 0; i < why.nr; i++)
		error("%s: the image differs: %s", lock, why.v[i]);
	error("the frozen build of '%s' failed: the image cannot be made exactly as '%s' says%s; "
	      "the full log is in '%s'", ws->name, lock,
	      cannot.nr || why.nr ? "" : " (see the output above)", log_path);
	strvec_clear(&cannot);
	strvec_clear(&lock_only);
	strvec_clear(&image_only);
	strvec_clear(&why);
	free(lock);
	return -1;
}

/* Prints the output of the hook that failed, found between the markers sf-hook writes. */
static int explain_failure(const struct ws *ws, const char *log_path, int status)
{
	struct strbuf sb = STRBUF_INIT, hook_out = STRBUF_INIT;
	const char *fail = NULL, *p, *start;
	char hook[64] = "";
	int code = 0;

	if (sb_read_file(&sb, log_path) == 0) {
		for (p = strstr(sb.buf, MARK "hook "); p; p = strstr(p + 1, MARK "hook "))
			fail = p;
	}
	if (!fail || sscanf(fail, MARK "hook %63s failed with exit status %d", hook, &code) != 2) {
		sb_release(&sb);
		return error("the build of '%s' failed (exit %d); the full log is in '%s'", ws->name,
			     status, log_path);
	}
	if (!strcmp(hook, WS_LOCK)) {
		explain_frozen(ws, sb.buf, log_path);
		sb_release(&sb);
		return -1;
	}
	start = sb.buf;
	for (p = strstr(sb.buf, MARK "running hook "); p && p < fail;
	     p = strstr(p + 1, MARK "running hook "))
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
	struct engine_build_opts o = {
		.dockerfile = df, .context = context, .image = ws->image,
		.no_cache = no_cache, .pull = pull,
	};
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

/*
 * Compares the hooks with the lock's hashes: a plain build warns that the
 * lock is older than the hooks; a frozen one refuses, since the image would
 * not be the one the lock describes.
 */
static int check_lock_hooks(const struct ws *ws, const struct ws_lock *frozen)
{
	struct ws_lock own = { 0 };
	const struct ws_lock *l = frozen;
	struct strvec now = STRVEC_INIT, why = STRVEC_INIT;
	struct strbuf list = STRBUF_INIT;
	int ret = 0;

	if (!l) {
		/* A broken lock is reported by 'lock' and 'build --frozen'; a plain build only warns. */
		error_set_quiet(1);
		int r = ws_lock_read(ws, &own);
		error_set_quiet(0);
		if (r != 0) {
			if (r < 0)
				warning("'%s/%s' cannot be read; 'synthflow build %s --frozen' says why",
					ws->hooks_dir, WS_LOCK, ws->name);
			return 0;
		}
		l = &own;
	}
	if (ws_lock_hooks(ws, &now) < 0) {
		ret = -1;
		goto out;
	}
	ws_lock_hooks_diff(&l->hooks, &now, &why);
	for (size_t i = 0; i < why.nr; i++)
		sb_addf(&list, "%s%s", i ? ", " : "", why.v[i]);
	if (why.nr && frozen)
		ret = error("'%s/%s' is older than the hooks (%s since it was written); restore them, "
			    "or write the lock again with 'synthflow lock %s'", ws->hooks_dir, WS_LOCK,
			    list.buf, ws->name);
	else if (why.nr)
		warning("'%s/%s' is older than the hooks (%s since it was written); 'synthflow lock "
			"%s' writes it again", ws->hooks_dir, WS_LOCK, list.buf, ws->name);
out:
	if (!frozen)
		ws_lock_release(&own);
	strvec_clear(&now);
	strvec_clear(&why);
	sb_release(&list);
	return ret;
}

/*
 * The lock's registry digest, pulled now when this engine lacks it: a
 * registry that does not hold it (or cannot be reached) is then named with
 * the lock, before anything is built.  NULL after error().
 */
static char *pull_digest(const struct engine *e, const struct ws *ws, const char *digest)
{
	struct strbuf err = STRBUF_INIT;
	char *id = engine_image_format(e, digest, "{{.Id}}");

	if (id) {
		free(id);
		return xstrdup(digest);
	}
	fprintf(stderr, "pulling the lock's base image %s\n", digest);
	if (engine_pull(e, digest, &err) != 0) {
		sb_rtrim(&err);
		error("%s/%s: cannot pull its base image %s: %s", ws->hooks_dir, WS_LOCK, digest,
		      err.len ? err.buf : "the engine gave no reason");
		sb_release(&err);
		return NULL;
	}
	sb_release(&err);
	return xstrdup(digest);
}

/*
 * The base a frozen build starts from (malloc'd): the lock's registry
 * digest, else its image id when this engine has that image, else the image
 * named in the lock when it was built by 'synthflow base' from the same
 * suite (debootstrap does not make the same id twice; the lock's package
 * versions are installed over it and checked).  NULL after error().
 */
static char *frozen_base(const struct engine *e, const struct ws *ws, const struct ws_lock *l)
{
	char *id, *suite;

	if (l->base_digest)
		return pull_digest(e, ws, l->base_digest);
	if ((id = engine_image_format(e, l->base_id, "{{.Id}}")))
		return id;
	suite = l->base && l->base_suite ? engine_image_label(e, l->base, WS_LABEL_BASE_SUITE, &id)
					 : NULL;
	if (suite && !strcmp(suite, l->base_suite)) {
		warning("the lock's base image %s is not here; using '%s' (%.19s), made by 'synthflow "
			"base' from the same suite %s: the lock's package versions are installed "
			"over it and checked", l->base_id, l->base, id, suite);
		free(suite);
		return id;
	}
	if (suite)
		free(id);
	free(suite);
	if (l->base_suite)
		error("%s/%s: its base image %s is not here, and no '%s' of suite %s is; make one with "
		      "'sudo synthflow base --suite %s%s%s'", ws->hooks_dir, WS_LOCK, l->base_id,
		      l->base ? l->base : "synthflow-base", l->base_suite, l->base_suite,
		      l->base_mirror ? " --mirror " : "", l->base_mirror ? l->base_mirror : "");
	else
		error("%s/%s: its base image %s%s%s%s is not here and has no registry digest to pull "
		      "it by", ws->hooks_dir, WS_LOCK, l->base_id, l->base ? " ('" : "",
		      l->base ? l->base : "", l->base ? "')" : "");
	return NULL;
}

int ws_build(const struct config *cfg, struct ws *ws, const struct ws_build_opts *o,
	     bool *machine)
{
	struct engine e;
	struct ws_spec spec = { 0 };
	struct strvec pkgs = STRVEC_INIT;
	struct strbuf info = STRBUF_INIT, apt = STRBUF_INIT, pip = STRBUF_INIT,
		      packages = STRBUF_INIT, req = STRBUF_INIT;
	const char *source;
	char hash[65], *have = NULL, *base = NULL, *old_id = NULL;
	int64_t t0 = time_mono_ms();
	int ret = -1;

	*machine = false;
	/* Mistakes in the hooks are reported before anything talks to the engine. */
	if (check_user(cfg->ws_user) < 0 || ws_read_hooks(ws, &spec, &pkgs) < 0 ||
	    (!o->relock && check_lock_hooks(ws, o->frozen) < 0) || !(source = ws_source_dir()))
		goto out;
	engine_init(&e, cfg->ws_engine, geteuid() != 0);
	if (!spawn_in_path(e.cli)) {
		engine_probe(&e, &info); /* says what to install */
		*machine = true;
		goto out;
	}
	spec.name = ws->name;
	spec.base_image = cfg->ws_base_image;
	spec.user = cfg->ws_user;
	ws_image_ids(getuid(), getgid(), &spec.uid, &spec.gid);
	if (o->frozen) {
		char *rp = path_join(ws->hooks_dir, WS_REQUIREMENTS);
		int r = sb_read_file(&req, rp);
		free(rp);
		ws_lock_frozen_files(o->frozen, r == 0 ? req.buf : NULL, &apt, &pip, &packages);
		spec.frozen_apt = apt.buf ? apt.buf : "";
		spec.frozen_pip = pip.buf ? pip.buf : "";
		spec.frozen_packages = packages.buf ? packages.buf : "";
		if (!(base = frozen_base(&e, ws, o->frozen)))
			goto out;
		spec.base_image = base;
	} else {
		/* The base's id is an input too: a rebuilt base must rebuild the workspace. */
		base = engine_image_format(&e, spec.base_image, "{{.Id}}");
	}
	if (ws_prepare(ws, &spec, source, base ? base : spec.base_image, hash) < 0)
		goto out;
	have = engine_image_label(&e, ws->image, WS_LABEL_HASH, &old_id);
	if (have && !strcmp(have, hash) && !o->no_cache && !o->pull) {
		printf("%s is up to date (inputs unchanged, hash %.12s); nothing to build\n", ws->image,
		       hash);
		ret = 0;
		goto out;
	}
	/* Only now the full probe: the skip above needs two engine calls, not three. */
	if (engine_probe(&e, &info) < 0) {
		*machine = true;
		goto out;
	}
	if (!o->frozen && !base && !o->pull)
		note("the base image '%s' is not here; the engine will try to pull it (offline, build "
		     "one with 'synthflow base' and set workspace.base_image)", spec.base_image);
	fprintf(stderr, "building %s from %s%s (Dockerfile and log in %s)\n", ws->image,
		ws->hooks_dir, o->frozen ? "/" WS_LOCK : "", ws->build_dir);
	if (run_build(&e, ws, o->no_cache, o->pull) < 0)
		goto out;
	mark_built(ws, hash);
	/*
	 * The image this one replaces would stay behind untagged, a few hundred MB
	 * per build; the engine keeps whatever layers the new one shares, and
	 * refuses (quietly) while a container still uses it.
	 */
	if (old_id)
		engine_rmi(&e, old_id);
	printf("built %s in %.1fs\n", ws->image, (double)(time_mono_ms() - t0) / 1000.0);
	ret = 0;
out:
	free(base);
	free(have);
	free(old_id);
	sb_release(&info);
	sb_release(&apt);
	sb_release(&pip);
	sb_release(&packages);
	sb_release(&req);
	strvec_clear(&pkgs);
	return ret;
}
