/*
 * store_progress.c - a task's progress in Redis (store.h; README,
 * "Guarantees"): the next offset of each input topic and the stream time.
 */
#include "state/store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int store_progress_get(struct store *s, int32_t task, int64_t next[SRC__COUNT],
                       int64_t *stream_ms, char *err, size_t errlen)
{
    redisReply *r =
        store_cmd(s, err, errlen, "HMGET %st:{%" PRId32 "}:progress %s %s %s stream",
                  s->opts.prefix, task, event_source_name(SRC_ORDERS),
                  event_source_name(SRC_REVIEWS), event_source_name(SRC_MESSAGES));
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == SRC__COUNT + 1) {
        for (int i = 0; i <= SRC__COUNT; i++) {
            int64_t v = r->element[i]->type == REDIS_REPLY_STRING
                            ? strtoll(r->element[i]->str, NULL, 10)
                            : -1;

            if (i < SRC__COUNT) {
                next[i] = v;
            } else {
                *stream_ms = v > 0 ? v : 0;
            }
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
