/*
 * bgfit.h - the BG/NBD and Gamma-Gamma parameters of a population, fitted by
 * maximum likelihood (bgnbd.h has the models).  Pure maths, no I/O; run
 * offline by loyaltyctl and the tests, never by the daemon.
 *
 * Time is in whatever unit the observations are in; alpha comes out in it.
 */
#ifndef LOYALTY_BGFIT_H
#define LOYALTY_BGFIT_H

#include <stddef.h>

#include "state/model/model.h"

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

/* Log-likelihood of one customer; sum over customers is the fit's objective. */
double bg_loglik_one(const struct bg_params *p, const struct bg_obs *o);
double bg_loglik(const struct bg_params *p, const struct bg_obs *obs, size_t n);

/* Gamma-Gamma log-likelihood of one repeater's mean spend given x; the sum
 * skips customers without x > 0 and mvalue > 0, as the fit does. */
double gg_loglik_one(const struct gg_params *p, const struct bg_obs *o);
double gg_loglik(const struct gg_params *p, const struct bg_obs *obs, size_t n);

/* Maximum-likelihood fits (log-parameterised Nelder-Mead, restarted until
 * stable).  Return 0 on success, -1 if there is nothing to fit (n == 0, no
 * repeater for gg_fit), an observation is invalid (negative or non-finite,
 * t_x > T), memory runs out or the optimum is not finite.  `converged` is 0
 * when the restarts did not settle or the gradient at the answer is not ~0:
 * data without a finite optimum (nobody repeats, nobody drops out) drive
 * the parameters to the boundary; such a fit must not be stored. */
int bg_fit(const struct bg_obs *obs, size_t n, struct bg_fit_result *out);
int gg_fit(const struct bg_obs *obs, size_t n, struct gg_fit_result *out);

#endif
