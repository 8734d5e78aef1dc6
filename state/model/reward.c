/*
 * reward.c - reward grading, cooldowns and cap.
 */
#include "state/model/reward.h"

#include <math.h>
#include <string.h>

#include "base/minor.h"

#define CAP_WINDOW_MS (30 * CU_DAY_MS)

struct grade {
    const char *kind;
    double value;
};

/* [type][tier]: none, bronze, silver, gold, platinum.  Coupons and cashback
 * are in the customer's currency, points are points. */
static const struct grade grades[RW__COUNT][TIER__COUNT] = {
    [RW_MILESTONE] =
        {{"coupon", 5}, {"coupon", 5}, {"coupon", 10}, {"coupon", 15}, {"coupon", 20}},
    [RW_TIER] = {{"points", 0},
                 {"points", 100},
                 {"points", 250},
                 {"points", 500},
                 {"points", 1000}},
    [RW_ADVOCACY] = {{"points", 50},
                     {"points", 50},
                     {"points", 100},
                     {"points", 150},
                     {"points", 200}},
    [RW_RECOVERY] = {{"coupon", 10},
                     {"coupon", 10},
                     {"coupon", 15},
                     {"cashback", 25},
                     {"cashback", 40}},
    [RW_WINBACK] =
        {{"coupon", 10}, {"coupon", 10}, {"coupon", 15}, {"coupon", 25}, {"gift", 50}},
};

enum tier reward_grade_of(const struct customer *c, const struct model_config *cfg,
                          int *by_margin)
{
    enum tier g = TIER_BRONZE;

    *by_margin = c->costed_365d > 0 && c->costed_365d >= c->orders_365d;
    if (!*by_margin) {
        return c->tier;
    }
    for (int t = TIER_SILVER; t < TIER__COUNT; t++) {
        if (c->margin_365d >= cfg->margin_grade[t]) {
            g = (enum tier)t;
        }
    }
    return g;
}

/* reward.currency = order: the value in the currency of the latest order
 * as paid, at that order's rate (the inverse of the factor that converted
 * it), rounded to the currency's minor unit; without one, left as it is. */
static void in_order_currency(const struct customer *c, struct derived_reward *rw)
{
    const struct cu_paid *o;
    struct fx_ratio back;
    int64_t minor;

    if (c->npaid == 0) {
        return;
    }
    o = &c->paid[c->npaid - 1];
    back = (struct fx_ratio){o->rate.den, o->rate.num, -o->rate.pow10};
    if (fx_convert((int64_t)llround(rw->value * 100), MINOR_MODEL_EXPONENT, &back,
                   (int)o->exponent, &minor) != FX_OK) {
        return;
    }
    rw->value = minor_value(minor, (int)o->exponent);
    memcpy(rw->currency, o->currency, sizeof(rw->currency));
}

void reward_grade(const struct customer *c, const struct model_config *cfg,
                  struct derived_reward *rw)
{
    int by_margin;
    const struct grade *g = &grades[rw->type][reward_grade_of(c, cfg, &by_margin)];

    rw->kind = g->kind;
    rw->value = g->value;
    rw->graded_by = by_margin ? "margin" : "revenue";
    if (cfg->reward_order_currency && strcmp(g->kind, "points") != 0) {
        in_order_currency(c, rw);
    }
}

static uint32_t recent_count(const struct customer *c, int64_t now_ms)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < c->nreward_recent; i++) {
        n += c->reward_recent_ms[i] > now_ms - CAP_WINDOW_MS;
    }
    return n;
}

static void remember(struct customer *c, int64_t now_ms)
{
    uint32_t k = 0;

    /* Times outside the cap window are of no further use. */
    for (uint32_t i = 0; i < c->nreward_recent; i++) {
        if (c->reward_recent_ms[i] > now_ms - CAP_WINDOW_MS) {
            c->reward_recent_ms[k++] = c->reward_recent_ms[i];
        }
    }
    c->nreward_recent = k;
    if (c->nreward_recent == CU_RWD_RECENT) {
        memmove(&c->reward_recent_ms[0], &c->reward_recent_ms[1],
                (CU_RWD_RECENT - 1) * sizeof(c->reward_recent_ms[0]));
        c->nreward_recent--;
    }
    c->reward_recent_ms[c->nreward_recent++] = now_ms;
}

int reward_unused_streak(const struct customer *c, const struct model_config *cfg,
                         enum reward_type t, int64_t now_ms)
{
    int64_t young = (int64_t)cfg->reward_redeem_days * CU_DAY_MS;
    int n = 0;

    for (uint32_t i = c->nrwd; i-- > 0;) {
        const struct cu_reward *r = &c->rwd[i];
        if (r->type != (uint32_t)t) {
            continue;
        }
        if (r->flags & RWF_REDEEMED) {
            break;
        }
        n += now_ms - r->ts_ms >= young;
    }
    return n;
}

int reward_allow(struct customer *c, const struct model_config *cfg, enum reward_type t,
                 int64_t now_ms)
{
    int64_t cool = (int64_t)cfg->cooldown_days[t] * CU_DAY_MS;
    int64_t gap = (int64_t)cfg->reward_unused_gap_days * CU_DAY_MS;

    if (reward_unused_streak(c, cfg, t, now_ms) >= (int)cfg->reward_unused_n &&
        c->reward_last_ms[t] && now_ms - c->reward_last_ms[t] < gap) {
        c->reward_suppressed[t]++;
        return 0;
    }
    if (t != RW_MILESTONE) {
        if ((c->reward_last_ms[t] && now_ms - c->reward_last_ms[t] < cool) ||
            recent_count(c, now_ms) >= (uint32_t)cfg->reward_cap_30d) {
            c->reward_suppressed[t]++;
            return 0;
        }
        remember(c, now_ms);
    }
    c->reward_last_ms[t] = now_ms;
    c->rewards_sent++;
    return 1;
}

void reward_issued(struct customer *c, const struct derived_reward *rw,
                   const char *event_id, int64_t now_ms)
{
    struct cu_reward *r;

    c->reward_issued[rw->type]++;
    if (c->nrwd == CU_RWD_KEEP) {
        memmove(&c->rwd[0], &c->rwd[1], (CU_RWD_KEEP - 1) * sizeof(c->rwd[0]));
        c->nrwd--;
    }
    r = &c->rwd[c->nrwd++];
    memset(r, 0, sizeof(*r));
    r->id = cu_hash64(event_id);
    r->ts_ms = now_ms;
    r->type = (uint32_t)rw->type;
    if (strcmp(rw->kind, "points") == 0) {
        r->points = (int64_t)rw->value;
        c->points_balance += r->points;
    }
}

void reward_redeem(struct customer *c, const char *event_id)
{
    uint64_t id = cu_hash64(event_id);

    for (uint32_t i = 0; i < c->nrwd; i++) {
        struct cu_reward *r = &c->rwd[i];
        if (r->id != id) {
            continue;
        }
        if (!(r->flags & RWF_REDEEMED)) {
            r->flags |= RWF_REDEEMED;
            c->reward_redeemed[r->type]++;
            c->rewards_redeemed++;
            c->points_balance -= r->points;
        }
        return;
    }
    c->redeemed_unknown++;
}
