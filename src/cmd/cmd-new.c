/*
 * synthflow new NAME: run-data/src/NAME/container/ from the template,
 * dags/ with one example DAG, and a commented example event script.  NAME may already hold a cloned repository:
 * only what is missing is added, and no existing file is overwritten.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "util/common.h"
#include "util/fs.h"
#include "workspace/ws.h"

static const char example_dag[] =
	"# An example DAG for the workspace '%s'.  'synthflow dags validate' checks\n"
	"# it and 'synthflow test %s-example' runs it; see docs/ for every key.\n"
	"id: %s-example\n"
	"description: Say hello and count the files in downloaded/\n"
	"params:\n"
	"  greeting: {type: string, default: hello, description: What to say}\n"
	"tasks:\n"
	"  hello:\n"
	"    run: echo {{ params.greeting }} from %s\n"
	"  count:\n"
	"    needs: [hello]\n"
	"    run: find {{ data }}/downloaded -type f | wc -l\n";

/*
 * Not an event script until renamed: events/EVENT runs only under the
 * event's own name, and only when executable (docs/events.md).
 */
static const char example_event[] =
	"#!/bin/sh\n"
	"# An example event script for the workspace '%s' (docs/events.md).  It does\n"
	"# nothing as it is: to have it run after every run of this workspace's DAGs,\n"
	"#   mv run-finished.example run-finished && chmod +x run-finished\n"
	"# The event arrives as one JSON object on stdin, e.g.\n"
	"#   {\"event\": \"run-finished\", \"at\": \"...\", \"run_id\": \"...\", \"dag_id\": \"...\",\n"
	"#    \"state\": \"success\", \"failed_tasks\": \"\", \"reason\": null, \"params\": {...}}\n"
	"# It runs in run-data/src/%s with SF_EVENT and SF_DATA set, once per event\n"
	"# (again only after a crash interrupted it: keep it idempotent), and is stopped\n"
	"# after flow.delivery_timeout (60s).  What it prints goes to\n"
	"# flow/event-logs/ ('synthflow events list', 'synthflow events log ID').\n"
	"# Other events: file-added, file-changed, run-queued, run-started,\n"
	"# task-failed, variable-changed, dag-paused, dag-unpaused.\n"
	"event=$(cat)\n"
	"echo \"$(date -u +%%FT%%TZ) $event\" >>\"$SF_DATA/events-%s.log\"\n";

static int copy_template(const char *tmpl, const char *dst)
{
	struct dirent **ents;
	int n = scandir(tmpl, &ents, NULL, alphasort), ret = 0;

	if (n < 0)
		return error_errno("cannot read the template '%s'; create it with 'synthflow init'",
				   tmpl);
	if (mkdir_p(dst, 0755) < 0)
		ret = error_errno("cannot create '%s'", dst);
	for (int i = 0; i < n; i++) {
		char *s = path_join(tmpl, ents[i]->d_name), *d = path_join(dst, ents[i]->d_name);
		struct stat st;
		if (!ret && ents[i]->d_name[0] != '.' && stat(s, &st) == 0 && S_ISREG(st.st_mode)) {
			if (copy_file(s, d, st.st_mode & 0777) < 0 || chmod(d, st.st_mode & 0777) < 0)
				ret = error_errno("cannot copy '%s' to '%s'", s, d);
			else
				printf("created %s\n", d);
		}
		free(s);
		free(d);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

static int has_yaml(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		found = (l > 5 && !strcmp(e->d_name + l - 5, ".yaml")) ||
			(l > 4 && !strcmp(e->d_name + l - 4, ".yml"));
	}
	closedir(d);
	return found;
}

static int add_example_dag(const struct ws *ws)
{
	char *dags = path_join(ws->src_dir, "dags");
	char *file = path_join(dags, "example.yaml");
	struct strbuf text = STRBUF_INIT;
	int ret = 0;

	if (mkdir_p(dags, 0755) < 0) {
		ret = error_errno("cannot create '%s'", dags);
	} else if (!has_yaml(dags)) {
		sb_addf(&text, example_dag, ws->name, ws->name, ws->name, ws->name);
		if (write_file_if_missing(file, text.buf, text.len, 0644) < 0)
			ret = error_errno("cannot create '%s'", file);
		else
			printf("created %s\n", file);
	}
	sb_release(&text);
	free(dags);
	free(file);
	return ret;
}

static int add_example_event(const struct ws *ws)
{
	char *dir = path_join(ws->src_dir, "events");
	char *file = path_join(dir, "run-finished.example");
	struct strbuf text = STRBUF_INIT;
	int ret = 0;

	sb_addf(&text, example_event, ws->name, ws->name, ws->name);
	if (mkdir_p(dir, 0755) < 0) {
		ret = error_errno("cannot create '%s'", dir);
	} else if (!is_file(file)) {
		if (write_file_if_missing(file, text.buf, text.len, 0644) < 0)
			ret = error_errno("cannot create '%s'", file);
		else
			printf("created %s\n", file);
	}
	sb_release(&text);
	free(dir);
	free(file);
	return ret;
}

static int exec_new(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct ws ws;
	char *tmpl;
	int ret;

	if (ws_check_name(a->argv[0]) < 0)
		return 1;
	ws_init(&ws, ctx->cfg.data_dir, a->argv[0]);
	if (is_dir(ws.hooks_dir)) {
		error("workspace '%s' already has its hooks in '%s'; edit them there", ws.name,
		      ws.hooks_dir);
		ws_release(&ws);
		return 1;
	}
	tmpl = path_join(ctx->cfg.data_dir, "src/template/container");
	ret = copy_template(tmpl, ws.hooks_dir) < 0 || add_example_dag(&ws) < 0 ||
	      add_example_event(&ws) < 0;
	if (!ret)
		printf("workspace '%s' is ready: edit %s, then 'synthflow build %s'\n", ws.name,
		       ws.hooks_dir, ws.name);
	free(tmpl);
	ws_release(&ws);
	return ret;
}

const struct cmd_entry cmd_new_entry = {
	.name = "new",
	.summary = "create a workspace's container/ hooks from the template",
	.usage = "synthflow new NAME\n"
		 "\n"
		 "Copies src/template/container/ to src/NAME/container/ and adds src/NAME/dags/\n"
		 "with an example DAG, and src/NAME/events/run-finished.example, a commented\n"
		 "event script that runs only once renamed to run-finished and made executable.\n"
		 "src/NAME may already hold a cloned repository; no existing file is overwritten.\n",
	.args = "NAME",
	.flags = CMD_NEEDS_DATA,
	.exec = exec_new,
};
