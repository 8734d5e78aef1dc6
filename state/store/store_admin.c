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

int store_top(struct store *s, enum store_index_kind k, size_t n, char ***ids,
              double **scores, size_t *count)
{
    char err[256];
    redisReply *r =
        store_cmd(s, err, sizeof(err),
                  "ZRANGE %sidx:%s +inf -inf BYSCORE REV "
                  "LIMIT 0 %llu WITHSCORES",
                  s->opts.prefix, store_index_names[k], (unsigned long long)n);
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && store_ids_from_reply(r, 2, ids, count) == 0) {
        *scores = calloc(*count ? *count : 1, sizeof(double));
        if (*scores != NULL) {
            for (size_t i = 0; i < *count; i++) {
                (*scores)[i] = strtod(r->element[2 * i + 1]->str, NULL);
            }
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
        if (o + 2 >= room) {
            return -1;
        }
        if (strchr("*?[]\\", *p) != NULL) {
            out[o++] = '\\';
        }
        out[o++] = *p;
    }
    if (o + sizeof("c:{*}") > room) {
        return -1;
    }
    memcpy(out + o, "c:{*}", sizeof("c:{*}"));
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

    if (customer_pattern(s->opts.prefix, pattern, sizeof(pattern)) < 0) {
        return -1;
    }
    r = store_cmd(s, err, sizeof(err), "SCAN %" PRIu64 " MATCH %s TYPE hash COUNT 1000",
                  *cursor, pattern);
    if (r == NULL) {
        return -1;
    }
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

    if (n == 0) {
        return 0;
    }
    if (!store_usable(s, err, errlen) || !store_pipe_usable(s, err, errlen) ||
        (r = store_replies_new(n, err, errlen)) == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        store_key_of(s, key, sizeof(key), ids[i], "");
        redisAppendCommand(s->ctx, "HMGET %s partition model_version", key);
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

    /* The due set is the one of the customer's partition. */
    r = store_cmd(s, err, sizeof(err), "HGET %sc:{%s} partition", p, id);
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING) {
        rc |= store_count_cmd(s, &removed, "ZREM %sdue:%s %s", p, r->str, id);
    }
    freeReplyObject(r);
    rc |= store_count_cmd(s, &removed,
                          "DEL %sc:{%s} %sc:{%s}:state %sc:{%s}:aux %sc:{%s}:outbox", p,
                          id, p, id, p, id, p, id);
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        rc |=
            store_count_cmd(s, &removed, "ZREM %sidx:%s %s", p, store_index_names[i], id);
    }
    return rc ? -1 : removed;
}

int store_index_count(struct store *s, enum store_index_kind k, long long *n)
{
    *n = 0;
    return store_count_cmd(s, n, "ZCARD %sidx:%s", s->opts.prefix, store_index_names[k]);
}

int store_indices_prune(struct store *s)
{
    long long deleted = 0;

    for (int k = 0; k < STORE_IDX__COUNT; k++) {
        if (!(s->opts.indices & (1u << k)) &&
            store_count_cmd(s, &deleted, "UNLINK %sidx:%s", s->opts.prefix,
                            store_index_names[k]) < 0) {
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
