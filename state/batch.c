#include "state/batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/codec.h"
#include "state/derived.h"

/* Optimistic commits only conflict when two instances hold one customer at
 * once (a rebalance in progress); a few attempts settle it. */
#define BATCH_ATTEMPTS 8
/* Sweeps run before one event or in one sweep item, at most: every due time
 * moves forward, so this only bounds a model that would not. */
#define BATCH_SWEEPS_MAX 16
/* Commits appended between two writes to Redis: Redis applies the first ones
 * while the batch computes the next. */
#define BATCH_PUSH_EVERY 32

/* One customer of the batch. */
struct bcust {
    const char *id;
    struct cache_entry *e;
    size_t head, tail; /* its items, linked through run.next, in order */
    size_t nitems;
    int done;          /* committed */
    int loading;       /* a cache miss, loaded in this attempt */
    size_t pending;    /* outbox entries after the commit */
    unsigned wm_dirty; /* bit i: meta.wm[i] raised by this batch */
    struct store_wm raised[STORE_WM_MAX];
    unsigned char *blob; /* the new state, packed, until the commit settles */
    size_t blob_len;
    double score[STORE_IDX__COUNT]; /* for the indices, after the batch */
    int64_t due_ms;
    int64_t due_sent; /* the due time written with the commit */
    struct kvlist fields;
    char *aux;
    struct store_outbox add;
};

struct run {
    const struct batch_ctx *b;
    struct batch_item *items;
    size_t n;
    size_t *next; /* next item of the same customer, or SIZE_MAX */
    struct bcust *cust;
    size_t ncust;
    size_t *slots; /* open addressing: customer index + 1, 0 = empty */
    size_t nslots;
    struct customer *work;   /* the customer being applied */
    struct customer *shadow; /* its state before this batch, for the diff */
    struct batch_stats *st;
    char *err;
    size_t errlen;
};

static const char *item_customer(const struct batch_item *it)
{
    return it->ev ? it->ev->customer_id : it->sweep_id;
}

/* ---- grouping ----------------------------------------------------------- */

static size_t customer_of(struct run *r, const char *id)
{
    size_t h = (size_t)cu_hash64(id) & (r->nslots - 1);

    while (r->slots[h] != 0) {
        size_t i = r->slots[h] - 1;

        if (strcmp(r->cust[i].id, id) == 0)
            return i;
        h = (h + 1) & (r->nslots - 1);
    }
    r->slots[h] = r->ncust + 1;
    memset(&r->cust[r->ncust], 0, sizeof(r->cust[0]));
    r->cust[r->ncust].id = id;
    r->cust[r->ncust].head = SIZE_MAX;
    return r->ncust++;
}

static int group(struct run *r)
{
    r->nslots = 16;
    while (r->nslots < 2 * r->n)
        r->nslots *= 2;
    r->next = malloc(r->n * sizeof(*r->next));
    r->cust = malloc(r->n * sizeof(*r->cust));
    r->slots = calloc(r->nslots, sizeof(*r->slots));
    r->work = malloc(sizeof(*r->work));
    r->shadow = malloc(sizeof(*r->shadow));
    if (!r->next || !r->cust || !r->slots || !r->work || !r->shadow)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        struct bcust *k = &r->cust[customer_of(r, item_customer(&r->items[i]))];

        r->next[i] = SIZE_MAX;
        if (k->head == SIZE_MAX)
            k->head = i;
        else
            r->next[k->tail] = i;
        k->tail = i;
        k->nitems++;
    }
    return 0;
}

static void cust_reset(struct bcust *k)
{
    kvlist_free(&k->fields);
    free(k->aux);
    k->aux = NULL;
    free(k->blob);
    k->blob = NULL;
    store_outbox_free(&k->add);
}

/* c packed into a new buffer of *len bytes; NULL on ENOMEM. */
static unsigned char *pack_new(const struct customer *c, size_t *len)
{
    unsigned char *blob;

    *len = codec_pack(c, NULL, 0);
    if ((blob = malloc(*len)) != NULL)
        codec_pack(c, blob, *len);
    return blob;
}

/* Keep c packed as entry e's customer.  0, -1 on ENOMEM. */
static int pack_into(struct cache *cache, struct cache_entry *e, const struct customer *c)
{
    size_t len;
    unsigned char *blob = pack_new(c, &len);

    if (blob == NULL)
        return -1;
    cache_set_blob(cache, e, blob, len);
    return 0;
}

/* ---- load --------------------------------------------------------------- */

struct loaded {
    struct run *r;
    const size_t *which;
};

/* store_load_many's callback: one loaded customer into its cache entry. */
static int got_customer(void *arg, size_t i, const struct customer *c,
                        const struct store_meta *meta)
{
    struct loaded *l = arg;
    struct cache_entry *e = l->r->cust[l->which[i]].e;

    e->meta = *meta;
    if (pack_into(l->r->b->cache, e, c) < 0) {
        snprintf(l->r->err, l->r->errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Cache entries for every customer not yet done: hits pinned, misses put in
 * the cache (pinned, no customer yet) and their loads sent; ids[] and
 * which[] (room for every customer) get the misses.  0; 1, with nothing
 * pinned or put, when a customer's entry is pinned by another batch in
 * flight (a customer fed from two partitions: that batch must finish first);
 * -1. */
static int load_send(struct run *r, const char **ids, size_t *which, size_t *nmiss)
{
    const struct batch_ctx *b = r->b;

    size_t nhit = 0;

    /* The hits first, so that one held elsewhere is seen before anything is
     * put (which[] holds them meanwhile). */
    for (size_t i = 0; i < r->ncust; i++) {
        struct bcust *k = &r->cust[i];
        struct cache_entry *e;

        k->loading = 0;
        if (k->done || k->e || (e = cache_get(b->cache, k->id)) == NULL)
            continue;
        if (e->pinned > 0) {
            while (nhit > 0) {
                struct bcust *h = &r->cust[which[--nhit]];

                h->e->pinned--;
                h->e = NULL;
            }
            snprintf(r->err, r->errlen, "customer %s is held by a batch in flight",
                     k->id);
            return 1;
        }
        e->pinned++;
        k->e = e;
        which[nhit++] = i;
    }
    r->st->cache_hits += nhit;
    *nmiss = 0;
    for (size_t i = 0; i < r->ncust; i++) {
        struct bcust *k = &r->cust[i];

        if (k->done || k->e)
            continue;
        if ((k->e = cache_put(b->cache, k->id, b->task)) == NULL) {
            snprintf(r->err, r->errlen, "out of memory");
            return -1;
        }
        k->e->pinned++;
        k->loading = 1;
        ids[*nmiss] = k->id;
        which[(*nmiss)++] = i;
    }
    r->st->cache_misses += *nmiss;
    if (*nmiss == 0)
        return 0;
    if (store_load_send(b->store, ids, *nmiss, r->err, r->errlen) < 0)
        return -1;
    store_push(b->store);
    return 0;
}

/* ---- apply -------------------------------------------------------------- */

/* The outbox topic of each kind of emission. */
static const enum store_topic emission_topic[] = {
    [EM_CHURN_RISK] = STORE_TOPIC_CHURN,
    [EM_REWARD] = STORE_TOPIC_REWARDS,
    [EM_SEGMENT] = STORE_TOPIC_SEGMENTS,
};

static int outbox_add_emissions(struct bcust *k, const struct emission_list *em,
                                int64_t emitted_at_ms)
{
    for (size_t i = 0; i < em->n; i++) {
        enum store_topic t = emission_topic[em->v[i].kind];
        char *stamped = NULL;
        int rc;

        if (derived_finish(em->v[i].payload, emitted_at_ms, &stamped) < 0)
            return -1;
        rc = store_outbox_add(&k->add, t, em->v[i].event_id, stamped);
        free(stamped);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Evaluate every due time of the customer up to until_ms, each at its own
 * time: so whether a quiet spell is judged before an event does not depend
 * on when a sweeper happened to run.  Returns the number of sweeps, -1 on
 * ENOMEM. */
static int sweep_until(struct customer *c, int64_t until_ms, const struct model_ctx *m,
                       struct emission_list *em)
{
    int64_t last = INT64_MIN;
    int n = 0;

    while (n < BATCH_SWEEPS_MAX) {
        int64_t due = model_next_due(c, m);

        if (due > until_ms || due <= last)
            break;
        last = due;
        if (model_sweep(c, due > c->as_of_ms ? due : c->as_of_ms, m, em) < 0)
            return -1;
        n++;
    }
    return n;
}

static struct store_wm *wm_find(struct store_meta *meta, int source, int32_t partition)
{
    for (size_t i = 0; i < meta->nwm; i++)
        if (meta->wm[i].source == source && meta->wm[i].partition == partition)
            return &meta->wm[i];
    if (meta->nwm == STORE_WM_MAX)
        return NULL;
    meta->wm[meta->nwm] = (struct store_wm){source, partition, -1};
    return &meta->wm[meta->nwm++];
}

static void note_misroute(struct run *r, struct cache_entry *e, struct batch_item *it)
{
    if (e->meta.partition < 0 || it->partition == e->meta.partition)
        return;
    r->st->misrouted++;
    it->misrouted = e->misroute_logged ? 1 : 2;
    it->home_partition = e->meta.partition;
    e->misroute_logged = 1;
}

static int apply_event(struct run *r, struct bcust *k, struct batch_item *it,
                       struct emission_list *em)
{
    struct cache_entry *e = k->e;
    struct store_wm *wm = wm_find(&e->meta, it->source, it->partition);

    if (wm == NULL) { /* fed from more partitions than a customer can track */
        snprintf(it->err, sizeof(it->err), "customer fed from over %d topic partitions",
                 STORE_WM_MAX);
        it->status = BATCH_REJECTED;
        return 0;
    }
    if (it->offset <= wm->offset) {
        it->status = BATCH_DUPLICATE;
        return 0;
    }
    note_misroute(r, e, it);
    if (sweep_until(r->work, it->ev->ts_ms - 1, r->b->model, em) < 0)
        return -1;
    if (model_apply(r->work, it->ev, r->b->model, em, it->err, sizeof(it->err)) < 0) {
        it->status = BATCH_REJECTED; /* refused before any change */
        return 0;
    }
    wm->offset = it->offset;
    k->wm_dirty |= 1u << (wm - e->meta.wm);
    it->status = BATCH_APPLIED;
    return 0;
}

static int apply_item(struct run *r, struct bcust *k, struct batch_item *it)
{
    struct emission_list em;
    int rc;

    emission_list_init(&em);
    it->err[0] = '\0';
    it->misrouted = 0;
    if (it->ev) {
        rc = apply_event(r, k, it, &em);
    } else if (it->rescore) {
        rc = model_rescore(r->work, r->b->model, &em);
        it->status = rc == 1 ? BATCH_RESCORED : BATCH_SWEPT;
        rc = rc < 0 ? -1 : 0;
    } else {
        rc = sweep_until(r->work, it->sweep_until_ms, r->b->model, &em) < 0 ? -1 : 0;
        it->status = BATCH_SWEPT;
    }
    if (rc == 0 && outbox_add_emissions(k, &em, r->b->emitted_at_ms) < 0)
        rc = -1;
    emission_list_free(&em);
    return rc;
}

/* Apply one customer's items: encode what changed for the commit, pack the
 * new state for the cache, note its index scores and due time. */
static int apply_customer(struct run *r, struct bcust *k)
{
    struct customer *c = r->work;

    if (codec_unpack(k->e->blob, k->e->len, c) < 0) {
        snprintf(r->err, r->errlen, "customer %s: bad cache entry", k->id);
        return -1;
    }
    memcpy(r->shadow, c, sizeof(*c));
    k->wm_dirty = 0;
    kvlist_init(&k->fields);
    store_outbox_init(&k->add);
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i])
        if (apply_item(r, k, &r->items[i]) < 0)
            goto nomem;
    if (codec_encode_diff(k->e->meta.exists ? r->shadow : NULL, c, &k->fields, &k->aux) <
        0)
        goto nomem;
    if ((k->blob = pack_new(c, &k->blob_len)) == NULL)
        goto nomem;
    store_index_scores(c, k->score);
    k->due_ms = model_next_due(c, r->b->model);
    return 0;
nomem:
    snprintf(r->err, r->errlen, "out of memory applying customer %s", k->id);
    return -1;
}

/* ---- commit ------------------------------------------------------------- */

/* Only what changed: a customer whose events were all duplicates writes
 * nothing (the commit then only reads its outbox). */
static void fill_request(const struct run *r, struct bcust *k, struct store_commit_req *q)
{
    const struct store_meta *m = &k->e->meta;

    memset(q, 0, sizeof(*q));
    q->id = k->id;
    q->rev = m->rev;
    for (size_t i = 0; i < m->nwm; i++)
        if (k->wm_dirty & (1u << i))
            k->raised[q->nwm++] = m->wm[i];
    q->wm = k->raised;
    q->partition = m->partition < 0 ? r->b->task : -1;
    q->fields = &k->fields;
    q->aux = k->aux;
    q->add = &k->add;
}

static void commit_done(struct run *r, struct bcust *k, const struct store_commit_req *q)
{
    struct store_meta *m = &k->e->meta;
    void **opaques = malloc(k->nitems * sizeof(*opaques));
    size_t n = 0;

    m->rev = q->new_rev;
    m->exists = 1;
    if (m->partition < 0)
        m->partition = r->b->task;
    cache_set_blob(r->b->cache, k->e, k->blob, k->blob_len);
    k->blob = NULL;
    k->done = 1;
    k->pending = q->pending.n;
    k->e->indexed = 1;
    memcpy(k->e->idx, k->score, sizeof(k->e->idx));
    k->e->idx_due = k->due_sent;
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        struct batch_item *it = &r->items[i];

        r->st->applied += it->status == BATCH_APPLIED;
        r->st->duplicates += it->status == BATCH_DUPLICATE;
        r->st->rejected += it->status == BATCH_REJECTED;
        r->st->swept += it->status == BATCH_SWEPT;
        r->st->rescored += it->status == BATCH_RESCORED;
        if (opaques)
            opaques[n++] = it->opaque;
    }
    if (q->pending.n > 0)
        r->b->publish(r->b->publish_arg, k->id, &q->pending, opaques, n);
    free(opaques);
}

/* What of customer k's index entries and due time differ from what this
 * process last wrote for it; the due time is 0 while its outbox holds
 * anything, so that the sweeper publishes what a crash left behind (an
 * entry still in flight in this process is skipped by the publisher).  The
 * outbox after the commit is only known from its reply: a commit adding
 * nothing to an outbox that still held entries is caught by outbox_due. */
static void index_request(const struct run *r, const struct bcust *k,
                          struct store_index_req *q)
{
    const struct cache_entry *e = k->e;

    q->id = k->id;
    q->set = 0;
    memcpy(q->score, k->score, sizeof(q->score));
    for (int i = 0; i < STORE_IDX__COUNT; i++)
        if (!e->indexed || e->idx[i] != k->score[i])
            q->set |= 1u << i;
    q->partition = e->meta.partition >= 0 ? e->meta.partition : r->b->task;
    q->due_ms = k->due_sent;
    if (!e->indexed || e->idx_due != k->due_sent)
        q->set |= STORE_INDEX_DUE;
}

/* Customers committed with entries left in their outbox that the due time
 * sent with the commit did not foresee: due at once (one more round trip,
 * after a crash only). */
static int outbox_due(struct run *r, const size_t *which, size_t nq)
{
    struct store_index_req *q = malloc((nq ? nq : 1) * sizeof(*q));
    size_t n = 0;
    int rc;

    if (q == NULL) {
        snprintf(r->err, r->errlen, "out of memory");
        return -1;
    }
    for (size_t j = 0; j < nq; j++) {
        struct bcust *k = &r->cust[which[j]];

        if (!k->done || k->pending == 0 || k->due_sent == 0)
            continue;
        q[n] = (struct store_index_req){.id = k->id,
                                        .set = STORE_INDEX_DUE,
                                        .partition = k->e->meta.partition,
                                        .due_ms = 0};
        k->e->idx_due = 0;
        n++;
    }
    rc = store_index_many(r->b->store, q, n);
    if (rc < 0)
        snprintf(r->err, r->errlen, "redis: due time update failed");
    free(q);
    return rc;
}

/* A customer that is not stored (deleted since it was found due or listed
 * for a rescore) and has no event in the batch: nothing to evaluate, and
 * nothing to write (a commit would create it).  Its items are done. */
static int nothing_to_do(struct run *r, struct bcust *k)
{
    if (k->e->meta.exists)
        return 0;
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i])
        if (r->items[i].ev != NULL)
            return 0;
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i])
        r->items[i].status = BATCH_SWEPT;
    k->done = 1;
    return 1;
}

/* Apply customer i, append its commit to the pipeline as q[*nq]. */
static int apply_send(struct run *r, size_t i, struct store_commit_req *q, size_t *which,
                      size_t *nq)
{
    struct bcust *k = &r->cust[i];

    if (nothing_to_do(r, k))
        return 0;
    if (apply_customer(r, k) < 0)
        return -1;
    k->due_sent = k->add.n > 0 ? 0 : k->due_ms;
    fill_request(r, k, &q[*nq]);
    if (store_commit_send(r->b->store, &q[*nq], r->err, r->errlen) < 0)
        return -1;
    /* Sent: the connection holds the request now. */
    kvlist_free(&k->fields);
    free(k->aux);
    k->aux = NULL;
    store_outbox_free(&k->add);
    q[*nq].fields = NULL;
    q[*nq].aux = NULL;
    q[*nq].add = NULL;
    which[(*nq)++] = i;
    if (*nq % BATCH_PUSH_EVERY == 0)
        store_push(r->b->store);
    return 0;
}

/* One attempt's requests, from its sends to its replies. */
struct attempt {
    struct store_commit_req *q;
    struct store_index_req *iq;
    size_t *which, *miss;
    const char **ids;
    size_t nq, nmiss, ncmds;
};

static void attempt_free(struct attempt *a)
{
    for (size_t j = 0; a->q && j < a->nq; j++)
        store_outbox_free(&a->q[j].pending);
    free(a->q);
    free(a->iq);
    free(a->which);
    free(a->miss);
    free(a->ids);
    memset(a, 0, sizeof(*a));
}

/*
 * Apply and commit every customer not yet done, as one pipeline: the loads
 * of the misses go first; the cached customers are applied and their commits
 * sent while Redis serves the loads; then the loaded ones; then the index
 * updates of all.  Only the replies of the commits and index updates are left
 * to read (attempt_recv).  0; 1 with nothing sent when a customer is held by
 * another batch in flight (load_send); -1 with nothing left in flight.
 */
static int attempt_send(struct run *r, struct attempt *a)
{
    struct store *store = r->b->store;
    struct loaded l = {r, NULL};
    int rc;

    memset(a, 0, sizeof(*a));
    a->q = calloc(r->ncust, sizeof(*a->q));
    a->iq = malloc(r->ncust * sizeof(*a->iq));
    a->which = malloc(r->ncust * sizeof(*a->which));
    a->miss = malloc(r->ncust * sizeof(*a->miss));
    a->ids = malloc(r->ncust * sizeof(*a->ids));
    l.which = a->miss;
    if (!a->q || !a->iq || !a->which || !a->miss || !a->ids) {
        snprintf(r->err, r->errlen, "out of memory");
        goto fail;
    }
    if ((rc = load_send(r, a->ids, a->miss, &a->nmiss)) == 1)
        return 1;
    if (rc < 0)
        goto fail;
    for (size_t i = 0; i < r->ncust; i++)
        if (!r->cust[i].done && !r->cust[i].loading &&
            apply_send(r, i, a->q, a->which, &a->nq) < 0)
            goto fail;
    if (store_load_recv(store, a->ids, a->nmiss, got_customer, &l, r->err, r->errlen) < 0)
        goto fail;
    for (size_t j = 0; j < a->nmiss; j++)
        if (apply_send(r, a->miss[j], a->q, a->which, &a->nq) < 0)
            goto fail;
    for (size_t j = 0; j < a->nq; j++)
        index_request(r, &r->cust[a->which[j]], &a->iq[j]);
    if (store_index_send(store, a->iq, a->nq, &a->ncmds, r->err, r->errlen) < 0)
        goto fail;
    store_push(store);
    r->st->commits += a->nq;
    return 0;
fail:
    store_abandon(store); /* replies of what was sent are not wanted */
    return -1;
}

/* The replies of attempt_send's requests.  Returns the number of customers
 * not done (conflicts, to be reloaded), or -1. */
static long attempt_recv(struct run *r, struct attempt *a)
{
    struct store *store = r->b->store;
    long left = -1;

    if (store_commit_recv(store, a->q, a->nq, r->err, r->errlen) < 0 ||
        store_index_recv(store, a->ncmds, r->err, r->errlen) < 0)
        goto out;
    left = 0;
    for (size_t j = 0; j < a->nq; j++) {
        struct bcust *k = &r->cust[a->which[j]];

        if (a->q[j].res == STORE_APPLIED) {
            commit_done(r, k, &a->q[j]);
        } else {
            r->st->conflicts++;
            cache_drop(r->b->cache, k->e); /* another writer: load again */
            k->e = NULL;
            left++;
        }
        cust_reset(k);
    }
    if (outbox_due(r, a->which, a->nq) < 0)
        left = -1;
out:
    if (left < 0)
        store_abandon(store);
    return left;
}

/* ---- the batch ---------------------------------------------------------- */

static void release(struct run *r, int failed)
{
    for (size_t i = 0; r->cust && i < r->ncust; i++) {
        struct bcust *k = &r->cust[i];

        cust_reset(k);
        if (k->e == NULL)
            continue;
        k->e->pinned--;
        /* Its state may hold what was never committed. */
        if (failed)
            cache_drop(r->b->cache, k->e);
    }
    cache_trim(r->b->cache);
    free(r->next);
    free(r->cust);
    free(r->slots);
    free(r->work);
    free(r->shadow);
}

/* A batch between batch_start and batch_finish. */
struct batch {
    struct run r;
    struct attempt a;
    int failed; /* the first attempt failed before anything was in flight */
};

int batch_start(const struct batch_ctx *b, struct batch_item *items, size_t n,
                struct batch_stats *st, char *err, size_t errlen, struct batch **out)
{
    struct batch *bt = calloc(1, sizeof(*bt));
    int rc = 0;

    *out = NULL;
    err[0] = '\0';
    if (bt == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bt->r =
        (struct run){b, items, n, NULL, NULL, 0, NULL, 0, NULL, NULL, st, err, errlen};
    if (n > 0 && group(&bt->r) < 0) {
        snprintf(err, errlen, "out of memory");
        release(&bt->r, 1);
        free(bt);
        return -1;
    }
    if (n > 0 && (rc = attempt_send(&bt->r, &bt->a)) == 1) {
        attempt_free(&bt->a);
        release(&bt->r, 0);
        free(bt);
        return 1;
    }
    bt->failed = n > 0 && rc < 0;
    *out = bt;
    return 0;
}

int batch_finish(struct batch *bt)
{
    struct run *r = &bt->r;
    long left = -1;
    int rc = -1;

    if (r->n == 0) {
        rc = 0;
        goto out;
    }
    if (bt->failed || (left = attempt_recv(r, &bt->a)) < 0)
        goto out;
    for (int i = 1; i < BATCH_ATTEMPTS && left > 0; i++) {
        attempt_free(&bt->a);
        if (attempt_send(r, &bt->a) != 0 || (left = attempt_recv(r, &bt->a)) < 0)
            goto out;
    }
    if (left > 0) {
        snprintf(r->err, r->errlen, "%ld customers: revision kept changing", left);
        goto out;
    }
    rc = 0;
out:
    attempt_free(&bt->a);
    release(r, rc < 0);
    free(bt);
    return rc;
}

int batch_run(const struct batch_ctx *b, struct batch_item *items, size_t n,
              struct batch_stats *st, char *err, size_t errlen)
{
    struct batch *bt;
    /* 1 (a customer held by a batch in flight) is a failure here: err says so */
    return batch_start(b, items, n, st, err, errlen, &bt) == 0 ? batch_finish(bt) : -1;
}
