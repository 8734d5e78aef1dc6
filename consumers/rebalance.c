/*
 * rebalance.c - tasks and the group's rebalances: on assignment the input
 * topics' partition counts checked, a task made per partition number and
 * each partition read from its own queue; on revocation the batches taken
 * committed where Redis allows, offsets committed, and the tasks dropped
 * with what they had not applied (their next owner reads it again).
 */
#include "consumers/pipeline_int.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/metrics.h"
#include "consumers/task.h"
#include "consumers/tracker.h"
#include "state/engine/cache.h"

/* Partition count of one topic from the cluster; -1 if unknown. */
static int partition_count(struct pipeline *pl, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(pl->consumer, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;

    if (rkt == NULL) {
        return -1;
    }
    if (rd_kafka_metadata(pl->consumer, 0, rkt, &md, 5000) == 0 && md->topic_cnt == 1 &&
        md->topics[0].err == 0) {
        n = md->topics[0].partition_cnt;
    }
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* The input topics must be co-partitioned: partition p of all three is one
 * task.  Unequal counts are a deployment error the daemon refuses to run on. */
static int check_copartitioned(struct pipeline *pl)
{
    int n[SRC__COUNT];

    for (int s = 0; s < SRC__COUNT; s++) {
        n[s] = partition_count(pl, pl->cfg->topic[s]);
    }
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

    if ((size_t)p >= pl->tasks.n && array_resize(&pl->tasks, (size_t)p + 1) < 0) {
        return -1;
    }
    if (pl->tasks.v[p] != NULL) {
        return 0;
    }
    if ((pt = calloc(1, sizeof(*pt))) == NULL) {
        return -1;
    }
    task_init(&pt->t, p);
    pt->t.grace_ms = pl->cfg->merge_grace_ms;
    pt->lane = -1;
    for (int i = 0; i < SRC__COUNT; i++) {
        pt->progress[i] = pt->settled[i] = -1;
    }
    pl->tasks.v[p] = pt;
    metrics_set_task_lag(p, 0);
    return 0;
}

/* Drop a task's unapplied messages (their offsets were never stored, so the
 * next owner reads them again) and its cached customers. */
void rebalance_task_remove(struct pipeline *pl, int32_t p)
{
    struct ptask *pt = pipeline_task_of(pl, p);

    if (pt == NULL) {
        return;
    }
    /* Its batch's customers must not stay pinned: landed, or given up. */
    if (pt->lane >= 0 && lanes_land(pl, pt->lane, LAND_WAIT_MS) != 0 && pt->lane >= 0) {
        lanes_abandon(pl, pt->lane);
    }
    for (size_t i = 0; i < pt->nbatch; i++) {
        event_free(&pt->batch[i].ev);
        ingest_drop_queued(NULL, pt->batch[i].msg, pt->batch[i].entry);
    }
    for (int s = 0; s < SRC__COUNT; s++) {
        if (pt->kq[s] != NULL) {
            rd_kafka_queue_io_event_enable(pt->kq[s], -1, NULL, 0);
            rd_kafka_queue_destroy(pt->kq[s]);
        }
    }
    task_fini(&pt->t, ingest_drop_queued, NULL);
    free(pt->batch);
    free(pt);
    pl->tasks.v[p] = NULL;
    cache_drop_task(pl->cache, p);
    metrics_set_task_lag(p, -1);
}

/* Consume the partition from its own queue (not the consumer's), so that a
 * task pulls from each input partition only what its merge has room for, and
 * a partition that is behind is read without draining the others first. */
static void task_attach(struct pipeline *pl, const char *topic, int32_t partition)
{
    struct ptask *pt = pipeline_task_of(pl, partition);
    int src = pipeline_role_of(pl, topic);
    rd_kafka_queue_t *q;

    if (pt == NULL || src < TOPIC_ORDERS || src > TOPIC_MESSAGES || pt->kq[src] != NULL) {
        return;
    }
    if ((q = rd_kafka_queue_get_partition(pl->consumer, topic, partition)) == NULL) {
        log_warn("%s/%d: no partition queue; read through the consumer's", topic,
                 (int)partition);
        return;
    }
    rd_kafka_queue_forward(q, NULL);
    rd_kafka_queue_io_event_enable(q, pl->wake[1], "p", 1);
    pt->kq[src] = q;
}

static void on_assign(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err;

    if (check_copartitioned(pl) < 0) {
        pl->failed = 1;
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        if (task_add(pl, parts->elems[i].partition) < 0) {
            log_err("out of memory creating the task of partition %d",
                    (int)parts->elems[i].partition);
        }
    }
    offsets_resume_positions(pl, parts);
    if ((err = rd_kafka_assign(pl->consumer, parts)) != 0) {
        log_err("assign: %s", rd_kafka_err2str(err));
    }
    if (pl->assigned) {
        rd_kafka_topic_partition_list_destroy(pl->assigned);
    }
    pl->assigned = rd_kafka_topic_partition_list_copy(parts);
    for (int i = 0; i < parts->cnt; i++) {
        task_attach(pl, parts->elems[i].topic, parts->elems[i].partition);
    }
    if (pl->paused &&
        (err = rd_kafka_pause_partitions(pl->consumer, pl->assigned)) != 0) {
        log_warn("pause partitions: %s", rd_kafka_err2str(err));
    }
    log_note("assigned %d partitions", parts->cnt);
    if (pl->rs.target > 0) {
        rescore_start(pl); /* the new partitions' customers too */
    }
}

/* Finish the revoked partitions' work before they go: the batches already
 * taken committed if Redis allows, deliveries settled, offsets stored and
 * committed synchronously. */
static void on_revoke(struct pipeline *pl, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err;

    for (size_t p = 0; p < pl->tasks.n; p++) {
        if (pl->tasks.v[p] && pl->tasks.v[p]->nbatch && hold_stores_ok(pl)) {
            lanes_run_batch(pl, pl->tasks.v[p]);
        }
    }
    offsets_settle(pl, 10000);
    err = rd_kafka_commit(pl->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        log_warn("commit on revoke: %s", rd_kafka_err2str(err));
    }
    for (int i = 0; i < parts->cnt; i++) {
        tracker_forget(pl->tracker, parts->elems[i].topic, parts->elems[i].partition);
        rebalance_task_remove(pl, parts->elems[i].partition);
    }
    rd_kafka_assign(pl->consumer, NULL);
    if (pl->assigned) {
        rd_kafka_topic_partition_list_destroy(pl->assigned);
        pl->assigned = NULL;
    }
    metrics_clear_lag();
    log_note("revoked %d partitions", parts->cnt);
}

void rebalance_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
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
