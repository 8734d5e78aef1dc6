/*
 * parse.h - JSON bytes -> struct event, or a machine-readable rejection.
 *
 * Pure: no Kafka, no Redis, no clock (the caller passes "now" for the
 * future-skew check).  Thread-safe: no global state besides cJSON's hooks.
 */
#ifndef LOYALTY_PARSE_H
#define LOYALTY_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "state/model/model.h"

/* Reasons a message goes to the dead-letter topic.  The string form
 * (parse_reason_name) is the `reason` field of the DLQ record and a metrics
 * label, so names are stable. */
enum parse_reason {
    PR_OK = 0,
    PR_TOO_LARGE,     /* "too_large": message bigger than max_message_bytes */
    PR_INVALID_UTF8,  /* "invalid_utf8" */
    PR_TOO_DEEP,      /* "too_deep": nesting deeper than max_depth */
    PR_INVALID_JSON,  /* "invalid_json"; also NUL or raw control bytes, the
                         \u0000 escape, a repeated key */
    PR_NOT_OBJECT,    /* "not_object": top level is not a JSON object */
    PR_MISSING_FIELD, /* "missing_field" */
    PR_WRONG_TYPE,    /* "wrong_type": a field has the wrong JSON type */
    PR_UNKNOWN_TYPE,  /* "unknown_type": `type` is not a known event type */
    PR_WRONG_TOPIC,   /* "wrong_topic": known type on another topic */
    PR_BAD_ENUM,      /* "bad_enum": unknown value of an enumerated field */
    PR_BAD_ID,        /* "bad_id": empty or too long id / name string */
    PR_BAD_AMOUNT,    /* "bad_amount": negative, non-finite, above max, or with
                         more decimal places than its currency has */
    PR_BAD_CURRENCY,  /* "bad_currency": not an ISO 4217 code */
    PR_BAD_QUANTITY,  /* "bad_quantity": item qty not a positive integer */
    PR_BAD_RATING,    /* "bad_rating": not an integer 1..5 */
    PR_BAD_TIMESTAMP, /* "bad_timestamp": unparsable, no offset, <= 1970-01-01T00:00Z */
    PR_FUTURE_TIMESTAMP, /* "future_timestamp": beyond now + max_future_skew */
    PR_TOO_MANY_ITEMS,   /* "too_many_items" */
    PR_BAD_KEY,          /* "bad_key": no message key, or not the customer_id (the
                            pipeline's check, input.bad_key = dlq) */
    PR_NO_RATE,          /* "no_rate": no exchange rate to the reporting currency
                            on or before the event's day (consumers/convert.c);
                            redriven once the rate is imported */
    PR_NO_MEMORY,        /* "no_memory": allocation failed; not the message's
                            fault, so the caller should retry, not dead-letter */
    PR__COUNT
};

struct parse_limits {
    size_t max_message_bytes;   /* default 1 MiB */
    int max_depth;              /* default 32 */
    double max_amount;          /* default 1e9 */
    int64_t max_future_skew_ms; /* default 24 h */
    /* On a Redis Cluster (redis.cluster): a customer_id starting with '}' is
     * refused, as "c:{}..." has an empty hash tag and the customer's keys
     * would not share a slot.  Default 0. */
    int cluster_ids;
};

void parse_limits_default(struct parse_limits *lim);

/*
 * Parse one message from topic role `src`.  On success fills *ev (which the
 * caller releases with event_free) and returns PR_OK.  On failure returns the
 * reason, writes a human-readable detail (field name and what was wrong) into
 * `detail`, and leaves *ev released (nothing to free).
 */
enum parse_reason parse_event(const char *buf, size_t len, enum ev_source src,
                              const struct parse_limits *lim, int64_t now_ms,
                              struct event *ev, char *detail, size_t detail_len);

/* The reasons' names, indexed by reason (base/names.h): the DLQ's reason
 * header and the metrics' label. */
extern const char *const parse_reason_names[PR__COUNT];
const char *parse_reason_name(enum parse_reason r);

/* Strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF, no
 * truncated sequence at the end).  Returns 1 if valid, 0 if not. */
int parse_utf8_valid(const char *s, size_t len);

#endif
