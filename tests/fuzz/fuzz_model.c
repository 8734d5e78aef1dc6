/*
 * fuzz_model.c - the loyalty model (state/model.c and the parts it calls)
 * on events parsed from arbitrary bytes.
 *
 * The input is up to MAX_EVENTS messages, one a line, each parsed on the
 * topic its type belongs to (consumers/parse.c); the valid ones are applied
 * to one customer (the first valid event's customer_id, which every later
 * event is given) as state/batch.c applies them: a duplicate event id or
 * order id skipped, the customer's due times up to the event evaluated,
 * then the event.  The timers then run for two years past the last event,
 * as the sweeper would.  The model's configuration and parameters are the
 * defaults.
 *
 * What must hold after every step, whatever the events (customer.h,
 * model.h): as_of never goes back and is at least the event's time; the
 * counters of events only grow; sums of amounts, which only take back what
 * they added, never go negative; every list within its bound, the day
 * buckets sorted and inside the 365-day window; every score finite and in
 * its range (loyalty score the sum of its contributions); classes in their
 * enums; each derived event a JSON object with a 32-digit hex id.  At the
 * end the same events applied to a fresh customer give the same state and
 * the same derived events, and the state re-encodes to the same bytes
 * after a packed round trip.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "consumers/parse.h"
#include "state/model/model.h"
#include "state/store/packed.h"
#include "tests/fuzz/fuzz.h"

#define MAX_EVENTS   64
#define DEDUP_WINDOW 64 /* dedup.window's default */
#define SWEEP_MS     (730 * CU_DAY_MS)
/* The parser's latest accepted time (9999-12-31): every valid ts is taken. */
#define NOW_MS 253402300799999LL

struct events {
    struct event v[MAX_EVENTS];
    size_t n;
};

/* Too large for the stack of a fuzzing thread; one input at a time. */
static struct customer cust, before, replay;
static struct events evs;

static const struct model_ctx *model(void)
{
    static struct model_ctx m;

    if (m.cfg == NULL) {
        m.cfg = model_config_new();
        FUZZ_CHECK(m.cfg != NULL, "out of memory");
        bg_params_default(&m.bg);
        gg_params_default(&m.gg);
    }
    return &m;
}

/* ---- the input ---------------------------------------------------------- */

static int parse_line(const uint8_t *line, size_t len, struct event *ev)
{
    char detail[256];
    enum parse_reason r = PR_WRONG_TOPIC;

    for (int src = SRC_ORDERS; src < SRC__COUNT && r == PR_WRONG_TOPIC; src++) {
        r = parse_event((const char *)line, len, (enum ev_source)src, NULL, NOW_MS, ev,
                        detail, sizeof(detail));
    }
    return r == PR_OK;
}

static void read_events(const uint8_t *data, size_t size, struct events *e)
{
    const uint8_t *p = data, *end = data + size;

    e->n = 0;
    while (p < end && e->n < MAX_EVENTS) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        struct event *ev = &e->v[e->n];

        if (parse_line(p, len, ev)) {
            if (e->n > 0) {
                memcpy(ev->customer_id, e->v[0].customer_id, sizeof(ev->customer_id));
            }
            e->n++;
        }
        p += len + 1;
    }
}

static void free_events(struct events *e)
{
    for (size_t i = 0; i < e->n; i++) {
        event_free(&e->v[i]);
    }
    e->n = 0;
}

/* ---- the invariants ----------------------------------------------------- */

/* Counters of events and of what the model did: they only grow. */
#define GROWING(f) offsetof(struct customer, f)
static const size_t growing[] = {
    GROWING(orders),
    GROWING(orders_cancelled),
    GROWING(cancelled_unknown),
    GROWING(orders_returned),
    GROWING(orders_shipped),
    GROWING(orders_delivered),
    GROWING(refund_cents),
    GROWING(ratings),
    GROWING(rating_sum),
    GROWING(ratings_low),
    GROWING(ratings_high),
    GROWING(reviews_shared),
    GROWING(msgs[MSG_INQUIRY]),
    GROWING(msgs[MSG_COMPLAINT]),
    GROWING(msgs[MSG_PRAISE]),
    GROWING(msgs[MSG_REPLY]),
    GROWING(msgs[MSG_PAYMENT_REMINDER]),
    GROWING(msgs[MSG_MARKETING]),
    GROWING(msgs[MSG_OTHER]),
    GROWING(msgs[MSG_RESOLUTION]),
    GROWING(competitor_mentions),
    GROWING(complaints[CAT_NONE]),
    GROWING(complaints[CAT_LOGISTICS]),
    GROWING(complaints[CAT_QUALITY]),
    GROWING(complaints[CAT_DUTIES]),
    GROWING(complaints[CAT_PAYMENT]),
    GROWING(complaints[CAT_OTHER]),
    GROWING(resolved_n),
    GROWING(choose_n),
    GROWING(incidents),
    GROWING(incidents_tolerated),
    GROWING(incidents_lost),
    GROWING(signals_total),
    GROWING(reward_suppressed[RW_MILESTONE]),
    GROWING(reward_suppressed[RW_TIER]),
    GROWING(reward_suppressed[RW_ADVOCACY]),
    GROWING(reward_suppressed[RW_RECOVERY]),
    GROWING(reward_suppressed[RW_WINBACK]),
    GROWING(reward_issued[RW_MILESTONE]),
    GROWING(reward_issued[RW_TIER]),
    GROWING(reward_issued[RW_ADVOCACY]),
    GROWING(reward_issued[RW_RECOVERY]),
    GROWING(reward_issued[RW_WINBACK]),
    GROWING(reward_redeemed[RW_MILESTONE]),
    GROWING(reward_redeemed[RW_TIER]),
    GROWING(reward_redeemed[RW_ADVOCACY]),
    GROWING(reward_redeemed[RW_RECOVERY]),
    GROWING(reward_redeemed[RW_WINBACK]),
    GROWING(churn_seq),
    GROWING(rewards_sent),
    GROWING(rewards_redeemed),
    GROWING(redeemed_unknown),
    GROWING(segment_seq),
};
#undef GROWING

static int64_t field64(const struct customer *c, size_t off)
{
    int64_t v;

    memcpy(&v, (const char *)c + off, sizeof(v));
    return v;
}

static void check_step(const struct customer *was, const struct customer *c)
{
    FUZZ_CHECK(c->as_of_ms >= was->as_of_ms, "as_of went back");
    for (size_t i = 0; i < sizeof(growing) / sizeof(growing[0]); i++) {
        FUZZ_CHECK(field64(c, growing[i]) >= field64(was, growing[i]), "a counter fell");
    }
    FUZZ_CHECK(c->milestone >= was->milestone, "the milestone reached fell");
}

static void check_in(double v, double lo, double hi, const char *what)
{
    FUZZ_CHECK(isfinite(v) && v >= lo && v <= hi, what);
}

static void check_lists(const struct customer *c)
{
    int32_t now_day = cu_day_of(c->as_of_ms);

    FUZZ_CHECK(c->ndays <= CU_DAYS_MAX && c->nopen <= CU_OPEN_MAX &&
                   c->nconv <= CU_CONV_MAX && c->nbrands <= CU_BRAND_MAX &&
                   c->ncats <= CU_CAT_MAX && c->ninc <= CU_INC_MAX &&
                   c->nsig <= CU_SIG_MAX && c->nmkt <= CU_MKT_MAX &&
                   c->nrem <= CU_REM_MAX && c->nreward_recent <= CU_RWD_RECENT &&
                   c->nrwd <= CU_RWD_KEEP && c->nseen <= CU_SEEN_MAX,
               "a list over its bound");
    for (uint32_t i = 0; i < c->ndays; i++) {
        const struct cu_day *d = &c->days[i];

        FUZZ_CHECK(i == 0 || d->day > c->days[i - 1].day, "day buckets not sorted");
        FUZZ_CHECK(d->day > now_day - 365 && d->day <= now_day,
                   "day bucket outside the window");
        FUZZ_CHECK(d->orders >= 0 && d->spend_cents >= 0 && d->refund_cents >= 0 &&
                       d->costed >= 0,
                   "day bucket negative");
    }
    for (uint32_t i = 0; i < c->ncats; i++) {
        FUZZ_CHECK(c->cats[i].nseq <= CU_SEQ_MAX, "brand sequence over its bound");
    }
}

static void check_scores(const struct customer *c)
{
    int64_t total = 0;

    for (int k = 0; k < CR__COUNT; k++) {
        FUZZ_CHECK(c->contrib[k] >= 0 && c->contrib[k] <= 10000,
                   "score contribution out of range");
        total += c->contrib[k];
    }
    FUZZ_CHECK(c->loyalty_score == (double)total / 100.0,
               "loyalty score not the sum of its contributions");
    check_in(c->p_alive, 0, 1, "p_alive");
    check_in(c->churn_risk, 0, 1, "churn_risk");
    check_in(c->attitude, 0, 1, "attitude");
    check_in(c->brand_share, 0, 1, "brand_share");
    check_in(c->spend_365d, -HUGE_VAL, HUGE_VAL, "spend_365d");
    check_in(c->margin_365d, -HUGE_VAL, HUGE_VAL, "margin_365d");
    check_in(c->aov, 0, HUGE_VAL, "aov");
    check_in(c->exp_purchases, 0, HUGE_VAL, "exp_purchases");
    check_in(c->exp_value, 0, HUGE_VAL, "exp_value");
    check_in(c->clv, 0, HUGE_VAL, "clv");
    for (int k = 0; k < AT__COUNT; k++) {
        check_in(c->att[k], 0, HUGE_VAL, "attitude evidence");
    }
    FUZZ_CHECK((unsigned)c->segment < SEG__COUNT && (unsigned)c->tier < TIER__COUNT &&
                   (unsigned)c->brand_type < BT__COUNT &&
                   (unsigned)c->loyalty_type < LT__COUNT,
               "class out of its enum");
    FUZZ_CHECK(c->main_cat >= -1 && c->main_cat < (int32_t)c->ncats,
               "main category not a category");
}

static void check_state(const struct customer *c)
{
    FUZZ_CHECK(c->spend_cents >= 0 && c->discount_cents >= 0 && c->markdown_cents >= 0 &&
                   c->discounted_orders >= 0 && c->depth_ppm_sum >= 0 &&
                   c->costed_orders >= 0 && c->fast_ship_orders >= 0 &&
                   c->purchase_days >= 0,
               "a sum of orders went negative");
    FUZZ_CHECK(c->orders_30d >= 0 && c->orders_30d <= c->orders_90d &&
                   c->orders_90d <= c->orders_365d,
               "window order counts not nested");
    check_lists(c);
    check_scores(c);
}

/* The derived events from em->v[first] on. */
static void check_emissions(const struct emission_list *em, size_t first)
{
    for (size_t i = first; i < em->n; i++) {
        const struct emission *e = &em->v[i];
        cJSON *doc;

        FUZZ_CHECK((unsigned)e->kind < OUT__COUNT, "emission kind out of range");
        FUZZ_CHECK(strlen(e->event_id) == 32 &&
                       strspn(e->event_id, "0123456789abcdef") == 32,
                   "derived event id not 32 hex digits");
        doc = cJSON_Parse(e->payload);
        FUZZ_CHECK(cJSON_IsObject(doc), "derived event not a JSON object");
        cJSON_Delete(doc);
    }
}

/* ---- the run ------------------------------------------------------------ */

static int duplicate(const struct customer *c, const struct event *ev)
{
    return cu_seen_has(c, cu_event_key(ev->event_id)) ||
           (ev->type == EV_ORDER_PLACED && cu_seen_has(c, cu_order_key(ev->order_id)));
}

/* Apply every event and sweep, appending the derived events to em; with
 * checking, the invariants after each step. */
static void run(struct customer *c, const struct events *e, struct emission_list *em,
                int checking)
{
    const struct model_ctx *m = model();
    char err[160];

    customer_init(c, e->v[0].customer_id);
    for (size_t i = 0; i < e->n; i++) {
        const struct event *ev = &e->v[i];
        size_t first = em->n;

        if (duplicate(c, ev)) {
            continue;
        }
        if (checking) {
            memcpy(&before, c, sizeof(before));
        }
        FUZZ_CHECK(model_advance(c, ev->ts_ms, m, em) >= 0, "out of memory");
        FUZZ_CHECK(model_apply(c, ev, m, em, err, sizeof(err)) == 0, err);
        cu_seen_add(c, cu_event_key(ev->event_id), DEDUP_WINDOW);
        if (ev->type == EV_ORDER_PLACED) {
            cu_seen_add(c, cu_order_key(ev->order_id), DEDUP_WINDOW);
        }
        if (checking) {
            FUZZ_CHECK(c->as_of_ms >= ev->ts_ms, "as_of before the event applied");
            check_step(&before, c);
            check_state(c);
            check_emissions(em, first);
        }
    }
    if (checking) {
        memcpy(&before, c, sizeof(before));
    }
    FUZZ_CHECK(model_advance(c, c->as_of_ms + SWEEP_MS, m, em) >= 0, "out of memory");
    if (checking) {
        check_step(&before, c);
        check_state(c);
        check_emissions(em, 0);
    }
}

static void check_same(const struct customer *a, const struct emission_list *ea,
                       const struct customer *b, const struct emission_list *eb)
{
    struct store_meta meta = {.exists = 1, .partition = -1};
    size_t la, lb;
    unsigned char *pa = packed_new(a, &meta, &la), *pb = packed_new(b, &meta, &lb);

    FUZZ_CHECK(pa != NULL && pb != NULL, "out of memory");
    FUZZ_CHECK(la == lb && memcmp(pa, pb, la) == 0, "the same events gave another state");
    free(pa);
    free(pb);
    FUZZ_CHECK(ea->n == eb->n, "the same events gave other derived events");
    for (size_t i = 0; i < ea->n; i++) {
        FUZZ_CHECK(ea->v[i].kind == eb->v[i].kind &&
                       strcmp(ea->v[i].event_id, eb->v[i].event_id) == 0 &&
                       strcmp(ea->v[i].payload, eb->v[i].payload) == 0,
                   "the same events gave other derived events");
    }
}

/* encode, decode, encode: the same bytes. */
static void check_packed(const struct customer *c)
{
    struct store_meta meta = {.exists = 1, .rev = 1, .partition = 0}, meta2;
    size_t len, len2;
    unsigned char *buf = packed_new(c, &meta, &len), *buf2;
    char err[256];

    FUZZ_CHECK(buf != NULL, "out of memory");
    FUZZ_CHECK(packed_decode(buf, len, c->id, &replay, &meta2, err, sizeof(err)) == 0,
               err);
    buf2 = packed_new(&replay, &meta2, &len2);
    FUZZ_CHECK(buf2 != NULL, "out of memory");
    FUZZ_CHECK(len2 == len && memcmp(buf, buf2, len) == 0, "packed round trip differs");
    free(buf2);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct emission_list em, em2;
    char text[16384];

    read_events(data, size, &evs);
    if (evs.n == 0) {
        return 0;
    }
    emission_list_init(&em);
    emission_list_init(&em2);
    run(&cust, &evs, &em, 1);
    run(&replay, &evs, &em2, 0);
    check_same(&cust, &em, &replay, &em2);
    check_packed(&cust);
    (void)model_explain(&cust, model(), cust.as_of_ms, text, sizeof(text));
    emission_list_free(&em2);
    emission_list_free(&em);
    free_events(&evs);
    return 0;
}
