/*
 * gate.h - the refit gate (docs/validate.md, "The refit gate"): whether a fit
 * may replace the stored model, judged on the data's last days.  Pure, no I/O.
 *
 * `loyaltyctl fit --save` with fit.gate = validate splits the data it reads
 * at (last purchase day - fit.gate_holdout_days), fits the model on the
 * calibration period as `fit` fits it (the backtest), and sets its
 * predictions for the holdout against what happened (validate.h).  Three
 * checks, in this order:
 *
 *   level    the backtest's expected repeat purchases in the holdout are
 *            within max_error of the actual ones, relative to the actual;
 *   ranking  the AUC of the backtest's P(a purchase in the holdout) is at
 *            most margin below that of recency (the baseline of
 *            docs/validate.md); not judged when either AUC is undefined;
 *   stored   with a saved model: the fit to be saved, applied to the same
 *            split, misses the holdout's repeat purchases by at most margin
 *            (of relative error) more than the saved model does.
 *
 * The fit passes when no check fails.
 */
#ifndef LOYALTY_GATE_H
#define LOYALTY_GATE_H

#include <stddef.h>

#include "state/fit/validate.h"

enum gate_check { GATE_LEVEL, GATE_RANKING, GATE_STORED, GATE__CHECKS };

/* The outcome of one check. */
enum gate_mark { GATE_NOT_JUDGED = -1, GATE_FAILED = 0, GATE_PASSED = 1 };

struct gate_limits {
    double max_error; /* fit.gate_max_error: 0.2 is 20 % of the actual */
    double
        margin; /* fit.gate_margin: AUC below recency's, error above the saved model's */
};

/* What the checks read. */
struct gate_figures {
    double actual;                 /* repeat purchases in the holdout */
    double expected;               /* the backtest's expectation of them */
    double auc_model, auc_recency; /* P(a purchase in the holdout), recency */
    int has_stored;                /* a saved model to compare with */
    double cand_expected;          /* the fit to be saved, on the same split */
    double stored_expected;        /* the saved model, on the same split */
};

struct gate_verdict {
    int passed;                      /* no check failed */
    enum gate_check failed;          /* the first that did, when !passed */
    int mark[GATE__CHECKS];          /* enum gate_mark */
    double error;                    /* the backtest's |expected - actual| / actual */
    double cand_error, stored_error; /* the same of the two models (has_stored) */
};

/* |expected - actual| / actual; 0 when both are 0, infinity when only the
 * actual is; NaN when expected is. */
double gate_rel_error(double expected, double actual);

/* The backtest's figures from its cohort (validate.h) and fitted parameters
 * (weeks): actual and expected repeat purchases in (cal_end, hold_end] and
 * the two AUCs, as `loyaltyctl validate` computes them; has_stored and the
 * two other expectations are left alone.  0, or -1 when memory runs out. */
int gate_backtest(const struct val_cust *c, size_t n, const struct bg_params *p,
                  long cal_end, long hold_end, struct gate_figures *f);

/* The sum over the cohort of a model's E[X(t_hold) | x, t_x, T]. */
double gate_expected(const struct val_cust *c, size_t n, const struct bg_params *p,
                     double t_hold);

void gate_judge(const struct gate_limits *lim, const struct gate_figures *f,
                struct gate_verdict *v);

/* "level", "ranking", "stored". */
const char *gate_check_name(enum gate_check k);

/* One line, without a newline, saying why the first failed check failed, with
 * its figures and limit; "" when the fit passed.  The length it needed, as
 * snprintf. */
int gate_reason(const struct gate_limits *lim, const struct gate_figures *f,
                const struct gate_verdict *v, char *buf, size_t len);

#endif
