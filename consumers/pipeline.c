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
#include "consumers/tracker.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "state/ingest.h"
#include "state/model.h"

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000

/* Messages taken from the consumer but not processed yet: filled only while
 * Redis is unavailable (the partitions are paused meanwhile), drained in order
 * once it is back. */
struct backlog {
    rd_kafka_message_t **v;
    size_t head, n, cap;
};

/* A message handed to the producer.  Owned by the pipeline until its delivery
 * report; the payload must stay valid that long (librdkafka does not copy). */
struct outmsg {
    struct pipeline *pl;
    struct tracker_entry *entry; /* the input it came from; NULL for the sweeper */
    enum topic_role role;
    char customer_id[EV_ID_MAX + 1]; /* outbox entries only */
    char event_id[33];
    char *key, *payload;
    size_t keylen, len;
    rd_kafka_headers_t *hdrs; /* DLQ only; a copy is handed over per attempt */
    struct outmsg *next;      /* in the retry list */
};

struct pipeline {
    const struct config *cfg;
    struct store *store;
    rd_kafka_t *consumer, *producer;
    struct tracker *tracker;
    struct backlog backlog;
    struct outmsg *retry;    /* failed deliveries to produce again */
    struct idset *in_flight; /* outbox event_ids handed to the producer */
    rd_kafka_topic_partition_list_t *assigned;
    struct model_ctx model;
    struct model_config *model_cfg;
    int paused;
    int kafka_up;
    /* Per partition number, per input topic: the newest event time seen
     * (clock = stream). */
    int64_t (*stream_now_ms)[TOPIC_MESSAGES + 1];
    size_t n_stream_now;
    int64_t redis_retry_at_ms, redis_backoff_ms;
    size_t outstanding; /* produced, delivery report not yet seen */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* ---- backlog ---- */

static int backlog_push(struct backlog *b, rd_kafka_message_t *m, int front)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        rd_kafka_message_t **v = malloc(cap * sizeof(*v));

        if (v == NULL)
            return -1;
        for (size_t i = 0; i < b->n; i++)
            v[i] = b->v[(b->head + i) % b->cap];
        free(b->v);
        b->v = v;
        b->cap = cap;
        b->head = 0;
    }
    if (front) {
        b->head = (b->head + b->cap - 1) % b->cap;
        b->v[b->head] = m;
    } else {
        b->v[(b->head + b->n) % b->cap] = m;
    }
    b->n++;
    return 0;
}

static rd_kafka_message_t *backlog_pop(struct backlog *b)
{
    rd_kafka_message_t *m;

    if (b->n == 0)
        return NULL;
    m = b->v[b->head];
    b->head = (b->head + 1) % b->cap;
    b->n--;
    return m;
}

/* Drop queued messages of revoked partitions (NULL: all); their offsets were
 * never stored, so the next owner reads them again. */
static void backlog_drop(struct backlog *b, const rd_kafka_topic_partition_list_t *parts)
{
    size_t n = b->n;

    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = backlog_pop(b);

        if (parts == NULL ||
            rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt),
                                               m->partition) != NULL)
            rd_kafka_message_destroy(m);
        else
            backlog_push(b, m, 0);
    }
}

/* ---- producing ---- */

static void outmsg_free(struct outmsg *om)
{
    if (om->hdrs)
        rd_kafka_headers_destroy(om->hdrs);
    free(om->key);
    free(om->payload);
    free(om);
}

static struct outmsg *outmsg_new(struct pipeline *pl, struct tracker_entry *entry,
                                 enum topic_role role, const char *key, size_t keylen,
                                 const char *payload, size_t len)
{
    struct outmsg *om = calloc(1, sizeof(*om));

    if (om == NULL)
        return NULL;
    om->pl = pl;
    om->entry = entry;
    om->role = role;
    om->key = malloc(keylen + 1);
    om->payload = malloc(len + 1);
    if (om->key == NULL || om->payload == NULL) {
        outmsg_free(om);
        return NULL;
    }
    memcpy(om->key, key, keylen);
    memcpy(om->payload, payload, len);
    om->key[keylen] = om->payload[len] = '\0';
    om->keylen = keylen;
    om->len = len;
    return om;
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
        idset_remove(pl->in_flight, om->event_id);
        /* If this ack fails the entry stays in the outbox and is published
         * again later under the same id and payload: a tolerated duplicate. */
        if (store_outbox_ack(pl->store, om->customer_id, om->event_id) < 0)
            log_warn("outbox ack %s/%s failed; it will be re-sent", om->customer_id,
                     om->event_id);
        metrics_emitted(om->role == TOPIC_CHURN ? ME_CHURN : ME_REWARD);
    }
    if (om->entry)
        tracker_release(om->entry);
    outmsg_free(om);
}

static void publish_pending(struct pipeline *pl, struct tracker_entry *entry,
                            const char *customer_id, const struct store_outbox *pending)
{
    for (size_t i = 0; i < pending->n; i++) {
        const struct store_outbox_entry *e = &pending->v[i];
        enum topic_role role =
            e->topic == STORE_TOPIC_REWARDS ? TOPIC_REWARDS : TOPIC_CHURN;
        struct outmsg *om;

        /* A commit returns the whole outbox; entries of earlier commits may
         * still be on their way. */
        if (idset_contains(pl->in_flight, e->event_id))
            continue;
        om = outmsg_new(pl, entry, role, customer_id, strlen(customer_id), e->payload,
                        strlen(e->payload));
        if (om == NULL || idset_add(pl->in_flight, e->event_id) < 0) {
            if (om)
                outmsg_free(om);
            log_err("out of memory publishing %s; it stays in the outbox", e->event_id);
            continue;
        }
        snprintf(om->customer_id, sizeof(om->customer_id), "%s", customer_id);
        snprintf(om->event_id, sizeof(om->event_id), "%s", e->event_id);
        if (entry)
            tracker_hold(entry);
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
    struct outmsg *om = outmsg_new(pl, entry, TOPIC_DLQ, m->key ? m->key : "", m->key_len,
                                   m->payload ? m->payload : "", len);
    char num[32];

    if (om == NULL || (om->hdrs = rd_kafka_headers_new(8)) == NULL) {
        if (om)
            outmsg_free(om);
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
    tracker_hold(entry);
    produce(pl, om);
    return 0;
}

/* ---- processing ---- */

enum process_result { PROCESSED = 0, PROCESS_LATER };

/* Stream time is kept per partition number and input topic, so that in a
 * replay the sweeper never judges a customer at a time one of its topics has
 * not reached. */
static void stream_advance(struct pipeline *pl, int role, int32_t partition,
                           int64_t ts_ms)
{
    if (partition < 0 || role < TOPIC_ORDERS || role > TOPIC_MESSAGES)
        return;
    if ((size_t)partition >= pl->n_stream_now) {
        size_t n = (size_t)partition + 1;
        void *v = realloc(pl->stream_now_ms, n * sizeof(pl->stream_now_ms[0]));

        if (v == NULL)
            return;
        pl->stream_now_ms = v;
        memset(pl->stream_now_ms + pl->n_stream_now, 0,
               (n - pl->n_stream_now) * sizeof(pl->stream_now_ms[0]));
        pl->n_stream_now = n;
    }
    if (ts_ms > pl->stream_now_ms[partition][role])
        pl->stream_now_ms[partition][role] = ts_ms;
}

static void account_redis(struct pipeline *pl)
{
    int64_t sum_us;
    uint64_t n;

    store_take_latency(pl->store, &sum_us, &n);
    metrics_redis_latency(sum_us, n);
}

static void apply_and_publish(struct pipeline *pl, struct tracker_entry *entry,
                              const rd_kafka_message_t *m, const struct event *ev,
                              enum ingest_status *st)
{
    /* The watermark is named by the topic's role, so renaming a topic in the
     * config does not make old offsets look new. */
    const struct store_origin o = {
        event_source_name((enum ev_source)role_of(pl, rd_kafka_topic_name(m->rkt))),
        m->partition, m->offset};
    struct store_outbox pending;
    char err[512];

    store_outbox_init(&pending);
    *st = ingest_event(pl->store, &pl->model, ev, &o, wall_ms(), &pending, err,
                       sizeof(err));
    switch (*st) {
    case INGEST_OK:
        metrics_applied();
        break;
    case INGEST_DUPLICATE:
        metrics_duplicate();
        break;
    case INGEST_FAILED:
        log_err("%s/%d@%" PRId64 ": model refused event %s: %s",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, ev->event_id,
                err);
        metrics_model_rejected();
        dead_letter(pl, entry, m, "model_rejected", err);
        break;
    case INGEST_RETRY:
        log_warn("%s; pausing input", err);
        metrics_redis_errors();
        break;
    }
    if (*st == INGEST_OK || *st == INGEST_DUPLICATE)
        publish_pending(pl, entry, ev->customer_id, &pending);
    store_outbox_free(&pending);
}

static enum process_result process(struct pipeline *pl, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int role = role_of(pl, topic);
    struct tracker_entry *entry;
    enum ingest_status st = INGEST_OK;
    enum parse_reason why;
    struct event ev;
    char detail[256];

    if (role < 0 || role > TOPIC_MESSAGES)
        return PROCESSED; /* not subscribed; cannot happen */
    if ((entry = tracker_add(pl->tracker, topic, m->partition, m->offset)) == NULL)
        return PROCESS_LATER;
    event_init(&ev);
    why = parse_event(m->payload, m->len, (enum ev_source)role, &pl->cfg->limits,
                      wall_ms(), &ev, detail, sizeof(detail));
    if (why == PR_NO_MEMORY) {
        log_warn("%s/%d@%" PRId64 ": out of memory parsing; will retry", topic,
                 (int)m->partition, m->offset);
        tracker_unadd(entry);
        return PROCESS_LATER;
    }
    if (why != PR_OK) {
        log_info("%s/%d@%" PRId64 ": dead-lettered: %s (%s)", topic, (int)m->partition,
                 m->offset, parse_reason_name(why), detail);
        if (dead_letter(pl, entry, m, parse_reason_name(why), detail) < 0) {
            tracker_unadd(entry); /* out of memory: not lost, tried again */
            return PROCESS_LATER;
        }
        metrics_dead_lettered(why);
    } else {
        apply_and_publish(pl, entry, m, &ev, &st);
        if (st != INGEST_RETRY)
            stream_advance(pl, role, m->partition, ev.ts_ms);
        event_free(&ev);
    }
    if (st == INGEST_RETRY) {
        tracker_unadd(entry);
        return PROCESS_LATER;
    }
    tracker_release(entry);
    return PROCESSED;
}

/* ---- pausing while Redis is away ---- */

static void set_paused(struct pipeline *pl, int paused)
{
    rd_kafka_resp_err_t err;

    if (pl->paused == paused || pl->assigned == NULL)
        return;
    err = paused ? rd_kafka_pause_partitions(pl->consumer, pl->assigned)
                 : rd_kafka_resume_partitions(pl->consumer, pl->assigned);
    if (err)
        log_warn("%s partitions: %s", paused ? "pause" : "resume", rd_kafka_err2str(err));
    pl->paused = paused;
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

/* A message could not be processed now (Redis unavailable, or memory short):
 * pause input and retry with backoff, the message first. */
static void hold_back(struct pipeline *pl)
{
    if (!store_ok(pl->store))
        metrics_set_redis_up(0);
    set_paused(pl, 1);
    if (pl->redis_retry_at_ms < mono_ms())
        pl->redis_retry_at_ms = mono_ms() + pl->redis_backoff_ms;
}

/* Work through what was held back; stop at the first message Redis refuses. */
static void backlog_drain(struct pipeline *pl)
{
    rd_kafka_message_t *m;

    while (store_ok(pl->store) && (m = backlog_pop(&pl->backlog)) != NULL) {
        if (process(pl, m) == PROCESS_LATER) {
            backlog_push(&pl->backlog, m, 1);
            hold_back(pl);
            return;
        }
        rd_kafka_message_destroy(m);
    }
    if (pl->backlog.n == 0 && store_ok(pl->store))
        set_paused(pl, 0);
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
    offsets_store(pl);
}

/* ---- rebalance ---- */

static void on_assign(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err = rd_kafka_assign(pl->consumer, parts);

    if (err)
        log_err("assign: %s", rd_kafka_err2str(err));
    if (pl->assigned)
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    pl->assigned = rd_kafka_topic_partition_list_copy(parts);
    pl->paused = 0;
    if (!store_ok(pl->store))
        set_paused(pl, 1);
    log_note("assigned %d partitions", parts->cnt);
}

/* Finish the revoked partitions' work before they go: deliveries settled,
 * offsets stored and committed synchronously. */
static void on_revoke(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err;

    backlog_drop(&pl->backlog, parts);
    settle(pl, 10000);
    err = rd_kafka_commit(pl->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("commit on revoke: %s", rd_kafka_err2str(err));
    for (int i = 0; i < parts->cnt; i++)
        tracker_forget(pl->tracker, parts->elems[i].topic, parts->elems[i].partition);
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
    "false",
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
    if ((pl->tracker = tracker_new()) == NULL || (pl->in_flight = idset_new()) == NULL) {
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
    backlog_drop(&pl->backlog, NULL);
    free(pl->backlog.v);
    if (pl->consumer)
        rd_kafka_destroy(pl->consumer);
    if (pl->producer)
        rd_kafka_destroy(pl->producer); /* undelivered: dr callbacks free them */
    while (pl->retry) {
        struct outmsg *om = pl->retry;

        pl->retry = om->next;
        outmsg_free(om);
    }
    if (pl->assigned)
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    tracker_free(pl->tracker);
    idset_free(pl->in_flight);
    free(pl->stream_now_ms);
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

static void consume_one(struct pipeline *pl, rd_kafka_message_t *m)
{
    int role;

    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("consume: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return;
    }
    pl->kafka_up = 1;
    metrics_set_kafka_up(1);
    role = role_of(pl, rd_kafka_topic_name(m->rkt));
    if (role >= TOPIC_ORDERS && role <= TOPIC_MESSAGES)
        metrics_consumed((enum metric_topic)role);
    if (pl->backlog.n > 0 || !store_ok(pl->store) || process(pl, m) == PROCESS_LATER) {
        if (backlog_push(&pl->backlog, m, 0) < 0)
            log_err(
                "out of memory holding a message back; it will be re-read after restart");
        hold_back(pl);
        return;
    }
    rd_kafka_message_destroy(m);
}

void pipeline_step(struct pipeline *pl, int timeout_ms)
{
    rd_kafka_message_t *m;

    redis_retry(pl);
    if (pl->backlog.n > 0)
        backlog_drain(pl);
    m = rd_kafka_consumer_poll(pl->consumer, timeout_ms);
    if (m != NULL)
        consume_one(pl, m);
    /* Take whatever else is already fetched without waiting. */
    for (int i = 0; i < 500 && m != NULL && !pl->paused; i++) {
        if ((m = rd_kafka_consumer_poll(pl->consumer, 0)) != NULL)
            consume_one(pl, m);
    }
    produce_retries(pl);
    rd_kafka_poll(pl->producer, 0);
    offsets_store(pl);
    account_redis(pl);
}

/* The sweeper's "now" for a partition: the wall clock, or in a replay the low
 * watermark, the oldest of the input topics' newest event times there (topics
 * with no event yet are left out); 0 when there is nothing to judge by. */
static int64_t sweep_now(const struct pipeline *pl, int32_t partition)
{
    int64_t low = 0;

    if (pl->cfg->clock == CLOCK_WALL)
        return wall_ms();
    if ((size_t)partition >= pl->n_stream_now)
        return 0;
    for (int r = TOPIC_ORDERS; r <= TOPIC_MESSAGES; r++) {
        int64_t t = pl->stream_now_ms[partition][r];

        if (t > 0 && (low == 0 || t < low))
            low = t;
    }
    return low;
}

/* Partition numbers assigned to this instance: with the range assignor and
 * equal partition counts, partition p of every input topic is ours together,
 * and the customers keyed to p are swept here only. */
static int assigned_partition(const struct pipeline *pl, int i)
{
    for (int j = 0; j < i; j++)
        if (pl->assigned->elems[j].partition == pl->assigned->elems[i].partition)
            return -1;
    return pl->assigned->elems[i].partition;
}

static size_t sweep_partition(struct pipeline *pl, int32_t p, int64_t now)
{
    char **ids = NULL, err[512];
    size_t n = 0;

    if (store_due(pl->store, p, now, (size_t)pl->cfg->sweep_batch, &ids, &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct store_outbox pending;
        enum ingest_status st;

        store_outbox_init(&pending);
        st = ingest_sweep(pl->store, &pl->model, ids[i], p, now, wall_ms(), &pending, err,
                          sizeof(err));
        if (st == INGEST_OK || st == INGEST_DUPLICATE)
            publish_pending(pl, NULL, ids[i], &pending);
        else
            log_warn("sweep %s: %s", ids[i], err);
        store_outbox_free(&pending);
    }
    store_ids_free(ids, n);
    return n;
}

void pipeline_sweep(struct pipeline *pl)
{
    size_t swept = 0;

    if (pl->assigned == NULL || !store_ok(pl->store) || pl->paused)
        return;
    for (int i = 0; i < pl->assigned->cnt; i++) {
        int p = assigned_partition(pl, i);
        int64_t now = p >= 0 ? sweep_now(pl, p) : 0;

        if (now > 0)
            swept += sweep_partition(pl, p, now);
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

    backlog_drop(&pl->backlog, NULL);
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

size_t pipeline_assigned(const struct pipeline *pl)
{
    return pl->assigned ? (size_t)pl->assigned->cnt : 0;
}
