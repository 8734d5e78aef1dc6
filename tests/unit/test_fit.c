/*
 * test_fit.c - state/fit/fit.c: a fit's parameters written as text and as
 * JSON (fit_format_text, fit_format_json), a likelihood that is not a number,
 * a missing Gamma-Gamma fit, buffers too small.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "state/fit/bgfit.h"
#include "state/fit/fit.h"
#include "tests/unit/check_main.h"

/* ---- formatting ------------------------------------------------------------ */

START_TEST(test_format)
{
    struct bg_fit_result bf = {
        {0.242593, 4.413532, 0.792886, 2.425754}, -9582.42556, 2357, 10, 1};
    struct gg_fit_result gf = {{6.248803, 3.744588, 15.447747}, -4000.5, 946, 10, 1};
    char buf[512];

    ck_assert_int_gt(fit_format_text(buf, sizeof buf, &bf, &gf), 0);
    ck_assert_str_eq(buf, "bgnbd r=0.242593 alpha=4.413532 a=0.792886 b=2.425754 "
                          "loglik=-9582.4256 n=2357\n"
                          "gammagamma p=6.248803 q=3.744588 gamma=15.447747 n=946\n");
    ck_assert_int_gt(fit_format_json(buf, sizeof buf, &bf, &gf, "weeks"), 0);
    ck_assert_str_eq(buf, "{\"bgnbd\":{\"r\":0.242593,\"alpha\":4.413532,\"a\":0.792886,"
                          "\"b\":2.425754,\"loglik\":-9582.4256,\"n\":2357},"
                          "\"gammagamma\":{\"p\":6.248803,\"q\":3.744588,"
                          "\"gamma\":15.447747,\"loglik\":-4000.5000,\"n\":946},"
                          "\"unit\":\"weeks\"}");
    bf.loglik = NAN;
    ck_assert_int_gt(fit_format_json(buf, sizeof buf, &bf, NULL, "d\"ays"), 0);
    ck_assert_str_eq(buf, "{\"bgnbd\":{\"r\":0.242593,\"alpha\":4.413532,\"a\":0.792886,"
                          "\"b\":2.425754,\"loglik\":null,\"n\":2357},"
                          "\"unit\":\"d\\\"ays\"}");
    ck_assert_int_eq(fit_format_text(buf, 20, &bf, &gf), -1);
    ck_assert_uint_lt(strlen(buf), 20);
    ck_assert_int_eq(fit_format_json(buf, 0, &bf, &gf, "weeks"), -1);
}
END_TEST

static Suite *fit_suite(void)
{
    Suite *s = suite_create("fit");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_format);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(fit_suite)
