/*
 * synthflow web: makes sure the engine serves inside the running workspace
 * (starting it again as the user when it does not answer) and prints the UI
 * URL with its token.
 */
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "workspace/engine.h"
#include "web/auth.h"
#include "workspace/ws.h"

#define SERVE_TIMEOUT_MS 30000

/* Any answer is a live engine: a second serve would only fail on its port. */
static int answers(int port)
{
	struct strbuf why = STRBUF_INIT;
	int st = ws_engine_health(port, 1000, &why);

	if (st > 0 && st != 200)
		warning("the engine answers but is unhealthy: %s", why.buf);
	sb_release(&why);
	return st > 0;
}

static int start_serve(const struct engine *e, const struct engine_container *c)
{
	static const char *const serve[] = { "synthflow", "serve", NULL };
	struct strbuf port = STRBUF_INIT, err = STRBUF_INIT;
	int st, ret = -1;

	/* As sf-start does: all addresses inside, published on 127.0.0.1 only by the host. */
	sb_addf(&port, "SYNTHFLOW_WEB_PORT=%d", c->port_web);
	fprintf(stderr, "the engine in '%s' does not answer; starting it\n", c->name);
	st = engine_exec_capture(e, &(struct engine_exec_opts){ c->name, c->user, "/data", false,
							      false, true, serve },
				 (const char *const[]){ "SYNTHFLOW_WEB_BIND=0.0.0.0", port.buf, NULL },
				 NULL, &err);
	if (st != 0) {
		sb_rtrim(&err);
		error("cannot start the engine in '%s': %s", c->name, err.buf);
		goto out;
	}
	ret = ws_http_wait(c->port_web, "/api/v1/health", SERVE_TIMEOUT_MS);
	if (ret < 0)
		error("the engine in '%s' did not answer http://127.0.0.1:%d/api/v1/health within %ds; "
		      "see 'synthflow shell -- synthflow serve' for its errors",
		      c->name, c->port_web, SERVE_TIMEOUT_MS / 1000);
out:
	sb_release(&port);
	sb_release(&err);
	return ret;
}

static int exec_web(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct engine e;
	struct engine_container c;
	char *token;
	int ret = 0;

	if (engine_open_running(&ctx->cfg, &e, &c) < 0)
		return 1;
	if (!answers(c.port_web) && start_serve(&e, &c) < 0) {
		engine_container_release(&c);
		return 1;
	}
	/* The engine in the container keeps its token in the shared data folder. */
	token = auth_token_load(ctx->cfg.data_dir, 0);
	if (token)
		printf("http://127.0.0.1:%d/?token=%s\n", c.port_web, token);
	else
		ret = error("cannot read the UI token in '%s/flow/secret'", ctx->cfg.data_dir);
	free(token);
	engine_container_release(&c);
	return ret ? 1 : 0;
}

const struct cmd_entry cmd_web_entry = {
	.name = "web",
	.summary = "make sure the engine serves; print the UI URL",
	.usage = "synthflow web\n"
		 "\n"
		 "Starts the engine in the running workspace again if it does not answer,\n"
		 "and prints the web UI's URL with its token.\n",
	.flags = CMD_NEEDS_DATA,
	.exec = exec_web,
};
