/*
 * reward.h - the suggested reward of each trigger, graded by the customer's
 * contribution (revenue tier, or margin when the orders carry costs), the
 * per-customer cooldowns, the rolling 30-day cap, and what became of the
 * rewards issued: redemptions, points, and types left unused
 * (docs/model.md, "Rewards").
 */
#ifndef LOYALTY_REWARD_H
#define LOYALTY_REWARD_H

#include "state/model/derived.h"
#include "state/model/mconfig.h"

/* The grade a customer's rewards are valued at: the tier, or with costed
 * orders the margin grade (customer.h: margin_365d).  *by_margin tells
 * which. */
enum tier reward_grade_of(const struct customer *c, const struct model_config *cfg,
                          int *by_margin);
/* Fills kind, value and graded_by of rw for its type and the grade. */
void reward_grade(const struct customer *c, const struct model_config *cfg,
                  struct derived_reward *rw);
/* Decides whether a reward of type t may be issued at now_ms and records
 * the decision (last time, the rolling cap) or counts it as suppressed.
 * Milestones are one-time and outside the cooldowns and the cap.  A type
 * whose last reward_unused_n rewards were left unused is offered at most
 * once per reward_unused_gap_days, milestones included.  Returns 1 or 0. */
int reward_allow(struct customer *c, const struct model_config *cfg, enum reward_type t,
                 int64_t now_ms);
/* Remembers an issued reward (its event id, for a later redemption) and
 * credits a points reward to the balance. */
void reward_issued(struct customer *c, const struct derived_reward *rw,
                   const char *event_id, int64_t now_ms);
/* An order used the reward `event_id`. */
void reward_redeem(struct customer *c, const char *event_id);
/* Unused rewards of type t in a row, newest first, counting only those
 * older than reward_redeem_days (younger ones may still be used). */
int reward_unused_streak(const struct customer *c, const struct model_config *cfg,
                         enum reward_type t, int64_t now_ms);

#endif
