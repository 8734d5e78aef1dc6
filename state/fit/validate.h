/*
 * validate.h - the churn model checked on a holdout period (docs/validate.md):
 * each customer's purchase days split at a calibration end, the model's
 * predictions for the holdout set against what happened.  Pure, no I/O.
 *
 * Days are epoch days; model time is in weeks (the daemon's unit).  Only the
 * calibration cohort counts: customers whose first purchase is on or before
 * the calibration end.  A repeat purchase is a distinct purchase day after
 * the first, as in the fit; the holdout's are those in (cal_end, hold_end].
 */
#ifndef LOYALTY_VALIDATE_H
#define LOYALTY_VALIDATE_H

#include <stddef.h>

#include "state/model/model.h"

#define VAL_GROUPS  8  /* calibration repeat purchases 0, 1, ..., 6, 7+ */
#define VAL_DECILES 10 /* of predicted P(a purchase in the holdout) */

/* One customer of the calibration cohort. */
struct val_cust {
    struct bg_obs cal;        /* x, t_x, T (weeks), mvalue at the calibration end */
    long first_day, last_day; /* first purchase, last one up to the calibration end */
    unsigned hold_x;          /* purchase days in (cal_end, hold_end] */
    double hold_value;        /* their spend */
    /* Repeat purchase days up to hold_end, ascending: all of them when
     * cal_known, else only the holdout's (the calibration's are counted in
     * cal.x but their days are not known). */
    const long *days;
    size_t ndays;
    int cal_known;
};

/* Splits one customer's distinct purchase days day[0..n) (ascending) with
 * each day's spend value[] (NULL: none known) at cal_end.  `repeat` receives
 * the repeat days up to hold_end (room for n - 1) and out->days points at it.
 * 0, or 1 if the customer is not in the cohort (n == 0 or first > cal_end). */
int val_split(const long *day, const double *value, size_t n, long cal_end, long hold_end,
              long *repeat, struct val_cust *out);

/* The same from a customer's stored state (aggregates and day buckets of the
 * last CU_WINDOW_DAYS days before its as_of).  `buf` needs CU_DAYS_MAX + 3 longs.
 * 0, 1 if not in the cohort, -1 if the state cannot say: the holdout
 * starts before the customer's bucket window, or the last calibration
 * purchase may be one of the days that left the window. */
int val_from_state(const struct customer *c, long cal_end, long hold_end, long *buf,
                   struct val_cust *out);

/* Mean actual and predicted holdout purchases of one group. */
struct val_group {
    size_t n;
    double actual, predicted;
};

/* Groups by calibration repeat purchases (0..6, 7+): actual mean holdout
 * purchases and the mean of E[X(t_hold) | x, t_x, T].  Empty groups are 0. */
void val_cond_table(const struct val_cust *c, size_t n, const struct bg_params *p,
                    double t_hold, struct val_group g[VAL_GROUPS]);

/* Area under the ROC curve of score for label != 0 (Mann-Whitney, a tie
 * counting one half); NaN when either class is empty or memory runs out. */
double val_auc(const double *score, const int *label, size_t n);

/* One decile: its customers, mean predicted probability, observed rate. */
struct val_bin {
    size_t n;
    double predicted, observed;
};

/* Customers in order of pred cut into 10 bins of n/10 (the first n % 10
 * one larger), except that a run of equal predictions is never cut: it
 * stays in the lower bin, which grows (a later bin may then be empty), so
 * the bins do not depend on the customers' order.  0, -1 when memory runs
 * out. */
int val_deciles(const double *pred, const int *label, size_t n,
                struct val_bin bins[VAL_DECILES]);

/* One point of the tracking plot: cumulative repeat purchases up to and
 * including `day`, expected (the sum over customers of E[X(day - first)],
 * unconditional, eq. 9) and actual (NaN where some customer's calibration
 * days are not known). */
struct val_track {
    long day;
    double expected, actual;
};

/* Points every 7 days on both sides of cal_end (which is one), from the
 * first week after the earliest first purchase to hold_end (the last point,
 * whether or not a whole week).  Returns the count written (at most max),
 * or the count needed if larger than max. */
size_t val_tracking(const struct val_cust *c, size_t n, const struct bg_params *p,
                    long cal_end, long hold_end, struct val_track *out, size_t max);

/* Gamma-Gamma against the customers buying in both periods (x > 0 with a
 * spend, and a holdout purchase): means of E[M | x, mvalue] and of the
 * actual holdout spend per purchase day, and the mean absolute error. */
struct val_spend {
    size_t n;
    double predicted, actual, mae;
};

void val_spend(const struct val_cust *c, size_t n, const struct gg_params *p,
               struct val_spend *out);

/* Everything `loyaltyctl validate` reports. */
struct val_report {
    size_t customers;
    double hold_weeks;
    double cal_actual;  /* repeat purchases in the calibration period */
    double actual;      /* repeat purchases in the holdout */
    double expected;    /* sum of the conditional expectations */
    double track_cal;   /* tracking: expected cumulative at cal_end */
    double track_hold;  /* tracking: expected in (cal_end, hold_end] */
    size_t buyers;      /* customers with a holdout purchase */
    double auc_palive;  /* P(alive) at the calibration end */
    double auc_risk;    /* 1 - churn_risk without signals (val_p_eff) */
    double auc_active;  /* P(a purchase in the holdout) */
    double auc_recency; /* minus the days since the last purchase */
    struct val_group groups[VAL_GROUPS];
    struct val_bin deciles[VAL_DECILES];
    struct val_spend spend;
    struct val_track *track; /* malloc'd */
    size_t ntrack;
};

/* The daemon's churn_risk is 1 - p * (signal factors), with p P(alive) for a
 * repeat buyer and, for a one-time buyer (P(alive) = 1 always), the recency
 * term 0.5^(T_days / onetime_half_life_days) (0: none); docs/model.md,
 * "Churn model and risk".  This is p: the risk of a customer without
 * signals, which is all a purchase history can tell. */
double val_p_eff(const struct bg_params *p, const struct bg_obs *o,
                 double onetime_half_life_days);

/* 0, or -1 when n == 0 or memory runs out. */
int val_run(const struct val_cust *c, size_t n, const struct bg_params *bp,
            const struct gg_params *gp, double onetime_half_life_days, long cal_end,
            long hold_end, struct val_report *r);
void val_report_free(struct val_report *r);

#endif
