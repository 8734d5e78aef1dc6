/*
 * numfmt.c - doubles as the state and the payloads carry them (numfmt.h).
 */
#include "base/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/decimal.h"

/* ---- the shortest text that reads back ---------------------------------- */

/* The fast path of numfmt_double: the values whose %.15g form reads back,
 * in the range where %.15g prints in fixed notation (1e-4 <= |v| < 1e15),
 * and zero.  Returns 1 if it wrote buf (then exactly what %.15g would have),
 * 0 if the caller has to use snprintf.
 *
 * With p = 14 - floor(log10|v|), s = |v| * 10^p is in [1e14, 1e15) and
 * k = round(s) is the 15-digit candidate.  k < 2^53 and 10^p (p <= 18) are
 * exact doubles, so k / 10^p is the correctly rounded value of the decimal
 * k * 10^-p, which is what strtod makes of it: the test below holds exactly
 * when that decimal reads back as v.  A decimal of at most 15 significant
 * digits that reads back as v is what %.15g prints for v (DBL_DIG is 15),
 * and in this range %.15g uses fixed notation without trailing zeros.  If
 * %.15g of v reads back, this finds it: then v is within half an ulp of the
 * decimal, so s is within 0.2 of the integer k. */
int numfmt_double_fast(char *buf, size_t len, double v)
{
    double a = fabs(v), s;
    uint64_t k;
    int p, n;
    char dig[24], *end = dig + sizeof(dig), *d, *o = buf;

    if (len < 24) {
        return 0;
    }
    if (v == 0) {
        strcpy(buf, signbit(v) ? "-0" : "0"); /* as %.15g prints them */
        return 1;
    }
    if (!(a >= 1e-4 && a < 1e15)) { /* NaN and inf too */
        return 0;
    }
    p = 14 - decimal_log10_estimate(a); /* a is normal here */
    if (p < 0 || p > 19) {
        return 0;
    }
    s = a * decimal_pow10[p];
    if (s >= 1e15) {
        p--;
        s = a * decimal_pow10[p];
    }
    if (!(s < 1e15) || p > 18) {
        return 0;
    }
    k = (uint64_t)(s + 0.5);
    if ((double)k / decimal_pow10[p] != a) {
        return 0;
    }
    /* k * 10^-p in fixed notation, without the fraction's trailing zeros */
    d = decimal_before(end, k);
    while (p > 0 && end[-1] == '0') {
        end--;
        p--;
    }
    n = (int)(end - d);
    if (v < 0) {
        *o++ = '-';
    }
    if (n <= p) {
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t)(p - n));
        o += p - n;
        memcpy(o, d, (size_t)n);
        o += n;
    } else {
        memcpy(o, d, (size_t)(n - p));
        o += n - p;
        if (p > 0) {
            *o++ = '.';
            memcpy(o, d + n - p, (size_t)p);
            o += p;
        }
    }
    *o = '\0';
    return 1;
}

/* The shortest of %.15g, %.16g and %.17g that reads back as exactly v (a
 * double with at most 15 significant digits prints with those digits, in
 * fixed notation where %g allows it: "10", not "1e+01"). */
void numfmt_double(char *buf, size_t len, double v)
{
    if (numfmt_double_fast(buf, len, v)) {
        return;
    }
    for (int prec = 15; prec < 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
    snprintf(buf, len, "%.17g", v);
}

/* ---- 6 significant digits ---------------------------------------------- */

/* Within this much of a half (in units of the 6th digit) the rounding is
 * left to printf.  Only s exactly at a tie has to be: k + 1/2 is a double
 * here and rounding is monotonic, so scaling by 10^n (which rounds by at most
 * 2^-34) can bring a value onto a tie but not across one, and %.6g rounds
 * an exact tie to even.  The margin is wider as a precaution; it sends about
 * 2 values in a million to printf. */
#define Q6_TIE_MARGIN 1e-6

static double scale10(double a, int n)
{
    return n >= 0 ? a * decimal_pow10[n] : a / decimal_pow10[-n];
}

/* numfmt_q6 without printf where it is simple to be exact: 1e-15 <= |v| < 1e20
 * and |v| not near a tie at the 7th digit, and zero.
 *
 * s = |v| * 10^n with n = 5 - floor(log10|v|) is in [1e5, 1e6), and
 * k = round(s) is what %.6g prints as 6 digits: 10^|n| (|n| <= 22) is exact,
 * so s is the exact scaled value rounded once (by at most 2^-34), and away
 * from a tie both round to the same integer.  k = 10^6 when the digits round
 * up to the next power of ten, where %.6g prints 1.00000e(e+1), the same
 * number.  k and 10^|n| are exact doubles, so k / 10^n (or k * 10^-n) is the
 * correctly rounded value of that decimal, which is what strtod returns. */
int numfmt_q6_fast(double v, double *out)
{
    double a = fabs(v), s, res;
    int64_t k;
    int n;

    if (v == 0) {
        *out = v; /* %.6g prints "0" or "-0" */
        return 1;
    }
    if (!(a >= 1e-15 && a < 1e20)) { /* NaN and inf too */
        return 0;
    }
    n = 5 - decimal_log10_estimate(a); /* a is normal here */
    if (n > 22 || n < -21) {
        return 0;
    }
    s = scale10(a, n);
    if (s >= 1e6) {
        n--;
        s = scale10(a, n);
    }
    /* s >= 1e5 also when the exact value is just below 1e5 and s was rounded
     * up to it: that value's 6 digits (999999.99... at the next n) round up
     * to 1e6, the same number as k = 1e5 here. */
    if (!(s >= 1e5 && s < 1e6)) {
        return 0;
    }
    k = (int64_t)(s + 0.5);
    if (fabs(s - (double)k) > 0.5 - Q6_TIE_MARGIN) {
        return 0;
    }
    res = n >= 0 ? (double)k / decimal_pow10[n] : (double)k * decimal_pow10[-n];
    *out = v < 0 ? -res : res;
    return 1;
}

double numfmt_q6(double v)
{
    char buf[32];
    double r;

    if (numfmt_q6_fast(v, &r)) {
        return r;
    }
    if (!isfinite(v)) {
        return 0;
    }
    snprintf(buf, sizeof(buf), "%.6g", v);
    return strtod(buf, NULL);
}
