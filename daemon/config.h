/*
 * config.h - the daemon's configuration: one table of keys with types,
 * defaults, bounds and help (config.c), read from a `key = value` file.
 * A bad line stops the start with FILE:LINE and the reason.
 *
 * `kafka.KEY` lines go to librdkafka for both the consumer and the producer,
 * `kafka.consumer.KEY` / `kafka.producer.KEY` to one of them; `model.KEY`
 * lines to the model's own table (state/model.h).
 */
#ifndef LOYALTY_CONFIG_H
#define LOYALTY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "consumers/parse.h"

struct model_config;

/* The topics loyaltyd reads and writes, as indices of config.topic[]; the
 * input ones in the order of enum ev_source. */
enum topic_role {
    TOPIC_ORDERS = SRC_ORDERS,
    TOPIC_REVIEWS = SRC_REVIEWS,
    TOPIC_MESSAGES = SRC_MESSAGES,
    TOPIC_CHURN,
    TOPIC_REWARDS,
    TOPIC_DLQ,
    TOPIC__COUNT
};

enum clock_mode { CLOCK_WALL = 0, CLOCK_STREAM };

struct kafka_prop {
    char *name;
    char *value;
};

struct kafka_props {
    struct kafka_prop *v;
    size_t n, cap;
};

struct config {
    char *topic[TOPIC__COUNT]; /* indexed by enum topic_role */
    char *group_id;

    char *redis_host;
    int redis_port;
    char *redis_password_file;
    char *redis_password; /* read from redis_password_file; never logged */
    int redis_db;
    char *redis_prefix;
    int redis_timeout_ms;

    char *http_listen; /* "host:port"; "" disables the endpoint */
    enum clock_mode clock;
    int log_level;

    struct parse_limits limits;
    int dlq_max_payload_bytes;

    int sweep_interval_ms;
    int sweep_batch;
    int model_refresh_ms;
    int merge_max_idle_ms;
    int merge_queue_max;
    int batch_max_events;
    size_t cache_max_bytes;

    struct kafka_props kafka_common, kafka_consumer, kafka_producer;
    struct model_config *model;
};

/* Defaults for every key.  Returns 0, -1 on allocation failure. */
int config_init(struct config *cfg);
void config_fini(struct config *cfg);

/* Read `path` over the defaults.  Returns 0, or -1 with "path:line: reason"
 * (or "path: strerror") in err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Set one key from text, as a config line would. */
int config_set(struct config *cfg, const char *key, const char *value, char *err,
               size_t errlen);

/* Print every key with its default and help (`loyaltyd --help-config`). */
void config_describe(FILE *out);

#endif
