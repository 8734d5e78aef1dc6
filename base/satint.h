/*
 * satint.h - int64 sums that stop at the ends of the range instead of
 * overflowing (undefined behaviour in C).  The model's money sums grow with
 * every event a producer sends; no real customer comes near 2^63 cents, so a
 * sum pinned at a bound only ever means hostile or broken input, and is
 * still a number the rest of the model can work with.
 */
#ifndef LOYALTY_SATINT_H
#define LOYALTY_SATINT_H

#include <stdint.h>

static inline int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

static inline int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_sub_overflow(a, b, &r)) {
        return b < 0 ? INT64_MAX : INT64_MIN;
    }
    return r;
}

#endif
