/*
 * A try's preparation and its files: the command, environment and folder a
 * try starts with (templates expanded, the SF_* variables, a batch's items
 * file), where its log, $SF_METRICS and a batch's $SF_ITEMS/$SF_RESULTS lie,
 * and reading its metrics when it ends.  The loop (sched.c) starts and
 * finishes tries; this file knows what they are made of.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/exec-impl.h"
#include "flow/sched-int.h"
#include "flow/template.h"
#include "util/common.h"
#include "util/fs.h"

char *sched_try_log_path(struct sti *ti)
{
	struct srun *run = ti->task->run;
	if (ti->index >= 0)
		return xasprintf("%s/flow/logs/%s/%s/%s.%d/try-%d.log", run->s->data_dir, run->dag->id,
				 run->run_id, ti->task->def->id, ti->index, ti->try_number);
	return xasprintf("%s/flow/logs/%s/%s/%s/try-%d.log", run->s->data_dir, run->dag->id,
			 run->run_id, ti->task->def->id, ti->try_number);
}

/* $SF_METRICS of a try: beside its log, read when the try ends. */
static char *metrics_path_for(struct sti *ti)
{
	char *log = sched_try_log_path(ti);
	char *path = xasprintf("%.*s.metrics.jsonl", (int)(strlen(log) - strlen(".log")), log);
	free(log);
	return path;
}

/* The store skips lines that are not JSON objects: say so where the user looks. */
static void count_bad_metrics(const struct strbuf *sb, struct exec_proc *ep)
{
	size_t bad = 0, first = 0;
	size_t line = 0;

	for (const char *p = sb->buf, *end = sb->buf + sb->len; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *q = p + strspn(p, " \t\r");
		if (q < (nl ? nl : end) && *q != '{' && !bad++)
			first = line + 1;
		p = nl ? nl + 1 : end;
	}
	if (bad)
		exec_log_note(ep, "$SF_METRICS: %zu line(s) are not JSON objects and are skipped "
			      "(the first is line %zu)", bad, first);
}

/*
 * The metrics file of an ended try, at most STORE_METRICS_MAX_BYTES (cut
 * at the last whole line, with a note in the log); NULL when there is none.
 */
struct strbuf *sched_try_read_metrics(struct sti *ti, struct exec_proc *ep)
{
	char *path = metrics_path_for(ti);
	struct strbuf *sb = xcalloc(1, sizeof(*sb));
	struct stat st;
	size_t want;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	sb_init(sb, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || !st.st_size) {
		if (fd >= 0)
			close(fd);
		free(path);
		sb_release(sb);
		free(sb);
		return NULL;
	}
	want = (uint64_t)st.st_size < STORE_METRICS_MAX_BYTES ? (size_t)st.st_size
							     : STORE_METRICS_MAX_BYTES;
	sb_grow(sb, want);
	while (sb->len < want) {
		ssize_t r = read(fd, sb->buf + sb->len, want - sb->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				exec_log_note(ep, "cannot read $SF_METRICS '%s': %s", path,
					      strerror(errno));
			break;
		}
		sb->len += (size_t)r;
	}
	sb->buf[sb->len] = '\0';
	if ((uint64_t)st.st_size > STORE_METRICS_MAX_BYTES) {
		char *nl = memrchr(sb->buf, '\n', sb->len);
		sb_setlen(sb, nl ? (size_t)(nl - sb->buf + 1) : 0);
		exec_log_note(ep, "$SF_METRICS holds %llu bytes: only the first %zu MB are kept",
			      (unsigned long long)st.st_size, STORE_METRICS_MAX_BYTES >> 20);
	}
	close(fd);
	free(path);
	count_bad_metrics(sb, ep);
	return sb;
}

static void tmpl_ctx_for(struct sti *ti, struct tmpl_ctx *ctx, int quote)
{
	sched_run_tmpl_ctx(ti->task->run, ctx, quote);
	ctx->task_id = ti->task->def->id;
	ctx->item = ti->index >= 0 && ti->task->items ? ti->task->items[ti->index] : NULL;
}

/* A batch's files beside its log: $SF_ITEMS (written here) and $SF_RESULTS. */
char *sched_batch_path(struct sti *ti, const char *ext)
{
	char *log = sched_try_log_path(ti);
	char *path = xasprintf("%.*s.%s", (int)(strlen(log) - strlen(".log")), log, ext);
	free(log);
	return path;
}

/* Writes the batch's item paths, NUL-separated, to its $SF_ITEMS file. */
static int write_items(struct sti *lead, char *const *items, size_t n, struct strbuf *err)
{
	char *path = sched_batch_path(lead, "items");
	struct strbuf sb = STRBUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		sb_add(&sb, items[i], strlen(items[i]) + 1);
	if (write_file_atomic(path, sb.buf, sb.len, 0644) < 0) {
		sb_addf(err, "cannot write the batch's items to '%s'", path);
		ret = -1;
	}
	sb_release(&sb);
	free(path);
	return ret;
}

/*
 * The command, environment and folder of a try; -1 with a message in err.
 * For a batch, `items` are its items' paths ({{ items }}, $SF_ITEMS).
 */
int sched_try_prepare(struct sti *ti, const char *key, char *const *items, size_t nitems,
		      struct strbuf *cmd, char ***envp, char **workdir, struct strbuf *err)
{
	struct sched *s = ti->task->run->s;
	const struct dag_task *def = ti->task->def;
	struct tmpl_ctx ctx;
	size_t n = 0, alloc = 0;
	struct strbuf wd = STRBUF_INIT;

	tmpl_ctx_for(ti, &ctx, 1);
	if (items) {
		ctx.item = NULL;
		ctx.items = items;
		ctx.nitems = nitems;
	}
	if (tmpl_expand(def->run, &ctx, cmd, err) < 0)
		return -1;
	ctx.quote = 0;
	if (def->workdir) {
		if (tmpl_expand(def->workdir, &ctx, &wd, err) < 0)
			return -1;
		if (wd.buf[0] != '/') {
			char *abs = path_join(s->data_dir, wd.buf);
			sb_reset(&wd);
			sb_adds(&wd, abs);
			free(abs);
		}
	} else {
		sb_adds(&wd, s->data_dir);
	}
	/* The scheduler's own variables are borrowed: free_env() starts after them. */
	*envp = NULL;
	ALLOC_GROW(*envp, s->nbase_env + 16, alloc);
	memcpy(*envp, s->base_env, s->nbase_env * sizeof(char *));
	n = s->nbase_env;
	(*envp)[n] = NULL;
	tmpl_env(&ctx, envp, &n, &alloc);
	{
		char *metrics = metrics_path_for(ti), *slash = strrchr(metrics, '/');
		/* the task may write it before the log exists: its folder must */
		*slash = '\0';
		mkdir_p(metrics, 0755);
		*slash = '/';
		/* a file left by an earlier try of this number (a crash) must not count */
		unlink(metrics);
		ALLOC_GROW(*envp, n + 2, alloc);
		(*envp)[n++] = xasprintf("SF_METRICS=%s", metrics);
		(*envp)[n] = NULL;
		free(metrics);
	}
	ALLOC_GROW(*envp, n + 4, alloc);
	(*envp)[n++] = xasprintf("SF_TRY_KEY=%s", key);
	/* what the task may use, on either executor (docs/dags.md, resources) */
	(*envp)[n++] = xasprintf("SF_CPUS=%d", def->res.cpus > 0 ? def->res.cpus : 1);
	(*envp)[n++] = xasprintf("SF_GPUS=%d", def->res.gpus);
	(*envp)[n] = NULL;
	if (*fs_self_exe()) {
		ALLOC_GROW(*envp, n + 2, alloc);
		(*envp)[n++] = xasprintf("SF_SYNTHFLOW=%s", fs_self_exe());
		(*envp)[n] = NULL;
	}
	if (items) {
		char *in = sched_batch_path(ti, "items"), *res = sched_batch_path(ti, "results");
		if (write_items(ti, items, nitems, err) < 0) {
			free(in);
			free(res);
			sb_release(&wd);
			return -1;
		}
		unlink(res);
		ALLOC_GROW(*envp, n + 3, alloc);
		(*envp)[n++] = xasprintf("SF_ITEMS=%s", in);
		(*envp)[n++] = xasprintf("SF_RESULTS=%s", res);
		(*envp)[n] = NULL;
		free(in);
		free(res);
	}
	for (size_t i = 0; i < def->nenv; i++) {
		struct strbuf v = STRBUF_INIT;
		if (tmpl_expand(def->env[i].value, &ctx, &v, err) < 0) {
			sb_release(&v);
			sb_release(&wd);
			return -1;
		}
		ALLOC_GROW(*envp, n + 2, alloc);
		(*envp)[n++] = xasprintf("%s=%s", def->env[i].key, v.buf);
		(*envp)[n] = NULL;
		sb_release(&v);
	}
	*workdir = sb_detach(&wd, NULL);
	return 0;
}

void sched_try_env_free(struct sched *s, char **envp)
{
	if (!envp)
		return;
	for (char **e = envp + s->nbase_env; *e; e++)
		free(*e);
	free(envp);
}
