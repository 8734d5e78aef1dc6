/*
 * offsets.c - what is done and where input resumes: the offsets that became
 * storable handed to librdkafka (which commits them), each task's progress
 * recorded in Redis after a committed batch, and on assignment each
 * partition's position, the group's committed offset or Redis's progress
 * where that is behind it.
 */
#include "consumers/pipeline_int.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>

#include "base/log.h"
#include "base/metrics.h"
#include "consumers/producer.h"
#include "consumers/tracker.h"

/* Record next[] (-1: unchanged) and the stream time (0: unchanged) as the
 * task's progress in Redis, and raise what this process knows of it.  0, or
 * -1 (logged and counted). */
static int put_progress(struct ptask *pt, struct store *store,
                        const int64_t next[SRC__COUNT], int64_t stream_ms)
{
    char err[256];

    if (store_progress_put(store, pt->t.partition, next, stream_ms, err, sizeof(err)) <
        0) {
        log_warn("partition %d: progress not recorded: %s", (int)pt->t.partition, err);
        metrics_redis_error(store_err_class(err));
        return -1;
    }
    for (int i = 0; i < SRC__COUNT; i++) {
        if (next[i] > pt->progress[i]) {
            pt->progress[i] = next[i];
        }
    }
    return 0;
}

/* After a committed batch: the task's progress in Redis, the next offset of
 * each input topic past the batch's events.  Not recorded, it is recorded
 * with the next batch; a restart resumes from the group's committed offsets
 * where those are behind it (README, "Guarantees"). */
void offsets_record_progress(struct ptask *pt, struct store *store)
{
    int64_t next[SRC__COUNT] = {-1, -1, -1};
    int any = 0;

    for (size_t i = 0; i < pt->nbatch; i++) {
        const struct inmsg *in = pt->batch[i].msg;

        if (in->offset + 1 > next[in->src]) {
            next[in->src] = in->offset + 1;
            any = 1;
        }
    }
    if (any) {
        (void)put_progress(pt, store, next, pt->t.stream_ms);
    }
}

struct store_points {
    struct pipeline *pl;
    rd_kafka_topic_partition_list_t *list;
};

static void store_one(void *arg, const char *topic, int32_t partition, int64_t next)
{
    struct store_points *sp = arg;
    struct ptask *pt = pipeline_task_of(sp->pl, partition);
    int src = pipeline_role_of(sp->pl, topic);

    rd_kafka_topic_partition_list_add(sp->list, topic, partition)->offset = next;
    if (pt != NULL && src >= 0 && src < SRC__COUNT && next > pt->settled[src]) {
        pt->settled[src] = next;
    }
}

/* Messages dead-lettered after a task's last batch (or between its batches)
 * move its store point past the progress its batches recorded: record that
 * too, so that a restart resumes where the group does and nothing is
 * dead-lettered twice.  The stream time is left as it is: it is the batches'
 * to raise. */
static void record_settled(struct pipeline *pl)
{
    if (!hold_can_apply(pl)) {
        return;
    }
    for (size_t p = 0; p < pl->tasks.n; p++) {
        struct ptask *pt = pl->tasks.v[p];
        int64_t next[SRC__COUNT] = {-1, -1, -1};
        int any = 0;

        for (int i = 0; pt != NULL && i < SRC__COUNT; i++) {
            if (pt->settled[i] > pt->progress[i]) {
                next[i] = pt->settled[i];
                any = 1;
            }
        }
        if (any && put_progress(pt, pl->store, next, 0) < 0) {
            return;
        }
    }
}

/* rd_kafka_offsets_store() in 2.0 wants an explicit list (next offset). */
void offsets_store(struct pipeline *pl)
{
    struct store_points sp = {pl, rd_kafka_topic_partition_list_new(8)};
    rd_kafka_resp_err_t err;

    tracker_collect(pl->tracker, store_one, &sp);
    if (sp.list->cnt > 0 && (err = rd_kafka_offsets_store(pl->consumer, sp.list)) != 0) {
        log_debug("offsets store: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(sp.list);
    record_settled(pl);
}

/* Serve delivery reports until nothing produced is outstanding (or timeout),
 * then store what became storable. */
void offsets_settle(struct pipeline *pl, int timeout_ms)
{
    producer_settle(pl->producer, timeout_ms);
    offsets_store(pl);
}

/* Where each assigned partition resumes: the group's committed offset, or
 * the task's progress in Redis where that is behind it (a Redis restored from
 * an older snapshot: the window it lost is applied again; the customers'
 * watermarks, restored with it, let those events through). */
void offsets_resume_positions(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *committed =
        rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_topic_partition_list_t *unrecorded = rd_kafka_topic_partition_list_new(4);
    rd_kafka_resp_err_t rerr = rd_kafka_committed(pl->consumer, committed, 10000);
    int history = 0, from_start;
    char err[256];

    if (rerr != 0) {
        log_warn("committed offsets: %s", rd_kafka_err2str(rerr));
    }
    for (int i = 0; rerr == 0 && i < committed->cnt; i++) {
        history |= committed->elems[i].offset > 0;
    }
    from_start = store_ok(pl->store) ? hold_judge_fresh_redis(pl, history) : 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        struct ptask *pt = pipeline_task_of(pl, tp->partition);
        int src = pipeline_role_of(pl, tp->topic);
        int64_t k = rerr == 0 ? committed->elems[i].offset : -1;

        if (from_start) {
            tp->offset = RD_KAFKA_OFFSET_BEGINNING;
            continue;
        }
        /* Nothing committed: from the start (auto.offset.reset is "error",
         * kept for a log that lost what was read), or from Redis's progress
         * below. */
        if (rerr == 0 && k < 0) {
            tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        if (pt == NULL || src < 0 || src >= SRC__COUNT || !store_ok(pl->store)) {
            continue;
        }
        if (pt->progress[0] < 0 && pt->progress[1] < 0 && pt->progress[2] < 0) {
            int64_t stream = 0;

            if (store_progress_get(pl->store, pt->t.partition, pt->progress, &stream, err,
                                   sizeof(err)) < 0) {
                log_warn("partition %d: %s", (int)pt->t.partition, err);
                continue;
            }
            /* The timers of a task whose events are all applied already
             * still run by the stream time its last owner reached. */
            if (stream > pt->t.stream_ms) {
                pt->t.stream_ms = stream;
            }
        }
        if (pt->progress[src] >= 0 && k >= 0 && pt->progress[src] < k) {
            log_warn("%s/%d: Redis recorded the events applied up to offset %" PRId64
                     ", the group committed %" PRId64 ": applying the difference again",
                     tp->topic, (int)tp->partition, pt->progress[src], k);
            metrics_add(MC_RESUMED_FROM_REDIS, 1);
            tp->offset = pt->progress[src];
        } else if (rerr == 0 && k < 0 && pt->progress[src] >= 0) {
            /* The group has not committed what Redis has applied (a new group,
             * or a process that ended before its first commit): from there,
             * committed at once so that the group's lag is known before new
             * input comes. */
            tp->offset = pt->progress[src];
            rd_kafka_topic_partition_list_add(unrecorded, tp->topic, tp->partition)
                ->offset = tp->offset;
        }
    }
    if (unrecorded->cnt > 0 &&
        (rerr = rd_kafka_commit(pl->consumer, unrecorded, 1)) != 0) {
        log_warn("commit of the positions from Redis's progress: %s",
                 rd_kafka_err2str(rerr));
    }
    rd_kafka_topic_partition_list_destroy(unrecorded);
    rd_kafka_topic_partition_list_destroy(committed);
}
