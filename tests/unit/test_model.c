/*
 * test_model.c - aggregates, windows, milestones and the derived scores of
 * the loyalty model, through model_apply and model_sweep only.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfgtab.h"
#include "state/model/derived.h"
#include "tests/unit/check_main.h"
#include "tests/unit/model_fixture.h"

START_TEST(test_first_repeat_milestone_once)
{
    struct fx f;

    fx_init(&f, "c1");
    fx_order(&f, "o1", T0, 20);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"milestone\""), 0);
    /* Three orders on the second purchase day: one milestone. */
    fx_order(&f, "o2", T0 + 3 * DAY, 30);
    ck_assert_uint_eq(f.out.n, 1);
    ck_assert_ptr_nonnull(strstr(f.out.v[0].payload, "\"milestone\":2"));
    ck_assert_ptr_nonnull(strstr(f.out.v[0].payload, "first_repeat_purchase"));
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"milestone\":2"), 1);
    fx_order(&f, "o3", T0 + 3 * DAY + HOUR, 30);
    fx_order(&f, "o4", T0 + 3 * DAY + 2 * HOUR, 30);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"milestone\""), 0);
    ck_assert_int_eq(f.c->purchase_days, 2);
    ck_assert_int_eq(f.c->milestone, 2);
    fx_free(&f);
}
END_TEST

/* A producer that sends orders of the largest amount the parser can be set
 * to accept (limits.max_amount, at most 1e15), with markdowns and costs,
 * and returns of them: the sums stop at the ends of int64 instead of
 * overflowing (an UBSan build aborts on an overflow), and what the model
 * derives stays a number. */
START_TEST(test_hostile_sums_saturate)
{
    struct fx f;
    struct event ev;
    struct ev_item it;
    char oid[32];

    fx_init(&f, "c-hostile");
    /* 9,300 markdowns at the per-order bound of 1e15 cents pass 2^63. */
    for (int i = 0; i < 9300; i++) {
        fx_event(&f, &ev, EV_ORDER_PLACED, T0 + i * 60000);
        snprintf(ev.order_id, sizeof(ev.order_id), "o%d", i);
        ev.amount_minor = fx_cents(1e15);
        memset(&it, 0, sizeof(it));
        snprintf(it.sku, sizeof(it.sku), "sku");
        it.qty = 1000000;
        it.unit_price_minor = fx_cents(1e15);
        it.list_price_minor = fx_cents(1e15 * 2);
        it.unit_cost_minor = 0;
        it.has_cost = 1;
        ev.items = &it;
        ev.n_items = 1;
        fx_apply(&f, &ev);
    }
    ck_assert(f.c->spend_cents == INT64_MAX);
    ck_assert(f.c->markdown_cents == INT64_MAX);
    ck_assert(f.c->first_day_cents == INT64_MAX);
    for (int i = 0; i < 200; i++) {
        snprintf(oid, sizeof(oid), "o%d", i);
        fx_return(&f, oid, T0 + 10 * DAY + i * HOUR, 1e15, RET_OTHER);
    }
    ck_assert(f.c->refund_cents == INT64_MAX);
    for (int i = 0; i < 10; i++) {
        snprintf(oid, sizeof(oid), "o%d", i);
        fx_order_event(&f, EV_ORDER_CANCELLED, oid, T0 + 20 * DAY + i * HOUR);
    }
    ck_assert(f.c->spend_cents > 0);
    ck_assert(isfinite(f.c->loyalty_score) && isfinite(f.c->churn_risk) &&
              isfinite(f.c->clv));
    fx_free(&f);
}
END_TEST

START_TEST(test_milestone_id_deterministic)
{
    struct fx a, b;

    fx_init(&a, "c1");
    fx_init(&b, "c1");
    fx_order(&a, "o1", T0, 20);
    fx_order(&a, "o2", T0 + DAY, 20);
    fx_order(&b, "o1", T0, 20);
    fx_order(&b, "o2", T0 + DAY, 20);
    ck_assert_uint_eq(a.out.n, 1);
    ck_assert_uint_eq(b.out.n, 1);
    ck_assert_str_eq(a.out.v[0].event_id, b.out.v[0].event_id);
    ck_assert_str_eq(a.out.v[0].payload, b.out.v[0].payload);
    ck_assert_int_eq((int)strlen(a.out.v[0].event_id), 32);
    ck_assert_ptr_null(strstr(a.out.v[0].payload, "emitted_at"));
    fx_free(&a);
    fx_free(&b);
}
END_TEST

static void sweep(struct fx *f, int64_t now)
{
    fx_sweep(f, now);
}

static int has_signal(const struct customer *c, enum signal_kind k)
{
    for (uint32_t i = 0; i < c->nsig; i++) {
        if (c->sig[i].kind == (uint32_t)k) {
            return 1;
        }
    }
    return 0;
}

static int churn_in(const struct fx *f)
{
    int n = 0;

    for (size_t i = 0; i < f->out.n; i++) {
        n += f->out.v[i].kind == OUT_CHURN_RISK;
    }
    return n;
}

/* Sweeps as the sweeper does, at every due time, until a churn-risk event;
 * a sweep one millisecond before each due time must emit nothing.  Returns
 * the due time of the crossing, or 0. */
static int64_t sweep_until_churn(struct fx *f)
{
    for (int iter = 0; iter < 50; iter++) {
        int64_t due = model_next_due(f->c, &f->m);
        ck_assert(due != INT64_MAX);
        ck_assert(due > f->c->as_of_ms);
        sweep(f, due - 1);
        ck_assert_uint_eq(fx_take(f, OUT_CHURN_RISK, NULL), 0);
        sweep(f, due);
        if (f->out.n > 0) {
            ck_assert_uint_eq(f->out.n, 1);
            ck_assert_int_eq(f->out.v[0].kind, OUT_CHURN_RISK);
            return due;
        }
    }
    return 0;
}

/* The 30-day window holds today and the 29 days before. */
START_TEST(test_window_boundaries)
{
    struct fx f;

    fx_init(&f, "w");
    fx_order(&f, "o1", T0 + 10 * HOUR, 10);
    sweep(&f, T0 + 29 * DAY + 23 * HOUR);
    ck_assert_int_eq(f.c->orders_30d, 1);
    sweep(&f, T0 + 30 * DAY);
    ck_assert_int_eq(f.c->orders_30d, 0);
    ck_assert_int_eq(f.c->orders_90d, 1);
    sweep(&f, T0 + 89 * DAY);
    ck_assert_int_eq(f.c->orders_90d, 1);
    sweep(&f, T0 + 90 * DAY);
    ck_assert_int_eq(f.c->orders_90d, 0);
    ck_assert_double_eq(f.c->spend_365d, 10);
    sweep(&f, T0 + 365 * DAY);
    ck_assert_int_eq(f.c->orders_365d, 0);
    ck_assert_double_eq(f.c->spend_365d, 0);
    ck_assert_uint_eq(f.c->ndays, 0);
    ck_assert_int_eq(f.c->orders, 1);
    fx_free(&f);
}
END_TEST

START_TEST(test_aggregates_exact)
{
    struct fx f;

    fx_init(&f, "agg");
    fx_order_full(&f, "o1", T0, 80, 20, SHIP_EXPEDITED, "tea", "Lipton");
    fx_order(&f, "o2", T0 + 2 * DAY, 0.1);
    fx_order(&f, "o3", T0 + 2 * DAY, 0.2);
    fx_return(&f, "o1", T0 + 5 * DAY, 30.05, RET_CHANGED_MIND);
    ck_assert_int_eq(f.c->spend_cents, 8030);
    ck_assert_int_eq(f.c->refund_cents, 3005);
    ck_assert_double_eq(f.c->spend_365d, 50.25);
    ck_assert_int_eq(f.c->discounted_orders, 1);
    ck_assert_int_eq(f.c->depth_ppm_sum, 200000);
    ck_assert_int_eq(f.c->fast_ship_orders, 1);
    ck_assert_int_eq(f.c->purchase_days, 2);
    ck_assert_int_eq(f.c->first_day_cents, 8000);
    ck_assert_int_eq(f.c->last_day - f.c->first_day, 2);
    ck_assert_double_eq(f.c->aov, 26.77);
    fx_free(&f);
}
END_TEST

START_TEST(test_cancel_known_and_unknown)
{
    struct fx f;

    fx_init(&f, "cx");
    fx_order(&f, "o1", T0, 50);
    fx_order_full(&f, "o2", T0 + DAY, 70, 10, SHIP_STANDARD, NULL, NULL);
    ck_assert_int_eq(f.c->purchase_days, 2);
    fx_order_event(&f, EV_ORDER_CANCELLED, "o2", T0 + DAY + HOUR);
    ck_assert_int_eq(f.c->purchase_days, 1);
    ck_assert_int_eq(f.c->last_day, f.c->first_day);
    ck_assert_int_eq(f.c->orders_365d, 1);
    ck_assert_int_eq(f.c->spend_cents, 5000);
    ck_assert_int_eq(f.c->discounted_orders, 0);
    ck_assert_int_eq(f.c->milestone, 2); /* one-time: kept */
    fx_order_event(&f, EV_ORDER_CANCELLED, "never-seen", T0 + 2 * DAY);
    ck_assert_int_eq(f.c->orders_cancelled, 2);
    ck_assert_int_eq(f.c->cancelled_unknown, 1);
    ck_assert_int_eq(f.c->spend_cents, 5000);
    fx_order_event(&f, EV_ORDER_CANCELLED, "o1", T0 + 2 * DAY);
    ck_assert_int_eq(f.c->purchase_days, 0);
    ck_assert_int_eq(f.c->first_day, -1);
    fx_free(&f);
}
END_TEST

/* Events of other topics may come with older times: nothing moves back. */
START_TEST(test_out_of_order)
{
    struct fx f;

    fx_init(&f, "ooo");
    fx_order(&f, "o2", T0 + 10 * DAY, 20);
    fx_order(&f, "o1", T0 + 2 * DAY, 30);
    ck_assert_int_eq(f.c->purchase_days, 2);
    ck_assert_int_eq(f.c->first_day, cu_day_of(T0 + 2 * DAY));
    ck_assert_int_eq(f.c->first_day_cents, 3000);
    ck_assert_int_eq(f.c->as_of_ms, T0 + 10 * DAY);
    fx_free(&f);
}
END_TEST

static void brand_journey_at(const char *const *seq, int n, double discount,
                             enum brand_type want)
{
    struct fx f;
    char oid[16];

    fx_init(&f, "brand");
    for (int i = 0; i < n; i++) {
        snprintf(oid, sizeof(oid), "o%d", i);
        fx_order_full(&f, oid, T0 + i * 7 * DAY, 20, discount, SHIP_STANDARD, "coffee",
                      seq[i]);
    }
    /* A few purchases elsewhere do not change the main category. */
    fx_order_full(&f, "x", T0 + n * 7 * DAY, 5, 0, SHIP_STANDARD, "mugs", "Other");
    ck_assert_msg(f.c->brand_type == want, "got %s want %s",
                  cu_brand_type_name(f.c->brand_type), cu_brand_type_name(want));
    fx_free(&f);
}

static void brand_journey(const char *const *seq, int n, enum brand_type want)
{
    brand_journey_at(seq, n, 0, want);
}

START_TEST(test_brand_complete)
{
    /* Always the same brand, whatever cheaper alternatives exist. */
    static const char *const s[] = {"Lavazza", "Lavazza", "Lavazza", "Lavazza"};
    brand_journey(s, 4, BT_COMPLETE);
}
END_TEST

START_TEST(test_brand_occasional)
{
    static const char *const s[] = {"Lavazza", "Lavazza", "Illy",    "Lavazza",
                                    "Lavazza", "Lavazza", "Lavazza", "Lavazza"};
    brand_journey(s, 8, BT_OCCASIONAL);
}
END_TEST

START_TEST(test_brand_switching)
{
    static const char *const s[] = {"Lavazza", "Lavazza", "Lavazza",
                                    "Illy",    "Illy",    "Illy"};
    brand_journey(s, 6, BT_SWITCHING);
}
END_TEST

START_TEST(test_brand_split)
{
    static const char *const s[] = {"Lavazza", "Illy",    "Lavazza",
                                    "Illy",    "Lavazza", "Illy"};
    brand_journey(s, 6, BT_SPLIT);
}
END_TEST

/* No loyalty: brands make no difference, price decides (docs/domain.md,
 * "Behavioural types"): five brands, every order discounted. */
START_TEST(test_brand_none)
{
    static const char *const s[] = {"Lavazza", "Illy", "Segafredo", "Kimbo", "Pellini"};
    brand_journey_at(s, 5, 5, BT_NONE);
}
END_TEST

/* The same five brands at full price: no preference, but not price-driven
 * either (variety seeking, docs/domain.md "What drives loyalty"). */
START_TEST(test_brand_variety)
{
    static const char *const s[] = {"Lavazza", "Illy", "Segafredo", "Kimbo", "Pellini"};
    brand_journey(s, 5, BT_VARIETY);
}
END_TEST

START_TEST(test_brand_undetermined)
{
    static const char *const s[] = {"Lavazza", "Lavazza"};
    brand_journey(s, 2, BT_UNDETERMINED);
}
END_TEST

START_TEST(test_segment_benefit_coupons)
{
    struct fx f;

    fx_init(&f, "seg");
    fx_order_full(&f, "o1", T0, 20, 10, SHIP_STANDARD, NULL, NULL);
    fx_order_full(&f, "o2", T0 + 20 * DAY, 20, 10, SHIP_STANDARD, NULL, NULL);
    fx_order_full(&f, "o3", T0 + 40 * DAY, 20, 8, SHIP_STANDARD, NULL, NULL);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "benefit");
    fx_free(&f);
}
END_TEST

START_TEST(test_segment_benefit_shipping)
{
    struct fx f;

    fx_init(&f, "seg");
    fx_order_full(&f, "o1", T0, 20, 0, SHIP_PLATFORM, NULL, NULL);
    fx_order_full(&f, "o2", T0 + 20 * DAY, 20, 0, SHIP_EXPEDITED, NULL, NULL);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "benefit");
    fx_free(&f);
}
END_TEST

START_TEST(test_segment_trust_inertia_at_risk)
{
    struct fx f;

    fx_init(&f, "seg");
    fx_order(&f, "o1", T0, 40);
    fx_order(&f, "o2", T0 + 20 * DAY, 40);
    fx_review(&f, T0 + 21 * DAY, 5, 0);
    /* One high rating is not yet attachment: attitude 0.35 x sat(1, 2) =
     * 0.138 < attitude_attached 0.4. */
    ck_assert_str_eq(cu_segment_name(f.c->segment), "satisfied");
    /* Recommending the shop: two shared five-star reviews make 3 reviews,
     * all high: 0.35 x 0.777 + 0.25 x sat(2, 1) 0.865 = 0.488 >= 0.4. */
    fx_review(&f, T0 + 22 * DAY, 5, 1);
    fx_review(&f, T0 + 23 * DAY, 5, 1);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "trust");
    ck_assert_str_eq(cu_loyalty_type_name(f.c->loyalty_type), "true_loyalty");
    /* Dissatisfied but still buying: a complaint weighs 0.25, more than
     * goodwill 0.5 x 0.488. */
    fx_message(&f, T0 + 25 * DAY, "cv1", DIR_INBOUND, MSG_COMPLAINT);
    fx_order(&f, "o3", T0 + 26 * DAY, 40);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "inertia");
    /* Then no order for 90 days while the complaint still counts. */
    fx_review(&f, T0 + 110 * DAY, 1, 0);
    sweep(&f, T0 + 117 * DAY);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "at_risk");
    fx_free(&f);
}
END_TEST

START_TEST(test_segment_new_potential)
{
    struct fx f;

    fx_init(&f, "seg");
    fx_order(&f, "o1", T0, 40);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "new");
    /* Silence is not attitude: a quiet one-time buyer is satisfied, no more. */
    sweep(&f, T0 + 61 * DAY);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "satisfied");
    /* Praise and a pre-sale inquiry: sat(1,1) x 0.2 + sat(1,2) x 0.2 = 0.205;
     * a second praise: 0.2 x sat(2,1) = 0.173 + 0.079 = 0.252; a shared
     * five-star review adds 0.35 x 0.393 + 0.25 x 0.632 = 0.296: 0.548. */
    fx_message(&f, T0 + 62 * DAY, "p1", DIR_INBOUND, MSG_PRAISE);
    fx_message(&f, T0 + 62 * DAY, "q1", DIR_INBOUND, MSG_INQUIRY);
    fx_message(&f, T0 + 62 * DAY + HOUR, "q1", DIR_OUTBOUND, MSG_REPLY);
    fx_message(&f, T0 + 63 * DAY, "p2", DIR_INBOUND, MSG_PRAISE);
    fx_review(&f, T0 + 63 * DAY, 5, 1);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "potential");
    ck_assert_str_eq(cu_loyalty_type_name(f.c->loyalty_type), "latent_loyalty");
    fx_free(&f);
}
END_TEST

START_TEST(test_time_to_choose)
{
    struct fx f;
    struct event ev;

    fx_init(&f, "ttc");
    fx_message(&f, T0, "pre-1", DIR_INBOUND, MSG_INQUIRY);
    fx_message(&f, T0 + HOUR, "pre-1", DIR_OUTBOUND, MSG_REPLY);
    fx_message(&f, T0 + 90 * 60000, "pre-1", DIR_INBOUND, MSG_INQUIRY);
    fx_event(&f, &ev, EV_ORDER_PLACED, T0 + 2 * HOUR);
    strcpy(ev.order_id, "o1");
    strcpy(ev.conversation_id, "pre-1");
    ev.amount_minor = fx_cents(10);
    fx_apply(&f, &ev);
    ck_assert_int_eq(f.c->choose_n, 1);
    ck_assert_int_eq(f.c->choose_sum_min, 120);
    /* The order arrives before the inquiry from the other topic. */
    fx_event(&f, &ev, EV_ORDER_PLACED, T0 + 10 * HOUR);
    strcpy(ev.order_id, "o2");
    strcpy(ev.conversation_id, "pre-2");
    ev.amount_minor = fx_cents(10);
    fx_apply(&f, &ev);
    ck_assert_int_eq(f.c->choose_n, 1);
    fx_message(&f, T0 + 6 * HOUR, "pre-2", DIR_INBOUND, MSG_INQUIRY);
    ck_assert_int_eq(f.c->choose_n, 2);
    ck_assert_int_eq(f.c->choose_sum_min, 120 + 240);
    fx_free(&f);
}
END_TEST

START_TEST(test_tolerance)
{
    struct fx f;

    fx_init(&f, "tol");
    fx_order(&f, "o1", T0, 40);
    fx_review(&f, T0 + DAY, 2, 0);
    ck_assert_int_eq(f.c->incidents, 1);
    fx_order(&f, "o2", T0 + 50 * DAY, 40);
    ck_assert_int_eq(f.c->incidents_tolerated, 1);
    fx_return(&f, "o2", T0 + 60 * DAY, 40, RET_QUALITY);
    ck_assert_int_eq(model_next_due(f.c, &f.m) <= T0 + 150 * DAY, 1);
    sweep(&f, T0 + 150 * DAY - 1);
    ck_assert_int_eq(f.c->incidents_lost, 0);
    sweep(&f, T0 + 150 * DAY);
    ck_assert_int_eq(f.c->incidents_lost, 1);
    ck_assert_uint_eq(f.c->ninc, 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_score_is_sum_of_contributions)
{
    struct fx f;
    int total = 0;

    fx_init(&f, "score");
    fx_order_full(&f, "o1", T0, 120, 0, SHIP_STANDARD, "tea", "A");
    fx_order_full(&f, "o2", T0 + 9 * DAY, 80, 20, SHIP_STANDARD, "tea", "A");
    fx_order_full(&f, "o3", T0 + 30 * DAY, 60, 0, SHIP_STANDARD, "tea", "A");
    for (int k = 0; k < CR__COUNT; k++) {
        ck_assert_int_ge(f.c->contrib[k], 0);
        total += f.c->contrib[k];
    }
    ck_assert_double_eq(f.c->loyalty_score, total / 100.0);
    ck_assert(f.c->loyalty_score > 0 && f.c->loyalty_score <= 100);
    /* More competitor mentions: less loyal. */
    double before = f.c->loyalty_score;
    struct event ev;
    fx_event(&f, &ev, EV_MESSAGE_SENT, T0 + 31 * DAY);
    strcpy(ev.conversation_id, "c");
    ev.direction = DIR_INBOUND;
    ev.kind = MSG_OTHER;
    ev.mentions_competitor = 1;
    fx_apply(&f, &ev);
    ck_assert(f.c->loyalty_score < before);
    fx_free(&f);
}
END_TEST

START_TEST(test_churn_hysteresis)
{
    struct fx f;
    char conv[16];
    char id1[33];

    fx_init(&f, "churn");
    fx_order(&f, "o1", T0, 40);
    fx_order(&f, "o2", T0 + 7 * DAY, 40);
    fx_take(&f, OUT_REWARD, NULL);
    /* Complaints weigh 0.25 each: a few take the risk over 0.7, once. */
    for (int i = 0; i < 8 && churn_in(&f) == 0; i++) {
        snprintf(conv, sizeof(conv), "k%d", i);
        ck_assert(f.c->churn_risk < 0.7);
        fx_take(&f, OUT_REWARD, NULL); /* service recovery for a trust customer */
        fx_message(&f, T0 + 8 * DAY + i * HOUR, conv, DIR_INBOUND, MSG_COMPLAINT);
        fx_message(&f, T0 + 8 * DAY + i * HOUR + 1, conv, DIR_OUTBOUND, MSG_REPLY);
    }
    ck_assert(f.c->churn_risk >= 0.7);
    ck_assert_int_eq(churn_in(&f), 1);
    memcpy(id1, f.out.v[f.out.n - 1].event_id, 33);
    ck_assert_ptr_nonnull(strstr(f.out.v[f.out.n - 1].payload, "\"complaint\""));
    ck_assert_ptr_nonnull(
        strstr(f.out.v[f.out.n - 1].payload, "\"schema\":\"loyalty.churn-risk\""));
    fx_take(&f, OUT_CHURN_RISK, NULL);
    ck_assert_int_eq(f.c->risk_armed, 0);
    /* Still above: no second event. */
    fx_message(&f, T0 + 9 * DAY + HOUR, "k9", DIR_INBOUND, MSG_COMPLAINT);
    ck_assert_uint_eq(fx_take(&f, OUT_CHURN_RISK, NULL), 0);
    /* Signals age out, a new order: re-armed below 0.5. */
    fx_order(&f, "o3", T0 + 100 * DAY, 40);
    ck_assert(f.c->churn_risk < 0.5);
    ck_assert_int_eq(f.c->risk_armed, 1);
    fx_take(&f, OUT_REWARD, NULL);
    for (int i = 0; i < 8 && churn_in(&f) == 0; i++) {
        snprintf(conv, sizeof(conv), "m%d", i);
        fx_take(&f, OUT_REWARD, NULL);
        fx_message(&f, T0 + 101 * DAY + i * HOUR, conv, DIR_INBOUND, MSG_COMPLAINT);
    }
    ck_assert_int_eq(churn_in(&f), 1);
    ck_assert_str_ne(f.out.v[f.out.n - 1].event_id, id1);
    ck_assert_int_eq(f.c->churn_seq, 2);
    fx_free(&f);
}
END_TEST

/* A quiet repeat customer crosses the threshold at model_next_due. */
START_TEST(test_sweep_quiet_customer)
{
    struct fx f;
    int churn = 0;

    fx_init(&f, "quiet");
    for (int i = 0; i < 6; i++) {
        char oid[16];
        snprintf(oid, sizeof(oid), "o%d", i);
        fx_order(&f, oid, T0 + i * 5 * DAY, 30);
    }
    fx_take(&f, OUT_REWARD, NULL);
    churn = sweep_until_churn(&f) != 0;
    ck_assert_int_eq(churn, 1);
    ck_assert(f.c->churn_risk >= 0.7);
    ck_assert(f.c->p_alive <= 0.3 + 1e-9);
    ck_assert_int_eq(f.c->risk_armed, 0);
    fx_free(&f);
}
END_TEST

/* A one-time buyer: BG/NBD says P(alive) = 1, the recency term decays. */
START_TEST(test_sweep_one_time_buyer)
{
    struct fx f;
    int64_t due;

    fx_init(&f, "once");
    fx_order(&f, "o1", T0, 30);
    ck_assert_double_eq(f.c->p_alive, 1.0);
    fx_take(&f, OUT_REWARD, NULL);
    due = sweep_until_churn(&f);
    /* 365 * log2(1 / 0.3) = 634.0 days after the first purchase. */
    ck_assert_int_eq((due - T0) / DAY, 634);
    ck_assert_uint_eq(fx_take(&f, OUT_CHURN_RISK, "inactive_one_time"), 1);
    fx_free(&f);
}
END_TEST

START_TEST(test_sla_via_sweep)
{
    struct fx f;

    fx_init(&f, "sla");
    fx_message(&f, T0, "q1", DIR_INBOUND, MSG_INQUIRY);
    ck_assert_int_eq(model_next_due(f.c, &f.m), T0 + 24 * HOUR);
    sweep(&f, T0 + 24 * HOUR - 1);
    ck_assert_int_eq(has_signal(f.c, SIG_SLA), 0);
    sweep(&f, T0 + 24 * HOUR);
    ck_assert_int_eq(has_signal(f.c, SIG_SLA), 1);
    /* Answered in time: no signal. */
    fx_message(&f, T0 + 2 * DAY, "q2", DIR_INBOUND, MSG_INQUIRY);
    fx_message(&f, T0 + 2 * DAY + HOUR, "q2", DIR_OUTBOUND, MSG_REPLY);
    sweep(&f, T0 + 5 * DAY);
    ck_assert_int_eq(f.c->signals_total, 1);
    /* A later review does not judge it (reviews and orders may run ahead of
     * the messages topic); the customer's next message does. */
    fx_message(&f, T0 + 6 * DAY, "q3", DIR_INBOUND, MSG_INQUIRY);
    fx_review(&f, T0 + 8 * DAY, 4, 0);
    ck_assert_int_eq(f.c->signals_total, 1);
    fx_message(&f, T0 + 8 * DAY, "other", DIR_OUTBOUND, MSG_MARKETING);
    ck_assert_int_eq(f.c->signals_total, 2);
    fx_free(&f);
}
END_TEST

/* An order consumed before the pre-sale chat it followed (the orders topic ran
 * ahead): the inquiry answered in time raises no signal. */
START_TEST(test_sla_orders_ahead_of_messages)
{
    struct fx f;

    fx_init(&f, "sla-order");
    fx_order(&f, "o1", T0 + 30 * HOUR, 20);
    fx_message(&f, T0, "q1", DIR_INBOUND, MSG_INQUIRY);
    fx_message(&f, T0 + HOUR, "q1", DIR_OUTBOUND, MSG_REPLY);
    ck_assert_int_eq(has_signal(f.c, SIG_SLA), 0);
    sweep(&f, T0 + 10 * DAY);
    ck_assert_int_eq(has_signal(f.c, SIG_SLA), 0);
    fx_free(&f);
}
END_TEST

/* A repurchase consumed before the low rating it followed still tolerates
 * the incident. */
START_TEST(test_incident_purchase_seen_first)
{
    struct fx f;

    fx_init(&f, "inc-order");
    fx_order(&f, "o1", T0, 20);
    fx_order(&f, "o2", T0 + 10 * DAY, 20);
    fx_review(&f, T0 + 2 * DAY, 1, 0);
    ck_assert_int_eq(f.c->incidents, 1);
    ck_assert_int_eq(f.c->incidents_tolerated, 1);
    ck_assert_int_eq(f.c->ninc, 0);
    sweep(&f, T0 + 200 * DAY);
    ck_assert_int_eq(f.c->incidents_lost, 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_late_and_reminder_signals)
{
    struct fx f;
    struct event ev;

    fx_init(&f, "late");
    fx_event(&f, &ev, EV_ORDER_PLACED, T0);
    strcpy(ev.order_id, "o1");
    ev.amount_minor = fx_cents(10);
    ev.promised_ship_by_ms = T0 + DAY;
    ev.promised_delivery_by_ms = T0 + 3 * DAY;
    fx_apply(&f, &ev);
    fx_order_event(&f, EV_ORDER_SHIPPED, "o1", T0 + 2 * DAY);
    ck_assert_int_eq(has_signal(f.c, SIG_LATE_SHIP), 1);
    fx_order_event(&f, EV_ORDER_DELIVERED, "o1", T0 + 4 * DAY);
    ck_assert_int_eq(has_signal(f.c, SIG_LATE_DELIVERY), 1);
    fx_return(&f, "o1", T0 + 5 * DAY, 10, RET_NOT_AS_DESCRIBED);
    ck_assert_int_eq(has_signal(f.c, SIG_NOT_AS_DESCRIBED), 1);
    fx_message(&f, T0 + 6 * DAY, "pay", DIR_OUTBOUND, MSG_PAYMENT_REMINDER);
    ck_assert_int_eq(has_signal(f.c, SIG_PAYMENT_REMINDERS), 0);
    fx_message(&f, T0 + 20 * DAY, "pay", DIR_OUTBOUND, MSG_PAYMENT_REMINDER);
    ck_assert_int_eq(has_signal(f.c, SIG_PAYMENT_REMINDERS), 1);
    for (int i = 0; i < 5; i++) {
        fx_message(&f, T0 + 21 * DAY + i * HOUR, "mkt", DIR_OUTBOUND, MSG_MARKETING);
    }
    ck_assert_int_eq(has_signal(f.c, SIG_MARKETING), 0);
    fx_message(&f, T0 + 27 * DAY, "mkt", DIR_OUTBOUND, MSG_MARKETING);
    ck_assert_int_eq(has_signal(f.c, SIG_MARKETING), 1);
    fx_free(&f);
}
END_TEST

static void make_silver(struct fx *f)
{
    fx_order(f, "s1", T0, 150);
    fx_order(f, "s2", T0 + 10 * DAY, 150);
    ck_assert_str_eq(cu_tier_name(f->c->tier), "silver");
}

START_TEST(test_tier_upgrade_and_grace)
{
    struct fx f;
    int64_t due;

    fx_init(&f, "tier");
    fx_order(&f, "s1", T0, 150);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "tier_upgrade"), 0); /* bronze */
    fx_order(&f, "s2", T0 + 10 * DAY, 150);
    ck_assert_uint_eq(f.out.n, 2); /* tier upgrade + milestone 2 */
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"tier\":\"silver\""), 2);
    /* The first order leaves the 365-day window: below silver, grace starts. */
    due = T0 + 365 * DAY;
    sweep(&f, due - 1);
    ck_assert_int_eq(f.c->tier_grace_until_ms, 0);
    sweep(&f, due);
    ck_assert_str_eq(cu_tier_name(f.c->tier), "silver");
    ck_assert_int_eq(f.c->tier_grace_until_ms, T0 + 395 * DAY);
    sweep(&f, T0 + 395 * DAY - 1);
    ck_assert_str_eq(cu_tier_name(f.c->tier), "silver");
    ck_assert_int_eq(model_next_due(f.c, &f.m) <= T0 + 395 * DAY, 1);
    sweep(&f, T0 + 395 * DAY);
    ck_assert_str_eq(cu_tier_name(f.c->tier), "none");
    ck_assert_int_eq(f.c->tier_grace_until_ms, 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_tier_grace_recovered)
{
    struct fx f;

    fx_init(&f, "tier2");
    make_silver(&f);
    sweep(&f, T0 + 366 * DAY);
    ck_assert(f.c->tier_grace_until_ms != 0);
    fx_order(&f, "s3", T0 + 370 * DAY, 200);
    ck_assert_str_eq(cu_tier_name(f.c->tier), "silver");
    ck_assert_int_eq(f.c->tier_grace_until_ms, 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_advocacy_cooldown)
{
    struct fx f;

    fx_init(&f, "adv");
    fx_review(&f, T0, 5, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"advocacy\""), 1);
    fx_review(&f, T0 + DAY, 4, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, NULL), 0);
    ck_assert_int_eq(f.c->reward_suppressed[RW_ADVOCACY], 1);
    fx_review(&f, T0 + 2 * DAY, 3, 1); /* not high enough: not a trigger */
    ck_assert_int_eq(f.c->reward_suppressed[RW_ADVOCACY], 1);
    fx_review(&f, T0 + 31 * DAY, 5, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"advocacy\""), 1);
    fx_free(&f);
}
END_TEST

START_TEST(test_reward_cap_not_milestones)
{
    struct fx f;

    fx_init(&f, "cap");
    fx_set(&f, "reward_cap_30d", "1");
    fx_set(&f, "cooldown_advocacy_days", "0");
    fx_review(&f, T0, 5, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"advocacy\""), 1);
    fx_review(&f, T0 + DAY, 5, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, NULL), 0);
    /* Milestones are outside the cap. */
    fx_order(&f, "o1", T0 + 2 * DAY, 10);
    fx_order(&f, "o2", T0 + 3 * DAY, 10);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"milestone\":2"), 1);
    fx_review(&f, T0 + 31 * DAY, 5, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"advocacy\""), 1);
    fx_free(&f);
}
END_TEST

START_TEST(test_service_recovery_once_per_incident)
{
    struct fx f;
    struct event ev;

    fx_init(&f, "rec");
    make_silver(&f);
    fx_take(&f, OUT_REWARD, NULL);
    fx_event(&f, &ev, EV_ORDER_PLACED, T0 + 20 * DAY);
    strcpy(ev.order_id, "late1");
    ev.amount_minor = fx_cents(10);
    ev.promised_delivery_by_ms = T0 + 22 * DAY;
    fx_apply(&f, &ev);
    fx_take(&f, OUT_REWARD, NULL);
    fx_order_event(&f, EV_ORDER_DELIVERED, "late1", T0 + 25 * DAY);
    ck_assert_uint_eq(f.out.n, 1);
    ck_assert_ptr_nonnull(strstr(f.out.v[0].payload, "\"service_recovery\""));
    ck_assert_ptr_nonnull(strstr(f.out.v[0].payload, "late_delivery"));
    fx_take(&f, OUT_REWARD, NULL);
    /* The same incident again (a duplicate delivery report): nothing. */
    fx_order_event(&f, EV_ORDER_DELIVERED, "late1", T0 + 26 * DAY);
    ck_assert_uint_eq(f.out.n, 0);
    /* A bronze, non-trust customer gets no recovery. */
    fx_free(&f);
    fx_init(&f, "rec2");
    fx_order(&f, "o1", T0, 10);
    fx_review(&f, T0 + DAY, 1, 0);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "service_recovery"), 0);
    fx_free(&f);
}
END_TEST

START_TEST(test_winback)
{
    struct fx f;

    fx_init(&f, "wb");
    fx_order(&f, "o1", T0, 400);
    fx_order(&f, "o2", T0 + 5 * DAY, 400);
    fx_take(&f, OUT_REWARD, NULL);
    for (int i = 0; i < 5; i++) {
        char conv[16];
        snprintf(conv, sizeof(conv), "k%d", i);
        if (f.out.n == 0 || f.out.v[0].kind != OUT_CHURN_RISK) {
            fx_take(&f, OUT_REWARD, NULL); /* service recovery, then suppressed */
        }
        fx_message(&f, T0 + 6 * DAY + i, conv, DIR_INBOUND, MSG_COMPLAINT);
    }
    ck_assert_uint_eq(f.out.n, 2);
    ck_assert_int_eq(f.out.v[0].kind, OUT_CHURN_RISK);
    ck_assert_ptr_nonnull(strstr(f.out.v[1].payload, "\"win_back\""));
    ck_assert_ptr_nonnull(strstr(f.out.v[1].payload, "\"currency\":\"USD\""));
    fx_free(&f);
}
END_TEST

START_TEST(test_determinism)
{
    struct fx a, b;

    fx_init(&a, "det");
    fx_init(&b, "det");
    for (int i = 0; i < 2; i++) {
        struct fx *f = i ? &b : &a;
        make_silver(f);
        fx_review(f, T0 + 12 * DAY, 5, 1);
        fx_message(f, T0 + 13 * DAY, "q", DIR_INBOUND, MSG_INQUIRY);
        fx_order(f, "o3", T0 + 40 * DAY, 90);
        sweep(f, T0 + 900 * DAY);
    }
    ck_assert_uint_eq(a.out.n, b.out.n);
    ck_assert_uint_gt(a.out.n, 3);
    for (size_t i = 0; i < a.out.n; i++) {
        ck_assert_str_eq(a.out.v[i].event_id, b.out.v[i].event_id);
        ck_assert_str_eq(a.out.v[i].payload, b.out.v[i].payload);
    }
    fx_free(&a);
    fx_free(&b);
}
END_TEST

/* Due times evaluated through fx_advance, and those of them evaluated at a
 * moment a journey without extra evaluations has none. */
static long timers_fired, timers_fired_extra;

static void fx_advance(struct fx *f, int64_t until_ms, int extra)
{
    int n = model_advance(f->c, until_ms, &f->m, &f->out);

    ck_assert_int_ge(n, 0);
    timers_fired += n;
    timers_fired_extra += extra ? n : 0;
    fx_split(f);
}

/* One random journey of a year and more: each event preceded by its timers,
 * as a batch applies it (model_advance to the event's time, then
 * model_apply), then the timers of a quiet year after it.  With extra, a
 * sweeper also runs at random moments in between: before an event, at its
 * very instant, and far past the last one in several steps. */
static void timer_journey(struct fx *f, unsigned seed, int extra)
{
    unsigned s = seed, x = seed * 2654435761u + 1;
    int64_t ts = T0, prev = T0;

    for (int i = 0; i < 60; i++) {
        unsigned gap = fx_rnd(&s) % 4;

        ts += gap == 0   ? (int64_t)(fx_rnd(&s) % 600) * 60000
              : gap == 1 ? (int64_t)(fx_rnd(&s) % 72) * HOUR
                         : (int64_t)(fx_rnd(&s) % 60) * DAY + (int64_t)fx_rnd(&s) * 1000;
        for (unsigned k = extra ? fx_rnd(&x) % 4 : 0; k > 0; k--) {
            prev += (int64_t)(fx_rnd(&x) % 1001) * (ts - prev) / 1000;
            fx_advance(f, prev, 1);
        }
        fx_advance(f, ts, 0);
        fx_random_event(f, &s, ts, i);
        prev = ts;
    }
    for (int k = extra ? 5 : 0; k > 0; k--) {
        fx_advance(f, ts + (int64_t)(fx_rnd(&x) % 400) * DAY / k, 1);
    }
    fx_advance(f, ts + 500 * DAY, 0);
}

static void assert_same_emissions(const struct emission_list *a,
                                  const struct emission_list *b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_int_eq(a->v[i].kind, b->v[i].kind);
        ck_assert_str_eq(a->v[i].event_id, b->v[i].event_id);
        ck_assert_str_eq(a->v[i].payload, b->v[i].payload);
    }
}

/* docs/model.md "Timers": evaluations at extra moments (a sweeper's passes,
 * wherever they fall) change neither the state, to the last digit, nor the
 * derived events, ids and payloads. */
START_TEST(test_timers_path_independent)
{
    size_t derived = 0;

    timers_fired = timers_fired_extra = 0;
    for (unsigned seed = 1; seed <= 300; seed++) {
        struct fx a, b;
        struct kvlist ka, kb;
        char *aux_a = NULL, *aux_b = NULL;

        fx_init(&a, "timers");
        fx_init(&b, "timers");
        timer_journey(&a, seed, 0);
        timer_journey(&b, seed, 1);
        assert_same_emissions(&a.out, &b.out);
        assert_same_emissions(&a.seg, &b.seg);
        derived += a.out.n + a.seg.n;
        fx_encode_ok(a.c, &ka, &aux_a);
        fx_encode_ok(b.c, &kb, &aux_b);
        fx_assert_same_text(&ka, aux_a, &kb, aux_b);
        kvlist_free(&ka);
        kvlist_free(&kb);
        free(aux_a);
        free(aux_b);
        fx_free(&a);
        fx_free(&b);
    }
    /* The journeys exercise what they claim: timers fired, many of them by
     * the extra evaluations, and derived events to compare. */
    ck_assert_int_gt(timers_fired, 1000);
    ck_assert_int_gt(timers_fired_extra, 100);
    ck_assert_uint_gt(derived, 1000);
}
END_TEST

START_TEST(test_config)
{
    struct model_config *cfg = model_config_new();
    char err[256], *text = NULL;
    size_t len = 0;
    FILE *f;

    ck_assert_int_eq(model_config_set(cfg, "weight_repeat", "1.5", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "model.weight_repeat: must be a number between 0 and 1");
    ck_assert_int_eq(model_config_set(cfg, "weight_repeat", "much", err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "model.weight_repeat: 'much' is not a number");
    ck_assert_int_eq(model_config_set(cfg, "nope", "1", err, sizeof(err)), -2);
    ck_assert_str_eq(err, "unknown key 'model.nope'");
    ck_assert_int_eq(model_config_set(cfg, "tier_grace_days", "2.5", err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "model.tier_grace_days: must be an integer between 0 and 3650");
    ck_assert_int_eq(model_config_set(cfg, "milestones", "2,5,3", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "model.milestones: must be at most 16 ascending integers "
                          "between 2 and 1e+06, comma-separated");
    ck_assert_int_eq(model_config_set(cfg, "milestones", "2,3,4", err, sizeof(err)), 0);
    ck_assert_int_eq(cfg->nmilestones, 3);
    ck_assert_int_eq(cfg->milestones[2], 4);
    ck_assert_int_eq(model_config_set(cfg, "churn_rearm", "0.8", err, sizeof(err)), 0);
    ck_assert_int_eq(model_config_check(cfg, err, sizeof(err)), -1);
    ck_assert_int_eq(model_config_set(cfg, "churn_rearm", "0.4", err, sizeof(err)), 0);
    ck_assert_int_eq(model_config_check(cfg, err, sizeof(err)), 0);
    ck_assert_double_eq(model_config_churn_threshold(cfg), 0.7);
    /* the description gives the defaults, each as a config line */
    ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
    cfgtab_describe(model_config_keys(), f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\nmodel.milestones = 2,5,10,20,50,100\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nmodel.weight_brand = 0.2\n"));
    free(text);
    model_config_free(cfg);
}
END_TEST

START_TEST(test_explain)
{
    struct fx f;
    char *buf = malloc(16384);

    fx_init(&f, "ex");
    make_silver(&f);
    fx_review(&f, T0 + 12 * DAY, 1, 0);
    ck_assert_int_eq(model_explain(f.c, &f.m, T0 + 20 * DAY, buf, 16384), 0);
    ck_assert_ptr_nonnull(strstr(buf, "loyalty_score"));
    ck_assert_ptr_nonnull(strstr(buf, "brand_type"));
    ck_assert_ptr_nonnull(strstr(buf, "segment inertia"));
    ck_assert_ptr_nonnull(strstr(buf, "tier silver"));
    ck_assert_ptr_nonnull(strstr(buf, "low_rating"));
    ck_assert_int_eq(model_explain(f.c, &f.m, T0 + 20 * DAY, buf, 64), -1);
    free(buf);
    fx_free(&f);
}
END_TEST

START_TEST(test_derived_finish)
{
    char *out;

    ck_assert_int_eq(derived_finish("{\"a\":1}", T0, &out), 0);
    ck_assert_str_eq(out, "{\"a\":1,\"emitted_at\":\"2024-01-01T00:00:00.000Z\"}");
    free(out);
    ck_assert_int_eq(derived_finish("[1]", T0, &out), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_first_repeat_milestone_once);
    tcase_add_test(tc, test_hostile_sums_saturate);
    tcase_add_test(tc, test_milestone_id_deterministic);
    tcase_add_test(tc, test_window_boundaries);
    tcase_add_test(tc, test_aggregates_exact);
    tcase_add_test(tc, test_cancel_known_and_unknown);
    tcase_add_test(tc, test_out_of_order);
    tcase_add_test(tc, test_brand_complete);
    tcase_add_test(tc, test_brand_occasional);
    tcase_add_test(tc, test_brand_switching);
    tcase_add_test(tc, test_brand_split);
    tcase_add_test(tc, test_brand_none);
    tcase_add_test(tc, test_brand_variety);
    tcase_add_test(tc, test_brand_undetermined);
    tcase_add_test(tc, test_segment_benefit_coupons);
    tcase_add_test(tc, test_segment_benefit_shipping);
    tcase_add_test(tc, test_segment_trust_inertia_at_risk);
    tcase_add_test(tc, test_segment_new_potential);
    tcase_add_test(tc, test_time_to_choose);
    tcase_add_test(tc, test_tolerance);
    tcase_add_test(tc, test_score_is_sum_of_contributions);
    tcase_add_test(tc, test_churn_hysteresis);
    tcase_add_test(tc, test_sweep_quiet_customer);
    tcase_add_test(tc, test_sweep_one_time_buyer);
    tcase_add_test(tc, test_sla_via_sweep);
    tcase_add_test(tc, test_sla_orders_ahead_of_messages);
    tcase_add_test(tc, test_incident_purchase_seen_first);
    tcase_add_test(tc, test_late_and_reminder_signals);
    tcase_add_test(tc, test_tier_upgrade_and_grace);
    tcase_add_test(tc, test_tier_grace_recovered);
    tcase_add_test(tc, test_advocacy_cooldown);
    tcase_add_test(tc, test_reward_cap_not_milestones);
    tcase_add_test(tc, test_service_recovery_once_per_incident);
    tcase_add_test(tc, test_winback);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_timers_path_independent);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_explain);
    tcase_add_test(tc, test_derived_finish);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
