/*
 * test_validate.c - state/fit/validate.c against small cases worked by hand, and
 * bg_prob_any_purchase.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "state/fit/cdnow.h"
#include "state/fit/validate.h"
#include "state/model/bgnbd.h"
#include "tests/unit/check_main.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct bg_params pub(void)
{
    struct bg_params p;

    bg_params_default(&p);
    return p;
}

/* ---- splitting ----------------------------------------------------------- */

START_TEST(test_split)
{
    const long day[] = {10, 13, 20, 30, 45};
    const double value[] = {5, 7, 9, 11, 13};
    long rep[4];
    struct val_cust c;

    ck_assert_int_eq(val_split(day, value, 5, 25, 40, rep, &c), 0);
    ck_assert_double_eq(c.cal.x, 2);
    ck_assert_int_eq(c.first_day, 10);
    ck_assert_int_eq(c.last_day, 20);
    ck_assert_double_eq_tol(c.cal.t_x, 10 / 7.0, 1e-12);
    ck_assert_double_eq_tol(c.cal.T, 15 / 7.0, 1e-12);
    ck_assert_double_eq_tol(c.cal.mvalue, 8.0, 1e-12); /* (7 + 9) / 2 */
    ck_assert_uint_eq(c.hold_x, 1);                    /* 45 is after the holdout */
    ck_assert_double_eq(c.hold_value, 11);
    ck_assert_uint_eq(c.ndays, 3);
    ck_assert_int_eq(c.days[2], 30);
    ck_assert_int_eq(c.cal_known, 1);
    /* A customer who first buys in the holdout is not in the cohort. */
    ck_assert_int_eq(val_split(day + 3, value + 3, 2, 25, 40, rep, &c), 1);
    ck_assert_int_eq(val_split(day, value, 0, 25, 40, rep, &c), 1);
    /* A single purchase on the calibration end: x = 0, T = 0. */
    ck_assert_int_eq(val_split(day, NULL, 1, 10, 40, rep, &c), 0);
    ck_assert_double_eq(c.cal.x, 0);
    ck_assert_double_eq(c.cal.T, 0);
    ck_assert_double_eq(c.cal.mvalue, 0);
}
END_TEST

/* The CDNOW sample read as purchase days and split here gives what the fit's
 * loader gives (LOYALTY_CDNOW_DIR overrides data/cdnow, as in cdnow_fixture.h). */
START_TEST(test_split_matches_loader)
{
    const char *dir = getenv("LOYALTY_CDNOW_DIR");
    char path[1024], err[256] = "";
    long cal = civil_days_from_ymd(1997, 9, 30), hold = civil_days_from_ymd(1998, 6, 30);
    long *day, *rep;
    double *value;
    size_t *start, ncust, n;
    struct bg_obs *obs;
    unsigned *h;
    struct val_cust c;

    snprintf(path, sizeof(path), "%s/CDNOW_sample.txt", dir ? dir : "data/cdnow");
    ck_assert_msg(cdnow_load_days(path, &day, &value, &start, &ncust, err, sizeof(err)) ==
                      0,
                  "%s", err);
    ck_assert_msg(cdnow_load_transactions_holdout(path, cal, hold, 7, &obs, &h, &n, err,
                                                  sizeof(err)) == 0,
                  "%s", err);
    ck_assert_uint_eq(ncust, 2357);
    ck_assert_uint_eq(n, 2357); /* every first purchase is in 1997's first quarter */
    rep = malloc(start[ncust] * sizeof(*rep));
    ck_assert_ptr_nonnull(rep);
    for (size_t i = 0; i < ncust; i++) {
        size_t k = start[i], m = start[i + 1] - k;

        ck_assert_int_eq(val_split(day + k, value + k, m, cal, hold, rep, &c), 0);
        ck_assert_msg(c.cal.x == obs[i].x && c.cal.t_x == obs[i].t_x &&
                          c.cal.T == obs[i].T && c.hold_x == h[i],
                      "customer %zu", i + 1);
        ck_assert_double_eq_tol(c.cal.mvalue, obs[i].mvalue, 1e-9);
        for (size_t j = 1; j < m; j++) {
            ck_assert_int_gt(day[k + j], day[k + j - 1]);
        }
    }
    free(rep);
    free(h);
    free(obs);
    free(start);
    free(value);
    free(day);
}
END_TEST

/* A state with purchase days first, the days in buckets[] (orders 1, spend
 * 100 cents each; the first among them or not), n_out more days that left
 * the window, evaluated on as_of. */
static void make_state(struct customer *cu, long first, const long *buckets, int nb,
                       int n_out, long prev, long as_of)
{
    customer_init(cu, "c");
    cu->first_day = (int32_t)first;
    cu->first_day_cents = 100;
    cu->purchase_days = nb + n_out + (nb == 0 || buckets[0] != first);
    cu->spend_cents = 100 * cu->purchase_days;
    cu->last_day = (int32_t)(nb ? buckets[nb - 1] : first);
    cu->prev_day = (int32_t)prev;
    cu->as_of_ms = as_of * CU_DAY_MS + 1000;
    for (int i = 0; i < nb; i++) {
        cu->days[i].day = (int32_t)buckets[i];
        cu->days[i].orders = 1;
        cu->days[i].spend_cents = 100;
    }
    cu->ndays = (uint32_t)nb;
}

START_TEST(test_from_state)
{
    struct customer *cu = malloc(sizeof(*cu));
    long buf[CU_DAYS_MAX + 3];
    struct val_cust c;
    const long all[] = {1000, 1100, 1200};
    const long recent[] = {1150, 1200, 1290};

    ck_assert_ptr_nonnull(cu);
    /* Everything in the buckets: as from the purchase days themselves. */
    make_state(cu, 1000, all, 3, 0, 1100, 1250);
    ck_assert_int_eq(val_from_state(cu, 1150, 1250, buf, &c), 0);
    ck_assert_double_eq(c.cal.x, 1);
    ck_assert_int_eq(c.last_day, 1100);
    ck_assert_uint_eq(c.hold_x, 1);
    ck_assert_double_eq(c.hold_value, 1.0);
    ck_assert_double_eq(c.cal.mvalue, 1.0); /* 1100's 1.00 */
    ck_assert_int_eq(c.cal_known, 1);
    ck_assert_uint_eq(c.ndays, 2);
    ck_assert_int_eq(c.days[0], 1100);
    /* Two days left the window (as of 1400 it starts at 1036): x counts
     * them, and the last calibration day 1150 is past them all. */
    make_state(cu, 900, recent, 3, 2, 1200, 1400);
    ck_assert_int_eq(val_from_state(cu, 1160, 1300, buf, &c), 0);
    ck_assert_double_eq(c.cal.x, 3); /* two out of the window, and 1150 */
    ck_assert_int_eq(c.last_day, 1150);
    ck_assert_uint_eq(c.hold_x, 2);
    ck_assert_int_eq(c.cal_known, 0);
    ck_assert_uint_eq(c.ndays, 2);
    ck_assert_int_eq(c.days[0], 1200);
    /* The last calibration day would be one of those out of the window. */
    ck_assert_int_eq(val_from_state(cu, 1100, 1300, buf, &c), -1);
    /* The holdout starts before the window. */
    ck_assert_int_eq(val_from_state(cu, 1000, 1300, buf, &c), -1);
    /* One day out of the window is the first: nothing unknown. */
    make_state(cu, 900, recent, 3, 0, 1200, 1400);
    ck_assert_int_eq(val_from_state(cu, 1100, 1300, buf, &c), 0);
    ck_assert_double_eq(c.cal.x, 0);
    ck_assert_int_eq(c.last_day, 900);
    ck_assert_int_eq(c.cal_known, 1);
    /* First purchase after the calibration end. */
    ck_assert_int_eq(val_from_state(cu, 800, 1300, buf, &c), 1);
    free(cu);
}
END_TEST

/* ---- the table ------------------------------------------------------------- */

START_TEST(test_cond_table)
{
    const double xs[] = {0, 0, 1, 7, 9, 3};
    const unsigned hold[] = {1, 0, 2, 5, 8, 0};
    struct val_cust c[6];
    struct val_group g[VAL_GROUPS];
    struct bg_params p = pub();

    memset(c, 0, sizeof(c));
    for (int i = 0; i < N_OF(xs); i++) {
        c[i].cal = (struct bg_obs){xs[i], xs[i] ? 20 : 0, 30, 0};
        c[i].hold_x = hold[i];
    }
    val_cond_table(c, 6, &p, 39, g);
    ck_assert_uint_eq(g[0].n, 2);
    ck_assert_double_eq(g[0].actual, 0.5);
    ck_assert_double_eq_tol(g[0].predicted, bg_expected_purchases(&p, 0, 0, 30, 39),
                            1e-12);
    ck_assert_uint_eq(g[1].n, 1);
    ck_assert_double_eq(g[1].actual, 2);
    ck_assert_uint_eq(g[2].n, 0);
    ck_assert_double_eq(g[2].predicted, 0);
    ck_assert_uint_eq(g[3].n, 1);
    ck_assert_double_eq(g[3].actual, 0);
    /* 7 and 9 share the last group. */
    ck_assert_uint_eq(g[7].n, 2);
    ck_assert_double_eq(g[7].actual, 6.5);
    ck_assert_double_eq_tol(g[7].predicted,
                            (bg_expected_purchases(&p, 7, 20, 30, 39) +
                             bg_expected_purchases(&p, 9, 20, 30, 39)) /
                                2,
                            1e-12);
}
END_TEST

/* ---- AUC ---------------------------------------------------------------------- */

START_TEST(test_auc)
{
    const double s1[] = {0.1, 0.4, 0.35, 0.8};
    const int y1[] = {0, 0, 1, 1};
    /* Positives 1 and 3, negatives 1 and 2: pairs tie (1/2), lose, win,
     * win: 2.5 / 4. */
    const double s2[] = {1, 1, 2, 3};
    const int y2[] = {0, 1, 0, 1};
    const double same[] = {2, 2, 2, 2, 2};
    const int y3[] = {1, 0, 1, 0, 0};

    ck_assert_double_eq_tol(val_auc(s1, y1, 4), 0.75, 1e-12);
    ck_assert_double_eq_tol(val_auc(s2, y2, 4), 0.625, 1e-12);
    ck_assert_double_eq_tol(val_auc(same, y3, 5), 0.5, 1e-12);
    ck_assert(isnan(val_auc(s1, y3, 2)) == 0);
    ck_assert(isnan(val_auc(same, y1, 2))); /* only negatives */
    ck_assert(isnan(val_auc(s1, y1, 0)));
    /* Perfect and reversed rankings; a label is any non-zero int. */
    {
        const double s[] = {5, 1, 4, 2};
        const int y[] = {7, 0, 1, 0};
        const int r[] = {0, 1, 0, 1};

        ck_assert_double_eq(val_auc(s, y, 4), 1.0);
        ck_assert_double_eq(val_auc(s, r, 4), 0.0);
    }
}
END_TEST

/* ---- deciles ------------------------------------------------------------------- */

START_TEST(test_deciles)
{
    double pred[23];
    int label[23];
    struct val_bin b[VAL_DECILES];
    size_t total = 0;

    /* Input in descending order of pred = (i + 1) / 100 for i = 22..0; the
     * customers with an even i bought. */
    for (int k = 0; k < 23; k++) {
        int i = 22 - k;

        pred[k] = (i + 1) / 100.0;
        label[k] = i % 2 == 0;
    }
    ck_assert_int_eq(val_deciles(pred, label, 23, b), 0);
    /* 23 = 3 bins of 3, then 7 of 2, in ascending pred. */
    ck_assert_uint_eq(b[0].n, 3);
    ck_assert_uint_eq(b[2].n, 3);
    ck_assert_uint_eq(b[3].n, 2);
    ck_assert_uint_eq(b[9].n, 2);
    ck_assert_double_eq_tol(b[0].predicted, 0.02, 1e-12);   /* i = 0, 1, 2 */
    ck_assert_double_eq_tol(b[0].observed, 2 / 3.0, 1e-12); /* 0 and 2 */
    ck_assert_double_eq_tol(b[1].predicted, 0.05, 1e-12);   /* i = 3, 4, 5 */
    ck_assert_double_eq_tol(b[1].observed, 1 / 3.0, 1e-12);
    ck_assert_double_eq_tol(b[3].predicted, 0.105, 1e-12); /* i = 9, 10 */
    ck_assert_double_eq_tol(b[3].observed, 0.5, 1e-12);
    ck_assert_double_eq_tol(b[9].predicted, 0.225, 1e-12); /* i = 21, 22 */
    for (int k = 0; k < VAL_DECILES; k++) {
        total += b[k].n;
    }
    ck_assert_uint_eq(total, 23);
    /* A run of equal predictions across a cut stays whole in the bin where
     * it starts, in any input order: 0.1 x 3, 0.2 x 4, 0.3 x 3 over bins of
     * 1 (n = 10). */
    {
        const double tie[10] = {0.2, 0.1, 0.3, 0.2, 0.1, 0.3, 0.2, 0.1, 0.3, 0.2};
        const int y[10] = {1, 0, 1, 0, 0, 0, 1, 1, 1, 0};

        ck_assert_int_eq(val_deciles(tie, y, 10, b), 0);
        ck_assert_uint_eq(b[0].n, 3);
        ck_assert_double_eq_tol(b[0].observed, 1 / 3.0, 1e-12);
        ck_assert_uint_eq(b[1].n, 0);
        ck_assert_uint_eq(b[2].n, 0);
        ck_assert_uint_eq(b[3].n, 4);
        ck_assert_double_eq_tol(b[3].predicted, 0.2, 1e-12);
        ck_assert_double_eq_tol(b[3].observed, 0.5, 1e-12);
        ck_assert_uint_eq(b[6].n, 0);
        ck_assert_uint_eq(b[7].n, 3); /* the run starting at the 8th place */
        ck_assert_double_eq_tol(b[7].observed, 2 / 3.0, 1e-12);
        ck_assert_uint_eq(b[9].n, 0);
    }
    /* Fewer customers than bins: the last bins are empty, not NaN. */
    ck_assert_int_eq(val_deciles(pred, label, 3, b), 0);
    ck_assert_uint_eq(b[0].n, 1);
    ck_assert_uint_eq(b[5].n, 0);
    ck_assert_double_eq(b[5].predicted, 0);
}
END_TEST

/* ---- tracking and the report --------------------------------------------------- */

START_TEST(test_tracking)
{
    /* Two customers: first days 0 and 10, calibration end 20, holdout to 40. */
    const long d1[] = {0, 5, 18, 25}, d2[] = {10, 38, 41};
    long r1[3], r2[2];
    struct val_cust c[2];
    struct val_track t[16];
    struct bg_params p = pub();
    size_t n;

    ck_assert_int_eq(val_split(d1, NULL, 4, 20, 40, r1, &c[0]), 0);
    ck_assert_int_eq(val_split(d2, NULL, 3, 20, 40, r2, &c[1]), 0);
    /* Points 6, 13, 20 (the calibration end), 27, 34 and 40. */
    n = val_tracking(c, 2, &p, 20, 40, t, 2);
    ck_assert_uint_eq(n, 6);
    ck_assert_uint_eq(val_tracking(c, 2, &p, 20, 40, t, 16), 6);
    ck_assert_int_eq(t[0].day, 6);
    ck_assert_int_eq(t[2].day, 20);
    ck_assert_int_eq(t[5].day, 40);
    /* Actual: 5 | 18 | 25 | 38 (41 is after the holdout). */
    ck_assert_double_eq(t[0].actual, 1);
    ck_assert_double_eq(t[1].actual, 1);
    ck_assert_double_eq(t[2].actual, 2);
    ck_assert_double_eq(t[3].actual, 3);
    ck_assert_double_eq(t[4].actual, 3);
    ck_assert_double_eq(t[5].actual, 4);
    /* Expected: the sum of eq. (9) over each customer's time since its
     * first purchase. */
    ck_assert_double_eq_tol(t[0].expected, bg_expected_purchases_new(&p, 6 / 7.0), 1e-12);
    ck_assert_double_eq_tol(t[5].expected,
                            bg_expected_purchases_new(&p, 40 / 7.0) +
                                bg_expected_purchases_new(&p, 30 / 7.0),
                            1e-12);
    /* Calibration days not known: no actual before the calibration end. */
    c[1].cal_known = 0;
    c[1].days = r2 + 1;
    c[1].ndays = 0;
    ck_assert_uint_eq(val_tracking(c, 2, &p, 20, 40, t, 16), 6);
    ck_assert(isnan(t[0].actual) && isnan(t[1].actual));
    ck_assert_double_eq(t[2].actual, 2);
    ck_assert_double_eq(t[5].actual, 3);
}
END_TEST

START_TEST(test_spend_and_run)
{
    const long d[] = {0, 7, 14, 30};
    const double v[] = {10, 20, 40, 50};
    const long one[] = {3};
    long r0[3], r1[1];
    struct val_cust c[2];
    struct val_spend s;
    struct val_report rep;
    struct bg_params p = pub();
    struct gg_params g;

    gg_params_default(&g);
    ck_assert_int_eq(val_split(d, v, 4, 20, 48, r0, &c[0]), 0);
    ck_assert_int_eq(val_split(one, NULL, 1, 20, 48, r1, &c[1]), 0);
    val_spend(c, 2, &g, &s);
    ck_assert_uint_eq(s.n, 1); /* the other never repeats */
    ck_assert_double_eq_tol(s.predicted, gg_expected_value(&g, 2, 30), 1e-12);
    ck_assert_double_eq(s.actual, 50);
    ck_assert_double_eq_tol(s.mae, fabs(gg_expected_value(&g, 2, 30) - 50), 1e-12);

    ck_assert_int_eq(val_run(c, 2, &p, &g, 365, 20, 48, &rep), 0);
    ck_assert_uint_eq(rep.customers, 2);
    ck_assert_double_eq(rep.hold_weeks, 4);
    ck_assert_double_eq(rep.actual, 1);
    ck_assert_double_eq(rep.cal_actual, 2);
    ck_assert_uint_eq(rep.buyers, 1);
    ck_assert_double_eq_tol(rep.expected,
                            bg_expected_purchases(&p, 2, 2, 20 / 7.0, 4) +
                                bg_expected_purchases(&p, 0, 0, 17 / 7.0, 4),
                            1e-12);
    /* The tracking's holdout part is the unconditional expectation. */
    ck_assert_double_eq_tol(rep.track_hold,
                            bg_expected_purchases_new(&p, 48 / 7.0) -
                                bg_expected_purchases_new(&p, 20 / 7.0) +
                                bg_expected_purchases_new(&p, 45 / 7.0) -
                                bg_expected_purchases_new(&p, 17 / 7.0),
                            1e-12);
    ck_assert_double_eq(rep.auc_recency, 1.0); /* the buyer bought last */
    ck_assert_double_eq(rep.auc_palive, 0.0);  /* P(alive) = 1 for the other */
    /* The other's recency term 0.5^(17/365) = 0.968 is above the buyer's
     * P(alive) of 0.765. */
    ck_assert_double_eq(rep.auc_risk, 0.0);
    val_report_free(&rep);
    ck_assert_int_eq(val_run(c, 0, &p, &g, 365, 20, 48, &rep), -1);
}
END_TEST

START_TEST(test_p_eff)
{
    struct bg_params p = pub();
    struct bg_obs rep = {2, 10, 30, 0}, one = {0, 0, 365 / 7.0, 0};

    ck_assert_double_eq(val_p_eff(&p, &rep, 365), bg_palive(&p, 2, 10, 30));
    ck_assert_double_eq_tol(val_p_eff(&p, &one, 365), 0.5, 1e-12);
    ck_assert_double_eq_tol(val_p_eff(&p, &one, 730), sqrt(0.5), 1e-12);
    ck_assert_double_eq(val_p_eff(&p, &one, 0), 1.0);
}
END_TEST

/* ---- bg_prob_any_purchase ------------------------------------------------------ */

START_TEST(test_prob_any_purchase)
{
    struct bg_params p = pub();

    /* A new customer: one minus eq. (8) at k = 0. */
    for (double t = 1; t <= 100; t *= 3) {
        ck_assert_double_eq_tol(bg_prob_any_purchase(&p, 0, 0, 0, t),
                                1 - bg_prob_n_purchases(&p, t, 0), 1e-12);
    }
    /* At most P(alive), at most E[X(t)], and growing with t. */
    {
        const double cases[][3] = {
            {1, 30, 39}, {2, 30.43, 38.86}, {5, 10, 39}, {0, 0, 20}};

        for (int i = 0; i < N_OF(cases); i++) {
            double x = cases[i][0], tx = cases[i][1], T = cases[i][2];
            double p39 = bg_prob_any_purchase(&p, x, tx, T, 39);

            ck_assert(p39 <= bg_palive(&p, x, tx, T));
            ck_assert(p39 <= bg_expected_purchases(&p, x, tx, T, 39));
            ck_assert(p39 > bg_prob_any_purchase(&p, x, tx, T, 10));
        }
    }
    ck_assert_double_eq(bg_prob_any_purchase(&p, 2, 10, 20, 0), 0);
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_split_matches_loader);
    tcase_add_test(tc, test_from_state);
    tcase_add_test(tc, test_cond_table);
    tcase_add_test(tc, test_auc);
    tcase_add_test(tc, test_deciles);
    tcase_add_test(tc, test_tracking);
    tcase_add_test(tc, test_spend_and_run);
    tcase_add_test(tc, test_p_eff);
    tcase_add_test(tc, test_prob_any_purchase);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(validate_suite)
