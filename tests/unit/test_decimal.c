/*
 * test_decimal.c - base/decimal.c: integers as printf would print them, and
 * the decimal exponent estimate the number formatting relies on.
 */
#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/decimal.h"
#include "tests/unit/check_main.h"

static void expect_i64(int64_t v)
{
    char want[64], got[DECIMAL_MAX];
    size_t n;

    snprintf(want, sizeof(want), "%" PRId64, v);
    memset(got, 'x', sizeof(got));
    n = decimal_i64(got, v);
    ck_assert_msg(strcmp(got, want) == 0, "%" PRId64 ": got \"%s\"", v, got);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(test_i64_edges)
{
    const int64_t v[] = {0,
                         1,
                         -1,
                         9,
                         10,
                         -10,
                         99,
                         100,
                         101,
                         999,
                         1000,
                         -999999,
                         1000000,
                         INT32_MAX,
                         INT32_MIN,
                         INT64_MAX,
                         INT64_MIN,
                         INT64_MAX - 1,
                         INT64_MIN + 1};

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        expect_i64(v[i]);
    }
    /* every power of ten and its neighbours */
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        expect_i64(p - 1);
        expect_i64(p);
        expect_i64(p + 1);
        expect_i64(-p);
    }
}
END_TEST

START_TEST(test_i64_random)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* every magnitude: shift away a random number of high bits */
        expect_i64((int64_t)(x >> (x % 64)) * ((x & 1) ? -1 : 1));
    }
}
END_TEST

START_TEST(test_decimal_before)
{
    char buf[32], *end = buf + sizeof(buf) - 1;

    *end = '\0';
    ck_assert_str_eq(decimal_before(end, 0), "0");
    ck_assert_str_eq(decimal_before(end, 7), "7");
    ck_assert_str_eq(decimal_before(end, 42), "42");
    ck_assert_str_eq(decimal_before(end, 18446744073709551615ull),
                     "18446744073709551615");
}
END_TEST

START_TEST(test_pow10_exact)
{
    char s[40];

    /* each entry reads back from its own decimal: 10^n exactly */
    for (int n = 0; n < 23; n++) {
        snprintf(s, sizeof(s), "1e%d", n);
        ck_assert_msg(decimal_pow10[n] == strtod(s, NULL), "10^%d", n);
    }
}
END_TEST

START_TEST(test_log10_estimate)
{
    /* floor(log10(a)) or one less, over the range the callers use */
    for (double a = 0x1p-60; a < 0x1p80; a *= 1.0001) {
        int e = decimal_log10_estimate(a), f = (int)floor(log10(a));

        ck_assert_msg(e == f || e == f - 1, "%a: estimate %d, floor(log10) %d", a, e, f);
    }
}
END_TEST

/* The sweeps over hundreds of thousands of values are a test case of their
 * own, tagged "sweep": `make valgrind` leaves them out (CK_EXCLUDE_TAGS). */
static Suite *decimal_suite(void)
{
    Suite *s = suite_create("decimal");
    TCase *tc = tcase_create("core"), *sweep = tcase_create("sweep");

    tcase_add_test(tc, test_i64_edges);
    tcase_add_test(tc, test_decimal_before);
    tcase_add_test(tc, test_pow10_exact);
    suite_add_tcase(s, tc);
    tcase_set_tags(sweep, "sweep");
    tcase_add_test(sweep, test_i64_random);
    tcase_add_test(sweep, test_log10_estimate);
    suite_add_tcase(s, sweep);
    return s;
}

CHECK_MAIN(decimal_suite)
