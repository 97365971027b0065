/*
 * synthflow jupyter: starts Jupyter Notebook inside the running workspace
 * (as the user, serving /data, on the published Jupyter port) unless it
 * already answers, and prints its URL with the token the container was
 * started with.
 */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/timeutil.h"
#include "workspace/engine.h"
#include "workspace/ws.h"

#define JUPYTER_TIMEOUT_MS 60000

static int wait_jupyter(int port)
{
	int64_t deadline = time_mono_ms() + JUPYTER_TIMEOUT_MS;
	while (time_mono_ms() < deadline) {
		if (ws_http_get(port, "/api", 1000, NULL) == 200)
			return 0;
		usleep(250 * 1000);
	}
	return -1;
}

static int start_jupyter(const struct engine *e, const struct ws_container *c)
{
	struct strbuf out = STRBUF_INIT, port = STRBUF_INIT;
	const char *cat[] = { "cat", "/tmp/synthflow-jupyter.log", NULL };
	int st, ret = 0;

	sb_addf(&port, "%d", c->port_jupyter);
	st = spawn_capture((const char *const[]){ e->cli, "exec", "--user", c->user, c->name,
						  WS_IMAGE_DIR "/bin/sf-jupyter", port.buf, NULL },
			   &out, &out);
	sb_rtrim(&out);
	if (st != 0) {
		ret = error("cannot start Jupyter in '%s': %s", c->name, out.len ? out.buf : "no message");
	} else if (wait_jupyter(c->port_jupyter) < 0) {
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

int cmd_jupyter(int argc, char **argv, struct sf_ctx *ctx)
{
	struct engine e;
	struct ws_container c;
	int ret = 0;

	if (argc > 1)
		return cmd_usage_error(ctx, argv[1][0] == '-' ? "unknown option '%s'" :
								"unexpected argument '%s'",
				       argv[1]);
	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	if (ws_http_get(c.port_jupyter, "/api", 1000, NULL) != 200 && start_jupyter(&e, &c) < 0)
		ret = 1;
	else
		printf("http://127.0.0.1:%d/?token=%s\n", c.port_jupyter, c.jupyter_token);
	ws_container_release(&c);
	return ret;
}
