/*
 * segment.c - satisfaction x loyalty segment.
 */
#include "state/model/segment.h"

#include <string.h>

static void observe(const struct customer *c, const struct model_config *cfg,
                    int active_signals, double factor, double p_eff, double attitude,
                    int64_t now_ms, struct seg_view *v)
{
    int64_t n = customer_net_orders(c);
    int32_t now_day = cu_day_of(now_ms);

    memset(v, 0, sizeof(*v));
    v->purchases = (int)c->purchase_days;
    v->repeat = c->purchase_days >= 2;
    v->active_signals = active_signals;
    v->pain = active_signals > 0 ? 1.0 - factor : 0;
    v->goodwill = cfg->goodwill * attitude;
    v->mean_rating = c->ratings ? (double)c->rating_sum / (double)c->ratings : 0;
    v->dissatisfied = (active_signals > 0 && v->pain > v->goodwill) ||
                      (c->ratings >= 2 && v->mean_rating < 3.0);
    v->fading = p_eff < cfg->palive_low || c->orders_90d == 0;
    v->silent_days = c->purchase_days ? now_day - c->last_day : 0;
    v->lapsing = c->purchase_days > 0 &&
                 (p_eff < cfg->palive_low || v->silent_days >= (int64_t)cfg->lapse_days);
    v->attached = attitude >= cfg->attitude_attached;
    v->discount_share = customer_discount_share(c);
    v->fast_share = n ? (double)c->fast_ship_orders / (double)n : 0;
    v->age_days = c->purchase_days ? now_day - c->first_day : 0;
}

static enum segment decide(const struct model_config *cfg, struct seg_view *v)
{
    if (v->dissatisfied) {
        if (v->repeat && !v->fading) {
            v->rule = "dissatisfied_repeat_buyer";
            return SEG_INERTIA;
        }
        v->rule = v->repeat ? "dissatisfied_fading" : "dissatisfied";
        return SEG_AT_RISK;
    }
    if (v->purchases == 0) {
        v->rule = v->attached ? "attached_no_purchase" : "no_purchase";
        return v->attached ? SEG_POTENTIAL : SEG_NEW;
    }
    if (v->lapsing) {
        v->rule = v->silent_days >= (int64_t)cfg->lapse_days ? "silent" : "palive_low";
        return SEG_LAPSING;
    }
    if (!v->repeat) {
        if (v->age_days <= (int64_t)cfg->segment_new_days) {
            v->rule = "first_purchase";
            return SEG_NEW;
        }
        v->rule = v->attached ? "attached_one_time_buyer" : "unattached_one_time_buyer";
        return v->attached ? SEG_POTENTIAL : SEG_SATISFIED;
    }
    if (v->discount_share >= cfg->segment_benefit_share ||
        v->fast_share >= cfg->segment_benefit_share) {
        v->rule = v->discount_share >= cfg->segment_benefit_share
                      ? "discount_driven"
                      : "fast_shipping_driven";
        return SEG_BENEFIT;
    }
    v->rule = v->attached ? "attached_repeat_buyer" : "unattached_repeat_buyer";
    return v->attached ? SEG_TRUST : SEG_SATISFIED;
}

enum segment seg_classify(const struct customer *c, const struct model_config *cfg,
                          int active_signals, double factor, double p_eff,
                          double attitude, int64_t now_ms, struct seg_view *v)
{
    observe(c, cfg, active_signals, factor, p_eff, attitude, now_ms, v);
    return decide(cfg, v);
}

int64_t seg_next_due(const struct customer *c, const struct model_config *cfg)
{
    int32_t now_day = cu_day_of(c->as_of_ms);
    int64_t day = INT64_MAX;

    if (c->purchase_days == 0) {
        return INT64_MAX;
    }
    /* A one-time buyer stops being new the day after segment_new_days. */
    if (c->purchase_days == 1 &&
        c->first_day + (int64_t)cfg->segment_new_days + 1 > now_day) {
        day = c->first_day + (int64_t)cfg->segment_new_days + 1;
    }
    if (c->last_day + (int64_t)cfg->lapse_days > now_day &&
        c->last_day + (int64_t)cfg->lapse_days < day) {
        day = c->last_day + (int64_t)cfg->lapse_days;
    }
    return day == INT64_MAX ? INT64_MAX : day * CU_DAY_MS;
}

int seg_buying(const struct customer *c, const struct model_config *cfg,
               const struct seg_view *sv)
{
    return sv->repeat && c->loyalty_score >= cfg->behaviour_score && !sv->lapsing;
}
