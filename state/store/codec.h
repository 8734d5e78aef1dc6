/*
 * codec.h - struct customer <-> its readable text form.  Pure.
 *
 * The text form is a list of named scalar fields plus one auxiliary string
 * holding the bounded lists (rolling day buckets, open orders, conversations,
 * brand counts, incidents, signals).  It is what `loyaltyctl dump` shows, the
 * layout 2 store kept in Redis (read when upgrading, docs/state.md), and the
 * source of the summary hash's values; the state itself is stored packed
 * (state/store/packed.h).
 */
#ifndef LOYALTY_CODEC_H
#define LOYALTY_CODEC_H

#include <stddef.h>

#include "base/array.h"
#include "state/model/model.h"

struct kv {
    char *name;  /* in the list's own memory */
    char *value; /* in the list's own memory */
};

struct kv_chunk;

/* Name/value pairs; the strings are copied into chunks the list owns, so an
 * entry costs no allocation of its own. */
struct kvlist {
    ARRAY(struct kv);        /* the pairs in the order added, l->v[0 .. l->n - 1] */
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

/* The summary hash's fields (README, "State in Redis") of c that differ
 * from prev (all of them when prev is NULL), each with its value: a summary
 * field is always present, even at its default ("" only for the currency
 * of a customer without an order).  0, -1 on ENOMEM. */
int codec_summary_diff(const struct customer *prev, const struct customer *c,
                       struct kvlist *out);

/* Rebuild `c` from what codec_encode wrote.  A field that is absent or ""
 * keeps its customer_init value.  Unknown fields are ignored
 * (fields the store keeps for itself, newer versions); a field that does not
 * parse is an error.  `aux` may be NULL (new customer).  Returns 0 or -1. */
int codec_decode(struct customer *c, const char *customer_id, const struct kvlist *fields,
                 const char *aux, char *err, size_t errlen);

#endif
