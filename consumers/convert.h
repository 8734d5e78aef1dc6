/*
 * convert.h - an event's money brought to what the model reads: exact
 * hundredths (MINOR_MODEL_EXPONENT) of the reporting currency
 * (money.currency), converted with the rate in force on the event's own
 * UTC day (base/fx.h), or of the event's own currency when no reporting
 * currency is configured (amounts then summed as given, as before).
 *
 * Which rate converts an order.placed, first found:
 *   - none: its currency is the reporting currency;
 *   - its own `fx_rate` (units of the reporting currency per unit of its
 *     currency), as some order systems settle at a known rate: it wins
 *     over the table, and needs none (nor is it ever stale);
 *   - the rates table's, in force on the event's day (P {fx}:CUR, imported
 *     with `loyaltyctl fx import`); none on or before that day: no_rate.
 * An order.returned that names its currency is converted the same way: at
 * its own `fx_rate` (the order's rate, which the order system knows), else
 * at the rate of the return's day, since the state does not keep the
 * order's.  One that names none has its amount taken as hundredths of the
 * reporting currency (or as given).  Other events carry no money.
 *
 * Pure: the table is the caller's (the pipeline's, main thread).
 */
#ifndef LOYALTY_CONVERT_H
#define LOYALTY_CONVERT_H

#include <stddef.h>

#include "base/fx.h"
#include "state/model/model.h"

/* money.* configuration keys. */
struct convert_opts {
    char currency[4];      /* the reporting currency; "": none */
    int max_rate_age_days; /* an older rate is used, and counted as stale */
};

enum convert_result {
    CONVERT_OK = 0,
    CONVERT_STALE,   /* converted, with a rate older than max_rate_age_days */
    CONVERT_NO_RATE, /* no rate on or before the event's day: not converted (an
                        order.returned is passed on instead, ev->paid.deferred) */
    CONVERT_RANGE,   /* a converted amount leaves the int64 range */
};

/* Convert ev's amounts in place (ev->exponent and, with a reporting
 * currency, ev->currency set to what they are then).  rates may be NULL
 * (an empty table) and is read only for another currency than the
 * reporting one.  Anything but CONVERT_OK and CONVERT_STALE leaves ev's
 * money unusable and says why in detail. */
enum convert_result convert_event(const struct convert_opts *o,
                                  const struct fx_table *rates, struct event *ev,
                                  char *detail, size_t len);

#endif
