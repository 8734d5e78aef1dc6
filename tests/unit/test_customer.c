/*
 * test_customer.c - state/model/customer.c: the recent-id set (cu_seen_add keeps
 * the newest ids of a window, oldest first; cu_seen_has finds exactly those)
 * the keys of event and order ids, and the queries on the aggregates (net
 * orders, net spend, discount share, main category).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "state/model/customer.h"
#include "tests/unit/check_main.h"

static struct customer *fresh(void)
{
    struct customer *c = malloc(sizeof(*c));

    ck_assert_ptr_nonnull(c);
    customer_init(c, "c1");
    return c;
}

/* Ids from..to added, in order, with window w. */
static void add_ids(struct customer *c, uint64_t from, uint64_t to, uint32_t w)
{
    for (uint64_t h = from; h <= to; h++) {
        cu_seen_add(c, h, w);
    }
}

/* The set is exactly the ids from..to, oldest first. */
static void holds(const struct customer *c, uint64_t from, uint64_t to)
{
    ck_assert_uint_eq(c->nseen, to - from + 1);
    for (uint32_t i = 0; i < c->nseen; i++) {
        ck_assert_msg(c->seen[i] == from + i, "seen[%u] = %llu, want %llu", i,
                      (unsigned long long)c->seen[i], (unsigned long long)(from + i));
    }
}

START_TEST(test_seen_keeps_newest)
{
    struct customer *c = fresh();

    ck_assert_uint_eq(c->nseen, 0);
    add_ids(c, 1, 3, 4);
    holds(c, 1, 3);
    add_ids(c, 4, 4, 4);
    holds(c, 1, 4); /* full */
    add_ids(c, 5, 10, 4);
    holds(c, 7, 10); /* the newest 4, oldest first */
    add_ids(c, 11, 11, 1);
    holds(c, 11, 11); /* a smaller window drops all the older ones at once */
    add_ids(c, 12, 20, 6);
    holds(c, 15, 20);
    add_ids(c, 21, 21, 8); /* a larger one keeps them and grows */
    holds(c, 15, 21);
    free(c);
}
END_TEST

START_TEST(test_seen_window_zero)
{
    struct customer *c = fresh();

    add_ids(c, 1, 5, 8);
    holds(c, 1, 5);
    cu_seen_add(c, 6, 0);
    ck_assert_uint_eq(c->nseen, 0);
    for (uint64_t h = 0; h <= 7; h++) {
        ck_assert_int_eq(cu_seen_has(c, h), 0);
    }
    cu_seen_add(c, 7, 3); /* usable again */
    holds(c, 7, 7);
    free(c);
}
END_TEST

/* A window over CU_SEEN_MAX keeps CU_SEEN_MAX ids (the array's size). */
START_TEST(test_seen_window_capped)
{
    struct customer *c = fresh();

    add_ids(c, 1, CU_SEEN_MAX + 44, UINT32_MAX);
    holds(c, 45, CU_SEEN_MAX + 44);
    add_ids(c, CU_SEEN_MAX + 45, CU_SEEN_MAX + 45, CU_SEEN_MAX + 1);
    holds(c, 46, CU_SEEN_MAX + 45);
    add_ids(c, CU_SEEN_MAX + 46, CU_SEEN_MAX + 46, CU_SEEN_MAX);
    holds(c, 47, CU_SEEN_MAX + 46);
    free(c);
}
END_TEST

START_TEST(test_seen_has)
{
    struct customer *c = fresh();

    /* Empty: nothing, not even the 0 of the unused slots. */
    ck_assert_int_eq(cu_seen_has(c, 0), 0);
    ck_assert_int_eq(cu_seen_has(c, 1), 0);
    add_ids(c, 100, 110, 5);
    for (uint64_t h = 95; h <= 115; h++) {
        ck_assert_msg(cu_seen_has(c, h) == (h >= 106 && h <= 110), "id %llu",
                      (unsigned long long)h);
    }
    /* Shrunk to 2: 110 and 200 kept.  The dropped ids may stay behind in
     * the array past nseen; they are not found. */
    cu_seen_add(c, 200, 2);
    ck_assert_uint_eq(c->nseen, 2);
    ck_assert(c->seen[0] == 110);
    ck_assert(c->seen[1] == 200);
    for (uint64_t h = 100; h <= 109; h++) {
        ck_assert_msg(!cu_seen_has(c, h), "dropped id %llu found", (unsigned long long)h);
    }
    ck_assert(cu_seen_has(c, 110));
    ck_assert(cu_seen_has(c, 200));
    ck_assert(!cu_seen_has(c, 0));
    free(c);
}
END_TEST

/* Event and order ids are keyed apart: the same string gives different keys,
 * and each key is a function of its id alone. */
START_TEST(test_event_order_keys)
{
    static const char *const ids[] = {"",   "A-1001", "ev-1", "0", "order-000000000042",
                                      "Ünï"};
    char buf[32];

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        ck_assert_msg(cu_order_key(ids[i]) != cu_event_key(ids[i]), "%s", ids[i]);
        ck_assert(cu_order_key(ids[i]) == cu_order_key(ids[i]));
        ck_assert(cu_event_key(ids[i]) == cu_event_key(ids[i]));
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(buf, sizeof(buf), "id-%d", i);
        ck_assert_msg(cu_order_key(buf) != cu_event_key(buf), "%s", buf);
    }
    ck_assert(cu_event_key("A-1001") != cu_event_key("A-1002"));
    ck_assert(cu_order_key("A-1001") != cu_order_key("A-1002"));
}
END_TEST

/* Cancels of orders not in the open list do not count against the orders
 * placed; the net count never goes below zero. */
START_TEST(test_net_orders_and_discount_share)
{
    struct customer *c = fresh();

    ck_assert_int_eq(customer_net_orders(c), 0);
    ck_assert_double_eq(customer_discount_share(c), 0);
    c->orders = 5;
    c->orders_cancelled = 2;
    c->cancelled_unknown = 1;
    c->discounted_orders = 2;
    ck_assert_int_eq(customer_net_orders(c), 4);
    ck_assert_double_eq(customer_discount_share(c), 0.5);
    c->orders = 1;
    c->cancelled_unknown = 0;
    ck_assert_int_eq(customer_net_orders(c), 0);
    ck_assert_double_eq(customer_discount_share(c), 0);
    free(c);
}
END_TEST

/* Spend minus refunds, in currency units; below zero when more came back
 * than was bought (a refund of an order placed before the state began). */
START_TEST(test_net_spend)
{
    struct customer *c = fresh();

    ck_assert_double_eq(customer_net_spend(c), 0);
    c->spend_cents = 12345;
    c->refund_cents = 2300;
    ck_assert_double_eq_tol(customer_net_spend(c), 100.45, 1e-9);
    c->refund_cents = 12400;
    ck_assert_double_eq_tol(customer_net_spend(c), -0.55, 1e-9);
    free(c);
}
END_TEST

/* The category with the most items, the first of them on a tie. */
START_TEST(test_main_category)
{
    struct customer *c = fresh();
    const uint32_t items[] = {3, 7, 7, 1};

    ck_assert_int_eq(customer_main_category(c), -1);
    for (uint32_t i = 0; i < 4; i++) {
        snprintf(c->cats[i].name, sizeof(c->cats[i].name), "cat%u", i);
        c->cats[i].items = items[i];
    }
    c->ncats = 1;
    ck_assert_int_eq(customer_main_category(c), 0);
    c->ncats = 4;
    ck_assert_int_eq(customer_main_category(c), 1);
    c->cats[2].items = 8;
    ck_assert_int_eq(customer_main_category(c), 2);
    free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("customer");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_seen_keeps_newest);
    tcase_add_test(tc, test_seen_window_zero);
    tcase_add_test(tc, test_seen_window_capped);
    tcase_add_test(tc, test_seen_has);
    tcase_add_test(tc, test_event_order_keys);
    tcase_add_test(tc, test_net_orders_and_discount_share);
    tcase_add_test(tc, test_net_spend);
    tcase_add_test(tc, test_main_category);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
