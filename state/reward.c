/*
 * reward.c - reward grading, cooldowns and cap.
 */
#include "state/reward.h"

#include <string.h>

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

void reward_grade(const struct customer *c, struct derived_reward *rw)
{
    const struct grade *g = &grades[rw->type][c->tier];

    rw->kind = g->kind;
    rw->value = g->value;
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

int reward_allow(struct customer *c, const struct model_config *cfg, enum reward_type t,
                 int64_t now_ms)
{
    int64_t cool = (int64_t)cfg->cooldown_days[t] * CU_DAY_MS;

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
