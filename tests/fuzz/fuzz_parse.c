/*
 * fuzz_parse.c - the event parser (consumers/parse.c) on arbitrary bytes.
 *
 * Each input is one Kafka message, parsed as if it came from each of the
 * three input topics with the default limits, and once more with tight
 * limits.  Besides the sanitizers' checks, parse.h's contract: an accepted
 * event is whole and within the limits, a rejection has a named reason and a
 * detail and leaves nothing to free.
 */
#include <math.h>
#include <string.h>

#include "base/civil.h"
#include "base/currency.h"
#include "consumers/parse.h"
#include "state/model/model.h"
#include "tests/fuzz/fuzz.h"

#define NOW_MS 1717200000000LL /* 2024-06-01T00:00:00Z, as in test_parse.c */

static void check_id(const char *id, size_t size, int required)
{
    size_t n = strnlen(id, size);

    FUZZ_CHECK(n < size, "string not terminated");
    FUZZ_CHECK(!required || n > 0, "required id empty");
}

/* Minor units at the event's exponent: within max_amount units. */
static void check_amount(int64_t v, int exp, const struct parse_limits *lim)
{
    double units = (double)v;

    for (int i = 0; i < exp; i++) {
        units /= 10;
    }
    FUZZ_CHECK(exp >= 0 && exp <= CURRENCY_EXPONENT_MAX, "exponent out of range");
    FUZZ_CHECK(v >= 0 && units <= lim->max_amount, "amount out of range");
}

static void check_items(const struct event *ev, const struct parse_limits *lim)
{
    FUZZ_CHECK((ev->items == NULL) == (ev->n_items == 0), "items and their count differ");
    FUZZ_CHECK(ev->n_items <= EV_ITEMS_MAX, "too many items accepted");
    for (size_t i = 0; i < ev->n_items; i++) {
        const struct ev_item *it = &ev->items[i];

        check_id(it->sku, sizeof(it->sku), 0);
        check_id(it->brand, sizeof(it->brand), 0);
        check_id(it->category, sizeof(it->category), 0);
        FUZZ_CHECK(it->qty >= 1, "item quantity below 1");
        check_amount(it->unit_price_minor, ev->exponent, lim);
        check_amount(it->list_price_minor, ev->exponent, lim);
        check_amount(it->unit_cost_minor, ev->exponent, lim);
    }
}

static void check_accepted(const struct event *ev, enum ev_source src,
                           const struct parse_limits *lim)
{
    FUZZ_CHECK((unsigned)ev->type < EV__COUNT, "event type out of range");
    check_id(ev->event_id, sizeof(ev->event_id), 1);
    check_id(ev->customer_id, sizeof(ev->customer_id), 1);
    check_id(ev->order_id, sizeof(ev->order_id), ev->type <= EV_ORDER_CANCELLED);
    check_id(ev->conversation_id, sizeof(ev->conversation_id),
             ev->type == EV_MESSAGE_SENT);
    check_id(ev->reward_event_id, sizeof(ev->reward_event_id), 0);
    check_id(ev->sku, sizeof(ev->sku), 0);
    check_id(ev->brand, sizeof(ev->brand), 0);
    FUZZ_CHECK(ev->ts_ms >= 1 && ev->ts_ms - NOW_MS <= lim->max_future_skew_ms,
               "event time out of range");
    FUZZ_CHECK((ev->type <= EV_ORDER_CANCELLED) == (src == SRC_ORDERS),
               "event accepted on the wrong topic");
    check_amount(ev->amount_minor, ev->exponent, lim);
    check_amount(ev->discount_minor, ev->exponent, lim);
    check_items(ev, lim);
    if (ev->type == EV_ORDER_PLACED) {
        FUZZ_CHECK(strlen(ev->currency) == 3 &&
                       strspn(ev->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3,
                   "currency not three upper-case letters");
    }
    if (ev->type == EV_REVIEW_POSTED) {
        FUZZ_CHECK(ev->rating >= 1 && ev->rating <= 5, "rating out of 1..5");
    }
    if (ev->type == EV_MESSAGE_SENT) {
        FUZZ_CHECK(ev->direction == DIR_INBOUND || ev->direction == DIR_OUTBOUND,
                   "message without a direction");
        FUZZ_CHECK((unsigned)ev->kind < MSG__COUNT, "message kind out of range");
        FUZZ_CHECK((unsigned)ev->category < CAT__COUNT, "category out of range");
    }
}

static void check_rejected(const struct event *ev, enum parse_reason r,
                           const char *detail)
{
    FUZZ_CHECK(r > PR_OK && r < PR__COUNT, "reason out of range");
    FUZZ_CHECK(strcmp(parse_reason_name(r), "unknown") != 0, "reason without a name");
    FUZZ_CHECK(detail[0] != '\0', "rejection without a detail");
    FUZZ_CHECK(ev->items == NULL && ev->n_items == 0, "rejected event keeps its items");
    FUZZ_CHECK(ev->event_id[0] == '\0' && ev->ts_ms == 0, "rejected event not released");
}

static void parse_as(const uint8_t *data, size_t size, enum ev_source src,
                     const struct parse_limits *lim)
{
    struct event ev;
    char detail[256];
    enum parse_reason r = parse_event((const char *)data, size, src, lim, NOW_MS, &ev,
                                      detail, sizeof(detail));

    if (r == PR_OK) {
        check_accepted(&ev, src, lim);
        event_free(&ev);
    } else {
        check_rejected(&ev, r, detail);
    }
}

/* The timestamp syntax on its own, on the input as one C string. */
static void parse_time(const uint8_t *data, size_t size)
{
    char s[48];
    int64_t ms;

    if (size >= sizeof(s)) {
        return;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    (void)civil_rfc3339_parse(s, &ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parse_limits lim, tight = {.max_message_bytes = 256,
                                      .max_depth = 3,
                                      .max_amount = 100,
                                      .max_future_skew_ms = 0};

    parse_limits_default(&lim);
    for (int src = SRC_ORDERS; src < SRC__COUNT; src++) {
        parse_as(data, size, (enum ev_source)src, &lim);
    }
    parse_as(data, size, SRC_ORDERS, &tight);
    parse_time(data, size);
    return 0;
}
