/* synthflow store copy --to URL: moves the store to another database (SQLite -> PostgreSQL). */
#include "cmd/cmd.h"
#include "store/store.h"
#include "util/common.h"

static void print_counts(const char *table, int64_t from_rows, int64_t to_rows, void *arg)
{
	printf("%-12s %10lld %10lld%s\n", table, (long long)from_rows, (long long)to_rows,
	       from_rows == to_rows ? "" : "  differ");
}

static int store_copy_to(struct sf_ctx *ctx, const char *url)
{
	char *from_shown = store_url_redact(ctx->cfg.flow_store);
	char *to_shown = store_url_redact(url);
	struct store *from = NULL, *to = NULL;
	int ret = 1;

	if (!strcmp(url, ctx->cfg.flow_store)) {
		error("'%s' is the store itself", to_shown);
		goto out;
	}
	from = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	if (!from)
		goto out;
	to = store_open(url, ctx->cfg.data_dir);
	if (!to)
		goto out;
	printf("%-12s %10s %10s\n", "table", "rows", "copied");
	if (store_copy(from, to, print_counts, NULL) == 0) {
		printf("copied '%s' to '%s': every count agrees\n", from_shown, to_shown);
		printf("to use it, set flow.store to that url in synthflow.yaml\n");
		ret = 0;
	}
out:
	store_close(from);
	store_close(to);
	free(from_shown);
	free(to_shown);
	return ret;
}

static int exec_store_copy(const struct cmd_args *a, struct sf_ctx *ctx)
{
	const char *to = cmd_str(a, "to", NULL);
	if (!to)
		return cmd_usage_error(ctx, "'store copy' needs --to URL");
	return store_copy_to(ctx, to);
}

const struct cmd_entry cmd_store_entry = {
	.name = "store",
	.summary = "copy the store to another database (e.g. PostgreSQL)",
	.usage = "synthflow store copy --to URL\n"
		 "\n"
		 "Copies every run, task instance, try, variable and flag of the store\n"
		 "(flow.store) into the store at URL, which must be empty (a new PostgreSQL\n"
		 "database: postgresql://USER@HOST/DB), in one transaction, then counts the\n"
		 "rows of every table on both sides and prints them; exit 0 when all agree.\n"
		 "Stop 'serve' first.  Then set flow.store to URL in synthflow.yaml.\n",
	.flags = CMD_NEEDS_DATA,
	.subs = (const struct cmd_entry[]){
		{ .name = "copy", .summary = "copy every table into an empty store",
		  .options = (const struct cmd_option[]){
			CMD_STRING("to", 0, "URL", "the target store (postgresql://...)"),
			CMD_END,
		  },
		  .exec = exec_store_copy },
		CMD_END,
	},
};
