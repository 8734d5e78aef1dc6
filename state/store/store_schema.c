/*
 * store_schema.c - the key schema (prefix P, customer C):
 *
 *   P c:{C}           hash    the summary: about 15 readable fields
 *                             (codec_summary_diff), `rev` (revision) and
 *                             `partition` (the partition its events are keyed to)
 *   P c:{C}:state     string  the packed state (state/store/packed.h): everything,
 *                             the replay watermarks and the revision included
 *   (layout 2, read and replaced at the next commit: every field in the
 *   hash, with `wm:SOURCE:PARTITION` watermarks, the lists in c:{C}:aux and
 *   the derived events not yet delivered in the hash c:{C}:outbox)
 *   P t:{N}:progress  hash    task N's progress (store_progress.c)
 *   P t:{N}:idx:risk|loyalty|clv|value
 *                     zsets   task N's customers by score (the operators'
 *                             indices, those of store_opts.indices; one per
 *                             task, so that on Redis Cluster they spread over
 *                             the masters; loyaltyctl top merges them)
 *   P t:{N}:due       zset    task N's customers -> time (ms) the sweeper must
 *                             look again
 *   (N: the input partition the customer's events are keyed to, its summary's
 *   `partition`; every key of task N carries the hash tag {N}.  The release
 *   before kept one P idx:KIND of all customers and a P due:N per partition:
 *   store_migrate_task_keys moves them at start)
 *   P model           hash    fitted BG/NBD and Gamma-Gamma parameters
 *   P schema          string  STORE_SCHEMA_VERSION
 *
 * The schema key says that a Redis holds this prefix's state (store_mark
 * sets it, store_fresh asks); the checks at start refuse a Redis that
 * could lose state without an error (store_check_eviction).
 */
#include "state/store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_key_of(const struct store *s, char *buf, size_t len, const char *id,
                  const char *suffix)
{
    snprintf(buf, len, "%sc:{%s}%s", s->opts.prefix, id, suffix);
}

void store_task_key(char *buf, size_t len, const char *prefix, int32_t task,
                    const char *suffix)
{
    snprintf(buf, len, "%st:{%" PRId32 "}:%s", prefix, task, suffix);
}

int store_pattern(const char *prefix, const char *tail, char *out, size_t room)
{
    size_t o = 0, n = strlen(tail);

    for (const char *p = prefix; *p != '\0'; p++) {
        if (o + 2 >= room) {
            return -1;
        }
        if (strchr("*?[]\\", *p) != NULL) {
            out[o++] = '\\';
        }
        out[o++] = *p;
    }
    if (o + n + 1 > room) {
        return -1;
    }
    memcpy(out + o, tail, n + 1);
    return 0;
}

/* The schema key: another version's is refused; an absent one means a Redis
 * that holds nothing of this prefix (new, or emptied), which the caller must
 * judge before it writes anything (store_mark). */
int store_check_schema(struct store *s, char *err, size_t errlen)
{
    redisReply *r = store_cmd(s, err, errlen, "GET %sschema", s->opts.prefix);
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
    } else if (r->type == REDIS_REPLY_STRING && atoi(r->str) != STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "redis: %sschema is %s, this build speaks %d",
                 s->opts.prefix, r->str, STORE_SCHEMA_VERSION);
    } else {
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

int store_fresh(struct store *s)
{
    long long n = 0;

    if (store_count_cmd(s, &n, "EXISTS %sschema", s->opts.prefix) < 0) {
        return -1;
    }
    return n == 0;
}

int store_mark(struct store *s, char *err, size_t errlen)
{
    return store_simple(s, err, errlen, "SET %sschema %d NX", s->opts.prefix,
                        STORE_SCHEMA_VERSION);
}

int store_aof(struct store *s)
{
    char err[256];
    redisReply *r = store_cmd(s, err, sizeof(err), "INFO persistence");
    const char *p;
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "aof_enabled:")) != NULL) {
        rc = p[strlen("aof_enabled:")] == '1';
    }
    freeReplyObject(r);
    return rc;
}

/* The value of field `name` in an INFO reply, copied into out. */
static int info_field(const char *info, const char *name, char *out, size_t len)
{
    size_t n = strlen(name), k;
    const char *p = info;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == info || p[-1] == '\n') && p[n] == ':') {
            break;
        }
        p += n;
    }
    if (p == NULL) {
        return -1;
    }
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

    if (r == NULL) {
        return -1;
    }
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
