/*
 * test_bgfit.c - state/fit/bgfit.c: the BG/NBD and Gamma-Gamma fits.
 *
 * The fits run on the CDNOW sample shipped in data/cdnow (read through
 * cdnow_fixture.h; LOYALTY_CDNOW_DIR overrides it), from the summary and
 * from the transactions, in weeks and in days, in any order of the
 * customers, and must reproduce the published figures (Fader, Hardie & Lee
 * 2005; the lifetimes library for the 6-decimal values).  Reference values
 * marked "mpmath" were computed at 30 digits.  test_fit_rejects: inputs no
 * fit can be made of.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "state/fit/bgfit.h"
#include "state/model/bgnbd.h"
#include "tests/unit/cdnow_fixture.h"
#include "tests/unit/check_main.h"

#define N_CUSTOMERS 2357
#define N_REPEATERS 946

static void assert_published_bg(const struct bg_fit_result *f, double tol)
{
    struct bg_params pub;

    bg_params_default(&pub);
    ck_assert_double_eq_tol(f->params.r, pub.r, tol);
    ck_assert_double_eq_tol(f->params.alpha, pub.alpha, tol);
    ck_assert_double_eq_tol(f->params.a, pub.a, tol);
    ck_assert_double_eq_tol(f->params.b, pub.b, tol);
    ck_assert_double_eq_tol(f->loglik, -9582.4, 0.05);
    ck_assert_uint_eq(f->n, N_CUSTOMERS);
    ck_assert_int_eq(f->converged, 1);
}

static void assert_published_gg(const struct gg_fit_result *f, double tol)
{
    struct gg_params pub;

    gg_params_default(&pub);
    ck_assert_double_eq_tol(f->params.p, pub.p, tol);
    ck_assert_double_eq_tol(f->params.q, pub.q, tol);
    ck_assert_double_eq_tol(f->params.gamma, pub.gamma, tol);
    ck_assert_uint_eq(f->n, N_REPEATERS);
    ck_assert_int_eq(f->converged, 1);
}

/* ---- fits on the CDNOW sample ---------------------------------------------- */

START_TEST(test_fit_summary)
{
    struct bg_fit_result f;
    struct bg_params pub;
    size_t n;
    struct bg_obs *obs = load_summary("cdnow_customers_summary.csv", 7.0, &n);

    ck_assert_uint_eq(n, N_CUSTOMERS);
    ck_assert_int_eq(bg_fit(obs, n, &f), 0);
    assert_published_bg(&f, 5e-4);
    /* The exact optimum (mpmath, 30 digits): the published b = 2.425754 is an
     * optimiser's stopping point 6e-7 away from it, the likelihood being flat
     * to 1e-11 there. */
    ck_assert_double_eq_tol(f.params.r, 0.242592907204, 1e-8);
    ck_assert_double_eq_tol(f.params.alpha, 4.41353156121, 1e-7);
    ck_assert_double_eq_tol(f.params.a, 0.792886148099, 1e-8);
    ck_assert_double_eq_tol(f.params.b, 2.42575343649, 1e-7);
    ck_assert_double_eq_tol(f.loglik, -9582.42556056736, 1e-7);
    ck_assert_double_eq_tol(bg_loglik(&f.params, obs, n), f.loglik, 1e-8);
    bg_params_default(&pub);
    ck_assert(bg_loglik(&pub, obs, n) <= f.loglik + 1e-9);
    free(obs);
}
END_TEST

START_TEST(test_fit_summary_with_spend)
{
    struct bg_fit_result bf;
    struct gg_fit_result gf;
    size_t n;
    struct bg_obs *obs =
        load_summary("cdnow_customers_summary_with_transactions.csv", 7.0, &n);

    ck_assert_uint_eq(n, N_CUSTOMERS);
    ck_assert_int_eq(bg_fit(obs, n, &bf), 0);
    assert_published_bg(&bf, 5e-4);
    ck_assert_int_eq(gg_fit(obs, n, &gf), 0);
    assert_published_gg(&gf, 5e-4);
    /* mpmath optimum; published p = 6.248803, gamma = 15.447747. */
    ck_assert_double_eq_tol(gf.params.p, 6.24880248971, 1e-7);
    ck_assert_double_eq_tol(gf.params.q, 3.74458845329, 1e-7);
    ck_assert_double_eq_tol(gf.params.gamma, 15.4477480095, 1e-6);
    ck_assert_double_eq_tol(gg_loglik(&gf.params, obs, n), gf.loglik, 1e-8);
    free(obs);
}
END_TEST

/* A file and a SCAN of Redis list the same customers in different orders:
 * the fits must not depend on it, to the last bit. */
START_TEST(test_fit_order_independent)
{
    struct bg_fit_result b1, b2;
    struct gg_fit_result g1, g2;
    size_t n;
    struct bg_obs *obs =
        load_summary("cdnow_customers_summary_with_transactions.csv", 7.0, &n);

    ck_assert_int_eq(bg_fit(obs, n, &b1), 0);
    ck_assert_int_eq(gg_fit(obs, n, &g1), 0);
    srand(7);
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)rand() % (i + 1);
        struct bg_obs t = obs[i];

        obs[i] = obs[j];
        obs[j] = t;
    }
    ck_assert_int_eq(bg_fit(obs, n, &b2), 0);
    ck_assert_int_eq(gg_fit(obs, n, &g2), 0);
    ck_assert(memcmp(&b1.params, &b2.params, sizeof b1.params) == 0);
    ck_assert(memcmp(&g1.params, &g2.params, sizeof g1.params) == 0);
    ck_assert(b1.loglik == b2.loglik && g1.loglik == g2.loglik);
    free(obs);
}
END_TEST

START_TEST(test_fit_in_days)
{
    struct bg_fit_result f;
    size_t n;
    struct bg_obs *obs =
        load_summary("cdnow_customers_summary_with_transactions.csv", 1.0, &n);

    ck_assert_int_eq(bg_fit(obs, n, &f), 0);
    ck_assert_double_eq_tol(f.params.r, 0.242592907204, 1e-8);
    ck_assert_double_eq_tol(f.params.alpha, 7 * 4.41353156121, 1e-6);
    ck_assert_double_eq_tol(f.params.a, 0.792886148099, 1e-8);
    ck_assert_double_eq_tol(f.params.b, 2.42575343649, 1e-7);
    free(obs);
}
END_TEST

START_TEST(test_fit_transactions)
{
    struct bg_fit_result bf;
    struct gg_fit_result gf;
    size_t n;
    struct bg_obs *obs = load_tx(NULL, &n);

    ck_assert_uint_eq(n, N_CUSTOMERS);
    ck_assert_int_eq(bg_fit(obs, n, &bf), 0);
    assert_published_bg(&bf, 5e-4);
    /* The spend means are not rounded to cents here, which moves gamma by
     * 0.004: the published Gamma-Gamma figures hold to 2 decimals. */
    ck_assert_int_eq(gg_fit(obs, n, &gf), 0);
    assert_published_gg(&gf, 5e-3);
    free(obs);
}
END_TEST

START_TEST(test_fit_rejects)
{
    struct bg_obs bad = {1, 5, 4, 0}, none = {0, 0, 10, 0};
    struct bg_fit_result bf;
    struct gg_fit_result gf;

    ck_assert_int_eq(bg_fit(&none, 0, &bf), -1);
    ck_assert_int_eq(bg_fit(&bad, 1, &bf), -1);
    ck_assert_int_eq(gg_fit(&none, 1, &gf), -1);
}
END_TEST

static Suite *bgfit_suite(void)
{
    Suite *s = suite_create("bgfit");
    TCase *data = tcase_create("cdnow");
    TCase *tc = tcase_create("core");

    /* Fits take tens of ms; sanitizer builds are several times slower. */
    tcase_set_timeout(data, 60);
    tcase_add_test(data, test_fit_summary);
    tcase_add_test(data, test_fit_summary_with_spend);
    tcase_add_test(data, test_fit_in_days);
    tcase_add_test(data, test_fit_order_independent);
    tcase_add_test(data, test_fit_transactions);
    suite_add_tcase(s, data);

    tcase_add_test(tc, test_fit_rejects);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(bgfit_suite)
