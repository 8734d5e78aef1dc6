/*
 * batch.h - the state change of one task's turn: group the merged events by
 * customer, load the customers that are not cached, apply each customer's
 * events in order in process, commit every changed customer (one atomic
 * function call per customer carrying all its watermarks and new outbox
 * entries), refresh the indices and due times that changed, and hand each
 * customer's pending outbox to the caller.  All of it is one pipeline on one
 * store connection: the loads are sent first, the cached customers are
 * applied and their commits sent while Redis serves them, and the replies of
 * the commits are read last (batch_finish), so the caller can prepare the
 * next batch meanwhile.
 *
 * Replaces nothing the guarantees rely on: the watermark check happens
 * against the revision the commit verifies, so a replay applies nothing twice,
 * and derived events reach the outbox in the same atomic commit as the state
 * that caused them.  Main thread only.
 */
#ifndef LOYALTY_BATCH_H
#define LOYALTY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "state/cache.h"
#include "state/event.h"
#include "state/model.h"
#include "state/store.h"

enum batch_status {
    BATCH_APPLIED = 0,
    BATCH_DUPLICATE, /* at or below the customer's watermark: skipped */
    BATCH_REJECTED,  /* the model refused it (reason in err): dead-letter it */
    BATCH_SWEPT,     /* a sweep item: re-evaluated (perhaps with no change) */
    BATCH_RESCORED,  /* a rescore item: evaluated again with a newer model */
};

struct batch_item {
    /* in */
    const struct event *ev; /* NULL: a sweep (or a rescore) of sweep_id */
    const char *sweep_id;
    int64_t sweep_until_ms; /* sweep: evaluate every due time up to this */
    int rescore;            /* with ev NULL: model_rescore instead of a sweep */
    int source;             /* enum ev_source */
    int32_t partition;
    int64_t offset;
    void *opaque; /* the caller's, handed back with the outbox */
    /* out */
    enum batch_status status;
    char err[160];
    int misrouted; /* 1: the customer lives on home_partition; 2: and
                      that is news for this customer (log it) */
    int32_t home_partition;
};

struct batch_stats {
    uint64_t applied, duplicates, rejected, swept, rescored, misrouted;
    uint64_t cache_hits, cache_misses, commits, conflicts;
};

/* Called once per customer whose outbox holds entries after the batch:
 * opaques are the customer's items in the batch (the causes to hold). */
typedef void (*batch_publish_fn)(void *arg, const char *customer_id,
                                 const struct store_outbox *pending, void *const *opaques,
                                 size_t nopaques);

struct batch_ctx {
    struct store *store;
    struct cache *cache;
    const struct model_ctx *model;
    int32_t task;          /* partition number of the task */
    int64_t emitted_at_ms; /* wall clock stamp of derived events */
    batch_publish_fn publish;
    void *publish_arg;
};

/*
 * Apply items[0..n) (events in merge order, sweeps anywhere).  Returns 0 with
 * every item's status set and *st added to, or -1 with err when Redis failed
 * (or memory ran short): nothing of the batch may be taken as done, the
 * touched customers are dropped from the cache, and the caller runs the same
 * items again later (what was committed comes back as duplicates).
 */
int batch_run(const struct batch_ctx *b, struct batch_item *items, size_t n,
              struct batch_stats *st, char *err, size_t errlen);

/*
 * batch_run in two halves, so that the caller can prepare another batch (on
 * another store connection) while Redis works on this one.  batch_start does
 * everything up to the replies of the commits; batch_finish reads them
 * (retrying conflicts as batch_run does) and returns what batch_run would.
 * items, *st and err must stay valid in between.  batch_start returns 0 with
 * *out to be finished (even when it failed: batch_finish then reports it), 1
 * with nothing done when a customer of the batch is held by another batch in
 * flight (finish that one first), or -1 with err (out of memory).
 */
struct batch;
int batch_start(const struct batch_ctx *b, struct batch_item *items, size_t n,
                struct batch_stats *st, char *err, size_t errlen, struct batch **out);
int batch_finish(struct batch *bt);

#endif
