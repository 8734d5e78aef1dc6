/*
 * fx.h - exchange rates and the conversion of amounts, exact: integers
 * only, no double anywhere in the arithmetic.
 *
 * Why integers.  The model keeps money in integer minor units so that sums
 * are exact and a replay gives the same bytes.  A conversion through a
 * double would round twice (the rate's decimal to binary, the product back)
 * and could land on the other side of a half for an amount whose exact
 * value is a half: the same order converted on two machines, or before and
 * after a compiler change, could differ by a cent.  Here a rate is the
 * decimal the source printed, kept as an integer and a power of ten, and a
 * conversion is one exact fraction rounded once.
 *
 * Rates.  A quote is what a file of reference rates says: units of
 * currency X for one unit of the file's base B.  The ECB's "USD 1.0823"
 * (base EUR) is 1 EUR = 1.0823 USD.  The quotes are stored as they are
 * written, never inverted (an inverse is no finite decimal: 1 / 1.0823).
 * An amount of X is worth amount / q_X units of B, and q_R * amount / q_X
 * units of another quoted currency R: the cross rate through the base, as
 * one fraction (fx_ratio_cross), so converting EUR-quoted JPY into a USD
 * reporting currency rounds once, not at the euro on the way.  The base's
 * own quote is 1 (FX_RATE_ONE), and a currency converts to itself at 1
 * whether or not a rate of it is known.
 *
 * Rounding.  A converted amount is the exact value rounded to the nearest
 * minor unit of the target, halves away from zero (commercial rounding:
 * 0.5 cent up, -0.5 cent down), so a refund converts to minus what its
 * order converts to.  Each conversion is within half a minor unit of the
 * exact value; n amounts converted one by one and summed are within n / 2
 * minor units of the exact converted sum (and so of the sum converted,
 * within (n + 1) / 2).  Converting each order, then summing integers, keeps
 * the sums themselves exact: the way the model is to use it.
 *
 * Range.  A rate has at most FX_RATE_DIGITS_MAX significant digits and
 * FX_RATE_SCALE_MAX digits after its point (15: all a double carries, so
 * any rate a program printed sensibly fits; more is a binary double
 * printed in full, or a typo).  Amounts are any int64; the intermediate
 * product (up to 192 bits) is exact, and a result beyond the int64 range
 * is an error (FX_EOVERFLOW), never a wrapped value.
 *
 * Days are UTC epoch days (base/civil.h); a rate is in force from its date
 * until the next date of the same currency.  Pure; a table is one owner's.
 */
#ifndef LOYALTY_FX_H
#define LOYALTY_FX_H

#include <stddef.h>
#include <stdint.h>

#include "base/array.h"

#define FX_RATE_DIGITS_MAX 15 /* significant digits of a rate */
#define FX_RATE_SCALE_MAX  15 /* digits after its point */
#define FX_RATE_TEXT_MAX   40 /* room for a rate in decimal and its NUL */
#define FX_DAY_TEXT        11 /* room for "YYYY-MM-DD" and its NUL */

/* Results. */
enum fx_status {
    FX_OK = 0,
    FX_NONE = 1,       /* no rate in force on that day */
    FX_EUNKNOWN = -1,  /* not an active ISO 4217 code (base/currency.h) */
    FX_EOVERFLOW = -2, /* the result is beyond the int64 range */
    FX_ERANGE = -3,    /* an argument out of its documented range */
    FX_EUNSORTED = -4, /* a table looked up before fx_table_sort */
};

/* A rate: units * 10^-scale exactly, > 0.  Normalised (fx_rate_parse):
 * 0 < units < 10^FX_RATE_DIGITS_MAX, 0 <= scale <= FX_RATE_SCALE_MAX and no
 * trailing zero after the point (units % 10 != 0 when scale > 0), so two
 * rates are equal exactly when their fields are. */
struct fx_rate {
    uint64_t units;
    int scale;
};

extern const struct fx_rate FX_RATE_ONE;

/* The n bytes at s as a rate: digits, optionally a point and more digits
 * ("1.0823", "158.41", "0.000123"; no sign, exponent, spaces or thousands
 * separator).  0, or -1 with *why: "empty", "negative", "zero", "not a plain
 * decimal number", "more than 15 significant digits", "more than 15 digits
 * after the point". */
int fx_rate_parse(const char *s, size_t n, struct fx_rate *out, const char **why);
/* The rate in decimal, shortest form ("1.0823", "158", "0.5"), into buf:
 * its length, or -1 if buf (FX_RATE_TEXT_MAX is room for any) is short or
 * the rate not normalised. */
int fx_rate_format(const struct fx_rate *r, char *buf, size_t len);
int fx_rate_eq(const struct fx_rate *a, const struct fx_rate *b);

/* "YYYY-MM-DD" (exactly, a real date of years 0001..9999) -> epoch day:
 * 0, or -1. */
int fx_day_parse(const char *s, size_t n, int32_t *day);
/* The day as "YYYY-MM-DD" (NUL-terminated). */
void fx_day_format(int32_t day, char buf[FX_DAY_TEXT]);

/* Units of one currency per unit of another, exactly: num / den * 10^pow10
 * (both > 0, |pow10| <= FX_RATE_SCALE_MAX). */
struct fx_ratio {
    uint64_t num, den;
    int pow10;
};

/* r as a double, for people (num / den * 10^pow10; conversions use
 * fx_convert, exactly). */
double fx_ratio_value(const struct fx_ratio *r);

/* The factor from currency X to currency R given their quotes against one
 * base: q_to / q_from (pass FX_RATE_ONE for the base itself). */
void fx_ratio_cross(const struct fx_rate *q_to, const struct fx_rate *q_from,
                    struct fx_ratio *out);

/* amount minor units of a currency of exponent from_exp (0..4) times r, in
 * minor units of a currency of exponent to_exp, rounded half away from
 * zero: FX_OK with *out, FX_EOVERFLOW (|result| > INT64_MAX), or FX_ERANGE
 * (an exponent or r out of range). */
int fx_convert(int64_t amount, int from_exp, const struct fx_ratio *r, int to_exp,
               int64_t *out);

/* One quote of a file: the rate of `code` against the file's base in force
 * from `day`; `line` is where the file said it (0: not from a file). */
struct fx_quote {
    char code[4];
    int32_t day;
    struct fx_rate rate;
    unsigned line;
};

/* The quotes of one file, against `base`. */
struct fx_quotes {
    char base[4];
    ARRAY(struct fx_quote) q;
};

void fx_quotes_free(struct fx_quotes *qs);

/* A currency's rates, sorted by day (after fx_table_sort). */
struct fx_point {
    int32_t day;
    struct fx_rate rate;
};

struct fx_series {
    char code[4];
    ARRAY(struct fx_point) points;
};

/*
 * The rates in memory: per currency the quotes against `base` by effective
 * day.  Fill it with fx_table_add (any order), then fx_table_sort, then
 * look up; an add after the sort needs another sort.  series.v[0 ..
 * series.n - 1] are the currencies in code order once sorted.
 */
struct fx_table {
    char base[4];
    ARRAY(struct fx_series) series;
    int sorted;
};

/* An empty table of quotes against `base` (three letters). */
void fx_table_init(struct fx_table *t, const char base[3]);
void fx_table_free(struct fx_table *t);
/* One quote: FX_OK, FX_EUNKNOWN (not an active code, or the base itself:
 * it has no quote), or FX_ERANGE on ENOMEM (the table unchanged). */
int fx_table_add(struct fx_table *t, const char code[3], int32_t day,
                 const struct fx_rate *r);
/* Sort every currency's rates by day.  A day given twice with one rate is
 * kept once; with two rates: -1 and err names the currency and the day
 * (the table is then sorted but keeps both; do not use it).  0. */
int fx_table_sort(struct fx_table *t, char *err, size_t errlen);

/* The rate of `code` (three letters) in force on `day`, the quote of the
 * latest day on or before it, and that day: FX_OK, FX_NONE (no quote on or
 * before the day, or none of that currency), FX_EUNSORTED.  The base:
 * FX_RATE_ONE, in force on `day` itself. */
int fx_rate_on(const struct fx_table *t, const char code[3], int32_t day,
               struct fx_rate *rate, int32_t *rate_day);

/* The factor from `from` to `to` on `day` (fx_ratio_cross of their rates
 * in force on that day; each may come from an earlier day of its own,
 * given in *from_day and *to_day, either may be NULL): FX_OK, FX_NONE,
 * FX_EUNSORTED.  from == to: 1 without a lookup. */
int fx_ratio_on(const struct fx_table *t, const char from[3], const char to[3],
                int32_t day, struct fx_ratio *r, int32_t *from_day, int32_t *to_day);

/* amount minor units of `from` in minor units of `to`, at the rates in
 * force on `day`: FX_OK, FX_NONE, FX_EUNKNOWN (either code), FX_EOVERFLOW,
 * FX_EUNSORTED. */
int fx_convert_on(const struct fx_table *t, int64_t amount, const char from[3],
                  const char to[3], int32_t day, int64_t *out);

#endif
