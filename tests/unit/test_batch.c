/*
 * test_batch.c - state/engine/batch.c through its store seam
 * (batch_ctx.store_ops): an in-memory store stands in for Redis and a
 * recording publisher for Kafka, so a batch runs here as the daemon runs
 * it, cache and model included.  Events of one customer applied in order
 * and committed once; duplicates by offset, event id and order id skipped
 * and counted; a commit conflict reloaded and applied again; a store error
 * failing the whole batch; derived events published before the commit,
 * which waits for their acknowledgement; sweeps at their due time.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/engine/batch.h"
#include "state/engine/cache.h"
#include "state/model/model.h"
#include "state/store/packed.h"
#include "state/store/store.h"
#include "tests/unit/check_main.h"

#define T0   1704067200000LL /* 2024-01-01T00:00:00Z */
#define HOUR 3600000LL

#define FAKE_CUST 8   /* customers the fake store holds */
#define FAKE_SENT 64  /* requests in flight */
#define LOG_MAX   256 /* calls recorded */
#define ITEMS_MAX 16  /* items of one batch */

/* ---- the in-memory store ------------------------------------------------- */

struct fake_cust {
    char id[EV_ID_MAX + 1];
    int64_t rev;          /* as the summary hash keeps it; 0: not stored */
    unsigned char *state; /* packed; NULL: not stored */
    size_t len;
    unsigned loads, commits; /* requests for it */
    int last_had_state;      /* its last commit wrote a state */
    int64_t due_ms;          /* the last due time written */
    unsigned due_writes;
};

struct fake_req {
    char id[EV_ID_MAX + 1];
    int64_t rev;
    unsigned char *state; /* a copy: the batch frees its own once sent */
    size_t len;
};

/* What the batch did, in the order it did it. */
enum op { OP_LOAD, OP_PUBLISH, OP_AWAIT, OP_COMMIT, OP_INDEX, OP_ABANDON };

struct fake {
    struct fake_cust cust[FAKE_CUST];
    size_t ncust;
    struct fake_req sent[FAKE_SENT]; /* commits sent, replies not read */
    size_t nsent;
    /* faults */
    int fail_load;           /* load_recv fails */
    const char *damaged_id;  /* this customer's stored state cannot be read */
    const char *error_id;    /* this customer's commit gets an error reply */
    const char *intruder_id; /* another writer commits it before each commit */
    /* the publisher */
    unsigned pending;      /* the lane's unacknowledged derived events */
    int ack;               /* await: acknowledged (else it times out) */
    unsigned seen_pending; /* what await found pending */
    char pub_id[16][33];   /* the derived events' ids, as published */
    size_t published;
    enum op log[LOG_MAX];
    size_t nlog;
    unsigned abandons;
};

static void note(struct fake *f, enum op o)
{
    ck_assert_uint_lt(f->nlog, LOG_MAX);
    f->log[f->nlog++] = o;
}

/* The fake poses as the store the batch hands back to the ops: batch.c never
 * looks inside a struct store. */
static struct fake *fake_of(struct store *s)
{
    return (struct fake *)(void *)s;
}

static struct fake_cust *fake_cust(struct fake *f, const char *id)
{
    for (size_t i = 0; i < f->ncust; i++) {
        if (strcmp(f->cust[i].id, id) == 0) {
            return &f->cust[i];
        }
    }
    ck_assert_uint_lt(f->ncust, FAKE_CUST);
    snprintf(f->cust[f->ncust].id, sizeof(f->cust[0].id), "%s", id);
    f->cust[f->ncust].due_ms = INT64_MIN;
    return &f->cust[f->ncust++];
}

/* The customer as stored: 1, or 0 (customer_init) when it is not. */
static int fake_get(struct fake *f, const char *id, struct customer *c,
                    struct store_meta *meta)
{
    struct fake_cust *k = fake_cust(f, id);
    char err[256];

    if (k->state == NULL) {
        memset(meta, 0, sizeof(*meta));
        meta->partition = -1;
        customer_init(c, id);
        return 0;
    }
    ck_assert_msg(packed_decode(k->state, k->len, id, c, meta, err, sizeof(err)) == 0,
                  "%s", err);
    return 1;
}

static void fake_set(struct fake *f, const char *id, const struct customer *c,
                     const struct store_meta *meta)
{
    struct fake_cust *k = fake_cust(f, id);

    free(k->state);
    k->state = packed_new(c, meta, &k->len);
    ck_assert_ptr_nonnull(k->state);
    k->rev = meta->rev;
}

/* Another instance commits the customer: its revision moves on. */
static void fake_intrude(struct fake *f, const char *id)
{
    struct customer *c = malloc(sizeof(*c));
    struct store_meta meta;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(fake_get(f, id, c, &meta), 1);
    meta.rev++;
    fake_set(f, id, c, &meta);
    free(c);
}

static void fake_drop_sent(struct fake *f)
{
    for (size_t i = 0; i < f->nsent; i++) {
        free(f->sent[i].state);
    }
    f->nsent = 0;
}

static int fake_load_send(struct store *s, const char *const *ids, size_t n, char *err,
                          size_t errlen)
{
    struct fake *f = fake_of(s);

    (void)err;
    (void)errlen;
    for (size_t i = 0; i < n; i++) {
        fake_cust(f, ids[i])->loads++;
    }
    note(f, OP_LOAD);
    return 0;
}

static int fake_load_recv(struct store *s, const char *const *ids, size_t n,
                          store_got_fn got, void *arg, char *err, size_t errlen)
{
    struct fake *f = fake_of(s);
    struct customer *c;
    struct store_meta meta;
    int rc = 0;

    if (n > 0 && f->fail_load) {
        snprintf(err, errlen, "redis: injected load error");
        return -1;
    }
    c = malloc(sizeof(*c));
    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (f->damaged_id && strcmp(ids[i], f->damaged_id) == 0) {
            rc = got(arg, i, NULL, NULL, NULL, "packed state: injected damage");
            continue;
        }
        fake_get(f, ids[i], c, &meta);
        rc = got(arg, i, c, &meta, NULL, NULL);
    }
    free(c);
    return rc;
}

static int fake_commit_send(struct store *s, const struct store_commit_req *q, char *err,
                            size_t errlen)
{
    struct fake *f = fake_of(s);
    struct fake_req *r = &f->sent[f->nsent++];

    (void)err;
    (void)errlen;
    ck_assert_uint_le(f->nsent, FAKE_SENT);
    snprintf(r->id, sizeof(r->id), "%s", q->id);
    r->rev = q->rev;
    r->state = NULL;
    r->len = q->state ? q->state_len : 0;
    if (q->state != NULL) {
        r->state = malloc(q->state_len);
        ck_assert_ptr_nonnull(r->state);
        memcpy(r->state, q->state, q->state_len);
    }
    note(f, OP_COMMIT);
    return 0;
}

/* As loyaltyd_commit_4 (store_lib.lua) does, one request at a time. */
static int fake_commit_recv(struct store *s, struct store_commit_req *q, size_t n,
                            char *err, size_t errlen)
{
    struct fake *f = fake_of(s);
    int rc = 0;

    ck_assert_uint_eq(n, f->nsent);
    for (size_t i = 0; i < n; i++) {
        struct fake_req *r = &f->sent[i];
        struct fake_cust *k = fake_cust(f, r->id);

        ck_assert_str_eq(q[i].id, r->id);
        k->commits++;
        if (f->intruder_id && strcmp(r->id, f->intruder_id) == 0) {
            fake_intrude(f, r->id);
        }
        if (f->error_id && strcmp(r->id, f->error_id) == 0) {
            if (rc == 0) {
                snprintf(err, errlen, "redis: OOM injected");
            }
            q[i].res = STORE_ERROR;
            rc = -1;
        } else if (r->rev != k->rev) {
            q[i].res = STORE_CONFLICT;
            q[i].new_rev = k->rev;
        } else {
            q[i].res = STORE_APPLIED;
            q[i].new_rev = k->rev;
            k->last_had_state = r->state != NULL;
            if (r->state != NULL) {
                free(k->state);
                k->state = r->state;
                k->len = r->len;
                r->state = NULL;
                q[i].new_rev = ++k->rev;
            }
        }
    }
    fake_drop_sent(f);
    return rc;
}

static int fake_index_send(struct store *s, const struct store_index_req *q, size_t n,
                           size_t *ncmds, char *err, size_t errlen)
{
    struct fake *f = fake_of(s);

    (void)err;
    (void)errlen;
    for (size_t i = 0; i < n; i++) {
        struct fake_cust *k = fake_cust(f, q[i].id);

        if (q[i].set & STORE_INDEX_DUE) {
            k->due_ms = q[i].due_ms;
            k->due_writes++;
        }
    }
    *ncmds = n > 0;
    note(f, OP_INDEX);
    return 0;
}

static int fake_index_recv(struct store *s, size_t ncmds, char *err, size_t errlen)
{
    (void)s;
    (void)ncmds;
    (void)err;
    (void)errlen;
    return 0;
}

static void fake_push(struct store *s)
{
    (void)s;
}

static void fake_abandon(struct store *s)
{
    struct fake *f = fake_of(s);

    f->abandons++;
    fake_drop_sent(f);
    note(f, OP_ABANDON);
}

static const struct batch_store_ops fake_ops = {
    .load_send = fake_load_send,
    .load_recv = fake_load_recv,
    .commit_send = fake_commit_send,
    .commit_recv = fake_commit_recv,
    .index_send = fake_index_send,
    .index_recv = fake_index_recv,
    .push = fake_push,
    .abandon = fake_abandon,
};

/* ---- the publisher ------------------------------------------------------- */

static int fake_publish(void *arg, const char *customer_id, const struct publish_list *l,
                        unsigned *pending)
{
    struct fake *f = arg;

    (void)customer_id;
    for (size_t i = 0; i < l->n; i++) {
        ck_assert_uint_lt(f->published, 16);
        memcpy(f->pub_id[f->published++], l->v[i].event_id, 33);
    }
    *pending += (unsigned)l->n;
    note(f, OP_PUBLISH);
    return 0;
}

static int fake_await(void *arg, const unsigned *pending, int timeout_ms)
{
    struct fake *f = arg;

    (void)timeout_ms;
    ck_assert_ptr_eq(pending, &f->pending);
    f->seen_pending = *pending;
    note(f, OP_AWAIT);
    if (!f->ack) {
        return -1;
    }
    f->pending = 0;
    return 0;
}

/* ---- a batch and its inputs ---------------------------------------------- */

struct env {
    struct fake f;
    struct cache *cache;
    struct model_config *cfg;
    struct model_ctx m;
    struct batch_ctx b;
    struct event ev[ITEMS_MAX];
    struct batch_item it[ITEMS_MAX];
    size_t n;
    struct batch_stats st;
    char err[256];
};

static struct env *env_new(void)
{
    struct env *e = calloc(1, sizeof(*e));

    ck_assert_ptr_nonnull(e);
    e->f.ack = 1;
    e->cache = cache_new(1 << 20);
    e->cfg = model_config_new();
    ck_assert_ptr_nonnull(e->cache);
    ck_assert_ptr_nonnull(e->cfg);
    e->m.cfg = e->cfg;
    bg_params_default(&e->m.bg);
    gg_params_default(&e->m.gg);
    e->b = (struct batch_ctx){.store = (struct store *)(void *)&e->f,
                              .store_ops = &fake_ops,
                              .cache = e->cache,
                              .model = &e->m,
                              .task = 0,
                              .emitted_at_ms = T0,
                              .publish = fake_publish,
                              .await = fake_await,
                              .publish_arg = &e->f,
                              .pending = &e->f.pending,
                              .await_ms = 10,
                              .dedup_window = CU_SEEN_MAX};
    return e;
}

static void env_free(struct env *e)
{
    for (size_t i = 0; i < e->f.ncust; i++) {
        free(e->f.cust[i].state);
    }
    fake_drop_sent(&e->f);
    cache_free(e->cache);
    model_config_free(e->cfg);
    free(e);
}

/* An order.placed of customer cid: event id eid, order oid, at ts, from
 * partition 0 of the orders topic at offset off. */
static struct batch_item *add_order(struct env *e, const char *cid, const char *eid,
                                    const char *oid, int64_t ts, int64_t off)
{
    struct event *ev = &e->ev[e->n];
    struct batch_item *it = &e->it[e->n++];

    ck_assert_uint_le(e->n, ITEMS_MAX);
    memset(ev, 0, sizeof(*ev));
    ev->type = EV_ORDER_PLACED;
    ev->ts_ms = ts;
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", eid);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", cid);
    snprintf(ev->order_id, sizeof(ev->order_id), "%s", oid);
    ev->amount_minor = 5000;
    memcpy(ev->currency, "USD", 4);
    ev->shipping = SHIP_STANDARD;
    memset(it, 0, sizeof(*it));
    it->ev = ev;
    it->source = SRC_ORDERS;
    it->partition = 0;
    it->offset = off;
    return it;
}

/* The sweeper's item for cid: every due time up to until_ms. */
static struct batch_item *add_sweep(struct env *e, const char *cid, int64_t until_ms)
{
    struct batch_item *it = &e->it[e->n++];

    ck_assert_uint_le(e->n, ITEMS_MAX);
    memset(it, 0, sizeof(*it));
    it->sweep_id = cid;
    it->sweep_until_ms = until_ms;
    it->partition = 0;
    return it;
}

/* Run the items added since the last run as one batch (fresh stats). */
static int run(struct env *e)
{
    int rc;

    memset(&e->st, 0, sizeof(e->st));
    e->err[0] = '\0';
    rc = batch_run(&e->b, e->it, e->n, &e->st, e->err, sizeof(e->err));
    e->n = 0;
    return rc;
}

static void run_ok(struct env *e)
{
    ck_assert_msg(run(e) == 0, "%s", e->err);
}

/* The stored customer (it must be stored), into a buffer the caller frees. */
static struct customer *stored(struct env *e, const char *id, struct store_meta *meta)
{
    struct customer *c = malloc(sizeof(*c));
    struct store_meta unused;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(fake_get(&e->f, id, c, meta ? meta : &unused), 1);
    return c;
}

static int64_t stored_orders(struct env *e, const char *id)
{
    struct customer *c = stored(e, id, NULL);
    int64_t n = c->orders;

    free(c);
    return n;
}

/* The position of the first op o in the log at or after from, -1 if none. */
static long log_find(const struct fake *f, enum op o, size_t from)
{
    for (size_t i = from; i < f->nlog; i++) {
        if (f->log[i] == o) {
            return (long)i;
        }
    }
    return -1;
}

/* The customer's watermark of partition 0 of the orders topic. */
static int64_t orders_wm(const struct store_meta *meta)
{
    for (size_t i = 0; i < meta->nwm; i++) {
        if (meta->wm[i].source == SRC_ORDERS && meta->wm[i].partition == 0) {
            return meta->wm[i].offset;
        }
    }
    return -1;
}

/* ---- the tests ----------------------------------------------------------- */

/* Two customers' events interleaved: each customer's applied in their order
 * (its recent ids record the order; one applied after a later offset would
 * be a duplicate) and committed once. */
START_TEST(test_in_order_one_commit)
{
    struct env *e = env_new();
    struct store_meta meta;
    struct customer *c;

    add_order(e, "alice", "a-1", "oa1", T0, 1);
    add_order(e, "bob", "b-1", "ob1", T0 + HOUR, 2);
    add_order(e, "alice", "a-2", "oa2", T0 + 2 * HOUR, 3);
    add_order(e, "alice", "a-3", "oa3", T0 + 3 * HOUR, 4);
    add_order(e, "bob", "b-2", "ob2", T0 + 4 * HOUR, 5);
    run_ok(e);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(e->it[i].status, BATCH_APPLIED);
    }
    ck_assert_uint_eq(e->st.applied, 5);
    ck_assert_uint_eq(e->st.duplicates, 0);
    ck_assert_uint_eq(e->st.commits, 2);
    ck_assert_uint_eq(e->st.cache_misses, 2);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->loads, 1);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->commits, 1);
    ck_assert_uint_eq(fake_cust(&e->f, "bob")->commits, 1);

    c = stored(e, "alice", &meta);
    ck_assert_int_eq(c->orders, 3);
    ck_assert_int_eq(c->as_of_ms, T0 + 3 * HOUR);
    ck_assert_uint_eq(c->nseen, 6); /* each order: its event id, its order id */
    ck_assert(c->seen[0] == cu_event_key("a-1"));
    ck_assert(c->seen[1] == cu_order_key("oa1"));
    ck_assert(c->seen[2] == cu_event_key("a-2"));
    ck_assert(c->seen[4] == cu_event_key("a-3"));
    ck_assert_int_eq(orders_wm(&meta), 4);
    ck_assert_int_eq(meta.rev, 1);
    ck_assert_int_eq(meta.partition, 0);
    free(c);
    c = stored(e, "bob", &meta);
    ck_assert_int_eq(c->orders, 2);
    ck_assert(c->seen[0] == cu_event_key("b-1"));
    ck_assert(c->seen[2] == cu_event_key("b-2"));
    ck_assert_int_eq(orders_wm(&meta), 5);
    free(c);

    /* The next batch finds both cached: no load, one commit each. */
    add_order(e, "alice", "a-4", "oa4", T0 + 5 * HOUR, 6);
    add_order(e, "bob", "b-3", "ob3", T0 + 6 * HOUR, 7);
    run_ok(e);
    ck_assert_uint_eq(e->st.cache_hits, 2);
    ck_assert_uint_eq(e->st.cache_misses, 0);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->loads, 1);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->commits, 2);
    ck_assert_int_eq(fake_cust(&e->f, "alice")->rev, 2);
    env_free(e);
}
END_TEST

/* A replay (offset at or below the watermark), an event re-sent at a new
 * offset (its event id), an order placed again under another event id (its
 * order id): skipped, counted by kind, the state unchanged but for the
 * watermark. */
START_TEST(test_duplicates)
{
    struct env *e = env_new();
    struct store_meta meta;
    struct customer *c;
    struct batch_item *it[6];

    add_order(e, "alice", "a-1", "o1", T0, 10);
    run_ok(e);
    it[0] = add_order(e, "alice", "a-1", "o1", T0, 10);        /* at the watermark */
    it[1] = add_order(e, "alice", "a-9", "o9", T0 + HOUR, 9);  /* below it */
    it[2] = add_order(e, "alice", "a-1", "o1", T0, 11);        /* re-sent */
    it[3] = add_order(e, "alice", "a-2", "o1", T0 + HOUR, 12); /* order again */
    it[4] = add_order(e, "alice", "a-3", "o3", T0 + HOUR, 13); /* new */
    it[5] = add_order(e, "alice", "a-3", "o3", T0 + HOUR, 14); /* re-sent at once */
    run_ok(e);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(it[i]->status, i == 4 ? BATCH_APPLIED : BATCH_DUPLICATE);
    }
    ck_assert_int_eq(it[0]->dup, DUP_OFFSET);
    ck_assert_int_eq(it[1]->dup, DUP_OFFSET);
    ck_assert_int_eq(it[2]->dup, DUP_EVENT_ID);
    ck_assert_int_eq(it[3]->dup, DUP_ORDER_ID);
    ck_assert_int_eq(it[5]->dup, DUP_EVENT_ID);
    ck_assert_uint_eq(e->st.applied, 1);
    ck_assert_uint_eq(e->st.duplicates, 5);
    ck_assert_uint_eq(e->st.dup[DUP_OFFSET], 2);
    ck_assert_uint_eq(e->st.dup[DUP_EVENT_ID], 2);
    ck_assert_uint_eq(e->st.dup[DUP_ORDER_ID], 1);
    c = stored(e, "alice", &meta);
    ck_assert_int_eq(c->orders, 2);
    ck_assert_int_eq(orders_wm(&meta), 14);
    free(c);

    /* Replays only: the commit checks the revision and writes nothing. */
    add_order(e, "alice", "a-3", "o3", T0 + HOUR, 13);
    add_order(e, "alice", "a-1", "o1", T0, 14);
    run_ok(e);
    ck_assert_uint_eq(e->st.duplicates, 2);
    ck_assert_uint_eq(e->st.dup[DUP_OFFSET], 2);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->commits, 3);
    ck_assert_int_eq(fake_cust(&e->f, "alice")->last_had_state, 0);
    ck_assert_int_eq(fake_cust(&e->f, "alice")->rev, 2);
    env_free(e);
}
END_TEST

/* Another writer committed the cached customer: the commit is refused, the
 * batch loads the customer again and applies its event on what is stored. */
START_TEST(test_conflict_reloads)
{
    struct env *e = env_new();
    struct store_meta meta;
    struct customer *c;
    struct batch_item *it;

    add_order(e, "alice", "a-1", "o1", T0, 1);
    run_ok(e);
    /* Another instance's change, committed behind this one's cache. */
    c = stored(e, "alice", &meta);
    c->orders_delivered = 7;
    meta.rev++;
    fake_set(&e->f, "alice", c, &meta);
    free(c);

    it = add_order(e, "alice", "a-2", "o2", T0 + HOUR, 2);
    run_ok(e);
    ck_assert_int_eq(it->status, BATCH_APPLIED);
    ck_assert_uint_eq(e->st.conflicts, 1);
    ck_assert_uint_eq(e->st.commits, 2);
    ck_assert_uint_eq(e->st.cache_hits, 1);
    ck_assert_uint_eq(e->st.cache_misses, 1);
    ck_assert_uint_eq(e->st.applied, 1);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->loads, 2);
    c = stored(e, "alice", &meta);
    ck_assert_int_eq(c->orders, 2);
    ck_assert_int_eq(c->orders_delivered, 7); /* the other writer's, kept */
    ck_assert_int_eq(meta.rev, 3);
    ck_assert_int_eq(fake_cust(&e->f, "alice")->rev, 3);
    free(c);

    /* A revision that moves at every commit: the batch gives up. */
    e->f.intruder_id = "alice";
    add_order(e, "alice", "a-3", "o3", T0 + 2 * HOUR, 3);
    ck_assert_int_eq(run(e), -1);
    ck_assert_ptr_nonnull(strstr(e->err, "revision kept changing"));
    ck_assert_uint_eq(e->st.conflicts, 8);
    ck_assert_uint_eq(e->st.applied, 0);
    ck_assert_ptr_null(cache_get(e->cache, "alice"));
    ck_assert_int_eq(stored_orders(e, "alice"), 2);
    env_free(e);
}
END_TEST

/* An error reply to one commit fails the batch: no item counts as done and
 * every customer it touched leaves the cache; run again, what Redis did
 * commit comes back as duplicates. */
START_TEST(test_store_error_fails_batch)
{
    struct env *e = env_new();
    struct batch_item *a, *b;
    unsigned commits;
    size_t published;

    add_order(e, "alice", "a-1", "oa1", T0, 1);
    add_order(e, "bob", "b-1", "ob1", T0, 2);
    add_order(e, "carol", "c-1", "oc1", T0, 3);
    run_ok(e);
    ck_assert_uint_eq(cache_count(e->cache), 3);

    e->f.error_id = "bob";
    add_order(e, "alice", "a-2", "oa2", T0 + HOUR, 4);
    add_order(e, "bob", "b-2", "ob2", T0 + HOUR, 5);
    ck_assert_int_eq(run(e), -1);
    ck_assert_ptr_nonnull(strstr(e->err, "OOM injected"));
    ck_assert_uint_eq(e->st.applied, 0);
    ck_assert_uint_eq(e->st.duplicates, 0);
    ck_assert_uint_ge(e->f.abandons, 1);
    ck_assert_ptr_null(cache_get(e->cache, "alice"));
    ck_assert_ptr_null(cache_get(e->cache, "bob"));
    ck_assert_ptr_nonnull(cache_get(e->cache, "carol"));
    ck_assert_uint_eq(cache_get(e->cache, "carol")->pinned, 0);
    ck_assert_int_eq(stored_orders(e, "alice"), 2); /* Redis ran that one */
    ck_assert_int_eq(stored_orders(e, "bob"), 1);

    /* The same items again. */
    e->f.error_id = NULL;
    a = add_order(e, "alice", "a-2", "oa2", T0 + HOUR, 4);
    b = add_order(e, "bob", "b-2", "ob2", T0 + HOUR, 5);
    run_ok(e);
    ck_assert_int_eq(a->status, BATCH_DUPLICATE);
    ck_assert_int_eq(a->dup, DUP_OFFSET);
    ck_assert_int_eq(b->status, BATCH_APPLIED);
    ck_assert_int_eq(stored_orders(e, "alice"), 2);
    ck_assert_int_eq(stored_orders(e, "bob"), 2);

    /* A failed load: nothing published, nothing committed; the cached
     * customer of the batch leaves the cache too. */
    commits = fake_cust(&e->f, "carol")->commits;
    published = e->f.published;
    e->f.fail_load = 1;
    add_order(e, "carol", "c-2", "oc2", T0 + HOUR, 6);
    add_order(e, "dave", "d-1", "od1", T0 + HOUR, 7);
    ck_assert_int_eq(run(e), -1);
    ck_assert_ptr_nonnull(strstr(e->err, "injected load error"));
    ck_assert_uint_eq(e->st.applied, 0);
    ck_assert_uint_eq(e->st.commits, 0);
    ck_assert_uint_eq(fake_cust(&e->f, "carol")->commits, commits);
    ck_assert_uint_eq(e->f.published, published);
    ck_assert_ptr_null(cache_get(e->cache, "carol"));
    ck_assert_ptr_null(cache_get(e->cache, "dave"));
    env_free(e);
}
END_TEST

/* A customer whose stored state cannot be read is set aside: its items are
 * quarantined with the reason, nothing of it is committed, the others of the
 * batch are applied; it is not cached, so the next batch reads it again. */
START_TEST(test_damaged_customer_set_aside)
{
    struct env *e = env_new();
    struct batch_item *a, *b1, *b2, *c, *sw;
    unsigned commits;

    add_order(e, "alice", "a-1", "oa1", T0, 1);
    add_order(e, "bob", "b-1", "ob1", T0, 2);
    run_ok(e);
    ck_assert_int_eq(stored_orders(e, "alice"), 1);
    cache_drop_task(e->cache, -1); /* bob must be read from the store */
    ck_assert_int_eq(stored_orders(e, "bob"), 1);
    commits = fake_cust(&e->f, "bob")->commits;

    e->f.damaged_id = "bob";
    a = add_order(e, "alice", "a-2", "oa2", T0 + HOUR, 3);
    b1 = add_order(e, "bob", "b-2", "ob2", T0 + HOUR, 4);
    c = add_order(e, "carol", "c-1", "oc1", T0 + HOUR, 5);
    b2 = add_order(e, "bob", "b-3", "ob3", T0 + 2 * HOUR, 6);
    sw = add_sweep(e, "bob", T0 + 3 * HOUR);
    run_ok(e);
    ck_assert_int_eq(a->status, BATCH_APPLIED);
    ck_assert_int_eq(c->status, BATCH_APPLIED);
    ck_assert_int_eq(b1->status, BATCH_QUARANTINED);
    ck_assert_int_eq(b2->status, BATCH_QUARANTINED);
    ck_assert_int_eq(sw->status, BATCH_QUARANTINED);
    ck_assert_str_eq(b1->err, "packed state: injected damage");
    ck_assert_uint_eq(e->st.quarantined, 3);
    ck_assert_uint_eq(e->st.applied, 2);
    ck_assert_uint_eq(fake_cust(&e->f, "bob")->commits, commits);
    ck_assert_int_eq(stored_orders(e, "bob"), 1);
    ck_assert_int_eq(stored_orders(e, "alice"), 2);
    ck_assert_ptr_null(cache_get(e->cache, "bob"));

    /* Repaired: its next event is applied on the stored state. */
    e->f.damaged_id = NULL;
    b1 = add_order(e, "bob", "b-2", "ob2", T0 + HOUR, 4);
    run_ok(e);
    ck_assert_int_eq(b1->status, BATCH_APPLIED);
    ck_assert_int_eq(stored_orders(e, "bob"), 2);
    env_free(e);
}
END_TEST

/* The second order emits a reward trigger and a segment change: handed to
 * the publisher by batch_start, and the commit in batch_finish waits for
 * their acknowledgement. */
START_TEST(test_publish_before_commit)
{
    struct env *e = env_new();
    struct batch *bt;
    size_t mark;
    long pub, wait, commit;

    add_order(e, "alice", "a-1", "o1", T0, 1);
    run_ok(e);
    ck_assert_uint_eq(e->f.published, 0);
    mark = e->f.nlog;

    add_order(e, "alice", "a-2", "o2", T0 + 3 * 24 * HOUR, 2);
    memset(&e->st, 0, sizeof(e->st));
    ck_assert_int_eq(batch_start(&e->b, e->it, 1, &e->st, e->err, sizeof(e->err), &bt),
                     0);
    ck_assert_uint_eq(e->f.published, 2);
    ck_assert_uint_eq(e->f.pending, 2);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->commits, 1); /* not yet */
    ck_assert_int_eq(log_find(&e->f, OP_COMMIT, mark), -1);
    ck_assert_int_eq(batch_finish(bt), 0);
    e->n = 0;
    pub = log_find(&e->f, OP_PUBLISH, mark);
    wait = log_find(&e->f, OP_AWAIT, mark);
    commit = log_find(&e->f, OP_COMMIT, mark);
    ck_assert_int_ge(pub, 0);
    ck_assert_int_gt(wait, pub);
    ck_assert_int_gt(commit, wait);
    ck_assert_uint_eq(e->f.seen_pending, 2);
    ck_assert_uint_eq(e->st.derived, 2);
    ck_assert_uint_eq(e->st.applied, 1);
    ck_assert_int_eq(stored_orders(e, "alice"), 2);
    env_free(e);
}
END_TEST

/* Kafka does not acknowledge: nothing is committed, the customer leaves the
 * cache, and no batch of the lane starts while the copies are pending.
 * Once they are through, the events are applied again and their derived
 * events published again under the same ids. */
START_TEST(test_unacknowledged_commits_nothing)
{
    struct env *e = env_new();
    char first[2][33];
    struct batch_item *it;

    add_order(e, "alice", "a-1", "o1", T0, 1);
    run_ok(e);
    e->f.ack = 0;
    add_order(e, "alice", "a-2", "o2", T0 + 3 * 24 * HOUR, 2);
    ck_assert_int_eq(run(e), -1);
    ck_assert_ptr_nonnull(strstr(e->err, "not acknowledged"));
    ck_assert_uint_eq(e->f.published, 2);
    ck_assert_uint_eq(fake_cust(&e->f, "alice")->commits, 1);
    ck_assert_int_eq(stored_orders(e, "alice"), 1);
    ck_assert_ptr_null(cache_get(e->cache, "alice"));
    ck_assert_uint_eq(e->st.applied, 0);
    memcpy(first, e->f.pub_id, sizeof(first));

    add_order(e, "alice", "a-2", "o2", T0 + 3 * 24 * HOUR, 2);
    ck_assert_int_eq(run(e), -1);
    ck_assert_ptr_nonnull(strstr(e->err, "not yet acknowledged"));
    ck_assert_uint_eq(e->f.published, 2);

    e->f.pending = 0; /* delivered after all */
    e->f.ack = 1;
    it = add_order(e, "alice", "a-2", "o2", T0 + 3 * 24 * HOUR, 2);
    run_ok(e);
    ck_assert_int_eq(it->status, BATCH_APPLIED);
    ck_assert_uint_eq(e->f.published, 4);
    ck_assert_mem_eq(e->f.pub_id[2], first[0], 33);
    ck_assert_mem_eq(e->f.pub_id[3], first[1], 33);
    ck_assert_int_eq(stored_orders(e, "alice"), 2);
    env_free(e);
}
END_TEST

/* A sweep evaluates the customer's due times up to its time, each at its
 * own time, and writes the due time again; one before the due time
 * evaluates nothing.  A customer no longer stored is not written. */
START_TEST(test_sweep_at_due_time)
{
    struct env *e = env_new();
    const int64_t last = T0 + 3 * 24 * HOUR;
    struct fake_cust *k;
    struct customer *c;
    struct batch_item *it;
    int64_t due;
    unsigned writes;

    add_order(e, "alice", "a-1", "o1", T0, 1);
    add_order(e, "alice", "a-2", "o2", last, 2);
    run_ok(e);
    k = fake_cust(&e->f, "alice");
    due = k->due_ms;
    ck_assert_int_gt(due, last);
    ck_assert_int_lt(due, INT64_MAX);
    writes = k->due_writes;
    e->f.published = 0;

    it = add_sweep(e, "alice", due - 1);
    run_ok(e);
    ck_assert_int_eq(it->status, BATCH_SWEPT);
    ck_assert_uint_eq(e->st.swept, 1);
    ck_assert_uint_eq(e->st.timers, 0);
    ck_assert_uint_eq(e->f.published, 0);
    ck_assert_uint_eq(k->due_writes, writes + 1); /* written though unchanged */
    ck_assert_int_eq(k->due_ms, due);
    c = stored(e, "alice", NULL);
    ck_assert_int_eq(c->as_of_ms, last);
    free(c);

    it = add_sweep(e, "alice", due);
    run_ok(e);
    ck_assert_int_eq(it->status, BATCH_SWEPT);
    ck_assert_uint_eq(e->st.timers, 1);
    ck_assert_uint_eq(e->f.published, 1); /* the segment moves on */
    ck_assert_int_gt(k->due_ms, due);
    c = stored(e, "alice", NULL);
    ck_assert_int_eq(c->as_of_ms, due);
    free(c);

    it = add_sweep(e, "ghost", due);
    run_ok(e);
    ck_assert_int_eq(it->status, BATCH_SWEPT);
    ck_assert_uint_eq(e->st.commits, 0);
    ck_assert_ptr_null(fake_cust(&e->f, "ghost")->state);
    env_free(e);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_in_order_one_commit);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_conflict_reloads);
    tcase_add_test(tc, test_store_error_fails_batch);
    tcase_add_test(tc, test_damaged_customer_set_aside);
    tcase_add_test(tc, test_publish_before_commit);
    tcase_add_test(tc, test_unacknowledged_commits_nothing);
    tcase_add_test(tc, test_sweep_at_due_time);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(batch_suite)
