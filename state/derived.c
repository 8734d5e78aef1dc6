/*
 * derived.c - deterministic ids and payload JSON of the outgoing events.
 */
#include "state/derived.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "base/digest.h"

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

int derived_rfc3339(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms / 1000;
    int msec = (int)(ms % 1000);
    time_t t;
    struct tm tm;

    if (msec < 0) {
        msec += 1000;
        secs--;
    }
    t = (time_t)secs;
    if (!gmtime_r(&t, &tm)) {
        return -1;
    }
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static cJSON *head(const struct customer *c, const char *schema, const char *event_id,
                   int64_t as_of_ms, const struct derived_reasons *why)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr;
    char ts[40];

    if (!o || derived_rfc3339(as_of_ms, ts, sizeof(ts)) < 0) {
        goto fail;
    }
    if (!cJSON_AddStringToObject(o, "schema", schema) ||
        !cJSON_AddNumberToObject(o, "schema_version", DERIVED_SCHEMA_VERSION) ||
        !cJSON_AddStringToObject(o, "event_id", event_id) ||
        !cJSON_AddStringToObject(o, "customer_id", c->id) ||
        !cJSON_AddStringToObject(o, "as_of", ts)) {
        goto fail;
    }
    arr = cJSON_AddArrayToObject(o, "reason_codes");
    for (size_t i = 0; arr && i < why->n; i++) {
        cJSON *s = cJSON_CreateString(why->v[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            goto fail;
        }
    }
    if (!arr) {
        goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static int add_scores(cJSON *o, const struct customer *c)
{
    cJSON *s = cJSON_AddObjectToObject(o, "scores");

    return s && cJSON_AddNumberToObject(s, "loyalty_score", c->loyalty_score) &&
                   cJSON_AddNumberToObject(s, "churn_risk", c->churn_risk) &&
                   cJSON_AddNumberToObject(s, "p_alive", c->p_alive) &&
                   cJSON_AddNumberToObject(s, "clv", c->clv) &&
                   cJSON_AddNumberToObject(s, "spend_365d", c->spend_365d) &&
                   cJSON_AddNumberToObject(s, "orders_365d", (double)c->orders_365d) &&
                   cJSON_AddStringToObject(s, "tier", cu_tier_name(c->tier)) &&
                   cJSON_AddStringToObject(s, "segment", cu_segment_name(c->segment)) &&
                   cJSON_AddStringToObject(s, "brand_type",
                                           cu_brand_type_name(c->brand_type)) &&
                   cJSON_AddNumberToObject(s, "attitude", c->attitude) &&
                   cJSON_AddStringToObject(s, "loyalty_type",
                                           cu_loyalty_type_name(c->loyalty_type))
               ? 0
               : -1;
}

static int add_reward(cJSON *o, const struct customer *c, const struct derived_reward *rw)
{
    cJSON *r = cJSON_AddObjectToObject(o, "reward");

    if (!r || !cJSON_AddStringToObject(r, "type", cu_reward_name(rw->type))) {
        return -1;
    }
    if (rw->type == RW_MILESTONE &&
        !cJSON_AddNumberToObject(r, "milestone", rw->milestone)) {
        return -1;
    }
    if (rw->tier && !cJSON_AddStringToObject(r, "tier", rw->tier)) {
        return -1;
    }
    if (!cJSON_AddStringToObject(r, "kind", rw->kind) ||
        !cJSON_AddNumberToObject(r, "value", rw->value)) {
        return -1;
    }
    if (strcmp(rw->kind, "points") != 0 &&
        !cJSON_AddStringToObject(r, "currency", c->currency[0] ? c->currency : "USD")) {
        return -1;
    }
    if (rw->graded_by && !cJSON_AddStringToObject(r, "graded_by", rw->graded_by)) {
        return -1;
    }
    return 0;
}

static char *print_delete(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    return s;
}

char *derived_reward_payload(const struct customer *c, const char *event_id,
                             int64_t as_of_ms, const struct derived_reasons *why,
                             const struct derived_reward *rw)
{
    cJSON *o = head(c, DERIVED_SCHEMA_REWARD, event_id, as_of_ms, why);

    if (o && (add_scores(o, c) < 0 || add_reward(o, c, rw) < 0)) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_delete(o);
}

char *derived_churn_payload(const struct customer *c, const char *event_id,
                            int64_t as_of_ms, double threshold,
                            const struct derived_reasons *why)
{
    cJSON *o = head(c, DERIVED_SCHEMA_CHURN, event_id, as_of_ms, why);

    if (o && (!cJSON_AddNumberToObject(o, "churn_risk", c->churn_risk) ||
              !cJSON_AddNumberToObject(o, "threshold", threshold) ||
              !cJSON_AddNumberToObject(o, "crossing", (double)c->churn_seq) ||
              add_scores(o, c) < 0)) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_delete(o);
}

static int add_change(cJSON *o, const char *name, const char *from, const char *to)
{
    cJSON *ch = cJSON_AddObjectToObject(o, name);

    return ch && cJSON_AddStringToObject(ch, "from", from) &&
                   cJSON_AddStringToObject(ch, "to", to)
               ? 0
               : -1;
}

static int add_changed(cJSON *arr, int changed, const char *name)
{
    cJSON *s;

    if (!changed) {
        return 0;
    }
    s = cJSON_CreateString(name);
    if (!s || !cJSON_AddItemToArray(arr, s)) {
        cJSON_Delete(s);
        return -1;
    }
    return 0;
}

char *derived_segment_payload(const struct customer *c, const char *event_id,
                              int64_t as_of_ms, const struct derived_reasons *why,
                              const struct seg_classes *was)
{
    cJSON *o = head(c, DERIVED_SCHEMA_SEGMENT, event_id, as_of_ms, why);
    cJSON *arr = NULL;

    if (o && cJSON_AddNumberToObject(o, "sequence", (double)c->segment_seq)) {
        arr = cJSON_AddArrayToObject(o, "changed");
    }
    if (o &&
        (!arr || add_changed(arr, was->segment != c->segment, "segment") < 0 ||
         add_changed(arr, was->brand_type != c->brand_type, "brand_type") < 0 ||
         add_changed(arr, was->loyalty_type != c->loyalty_type, "loyalty_type") < 0 ||
         add_change(o, "segment", cu_segment_name(was->segment),
                    cu_segment_name(c->segment)) < 0 ||
         add_change(o, "brand_type", cu_brand_type_name(was->brand_type),
                    cu_brand_type_name(c->brand_type)) < 0 ||
         add_change(o, "loyalty_type", cu_loyalty_type_name(was->loyalty_type),
                    cu_loyalty_type_name(c->loyalty_type)) < 0 ||
         add_scores(o, c) < 0)) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_delete(o);
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
        derived_rfc3339(emitted_at_ms, ts, sizeof(ts)) < 0) {
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
