/*
 * fx.c - exchange rates and exact conversion (see fx.h).
 *
 * The conversion multiplies up to three 64-bit factors and divides by up
 * to two: the integers below are 256 bits wide, in four 64-bit words, with
 * a portable 64 x 64 -> 128 multiply (no unsigned __int128, which 32-bit
 * targets lack) and a bitwise long division.  Amounts and rates of common
 * size take the native 64-bit path.
 */
#include "base/fx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "base/currency.h"

const struct fx_rate FX_RATE_ONE = {1, 0};

/* 10^0 .. 10^19: every one fits in 64 bits. */
static const uint64_t pow10_u64[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};

/* ---- 256-bit unsigned integers ---- */

struct u256 {
    uint64_t w[4]; /* least significant word first */
};

static struct u256 u256_of(uint64_t v)
{
    struct u256 x = {{v, 0, 0, 0}};

    return x;
}

/* a * b as hi:lo, from 32-bit halves. */
static void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);

    *lo = (mid << 32) | (p00 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* x *= m: 1 if the product does not fit in 256 bits (x is then wrong). */
static int u256_mul(struct u256 *x, uint64_t m)
{
    uint64_t carry = 0;

    for (int i = 0; i < 4; i++) {
        uint64_t hi, lo;

        mul64(x->w[i], m, &hi, &lo);
        lo += carry;
        hi += lo < carry;
        x->w[i] = lo;
        carry = hi;
    }
    return carry != 0;
}

/* x += y: 1 on a carry out of 256 bits. */
static int u256_add(struct u256 *x, const struct u256 *y)
{
    uint64_t carry = 0;

    for (int i = 0; i < 4; i++) {
        uint64_t s = x->w[i] + carry;
        uint64_t c = s < carry;

        x->w[i] = s + y->w[i];
        carry = c + (x->w[i] < s);
    }
    return carry != 0;
}

/* x -= y, for x >= y. */
static void u256_sub(struct u256 *x, const struct u256 *y)
{
    uint64_t borrow = 0;

    for (int i = 0; i < 4; i++) {
        uint64_t d = x->w[i] - y->w[i];
        uint64_t b = x->w[i] < y->w[i];

        x->w[i] = d - borrow;
        borrow = b + (d < borrow);
    }
}

static int u256_cmp(const struct u256 *a, const struct u256 *b)
{
    for (int i = 3; i >= 0; i--) {
        if (a->w[i] != b->w[i]) {
            return a->w[i] < b->w[i] ? -1 : 1;
        }
    }
    return 0;
}

/* How many bits x needs: 0 for 0. */
static int u256_bits(const struct u256 *x)
{
    for (int i = 3; i >= 0; i--) {
        if (x->w[i] != 0) {
            int b = 64;

            while (!(x->w[i] >> (b - 1))) {
                b--;
            }
            return i * 64 + b;
        }
    }
    return 0;
}

/* floor(n / d), d > 0 and below 2^255: native when both fit in 64 bits,
 * else one bit at a time. */
static struct u256 u256_div(const struct u256 *n, const struct u256 *d)
{
    struct u256 q = u256_of(0), r = u256_of(0);

    if (u256_bits(n) <= 64 && u256_bits(d) <= 64) {
        return u256_of(n->w[0] / d->w[0]);
    }
    for (int i = u256_bits(n) - 1; i >= 0; i--) {
        /* r = 2r + bit i of n; r < d < 2^255 keeps the shift inside */
        for (int k = 3; k > 0; k--) {
            r.w[k] = (r.w[k] << 1) | (r.w[k - 1] >> 63);
        }
        r.w[0] = (r.w[0] << 1) | ((n->w[i / 64] >> (i % 64)) & 1u);
        if (u256_cmp(&r, d) >= 0) {
            u256_sub(&r, d);
            q.w[i / 64] |= (uint64_t)1 << (i % 64);
        }
    }
    return q;
}

/* ---- rates ---- */

int fx_rate_parse(const char *s, size_t n, struct fx_rate *out, const char **why)
{
    size_t i = 0, int_end, frac_start, frac_end;
    uint64_t units = 0;
    int digits = 0, scale;

    if (n == 0) {
        *why = "empty";
        return -1;
    }
    if (s[0] == '-') {
        *why = "negative";
        return -1;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    int_end = frac_start = frac_end = i; /* no point: no fraction */
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        frac_end = i;
    }
    if (i != n || int_end == 0 || (frac_start > int_end && frac_end == frac_start)) {
        *why = "not a plain decimal number"; /* also "", ".5" and "1." */
        return -1;
    }
    while (frac_end > frac_start && s[frac_end - 1] == '0') {
        frac_end--; /* trailing zeros after the point say nothing */
    }
    scale = (int)(frac_end - frac_start);
    if (scale > FX_RATE_SCALE_MAX) {
        *why = "more than 15 digits after the point";
        return -1;
    }
    for (size_t k = 0; k < frac_end; k++) {
        if (k == int_end) {
            continue; /* the point */
        }
        if (digits == 0 && s[k] == '0') {
            continue; /* leading zeros */
        }
        if (++digits > FX_RATE_DIGITS_MAX) {
            *why = "more than 15 significant digits";
            return -1;
        }
        units = units * 10 + (uint64_t)(s[k] - '0');
    }
    if (units == 0) {
        *why = "zero";
        return -1;
    }
    out->units = units;
    out->scale = scale;
    return 0;
}

static int rate_normal(const struct fx_rate *r)
{
    return r->units > 0 && r->units < pow10_u64[FX_RATE_DIGITS_MAX] && r->scale >= 0 &&
           r->scale <= FX_RATE_SCALE_MAX && (r->scale == 0 || r->units % 10 != 0);
}

int fx_rate_format(const struct fx_rate *r, char *buf, size_t len)
{
    char digits[32];
    int n, o = 0;

    if (!rate_normal(r)) {
        return -1;
    }
    n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)r->units);
    if ((size_t)(n + r->scale + 3) > len) {
        return -1;
    }
    if (r->scale == 0) {
        memcpy(buf, digits, (size_t)n + 1);
        return n;
    }
    if (n <= r->scale) { /* 0.000ddd */
        buf[o++] = '0';
        buf[o++] = '.';
        for (int k = n; k < r->scale; k++) {
            buf[o++] = '0';
        }
        memcpy(buf + o, digits, (size_t)n);
        o += n;
    } else {
        memcpy(buf, digits, (size_t)(n - r->scale));
        o = n - r->scale;
        buf[o++] = '.';
        memcpy(buf + o, digits + n - r->scale, (size_t)r->scale);
        o += r->scale;
    }
    buf[o] = '\0';
    return o;
}

int fx_rate_eq(const struct fx_rate *a, const struct fx_rate *b)
{
    return a->units == b->units && a->scale == b->scale;
}

/* ---- days ---- */

static int digits_at(const char *s, size_t from, size_t count, int *v)
{
    *v = 0;
    for (size_t i = from; i < from + count; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int fx_day_parse(const char *s, size_t n, int32_t *day)
{
    int y, m, d;

    if (n != 10 || s[4] != '-' || s[7] != '-' || digits_at(s, 0, 4, &y) < 0 ||
        digits_at(s, 5, 2, &m) < 0 || digits_at(s, 8, 2, &d) < 0) {
        return -1;
    }
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > civil_days_in_month(y, m)) {
        return -1;
    }
    *day = (int32_t)civil_days_from_ymd(y, m, d);
    return 0;
}

void fx_day_format(int32_t day, char buf[FX_DAY_TEXT])
{
    int64_t y;
    int m, d;

    civil_ymd_from_days(day, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(buf, FX_DAY_TEXT, "?");
        return;
    }
    snprintf(buf, FX_DAY_TEXT, "%04d-%02d-%02d", (int)y, m, d);
}

/* ---- conversion ---- */

double fx_ratio_value(const struct fx_ratio *r)
{
    return (double)r->num / (double)r->den * pow(10, r->pow10);
}

void fx_ratio_cross(const struct fx_rate *q_to, const struct fx_rate *q_from,
                    struct fx_ratio *out)
{
    /* (to.units 10^-to.scale) / (from.units 10^-from.scale) */
    out->num = q_to->units;
    out->den = q_from->units;
    out->pow10 = q_from->scale - q_to->scale;
}

int fx_convert(int64_t amount, int from_exp, const struct fx_ratio *r, int to_exp,
               int64_t *out)
{
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    struct u256 n, d, q;
    int p;

    if (from_exp < 0 || from_exp > CURRENCY_EXPONENT_MAX || to_exp < 0 ||
        to_exp > CURRENCY_EXPONENT_MAX || r->num == 0 || r->den == 0 ||
        r->pow10 < -FX_RATE_SCALE_MAX || r->pow10 > FX_RATE_SCALE_MAX) {
        return FX_ERANGE;
    }
    /* amount 10^-from_exp * num / den * 10^pow10 in units of 10^-to_exp */
    p = r->pow10 + to_exp - from_exp; /* |p| <= 19 */
    n = u256_of(mag);
    d = u256_of(r->den);
    /* none of these can leave 256 bits: n < 2^192, d < 2^128 */
    (void)u256_mul(&n, r->num);
    if (p > 0) {
        (void)u256_mul(&n, pow10_u64[p]);
    } else if (p < 0) {
        (void)u256_mul(&d, pow10_u64[-p]);
    }
    /* round(n / d), halves up: floor((2n + d) / 2d) */
    (void)u256_mul(&n, 2);
    (void)u256_add(&n, &d);
    (void)u256_mul(&d, 2);
    q = u256_div(&n, &d);
    if (u256_bits(&q) > 63) {
        return FX_EOVERFLOW;
    }
    *out = amount < 0 ? -(int64_t)q.w[0] : (int64_t)q.w[0];
    return FX_OK;
}

/* ---- quotes ---- */

void fx_quotes_free(struct fx_quotes *qs)
{
    array_free(&qs->q);
}

/* ---- the table ---- */

void fx_table_init(struct fx_table *t, const char base[3])
{
    memset(t, 0, sizeof(*t));
    memcpy(t->base, base, 3);
    t->base[3] = '\0';
    t->sorted = 1;
}

void fx_table_free(struct fx_table *t)
{
    for (size_t i = 0; i < t->series.n; i++) {
        array_free(&t->series.v[i].points);
    }
    array_free(&t->series);
    t->sorted = 1;
}

/* The index of code's series, or where it would go (*found 0). */
static size_t series_find(const struct fx_table *t, const char code[3], int *found)
{
    size_t lo = 0, hi = t->series.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(code, t->series.v[mid].code, 3);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *found = 0;
    return lo;
}

int fx_table_add(struct fx_table *t, const char code[3], int32_t day,
                 const struct fx_rate *r)
{
    int found;
    size_t i;
    struct fx_point *p;

    if (currency_exponent(code) < 0 || memcmp(code, t->base, 3) == 0) {
        return FX_EUNKNOWN;
    }
    if (!rate_normal(r)) {
        return FX_ERANGE;
    }
    i = series_find(t, code, &found);
    if (!found) {
        if (array_push(&t->series) == NULL) {
            return FX_ERANGE;
        }
        memmove(&t->series.v[i + 1], &t->series.v[i],
                (t->series.n - 1 - i) * sizeof(t->series.v[0]));
        memset(&t->series.v[i], 0, sizeof(t->series.v[i]));
        memcpy(t->series.v[i].code, code, 3);
    }
    if ((p = array_push(&t->series.v[i].points)) == NULL) {
        if (!found) { /* the series just made goes again */
            memmove(&t->series.v[i], &t->series.v[i + 1],
                    (t->series.n - 1 - i) * sizeof(t->series.v[0]));
            t->series.n--;
        }
        return FX_ERANGE;
    }
    p->day = day;
    p->rate = *r;
    t->sorted = 0;
    return FX_OK;
}

static int point_cmp(const void *a, const void *b)
{
    const struct fx_point *x = a, *y = b;

    if (x->day != y->day) {
        return x->day < y->day ? -1 : 1;
    }
    if (x->rate.units != y->rate.units) {
        return x->rate.units < y->rate.units ? -1 : 1;
    }
    return (x->rate.scale > y->rate.scale) - (x->rate.scale < y->rate.scale);
}

int fx_table_sort(struct fx_table *t, char *err, size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; i < t->series.n; i++) {
        struct fx_series *s = &t->series.v[i];
        size_t o = 0;

        qsort(s->points.v, s->points.n, sizeof(s->points.v[0]), point_cmp);
        for (size_t k = 0; k < s->points.n; k++) {
            if (o > 0 && s->points.v[o - 1].day == s->points.v[k].day) {
                if (!fx_rate_eq(&s->points.v[o - 1].rate, &s->points.v[k].rate) &&
                    rc == 0) {
                    char day[FX_DAY_TEXT];

                    fx_day_format(s->points.v[k].day, day);
                    snprintf(err, errlen, "%s on %s has two rates", s->code, day);
                    rc = -1;
                }
                if (rc == 0) {
                    continue; /* the same quote twice: kept once */
                }
            }
            s->points.v[o++] = s->points.v[k];
        }
        s->points.n = o;
    }
    t->sorted = 1;
    return rc;
}

int fx_rate_on(const struct fx_table *t, const char code[3], int32_t day,
               struct fx_rate *rate, int32_t *rate_day)
{
    const struct fx_series *s;
    size_t lo = 0, hi;
    int found;
    size_t i;

    if (!t->sorted) {
        return FX_EUNSORTED;
    }
    if (memcmp(code, t->base, 3) == 0) {
        *rate = FX_RATE_ONE;
        if (rate_day != NULL) {
            *rate_day = day;
        }
        return FX_OK;
    }
    i = series_find(t, code, &found);
    if (!found) {
        return FX_NONE;
    }
    s = &t->series.v[i];
    /* the first point after day; the one before it is in force */
    hi = s->points.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->points.v[mid].day <= day) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return FX_NONE;
    }
    *rate = s->points.v[lo - 1].rate;
    if (rate_day != NULL) {
        *rate_day = s->points.v[lo - 1].day;
    }
    return FX_OK;
}

int fx_ratio_on(const struct fx_table *t, const char from[3], const char to[3],
                int32_t day, struct fx_ratio *r, int32_t *from_day, int32_t *to_day)
{
    struct fx_rate q_from, q_to;
    int rc;

    if (!t->sorted) {
        return FX_EUNSORTED;
    }
    if (memcmp(from, to, 3) == 0) {
        *r = (struct fx_ratio){1, 1, 0};
        if (from_day != NULL) {
            *from_day = day;
        }
        if (to_day != NULL) {
            *to_day = day;
        }
        return FX_OK;
    }
    if ((rc = fx_rate_on(t, from, day, &q_from, from_day)) != FX_OK ||
        (rc = fx_rate_on(t, to, day, &q_to, to_day)) != FX_OK) {
        return rc;
    }
    fx_ratio_cross(&q_to, &q_from, r);
    return FX_OK;
}

int fx_convert_on(const struct fx_table *t, int64_t amount, const char from[3],
                  const char to[3], int32_t day, int64_t *out)
{
    int from_exp = currency_exponent(from), to_exp = currency_exponent(to);
    struct fx_ratio r;
    int rc;

    if (from_exp < 0 || to_exp < 0) {
        return FX_EUNKNOWN;
    }
    if ((rc = fx_ratio_on(t, from, to, day, &r, NULL, NULL)) != FX_OK) {
        return rc;
    }
    return fx_convert(amount, from_exp, &r, to_exp, out);
}
