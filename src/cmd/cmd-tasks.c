/* synthflow tasks logs RUN TASK [--try N] [--index I] [-f] | clear RUN TASK [--downstream] */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "flow/cache.h"
#include "flow/run.h"
#include "flow/sched.h"
#include "util/common.h"
#include "util/suggest.h"

#define FOLLOW_POLL_MS 100

struct tasks_opts {
	int try_number;         /* 0 = the last */
	int index;              /* -1 = not given */
	int follow, downstream;
};

/* The task's instances in the run; -1 after an error with a hint. */
static int find_instances(struct store *st, const char *run_id, const char *task_id,
			  struct store_ti **tis, size_t *n, size_t *first, size_t *count)
{
	const char **ids;
	const char *hint;

	if (store_ti_list(st, run_id, tis, n) < 0)
		return -1;
	*count = 0;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*tis)[i].task_id, task_id) && !(*count)++)
			*first = i;
	if (*count)
		return 0;
	ids = xcalloc(*n + 1, sizeof(char *));
	for (size_t i = 0; i < *n; i++)
		ids[i] = (*tis)[i].task_id;
	hint = suggest_closest(task_id, ids, *n);
	if (hint)
		error("run '%s' has no task '%s' (did you mean '%s'?)", run_id, task_id, hint);
	else
		error("run '%s' has no task '%s'", run_id, task_id);
	free(ids);
	store_ti_list_free(*tis, *n);
	*tis = NULL;
	*n = 0;
	return -1;
}

static int copy_fd(int fd)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	fflush(stdout);
	return n < 0 ? -1 : 0;
}

/* Prints the log; with follow, keeps printing until the try has ended. */
static int show_log(struct store *st, const char *run_id, const struct store_ti *ti, int try_no,
		    int follow)
{
	for (;;) {
		struct store_try *tries;
		size_t n;
		const struct store_try *t = NULL;
		int fd, ended;

		if (store_try_list(st, run_id, ti->task_id, ti->index, &tries, &n) < 0)
			return 1;
		for (size_t i = 0; i < n; i++)
			if (try_no ? tries[i].try_number == try_no : i + 1 == n)
				t = &tries[i];
		if (!t && (try_no || !follow)) {
			if (try_no)
				error("task '%s' has no try %d (it has %zu)", ti->task_id, try_no, n);
			else
				error("task '%s' has not run yet", ti->task_id);
			store_try_list_free(tries, n);
			return 1;
		}
		if (!t) {
			store_try_list_free(tries, n);
			poll(NULL, 0, FOLLOW_POLL_MS);
			continue;
		}
		try_no = t->try_number;
		ended = t->ended_at != 0;
		errno = ENOENT;
		fd = t->log_path ? open(t->log_path, O_RDONLY | O_CLOEXEC) : -1;
		/* A try that has printed nothing has no log file yet. */
		if (fd < 0 && errno != ENOENT) {
			error_errno("cannot open the log '%s'", t->log_path);
			store_try_list_free(tries, n);
			return 1;
		}
		store_try_list_free(tries, n);
		if (fd < 0 && (ended || !follow))
			return 0;
		if (fd < 0) {
			poll(NULL, 0, FOLLOW_POLL_MS);
			continue;
		}
		copy_fd(fd);
		while (follow && !ended) {
			poll(NULL, 0, FOLLOW_POLL_MS);
			copy_fd(fd);
			if (store_try_list(st, run_id, ti->task_id, ti->index, &tries, &n) < 0)
				break;
			for (size_t i = 0; i < n; i++)
				if (tries[i].try_number == try_no && tries[i].ended_at)
					ended = 1;
			store_try_list_free(tries, n);
		}
		copy_fd(fd);
		close(fd);
		return 0;
	}
}

/*
 * An instance restored from the content cache never ran: its log is the
 * one of the instance whose outputs it got (said on stderr, so stdout is
 * the log alone).
 */
static int show_cached_log(struct store *st, const char *run_id, const struct store_ti *ti,
			   const struct tasks_opts *o)
{
	struct store_ti *tis = NULL;
	size_t n = 0;
	char *from = NULL;
	int from_index = -1, ret = 1, rc;
	char at[32] = "", there[48] = "";

	if (ti->index >= 0)
		snprintf(at, sizeof(at), " (item %d)", ti->index);
	rc = cache_made_by(st, run_id, ti->task_id, ti->index, &from, &from_index);
	if (rc == STORE_NOT_FOUND)
		error("task '%s'%s never ran in run %s: its outputs were restored from the cache, "
		      "and with flow.provenance off the run that made them is not recorded (its "
		      "reason in 'synthflow runs show %s' names it)", ti->task_id, at, run_id, run_id);
	if (rc)
		return 1;
	if (from_index >= 0)
		snprintf(there, sizeof(there), " --index %d", from_index);
	if (o->try_number) {
		error("task '%s'%s has no try %d: it was restored from the cache, produced by run %s "
		      "(its tries: synthflow tasks logs %s %s%s --try N)", ti->task_id, at,
		      o->try_number, from, from, ti->task_id, there);
		goto out;
	}
	if (store_ti_list(st, from, &tis, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tis[i].task_id, ti->task_id) && tis[i].index == from_index) {
			fprintf(stderr, "task '%s'%s: from the cache, produced by run %s%s%s; its log:\n",
				ti->task_id, at, from, from_index >= 0 ? ", item " : "",
				from_index >= 0 ? there + strlen(" --index ") : "");
			ret = show_log(st, from, &tis[i], 0, 0);
			goto out;
		}
	error("task '%s'%s: from the cache, produced by run %s, which the store no longer has",
	      ti->task_id, at, from);
out:
	store_ti_list_free(tis, n);
	free(from);
	return ret;
}

static int tasks_logs(struct store *st, const char *run_id, const char *task_id,
		      const struct tasks_opts *o)
{
	struct store_ti *tis;
	size_t n, first = 0, count;
	const struct store_ti *ti = NULL;
	int ret = 1;

	if (find_instances(st, run_id, task_id, &tis, &n, &first, &count) < 0)
		return 1;
	if (tis[first].index < 0) {
		if (o->index > 0)
			error("task '%s' has no foreach items; leave out --index", task_id);
		else
			ti = &tis[first];
	} else if (o->index < 0) {
		error("task '%s' has %zu foreach items: pick one with --index I (0..%zu)", task_id,
		      count, count - 1);
	} else if ((size_t)o->index >= count) {
		error("task '%s' has no item %d (0..%zu)", task_id, o->index, count - 1);
	} else {
		ti = &tis[first + (size_t)o->index];
	}
	if (ti && ti->cached)
		ret = show_cached_log(st, run_id, ti, o);
	else if (ti)
		ret = show_log(st, run_id, ti, o->try_number, o->follow);
	store_ti_list_free(tis, n);
	return ret;
}

static int tasks_clear(struct sf_ctx *ctx, struct store *st, const char *run_id,
		       const char *task_id, int downstream)
{
	struct store_run r = { 0 };
	struct dag_set set = { 0 };
	struct dag *d;
	int ret = 1;

	if (run_find(st, run_id, &r) < 0)
		return 1;
	dagset_load(&set, ctx->cfg.data_dir, NULL);
	d = run_find_dag(&set, r.dag_id);
	if (d && run_find_task(d, task_id) && sched_clear(st, run_id, task_id, downstream) == 0) {
		printf("run %s: '%s'%s cleared for a new try\n", run_id, task_id,
		       downstream ? " and everything downstream" : "");
		ret = 0;
	}
	dagset_release(&set);
	store_run_release(&r);
	return ret;
}

static int exec_logs(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct tasks_opts o = {
		.try_number = (int)cmd_int(a, "try", 0),
		.index = (int)cmd_int(a, "index", -1),
		.follow = cmd_flag(a, "follow"),
	};
	struct store_run r = { 0 };
	struct store *st = store_open_reader(ctx->cfg.flow_store, ctx->cfg.data_dir);
	int ret = 1;

	if (!st)
		return 1;
	if (run_find(st, a->argv[0], &r) == 0)
		ret = tasks_logs(st, a->argv[0], a->argv[1], &o);
	store_run_release(&r);
	store_close(st);
	return ret;
}

static int exec_clear(const struct cmd_args *a, struct sf_ctx *ctx)
{
	struct store *st = store_open(ctx->cfg.flow_store, ctx->cfg.data_dir);
	int ret;

	if (!st)
		return 1;
	ret = tasks_clear(ctx, st, a->argv[0], a->argv[1], cmd_flag(a, "downstream"));
	store_close(st);
	return ret;
}

const struct cmd_entry cmd_tasks_entry = {
	.name = "tasks",
	.summary = "show logs of task tries; clear tasks to run again",
	.usage = "synthflow tasks logs RUN TASK [--try N] [--index I] [-f] | clear RUN TASK [--downstream]\n"
		 "\n"
		 "  logs    prints the log of a try (default the last one); --index picks a\n"
		 "          foreach item; -f follows it while the try runs.  An instance\n"
		 "          restored from the content cache: the log of the run that made\n"
		 "          its outputs (named on stderr)\n"
		 "  clear   runs TASK (every foreach item; with --downstream everything after\n"
		 "          it too) again with a new try; a finished run continues in 'serve'\n",
	.flags = CMD_NEEDS_DATA,
	.subs = (const struct cmd_entry[]){
		{ .name = "logs", .summary = "the log of a try (default the last one)",
		  .args = "RUN TASK",
		  .options = (const struct cmd_option[]){
			CMD_INT("try", 0, "N", 1, 1000000000, "the log of try N (default the last)"),
			CMD_INT("index", 0, "I", 0, 1000000000, "the foreach item I"),
			CMD_FLAG("follow", 'f', "keep printing while the try runs"),
			CMD_END,
		  },
		  .exec = exec_logs },
		{ .name = "clear", .summary = "run TASK again with a new try", .args = "RUN TASK",
		  .options = (const struct cmd_option[]){
			CMD_FLAG("downstream", 0, "clear everything after TASK too"),
			CMD_END,
		  },
		  .exec = exec_clear },
		CMD_END,
	},
};
