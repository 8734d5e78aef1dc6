/*
 * store.c - the Redis side of loyaltyd.  Key schema (prefix P, customer C):
 *
 *   P c:{C}           hash    the summary: about 15 readable fields
 *                             (codec_summary_diff), `rev` (revision) and
 *                             `partition` (the partition its events are keyed to)
 *   P c:{C}:state     string  the packed state (state/store/packed.h): everything,
 *                             the replay watermarks and the revision included
 *   (layout 2, read and replaced at the next commit: every field in the
 *   hash, with `wm:SOURCE:PARTITION` watermarks, the lists in c:{C}:aux and
 *   the derived events not yet delivered in the hash c:{C}:outbox)
 *   P idx:risk|loyalty|clv|value   zsets of customer ids (operators' indices,
 *                             those of store_opts.indices)
 *   P due:PARTITION   zset    customer -> time (ms) the sweeper must look again
 *   P model           hash    fitted BG/NBD and Gamma-Gamma parameters
 *   P schema          string  STORE_SCHEMA_VERSION
 */
#include "state/store/store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/decimal.h"
#include "base/metrics.h"
#include "base/numfmt.h"
#include "state/store/codec.h"
#include "state/store/packed.h"

static const char store_lib[] =
#include "store_lib.inc"
    ;

/* argv of one command: strings borrowed, or formatted into the buffer's own
 * arena (kept as offsets until appended, as the arena may move). */
struct argv_buf {
    const char **argv;
    size_t *lens;
    size_t *off; /* offset in the arena + 1, or 0 for a borrowed string */
    size_t n, cap;
    char *arena;
    size_t used, room;
    int failed; /* ENOMEM on the way: the command is not to be sent */
};

static void argv_free(struct argv_buf *b);

struct store {
    struct store_opts opts; /* strings owned (copies) */
    redisContext *ctx;
    struct argv_buf argv; /* the command being built, memory kept */
    char *resp;           /* its protocol form */
    size_t resp_room;
    size_t inflight;    /* pipelined requests whose replies are not read yet */
    int64_t sent_us;    /* when the first of them was sent */
    char last_err[160]; /* the last I/O error, for store_last_error */
};

/* The tag of a layout 2 outbox value, naming its topic. */
static const char *const topic_tags[STORE_TOPIC__COUNT] = {
    [STORE_TOPIC_CHURN] = "c", [STORE_TOPIC_REWARDS] = "r", [STORE_TOPIC_SEGMENTS] = "s"};
static const char *const index_names[] = {"risk", "loyalty", "clv", "value"};

const char *store_index_name(enum store_index_kind k)
{
    return (unsigned)k < STORE_IDX__COUNT ? index_names[k] : "?";
}

int store_index_parse(const char *name, size_t n)
{
    for (int k = 0; k < STORE_IDX__COUNT; k++)
        if (strlen(index_names[k]) == n && memcmp(index_names[k], name, n) == 0)
            return k;
    return -1;
}

/* ---- lists of derived events ---- */

void publish_list_init(struct publish_list *o)
{
    memset(o, 0, sizeof(*o));
}

void publish_list_free(struct publish_list *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i].payload);
    free(o->v);
    memset(o, 0, sizeof(*o));
}

int publish_list_add(struct publish_list *o, enum store_topic t, const char *id,
                     const char *payload)
{
    struct publish_entry *e;

    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        struct publish_entry *v = realloc(o->v, cap * sizeof(*v));

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

/* An outbox hash value is "TAG\tPAYLOAD": the topic it is bound for in *t,
 * or -1 if the tag is none of ours. */
static int outbox_topic(const char *v, enum store_topic *t)
{
    for (int i = 0; i < STORE_TOPIC__COUNT; i++)
        if (v[0] == topic_tags[i][0] && v[1] == '\t') {
            *t = (enum store_topic)i;
            return 0;
        }
    return -1;
}

static int outbox_parse(const redisReply *flat, struct publish_list *out)
{
    if (flat == NULL || flat->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const char *v = flat->element[i + 1]->str;
        enum store_topic t;

        if (outbox_topic(v, &t) < 0)
            continue; /* not ours: leave it for an operator */
        if (publish_list_add(out, t, flat->element[i]->str, v + 2) < 0)
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

struct store *store_new_like(const struct store *s)
{
    return store_new(&s->opts);
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    if (s->ctx)
        redisFree(s->ctx);
    argv_free(&s->argv);
    free(s->resp);
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

/* One round trip, for loyaltyd_redis_latency_seconds. */
static void note_latency(int64_t t0)
{
    metrics_redis_latency(mono_us() - t0);
}

static void store_drop(struct store *s)
{
    if (s->ctx) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    s->inflight = 0;
}

/* hiredis' format parser knows the h, hh, l and ll length modifiers only: no
 * %zu in a command format. */

/* The reply of a command sent at t0: NULL (and the connection dropped) on an
 * I/O error; a Redis error reply is returned as such for the caller to judge. */
static redisReply *store_reply(struct store *s, redisReply *r, int64_t t0, char *err,
                               size_t errlen)
{
    note_latency(t0);
    if (r == NULL) {
        snprintf(err, errlen, "redis: %s", s->ctx->errstr);
        snprintf(s->last_err, sizeof(s->last_err), "redis: %s", s->ctx->errstr);
        store_drop(s);
    }
    return r;
}

const char *store_last_error(const struct store *s)
{
    return s->last_err;
}

static const char *const err_names[STORE_ERR__COUNT] = {
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
    return (unsigned)e < STORE_ERR__COUNT ? err_names[e] : err_names[0];
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

    for (size_t i = 0; err != NULL && i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strstr(err, classes[i].text) != NULL)
            return classes[i].e;
    return STORE_ERR_OTHER;
}

static int store_usable(const struct store *s, char *err, size_t errlen)
{
    if (store_ok(s) && s->inflight == 0)
        return 1;
    snprintf(err, errlen,
             s->inflight ? "redis: replies of a pipeline still unread"
                         : "redis: not connected");
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

static int store_count_cmd(struct store *s, long long *sum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The schema key: another version's is refused; an absent one means a Redis
 * that holds nothing of this prefix (new, or emptied), which the caller must
 * judge before it writes anything (store_mark). */
static int store_check_schema(struct store *s, char *err, size_t errlen)
{
    redisReply *r = store_cmd(s, err, errlen, "GET %sschema", s->opts.prefix);
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

int store_fresh(struct store *s)
{
    long long n = 0;

    if (store_count_cmd(s, &n, "EXISTS %sschema", s->opts.prefix) < 0)
        return -1;
    return n == 0;
}

int store_aof(struct store *s)
{
    char err[256];
    redisReply *r = store_cmd(s, err, sizeof(err), "INFO persistence");
    const char *p;
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "aof_enabled:")) != NULL)
        rc = p[strlen("aof_enabled:")] == '1';
    freeReplyObject(r);
    return rc;
}

/* The value of field `name` in an INFO reply, copied into out. */
static int info_field(const char *info, const char *name, char *out, size_t len)
{
    size_t n = strlen(name), k;
    const char *p = info;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == info || p[-1] == '\n') && p[n] == ':')
            break;
        p += n;
    }
    if (p == NULL)
        return -1;
    p += n + 1;
    k = strcspn(p, "\r\n");
    snprintf(out, len, "%.*s", (int)k, p);
    return 0;
}

int store_check_eviction(struct store *s, char *err, size_t errlen)
{
    redisReply *r = store_cmd(s, err, errlen, "INFO memory");
    char max[32], policy[32];
    int rc = 0;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING &&
        info_field(r->str, "maxmemory", max, sizeof(max)) == 0 &&
        info_field(r->str, "maxmemory_policy", policy, sizeof(policy)) == 0 &&
        strtoull(max, NULL, 10) > 0 && strcmp(policy, "noeviction") != 0) {
        snprintf(err, errlen,
                 "redis: maxmemory-policy is %s with maxmemory %s: Redis would evict "
                 "customers' state without a word when memory runs short; set "
                 "maxmemory-policy noeviction (then a full Redis refuses writes and "
                 "loyaltyd waits)",
                 policy, max);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

int store_mark(struct store *s, char *err, size_t errlen)
{
    return store_simple(s, err, errlen, "SET %sschema %d NX", s->opts.prefix,
                        STORE_SCHEMA_VERSION);
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

static int reply_to_kvlist(const redisReply *r, struct kvlist *kv)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (kvlist_add(kv, r->element[i]->str, r->element[i + 1]->str) < 0)
            return -1;
    return 0;
}

static void free_replies(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i])
            freeReplyObject(r[i]);
}

static int wm_parse(const char *name, const char *value, struct store_wm *wm)
{
    const char *colon;

    if (strncmp(name, "wm:", 3) != 0 || (colon = strchr(name + 3, ':')) == NULL)
        return -1;
    for (int src = 0; src < SRC__COUNT; src++) {
        const char *sn = event_source_name((enum ev_source)src);

        if (strlen(sn) == (size_t)(colon - name - 3) &&
            strncmp(name + 3, sn, strlen(sn)) == 0) {
            wm->source = src;
            wm->partition = (int32_t)strtol(colon + 1, NULL, 10);
            wm->offset = strtoll(value, NULL, 10);
            return 0;
        }
    }
    return -1;
}

/* What the store itself keeps in the hash beside the codec's fields. */
static void meta_from_kvlist(const struct kvlist *kv, struct store_meta *m)
{
    const char *rev = kvlist_get(kv, "rev"), *part = kvlist_get(kv, "partition");

    memset(m, 0, sizeof(*m));
    m->exists = rev != NULL;
    m->rev = rev ? strtoll(rev, NULL, 10) : 0;
    m->partition = part ? (int32_t)strtol(part, NULL, 10) : -1;
    for (size_t i = 0; i < kv->n && m->nwm < STORE_WM_MAX; i++)
        if (wm_parse(kv->v[i].name, kv->v[i].value, &m->wm[m->nwm]) == 0)
            m->nwm++;
}

/* A customer of layout 2 from its hash, aux string and outbox. */
static int load_layout2(const char *id, const redisReply *h, const redisReply *a,
                        const redisReply *ob, struct customer *c, struct store_meta *meta,
                        struct publish_list *leftover, char *err, size_t errlen)
{
    struct kvlist kv;
    int rc = -1;

    if (h->type != REDIS_REPLY_ARRAY || a->type != REDIS_REPLY_STRING ||
        outbox_parse(ob, leftover) < 0) {
        snprintf(err, errlen, "redis: unexpected reply loading customer %s", id);
        return -1;
    }
    kvlist_init(&kv);
    if (reply_to_kvlist(h, &kv) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    meta_from_kvlist(&kv, meta);
    meta->layout = meta->exists ? 2 : 0;
    if (!meta->exists) {
        customer_init(c, id);
        rc = 0;
        goto out;
    }
    rc = codec_decode(c, id, &kv, a->str[0] ? a->str : NULL, err, errlen);
out:
    kvlist_free(&kv);
    return rc;
}

/* One customer from loyaltyd_load's reply (store_lib.lua). */
static int load_one(const char *id, const redisReply *r, struct customer *c,
                    struct store_meta *meta, struct publish_list *leftover, char *err,
                    size_t errlen)
{
    switch (r->type) {
    case REDIS_REPLY_NIL:
        memset(meta, 0, sizeof(*meta));
        meta->partition = -1;
        customer_init(c, id);
        return 0;
    case REDIS_REPLY_STRING:
        return packed_decode((const unsigned char *)r->str, r->len, id, c, meta, err,
                             errlen);
    case REDIS_REPLY_ARRAY:
        if (r->elements == 3)
            return load_layout2(id, r->element[0], r->element[1], r->element[2], c, meta,
                                leftover, err, errlen);
        break;
    case REDIS_REPLY_ERROR:
        snprintf(err, errlen, "redis: %s", r->str);
        return -1;
    default:
        break;
    }
    snprintf(err, errlen, "redis: unexpected reply loading customer %s", id);
    return -1;
}

/* ---- pipelined requests ---- */

/* A send may begin: connected, and any earlier pipeline's replies are part of
 * this one (they are read first, in order). */
static int pipe_usable(struct store *s, char *err, size_t errlen)
{
    if (!store_ok(s)) {
        snprintf(err, errlen, "redis: not connected");
        return 0;
    }
    if (s->inflight == 0)
        s->sent_us = mono_us();
    return 1;
}

/* n more replies to read. */
static void pipe_sent(struct store *s, size_t n)
{
    s->inflight += n;
}

/* The next n replies of the pipeline.  0 with all n (the caller frees them),
 * or -1 with none and the connection dropped on an I/O error.  The round
 * trip is timed when its last reply is in. */
static int pipe_recv(struct store *s, redisReply **r, size_t n, char *err, size_t errlen)
{
    if (!store_ok(s) || n > s->inflight) {
        snprintf(err, errlen, "redis: not connected");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (redisGetReply(s->ctx, (void **)&r[i]) != REDIS_OK) {
            while (i-- > 0)
                freeReplyObject(r[i]);
            snprintf(err, errlen, "redis: %s", s->ctx->errstr);
            store_drop(s);
            return -1;
        }
    }
    s->inflight -= n;
    if (s->inflight == 0)
        note_latency(s->sent_us);
    return 0;
}

void store_push(struct store *s)
{
    int done = 0;

    while (store_ok(s) && !done)
        if (redisBufferWrite(s->ctx, &done) != REDIS_OK)
            store_drop(s);
}

void store_abandon(struct store *s)
{
    if (s->inflight > 0)
        store_drop(s);
}

/* The replies of n commands just appended (one round trip); as pipe_recv. */
static int roundtrip(struct store *s, redisReply **r, size_t n, char *err, size_t errlen)
{
    pipe_sent(s, n);
    return pipe_recv(s, r, n, err, errlen);
}

/* Room for the replies of n commands; NULL with err on ENOMEM. */
static redisReply **replies_new(size_t n, char *err, size_t errlen)
{
    redisReply **r = calloc(n ? n : 1, sizeof(*r));

    if (r == NULL)
        snprintf(err, errlen, "out of memory");
    return r;
}

/* FCALL loyaltyd_load_4 (store_lib.lua) of one customer. */
static void append_fetch(struct store *s, const char *id)
{
    char h[STORE_KEY_MAX], st[STORE_KEY_MAX], aux[STORE_KEY_MAX], ob[STORE_KEY_MAX];

    key_of(s, h, sizeof(h), id, "");
    key_of(s, st, sizeof(st), id, ":state");
    key_of(s, aux, sizeof(aux), id, ":aux");
    key_of(s, ob, sizeof(ob), id, ":outbox");
    redisAppendCommand(s->ctx, "FCALL_RO loyaltyd_load_4 4 %s %s %s %s", h, st, aux, ob);
}

int store_load_send(struct store *s, const char *const *ids, size_t n, char *err,
                    size_t errlen)
{
    if (!pipe_usable(s, err, errlen))
        return -1;
    for (size_t i = 0; i < n; i++)
        append_fetch(s, ids[i]);
    pipe_sent(s, n);
    return 0;
}

int store_load_recv(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                    void *arg, char *err, size_t errlen)
{
    struct publish_list leftover;
    struct customer *c = NULL;
    struct store_meta meta;
    redisReply *r;
    int rc = 0;

    if (n == 0)
        return 0;
    if ((c = malloc(sizeof(*c))) == NULL) {
        snprintf(err, errlen, "out of memory");
        store_abandon(s);
        return -1;
    }
    /* One customer's replies at a time: a batch of loads never holds more
     * than one customer's reply objects. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = pipe_recv(s, &r, 1, err, errlen)) < 0)
            break;
        publish_list_init(&leftover);
        rc = load_one(ids[i], r, c, &meta, &leftover, err, errlen);
        if (rc == 0)
            rc = got(arg, i, c, &meta, leftover.n ? &leftover : NULL);
        publish_list_free(&leftover);
        freeReplyObject(r);
        if (rc < 0)
            store_abandon(s); /* the rest of the replies are not read */
    }
    free(c);
    return rc;
}

int store_load_many(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                    void *arg, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (!store_usable(s, err, errlen) || store_load_send(s, ids, n, err, errlen) < 0)
        return -1;
    return store_load_recv(s, ids, n, got, arg, err, errlen);
}

struct load_into {
    struct customer *c;
    struct store_meta *meta;
};

static int got_into(void *arg, size_t i, const struct customer *c,
                    const struct store_meta *meta, const struct publish_list *leftover)
{
    struct load_into *to = arg;

    (void)i;
    (void)leftover;
    memcpy(to->c, c, sizeof(*c));
    *to->meta = *meta;
    return 0;
}

int store_load(struct store *s, const char *id, struct customer *c,
               struct store_meta *meta, char *err, size_t errlen)
{
    struct load_into to = {c, meta};

    return store_load_many(s, &id, 1, got_into, &to, err, errlen);
}

static void argv_push(struct argv_buf *b, const char *s, size_t len, size_t off)
{
    if (b->failed)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        const char **v = realloc(b->argv, cap * sizeof(*v));
        size_t *l = v ? realloc(b->lens, cap * sizeof(*l)) : NULL;
        size_t *o = l ? realloc(b->off, cap * sizeof(*o)) : NULL;

        if (v)
            b->argv = v;
        if (l)
            b->lens = l;
        if (o == NULL) {
            b->failed = 1;
            return;
        }
        b->off = o;
        b->cap = cap;
    }
    b->argv[b->n] = s;
    b->lens[b->n] = len;
    b->off[b->n++] = off;
}

static void argv_str(struct argv_buf *b, const char *s)
{
    argv_push(b, s, strlen(s), 0);
}

/* Room for len more bytes in the arena (kept), or NULL (failed set). */
static char *argv_room(struct argv_buf *b, size_t len)
{
    if (b->failed)
        return NULL;
    if (b->room - b->used <= len) {
        size_t room = b->room ? b->room : 4096;
        char *a;

        while (room - b->used <= len)
            room *= 2;
        if ((a = realloc(b->arena, room)) == NULL) {
            b->failed = 1;
            return NULL;
        }
        b->arena = a;
        b->room = room;
    }
    return b->arena + b->used;
}

/* The string written at the arena's end (len bytes at p) as the next
 * argument. */
static void argv_take(struct argv_buf *b, char *p, size_t len)
{
    p[len] = '\0';
    argv_push(b, NULL, len, b->used + 1);
    b->used += len + 1;
}

/* The concatenation of n strings as one argument. */
static void argv_cat(struct argv_buf *b, const char *const *parts, size_t n)
{
    size_t len = 0, l;
    char *p;

    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]);
    if ((p = argv_room(b, len)) == NULL)
        return;
    len = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(p + len, parts[i], l = strlen(parts[i]));
        len += l;
    }
    argv_take(b, p, len);
}

/* A customer's key: PREFIX c:{ID}SUFFIX. */
static void argv_key(struct argv_buf *b, const struct store *s, const char *id,
                     const char *suffix)
{
    const char *parts[] = {s->opts.prefix, "c:{", id, "}", suffix};

    argv_cat(b, parts, 5);
}

static void argv_int(struct argv_buf *b, int64_t v)
{
    char *p = argv_room(b, DECIMAL_MAX);

    if (p != NULL)
        argv_take(b, p, decimal_i64(p, v));
}

/* The shortest decimal that reads back as v (what Redis parses a score
 * with gives v exactly). */
static void argv_double(struct argv_buf *b, double v)
{
    char *p = argv_room(b, 32);

    if (p != NULL) {
        numfmt_double(p, 32, v);
        argv_take(b, p, strlen(p));
    }
}

static void argv_fmt(struct argv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void argv_fmt(struct argv_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *p;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((p = argv_room(b, (size_t)n)) == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    argv_take(b, p, (size_t)n);
}

/* Empty the buffer for the next command, keeping its memory. */
static void argv_reset(struct argv_buf *b)
{
    b->n = b->used = 0;
    b->failed = 0;
}

static void argv_free(struct argv_buf *b)
{
    free(b->argv);
    free(b->lens);
    free(b->off);
    free(b->arena);
    memset(b, 0, sizeof(*b));
}

/* Append the command to the connection's output, in the protocol's form
 * (written here: hiredis' own formatting is a tenth of the commit path's
 * CPU).  0, -1 on ENOMEM. */
static int argv_append(struct store *s, struct argv_buf *b)
{
    size_t need = 1 + DECIMAL_MAX + 2;
    char *p;

    if (b->failed)
        return -1;
    for (size_t i = 0; i < b->n; i++)
        need += 1 + DECIMAL_MAX + 2 + b->lens[i] + 2;
    if (need > s->resp_room) {
        char *r = realloc(s->resp, need);

        if (r == NULL)
            return -1;
        s->resp = r;
        s->resp_room = need;
    }
    p = s->resp;
    *p++ = '*';
    p += decimal_i64(p, (int64_t)b->n);
    *p++ = '\r';
    *p++ = '\n';
    for (size_t i = 0; i < b->n; i++) {
        const char *a = b->off[i] != 0 ? b->arena + b->off[i] - 1 : b->argv[i];

        *p++ = '$';
        p += decimal_i64(p, (int64_t)b->lens[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, a, b->lens[i]);
        p += b->lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    return redisAppendFormattedCommand(s->ctx, s->resp, (size_t)(p - s->resp)) == REDIS_OK
               ? 0
               : -1;
}

/* FCALL loyaltyd_commit_4 (store_lib.lua) for one request. */
static void commit_argv(struct argv_buf *b, const struct store *s,
                        const struct store_commit_req *q)
{
    argv_str(b, "FCALL");
    argv_str(b, "loyaltyd_commit_4");
    argv_str(b, "4");
    argv_key(b, s, q->id, "");
    argv_key(b, s, q->id, ":state");
    argv_key(b, s, q->id, ":aux");
    argv_key(b, s, q->id, ":outbox");
    argv_int(b, q->rev);
    if (q->state != NULL)
        argv_push(b, (const char *)q->state, q->state_len, 0);
    else
        argv_str(b, "");
    argv_str(b, q->upgrade ? "1" : "0");
    for (size_t i = 0; q->state && q->summary && i < q->summary->n; i++) {
        argv_str(b, q->summary->v[i].name);
        argv_str(b, q->summary->v[i].value);
    }
}

/* {status, revision} from loyaltyd_commit into q. */
static enum store_commit_result commit_result(struct store *s, const redisReply *r,
                                              struct store_commit_req *q, char *err,
                                              size_t errlen)
{
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
        /* A server without our library (flushed, or a replica promoted before
         * it got it): reconnecting loads it again. */
        if (strstr(r->str, "Function not found") != NULL)
            store_drop(s);
        return STORE_ERROR;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "redis: unexpected reply from loyaltyd_commit");
        return STORE_ERROR;
    }
    /* The new revision, or -1 - the stored one on a conflict. */
    q->new_rev = r->integer >= 0 ? r->integer : -1 - r->integer;
    return r->integer >= 0 ? STORE_APPLIED : STORE_CONFLICT;
}

int store_commit_send(struct store *s, const struct store_commit_req *q, char *err,
                      size_t errlen)
{
    if (!pipe_usable(s, err, errlen))
        return -1;
    argv_reset(&s->argv);
    commit_argv(&s->argv, s, q);
    if (argv_append(s, &s->argv) < 0) {
        snprintf(err, errlen, "out of memory");
        store_abandon(s);
        return -1;
    }
    pipe_sent(s, 1);
    return 0;
}

int store_commit_recv(struct store *s, struct store_commit_req *q, size_t n, char *err,
                      size_t errlen)
{
    redisReply *r;
    char later[256];
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        /* The first error is the one to report: one that drops the
         * connection leaves the rest of the replies unread. */
        char *e = rc < 0 ? later : err;
        size_t elen = rc < 0 ? sizeof(later) : errlen;

        if (pipe_recv(s, &r, 1, e, elen) < 0)
            return -1;
        q[i].res = commit_result(s, r, &q[i], e, elen);
        if (q[i].res == STORE_ERROR)
            rc = -1;
        freeReplyObject(r);
    }
    return rc;
}

/* ---- progress ---- */

int store_progress_get(struct store *s, int32_t task, int64_t next[SRC__COUNT],
                       int64_t *stream_ms, char *err, size_t errlen)
{
    redisReply *r =
        store_cmd(s, err, errlen, "HMGET %st:{%" PRId32 "}:progress %s %s %s stream",
                  s->opts.prefix, task, event_source_name(SRC_ORDERS),
                  event_source_name(SRC_REVIEWS), event_source_name(SRC_MESSAGES));
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == SRC__COUNT + 1) {
        for (int i = 0; i <= SRC__COUNT; i++) {
            int64_t v = r->element[i]->type == REDIS_REPLY_STRING
                            ? strtoll(r->element[i]->str, NULL, 10)
                            : -1;

            if (i < SRC__COUNT)
                next[i] = v;
            else
                *stream_ms = v > 0 ? v : 0;
        }
        rc = 0;
    } else {
        snprintf(err, errlen, "redis: unexpected reply reading the progress of %d",
                 (int)task);
    }
    freeReplyObject(r);
    return rc;
}

int store_progress_put(struct store *s, int32_t task, const int64_t next[SRC__COUNT],
                       int64_t stream_ms, char *err, size_t errlen)
{
    /* -1 (nothing applied from a topic) never raises a field. */
    return store_simple(s, err, errlen,
                        "FCALL loyaltyd_progress_4 1 %st:{%" PRId32
                        "}:progress %s %" PRId64 " %s %" PRId64 " %s %" PRId64
                        " stream %" PRId64,
                        s->opts.prefix, task, event_source_name(SRC_ORDERS),
                        next[SRC_ORDERS], event_source_name(SRC_REVIEWS),
                        next[SRC_REVIEWS], event_source_name(SRC_MESSAGES),
                        next[SRC_MESSAGES], stream_ms > 0 ? stream_ms : -1);
}

/* ---- indices, sweeper, model ---- */

void store_index_scores(const struct customer *c, double score[STORE_IDX__COUNT])
{
    const double v[STORE_IDX__COUNT] = {c->churn_risk, c->loyalty_score, c->clv,
                                        c->spend_365d};

    for (int k = 0; k < STORE_IDX__COUNT; k++)
        score[k] = isfinite(v[k]) ? v[k] : 0.0;
}

/* One ZADD of the scores to index k of the requests that set it; nothing
 * when none does. */
static void index_argv(struct argv_buf *b, const struct store *s, enum store_index_kind k,
                       const struct store_index_req *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(q[i].set & (1u << k)))
            continue;
        if (b->n == 0) {
            argv_str(b, "ZADD");
            argv_fmt(b, "%sidx:%s", s->opts.prefix, index_names[k]);
        }
        argv_double(b, q[i].score[k]);
        argv_str(b, q[i].id);
    }
}

/* One ZADD (or ZREM, for "never due") of the due times in one partition's
 * set; nothing when no request is of that kind. */
static void due_argv(struct argv_buf *b, const struct store *s, int32_t partition,
                     int remove, const struct store_index_req *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(q[i].set & STORE_INDEX_DUE) || q[i].partition != partition ||
            (q[i].due_ms == INT64_MAX) != remove)
            continue;
        if (b->n == 0) {
            argv_str(b, remove ? "ZREM" : "ZADD");
            argv_fmt(b, "%sdue:%" PRId32, s->opts.prefix, partition);
        }
        if (!remove)
            argv_int(b, q[i].due_ms);
        argv_str(b, q[i].id);
    }
}

/* Is the due set of q[i]'s partition written for an earlier request? */
static int seen_partition(const struct store_index_req *q, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if ((q[j].set & STORE_INDEX_DUE) && q[j].partition == q[i].partition)
            return 1;
    return 0;
}

/* Append the command in the buffer, if any, counting it. */
static int index_append(struct store *s, size_t *ncmds)
{
    if (s->argv.n == 0 && !s->argv.failed)
        return 0;
    if (argv_append(s, &s->argv) < 0)
        return -1;
    pipe_sent(s, 1);
    (*ncmds)++;
    return 0;
}

int store_index_send(struct store *s, const struct store_index_req *q, size_t n,
                     size_t *ncmds, char *err, size_t errlen)
{
    int rc = 0;

    *ncmds = 0;
    if (n == 0)
        return 0;
    if (!pipe_usable(s, err, errlen))
        return -1;
    for (int k = 0; k < STORE_IDX__COUNT && rc == 0; k++) {
        if (!(s->opts.indices & (1u << k)))
            continue;
        argv_reset(&s->argv);
        index_argv(&s->argv, s, (enum store_index_kind)k, q, n);
        rc = index_append(s, ncmds);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!(q[i].set & STORE_INDEX_DUE) || seen_partition(q, i))
            continue;
        for (int remove = 0; remove < 2 && rc == 0; remove++) {
            argv_reset(&s->argv);
            due_argv(&s->argv, s, q[i].partition, remove, q, n);
            rc = index_append(s, ncmds);
        }
    }
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        store_abandon(s);
    }
    return rc;
}

int store_index_recv(struct store *s, size_t ncmds, char *err, size_t errlen)
{
    redisReply **r;
    int rc = 0;

    if (ncmds == 0)
        return 0;
    if ((r = replies_new(ncmds, err, errlen)) == NULL) {
        store_abandon(s);
        return -1;
    }
    if (pipe_recv(s, r, ncmds, err, errlen) < 0) {
        free(r);
        return -1;
    }
    for (size_t i = 0; i < ncmds; i++)
        if (r[i]->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis: %s", r[i]->str);
            rc = -1;
        }
    free_replies(r, ncmds);
    free(r);
    return rc;
}

int store_index_many(struct store *s, const struct store_index_req *q, size_t n)
{
    char err[256];
    size_t ncmds;

    if (!store_usable(s, err, sizeof(err)) ||
        store_index_send(s, q, n, &ncmds, err, sizeof(err)) < 0)
        return -1;
    return store_index_recv(s, ncmds, err, sizeof(err));
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

int store_due_overdue(struct store *s, int32_t partition, int64_t now_ms, int64_t *count,
                      int64_t *oldest_ms)
{
    char err[256];
    redisReply *r = store_cmd(s, err, sizeof(err), "ZCOUNT %sdue:%d -inf %" PRId64,
                              s->opts.prefix, (int)partition, now_ms);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *count = r->integer;
        rc = 0;
    }
    freeReplyObject(r);
    *oldest_ms = 0;
    if (rc < 0 || *count == 0)
        return rc;
    r = store_cmd(s, err, sizeof(err), "ZRANGE %sdue:%d 0 0 WITHSCORES", s->opts.prefix,
                  (int)partition);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
        *oldest_ms = (int64_t)strtod(r->element[1]->str, NULL);
    freeReplyObject(r);
    return 0;
}

int store_model_get(struct store *s, struct bg_params *bg, struct gg_params *gg,
                    int64_t *version)
{
    double v[7];
    char err[256];
    redisReply *r =
        store_cmd(s, err, sizeof(err), "HMGET %smodel r alpha a b p q gamma version",
                  s->opts.prefix);
    int rc = -1;

    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 8)
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
    if (version != NULL) /* a fit saved before versions existed: 1 */
        *version = r->element[7]->type == REDIS_REPLY_STRING
                       ? strtoll(r->element[7]->str, NULL, 10)
                       : 1;
    rc = 1;
out:
    freeReplyObject(r);
    return rc;
}

int64_t store_model_put(struct store *s, const struct bg_params *bg,
                        const struct gg_params *gg, const char *meta_json)
{
    static const char script[] = "redis.call('HSET', KEYS[1], unpack(ARGV)) "
                                 "return redis.call('HINCRBY', KEYS[1], 'version', 1)";
    const double v[7] = {bg->r, bg->alpha, bg->a, bg->b, gg->p, gg->q, gg->gamma};
    char err[256], key[STORE_KEY_MAX];
    char vals[7][40];
    redisReply *r;
    int64_t version = -1;

    for (size_t i = 0; i < 7; i++)
        snprintf(vals[i], sizeof(vals[i]), "%.17g", v[i]);
    snprintf(key, sizeof(key), "%smodel", s->opts.prefix);
    r = store_cmd(s, err, sizeof(err),
                  "EVAL %s 1 %s r %s alpha %s a %s b %s p %s q %s gamma %s unit weeks "
                  "meta %s",
                  script, key, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5],
                  vals[6], meta_json ? meta_json : "{}");
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        version = r->integer;
    freeReplyObject(r);
    return version;
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

/* The prefix with Redis's glob characters escaped, then "c:{*}": the keys of
 * the summary hashes only (a packed state's key goes on after the brace). */
static int customer_pattern(const char *prefix, char *out, size_t room)
{
    size_t o = 0;

    for (const char *p = prefix; *p != '\0'; p++) {
        if (o + 2 >= room)
            return -1;
        if (strchr("*?[]\\", *p) != NULL)
            out[o++] = '\\';
        out[o++] = *p;
    }
    if (o + sizeof("c:{*}") > room)
        return -1;
    memcpy(out + o, "c:{*}", sizeof("c:{*}"));
    return 0;
}

/* The customer ids of SCAN's keys "P c:{ID}". */
static int ids_from_keys(const redisReply *keys, size_t plen, char ***ids, size_t *n)
{
    char **v = calloc(keys->elements ? keys->elements : 1, sizeof(*v));
    size_t count = 0;

    if (v == NULL)
        return -1;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];

        if (k->type != REDIS_REPLY_STRING || k->len < plen + 4)
            continue;
        if ((v[count] = strndup(k->str + plen + 3, k->len - plen - 4)) == NULL) {
            store_ids_free(v, count);
            return -1;
        }
        count++;
    }
    *ids = v;
    *n = count;
    return 0;
}

int store_scan_customers(struct store *s, uint64_t *cursor, char ***ids, size_t *n)
{
    char err[256], pattern[2 * STORE_KEY_MAX];
    redisReply *r;
    int rc = -1;

    if (customer_pattern(s->opts.prefix, pattern, sizeof(pattern)) < 0)
        return -1;
    r = store_cmd(s, err, sizeof(err), "SCAN %" PRIu64 " MATCH %s TYPE hash COUNT 1000",
                  *cursor, pattern);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_ARRAY) {
        *cursor = strtoull(r->element[0]->str, NULL, 10);
        rc = ids_from_keys(r->element[1], strlen(s->opts.prefix), ids, n);
    }
    freeReplyObject(r);
    return rc;
}

/* The partition and the model version of n customers, in one round trip. */
static int customer_versions(struct store *s, char *const *ids, size_t n,
                             int32_t *partition, int64_t *version, char *err,
                             size_t errlen)
{
    redisReply **r;
    char key[STORE_KEY_MAX];

    if (n == 0)
        return 0;
    if (!store_usable(s, err, errlen) || !pipe_usable(s, err, errlen) ||
        (r = replies_new(n, err, errlen)) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        key_of(s, key, sizeof(key), ids[i], "");
        redisAppendCommand(s->ctx, "HMGET %s partition model_version", key);
    }
    if (roundtrip(s, r, n, err, errlen) < 0) {
        free(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *p = r[i]->type == REDIS_REPLY_ARRAY && r[i]->elements == 2
                                  ? r[i]->element[0]
                                  : NULL;
        const redisReply *v = p ? r[i]->element[1] : NULL;

        partition[i] = p && p->type == REDIS_REPLY_STRING ? (int32_t)atoi(p->str) : -1;
        version[i] = v && v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;
    }
    free_replies(r, n);
    free(r);
    return 0;
}

int store_scan_versions(struct store *s, uint64_t *cursor, char ***ids,
                        int32_t **partition, int64_t **version, size_t *n, char *err,
                        size_t errlen)
{
    uint64_t next = *cursor;

    *partition = NULL;
    *version = NULL;
    if (store_scan_customers(s, &next, ids, n) < 0) {
        snprintf(err, errlen, "redis: cannot list customers");
        return -1;
    }
    *partition = malloc((*n ? *n : 1) * sizeof(**partition));
    *version = malloc((*n ? *n : 1) * sizeof(**version));
    if (*partition == NULL || *version == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (customer_versions(s, *ids, *n, *partition, *version, err, errlen) < 0)
        goto fail;
    *cursor = next;
    return 0;
fail:
    store_ids_free(*ids, *n);
    free(*partition);
    free(*version);
    *ids = NULL;
    *partition = NULL;
    *version = NULL;
    *n = 0;
    return -1;
}

int store_summary(struct store *s, const char *id, struct kvlist *fields)
{
    char err[256], key[STORE_KEY_MAX];
    redisReply *r;
    int rc = -1;

    key_of(s, key, sizeof(key), id, "");
    if ((r = store_cmd(s, err, sizeof(err), "HGETALL %s", key)) == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && reply_to_kvlist(r, fields) == 0)
        rc = 0;
    freeReplyObject(r);
    return rc;
}

/* One command with an integer reply, added to *sum; 0, or -1. */
static int store_count_cmd(struct store *s, long long *sum, const char *fmt, ...)
{
    char err[256];
    redisReply *r;
    va_list ap;
    int rc = -1;

    va_start(ap, fmt);
    r = store_vcmd(s, err, sizeof(err), fmt, ap);
    va_end(ap);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *sum += r->integer;
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

long long store_delete_customer(struct store *s, const char *id)
{
    const char *p = s->opts.prefix;
    long long removed = 0;
    char err[256];
    redisReply *r;
    int rc = 0;

    /* The due set is the one of the customer's partition. */
    r = store_cmd(s, err, sizeof(err), "HGET %sc:{%s} partition", p, id);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        rc |= store_count_cmd(s, &removed, "ZREM %sdue:%s %s", p, r->str, id);
    freeReplyObject(r);
    rc |= store_count_cmd(s, &removed,
                          "DEL %sc:{%s} %sc:{%s}:state %sc:{%s}:aux %sc:{%s}:outbox", p,
                          id, p, id, p, id, p, id);
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc |= store_count_cmd(s, &removed, "ZREM %sidx:%s %s", p, index_names[i], id);
    return rc ? -1 : removed;
}

int store_index_count(struct store *s, enum store_index_kind k, long long *n)
{
    *n = 0;
    return store_count_cmd(s, n, "ZCARD %sidx:%s", s->opts.prefix, index_names[k]);
}

int store_indices_prune(struct store *s)
{
    long long deleted = 0;

    for (int k = 0; k < STORE_IDX__COUNT; k++)
        if (!(s->opts.indices & (1u << k)) &&
            store_count_cmd(s, &deleted, "UNLINK %sidx:%s", s->opts.prefix,
                            index_names[k]) < 0)
            return -1;
    return (int)deleted;
}
