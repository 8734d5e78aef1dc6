/*
 * test_convert.c - consumers/convert.c: an event's money in the model's
 * hundredths, as given.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "base/fx.h"
#include "consumers/convert.h"
#include "tests/unit/check_main.h"

#define DAY_MS 86400000LL

static int32_t day(const char *s)
{
    int32_t d;

    ck_assert_msg(fx_day_parse(s, strlen(s), &d) == 0, "'%s'", s);
    return d;
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
    struct event ev;
    char detail[128] = "";

    order(&ev, "JPY", 0, 1500, "2024-02-01");
    ck_assert_int_eq(convert_event(&ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 150000); /* 1500.00 yen */
    ck_assert_int_eq(ev.exponent, 2);
    ck_assert_str_eq(ev.currency, "JPY");

    order(&ev, "KWD", 3, 1235, "2024-02-01");
    ck_assert_int_eq(convert_event(&ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 124);
}
END_TEST

/* A return names no currency: its amount is in hundredths already. */
START_TEST(test_return_hundredths)
{
    struct event ev;
    char detail[128] = "";

    event_init(&ev);
    ev.type = EV_ORDER_RETURNED;
    ev.ts_ms = (int64_t)day("2024-02-01") * DAY_MS;
    ev.amount_minor = 4999;
    ck_assert_int_eq(convert_event(&ev, detail, sizeof(detail)), CONVERT_OK);
    ck_assert_int_eq(ev.amount_minor, 4999);
}
END_TEST

START_TEST(test_overflow)
{
    struct event ev;
    char detail[128] = "";

    order(&ev, "JPY", 0, INT64_MAX / 10, "2024-02-01");
    ck_assert_int_eq(convert_event(&ev, detail, sizeof(detail)), CONVERT_RANGE);
}
END_TEST

static Suite *convert_suite(void)
{
    Suite *s = suite_create("convert");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_as_given);
    tcase_add_test(tc, test_return_hundredths);
    tcase_add_test(tc, test_overflow);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(convert_suite)
