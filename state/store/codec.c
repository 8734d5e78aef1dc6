/*
 * codec.c - struct customer <-> Redis hash fields + one auxiliary string.
 *
 * Hash fields: one table (field name, kind, offset) drives both directions.
 * Integers are printed in decimal (Redis' listpack stores them as integers),
 * doubles in the shortest form that reads back to the same double, so
 * decode(encode(c)) is exact.  Money is integer cents (`*_cents`); the
 * rolling figures in currency units (spend_365d, aov) are cents / 100.
 *
 * The aux string is codec_aux.c's, the summary hash's fields
 * codec_summary.c's; codec_int.h holds what they share.
 */
#include "state/store/codec_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/decimal.h"
#include "base/numfmt.h"

#define CODEC_FORMAT 1

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

void codec_encode_field(const struct customer *c, const struct field *f, char *buf,
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
        numfmt_double(buf, len, customer_net_spend(c));
        break;
    case F_OUT_CATEGORY:
        snprintf(buf, len, "%s", main_category(c));
        break;
    }
}

int codec_parse_i64(const char *s, int64_t *out)
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
        return codec_parse_i64(s, (int64_t *)(void *)base);
    case F_I32:
        if (codec_parse_i64(s, &i64) < 0 || i64 < INT32_MIN || i64 > INT32_MAX) {
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
        codec_encode_field(&fresh, &fields[i], field_defaults[i],
                           sizeof(field_defaults[i]));
    }
}

/* Does field f hold the same value in a and b?  Compared in memory, so an
 * unchanged field costs no formatting. */
int codec_field_same(const struct customer *a, const struct customer *b,
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
        return customer_net_spend(a) == customer_net_spend(b);
    case F_OUT_CATEGORY:
        return strcmp(main_category(a), main_category(b)) == 0;
    }
    return 0;
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
        if (prev && codec_field_same(prev, c, &fields[i])) {
            continue;
        }
        codec_encode_field(c, &fields[i], val, sizeof(val));
        if (strcmp(val, field_defaults[i]) == 0) {
            val[0] = '\0';
        }
        if (kvlist_add(out, fields[i].name, val) < 0) {
            return -1;
        }
    }
    if (prev && codec_lists_same(prev, c)) {
        return 0;
    }
    return (*aux = codec_encode_aux(c)) ? 0 : -1;
}

int codec_encode(const struct customer *c, struct kvlist *out, char **aux)
{
    return codec_encode_diff(NULL, c, out, aux);
}

/* Field table indices sorted by name, for looking up what Redis returned. */
static size_t field_order[NFIELDS];

pthread_once_t codec_order_once = PTHREAD_ONCE_INIT;

static int cmp_field_index(const void *a, const void *b)
{
    return strcmp(fields[*(const size_t *)a].name, fields[*(const size_t *)b].name);
}

void codec_init_order(void)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        field_order[i] = i;
    }
    qsort(field_order, NFIELDS, sizeof(field_order[0]), cmp_field_index);
}

const struct field *codec_field_named(const char *name)
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
    pthread_once(&codec_order_once, codec_init_order);
    customer_init(c, customer_id);
    for (size_t i = 0; i < in->n; i++) {
        const struct field *f = codec_field_named(in->v[i].name);
        const char *v = in->v[i].value;

        /* Unknown (the store's own, a newer version's) or "" (as codec_encode
         * writes a default): skipped, the customer_init value stays. */
        if (f && *v && decode_field(c, f, v) < 0) {
            snprintf(err, errlen, "field %s: cannot parse \"%.64s\"", f->name, v);
            return -1;
        }
    }
    return aux ? codec_decode_aux(c, aux, err, errlen) : 0;
}
