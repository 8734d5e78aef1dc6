/*
 * model_fixture.h - helpers shared by the model's unit tests: a customer
 * with default tunables and the published CDNOW parameters, builders for
 * each event type, random events and a customer with every list in use.
 * Header-only (static functions) so every test binary stays one file.
 */
#ifndef LOYALTY_MODEL_FIXTURE_H
#define LOYALTY_MODEL_FIXTURE_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "state/model/customer.h"
#include "state/model/model.h"
#include "state/store/codec.h"

#define DAY  CU_DAY_MS
#define HOUR 3600000LL
#define T0   1704067200000LL /* 2024-01-01T00:00:00Z, epoch day 19723 */

struct fx {
    struct model_config *cfg;
    struct model_ctx m;
    struct customer *c;
    struct emission_list out; /* churn-risk and reward-trigger events */
    struct emission_list seg; /* segment-change events, kept apart */
    int seq;
};

static inline void fx_init(struct fx *f, const char *id)
{
    memset(f, 0, sizeof(*f));
    f->cfg = model_config_new();
    ck_assert_ptr_nonnull(f->cfg);
    f->m.cfg = f->cfg;
    bg_params_default(&f->m.bg);
    gg_params_default(&f->m.gg);
    f->c = malloc(sizeof(*f->c));
    ck_assert_ptr_nonnull(f->c);
    customer_init(f->c, id);
    emission_list_init(&f->out);
    emission_list_init(&f->seg);
}

/* Moves the segment-change events of f->out to f->seg, so that the tests of
 * the other outputs count only theirs. */
static inline void fx_split(struct fx *f)
{
    size_t k = 0;

    for (size_t i = 0; i < f->out.n; i++) {
        struct emission *e = &f->out.v[i];
        if (e->kind != OUT_SEGMENT) {
            f->out.v[k++] = *e;
            continue;
        }
        ck_assert_int_eq(array_append(&f->seg, *e), 0);
    }
    f->out.n = k;
}

static inline void fx_free(struct fx *f)
{
    emission_list_free(&f->out);
    emission_list_free(&f->seg);
    free(f->c);
    model_config_free(f->cfg);
}

static inline void fx_set(struct fx *f, const char *key, const char *value)
{
    char err[256];

    ck_assert_msg(model_config_set(f->cfg, key, value, err, sizeof(err)) == 0, "%s", err);
}

static inline void fx_event(struct fx *f, struct event *ev, enum ev_type t, int64_t ts)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = t;
    ev->ts_ms = ts;
    snprintf(ev->event_id, sizeof(ev->event_id), "ev-%d", ++f->seq);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", f->c->id);
    memcpy(ev->currency, "USD", 4);
}

static inline void fx_apply(struct fx *f, const struct event *ev)
{
    char err[256];

    ck_assert_msg(model_apply(f->c, ev, &f->m, &f->out, err, sizeof(err)) == 0, "%s",
                  err);
    fx_split(f);
}

static inline void fx_sweep(struct fx *f, int64_t now)
{
    ck_assert_int_eq(model_sweep(f->c, now, &f->m, &f->out), 0);
    fx_split(f);
}

/* The segment-change events since the last call (those whose payload
 * contains needle, or all), then forgets them all. */
static inline size_t fx_take_seg(struct fx *f, const char *needle)
{
    size_t n = 0;

    for (size_t i = 0; i < f->seg.n; i++) {
        n += !needle || strstr(f->seg.v[i].payload, needle) != NULL;
    }
    emission_list_free(&f->seg);
    emission_list_init(&f->seg);
    return n;
}

/* An order of one item line; brand/category may be NULL. */
/* An amount in currency units as the model reads it: hundredths, exactly
 * (consumers/convert.c brings parsed amounts there). */
static inline int64_t fx_cents(double amount)
{
    return llround(amount * 100.0);
}

static inline void fx_order_full(struct fx *f, const char *oid, int64_t ts, double amount,
                                 double discount, enum ev_shipping ship,
                                 const char *category, const char *brand)
{
    struct event ev;
    struct ev_item it;

    fx_event(f, &ev, EV_ORDER_PLACED, ts);
    snprintf(ev.order_id, sizeof(ev.order_id), "%s", oid);
    ev.amount_minor = fx_cents(amount);
    ev.discount_minor = fx_cents(discount);
    ev.shipping = ship;
    if (brand || category) {
        memset(&it, 0, sizeof(it));
        snprintf(it.brand, sizeof(it.brand), "%s", brand ? brand : "");
        snprintf(it.category, sizeof(it.category), "%s", category ? category : "");
        snprintf(it.sku, sizeof(it.sku), "sku-%s", brand ? brand : "x");
        it.qty = 1;
        ev.items = &it;
        ev.n_items = 1;
    }
    fx_apply(f, &ev);
}

static inline void fx_order(struct fx *f, const char *oid, int64_t ts, double amount)
{
    fx_order_full(f, oid, ts, amount, 0, SHIP_STANDARD, NULL, NULL);
}

static inline void fx_order_event(struct fx *f, enum ev_type t, const char *oid,
                                  int64_t ts)
{
    struct event ev;

    fx_event(f, &ev, t, ts);
    snprintf(ev.order_id, sizeof(ev.order_id), "%s", oid);
    fx_apply(f, &ev);
}

static inline void fx_return(struct fx *f, const char *oid, int64_t ts, double amount,
                             enum ev_return_reason reason)
{
    struct event ev;

    fx_event(f, &ev, EV_ORDER_RETURNED, ts);
    snprintf(ev.order_id, sizeof(ev.order_id), "%s", oid);
    ev.amount_minor = fx_cents(amount);
    ev.reason = reason;
    fx_apply(f, &ev);
}

/* An order paid in another currency, as consumers/convert.c leaves it:
 * amount minor units of cur (exponent exp) converted at num / den, the
 * figures it stated kept in ev.paid. */
static inline void fx_order_paid(struct fx *f, const char *oid, int64_t ts,
                                 const char *cur, int exp, int64_t amount, uint64_t num,
                                 uint64_t den)
{
    struct event ev;

    fx_event(f, &ev, EV_ORDER_PLACED, ts);
    snprintf(ev.order_id, sizeof(ev.order_id), "%s", oid);
    memcpy(ev.paid.currency, cur, 4);
    ev.paid.exponent = exp;
    ev.paid.amount_minor = amount;
    ev.paid.rate = (struct fx_ratio){num, den, 0};
    ck_assert_int_eq(fx_convert(amount, exp, &ev.paid.rate, 2, &ev.amount_minor), FX_OK);
    ev.shipping = SHIP_STANDARD;
    fx_apply(f, &ev);
}

/* A review of order oid (NULL: of no order). */
static inline void fx_review_of(struct fx *f, int64_t ts, const char *oid, int rating,
                                int shared)
{
    struct event ev;

    fx_event(f, &ev, EV_REVIEW_POSTED, ts);
    if (oid) {
        snprintf(ev.order_id, sizeof(ev.order_id), "%s", oid);
    }
    ev.rating = rating;
    ev.shared = shared;
    fx_apply(f, &ev);
}

static inline void fx_review(struct fx *f, int64_t ts, int rating, int shared)
{
    fx_review_of(f, ts, NULL, rating, shared);
}

static inline void fx_message(struct fx *f, int64_t ts, const char *conv,
                              enum ev_direction dir, enum ev_msg_kind kind)
{
    struct event ev;

    fx_event(f, &ev, EV_MESSAGE_SENT, ts);
    snprintf(ev.conversation_id, sizeof(ev.conversation_id), "%s", conv);
    ev.direction = dir;
    ev.kind = kind;
    fx_apply(f, &ev);
}

/* Emissions since the last call, then forgets them. */
static inline size_t fx_take(struct fx *f, enum out_kind kind, const char *needle)
{
    size_t n = 0;

    for (size_t i = 0; i < f->out.n; i++) {
        if (f->out.v[i].kind == kind &&
            (!needle || strstr(f->out.v[i].payload, needle))) {
            n++;
        }
    }
    emission_list_free(&f->out);
    emission_list_init(&f->out);
    return n;
}

/* ---- random and rich customers (test_codec.c, test_packed.c) ------------- */

/* A small LCG: the same 15-bit sequence from the same seed on every platform,
 * so a failing random round trip can be replayed. */
static inline unsigned fx_rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* The brands and categories of fx_random_event's orders, with the characters
 * the codec must escape (separators, '%', non-ASCII). */
static const char *const fx_brands[] = {"Acme", "Zenith, Inc.", "Bolt|Co", "nova%",
                                        "Ünï"};
static const char *const fx_cats[] = {"shoes", "tea;green", "books"};

/* One random event at ts, drawn from *s: an order (with one item line), a
 * shipment or delivery, a return, a cancellation, a review or a message.  i is
 * the event's index: the order id is one of "o0".."o<i>", so later events
 * often refer to earlier orders. */
static inline void fx_random_event(struct fx *f, unsigned *s, int64_t ts, int i)
{
    char oid[32], conv[32];
    unsigned r = fx_rnd(s) % 9;

    snprintf(oid, sizeof(oid), "o%u", fx_rnd(s) % (unsigned)(i + 1));
    snprintf(conv, sizeof(conv), "cv%u", fx_rnd(s) % 4);
    switch (r) {
    case 0:
    case 1:
        fx_order_full(f, oid, ts, (fx_rnd(s) % 50000) / 100.0, (fx_rnd(s) % 3) ? 0 : 5.25,
                      (enum ev_shipping)(fx_rnd(s) % 4), fx_cats[fx_rnd(s) % 3],
                      fx_brands[fx_rnd(s) % 5]);
        break;
    case 2:
        fx_order_event(f, (enum ev_type)(EV_ORDER_SHIPPED + fx_rnd(s) % 2), oid, ts);
        break;
    case 3:
        fx_return(f, oid, ts, (fx_rnd(s) % 3000) / 100.0,
                  (enum ev_return_reason)(fx_rnd(s) % 6));
        break;
    case 4:
        fx_order_event(f, EV_ORDER_CANCELLED, oid, ts);
        break;
    case 5:
        fx_review(f, ts, 1 + (int)(fx_rnd(s) % 5), (int)(fx_rnd(s) % 2));
        break;
    default:
        fx_message(f, ts, conv, (enum ev_direction)(1 + fx_rnd(s) % 2),
                   (enum ev_msg_kind)(fx_rnd(s) % MSG__COUNT));
        break;
    }
}

/* The first two months of the customers the size tests build: an order
 * shipped and delivered, a pre-sale inquiry answered, two more orders. */
static inline void fx_first_orders(struct fx *f)
{
    fx_order_full(f, "A-1001", T0, 42.5, 0, SHIP_STANDARD, "shoes", "Acme");
    fx_order_event(f, EV_ORDER_SHIPPED, "A-1001", T0 + DAY);
    fx_order_event(f, EV_ORDER_DELIVERED, "A-1001", T0 + 3 * DAY);
    fx_message(f, T0 + 20 * DAY, "conv-77", DIR_INBOUND, MSG_INQUIRY);
    fx_message(f, T0 + 20 * DAY + HOUR, "conv-77", DIR_OUTBOUND, MSG_REPLY);
    fx_order_full(f, "A-1002", T0 + 21 * DAY, 19.99, 5, SHIP_STANDARD, "shoes", "Acme");
    fx_order_full(f, "A-1003", T0 + 60 * DAY, 80, 0, SHIP_EXPEDITED, "socks", "Bolt");
}

/* A customer with every bounded list the events fill in use: the typical
 * customer of test_codec.c's size test plus a low rating, a quality return, a
 * complaint, payment reminders, marketing, a platform order and two orders
 * paid in other currencies; lists the
 * events left empty are filled directly, as are two reward counters.  Rewards
 * given (rwd) and the recent ids (seen) stay empty: test_packed.c adds them on
 * top. */
static inline void fx_build_full(struct fx *f)
{
    fx_first_orders(f);
    fx_review(f, T0 + 65 * DAY, 1, 0);
    fx_return(f, "A-1002", T0 + 66 * DAY, 19.99, RET_QUALITY);
    fx_message(f, T0 + 67 * DAY, "conv-78", DIR_INBOUND, MSG_COMPLAINT);
    fx_message(f, T0 + 68 * DAY, "pay-1", DIR_OUTBOUND, MSG_PAYMENT_REMINDER);
    fx_message(f, T0 + 69 * DAY, "pay-1", DIR_OUTBOUND, MSG_PAYMENT_REMINDER);
    fx_message(f, T0 + 70 * DAY, "mkt-1", DIR_OUTBOUND, MSG_MARKETING);
    fx_message(f, T0 + 71 * DAY, "mkt-2", DIR_OUTBOUND, MSG_MARKETING);
    fx_order_full(f, "A-1004", T0 + 120 * DAY, 35, 0, SHIP_STANDARD, "shoes", "Zenith");
    fx_order_full(f, "A-1005", T0 + 200 * DAY, 55, 0, SHIP_STANDARD, "shoes", "Acme");
    fx_order_full(f, "A-1006", T0 + 201 * DAY, 12, 0, SHIP_PLATFORM, "tea", "Leaf");
    fx_order_paid(f, "A-1007", T0 + 202 * DAY, "GBP", 2, 2599, 117, 100);
    fx_order_paid(f, "A-1008", T0 + 203 * DAY, "JPY", 0, 4200, 1, 160);
    if (f->c->ninc == 0) {
        f->c->inc[f->c->ninc++].ts_ms = T0 + 66 * DAY;
    }
    if (f->c->nsig == 0) { /* those of days 65-67 are out of the window by now */
        f->c->sig[0].ts_ms = T0 + 201 * DAY;
        f->c->sig[0].ref = 0x1234abcdULL;
        f->c->sig[0].kind = SIG_LATE_DELIVERY;
        f->c->nsig = 1;
    }
    if (f->c->nreward_recent == 0) {
        f->c->reward_recent_ms[f->c->nreward_recent++] = T0 + 200 * DAY;
    }
    f->c->reward_last_ms[RW_MILESTONE] = T0 + 200 * DAY;
    f->c->reward_suppressed[RW_TIER] = 2;
    ck_assert_uint_gt(f->c->ndays, 1);
    ck_assert_uint_gt(f->c->nopen, 0);
    ck_assert_uint_gt(f->c->nconv, 0);
    ck_assert_uint_gt(f->c->nbrands, 1);
    ck_assert_uint_gt(f->c->ncats, 1);
    ck_assert_uint_gt(f->c->nsig, 0);
    ck_assert_uint_gt(f->c->nmkt, 0);
    ck_assert_uint_gt(f->c->nrem, 0);
    ck_assert_uint_eq(f->c->npaid, 2);
}

/* c in the readable text form, asserting it encodes. */
static inline void fx_encode_ok(const struct customer *c, struct kvlist *kv, char **aux)
{
    kvlist_init(kv);
    ck_assert_int_eq(codec_encode(c, kv, aux), 0);
}

/* Two readable forms are the same: every field, in order, and the aux string. */
static inline void fx_assert_same_text(const struct kvlist *a, const char *aux_a,
                                       const struct kvlist *b, const char *aux_b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_str_eq(a->v[i].name, b->v[i].name);
        ck_assert_str_eq(a->v[i].value, b->v[i].value);
    }
    ck_assert_str_eq(aux_a, aux_b);
}

#endif
