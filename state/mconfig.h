/*
 * mconfig.h - the model's tunables (the `model.*` config keys), visible to
 * the model's modules only; everyone else sees struct model_config as opaque
 * through model.h.  The table in mconfig.c is the single list of keys, their
 * defaults, bounds and help.
 */
#ifndef LOYALTY_MCONFIG_H
#define LOYALTY_MCONFIG_H

#include "state/customer.h"

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
};

#endif
