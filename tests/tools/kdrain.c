/*
 * kdrain - read a whole topic from the beginning and print it as JSON lines,
 * for tests and the demo.
 *
 *   kdrain -b BROKERS -t TOPIC [-i IDLE_MS] [-w MAX_WAIT_MS]
 *
 * One line per message: {"partition":P,"offset":O,"key":"..","value":"..",
 * "headers":{"name":"value",...}} (value as a JSON string of the bytes; a
 * byte that is not part of valid UTF-8 becomes U+FFFD, so every line is
 * valid JSON).  Stops once every partition reached its end and no
 * message came for IDLE_MS (default 2000), or after MAX_WAIT_MS.
 */
#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rd_kafka_t *make_consumer(const char *brokers, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[64];

    snprintf(group, sizeof(group), "kdrain-%d-%lld", (int)getpid(), now_ms());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, errlen) ||
        rd_kafka_conf_set(conf, "group.id", group, err, errlen) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, errlen) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
}

/* Assign every partition of the topic from the beginning; returns the count. */
static int assign_all(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    int n = -1;

    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0) {
            n = md->topics[0].partition_cnt;
            for (int i = 0; i < n; i++) {
                rd_kafka_topic_partition_list_add(l, topic, i)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
            }
            rd_kafka_assign(rk, l);
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80                   ? 1
                 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
                 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
                 : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                               : 0;

    if (len == 0 || len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((len == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||
        (len == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (len == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
        (len == 4 && s[0] == 0xf4 && s[1] >= 0x90)) {
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    }
    return len;
}

/* A NUL-terminated copy with invalid bytes replaced by U+FFFD. */
static char *utf8_clean(const void *data, size_t n)
{
    const unsigned char *s = data ? data : (const unsigned char *)"";
    char *out = malloc(n * 3 + 1), *o = out;

    if (out == NULL) {
        exit(1);
    }
    for (size_t i = 0; i < n;) {
        size_t len = s[i] ? utf8_seq(s + i, n - i) : 0;

        if (len == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        }
    }
    *o = '\0';
    return out;
}

static void print_message(const rd_kafka_message_t *m)
{
    cJSON *o = cJSON_CreateObject(), *h = cJSON_CreateObject();
    rd_kafka_headers_t *hdrs = NULL;
    char *key = utf8_clean(m->key, m->key_len);
    char *val = utf8_clean(m->payload, m->len);
    char *out;

    cJSON_AddNumberToObject(o, "partition", m->partition);
    cJSON_AddNumberToObject(o, "offset", (double)m->offset);
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "value", val);
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *v;
        size_t vlen;

        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &v, &vlen) == 0; i++) {
            char *s = utf8_clean(v, vlen);

            cJSON_AddStringToObject(h, name, s);
            free(s);
        }
    }
    cJSON_AddItemToObject(o, "headers", h);
    out = cJSON_PrintUnformatted(o);
    puts(out);
    free(out);
    free(key);
    free(val);
    cJSON_Delete(o);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL;
    long idle = 2000, maxwait = 120000;
    char err[512];
    int c, parts, eofs = 0;
    long long last, start;
    rd_kafka_t *rk;

    while ((c = getopt(argc, argv, "b:t:i:w:")) != -1) {
        if (c == 'b') {
            brokers = optarg;
        } else if (c == 't') {
            topic = optarg;
        } else if (c == 'i') {
            idle = atol(optarg);
        } else if (c == 'w') {
            maxwait = atol(optarg);
        } else {
            goto usage;
        }
    }
    if (!brokers || !topic || optind != argc) {
        goto usage;
    }
    if ((rk = make_consumer(brokers, err, sizeof(err))) == NULL) {
        fprintf(stderr, "kdrain: %s\n", err);
        return 1;
    }
    if ((parts = assign_all(rk, topic)) < 0) {
        fprintf(stderr, "kdrain: no topic %s\n", topic);
        return 1;
    }
    start = last = now_ms();
    while (now_ms() - start < maxwait && (eofs < parts || now_ms() - last < idle)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

        if (m == NULL) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            fprintf(stderr, "kdrain: %s\n", rd_kafka_message_errstr(m));
        } else {
            print_message(m);
            last = now_ms();
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
usage:
    fprintf(stderr, "usage: kdrain -b BROKERS -t TOPIC [-i IDLE_MS] [-w MAX_WAIT_MS]\n");
    return 2;
}
