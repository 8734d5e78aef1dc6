/*
 * minor.h - amounts as exact integers of a currency's minor unit (cents of
 * EUR, yen of JPY, fils of KWD: base/currency.h gives the exponent).
 *
 * The input carries amounts as JSON numbers, which the parser reads as
 * doubles.  A double is not the decimal the producer wrote (12.345 is
 * 12.3450000000000006...), but the shortest decimal that reads back as the
 * same double is, for any amount written with at most 15 significant digits:
 * that is the amount taken here, so "12.34" EUR is exactly 1234 cents and
 * "12.345" EUR is refused instead of rounded one way or the other.
 *
 * Pure; safe from any thread.
 */
#ifndef LOYALTY_MINOR_H
#define LOYALTY_MINOR_H

#include <stddef.h>
#include <stdint.h>

/* The exponent the model keeps money in: hundredths of a unit ("cents"),
 * whatever the currency (state/model/customer.h). */
#define MINOR_MODEL_EXPONENT 2

/* Room for minor_decimal's text of any double it takes, with its NUL. */
#define MINOR_DECIMAL_MAX 48

/* The shortest decimal that reads back as d (finite, >= 0, at most 1e15),
 * in plain notation ("0.00001", not "1e-05"), into buf of at least
 * MINOR_DECIMAL_MAX bytes: 0, or -1 for a d out of that range. */
int minor_decimal(double d, char *buf, size_t len);

/* The amount d (finite, >= 0, at most 1e15) in minor units of a currency of
 * exponent exp (0..CURRENCY_EXPONENT_MAX): 0 with *out, or -1 with *why
 * ("more decimal places than the currency has", or "out of range"). */
int minor_from_double(double d, int exp, int64_t *out, const char **why);

/* amount minor units of exponent exp (0..CURRENCY_EXPONENT_MAX) in units,
 * as a double (for output: 4250 at 2 is 42.5). */
double minor_value(int64_t amount, int exp);

/* amount minor units at exponent from_exp (0..CURRENCY_EXPONENT_MAX) at
 * exponent to_exp: exact when to_exp >= from_exp, else rounded half away
 * from zero (base/fx.h); 0, or -1 when the result leaves the int64 range. */
int minor_rescale(int64_t amount, int from_exp, int to_exp, int64_t *out);

#endif
