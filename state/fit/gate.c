/*
 * gate.c - the refit gate's figures and decision (see gate.h).
 */
#include "state/fit/gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

double gate_rel_error(double expected, double actual)
{
    if (isnan(expected) || isnan(actual)) {
        return NAN;
    }
    if (actual == 0) {
        return expected == 0 ? 0.0 : INFINITY;
    }
    return fabs(expected - actual) / actual;
}

double gate_expected(const struct val_cust *c, size_t n, const struct bg_params *p,
                     double t_hold)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++) {
        const struct bg_obs *o = &c[i].cal;

        sum += bg_expected_purchases(p, o->x, o->t_x, o->T, t_hold);
    }
    return sum;
}

int gate_backtest(const struct val_cust *c, size_t n, const struct bg_params *p,
                  long cal_end, long hold_end, struct gate_figures *f)
{
    double t_hold = (double)(hold_end - cal_end) / 7.0;
    double *model = malloc((n ? n : 1) * sizeof(*model));
    double *recency = malloc((n ? n : 1) * sizeof(*recency));
    int *label = malloc((n ? n : 1) * sizeof(*label));
    int rc = -1;

    if (model == NULL || recency == NULL || label == NULL) {
        goto out;
    }
    f->actual = 0.0;
    for (size_t i = 0; i < n; i++) {
        const struct bg_obs *o = &c[i].cal;

        f->actual += c[i].hold_x;
        model[i] = bg_prob_any_purchase(p, o->x, o->t_x, o->T, t_hold);
        recency[i] = -(double)(cal_end - c[i].last_day);
        label[i] = c[i].hold_x > 0;
    }
    f->expected = gate_expected(c, n, p, t_hold);
    f->auc_model = val_auc(model, label, n);
    f->auc_recency = val_auc(recency, label, n);
    rc = 0;
out:
    free(label);
    free(recency);
    free(model);
    return rc;
}

void gate_judge(const struct gate_limits *lim, const struct gate_figures *f,
                struct gate_verdict *v)
{
    v->error = gate_rel_error(f->expected, f->actual);
    /* NaN fails: a model whose expectation is not a number is no model. */
    v->mark[GATE_LEVEL] = v->error <= lim->max_error ? GATE_PASSED : GATE_FAILED;
    if (isnan(f->auc_model) || isnan(f->auc_recency)) {
        v->mark[GATE_RANKING] = GATE_NOT_JUDGED; /* nobody, or everybody, bought */
    } else {
        v->mark[GATE_RANKING] =
            f->auc_model >= f->auc_recency - lim->margin ? GATE_PASSED : GATE_FAILED;
    }
    v->cand_error = v->stored_error = NAN;
    v->mark[GATE_STORED] = GATE_NOT_JUDGED;
    if (f->has_stored) {
        v->cand_error = gate_rel_error(f->cand_expected, f->actual);
        v->stored_error = gate_rel_error(f->stored_expected, f->actual);
        /* A saved model that predicts no number is beaten by any that does. */
        v->mark[GATE_STORED] =
            isnan(v->cand_error) || v->cand_error > v->stored_error + lim->margin
                ? GATE_FAILED
                : GATE_PASSED;
    }
    v->passed = 1;
    v->failed = GATE_LEVEL;
    for (int k = 0; k < GATE__CHECKS; k++) {
        if (v->mark[k] == GATE_FAILED) {
            v->passed = 0;
            v->failed = (enum gate_check)k;
            break;
        }
    }
}

const char *gate_check_name(enum gate_check k)
{
    static const char *const names[GATE__CHECKS] = {"level", "ranking", "stored"};

    return (unsigned)k < GATE__CHECKS ? names[k] : "?";
}

int gate_reason(const struct gate_limits *lim, const struct gate_figures *f,
                const struct gate_verdict *v, char *buf, size_t len)
{
    if (v->passed) {
        return snprintf(buf, len, "%s", "");
    }
    switch (v->failed) {
    case GATE_LEVEL:
        if (f->actual == 0) {
            return snprintf(buf, len,
                            "level: no repeat purchase in the holdout (%.1f expected), "
                            "nothing to judge the model on",
                            f->expected);
        }
        return snprintf(buf, len,
                        "level: the model fitted before the holdout expects %.1f repeat "
                        "purchases in it, %.0f happened: relative error %.3f, above "
                        "fit.gate_max_error %g",
                        f->expected, f->actual, v->error, lim->max_error);
    case GATE_RANKING:
        return snprintf(
            buf, len,
            "ranking: P(a purchase in the holdout) ranks who bought again "
            "with AUC %.3f, recency alone with %.3f: more than fit.gate_margin "
            "%g below the baseline",
            f->auc_model, f->auc_recency, lim->margin);
    default:
        return snprintf(
            buf, len,
            "stored: the new fit expects %.1f repeat purchases in the holdout, "
            "the saved model %.1f, %.0f happened: relative error %.3f against "
            "%.3f, more than fit.gate_margin %g worse",
            f->cand_expected, f->stored_expected, f->actual, v->cand_error,
            v->stored_error, lim->margin);
    }
}
