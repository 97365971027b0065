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
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/common.h"
#include "util/timeutil.h"

/* Queued bytes a slow event-stream client may hold before it is dropped. */
#define STREAM_MAX_QUEUE (1024 * 1024)

/*
 * Idle connections (no request in progress: not sent complete headers yet,
 * or kept alive between requests) cost a slot each and nothing to hold.
 * A new connection closes the oldest idle one of its address beyond
 * IDLE_PER_ADDR, and the oldest idle one of all beyond IDLE_TOTAL, so idle
 * ones never take the slots requests need; a connection that has not sent
 * complete headers within HEADER_TIMEOUT_MS is closed.  docs/api.md.
 */
#define IDLE_PER_ADDR 64
#define IDLE_TOTAL 1024
#define HEADER_TIMEOUT_MS 5000
/* Bytes of an oversized body read and thrown away so that the 413 arrives. */
#define BODY_DISCARD_MAX (64u << 20)

struct conn_track {
	struct sockaddr_storage addr;
	int fd;
	int busy;               /* a request is in progress */
	int requested;          /* it has sent complete headers once */
	int closing;            /* shut down by us, MHD has not closed it yet */
	int64_t idle_since;     /* monotonic ms */
	struct conn_track *prev, *next;
};

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
	pthread_mutex_t conn_lock; /* guards the connection list */
	struct conn_track *conns;
	pthread_t sweeper;
	pthread_cond_t sweep_cond;
	int sweep_stop;
};

/* One request in flight; *con_cls of MHD. */
struct conn_req {
	struct httpd *h;
	struct http_req req;
	struct strbuf body;
	char *target;
	int started;
	int bad_target;
	int too_large;          /* the body passed the limit: read on, answer 413 at its end */
	size_t discarded;
	int status;
	int64_t start_us;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return 1;
}

/* Makes MHD close a connection: it sees the end of the stream at its next poll. */
static void conn_shut(struct conn_track *t)
{
	if (t->closing)
		return;
	t->closing = 1;
	shutdown(t->fd, SHUT_RDWR);
}

/* Under conn_lock: closes the oldest idle connection of addr (NULL: of all) if there are `max`. */
static void evict_idle(struct httpd *h, const struct sockaddr_storage *addr, size_t max)
{
	struct conn_track *oldest = NULL;
	size_t n = 0;

	for (struct conn_track *t = h->conns; t; t = t->next) {
		if (t->busy || t->closing || (addr && !same_addr(&t->addr, addr)))
			continue;
		n++;
		if (!oldest || t->idle_since < oldest->idle_since)
			oldest = t;
	}
	if (n >= max && oldest)
		conn_shut(oldest);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct httpd *h = cls;
	struct conn_track *t = *socket_context;
	const union MHD_ConnectionInfo *ci;

	pthread_mutex_lock(&h->conn_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		t = xcalloc(1, sizeof(*t));
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr)
			memcpy(&t->addr, ci->client_addr,
			       ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								     : sizeof(struct sockaddr_in));
		ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		t->fd = ci ? ci->connect_fd : -1;
		t->idle_since = time_mono_ms();
		evict_idle(h, &t->addr, IDLE_PER_ADDR);
		evict_idle(h, NULL, IDLE_TOTAL);
		t->next = h->conns;
		if (h->conns)
			h->conns->prev = t;
		h->conns = t;
		*socket_context = t;
	} else if (t) {
		if (t->prev)
			t->prev->next = t->next;
		else
			h->conns = t->next;
		if (t->next)
			t->next->prev = t->prev;
		free(t);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&h->conn_lock);
}

static void conn_set_busy(struct httpd *h, struct MHD_Connection *conn, int busy)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_track *t = ci ? ci->socket_context : NULL;

	if (!t)
		return;
	pthread_mutex_lock(&h->conn_lock);
	t->busy = busy;
	t->requested |= busy;
	t->idle_since = time_mono_ms();
	pthread_mutex_unlock(&h->conn_lock);
}

/* Closes connections that sent no complete headers within HEADER_TIMEOUT_MS. */
static void *sweep(void *arg)
{
	struct httpd *h = arg;

	pthread_mutex_lock(&h->conn_lock);
	while (!h->sweep_stop) {
		struct timespec ts;
		int64_t now = time_mono_ms();
		for (struct conn_track *t = h->conns; t; t = t->next)
			if (!t->busy && !t->requested && now - t->idle_since >= HEADER_TIMEOUT_MS)
				conn_shut(t);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->sweep_cond, &h->conn_lock, &ts);
	}
	pthread_mutex_unlock(&h->conn_lock);
	return NULL;
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
	/* Without the token a client gets no kept-alive slot to sit in. */
	if (resp->status == 401)
		MHD_add_response_header(r, "Connection", "close");
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

struct lengths {
	const char *first;
	int conflict;
};

static enum MHD_Result check_length(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	struct lengths *l = cls;

	if (strcasecmp(k, "Content-Length"))
		return MHD_YES;
	if (l->first && strcmp(l->first, v ? v : ""))
		l->conflict = 1;
	if (!l->first)
		l->first = v ? v : "";
	return MHD_YES;
}

/* A request whose framing is ambiguous: answered 400, never guessed at. */
static const char *bad_framing(struct MHD_Connection *conn, const char *version)
{
	struct lengths l = { 0 };

	if (!strcmp(version, MHD_HTTP_VERSION_1_1) &&
	    !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"))
		return "an HTTP/1.1 request must have a Host header";
	MHD_get_connection_values(conn, MHD_HEADER_KIND, check_length, &l);
	if (l.conflict)
		return "conflicting Content-Length headers";
	return NULL;
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
	const char *bad;

	if (!cr->started) {
		cr->started = 1;
		conn_set_busy(cr->h, conn, 1);
		cr->req.method = http_method_parse(method);
		MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, &cr->req);
		cr->bad_target = http_req_set_target(&cr->req, cr->target) < 0;
		if ((bad = bad_framing(conn, version)))
			return respond_error(cr, conn, 400, bad);
		if (body_too_large(conn))
			return respond_error(cr, conn, 413, "request body larger than 1 MiB");
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		/*
		 * A chunked body has no length to refuse up front: past the limit
		 * it is read and dropped, so that the client, still sending, gets
		 * the 413 instead of a reset connection (bounded).
		 */
		if (cr->too_large || sb_add(&cr->body, upload_data, n) < 0) {
			cr->too_large = 1;
			cr->discarded += n;
			if (cr->discarded > BODY_DISCARD_MAX)
				return MHD_NO;
		}
		return MHD_YES;
	}
	if (cr->too_large)
		return respond_error(cr, conn, 413, "request body larger than 1 MiB");
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
	if (cr->started)
		conn_set_busy(cr->h, conn, 0);
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
	pthread_mutex_init(&h->conn_lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->sweep_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
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
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				MHD_OPTION_END);
	if (!h->d) {
		error("cannot start the HTTP server on %s port %d", h->o.bind, h->port);
		close(h->fd);
		goto fail;
	}
	if (pthread_create(&h->sweeper, NULL, sweep, h)) {
		error("cannot start the HTTP server's connection sweeper");
		MHD_stop_daemon(h->d);
		goto fail;
	}
	return h;
fail:
	pthread_cond_destroy(&h->sweep_cond);
	pthread_mutex_destroy(&h->conn_lock);
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
	pthread_mutex_lock(&h->conn_lock);
	h->sweep_stop = 1;
	pthread_cond_signal(&h->sweep_cond);
	pthread_mutex_unlock(&h->conn_lock);
	pthread_join(h->sweeper, NULL);
	MHD_stop_daemon(h->d); /* closes the listening socket too */
	pthread_cond_destroy(&h->sweep_cond);
	pthread_mutex_destroy(&h->conn_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
