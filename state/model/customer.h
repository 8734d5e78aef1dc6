/*
 * customer.h - one customer's loyalty state: the aggregates kept exact from
 * the events and the fields derived from them by the model.
 *
 * Where each field is computed: aggregates in model_apply (state/model/model.c),
 * the rolling windows in state/model/window.c, brand counters in state/model/brand.c,
 * signals and churn risk in state/model/risk.c, rewards in state/model/reward.c, the
 * derived fields in model_derive (state/model/model.c); how each is stored: the
 * codec (state/store/codec.c) and docs/state.md.
 *
 * Money is kept in integer cents so sums stay exact under any event order;
 * days are UTC epoch days (ts_ms / 86400000, floored); instants are epoch
 * milliseconds.  Every list is bounded; what happens when one is full is
 * written next to it.
 */
#ifndef LOYALTY_CUSTOMER_H
#define LOYALTY_CUSTOMER_H

#include <stdint.h>

#include "state/model/bgnbd.h"
#include "state/model/event.h"

#define CU_DAY_MS 86400000LL

/* Days of the longest rolling window (state/model/window.h). */
#define CU_WINDOW_DAYS 365

#define CU_DAYS_MAX   366 /* day buckets: every day of the 365-day window fits */
#define CU_OPEN_MAX   12  /* open (undelivered) orders; the oldest is dropped */
#define CU_CONV_MAX   8   /* conversations; the least recent is dropped */
#define CU_BRAND_MAX  24  /* (category, brand) counters; least used evicted */
#define CU_CAT_MAX    4   /* categories with a brand sequence; least used evicted */
#define CU_SEQ_MAX    8   /* recent brands bought in one category */
#define CU_INC_MAX    8   /* open quality incidents; the oldest is judged lost */
#define CU_SIG_MAX    16  /* recent dissatisfaction signals; the oldest dropped */
#define CU_MKT_MAX    16  /* recent marketing message times */
#define CU_REM_MAX    4   /* recent payment reminder times */
#define CU_RWD_RECENT 16  /* recent reward times (the rolling cap) */
#define CU_RWD_KEEP   16  /* issued rewards remembered for redemption; oldest dropped */
#define CU_SEEN_MAX   256 /* recent event and order ids (dedup.window of them) */
#define CU_PAID_MAX   8   /* orders as paid (struct cu_paid); the oldest dropped */
#define CU_NAME_MAX   EV_NAME_MAX

enum tier {
    TIER_NONE = 0,
    TIER_BRONZE,
    TIER_SILVER,
    TIER_GOLD,
    TIER_PLATINUM,
    TIER__COUNT
};

enum segment {
    SEG_NEW = 0,
    SEG_POTENTIAL,
    SEG_TRUST,
    SEG_BENEFIT,
    SEG_INERTIA,
    SEG_AT_RISK,
    SEG_SATISFIED, /* satisfied, not (yet) attached */
    SEG_LAPSING,   /* a satisfied buyer fading away */
    SEG__COUNT
};

enum brand_type {
    BT_UNDETERMINED = 0,
    BT_COMPLETE,
    BT_OCCASIONAL,
    BT_SWITCHING,
    BT_SPLIT,
    BT_NONE,    /* no brand preference, price-driven */
    BT_VARIETY, /* no brand preference, not price-driven */
    BT__COUNT
};

/* Behaviour x attitude (docs/model.md, "Attitude"). */
enum loyalty_type {
    LT_NONE = 0, /* no loyalty */
    LT_SPURIOUS, /* buys without attachment (inertia) */
    LT_LATENT,   /* attached, buys little */
    LT_TRUE,     /* attached and buying */
    LT__COUNT
};

enum signal_kind {
    SIG_SLA = 0,       /* inquiry not answered within the SLA */
    SIG_LATE_SHIP,     /* shipped after promised_ship_by */
    SIG_LATE_DELIVERY, /* delivered after promised_delivery_by */
    SIG_NOT_AS_DESCRIBED,
    SIG_QUALITY_RETURN, /* return with reason quality */
    SIG_LOW_RATING,
    SIG_COMPLAINT,
    SIG_PAYMENT_REMINDERS, /* >= 2 payment reminders in 30 days */
    SIG_MARKETING,         /* marketing overload */
    SIG_SHARED_LOW_RATING, /* rating <= 2, shared publicly */
    SIG_SLOW_RESOLUTION,   /* complaint not resolved within resolve_hours */
    SIG__COUNT
};

enum reward_type {
    RW_MILESTONE = 0,
    RW_TIER,
    RW_ADVOCACY,
    RW_RECOVERY,
    RW_WINBACK,
    RW__COUNT
};

enum criterion {
    CR_REPEAT = 0,
    CR_SPEND,
    CR_CHOOSE,
    CR_PRICE,
    CR_TOLERANCE,
    CR_BRAND,
    CR__COUNT
};

/* Orders, spend and refunds of one UTC day. */
struct cu_day {
    int32_t day;
    int32_t orders;      /* placed minus cancelled */
    int64_t spend_cents; /* amounts of those orders */
    int64_t refund_cents;
    int64_t margin_cents; /* amount - cost of goods of the costed orders */
    int32_t costed;       /* orders whose every item carried a unit_cost */
};

#define OO_SHIPPED 1u
#define OO_FAST    2u /* expedited or fulfilled_by_platform */
#define OO_COSTED  4u /* in the aux string only: the order has a margin */

/* An order placed and not yet delivered or cancelled. */
struct cu_order {
    uint64_t oid; /* cu_hash64(order_id) */
    int32_t day;
    uint32_t flags;
    int64_t amount_cents;
    int64_t disc_cents;
    int64_t mark_cents; /* markdown: list price - unit price of its items */
    int64_t depth_ppm;
    int64_t margin_cents;  /* INT64_MIN: not costed */
    int64_t ship_by_ms;    /* 0: no promise */
    int64_t deliver_by_ms; /* 0: no promise */
};

#define PAID_OWN_RATE  1u /* converted at the order's own fx_rate */
#define PAID_CANCELLED 2u /* cancelled since */
#define PAID_RETURNED  4u /* a return of it was refunded at its rate */

/* One of the newest orders as it was paid: its own currency and amount and
 * the factor that converted it to the reporting currency, so that a return
 * of it is refunded at its rate, not the rate of the return's day, and an
 * operator sees both amounts.  Kept from a customer's first order in
 * another currency than the reporting one on, every order since (none for
 * a customer who only ever paid in the reporting currency); docs/state.md,
 * "Orders as paid". */
struct cu_paid {
    uint32_t oid; /* cu_hash32(order_id) */
    int32_t day;
    uint32_t flags;
    char currency[4];
    uint32_t exponent; /* of amount_minor: the currency's ISO 4217 one */
    int64_t amount_minor;
    struct fx_ratio rate; /* to the model's hundredths of the reporting currency */
};

#define CV_CHOSEN    1u  /* time to choose counted */
#define CV_SLA_HIT   2u  /* SLA signal raised for the pending inquiry */
#define CV_COMPLAINT 4u  /* a complaint was made in it */
#define CV_RESOLVED  8u  /* the shop said it is resolved */
#define CV_SLOW      16u /* slow_resolution raised */

struct cu_conv {
    uint64_t cid;       /* cu_hash64(conversation_id) */
    int64_t inquiry_ms; /* first inbound inquiry, 0 if not seen */
    int64_t order_ms;   /* first order naming it, 0 if none */
    int64_t pending_ms; /* oldest unanswered inbound message, 0 if none */
    int64_t last_ms;    /* newest message or order: eviction order */
    int64_t choose_min; /* minutes counted in choose_sum_min */
    int64_t opened_ms;  /* first inbound inquiry or complaint, 0 if none */
    uint32_t flags;
    uint32_t category; /* enum ev_category of its complaints */
};

struct cu_brand {
    uint32_t cat; /* cu_hash32(category) */
    uint32_t count;
    int32_t last_day;
    char name[CU_NAME_MAX + 1];
};

struct cu_cat {
    char name[CU_NAME_MAX + 1];
    uint32_t items;           /* item lines bought in this category */
    uint32_t seq[CU_SEQ_MAX]; /* cu_hash32(brand), oldest first */
    uint32_t nseq;
};

struct cu_incident {
    int64_t ts_ms;
};

struct cu_signal {
    int64_t ts_ms;
    uint64_t ref;  /* hash of the order / conversation / event it is about */
    uint32_t kind; /* enum signal_kind */
    uint64_t conv; /* the conversation it belongs to (lifted on resolution), or 0 */
};

#define RWF_REDEEMED 1u

/* An issued reward, remembered so an order that uses it can be matched. */
struct cu_reward {
    uint64_t id; /* cu_hash64(event_id) */
    int64_t ts_ms;
    uint32_t type; /* enum reward_type */
    uint32_t flags;
    int64_t points; /* a points reward's value, else 0 */
};

/* Attitude evidence: counts decayed with half-life attitude_half_life_days,
 * all as of att_as_of_ms. */
enum att_kind {
    AT_RATED = 0, /* reviews */
    AT_HIGH,      /* ratings >= 4 */
    AT_SHARED,    /* shared reviews rated >= 4 (recommending the shop) */
    AT_PRAISE,    /* inbound praise */
    AT_INTEREST,  /* conversations opened with a pre-sale inquiry */
    AT_RIVAL,     /* inbound messages mentioning a competitor */
    AT__COUNT
};

struct customer {
    char id[EV_ID_MAX + 1];
    /* The reporting currency (money.currency) once an order was converted
     * to it; without one, the first order's, amounts summed as given. */
    char currency[4];

    /* --- aggregates, exact ---------------------------------------------- */
    int64_t as_of_ms; /* newest time the model has evaluated at */
    int64_t orders;   /* order.placed */
    int64_t orders_cancelled;
    int64_t cancelled_unknown; /* cancels of an order not in the open list */
    int64_t orders_returned;
    int64_t orders_shipped;
    int64_t orders_delivered;
    int64_t spend_cents;  /* placed amounts minus cancelled (known) orders */
    int64_t refund_cents; /* returned amounts */
    int64_t discount_cents;
    int64_t discounted_orders;
    int64_t depth_ppm_sum;  /* sum of per-order price-cut depth, parts per million */
    int64_t markdown_cents; /* list price - unit price of the items bought */
    int64_t margin_cents;   /* amount - cost of goods, costed orders */
    int64_t costed_orders;
    int64_t fast_ship_orders;              /* expedited or fulfilled_by_platform */
    int64_t purchase_days;                 /* distinct UTC days with an order */
    int32_t first_day, last_day, prev_day; /* -1: none */
    int64_t first_day_cents;               /* spend on first_day */
    int64_t ratings, rating_sum, ratings_low, ratings_high, reviews_shared;
    int32_t rating_last;
    int64_t msgs[MSG__COUNT];
    int64_t competitor_mentions;         /* inbound */
    int64_t complaints[CAT__COUNT];      /* by complaint_category ([0]: none given) */
    int64_t resolved_n, resolve_sum_min; /* resolutions; minutes since opened */
    int64_t att_as_of_ms;
    double att[AT__COUNT];
    int64_t msg_as_of_ms; /* newest message.sent time: the clock of SLA checks */
    int64_t choose_n, choose_sum_min; /* time to choose, minutes */
    int64_t incidents, incidents_tolerated, incidents_lost;
    int64_t signals_total;

    /* --- bounded lists (the auxiliary key) ------------------------------- */
    struct cu_day days[CU_DAYS_MAX];
    uint32_t ndays; /* sorted by day, ascending */
    struct cu_order open[CU_OPEN_MAX];
    uint32_t nopen;
    struct cu_conv conv[CU_CONV_MAX];
    uint32_t nconv;
    struct cu_brand brands[CU_BRAND_MAX];
    uint32_t nbrands;
    struct cu_cat cats[CU_CAT_MAX];
    uint32_t ncats;
    struct cu_incident inc[CU_INC_MAX];
    uint32_t ninc;
    struct cu_signal sig[CU_SIG_MAX];
    uint32_t nsig;
    int64_t mkt_ms[CU_MKT_MAX]; /* newest last */
    uint32_t nmkt;
    int64_t rem_ms[CU_REM_MAX];
    uint32_t nrem;
    int64_t reward_last_ms[RW__COUNT]; /* 0: never */
    int64_t reward_suppressed[RW__COUNT];
    int64_t reward_recent_ms[CU_RWD_RECENT]; /* newest last */
    uint32_t nreward_recent;
    int64_t reward_issued[RW__COUNT];
    int64_t reward_redeemed[RW__COUNT];
    struct cu_reward rwd[CU_RWD_KEEP]; /* oldest first */
    uint32_t nrwd;
    /* Hashes of the newest applied event ids, and of the order ids of the
     * newest order.placed events (cu_seen_*), oldest first: an event re-sent
     * upstream at another offset is recognised by them. */
    uint64_t seen[CU_SEEN_MAX];
    uint32_t nseen;
    struct cu_paid paid[CU_PAID_MAX]; /* oldest first */
    uint32_t npaid;

    /* --- derived (model_derive) ------------------------------------------ */
    int64_t orders_30d, orders_90d, orders_365d;
    double spend_365d;          /* rolling net spend (currency units) */
    double margin_365d;         /* rolling margin of the costed orders, net of returns */
    int64_t costed_365d;        /* net orders in the window that carried costs */
    double aov;                 /* average order value (currency units) */
    int32_t contrib[CR__COUNT]; /* hundredths of a score point */
    double loyalty_score;       /* 0..100 = sum of contrib / 100 */
    enum brand_type brand_type;
    double brand_share; /* top brand's share in the main category */
    int32_t main_cat;   /* index in cats, -1 if none */
    enum segment segment;
    enum tier tier;
    int64_t tier_grace_until_ms; /* 0: no downgrade pending */
    int32_t milestone;           /* highest milestone rewarded (purchase days) */
    double p_alive, exp_purchases, exp_value, clv;
    double churn_risk; /* 0..1 */
    int32_t risk_armed;
    int64_t churn_seq; /* upward crossings so far */
    int64_t rewards_sent;
    int64_t rewards_redeemed;
    int64_t redeemed_unknown; /* orders naming a reward not remembered */
    int64_t points_balance;   /* points issued minus points of redeemed rewards */
    double attitude;          /* 0..1 */
    enum loyalty_type loyalty_type;
    int64_t segment_seq;   /* segment-change events so far */
    int64_t model_version; /* of the model parameters last evaluated with */
};

void customer_init(struct customer *c, const char *id);

/* Mean spend of the repeat purchase days (the first day left out), in
 * currency units; 0 without a repeat purchase.  Gamma-Gamma's input. */
double customer_repeat_spend(const struct customer *c);
/* BG/NBD statistics as of `as_of_day` in units of `unit_days` days: x repeat
 * purchase days, the last at t_x, observed for T >= t_x; all 0 for a customer
 * without a purchase. */
void customer_bg_obs(const struct customer *c, int32_t as_of_day, double unit_days,
                     struct bg_obs *o);
/* Orders placed minus cancelled. */
int64_t customer_net_orders(const struct customer *c);
/* Spend minus refunds, all time, in currency units (the summary's net_spend). */
double customer_net_spend(const struct customer *c);
/* Share of the net orders bought with a price cut (a discount or a
 * markdown); 0 without an order. */
double customer_discount_share(const struct customer *c);
/* The main category: the index in c->cats of the one with the most items
 * (the first of them on a tie), -1 without a category. */
int customer_main_category(const struct customer *c);

/* A conversation whose inbound message waits for a reply (the SLA signal not
 * yet raised for it), and one whose complaint waits for its resolution
 * (slow_resolution not yet raised). */
int cu_conv_awaits_reply(const struct cu_conv *v);
int cu_conv_awaits_resolution(const struct cu_conv *v);

/* The recent-id set: 1 if h is in it.  cu_seen_add keeps the newest
 * `window` (at most CU_SEEN_MAX) ids, dropping the oldest. */
int cu_seen_has(const struct customer *c, uint64_t h);
void cu_seen_add(struct customer *c, uint64_t h, uint32_t window);
/* The recent-id hash of an event id, and of an order id (another space). */
uint64_t cu_event_key(const char *event_id);
uint64_t cu_order_key(const char *order_id);

/* The newest order as paid of that order id hash, or NULL. */
const struct cu_paid *cu_paid_find(const struct customer *c, uint32_t oid);
/* The order's amount as the model counts it: amount_minor at its rate, in
 * hundredths (MINOR_MODEL_EXPONENT); 0, or -1 out of range. */
int cu_paid_cents(const struct cu_paid *p, int64_t *cents);

/* UTC epoch day of an instant (floor, so pre-1970 would still be right). */
int32_t cu_day_of(int64_t ms);
/* FNV-1a of a string: ids of orders/conversations/brands in the lists. */
uint64_t cu_hash64(const char *s);
uint32_t cu_hash32(const char *s);
/* Discount depth discount / (amount + discount) in parts per million. */
int64_t cu_depth_ppm(int64_t amount_cents, int64_t disc_cents);

/* The names of the classes, indexed by value (base/names.h); each *_name()
 * gives "unknown" for a value out of range, never NULL. */
const char *cu_tier_name(enum tier t);
const char *cu_segment_name(enum segment s);
const char *cu_brand_type_name(enum brand_type b);
const char *cu_signal_name(enum signal_kind k);
const char *cu_reward_name(enum reward_type r);
const char *cu_criterion_name(enum criterion k);
const char *cu_loyalty_type_name(enum loyalty_type t);
/* names_index over one of the tables below, for the codec: the value, or -1
 * if unknown. */
int cu_name_index(const char *const *names, int n, const char *s);
extern const char *const cu_tier_names[TIER__COUNT];
extern const char *const cu_segment_names[SEG__COUNT];
extern const char *const cu_brand_type_names[BT__COUNT];
extern const char *const cu_loyalty_type_names[LT__COUNT];

#endif
