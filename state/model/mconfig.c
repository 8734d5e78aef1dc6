/*
 * mconfig.c - the `model.*` tunables: one table of {name, type, default,
 * bounds, help}, read and checked by base/cfgtab as the daemon's keys are,
 * and the rules that span several keys.
 */
#include "state/model/mconfig.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfgtab.h"

/* At most MCFG_MILESTONES_MAX ascending integers in [min, max],
 * comma-separated; "" for none. */
static int parse_milestones(void *obj, const struct cfgtab_key *k, const char *value,
                            char *why, size_t whylen)
{
    struct model_config *cfg = obj;
    int tmp[MCFG_MILESTONES_MAX] = {0};
    int n = 0;
    const char *p = value;

    while (*p) {
        char *end;
        long x;

        errno = 0;
        x = strtol(p, &end, 10);
        if (end == p || errno || x < k->min || x > k->max || n == MCFG_MILESTONES_MAX ||
            (n > 0 && x <= tmp[n - 1]) || (*end && *end != ',')) {
            snprintf(why, whylen,
                     "must be at most %d ascending integers between %g and %g, "
                     "comma-separated",
                     MCFG_MILESTONES_MAX, k->min, k->max);
            return -1;
        }
        tmp[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    memcpy(cfg->milestones, tmp, sizeof(tmp));
    cfg->nmilestones = n;
    return 0;
}

#define D(f) CFGTAB_FIELD(struct model_config, f)

static const struct cfgtab_key keys[] = {
    {"weight_repeat", CFGTAB_DOUBLE, D(weight[CR_REPEAT]), "0.25", 0, 1,
     "loyalty score weight of repeat purchases", 0, NULL},
    {"weight_spend", CFGTAB_DOUBLE, D(weight[CR_SPEND]), "0.2", 0, 1,
     "loyalty score weight of the amount spent", 0, NULL},
    {"weight_choose", CFGTAB_DOUBLE, D(weight[CR_CHOOSE]), "0.1", 0, 1,
     "loyalty score weight of the time taken to choose", 0, NULL},
    {"weight_price", CFGTAB_DOUBLE, D(weight[CR_PRICE]), "0.15", 0, 1,
     "loyalty score weight of (low) price sensitivity", 0, NULL},
    {"weight_tolerance", CFGTAB_DOUBLE, D(weight[CR_TOLERANCE]), "0.1", 0, 1,
     "loyalty score weight of tolerance of quality problems", 0, NULL},
    {"weight_brand", CFGTAB_DOUBLE, D(weight[CR_BRAND]), "0.2", 0, 1,
     "loyalty score weight of (low) interest in competing brands", 0, NULL},
    {"repeat_scale", CFGTAB_DOUBLE, D(repeat_scale), "4", 0.1, 1000,
     "repeat purchases giving 63% of the repeat criterion", 0, NULL},
    {"spend_scale", CFGTAB_DOUBLE, D(spend_scale), "500", 1, 1e9,
     "365-day net spend giving 63% of the spend criterion", 0, NULL},
    {"aov_scale", CFGTAB_DOUBLE, D(aov_scale), "100", 1, 1e9,
     "average order value giving 63% of its part of the spend criterion", 0, NULL},
    {"choose_scale_hours", CFGTAB_DOUBLE, D(choose_scale_hours), "24", 0.1, 8760,
     "mean time to choose (hours) at which the choose criterion is 0.5", 0, NULL},
    {"depth_scale", CFGTAB_DOUBLE, D(depth_scale), "0.5", 0.01, 1,
     "mean discount depth counted as fully price-driven", 0, NULL},
    {"brand_min_purchases", CFGTAB_WHOLE, D(brand_min_purchases), "3", 1, 100,
     "purchases in the main category below which brand loyalty is undetermined", 0, NULL},
    {"brand_occasional_share", CFGTAB_DOUBLE, D(brand_occasional_share), "0.75", 0.5, 1,
     "top brand share for occasional brand loyalty", 0, NULL},
    {"brand_split_total", CFGTAB_DOUBLE, D(brand_split_total), "0.8", 0.5, 1,
     "share that two or three brands together need for split loyalty", 0, NULL},
    {"brand_split_min", CFGTAB_DOUBLE, D(brand_split_min), "0.2", 0.05, 0.5,
     "share each of the split brands needs", 0, NULL},
    {"segment_new_days", CFGTAB_WHOLE, D(segment_new_days), "60", 0, 3650,
     "days after the first purchase a one-time buyer counts as new", 0, NULL},
    {"segment_benefit_share", CFGTAB_DOUBLE, D(segment_benefit_share), "0.5", 0, 1,
     "discounted or fast-shipping order share that makes a repeat buyer benefit-driven",
     0, NULL},
    {"brand_price_share", CFGTAB_DOUBLE, D(brand_price_share), "0.5", 0, 1,
     "discounted order share that makes a buyer without brand preference price-driven", 0,
     NULL},
    {"attitude_half_life_days", CFGTAB_WHOLE, D(attitude_half_life_days), "180", 1, 36500,
     "days after which a piece of attitude evidence counts half", 0, NULL},
    {"attitude_attached", CFGTAB_DOUBLE, D(attitude_attached), "0.4", 0.01, 1,
     "attitude score from which a customer counts as attached", 0, NULL},
    {"behaviour_score", CFGTAB_DOUBLE, D(behaviour_score), "35", 0, 100,
     "loyalty score from which a repeat buyer's buying counts as loyal", 0, NULL},
    {"goodwill", CFGTAB_DOUBLE, D(goodwill), "0.5", 0, 2,
     "signals make a customer dissatisfied when their weight exceeds this times the "
     "attitude",
     0, NULL},
    {"att_weight_ratings", CFGTAB_DOUBLE, D(att_weight[AT_RATED]), "0.35", 0, 1,
     "attitude weight of high ratings (their share, by how many)", 0, NULL},
    {"att_weight_shared", CFGTAB_DOUBLE, D(att_weight[AT_SHARED]), "0.25", 0, 1,
     "attitude weight of shared positive reviews", 0, NULL},
    {"att_weight_praise", CFGTAB_DOUBLE, D(att_weight[AT_PRAISE]), "0.2", 0, 1,
     "attitude weight of praise messages", 0, NULL},
    {"att_weight_interest", CFGTAB_DOUBLE, D(att_weight[AT_INTEREST]), "0.2", 0, 1,
     "attitude weight of pre-sale inquiries", 0, NULL},
    {"att_weight_rivals", CFGTAB_DOUBLE, D(att_weight[AT_RIVAL]), "0.3", 0, 1,
     "attitude deducted for inbound competitor mentions", 0, NULL},
    {"lapse_days", CFGTAB_WHOLE, D(lapse_days), "180", 1, 36500,
     "days without a purchase after which a satisfied buyer is lapsing", 0, NULL},
    {"tier_bronze_spend", CFGTAB_DOUBLE, D(tier_spend[TIER_BRONZE]), "0", 0, 1e12,
     "365-day net spend for bronze", 0, NULL},
    {"tier_bronze_orders", CFGTAB_WHOLE, D(tier_orders[TIER_BRONZE]), "1", 0, 1e6,
     "365-day orders for bronze", 0, NULL},
    {"tier_silver_spend", CFGTAB_DOUBLE, D(tier_spend[TIER_SILVER]), "200", 0, 1e12,
     "365-day net spend for silver", 0, NULL},
    {"tier_silver_orders", CFGTAB_WHOLE, D(tier_orders[TIER_SILVER]), "2", 0, 1e6,
     "365-day orders for silver", 0, NULL},
    {"tier_gold_spend", CFGTAB_DOUBLE, D(tier_spend[TIER_GOLD]), "600", 0, 1e12,
     "365-day net spend for gold", 0, NULL},
    {"tier_gold_orders", CFGTAB_WHOLE, D(tier_orders[TIER_GOLD]), "4", 0, 1e6,
     "365-day orders for gold", 0, NULL},
    {"tier_platinum_spend", CFGTAB_DOUBLE, D(tier_spend[TIER_PLATINUM]), "2000", 0, 1e12,
     "365-day net spend for platinum", 0, NULL},
    {"tier_platinum_orders", CFGTAB_WHOLE, D(tier_orders[TIER_PLATINUM]), "8", 0, 1e6,
     "365-day orders for platinum", 0, NULL},
    {"tier_grace_days", CFGTAB_WHOLE, D(tier_grace_days), "30", 0, 3650,
     "days a customer keeps a tier after falling below it", 0, NULL},
    {"horizon_weeks", CFGTAB_DOUBLE, D(horizon_weeks), "52", 1, 520,
     "horizon of expected purchases and CLV (weeks)", 0, NULL},
    {"churn_threshold", CFGTAB_DOUBLE, D(churn_threshold), "0.7", 0.01, 1,
     "churn risk at which a churn-risk event is emitted (upward crossing)", 0, NULL},
    {"churn_rearm", CFGTAB_DOUBLE, D(churn_rearm), "0.5", 0, 1,
     "churn risk below which the churn-risk event is re-armed", 0, NULL},
    {"palive_low", CFGTAB_DOUBLE, D(palive_low), "0.5", 0, 1,
     "P(alive) below which the reason code palive_low is given", 0, NULL},
    {"onetime_half_life_days", CFGTAB_WHOLE, D(onetime_half_life_days), "365", 0, 36500,
     "one-time buyers: days after which the recency term halves (0: off)", 0, NULL},
    {"sla_hours", CFGTAB_DOUBLE, D(sla_hours), "24", 0.1, 8760,
     "time an inbound inquiry may wait for an outbound reply", 0, NULL},
    {"resolve_hours", CFGTAB_DOUBLE, D(resolve_hours), "72", 0.1, 87600,
     "time a complaint may wait for its resolution", 0, NULL},
    {"signal_window_days", CFGTAB_WHOLE, D(signal_window_days), "90", 1, 3650,
     "days a dissatisfaction signal counts in the churn risk and the segment", 0, NULL},
    {"incident_window_days", CFGTAB_WHOLE, D(incident_window_days), "90", 1, 3650,
     "days after a quality incident in which a purchase counts as tolerance", 0, NULL},
    {"payment_reminders_min", CFGTAB_WHOLE, D(payment_reminders_min), "2", 1, CU_REM_MAX,
     "payment reminders within 30 days that make a signal", 0, NULL},
    {"marketing_max", CFGTAB_WHOLE, D(marketing_max), "5", 1, CU_MKT_MAX - 1,
     "marketing messages allowed in the marketing window; one more is a signal", 0, NULL},
    {"marketing_window_days", CFGTAB_WHOLE, D(marketing_window_days), "7", 1, 365,
     "the marketing overload window (days)", 0, NULL},
    {"w_inquiry_unanswered", CFGTAB_DOUBLE, D(signal_weight[SIG_SLA]), "0.15", 0, 0.99,
     "churn weight of an unanswered inquiry", 0, NULL},
    {"w_late_shipment", CFGTAB_DOUBLE, D(signal_weight[SIG_LATE_SHIP]), "0.1", 0, 0.99,
     "churn weight of a late shipment", 0, NULL},
    {"w_late_delivery", CFGTAB_DOUBLE, D(signal_weight[SIG_LATE_DELIVERY]), "0.15", 0,
     0.99, "churn weight of a late delivery", 0, NULL},
    {"w_not_as_described", CFGTAB_DOUBLE, D(signal_weight[SIG_NOT_AS_DESCRIBED]), "0.25",
     0, 0.99, "churn weight of a not_as_described return", 0, NULL},
    {"w_quality_return", CFGTAB_DOUBLE, D(signal_weight[SIG_QUALITY_RETURN]), "0.15", 0,
     0.99, "churn weight of a quality return", 0, NULL},
    {"w_low_rating", CFGTAB_DOUBLE, D(signal_weight[SIG_LOW_RATING]), "0.25", 0, 0.99,
     "churn weight of a rating <= 2", 0, NULL},
    {"w_complaint", CFGTAB_DOUBLE, D(signal_weight[SIG_COMPLAINT]), "0.25", 0, 0.99,
     "churn weight of a complaint", 0, NULL},
    {"w_payment_reminders", CFGTAB_DOUBLE, D(signal_weight[SIG_PAYMENT_REMINDERS]),
     "0.15", 0, 0.99, "churn weight of repeated payment reminders", 0, NULL},
    {"w_marketing_overload", CFGTAB_DOUBLE, D(signal_weight[SIG_MARKETING]), "0.1", 0,
     0.99, "churn weight of marketing overload", 0, NULL},
    {"w_shared_low_rating", CFGTAB_DOUBLE, D(signal_weight[SIG_SHARED_LOW_RATING]),
     "0.35", 0, 0.99, "churn weight of a rating <= 2 shared publicly", 0, NULL},
    {"w_slow_resolution", CFGTAB_DOUBLE, D(signal_weight[SIG_SLOW_RESOLUTION]), "0.15", 0,
     0.99, "churn weight of a complaint resolved late or not at all", 0, NULL},
    {"milestones", CFGTAB_CUSTOM, D(milestones), "2,5,10,20,50,100", 2, 1e6,
     "purchase-day counts rewarded once each (ascending, comma-separated)", 0,
     parse_milestones},
    {"cooldown_tier_days", CFGTAB_WHOLE, D(cooldown_days[RW_TIER]), "0", 0, 3650,
     "days between two tier-upgrade rewards", 0, NULL},
    {"cooldown_advocacy_days", CFGTAB_WHOLE, D(cooldown_days[RW_ADVOCACY]), "30", 0, 3650,
     "days between two advocacy rewards", 0, NULL},
    {"cooldown_recovery_days", CFGTAB_WHOLE, D(cooldown_days[RW_RECOVERY]), "14", 0, 3650,
     "days between two service-recovery rewards", 0, NULL},
    {"cooldown_winback_days", CFGTAB_WHOLE, D(cooldown_days[RW_WINBACK]), "90", 0, 3650,
     "days between two win-back rewards", 0, NULL},
    {"reward_cap_30d", CFGTAB_WHOLE, D(reward_cap_30d), "3", 0, CU_RWD_RECENT,
     "rewards (milestones excepted) per customer per rolling 30 days", 0, NULL},
    {"winback_min_clv", CFGTAB_DOUBLE, D(winback_min_clv), "200", 0, 1e12,
     "CLV from which a churn crossing triggers a win-back reward", 0, NULL},
    {"winback_min_spend", CFGTAB_DOUBLE, D(winback_min_spend), "300", 0, 1e12,
     "365-day spend from which a churn crossing triggers a win-back reward", 0, NULL},
    {"reward_unused_n", CFGTAB_WHOLE, D(reward_unused_n), "3", 1, CU_RWD_KEEP,
     "unused rewards of a type in a row after which that type is offered less often", 0,
     NULL},
    {"reward_redeem_days", CFGTAB_WHOLE, D(reward_redeem_days), "30", 1, 3650,
     "days after which a reward not used by an order counts as unused", 0, NULL},
    {"reward_unused_gap_days", CFGTAB_WHOLE, D(reward_unused_gap_days), "90", 0, 3650,
     "days between two rewards of a type the customer leaves unused", 0, NULL},
    {"margin_silver", CFGTAB_DOUBLE, D(margin_grade[TIER_SILVER]), "60", 0, 1e12,
     "365-day margin for silver-grade rewards (customers with costed orders)", 0, NULL},
    {"margin_gold", CFGTAB_DOUBLE, D(margin_grade[TIER_GOLD]), "180", 0, 1e12,
     "365-day margin for gold-grade rewards", 0, NULL},
    {"margin_platinum", CFGTAB_DOUBLE, D(margin_grade[TIER_PLATINUM]), "600", 0, 1e12,
     "365-day margin for platinum-grade rewards", 0, NULL},
};

#undef D

static const struct cfgtab table = {"model.", keys, sizeof(keys) / sizeof(keys[0])};

const struct cfgtab *model_config_keys(void)
{
    return &table;
}

struct model_config *model_config_new(void)
{
    struct model_config *cfg = calloc(1, sizeof(*cfg));
    char err[256];

    if (cfg != NULL && cfgtab_defaults(&table, cfg, err, sizeof(err)) < 0) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void model_config_free(struct model_config *cfg)
{
    free(cfg);
}

int model_config_set(struct model_config *cfg, const char *key, const char *value,
                     char *err, size_t errlen)
{
    char name[256];

    snprintf(name, sizeof(name), "%s%s", table.prefix, key);
    return cfgtab_set(&table, cfg, name, value, err, errlen);
}

int model_config_check(const struct model_config *cfg, char *err, size_t errlen)
{
    double wsum = 0;

    for (int i = 0; i < CR__COUNT; i++) {
        wsum += cfg->weight[i];
    }
    if (wsum <= 0) {
        snprintf(err, errlen, "model.weight_*: at least one weight must be positive");
        return -1;
    }
    if (cfg->churn_rearm >= cfg->churn_threshold) {
        snprintf(err, errlen,
                 "model.churn_rearm: must be below model.churn_threshold (%g)",
                 cfg->churn_threshold);
        return -1;
    }
    for (int t = TIER_SILVER; t < TIER__COUNT; t++) {
        if (cfg->tier_spend[t] < cfg->tier_spend[t - 1] ||
            cfg->tier_orders[t] < cfg->tier_orders[t - 1]) {
            snprintf(err, errlen, "model.tier_%s_*: must not be below the tier under it",
                     cu_tier_name((enum tier)t));
            return -1;
        }
    }
    for (int t = TIER_GOLD; t < TIER__COUNT; t++) {
        if (cfg->margin_grade[t] < cfg->margin_grade[t - 1]) {
            snprintf(err, errlen, "model.margin_%s: must not be below model.margin_%s",
                     cu_tier_name((enum tier)t), cu_tier_name((enum tier)(t - 1)));
            return -1;
        }
    }
    return 0;
}

void model_config_reward_currency(struct model_config *cfg, int order)
{
    cfg->reward_order_currency = order != 0;
}

double model_config_churn_threshold(const struct model_config *cfg)
{
    return cfg->churn_threshold;
}
