/*
 * codec.c - struct customer <-> Redis hash fields + one auxiliary string.
 *
 * Hash fields: one table (field name, kind, offset) drives both directions.
 * Integers are printed in decimal (Redis' listpack stores them as integers),
 * doubles in the shortest form that reads back to the same double, so
 * decode(encode(c)) is exact.  Money is integer cents (`*_cents`); the
 * rolling figures in currency units (spend_365d, aov) are cents / 100.
 *
 * Aux string (format 1), sections separated by '|', entries by ';', values
 * by ',' (docs/state.md lists every section):
 *   D:day,orders,spend_cents,refund_cents;...      rolling day buckets
 *   O:oid,day,flags,amount,disc,ship_by,deliver_by;...
 *   C:cid,inquiry,order,pending,choose_min,flags;...
 *   B:cat,count,last_day,brand;...   K:category,items,seq.seq.seq;...
 *   I:ts;...  S:ts,ref,kind;...  M:ts;...  P:ts;...
 *   L:last reward times  X:suppressed counts  Q:recent reward times
 *   R:issued counts  U:redeemed counts  W:id,ts,type,flags,points;...
 * Hashes are hex; names are %-escaped.  Empty sections are left out.
 */
#include "state/store/codec.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/decimal.h"
#include "base/numfmt.h"

#define CODEC_FORMAT 1

/* ---- kvlist ------------------------------------------------------------ */

struct kv_chunk {
    struct kv_chunk *next;
    size_t used, size;
    char data[];
};

#define KV_CHUNK_MIN 512

void kvlist_init(struct kvlist *l)
{
    memset(l, 0, sizeof(*l));
}

void kvlist_free(struct kvlist *l)
{
    struct kv_chunk *k = l->chunks, *next;

    for (; k != NULL; k = next) {
        next = k->next;
        free(k);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Room for len bytes in the list's chunks; NULL on ENOMEM. */
static char *kv_room(struct kvlist *l, size_t len)
{
    struct kv_chunk *k = l->chunks;

    if (k == NULL || k->size - k->used < len) {
        /* 512 bytes hold what one commit usually changes; then doubling */
        size_t size = k ? 2 * k->size : KV_CHUNK_MIN;

        if (size < len) {
            size = len;
        }

        if ((k = malloc(sizeof(*k) + size)) == NULL) {
            return NULL;
        }
        k->next = l->chunks;
        k->used = 0;
        k->size = size;
        l->chunks = k;
    }
    k->used += len;
    return k->data + k->used - len;
}

int kvlist_add(struct kvlist *l, const char *name, const char *value)
{
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    char *p;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct kv *v = realloc(l->v, cap * sizeof(*v));
        if (!v) {
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    if ((p = kv_room(l, nl + vl)) == NULL) {
        return -1;
    }
    memcpy(p, name, nl);
    memcpy(p + nl, value, vl);
    l->v[l->n].name = p;
    l->v[l->n].value = p + nl;
    l->n++;
    return 0;
}

const char *kvlist_get(const struct kvlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, name) == 0) {
            return l->v[i].value;
        }
    }
    return NULL;
}

/* ---- scalar fields ----------------------------------------------------- */

enum fk {
    F_I64,    /* int64_t */
    F_I32,    /* int32_t */
    F_DBL,    /* double, shortest exact form */
    F_POINTS, /* int32_t hundredths, printed as points */
    F_TIER,
    F_SEGMENT,
    F_BRAND_TYPE,
    F_LOYALTY_TYPE,
    F_CURRENCY,
    F_OUT_NET,      /* encode only: net spend in currency units */
    F_OUT_CATEGORY, /* encode only: main category name */
};

struct field {
    const char *name;
    enum fk kind;
    size_t off;
};

#define O(f) offsetof(struct customer, f)

static const struct field fields[] = {
    /* Redis finds a field of a small (listpack) hash by scanning it from the
     * front, and a hash keeps its fields in the order they were first written:
     * the fields that change with nearly every event come first, so that the
     * commit's HSET finds them early (an HSET of 15 fields takes 1.4 us at the
     * front of a 60-field hash, 6.2 us at its end; the commits of a 100k-customer
     * workload went from 5.07 to 4.73 us per HSET). */
    {"as_of", F_I64, O(as_of_ms)},
    {"p_alive", F_DBL, O(p_alive)},
    {"churn_risk", F_DBL, O(churn_risk)},
    {"clv", F_DBL, O(clv)},
    {"exp_purchases", F_DBL, O(exp_purchases)},
    {"exp_value", F_DBL, O(exp_value)},
    {"loyalty_score", F_DBL, O(loyalty_score)},
    {"attitude", F_DBL, O(attitude)},
    {"contrib_repeat", F_POINTS, O(contrib[CR_REPEAT])},
    {"contrib_spend", F_POINTS, O(contrib[CR_SPEND])},
    {"contrib_choose", F_POINTS, O(contrib[CR_CHOOSE])},
    {"contrib_price", F_POINTS, O(contrib[CR_PRICE])},
    {"contrib_tolerance", F_POINTS, O(contrib[CR_TOLERANCE])},
    {"contrib_brand", F_POINTS, O(contrib[CR_BRAND])},
    {"orders_30d", F_I64, O(orders_30d)},
    {"orders_90d", F_I64, O(orders_90d)},
    {"orders_365d", F_I64, O(orders_365d)},
    {"spend_365d", F_DBL, O(spend_365d)},
    {"margin_365d", F_DBL, O(margin_365d)},
    {"aov", F_DBL, O(aov)},
    {"currency", F_CURRENCY, 0},
    {"orders", F_I64, O(orders)},
    {"orders_cancelled", F_I64, O(orders_cancelled)},
    {"cancelled_unknown", F_I64, O(cancelled_unknown)},
    {"orders_returned", F_I64, O(orders_returned)},
    {"orders_shipped", F_I64, O(orders_shipped)},
    {"orders_delivered", F_I64, O(orders_delivered)},
    {"spend_cents", F_I64, O(spend_cents)},
    {"refund_cents", F_I64, O(refund_cents)},
    {"net_spend", F_OUT_NET, 0},
    {"discount_cents", F_I64, O(discount_cents)},
    {"discounted_orders", F_I64, O(discounted_orders)},
    {"depth_ppm_sum", F_I64, O(depth_ppm_sum)},
    {"markdown_cents", F_I64, O(markdown_cents)},
    {"margin_cents", F_I64, O(margin_cents)},
    {"costed_orders", F_I64, O(costed_orders)},
    {"fast_ship_orders", F_I64, O(fast_ship_orders)},
    {"purchase_days", F_I64, O(purchase_days)},
    {"first_day", F_I32, O(first_day)},
    {"last_day", F_I32, O(last_day)},
    {"prev_day", F_I32, O(prev_day)},
    {"first_day_cents", F_I64, O(first_day_cents)},
    {"ratings", F_I64, O(ratings)},
    {"rating_sum", F_I64, O(rating_sum)},
    {"ratings_low", F_I64, O(ratings_low)},
    {"ratings_high", F_I64, O(ratings_high)},
    {"rating_last", F_I32, O(rating_last)},
    {"reviews_shared", F_I64, O(reviews_shared)},
    {"msg_inquiry", F_I64, O(msgs[MSG_INQUIRY])},
    {"msg_complaint", F_I64, O(msgs[MSG_COMPLAINT])},
    {"msg_praise", F_I64, O(msgs[MSG_PRAISE])},
    {"msg_reply", F_I64, O(msgs[MSG_REPLY])},
    {"msg_reminder", F_I64, O(msgs[MSG_PAYMENT_REMINDER])},
    {"msg_marketing", F_I64, O(msgs[MSG_MARKETING])},
    {"msg_other", F_I64, O(msgs[MSG_OTHER])},
    {"msg_resolution", F_I64, O(msgs[MSG_RESOLUTION])},
    {"competitor_mentions", F_I64, O(competitor_mentions)},
    {"complaints_logistics", F_I64, O(complaints[CAT_LOGISTICS])},
    {"complaints_quality", F_I64, O(complaints[CAT_QUALITY])},
    {"complaints_duties", F_I64, O(complaints[CAT_DUTIES])},
    {"complaints_payment", F_I64, O(complaints[CAT_PAYMENT])},
    {"complaints_other", F_I64, O(complaints[CAT_OTHER])},
    {"resolutions", F_I64, O(resolved_n)},
    {"resolve_sum_min", F_I64, O(resolve_sum_min)},
    {"att_as_of", F_I64, O(att_as_of_ms)},
    {"att_reviews", F_DBL, O(att[AT_RATED])},
    {"att_high", F_DBL, O(att[AT_HIGH])},
    {"att_shared", F_DBL, O(att[AT_SHARED])},
    {"att_praise", F_DBL, O(att[AT_PRAISE])},
    {"att_interest", F_DBL, O(att[AT_INTEREST])},
    {"att_rivals", F_DBL, O(att[AT_RIVAL])},
    {"messages_as_of", F_I64, O(msg_as_of_ms)},
    {"choose_n", F_I64, O(choose_n)},
    {"choose_sum_min", F_I64, O(choose_sum_min)},
    {"incidents", F_I64, O(incidents)},
    {"incidents_tolerated", F_I64, O(incidents_tolerated)},
    {"incidents_lost", F_I64, O(incidents_lost)},
    {"signals_total", F_I64, O(signals_total)},
    {"brand_type", F_BRAND_TYPE, 0},
    {"brand_share", F_DBL, O(brand_share)},
    {"main_category", F_OUT_CATEGORY, 0},
    {"segment", F_SEGMENT, 0},
    {"loyalty_type", F_LOYALTY_TYPE, 0},
    {"segment_seq", F_I64, O(segment_seq)},
    {"tier", F_TIER, 0},
    {"tier_grace_until", F_I64, O(tier_grace_until_ms)},
    {"milestone", F_I32, O(milestone)},
    {"risk_armed", F_I32, O(risk_armed)},
    {"churn_seq", F_I64, O(churn_seq)},
    {"rewards_sent", F_I64, O(rewards_sent)},
    {"rewards_redeemed", F_I64, O(rewards_redeemed)},
    {"redeemed_unknown", F_I64, O(redeemed_unknown)},
    {"points_balance", F_I64, O(points_balance)},
    {"model_version", F_I64, O(model_version)},
};

#undef O

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* The main category's name, "" without one. */
static const char *main_category(const struct customer *c)
{
    int k = customer_main_category(c);

    return k >= 0 ? c->cats[k].name : "";
}

static void encode_field(const struct customer *c, const struct field *f, char *buf,
                         size_t len)
{
    const char *base = (const char *)c + f->off;

    switch (f->kind) {
    case F_I64: /* len is 96 at both callers, over DECIMAL_MAX */
        decimal_i64(buf, *(const int64_t *)(const void *)base);
        break;
    case F_I32:
        decimal_i64(buf, *(const int32_t *)(const void *)base);
        break;
    case F_DBL:
        numfmt_double(buf, len, *(const double *)(const void *)base);
        break;
    case F_POINTS:
        numfmt_double(buf, len, *(const int32_t *)(const void *)base / 100.0);
        break;
    case F_TIER:
        snprintf(buf, len, "%s", cu_tier_name(c->tier));
        break;
    case F_SEGMENT:
        snprintf(buf, len, "%s", cu_segment_name(c->segment));
        break;
    case F_BRAND_TYPE:
        snprintf(buf, len, "%s", cu_brand_type_name(c->brand_type));
        break;
    case F_LOYALTY_TYPE:
        snprintf(buf, len, "%s", cu_loyalty_type_name(c->loyalty_type));
        break;
    case F_CURRENCY:
        snprintf(buf, len, "%s", c->currency);
        break;
    case F_OUT_NET:
        numfmt_double(buf, len, (double)(c->spend_cents - c->refund_cents) / 100.0);
        break;
    case F_OUT_CATEGORY:
        snprintf(buf, len, "%s", main_category(c));
        break;
    }
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end || errno) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_dbl(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return end == s || *end || errno ? -1 : 0;
}

static int decode_enum(const char *const *names, int n, const char *s, int *out)
{
    int i = cu_name_index(names, n, s);

    if (i < 0) {
        return -1;
    }
    *out = i;
    return 0;
}

static int decode_field(struct customer *c, const struct field *f, const char *s)
{
    char *base = (char *)c + f->off;
    int64_t i64;
    double d;
    int e;

    switch (f->kind) {
    case F_I64:
        return parse_i64(s, (int64_t *)(void *)base);
    case F_I32:
        if (parse_i64(s, &i64) < 0 || i64 < INT32_MIN || i64 > INT32_MAX) {
            return -1;
        }
        *(int32_t *)(void *)base = (int32_t)i64;
        return 0;
    case F_DBL:
        return parse_dbl(s, (double *)(void *)base);
    case F_POINTS:
        if (parse_dbl(s, &d) < 0) {
            return -1;
        }
        *(int32_t *)(void *)base = (int32_t)llround(d * 100.0);
        return 0;
    case F_TIER:
        if (decode_enum(cu_tier_names, TIER__COUNT, s, &e) < 0) {
            return -1;
        }
        c->tier = (enum tier)e;
        return 0;
    case F_SEGMENT:
        if (decode_enum(cu_segment_names, SEG__COUNT, s, &e) < 0) {
            return -1;
        }
        c->segment = (enum segment)e;
        return 0;
    case F_BRAND_TYPE:
        if (decode_enum(cu_brand_type_names, BT__COUNT, s, &e) < 0) {
            return -1;
        }
        c->brand_type = (enum brand_type)e;
        return 0;
    case F_LOYALTY_TYPE:
        if (decode_enum(cu_loyalty_type_names, LT__COUNT, s, &e) < 0) {
            return -1;
        }
        c->loyalty_type = (enum loyalty_type)e;
        return 0;
    case F_CURRENCY:
        if (strlen(s) > 3) {
            return -1;
        }
        memcpy(c->currency, s, strlen(s) + 1);
        return 0;
    default:
        return 0; /* encode-only */
    }
}

/* ---- the aux string: writing ------------------------------------------- */

struct sb {
    char *s;
    size_t n, cap;
    int failed;
};

static void sb_grow(struct sb *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (cap < b->n + need + 1) {
        cap *= 2;
    }
    if (cap == b->cap) {
        return;
    }
    p = realloc(b->s, cap);
    if (!p) {
        b->failed = 1;
        return;
    }
    b->s = p;
    b->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt,
                                                            ...)
{
    va_list ap;
    int n;

    if (b->failed) {
        return;
    }
    sb_grow(b, 64);
    if (b->failed) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= b->cap - b->n) { /* did not fit: grow, again */
        sb_grow(b, (size_t)n);
        if (b->failed) {
            return;
        }
        va_start(ap, fmt);
        n = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
    }
    if (n < 0) {
        b->failed = 1;
        return;
    }
    b->n += (size_t)n;
}

static void sb_char(struct sb *b, char ch)
{
    sb_grow(b, 1);
    if (!b->failed) {
        b->s[b->n++] = ch;
        b->s[b->n] = '\0';
    }
}

static void sb_name(struct sb *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x21 || ch == 0x7f || strchr("|;,.:%", ch)) {
            sb_printf(b, "%%%02X", ch);
        } else {
            sb_char(b, (char)ch);
        }
    }
}

/* Opens section `tag` before the first entry; entries after the first get ';'. */
static void sb_entry(struct sb *b, char tag, uint32_t i)
{
    if (i == 0) {
        sb_printf(b, "%s%c:", b->n ? "|" : "", tag);
    } else {
        sb_printf(b, ";");
    }
}

static void enc_lists(struct sb *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->ndays; i++) {
        const struct cu_day *d = &c->days[i];
        sb_entry(b, 'D', i);
        sb_printf(b, "%" PRId32 ",%" PRId32 ",%" PRId64 ",%" PRId64, d->day, d->orders,
                  d->spend_cents, d->refund_cents);
        if (d->margin_cents || d->costed) {
            sb_printf(b, ",%" PRId64 ",%" PRId32, d->margin_cents, d->costed);
        }
    }
    for (uint32_t i = 0; i < c->nopen; i++) {
        const struct cu_order *o = &c->open[i];
        sb_entry(b, 'O', i);
        sb_printf(b,
                  "%" PRIx64 ",%" PRId32 ",%" PRIu32 ",%" PRId64 ",%" PRId64 ",%" PRId64
                  ",%" PRId64,
                  o->oid, o->day,
                  o->flags | (o->margin_cents != INT64_MIN ? OO_COSTED : 0u),
                  o->amount_cents, o->disc_cents, o->ship_by_ms, o->deliver_by_ms);
        if (o->mark_cents || o->margin_cents != INT64_MIN) {
            sb_printf(b, ",%" PRId64 ",%" PRId64, o->mark_cents,
                      o->margin_cents != INT64_MIN ? o->margin_cents : 0);
        }
    }
    for (uint32_t i = 0; i < c->nconv; i++) {
        const struct cu_conv *v = &c->conv[i];
        sb_entry(b, 'C', i);
        sb_printf(
            b, "%" PRIx64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu32,
            v->cid, v->inquiry_ms, v->order_ms, v->pending_ms, v->choose_min, v->flags);
        if (v->opened_ms || v->category) {
            sb_printf(b, ",%" PRId64 ",%" PRIu32, v->opened_ms, v->category);
        }
    }
}

static void enc_brands(struct sb *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->nbrands; i++) {
        const struct cu_brand *r = &c->brands[i];
        sb_entry(b, 'B', i);
        sb_printf(b, "%" PRIx32 ",%" PRIu32 ",%" PRId32 ",", r->cat, r->count,
                  r->last_day);
        sb_name(b, r->name);
    }
    for (uint32_t i = 0; i < c->ncats; i++) {
        const struct cu_cat *k = &c->cats[i];
        sb_entry(b, 'K', i);
        sb_name(b, k->name);
        sb_printf(b, ",%" PRIu32 ",", k->items);
        for (uint32_t j = 0; j < k->nseq; j++) {
            sb_printf(b, "%s%" PRIx32, j ? "." : "", k->seq[j]);
        }
    }
}

static void enc_times(struct sb *b, char tag, const int64_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        sb_entry(b, tag, i);
        sb_printf(b, "%" PRId64, v[i]);
    }
}

static int any_nonzero(const int64_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (v[i]) {
            return 1;
        }
    }
    return 0;
}

static void enc_events(struct sb *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->ninc; i++) {
        sb_entry(b, 'I', i);
        sb_printf(b, "%" PRId64, c->inc[i].ts_ms);
    }
    for (uint32_t i = 0; i < c->nsig; i++) {
        const struct cu_signal *s = &c->sig[i];
        sb_entry(b, 'S', i);
        sb_printf(b, "%" PRId64 ",%" PRIx64 ",%" PRIu32, s->ts_ms, s->ref, s->kind);
        if (s->conv) {
            sb_printf(b, ",%" PRIx64, s->conv);
        }
    }
    enc_times(b, 'M', c->mkt_ms, c->nmkt);
    enc_times(b, 'P', c->rem_ms, c->nrem);
    if (any_nonzero(c->reward_last_ms, RW__COUNT)) {
        enc_times(b, 'L', c->reward_last_ms, RW__COUNT);
    }
    if (any_nonzero(c->reward_suppressed, RW__COUNT)) {
        enc_times(b, 'X', c->reward_suppressed, RW__COUNT);
    }
    enc_times(b, 'Q', c->reward_recent_ms, c->nreward_recent);
    if (any_nonzero(c->reward_issued, RW__COUNT)) {
        enc_times(b, 'R', c->reward_issued, RW__COUNT);
    }
    if (any_nonzero(c->reward_redeemed, RW__COUNT)) {
        enc_times(b, 'U', c->reward_redeemed, RW__COUNT);
    }
    for (uint32_t i = 0; i < c->nrwd; i++) {
        const struct cu_reward *r = &c->rwd[i];
        sb_entry(b, 'W', i);
        sb_printf(b, "%" PRIx64 ",%" PRId64 ",%" PRIu32 ",%" PRIu32 ",%" PRId64, r->id,
                  r->ts_ms, r->type, r->flags, r->points);
    }
}

/* Each field's text for a new customer.  A field at that value is not
 * stored (most counters are 0 for most customers, and every stored field
 * costs its name in Redis' memory); decoding a missing field gives the same
 * value back, because codec_decode starts from customer_init. */
static char field_defaults[NFIELDS][96];
static pthread_once_t defaults_once = PTHREAD_ONCE_INIT;

static void init_defaults(void)
{
    static struct customer fresh; /* large: not on the stack */

    customer_init(&fresh, "");
    for (size_t i = 0; i < NFIELDS; i++) {
        encode_field(&fresh, &fields[i], field_defaults[i], sizeof(field_defaults[i]));
    }
}

/* Does field f hold the same value in a and b?  Compared in memory, so an
 * unchanged field costs no formatting. */
static int field_same(const struct customer *a, const struct customer *b,
                      const struct field *f)
{
    switch (f->kind) {
    case F_I64:
    case F_DBL:
        return memcmp((const char *)a + f->off, (const char *)b + f->off, 8) == 0;
    case F_I32:
    case F_POINTS:
        return memcmp((const char *)a + f->off, (const char *)b + f->off, 4) == 0;
    case F_TIER:
        return a->tier == b->tier;
    case F_SEGMENT:
        return a->segment == b->segment;
    case F_BRAND_TYPE:
        return a->brand_type == b->brand_type;
    case F_LOYALTY_TYPE:
        return a->loyalty_type == b->loyalty_type;
    case F_CURRENCY:
        return strcmp(a->currency, b->currency) == 0;
    case F_OUT_NET:
        return a->spend_cents - a->refund_cents == b->spend_cents - b->refund_cents;
    case F_OUT_CATEGORY:
        return strcmp(main_category(a), main_category(b)) == 0;
    }
    return 0;
}

/* The bounded lists, which the aux string holds, from `days` to the derived
 * fields (customer.h keeps them together). */
static int lists_same(const struct customer *a, const struct customer *b)
{
    const size_t from = offsetof(struct customer, days);
    const size_t to = offsetof(struct customer, orders_30d);

    return memcmp((const char *)a + from, (const char *)b + from, to - from) == 0;
}

static char *encode_aux(const struct customer *c)
{
    struct sb b = {0};

    sb_grow(&b, 0);
    if (!b.failed) {
        b.s[0] = '\0';
    }
    enc_lists(&b, c);
    enc_brands(&b, c);
    enc_events(&b, c);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int codec_encode_diff(const struct customer *prev, const struct customer *c,
                      struct kvlist *out, char **aux)
{
    char val[96];

    *aux = NULL;
    pthread_once(&defaults_once, init_defaults);
    if (prev == NULL) {
        snprintf(val, sizeof(val), "%d", CODEC_FORMAT);
        if (kvlist_add(out, "codec", val) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        if (prev && field_same(prev, c, &fields[i])) {
            continue;
        }
        encode_field(c, &fields[i], val, sizeof(val));
        if (strcmp(val, field_defaults[i]) == 0) {
            val[0] = '\0';
        }
        if (kvlist_add(out, fields[i].name, val) < 0) {
            return -1;
        }
    }
    if (prev && lists_same(prev, c)) {
        return 0;
    }
    return (*aux = encode_aux(c)) ? 0 : -1;
}

int codec_encode(const struct customer *c, struct kvlist *out, char **aux)
{
    return codec_encode_diff(NULL, c, out, aux);
}

static pthread_once_t order_once;
static void init_order(void);
static const struct field *field_named(const char *name);

/* The summary's fields, in the order Redis keeps them (README, "State in
 * Redis"): the ones that change most often first. */
static const char *const summary_names[] = {
    "as_of",        "churn_risk", "p_alive",     "clv",       "loyalty_score",
    "attitude",     "spend_365d", "orders_365d", "net_spend", "segment",
    "loyalty_type", "brand_type", "tier",        "currency",  "model_version",
};

#define NSUMMARY (sizeof(summary_names) / sizeof(summary_names[0]))

static const struct field *summary_fields[NSUMMARY];
static pthread_once_t summary_once = PTHREAD_ONCE_INIT;

static void init_summary(void)
{
    pthread_once(&order_once, init_order);
    for (size_t i = 0; i < NSUMMARY; i++) {
        summary_fields[i] = field_named(summary_names[i]);
    }
}

int codec_summary_diff(const struct customer *prev, const struct customer *c,
                       struct kvlist *out)
{
    char val[96];

    pthread_once(&summary_once, init_summary);
    for (size_t i = 0; i < NSUMMARY; i++) {
        if (prev && field_same(prev, c, summary_fields[i])) {
            continue;
        }
        encode_field(c, summary_fields[i], val, sizeof(val));
        if (kvlist_add(out, summary_fields[i]->name, val) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- the aux string: reading -------------------------------------------- */

/* A cursor over one entry's comma-separated values. */
struct cur {
    const char *p, *end;
    int bad;
};

static int cur_next(struct cur *k, char *buf, size_t len)
{
    const char *q = k->p;
    size_t n;

    while (q < k->end && *q != ',') {
        q++;
    }
    n = (size_t)(q - k->p);
    if (k->p > k->end || n >= len) {
        k->bad = 1;
        return -1;
    }
    memcpy(buf, k->p, n);
    buf[n] = '\0';
    k->p = q + 1;
    return 0;
}

static int64_t cur_i64(struct cur *k)
{
    char buf[32];
    int64_t v = 0;

    if (cur_next(k, buf, sizeof(buf)) < 0 || parse_i64(buf, &v) < 0) {
        k->bad = 1;
    }
    return v;
}

static uint64_t cur_hex(struct cur *k)
{
    char buf[32], *e;
    uint64_t v = 0;

    if (cur_next(k, buf, sizeof(buf)) == 0) {
        errno = 0;
        v = strtoull(buf, &e, 16);
        if (e == buf || *e || errno) {
            k->bad = 1;
        }
    }
    return v;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

static void cur_name(struct cur *k, char *out)
{
    char buf[3 * CU_NAME_MAX + 1];
    size_t n = 0;

    if (cur_next(k, buf, sizeof(buf)) < 0) {
        return;
    }
    for (const char *s = buf; *s; s++) {
        int ch = (unsigned char)*s;
        if (ch == '%') {
            int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
            if (lo < 0) {
                k->bad = 1;
                return;
            }
            ch = hi * 16 + lo;
            s += 2;
        }
        if (n == CU_NAME_MAX) {
            k->bad = 1;
            return;
        }
        out[n++] = (char)ch;
    }
    out[n] = '\0';
}

static int cur_done(const struct cur *k)
{
    return !k->bad && k->p == k->end + 1;
}

/* Are there values left in the entry (the optional ones of newer writers)? */
static int cur_more(const struct cur *k)
{
    return !k->bad && k->p <= k->end;
}

static int dec_day(struct customer *c, struct cur *k)
{
    struct cu_day *d;

    if (c->ndays == CU_DAYS_MAX) {
        return -1;
    }
    d = &c->days[c->ndays++];
    d->day = (int32_t)cur_i64(k);
    d->orders = (int32_t)cur_i64(k);
    d->spend_cents = cur_i64(k);
    d->refund_cents = cur_i64(k);
    if (cur_more(k)) {
        d->margin_cents = cur_i64(k);
        d->costed = (int32_t)cur_i64(k);
    }
    return cur_done(k) ? 0 : -1;
}

static int dec_order(struct customer *c, struct cur *k)
{
    struct cu_order *o;

    if (c->nopen == CU_OPEN_MAX) {
        return -1;
    }
    o = &c->open[c->nopen++];
    o->oid = cur_hex(k);
    o->day = (int32_t)cur_i64(k);
    o->flags = (uint32_t)cur_i64(k);
    o->amount_cents = cur_i64(k);
    o->disc_cents = cur_i64(k);
    o->ship_by_ms = cur_i64(k);
    o->deliver_by_ms = cur_i64(k);
    o->margin_cents = INT64_MIN;
    if (cur_more(k)) {
        o->mark_cents = cur_i64(k);
        o->margin_cents = cur_i64(k);
    }
    if (!(o->flags & OO_COSTED)) {
        o->margin_cents = INT64_MIN;
    }
    o->flags &= ~OO_COSTED;
    o->depth_ppm = cu_depth_ppm(o->amount_cents, o->disc_cents + o->mark_cents);
    return cur_done(k) ? 0 : -1;
}

static int dec_conv(struct customer *c, struct cur *k)
{
    struct cu_conv *v;

    if (c->nconv == CU_CONV_MAX) {
        return -1;
    }
    v = &c->conv[c->nconv++];
    v->cid = cur_hex(k);
    v->inquiry_ms = cur_i64(k);
    v->order_ms = cur_i64(k);
    v->pending_ms = cur_i64(k);
    v->choose_min = cur_i64(k);
    v->flags = (uint32_t)cur_i64(k);
    if (cur_more(k)) {
        v->opened_ms = cur_i64(k);
        v->category = (uint32_t)cur_i64(k);
    }
    return cur_done(k) && v->category < CAT__COUNT ? 0 : -1;
}

static int dec_brand(struct customer *c, struct cur *k)
{
    struct cu_brand *r;

    if (c->nbrands == CU_BRAND_MAX) {
        return -1;
    }
    r = &c->brands[c->nbrands++];
    r->cat = (uint32_t)cur_hex(k);
    r->count = (uint32_t)cur_i64(k);
    r->last_day = (int32_t)cur_i64(k);
    cur_name(k, r->name);
    return cur_done(k) ? 0 : -1;
}

static int dec_cat(struct customer *c, struct cur *k)
{
    struct cu_cat *t;
    char seq[CU_SEQ_MAX * 9 + 1], *s, *e;

    if (c->ncats == CU_CAT_MAX) {
        return -1;
    }
    t = &c->cats[c->ncats++];
    cur_name(k, t->name);
    t->items = (uint32_t)cur_i64(k);
    if (cur_next(k, seq, sizeof(seq)) < 0) {
        return -1;
    }
    for (s = seq; *s && t->nseq < CU_SEQ_MAX; s = *e ? e + 1 : e) {
        errno = 0;
        t->seq[t->nseq++] = (uint32_t)strtoul(s, &e, 16);
        if (e == s || errno || (*e && *e != '.')) {
            return -1;
        }
    }
    return *s == '\0' && cur_done(k) ? 0 : -1;
}

static int dec_signal(struct customer *c, struct cur *k)
{
    struct cu_signal *s;

    if (c->nsig == CU_SIG_MAX) {
        return -1;
    }
    s = &c->sig[c->nsig++];
    s->ts_ms = cur_i64(k);
    s->ref = cur_hex(k);
    s->kind = (uint32_t)cur_i64(k);
    if (cur_more(k)) {
        s->conv = cur_hex(k);
    }
    return cur_done(k) && s->kind < SIG__COUNT ? 0 : -1;
}

static int dec_reward(struct customer *c, struct cur *k)
{
    struct cu_reward *r;

    if (c->nrwd == CU_RWD_KEEP) {
        return -1;
    }
    r = &c->rwd[c->nrwd++];
    r->id = cur_hex(k);
    r->ts_ms = cur_i64(k);
    r->type = (uint32_t)cur_i64(k);
    r->flags = (uint32_t)cur_i64(k);
    r->points = cur_i64(k);
    return cur_done(k) && r->type < RW__COUNT ? 0 : -1;
}

static int dec_time(int64_t *v, uint32_t *n, uint32_t max, struct cur *k)
{
    if (*n == max) {
        return -1;
    }
    v[(*n)++] = cur_i64(k);
    return cur_done(k) ? 0 : -1;
}

static int dec_entry(struct customer *c, char tag, struct cur *k)
{
    switch (tag) {
    case 'D':
        return dec_day(c, k);
    case 'O':
        return dec_order(c, k);
    case 'C':
        return dec_conv(c, k);
    case 'B':
        return dec_brand(c, k);
    case 'K':
        return dec_cat(c, k);
    case 'S':
        return dec_signal(c, k);
    case 'M':
        return dec_time(c->mkt_ms, &c->nmkt, CU_MKT_MAX, k);
    case 'P':
        return dec_time(c->rem_ms, &c->nrem, CU_REM_MAX, k);
    case 'Q':
        return dec_time(c->reward_recent_ms, &c->nreward_recent, CU_RWD_RECENT, k);
    case 'W':
        return dec_reward(c, k);
    default:
        return 0; /* a section of a newer format: skipped */
    }
}

static int dec_incident(struct customer *c, struct cur *k)
{
    if (c->ninc == CU_INC_MAX) {
        return -1;
    }
    c->inc[c->ninc++].ts_ms = cur_i64(k);
    return cur_done(k) ? 0 : -1;
}

/* L and X are fixed vectors written as five entries; read them in order. */
static int dec_vector(int64_t *v, uint32_t *i, struct cur *k)
{
    if (*i >= RW__COUNT) {
        return -1;
    }
    v[(*i)++] = cur_i64(k);
    return cur_done(k) ? 0 : -1;
}

static int dec_section(struct customer *c, const char *s, const char *end)
{
    char tag = s[0];
    uint32_t vi = 0;

    if (end - s < 2 || s[1] != ':') {
        return -1;
    }
    for (s += 2; s <= end;) {
        const char *e = s;
        struct cur k;
        int rc;
        while (e < end && *e != ';') {
            e++;
        }
        k.p = s;
        k.end = e;
        k.bad = 0;
        if (tag == 'I') {
            rc = dec_incident(c, &k);
        } else if (tag == 'L' || tag == 'X' || tag == 'R' || tag == 'U') {
            rc = dec_vector(tag == 'L'   ? c->reward_last_ms
                            : tag == 'X' ? c->reward_suppressed
                            : tag == 'R' ? c->reward_issued
                                         : c->reward_redeemed,
                            &vi, &k);
        } else {
            rc = dec_entry(c, tag, &k);
        }
        if (rc < 0) {
            return -1;
        }
        s = e + 1;
    }
    return 0;
}

static int decode_aux(struct customer *c, const char *aux, char *err, size_t errlen)
{
    const char *s = aux;

    while (*s) {
        const char *e = strchr(s, '|');
        if (!e) {
            e = s + strlen(s);
        }
        if (dec_section(c, s, e) < 0) {
            snprintf(err, errlen, "aux: bad section \"%.*s\"",
                     (int)(e - s > 40 ? 40 : e - s), s);
            return -1;
        }
        s = *e ? e + 1 : e;
    }
    return 0;
}

/* Field table indices sorted by name, for looking up what Redis returned. */
static size_t field_order[NFIELDS];
static pthread_once_t order_once = PTHREAD_ONCE_INIT;

static int cmp_field_index(const void *a, const void *b)
{
    return strcmp(fields[*(const size_t *)a].name, fields[*(const size_t *)b].name);
}

static void init_order(void)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        field_order[i] = i;
    }
    qsort(field_order, NFIELDS, sizeof(field_order[0]), cmp_field_index);
}

static const struct field *field_named(const char *name)
{
    size_t lo = 0, hi = NFIELDS;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = strcmp(name, fields[field_order[mid]].name);

        if (d == 0) {
            return &fields[field_order[mid]];
        }
        if (d < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

int codec_decode(struct customer *c, const char *customer_id, const struct kvlist *in,
                 const char *aux, char *err, size_t errlen)
{
    pthread_once(&order_once, init_order);
    customer_init(c, customer_id);
    for (size_t i = 0; i < in->n; i++) {
        const struct field *f = field_named(in->v[i].name);
        const char *v = in->v[i].value;

        /* Unknown (the store's own, a newer version's) or "" (as codec_encode
         * writes a default): skipped, the customer_init value stays. */
        if (f && *v && decode_field(c, f, v) < 0) {
            snprintf(err, errlen, "field %s: cannot parse \"%.64s\"", f->name, v);
            return -1;
        }
    }
    return aux ? decode_aux(c, aux, err, errlen) : 0;
}
