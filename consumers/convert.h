/*
 * convert.h - an event's money brought to what the model reads: exact
 * hundredths (MINOR_MODEL_EXPONENT) of the event's own currency, amounts
 * summed as given whatever their currency.
 *
 * An order.returned names no currency: its amount is already in
 * hundredths.  Other events carry no money.  Pure.
 */
#ifndef LOYALTY_CONVERT_H
#define LOYALTY_CONVERT_H

#include <stddef.h>

#include "state/model/model.h"

enum convert_result {
    CONVERT_OK = 0,
    CONVERT_RANGE, /* a converted amount leaves the int64 range */
};

/* Convert ev's amounts in place (ev->exponent set to what they are then).
 * CONVERT_RANGE leaves ev's money unusable and says why in detail. */
enum convert_result convert_event(struct event *ev, char *detail, size_t len);

#endif
