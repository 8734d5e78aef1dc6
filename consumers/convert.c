/*
 * convert.c - an event's money in the model's exponent (see convert.h).
 */
#include "consumers/convert.h"

#include <stdio.h>

#include "base/minor.h"

/* Every amount of ev from ev->exponent to the model's: 0, or -1 when one
 * leaves the int64 range. */
static int convert_amounts(struct event *ev)
{
    int from = ev->exponent, to = MINOR_MODEL_EXPONENT;
    int bad = minor_rescale(ev->amount_minor, from, to, &ev->amount_minor) < 0 ||
              minor_rescale(ev->discount_minor, from, to, &ev->discount_minor) < 0;

    for (size_t i = 0; i < ev->n_items && !bad; i++) {
        struct ev_item *it = &ev->items[i];

        bad = minor_rescale(it->unit_price_minor, from, to, &it->unit_price_minor) < 0 ||
              minor_rescale(it->list_price_minor, from, to, &it->list_price_minor) < 0 ||
              minor_rescale(it->unit_cost_minor, from, to, &it->unit_cost_minor) < 0;
    }
    ev->exponent = to;
    return bad ? -1 : 0;
}

enum convert_result convert_event(struct event *ev, char *detail, size_t len)
{
    if (ev->type != EV_ORDER_PLACED && ev->type != EV_ORDER_RETURNED) {
        return CONVERT_OK;
    }
    if (convert_amounts(ev) < 0) {
        snprintf(detail, len, "amount: out of range once converted");
        return CONVERT_RANGE;
    }
    return CONVERT_OK;
}
