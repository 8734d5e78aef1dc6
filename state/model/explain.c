/*
 * explain.c - model_explain: the human-readable account of every score and
 * class for `loyaltyctl show`.  Re-derives on a copy of the customer at the
 * requested time so the text matches what a sweep at that time would store.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "base/minor.h"
#include "base/strbuf.h"
#include "state/model/attitude.h"
#include "state/model/brand.h"
#include "state/model/criteria.h"
#include "state/model/derived.h"
#include "state/model/mconfig.h"
#include "state/model/model.h"
#include "state/model/reward.h"
#include "state/model/risk.h"
#include "state/model/segment.h"

/* One line of the explanation, its '\n' added. */
__attribute__((format(printf, 2, 3))) static void line(struct strbuf *o, const char *fmt,
                                                       ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vprintf(o, fmt, ap);
    va_end(ap);
    strbuf_putc(o, '\n');
}

static void explain_score(struct strbuf *o, const struct customer *c,
                          const struct model_config *cfg, const struct brand_view *bv,
                          const struct att_view *av)
{
    double norm[CR__COUNT], wsum = 0;

    crit_normalise(c, cfg, bv, av->ev[AT_RIVAL], norm);
    for (int k = 0; k < CR__COUNT; k++) {
        wsum += cfg->weight[k];
    }
    line(o, "loyalty_score %.2f = sum of the contributions below (0..100)",
         c->loyalty_score);
    line(o,
         "  repeat    %.4f x w %.3f = %.2f  (x=%lld purchase days-1, orders_365d=%lld, "
         "scale %.15g)",
         norm[CR_REPEAT], cfg->weight[CR_REPEAT] / wsum, c->contrib[CR_REPEAT] / 100.0,
         (long long)(c->purchase_days > 1 ? c->purchase_days - 1 : 0),
         (long long)c->orders_365d, cfg->repeat_scale);
    line(o,
         "  spend     %.4f x w %.3f = %.2f  (spend_365d=%.2f scale %.15g, aov=%.2f scale "
         "%.15g)",
         norm[CR_SPEND], cfg->weight[CR_SPEND] / wsum, c->contrib[CR_SPEND] / 100.0,
         c->spend_365d, cfg->spend_scale, c->aov, cfg->aov_scale);
    line(o,
         "  choose    %.4f x w %.3f = %.2f  (%lld conversations, mean %.1f h, scale "
         "%.15g h)",
         norm[CR_CHOOSE], cfg->weight[CR_CHOOSE] / wsum, c->contrib[CR_CHOOSE] / 100.0,
         (long long)c->choose_n,
         c->choose_n ? (double)c->choose_sum_min / (double)c->choose_n / 60.0 : 0.0,
         cfg->choose_scale_hours);
    line(o,
         "  price     %.4f x w %.3f = %.2f  (%lld of %lld orders discounted or marked "
         "down, "
         "mean depth %.3f, depth scale %.15g)",
         norm[CR_PRICE], cfg->weight[CR_PRICE] / wsum, c->contrib[CR_PRICE] / 100.0,
         (long long)c->discounted_orders, (long long)customer_net_orders(c),
         customer_net_orders(c)
             ? (double)c->depth_ppm_sum / 1e6 / (double)customer_net_orders(c)
             : 0.0,
         cfg->depth_scale);
    line(o,
         "  tolerance %.4f x w %.3f = %.2f  (incidents %lld: tolerated %lld, lost %lld, "
         "open %u)",
         norm[CR_TOLERANCE], cfg->weight[CR_TOLERANCE] / wsum,
         c->contrib[CR_TOLERANCE] / 100.0, (long long)c->incidents,
         (long long)c->incidents_tolerated, (long long)c->incidents_lost, c->ninc);
    line(o,
         "  brand     %.4f x w %.3f = %.2f  (top share %.3f, inbound competitor mentions "
         "%lld, %.3f after decay)",
         norm[CR_BRAND], cfg->weight[CR_BRAND] / wsum, c->contrib[CR_BRAND] / 100.0,
         bv->share, (long long)c->competitor_mentions, av->ev[AT_RIVAL]);
}

static void explain_attitude(struct strbuf *o, const struct customer *c,
                             const struct model_config *cfg, const struct att_view *av,
                             const struct seg_view *sv)
{
    line(o,
         "attitude %.4g = sum of the parts below, at least 0 (evidence halves every "
         "%.15g days; attached >= %.15g)",
         c->attitude, cfg->attitude_half_life_days, cfg->attitude_attached);
    line(o, "  ratings   +%.4f  (%.3f reviews, share rated >= 4: %.3f)",
         av->part[AT_RATED], av->ev[AT_RATED], av->high_share);
    line(o, "  shared    +%.4f  (%.3f shared reviews rated >= 4)", av->part[AT_SHARED],
         av->ev[AT_SHARED]);
    line(o, "  praise    +%.4f  (%.3f praise messages)", av->part[AT_PRAISE],
         av->ev[AT_PRAISE]);
    line(o, "  interest  +%.4f  (%.3f pre-sale inquiries)", av->part[AT_INTEREST],
         av->ev[AT_INTEREST]);
    line(o, "  rivals    -%.4f  (%.3f inbound competitor mentions)", av->part[AT_RIVAL],
         av->ev[AT_RIVAL]);
    line(o,
         "loyalty_type %s: attached %s; buying %s (repeat %s, loyalty_score %.2f >= "
         "%.15g, not lapsing)",
         cu_loyalty_type_name(c->loyalty_type), sv->attached ? "yes" : "no",
         seg_buying(c, cfg, sv) ? "yes" : "no", sv->repeat ? "yes" : "no",
         c->loyalty_score, cfg->behaviour_score);
}

static void explain_brand(struct strbuf *o, const struct customer *c,
                          const struct model_config *cfg, const struct brand_view *bv)
{
    line(o,
         "brand_type %s: main category \"%s\", %u brand-labelled purchases of %u brands, "
         "top \"%s\" share %.3f, top2 %.3f, top3 %.3f, last-3 run \"%s\" "
         "(undetermined < %.15g purchases; occasional share >= %.15g; split >= %.15g "
         "with each >= "
         "%.15g)",
         cu_brand_type_name(bv->type), bv->cat >= 0 ? c->cats[bv->cat].name : "",
         bv->purchases, bv->nbrands, bv->top, bv->share, bv->top2, bv->top3, bv->recent,
         cfg->brand_min_purchases, cfg->brand_occasional_share, cfg->brand_split_total,
         cfg->brand_split_min);
}

static void explain_segment(struct strbuf *o, const struct customer *c,
                            const struct model_config *cfg, const struct seg_view *sv)
{
    line(o,
         "segment %s (rule %s): purchase days %d (repeat: %s), dissatisfied: %s (%d "
         "active signals weighing %.3f against goodwill %.3f, mean rating %.2f), "
         "fading: %s (orders_90d %lld), lapsing: %s (%lld days since the last purchase, "
         "lapsing from %.15g), attached: %s, discounted share %.2f, fast-shipping share "
         "%.2f (benefit >= %.15g), %lld days since first purchase (new <= %.15g)",
         cu_segment_name(c->segment), sv->rule ? sv->rule : "-", sv->purchases,
         sv->repeat ? "yes" : "no", sv->dissatisfied ? "yes" : "no", sv->active_signals,
         sv->pain, sv->goodwill, sv->mean_rating, sv->fading ? "yes" : "no",
         (long long)c->orders_90d, sv->lapsing ? "yes" : "no", (long long)sv->silent_days,
         cfg->lapse_days, sv->attached ? "yes" : "no", sv->discount_share, sv->fast_share,
         cfg->segment_benefit_share, (long long)sv->age_days, cfg->segment_new_days);
}

/* An instant for people: RFC 3339, or "-" for 0 (none) and INT64_MAX (never). */
static const char *when(int64_t ms, char *buf, size_t len)
{
    if (ms <= 0 || ms == INT64_MAX || civil_rfc3339_format(ms, buf, len) < 0) {
        snprintf(buf, len, "-");
    }
    return buf;
}

static void explain_tier(struct strbuf *o, const struct customer *c,
                         const struct model_config *cfg)
{
    char until[40];

    line(o,
         "tier %s: spend_365d %.2f, orders_365d %lld; downgrade grace until %s (%.15g "
         "days)",
         cu_tier_name(c->tier), c->spend_365d, (long long)c->orders_365d,
         when(c->tier_grace_until_ms, until, sizeof(until)), cfg->tier_grace_days);
    for (int t = TIER_BRONZE; t < TIER__COUNT; t++) {
        line(o, "  %-8s needs spend >= %.15g and orders >= %.15g",
             cu_tier_name((enum tier)t), cfg->tier_spend[t], cfg->tier_orders[t]);
    }
}

static void explain_rewards(struct strbuf *o, const struct customer *c,
                            const struct model_config *cfg)
{
    int by_margin;
    enum tier g = reward_grade_of(c, cfg, &by_margin);

    line(o,
         "rewards graded %s by %s (margin_365d %.2f over %lld costed orders); points "
         "balance %lld; %lld redeemed, %lld orders naming an unknown reward",
         cu_tier_name(g), by_margin ? "margin" : "revenue (tier)", c->margin_365d,
         (long long)c->costed_365d, (long long)c->points_balance,
         (long long)c->rewards_redeemed, (long long)c->redeemed_unknown);
    for (int t = 0; t < RW__COUNT; t++) {
        if (!c->reward_issued[t] && !c->reward_suppressed[t]) {
            continue;
        }
        line(o,
             "  %-16s issued %lld, redeemed %lld (%.0f%%), suppressed %lld, unused in a "
             "row %d (offered less often from %.15g)",
             cu_reward_name((enum reward_type)t), (long long)c->reward_issued[t],
             (long long)c->reward_redeemed[t],
             c->reward_issued[t]
                 ? 100.0 * (double)c->reward_redeemed[t] / (double)c->reward_issued[t]
                 : 0.0,
             (long long)c->reward_suppressed[t],
             reward_unused_streak(c, cfg, (enum reward_type)t, c->as_of_ms),
             cfg->reward_unused_n);
    }
}

/* amount minor units of exponent exp as a decimal ("42.50", "4200"). */
static void put_minor(struct strbuf *o, int64_t amount, unsigned exp)
{
    uint64_t mag = amount < 0 ? 0 - (uint64_t)amount : (uint64_t)amount, unit = 1;

    for (unsigned i = 0; i < exp; i++) {
        unit *= 10;
    }
    strbuf_printf(o, "%s%llu", amount < 0 ? "-" : "", (unsigned long long)(mag / unit));
    if (exp > 0) {
        strbuf_printf(o, ".%0*llu", (int)exp, (unsigned long long)(mag % unit));
    }
}

/* The orders as paid (customer.h, struct cu_paid): each as stated and as
 * counted, at which rate and from where. */
static void explain_paid(struct strbuf *o, const struct customer *c)
{
    if (c->npaid == 0) {
        return;
    }
    line(o, "orders as paid, the last %u (newest last):", c->npaid);
    for (uint32_t i = 0; i < c->npaid; i++) {
        const struct cu_paid *p = &c->paid[i];
        char day[FX_DAY_TEXT];
        int64_t cents = 0;
        int ok = cu_paid_cents(p, &cents) == 0;

        fx_day_format(p->day, day);
        strbuf_printf(o, "  %s  ", day);
        put_minor(o, p->amount_minor, p->exponent);
        strbuf_printf(o, " %.3s = ", p->currency);
        if (ok) {
            put_minor(o, cents, MINOR_MODEL_EXPONENT);
        } else {
            strbuf_puts(o, "?");
        }
        strbuf_printf(o, " %s at %.10g (%s)%s%s\n", c->currency, fx_ratio_value(&p->rate),
                      p->flags & PAID_OWN_RATE                   ? "its own fx_rate"
                      : memcmp(p->currency, c->currency, 3) == 0 ? "same currency"
                                                                 : "rates table",
                      p->flags & PAID_CANCELLED ? ", cancelled" : "",
                      p->flags & PAID_RETURNED ? ", refunded at its rate" : "");
    }
}

static void explain_risk(struct strbuf *o, const struct customer *c,
                         const struct model_ctx *m, const struct risk_eval *r)
{
    char t[40];

    line(o,
         "p_alive %.6g: BG/NBD x=%.15g t_x=%.4g T=%.4g weeks (r=%.15g alpha=%.15g "
         "a=%.15g b=%.15g)",
         c->p_alive, r->x, r->t_x, r->T, m->bg.r, m->bg.alpha, m->bg.a, m->bg.b);
    line(o,
         "clv %.6g = expected purchases %.6g in %.15g weeks x expected value %.6g "
         "(Gamma-Gamma p=%.15g q=%.15g gamma=%.15g)",
         c->clv, c->exp_purchases, m->cfg->horizon_weeks, c->exp_value, m->gg.p, m->gg.q,
         m->gg.gamma);
    line(o,
         "churn_risk %.6g = 1 - p %.6g x signal factor %.6g (%d active signals); "
         "threshold %.15g, re-armed below %.15g, armed: %s, crossings %lld",
         r->risk, r->p_eff, r->factor, r->active, m->cfg->churn_threshold,
         m->cfg->churn_rearm, c->risk_armed ? "yes" : "no", (long long)c->churn_seq);
    strbuf_puts(o, "reason_codes ");
    for (size_t i = 0; i < r->why.n; i++) {
        strbuf_printf(o, "%s%s", i ? "," : "", r->why.v[i]);
    }
    strbuf_puts(o, r->why.n ? "\n" : "-\n");
    for (uint32_t i = 0; i < c->nsig; i++) {
        line(o, "  signal %s at %s (weight %.15g)",
             cu_signal_name((enum signal_kind)c->sig[i].kind),
             when(c->sig[i].ts_ms, t, sizeof(t)), m->cfg->signal_weight[c->sig[i].kind]);
    }
}

int model_explain(const struct customer *c0, const struct model_ctx *m, int64_t now_ms,
                  char *buf, size_t len)
{
    struct strbuf o = {0};
    struct emission_list ignored;
    struct customer *c = malloc(sizeof(*c));
    struct brand_view bv;
    struct att_view av;
    struct risk_eval r;
    struct seg_view sv;
    char t[40];
    int rc = -1;

    emission_list_init(&ignored);
    if (!c || len == 0) {
        goto out;
    }
    memcpy(c, c0, sizeof(*c));
    /* The copy's emissions are what a sweep would emit; they are dropped. */
    model_sweep(c, now_ms, m, &ignored);
    brand_classify(c, m->cfg, &bv);
    risk_evaluate(c, m, c->as_of_ms, &r);
    att_evaluate(c, m->cfg, c->as_of_ms, &av);
    seg_classify(c, m->cfg, r.active, r.factor, r.p_eff, c->attitude, c->as_of_ms, &sv);
    line(&o,
         "customer %s as of %s; orders %lld (cancelled %lld, returned %lld), net spend "
         "%.2f %s; orders 30d/90d/365d %lld/%lld/%lld",
         c->id, when(c->as_of_ms, t, sizeof(t)), (long long)c->orders,
         (long long)c->orders_cancelled, (long long)c->orders_returned,
         customer_net_spend(c), c->currency, (long long)c->orders_30d,
         (long long)c->orders_90d, (long long)c->orders_365d);
    explain_paid(&o, c);
    explain_score(&o, c, m->cfg, &bv, &av);
    explain_attitude(&o, c, m->cfg, &av, &sv);
    explain_brand(&o, c, m->cfg, &bv);
    explain_segment(&o, c, m->cfg, &sv);
    explain_tier(&o, c, m->cfg);
    explain_rewards(&o, c, m->cfg);
    explain_risk(&o, c, m, &r);
    line(&o, "next sweep due %s", when(model_next_due(c, m), t, sizeof(t)));
    rc = strbuf_copy(&o, buf, len) < 0 ? -1 : 0;
out:
    strbuf_free(&o);
    emission_list_free(&ignored);
    free(c);
    return rc;
}
