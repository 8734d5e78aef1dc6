/*
 * brand.h - behavioural brand loyalty: bounded (category, brand) purchase
 * counters, per-category recent brand sequences, and the classification of
 * the main category (docs/model.md, "Brand loyalty").
 */
#ifndef LOYALTY_BRAND_H
#define LOYALTY_BRAND_H

#include "state/model/customer.h"
#include "state/model/mconfig.h"

struct brand_view {
    int cat; /* main category index in c->cats, -1 if none */
    enum brand_type type;
    uint32_t purchases; /* brand-labelled purchases counted in the main category */
    uint32_t nbrands;
    double share;       /* top brand's share of them */
    double top2, top3;  /* shares of the top 2 / 3 brands together */
    const char *top;    /* top brand name, "" if none; points into c */
    const char *recent; /* the brand of the last 3 purchases if one, else "" */
    int price_driven;   /* discounted order share >= brand_price_share */
};

/* Counts one order's purchases: each category and each (category, brand)
 * once per order, however many lines or units name it. */
void brand_add_order(struct customer *c, const struct ev_item *items, size_t n,
                     int32_t day);
void brand_classify(const struct customer *c, const struct model_config *cfg,
                    struct brand_view *v);

#endif
