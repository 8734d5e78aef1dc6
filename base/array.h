/*
 * array.h - the one growable array of the tree, typed.
 *
 * ARRAY(T) is the type { T *v; size_t n, cap; }: v[0..n-1] are the elements,
 * in the order they were added, and room is allocated for cap of them.  A
 * zeroed one (= {0}) is empty and ready.  Reading needs nothing of this
 * header: a.v[i] is element i (a T, checked by the compiler), a.n the count.
 *
 *     ARRAY(struct tx) txs = {0};            a variable
 *     struct txbuf { ARRAY(struct tx); };    a struct that is one (C11
 *                                            anonymous member: b->v, b->n)
 *     ARRAY(struct part *) parts;            a member of a larger struct
 *
 * The macros below take a pointer to such an array (never NULL) and evaluate
 * it more than once: pass a plain name or member, never an expression with
 * side effects.  Growing moves the elements: a pointer into v is stale after
 * anything that adds.  The array owns v only; what the elements point to is
 * the user's to free before array_free().  One owner at a time: nothing
 * here locks.
 */
#ifndef LOYALTY_ARRAY_H
#define LOYALTY_ARRAY_H

#include <stddef.h>

#define ARRAY(type)                                                                      \
    struct {                                                                             \
        type *v;                                                                         \
        size_t n, cap;                                                                   \
    }

/* Room for `need` elements in all: 0, or -1 (ENOMEM, the array unchanged). */
#define array_reserve(a, need) array_grow_(&(a)->v, &(a)->cap, sizeof(*(a)->v), (need))

/* A new last element, zeroed: a pointer to it, or NULL (ENOMEM, the array
 * unchanged). */
#define array_push(a)                                                                    \
    (array_push_(&(a)->v, &(a)->n, &(a)->cap, sizeof(*(a)->v)) < 0                       \
         ? NULL                                                                          \
         : &(a)->v[(a)->n - 1])

/* x copied in as the new last element: 0, or -1 (ENOMEM, the array
 * unchanged).  x is read after the array grew: never an element of it
 * through a pointer taken before. */
#define array_append(a, x)                                                               \
    (array_push_(&(a)->v, &(a)->n, &(a)->cap, sizeof(*(a)->v)) < 0                       \
         ? -1                                                                            \
         : ((a)->v[(a)->n - 1] = (x), 0))

/* Exactly n elements: those past n dropped, new ones zeroed.  0, or -1
 * (ENOMEM, the array unchanged). */
#define array_resize(a, count)                                                           \
    array_resize_(&(a)->v, &(a)->n, &(a)->cap, sizeof(*(a)->v), (count))

/* No elements, the memory kept for what comes next. */
#define array_clear(a) ((void)((a)->n = 0))

/* The memory released, the array empty (and ready again). */
#define array_free(a) array_free_(&(a)->v, &(a)->n, &(a)->cap)

/* The macros' work, on the address of v (any T **) and the element size. */
int array_grow_(void *vp, size_t *cap, size_t elem, size_t need);
int array_push_(void *vp, size_t *n, size_t *cap, size_t elem);
int array_resize_(void *vp, size_t *n, size_t *cap, size_t elem, size_t count);
void array_free_(void *vp, size_t *n, size_t *cap);

#endif
