/*
 * attitude.h - the attitudinal side of loyalty (docs/model.md, "Attitude"):
 * decayed evidence of recognition, attachment and recommendation, the
 * attitude score, and with the behavioural score the loyalty type.
 */
#ifndef LOYALTY_ATTITUDE_H
#define LOYALTY_ATTITUDE_H

#include "state/model/mconfig.h"

/* The score's parts, as of one time. */
struct att_view {
    double ev[AT__COUNT];   /* the evidence decayed to that time */
    double high_share;      /* ev[AT_HIGH] / ev[AT_RATED], 0 without a review */
    double part[AT__COUNT]; /* each kind's share of the score (AT_RIVAL: deducted) */
    double score;           /* 0..1 */
};

/* One piece of evidence of kind k at ts_ms (any order of arrival). */
void att_add(struct customer *c, const struct model_config *cfg, enum att_kind k,
             int64_t ts_ms);
/* The score at now_ms (>= the newest evidence). */
void att_evaluate(const struct customer *c, const struct model_config *cfg,
                  int64_t now_ms, struct att_view *v);
/* Behaviour x attitude: `buying` is the behavioural side (a repeat buyer,
 * loyalty score >= behaviour_score, not lapsing). */
enum loyalty_type att_type(const struct model_config *cfg, double attitude, int buying);

#endif
