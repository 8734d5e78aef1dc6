/*
 * test_convert.c - consumers/convert.c: an event's money in the model's
 * hundredths, as given without a reporting currency, else converted at the
 * rate in force on the event's own day (direct, through the base, or the
 * currency itself), no rate refused, an old rate used and said to be; and
 * with the model, a return refunded at its order's rate and a reward in its
 * order's currency (reward.currency = order).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "base/fx.h"
#include "consumers/convert.h"
#include "tests/unit/check_main.h"
#include "tests/unit/model_fixture.h"

#define DAY_MS 86400000LL

static int32_t day(const char *s)
{
    int32_t d;

    ck_assert_msg(fx_day_parse(s, strlen(s), &d) == 0, "'%s'", s);
    return d;
}

static void add(struct fx_table *t, const char *code, const char *on, const char *rate)
{
    struct fx_rate r;
    const char *why = NULL;

    ck_assert_msg(fx_rate_parse(rate, strlen(rate), &r, &why) == 0, "%s", why);
    ck_assert_int_eq(fx_table_add(t, code, day(on), &r), FX_OK);
}

/* The ECB's way: quotes against EUR.  GBP 0.85 from January, 0.90 from
 * March; JPY 160; USD 1.10. */
static void rates(struct fx_table *t)
{
    char err[128];

    fx_table_init(t, "EUR");
    add(t, "GBP", "2024-01-01", "0.85");
    add(t, "GBP", "2024-03-01", "0.9");
    add(t, "JPY", "2024-01-01", "160");
    add(t, "USD", "2024-01-01", "1.1");
    ck_assert_int_eq(fx_table_sort(t, err, sizeof(err)), 0);
}

/* An order.placed as the parser leaves it: minor units of its currency. */
static void order(struct event *ev, const char *cur, int exp, int64_t amount,
                  const char *on)
{
    event_init(ev);
    ev->type = EV_ORDER_PLACED;
    ev->ts_ms = (int64_t)day(on) * DAY_MS + 15 * 3600 * 1000LL;
    memcpy(ev->currency, cur, 4);
    ev->exponent = exp;
    ev->amount_minor = amount;
}

START_TEST(test_as_given)
{
    struct convert_opts o = {"", 7};
    struct event ev;
    char detail[128] = "";

    order(&ev, "JPY", 0, 1500, "2024-02-01");
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 150000); /* 1500.00 yen */
    ck_assert_int_eq(ev.exponent, 2);
    ck_assert_str_eq(ev.currency, "JPY");

    order(&ev, "KWD", 3, 1235, "2024-02-01");
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 124);
}
END_TEST

START_TEST(test_rate_of_the_day)
{
    struct convert_opts o = {"EUR", 365};
    struct fx_table t;
    struct event ev;
    struct ev_item it = {.qty = 1,
                         .unit_price_minor = 4250,
                         .list_price_minor = 5100,
                         .unit_cost_minor = 1700,
                         .has_cost = 1};
    char detail[128] = "";

    rates(&t);
    order(&ev, "GBP", 2, 8500, "2024-02-29");
    ev.discount_minor = 850;
    ev.items = &it;
    ev.n_items = 1;
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 10000); /* 85.00 GBP / 0.85 */
    ck_assert_int_eq(ev.discount_minor, 1000);
    ck_assert_int_eq(it.unit_price_minor, 5000);
    ck_assert_int_eq(it.list_price_minor, 6000);
    ck_assert_int_eq(it.unit_cost_minor, 2000);
    ck_assert_str_eq(ev.currency, "EUR");
    ck_assert_int_eq(ev.exponent, 2);

    order(&ev, "GBP", 2, 9000, "2024-03-01"); /* the next rate, from its day */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 10000);

    order(&ev, "JPY", 0, 16001, "2024-03-01"); /* 100.00625 EUR */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 10001);

    order(&ev, "EUR", 2, 1234, "2023-01-01"); /* its own currency: no rate needed */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 1234);
    order(&ev, "EUR", 2, 1234, "2023-01-01");
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 1234);
    fx_table_free(&t);
}
END_TEST

/* A USD reporting currency from EUR-based quotes: the cross rate, rounded
 * once. */
START_TEST(test_cross_rate)
{
    struct convert_opts o = {"USD", 365};
    struct fx_table t;
    struct event ev;
    char detail[128] = "";

    rates(&t);
    order(&ev, "GBP", 2, 8500, "2024-02-01");
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 11000);
    order(&ev, "EUR", 2, 10000, "2024-02-01"); /* the base is quoted 1 */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 11000);
    fx_table_free(&t);
}
END_TEST

START_TEST(test_no_rate)
{
    struct convert_opts o = {"EUR", 7};
    struct fx_table t;
    struct event ev;
    char detail[128] = "";

    rates(&t);
    order(&ev, "CHF", 2, 100, "2024-02-01"); /* never quoted */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_NO_RATE);
    ck_assert_str_eq(detail, "no CHF to EUR rate on or before 2024-02-01");
    order(&ev, "GBP", 2, 100, "2023-12-31"); /* before its first quote */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_NO_RATE);
    order(&ev, "GBP", 2, 100, "2024-02-01"); /* no table read yet */
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)),
                     CONVERT_NO_RATE);
    fx_table_free(&t);
}
END_TEST

START_TEST(test_stale_rate)
{
    struct convert_opts o = {"EUR", 7};
    struct fx_table t;
    struct event ev;
    char detail[128] = "";

    rates(&t);
    order(&ev, "GBP", 2, 8500, "2024-01-08"); /* 7 days: still fresh */
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    order(&ev, "GBP", 2, 8500, "2024-01-09");
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_STALE);
    ck_assert_int_eq(ev.amount_minor, 10000); /* converted all the same */
    ck_assert_str_eq(detail, "the GBP to EUR rate is 8 days old");
    fx_table_free(&t);
}
END_TEST

/* The order's own fx_rate wins over the table, and needs none. */
START_TEST(test_own_rate)
{
    struct convert_opts o = {"EUR", 7};
    struct fx_table t;
    struct event ev;
    char detail[128] = "";
    const char *why;

    rates(&t);
    order(&ev, "GBP", 2, 8500, "2024-02-01");
    ck_assert_int_eq(fx_rate_parse("1.2", 3, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 10200); /* 85.00 x 1.2, not / 0.85 */
    order(&ev, "CHF", 2, 333, "2023-01-01");  /* no table, no day's rate */
    ck_assert_int_eq(fx_rate_parse("1.0005", 6, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 333); /* 3.331665 */
    order(&ev, "JPY", 0, 12345, "2023-01-01");
    ck_assert_int_eq(fx_rate_parse("0.00625", 7, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 7716);  /* 77.15625 */
    order(&ev, "EUR", 2, 1000, "2023-01-01"); /* the reporting currency is 1 */
    ck_assert_int_eq(fx_rate_parse("2", 1, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 1000);
    fx_table_free(&t);
}
END_TEST

/* A return that names its currency: at its own rate (its order's), else
 * at the rate of its own day, else passed on unconverted. */
START_TEST(test_return_in_its_currency)
{
    struct convert_opts o = {"EUR", 365};
    struct fx_table t;
    struct event ev;
    char detail[128] = "";
    const char *why;

    rates(&t);
    order(&ev, "GBP", 2, 4250, "2024-03-05");
    ev.type = EV_ORDER_RETURNED;
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 4722); /* 42.50 / 0.9 */
    /* what it stated is kept, for the model to refund it at its order's rate */
    ck_assert_str_eq(ev.paid.currency, "GBP");
    ck_assert_int_eq(ev.paid.amount_minor, 4250);
    ck_assert_int_eq(ev.paid.exponent, 2);
    ck_assert_int_eq(ev.paid.own_rate, 0);
    ck_assert_int_eq(ev.paid.deferred, 0);
    order(&ev, "GBP", 2, 4250, "2024-03-05");
    ev.type = EV_ORDER_RETURNED;
    ck_assert_int_eq(fx_rate_parse("1.2", 3, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 5100);
    ck_assert_int_eq(ev.paid.own_rate, 1);
    /* No rate of its day: passed on unconverted, for its order's rate. */
    order(&ev, "CHF", 2, 4250, "2024-03-05");
    ev.type = EV_ORDER_RETURNED;
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.paid.deferred, 1);
    ck_assert_str_eq(ev.paid.currency, "CHF");
    ck_assert_int_eq(ev.paid.amount_minor, 4250);
    /* An order without one is still refused. */
    order(&ev, "CHF", 2, 4250, "2024-03-05");
    ck_assert_int_eq(convert_event(&o, &t, &ev, detail, sizeof(detail)), CONVERT_NO_RATE);
    fx_table_free(&t);
}
END_TEST

/* A return that names no currency: its hundredths are the reporting
 * currency's. */
START_TEST(test_return_hundredths)
{
    struct convert_opts o = {"EUR", 7};
    struct event ev;
    char detail[128] = "";

    event_init(&ev);
    ev.type = EV_ORDER_RETURNED;
    ev.ts_ms = (int64_t)day("2024-02-01") * DAY_MS;
    ev.amount_minor = 4999;
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 4999);
}
END_TEST

START_TEST(test_overflow)
{
    struct convert_opts o = {"", 7};
    struct event ev;
    char detail[128] = "";

    order(&ev, "JPY", 0, INT64_MAX / 10, "2024-02-01");
    ck_assert_int_eq(convert_event(&o, NULL, &ev, detail, sizeof(detail)), CONVERT_RANGE);
}
END_TEST

/* ---- with the model: the orders as paid -------------------------------- */

/* ev, as the parser leaves it, through convert_event and into f's customer:
 * model_apply's result. */
static int convert_apply(struct fx *f, const struct convert_opts *o,
                         const struct fx_table *t, struct event *ev, const char *oid)
{
    char detail[128] = "", err[256] = "";
    int rc;

    snprintf(ev->event_id, sizeof(ev->event_id), "ev-%d", ++f->seq);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", f->c->id);
    snprintf(ev->order_id, sizeof(ev->order_id), "%s", oid);
    ck_assert_msg(convert_event(o, t, ev, detail, sizeof(detail)) <= CONVERT_STALE, "%s",
                  detail);
    rc = model_apply(f->c, ev, &f->m, &f->out, err, sizeof(err));
    ck_assert_msg(rc == 0 || rc == MODEL_NO_RATE, "%s", err);
    if (rc == MODEL_NO_RATE) {
        ck_assert_ptr_nonnull(strstr(err, "rate"));
    }
    fx_split(f);
    return rc;
}

static void returned(struct event *ev, const char *cur, int64_t amount, const char *on)
{
    order(ev, cur, 2, amount, on);
    ev->type = EV_ORDER_RETURNED;
    ev->reason = RET_CHANGED_MIND;
}

/* A return is refunded at its order's rate, not the rate of its own day:
 * what the order added, the whole return takes back. */
START_TEST(test_return_at_its_orders_rate)
{
    struct convert_opts o = {"EUR", 365};
    struct fx_table t;
    struct event ev;
    struct fx f;
    const char *why;

    rates(&t); /* GBP 0.85 until March, then 0.90 */
    fx_init(&f, "c-1");
    order(&ev, "GBP", 2, 8500, "2024-02-28");
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "A-1"), 0);
    ck_assert_int_eq(f.c->spend_cents, 10000);
    ck_assert_uint_eq(f.c->npaid, 1);
    ck_assert_str_eq(f.c->paid[0].currency, "GBP");
    ck_assert_int_eq(f.c->paid[0].amount_minor, 8500);

    returned(&ev, "GBP", 8500, "2024-03-05"); /* 94.44 at the day's 0.90 */
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "A-1"), 0);
    ck_assert_int_eq(f.c->refund_cents, 10000);
    ck_assert_uint_eq(f.c->paid[0].flags & PAID_RETURNED, PAID_RETURNED);
    /* loyaltyctl show says both amounts, the rate and where it came from */
    char text[8192];
    ck_assert_int_eq(model_explain(f.c, &f.m, f.c->as_of_ms, text, sizeof(text)), 0);
    ck_assert_msg(strstr(text, "2024-02-28  85.00 GBP = 100.00 EUR at 1.176470588 (rates "
                               "table), refunded at its rate\n") != NULL,
                  "%s", text);

    /* A return of an order the customer does not have: the day's rate. */
    returned(&ev, "GBP", 900, "2024-03-05");
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "A-0"), 0);
    ck_assert_int_eq(f.c->refund_cents, 11000);

    /* Its own fx_rate wins over its order's. */
    returned(&ev, "GBP", 1000, "2024-03-06");
    ck_assert_int_eq(fx_rate_parse("1.5", 3, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "A-1"), 0);
    ck_assert_int_eq(f.c->refund_cents, 12500);
    fx_table_free(&t);
    fx_free(&f);
}
END_TEST

/* A currency the table lacks: an order at its own rate, a return of it
 * without one at that rate; a return of an unknown order refused as
 * no_rate, the customer untouched. */
START_TEST(test_return_without_a_rate)
{
    struct convert_opts o = {"EUR", 365};
    struct fx_table t;
    struct event ev;
    struct fx f;
    struct customer *before = malloc(sizeof(*before));
    const char *why;

    ck_assert_ptr_nonnull(before);
    rates(&t);
    fx_init(&f, "c-2");
    order(&ev, "CHF", 2, 10000, "2024-02-01");
    ck_assert_int_eq(fx_rate_parse("1.05", 4, &ev.fx_rate, &why), 0);
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "B-1"), 0);
    ck_assert_int_eq(f.c->spend_cents, 10500);
    ck_assert_uint_eq(f.c->paid[0].flags & PAID_OWN_RATE, PAID_OWN_RATE);

    returned(&ev, "CHF", 3333, "2024-02-10");
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "B-1"), 0);
    ck_assert_int_eq(f.c->refund_cents, 3500); /* 34.9965 */

    memcpy(before, f.c, sizeof(*before));
    returned(&ev, "CHF", 1000, "2024-02-11");
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "B-2"), MODEL_NO_RATE);
    ck_assert_int_eq(memcmp(before, f.c, sizeof(*before)), 0);
    ck_assert_uint_eq(f.out.n, 0);

    /* Only the last CU_PAID_MAX orders are kept: the first is forgotten. */
    for (int i = 0; i < CU_PAID_MAX; i++) {
        char oid[16];

        snprintf(oid, sizeof(oid), "B-%d", 10 + i);
        order(&ev, "EUR", 2, 100, "2024-02-12");
        ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, oid), 0);
    }
    ck_assert_uint_eq(f.c->npaid, CU_PAID_MAX);
    returned(&ev, "CHF", 1000, "2024-02-13");
    ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "B-1"), MODEL_NO_RATE);
    free(before);
    fx_table_free(&t);
    fx_free(&f);
}
END_TEST

/* reward.currency = order: the first repeat purchase's coupon (10 at silver in the
 * reporting currency) in yen at the order's rate; reporting: in euros. */
START_TEST(test_reward_in_order_currency)
{
    struct convert_opts o = {"EUR", 365};
    struct fx_table t;
    struct event ev;

    rates(&t); /* JPY 160 */
    for (int in_order = 0; in_order < 2; in_order++) {
        struct fx f;

        fx_init(&f, "c-3");
        model_config_reward_currency(f.cfg, in_order);
        order(&ev, "JPY", 0, 16000, "2024-02-01");
        ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "J-1"), 0);
        order(&ev, "JPY", 0, 16000, "2024-02-20");
        ck_assert_int_eq(convert_apply(&f, &o, &t, &ev, "J-2"), 0);
        ck_assert_uint_eq(fx_take(&f, OUT_REWARD,
                                  in_order ? "\"value\":1600,\"currency\":\"JPY\""
                                           : "\"value\":10,\"currency\":\"EUR\""),
                          1);
        fx_free(&f);
    }
    fx_table_free(&t);
}
END_TEST

static Suite *convert_suite(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_as_given);
    tcase_add_test(tc, test_rate_of_the_day);
    tcase_add_test(tc, test_cross_rate);
    tcase_add_test(tc, test_no_rate);
    tcase_add_test(tc, test_stale_rate);
    tcase_add_test(tc, test_own_rate);
    tcase_add_test(tc, test_return_in_its_currency);
    tcase_add_test(tc, test_return_hundredths);
    tcase_add_test(tc, test_overflow);
    tcase_add_test(tc, test_return_at_its_orders_rate);
    tcase_add_test(tc, test_return_without_a_rate);
    tcase_add_test(tc, test_reward_in_order_currency);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(convert_suite)
