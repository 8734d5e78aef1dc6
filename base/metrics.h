/*
 * metrics.h - the daemon's counters and gauges, rendered in the Prometheus
 * text format for /metrics.  Written by the main thread (and librdkafka's
 * statistics callback for lag), read by the HTTP thread: counters are
 * relaxed atomics, the lag table is under a mutex.
 */
#ifndef LOYALTY_METRICS_H
#define LOYALTY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/outkind.h"

/* Dead-letter reasons are the caller's (the parser's): an index below
 * METRICS_REASONS_MAX, named once by metrics_reasons(). */
#define METRICS_REASONS_MAX 32

enum metric_topic { MT_ORDERS = 0, MT_REVIEWS, MT_MESSAGES, MT__COUNT };

/* Plain counters, one name each (metrics.c has the table). */
enum metric_counter {
    MC_MERGE_IDLE_TIMEOUTS = 0,
    MC_LATE_EVENTS,
    MC_MISROUTED,
    MC_BATCHES,
    MC_CACHE_HITS,
    MC_CACHE_MISSES,
    MC_COMMITS,
    MC_COMMIT_CONFLICTS,
    MC_UNKEYED,
    MC_KEY_MISMATCH,
    MC_RESCORED,
    MC_RESUMED_FROM_REDIS,
    MC_REVOKED_UNAPPLIED,
    MC_REDIS_MOVED,
    MC_REDIS_ASK,
    MC_REDIS_TRYAGAIN,
    MC_STATE_REWOUND,
    MC_FX_STALE_RATE,
    MC__COUNT
};

#define METRICS_LAT_BUCKETS 15

void metrics_init(void);
void metrics_fini(void);
/* The input topics' names, for the `topic` label of loyaltyd_consumed_total. */
void metrics_set_topics(const char *orders, const char *reviews, const char *messages);

void metrics_consumed(enum metric_topic t);
void metrics_applied(void);
/* How a skipped duplicate was recognised: 0 offset, 1 event_id, 2 order_id
 * (enum batch_dup). */
#define METRICS_DUP__COUNT 3
void metrics_duplicate(int why);
/* Name the dead-letter reasons 1..n-1 (0 is "no reason"); names must stay
 * valid.  Every named reason is rendered, 0 until counted. */
void metrics_reasons(const char *const *names, int n);
void metrics_dead_lettered(int reason);
void metrics_model_rejected(void);
/* An event dead-lettered as its customer is set aside; a customer newly set
 * aside. */
void metrics_quarantined(void);
void metrics_customer_quarantined(void);
void metrics_emitted(enum out_kind k);
void metrics_delivery_failed(void);
void metrics_republish_skipped(void);
/* One Redis round trip. */
void metrics_redis_latency(int64_t us);
/* Name the reasons of Redis errors 0..n-1 (names must stay valid); every
 * named reason is rendered, 0 until counted. */
void metrics_redis_error_reasons(const char *const *names, int n);
void metrics_redis_error(int reason);
void metrics_add(enum metric_counter c, uint64_t n);
/* From an input message's Kafka timestamp to its state change committed. */
void metrics_apply_latency(int64_t us);
void metrics_set_cache(size_t entries, size_t bytes);
void metrics_set_derived_in_flight(size_t n);
void metrics_set_sweep_interval(int64_t ms);
/* The model version in use, this instance's customers still behind it (as
 * counted so far), and whether they are still being counted. */
void metrics_set_rescore(int64_t version, size_t pending, int counting);
void metrics_rebalance(void);
void metrics_sweep_run(size_t customers);
/* A SIGHUP reload: applied (1) or refused (0). */
void metrics_reload(int applied);
void metrics_set_redis_up(int up);
/* 1 while Redis is refused for having lost its state. */
void metrics_set_redis_lost(int lost);
void metrics_set_input_reset(int reset);
void metrics_set_kafka_up(int up);
void metrics_set_ready(int ready);
void metrics_set_paused(int paused);
int metrics_ready(void);

/* Consumer lag of one partition (from librdkafka statistics). */
void metrics_set_lag(const char *topic, int32_t partition, int64_t lag);
/* The last lag reported for a partition, -1 if none. */
int64_t metrics_lag(const char *topic, int32_t partition);
/* Event-time lag of task `partition` in seconds; a negative value removes it. */
void metrics_set_task_lag(int32_t partition, double seconds);
void metrics_clear_lag(void);
/* n due times of task `partition` evaluated. */
void metrics_timers_fired(int32_t partition, uint64_t n);
/* Task `partition`'s due timers not yet fired at or before its timer clock:
 * how many, and how far behind the clock the oldest is (seconds). */
void metrics_set_timers_overdue(int32_t partition, int64_t count, double oldest_s);

/* Totals for the systemd STATUS= line. */
uint64_t metrics_applied_total(void);
uint64_t metrics_dead_lettered_total(void);
uint64_t metrics_emitted_total(void);
uint64_t metrics_delivery_failures_total(void);
/* Derived events of one type delivered so far. */
uint64_t metrics_emitted_count(enum out_kind k);

/* Prometheus text; malloc'd, NULL on ENOMEM. */
char *metrics_render(void);

#endif
