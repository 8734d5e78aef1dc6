/*
 * bgnbd.h - the BG/NBD purchase/dropout model and the Gamma-Gamma spend model
 * (Fader, Hardie & Lee 2005; Fader, Hardie & Lee 2005b): the predictions the
 * model makes with fitted parameters (the fits themselves: bgfit.h).  Pure
 * maths, no I/O.
 *
 * Time is in whatever unit the caller chooses (the daemon uses weeks, like the
 * published CDNOW results); alpha scales with the unit, r, a, b do not.
 */
#ifndef LOYALTY_BGNBD_H
#define LOYALTY_BGNBD_H

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

/* Published CDNOW parameters (weeks), the default until a fit is stored. */
void bg_params_default(struct bg_params *p);
void gg_params_default(struct gg_params *p);

/* P(alive | x, t_x, T).  1 when x == 0 (a property of BG/NBD). */
double bg_palive(const struct bg_params *p, double x, double t_x, double T);

/* E[X(t) | x, t_x, T]: expected purchases in the next t. */
double bg_expected_purchases(const struct bg_params *p, double x, double t_x, double T,
                             double t);

/* P(X(t) > 0 | x, t_x, T): at least one purchase in the next t.  A customer
 * alive at T cannot drop out before buying again (BG/NBD drops out only
 * right after a purchase), so none is P(dead) + P(alive) P(no Poisson event
 * in t), with lambda's posterior Gamma(r + x, alpha + T):
 *   P(alive) * (1 - ((alpha + T) / (alpha + T + t))^(r + x)). */
double bg_prob_any_purchase(const struct bg_params *p, double x, double t_x, double T,
                            double t);

/* E[X(t)] for a new customer, and P(X(t) = k) (unconditional). */
double bg_expected_purchases_new(const struct bg_params *p, double t);
double bg_prob_n_purchases(const struct bg_params *p, double t, int k);

/* Smallest T' >= T at which P(alive | x, t_x, T') <= target: T itself if
 * P(alive) is already at or below target, -1 if it never gets there (x == 0
 * keeps P(alive) at 1; target <= 0 is never reached).  Lets a sweeper compute
 * when a quiet customer crosses a threshold without polling. */
double bg_time_palive_reaches(const struct bg_params *p, double x, double t_x, double T,
                              double target);

/* Gamma-Gamma: E[M | x, mvalue] = (gamma + x mvalue) p / (p x + q - 1); for
 * x == 0 this is the population mean p gamma / (q - 1).  NaN where the mean
 * does not exist (p x + q <= 1). */
double gg_expected_value(const struct gg_params *p, double x, double mvalue);

/* Gauss hypergeometric 2F1(a, b; c; z) for real z < 1 (NaN otherwise, and for
 * c a non-positive integer).  Exposed for the tests. */
double bg_hyp2f1(double a, double b, double c, double z);

/* CLV over `horizon` (same time unit): E[X(horizon) | x, t_x, T] times
 * E[M | x, mvalue], undiscounted. */
double bg_clv(const struct bg_params *bp, const struct gg_params *gp, double x,
              double t_x, double T, double mvalue, double horizon);

#endif
