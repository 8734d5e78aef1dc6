/*
 * cache.h - customers kept in memory between batches, bounded in bytes.
 *
 * An entry holds a customer as last committed (or loaded) with what the store
 * keeps beside it (revision, watermarks, partition).  The commit's revision
 * check catches any other writer, so an entry is only ever a shortcut: the
 * batch drops it on a conflict or an error and loads again.  Entries in use by
 * the running batch are pinned and never evicted.  Main thread only.
 */
#ifndef LOYALTY_CACHE_H
#define LOYALTY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "state/customer.h"
#include "state/store.h"

struct cache_entry {
    struct customer c;
    struct store_meta meta;
    int32_t task;        /* the partition number of the task that owns it */
    int misroute_logged; /* an event from another partition was logged */
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
/* A new entry for `id` (not cached yet), its customer uninitialised, owned by
 * `task`; evicts least recently used unpinned entries while over budget.
 * NULL on ENOMEM. */
struct cache_entry *cache_put(struct cache *k, const char *id, int32_t task);
void cache_drop(struct cache *k, struct cache_entry *e);
/* Drop every unpinned entry of one task (revoked), or of all (task < 0). */
void cache_drop_task(struct cache *k, int32_t task);
/* Evict least recently used unpinned entries until within budget. */
void cache_trim(struct cache *k);

size_t cache_count(const struct cache *k);
size_t cache_bytes(const struct cache *k);

#endif
