/*
 * store_load.c - customers read from Redis: the packed state (layout 4, or 3), or
 * the hash, aux string and outbox of layout 2 (docs/state.md), one function
 * call each; and the lists of derived events a layout 2 outbox leaves over.
 */
#include "state/store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/store/codec.h"
#include "state/store/packed.h"

/* The tag of a layout 2 outbox value, naming its kind. */
static const char *const kind_tags[OUT__COUNT] = {
    [OUT_CHURN_RISK] = "c", [OUT_REWARD] = "r", [OUT_SEGMENT] = "s"};

void publish_list_init(struct publish_list *o)
{
    memset(o, 0, sizeof(*o));
}

void publish_list_free(struct publish_list *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].payload);
    }
    array_free(o);
}

int publish_list_add(struct publish_list *o, enum out_kind k, const char *id,
                     const char *payload)
{
    char *copy = strdup(payload);
    struct publish_entry *e = NULL;

    if (copy == NULL || (e = array_push(o)) == NULL) {
        free(copy);
        return -1;
    }
    e->kind = k;
    snprintf(e->event_id, sizeof(e->event_id), "%s", id);
    e->payload = copy;
    return 0;
}

/* An outbox hash value is "TAG\tPAYLOAD": its kind in *k, or -1 if the tag
 * is none of ours. */
static int outbox_kind(const char *v, enum out_kind *k)
{
    for (int i = 0; i < OUT__COUNT; i++) {
        if (v[0] == kind_tags[i][0] && v[1] == '\t') {
            *k = (enum out_kind)i;
            return 0;
        }
    }
    return -1;
}

static int outbox_parse(const redisReply *flat, struct publish_list *out)
{
    if (flat == NULL || flat->type != REDIS_REPLY_ARRAY) {
        return -1;
    }
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const char *v = flat->element[i + 1]->str;
        enum out_kind k;

        if (outbox_kind(v, &k) < 0) {
            continue; /* not ours: leave it for an operator */
        }
        if (publish_list_add(out, k, flat->element[i]->str, v + 2) < 0) {
            return -1;
        }
    }
    return 0;
}

static int wm_parse(const char *name, const char *value, struct store_wm *wm)
{
    const char *colon;

    if (strncmp(name, "wm:", 3) != 0 || (colon = strchr(name + 3, ':')) == NULL) {
        return -1;
    }
    for (int src = 0; src < SRC__COUNT; src++) {
        const char *sn = event_source_name((enum ev_source)src);

        if (strlen(sn) == (size_t)(colon - name - 3) &&
            strncmp(name + 3, sn, strlen(sn)) == 0) {
            wm->source = src;
            wm->partition = (int32_t)strtol(colon + 1, NULL, 10);
            wm->offset = strtoll(value, NULL, 10);
            return 0;
        }
    }
    return -1;
}

/* What the store itself keeps in the hash beside the codec's fields. */
static void meta_from_kvlist(const struct kvlist *kv, struct store_meta *m)
{
    const char *rev = kvlist_get(kv, "rev"), *part = kvlist_get(kv, "partition");

    memset(m, 0, sizeof(*m));
    m->exists = rev != NULL;
    m->rev = rev ? strtoll(rev, NULL, 10) : 0;
    m->partition = part ? (int32_t)strtol(part, NULL, 10) : -1;
    for (size_t i = 0; i < kv->n && m->nwm < STORE_WM_MAX; i++) {
        if (wm_parse(kv->v[i].name, kv->v[i].value, &m->wm[m->nwm]) == 0) {
            m->nwm++;
        }
    }
}

/* A customer of layout 2 from its hash, aux string and outbox. */
static int load_layout2(const char *id, const redisReply *h, const redisReply *a,
                        const redisReply *ob, struct customer *c, struct store_meta *meta,
                        struct publish_list *leftover, char *err, size_t errlen)
{
    struct kvlist kv;
    int rc = -1;

    if (h->type != REDIS_REPLY_ARRAY || a->type != REDIS_REPLY_STRING ||
        outbox_parse(ob, leftover) < 0) {
        snprintf(err, errlen, "redis: unexpected reply loading customer %s", id);
        return -1;
    }
    kvlist_init(&kv);
    if (store_reply_to_kvlist(h, &kv) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    meta_from_kvlist(&kv, meta);
    meta->layout = meta->exists ? 2 : 0;
    if (!meta->exists) {
        customer_init(c, id);
        rc = 0;
        goto out;
    }
    rc = codec_decode(c, id, &kv, a->str[0] ? a->str : NULL, err, errlen);
out:
    kvlist_free(&kv);
    return rc;
}

/* One customer from loyaltyd_load's reply (store_lib.lua). */
static int load_one(const char *id, const redisReply *r, struct customer *c,
                    struct store_meta *meta, struct publish_list *leftover, char *err,
                    size_t errlen)
{
    switch (r->type) {
    case REDIS_REPLY_NIL:
        memset(meta, 0, sizeof(*meta));
        meta->partition = -1;
        customer_init(c, id);
        return 0;
    case REDIS_REPLY_STRING:
        return packed_decode((const unsigned char *)r->str, r->len, id, c, meta, err,
                             errlen);
    case REDIS_REPLY_ARRAY:
        if (r->elements == 3) {
            return load_layout2(id, r->element[0], r->element[1], r->element[2], c, meta,
                                leftover, err, errlen);
        }
        break;
    case REDIS_REPLY_ERROR:
        snprintf(err, errlen, "redis: %s", r->str);
        return -1;
    default:
        break;
    }
    snprintf(err, errlen, "redis: unexpected reply loading customer %s", id);
    return -1;
}

/* FCALL loyaltyd_load_4 (store_lib.lua) of one customer. */
static void append_fetch(struct store *s, const char *id)
{
    char h[STORE_KEY_MAX], st[STORE_KEY_MAX], aux[STORE_KEY_MAX], ob[STORE_KEY_MAX];

    store_key_of(s, h, sizeof(h), id, "");
    store_key_of(s, st, sizeof(st), id, ":state");
    store_key_of(s, aux, sizeof(aux), id, ":aux");
    store_key_of(s, ob, sizeof(ob), id, ":outbox");
    store_sendf(s, "FCALL_RO loyaltyd_load_4 4 %s %s %s %s", h, st, aux, ob);
}

int store_load_send(struct store *s, const char *const *ids, size_t n, char *err,
                    size_t errlen)
{
    if (!store_pipe_usable(s, err, errlen)) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        append_fetch(s, ids[i]);
    }
    store_pipe_sent(s, n);
    return 0;
}

/* A failed load that is the customer's alone: its reply is no error of
 * Redis itself (an error reply of an unknown class, such as WRONGTYPE, or a
 * state that does not decode). */
static int damaged(const redisReply *r)
{
    return r->type != REDIS_REPLY_ERROR || store_err_class(r->str) == STORE_ERR_OTHER;
}

int store_load_recv(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                    void *arg, char *err, size_t errlen)
{
    struct publish_list leftover;
    struct customer *c = NULL;
    struct store_meta meta;
    redisReply *r;
    int rc = 0;

    if (n == 0) {
        return 0;
    }
    if ((c = malloc(sizeof(*c))) == NULL) {
        snprintf(err, errlen, "out of memory");
        store_abandon(s);
        return -1;
    }
    /* One customer's replies at a time: a batch of loads never holds more
     * than one customer's reply objects. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = store_pipe_recv(s, &r, 1, err, errlen)) < 0) {
            break;
        }
        publish_list_init(&leftover);
        rc = load_one(ids[i], r, c, &meta, &leftover, err, errlen);
        if (rc == 0) {
            rc = got(arg, i, c, &meta, leftover.n ? &leftover : NULL, NULL);
        } else if (damaged(r)) {
            rc = got(arg, i, NULL, NULL, NULL, err);
        }
        publish_list_free(&leftover);
        freeReplyObject(r);
        if (rc < 0) {
            store_abandon(s); /* the rest of the replies are not read */
        }
    }
    free(c);
    return rc;
}

int store_load_many(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                    void *arg, char *err, size_t errlen)
{
    if (n == 0) {
        return 0;
    }
    if (!store_usable(s, err, errlen) || store_load_send(s, ids, n, err, errlen) < 0) {
        return -1;
    }
    return store_load_recv(s, ids, n, got, arg, err, errlen);
}

struct load_into {
    struct customer *c;
    struct store_meta *meta;
    char *err;
    size_t errlen;
};

static int got_into(void *arg, size_t i, const struct customer *c,
                    const struct store_meta *meta, const struct publish_list *leftover,
                    const char *damaged_why)
{
    struct load_into *to = arg;

    (void)i;
    (void)leftover;
    if (c == NULL) {
        snprintf(to->err, to->errlen, "%s", damaged_why);
        return -1;
    }
    memcpy(to->c, c, sizeof(*c));
    *to->meta = *meta;
    return 0;
}

int store_load(struct store *s, const char *id, struct customer *c,
               struct store_meta *meta, char *err, size_t errlen)
{
    struct load_into to = {c, meta, err, errlen};

    return store_load_many(s, &id, 1, got_into, &to, err, errlen);
}
