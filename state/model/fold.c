/*
 * fold.c - the event handlers: exact aggregates, open orders,
 * conversations, incidents, brands and the signals events raise.
 *
 * Events of one topic arrive in order; the three topics interleave
 * arbitrarily and timestamps may go backwards.  Every handler therefore
 * works from the event's own time, and the pass time (p->now_ms, the newest
 * time seen) only decides what has expired.
 *
 * Money comes in hundredths (MINOR_MODEL_EXPONENT), already in the currency
 * the customer's sums are kept in (consumers/convert.c): cents below.
 */
#include "state/model/fold.h"

#include <math.h>
#include <string.h>

#include "base/minor.h"
#include "base/satint.h"
#include "state/model/attitude.h"
#include "state/model/brand.h"
#include "state/model/mconfig.h"
#include "state/model/reward.h"
#include "state/model/risk.h"
#include "state/model/window.h"

#define PAYMENT_WINDOW_MS (30 * CU_DAY_MS)

void fold_signal(struct pass *p, enum signal_kind k, int64_t ts_ms, uint64_t ref,
                 uint64_t conv)
{
    if (risk_signal_add(p->c, k, ts_ms, ref, conv) && p->nsig < PASS_NEW_MAX) {
        p->sig[p->nsig].kind = k;
        p->sig[p->nsig].ref = ref;
        p->sig[p->nsig].ts_ms = ts_ms;
        p->nsig++;
    }
}

/* ---- open orders ------------------------------------------------------ */

static struct cu_order *open_find(struct customer *c, uint64_t oid)
{
    for (uint32_t i = 0; i < c->nopen; i++) {
        if (c->open[i].oid == oid) {
            return &c->open[i];
        }
    }
    return NULL;
}

static void open_remove(struct customer *c, struct cu_order *o)
{
    uint32_t i = (uint32_t)(o - c->open);

    memmove(&c->open[i], &c->open[i + 1], (c->nopen - i - 1) * sizeof(c->open[0]));
    c->nopen--;
}

/* A full list forgets its oldest order: a later cancel of it is "unknown". */
static struct cu_order *open_add(struct customer *c)
{
    if (c->nopen == CU_OPEN_MAX) {
        open_remove(c, &c->open[0]);
    }
    memset(&c->open[c->nopen], 0, sizeof(c->open[0]));
    return &c->open[c->nopen++];
}

/* ---- orders as paid --------------------------------------------------- */

/* The order as its event stated it, when it was paid in another currency
 * than the one the customer's sums are kept in, or after such an order: a
 * customer who only ever paid in the reporting currency (or whose amounts
 * are summed as given) keeps no list, and one who did keeps every order
 * since, so that the newest entry is the latest order. */
static void paid_add(struct customer *c, const struct event *ev, int32_t day)
{
    struct cu_paid *o;

    if (!ev->paid.currency[0] ||
        (c->npaid == 0 && memcmp(ev->paid.currency, ev->currency, 3) == 0)) {
        return;
    }
    if (c->npaid == CU_PAID_MAX) {
        memmove(&c->paid[0], &c->paid[1], (CU_PAID_MAX - 1) * sizeof(c->paid[0]));
        c->npaid--;
    }
    o = &c->paid[c->npaid++];
    memset(o, 0, sizeof(*o));
    o->oid = cu_hash32(ev->order_id);
    o->day = day;
    memcpy(o->currency, ev->paid.currency, sizeof(o->currency));
    o->currency[3] = '\0';
    o->exponent = (uint32_t)ev->paid.exponent;
    o->amount_minor = ev->paid.amount_minor;
    /* member by member: the padding stays the memset's zeros (states are
     * compared byte for byte) */
    o->rate.num = ev->paid.rate.num;
    o->rate.den = ev->paid.rate.den;
    o->rate.pow10 = ev->paid.rate.pow10;
    o->flags = ev->paid.own_rate ? PAID_OWN_RATE : 0;
}

static void paid_flag(struct customer *c, const char *order_id, uint32_t flag)
{
    const struct cu_paid *o = cu_paid_find(c, cu_hash32(order_id));

    if (o) {
        c->paid[o - c->paid].flags |= flag;
    }
}

int fold_refund(struct pass *p, const struct event *ev)
{
    const struct ev_paid *r = &ev->paid;
    const struct cu_paid *o;

    p->refund_cents = ev->amount_minor;
    p->refund_at_order = 0;
    if (!r->currency[0] || r->own_rate) {
        return 0;
    }
    o = cu_paid_find(p->c, cu_hash32(ev->order_id));
    if (o && memcmp(o->currency, r->currency, 3) == 0) {
        if (fx_convert(r->amount_minor, r->exponent, &o->rate, MINOR_MODEL_EXPONENT,
                       &p->refund_cents) != FX_OK) {
            return -1;
        }
        p->refund_at_order = 1;
        return 0;
    }
    return r->deferred ? -2 : 0;
}

/* ---- purchase days (BG/NBD x, t_x, T) ---------------------------------- */

static void day_added(struct customer *c, int32_t day, int64_t amt)
{
    struct cu_day *b = win_find(c, day);

    if (c->purchase_days == 0) {
        c->first_day = c->last_day = day;
        c->prev_day = -1;
        c->first_day_cents = amt;
        c->purchase_days = 1;
        return;
    }
    if (day == c->first_day) {
        c->first_day_cents = sat_add(c->first_day_cents, amt);
    }
    if (day == c->first_day || day == c->last_day || day == c->prev_day ||
        (b && b->orders > 0)) {
        return;
    }
    c->purchase_days++;
    if (day > c->last_day) {
        c->prev_day = c->last_day;
        c->last_day = day;
    } else if (day > c->prev_day) {
        c->prev_day = day;
    }
    if (day < c->first_day) {
        c->first_day = day;
        c->first_day_cents = amt;
    }
}

/* After a cancelled order's bucket was reduced: was it the day's last order? */
static void day_removed(struct customer *c, int32_t day, int64_t amt)
{
    struct cu_day *b = win_find(c, day);

    if (b && b->orders > 0) {
        if (day == c->first_day) {
            c->first_day_cents = sat_sub(c->first_day_cents, amt);
        }
        return;
    }
    if (--c->purchase_days <= 0) {
        c->purchase_days = 0;
        c->first_day = c->last_day = c->prev_day = -1;
        c->first_day_cents = 0;
        return;
    }
    if (day == c->first_day) {
        int32_t f = win_order_day_after(c, day);
        c->first_day = f >= 0 ? f : c->last_day;
        b = win_find(c, c->first_day);
        c->first_day_cents = b ? b->spend_cents : 0;
    }
    if (day == c->last_day) {
        c->last_day = c->prev_day >= 0 ? c->prev_day : c->first_day;
        c->prev_day = win_order_day_before(c, c->last_day);
    } else if (day == c->prev_day) {
        c->prev_day = win_order_day_before(c, c->last_day);
    }
    if (c->purchase_days == 1) {
        c->prev_day = -1;
    } else if (c->prev_day < c->first_day) {
        c->prev_day = c->first_day;
    }
}

/* ---- incidents (tolerance of quality problems) ------------------------ */

static int64_t incident_window(const struct pass *p)
{
    return (int64_t)p->m->cfg->incident_window_days * CU_DAY_MS;
}

static void incident_drop(struct customer *c, uint32_t i)
{
    memmove(&c->inc[i], &c->inc[i + 1], (c->ninc - i - 1) * sizeof(c->inc[0]));
    c->ninc--;
}

/* Has a purchase on a later day inside the window already been seen?  Events
 * of the orders topic may arrive before the review or return that opened the
 * incident; the day buckets remember them.  (Same-day purchases count only
 * when they arrive after the incident.) */
static int incident_bought_since(const struct pass *p, int64_t ts_ms)
{
    const struct customer *c = p->c;
    int32_t d0 = cu_day_of(ts_ms), d1 = cu_day_of(ts_ms + incident_window(p));

    for (uint32_t i = 0; i < c->ndays; i++) {
        if (c->days[i].day > d0 && c->days[i].day < d1 && c->days[i].orders > 0) {
            return 1;
        }
    }
    return 0;
}

static void incident_add(struct pass *p, int64_t ts_ms)
{
    struct customer *c = p->c;
    uint32_t i;

    c->incidents++;
    if (incident_bought_since(p, ts_ms)) {
        c->incidents_tolerated++;
        return;
    }
    if (c->ninc == CU_INC_MAX) {
        c->incidents_lost++;
        incident_drop(c, 0);
    }
    for (i = c->ninc; i > 0 && c->inc[i - 1].ts_ms > ts_ms; i--) {
        c->inc[i] = c->inc[i - 1];
    }
    c->inc[i].ts_ms = ts_ms;
    c->ninc++;
}

/* A purchase inside an incident's window (after it) tolerates it. */
static void incident_purchase(struct pass *p, int64_t ts_ms)
{
    struct customer *c = p->c;

    for (uint32_t i = 0; i < c->ninc;) {
        if (c->inc[i].ts_ms < ts_ms && ts_ms < c->inc[i].ts_ms + incident_window(p)) {
            c->incidents_tolerated++;
            incident_drop(c, i);
        } else {
            i++;
        }
    }
}

static int quality_kind(uint32_t k)
{
    return k == SIG_NOT_AS_DESCRIBED || k == SIG_QUALITY_RETURN || k == SIG_LOW_RATING ||
           k == SIG_SHARED_LOW_RATING;
}

/* A quality problem: one signal and one incident per order (ref), whether
 * the order is returned, rated low, or both; the first to arrive counts. */
static void quality_problem(struct pass *p, enum signal_kind k, int64_t ts_ms,
                            uint64_t ref)
{
    const struct customer *c = p->c;

    for (uint32_t i = 0; i < c->nsig; i++) {
        if (c->sig[i].ref == ref && quality_kind(c->sig[i].kind)) {
            return;
        }
    }
    fold_signal(p, k, ts_ms, ref, 0);
    incident_add(p, ts_ms);
}

/* ---- conversations ---------------------------------------------------- */

static int64_t conv_recency(const struct cu_conv *v)
{
    int64_t t = v->inquiry_ms > v->order_ms ? v->inquiry_ms : v->order_ms;

    t = t > v->opened_ms ? t : v->opened_ms;
    return t > v->pending_ms ? t : v->pending_ms;
}

/* The conversation, created unless `create` is 0 (NULL then if unknown).
 * A full list forgets the conversation with the oldest activity. */
static struct cu_conv *conv_get(struct customer *c, const char *id, int create)
{
    uint64_t cid = cu_hash64(id);
    uint32_t victim = 0;

    for (uint32_t i = 0; i < c->nconv; i++) {
        if (c->conv[i].cid == cid) {
            return &c->conv[i];
        }
        if (conv_recency(&c->conv[i]) < conv_recency(&c->conv[victim])) {
            victim = i;
        }
    }
    if (!create) {
        return NULL;
    }
    if (c->nconv < CU_CONV_MAX) {
        victim = c->nconv++;
    }
    memset(&c->conv[victim], 0, sizeof(c->conv[0]));
    c->conv[victim].cid = cid;
    return &c->conv[victim];
}

/* Time to choose, once both ends are known; corrected if an earlier
 * inquiry or order shows up later. */
static void conv_choose(struct customer *c, struct cu_conv *v)
{
    int64_t min;

    if (!v->inquiry_ms || !v->order_ms || v->order_ms < v->inquiry_ms) {
        return;
    }
    min = (v->order_ms - v->inquiry_ms) / 60000;
    if (v->flags & CV_CHOSEN) {
        c->choose_sum_min += min - v->choose_min;
    } else {
        c->choose_n++;
        c->choose_sum_min += min;
        v->flags |= CV_CHOSEN;
    }
    v->choose_min = min;
}

static int64_t sla_ms(const struct pass *p)
{
    return (int64_t)llround(p->m->cfg->sla_hours * 3600000.0);
}

/* The time an unanswered inquiry is judged at.  A reply can only come on the
 * messages topic, which Kafka keeps in order, but orders and reviews may run
 * ahead of it; so on the event path the clock is the newest message time of
 * this customer, and only the sweeper (wall clock, or the low watermark of
 * the input topics when replaying) judges by its own time. */
static int64_t sla_clock(const struct pass *p)
{
    return p->sweep ? p->now_ms : p->c->msg_as_of_ms;
}

static void sla_hit(struct pass *p, struct cu_conv *v)
{
    uint64_t ref = v->cid ^ ((uint64_t)v->pending_ms * 0x9e3779b97f4a7c15ULL);

    fold_signal(p, SIG_SLA, v->pending_ms + sla_ms(p), ref, v->cid);
    v->flags |= CV_SLA_HIT;
}

static int64_t resolve_ms(const struct pass *p)
{
    return (int64_t)llround(p->m->cfg->resolve_hours * 3600000.0);
}

static void slow_hit(struct pass *p, struct cu_conv *v)
{
    uint64_t ref = v->cid ^ ((uint64_t)v->opened_ms * 0x9e3779b97f4a7c15ULL);

    fold_signal(p, SIG_SLOW_RESOLUTION, v->opened_ms + resolve_ms(p), ref, 0);
    v->flags |= CV_SLOW;
}

/* The shop says the conversation is resolved: its resolution time is
 * measured, and its complaint and unanswered-inquiry signals stop counting
 * (a slow resolution stays). */
static void conv_resolved(struct pass *p, struct cu_conv *v, int64_t ts_ms)
{
    struct customer *c = p->c;
    uint32_t k = 0;

    if ((v->flags & CV_RESOLVED) || !v->opened_ms || ts_ms < v->opened_ms) {
        return;
    }
    if ((v->flags & CV_COMPLAINT) && !(v->flags & CV_SLOW) &&
        ts_ms >= v->opened_ms + resolve_ms(p)) {
        slow_hit(p, v);
    }
    c->resolved_n++;
    c->resolve_sum_min += (ts_ms - v->opened_ms) / 60000;
    v->flags |= CV_RESOLVED;
    for (uint32_t i = 0; i < c->nsig; i++) {
        if (c->sig[i].conv != v->cid ||
            (c->sig[i].kind != SIG_SLA && c->sig[i].kind != SIG_COMPLAINT)) {
            c->sig[k++] = c->sig[i];
        }
    }
    c->nsig = k;
}

static void conv_message(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;
    int inbound = ev->direction == DIR_INBOUND;
    /* Only inquiries and complaints open a conversation worth keeping. */
    struct cu_conv *v =
        conv_get(c, ev->conversation_id,
                 inbound && (ev->kind == MSG_INQUIRY || ev->kind == MSG_COMPLAINT));

    if (!v) {
        return;
    }
    if (inbound) {
        if (ev->kind == MSG_INQUIRY && !v->inquiry_ms) {
            att_add(c, p->m->cfg, AT_INTEREST, ev->ts_ms); /* pre-sale interest */
        }
        if (ev->kind == MSG_INQUIRY && (!v->inquiry_ms || ev->ts_ms < v->inquiry_ms)) {
            v->inquiry_ms = ev->ts_ms;
            conv_choose(c, v);
        }
        if (ev->kind == MSG_COMPLAINT) {
            if (v->flags & CV_RESOLVED) { /* complaining again: a new episode */
                v->flags &= ~(CV_RESOLVED | CV_SLOW);
                v->opened_ms = 0;
            }
            v->flags |= CV_COMPLAINT;
            if (ev->category != CAT_NONE) {
                v->category = ev->category;
            }
        }
        if (ev->kind != MSG_INQUIRY && ev->kind != MSG_COMPLAINT) {
            return;
        }
        if (!v->opened_ms || ev->ts_ms < v->opened_ms) {
            v->opened_ms = ev->ts_ms;
        }
        if (!v->pending_ms) {
            v->pending_ms = ev->ts_ms;
            v->flags &= ~CV_SLA_HIT;
        }
        return;
    }
    if (ev->kind == MSG_MARKETING || ev->kind == MSG_PAYMENT_REMINDER) {
        return;
    }
    /* A reply at or after the deadline still leaves the inquiry late. */
    if (v->pending_ms && !(v->flags & CV_SLA_HIT) &&
        ev->ts_ms >= v->pending_ms + sla_ms(p)) {
        sla_hit(p, v);
    }
    v->pending_ms = 0;
    v->flags &= ~CV_SLA_HIT;
    if (ev->kind == MSG_RESOLUTION) {
        conv_resolved(p, v, ev->ts_ms);
    }
}

/* ---- recent message times --------------------------------------------- */

static uint32_t times_add(int64_t *v, uint32_t n, uint32_t max, int64_t ts)
{
    uint32_t i;

    if (n == max) {
        if (ts <= v[0]) {
            return n;
        }
        memmove(&v[0], &v[1], (max - 1) * sizeof(v[0]));
        n--;
    }
    for (i = n; i > 0 && v[i - 1] > ts; i--) {
        v[i] = v[i - 1];
    }
    v[i] = ts;
    return n + 1;
}

static uint32_t times_in(const int64_t *v, uint32_t n, int64_t ts, int64_t win)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < n; i++) {
        k += v[i] > ts - win && v[i] <= ts;
    }
    return k;
}

static void reminders_and_marketing(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;
    const struct model_config *cfg = p->m->cfg;
    int64_t mwin = (int64_t)cfg->marketing_window_days * CU_DAY_MS;

    if (ev->kind == MSG_PAYMENT_REMINDER) {
        c->nrem = times_add(c->rem_ms, c->nrem, CU_REM_MAX, ev->ts_ms);
        if (times_in(c->rem_ms, c->nrem, ev->ts_ms, PAYMENT_WINDOW_MS) >=
                (uint32_t)cfg->payment_reminders_min &&
            !risk_recent(c, SIG_PAYMENT_REMINDERS, ev->ts_ms, PAYMENT_WINDOW_MS)) {
            fold_signal(p, SIG_PAYMENT_REMINDERS, ev->ts_ms, cu_hash64(ev->event_id), 0);
        }
    } else if (ev->kind == MSG_MARKETING) {
        c->nmkt = times_add(c->mkt_ms, c->nmkt, CU_MKT_MAX, ev->ts_ms);
        if (times_in(c->mkt_ms, c->nmkt, ev->ts_ms, mwin) >
                (uint32_t)cfg->marketing_max &&
            !risk_recent(c, SIG_MARKETING, ev->ts_ms, mwin)) {
            fold_signal(p, SIG_MARKETING, ev->ts_ms, cu_hash64(ev->event_id), 0);
        }
    }
}

/* ---- the handlers ----------------------------------------------------- */

static void milestones(struct pass *p)
{
    struct customer *c = p->c;
    const struct model_config *cfg = p->m->cfg;

    for (int i = 0; i < cfg->nmilestones; i++) {
        int ms = cfg->milestones[i];
        if (ms > c->milestone && ms <= c->purchase_days && p->nmilestone < PASS_NEW_MAX) {
            p->milestone[p->nmilestone++] = ms;
            c->milestone = ms;
        }
    }
}

#define CENTS_MAX 1e15 /* bounds a sum over items, whose products may be huge */

/* The markdown of the items: (list price - unit price) x qty of each line
 * with both prices and a unit price below the list price. */
static int64_t markdown_cents(const struct event *ev)
{
    double sum = 0;

    for (size_t i = 0; i < ev->n_items; i++) {
        const struct ev_item *it = &ev->items[i];
        if (it->unit_price_minor > 0 && it->list_price_minor > it->unit_price_minor) {
            sum +=
                (double)it->qty * (double)(it->list_price_minor - it->unit_price_minor);
        }
    }
    return (int64_t)fmin(sum, CENTS_MAX);
}

/* amount - cost of goods, if every item carries a unit_cost; else INT64_MIN. */
static int64_t margin_cents(const struct event *ev, int64_t amount_cents)
{
    double cost = 0;

    if (ev->n_items == 0) {
        return INT64_MIN;
    }
    for (size_t i = 0; i < ev->n_items; i++) {
        if (!ev->items[i].has_cost) {
            return INT64_MIN;
        }
        cost += (double)ev->items[i].qty * (double)ev->items[i].unit_cost_minor;
    }
    return amount_cents - (int64_t)fmin(cost, CENTS_MAX);
}

static void order_terms(struct customer *c, struct cu_order *o, const struct event *ev)
{
    o->amount_cents = ev->amount_minor;
    o->disc_cents = ev->discount_minor;
    o->mark_cents = markdown_cents(ev);
    o->depth_ppm = cu_depth_ppm(o->amount_cents, o->disc_cents + o->mark_cents);
    o->margin_cents = margin_cents(ev, o->amount_cents);
    if (ev->shipping == SHIP_EXPEDITED || ev->shipping == SHIP_PLATFORM) {
        o->flags |= OO_FAST;
    }
    c->spend_cents = sat_add(c->spend_cents, o->amount_cents);
    c->discount_cents = sat_add(c->discount_cents, o->disc_cents);
    c->markdown_cents = sat_add(c->markdown_cents, o->mark_cents);
    c->discounted_orders += o->disc_cents + o->mark_cents > 0;
    c->depth_ppm_sum = sat_add(c->depth_ppm_sum, o->depth_ppm);
    c->fast_ship_orders += (o->flags & OO_FAST) != 0;
    if (o->margin_cents != INT64_MIN) {
        c->margin_cents = sat_add(c->margin_cents, o->margin_cents);
        c->costed_orders++;
    }
}

/* The order's figures for its day bucket, sign -1 to take them back out. */
static struct cu_day order_delta(const struct cu_order *o, int sign)
{
    struct cu_day d = {.orders = sign, .spend_cents = sign * o->amount_cents};

    if (o->margin_cents != INT64_MIN) {
        d.margin_cents = sign * o->margin_cents;
        d.costed = sign;
    }
    return d;
}

static void order_placed(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;
    int32_t day = cu_day_of(ev->ts_ms);
    struct cu_order *o = open_add(c);

    c->orders++;
    o->oid = cu_hash64(ev->order_id);
    o->day = day;
    o->ship_by_ms = ev->promised_ship_by_ms;
    o->deliver_by_ms = ev->promised_delivery_by_ms;
    order_terms(c, o, ev);
    paid_add(c, ev, day);
    if (!c->currency[0]) {
        memcpy(c->currency, ev->currency, sizeof(c->currency));
        c->currency[3] = '\0';
    }
    day_added(c, day, o->amount_cents);
    struct cu_day delta = order_delta(o, 1);
    win_add(c, cu_day_of(p->now_ms), day, &delta);
    brand_add_order(c, ev->items, ev->n_items, day);
    if (ev->reward_event_id[0]) {
        reward_redeem(c, ev->reward_event_id);
    }
    if (ev->conversation_id[0]) {
        struct cu_conv *v = conv_get(c, ev->conversation_id, 1);
        if (!v->order_ms || ev->ts_ms < v->order_ms) {
            v->order_ms = ev->ts_ms;
            conv_choose(c, v);
        }
    }
    incident_purchase(p, ev->ts_ms);
    milestones(p);
}

/* A known order is taken back out of every sum; an unknown one (never seen,
 * or dropped from the open list) is only counted. */
static void order_cancelled(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;
    struct cu_order *o = open_find(c, cu_hash64(ev->order_id));

    c->orders_cancelled++;
    paid_flag(c, ev->order_id, PAID_CANCELLED);
    if (!o) {
        c->cancelled_unknown++;
        return;
    }
    c->spend_cents = sat_sub(c->spend_cents, o->amount_cents);
    c->discount_cents = sat_sub(c->discount_cents, o->disc_cents);
    c->markdown_cents = sat_sub(c->markdown_cents, o->mark_cents);
    c->discounted_orders -= o->disc_cents + o->mark_cents > 0;
    c->depth_ppm_sum = sat_sub(c->depth_ppm_sum, o->depth_ppm);
    c->fast_ship_orders -= (o->flags & OO_FAST) != 0;
    if (o->margin_cents != INT64_MIN) {
        c->margin_cents = sat_sub(c->margin_cents, o->margin_cents);
        c->costed_orders--;
    }
    struct cu_day delta = order_delta(o, -1);
    win_add(c, cu_day_of(p->now_ms), o->day, &delta);
    day_removed(c, o->day, o->amount_cents);
    open_remove(c, o);
}

static void order_progress(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;
    uint64_t oid = cu_hash64(ev->order_id);
    struct cu_order *o = open_find(c, oid);

    if (ev->type == EV_ORDER_SHIPPED) {
        c->orders_shipped++;
        if (o && o->ship_by_ms && ev->ts_ms > o->ship_by_ms) {
            fold_signal(p, SIG_LATE_SHIP, ev->ts_ms, oid, 0);
        }
        if (o) {
            o->flags |= OO_SHIPPED;
        }
        return;
    }
    c->orders_delivered++;
    if (o && o->deliver_by_ms && ev->ts_ms > o->deliver_by_ms) {
        fold_signal(p, SIG_LATE_DELIVERY, ev->ts_ms, oid, 0);
    }
    if (o) {
        open_remove(c, o);
    }
}

static void order_returned(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;
    int64_t amt = p->refund_cents;
    uint64_t oid = cu_hash64(ev->order_id);

    struct cu_day delta = {.refund_cents = amt};

    c->orders_returned++;
    if (p->refund_at_order) {
        paid_flag(c, ev->order_id, PAID_RETURNED);
    }
    c->refund_cents = sat_add(c->refund_cents, amt);
    win_add(c, cu_day_of(p->now_ms), cu_day_of(ev->ts_ms), &delta);
    if (ev->reason == RET_NOT_AS_DESCRIBED || ev->reason == RET_QUALITY) {
        quality_problem(
            p, ev->reason == RET_QUALITY ? SIG_QUALITY_RETURN : SIG_NOT_AS_DESCRIBED,
            ev->ts_ms, oid);
    } else if (ev->reason == RET_LATE) {
        /* A logistics delay: the same signal as the late delivery itself,
         * so an order delivered late and returned for it counts once. */
        fold_signal(p, SIG_LATE_DELIVERY, ev->ts_ms, oid, 0);
    }
}

static void review_posted(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;

    c->ratings++;
    c->rating_sum += ev->rating;
    c->rating_last = ev->rating;
    c->reviews_shared += ev->shared != 0;
    att_add(c, p->m->cfg, AT_RATED, ev->ts_ms);
    if (ev->rating <= 2) {
        c->ratings_low++;
        quality_problem(p, ev->shared ? SIG_SHARED_LOW_RATING : SIG_LOW_RATING, ev->ts_ms,
                        cu_hash64(ev->order_id[0] ? ev->order_id : ev->event_id));
    } else if (ev->rating >= 4) {
        c->ratings_high++;
        att_add(c, p->m->cfg, AT_HIGH, ev->ts_ms);
        if (ev->shared) {
            att_add(c, p->m->cfg, AT_SHARED, ev->ts_ms);
            memcpy(p->advocacy, ev->event_id, sizeof(p->advocacy));
        }
    }
}

static void message_sent(struct pass *p, const struct event *ev)
{
    struct customer *c = p->c;

    if ((unsigned)ev->kind < MSG__COUNT) {
        c->msgs[ev->kind]++;
    }
    if (ev->ts_ms > c->msg_as_of_ms) {
        c->msg_as_of_ms = ev->ts_ms;
    }
    if (ev->direction == DIR_INBOUND && ev->mentions_competitor) {
        c->competitor_mentions++;
        att_add(c, p->m->cfg, AT_RIVAL, ev->ts_ms);
    }
    if (ev->direction == DIR_INBOUND && ev->kind == MSG_PRAISE) {
        att_add(c, p->m->cfg, AT_PRAISE, ev->ts_ms);
    }
    if (ev->conversation_id[0]) {
        conv_message(p, ev);
    }
    if (ev->direction == DIR_INBOUND && ev->kind == MSG_COMPLAINT) {
        c->complaints[(unsigned)ev->category < CAT__COUNT ? ev->category : CAT_NONE]++;
        fold_signal(p, SIG_COMPLAINT, ev->ts_ms, cu_hash64(ev->event_id),
                    cu_hash64(ev->conversation_id));
    }
    reminders_and_marketing(p, ev);
}

void fold_event(struct pass *p, const struct event *ev)
{
    switch (ev->type) {
    case EV_ORDER_PLACED:
        order_placed(p, ev);
        break;
    case EV_ORDER_CANCELLED:
        order_cancelled(p, ev);
        break;
    case EV_ORDER_SHIPPED:
    case EV_ORDER_DELIVERED:
        order_progress(p, ev);
        break;
    case EV_ORDER_RETURNED:
        order_returned(p, ev);
        break;
    case EV_REVIEW_POSTED:
        review_posted(p, ev);
        break;
    default:
        message_sent(p, ev);
        break;
    }
}

void fold_advance(struct pass *p)
{
    struct customer *c = p->c;
    int32_t now_day = cu_day_of(p->now_ms);
    uint32_t k = 0;

    win_prune(c, now_day);
    for (uint32_t i = 0; i < c->nopen; i++) {
        if (c->open[i].day > now_day - 365) {
            c->open[k++] = c->open[i];
        }
    }
    c->nopen = k;
    for (uint32_t i = 0; i < c->nconv; i++) {
        struct cu_conv *v = &c->conv[i];
        if (cu_conv_awaits_reply(v) && sla_clock(p) >= v->pending_ms + sla_ms(p)) {
            sla_hit(p, v);
        }
        if (cu_conv_awaits_resolution(v) &&
            sla_clock(p) >= v->opened_ms + resolve_ms(p)) {
            slow_hit(p, v);
        }
    }
    for (uint32_t i = 0; i < c->ninc;) {
        if (c->inc[i].ts_ms + incident_window(p) <= p->now_ms) {
            c->incidents_lost++;
            incident_drop(c, i);
        } else {
            i++;
        }
    }
    risk_prune(c, p->m->cfg, p->now_ms);
}
