/*
 * event.c - lifetime and wire names of struct event.
 *
 * The name tables are the single source of the wire names: the parser looks
 * input values up through the functions below, so a name changes in one place.
 */
#include <stdlib.h>
#include <string.h>

#include "state/model/event.h"

static const char *const type_names[EV__COUNT] = {
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

static const char *const msg_kind_names[MSG__COUNT] = {
    [MSG_INQUIRY] = "inquiry",
    [MSG_COMPLAINT] = "complaint",
    [MSG_PRAISE] = "praise",
    [MSG_REPLY] = "reply",
    [MSG_PAYMENT_REMINDER] = "payment_reminder",
    [MSG_MARKETING] = "marketing",
    [MSG_OTHER] = "other",
    [MSG_RESOLUTION] = "resolution",
};

static const char *const shipping_names[] = {
    [SHIP_NONE] = "none",
    [SHIP_STANDARD] = "standard",
    [SHIP_EXPEDITED] = "expedited",
    [SHIP_PLATFORM] = "fulfilled_by_platform",
};

static const char *const reason_names[] = {
    [RET_NONE] = "none",
    [RET_NOT_AS_DESCRIBED] = "not_as_described",
    [RET_QUALITY] = "quality",
    [RET_LATE] = "late",
    [RET_CHANGED_MIND] = "changed_mind",
    [RET_OTHER] = "other",
};

static const char *const category_names[] = {
    [CAT_NONE] = "none",     [CAT_LOGISTICS] = "logistics", [CAT_QUALITY] = "quality",
    [CAT_DUTIES] = "duties", [CAT_PAYMENT] = "payment",     [CAT_OTHER] = "other",
};

static const char *const direction_names[] = {
    [DIR_NONE] = "none",
    [DIR_INBOUND] = "inbound",
    [DIR_OUTBOUND] = "outbound",
};

#define NAME_COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* The enum value arrives as an int so that a caller's out-of-range cast is
 * caught here rather than indexing past the table. */
static const char *name_at(const char *const *table, size_t n, int v)
{
    if (v < 0 || (size_t)v >= n || table[v] == NULL)
        return "unknown";
    return table[v];
}

void event_init(struct event *ev)
{
    if (ev == NULL)
        return;
    memset(ev, 0, sizeof(*ev));
    ev->items = NULL;
    ev->shipping = SHIP_NONE;
    ev->reason = RET_NONE;
    ev->direction = DIR_NONE;
}

/* Leaves *ev as event_init() does, so a second event_free() is harmless. */
void event_free(struct event *ev)
{
    if (ev == NULL)
        return;
    free(ev->items);
    event_init(ev);
}

const char *event_type_name(enum ev_type t)
{
    return name_at(type_names, NAME_COUNT(type_names), (int)t);
}

const char *event_source_name(enum ev_source s)
{
    return name_at(source_names, NAME_COUNT(source_names), (int)s);
}

const char *event_msg_kind_name(enum ev_msg_kind k)
{
    return name_at(msg_kind_names, NAME_COUNT(msg_kind_names), (int)k);
}

const char *event_shipping_name(enum ev_shipping s)
{
    return name_at(shipping_names, NAME_COUNT(shipping_names), (int)s);
}

const char *event_return_reason_name(enum ev_return_reason r)
{
    return name_at(reason_names, NAME_COUNT(reason_names), (int)r);
}

const char *event_direction_name(enum ev_direction d)
{
    return name_at(direction_names, NAME_COUNT(direction_names), (int)d);
}

const char *event_category_name(enum ev_category k)
{
    return name_at(category_names, NAME_COUNT(category_names), (int)k);
}
