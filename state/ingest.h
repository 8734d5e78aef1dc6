/*
 * ingest.h - one state change, in one shape: load the customer, run the model,
 * commit state + watermark + outbox atomically, refresh the indices.
 *
 * Talks to Redis only through state/store.h; knows nothing of Kafka.  The
 * caller publishes what lands in `pending` and acks each entry after its
 * delivery report (store_outbox_ack).
 */
#ifndef LOYALTY_INGEST_H
#define LOYALTY_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "state/event.h"
#include "state/model.h"
#include "state/store.h"

enum ingest_status {
    INGEST_OK = 0,    /* applied; pending holds what to publish */
    INGEST_DUPLICATE, /* already applied earlier; pending holds leftovers */
    INGEST_RETRY,     /* Redis unavailable: nothing changed, try again later */
    INGEST_FAILED     /* the model refused the event (bug or corrupt state) */
};

/*
 * Apply `ev` from `origin`.  `emitted_at_ms` stamps the derived events
 * created now (wall clock); replays of recorded ones keep their stamp.
 */
enum ingest_status ingest_event(struct store *s, const struct model_ctx *m,
                                const struct event *ev, const struct store_origin *origin,
                                int64_t emitted_at_ms, struct store_outbox *pending,
                                char *err, size_t errlen);

/* Re-evaluate a customer the sweeper found due at `now_ms`. */
enum ingest_status ingest_sweep(struct store *s, const struct model_ctx *m,
                                const char *id, int32_t partition, int64_t now_ms,
                                int64_t emitted_at_ms, struct store_outbox *pending,
                                char *err, size_t errlen);

#endif
