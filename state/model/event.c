/*
 * event.c - lifetime and wire names of struct event.
 *
 * The name tables are the single source of the wire names: the parser looks
 * input values up in them, so a name changes in one place.
 */
#include <stdlib.h>
#include <string.h>

#include "base/minor.h"
#include "base/names.h"
#include "state/model/event.h"

const char *const event_type_names[EV__COUNT] = {
    [EV_ORDER_PLACED] = "order.placed",       [EV_ORDER_SHIPPED] = "order.shipped",
    [EV_ORDER_DELIVERED] = "order.delivered", [EV_ORDER_RETURNED] = "order.returned",
    [EV_ORDER_CANCELLED] = "order.cancelled", [EV_REVIEW_POSTED] = "review.posted",
    [EV_MESSAGE_SENT] = "message.sent",
};

static const char *const source_names[SRC__COUNT] = {
    [SRC_ORDERS] = "orders",
    [SRC_REVIEWS] = "reviews",
    [SRC_MESSAGES] = "messages",
};

const char *const event_msg_kind_names[MSG__COUNT] = {
    [MSG_INQUIRY] = "inquiry",
    [MSG_COMPLAINT] = "complaint",
    [MSG_PRAISE] = "praise",
    [MSG_REPLY] = "reply",
    [MSG_PAYMENT_REMINDER] = "payment_reminder",
    [MSG_MARKETING] = "marketing",
    [MSG_OTHER] = "other",
    [MSG_RESOLUTION] = "resolution",
};

const char *const event_shipping_names[SHIP__COUNT] = {
    [SHIP_NONE] = "none",
    [SHIP_STANDARD] = "standard",
    [SHIP_EXPEDITED] = "expedited",
    [SHIP_PLATFORM] = "fulfilled_by_platform",
};

const char *const event_return_reason_names[RET__COUNT] = {
    [RET_NONE] = "none",
    [RET_NOT_AS_DESCRIBED] = "not_as_described",
    [RET_QUALITY] = "quality",
    [RET_LATE] = "late",
    [RET_CHANGED_MIND] = "changed_mind",
    [RET_OTHER] = "other",
};

const char *const event_category_names[CAT__COUNT] = {
    [CAT_NONE] = "none",     [CAT_LOGISTICS] = "logistics", [CAT_QUALITY] = "quality",
    [CAT_DUTIES] = "duties", [CAT_PAYMENT] = "payment",     [CAT_OTHER] = "other",
};

const char *const event_direction_names[DIR__COUNT] = {
    [DIR_NONE] = "none",
    [DIR_INBOUND] = "inbound",
    [DIR_OUTBOUND] = "outbound",
};

void event_init(struct event *ev)
{
    if (ev == NULL) {
        return;
    }
    memset(ev, 0, sizeof(*ev));
    ev->items = NULL;
    ev->shipping = SHIP_NONE;
    ev->reason = RET_NONE;
    ev->direction = DIR_NONE;
    ev->exponent = MINOR_MODEL_EXPONENT;
}

/* Leaves *ev as event_init() does, so a second event_free() is harmless. */
void event_free(struct event *ev)
{
    if (ev == NULL) {
        return;
    }
    free(ev->items);
    event_init(ev);
}

const char *event_type_name(enum ev_type t)
{
    return names_get(event_type_names, EV__COUNT, (int)t);
}

const char *event_source_name(enum ev_source s)
{
    return names_get(source_names, SRC__COUNT, (int)s);
}

const char *event_msg_kind_name(enum ev_msg_kind k)
{
    return names_get(event_msg_kind_names, MSG__COUNT, (int)k);
}

const char *event_shipping_name(enum ev_shipping s)
{
    return names_get(event_shipping_names, SHIP__COUNT, (int)s);
}

const char *event_return_reason_name(enum ev_return_reason r)
{
    return names_get(event_return_reason_names, RET__COUNT, (int)r);
}

const char *event_direction_name(enum ev_direction d)
{
    return names_get(event_direction_names, DIR__COUNT, (int)d);
}

const char *event_category_name(enum ev_category k)
{
    return names_get(event_category_names, CAT__COUNT, (int)k);
}
