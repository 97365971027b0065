#ifndef SF_HTTPD_H
#define SF_HTTPD_H

/*
 * The socket side of the HTTP layer: a libmicrohttpd daemon (epoll, a small
 * thread pool) that turns connections into `struct http_req`, calls the
 * application's handler, and sends its `struct http_resp`.  Event streams
 * (server-sent events) are connections suspended while they have nothing to
 * send, so thousands of idle ones cost no thread and no CPU.
 */

#include <stdint.h>

#include "web/http.h"

struct httpd;

struct httpd_opts {
	const char *bind;       /* address or host name; NULL = 127.0.0.1 */
	int port;               /* 0 = any free port (see httpd_port) */
	int threads;            /* request threads; 0 = 2 */
	/* Answers one request; runs on a pool thread, several at once. */
	void (*handle)(void *ctx, struct http_req *req, struct http_resp *resp);
	/* Called when a request is over (for metrics); may be NULL. */
	void (*done)(void *ctx, const struct http_req *req, int status, int64_t usec);
	void *ctx;
	/* Added to every response (security headers). */
	const struct http_kv *headers;
	size_t nheaders;
	size_t max_streams;     /* event streams beyond this get 503; 0 = 4096 */
};

/* Listens and starts serving; NULL after error() naming the address. */
struct httpd *httpd_start(const struct httpd_opts *o);
int httpd_port(const struct httpd *h);
/*
 * Queues bytes on every open event stream and wakes them.  A stream whose
 * client reads too slowly (1 MiB queued) is closed; browsers reconnect.
 */
void httpd_broadcast(struct httpd *h, const char *data, size_t len);
size_t httpd_nstreams(struct httpd *h);
/* Ends every stream, stops the daemon, frees h. */
void httpd_stop(struct httpd *h);

#endif
