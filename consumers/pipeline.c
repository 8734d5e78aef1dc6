#include "consumers/pipeline.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "consumers/kconf.h"
#include "consumers/parse.h"
#include "consumers/producer.h"
#include "consumers/task.h"
#include "consumers/tracker.h"
#include "base/log.h"
#include "base/metrics.h"
#include "state/engine/batch.h"
#include "state/engine/cache.h"
#include "state/model/model.h"

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* Messages taken from the consumer per turn, at most. */
#define POLL_BURST 5000
/* The sweeper works at most this long per step (at least one batch)... */
#define SWEEP_STEP_MS 5
/* ...and sweeps at most this many batches of one task per pass. */
#define SWEEP_CHUNKS 5
/* A batch commits once Kafka acknowledged its derived events; it fails (and
 * is retried later, as when Redis is away) when that takes longer. */
#define AWAIT_DELIVERY_MS 10000
/* How long one landing waits for them before the main loop goes on (polling
 * the consumer, serving signals) and comes back. */
#define LAND_WAIT_MS 1000
/* How soon the main loop comes back to a batch that waits for Kafka. */
#define AWAIT_POLL_MS 2
/* Free heap memory goes back to the system at most this often, and only in a
 * step that found nothing to do (after a backlog, say). */
#define TRIM_EVERY_MS 10000

/* Partition number p of every input topic, and the merged events taken from
 * it but not yet committed (kept for a retry while Redis is away). */
struct ptask {
    struct task t;
    rd_kafka_queue_t *kq[SRC__COUNT]; /* the partitions' own fetch queues */
    struct task_msg *batch;
    size_t nbatch;
    int lane;              /* its batch is in flight on this lane, or -1 */
    int64_t applied_ts_ms; /* Kafka timestamp of the last input applied, 0: none */
    /* Per input topic, the next offset after what this process recorded as
     * applied in Redis (the task's progress), -1: none yet. */
    int64_t progress[SRC__COUNT];
};

/* Batches in flight: each lane is a Redis connection of its own, so one
 * task's batch is prepared while Redis commits another's. */
#define LANES 2

struct flight {
    struct ptask *pt; /* NULL: the lane is idle */
    unsigned pending; /* its derived events not yet acknowledged */
    struct batch *bt;
    struct batch_ctx ctx;
    struct batch_item *items;
    struct batch_stats st;
    char err[512];
};

/*
 * Rescoring after a refit: every customer of this instance's tasks whose
 * state was evaluated with an older model version is evaluated again at its
 * own as_of time (model_rescore), in the background and at most
 * rescore_per_s a second.  Two passes over the loyalty index (which holds
 * every customer), a ZSCAN chunk with the customers' partitions and versions
 * at a time: the first counts the customers behind (the pending figure), the
 * second rescores each chunk's, in batches of one task's customers, before
 * it reads the next chunk; so memory holds one chunk, whatever the number of
 * customers.  The stored version is the progress: a restart, a rebalance or
 * another refit starts over and finds only the customers still behind, and
 * one met twice is current the second time.
 */
enum rs_phase { RS_IDLE = 0, RS_COUNTING, RS_RESCORING };

struct rescore {
    int64_t target; /* the model version being reached; 0: none */
    enum rs_phase phase;
    uint64_t cursor; /* the pass's ZSCAN cursor */
    int last_chunk;  /* the chunk in v is the pass's last */
    struct rs_cust {
        char *id;
        int32_t partition;
    } * v;
    size_t n, next;     /* v[next..n) of the chunk are still to rescore */
    uint64_t behind;    /* counted by the first pass */
    uint64_t processed; /* of those, taken by the second */
    double tokens;      /* the rate limit's bucket */
    int64_t refill_ms;
    int64_t started_ms;
    uint64_t rescored;
};

struct pipeline {
    const struct pipeline_opts *cfg;
    struct store *store; /* lane 0, and everything but batches */
    struct store *lane_store[LANES];
    struct flight fly[LANES];
    int next_lane;
    unsigned pending; /* derived events of sweeps and rescores not yet acknowledged */
    rd_kafka_t *consumer;
    struct producer *producer;
    struct tracker *tracker;
    rd_kafka_topic_partition_list_t *assigned;
    struct ptask **tasks; /* by partition number; NULL: not ours */
    size_t ntasks;
    struct cache *cache;
    struct batch_item *items; /* scratch: one sweep */
    /* Batch buffers no task holds: a task holds one only while it has a
     * batch (filling, in flight, or waiting for a retry). */
    struct task_msg *spare[LANES + 1];
    int nspare;
    int wake[2]; /* a pipe librdkafka writes to when a queue gets something */
    rd_kafka_queue_t *consumer_q;
    struct model_ctx model;
    int paused;     /* every partition, while Redis is away */
    int redis_lost; /* Redis lost its state: refusing until an operator decides */
    int kafka_up;
    int failed; /* a fatal condition (partition counts differ) */
    int64_t redis_retry_at_ms, redis_backoff_ms;
    int64_t trim_at_ms;
    int64_t key_warn_at_ms; /* the next unkeyed event is logged from then */
    int64_t lag_at_ms;      /* the event-time lag is measured again from then */
    /* Dead-letter log lines: at most DLQ_LOG_BURST per second, the rest
     * counted and said in one line. */
    int64_t dlq_log_second;
    unsigned dlq_logged, dlq_unlogged;
    int sweeping; /* a sweeper pass is going: task sweep_next is next */
    size_t sweep_next, sweep_chunks, sweep_swept;
    struct rescore rs;
};

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

static int stores_ok(const struct pipeline *pl);

/* Batches may run: Redis is there and holds the state it should. */
static int can_apply(const struct pipeline *pl)
{
    return stores_ok(pl) && !pl->redis_lost;
}

static int stores_ok(const struct pipeline *pl)
{
    for (int i = 0; i < LANES; i++)
        if (!store_ok(pl->lane_store[i]))
            return 0;
    return 1;
}

static void rescore_start(struct pipeline *pl);
static void rescore_some(struct pipeline *pl);
static void rescore_fini(struct rescore *rs);

/* The oldest Kafka timestamp among a task's inputs not yet applied, or 0.
 * Each queue is in offset order: its head stands for it. */
static int64_t oldest_pending_ms(const struct ptask *pt)
{
    int64_t oldest = 0;

    for (size_t i = 0; i < pt->nbatch; i++) {
        const struct inmsg *in = pt->batch[i].msg;

        if (in->kafka_ts_ms > 0 && (oldest == 0 || in->kafka_ts_ms < oldest))
            oldest = in->kafka_ts_ms;
    }
    for (int s = 0; s < SRC__COUNT; s++) {
        const struct task_queue *q = &pt->t.q[s];
        const struct inmsg *in;

        if (q->n == 0)
            continue;
        in = q->v[q->head].msg;
        if (in->kafka_ts_ms > 0 && (oldest == 0 || in->kafka_ts_ms < oldest))
            oldest = in->kafka_ts_ms;
    }
    return oldest;
}

static int64_t timer_clock(const struct pipeline *pl, const struct ptask *pt);
static void hold_back(struct pipeline *pl);

/* The task's due timers that its timer clock has passed and the sweeper has
 * not fired yet (it fires them on its next pass). */
static void account_timers(struct pipeline *pl, const struct ptask *pt)
{
    int64_t now = timer_clock(pl, pt), count = 0, oldest = 0;

    if (now <= 0 || pl->paused || !store_ok(pl->store))
        return;
    if (store_due_overdue(pl->store, pt->t.partition, now, &count, &oldest) < 0) {
        if (!stores_ok(pl)) /* Redis went away: as when a batch finds it */
            hold_back(pl);
        return;
    }
    metrics_set_timers_overdue(pt->t.partition, count,
                               count > 0 && now > oldest ? (double)(now - oldest) / 1000.0
                                                         : 0);
}

/* Event-time lag of each task: the age of its oldest input not applied yet.
 * When nothing is fetched but the broker says a partition is behind, the
 * age of the last input applied stands in (the next one is no older). */
static void account_lag(struct pipeline *pl)
{
    int64_t now = mono_ms(), wall = wall_ms();

    if (now < pl->lag_at_ms)
        return;
    pl->lag_at_ms = now + 1000;
    for (size_t p = 0; p < pl->ntasks; p++) {
        const struct ptask *pt = pl->tasks[p];
        int64_t from;

        if (pt == NULL)
            continue;
        if ((from = oldest_pending_ms(pt)) == 0)
            for (int s = 0; s < SRC__COUNT && from == 0; s++)
                if (metrics_lag(pl->cfg->topic[s], (int32_t)p) > 0)
                    from = pt->applied_ts_ms;
        metrics_set_task_lag(
            (int32_t)p, from > 0 && wall > from ? (double)(wall - from) / 1000.0 : 0);
        account_timers(pl, pt);
    }
    metrics_set_derived_in_flight(producer_backlog(pl->producer));
}

/* ---- pausing while Redis is away ---- */

/* Fetching stops for every assigned partition while Redis is away; the
 * consumer is still polled, so the group keeps its member. */
static void set_paused(struct pipeline *pl, int paused)
{
    rd_kafka_resp_err_t err;

    if (pl->paused == paused)
        return;
    pl->paused = paused;
    if (pl->assigned != NULL) {
        err = paused ? rd_kafka_pause_partitions(pl->consumer, pl->assigned)
                     : rd_kafka_resume_partitions(pl->consumer, pl->assigned);
        if (err)
            log_warn("%s partitions: %s", paused ? "pause" : "resume",
                     rd_kafka_err2str(err));
    }
    metrics_set_paused(paused);
    log_note("input %s", paused ? "paused" : "resumed");
}

static void check_redis_kept(struct pipeline *pl);

static void redis_retry(struct pipeline *pl)
{
    char err[512];
    int rc = 0;

    if (stores_ok(pl) || mono_ms() < pl->redis_retry_at_ms)
        return;
    for (int i = 0; i < LANES && rc == 0; i++)
        if (!store_ok(pl->lane_store[i]))
            rc = store_connect(pl->lane_store[i], err, sizeof(err));
    if (rc == 0) {
        log_note("redis: connected");
        pl->redis_backoff_ms = REDIS_BACKOFF_MIN_MS;
        metrics_set_redis_up(1);
        check_redis_kept(pl);
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
    if (!stores_ok(pl))
        metrics_set_redis_up(0);
    set_paused(pl, 1);
    if (pl->redis_retry_at_ms < mono_ms())
        pl->redis_retry_at_ms = mono_ms() + pl->redis_backoff_ms;
}

/* ---- consuming: parse into the task's queue ---- */

/* A consumed message given up unapplied with its task: its offset was never
 * stored, so the task's next owner reads it again. */
static void drop_queued(void *arg, void *msg, void *entry)
{
    (void)arg;
    metrics_add(MC_REVOKED_UNAPPLIED, 1);
    if (entry)
        tracker_release(entry);
    inmsg_free(msg);
}

/* Producers must key every event by its customer_id (README: co-partitioned
 * topics, one partitioner): an unkeyed or otherwise keyed event may sit on
 * another partition than its customer's other events, out of their order.
 * Counted either way; dead-lettered (bad_key, the default), or with
 * input.bad_key = apply applied, since its content is valid, and said once a
 * minute at most.  Returns PR_OK, or PR_BAD_KEY with detail. */
static int check_key(struct pipeline *pl, const rd_kafka_message_t *m,
                     const struct event *ev, char *detail, size_t len)
{
    size_t n = strlen(ev->customer_id);
    int unkeyed = m->key == NULL || m->key_len == 0;

    if (!unkeyed && m->key_len == n && memcmp(m->key, ev->customer_id, n) == 0)
        return PR_OK;
    metrics_add(unkeyed ? MC_UNKEYED : MC_KEY_MISMATCH, 1);
    if (!pl->cfg->bad_key_apply) {
        if (unkeyed)
            snprintf(detail, len, "no message key (it must be the customer_id)");
        else /* the key itself is message content: not echoed */
            snprintf(detail, len, "message key (%zu bytes) is not the customer_id",
                     m->key_len);
        return PR_BAD_KEY;
    }
    if (mono_ms() >= pl->key_warn_at_ms) {
        pl->key_warn_at_ms = mono_ms() + 60000;
        log_warn("%s/%d@%" PRId64 ": event for customer %s %s; producers must key by "
                 "customer_id (loyaltyd_unkeyed_total, loyaltyd_key_mismatch_total; "
                 "said once a minute)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                 ev->customer_id, unkeyed ? "has no key" : "is keyed otherwise");
    }
    return PR_OK;
}

static void consume_message(struct pipeline *pl, rd_kafka_message_t *m, int src,
                            struct ptask *pt)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int64_t wall = wall_ms();
    struct task_msg tm = {.offset = m->offset, .append_ms = wall};
    struct inmsg *in;
    char detail[256];

    if ((tm.msg = in = inmsg_new(m, src, (size_t)pl->cfg->dlq_max_payload_bytes)) ==
            NULL ||
        (tm.entry = tracker_add(pl->tracker, topic, m->partition, m->offset)) == NULL)
        goto nomem;
    if (in->kafka_ts_ms > 0 && in->kafka_ts_ms < tm.append_ms)
        tm.append_ms = in->kafka_ts_ms;
    event_init(&tm.ev);
    tm.reason = parse_event(m->payload, m->len, (enum ev_source)src, &pl->cfg->limits,
                            wall, &tm.ev, detail, sizeof(detail));
    if (tm.reason == PR_OK)
        tm.reason = check_key(pl, m, &tm.ev, detail, sizeof(detail));
    if (tm.reason != PR_OK && tm.reason != PR_NO_MEMORY &&
        (in->detail = strdup(detail)) == NULL)
        tm.reason = PR_NO_MEMORY;
    if (tm.reason != PR_NO_MEMORY && task_push(&pt->t, src, &tm) == 0) {
        rd_kafka_message_destroy(m);
        return;
    }
    event_free(&tm.ev);
    tracker_release(tm.entry);
nomem:
    log_err("%s/%d@%" PRId64 ": out of memory; re-read after a restart", topic,
            (int)m->partition, m->offset);
    inmsg_free(tm.msg);
    rd_kafka_message_destroy(m);
}

/* Whether a dead-lettered message gets its own log line: a stream of bad
 * input must not flood the journal.  The lines left out are counted and said
 * when the next second starts. */
#define DLQ_LOG_BURST 10

static void dlq_log_roll(struct pipeline *pl)
{
    int64_t second = mono_ms() / 1000;

    if (second == pl->dlq_log_second)
        return;
    if (pl->dlq_unlogged > 0)
        log_info("%u more messages dead-lettered without a line of their own "
                 "(loyaltyd_dead_lettered_total counts them by reason)",
                 pl->dlq_unlogged);
    pl->dlq_log_second = second;
    pl->dlq_logged = pl->dlq_unlogged = 0;
}

static int dlq_log_ok(struct pipeline *pl)
{
    dlq_log_roll(pl);
    if (pl->dlq_logged < DLQ_LOG_BURST) {
        pl->dlq_logged++;
        return 1;
    }
    pl->dlq_unlogged++;
    return 0;
}

/* A malformed message's turn: to the DLQ, its offset stored once recorded. */
static void dead_letter_bad(struct pipeline *pl, struct task_msg *tm)
{
    const struct inmsg *in = tm->msg;
    const char *reason = parse_reason_name((enum parse_reason)tm->reason);

    if (dlq_log_ok(pl))
        log_info("%s/%d@%" PRId64 ": dead-lettered: %s (%s)", pl->cfg->topic[in->src],
                 (int)in->partition, in->offset, reason, in->detail);
    if (producer_dead_letter(pl->producer, tm->entry, in, reason, in->detail) == 0)
        metrics_dead_lettered(tm->reason);
    else
        log_err("%s/%d@%" PRId64
                ": out of memory dead-lettering; re-read after a restart",
                pl->cfg->topic[in->src], (int)in->partition, in->offset);
    event_free(&tm->ev);
    tracker_release(tm->entry);
    inmsg_free(tm->msg);
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

static size_t pull_task(struct pipeline *pl, struct ptask *pt);

/* Take up to batch.max_events merged events.  Returns how long the task must
 * wait for a partition that is behind (0: not waiting). */
static int64_t fill_batch(struct pipeline *pl, struct ptask *pt)
{
    int64_t wait_ms = 0;
    int looked_again = 0;

    if (pt->batch == NULL) {
        if (pl->nspare > 0)
            pt->batch = pl->spare[--pl->nspare];
        else if ((pt->batch = malloc((size_t)pl->cfg->batch_max_events *
                                     sizeof(*pt->batch))) == NULL)
            return 0;
    }
    while (pt->nbatch < (size_t)pl->cfg->batch_max_events) {
        int src, timed_out, late;
        enum task_wait w =
            task_next(&pt->t, mono_ms(), wall_ms(), pl->cfg->merge_max_idle_ms, &src,
                      &wait_ms, &timed_out);

        if (timed_out) {
            metrics_add(MC_MERGE_IDLE_TIMEOUTS, 1);
            log_info("partition %d: waited %d ms for an input partition that is behind; "
                     "going on without it (merge.max_idle_ms)",
                     (int)pt->t.partition, pl->cfg->merge_max_idle_ms);
        }
        if (w != TASK_READY)
            return w == TASK_WAITING ? wait_ms : 0;
        /* An empty partition passed over as at its end may be getting the
         * rest of the fetch response that brought this head (librdkafka
         * fills the partitions' queues one after another, and the queue that
         * filled first woke us): one more look before relying on it. */
        if (pt->t.ended_empty && !looked_again) {
            looked_again = 1;
            if (pull_task(pl, pt) > 0)
                continue;
        }
        task_pop(&pt->t, src, &pt->batch[pt->nbatch], &late);
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

/* A batch on `store`, its derived events counted in *pending. */
static struct batch_ctx batch_ctx_of(struct pipeline *pl, const struct ptask *pt,
                                     struct store *store, unsigned *pending)
{
    return (struct batch_ctx){.store = store,
                              .cache = pl->cache,
                              .model = &pl->model,
                              .task = pt->t.partition,
                              .emitted_at_ms = wall_ms(),
                              .publish = producer_publish,
                              .await = producer_await,
                              .publish_arg = pl->producer,
                              .pending = pending,
                              .await_ms = AWAIT_DELIVERY_MS,
                              .dedup_window = (uint32_t)pl->cfg->dedup_window};
}

static void account_batch(struct pipeline *pl, int32_t task, const struct batch_stats *st)
{
    metrics_add(MC_BATCHES, 1);
    metrics_timers_fired(task, st->timers);
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
    const struct inmsg *in = tm->msg;
    const char *topic = pl->cfg->topic[in->src];

    switch (it->status) {
    case BATCH_APPLIED:
        metrics_applied();
        if (in->kafka_ts_ms > 0)
            metrics_apply_latency(now_us - in->kafka_ts_ms * 1000);
        break;
    case BATCH_DUPLICATE:
        metrics_duplicate((int)it->dup);
        break;
    case BATCH_REJECTED:
        log_err("%s/%d@%" PRId64 ": model refused event %s: %s", topic,
                (int)in->partition, in->offset, tm->ev.event_id, it->err);
        metrics_model_rejected();
        if (producer_dead_letter(pl->producer, tm->entry, in, "model_rejected", it->err) <
            0)
            log_err("out of memory dead-lettering %s", tm->ev.event_id);
        break;
    case BATCH_SWEPT:
    case BATCH_RESCORED:
        break;
    }
    if (it->misrouted == 2)
        log_warn("customer %s lives on partition %" PRId32 " but %s/%d@%" PRId64
                 " came on another (producers must key by customer_id with one "
                 "partitioner)",
                 tm->ev.customer_id, it->home_partition, topic, (int)in->partition,
                 in->offset);
    event_free(&tm->ev);
    tracker_release(tm->entry);
    inmsg_free(tm->msg);
}

static void give_back_batch(struct pipeline *pl, struct ptask *pt)
{
    if (pt->batch == NULL || pt->nbatch > 0)
        return;
    if (pl->nspare < LANES + 1)
        pl->spare[pl->nspare++] = pt->batch;
    else
        free(pt->batch);
    pt->batch = NULL;
}

static int land(struct pipeline *pl, int lane, int wait_ms);

/* After a committed batch: the task's progress in Redis, the next offset of
 * each input topic past the batch's events.  Not recorded, it is recorded
 * with the next batch; a restart resumes from the group's committed offsets
 * where those are behind it (README, "Guarantees"). */
static void record_progress(struct ptask *pt, struct store *store)
{
    int64_t next[SRC__COUNT] = {-1, -1, -1};
    char err[256];
    int any = 0;

    for (size_t i = 0; i < pt->nbatch; i++) {
        const struct inmsg *in = pt->batch[i].msg;

        if (in->offset + 1 > next[in->src]) {
            next[in->src] = in->offset + 1;
            any = 1;
        }
    }
    if (!any)
        return;
    if (store_progress_put(store, pt->t.partition, next, pt->t.stream_ms, err,
                           sizeof(err)) < 0) {
        log_warn("partition %d: progress not recorded: %s", (int)pt->t.partition, err);
        return;
    }
    for (int i = 0; i < SRC__COUNT; i++)
        if (next[i] > pt->progress[i])
            pt->progress[i] = next[i];
}

/* Every batch in flight landed, each waiting at most wait_ms for Kafka: 0,
 * 1 when one still waits, or -1 when one must be retried later. */
static int land_all(struct pipeline *pl, int wait_ms)
{
    int rc = 0;

    for (int i = 0; i < LANES; i++) {
        int r = land(pl, i, wait_ms);

        if (r < 0)
            rc = -1;
        else if (r > 0 && rc == 0)
            rc = 1;
    }
    return rc;
}

/* Start the task's batch on a lane (landing what that lane carried first).
 * 0; 1 when the lane still waits for Kafka (try later); -1 when it must be
 * retried later (Redis). */
static int launch(struct pipeline *pl, struct ptask *pt)
{
    int lane = pl->next_lane, rc;
    struct flight *f = &pl->fly[lane];

    if ((rc = land(pl, lane, LAND_WAIT_MS)) != 0)
        return rc;
    /* Derived events of a batch given up on this lane are still on their
     * way: they are waited for before the lane publishes anything again. */
    if (f->pending > 0 && producer_await(pl->producer, &f->pending, LAND_WAIT_MS) < 0) {
        log_warn("partition %d: %u derived events of a batch given up not yet "
                 "acknowledged by Kafka; waiting",
                 (int)pt->t.partition, f->pending);
        return 1;
    }
    for (size_t i = 0; i < pt->nbatch; i++) {
        struct task_msg *tm = &pt->batch[i];
        const struct inmsg *in = tm->msg;

        f->items[i] = (struct batch_item){.ev = &tm->ev,
                                          .source = in->src,
                                          .partition = in->partition,
                                          .offset = in->offset};
    }
    f->ctx = batch_ctx_of(pl, pt, pl->lane_store[lane], &f->pending);
    f->st = (struct batch_stats){0};
    /* A customer held by the batch in flight on the other lane (fed from two
     * partitions) waits for that one. */
    if ((rc = batch_start(&f->ctx, f->items, pt->nbatch, &f->st, f->err, sizeof(f->err),
                          &f->bt)) == 1 &&
        land_all(pl, LAND_WAIT_MS) == 0)
        rc = batch_start(&f->ctx, f->items, pt->nbatch, &f->st, f->err, sizeof(f->err),
                         &f->bt);
    if (rc != 0) {
        if (rc < 0) /* else the batch in flight failed and said so */
            log_warn("partition %d: %s; pausing input", (int)pt->t.partition, f->err);
        return -1;
    }
    f->pt = pt;
    pt->lane = lane;
    pl->next_lane = (lane + 1) % LANES;
    return 0;
}

/* The lane's batch finished: what each event became, then its input is
 * done.  0 (also for an idle lane), or -1 when the batch must be retried
 * later (the task keeps it). */
static int land(struct pipeline *pl, int lane, int wait_ms)
{
    struct flight *f = &pl->fly[lane];
    struct ptask *pt = f->pt;
    int64_t now_us;

    if (pt == NULL)
        return 0;
    /* The batch commits once Kafka acknowledged its derived events; until
     * then it stays in flight, and is never published again. */
    if (f->pending > 0 && producer_await(pl->producer, &f->pending, wait_ms) < 0) {
        if (wait_ms > 0)
            log_warn("partition %d: %u derived events not yet acknowledged by Kafka; the "
                     "commit waits",
                     (int)pt->t.partition, f->pending);
        return 1;
    }
    f->pt = NULL;
    pt->lane = -1;
    if (batch_finish(f->bt) < 0) {
        log_warn("partition %d: %s; pausing input", (int)pt->t.partition, f->err);
        metrics_redis_errors();
        return -1;
    }
    record_progress(pt, f->ctx.store);
    now_us = wall_us();
    for (size_t i = 0; i < pt->nbatch; i++) {
        const struct inmsg *in = pt->batch[i].msg;

        if (in->kafka_ts_ms > pt->applied_ts_ms)
            pt->applied_ts_ms = in->kafka_ts_ms;
        finish_item(pl, &pt->batch[i], &f->items[i], now_us);
    }
    pt->nbatch = 0;
    give_back_batch(pl, pt);
    account_batch(pl, pt->t.partition, &f->st);
    return 0;
}

/* The lane's batch given up uncommitted: its task goes while Kafka has not
 * acknowledged its derived events. */
static void abandon(struct pipeline *pl, int lane)
{
    struct flight *f = &pl->fly[lane];

    if (f->pt == NULL)
        return;
    log_warn("partition %d: batch given up uncommitted; its events are applied again by "
             "the partition's next owner",
             (int)f->pt->t.partition);
    f->pt->lane = -1;
    f->pt = NULL;
    batch_abandon(f->bt);
    f->bt = NULL;
}

/* Commit the task's batch now.  0, or -1 when it must be retried later. */
static int run_batch(struct pipeline *pl, struct ptask *pt)
{
    if (land_all(pl, LAND_WAIT_MS) != 0 || launch(pl, pt) != 0)
        return -1;
    return land(pl, pt->lane, LAND_WAIT_MS) == 0 ? 0 : -1;
}

/* Batches of every task, in turns, until nothing is ready: a task's batch is
 * committed while the next task's is prepared.  Returns the shortest wait
 * any task is in (0: none), for the next poll. */
static int64_t run_tasks(struct pipeline *pl)
{
    int64_t wait = 0;
    int progress = 1, busy = 0, rc;

    while (progress && !busy && can_apply(pl)) {
        progress = 0;
        for (size_t p = 0; p < pl->ntasks && !busy; p++) {
            struct ptask *pt = pl->tasks[p];
            int64_t w;

            if (pt == NULL)
                continue;
            /* A batch that waits for Kafka is looked at again next time. */
            if (pt->lane >= 0 && (rc = land(pl, pt->lane, 0)) != 0) {
                if (rc < 0)
                    goto failed;
                continue;
            }
            w = fill_batch(pl, pt);
            /* A queue ran dry before the batch filled up: what librdkafka
             * has fetched meanwhile goes into the same batch. */
            while (pt->nbatch > 0 && pt->nbatch < (size_t)pl->cfg->batch_max_events &&
                   pull_task(pl, pt) > 0)
                w = fill_batch(pl, pt);
            if (w > 0 && (wait == 0 || w < wait))
                wait = w;
            if (pt->nbatch == 0) {
                give_back_batch(pl, pt);
                continue;
            }
            if ((rc = launch(pl, pt)) < 0)
                goto failed;
            busy = rc > 0;
            progress = 1;
        }
    }
    if ((rc = land_all(pl, 0)) < 0)
        goto failed;
    /* Batches still waiting for Kafka: back soon to commit them. */
    if ((rc > 0 || busy) && (wait == 0 || wait > AWAIT_POLL_MS))
        wait = AWAIT_POLL_MS;
    if (can_apply(pl))
        set_paused(pl, 0);
    return wait;
failed:
    land_all(pl, 0);
    hold_back(pl);
    return 0;
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
    producer_settle(pl->producer, timeout_ms);
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
    if ((pt = calloc(1, sizeof(*pt))) == NULL)
        return -1;
    task_init(&pt->t, p);
    pt->t.grace_ms = pl->cfg->merge_grace_ms;
    pt->lane = -1;
    for (int i = 0; i < SRC__COUNT; i++)
        pt->progress[i] = -1;
    pl->tasks[p] = pt;
    metrics_set_task_lag(p, 0);
    return 0;
}

/* Drop a task's unapplied messages (their offsets were never stored, so the
 * next owner reads them again) and its cached customers. */
static void task_remove(struct pipeline *pl, int32_t p)
{
    struct ptask *pt = task_of(pl, p);

    if (pt == NULL)
        return;
    /* Its batch's customers must not stay pinned: landed, or given up. */
    if (pt->lane >= 0 && land(pl, pt->lane, LAND_WAIT_MS) != 0 && pt->lane >= 0)
        abandon(pl, pt->lane);
    for (size_t i = 0; i < pt->nbatch; i++) {
        event_free(&pt->batch[i].ev);
        drop_queued(NULL, pt->batch[i].msg, pt->batch[i].entry);
    }
    for (int s = 0; s < SRC__COUNT; s++)
        if (pt->kq[s] != NULL) {
            rd_kafka_queue_io_event_enable(pt->kq[s], -1, NULL, 0);
            rd_kafka_queue_destroy(pt->kq[s]);
        }
    task_fini(&pt->t, drop_queued, NULL);
    free(pt->batch);
    free(pt);
    pl->tasks[p] = NULL;
    cache_drop_task(pl->cache, p);
    metrics_set_task_lag(p, -1);
}

/* Consume the partition from its own queue (not the consumer's), so that a
 * task pulls from each input partition only what its merge has room for, and
 * a partition that is behind is read without draining the others first. */
static void task_attach(struct pipeline *pl, const char *topic, int32_t partition)
{
    struct ptask *pt = task_of(pl, partition);
    int src = role_of(pl, topic);
    rd_kafka_queue_t *q;

    if (pt == NULL || src < TOPIC_ORDERS || src > TOPIC_MESSAGES || pt->kq[src] != NULL)
        return;
    if ((q = rd_kafka_queue_get_partition(pl->consumer, topic, partition)) == NULL) {
        log_warn("%s/%d: no partition queue; read through the consumer's", topic,
                 (int)partition);
        return;
    }
    rd_kafka_queue_forward(q, NULL);
    rd_kafka_queue_io_event_enable(q, pl->wake[1], "p", 1);
    pt->kq[src] = q;
}

/* Redis holds nothing of this prefix while the group has committed offsets:
 * it lost its state (restarted empty, or another Redis).  Applying on would
 * build every customer from the middle of its history, so input stays
 * paused and /ready says 503 until an operator decides (README,
 * "Guarantees"). */
static void refuse_lost_redis(struct pipeline *pl)
{
    if (!pl->redis_lost)
        log_err("redis holds no state under this prefix, but consumer group %s has "
                "committed offsets: Redis lost its data. Nothing is applied until an "
                "operator decides: restore Redis, or set redis.lost = replay to rebuild "
                "the state from the earliest retained offsets",
                pl->cfg->group_id);
    pl->redis_lost = 1;
    metrics_set_redis_lost(1);
    set_paused(pl, 1);
}

/* Does Redis hold no state of this prefix at all? */
static int any_fresh(const struct pipeline *pl)
{
    return store_ok(pl->store) && store_fresh(pl->store) == 1;
}

/* A Redis without state of this prefix: fine for a group that has committed
 * nothing; else refused, or rebuilt from the earliest retained offsets.
 * Returns 1 when the partitions are to start from the beginning. */
static int judge_fresh_redis(struct pipeline *pl, int history)
{
    char err[256];

    if (!any_fresh(pl))
        return 0;
    if (history && !pl->cfg->redis_lost_replay) {
        refuse_lost_redis(pl);
        return 0;
    }
    if (store_mark(pl->store, err, sizeof(err)) < 0)
        log_warn("%s", err);
    if (!history)
        return 0;
    log_warn(
        "redis holds no state under this prefix, but the group has committed "
        "offsets: rebuilding from the earliest retained offsets (redis.lost = replay)");
    return 1;
}

/* Where each assigned partition resumes: the group's committed offset, or
 * the task's progress in Redis where that is behind it (a Redis restored from
 * an older snapshot: the window it lost is applied again; the customers'
 * watermarks, restored with it, let those events through). */
static void resume_positions(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *committed =
        rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t rerr = rd_kafka_committed(pl->consumer, committed, 10000);
    int history = 0, from_start;
    char err[256];

    if (rerr != 0)
        log_warn("committed offsets: %s", rd_kafka_err2str(rerr));
    for (int i = 0; rerr == 0 && i < committed->cnt; i++)
        history |= committed->elems[i].offset > 0;
    from_start = store_ok(pl->store) ? judge_fresh_redis(pl, history) : 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct ptask *pt = task_of(pl, tp->partition);
        int src = role_of(pl, tp->topic);
        int64_t k = rerr == 0 ? committed->elems[i].offset : -1;

        if (from_start) {
            tp->offset = RD_KAFKA_OFFSET_BEGINNING;
            continue;
        }
        if (pt == NULL || src < 0 || src >= SRC__COUNT || !store_ok(pl->store))
            continue;
        if (pt->progress[0] < 0 && pt->progress[1] < 0 && pt->progress[2] < 0) {
            int64_t stream = 0;

            if (store_progress_get(pl->store, pt->t.partition, pt->progress, &stream, err,
                                   sizeof(err)) < 0) {
                log_warn("partition %d: %s", (int)pt->t.partition, err);
                continue;
            }
            /* The timers of a task whose events are all applied already
             * still run by the stream time its last owner reached. */
            if (stream > pt->t.stream_ms)
                pt->t.stream_ms = stream;
        }
        if (pt->progress[src] >= 0 && k >= 0 && pt->progress[src] < k) {
            log_warn("%s/%d: Redis recorded the events applied up to offset %" PRId64
                     ", the group committed %" PRId64 ": applying the difference again",
                     tp->topic, (int)tp->partition, pt->progress[src], k);
            metrics_add(MC_RESUMED_FROM_REDIS, 1);
            tp->offset = pt->progress[src];
        }
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

/* After Redis came back: did it keep what it acknowledged?  Empty, it is
 * refused (or, with redis.lost = replay, the process ends to start again
 * from the beginning); behind this process's recorded progress (restarted
 * from an older snapshot), the process ends with a failure so that it
 * starts again from Redis's progress (systemd restarts it): the lost window
 * is applied again, and no cached customer newer than Redis survives. */
static void check_redis_kept(struct pipeline *pl)
{
    char err[256];
    int64_t next[SRC__COUNT], stream;

    /* Before the first assignment (a lane's first connect) there is nothing
     * to compare: the assignment judges Redis (resume_positions). */
    if (pl->assigned == NULL || pl->assigned->cnt == 0)
        return;
    if (any_fresh(pl)) {
        int history = 0;

        for (size_t p = 0; p < pl->ntasks; p++)
            for (int i = 0; pl->tasks[p] && i < SRC__COUNT; i++)
                history |= pl->tasks[p]->progress[i] > 0;
        if (!history) {
            judge_fresh_redis(pl, 0);
        } else if (pl->cfg->redis_lost_replay) {
            log_err("redis came back without any state: ending, to rebuild it from the "
                    "earliest retained offsets on the next start (redis.lost = replay)");
            pl->failed = 1;
        } else {
            refuse_lost_redis(pl);
        }
        return;
    }
    for (size_t p = 0; p < pl->ntasks; p++) {
        struct ptask *pt = pl->tasks[p];

        if (pt == NULL || store_progress_get(pl->store, pt->t.partition, next, &stream,
                                             err, sizeof(err)) < 0)
            continue;
        for (int i = 0; i < SRC__COUNT; i++) {
            if (next[i] >= pt->progress[i])
                continue;
            log_err("redis lost acknowledged writes: partition %d of %s is recorded "
                    "applied up to offset %" PRId64 ", this process recorded %" PRId64
                    "; ending, to apply the lost window again from Redis's progress "
                    "on the next start",
                    (int)pt->t.partition, pl->cfg->topic[i], next[i], pt->progress[i]);
            metrics_set_redis_lost(1);
            pl->failed = 1;
            return;
        }
    }
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
    resume_positions(pl, parts);
    if ((err = rd_kafka_assign(pl->consumer, parts)) != 0)
        log_err("assign: %s", rd_kafka_err2str(err));
    if (pl->assigned)
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    pl->assigned = rd_kafka_topic_partition_list_copy(parts);
    for (int i = 0; i < parts->cnt; i++)
        task_attach(pl, parts->elems[i].topic, parts->elems[i].partition);
    if (pl->paused && (err = rd_kafka_pause_partitions(pl->consumer, pl->assigned)) != 0)
        log_warn("pause partitions: %s", rd_kafka_err2str(err));
    log_note("assigned %d partitions", parts->cnt);
    if (pl->rs.target > 0)
        rescore_start(pl); /* the new partitions' customers too */
}

/* Finish the revoked partitions' work before they go: the batches already
 * taken committed if Redis allows, deliveries settled, offsets stored and
 * committed synchronously. */
static void on_revoke(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err;

    for (size_t p = 0; p < pl->ntasks; p++)
        if (pl->tasks[p] && pl->tasks[p]->nbatch && stores_ok(pl))
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
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        metrics_rebalance(); /* one per assignment, not per callback */
        on_assign(pl, parts);
    } else {
        on_revoke(pl, parts);
    }
}
/* ---- librdkafka callbacks (any thread) ---- */

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct pipeline *pl = opaque;

    (void)rk;
    /* One broker's connection lost (a broker closes idle ones) is not
     * Kafka down: librdkafka reconnects, and the statistics say when every
     * broker is up again. */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        pl->kafka_up = 0;
        metrics_set_kafka_up(0);
    }
    log_warn("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* Kafka is up while one of the cluster's brokers (not a bootstrap
 * address) has a connection in state UP. */
static void brokers_state(struct pipeline *pl, const cJSON *brokers)
{
    const cJSON *b;
    int known = 0, up = 0;

    cJSON_ArrayForEach(b, brokers)
    {
        const cJSON *id = cJSON_GetObjectItem(b, "nodeid");
        const cJSON *state = cJSON_GetObjectItem(b, "state");

        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || !cJSON_IsString(state))
            continue;
        known++;
        up += strcmp(state->valuestring, "UP") == 0;
    }
    if (known > 0 && (up > 0) != pl->kafka_up) {
        pl->kafka_up = up > 0;
        metrics_set_kafka_up(pl->kafka_up);
        if (pl->kafka_up)
            log_note("kafka: %d of %d brokers connected", up, known);
    }
}

/* Consumer lag per partition, and the brokers' state, from the statistics. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *topic, *part;

    (void)rk;
    brokers_state(opaque, cJSON_GetObjectItem(root, "brokers"));
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

/* A producer's errors: logged (the consumer's errors tell the state of the
 * cluster). */
static void on_producer_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    log_warn("kafka producer: %s: %s", rd_kafka_err2name(err), reason);
}

static int make_clients(struct pipeline *pl, char *err, size_t errlen)
{
    rd_kafka_conf_t *cc = kconf_consumer(pl->cfg, err, errlen);
    rd_kafka_conf_t *pc;

    if (cc == NULL)
        return -1;
    rd_kafka_conf_set_opaque(cc, pl);
    rd_kafka_conf_set_error_cb(cc, on_error);
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    rd_kafka_conf_set_stats_cb(cc, on_stats);
    if ((pl->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, errlen)) == NULL) {
        rd_kafka_conf_destroy(cc);
        return -1;
    }
    rd_kafka_poll_set_consumer(pl->consumer);
    if ((pc = kconf_producer(pl->cfg, err, errlen)) == NULL)
        return -1;
    rd_kafka_conf_set_error_cb(pc, on_producer_error);
    pl->producer = producer_new(pl->cfg, pc, err, errlen);
    return pl->producer ? 0 : -1;
}

/* The parser's reasons, for the dead-letter counters. */
static const char *reason_names[PR__COUNT];

_Static_assert((int)MT_ORDERS == (int)TOPIC_ORDERS &&
                   (int)MT_REVIEWS == (int)TOPIC_REVIEWS &&
                   (int)MT_MESSAGES == (int)TOPIC_MESSAGES,
               "metrics count input topics by their index");

struct pipeline *pipeline_new(const struct pipeline_opts *cfg,
                              const struct model_config *model, struct store *store,
                              char *err, size_t errlen)
{
    struct pipeline *pl = calloc(1, sizeof(*pl));

    if (pl == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < PR__COUNT; i++)
        reason_names[i] = parse_reason_name((enum parse_reason)i);
    metrics_reasons(reason_names, PR__COUNT);
    metrics_set_topics(cfg->topic[TOPIC_ORDERS], cfg->topic[TOPIC_REVIEWS],
                       cfg->topic[TOPIC_MESSAGES]);
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
    if (make_clients(pl, err, errlen) < 0)
        goto fail;
    pl->consumer_q = rd_kafka_queue_get_consumer(pl->consumer);
    rd_kafka_queue_io_event_enable(pl->consumer_q, pl->wake[1], "c", 1);
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
    rescore_fini(&pl->rs);
    if (pl->consumer_q) {
        rd_kafka_queue_io_event_enable(pl->consumer_q, -1, NULL, 0);
        rd_kafka_queue_destroy(pl->consumer_q);
    }
    if (pl->consumer)
        rd_kafka_destroy(pl->consumer);
    producer_free(pl->producer);
    if (pl->assigned)
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    tracker_free(pl->tracker);
    cache_free(pl->cache);
    free(pl->items);
    while (pl->nspare > 0)
        free(pl->spare[--pl->nspare]);
    for (int i = 0; i < LANES; i++) {
        free(pl->fly[i].items);
        if (i > 0)
            store_free(pl->lane_store[i]);
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
    redis_retry(pl);
    metrics_set_ready(pipeline_ready(pl));
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

/* Take from the task's partition queues what its queues have room for.
 * Returns the number of messages taken. */
static size_t pull_task(struct pipeline *pl, struct ptask *pt)
{
    const size_t max = (size_t)pl->cfg->merge_queue_max;
    rd_kafka_message_t *v[256];
    size_t got = 0;

    for (int s = 0; s < SRC__COUNT; s++) {
        size_t queued = task_queued(&pt->t, s);
        ssize_t n;

        while (pt->kq[s] != NULL && queued < max) {
            size_t room = max - queued < 256 ? max - queued : 256;

            if ((n = rd_kafka_consume_batch_queue(pt->kq[s], 0, v, room)) <= 0)
                break;
            for (ssize_t i = 0; i < n; i++)
                consume_one(pl, v[i]);
            got += (size_t)n;
            queued = task_queued(&pt->t, s);
        }
    }
    return got;
}

static size_t pull_partitions(struct pipeline *pl)
{
    size_t got = 0;

    for (size_t p = 0; p < pl->ntasks; p++)
        if (pl->tasks[p] != NULL)
            got += pull_task(pl, pl->tasks[p]);
    return got;
}

/* Sleep until a queue gets something, at most timeout_ms. */
static void wait_input(struct pipeline *pl, int timeout_ms)
{
    struct pollfd pfd = {pl->wake[0], POLLIN, 0};
    char buf[256];

    if (timeout_ms > 0)
        (void)poll(&pfd, 1, timeout_ms);
    while (read(pl->wake[0], buf, sizeof(buf)) > 0)
        ;
}

/* Rebalances, errors, statistics, and any message that came through the
 * consumer's queue before its partition queue was detached. */
static void poll_consumer(struct pipeline *pl)
{
    rd_kafka_message_t *m;

    for (int i = 0; i < POLL_BURST; i++) {
        if ((m = rd_kafka_consumer_poll(pl->consumer, 0)) == NULL)
            break;
        consume_one(pl, m);
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

    if (now < pl->trim_at_ms)
        return;
    pl->trim_at_ms = now + TRIM_EVERY_MS;
    (void)malloc_trim(0);
#else
    (void)pl;
#endif
}

static void sweep_some(struct pipeline *pl);

void pipeline_step(struct pipeline *pl, int timeout_ms)
{
    int64_t wait;

    redis_retry(pl);
    poll_consumer(pl);
    pull_partitions(pl);
    if (pl->failed)
        return;
    wait = run_tasks(pl);
    /* Sleep only when nothing new was pulled, and no longer than a task
     * waits for a partition that is behind. */
    if (pull_partitions(pl) == 0) {
        if (wait > 0 && wait < timeout_ms)
            timeout_ms = (int)wait;
        if (pl->sweeping) /* the rest of the pass waits for no input */
            timeout_ms = 0;
        else if (wait == 0)
            trim_heap(pl);
        flush_outputs(pl);
        wait_input(pl, timeout_ms);
        poll_consumer(pl);
        pull_partitions(pl);
        run_tasks(pl);
    }
    flush_outputs(pl);
    sweep_some(pl);
    rescore_some(pl);
    dlq_log_roll(pl);
    account_lag(pl);
}

/* The task's timer clock (task_timer_clock): the sweeper runs on a task
 * only while none of its events is taken or in flight, so with
 * clock = stream every event up to it is applied. */
static int64_t timer_clock(const struct pipeline *pl, const struct ptask *pt)
{
    return task_timer_clock(&pt->t, pl->cfg->clock == CLOCK_WALL ? wall_ms() : 0);
}

/* One batch of the task's due customers; each is evaluated at every due time
 * up to now, so the result does not depend on when this runs. */
static size_t sweep_task(struct pipeline *pl, struct ptask *pt, int64_t now)
{
    struct batch_ctx b = batch_ctx_of(pl, pt, pl->store, &pl->pending);
    struct batch_stats st = {0};
    char **ids = NULL, err[512];
    size_t n = 0;

    if (store_due(pl->store, pt->t.partition, now, (size_t)pl->cfg->sweep_batch, &ids,
                  &n) < 0) {
        if (!stores_ok(pl))
            hold_back(pl);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        pl->items[i] = (struct batch_item){.sweep_id = ids[i],
                                           .sweep_until_ms = now,
                                           .source = -1,
                                           .partition = pt->t.partition,
                                           .offset = -1};
    if (batch_run(&b, pl->items, n, &st, err, sizeof(err)) < 0) {
        log_warn("sweep of partition %d: %s", (int)pt->t.partition, err);
        if (!stores_ok(pl))
            hold_back(pl);
    } else {
        account_batch(pl, pt->t.partition, &st);
    }
    store_ids_free(ids, n);
    return n;
}

void pipeline_sweep(struct pipeline *pl)
{
    if (pl->sweeping)
        return; /* the last pass is still going */
    pl->sweeping = 1;
    pl->sweep_next = 0;
    pl->sweep_chunks = 0;
    pl->sweep_swept = 0;
}

/* Some of the sweeper's pass: batches of due customers, task after task,
 * until SWEEP_STEP_MS have gone (at least one batch), so that a pass over
 * many due customers does not hold up the events of the step after it. */
static void sweep_some(struct pipeline *pl)
{
    int64_t t0 = mono_ms();

    if (!pl->sweeping || !store_ok(pl->store) || pl->paused)
        return;
    while (pl->sweep_next < pl->ntasks) {
        struct ptask *pt = pl->tasks[pl->sweep_next];
        int64_t now = pt ? timer_clock(pl, pt) : 0;
        size_t n = 0;

        if (now > 0 && pt->nbatch == 0 && pt->lane < 0) {
            n = sweep_task(pl, pt, now);
            pl->sweep_swept += n;
        }
        /* A full batch: there may be more due, up to SWEEP_CHUNKS batches. */
        if (n < (size_t)pl->cfg->sweep_batch || ++pl->sweep_chunks >= SWEEP_CHUNKS) {
            pl->sweep_next++;
            pl->sweep_chunks = 0;
        }
        if (mono_ms() - t0 >= SWEEP_STEP_MS)
            return;
    }
    pl->sweeping = 0;
    metrics_sweep_run(pl->sweep_swept);
    if (pl->sweep_swept > 0)
        log_debug("sweeper: %zu customers re-evaluated", pl->sweep_swept);
}

/* ---- rescoring after a refit ---- */

static void rescore_chunk_free(struct rescore *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].id);
    free(rs->v);
    rs->v = NULL;
    rs->n = rs->next = 0;
}

static void rescore_fini(struct rescore *rs)
{
    rescore_chunk_free(rs);
    memset(rs, 0, sizeof(*rs));
}

static void rescore_publish(const struct pipeline *pl)
{
    const struct rescore *rs = &pl->rs;
    uint64_t pending = 0;

    if (rs->phase == RS_COUNTING)
        pending = rs->behind; /* so far */
    else if (rs->phase == RS_RESCORING && rs->behind > rs->processed)
        pending = rs->behind - rs->processed;
    metrics_set_rescore(pl->model.version, pending, rs->phase == RS_COUNTING);
}

/* From the start (again): the model's version, this instance's tasks. */
static void rescore_start(struct pipeline *pl)
{
    struct rescore *rs = &pl->rs;

    rescore_chunk_free(rs);
    rs->target = pl->model.version;
    rs->phase = rs->target > 0 && pl->cfg->rescore_per_s > 0 ? RS_COUNTING : RS_IDLE;
    rs->cursor = 0;
    rs->last_chunk = 0;
    rs->behind = rs->processed = rs->rescored = 0;
    rs->tokens = 0;
    rs->refill_ms = rs->started_ms = mono_ms();
    rescore_publish(pl);
}

static int rs_cmp(const void *a, const void *b)
{
    const struct rs_cust *x = a, *y = b;

    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The next ZSCAN chunk's customers of our tasks that are behind: counted
 * (first pass) or kept in v, in partition and id order (second).  0, or -1
 * when Redis failed or memory ran short (the same chunk again later). */
static int rescore_scan(struct pipeline *pl, int keep)
{
    struct rescore *rs = &pl->rs;
    char **ids, err[512];
    int32_t *part;
    int64_t *ver;
    uint64_t cursor = rs->cursor;
    size_t n;
    int rc = 0;

    if (store_scan_versions(pl->store, &rs->cursor, &ids, &part, &ver, &n, err,
                            sizeof(err)) < 0) {
        log_warn("rescore: %s", err);
        return -1;
    }
    if (keep && n > 0 && (rs->v = malloc(n * sizeof(*rs->v))) == NULL) {
        log_warn("rescore: out of memory");
        rs->cursor = cursor; /* the same chunk again */
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ver[i] >= rs->target || task_of(pl, part[i]) == NULL)
            continue;
        if (!keep) {
            rs->behind++;
            continue;
        }
        rs->v[rs->n++] = (struct rs_cust){ids[i], part[i]};
        ids[i] = NULL;
    }
    if (rs->n > 1) /* (an empty chunk has no array at all) */
        qsort(rs->v, rs->n, sizeof(*rs->v), rs_cmp);
    rs->last_chunk = rs->cursor == 0;
out:
    store_ids_free(ids, n);
    free(part);
    free(ver);
    return rc;
}

/* The next batch of the chunk: up to sweep.batch customers of one idle
 * task, as far as the rate allows.  0 when there is nothing to do now. */
static size_t rescore_batch(struct pipeline *pl)
{
    struct rescore *rs = &pl->rs;
    int64_t now = mono_ms();
    struct ptask *pt;
    struct batch_ctx b;
    struct batch_stats st = {0};
    char err[512];
    size_t n = 0, max;

    rs->tokens += (double)(now - rs->refill_ms) * pl->cfg->rescore_per_s / 1000.0;
    if (rs->tokens > pl->cfg->rescore_per_s)
        rs->tokens = pl->cfg->rescore_per_s; /* a second's worth at most */
    rs->refill_ms = now;
    max = rs->tokens < (double)pl->cfg->sweep_batch ? (size_t)rs->tokens
                                                    : (size_t)pl->cfg->sweep_batch;
    /* Customers of partitions no longer ours are left to their new owner. */
    while (rs->next < rs->n && task_of(pl, rs->v[rs->next].partition) == NULL)
        rs->next++;
    if (max == 0 || rs->next == rs->n)
        return 0;
    pt = task_of(pl, rs->v[rs->next].partition);
    if (pt->nbatch > 0 || pt->lane >= 0)
        return 0; /* its events first */
    while (n < max && rs->next + n < rs->n &&
           rs->v[rs->next + n].partition == pt->t.partition) {
        pl->items[n] = (struct batch_item){.sweep_id = rs->v[rs->next + n].id,
                                           .rescore = 1,
                                           .source = -1,
                                           .partition = pt->t.partition,
                                           .offset = -1};
        n++;
    }
    b = batch_ctx_of(pl, pt, pl->store, &pl->pending);
    if (batch_run(&b, pl->items, n, &st, err, sizeof(err)) < 0) {
        log_warn("rescore of partition %d: %s", (int)pt->t.partition, err);
        return 0; /* the same customers next time */
    }
    account_batch(pl, pt->t.partition, &st);
    rs->tokens -= (double)n;
    rs->rescored += st.rescored;
    rs->processed += n;
    metrics_add(MC_RESCORED, st.rescored);
    rs->next += n;
    return n;
}

/* Some of the rescoring, within the step's time, after the sweeper's. */
static void rescore_some(struct pipeline *pl)
{
    struct rescore *rs = &pl->rs;
    int64_t t0 = mono_ms();

    if (rs->phase == RS_IDLE || !store_ok(pl->store) || pl->paused ||
        pipeline_assigned(pl) == 0)
        return;
    if (pl->model.version != rs->target) {
        rescore_start(pl); /* another refit meanwhile */
        return;
    }
    if (rs->phase == RS_COUNTING) {
        if (rescore_scan(pl, 0) == 0 && rs->cursor == 0) {
            log_note("rescore: %" PRIu64
                     " customers of this instance's partitions behind "
                     "model version %" PRId64 ", at most %d a second",
                     rs->behind, rs->target, pl->cfg->rescore_per_s);
            rs->phase = RS_RESCORING; /* from the first chunk again */
            rs->last_chunk = 0;
        }
    } else if (rs->next == rs->n && rs->last_chunk) {
        log_note("rescore: model version %" PRId64 " reached, %" PRIu64
                 " customers rescored in %.1f s",
                 rs->target, rs->rescored, (double)(mono_ms() - rs->started_ms) / 1e3);
        rescore_chunk_free(rs);
        rs->phase = RS_IDLE;
    } else if (rs->next == rs->n) {
        rescore_chunk_free(rs);
        (void)rescore_scan(pl, 1);
    } else {
        while (rescore_batch(pl) > 0 && mono_ms() - t0 < SWEEP_STEP_MS)
            ;
    }
    rescore_publish(pl);
}

void pipeline_refresh_model(struct pipeline *pl)
{
    struct bg_params bg;
    struct gg_params gg;
    int64_t version = 0;

    if (store_ok(pl->store) && store_model_get(pl->store, &bg, &gg, &version) == 1) {
        if (memcmp(&bg, &pl->model.bg, sizeof(bg)) != 0 || version != pl->model.version)
            log_note("model version %" PRId64 ": r=%g alpha=%g a=%g b=%g", version, bg.r,
                     bg.alpha, bg.a, bg.b);
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

void pipeline_close(struct pipeline *pl, int timeout_ms)
{
    rd_kafka_resp_err_t err;

    for (size_t p = 0; p < pl->ntasks; p++)
        if (pl->tasks[p] && pl->tasks[p]->nbatch && stores_ok(pl))
            run_batch(pl, pl->tasks[p]);
    settle(pl, timeout_ms);
    err = rd_kafka_consumer_close(pl->consumer); /* commits stored offsets */
    if (err)
        log_warn("consumer close: %s", rd_kafka_err2str(err));
    producer_flush(pl->producer, 1000);
}

int pipeline_ready(const struct pipeline *pl)
{
    return can_apply(pl) && pl->kafka_up;
}

int pipeline_failed(const struct pipeline *pl)
{
    return pl->failed;
}

size_t pipeline_assigned(const struct pipeline *pl)
{
    return pl->assigned ? (size_t)pl->assigned->cnt : 0;
}
