/*
 * producer.h - the producer of derived events and DLQ records.
 *
 * An outbox entry handed over is published once while it is in flight (a
 * commit returns the whole outbox, earlier entries included), produced again
 * whenever a delivery fails (never given up), and dropped from the outbox
 * once delivered (producer_acks_flush, one round trip for all).  Every message
 * holds the offset tracker entries of its causes until its delivery report.
 * Main thread only.
 */
#ifndef LOYALTY_PRODUCER_H
#define LOYALTY_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "consumers/tracker.h"
#include "consumers/options.h"
#include "state/store.h"

/* What is kept of a consumed message once librdkafka's copy is released (its
 * fetch buffer goes with it): where it came from, and for the DLQ its key and
 * a prefix of its bytes. */
struct inmsg {
    int src; /* enum ev_source */
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms; /* the message's timestamp, -1 if none */
    size_t len;          /* original size */
    char *detail;        /* malformed: why (malloc'd), else NULL */
    size_t keylen, plen; /* data: key, then the first plen bytes */
    char data[];
};

/* A copy of m (key, and at most max_payload bytes of its value); NULL on
 * ENOMEM.  src is the input topic's enum ev_source. */
struct inmsg *inmsg_new(const rd_kafka_message_t *m, int src, size_t max_payload);
void inmsg_free(struct inmsg *in);

struct producer;

/* Takes conf over (also on failure). */
struct producer *producer_new(const struct pipeline_opts *cfg, struct store *store,
                              rd_kafka_conf_t *conf, char *err, size_t errlen);
void producer_free(struct producer *pr);
rd_kafka_t *producer_handle(struct producer *pr);

/* Publish a customer's outbox (a batch_publish_fn: arg is the producer,
 * opaques the tracker entries to hold). */
void producer_publish(void *arg, const char *customer_id,
                      const struct store_outbox *pending, void *const *opaques,
                      size_t nopaques);
/* A DLQ record of `in` holding `entry`.  0, -1 on ENOMEM. */
int producer_dead_letter(struct producer *pr, struct tracker_entry *entry,
                         const struct inmsg *in, const char *reason, const char *detail);

/* Produce what failed again and serve delivery reports, without waiting. */
void producer_serve(struct producer *pr);
/* Drop the delivered entries from their outboxes (one round trip). */
void producer_acks_flush(struct producer *pr);
/* Outbox entries handed to Kafka and not yet delivered and acknowledged. */
size_t producer_backlog(const struct producer *pr);
/* Serve delivery reports until nothing is outstanding or timeout_ms passed,
 * then flush the acks. */
void producer_settle(struct producer *pr, int timeout_ms);
void producer_flush(struct producer *pr, int timeout_ms);

#endif
