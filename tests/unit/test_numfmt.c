/*
 * test_numfmt.c - base/numfmt.c: the fast paths of the double formatting
 * (numfmt_double) and of numfmt_q6 against the snprintf/strtod code they
 * stand in for, reimplemented here as it was, on about 7.5 million values:
 * random doubles over the whole range (any bit pattern too), decimals of 1 to
 * 17 digits with 0 to 9 after the point, every cent amount up to +-3000.00
 * and random ones, integers, powers of ten, the ties at the 7th digit that
 * numfmt_q6 rounds (exact ones too) and values just off them, and neighbours
 * in ulps, with both signs.  A mismatch prints the value (%a; the first 50 of
 * each group) and fails the test; so does a fast path that leaves to
 * snprintf a value it is meant to take.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "tests/unit/check_main.h"

/* ---- the reference: the code before the fast paths ---------------------- */

static void ref_fmt(char *buf, size_t len, double v)
{
    for (int prec = 15; prec < 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
    snprintf(buf, len, "%.17g", v);
}

static double ref_q6(double v)
{
    char buf[32];

    if (!isfinite(v)) {
        return 0;
    }
    snprintf(buf, sizeof(buf), "%.6g", v);
    return strtod(buf, NULL);
}

/* ---- values ------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t rnd_in(uint64_t lo, uint64_t hi)
{
    return lo + rnd() % (hi - lo + 1);
}

static double rnd_sign(double v)
{
    return (rnd() & 1) ? -v : v;
}

static double from_bits(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

/* 10^e as a double (strtod rounds correctly, also where 10^e is inexact). */
static double pow10_of(int e)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "1e%d", e);
    return strtod(buf, NULL);
}

/* The double nearest to k * 10^-j, k < 2^53 (both operands exact, so the
 * quotient or product is rounded once, like strtod). */
static double decimal(uint64_t k, int j)
{
    return j >= 0 ? (double)k / pow10_of(j) : (double)k * pow10_of(-j);
}

/* The decimal k with d digits, d = 1..17. */
static uint64_t rnd_digits(int d)
{
    uint64_t lo = 1;

    for (int i = 1; i < d; i++) {
        lo *= 10;
    }
    return rnd_in(d == 1 ? 1 : lo, lo * 10 - 1);
}

/* ---- checks ------------------------------------------------------------- */

#define MAX_PRINTED 50

struct tally {
    long n, fast, bad;
    double first_bad;
};

static void fmt_one(struct tally *t, const char *what, double v)
{
    char want[64], got[64], fast[64];
    int ok, hit;

    ref_fmt(want, sizeof(want), v);
    numfmt_double(got, sizeof(got), v);
    ok = strcmp(got, want) == 0;
    hit = numfmt_double_fast(fast, sizeof(fast), v);
    if (hit) {
        t->fast++;
        ok = ok && strcmp(fast, want) == 0;
    }
    t->n++;
    if (!ok) {
        if (t->bad++ == 0) {
            t->first_bad = v;
        }
        if (t->bad <= MAX_PRINTED) {
            fprintf(stderr,
                    "fmt %s: %a (%.17g): got \"%s\" (fast path: %s), want \"%s\"\n", what,
                    v, v, got, hit ? fast : "not taken", want);
        }
    }
}

/* Also what it must be: a decimal of at most 15 digits in the fast path's
 * range is the fast path's. */
static void fmt_fast_one(struct tally *t, struct tally *missed, const char *what,
                         double v)
{
    long fast = t->fast;

    fmt_one(t, what, v);
    if (t->fast == fast && fabs(v) >= 1e-4 && fabs(v) < 1e15) {
        if (missed->bad++ == 0) {
            missed->first_bad = v;
        }
        if (missed->bad <= MAX_PRINTED) {
            fprintf(stderr, "fmt %s: %a (%.17g) left to snprintf\n", what, v, v);
        }
    }
}

static void q6_one(struct tally *t, const char *what, double v)
{
    double want = ref_q6(v), got = numfmt_q6(v), fast = 0;
    int ok, hit;

    ok = memcmp(&got, &want, sizeof(got)) == 0;
    hit = numfmt_q6_fast(v, &fast);
    if (hit) {
        t->fast++;
        ok = ok && memcmp(&fast, &want, sizeof(fast)) == 0;
    }
    t->n++;
    if (!ok) {
        if (t->bad++ == 0) {
            t->first_bad = v;
        }
        if (t->bad <= MAX_PRINTED) {
            fprintf(stderr, "q6 %s: %a (%.17g): got %a (fast path: %s), want %a\n", what,
                    v, v, got, hit ? "taken" : "not taken", want);
        }
    }
}

/* v and its neighbours up to n ulps either way. */
static void fmt_around(struct tally *t, const char *what, double v, int n)
{
    double up = v, down = v;

    fmt_one(t, what, v);
    for (int i = 0; i < n; i++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        fmt_one(t, what, up);
        fmt_one(t, what, down);
    }
}

static void q6_around(struct tally *t, const char *what, double v, int n)
{
    double up = v, down = v;

    q6_one(t, what, v);
    for (int i = 0; i < n; i++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        q6_one(t, what, up);
        q6_one(t, what, down);
    }
}

static void done(const struct tally *t, const char *what)
{
    fprintf(stderr, "%s: %ld values, %ld (%.1f %%) by the fast path\n", what, t->n,
            t->fast, t->n ? 100.0 * (double)t->fast / (double)t->n : 0.0);
    if (t->bad) {
        ck_abort_msg("%s: %ld of %ld values differ from the reference, the first %a",
                     what, t->bad, t->n, t->first_bad);
    }
}

/* ---- numfmt_double --------------------------------------------------- */

/* k / 10^j, d digits, j = 0..9 after the point: money (j = 2), probabilities
 * and ratios (k < 10^j), q6 figures; and a neighbour of each. */
START_TEST(test_fmt_decimals)
{
    struct tally t = {0}, missed = {0}, near = {0};

    rng_state = 1;
    for (int j = 0; j <= 9; j++) {
        for (int d = 1; d <= 17; d++) {
            for (int i = 0; i < 3000; i++) {
                double v = rnd_sign(decimal(rnd_digits(d), j));
                if (d <= 15) {
                    fmt_fast_one(&t, &missed, "decimal", v);
                } else {
                    fmt_one(&t, "decimal", v);
                }
                fmt_one(&near, "decimal +- 1 ulp",
                        nextafter(v, (rnd() & 1) ? INFINITY : -INFINITY));
            }
        }
    }
    /* 6 significant digits at every magnitude the fast path takes */
    for (int e = -4; e <= 14; e++) {
        for (int i = 0; i < 10000; i++) {
            fmt_fast_one(&t, &missed, "q6", rnd_sign(decimal(rnd_digits(6), 5 - e)));
        }
    }
    done(&t, "fmt decimals");
    done(&near, "fmt decimals +- 1 ulp");
    if (missed.bad) {
        ck_abort_msg(
            "fmt: %ld decimals of at most 15 digits left to snprintf, the first %a",
            missed.bad, missed.first_bad);
    }
}
END_TEST

/* Every cent amount up to 3000.00 either way, as the codec gets them
 * ((double)cents / 100.0), random ones up to 10^13 cents, and the points
 * (int32 hundredths). */
START_TEST(test_fmt_cents)
{
    struct tally t = {0}, missed = {0};

    for (int64_t c = -300000; c <= 300000; c++) {
        fmt_fast_one(&t, &missed, "cents", (double)c / 100.0);
    }
    rng_state = 2;
    for (int i = 0; i < 200000; i++) {
        int shift = (int)rnd_in(0, 40);
        uint64_t c = rnd_in(1, 10000000000000ull) >> shift;
        fmt_fast_one(&t, &missed, "cents", rnd_sign((double)c / 100.0));
    }
    for (int i = 0; i < 200000; i++) {
        int32_t pts = (int32_t)(uint32_t)rnd();
        fmt_fast_one(&t, &missed, "points", pts / 100.0);
    }
    done(&t, "fmt cents");
    if (missed.bad) {
        ck_abort_msg("fmt: %ld amounts left to snprintf, the first %a", missed.bad,
                     missed.first_bad);
    }
}
END_TEST

/* Doubles at random: any bit pattern (NaN, inf, subnormals too), random
 * mantissas at binary exponents -70..70, numfmt_q6 of those. */
START_TEST(test_fmt_random)
{
    struct tally t = {0};

    rng_state = 3;
    for (int i = 0; i < 200000; i++) {
        fmt_one(&t, "bits", from_bits(rnd()));
    }
    for (int i = 0; i < 400000; i++) {
        double m = 1.0 + (double)(rnd() >> 11) * 0x1p-53;
        fmt_one(&t, "random", rnd_sign(ldexp(m, (int)rnd_in(0, 140) - 70)));
    }
    for (int i = 0; i < 300000; i++) {
        double m = 1.0 + (double)(rnd() >> 11) * 0x1p-53;
        fmt_one(&t, "numfmt_q6(random)",
                ref_q6(rnd_sign(ldexp(m, (int)rnd_in(0, 140) - 70))));
    }
    done(&t, "fmt random");
}
END_TEST

START_TEST(test_fmt_edges)
{
    struct tally t = {0};
    static const double specials[] = {0.0,
                                      -0.0,
                                      NAN,
                                      INFINITY,
                                      -INFINITY,
                                      DBL_MIN,
                                      DBL_MAX,
                                      DBL_EPSILON,
                                      DBL_TRUE_MIN,
                                      1e-4,
                                      0.0001,
                                      0.000999999,
                                      0.00099999999999999,
                                      0.000123456789012345,
                                      999999999.999999,
                                      999999999.99999905,
                                      999999999999999.0,
                                      99999999999999.9,
                                      1e15,
                                      9007199254740992.0,
                                      0.1,
                                      0.2,
                                      0.3,
                                      1.0 / 3.0,
                                      2.0 / 3.0,
                                      123456.789,
                                      0.5,
                                      0.05,
                                      0.005,
                                      0.0005,
                                      0.00005};

    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        fmt_around(&t, "special", specials[i], 8);
        fmt_around(&t, "special", -specials[i], 8);
    }
    for (int e = -30; e <= 30; e++) {
        double p = pow10_of(e);
        for (int m = 1; m <= 9; m++) {
            fmt_around(&t, "m * 10^e", m * p, 4);
            fmt_around(&t, "m * 10^e", -m * p, 4);
        }
        fmt_around(&t, "10^e - 10^(e-15)", p - pow10_of(e - 15), 4);
        fmt_around(&t, "10^e - 10^(e-16)", p - pow10_of(e - 16), 4);
    }
    for (int e = -1074; e <= 1023; e++) {
        fmt_around(&t, "2^e", ldexp(1.0, e), 1);
    }
    for (int64_t k = -100000; k <= 100000; k++) {
        fmt_one(&t, "integer", (double)k);
    }
    rng_state = 4;
    for (int i = 0; i < 200000; i++) {
        int shift = (int)rnd_in(0, 63);
        fmt_one(&t, "integer", rnd_sign((double)(rnd() >> shift)));
    }
    done(&t, "fmt edges");
}
END_TEST

/* ---- numfmt_q6 ------------------------------------------------------------ */

/* Random doubles: bit patterns, mantissas at binary exponents -80..80,
 * probabilities in (0, 1), decimals. */
START_TEST(test_q6_random)
{
    struct tally t = {0}, range = {0}, dec = {0};

    rng_state = 5;
    for (int i = 0; i < 200000; i++) {
        q6_one(&t, "bits", from_bits(rnd()));
    }
    for (int i = 0; i < 200000; i++) {
        double m = 1.0 + (double)(rnd() >> 11) * 0x1p-53;
        q6_one(&t, "random", rnd_sign(ldexp(m, (int)rnd_in(0, 160) - 80)));
    }
    /* the fast path's range, 1e-15 <= |v| < 1e20 */
    for (int i = 0; i < 500000; i++) {
        double m = 1.0 + (double)(rnd() >> 11) * 0x1p-53;
        q6_one(&range, "random", rnd_sign(ldexp(m, (int)rnd_in(0, 114) - 49)));
    }
    for (int i = 0; i < 500000; i++) {
        q6_one(&range, "probability", (double)((rnd() >> 11) | 1) * 0x1p-53);
    }
    for (int j = 0; j <= 9; j++) {
        for (int d = 1; d <= 12; d++) {
            for (int i = 0; i < 2000; i++) {
                q6_one(&dec, "decimal", rnd_sign(decimal(rnd_digits(d), j)));
            }
        }
    }
    done(&t, "q6 random");
    done(&range, "q6 random, 1e-15 <= |v| < 1e20");
    done(&dec, "q6 decimals");
    /* In its range the fast path leaves only values within 1e-6 of a
     * 7th-digit tie to snprintf (about 2 in a million here). */
    ck_assert_msg(range.fast >= range.n - range.n / 10000,
                  "q6: fast path for only %ld of %ld", range.fast, range.n);
}
END_TEST

/* (K + 1/2) * 10^-n, the ties at the 7th digit, K = 100000..999999, at every
 * magnitude, and their neighbours; ties that are exact doubles (the odd
 * multiples q * 5^j of a 5^j dyadic value, scaled by 10^m); the 6-digit
 * values themselves. */
START_TEST(test_q6_ties)
{
    struct tally t = {0};

    rng_state = 6;
    for (int n = -21; n <= 22; n++) {
        for (int i = 0; i < 1500; i++) {
            uint64_t k = i == 0 ? 999999 : i == 1 ? 100000 : rnd_in(100000, 999999);
            double tie = decimal(10 * k + 5, n + 1);
            q6_around(&t, "tie", rnd_sign(tie), 4);
            q6_one(&t, "6 digits", rnd_sign(decimal(k, n)));
            /* (K + 1/2 +- d * 10^-7) * 10^-n, about the fast path's margin */
            for (int d = 9; d <= 12; d++) {
                uint64_t t7 = k * 10000000 + 5000000;
                q6_one(&t, "tie +- d", rnd_sign(decimal(t7 + (uint64_t)d, n + 7)));
                q6_one(&t, "tie +- d", rnd_sign(decimal(t7 - (uint64_t)d, n + 7)));
            }
        }
    }
    for (int j = 1; j <= 22; j++) {
        uint64_t p5 = 1;
        for (int i = 0; i < j; i++) {
            p5 *= 5;
        }
        if (p5 > 9999999) {
            break;
        }
        for (int i = 0; i < 1000; i++) {
            /* q odd with q * 5^j in [10^6, 10^7): 7 digits, the last a 5 */
            uint64_t q = rnd_in((1000000 + p5 - 1) / p5, 9999999 / p5) | 1;
            if (q * p5 >= 10000000) {
                continue;
            }
            for (int m = 0; m <= 9; m++) { /* q * 10^m < 2^53: exact */
                q6_around(&t, "exact tie", rnd_sign(ldexp((double)q * pow10_of(m), -j)),
                          2);
            }
        }
    }
    /* integer ties: K.5 and 10K + 5, exact at n = 0 and n = -1 */
    for (int i = 0; i < 50000; i++) {
        uint64_t k = rnd_in(100000, 999999);
        q6_around(&t, "exact tie", rnd_sign((double)k + 0.5), 1);
        q6_around(&t, "exact tie", rnd_sign((double)(10 * k + 5)), 1);
    }
    done(&t, "q6 ties");
}
END_TEST

START_TEST(test_q6_edges)
{
    struct tally t = {0};
    static const double specials[] = {0.0,           -0.0,          NAN,      INFINITY,
                                      -INFINITY,     DBL_MIN,       DBL_MAX,  DBL_EPSILON,
                                      DBL_TRUE_MIN,  1e-15,         1e20,     0.1,
                                      1.0 / 3.0,     2.0 / 3.0,     0.999999, 0.9999995,
                                      0.99999949999, 0.99999950001, 1e-4,     99999.95};

    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        q6_around(&t, "special", specials[i], 8);
        q6_around(&t, "special", -specials[i], 8);
    }
    for (int e = -40; e <= 40; e++) {
        double p = pow10_of(e);
        for (int m = 1; m <= 9; m++) {
            q6_around(&t, "m * 10^e", m * p, 8);
        }
        q6_around(&t, "10^e - 10^(e-7)", p - pow10_of(e - 7), 4);
        q6_around(&t, "10^e - 10^(e-12)", p - pow10_of(e - 12), 4);
    }
    for (int e = -1074; e <= 1023; e++) {
        q6_around(&t, "2^e", ldexp(1.0, e), 2);
    }
    for (int64_t k = -100000; k <= 100000; k++) {
        q6_one(&t, "integer", (double)k);
    }
    rng_state = 7;
    for (int i = 0; i < 100000; i++) {
        int shift = (int)rnd_in(0, 63);
        q6_one(&t, "integer", rnd_sign((double)(rnd() >> shift)));
    }
    done(&t, "q6 edges");
}
END_TEST

/* Every test here compares against printf over hundreds of thousands of
 * values: tagged "sweep", which `make valgrind` leaves out (CK_EXCLUDE_TAGS),
 * as valgrind would take many minutes over them; the plain and sanitized
 * runs keep them. */
static Suite *suite(void)
{
    Suite *s = suite_create("numfmt");
    TCase *tc = tcase_create("core");

    tcase_set_tags(tc, "sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fmt_decimals);
    tcase_add_test(tc, test_fmt_cents);
    tcase_add_test(tc, test_fmt_random);
    tcase_add_test(tc, test_fmt_edges);
    tcase_add_test(tc, test_q6_random);
    tcase_add_test(tc, test_q6_ties);
    tcase_add_test(tc, test_q6_edges);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
