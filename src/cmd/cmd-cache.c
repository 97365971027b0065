/*
 * synthflow cache list [--json] | cache gc [--older-than DURATION]: the
 * content cache of cached tasks in flow/cache/ (docs/replication.md,
 * "Content cache").
 */
#include "cmd/cmd.h"
#include "flow/cache.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

static char *cache_dir(struct sf_ctx *ctx)
{
	return path_join(ctx->cfg.data_dir, "flow/cache");
}

static json_t *time_or_null(int64_t ms)
{
	char buf[40];
	if (!ms)
		return json_null();
	time_format_iso(ms, buf, sizeof(buf));
	return json_string(buf);
}

static int cache_list_cmd(const struct cmd_args *a, struct sf_ctx *ctx)
{
	char *dir = cache_dir(ctx);
	struct cache_entry_info *v;
	size_t n;
	uint64_t total = 0;

	if (cache_list(dir, &v, &n) < 0) {
		free(dir);
		return 1;
	}
	if (cmd_flag(a, "json")) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
				arr, json_pack("{s:s, s:s?, s:s?, s:o, s:s?, s:o, s:o, s:I, s:I}", "key",
					       v[i].key, "dag_id", v[i].dag_id, "task_id", v[i].task_id,
					       "index", v[i].index >= 0 ? json_integer(v[i].index) : json_null(),
					       "run_id", v[i].run_id, "created_at", time_or_null(v[i].created_ms),
					       "used_at", time_or_null(v[i].used_ms), "files",
					       (json_int_t)v[i].nfiles, "bytes", (json_int_t)v[i].bytes));
		cmd_print_json(arr);
		json_decref(arr);
	} else {
		printf("%-12s  %-20s  %-24s  %-20s  %5s  %10s\n", "KEY", "USED", "TASK", "RUN", "FILES",
		       "BYTES");
		for (size_t i = 0; i < n; i++) {
			char used[40], task[160];
			time_format_iso(v[i].used_ms, used, sizeof(used));
			used[19] = '\0';
			if (v[i].index >= 0)
				snprintf(task, sizeof(task), "%s.%s[%d]", v[i].dag_id ? v[i].dag_id : "?",
					 v[i].task_id ? v[i].task_id : "?", v[i].index);
			else
				snprintf(task, sizeof(task), "%s.%s", v[i].dag_id ? v[i].dag_id : "?",
					 v[i].task_id ? v[i].task_id : "?");
			printf("%.12s  %-20s  %-24s  %-20s  %5zu  %10llu\n", v[i].key, used, task,
			       v[i].run_id ? v[i].run_id : "?", v[i].nfiles, (unsigned long long)v[i].bytes);
			total += v[i].bytes;
		}
		printf("%zu entr%s, %llu bytes of outputs\n", n, n == 1 ? "y" : "ies",
		       (unsigned long long)total);
	}
	cache_list_free(v, n);
	free(dir);
	return 0;
}

static int cache_gc_cmd(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *older = cmd_str(a, "older-than", NULL);
	int64_t ms = 0;
	struct cache_gc_result r;
	char *dir;
	int ret;

	if (older && ((ms = duration_parse_ms(older)) <= 0))
		return cmd_usage_error(ctx, "--older-than '%s' is not a duration such as 30d, 12h or 90m",
				       older);
	dir = cache_dir(ctx);
	ret = cache_gc(dir, ms, &r);
	free(dir);
	if (ret < 0)
		return 1;
	printf("removed %zu entr%s and %zu object%s (%llu bytes); kept %zu entr%s and %zu object%s\n",
	       r.entries, r.entries == 1 ? "y" : "ies", r.objects, r.objects == 1 ? "" : "s",
	       (unsigned long long)r.bytes, r.kept_entries, r.kept_entries == 1 ? "y" : "ies",
	       r.kept_objects, r.kept_objects == 1 ? "" : "s");
	return 0;
}

const struct cmd_entry cmd_cache_entry = {
	.name = "cache",
	.summary = "the content cache of tasks with 'cache: true': list entries, collect garbage",
	.usage = "synthflow cache list [--json] | gc [--older-than DURATION]\n"
		 "\n"
		 "A task with 'cache: true' and declared outputs is not run again when an\n"
		 "earlier successful instance had the same key (its command, params, inputs\n"
		 "by content, workspace lock and engine version): its outputs are restored\n"
		 "from run-data/flow/cache/ and it ends success, cached.\n"
		 "\n"
		 "  list    every entry, least recently used first: key, last use, task, the\n"
		 "          run that made it, its files and bytes\n"
		 "  gc      removes the entries not used for DURATION (--older-than 30d), then\n"
		 "          every stored file no remaining entry needs; without --older-than\n"
		 "          only files no entry needs (and unreadable entries)\n"
		 "\n"
		 "The key and the folder's layout are described in docs/replication.md.\n",
	.flags = CMD_NEEDS_DATA,
	.subs = (const struct cmd_entry[]){
		{ .name = "list", .summary = "every cache entry, least recently used first",
		  .options = (const struct cmd_option[]){
			  CMD_FLAG("json", 0, "print a JSON array of entries"),
			  CMD_END,
		  },
		  .exec = cache_list_cmd },
		{ .name = "gc", .summary = "remove old entries and the files no entry needs",
		  .options = (const struct cmd_option[]){
			  CMD_STRING("older-than", 0, "DURATION",
				     "also remove entries not used for this long (30d, 12h)"),
			  CMD_END,
		  },
		  .exec = cache_gc_cmd },
		CMD_END,
	},
};
