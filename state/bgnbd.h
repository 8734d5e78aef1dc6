/*
 * bgnbd.h - the BG/NBD purchase/dropout model and the Gamma-Gamma spend model
 * (Fader, Hardie & Lee 2005; Fader, Hardie & Lee 2005b).  Pure maths, no I/O.
 *
 * Time is in whatever unit the caller chooses (the daemon uses weeks, like the
 * published CDNOW results); alpha scales with the unit, r, a, b do not.
 */
#ifndef LOYALTY_BGNBD_H
#define LOYALTY_BGNBD_H

#include <stddef.h>

/* One customer's sufficient statistics: x repeat purchases, the last at t_x,
 * observed for T since the first purchase (0 <= t_x <= T). */
struct bg_obs {
    double x, t_x, T;
    double mvalue; /* mean value of the repeat purchases, 0 if x == 0 */
};

struct bg_params {
    double r, alpha, a, b;
};

struct gg_params {
    double p, q, gamma;
};

struct bg_fit_result {
    struct bg_params params;
    double loglik;
    size_t n;
    int iterations;
    int converged;
};

struct gg_fit_result {
    struct gg_params params;
    double loglik;
    size_t n; /* customers with x > 0 and mvalue > 0 */
    int iterations;
    int converged;
};

/* Published CDNOW parameters (weeks), the default until a fit is stored. */
void bg_params_default(struct bg_params *p);
void gg_params_default(struct gg_params *p);

/* Log-likelihood of one customer; sum over customers is the fit's objective. */
double bg_loglik_one(const struct bg_params *p, const struct bg_obs *o);
double bg_loglik(const struct bg_params *p, const struct bg_obs *obs, size_t n);

/* P(alive | x, t_x, T).  1 when x == 0 (a property of BG/NBD). */
double bg_palive(const struct bg_params *p, double x, double t_x, double T);

/* E[X(t) | x, t_x, T]: expected purchases in the next t. */
double bg_expected_purchases(const struct bg_params *p, double x, double t_x,
                             double T, double t);

/* E[X(t)] for a new customer, and P(X(t) = k) (unconditional). */
double bg_expected_purchases_new(const struct bg_params *p, double t);
double bg_prob_n_purchases(const struct bg_params *p, double t, int k);

/* Smallest T' >= T at which P(alive | x, t_x, T') <= target, or -1 if never
 * (x == 0, or target >= current P(alive) handled by returning T). */
double bg_time_palive_reaches(const struct bg_params *p, double x, double t_x,
                              double T, double target);

/* Gamma-Gamma: E[M | x, mvalue]; for x == 0 the population mean. */
double gg_expected_value(const struct gg_params *p, double x, double mvalue);

/* Maximum-likelihood fits (log-parameterised Nelder-Mead, restarted until
 * stable).  Return 0 on success, -1 if there is nothing to fit. */
int bg_fit(const struct bg_obs *obs, size_t n, struct bg_fit_result *out);
int gg_fit(const struct bg_obs *obs, size_t n, struct gg_fit_result *out);

/* CLV over `horizon` (same time unit) with a per-period discount rate:
 * expected purchases x expected value (undiscounted when rate == 0). */
double bg_clv(const struct bg_params *bp, const struct gg_params *gp, double x,
              double t_x, double T, double mvalue, double horizon);

#endif
