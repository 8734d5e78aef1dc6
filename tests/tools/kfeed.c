/*
 * kfeed - produce lines of stdin to a Kafka topic, for tests and the demo.
 *
 *   kfeed -b BROKERS (-t TOPIC | -T) [-s [-g USEC]] [-X key=value ...] < lines
 *
 * Each line is "KEY<TAB>VALUE" (a line without a tab has no key); with -T it
 * is "TOPIC<TAB>KEY<TAB>VALUE".  The idempotent producer keeps order per key;
 * -s waits for each message's delivery before the next, so the broker holds
 * the lines in input order across topics too; -g then waits USEC more after
 * each delivery, so that no two lines are appended closer together than that
 * however the lines arrive.  Exits non-zero if any message was not delivered.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/kprod.h"

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
            "usage: kfeed -b BROKERS (-t TOPIC | -T) [-s [-g USEC]] [-X key=value ...] "
            "< lines\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL;
    char *props[32], *line = NULL;
    int nprops = 0, c, sync = 0, topic_per_line = 0;
    long gap_us = 0;
    char *end;
    size_t cap = 0, count = 0;
    ssize_t len;
    rd_kafka_t *rk;

    while ((c = getopt(argc, argv, "b:t:Tsg:X:")) != -1) {
        if (c == 'b') {
            brokers = optarg;
        } else if (c == 't') {
            topic = optarg;
        } else if (c == 'T') {
            topic_per_line = 1;
        } else if (c == 's') {
            sync = 1;
        } else if (c == 'g') {
            gap_us = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || gap_us < 0 || gap_us > 10000000) {
                usage();
            }
        } else if (c == 'X' && nprops < 32) {
            props[nprops++] = optarg;
        } else {
            usage();
        }
    }
    if (!brokers || !topic == !topic_per_line || optind != argc || (gap_us && !sync)) {
        usage();
    }
    if ((rk = kprod_new("kfeed", brokers, "20", props, nprops, on_delivery)) == NULL) {
        usage();
    }
    while ((len = getline(&line, &cap, stdin)) > 0) {
        char *rest = line, *tab;

        if (line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        if (topic_per_line) {
            if ((tab = strchr(line, '\t')) == NULL) {
                fprintf(stderr, "kfeed: line %zu: no topic\n", count + 1);
                return 1;
            }
            *tab = '\0';
            topic = line;
            rest = tab + 1;
        }
        kprod_line("kfeed", rk, topic, rest, (size_t)(len - (rest - line)));
        rd_kafka_poll(rk, 0);
        if (sync && rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            failed++;
        }
        if (gap_us > 0) {
            struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};

            while (nanosleep(&gap, &gap) < 0) {
                ;
            }
        }
        count++;
    }
    free(line);
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failed++;
    }
    rd_kafka_destroy(rk);
    fprintf(stderr, "kfeed: %zu messages to %s, %d failed\n", count,
            topic_per_line ? "their topics" : topic, failed);
    return failed ? 1 : 0;
}
