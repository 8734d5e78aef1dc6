/*
 * derived.c - deterministic ids and payload JSON of the outgoing events.
 */
#include "state/model/derived.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "base/digest.h"
#include "base/numfmt.h"
#include "base/strbuf.h"

void derived_reason_add(struct derived_reasons *r, const char *code)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->v[i], code) == 0) {
            return;
        }
    }
    if (r->n < DERIVED_REASONS_MAX) {
        r->v[r->n++] = code;
    }
}

int derived_id(const char *customer_id, const char *kind, const char *cause, char out[33])
{
    const char *parts[] = {customer_id, kind, cause};

    return digest_id128(parts, 3, out);
}

/* ---- a JSON writer for the payloads ---------------------------------------
 *
 * The payloads have a fixed shape, so they are written straight into one
 * growing buffer: no tree of nodes to allocate and free, as a JSON library
 * would build for each event.  Numbers are the shortest of 15, 16 or 17
 * significant digits that read back exactly (numfmt_double); strings are
 * escaped as RFC 8259 requires. */

struct jw {
    struct strbuf b;
    int comma; /* the next member or element needs a ',' first */
};

static void jw_sep(struct jw *w)
{
    if (w->comma) {
        strbuf_putc(&w->b, ',');
    }
    w->comma = 1;
}

static void jw_string(struct jw *w, const char *t)
{
    static const char hex[] = "0123456789abcdef";

    strbuf_putc(&w->b, '"');
    for (const char *run = t;; t++) {
        unsigned char ch = (unsigned char)*t;
        char esc[8];
        size_t len = 2;

        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        strbuf_append(&w->b, run, (size_t)(t - run));
        if (ch == '\0') {
            break;
        }
        esc[0] = '\\';
        switch (ch) {
        case '"':
        case '\\':
            esc[1] = (char)ch;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            len = 6;
        }
        strbuf_append(&w->b, esc, len);
        run = t + 1;
    }
    strbuf_putc(&w->b, '"');
}

static void jw_key(struct jw *w, const char *name)
{
    jw_sep(w);
    jw_string(w, name);
    strbuf_putc(&w->b, ':');
}

static void jw_open(struct jw *w, const char *name, char bracket)
{
    if (name) {
        jw_key(w, name);
    } else {
        jw_sep(w);
    }
    strbuf_putc(&w->b, bracket);
    w->comma = 0;
}

static void jw_close(struct jw *w, char bracket)
{
    strbuf_putc(&w->b, bracket);
    w->comma = 1;
}

static void jw_str(struct jw *w, const char *name, const char *v)
{
    jw_key(w, name);
    jw_string(w, v);
}

static void jw_num(struct jw *w, const char *name, double v)
{
    char buf[40];

    jw_key(w, name);
    if (!isfinite(v)) {
        strbuf_puts(&w->b, "null");
        return;
    }
    numfmt_double(buf, sizeof(buf), v);
    strbuf_puts(&w->b, buf);
}

/* The members every payload starts with, its object left open. */
static void head(struct jw *w, const struct customer *c, const char *schema,
                 const char *event_id, int64_t as_of_ms,
                 const struct derived_reasons *why)
{
    char ts[40];

    if (civil_rfc3339_format(as_of_ms, ts, sizeof(ts)) < 0) {
        w->b.failed = 1;
        return;
    }
    strbuf_putc(&w->b, '{');
    jw_str(w, "schema", schema);
    jw_num(w, "schema_version", DERIVED_SCHEMA_VERSION);
    jw_str(w, "event_id", event_id);
    jw_str(w, "customer_id", c->id);
    jw_str(w, "as_of", ts);
    jw_open(w, "reason_codes", '[');
    for (size_t i = 0; i < why->n; i++) {
        jw_sep(w);
        jw_string(w, why->v[i]);
    }
    jw_close(w, ']');
}

static void add_scores(struct jw *w, const struct customer *c)
{
    jw_open(w, "scores", '{');
    jw_num(w, "loyalty_score", c->loyalty_score);
    jw_num(w, "churn_risk", c->churn_risk);
    jw_num(w, "p_alive", c->p_alive);
    jw_num(w, "clv", c->clv);
    jw_num(w, "spend_365d", c->spend_365d);
    jw_num(w, "orders_365d", (double)c->orders_365d);
    jw_str(w, "tier", cu_tier_name(c->tier));
    jw_str(w, "segment", cu_segment_name(c->segment));
    jw_str(w, "brand_type", cu_brand_type_name(c->brand_type));
    jw_num(w, "attitude", c->attitude);
    jw_str(w, "loyalty_type", cu_loyalty_type_name(c->loyalty_type));
    jw_close(w, '}');
}

static void add_reward(struct jw *w, const struct customer *c,
                       const struct derived_reward *rw)
{
    jw_open(w, "reward", '{');
    jw_str(w, "type", cu_reward_name(rw->type));
    if (rw->type == RW_MILESTONE) {
        jw_num(w, "milestone", rw->milestone);
    }
    if (rw->tier) {
        jw_str(w, "tier", rw->tier);
    }
    jw_str(w, "kind", rw->kind);
    jw_num(w, "value", rw->value);
    if (strcmp(rw->kind, "points") != 0) {
        jw_str(w, "currency",
               rw->currency[0]  ? rw->currency
               : c->currency[0] ? c->currency
                                : "USD");
    }
    if (rw->graded_by) {
        jw_str(w, "graded_by", rw->graded_by);
    }
    jw_close(w, '}');
}

/* Closes the payload and hands its text over; NULL if anything failed. */
static char *jw_finish(struct jw *w)
{
    strbuf_putc(&w->b, '}');
    return strbuf_detach(&w->b);
}

char *derived_reward_payload(const struct customer *c, const char *event_id,
                             int64_t as_of_ms, const struct derived_reasons *why,
                             const struct derived_reward *rw)
{
    struct jw w = {0};

    head(&w, c, DERIVED_SCHEMA_REWARD, event_id, as_of_ms, why);
    add_scores(&w, c);
    add_reward(&w, c, rw);
    return jw_finish(&w);
}

char *derived_churn_payload(const struct customer *c, const char *event_id,
                            int64_t as_of_ms, double threshold,
                            const struct derived_reasons *why)
{
    struct jw w = {0};

    head(&w, c, DERIVED_SCHEMA_CHURN, event_id, as_of_ms, why);
    jw_num(&w, "churn_risk", c->churn_risk);
    jw_num(&w, "threshold", threshold);
    jw_num(&w, "crossing", (double)c->churn_seq);
    add_scores(&w, c);
    return jw_finish(&w);
}

static void add_change(struct jw *w, const char *name, const char *from, const char *to)
{
    jw_open(w, name, '{');
    jw_str(w, "from", from);
    jw_str(w, "to", to);
    jw_close(w, '}');
}

char *derived_segment_payload(const struct customer *c, const char *event_id,
                              int64_t as_of_ms, const struct derived_reasons *why,
                              const struct seg_classes *was)
{
    struct jw w = {0};
    const char *changed[3] = {
        was->segment != c->segment ? "segment" : NULL,
        was->brand_type != c->brand_type ? "brand_type" : NULL,
        was->loyalty_type != c->loyalty_type ? "loyalty_type" : NULL,
    };

    head(&w, c, DERIVED_SCHEMA_SEGMENT, event_id, as_of_ms, why);
    jw_num(&w, "sequence", (double)c->segment_seq);
    jw_open(&w, "changed", '[');
    for (int i = 0; i < 3; i++) {
        if (changed[i]) {
            jw_sep(&w);
            jw_string(&w, changed[i]);
        }
    }
    jw_close(&w, ']');
    add_change(&w, "segment", cu_segment_name(was->segment), cu_segment_name(c->segment));
    add_change(&w, "brand_type", cu_brand_type_name(was->brand_type),
               cu_brand_type_name(c->brand_type));
    add_change(&w, "loyalty_type", cu_loyalty_type_name(was->loyalty_type),
               cu_loyalty_type_name(c->loyalty_type));
    add_scores(&w, c);
    return jw_finish(&w);
}

int derived_finish(const char *payload, int64_t emitted_at_ms, char **out)
{
    size_t len = strlen(payload);
    char ts[40];
    char *s;

    *out = NULL;
    while (len > 0 && (payload[len - 1] == ' ' || payload[len - 1] == '\n')) {
        len--;
    }
    if (len < 2 || payload[0] != '{' || payload[len - 1] != '}' ||
        civil_rfc3339_format(emitted_at_ms, ts, sizeof(ts)) < 0) {
        return -1;
    }
    s = malloc(len + strlen(ts) + 32);
    if (!s) {
        return -1;
    }
    /* An empty object takes no separating comma. */
    sprintf(s, "%.*s%s\"emitted_at\":\"%s\"}", (int)(len - 1), payload,
            len == 2 ? "" : ",", ts);
    *out = s;
    return 0;
}
