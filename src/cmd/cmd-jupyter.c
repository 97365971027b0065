/*
 * synthflow jupyter: starts Jupyter Notebook inside the running workspace
 * (as the user, serving /data, on the published Jupyter port) unless it
 * already answers, and prints its URL with the token the container was
 * started with.
 */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

#define JUPYTER_TIMEOUT_MS 60000

static int start_jupyter(const struct engine *e, const struct engine_container *c)
{
	struct strbuf out = STRBUF_INIT, port = STRBUF_INIT;
	const char *cat[] = { "cat", "/tmp/synthflow-jupyter.log", NULL };
	const char *start[] = { WS_IMAGE_DIR "/bin/sf-jupyter", NULL, NULL };
	int st, ret = 0;

	sb_addf(&port, "%d", c->port_jupyter);
	start[1] = port.buf;
	st = engine_exec_capture(e, &(struct engine_exec_opts){ c->name, c->user, NULL, false, false,
							      false, start },
				 NULL, &out, &out);
	sb_rtrim(&out);
	if (st != 0) {
		ret = error("cannot start Jupyter in '%s': %s", c->name, out.len ? out.buf : "no message");
	} else if (ws_http_wait(c->port_jupyter, "/api", JUPYTER_TIMEOUT_MS) < 0) {
		fputs("--- Jupyter's log ---\n", stderr);
		engine_exec(e, &(struct engine_exec_opts){ c->name, c->user, NULL, false, false, false,
							    cat });
		ret = error("Jupyter did not answer on http://127.0.0.1:%d/ within %ds",
			    c->port_jupyter, JUPYTER_TIMEOUT_MS / 1000);
	}
	sb_release(&out);
	sb_release(&port);
	return ret;
}

static int exec_jupyter(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct engine e;
	struct engine_container c;
	int ret = 0;

	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	if (ws_http_get(c.port_jupyter, "/api", 1000, NULL) == 0 && start_jupyter(&e, &c) < 0)
		ret = 1;
	else
		printf("http://127.0.0.1:%d/?token=%s\n", c.port_jupyter, c.jupyter_token);
	engine_container_release(&c);
	return ret;
}

const struct cmd_entry cmd_jupyter_entry = {
	.name = "jupyter",
	.summary = "start Jupyter in the workspace; print its URL",
	.usage = "synthflow jupyter\n"
		 "\n"
		 "Starts Jupyter Notebook in the running workspace as the user (unless it\n"
		 "already runs) on the published Jupyter port and prints its URL with the\n"
		 "token.  The image needs it: jupyter-notebook in packages.txt, or notebook\n"
		 "in requirements.txt.\n",
	.flags = CMD_NEEDS_DATA,
	.exec = exec_jupyter,
};
