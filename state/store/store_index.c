/*
 * store_index.c - the operators' indices (zsets of customer ids by score)
 * and the sweeper's due sets (one per partition, customer -> due time).
 */
#include "state/store/store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/names.h"

const char *const store_index_names[STORE_IDX__COUNT] = {
    [STORE_IDX_RISK] = "risk",
    [STORE_IDX_LOYALTY] = "loyalty",
    [STORE_IDX_CLV] = "clv",
    [STORE_IDX_VALUE] = "value",
};

const char *store_index_name(enum store_index_kind k)
{
    return names_get(store_index_names, STORE_IDX__COUNT, (int)k);
}

int store_index_parse(const char *name, size_t n)
{
    return names_lookup(store_index_names, STORE_IDX__COUNT, name, n);
}

void store_index_scores(const struct customer *c, double score[STORE_IDX__COUNT])
{
    const double v[STORE_IDX__COUNT] = {c->churn_risk, c->loyalty_score, c->clv,
                                        c->spend_365d};

    for (int k = 0; k < STORE_IDX__COUNT; k++) {
        score[k] = isfinite(v[k]) ? v[k] : 0.0;
    }
}

/* One ZADD of the scores to index k of the requests that set it; nothing
 * when none does. */
static void index_argv(struct argv_buf *b, const struct store *s, enum store_index_kind k,
                       const struct store_index_req *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(q[i].set & (1u << k))) {
            continue;
        }
        if (b->n == 0) {
            store_argv_str(b, "ZADD");
            store_argv_fmt(b, "%sidx:%s", s->opts.prefix, store_index_names[k]);
        }
        store_argv_double(b, q[i].score[k]);
        store_argv_str(b, q[i].id);
    }
}

/* One ZADD (or ZREM, for "never due") of the due times in one partition's
 * set; nothing when no request is of that kind. */
static void due_argv(struct argv_buf *b, const struct store *s, int32_t partition,
                     int remove, const struct store_index_req *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(q[i].set & STORE_INDEX_DUE) || q[i].partition != partition ||
            (q[i].due_ms == INT64_MAX) != remove) {
            continue;
        }
        if (b->n == 0) {
            store_argv_str(b, remove ? "ZREM" : "ZADD");
            store_argv_fmt(b, "%sdue:%" PRId32, s->opts.prefix, partition);
        }
        if (!remove) {
            store_argv_int(b, q[i].due_ms);
        }
        store_argv_str(b, q[i].id);
    }
}

/* Is the due set of q[i]'s partition written for an earlier request? */
static int seen_partition(const struct store_index_req *q, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if ((q[j].set & STORE_INDEX_DUE) && q[j].partition == q[i].partition) {
            return 1;
        }
    }
    return 0;
}

/* Append the command in the buffer, if any, counting it. */
static int index_append(struct store *s, size_t *ncmds)
{
    if (s->argv.n == 0 && !s->argv.failed) {
        return 0;
    }
    if (store_argv_append(s, &s->argv) < 0) {
        return -1;
    }
    store_pipe_sent(s, 1);
    (*ncmds)++;
    return 0;
}

int store_index_send(struct store *s, const struct store_index_req *q, size_t n,
                     size_t *ncmds, char *err, size_t errlen)
{
    int rc = 0;

    *ncmds = 0;
    if (n == 0) {
        return 0;
    }
    if (!store_pipe_usable(s, err, errlen)) {
        return -1;
    }
    for (int k = 0; k < STORE_IDX__COUNT && rc == 0; k++) {
        if (!(s->opts.indices & (1u << k))) {
            continue;
        }
        store_argv_reset(&s->argv);
        index_argv(&s->argv, s, (enum store_index_kind)k, q, n);
        rc = index_append(s, ncmds);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!(q[i].set & STORE_INDEX_DUE) || seen_partition(q, i)) {
            continue;
        }
        for (int remove = 0; remove < 2 && rc == 0; remove++) {
            store_argv_reset(&s->argv);
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

    if (ncmds == 0) {
        return 0;
    }
    if ((r = store_replies_new(ncmds, err, errlen)) == NULL) {
        store_abandon(s);
        return -1;
    }
    if (store_pipe_recv(s, r, ncmds, err, errlen) < 0) {
        free(r);
        return -1;
    }
    for (size_t i = 0; i < ncmds; i++) {
        if (r[i]->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis: %s", r[i]->str);
            rc = -1;
        }
    }
    store_free_replies(r, ncmds);
    free(r);
    return rc;
}

int store_index_many(struct store *s, const struct store_index_req *q, size_t n)
{
    char err[256];
    size_t ncmds;

    if (!store_usable(s, err, sizeof(err)) ||
        store_index_send(s, q, n, &ncmds, err, sizeof(err)) < 0) {
        return -1;
    }
    return store_index_recv(s, ncmds, err, sizeof(err));
}

int store_due(struct store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
              size_t *n)
{
    char err[256];
    redisReply *r = store_cmd(
        s, err, sizeof(err), "ZRANGE %sdue:%d -inf %" PRId64 " BYSCORE LIMIT 0 %llu",
        s->opts.prefix, (int)partition, now_ms, (unsigned long long)max);
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY) {
        rc = store_ids_from_reply(r, 1, ids, n);
    }
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

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        *count = r->integer;
        rc = 0;
    }
    freeReplyObject(r);
    *oldest_ms = 0;
    if (rc < 0 || *count == 0) {
        return rc;
    }
    r = store_cmd(s, err, sizeof(err), "ZRANGE %sdue:%d 0 0 WITHSCORES", s->opts.prefix,
                  (int)partition);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        *oldest_ms = (int64_t)strtod(r->element[1]->str, NULL);
    }
    freeReplyObject(r);
    return 0;
}

int store_due_forget(struct store *s, int32_t partition, const char *id)
{
    long long removed = 0;

    return store_count_cmd(s, &removed, "ZREM %sdue:%" PRId32 " %s", s->opts.prefix,
                           partition, id);
}
