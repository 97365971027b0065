/*
 * synthflow events list [--kind K] [--workspace WS] [--limit N] [--json] |
 * events log ID: the deliveries of event scripts and run callbacks
 * (docs/events.md) and the output of one.
 */
#include "cmd/cmd.h"
#include "flow/events.h"
#include "store/store.h"
#include "util/common.h"
#include "util/strbuf.h"
#include "util/timeutil.h"

#define DEFAULT_LIMIT 50

static struct store *open_store(struct sf_ctx *ctx)
{
	return store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
}

static int events_list(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct store_delivery_filter f = {
		.kind = cmd_str(a, "kind", NULL),
		.workspace = cmd_str(a, "workspace", NULL),
		.limit = (size_t)cmd_int(a, "limit", DEFAULT_LIMIT),
	};
	struct store_delivery *v;
	struct store *st = open_store(ctx);
	size_t n;

	if (!st)
		return 1;
	if (store_delivery_list(st, &f, &v, &n) < 0) {
		store_close(st);
		return 1;
	}
	if (cmd_flag(a, "json")) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, store_delivery_json(&v[i]));
		cmd_print_json(arr);
		json_decref(arr);
	} else {
		printf("%-6s %-9s %-17s %-14s %-12s %4s  %s\n", "ID", "KIND", "EVENT", "WORKSPACE",
		       "STATE", "EXIT", "ABOUT");
		for (size_t i = 0; i < n; i++) {
			const struct store_delivery *d = &v[i];
			char code[16] = "-";
			struct strbuf about = STRBUF_INIT;
			if (d->exit_code >= 0)
				snprintf(code, sizeof(code), "%d", d->exit_code);
			if (d->run_id)
				sb_addf(&about, "run %s", d->run_id);
			if (d->task_id)
				sb_addf(&about, " task %s", d->task_id);
			if (d->note)
				sb_addf(&about, "%s%s", about.len ? ": " : "", d->note);
			printf("%-6lld %-9s %-17s %-14s %-12s %4s  %s\n", (long long)d->id, d->kind,
			       d->event, d->workspace ? d->workspace : "-", d->state, code,
			       about.len ? about.buf : "-");
			sb_release(&about);
		}
		if (!n)
			note("no deliveries yet: event scripts go in run-data/src/WS/events/EVENT"
			     " (docs/events.md)");
	}
	store_delivery_list_free(v, n);
	store_close(st);
	return 0;
}

static int events_log(const struct cmd_args *a, struct sf_ctx *ctx)
{
	char *end;
	long long id = strtoll(a->argv[0], &end, 10);
	struct store_delivery_filter f = { .id = id };
	struct store_delivery *v = NULL;
	struct strbuf log = STRBUF_INIT;
	struct store *st;
	size_t n = 0;
	int ret = 1;

	if (*end || id <= 0)
		return cmd_usage_error(ctx, "'%s' is not a delivery id (a number from 'synthflow"
				       " events list')", a->argv[0]);
	if (!(st = open_store(ctx)))
		return 1;
	if (store_delivery_list(st, &f, &v, &n) < 0)
		goto out;
	if (!n) {
		error("no delivery %lld (see 'synthflow events list')", id);
		goto out;
	}
	printf("# %s '%s' %s", v[0].kind, v[0].event, v[0].state);
	if (v[0].exit_code >= 0)
		printf(", exit code %d", v[0].exit_code);
	if (v[0].note)
		printf(": %s", v[0].note);
	printf("\n# %s\n", v[0].command ? v[0].command : "");
	fflush(stdout);
	ret = 0;
	if (v[0].log_path && sb_read_file(&log, v[0].log_path) == 0)
		fwrite(log.buf, 1, log.len, stdout);
	else if (v[0].log_path)
		note("no output yet ('%s' does not exist)", v[0].log_path);
out:
	sb_release(&log);
	store_delivery_list_free(v, n);
	store_close(st);
	return ret;
}

const struct cmd_entry cmd_events_entry = {
	.name = "events",
	.summary = "event scripts and run callbacks: each delivery and its output",
	.usage = "synthflow events list [--kind callback|event] [--workspace WS] [--limit N] [--json]"
		 " | log ID\n"
		 "\n"
		 "  list    the latest deliveries, oldest first: run callbacks (on_success,\n"
		 "          on_failure, on_retry) and event scripts (run-data/src/WS/events/EVENT),\n"
		 "          with their state: pending, running, delivered, failed, redelivered\n"
		 "          (run again after a crash)\n"
		 "  log ID  what delivery ID printed (flow/event-logs/)\n"
		 "\n"
		 "Events, scripts and their guarantees are described in docs/events.md.\n",
	.flags = CMD_NEEDS_DATA,
	.subs = (const struct cmd_entry[]){
		{ .name = "list", .summary = "the latest deliveries and how they ended",
		  .options = (const struct cmd_option[]){
			  CMD_CHOICE("kind", 0, "KIND", "callback|event", "only callbacks or event scripts"),
			  CMD_STRING("workspace", 0, "NAME", "only the event scripts of this workspace"),
			  CMD_INT("limit", 0, "N", 0, 1000000, "at most N, the newest (default 50; 0: all)"),
			  CMD_FLAG("json", 0, "print a JSON array of deliveries"),
			  CMD_END,
		  },
		  .exec = events_list },
		{ .name = "log", .summary = "the output of one delivery", .args = "ID",
		  .exec = events_log },
		CMD_END,
	},
};
