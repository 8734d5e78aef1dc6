/*
 * test_parse.c - consumers/parse.c and the names of state/model/event.c.
 *
 * JSON in the tables is written with ' for " to stay readable; q() swaps them
 * back unless a case is marked verbatim.  Every message handed to the parser
 * is copied into a heap block of exactly its length, without a terminating
 * NUL, as Kafka delivers it, so ASan catches any read past the end.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumers/parse.h"
#include "state/model/event.h"
#include "tests/unit/check_main.h"

#define NOW_MS   1717200000000LL /* 2024-06-01T00:00:00Z */
#define TS0_MS   1714564800000LL /* 2024-05-01T12:00:00Z */
#define DETAIL_N 256
#define N_OF(a)  ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- helpers --------------------------------------------------------- */

/* Caller frees.  ' becomes " unless verbatim. */
static char *q(const char *json, int verbatim)
{
    size_t n = strlen(json);
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i <= n; i++) {
        s[i] = (!verbatim && json[i] == '\'') ? '"' : json[i];
    }
    return s;
}

/* Parses exactly len bytes from an unterminated heap copy. */
static enum parse_reason parse_bytes(const char *bytes, size_t len, enum ev_source src,
                                     const struct parse_limits *lim, struct event *ev,
                                     char *detail)
{
    char *copy = malloc(len > 0 ? len : 1);
    enum parse_reason r;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, bytes, len);
    r = parse_event(copy, len, src, lim, NOW_MS, ev, detail, DETAIL_N);
    free(copy);
    return r;
}

static enum parse_reason parse_q(const char *json, enum ev_source src, struct event *ev,
                                 char *detail)
{
    char *s = q(json, 0);
    enum parse_reason r = parse_bytes(s, strlen(s), src, NULL, ev, detail);

    free(s);
    return r;
}

/* Parses and requires success, printing the detail otherwise. */
static void parse_ok(const char *json, enum ev_source src, struct event *ev)
{
    char detail[DETAIL_N];
    enum parse_reason r = parse_q(json, src, ev, detail);

    ck_assert_msg(r == PR_OK, "rejected as %s: %s", parse_reason_name(r), detail);
}

/* A rejected event must be left released and zeroed. */
static void assert_released(const struct event *ev)
{
    ck_assert_ptr_null(ev->items);
    ck_assert_uint_eq(ev->n_items, 0);
    ck_assert_str_eq(ev->event_id, "");
    ck_assert_str_eq(ev->customer_id, "");
    ck_assert_int_eq(ev->ts_ms, 0);
}

static void assert_rejected(const char *bytes, size_t len, enum ev_source src,
                            const struct parse_limits *lim, enum parse_reason want)
{
    struct event ev;
    char detail[DETAIL_N];
    enum parse_reason r = parse_bytes(bytes, len, src, lim, &ev, detail);

    ck_assert_msg(r == want, "got %s (%s), want %s", parse_reason_name(r), detail,
                  parse_reason_name(want));
    ck_assert_msg(detail[0] != '\0', "no detail for %s", parse_reason_name(r));
    assert_released(&ev);
}

/* Builds {'event_id':'e1','customer_id':'c1','type':'order.placed','ts':...,
 * 'order_id':'o1','amount':1,'currency':'EUR', <extra>} with a big `extra`;
 * caller frees. */
static char *placed_with(const char *extra)
{
    static const char head[] = "{\"event_id\":\"e1\",\"customer_id\":\"c1\","
                               "\"type\":\"order.placed\",\"ts\":1714564800000,"
                               "\"order_id\":\"o1\",\"amount\":1,\"currency\":\"EUR\",";
    size_t n = strlen(head) + strlen(extra) + 2;
    char *s = malloc(n);

    ck_assert_ptr_nonnull(s);
    strcpy(s, head);
    strcat(s, extra);
    strcat(s, "}");
    return s;
}

/* An event whose extra field "deep" nests `levels` arrays inside the top
 * object, so the deepest bracket is at depth levels + 1; caller frees. */
static char *placed_nested(int levels)
{
    char *field = malloc((size_t)levels * 2 + 16), *json;
    int n;

    ck_assert_ptr_nonnull(field);
    n = snprintf(field, 16, "\"deep\":");
    memset(field + n, '[', (size_t)levels);
    memset(field + n + levels, ']', (size_t)levels);
    field[n + 2 * levels] = '\0';
    json = placed_with(field);
    free(field);
    return json;
}

/* ---- building blocks of the tables ------------------------------------ */

#define COMMON(type) "'event_id':'e1','customer_id':'c1','type':'" type "'"
#define TS           ",'ts':'2024-05-01T12:00:00Z'"
#define AMT          ",'amount':10"
#define CUR          ",'currency':'EUR'"
#define P_BASE       "{" COMMON("order.placed") TS ",'order_id':'o1'"
#define P_OK         P_BASE AMT CUR
#define SHIPPED      "{" COMMON("order.shipped") ",'order_id':'o1'"
#define RET_BASE     "{" COMMON("order.returned") TS ",'order_id':'o1'"
#define R_BASE       "{" COMMON("review.posted") TS
#define M_BASE       "{" COMMON("message.sent") TS ",'conversation_id':'k1'"
#define M_DIR        ",'direction':'inbound'"
#define M_KIND       ",'kind':'inquiry'"

/* ---- accepted events --------------------------------------------------- */

START_TEST(test_order_placed_all_fields)
{
    struct event ev;

    parse_ok(P_BASE
             ",'amount':90.5,'currency':'EUR','discount':9.5,"
             "'items':[{'sku':'S1','brand':'Acme','category':'shoes','qty':2,"
             "'unit_price':25,'list_price':30},"
             "{'sku':'S2','brand':'Zed','category':'socks','qty':1,"
             "'unit_price':40.5,'list_price':45}],"
             "'shipping':'expedited','promised_ship_by':'2024-05-02T12:00:00+02:00',"
             "'promised_delivery_by':1714953600000,'conversation_id':'conv1',"
             "'future_field':{'x':[1,{'y':null}]}}",
             SRC_ORDERS, &ev);
    ck_assert_int_eq(ev.type, EV_ORDER_PLACED);
    ck_assert_str_eq(ev.event_id, "e1");
    ck_assert_str_eq(ev.customer_id, "c1");
    ck_assert_int_eq(ev.ts_ms, TS0_MS);
    ck_assert_str_eq(ev.order_id, "o1");
    ck_assert_int_eq(ev.amount_minor, 9050);
    ck_assert_int_eq(ev.exponent, 2);
    ck_assert_str_eq(ev.currency, "EUR");
    ck_assert_int_eq(ev.discount_minor, 950);
    ck_assert_uint_eq(ev.n_items, 2);
    ck_assert_str_eq(ev.items[0].sku, "S1");
    ck_assert_str_eq(ev.items[0].brand, "Acme");
    ck_assert_str_eq(ev.items[0].category, "shoes");
    ck_assert_int_eq(ev.items[0].qty, 2);
    ck_assert_int_eq(ev.items[0].unit_price_minor, 2500);
    ck_assert_int_eq(ev.items[0].list_price_minor, 3000);
    ck_assert_str_eq(ev.items[1].sku, "S2");
    ck_assert_str_eq(ev.items[1].brand, "Zed");
    ck_assert_str_eq(ev.items[1].category, "socks");
    ck_assert_int_eq(ev.items[1].qty, 1);
    ck_assert_int_eq(ev.items[1].unit_price_minor, 4050);
    ck_assert_int_eq(ev.items[1].list_price_minor, 4500);
    ck_assert_int_eq(ev.shipping, SHIP_EXPEDITED);
    ck_assert_int_eq(ev.promised_ship_by_ms, 1714644000000LL);
    ck_assert_int_eq(ev.promised_delivery_by_ms, 1714953600000LL);
    ck_assert_str_eq(ev.conversation_id, "conv1");
    event_free(&ev);
    assert_released(&ev);
    event_free(&ev); /* a second free is harmless */
}
END_TEST

/* Amounts in exact minor units of their currency: none for JPY, three for
 * KWD; 0.29 is 29 cents, not the 28.999... its double times 100 is. */
START_TEST(test_order_placed_minor_units)
{
    static const struct {
        const char *cur, *amount;
        int exp;
        int64_t minor;
    } cases[] = {
        {"JPY", "1500", 0, 1500},    {"EUR", "0.29", 2, 29},    {"EUR", "12.3", 2, 1230},
        {"KWD", "1.234", 3, 1234},   {"BHD", "0.5", 3, 500},    {"USD", "1e2", 2, 10000},
        {"CLF", "1.2345", 4, 12345}, {"JPY", "1.5e3", 0, 1500},
    };
    char json[512];
    struct event ev;

    for (int i = 0; i < N_OF(cases); i++) {
        snprintf(json, sizeof(json),
                 P_BASE ",'currency':'%s','amount':%s,'discount':%s,"
                        "'items':[{'unit_price':%s,'list_price':%s,'unit_cost':%s}]}",
                 cases[i].cur, cases[i].amount, cases[i].amount, cases[i].amount,
                 cases[i].amount, cases[i].amount);
        parse_ok(json, SRC_ORDERS, &ev);
        ck_assert_msg(ev.exponent == cases[i].exp && ev.amount_minor == cases[i].minor &&
                          ev.discount_minor == cases[i].minor &&
                          ev.items[0].unit_price_minor == cases[i].minor &&
                          ev.items[0].list_price_minor == cases[i].minor &&
                          ev.items[0].unit_cost_minor == cases[i].minor,
                      "%s %s: exponent %d, %lld", cases[i].cur, cases[i].amount,
                      ev.exponent, (long long)ev.amount_minor);
        event_free(&ev);
    }
}
END_TEST

/* A return may name its currency and rate: its amount at that currency's
 * exponent. */
START_TEST(test_order_returned_currency)
{
    struct event ev;

    parse_ok(RET_BASE ",'amount':1500,'currency':'JPY','fx_rate':0.00625}", SRC_ORDERS,
             &ev);
    ck_assert_str_eq(ev.currency, "JPY");
    ck_assert_int_eq(ev.exponent, 0);
    ck_assert_int_eq(ev.amount_minor, 1500);
    ck_assert_int_eq(ev.fx_rate.units, 625);
    ck_assert_int_eq(ev.fx_rate.scale, 5);
    event_free(&ev);
    parse_ok(RET_BASE ",'amount':12.34,'currency':null}", SRC_ORDERS, &ev);
    ck_assert_str_eq(ev.currency, "");
    ck_assert_int_eq(ev.exponent, 2);
    ck_assert_int_eq(ev.amount_minor, 1234);
    ck_assert_int_eq(ev.fx_rate.units, 0);
    event_free(&ev);
}
END_TEST

/* fx_rate, the order's own rate: as written, exactly. */
START_TEST(test_order_placed_fx_rate)
{
    static const struct {
        const char *text;
        uint64_t units;
        int scale;
    } cases[] = {
        {"1.0823", 10823, 4}, {"158.41", 15841, 2}, {"2", 2, 0},
        {"1e-5", 1, 5},       {"0.000123", 123, 6}, {"null", 0, 0},
    };
    char json[256];
    struct event ev;

    for (int i = 0; i < N_OF(cases); i++) {
        snprintf(json, sizeof(json), P_OK ",'fx_rate':%s}", cases[i].text);
        parse_ok(json, SRC_ORDERS, &ev);
        ck_assert_msg(ev.fx_rate.units == cases[i].units &&
                          ev.fx_rate.scale == cases[i].scale,
                      "%s: %llu e-%d", cases[i].text,
                      (unsigned long long)ev.fx_rate.units, ev.fx_rate.scale);
        event_free(&ev);
    }
}
END_TEST

START_TEST(test_order_placed_epoch_ts_and_null_optionals)
{
    struct event ev;

    parse_ok("{" COMMON("order.placed") ",'ts':1714564800000,'order_id':'o1',"
                                        "'amount':0,'currency':'USD','discount':null,'"
                                        "items':null,'shipping':null,"
                                        "'promised_ship_by':null,'promised_delivery_by':"
                                        "null,'conversation_id':null}",
             SRC_ORDERS, &ev);
    ck_assert_int_eq(ev.ts_ms, TS0_MS);
    ck_assert_int_eq(ev.amount_minor, 0);
    ck_assert_str_eq(ev.currency, "USD");
    ck_assert_int_eq(ev.discount_minor, 0);
    ck_assert_ptr_null(ev.items);
    ck_assert_uint_eq(ev.n_items, 0);
    ck_assert_int_eq(ev.shipping, SHIP_NONE);
    ck_assert_int_eq(ev.promised_ship_by_ms, 0);
    ck_assert_int_eq(ev.promised_delivery_by_ms, 0);
    ck_assert_str_eq(ev.conversation_id, "");
    event_free(&ev);
}
END_TEST

START_TEST(test_order_placed_sparse_items)
{
    struct event ev;

    parse_ok(P_OK ",'items':[{},{'sku':null,'qty':null,'unit_price':null}],'items2':[]}",
             SRC_ORDERS, &ev);
    ck_assert_uint_eq(ev.n_items, 2);
    ck_assert_int_eq(ev.items[0].qty, 1);
    ck_assert_str_eq(ev.items[0].sku, "");
    ck_assert_int_eq(ev.items[0].unit_price_minor, 0);
    ck_assert_int_eq(ev.items[1].qty, 1);
    event_free(&ev);

    parse_ok(P_OK ",'items':[]}", SRC_ORDERS, &ev);
    ck_assert_ptr_null(ev.items);
    ck_assert_uint_eq(ev.n_items, 0);
    event_free(&ev);
}
END_TEST

static const struct {
    const char *json;
    enum ev_shipping want;
} shipping_cases[] = {
    {P_OK ",'shipping':'standard'}", SHIP_STANDARD},
    {P_OK ",'shipping':'expedited'}", SHIP_EXPEDITED},
    {P_OK ",'shipping':'fulfilled_by_platform'}", SHIP_PLATFORM},
};

START_TEST(test_order_shipping_values)
{
    struct event ev;

    parse_ok(shipping_cases[_i].json, SRC_ORDERS, &ev);
    ck_assert_int_eq(ev.shipping, shipping_cases[_i].want);
    event_free(&ev);
}
END_TEST

static const struct {
    const char *json;
    enum ev_type want;
} ref_cases[] = {
    {"{" COMMON("order.shipped") TS ",'order_id':'o7'}", EV_ORDER_SHIPPED},
    {"{" COMMON("order.delivered") TS ",'order_id':'o7'}", EV_ORDER_DELIVERED},
    {"{" COMMON("order.cancelled") TS ",'order_id':'o7'}", EV_ORDER_CANCELLED},
};

START_TEST(test_order_refs)
{
    struct event ev;

    parse_ok(ref_cases[_i].json, SRC_ORDERS, &ev);
    ck_assert_int_eq(ev.type, ref_cases[_i].want);
    ck_assert_str_eq(ev.event_id, "e1");
    ck_assert_str_eq(ev.customer_id, "c1");
    ck_assert_int_eq(ev.ts_ms, TS0_MS);
    ck_assert_str_eq(ev.order_id, "o7");
    event_free(&ev);
}
END_TEST

static const struct {
    const char *name;
    enum ev_return_reason want;
} return_reasons[] = {
    {"not_as_described", RET_NOT_AS_DESCRIBED},
    {"quality", RET_QUALITY},
    {"late", RET_LATE},
    {"changed_mind", RET_CHANGED_MIND},
    {"other", RET_OTHER},
};

START_TEST(test_order_returned)
{
    char json[256];
    struct event ev;

    snprintf(json, sizeof(json), RET_BASE ",'amount':12.25,'reason':'%s'}",
             return_reasons[_i].name);
    parse_ok(json, SRC_ORDERS, &ev);
    ck_assert_int_eq(ev.type, EV_ORDER_RETURNED);
    ck_assert_str_eq(ev.order_id, "o1");
    ck_assert_int_eq(ev.amount_minor, 1225);
    ck_assert_int_eq(ev.reason, return_reasons[_i].want);
    ck_assert_str_eq(event_return_reason_name(ev.reason), return_reasons[_i].name);
    event_free(&ev);

    parse_ok(RET_BASE ",'amount':1,'reason':null}", SRC_ORDERS, &ev);
    ck_assert_int_eq(ev.reason, RET_NONE);
    event_free(&ev);
}
END_TEST

START_TEST(test_review_all_fields)
{
    struct event ev;

    parse_ok(R_BASE ",'order_id':'o1','sku':'S1','brand':'Acme','rating':5,"
                    "'text':'great [{ \\\"shoes\\\"','shared':true}",
             SRC_REVIEWS, &ev);
    ck_assert_int_eq(ev.type, EV_REVIEW_POSTED);
    ck_assert_str_eq(ev.event_id, "e1");
    ck_assert_str_eq(ev.customer_id, "c1");
    ck_assert_int_eq(ev.ts_ms, TS0_MS);
    ck_assert_str_eq(ev.order_id, "o1");
    ck_assert_str_eq(ev.sku, "S1");
    ck_assert_str_eq(ev.brand, "Acme");
    ck_assert_int_eq(ev.rating, 5);
    ck_assert_int_eq(ev.has_text, 1);
    ck_assert_int_eq(ev.shared, 1);
    event_free(&ev);
}
END_TEST

START_TEST(test_review_minimal)
{
    struct event ev;

    parse_ok(
        "{" COMMON("review.posted") ",'ts':1714564800000,'rating':1.0,'order_id':null,"
                                    "'sku':null,'brand':null,'text':null,'shared':null}",
        SRC_REVIEWS, &ev);
    ck_assert_int_eq(ev.ts_ms, TS0_MS);
    ck_assert_int_eq(ev.rating, 1);
    ck_assert_str_eq(ev.order_id, "");
    ck_assert_str_eq(ev.sku, "");
    ck_assert_int_eq(ev.has_text, 0);
    ck_assert_int_eq(ev.shared, 0);
    event_free(&ev);

    parse_ok(R_BASE ",'rating':3,'text':'','shared':false}", SRC_REVIEWS, &ev);
    ck_assert_int_eq(ev.rating, 3);
    ck_assert_int_eq(ev.has_text, 0);
    ck_assert_int_eq(ev.shared, 0);
    event_free(&ev);
}
END_TEST

START_TEST(test_message_kinds)
{
    char json[256];
    struct event ev;
    enum ev_msg_kind k = (enum ev_msg_kind)_i;

    snprintf(json, sizeof(json),
             M_BASE ",'direction':'%s','kind':'%s',"
                    "'mentions_competitor':true}",
             _i % 2 ? "outbound" : "inbound", event_msg_kind_name(k));
    parse_ok(json, SRC_MESSAGES, &ev);
    ck_assert_int_eq(ev.type, EV_MESSAGE_SENT);
    ck_assert_str_eq(ev.event_id, "e1");
    ck_assert_str_eq(ev.customer_id, "c1");
    ck_assert_int_eq(ev.ts_ms, TS0_MS);
    ck_assert_str_eq(ev.conversation_id, "k1");
    ck_assert_int_eq(ev.direction, _i % 2 ? DIR_OUTBOUND : DIR_INBOUND);
    ck_assert_int_eq(ev.kind, k);
    ck_assert_int_eq(ev.mentions_competitor, 1);
    event_free(&ev);
}
END_TEST

/* The fields of the loyalty loop: a complaint's category, a resolution, the
 * reward an order used and the cost of its items. */
START_TEST(test_loop_fields)
{
    struct event ev;

    parse_ok(M_BASE M_DIR ",'kind':'complaint','complaint_category':'duties'}",
             SRC_MESSAGES, &ev);
    ck_assert_int_eq(ev.category, CAT_DUTIES);
    event_free(&ev);
    parse_ok(M_BASE ",'direction':'outbound','kind':'resolution'}", SRC_MESSAGES, &ev);
    ck_assert_int_eq(ev.kind, MSG_RESOLUTION);
    ck_assert_int_eq(ev.category, CAT_NONE);
    event_free(&ev);
    parse_ok(P_OK ",'reward_event_id':'0123abcd','items':[{'sku':'a','unit_price':5,"
                  "'unit_cost':0},{'sku':'b','unit_price':5}]}",
             SRC_ORDERS, &ev);
    ck_assert_str_eq(ev.reward_event_id, "0123abcd");
    ck_assert_int_eq(ev.items[0].has_cost, 1);
    ck_assert_int_eq(ev.items[0].unit_cost_minor, 0);
    ck_assert_int_eq(ev.items[1].has_cost, 0);
    event_free(&ev);
}
END_TEST

START_TEST(test_message_epoch_ts_null_optional)
{
    struct event ev;

    parse_ok("{" COMMON("message.sent") ",'ts':1714564800123,'conversation_id':'k1',"
                                        "'direction':'outbound','kind':'payment_reminder'"
                                        ",'mentions_competitor':null}",
             SRC_MESSAGES, &ev);
    ck_assert_int_eq(ev.ts_ms, TS0_MS + 123);
    ck_assert_int_eq(ev.direction, DIR_OUTBOUND);
    ck_assert_int_eq(ev.kind, MSG_PAYMENT_REMINDER);
    ck_assert_int_eq(ev.mentions_competitor, 0);
    event_free(&ev);
}
END_TEST

/* Values exactly at each limit are accepted. */
START_TEST(test_limits_inclusive)
{
    struct event ev;
    char id[EV_ID_MAX + 1], json[512];
    char *big;
    struct parse_limits lim;

    memset(id, 'x', EV_ID_MAX);
    id[EV_ID_MAX] = '\0';
    snprintf(json, sizeof(json),
             "{'event_id':'%s','customer_id':'%s','type':'order.shipped','ts':%lld,"
             "'order_id':'%s'}",
             id, id, (long long)(NOW_MS + 24LL * 3600 * 1000), id);
    parse_ok(json, SRC_ORDERS, &ev);
    ck_assert_uint_eq(strlen(ev.customer_id), EV_ID_MAX);
    event_free(&ev);

    parse_ok(P_BASE ",'amount':1e9,'currency':'EUR','discount':1000000000}", SRC_ORDERS,
             &ev);
    ck_assert_int_eq(ev.amount_minor, 100000000000LL);
    event_free(&ev);

    big = placed_nested(31); /* depth 32, the default limit */
    parse_limits_default(&lim);
    ck_assert_int_eq(parse_bytes(big, strlen(big), SRC_ORDERS, &lim, &ev, json), PR_OK);
    event_free(&ev);
    lim.max_message_bytes = strlen(big);
    ck_assert_int_eq(parse_bytes(big, strlen(big), SRC_ORDERS, &lim, &ev, json), PR_OK);
    event_free(&ev);
    lim.max_message_bytes--;
    ck_assert_int_eq(parse_bytes(big, strlen(big), SRC_ORDERS, &lim, &ev, json),
                     PR_TOO_LARGE);
    free(big);
}
END_TEST

START_TEST(test_hundred_items_ok)
{
    char *items = malloc(100 * 16 + 16), *json;
    struct event ev;
    char detail[DETAIL_N];

    ck_assert_ptr_nonnull(items);
    strcpy(items, "\"items\":[");
    for (int i = 0; i < 100; i++) {
        strcat(items, i ? ",{\"qty\":3}" : "{\"qty\":3}");
    }
    strcat(items, "]");
    json = placed_with(items);
    ck_assert_int_eq(parse_bytes(json, strlen(json), SRC_ORDERS, NULL, &ev, detail),
                     PR_OK);
    ck_assert_uint_eq(ev.n_items, 100);
    ck_assert_int_eq(ev.items[99].qty, 3);
    event_free(&ev);
    free(json);
    free(items);
}
END_TEST

/* Brackets inside strings do not count towards depth; whitespace and a
 * custom amount limit. */
START_TEST(test_brackets_in_strings_and_custom_limits)
{
    char *text = malloc(4096), *json;
    struct event ev;
    struct parse_limits lim;
    char detail[DETAIL_N];

    ck_assert_ptr_nonnull(text);
    strcpy(text, "\"note\":\"");
    for (int i = 0; i < 500; i++) {
        strcat(text, "[{\\\"");
    }
    strcat(text, "\"");
    json = placed_with(text);
    ck_assert_int_eq(parse_bytes(json, strlen(json), SRC_ORDERS, NULL, &ev, detail),
                     PR_OK);
    event_free(&ev);
    free(json);
    free(text);

    parse_ok(" \r\n\t" P_OK "} \n", SRC_ORDERS, &ev);
    event_free(&ev);

    parse_limits_default(&lim);
    lim.max_amount = 5;
    json = q(P_OK "}", 0);
    ck_assert_int_eq(parse_bytes(json, strlen(json), SRC_ORDERS, &lim, &ev, detail),
                     PR_BAD_AMOUNT);
    ck_assert_str_eq(detail, "field 'amount': above the maximum");
    free(json);
}
END_TEST

/* On a Redis Cluster a customer_id starting with '}' would give its keys an
 * empty hash tag ("c:{}x}" and "c:{}x}:state" in two slots): refused there,
 * taken on one Redis; a '}' further in is harmless (the tag ends at it for
 * every key of the customer alike). */
START_TEST(test_cluster_customer_ids)
{
    const char *lead = "{'event_id':'e1','customer_id':'}x','type':'order.placed'" TS
                       ",'order_id':'o1'" AMT CUR "}";
    const char *inner = "{'event_id':'e1','customer_id':'a}b','type':'order.placed'" TS
                        ",'order_id':'o1'" AMT CUR "}";
    struct parse_limits lim;
    char detail[DETAIL_N];
    struct event ev;
    char *json;

    parse_limits_default(&lim);
    ck_assert_int_eq(lim.cluster_ids, 0);
    json = q(lead, 0);
    ck_assert_int_eq(parse_bytes(json, strlen(json), SRC_ORDERS, &lim, &ev, detail),
                     PR_OK);
    ck_assert_str_eq(ev.customer_id, "}x");
    event_free(&ev);
    lim.cluster_ids = 1;
    ck_assert_int_eq(parse_bytes(json, strlen(json), SRC_ORDERS, &lim, &ev, detail),
                     PR_BAD_ID);
    ck_assert_ptr_nonnull(strstr(detail, "'customer_id': starts with '}'"));
    free(json);
    json = q(inner, 0);
    ck_assert_int_eq(parse_bytes(json, strlen(json), SRC_ORDERS, &lim, &ev, detail),
                     PR_OK);
    event_free(&ev);
    free(json);
}
END_TEST

/* ---- rejected events: {name, topic, json, reason} ---------------------- */

struct bad_case {
    const char *name;
    enum ev_source src;
    const char *json;
    enum parse_reason want;
    int verbatim; /* ' is literal, not " */
};

static const struct bad_case bad_cases[] = {
    /* invalid JSON */
    {"empty", SRC_ORDERS, "", PR_INVALID_JSON, 0},
    {"whitespace only", SRC_ORDERS, "  \n", PR_INVALID_JSON, 0},
    {"truncated", SRC_ORDERS, "{'event_id':'e1','customer_id':", PR_INVALID_JSON, 0},
    {"unterminated string", SRC_ORDERS, "{'event_id':'e1", PR_INVALID_JSON, 0},
    {"trailing comma", SRC_ORDERS, P_OK ",}", PR_INVALID_JSON, 0},
    {"single quotes", SRC_ORDERS, "{'event_id':'e1'}", PR_INVALID_JSON, 1},
    {"unquoted key", SRC_ORDERS, "{event_id:'e1'}", PR_INVALID_JSON, 0},
    {"bad literal", SRC_ORDERS, P_OK ",'shared':tru}", PR_INVALID_JSON, 0},
    {"trailing garbage", SRC_ORDERS, P_OK "} x", PR_INVALID_JSON, 0},
    {"two objects", SRC_ORDERS, P_OK "}{}", PR_INVALID_JSON, 0},
    {"unbalanced close", SRC_ORDERS, P_OK "}]", PR_INVALID_JSON, 0},
    {"raw tab in string", SRC_ORDERS, P_OK ",'note':'a\tb'}", PR_INVALID_JSON, 0},
    {"control byte between tokens", SRC_ORDERS, P_OK ",\x01'x':1}", PR_INVALID_JSON, 0},
    {"escaped NUL", SRC_ORDERS, "{'event_id':'e1\\u0000x'}", PR_INVALID_JSON, 0},
    {"duplicate key", SRC_ORDERS, P_OK ",'amount':-5}", PR_INVALID_JSON, 0},
    /* invalid UTF-8 */
    {"overlong slash", SRC_ORDERS, P_OK ",'x':'\xC0\xAF'}", PR_INVALID_UTF8, 0},
    {"overlong 3-byte", SRC_ORDERS, P_OK ",'x':'\xE0\x80\xAF'}", PR_INVALID_UTF8, 0},
    {"lone continuation", SRC_ORDERS, P_OK ",'x':'\x80'}", PR_INVALID_UTF8, 0},
    {"surrogate", SRC_ORDERS, P_OK ",'x':'\xED\xA0\x80'}", PR_INVALID_UTF8, 0},
    {"above U+10FFFF", SRC_ORDERS, P_OK ",'x':'\xF4\x90\x80\x80'}", PR_INVALID_UTF8, 0},
    {"truncated sequence", SRC_ORDERS, P_OK ",'x':'\xE2\x82'}", PR_INVALID_UTF8, 0},
    {"truncated at end", SRC_ORDERS, P_OK "}\xF0\x9F\x98", PR_INVALID_UTF8, 0},
    {"byte FF", SRC_ORDERS, P_OK ",'x':'\xFF'}", PR_INVALID_UTF8, 0},
    /* not an object */
    {"array", SRC_ORDERS, "[1,2]", PR_NOT_OBJECT, 0},
    {"string", SRC_ORDERS, "'order.placed'", PR_NOT_OBJECT, 0},
    {"number", SRC_ORDERS, "42", PR_NOT_OBJECT, 0},
    {"null", SRC_ORDERS, "null", PR_NOT_OBJECT, 0},
    /* wrong JSON types */
    {"event_id number", SRC_ORDERS, "{'event_id':1}", PR_WRONG_TYPE, 0},
    {"customer_id object", SRC_ORDERS, "{'event_id':'e','customer_id':{}}", PR_WRONG_TYPE,
     0},
    {"type number", SRC_ORDERS, "{'event_id':'e','customer_id':'c','type':3}",
     PR_WRONG_TYPE, 0},
    {"ts bool", SRC_ORDERS, SHIPPED ",'ts':true}", PR_WRONG_TYPE, 0},
    {"ts array", SRC_ORDERS, SHIPPED ",'ts':[1]}", PR_WRONG_TYPE, 0},
    {"order_id number", SRC_ORDERS, "{" COMMON("order.shipped") TS ",'order_id':7}",
     PR_WRONG_TYPE, 0},
    {"amount string", SRC_ORDERS, P_BASE CUR ",'amount':'10'}", PR_WRONG_TYPE, 0},
    {"currency number", SRC_ORDERS, P_BASE AMT ",'currency':978}", PR_WRONG_TYPE, 0},
    {"discount bool", SRC_ORDERS, P_OK ",'discount':false}", PR_WRONG_TYPE, 0},
    {"items object", SRC_ORDERS, P_OK ",'items':{'qty':1}}", PR_WRONG_TYPE, 0},
    {"item not object", SRC_ORDERS, P_OK ",'items':[{'qty':1},7]}", PR_WRONG_TYPE, 0},
    {"item sku number", SRC_ORDERS, P_OK ",'items':[{'sku':5}]}", PR_WRONG_TYPE, 0},
    {"item unit_price string", SRC_ORDERS, P_OK ",'items':[{'unit_price':'1'}]}",
     PR_WRONG_TYPE, 0},
    {"qty string", SRC_ORDERS, P_OK ",'items':[{'qty':'2'}]}", PR_WRONG_TYPE, 0},
    {"shipping number", SRC_ORDERS, P_OK ",'shipping':1}", PR_WRONG_TYPE, 0},
    {"promised_ship_by bool", SRC_ORDERS, P_OK ",'promised_ship_by':true}", PR_WRONG_TYPE,
     0},
    {"rating string", SRC_REVIEWS, R_BASE ",'rating':'5'}", PR_WRONG_TYPE, 0},
    {"shared string", SRC_REVIEWS, R_BASE ",'rating':5,'shared':'yes'}", PR_WRONG_TYPE,
     0},
    {"text number", SRC_REVIEWS, R_BASE ",'rating':5,'text':1}", PR_WRONG_TYPE, 0},
    {"direction array", SRC_MESSAGES, M_BASE M_KIND ",'direction':['inbound']}",
     PR_WRONG_TYPE, 0},
    {"mentions_competitor number", SRC_MESSAGES,
     M_BASE M_DIR M_KIND ",'mentions_competitor':1}", PR_WRONG_TYPE, 0},
    /* missing required fields */
    {"no event_id", SRC_ORDERS,
     "{'customer_id':'c1','type':'order.shipped'" TS ",'order_id':'o1'}",
     PR_MISSING_FIELD, 0},
    {"no customer_id", SRC_ORDERS,
     "{'event_id':'e1','type':'order.shipped'" TS ",'order_id':'o1'}", PR_MISSING_FIELD,
     0},
    {"no type", SRC_ORDERS, "{'event_id':'e1','customer_id':'c1'" TS ",'order_id':'o1'}",
     PR_MISSING_FIELD, 0},
    {"no ts", SRC_ORDERS, SHIPPED "}", PR_MISSING_FIELD, 0},
    {"null ts", SRC_ORDERS, SHIPPED ",'ts':null}", PR_MISSING_FIELD, 0},
    {"placed no order_id", SRC_ORDERS, "{" COMMON("order.placed") TS AMT CUR "}",
     PR_MISSING_FIELD, 0},
    {"placed no amount", SRC_ORDERS, P_BASE CUR "}", PR_MISSING_FIELD, 0},
    {"placed null amount", SRC_ORDERS, P_BASE CUR ",'amount':null}", PR_MISSING_FIELD, 0},
    {"placed no currency", SRC_ORDERS, P_BASE AMT "}", PR_MISSING_FIELD, 0},
    {"shipped no order_id", SRC_ORDERS, "{" COMMON("order.shipped") TS "}",
     PR_MISSING_FIELD, 0},
    {"delivered no order_id", SRC_ORDERS, "{" COMMON("order.delivered") TS "}",
     PR_MISSING_FIELD, 0},
    {"cancelled no order_id", SRC_ORDERS, "{" COMMON("order.cancelled") TS "}",
     PR_MISSING_FIELD, 0},
    {"returned no order_id", SRC_ORDERS, "{" COMMON("order.returned") TS AMT "}",
     PR_MISSING_FIELD, 0},
    {"returned no amount", SRC_ORDERS, RET_BASE ",'reason':'late'}", PR_MISSING_FIELD, 0},
    {"review no rating", SRC_REVIEWS, R_BASE ",'shared':true}", PR_MISSING_FIELD, 0},
    {"message no conversation_id", SRC_MESSAGES,
     "{" COMMON("message.sent") TS M_DIR M_KIND "}", PR_MISSING_FIELD, 0},
    {"message no direction", SRC_MESSAGES, M_BASE M_KIND "}", PR_MISSING_FIELD, 0},
    {"message no kind", SRC_MESSAGES, M_BASE M_DIR "}", PR_MISSING_FIELD, 0},
    /* type and topic */
    {"unknown type", SRC_ORDERS, "{" COMMON("order.exploded") TS "}", PR_UNKNOWN_TYPE, 0},
    {"type wrong case", SRC_ORDERS, "{" COMMON("Order.Placed") TS "}", PR_UNKNOWN_TYPE,
     0},
    {"placed on reviews", SRC_REVIEWS, P_OK "}", PR_WRONG_TOPIC, 0},
    {"shipped on messages", SRC_MESSAGES, SHIPPED TS "}", PR_WRONG_TOPIC, 0},
    {"review on orders", SRC_ORDERS, R_BASE ",'rating':5}", PR_WRONG_TOPIC, 0},
    {"message on reviews", SRC_REVIEWS, M_BASE M_DIR M_KIND "}", PR_WRONG_TOPIC, 0},
    /* enums */
    {"shipping unknown", SRC_ORDERS, P_OK ",'shipping':'teleport'}", PR_BAD_ENUM, 0},
    {"shipping none", SRC_ORDERS, P_OK ",'shipping':'none'}", PR_BAD_ENUM, 0},
    {"reason unknown", SRC_ORDERS, RET_BASE AMT ",'reason':'bored'}", PR_BAD_ENUM, 0},
    {"direction unknown", SRC_MESSAGES, M_BASE M_KIND ",'direction':'sideways'}",
     PR_BAD_ENUM, 0},
    {"kind unknown", SRC_MESSAGES, M_BASE M_DIR ",'kind':'spam'}", PR_BAD_ENUM, 0},
    {"kind upper case", SRC_MESSAGES, M_BASE M_DIR ",'kind':'INQUIRY'}", PR_BAD_ENUM, 0},
    {"resolution inbound", SRC_MESSAGES, M_BASE M_DIR ",'kind':'resolution'}",
     PR_BAD_ENUM, 0},
    {"complaint_category unknown", SRC_MESSAGES,
     M_BASE M_DIR ",'kind':'complaint','complaint_category':'weather'}", PR_BAD_ENUM, 0},
    {"complaint_category none", SRC_MESSAGES,
     M_BASE M_DIR ",'kind':'complaint','complaint_category':'none'}", PR_BAD_ENUM, 0},
    {"unit_cost negative", SRC_ORDERS,
     P_OK ",'items':[{'sku':'s','unit_price':2,'unit_cost':-1}]}", PR_BAD_AMOUNT, 0},
    {"reward_event_id empty", SRC_ORDERS, P_OK ",'reward_event_id':''}", PR_BAD_ID, 0},
    /* amounts */
    {"amount negative", SRC_ORDERS, P_BASE CUR ",'amount':-1}", PR_BAD_AMOUNT, 0},
    {"amount 1e400", SRC_ORDERS, P_BASE CUR ",'amount':1e400}", PR_BAD_AMOUNT, 0},
    {"amount -1e400", SRC_ORDERS, P_BASE CUR ",'amount':-1e400}", PR_BAD_AMOUNT, 0},
    {"amount above max", SRC_ORDERS, P_BASE CUR ",'amount':1000000000.01}", PR_BAD_AMOUNT,
     0},
    {"refund negative", SRC_ORDERS, RET_BASE ",'amount':-0.01}", PR_BAD_AMOUNT, 0},
    {"discount negative", SRC_ORDERS, P_OK ",'discount':-5}", PR_BAD_AMOUNT, 0},
    {"discount 1e400", SRC_ORDERS, P_OK ",'discount':1e400}", PR_BAD_AMOUNT, 0},
    {"unit_price negative", SRC_ORDERS, P_OK ",'items':[{'unit_price':-1}]}",
     PR_BAD_AMOUNT, 0},
    {"list_price 1e400", SRC_ORDERS, P_OK ",'items':[{'list_price':1e400}]}",
     PR_BAD_AMOUNT, 0},
    /* more decimal places than the currency has (ISO 4217 minor units) */
    {"JPY amount with decimals", SRC_ORDERS, P_BASE ",'currency':'JPY','amount':1500.5}",
     PR_BAD_AMOUNT, 0},
    {"EUR amount of 3 decimals", SRC_ORDERS, P_BASE CUR ",'amount':12.345}",
     PR_BAD_AMOUNT, 0},
    {"KWD amount of 4 decimals", SRC_ORDERS, P_BASE ",'currency':'KWD','amount':1.2345}",
     PR_BAD_AMOUNT, 0},
    {"JPY discount with decimals", SRC_ORDERS,
     P_BASE ",'currency':'JPY','amount':1500,'discount':0.5}", PR_BAD_AMOUNT, 0},
    {"JPY unit_price with decimals", SRC_ORDERS,
     P_BASE ",'currency':'JPY','amount':1500,'items':[{'unit_price':99.9}]}",
     PR_BAD_AMOUNT, 0},
    {"refund of 3 decimals", SRC_ORDERS, RET_BASE ",'amount':0.001}", PR_BAD_AMOUNT, 0},
    {"JPY refund with decimals", SRC_ORDERS, RET_BASE ",'currency':'JPY','amount':1.5}",
     PR_BAD_AMOUNT, 0},
    {"refund currency not ISO 4217", SRC_ORDERS, RET_BASE ",'currency':'ABC','amount':1}",
     PR_BAD_CURRENCY, 0},
    {"refund fx_rate zero", SRC_ORDERS, RET_BASE ",'amount':1,'fx_rate':0}",
     PR_BAD_AMOUNT, 0},
    {"fx_rate zero", SRC_ORDERS, P_OK ",'fx_rate':0}", PR_BAD_AMOUNT, 0},
    {"fx_rate negative", SRC_ORDERS, P_OK ",'fx_rate':-1.1}", PR_BAD_AMOUNT, 0},
    {"fx_rate 1e400", SRC_ORDERS, P_OK ",'fx_rate':1e400}", PR_BAD_AMOUNT, 0},
    {"fx_rate 17 digits", SRC_ORDERS, P_OK ",'fx_rate':1.2345678901234567}",
     PR_BAD_AMOUNT, 0},
    {"fx_rate string", SRC_ORDERS, P_OK ",'fx_rate':'1.1'}", PR_WRONG_TYPE, 0},
    /* currency */
    {"currency not ISO 4217", SRC_ORDERS, P_BASE AMT ",'currency':'XYZ'}",
     PR_BAD_CURRENCY, 0},
    {"currency lower case", SRC_ORDERS, P_BASE AMT ",'currency':'usd'}", PR_BAD_CURRENCY,
     0},
    {"currency 2 letters", SRC_ORDERS, P_BASE AMT ",'currency':'US'}", PR_BAD_CURRENCY,
     0},
    {"currency digit", SRC_ORDERS, P_BASE AMT ",'currency':'US1'}", PR_BAD_CURRENCY, 0},
    {"currency 4 letters", SRC_ORDERS, P_BASE AMT ",'currency':'EURO'}", PR_BAD_CURRENCY,
     0},
    {"currency empty", SRC_ORDERS, P_BASE AMT ",'currency':''}", PR_BAD_CURRENCY, 0},
    /* quantities */
    {"qty 0", SRC_ORDERS, P_OK ",'items':[{'qty':0}]}", PR_BAD_QUANTITY, 0},
    {"qty -1", SRC_ORDERS, P_OK ",'items':[{'qty':-1}]}", PR_BAD_QUANTITY, 0},
    {"qty 1.5", SRC_ORDERS, P_OK ",'items':[{'qty':1}, {'qty':1.5}]}", PR_BAD_QUANTITY,
     0},
    {"qty above 1e6", SRC_ORDERS, P_OK ",'items':[{'qty':1000001}]}", PR_BAD_QUANTITY, 0},
    {"qty 1e400", SRC_ORDERS, P_OK ",'items':[{'qty':1e400}]}", PR_BAD_QUANTITY, 0},
    /* ratings */
    {"rating 0", SRC_REVIEWS, R_BASE ",'rating':0}", PR_BAD_RATING, 0},
    {"rating 6", SRC_REVIEWS, R_BASE ",'rating':6}", PR_BAD_RATING, 0},
    {"rating 4.5", SRC_REVIEWS, R_BASE ",'rating':4.5}", PR_BAD_RATING, 0},
    {"rating -1", SRC_REVIEWS, R_BASE ",'rating':-1}", PR_BAD_RATING, 0},
    /* timestamps */
    {"ts no offset", SRC_ORDERS, SHIPPED ",'ts':'2024-05-01T12:00:00'}", PR_BAD_TIMESTAMP,
     0},
    {"ts Feb 30", SRC_ORDERS, SHIPPED ",'ts':'2024-02-30T12:00:00Z'}", PR_BAD_TIMESTAMP,
     0},
    {"ts Feb 29 non-leap", SRC_ORDERS, SHIPPED ",'ts':'2023-02-29T12:00:00Z'}",
     PR_BAD_TIMESTAMP, 0},
    {"ts 1969", SRC_ORDERS, SHIPPED ",'ts':'1969-12-31T23:59:59Z'}", PR_BAD_TIMESTAMP, 0},
    {"ts epoch zero", SRC_ORDERS, SHIPPED ",'ts':0}", PR_BAD_TIMESTAMP, 0},
    {"ts negative epoch", SRC_ORDERS, SHIPPED ",'ts':-1000}", PR_BAD_TIMESTAMP, 0},
    {"ts garbage", SRC_ORDERS, SHIPPED ",'ts':'yesterday'}", PR_BAD_TIMESTAMP, 0},
    {"ts float epoch", SRC_ORDERS, SHIPPED ",'ts':1714564800000.5}", PR_BAD_TIMESTAMP, 0},
    {"ts epoch 1e400", SRC_ORDERS, SHIPPED ",'ts':1e400}", PR_BAD_TIMESTAMP, 0},
    {"ts hour 24", SRC_ORDERS, SHIPPED ",'ts':'2024-05-01T24:00:00Z'}", PR_BAD_TIMESTAMP,
     0},
    {"ts offset +24:00", SRC_ORDERS, SHIPPED ",'ts':'2024-05-01T12:00:00+24:00'}",
     PR_BAD_TIMESTAMP, 0},
    {"ts far future", SRC_ORDERS, SHIPPED ",'ts':'2100-01-01T00:00:00Z'}",
     PR_FUTURE_TIMESTAMP, 0},
    {"ts future epoch", SRC_ORDERS, SHIPPED ",'ts':1717286400001}", PR_FUTURE_TIMESTAMP,
     0},
    {"promised_ship_by month 13", SRC_ORDERS,
     P_OK ",'promised_ship_by':'2024-13-01T00:00:00Z'}", PR_BAD_TIMESTAMP, 0},
    {"promised_delivery_by no offset", SRC_ORDERS,
     P_OK ",'promised_delivery_by':'2024-05-03 10:00'}", PR_BAD_TIMESTAMP, 0},
    /* ids and names */
    {"empty event_id", SRC_ORDERS, "{'event_id':'','customer_id':'c1'}", PR_BAD_ID, 0},
    {"empty order_id", SRC_ORDERS, "{" COMMON("order.shipped") TS ",'order_id':''}",
     PR_BAD_ID, 0},
    {"empty conversation_id", SRC_ORDERS, P_OK ",'conversation_id':''}", PR_BAD_ID, 0},
    {"sku 65 bytes", SRC_ORDERS,
     P_OK ",'items':[{'sku':'"
          "12345678901234567890123456789012345678901234567890123456789012345'}]}",
     PR_BAD_ID, 0},
    {"brand 65 bytes", SRC_REVIEWS,
     R_BASE ",'rating':5,'brand':"
            "'12345678901234567890123456789012345678901234567890123456789012345'}",
     PR_BAD_ID, 0},
};

#define N_BAD N_OF(bad_cases)

START_TEST(test_bad_table)
{
    const struct bad_case *bc = &bad_cases[_i];
    char *json = q(bc->json, bc->verbatim);
    struct event ev;
    char detail[DETAIL_N];
    enum parse_reason r = parse_bytes(json, strlen(json), bc->src, NULL, &ev, detail);

    ck_assert_msg(r == bc->want, "case '%s': got %s (%s), want %s", bc->name,
                  parse_reason_name(r), detail, parse_reason_name(bc->want));
    ck_assert_msg(detail[0] != '\0', "case '%s': no detail", bc->name);
    assert_released(&ev);
    free(json);
}
END_TEST

START_TEST(test_bad_table_size)
{
    ck_assert_int_ge(N_BAD, 45);
}
END_TEST

/* A NUL byte is not JSON, wherever it is. */
START_TEST(test_nul_bytes)
{
    static const char in_string[] = "{\"event_id\":\"e\0x\"}";
    static const char after[] = "{\"event_id\":\"e\"}\0";
    static const char before[] = "\0{}";

    assert_rejected(in_string, sizeof(in_string) - 1, SRC_ORDERS, NULL, PR_INVALID_JSON);
    assert_rejected(after, sizeof(after) - 1, SRC_ORDERS, NULL, PR_INVALID_JSON);
    assert_rejected(before, sizeof(before) - 1, SRC_ORDERS, NULL, PR_INVALID_JSON);
}
END_TEST

START_TEST(test_too_large)
{
    size_t n = 2 * 1024 * 1024;
    char *big = malloc(n);

    ck_assert_ptr_nonnull(big);
    memset(big, ' ', n);
    memcpy(big, "{\"x\":\"", 6);
    memcpy(big + n - 2, "\"}", 2);
    assert_rejected(big, n, SRC_ORDERS, NULL, PR_TOO_LARGE);
    free(big);
}
END_TEST

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

START_TEST(test_too_deep)
{
    size_t depth = 10000;
    char *deep = malloc(2 * depth + 16);
    char *nested;
    struct timespec t0;

    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_rejected(deep, 2 * depth, SRC_ORDERS, NULL, PR_TOO_DEEP);
    ck_assert_double_lt(elapsed_ms(&t0), 100.0);

    /* unbalanced too: the scan rejects before any parser runs */
    deep[0] = '{';
    memcpy(deep + 1, "\"a\":", 4);
    memset(deep + 5, '{', depth - 5);
    assert_rejected(deep, depth, SRC_ORDERS, NULL, PR_TOO_DEEP);
    free(deep);

    nested = placed_nested(32); /* one past the default limit of 32 */
    assert_rejected(nested, strlen(nested), SRC_ORDERS, NULL, PR_TOO_DEEP);
    free(nested);
}
END_TEST

START_TEST(test_too_many_items)
{
    char *items = malloc(101 * 16 + 16), *json;

    ck_assert_ptr_nonnull(items);
    strcpy(items, "\"items\":[");
    for (int i = 0; i < 101; i++) {
        strcat(items, i ? ",{\"qty\":1}" : "{\"qty\":1}");
    }
    strcat(items, "]");
    json = placed_with(items);
    assert_rejected(json, strlen(json), SRC_ORDERS, NULL, PR_TOO_MANY_ITEMS);
    free(json);
    free(items);
}
END_TEST

START_TEST(test_long_customer_id)
{
    char id[EV_ID_MAX + 2], json[512];
    char *s;

    memset(id, 'c', EV_ID_MAX + 1);
    id[EV_ID_MAX + 1] = '\0';
    snprintf(json, sizeof(json),
             "{'event_id':'e1','customer_id':'%s','type':'order.shipped'" TS
             ",'order_id':'o1'}",
             id);
    s = q(json, 0);
    assert_rejected(s, strlen(s), SRC_ORDERS, NULL, PR_BAD_ID);
    free(s);
}
END_TEST

/* The detail names the field and the fault, never the offending value. */
START_TEST(test_detail_text)
{
    struct event ev;
    char detail[DETAIL_N];

    ck_assert_int_eq(parse_q(P_BASE CUR ",'amount':-3}", SRC_ORDERS, &ev, detail),
                     PR_BAD_AMOUNT);
    ck_assert_str_eq(detail, "field 'amount': negative");
    ck_assert_int_eq(parse_q(P_OK ",'shipping':'SECRET-VALUE'}", SRC_ORDERS, &ev, detail),
                     PR_BAD_ENUM);
    ck_assert_ptr_null(strstr(detail, "SECRET"));
    ck_assert_str_eq(detail, "field 'shipping': unknown value");
    ck_assert_int_eq(
        parse_q(P_OK ",'items':[{'qty':1},{'qty':0}]}", SRC_ORDERS, &ev, detail),
        PR_BAD_QUANTITY);
    ck_assert_str_eq(detail, "field 'items[1].qty': not a positive integer");
    ck_assert_int_eq(parse_q(P_BASE AMT "}", SRC_ORDERS, &ev, detail), PR_MISSING_FIELD);
    ck_assert_str_eq(detail, "field 'currency': missing");

    /* a detail buffer too small, or none at all, is fine */
    ck_assert_int_eq(parse_event("{}", 2, SRC_ORDERS, NULL, NOW_MS, &ev, detail, 4),
                     PR_MISSING_FIELD);
    ck_assert_str_eq(detail, "fie");
    ck_assert_int_eq(parse_event("[]", 2, SRC_ORDERS, NULL, NOW_MS, &ev, NULL, 0),
                     PR_NOT_OBJECT);
    ck_assert_int_eq(parse_event(NULL, 5, SRC_ORDERS, NULL, NOW_MS, &ev, NULL, 0),
                     PR_INVALID_JSON);
}
END_TEST

/* ---- parse_utf8_valid ----------------------------------------------------- */

static const struct {
    const char *s;
    size_t len;
    int valid;
} utf8_cases[] = {
    {"", 0, 1},
    {"plain ascii", 11, 1},
    {"\xC3\xA9", 2, 1},         /* e acute */
    {"\xE2\x82\xAC", 3, 1},     /* euro sign */
    {"\xF0\x9F\x98\x80", 4, 1}, /* emoji */
    {"\xF4\x8F\xBF\xBF", 4, 1}, /* U+10FFFF */
    {"\xED\x9F\xBF", 3, 1},     /* U+D7FF, last before surrogates */
    {"\xEE\x80\x80", 3, 1},     /* U+E000, first after */
    {"a\0b", 3, 1},             /* NUL is valid UTF-8 (JSON rejects it) */
    {"\xC0\xAF", 2, 0},         /* overlong '/' */
    {"\xC1\xBF", 2, 0},         /* overlong */
    {"\xE0\x80\xAF", 3, 0},     /* overlong 3-byte */
    {"\xF0\x80\x80\xAF", 4, 0}, /* overlong 4-byte */
    {"\x80", 1, 0},             /* lone continuation */
    {"a\xBF", 2, 0},            /* lone continuation */
    {"\xED\xA0\x80", 3, 0},     /* U+D800 */
    {"\xED\xBF\xBF", 3, 0},     /* U+DFFF */
    {"\xF4\x90\x80\x80", 4, 0}, /* U+110000 */
    {"\xF5\x80\x80\x80", 4, 0}, /* invalid lead */
    {"\xFE", 1, 0},
    {"\xFF", 1, 0},
    {"\xC3", 1, 0},             /* truncated */
    {"\xE2\x82", 2, 0},         /* truncated */
    {"\xF0\x9F\x98", 3, 0},     /* truncated */
    {"\xE2\x28\xA1", 3, 0},     /* bad continuation */
    {"\xF0\x9F\x28\x80", 4, 0}, /* bad third byte */
    {"\xE2\x82\xAC", 2, 0},     /* cut by len */
};

START_TEST(test_utf8)
{

    ck_assert_msg(parse_utf8_valid(utf8_cases[_i].s, utf8_cases[_i].len) ==
                      utf8_cases[_i].valid,
                  "case %d", _i);
}
END_TEST

/* ---- names ------------------------------------------------------------------ */

START_TEST(test_names)
{
    ck_assert_str_eq(event_type_name(EV_ORDER_PLACED), "order.placed");
    ck_assert_str_eq(event_type_name(EV_ORDER_SHIPPED), "order.shipped");
    ck_assert_str_eq(event_type_name(EV_ORDER_DELIVERED), "order.delivered");
    ck_assert_str_eq(event_type_name(EV_ORDER_RETURNED), "order.returned");
    ck_assert_str_eq(event_type_name(EV_ORDER_CANCELLED), "order.cancelled");
    ck_assert_str_eq(event_type_name(EV_REVIEW_POSTED), "review.posted");
    ck_assert_str_eq(event_type_name(EV_MESSAGE_SENT), "message.sent");
    ck_assert_str_eq(event_type_name(EV__COUNT), "unknown");
    ck_assert_str_eq(event_source_name(SRC_ORDERS), "orders");
    ck_assert_str_eq(event_source_name(SRC_REVIEWS), "reviews");
    ck_assert_str_eq(event_source_name(SRC_MESSAGES), "messages");
    ck_assert_str_eq(event_source_name(SRC__COUNT), "unknown");
    ck_assert_str_eq(event_msg_kind_name(MSG_INQUIRY), "inquiry");
    ck_assert_str_eq(event_msg_kind_name(MSG_PAYMENT_REMINDER), "payment_reminder");
    ck_assert_str_eq(event_msg_kind_name(MSG__COUNT), "unknown");
    ck_assert_str_eq(event_shipping_name(SHIP_PLATFORM), "fulfilled_by_platform");
    ck_assert_str_eq(event_return_reason_name(RET_NOT_AS_DESCRIBED), "not_as_described");
    ck_assert_str_eq(event_direction_name(DIR_OUTBOUND), "outbound");
    ck_assert_str_eq(parse_reason_name(PR_OK), "ok");
    ck_assert_str_eq(parse_reason_name(PR_FUTURE_TIMESTAMP), "future_timestamp");
    ck_assert_str_eq(parse_reason_name(PR__COUNT), "unknown");
    for (int a = 0; a < PR__COUNT; a++) {
        for (int b = a + 1; b < PR__COUNT; b++) {
            ck_assert_str_ne(parse_reason_name((enum parse_reason)a),
                             parse_reason_name((enum parse_reason)b));
        }
    }
}
END_TEST

START_TEST(test_limits_default)
{
    struct parse_limits lim;

    parse_limits_default(&lim);
    ck_assert_uint_eq(lim.max_message_bytes, 1024 * 1024);
    ck_assert_int_eq(lim.max_depth, 32);
    ck_assert_double_eq(lim.max_amount, 1e9);
    ck_assert_int_eq(lim.max_future_skew_ms, 24LL * 3600 * 1000);
}
END_TEST

/* Parses one event on the calling thread; *arg gets the reason. */
static void *parse_one(void *arg)
{
    static const char json[] = "{\"event_id\":\"e1\",\"customer_id\":\"c1\","
                               "\"type\":\"order.shipped\",\"ts\":1714564800000,"
                               "\"order_id\":\"o1\"}";
    struct event ev;

    *(enum parse_reason *)arg =
        parse_event(json, sizeof(json) - 1, SRC_ORDERS, NULL, NOW_MS, &ev, NULL, 0);
    event_free(&ev);
    return NULL;
}

/* Threads that parse and end: each one's arena goes with it (make valgrind
 * reports it lost otherwise). */
START_TEST(test_threads_that_end)
{
    for (int i = 0; i < 4; i++) {
        enum parse_reason r = PR__COUNT;
        pthread_t t;

        ck_assert_int_eq(pthread_create(&t, NULL, parse_one, &r), 0);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(r, PR_OK);
    }
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *ok = tcase_create("accepted");
    TCase *bad = tcase_create("rejected");
    TCase *helpers = tcase_create("helpers");

    tcase_add_test(ok, test_order_placed_all_fields);
    tcase_add_test(ok, test_loop_fields);
    tcase_add_test(ok, test_order_placed_minor_units);
    tcase_add_test(ok, test_order_placed_fx_rate);
    tcase_add_test(ok, test_order_returned_currency);
    tcase_add_test(ok, test_order_placed_epoch_ts_and_null_optionals);
    tcase_add_test(ok, test_order_placed_sparse_items);
    tcase_add_loop_test(ok, test_order_shipping_values, 0, N_OF(shipping_cases));
    tcase_add_loop_test(ok, test_order_refs, 0, N_OF(ref_cases));
    tcase_add_loop_test(ok, test_order_returned, 0, N_OF(return_reasons));
    tcase_add_test(ok, test_review_all_fields);
    tcase_add_test(ok, test_review_minimal);
    tcase_add_loop_test(ok, test_message_kinds, 0, MSG__COUNT);
    tcase_add_test(ok, test_message_epoch_ts_null_optional);
    tcase_add_test(ok, test_limits_inclusive);
    tcase_add_test(ok, test_hundred_items_ok);
    tcase_add_test(ok, test_brackets_in_strings_and_custom_limits);
    tcase_add_test(ok, test_cluster_customer_ids);
    suite_add_tcase(s, ok);

    tcase_add_loop_test(bad, test_bad_table, 0, N_BAD);
    tcase_add_test(bad, test_bad_table_size);
    tcase_add_test(bad, test_nul_bytes);
    tcase_add_test(bad, test_too_large);
    tcase_add_test(bad, test_too_deep);
    tcase_add_test(bad, test_too_many_items);
    tcase_add_test(bad, test_long_customer_id);
    tcase_add_test(bad, test_detail_text);
    suite_add_tcase(s, bad);

    tcase_add_loop_test(helpers, test_utf8, 0, N_OF(utf8_cases));
    tcase_add_test(helpers, test_names);
    tcase_add_test(helpers, test_limits_default);
    tcase_add_test(helpers, test_threads_that_end);
    suite_add_tcase(s, helpers);
    return s;
}

CHECK_MAIN(parse_suite)
