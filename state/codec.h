/*
 * codec.h - struct customer <-> the strings stored in Redis.  Pure: the store
 * moves these strings, the codec alone knows what they mean.
 *
 * A customer is stored as one hash of readable scalar fields (each value short
 * enough for Redis' listpack encoding) plus one auxiliary string holding the
 * bounded lists (rolling day buckets, open orders, conversations, brand
 * counts, incidents, signals) in a compact text form.
 */
#ifndef LOYALTY_CODEC_H
#define LOYALTY_CODEC_H

#include <stddef.h>

#include "state/customer.h"

struct kv {
    char *name;  /* in the list's own memory */
    char *value; /* in the list's own memory */
};

struct kv_chunk;

/* Name/value pairs; the strings are copied into chunks the list owns, so an
 * entry costs no allocation of its own. */
struct kvlist {
    struct kv *v;
    size_t n, cap;
    struct kv_chunk *chunks; /* newest first */
};

void kvlist_init(struct kvlist *l);
void kvlist_free(struct kvlist *l);
/* Copies both strings.  Returns 0, -1 on allocation failure. */
int kvlist_add(struct kvlist *l, const char *name, const char *value);
const char *kvlist_get(const struct kvlist *l, const char *name);

/* Append the hash fields of `c` to `fields` and set *aux to a malloc'd string
 * (the auxiliary key's value).  A field whose value is "" is at its default
 * and must be absent from the stored hash (the store deletes it), so a
 * typical customer stores only the fields that say something.  Returns 0 or
 * -1 (allocation). */
int codec_encode(const struct customer *c, struct kvlist *fields, char **aux);
/* Only what differs from `prev` (the state as last stored): the changed
 * fields (a field back at its default as ""), and *aux NULL when no list
 * changed.  prev NULL is a full encoding, the format version included. */
int codec_encode_diff(const struct customer *prev, const struct customer *c,
                      struct kvlist *fields, char **aux);

/* Rebuild `c` from what codec_encode wrote.  A field that is absent or ""
 * keeps its customer_init value.  Unknown fields are ignored
 * (fields the store keeps for itself, newer versions); a field that does not
 * parse is an error.  `aux` may be NULL (new customer).  Returns 0 or -1. */
int codec_decode(struct customer *c, const char *customer_id, const struct kvlist *fields,
                 const char *aux, char *err, size_t errlen);

/* The shortest of %.15g, %.16g and %.17g that reads back as exactly v (in
 * fixed notation where %g allows it: "10", not "1e+01"): the form of every
 * double the codec stores and the payloads carry. */
void codec_fmt_double(char *buf, size_t len, double v);

/* A compact binary copy of `c` for keeping it in memory (not a storage
 * format: it is only read back by the same build): the scalars and the used
 * entries of every list.  Returns the size it needs; writes buf only if that
 * is at most cap (buf NULL: only measure). */
size_t codec_pack(const struct customer *c, unsigned char *buf, size_t cap);
/* Rebuild `c` from codec_pack's output (unused list slots zeroed).  0, or
 * -1 if buf is not such output. */
int codec_unpack(const unsigned char *buf, size_t len, struct customer *c);

#endif
