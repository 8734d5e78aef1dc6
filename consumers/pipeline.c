#include "consumers/pipeline.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumers/idset.h"
#include "consumers/parse.h"
#include "consumers/task.h"
#include "consumers/tracker.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "state/batch.h"
#include "state/cache.h"
#include "state/model.h"

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* Messages taken from the consumer per turn, at most. */
#define POLL_BURST 5000

/* A message handed to the producer.  Owned by the pipeline until its delivery
 * report; the payload must stay valid that long (librdkafka does not copy). */
struct outmsg {
    struct pipeline *pl;
    struct tracker_entry **entries; /* the inputs it came from (held) */
    size_t nentries;
    enum topic_role role;
    char customer_id[EV_ID_MAX + 1]; /* outbox entries only */
    char event_id[33];
    char *key, *payload;
    size_t keylen, len;
    rd_kafka_headers_t *hdrs; /* DLQ only; a copy is handed over per attempt */
    struct outmsg *next;      /* in the retry list */
};

/* A delivered outbox entry whose HDEL is still to be sent. */
struct ack {
    char customer_id[EV_ID_MAX + 1];
    char event_id[33];
};

/* Partition number p of every input topic, and the merged events taken from
 * it but not yet committed (kept for a retry while Redis is away). */
struct ptask {
    struct task t;
    struct task_msg *batch;
    size_t nbatch;
};

struct pipeline {
    const struct config *cfg;
    struct store *store;
    rd_kafka_t *consumer, *producer;
    struct tracker *tracker;
    struct outmsg *retry;    /* failed deliveries to produce again */
    struct idset *in_flight; /* outbox event_ids handed to the producer */
    rd_kafka_topic_partition_list_t *assigned;
    struct ptask **tasks; /* by partition number; NULL: not ours */
    size_t ntasks;
    struct cache *cache;
    struct batch_item *items; /* scratch: one batch */
    struct ack *acks;
    size_t nacks, cap_acks;
    struct model_ctx model;
    int paused; /* every partition, while Redis is away */
    int kafka_up;
    int failed; /* a fatal condition (partition counts differ) */
    int64_t redis_retry_at_ms, redis_backoff_ms;
    size_t outstanding; /* produced, delivery report not yet seen */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int role_of(const struct pipeline *pl, const char *topic)
{
    for (int i = 0; i < TOPIC__COUNT; i++)
        if (strcmp(pl->cfg->topic[i], topic) == 0)
            return i;
    return -1;
}

static struct ptask *task_of(const struct pipeline *pl, int32_t partition)
{
    return partition >= 0 && (size_t)partition < pl->ntasks ? pl->tasks[partition] : NULL;
}

/* ---- producing ---- */

static void outmsg_free(struct outmsg *om)
{
    if (om->hdrs)
        rd_kafka_headers_destroy(om->hdrs);
    free(om->entries);
    free(om->key);
    free(om->payload);
    free(om);
}

/* entries[0..n) are held once each until the delivery report. */
static struct outmsg *outmsg_new(struct pipeline *pl,
                                 struct tracker_entry *const *entries, size_t n,
                                 enum topic_role role, const char *key, size_t keylen,
                                 const char *payload, size_t len)
{
    struct outmsg *om = calloc(1, sizeof(*om));

    if (om == NULL)
        return NULL;
    om->pl = pl;
    om->role = role;
    om->key = malloc(keylen + 1);
    om->payload = malloc(len + 1);
    om->entries = n ? malloc(n * sizeof(*om->entries)) : NULL;
    if (om->key == NULL || om->payload == NULL || (n && om->entries == NULL)) {
        outmsg_free(om);
        return NULL;
    }
    memcpy(om->key, key, keylen);
    memcpy(om->payload, payload, len);
    om->key[keylen] = om->payload[len] = '\0';
    om->keylen = keylen;
    om->len = len;
    for (size_t i = 0; i < n; i++)
        if (entries[i] != NULL)
            tracker_hold(om->entries[om->nentries++] = entries[i]);
    return om;
}

static void outmsg_done(struct outmsg *om)
{
    for (size_t i = 0; i < om->nentries; i++)
        tracker_release(om->entries[i]);
    outmsg_free(om);
}

/* Hand one message to librdkafka; on a local refusal (queue full) it goes to
 * the retry list, so nothing is ever dropped. */
static void produce(struct pipeline *pl, struct outmsg *om)
{
    rd_kafka_resp_err_t err;

    err = rd_kafka_producev(
        pl->producer, RD_KAFKA_V_TOPIC(pl->cfg->topic[om->role]),
        RD_KAFKA_V_KEY(om->key, om->keylen), RD_KAFKA_V_VALUE(om->payload, om->len),
        RD_KAFKA_V_HEADERS(om->hdrs ? rd_kafka_headers_copy(om->hdrs) : NULL),
        RD_KAFKA_V_OPAQUE(om), RD_KAFKA_V_END);
    if (err) {
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            log_warn("produce to %s: %s (will retry)", pl->cfg->topic[om->role],
                     rd_kafka_err2str(err));
        om->next = pl->retry;
        pl->retry = om;
        return;
    }
    pl->outstanding++;
}

static void produce_retries(struct pipeline *pl)
{
    struct outmsg *list = pl->retry;

    pl->retry = NULL;
    while (list != NULL) {
        struct outmsg *om = list;

        list = om->next;
        om->next = NULL;
        produce(pl, om);
    }
}

static void ack_later(struct pipeline *pl, const struct outmsg *om)
{
    if (pl->nacks == pl->cap_acks) {
        size_t cap = pl->cap_acks ? pl->cap_acks * 2 : 256;
        struct ack *v = realloc(pl->acks, cap * sizeof(*v));

        if (v == NULL) { /* stays in the outbox: re-sent later, same id */
            idset_remove(pl->in_flight, om->event_id);
            return;
        }
        pl->acks = v;
        pl->cap_acks = cap;
    }
    memcpy(pl->acks[pl->nacks].customer_id, om->customer_id, sizeof(om->customer_id));
    memcpy(pl->acks[pl->nacks].event_id, om->event_id, sizeof(om->event_id));
    pl->nacks++;
}

/* Drop the delivered entries from their outboxes, in one round trip.  Their
 * ids stay "in flight" until then, so a commit that returns the outbox in
 * between does not publish them again.  If the HDEL fails they stay in the
 * outbox and are published again later under the same id and payload: a
 * tolerated duplicate. */
static void acks_flush(struct pipeline *pl)
{
    struct store_ack *v;

    if (pl->nacks == 0)
        return;
    if ((v = malloc(pl->nacks * sizeof(*v))) != NULL) {
        for (size_t i = 0; i < pl->nacks; i++)
            v[i] = (struct store_ack){pl->acks[i].customer_id, pl->acks[i].event_id};
        if (store_ack_many(pl->store, v, pl->nacks) < 0)
            log_warn("outbox ack of %zu entries failed; they will be re-sent", pl->nacks);
        free(v);
    }
    for (size_t i = 0; i < pl->nacks; i++)
        idset_remove(pl->in_flight, pl->acks[i].event_id);
    pl->nacks = 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct outmsg *om = m->_private;
    struct pipeline *pl = opaque;

    (void)rk;
    pl->outstanding--;
    if (m->err) {
        log_warn("delivery to %s failed: %s (will retry)", pl->cfg->topic[om->role],
                 rd_kafka_err2str(m->err));
        metrics_delivery_failed();
        om->next = pl->retry;
        pl->retry = om;
        return;
    }
    if (om->role != TOPIC_DLQ) {
        ack_later(pl, om);
        metrics_emitted(om->role == TOPIC_CHURN ? ME_CHURN : ME_REWARD);
    }
    outmsg_done(om);
}

/* batch_publish_fn: the customer's outbox after a commit. */
static void publish_pending(void *arg, const char *customer_id,
                            const struct store_outbox *pending, void *const *opaques,
                            size_t nopaques)
{
    struct pipeline *pl = arg;

    for (size_t i = 0; i < pending->n; i++) {
        const struct store_outbox_entry *e = &pending->v[i];
        enum topic_role role =
            e->topic == STORE_TOPIC_REWARDS ? TOPIC_REWARDS : TOPIC_CHURN;
        struct outmsg *om;

        /* A commit returns the whole outbox; entries of earlier commits may
         * still be on their way. */
        if (idset_contains(pl->in_flight, e->event_id))
            continue;
        om = outmsg_new(pl, (struct tracker_entry *const *)opaques, nopaques, role,
                        customer_id, strlen(customer_id), e->payload, strlen(e->payload));
        if (om == NULL || idset_add(pl->in_flight, e->event_id) < 0) {
            if (om)
                outmsg_done(om);
            log_err("out of memory publishing %s; it stays in the outbox", e->event_id);
            continue;
        }
        snprintf(om->customer_id, sizeof(om->customer_id), "%s", customer_id);
        snprintf(om->event_id, sizeof(om->event_id), "%s", e->event_id);
        produce(pl, om);
    }
}

/* The original bytes (or a prefix) as the value, the verdict in headers. */
static int dead_letter(struct pipeline *pl, struct tracker_entry *entry,
                       const rd_kafka_message_t *m, const char *reason,
                       const char *detail)
{
    size_t len = m->len < (size_t)pl->cfg->dlq_max_payload_bytes
                     ? m->len
                     : (size_t)pl->cfg->dlq_max_payload_bytes;
    struct outmsg *om = outmsg_new(pl, &entry, 1, TOPIC_DLQ, m->key ? m->key : "",
                                   m->key_len, m->payload ? m->payload : "", len);
    char num[32];

    if (om == NULL || (om->hdrs = rd_kafka_headers_new(8)) == NULL) {
        if (om)
            outmsg_done(om);
        return -1;
    }
    rd_kafka_header_add(om->hdrs, "reason", -1, reason, -1);
    rd_kafka_header_add(om->hdrs, "detail", -1, detail, -1);
    rd_kafka_header_add(om->hdrs, "source_topic", -1, rd_kafka_topic_name(m->rkt), -1);
    snprintf(num, sizeof(num), "%" PRId32, m->partition);
    rd_kafka_header_add(om->hdrs, "source_partition", -1, num, -1);
    snprintf(num, sizeof(num), "%" PRId64, m->offset);
    rd_kafka_header_add(om->hdrs, "source_offset", -1, num, -1);
    snprintf(num, sizeof(num), "%zu", m->len);
    rd_kafka_header_add(om->hdrs, "original_size", -1, num, -1);
    rd_kafka_header_add(om->hdrs, "truncated", -1, len < m->len ? "true" : "false", -1);
    produce(pl, om);
    return 0;
}

static void account_redis(struct pipeline *pl)
{
    int64_t sum_us;
    uint64_t n;

    store_take_latency(pl->store, &sum_us, &n);
    metrics_redis_latency(sum_us, n);
}

/* ---- pausing: while Redis is away, and per partition while its queue is full ---- */

static void pause_one(struct pipeline *pl, const char *topic, int32_t partition,
                      int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(l, topic, partition);
    err = pause ? rd_kafka_pause_partitions(pl->consumer, l)
                : rd_kafka_resume_partitions(pl->consumer, l);
    if (err)
        log_warn("%s %s/%d: %s", pause ? "pause" : "resume", topic, (int)partition,
                 rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* A partition is fetched unless Redis is away or its queue is full; resumed
 * once the queue is down to half. */
static void flow_control(struct pipeline *pl, struct ptask *pt, int src)
{
    struct task_queue *q = &pt->t.q[src];
    size_t max = (size_t)pl->cfg->merge_queue_max;
    int want = pl->paused || q->n >= max || (q->paused && q->n > max / 2);

    if (want != q->paused) {
        pause_one(pl, pl->cfg->topic[src], pt->t.partition, want);
        q->paused = want;
    }
}

static void flow_control_all(struct pipeline *pl)
{
    for (size_t p = 0; p < pl->ntasks; p++)
        if (pl->tasks[p] != NULL)
            for (int s = 0; s < SRC__COUNT; s++)
                flow_control(pl, pl->tasks[p], s);
}

static void set_paused(struct pipeline *pl, int paused)
{
    if (pl->paused == paused)
        return;
    pl->paused = paused;
    flow_control_all(pl);
    metrics_set_paused(paused);
    log_note("input %s", paused ? "paused" : "resumed");
}

static void redis_retry(struct pipeline *pl)
{
    char err[512];

    if (store_ok(pl->store) || mono_ms() < pl->redis_retry_at_ms)
        return;
    if (store_connect(pl->store, err, sizeof(err)) == 0) {
        log_note("redis: reconnected");
        pl->redis_backoff_ms = REDIS_BACKOFF_MIN_MS;
        metrics_set_redis_up(1);
        return;
    }
    log_warn("%s (retry in %" PRId64 " ms)", err, pl->redis_backoff_ms);
    pl->redis_retry_at_ms = mono_ms() + pl->redis_backoff_ms;
    pl->redis_backoff_ms *= 2;
    if (pl->redis_backoff_ms > REDIS_BACKOFF_MAX_MS)
        pl->redis_backoff_ms = REDIS_BACKOFF_MAX_MS;
}

/* A batch could not be committed (Redis unavailable, or memory short): pause
 * input and retry with backoff, that batch first. */
static void hold_back(struct pipeline *pl)
{
    if (!store_ok(pl->store))
        metrics_set_redis_up(0);
    set_paused(pl, 1);
    if (pl->redis_retry_at_ms < mono_ms())
        pl->redis_retry_at_ms = mono_ms() + pl->redis_backoff_ms;
}

/* ---- consuming: parse into the task's queue ---- */

static void drop_queued(void *arg, void *msg, void *entry)
{
    (void)arg;
    if (entry)
        tracker_release(entry);
    rd_kafka_message_destroy(msg);
}

static void consume_message(struct pipeline *pl, rd_kafka_message_t *m, int src,
                            struct ptask *pt)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct task_msg tm = {.msg = m, .offset = m->offset};

    if ((tm.entry = tracker_add(pl->tracker, topic, m->partition, m->offset)) == NULL) {
        log_err("%s/%d@%" PRId64 ": out of memory; re-read after a restart", topic,
                (int)m->partition, m->offset);
        rd_kafka_message_destroy(m);
        return;
    }
    event_init(&tm.ev);
    tm.reason = parse_event(m->payload, m->len, (enum ev_source)src, &pl->cfg->limits,
                            wall_ms(), &tm.ev, tm.detail, sizeof(tm.detail));
    if (tm.reason != PR_NO_MEMORY && task_push(&pt->t, src, &tm) == 0) {
        flow_control(pl, pt, src);
        return;
    }
    log_err("%s/%d@%" PRId64 ": out of memory; re-read after a restart", topic,
            (int)m->partition, m->offset);
    event_free(&tm.ev);
    tracker_release(tm.entry);
    rd_kafka_message_destroy(m);
}

/* A malformed message's turn: to the DLQ, its offset stored once recorded. */
static void dead_letter_bad(struct pipeline *pl, struct task_msg *tm)
{
    rd_kafka_message_t *m = tm->msg;
    const char *reason = parse_reason_name((enum parse_reason)tm->reason);

    log_info("%s/%d@%" PRId64 ": dead-lettered: %s (%s)", rd_kafka_topic_name(m->rkt),
             (int)m->partition, m->offset, reason, tm->detail);
    if (dead_letter(pl, tm->entry, m, reason, tm->detail) == 0)
        metrics_dead_lettered((enum parse_reason)tm->reason);
    else
        log_err("%s/%d@%" PRId64
                ": out of memory dead-lettering; re-read after a restart",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
    event_free(&tm->ev);
    tracker_release(tm->entry);
    rd_kafka_message_destroy(m);
}

static void consume_one(struct pipeline *pl, rd_kafka_message_t *m)
{
    int role = m->rkt ? role_of(pl, rd_kafka_topic_name(m->rkt)) : -1;
    struct ptask *pt = task_of(pl, m->partition);

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (pt && role >= TOPIC_ORDERS && role <= TOPIC_MESSAGES)
            task_at_end(&pt->t, role);
        rd_kafka_message_destroy(m);
        return;
    }
    if (m->err) {
        log_warn("consume: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return;
    }
    pl->kafka_up = 1;
    metrics_set_kafka_up(1);
    if (pt == NULL || role < TOPIC_ORDERS || role > TOPIC_MESSAGES) {
        rd_kafka_message_destroy(m); /* not ours (revoked meanwhile) */
        return;
    }
    metrics_consumed((enum metric_topic)role);
    consume_message(pl, m, role, pt);
}

/* ---- applying: one batch of a task ---- */

/* Take up to batch.max_events merged events.  Returns how long the task must
 * wait for a partition that is behind (0: not waiting). */
static int64_t fill_batch(struct pipeline *pl, struct ptask *pt)
{
    int64_t wait_ms = 0;

    while (pt->nbatch < (size_t)pl->cfg->batch_max_events) {
        int src, timed_out, late;
        enum task_wait w = task_next(&pt->t, mono_ms(), pl->cfg->merge_max_idle_ms, &src,
                                     &wait_ms, &timed_out);

        if (timed_out)
            metrics_add(MC_MERGE_IDLE_TIMEOUTS, 1);
        if (w != TASK_READY)
            return w == TASK_WAITING ? wait_ms : 0;
        task_pop(&pt->t, src, &pt->batch[pt->nbatch], &late);
        flow_control(pl, pt, src);
        if (pt->batch[pt->nbatch].reason != 0) {
            dead_letter_bad(pl, &pt->batch[pt->nbatch]);
            continue;
        }
        if (late)
            metrics_add(MC_LATE_EVENTS, 1);
        pt->nbatch++;
    }
    return 0;
}

static struct batch_ctx batch_ctx_of(struct pipeline *pl, const struct ptask *pt)
{
    return (struct batch_ctx){pl->store, pl->cache,       &pl->model, pt->t.partition,
                              wall_ms(), publish_pending, pl};
}

static void account_batch(struct pipeline *pl, const struct batch_stats *st)
{
    metrics_add(MC_BATCHES, 1);
    metrics_add(MC_CACHE_HITS, st->cache_hits);
    metrics_add(MC_CACHE_MISSES, st->cache_misses);
    metrics_add(MC_COMMITS, st->commits);
    metrics_add(MC_COMMIT_CONFLICTS, st->conflicts);
    metrics_add(MC_MISROUTED, st->misrouted);
    metrics_set_cache(cache_count(pl->cache), cache_bytes(pl->cache));
}

/* After a committed batch: what each event became, then its input is done. */
static void finish_item(struct pipeline *pl, struct task_msg *tm,
                        const struct batch_item *it, int64_t now_us)
{
    rd_kafka_message_t *m = tm->msg;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);

    switch (it->status) {
    case BATCH_APPLIED:
        metrics_applied();
        if (ts > 0)
            metrics_apply_latency(now_us - ts * 1000);
        break;
    case BATCH_DUPLICATE:
        metrics_duplicate();
        break;
    case BATCH_REJECTED:
        log_err("%s/%d@%" PRId64 ": model refused event %s: %s",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                tm->ev.event_id, it->err);
        metrics_model_rejected();
        if (dead_letter(pl, tm->entry, m, "model_rejected", it->err) < 0)
            log_err("out of memory dead-lettering %s", tm->ev.event_id);
        break;
    case BATCH_SWEPT:
        break;
    }
    if (it->misrouted == 2)
        log_warn("customer %s lives on partition %" PRId32 " but %s/%d@%" PRId64
                 " came on another (producers must key by customer_id with one "
                 "partitioner)",
                 tm->ev.customer_id, it->home_partition, rd_kafka_topic_name(m->rkt),
                 (int)m->partition, m->offset);
    event_free(&tm->ev);
    tracker_release(tm->entry);
    rd_kafka_message_destroy(m);
}

/* Commit the task's batch.  0, or -1 when it must be retried later. */
static int run_batch(struct pipeline *pl, struct ptask *pt)
{
    struct batch_ctx b = batch_ctx_of(pl, pt);
    struct batch_stats st = {0};
    char err[512];
    int64_t now_us;

    for (size_t i = 0; i < pt->nbatch; i++) {
        struct task_msg *tm = &pt->batch[i];
        rd_kafka_message_t *m = tm->msg;

        pl->items[i] =
            (struct batch_item){.ev = &tm->ev,
                                .source = role_of(pl, rd_kafka_topic_name(m->rkt)),
                                .partition = m->partition,
                                .offset = m->offset,
                                .opaque = tm->entry};
    }
    if (batch_run(&b, pl->items, pt->nbatch, &st, err, sizeof(err)) < 0) {
        log_warn("partition %d: %s; pausing input", (int)pt->t.partition, err);
        metrics_redis_errors();
        account_redis(pl);
        return -1;
    }
    now_us = wall_us();
    for (size_t i = 0; i < pt->nbatch; i++)
        finish_item(pl, &pt->batch[i], &pl->items[i], now_us);
    pt->nbatch = 0;
    account_batch(pl, &st);
    return 0;
}

/* Batches of every task until nothing is ready; returns the shortest wait
 * any task is in (0: none), for the next poll. */
static int64_t run_tasks(struct pipeline *pl)
{
    int64_t wait = 0;

    for (size_t p = 0; p < pl->ntasks; p++) {
        struct ptask *pt = pl->tasks[p];

        while (pt != NULL && store_ok(pl->store)) {
            int64_t w = pt->nbatch ? 0 : fill_batch(pl, pt);

            if (w > 0 && (wait == 0 || w < wait))
                wait = w;
            if (pt->nbatch == 0)
                break;
            if (run_batch(pl, pt) < 0) {
                hold_back(pl);
                return 0;
            }
        }
    }
    if (store_ok(pl->store))
        set_paused(pl, 0);
    return wait;
}

/* ---- offsets ---- */

static void store_one(void *arg, const char *topic, int32_t partition, int64_t next)
{
    rd_kafka_topic_partition_list_add(arg, topic, partition)->offset = next;
}

/* rd_kafka_offsets_store() in 2.0 wants an explicit list (next offset). */
static void offsets_store(struct pipeline *pl)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    rd_kafka_resp_err_t err;

    tracker_collect(pl->tracker, store_one, list);
    if (list->cnt > 0 && (err = rd_kafka_offsets_store(pl->consumer, list)) != 0)
        log_debug("offsets store: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
}

/* Serve delivery reports until nothing produced is outstanding (or timeout),
 * then store what became storable. */
static void settle(struct pipeline *pl, int timeout_ms)
{
    int64_t until = mono_ms() + timeout_ms;

    do {
        produce_retries(pl);
        rd_kafka_poll(pl->producer, 50);
    } while ((pl->outstanding > 0 || pl->retry != NULL) && mono_ms() < until);
    acks_flush(pl);
    offsets_store(pl);
}

/* ---- tasks and rebalance ---- */

/* Partition count of one topic from the cluster; -1 if unknown. */
static int partition_count(struct pipeline *pl, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(pl->consumer, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;

    if (rkt == NULL)
        return -1;
    if (rd_kafka_metadata(pl->consumer, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1 &&
        md->topics[0].err == 0)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* The input topics must be co-partitioned: partition p of all three is one
 * task.  Unequal counts are a deployment error the daemon refuses to run on. */
static int check_copartitioned(struct pipeline *pl)
{
    int n[SRC__COUNT];

    for (int s = 0; s < SRC__COUNT; s++)
        n[s] = partition_count(pl, pl->cfg->topic[s]);
    for (int s = 1; s < SRC__COUNT; s++) {
        if (n[s] >= 0 && n[0] >= 0 && n[s] != n[0]) {
            log_err("input topics are not co-partitioned: %s has %d partitions, %s %d, "
                    "%s %d; they must have equal counts (and producers one partitioner)",
                    pl->cfg->topic[0], n[0], pl->cfg->topic[1], n[1], pl->cfg->topic[2],
                    n[2]);
            return -1;
        }
    }
    return 0;
}

static int task_add(struct pipeline *pl, int32_t p)
{
    struct ptask *pt;

    if ((size_t)p >= pl->ntasks) {
        size_t n = (size_t)p + 1;
        struct ptask **v = realloc(pl->tasks, n * sizeof(*v));

        if (v == NULL)
            return -1;
        memset(v + pl->ntasks, 0, (n - pl->ntasks) * sizeof(*v));
        pl->tasks = v;
        pl->ntasks = n;
    }
    if (pl->tasks[p] != NULL)
        return 0;
    if ((pt = calloc(1, sizeof(*pt))) == NULL ||
        (pt->batch = malloc((size_t)pl->cfg->batch_max_events * sizeof(*pt->batch))) ==
            NULL) {
        free(pt);
        return -1;
    }
    task_init(&pt->t, p);
    pl->tasks[p] = pt;
    return 0;
}

/* Drop a task's unapplied messages (their offsets were never stored, so the
 * next owner reads them again) and its cached customers. */
static void task_remove(struct pipeline *pl, int32_t p)
{
    struct ptask *pt = task_of(pl, p);

    if (pt == NULL)
        return;
    for (size_t i = 0; i < pt->nbatch; i++) {
        event_free(&pt->batch[i].ev);
        drop_queued(NULL, pt->batch[i].msg, pt->batch[i].entry);
    }
    task_fini(&pt->t, drop_queued, NULL);
    free(pt->batch);
    free(pt);
    pl->tasks[p] = NULL;
    cache_drop_task(pl->cache, p);
}

static void on_assign(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err;

    if (check_copartitioned(pl) < 0) {
        pl->failed = 1;
        return;
    }
    for (int i = 0; i < parts->cnt; i++)
        if (task_add(pl, parts->elems[i].partition) < 0)
            log_err("out of memory creating the task of partition %d",
                    (int)parts->elems[i].partition);
    if ((err = rd_kafka_assign(pl->consumer, parts)) != 0)
        log_err("assign: %s", rd_kafka_err2str(err));
    if (pl->assigned)
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    pl->assigned = rd_kafka_topic_partition_list_copy(parts);
    if (pl->paused)
        flow_control_all(pl);
    log_note("assigned %d partitions", parts->cnt);
}

/* Finish the revoked partitions' work before they go: the batches already
 * taken committed if Redis allows, deliveries settled, offsets stored and
 * committed synchronously. */
static void on_revoke(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err;

    for (size_t p = 0; p < pl->ntasks; p++)
        if (pl->tasks[p] && pl->tasks[p]->nbatch && store_ok(pl->store))
            run_batch(pl, pl->tasks[p]);
    settle(pl, 10000);
    err = rd_kafka_commit(pl->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("commit on revoke: %s", rd_kafka_err2str(err));
    for (int i = 0; i < parts->cnt; i++) {
        tracker_forget(pl->tracker, parts->elems[i].topic, parts->elems[i].partition);
        task_remove(pl, parts->elems[i].partition);
    }
    rd_kafka_assign(pl->consumer, NULL);
    if (pl->assigned) {
        rd_kafka_topic_partition_list_destroy(pl->assigned);
        pl->assigned = NULL;
    }
    metrics_clear_lag();
    log_note("revoked %d partitions", parts->cnt);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct pipeline *pl = opaque;

    (void)rk;
    metrics_rebalance();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(pl, parts);
    else
        on_revoke(pl, parts);
}
/* ---- librdkafka callbacks (any thread) ---- */

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    log_msg(level < LOG_LVL_ERR ? LOG_LVL_ERR : level, "kafka: %s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct pipeline *pl = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        pl->kafka_up = 0;
        metrics_set_kafka_up(0);
    }
    log_warn("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* Consumer lag per partition from the statistics JSON. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *topic, *part;

    (void)rk;
    (void)opaque;
    cJSON_ArrayForEach(topic, cJSON_GetObjectItem(root, "topics"))
    {
        cJSON_ArrayForEach(part, cJSON_GetObjectItem(topic, "partitions"))
        {
            cJSON *lag = cJSON_GetObjectItem(part, "consumer_lag");
            cJSON *state = cJSON_GetObjectItem(part, "fetch_state");
            int p = atoi(part->string);

            /* The statistics list every partition the client has seen; only
             * the assigned ones are being fetched. */
            if (!cJSON_IsString(state) || strcmp(state->valuestring, "none") == 0 ||
                strncmp(state->valuestring, "stop", 4) == 0)
                continue;
            if (p >= 0 && cJSON_IsNumber(lag) && lag->valuedouble >= 0)
                metrics_set_lag(topic->string, p, (int64_t)lag->valuedouble);
        }
    }
    cJSON_Delete(root);
    return 0;
}

/* ---- set-up ---- */

static int conf_apply(rd_kafka_conf_t *conf, const struct kafka_props *props, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < props->n; i++)
        if (rd_kafka_conf_set(conf, props->v[i].name, props->v[i].value, err, errlen) !=
            RD_KAFKA_CONF_OK)
            return -1;
    return 0;
}

int pipeline_check_property(const char *name, const char *value, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, name, value, err, errlen);

    rd_kafka_conf_destroy(conf);
    return res == RD_KAFKA_CONF_OK ? 0 : -1;
}

static rd_kafka_conf_t *conf_base(struct pipeline *pl, const struct kafka_props *own,
                                  const char *const *defaults, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    for (size_t i = 0; defaults[i] != NULL; i += 2)
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], err, errlen))
            goto fail;
    if (conf_apply(conf, &pl->cfg->kafka_common, err, errlen) < 0 ||
        conf_apply(conf, own, err, errlen) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, pl);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static const char *const consumer_defaults[] = {
    "enable.auto.offset.store",
    "false", /* stored only when durable */
    "enable.auto.commit",
    "true", /* commits what was stored */
    "auto.offset.reset",
    "earliest",
    "partition.assignment.strategy",
    "range", /* eager; cooperative is buggy in 2.0 */
    "enable.partition.eof",
    "true", /* the merge must know when a partition has nothing more */
    "queued.max.messages.kbytes",
    "16384", /* prefetch bound: the task queues are the buffer */
    "statistics.interval.ms",
    "5000",
    NULL};

/* message.timeout.ms = 0: a derived event is never given up (a failed one is
 * produced again anyway).  With a timeout, librdkafka 2.0's idempotent
 * producer bumps its epoch when in-flight messages time out, and then a
 * message can be acknowledged yet missing from the topic (reproduced on the
 * mock cluster: tests/fault/fault_kafka.c). */
static const char *const producer_defaults[] = {
    "enable.idempotence", "true", "acks", "all", "linger.ms", "5",
    "message.timeout.ms", "0",    NULL};

static int make_clients(struct pipeline *pl, char *err, size_t errlen)
{
    rd_kafka_conf_t *cc =
        conf_base(pl, &pl->cfg->kafka_consumer, consumer_defaults, err, errlen);
    rd_kafka_conf_t *pc =
        cc ? conf_base(pl, &pl->cfg->kafka_producer, producer_defaults, err, errlen)
           : NULL;

    if (cc == NULL || pc == NULL)
        goto fail;
    if (rd_kafka_conf_set(cc, "group.id", pl->cfg->group_id, err, errlen))
        goto fail;
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    rd_kafka_conf_set_stats_cb(cc, on_stats);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    if ((pl->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, errlen)) == NULL)
        goto fail;
    cc = NULL; /* owned by the consumer now */
    if ((pl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, errlen)) == NULL)
        goto fail;
    rd_kafka_poll_set_consumer(pl->consumer);
    return 0;
fail:
    if (cc)
        rd_kafka_conf_destroy(cc);
    if (pc && pl->producer == NULL)
        rd_kafka_conf_destroy(pc);
    return -1;
}

struct pipeline *pipeline_new(const struct config *cfg, struct store *store, char *err,
                              size_t errlen)
{
    struct pipeline *pl = calloc(1, sizeof(*pl));

    if (pl == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    pl->store = store;
    pl->model.cfg = cfg->model;
    bg_params_default(&pl->model.bg);
    gg_params_default(&pl->model.gg);
    pl->redis_backoff_ms = REDIS_BACKOFF_MIN_MS;
    pl->tracker = tracker_new();
    pl->in_flight = idset_new();
    pl->cache = cache_new(cfg->cache_max_bytes);
    pl->items = malloc(((size_t)cfg->batch_max_events > (size_t)cfg->sweep_batch
                            ? (size_t)cfg->batch_max_events
                            : (size_t)cfg->sweep_batch) *
                       sizeof(*pl->items));
    if (!pl->tracker || !pl->in_flight || !pl->cache || !pl->items) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (make_clients(pl, err, errlen) < 0)
        goto fail;
    return pl;
fail:
    pipeline_free(pl);
    return NULL;
}

void pipeline_free(struct pipeline *pl)
{
    if (pl == NULL)
        return;
    for (size_t p = 0; p < pl->ntasks; p++)
        task_remove(pl, (int32_t)p);
    free(pl->tasks);
    if (pl->consumer)
        rd_kafka_destroy(pl->consumer);
    if (pl->producer)
        rd_kafka_destroy(pl->producer); /* undelivered: dr callbacks free them */
    while (pl->retry) {
        struct outmsg *om = pl->retry;

        pl->retry = om->next;
        outmsg_done(om);
    }
    if (pl->assigned)
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    tracker_free(pl->tracker);
    idset_free(pl->in_flight);
    cache_free(pl->cache);
    free(pl->items);
    free(pl->acks);
    free(pl);
}

int pipeline_probe(struct pipeline *pl, int timeout_ms, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(pl->producer, 0, NULL, &md, timeout_ms);

    if (e) {
        snprintf(err, errlen, "kafka metadata: %s", rd_kafka_err2str(e));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    pl->kafka_up = 1;
    metrics_set_kafka_up(1);
    return 0;
}

int pipeline_subscribe(struct pipeline *pl, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(3);
    rd_kafka_resp_err_t e;

    for (int i = TOPIC_ORDERS; i <= TOPIC_MESSAGES; i++)
        rd_kafka_topic_partition_list_add(topics, pl->cfg->topic[i],
                                          RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(pl->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* ---- the main loop's turn ---- */

void pipeline_step(struct pipeline *pl, int timeout_ms)
{
    rd_kafka_message_t *m;
    int64_t wait;

    redis_retry(pl);
    wait = run_tasks(pl);
    /* Wait for input only as long as no task is ready, and no longer than a
     * task waits for a partition that is behind. */
    if (wait > 0 && wait < timeout_ms)
        timeout_ms = (int)wait;
    m = rd_kafka_consumer_poll(pl->consumer, timeout_ms);
    for (int i = 0; m != NULL; i++) {
        consume_one(pl, m);
        m = i < POLL_BURST ? rd_kafka_consumer_poll(pl->consumer, 0) : NULL;
    }
    if (!pl->failed)
        run_tasks(pl);
    produce_retries(pl);
    rd_kafka_poll(pl->producer, 0);
    acks_flush(pl);
    offsets_store(pl);
    account_redis(pl);
}

/* The sweeper's "now" for a task: the wall clock, or in a replay the task's
 * stream time (every event up to it has been applied, by the merge); 0 when
 * there is nothing to judge by. */
static int64_t sweep_now(const struct pipeline *pl, const struct ptask *pt)
{
    return pl->cfg->clock == CLOCK_WALL ? wall_ms() : pt->t.stream_ms;
}

/* One batch of the task's due customers; each is evaluated at every due time
 * up to now, so the result does not depend on when this runs. */
static size_t sweep_task(struct pipeline *pl, struct ptask *pt, int64_t now)
{
    struct batch_ctx b = batch_ctx_of(pl, pt);
    struct batch_stats st = {0};
    char **ids = NULL, err[512];
    size_t n = 0;

    if (store_due(pl->store, pt->t.partition, now, (size_t)pl->cfg->sweep_batch, &ids,
                  &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        pl->items[i] = (struct batch_item){.sweep_id = ids[i],
                                           .sweep_until_ms = now,
                                           .source = -1,
                                           .partition = pt->t.partition,
                                           .offset = -1};
    if (batch_run(&b, pl->items, n, &st, err, sizeof(err)) < 0)
        log_warn("sweep of partition %d: %s", (int)pt->t.partition, err);
    else
        account_batch(pl, &st);
    store_ids_free(ids, n);
    return n;
}

void pipeline_sweep(struct pipeline *pl)
{
    size_t swept = 0;

    if (!store_ok(pl->store) || pl->paused)
        return;
    for (size_t p = 0; p < pl->ntasks; p++) {
        struct ptask *pt = pl->tasks[p];
        int64_t now = pt ? sweep_now(pl, pt) : 0;

        if (now > 0 && pt->nbatch == 0)
            swept += sweep_task(pl, pt, now);
    }
    metrics_sweep_run(swept);
    account_redis(pl);
    if (swept > 0)
        log_debug("sweeper: %zu customers re-evaluated", swept);
}

void pipeline_refresh_model(struct pipeline *pl)
{
    struct bg_params bg;
    struct gg_params gg;

    if (store_ok(pl->store) && store_model_get(pl->store, &bg, &gg) == 1) {
        if (memcmp(&bg, &pl->model.bg, sizeof(bg)) != 0)
            log_note("model parameters: r=%g alpha=%g a=%g b=%g", bg.r, bg.alpha, bg.a,
                     bg.b);
        pl->model.bg = bg;
        pl->model.gg = gg;
    }
}

struct model_config *pipeline_set_model_config(struct pipeline *pl,
                                               struct model_config *cfg)
{
    struct model_config *old = (struct model_config *)(uintptr_t)pl->model.cfg;

    pl->model.cfg = cfg;
    return old;
}

void pipeline_close(struct pipeline *pl, int timeout_ms)
{
    rd_kafka_resp_err_t err;

    for (size_t p = 0; p < pl->ntasks; p++)
        if (pl->tasks[p] && pl->tasks[p]->nbatch && store_ok(pl->store))
            run_batch(pl, pl->tasks[p]);
    settle(pl, timeout_ms);
    err = rd_kafka_consumer_close(pl->consumer); /* commits stored offsets */
    if (err)
        log_warn("consumer close: %s", rd_kafka_err2str(err));
    rd_kafka_flush(pl->producer, 1000);
}

int pipeline_ready(const struct pipeline *pl)
{
    return store_ok(pl->store) && pl->kafka_up;
}

int pipeline_failed(const struct pipeline *pl)
{
    return pl->failed;
}

size_t pipeline_assigned(const struct pipeline *pl)
{
    return pl->assigned ? (size_t)pl->assigned->cnt : 0;
}
