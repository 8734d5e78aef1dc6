/*
 * test_gate.c - state/fit/gate.c: the refit gate's decision on figures made
 * by hand (one that passes, one refused for each check, the order of the
 * checks, what is not judged), its one-line reasons, and its backtest
 * figures against `loyaltyctl validate`'s (val_run) on a small cohort.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "state/fit/gate.h"
#include "state/fit/validate.h"
#include "state/model/bgnbd.h"
#include "tests/unit/check_main.h"

/* The defaults of fit.gate_max_error and fit.gate_margin. */
static const struct gate_limits LIM = {0.2, 0.05};

/* The CDNOW sample's backtest (docs/validate.md: calibration to 1997-09-30,
 * 273 days of holdout): 1882 repeat purchases, 1653.4 expected, AUC 0.757
 * against recency's 0.771; no saved model. */
static struct gate_figures cdnow(void)
{
    return (struct gate_figures){
        .actual = 1882, .expected = 1653.4, .auc_model = 0.757, .auc_recency = 0.771};
}

static void reason(const struct gate_figures *f, const struct gate_verdict *v, char *buf,
                   size_t len)
{
    int n = gate_reason(&LIM, f, v, buf, len);

    ck_assert_int_ge(n, 0);
    ck_assert_int_lt(n, (int)len);
    ck_assert_ptr_null(strchr(buf, '\n')); /* one line */
}

START_TEST(test_rel_error)
{
    ck_assert_double_eq_tol(gate_rel_error(1653.4, 1882), 228.6 / 1882, 1e-12);
    ck_assert_double_eq_tol(gate_rel_error(2000, 1600), 0.25, 1e-12);
    ck_assert_double_eq(gate_rel_error(0, 0), 0);
    ck_assert(isinf(gate_rel_error(3, 0)));
    ck_assert(isnan(gate_rel_error(NAN, 10)));
    ck_assert(isnan(gate_rel_error(10, NAN)));
}
END_TEST

/* The reference data pass with their published fit: the total 12 % off, the
 * AUC 0.014 below recency's. */
START_TEST(test_cdnow_passes)
{
    struct gate_figures f = cdnow();
    struct gate_verdict v;
    char buf[512] = "x";

    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    ck_assert_int_eq(v.mark[GATE_LEVEL], GATE_PASSED);
    ck_assert_int_eq(v.mark[GATE_RANKING], GATE_PASSED);
    ck_assert_int_eq(v.mark[GATE_STORED], GATE_NOT_JUDGED); /* nothing saved yet */
    ck_assert_double_eq_tol(v.error, 0.1215, 1e-4);
    ck_assert(isnan(v.cand_error) && isnan(v.stored_error));
    reason(&f, &v, buf, sizeof(buf));
    ck_assert_str_eq(buf, "");
    /* A saved model that does as well: still passes. */
    f.has_stored = 1;
    f.cand_expected = 1653.4;
    f.stored_expected = 1700;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    ck_assert_int_eq(v.mark[GATE_STORED], GATE_PASSED);
    ck_assert_double_eq_tol(v.cand_error, 0.1215, 1e-4);
    ck_assert_double_eq_tol(v.stored_error, 182.0 / 1882, 1e-12);
}
END_TEST

/* The total further than max_error from what happened, either way. */
START_TEST(test_level_refused)
{
    struct gate_figures f = cdnow();
    struct gate_verdict v;
    char buf[512];

    f.actual = 978; /* half of the customers gone after the calibration */
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 0);
    ck_assert_int_eq(v.failed, GATE_LEVEL);
    ck_assert_int_eq(v.mark[GATE_LEVEL], GATE_FAILED);
    ck_assert_str_eq(gate_check_name(v.failed), "level");
    reason(&f, &v, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "level: ") == buf && strstr(buf, "expects 1653.4") &&
                      strstr(buf, "978 happened") &&
                      strstr(buf, "relative error 0.691") &&
                      strstr(buf, "fit.gate_max_error 0.2"),
                  "%s", buf);
    /* Over-prediction counts the same; the limit itself passes. */
    f.actual = 1000;
    f.expected = 1250;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.failed, GATE_LEVEL);
    f.expected = 1200;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    f.expected = 800;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    f.expected = 799;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 0);
    /* No repeat purchase at all in the holdout: nothing to judge on. */
    f.actual = 0;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.failed, GATE_LEVEL);
    reason(&f, &v, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "no repeat purchase in the holdout"), "%s", buf);
    /* A model that expects no number fails. */
    f = cdnow();
    f.expected = NAN;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.failed, GATE_LEVEL);
}
END_TEST

/* P(a purchase) more than the margin below recency's AUC. */
START_TEST(test_ranking_refused)
{
    struct gate_figures f = cdnow();
    struct gate_verdict v;
    char buf[512];

    f.auc_model = 0.715; /* 0.056 below */
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 0);
    ck_assert_int_eq(v.failed, GATE_RANKING);
    ck_assert_int_eq(v.mark[GATE_LEVEL], GATE_PASSED);
    ck_assert_int_eq(v.mark[GATE_RANKING], GATE_FAILED);
    reason(&f, &v, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "ranking: ") == buf && strstr(buf, "AUC 0.715") &&
                      strstr(buf, "with 0.771") && strstr(buf, "fit.gate_margin 0.05"),
                  "%s", buf);
    f.auc_model = 0.725; /* 0.046 below: within the margin */
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    /* With no margin, any shortfall is refused, and a better model passes. */
    {
        const struct gate_limits strict = {0.2, 0};

        f.auc_model = 0.770;
        gate_judge(&strict, &f, &v);
        ck_assert_int_eq(v.failed, GATE_RANKING);
        f.auc_model = 0.80;
        gate_judge(&strict, &f, &v);
        ck_assert_int_eq(v.passed, 1);
    }
    /* Nobody or everybody bought: the AUCs are undefined, not judged. */
    f.auc_model = f.auc_recency = NAN;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    ck_assert_int_eq(v.mark[GATE_RANKING], GATE_NOT_JUDGED);
}
END_TEST

/* The new fit's error on the split more than the margin above the saved
 * model's. */
START_TEST(test_stored_refused)
{
    struct gate_figures f = cdnow();
    struct gate_verdict v;
    char buf[512];

    f.has_stored = 1;
    f.cand_expected = 1420;     /* a fit on older data: 0.245 off */
    f.stored_expected = 1653.4; /* 0.121 off */
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 0);
    ck_assert_int_eq(v.failed, GATE_STORED);
    ck_assert_int_eq(v.mark[GATE_LEVEL], GATE_PASSED);
    ck_assert_int_eq(v.mark[GATE_RANKING], GATE_PASSED);
    ck_assert_int_eq(v.mark[GATE_STORED], GATE_FAILED);
    ck_assert_double_eq_tol(v.cand_error, 462.0 / 1882, 1e-12);
    reason(&f, &v, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "stored: ") == buf && strstr(buf, "expects 1420.0") &&
                      strstr(buf, "saved model 1653.4") &&
                      strstr(buf, "relative error 0.245 against 0.121") &&
                      strstr(buf, "fit.gate_margin 0.05"),
                  "%s", buf);
    /* 0.04 worse: within the margin. */
    f.cand_expected = 1653.4 - 0.04 * 1882;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    /* Without a saved model the same fit passes: nothing to compare with. */
    f.cand_expected = 1420;
    f.has_stored = 0;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    ck_assert_int_eq(v.mark[GATE_STORED], GATE_NOT_JUDGED);
    /* A saved model that expects no number is beaten; a new one that does
     * not is refused. */
    f.has_stored = 1;
    f.stored_expected = NAN;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.passed, 1);
    f.stored_expected = 1653.4;
    f.cand_expected = NAN;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.failed, GATE_STORED);
}
END_TEST

/* Several checks fail: the first in the order level, ranking, stored is the
 * one named, every mark is set. */
START_TEST(test_order_of_checks)
{
    struct gate_figures f = cdnow();
    struct gate_verdict v;
    char buf[512];

    f.actual = 3000;
    f.auc_model = 0.6;
    f.has_stored = 1;
    f.cand_expected = 1000;
    f.stored_expected = 2900;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.failed, GATE_LEVEL);
    ck_assert_int_eq(v.mark[GATE_LEVEL], GATE_FAILED);
    ck_assert_int_eq(v.mark[GATE_RANKING], GATE_FAILED);
    ck_assert_int_eq(v.mark[GATE_STORED], GATE_FAILED);
    reason(&f, &v, buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "level: ") == buf, "%s", buf);
    f.actual = 1882;
    gate_judge(&LIM, &f, &v);
    ck_assert_int_eq(v.failed, GATE_RANKING);
    ck_assert_str_eq(gate_check_name(GATE_STORED), "stored");
    /* A short buffer: cut, still terminated, the length it needed. */
    {
        char small[16];
        int n = gate_reason(&LIM, &f, &v, small, sizeof(small));

        ck_assert_int_gt(n, (int)sizeof(small));
        ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
    }
}
END_TEST

/* The backtest's figures are validate's (val_run) on the same cohort and
 * parameters, and the expectations of other parameters are the sum of
 * E[X(t) | x, t_x, T]. */
START_TEST(test_backtest_figures)
{
    /* Days of five customers; calibration end 60, holdout to 116 (8 weeks). */
    const long d0[] = {0, 10, 50, 70, 100}, d1[] = {5}, d2[] = {3, 20, 90},
               d3[] = {30, 58}, d4[] = {40, 45, 52, 59, 61, 75};
    const long *days[] = {d0, d1, d2, d3, d4};
    const size_t nd[] = {5, 1, 3, 2, 6};
    long rep[5][6];
    struct val_cust c[5];
    struct bg_params p, q;
    struct gg_params g;
    struct gate_figures f = {0};
    struct val_report r;
    double sum = 0;

    bg_params_default(&p);
    gg_params_default(&g);
    q = p;
    q.a = 2.5;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(val_split(days[i], NULL, nd[i], 60, 116, rep[i], &c[i]), 0);
    }
    ck_assert_int_eq(gate_backtest(c, 5, &p, 60, 116, &f), 0);
    ck_assert_int_eq(val_run(c, 5, &p, &g, 365, 60, 116, &r), 0);
    ck_assert_double_eq(f.actual, 5); /* 70, 100; 90; 61, 75 */
    ck_assert_double_eq(f.actual, r.actual);
    ck_assert_double_eq_tol(f.expected, r.expected, 1e-12);
    ck_assert_double_eq(f.auc_model, r.auc_active);
    ck_assert_double_eq(f.auc_recency, r.auc_recency);
    ck_assert(f.auc_model > 0 && f.auc_model < 1);
    val_report_free(&r);
    for (int i = 0; i < 5; i++) {
        sum += bg_expected_purchases(&q, c[i].cal.x, c[i].cal.t_x, c[i].cal.T, 8);
    }
    ck_assert_double_eq_tol(gate_expected(c, 5, &q, 8), sum, 1e-12);
    ck_assert(fabs(gate_expected(c, 5, &q, 8) - f.expected) > 0.01);
    /* Nobody in the cohort: no purchases, AUCs undefined. */
    ck_assert_int_eq(gate_backtest(c, 0, &p, 60, 116, &f), 0);
    ck_assert_double_eq(f.actual, 0);
    ck_assert(isnan(f.auc_model) && isnan(f.auc_recency));
}
END_TEST

static Suite *gate_suite(void)
{
    Suite *s = suite_create("gate");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_rel_error);
    tcase_add_test(tc, test_cdnow_passes);
    tcase_add_test(tc, test_level_refused);
    tcase_add_test(tc, test_ranking_refused);
    tcase_add_test(tc, test_stored_refused);
    tcase_add_test(tc, test_order_of_checks);
    tcase_add_test(tc, test_backtest_figures);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(gate_suite)
