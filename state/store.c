/*
 * store.c - the Redis side of loyaltyd.  Key schema (prefix P, customer C):
 *
 *   P c:{C}           hash    the customer's fields (state/codec.c), plus `rev`
 *                             (revision) and `wm:SOURCE:PARTITION` (the highest
 *                             applied offset: the replay watermark)
 *   P c:{C}:aux       string  bounded lists (state/codec.c)
 *   P c:{C}:outbox    hash    derived events recorded but not yet delivered
 *   P idx:risk|loyalty|clv|value   zsets of customer ids (operators' indices)
 *   P due:PARTITION   zset    customer -> time (ms) the sweeper must look again
 *   P model           hash    fitted BG/NBD and Gamma-Gamma parameters
 *   P schema          string  STORE_SCHEMA_VERSION
 */
#include "state/store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char store_lib[] =
#include "store_lib.inc"
    ;

struct store {
    struct store_opts opts; /* strings owned (copies) */
    redisContext *ctx;
    int64_t latency_sum_us; /* round trips since the last store_take_latency */
    uint64_t latency_n;
};

static const char *const topic_tags[STORE_TOPIC__COUNT] = {"c", "r"};
static const char *const index_names[] = {"risk", "loyalty", "clv", "value"};

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- outbox lists ---- */

void store_outbox_init(struct store_outbox *o)
{
    memset(o, 0, sizeof(*o));
}

void store_outbox_free(struct store_outbox *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i].payload);
    free(o->v);
    memset(o, 0, sizeof(*o));
}

int store_outbox_add(struct store_outbox *o, enum store_topic t, const char *id,
                     const char *payload)
{
    struct store_outbox_entry *e;

    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        struct store_outbox_entry *v = realloc(o->v, cap * sizeof(*v));

        if (v == NULL)
            return -1;
        o->v = v;
        o->cap = cap;
    }
    e = &o->v[o->n];
    e->topic = t;
    snprintf(e->event_id, sizeof(e->event_id), "%s", id);
    e->payload = strdup(payload);
    if (e->payload == NULL)
        return -1;
    o->n++;
    return 0;
}

/* An outbox hash value is "TAG\tPAYLOAD", TAG naming the topic. */
static int outbox_parse(const redisReply *flat, struct store_outbox *out)
{
    if (flat == NULL || flat->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const char *v = flat->element[i + 1]->str;
        enum store_topic t = v[0] == 'r' ? STORE_TOPIC_REWARDS : STORE_TOPIC_CHURN;

        if (v[0] == '\0' || v[1] != '\t')
            continue; /* not ours: leave it for an operator */
        if (store_outbox_add(out, t, flat->element[i]->str, v + 2) < 0)
            return -1;
    }
    return 0;
}

/* ---- connection ---- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

struct store *store_new(const struct store_opts *opts)
{
    struct store *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->opts = *opts;
    s->opts.host = dup_or_empty(opts->host);
    s->opts.password = dup_or_empty(opts->password);
    s->opts.prefix = dup_or_empty(opts->prefix);
    if (!s->opts.host || !s->opts.password || !s->opts.prefix) {
        store_free(s);
        return NULL;
    }
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    if (s->ctx)
        redisFree(s->ctx);
    free((char *)(uintptr_t)s->opts.host);
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
    return s->ctx != NULL && s->ctx->err == 0;
}

void store_take_latency(struct store *s, int64_t *sum_us, uint64_t *n)
{
    *sum_us = s->latency_sum_us;
    *n = s->latency_n;
    s->latency_sum_us = 0;
    s->latency_n = 0;
}

static void note_latency(struct store *s, int64_t t0)
{
    s->latency_sum_us += mono_us() - t0;
    s->latency_n++;
}

static void store_drop(struct store *s)
{
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
}

/* hiredis' format parser knows the h, hh, l and ll length modifiers only: no
 * %zu in a command format. */

/* The reply of a command sent at t0: NULL (and the connection dropped) on an
 * I/O error; a Redis error reply is returned as such for the caller to judge. */
static redisReply *store_reply(struct store *s, redisReply *r, int64_t t0, char *err,
                               size_t errlen)
{
    note_latency(s, t0);
    if (r == NULL) {
        snprintf(err, errlen, "redis: %s", s->ctx->errstr);
        store_drop(s);
    }
    return r;
}

static int store_usable(const struct store *s, char *err, size_t errlen)
{
    if (store_ok(s))
        return 1;
    snprintf(err, errlen, "redis: not connected");
    return 0;
}

static redisReply *store_vcmd(struct store *s, char *err, size_t errlen, const char *fmt,
                              va_list ap)
{
    int64_t t0 = mono_us();

    if (!store_usable(s, err, errlen))
        return NULL;
    return store_reply(s, redisvCommand(s->ctx, fmt, ap), t0, err, errlen);
}

static redisReply *store_cmd(struct store *s, char *err, size_t errlen, const char *fmt,
                             ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = store_vcmd(s, err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

static redisReply *store_argv(struct store *s, int argc, const char **argv,
                              const size_t *lens, char *err, size_t errlen)
{
    int64_t t0 = mono_us();

    if (!store_usable(s, err, errlen))
        return NULL;
    return store_reply(s, redisCommandArgv(s->ctx, argc, argv, lens), t0, err, errlen);
}

/* A command whose only interesting outcome is success. */
static int store_simple(struct store *s, char *err, size_t errlen, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;
    int rc = 0;

    va_start(ap, fmt);
    r = store_vcmd(s, err, errlen, fmt, ap);
    va_end(ap);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

static int store_check_schema(struct store *s, char *err, size_t errlen)
{
    redisReply *r = store_cmd(s, err, errlen, "SET %sschema %d NX GET", s->opts.prefix,
                              STORE_SCHEMA_VERSION);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errlen, "redis: %s", r->str);
    else if (r->type == REDIS_REPLY_STRING && atoi(r->str) != STORE_SCHEMA_VERSION)
        snprintf(err, errlen, "redis: %sschema is %s, this build speaks %d",
                 s->opts.prefix, r->str, STORE_SCHEMA_VERSION);
    else
        rc = 0;
    freeReplyObject(r);
    return rc;
}

int store_connect(struct store *s, char *err, size_t errlen)
{
    struct timeval tv = {s->opts.timeout_ms / 1000, (s->opts.timeout_ms % 1000) * 1000};

    store_drop(s);
    if (s->opts.host[0] == '/')
        s->ctx = redisConnectUnixWithTimeout(s->opts.host, tv);
    else
        s->ctx = redisConnectWithTimeout(s->opts.host, s->opts.port, tv);
    if (s->ctx == NULL || s->ctx->err) {
        snprintf(err, errlen, "redis %s:%d: %s", s->opts.host, s->opts.port,
                 s->ctx ? s->ctx->errstr : "out of memory");
        store_drop(s);
        return -1;
    }
    if (redisSetTimeout(s->ctx, tv) != REDIS_OK)
        goto fail;
    if (s->opts.password[0] &&
        store_simple(s, err, errlen, "AUTH %s", s->opts.password) < 0)
        goto fail;
    if (s->opts.db && store_simple(s, err, errlen, "SELECT %d", s->opts.db) < 0)
        goto fail;
    if (store_simple(s, err, errlen, "FUNCTION LOAD REPLACE %s", store_lib) < 0)
        goto fail;
    if (store_check_schema(s, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    if (err[0] == '\0')
        snprintf(err, errlen, "redis: set-up failed");
    store_drop(s);
    return -1;
}

/* ---- customers ---- */

static void key_of(const struct store *s, char *buf, size_t len, const char *id,
                   const char *suffix)
{
    snprintf(buf, len, "%sc:{%s}%s", s->opts.prefix, id, suffix);
}

static void wm_field(char *buf, size_t len, const struct store_origin *o)
{
    if (o == NULL || o->offset < 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, "wm:%s:%" PRId32, o->source, o->partition);
}

static int reply_to_kvlist(const redisReply *r, struct kvlist *kv)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (kvlist_add(kv, r->element[i]->str, r->element[i + 1]->str) < 0)
            return -1;
    return 0;
}

static int load_snapshot(const struct kvlist *kv, const struct store_origin *o,
                         struct store_snapshot *snap)
{
    char wmf[160];
    const char *rev = kvlist_get(kv, "rev"), *wm;

    wm_field(wmf, sizeof(wmf), o);
    snap->exists = rev != NULL;
    snap->rev = rev ? strtoll(rev, NULL, 10) : 0;
    wm = wmf[0] ? kvlist_get(kv, wmf) : NULL;
    snap->duplicate = wm != NULL && strtoll(wm, NULL, 10) >= o->offset;
    return 0;
}

/* The customer's hash and aux string in one round trip (pipelined).  Returns
 * 0 with both replies (the caller frees them), or -1 with err. */
/* The replies of n commands appended since t0 (one round trip).  0 with all
 * n replies (the caller frees them), or -1 with none and the connection
 * dropped on an I/O error. */
static int read_replies(struct store *s, redisReply **r, int n, int64_t t0, char *err,
                        size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (redisGetReply(s->ctx, (void **)&r[i]) != REDIS_OK) {
            while (i-- > 0)
                freeReplyObject(r[i]);
            store_reply(s, NULL, t0, err, errlen); /* drops the connection */
            return -1;
        }
    }
    note_latency(s, t0);
    return 0;
}

static void free_replies(redisReply **r, int n)
{
    for (int i = 0; i < n; i++)
        freeReplyObject(r[i]);
}

/* The customer's hash and aux string in one round trip (pipelined).  Returns
 * 0 with both replies (the caller frees them), or -1 with err. */
static int fetch_customer(struct store *s, const char *id, redisReply **h, redisReply **a,
                          char *err, size_t errlen)
{
    char hkey[300], akey[300];
    int64_t t0 = mono_us();
    redisReply *r[2];

    *h = *a = NULL;
    if (!store_usable(s, err, errlen))
        return -1;
    key_of(s, hkey, sizeof(hkey), id, "");
    key_of(s, akey, sizeof(akey), id, ":aux");
    redisAppendCommand(s->ctx, "HGETALL %s", hkey);
    redisAppendCommand(s->ctx, "GET %s", akey);
    if (read_replies(s, r, 2, t0, err, errlen) < 0)
        return -1;
    if (r[0]->type != REDIS_REPLY_ARRAY ||
        (r[1]->type != REDIS_REPLY_STRING && r[1]->type != REDIS_REPLY_NIL)) {
        snprintf(err, errlen, "redis: unexpected reply loading %s", hkey);
        free_replies(r, 2);
        return -1;
    }
    *h = r[0];
    *a = r[1];
    return 0;
}

int store_load(struct store *s, const char *id, const struct store_origin *o,
               struct customer *c, struct store_snapshot *snap, char *err, size_t errlen)
{
    redisReply *h, *a;
    struct kvlist kv;
    int rc = -1;

    if (fetch_customer(s, id, &h, &a, err, errlen) < 0)
        return -1;
    kvlist_init(&kv);
    if (reply_to_kvlist(h, &kv) < 0 || load_snapshot(&kv, o, snap) < 0)
        goto out;
    if (!snap->exists) {
        customer_init(c, id);
        rc = 0;
        goto out;
    }
    rc = codec_decode(c, id, &kv, a->type == REDIS_REPLY_STRING ? a->str : NULL, err,
                      errlen);
out:
    freeReplyObject(h);
    freeReplyObject(a);
    kvlist_free(&kv);
    return rc;
}

/* argv for FCALL loyaltyd_commit; strings borrowed from the arguments. */
struct argv_buf {
    const char **argv;
    size_t *lens;
    char **owned; /* formatted strings freed with the buffer */
    size_t n, cap, n_owned;
};

static int argv_push(struct argv_buf *b, const char *s, size_t len)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        const char **v = realloc(b->argv, cap * sizeof(*v));
        size_t *l = v ? realloc(b->lens, cap * sizeof(*l)) : NULL;
        char **o = l ? realloc(b->owned, cap * sizeof(*o)) : NULL;

        if (v)
            b->argv = v;
        if (l)
            b->lens = l;
        if (o == NULL)
            return -1;
        b->owned = o;
        b->cap = cap;
    }
    b->argv[b->n] = s;
    b->lens[b->n++] = len;
    return 0;
}

static int argv_str(struct argv_buf *b, const char *s)
{
    return argv_push(b, s, strlen(s));
}

static int argv_fmt(struct argv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int argv_fmt(struct argv_buf *b, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    b->owned[b->n_owned++] = s; /* n_owned <= n < cap after argv_push */
    return argv_push(b, s, (size_t)n);
}

static void argv_free(struct argv_buf *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    free(b->argv);
    free(b->lens);
    free(b->owned);
}

static int commit_argv(struct argv_buf *b, const struct store *s, const struct kvlist *kv,
                       const char *aux, const struct store_snapshot *snap,
                       const struct store_origin *o, const struct store_outbox *add,
                       const char *id)
{
    char wmf[160];
    int rc = 0;

    wm_field(wmf, sizeof(wmf), o);
    rc |= argv_str(b, "FCALL");
    rc |= argv_str(b, "loyaltyd_commit");
    rc |= argv_str(b, "3");
    rc |= argv_fmt(b, "%sc:{%s}", s->opts.prefix, id);
    rc |= argv_fmt(b, "%sc:{%s}:aux", s->opts.prefix, id);
    rc |= argv_fmt(b, "%sc:{%s}:outbox", s->opts.prefix, id);
    rc |= argv_fmt(b, "%s", wmf);
    rc |= argv_fmt(b, "%" PRId64, o && o->offset >= 0 ? o->offset : (int64_t)-1);
    rc |= argv_fmt(b, "%" PRId64, snap->rev);
    rc |= argv_str(b, aux);
    rc |= argv_fmt(b, "%zu", kv->n);
    for (size_t i = 0; i < kv->n && rc == 0; i++) {
        rc |= argv_str(b, kv->v[i].name);
        rc |= argv_str(b, kv->v[i].value);
    }
    for (size_t i = 0; add && i < add->n && rc == 0; i++) {
        rc |= argv_str(b, add->v[i].event_id);
        rc |= argv_fmt(b, "%s\t%s", topic_tags[add->v[i].topic], add->v[i].payload);
    }
    return rc ? -1 : 0;
}

static enum store_commit_result
commit_result(const redisReply *r, struct store_outbox *pending, char *err, size_t errlen)
{
    const char *status;

    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
        return STORE_ERROR;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "redis: unexpected reply from loyaltyd_commit");
        return STORE_ERROR;
    }
    if (pending && outbox_parse(r->element[2], pending) < 0) {
        snprintf(err, errlen, "out of memory");
        return STORE_ERROR;
    }
    status = r->element[0]->str;
    if (strcmp(status, "ok") == 0)
        return STORE_APPLIED;
    if (strcmp(status, "dup") == 0)
        return STORE_DUPLICATE;
    return STORE_CONFLICT;
}

enum store_commit_result
store_commit(struct store *s, const struct customer *c, const struct store_snapshot *snap,
             const struct store_origin *o, const struct store_outbox *add,
             struct store_outbox *pending, char *err, size_t errlen)
{
    enum store_commit_result res = STORE_ERROR;
    struct argv_buf b = {0};
    struct kvlist kv;
    char *aux = NULL;
    redisReply *r = NULL;

    kvlist_init(&kv);
    if (codec_encode(c, &kv, &aux) < 0 ||
        commit_argv(&b, s, &kv, aux, snap, o, add, c->id) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    r = store_argv(s, (int)b.n, b.argv, b.lens, err, errlen);
    if (r != NULL)
        res = commit_result(r, pending, err, errlen);
    /* A server without our library (flushed, or a replica promoted before it
     * got it): reconnecting loads it again. */
    if (res == STORE_ERROR && r != NULL && r->type == REDIS_REPLY_ERROR &&
        strstr(r->str, "Function not found") != NULL)
        store_drop(s);
out:
    if (r)
        freeReplyObject(r);
    argv_free(&b);
    free(aux);
    kvlist_free(&kv);
    return res;
}

int store_outbox_pending(struct store *s, const char *id, struct store_outbox *pending)
{
    char key[300], err[256];
    redisReply *r;
    int rc;

    key_of(s, key, sizeof(key), id, ":outbox");
    if ((r = store_cmd(s, err, sizeof(err), "HGETALL %s", key)) == NULL)
        return -1;
    rc = r->type == REDIS_REPLY_ARRAY ? outbox_parse(r, pending) : -1;
    freeReplyObject(r);
    return rc;
}

int store_outbox_ack(struct store *s, const char *id, const char *event_id)
{
    char key[300], err[256];

    key_of(s, key, sizeof(key), id, ":outbox");
    return store_simple(s, err, sizeof(err), "HDEL %s %s", key, event_id);
}

/* ---- indices, sweeper, model ---- */

int store_index(struct store *s, const struct customer *c, int32_t partition,
                int64_t due_ms)
{
    const double scores[] = {c->churn_risk, c->loyalty_score, c->clv, c->spend_365d};
    const char *p = s->opts.prefix;
    int64_t t0 = mono_us();
    redisReply *r[5];
    char err[256];
    int rc = 0;

    if (!store_usable(s, err, sizeof(err)))
        return -1;
    for (size_t i = 0; i < 4; i++)
        redisAppendCommand(s->ctx, "ZADD %sidx:%s %.17g %s", p, index_names[i],
                           isfinite(scores[i]) ? scores[i] : 0.0, c->id);
    if (due_ms == INT64_MAX)
        redisAppendCommand(s->ctx, "ZREM %sdue:%d %s", p, (int)partition, c->id);
    else
        redisAppendCommand(s->ctx, "ZADD %sdue:%d %" PRId64 " %s", p, (int)partition,
                           due_ms, c->id);
    if (read_replies(s, r, 5, t0, err, sizeof(err)) < 0)
        return -1;
    for (int i = 0; i < 5; i++)
        if (r[i]->type == REDIS_REPLY_ERROR)
            rc = -1;
    free_replies(r, 5);
    return rc;
}

static int ids_from_reply(const redisReply *r, size_t step, char ***ids, size_t *n)
{
    size_t count = r->elements / step;
    char **v = calloc(count ? count : 1, sizeof(*v));

    if (v == NULL)
        return -1;
    for (size_t i = 0; i < count; i++)
        if ((v[i] = strdup(r->element[i * step]->str)) == NULL) {
            store_ids_free(v, i);
            return -1;
        }
    *ids = v;
    *n = count;
    return 0;
}

void store_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int store_due(struct store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
              size_t *n)
{
    char err[256];
    redisReply *r = store_cmd(
        s, err, sizeof(err), "ZRANGE %sdue:%d -inf %" PRId64 " BYSCORE LIMIT 0 %llu",
        s->opts.prefix, (int)partition, now_ms, (unsigned long long)max);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY)
        rc = ids_from_reply(r, 1, ids, n);
    freeReplyObject(r);
    return rc;
}

int store_model_get(struct store *s, struct bg_params *bg, struct gg_params *gg)
{
    double v[7];
    char err[256];
    redisReply *r = store_cmd(s, err, sizeof(err), "HMGET %smodel r alpha a b p q gamma",
                              s->opts.prefix);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 7)
        goto out;
    rc = 0;
    for (size_t i = 0; i < 7; i++) {
        char *end = NULL;

        if (r->element[i]->type != REDIS_REPLY_STRING)
            goto out;
        v[i] = strtod(r->element[i]->str, &end);
        if (*end != '\0' || !(v[i] > 0) || !isfinite(v[i]))
            goto out;
    }
    *bg = (struct bg_params){v[0], v[1], v[2], v[3]};
    *gg = (struct gg_params){v[4], v[5], v[6]};
    rc = 1;
out:
    freeReplyObject(r);
    return rc;
}

int store_model_put(struct store *s, const struct bg_params *bg,
                    const struct gg_params *gg, const char *meta_json)
{
    const double v[7] = {bg->r, bg->alpha, bg->a, bg->b, gg->p, gg->q, gg->gamma};
    char err[256];
    char vals[7][40];

    for (size_t i = 0; i < 7; i++)
        snprintf(vals[i], sizeof(vals[i]), "%.17g", v[i]);
    return store_simple(
        s, err, sizeof(err),
        "HSET %smodel r %s alpha %s a %s b %s p %s q %s gamma %s unit weeks "
        "meta %s",
        s->opts.prefix, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6],
        meta_json ? meta_json : "{}");
}

int store_top(struct store *s, enum store_index_kind k, size_t n, char ***ids,
              double **scores, size_t *count)
{
    char err[256];
    redisReply *r = store_cmd(s, err, sizeof(err),
                              "ZRANGE %sidx:%s +inf -inf BYSCORE REV "
                              "LIMIT 0 %llu WITHSCORES",
                              s->opts.prefix, index_names[k], (unsigned long long)n);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && ids_from_reply(r, 2, ids, count) == 0) {
        *scores = calloc(*count ? *count : 1, sizeof(double));
        if (*scores != NULL) {
            for (size_t i = 0; i < *count; i++)
                (*scores)[i] = strtod(r->element[2 * i + 1]->str, NULL);
            rc = 0;
        } else {
            store_ids_free(*ids, *count);
        }
    }
    freeReplyObject(r);
    return rc;
}

int store_scan_customers(struct store *s, uint64_t *cursor, char ***ids, size_t *n)
{
    char err[256];
    redisReply *r =
        store_cmd(s, err, sizeof(err), "ZSCAN %sidx:loyalty %" PRIu64 " COUNT 1000",
                  s->opts.prefix, *cursor);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY) {
        *cursor = strtoull(r->element[0]->str, NULL, 10);
        rc = ids_from_reply(r->element[1], 2, ids, n);
    }
    freeReplyObject(r);
    return rc;
}

int store_raw(struct store *s, const char *id, struct kvlist *fields, char **aux)
{
    redisReply *h, *a;
    char err[256];
    int rc = -1;

    if (fetch_customer(s, id, &h, &a, err, sizeof(err)) < 0)
        return -1;
    if (h->elements > 0 && reply_to_kvlist(h, fields) == 0) {
        *aux = a->type == REDIS_REPLY_STRING ? strdup(a->str) : NULL;
        rc = 0;
    }
    freeReplyObject(h);
    freeReplyObject(a);
    return rc;
}

int store_delete_customer(struct store *s, const char *id)
{
    const char *p = s->opts.prefix;
    char err[256];
    int rc = 0;

    rc |= store_simple(s, err, sizeof(err), "DEL %sc:{%s} %sc:{%s}:aux %sc:{%s}:outbox",
                       p, id, p, id, p, id);
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc |=
            store_simple(s, err, sizeof(err), "ZREM %sidx:%s %s", p, index_names[i], id);
    return rc ? -1 : 0;
}
