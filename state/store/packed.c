/*
 * packed.c - the packed customer state (packed.h).
 *
 * Layout 4, in order:
 *   'L', 4                     magic and layout
 *   rev, partition, nwm, nwm x (source, partition, offset)   the store's part
 *   scalars: a bitmap of the non-zero ones (one bit per entry of `scalars`,
 *            LSB first), then the value of each set bit
 *   lists:   per entry of `lists`, a count, then each element's members
 * A value is written by its kind (enum pk_kind): the encodings are chosen so
 * that a typical value takes one to three bytes.  Layout 3 is layout 4
 * without its last list (the orders as paid): read as a customer whose
 * list is empty.
 */
#include "state/store/packed.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACKED_MAGIC 'L'

enum pk_kind {
    PK_I64,  /* int64_t, zigzag varint */
    PK_I32,  /* int32_t (and enums), zigzag varint */
    PK_U32,  /* uint32_t, varint */
    PK_U64,  /* uint64_t, varint */
    PK_DBL,  /* double, 8 bytes */
    PK_H64,  /* uint64_t hash, 8 bytes */
    PK_H32,  /* uint32_t hash, 4 bytes */
    PK_TIME, /* int64_t instant (ms, 0 = none): as_of - t, zigzag, +1; at most
                PACKED_TIME_LIMIT from the epoch */
    PK_DAY,  /* int32_t day: day of as_of - d, zigzag */
    PK_NAME, /* char[CU_NAME_MAX + 1]: length, bytes */
    PK_CUR,  /* char[4]: three bytes */
    PK_SEQ,  /* cu_cat.seq with its count nseq: count, 4 bytes each */
};

struct pk_member {
    size_t off;
    enum pk_kind kind;
};

#define S(f, k)                                                                          \
    {                                                                                    \
        offsetof(struct customer, f), k                                                  \
    }

/* Every scalar of struct customer (id excepted: it is the key).  as_of_ms
 * comes first: times and days are written relative to it. */
static const struct pk_member scalars[] = {
    S(as_of_ms, PK_I64),
    S(currency, PK_CUR),
    S(orders, PK_I64),
    S(orders_cancelled, PK_I64),
    S(cancelled_unknown, PK_I64),
    S(orders_returned, PK_I64),
    S(orders_shipped, PK_I64),
    S(orders_delivered, PK_I64),
    S(spend_cents, PK_I64),
    S(refund_cents, PK_I64),
    S(discount_cents, PK_I64),
    S(discounted_orders, PK_I64),
    S(depth_ppm_sum, PK_I64),
    S(markdown_cents, PK_I64),
    S(margin_cents, PK_I64),
    S(costed_orders, PK_I64),
    S(fast_ship_orders, PK_I64),
    S(purchase_days, PK_I64),
    S(first_day, PK_DAY),
    S(last_day, PK_DAY),
    S(prev_day, PK_DAY),
    S(first_day_cents, PK_I64),
    S(ratings, PK_I64),
    S(rating_sum, PK_I64),
    S(ratings_low, PK_I64),
    S(ratings_high, PK_I64),
    S(reviews_shared, PK_I64),
    S(rating_last, PK_I32),
    S(msgs[MSG_INQUIRY], PK_I64),
    S(msgs[MSG_COMPLAINT], PK_I64),
    S(msgs[MSG_PRAISE], PK_I64),
    S(msgs[MSG_REPLY], PK_I64),
    S(msgs[MSG_PAYMENT_REMINDER], PK_I64),
    S(msgs[MSG_MARKETING], PK_I64),
    S(msgs[MSG_OTHER], PK_I64),
    S(msgs[MSG_RESOLUTION], PK_I64),
    S(competitor_mentions, PK_I64),
    S(complaints[CAT_NONE], PK_I64),
    S(complaints[CAT_LOGISTICS], PK_I64),
    S(complaints[CAT_QUALITY], PK_I64),
    S(complaints[CAT_DUTIES], PK_I64),
    S(complaints[CAT_PAYMENT], PK_I64),
    S(complaints[CAT_OTHER], PK_I64),
    S(resolved_n, PK_I64),
    S(resolve_sum_min, PK_I64),
    S(att_as_of_ms, PK_TIME),
    S(att[AT_RATED], PK_DBL),
    S(att[AT_HIGH], PK_DBL),
    S(att[AT_SHARED], PK_DBL),
    S(att[AT_PRAISE], PK_DBL),
    S(att[AT_INTEREST], PK_DBL),
    S(att[AT_RIVAL], PK_DBL),
    S(msg_as_of_ms, PK_TIME),
    S(choose_n, PK_I64),
    S(choose_sum_min, PK_I64),
    S(incidents, PK_I64),
    S(incidents_tolerated, PK_I64),
    S(incidents_lost, PK_I64),
    S(signals_total, PK_I64),
    S(reward_last_ms[RW_MILESTONE], PK_TIME),
    S(reward_last_ms[RW_TIER], PK_TIME),
    S(reward_last_ms[RW_ADVOCACY], PK_TIME),
    S(reward_last_ms[RW_RECOVERY], PK_TIME),
    S(reward_last_ms[RW_WINBACK], PK_TIME),
    S(reward_suppressed[RW_MILESTONE], PK_I64),
    S(reward_suppressed[RW_TIER], PK_I64),
    S(reward_suppressed[RW_ADVOCACY], PK_I64),
    S(reward_suppressed[RW_RECOVERY], PK_I64),
    S(reward_suppressed[RW_WINBACK], PK_I64),
    S(reward_issued[RW_MILESTONE], PK_I64),
    S(reward_issued[RW_TIER], PK_I64),
    S(reward_issued[RW_ADVOCACY], PK_I64),
    S(reward_issued[RW_RECOVERY], PK_I64),
    S(reward_issued[RW_WINBACK], PK_I64),
    S(reward_redeemed[RW_MILESTONE], PK_I64),
    S(reward_redeemed[RW_TIER], PK_I64),
    S(reward_redeemed[RW_ADVOCACY], PK_I64),
    S(reward_redeemed[RW_RECOVERY], PK_I64),
    S(reward_redeemed[RW_WINBACK], PK_I64),
    /* derived */
    S(orders_30d, PK_I64),
    S(orders_90d, PK_I64),
    S(orders_365d, PK_I64),
    S(spend_365d, PK_DBL),
    S(margin_365d, PK_DBL),
    S(costed_365d, PK_I64),
    S(aov, PK_DBL),
    S(contrib[CR_REPEAT], PK_I32),
    S(contrib[CR_SPEND], PK_I32),
    S(contrib[CR_CHOOSE], PK_I32),
    S(contrib[CR_PRICE], PK_I32),
    S(contrib[CR_TOLERANCE], PK_I32),
    S(contrib[CR_BRAND], PK_I32),
    S(loyalty_score, PK_DBL),
    S(brand_type, PK_I32),
    S(brand_share, PK_DBL),
    S(main_cat, PK_I32),
    S(segment, PK_I32),
    S(tier, PK_I32),
    S(tier_grace_until_ms, PK_TIME),
    S(milestone, PK_I32),
    S(p_alive, PK_DBL),
    S(exp_purchases, PK_DBL),
    S(exp_value, PK_DBL),
    S(clv, PK_DBL),
    S(churn_risk, PK_DBL),
    S(risk_armed, PK_I32),
    S(churn_seq, PK_I64),
    S(rewards_sent, PK_I64),
    S(rewards_redeemed, PK_I64),
    S(redeemed_unknown, PK_I64),
    S(points_balance, PK_I64),
    S(attitude, PK_DBL),
    S(loyalty_type, PK_I32),
    S(segment_seq, PK_I64),
    S(model_version, PK_I64),
};

#undef S

#define NSCALARS    (sizeof(scalars) / sizeof(scalars[0]))
#define BITMAP_SIZE ((NSCALARS + 7) / 8)

/* Enums are read and written as int32_t. */
_Static_assert(sizeof(enum tier) == sizeof(int32_t), "enum size");
_Static_assert(sizeof(enum segment) == sizeof(int32_t), "enum size");
_Static_assert(sizeof(enum brand_type) == sizeof(int32_t), "enum size");
_Static_assert(sizeof(enum loyalty_type) == sizeof(int32_t), "enum size");

#define M(t, f, k)                                                                       \
    {                                                                                    \
        offsetof(struct t, f), k                                                         \
    }

static const struct pk_member day_members[] = {
    M(cu_day, day, PK_DAY),          M(cu_day, orders, PK_I32),
    M(cu_day, spend_cents, PK_I64),  M(cu_day, refund_cents, PK_I64),
    M(cu_day, margin_cents, PK_I64), M(cu_day, costed, PK_I32),
};
static const struct pk_member order_members[] = {
    M(cu_order, oid, PK_H64),         M(cu_order, day, PK_DAY),
    M(cu_order, flags, PK_U32),       M(cu_order, amount_cents, PK_I64),
    M(cu_order, disc_cents, PK_I64),  M(cu_order, mark_cents, PK_I64),
    M(cu_order, depth_ppm, PK_I64),   M(cu_order, margin_cents, PK_I64),
    M(cu_order, ship_by_ms, PK_TIME), M(cu_order, deliver_by_ms, PK_TIME),
};
static const struct pk_member conv_members[] = {
    M(cu_conv, cid, PK_H64),        M(cu_conv, inquiry_ms, PK_TIME),
    M(cu_conv, order_ms, PK_TIME),  M(cu_conv, pending_ms, PK_TIME),
    M(cu_conv, last_ms, PK_TIME),   M(cu_conv, choose_min, PK_I64),
    M(cu_conv, opened_ms, PK_TIME), M(cu_conv, flags, PK_U32),
    M(cu_conv, category, PK_U32),
};
static const struct pk_member brand_members[] = {
    M(cu_brand, cat, PK_H32),
    M(cu_brand, count, PK_U32),
    M(cu_brand, last_day, PK_DAY),
    M(cu_brand, name, PK_NAME),
};
static const struct pk_member cat_members[] = {
    M(cu_cat, name, PK_NAME),
    M(cu_cat, items, PK_U32),
    M(cu_cat, seq, PK_SEQ),
};
static const struct pk_member incident_members[] = {
    M(cu_incident, ts_ms, PK_TIME),
};
static const struct pk_member signal_members[] = {
    M(cu_signal, ts_ms, PK_TIME),
    M(cu_signal, ref, PK_H64),
    M(cu_signal, kind, PK_U32),
    M(cu_signal, conv, PK_H64),
};
static const struct pk_member reward_members[] = {
    M(cu_reward, id, PK_H64),    M(cu_reward, ts_ms, PK_TIME), M(cu_reward, type, PK_U32),
    M(cu_reward, flags, PK_U32), M(cu_reward, points, PK_I64),
};
static const struct pk_member paid_members[] = {
    M(cu_paid, oid, PK_H32),        M(cu_paid, day, PK_DAY),
    M(cu_paid, flags, PK_U32),      M(cu_paid, currency, PK_CUR),
    M(cu_paid, exponent, PK_U32),   M(cu_paid, amount_minor, PK_I64),
    M(cu_paid, rate.num, PK_U64),   M(cu_paid, rate.den, PK_U64),
    M(cu_paid, rate.pow10, PK_I32),
};
static const struct pk_member time_member[] = {{0, PK_TIME}};
static const struct pk_member hash_member[] = {{0, PK_H64}};

#undef M

/* A bounded list: elements at off, their count (uint32_t) at count_off. */
struct pk_list {
    size_t off, count_off, elem, max;
    const struct pk_member *members;
    size_t nmembers;
};

#define L(a, n, m)                                                                       \
    {                                                                                    \
        offsetof(struct customer, a), offsetof(struct customer, n),                      \
            sizeof(((struct customer *)0)->a[0]),                                        \
            sizeof(((struct customer *)0)->a) / sizeof(((struct customer *)0)->a[0]), m, \
            sizeof(m) / sizeof(m[0])                                                     \
    }

static const struct pk_list lists[] = {
    L(days, ndays, day_members),  L(open, nopen, order_members),
    L(conv, nconv, conv_members), L(brands, nbrands, brand_members),
    L(cats, ncats, cat_members),  L(inc, ninc, incident_members),
    L(sig, nsig, signal_members), L(mkt_ms, nmkt, time_member),
    L(rem_ms, nrem, time_member), L(reward_recent_ms, nreward_recent, time_member),
    L(rwd, nrwd, reward_members), L(seen, nseen, hash_member),
    L(paid, npaid, paid_members), /* layout 4 */
};

#undef L

#define NLISTS (sizeof(lists) / sizeof(lists[0]))
/* The lists of layout 3: all but the last. */
#define NLISTS_3 (NLISTS - 1)

/* ---- writing ------------------------------------------------------------ */

/* Writes while there is room, counts always: the count is the size needed. */
struct wr {
    unsigned char *p;
    size_t n, cap;
};

static void put_byte(struct wr *w, unsigned char b)
{
    if (w->p != NULL && w->n < w->cap) {
        w->p[w->n] = b;
    }
    w->n++;
}

static void put_uvar(struct wr *w, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(w, (unsigned char)(v | 0x80));
        v >>= 7;
    }
    put_byte(w, (unsigned char)v);
}

/* Zigzag: 0, -1, 1, -2, ... as 0, 1, 2, 3, ...; the sign spread over every
 * bit without shifting a negative value (implementation-defined in C). */
static uint64_t zigzag(uint64_t v)
{
    return (v << 1) ^ (0 - (v >> 63));
}

static void put_svar(struct wr *w, int64_t v)
{
    put_uvar(w, zigzag((uint64_t)v));
}

static void put_fixed(struct wr *w, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        put_byte(w, (unsigned char)(v >> (8 * i)));
    }
}

/* The base of relative times and days. */
struct base {
    int64_t ms;
    int32_t day;
};

static void put_value(struct wr *w, const void *field, enum pk_kind kind,
                      const struct base *b, const void *elem)
{
    int64_t i64;
    int32_t i32;
    uint32_t u32;
    uint64_t u64;
    double d;

    switch (kind) {
    case PK_I64:
        memcpy(&i64, field, sizeof(i64));
        put_svar(w, i64);
        break;
    case PK_I32:
        memcpy(&i32, field, sizeof(i32));
        put_svar(w, i32);
        break;
    case PK_U32:
        memcpy(&u32, field, sizeof(u32));
        put_uvar(w, u32);
        break;
    case PK_U64:
        memcpy(&u64, field, sizeof(u64));
        put_uvar(w, u64);
        break;
    case PK_DBL:
        memcpy(&d, field, sizeof(d));
        memcpy(&u64, &d, sizeof(u64));
        put_fixed(w, u64, 8);
        break;
    case PK_H64:
        memcpy(&u64, field, sizeof(u64));
        put_fixed(w, u64, 8);
        break;
    case PK_H32:
        memcpy(&u32, field, sizeof(u32));
        put_fixed(w, u32, 4);
        break;
    case PK_TIME:
        memcpy(&i64, field, sizeof(i64));
        if (i64 == 0) {
            put_uvar(w, 0);
        } else {
            /* as_of - t modulo 2^64 (no signed overflow), zigzagged, + 1.
             * The one t whose zigzag is UINT64_MAX (t = as_of - 2^63) takes
             * the code t = 0 would have had, which 0 does not use. */
            uint64_t diff = (uint64_t)b->ms - (uint64_t)i64;
            uint64_t z = zigzag(diff);

            if (z == UINT64_MAX) {
                z = zigzag((uint64_t)b->ms);
            }
            put_uvar(w, z + 1);
        }
        break;
    case PK_DAY:
        memcpy(&i32, field, sizeof(i32));
        put_svar(w, (int64_t)b->day - i32);
        break;
    case PK_NAME: {
        size_t len = strnlen(field, CU_NAME_MAX);

        put_uvar(w, len);
        for (size_t i = 0; i < len; i++) {
            put_byte(w, (unsigned char)((const char *)field)[i]);
        }
        break;
    }
    case PK_CUR:
        for (int i = 0; i < 3; i++) {
            put_byte(w, (unsigned char)((const char *)field)[i]);
        }
        break;
    case PK_SEQ: {
        const struct cu_cat *k = elem;
        uint32_t n = k->nseq > CU_SEQ_MAX ? CU_SEQ_MAX : k->nseq;

        put_uvar(w, n);
        for (uint32_t i = 0; i < n; i++) {
            put_fixed(w, k->seq[i], 4);
        }
        break;
    }
    }
}

static int scalar_set(const struct customer *c, const struct pk_member *m)
{
    static const unsigned char zero[8];
    size_t size = m->kind == PK_I64 || m->kind == PK_DBL || m->kind == PK_TIME ? 8
                  : m->kind == PK_CUR                                          ? 4
                                                                               : 4;

    return memcmp((const char *)c + m->off, zero, size) != 0;
}

static uint32_t list_count(const struct customer *c, const struct pk_list *l)
{
    uint32_t n;

    memcpy(&n, (const char *)c + l->count_off, sizeof(n));
    return n > l->max ? (uint32_t)l->max : n;
}

/* packed_encode, writing while there is room. */
static size_t encode(const struct customer *c, const struct store_meta *meta,
                     unsigned char *buf, size_t cap)
{
    struct wr w = {buf, 0, cap};
    struct base b = {c->as_of_ms, cu_day_of(c->as_of_ms)};
    unsigned char bitmap[BITMAP_SIZE] = {0};

    put_byte(&w, PACKED_MAGIC);
    put_byte(&w, PACKED_LAYOUT);
    put_svar(&w, meta->rev);
    put_svar(&w, meta->partition);
    put_uvar(&w, meta->nwm);
    for (size_t i = 0; i < meta->nwm; i++) {
        put_uvar(&w, (uint64_t)meta->wm[i].source);
        put_svar(&w, meta->wm[i].partition);
        put_svar(&w, meta->wm[i].offset);
    }
    for (size_t i = 0; i < NSCALARS; i++) {
        if (scalar_set(c, &scalars[i])) {
            bitmap[i / 8] |= (unsigned char)(1u << (i % 8));
        }
    }
    for (size_t i = 0; i < BITMAP_SIZE; i++) {
        put_byte(&w, bitmap[i]);
    }
    for (size_t i = 0; i < NSCALARS; i++) {
        if (bitmap[i / 8] & (1u << (i % 8))) {
            put_value(&w, (const char *)c + scalars[i].off, scalars[i].kind, &b, NULL);
        }
    }
    for (size_t i = 0; i < NLISTS; i++) {
        const struct pk_list *l = &lists[i];
        uint32_t n = list_count(c, l);

        put_uvar(&w, n);
        for (uint32_t j = 0; j < n; j++) {
            const char *elem = (const char *)c + l->off + j * l->elem;

            for (size_t m = 0; m < l->nmembers; m++) {
                put_value(&w, elem + l->members[m].off, l->members[m].kind, &b, elem);
            }
        }
    }
    return w.n;
}

size_t packed_encode(const struct customer *c, const struct store_meta *meta,
                     unsigned char *buf, size_t cap)
{
    size_t need = encode(c, meta, NULL, 0);

    if (buf != NULL && need <= cap) {
        encode(c, meta, buf, need);
    }
    return need;
}

/* Most states fit the scratch buffer, so they are encoded once and copied;
 * a larger one is encoded again into its own buffer. */
#define PACKED_SCRATCH 4096

unsigned char *packed_new(const struct customer *c, const struct store_meta *meta,
                          size_t *len)
{
    unsigned char scratch[PACKED_SCRATCH];
    unsigned char *buf;

    *len = encode(c, meta, scratch, sizeof(scratch));
    if ((buf = malloc(*len)) == NULL) {
        return NULL;
    }
    if (*len <= sizeof(scratch)) {
        memcpy(buf, scratch, *len);
    } else {
        encode(c, meta, buf, *len);
    }
    return buf;
}

/* ---- reading ------------------------------------------------------------ */

struct rd {
    const unsigned char *p, *end;
    int bad;
};

static unsigned char get_byte(struct rd *r)
{
    if (r->p >= r->end) {
        r->bad = 1;
        return 0;
    }
    return *r->p++;
}

static uint64_t get_uvar(struct rd *r)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        unsigned char b = get_byte(r);

        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return v;
        }
    }
    r->bad = 1;
    return 0;
}

static int64_t unzig(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int64_t get_svar(struct rd *r)
{
    return unzig(get_uvar(r));
}

static uint64_t get_fixed(struct rd *r, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t)get_byte(r) << (8 * i);
    }
    return v;
}

/* An instant written by put_value, relative to the base.  The model's
 * instants are events' times plus windows of days: one beyond
 * PACKED_TIME_LIMIT is damage (and the model's differences of two instants
 * must not overflow). */
static int64_t get_time(struct rd *r, const struct base *b)
{
    uint64_t u64 = get_uvar(r);
    int64_t t = u64 == 0 ? 0 : (int64_t)((uint64_t)b->ms - (uint64_t)unzig(u64 - 1));

    if (u64 != 0 && t == 0) { /* see put_value */
        t = (int64_t)((uint64_t)b->ms ^ (UINT64_C(1) << 63));
    }
    if (t < -PACKED_TIME_LIMIT || t > PACKED_TIME_LIMIT) {
        r->bad = 1;
        return 0;
    }
    return t;
}

static void get_value(struct rd *r, void *field, enum pk_kind kind, const struct base *b,
                      void *elem)
{
    int64_t i64;
    int32_t i32;
    uint32_t u32;
    uint64_t u64;

    switch (kind) {
    case PK_I64:
        i64 = get_svar(r);
        memcpy(field, &i64, sizeof(i64));
        break;
    case PK_I32:
        i32 = (int32_t)get_svar(r);
        memcpy(field, &i32, sizeof(i32));
        break;
    case PK_U32:
        u32 = (uint32_t)get_uvar(r);
        memcpy(field, &u32, sizeof(u32));
        break;
    case PK_U64:
        u64 = get_uvar(r);
        memcpy(field, &u64, sizeof(u64));
        break;
    case PK_DBL:
    case PK_H64:
        u64 = get_fixed(r, 8);
        memcpy(field, &u64, sizeof(u64));
        break;
    case PK_H32:
        u32 = (uint32_t)get_fixed(r, 4);
        memcpy(field, &u32, sizeof(u32));
        break;
    case PK_TIME:
        i64 = get_time(r, b);
        memcpy(field, &i64, sizeof(i64));
        break;
    case PK_DAY:
        /* A day out of int32_t's range is not a packed day (and the
         * difference must not overflow). */
        i64 = get_svar(r);
        if (i64 < (int64_t)b->day - INT32_MAX || i64 > (int64_t)b->day - INT32_MIN) {
            r->bad = 1;
            return;
        }
        i32 = (int32_t)((int64_t)b->day - i64);
        if (i32 < -PACKED_DAY_LIMIT || i32 > PACKED_DAY_LIMIT) {
            r->bad = 1;
            return;
        }
        memcpy(field, &i32, sizeof(i32));
        break;
    case PK_NAME: {
        uint64_t len = get_uvar(r);

        if (len > CU_NAME_MAX) {
            r->bad = 1;
            return;
        }
        /* A name is written up to its NUL: one with a NUL inside is not
         * what an encoder wrote, and would not encode back to itself. */
        for (uint64_t i = 0; i < len; i++) {
            if ((((char *)field)[i] = (char)get_byte(r)) == '\0') {
                r->bad = 1;
                return;
            }
        }
        ((char *)field)[len] = '\0';
        break;
    }
    case PK_CUR:
        for (int i = 0; i < 3; i++) {
            ((char *)field)[i] = (char)get_byte(r);
        }
        ((char *)field)[3] = '\0';
        break;
    case PK_SEQ: {
        struct cu_cat *k = elem;
        uint64_t n = get_uvar(r);

        if (n > CU_SEQ_MAX) {
            r->bad = 1;
            return;
        }
        k->nseq = (uint32_t)n;
        for (uint64_t i = 0; i < n; i++) {
            k->seq[i] = (uint32_t)get_fixed(r, 4);
        }
        break;
    }
    }
}

static int decode_meta(struct rd *r, struct store_meta *meta, int layout)
{
    uint64_t nwm;

    memset(meta, 0, sizeof(*meta));
    meta->exists = 1;
    meta->layout = layout;
    meta->rev = get_svar(r);
    meta->partition = (int32_t)get_svar(r);
    if ((nwm = get_uvar(r)) > STORE_WM_MAX) {
        return -1;
    }
    meta->nwm = (size_t)nwm;
    for (size_t i = 0; i < meta->nwm; i++) {
        meta->wm[i].source = (int)get_uvar(r);
        meta->wm[i].partition = (int32_t)get_svar(r);
        meta->wm[i].offset = get_svar(r);
    }
    return r->bad ? -1 : 0;
}

static int decode_lists(struct rd *r, struct customer *c, const struct base *b,
                        size_t nlists)
{
    for (size_t i = 0; i < nlists && !r->bad; i++) {
        const struct pk_list *l = &lists[i];
        uint64_t n = get_uvar(r);
        uint32_t n32 = (uint32_t)n;

        if (n > l->max) {
            return -1;
        }
        memcpy((char *)c + l->count_off, &n32, sizeof(n32));
        for (uint64_t j = 0; j < n; j++) {
            char *elem = (char *)c + l->off + j * l->elem;

            for (size_t m = 0; m < l->nmembers; m++) {
                get_value(r, elem + l->members[m].off, l->members[m].kind, b, elem);
            }
        }
    }
    return r->bad ? -1 : 0;
}

/* The values the model looks tables up by (a signal's kind, a reward's type)
 * and the classes: one that names no value of its enum is not a state this
 * build wrote, and would be read or written past the end of a table. */
static int check_enums(const struct customer *c)
{
    if ((uint32_t)c->tier >= TIER__COUNT || (uint32_t)c->segment >= SEG__COUNT ||
        (uint32_t)c->brand_type >= BT__COUNT || (uint32_t)c->loyalty_type >= LT__COUNT) {
        return -1;
    }
    for (uint32_t i = 0; i < c->nsig; i++) {
        if (c->sig[i].kind >= SIG__COUNT) {
            return -1;
        }
    }
    for (uint32_t i = 0; i < c->nrwd; i++) {
        if (c->rwd[i].type >= RW__COUNT) {
            return -1;
        }
    }
    /* An order's rate converts its return: an exponent, factor or amount
     * fx_convert refuses is not what a conversion recorded. */
    for (uint32_t i = 0; i < c->npaid; i++) {
        int64_t cents;

        if (cu_paid_cents(&c->paid[i], &cents) < 0) {
            return -1;
        }
    }
    return 0;
}

int packed_decode(const unsigned char *buf, size_t len, const char *id,
                  struct customer *c, struct store_meta *meta, char *err, size_t errlen)
{
    struct rd r = {buf, buf + len, 0};
    unsigned char bitmap[BITMAP_SIZE];
    struct base b;

    memset(c, 0, sizeof(*c));
    if (len < 2 || buf[0] != PACKED_MAGIC || (buf[1] != PACKED_LAYOUT && buf[1] != 3)) {
        snprintf(err, errlen, "customer %s: not a packed state of layout 3 or %d", id,
                 PACKED_LAYOUT);
        return -1;
    }
    r.p += 2;
    if (decode_meta(&r, meta, buf[1]) < 0) {
        goto bad;
    }
    for (size_t i = 0; i < BITMAP_SIZE; i++) {
        bitmap[i] = get_byte(&r);
    }
    /* as_of_ms is the first scalar: the base of what follows. */
    for (size_t i = 0; i < NSCALARS && !r.bad; i++) {
        b.ms = c->as_of_ms;
        b.day = cu_day_of(c->as_of_ms);
        if (bitmap[i / 8] & (1u << (i % 8))) {
            get_value(&r, (char *)c + scalars[i].off, scalars[i].kind, &b, NULL);
        }
    }
    if (r.bad || c->as_of_ms < -PACKED_TIME_LIMIT || c->as_of_ms > PACKED_TIME_LIMIT ||
        decode_lists(&r, c, &b, buf[1] == 3 ? NLISTS_3 : NLISTS) < 0 || r.p != r.end ||
        check_enums(c) < 0) {
        goto bad;
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    return 0;
bad:
    snprintf(err, errlen, "customer %s: packed state of %zu bytes does not decode", id,
             len);
    return -1;
}
