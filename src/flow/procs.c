/*
 * Finding and killing every process of a try (procs.h).  Three nets, each
 * catching what the others miss:
 *  - a cgroup v2 per try, where we may make one: nothing leaves it, not even
 *    a process that clears its environment and starts its own session;
 *  - SF_TRY_KEY / SF_RUN_ID in the environment, which every descendant
 *    inherits (also one forked before the move into the cgroup);
 *  - the process group, and `serve`/`test` being a subreaper: at their end
 *    every process left below them is killed.
 * Only the cgroup is certain; without one a process that both clears its
 * environment and escapes its session and parent is not found (best effort,
 * docs/engine.md).
 */
#include "flow/procs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"
#include "util/timeutil.h"

/* The cgroups of tries: "<cgroup2 mount><our cgroup>/synthflow", or none. */
static char *cg_base;
static int cg_state;            /* 0: not looked yet, 1: usable, -1: none */

/* Leaves this process made that could not be removed yet (processes left in them). */
static char **cg_leaves;
static size_t cg_nleaves, cg_leaves_alloc;

static char *own_cgroup(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *line, *save = NULL, *path = NULL;

	if (sb_read_file(&sb, "/proc/self/cgroup") < 0)
		return NULL;
	for (line = strtok_r(sb.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "0::/", 4))
			path = xstrdup(line + 3);
	sb_release(&sb);
	return path;
}

/* Where cgroup2 is mounted with its root at "/" (the whole hierarchy). */
static char *cgroup2_mount(void)
{
	struct strbuf sb = STRBUF_INIT;
	char *line, *save = NULL, *mnt = NULL;

	if (sb_read_file(&sb, "/proc/self/mountinfo") < 0)
		return NULL;
	for (line = strtok_r(sb.buf, "\n", &save); line && !mnt;
	     line = strtok_r(NULL, "\n", &save)) {
		char root[256], point[512];
		const char *dash = strstr(line, " - ");
		if (!dash || strncmp(dash + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %255s %511s", root, point) == 2 && !strcmp(root, "/"))
			mnt = xstrdup(point);
	}
	sb_release(&sb);
	return mnt;
}

static const char *cgroup_base(void)
{
	char *own, *mnt, *procs;

	if (cg_state)
		return cg_state > 0 ? cg_base : NULL;
	cg_state = -1;
	/* The fallback is what most machines without a writable cgroup2 get: testable on demand. */
	if (getenv("SF_NO_CGROUPS"))
		return NULL;
	own = own_cgroup();
	mnt = cgroup2_mount();
	if (own && mnt) {
		cg_base = xasprintf("%s%s%ssynthflow", mnt, own, strcmp(own, "/") ? "/" : "");
		procs = xasprintf("%s/cgroup.procs", cg_base);
		if ((mkdir(cg_base, 0755) == 0 || errno == EEXIST) && access(procs, W_OK) == 0)
			cg_state = 1;
		free(procs);
	}
	free(own);
	free(mnt);
	return cg_state > 0 ? cg_base : NULL;
}

int procs_have_cgroups(void)
{
	return cgroup_base() != NULL;
}

static void name_part(struct strbuf *sb, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sb_addch(sb, isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' ? s[i] : '.');
}

/* base/<run>, and base/<run>/<task.index.try> for a key (NULL: the run's folder). */
static char *cg_dir(const char *run_id, const char *key)
{
	struct strbuf sb = STRBUF_INIT;
	const char *base = cgroup_base(), *tail;

	if (!base)
		return NULL;
	sb_addf(&sb, "%s/", base);
	name_part(&sb, run_id, strlen(run_id));
	if (key) {
		/* the key's part after "<scheduler>/<run>/" */
		tail = strstr(key, run_id);
		tail = tail ? tail + strlen(run_id) + 1 : key;
		sb_addch(&sb, '/');
		name_part(&sb, tail, strlen(tail));
	}
	return sb_detach(&sb, NULL);
}

char *procs_try_key(const char *sched_id, const char *run_id, const char *task_id, int index,
		    int try_number)
{
	if (index >= 0)
		return xasprintf("%s/%s/%s.%d/%d", sched_id, run_id, task_id, index, try_number);
	return xasprintf("%s/%s/%s/%d", sched_id, run_id, task_id, try_number);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

void procs_attach(pid_t pid, const char *run_id, const char *key)
{
	char *run_dir = cg_dir(run_id, NULL), *dir, *procs, num[32];

	if (!run_dir)
		return;
	dir = cg_dir(run_id, key);
	procs = xasprintf("%s/cgroup.procs", dir);
	snprintf(num, sizeof(num), "%d", (int)pid);
	if ((mkdir(run_dir, 0755) == 0 || errno == EEXIST) && (mkdir(dir, 0755) == 0 || errno == EEXIST) &&
	    write_file(procs, num) == 0) {
		ALLOC_GROW(cg_leaves, cg_nleaves + 1, cg_leaves_alloc);
		cg_leaves[cg_nleaves++] = xstrdup(dir);
	}
	free(procs);
	free(dir);
	free(run_dir);
}

/* SIGKILLs every process of a cgroup and its children; returns how many it saw. */
static int cg_kill(const char *dir)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xasprintf("%s/cgroup.kill", dir);
	DIR *d;
	struct dirent *de;
	int seen = 0;

	write_file(path, "1"); /* Linux 5.14+: atomic, also against forks */
	free(path);
	path = xasprintf("%s/cgroup.procs", dir);
	if (sb_read_file(&sb, path) == 0) {
		for (char *p = sb.buf; *p;) {
			long pid = strtol(p, &p, 10);
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				seen++;
			while (*p == '\n')
				p++;
		}
	}
	free(path);
	sb_release(&sb);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		seen += cg_kill(path);
		free(path);
	}
	if (d)
		closedir(d);
	return seen;
}

/* Removes a cgroup and its children once they are empty; 0 when it is gone. */
static int cg_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *path;
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		cg_remove(path);
		free(path);
	}
	if (d)
		closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -1;
	for (size_t i = 0; i < cg_nleaves; i++) {
		if (strncmp(cg_leaves[i], dir, strlen(dir)))
			continue;
		free(cg_leaves[i]);
		cg_leaves[i--] = cg_leaves[--cg_nleaves];
	}
	return 0;
}

/*
 * SIGKILLs every other process whose environment has the entry `want`
 * (exactly, or as a prefix); returns how many it found.  A zombie has no
 * environment left to read: it is gone as far as running goes.
 */
#define SLURM_MARK "SF_EXECUTOR=slurm"

/*
 * spare_offers: a run-wide kill (a dead scheduler's run recovered here)
 * leaves alone the tries a serve runs for an offer of that run
 * (SF_OFFER_KEY, exec-peer.c): they are their runner's to end, and the
 * run's new owner follows them through the store.
 */
static int kill_marked(const char *want, int is_prefix, int spare_offers)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	size_t wl = strlen(want);
	int found = 0;

	while (dir && (de = readdir(dir))) {
		struct strbuf env = STRBUF_INIT;
		char *end, path[64];
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		env.max = 1 << 20;
		/* A Slurm job's processes are Slurm's to end, with scancel (docs/slurm.md). */
		if (sb_read_file(&env, path) == 0 &&
		    !memmem(env.buf, env.len, SLURM_MARK, sizeof(SLURM_MARK)) &&
		    !(spare_offers && memmem(env.buf, env.len, "SF_OFFER_KEY=", 13))) {
			for (size_t i = 0; i < env.len; i += strlen(env.buf + i) + 1) {
				if (env.len - i < wl || memcmp(env.buf + i, want, wl) ||
				    (!is_prefix && env.buf[i + wl] != '\0'))
					continue;
				if (kill((pid_t)pid, SIGKILL) == 0)
					found++;
				break;
			}
		}
		sb_release(&env);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* Kills until a round finds nothing, or the time is up; returns what the last round found. */
static int kill_until_gone(char *cg, int is_run, const char *want, int is_prefix, pid_t pgid,
			   int wait_ms, int *first)
{
	int64_t deadline = time_mono_ms() + wait_ms;
	char *slash;
	int left;

	for (int round = 0;; round++) {
		if (pgid > 0) {
			kill(-pgid, SIGKILL);
			while (waitpid(-pgid, NULL, WNOHANG) > 0)
				;
		}
		left = (cg ? cg_kill(cg) : 0) + kill_marked(want, is_prefix, is_run);
		if (!round && first)
			*first = left;
		if (!left || time_mono_ms() >= deadline)
			break;
		poll(NULL, 0, 2);
	}
	if (!left && cg && cg_remove(cg) == 0 && (slash = strrchr(cg, '/')) && !is_run) {
		*slash = '\0';
		rmdir(cg); /* the run's folder, once its last try is gone */
	}
	return left;
}

void procs_try_done(const char *run_id, const char *key)
{
	char *cg = cg_dir(run_id, key), *run_dir = cg_dir(run_id, NULL);

	/* the run's folder goes with its last try (rmdir fails while others are there) */
	if (cg && cg_remove(cg) == 0)
		rmdir(run_dir);
	free(cg);
	free(run_dir);
}

int procs_kill_try(const char *run_id, const char *key, pid_t pgid, int wait_ms)
{
	char *want = xasprintf("SF_TRY_KEY=%s", key), *cg = cg_dir(run_id, key);
	int left = kill_until_gone(cg, 0, want, 0, pgid, wait_ms, NULL);

	free(want);
	free(cg);
	return left;
}

int procs_kill_key(const char *key, int wait_ms)
{
	char *want = xasprintf("SF_TRY_KEY=%s", key);
	int left = kill_until_gone(NULL, 0, want, 0, 0, wait_ms, NULL);

	free(want);
	return left;
}

int procs_kill_offer(const char *offer_key, int wait_ms)
{
	char *want = xasprintf("SF_OFFER_KEY=%s", offer_key);
	int left = kill_until_gone(NULL, 0, want, 0, 0, wait_ms, NULL);

	free(want);
	return left;
}

int procs_kill_run(const char *run_id, int wait_ms, int *killed)
{
	char *want = xasprintf("SF_RUN_ID=%s", run_id), *cg = cg_dir(run_id, NULL);
	int left = kill_until_gone(cg, 1, want, 0, 0, wait_ms, killed);

	free(want);
	free(cg);
	return left;
}

/* Our children (what the subreaper adopted included): killed and reaped; returns how many. */
static int kill_children(void)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (dir && (de = readdir(dir))) {
		struct strbuf st = STRBUF_INIT;
		char *end, path[64];
		const char *p;
		long pid = strtol(de->d_name, &end, 10), ppid;

		if (*end || pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (sb_read_file(&st, path) == 0 && (p = strrchr(st.buf, ')')) &&
		    sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == getpid() &&
		    kill((pid_t)pid, SIGKILL) == 0) {
			waitpid((pid_t)pid, NULL, 0);
			n++;
		}
		sb_release(&st);
	}
	if (dir)
		closedir(dir);
	return n;
}

int procs_kill_sched(const char *sched_id, int wait_ms)
{
	char *want = xasprintf("SF_TRY_KEY=%s/", sched_id);
	int64_t deadline = time_mono_ms() + wait_ms;
	int left;

	for (;;) {
		left = kill_marked(want, 1, 0) + kill_children();
		for (size_t i = 0; i < cg_nleaves; i++)
			left += cg_kill(cg_leaves[i]);
		if (!left || time_mono_ms() >= deadline)
			break;
		poll(NULL, 0, 2);
	}
	while (cg_nleaves) {
		size_t before = cg_nleaves;
		char *leaf = xstrdup(cg_leaves[cg_nleaves - 1]), *slash;
		if (cg_remove(leaf) < 0 && cg_nleaves == before) {
			/* still busy: forget it, the next recovery of its run finds it */
			free(cg_leaves[--cg_nleaves]);
		} else if ((slash = strrchr(leaf, '/'))) {
			*slash = '\0';
			rmdir(leaf); /* the run's folder, once its last try is gone */
		}
		free(leaf);
	}
	free(want);
	return left;
}
