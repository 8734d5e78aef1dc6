/*
 * dlqio.h - the DLQ read back and its records produced again, for
 * `loyaltyctl redrive` (daemon/redrive.c): a reader of every partition of
 * topic.dlq from its earliest offset to its high watermark as of the open,
 * committing nothing, and a sender on the shipped producer settings.
 */
#ifndef LOYALTY_DLQIO_H
#define LOYALTY_DLQIO_H

#include <stddef.h>
#include <stdint.h>

#include "consumers/options.h"

/* A header's value, NUL-terminated and cut to fit; "" when absent. */
#define DLQ_HDR_MAX 256

/* One DLQ record: key and value point into the reader's current message,
 * valid until the next dlq_reader_next() or the close. */
struct dlq_record {
    const char *key; /* NULL: no key */
    size_t keylen;
    const char *value;
    size_t len;
    int32_t partition; /* its own place in the DLQ */
    int64_t offset;
    char reason[DLQ_HDR_MAX];
    char source_topic[DLQ_HDR_MAX];
    char source_partition[DLQ_HDR_MAX];
    char source_offset[DLQ_HDR_MAX];
    char truncated[DLQ_HDR_MAX];
};

struct dlq_reader;

/* Assigns every partition of cfg->topic[TOPIC_DLQ] that holds records, under
 * a group of its own.  NULL with err on failure. */
struct dlq_reader *dlq_reader_open(const struct pipeline_opts *cfg, char *err,
                                   size_t errlen);
/* 1 with the next record, 0 once every partition reached the watermark it had
 * at the open, -1 with err (a broker error, or nothing read for timeout_ms). */
int dlq_reader_next(struct dlq_reader *r, struct dlq_record *rec, int timeout_ms,
                    char *err, size_t errlen);
void dlq_reader_close(struct dlq_reader *r);

struct dlq_sender;

/* A producer with kconf_producer's settings (idempotent, acks=all). */
struct dlq_sender *dlq_sender_open(const struct pipeline_opts *cfg, char *err,
                                   size_t errlen);
/* Hands one message over (key and value copied); partition < 0 lets the
 * partitioner choose.  0, or -1 with err. */
int dlq_sender_send(struct dlq_sender *s, const char *topic, int32_t partition,
                    const char *key, size_t keylen, const char *value, size_t len,
                    char *err, size_t errlen);
/* Waits up to timeout_ms for every message handed over to be delivered or to
 * fail.  *delivered and *failed count them; the first failure's reason goes
 * to err.  0 if every one was delivered, -1 otherwise. */
int dlq_sender_flush(struct dlq_sender *s, int timeout_ms, size_t *delivered,
                     size_t *failed, char *err, size_t errlen);
void dlq_sender_close(struct dlq_sender *s);

#endif
