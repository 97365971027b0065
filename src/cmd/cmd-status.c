/*
 * synthflow status [--json]: the workspace container of this data folder
 * (state, image, ports, GPUs) and whether the engine inside answers its
 * health check.
 */
#include <jansson.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

/* health: the engine's answer (0: none, 200: healthy, else why says what is wrong). */
static const char *engine_word(const struct engine_container *c, int health)
{
	if (!c->running)
		return "stopped";
	return health == 200 ? "healthy" : health ? "unhealthy" : "not answering";
}

static void print_text(const struct engine_container *c, const char *image_id, int health,
		       const char *why)
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
}

static void print_json(const struct engine_container *c, const char *image_id, int health,
		       const char *why)
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
	char *image_id = NULL;
	bool json = cmd_flag(a, "json");
	struct strbuf why = STRBUF_INIT;
	int r, health = 0;

	if (engine_open(&ctx->cfg, &e, NULL) < 0 || (r = find(&e, ctx->cfg.data_dir, &c)) < 0)
		return 1;
	if (r == 1) {
		if (json)
			print_json(NULL, NULL, 0, NULL);
		else
			printf("no workspace container for '%s'; start one with 'synthflow run NAME'\n",
			       ctx->cfg.data_dir);
		return 0;
	}
	image_id = engine_image_format(&e, c.image, "{{.Id}}");
	if (c.running)
		health = ws_engine_health(c.port_web, 2000, &why);
	if (json)
		print_json(&c, image_id, health, why.buf);
	else
		print_text(&c, image_id, health, why.buf);
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
		 "GPUs and whether the engine inside answers its health check.\n",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("json", 0, "print one JSON object"),
		CMD_END,
	},
	.exec = exec_status,
};
