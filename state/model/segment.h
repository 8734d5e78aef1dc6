/*
 * segment.h - the satisfaction x loyalty segment (docs/model.md, "Segment").
 */
#ifndef LOYALTY_SEGMENT_H
#define LOYALTY_SEGMENT_H

#include "state/model/mconfig.h"

struct seg_view {
    int purchases; /* distinct purchase days */
    int repeat;    /* at least two purchase days */
    int dissatisfied;
    int active_signals;  /* in the signal window */
    double pain;         /* 1 - prod (1 - w) over the active signals */
    double goodwill;     /* goodwill x attitude: the pain it takes to dissatisfy */
    double mean_rating;  /* 0 if no rating */
    int fading;          /* p < palive_low or no order in 90 days */
    int lapsing;         /* p < palive_low or no purchase in lapse_days */
    int64_t silent_days; /* since the last purchase day */
    int attached;        /* attitude >= attitude_attached */
    double discount_share, fast_share;
    int64_t age_days; /* since the first purchase */
    const char *rule; /* reason code of the rule that decided */
};

/* active_signals, signal factor and p_eff come from the risk evaluation at
 * now_ms, attitude from the attitude evaluation. */
enum segment seg_classify(const struct customer *c, const struct model_config *cfg,
                          int active_signals, double factor, double p_eff,
                          double attitude, int64_t now_ms, struct seg_view *v);
/* The behavioural side of the loyalty type: a repeat buyer with a loyalty
 * score of at least behaviour_score who is not lapsing. */
int seg_buying(const struct customer *c, const struct model_config *cfg,
               const struct seg_view *sv);
/* The time the segment's time-driven rules (new -> older, lapsing) next
 * change for c as evaluated at c->as_of_ms; INT64_MAX if none. */
int64_t seg_next_due(const struct customer *c, const struct model_config *cfg);

#endif
