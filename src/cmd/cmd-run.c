/*
 * synthflow run [NAME] [--detach] [--gpus auto|all|none]: starts the
 * workspace container (pre-run.sh as root, then the engine as the user) and
 * waits for the engine's health check.  Without --detach it then opens a
 * shell and stops the container when the shell exits, as the seed's ./run
 * did.  A start that fails leaves no container behind.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/random.h"
#include "util/timeutil.h"
#include "util/tz.h"
#include "web/auth.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

#define START_TIMEOUT_MS 90000

/* The workspace built last (build-data/NAME/built with the newest mtime). */
static char *last_built(const char *data_dir)
{
	char *dir = path_join(data_dir, "build-data"), *best = NULL;
	DIR *d = opendir(dir);
	struct dirent *ent;
	struct timespec newest = { 0, 0 };

	while (d && (ent = readdir(d))) {
		char *p = xasprintf("%s/%s/built", dir, ent->d_name);
		struct stat st;
		if (ent->d_name[0] != '.' && stat(p, &st) == 0 &&
		    (st.st_mtim.tv_sec > newest.tv_sec ||
		     (st.st_mtim.tv_sec == newest.tv_sec && st.st_mtim.tv_nsec > newest.tv_nsec))) {
			newest = st.st_mtim;
			free(best);
			best = xstrdup(ent->d_name);
		}
		free(p);
	}
	if (d)
		closedir(d);
	free(dir);
	return best;
}

/* A container already using our name: refuse when it runs, clear it away when it is ours and stopped. */
static int clear_name(const struct engine *e, const struct ws *ws)
{
	struct engine_container c;
	int r = engine_inspect_container(e, ws->container, &c), ret = 0;

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (c.running)
		ret = error("workspace '%s' is already running (container %s); 'synthflow shell' "
			    "opens a shell in it, 'synthflow stop' stops it", ws->name, c.name);
	else if (strcmp(c.workspace, ws->name))
		ret = error("a container named '%s' exists and is not this workspace's; remove it "
			    "with '%s rm %s'", c.name, e->cli, c.name);
	else
		engine_remove(e, ws->container);
	engine_container_release(&c);
	return ret;
}

static int check_ports(const struct config *cfg)
{
	if (cfg->port_web == cfg->port_jupyter)
		return error("ports.web and ports.jupyter are both %d; give them different numbers "
			     "in synthflow.yaml", cfg->port_web);
	if (!ws_port_free(cfg->port_web))
		return error("port %d on 127.0.0.1 is already in use; stop what uses it or set "
			     "ports.web in synthflow.yaml (or SYNTHFLOW_PORTS_WEB)", cfg->port_web);
	if (!ws_port_free(cfg->port_jupyter))
		return error("port %d on 127.0.0.1 is already in use; stop what uses it or set "
			     "ports.jupyter in synthflow.yaml (or SYNTHFLOW_PORTS_JUPYTER)",
			     cfg->port_jupyter);
	return 0;
}

/* Root on the host runs the workspace as UID 1000: let it write where the engine writes. */
static int grant_if_root(const struct engine *e, const struct ws *ws, const char *image_user)
{
	unsigned uid = 0;
	int ret;

	if (geteuid() != 0 || e->rootless || sscanf(image_user, "%u", &uid) != 1 || uid == 0)
		return 0;
	ret = ws_grant_access(ws->data_dir, (uid_t)uid);
	if (!ret)
		note("the workspace user is UID %u: it may write to flow/, generated/ and uploadable/ "
		     "through ACL entries (owners unchanged)", uid);
	return ret;
}

static int decide_gpus(const char *mode, const char *info, enum engine_gpu *gpu)
{
	struct strvec dirs = STRVEC_INIT;
	struct strbuf why = STRBUF_INIT;
	int r;

	engine_cdi_dirs(info, &dirs);
	r = engine_gpu_decide(mode, info, engine_host_has_cdi_nvidia(&dirs), gpu, &why);
	if (!r && why.len)
		warning("%s", why.buf);
	strvec_clear(&dirs);
	sb_release(&why);
	return r;
}

/* What sf-start prints when pre-run.sh or the engine fails: no point waiting further. */
static int start_failed(const struct engine *e, const struct ws *ws)
{
	struct strbuf out = STRBUF_INIT;
	int failed;
	engine_logs(e, ws->container, &out);
	failed = strstr(out.buf, "==> synthflow: the engine exited") ||
		 strstr(out.buf, "==> synthflow: hook pre-run.sh failed");
	sb_release(&out);
	return failed;
}

/* Polls the engine's health check; fails early when the container or the engine stops. */
static int wait_healthy(const struct engine *e, const struct ws *ws, int port)
{
	int64_t deadline = time_mono_ms() + START_TIMEOUT_MS;
	while (time_mono_ms() < deadline) {
		struct engine_container c;
		int r, running;
		struct strbuf why = STRBUF_INIT;
		int st = ws_engine_health(port, 1000, &why);
		if (st > 0 && st != 200)
			warning("the engine answers but is unhealthy: %s", why.buf);
		sb_release(&why);
		if (st > 0)
			return 0; /* any answer: it is up (a 503 says what to look at) */
		r = engine_inspect_container(e, ws->container, &c);
		running = r == 0 && c.running;
		if (r == 0)
			engine_container_release(&c);
		if (!running || start_failed(e, ws)) {
			engine_logs_tail(e, ws->container, 30);
			return error("the workspace failed to start (see its output above)");
		}
		usleep(250 * 1000);
	}
	engine_logs_tail(e, ws->container, 30);
	return error("the engine did not answer http://127.0.0.1:%d/api/v1/health within %ds",
		     port, START_TIMEOUT_MS / 1000);
}

static int start(const struct engine *e, const struct ws *ws, const struct config *cfg,
		 const char *user, enum engine_gpu gpu)
{
	char token[49], *downloaded = path_join(ws->data_dir, "downloaded");
	struct strbuf tz_err = STRBUF_INIT;
	struct tz *host_tz = tz_load(NULL, &tz_err);
	/* a zone known only as /etc/localtime's content has no name to pass */
	const char *tz_name_ = host_tz && strcmp(tz_name(host_tz), "localtime") ? tz_name(host_tz) : NULL;
	/* the tag may move (a later build): the run's provenance names the image by id */
	char *image_id = engine_image_format(e, ws->image, "{{.Id}}");
	struct engine_run_opts o = { ws->container, ws->image, ws->name, user,
				     ws->data_dir, downloaded, cfg->port_web, cfg->port_jupyter,
				     gpu, token, tz_name_, image_id };
	struct strvec av = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	int st, ret = 0;

	if (random_hex(token, 24) < 0)
		die("cannot get random bytes: %s", strerror(errno));
	if (!is_dir(downloaded) && mkdir_p(downloaded, 0755) < 0) {
		ret = error_errno("cannot create '%s'", downloaded);
		goto out;
	}
	engine_run_args(e, &o, &av);
	st = spawn_capture(strvec_argv(&av), NULL, &err);
	if (st != 0) {
		sb_rtrim(&err);
		engine_remove(e, ws->container);
		ret = error("'%s run' failed: %s", e->cli, err.len ? err.buf : "no message");
		goto out;
	}
	if (wait_healthy(e, ws, cfg->port_web) < 0) {
		engine_remove(e, ws->container);
		ret = -1;
	}
out:
	strvec_clear(&av);
	sb_release(&err);
	sb_release(&tz_err);
	tz_free(host_tz);
	free(downloaded);
	free(image_id);
	return ret;
}

static void print_urls(const struct ws *ws, const struct config *cfg, enum engine_gpu gpu)
{
	char *token = auth_token_load(ws->data_dir, 0);
	printf("workspace '%s' is running (container %s, GPUs: %s)\n", ws->name, ws->container,
	       engine_gpu_name(gpu));
	if (token)
		printf("  web UI:  http://127.0.0.1:%d/?token=%s\n", cfg->port_web, token);
	else
		printf("  web UI:  http://127.0.0.1:%d/\n", cfg->port_web);
	printf("  jupyter: 'synthflow jupyter' starts it on http://127.0.0.1:%d/\n",
	       cfg->port_jupyter);
	free(token);
}

/* The seed's ./run: a shell in the workspace, and the container stops with it. */
static int attach(const struct engine *e, const struct ws *ws, const char *user)
{
	const char *cmd[] = { "bash", NULL };
	char *wd = xasprintf("/data/src/%s", ws->name);
	struct engine_exec_opts o = { ws->container, user, wd, true,
				      isatty(0) && isatty(1), false, cmd };
	struct strvec av = STRVEC_INIT;
	int st;

	engine_exec_args(e, &o, &av);
	st = spawn_interactive(strvec_argv(&av));
	fprintf(stderr, "stopping workspace '%s'\n", ws->name);
	engine_stop(e, ws->container, NULL);
	engine_remove(e, ws->container);
	strvec_clear(&av);
	free(wd);
	return st < 0 ? 1 : st;
}

static int run(struct sf_ctx *ctx, const char *name, bool detach, const char *gpus)
{
	struct engine e;
	struct ws ws = { 0 };
	struct strbuf info = STRBUF_INIT;
	enum engine_gpu gpu;
	char *user = NULL, *last = NULL;
	int ret = 1;

	if (!name && !(name = last = last_built(ctx->cfg.data_dir))) {
		error("no workspace has been built in '%s' yet; build one with 'synthflow build NAME'",
		      ctx->cfg.data_dir);
		goto out;
	}
	if (ws_open(&ws, ctx->cfg.data_dir, name) < 0)
		goto out;
	if (engine_open(&ctx->cfg, &e, &info) < 0) {
		cmd_doctor_hint();
		goto out;
	}
	/* The image's own user (uid:gid), whatever workspace.user says now. */
	user = engine_image_format(&e, ws.image, "{{.Config.User}}");
	if (!user) {
		error("workspace '%s' has no image yet; build it with 'synthflow build %s'", ws.name,
		      ws.name);
		goto out;
	}
	if (decide_gpus(gpus, info.buf, &gpu) < 0 || clear_name(&e, &ws) < 0)
		goto out;
	/* Machine trouble: a port taken, no ACLs on the data folder, GPUs the engine cannot pass. */
	if (check_ports(&ctx->cfg) < 0 || grant_if_root(&e, &ws, user) < 0) {
		cmd_doctor_hint();
		goto out;
	}
	if (start(&e, &ws, &ctx->cfg, user, gpu) < 0) {
		if (gpu != ENGINE_GPU_NONE)
			cmd_doctor_hint();
		goto out;
	}
	print_urls(&ws, &ctx->cfg, gpu);
	fflush(stdout);
	ret = detach ? 0 : attach(&e, &ws, user);
out:
	free(user);
	free(last);
	sb_release(&info);
	if (ws.name)
		ws_release(&ws);
	return ret;
}

static int exec_run(const struct cmd_args *a, struct sf_ctx *ctx)
{
	return run(ctx, a->argc ? a->argv[0] : NULL, cmd_flag(a, "detach"),
		   cmd_str(a, "gpus", ctx->cfg.ws_gpus));
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.summary = "start a workspace container",
	.usage = "synthflow run [NAME] [--detach] [--gpus auto|all|none]\n"
		 "\n"
		 "Starts the workspace NAME (default: the one built last): run-data at /data,\n"
		 "downloaded/ read-only, the web and Jupyter ports on 127.0.0.1 only,\n"
		 "pre-run.sh as root, then the engine as the workspace user.  Without\n"
		 "--detach a shell opens and the container stops when it exits.\n"
		 "\n"
		 "  -d, --detach   return once the engine answers its health check\n"
		 "  --gpus MODE    auto (default: GPUs when the engine has the NVIDIA runtime\n"
		 "                 or a CDI spec), all, or none\n",
	.args = "[NAME]",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("detach", 'd', "return once the engine answers its health check"),
		CMD_CHOICE("gpus", 0, "MODE", "auto|all|none", "GPUs in the container (default workspace.gpus)"),
		CMD_END,
	},
	.exec = exec_run,
};
