/*
 * segment.h - the satisfaction x loyalty segment (docs/model.md, "Segment").
 */
#ifndef LOYALTY_SEGMENT_H
#define LOYALTY_SEGMENT_H

#include "state/mconfig.h"

struct seg_view {
    int purchases; /* distinct purchase days */
    int repeat;    /* at least two purchase days */
    int dissatisfied;
    int active_signals; /* in the signal window */
    double mean_rating; /* 0 if no rating */
    int fading;         /* p < palive_low or no order in 90 days */
    double discount_share, fast_share;
    int64_t age_days; /* since the first purchase */
};

/* active_signals and p_eff come from the risk evaluation at now_ms. */
enum segment seg_classify(const struct customer *c, const struct model_config *cfg,
                          int active_signals, double p_eff, int64_t now_ms,
                          struct seg_view *v);

#endif
