/*
 * hold.c - input held back while Redis cannot take batches, an input
 * partition lost what was read from it, or Kafka does not take the outputs:
 * every assigned partition paused (the consumer is still polled, so the
 * group keeps its member) while one of these holds.  Redis is reconnected
 * with backoff, and on its return checked for what it kept; a Redis that
 * lost its state is refused until an operator decides (README,
 * "Guarantees").
 */
#include "consumers/pipeline_int.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/producer.h"

#define REDIS_BACKOFF_MAX_MS 5000

/* Batches may run: Redis is there and holds the state it should. */
int hold_can_apply(const struct pipeline *pl)
{
    return hold_stores_ok(pl) && !pl->redis_lost && !pl->input_reset;
}

int hold_stores_ok(const struct pipeline *pl)
{
    for (int i = 0; i < LANES; i++) {
        if (!store_ok(pl->lane_store[i])) {
            return 0;
        }
    }
    return 1;
}

/* The first of the causes, for the log. */
static const char *cause_name(unsigned causes)
{
    if (causes & HOLD_REDIS) {
        return "Redis unavailable";
    }
    if (causes & HOLD_INPUT_RESET) {
        return "an input partition lost offsets already read";
    }
    return "outputs not acknowledged by Kafka";
}

/* Fetching stops for every assigned partition while a cause holds; the
 * consumer is still polled, so the group keeps its member.  Pausing drops
 * what librdkafka prefetched; resuming fetches from the last message taken. */
void hold_set_paused(struct pipeline *pl, enum hold_cause cause, int on)
{
    unsigned was = pl->paused, now = on ? was | cause : was & ~(unsigned)cause;
    rd_kafka_resp_err_t err;

    if (now == was) {
        return;
    }
    pl->paused = now;
    /* While fetching stops, the producers go on: the ends the partitions
     * reached before are forgotten.  librdkafka signals an end once per end
     * offset, so a partition still at the same end after the pause is waited
     * for up to merge.max_idle_ms once. */
    for (size_t i = 0; was == 0 && i < pl->tasks.n; i++) {
        if (pl->tasks.v[i] != NULL) {
            task_forget_ends(&pl->tasks.v[i]->t);
        }
    }
    if ((was != 0) != (now != 0) && pl->assigned != NULL) {
        err = now ? rd_kafka_pause_partitions(pl->consumer, pl->assigned)
                  : rd_kafka_resume_partitions(pl->consumer, pl->assigned);
        if (err) {
            log_warn("%s partitions: %s", now ? "pause" : "resume",
                     rd_kafka_err2str(err));
        }
    }
    metrics_set_paused(now != 0);
    if (on) {
        log_note("input paused: %s", cause_name(cause));
    } else if (now == 0) {
        log_note("input resumed");
    } else {
        log_note("input stays paused: %s", cause_name(now));
    }
}

/* Derived events wait in their batches, which hold their tasks, so their
 * backlog is bounded; DLQ records are produced as their turn comes and hold
 * nothing but their inputs' offsets: while Kafka does not take them, only
 * the pause bounds them.  The bound counts both. */
void hold_check_outputs(struct pipeline *pl)
{
    size_t bytes = producer_pending_bytes(pl->producer);
    size_t max = pl->cfg->output_max_pending_bytes;
    int role = -1, stalled = producer_quiet_ms(pl->producer, &role) >= OUTPUT_STALL_MS;

    if (!(pl->paused & HOLD_OUTPUT) && bytes > max) {
        log_warn("%zu bytes of derived events and DLQ records not acknowledged by Kafka, "
                 "over output.max_pending_bytes (%zu): pausing input until half of them "
                 "are",
                 bytes, max);
        hold_set_paused(pl, HOLD_OUTPUT, 1);
    } else if ((pl->paused & HOLD_OUTPUT) && bytes <= max / 2) {
        hold_set_paused(pl, HOLD_OUTPUT, 0);
    }
    if (stalled == pl->outputs_stalled) {
        return;
    }
    pl->outputs_stalled = stalled;
    if (stalled) {
        log_warn("kafka has acknowledged nothing produced to %s for %d s: not ready "
                 "until it does",
                 pl->cfg->topic[role], OUTPUT_STALL_MS / 1000);
    } else {
        log_note("kafka acknowledges the outputs again");
    }
}

int hold_outputs_ok(const struct pipeline *pl)
{
    return producer_quiet_ms(pl->producer, NULL) < OUTPUT_STALL_MS;
}

static void check_redis_kept(struct pipeline *pl);

void hold_redis_retry(struct pipeline *pl)
{
    char err[512];
    int rc = 0;

    if (hold_stores_ok(pl) || mono_ms() < pl->redis_retry_at_ms) {
        return;
    }
    for (int i = 0; i < LANES && rc == 0; i++) {
        if (!store_ok(pl->lane_store[i])) {
            rc = store_connect(pl->lane_store[i], err, sizeof(err));
        }
    }
    if (rc == 0) {
        log_note("redis: connected");
        pl->redis_backoff_ms = REDIS_BACKOFF_MIN_MS;
        metrics_set_redis_up(1);
        check_redis_kept(pl);
        return;
    }
    log_warn("%s (retry in %" PRId64 " ms)", err, pl->redis_backoff_ms);
    metrics_redis_error(store_err_class(err));
    pl->redis_retry_at_ms = mono_ms() + pl->redis_backoff_ms;
    pl->redis_backoff_ms *= 2;
    if (pl->redis_backoff_ms > REDIS_BACKOFF_MAX_MS) {
        pl->redis_backoff_ms = REDIS_BACKOFF_MAX_MS;
    }
}

/* A batch could not be committed (Redis unavailable, or memory short): pause
 * input and retry with backoff, that batch first. */
void hold_back(struct pipeline *pl)
{
    if (!hold_stores_ok(pl)) {
        metrics_set_redis_up(0);
    }
    hold_set_paused(pl, HOLD_REDIS, 1);
    if (pl->redis_retry_at_ms < mono_ms()) {
        pl->redis_retry_at_ms = mono_ms() + pl->redis_backoff_ms;
    }
}

void hold_input_reset(struct pipeline *pl, const char *topic, int32_t partition,
                      int64_t offset, const char *why)
{
    log_err("%s/%d: %s (position %" PRId64 "): the partition no longer holds offsets "
            "already read from it (the topic was deleted and recreated or truncated, or "
            "retention deleted what the group had not read). Its events from here on "
            "would be taken for ones already applied, so nothing is applied until an "
            "operator decides: restore the topic, or rebuild the state under a new "
            "redis.prefix and group.id (README, \"Guarantees\")",
            topic, (int)partition, why, offset);
    pl->input_reset = 1;
    metrics_set_input_reset(1);
    hold_set_paused(pl, HOLD_INPUT_RESET, 1);
}

/* Redis holds nothing of this prefix while the group has committed offsets:
 * it lost its state (restarted empty, or another Redis).  Applying on would
 * build every customer from the middle of its history, so input stays
 * paused and /ready says 503 until an operator decides (README,
 * "Guarantees"). */
static void refuse_lost_redis(struct pipeline *pl)
{
    if (!pl->redis_lost) {
        log_err("redis holds no state under this prefix, but consumer group %s has "
                "committed offsets: Redis lost its data. Nothing is applied until an "
                "operator decides: restore Redis, or set redis.lost = replay to rebuild "
                "the state from the earliest retained offsets",
                pl->cfg->group_id);
    }
    pl->redis_lost = 1;
    metrics_set_redis_lost(1);
    hold_set_paused(pl, HOLD_REDIS, 1);
}

/* Does Redis hold no state of this prefix at all? */
static int any_fresh(const struct pipeline *pl)
{
    return store_ok(pl->store) && store_fresh(pl->store) == 1;
}

/* A Redis without state of this prefix: fine for a group that has committed
 * nothing; else refused, or rebuilt from the earliest retained offsets.
 * Returns 1 when the partitions are to start from the beginning. */
int hold_judge_fresh_redis(struct pipeline *pl, int history)
{
    char err[256];

    if (!any_fresh(pl)) {
        return 0;
    }
    if (history && !pl->cfg->redis_lost_replay) {
        refuse_lost_redis(pl);
        return 0;
    }
    if (store_mark(pl->store, err, sizeof(err)) < 0) {
        log_warn("%s", err);
    }
    if (!history) {
        return 0;
    }
    log_warn(
        "redis holds no state under this prefix, but the group has committed "
        "offsets: rebuilding from the earliest retained offsets (redis.lost = replay)");
    return 1;
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
     * to compare: the assignment judges Redis (offsets_resume_positions). */
    if (pl->assigned == NULL || pl->assigned->cnt == 0) {
        return;
    }
    if (any_fresh(pl)) {
        int history = 0;

        for (size_t p = 0; p < pl->tasks.n; p++) {
            for (int i = 0; pl->tasks.v[p] && i < SRC__COUNT; i++) {
                history |= pl->tasks.v[p]->progress[i] > 0;
            }
        }
        if (!history) {
            hold_judge_fresh_redis(pl, 0);
        } else if (pl->cfg->redis_lost_replay) {
            log_err("redis came back without any state: ending, to rebuild it from the "
                    "earliest retained offsets on the next start (redis.lost = replay)");
            pl->failed = 1;
        } else {
            refuse_lost_redis(pl);
        }
        return;
    }
    for (size_t p = 0; p < pl->tasks.n; p++) {
        struct ptask *pt = pl->tasks.v[p];

        if (pt == NULL || store_progress_get(pl->store, pt->t.partition, next, &stream,
                                             err, sizeof(err)) < 0) {
            continue;
        }
        for (int i = 0; i < SRC__COUNT; i++) {
            if (next[i] >= pt->progress[i]) {
                continue;
            }
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
