/*
 * segment.c - satisfaction x loyalty segment.
 */
#include "state/segment.h"

#include <string.h>

#include "state/criteria.h"

static void observe(const struct customer *c, const struct model_config *cfg,
                    int active_signals, double p_eff, int64_t now_ms, struct seg_view *v)
{
    int64_t n = crit_net_orders(c);

    memset(v, 0, sizeof(*v));
    v->purchases = (int)c->purchase_days;
    v->repeat = c->purchase_days >= 2;
    v->active_signals = active_signals;
    v->mean_rating = c->ratings ? (double)c->rating_sum / (double)c->ratings : 0;
    v->dissatisfied = active_signals > 0 || (c->ratings >= 2 && v->mean_rating < 3.0);
    v->fading = p_eff < cfg->palive_low || c->orders_90d == 0;
    v->discount_share = n ? (double)c->discounted_orders / (double)n : 0;
    v->fast_share = n ? (double)c->fast_ship_orders / (double)n : 0;
    v->age_days = c->purchase_days ? cu_day_of(now_ms) - c->first_day : 0;
}

enum segment seg_classify(const struct customer *c, const struct model_config *cfg,
                          int active_signals, double p_eff, int64_t now_ms,
                          struct seg_view *v)
{
    observe(c, cfg, active_signals, p_eff, now_ms, v);
    if (v->purchases == 0) {
        return v->dissatisfied ? SEG_AT_RISK : SEG_NEW;
    }
    if (v->dissatisfied) {
        return v->repeat && !v->fading ? SEG_INERTIA : SEG_AT_RISK;
    }
    if (!v->repeat) {
        return v->age_days <= (int64_t)cfg->segment_new_days ? SEG_NEW : SEG_POTENTIAL;
    }
    if (v->discount_share >= cfg->segment_benefit_share ||
        v->fast_share >= cfg->segment_benefit_share) {
        return SEG_BENEFIT;
    }
    return SEG_TRUST;
}
