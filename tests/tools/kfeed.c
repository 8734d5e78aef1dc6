/*
 * kfeed - produce lines of stdin to a Kafka topic, for tests and the demo.
 *
 *   kfeed -b BROKERS (-t TOPIC | -T) [-s] [-X key=value ...] < lines
 *
 * Each line is "KEY<TAB>VALUE" (a line without a tab has no key); with -T it
 * is "TOPIC<TAB>KEY<TAB>VALUE".  The idempotent producer keeps order per key;
 * -s waits for each message's delivery before the next, so the broker holds
 * the lines in input order across topics too.  Exits non-zero if any message
 * was not delivered.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err) {
        fprintf(stderr, "kfeed: delivery failed: %s\n", rd_kafka_err2str(m->err));
        failed++;
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: kfeed -b BROKERS (-t TOPIC | -T) [-s] [-X key=value ...] < lines\n");
    exit(2);
}

static rd_kafka_t *make_producer(const char *brokers, char **props, int nprops)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err)))
        goto fail;
    for (int i = 0; i < nprops; i++) {
        char *eq = strchr(props[i], '=');

        if (eq == NULL)
            usage();
        *eq = '\0';
        if (rd_kafka_conf_set(conf, props[i], eq + 1, err, sizeof(err)))
            goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) != NULL)
        return rk;
fail:
    fprintf(stderr, "kfeed: %s\n", err);
    exit(1);
}

static void produce_line(rd_kafka_t *rk, const char *topic, char *line, size_t len)
{
    char *tab = memchr(line, '\t', len);
    const char *key = tab ? line : NULL;
    size_t keylen = tab ? (size_t)(tab - line) : 0;
    char *val = tab ? tab + 1 : line;
    size_t vlen = tab ? len - keylen - 1 : len;
    rd_kafka_resp_err_t err;

    while ((err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                RD_KAFKA_V_VALUE(val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 100);
    if (err) {
        fprintf(stderr, "kfeed: produce: %s\n", rd_kafka_err2str(err));
        exit(1);
    }
    rd_kafka_poll(rk, 0);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL;
    char *props[32], *line = NULL;
    int nprops = 0, c, sync = 0, topic_per_line = 0;
    size_t cap = 0, count = 0;
    ssize_t len;
    rd_kafka_t *rk;

    while ((c = getopt(argc, argv, "b:t:TsX:")) != -1) {
        if (c == 'b')
            brokers = optarg;
        else if (c == 't')
            topic = optarg;
        else if (c == 'T')
            topic_per_line = 1;
        else if (c == 's')
            sync = 1;
        else if (c == 'X' && nprops < 32)
            props[nprops++] = optarg;
        else
            usage();
    }
    if (!brokers || !topic == !topic_per_line || optind != argc)
        usage();
    rk = make_producer(brokers, props, nprops);
    while ((len = getline(&line, &cap, stdin)) > 0) {
        char *rest = line, *tab;

        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (topic_per_line) {
            if ((tab = strchr(line, '\t')) == NULL) {
                fprintf(stderr, "kfeed: line %zu: no topic\n", count + 1);
                return 1;
            }
            *tab = '\0';
            topic = line;
            rest = tab + 1;
        }
        produce_line(rk, topic, rest, (size_t)(len - (rest - line)));
        if (sync && rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            failed++;
        count++;
    }
    free(line);
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        failed++;
    rd_kafka_destroy(rk);
    fprintf(stderr, "kfeed: %zu messages to %s, %d failed\n", count,
            topic_per_line ? "their topics" : topic, failed);
    return failed ? 1 : 0;
}
