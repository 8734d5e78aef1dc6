/*
 * bgnbd.c - BG/NBD and Gamma-Gamma: predictions (the fits: bgfit.c).
 *
 * Equation numbers refer to Fader, Hardie & Lee (2005), "Counting Your
 * Customers the Easy Way", Marketing Science 24(2).  Pure maths, no I/O, no
 * global state: every function is safe to call from any thread.
 */
#include "state/model/bgnbd.h"

#include <float.h>
#include <math.h>

/* ---- Gauss hypergeometric function ------------------------------------- */

#define HYP_MAX_TERMS  20000000L
#define HYP_DIRECT_MAX 0.5 /* above this, the 1 - z transformation is faster */
#define HYP_S_FAST     10.0

/* The plain series.  Converges for |z| < 1, slowly near 1: callers keep z
 * small unless no transformation applies. */
static double hyp_series(double a, double b, double c, double z)
{
    double term = 1.0, sum = 1.0;
    double tail = 1.0 - fabs(z); /* bounds the rest by term / tail */

    for (long n = 0; n < HYP_MAX_TERMS; n++) {
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z;
        sum += term;
        if (term == 0.0) {
            break;
        }
        if (n + 1 > fabs(a) + fabs(b) && fabs(term) <= DBL_EPSILON * tail * fabs(sum)) {
            break;
        }
    }
    return sum;
}

static int is_nonpos_int(double v)
{
    return v <= 0.0 && v == floor(v);
}

/* Gamma(p) Gamma(q) / (Gamma(u) Gamma(v)); a pole in the denominator gives 0.
 * lgamma only returns |Gamma|, so the signs are tracked here. */
static double gamma_ratio(double p, double q, double u, double v)
{
    double sign = 1.0;
    const double args[4] = {p, q, u, v};

    if (is_nonpos_int(u) || is_nonpos_int(v)) {
        return 0.0;
    }
    for (int i = 0; i < 4; i++) {
        if (args[i] < 0.0 && fmod(floor(args[i]), 2.0) != 0.0) {
            sign = -sign;
        }
    }
    return sign * exp(lgamma(p) + lgamma(q) - lgamma(u) - lgamma(v));
}

/* 0 <= z < 1.  Large z: when c - a - b >= HYP_S_FAST the terms fall like
 * n^(a+b-c-1) and the series is quick; when it is <= -HYP_S_FAST, Euler's
 * transformation (1 - z)^(c-a-b) 2F1(c-a, c-b; c; z) makes it so.  Between,
 * Abramowitz & Stegun 15.3.6 in 1 - z, except near an integer c - a - b,
 * where its Gamma functions have poles and the series (slow near z = 1 but
 * exact) is used instead. */
static double hyp_unit(double a, double b, double c, double z)
{
    double s = c - a - b, w = 1.0 - z;

    if (z <= HYP_DIRECT_MAX || s >= HYP_S_FAST || fabs(s - nearbyint(s)) < 1e-6) {
        return hyp_series(a, b, c, z);
    }
    if (s <= -HYP_S_FAST) {
        return pow(w, s) * hyp_series(c - a, c - b, c, z);
    }
    return gamma_ratio(c, s, c - a, c - b) * hyp_series(a, b, 1.0 - s, w) +
           pow(w, s) * gamma_ratio(c, -s, a, b) * hyp_series(c - a, c - b, 1.0 + s, w);
}

double bg_hyp2f1(double a, double b, double c, double z)
{
    if (!(z < 1.0) || !isfinite(z) || is_nonpos_int(c)) {
        return NAN;
    }
    if (z == 0.0) {
        return 1.0;
    }
    if (z > 0.0) {
        return hyp_unit(a, b, c, z);
    }
    /* Pfaff: maps z < 0 onto (0, 1). */
    return pow(1.0 - z, -a) * hyp_unit(a, c - b, c, z / (z - 1.0));
}

/* ---- BG/NBD -------------------------------------------------------------- */

void bg_params_default(struct bg_params *p)
{
    p->r = 0.242593;
    p->alpha = 4.413532;
    p->a = 0.792886;
    p->b = 2.425754;
}

void gg_params_default(struct gg_params *p)
{
    p->p = 6.248803;
    p->q = 3.744588;
    p->gamma = 15.447747;
}

/* ln of the odds that the customer dropped out after the last purchase. */
static double bg_log_dropodds(const struct bg_params *p, double x, double t_x, double T)
{
    return log(p->a) - log(p->b + x - 1.0) +
           (p->r + x) * (log(p->alpha + T) - log(p->alpha + t_x));
}

double bg_palive(const struct bg_params *p, double x, double t_x, double T)
{
    if (x <= 0) {
        return 1.0;
    }
    return 1.0 / (1.0 + exp(bg_log_dropodds(p, x, t_x, T)));
}

double bg_time_palive_reaches(const struct bg_params *p, double x, double t_x, double T,
                              double target)
{
    double odds;

    if (bg_palive(p, x, t_x, T) <= target) {
        return T;
    }
    if (x <= 0 || !(target > 0.0)) {
        return -1.0;
    }
    /* P(alive) = target  <=>  ((alpha + T') / (alpha + t_x))^(r + x)
     *                          = (1 / target - 1) (b + x - 1) / a */
    odds = (1.0 / target - 1.0) * (p->b + x - 1.0) / p->a;
    return fmax(T, (p->alpha + t_x) * exp(log(odds) / (p->r + x)) - p->alpha);
}

/*
 * Eq. (10) without the P(alive) factor:
 *   (a + b + x - 1) / (a - 1) * [1 - (1 - z)^(r + x) 2F1(r + x, b + x; c; z)]
 * with c = a + b + x - 1 and z = t / (alpha + T + t).  Euler's transformation
 * turns the 2F1 into (1 - z)^(a - r - x - 1) 2F1(a + b - 1 - r, a - 1; c; z),
 * whose numerator parameters do not grow with x, so nothing overflows for
 * heavy buyers, and the bracket becomes -expm1(...), exact as a -> 1.
 */
static double bg_expected_raw(const struct bg_params *p, double x, double T, double t)
{
    double a = p->a, z, f, c = p->a + p->b + x - 1.0, lf;

    if (!(t > 0.0)) {
        return 0.0;
    }
    /* a = 1 is a removable singularity: step off it by far less than any
     * fitted precision. */
    if (fabs(a - 1.0) < 1e-9) {
        a = a < 1.0 ? 1.0 - 1e-9 : 1.0 + 1e-9;
    }
    z = t / (p->alpha + T + t);
    f = bg_hyp2f1(a + p->b - 1.0 - p->r, a - 1.0, c, z);
    lf = (a - 1.0) * log1p(-z) + log(f);
    return c / (a - 1.0) * -expm1(lf);
}

double bg_expected_purchases(const struct bg_params *p, double x, double t_x, double T,
                             double t)
{
    return bg_expected_raw(p, x, T, t) * bg_palive(p, x, t_x, T);
}

double bg_prob_any_purchase(const struct bg_params *p, double x, double t_x, double T,
                            double t)
{
    if (!(t > 0.0)) {
        return 0.0;
    }
    return bg_palive(p, x, t_x, T) *
           -expm1((p->r + x) * (log(p->alpha + T) - log(p->alpha + T + t)));
}

/* Eq. (9): a new customer is one with x = 0 observed for T = 0. */
double bg_expected_purchases_new(const struct bg_params *p, double t)
{
    return bg_expected_raw(p, 0.0, 0.0, t);
}

static double lbeta(double u, double v)
{
    return lgamma(u) + lgamma(v) - lgamma(u + v);
}

/* P(N >= k) for N ~ NBD(r, alpha) over t: 1 minus the first k terms. */
static double nbd_tail(const struct bg_params *p, double t, int k)
{
    double lp0 = p->r * log(p->alpha / (p->alpha + t));
    double lq = log(t / (p->alpha + t)), cdf = 0.0;

    for (int j = 0; j < k; j++) {
        cdf += exp(lp0 + lgamma(p->r + j) - lgamma(p->r) - lgamma(j + 1.0) + j * lq);
    }
    return fmax(0.0, 1.0 - cdf);
}

/* Eq. (8). */
double bg_prob_n_purchases(const struct bg_params *p, double t, int k)
{
    double lb = lbeta(p->a, p->b), head;

    if (k < 0) {
        return 0.0;
    }
    if (!(t > 0.0)) {
        return k == 0 ? 1.0 : 0.0;
    }
    head = exp(lbeta(p->a, p->b + k) - lb + lgamma(p->r + k) - lgamma(p->r) -
               lgamma(k + 1.0) + p->r * log(p->alpha / (p->alpha + t)) +
               k * log(t / (p->alpha + t)));
    if (k == 0) {
        return head;
    }
    return head + exp(lbeta(p->a + 1.0, p->b + k - 1.0) - lb) * nbd_tail(p, t, k);
}

/* ---- Gamma-Gamma -------------------------------------------------------- */

double gg_expected_value(const struct gg_params *p, double x, double mvalue)
{
    double den = p->p * x + p->q - 1.0;

    if (!(den > 0.0)) {
        return NAN;
    }
    return (p->gamma + mvalue * x) * p->p / den;
}

double bg_clv(const struct bg_params *bp, const struct gg_params *gp, double x,
              double t_x, double T, double mvalue, double horizon)
{
    return bg_expected_purchases(bp, x, t_x, T, horizon) *
           gg_expected_value(gp, x, mvalue);
}
