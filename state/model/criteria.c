/*
 * criteria.c - normalised criteria and the loyalty score.
 */
#include "state/model/criteria.h"

#include <math.h>

#include "base/satint.h"

/* Saturating map of a non-negative amount: 0 at 0, 0.63 at `scale`. */
static double sat(double v, double scale)
{
    return v <= 0 ? 0 : 1.0 - exp(-v / scale);
}

static double repeat(const struct customer *c, const struct model_config *cfg)
{
    double x = c->purchase_days > 1 ? (double)(c->purchase_days - 1) : 0;

    return 0.5 * sat(x, cfg->repeat_scale) +
           0.5 * sat((double)c->orders_365d, cfg->repeat_scale);
}

static double spend(const struct customer *c, const struct model_config *cfg)
{
    return 0.7 * sat(c->spend_365d, cfg->spend_scale) + 0.3 * sat(c->aov, cfg->aov_scale);
}

static double choose(const struct customer *c, const struct model_config *cfg)
{
    double hours;

    if (c->choose_n == 0) {
        return 0.5;
    }
    hours = (double)c->choose_sum_min / (double)c->choose_n / 60.0;
    return 1.0 / (1.0 + hours / cfg->choose_scale_hours);
}

static double price(const struct customer *c, const struct model_config *cfg)
{
    int64_t n = customer_net_orders(c);
    double share, depth;

    if (n == 0) {
        return 0.5;
    }
    share = fmin(1.0, customer_discount_share(c));
    depth = (double)c->depth_ppm_sum / 1e6 / (double)n;
    return 1.0 - 0.5 * share - 0.5 * fmin(1.0, depth / cfg->depth_scale);
}

static double tolerance(const struct customer *c)
{
    int64_t judged = sat_add(c->incidents_tolerated, c->incidents_lost);

    if (judged == 0) {
        return 0.5;
    }
    return ((double)c->incidents_tolerated + 0.5) / ((double)judged + 1.0);
}

static double brand(const struct brand_view *bv, double rivals)
{
    double conc = bv->type == BT_UNDETERMINED ? 0.5 : bv->share;

    return conc / (1.0 + 0.5 * rivals);
}

void crit_normalise(const struct customer *c, const struct model_config *cfg,
                    const struct brand_view *bv, double rivals, double norm[CR__COUNT])
{
    norm[CR_REPEAT] = repeat(c, cfg);
    norm[CR_SPEND] = spend(c, cfg);
    norm[CR_CHOOSE] = choose(c, cfg);
    norm[CR_PRICE] = price(c, cfg);
    norm[CR_TOLERANCE] = tolerance(c);
    norm[CR_BRAND] = brand(bv, rivals);
}

void crit_score(struct customer *c, const struct model_config *cfg,
                const double norm[CR__COUNT])
{
    double wsum = 0;
    int64_t total = 0;

    for (int k = 0; k < CR__COUNT; k++) {
        wsum += cfg->weight[k];
    }
    for (int k = 0; k < CR__COUNT; k++) {
        double w = wsum > 0 ? cfg->weight[k] / wsum : 0;
        c->contrib[k] = (int32_t)llround(10000.0 * w * norm[k]);
        total += c->contrib[k];
    }
    c->loyalty_score = (double)total / 100.0;
}
