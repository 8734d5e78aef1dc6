/*
 * window.h - rolling 30/90/365-day windows over day buckets.
 *
 * A window of N days at day D holds the days D-N+1 .. D (today and the N-1
 * days before): an order exactly N days ago is outside it.  Buckets older
 * than 365 days before the newest evaluated day are pruned, so the list
 * never holds more than CU_DAYS_MAX entries and every window stays exact.
 */
#ifndef LOYALTY_WINDOW_H
#define LOYALTY_WINDOW_H

#include "state/model/customer.h"

#define WIN_DAYS CU_WINDOW_DAYS

struct win_sums {
    int64_t orders, spend_cents, refund_cents, margin_cents, costed;
};

/* The bucket of `day`, or NULL. */
struct cu_day *win_find(struct customer *c, int32_t day);
/* Adds delta's figures (its day is not read) to the bucket of `day`
 * (created if needed) unless the day is outside
 * the 365-day window ending at now_day; drops a bucket that becomes empty.
 * Returns 0, or -1 if the day is too old to be kept. */
int win_add(struct customer *c, int32_t now_day, int32_t day, const struct cu_day *delta);
void win_prune(struct customer *c, int32_t now_day);
void win_sum(const struct customer *c, int32_t now_day, int ndays, struct win_sums *s);
/* The newest / oldest bucket day with orders in (lo, hi), or -1. */
int32_t win_order_day_before(const struct customer *c, int32_t hi);
int32_t win_order_day_after(const struct customer *c, int32_t lo);

#endif
