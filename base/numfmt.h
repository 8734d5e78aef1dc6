/*
 * numfmt.h - doubles as the state and the payloads carry them: the shortest
 * text that reads back as exactly the same double, and the rounding to 6
 * significant digits the model applies to its scores.  Both give what
 * snprintf and strtod would, mostly without them (tests/unit/test_numfmt.c
 * checks the fast paths against them).  Pure; safe from any thread.
 */
#ifndef LOYALTY_NUMFMT_H
#define LOYALTY_NUMFMT_H

#include <stddef.h>

/* The shortest of %.15g, %.16g and %.17g that reads back as exactly v (in
 * fixed notation where %g allows it: "10", not "1e+01"): the form of every
 * double the codec stores and the payloads carry. */
void numfmt_double(char *buf, size_t len, double v);
/* numfmt_double's fast path, for the tests: 1 if it wrote buf (exactly what
 * %.15g would have), 0 if it leaves v to snprintf. */
int numfmt_double_fast(char *buf, size_t len, double v);

/* Round to 6 significant digits, as %.6g and strtod would (0 for NaN and
 * infinities): the value the codec and payloads carry. */
double numfmt_q6(double v);
/* numfmt_q6's fast path, for the tests: 1 and *out = numfmt_q6(v), or 0 if it
 * leaves v to snprintf and strtod. */
int numfmt_q6_fast(double v, double *out);

#endif
