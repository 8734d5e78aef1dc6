/*
 * criteria.h - the six loyalty criteria (README, "The loyalty model"), each
 * normalised to 0..1, and the loyalty score 0..100 as their weighted sum
 * (docs/model.md, "Loyalty score").
 */
#ifndef LOYALTY_CRITERIA_H
#define LOYALTY_CRITERIA_H

#include "state/model/brand.h"
#include "state/model/mconfig.h"

/* The normalised criteria of c (its windows and brand view up to date);
 * rivals is the decayed count of inbound competitor mentions. */
void crit_normalise(const struct customer *c, const struct model_config *cfg,
                    const struct brand_view *bv, double rivals, double norm[CR__COUNT]);
/* Sets c->contrib (hundredths of a point) and c->loyalty_score = their sum. */
void crit_score(struct customer *c, const struct model_config *cfg,
                const double norm[CR__COUNT]);

#endif
