/*
 * customer.c - the empty state of a customer and the names of its classes.
 */
#include "state/model/customer.h"

#include <math.h>
#include <string.h>

#include "base/minor.h"
#include "base/names.h"
#include "base/satint.h"

const char *const cu_tier_names[TIER__COUNT] = {
    [TIER_NONE] = "none", [TIER_BRONZE] = "bronze",     [TIER_SILVER] = "silver",
    [TIER_GOLD] = "gold", [TIER_PLATINUM] = "platinum",
};
const char *const cu_segment_names[SEG__COUNT] = {
    [SEG_NEW] = "new",
    [SEG_POTENTIAL] = "potential",
    [SEG_TRUST] = "trust",
    [SEG_BENEFIT] = "benefit",
    [SEG_INERTIA] = "inertia",
    [SEG_AT_RISK] = "at_risk",
    [SEG_SATISFIED] = "satisfied",
    [SEG_LAPSING] = "lapsing",
};
const char *const cu_brand_type_names[BT__COUNT] = {
    [BT_UNDETERMINED] = "undetermined",
    [BT_COMPLETE] = "complete",
    [BT_OCCASIONAL] = "occasional",
    [BT_SWITCHING] = "switching",
    [BT_SPLIT] = "split",
    [BT_NONE] = "none",
    [BT_VARIETY] = "variety",
};
const char *const cu_loyalty_type_names[LT__COUNT] = {
    [LT_NONE] = "no_loyalty",
    [LT_SPURIOUS] = "spurious_loyalty",
    [LT_LATENT] = "latent_loyalty",
    [LT_TRUE] = "true_loyalty",
};
static const char *const signal_names[SIG__COUNT] = {
    [SIG_SLA] = "inquiry_unanswered",
    [SIG_LATE_SHIP] = "late_shipment",
    [SIG_LATE_DELIVERY] = "late_delivery",
    [SIG_NOT_AS_DESCRIBED] = "not_as_described",
    [SIG_QUALITY_RETURN] = "quality_return",
    [SIG_LOW_RATING] = "low_rating",
    [SIG_COMPLAINT] = "complaint",
    [SIG_PAYMENT_REMINDERS] = "payment_reminders",
    [SIG_MARKETING] = "marketing_overload",
    [SIG_SHARED_LOW_RATING] = "shared_low_rating",
    [SIG_SLOW_RESOLUTION] = "slow_resolution",
};
static const char *const reward_names[RW__COUNT] = {
    [RW_MILESTONE] = "milestone", [RW_TIER] = "tier_upgrade",
    [RW_ADVOCACY] = "advocacy",   [RW_RECOVERY] = "service_recovery",
    [RW_WINBACK] = "win_back",
};
static const char *const criterion_names[CR__COUNT] = {
    [CR_REPEAT] = "repeat", [CR_SPEND] = "spend",         [CR_CHOOSE] = "choose",
    [CR_PRICE] = "price",   [CR_TOLERANCE] = "tolerance", [CR_BRAND] = "brand",
};

void customer_init(struct customer *c, const char *id)
{
    memset(c, 0, sizeof(*c));
    if (id) {
        strncpy(c->id, id, sizeof(c->id) - 1);
    }
    c->first_day = c->last_day = c->prev_day = -1;
    c->main_cat = -1;
    c->p_alive = 1.0;
    c->risk_armed = 1;
}

double customer_repeat_spend(const struct customer *c)
{
    double m;

    if (c->purchase_days < 2) {
        return 0;
    }
    m = (double)sat_sub(c->spend_cents, c->first_day_cents) / 100.0 /
        (double)(c->purchase_days - 1);
    return m > 0 ? m : 0;
}

void customer_bg_obs(const struct customer *c, int32_t as_of_day, double unit_days,
                     struct bg_obs *o)
{
    memset(o, 0, sizeof(*o));
    if (c->purchase_days <= 0) {
        return;
    }
    o->x = (double)(c->purchase_days - 1);
    o->t_x = (c->last_day - c->first_day) / unit_days;
    o->T = (as_of_day - c->first_day) / unit_days;
    if (o->T < o->t_x) {
        o->T = o->t_x;
    }
    o->mvalue = customer_repeat_spend(c);
}

int64_t customer_net_orders(const struct customer *c)
{
    int64_t n = sat_sub(c->orders, sat_sub(c->orders_cancelled, c->cancelled_unknown));

    return n > 0 ? n : 0;
}

double customer_net_spend(const struct customer *c)
{
    return (double)sat_sub(c->spend_cents, c->refund_cents) / 100.0;
}

double customer_discount_share(const struct customer *c)
{
    int64_t n = customer_net_orders(c);

    return n ? (double)c->discounted_orders / (double)n : 0;
}

int customer_main_category(const struct customer *c)
{
    int best = -1;

    for (uint32_t i = 0; i < c->ncats; i++) {
        if (best < 0 || c->cats[i].items > c->cats[best].items) {
            best = (int)i;
        }
    }
    return best;
}

int cu_conv_awaits_reply(const struct cu_conv *v)
{
    return v->pending_ms && !(v->flags & CV_SLA_HIT);
}

int cu_conv_awaits_resolution(const struct cu_conv *v)
{
    return (v->flags & (CV_COMPLAINT | CV_RESOLVED | CV_SLOW)) == CV_COMPLAINT &&
           v->opened_ms;
}

const struct cu_paid *cu_paid_find(const struct customer *c, uint32_t oid)
{
    for (uint32_t i = c->npaid; i-- > 0;) {
        if (c->paid[i].oid == oid) {
            return &c->paid[i];
        }
    }
    return NULL;
}

int cu_paid_cents(const struct cu_paid *p, int64_t *cents)
{
    return fx_convert(p->amount_minor, (int)p->exponent, &p->rate, MINOR_MODEL_EXPONENT,
                      cents) == FX_OK
               ? 0
               : -1;
}

int cu_seen_has(const struct customer *c, uint64_t h)
{
    for (uint32_t i = c->nseen; i-- > 0;) {
        if (c->seen[i] == h) {
            return 1;
        }
    }
    return 0;
}

void cu_seen_add(struct customer *c, uint64_t h, uint32_t window)
{
    if (window > CU_SEEN_MAX) {
        window = CU_SEEN_MAX;
    }
    if (window == 0) {
        c->nseen = 0;
        return;
    }
    if (c->nseen >= window) {
        uint32_t drop = c->nseen - window + 1;

        memmove(c->seen, c->seen + drop, (c->nseen - drop) * sizeof(c->seen[0]));
        c->nseen -= drop;
    }
    c->seen[c->nseen++] = h;
}

uint64_t cu_event_key(const char *event_id)
{
    return cu_hash64(event_id);
}

uint64_t cu_order_key(const char *order_id)
{
    /* A fixed odd multiplier moves order ids away from the event-id hashes,
     * so an order id equal to some event id is not taken for it. */
    return cu_hash64(order_id) * 0x9e3779b97f4a7c15ULL + 1;
}

int32_t cu_day_of(int64_t ms)
{
    int64_t d = ms / CU_DAY_MS;

    if (ms % CU_DAY_MS < 0) {
        d--;
    }
    return (int32_t)d;
}

uint64_t cu_hash64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint32_t cu_hash32(const char *s)
{
    uint32_t h = 0x811c9dc5u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x01000193u;
    }
    return h;
}

int64_t cu_depth_ppm(int64_t amount_cents, int64_t disc_cents)
{
    if (disc_cents <= 0) {
        return 0;
    }
    return llround(1e6 * (double)disc_cents / (double)(amount_cents + disc_cents));
}

const char *cu_tier_name(enum tier t)
{
    return names_get(cu_tier_names, TIER__COUNT, (int)t);
}

const char *cu_segment_name(enum segment s)
{
    return names_get(cu_segment_names, SEG__COUNT, (int)s);
}

const char *cu_brand_type_name(enum brand_type b)
{
    return names_get(cu_brand_type_names, BT__COUNT, (int)b);
}

const char *cu_signal_name(enum signal_kind k)
{
    return names_get(signal_names, SIG__COUNT, (int)k);
}

const char *cu_reward_name(enum reward_type r)
{
    return names_get(reward_names, RW__COUNT, (int)r);
}

const char *cu_loyalty_type_name(enum loyalty_type t)
{
    return names_get(cu_loyalty_type_names, LT__COUNT, (int)t);
}

const char *cu_criterion_name(enum criterion k)
{
    return names_get(criterion_names, CR__COUNT, (int)k);
}

int cu_name_index(const char *const *names, int n, const char *s)
{
    return n > 0 ? names_index(names, (size_t)n, s) : -1;
}
