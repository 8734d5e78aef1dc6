#include "state/engine/batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/model/model.h"
#include "state/store/codec.h"
#include "state/store/packed.h"

/* Optimistic commits only conflict when two instances hold one customer at
 * once (a rebalance in progress); a few attempts settle it. */
#define BATCH_ATTEMPTS 8
/* Commits appended between two writes to Redis: Redis applies the first ones
 * while the batch computes the next. */
#define BATCH_PUSH_EVERY 32

/* One customer of the batch. */
struct bcust {
    const char *id;
    struct cache_entry *e;
    size_t head, tail;      /* its items, linked through run.next, in order */
    int done;               /* committed */
    int loading;            /* a cache miss, loaded in this attempt */
    int applied;            /* applied in this attempt, its commit not yet read */
    unsigned wm_dirty;      /* bit i: meta.wm[i] raised by this batch */
    int changed;            /* its state changed: the commit writes it */
    int set_aside;          /* its stored state cannot be read: untouched */
    struct store_meta meta; /* what the commit stores beside the state */
    unsigned char *blob;    /* the new state, packed, until the commit settles */
    size_t blob_len;
    double score[STORE_IDX__COUNT]; /* for the indices, after the batch */
    int64_t due_ms;
    struct kvlist summary;   /* the summary fields that changed */
    struct publish_list add; /* derived events, until handed to the publisher */
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
    const struct batch_store_ops *ops; /* b->store_ops, or the Redis store's */
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

        if (strcmp(r->cust[i].id, id) == 0) {
            return i;
        }
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
    while (r->nslots < 2 * r->n) {
        r->nslots *= 2;
    }
    r->next = malloc(r->n * sizeof(*r->next));
    r->cust = malloc(r->n * sizeof(*r->cust));
    r->slots = calloc(r->nslots, sizeof(*r->slots));
    r->work = malloc(sizeof(*r->work));
    r->shadow = malloc(sizeof(*r->shadow));
    if (!r->next || !r->cust || !r->slots || !r->work || !r->shadow) {
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        struct bcust *k = &r->cust[customer_of(r, item_customer(&r->items[i]))];

        r->next[i] = SIZE_MAX;
        if (k->head == SIZE_MAX) {
            k->head = i;
        } else {
            r->next[k->tail] = i;
        }
        k->tail = i;
    }
    return 0;
}

static void cust_reset(struct bcust *k)
{
    kvlist_free(&k->summary);
    free(k->blob);
    k->blob = NULL;
    publish_list_free(&k->add);
}

/* Keep c packed as entry e's customer.  0, -1 on ENOMEM. */
static int pack_into(struct cache *cache, struct cache_entry *e, const struct customer *c)
{
    size_t len;
    unsigned char *blob = packed_new(c, &e->meta, &len);

    if (blob == NULL) {
        return -1;
    }
    cache_set_blob(cache, e, blob, len);
    return 0;
}

/* ---- load --------------------------------------------------------------- */

struct loaded {
    struct run *r;
    const size_t *which;
};

/* A customer whose stored state cannot be read: every item of it is
 * quarantined with the reason, and nothing of it is applied or written; its
 * cache entry, which has no customer, goes at release.  One damaged
 * customer does not hold up the others (README, "Guarantees"). */
static void set_aside(struct run *r, struct bcust *k, const char *why)
{
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        struct batch_item *it = &r->items[i];

        it->status = BATCH_QUARANTINED;
        snprintf(it->err, sizeof(it->err), "%s", why);
        r->st->quarantined++;
    }
    k->set_aside = 1;
    k->done = 1;
}

/* store_load_recv's callback: one loaded customer into its cache entry; a
 * layout 2 customer's leftover outbox is published with its own events. */
static int got_customer(void *arg, size_t i, const struct customer *c,
                        const struct store_meta *meta,
                        const struct publish_list *leftover, const char *damaged)
{
    struct loaded *l = arg;
    struct bcust *k = &l->r->cust[l->which[i]];

    if (c == NULL) {
        set_aside(l->r, k, damaged);
        return 0;
    }
    k->e->meta = *meta;
    for (size_t j = 0; leftover && j < leftover->n; j++) {
        if (publish_list_add(&k->add, leftover->v[j].kind, leftover->v[j].event_id,
                             leftover->v[j].payload) < 0) {
            goto nomem;
        }
    }
    if (pack_into(l->r->b->cache, k->e, c) < 0) {
        goto nomem;
    }
    return 0;
nomem:
    snprintf(l->r->err, l->r->errlen, "out of memory");
    return -1;
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
        if (k->done || k->e || (e = cache_get(b->cache, k->id)) == NULL) {
            continue;
        }
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

        if (k->done || k->e) {
            continue;
        }
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
    if (*nmiss == 0) {
        return 0;
    }
    if (r->ops->load_send(b->store, ids, *nmiss, r->err, r->errlen) < 0) {
        return -1;
    }
    r->ops->push(b->store);
    return 0;
}

/* ---- apply -------------------------------------------------------------- */

static int add_emissions(struct bcust *k, const struct emission_list *em,
                         int64_t emitted_at_ms)
{
    for (size_t i = 0; i < em->n; i++) {
        char *stamped = NULL;
        int rc;

        if (derived_finish(em->v[i].payload, emitted_at_ms, &stamped) < 0) {
            return -1;
        }
        rc = publish_list_add(&k->add, em->v[i].kind, em->v[i].event_id, stamped);
        free(stamped);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static struct store_wm *wm_find(struct store_meta *meta, int source, int32_t partition)
{
    for (size_t i = 0; i < meta->nwm; i++) {
        if (meta->wm[i].source == source && meta->wm[i].partition == partition) {
            return &meta->wm[i];
        }
    }
    if (meta->nwm == STORE_WM_MAX) {
        return NULL;
    }
    meta->wm[meta->nwm] = (struct store_wm){source, partition, -1};
    return &meta->wm[meta->nwm++];
}

static void note_misroute(struct run *r, struct cache_entry *e, struct batch_item *it)
{
    if (e->meta.partition < 0 || it->partition == e->meta.partition) {
        return;
    }
    r->st->misrouted++;
    it->misrouted = e->misroute_logged ? 1 : 2;
    it->home_partition = e->meta.partition;
    e->misroute_logged = 1;
}

/* An event re-sent upstream at another offset: its event_id, or for an
 * order.placed its order_id, is among the customer's recent ids. */
static int seen_before(const struct customer *c, struct batch_item *it)
{
    const struct event *ev = it->ev;

    if (cu_seen_has(c, cu_event_key(ev->event_id))) {
        it->dup = DUP_EVENT_ID;
    } else if (ev->type == EV_ORDER_PLACED &&
               cu_seen_has(c, cu_order_key(ev->order_id))) {
        it->dup = DUP_ORDER_ID;
    } else {
        return 0;
    }
    it->status = BATCH_DUPLICATE;
    return 1;
}

static int apply_event(struct run *r, struct bcust *k, struct batch_item *it,
                       struct emission_list *em)
{
    struct cache_entry *e = k->e;
    struct store_wm *wm = wm_find(&e->meta, it->source, it->partition);
    int n;

    if (wm == NULL) { /* fed from more partitions than a customer can track */
        snprintf(it->err, sizeof(it->err), "customer fed from over %d topic partitions",
                 STORE_WM_MAX);
        it->status = BATCH_REJECTED;
        return 0;
    }
    if (it->offset <= wm->offset) {
        it->status = BATCH_DUPLICATE;
        it->dup = DUP_OFFSET;
        return 0;
    }
    note_misroute(r, e, it);
    if (seen_before(r->work, it)) {
        wm->offset = it->offset;
        k->wm_dirty |= 1u << (wm - e->meta.wm);
        return 0;
    }
    /* Ties: a due time at the event's own instant fires before it, as the
     * sweeper fires every due time up to the stream time it has reached. */
    if ((n = model_advance(r->work, it->ev->ts_ms, r->b->model, em)) < 0) {
        return -1;
    }
    r->st->timers += (uint64_t)n;
    if ((n = model_apply(r->work, it->ev, r->b->model, em, it->err, sizeof(it->err))) <
        0) {
        it->status = BATCH_REJECTED; /* refused before any change */
        it->no_rate = n == MODEL_NO_RATE;
        return 0;
    }
    wm->offset = it->offset;
    k->wm_dirty |= 1u << (wm - e->meta.wm);
    it->status = BATCH_APPLIED;
    cu_seen_add(r->work, cu_event_key(it->ev->event_id), r->b->dedup_window);
    if (it->ev->type == EV_ORDER_PLACED) {
        cu_seen_add(r->work, cu_order_key(it->ev->order_id), r->b->dedup_window);
    }
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
        int n = model_advance(r->work, it->sweep_until_ms, r->b->model, &em);

        r->st->timers += n > 0 ? (uint64_t)n : 0;
        rc = n < 0 ? -1 : 0;
        it->status = BATCH_SWEPT;
    }
    if (rc == 0 && add_emissions(k, &em, r->b->emitted_at_ms) < 0) {
        rc = -1;
    }
    emission_list_free(&em);
    return rc;
}

/* Did customer k's items change its state?  Duplicates and refusals do not
 * (a duplicate by id may still raise a watermark). */
static int state_changed(const struct run *r, const struct bcust *k)
{
    if (k->wm_dirty) {
        return 1;
    }
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        enum batch_status st = r->items[i].status;

        if (st == BATCH_APPLIED || st == BATCH_SWEPT || st == BATCH_RESCORED) {
            return 1;
        }
    }
    return 0;
}

/* Apply one customer's items: the summary fields that changed and the new
 * state, packed with the revision the commit gives it; its index scores and
 * due time. */
static int apply_customer(struct run *r, struct bcust *k)
{
    struct customer *c = r->work;
    const struct store_meta *m = &k->e->meta;
    struct store_meta unused;

    if (packed_decode(k->e->blob, k->e->len, k->id, c, &unused, r->err, r->errlen) < 0) {
        return -1;
    }
    memcpy(r->shadow, c, sizeof(*c));
    k->wm_dirty = 0;
    kvlist_init(&k->summary);
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        if (apply_item(r, k, &r->items[i]) < 0) {
            goto nomem;
        }
    }
    k->meta = *m;
    if ((k->changed = state_changed(r, k))) {
        char part[16];

        k->meta.exists = 1;
        k->meta.layout = PACKED_LAYOUT;
        k->meta.rev = m->rev + 1;
        if (k->meta.partition < 0) {
            k->meta.partition = r->b->task;
        }
        /* A layout 2 hash is replaced whole: every summary field is new.
         * Layout 3 kept the summary layout 4 keeps. */
        if (codec_summary_diff(m->layout == 2 ? NULL : r->shadow, c, &k->summary) < 0) {
            goto nomem;
        }
        snprintf(part, sizeof(part), "%" PRId32, k->meta.partition);
        if (m->partition != k->meta.partition || m->layout == 2) {
            if (kvlist_add(&k->summary, "partition", part) < 0) {
                goto nomem;
            }
        }
        if ((k->blob = packed_new(c, &k->meta, &k->blob_len)) == NULL) {
            goto nomem;
        }
    }
    store_index_scores(c, k->score);
    k->due_ms = model_next_due(c, r->b->model);
    return 0;
nomem:
    snprintf(r->err, r->errlen, "out of memory applying customer %s", k->id);
    return -1;
}

/* ---- commit ------------------------------------------------------------- */

/* Only what changed: a customer whose events were all duplicates writes
 * nothing (the commit then only checks its revision). */
static void fill_request(const struct bcust *k, struct store_commit_req *q)
{
    memset(q, 0, sizeof(*q));
    q->id = k->id;
    q->rev = k->e->meta.rev;
    q->upgrade = k->e->meta.layout == 2;
    q->state = k->changed ? k->blob : NULL;
    q->state_len = k->changed ? k->blob_len : 0;
    q->summary = &k->summary;
}

static void commit_done(struct run *r, struct bcust *k, const struct store_commit_req *q)
{
    if (k->changed) {
        k->e->meta = k->meta;
        cache_set_blob(r->b->cache, k->e, k->blob, k->blob_len);
        k->blob = NULL;
    }
    k->e->meta.rev = q->new_rev;
    k->done = 1;
    k->e->indexed = 1;
    memcpy(k->e->idx, k->score, sizeof(k->e->idx));
    k->e->idx_due = k->due_ms;
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        struct batch_item *it = &r->items[i];

        r->st->applied += it->status == BATCH_APPLIED;
        r->st->duplicates += it->status == BATCH_DUPLICATE;
        if (it->status == BATCH_DUPLICATE) {
            r->st->dup[it->dup]++;
        }
        r->st->rejected += it->status == BATCH_REJECTED;
        r->st->swept += it->status == BATCH_SWEPT;
        r->st->rescored += it->status == BATCH_RESCORED;
    }
}

/* Was customer k found by the sweeper?  Redis then holds a due time for it
 * at or before the sweep's time, which the due time now computed replaces
 * even where this process believes it wrote that already. */
static int swept(const struct run *r, const struct bcust *k)
{
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        if (r->items[i].ev == NULL && !r->items[i].rescore) {
            return 1;
        }
    }
    return 0;
}

/* What of customer k's index entries and due time differ from what this
 * process last wrote for it. */
static void index_request(const struct run *r, const struct bcust *k,
                          struct store_index_req *q)
{
    const struct cache_entry *e = k->e;

    q->id = k->id;
    q->set = 0;
    memcpy(q->score, k->score, sizeof(q->score));
    for (int i = 0; i < STORE_IDX__COUNT; i++) {
        if (!e->indexed || e->idx[i] != k->score[i]) {
            q->set |= 1u << i;
        }
    }
    q->partition = e->meta.partition >= 0 ? e->meta.partition : r->b->task;
    q->due_ms = k->due_ms;
    if (!e->indexed || e->idx_due != k->due_ms || swept(r, k)) {
        q->set |= STORE_INDEX_DUE;
    }
}

/* A customer that is not stored (deleted since it was found due or listed
 * for a rescore) and has no event in the batch: nothing to evaluate, and
 * nothing to write (a commit would create it).  Its items are done. */
static int nothing_to_do(struct run *r, struct bcust *k)
{
    if (k->e->meta.exists) {
        return 0;
    }
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        if (r->items[i].ev != NULL) {
            return 0;
        }
    }
    for (size_t i = k->head; i != SIZE_MAX; i = r->next[i]) {
        r->items[i].status = BATCH_SWEPT;
    }
    k->done = 1;
    return 1;
}

/* Apply customer i: its new state, summary and derived events stay in k
 * until its commit. */
static int apply_one(struct run *r, size_t i)
{
    struct bcust *k = &r->cust[i];

    if (nothing_to_do(r, k)) {
        return 0;
    }
    if (apply_customer(r, k) < 0) {
        return -1;
    }
    k->applied = 1;
    return 0;
}

/* Hand every applied customer's derived events to the publisher. */
static int publish_all(struct run *r)
{
    const struct batch_ctx *b = r->b;

    for (size_t i = 0; i < r->ncust; i++) {
        struct bcust *k = &r->cust[i];

        if (!k->applied || k->add.n == 0) {
            continue;
        }
        if (b->publish(b->publish_arg, k->id, &k->add, b->pending) < 0) {
            snprintf(r->err, r->errlen, "out of memory publishing for customer %s",
                     k->id);
            return -1;
        }
        r->st->derived += k->add.n;
        publish_list_free(&k->add);
    }
    return 0;
}

/* One attempt's requests, from its loads to the replies of its commits. */
struct attempt {
    struct store_commit_req *q;
    struct store_index_req *iq;
    size_t *which, *miss;
    const char **ids;
    size_t nq, nmiss, ncmds;
};

static void attempt_free(struct attempt *a)
{
    free(a->q);
    free(a->iq);
    free(a->which);
    free(a->miss);
    free(a->ids);
    memset(a, 0, sizeof(*a));
}

/*
 * Apply every customer not yet done, the loads pipelined: the loads of the
 * misses go first; the cached customers are applied while Redis serves
 * them; then the loaded ones.  Then every derived event is handed to the
 * publisher: the commits wait for their delivery (attempt_commit).  0; 1
 * with nothing sent when a customer is held by another batch in flight
 * (load_send); -1 with nothing left in flight.
 */
static int attempt_apply(struct run *r, struct attempt *a)
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
    if ((rc = load_send(r, a->ids, a->miss, &a->nmiss)) == 1) {
        return 1;
    }
    if (rc < 0) {
        goto fail;
    }
    for (size_t i = 0; i < r->ncust; i++) {
        if (!r->cust[i].done && !r->cust[i].loading && apply_one(r, i) < 0) {
            goto fail;
        }
    }
    rc = r->ops->load_recv(store, a->ids, a->nmiss, got_customer, &l, r->err, r->errlen);
    if (rc < 0) {
        goto fail;
    }
    for (size_t j = 0; j < a->nmiss; j++) {
        if (!r->cust[a->miss[j]].done && apply_one(r, a->miss[j]) < 0) {
            goto fail;
        }
    }
    if (publish_all(r) < 0) {
        goto fail;
    }
    return 0;
fail:
    r->ops->abandon(store); /* replies of what was sent are not wanted */
    return -1;
}

/* The commits of the customers attempt_apply applied, and their index
 * updates, as one pipeline.  0, or -1 with nothing left in flight. */
static int attempt_commit(struct run *r, struct attempt *a)
{
    struct store *store = r->b->store;

    for (size_t i = 0; i < r->ncust; i++) {
        struct bcust *k = &r->cust[i];

        if (!k->applied || k->done) {
            continue;
        }
        fill_request(k, &a->q[a->nq]);
        if (r->ops->commit_send(store, &a->q[a->nq], r->err, r->errlen) < 0) {
            goto fail;
        }
        /* Sent: the connection holds the request now (the packed state
         * stays for the cache). */
        kvlist_free(&k->summary);
        a->q[a->nq].summary = NULL;
        a->q[a->nq].state = NULL;
        a->which[a->nq++] = i;
        if (a->nq % BATCH_PUSH_EVERY == 0) {
            r->ops->push(store);
        }
    }
    for (size_t j = 0; j < a->nq; j++) {
        index_request(r, &r->cust[a->which[j]], &a->iq[j]);
    }
    if (r->ops->index_send(store, a->iq, a->nq, &a->ncmds, r->err, r->errlen) < 0) {
        goto fail;
    }
    r->ops->push(store);
    r->st->commits += a->nq;
    return 0;
fail:
    r->ops->abandon(store);
    return -1;
}

/* The replies of attempt_commit's requests.  Returns the number of customers
 * not done (conflicts, to be reloaded), or -1. */
static long attempt_recv(struct run *r, struct attempt *a)
{
    struct store *store = r->b->store;
    long left = -1;

    if (r->ops->commit_recv(store, a->q, a->nq, r->err, r->errlen) < 0 ||
        r->ops->index_recv(store, a->ncmds, r->err, r->errlen) < 0) {
        goto out;
    }
    left = 0;
    for (size_t j = 0; j < a->nq; j++) {
        struct bcust *k = &r->cust[a->which[j]];

        k->applied = 0;
        if (a->q[j].res == STORE_APPLIED) {
            commit_done(r, k, &a->q[j]);
        } else {
            /* Another writer: this instance lost the customer's task, or
             * one is taking it over.  Load again and apply on its state.
             * A revision older than the one expected is no other writer:
             * Redis lost writes it had acknowledged. */
            r->st->conflicts++;
            if (a->q[j].new_rev < a->q[j].rev) {
                r->st->rewound++;
            }
            cache_drop(r->b->cache, k->e);
            k->e = NULL;
            left++;
        }
        cust_reset(k);
    }
out:
    if (left < 0) {
        r->ops->abandon(store);
    }
    return left;
}

/* Wait for the delivery of the derived events published, then commit. */
static long attempt_finish(struct run *r, struct attempt *a)
{
    const struct batch_ctx *b = r->b;

    if (b->await(b->publish_arg, b->pending, b->await_ms) < 0) {
        snprintf(r->err, r->errlen,
                 "derived events not acknowledged by Kafka within %d ms; nothing "
                 "committed",
                 b->await_ms);
        return -1;
    }
    if (attempt_commit(r, a) < 0) {
        return -1;
    }
    return attempt_recv(r, a);
}

/* ---- the batch ---------------------------------------------------------- */

static void release(struct run *r, int failed)
{
    for (size_t i = 0; r->cust && i < r->ncust; i++) {
        struct bcust *k = &r->cust[i];

        cust_reset(k);
        if (k->e == NULL) {
            continue;
        }
        k->e->pinned--;
        /* Its state may hold what was never committed, or none at all. */
        if (failed || k->set_aside) {
            cache_drop(r->b->cache, k->e);
        }
    }
    cache_trim(r->b->cache);
    free(r->next);
    free(r->cust);
    free(r->slots);
    free(r->work);
    free(r->shadow);
}

/* The store a batch_ctx without store_ops uses. */
static const struct batch_store_ops redis_store = {
    .load_send = store_load_send,
    .load_recv = store_load_recv,
    .commit_send = store_commit_send,
    .commit_recv = store_commit_recv,
    .index_send = store_index_send,
    .index_recv = store_index_recv,
    .push = store_push,
    .abandon = store_abandon,
};

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
    /* Copies of this lane's derived events from a failed attempt are still
     * on their way: publishing them again now would pile them up while
     * Kafka is away. */
    if (bt != NULL && n > 0 && *b->pending > 0) {
        snprintf(err, errlen,
                 "%u derived events of an earlier attempt not yet acknowledged",
                 *b->pending);
        free(bt);
        return -1;
    }
    if (bt == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bt->r = (struct run){.b = b,
                         .items = items,
                         .n = n,
                         .st = st,
                         .err = err,
                         .errlen = errlen,
                         .ops = b->store_ops ? b->store_ops : &redis_store};
    if (n > 0 && group(&bt->r) < 0) {
        snprintf(err, errlen, "out of memory");
        release(&bt->r, 1);
        free(bt);
        return -1;
    }
    if (n > 0 && (rc = attempt_apply(&bt->r, &bt->a)) == 1) {
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
    if (bt->failed || (left = attempt_finish(r, &bt->a)) < 0) {
        goto out;
    }
    for (int i = 1; i < BATCH_ATTEMPTS && left > 0; i++) {
        attempt_free(&bt->a);
        if (attempt_apply(r, &bt->a) != 0 || (left = attempt_finish(r, &bt->a)) < 0) {
            goto out;
        }
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

void batch_abandon(struct batch *bt)
{
    if (bt == NULL) {
        return;
    }
    attempt_free(&bt->a);
    release(&bt->r, 1);
    free(bt);
}

int batch_run(const struct batch_ctx *b, struct batch_item *items, size_t n,
              struct batch_stats *st, char *err, size_t errlen)
{
    struct batch *bt;
    /* 1 (a customer held by a batch in flight) is a failure here: err says so */
    return batch_start(b, items, n, st, err, errlen, &bt) == 0 ? batch_finish(bt) : -1;
}
