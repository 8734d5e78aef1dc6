/*
 * model.c - one model pass: apply (fold.c), advance time, derive every
 * score and class, and turn the transitions into emissions.
 *
 * The pass time is the newest time the customer has been evaluated at
 * (max of its as_of and the event or sweep time), so an out-of-order event
 * never moves the windows, P(alive) or the expiries backwards.
 */
#include "state/model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/numfmt.h"
#include "base/satint.h"
#include "state/model/attitude.h"
#include "state/model/brand.h"
#include "state/model/criteria.h"
#include "state/model/derived.h"
#include "state/model/fold.h"
#include "state/model/mconfig.h"
#include "state/model/reward.h"
#include "state/model/risk.h"
#include "state/model/segment.h"
#include "state/model/window.h"

#define KIND_REWARD "reward-trigger"
#define KIND_CHURN  "churn-risk"
#define KIND_SEG    "segment-change"

void emission_list_init(struct emission_list *l)
{
    memset(l, 0, sizeof(*l));
}

void emission_list_free(struct emission_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].payload);
    }
    array_free(l);
}

/* Takes ownership of payload (freed on failure). */
static int emission_push(struct emission_list *l, enum out_kind kind,
                         const char *event_id, char *payload)
{
    struct emission *e;

    if (!payload) {
        return -1;
    }
    if ((e = array_push(l)) == NULL) {
        free(payload);
        return -1;
    }
    e->kind = kind;
    memcpy(e->event_id, event_id, sizeof(e->event_id));
    e->payload = payload;
    return 0;
}

/* ---- derive ------------------------------------------------------------ */

static void derive_windows(struct customer *c, int32_t now_day)
{
    struct win_sums s30, s90, s365;
    int64_t n = customer_net_orders(c);

    win_sum(c, now_day, 30, &s30);
    win_sum(c, now_day, 90, &s90);
    win_sum(c, now_day, 365, &s365);
    c->orders_30d = s30.orders;
    c->orders_90d = s90.orders;
    c->orders_365d = s365.orders;
    c->spend_365d = (double)sat_sub(s365.spend_cents, s365.refund_cents) / 100.0;
    /* Returns take their share of the margin: the refunded part of revenue. */
    c->costed_365d = s365.costed;
    c->margin_365d = s365.costed > 0 && s365.spend_cents > 0
                         ? numfmt_q6((double)s365.margin_cents / 100.0 *
                                     (1.0 - fmin(1.0, (double)s365.refund_cents /
                                                          (double)s365.spend_cents)))
                         : 0;
    c->aov = n ? (double)llround((double)c->spend_cents / (double)n) / 100.0 : 0;
}

static void derive_value(struct customer *c, const struct model_ctx *m,
                         const struct risk_eval *r)
{
    double mvalue = customer_repeat_spend(c), purchases, value;

    c->p_alive = numfmt_q6(r->p_alive);
    if (c->purchase_days == 0) {
        c->exp_purchases = c->exp_value = c->clv = 0;
        return;
    }
    /* bg_clv's product, with each factor computed once. */
    purchases = bg_expected_purchases(&m->bg, r->x, r->t_x, r->T, m->cfg->horizon_weeks);
    value = gg_expected_value(&m->gg, r->x, mvalue);
    c->exp_purchases = numfmt_q6(purchases);
    c->exp_value = numfmt_q6(value);
    c->clv = numfmt_q6(purchases * value);
}

static enum tier tier_qualified(const struct customer *c, const struct model_config *cfg)
{
    enum tier q = TIER_NONE;

    for (int t = TIER_BRONZE; t < TIER__COUNT; t++) {
        if (c->spend_365d >= cfg->tier_spend[t] &&
            (double)c->orders_365d >= cfg->tier_orders[t]) {
            q = (enum tier)t;
        }
    }
    return q;
}

/* Returns 1 on an upgrade.  A fall below the tier starts the grace period;
 * the tier drops to what the figures support once it has run out. */
static int derive_tier(struct customer *c, const struct model_config *cfg, int64_t now_ms)
{
    enum tier q = tier_qualified(c, cfg);

    if (q > c->tier) {
        c->tier = q;
        c->tier_grace_until_ms = 0;
        return 1;
    }
    if (q == c->tier) {
        c->tier_grace_until_ms = 0;
        return 0;
    }
    if (!c->tier_grace_until_ms) {
        c->tier_grace_until_ms = now_ms + (int64_t)cfg->tier_grace_days * CU_DAY_MS;
    }
    if (now_ms >= c->tier_grace_until_ms) {
        c->tier = q;
        c->tier_grace_until_ms = 0;
    }
    return 0;
}

struct derived_view {
    struct risk_eval risk;
    struct brand_view brand;
    struct att_view att;
    struct seg_view seg;
    int tier_up;
    int crossed;
};

static void derive(struct pass *p, struct derived_view *d)
{
    struct customer *c = p->c;
    const struct model_config *cfg = p->m->cfg;
    double norm[CR__COUNT];

    derive_windows(c, cu_day_of(p->now_ms));
    risk_evaluate(c, p->m, p->now_ms, &d->risk);
    derive_value(c, p->m, &d->risk);
    brand_classify(c, cfg, &d->brand);
    c->brand_type = d->brand.type;
    c->brand_share = numfmt_q6(d->brand.share);
    c->main_cat = d->brand.cat;
    att_evaluate(c, cfg, p->now_ms, &d->att);
    c->attitude = d->att.score;
    crit_normalise(c, cfg, &d->brand, d->att.ev[AT_RIVAL], norm);
    crit_score(c, cfg, norm);
    c->segment = seg_classify(c, cfg, d->risk.active, d->risk.factor, d->risk.p_eff,
                              c->attitude, p->now_ms, &d->seg);
    c->loyalty_type = att_type(cfg, c->attitude, seg_buying(c, cfg, &d->seg));
    d->tier_up = derive_tier(c, cfg, p->now_ms);
    c->churn_risk = d->risk.risk;
    d->crossed = 0;
    if (c->risk_armed && c->churn_risk >= cfg->churn_threshold) {
        c->risk_armed = 0;
        c->churn_seq++;
        d->crossed = 1;
    } else if (!c->risk_armed && c->churn_risk < cfg->churn_rearm) {
        c->risk_armed = 1;
    }
}

/* ---- emissions ---------------------------------------------------------- */

static int emit_reward(struct pass *p, struct emission_list *out, enum reward_type t,
                       const char *cause, const char *reason, struct derived_reward *rw)
{
    struct derived_reasons why = {{0}, 0};
    char id[33];

    if (!reward_allow(p->c, p->m->cfg, t, p->now_ms)) {
        return 0;
    }
    rw->type = t;
    reward_grade(p->c, p->m->cfg, rw);
    derived_reason_add(&why, reason);
    if (derived_id(p->c->id, KIND_REWARD, cause, id) < 0) {
        return -1;
    }
    reward_issued(p->c, rw, id, p->now_ms);
    return emission_push(out, OUT_REWARD, id,
                         derived_reward_payload(p->c, id, p->now_ms, &why, rw));
}

static int emit_progress(struct pass *p, const struct derived_view *d,
                         struct emission_list *out)
{
    char cause[EV_ID_MAX + 64];
    int rc = 0;

    /* Entering bronze is the first order itself, rewarded by no one. */
    if (d->tier_up && p->c->tier >= TIER_SILVER) {
        struct derived_reward rw = {.tier = cu_tier_name(p->c->tier)};
        snprintf(cause, sizeof(cause), "tier:%s:%d", rw.tier, (int)cu_day_of(p->now_ms));
        rc |= emit_reward(p, out, RW_TIER, cause, "tier_upgrade", &rw);
    }
    for (int i = 0; i < p->nmilestone; i++) {
        struct derived_reward rw = {.milestone = p->milestone[i]};
        snprintf(cause, sizeof(cause), "milestone:%d", p->milestone[i]);
        rc |= emit_reward(
            p, out, RW_MILESTONE, cause,
            p->milestone[i] == 2 ? "first_repeat_purchase" : "purchase_milestone", &rw);
    }
    if (p->advocacy[0]) {
        struct derived_reward rw = {0};
        snprintf(cause, sizeof(cause), "advocacy:%s", p->advocacy);
        rc |= emit_reward(p, out, RW_ADVOCACY, cause, "shared_review", &rw);
    }
    return rc;
}

/* Service recovery: judged on the tier and segment the customer had before
 * the bad experience (after it the segment is no longer trust). */
static int emit_recovery(struct pass *p, enum tier tier0, enum segment seg0,
                         struct emission_list *out)
{
    char cause[96];
    int rc = 0;

    if (tier0 < TIER_SILVER && seg0 != SEG_TRUST) {
        return 0;
    }
    for (int i = 0; i < p->nsig; i++) {
        struct derived_reward rw = {0};
        const char *name = cu_signal_name(p->sig[i].kind);
        /* The signal's time as well: the same order or conversation can be
         * the subject of a second signal of a kind once the first expired. */
        snprintf(cause, sizeof(cause), "recovery:%s:%016llx:%lld", name,
                 (unsigned long long)p->sig[i].ref, (long long)p->sig[i].ts_ms);
        rc |= emit_reward(p, out, RW_RECOVERY, cause, name, &rw);
    }
    return rc;
}

static int emit_churn(struct pass *p, const struct derived_view *d,
                      struct emission_list *out)
{
    const struct model_config *cfg = p->m->cfg;
    struct customer *c = p->c;
    char cause[64], id[33];
    int rc;

    snprintf(cause, sizeof(cause), "churn:%lld", (long long)c->churn_seq);
    if (derived_id(c->id, KIND_CHURN, cause, id) < 0) {
        return -1;
    }
    rc = emission_push(
        out, OUT_CHURN_RISK, id,
        derived_churn_payload(c, id, p->now_ms, cfg->churn_threshold, &d->risk.why));
    if (rc == 0 &&
        (c->clv >= cfg->winback_min_clv || c->spend_365d >= cfg->winback_min_spend)) {
        struct derived_reward rw = {0};
        snprintf(cause, sizeof(cause), "winback:%lld", (long long)c->churn_seq);
        rc = emit_reward(p, out, RW_WINBACK, cause, "valuable_at_risk", &rw);
    }
    return rc;
}

static const char *const brand_codes[BT__COUNT] = {
    "brand_undetermined", "brand_complete", "brand_occasional", "brand_switching",
    "brand_split",        "brand_none",     "brand_variety"};

/* A change of segment, brand-loyalty type or loyalty type. */
static int emit_segment(struct pass *p, const struct derived_view *d,
                        const struct seg_classes *was, struct emission_list *out)
{
    struct customer *c = p->c;
    struct derived_reasons why = {{0}, 0};
    char cause[64], id[33];

    if (was->segment == c->segment && was->brand_type == c->brand_type &&
        was->loyalty_type == c->loyalty_type) {
        return 0;
    }
    if (was->segment != c->segment) {
        derived_reason_add(&why, d->seg.rule);
    }
    if (was->brand_type != c->brand_type) {
        derived_reason_add(&why, brand_codes[c->brand_type]);
    }
    if (was->loyalty_type != c->loyalty_type) {
        derived_reason_add(&why, cu_loyalty_type_name(c->loyalty_type));
    }
    c->segment_seq++;
    snprintf(cause, sizeof(cause), "segment:%lld", (long long)c->segment_seq);
    if (derived_id(c->id, KIND_SEG, cause, id) < 0) {
        return -1;
    }
    return emission_push(out, OUT_SEGMENT, id,
                         derived_segment_payload(c, id, p->now_ms, &why, was));
}

/* advance, derive, emit: the shape of every pass. */
static int finish_pass(struct pass *p, struct emission_list *out)
{
    enum tier tier0 = p->c->tier;
    struct seg_classes was = {p->c->segment, p->c->brand_type, p->c->loyalty_type};
    struct derived_view d;
    int rc;

    fold_advance(p);
    derive(p, &d);
    p->c->as_of_ms = p->now_ms;
    p->c->model_version = p->m->version;
    rc = emit_progress(p, &d, out);
    rc |= emit_recovery(p, tier0, was.segment, out);
    if (d.crossed) {
        rc |= emit_churn(p, &d, out);
    }
    rc |= emit_segment(p, &d, &was, out);
    return rc ? -1 : 0;
}

static void pass_init(struct pass *p, struct customer *c, const struct model_ctx *m,
                      int64_t t_ms)
{
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->m = m;
    p->now_ms = t_ms > c->as_of_ms ? t_ms : c->as_of_ms;
}

int model_apply(struct customer *c, const struct event *ev, const struct model_ctx *m,
                struct emission_list *out, char *err, size_t errlen)
{
    struct pass p;

    if (!c->id[0]) {
        snprintf(c->id, sizeof(c->id), "%s", ev->customer_id);
    }
    if (strcmp(c->id, ev->customer_id) != 0) {
        snprintf(err, errlen, "event for customer \"%s\" applied to \"%s\"",
                 ev->customer_id, c->id);
        return -1;
    }
    if (ev->ts_ms < 0 || (unsigned)ev->type >= EV__COUNT) {
        snprintf(err, errlen, "event %s: bad time or type", ev->event_id);
        return -1;
    }
    pass_init(&p, c, m, ev->ts_ms);
    if (ev->type == EV_ORDER_RETURNED) {
        int r = fold_refund(&p, ev);

        if (r == -2) {
            snprintf(err, errlen,
                     "no %s rate on or before the return's day, and its order "
                     "is not among the customer's last %d",
                     ev->paid.currency, CU_PAID_MAX);
            return MODEL_NO_RATE;
        }
        if (r < 0) {
            snprintf(err, errlen, "amount: out of range once converted");
            return -1;
        }
    }
    fold_event(&p, ev);
    if (finish_pass(&p, out) < 0) {
        snprintf(err, errlen, "out of memory formatting derived events");
        return -1;
    }
    return 0;
}

int model_sweep(struct customer *c, int64_t now_ms, const struct model_ctx *m,
                struct emission_list *out)
{
    struct pass p;

    pass_init(&p, c, m, now_ms);
    p.sweep = 1;
    return finish_pass(&p, out);
}

int model_rescore(struct customer *c, const struct model_ctx *m,
                  struct emission_list *out)
{
    if (c->model_version >= m->version || c->as_of_ms <= 0) {
        return 0;
    }
    return model_sweep(c, c->as_of_ms, m, out) < 0 ? -1 : 1;
}

/* ---- next due ----------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t due_lists(const struct customer *c, const struct model_config *cfg)
{
    int64_t due = INT64_MAX;
    int64_t sla = (int64_t)llround(cfg->sla_hours * 3600000.0);

    int64_t resolve = (int64_t)llround(cfg->resolve_hours * 3600000.0);

    for (uint32_t i = 0; i < c->nconv; i++) {
        if (cu_conv_awaits_reply(&c->conv[i])) {
            due = min64(due, c->conv[i].pending_ms + sla);
        }
        if (cu_conv_awaits_resolution(&c->conv[i])) {
            due = min64(due, c->conv[i].opened_ms + resolve);
        }
    }
    for (uint32_t i = 0; i < c->ninc; i++) {
        due =
            min64(due, c->inc[i].ts_ms + (int64_t)cfg->incident_window_days * CU_DAY_MS);
    }
    for (uint32_t i = 0; i < c->nsig; i++) {
        due = min64(due, c->sig[i].ts_ms + (int64_t)cfg->signal_window_days * CU_DAY_MS);
    }
    return due;
}

/* The tier can fall when a day leaves the 365-day window or a grace ends. */
static int64_t due_tier(const struct customer *c)
{
    if (c->tier_grace_until_ms) {
        return c->tier_grace_until_ms;
    }
    if (c->tier > TIER_NONE && c->ndays > 0) {
        return ((int64_t)c->days[0].day + 365) * CU_DAY_MS;
    }
    return INT64_MAX;
}

int64_t model_next_due(const struct customer *c, const struct model_ctx *m)
{
    int64_t due = min64(due_lists(c, m->cfg), due_tier(c));

    /* P falling below palive_low can only move a segment into lapsing. */
    due = min64(due, risk_next_due(c, m,
                                   c->segment != SEG_LAPSING && c->segment != SEG_AT_RISK
                                       ? m->cfg->palive_low
                                       : 0));
    due = min64(due, seg_next_due(c, m->cfg));
    if (due != INT64_MAX && due <= c->as_of_ms) {
        due = c->as_of_ms + 1;
    }
    return due;
}

int model_advance(struct customer *c, int64_t until_ms, const struct model_ctx *m,
                  struct emission_list *out)
{
    int64_t last = INT64_MIN;
    int n = 0;

    while (n < MODEL_ADVANCE_MAX) {
        int64_t due = model_next_due(c, m);

        if (due > until_ms || due <= last) {
            break;
        }
        last = due;
        if (model_sweep(c, due > c->as_of_ms ? due : c->as_of_ms, m, out) < 0) {
            return -1;
        }
        n++;
    }
    return n;
}
