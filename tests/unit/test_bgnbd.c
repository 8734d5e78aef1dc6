/*
 * test_bgnbd.c - state/model/bgnbd.c: the Gauss hypergeometric function, the
 * published predictions, expected purchases, P(alive) and when it reaches a
 * level, Gamma-Gamma and CLV.  The fits are in test_bgfit.c, the CDNOW
 * loaders in test_cdnow.c.
 *
 * The predictions must reproduce the published figures (Fader, Hardie & Lee
 * 2005; BTYD).  Reference values marked "mpmath" were computed at 30-40
 * significant digits.
 */
#include <check.h>
#include <math.h>

#include "state/model/bgnbd.h"
#include "tests/unit/check_main.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Published, rounded as in the paper (BTYD and lifetimes test against these). */
static const struct bg_params paper = {0.243, 4.414, 0.793, 2.426};

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

static Suite *bgnbd_suite(void)
{
    Suite *s = suite_create("bgnbd");
    TCase *model = tcase_create("model");

    tcase_add_test(model, test_hyp2f1_reference);
    tcase_add_test(model, test_published_predictions);
    tcase_add_test(model, test_expected_purchases_reference);
    tcase_add_test(model, test_expected_purchases_shape);
    tcase_add_test(model, test_palive);
    tcase_add_test(model, test_palive_crossing_time);
    tcase_add_test(model, test_gamma_gamma_and_clv);
    suite_add_tcase(s, model);
    return s;
}

CHECK_MAIN(bgnbd_suite)
