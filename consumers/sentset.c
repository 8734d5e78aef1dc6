/*
 * sentset.c - a FIFO-bounded set of 128-bit ids (sentset.h): the ids in a
 * ring in the order added, and an open-addressing index over the ring
 * (linear probing, twice the ring's size, deletion by backward shift).  The
 * ids are digests, so their low bits are the hash.
 */
#include "consumers/sentset.h"

#include <stdint.h>
#include <stdlib.h>

struct id128 {
    uint64_t hi, lo;
};

struct sentset {
    struct id128 *ring; /* ids in the order added; cap of them */
    uint32_t *index;    /* ring position + 1, 0: empty; mask + 1 slots */
    size_t cap, mask, head, count;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

static int parse_id(const char *s, struct id128 *id)
{
    uint64_t v[2] = {0, 0};

    for (int i = 0; i < 32; i++) {
        int d = hexval(s[i]);

        if (d < 0) {
            return -1;
        }
        v[i / 16] = v[i / 16] << 4 | (uint64_t)d;
    }
    if (s[32] != '\0') {
        return -1;
    }
    id->hi = v[0];
    id->lo = v[1];
    return 0;
}

struct sentset *sentset_new(size_t cap)
{
    struct sentset *s = calloc(1, sizeof(*s));
    size_t c = 16;

    while (c < cap) {
        c <<= 1;
    }
    if (s == NULL) {
        return NULL;
    }
    s->cap = c;
    s->mask = 2 * c - 1;
    s->ring = malloc(c * sizeof(*s->ring));
    s->index = calloc(2 * c, sizeof(*s->index));
    if (s->ring == NULL || s->index == NULL) {
        sentset_free(s);
        return NULL;
    }
    return s;
}

void sentset_free(struct sentset *s)
{
    if (s == NULL) {
        return;
    }
    free(s->ring);
    free(s->index);
    free(s);
}

static size_t home(const struct sentset *s, const struct id128 *id)
{
    return (size_t)id->lo & s->mask;
}

/* The index slot of id, or of the empty slot where it would go. */
static size_t find(const struct sentset *s, const struct id128 *id)
{
    size_t i = home(s, id);

    while (s->index[i] != 0) {
        const struct id128 *k = &s->ring[s->index[i] - 1];

        if (k->lo == id->lo && k->hi == id->hi) {
            break;
        }
        i = (i + 1) & s->mask;
    }
    return i;
}

/* Empty slot i, moving back the entries after it that would no longer be
 * found past the hole. */
static void remove_slot(struct sentset *s, size_t i)
{
    size_t j = i;

    for (;;) {
        size_t k;

        j = (j + 1) & s->mask;
        if (s->index[j] == 0) {
            break;
        }
        k = home(s, &s->ring[s->index[j] - 1]);
        /* The entry at j stays where it is if its home lies cyclically in
         * (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) {
            continue;
        }
        s->index[i] = s->index[j];
        i = j;
    }
    s->index[i] = 0;
}

void sentset_add(struct sentset *s, const char *id)
{
    struct id128 k;
    size_t slot;

    if (s == NULL || parse_id(id, &k) < 0 || s->index[find(s, &k)] != 0) {
        return;
    }
    if (s->count == s->cap) { /* the oldest goes */
        remove_slot(s, find(s, &s->ring[s->head]));
    } else {
        s->count++;
    }
    s->ring[s->head] = k;
    slot = find(s, &k);
    s->index[slot] = (uint32_t)s->head + 1;
    s->head = (s->head + 1) & (s->cap - 1);
}

int sentset_has(const struct sentset *s, const char *id)
{
    struct id128 k;

    return s != NULL && parse_id(id, &k) == 0 && s->index[find(s, &k)] != 0;
}

size_t sentset_count(const struct sentset *s)
{
    return s ? s->count : 0;
}
