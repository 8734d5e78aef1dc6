/*
 * test_bgnbd.c - state/model/bgnbd.c, state/fit/bgfit.c, state/fit/cdnow.c and
 * state/fit/fit.c.
 *
 * The fits run on the CDNOW sample shipped in data/cdnow (LOYALTY_CDNOW_DIR
 * overrides it; relative to the repository root, where the tests run)
 * and must reproduce the published figures (Fader, Hardie & Lee 2005; the
 * lifetimes library for the 6-decimal values).  Reference values marked
 * "mpmath" were computed at 30-40 significant digits.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/civil.h"
#include "state/fit/bgfit.h"
#include "state/fit/cdnow.h"
#include "state/fit/fit.h"
#include "state/model/bgnbd.h"
#include "tests/unit/check_main.h"

#define N_OF(a)     ((int)(sizeof(a) / sizeof((a)[0])))
#define N_CUSTOMERS 2357
#define N_REPEATERS 946
#define ERRLEN      256
#define CAL_END     civil_days_from_ymd(1997, 9, 30)
#define HOLD_END    civil_days_from_ymd(1998, 6, 30)

/* Published, rounded as in the paper (BTYD and lifetimes test against these). */
static const struct bg_params paper = {0.243, 4.414, 0.793, 2.426};

/* ---- helpers --------------------------------------------------------- */

static const char *data_path(const char *file)
{
    static char path[1024];
    const char *dir = getenv("LOYALTY_CDNOW_DIR");

    snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/cdnow", file);
    return path;
}

static struct bg_obs *load_summary(const char *file, double unit_days, size_t *n)
{
    struct bg_obs *obs;
    char err[ERRLEN] = "";

    ck_assert_msg(
        cdnow_load_summary(data_path(file), unit_days, &obs, n, err, sizeof err) == 0,
        "%s", err);
    return obs;
}

static struct bg_obs *load_tx(unsigned **holdout, size_t *n)
{
    struct bg_obs *obs;
    char err[ERRLEN] = "";

    ck_assert_msg(cdnow_load_transactions_holdout(data_path("CDNOW_sample.txt"), CAL_END,
                                                  HOLD_END, 7.0, &obs, holdout, n, err,
                                                  sizeof err) == 0,
                  "%s", err);
    return obs;
}

/* Writes `content` to a fresh temporary file; the caller unlinks it. */
static void write_tmp(char *path, size_t len, const char *content)
{
    const char *dir = getenv("TMPDIR");
    FILE *fp;
    int fd;

    snprintf(path, len, "%s/test_bgnbd.XXXXXX", dir ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fp = fdopen(fd, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    ck_assert_int_eq(fclose(fp), 0);
}

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

/* ---- Gauss hypergeometric ---------------------------------------------- */

START_TEST(test_hyp2f1_reference)
{
    /* mpmath.hyp2f1; covers the series, the 1 - z transformation, its
     * integer c - a - b fallback, large |c - a - b| (Euler), Pfaff for z < 0
     * and a polynomial. */
    static const struct {
        double a, b, c, z, want;
    } cases[] = {
        {0.5, 1.5, 2.5, 0.3, 1.108062551056932},
        {1.2, 2.3, 3.1, 0.9, 5.875319968967922},
        {1.2, 2.3, 3.5, 0.9, 4.275723758338711},
        {0.7, 1.1, 1.3, -0.5, 0.7849646943330823},
        {0.7, 1.1, 1.3, -5.0, 0.33328818150230322},
        {2.0, 3.0, 4.0, 0.999, 2967.4439006638379},
        {-3, 2, 1.5, 0.8, -0.064228571428571421},
        {1.976047, -0.207114, 7.21864, 0.97, 0.93432402334706871},
        {1.5, 2.5, 1.2, 0.95, 5678.9411542555229},
        {0.3, 0.4, 0.2, -30, 0.056207937493346614},
        {1.976047, -0.207114, 2001.0, 0.9, 0.99981582415137922},
        {3, 4, 30, 0.9999, 1.5886090001737067},
        {30, 40, 50, 0.6, 1678089070.8195874},
        {0.5, 0.25, 30.3, 0.999, 1.0042524453157278},
    };

    for (int i = 0; i < N_OF(cases); i++) {
        double got = bg_hyp2f1(cases[i].a, cases[i].b, cases[i].c, cases[i].z);

        ck_assert_msg(fabs(got - cases[i].want) <= 1e-11 * fabs(cases[i].want),
                      "case %d: got %.17g want %.17g", i, got, cases[i].want);
    }
    ck_assert(isnan(bg_hyp2f1(1, 1, 2, 1.0)));
    ck_assert(isnan(bg_hyp2f1(1, 1, -2, 0.5)));
    ck_assert_double_eq(bg_hyp2f1(1, 1, 2, 0.0), 1.0);
}
END_TEST

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

START_TEST(test_transactions_match_summary)
{
    size_t n, ns;
    struct bg_obs *tx = load_tx(NULL, &n);
    struct bg_obs *sum =
        load_summary("cdnow_customers_summary_with_transactions.csv", 7.0, &ns);

    ck_assert_uint_eq(n, ns);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(tx[i].x == sum[i].x, "customer %zu: x", i + 1);
        ck_assert_msg(round(tx[i].t_x * 100) == round(sum[i].t_x * 100),
                      "customer %zu: t_x", i + 1);
        ck_assert_msg(round(tx[i].T * 100) == round(sum[i].T * 100), "customer %zu: T",
                      i + 1);
        /* Half-cent means may round either way in the published file. */
        ck_assert_msg(fabs(tx[i].mvalue - sum[i].mvalue) <= 0.005 + 1e-9,
                      "customer %zu: mvalue %.4f zbar %.2f", i + 1, tx[i].mvalue,
                      sum[i].mvalue);
    }
    free(sum);
    free(tx);
}
END_TEST

START_TEST(test_holdout_zero_repeaters)
{
    struct bg_params pub;
    unsigned *hold;
    size_t n, zeros = 0;
    unsigned actual = 0;
    double predicted = 0.0;
    struct bg_obs *obs = load_tx(&hold, &n);

    bg_params_default(&pub);
    ck_assert_double_eq_tol((HOLD_END - CAL_END) / 7.0, 39.0, 1e-12);
    for (size_t i = 0; i < n; i++) {
        if (obs[i].x != 0) {
            continue;
        }
        zeros++;
        actual += hold[i];
        predicted += bg_expected_purchases(&pub, 0, 0, obs[i].T, 39.0);
    }
    ck_assert_uint_eq(zeros, 1411);
    ck_assert_uint_eq(actual, 334);
    ck_assert_double_eq_tol(predicted / (double)zeros, 0.23, 0.005);
    free(hold);
    free(obs);
}
END_TEST

/* ---- predictions -------------------------------------------------------- */

START_TEST(test_published_predictions)
{
    struct bg_params pub;
    double sum = 0.0, mean = 0.0;

    bg_params_default(&pub);
    /* Paper, section 4: the customer with x = 2, t_x = 30.43, T = 38.86. */
    ck_assert_double_eq_tol(bg_expected_purchases(&paper, 2, 30.43, 38.86, 39), 1.226,
                            5e-4);
    ck_assert_double_eq_tol(bg_expected_purchases(&pub, 2, 30.43, 38.86, 39), 1.226,
                            5e-4);
    /* Eq. (8) with the paper's rounded parameters, as BTYD documents it. */
    ck_assert_double_eq_tol(bg_prob_n_purchases(&paper, 39, 0), 0.5737864, 5e-7);
    ck_assert_double_eq_tol(bg_prob_n_purchases(&paper, 2, 10), 1.07869e-07, 1e-12);
    /* Eq. (8) sums to 1 and its mean is eq. (9). */
    for (int k = 0; k <= 600; k++) {
        double pk = bg_prob_n_purchases(&pub, 39, k);

        sum += pk;
        mean += k * pk;
    }
    ck_assert_double_eq_tol(sum, 1.0, 1e-12);
    ck_assert_double_eq_tol(mean, bg_expected_purchases_new(&pub, 39), 1e-10);
    ck_assert_double_eq(bg_prob_n_purchases(&pub, 0, 0), 1.0);
    ck_assert_double_eq(bg_prob_n_purchases(&pub, 0, 3), 0.0);
}
END_TEST

START_TEST(test_expected_purchases_reference)
{
    /* Eq. (10) as printed (no transformation), mpmath at 40 digits. */
    static const struct {
        double x, t_x, T, t, want;
    } cases[] = {
        {1, 30, 39, 1, 0.01983252361208}, {1, 30, 39, 100, 1.43859759683},
        {1, 30, 39, 1e4, 15.53321344796}, {1, 30, 39, 1e6, 57.28819403905},
        {5, 10, 39, 1e6, 5.496948263755}, {2000, 39, 39, 52, 1710.552734635},
    };
    struct bg_params pub;

    bg_params_default(&pub);
    for (int i = 0; i < N_OF(cases); i++) {
        double got =
            bg_expected_purchases(&pub, cases[i].x, cases[i].t_x, cases[i].T, cases[i].t);

        ck_assert_msg(fabs(got - cases[i].want) <= 1e-10 * cases[i].want,
                      "case %d: got %.15g want %.15g", i, got, cases[i].want);
    }
}
END_TEST

START_TEST(test_expected_purchases_shape)
{
    struct bg_params pub, near1;
    double prev = 0.0;

    bg_params_default(&pub);
    ck_assert_double_eq(bg_expected_purchases(&pub, 3, 20, 30, 0), 0.0);
    for (double t = 1; t <= 5200; t *= 1.5) {
        double e = bg_expected_purchases(&pub, 3, 20, 30, t);

        ck_assert(e > prev);
        prev = e;
    }
    ck_assert_double_eq_tol(bg_expected_purchases(&pub, 0, 0, 0, 39),
                            bg_expected_purchases_new(&pub, 39), 1e-14);
    /* A heavy buyer and a far horizon stay finite. */
    ck_assert(isfinite(bg_expected_purchases(&pub, 2000, 39, 39, 52)));
    ck_assert(bg_expected_purchases(&pub, 2000, 39, 39, 52) > 100);
    ck_assert(isfinite(bg_expected_purchases(&pub, 5, 10, 39, 1e6)));
    /* a = 1 is a removable singularity. */
    near1 = pub;
    near1.a = 1.0;
    ck_assert(isfinite(bg_expected_purchases(&near1, 2, 30, 39, 39)));
    near1.a = 1.0 + 1e-6;
    ck_assert_double_eq_tol(
        bg_expected_purchases(&near1, 2, 30, 39, 39),
        bg_expected_purchases(&(struct bg_params){pub.r, pub.alpha, 1.0 - 1e-6, pub.b}, 2,
                              30, 39, 39),
        1e-5);
}
END_TEST

START_TEST(test_palive)
{
    struct bg_params pub;
    double prev = 1.0;

    bg_params_default(&pub);
    ck_assert_double_eq(bg_palive(&pub, 0, 0, 0), 1.0);
    ck_assert_double_eq(bg_palive(&pub, 0, 0, 500), 1.0);
    for (double T = 10; T <= 200; T += 5) {
        double pa = bg_palive(&pub, 4, 10, T);

        ck_assert(pa > 0.0 && pa < prev);
        prev = pa;
    }
}
END_TEST

START_TEST(test_palive_crossing_time)
{
    struct bg_params pub;
    const double x = 3, t_x = 12, T = 20;
    double now;

    bg_params_default(&pub);
    now = bg_palive(&pub, x, t_x, T);
    for (double target = 0.05; target < now; target += 0.05) {
        double when = bg_time_palive_reaches(&pub, x, t_x, T, target);

        ck_assert(when > T);
        ck_assert_double_eq_tol(bg_palive(&pub, x, t_x, when), target, 1e-12);
        ck_assert(bg_palive(&pub, x, t_x, when * (1 - 1e-6)) > target);
    }
    ck_assert_double_eq(bg_time_palive_reaches(&pub, x, t_x, T, now + 0.01), T);
    ck_assert_double_eq(bg_time_palive_reaches(&pub, 0, 0, T, 0.5), -1.0);
    ck_assert_double_eq(bg_time_palive_reaches(&pub, 0, 0, T, 1.0), T);
    ck_assert_double_eq(bg_time_palive_reaches(&pub, x, t_x, T, 0.0), -1.0);
}
END_TEST

START_TEST(test_gamma_gamma_and_clv)
{
    struct bg_params bp;
    struct gg_params gp;
    double prev = 0.0;

    bg_params_default(&bp);
    gg_params_default(&gp);
    ck_assert_double_eq_tol(gg_expected_value(&gp, 0, 0), gp.p * gp.gamma / (gp.q - 1),
                            1e-12);
    /* Lifetimes' convention: (gamma + m x) p / (p x + q - 1). */
    ck_assert_double_eq_tol(gg_expected_value(&gp, 2, 22.35),
                            (gp.gamma + 2 * 22.35) * gp.p / (2 * gp.p + gp.q - 1), 1e-12);
    /* Many purchases: the customer's own mean dominates. */
    ck_assert_double_eq_tol(gg_expected_value(&gp, 1e6, 40), 40, 1e-3);
    ck_assert(isnan(gg_expected_value(&(struct gg_params){1, 0.5, 10}, 0, 0)));
    for (double h = 4; h <= 520; h += 4) {
        double clv = bg_clv(&bp, &gp, 2, 30.43, 38.86, 22.35, h);

        ck_assert(clv > prev);
        prev = clv;
    }
    ck_assert_double_eq_tol(bg_clv(&bp, &gp, 2, 30.43, 38.86, 22.35, 39),
                            bg_expected_purchases(&bp, 2, 30.43, 38.86, 39) *
                                gg_expected_value(&gp, 2, 22.35),
                            1e-12);
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

/* ---- loaders -------------------------------------------------------------- */

START_TEST(test_dates)
{
    long d;

    ck_assert_int_eq(cdnow_parse_date("19970930", &d), 0);
    ck_assert_int_eq(d, 10134);
    ck_assert_int_eq(cdnow_parse_date("19970230", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("19000229", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("1997093", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("199709301", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("1997-9-3", &d), -1);
}
END_TEST

START_TEST(test_loaders_empty)
{
    char path[512], err[ERRLEN] = "";
    struct bg_obs dummy, *obs = &dummy;
    size_t n = 99;

    write_tmp(path, sizeof path, "");
    ck_assert_int_eq(cdnow_load_transactions(path, CAL_END, 7, &obs, &n, err, sizeof err),
                     -1);
    ck_assert_ptr_null(obs);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err, path));
    err[0] = '\0';
    ck_assert_int_eq(cdnow_load_summary(path, 7, &obs, &n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    unlink(path);

    write_tmp(path, sizeof path, "ID,x,t_x,T,zbar\r\n");
    ck_assert_int_eq(cdnow_load_summary(path, 7, &obs, &n, err, sizeof err), -1);
    unlink(path);
    ck_assert_int_eq(
        cdnow_load_summary("/nonexistent/x.csv", 7, &obs, &n, err, sizeof err), -1);
}
END_TEST

/* Loads `content` with the given loader and expects "path:LINE: ...". */
static void expect_bad(int transactions, const char *content, int line)
{
    char path[512], err[ERRLEN] = "", want[600];
    struct bg_obs *obs;
    size_t n;
    int rc;

    write_tmp(path, sizeof path, content);
    rc = transactions
             ? cdnow_load_transactions(path, CAL_END, 7, &obs, &n, err, sizeof err)
             : cdnow_load_summary(path, 7, &obs, &n, err, sizeof err);
    unlink(path);
    snprintf(want, sizeof want, "%s:%d: ", path, line);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "want '%s...', got '%s'", want,
                  err);
}

START_TEST(test_loaders_malformed)
{
    expect_bad(1, " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970132 1 3.00\r\n",
               2);
    expect_bad(1, " 00004 0001 19970101  2\r\n", 1);
    expect_bad(1, " 00004 0001 19970101 2 29.33 7\n", 1);
    expect_bad(1, "\n\n 00004 0001 19970101 2 -1\n", 3);
    expect_bad(1, " 00004 x001 19970101 2 1\n", 1);
    expect_bad(0, "ID,frequency,recency,T\n1,2,30.43,38.86\n2,1,1.71\n", 3);
    expect_bad(0, "ID,frequency,recency,T\n1,2,40,38.86\n", 2);
    expect_bad(0, "ID,frequency,recency,T\n1,2.5,30,38.86\n", 2);
    expect_bad(0, "ID,x,t_x,T,zbar\r\n1,2,30.43,38.86,abc\r\n", 2);
    expect_bad(0, "ID,x,t_x,T,zbar\r\n1,2,30.43,38.86,1,\r\n", 2);
    expect_bad(0, "id;x;t_x;T\n1;2;3;4\n", 1);
}
END_TEST

START_TEST(test_loaders_small_files)
{
    char path[512], err[ERRLEN] = "";
    struct bg_obs *obs;
    unsigned *hold;
    size_t n;

    /* CRLF, no final newline, weeks converted to days. */
    write_tmp(path, sizeof path,
              "ID,x,t_x,T,zbar\r\n7,2,1.00,3.00,10.50\r\n\r\n8,0,0,2,0");
    ck_assert_int_eq(cdnow_load_summary(path, 1, &obs, &n, err, sizeof err), 0);
    unlink(path);
    ck_assert_uint_eq(n, 2);
    ck_assert_double_eq_tol(obs[0].t_x, 7.0, 1e-12);
    ck_assert_double_eq_tol(obs[0].T, 21.0, 1e-12);
    ck_assert_double_eq_tol(obs[0].mvalue, 10.5, 1e-12);
    ck_assert_double_eq_tol(obs[1].T, 14.0, 1e-12);
    free(obs);

    /* Unsorted input; two transactions on one day are one purchase; customer
     * 3 starts after the calibration end and is left out. */
    write_tmp(path, sizeof path,
              "1 0002 19970110 1 5.00\n"
              "1 0001 19970101 1 1.00\n"
              "1 0001 19970108 1 2.00\n"
              "1 0001 19970108 1 4.00\n"
              "1 0001 19970115 1 9.00\n"
              "1 0001 19971001 1 9.00\n"
              "1 0001 19971001 1 9.00\n"
              "1 0001 19971008 1 9.00\n"
              "3 0003 19971002 1 1.00\n");
    ck_assert_int_eq(cdnow_load_transactions_holdout(path, CAL_END, HOLD_END, 7, &obs,
                                                     &hold, &n, err, sizeof err),
                     0);
    unlink(path);
    ck_assert_uint_eq(n, 2);
    ck_assert_double_eq(obs[0].x, 2);
    ck_assert_double_eq_tol(obs[0].t_x, 2.0, 1e-12);
    ck_assert_double_eq_tol(obs[0].T, (CAL_END - civil_days_from_ymd(1997, 1, 1)) / 7.0,
                            1e-12);
    ck_assert_double_eq_tol(obs[0].mvalue, (2.0 + 4.0 + 9.0) / 2, 1e-12);
    ck_assert_uint_eq(hold[0], 2);
    ck_assert_double_eq(obs[1].x, 0);
    ck_assert_double_eq(obs[1].mvalue, 0);
    ck_assert_uint_eq(hold[1], 0);
    free(hold);
    free(obs);
}
END_TEST

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

static Suite *bgnbd_suite(void)
{
    Suite *s = suite_create("bgnbd");
    TCase *model = tcase_create("model");
    TCase *data = tcase_create("cdnow");
    TCase *io = tcase_create("loaders");

    tcase_add_test(model, test_hyp2f1_reference);
    tcase_add_test(model, test_published_predictions);
    tcase_add_test(model, test_expected_purchases_reference);
    tcase_add_test(model, test_expected_purchases_shape);
    tcase_add_test(model, test_palive);
    tcase_add_test(model, test_palive_crossing_time);
    tcase_add_test(model, test_gamma_gamma_and_clv);
    tcase_add_test(model, test_fit_rejects);
    tcase_add_test(model, test_format);
    suite_add_tcase(s, model);

    /* Fits take tens of ms; sanitizer builds are several times slower. */
    tcase_set_timeout(data, 60);
    tcase_add_test(data, test_fit_summary);
    tcase_add_test(data, test_fit_summary_with_spend);
    tcase_add_test(data, test_fit_in_days);
    tcase_add_test(data, test_fit_order_independent);
    tcase_add_test(data, test_fit_transactions);
    tcase_add_test(data, test_transactions_match_summary);
    tcase_add_test(data, test_holdout_zero_repeaters);
    suite_add_tcase(s, data);

    tcase_add_test(io, test_dates);
    tcase_add_test(io, test_loaders_empty);
    tcase_add_test(io, test_loaders_malformed);
    tcase_add_test(io, test_loaders_small_files);
    suite_add_tcase(s, io);
    return s;
}

CHECK_MAIN(bgnbd_suite)
