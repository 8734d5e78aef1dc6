/*
 * fold.h - one model pass over a customer: the event handlers (fold.c)
 * fold an event into the aggregates and note what it caused; model.c then
 * advances time, derives the scores and turns the notes into emissions.
 * Internal to the model.
 */
#ifndef LOYALTY_FOLD_H
#define LOYALTY_FOLD_H

#include "state/model/customer.h"
#include "state/model/mtypes.h"

#define PASS_NEW_MAX 16

struct pass_signal {
    enum signal_kind kind;
    uint64_t ref;
    int64_t ts_ms;
};

struct pass {
    struct customer *c;
    const struct model_ctx *m;
    int64_t now_ms;
    int sweep;                            /* a sweeper pass (no event) */
    struct pass_signal sig[PASS_NEW_MAX]; /* signals raised in this pass */
    int nsig;
    int milestone[PASS_NEW_MAX]; /* milestones reached in this pass */
    int nmilestone;
    char advocacy[EV_ID_MAX + 1]; /* event_id of a shared high rating, or "" */
    int64_t refund_cents;         /* order.returned: fold_refund's amount */
    int refund_at_order;          /* ... converted at its order's rate */
};

/* The refund of an order.returned in the model's hundredths, into
 * p->refund_cents: at its order's rate when the customer's orders as paid
 * hold that order in the return's currency and the return brings no
 * fx_rate of its own, else as consumers/convert.c converted it.  0, -1
 * when a converted amount leaves the int64 range, or -2 when it was left
 * unconverted (no rate of its day) and its order is not known.  Nothing of
 * the customer is changed. */
int fold_refund(struct pass *p, const struct event *ev);

/* Folds ev into p->c (aggregates and lists only); an order.returned after
 * fold_refund. */
void fold_event(struct pass *p, const struct event *ev);
/* Time-driven changes up to p->now_ms: SLA expiry, incident windows,
 * pruning of the windows and lists. */
void fold_advance(struct pass *p);
/* Raises a signal (deduplicated by kind and ref) and notes it if new; conv
 * is the conversation whose resolution lifts it, or 0. */
void fold_signal(struct pass *p, enum signal_kind k, int64_t ts_ms, uint64_t ref,
                 uint64_t conv);

#endif
