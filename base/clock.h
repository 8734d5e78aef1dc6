/*
 * clock.h - the two clocks loyaltyd reads: the wall clock (epoch time, for
 * stamps and clock = wall) and the monotonic clock (for timeouts and
 * latencies).  Header-only.
 */
#ifndef LOYALTY_CLOCK_H
#define LOYALTY_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_us(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t wall_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

static inline int64_t wall_ms(void)
{
    return wall_us() / 1000;
}

static inline int64_t mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

static inline int64_t mono_ms(void)
{
    return mono_us() / 1000;
}

#endif
