/*
 * store_admin.c - what loyaltyctl and the rescoring read and delete: the
 * top of an index, all customers by SCAN, a summary hash, a customer's
 * keys and entries, the indices' sizes and the indices no longer kept.
 */
#include "state/store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_task(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Append to v the numbers of SCAN's keys "P HEAD N AFTER". */
static int tasks_from_keys(const redisReply *keys, size_t skip, const char *after,
                           int32_t **v, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        char *end;
        long t;

        if (k->type != REDIS_REPLY_STRING || k->len <= skip ||
            !(k->str[skip] >= '0' && k->str[skip] <= '9')) {
            continue;
        }
        t = strtol(k->str + skip, &end, 10);
        if (strcmp(end, after) != 0 || t > INT32_MAX) {
            continue;
        }
        if (*n == *cap) {
            size_t c = *cap ? 2 * *cap : 64;
            int32_t *w = realloc(*v, c * sizeof(*w));

            if (w == NULL) {
                return -1;
            }
            *v = w;
            *cap = c;
        }
        (*v)[(*n)++] = (int32_t)t;
    }
    return 0;
}

/* Redis's own SCAN cursor is below 2^56 for any table it can hold: the top
 * byte of the store's cursor names the place scanned (store_scan_places:
 * each master of a cluster in turn). */
#define SCAN_PLACE_SHIFT 56

/* One SCAN step of keys of `type` matching pattern, over every place: the
 * reply [cursor, [keys]] (the caller frees it) with *cursor advanced, 0
 * once the last place is done; NULL with err. */
static redisReply *scan_step(struct store *s, uint64_t *cursor, const char *pattern,
                             const char *type, char *err, size_t errlen)
{
    size_t place = (size_t)(*cursor >> SCAN_PLACE_SHIFT);
    uint64_t at = *cursor & ((UINT64_C(1) << SCAN_PLACE_SHIFT) - 1), next;
    redisReply *r;

    if (place >= store_scan_places(s)) {
        snprintf(err, errlen, "redis: a SCAN cursor of another cluster");
        return NULL;
    }
    store_scan_place(s, place);
    r = store_cmd(s, err, errlen, "SCAN %" PRIu64 " MATCH %s TYPE %s COUNT 1000", at,
                  pattern, type);
    if (r == NULL) {
        return NULL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply to SCAN");
        freeReplyObject(r);
        return NULL;
    }
    next = strtoull(r->element[0]->str, NULL, 10);
    if (next != 0) {
        *cursor = ((uint64_t)place << SCAN_PLACE_SHIFT) | next;
    } else if (place + 1 < store_scan_places(s)) {
        *cursor = (uint64_t)(place + 1) << SCAN_PLACE_SHIFT;
    } else {
        *cursor = 0;
    }
    return r;
}

int store_scan_tasks(struct store *s, const char *head, const char *after,
                     int32_t **tasks, size_t *n)
{
    char err[256], tail[64], pattern[2 * STORE_KEY_MAX];
    size_t skip = strlen(s->opts.prefix) + strlen(head), cap = 0, u = 0;
    uint64_t cursor = 0;
    int rc = 0;

    *tasks = NULL;
    *n = 0;
    snprintf(tail, sizeof(tail), "%s[0-9]*%s", head, after);
    if (store_pattern(s->opts.prefix, tail, pattern, sizeof(pattern)) < 0) {
        return -1;
    }
    do {
        redisReply *r = scan_step(s, &cursor, pattern, "zset", err, sizeof(err));

        if (r == NULL) {
            rc = -1;
            break;
        }
        rc = tasks_from_keys(r->element[1], skip, after, tasks, n, &cap);
        freeReplyObject(r);
    } while (rc == 0 && cursor != 0);
    if (rc < 0) {
        free(*tasks);
        *tasks = NULL;
        *n = 0;
        return -1;
    }
    /* SCAN may return a key more than once. */
    if (*n > 1) {
        qsort(*tasks, *n, sizeof(**tasks), cmp_task);
    }
    for (size_t i = 0; i < *n; i++) {
        if (u == 0 || (*tasks)[u - 1] != (*tasks)[i]) {
            (*tasks)[u++] = (*tasks)[i];
        }
    }
    *n = u;
    return 0;
}

/* The tasks that have an index of kind k ("P t:{N}:idx:KIND"), as
 * store_scan_tasks lists them. */
static int index_tasks(struct store *s, enum store_index_kind k, int32_t **tasks,
                       size_t *ntasks)
{
    char after[32];

    snprintf(after, sizeof(after), "}:idx:%s", store_index_names[k]);
    return store_scan_tasks(s, "t:{", after, tasks, ntasks);
}

struct ranked {
    char *id;
    double score;
};

/* Highest score first; among equal scores the greater id first, as
 * ZRANGE ... REV orders them, so that each task's first n are the first of
 * the merge too. */
static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    if (x->score != y->score) {
        return x->score < y->score ? 1 : -1;
    }
    return -strcmp(x->id, y->id);
}

static int cmp_ranked_id(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    return c != 0 ? c : cmp_ranked(a, b);
}

/* Append task t's first n of index k to *v. */
static int task_top(struct store *s, enum store_index_kind k, int32_t t, size_t n,
                    struct ranked **v, size_t *count, size_t *cap)
{
    char err[256];
    redisReply *r;
    int rc = -1;

    r = store_cmd(s, err, sizeof(err),
                  "ZRANGE %st:{%d}:idx:%s +inf -inf BYSCORE REV LIMIT 0 %llu WITHSCORES",
                  s->opts.prefix, (int)t, store_index_names[k], (unsigned long long)n);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0) {
        rc = 0;
        for (size_t i = 0; i + 1 < r->elements && rc == 0; i += 2) {
            if (*count == *cap) {
                size_t c = *cap ? 2 * *cap : 64;
                struct ranked *w = realloc(*v, c * sizeof(*w));

                if (w == NULL) {
                    rc = -1;
                    break;
                }
                *v = w;
                *cap = c;
            }
            (*v)[*count].score = strtod(r->element[i + 1]->str, NULL);
            if (((*v)[*count].id = strdup(r->element[i]->str)) == NULL) {
                rc = -1;
            } else {
                (*count)++;
            }
        }
    }
    freeReplyObject(r);
    return rc;
}

/* Every task's first n, merged: a customer in two tasks' indices (filed
 * under another partition before) once, with its higher score. */
int store_top(struct store *s, enum store_index_kind k, size_t n, char ***ids,
              double **scores, size_t *count)
{
    struct ranked *v = NULL;
    size_t m = 0, cap = 0, u = 0, ntasks = 0;
    int32_t *tasks = NULL;
    int rc = 0;

    *ids = NULL;
    *scores = NULL;
    *count = 0;
    if (index_tasks(s, k, &tasks, &ntasks) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ntasks && rc == 0; i++) {
        rc = task_top(s, k, tasks[i], n, &v, &m, &cap);
    }
    free(tasks);
    if (rc == 0 && m > 1) {
        qsort(v, m, sizeof(*v), cmp_ranked_id);
        for (size_t i = 0; i < m; i++) {
            if (u > 0 && strcmp(v[u - 1].id, v[i].id) == 0) {
                free(v[i].id);
            } else {
                v[u++] = v[i];
            }
        }
        m = u;
        qsort(v, m, sizeof(*v), cmp_ranked);
    }
    if (rc == 0) {
        *ids = calloc(m ? m : 1, sizeof(**ids));
        *scores = calloc(m ? m : 1, sizeof(**scores));
        rc = *ids != NULL && *scores != NULL ? 0 : -1;
    }
    for (size_t i = 0; i < m; i++) {
        if (rc == 0 && i < n) {
            (*ids)[i] = v[i].id;
            (*scores)[i] = v[i].score;
        } else {
            free(v[i].id);
        }
    }
    free(v);
    if (rc < 0) {
        free(*ids);
        free(*scores);
        *ids = NULL;
        *scores = NULL;
        return -1;
    }
    *count = m < n ? m : n;
    return 0;
}

/* The customer ids of SCAN's keys "P c:{ID}". */
static int ids_from_keys(const redisReply *keys, size_t plen, char ***ids, size_t *n)
{
    char **v = calloc(keys->elements ? keys->elements : 1, sizeof(*v));
    size_t count = 0;

    if (v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];

        if (k->type != REDIS_REPLY_STRING || k->len < plen + 4) {
            continue;
        }
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

    /* "c:{*}": the summary hashes only (a packed state's key goes on after
     * the brace). */
    if (store_pattern(s->opts.prefix, "c:{*}", pattern, sizeof(pattern)) < 0) {
        return -1;
    }
    if ((r = scan_step(s, cursor, pattern, "hash", err, sizeof(err))) == NULL) {
        return -1;
    }
    rc = ids_from_keys(r->element[1], strlen(s->opts.prefix), ids, n);
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

    if (n == 0) {
        return 0;
    }
    if (!store_usable(s, err, errlen) || !store_pipe_usable(s, err, errlen) ||
        (r = store_replies_new(n, err, errlen)) == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        store_key_of(s, key, sizeof(key), ids[i], "");
        store_sendf(s, "HMGET %s partition model_version", key);
    }
    if (store_roundtrip(s, r, n, err, errlen) < 0) {
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
    store_free_replies(r, n);
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
    if (customer_versions(s, *ids, *n, *partition, *version, err, errlen) < 0) {
        goto fail;
    }
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

    store_key_of(s, key, sizeof(key), id, "");
    if ((r = store_cmd(s, err, sizeof(err), "HGETALL %s", key)) == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && store_reply_to_kvlist(r, fields) == 0) {
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

    /* The due set and the indices are those of the customer's task. */
    r = store_cmd(s, err, sizeof(err), "HGET %sc:{%s} partition", p, id);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING) {
        rc |= store_count_cmd(s, &removed, "ZREM %st:{%s}:due %s", p, r->str, id);
        for (size_t i = 0; i < STORE_IDX__COUNT && rc == 0; i++) {
            rc |= store_count_cmd(s, &removed, "ZREM %st:{%s}:idx:%s %s", p, r->str,
                                  store_index_names[i], id);
        }
    }
    freeReplyObject(r);
    rc |= store_count_cmd(s, &removed,
                          "DEL %sc:{%s} %sc:{%s}:state %sc:{%s}:aux %sc:{%s}:outbox", p,
                          id, p, id, p, id, p, id);
    return rc ? -1 : removed;
}

int store_index_count(struct store *s, enum store_index_kind k, long long *n)
{
    int32_t *tasks;
    size_t ntasks;
    int rc = 0;

    *n = 0;
    if (index_tasks(s, k, &tasks, &ntasks) < 0) {
        return -1;
    }
    for (size_t i = 0; i < ntasks && rc == 0; i++) {
        rc = store_count_cmd(s, n, "ZCARD %st:{%d}:idx:%s", s->opts.prefix, (int)tasks[i],
                             store_index_names[k]);
    }
    free(tasks);
    return rc;
}

int store_indices_prune(struct store *s)
{
    long long deleted = 0;

    for (int k = 0; k < STORE_IDX__COUNT; k++) {
        int32_t *tasks;
        size_t ntasks;
        int rc = 0;

        if (s->opts.indices & (1u << k)) {
            continue;
        }
        if (index_tasks(s, (enum store_index_kind)k, &tasks, &ntasks) < 0) {
            return -1;
        }
        for (size_t i = 0; i < ntasks && rc == 0; i++) {
            rc = store_count_cmd(s, &deleted, "UNLINK %st:{%d}:idx:%s", s->opts.prefix,
                                 (int)tasks[i], store_index_names[k]);
        }
        free(tasks);
        if (rc < 0) {
            return -1;
        }
    }
    return (int)deleted;
}

/* ---- quarantine ----------------------------------------------------------- */

int store_quarantine_note(struct store *s, const char *id, const char *why,
                          int64_t now_ms)
{
    long long added = 0;
    char text[256];

    snprintf(text, sizeof(text), "%" PRId64 " %s", now_ms, why);
    if (store_count_cmd(s, &added, "HSETNX %squarantine %s %s", s->opts.prefix, id,
                        text) < 0) {
        return -1;
    }
    return added > 0;
}

int store_quarantine_list(struct store *s, char ***ids, char ***texts, size_t *n,
                          char *err, size_t errlen)
{
    redisReply *r = store_cmd(s, err, errlen, "HGETALL %squarantine", s->opts.prefix);
    int rc = -1;

    *ids = *texts = NULL;
    *n = 0;
    if (r == NULL) {
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
    } else if (store_ids_from_reply(r, 2, ids, n) < 0 ||
               (*texts = calloc(*n ? *n : 1, sizeof(**texts))) == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        rc = 0;
        for (size_t i = 0; i < *n && rc == 0; i++) {
            if (((*texts)[i] = strdup(r->element[2 * i + 1]->str)) == NULL) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
    }
    freeReplyObject(r);
    if (rc < 0) {
        store_quarantine_free(*ids, *texts, *n);
        *ids = *texts = NULL;
        *n = 0;
    }
    return rc;
}

void store_quarantine_free(char **ids, char **texts, size_t n)
{
    for (size_t i = 0; texts != NULL && i < n; i++) {
        free(texts[i]);
    }
    free(texts);
    store_ids_free(ids, ids != NULL ? n : 0);
}

int store_quarantine_release(struct store *s, const char *id, char *err, size_t errlen)
{
    long long removed = 0;

    if (store_count_cmd(s, &removed, "HDEL %squarantine %s", s->opts.prefix, id) < 0) {
        snprintf(err, errlen, "redis: %s", store_last_error(s));
        return -1;
    }
    return removed > 0;
}
