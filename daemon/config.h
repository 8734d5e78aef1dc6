/*
 * config.h - the daemon's configuration: one table of keys with types,
 * defaults, bounds and help (config.c, on base/cfgtab.h), read from a
 * `key = value` file.
 * A bad line stops the start with FILE:LINE and the reason: an unknown key, a
 * value out of bounds, a key set twice, an empty topic, group or prefix, a
 * '#' comment after an unquoted value.  A value may be quoted ("..." with \"
 * and \\, or '...' literally) to hold a '#' or outer spaces.
 *
 * `kafka.KEY` lines go to librdkafka for both the consumer and the producer,
 * `kafka.consumer.KEY` / `kafka.producer.KEY` to one of them; `model.KEY`
 * lines to the model's own table (state/model/model.h).
 */
#ifndef LOYALTY_CONFIG_H
#define LOYALTY_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "consumers/options.h"

struct model_config;
struct store_opts;

struct config {
    struct pipeline_opts pipe; /* the Kafka side's keys */

    char *redis_cluster; /* seed nodes, or "" for the one Redis at host:port */
    char *redis_host;
    int redis_port;
    char *redis_user; /* "" for the default user */
    char *redis_password_file;
    char *redis_password; /* read from redis_password_file; never logged */
    int redis_db;
    char *redis_prefix;
    unsigned redis_indices; /* STORE_IDX_* bits */
    int redis_timeout_ms;

    char *http_listen; /* "host:port"; "" disables the endpoint */
    int log_level;
    int log_format; /* enum log_format */

    int sweep_interval_ms;
    int model_refresh_ms;

    /* loyaltyctl fit --save's refit gate (docs/validate.md); the daemon
     * itself does not read them. */
    int fit_gate; /* 0 off, 1 validate */
    int fit_gate_holdout_days;
    double fit_gate_max_error;
    double fit_gate_margin;

    int reward_currency; /* 0 reporting, 1 order (model_config_reward_currency) */
    struct model_config *model;
};

/* Defaults for every key.  Returns 0, -1 on allocation failure. */
int config_init(struct config *cfg);
void config_fini(struct config *cfg);

/* Read `path` over the defaults.  Returns 0, or -1 with "path:line: reason"
 * (or "path: strerror") in err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* The same from an open stream, named `path` in the errors (the caller keeps
 * and closes f). */
int config_read(struct config *cfg, FILE *f, const char *path, char *err, size_t errlen);

/* The store's options from cfg (pointers into cfg, which must outlive them). */
void config_store_opts(const struct config *cfg, struct store_opts *out);

/* Set one key from text, as a config line would. */
int config_set(struct config *cfg, const char *key, const char *value, char *err,
               size_t errlen);

/* What differs between the running configuration and a re-read one, other
 * than what a reload applies in place (the log level and model.*): the
 * number of such keys, named in out ("redis.prefix, kafka.*"). */
size_t config_restart_changes(const struct config *running, const struct config *fresh,
                              char *out, size_t outlen);

/* Print every key with its default and help (`loyaltyd --help-config`). */
void config_describe(FILE *out);

#endif
