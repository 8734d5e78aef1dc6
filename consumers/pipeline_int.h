/*
 * pipeline_int.h - the pipeline's insides, for its own files only (the rest
 * of the daemon sees consumers/pipeline.h): struct pipeline and the structs
 * it embeds, and what each file of the pipeline offers the others.
 * consumers/pipeline.c describes the flow and which file does what.
 *
 * Threads: all of it runs on the main thread.  librdkafka serves the
 * rebalance, error and statistics callbacks (rebalance.c, stats.c) from
 * rd_kafka_consumer_poll(), the main queue being forwarded to the
 * consumer's, and the producer's error callback from the producer's polls;
 * its own threads only write to the wake pipe when a queue gets something,
 * and call the log callback, which is kconf.c's and touches only the logger.
 *
 * Ownership: struct pipeline owns what it points to (pipeline_free frees
 * it), but for the configuration, the first store and the model's tunables,
 * which are the daemon's.  Its fields are grouped below by the file that
 * keeps them; the other files read them, and change them through the
 * keeper's functions where the comment does not say otherwise.
 */
#ifndef LOYALTY_PIPELINE_INT_H
#define LOYALTY_PIPELINE_INT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "base/array.h"
#include "consumers/pipeline.h"
#include "consumers/task.h"
#include "state/engine/batch.h"
#include "state/model/model.h"

/* Batches in flight: each lane is a Redis connection of its own, so one
 * task's batch is prepared while Redis commits another's. */
#define LANES 2

/* Which client had a fatal error (pipeline.kafka_fatal, stats.c). */
#define FATAL_CONSUMER 1
#define FATAL_PRODUCER 2

/* The first wait before connecting Redis again (hold.c), doubled per try. */
#define REDIS_BACKOFF_MIN_MS 100
/* An output topic that has taken nothing for this long while messages wait
 * for it makes the pipeline not ready (hold.c). */
#define OUTPUT_STALL_MS 5000
/* The sweeper and the rescoring work at most this long per step (at least
 * one batch). */
#define SWEEP_STEP_MS 5
/* How long one landing waits for Kafka to acknowledge a batch's derived
 * events before the main loop goes on (polling the consumer, serving
 * signals) and comes back. */
#define LAND_WAIT_MS 1000

/* Partition number p of every input topic, and the merged events taken from
 * it but not yet committed (kept for a retry while Redis is away).  Made and
 * freed by rebalance.c; the queues are ingest.c's to fill, the batch and the
 * lane lanes.c's, the progress offsets.c's. */
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
    /* Per input topic, librdkafka's store point (the next offset after
     * every message applied or dead-lettered), -1: none yet; recorded as
     * progress when it passes it (offsets_store). */
    int64_t settled[SRC__COUNT];
};

/* One lane's batch in flight (lanes.c). */
struct flight {
    struct ptask *pt; /* NULL: the lane is idle */
    unsigned pending; /* its derived events not yet acknowledged */
    struct batch *bt;
    struct batch_ctx ctx;
    struct batch_item *items;
    struct batch_stats st;
    char err[512];
};

/* Where the rescoring after a refit is (rescore.c says how it goes). */
enum rs_phase { RS_IDLE = 0, RS_COUNTING, RS_RESCORING };

struct rescore {
    int64_t target; /* the model version being reached; 0: none */
    enum rs_phase phase;
    uint64_t cursor; /* the pass's ZSCAN cursor */
    int last_chunk;  /* the chunk in v is the pass's last */
    struct rs_cust {
        char *id;
        int32_t partition;
    } *v;
    size_t n, next;     /* v[next..n) of the chunk are still to rescore */
    uint64_t behind;    /* counted by the first pass */
    uint64_t processed; /* of those, taken by the second */
    double tokens;      /* the rate limit's bucket */
    int64_t refill_ms;
    int64_t started_ms;
    uint64_t rescored;
};

struct pipeline {
    /* pipeline.c: the clients and what every part uses. */
    const struct pipeline_opts *cfg; /* borrowed: the daemon's configuration */
    struct store *store;             /* borrowed: lane 0, and everything but batches */
    rd_kafka_t *consumer;
    struct producer *producer;
    struct tracker *tracker; /* entries added by ingest.c, collected by offsets.c */
    struct cache *cache;
    int wake[2]; /* a pipe librdkafka writes to when a queue gets something */
    rd_kafka_queue_t *consumer_q;
    struct model_ctx model; /* its tunables swapped on SIGHUP, its fit refreshed */
    int64_t trim_at_ms;
    /* Set by stats.c (from errors and statistics), ingest.c (a message came)
     * and pipeline_probe. */
    int kafka_up;
    /* A fatal condition: partition counts differ (rebalance.c), Redis lost
     * acknowledged writes (hold.c) or a client's fatal error (stats.c). */
    int failed;
    /* Which client had a fatal error: 0, FATAL_CONSUMER or FATAL_PRODUCER. */
    int kafka_fatal;

    /* lanes.c: batches in flight. */
    struct store *lane_store[LANES]; /* [0] is store; the others are owned */
    struct flight fly[LANES];
    int next_lane;
    /* Batch buffers no task holds: a task holds one only while it has a
     * batch (filling, in flight, or waiting for a retry). */
    struct task_msg *spare[LANES + 1];
    int nspare;

    /* rebalance.c: the assignment and its tasks. */
    rd_kafka_topic_partition_list_t *assigned;
    ARRAY(struct ptask *) tasks; /* by partition number; NULL: not ours */

    /* hold.c: Redis's availability, the inputs' positions, the outputs' backlog. */
    unsigned paused; /* every partition, while one of the enum hold_cause holds */
    int redis_lost;  /* Redis lost its state: refusing until an operator decides */
    int input_reset; /* an input partition lost offsets read from it: refusing */
    int64_t redis_retry_at_ms, redis_backoff_ms;
    int outputs_stalled; /* an output topic took nothing for OUTPUT_STALL_MS */

    /* pipeline.c loads the exchange rates (with money.currency set) and
     * reloads them when P {fx}:version moves; ingest.c converts with them. */
    struct fx_table fx;
    int64_t fx_version;
    int fx_loaded;

    /* ingest.c: the log lines of bad input. */
    int64_t key_warn_at_ms; /* the next unkeyed event is logged from then */
    /* Dead-letter log lines: at most DLQ_LOG_BURST per second, the rest
     * counted and said in one line. */
    int64_t dlq_log_second;
    unsigned dlq_logged, dlq_unlogged;

    /* stats.c */
    int64_t lag_at_ms; /* the event-time lag is measured again from then */

    /* sweep.c and rescore.c: batches of idle tasks' customers, on store. */
    unsigned pending; /* derived events of sweeps and rescores not yet acknowledged */
    struct batch_item *items; /* scratch: one sweep or rescore batch */
    int sweeping;             /* a sweeper pass is going: task sweep_next is next */
    size_t sweep_next, sweep_chunks, sweep_swept;
    struct rescore rs;
};

/* rates.c: the exchange rates' table freed. */
void pipeline_free_rates(struct pipeline *pl);

/* pipeline.c: lookups. */

/* The topic's enum topic_role, or -1 when it is none of ours. */
int pipeline_role_of(const struct pipeline *pl, const char *topic);
/* The partition's task, NULL when it is not assigned here. */
struct ptask *pipeline_task_of(const struct pipeline *pl, int32_t partition);

/* ingest.c: consuming. */

/* Take from the task's partition queues what its queues have room for;
 * returns the number of messages taken.  _partitions: every task's. */
size_t ingest_pull_task(struct pipeline *pl, struct ptask *pt);
size_t ingest_pull_partitions(struct pipeline *pl);
/* Rebalances, errors, statistics, and messages the consumer's queue got. */
void ingest_poll_consumer(struct pipeline *pl);
/* A malformed message's turn in the merge: dead-lettered, and freed. */
void ingest_dead_letter_bad(struct pipeline *pl, struct task_msg *tm);
/* tm's message to the DLQ with parse reason `why` (enum parse_reason) and
 * detail, counted and logged (a few lines a second at most); tm is left to
 * the caller. */
void ingest_dead_letter(struct pipeline *pl, const struct task_msg *tm, int why,
                        const char *detail);
/* Say how many dead-letter lines were left out, once their second is over. */
void ingest_dlq_log_roll(struct pipeline *pl);
/* Frees a queued message given up unapplied (a task_fini drop function). */
void ingest_drop_queued(void *arg, void *msg, void *entry);

/* lanes.c: batches in flight. */

/* Batches of every task, in turns, until nothing is ready.  Returns the
 * shortest wait any task is in (0: none), for the next poll. */
int64_t lanes_run_tasks(struct pipeline *pl);
/* Commit the task's batch now: 0, or -1 when it must be retried later. */
int lanes_run_batch(struct pipeline *pl, struct ptask *pt);
/* Land the lane's batch (waiting at most wait_ms for Kafka): 0 (also for an
 * idle lane), 1 while it still waits, -1 when it must be retried later. */
int lanes_land(struct pipeline *pl, int lane, int wait_ms);
/* Give the lane's batch up uncommitted. */
void lanes_abandon(struct pipeline *pl, int lane);
/* A batch of the task on `store`, its derived events counted in *pending. */
/* Note customer id as set aside (its stored state cannot be read: why) in
 * Redis for loyaltyctl quarantine; logged and counted the first time.  1 when
 * new, 0 when known, -1 when Redis did not take it. */
int lanes_quarantine_note(struct pipeline *pl, const char *id, const char *why);
struct batch_ctx lanes_batch_ctx_of(struct pipeline *pl, const struct ptask *pt,
                                    struct store *store, unsigned *pending);

/* rebalance.c: tasks and assignments. */

void rebalance_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Drop the task of partition p with what it has not applied. */
void rebalance_task_remove(struct pipeline *pl, int32_t p);

/* offsets.c: offsets and progress. */

/* Hand librdkafka the offsets that became storable. */
void offsets_store(struct pipeline *pl);
/* Serve delivery reports until nothing produced is outstanding (at most
 * timeout_ms), then store the offsets. */
void offsets_settle(struct pipeline *pl, int timeout_ms);
/* After a committed batch: the task's progress in Redis. */
void offsets_record_progress(struct ptask *pt, struct store *store);
/* Where each of the assigned partitions resumes (sets their offsets). */
void offsets_resume_positions(struct pipeline *pl,
                              rd_kafka_topic_partition_list_t *parts);

/* hold.c: Redis away, outputs behind. */

/* Why input is paused (the bits of pl->paused): fetching resumes only once
 * none holds.  An input reset is never cleared (the process is restarted). */
enum hold_cause { HOLD_REDIS = 1u, HOLD_OUTPUT = 2u, HOLD_INPUT_RESET = 4u };

/* Every lane's connection is up. */
int hold_stores_ok(const struct pipeline *pl);
/* Batches may run: Redis is there and holds the state it should. */
int hold_can_apply(const struct pipeline *pl);
/* A batch could not be committed: pause input, retry Redis with backoff. */
void hold_back(struct pipeline *pl);
/* One cause of pausing every assigned partition set (1) or cleared (0):
 * fetching stops with the first cause and resumes with the last one gone. */
void hold_set_paused(struct pipeline *pl, enum hold_cause cause, int on);
/* The producer's backlog over output.max_pending_bytes pauses input until
 * it is down to half; an output topic that takes nothing is said once. */
void hold_check_outputs(struct pipeline *pl);
/* No output topic has taken nothing for OUTPUT_STALL_MS while messages
 * wait for it. */
int hold_outputs_ok(const struct pipeline *pl);
/* Connect the lanes' stores that are down, when their backoff allows; once
 * all are up, check what Redis kept. */
void hold_redis_retry(struct pipeline *pl);
/* Judge a Redis without state of this prefix (history: something was
 * applied before).  1 when the partitions are to start from the beginning. */
int hold_judge_fresh_redis(struct pipeline *pl, int history);
/* An input partition's log no longer holds the position read up to: input
 * paused and not ready until the process is restarted by an operator. */
void hold_input_reset(struct pipeline *pl, const char *topic, int32_t partition,
                      int64_t offset, const char *why);

/* stats.c: metrics and librdkafka's callbacks. */

/* A fatal error of either client: said once, the pipeline failed (1). */
int stats_kafka_fatal(struct pipeline *pl);
void stats_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);
int stats_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque);
/* The producer's hooks (producer_set_hooks; arg is the pipeline): readiness
 * judged again while a wait for acknowledgements holds the main loop, and
 * Kafka down when the producer finds every broker unreachable (the consumer,
 * not polled while the producer waits, cannot say it then). */
void stats_while_waiting(void *arg);
void stats_brokers_down(void *arg);
/* Each task's event-time lag and overdue timers, once a second at most. */
void stats_account_lag(struct pipeline *pl);
/* A landed, swept or rescored batch's counters. */
void stats_account_batch(struct pipeline *pl, int32_t task, const struct batch_stats *st);

/* sweep.c: the sweeper. */

/* The time up to which the task's due timers may fire, 0: none yet. */
int64_t sweep_timer_clock(const struct pipeline *pl, const struct ptask *pt);
/* Some of the sweeper's pass, within the step's time. */
void sweep_some(struct pipeline *pl);

/* rescore.c: rescoring after a refit. */

/* From the start (again): the model's version, this instance's tasks. */
void rescore_start(struct pipeline *pl);
/* Some of the rescoring, within the step's time. */
void rescore_some(struct pipeline *pl);
void rescore_fini(struct rescore *rs);

#endif
