/*
 * kprod.h - the producer set-up and the "KEY<TAB>VALUE" line producing that
 * the test and bench feeders share (tests/tools/kfeed.c, bench/kpace.c).
 * Header-only: each tool is one file.
 */
#ifndef LOYALTY_KPROD_H
#define LOYALTY_KPROD_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An idempotent producer on brokers with linger_ms and the "key=value"
 * properties; exits 1 with prog's name on a librdkafka refusal, returns NULL
 * for a property without '=' (a usage error). */
static inline rd_kafka_t *
kprod_new(const char *prog, const char *brokers, const char *linger_ms, char **props,
          int nprops, void (*dr)(rd_kafka_t *, const rd_kafka_message_t *, void *))
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", linger_ms, err, sizeof(err))) {
        goto fail;
    }
    for (int i = 0; i < nprops; i++) {
        char *eq = strchr(props[i], '=');

        if (eq == NULL) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, props[i], eq + 1, err, sizeof(err))) {
            goto fail;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr);
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) != NULL) {
        return rk;
    }
fail:
    fprintf(stderr, "%s: %s\n", prog, err);
    exit(1);
}

/* Produce one "KEY<TAB>VALUE" line (no tab: no key) to topic, waiting while
 * the local queue is full; exits 1 on any other refusal. */
static inline void kprod_line(const char *prog, rd_kafka_t *rk, const char *topic,
                              const char *line, size_t len)
{
    const char *tab = memchr(line, '\t', len);
    const char *key = tab ? line : NULL;
    size_t keylen = tab ? (size_t)(tab - line) : 0;
    const char *val = tab ? tab + 1 : line;
    size_t vlen = tab ? len - keylen - 1 : len;
    rd_kafka_resp_err_t err;

    while (
        (err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                 RD_KAFKA_V_VALUE((void *)(uintptr_t)val, vlen),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
    }
    if (err) {
        fprintf(stderr, "%s: produce: %s\n", prog, rd_kafka_err2str(err));
        exit(1);
    }
}

#endif
