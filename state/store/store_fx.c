/*
 * store_fx.c - exchange rates in Redis: the import (checked under WATCH,
 * written in one MULTI/EXEC) and the load into a table (see store_fx.h).
 */
#include "state/store/store_fx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/currency.h"
#include "state/store/store_int.h"

/* Day and rate pairs per HSET: a long history goes in several. */
#define HSET_PAIRS 1000
/* Reads of all rates tried again while imports keep moving the version. */
#define LOAD_TRIES 5

/* The quotes of one currency: q->q.v[from .. to - 1]. */
struct group {
    size_t from, to;
    size_t writes; /* of them, to be written */
};

static void fx_key(const struct store *s, char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "%s{fx}:%s", s->opts.prefix, what);
}

/* An error reply as err: -1. */
static int reply_error(const redisReply *r, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "redis: %s: %s", what,
             r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return -1;
}

/* A reply that is an integer or a decimal string (GET of a counter), or
 * nil (0): 0, -1. */
static int reply_int(const redisReply *r, int64_t *v)
{
    char *end;

    if (r->type == REDIS_REPLY_NIL) {
        *v = 0;
        return 0;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *v = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0) {
        return -1;
    }
    *v = strtoll(r->str, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* Whether the stored value (a string reply, or nil) is q's rate: 1 yes, 0
 * nothing stored, -1 another (or no rate at all). */
static int compare_stored(const redisReply *v, const struct fx_quote *q)
{
    struct fx_rate stored;
    const char *why;

    if (v->type == REDIS_REPLY_NIL) {
        return 0;
    }
    if (v->type == REDIS_REPLY_STRING &&
        fx_rate_parse(v->str, v->len, &stored, &why) == 0 &&
        fx_rate_eq(&stored, &q->rate)) {
        return 1;
    }
    return -1;
}

/* Forget the WATCH (the import ends without writing). */
static void unwatch(struct store *s)
{
    char err[128];

    (void)store_simple(s, err, sizeof(err), "UNWATCH");
}

static int sorted_once(const struct fx_quotes *q)
{
    for (size_t i = 1; i < q->q.n; i++) {
        int c = strcmp(q->q.v[i - 1].code, q->q.v[i].code);

        if (c > 0 || (c == 0 && q->q.v[i - 1].day >= q->q.v[i].day)) {
            return 0;
        }
    }
    return 1;
}

/* The currencies of q, in order. */
static struct group *groups_of(const struct fx_quotes *q, size_t *ng)
{
    struct group *g = calloc(q->q.n ? q->q.n : 1, sizeof(*g));
    size_t n = 0;

    if (g == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < q->q.n; i++) {
        if (i == 0 || strcmp(q->q.v[i - 1].code, q->q.v[i].code) != 0) {
            g[n++].from = i;
        }
        g[n - 1].to = i + 1;
    }
    *ng = n;
    return g;
}

/* Phase one: WATCH every key the import writes, then read the base, the
 * version, the set's type and each currency's stored rates of q's days.
 * 3 + 1 + ng commands. */
static int send_reads(struct store *s, const struct fx_quotes *q, const struct group *g,
                      size_t ng)
{
    struct argv_buf *b = &s->argv;
    char key[STORE_KEY_MAX];

    store_argv_reset(b);
    store_argv_str(b, "WATCH");
    store_argv_fmt(b, "%s{fx}:base", s->opts.prefix);
    store_argv_fmt(b, "%s{fx}:version", s->opts.prefix);
    store_argv_fmt(b, "%s{fx}:currencies", s->opts.prefix);
    for (size_t i = 0; i < ng; i++) {
        store_argv_fmt(b, "%s{fx}:%s", s->opts.prefix, q->q.v[g[i].from].code);
    }
    if (store_argv_append(s, b) < 0) {
        return -1;
    }
    fx_key(s, key, sizeof(key), "base");
    if (store_sendf(s, "GET %s", key) < 0) {
        return -1;
    }
    fx_key(s, key, sizeof(key), "version");
    if (store_sendf(s, "GET %s", key) < 0) {
        return -1;
    }
    fx_key(s, key, sizeof(key), "currencies");
    if (store_sendf(s, "TYPE %s", key) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ng; i++) {
        store_argv_reset(b);
        store_argv_str(b, "HMGET");
        store_argv_fmt(b, "%s{fx}:%s", s->opts.prefix, q->q.v[g[i].from].code);
        for (size_t k = g[i].from; k < g[i].to; k++) {
            char day[FX_DAY_TEXT];

            fx_day_format(q->q.v[k].day, day);
            store_argv_fmt(b, "%s", day);
        }
        if (store_argv_append(s, b) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Phase two: the writes of every quote marked in `write`, the set, the
 * base and the version, in one transaction.  Returns the number of
 * commands appended, or -1. */
static long send_writes(struct store *s, const struct fx_quotes *q, const struct group *g,
                        size_t ng, const unsigned char *write)
{
    struct argv_buf *b = &s->argv;
    char key[STORE_KEY_MAX];
    long ncmds = 0;

    if (store_sendf(s, "MULTI") < 0) {
        return -1;
    }
    ncmds++;
    for (size_t i = 0; i < ng; i++) {
        size_t pairs = 0;

        for (size_t k = g[i].from; k < g[i].to; k++) {
            char day[FX_DAY_TEXT], rate[FX_RATE_TEXT_MAX];

            if (!write[k]) {
                continue;
            }
            if (pairs == 0) {
                store_argv_reset(b);
                store_argv_str(b, "HSET");
                store_argv_fmt(b, "%s{fx}:%s", s->opts.prefix, q->q.v[k].code);
            }
            fx_day_format(q->q.v[k].day, day);
            if (fx_rate_format(&q->q.v[k].rate, rate, sizeof(rate)) < 0) {
                return -1;
            }
            store_argv_fmt(b, "%s", day);
            store_argv_fmt(b, "%s", rate);
            if (++pairs == HSET_PAIRS || k + 1 == g[i].to) {
                if (store_argv_append(s, b) < 0) {
                    return -1;
                }
                ncmds++;
                pairs = 0;
            }
        }
        if (pairs > 0) { /* the group's last quote was not written */
            if (store_argv_append(s, b) < 0) {
                return -1;
            }
            ncmds++;
        }
    }
    store_argv_reset(b);
    store_argv_str(b, "SADD");
    store_argv_fmt(b, "%s{fx}:currencies", s->opts.prefix);
    for (size_t i = 0; i < ng; i++) {
        if (g[i].writes > 0) {
            store_argv_str(b, q->q.v[g[i].from].code);
        }
    }
    if (b->n > 2) { /* a currency written */
        if (store_argv_append(s, b) < 0) {
            return -1;
        }
        ncmds++;
    }
    fx_key(s, key, sizeof(key), "base");
    if (store_sendf(s, "SET %s %s", key, q->base) < 0) {
        return -1;
    }
    fx_key(s, key, sizeof(key), "version");
    if (store_sendf(s, "INCR %s", key) < 0) {
        return -1;
    }
    if (store_sendf(s, "EXEC") < 0) {
        return -1;
    }
    return ncmds + 3;
}

/* Phase one's replies: the stored base and version, and which quotes are
 * to be written.  0 (res filled), or -1 with err. */
static int judge(struct store *s, const struct fx_quotes *q, struct group *g, size_t ng,
                 redisReply **r, int replace, unsigned char *write,
                 struct store_fx_result *res, char *err, size_t errlen)
{
    char key[STORE_KEY_MAX];

    if (r[0]->type == REDIS_REPLY_ERROR) {
        return reply_error(r[0], "WATCH", err, errlen);
    }
    if (r[1]->type == REDIS_REPLY_STRING) {
        snprintf(res->stored_base, sizeof(res->stored_base), "%s", r[1]->str);
    } else if (r[1]->type != REDIS_REPLY_NIL) {
        fx_key(s, key, sizeof(key), "base");
        return reply_error(r[1], key, err, errlen);
    }
    if (reply_int(r[2], &res->version) < 0) {
        fx_key(s, key, sizeof(key), "version");
        if (r[2]->type == REDIS_REPLY_ERROR) {
            return reply_error(r[2], key, err, errlen);
        }
        snprintf(err, errlen, "redis: %s is not an integer", key);
        return -1;
    }
    if (r[3]->type != REDIS_REPLY_STATUS ||
        (strcmp(r[3]->str, "set") != 0 && strcmp(r[3]->str, "none") != 0)) {
        fx_key(s, key, sizeof(key), "currencies");
        snprintf(err, errlen, "redis: %s is not a set", key);
        return -1;
    }
    for (size_t i = 0; i < ng; i++) {
        const redisReply *h = r[4 + i];
        size_t n = g[i].to - g[i].from;

        fx_key(s, key, sizeof(key), q->q.v[g[i].from].code);
        if (h->type != REDIS_REPLY_ARRAY || h->elements != n) {
            return reply_error(h, key, err, errlen);
        }
        for (size_t k = 0; k < n; k++) {
            size_t at = g[i].from + k;
            int same = compare_stored(h->element[k], &q->q.v[at]);

            if (same == 0) {
                res->added++;
                write[at] = 1;
            } else if (same > 0) {
                res->unchanged++;
            } else {
                if (res->conflicts++ == 0 ||
                    q->q.v[at].line < q->q.v[res->first_conflict].line) {
                    const redisReply *v = h->element[k];

                    res->first_conflict = at;
                    snprintf(res->stored, sizeof(res->stored), "%.*s",
                             v->type == REDIS_REPLY_STRING ? (int)v->len : 1,
                             v->type == REDIS_REPLY_STRING ? v->str : "?");
                }
                if (replace) {
                    res->replaced++;
                    write[at] = 1;
                }
            }
            g[i].writes += write[at] ? 1 : 0; /* counted once per quote */
        }
    }
    return 0;
}

int store_fx_import(struct store *s, const struct fx_quotes *q, int replace,
                    struct store_fx_result *res, char *err, size_t errlen)
{
    struct group *g = NULL;
    unsigned char *write = NULL;
    redisReply **r = NULL;
    size_t ng = 0, nr = 0;
    long nw;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    if (q->q.n == 0 || !sorted_once(q) || currency_exponent(q->base) < 0) {
        snprintf(err, errlen, "no quotes, or not sorted by currency and day");
        return -1;
    }
    if (!store_usable(s, err, errlen) || !store_pipe_usable(s, err, errlen)) {
        return -1;
    }
    if ((g = groups_of(q, &ng)) == NULL || (write = calloc(q->q.n, 1)) == NULL ||
        (r = store_replies_new(4 + ng, err, errlen)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    nr = 4 + ng;
    if (send_reads(s, q, g, ng) < 0) {
        snprintf(err, errlen, "out of memory");
        store_drop(s); /* some commands may be in its buffer */
        goto out;
    }
    if (store_roundtrip(s, r, nr, err, errlen) < 0) {
        nr = 0;
        goto out;
    }
    if (judge(s, q, g, ng, r, replace, write, res, err, errlen) < 0) {
        unwatch(s);
        goto out;
    }
    if (res->stored_base[0] && strcmp(res->stored_base, q->base) != 0) {
        unwatch(s);
        rc = STORE_FX_OTHER_BASE;
        goto out;
    }
    if (res->conflicts > 0 && !replace) {
        res->replaced = 0;
        unwatch(s);
        rc = STORE_FX_CONFLICT;
        goto out;
    }
    if (res->added + res->replaced == 0 && res->stored_base[0]) {
        unwatch(s);
        rc = STORE_FX_IMPORTED; /* nothing new */
        goto out;
    }
    store_free_replies(r, nr);
    free(r);
    nr = 0;
    if ((nw = send_writes(s, q, g, ng, write)) < 0) {
        snprintf(err, errlen, "out of memory");
        store_drop(s);
        r = NULL;
        goto out;
    }
    if ((r = store_replies_new((size_t)nw, err, errlen)) == NULL) {
        store_drop(s);
        goto out;
    }
    if (store_roundtrip(s, r, (size_t)nw, err, errlen) < 0) {
        goto out;
    }
    nr = (size_t)nw;
    {
        const redisReply *x = r[nr - 1];

        if (x->type == REDIS_REPLY_NIL) {
            rc = STORE_FX_RACED; /* a WATCHed key changed: nothing written */
            goto out;
        }
        if (x->type != REDIS_REPLY_ARRAY || x->elements != nr - 2) {
            for (size_t i = 0; i + 1 < nr; i++) {
                if (r[i]->type == REDIS_REPLY_ERROR) {
                    reply_error(r[i], "import", err, errlen);
                    goto out;
                }
            }
            reply_error(x, "EXEC", err, errlen);
            goto out;
        }
        for (size_t i = 0; i < x->elements; i++) {
            if (x->element[i]->type == REDIS_REPLY_ERROR) {
                reply_error(x->element[i], "import (applied in part)", err, errlen);
                goto out;
            }
        }
        if (reply_int(x->element[x->elements - 1], &res->version) < 0) {
            reply_error(x->element[x->elements - 1], "INCR", err, errlen);
            goto out;
        }
    }
    rc = STORE_FX_IMPORTED;
out:
    if (r != NULL) {
        store_free_replies(r, nr);
        free(r);
    }
    free(write);
    free(g);
    return rc;
}

int store_fx_version(struct store *s, int64_t *version, char *err, size_t errlen)
{
    char key[STORE_KEY_MAX];
    redisReply *r;
    int rc = -1;

    fx_key(s, key, sizeof(key), "version");
    if ((r = store_cmd(s, err, errlen, "GET %s", key)) == NULL) {
        return -1;
    }
    if (reply_int(r, version) == 0) {
        rc = 0;
    } else {
        reply_error(r, key, err, errlen);
    }
    freeReplyObject(r);
    return rc;
}

/* One currency's hash into t. */
static int load_hash(struct store *s, struct fx_table *t, const char *code,
                     const redisReply *h, char *err, size_t errlen)
{
    char key[STORE_KEY_MAX];

    fx_key(s, key, sizeof(key), code);
    if (strlen(code) != 3 || currency_exponent(code) < 0) {
        snprintf(err, errlen, "redis: %s: not an active ISO 4217 currency", key);
        return -1;
    }
    if (h->type != REDIS_REPLY_ARRAY || h->elements % 2 != 0) {
        return reply_error(h, key, err, errlen);
    }
    for (size_t i = 0; i < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        struct fx_rate rate;
        const char *why = "not a string";
        int32_t day;

        if (f->type != REDIS_REPLY_STRING || fx_day_parse(f->str, f->len, &day) < 0) {
            snprintf(err, errlen, "redis: %s: field '%.*s' is not a date (YYYY-MM-DD)",
                     key, f->type == REDIS_REPLY_STRING ? (int)f->len : 0,
                     f->type == REDIS_REPLY_STRING ? f->str : "");
            return -1;
        }
        if (v->type != REDIS_REPLY_STRING ||
            fx_rate_parse(v->str, v->len, &rate, &why) < 0) {
            snprintf(err, errlen, "redis: %s: %.*s: not a rate: %s", key, (int)f->len,
                     f->str, why);
            return -1;
        }
        if (fx_table_add(t, code, day, &rate) != FX_OK) {
            snprintf(err, errlen,
                     "%s: %s cannot be quoted against itself, or out of memory", key,
                     code);
            return -1;
        }
    }
    return 0;
}

/* CMD P {fx}:WHAT appended: 0, -1. */
static int append_get(struct store *s, const char *cmd, const char *what)
{
    char key[STORE_KEY_MAX];

    fx_key(s, key, sizeof(key), what);
    return store_sendf(s, "%s %s", cmd, key);
}

/* One try: 1, 0 (nothing stored), -1, or 2 when the version moved. */
static int load_once(struct store *s, struct fx_table *t, int64_t *version, char *err,
                     size_t errlen)
{
    char key[STORE_KEY_MAX], base[4] = "EUR";
    redisReply *head[3] = {NULL, NULL, NULL}, **r = NULL;
    const redisReply *set;
    size_t n = 0;
    int64_t after;
    int rc = -1;

    fx_table_init(t, base);
    if (append_get(s, "GET", "version") < 0 || append_get(s, "GET", "base") < 0 ||
        append_get(s, "SMEMBERS", "currencies") < 0) {
        snprintf(err, errlen, "out of memory");
        store_drop(s);
        return -1;
    }
    if (store_roundtrip(s, head, 3, err, errlen) < 0) {
        return -1;
    }
    set = head[2];
    if (reply_int(head[0], version) < 0) {
        fx_key(s, key, sizeof(key), "version");
        reply_error(head[0], key, err, errlen);
        goto out;
    }
    if (set->type != REDIS_REPLY_ARRAY) {
        fx_key(s, key, sizeof(key), "currencies");
        reply_error(set, key, err, errlen);
        goto out;
    }
    if (head[1]->type == REDIS_REPLY_NIL) {
        if (set->elements == 0) {
            rc = 0;
        } else {
            fx_key(s, key, sizeof(key), "base");
            snprintf(err, errlen, "redis: %s is missing while rates are stored", key);
        }
        goto out;
    }
    if (head[1]->type != REDIS_REPLY_STRING || head[1]->len != 3 ||
        currency_exponent(head[1]->str) < 0) {
        fx_key(s, key, sizeof(key), "base");
        snprintf(err, errlen, "redis: %s is not a currency code", key);
        goto out;
    }
    fx_table_init(t, head[1]->str);
    n = set->elements;
    if ((r = store_replies_new(n + 1, err, errlen)) == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n && rc == -1; i++) {
        const redisReply *c = set->element[i];

        if (append_get(s, "HGETALL", c->type == REDIS_REPLY_STRING ? c->str : "?") < 0) {
            rc = -2;
        }
    }
    if (rc == -2 || append_get(s, "GET", "version") < 0) {
        snprintf(err, errlen, "out of memory");
        store_drop(s);
        rc = -1;
        goto out;
    }
    if (store_roundtrip(s, r, n + 1, err, errlen) < 0) {
        free(r);
        r = NULL;
        goto out;
    }
    if (reply_int(r[n], &after) < 0 || after != *version) {
        rc = 2;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *c = set->element[i];

        if (load_hash(s, t, c->type == REDIS_REPLY_STRING ? c->str : "?", r[i], err,
                      errlen) < 0) {
            goto out;
        }
    }
    rc = fx_table_sort(t, err, errlen) < 0 ? -1 : 1;
out:
    if (r != NULL) {
        store_free_replies(r, n + 1);
        free(r);
    }
    store_free_replies(head, 3);
    if (rc != 1) {
        fx_table_free(t);
        fx_table_init(t, base);
    }
    return rc;
}

int store_fx_load(struct store *s, struct fx_table *t, int64_t *version, char *err,
                  size_t errlen)
{
    if (!store_usable(s, err, errlen) || !store_pipe_usable(s, err, errlen)) {
        fx_table_init(t, "EUR");
        return -1;
    }
    for (int i = 0; i < LOAD_TRIES; i++) {
        int rc = load_once(s, t, version, err, errlen);

        if (rc != 2) {
            return rc;
        }
    }
    snprintf(err, errlen, "redis: the rates changed at every one of %d reads",
             LOAD_TRIES);
    return -1;
}
