/*
 * kconf.c - the librdkafka configuration of loyaltyd's two clients: our
 * defaults, then `kafka.*`, then `kafka.consumer.*` or `kafka.producer.*`.
 */
#include "consumers/kconf.h"

#include <stdio.h>

#include "base/log.h"

/* librdkafka's log, through ours (any thread). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    log_msg(level < LOG_LVL_ERR ? LOG_LVL_ERR : level, "kafka: %s: %s", fac, buf);
}

static int conf_apply(rd_kafka_conf_t *conf, const struct kafka_props *props, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < props->n; i++) {
        if (rd_kafka_conf_set(conf, props->v[i].name, props->v[i].value, err, errlen) !=
            RD_KAFKA_CONF_OK) {
            return -1;
        }
    }
    return 0;
}

int kconf_check_property(const char *name, const char *value, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, name, value, err, errlen);

    rd_kafka_conf_destroy(conf);
    return res == RD_KAFKA_CONF_OK ? 0 : -1;
}

static rd_kafka_conf_t *conf_base(const struct pipeline_opts *cfg,
                                  const struct kafka_props *own,
                                  const char *const *defaults, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    for (size_t i = 0; defaults[i] != NULL; i += 2) {
        if (rd_kafka_conf_set(conf, defaults[i], defaults[i + 1], err, errlen)) {
            goto fail;
        }
    }
    if (conf_apply(conf, &cfg->kafka_common, err, errlen) < 0 ||
        conf_apply(conf, own, err, errlen) < 0) {
        goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static const char *const consumer_defaults[] = {
    "enable.auto.offset.store", "false", /* stored only when durable */
    "enable.auto.commit", "true",        /* commits what was stored */
    /* Every assigned partition's position is set (offsets.c): an offset out
     * of range later means the log lost what was read (a topic recreated or
     * truncated, or retention passing the group), for an operator to judge,
     * not to skip over. */
    "auto.offset.reset", "error", "partition.assignment.strategy",
    "range", /* eager; cooperative is buggy in 2.0 */
    "enable.partition.eof",
    "true", /* the merge must know when a partition has nothing more */
    /* Prefetch per partition queue.  librdkafka 2.0's fetcher, once every
     * partition it leads is over either bound, sleeps until its next wakeup
     * (up to a second) however soon the queues drain: the prefetch has to
     * cover that much consumption, or a backlog is read in bursts. */
    "queued.max.messages.kbytes", "512", "queued.min.messages", "2000",
    "max.partition.fetch.bytes", "262144", "fetch.max.bytes", "8388608",
    "statistics.interval.ms", "5000", NULL};

/* message.timeout.ms = 0: a derived event is never given up (a failed one is
 * produced again anyway).  With a timeout, librdkafka 2.0's idempotent
 * producer bumps its epoch when in-flight messages time out, and then a
 * message can be acknowledged yet missing from the topic (seen on the mock
 * cluster; tests/fault/fault_kafka.c runs these settings).  linger.ms = 1: a batch
 * commits only once its derived events are acknowledged, so the linger is part of every
 * live event's latency; a backlog batch produces its events together anyway (README,
 * "Configuration"). */
static const char *const producer_defaults[] = {
    "enable.idempotence", "true", "acks", "all", "linger.ms", "1",
    "message.timeout.ms", "0",    NULL};

rd_kafka_conf_t *kconf_consumer(const struct pipeline_opts *cfg, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf =
        conf_base(cfg, &cfg->kafka_consumer, consumer_defaults, err, errlen);

    if (conf && (rd_kafka_conf_set(conf, "group.id", cfg->group_id, err, errlen) ||
                 (cfg->group_instance_id[0] &&
                  rd_kafka_conf_set(conf, "group.instance.id", cfg->group_instance_id,
                                    err, errlen)))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Read-only: no offset is ever committed or stored, whatever kafka.consumer.*
 * says, and the group is the caller's own (a fresh name). */
static const char *const reader_forced[] = {"enable.auto.commit",
                                            "false",
                                            "enable.auto.offset.store",
                                            "false",
                                            "enable.partition.eof",
                                            "true",
                                            "auto.offset.reset",
                                            "earliest",
                                            NULL};

rd_kafka_conf_t *kconf_reader(const struct pipeline_opts *cfg, const char *group_id,
                              char *err, size_t errlen)
{
    static const char *const none[] = {NULL};
    rd_kafka_conf_t *conf = conf_base(cfg, &cfg->kafka_consumer, none, err, errlen);

    if (conf == NULL) {
        return NULL;
    }
    for (size_t i = 0; reader_forced[i] != NULL; i += 2) {
        if (rd_kafka_conf_set(conf, reader_forced[i], reader_forced[i + 1], err,
                              errlen)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (rd_kafka_conf_set(conf, "group.id", group_id, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

rd_kafka_conf_t *kconf_producer(const struct pipeline_opts *cfg, char *err, size_t errlen)
{
    return conf_base(cfg, &cfg->kafka_producer, producer_defaults, err, errlen);
}
