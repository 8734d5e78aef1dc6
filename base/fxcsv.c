/*
 * fxcsv.c - the ECB's reference-rate CSV and the plain date,currency,rate
 * CSV read into quotes (see fxcsv.h).
 */
#include "base/fxcsv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/array.h"
#include "base/currency.h"

static const char *const format_names[] = {
    [FXCSV_AUTO] = "auto",
    [FXCSV_ECB] = "ecb",
    [FXCSV_PLAIN] = "plain",
};

int fxcsv_format_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof(format_names) / sizeof(format_names[0])); i++) {
        if (strcmp(name, format_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *fxcsv_format_name(enum fxcsv_format f)
{
    return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f]
                                                                        : "?";
}

/* ---- lines and fields ---- */

struct field {
    const char *s;
    size_t n;
};

struct reader {
    const char *p, *end;
    const char *file;
    unsigned line;         /* of the line last read */
    ARRAY(struct field) f; /* its fields, trimmed; f.n counts empty ones too */
    char *err;
    size_t errlen;
};

static int fail(struct reader *r, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err = "FILE:LINE: ..." (or "FILE: ..." for line 0); -1. */
static int fail(struct reader *r, unsigned line, const char *fmt, ...)
{
    va_list ap;
    int n = line ? snprintf(r->err, r->errlen, "%s:%u: ", r->file, line)
                 : snprintf(r->err, r->errlen, "%s: ", r->file);

    if (n >= 0 && (size_t)n < r->errlen) {
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A field as the messages quote it: at most 24 bytes, other than printable
 * ASCII shown as '?'. */
static const char *show(const struct field *f, char buf[32])
{
    size_t n = f->n > 24 ? 24 : f->n, o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)f->s[i];

        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (n < f->n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static void trim(struct field *f)
{
    while (f->n > 0 && is_space(f->s[0])) {
        f->s++;
        f->n--;
    }
    while (f->n > 0 && is_space(f->s[f->n - 1])) {
        f->n--;
    }
    if (f->n >= 2 && f->s[0] == '"' && f->s[f->n - 1] == '"') {
        f->s++;
        f->n -= 2;
        trim(f);
    }
}

/* The next line that is not blank, split into fields: 1, 0 at the end, -1
 * on ENOMEM (err set). */
static int next_line(struct reader *r)
{
    while (r->p < r->end) {
        const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        const char *s = r->p, *e = nl ? nl : r->end;
        int blank = 1;

        r->p = nl ? nl + 1 : r->end;
        r->line++;
        if (e > s && e[-1] == '\r') {
            e--;
        }
        for (const char *c = s; c < e; c++) {
            if (!is_space(*c)) {
                blank = 0;
                break;
            }
        }
        if (blank) {
            continue;
        }
        array_clear(&r->f);
        for (;;) {
            const char *comma = memchr(s, ',', (size_t)(e - s));
            struct field *f = array_push(&r->f);

            if (f == NULL) {
                return fail(r, 0, "out of memory");
            }
            f->s = s;
            f->n = (size_t)((comma ? comma : e) - s);
            trim(f);
            if (comma == NULL) {
                break;
            }
            s = comma + 1;
        }
        return 1;
    }
    return 0;
}

/* The fields but the empty ones at the end (a trailing comma). */
static size_t width(const struct reader *r)
{
    size_t n = r->f.n;

    while (n > 0 && r->f.v[n - 1].n == 0) {
        n--;
    }
    return n;
}

static int field_is(const struct field *f, const char *word)
{
    return f->n == strlen(word) && strncasecmp(f->s, word, f->n) == 0;
}

/* ---- values ---- */

static int get_day(struct reader *r, const struct field *f, int32_t *day)
{
    char shown[32];

    if (fx_day_parse(f->s, f->n, day) < 0) {
        return fail(r, r->line, "'%s' is not a date (YYYY-MM-DD)", show(f, shown));
    }
    return 0;
}

/* An active code: 0 with code filled; else -1 with the message. */
static int get_code(struct reader *r, const struct field *f, char code[4])
{
    char shown[32];

    if (f->n != 3 || currency_exponent(f->s) < 0) {
        int letters = f->n == 3;

        for (size_t i = 0; i < f->n && letters; i++) {
            letters = f->s[i] >= 'A' && f->s[i] <= 'Z';
        }
        return letters ? fail(r, r->line,
                              "unknown currency code '%s' (not an active ISO 4217 code)",
                              show(f, shown))
                       : fail(r, r->line,
                              "'%s' is not a currency code (three upper-case letters)",
                              show(f, shown));
    }
    memcpy(code, f->s, 3);
    code[3] = '\0';
    return 0;
}

static int get_rate(struct reader *r, const struct field *f, const char *code,
                    struct fx_rate *rate)
{
    const char *why;
    char shown[32];

    if (fx_rate_parse(f->s, f->n, rate, &why) < 0) {
        return fail(r, r->line, "%s: '%s' is not a rate: %s", code, show(f, shown), why);
    }
    return 0;
}

/* A rate of the base itself: it must be 1, and says nothing more. */
static int check_base_rate(struct reader *r, const struct field *f, const char *base)
{
    struct fx_rate rate;
    char shown[32];

    if (get_rate(r, f, base, &rate) < 0) {
        return -1;
    }
    if (!fx_rate_eq(&rate, &FX_RATE_ONE)) {
        return fail(r, r->line, "%s is the base: its rate is 1, not '%s'", base,
                    show(f, shown));
    }
    return 0;
}

static int add_quote(struct reader *r, struct fx_quotes *out, const char *code,
                     int32_t day, const struct fx_rate *rate)
{
    struct fx_quote *q = array_push(&out->q);

    if (q == NULL) {
        return fail(r, 0, "out of memory");
    }
    memcpy(q->code, code, 4);
    q->day = day;
    q->rate = *rate;
    q->line = r->line;
    return 0;
}

/* ---- the two layouts ---- */

enum column_kind { COL_RATE, COL_BASE, COL_WITHDRAWN };

struct column {
    char code[4];
    enum column_kind kind;
};

static int ecb_header(struct reader *r, const char *base, struct column **cols,
                      size_t *ncols, struct fxcsv_report *rep)
{
    size_t w = width(r);
    char shown[32];

    if (!field_is(&r->f.v[0], "Date")) {
        return fail(r, r->line,
                    "the header must start with Date, then the currencies "
                    "(the ECB's layout)");
    }
    if (w < 2) {
        return fail(r, r->line, "the header names no currency");
    }
    *ncols = w - 1;
    if ((*cols = calloc(*ncols, sizeof(**cols))) == NULL) {
        return fail(r, 0, "out of memory");
    }
    for (size_t j = 0; j < *ncols; j++) {
        const struct field *f = &r->f.v[j + 1];
        struct column *c = &(*cols)[j];

        if (f->n == 3 && currency_withdrawn(f->s)) {
            memcpy(c->code, f->s, 3);
            c->kind = COL_WITHDRAWN;
            rep->withdrawn++;
            if (strlen(rep->withdrawn_codes) + 5 <= sizeof(rep->withdrawn_codes)) {
                if (rep->withdrawn_codes[0]) {
                    strcat(rep->withdrawn_codes, " ");
                }
                strcat(rep->withdrawn_codes, c->code);
            }
        } else if (f->n == 0) {
            return fail(r, r->line, "column %zu of the header names no currency", j + 2);
        } else if (get_code(r, f, c->code) < 0) {
            return -1;
        } else {
            c->kind = strcmp(c->code, base) == 0 ? COL_BASE : COL_RATE;
        }
        for (size_t k = 0; k < j; k++) {
            if (strcmp((*cols)[k].code, c->code) == 0) {
                return fail(r, r->line,
                            "%s is named twice in the header (columns %zu "
                            "and %zu)",
                            show(f, shown), k + 2, j + 2);
            }
        }
    }
    return 0;
}

static int ecb_rows(struct reader *r, const char *base, struct fx_quotes *out,
                    struct fxcsv_report *rep)
{
    struct column *cols = NULL;
    size_t ncols = 0;
    int rc;

    if (ecb_header(r, base, &cols, &ncols, rep) < 0) {
        free(cols);
        return -1;
    }
    while ((rc = next_line(r)) > 0) {
        int32_t day;

        if (r->f.n < ncols + 1 || width(r) > ncols + 1) {
            size_t n = (r->f.n < ncols + 1 ? r->f.n : width(r)) - 1;

            rc = fail(r, r->line, "%zu value%s, the header names %zu currenc%s", n,
                      n == 1 ? "" : "s", ncols, ncols == 1 ? "y" : "ies");
            break;
        }
        if ((rc = get_day(r, &r->f.v[0], &day)) < 0) {
            break;
        }
        rep->rows++;
        for (size_t j = 0; j < ncols && rc == 0; j++) {
            const struct field *f = &r->f.v[j + 1];
            struct fx_rate rate;

            if (cols[j].kind == COL_WITHDRAWN) {
                continue;
            }
            if (f->n == 0 || field_is(f, "N/A")) {
                rep->missing++;
                continue;
            }
            if (cols[j].kind == COL_BASE) {
                rc = check_base_rate(r, f, base);
            } else if ((rc = get_rate(r, f, cols[j].code, &rate)) == 0) {
                rc = add_quote(r, out, cols[j].code, day, &rate);
            }
        }
        if (rc < 0) {
            break;
        }
    }
    free(cols);
    return rc < 0 ? -1 : 0;
}

static int is_plain_header(const struct reader *r)
{
    return width(r) == 3 && field_is(&r->f.v[0], "date") &&
           field_is(&r->f.v[1], "currency") && field_is(&r->f.v[2], "rate");
}

static int plain_rows(struct reader *r, const char *base, struct fx_quotes *out,
                      struct fxcsv_report *rep)
{
    int rc;

    if (!is_plain_header(r)) {
        return fail(r, r->line, "the header must be date,currency,rate");
    }
    while ((rc = next_line(r)) > 0) {
        size_t w = width(r);
        int32_t day;
        char code[4];
        struct fx_rate rate;

        if (w != 3) {
            return fail(r, r->line, "%zu fields, 3 wanted (date,currency,rate)", w);
        }
        if (get_day(r, &r->f.v[0], &day) < 0 || get_code(r, &r->f.v[1], code) < 0) {
            return -1;
        }
        rep->rows++;
        if (strcmp(code, base) == 0) {
            if (check_base_rate(r, &r->f.v[2], base) < 0) {
                return -1;
            }
            continue;
        }
        if (get_rate(r, &r->f.v[2], code, &rate) < 0 ||
            add_quote(r, out, code, day, &rate) < 0) {
            return -1;
        }
    }
    return rc;
}

/* ---- the same quote twice ---- */

static int quote_cmp(const void *a, const void *b)
{
    const struct fx_quote *x = a, *y = b;
    int c = strcmp(x->code, y->code);

    if (c != 0) {
        return c;
    }
    if (x->day != y->day) {
        return x->day < y->day ? -1 : 1;
    }
    return (x->line > y->line) - (x->line < y->line);
}

/* Sort by currency and day; a repeat with the same rate is dropped, one
 * with another rate refused (the earliest such line of the file). */
static int dedup(struct reader *r, struct fx_quotes *out, struct fxcsv_report *rep)
{
    struct fx_quote bad = {0}, first = {0}; /* copies: the array is compacted */
    size_t o = 0;

    qsort(out->q.v, out->q.n, sizeof(out->q.v[0]), quote_cmp);
    for (size_t i = 0; i < out->q.n; i++) {
        const struct fx_quote q = out->q.v[i];

        if (o > 0 && strcmp(out->q.v[o - 1].code, q.code) == 0 &&
            out->q.v[o - 1].day == q.day) {
            if (!fx_rate_eq(&out->q.v[o - 1].rate, &q.rate) &&
                (bad.line == 0 || q.line < bad.line)) {
                bad = q;
                first = out->q.v[o - 1];
            }
            rep->repeated++;
            continue;
        }
        out->q.v[o++] = q;
    }
    if (bad.line != 0) {
        char day[FX_DAY_TEXT], a[FX_RATE_TEXT_MAX], b[FX_RATE_TEXT_MAX];

        fx_day_format(bad.day, day);
        fx_rate_format(&first.rate, a, sizeof(a));
        fx_rate_format(&bad.rate, b, sizeof(b));
        return fail(r, bad.line, "%s on %s is %s here and %s on line %u", bad.code, day,
                    b, a, first.line);
    }
    out->q.n = o;
    return 0;
}

int fxcsv_parse(const char *text, size_t len, const char *file, enum fxcsv_format fmt,
                const char base[3], struct fx_quotes *out, struct fxcsv_report *rep,
                char *err, size_t errlen)
{
    struct reader r = {
        .p = text, .end = text + len, .file = file, .err = err, .errlen = errlen};
    struct fxcsv_report scratch;
    char b[4];
    int rc;

    if (rep == NULL) {
        rep = &scratch;
    }
    memset(rep, 0, sizeof(*rep));
    array_clear(&out->q);
    memcpy(b, base, 3);
    b[3] = '\0';
    memcpy(out->base, b, 4);
    if (currency_exponent(b) < 0) {
        rc = fail(&r, 0, "the base '%s' is not an active ISO 4217 code", b);
        goto out;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        r.p += 3; /* a byte-order mark */
    }
    if ((rc = next_line(&r)) <= 0) {
        rc = rc < 0 ? -1 : fail(&r, 0, "empty: no header");
        goto out;
    }
    if (fmt == FXCSV_AUTO) {
        fmt = is_plain_header(&r) ? FXCSV_PLAIN : FXCSV_ECB;
    }
    rep->format = fmt;
    rc = fmt == FXCSV_PLAIN ? plain_rows(&r, b, out, rep) : ecb_rows(&r, b, out, rep);
    if (rc == 0 && out->q.n == 0) {
        rc = fail(&r, 0,
                  rep->rows ? "no rates: every value is N/A or empty"
                            : "no rates: a header and nothing else");
    }
    if (rc == 0) {
        rc = dedup(&r, out, rep);
    }
    if (rc == 0) {
        rep->first_day = out->q.v[0].day;
        rep->last_day = out->q.v[0].day;
        for (size_t i = 1; i < out->q.n; i++) {
            if (out->q.v[i].day < rep->first_day) {
                rep->first_day = out->q.v[i].day;
            }
            if (out->q.v[i].day > rep->last_day) {
                rep->last_day = out->q.v[i].day;
            }
        }
    }
out:
    array_free(&r.f);
    if (rc < 0) {
        array_clear(&out->q);
        return -1;
    }
    return 0;
}
