/*
 * test_tracker.c - consumers/tracker.c: offsets become storable only when
 * every piece of work of every earlier message is done.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/tracker.h"
#include "tests/unit/check_main.h"

struct seen {
    char topic[32];
    int32_t partition;
    int64_t next;
    int calls;
};

static void record(void *arg, const char *topic, int32_t partition, int64_t next)
{
    struct seen *s = arg;

    strncpy(s->topic, topic, sizeof(s->topic) - 1);
    s->partition = partition;
    s->next = next;
    s->calls++;
}

START_TEST(test_in_order_completion)
{
    struct tracker *t = tracker_new();
    struct seen s = {0};
    struct tracker_entry *a = tracker_add(t, "orders", 3, 10);
    struct tracker_entry *b = tracker_add(t, "orders", 3, 11);

    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.calls, 0);
    tracker_release(a);
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_str_eq(s.topic, "orders");
    ck_assert_int_eq(s.partition, 3);
    ck_assert_int_eq(s.next, 11);
    tracker_release(b);
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.next, 12);
    ck_assert_uint_eq(tracker_inflight(t, "orders", 3), 0);
    tracker_free(t);
}
END_TEST

/* A later message finishing first must not move the store point past an
 * earlier one still waiting for its delivery report. */
START_TEST(test_holds_block_later_offsets)
{
    struct tracker *t = tracker_new();
    struct seen s = {0};
    struct tracker_entry *a = tracker_add(t, "orders", 0, 5);
    struct tracker_entry *b = tracker_add(t, "orders", 0, 6);

    tracker_hold(a); /* a derived event of message 5 is in flight */
    tracker_release(a);
    tracker_release(b);
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.calls, 0);
    ck_assert_uint_eq(tracker_inflight(t, "orders", 0), 1);
    tracker_release(a); /* the delivery report */
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_int_eq(s.next, 7);
    tracker_free(t);
}
END_TEST

START_TEST(test_partitions_independent)
{
    struct tracker *t = tracker_new();
    struct seen s = {0};
    struct tracker_entry *a = tracker_add(t, "orders", 0, 100);
    struct tracker_entry *b = tracker_add(t, "reviews", 0, 7);

    tracker_release(b);
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_str_eq(s.topic, "reviews");
    ck_assert_int_eq(s.next, 8);
    ck_assert_uint_eq(tracker_inflight_total(t), 1);
    tracker_release(a);
    tracker_free(t);
}
END_TEST

/* A message sent back for retry (Redis down) is forgotten without storing. */
START_TEST(test_unadd_keeps_store_point)
{
    struct tracker *t = tracker_new();
    struct seen s = {0};
    struct tracker_entry *a = tracker_add(t, "orders", 1, 20);
    struct tracker_entry *b = tracker_add(t, "orders", 1, 21);

    tracker_release(a);
    tracker_unadd(b);
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.next, 21); /* 21 itself is not stored */
    ck_assert_uint_eq(tracker_inflight(t, "orders", 1), 0);
    b = tracker_add(t, "orders", 1, 21);
    tracker_release(b);
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.next, 22);
    tracker_free(t);
}
END_TEST

/* After a revoke, a late delivery report must neither crash nor store. */
START_TEST(test_forget_detaches_entries)
{
    struct tracker *t = tracker_new();
    struct seen s = {0};
    struct tracker_entry *a = tracker_add(t, "orders", 2, 1);

    tracker_hold(a);
    tracker_release(a);
    tracker_forget(t, "orders", 2);
    ck_assert_uint_eq(tracker_inflight_total(t), 0);
    tracker_release(a); /* freed here; ASan checks */
    tracker_collect(t, record, &s);
    ck_assert_int_eq(s.calls, 0);
    tracker_free(t);
}
END_TEST

static Suite *tracker_suite(void)
{
    Suite *s = suite_create("tracker");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_in_order_completion);
    tcase_add_test(tc, test_holds_block_later_offsets);
    tcase_add_test(tc, test_partitions_independent);
    tcase_add_test(tc, test_unadd_keeps_store_point);
    tcase_add_test(tc, test_forget_detaches_entries);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(tracker_suite)
