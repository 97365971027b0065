/*
 * The Slurm executor (exec-impl.h, docs/slurm.md).
 *
 * A try is one batch job.  Its batch script (slurm.c) runs the command as
 * the local executor would, writes its output to the try's log (capped) and
 * then its exit code to a file beside the log, fsynced.  The scheduler
 * learns how jobs go with ONE `squeue` call per poll interval for all of
 * them, whatever their number; a job that left the running states is
 * decided by its exit-code file, waited for up to slurm.fs_grace (a shared
 * file system may show it late), and by Slurm's state when Slurm ended it
 * (time limit, memory, node failure, preemption).
 *
 * A foreach task's instances started in one scheduler iteration become job
 * arrays (one per MaxArraySize elements, throttled with %N by max_active):
 * each try still has its own batch script, log and exit-code file, and the
 * array's script runs the one on its element's line of a list file.
 * Retries are new tries, so an array of retries holds only failed elements.
 *
 * Crash safety: a try's job name is a key made of the data folder, run,
 * task, index and try number, all of which the store holds before sbatch
 * is called; a try in an array has a file beside its log (try-N.array),
 * written before sbatch, naming its array and element.  A scheduler that starts finds its predecessor's jobs by that
 * key in its first squeue listing: a try recorded as running is followed
 * again (reattach), and a try about to be submitted whose key is already
 * queued (the predecessor died between sbatch and its next write) is
 * followed instead of being submitted twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow/container.h"
#include "flow/exec-impl.h"
#include "flow/sched-int.h"
#include "flow/slurm.h"
#include "util/common.h"
#include "util/fs.h"
#include "util/spawn.h"
#include "util/timeutil.h"
#include "workspace/ws.h"

extern char **environ;

struct slurm_job {
	struct exec_slurm *st;
	char *key;              /* the job's name: the try's key, or its array's */
	int element;            /* its array task id; -1 for a job of its own */
	char *exit_path;
	char *script;           /* its batch script, while it waits to be put in an array */
	int in_batch;
	char id[32];            /* "" until known */
	int running_seen;
	int attached;           /* followed again after a scheduler restart */
	int listed;             /* seen in squeue at least once */
	int cancel_wanted;      /* killed before its id was known */
	int64_t ended_mono;     /* first seen ended without its exit-code file; 0 = not yet */
	int acct_asked;         /* left the queue without an exit-code file: sacct was asked */
	int acct_status;        /* how it ended by sacct (as waitpid's status); -1 = unknown */
};

struct exec_slurm {
	int64_t poll_ms, grace_ms;
	char *partition, *account;
	char prefix[16];        /* "sf-" and 8 hex digits of the data folder */
	int64_t next_poll;
	int listed;
	/* The last squeue listing of our jobs, sorted by name. */
	struct strbuf listing;
	struct slurm_row *rows;
	size_t nrows, rows_alloc;
	struct strvec cancels;  /* job ids for the next scancel */
	int max_array;          /* MaxArraySize, read once; 0 = not yet */
	struct sproc **batch;   /* foreach tries waiting to be submitted as arrays */
	size_t nbatch, batch_alloc;
	int acct_off;           /* sacct said the cluster keeps no accounting */
	struct sproc **ask;     /* tries to look up in the next sacct call */
	size_t nask, ask_alloc;
};

static struct exec_slurm *state(struct sched *s)
{
	const struct config *cfg = s->opts.cfg;
	struct exec_slurm *st = s->slurm;
	char hex[65];

	if (st)
		return st;
	st = s->slurm = xcalloc(1, sizeof(*st));
	/* The configuration's types and ranges hold these to sane values (config.c). */
	st->poll_ms = cfg->slurm_poll_ms;
	st->grace_ms = cfg->slurm_fs_grace_ms;
	st->partition = xstrdup(cfg->slurm_partition);
	st->account = xstrdup(cfg->slurm_account);
	sha256_hex(s->data_dir, strlen(s->data_dir), hex);
	snprintf(st->prefix, sizeof(st->prefix), "sf-%.8s-", hex);
	sb_init(&st->listing, 0);
	return st;
}

/*
 * Writes a file whole (a temporary file renamed into place) without
 * fsync: it only has to be complete when a node or the next scheduler
 * reads it, and a foreach of 1,000 items writes 2,000 of them at once.
 */
static int write_quick(const char *path, const char *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ret = -1;

	if (fd >= 0) {
		ssize_t w = write(fd, data, len);
		if (close(fd) == 0 && w == (ssize_t)len && rename(tmp, path) == 0)
			ret = 0;
	}
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

static char *job_key(struct exec_slurm *st, const struct sti *ti)
{
	return xasprintf("%s%s:%s:%d:%d", st->prefix, ti->task->run->run_id, ti->task->def->id,
			 ti->index, ti->try_number);
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct slurm_row *)a)->name, ((const struct slurm_row *)b)->name);
}

/* The row of a job, or of element `element` (>= 0) of the array named `key`. */
static const struct slurm_row *find_row(struct exec_slurm *st, const char *key, int element)
{
	struct slurm_row want = { .name = (char *)key };
	const struct slurm_row *r, *end = st->rows + st->nrows;
	char suffix[16];

	r = st->nrows ? bsearch(&want, st->rows, st->nrows, sizeof(*st->rows), cmp_row) : NULL;
	if (!r || element < 0)
		return r;
	while (r > st->rows && !strcmp(r[-1].name, key))
		r--;
	snprintf(suffix, sizeof(suffix), "_%d", element);
	for (; r < end && !strcmp(r->name, key); r++) {
		const char *u = strchr(r->id, '_');
		if (u && !strcmp(u, suffix))
			return r;
	}
	return NULL;
}

/* The one squeue call: every job of ours Slurm still knows, in st->rows. */
static int list_jobs(struct exec_slurm *st)
{
	const char *argv[] = { "squeue", "--noheader", "--array", "--states=all", "--me",
			       "--format=%i|%T|%j", NULL };
	struct strbuf err = STRBUF_INIT;
	int rc;

	sb_reset(&st->listing);
	st->nrows = 0;
	rc = spawn_capture(argv, &st->listing, &err);
	if (rc != 0) {
		sb_rtrim(&err);
		warning("slurm: squeue failed (%s%s%s); will ask again",
			rc < 0 ? "cannot run it" : "exit status", rc < 0 ? "" : " ",
			rc < 0 ? "" : err.len ? err.buf : "non-zero");
		sb_release(&err);
		return -1;
	}
	sb_release(&err);
	for (char *line = st->listing.buf, *next; line && *line; line = next) {
		struct slurm_row row;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (slurm_parse_row(line, &row) < 0 || strncmp(row.name, st->prefix, strlen(st->prefix)))
			continue;
		ALLOC_GROW(st->rows, st->nrows + 1, st->rows_alloc);
		st->rows[st->nrows++] = row;
	}
	if (st->nrows)	/* qsort must not be handed a null array, even with no rows */
		qsort(st->rows, st->nrows, sizeof(*st->rows), cmp_row);
	st->listed = 1;
	return 0;
}

/* -1: no such file yet; otherwise the exit code it holds. */
static int read_exit_file(const char *path)
{
	char buf[32], *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	long code;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	code = strtol(buf, &end, 10);
	/* The wrapper renames the file into place whole: anything else is not its doing. */
	return end == buf || code < 0 || code > 255 ? 255 : (int)code;
}

/* A file beside the try's log: try-N.log -> try-N.EXT. */
static char *beside_log(const char *log_path, const char *ext)
{
	size_t n = strlen(log_path);
	if (n > 4 && !strcmp(log_path + n - 4, ".log"))
		n -= 4;
	return xasprintf("%.*s.%s", (int)n, log_path, ext);
}

/* try-N.array: "NAME ELEMENT" of the array that holds the try; 0 when there is one. */
static int read_array_file(struct slurm_job *job, const char *log_path)
{
	char *path = beside_log(log_path, "array");
	struct strbuf sb = STRBUF_INIT;
	char *sp;
	int ret = -1;

	if (sb_read_file(&sb, path) == 0 && (sp = strrchr(sb.buf, ' '))) {
		*sp = '\0';
		free(job->key);
		job->key = xstrdup(sb.buf);
		job->element = atoi(sp + 1);
		ret = 0;
	}
	sb_release(&sb);
	free(path);
	return ret;
}

static void init_proc(struct sproc *p, struct slurm_job *job, const char *log_path)
{
	exec_proc_init(&p->ep, log_path);
	p->job = job;
}

static void batch_remove(struct exec_slurm *st, struct sproc *p)
{
	for (size_t i = 0; i < st->nbatch; i++) {
		if (st->batch[i] == p) {
			memmove(st->batch + i, st->batch + i + 1, (st->nbatch - i - 1) * sizeof(*st->batch));
			st->nbatch--;
			break;
		}
	}
	p->job->in_batch = 0;
}

static struct slurm_job *job_new(struct exec_slurm *st, const struct sti *ti, const char *log_path)
{
	struct slurm_job *job = xcalloc(1, sizeof(*job));
	job->st = st;
	job->key = job_key(st, ti);
	job->element = -1;
	job->exit_path = beside_log(log_path, "exit");
	job->acct_status = -1;
	return job;
}

static void job_free(struct slurm_job *job)
{
	if (!job)
		return;
	free(job->key);
	free(job->exit_path);
	free(job->script);
	free(job);
}

/* Variables of the try that the scheduler's environment (what sbatch passes) lacks. */
static size_t try_env(char **envp, char ***out)
{
	size_t n = 0, alloc = 0;
	*out = NULL;
	for (char **e = envp; *e; e++) {
		int inherited = 0;
		for (char **g = environ; *g && !inherited; g++)
			inherited = !strcmp(*g, *e);
		if (!inherited) {
			ALLOC_GROW(*out, n + 1, alloc);
			(*out)[n++] = *e;
		}
	}
	return n;
}

/* Writes the try's batch script (try-N.sbatch) into job->script. */
static int write_try_script(struct sproc *p, const struct exec_spec *spec, struct strbuf *err)
{
	struct slurm_job *job = p->job;
	struct strbuf script = STRBUF_INIT;
	char *dir = xstrdup(spec->log_path), *slash = strrchr(dir, '/');
	struct slurm_script sc = { .cmd = spec->cmd, .workdir = spec->workdir,
				   .log_path = spec->log_path,
				   .exit_path = job->exit_path, .log_max = exec_log_max() };
	const struct dag_task *def = p->ti->task->def;
	struct ws ws = { 0 };
	char *sif = NULL, *name = NULL;
	int rc = -1;

	if (def->container) {
		ws_init(&ws, p->ti->task->run->s->data_dir, def->container);
		sif = ctr_sif_path(&ws);
		name = ctr_name(p->key);
		sc = (struct slurm_script){ .cmd = spec->cmd, .workdir = spec->workdir,
					    .log_path = spec->log_path, .exit_path = job->exit_path,
					    .log_max = exec_log_max(), .ctr_workspace = ws.name,
					    .ctr_image = ws.image, .ctr_sif = sif, .ctr_name = name,
					    .data_dir = ws.data_dir, .uid = getuid(), .gid = getgid(),
					    .gpus = def->res.gpus };
	}

	if (slash)
		*slash = '\0';
	job->script = beside_log(spec->log_path, "sbatch");
	if (mkdir_p(dir, 0755) < 0) {
		sb_addf(err, "cannot create '%s': %s", dir, strerror(errno));
	} else {
		sc.nenv = try_env(spec->envp, &sc.env);
		slurm_script_text(&script, &sc);
		free(sc.env);
		rc = write_quick(job->script, script.buf, script.len, 0755);
		if (rc < 0)
			sb_addf(err, "cannot write '%s': %s", job->script, strerror(errno));
	}
	sb_release(&script);
	free(dir);
	free(sif);
	free(name);
	if (ws.name)
		ws_release(&ws);
	return rc;
}

/* sbatch; the job id in *id.  -1 with a message in err. */
static int sbatch(const struct slurm_submit *sub, long long *id, struct strbuf *err)
{
	struct strbuf out = STRBUF_INIT, serr = STRBUF_INIT;
	struct strvec argv = STRVEC_INIT;
	int rc;

	slurm_sbatch_argv(&argv, sub);
	rc = spawn_capture(strvec_argv(&argv), &out, &serr);
	sb_rtrim(&serr);
	if (rc < 0) {
		sb_addf(err, "cannot run 'sbatch': %s (is Slurm installed on this machine?)",
			strerror(errno));
		rc = -1;
	} else if (rc > 0 || (*id = slurm_parse_jobid(out.buf)) < 0) {
		sb_addf(err, "sbatch refused the job: %s", serr.len ? serr.buf : out.buf);
		rc = -1;
	}
	strvec_clear(&argv);
	sb_release(&out);
	sb_release(&serr);
	return rc;
}

static void fill_submit(struct slurm_submit *sub, struct exec_slurm *st, const struct dag_task *def,
			const char *key, const char *workdir, const char *script)
{
	*sub = (struct slurm_submit){ .key = key, .workdir = workdir, .script = script,
				      .res = &def->res, .timeout_ms = def->timeout_ms,
				      .partition = st->partition, .account = st->account };
}

static int submit(struct exec_slurm *st, struct sproc *p, const struct exec_spec *spec,
		  struct strbuf *err)
{
	struct slurm_submit sub;
	long long id;

	if (write_try_script(p, spec, err) < 0)
		return -1;
	fill_submit(&sub, st, p->ti->task->def, p->job->key, spec->workdir, p->job->script);
	if (sbatch(&sub, &id, err) < 0)
		return -1;
	snprintf(p->job->id, sizeof(p->job->id), "%lld", id);
	return 0;
}

static int slurm_start(struct sched *s, struct sproc *p, const struct exec_spec *spec,
		       struct strbuf *err)
{
	struct exec_slurm *st = state(s);
	struct slurm_job *job = job_new(st, p->ti, spec->log_path);
	const struct slurm_row *row;
	int foreach = p->ti->index >= 0;

	init_proc(p, job, spec->log_path);
	/* The first try of this scheduler: a predecessor's jobs are found before any is submitted. */
	if (!st->listed && list_jobs(st) < 0) {
		sb_adds(err, "cannot list the Slurm queue (squeue)");
		goto fail;
	}
	if (foreach && read_array_file(job, spec->log_path) < 0)
		job->element = -1;
	row = find_row(st, job->key, job->element);
	if (row || read_exit_file(job->exit_path) >= 0) {
		/* Submitted by a scheduler that died before writing it down: follow it. */
		if (row)
			snprintf(job->id, sizeof(job->id), "%s", row->id);
		job->attached = 1;
		return 0;
	}
	if (foreach) {
		/* Goes into a job array at the next tick, with the others started meanwhile. */
		free(job->key);
		job->key = job_key(st, p->ti);
		job->element = -1;
		if (write_try_script(p, spec, err) < 0)
			goto fail;
		ALLOC_GROW(st->batch, st->nbatch + 1, st->batch_alloc);
		st->batch[st->nbatch++] = p;
		job->in_batch = 1;
		return 0;
	}
	if (submit(st, p, spec, err) == 0)
		return 0;
fail:
	p->job = NULL;
	exec_release(&p->ep);
	job_free(job);
	return -1;
}

static void slurm_kill(struct sched *s, struct sproc *p, int hard)
{
	struct exec_slurm *st = state(s);

	/* One scancel per job: Slurm sends SIGTERM, then SIGKILL after its KillWait. */
	if (hard)
		return;
	if (!p->job->id[0] || p->job->in_batch) {
		p->job->cancel_wanted = 1;
		return;
	}
	strvec_push(&st->cancels, p->job->id);
}

static int slurm_reap(struct sproc *p, int killed)
{
	(void)p; /* Slurm ends the job's processes itself */
	(void)killed;
	return 0;
}

static int slurm_detach(struct sched *s, struct sproc *p)
{
	(void)s;
	(void)p;
	return 1;
}

static int slurm_reattach(struct sched *s, struct sproc *p, const struct store_try *last,
			  struct strbuf *why)
{
	struct exec_slurm *st = state(s);
	struct slurm_job *job;

	if (!last->log_path) {
		sb_adds(why, "its try has no log path on record");
		return -1;
	}
	job = job_new(st, p->ti, last->log_path);
	job->attached = 1;
	if (p->ti->index >= 0)
		read_array_file(job, last->log_path);
	init_proc(p, job, last->log_path);
	return 0;
}

/* One scancel for every job to cancel since the last tick. */
static void send_cancels(struct exec_slurm *st)
{
	struct strvec argv = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;

	if (!st->cancels.nr)
		return;
	strvec_push(&argv, "scancel");
	for (size_t i = 0; i < st->cancels.nr; i++)
		strvec_push(&argv, st->cancels.v[i]);
	/* A job that ended meanwhile makes scancel complain; its end is found anyway. */
	spawn_capture(strvec_argv(&argv), NULL, &err);
	strvec_clear(&argv);
	strvec_clear(&st->cancels);
	sb_release(&err);
}

/* Appends to the log the node wrote (exec_log_note would start it anew). */
static void open_log_append(struct sproc *p)
{
	if (p->ep.log_fd < 0)
		p->ep.log_fd = open(p->ep.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (p->ep.log_fd < 0)
		p->ep.log_errno = errno;
}

static void end_try(struct sched *s, struct sproc *p, int status, const char *why)
{
	free(p->why);
	p->why = why ? xstrdup(why) : NULL;
	if (p->ti->kill != KILL_NONE)
		open_log_append(p);
	sched_try_ended(s, p, status);
}

/* Follows one job with what the last listing says about it. */
static void follow(struct sched *s, struct exec_slurm *st, struct sproc *p, int64_t now)
{
	struct slurm_job *job = p->job;
	struct sti *ti = p->ti;
	const struct slurm_row *row;
	enum slurm_class cls = SLURM_ENDED;
	const char *reason = NULL;
	int code;

	if (job->in_batch)
		return;
	row = find_row(st, job->key, job->element);

	if (row) {
		snprintf(job->id, sizeof(job->id), "%s", row->id);
		job->listed = 1;
		cls = slurm_state_class(row->state, &reason);
		if (job->cancel_wanted) {
			job->cancel_wanted = 0;
			strvec_push(&st->cancels, job->id);
		}
	}
	switch (cls) {
	case SLURM_WAITING:
	case SLURM_UNKNOWN:
		return;
	case SLURM_RUNNING:
		if (!job->running_seen) {
			job->running_seen = 1;
			p->started_mono = now;
			if (ti->task->def->timeout_ms > 0)
				sched_timer_add(s, ti, TM_TIMEOUT, now + ti->task->def->timeout_ms);
		}
		return;
	case SLURM_REQUEUE:
		if (ti->kill == KILL_NONE)
			ti->kill = KILL_PREEMPT;
		end_try(s, p, SIGKILL, reason);
		return;
	case SLURM_ENDED:
	case SLURM_KILLED:
		break;
	}
	code = read_exit_file(job->exit_path);
	if (code >= 0) {
		end_try(s, p, W_EXITCODE(code, 0), ti->kill == KILL_NONE ? reason : NULL);
		return;
	}
	if (cls == SLURM_KILLED) {
		end_try(s, p, SIGKILL, ti->kill == KILL_NONE ? reason : NULL);
		return;
	}
	/* Ended (or gone from the queue) and no exit code yet: a shared file system may lag. */
	if (!job->ended_mono)
		job->ended_mono = now;
	if (!row && !job->acct_asked && !st->acct_off) {
		/* Gone from the queue: Slurm's accounting may know how it ended (account()). */
		job->acct_asked = 1;
		ALLOC_GROW(st->ask, st->nask + 1, st->ask_alloc);
		st->ask[st->nask++] = p;
		return;
	}
	if (now - job->ended_mono < st->grace_ms)
		return;
	if (ti->kill != KILL_NONE) {
		end_try(s, p, SIGKILL, NULL);
	} else if (job->acct_status >= 0) {
		/* Slurm's own exit code: the node's files never showed up here. */
		struct strbuf why = STRBUF_INIT;
		sb_addf(&why, "exit code from Slurm's accounting: the job's exit-code file '%s' did "
			      "not appear within slurm.fs_grace (its log may be incomplete here)",
			job->exit_path);
		end_try(s, p, job->acct_status, why.buf);
		sb_release(&why);
	} else if (job->attached && !job->listed) {
		/* Not in the queue and never ran to its end: lost with the scheduler. */
		ti->kill = KILL_LOST;
		end_try(s, p, SIGKILL, NULL);
	} else {
		struct strbuf why = STRBUF_INIT;
		sb_addf(&why, "the Slurm job %s ended (%s) without writing its exit code to '%s' "
			      "within slurm.fs_grace", job->id[0] ? job->id : "?",
			row ? row->state : "no longer listed", job->exit_path);
		end_try(s, p, W_EXITCODE(255, 0), why.buf);
		sb_release(&why);
	}
}

/*
 * One sacct call for the jobs that left the queue without an exit-code
 * file (Slurm forgets ended jobs after MinJobAge, 300 s by default; a
 * scheduler that was down longer finds them only there).  What Slurm ended
 * (time limit, memory, node) ends the try now; an exit code is kept for
 * when the exit-code file has not appeared within slurm.fs_grace.  Without
 * accounting (sacct says so) it is not asked again: exit-code files decide.
 */
static void account(struct sched *s, struct exec_slurm *st)
{
	struct strvec argv = STRVEC_INIT;
	struct strbuf names = STRBUF_INIT, out = STRBUF_INIT, err = STRBUF_INIT;
	struct slurm_acct_row *rows = NULL;
	size_t nrows = 0, rows_alloc = 0, n = st->nask;
	struct sproc **ask = st->ask;
	int rc;

	if (!n)
		return;
	st->ask = NULL;
	st->nask = st->ask_alloc = 0;
	/* By name (the try's key): a scheduler that restarted never learnt the job ids. */
	for (size_t i = 0; i < n; i++)
		sb_addf(&names, "%s%s", i ? "," : "", ask[i]->job->key);
	strvec_push(&argv, "sacct");
	strvec_push(&argv, "--noheader");
	strvec_push(&argv, "--parsable2");
	strvec_push(&argv, "--allocations");
	strvec_push(&argv, "--format=JobID,State,ExitCode,JobName");
	strvec_push(&argv, "--starttime=now-30days");
	strvec_pushf(&argv, "--name=%s", names.buf);
	rc = spawn_capture(strvec_argv(&argv), &out, &err);
	if (rc != 0) {
		sb_rtrim(&err);
		if (rc > 0 && slurm_acct_disabled(err.buf)) {
			st->acct_off = 1;
			warning("slurm: the cluster keeps no accounting (sacct: %s); jobs that left the "
				"queue are decided by their exit-code files", err.buf);
		} else {
			warning("slurm: sacct failed (%s); these %zu job(s) are decided by their "
				"exit-code files", rc < 0 ? "cannot run it" : err.len ? err.buf : "non-zero",
				n);
		}
		goto out;
	}
	for (char *line = out.buf, *next; line && *line; line = next) {
		struct slurm_acct_row row;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (slurm_parse_acct_row(line, &row) == 0) {
			ALLOC_GROW(rows, nrows + 1, rows_alloc);
			rows[nrows++] = row;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct sproc *p = ask[i];
		const struct slurm_acct_row *r = NULL;
		const char *reason;

		/* the last with its name (and element): a key is never submitted twice, but be sure */
		for (size_t k = 0; k < nrows; k++) {
			const char *u = strchr(rows[k].id, '_');
			if (strcmp(rows[k].name, p->job->key))
				continue;
			if (p->job->element < 0 ? !u : u && atoi(u + 1) == p->job->element &&
			    u[1 + strspn(u + 1, "0123456789")] == '\0')
				r = &rows[k];
		}
		if (!r)
			continue;
		if (!p->job->id[0])
			snprintf(p->job->id, sizeof(p->job->id), "%s", r->id);
		switch (slurm_state_class(r->state, &reason)) {
		case SLURM_KILLED:
			end_try(s, p, SIGKILL, p->ti->kill == KILL_NONE ? reason : NULL);
			break;
		case SLURM_REQUEUE:
			if (p->ti->kill == KILL_NONE)
				p->ti->kill = KILL_PREEMPT;
			end_try(s, p, SIGKILL, reason);
			break;
		case SLURM_ENDED:
			p->job->acct_status = r->status;
			break;
		default:
			/* accounting still sees it queued or running: ask again at the next poll */
			p->job->acct_asked = 0;
			p->job->ended_mono = 0;
			break;
		}
	}
out:
	strvec_clear(&argv);
	sb_release(&names);
	sb_release(&out);
	sb_release(&err);
	free(rows);
	free(ask);
}

/* MaxArraySize of the cluster, read once (Slurm's default when it cannot be read). */
static int max_array(struct exec_slurm *st)
{
	const char *argv[] = { "scontrol", "show", "config", NULL };
	struct strbuf out = STRBUF_INIT;

	if (st->max_array)
		return st->max_array;
	if (spawn_capture(argv, &out, NULL) == 0)
		st->max_array = slurm_parse_max_array(out.buf);
	if (st->max_array <= 0) {
		warning("slurm: cannot read MaxArraySize from 'scontrol show config'; using 1001");
		st->max_array = 1001;
	}
	sb_release(&out);
	return st->max_array;
}

static int cmp_batch(const void *a, const void *b)
{
	const struct sti *x = (*(struct sproc *const *)a)->ti, *y = (*(struct sproc *const *)b)->ti;
	if (x->task != y->task)
		return (uintptr_t)x->task < (uintptr_t)y->task ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Every element of one array fails to be submitted: each try ends with the reason. */
static void fail_array(struct sched *s, struct sproc **el, size_t n, const char *why)
{
	for (size_t i = 0; i < n; i++) {
		free(el[i]->why);
		el[i]->why = xstrdup(why);
		sched_try_ended(s, el[i], W_EXITCODE(255, 0));
	}
}

/* One job array for n tries of one task (n <= MaxArraySize). */
static void submit_array(struct sched *s, struct exec_slurm *st, struct sproc **el, size_t n)
{
	const struct dag_task *def = el[0]->ti->task->def;
	struct strbuf list = STRBUF_INIT, text = STRBUF_INIT, err = STRBUF_INIT;
	char *name = xasprintf("%s+%zu", el[0]->job->key, n);
	char *list_path = beside_log(el[0]->ep.log_path, "list");
	char *script = beside_log(el[0]->ep.log_path, "array.sbatch");
	char *workdir = xstrdup(s->data_dir);
	struct slurm_submit sub;
	long long id;

	for (size_t i = 0; i < n; i++)
		sb_addf(&list, "%s\n", el[i]->job->script);
	slurm_array_script_text(&text, list_path);
	if (write_quick(list_path, list.buf, list.len, 0644) < 0 ||
	    write_quick(script, text.buf, text.len, 0755) < 0) {
		sb_addf(&err, "cannot write the job array's files beside '%s': %s", list_path,
			strerror(errno));
		goto out;
	}
	/* Written before sbatch: a scheduler that dies meanwhile finds the array by it. */
	for (size_t i = 0; i < n; i++) {
		struct slurm_job *job = el[i]->job;
		char *path = beside_log(el[i]->ep.log_path, "array");
		char line[64];
		int len;
		free(job->key);
		job->key = xstrdup(name);
		job->element = (int)i;
		len = snprintf(line, sizeof(line), " %zu\n", i);
		sb_reset(&text);
		sb_adds(&text, name);
		sb_add(&text, line, (size_t)len);
		if (write_quick(path, text.buf, text.len, 0644) < 0)
			sb_addf(&err, "cannot write '%s': %s", path, strerror(errno));
		free(path);
		if (err.len)
			goto out;
	}
	/* Each try's own script changes to its folder; the array starts in the data folder. */
	fill_submit(&sub, st, def, name, workdir, script);
	sub.array_n = (int)n;
	sub.throttle = def->max_active;
	if (sbatch(&sub, &id, &err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		snprintf(el[i]->job->id, sizeof(el[i]->job->id), "%lld_%zu", id, i);
out:
	if (err.len)
		fail_array(s, el, n, err.buf);
	sb_release(&list);
	sb_release(&text);
	sb_release(&err);
	free(name);
	free(list_path);
	free(script);
	free(workdir);
}

/* The foreach tries started since the last tick, as job arrays. */
static void submit_batch(struct sched *s, struct exec_slurm *st)
{
	struct sproc **b = st->batch;
	size_t n = st->nbatch, lo = 0, chunk = (size_t)max_array(st), w = 0;

	if (!n)
		return;
	st->batch = NULL;
	st->nbatch = st->batch_alloc = 0;
	for (size_t i = 0; i < n; i++)
		b[i]->job->in_batch = 0;
	/* Cancelled before it was submitted: it never ran. */
	for (size_t i = 0; i < n; i++) {
		if (b[i]->job->cancel_wanted)
			sched_try_ended(s, b[i], SIGTERM);
		else
			b[w++] = b[i];
	}
	n = w;
	qsort(b, n, sizeof(*b), cmp_batch);
	while (lo < n) {
		size_t hi = lo + 1;
		while (hi < n && hi - lo < chunk && b[hi]->ti->task == b[lo]->ti->task)
			hi++;
		submit_array(s, st, b + lo, hi - lo);
		lo = hi;
	}
	free(b);
}

static void slurm_tick(struct sched *s)
{
	struct exec_slurm *st = s->slurm;
	int64_t now;
	int any = 0;

	if (!st)
		return;
	submit_batch(s, st);
	send_cancels(st);
	now = time_mono_ms();
	if (now < st->next_poll)
		return;
	for (size_t i = 0; i < s->nprocs && !any; i++)
		any = s->procs[i]->ops == &exec_slurm_ops;
	if (!any)
		return;
	st->next_poll = now + st->poll_ms;
	if (list_jobs(st) < 0)
		return;
	/* Backwards: an ended try leaves s->procs (its slot takes the last one). */
	for (size_t i = s->nprocs; i-- > 0;) {
		if (i < s->nprocs && s->procs[i]->ops == &exec_slurm_ops)
			follow(s, st, s->procs[i], now);
	}
	account(s, st);
	send_cancels(st);
}

static int64_t slurm_wait_ms(struct sched *s)
{
	struct exec_slurm *st = s->slurm;
	int64_t w;

	if (!st)
		return -1;
	if (st->cancels.nr || st->nbatch)
		return 0;
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i]->ops == &exec_slurm_ops) {
			w = st->next_poll - time_mono_ms();
			return w < 0 ? 0 : w;
		}
	}
	return -1;
}

static void slurm_release(struct sproc *p)
{
	if (p->job && p->job->in_batch)
		batch_remove(p->job->st, p);
	exec_release(&p->ep);
	job_free(p->job);
	p->job = NULL;
}

static void slurm_shutdown(struct sched *s)
{
	struct exec_slurm *st = s->slurm;
	if (!st)
		return;
	send_cancels(st);
	free(st->partition);
	free(st->account);
	sb_release(&st->listing);
	free(st->rows);
	strvec_clear(&st->cancels);
	free(st->batch);
	free(st->ask);
	free(st);
	s->slurm = NULL;
}

const struct exec_ops exec_slurm_ops = {
	.name = "slurm",
	.remote = 1,
	.start = slurm_start,
	.kill = slurm_kill,
	.reap = slurm_reap,
	.detach = slurm_detach,
	.reattach = slurm_reattach,
	.tick = slurm_tick,
	.wait_ms = slurm_wait_ms,
	.release = slurm_release,
	.shutdown = slurm_shutdown,
};
