/*
 * tracker.h - which consumed offsets may be stored.
 *
 * A message's offset may be stored only when everything it caused is durable:
 * its state update applied in Redis and every message it produced (derived
 * events, DLQ record) acknowledged by the broker.  Each consumed message gets
 * an entry holding one reference per piece of unfinished work; the store point
 * of a partition advances over the leading entries whose references are all
 * released.  Pure bookkeeping, no librdkafka; main thread only.
 */
#ifndef LOYALTY_TRACKER_H
#define LOYALTY_TRACKER_H

#include <stddef.h>
#include <stdint.h>

struct tracker;
struct tracker_entry;

struct tracker *tracker_new(void);
void tracker_free(struct tracker *t);

/* A new consumed message with one reference (the processing itself).
 * Offsets of one partition must be added in increasing order.  NULL on ENOMEM. */
struct tracker_entry *tracker_add(struct tracker *t, const char *topic, int32_t partition,
                                  int64_t offset);
void tracker_hold(struct tracker_entry *e);
void tracker_release(struct tracker_entry *e);
/* Forget the newest entry of its partition without storing it (its message
 * will be processed again). */
void tracker_unadd(struct tracker_entry *e);

/* Store points that moved since the last call: for each, cb(topic, partition,
 * next_offset) where next_offset = last completed offset + 1. */
void tracker_collect(struct tracker *t,
                     void (*cb)(void *arg, const char *topic, int32_t partition,
                                int64_t next_offset),
                     void *arg);

/* Unfinished entries of one partition (0 = drained). */
size_t tracker_inflight(const struct tracker *t, const char *topic, int32_t partition);
size_t tracker_inflight_total(const struct tracker *t);

/* The partition was revoked: drop its bookkeeping.  Entries still referenced
 * stay valid until released, but never move a store point again. */
void tracker_forget(struct tracker *t, const char *topic, int32_t partition);

#endif
