/*
 * producer.h - the producer of derived events and DLQ records.
 *
 * A derived event is handed over before the state that caused it is
 * committed: it counts in its batch's wait counter until its delivery report,
 * and the batch commits once the counter is back at 0 (producer_await).  A
 * DLQ record holds the offset tracker entry of its input until its delivery
 * report.  Either is produced again whenever a delivery fails, never given
 * up: a topic's failed messages in rounds, after 100 ms, then twice as long
 * as the last wait up to 5 s, and back to 100 ms once the topic takes one;
 * its failures are logged at most every 5 s, with a count of the attempts
 * left out.  Main thread only.
 */
#ifndef LOYALTY_PRODUCER_H
#define LOYALTY_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "consumers/options.h"
#include "consumers/tracker.h"
#include "state/store/store.h"

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
struct producer *producer_new(const struct pipeline_opts *cfg, rd_kafka_conf_t *conf,
                              char *err, size_t errlen);
void producer_free(struct producer *pr);
rd_kafka_t *producer_handle(struct producer *pr);

/* What the owner hears from a producer that may keep it waiting: waiting()
 * about every 100 ms of a producer_await (the main loop runs nothing else
 * meanwhile, so readiness is judged there), brokers_down() when the
 * producer's error callback reports every broker unreachable
 * (producer_on_error). */
struct producer_hooks {
    void (*waiting)(void *arg);
    void (*brokers_down)(void *arg);
    void *arg;
};
void producer_set_hooks(struct producer *pr, const struct producer_hooks *h);
/* librdkafka's error callback of the producer (its opaque is the producer). */
void producer_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);

/* Publish a customer's derived events (a batch_publish_fn: arg is the
 * producer): *pending goes up by one per event and down again at its
 * delivery, so it must outlive the deliveries.  They hold no input offset:
 * their batch commits, and its offsets are stored, only once they are
 * delivered.  0, -1 on ENOMEM (the events handed over so far count). */
int producer_publish(void *arg, const char *customer_id, const struct publish_list *l,
                     unsigned *pending);
/* Serve delivery reports (producing failed ones again) until *pending is 0
 * (0) or timeout_ms passed (-1); a batch_await_fn, arg is the producer. */
int producer_await(void *arg, const unsigned *pending, int timeout_ms);
/* A DLQ record of `in` holding `entry`.  0, -1 on ENOMEM. */
int producer_dead_letter(struct producer *pr, struct tracker_entry *entry,
                         const struct inmsg *in, const char *reason, const char *detail);

/* Produce what failed again and serve delivery reports, without waiting. */
void producer_serve(struct producer *pr);
/* Derived events handed to Kafka and not yet delivered. */
size_t producer_backlog(const struct producer *pr);
/* The keys' and values' bytes of every message handed over and not yet
 * delivered: derived events and DLQ records, those waiting to be produced
 * again included. */
size_t producer_pending_bytes(const struct producer *pr);
/* How long the output topic that has waited longest has gone without a
 * delivery while messages wait for one (0: none waits); its enum topic_role
 * in *role when not NULL. */
int64_t producer_quiet_ms(const struct producer *pr, int *role);
/* Serve delivery reports until nothing is outstanding or timeout_ms passed. */
void producer_settle(struct producer *pr, int timeout_ms);
void producer_flush(struct producer *pr, int timeout_ms);

#endif
