/*
 * validate.c - holdout validation of BG/NBD and Gamma-Gamma (see validate.h).
 */
#include "state/fit/validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WEEK 7.0

/* ---- one customer ------------------------------------------------------- */

static void set_cal(struct val_cust *o, long cal_end, double cal_value)
{
    o->cal.t_x = (double)(o->last_day - o->first_day) / WEEK;
    o->cal.T = (double)(cal_end - o->first_day) / WEEK;
    o->cal.mvalue = o->cal.x > 0 && cal_value > 0 ? cal_value / o->cal.x : 0.0;
}

int val_split(const long *day, const double *value, size_t n, long cal_end, long hold_end,
              long *repeat, struct val_cust *out)
{
    double cal_value = 0.0;
    size_t k = 0;

    memset(out, 0, sizeof(*out));
    if (n == 0 || day[0] > cal_end) {
        return 1;
    }
    out->first_day = out->last_day = day[0];
    for (size_t i = 1; i < n && day[i] <= hold_end; i++) {
        double v = value ? value[i] : 0.0;

        repeat[k++] = day[i];
        if (day[i] <= cal_end) {
            out->cal.x++;
            out->last_day = day[i];
            cal_value += v;
        } else {
            out->hold_x++;
            out->hold_value += v;
        }
    }
    set_cal(out, cal_end, cal_value);
    out->days = repeat;
    out->ndays = k;
    out->cal_known = 1;
    return 0;
}

static int cmp_long(const void *pa, const void *pb)
{
    long a = *(const long *)pa, b = *(const long *)pb;

    return (a > b) - (a < b);
}

/* The purchase days the state names: its buckets with an order, and first,
 * last and previous day.  Sorted, distinct; returns the count. */
static size_t known_days(const struct customer *c, long *buf)
{
    size_t n = 0, m = 0;

    buf[n++] = c->first_day;
    buf[n++] = c->last_day;
    if (c->prev_day >= 0) {
        buf[n++] = c->prev_day;
    }
    for (uint32_t i = 0; i < c->ndays; i++) {
        if (c->days[i].orders > 0) {
            buf[n++] = c->days[i].day;
        }
    }
    qsort(buf, n, sizeof(*buf), cmp_long);
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || buf[i] != buf[m - 1]) {
            buf[m++] = buf[i];
        }
    }
    return m;
}

static int64_t bucket_cents(const struct customer *c, long lo, long hi)
{
    int64_t sum = 0;

    for (uint32_t i = 0; i < c->ndays; i++) {
        if (c->days[i].day > lo && c->days[i].day <= hi && c->days[i].orders > 0) {
            sum += c->days[i].spend_cents;
        }
    }
    return sum;
}

int val_from_state(const struct customer *c, long cal_end, long hold_end, long *buf,
                   struct val_cust *out)
{
    long now = c->as_of_ms > 0 ? cu_day_of(c->as_of_ms) : c->last_day;
    /* Every purchase day from win_lo on is still in a bucket: buckets leave
     * only once CU_WINDOW_DAYS old as of an evaluation, never later than as_of. */
    long win_lo = (now > c->last_day ? now : c->last_day) - CU_WINDOW_DAYS + 1, limit;
    size_t n, i, hold_from;
    long long unknown;

    memset(out, 0, sizeof(*out));
    if (c->purchase_days <= 0 || c->first_day > cal_end) {
        return 1;
    }
    if (win_lo > cal_end + 1) {
        return -1;
    }
    n = known_days(c, buf);
    unknown = (long long)c->purchase_days - (long long)n;
    if (unknown < 0) {
        return -1;
    }
    for (hold_from = 0; hold_from < n && buf[hold_from] <= cal_end; hold_from++) {
        ;
    }
    out->first_day = buf[0];
    out->last_day = buf[hold_from - 1];
    /* The days no longer named lie after the first and before both win_lo
     * and the previous day: the last calibration day is known only if it is
     * past all of them. */
    limit = c->prev_day >= 0 && c->prev_day < win_lo ? c->prev_day : win_lo;
    if (unknown > 0 && out->last_day < limit - 1) {
        return -1;
    }
    out->cal.x = (double)(c->purchase_days - 1 - (long long)(n - hold_from));
    for (i = hold_from; i < n && buf[i] <= hold_end; i++) {
        out->hold_x++;
    }
    out->hold_value = (double)bucket_cents(c, cal_end, hold_end) / 100.0;
    set_cal(out, cal_end,
            (double)(c->spend_cents - c->first_day_cents -
                     bucket_cents(c, cal_end, (long)INT32_MAX)) /
                100.0);
    out->cal_known = unknown == 0;
    out->days = out->cal_known ? buf + 1 : buf + hold_from;
    out->ndays = out->cal_known ? i - 1 : out->hold_x;
    return 0;
}

/* ---- the conditional-expectation table ---------------------------------- */

void val_cond_table(const struct val_cust *c, size_t n, const struct bg_params *p,
                    double t_hold, struct val_group g[VAL_GROUPS])
{
    memset(g, 0, sizeof(*g) * VAL_GROUPS);
    for (size_t i = 0; i < n; i++) {
        const struct bg_obs *o = &c[i].cal;
        size_t k = o->x < VAL_GROUPS - 1 ? (size_t)o->x : VAL_GROUPS - 1;

        g[k].n++;
        g[k].actual += c[i].hold_x;
        g[k].predicted += bg_expected_purchases(p, o->x, o->t_x, o->T, t_hold);
    }
    for (size_t k = 0; k < VAL_GROUPS; k++) {
        if (g[k].n > 0) {
            g[k].actual /= (double)g[k].n;
            g[k].predicted /= (double)g[k].n;
        }
    }
}

/* ---- AUC and deciles ---------------------------------------------------- */

struct scored {
    double s;
    int y;
    size_t i; /* input order, the tie-break that keeps sorting stable */
};

static int cmp_scored(const void *pa, const void *pb)
{
    const struct scored *a = pa, *b = pb;

    if (a->s != b->s) {
        return a->s < b->s ? -1 : 1;
    }
    return (a->i > b->i) - (a->i < b->i);
}

static struct scored *sorted(const double *score, const int *label, size_t n)
{
    struct scored *v = malloc((n ? n : 1) * sizeof(*v));

    if (v == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = (struct scored){score[i], label[i] != 0, i};
    }
    qsort(v, n, sizeof(*v), cmp_scored);
    return v;
}

double val_auc(const double *score, const int *label, size_t n)
{
    struct scored *v = sorted(score, label, n);
    double pos = 0, neg = 0, rank_sum = 0;

    if (v == NULL) {
        return NAN;
    }
    /* Ranks 1..n; a run of equal scores shares its mean rank. */
    for (size_t i = 0, j; i < n; i = j) {
        size_t npos = 0;

        for (j = i; j < n && v[j].s == v[i].s; j++) {
            npos += (size_t)v[j].y;
        }
        rank_sum += (double)npos * ((double)(i + 1) + (double)j) / 2.0;
        pos += (double)npos;
        neg += (double)(j - i - npos);
    }
    free(v);
    if (pos == 0 || neg == 0) {
        return NAN;
    }
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

/* Where decile k + 1 starts: after k tenths of n (the first n % 10 deciles
 * one larger), moved past a run of equal predictions so that the run stays
 * whole in the lower decile and the cut does not depend on input order. */
static size_t decile_cut(const struct scored *v, size_t n, size_t k, size_t prev)
{
    size_t cut = k * (n / VAL_DECILES) + (k < n % VAL_DECILES ? k : n % VAL_DECILES);

    if (cut < prev) {
        cut = prev;
    }
    while (cut > 0 && cut < n && v[cut].s == v[cut - 1].s) {
        cut++;
    }
    return cut;
}

int val_deciles(const double *pred, const int *label, size_t n,
                struct val_bin bins[VAL_DECILES])
{
    struct scored *v = sorted(pred, label, n);
    size_t at = 0;

    if (v == NULL) {
        return -1;
    }
    for (size_t k = 0; k < VAL_DECILES; k++) {
        struct val_bin *b = &bins[k];
        size_t end = k + 1 < VAL_DECILES ? decile_cut(v, n, k + 1, at) : n;

        *b = (struct val_bin){end - at, 0, 0};
        for (size_t i = at; i < end; i++) {
            b->predicted += v[i].s;
            b->observed += v[i].y;
        }
        at = end;
        if (b->n > 0) {
            b->predicted /= (double)b->n;
            b->observed /= (double)b->n;
        }
    }
    free(v);
    return 0;
}

/* ---- tracking ------------------------------------------------------------ */

static long earliest_first(const struct val_cust *c, size_t n)
{
    long lo = c[0].first_day;

    for (size_t i = 1; i < n; i++) {
        if (c[i].first_day < lo) {
            lo = c[i].first_day;
        }
    }
    return lo;
}

/* Index of the first point at or after day (npoints if none). */
static size_t point_of(const struct val_track *t, size_t npoints, long day)
{
    size_t lo = 0, hi = npoints;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (t[mid].day < day) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void track_expected(const struct val_cust *c, size_t n, const struct bg_params *p,
                           struct val_track *t, size_t npoints)
{
    for (size_t k = 0; k < npoints; k++) {
        t[k].expected = 0.0;
        for (size_t i = 0; i < n; i++) {
            if (c[i].first_day < t[k].day) {
                t[k].expected += bg_expected_purchases_new(
                    p, (double)(t[k].day - c[i].first_day) / WEEK);
            }
        }
    }
}

/* Histogram of the repeat days over the points, then summed up. */
static void track_actual(const struct val_cust *c, size_t n, long cal_end,
                         struct val_track *t, size_t npoints)
{
    size_t at_cal = point_of(t, npoints, cal_end);
    int all_known = 1;

    for (size_t k = 0; k < npoints; k++) {
        t[k].actual = 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        all_known &= c[i].cal_known;
        if (!c[i].cal_known) {
            t[at_cal].actual += c[i].cal.x;
        }
        for (size_t j = 0; j < c[i].ndays; j++) {
            size_t k = point_of(t, npoints, c[i].days[j]);

            if (k < npoints) {
                t[k].actual += 1.0;
            }
        }
    }
    for (size_t k = 1; k < npoints; k++) {
        t[k].actual += t[k - 1].actual;
    }
    for (size_t k = 0; !all_known && k < at_cal; k++) {
        t[k].actual = NAN;
    }
}

size_t val_tracking(const struct val_cust *c, size_t n, const struct bg_params *p,
                    long cal_end, long hold_end, struct val_track *out, size_t max)
{
    long start = n ? earliest_first(c, n) : cal_end;
    long back = (cal_end - start) / 7, fwd = (hold_end - cal_end) / 7;
    size_t need = (size_t)(back + 1 + fwd) + (cal_end + 7 * fwd < hold_end), k = 0;

    if (need > max) {
        return need;
    }
    for (long m = back; m >= 0; m--) {
        out[k++].day = cal_end - 7 * m;
    }
    for (long j = 1; j <= fwd; j++) {
        out[k++].day = cal_end + 7 * j;
    }
    if (k < need) {
        out[k++].day = hold_end;
    }
    track_expected(c, n, p, out, k);
    track_actual(c, n, cal_end, out, k);
    return k;
}

/* ---- Gamma-Gamma --------------------------------------------------------- */

void val_spend(const struct val_cust *c, size_t n, const struct gg_params *p,
               struct val_spend *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        double pred, act;

        if (!(c[i].cal.x > 0 && c[i].cal.mvalue > 0 && c[i].hold_x > 0)) {
            continue;
        }
        pred = gg_expected_value(p, c[i].cal.x, c[i].cal.mvalue);
        act = c[i].hold_value / c[i].hold_x;
        out->n++;
        out->predicted += pred;
        out->actual += act;
        out->mae += fabs(pred - act);
    }
    if (out->n > 0) {
        out->predicted /= (double)out->n;
        out->actual /= (double)out->n;
        out->mae /= (double)out->n;
    }
}

/* ---- all of it ------------------------------------------------------------ */

double val_p_eff(const struct bg_params *p, const struct bg_obs *o,
                 double onetime_half_life_days)
{
    if (o->x > 0) {
        return bg_palive(p, o->x, o->t_x, o->T);
    }
    return onetime_half_life_days > 0 ? pow(0.5, o->T * WEEK / onetime_half_life_days)
                                      : 1.0;
}

/* The scores of each customer, columns of sc[]: P(alive), the daemon's
 * p (val_p_eff), P(a purchase in the holdout), minus the recency. */
enum { SC_PALIVE, SC_RISK, SC_ACTIVE, SC_RECENCY, SC__COUNT };

static void scores(const struct val_cust *c, size_t n, const struct bg_params *p,
                   double half_life, double t_hold, long cal_end, double *sc[SC__COUNT],
                   int *label)
{
    for (size_t i = 0; i < n; i++) {
        const struct bg_obs *o = &c[i].cal;

        sc[SC_PALIVE][i] = bg_palive(p, o->x, o->t_x, o->T);
        sc[SC_RISK][i] = val_p_eff(p, o, half_life);
        sc[SC_ACTIVE][i] = bg_prob_any_purchase(p, o->x, o->t_x, o->T, t_hold);
        sc[SC_RECENCY][i] = -(double)(cal_end - c[i].last_day);
        label[i] = c[i].hold_x > 0;
    }
}

static void totals(const struct val_cust *c, size_t n, const struct bg_params *p,
                   struct val_report *r)
{
    for (size_t i = 0; i < n; i++) {
        const struct bg_obs *o = &c[i].cal;

        r->cal_actual += o->x;
        r->actual += c[i].hold_x;
        r->buyers += c[i].hold_x > 0;
        r->expected += bg_expected_purchases(p, o->x, o->t_x, o->T, r->hold_weeks);
    }
}

int val_run(const struct val_cust *c, size_t n, const struct bg_params *bp,
            const struct gg_params *gp, double onetime_half_life_days, long cal_end,
            long hold_end, struct val_report *r)
{
    double *sc[SC__COUNT] = {NULL};
    int *label = NULL, rc = -1, ok = 1;
    size_t need;

    memset(r, 0, sizeof(*r));
    if (n == 0) {
        return -1;
    }
    r->customers = n;
    r->hold_weeks = (double)(hold_end - cal_end) / WEEK;
    for (int k = 0; k < SC__COUNT; k++) {
        ok &= (sc[k] = malloc(n * sizeof(double))) != NULL;
    }
    label = malloc(n * sizeof(*label));
    need = val_tracking(c, n, bp, cal_end, hold_end, NULL, 0);
    r->track = malloc(need * sizeof(*r->track));
    if (!ok || !label || !r->track) {
        goto out;
    }
    r->ntrack = val_tracking(c, n, bp, cal_end, hold_end, r->track, need);
    r->track_cal = r->track[point_of(r->track, r->ntrack, cal_end)].expected;
    r->track_hold = r->track[r->ntrack - 1].expected - r->track_cal;
    totals(c, n, bp, r);
    val_cond_table(c, n, bp, r->hold_weeks, r->groups);
    scores(c, n, bp, onetime_half_life_days, r->hold_weeks, cal_end, sc, label);
    r->auc_palive = val_auc(sc[SC_PALIVE], label, n);
    r->auc_risk = val_auc(sc[SC_RISK], label, n);
    r->auc_active = val_auc(sc[SC_ACTIVE], label, n);
    r->auc_recency = val_auc(sc[SC_RECENCY], label, n);
    if (val_deciles(sc[SC_ACTIVE], label, n, r->deciles) < 0) {
        goto out;
    }
    val_spend(c, n, gp, &r->spend);
    rc = 0;
out:
    free(label);
    for (int k = 0; k < SC__COUNT; k++) {
        free(sc[k]);
    }
    if (rc < 0) {
        val_report_free(r);
    }
    return rc;
}

void val_report_free(struct val_report *r)
{
    free(r->track);
    r->track = NULL;
    r->ntrack = 0;
}
