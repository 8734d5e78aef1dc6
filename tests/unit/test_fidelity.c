/*
 * test_fidelity.c - the parts of the loyalty model that follow the domain
 * source closely: prices on the wire, brand shares per order, complaints to
 * their resolution, attitude and the segments that move, and rewards whose
 * use is watched.  Through model_apply and model_sweep only; every expected
 * value is worked out from docs/model.md beside the check.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "state/model/customer.h"
#include "state/model/model.h"
#include "tests/unit/check_main.h"
#include "tests/unit/model_fixture.h"

/* The churn risk of a one-time buyer `days` after the purchase with signal
 * factor `factor` (docs/model.md: the recency term 0.5^(days / 365)). */
static double onetime_risk(int days, double factor)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.6g", 1.0 - pow(0.5, days / 365.0) * factor);
    return strtod(buf, NULL);
}

static int signals_of(const struct customer *c, enum signal_kind k)
{
    int n = 0;

    for (uint32_t i = 0; i < c->nsig; i++) {
        n += c->sig[i].kind == (uint32_t)k;
    }
    return n;
}

/* An order of `n` lines with the given prices (cost < 0: none). */
static void order_lines(struct fx *f, const char *oid, int64_t ts, double amount, int n,
                        const char *brand, double unit, double list, double cost,
                        const char *reward)
{
    struct event ev;
    struct ev_item it[4];

    ck_assert_int_le(n, 4);
    fx_event(f, &ev, EV_ORDER_PLACED, ts);
    snprintf(ev.order_id, sizeof(ev.order_id), "%s", oid);
    ev.amount_minor = fx_cents(amount);
    ev.shipping = SHIP_STANDARD;
    memset(it, 0, sizeof(it));
    for (int i = 0; i < n; i++) {
        snprintf(it[i].sku, sizeof(it[i].sku), "sku-%d", i);
        snprintf(it[i].brand, sizeof(it[i].brand), "%s", brand);
        snprintf(it[i].category, sizeof(it[i].category), "tea");
        it[i].qty = 2;
        it[i].unit_price_minor = fx_cents(unit);
        it[i].list_price_minor = fx_cents(list);
        it[i].unit_cost_minor = cost < 0 ? 0 : fx_cents(cost);
        it[i].has_cost = cost >= 0;
    }
    ev.items = it;
    ev.n_items = (size_t)n;
    if (reward) {
        snprintf(ev.reward_event_id, sizeof(ev.reward_event_id), "%s", reward);
    }
    fx_apply(f, &ev);
}

static void complaint(struct fx *f, int64_t ts, const char *conv, enum ev_category cat)
{
    struct event ev;

    fx_event(f, &ev, EV_MESSAGE_SENT, ts);
    snprintf(ev.conversation_id, sizeof(ev.conversation_id), "%s", conv);
    ev.direction = DIR_INBOUND;
    ev.kind = MSG_COMPLAINT;
    ev.category = cat;
    fx_apply(f, &ev);
}

/* ---- prices -------------------------------------------------------------- */

/* Price sensitivity (docs/domain.md, "Six criteria"): an order at half the list
 * price is a price cut even without a discount field. */
START_TEST(test_markdown_is_a_price_cut)
{
    struct fx f;

    fx_init(&f, "mark");
    /* 2 lines x qty 2 at 5.00 of 10.00: markdown 4 x 5.00 = 20.00, paid 20.00;
     * depth 20 / (20 + 20) = 0.5. */
    order_lines(&f, "o1", T0, 20, 2, "Tealeaf", 5, 10, -1, NULL);
    ck_assert_int_eq(f.c->markdown_cents, 2000);
    ck_assert_int_eq(f.c->discounted_orders, 1);
    ck_assert_int_eq(f.c->depth_ppm_sum, 500000);
    /* price criterion 1 - 0.5 x 1 - 0.5 x min(1, 0.5 / 0.5) = 0: no points. */
    ck_assert_int_eq(f.c->contrib[CR_PRICE], 0);
    order_lines(&f, "o2", T0 + 20 * DAY, 20, 2, "Tealeaf", 5, 10, -1, NULL);
    /* Benefit loyalty: buys again for the lowest price. */
    ck_assert_str_eq(cu_segment_name(f.c->segment), "benefit");
    /* A cancel takes the markdown back out. */
    fx_order_event(&f, EV_ORDER_CANCELLED, "o2", T0 + 20 * DAY + HOUR);
    ck_assert_int_eq(f.c->markdown_cents, 2000);
    ck_assert_int_eq(f.c->discounted_orders, 1);
    fx_free(&f);
}
END_TEST

/* Consistency of choice counts purchases, not item lines: one order of
 * three lines of one brand is one purchase of it. */
START_TEST(test_brand_share_per_order)
{
    struct fx f;

    fx_init(&f, "lines");
    order_lines(&f, "o1", T0, 30, 3, "Tealeaf", 5, 0, -1, NULL);
    ck_assert_int_eq(f.c->cats[0].items, 1);
    ck_assert_int_eq(f.c->brands[0].count, 1);
    ck_assert_str_eq(cu_brand_type_name(f.c->brand_type), "undetermined");
    fx_free(&f);
}
END_TEST

/* ---- complaints to resolution -------------------------------------------- */

START_TEST(test_resolution_lifts_the_conversation)
{
    struct fx f;

    fx_init(&f, "res");
    fx_order(&f, "o1", T0, 40);
    complaint(&f, T0 + DAY, "cv1", CAT_DUTIES);
    ck_assert_int_eq(signals_of(f.c, SIG_COMPLAINT), 1);
    ck_assert_int_eq(f.c->complaints[CAT_DUTIES], 1);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "at_risk");
    /* Resolved 10 hours later: within resolve_hours (72), within the SLA. */
    fx_message(&f, T0 + DAY + 10 * HOUR, "cv1", DIR_OUTBOUND, MSG_RESOLUTION);
    ck_assert_int_eq(signals_of(f.c, SIG_COMPLAINT), 0);
    ck_assert_int_eq(signals_of(f.c, SIG_SLOW_RESOLUTION), 0);
    ck_assert_int_eq(f.c->resolved_n, 1);
    ck_assert_int_eq(f.c->resolve_sum_min, 600);
    ck_assert(f.c->churn_risk == onetime_risk(1, 1.0));
    ck_assert_str_eq(cu_segment_name(f.c->segment), "new");
    fx_free(&f);
}
END_TEST

START_TEST(test_slow_resolution)
{
    struct fx f;

    fx_init(&f, "slow");
    fx_order(&f, "o1", T0, 40);
    complaint(&f, T0 + DAY, "cv1", CAT_LOGISTICS);
    fx_message(&f, T0 + DAY + HOUR, "cv1", DIR_OUTBOUND, MSG_REPLY);
    /* Not resolved by the deadline: the sweeper raises it at T0+1d+72h. */
    ck_assert_int_eq(model_next_due(f.c, &f.m), T0 + DAY + 72 * HOUR);
    fx_sweep(&f, T0 + DAY + 72 * HOUR);
    ck_assert_int_eq(signals_of(f.c, SIG_SLOW_RESOLUTION), 1);
    /* A late resolution lifts the complaint, not the slowness. */
    fx_message(&f, T0 + 5 * DAY, "cv1", DIR_OUTBOUND, MSG_RESOLUTION);
    ck_assert_int_eq(signals_of(f.c, SIG_COMPLAINT), 0);
    ck_assert_int_eq(signals_of(f.c, SIG_SLOW_RESOLUTION), 1);
    /* risk = 1 - p x (1 - 0.15) */
    ck_assert(f.c->churn_risk == onetime_risk(5, 0.85));
    fx_free(&f);
}
END_TEST

/* Logistics delays are a trigger (docs/domain.md, "Dissatisfied"): a return for
 * lateness raises the late-delivery signal, once per order. */
START_TEST(test_late_return)
{
    struct fx f;
    struct event ev;

    fx_init(&f, "late");
    fx_event(&f, &ev, EV_ORDER_PLACED, T0);
    strcpy(ev.order_id, "o1");
    ev.amount_minor = fx_cents(30);
    ev.promised_delivery_by_ms = T0 + 3 * DAY;
    fx_apply(&f, &ev);
    fx_order_event(&f, EV_ORDER_DELIVERED, "o1", T0 + 5 * DAY);
    ck_assert_int_eq(signals_of(f.c, SIG_LATE_DELIVERY), 1);
    fx_return(&f, "o1", T0 + 6 * DAY, 30, RET_LATE);
    ck_assert_int_eq(signals_of(f.c, SIG_LATE_DELIVERY), 1);
    fx_order(&f, "o2", T0 + 7 * DAY, 30);
    fx_return(&f, "o2", T0 + 8 * DAY, 30, RET_LATE);
    ck_assert_int_eq(signals_of(f.c, SIG_LATE_DELIVERY), 2);
    fx_free(&f);
}
END_TEST

/* One bad review can undo earlier effort (docs/domain.md, "How to raise it"): a
 * shared low rating weighs more; a low rating and a quality return of the
 * same order are one problem. */
START_TEST(test_quality_once_per_order)
{
    struct fx f;

    fx_init(&f, "q");
    fx_order(&f, "o1", T0, 30);
    fx_review_of(&f, T0 + 2 * DAY, "o1", 1, 1);
    ck_assert_int_eq(signals_of(f.c, SIG_SHARED_LOW_RATING), 1);
    ck_assert(f.c->churn_risk == onetime_risk(2, 0.65));
    fx_return(&f, "o1", T0 + 3 * DAY, 30, RET_QUALITY);
    ck_assert_int_eq(signals_of(f.c, SIG_QUALITY_RETURN), 0);
    ck_assert_int_eq(f.c->incidents, 1);
    /* Another order's private low rating is a second problem, weight 0.25. */
    fx_order(&f, "o2", T0 + 4 * DAY, 30);
    fx_review_of(&f, T0 + 5 * DAY, "o2", 2, 0);
    ck_assert_int_eq(f.c->incidents, 2);
    ck_assert_int_eq(signals_of(f.c, SIG_LOW_RATING), 1);
    fx_free(&f);
}
END_TEST

/* ---- attitude and segments ------------------------------------------------ */

/* Interest in competing brands is the customer's: the shop's own outbound
 * messages naming a competitor do not count. */
START_TEST(test_competitor_mentions_inbound)
{
    struct fx f;
    struct event ev;

    fx_init(&f, "rival");
    fx_event(&f, &ev, EV_MESSAGE_SENT, T0);
    strcpy(ev.conversation_id, "m1");
    ev.direction = DIR_OUTBOUND;
    ev.kind = MSG_MARKETING;
    ev.mentions_competitor = 1;
    fx_apply(&f, &ev);
    ck_assert_int_eq(f.c->competitor_mentions, 0);
    ev.direction = DIR_INBOUND;
    ev.kind = MSG_OTHER;
    snprintf(ev.event_id, sizeof(ev.event_id), "rival-2");
    fx_apply(&f, &ev);
    ck_assert_int_eq(f.c->competitor_mentions, 1);
    /* It halves every attitude_half_life_days (180). */
    ck_assert(fabs(f.c->att[AT_RIVAL] - 1.0) < 1e-9);
    fx_sweep(&f, T0 + 180 * DAY);
    ck_assert(fabs(f.c->att[AT_RIVAL] - 1.0) < 1e-9); /* stored as of the evidence */
    ck_assert_int_eq(f.c->att_as_of_ms, T0);
    fx_free(&f);
}
END_TEST

/* Attached repeat buyers, then silence: trust gives way to lapsing at the
 * day lapse_days (180) after the last purchase, found by a due time, with a
 * segment-change event the CRM can act on. */
START_TEST(test_trust_lapses)
{
    struct fx f;
    int64_t due;

    fx_init(&f, "lapse");
    fx_order(&f, "o1", T0, 40);
    fx_order(&f, "o2", T0 + 20 * DAY, 40);
    fx_review(&f, T0 + 21 * DAY, 5, 1);
    fx_review(&f, T0 + 22 * DAY, 5, 1);
    fx_review(&f, T0 + 23 * DAY, 5, 0);
    ck_assert_str_eq(cu_segment_name(f.c->segment), "trust");
    fx_take_seg(&f, NULL);
    due = model_next_due(f.c, &f.m);
    ck_assert_int_le(due, T0 + 200 * DAY);
    while (due <= T0 + 200 * DAY && strcmp(cu_segment_name(f.c->segment), "trust") == 0) {
        fx_sweep(&f, due);
        due = model_next_due(f.c, &f.m);
    }
    ck_assert_str_eq(cu_segment_name(f.c->segment), "lapsing");
    ck_assert_uint_eq(
        fx_take_seg(&f, "\"segment\":{\"from\":\"trust\",\"to\":\"lapsing\"}"), 1);
    fx_free(&f);
}
END_TEST

/* A late first reply weighs against strong positive evidence: it does not
 * by itself make an attached customer dissatisfied. */
START_TEST(test_late_reply_against_goodwill)
{
    struct fx f;

    fx_init(&f, "goodwill");
    fx_order(&f, "o1", T0, 40);
    fx_order(&f, "o2", T0 + 10 * DAY, 40);
    for (int i = 0; i < 4; i++) {
        fx_review(&f, T0 + (11 + i) * DAY, 5, 1);
    }
    /* attitude: 0.35 x sat(4, 2) 0.865 + 0.25 x sat(4, 1) 0.982 = 0.548 */
    ck_assert_str_eq(cu_segment_name(f.c->segment), "trust");
    fx_message(&f, T0 + 16 * DAY, "q1", DIR_INBOUND, MSG_INQUIRY);
    fx_sweep(&f, T0 + 18 * DAY);
    ck_assert_int_eq(signals_of(f.c, SIG_SLA), 1);
    /* pain 0.15 <= goodwill 0.5 x attitude (0.27 or more) */
    ck_assert_str_eq(cu_segment_name(f.c->segment), "trust");
    fx_free(&f);
}
END_TEST

START_TEST(test_segment_events)
{
    struct fx a, b;

    fx_init(&a, "seg-ev");
    fx_init(&b, "seg-ev");
    /* new -> satisfied (60 days later) -> lapsing (180 days after it) */
    fx_order(&a, "o1", T0, 40);
    fx_order(&b, "o1", T0, 40);
    ck_assert_uint_eq(fx_take_seg(&a, NULL), 0);
    fx_sweep(&a, T0 + 61 * DAY);
    fx_sweep(&b, T0 + 61 * DAY);
    ck_assert_str_eq(a.seg.v[0].payload, b.seg.v[0].payload);
    ck_assert_str_eq(a.seg.v[0].event_id, b.seg.v[0].event_id);
    ck_assert_uint_eq(fx_take_seg(&a, "\"sequence\":1,\"changed\":[\"segment\"]"), 1);
    fx_sweep(&a, T0 + 180 * DAY);
    ck_assert_uint_eq(fx_take_seg(&a, "\"reason_codes\":[\"silent\"]"), 1);
    ck_assert_int_eq(a.c->segment_seq, 2);
    fx_free(&a);
    fx_free(&b);
}
END_TEST

/* ---- rewards --------------------------------------------------------------- */

START_TEST(test_redemption_and_points)
{
    struct fx f;
    char id[64];
    const char *p;

    fx_init(&f, "redeem");
    fx_order(&f, "o1", T0, 40);
    fx_order(&f, "o2", T0 + DAY, 40);
    /* The first repeat purchase: a milestone coupon, remembered. */
    ck_assert_int_eq(f.c->nrwd, 1);
    ck_assert_int_eq(f.c->reward_issued[RW_MILESTONE], 1);
    ck_assert_uint_eq(f.out.n, 1);
    p = strstr(f.out.v[0].payload, "\"event_id\":\"");
    ck_assert_ptr_nonnull(p);
    snprintf(id, sizeof(id), "%.32s", p + 12);
    fx_take(&f, OUT_REWARD, NULL);
    order_lines(&f, "o3", T0 + 5 * DAY, 20, 1, "Tealeaf", 20, 0, -1, id);
    ck_assert_int_eq(f.c->reward_redeemed[RW_MILESTONE], 1);
    ck_assert_int_eq(f.c->rewards_redeemed, 1);
    /* Used twice: counted once; an unknown id is counted apart. */
    order_lines(&f, "o4", T0 + 6 * DAY, 20, 1, "Tealeaf", 20, 0, -1, id);
    order_lines(&f, "o5", T0 + 7 * DAY, 20, 1, "Tealeaf", 20, 0, -1, "nope");
    ck_assert_int_eq(f.c->rewards_redeemed, 1);
    ck_assert_int_eq(f.c->redeemed_unknown, 1);
    fx_take(&f, OUT_REWARD, NULL);
    /* A shared high rating: advocacy points (bronze: 50, docs/model.md). */
    fx_review(&f, T0 + 8 * DAY, 5, 1);
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD, "\"points\""), 1);
    ck_assert_int_eq(f.c->points_balance, 50);
    fx_free(&f);
}
END_TEST

/* Watch whether customers value the rewards (docs/domain.md, "How to raise it"):
 * after reward_unused_n (3) advocacy rewards left unused, the next waits
 * reward_unused_gap_days (90) instead of the 30-day cooldown. */
START_TEST(test_unused_rewards_less_often)
{
    struct fx f;
    int issued = 0;

    fx_init(&f, "unused");
    fx_set(&f, "reward_cap_30d", "16");
    fx_order(&f, "o1", T0, 40);
    for (int i = 0; i < 6; i++) {
        fx_review(&f, T0 + (1 + 31 * i) * DAY, 5, 1);
        issued += (int)fx_take(&f, OUT_REWARD, "\"advocacy\"");
    }
    /* Days 1, 32 and 63 are issued.  On day 94 all three are older than 30
     * days and unused: suppressed (63 + 90 > 94), again on day 125, and
     * issued on day 156 (63 + 90 <= 156). */
    ck_assert_int_eq(issued, 4);
    ck_assert_int_eq(f.c->reward_suppressed[RW_ADVOCACY], 2);
    fx_free(&f);
}
END_TEST

/* Rewards graded by contribution to profit: costed orders grade by margin. */
START_TEST(test_margin_grading)
{
    struct fx f;

    fx_init(&f, "margin");
    /* 2 orders of 2 lines x qty 2 at 100.00 costing 90.00: 400.00 each, margin
     * 400 - 360 = 40.00 each: 80.00 in 365 days, silver grade (>= 60) while
     * the revenue tier is silver too (800, 2 orders). */
    order_lines(&f, "o1", T0, 400, 2, "Tealeaf", 100, 0, 90, NULL);
    order_lines(&f, "o2", T0 + DAY, 400, 2, "Tealeaf", 100, 0, 90, NULL);
    ck_assert_int_eq(f.c->margin_cents, 8000);
    ck_assert(f.c->margin_365d == 80);
    /* The milestone coupon: silver grade 10, graded by margin. */
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD,
                              "\"value\":10,\"currency\":\"USD\","
                              "\"graded_by\":\"margin\""),
                      1);
    /* Two more, thin margins: 4 orders, tier gold by revenue (1600 >= 600),
     * margin 80 + 2 x 4 = 88: still silver. */
    order_lines(&f, "o3", T0 + 2 * DAY, 400, 2, "Tealeaf", 100, 0, 99.5, NULL);
    order_lines(&f, "o4", T0 + 3 * DAY, 400, 2, "Tealeaf", 100, 0, 99.5, NULL);
    ck_assert_str_eq(cu_tier_name(f.c->tier), "gold");
    ck_assert_uint_eq(fx_take(&f, OUT_REWARD,
                              "\"tier\":\"gold\",\"kind\":\"points\","
                              "\"value\":250"),
                      1);
    fx_free(&f);
}
END_TEST

/* The payloads are valid JSON whatever the customer id holds, and carry it
 * back unchanged. */
START_TEST(test_payload_escaping)
{
    static const char id[] = "c\"q\\b/\n\t\x01\x1f\xc3\xa9-end";
    struct fx f;
    cJSON *o;

    fx_init(&f, id);
    fx_order(&f, "o1", T0, 40);
    fx_order(&f, "o2", T0 + DAY, 40.5);
    ck_assert_uint_eq(f.out.n, 1);
    o = cJSON_Parse(f.out.v[0].payload);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "customer_id")->valuestring, id);
    ck_assert(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "scores"), "spend_365d")
                  ->valuedouble == 80.5);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "reason_codes")), 1);
    cJSON_Delete(o);
    fx_sweep(&f, T0 + 200 * DAY);
    ck_assert_uint_ge(f.seg.n, 1);
    o = cJSON_Parse(f.seg.v[f.seg.n - 1].payload);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "customer_id")->valuestring, id);
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "segment"), "to")->valuestring,
        "lapsing");
    cJSON_Delete(o);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fidelity");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_markdown_is_a_price_cut);
    tcase_add_test(tc, test_brand_share_per_order);
    tcase_add_test(tc, test_resolution_lifts_the_conversation);
    tcase_add_test(tc, test_slow_resolution);
    tcase_add_test(tc, test_late_return);
    tcase_add_test(tc, test_quality_once_per_order);
    tcase_add_test(tc, test_competitor_mentions_inbound);
    tcase_add_test(tc, test_trust_lapses);
    tcase_add_test(tc, test_late_reply_against_goodwill);
    tcase_add_test(tc, test_segment_events);
    tcase_add_test(tc, test_redemption_and_points);
    tcase_add_test(tc, test_unused_rewards_less_often);
    tcase_add_test(tc, test_margin_grading);
    tcase_add_test(tc, test_payload_escaping);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
