/*
 * pipeline.c - the pipeline's life and its loop's turn: construction, the
 * first contact with Kafka and Redis, one step of the main loop, the model's
 * refresh, the orderly close (consumers/pipeline.h); the types and who owns
 * what are in pipeline_int.h.
 *
 * A message's way: its partition's queue wakes the loop (wait_input);
 * ingest.c pulls each task's partitions as far as its merge has room,
 * parses the message and checks its key, and queues it in its task, where
 * consumers/task.c merges the three input topics in event time.  lanes.c
 * fills a batch from the merge, starts it on one of two Redis connections
 * (state/engine/batch.c) and lands it once Kafka acknowledged its derived events;
 * its inputs' offsets then become storable, and offsets.c hands them to
 * librdkafka, which commits them.  A malformed message is dead-lettered in
 * its turn (ingest.c).
 *
 * Around that: rebalance.c makes and drops the tasks as partitions are
 * assigned and revoked; offsets.c records each task's progress in Redis and
 * says where an assigned partition resumes; hold.c pauses input while Redis
 * is away or lost its state; sweep.c fires the due timers; rescore.c
 * evaluates customers again after a refit; stats.c turns librdkafka's
 * callbacks and the tasks' lag into metrics.
 */
#include "consumers/pipeline_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/kconf.h"
#include "consumers/producer.h"
#include "consumers/tracker.h"
#include "state/engine/cache.h"

/* Free heap memory goes back to the system at most this often, and only in a
 * step that found nothing to do (after a backlog, say). */
#define TRIM_EVERY_MS 10000

int pipeline_role_of(const struct pipeline *pl, const char *topic)
{
    for (int i = 0; i < TOPIC__COUNT; i++) {
        if (strcmp(pl->cfg->topic[i], topic) == 0) {
            return i;
        }
    }
    return -1;
}

struct ptask *pipeline_task_of(const struct pipeline *pl, int32_t partition)
{
    return partition >= 0 && (size_t)partition < pl->tasks.n ? pl->tasks.v[partition]
                                                             : NULL;
}

static int make_clients(struct pipeline *pl, char *err, size_t errlen)
{
    rd_kafka_conf_t *cc = kconf_consumer(pl->cfg, err, errlen);
    rd_kafka_conf_t *pc;

    if (cc == NULL) {
        return -1;
    }
    rd_kafka_conf_set_opaque(cc, pl);
    rd_kafka_conf_set_error_cb(cc, stats_on_error);
    rd_kafka_conf_set_rebalance_cb(cc, rebalance_on_rebalance);
    rd_kafka_conf_set_stats_cb(cc, stats_on_stats);
    if ((pl->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, errlen)) == NULL) {
        rd_kafka_conf_destroy(cc);
        return -1;
    }
    rd_kafka_poll_set_consumer(pl->consumer);
    if ((pc = kconf_producer(pl->cfg, err, errlen)) == NULL) {
        return -1;
    }
    rd_kafka_conf_set_error_cb(pc, producer_on_error);
    if ((pl->producer = producer_new(pl->cfg, pc, err, errlen)) == NULL) {
        return -1;
    }
    producer_set_hooks(pl->producer, &(struct producer_hooks){stats_while_waiting,
                                                              stats_brokers_down, pl});
    return 0;
}

struct pipeline *pipeline_new(const struct pipeline_opts *cfg,
                              const struct model_config *model, struct store *store,
                              char *err, size_t errlen)
{
    struct pipeline *pl = calloc(1, sizeof(*pl));

    if (pl == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    pl->store = pl->lane_store[0] = store;
    pl->model.cfg = model;
    bg_params_default(&pl->model.bg);
    gg_params_default(&pl->model.gg);
    pl->redis_backoff_ms = REDIS_BACKOFF_MIN_MS;
    pl->wake[0] = pl->wake[1] = -1;
    if (pipe2(pl->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    pl->tracker = tracker_new();
    pl->cache = cache_new(cfg->cache_max_bytes);
    pl->items = malloc(((size_t)cfg->batch_max_events > (size_t)cfg->sweep_batch
                            ? (size_t)cfg->batch_max_events
                            : (size_t)cfg->sweep_batch) *
                       sizeof(*pl->items));
    if (!pl->tracker || !pl->cache || !pl->items) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < LANES; i++) {
        if ((i > 0 && (pl->lane_store[i] = store_new_like(store)) == NULL) ||
            (pl->fly[i].items = malloc((size_t)cfg->batch_max_events *
                                       sizeof(*pl->fly[i].items))) == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (make_clients(pl, err, errlen) < 0) {
        goto fail;
    }
    pl->consumer_q = rd_kafka_queue_get_consumer(pl->consumer);
    rd_kafka_queue_io_event_enable(pl->consumer_q, pl->wake[1], "c", 1);
    return pl;
fail:
    pipeline_free(pl);
    return NULL;
}

void pipeline_free(struct pipeline *pl)
{
    if (pl == NULL) {
        return;
    }
    for (size_t p = 0; p < pl->tasks.n; p++) {
        rebalance_task_remove(pl, (int32_t)p);
    }
    array_free(&pl->tasks);
    rescore_fini(&pl->rs);
    if (pl->consumer_q) {
        rd_kafka_queue_io_event_enable(pl->consumer_q, -1, NULL, 0);
        rd_kafka_queue_destroy(pl->consumer_q);
    }
    /* rd_kafka_destroy() closes the consumer again; librdkafka 2.0 never
     * finishes closing one with a fatal error unless it is a static member
     * (group.instance.id), where the fatal errors come from. */
    if (pl->consumer && pl->kafka_fatal == FATAL_CONSUMER) {
        rd_kafka_destroy_flags(pl->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    } else if (pl->consumer) {
        rd_kafka_destroy(pl->consumer);
    }
    producer_free(pl->producer);
    if (pl->assigned) {
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    }
    tracker_free(pl->tracker);
    cache_free(pl->cache);
    pipeline_free_rates(pl);
    free(pl->items);
    while (pl->nspare > 0) {
        free(pl->spare[--pl->nspare]);
    }
    for (int i = 0; i < LANES; i++) {
        free(pl->fly[i].items);
        if (i > 0) {
            store_free(pl->lane_store[i]);
        }
    }
    if (pl->wake[0] >= 0) {
        close(pl->wake[0]);
        close(pl->wake[1]);
    }
    free(pl);
}

int pipeline_probe(struct pipeline *pl, int timeout_ms, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(producer_handle(pl->producer), 0, NULL, &md, timeout_ms);

    if (e) {
        snprintf(err, errlen, "kafka metadata: %s", rd_kafka_err2str(e));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    pl->kafka_up = 1;
    metrics_set_kafka_up(1);
    return 0;
}

void pipeline_connect(struct pipeline *pl)
{
    hold_redis_retry(pl);
    metrics_set_ready(pipeline_ready(pl));
}

int pipeline_subscribe(struct pipeline *pl, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(3);
    rd_kafka_resp_err_t e;

    for (int i = TOPIC_ORDERS; i <= TOPIC_MESSAGES; i++) {
        rd_kafka_topic_partition_list_add(topics, pl->cfg->topic[i],
                                          RD_KAFKA_PARTITION_UA);
    }
    e = rd_kafka_subscribe(pl->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* Sleep until a queue gets something, at most timeout_ms. */
static void wait_input(struct pipeline *pl, int timeout_ms)
{
    struct pollfd pfd = {pl->wake[0], POLLIN, 0};
    char buf[256];

    if (timeout_ms > 0) {
        (void)poll(&pfd, 1, timeout_ms);
    }
    while (read(pl->wake[0], buf, sizeof(buf)) > 0) {
        ;
    }
}

/* Deliveries served, delivered entries acked, storable offsets stored. */
static void flush_outputs(struct pipeline *pl)
{
    producer_serve(pl->producer);
    offsets_store(pl);
}

/* The heap of a daemon that worked through a backlog keeps what it grew to:
 * librdkafka's fetch buffers, the batches and the queues are freed in pieces
 * that glibc keeps for reuse.  When idle, hand the free pages back. */
static void trim_heap(struct pipeline *pl)
{
#ifdef __GLIBC__
    int64_t now = mono_ms();

    if (now < pl->trim_at_ms) {
        return;
    }
    pl->trim_at_ms = now + TRIM_EVERY_MS;
    (void)malloc_trim(0);
#else
    (void)pl;
#endif
}

void pipeline_step(struct pipeline *pl, int timeout_ms)
{
    int64_t wait;

    if (stats_kafka_fatal(pl)) {
        return;
    }
    hold_redis_retry(pl);
    ingest_poll_consumer(pl);
    ingest_pull_partitions(pl);
    if (pl->failed || stats_kafka_fatal(pl)) {
        return;
    }
    wait = lanes_run_tasks(pl);
    /* Sleep only when nothing new was pulled, and no longer than a task
     * waits for a partition that is behind. */
    if (ingest_pull_partitions(pl) == 0) {
        if (wait > 0 && wait < timeout_ms) {
            timeout_ms = (int)wait;
        }
        if (pl->sweeping) { /* the rest of the pass waits for no input */
            timeout_ms = 0;
        } else if (wait == 0) {
            trim_heap(pl);
        }
        flush_outputs(pl);
        wait_input(pl, timeout_ms);
        ingest_poll_consumer(pl);
        ingest_pull_partitions(pl);
        lanes_run_tasks(pl);
    }
    flush_outputs(pl);
    hold_check_outputs(pl);
    sweep_some(pl);
    rescore_some(pl);
    ingest_dlq_log_roll(pl);
    stats_account_lag(pl);
}

void pipeline_refresh_model(struct pipeline *pl)
{
    struct bg_params bg;
    struct gg_params gg;
    int64_t version = 0;

    if (store_ok(pl->store) && store_model_get(pl->store, &bg, &gg, &version) == 1) {
        if (memcmp(&bg, &pl->model.bg, sizeof(bg)) != 0 || version != pl->model.version) {
            log_note("model version %" PRId64 ": r=%g alpha=%g a=%g b=%g", version, bg.r,
                     bg.alpha, bg.a, bg.b);
        }
        pl->model.bg = bg;
        pl->model.gg = gg;
        if (version != pl->model.version) {
            pl->model.version = version;
            rescore_start(pl);
        }
    }
}

struct model_config *pipeline_set_model_config(struct pipeline *pl,
                                               struct model_config *cfg)
{
    struct model_config *old = (struct model_config *)(uintptr_t)pl->model.cfg;

    pl->model.cfg = cfg;
    return old;
}

/* After a client's fatal error nothing more is applied or produced: what
 * was done is committed (by a consumer that can), the rest read again after
 * the restart. */
void pipeline_close(struct pipeline *pl, int timeout_ms)
{
    rd_kafka_resp_err_t err;

    stats_kafka_fatal(pl);
    for (size_t p = 0; p < pl->tasks.n && !pl->kafka_fatal; p++) {
        if (pl->tasks.v[p] && pl->tasks.v[p]->nbatch && hold_stores_ok(pl)) {
            lanes_run_batch(pl, pl->tasks.v[p]);
        }
    }
    if (pl->kafka_fatal) {
        offsets_store(pl);
    } else {
        offsets_settle(pl, timeout_ms);
    }
    err = rd_kafka_consumer_close(pl->consumer); /* commits stored offsets */
    if (err && pl->kafka_fatal != FATAL_CONSUMER) {
        log_warn("consumer close: %s", rd_kafka_err2str(err));
    }
    if (pl->kafka_fatal != FATAL_PRODUCER) {
        producer_flush(pl->producer, 1000);
    }
}

int pipeline_ready(const struct pipeline *pl)
{
    return !pl->failed && hold_can_apply(pl) && pl->kafka_up && hold_outputs_ok(pl);
}

int pipeline_failed(const struct pipeline *pl)
{
    return pl->failed;
}

rd_kafka_t *pipeline_test_client(struct pipeline *pl, int producer)
{
    return producer ? producer_handle(pl->producer) : pl->consumer;
}

size_t pipeline_assigned(const struct pipeline *pl)
{
    return pl->assigned ? (size_t)pl->assigned->cnt : 0;
}
