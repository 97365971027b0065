/*
 * Loopback probes: is a port free, and what does a local HTTP server say.
 * A minimal HTTP/1.0 client is enough for health checks against servers we
 * start ourselves on 127.0.0.1, and keeps curl out of the image and the host.
 */
#include "workspace/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/common.h"
#include "util/timeutil.h"

static void loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int ws_port_free(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ok;

	if (fd < 0)
		return 1; /* cannot tell; the engine will report a real conflict */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	loopback(&sa, port);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Waits for fd to become ready for `events` until the monotonic deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int64_t left = deadline - time_mono_ms();
		int r;
		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

static int connect_loopback(int port, int64_t deadline)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -1;
	loopback(&sa, port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err)
		return fd;
	close(fd);
	return -1;
}

int ws_http_get(int port, const char *path, int timeout_ms, struct strbuf *body)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	struct strbuf req = STRBUF_INIT, resp = STRBUF_INIT;
	int fd = connect_loopback(port, deadline), status = 0;
	char buf[4096];
	const char *sep;

	if (fd < 0)
		return 0;
	sb_addf(&req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path,
		port);
	for (size_t off = 0; off < req.len;) {
		ssize_t n = write(fd, req.buf + off, req.len - off);
		if (n < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline))
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	resp.max = 1 << 20;
	while (wait_fd(fd, POLLIN, deadline)) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 || sb_add(&resp, buf, (size_t)n) < 0)
			break;
	}
	if (sscanf(resp.buf, "HTTP/%*d.%*d %d", &status) != 1)
		status = 0;
	sep = strstr(resp.buf, "\r\n\r\n");
	if (body && sep)
		sb_adds(body, sep + 4);
out:
	close(fd);
	sb_release(&req);
	sb_release(&resp);
	return status;
}

int ws_http_wait(int port, const char *path, int timeout_ms)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	while (time_mono_ms() < deadline) {
		if (ws_http_get(port, path, 1000, NULL) > 0)
			return 0;
		usleep(250 * 1000);
	}
	return -1;
}

int ws_engine_health(int port, int timeout_ms, struct strbuf *why)
{
	struct strbuf body = STRBUF_INIT;
	int status = ws_http_get(port, "/api/v1/health", timeout_ms, &body);
	json_t *j;

	if (status > 0 && status != 200) {
		j = json_loadb(body.buf, body.len, 0, NULL);
		if (json_is_string(json_object_get(j, "reason")))
			sb_adds(why, json_string_value(json_object_get(j, "reason")));
		else
			sb_addf(why, "HTTP status %d", status);
		json_decref(j);
	}
	sb_release(&body);
	return status;
}
