#include "util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/common.h"

extern char **environ;

void strvec_push(struct strvec *sv, const char *s)
{
	ALLOC_GROW(sv->v, sv->nr + 2, sv->alloc);
	sv->v[sv->nr++] = xstrdup(s);
	sv->v[sv->nr] = NULL;
}

void strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	strvec_push(sv, sb.buf);
	sb_release(&sb);
}

void strvec_pushv(struct strvec *sv, const char *const *list)
{
	for (; list && *list; list++)
		strvec_push(sv, *list);
}

const char *const *strvec_argv(struct strvec *sv)
{
	if (!sv->v) {
		ALLOC_GROW(sv->v, 1, sv->alloc);
		sv->v[0] = NULL;
	}
	return (const char *const *)sv->v;
}

void strvec_clear(struct strvec *sv)
{
	for (size_t i = 0; i < sv->nr; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->nr = sv->alloc = 0;
}

static int add_stream(posix_spawn_file_actions_t *fa, int want, int target)
{
	if (want == SPAWN_INHERIT)
		return 0;
	if (want == SPAWN_NULL)
		return posix_spawn_file_actions_addopen(fa, target, "/dev/null",
							target ? O_WRONLY : O_RDONLY, 0);
	return posix_spawn_file_actions_adddup2(fa, want, target);
}

pid_t spawn_start(const char *const *argv, const struct spawn_io *io)
{
	static const struct spawn_io inherit = { SPAWN_INHERIT, SPAWN_INHERIT, SPAWN_INHERIT };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t dfl;
	pid_t pid;
	int rc;

	if (!io)
		io = &inherit;
	/* Signals we ignore while waiting (spawn_interactive) must not stay ignored in the child. */
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	rc = add_stream(&fa, io->in, 0);
	if (!rc)
		rc = add_stream(&fa, io->out, 1);
	if (!rc)
		rc = add_stream(&fa, io->err, 2);
	if (!rc)
		rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		errno = rc;
		return error_errno("cannot run '%s'", argv[0]);
	}
	return pid;
}

int spawn_wait(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_errno("cannot wait for process %d", (int)pid);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Reads from up to two pipes until both are closed, so neither can fill up and block the child. */
static void drain(int fds[2], struct strbuf *bufs[2], spawn_sink sink, void *data)
{
	struct pollfd p[2];
	char chunk[8192];
	int open = 0;

	for (int i = 0; i < 2; i++) {
		p[i].fd = fds[i];
		p[i].events = POLLIN;
		open += fds[i] >= 0;
	}
	while (open) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open--;
				continue;
			}
			if (sink)
				sink(chunk, (size_t)n, data);
			else if (bufs[i])
				sb_add(bufs[i], chunk, (size_t)n);
		}
	}
}

static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return error_errno("cannot create a pipe");
	return 0;
}

int spawn_capture(const char *const *argv, struct strbuf *out, struct strbuf *err)
{
	int po[2], pe[2], fds[2];
	struct strbuf *bufs[2] = { out, err };
	struct spawn_io io = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL };
	pid_t pid;

	if (make_pipe(po) < 0)
		return -1;
	if (make_pipe(pe) < 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	io.out = po[1];
	io.err = pe[1];
	pid = spawn_start(argv, &io);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return -1;
	}
	fds[0] = po[0];
	fds[1] = pe[0];
	drain(fds, bufs, NULL, NULL);
	return spawn_wait(pid);
}

int spawn_stream(const char *const *argv, spawn_sink sink, void *data)
{
	int p[2], fds[2];
	struct strbuf *bufs[2] = { NULL, NULL };
	struct spawn_io io = { SPAWN_NULL, SPAWN_NULL, SPAWN_NULL };
	pid_t pid;

	if (make_pipe(p) < 0)
		return -1;
	io.out = io.err = p[1];
	pid = spawn_start(argv, &io);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	fds[0] = p[0];
	fds[1] = -1;
	drain(fds, bufs, sink, data);
	return spawn_wait(pid);
}

int spawn_interactive(const char *const *argv)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pid_t pid;
	int status;

	/* As system(): Ctrl-C belongs to the child while it runs, not to us. */
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = spawn_start(argv, NULL);
	status = pid < 0 ? -1 : spawn_wait(pid);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return status;
}

int spawn_in_path(const char *prog)
{
	const char *path = getenv("PATH");
	int found = 0;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/usr/bin:/bin";
	while (*path && !found) {
		const char *colon = strchrnul(path, ':');
		char *cand = xasprintf("%.*s/%s", (int)(colon - path), path, prog);
		struct stat st;
		found = stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0;
		free(cand);
		path = *colon ? colon + 1 : colon;
	}
	return found;
}
