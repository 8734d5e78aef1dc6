/*
 * test_packed.c - the packed customer state (state/store/packed.c): exact round
 * trips of rich, event-built and random customers (field for field, in the
 * codec's text and re-encoded byte for byte), the store's meta, measuring,
 * refusing a too-small buffer, refusing bad input (truncated, trailing bytes,
 * bad magic or layout, counts over their bound), and the packed size of a
 * one-order and of a year-long customer.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/currency.h"
#include "state/store/codec.h"
#include "state/store/packed.h"
#include "tests/unit/check_main.h"
#include "tests/unit/model_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

/* splitmix64: full-width values for the random customers. */
static uint64_t rnd64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rnd64(s) % n);
}

/* The recent ids the batch adds after applying the fixture's events (event
 * ids "ev-1".."ev-<seq>"), with the default dedup.window of 64. */
static void add_seen(struct fx *f, uint32_t window)
{
    char id[32];

    for (int i = 1; i <= f->seq; i++) {
        snprintf(id, sizeof(id), "ev-%d", i);
        cu_seen_add(f->c, cu_event_key(id), window);
    }
}

/* a and b have the same codec text (hash fields and aux string). */
static void same_text(const struct customer *a, const struct customer *b)
{
    struct kvlist kv1, kv2;
    char *aux1, *aux2;

    fx_encode_ok(a, &kv1, &aux1);
    fx_encode_ok(b, &kv2, &aux2);
    fx_assert_same_text(&kv1, aux1, &kv2, aux2);
    kvlist_free(&kv1);
    kvlist_free(&kv2);
    free(aux1);
    free(aux2);
}

static void same_meta(const struct store_meta *a, const struct store_meta *b)
{
    ck_assert_int_eq(b->exists, 1);
    ck_assert_int_eq(b->layout, PACKED_LAYOUT);
    ck_assert_int_eq(a->rev, b->rev);
    ck_assert_int_eq(a->partition, b->partition);
    ck_assert_uint_eq(a->nwm, b->nwm);
    for (size_t i = 0; i < a->nwm; i++) {
        ck_assert_int_eq(a->wm[i].source, b->wm[i].source);
        ck_assert_int_eq(a->wm[i].partition, b->wm[i].partition);
        ck_assert_int_eq(a->wm[i].offset, b->wm[i].offset);
    }
}

/* c as packed_decode rebuilds it: each list element copied member by member
 * into zeroed memory, so that padding, the bytes after a name's NUL, the
 * brands of a category past nseq and the unused slots are zero; every other
 * byte as in c.  (The model may leave such bytes non-zero; packed_decode
 * starts from a zeroed customer and writes only the members.) */
static void canonical(const struct customer *c, struct customer *k)
{
    memcpy(k, c, sizeof(*k));
    memset(k->days, 0, sizeof(k->days));
    for (uint32_t i = 0; i < c->ndays; i++) {
        k->days[i].day = c->days[i].day;
        k->days[i].orders = c->days[i].orders;
        k->days[i].spend_cents = c->days[i].spend_cents;
        k->days[i].refund_cents = c->days[i].refund_cents;
        k->days[i].margin_cents = c->days[i].margin_cents;
        k->days[i].costed = c->days[i].costed;
    }
    memset(k->open, 0, sizeof(k->open));
    for (uint32_t i = 0; i < c->nopen; i++) {
        k->open[i].oid = c->open[i].oid;
        k->open[i].day = c->open[i].day;
        k->open[i].flags = c->open[i].flags;
        k->open[i].amount_cents = c->open[i].amount_cents;
        k->open[i].disc_cents = c->open[i].disc_cents;
        k->open[i].mark_cents = c->open[i].mark_cents;
        k->open[i].depth_ppm = c->open[i].depth_ppm;
        k->open[i].margin_cents = c->open[i].margin_cents;
        k->open[i].ship_by_ms = c->open[i].ship_by_ms;
        k->open[i].deliver_by_ms = c->open[i].deliver_by_ms;
    }
    memset(k->conv, 0, sizeof(k->conv));
    for (uint32_t i = 0; i < c->nconv; i++) {
        k->conv[i].cid = c->conv[i].cid;
        k->conv[i].inquiry_ms = c->conv[i].inquiry_ms;
        k->conv[i].order_ms = c->conv[i].order_ms;
        k->conv[i].pending_ms = c->conv[i].pending_ms;
        k->conv[i].last_ms = c->conv[i].last_ms;
        k->conv[i].choose_min = c->conv[i].choose_min;
        k->conv[i].opened_ms = c->conv[i].opened_ms;
        k->conv[i].flags = c->conv[i].flags;
        k->conv[i].category = c->conv[i].category;
    }
    memset(k->brands, 0, sizeof(k->brands));
    for (uint32_t i = 0; i < c->nbrands; i++) {
        k->brands[i].cat = c->brands[i].cat;
        k->brands[i].count = c->brands[i].count;
        k->brands[i].last_day = c->brands[i].last_day;
        memcpy(k->brands[i].name, c->brands[i].name,
               strnlen(c->brands[i].name, CU_NAME_MAX));
    }
    memset(k->cats, 0, sizeof(k->cats));
    for (uint32_t i = 0; i < c->ncats; i++) {
        memcpy(k->cats[i].name, c->cats[i].name, strnlen(c->cats[i].name, CU_NAME_MAX));
        k->cats[i].items = c->cats[i].items;
        k->cats[i].nseq = c->cats[i].nseq;
        memcpy(k->cats[i].seq, c->cats[i].seq,
               c->cats[i].nseq * sizeof(c->cats[i].seq[0]));
    }
    memset(k->inc, 0, sizeof(k->inc));
    for (uint32_t i = 0; i < c->ninc; i++) {
        k->inc[i].ts_ms = c->inc[i].ts_ms;
    }
    memset(k->sig, 0, sizeof(k->sig));
    for (uint32_t i = 0; i < c->nsig; i++) {
        k->sig[i].ts_ms = c->sig[i].ts_ms;
        k->sig[i].ref = c->sig[i].ref;
        k->sig[i].kind = c->sig[i].kind;
        k->sig[i].conv = c->sig[i].conv;
    }
    memset(k->mkt_ms, 0, sizeof(k->mkt_ms));
    memcpy(k->mkt_ms, c->mkt_ms, c->nmkt * sizeof(c->mkt_ms[0]));
    memset(k->rem_ms, 0, sizeof(k->rem_ms));
    memcpy(k->rem_ms, c->rem_ms, c->nrem * sizeof(c->rem_ms[0]));
    memset(k->reward_recent_ms, 0, sizeof(k->reward_recent_ms));
    memcpy(k->reward_recent_ms, c->reward_recent_ms,
           c->nreward_recent * sizeof(c->reward_recent_ms[0]));
    memset(k->rwd, 0, sizeof(k->rwd));
    for (uint32_t i = 0; i < c->nrwd; i++) {
        k->rwd[i].id = c->rwd[i].id;
        k->rwd[i].ts_ms = c->rwd[i].ts_ms;
        k->rwd[i].type = c->rwd[i].type;
        k->rwd[i].flags = c->rwd[i].flags;
        k->rwd[i].points = c->rwd[i].points;
    }
    memset(k->seen, 0, sizeof(k->seen));
    memcpy(k->seen, c->seen, c->nseen * sizeof(c->seen[0]));
}

/* The first of bytes [from, to) of p that is not `fill`, or to.  (One
 * assertion per buffer rather than per byte: in Check's fork mode every
 * assertion is a message to the parent.) */
static size_t first_not(const void *p, size_t from, size_t to, unsigned char fill)
{
    const unsigned char *b = p;

    while (from < to && b[from] == fill) {
        from++;
    }
    return from;
}

#define SAME_LIST(a, b, arr, n)                                                          \
    do {                                                                                 \
        ck_assert_uint_eq((a)->n, (b)->n);                                               \
        ck_assert_msg(memcmp((a)->arr, (b)->arr, (a)->n * sizeof((a)->arr[0])) == 0,     \
                      "list " #arr " differs");                                          \
        ck_assert_msg(first_not((b)->arr, (b)->n * sizeof((b)->arr[0]),                  \
                                sizeof((b)->arr), 0) == sizeof((b)->arr),                \
                      "unused slot of " #arr " not zeroed");                             \
    } while (0)

/* Encode c with meta; the caller frees the buffer. */
static unsigned char *pack(const struct customer *c, const struct store_meta *meta,
                           size_t *len)
{
    unsigned char *buf = packed_new(c, meta, len);

    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(packed_encode(c, meta, NULL, 0), *len);
    return buf;
}

/* Does buf (len bytes) decode?  d is filled with garbage first. */
static int unpack(const unsigned char *buf, size_t len, struct customer *d,
                  struct store_meta *m)
{
    char err[256] = "";
    int rc;

    memset(d, 0xee, sizeof(*d));
    memset(m, 0xee, sizeof(*m));
    rc = packed_decode(buf, len, "cust-1", d, m, err, sizeof(err));
    if (rc < 0) {
        ck_assert_ptr_nonnull(strstr(err, "cust-1")); /* says which customer */
    } else {
        ck_assert_str_eq(d->id, "cust-1");
    }
    return rc;
}

/* Does c, packed with a zero meta, decode (into d)?  0 or -1. */
static int repack(const struct customer *c, struct customer *d)
{
    struct store_meta meta = {0}, m;
    size_t len;
    unsigned char *buf = pack(c, &meta, &len);
    int rc = unpack(buf, len, d, &m);

    free(buf);
    return rc;
}

/* Pack c (whose id is "cust-1") with meta, decode it into a fresh customer
 * and compare: field for field, list by list, in the codec's text, and the
 * decoded customer re-encoded byte for byte. */
static void pack_roundtrip(const struct customer *c, const struct store_meta *meta)
{
    size_t len, len2;
    unsigned char *buf, *buf2;
    struct customer *d = malloc(sizeof(*d)), *k = malloc(sizeof(*k));
    struct store_meta m;

    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(c->id, "cust-1");
    buf = pack(c, meta, &len);
    ck_assert_int_eq(buf[0], 'L');
    ck_assert_int_eq(buf[1], PACKED_LAYOUT);
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);
    same_meta(meta, &m);
    canonical(c, k);
    /* List by list (a failure says which), then every byte. */
    SAME_LIST(k, d, days, ndays);
    SAME_LIST(k, d, open, nopen);
    SAME_LIST(k, d, conv, nconv);
    SAME_LIST(k, d, brands, nbrands);
    SAME_LIST(k, d, cats, ncats);
    SAME_LIST(k, d, inc, ninc);
    SAME_LIST(k, d, sig, nsig);
    SAME_LIST(k, d, mkt_ms, nmkt);
    SAME_LIST(k, d, rem_ms, nrem);
    SAME_LIST(k, d, reward_recent_ms, nreward_recent);
    SAME_LIST(k, d, rwd, nrwd);
    SAME_LIST(k, d, seen, nseen);
    SAME_LIST(k, d, paid, npaid);
    ck_assert(memcmp(c->reward_last_ms, d->reward_last_ms, sizeof(c->reward_last_ms)) ==
              0);
    ck_assert(memcmp(c->reward_suppressed, d->reward_suppressed,
                     sizeof(c->reward_suppressed)) == 0);
    ck_assert_msg(memcmp(k, d, sizeof(*k)) == 0, "decoded customer differs");
    /* What the codec makes of it is the same. */
    same_text(c, d);
    /* And it packs to the same bytes. */
    buf2 = pack(d, &m, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_msg(memcmp(buf, buf2, len) == 0, "re-encoded bytes differ");
    free(buf2);
    free(buf);
    free(k);
    free(d);
}

static const struct store_meta meta_typical = {
    .rev = 17,
    .partition = 3,
    .nwm = 3,
    .wm = {{0, 3, 1200}, {1, 3, 877}, {2, 3, 15}},
};

/* fx_build_full's customer (model_fixture.h) plus a reward given and the
 * recent ids the batch would have added, so that every bounded list the packed
 * form stores is in use.  (test_codec.c's diff tests use fx_build_full alone.) */
static void build_full(struct fx *f)
{
    fx_build_full(f);
    if (f->c->nrwd == 0) {
        f->c->rwd[0].id = 0xfeedULL;
        f->c->rwd[0].ts_ms = T0 + 200 * DAY;
        f->c->rwd[0].type = RW_MILESTONE;
        f->c->rwd[0].points = 250;
        f->c->nrwd = 1;
    }
    add_seen(f, 64);
    ck_assert_uint_gt(f->c->ninc, 0);
    ck_assert_uint_gt(f->c->nreward_recent, 0);
    ck_assert_uint_gt(f->c->nrwd, 0);
    ck_assert_uint_gt(f->c->nseen, 1);
}

/* ---- round trips ---------------------------------------------------------- */

START_TEST(test_pack_roundtrip_full)
{
    struct fx f;

    fx_init(&f, "cust-1");
    build_full(&f);
    pack_roundtrip(f.c, &meta_typical);
    fx_free(&f);
}
END_TEST

START_TEST(test_pack_roundtrip_random)
{
    unsigned s = 4242u + (unsigned)_i * 104729u;
    struct fx f;
    struct store_meta meta = {0};
    int64_t ts = T0;
    int n = 1 + (int)(fx_rnd(&s) % 150);

    fx_init(&f, "cust-1");
    pack_roundtrip(f.c, &meta); /* a new customer: every list empty */
    for (int i = 0; i < n; i++) {
        ts += (int64_t)(fx_rnd(&s) % 10) * DAY / 3 - (fx_rnd(&s) % 5 == 0 ? DAY : 0);
        fx_random_event(&f, &s, ts, i);
    }
    model_sweep(f.c, ts + 30 * DAY, &f.m, &f.out);
    add_seen(&f, 1 + fx_rnd(&s) % CU_SEEN_MAX);
    meta.rev = n;
    meta.partition = (int32_t)(fx_rnd(&s) % 4) - 1;
    pack_roundtrip(f.c, &meta);
    fx_free(&f);
}
END_TEST

/* The recent-id set: its count and every id, for a few ids and for a full
 * set, and cu_seen_has answers the same after decoding. */
START_TEST(test_seen_roundtrip)
{
    static const uint32_t counts[] = {0, 1, 3, CU_SEEN_MAX - 1, CU_SEEN_MAX};
    uint64_t s = 77;

    for (size_t t = 0; t < sizeof(counts) / sizeof(counts[0]); t++) {
        struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
        struct store_meta meta = {0}, m;
        unsigned char *buf;
        size_t len;

        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_nonnull(d);
        customer_init(c, "cust-1");
        for (uint32_t i = 0; i < counts[t]; i++) {
            cu_seen_add(c, i == 0 ? 0 : i == 1 ? UINT64_MAX : rnd64(&s), CU_SEEN_MAX);
        }
        ck_assert_uint_eq(c->nseen, counts[t]);
        buf = pack(c, &meta, &len);
        ck_assert_int_eq(unpack(buf, len, d, &m), 0);
        ck_assert_uint_eq(d->nseen, counts[t]);
        for (uint32_t i = 0; i < counts[t]; i++) {
            ck_assert_msg(d->seen[i] == c->seen[i], "id %u differs", i);
            ck_assert(cu_seen_has(d, c->seen[i]));
        }
        ck_assert_int_eq(cu_seen_has(d, 0x5eedULL), cu_seen_has(c, 0x5eedULL));
        pack_roundtrip(c, &meta);
        free(buf);
        free(c);
        free(d);
    }
}
END_TEST

/* ---- random customers: every field random within its type ----------------- */

/* A value of `bits` random low bits (0..64), often 0, sometimes negated:
 * every varint length occurs. */
static uint64_t r_bits(uint64_t *s)
{
    unsigned bits = below(s, 65);
    uint64_t v = rnd64(s);

    if (below(s, 4) == 0) {
        return 0;
    }
    if (bits < 64) {
        v &= (UINT64_C(1) << bits) - 1;
    }
    return below(s, 2) ? ~v : v; /* ~v: a small negative number */
}

static int64_t r_i64(uint64_t *s)
{
    return (int64_t)r_bits(s);
}

/* A day the decoder takes: within PACKED_DAY_LIMIT of the epoch. */
static int32_t r_day(uint64_t *s)
{
    return (int32_t)(r_bits(s) % (2u * (uint64_t)PACKED_DAY_LIMIT + 1)) -
           PACKED_DAY_LIMIT;
}

/* An instant the decoder takes: within PACKED_TIME_LIMIT of the epoch. */
static int64_t r_time(uint64_t *s)
{
    return r_i64(s) / 1024;
}

static int32_t r_i32(uint64_t *s)
{
    return (int32_t)(uint32_t)r_bits(s);
}

static uint32_t r_u32(uint64_t *s)
{
    return (uint32_t)r_bits(s);
}

static uint64_t r_h64(uint64_t *s)
{
    return below(s, 8) == 0 ? 0 : rnd64(s);
}

/* Any double: random bits (NaNs, infinities, subnormals, -0 among them),
 * a decimal, or 0. */
static double r_dbl(uint64_t *s)
{
    uint64_t u = rnd64(s);
    double d;

    switch (below(s, 4)) {
    case 0:
        return 0;
    case 1:
        return (double)(int64_t)(u % 2000001) / 1000.0 - 1000.0;
    default:
        memcpy(&d, &u, sizeof(d));
        return d;
    }
}

/* A name of 0..CU_NAME_MAX bytes, any byte but NUL. */
static void r_name(uint64_t *s, char *name)
{
    uint32_t len = below(s, 3) == 0 ? CU_NAME_MAX : below(s, CU_NAME_MAX + 1);

    for (uint32_t i = 0; i < len; i++) {
        name[i] = (char)(1 + below(s, 255));
    }
    name[len] = '\0';
}

static uint32_t r_count(uint64_t *s, uint32_t max)
{
    switch (below(s, 4)) {
    case 0:
        return 0;
    case 1:
        return max;
    default:
        return below(s, max + 1);
    }
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Every field of struct customer (state/model/customer.h, in its order) random, in
 * zeroed memory, so that padding and unused slots are zero as after
 * packed_decode.  spend_cents and refund_cents stay within +-2^62: the codec
 * prints their difference (net_spend), which must not overflow.  The classes,
 * signal kinds and reward types are values of their enums, as packed_decode
 * requires. */
static void random_customer(uint64_t *s, struct customer *c)
{
    uint32_t ncur = below(s, 4);

    memset(c, 0, sizeof(*c));
    strcpy(c->id, "cust-1");
    for (uint32_t i = 0; i < ncur; i++) {
        c->currency[i] = (char)(1 + below(s, 255));
    }
    c->as_of_ms = r_time(s);
    c->orders = r_i64(s);
    c->orders_cancelled = r_i64(s);
    c->cancelled_unknown = r_i64(s);
    c->orders_returned = r_i64(s);
    c->orders_shipped = r_i64(s);
    c->orders_delivered = r_i64(s);
    c->spend_cents = r_i64(s) / 2;
    c->refund_cents = r_i64(s) / 2;
    c->discount_cents = r_i64(s);
    c->discounted_orders = r_i64(s);
    c->depth_ppm_sum = r_i64(s);
    c->markdown_cents = r_i64(s);
    c->margin_cents = r_i64(s);
    c->costed_orders = r_i64(s);
    c->fast_ship_orders = r_i64(s);
    c->purchase_days = r_i64(s);
    c->first_day = r_day(s);
    c->last_day = r_day(s);
    c->prev_day = r_day(s);
    c->first_day_cents = r_i64(s);
    c->ratings = r_i64(s);
    c->rating_sum = r_i64(s);
    c->ratings_low = r_i64(s);
    c->ratings_high = r_i64(s);
    c->reviews_shared = r_i64(s);
    c->rating_last = r_i32(s);
    for (size_t i = 0; i < NELEM(c->msgs); i++) {
        c->msgs[i] = r_i64(s);
    }
    c->competitor_mentions = r_i64(s);
    for (size_t i = 0; i < NELEM(c->complaints); i++) {
        c->complaints[i] = r_i64(s);
    }
    c->resolved_n = r_i64(s);
    c->resolve_sum_min = r_i64(s);
    c->att_as_of_ms = r_time(s);
    for (size_t i = 0; i < NELEM(c->att); i++) {
        c->att[i] = r_dbl(s);
    }
    c->msg_as_of_ms = r_time(s);
    c->choose_n = r_i64(s);
    c->choose_sum_min = r_i64(s);
    c->incidents = r_i64(s);
    c->incidents_tolerated = r_i64(s);
    c->incidents_lost = r_i64(s);
    c->signals_total = r_i64(s);

    c->ndays = r_count(s, CU_DAYS_MAX);
    for (uint32_t i = 0; i < c->ndays; i++) {
        c->days[i].day = r_day(s);
        c->days[i].orders = r_i32(s);
        c->days[i].spend_cents = r_i64(s);
        c->days[i].refund_cents = r_i64(s);
        c->days[i].margin_cents = r_i64(s);
        c->days[i].costed = r_i32(s);
    }
    c->nopen = r_count(s, CU_OPEN_MAX);
    for (uint32_t i = 0; i < c->nopen; i++) {
        c->open[i].oid = r_h64(s);
        c->open[i].day = r_day(s);
        c->open[i].flags = r_u32(s);
        c->open[i].amount_cents = r_i64(s);
        c->open[i].disc_cents = r_i64(s);
        c->open[i].mark_cents = r_i64(s);
        c->open[i].depth_ppm = r_i64(s);
        c->open[i].margin_cents = below(s, 4) == 0 ? INT64_MIN : r_i64(s);
        c->open[i].ship_by_ms = r_time(s);
        c->open[i].deliver_by_ms = r_time(s);
    }
    c->nconv = r_count(s, CU_CONV_MAX);
    for (uint32_t i = 0; i < c->nconv; i++) {
        c->conv[i].cid = r_h64(s);
        c->conv[i].inquiry_ms = r_time(s);
        c->conv[i].order_ms = r_time(s);
        c->conv[i].pending_ms = r_time(s);
        c->conv[i].last_ms = r_time(s);
        c->conv[i].choose_min = r_i64(s);
        c->conv[i].opened_ms = r_time(s);
        c->conv[i].flags = r_u32(s);
        c->conv[i].category = r_u32(s);
    }
    c->nbrands = r_count(s, CU_BRAND_MAX);
    for (uint32_t i = 0; i < c->nbrands; i++) {
        c->brands[i].cat = (uint32_t)r_h64(s);
        c->brands[i].count = r_u32(s);
        c->brands[i].last_day = r_day(s);
        r_name(s, c->brands[i].name);
    }
    c->ncats = r_count(s, CU_CAT_MAX);
    for (uint32_t i = 0; i < c->ncats; i++) {
        r_name(s, c->cats[i].name);
        c->cats[i].items = r_u32(s);
        c->cats[i].nseq = r_count(s, CU_SEQ_MAX);
        for (uint32_t j = 0; j < c->cats[i].nseq; j++) {
            c->cats[i].seq[j] = (uint32_t)r_h64(s);
        }
    }
    c->ninc = r_count(s, CU_INC_MAX);
    for (uint32_t i = 0; i < c->ninc; i++) {
        c->inc[i].ts_ms = r_time(s);
    }
    c->nsig = r_count(s, CU_SIG_MAX);
    for (uint32_t i = 0; i < c->nsig; i++) {
        c->sig[i].ts_ms = r_time(s);
        c->sig[i].ref = r_h64(s);
        c->sig[i].kind = below(s, SIG__COUNT);
        c->sig[i].conv = r_h64(s);
    }
    c->nmkt = r_count(s, CU_MKT_MAX);
    for (uint32_t i = 0; i < c->nmkt; i++) {
        c->mkt_ms[i] = r_time(s);
    }
    c->nrem = r_count(s, CU_REM_MAX);
    for (uint32_t i = 0; i < c->nrem; i++) {
        c->rem_ms[i] = r_time(s);
    }
    for (size_t i = 0; i < NELEM(c->reward_last_ms); i++) {
        c->reward_last_ms[i] = r_time(s);
        c->reward_suppressed[i] = r_i64(s);
        c->reward_issued[i] = r_i64(s);
        c->reward_redeemed[i] = r_i64(s);
    }
    c->nreward_recent = r_count(s, CU_RWD_RECENT);
    for (uint32_t i = 0; i < c->nreward_recent; i++) {
        c->reward_recent_ms[i] = r_time(s);
    }
    c->nrwd = r_count(s, CU_RWD_KEEP);
    for (uint32_t i = 0; i < c->nrwd; i++) {
        c->rwd[i].id = r_h64(s);
        c->rwd[i].ts_ms = r_time(s);
        c->rwd[i].type = below(s, RW__COUNT);
        c->rwd[i].flags = r_u32(s);
        c->rwd[i].points = r_i64(s);
    }
    c->nseen = r_count(s, CU_SEEN_MAX);
    for (uint32_t i = 0; i < c->nseen; i++) {
        c->seen[i] = r_h64(s);
    }
    c->npaid = r_count(s, CU_PAID_MAX);
    for (uint32_t i = 0; i < c->npaid; i++) {
        struct cu_paid *o = &c->paid[i];
        int64_t cents;

        o->oid = r_u32(s);
        o->day = r_day(s);
        o->flags = r_u32(s);
        for (int k = 0; k < 3; k++) {
            o->currency[k] = (char)('A' + below(s, 26));
        }
        o->exponent = below(s, CURRENCY_EXPONENT_MAX + 1);
        o->rate.num = 1 + rnd64(s) % 999999999999999ULL;
        o->rate.den = 1 + rnd64(s) % 999999999999999ULL;
        o->rate.pow10 = (int)below(s, 2 * FX_RATE_SCALE_MAX + 1) - FX_RATE_SCALE_MAX;
        /* an amount its rate converts (the decoder refuses one it does not) */
        for (o->amount_minor = r_i64(s); cu_paid_cents(o, &cents) < 0;) {
            o->amount_minor /= 1000;
        }
    }

    c->orders_30d = r_i64(s);
    c->orders_90d = r_i64(s);
    c->orders_365d = r_i64(s);
    c->spend_365d = r_dbl(s);
    c->margin_365d = r_dbl(s);
    c->costed_365d = r_i64(s);
    c->aov = r_dbl(s);
    for (size_t i = 0; i < NELEM(c->contrib); i++) {
        c->contrib[i] = r_i32(s);
    }
    c->loyalty_score = r_dbl(s);
    c->brand_type = (enum brand_type)below(s, BT__COUNT);
    c->brand_share = r_dbl(s);
    c->main_cat = r_i32(s);
    c->segment = (enum segment)below(s, SEG__COUNT);
    c->tier = (enum tier)below(s, TIER__COUNT);
    c->tier_grace_until_ms = r_time(s);
    c->milestone = r_i32(s);
    c->p_alive = r_dbl(s);
    c->exp_purchases = r_dbl(s);
    c->exp_value = r_dbl(s);
    c->clv = r_dbl(s);
    c->churn_risk = r_dbl(s);
    c->risk_armed = r_i32(s);
    c->churn_seq = r_i64(s);
    c->rewards_sent = r_i64(s);
    c->rewards_redeemed = r_i64(s);
    c->redeemed_unknown = r_i64(s);
    c->points_balance = r_i64(s);
    c->attitude = r_dbl(s);
    c->loyalty_type = (enum loyalty_type)below(s, LT__COUNT);
    c->segment_seq = r_i64(s);
    c->model_version = r_i64(s);
}

static void random_meta(uint64_t *s, struct store_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->rev = r_i64(s);
    m->partition = below(s, 3) == 0 ? -1 : r_i32(s);
    m->nwm = r_count(s, STORE_WM_MAX);
    for (size_t i = 0; i < m->nwm; i++) {
        m->wm[i].source = r_i32(s);
        m->wm[i].partition = r_i32(s);
        m->wm[i].offset = r_i64(s);
    }
}

/* x = packed_encode(random c): packed_decode(x) is c field for field, and
 * packed_encode(packed_decode(x)) is x byte for byte, with the same codec
 * text. */
START_TEST(test_property_random_customers)
{
    uint64_t s = 0x1234567u + (uint64_t)_i * 7919u;
    struct customer *c = malloc(sizeof(*c));
    struct store_meta meta;

    ck_assert_ptr_nonnull(c);
    random_customer(&s, c);
    random_meta(&s, &meta);
    pack_roundtrip(c, &meta);
    free(c);
}
END_TEST

/* The same with every list at its bound. */
START_TEST(test_property_full_lists)
{
    uint64_t s = 99u + (uint64_t)_i;
    struct customer *c = malloc(sizeof(*c));
    struct store_meta meta;

    ck_assert_ptr_nonnull(c);
    random_customer(&s, c);
    random_meta(&s, &meta);
    while (c->ndays < CU_DAYS_MAX) {
        c->days[c->ndays++].day = r_day(&s);
    }
    while (c->nseen < CU_SEEN_MAX) {
        c->seen[c->nseen++] = rnd64(&s);
    }
    meta.nwm = STORE_WM_MAX;
    pack_roundtrip(c, &meta);
    free(c);
}
END_TEST

/* Instants up to PACKED_TIME_LIMIT either side of the epoch round-trip,
 * whatever the base; one beyond it, in any field, is refused as damage. */
START_TEST(test_extreme_times)
{
    static const int64_t v[] = {-PACKED_TIME_LIMIT,    -PACKED_TIME_LIMIT + 1, -1, 1,
                                PACKED_TIME_LIMIT - 1, PACKED_TIME_LIMIT};
    static const int64_t beyond[] = {INT64_MIN, -PACKED_TIME_LIMIT - 1,
                                     PACKED_TIME_LIMIT + 1, INT64_MAX};
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta meta = {0};

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < NELEM(v); i++) {
        for (size_t j = 0; j < NELEM(v); j++) {
            customer_init(c, "cust-1");
            c->as_of_ms = v[i];
            c->att_as_of_ms = v[j];
            c->msg_as_of_ms = -v[j];
            c->tier_grace_until_ms = v[j];
            c->first_day = (int32_t)(v[j] >> 32);
            c->last_day = -PACKED_DAY_LIMIT;
            c->prev_day = PACKED_DAY_LIMIT;
            c->mkt_ms[c->nmkt++] = v[j];
            pack_roundtrip(c, &meta);
        }
    }
    for (size_t i = 0; i < NELEM(beyond); i++) {
        for (int field = 0; field < 3; field++) {
            customer_init(c, "cust-1");
            c->as_of_ms = 1000;
            *(field == 0   ? &c->as_of_ms
              : field == 1 ? &c->tier_grace_until_ms
                           : &c->mkt_ms[c->nmkt++]) = beyond[i];
            ck_assert_msg(repack(c, d) == -1, "beyond %zu field %d", i, field);
        }
    }
    free(d);
    free(c);
}
END_TEST

/* ---- the store's meta ----------------------------------------------------- */

START_TEST(test_meta_roundtrip)
{
    static const int64_t revs[] = {0, 1, 2, 127, 128, 1000000, INT64_MAX, -1, INT64_MIN};
    static const int32_t parts[] = {-1, 0, 1, 63, 64, 1023, INT32_MAX};
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    customer_init(c, "cust-1");
    for (size_t r = 0; r < NELEM(revs); r++) {
        for (size_t p = 0; p < NELEM(parts); p++) {
            for (size_t n = 0; n <= STORE_WM_MAX; n++) {
                struct store_meta meta = {0}, m;
                unsigned char *buf;
                size_t len;

                meta.exists = 1;
                meta.layout = PACKED_LAYOUT;
                meta.rev = revs[r];
                meta.partition = parts[p];
                meta.nwm = n;
                for (size_t i = 0; i < n; i++) {
                    meta.wm[i].source = (int)(i % 3);
                    meta.wm[i].partition = i < 3 ? parts[p] : (int32_t)i;
                    meta.wm[i].offset = i == 0   ? -1
                                        : i == 1 ? INT64_MAX
                                                 : (int64_t)i * 99991;
                }
                buf = pack(c, &meta, &len);
                ck_assert_int_eq(unpack(buf, len, d, &m), 0);
                same_meta(&meta, &m);
                free(buf);
            }
        }
    }
    /* In a customer with every list in use too. */
    {
        struct fx f;
        struct store_meta meta = meta_typical;

        fx_init(&f, "cust-1");
        build_full(&f);
        meta.partition = -1;
        pack_roundtrip(f.c, &meta);
        meta.partition = 0;
        meta.nwm = STORE_WM_MAX;
        pack_roundtrip(f.c, &meta);
        fx_free(&f);
    }
    free(c);
    free(d);
}
END_TEST

/* A watermark count over STORE_WM_MAX is refused, even with the bytes of
 * that many watermarks there (they would overrun meta->wm). */
START_TEST(test_meta_too_many_watermarks)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta meta = {0}, m;
    unsigned char *buf, *big;
    size_t len;
    const size_t at = 4;   /* 'L', layout, rev 0, partition 0: then the count */
    const size_t each = 3; /* source 1, partition 0, offset 5: a byte each */

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    customer_init(c, "cust-1");
    meta.nwm = STORE_WM_MAX;
    for (size_t i = 0; i < STORE_WM_MAX; i++) {
        meta.wm[i].source = 1;
        meta.wm[i].offset = 5;
    }
    buf = pack(c, &meta, &len);
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);
    ck_assert_uint_eq(m.nwm, STORE_WM_MAX);
    ck_assert_int_eq(buf[at], STORE_WM_MAX);
    ck_assert_int_eq(buf[at + 1], 1);
    ck_assert_int_eq(buf[at + 2], 0);
    ck_assert_int_eq(buf[at + 3], 10); /* zigzag 5 */

    /* One watermark more, its bytes spliced in after the last. */
    big = malloc(len + each);
    ck_assert_ptr_nonnull(big);
    memcpy(big, buf, at + 1 + STORE_WM_MAX * each);
    memcpy(big + at + 1 + STORE_WM_MAX * each, buf + at + 1, each);
    memcpy(big + at + 1 + (STORE_WM_MAX + 1) * each, buf + at + 1 + STORE_WM_MAX * each,
           len - (at + 1 + STORE_WM_MAX * each));
    big[at] = STORE_WM_MAX + 1;
    ck_assert_int_eq(unpack(big, len + each, d, &m), -1);
    big[at] = STORE_WM_MAX; /* the splice itself is sound: now a byte too many */
    ck_assert_int_eq(unpack(big, len + each, d, &m), -1);

    /* A count far out of range (a 10-byte varint). */
    free(big);
    big = malloc(len + 9);
    ck_assert_ptr_nonnull(big);
    memcpy(big, buf, at);
    memset(big + at, 0xff, 9);
    big[at + 9] = 0x01;
    memcpy(big + at + 10, buf + at + 1, len - at - 1);
    ck_assert_int_eq(unpack(big, len + 9, d, &m), -1);
    free(big);
    free(buf);
    free(c);
    free(d);
}
END_TEST

/* ---- measuring and refusing ----------------------------------------------- */

/* Too small a buffer: the size is reported and nothing is written. */
START_TEST(test_pack_measures)
{
    struct fx f;
    size_t len;
    unsigned char *buf, *ref;

    fx_init(&f, "cust-1");
    build_full(&f);
    len = packed_encode(f.c, &meta_typical, NULL, 0);
    ck_assert_uint_gt(len, 2);
    ck_assert_uint_eq(packed_encode(f.c, &meta_typical, NULL, len + 100), len);
    ref = pack(f.c, &meta_typical, &len);
    buf = malloc(len + 1);
    ck_assert_ptr_nonnull(buf);
    for (size_t cap = 0; cap < len; cap += 1 + cap / 4) {
        memset(buf, 0x5a, len + 1);
        ck_assert_uint_eq(packed_encode(f.c, &meta_typical, buf, cap), len);
        ck_assert_msg(first_not(buf, 0, len + 1, 0x5a) == len + 1,
                      "cap %zu of %zu: byte %zu written", cap, len,
                      first_not(buf, 0, len + 1, 0x5a));
    }
    memset(buf, 0x5a, len + 1);
    ck_assert_uint_eq(packed_encode(f.c, &meta_typical, buf, len - 1), len);
    ck_assert_uint_eq(first_not(buf, 0, len + 1, 0x5a), len + 1);
    /* Room enough: exactly len bytes written, those of packed_new. */
    ck_assert_uint_eq(packed_encode(f.c, &meta_typical, buf, len + 1), len);
    ck_assert_int_eq(memcmp(buf, ref, len), 0);
    ck_assert_int_eq(buf[len], 0x5a);
    ck_assert_int_eq(buf[0], 'L');
    ck_assert_int_eq(buf[1], PACKED_LAYOUT);
    free(buf);
    free(ref);
    fx_free(&f);
}
END_TEST

/* A customer with every field set and every list at its bound (bytes of
 * 0x5a throughout) packs past packed_new's scratch buffer, which then
 * encodes it again into its own: the bytes are packed_encode's. */
START_TEST(test_pack_largest)
{
    struct customer *c = malloc(sizeof(*c));
    unsigned char *ref, *buf;
    size_t len, need;

    ck_assert_ptr_nonnull(c);
    memset(c, 0x5a, sizeof(*c));
    buf = packed_new(c, &meta_typical, &len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_gt(len, 4096);
    need = packed_encode(c, &meta_typical, NULL, 0);
    ck_assert_uint_eq(need, len);
    ref = malloc(need);
    ck_assert_ptr_nonnull(ref);
    ck_assert_uint_eq(packed_encode(c, &meta_typical, ref, need), need);
    ck_assert_int_eq(memcmp(buf, ref, len), 0);
    free(ref);
    free(buf);
    free(c);
}
END_TEST

START_TEST(test_unpack_rejects)
{
    struct fx f;
    struct customer *d = malloc(sizeof(*d));
    struct store_meta m;
    size_t len;
    unsigned char *buf, *big;

    ck_assert_ptr_nonnull(d);
    fx_init(&f, "cust-1");
    build_full(&f);
    buf = pack(f.c, &meta_typical, &len);
    big = calloc(1, len + 1);
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);

    /* Truncated anywhere: in the header, the meta, the scalars, a list. */
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_msg(unpack(buf, cut, d, &m) == -1, "accepted %zu of %zu bytes", cut,
                      len);
    }
    ck_assert_int_eq(packed_decode(NULL, 0, "cust-1", d, &m, NULL, 0), -1);
    /* A byte too many, whatever it is. */
    memcpy(big, buf, len);
    ck_assert_int_eq(unpack(big, len + 1, d, &m), -1);
    big[len] = 0x80;
    ck_assert_int_eq(unpack(big, len + 1, d, &m), -1);
    big[len] = 0x01;
    ck_assert_int_eq(unpack(big, len + 1, d, &m), -1);

    /* A bad magic, a layout this build does not read. */
    big[0] = 'l';
    ck_assert_int_eq(unpack(big, len, d, &m), -1);
    big[0] = 'L';
    ck_assert_int_eq(unpack(big, len, d, &m), 0);
    for (int layout = 0; layout < 256; layout++) {
        big[1] = (unsigned char)layout;
        /* 3 is read too; this customer has none of what layout 4 added
         * (one byte less), so with that byte it is refused */
        ck_assert_int_eq(unpack(big, len, d, &m), layout == PACKED_LAYOUT ? 0 : -1);
    }

    free(big);
    free(buf);
    free(d);
    fx_free(&f);
}
END_TEST

/* Where the lists start in the packing of an all-zero customer with a zero
 * meta: 'L', layout, rev, partition, no watermarks, a bitmap with no bit
 * set, then one count (0) per list, in the order of packed.c's table. */
enum {
    LI_DAYS,
    LI_OPEN,
    LI_CONV,
    LI_BRANDS,
    LI_CATS,
    LI_INC,
    LI_SIG,
    LI_MKT,
    LI_REM,
    LI_REWARD_RECENT,
    LI_RWD,
    LI_SEEN,
    LI_PAID,
    LI__COUNT
};

static const uint32_t list_max[LI__COUNT] = {
    CU_DAYS_MAX, CU_OPEN_MAX, CU_CONV_MAX, CU_BRAND_MAX, CU_CAT_MAX,
    CU_INC_MAX,  CU_SIG_MAX,  CU_MKT_MAX,  CU_REM_MAX,   CU_RWD_RECENT,
    CU_RWD_KEEP, CU_SEEN_MAX, CU_PAID_MAX,
};

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* The packing of a zeroed customer: *lists is where the counts start. */
static unsigned char *pack_zero(struct customer *c, size_t *len, size_t *lists)
{
    struct store_meta meta = {0};
    unsigned char *buf;

    memset(c, 0, sizeof(*c));
    strcpy(c->id, "cust-1");
    buf = pack(c, &meta, len);
    ck_assert_uint_gt(*len, 5 + LI__COUNT);
    *lists = *len - LI__COUNT;
    ck_assert_uint_eq(first_not(buf, 2, *len, 0), *len);
    return buf;
}

/* A list count over its bound is refused, in every list; so is a count that
 * claims more entries than there are bytes for. */
START_TEST(test_unpack_rejects_counts)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta m;
    size_t len, lists;
    unsigned char *zero, *buf;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    zero = pack_zero(c, &len, &lists);
    buf = malloc(len + 16);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(unpack(zero, len, d, &m), 0);
    for (int li = 0; li < LI__COUNT; li++) {
        static const uint64_t over[] = {1,         2, 1000, UINT32_MAX, UINT32_MAX + 1ULL,
                                        UINT64_MAX};

        for (size_t k = 0; k < NELEM(over); k++) {
            uint64_t n = list_max[li] + over[k];
            size_t w;

            if (over[k] == UINT64_MAX) {
                n = UINT64_MAX;
            }
            memcpy(buf, zero, lists + (size_t)li);
            w = put_varint(buf + lists + li, n);
            memcpy(buf + lists + li + w, zero + lists + li + 1,
                   LI__COUNT - (size_t)li - 1);
            ck_assert_msg(unpack(buf, len - 1 + w, d, &m) == -1,
                          "list %d: count %llu accepted", li, (unsigned long long)n);
        }
        /* One entry claimed, none there: the lists after it run short. */
        memcpy(buf, zero, len);
        buf[lists + li] = 1;
        ck_assert_msg(unpack(buf, len, d, &m) == -1, "list %d: missing entry accepted",
                      li);
    }
    free(buf);
    free(zero);
    free(c);
    free(d);
}
END_TEST

/* A count past its list's capacity is refused even when the bytes for that
 * many entries are there (it would overrun the array). */
START_TEST(test_unpack_rejects_overfull_list)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta meta = {0}, m;
    size_t len, zlen, lists, one;
    unsigned char *buf, *zero, *big;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    zero = pack_zero(c, &zlen, &lists);
    /* Every day the same (relative to as_of 0): each entry packs alike. */
    for (uint32_t i = 0; i < CU_DAYS_MAX; i++) {
        c->days[i].day = 5;
        c->days[i].orders = 1;
        c->days[i].spend_cents = 100;
    }
    c->ndays = CU_DAYS_MAX;
    buf = pack(c, &meta, &len);
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);
    ck_assert_uint_eq(d->ndays, CU_DAYS_MAX);
    ck_assert_int_eq(d->days[CU_DAYS_MAX - 1].day, 5);
    ck_assert_int_eq(memcmp(buf, zero, lists), 0);
    /* The count: 366 is two bytes; each entry (len - zlen - 1) / 366 bytes. */
    ck_assert_int_eq(buf[lists], (CU_DAYS_MAX & 0x7f) | 0x80);
    ck_assert_int_eq(buf[lists + 1], CU_DAYS_MAX >> 7);
    ck_assert_uint_eq((len - zlen - 1) % CU_DAYS_MAX, 0);
    one = (len - zlen - 1) / CU_DAYS_MAX;
    /* One more entry spliced in after the last, and the count raised. */
    big = malloc(len + one);
    ck_assert_ptr_nonnull(big);
    memcpy(big, buf, lists + 2 + CU_DAYS_MAX * one);
    memcpy(big + lists + 2 + CU_DAYS_MAX * one, buf + lists + 2, one);
    memcpy(big + lists + 2 + (CU_DAYS_MAX + 1) * one, buf + lists + 2 + CU_DAYS_MAX * one,
           len - (lists + 2 + CU_DAYS_MAX * one));
    big[lists] = (unsigned char)(((CU_DAYS_MAX + 1) & 0x7f) | 0x80);
    ck_assert_int_eq(unpack(big, len + one, d, &m), -1);
    big[lists] = (unsigned char)((CU_DAYS_MAX & 0x7f) | 0x80);
    ck_assert_int_eq(unpack(big, len + one, d, &m), -1); /* trailing bytes */
    free(big);
    free(buf);
    free(zero);
    free(c);
    free(d);
}
END_TEST

/* In one category: a name longer than CU_NAME_MAX or with a NUL inside, more
 * brands in its sequence than CU_SEQ_MAX; each with the bytes there. */
START_TEST(test_unpack_rejects_name_and_seq)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta meta = {0}, m;
    size_t len, zlen, lists, at;
    unsigned char *zero, *buf, *big;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    zero = pack_zero(c, &zlen, &lists);
    free(zero);
    /* One category "" with no items and no sequence: count 1, name length
     * 0, items 0, nseq 0. */
    c->ncats = 1;
    buf = pack(c, &meta, &len);
    at = lists + LI_CATS;
    ck_assert_uint_eq(len, zlen + 3);
    ck_assert_int_eq(buf[at], 1);
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);
    ck_assert_uint_eq(d->ncats, 1);
    big = calloc(1, len + 256);
    ck_assert_ptr_nonnull(big);

    /* A name of CU_NAME_MAX + 1 bytes ('x'), and of exactly CU_NAME_MAX. */
    for (int extra = 1; extra >= 0; extra--) {
        size_t n = CU_NAME_MAX + (size_t)extra;

        memcpy(big, buf, at + 1);
        big[at + 1] = (unsigned char)n;
        memset(big + at + 2, 'x', n);
        memcpy(big + at + 2 + n, buf + at + 2, len - at - 2);
        ck_assert_int_eq(unpack(big, len + n, d, &m), extra ? -1 : 0);
    }
    ck_assert_uint_eq(strlen(d->cats[0].name), CU_NAME_MAX);

    /* A name with a NUL inside ("ab\0cd"): the encoder writes names up to
     * their NUL, so it would not encode back to the same customer. */
    memcpy(big, buf, at + 1);
    big[at + 1] = 5;
    memcpy(big + at + 2, "ab\0cd", 5);
    memcpy(big + at + 7, buf + at + 2, len - at - 2);
    ck_assert_int_eq(unpack(big, len + 5, d, &m), -1);
    big[at + 4] = 'x';
    ck_assert_int_eq(unpack(big, len + 5, d, &m), 0);
    ck_assert_str_eq(d->cats[0].name, "abxcd");

    /* A sequence of CU_SEQ_MAX + 1 brands (4 bytes each), and of exactly
     * CU_SEQ_MAX. */
    for (int extra = 1; extra >= 0; extra--) {
        size_t n = CU_SEQ_MAX + (size_t)extra;

        memcpy(big, buf, at + 3);
        big[at + 3] = (unsigned char)n;
        memset(big + at + 4, 0xab, 4 * n);
        memcpy(big + at + 4 + 4 * n, buf + at + 4, len - at - 4);
        ck_assert_int_eq(unpack(big, len + 4 * n, d, &m), extra ? -1 : 0);
    }
    ck_assert_uint_eq(d->cats[0].nseq, CU_SEQ_MAX);
    ck_assert_uint_eq(d->cats[0].seq[CU_SEQ_MAX - 1], 0xababababu);
    free(big);
    free(buf);
    free(c);
    free(d);
}
END_TEST

/* A day whose offset from as_of's day leaves int32_t (here INT64_MIN days)
 * is refused, not computed with an overflow. */
START_TEST(test_unpack_rejects_day_out_of_range)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta meta = {0}, m;
    size_t len, zlen, lists, at;
    unsigned char *zero, *buf, *big;
    static const uint64_t bad[] = {UINT64_MAX, UINT64_MAX - 1, (uint64_t)1 << 33,
                                   ((uint64_t)1 << 33) + 1};

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    zero = pack_zero(c, &zlen, &lists);
    free(zero);
    c->first_day = -3; /* the only scalar set: its value is the byte before the lists */
    buf = pack(c, &meta, &len);
    ck_assert_uint_eq(len, zlen + 1);
    at = lists;
    ck_assert_int_eq(buf[at], 6); /* zigzag(0 - -3) */
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);
    ck_assert_int_eq(d->first_day, -3);
    big = malloc(len + 16);
    ck_assert_ptr_nonnull(big);
    for (size_t k = 0; k < NELEM(bad); k++) {
        size_t w;

        memcpy(big, buf, at);
        w = put_varint(big + at, bad[k]);
        memcpy(big + at + w, buf + at + 1, len - at - 1);
        ck_assert_msg(unpack(big, len - 1 + w, d, &m) == -1, "day offset %llx accepted",
                      (unsigned long long)bad[k]);
    }
    /* The ends of the day range are fine, one beyond is not. */
    c->first_day = -PACKED_DAY_LIMIT;
    c->last_day = PACKED_DAY_LIMIT;
    c->as_of_ms = PACKED_TIME_LIMIT;
    pack_roundtrip(c, &meta);
    c->last_day = PACKED_DAY_LIMIT + 1;
    free(buf);
    buf = pack(c, &meta, &len);
    ck_assert_int_eq(unpack(buf, len, d, &m), -1);
    free(big);
    free(buf);
    free(c);
    free(d);
}
END_TEST

/* A signal kind, a reward type or a class that is no value of its enum is
 * refused: the model looks tables up by them. */
START_TEST(test_unpack_rejects_enums)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    for (int k = 0; k < 12; k++) {
        int bad = k % 2; /* the last value of the enum, then one past it */

        customer_init(c, "cust-1");
        c->nsig = 1;
        c->nrwd = 1;
        switch (k / 2) {
        case 0:
            c->sig[0].kind = SIG__COUNT - 1 + (uint32_t)bad;
            break;
        case 1:
            c->rwd[0].type = RW__COUNT - 1 + (uint32_t)bad;
            break;
        case 2:
            c->tier = (enum tier)(TIER__COUNT - 1 + bad);
            break;
        case 3:
            c->segment = (enum segment)(SEG__COUNT - 1 + bad);
            break;
        case 4:
            c->brand_type = (enum brand_type)(BT__COUNT - 1 + bad);
            break;
        default:
            c->loyalty_type = (enum loyalty_type)(bad ? -1 : LT__COUNT - 1);
            break;
        }
        ck_assert_msg(repack(c, d) == -bad, "case %d", k);
    }
    free(c);
    free(d);
}
END_TEST

/* An order as paid whose rate or exponent fx_convert refuses (which no
 * conversion recorded) is damage; so is one whose amount its rate cannot
 * convert. */
START_TEST(test_unpack_rejects_paid)
{
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    for (int k = 0; k < 7; k++) {
        struct cu_paid *o = &c->paid[0];

        customer_init(c, "cust-1");
        c->npaid = 1;
        memcpy(o->currency, "JPY", 4);
        o->amount_minor = 4200;
        o->rate = (struct fx_ratio){1, 160, 0};
        switch (k) {
        case 1:
            o->rate.num = 0;
            break;
        case 2:
            o->rate.den = 0;
            break;
        case 3:
            o->rate.pow10 = FX_RATE_SCALE_MAX + 1;
            break;
        case 4:
            o->rate.pow10 = -FX_RATE_SCALE_MAX - 1;
            break;
        case 5:
            o->exponent = CURRENCY_EXPONENT_MAX + 1;
            break;
        case 6:
            o->amount_minor = INT64_MAX;
            o->rate.num = 1000;
            o->rate.den = 1;
            break;
        }
        ck_assert_msg(repack(c, d) == (k ? -1 : 0), "case %d", k);
    }
    free(c);
    free(d);
}
END_TEST

/* Layout 3, the release before, is layout 4 without the orders as paid:
 * read as a customer without them, its layout said; with anything after
 * its last list it is refused. */
START_TEST(test_unpack_layout3)
{
    struct fx f;
    struct customer *d = malloc(sizeof(*d)), *k = malloc(sizeof(*k));
    struct store_meta m;
    size_t len;
    unsigned char *buf;

    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(k);
    fx_init(&f, "cust-1");
    build_full(&f);
    f.c->npaid = 0; /* what layout 3 held */
    memset(f.c->paid, 0, sizeof(f.c->paid));
    buf = pack(f.c, &meta_typical, &len);
    ck_assert_int_eq(buf[1], 4);
    ck_assert_int_eq(buf[len - 1], 0); /* the orders as paid: none */
    buf[1] = 3;
    ck_assert_int_eq(unpack(buf, len - 1, d, &m), 0);
    ck_assert_int_eq(m.layout, 3);
    canonical(f.c, k);
    ck_assert_int_eq(memcmp(k, d, sizeof(*d)), 0);
    ck_assert_int_eq(unpack(buf, len, d, &m), -1);
    buf[1] = 4;
    ck_assert_int_eq(unpack(buf, len - 1, d, &m), -1);
    ck_assert_int_eq(unpack(buf, len, d, &m), 0);
    ck_assert_int_eq(m.layout, 4);
    free(buf);
    free(k);
    free(d);
    fx_free(&f);
}
END_TEST

/* Random damage to a valid packing: refused or decoded, never a crash or a
 * read or write out of bounds (the sanitizer build checks), and what decodes
 * packs again. */
START_TEST(test_unpack_damaged)
{
    uint64_t s = 31337u + (uint64_t)_i;
    struct customer *c = malloc(sizeof(*c)), *d = malloc(sizeof(*d));
    struct store_meta meta, m;
    unsigned char *buf;
    size_t len;

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    random_customer(&s, c);
    random_meta(&s, &meta);
    buf = pack(c, &meta, &len);
    for (int k = 0; k < 200; k++) {
        size_t at = 2 + below(&s, (uint32_t)(len - 2));
        unsigned char was = buf[at];
        size_t cut = below(&s, 4) == 0 ? below(&s, (uint32_t)len + 1) : len;

        buf[at] = (unsigned char)rnd64(&s);
        if (unpack(buf, cut, d, &m) == 0) {
            ck_assert_uint_gt(packed_encode(d, &m, NULL, 0), 2);
            ck_assert_uint_le(d->ndays, CU_DAYS_MAX);
            ck_assert_uint_le(d->nseen, CU_SEEN_MAX);
            ck_assert_uint_le(m.nwm, STORE_WM_MAX);
        }
        if (below(&s, 2)) {
            buf[at] = was;
        }
    }
    free(buf);
    free(c);
    free(d);
}
END_TEST

/* ---- size ------------------------------------------------------------------ */

/* The cache keeps customers packed: a typical one (~5 orders, a review, a
 * few messages) is a small fraction of the struct (whose day buckets alone
 * are CU_DAYS_MAX entries).  Measured: 608 of 22888 bytes. */
START_TEST(test_pack_size_fraction)
{
    struct fx f;
    size_t len;

    fx_init(&f, "customer-000123");
    fx_order_full(&f, "A-1001", T0, 42.5, 0, SHIP_STANDARD, "shoes", "Acme");
    fx_order_event(&f, EV_ORDER_SHIPPED, "A-1001", T0 + DAY);
    fx_order_event(&f, EV_ORDER_DELIVERED, "A-1001", T0 + 3 * DAY);
    fx_message(&f, T0 + 20 * DAY, "conv-77", DIR_INBOUND, MSG_INQUIRY);
    fx_message(&f, T0 + 20 * DAY + HOUR, "conv-77", DIR_OUTBOUND, MSG_REPLY);
    fx_order_full(&f, "A-1002", T0 + 21 * DAY, 19.99, 5, SHIP_STANDARD, "shoes", "Acme");
    fx_order_full(&f, "A-1003", T0 + 60 * DAY, 80, 0, SHIP_EXPEDITED, "socks", "Bolt");
    fx_review(&f, T0 + 65 * DAY, 5, 0);
    fx_message(&f, T0 + 70 * DAY, "mkt-1", DIR_OUTBOUND, MSG_MARKETING);
    fx_order_full(&f, "A-1004", T0 + 120 * DAY, 35, 0, SHIP_STANDARD, "shoes", "Zenith");
    fx_order_full(&f, "A-1005", T0 + 200 * DAY, 55, 0, SHIP_STANDARD, "shoes", "Acme");
    add_seen(&f, 64);
    len = packed_encode(f.c, &meta_typical, NULL, 0);
    ck_assert_msg(len * 20 < sizeof(struct customer), "packed %zu of %zu bytes", len,
                  sizeof(struct customer));
    fx_free(&f);
}
END_TEST

/* Packed sizes of a typical customer, as the fixture builds them (no recent
 * ids: model_apply does not add them, the batch does), with the store's usual
 * meta (three watermarks).  Each recent id then adds exactly 8 bytes. */
static size_t size_with_ids(struct fx *f, size_t len, uint32_t window)
{
    size_t with;

    ck_assert_uint_eq(f->c->nseen, 0);
    add_seen(f, window);
    with = packed_encode(f->c, &meta_typical, NULL, 0);
    ck_assert_uint_gt(f->c->nseen, 0);
    ck_assert_uint_lt(f->c->nseen, 128); /* the count stays one byte */
    ck_assert_uint_eq(with, len + 8 * f->c->nseen);
    return with;
}

/* One order, shipped and delivered.  Measured: 184 bytes (171 without the
 * watermarks, 201 while the order is still open); 208 with the recent ids of
 * its three events. */
START_TEST(test_pack_size_one_order)
{
    struct fx f;
    size_t len;

    fx_init(&f, "customer-000123");
    fx_order_full(&f, "A-1001", T0, 42.5, 0, SHIP_STANDARD, "shoes", "Acme");
    fx_order_event(&f, EV_ORDER_SHIPPED, "A-1001", T0 + DAY);
    fx_order_event(&f, EV_ORDER_DELIVERED, "A-1001", T0 + 3 * DAY);
    len = packed_encode(f.c, &meta_typical, NULL, 0);
    ck_assert_msg(len <= 200, "one-order customer packed to %zu bytes", len);
    size_with_ids(&f, len, 64);
    fx_free(&f);
}
END_TEST

/* A year of a regular customer: 30 orders (every 12 days, shipped and
 * delivered, three brands in two categories), a review of every third
 * order, an inquiry and its reply before every fifth, marketing every other
 * order, then the model evaluated at the year's end (127 events). */
static void build_year(struct fx *f)
{
    static const char *const br[] = {"Acme", "Bolt", "Zenith"};
    char oid[32], conv[32];
    int64_t ts = T0;

    for (int i = 0; i < 30; i++) {
        ts = T0 + (int64_t)i * 12 * DAY + (i % 5) * HOUR;
        snprintf(oid, sizeof(oid), "Y-%04d", i);
        if (i % 5 == 0) {
            snprintf(conv, sizeof(conv), "conv-%d", i);
            fx_message(f, ts - 2 * HOUR, conv, DIR_INBOUND, MSG_INQUIRY);
            fx_message(f, ts - HOUR, conv, DIR_OUTBOUND, MSG_REPLY);
        }
        fx_order_full(f, oid, ts, 20 + (i % 7) * 7.5, i % 4 == 0 ? 3 : 0,
                      i % 6 == 0 ? SHIP_EXPEDITED : SHIP_STANDARD,
                      i % 3 == 0 ? "tea" : "shoes", br[i % 3]);
        fx_order_event(f, EV_ORDER_SHIPPED, oid, ts + DAY);
        fx_order_event(f, EV_ORDER_DELIVERED, oid, ts + 3 * DAY);
        if (i % 3 == 0) {
            fx_review_of(f, ts + 5 * DAY, oid, 4 + (i % 2), i % 9 == 0);
        }
        if (i % 2 == 0) {
            fx_message(f, ts + 6 * DAY, "mkt", DIR_OUTBOUND, MSG_MARKETING);
        }
    }
    fx_sweep(f, T0 + 365 * DAY);
}

/* Measured: 995 bytes (29 day buckets, 6 conversations, 15 marketing times,
 * 10 remembered rewards); 1507 with the recent-id set of the default
 * dedup.window (64 ids, 512 bytes). */
START_TEST(test_pack_size_year)
{
    struct fx f;
    size_t len;

    fx_init(&f, "customer-000123");
    build_year(&f);
    ck_assert_int_eq(f.c->orders, 30);
    ck_assert_int_eq(f.c->ratings, 10);
    ck_assert_int_ge(f.c->msgs[MSG_MARKETING], 15);
    len = packed_encode(f.c, &meta_typical, NULL, 0);
    ck_assert_msg(len <= 1024, "year-long customer packed to %zu bytes", len);
    size_with_ids(&f, len, 64);
    ck_assert_uint_eq(f.c->nseen, 64);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("packed");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pack_roundtrip_full);
    tcase_add_test(tc, test_pack_largest);
    tcase_add_loop_test(tc, test_pack_roundtrip_random, 0, 50);
    tcase_add_test(tc, test_seen_roundtrip);
    tcase_add_loop_test(tc, test_property_random_customers, 0, 300);
    tcase_add_loop_test(tc, test_property_full_lists, 0, 10);
    tcase_add_test(tc, test_extreme_times);
    tcase_add_test(tc, test_meta_roundtrip);
    tcase_add_test(tc, test_meta_too_many_watermarks);
    tcase_add_test(tc, test_pack_measures);
    tcase_add_test(tc, test_unpack_rejects);
    tcase_add_test(tc, test_unpack_rejects_counts);
    tcase_add_test(tc, test_unpack_rejects_overfull_list);
    tcase_add_test(tc, test_unpack_rejects_name_and_seq);
    tcase_add_test(tc, test_unpack_rejects_day_out_of_range);
    tcase_add_test(tc, test_unpack_rejects_enums);
    tcase_add_test(tc, test_unpack_rejects_paid);
    tcase_add_test(tc, test_unpack_layout3);
    tcase_add_loop_test(tc, test_unpack_damaged, 0, 50);
    tcase_add_test(tc, test_pack_size_fraction);
    tcase_add_test(tc, test_pack_size_one_order);
    tcase_add_test(tc, test_pack_size_year);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
