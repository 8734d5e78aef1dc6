/*
 * cache.h - customers kept in memory between batches, bounded in bytes.
 *
 * An entry holds a customer as last committed (or loaded), in the packed
 * form Redis stores (state/store/packed.h), with what the store keeps beside it
 * (revision, watermarks, partition, layout) decoded.  The commit's revision
 * check catches any other writer, so an entry is only ever a shortcut: the
 * batch drops it on a conflict or an error and loads again.  Entries in use by
 * the running batch are pinned and never evicted.  Main thread only.
 */
#ifndef LOYALTY_CACHE_H
#define LOYALTY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "state/model/model.h"
#include "state/store/store.h"

struct cache_entry {
    char id[EV_ID_MAX + 1];
    unsigned char *blob; /* packed_encode of the customer; owned; NULL until set */
    size_t len;
    struct store_meta meta;
    int32_t task;        /* the partition number of the task that owns it */
    int misroute_logged; /* an event from another partition was logged */
    /* What this process last wrote to the indices and the due set for it
     * (valid when `indexed`): an unchanged score is not written again. */
    int indexed;
    double idx[STORE_IDX__COUNT];
    int64_t idx_due;
    unsigned pinned;
    /* private */
    uint64_t hash;
    struct cache_entry *hnext, *prev, *next;
};

struct cache;

struct cache *cache_new(size_t max_bytes);
void cache_free(struct cache *k);

/* The entry of `id`, made most recently used; NULL if not cached. */
struct cache_entry *cache_get(struct cache *k, const char *id);
/* A new entry for `id` (not cached yet), without a customer yet, owned by
 * `task`; evicts least recently used unpinned entries while over budget.
 * NULL on ENOMEM. */
struct cache_entry *cache_put(struct cache *k, const char *id, int32_t task);
/* Replace the entry's packed customer (blob is taken over). */
void cache_set_blob(struct cache *k, struct cache_entry *e, unsigned char *blob,
                    size_t len);
void cache_drop(struct cache *k, struct cache_entry *e);
/* Drop every unpinned entry of one task (revoked), or of all (task < 0). */
void cache_drop_task(struct cache *k, int32_t task);
/* Evict least recently used unpinned entries until within budget. */
void cache_trim(struct cache *k);

size_t cache_count(const struct cache *k);
size_t cache_bytes(const struct cache *k);

#endif
