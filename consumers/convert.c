/*
 * convert.c - an event's money in the model's currency and exponent (see
 * convert.h).
 */
#include "consumers/convert.h"

#include <stdio.h>
#include <string.h>

#include "base/minor.h"

#define DAY_MS 86400000LL

/* Every amount of ev times r, from ev->exponent to the model's: 0, or -1
 * when one leaves the int64 range. */
static int convert_amounts(struct event *ev, const struct fx_ratio *r)
{
    int from = ev->exponent, to = MINOR_MODEL_EXPONENT;
    int bad = fx_convert(ev->amount_minor, from, r, to, &ev->amount_minor) != FX_OK ||
              fx_convert(ev->discount_minor, from, r, to, &ev->discount_minor) != FX_OK;

    for (size_t i = 0; i < ev->n_items && !bad; i++) {
        struct ev_item *it = &ev->items[i];

        bad = fx_convert(it->unit_price_minor, from, r, to, &it->unit_price_minor) !=
                  FX_OK ||
              fx_convert(it->list_price_minor, from, r, to, &it->list_price_minor) !=
                  FX_OK ||
              fx_convert(it->unit_cost_minor, from, r, to, &it->unit_cost_minor) != FX_OK;
    }
    ev->exponent = to;
    return bad ? -1 : 0;
}

/* The factor from ev's currency to the reporting one on ev's day, and how
 * old the older of the two rates it crosses is, in days. */
static enum convert_result rate_of(const struct convert_opts *o,
                                   const struct fx_table *rates, const struct event *ev,
                                   struct fx_ratio *r, int32_t *age, char *detail,
                                   size_t len)
{
    /* the UTC day of the event time, which the parser keeps after 1970 */
    int32_t day = (int32_t)(ev->ts_ms / DAY_MS), from_day = day, to_day = day;
    char d[FX_DAY_TEXT];

    *age = 0;
    if (memcmp(ev->currency, o->currency, 3) == 0) {
        *r = (struct fx_ratio){1, 1, 0};
        return CONVERT_OK;
    }
    if (ev->fx_rate.units != 0) { /* the order's own: units * 10^-scale */
        *r = (struct fx_ratio){ev->fx_rate.units, 1, -ev->fx_rate.scale};
        return CONVERT_OK;
    }
    if (rates == NULL || fx_ratio_on(rates, ev->currency, o->currency, day, r, &from_day,
                                     &to_day) != FX_OK) {
        fx_day_format(day, d);
        snprintf(detail, len, "no %s to %s rate on or before %s", ev->currency,
                 o->currency, d);
        return CONVERT_NO_RATE;
    }
    *age = day - (from_day < to_day ? from_day : to_day);
    return CONVERT_OK;
}

/* What the event stated, before conversion (event.h, struct ev_paid). */
static void keep_paid(struct event *ev)
{
    memcpy(ev->paid.currency, ev->currency, sizeof(ev->paid.currency));
    ev->paid.exponent = ev->exponent;
    ev->paid.amount_minor = ev->amount_minor;
    ev->paid.rate = (struct fx_ratio){1, 1, 0};
    ev->paid.own_rate = 0;
    ev->paid.deferred = 0;
}

enum convert_result convert_event(const struct convert_opts *o,
                                  const struct fx_table *rates, struct event *ev,
                                  char *detail, size_t len)
{
    struct fx_ratio r = {1, 1, 0};
    enum convert_result res = CONVERT_OK;
    int32_t age = 0;

    if (ev->type != EV_ORDER_PLACED && ev->type != EV_ORDER_RETURNED) {
        return CONVERT_OK;
    }
    keep_paid(ev);
    if (o->currency[0] && ev->currency[0]) { /* a return may name none */
        if ((res = rate_of(o, rates, ev, &r, &age, detail, len)) != CONVERT_OK) {
            if (res == CONVERT_NO_RATE && ev->type == EV_ORDER_RETURNED) {
                ev->paid.deferred = 1; /* its order's rate may be known */
                return CONVERT_OK;
            }
            return res;
        }
        if (age > o->max_rate_age_days) {
            snprintf(detail, len, "the %s to %s rate is %d days old", ev->currency,
                     o->currency, (int)age);
            res = CONVERT_STALE;
        }
        ev->paid.own_rate =
            ev->fx_rate.units != 0 && memcmp(ev->currency, o->currency, 3) != 0;
        memcpy(ev->currency, o->currency, sizeof(ev->currency));
    }
    ev->paid.rate = r;
    if (convert_amounts(ev, &r) < 0) {
        snprintf(detail, len, "amount: out of range once converted");
        return CONVERT_RANGE;
    }
    return res;
}
