#include "state/engine/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cache {
    size_t max_bytes, count, bytes;
    struct cache_entry **buckets;
    size_t nbuckets;        /* a power of two */
    struct cache_entry lru; /* sentinel: lru.next is the least recently used */
};

#define ENTRY_BYTES(e) (sizeof(struct cache_entry) + (e)->len)

struct cache *cache_new(size_t max_bytes)
{
    struct cache *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        return NULL;
    }
    k->max_bytes = max_bytes;
    k->nbuckets = 1024;
    if ((k->buckets = calloc(k->nbuckets, sizeof(*k->buckets))) == NULL) {
        free(k);
        return NULL;
    }
    k->lru.prev = k->lru.next = &k->lru;
    return k;
}

static void lru_unlink(struct cache_entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push(struct cache *k, struct cache_entry *e)
{
    e->prev = k->lru.prev;
    e->next = &k->lru;
    k->lru.prev->next = e;
    k->lru.prev = e;
}

void cache_free(struct cache *k)
{
    if (k == NULL) {
        return;
    }
    while (k->lru.next != &k->lru) {
        struct cache_entry *e = k->lru.next;

        lru_unlink(e);
        free(e->blob);
        free(e);
    }
    free(k->buckets);
    free(k);
}

static struct cache_entry **slot_of(struct cache *k, uint64_t h, const char *id)
{
    struct cache_entry **p = &k->buckets[h & (k->nbuckets - 1)];

    while (*p != NULL && ((*p)->hash != h || strcmp((*p)->id, id) != 0)) {
        p = &(*p)->hnext;
    }
    return p;
}

struct cache_entry *cache_get(struct cache *k, const char *id)
{
    struct cache_entry *e = *slot_of(k, cu_hash64(id), id);

    if (e != NULL) {
        lru_unlink(e);
        lru_push(k, e);
    }
    return e;
}

/* Double the bucket array when the chains grow long; on ENOMEM keep it. */
static void rehash(struct cache *k)
{
    size_t n = k->nbuckets * 2;
    struct cache_entry **b = calloc(n, sizeof(*b));

    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < k->nbuckets; i++) {
        struct cache_entry *e = k->buckets[i], *next;

        for (; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(k->buckets);
    k->buckets = b;
    k->nbuckets = n;
}

void cache_drop(struct cache *k, struct cache_entry *e)
{
    struct cache_entry **p = &k->buckets[e->hash & (k->nbuckets - 1)];

    /* By pointer, not by id: exactly this entry leaves the chain. */
    while (*p != NULL && *p != e) {
        p = &(*p)->hnext;
    }
    if (*p == e) {
        *p = e->hnext;
    }
    lru_unlink(e);
    k->count--;
    k->bytes -= ENTRY_BYTES(e);
    free(e->blob);
    free(e);
}

void cache_trim(struct cache *k)
{
    struct cache_entry *e = k->lru.next;

    while (e != &k->lru && k->bytes > k->max_bytes) {
        struct cache_entry *next = e->next;

        if (!e->pinned) {
            cache_drop(k, e);
        }
        e = next;
    }
}

struct cache_entry *cache_put(struct cache *k, const char *id, int32_t task)
{
    struct cache_entry *e = malloc(sizeof(*e));
    uint64_t h = cu_hash64(id);

    if (e == NULL) {
        return NULL;
    }
    memset(&e->meta, 0, sizeof(e->meta));
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->blob = NULL;
    e->len = 0;
    e->task = task;
    e->misroute_logged = 0;
    e->indexed = 0;
    e->pinned = 1; /* not evicted by the trim below */
    e->hash = h;
    e->hnext = k->buckets[h & (k->nbuckets - 1)];
    k->buckets[h & (k->nbuckets - 1)] = e;
    lru_push(k, e);
    k->count++;
    k->bytes += ENTRY_BYTES(e);
    if (k->count > 2 * k->nbuckets) {
        rehash(k);
    }
    cache_trim(k);
    e->pinned = 0;
    return e;
}

void cache_drop_task(struct cache *k, int32_t task)
{
    struct cache_entry *e = k->lru.next;

    while (e != &k->lru) {
        struct cache_entry *next = e->next;

        if (!e->pinned && (task < 0 || e->task == task)) {
            cache_drop(k, e);
        }
        e = next;
    }
}

size_t cache_count(const struct cache *k)
{
    return k->count;
}

void cache_set_blob(struct cache *k, struct cache_entry *e, unsigned char *blob,
                    size_t len)
{
    k->bytes -= e->len;
    free(e->blob);
    e->blob = blob;
    e->len = len;
    k->bytes += len;
}

size_t cache_bytes(const struct cache *k)
{
    return k->bytes;
}
