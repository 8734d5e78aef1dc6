#include "daemon/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/metrics.h"

struct http {
    struct MHD_Daemon *mhd;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *body,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    enum MHD_Result rc;

    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* libmicrohttpd's own messages, through the daemon's logger (one line each,
 * with the trailing newline it adds dropped). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[1024];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    log_warn("http: %s", line);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    char *body;

    (void)cls, (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return reply(conn, 405, "text/plain", "method not allowed\n",
                     MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/health") == 0) {
        return reply(conn, 200, "text/plain", "ok\n", MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/ready") == 0) {
        return metrics_ready()
                   ? reply(conn, 200, "text/plain", "ready\n", MHD_RESPMEM_PERSISTENT)
                   : reply(conn, 503, "text/plain", "not ready\n",
                           MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/metrics") == 0) {
        if ((body = metrics_render()) == NULL) {
            return reply(conn, 500, "text/plain", "out of memory\n",
                         MHD_RESPMEM_PERSISTENT);
        }
        return reply(conn, 200, "text/plain; version=0.0.4", body, MHD_RESPMEM_MUST_FREE);
    }
    return reply(conn, 404, "text/plain", "not found\n", MHD_RESPMEM_PERSISTENT);
}

/* "127.0.0.1:9464" or "[::1]:9464" -> sockaddr. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err,
                        size_t errlen)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    long port;
    size_t hl;

    if (colon == NULL || (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535) {
        goto bad;
    }
    hl = (size_t)(colon - listen);
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
        listen++, hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        goto bad;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        return 0;
    }
bad:
    snprintf(err, errlen, "'%s' is not ADDRESS:PORT", listen);
    return -1;
}

int http_check_listen(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;

    return parse_listen(listen, &ss, err, errlen);
}

struct http *http_start(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    struct http *h;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    if (parse_listen(listen, &ss, err, errlen) < 0) {
        char why[256];

        snprintf(why, sizeof(why), "http.listen: %s", err);
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        return NULL;
    }
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    h->mhd =
        /* The logger first: libmicrohttpd says so otherwise. */
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 32u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (h->mhd == NULL) {
        snprintf(err, errlen, "http: cannot listen on %s", listen);
        free(h);
        return NULL;
    }
    return h;
}

void http_stop(struct http *h)
{
    if (h == NULL) {
        return;
    }
    MHD_stop_daemon(h->mhd);
    free(h);
}
