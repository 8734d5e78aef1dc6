/*
 * kpace - produce topic files to Kafka at a fixed rate, merged by event time,
 * for the latency benchmark (bench/run.sh).
 *
 *   kpace -b BROKERS -r RATE -d SECONDS [-X key=value ...] TOPIC=FILE ...
 *
 * Each FILE holds "KEY<TAB>JSON" lines sorted by the JSON's "ts" string (as
 * bench/workload.py writes them).  kpace merges the files by "ts" and produces
 * RATE messages per second in all, for SECONDS seconds or until the input
 * ends, keyed like tests/tools/kfeed (librdkafka's default partitioner, so
 * equal partition counts keep the topics co-partitioned).  Every message gets
 * the moment it is handed to librdkafka as its CreateTime.  Prints one line:
 *
 *   kpace: sent N in S s (R/s of RATE/s), failed F, max behind schedule B ms
 *
 * and exits non-zero if a message was not delivered.
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/kprod.h"

#define MAX_SOURCES 8
#define TS_MAX      40

struct source {
    const char *topic;
    FILE *f;
    char *line;
    size_t cap;
    size_t len;
    char ts[TS_MAX]; /* of the current line; the previous line's if it has none */
    size_t ts_len;
    int live; /* a current line is held */
};

static int failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err) {
        if (failed < 5) {
            fprintf(stderr, "kpace: delivery failed: %s\n", rd_kafka_err2str(m->err));
        }
        failed++;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: kpace -b BROKERS -r RATE -d SECONDS [-X key=value ...] "
                    "TOPIC=FILE ...\n");
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads the next line of src; keeps the last "ts" when the line has none. */
static void advance(struct source *src)
{
    static const char tag[] = "\"ts\":\"";
    ssize_t n = getline(&src->line, &src->cap, src->f);
    const char *p, *q;

    if (n <= 0) {
        src->live = 0;
        return;
    }
    if (src->line[n - 1] == '\n') {
        src->line[--n] = '\0';
    }
    src->len = (size_t)n;
    src->live = 1;
    p = memmem(src->line, src->len, tag, sizeof(tag) - 1);
    if (p == NULL) {
        return;
    }
    p += sizeof(tag) - 1;
    q = memchr(p, '"', src->len - (size_t)(p - src->line));
    if (q == NULL || q - p >= TS_MAX) {
        return;
    }
    src->ts_len = (size_t)(q - p);
    memcpy(src->ts, p, src->ts_len);
}

/* The source whose current line has the earliest "ts" (ties: the first). */
static struct source *earliest(struct source *srcs, int n)
{
    struct source *best = NULL;

    for (int i = 0; i < n; i++) {
        struct source *s = &srcs[i];
        size_t l;
        int c;

        if (!s->live) {
            continue;
        }
        if (best == NULL) {
            best = s;
            continue;
        }
        l = s->ts_len < best->ts_len ? s->ts_len : best->ts_len;
        c = memcmp(s->ts, best->ts, l);
        if (c < 0 || (c == 0 && s->ts_len < best->ts_len)) {
            best = s;
        }
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *brokers = NULL;
    double rate = 0, duration = 0, t0, t, behind = 0;
    char *props[32];
    struct source srcs[MAX_SOURCES];
    int nprops = 0, nsrc = 0, c;
    uint64_t sent = 0;
    rd_kafka_t *rk;

    while ((c = getopt(argc, argv, "b:r:d:X:")) != -1) {
        if (c == 'b') {
            brokers = optarg;
        } else if (c == 'r') {
            rate = atof(optarg);
        } else if (c == 'd') {
            duration = atof(optarg);
        } else if (c == 'X' && nprops < 32) {
            props[nprops++] = optarg;
        } else {
            usage();
        }
    }
    if (!brokers || rate <= 0 || duration <= 0 || optind == argc ||
        argc - optind > MAX_SOURCES) {
        usage();
    }
    memset(srcs, 0, sizeof(srcs));
    for (int i = optind; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        struct source *s = &srcs[nsrc++];

        if (eq == NULL || eq == argv[i]) {
            usage();
        }
        *eq = '\0';
        s->topic = argv[i];
        if ((s->f = fopen(eq + 1, "r")) == NULL) {
            fprintf(stderr, "kpace: %s: %s\n", eq + 1, strerror(errno));
            return 1;
        }
        advance(s);
    }
    if ((rk = kprod_new("kpace", brokers, "5", props, nprops, on_delivery)) == NULL) {
        usage();
    }
    t0 = now_s();
    for (;;) {
        struct source *s = NULL;
        uint64_t due;

        t = now_s() - t0;
        if (t >= duration) {
            break;
        }
        due = (uint64_t)(rate * t) + 1;
        if (due > sent + 1 && (double)(due - sent) / rate > behind) {
            behind = (double)(due - sent) / rate;
        }
        while (sent < due && (s = earliest(srcs, nsrc)) != NULL) {
            kprod_line("kpace", rk, s->topic, s->line, s->len);
            advance(s);
            sent++;
        }
        rd_kafka_poll(rk, 0);
        if (sent < due) { /* input exhausted */
            break;
        }
        /* 1 ms steps: RATE / 1000 messages at a time */
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    t = now_s() - t0;
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failed++;
    }
    rd_kafka_destroy(rk);
    for (int i = 0; i < nsrc; i++) {
        free(srcs[i].line);
        fclose(srcs[i].f);
    }
    printf(
        "kpace: sent %llu in %.2f s (%.0f/s of %.0f/s), failed %d, max behind schedule "
        "%.1f ms\n",
        (unsigned long long)sent, t, (double)sent / t, rate, failed, behind * 1000);
    return failed ? 1 : 0;
}
