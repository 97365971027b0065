/*
 * synthflow replay FILE [--data DIR] [--json]: runs a packed run again in a
 * data folder (made when missing) and compares every output, byte for
 * byte, with the bundle's manifest (docs/replication.md).
 *
 * Order: the bundle is verified as a whole before anything is written;
 * then the workspace source, its uncommitted diff, the lock and the inputs
 * are unpacked below the data folder (never through a symlink, never
 * outside it); the host is compared with the packing host (warnings only);
 * then the DAG runs with the recorded params and variable snapshot, and the
 * outputs are compared.  Exit 0 only when every output is identical.
 * A run made inside a workspace container is replayed inside one: the image
 * is built with --frozen from the bundle's lock, the container started, and
 * replay runs again in it on a copy of the bundle.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/prov.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "pack/bundle.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "workspace/build.h"
#include "workspace/engine.h"
#include "workspace/lock.h"
#include "workspace/ws.h"

struct replay {
	const char *file, *data_opt;
	int json;
	json_t *meta;
	struct strbuf dag;      /* the bundle's DAG file */
	struct strbuf source, diff, lock;
};

static int grab(struct bundle_reader *r, const char *name, void *arg)
{
	struct replay *rp = arg;
	struct strbuf *into = !strcmp(name, "dag/dag.yaml")		 ? &rp->dag
			      : !strcmp(name, "workspace/source.tar")	 ? &rp->source
			      : !strcmp(name, "workspace/uncommitted.diff") ? &rp->diff
			      : !strcmp(name, "workspace/synthflow.lock")  ? &rp->lock
									  : NULL;
	if (!into)
		return 0;
	return bundle_entry_read(r, into, (size_t)1 << 30) < 0 ? -1 : 0;
}

/* A data folder to replay in: DIR as given, made with `synthflow init` when missing. */
static int data_folder(struct sf_ctx *ctx, const char *dir)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	char *flow = path_join(dir, "flow");
	int rc = 0;

	if (!is_dir(flow)) {
		rc = spawn_capture((const char *const[]){ "/proc/self/exe", "init", dir, NULL }, &out,
				   &err);
		if (rc)
			error("cannot make the data folder '%s': %s", dir, err.buf);
	}
	free(flow);
	sb_release(&out);
	sb_release(&err);
	if (rc)
		return -1;
	ctx->opt_data = dir;
	return cmd_load_data(ctx);
}

/* The workspace as packed: reused when its DAG file is the bundle's, else made. */
static int unpack_workspace(struct replay *rp, const char *data_dir)
{
	json_t *ws = json_object_get(rp->meta, "workspace");
	const char *name = json_string_value(json_object_get(ws, "name"));
	const char *dag_path = json_string_value(json_object_get(rp->meta, "dag_path"));
	struct strbuf have = STRBUF_INIT, why = STRBUF_INIT;
	char *dir, *dag_file, *lock;
	int ret = -1, made = 0;

	if (!name || !dag_id_valid(name) || !dag_path || bundle_name_ok(dag_path, &why) < 0) {
		sb_release(&why);
		return error("bundle '%s': sfpack.json names no valid workspace or DAG file", rp->file);
	}
	dir = xasprintf("%s/src/%s", data_dir, name);
	dag_file = path_join(dir, dag_path);
	if (is_dir(dir)) {
		if (sb_read_file(&have, dag_file) < 0 || have.len != rp->dag.len ||
		    memcmp(have.buf, rp->dag.buf, have.len)) {
			error("'%s' is not the DAG in the bundle: replay into a fresh data folder "
			      "(--data DIR)", dag_file);
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (mkdir_p(dir, 0755) < 0) {
		error_errno("cannot create '%s'", dir);
		goto out;
	}
	/* A half-unpacked source (a full disk) would be taken for the bundle's next time. */
	made = 1;
	if (bundle_untar("workspace/source.tar", rp->source.buf, rp->source.len, dir) < 0)
		goto out;
	if (rp->diff.len) {
		char *patch = xasprintf("%s/.sfpack-uncommitted.diff", dir);
		struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
		int rc = write_file_atomic(patch, rp->diff.buf, rp->diff.len, 0600);
		if (!rc)
			rc = spawn_capture((const char *const[]){ "git", "-C", dir, "apply", "--unsafe-paths",
								 "--whitespace=nowarn", patch, NULL },
					   &out, &err);
		unlink(patch);
		free(patch);
		if (rc) {
			error("workspace '%s': the bundle's uncommitted diff does not apply: %s", name,
			      err.buf);
			sb_release(&out);
			sb_release(&err);
			goto out;
		}
		sb_release(&out);
		sb_release(&err);
	}
	if (rp->lock.len) {
		lock = xasprintf("%s/container/synthflow.lock", dir);
		if (!is_file(lock) && (mkdir_p(dir, 0755) < 0 ||
				       write_file_atomic(lock, rp->lock.buf, rp->lock.len, 0644) < 0)) {
			error_errno("cannot write '%s'", lock);
			free(lock);
			goto out;
		}
		free(lock);
	}
	if (sb_read_file(&have, dag_file) < 0 || have.len != rp->dag.len ||
	    memcmp(have.buf, rp->dag.buf, have.len)) {
		error("bundle '%s': the workspace source does not hold its DAG file '%s'", rp->file,
		      dag_path);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0 && made && ws_remove_tree(dir) < 0)
		error("'%s' is left half unpacked: remove it before replaying again", dir);
	sb_release(&have);
	free(dir);
	free(dag_file);
	return ret;
}

struct inputs_ctx {
	json_t *want;           /* sha256 -> [paths] still to write */
	const char *data_dir;
};

static int save_input(struct bundle_reader *r, const char *name, void *arg)
{
	struct inputs_ctx *ic = arg;
	json_t *paths = json_object_get(ic->want, name + strlen("inputs/")), *p;
	size_t i;
	int first = 1;
	char *first_path = NULL;

	json_array_foreach(paths, i, p) {
		char *full = path_join(ic->data_dir, json_string_value(p)), *dir = xstrdup(full);
		char *slash = strrchr(dir, '/');
		int rc;
		if (slash)
			*slash = '\0';
		rc = mkdir_p(dir, 0755) < 0 ? error_errno("cannot create '%s'", dir)
		     : first		  ? bundle_entry_save(r, full)
					  : copy_file(first_path, full, 0644);
		free(dir);
		if (rc < 0) {
			free(full);
			free(first_path);
			return -1;
		}
		if (first)
			first_path = full;
		else
			free(full);
		first = 0;
	}
	free(first_path);
	json_object_del(ic->want, name + strlen("inputs/"));
	return 0;
}

/* The downloaded/ files the run read (--with-inputs), unless already here as they were. */
static int unpack_inputs(struct replay *rp, const char *data_dir)
{
	struct inputs_ctx ic = { .want = json_object(), .data_dir = data_dir };
	json_t *f;
	size_t i;
	int ret = 0;

	json_array_foreach(json_object_get(rp->meta, "inputs"), i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		struct strbuf why = STRBUF_INIT;
		char hex[65], *full;
		if (!path || !sha || strncmp(path, "downloaded/", 11) || bundle_name_ok(path, &why) < 0) {
			sb_release(&why);
			ret = error("bundle '%s': input %zu is not a safe downloaded/ path", rp->file, i);
			break;
		}
		full = path_join(data_dir, path);
		if (sha256_file_hex(full, hex) == 0) {
			if (strcmp(hex, sha))
				ret = error("'%s' is already here with other contents than the run read",
					    full);
		} else {
			if (!json_object_get(ic.want, sha))
				json_object_set_new(ic.want, sha, json_array());
			json_array_append_new(json_object_get(ic.want, sha), json_string(path));
		}
		free(full);
	}
	if (!ret && json_object_size(ic.want))
		ret = bundle_each(rp->file, "inputs/", save_input, &ic);
	if (!ret && json_object_size(ic.want))
		ret = error("bundle '%s': %zu inputs are missing from it", rp->file,
			    json_object_size(ic.want));
	json_decref(ic.want);
	return ret ? -1 : 0;
}

/* Warnings, before anything runs, where this host differs from the packing host. */
static json_t *compare_host(json_t *meta)
{
	json_t *warnings = json_array(), *was = json_object_get(json_object_get(meta, "packed_from"), "host");
	json_t *here = prov_host_json(), *v;
	const char *os_was = json_string_value(json_object_get(was, "os"));
	const char *os_here = json_string_value(json_object_get(here, "os"));
	const char *prog, *path = getenv("PATH");

	if (os_was && os_here && strcmp(os_was, os_here))
		json_array_append_new(warnings, json_sprintf("the run was made on %s; this host is %s",
							     os_was, os_here));
	json_object_foreach(json_object_get(meta, "programs"), prog, v) {
		json_t *now = prov_program_json(prog, path ? path : "/usr/bin:/bin");
		const char *want = json_string_value(json_object_get(v, "version"));
		const char *got = json_string_value(json_object_get(now, "version"));
		const char *wsha = json_string_value(json_object_get(v, "sha256"));
		const char *gsha = json_string_value(json_object_get(now, "sha256"));
		if (!now)
			json_array_append_new(warnings,
					      json_sprintf("'%s' is not installed here (the run used %s)", prog,
							   want ? want : json_string_value(json_object_get(v, "path"))));
		else if (want && (!got || strcmp(want, got)))
			json_array_append_new(warnings,
					      json_sprintf("'%s' is %s here; the run used %s", prog,
							   got ? got : "not from a package", want));
		else if (!want && wsha && (!gsha || strcmp(wsha, gsha)))
			json_array_append_new(warnings,
					      json_sprintf("'%s' (%s) differs from the one the run used", prog,
							   json_string_value(json_object_get(now, "path"))));
		json_decref(now);
	}
	json_decref(here);
	return warnings;
}

static int run_dag(struct sf_ctx *ctx, struct replay *rp, char **run_id_out)
{
	const char *dag_id = json_string_value(json_object_get(rp->meta, "dag_id"));
	struct sched_opts so = { .cfg = &ctx->cfg };
	struct store_run r = { 0 };
	struct strbuf err = STRBUF_INIT;
	struct dag *d = run_load_dag(ctx->cfg.data_dir, dag_id ? dag_id : "");
	struct sched *s = NULL;
	struct store *st = NULL;
	json_t *params = NULL, *preset;
	char *run_id = NULL;
	int ret = -1;

	if (!d)
		return -1;
	if (dag_params_from_json(d, json_object_get(rp->meta, "params"), &params, &err) < 0) {
		error("bundle '%s': its params do not fit the DAG: %s", rp->file, err.buf);
		goto out;
	}
	s = sched_new(&so);
	st = s ? store_open(ctx->cfg.flow_store, ctx->cfg.data_dir) : NULL;
	/* The run's variables are the bundle's snapshot, not this folder's. */
	if (!st || store_run_create_vars(st, d->id, params,
					 json_object_get(rp->meta, "vars") ?: json_object(),
					 sched_owner(s), &run_id) < 0)
		goto out;
	preset = json_pack("{s:O, s:s}", "replay_of", json_object_get(rp->meta, "run_id"), "trigger",
			   "replay");
	ret = store_prov_put(st, run_id, "", -1, preset);
	json_decref(preset);
	if (ret < 0)
		goto out;
	ret = -1;
	if (!rp->json)
		fprintf(stderr, "replaying run %s as run %s\n",
			json_string_value(json_object_get(rp->meta, "run_id")), run_id);
	cmd_stop_on_signals(s);
	if (sched_add_run(s, run_id, d->path) < 0 || sched_run(s) < 0) {
		error("run %s could not be recorded to its end (see above): no report is made", run_id);
		goto out;
	}
	if (store_run_get(st, run_id, &r) == 0 && r.state != RUN_SUCCESS)
		error("run %s: %s%s%s", run_id, run_state_name(r.state), r.reason ? ": " : "",
		      r.reason ? r.reason : "");
	*run_id_out = run_id;
	run_id = NULL;
	ret = 0;
out:
	cmd_stop_on_signals(NULL);
	store_run_release(&r);
	store_close(st);
	sched_free(s);
	json_decref(params);
	dag_free(d);
	free(run_id);
	sb_release(&err);
	return ret;
}

/* One row per output of the bundle, then the new run's outputs the bundle does not have. */
static json_t *compare_outputs(struct store *st, json_t *meta, const char *run_id,
			       const char *data_dir)
{
	json_t *files = json_array(), *f, *want = json_object(), *prov = NULL, *doc;
	const char *key, *dag = json_string_value(json_object_get(meta, "dag_id"));
	const char *orig = json_string_value(json_object_get(meta, "run_id"));
	char *was = xasprintf("generated/%s/%s/", dag ? dag : "", orig ? orig : "");
	size_t i;

	json_array_foreach(json_object_get(meta, "outputs"), i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));
		const char *sha = json_string_value(json_object_get(f, "sha256"));
		/* an output in the run's own folder is compared with the new run's */
		char *here = !strncmp(path, was, strlen(was)) ?
			xasprintf("generated/%s/%s/%s", dag, run_id, path + strlen(was)) : xstrdup(path);
		char *full = path_join(data_dir, here), hex[65];
		const char *result = "missing";
		struct stat sb;
		json_int_t size = -1;

		if (stat(full, &sb) == 0 && sha256_file_hex(full, hex) == 0) {
			size = (json_int_t)sb.st_size;
			result = !strcmp(hex, sha) ? "identical" : "different";
		}
		json_array_append_new(files, json_pack("{s:s, s:O, s:o, s:s}", "path", path,
						       "expected_size", json_object_get(f, "size"), "size",
						       size < 0 ? json_null() : json_integer(size),
						       "result", result));
		json_object_set_new(want, here, json_true());
		free(here);
		free(full);
	}
	free(was);
	if (store_prov_load(st, run_id, &prov) == 0)
		json_object_foreach(json_object_get(prov, "tasks"), key, doc)
			json_array_foreach(json_object_get(doc, "outputs"), i, f) {
				const char *path = json_string_value(json_object_get(f, "path"));
				if (!path || json_object_get(want, path) ||
				    json_is_true(json_object_get(f, "missing")))
					continue;
				json_array_append_new(files, json_pack("{s:s, s:n, s:O, s:s}", "path", path,
								       "expected_size", "size",
								       json_object_get(f, "size"),
								       "result", "extra"));
				json_object_set_new(want, path, json_true());
			}
	json_decref(prov);
	json_decref(want);
	return files;
}

static void print_report(json_t *report)
{
	json_t *f;
	size_t i, w = 4, counts[4] = { 0 };
	static const char *const kinds[] = { "identical", "different", "missing", "extra" };

	json_array_foreach(json_object_get(report, "files"), i, f)
		if (strlen(json_string_value(json_object_get(f, "path"))) > w)
			w = strlen(json_string_value(json_object_get(f, "path")));
	printf("%-*s %12s  %s\n", (int)w, "FILE", "SIZE", "RESULT");
	json_array_foreach(json_object_get(report, "files"), i, f) {
		json_t *size = json_object_get(f, "size");
		const char *res = json_string_value(json_object_get(f, "result"));
		char sz[32] = "-";
		if (json_is_integer(size))
			snprintf(sz, sizeof(sz), "%lld", (long long)json_integer_value(size));
		printf("%-*s %12s  %s\n", (int)w, json_string_value(json_object_get(f, "path")), sz, res);
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
			if (!strcmp(res, kinds[k]))
				counts[k]++;
	}
	printf("run %s (replay of %s): %s; %zu identical, %zu different, %zu missing, %zu extra\n",
	       json_string_value(json_object_get(report, "run_id")),
	       json_string_value(json_object_get(report, "replay_of")),
	       json_string_value(json_object_get(report, "state")), counts[0], counts[1], counts[2],
	       counts[3]);
}

/*
 * `synthflow --data DIR ARGS...` as a child, all its output on our stderr
 * (stdout is the report's, JSON with --json); its exit status.
 */
static int self(const char *data_dir, const char *const *args)
{
	struct strvec av = STRVEC_INIT;
	struct spawn_io io = { .in = SPAWN_NULL, .out = STDERR_FILENO, .err = SPAWN_INHERIT };
	pid_t pid;

	strvec_pushv(&av, (const char *const[]){ "/proc/self/exe", "--data", data_dir, NULL });
	strvec_pushv(&av, args);
	fflush(stdout);
	pid = spawn_start(strvec_argv(&av), &io);
	strvec_clear(&av);
	return pid < 0 ? -1 : spawn_wait(pid);
}

/* The frozen build, with what it prints on stdout sent to stderr too (as self()). */
static int build_frozen(struct sf_ctx *ctx, struct ws *ws, struct ws_lock *lock)
{
	struct ws_build_opts o = { .frozen = lock };
	bool machine = false;
	int saved, r;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		return error_errno("cannot redirect the build's output");
	r = ws_build(&ctx->cfg, ws, &o, &machine);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	if (r < 0 && machine)
		cmd_doctor_hint();
	return r;
}

static int save_image_entry(struct bundle_reader *r, const char *name, void *arg)
{
	(void)name;
	return bundle_entry_save(r, arg) < 0 ? -1 : 1;
}

/*
 * A bundle made with --with-image: the image its run ran in, loaded from the
 * bundle unless the engine has it, tagged as the workspace's image.  Nothing
 * is built, so a machine that cannot reach a mirror or an index replays too.
 */
static int use_bundled_image(struct sf_ctx *ctx, struct replay *rp, const struct ws *ws,
			     json_t *img)
{
	const char *id = json_string_value(json_object_get(img, "id"));
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	struct engine e;
	char *tar = NULL, *have = NULL;
	int ret = -1, r;

	if (!id || strncmp(id, "sha256:", 7))
		return error("bundle '%s': " SFPACK_META " names no image id", rp->file);
	if (engine_open(&ctx->cfg, &e, NULL) < 0)
		return -1;
	if (!(have = engine_image_format(&e, id, "{{.Id}}"))) {
		tar = xasprintf("%s/flow/replay-%ld.image.tar", ctx->cfg.data_dir, (long)getpid());
		fprintf(stderr, "loading the workspace image %.19s from the bundle (%s load)\n", id,
			e.cli);
		r = bundle_each(rp->file, SFPACK_IMAGE, save_image_entry, tar);
		if (r == 0)
			error("bundle '%s' names image %.19s but holds no " SFPACK_IMAGE, rp->file, id);
		if (r != 1)
			goto out;
		if (engine_load(&e, tar, &out, &err) != 0) {
			sb_rtrim(&err);
			error("'%s load' of the bundle's image failed: %s", e.cli,
			      err.len ? err.buf : "no message");
			goto out;
		}
		if (!(have = engine_image_format(&e, id, "{{.Id}}"))) {
			sb_rtrim(&out);
			error("bundle '%s': loading its image gave '%s', not image %s", rp->file, out.buf,
			      id);
			goto out;
		}
	} else {
		fprintf(stderr, "the engine has the bundle's workspace image %.19s already\n", id);
	}
	sb_reset(&err);
	if (engine_tag(&e, id, ws->image, &err) != 0) {
		sb_rtrim(&err);
		error("cannot tag image %.19s as '%s': %s", id, ws->image, err.len ? err.buf : "no message");
		goto out;
	}
	fprintf(stderr, "workspace '%s' runs the bundle's image %.19s as %s (nothing built)\n",
		ws->name, id, ws->image);
	ret = 0;
out:
	if (tar)
		unlink(tar);
	free(tar);
	free(have);
	sb_release(&out);
	sb_release(&err);
	return ret;
}

/*
 * The run was made inside workspace NAME: build its image exactly from the
 * bundle's lock (build --frozen), or take the image the bundle carries
 * (pack --with-image), start it unless it runs, and replay inside it (where
 * SYNTHFLOW_WORKSPACE says so) a copy of the bundle put in flow/.
 */
static int replay_in_workspace(struct sf_ctx *ctx, struct replay *rp, const char *name)
{
	struct ws ws = { 0 };
	struct ws_lock lock = { 0 };
	struct engine e;
	struct engine_container c = { 0 };
	const char *data_dir = ctx->cfg.data_dir;
	char *copy = NULL, *inner = NULL;
	bool started = false, have_c = false;
	int ret = 1, r;
	json_t *img = json_object_get(rp->meta, "image");

	if (json_is_object(img)) {
		if (ws_open(&ws, data_dir, name) < 0 || use_bundled_image(ctx, rp, &ws, img) < 0)
			goto out;
	} else if (!rp->lock.len) {
		error("run '%s' was made inside workspace '%s' and bundle '%s' has no lock to build "
		      "its image from; on the machine that made it, run 'synthflow lock %s' and pack "
		      "again", json_string_value(json_object_get(rp->meta, "run_id")), name, rp->file,
		      name);
		goto out;
	} else if (ws_open(&ws, data_dir, name) < 0 || ws_lock_read(&ws, &lock) != 0 ||
		   build_frozen(ctx, &ws, &lock) < 0) {
		goto out;
	}
	if (engine_open(&ctx->cfg, &e, NULL) < 0 || (r = engine_running_workspace(&e, data_dir, &c)) < 0)
		goto out;
	have_c = r == 0;
	if (have_c && strcmp(c.workspace, name)) {
		error("workspace '%s' runs on '%s'; stop it ('synthflow stop') to replay in '%s'",
		      c.workspace, data_dir, name);
		goto out;
	}
	if (!have_c) {
		if (self(data_dir, (const char *const[]){ "run", name, "--detach", NULL }) != 0)
			goto out;
		started = true;
		if (engine_running_workspace(&e, data_dir, &c) != 0) {
			error("workspace '%s' did not stay up after its start", name);
			goto out;
		}
		have_c = true;
	}
	copy = xasprintf("%s/flow/replay-%ld.sfpack", data_dir, (long)getpid());
	inner = xasprintf("/data/flow/replay-%ld.sfpack", (long)getpid());
	if (copy_file(rp->file, copy, 0644) < 0) {
		error_errno("cannot copy '%s' to '%s'", rp->file, copy);
		goto out;
	}
	fprintf(stderr, "replaying inside workspace '%s' (container %s)\n", name, c.name);
	fflush(stdout);
	r = engine_exec(&e, &(struct engine_exec_opts){
				    .container = c.name, .user = c.user, .workdir = "/data",
				    .cmd = (const char *const[]){ "synthflow", "replay", inner, "--data",
								  "/data", rp->json ? "--json" : NULL,
								  NULL } });
	ret = r == 0 ? 0 : 1;
out:
	if (copy)
		unlink(copy);
	if (started && self(data_dir, (const char *const[]){ "stop", NULL }) != 0)
		warning("the workspace '%s' started for the replay is still running; 'synthflow stop' "
			"stops it", name);
	if (have_c)
		engine_container_release(&c);
	free(copy);
	free(inner);
	ws_lock_release(&lock);
	if (ws.name)
		ws_release(&ws);
	return ret;
}

static int replay(struct sf_ctx *ctx, struct replay *rp)
{
	struct bundle b;
	struct store *st = NULL;
	json_t *warnings = NULL, *report = NULL, *ws_host, *v, *doc = NULL;
	struct store_run r = { 0 };
	const char *outer = NULL;
	char *run_id = NULL;
	size_t i;
	int ret = 1, same = 1;

	if (bundle_verify(rp->file, &b) < 0)
		return 1;
	for (i = 0; i < b.problems.nr; i++)
		fprintf(stderr, "%s\n", b.problems.v[i]);
	if (b.problems.nr) {
		error("bundle '%s' is not sound (%zu problem%s): nothing was replayed", rp->file,
		      b.problems.nr, b.problems.nr == 1 ? "" : "s");
		goto out;
	}
	rp->meta = json_incref(b.meta);
	ws_host = json_object_get(json_object_get(json_object_get(b.meta, "packed_from"), "host"),
				  "workspace");
	/* Made inside a workspace, and this is not (yet) inside that workspace's container. */
	if (json_is_object(ws_host)) {
		const char *inside = getenv("SYNTHFLOW_WORKSPACE");
		outer = json_string_value(json_object_get(ws_host, "name"));
		if (!outer || ws_check_name(outer) < 0) {
			error("bundle '%s': the workspace its run was made in has no valid name", rp->file);
			goto out;
		}
		if (inside && !strcmp(inside, outer))
			outer = NULL;
	}
	if (bundle_each(rp->file, "", grab, rp) < 0)
		goto out;
	if (data_folder(ctx, rp->data_opt ? rp->data_opt : ctx->opt_data ? ctx->opt_data : "run-data") <
		    0 ||
	    unpack_workspace(rp, ctx->cfg.data_dir) < 0 || unpack_inputs(rp, ctx->cfg.data_dir) < 0)
		goto out;
	if (outer) {
		ret = replay_in_workspace(ctx, rp, outer);
		goto out;
	}
	warnings = compare_host(b.meta);
	json_array_foreach(warnings, i, v)
		warning("%s", json_string_value(v));
	if (run_dag(ctx, rp, &run_id) < 0)
		goto out;
	st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!st || store_run_get(st, run_id, &r))
		goto out;
	report = json_pack("{s:s, s:O, s:s, s:s, s:O, s:o}", "run_id", run_id, "replay_of",
			   json_object_get(b.meta, "run_id"), "state", run_state_name(r.state), "bundle",
			   rp->file, "warnings", warnings, "files",
			   compare_outputs(st, b.meta, run_id, ctx->cfg.data_dir));
	json_array_foreach(json_object_get(report, "files"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "result")), "identical"))
			same = 0;
	json_object_set_new(report, "identical", json_boolean(same && r.state == RUN_SUCCESS));
	/* Kept with the run, for the UI's replay page. */
	if (store_prov_get(st, run_id, "", -1, &doc) == 0) {
		json_t *copy = json_deep_copy(report);
		json_object_set_new(doc, "replay", copy);
		store_prov_put(st, run_id, "", -1, doc);
		json_decref(doc);
	}
	if (rp->json) {
		cmd_print_json(report);
	} else {
		print_report(report);
	}
	ret = same && r.state == RUN_SUCCESS ? 0 : 1;
out:
	store_run_release(&r);
	store_close(st);
	json_decref(warnings);
	json_decref(report);
	free(run_id);
	bundle_release(&b);
	return ret;
}

static int exec_replay(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct replay rp = { .file = a->argv[0], .data_opt = cmd_str(a, "data", NULL),
			     .json = cmd_flag(a, "json") };
	int ret = replay(ctx, &rp);

	json_decref(rp.meta);
	sb_release(&rp.dag);
	sb_release(&rp.source);
	sb_release(&rp.diff);
	sb_release(&rp.lock);
	return ret;
}

const struct cmd_entry cmd_replay_entry = {
	.name = "replay",
	.summary = "run a bundle again and compare every output with it",
	.usage = "synthflow replay FILE [--data DIR] [--json]\n"
		 "\n"
		 "Verifies FILE, makes the data folder DIR (default ./run-data) when missing,\n"
		 "unpacks the workspace source, lock and inputs, warns when this host's OS or\n"
		 "program versions differ from the packing host's, runs the DAG with the\n"
		 "recorded params and variables (the new run's JSON has \"replay_of\"), and\n"
		 "prints each output: identical, different, missing or extra.  Exit 0 only\n"
		 "when every output is byte-identical.  A run made inside a workspace is\n"
		 "replayed inside it: its image built with 'build --frozen' from the bundle's\n"
		 "lock, the container started (and stopped after) when it was not running.\n"
		 "\n"
		 "  --data DIR   the data folder to replay in (made when missing)\n"
		 "  --json       the report as JSON\n",
	.args = "FILE",
	.options = (const struct cmd_option[]){
		CMD_STRING("data", 0, "DIR", "the data folder to replay in (made when missing)"),
		CMD_FLAG("json", 0, "the report as JSON"),
		CMD_END,
	},
	.exec = exec_replay,
};
