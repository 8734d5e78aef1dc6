/*
 * lanes.c - batches in flight.  A task's batch is filled from its merge,
 * started on one of LANES Redis connections (a lane) and landed once Kafka
 * acknowledged its derived events: committed, each event's outcome said,
 * its inputs released; while one lane's batch waits for Kafka, the next
 * task's is prepared on the other.  A batch that cannot commit stays with
 * its task for a retry, and input is held back (hold.c).
 */
#include "consumers/pipeline_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/parse.h"
#include "consumers/producer.h"
#include "consumers/task.h"
#include "consumers/tracker.h"

/* A batch commits once Kafka acknowledged its derived events; it fails (and
 * is retried later, as when Redis is away) when that takes longer. */
#define AWAIT_DELIVERY_MS 10000
/* How soon the main loop comes back to a batch that waits for Kafka. */
#define AWAIT_POLL_MS 2

/* Take up to batch.max_events merged events.  Returns how long the task must
 * wait for a partition that is behind (0: not waiting). */
static int64_t fill_batch(struct pipeline *pl, struct ptask *pt)
{
    int64_t wait_ms = 0;
    int looked_again = 0;

    if (pt->batch == NULL) {
        if (pl->nspare > 0) {
            pt->batch = pl->spare[--pl->nspare];
        } else if ((pt->batch = malloc((size_t)pl->cfg->batch_max_events *
                                       sizeof(*pt->batch))) == NULL) {
            return 0;
        }
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
        if (w != TASK_READY) {
            return w == TASK_WAITING ? wait_ms : 0;
        }
        /* An empty partition passed over as at its end may be getting the
         * rest of the fetch response that brought this head (librdkafka
         * fills the partitions' queues one after another, and the queue that
         * filled first woke us): one more look before relying on it. */
        if (pt->t.ended_empty && !looked_again) {
            looked_again = 1;
            if (ingest_pull_task(pl, pt) > 0) {
                continue;
            }
        }
        task_pop(&pt->t, src, &pt->batch[pt->nbatch], &late);
        if (pt->batch[pt->nbatch].reason != 0) {
            ingest_dead_letter_bad(pl, &pt->batch[pt->nbatch]);
            continue;
        }
        if (late) {
            metrics_add(MC_LATE_EVENTS, 1);
        }
        pt->nbatch++;
    }
    return 0;
}

/* A batch on `store`, its derived events counted in *pending. */
struct batch_ctx lanes_batch_ctx_of(struct pipeline *pl, const struct ptask *pt,
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

int lanes_quarantine_note(struct pipeline *pl, const char *id, const char *why)
{
    int fresh = store_quarantine_note(pl->store, id, why, wall_ms());

    if (fresh == 1) {
        metrics_customer_quarantined();
        log_err("customer %s quarantined: %s; its events go to the DLQ with reason "
                "quarantined until it is repaired and released (README, \"Quarantine\")",
                id, why);
    }
    return fresh;
}

/* An event of a customer whose stored state cannot be read: to the DLQ
 * with reason "quarantined" (loyaltyctl redrive replays it once the customer
 * is repaired), the customer noted in Redis for loyaltyctl quarantine and
 * named in the log the first time. */
static void set_aside(struct pipeline *pl, struct task_msg *tm,
                      const struct batch_item *it)
{
    lanes_quarantine_note(pl, tm->ev.customer_id, it->err);
    metrics_quarantined();
    if (producer_dead_letter(pl->producer, tm->entry, tm->msg, "quarantined", it->err) <
        0) {
        log_err("out of memory dead-lettering %s", tm->ev.event_id);
    }
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
        if (in->kafka_ts_ms > 0) {
            metrics_apply_latency(now_us - in->kafka_ts_ms * 1000);
        }
        break;
    case BATCH_DUPLICATE:
        metrics_duplicate((int)it->dup);
        break;
    case BATCH_REJECTED:
        if (it->no_rate) { /* as the parse step's no_rate, replayable alike */
            ingest_dead_letter(pl, tm, PR_NO_RATE, it->err);
            break;
        }
        log_err("%s/%d@%" PRId64 ": model refused event %s: %s", topic,
                (int)in->partition, in->offset, tm->ev.event_id, it->err);
        metrics_model_rejected();
        if (producer_dead_letter(pl->producer, tm->entry, in, "model_rejected", it->err) <
            0) {
            log_err("out of memory dead-lettering %s", tm->ev.event_id);
        }
        break;
    case BATCH_QUARANTINED:
        set_aside(pl, tm, it);
        break;
    case BATCH_SWEPT:
    case BATCH_RESCORED:
        break;
    }
    if (it->misrouted == 2) {
        log_warn("customer %s lives on partition %" PRId32 " but %s/%d@%" PRId64
                 " came on another (producers must key by customer_id with one "
                 "partitioner)",
                 tm->ev.customer_id, it->home_partition, topic, (int)in->partition,
                 in->offset);
    }
    event_free(&tm->ev);
    tracker_release(tm->entry);
    inmsg_free(tm->msg);
}

static void give_back_batch(struct pipeline *pl, struct ptask *pt)
{
    if (pt->batch == NULL || pt->nbatch > 0) {
        return;
    }
    if (pl->nspare < LANES + 1) {
        pl->spare[pl->nspare++] = pt->batch;
    } else {
        free(pt->batch);
    }
    pt->batch = NULL;
}

/* Every batch in flight landed, each waiting at most wait_ms for Kafka: 0,
 * 1 when one still waits, or -1 when one must be retried later. */
static int land_all(struct pipeline *pl, int wait_ms)
{
    int rc = 0;

    for (int i = 0; i < LANES; i++) {
        int r = lanes_land(pl, i, wait_ms);

        if (r < 0) {
            rc = -1;
        } else if (r > 0 && rc == 0) {
            rc = 1;
        }
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

    if ((rc = lanes_land(pl, lane, LAND_WAIT_MS)) != 0) {
        return rc;
    }
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
    f->ctx = lanes_batch_ctx_of(pl, pt, pl->lane_store[lane], &f->pending);
    f->st = (struct batch_stats){0};
    /* A customer held by the batch in flight on the other lane (fed from two
     * partitions) waits for that one. */
    if ((rc = batch_start(&f->ctx, f->items, pt->nbatch, &f->st, f->err, sizeof(f->err),
                          &f->bt)) == 1 &&
        land_all(pl, LAND_WAIT_MS) == 0) {
        rc = batch_start(&f->ctx, f->items, pt->nbatch, &f->st, f->err, sizeof(f->err),
                         &f->bt);
    }
    if (rc != 0) {
        if (rc < 0) { /* else the batch in flight failed and said so */
            log_warn("partition %d: %s; pausing input", (int)pt->t.partition, f->err);
            metrics_redis_error(store_err_class(f->err));
        }
        return -1;
    }
    f->pt = pt;
    pt->lane = lane;
    pl->next_lane = (lane + 1) % LANES;
    return 0;
}

/* With redis.wait_replicas, whether the batch's writes are on the replicas
 * (WAIT): 0, or -1 with f->err. */
static int replicated(struct pipeline *pl, struct flight *f)
{
    if (pl->cfg->wait_replicas <= 0) {
        return 0;
    }
    return store_wait_replicas(f->ctx.store, pl->cfg->wait_replicas, f->err,
                               sizeof(f->err));
}

/* The lane's batch finished: what each event became, then its input is
 * done.  0 (also for an idle lane), or -1 when the batch must be retried
 * later (the task keeps it). */
int lanes_land(struct pipeline *pl, int lane, int wait_ms)
{
    struct flight *f = &pl->fly[lane];
    struct ptask *pt = f->pt;
    int64_t now_us;

    if (pt == NULL) {
        return 0;
    }
    /* The batch commits once Kafka acknowledged its derived events; until
     * then it stays in flight, and is never published again. */
    if (f->pending > 0 && producer_await(pl->producer, &f->pending, wait_ms) < 0) {
        if (wait_ms > 0) {
            log_warn("partition %d: %u derived events not yet acknowledged by Kafka; the "
                     "commit waits",
                     (int)pt->t.partition, f->pending);
        }
        return 1;
    }
    f->pt = NULL;
    pt->lane = -1;
    /* With redis.wait_replicas, a batch is done once its writes are on the
     * replicas: its progress and offsets are not recorded before (README,
     * "Redis Cluster"). */
    if (batch_finish(f->bt) < 0 || replicated(pl, f) < 0) {
        /* With redis.wait_replicas, customers the batch committed may be
         * cached ahead of what Redis keeps (a master that fails now takes
         * unreplicated writes with it): loaded again when the batch is
         * tried again, their events are applied where Redis lacks them. */
        if (pl->cfg->wait_replicas > 0) {
            cache_drop_task(pl->cache, pt->t.partition);
        }
        log_warn("partition %d: %s; pausing input", (int)pt->t.partition, f->err);
        metrics_redis_error(store_err_class(f->err));
        return -1;
    }
    offsets_record_progress(pt, f->ctx.store);
    now_us = wall_us();
    for (size_t i = 0; i < pt->nbatch; i++) {
        const struct inmsg *in = pt->batch[i].msg;

        if (in->kafka_ts_ms > pt->applied_ts_ms) {
            pt->applied_ts_ms = in->kafka_ts_ms;
        }
        finish_item(pl, &pt->batch[i], &f->items[i], now_us);
    }
    pt->nbatch = 0;
    give_back_batch(pl, pt);
    stats_account_batch(pl, pt->t.partition, &f->st);
    return 0;
}

/* The lane's batch given up uncommitted: its task goes while Kafka has not
 * acknowledged its derived events. */
void lanes_abandon(struct pipeline *pl, int lane)
{
    struct flight *f = &pl->fly[lane];

    if (f->pt == NULL) {
        return;
    }
    log_warn("partition %d: batch given up uncommitted; its events are applied again by "
             "the partition's next owner",
             (int)f->pt->t.partition);
    f->pt->lane = -1;
    f->pt = NULL;
    batch_abandon(f->bt);
    f->bt = NULL;
}

/* Commit the task's batch now.  0, or -1 when it must be retried later. */
int lanes_run_batch(struct pipeline *pl, struct ptask *pt)
{
    if (land_all(pl, LAND_WAIT_MS) != 0 || launch(pl, pt) != 0) {
        return -1;
    }
    return lanes_land(pl, pt->lane, LAND_WAIT_MS) == 0 ? 0 : -1;
}

/* Batches of every task, in turns, until nothing is ready: a task's batch is
 * committed while the next task's is prepared.  Returns the shortest wait
 * any task is in (0: none), for the next poll. */
int64_t lanes_run_tasks(struct pipeline *pl)
{
    int64_t wait = 0;
    int progress = 1, busy = 0, rc;

    while (progress && !busy && hold_can_apply(pl)) {
        progress = 0;
        for (size_t p = 0; p < pl->tasks.n && !busy; p++) {
            struct ptask *pt = pl->tasks.v[p];
            int64_t w;

            if (pt == NULL) {
                continue;
            }
            /* A batch that waits for Kafka is looked at again next time. */
            if (pt->lane >= 0 && (rc = lanes_land(pl, pt->lane, 0)) != 0) {
                if (rc < 0) {
                    goto failed;
                }
                continue;
            }
            w = fill_batch(pl, pt);
            /* A queue ran dry before the batch filled up: what librdkafka
             * has fetched meanwhile goes into the same batch. */
            while (pt->nbatch > 0 && pt->nbatch < (size_t)pl->cfg->batch_max_events &&
                   ingest_pull_task(pl, pt) > 0) {
                w = fill_batch(pl, pt);
            }
            if (w > 0 && (wait == 0 || w < wait)) {
                wait = w;
            }
            if (pt->nbatch == 0) {
                give_back_batch(pl, pt);
                continue;
            }
            if ((rc = launch(pl, pt)) < 0) {
                goto failed;
            }
            busy = rc > 0;
            progress = 1;
        }
    }
    if ((rc = land_all(pl, 0)) < 0) {
        goto failed;
    }
    /* Batches still waiting for Kafka: back soon to commit them. */
    if ((rc > 0 || busy) && (wait == 0 || wait > AWAIT_POLL_MS)) {
        wait = AWAIT_POLL_MS;
    }
    if (hold_can_apply(pl)) {
        hold_set_paused(pl, HOLD_REDIS, 0);
    }
    return wait;
failed:
    land_all(pl, 0);
    hold_back(pl);
    return 0;
}
