/*
 * libmicrohttpd glue.  We open the listening socket ourselves so that a
 * taken port or a bad address gets a precise error, parse the raw request
 * target ourselves (MHD's URI log callback hands it over before MHD decodes
 * anything), and turn event streams into suspended connections.
 */
#include "web/httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/common.h"
#include "util/timeutil.h"

/* Queued bytes a slow event-stream client may hold before it is dropped. */
#define STREAM_MAX_QUEUE (1024 * 1024)

struct http_stream {
	struct httpd *h;
	struct MHD_Connection *conn;
	struct strbuf q;        /* bytes not yet sent, from qoff */
	size_t qoff;
	int suspended;
	int closing;
	struct http_stream *prev, *next;
};

struct httpd {
	struct httpd_opts o;
	struct MHD_Daemon *d;
	int fd;
	int port;
	pthread_mutex_t lock;   /* guards the stream list and every stream */
	struct http_stream *streams;
	size_t nstreams;
	int stopping;
};

/* One request in flight; *con_cls of MHD. */
struct conn_req {
	struct httpd *h;
	struct http_req req;
	struct strbuf body;
	char *target;
	int started;
	int bad_target;
	int status;
	int64_t start_us;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn_req *cr = xcalloc(1, sizeof(*cr));
	cr->h = cls;
	cr->target = xstrdup(uri);
	cr->start_us = now_us();
	http_req_init(&cr->req);
	sb_init(&cr->body, 0);
	cr->body.max = HTTP_MAX_BODY;
	return cr;
}

/* MHD decodes nothing: we parse the raw target and the query ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	http_req_add_header(cls, k, v ? v : "");
	return MHD_YES;
}

static void stream_unlink(struct http_stream *s)
{
	struct httpd *h = s->h;
	if (s->prev)
		s->prev->next = s->next;
	else
		h->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nstreams--;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	struct httpd *h = s->h;
	ssize_t n;

	pthread_mutex_lock(&h->lock);
	if (s->qoff < s->q.len) {
		size_t avail = s->q.len - s->qoff;
		n = (ssize_t)(avail < max ? avail : max);
		memcpy(buf, s->q.buf + s->qoff, (size_t)n);
		s->qoff += (size_t)n;
		if (s->qoff == s->q.len) {
			sb_reset(&s->q);
			s->qoff = 0;
		}
	} else if (s->closing) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* Nothing to send: park the connection until httpd_broadcast. */
		s->suspended = 1;
		MHD_suspend_connection(s->conn);
		n = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}

static void stream_free(void *cls)
{
	struct http_stream *s = cls;
	struct httpd *h = s->h;

	pthread_mutex_lock(&h->lock);
	stream_unlink(s);
	pthread_mutex_unlock(&h->lock);
	sb_release(&s->q);
	free(s);
}

static struct MHD_Response *stream_open(struct httpd *h, struct MHD_Connection *conn,
					struct http_resp *resp)
{
	struct http_stream *s;
	struct MHD_Response *r;

	pthread_mutex_lock(&h->lock);
	if (h->stopping || h->nstreams >= h->o.max_streams) {
		pthread_mutex_unlock(&h->lock);
		http_error(resp, 503, "too many event streams open (%zu)", h->o.max_streams);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->h = h;
	s->conn = conn;
	sb_init(&s->q, 0);
	sb_add(&s->q, resp->body.buf, resp->body.len);
	s->next = h->streams;
	if (h->streams)
		h->streams->prev = s;
	h->streams = s;
	h->nstreams++;
	pthread_mutex_unlock(&h->lock);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
	if (!r)
		stream_free(s);
	return r;
}

void httpd_broadcast(struct httpd *h, const char *data, size_t len)
{
	pthread_mutex_lock(&h->lock);
	for (struct http_stream *s = h->streams; s; s = s->next) {
		if (s->closing)
			continue;
		if (s->q.len - s->qoff + len > STREAM_MAX_QUEUE)
			s->closing = 1;
		else
			sb_add(&s->q, data, len);
		if (s->suspended) {
			s->suspended = 0;
			MHD_resume_connection(s->conn);
		}
	}
	pthread_mutex_unlock(&h->lock);
}

size_t httpd_nstreams(struct httpd *h)
{
	size_t n;
	pthread_mutex_lock(&h->lock);
	n = h->nstreams;
	pthread_mutex_unlock(&h->lock);
	return n;
}

static struct MHD_Response *make_response(struct httpd *h, struct MHD_Connection *conn,
					  struct http_resp *resp)
{
	struct MHD_Response *r = NULL;
	size_t len;
	char *buf;

	if (resp->sse) {
		r = stream_open(h, conn, resp);
		if (r)
			return r;
	} else if (resp->fd >= 0) {
		r = MHD_create_response_from_fd_at_offset64(resp->len, resp->fd, resp->off);
		if (r)
			resp->fd = -1; /* MHD owns it now */
		else
			http_error(resp, 500, "cannot send the file");
		if (r)
			return r;
	}
	buf = sb_detach(&resp->body, &len);
	return MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result send_response(struct conn_req *cr, struct MHD_Connection *conn,
				     struct http_resp *resp)
{
	struct httpd *h = cr->h;
	struct MHD_Response *r = make_response(h, conn, resp);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	for (size_t i = 0; i < h->o.nheaders; i++)
		MHD_add_response_header(r, h->o.headers[i].key, h->o.headers[i].value);
	if (resp->content_type)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	if (resp->sse) {
		MHD_add_response_header(r, "Cache-Control", "no-store");
		MHD_add_response_header(r, "X-Accel-Buffering", "no");
	} else if (!resp->cacheable) {
		MHD_add_response_header(r, "Cache-Control", "no-store");
	}
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].key, resp->headers[i].value);
	cr->status = resp->status;
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_error(struct conn_req *cr, struct MHD_Connection *conn, int status,
				     const char *msg)
{
	struct http_resp resp;
	enum MHD_Result ret;

	http_resp_init(&resp);
	http_error(&resp, status, "%s", msg);
	ret = send_response(cr, conn, &resp);
	http_resp_release(&resp);
	return ret;
}

static int body_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	return cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY;
}

static enum MHD_Result dispatch(struct conn_req *cr, struct MHD_Connection *conn)
{
	struct http_resp resp;
	enum MHD_Result ret;

	http_resp_init(&resp);
	cr->req.body = cr->body.buf;
	cr->req.body_len = cr->body.len;
	cr->h->o.handle(cr->h->o.ctx, &cr->req, &resp);
	ret = send_response(cr, conn, &resp);
	if (resp.fd >= 0)
		close(resp.fd);
	http_resp_release(&resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct conn_req *cr = *con_cls;

	if (!cr->started) {
		cr->started = 1;
		cr->req.method = http_method_parse(method);
		MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, &cr->req);
		cr->bad_target = http_req_set_target(&cr->req, cr->target) < 0;
		if (body_too_large(conn))
			return respond_error(cr, conn, 413, "request body larger than 1 MiB");
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (sb_add(&cr->body, upload_data, n) < 0)
			return respond_error(cr, conn, 413, "request body larger than 1 MiB");
		return MHD_YES;
	}
	if (cr->bad_target)
		return respond_error(cr, conn, 400, "malformed request target");
	return dispatch(cr, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_req *cr = *con_cls;

	if (!cr)
		return;
	if (cr->h->o.done && cr->started)
		cr->h->o.done(cr->h->o.ctx, &cr->req, cr->status, now_us() - cr->start_us);
	http_req_release(&cr->req);
	sb_release(&cr->body);
	free(cr->target);
	free(cr);
	*con_cls = NULL;
}

static int listen_on(const char *bind_addr, int port, int *family)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char portstr[16];
	int fd, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(bind_addr, portstr, &hints, &res);
	if (rc)
		return error("cannot use bind address '%s': %s", bind_addr, gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return error_errno("cannot create a socket for '%s'", bind_addr);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		error_errno("cannot listen on %s port %d", bind_addr, port);
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	*family = res->ai_family;
	freeaddrinfo(res);
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct httpd *httpd_start(const struct httpd_opts *o)
{
	struct httpd *h = xcalloc(1, sizeof(*h));
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
	int family = AF_INET;

	h->o = *o;
	if (!h->o.bind)
		h->o.bind = "127.0.0.1";
	if (!h->o.threads)
		h->o.threads = 2;
	if (!h->o.max_streams)
		h->o.max_streams = 4096;
	pthread_mutex_init(&h->lock, NULL);
	h->fd = listen_on(h->o.bind, o->port, &family);
	if (h->fd < 0)
		goto fail;
	h->port = bound_port(h->fd);
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_LISTEN_SOCKET, h->fd,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)h->o.threads,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)(h->o.max_streams + 256),
				MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
				MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				MHD_OPTION_END);
	if (!h->d) {
		error("cannot start the HTTP server on %s port %d", h->o.bind, h->port);
		close(h->fd);
		goto fail;
	}
	return h;
fail:
	pthread_mutex_destroy(&h->lock);
	free(h);
	return NULL;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	int64_t deadline = time_mono_ms() + 3000;

	if (!h)
		return;
	/* MHD must not be stopped with suspended connections: end them first. */
	pthread_mutex_lock(&h->lock);
	h->stopping = 1;
	for (struct http_stream *s = h->streams; s; s = s->next) {
		s->closing = 1;
		if (s->suspended) {
			s->suspended = 0;
			MHD_resume_connection(s->conn);
		}
	}
	pthread_mutex_unlock(&h->lock);
	while (httpd_nstreams(h) && time_mono_ms() < deadline)
		usleep(10 * 1000);
	MHD_stop_daemon(h->d); /* closes the listening socket too */
	pthread_mutex_destroy(&h->lock);
	free(h);
}
