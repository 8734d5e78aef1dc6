/*
 * test_names.c - base/names.c: names of values, values of names, and the
 * fallbacks for what a table does not name; the table of base/outkind.c.
 */
#include <check.h>
#include <string.h>

#include "base/names.h"
#include "base/outkind.h"
#include "tests/unit/check_main.h"

enum colour { COL_NONE = 0, COL_RED, COL_GREEN, COL_GAP, COL_BLUE, COL__COUNT };

static const char *const colour_names[COL__COUNT] = {
    [COL_NONE] = "none",
    [COL_RED] = "red",
    [COL_GREEN] = "green",
    [COL_BLUE] = "blue", /* COL_GAP has no name */
};

START_TEST(test_get)
{
    ck_assert_uint_eq(NAMES_COUNT(colour_names), COL__COUNT);
    ck_assert_str_eq(names_get(colour_names, COL__COUNT, COL_RED), "red");
    ck_assert_str_eq(names_get(colour_names, COL__COUNT, COL_BLUE), "blue");
    ck_assert_str_eq(names_get(colour_names, COL__COUNT, COL_NONE), "none");
    ck_assert_str_eq(names_get(colour_names, COL__COUNT, COL_GAP), "unknown");
    ck_assert_str_eq(names_get(colour_names, COL__COUNT, COL__COUNT), "unknown");
    ck_assert_str_eq(names_get(colour_names, COL__COUNT, -1), "unknown");
    ck_assert_str_eq(names_get(colour_names, 2, COL_GREEN), "unknown");
}
END_TEST

START_TEST(test_index)
{
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, "green"), COL_GREEN);
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, "blue"), COL_BLUE);
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, "none"), COL_NONE);
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, ""), -1);
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, "gree"), -1);
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, "greens"), -1);
    ck_assert_int_eq(names_index(colour_names, COL__COUNT, "Green"), -1);
    ck_assert_int_eq(names_index(colour_names, COL_BLUE, "blue"), -1); /* past n */
    ck_assert_int_eq(names_index(colour_names, 0, "none"), -1);
}
END_TEST

START_TEST(test_lookup_by_length)
{
    const char *text = "red,green";

    ck_assert_int_eq(names_lookup(colour_names, COL__COUNT, text, 3), COL_RED);
    ck_assert_int_eq(names_lookup(colour_names, COL__COUNT, text + 4, 5), COL_GREEN);
    ck_assert_int_eq(names_lookup(colour_names, COL__COUNT, text, 2), -1);
    ck_assert_int_eq(names_lookup(colour_names, COL__COUNT, text, 4), -1);
    ck_assert_int_eq(names_lookup(colour_names, COL__COUNT, text, 0), -1);
}
END_TEST

/* Every name reads back as its value. */
START_TEST(test_round_trip)
{
    for (int i = 0; i < COL__COUNT; i++) {
        if (colour_names[i] != NULL) {
            const char *name = names_get(colour_names, COL__COUNT, i);

            ck_assert_int_eq(names_index(colour_names, COL__COUNT, name), i);
        }
    }
}
END_TEST

/* Each kind of derived event has a name, and a name of its own. */
START_TEST(test_out_kinds)
{
    ck_assert_uint_eq(NAMES_COUNT(out_kind_names), OUT__COUNT);
    for (int k = 0; k < OUT__COUNT; k++) {
        const char *name = names_get(out_kind_names, OUT__COUNT, k);

        ck_assert_str_ne(name, "unknown");
        ck_assert_int_eq(names_index(out_kind_names, OUT__COUNT, name), k);
    }
    ck_assert_str_eq(names_get(out_kind_names, OUT__COUNT, OUT_REWARD), "reward_trigger");
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("names");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_index);
    tcase_add_test(tc, test_lookup_by_length);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_out_kinds);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(names_suite)
