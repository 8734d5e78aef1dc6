/*
 * fit.h - the printed forms of a model fit, for loyaltyctl and the tests.
 *
 * Text, one line per model:
 *   bgnbd r=0.242593 alpha=4.413532 a=0.792886 b=2.425754 loglik=-9582.4256 n=2357
 *   gammagamma p=6.248803 q=3.744588 gamma=15.447747 n=946
 * JSON, one object:
 *   {"bgnbd":{"r":..,"alpha":..,"a":..,"b":..,"loglik":..,"n":..},
 *    "gammagamma":{"p":..,"q":..,"gamma":..,"loglik":..,"n":..},"unit":"weeks"}
 * Parameters with 6 decimals, log-likelihoods with 4; a non-finite number is
 * "nan"/"inf" in text and null in JSON.  Either fit may be NULL to leave its
 * part out.
 */
#ifndef LOYALTY_FIT_H
#define LOYALTY_FIT_H

#include <stddef.h>

#include "state/fit/bgfit.h"

/* Both return the length written (without the NUL), or -1 if it did not fit
 * in len bytes (buf then holds a truncated, NUL-terminated prefix). */
int fit_format_text(char *buf, size_t len, const struct bg_fit_result *bg,
                    const struct gg_fit_result *gg);
int fit_format_json(char *buf, size_t len, const struct bg_fit_result *bg,
                    const struct gg_fit_result *gg, const char *unit);

#endif
