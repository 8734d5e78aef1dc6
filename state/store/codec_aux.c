/*
 * codec_aux.c - the auxiliary string of the readable form (codec.h): the
 * bounded lists of struct customer, written and read.
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
 *   Y:oid,day,flags,currency,exponent,amount,num,den,pow10;...  orders as paid
 * Hashes are hex; names are %-escaped.  Empty sections are left out.
 */
#include "state/store/codec_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

/* A name, %-escaped where it would end a value, an entry or a section. */
static void enc_name(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x21 || ch == 0x7f || strchr("|;,.:%", ch)) {
            strbuf_printf(b, "%%%02X", ch);
        } else {
            strbuf_putc(b, (char)ch);
        }
    }
}

/* Opens section `tag` before the first entry; entries after the first get ';'. */
static void enc_entry(struct strbuf *b, char tag, uint32_t i)
{
    if (i == 0) {
        strbuf_printf(b, "%s%c:", b->len ? "|" : "", tag);
    } else {
        strbuf_putc(b, ';');
    }
}

static void enc_lists(struct strbuf *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->ndays; i++) {
        const struct cu_day *d = &c->days[i];
        enc_entry(b, 'D', i);
        strbuf_printf(b, "%" PRId32 ",%" PRId32 ",%" PRId64 ",%" PRId64, d->day,
                      d->orders, d->spend_cents, d->refund_cents);
        if (d->margin_cents || d->costed) {
            strbuf_printf(b, ",%" PRId64 ",%" PRId32, d->margin_cents, d->costed);
        }
    }
    for (uint32_t i = 0; i < c->nopen; i++) {
        const struct cu_order *o = &c->open[i];
        enc_entry(b, 'O', i);
        strbuf_printf(b,
                      "%" PRIx64 ",%" PRId32 ",%" PRIu32 ",%" PRId64 ",%" PRId64
                      ",%" PRId64 ",%" PRId64,
                      o->oid, o->day,
                      o->flags | (o->margin_cents != INT64_MIN ? OO_COSTED : 0u),
                      o->amount_cents, o->disc_cents, o->ship_by_ms, o->deliver_by_ms);
        if (o->mark_cents || o->margin_cents != INT64_MIN) {
            strbuf_printf(b, ",%" PRId64 ",%" PRId64, o->mark_cents,
                          o->margin_cents != INT64_MIN ? o->margin_cents : 0);
        }
    }
    for (uint32_t i = 0; i < c->nconv; i++) {
        const struct cu_conv *v = &c->conv[i];
        enc_entry(b, 'C', i);
        strbuf_printf(
            b, "%" PRIx64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu32,
            v->cid, v->inquiry_ms, v->order_ms, v->pending_ms, v->choose_min, v->flags);
        if (v->opened_ms || v->category) {
            strbuf_printf(b, ",%" PRId64 ",%" PRIu32, v->opened_ms, v->category);
        }
    }
}

static void enc_paid(struct strbuf *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->npaid; i++) {
        const struct cu_paid *o = &c->paid[i];
        enc_entry(b, 'Y', i);
        strbuf_printf(b,
                      "%" PRIx32 ",%" PRId32 ",%" PRIu32 ",%.3s,%" PRIu32 ",%" PRId64
                      ",%" PRIu64 ",%" PRIu64 ",%d",
                      o->oid, o->day, o->flags, o->currency, o->exponent, o->amount_minor,
                      o->rate.num, o->rate.den, o->rate.pow10);
    }
}

static void enc_brands(struct strbuf *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->nbrands; i++) {
        const struct cu_brand *r = &c->brands[i];
        enc_entry(b, 'B', i);
        strbuf_printf(b, "%" PRIx32 ",%" PRIu32 ",%" PRId32 ",", r->cat, r->count,
                      r->last_day);
        enc_name(b, r->name);
    }
    for (uint32_t i = 0; i < c->ncats; i++) {
        const struct cu_cat *k = &c->cats[i];
        enc_entry(b, 'K', i);
        enc_name(b, k->name);
        strbuf_printf(b, ",%" PRIu32 ",", k->items);
        for (uint32_t j = 0; j < k->nseq; j++) {
            strbuf_printf(b, "%s%" PRIx32, j ? "." : "", k->seq[j]);
        }
    }
}

static void enc_times(struct strbuf *b, char tag, const int64_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        enc_entry(b, tag, i);
        strbuf_printf(b, "%" PRId64, v[i]);
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

static void enc_events(struct strbuf *b, const struct customer *c)
{
    for (uint32_t i = 0; i < c->ninc; i++) {
        enc_entry(b, 'I', i);
        strbuf_printf(b, "%" PRId64, c->inc[i].ts_ms);
    }
    for (uint32_t i = 0; i < c->nsig; i++) {
        const struct cu_signal *s = &c->sig[i];
        enc_entry(b, 'S', i);
        strbuf_printf(b, "%" PRId64 ",%" PRIx64 ",%" PRIu32, s->ts_ms, s->ref, s->kind);
        if (s->conv) {
            strbuf_printf(b, ",%" PRIx64, s->conv);
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
        enc_entry(b, 'W', i);
        strbuf_printf(b, "%" PRIx64 ",%" PRId64 ",%" PRIu32 ",%" PRIu32 ",%" PRId64,
                      r->id, r->ts_ms, r->type, r->flags, r->points);
    }
}

/* The bounded lists, which the aux string holds, from `days` to the derived
 * fields (customer.h keeps them together). */
int codec_lists_same(const struct customer *a, const struct customer *b)
{
    const size_t from = offsetof(struct customer, days);
    const size_t to = offsetof(struct customer, orders_30d);

    return memcmp((const char *)a + from, (const char *)b + from, to - from) == 0;
}

char *codec_encode_aux(const struct customer *c)
{
    struct strbuf b = {0};

    enc_lists(&b, c);
    enc_brands(&b, c);
    enc_events(&b, c);
    enc_paid(&b, c);
    return strbuf_detach(&b);
}

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

    if (cur_next(k, buf, sizeof(buf)) < 0 || codec_parse_i64(buf, &v) < 0) {
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

static int dec_paid(struct customer *c, struct cur *k)
{
    struct cu_paid *o;
    char cur[8];

    if (c->npaid == CU_PAID_MAX) {
        return -1;
    }
    o = &c->paid[c->npaid++];
    o->oid = (uint32_t)cur_hex(k);
    o->day = (int32_t)cur_i64(k);
    o->flags = (uint32_t)cur_i64(k);
    if (cur_next(k, cur, sizeof(cur)) < 0 || strlen(cur) != 3) {
        return -1;
    }
    memcpy(o->currency, cur, sizeof(o->currency));
    o->exponent = (uint32_t)cur_i64(k);
    o->amount_minor = cur_i64(k);
    o->rate.num = (uint64_t)cur_i64(k);
    o->rate.den = (uint64_t)cur_i64(k);
    o->rate.pow10 = (int)cur_i64(k);
    return cur_done(k) && o->rate.num > 0 && o->rate.den > 0 ? 0 : -1;
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
    case 'Y':
        return dec_paid(c, k);
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

int codec_decode_aux(struct customer *c, const char *aux, char *err, size_t errlen)
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
