/*
 * store_commit.c - one customer's atomic commit (store.h): the call of
 * loyaltyd_commit_4 (store_lib.lua) and its result.
 */
#include "state/store/store_int.h"

#include <stdio.h>
#include <string.h>

/* FCALL loyaltyd_commit_4 (store_lib.lua) for one request. */
static void commit_argv(struct argv_buf *b, const struct store *s,
                        const struct store_commit_req *q)
{
    store_argv_str(b, "FCALL");
    store_argv_str(b, "loyaltyd_commit_4");
    store_argv_str(b, "4");
    store_argv_key(b, s, q->id, "");
    store_argv_key(b, s, q->id, ":state");
    store_argv_key(b, s, q->id, ":aux");
    store_argv_key(b, s, q->id, ":outbox");
    store_argv_int(b, q->rev);
    if (q->state != NULL) {
        store_argv_push(b, (const char *)q->state, q->state_len, 0);
    } else {
        store_argv_str(b, "");
    }
    store_argv_str(b, q->upgrade ? "1" : "0");
    for (size_t i = 0; q->state && q->summary && i < q->summary->n; i++) {
        store_argv_str(b, q->summary->v[i].name);
        store_argv_str(b, q->summary->v[i].value);
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
        if (strstr(r->str, "Function not found") != NULL) {
            store_drop(s);
        }
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
    if (!store_pipe_usable(s, err, errlen)) {
        return -1;
    }
    store_argv_reset(&s->argv);
    commit_argv(&s->argv, s, q);
    if (store_argv_append(s, &s->argv) < 0) {
        snprintf(err, errlen, "out of memory");
        store_abandon(s);
        return -1;
    }
    store_pipe_sent(s, 1);
    return 0;
}

int store_commit_recv(struct store *s, struct store_commit_req *q, size_t n, char *err,
                      size_t errlen)
{
    redisReply *r;
    char later[256] = "";
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        /* The first error is the one to report: one that drops the
         * connection leaves the rest of the replies unread. */
        char *e = rc < 0 ? later : err;
        size_t elen = rc < 0 ? sizeof(later) : errlen;

        if (store_pipe_recv(s, &r, 1, e, elen) < 0) {
            return -1;
        }
        q[i].res = commit_result(s, r, &q[i], e, elen);
        if (q[i].res == STORE_ERROR) {
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}
