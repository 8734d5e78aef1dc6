/*
 * store_model.c - the fitted population parameters (BG/NBD, Gamma-Gamma)
 * and their version, in the hash P model.
 */
#include "state/store/store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int store_model_get(struct store *s, struct bg_params *bg, struct gg_params *gg,
                    int64_t *version)
{
    double v[7];
    char err[256];
    redisReply *r =
        store_cmd(s, err, sizeof(err), "HMGET %smodel r alpha a b p q gamma version",
                  s->opts.prefix);
    int rc = -1;

    if (r == NULL) {
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 8) {
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < 7; i++) {
        char *end = NULL;

        if (r->element[i]->type != REDIS_REPLY_STRING) {
            goto out;
        }
        v[i] = strtod(r->element[i]->str, &end);
        if (*end != '\0' || !(v[i] > 0) || !isfinite(v[i])) {
            goto out;
        }
    }
    *bg = (struct bg_params){v[0], v[1], v[2], v[3]};
    *gg = (struct gg_params){v[4], v[5], v[6]};
    if (version != NULL) { /* a fit saved before versions existed: 1 */
        *version = r->element[7]->type == REDIS_REPLY_STRING
                       ? strtoll(r->element[7]->str, NULL, 10)
                       : 1;
    }
    rc = 1;
out:
    freeReplyObject(r);
    return rc;
}

int64_t store_model_put(struct store *s, const struct bg_params *bg,
                        const struct gg_params *gg, const char *meta_json)
{
    static const char script[] = "redis.call('HSET', KEYS[1], unpack(ARGV)) "
                                 "return redis.call('HINCRBY', KEYS[1], 'version', 1)";
    const double v[7] = {bg->r, bg->alpha, bg->a, bg->b, gg->p, gg->q, gg->gamma};
    char err[256], key[STORE_KEY_MAX];
    char vals[7][40];
    redisReply *r;
    int64_t version = -1;

    for (size_t i = 0; i < 7; i++) {
        snprintf(vals[i], sizeof(vals[i]), "%.17g", v[i]);
    }
    snprintf(key, sizeof(key), "%smodel", s->opts.prefix);
    r = store_cmd(s, err, sizeof(err),
                  "EVAL %s 1 %s r %s alpha %s a %s b %s p %s q %s gamma %s unit weeks "
                  "meta %s",
                  script, key, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5],
                  vals[6], meta_json ? meta_json : "{}");
    if (r == NULL) {
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        version = r->integer;
    }
    freeReplyObject(r);
    return version;
}
