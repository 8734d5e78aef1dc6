/*
 * minor.c - amounts as exact integers of minor units (see minor.h).
 */
#include "base/minor.h"

#include <stdlib.h>

#include "base/currency.h"
#include "base/fx.h"
#include "base/numfmt.h"

/* The largest amount taken (limits.max_amount's own bound): its shortest
 * decimal has at most 17 significant digits, which fit 64 bits. */
#define MINOR_DOUBLE_MAX 1e15

int minor_from_double(double d, int exp, int64_t *out, const char **why)
{
    char buf[40];
    const char *s;
    uint64_t digits = 0;
    int decimals = 0, point = 0, e10 = 0;

    if (!(d >= 0 && d <= MINOR_DOUBLE_MAX) || exp < 0 || exp > CURRENCY_EXPONENT_MAX) {
        *why = "out of range";
        return -1;
    }
    /* "12.34", "0.001", "1e-05": digits, perhaps a point, perhaps an exponent */
    numfmt_double(buf, sizeof(buf), d);
    for (s = buf; *s && *s != 'e'; s++) {
        if (*s == '.') {
            point = 1;
        } else {
            digits = digits * 10 + (uint64_t)(*s - '0'); /* <= 17 digits */
            decimals += point;
        }
    }
    if (*s == 'e') {
        e10 = atoi(s + 1);
    }
    decimals -= e10; /* digits * 10^-decimals is d's shortest decimal */
    if (decimals > exp) {
        *why = "more decimal places than the currency has";
        return -1;
    }
    for (int i = decimals; i < exp; i++) {
        if (digits > INT64_MAX / 10) { /* 1e15 of a currency of 4 decimals */
            *why = "out of range";
            return -1;
        }
        digits *= 10;
    }
    if (digits > INT64_MAX) {
        *why = "out of range";
        return -1;
    }
    *out = (int64_t)digits;
    return 0;
}

int minor_rescale(int64_t amount, int from_exp, int to_exp, int64_t *out)
{
    static const struct fx_ratio one = {1, 1, 0};

    return fx_convert(amount, from_exp, &one, to_exp, out) == FX_OK ? 0 : -1;
}
