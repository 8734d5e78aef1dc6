/*
 * minor.c - amounts as exact integers of minor units (see minor.h).
 */
#include "base/minor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/currency.h"
#include "base/fx.h"
#include "base/numfmt.h"

/* The largest amount taken (limits.max_amount's own bound): its shortest
 * decimal has at most 17 significant digits, which fit 64 bits. */
#define MINOR_DOUBLE_MAX 1e15

/* The smallest place of a first digit written out: 1e-20 is "0." and 20
 * digits, with at most 17 significant ones after them. */
#define MINOR_POINT_MIN (-20)

int minor_decimal(double d, char *buf, size_t len)
{
    char tmp[40], digits[24];
    size_t nd = 0, at = 0;
    int point = -1, e10 = 0;

    if (!(d >= 0 && d <= MINOR_DOUBLE_MAX) || len < MINOR_DECIMAL_MAX) {
        return -1;
    }
    /* "12.34", "0.001", or "1.5e-05": at most 17 significant digits */
    numfmt_double(tmp, sizeof(tmp), d);
    if (strchr(tmp, 'e') == NULL) {
        snprintf(buf, len, "%s", tmp);
        return 0;
    }
    for (const char *s = tmp; *s && *s != 'e'; s++) {
        if (*s == '.') {
            point = (int)nd;
        } else if (nd < sizeof(digits)) {
            digits[nd++] = *s;
        }
    }
    e10 = atoi(strchr(tmp, 'e') + 1);
    point = (point < 0 ? (int)nd : point) + e10; /* digits before the point */
    if (point < MINOR_POINT_MIN) {
        return -1;
    }
    if (point <= 0) { /* 0.000ddd */
        buf[at++] = '0';
        buf[at++] = '.';
        for (int i = point; i < 0; i++) {
            buf[at++] = '0';
        }
        point = 0;
    }
    for (size_t i = 0; i < nd || (int)i < point; i++) {
        if ((int)i == point && i > 0 && i < nd) {
            buf[at++] = '.';
        }
        buf[at++] = i < nd ? digits[i] : '0';
    }
    buf[at] = '\0';
    return 0;
}

int minor_from_double(double d, int exp, int64_t *out, const char **why)
{
    char buf[MINOR_DECIMAL_MAX];
    uint64_t digits = 0;
    int decimals = 0, point = 0;

    if (exp < 0 || exp > CURRENCY_EXPONENT_MAX) {
        *why = "out of range";
        return -1;
    }
    if (d > 0 && d < 1e-4) { /* below any minor unit: more places than exp */
        *why = "more decimal places than the currency has";
        return -1;
    }
    if (minor_decimal(d, buf, sizeof(buf)) < 0) {
        *why = "out of range";
        return -1;
    }
    for (const char *s = buf; *s; s++) {
        if (*s == '.') {
            point = 1;
        } else {
            digits = digits * 10 + (uint64_t)(*s - '0'); /* <= 17 significant */
            decimals += point;
        }
    }
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

double minor_value(int64_t amount, int exp)
{
    return (double)amount / pow(10, exp);
}

int minor_rescale(int64_t amount, int from_exp, int to_exp, int64_t *out)
{
    static const struct fx_ratio one = {1, 1, 0};

    return fx_convert(amount, from_exp, &one, to_exp, out) == FX_OK ? 0 : -1;
}
