/*
 * options.h - what the Kafka side is configured with: filled from the
 * daemon's configuration table (daemon/config.c embeds it), read by the
 * pipeline, the producer and the librdkafka configuration.  Strings are owned
 * by the configuration.
 */
#ifndef LOYALTY_OPTIONS_H
#define LOYALTY_OPTIONS_H

#include <stddef.h>

#include "base/array.h"
#include "base/outkind.h"
#include "consumers/convert.h"
#include "consumers/parse.h"
#include "state/model/model.h"

/* The topics loyaltyd reads and writes, as indices of topic[]: the input
 * ones in the order of enum ev_source, then one output topic per kind of
 * derived event (topic_of), then the DLQ. */
enum topic_role {
    TOPIC_ORDERS = SRC_ORDERS,
    TOPIC_REVIEWS = SRC_REVIEWS,
    TOPIC_MESSAGES = SRC_MESSAGES,
    TOPIC_OUT,
    TOPIC_DLQ = TOPIC_OUT + OUT__COUNT,
    TOPIC__COUNT
};

/* The output topic of a kind of derived event. */
static inline enum topic_role topic_of(enum out_kind k)
{
    return (enum topic_role)(TOPIC_OUT + (int)k);
}

enum clock_mode { CLOCK_WALL = 0, CLOCK_STREAM };

struct kafka_prop {
    char *name;
    char *value;
};

/* In the order the configuration set them (base/array.h): v, n. */
struct kafka_props {
    ARRAY(struct kafka_prop);
};

struct pipeline_opts {
    char *topic[TOPIC__COUNT]; /* indexed by enum topic_role */
    char *group_id;
    char *group_instance_id; /* "": a dynamic member */
    enum clock_mode clock;
    struct parse_limits limits;
    struct convert_opts money;
    int dlq_max_payload_bytes;
    int sweep_batch;
    int rescore_per_s; /* customers rescored per second after a refit; 0: none */
    int bad_key_apply; /* input.bad_key = apply: count a bad key, apply the event */
    int merge_max_idle_ms;
    int merge_grace_ms;
    int merge_queue_max;
    int batch_max_events;
    int dedup_window;      /* recent event ids kept per customer */
    int redis_lost_replay; /* redis.lost = replay: rebuild from the earliest offsets */
    int wait_replicas;     /* redis.wait_replicas: a batch is done once WAIT says
                            * its writes are on that many replicas */
    size_t cache_max_bytes;
    size_t output_max_pending_bytes; /* input paused above it (hold.c) */
    struct kafka_props kafka_common, kafka_consumer, kafka_producer;
};

#endif
