/*
 * event.h - the typed form of one input event (README, "Events in").
 *
 * The parser (consumers/parse.c) fills a struct event or gives a rejection
 * reason, never half of one; the model (state/model/model.c) consumes it.  No I/O
 * here: this header is shared by the Kafka side and the pure model.
 */
#ifndef LOYALTY_EVENT_H
#define LOYALTY_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/fx.h"

#define EV_ID_MAX    128 /* event_id, customer_id, order_id, conversation_id */
#define EV_NAME_MAX  64  /* sku, brand, category */
#define EV_ITEMS_MAX 100 /* more items than this is a rejection */

/* Which input topic a message came from; an event type on the wrong topic
 * is rejected. */
enum ev_source { SRC_ORDERS = 0, SRC_REVIEWS, SRC_MESSAGES, SRC__COUNT };

enum ev_type {
    EV_ORDER_PLACED = 0,
    EV_ORDER_SHIPPED,
    EV_ORDER_DELIVERED,
    EV_ORDER_RETURNED,
    EV_ORDER_CANCELLED,
    EV_REVIEW_POSTED,
    EV_MESSAGE_SENT,
    EV__COUNT
};

enum ev_shipping {
    SHIP_NONE = 0,
    SHIP_STANDARD,
    SHIP_EXPEDITED,
    SHIP_PLATFORM,
    SHIP__COUNT
};

enum ev_return_reason {
    RET_NONE = 0,
    RET_NOT_AS_DESCRIBED,
    RET_QUALITY,
    RET_LATE,
    RET_CHANGED_MIND,
    RET_OTHER,
    RET__COUNT
};

enum ev_direction { DIR_NONE = 0, DIR_INBOUND, DIR_OUTBOUND, DIR__COUNT };

enum ev_msg_kind {
    MSG_INQUIRY = 0,
    MSG_COMPLAINT,
    MSG_PRAISE,
    MSG_REPLY,
    MSG_PAYMENT_REMINDER,
    MSG_MARKETING,
    MSG_OTHER,
    MSG_RESOLUTION, /* outbound: the shop says the conversation is resolved */
    MSG__COUNT
};

/* What a complaint is about (optional `complaint_category`). */
enum ev_category {
    CAT_NONE = 0,
    CAT_LOGISTICS,
    CAT_QUALITY,
    CAT_DUTIES,
    CAT_PAYMENT,
    CAT_OTHER,
    CAT__COUNT
};

struct ev_item {
    char sku[EV_NAME_MAX + 1];
    char brand[EV_NAME_MAX + 1];
    char category[EV_NAME_MAX + 1];
    int64_t qty; /* > 0 */
    /* Minor units of the event's currency at its exponent, like amount_minor;
     * 0 if absent. */
    int64_t unit_price_minor;
    int64_t list_price_minor;
    int64_t unit_cost_minor;
    int has_cost; /* unit_cost was given */
};

/*
 * The money of an order.placed or order.returned as the event stated it,
 * kept by consumers/convert.c when it converts the amounts: the currency,
 * its exponent, the amount, and the factor that converted it to the
 * model's hundredths.  currency "": not through convert.c (the amounts are
 * taken as the model's as they are) or a return that names no currency.
 * deferred: a return naming its currency, without fx_rate, with no rate of
 * its own day, left unconverted: the model refunds it at its order's rate
 * or refuses it (no_rate).
 */
struct ev_paid {
    char currency[4];
    int exponent;
    int64_t amount_minor;
    struct fx_ratio rate;
    int own_rate; /* rate is the event's fx_rate */
    int deferred;
};

/*
 * One validated event.  Strings are NUL-terminated copies; an absent optional
 * string is "".  An absent optional timestamp is 0 (the parser rejects times
 * before 1970, so 0 is never a real value).  `items` is owned by the event and
 * released by event_free().
 *
 * Money is exact: integers of 10^-exponent units.  The parser leaves them in
 * the event's own currency at its ISO 4217 exponent (an order.returned
 * that names no currency at 2); consumers/convert.c then brings them to
 * what the model reads: hundredths (MINOR_MODEL_EXPONENT) of the reporting
 * currency, or of the event's own currency when none is configured.
 */
struct event {
    enum ev_type type;
    char event_id[EV_ID_MAX + 1];
    char customer_id[EV_ID_MAX + 1];
    int64_t ts_ms; /* event time, epoch milliseconds, UTC */

    char order_id[EV_ID_MAX + 1];
    int64_t amount_minor;   /* order.placed: net paid; order.returned: refunded */
    char currency[4];       /* order.placed; order.returned: "" if absent */
    int exponent;           /* of the amounts: 0..CURRENCY_EXPONENT_MAX */
    int64_t discount_minor; /* >= 0, 0 if absent */
    /* order.placed, order.returned `fx_rate`: units of the reporting currency for one
     * unit of `currency`, as the order system settled it; units 0 if absent. */
    struct fx_rate fx_rate;
    struct ev_paid paid; /* set by consumers/convert.c */
    struct ev_item *items;
    size_t n_items;
    enum ev_shipping shipping;
    int64_t promised_ship_by_ms;
    int64_t promised_delivery_by_ms;
    char conversation_id[EV_ID_MAX + 1];
    enum ev_return_reason reason;
    char reward_event_id[EV_ID_MAX + 1]; /* order.placed: the reward it used */

    /* review.posted */
    char sku[EV_NAME_MAX + 1];
    char brand[EV_NAME_MAX + 1];
    int rating; /* 1..5 */
    int has_text;
    int shared;

    /* message.sent */
    enum ev_direction direction;
    enum ev_msg_kind kind;
    int mentions_competitor;
    enum ev_category category; /* complaint_category */
};

void event_init(struct event *ev);
void event_free(struct event *ev);

/* The wire names, indexed by value (base/names.h): the parser looks input
 * values up in these tables.  The optional enumerations' *_NONE value is
 * "none", which is never accepted on input. */
extern const char *const event_type_names[EV__COUNT];
extern const char *const event_msg_kind_names[MSG__COUNT];
extern const char *const event_shipping_names[SHIP__COUNT];
extern const char *const event_return_reason_names[RET__COUNT];
extern const char *const event_direction_names[DIR__COUNT];
extern const char *const event_category_names[CAT__COUNT];

/* The name of a value ("standard", "quality", "inbound", ...); "unknown"
 * for a value out of range, never NULL. */
const char *event_type_name(enum ev_type t);
const char *event_source_name(enum ev_source s);
const char *event_msg_kind_name(enum ev_msg_kind k);
const char *event_shipping_name(enum ev_shipping s);
const char *event_return_reason_name(enum ev_return_reason r);
const char *event_direction_name(enum ev_direction d);
const char *event_category_name(enum ev_category k);

#endif
