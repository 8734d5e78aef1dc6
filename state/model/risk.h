/*
 * risk.h - dissatisfaction signals and the churn risk (docs/model.md,
 * "Churn risk"): risk = 1 - p * prod over active signals (1 - w_signal),
 * where p is BG/NBD P(alive) for repeat buyers and the one-time-buyer
 * recency term otherwise.
 */
#ifndef LOYALTY_RISK_H
#define LOYALTY_RISK_H

#include "state/model/derived.h"
#include "state/model/mconfig.h"
#include "state/model/mtypes.h"

struct risk_eval {
    double x, t_x, T; /* BG/NBD statistics, weeks */
    double p_alive;   /* BG/NBD (1 for x == 0) */
    double p_eff;     /* p used in the risk */
    double factor;    /* prod (1 - w) over active signals */
    int active;       /* active signals */
    double risk;      /* quantised */
    struct derived_reasons why;
};

/* Records a signal unless one of the same kind and ref is already kept.
 * Returns 1 if added, 0 if a duplicate. */
int risk_signal_add(struct customer *c, enum signal_kind k, int64_t ts_ms, uint64_t ref,
                    uint64_t conv);
/* Forgets signals that no longer count at now_ms. */
void risk_prune(struct customer *c, const struct model_config *cfg, int64_t now_ms);
/* Is a signal of kind k active in (now - window, now]? */
int risk_recent(const struct customer *c, enum signal_kind k, int64_t now_ms,
                int64_t window_ms);
void risk_evaluate(const struct customer *c, const struct model_ctx *m, int64_t now_ms,
                   struct risk_eval *r);
/* The earlier, at day granularity, of: when the risk of an armed customer
 * reaches the threshold without any new event, and (palive_target > 0) the
 * first day p_eff (the signals left out) is below palive_target, unless it
 * already is.  One evaluation at as_of serves both; INT64_MAX if neither
 * ever happens. */
int64_t risk_next_due(const struct customer *c, const struct model_ctx *m,
                      double palive_target);

#endif
