/*
 * decimal.h - integers in decimal, without printf (the commit path formats
 * tens of them per customer).
 */
#ifndef LOYALTY_DECIMAL_H
#define LOYALTY_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Room for any int64_t in decimal, with its sign and a NUL. */
#define DECIMAL_MAX 21

/* The digits of u written so that they end just before end; returns where
 * they start.  No NUL. */
char *decimal_before(char *end, uint64_t u);

/* v in decimal into buf (at least DECIMAL_MAX bytes), NUL-terminated;
 * returns the length. */
size_t decimal_i64(char *buf, int64_t v);

/* 10^0 .. 10^22: every one is exactly a double. */
extern const double decimal_pow10[23];

/* floor(log10(a)) or one less, for 2^-60 <= a < 2^80 (from a's binary
 * exponent alone: exact for the binary exponent's own floor(e2 * log10 2)). */
int decimal_log10_estimate(double a);

#endif
