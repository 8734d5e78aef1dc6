/*
 * packed.h - the packed customer state: one versioned binary value holding
 * everything of a customer (the codec's fields, every bounded list, the
 * recent-id set) and what the store keeps beside it (revision, partition,
 * replay watermarks).  It is what Redis stores under c:{ID}:state and what
 * the cache keeps, so a load or a commit copies bytes (README, "State in
 * Redis"; the layout: docs/state.md, "Packed state").
 *
 * Pure: no I/O.  Integers are LEB128 varints (signed ones zigzagged), times
 * and days relative to the customer's as_of, hashes and doubles as fixed
 * little-endian words, so a decoder on any host reads what any host wrote.
 * Every field is listed once in a table in packed.c, in the order written.
 */
#ifndef LOYALTY_PACKED_H
#define LOYALTY_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "state/model/model.h"

/* The layout written by this build; older layouts it reads are listed in
 * docs/state.md. */
#define PACKED_LAYOUT 4
/* Instants beyond 2^53 ms (some 285,000 years) from the epoch are no
 * model's: a state holding one is damaged and does not decode. */
#define PACKED_TIME_LIMIT (INT64_C(1) << 53)
/* Days likewise (the model's differences of two days stay within int). */
#define PACKED_DAY_LIMIT ((int32_t)(PACKED_TIME_LIMIT / 86400000))

/* Watermarks kept per customer: one per input topic and partition number it
 * was fed from (normally the three topics of its own partition). */
#define STORE_WM_MAX 8

/* The replay watermark: the highest offset of (source, partition) applied. */
struct store_wm {
    int source; /* enum ev_source */
    int32_t partition;
    int64_t offset;
};

/* What the store keeps of a customer beside the model's state: packed with
 * it, so defined here; store.h's loads and commits pass it on. */
struct store_meta {
    int exists;
    int layout;        /* PACKED_LAYOUT, 3 (the packed state of the release
                          before), or 2 (the hash and aux string of the one
                          before that): rewritten at the next commit; 0 when
                          not stored */
    int64_t rev;       /* for the optimistic commit */
    int32_t partition; /* -1 if not recorded */
    size_t nwm;
    struct store_wm wm[STORE_WM_MAX];
};

/* Encode c with meta into buf (cap bytes).  Returns the size needed; buf is
 * written only if that is at most cap (buf NULL: only measure). */
size_t packed_encode(const struct customer *c, const struct store_meta *meta,
                     unsigned char *buf, size_t cap);
/* The same into a new malloc'd buffer of *len bytes; NULL on ENOMEM. */
unsigned char *packed_new(const struct customer *c, const struct store_meta *meta,
                          size_t *len);

/* Rebuild c (its id set to `id`) and meta (meta->exists set) from
 * packed_encode's output.  0, or -1 with err when buf is not a packed state
 * of a layout this build reads (truncated, a count over its bound, a name
 * with a NUL inside, a class, signal kind or reward type out of its enum,
 * trailing bytes). */
int packed_decode(const unsigned char *buf, size_t len, const char *id,
                  struct customer *c, struct store_meta *meta, char *err, size_t errlen);

#endif
