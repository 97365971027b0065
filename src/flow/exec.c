/*
 * The local executor (see exec.h).  posix_spawn rather than fork: the
 * scheduler may hold a large heap (100,000 task instances), and vfork-style
 * spawning costs the same whatever its size.
 */
#include "flow/exec.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "util/fs.h"

#define DEFAULT_LOG_MAX (100ULL * 1024 * 1024)

uint64_t exec_log_max(void)
{
	const char *v = getenv("SF_LOG_MAX_BYTES");
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return DEFAULT_LOG_MAX;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n == 0)
		return DEFAULT_LOG_MAX;
	return n;
}

int exec_needs_shell(const char *cmd)
{
	for (const char *p = cmd; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || c == ' ' || strchr("_-./=:,+@%", c))
			continue;
		return 1;
	}
	return 0;
}

/* Splits a command without shell syntax at spaces (argv points into buf). */
static char **split_words(char *buf)
{
	size_t n = 0, alloc = 0;
	char **argv = NULL;
	char *save = NULL;

	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		ALLOC_GROW(argv, n + 2, alloc);
		argv[n++] = w;
	}
	if (!argv)
		return NULL;
	argv[n] = NULL;
	return argv;
}

/*
 * The log file and its folder are made on the first byte of output: most
 * no-op tasks print nothing, and a folder plus a file per try would be most
 * of what the scheduler spends on them.  Readers take a missing log of a
 * try that exists as empty.
 */
static int open_log(struct exec_proc *p)
{
	char *dir;
	char *slash;

	if (p->log_fd >= 0)
		return 0;
	if (p->log_errno)
		return -1;
	dir = xstrdup(p->log_path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		/* Usually only the last folder is new: one mkdir, not one per component. */
		if (mkdir(dir, 0755) < 0 && errno != EEXIST && mkdir_p(dir, 0755) < 0) {
			p->log_errno = errno;
			free(dir);
			return -1;
		}
	}
	free(dir);
	p->log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (p->log_fd < 0) {
		p->log_errno = errno;
		return -1;
	}
	return 0;
}

void exec_spawnattr(posix_spawnattr_t *attr, short flags)
{
	sigset_t none, dfl;

	posix_spawnattr_init(attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &dfl);
	/* Its own process group (pgid = pid): a timeout or cancel kills the whole tree. */
	posix_spawnattr_setpgroup(attr, 0);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF | flags);
}

static int spawn_child(const struct exec_spec *spec, int out_w, pid_t *pid, struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *words = NULL, **argv = NULL;
	char *sh_argv[] = { "/bin/sh", "-c", (char *)spec->cmd, NULL };
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, out_w, 2);
	posix_spawn_file_actions_addchdir_np(&fa, spec->workdir);
	exec_spawnattr(&attr, POSIX_SPAWN_USEVFORK);
	if (spec->argv) {
		rc = posix_spawnp(pid, spec->argv[0], &fa, &attr, spec->argv, spec->envp);
		if (rc)
			sb_addf(err, "cannot start '%s': %s", spec->argv[0], strerror(rc));
		goto out;
	}
	if (!exec_needs_shell(spec->cmd)) {
		words = xstrdup(spec->cmd);
		argv = split_words(words);
	}
	rc = argv ? posix_spawnp(pid, argv[0], &fa, &attr, argv, spec->envp) : ENOENT;
	/*
	 * Not a program on PATH: a shell builtin (exit 3, cd, export), or a typo
	 * that the shell reports in the log with exit status 127, as a user expects.
	 */
	if (rc == ENOENT) {
		free(argv);
		argv = NULL;
		rc = posix_spawn(pid, "/bin/sh", &fa, &attr, sh_argv, spec->envp);
	}
	if (rc)
		sb_addf(err, "cannot start '%s': %s", argv ? argv[0] : "/bin/sh", strerror(rc));
	free(argv);
	free(words);
out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc ? -1 : 0;
}

void exec_proc_init(struct exec_proc *p, const char *log_path)
{
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
	p->out_w = -1;
	p->log_fd = -1;
	p->log_max = exec_log_max();
	p->log_path = xstrdup(log_path);
}

int exec_spawn(const struct exec_spec *spec, struct exec_proc *p, struct strbuf *err)
{
	int fds[2];

	exec_proc_init(p, spec->log_path);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		sb_addf(err, "cannot create a pipe: %s", strerror(errno));
		exec_release(p);
		return -1;
	}
	if (spawn_child(spec, fds[1], &p->pid, err) < 0) {
		close(fds[0]);
		close(fds[1]);
		exec_release(p);
		return -1;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	p->out_fd = fds[0];
	p->out_w = fds[1];
	return 0;
}

static void write_all(struct exec_proc *p, const char *buf, size_t len)
{
	if (len && open_log(p) < 0)
		return;
	while (len && !p->log_errno) {
		ssize_t w = write(p->log_fd, buf, len);
		if (w < 0) {
			if (errno != EINTR)
				p->log_errno = errno;
			continue;
		}
		buf += w;
		len -= (size_t)w;
		p->log_bytes += (uint64_t)w;
	}
}

static void log_write(struct exec_proc *p, const char *buf, size_t len)
{
	if (p->log_errno || p->truncated)
		return;
	if (p->log_bytes + len <= p->log_max) {
		write_all(p, buf, len);
		return;
	}
	write_all(p, buf, (size_t)(p->log_max - p->log_bytes));
	p->truncated = 1;
	exec_log_note(p, "log truncated at %llu bytes; further output discarded",
		      (unsigned long long)p->log_max);
}

int exec_drain(struct exec_proc *p)
{
	char buf[65536];

	if (p->out_fd < 0)
		return 1;
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(p->out_fd, buf, sizeof(buf));
		if (n > 0) {
			log_write(p, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return 0; /* EAGAIN: nothing more for now */
	}
	return 0;
}

void exec_finish(struct exec_proc *p)
{
	if (p->out_fd >= 0) {
		/* Bounded: a daemonized grandchild may hold the pipe and keep writing. */
		for (int i = 0; i < 16 && !exec_drain(p);) {
			int avail = 0;
			if (ioctl(p->out_fd, FIONREAD, &avail) < 0 || avail == 0)
				break;
			i++;
		}
		close(p->out_fd);
		p->out_fd = -1;
	}
	if (p->out_w >= 0) {
		close(p->out_w);
		p->out_w = -1;
	}
}

void exec_release(struct exec_proc *p)
{
	exec_finish(p);
	if (p->log_fd >= 0) {
		close(p->log_fd);
		p->log_fd = -1;
	}
	free(p->log_path);
	p->log_path = NULL;
}

void exec_log_note(struct exec_proc *p, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (open_log(p) < 0)
		return;
	sb_adds(&sb, "\n[synthflow] ");
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	sb_addch(&sb, '\n');
	/* Notes are written even past the cap: they explain what happened. */
	if (!p->log_errno && write(p->log_fd, sb.buf, sb.len) < 0)
		p->log_errno = errno;
	sb_release(&sb);
}

/*
 * /proc/PID/stat from field 3 on, in buf.  Field 2 is "(comm)" and may hold
 * spaces or parentheses, so fields are counted from the last ')'.
 */
static const char *proc_stat_fields(pid_t pid, char *buf, size_t size)
{
	char path[64];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/* Field `field` (>= 3) of /proc/PID/stat as a number; -1 when unreadable. */
static int proc_stat_field(pid_t pid, int field, uint64_t *out)
{
	char buf[1024];
	const char *p = proc_stat_fields(pid, buf, sizeof(buf));

	for (int f = 3; p && f < field; f++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	*out = strtoull(p, NULL, 10);
	return 0;
}

int exec_proc_start_time(pid_t pid, uint64_t *start)
{
	return proc_stat_field(pid, 22, start);
}

int exec_proc_running(pid_t pid)
{
	char buf[1024];
	const char *p = pid > 0 ? proc_stat_fields(pid, buf, sizeof(buf)) : NULL;

	return p && *p != 'Z' && *p != 'X';
}

int exec_proc_alive(pid_t pid, uint64_t start)
{
	uint64_t now;
	if (pid <= 0 || exec_proc_start_time(pid, &now) < 0)
		return 0;
	return now == start;
}
