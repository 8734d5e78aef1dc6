/*
 * test_minor.c - base/minor.c: doubles as the shortest decimal in plain
 * notation, JSON amounts (as doubles) taken as exact
 * minor units of their currency's exponent, the amounts with more decimal
 * places than the currency has refused, and the rescaling to the model's
 * hundredths.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "base/minor.h"
#include "tests/unit/check_main.h"

START_TEST(test_decimal)
{
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {0, "0"},
        {1.0823, "1.0823"},
        {158.41, "158.41"},
        {1e-05, "0.00001"},
        {1.5e-07, "0.00000015"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e15, "1000000000000000"},
        {123456789012.5, "123456789012.5"},
    };
    char buf[MINOR_DECIMAL_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(minor_decimal(cases[i].d, buf, sizeof(buf)), 0);
        ck_assert_str_eq(buf, cases[i].want);
    }
    ck_assert_int_eq(minor_decimal(1e-30, buf, sizeof(buf)), -1);
    ck_assert_int_eq(minor_decimal(2e15, buf, sizeof(buf)), -1);
    ck_assert_int_eq(minor_decimal(-1, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_exact)
{
    static const struct {
        double d;
        int exp;
        int64_t want;
    } cases[] = {
        {12.34, 2, 1234},
        {0.29, 2, 29}, /* 0.29 * 100 is 28.999999999999996 in doubles */
        {1.005, 3, 1005},
        {1.1, 2, 110},
        {1500, 0, 1500},
        {1500, 2, 150000},
        {1.234, 3, 1234},
        {0.0001, 4, 1},
        {0, 0, 0},
        {999999999.99, 2, 99999999999LL},
        {1e9, 4, 10000000000000LL},
        {123456789012.34, 2, 12345678901234LL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t out = -1;
        const char *why = NULL;

        ck_assert_msg(minor_from_double(cases[i].d, cases[i].exp, &out, &why) == 0,
                      "case %zu: %s", i, why);
        ck_assert_msg(out == cases[i].want, "case %zu: %lld", i, (long long)out);
    }
}
END_TEST

START_TEST(test_too_many_decimals)
{
    static const struct {
        double d;
        int exp;
    } cases[] = {
        {1500.5, 0},  /* JPY has no minor unit */
        {0.5, 0},     /* nor half a yen */
        {12.345, 2},  /* EUR has two */
        {1.2345, 3},  /* KWD three */
        {1e-05, 4},   /* printed with an exponent */
        {0.00001, 2}, /* the same */
        {1e-30, 4},   /* below any minor unit */
        {0.1 + 0.2, 2},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t out = 7;
        const char *why = NULL;

        ck_assert_msg(minor_from_double(cases[i].d, cases[i].exp, &out, &why) == -1,
                      "case %zu accepted", i);
        ck_assert_str_eq(why, "more decimal places than the currency has");
        ck_assert_int_eq(out, 7);
    }
}
END_TEST

START_TEST(test_range)
{
    int64_t out;
    const char *why = NULL;

    ck_assert_int_eq(minor_from_double(-1, 2, &out, &why), -1);
    ck_assert_str_eq(why, "out of range");
    ck_assert_int_eq(minor_from_double(1.5e15, 2, &out, &why), -1);
    ck_assert_int_eq(minor_from_double(1e15, 2, &out, &why), 0); /* "1e+15" */
    ck_assert_int_eq(out, 100000000000000000LL);
    ck_assert_int_eq(minor_from_double(1, 5, &out, &why), -1);
    ck_assert_int_eq(minor_from_double(999999999999999.0, 4, &out, &why), -1);
    ck_assert_int_eq(minor_from_double(999999999999999.0, 3, &out, &why), 0);
    ck_assert_int_eq(out, 999999999999999000LL);
}
END_TEST

START_TEST(test_rescale)
{
    int64_t out = 0;

    ck_assert_int_eq(minor_rescale(1500, 0, MINOR_MODEL_EXPONENT, &out), 0); /* JPY */
    ck_assert_int_eq(out, 150000);
    ck_assert_int_eq(minor_rescale(1234, 2, 2, &out), 0);
    ck_assert_int_eq(out, 1234);
    ck_assert_int_eq(minor_rescale(1235, 3, 2, &out), 0); /* KWD, half up */
    ck_assert_int_eq(out, 124);
    ck_assert_int_eq(minor_rescale(-1235, 3, 2, &out), 0); /* and down */
    ck_assert_int_eq(out, -124);
    ck_assert_int_eq(minor_rescale(1234, 3, 2, &out), 0);
    ck_assert_int_eq(out, 123);
    ck_assert_int_eq(minor_rescale(INT64_MAX / 10, 0, 2, &out), -1);
}
END_TEST

static Suite *minor_suite(void)
{
    Suite *s = suite_create("minor");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_decimal);
    tcase_add_test(tc, test_exact);
    tcase_add_test(tc, test_too_many_decimals);
    tcase_add_test(tc, test_range);
    tcase_add_test(tc, test_rescale);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(minor_suite)
