/*
 * array.c - the growable array (see array.h).
 *
 * The element pointer arrives as the address of a T *; it is read and written
 * with memcpy, so any T * goes through one function without its type.
 */
#include "base/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MIN 8

static char *get_v(const void *vp)
{
    char *v;

    memcpy(&v, vp, sizeof(v));
    return v;
}

static void set_v(void *vp, char *v)
{
    memcpy(vp, &v, sizeof(v));
}

int array_grow_(void *vp, size_t *cap, size_t elem, size_t need)
{
    size_t c = *cap ? *cap : ARRAY_MIN;
    char *v;

    if (need <= *cap) {
        return 0;
    }
    while (c < need && c <= SIZE_MAX / 2) {
        c *= 2;
    }
    if (c < need) {
        c = need;
    }
    if (c > SIZE_MAX / elem) {
        errno = ENOMEM;
        return -1;
    }
    if ((v = realloc(get_v(vp), c * elem)) == NULL) {
        return -1;
    }
    set_v(vp, v);
    *cap = c;
    return 0;
}

int array_push_(void *vp, size_t *n, size_t *cap, size_t elem)
{
    if (*n == SIZE_MAX || array_grow_(vp, cap, elem, *n + 1) < 0) {
        return -1;
    }
    memset(get_v(vp) + *n * elem, 0, elem);
    (*n)++;
    return 0;
}

int array_resize_(void *vp, size_t *n, size_t *cap, size_t elem, size_t count)
{
    if (array_grow_(vp, cap, elem, count) < 0) {
        return -1;
    }
    if (count > *n) {
        memset(get_v(vp) + *n * elem, 0, (count - *n) * elem);
    }
    *n = count;
    return 0;
}

void array_free_(void *vp, size_t *n, size_t *cap)
{
    free(get_v(vp));
    set_v(vp, NULL);
    *n = *cap = 0;
}
