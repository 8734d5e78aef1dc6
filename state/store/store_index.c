/*
 * store_index.c - the operators' indices (zsets of customer ids by score)
 * and the sweeper's due sets (customer -> due time), one of each per task
 * ("P t:{N}:idx:KIND", "P t:{N}:due"), and the migration of the release
 * before's keys to them.
 */
#include "state/store/store_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Task `partition`'s key SUFFIX as the next argument. */
static void task_key_arg(struct argv_buf *b, const struct store *s, int32_t partition,
                         const char *suffix)
{
    store_argv_fmt(b, "%st:{%" PRId32 "}:%s", s->opts.prefix, partition, suffix);
}

void store_index_argv(struct argv_buf *b, const struct store *s, enum store_index_kind k,
                      int32_t partition, const struct store_index_req *q, size_t n)
{
    char suffix[32];

    for (size_t i = 0; i < n; i++) {
        if (!(q[i].set & (1u << k)) || q[i].partition != partition) {
            continue;
        }
        if (b->n == 0) {
            snprintf(suffix, sizeof(suffix), "idx:%s", store_index_names[k]);
            store_argv_str(b, "ZADD");
            task_key_arg(b, s, partition, suffix);
        }
        store_argv_double(b, q[i].score[k]);
        store_argv_str(b, q[i].id);
    }
}

void store_due_argv(struct argv_buf *b, const struct store *s, int32_t partition,
                    int remove, const struct store_index_req *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(q[i].set & STORE_INDEX_DUE) || q[i].partition != partition ||
            (q[i].due_ms == INT64_MAX) != remove) {
            continue;
        }
        if (b->n == 0) {
            store_argv_str(b, remove ? "ZREM" : "ZADD");
            task_key_arg(b, s, partition, "due");
        }
        if (!remove) {
            store_argv_int(b, q[i].due_ms);
        }
        store_argv_str(b, q[i].id);
    }
}

/* Are the keys of q[i]'s task written for an earlier request? */
static int seen_partition(const struct store_index_req *q, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (q[j].set != 0 && q[j].partition == q[i].partition) {
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

/* Every key of a task is written by one command at most (a batch is mostly
 * one task's customers, so a few commands in all). */
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
    for (size_t i = 0; i < n && rc == 0; i++) {
        int32_t p = q[i].partition;

        if (q[i].set == 0 || seen_partition(q, i)) {
            continue;
        }
        for (int k = 0; k < STORE_IDX__COUNT && rc == 0; k++) {
            if (!(s->opts.indices & (1u << k))) {
                continue;
            }
            store_argv_reset(&s->argv);
            store_index_argv(&s->argv, s, (enum store_index_kind)k, p, q, n);
            rc = index_append(s, ncmds);
        }
        for (int remove = 0; remove < 2 && rc == 0; remove++) {
            store_argv_reset(&s->argv);
            store_due_argv(&s->argv, s, p, remove, q, n);
            rc = index_append(s, ncmds);
        }
    }
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        store_abandon(s);
    }
    return rc;
}

/* The replies of n commands sent: 0, or -1 with err when one is an error
 * (or, with integers, anything but an integer). */
static int recv_checked(struct store *s, size_t n, int integers, char *err, size_t errlen)
{
    redisReply **r;
    int rc = 0;

    if (n == 0) {
        return 0;
    }
    if ((r = store_replies_new(n, err, errlen)) == NULL) {
        store_abandon(s);
        return -1;
    }
    if (store_pipe_recv(s, r, n, err, errlen) < 0) {
        free(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i]->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis: %s", r[i]->str);
            rc = -1;
        } else if (integers && r[i]->type != REDIS_REPLY_INTEGER) {
            snprintf(err, errlen, "redis: unexpected reply");
            rc = -1;
        }
    }
    store_free_replies(r, n);
    free(r);
    return rc;
}

int store_index_recv(struct store *s, size_t ncmds, char *err, size_t errlen)
{
    return recv_checked(s, ncmds, 0, err, errlen);
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
        s, err, sizeof(err), "ZRANGE %st:{%d}:due -inf %" PRId64 " BYSCORE LIMIT 0 %llu",
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
    redisReply *r = store_cmd(s, err, sizeof(err), "ZCOUNT %st:{%d}:due -inf %" PRId64,
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
    r = store_cmd(s, err, sizeof(err), "ZRANGE %st:{%d}:due 0 0 WITHSCORES",
                  s->opts.prefix, (int)partition);
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

    return store_count_cmd(s, &removed, "ZREM %st:{%" PRId32 "}:due %s", s->opts.prefix,
                           partition, id);
}

/* ---- the keys of the release before ------------------------------------------- */

/* Old members read, and new entries written, this many at a time. */
#define MIGRATE_CHUNK 1000

/* Members with their scores, by rank from `at`, of the old key (an array
 * reply of member, score pairs: empty at the end).  NULL with err. */
static redisReply *old_chunk(struct store *s, const char *key, long long at, char *err,
                             size_t errlen)
{
    redisReply *r = store_cmd(s, err, errlen, "ZRANGE %s %lld %lld WITHSCORES", key, at,
                              at + MIGRATE_CHUNK - 1);

    if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)) {
        snprintf(err, errlen, "redis: unexpected reply reading %s%s%s", key,
                 r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* The replies of the `sent` commands appended, each an integer: 0, -1 with
 * err. */
static int recv_counts(struct store *s, size_t sent, char *err, size_t errlen)
{
    if (sent == 0) {
        return 0;
    }
    store_pipe_sent(s, sent);
    return recv_checked(s, sent, 1, err, errlen);
}

/* Append the command in the store's argv buffer; 0, -1 with err. */
static int append_argv(struct store *s, char *err, size_t errlen)
{
    if (store_argv_append(s, &s->argv) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int unlink_old(struct store *s, const char *key, struct store_migration *m,
                      char *err, size_t errlen)
{
    long long n = 0;

    if (store_count_cmd(s, &n, "UNLINK %s", key) < 0) {
        snprintf(err, errlen, "redis: cannot delete %s: %s", key, store_last_error(s));
        return -1;
    }
    m->keys += n;
    return 0;
}

/* "P due:N" into "P t:{N}:due": each due time unless the new set has an
 * earlier one (a timer looked at early is evaluated and filed again; one
 * looked at late is a late event), then the old key deleted. */
static int migrate_due(struct store *s, int32_t task, struct store_migration *m,
                       char *err, size_t errlen)
{
    char old[STORE_KEY_MAX], key[STORE_KEY_MAX];

    snprintf(old, sizeof(old), "%sdue:%" PRId32, s->opts.prefix, task);
    store_task_key(key, sizeof(key), s->opts.prefix, task, "due");
    for (long long at = 0;; at += MIGRATE_CHUNK) {
        redisReply *r = old_chunk(s, old, at, err, errlen);
        size_t n;
        int rc;

        if (r == NULL) {
            return -1;
        }
        n = r->elements / 2;
        store_argv_reset(&s->argv);
        store_argv_str(&s->argv, "ZADD");
        store_argv_str(&s->argv, key);
        store_argv_str(&s->argv, "LT");
        for (size_t i = 0; i < n; i++) {
            const redisReply *id = r->element[2 * i], *score = r->element[2 * i + 1];

            store_argv_push(&s->argv, score->str, score->len, 0);
            store_argv_push(&s->argv, id->str, id->len, 0);
        }
        rc = n == 0 ? 0 : append_argv(s, err, errlen);
        if (rc == 0) {
            rc = recv_counts(s, n > 0, err, errlen);
        }
        freeReplyObject(r);
        if (rc < 0) {
            return -1;
        }
        m->due += (long long)n;
        if (n < MIGRATE_CHUNK) {
            break;
        }
    }
    return unlink_old(s, old, m, err, errlen);
}

/* The partitions of n customers (-1: not stored), one round trip. */
static int partitions_of(struct store *s, redisReply *const *ids, size_t n, int32_t *part,
                         char *err, size_t errlen)
{
    redisReply **r;

    if (n == 0) {
        return 0;
    }
    if ((r = store_replies_new(n, err, errlen)) == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        store_sendf(s, "HGET %sc:{%b} partition", s->opts.prefix, ids[i]->str,
                    ids[i]->len);
    }
    if (store_roundtrip(s, r, n, err, errlen) < 0) {
        free(r);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        part[i] = r[i]->type == REDIS_REPLY_STRING ? (int32_t)atoi(r[i]->str) : -1;
    }
    store_free_replies(r, n);
    free(r);
    return 0;
}

/* One chunk of "P idx:KIND" (pairs of member and score) into the tasks'
 * indices: one ZADD NX per task (an entry written since by this release is
 * newer and kept). */
static int migrate_index_chunk(struct store *s, enum store_index_kind k,
                               const redisReply *r, struct store_migration *m, char *err,
                               size_t errlen)
{
    size_t n = r->elements / 2, sent = 0;
    redisReply *ids[MIGRATE_CHUNK];
    int32_t part[MIGRATE_CHUNK];
    char key[STORE_KEY_MAX], suffix[32];

    snprintf(suffix, sizeof(suffix), "idx:%s", store_index_names[k]);
    for (size_t i = 0; i < n; i++) {
        ids[i] = r->element[2 * i];
    }
    if (partitions_of(s, ids, n, part, err, errlen) < 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int seen = part[i] < 0;

        for (size_t j = 0; j < i && !seen; j++) {
            seen = part[j] == part[i];
        }
        if (part[i] < 0) {
            m->dropped++;
        }
        if (seen) {
            continue;
        }
        store_task_key(key, sizeof(key), s->opts.prefix, part[i], suffix);
        store_argv_reset(&s->argv);
        store_argv_str(&s->argv, "ZADD");
        store_argv_str(&s->argv, key);
        store_argv_str(&s->argv, "NX");
        for (size_t j = i; j < n; j++) {
            const redisReply *score = r->element[2 * j + 1];

            if (part[j] == part[i]) {
                store_argv_push(&s->argv, score->str, score->len, 0);
                store_argv_push(&s->argv, ids[j]->str, ids[j]->len, 0);
                m->indexed++;
            }
        }
        if (append_argv(s, err, errlen) < 0) {
            store_drop(s); /* the commands appended before have no reader */
            return -1;
        }
        sent++;
    }
    return recv_counts(s, sent, err, errlen);
}

static int migrate_index(struct store *s, enum store_index_kind k,
                         struct store_migration *m, char *err, size_t errlen)
{
    char old[STORE_KEY_MAX];

    snprintf(old, sizeof(old), "%sidx:%s", s->opts.prefix, store_index_names[k]);
    for (long long at = 0; s->opts.indices & (1u << k); at += MIGRATE_CHUNK) {
        redisReply *r = old_chunk(s, old, at, err, errlen);
        size_t n;
        int rc;

        if (r == NULL) {
            return -1;
        }
        n = r->elements / 2;
        rc = migrate_index_chunk(s, k, r, m, err, errlen);
        freeReplyObject(r);
        if (rc < 0) {
            return -1;
        }
        if (n < MIGRATE_CHUNK) {
            break;
        }
    }
    return unlink_old(s, old, m, err, errlen);
}

int store_migrate_task_keys(struct store *s, struct store_migration *m, char *err,
                            size_t errlen)
{
    int32_t *tasks = NULL;
    size_t n = 0;
    int rc = 0;

    memset(m, 0, sizeof(*m));
    if (!store_usable(s, err, errlen) || !store_pipe_usable(s, err, errlen)) {
        return -1;
    }
    if (store_scan_tasks(s, "due:", "", &tasks, &n) < 0) {
        snprintf(err, errlen, "redis: cannot list the due sets: %s", store_last_error(s));
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = migrate_due(s, tasks[i], m, err, errlen);
    }
    free(tasks);
    for (int k = 0; k < STORE_IDX__COUNT && rc == 0; k++) {
        rc = migrate_index(s, (enum store_index_kind)k, m, err, errlen);
    }
    return rc;
}
