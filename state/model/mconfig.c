/*
 * mconfig.c - the `model.*` tunables: one table of {name, type, default,
 * bounds, help}; model_config_set checks every value against it.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/model/mconfig.h"

enum mc_type { MC_DOUBLE, MC_INT, MC_LIST };

struct mc_key {
    const char *name;
    enum mc_type type;
    size_t off; /* of a double in struct model_config; unused for MC_LIST */
    double def, min, max;
    const char *help;
};

#define D(f) offsetof(struct model_config, f)

static const struct mc_key keys[] = {
    {"weight_repeat", MC_DOUBLE, D(weight[CR_REPEAT]), 0.25, 0, 1,
     "loyalty score weight of repeat purchases"},
    {"weight_spend", MC_DOUBLE, D(weight[CR_SPEND]), 0.20, 0, 1,
     "loyalty score weight of the amount spent"},
    {"weight_choose", MC_DOUBLE, D(weight[CR_CHOOSE]), 0.10, 0, 1,
     "loyalty score weight of the time taken to choose"},
    {"weight_price", MC_DOUBLE, D(weight[CR_PRICE]), 0.15, 0, 1,
     "loyalty score weight of (low) price sensitivity"},
    {"weight_tolerance", MC_DOUBLE, D(weight[CR_TOLERANCE]), 0.10, 0, 1,
     "loyalty score weight of tolerance of quality problems"},
    {"weight_brand", MC_DOUBLE, D(weight[CR_BRAND]), 0.20, 0, 1,
     "loyalty score weight of (low) interest in competing brands"},
    {"repeat_scale", MC_DOUBLE, D(repeat_scale), 4, 0.1, 1000,
     "repeat purchases giving 63% of the repeat criterion"},
    {"spend_scale", MC_DOUBLE, D(spend_scale), 500, 1, 1e9,
     "365-day net spend giving 63% of the spend criterion"},
    {"aov_scale", MC_DOUBLE, D(aov_scale), 100, 1, 1e9,
     "average order value giving 63% of its part of the spend criterion"},
    {"choose_scale_hours", MC_DOUBLE, D(choose_scale_hours), 24, 0.1, 8760,
     "mean time to choose (hours) at which the choose criterion is 0.5"},
    {"depth_scale", MC_DOUBLE, D(depth_scale), 0.5, 0.01, 1,
     "mean discount depth counted as fully price-driven"},
    {"brand_min_purchases", MC_INT, D(brand_min_purchases), 3, 1, 100,
     "purchases in the main category below which brand loyalty is undetermined"},
    {"brand_occasional_share", MC_DOUBLE, D(brand_occasional_share), 0.75, 0.5, 1,
     "top brand share for occasional brand loyalty"},
    {"brand_split_total", MC_DOUBLE, D(brand_split_total), 0.8, 0.5, 1,
     "share that two or three brands together need for split loyalty"},
    {"brand_split_min", MC_DOUBLE, D(brand_split_min), 0.2, 0.05, 0.5,
     "share each of the split brands needs"},
    {"segment_new_days", MC_INT, D(segment_new_days), 60, 0, 3650,
     "days after the first purchase a one-time buyer counts as new"},
    {"segment_benefit_share", MC_DOUBLE, D(segment_benefit_share), 0.5, 0, 1,
     "discounted or fast-shipping order share that makes a repeat buyer benefit-driven"},
    {"brand_price_share", MC_DOUBLE, D(brand_price_share), 0.5, 0, 1,
     "discounted order share that makes a buyer without brand preference price-driven"},
    {"attitude_half_life_days", MC_INT, D(attitude_half_life_days), 180, 1, 36500,
     "days after which a piece of attitude evidence counts half"},
    {"attitude_attached", MC_DOUBLE, D(attitude_attached), 0.4, 0.01, 1,
     "attitude score from which a customer counts as attached"},
    {"behaviour_score", MC_DOUBLE, D(behaviour_score), 35, 0, 100,
     "loyalty score from which a repeat buyer's buying counts as loyal"},
    {"goodwill", MC_DOUBLE, D(goodwill), 0.5, 0, 2,
     "signals make a customer dissatisfied when their weight exceeds this times the "
     "attitude"},
    {"att_weight_ratings", MC_DOUBLE, D(att_weight[AT_RATED]), 0.35, 0, 1,
     "attitude weight of high ratings (their share, by how many)"},
    {"att_weight_shared", MC_DOUBLE, D(att_weight[AT_SHARED]), 0.25, 0, 1,
     "attitude weight of shared positive reviews"},
    {"att_weight_praise", MC_DOUBLE, D(att_weight[AT_PRAISE]), 0.20, 0, 1,
     "attitude weight of praise messages"},
    {"att_weight_interest", MC_DOUBLE, D(att_weight[AT_INTEREST]), 0.20, 0, 1,
     "attitude weight of pre-sale inquiries"},
    {"att_weight_rivals", MC_DOUBLE, D(att_weight[AT_RIVAL]), 0.30, 0, 1,
     "attitude deducted for inbound competitor mentions"},
    {"lapse_days", MC_INT, D(lapse_days), 180, 1, 36500,
     "days without a purchase after which a satisfied buyer is lapsing"},
    {"tier_bronze_spend", MC_DOUBLE, D(tier_spend[TIER_BRONZE]), 0, 0, 1e12,
     "365-day net spend for bronze"},
    {"tier_bronze_orders", MC_INT, D(tier_orders[TIER_BRONZE]), 1, 0, 1e6,
     "365-day orders for bronze"},
    {"tier_silver_spend", MC_DOUBLE, D(tier_spend[TIER_SILVER]), 200, 0, 1e12,
     "365-day net spend for silver"},
    {"tier_silver_orders", MC_INT, D(tier_orders[TIER_SILVER]), 2, 0, 1e6,
     "365-day orders for silver"},
    {"tier_gold_spend", MC_DOUBLE, D(tier_spend[TIER_GOLD]), 600, 0, 1e12,
     "365-day net spend for gold"},
    {"tier_gold_orders", MC_INT, D(tier_orders[TIER_GOLD]), 4, 0, 1e6,
     "365-day orders for gold"},
    {"tier_platinum_spend", MC_DOUBLE, D(tier_spend[TIER_PLATINUM]), 2000, 0, 1e12,
     "365-day net spend for platinum"},
    {"tier_platinum_orders", MC_INT, D(tier_orders[TIER_PLATINUM]), 8, 0, 1e6,
     "365-day orders for platinum"},
    {"tier_grace_days", MC_INT, D(tier_grace_days), 30, 0, 3650,
     "days a customer keeps a tier after falling below it"},
    {"horizon_weeks", MC_DOUBLE, D(horizon_weeks), 52, 1, 520,
     "horizon of expected purchases and CLV (weeks)"},
    {"churn_threshold", MC_DOUBLE, D(churn_threshold), 0.7, 0.01, 1,
     "churn risk at which a churn-risk event is emitted (upward crossing)"},
    {"churn_rearm", MC_DOUBLE, D(churn_rearm), 0.5, 0, 1,
     "churn risk below which the churn-risk event is re-armed"},
    {"palive_low", MC_DOUBLE, D(palive_low), 0.5, 0, 1,
     "P(alive) below which the reason code palive_low is given"},
    {"onetime_half_life_days", MC_INT, D(onetime_half_life_days), 365, 0, 36500,
     "one-time buyers: days after which the recency term halves (0: off)"},
    {"sla_hours", MC_DOUBLE, D(sla_hours), 24, 0.1, 8760,
     "time an inbound inquiry may wait for an outbound reply"},
    {"resolve_hours", MC_DOUBLE, D(resolve_hours), 72, 0.1, 87600,
     "time a complaint may wait for its resolution"},
    {"signal_window_days", MC_INT, D(signal_window_days), 90, 1, 3650,
     "days a dissatisfaction signal counts in the churn risk and the segment"},
    {"incident_window_days", MC_INT, D(incident_window_days), 90, 1, 3650,
     "days after a quality incident in which a purchase counts as tolerance"},
    {"payment_reminders_min", MC_INT, D(payment_reminders_min), 2, 1, CU_REM_MAX,
     "payment reminders within 30 days that make a signal"},
    {"marketing_max", MC_INT, D(marketing_max), 5, 1, CU_MKT_MAX - 1,
     "marketing messages allowed in the marketing window; one more is a signal"},
    {"marketing_window_days", MC_INT, D(marketing_window_days), 7, 1, 365,
     "the marketing overload window (days)"},
    {"w_inquiry_unanswered", MC_DOUBLE, D(signal_weight[SIG_SLA]), 0.15, 0, 0.99,
     "churn weight of an unanswered inquiry"},
    {"w_late_shipment", MC_DOUBLE, D(signal_weight[SIG_LATE_SHIP]), 0.10, 0, 0.99,
     "churn weight of a late shipment"},
    {"w_late_delivery", MC_DOUBLE, D(signal_weight[SIG_LATE_DELIVERY]), 0.15, 0, 0.99,
     "churn weight of a late delivery"},
    {"w_not_as_described", MC_DOUBLE, D(signal_weight[SIG_NOT_AS_DESCRIBED]), 0.25, 0,
     0.99, "churn weight of a not_as_described return"},
    {"w_quality_return", MC_DOUBLE, D(signal_weight[SIG_QUALITY_RETURN]), 0.15, 0, 0.99,
     "churn weight of a quality return"},
    {"w_low_rating", MC_DOUBLE, D(signal_weight[SIG_LOW_RATING]), 0.25, 0, 0.99,
     "churn weight of a rating <= 2"},
    {"w_complaint", MC_DOUBLE, D(signal_weight[SIG_COMPLAINT]), 0.25, 0, 0.99,
     "churn weight of a complaint"},
    {"w_payment_reminders", MC_DOUBLE, D(signal_weight[SIG_PAYMENT_REMINDERS]), 0.15, 0,
     0.99, "churn weight of repeated payment reminders"},
    {"w_marketing_overload", MC_DOUBLE, D(signal_weight[SIG_MARKETING]), 0.10, 0, 0.99,
     "churn weight of marketing overload"},
    {"w_shared_low_rating", MC_DOUBLE, D(signal_weight[SIG_SHARED_LOW_RATING]), 0.35, 0,
     0.99, "churn weight of a rating <= 2 shared publicly"},
    {"w_slow_resolution", MC_DOUBLE, D(signal_weight[SIG_SLOW_RESOLUTION]), 0.15, 0, 0.99,
     "churn weight of a complaint resolved late or not at all"},
    {"milestones", MC_LIST, 0, 0, 2, 1e6,
     "purchase-day counts rewarded once each (ascending, comma-separated)"},
    {"cooldown_tier_days", MC_INT, D(cooldown_days[RW_TIER]), 0, 0, 3650,
     "days between two tier-upgrade rewards"},
    {"cooldown_advocacy_days", MC_INT, D(cooldown_days[RW_ADVOCACY]), 30, 0, 3650,
     "days between two advocacy rewards"},
    {"cooldown_recovery_days", MC_INT, D(cooldown_days[RW_RECOVERY]), 14, 0, 3650,
     "days between two service-recovery rewards"},
    {"cooldown_winback_days", MC_INT, D(cooldown_days[RW_WINBACK]), 90, 0, 3650,
     "days between two win-back rewards"},
    {"reward_cap_30d", MC_INT, D(reward_cap_30d), 3, 0, CU_RWD_RECENT,
     "rewards (milestones excepted) per customer per rolling 30 days"},
    {"winback_min_clv", MC_DOUBLE, D(winback_min_clv), 200, 0, 1e12,
     "CLV from which a churn crossing triggers a win-back reward"},
    {"winback_min_spend", MC_DOUBLE, D(winback_min_spend), 300, 0, 1e12,
     "365-day spend from which a churn crossing triggers a win-back reward"},
    {"reward_unused_n", MC_INT, D(reward_unused_n), 3, 1, CU_RWD_KEEP,
     "unused rewards of a type in a row after which that type is offered less often"},
    {"reward_redeem_days", MC_INT, D(reward_redeem_days), 30, 1, 3650,
     "days after which a reward not used by an order counts as unused"},
    {"reward_unused_gap_days", MC_INT, D(reward_unused_gap_days), 90, 0, 3650,
     "days between two rewards of a type the customer leaves unused"},
    {"margin_silver", MC_DOUBLE, D(margin_grade[TIER_SILVER]), 60, 0, 1e12,
     "365-day margin for silver-grade rewards (customers with costed orders)"},
    {"margin_gold", MC_DOUBLE, D(margin_grade[TIER_GOLD]), 180, 0, 1e12,
     "365-day margin for gold-grade rewards"},
    {"margin_platinum", MC_DOUBLE, D(margin_grade[TIER_PLATINUM]), 600, 0, 1e12,
     "365-day margin for platinum-grade rewards"},
};

#undef D

#define NKEYS              (sizeof(keys) / sizeof(keys[0]))
#define MILESTONES_DEFAULT "2,5,10,20,50,100"

static double *key_ptr(struct model_config *cfg, const struct mc_key *k)
{
    return (double *)(void *)((char *)cfg + k->off);
}

static const double *key_cptr(const struct model_config *cfg, const struct mc_key *k)
{
    return (const double *)(const void *)((const char *)cfg + k->off);
}

static int parse_list(struct model_config *cfg, const struct mc_key *k, const char *v,
                      char *err, size_t errlen)
{
    int tmp[MCFG_MILESTONES_MAX];
    int n = 0;
    const char *p = v;

    while (*p) {
        char *end;
        long x;

        errno = 0;
        x = strtol(p, &end, 10);
        if (end == p || errno || x < k->min || x > k->max || n == MCFG_MILESTONES_MAX ||
            (n > 0 && x <= tmp[n - 1]) || (*end && *end != ',')) {
            snprintf(err, errlen,
                     "model.%s: must be at most %d ascending integers between %g and %g, "
                     "comma-separated",
                     k->name, MCFG_MILESTONES_MAX, k->min, k->max);
            return -1;
        }
        tmp[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    memcpy(cfg->milestones, tmp, sizeof(tmp));
    cfg->nmilestones = n;
    return 0;
}

static int parse_number(struct model_config *cfg, const struct mc_key *k, const char *v,
                        char *err, size_t errlen)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) ||
        (k->type == MC_INT && x != floor(x))) {
        snprintf(err, errlen, "model.%s: not %s: \"%s\"", k->name,
                 k->type == MC_INT ? "an integer" : "a number", v);
        return -1;
    }
    if (x < k->min || x > k->max) {
        snprintf(err, errlen, "model.%s: must be between %g and %g", k->name, k->min,
                 k->max);
        return -1;
    }
    *key_ptr(cfg, k) = x;
    return 0;
}

struct model_config *model_config_new(void)
{
    struct model_config *cfg = calloc(1, sizeof(*cfg));
    char err[128];

    if (!cfg) {
        return NULL;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == MC_LIST) {
            parse_list(cfg, &keys[i], MILESTONES_DEFAULT, err, sizeof(err));
        } else {
            *key_ptr(cfg, &keys[i]) = keys[i].def;
        }
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
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, key) != 0) {
            continue;
        }
        if (keys[i].type == MC_LIST) {
            return parse_list(cfg, &keys[i], value, err, errlen);
        }
        return parse_number(cfg, &keys[i], value, err, errlen);
    }
    snprintf(err, errlen, "model.%s: unknown key", key);
    return -2;
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

static void list_text(const struct model_config *cfg, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < cfg->nmilestones && used < len; i++) {
        int n =
            snprintf(buf + used, len - used, "%s%d", i ? "," : "", cfg->milestones[i]);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

int model_config_describe(const struct model_config *cfg, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0) {
        return -1;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        char val[128];
        int n;

        if (keys[i].type == MC_LIST) {
            list_text(cfg, val, sizeof(val));
        } else {
            snprintf(val, sizeof(val), "%g", *key_cptr(cfg, &keys[i]));
        }
        n = snprintf(buf + used, len - used, "# %s\nmodel.%s = %s\n", keys[i].help,
                     keys[i].name, val);
        if (n < 0 || (size_t)n >= len - used) {
            return -1;
        }
        used += (size_t)n;
    }
    return 0;
}

double model_config_churn_threshold(const struct model_config *cfg)
{
    return cfg->churn_threshold;
}
