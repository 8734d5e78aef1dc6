/*
 * mconfig.h - the model's tunables (the `model.*` config keys).  The table in
 * mconfig.c is the single list of keys, their defaults, bounds and help,
 * read by base/cfgtab as the daemon's own keys are.
 * Outside the model a struct model_config is made, set and checked only
 * through the functions below, and its fields are read by the model alone.
 */
#ifndef LOYALTY_MCONFIG_H
#define LOYALTY_MCONFIG_H

#include <stddef.h>

#include "state/model/customer.h"

struct cfgtab;

#define MCFG_MILESTONES_MAX 16

struct model_config {
    double weight[CR__COUNT]; /* criterion weights, normalised by their sum */
    double repeat_scale, spend_scale, aov_scale, choose_scale_hours, depth_scale;
    double brand_min_purchases, brand_occasional_share, brand_split_total,
        brand_split_min;
    double segment_new_days, segment_benefit_share;
    double tier_spend[TIER__COUNT], tier_orders[TIER__COUNT], tier_grace_days;
    double horizon_weeks;
    double churn_threshold, churn_rearm, palive_low, onetime_half_life_days;
    double sla_hours, signal_window_days, incident_window_days;
    double payment_reminders_min, marketing_max, marketing_window_days;
    double signal_weight[SIG__COUNT];
    double cooldown_days[RW__COUNT];
    double reward_cap_30d, winback_min_clv, winback_min_spend;
    double attitude_half_life_days, attitude_attached, behaviour_score, goodwill;
    double att_weight[AT__COUNT]; /* AT_RATED: the ratings part; AT_HIGH unused */
    double lapse_days, brand_price_share, resolve_hours;
    double reward_unused_n, reward_redeem_days, reward_unused_gap_days;
    double margin_grade[TIER__COUNT];    /* 365-day margin for each reward grade */
    int milestones[MCFG_MILESTONES_MAX]; /* ascending purchase-day counts */
    int nmilestones;
    int reward_order_currency; /* reward.currency = order (docs/model.md) */
};

struct model_config *model_config_new(void); /* defaults; NULL on ENOMEM */
void model_config_free(struct model_config *cfg);
/* Set one key (without the "model." prefix) from its text value.  Returns 0,
 * -1 for a bad value, -2 for an unknown key, with "model.KEY: reason" or
 * "unknown key 'model.KEY'" in err. */
int model_config_set(struct model_config *cfg, const char *key, const char *value,
                     char *err, size_t errlen);
/* The table of the model.* keys (base/cfgtab.h), for the daemon: it sets the
 * model.* lines of its file and prints them for --help-config through it. */
const struct cfgtab *model_config_keys(void);
/* Checks that span keys (rearm below threshold, tiers ascending, a positive
 * weight); call after the last model_config_set.  Returns 0 or -1 with err. */
int model_config_check(const struct model_config *cfg, char *err, size_t errlen);
/* reward.currency, a key of the daemon's: 1 values coupons, cashback and
 * gifts in the currency of the customer's latest order, 0 (the default) in
 * the reporting currency. */
void model_config_reward_currency(struct model_config *cfg, int order);
/* Thresholds the sweeper and the store need directly. */
double model_config_churn_threshold(const struct model_config *cfg);

#endif
