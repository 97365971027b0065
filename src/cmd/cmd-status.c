/*
 * synthflow status [--json]: the workspace container of this data folder
 * (state, image, ports, GPUs), whether the engine inside answers its
 * health check, and whether the image it runs matches the workspace's lock.
 */
#include <jansson.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "workspace/engine.h"
#include "workspace/lock.h"
#include "workspace/ws.h"

/* The running image against container/synthflow.lock. */
struct lock_check {
	char *path;           /* NULL: the workspace has no lock */
	bool checked;         /* false: it could not be compared (why says why) */
	struct strvec why;    /* the differences, or the reason it was not compared */
};

static void check_lock(const struct engine *e, const struct engine_container *c,
		       const char *data_dir, struct lock_check *lc)
{
	struct ws ws;
	struct ws_lock l = { 0 };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	struct strvec have = STRVEC_INIT;
	int r;

	memset(lc, 0, sizeof(*lc));
	/* The label names the workspace; one that is not a valid name has no lock to compare. */
	error_set_quiet(1);
	if (!*c->workspace || ws_check_name(c->workspace) < 0) {
		error_set_quiet(0);
		return;
	}
	ws_init(&ws, data_dir, c->workspace);
	r = ws_lock_read(&ws, &l);
	error_set_quiet(0);
	if (r > 0)
		goto out;
	lc->path = path_join(ws.hooks_dir, WS_LOCK);
	if (r < 0) {
		strvec_push(&lc->why, "it cannot be read ('synthflow build --frozen' says why)");
		goto out;
	}
	/* The image the container runs (its id: the tag may point to a newer build). */
	r = engine_image_run_capture(
		e, *c->image_id ? c->image_id : c->image,
		(const char *const[]){ "sh", "-c", ws_script_text("sf-packages"), NULL }, &out, &err);
	if (r != 0 || ws_lock_packages(out.buf, &have) < 0) {
		strvec_push(&lc->why, "the image's packages cannot be listed");
		goto out;
	}
	lc->checked = true;
	ws_lock_diff(&l.packages, &have, &lc->why);
out:
	strvec_clear(&have);
	sb_release(&out);
	sb_release(&err);
	ws_lock_release(&l);
	ws_release(&ws);
}

static void lock_check_release(struct lock_check *lc)
{
	free(lc->path);
	strvec_clear(&lc->why);
}

static void print_lock_text(const struct engine_container *c, const struct lock_check *lc)
{
	if (!lc->path) {
		printf("lock       none ('synthflow lock %s' writes one)\n", c->workspace);
		return;
	}
	if (!lc->checked) {
		printf("lock       not compared: %s\n", lc->why.nr ? lc->why.v[0] : "");
		return;
	}
	if (!lc->why.nr) {
		printf("lock       the image matches %s\n", lc->path);
		return;
	}
	printf("lock       the image differs from %s in %zu package%s:\n", lc->path, lc->why.nr,
	       lc->why.nr == 1 ? "" : "s");
	for (size_t i = 0; i < lc->why.nr; i++)
		printf("             %s\n", lc->why.v[i]);
}

static json_t *lock_json(const struct lock_check *lc)
{
	json_t *o, *why;
	if (!lc->path)
		return json_null();
	why = json_array();
	for (size_t i = 0; i < lc->why.nr; i++)
		json_array_append_new(why, json_string(lc->why.v[i]));
	o = json_pack("{s:s,s:o}", "file", lc->path, "matches",
		      lc->checked ? json_boolean(!lc->why.nr) : json_null());
	json_object_set_new(o, lc->checked ? "differences" : "reason",
			    lc->checked ? why : json_string(lc->why.nr ? lc->why.v[0] : ""));
	if (!lc->checked)
		json_decref(why);
	return o;
}

/* health: the engine's answer (0: none, 200: healthy, else why says what is wrong). */
static const char *engine_word(const struct engine_container *c, int health)
{
	if (!c->running)
		return "stopped";
	return health == 200 ? "healthy" : health ? "unhealthy" : "not answering";
}

static void print_text(const struct engine_container *c, const char *image_id, int health,
		       const char *why, const struct lock_check *lc)
{
	printf("workspace  %s\n", c->workspace);
	printf("container  %s (%s)\n", c->name, c->state);
	printf("image      %s (%.19s)\n", c->image, image_id ? image_id : "missing");
	printf("ports      web 127.0.0.1:%d, jupyter 127.0.0.1:%d\n", c->port_web, c->port_jupyter);
	printf("gpus       %s\n", c->gpus);
	if (c->running && health && health != 200)
		printf("engine     unhealthy: %s (http://127.0.0.1:%d/api/v1/health)\n", why,
		       c->port_web);
	else if (c->running)
		printf("engine     %s (http://127.0.0.1:%d/api/v1/health)\n",
		       engine_word(c, health), c->port_web);
	else
		printf("engine     stopped; start the workspace with 'synthflow run %s'\n",
		       c->workspace);
	print_lock_text(c, lc);
}

static void print_json(const struct engine_container *c, const char *image_id, int health,
		       const char *why, const struct lock_check *lc)
{
	json_t *o = json_object();
	if (c) {
		json_object_set_new(o, "workspace", json_string(c->workspace));
		json_object_set_new(o, "container", json_string(c->name));
		json_object_set_new(o, "state", json_string(c->state));
		json_object_set_new(o, "image", json_string(c->image));
		json_object_set_new(o, "image_id", image_id ? json_string(image_id) : json_null());
		json_object_set_new(o, "ports", json_pack("{s:i,s:i}", "web", c->port_web, "jupyter",
							  c->port_jupyter));
		json_object_set_new(o, "gpus", json_string(c->gpus));
		json_object_set_new(o, "engine", json_string(engine_word(c, health)));
		if (c->running && health && health != 200)
			json_object_set_new(o, "engine_reason", json_string(why));
		json_object_set_new(o, "lock", lock_json(lc));
	} else {
		json_object_set_new(o, "state", json_string("none"));
	}
	cmd_print_json(o);
	json_decref(o);
}

/* The running container if any, else the first one of this data folder. */
static int find(const struct engine *e, const char *data_dir, struct engine_container *c)
{
	struct strvec names = STRVEC_INIT;
	int r = engine_running_workspace(e, data_dir, c);
	if (r != 1)
		return r;
	if (engine_find_containers(e, data_dir, &names) < 0)
		return -1;
	r = names.nr ? engine_inspect_container(e, names.v[0], c) : 1;
	strvec_clear(&names);
	return r;
}

static int exec_status(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct engine e;
	struct engine_container c;
	struct lock_check lc;
	char *image_id = NULL;
	bool json = cmd_flag(a, "json");
	struct strbuf why = STRBUF_INIT;
	int r, health = 0;

	if (engine_open(&ctx->cfg, &e, NULL) < 0 || (r = find(&e, ctx->cfg.data_dir, &c)) < 0)
		return 1;
	if (r == 1) {
		if (json)
			print_json(NULL, NULL, 0, NULL, NULL);
		else
			printf("no workspace container for '%s'; start one with 'synthflow run NAME'\n",
			       ctx->cfg.data_dir);
		return 0;
	}
	image_id = engine_image_format(&e, c.image, "{{.Id}}");
	if (c.running)
		health = ws_engine_health(c.port_web, 2000, &why);
	check_lock(&e, &c, ctx->cfg.data_dir, &lc);
	if (json)
		print_json(&c, image_id, health, why.buf, &lc);
	else
		print_text(&c, image_id, health, why.buf, &lc);
	lock_check_release(&lc);
	sb_release(&why);
	free(image_id);
	engine_container_release(&c);
	return 0;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.summary = "show the workspace container and its engine",
	.usage = "synthflow status [--json]\n"
		 "\n"
		 "Shows the workspace container of this data folder: state, image, ports,\n"
		 "GPUs, whether the engine inside answers its health check, and whether the\n"
		 "image it runs has installed exactly the packages of the workspace's lock\n"
		 "(container/synthflow.lock, written by 'synthflow lock NAME').\n",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("json", 0, "print one JSON object"),
		CMD_END,
	},
	.exec = exec_status,
};
