/*
 * Local tries of `container: WORKSPACE` tasks (container.h): the workspace
 * engine's `run` of the workspace image, as the scheduler's user, with the
 * data folder bound at its own path.  The engine's client is the try's
 * process: its output is the container's, its exit status the command's,
 * and a SIGTERM to it reaches the container (the client passes signals on).
 */
#include <unistd.h>

#include "flow/container.h"
#include "flow/exec-impl.h"
#include "flow/sched-int.h"
#include "util/common.h"
#include "util/timeutil.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

/*
 * Workspaces whose image was found lately: each look costs an engine call
 * (tens of milliseconds in the scheduler's loop), and a foreach starts
 * many tries of one image.  A deleted image is noticed within this long.
 */
#define SEEN_MS 30000
static struct seen {
	char *image; /* "CLI IMAGE" */
	int64_t until;
} seen[8];

static int image_seen(const char *image)
{
	int64_t now = time_mono_ms();
	for (size_t i = 0; i < ARRAY_SIZE(seen); i++)
		if (seen[i].image && !strcmp(seen[i].image, image) && seen[i].until > now)
			return 1;
	return 0;
}

static void image_saw(const char *image)
{
	size_t old = 0;
	for (size_t i = 0; i < ARRAY_SIZE(seen); i++)
		if (seen[i].until < seen[old].until)
			old = i;
	free(seen[old].image);
	seen[old].image = xstrdup(image);
	seen[old].until = time_mono_ms() + SEEN_MS;
}

/* 0 when the engine has the image; -1 with what is missing in err. */
static int check_image(const struct engine *e, const struct dag_task *def, const char *image,
		       struct strbuf *err)
{
	struct strbuf info = STRBUF_INIT, why = STRBUF_INIT;
	char *id;
	int r;

	char *seen_as = xasprintf("%s %s", e->cli, image);

	if (image_seen(seen_as)) {
		free(seen_as);
		return 0;
	}
	if ((id = engine_image_format(e, image, "{{.Id}}"))) {
		free(id);
		image_saw(seen_as);
		free(seen_as);
		return 0;
	}
	free(seen_as);
	r = engine_info(e, &info, &why);
	if (r < 0)
		sb_addf(err, "task '%s' runs in workspace '%s' (container:) through '%s' "
			     "(workspace.engine), which is not installed on this machine",
			def->id, def->container, e->cli);
	else if (r > 0)
		sb_addf(err, "task '%s' runs in workspace '%s' (container:) through '%s', which "
			     "does not answer: %s", def->id, def->container, e->cli,
			why.len ? why.buf : "no reason given");
	else
		sb_addf(err, "task '%s' runs in workspace '%s' (container:), whose image '%s' is "
			     "not in %s: build it with 'synthflow build %s'",
			def->id, def->container, image, e->cli, def->container);
	sb_release(&info);
	sb_release(&why);
	return -1;
}

int ctr_local_argv(struct sched *s, struct sproc *p, const struct exec_spec *spec,
		   struct strvec *av, struct strbuf *err)
{
	const struct dag_task *def = p->ti->task->def;
	const char *inside = getenv("SYNTHFLOW_WORKSPACE");
	struct engine e;
	struct ws ws;
	struct ctr_run r;
	size_t n = 0;
	int rc = -1;

	/* A serve in a workspace's container runs that image already. */
	if (inside && *inside && !strcmp(inside, def->container))
		return 1;
	if (inside && *inside) {
		sb_addf(err, "task '%s' runs in workspace '%s' (container:), but this scheduler runs "
			     "inside workspace '%s', where no container engine is reachable: run "
			     "'synthflow serve' on the host", def->id, def->container, inside);
		return -1;
	}
	engine_init(&e, s->opts.cfg->ws_engine, geteuid() != 0);
	ws_init(&ws, s->data_dir, def->container);
	if (check_image(&e, def, ws.image, err) == 0) {
		while (spec->envp[n])
			n++;
		p->ctr = ctr_name(p->key);
		r = (struct ctr_run){ .name = p->ctr, .data_dir = s->data_dir,
				      .workdir = spec->workdir, .uid = getuid(), .gid = getgid(),
				      .keep_id = e.kind == ENGINE_PODMAN && e.rootless, .auto_remove = 1,
				      .env = spec->envp + s->nbase_env, .nenv = n - s->nbase_env };
		strvec_push(av, e.cli);
		strvec_push(av, "run");
		ctr_run_opts(&r, av);
		ctr_gpu_opts(e.kind == ENGINE_PODMAN,
			     p->gpu_env ? p->gpu_env + strlen("CUDA_VISIBLE_DEVICES=") : NULL, av);
		strvec_push(av, ws.image);
		strvec_pushv(av, (const char *const[]){ "/bin/sh", "-c", spec->cmd, NULL });
		rc = 0;
	}
	ws_release(&ws);
	return rc;
}

void ctr_local_remove(struct sched *s, struct sproc *p)
{
	struct engine e;

	if (!p->ctr)
		return;
	engine_init(&e, s->opts.cfg->ws_engine, geteuid() != 0);
	engine_remove(&e, p->ctr);
}
