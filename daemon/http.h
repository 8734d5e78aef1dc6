/*
 * http.h - /metrics, /health and /ready on a loopback address, served by
 * libmicrohttpd's own thread.  The handlers read only daemon/metrics.h.
 */
#ifndef LOYALTY_HTTP_H
#define LOYALTY_HTTP_H

#include <stddef.h>

struct http;

/* Is `listen` a "host:port" (IPv4 or [IPv6]) the endpoint can use?  0 or -1. */
int http_check_listen(const char *listen, char *err, size_t errlen);

/* `listen` is "host:port" (IPv4 or [IPv6]); NULL with err on failure. */
struct http *http_start(const char *listen, char *err, size_t errlen);
void http_stop(struct http *h);

#endif
