/*
 * synthflow schedulers [--json]: the `serve` processes that hold a lease in
 * the store (docs/engine.md, "Schedulers and leases"), with their heartbeat,
 * the runs they hold, the offered tries they run and the once-only duties
 * they do.
 */
#include "cmd/cmd.h"
#include "store/store.h"
#include "util/common.h"

static void print_table(json_t *rows)
{
	json_t *r;
	size_t i;

	printf("%-8s  %-34s  %-8s  %-10s  %-5s  %-7s  %s\n", "EPOCH", "HOST", "PID", "HEARTBEAT",
	       "RUNS", "OFFERED", "DUTIES");
	json_array_foreach(rows, i, r) {
		struct strbuf duties = STRBUF_INIT, beat = STRBUF_INIT;
		json_t *d;
		size_t k;
		json_array_foreach(json_object_get(r, "duties"), k, d)
			sb_addf(&duties, "%s%s", k ? "," : "", json_string_value(d));
		sb_addf(&beat, "%.1fs ago",
			(double)json_integer_value(json_object_get(r, "heartbeat_age_ms")) / 1000);
		printf("%-8lld  %-34s  %-8lld  %-10s  %-5lld  %-7lld  %s%s\n",
		       (long long)json_integer_value(json_object_get(r, "epoch")),
		       json_string_value(json_object_get(r, "host")),
		       (long long)json_integer_value(json_object_get(r, "pid")), beat.buf,
		       (long long)json_integer_value(json_object_get(r, "runs")),
		       (long long)json_integer_value(json_object_get(r, "offered_tries")),
		       duties.len ? duties.buf : "-",
		       json_is_true(json_object_get(r, "alive")) ? "" : "  (lease expired)");
		sb_release(&duties);
		sb_release(&beat);
	}
}

static int exec_schedulers(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct store *st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	struct store_lease *v = NULL;
	size_t n = 0;
	json_t *rows;

	if (!st || store_lease_list(st, &v, &n) < 0) {
		store_close(st);
		return 1;
	}
	rows = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, store_lease_json(&v[i]));
	if (cmd_flag(a, "json"))
		cmd_print_json(rows);
	else if (n)
		print_table(rows);
	else
		note("no scheduler holds a lease in this store ('synthflow serve' takes one)");
	json_decref(rows);
	store_lease_list_free(v, n);
	store_close(st);
	return 0;
}

const struct cmd_entry cmd_schedulers_entry = {
	.name = "schedulers",
	.summary = "the serve processes sharing this store: heartbeat, runs, duties",
	.usage = "synthflow schedulers [--json]\n"
		 "\n"
		 "Every 'synthflow serve' of this store holds a lease (docs/engine.md): its\n"
		 "fencing epoch, host (SYNTHFLOW_HOST_ID, else /etc/machine-id, else the host\n"
		 "name), pid, how long ago its last heartbeat was (schedulers.heartbeat,\n"
		 "default 2 s), the unfinished runs it holds, the tries it runs for offers\n"
		 "(task instances a run's holder had no room for), and the once-only duties it was\n"
		 "elected to (deliveries: callbacks and event scripts; files: watching\n"
		 "downloaded/; schedules: firing DAG schedules), each held by one serve at a\n"
		 "time.  A lease whose heartbeat is as old as its schedulers.lease_ttl\n"
		 "(default 10 s) is shown as expired, and from lease_ttl + grace (15 s) on\n"
		 "it holds no duty.  Each lease carries its serve's own settings.\n",
	.flags = CMD_NEEDS_DATA,
	.options = (const struct cmd_option[]){
		CMD_FLAG("json", 0, "print a JSON array, one object per scheduler"),
		CMD_END,
	},
	.exec = exec_schedulers,
};
