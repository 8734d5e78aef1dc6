/*
 * kvlist.c - lists of name/value pairs (declared in codec.h), their strings
 * copied into chunks the list owns: chunks, not one growing buffer, as the
 * pointers handed out must not move when more pairs are added.
 */
#include "state/store/codec.h"

#include <stdlib.h>
#include <string.h>

struct kv_chunk {
    struct kv_chunk *next;
    size_t used, size;
    char data[];
};

#define KV_CHUNK_MIN 512

void kvlist_init(struct kvlist *l)
{
    memset(l, 0, sizeof(*l));
}

void kvlist_free(struct kvlist *l)
{
    struct kv_chunk *k = l->chunks, *next;

    for (; k != NULL; k = next) {
        next = k->next;
        free(k);
    }
    array_free(l);
    l->chunks = NULL;
}

/* Room for len bytes in the list's chunks; NULL on ENOMEM. */
static char *kv_room(struct kvlist *l, size_t len)
{
    struct kv_chunk *k = l->chunks;

    if (k == NULL || k->size - k->used < len) {
        /* 512 bytes hold what one commit usually changes; then doubling */
        size_t size = k ? 2 * k->size : KV_CHUNK_MIN;

        if (size < len) {
            size = len;
        }

        if ((k = malloc(sizeof(*k) + size)) == NULL) {
            return NULL;
        }
        k->next = l->chunks;
        k->used = 0;
        k->size = size;
        l->chunks = k;
    }
    k->used += len;
    return k->data + k->used - len;
}

int kvlist_add(struct kvlist *l, const char *name, const char *value)
{
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    char *p;

    if ((p = kv_room(l, nl + vl)) == NULL) {
        return -1;
    }
    memcpy(p, name, nl);
    memcpy(p + nl, value, vl);
    return array_append(l, ((struct kv){p, p + nl}));
}

const char *kvlist_get(const struct kvlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, name) == 0) {
            return l->v[i].value;
        }
    }
    return NULL;
}
