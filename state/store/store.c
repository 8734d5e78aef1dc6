/*
 * store.c - the connection to Redis: opening it (the function library
 * loaded, the schema checked), the commands sent one at a time and their
 * replies read, the error classes.  store_int.h lists the other parts.
 */
#include "state/store/store_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/names.h"

static const char store_lib[] =
#include "store_lib.inc"
    ;

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

struct store *store_new(const struct store_opts *opts)
{
    struct store *s = calloc(1, sizeof(*s));
    char err[160];

    if (s == NULL) {
        return NULL;
    }
    s->opts = *opts;
    s->opts.cluster = dup_or_empty(opts->cluster);
    s->opts.host = dup_or_empty(opts->host);
    s->opts.user = dup_or_empty(opts->user);
    s->opts.password = dup_or_empty(opts->password);
    s->opts.prefix = dup_or_empty(opts->prefix);
    if (!s->opts.cluster || !s->opts.host || !s->opts.user || !s->opts.password ||
        !s->opts.prefix) {
        store_free(s);
        return NULL;
    }
    /* The seeds were checked with the configuration: a failure here is
     * ENOMEM, or a caller that did not check them. */
    if (s->opts.cluster[0] != '\0' &&
        ((s->cluster = calloc(1, sizeof(*s->cluster))) == NULL ||
         slot_seeds_parse(s->opts.cluster, &s->cluster->seeds, err, sizeof(err)) < 0)) {
        store_free(s);
        return NULL;
    }
    if (s->cluster) {
        slot_map_init(&s->cluster->map);
    }
    return s;
}

struct store *store_new_like(const struct store *s)
{
    return store_new(&s->opts);
}

void store_free(struct store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->ctx) {
        redisFree(s->ctx);
    }
    store_route_free(s);
    store_argv_free(&s->argv);
    strbuf_free(&s->resp);
    free((char *)(uintptr_t)s->opts.cluster);
    free((char *)(uintptr_t)s->opts.host);
    free((char *)(uintptr_t)s->opts.user);
    if (s->opts.password) {
        char *pw = (char *)(uintptr_t)s->opts.password;
        explicit_bzero(pw, strlen(pw));
        free(pw);
    }
    free((char *)(uintptr_t)s->opts.prefix);
    free(s);
}

int store_ok(const struct store *s)
{
    if (s->cluster) {
        return store_route_ok(s);
    }
    return s->ctx != NULL && s->ctx->err == 0;
}

/* One round trip, for loyaltyd_redis_latency_seconds. */
void store_note_latency(int64_t t0)
{
    metrics_redis_latency(mono_us() - t0);
}

void store_drop(struct store *s)
{
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    store_route_drop(s);
    s->inflight = 0;
}

/* hiredis' format parser knows the h, hh, l and ll length modifiers only: no
 * %zu in a command format. */

const char *store_last_error(const struct store *s)
{
    return s->last_err;
}

const char *const store_err_names[STORE_ERR__COUNT] = {
    [STORE_ERR_OTHER] = "other",
    [STORE_ERR_CONNECTION] = "connection",
    [STORE_ERR_TIMEOUT] = "timeout",
    [STORE_ERR_OOM] = "oom",
    [STORE_ERR_READONLY] = "readonly",
    [STORE_ERR_MISCONF] = "misconf",
    [STORE_ERR_NO_FUNCTION] = "no_function",
    [STORE_ERR_BUSY] = "busy",
    [STORE_ERR_LOADING] = "loading",
    [STORE_ERR_AUTH] = "auth",
};

const char *store_err_name(enum store_err e)
{
    return names_get(store_err_names, STORE_ERR__COUNT, (int)e);
}

/* Error replies by their code, then hiredis's I/O errors by their text
 * (strerror's, or hiredis's own). */
enum store_err store_err_class(const char *err)
{
    static const struct {
        const char *text;
        enum store_err e;
    } classes[] = {
        {"OOM ", STORE_ERR_OOM},
        {"READONLY ", STORE_ERR_READONLY},
        {"MISCONF ", STORE_ERR_MISCONF},
        {"Function not found", STORE_ERR_NO_FUNCTION},
        {"NOSCRIPT ", STORE_ERR_NO_FUNCTION},
        {"BUSY ", STORE_ERR_BUSY},
        {"LOADING ", STORE_ERR_LOADING},
        {"NOAUTH ", STORE_ERR_AUTH},
        {"NOPERM ", STORE_ERR_AUTH},
        {"WRONGPASS ", STORE_ERR_AUTH},
        {"Resource temporarily unavailable", STORE_ERR_TIMEOUT},
        {"timed out", STORE_ERR_TIMEOUT},
        {"Timeout", STORE_ERR_TIMEOUT},
        {"Connection", STORE_ERR_CONNECTION},
        {"Server closed", STORE_ERR_CONNECTION},
        {"not connected", STORE_ERR_CONNECTION},
        {"Broken pipe", STORE_ERR_CONNECTION},
    };

    for (size_t i = 0; err != NULL && i < sizeof(classes) / sizeof(classes[0]); i++) {
        if (strstr(err, classes[i].text) != NULL) {
            return classes[i].e;
        }
    }
    return STORE_ERR_OTHER;
}

int store_usable(const struct store *s, char *err, size_t errlen)
{
    if (store_ok(s) && s->inflight == 0) {
        return 1;
    }
    snprintf(err, errlen,
             s->inflight ? "redis: replies of a pipeline still unread"
                         : "redis: not connected");
    return 0;
}

/* The reply of one command (NULL, the connection dropped, on an I/O
 * error); a Redis error reply is returned as such for the caller to judge. */
static redisReply *store_vcmd(struct store *s, char *err, size_t errlen, const char *fmt,
                              va_list ap)
{
    int64_t t0 = mono_us();
    redisReply *r = NULL;

    if (!store_usable(s, err, errlen)) {
        return NULL;
    }
    if (store_vsendf(s, fmt, ap) < 0) {
        snprintf(err, errlen, "%s",
                 s->last_err[0] ? s->last_err : "redis: out of memory");
    } else {
        (void)store_next(s, &r, err, errlen);
    }
    store_note_latency(t0);
    return r;
}

redisReply *store_cmd(struct store *s, char *err, size_t errlen, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = store_vcmd(s, err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

/* 0 for a reply that is not an error, else -1 with err; r freed. */
static int simple_reply(redisReply *r, char *err, size_t errlen)
{
    int rc = 0;

    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

/* A command whose only interesting outcome is success. */
int store_simple(struct store *s, char *err, size_t errlen, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = store_vcmd(s, err, errlen, fmt, ap);
    va_end(ap);
    return r == NULL ? -1 : simple_reply(r, err, errlen);
}

/* One command with an integer reply, added to *sum; 0, or -1. */
int store_count_cmd(struct store *s, long long *sum, const char *fmt, ...)
{
    char err[256];
    redisReply *r;
    va_list ap;
    int rc = -1;

    va_start(ap, fmt);
    r = store_vcmd(s, err, sizeof(err), fmt, ap);
    va_end(ap);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *sum += r->integer;
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

/* One command on a connection of its own, whose only interesting outcome
 * is success: 0, or -1 with err. */
static int ctx_simple(redisContext *c, char *err, size_t errlen, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        snprintf(err, errlen, "redis: %s", c->errstr);
        return -1;
    }
    return simple_reply(r, err, errlen);
}

static int ctx_auth(redisContext *c, const struct store_opts *o, char *err, size_t errlen)
{
    if (o->user[0]) {
        return ctx_simple(c, err, errlen, "AUTH %s %s", o->user, o->password);
    }
    if (o->password[0]) {
        return ctx_simple(c, err, errlen, "AUTH %s", o->password);
    }
    return 0;
}

/* A string reply equal to text. */
static int reply_is(const redisReply *e, const char *text)
{
    return (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) &&
           strcmp(e->str, text) == 0;
}

/* Whether the server holds our library with exactly our code: 1, 0, or -1
 * with err on an I/O error. */
static int functions_current(redisContext *c, char *err, size_t errlen)
{
    char name[64];
    redisReply *r, *lib, *code = NULL;
    int same = 0;

    if (sscanf(store_lib, "#!lua name=%63s", name) != 1) {
        return 0;
    }
    r = redisCommand(c, "FUNCTION LIST LIBRARYNAME %s WITHCODE", name);
    if (r == NULL) {
        snprintf(err, errlen, "redis: %s", c->errstr);
        return -1;
    }
    /* [[library_name, N, engine, E, functions, [...], library_code, C], ...]:
     * LIBRARYNAME matches by substring, so each entry's name is compared. */
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && !same; i++) {
        lib = r->element[i];
        code = NULL;
        for (size_t j = 0; lib->type == REDIS_REPLY_ARRAY && j + 1 < lib->elements;
             j += 2) {
            if (reply_is(lib->element[j], "library_name") &&
                !reply_is(lib->element[j + 1], name)) {
                break;
            }
            if (reply_is(lib->element[j], "library_code")) {
                code = lib->element[j + 1];
            }
        }
        same = code != NULL && code->type == REDIS_REPLY_STRING &&
               strcmp(code->str, store_lib) == 0;
    }
    freeReplyObject(r);
    return same;
}

/*
 * The function library, loaded unless the server has it already (on a
 * cluster: every master, each holding its own).  A daemon whose Redis user
 * may not run FUNCTION LOAD (the least-privilege rule of the README,
 * "Security") runs on the library an administrator loaded with `loyaltyctl
 * functions`; if that is missing or of another version, it says so.
 */
static int ctx_functions(redisContext *c, char *err, size_t errlen)
{
    int same = functions_current(c, err, errlen);

    if (same != 0) {
        return same > 0 ? 0 : -1;
    }
    if (ctx_simple(c, err, errlen, "FUNCTION LOAD REPLACE %s", store_lib) < 0) {
        if (strstr(err, "NOPERM") != NULL) {
            size_t n = strlen(err);

            snprintf(err + n, errlen - n,
                     "; this user may not load loyaltyd's function library, and Redis "
                     "does not hold this version of it: load it as an administrator "
                     "with `loyaltyctl functions` (README, \"Security\")");
        }
        return -1;
    }
    return 0;
}

redisContext *store_open(const struct store *s, const char *host, int port, int bare,
                         char *err, size_t errlen)
{
    struct timeval tv = {s->opts.timeout_ms / 1000, (s->opts.timeout_ms % 1000) * 1000};
    redisContext *c;

    if (host[0] == '/') {
        c = redisConnectUnixWithTimeout(host, tv);
    } else {
        c = redisConnectWithTimeout(host, port, tv);
    }
    if (c == NULL || c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port,
                 c ? c->errstr : "out of memory");
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "redis %s:%d: %s", host, port, c->errstr);
        goto fail;
    }
    if (ctx_auth(c, &s->opts, err, errlen) < 0 ||
        (!bare && ctx_functions(c, err, errlen) < 0)) {
        goto fail;
    }
    return c;
fail:
    if (c) {
        redisFree(c);
    }
    return NULL;
}

int store_connect(struct store *s, char *err, size_t errlen)
{
    store_drop(s);
    err[0] = '\0';
    if (s->cluster) {
        if (store_route_connect(s, err, errlen) < 0) {
            goto fail;
        }
    } else {
        s->ctx = store_open(s, s->opts.host, s->opts.port, 1, err, errlen);
        if (s->ctx == NULL) {
            goto fail;
        }
        if (s->opts.db && ctx_simple(s->ctx, err, errlen, "SELECT %d", s->opts.db) < 0) {
            goto fail;
        }
        if (ctx_functions(s->ctx, err, errlen) < 0) {
            goto fail;
        }
    }
    if (store_check_schema(s, err, errlen) < 0) {
        goto fail;
    }
    return 0;
fail:
    if (err[0] == '\0') {
        snprintf(err, errlen, "redis: set-up failed");
    }
    store_drop(s);
    return -1;
}

int store_reply_to_kvlist(const redisReply *r, struct kvlist *kv)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (kvlist_add(kv, r->element[i]->str, r->element[i + 1]->str) < 0) {
            return -1;
        }
    }
    return 0;
}

int store_ids_from_reply(const redisReply *r, size_t step, char ***ids, size_t *n)
{
    size_t count = r->elements / step;
    char **v = calloc(count ? count : 1, sizeof(*v));

    if (v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if ((v[i] = strdup(r->element[i * step]->str)) == NULL) {
            store_ids_free(v, i);
            return -1;
        }
    }
    *ids = v;
    *n = count;
    return 0;
}

void store_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
    }
    free(ids);
}
