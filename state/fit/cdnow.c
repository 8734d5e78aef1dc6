/*
 * cdnow.c - CDNOW transaction and summary loaders (see cdnow.h).
 */
#include "state/fit/cdnow.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/civil.h"

#define TX_FIELDS      5
#define SUM_FIELDS_MAX 5

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen,
                                                         const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int cdnow_parse_date(const char *s, long *day)
{
    int v[8], y, m, d;

    for (int i = 0; i < 8; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v[i] = s[i] - '0';
    }
    if (s[8] != '\0') {
        return -1;
    }
    y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    m = v[4] * 10 + v[5];
    d = v[6] * 10 + v[7];
    if (m < 1 || m > 12 || d < 1 || d > civil_days_in_month(y, m)) {
        return -1;
    }
    *day = (long)civil_days_from_ymd(y, m, d);
    return 0;
}

/* ---- shared parsing helpers -------------------------------------------- */

static void strip_eol(char *line)
{
    size_t len = strlen(line);

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
}

static int is_blank(const char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    return *s == '\0';
}

/* A whole token of decimal digits, at most 9 of them. */
static int parse_id(const char *s, long *out)
{
    size_t len = strlen(s);

    if (len == 0 || len > 9 || strspn(s, "0123456789") != len) {
        return -1;
    }
    *out = strtol(s, NULL, 10);
    return 0;
}

/* A whole token holding a finite number >= 0. */
static int parse_nonneg(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(*out) || *out < 0) {
        return -1;
    }
    return 0;
}

/* Splits s in place at any run of `seps`; returns the field count (up to
 * max + 1 to reveal extra fields).  Empty fields are kept only when seps is
 * a single separator (CSV); whitespace runs never make empty fields. */
static int split(char *s, const char *seps, char **f, int max)
{
    int n = 0, csv = seps[1] == '\0';

    if (!csv) {
        s += strspn(s, seps);
    }
    while (*s != '\0' || (csv && n > 0 && n <= max)) {
        if (n > max) {
            return n;
        }
        f[n++] = s;
        s += strcspn(s, seps);
        if (*s == '\0') {
            break;
        }
        *s++ = '\0';
        if (!csv) {
            s += strspn(s, seps);
        }
    }
    return n;
}

/* ---- transactions -------------------------------------------------------- */

struct tx {
    long id, day;
    double value;
};

struct txbuf {
    ARRAY(struct tx);
};

/* One line "master sample YYYYMMDD count value"; NULL or the reason. */
static const char *tx_parse(char *line, struct tx *t)
{
    char *f[TX_FIELDS + 1];
    long master, count;
    int nf = split(line, " \t", f, TX_FIELDS);

    if (nf != TX_FIELDS) {
        return "expected 5 fields: master_id sample_id YYYYMMDD count value";
    }
    if (parse_id(f[0], &master) < 0) {
        return "bad master id";
    }
    if (parse_id(f[1], &t->id) < 0) {
        return "bad sample id";
    }
    if (cdnow_parse_date(f[2], &t->day) < 0) {
        return "bad date, expected YYYYMMDD";
    }
    if (parse_id(f[3], &count) < 0) {
        return "bad count";
    }
    if (parse_nonneg(f[4], &t->value) < 0) {
        return "bad value";
    }
    return NULL;
}

static int tx_read(const char *path, struct txbuf *b, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    const char *why;
    struct tx t;
    int rc = -1;

    if (fp == NULL) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        strip_eol(line);
        if (is_blank(line)) {
            continue;
        }
        if ((why = tx_parse(line, &t)) != NULL) {
            seterr(err, errlen, "%s:%zu: %s", path, lineno, why);
            goto out;
        }
        if (array_append(b, t) < 0) {
            seterr(err, errlen, "%s:%zu: out of memory", path, lineno);
            goto out;
        }
    }
    if (ferror(fp)) {
        seterr(err, errlen, "%s: read error", path);
    } else if (b->n == 0) {
        seterr(err, errlen, "%s: no transactions", path);
    } else {
        rc = 0;
    }
out:
    free(line);
    fclose(fp);
    return rc;
}

static int tx_cmp(const void *pa, const void *pb)
{
    const struct tx *a = pa, *b = pb;

    if (a->id != b->id) {
        return a->id < b->id ? -1 : 1;
    }
    return (a->day > b->day) - (a->day < b->day);
}

/* Summarises one customer's day-sorted transactions v[0..n). */
static void tx_customer(const struct tx *v, size_t n, long cal_end, long hold_end,
                        double unit_days, struct bg_obs *o, unsigned *holdout)
{
    long first = v[0].day, last = first, prev = first;
    double repeat_value = 0.0;
    unsigned days = 1, hdays = 0;

    for (size_t i = 1; i < n; i++) {
        if (v[i].day <= cal_end) {
            days += v[i].day != prev;
            last = v[i].day;
            if (v[i].day != first) {
                repeat_value += v[i].value;
            }
        } else if (v[i].day <= hold_end) {
            hdays += v[i].day != prev;
        }
        prev = v[i].day;
    }
    o->x = days - 1;
    o->t_x = (double)(last - first) / unit_days;
    o->T = (double)(cal_end - first) / unit_days;
    o->mvalue = days > 1 ? repeat_value / (days - 1) : 0.0;
    *holdout = hdays;
}

/* Groups the sorted transactions into obs/hold (each sized b->n). */
static size_t tx_group(const struct txbuf *b, long cal_end, long hold_end,
                       double unit_days, struct bg_obs *obs, unsigned *hold)
{
    size_t m = 0, j;

    for (size_t i = 0; i < b->n; i = j) {
        for (j = i + 1; j < b->n && b->v[j].id == b->v[i].id; j++) {
            ;
        }
        if (b->v[i].day > cal_end) {
            continue;
        }
        tx_customer(&b->v[i], j - i, cal_end, hold_end, unit_days, &obs[m], &hold[m]);
        m++;
    }
    return m;
}

int cdnow_load_transactions_holdout(const char *path, long calibration_end_day,
                                    long holdout_end_day, double unit_days,
                                    struct bg_obs **obs, unsigned **holdout, size_t *n,
                                    char *err, size_t errlen)
{
    struct txbuf b = {0};
    struct bg_obs *o = NULL;
    unsigned *h = NULL;
    int rc = -1;

    *obs = NULL;
    *n = 0;
    if (holdout != NULL) {
        *holdout = NULL;
    }
    if (!(unit_days > 0) || !isfinite(unit_days)) {
        seterr(err, errlen, "%s: time unit must be a positive number of days", path);
        goto out;
    }
    if (tx_read(path, &b, err, errlen) < 0) {
        goto out;
    }
    qsort(b.v, b.n, sizeof *b.v, tx_cmp);
    o = malloc(b.n * sizeof *o);
    h = malloc(b.n * sizeof *h);
    if (o == NULL || h == NULL) {
        seterr(err, errlen, "%s: out of memory", path);
        goto out;
    }
    *n = tx_group(&b, calibration_end_day, holdout_end_day, unit_days, o, h);
    if (*n == 0) {
        seterr(err, errlen, "%s: no customer bought before the calibration end", path);
        goto out;
    }
    *obs = o;
    o = NULL;
    if (holdout != NULL) {
        *holdout = h;
        h = NULL;
    }
    rc = 0;
out:
    free(h);
    free(o);
    array_free(&b);
    return rc;
}

int cdnow_load_transactions(const char *path, long calibration_end_day, double unit_days,
                            struct bg_obs **obs, size_t *n, char *err, size_t errlen)
{
    return cdnow_load_transactions_holdout(path, calibration_end_day, calibration_end_day,
                                           unit_days, obs, NULL, n, err, errlen);
}

/* Merges each customer's same-day transactions in the sorted buffer, in
 * place; fills start[] (room for b->n + 1) and returns the customer count. */
static size_t tx_merge_days(struct txbuf *b, size_t *start)
{
    size_t m = 0, ncust = 0;

    for (size_t i = 0; i < b->n; i++) {
        if (m > 0 && b->v[m - 1].id == b->v[i].id && b->v[m - 1].day == b->v[i].day) {
            b->v[m - 1].value += b->v[i].value;
            continue;
        }
        if (m == 0 || b->v[m - 1].id != b->v[i].id) {
            start[ncust++] = m;
        }
        b->v[m++] = b->v[i];
    }
    start[ncust] = m;
    b->n = m;
    return ncust;
}

int cdnow_load_days(const char *path, long **day, double **value, size_t **start,
                    size_t *ncust, char *err, size_t errlen)
{
    struct txbuf b = {0};
    long *d = NULL;
    double *v = NULL;
    size_t *s = NULL;
    int rc = -1;

    *day = NULL;
    *value = NULL;
    *start = NULL;
    *ncust = 0;
    if (tx_read(path, &b, err, errlen) < 0) {
        goto out;
    }
    qsort(b.v, b.n, sizeof *b.v, tx_cmp);
    d = malloc(b.n * sizeof *d);
    v = malloc(b.n * sizeof *v);
    s = malloc((b.n + 1) * sizeof *s);
    if (d == NULL || v == NULL || s == NULL) {
        seterr(err, errlen, "%s: out of memory", path);
        goto out;
    }
    *ncust = tx_merge_days(&b, s);
    for (size_t i = 0; i < b.n; i++) {
        d[i] = b.v[i].day;
        v[i] = b.v[i].value;
    }
    *day = d;
    *value = v;
    *start = s;
    d = NULL;
    v = NULL;
    s = NULL;
    rc = 0;
out:
    free(s);
    free(v);
    free(d);
    array_free(&b);
    return rc;
}

/* ---- summaries ------------------------------------------------------------ */

/* Number of fields per row for a known header, 0 for an unknown one. */
static int sum_header(char *line)
{
    if (strncmp(line, "\xEF\xBB\xBF", 3) == 0) { /* a BOM from spreadsheet tools */
        line += 3;
    }
    if (strcmp(line, "ID,frequency,recency,T") == 0) {
        return 4;
    }
    if (strcmp(line, "ID,x,t_x,T,zbar") == 0) {
        return 5;
    }
    return 0;
}

/* One data row in weeks; NULL or the reason. */
static const char *sum_parse(char *line, int nfields, double scale, struct bg_obs *o)
{
    char *f[SUM_FIELDS_MAX + 1];
    double v[SUM_FIELDS_MAX] = {0};
    long id;

    if (split(line, ",", f, SUM_FIELDS_MAX) != nfields) {
        return nfields == 4 ? "expected 4 fields: ID,frequency,recency,T"
                            : "expected 5 fields: ID,x,t_x,T,zbar";
    }
    if (parse_id(f[0], &id) < 0) {
        return "bad ID";
    }
    for (int i = 1; i < nfields; i++) {
        if (parse_nonneg(f[i], &v[i]) < 0) {
            return "fields after ID must be finite numbers >= 0";
        }
    }
    if (v[1] != floor(v[1])) {
        return "repeat purchase count is not a whole number";
    }
    if (v[2] > v[3]) {
        return "recency t_x is larger than T";
    }
    *o = (struct bg_obs){v[1], v[2] * scale, v[3] * scale, v[4]};
    return NULL;
}

struct obsbuf {
    ARRAY(struct bg_obs);
};

/* Reads the rows after the header; -1 with err set on the first bad one. */
static int sum_rows(FILE *fp, const char *path, int nfields, double scale,
                    struct obsbuf *b, char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0, lineno = 1;
    const char *why;
    struct bg_obs o;
    int rc = -1;

    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        strip_eol(line);
        if (is_blank(line)) {
            continue;
        }
        if ((why = sum_parse(line, nfields, scale, &o)) != NULL) {
            seterr(err, errlen, "%s:%zu: %s", path, lineno, why);
            goto out;
        }
        if (array_append(b, o) < 0) {
            seterr(err, errlen, "%s:%zu: out of memory", path, lineno);
            goto out;
        }
    }
    if (ferror(fp)) {
        seterr(err, errlen, "%s: read error", path);
    } else if (b->n == 0) {
        seterr(err, errlen, "%s: no customers after the header", path);
    } else {
        rc = 0;
    }
out:
    free(line);
    return rc;
}

int cdnow_load_summary(const char *path, double unit_days, struct bg_obs **obs, size_t *n,
                       char *err, size_t errlen)
{
    FILE *fp = NULL;
    char *line = NULL;
    size_t cap = 0;
    struct obsbuf b = {0};
    int nfields, rc = -1;

    *obs = NULL;
    *n = 0;
    if (!(unit_days > 0) || !isfinite(unit_days)) {
        seterr(err, errlen, "%s: time unit must be a positive number of days", path);
        goto out;
    }
    if ((fp = fopen(path, "r")) == NULL) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (getline(&line, &cap, fp) < 0) {
        seterr(err, errlen, "%s: empty file", path);
        goto out;
    }
    strip_eol(line);
    if ((nfields = sum_header(line)) == 0) {
        seterr(err, errlen,
               "%s:1: unknown header, expected ID,frequency,recency,T or ID,x,t_x,T,zbar",
               path);
        goto out;
    }
    /* The file is in weeks. */
    if (sum_rows(fp, path, nfields, 7.0 / unit_days, &b, err, errlen) < 0) {
        goto out;
    }
    *obs = b.v;
    *n = b.n;
    b.v = NULL;
    rc = 0;
out:
    array_free(&b);
    free(line);
    if (fp != NULL) {
        fclose(fp);
    }
    return rc;
}
