#include "consumers/idset.h"

#include <stdint.h>
#include <stdlib.h>

enum slot_state { SLOT_EMPTY = 0, SLOT_USED, SLOT_GONE };

struct slot {
    uint64_t hi, lo;
    enum slot_state state;
};

struct idset {
    struct slot *slots;
    size_t cap;  /* power of two */
    size_t used; /* SLOT_USED */
    size_t gone; /* SLOT_GONE */
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_id(const char *hex, uint64_t *hi, uint64_t *lo)
{
    uint64_t v[2] = {0, 0};
    int i;

    for (i = 0; i < 32 && hex[i]; i++) {
        int d = hexval(hex[i]);

        if (d < 0)
            return -1;
        v[i / 16] = (v[i / 16] << 4) | (uint64_t)d;
    }
    if (i != 32 || hex[32] != '\0')
        return -1;
    *hi = v[0];
    *lo = v[1];
    return 0;
}

struct idset *idset_new(void)
{
    struct idset *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->cap = 64;
    if ((s->slots = calloc(s->cap, sizeof(*s->slots))) == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void idset_free(struct idset *s)
{
    if (s == NULL)
        return;
    free(s->slots);
    free(s);
}

/* The ids are digests already: their low bits are as good as any hash. */
static struct slot *find(const struct idset *s, uint64_t hi, uint64_t lo, int for_insert)
{
    size_t mask = s->cap - 1, i = (size_t)(lo ^ hi) & mask;
    struct slot *first_gone = NULL;

    for (size_t n = 0; n < s->cap; n++, i = (i + 1) & mask) {
        struct slot *sl = &s->slots[i];

        if (sl->state == SLOT_EMPTY)
            return for_insert ? (first_gone ? first_gone : sl) : NULL;
        if (sl->state == SLOT_GONE) {
            if (first_gone == NULL)
                first_gone = sl;
        } else if (sl->hi == hi && sl->lo == lo) {
            return sl;
        }
    }
    return for_insert ? first_gone : NULL;
}

static int grow(struct idset *s)
{
    struct slot *old = s->slots;
    size_t oldcap = s->cap;
    size_t cap = s->used * 4 > oldcap ? oldcap * 2 : oldcap; /* else just rehash */

    if ((s->slots = calloc(cap, sizeof(*s->slots))) == NULL) {
        s->slots = old;
        return -1;
    }
    s->cap = cap;
    s->gone = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].state == SLOT_USED)
            *find(s, old[i].hi, old[i].lo, 1) = old[i];
    free(old);
    return 0;
}

int idset_add(struct idset *s, const char *hex_id)
{
    uint64_t hi, lo;
    struct slot *sl;

    if (parse_id(hex_id, &hi, &lo) < 0)
        return -1;
    if ((s->used + s->gone + 1) * 2 > s->cap && grow(s) < 0)
        return -1;
    sl = find(s, hi, lo, 1);
    if (sl->state == SLOT_USED)
        return 0;
    if (sl->state == SLOT_GONE)
        s->gone--;
    *sl = (struct slot){hi, lo, SLOT_USED};
    s->used++;
    return 1;
}

int idset_contains(const struct idset *s, const char *hex_id)
{
    uint64_t hi, lo;

    return parse_id(hex_id, &hi, &lo) == 0 && find(s, hi, lo, 0) != NULL;
}

void idset_remove(struct idset *s, const char *hex_id)
{
    uint64_t hi, lo;
    struct slot *sl;

    if (parse_id(hex_id, &hi, &lo) < 0 || (sl = find(s, hi, lo, 0)) == NULL)
        return;
    sl->state = SLOT_GONE;
    s->used--;
    s->gone++;
}

size_t idset_size(const struct idset *s)
{
    return s->used;
}
