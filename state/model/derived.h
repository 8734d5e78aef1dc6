/*
 * derived.h - the outgoing events' ids and payloads (README, "Events out").  Pure: a
 * payload is a function of the customer state, the cause and the evaluation
 * time only, so a replay yields byte-identical payloads; the wall-clock
 * `emitted_at` is added by the daemon with derived_finish() just before
 * producing.
 */
#ifndef LOYALTY_DERIVED_H
#define LOYALTY_DERIVED_H

#include <stddef.h>
#include <stdint.h>

#include "state/model/customer.h"

#define DERIVED_SCHEMA_REWARD  "loyalty.reward-trigger"
#define DERIVED_SCHEMA_CHURN   "loyalty.churn-risk"
#define DERIVED_SCHEMA_SEGMENT "loyalty.segment-change"
#define DERIVED_SCHEMA_VERSION 3
#define DERIVED_REASONS_MAX    16

struct derived_reasons {
    const char *v[DERIVED_REASONS_MAX]; /* static strings */
    size_t n;
};

/* The classes a segment-change event reports the old values of. */
struct seg_classes {
    enum segment segment;
    enum brand_type brand_type;
    enum loyalty_type loyalty_type;
};

/* Adds a reason code once; silently ignores it when the list is full. */
void derived_reason_add(struct derived_reasons *r, const char *code);

struct derived_reward {
    enum reward_type type;
    int milestone;         /* RW_MILESTONE: the purchase-day count */
    const char *tier;      /* RW_TIER: the new tier */
    const char *kind;      /* coupon | points | cashback | gift */
    double value;          /* units of `currency`, or points */
    char currency[4];      /* "": the customer's (struct customer) */
    const char *graded_by; /* revenue | margin */
};

/* 32 lower-case hex digits: the first 128 bits of SHA-256 of customer_id NUL
 * kind NUL cause (base/digest.h: a customer id from outside cannot be made
 * to give another customer's id).  The same cause always yields the same id.
 * 0, or -1 (out of memory). */
int derived_id(const char *customer_id, const char *kind, const char *cause,
               char out[33]);

/* Payload JSON (malloc'd, NULL on allocation failure). */
char *derived_reward_payload(const struct customer *c, const char *event_id,
                             int64_t as_of_ms, const struct derived_reasons *why,
                             const struct derived_reward *rw);
char *derived_churn_payload(const struct customer *c, const char *event_id,
                            int64_t as_of_ms, double threshold,
                            const struct derived_reasons *why);

/* `was` holds the classes before the change, c the new ones. */
char *derived_segment_payload(const struct customer *c, const char *event_id,
                              int64_t as_of_ms, const struct derived_reasons *why,
                              const struct seg_classes *was);

/* The message to produce: `payload` with "emitted_at" appended as the last
 * member.  *out is malloc'd.  Returns 0, or -1 (not an object, ENOMEM). */
int derived_finish(const char *payload, int64_t emitted_at_ms, char **out);

#endif
