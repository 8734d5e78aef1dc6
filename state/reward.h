/*
 * reward.h - the suggested reward of each trigger, graded by tier, and the
 * per-customer cooldowns and rolling 30-day cap (docs/model.md, "Rewards").
 */
#ifndef LOYALTY_REWARD_H
#define LOYALTY_REWARD_H

#include "state/derived.h"
#include "state/mconfig.h"

/* Fills kind and value of rw for its type and the customer's tier. */
void reward_grade(const struct customer *c, struct derived_reward *rw);
/* Decides whether a reward of type t may be issued at now_ms and records it
 * (last time, the rolling cap) or counts it as suppressed.  Milestones are
 * one-time and always allowed, outside the cap.  Returns 1 or 0. */
int reward_allow(struct customer *c, const struct model_config *cfg, enum reward_type t,
                 int64_t now_ms);

#endif
