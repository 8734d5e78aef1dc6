/*
 * test_currency.c - base/currency.c: the ISO 4217 minor units, the table's
 * order (the binary search depends on it), and the withdrawn codes the
 * ECB's historical file carries.
 */
#include <check.h>
#include <string.h>

#include "base/currency.h"
#include "tests/unit/check_main.h"

START_TEST(test_exponents)
{
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                       "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                       "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};

    ck_assert_int_eq(currency_exponent("JPY"), 0);
    ck_assert_int_eq(currency_exponent("KWD"), 3);
    ck_assert_int_eq(currency_exponent("EUR"), 2);
    ck_assert_int_eq(currency_exponent("USD"), 2);
    ck_assert_int_eq(currency_exponent("GBP"), 2);
    ck_assert_int_eq(currency_exponent("CLF"), 4);
    ck_assert_int_eq(currency_exponent("UYW"), 4);
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
        ck_assert_msg(currency_exponent(zero[i]) == 0, "%s", zero[i]);
    }
    for (size_t i = 0; i < sizeof(three) / sizeof(three[0]); i++) {
        ck_assert_msg(currency_exponent(three[i]) == 3, "%s", three[i]);
    }
}
END_TEST

START_TEST(test_unknown)
{
    static const char *const bad[] = {"XYZ", "usd", "Eur", "EU",  "",    "E1R", "AAA",
                                      "ZZZ", "XAU", "XDR", "XXX", "XTS", "DEM", "CYP"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(currency_exponent(bad[i]) == -1, "'%s'", bad[i]);
    }
    ck_assert_int_eq(currency_exponent(NULL), -1);
    /* three bytes, not a C string: the fourth is not read */
    ck_assert_int_eq(currency_exponent((const char[3]){'J', 'P', 'Y'}), 0);
    ck_assert_int_eq(currency_exponent("EURO"), 2); /* the first three */
}
END_TEST

START_TEST(test_table_sorted_and_whole)
{
    size_t n = currency_count();
    const char *prev = NULL;

    ck_assert_uint_ge(n, 150);
    ck_assert_ptr_null(currency_code_at(n, NULL));
    for (size_t i = 0; i < n; i++) {
        int e = -1;
        const char *c = currency_code_at(i, &e);

        ck_assert_uint_eq(strlen(c), 3);
        for (int k = 0; k < 3; k++) {
            ck_assert_msg(c[k] >= 'A' && c[k] <= 'Z', "%s", c);
        }
        ck_assert_msg(prev == NULL || strcmp(prev, c) < 0, "%s after %s", c, prev);
        ck_assert_int_ge(e, 0);
        ck_assert_int_le(e, CURRENCY_EXPONENT_MAX);
        /* every code of the table is found by the search */
        ck_assert_int_eq(currency_exponent(c), e);
        ck_assert_int_eq(currency_withdrawn(c), 0);
        prev = c;
    }
}
END_TEST

START_TEST(test_withdrawn)
{
    static const char *const old[] = {"CYP", "EEK", "HRK", "LTL", "LVL",
                                      "MTL", "ROL", "SIT", "SKK", "TRL"};

    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        ck_assert_msg(currency_withdrawn(old[i]) == 1, "%s", old[i]);
        ck_assert_msg(currency_exponent(old[i]) == -1, "%s", old[i]);
    }
    ck_assert_int_eq(currency_withdrawn("EUR"), 0);
    ck_assert_int_eq(currency_withdrawn("cyp"), 0);
    ck_assert_int_eq(currency_withdrawn(NULL), 0);
}
END_TEST

static Suite *currency_suite(void)
{
    Suite *s = suite_create("currency");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_exponents);
    tcase_add_test(tc, test_unknown);
    tcase_add_test(tc, test_table_sorted_and_whole);
    tcase_add_test(tc, test_withdrawn);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(currency_suite)
