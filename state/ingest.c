#include "state/ingest.h"

#include <stdio.h>
#include <stdlib.h>

#include "state/derived.h"

/* Optimistic commits only conflict when two instances hold one customer at
 * once (a rebalance in progress); a few attempts settle it. */
#define INGEST_ATTEMPTS 8

static int outbox_from_emissions(const struct emission_list *em, int64_t emitted_at_ms,
                                 struct store_outbox *add)
{
    for (size_t i = 0; i < em->n; i++) {
        enum store_topic t =
            em->v[i].kind == EM_REWARD ? STORE_TOPIC_REWARDS : STORE_TOPIC_CHURN;
        char *stamped = NULL;
        int rc;

        if (derived_finish(em->v[i].payload, emitted_at_ms, &stamped) < 0)
            return -1;
        rc = store_outbox_add(add, t, em->v[i].event_id, stamped);
        free(stamped);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* After a commit or a duplicate: refresh indices and the sweeper's due time.
 * While the outbox holds anything the customer stays due at once, so that
 * the sweeper publishes what a crash left behind (an entry still in flight in
 * this process is skipped by the publisher). */
static int reindex(struct store *s, const struct model_ctx *m, const struct customer *c,
                   int32_t partition, int outbox_pending)
{
    return store_index(s, c, partition, outbox_pending ? 0 : model_next_due(c, m));
}

typedef int (*ingest_step_fn)(struct customer *c, const void *arg,
                              const struct model_ctx *m, struct emission_list *em,
                              char *err, size_t errlen);

static int step_event(struct customer *c, const void *arg, const struct model_ctx *m,
                      struct emission_list *em, char *err, size_t errlen)
{
    return model_apply(c, arg, m, em, err, errlen);
}

static int step_sweep(struct customer *c, const void *arg, const struct model_ctx *m,
                      struct emission_list *em, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return model_sweep(c, *(const int64_t *)arg, m, em);
}

/* One attempt: load, run the step, commit.  Returns the store's verdict. */
static enum store_commit_result attempt(struct store *s, const struct model_ctx *m,
                                        const char *id, const struct store_origin *o,
                                        ingest_step_fn step, const void *arg,
                                        int64_t emitted_at_ms, struct customer *c,
                                        struct store_outbox *pending, int *model_failed,
                                        char *err, size_t errlen)
{
    enum store_commit_result res = STORE_ERROR;
    struct store_snapshot snap;
    struct emission_list em;
    struct store_outbox add;

    emission_list_init(&em);
    store_outbox_init(&add);
    if (store_load(s, id, o, c, &snap, err, errlen) < 0)
        goto out;
    if (snap.duplicate) {
        res = store_outbox_pending(s, id, pending) < 0 ? STORE_ERROR : STORE_DUPLICATE;
        goto out;
    }
    if (step(c, arg, m, &em, err, errlen) < 0) {
        *model_failed = 1;
        goto out;
    }
    if (outbox_from_emissions(&em, emitted_at_ms, &add) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    res = store_commit(s, c, &snap, o, &add, pending, err, errlen);
out:
    store_outbox_free(&add);
    emission_list_free(&em);
    return res;
}

static enum ingest_status ingest_run(struct store *s, const struct model_ctx *m,
                                     const char *id, const struct store_origin *o,
                                     ingest_step_fn step, const void *arg,
                                     int64_t emitted_at_ms, struct store_outbox *pending,
                                     char *err, size_t errlen)
{
    struct customer *c = malloc(sizeof(*c));
    enum ingest_status st = INGEST_RETRY;

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return INGEST_RETRY;
    }
    for (int i = 0; i < INGEST_ATTEMPTS; i++) {
        int model_failed = 0;
        enum store_commit_result res;

        store_outbox_free(pending);
        res = attempt(s, m, id, o, step, arg, emitted_at_ms, c, pending, &model_failed,
                      err, errlen);
        if (model_failed) {
            st = INGEST_FAILED;
            break;
        }
        if (res == STORE_CONFLICT)
            continue;
        if (res == STORE_ERROR)
            break;
        /* Committed, but a customer missing from the due set would never be
         * swept: retry, which comes back as a duplicate and indexes again. */
        if (reindex(s, m, c, o->partition, pending->n > 0) < 0) {
            snprintf(err, errlen, "customer %s: index update failed", id);
            break;
        }
        st = res == STORE_APPLIED ? INGEST_OK : INGEST_DUPLICATE;
        break;
    }
    if (st == INGEST_RETRY && err[0] == '\0')
        snprintf(err, errlen, "customer %s: revision kept changing", id);
    free(c);
    return st;
}

enum ingest_status ingest_event(struct store *s, const struct model_ctx *m,
                                const struct event *ev, const struct store_origin *origin,
                                int64_t emitted_at_ms, struct store_outbox *pending,
                                char *err, size_t errlen)
{
    err[0] = '\0';
    return ingest_run(s, m, ev->customer_id, origin, step_event, ev, emitted_at_ms,
                      pending, err, errlen);
}

enum ingest_status ingest_sweep(struct store *s, const struct model_ctx *m,
                                const char *id, int32_t partition, int64_t now_ms,
                                int64_t emitted_at_ms, struct store_outbox *pending,
                                char *err, size_t errlen)
{
    const struct store_origin o = {"sweep", partition, -1};

    err[0] = '\0';
    return ingest_run(s, m, id, &o, step_sweep, &now_ms, emitted_at_ms, pending, err,
                      errlen);
}
