/*
 * customer.h - one customer's loyalty state: the aggregates kept exact from
 * the events and the fields derived from them by the model.
 *
 * Where each field is computed: aggregates in model_apply (state/model.c),
 * derived fields in model_derive (state/model.c); how each is stored: the
 * codec (state/codec.c) and the README's key schema.
 */
#ifndef LOYALTY_CUSTOMER_H
#define LOYALTY_CUSTOMER_H

#include <stdint.h>

#include "state/event.h"

struct customer {
    char id[EV_ID_MAX + 1];

    /* Derived fields the store indexes in sorted sets. */
    double churn_risk;    /* 0..1 */
    double loyalty_score; /* 0..100 */
    double clv;           /* expected value over the configured horizon */
    double spend_365d;    /* rolling net spend */
};

void customer_init(struct customer *c, const char *id);

#endif
