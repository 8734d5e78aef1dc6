/*
 * risk.c - signals and churn risk.
 */
#include "state/model/risk.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/numfmt.h"

#define DUE_HORIZON_DAYS 36500

int risk_signal_add(struct customer *c, enum signal_kind k, int64_t ts_ms, uint64_t ref,
                    uint64_t conv)
{
    uint32_t i;

    for (i = 0; i < c->nsig; i++) {
        if (c->sig[i].kind == (uint32_t)k && c->sig[i].ref == ref) {
            return 0;
        }
    }
    if (c->nsig == CU_SIG_MAX) {
        memmove(&c->sig[0], &c->sig[1], (CU_SIG_MAX - 1) * sizeof(c->sig[0]));
        c->nsig--;
    }
    /* Kept sorted by time so the oldest is the one dropped. */
    for (i = c->nsig; i > 0 && c->sig[i - 1].ts_ms > ts_ms; i--) {
        c->sig[i] = c->sig[i - 1];
    }
    c->sig[i].ts_ms = ts_ms;
    c->sig[i].ref = ref;
    c->sig[i].kind = (uint32_t)k;
    c->sig[i].conv = conv;
    c->nsig++;
    c->signals_total++;
    return 1;
}

static int64_t window_ms(const struct model_config *cfg)
{
    return (int64_t)cfg->signal_window_days * CU_DAY_MS;
}

void risk_prune(struct customer *c, const struct model_config *cfg, int64_t now_ms)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < c->nsig; i++) {
        if (c->sig[i].ts_ms + window_ms(cfg) > now_ms) {
            c->sig[k++] = c->sig[i];
        }
    }
    c->nsig = k;
}

int risk_recent(const struct customer *c, enum signal_kind k, int64_t now_ms, int64_t win)
{
    for (uint32_t i = 0; i < c->nsig; i++) {
        if (c->sig[i].kind == (uint32_t)k && c->sig[i].ts_ms > now_ms - win &&
            c->sig[i].ts_ms <= now_ms) {
            return 1;
        }
    }
    return 0;
}

static void stats(const struct customer *c, int32_t now_day, struct risk_eval *r)
{
    struct bg_obs o;

    customer_bg_obs(c, now_day, 7.0, &o);
    r->x = o.x;
    r->t_x = o.t_x;
    r->T = o.T;
}

static void recency(const struct customer *c, const struct model_ctx *m,
                    struct risk_eval *r)
{
    const struct model_config *cfg = m->cfg;

    r->p_alive = c->purchase_days > 1 ? bg_palive(&m->bg, r->x, r->t_x, r->T) : 1.0;
    r->p_eff = r->p_alive;
    if (c->purchase_days == 1 && cfg->onetime_half_life_days > 0) {
        r->p_eff = pow(0.5, r->T * 7.0 / cfg->onetime_half_life_days);
    }
    if (!isfinite(r->p_eff) || r->p_eff < 0) {
        r->p_eff = 0;
    }
    if (r->p_eff < cfg->palive_low) {
        derived_reason_add(&r->why,
                           c->purchase_days > 1 ? "palive_low" : "inactive_one_time");
    }
}

void risk_evaluate(const struct customer *c, const struct model_ctx *m, int64_t now_ms,
                   struct risk_eval *r)
{
    const struct model_config *cfg = m->cfg;

    memset(r, 0, sizeof(*r));
    stats(c, cu_day_of(now_ms), r);
    recency(c, m, r);
    r->factor = 1.0;
    for (uint32_t i = 0; i < c->nsig; i++) {
        const struct cu_signal *s = &c->sig[i];
        if (s->ts_ms > now_ms - window_ms(cfg) && s->ts_ms <= now_ms) {
            r->factor *= 1.0 - cfg->signal_weight[s->kind];
            r->active++;
            derived_reason_add(&r->why, cu_signal_name((enum signal_kind)s->kind));
        }
    }
    r->risk = numfmt_q6(1.0 - r->p_eff * r->factor);
    if (r->risk < 0) {
        r->risk = 0;
    }
}

/* What a due time waits for: the risk reaching the threshold (arg), or
 * p_eff falling below a target (arg). */
typedef int (*day_test)(const struct customer *c, const struct model_ctx *m, int32_t day,
                        double arg);

static int risky_at(const struct customer *c, const struct model_ctx *m, int32_t day,
                    double threshold)
{
    struct risk_eval r;

    risk_evaluate(c, m, (int64_t)day * CU_DAY_MS, &r);
    return r.risk >= threshold;
}

static int palive_below(const struct customer *c, const struct model_ctx *m, int32_t day,
                        double target)
{
    struct risk_eval r;

    risk_evaluate(c, m, (int64_t)day * CU_DAY_MS, &r);
    return r.p_eff < target;
}

/* The closed-form day (from the first purchase day) at which p_eff reaches
 * target, or -1 if never. */
static double cross_days(const struct customer *c, const struct model_ctx *m,
                         const struct risk_eval *r, double target)
{
    if (c->purchase_days > 1) {
        double w = bg_time_palive_reaches(&m->bg, r->x, r->t_x, r->T, target);
        return w < 0 ? -1 : w * 7.0;
    }
    if (m->cfg->onetime_half_life_days <= 0) {
        return -1;
    }
    return m->cfg->onetime_half_life_days * log2(1.0 / target);
}

/* The first day after as_of at which test holds, starting from the closed
 * form d (days after the first purchase day): the closed form and the
 * quantised figures can disagree by a day.  INT64_MAX if d is never. */
static int64_t due_day(const struct customer *c, const struct model_ctx *m, double d,
                       day_test test, double arg)
{
    int32_t now_day = cu_day_of(c->as_of_ms);
    int64_t day;

    if (d < 0 || d > DUE_HORIZON_DAYS) {
        return INT64_MAX;
    }
    day = c->first_day + (int64_t)ceil(d - 1e-9);
    if (day <= now_day) {
        day = now_day + 1;
    }
    for (int k = 0; k < 3 && !test(c, m, (int32_t)day, arg); k++) {
        day++;
    }
    for (int k = 0; k < 30 && day - 1 > now_day && test(c, m, (int32_t)(day - 1), arg);
         k++) {
        day--;
    }
    return day * CU_DAY_MS;
}

/* The churn crossing of an armed customer evaluated as r at as_of. */
static int64_t cross_due(const struct customer *c, const struct model_ctx *m,
                         const struct risk_eval *r)
{
    double target = (1.0 - m->cfg->churn_threshold) / r->factor;

    if (!c->risk_armed) {
        return INT64_MAX;
    }
    if (r->risk >= m->cfg->churn_threshold || target >= 1.0) {
        return c->as_of_ms;
    }
    return due_day(c, m, cross_days(c, m, r, target), risky_at, m->cfg->churn_threshold);
}

int64_t risk_next_due(const struct customer *c, const struct model_ctx *m,
                      double palive_target)
{
    struct risk_eval r;
    int64_t due;

    if (c->purchase_days == 0) {
        return INT64_MAX;
    }
    risk_evaluate(c, m, c->as_of_ms, &r);
    due = cross_due(c, m, &r);
    /* p_eff already below the target: nothing left to happen. */
    if (palive_target > 0 && r.p_eff >= palive_target) {
        int64_t p = due_day(c, m, cross_days(c, m, &r, palive_target), palive_below,
                            palive_target);
        due = p < due ? p : due;
    }
    return due;
}
