/*
 * The container engine's CLI.  Command lines are argv arrays built by pure
 * functions (unit-tested without an engine); nothing goes through a shell.
 */
#include "workspace/engine.h"

#include <dirent.h>
#include <unistd.h>
#include <jansson.h>

#include "util/common.h"
#include "util/fs.h"
#include "workspace/ws.h"

void engine_init(struct engine *e, const char *name, bool rootless)
{
	e->kind = name && !strcmp(name, "podman") ? ENGINE_PODMAN : ENGINE_DOCKER;
	e->cli = e->kind == ENGINE_PODMAN ? "podman" : "docker";
	e->rootless = e->kind == ENGINE_PODMAN && rootless;
}

void engine_trouble(const struct engine *e, const char *client_err, const char **what,
		    const char **fix)
{
	if (!spawn_in_path(e->cli)) {
		*what = e->kind == ENGINE_PODMAN ? "no container engine: 'podman' is not installed"
						 : "no container engine: 'docker' is not installed";
		*fix = e->kind == ENGINE_PODMAN
			       ? "install it with 'sudo apt-get install podman' (or set workspace.engine: "
				 "docker)"
			       : "install it with 'sudo apt-get install docker.io' and start it with 'sudo "
				 "systemctl start docker' (or set workspace.engine: podman)";
	} else if (e->kind == ENGINE_PODMAN) {
		*what = "podman does not answer";
		*fix = "install it with 'sudo apt-get install podman' and check 'podman info'";
	} else if (client_err && strstr(client_err, "permission denied")) {
		*what = "no permission to talk to the Docker engine";
		*fix = "add yourself to the docker group ('sudo usermod -aG docker $USER', then log in "
		       "again), run rootless Podman (workspace.engine: podman), or run as root";
	} else {
		*what = "the Docker engine is not running";
		*fix = "start it with 'sudo systemctl start docker', or 'sudo dockerd &' where there "
		       "is no systemd";
	}
}

static int explain_no_engine(const struct engine *e, const char *msg)
{
	const char *what, *fix;

	engine_trouble(e, msg, &what, &fix);
	if (msg)
		return error("%s (%s); %s", what, msg, fix);
	return error("%s; %s", what, fix);
}

int engine_info(const struct engine *e, struct strbuf *info, struct strbuf *why)
{
	const char *args[] = { e->cli, "info", "--format", "{{json .}}", NULL };
	struct strbuf err = STRBUF_INIT;
	char *nl;

	if (!spawn_in_path(e->cli))
		return -1;
	if (spawn_capture(args, info, &err) == 0) {
		sb_release(&err);
		return 0;
	}
	sb_rtrim(&err);
	/* The client's first line says why (no daemon, permission denied, ...). */
	if ((nl = strchr(err.buf, '\n')))
		*nl = '\0';
	sb_adds(why, err.buf);
	sb_release(&err);
	return 1;
}

int engine_probe(const struct engine *e, struct strbuf *info)
{
	struct strbuf why = STRBUF_INIT;
	int st = engine_info(e, info, &why);

	if (st < 0)
		st = explain_no_engine(e, NULL);
	else if (st > 0)
		st = explain_no_engine(e, why.len ? why.buf : "no answer");
	sb_release(&why);
	return st ? -1 : 0;
}

const char *engine_gpu_name(enum engine_gpu g)
{
	switch (g) {
	case ENGINE_GPU_RUNTIME:
		return "all";
	case ENGINE_GPU_CDI:
		return "cdi";
	default:
		return "none";
	}
}

static int info_has_nvidia_runtime(json_t *info)
{
	json_t *rt = json_object_get(info, "Runtimes");
	const char *key;
	json_t *v;
	json_object_foreach(rt, key, v)
		if (strstr(key, "nvidia"))
			return 1;
	return 0;
}

/* Docker 28.2+ lists CDI devices it found: [{"Source":"cdi","ID":"nvidia.com/gpu=0"}]. */
static int info_has_cdi_nvidia(json_t *info)
{
	json_t *devs = json_object_get(info, "DiscoveredDevices");
	size_t i;
	json_t *d;
	json_array_foreach(devs, i, d) {
		const char *id = json_string_value(json_object_get(d, "ID"));
		if (id && !strncmp(id, "nvidia.com/gpu", 14))
			return 1;
	}
	return 0;
}

int engine_gpu_decide(const char *mode, const char *info_json, bool host_cdi_nvidia,
		      enum engine_gpu *out, struct strbuf *why)
{
	json_t *info = info_json ? json_loads(info_json, 0, NULL) : NULL;
	int runtime = info && info_has_nvidia_runtime(info);
	int cdi = host_cdi_nvidia || (info && info_has_cdi_nvidia(info));

	json_decref(info);
	if (!strcmp(mode, "none")) {
		*out = ENGINE_GPU_NONE;
		return 0;
	}
	if (strcmp(mode, "auto") && strcmp(mode, "all"))
		return error("--gpus must be 'auto', 'all' or 'none', got '%s'", mode);
	if (runtime)
		*out = ENGINE_GPU_RUNTIME;
	else if (cdi)
		*out = ENGINE_GPU_CDI;
	else if (!strcmp(mode, "all"))
		*out = ENGINE_GPU_RUNTIME; /* the engine's own error names what is missing */
	else {
		*out = ENGINE_GPU_NONE;
		sb_adds(why, "no GPUs: the engine has no NVIDIA runtime and there is no CDI spec for "
			     "nvidia.com/gpu; install nvidia-container-toolkit to use them "
			     "(continuing without)");
	}
	return 0;
}

void engine_cdi_dirs(const char *info_json, struct strvec *dirs)
{
	json_t *info = info_json ? json_loads(info_json, 0, NULL) : NULL;
	json_t *list = json_object_get(info, "CDISpecDirs");
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
		if (json_string_value(d))
			strvec_push(dirs, json_string_value(d));
	json_decref(info);
	if (!dirs->nr) {
		strvec_push(dirs, "/etc/cdi");
		strvec_push(dirs, "/var/run/cdi");
	}
}

int engine_host_has_cdi_nvidia(const struct strvec *dirs)
{
	int found = 0;
	for (size_t i = 0; i < dirs->nr && !found; i++) {
		DIR *d = opendir(dirs->v[i]);
		struct dirent *ent;
		if (!d)
			continue;
		while (!found && (ent = readdir(d))) {
			struct strbuf sb = STRBUF_INIT;
			char *p;
			if (ent->d_name[0] == '.')
				continue;
			p = path_join(dirs->v[i], ent->d_name);
			sb.max = 1 << 20;
			if (sb_read_file(&sb, p) == 0 && strstr(sb.buf, "nvidia.com/gpu"))
				found = 1;
			sb_release(&sb);
			free(p);
		}
		closedir(d);
	}
	return found;
}

void engine_build_args(const struct engine *e, const struct engine_build_opts *o, struct strvec *av)
{
	strvec_push(av, e->cli);
	strvec_push(av, "build");
	strvec_pushv(av, (const char *const[]){ "--file", o->dockerfile, "--tag", o->image, NULL });
	/* A failed step leaves no stopped intermediate container behind. */
	strvec_push(av, "--force-rm");
	if (o->no_cache)
		strvec_push(av, "--no-cache");
	if (o->pull)
		strvec_push(av, "--pull");
	strvec_push(av, o->context);
}

static void gpu_args(enum engine_gpu gpu, struct strvec *av)
{
	if (gpu == ENGINE_GPU_RUNTIME)
		strvec_pushv(av, (const char *const[]){ "--gpus", "all", NULL });
	else if (gpu == ENGINE_GPU_CDI)
		strvec_pushv(av, (const char *const[]){ "--device", "nvidia.com/gpu=all", NULL });
}

void engine_gpu_test_args(const struct engine *e, enum engine_gpu gpu, const char *image,
			  struct strvec *av)
{
	strvec_pushv(av, (const char *const[]){ e->cli, "run", "--rm", NULL });
	gpu_args(gpu, av);
	strvec_pushv(av, (const char *const[]){ image, "nvidia-smi", "-L", NULL });
}

void engine_run_args(const struct engine *e, const struct engine_run_opts *o, struct strvec *av)
{
	const char *ro = e->kind == ENGINE_PODMAN ? "ro=true" : "readonly";

	strvec_pushv(av, (const char *const[]){ e->cli, "run", "--detach", "--init", NULL });
	strvec_pushv(av, (const char *const[]){ "--name", o->container, "--hostname", "synthflow",
						NULL });
	strvec_pushf(av, "--label=" WS_LABEL_WORKSPACE "=%s", o->workspace);
	strvec_pushf(av, "--label=" WS_LABEL_DATA "=%s", o->data_dir);
	strvec_pushf(av, "--label=" WS_LABEL_USER "=%s", o->user);
	strvec_pushf(av, "--label=" WS_LABEL_GPUS "=%s", engine_gpu_name(o->gpu));
	strvec_pushf(av, "--label=" WS_LABEL_WEB "=%d", o->port_web);
	strvec_pushf(av, "--label=" WS_LABEL_JUPYTER "=%d", o->port_jupyter);
	/* pre-run.sh needs root; sf-start drops to the image's user for the engine. */
	strvec_pushv(av, (const char *const[]){ "--user", "0:0", NULL });
	strvec_push(av, "--mount");
	strvec_pushf(av, "type=bind,source=%s,target=/data", o->data_dir);
	strvec_push(av, "--mount");
	strvec_pushf(av, "type=bind,source=%s,target=/data/downloaded,%s", o->downloaded_dir, ro);
	strvec_push(av, "--publish");
	strvec_pushf(av, "127.0.0.1:%d:%d", o->port_web, o->port_web);
	strvec_push(av, "--publish");
	strvec_pushf(av, "127.0.0.1:%d:%d", o->port_jupyter, o->port_jupyter);
	strvec_push(av, "--env");
	strvec_pushf(av, "JUPYTER_TOKEN=%s", o->jupyter_token);
	/* Recorded in the provenance of every run inside (docs/replication.md). */
	strvec_push(av, "--env");
	strvec_pushf(av, "SYNTHFLOW_WORKSPACE=%s", o->workspace);
	strvec_push(av, "--env");
	strvec_pushf(av, "SYNTHFLOW_IMAGE=%s", o->image);
	if (o->image_id) {
		strvec_push(av, "--env");
		strvec_pushf(av, "SYNTHFLOW_IMAGE_ID=%s", o->image_id);
	}
	if (o->tz) {
		/* a DAG schedule without a timezone: the host's zone, inside too */
		strvec_push(av, "--env");
		strvec_pushf(av, "TZ=%s", o->tz);
	}
	gpu_args(o->gpu, av);
	if (e->kind == ENGINE_PODMAN) {
		/* Rootless podman maps the host user to the same UID inside, so files stay theirs. */
		if (e->rootless)
			strvec_push(av, "--userns=keep-id");
		strvec_pushv(av, (const char *const[]){ "--security-opt", "label=disable", NULL });
	}
	strvec_push(av, o->image);
	strvec_push(av, WS_IMAGE_DIR "/bin/sf-start");
	strvec_pushf(av, "%d", o->port_web);
}

/* `ENGINE exec` with o's settings, env ("K=V", NULL-terminated, may be NULL) and command. */
static void exec_args(const struct engine *e, const struct engine_exec_opts *o,
		      const char *const *env, struct strvec *av)
{
	strvec_pushv(av, (const char *const[]){ e->cli, "exec", NULL });
	if (o->detach)
		strvec_push(av, "--detach");
	if (o->interactive)
		strvec_push(av, "--interactive");
	if (o->tty)
		strvec_push(av, "--tty");
	strvec_pushv(av, (const char *const[]){ "--user", o->user, NULL });
	if (o->workdir)
		strvec_pushv(av, (const char *const[]){ "--workdir", o->workdir, NULL });
	for (; env && *env; env++)
		strvec_pushv(av, (const char *const[]){ "--env", *env, NULL });
	strvec_push(av, o->container);
	strvec_pushv(av, o->cmd);
}

void engine_exec_args(const struct engine *e, const struct engine_exec_opts *o, struct strvec *av)
{
	exec_args(e, o, NULL, av);
}

int engine_exec_capture(const struct engine *e, const struct engine_exec_opts *o,
			const char *const *env, struct strbuf *out, struct strbuf *err)
{
	struct strvec av = STRVEC_INIT;
	int st;

	exec_args(e, o, env, &av);
	st = spawn_capture(strvec_argv(&av), out, err);
	strvec_clear(&av);
	return st;
}

int engine_stop(const struct engine *e, const char *container, struct strbuf *err)
{
	return spawn_capture((const char *const[]){ e->cli, "stop", container, NULL }, NULL, err);
}

int engine_rm(const struct engine *e, const char *container, struct strbuf *err)
{
	return spawn_capture((const char *const[]){ e->cli, "rm", container, NULL }, NULL, err);
}

int engine_save(const struct engine *e, const char *image, const char *path, struct strbuf *err)
{
	return spawn_capture((const char *const[]){ e->cli, "save", "-o", path, image, NULL }, NULL,
			     err);
}

int engine_load(const struct engine *e, const char *path, struct strbuf *out, struct strbuf *err)
{
	return spawn_capture((const char *const[]){ e->cli, "load", "-i", path, NULL }, out, err);
}

int engine_pull(const struct engine *e, const char *image, struct strbuf *err)
{
	return spawn_capture((const char *const[]){ e->cli, "pull", "--quiet", image, NULL }, NULL,
			     err);
}

int engine_tag(const struct engine *e, const char *image, const char *tag, struct strbuf *err)
{
	return spawn_capture((const char *const[]){ e->cli, "tag", image, tag, NULL }, NULL, err);
}

void engine_rmi(const struct engine *e, const char *image)
{
	spawn_capture((const char *const[]){ e->cli, "rmi", image, NULL }, NULL, NULL);
}

void engine_logs(const struct engine *e, const char *container, struct strbuf *out)
{
	spawn_capture((const char *const[]){ e->cli, "logs", container, NULL }, out, out);
}

void engine_import_args(const struct engine *e, const char *image, const char *const *labels,
			struct strvec *av)
{
	strvec_pushv(av, (const char *const[]){ e->cli, "import", "--change", "ENV LANG=C.UTF-8",
						"--change", "CMD [\"/bin/bash\"]", NULL });
	for (; labels && labels[0] && labels[1]; labels += 2) {
		/* The value as a Dockerfile LABEL reads it: in double quotes, \ and " escaped. */
		struct strbuf sb = STRBUF_INIT;
		sb_addf(&sb, "LABEL %s=\"", labels[0]);
		for (const char *p = labels[1]; *p; p++) {
			if (*p == '"' || *p == '\\')
				sb_addch(&sb, '\\');
			sb_addch(&sb, *p);
		}
		sb_addch(&sb, '"');
		strvec_pushv(av, (const char *const[]){ "--change", sb.buf, NULL });
		sb_release(&sb);
	}
	strvec_pushv(av, (const char *const[]){ "-", image, NULL });
}

void engine_image_run_args(const struct engine *e, const char *image, const char *const *cmd,
			   struct strvec *av)
{
	strvec_pushv(av, (const char *const[]){ e->cli, "run", "--rm", "--network", "none",
						"--user", "0:0", "--entrypoint", "", image, NULL });
	strvec_pushv(av, cmd);
}

int engine_image_run_capture(const struct engine *e, const char *image, const char *const *cmd,
			     struct strbuf *out, struct strbuf *err)
{
	struct strvec av = STRVEC_INIT;
	int st;

	engine_image_run_args(e, image, cmd, &av);
	st = spawn_capture(strvec_argv(&av), out, err);
	strvec_clear(&av);
	return st;
}

char *engine_version(const struct engine *e)
{
	const char *tmpl = e->kind == ENGINE_PODMAN ? "{{.Client.Version}}" : "{{.Server.Version}}";
	struct strbuf out = STRBUF_INIT;
	char *ret = NULL;

	if (spawn_capture((const char *const[]){ e->cli, "version", "--format", tmpl, NULL }, &out,
			  NULL) == 0) {
		sb_rtrim(&out);
		if (out.len)
			ret = xasprintf("%s %s", e->cli, out.buf);
	}
	sb_release(&out);
	return ret;
}

int engine_find_containers(const struct engine *e, const char *data_dir, struct strvec *names)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int st;

	strvec_pushv(&av, (const char *const[]){ e->cli, "ps", "--all", "--format", "{{.Names}}",
						 NULL });
	strvec_pushf(&av, "--filter=label=" WS_LABEL_DATA "=%s", data_dir);
	st = spawn_capture(strvec_argv(&av), &out, &err);
	if (st != 0) {
		sb_rtrim(&err);
		error("'%s ps' failed: %s", e->cli, err.buf);
	} else {
		for (char *line = strtok(out.buf, "\n"); line; line = strtok(NULL, "\n"))
			if (*line)
				strvec_push(names, line);
	}
	strvec_clear(&av);
	sb_release(&out);
	sb_release(&err);
	return st ? -1 : 0;
}

static char *label_dup(json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));
	return xstrdup(v ? v : "");
}

static int label_int(json_t *labels, const char *key)
{
	const char *v = json_string_value(json_object_get(labels, key));
	return v ? atoi(v) : 0;
}

static char *env_value(json_t *env, const char *key)
{
	size_t i, klen = strlen(key);
	json_t *v;
	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (s && !strncmp(s, key, klen) && s[klen] == '=')
			return xstrdup(s + klen + 1);
	}
	return xstrdup("");
}

int engine_container_parse(const char *json, struct engine_container *c)
{
	json_t *arr = json_loads(json, 0, NULL);
	json_t *o = json_array_get(arr, 0);
	json_t *labels = json_object_get(json_object_get(o, "Config"), "Labels");
	json_t *state = json_object_get(o, "State");
	const char *name = json_string_value(json_object_get(o, "Name"));
	const char *status = json_string_value(json_object_get(state, "Status"));
	const char *image = json_string_value(json_object_get(json_object_get(o, "Config"), "Image"));

	memset(c, 0, sizeof(*c));
	if (!o || !json_is_object(o)) {
		json_decref(arr);
		return error("cannot read the engine's description of the container");
	}
	c->name = xstrdup(name ? name + (*name == '/') : "");
	c->image = xstrdup(image ? image : "");
	c->image_id = xstrdup(json_string_value(json_object_get(o, "Image"))
				      ? json_string_value(json_object_get(o, "Image"))
				      : "");
	c->state = xstrdup(status ? status : "unknown");
	c->running = json_is_true(json_object_get(state, "Running"));
	c->workspace = label_dup(labels, WS_LABEL_WORKSPACE);
	c->user = label_dup(labels, WS_LABEL_USER);
	c->gpus = label_dup(labels, WS_LABEL_GPUS);
	c->port_web = label_int(labels, WS_LABEL_WEB);
	c->port_jupyter = label_int(labels, WS_LABEL_JUPYTER);
	c->jupyter_token = env_value(json_object_get(json_object_get(o, "Config"), "Env"),
				     "JUPYTER_TOKEN");
	json_decref(arr);
	return 0;
}

void engine_container_release(struct engine_container *c)
{
	free(c->name);
	free(c->image);
	free(c->image_id);
	free(c->state);
	free(c->workspace);
	free(c->user);
	free(c->gpus);
	free(c->jupyter_token);
	memset(c, 0, sizeof(*c));
}

int engine_inspect_container(const struct engine *e, const char *name, struct engine_container *c)
{
	const char *args[] = { e->cli, "container", "inspect", name, NULL };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int st = spawn_capture(args, &out, &err), ret;

	if (st != 0)
		ret = strstr(err.buf, "o such") ? 1 : error("'%s inspect %s' failed: %s", e->cli, name,
							     err.buf);
	else
		ret = engine_container_parse(out.buf, c);
	sb_release(&out);
	sb_release(&err);
	return ret;
}

char *engine_image_format(const struct engine *e, const char *image, const char *tmpl)
{
	struct strbuf out = STRBUF_INIT;
	if (spawn_capture((const char *const[]){ e->cli, "image", "inspect", "--format", tmpl, image,
						 NULL },
			  &out, NULL) != 0) {
		sb_release(&out);
		return NULL;
	}
	sb_rtrim(&out);
	return sb_detach(&out, NULL);
}

char *engine_image_label(const struct engine *e, const char *image, const char *label, char **id)
{
	/* with: an image with no labels at all has a nil map, which index refuses */
	char *tmpl = xasprintf("{{.Id}}\t{{with .Config.Labels}}{{index . \"%s\"}}{{end}}", label);
	char *out = engine_image_format(e, image, tmpl), *tab, *ret = NULL;

	/* One call for both: each engine call costs tens of milliseconds. */
	if (out && (tab = strchr(out, '\t'))) {
		*tab = '\0';
		ret = xstrdup(strcmp(tab + 1, "<no value>") ? tab + 1 : "");
		if (id)
			*id = xstrdup(out);
	}
	free(tmpl);
	free(out);
	return ret;
}

int engine_running_workspace(const struct engine *e, const char *data_dir,
			     struct engine_container *c)
{
	struct strvec names = STRVEC_INIT;
	int ret = 1;

	if (engine_find_containers(e, data_dir, &names) < 0)
		return -1;
	for (size_t i = 0; i < names.nr && ret == 1; i++) {
		int r = engine_inspect_container(e, names.v[i], c);
		if (r < 0)
			ret = -1;
		else if (r == 0 && c->running)
			ret = 0;
		else if (r == 0)
			engine_container_release(c);
	}
	strvec_clear(&names);
	return ret;
}

int engine_open(const struct config *cfg, struct engine *e, struct strbuf *info)
{
	struct strbuf scratch = STRBUF_INIT;
	int r;
	engine_init(e, cfg->ws_engine, geteuid() != 0);
	r = engine_probe(e, info ? info : &scratch);
	sb_release(&scratch);
	return r;
}

int engine_open_running(const struct config *cfg, struct engine *e, struct engine_container *c)
{
	int r = engine_open(cfg, e, NULL);
	if (r == 0)
		r = engine_running_workspace(e, cfg->data_dir, c);
	if (r == 1)
		return error("no workspace is running for '%s'; start one with 'synthflow run NAME'",
			     cfg->data_dir);
	return r;
}

void engine_logs_tail(const struct engine *e, const char *container, int lines)
{
	struct strbuf out = STRBUF_INIT;
	char n[16];
	snprintf(n, sizeof(n), "%d", lines);
	spawn_capture((const char *const[]){ e->cli, "logs", "--tail", n, container, NULL }, &out,
		      &out);
	if (out.len) {
		fprintf(stderr, "--- last lines of the container's output ---\n%s", out.buf);
		if (out.buf[out.len - 1] != '\n')
			fputc('\n', stderr);
		fputs("---\n", stderr);
	}
	sb_release(&out);
}

void engine_remove(const struct engine *e, const char *container)
{
	spawn_capture((const char *const[]){ e->cli, "rm", "--force", container, NULL }, NULL, NULL);
}

int engine_exec(const struct engine *e, const struct engine_exec_opts *o)
{
	struct strvec av = STRVEC_INIT;
	int st;
	engine_exec_args(e, o, &av);
	st = spawn_interactive(strvec_argv(&av));
	strvec_clear(&av);
	return st;
}
