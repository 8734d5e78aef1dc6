/*
 * test_fx.c - base/fx.c: rates parsed and printed, dates, the exact
 * conversion (hand-worked cases across exponents, halves, overflow, random
 * amounts against an independent 128-bit computation, what a sum of
 * conversions is guaranteed to be), and the rates table (the rate in force
 * on a day, cross rates through the base).
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/currency.h"
#include "base/fx.h"
#include "tests/unit/check_main.h"

static struct fx_rate rate(const char *s)
{
    struct fx_rate r;
    const char *why = NULL;

    ck_assert_msg(fx_rate_parse(s, strlen(s), &r, &why) == 0, "'%s': %s", s, why);
    return r;
}

static int32_t day(const char *s)
{
    int32_t d;

    ck_assert_msg(fx_day_parse(s, strlen(s), &d) == 0, "'%s'", s);
    return d;
}

/* amount from a currency to another, the two quoted against one base (NULL:
 * the base itself). */
static int64_t conv(int64_t amount, const char *from, const char *q_from, const char *to,
                    const char *q_to)
{
    struct fx_rate a = q_from ? rate(q_from) : FX_RATE_ONE;
    struct fx_rate b = q_to ? rate(q_to) : FX_RATE_ONE;
    struct fx_ratio r;
    int64_t out = 0;
    int rc;

    fx_ratio_cross(&b, &a, &r);
    rc = fx_convert(amount, currency_exponent(from), &r, currency_exponent(to), &out);
    ck_assert_msg(rc == FX_OK, "%" PRId64 " %s -> %s: %d", amount, from, to, rc);
    return out;
}

/* ---- rates ---- */

START_TEST(test_rate_parse)
{
    static const struct {
        const char *text;
        uint64_t units;
        int scale;
    } ok[] = {
        {"1.0823", 10823, 4},
        {"158.41", 15841, 2},
        {"158.4100", 15841, 2},
        {"0.86035", 86035, 5},
        {"1", 1, 0},
        {"1.000", 1, 0},
        {"0001.5", 15, 1},
        {"15000", 15000, 0},
        {"0.000123", 123, 6},
        {"999999999999999", 999999999999999ull, 0},
        {"0.000000000000001", 1, 15},
        {"1.23456789012345", 123456789012345ull, 14},
        {"12345678901234.5", 123456789012345ull, 1},
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct fx_rate r = rate(ok[i].text);

        ck_assert_msg(r.units == ok[i].units && r.scale == ok[i].scale,
                      "'%s': %" PRIu64 " e-%d", ok[i].text, r.units, r.scale);
    }
}
END_TEST

START_TEST(test_rate_refused)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"-1.0823", "negative"},
        {"-0", "negative"},
        {"0", "zero"},
        {"0.0000", "zero"},
        {"000", "zero"},
        {"abc", "not a plain decimal number"},
        {"N/A", "not a plain decimal number"},
        {"inf", "not a plain decimal number"},
        {"nan", "not a plain decimal number"},
        {"1e3", "not a plain decimal number"},
        {"1.5E+00", "not a plain decimal number"},
        {"+1.5", "not a plain decimal number"},
        {".5", "not a plain decimal number"},
        {"1.", "not a plain decimal number"},
        {"1,0823", "not a plain decimal number"},
        {"1.2.3", "not a plain decimal number"},
        {" 1.5", "not a plain decimal number"},
        {"1.5 ", "not a plain decimal number"},
        {"0x10", "not a plain decimal number"},
        {"1234567890123456", "more than 15 significant digits"},
        {"1.23456789012345678", "more than 15 digits after the point"},
        {"1.0823000000000000397", "more than 15 digits after the point"},
        {"123456789.1234567", "more than 15 significant digits"},
        {"0.0000000000000001", "more than 15 digits after the point"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fx_rate r = {7, 0};
        const char *why = NULL;

        ck_assert_msg(fx_rate_parse(bad[i].text, strlen(bad[i].text), &r, &why) == -1,
                      "'%s' accepted", bad[i].text);
        ck_assert_msg(why != NULL && strcmp(why, bad[i].why) == 0, "'%s': '%s'",
                      bad[i].text, why);
        ck_assert_uint_eq(r.units, 7); /* untouched */
    }
    /* a length, not a NUL, ends the text */
    {
        struct fx_rate r;
        const char *why;

        ck_assert_int_eq(fx_rate_parse("1.5xyz", 3, &r, &why), 0);
        ck_assert_uint_eq(r.units, 15);
    }
}
END_TEST

START_TEST(test_rate_format)
{
    static const char *const in[] = {"1.0823",
                                     "158.41",
                                     "0.5",
                                     "100",
                                     "1",
                                     "0.000123",
                                     "15000",
                                     "0.000000000000001",
                                     "999999999999999",
                                     "12345678901234.5"};
    static const char *const odd[] = {"158.4100", "0001.5", "1.000", "0.10"};
    static const char *const want[] = {"158.41", "1.5", "1", "0.1"};
    char buf[FX_RATE_TEXT_MAX];

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        struct fx_rate r = rate(in[i]);

        ck_assert_int_eq(fx_rate_format(&r, buf, sizeof(buf)), (int)strlen(in[i]));
        ck_assert_str_eq(buf, in[i]);
    }
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        struct fx_rate r = rate(odd[i]);

        fx_rate_format(&r, buf, sizeof(buf));
        ck_assert_str_eq(buf, want[i]);
    }
    /* not normalised, or no room */
    ck_assert_int_eq(fx_rate_format(&(struct fx_rate){10, 1}, buf, sizeof(buf)), -1);
    ck_assert_int_eq(fx_rate_format(&(struct fx_rate){0, 0}, buf, sizeof(buf)), -1);
    ck_assert_int_eq(fx_rate_format(&(struct fx_rate){1, 16}, buf, sizeof(buf)), -1);
    ck_assert_int_eq(fx_rate_format(&(struct fx_rate){10823, 4}, buf, 4), -1);
    /* every normalised rate prints and parses back to itself */
    srand(7);
    for (int i = 0; i < 100000; i++) {
        struct fx_rate r, back;
        const char *why;
        int digits = 1 + rand() % FX_RATE_DIGITS_MAX;

        r.units = 0;
        for (int k = 0; k < digits; k++) {
            r.units = r.units * 10 + (uint64_t)(rand() % 10);
        }
        r.scale = rand() % (FX_RATE_SCALE_MAX + 1);
        while (r.scale > 0 && r.units % 10 == 0) {
            r.units /= 10;
            if (r.units == 0) {
                r.units = 1;
            }
        }
        if (r.units == 0) {
            r.units = 3;
        }
        ck_assert_int_gt(fx_rate_format(&r, buf, sizeof(buf)), 0);
        ck_assert_msg(fx_rate_parse(buf, strlen(buf), &back, &why) == 0, "%s: %s", buf,
                      why);
        ck_assert_msg(fx_rate_eq(&r, &back), "%s", buf);
    }
}
END_TEST

/* ---- days ---- */

START_TEST(test_days)
{
    static const char *const bad[] = {
        "2024-02-30",           "2023-02-29",      "2024-13-01", "2024-00-10",
        "2024-01-00",           "2024-1-05",       "24-01-05",   "2024/01/05",
        "2024-01-05T00:00:00Z", "05 January 2024", "",           "0000-01-01",
        "2024-01-0x",           " 2024-01-05"};
    char buf[FX_DAY_TEXT];
    int32_t d;

    ck_assert_int_eq(day("1970-01-01"), 0);
    ck_assert_int_eq(day("2024-01-01"), 19723);
    ck_assert_int_eq(day("2024-02-29"), 19723 + 31 + 28);
    ck_assert_int_eq(day("1969-12-31"), -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(fx_day_parse(bad[i], strlen(bad[i]), &d) == -1, "'%s'", bad[i]);
    }
    for (int32_t k = day("0001-01-01"); k <= day("9999-12-31"); k += 97) {
        int32_t back;

        fx_day_format(k, buf);
        ck_assert_int_eq(fx_day_parse(buf, strlen(buf), &back), 0);
        ck_assert_int_eq(back, k);
    }
    fx_day_format(day("2024-01-05"), buf);
    ck_assert_str_eq(buf, "2024-01-05");
}
END_TEST

/* ---- conversion ---- */

START_TEST(test_convert_by_hand)
{
    /* ECB quotes, base EUR: 1 EUR = 1.0823 USD */
    ck_assert_int_eq(conv(10000, "EUR", NULL, "USD", "1.0823"), 10823); /* 100.00 EUR */
    ck_assert_int_eq(conv(10823, "USD", "1.0823", "EUR", NULL), 10000); /* 108.23 USD */
    /* cents to yen: 12.34 EUR * 158.41 = 1954.7794 JPY */
    ck_assert_int_eq(conv(1234, "EUR", NULL, "JPY", "158.41"), 1955);
    /* yen to cents: 1000 / 158.41 = 6.312732... EUR */
    ck_assert_int_eq(conv(1000, "JPY", "158.41", "EUR", NULL), 631);
    /* cents to fils: 100.00 EUR * 0.33512 = 33.512 KWD */
    ck_assert_int_eq(conv(10000, "EUR", NULL, "KWD", "0.33512"), 33512);
    /* fils to yen through the euro, one rounding: 1.000 KWD = 472.696... JPY */
    ck_assert_int_eq(conv(1000, "KWD", "0.33512", "JPY", "158.41"), 473);
    /* yen to a USD reporting currency: 1000 * 1.0921 / 158.41 = 6.894135 USD */
    ck_assert_int_eq(conv(1000, "JPY", "158.41", "USD", "1.0921"), 689);
    ck_assert_int_eq(conv(-1000, "JPY", "158.41", "USD", "1.0921"), -689);
    /* pence to cents: 123.45 GBP * 1.0921 / 0.86035 = 156.7012... USD */
    ck_assert_int_eq(conv(12345, "GBP", "0.86035", "USD", "1.0921"), 15670);
    /* CLF has four decimals: 1.0000 CLF at 1 EUR = 0.0278 CLF is 35.97 EUR */
    ck_assert_int_eq(conv(10000, "CLF", "0.0278", "EUR", NULL), 3597);
    /* the same currency: exact whatever the amount */
    ck_assert_int_eq(conv(INT64_MAX, "USD", "1.0823", "USD", "1.0823"), INT64_MAX);
    ck_assert_int_eq(conv(0, "JPY", "158.41", "EUR", NULL), 0);
}
END_TEST

START_TEST(test_convert_halves)
{
    /* exactly half a minor unit goes away from zero */
    ck_assert_int_eq(conv(1, "EUR", NULL, "USD", "1.5"), 2);
    ck_assert_int_eq(conv(-1, "EUR", NULL, "USD", "1.5"), -2);
    ck_assert_int_eq(conv(3, "EUR", NULL, "USD", "1.5"), 5);
    ck_assert_int_eq(conv(-3, "EUR", NULL, "USD", "1.5"), -5);
    ck_assert_int_eq(conv(2, "EUR", NULL, "USD", "1.25"), 3);
    ck_assert_int_eq(conv(-2, "EUR", NULL, "USD", "1.25"), -3);
    /* just below and above the half */
    ck_assert_int_eq(conv(1, "EUR", NULL, "USD", "1.4999999"), 1);
    ck_assert_int_eq(conv(1, "EUR", NULL, "USD", "1.5000001"), 2);
    ck_assert_int_eq(conv(-1, "EUR", NULL, "USD", "1.4999999"), -1);
    /* across exponents: 0.50 EUR at 1 EUR = 1 JPY is half a yen */
    ck_assert_int_eq(conv(50, "EUR", NULL, "JPY", "1"), 1);
    ck_assert_int_eq(conv(49, "EUR", NULL, "JPY", "1"), 0);
    ck_assert_int_eq(conv(150, "EUR", NULL, "JPY", "1"), 2);
    ck_assert_int_eq(conv(-150, "EUR", NULL, "JPY", "1"), -2);
    /* 1 yen at 200 JPY = 1 EUR: 0.5 cent */
    ck_assert_int_eq(conv(1, "JPY", "200", "EUR", NULL), 1);
    ck_assert_int_eq(conv(-1, "JPY", "200", "EUR", NULL), -1);
    ck_assert_int_eq(conv(1, "JPY", "200.000001", "EUR", NULL), 0);
    /* 0.0005 KWD is half a fils: 5 hundredths of a cent at 1 EUR = 1 KWD */
    ck_assert_int_eq(conv(1, "EUR", NULL, "KWD", "0.5"), 5);
    ck_assert_int_eq(conv(1, "EUR", NULL, "KWD", "0.05"), 1); /* 0.5 fils */
    ck_assert_int_eq(conv(1, "EUR", NULL, "KWD", "0.04"), 0); /* 0.4 fils */
    ck_assert_int_eq(conv(-1, "EUR", NULL, "KWD", "0.05"), -1);
}
END_TEST

START_TEST(test_convert_overflow)
{
    struct fx_ratio r;
    struct fx_rate two = rate("2"), big = rate("999999999999999");
    int64_t out = 42;

    fx_ratio_cross(&two, &FX_RATE_ONE, &r);
    ck_assert_int_eq(fx_convert(INT64_MAX, 2, &r, 2, &out), FX_EOVERFLOW);
    ck_assert_int_eq(fx_convert(INT64_MIN, 2, &r, 2, &out), FX_EOVERFLOW);
    ck_assert_int_eq(out, 42); /* untouched */
    ck_assert_int_eq(fx_convert(INT64_MAX / 2, 2, &r, 2, &out), FX_OK);
    ck_assert_int_eq(out, INT64_MAX - 1);
    ck_assert_int_eq(fx_convert(INT64_MAX / 2 + 1, 2, &r, 2, &out), FX_EOVERFLOW);
    ck_assert_int_eq(fx_convert(-(INT64_MAX / 2), 2, &r, 2, &out), FX_OK);
    ck_assert_int_eq(out, -(INT64_MAX - 1));
    /* yen to fils multiplies by 1000 */
    fx_ratio_cross(&FX_RATE_ONE, &FX_RATE_ONE, &r);
    ck_assert_int_eq(fx_convert(INT64_MAX / 1000, 0, &r, 3, &out), FX_OK);
    ck_assert_int_eq(out, INT64_MAX / 1000 * 1000);
    ck_assert_int_eq(fx_convert(INT64_MAX / 1000 + 1, 0, &r, 3, &out), FX_EOVERFLOW);
    /* the largest rate on the largest amount: 2^63 * 10^15 * 10^4 needs 126 bits */
    fx_ratio_cross(&big, &FX_RATE_ONE, &r);
    ck_assert_int_eq(fx_convert(INT64_MAX, 0, &r, 4, &out), FX_EOVERFLOW);
    ck_assert_int_eq(fx_convert(INT64_MIN, 0, &r, 4, &out), FX_EOVERFLOW);
    ck_assert_int_eq(fx_convert(9223, 0, &r, 0, &out), FX_OK);
    ck_assert_int_eq(out, 9223 * 999999999999999ll);
    /* and divided: the result is small, exact */
    fx_ratio_cross(&FX_RATE_ONE, &big, &r);
    ck_assert_int_eq(fx_convert(INT64_MAX, 4, &r, 0, &out), FX_OK);
    ck_assert_int_eq(out, 1); /* 922337203685477.5807 / 999999999999999 = 0.92 */
    ck_assert_int_eq(fx_convert(INT64_MIN, 4, &r, 0, &out), FX_OK);
    ck_assert_int_eq(out, -1);
}
END_TEST

START_TEST(test_convert_range)
{
    struct fx_ratio r = {1, 1, 0};
    int64_t out;

    ck_assert_int_eq(fx_convert(1, -1, &r, 2, &out), FX_ERANGE);
    ck_assert_int_eq(fx_convert(1, 2, &r, CURRENCY_EXPONENT_MAX + 1, &out), FX_ERANGE);
    r.den = 0;
    ck_assert_int_eq(fx_convert(1, 2, &r, 2, &out), FX_ERANGE);
    r = (struct fx_ratio){1, 1, FX_RATE_SCALE_MAX + 1};
    ck_assert_int_eq(fx_convert(1, 2, &r, 2, &out), FX_ERANGE);
    r = (struct fx_ratio){0, 1, 0};
    ck_assert_int_eq(fx_convert(1, 2, &r, 2, &out), FX_ERANGE);
    /* the widest accepted: 10^-19 */
    r = (struct fx_ratio){1, 1, -FX_RATE_SCALE_MAX};
    ck_assert_int_eq(fx_convert(INT64_MAX, 4, &r, 0, &out), FX_OK);
    ck_assert_int_eq(out, 1); /* 9.22e18 / 10^19 = 0.92: rounded to 1 */
    ck_assert_int_eq(fx_convert(INT64_MAX / 2, 4, &r, 0, &out), FX_OK);
    ck_assert_int_eq(out, 0); /* 0.46 */
}
END_TEST

static uint64_t rnd64(void)
{
    return ((uint64_t)(unsigned)rand() << 62) ^ ((uint64_t)(unsigned)rand() << 31) ^
           (uint64_t)(unsigned)rand();
}

/* A random normalised rate of up to `digits` significant digits. */
static struct fx_rate random_rate(int digits)
{
    struct fx_rate r;
    uint64_t lim = 1;

    for (int k = 0; k < digits; k++) {
        lim *= 10;
    }
    r.units = 1 + rnd64() % (lim - 1);
    r.scale = rand() % (FX_RATE_SCALE_MAX + 1);
    while (r.scale > 0 && r.units % 10 == 0) {
        r.units /= 10;
        r.scale--;
    }
    return r;
}

#ifdef __SIZEOF_INT128__
typedef unsigned __int128 u128;

/* The same conversion in unsigned __int128 where the numbers fit, as an
 * independent check: 1 with *want, 0 when they do not fit. */
static int reference(int64_t amount, int from_exp, const struct fx_ratio *r, int to_exp,
                     int64_t *want, int *overflow)
{
    u128 n = amount < 0 ? (u128)(-(amount + 1)) + 1 : (u128)amount, d = r->den, q;
    int p = r->pow10 + to_exp - from_exp;

    if (__builtin_mul_overflow(n, (u128)r->num, &n)) {
        return 0;
    }
    for (int i = 0; i < (p > 0 ? p : -p); i++) {
        if (__builtin_mul_overflow(p > 0 ? n : d, (u128)10, p > 0 ? &n : &d)) {
            return 0;
        }
    }
    if (n >> 125 || d >> 125) {
        return 0;
    }
    /* half away from zero: the remainder twice against the divisor */
    q = n / d;
    if (2 * (n % d) >= d) {
        q++;
    }
    *overflow = q > (u128)INT64_MAX;
    *want = *overflow ? 0 : amount < 0 ? -(int64_t)q : (int64_t)q;
    return 1;
}
#endif

START_TEST(test_convert_random_against_reference)
{
#ifdef __SIZEOF_INT128__
    long checked = 0, overflowed = 0, wide = 0;

    srand(11);
    for (int i = 0; i < 400000; i++) {
        struct fx_rate a = random_rate(1 + rand() % FX_RATE_DIGITS_MAX);
        struct fx_rate b = random_rate(1 + rand() % FX_RATE_DIGITS_MAX);
        int bits = 1 + rand() % 63, from_exp = rand() % 5, to_exp = rand() % 5;
        int64_t amount = (int64_t)(rnd64() >> (64 - bits)), got = 0, want;
        struct fx_ratio r;
        int rc, over;

        if (rand() % 2) {
            amount = -amount;
        }
        fx_ratio_cross(&b, &a, &r);
        rc = fx_convert(amount, from_exp, &r, to_exp, &got);
        if (!reference(amount, from_exp, &r, to_exp, &want, &over)) {
            continue;
        }
        checked++;
        if (over) {
            overflowed++;
            ck_assert_msg(rc == FX_EOVERFLOW, "%" PRId64 " x %" PRIu64 "/%" PRIu64 " e%d",
                          amount, r.num, r.den, r.pow10);
            continue;
        }
        ck_assert_msg(rc == FX_OK && got == want,
                      "%" PRId64 " (e%d) x %" PRIu64 "/%" PRIu64 " e%d (e%d): %" PRId64
                      " not %" PRId64,
                      amount, from_exp, r.num, r.den, r.pow10, to_exp, got, want);
        /* symmetric: a refund converts to minus its order */
        if (amount != INT64_MIN) {
            ck_assert_int_eq(fx_convert(-amount, from_exp, &r, to_exp, &got), FX_OK);
            ck_assert_int_eq(got, -want);
        }
        /* the product past 64 bits: the long division's path */
        wide +=
            ((u128)(uint64_t)(amount < 0 ? -(amount + 1) : amount) * r.num) >> 64 != 0;
    }
    /* enough of each kind: results, overflows, and numbers past 64 bits */
    ck_assert_int_gt(checked, 100000);
    ck_assert_int_gt(overflowed, 1000);
    ck_assert_int_gt(wide, 10000);
#endif
}
END_TEST

/* What is guaranteed of sums: each conversion within half a minor unit of
 * the exact value, so n of them summed within n / 2 of the exact converted
 * sum, and within (n + 1) / 2 of the sum converted at once.  Checked in
 * integers: 1 EUR = 158.41 JPY, c cents are exactly c * 15841 / 10000 yen. */
START_TEST(test_sums_of_conversions)
{
    struct fx_rate jpy = rate("158.41");
    struct fx_ratio r;
    int64_t sum = 0, converted_sum = 0, sum_converted, each;
    const int n = 1000;

    fx_ratio_cross(&jpy, &FX_RATE_ONE, &r);
    srand(5);
    for (int i = 0; i < n; i++) {
        int64_t cents = rand() % 10000000 - 1000000; /* refunds too */

        ck_assert_int_eq(fx_convert(cents, 2, &r, 0, &each), FX_OK);
        /* |each - cents * 1.5841| <= 1/2, times 20000 */
        ck_assert_int_le(llabs(20000 * each - 2 * 15841 * cents), 10000);
        sum += cents;
        converted_sum += each;
    }
    ck_assert_int_le(llabs(10000 * converted_sum - 15841 * sum), (int64_t)n * 10000 / 2);
    ck_assert_int_eq(fx_convert(sum, 2, &r, 0, &sum_converted), FX_OK);
    ck_assert_int_le(llabs(converted_sum - sum_converted), (n + 1) / 2);
    /* the sum of amounts that convert exactly converts exactly */
    {
        int64_t a = 0, b = 0;

        for (int i = 1; i <= n; i++) {
            ck_assert_int_eq(fx_convert(10000 * i, 2, &r, 0, &each), FX_OK);
            a += each;
            b += 15841 * i;
        }
        ck_assert_int_eq(a, b);
    }
}
END_TEST

/* ---- the table ---- */

/* EUR base: USD, JPY and GBP on business days of January 2024 (the 6th
 * and 7th are a weekend), added out of order. */
static void sample_table(struct fx_table *t)
{
    static const struct {
        const char *code, *day, *rate;
    } q[] = {
        {"USD", "2024-01-08", "1.0946"},  {"JPY", "2024-01-05", "158.41"},
        {"USD", "2024-01-02", "1.0956"},  {"GBP", "2024-01-02", "0.86645"},
        {"USD", "2024-01-05", "1.0921"},  {"JPY", "2024-01-08", "158.28"},
        {"USD", "2024-01-04", "1.0953"},  {"JPY", "2024-01-02", "155.52"},
        {"GBP", "2024-01-08", "0.85903"}, {"USD", "2024-01-03", "1.0919"},
        {"USD", "2024-01-05", "1.0921"}, /* the same quote again */
    };

    fx_table_init(t, "EUR");
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        struct fx_rate r = rate(q[i].rate);

        ck_assert_int_eq(fx_table_add(t, q[i].code, day(q[i].day), &r), FX_OK);
    }
}

static void expect_on(const struct fx_table *t, const char *code, const char *on,
                      const char *want_rate, const char *want_day)
{
    struct fx_rate r;
    int32_t since = -12345;
    int rc = fx_rate_on(t, code, day(on), &r, &since);

    if (want_rate == NULL) {
        ck_assert_msg(rc == FX_NONE, "%s on %s: %d", code, on, rc);
        ck_assert_int_eq(since, -12345);
        return;
    }
    ck_assert_msg(rc == FX_OK, "%s on %s: %d", code, on, rc);
    {
        struct fx_rate w = rate(want_rate);

        ck_assert_msg(fx_rate_eq(&r, &w), "%s on %s", code, on);
    }
    ck_assert_int_eq(since, day(want_day));
}

START_TEST(test_rate_on)
{
    struct fx_table t;
    struct fx_rate r;
    char err[128];

    sample_table(&t);
    ck_assert_int_eq(fx_rate_on(&t, "USD", day("2024-01-05"), &r, NULL), FX_EUNSORTED);
    ck_assert_int_eq(fx_table_sort(&t, err, sizeof(err)), 0);
    ck_assert_uint_eq(t.series.n, 3);
    ck_assert_str_eq(t.series.v[0].code, "GBP");
    ck_assert_str_eq(t.series.v[2].code, "USD");
    ck_assert_uint_eq(t.series.v[2].points.n, 5);   /* the repeat kept once */
    expect_on(&t, "USD", "2024-01-01", NULL, NULL); /* before the first */
    expect_on(&t, "USD", "1999-01-04", NULL, NULL);
    expect_on(&t, "USD", "2024-01-02", "1.0956", "2024-01-02");
    expect_on(&t, "USD", "2024-01-05", "1.0921", "2024-01-05");
    expect_on(&t, "USD", "2024-01-06", "1.0921", "2024-01-05"); /* the weekend */
    expect_on(&t, "USD", "2024-01-07", "1.0921", "2024-01-05");
    expect_on(&t, "USD", "2024-01-08", "1.0946", "2024-01-08");
    expect_on(&t, "USD", "2031-06-30", "1.0946", "2024-01-08"); /* the latest */
    expect_on(&t, "JPY", "2024-01-04", "155.52", "2024-01-02"); /* a gap of its own */
    expect_on(&t, "GBP", "2024-01-05", "0.86645", "2024-01-02");
    expect_on(&t, "CHF", "2024-01-05", NULL, NULL); /* no quote of it at all */
    /* the base is 1 on any day, without an entry */
    expect_on(&t, "EUR", "1990-01-01", "1", "1990-01-01");
    /* an add needs another sort */
    ck_assert_int_eq(
        fx_table_add(&t, "CHF", day("2024-01-02"), &(struct fx_rate){9314, 4}), FX_OK);
    ck_assert_int_eq(fx_rate_on(&t, "USD", day("2024-01-05"), &r, NULL), FX_EUNSORTED);
    ck_assert_int_eq(fx_table_sort(&t, err, sizeof(err)), 0);
    expect_on(&t, "CHF", "2024-01-05", "0.9314", "2024-01-02");
    fx_table_free(&t);
}
END_TEST

START_TEST(test_table_refusals)
{
    struct fx_table t;
    struct fx_rate one = FX_RATE_ONE, r = rate("1.0921"), other = rate("1.0922");
    char err[128] = "";

    fx_table_init(&t, "EUR");
    ck_assert_int_eq(fx_table_add(&t, "EUR", 19723, &one), FX_EUNKNOWN); /* the base */
    ck_assert_int_eq(fx_table_add(&t, "XYZ", 19723, &r), FX_EUNKNOWN);
    ck_assert_int_eq(fx_table_add(&t, "usd", 19723, &r), FX_EUNKNOWN);
    ck_assert_int_eq(fx_table_add(&t, "USD", 19723, &(struct fx_rate){0, 0}), FX_ERANGE);
    ck_assert_int_eq(fx_table_add(&t, "USD", 19723, &r), FX_OK);
    ck_assert_int_eq(fx_table_add(&t, "USD", 19723, &other), FX_OK);
    ck_assert_int_eq(fx_table_sort(&t, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "USD on 2024-01-01 has two rates");
    fx_table_free(&t);
}
END_TEST

START_TEST(test_cross_rates)
{
    struct fx_table t;
    struct fx_ratio r;
    int32_t dfrom, dto;
    int64_t out;
    char err[128];

    sample_table(&t);
    ck_assert_int_eq(fx_table_sort(&t, err, sizeof(err)), 0);
    /* JPY into a USD reporting currency on 2024-01-05: 158.41 and 1.0921 */
    ck_assert_int_eq(fx_ratio_on(&t, "JPY", "USD", day("2024-01-05"), &r, &dfrom, &dto),
                     FX_OK);
    ck_assert_uint_eq(r.num, 10921);
    ck_assert_uint_eq(r.den, 15841);
    ck_assert_int_eq(r.pow10, 2 - 4);
    ck_assert_int_eq(fx_convert_on(&t, 1000, "JPY", "USD", day("2024-01-05"), &out),
                     FX_OK);
    ck_assert_int_eq(out, 689);
    /* each currency's own latest day: JPY of the 2nd, USD of the 4th */
    ck_assert_int_eq(fx_ratio_on(&t, "JPY", "USD", day("2024-01-04"), &r, &dfrom, &dto),
                     FX_OK);
    ck_assert_int_eq(dfrom, day("2024-01-02"));
    ck_assert_int_eq(dto, day("2024-01-04"));
    /* 10000 yen * 1.0953 / 155.52 = 70.428... USD */
    ck_assert_int_eq(fx_convert_on(&t, 10000, "JPY", "USD", day("2024-01-04"), &out),
                     FX_OK);
    ck_assert_int_eq(out, 7043);
    /* into and out of the base */
    ck_assert_int_eq(fx_convert_on(&t, 10921, "USD", "EUR", day("2024-01-06"), &out),
                     FX_OK);
    ck_assert_int_eq(out, 10000);
    ck_assert_int_eq(fx_convert_on(&t, 10000, "EUR", "GBP", day("2024-01-08"), &out),
                     FX_OK);
    ck_assert_int_eq(out, 8590); /* 85.903 GBP */
    /* a currency into itself needs no rate, the base's or any */
    ck_assert_int_eq(fx_convert_on(&t, 12345, "CHF", "CHF", day("2024-01-05"), &out),
                     FX_OK);
    ck_assert_int_eq(out, 12345);
    ck_assert_int_eq(fx_convert_on(&t, 12345, "USD", "USD", day("1990-01-01"), &out),
                     FX_OK);
    ck_assert_int_eq(out, 12345);
    /* none in force, unknown codes, overflow */
    ck_assert_int_eq(fx_convert_on(&t, 1, "USD", "JPY", day("2024-01-01"), &out),
                     FX_NONE);
    ck_assert_int_eq(fx_convert_on(&t, 1, "CHF", "USD", day("2024-01-05"), &out),
                     FX_NONE);
    ck_assert_int_eq(fx_convert_on(&t, 1, "XYZ", "USD", day("2024-01-05"), &out),
                     FX_EUNKNOWN);
    ck_assert_int_eq(fx_convert_on(&t, 1, "USD", "xyz", day("2024-01-05"), &out),
                     FX_EUNKNOWN);
    ck_assert_int_eq(fx_convert_on(&t, INT64_MAX, "EUR", "JPY", day("2024-01-05"), &out),
                     FX_EOVERFLOW);
    fx_table_free(&t);
}
END_TEST

START_TEST(test_empty_table)
{
    struct fx_table t;
    struct fx_rate r;
    int64_t out;

    fx_table_init(&t, "USD");
    ck_assert_int_eq(fx_rate_on(&t, "EUR", 19723, &r, NULL), FX_NONE);
    ck_assert_int_eq(fx_rate_on(&t, "USD", 19723, &r, NULL), FX_OK);
    ck_assert_int_eq(fx_convert_on(&t, 500, "JPY", "JPY", 19723, &out), FX_OK);
    ck_assert_int_eq(out, 500);
    fx_table_free(&t);
    fx_table_free(&t); /* twice is harmless */
}
END_TEST

static Suite *fx_suite(void)
{
    Suite *s = suite_create("fx");
    TCase *rates = tcase_create("rates");
    TCase *convert = tcase_create("convert");
    TCase *table = tcase_create("table");
    /* hundreds of thousands of conversions: tagged "sweep", which `make
     * valgrind` leaves out (CK_EXCLUDE_TAGS) */
    TCase *sweep = tcase_create("sweep");

    tcase_add_test(rates, test_rate_parse);
    tcase_add_test(rates, test_rate_refused);
    tcase_add_test(rates, test_rate_format);
    tcase_add_test(rates, test_days);
    tcase_add_test(convert, test_convert_by_hand);
    tcase_add_test(convert, test_convert_halves);
    tcase_add_test(convert, test_convert_overflow);
    tcase_add_test(convert, test_convert_range);
    tcase_add_test(sweep, test_convert_random_against_reference);
    tcase_add_test(convert, test_sums_of_conversions);
    tcase_add_test(table, test_rate_on);
    tcase_add_test(table, test_table_refusals);
    tcase_add_test(table, test_cross_rates);
    tcase_add_test(table, test_empty_table);
    tcase_set_tags(sweep, "sweep");
    tcase_set_timeout(sweep, 60);
    suite_add_tcase(s, rates);
    suite_add_tcase(s, convert);
    suite_add_tcase(s, table);
    suite_add_tcase(s, sweep);
    return s;
}

CHECK_MAIN(fx_suite)
