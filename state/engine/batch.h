/*
 * batch.h - the state change of one task's turn: group the merged events by
 * customer, load the customers that are not cached, apply each customer's
 * events in order in process, publish the derived events, and once Kafka has
 * acknowledged them commit every changed customer (one atomic function call
 * per customer, its packed state carrying all its watermarks), then refresh
 * the indices and due times that changed.  The loads are one pipeline on one
 * store connection (the cached customers are applied while Redis serves
 * them), and batch_start returns once the derived events are handed over, so
 * the caller can prepare the next batch while Kafka acknowledges them.
 *
 * What the guarantees rely on: the watermark check happens against the
 * revision the commit verifies, so a replay applies nothing twice; an event
 * re-sent upstream at another offset is recognised by its event_id (the
 * customer's recent ids, part of its state); a derived event is acknowledged
 * before the state that caused it is committed, so a crash in between
 * replays to the same event (same id, same payload but emitted_at); no outbox
 * is kept.  Main thread only.
 */
#ifndef LOYALTY_BATCH_H
#define LOYALTY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "state/engine/cache.h"
#include "state/model/model.h"
#include "state/store/store.h"

enum batch_status {
    BATCH_APPLIED = 0,
    BATCH_DUPLICATE,   /* seen before (dup says how): skipped */
    BATCH_REJECTED,    /* the model refused it (reason in err): dead-letter it */
    BATCH_SWEPT,       /* a sweep item: re-evaluated (perhaps with no change) */
    BATCH_RESCORED,    /* a rescore item: evaluated again with a newer model */
    BATCH_QUARANTINED, /* the customer's stored state cannot be read (why in
                          err): nothing applied, the customer set aside */
};

/* How a duplicate was recognised. */
enum batch_dup {
    DUP_OFFSET = 0, /* at or below the customer's watermark (a replay) */
    DUP_EVENT_ID,   /* its event_id is among the customer's recent ones */
    DUP_ORDER_ID,   /* an order.placed for an order_id the customer has */
    DUP__COUNT
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
    /* out */
    enum batch_status status;
    enum batch_dup dup; /* with BATCH_DUPLICATE */
    int no_rate;        /* with BATCH_REJECTED: for want of an exchange rate
                           (MODEL_NO_RATE), to be dead-lettered as no_rate */
    char err[160];
    int misrouted; /* 1: the customer lives on home_partition; 2: and
                      that is news for this customer (log it) */
    int32_t home_partition;
};

struct batch_stats {
    uint64_t applied, duplicates, rejected, swept, rescored, misrouted, derived;
    uint64_t quarantined; /* items of customers whose state cannot be read */
    uint64_t timers;      /* due times evaluated, before events and in sweeps */
    uint64_t dup[DUP__COUNT];
    uint64_t cache_hits, cache_misses, commits, conflicts;
    /* conflicts where Redis held an older revision than this instance had
     * committed: writes it acknowledged, lost (a failover, a restart) */
    uint64_t rewound;
};

/* Publish one customer's derived events: *pending counts them until each is
 * acknowledged.  0, -1 on ENOMEM. */
typedef int (*batch_publish_fn)(void *arg, const char *customer_id,
                                const struct publish_list *l, unsigned *pending);
/* Wait until *pending is 0 (0) or timeout_ms passed (-1). */
typedef int (*batch_await_fn)(void *arg, const unsigned *pending, int timeout_ms);

/* The calls a batch makes on its store, as a table: the seam its unit test
 * puts an in-memory store in.  Each has the signature and the contract of
 * the store.h function of the same name (store_load_send, ...); a batch
 * only hands batch_ctx.store back to them. */
struct batch_store_ops {
    int (*load_send)(struct store *s, const char *const *ids, size_t n, char *err,
                     size_t errlen);
    int (*load_recv)(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                     void *arg, char *err, size_t errlen);
    int (*commit_send)(struct store *s, const struct store_commit_req *q, char *err,
                       size_t errlen);
    int (*commit_recv)(struct store *s, struct store_commit_req *q, size_t n, char *err,
                       size_t errlen);
    int (*index_send)(struct store *s, const struct store_index_req *q, size_t n,
                      size_t *ncmds, char *err, size_t errlen);
    int (*index_recv)(struct store *s, size_t ncmds, char *err, size_t errlen);
    void (*push)(struct store *s);
    void (*abandon)(struct store *s);
};

struct batch_ctx {
    struct store *store;
    const struct batch_store_ops *store_ops; /* NULL: the Redis store (store.h) */
    struct cache *cache;
    const struct model_ctx *model;
    int32_t task;          /* partition number of the task */
    int64_t emitted_at_ms; /* wall clock stamp of derived events */
    batch_publish_fn publish;
    batch_await_fn await;
    void *publish_arg;
    unsigned *pending;     /* derived events of this lane not yet acknowledged;
                              it outlives the batch (deliveries may come later) */
    int await_ms;          /* how long a commit waits for their acknowledgement */
    uint32_t dedup_window; /* recent ids kept per customer (cu_seen_add) */
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
 * another store connection) while Kafka acknowledges this one's derived
 * events.  batch_start loads, applies and publishes; batch_finish waits for
 * the acknowledgements, commits and reads the replies (retrying conflicts as
 * batch_run does) and returns what batch_run would.
 * items, *st and err must stay valid in between.  batch_start returns 0 with
 * *out to be finished (even when it failed: batch_finish then reports it), 1
 * with nothing done when a customer of the batch is held by another batch in
 * flight (finish that one first), or -1 with err (out of memory).
 */
struct batch;
int batch_start(const struct batch_ctx *b, struct batch_item *items, size_t n,
                struct batch_stats *st, char *err, size_t errlen, struct batch **out);
int batch_finish(struct batch *bt);
/* Give up a started batch without committing anything (its task goes while
 * Kafka has not acknowledged its derived events): its customers leave the
 * cache, and whoever applies its events next publishes them again. */
void batch_abandon(struct batch *bt);

#endif
