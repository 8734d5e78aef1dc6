/*
 * dlqio.c - the DLQ read back and its records produced again (dlqio.h), for
 * `loyaltyctl redrive`: the reader assigns the partitions itself (no
 * subscription, no commit), stops at the high watermarks it found at the
 * open; the sender counts the delivery reports.
 */
#include "consumers/dlqio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "consumers/kconf.h"

#define META_TIMEOUT_MS 10000

struct dlq_part {
    int32_t partition;
    int64_t high; /* the watermark at the open: records below it are read */
    int done;
};

struct dlq_reader {
    rd_kafka_t *rk;
    char *topic;
    struct dlq_part *parts;
    size_t nparts, left; /* left: partitions not done */
    rd_kafka_message_t *cur;
};

/* A group name no one else uses: nothing of it is ever committed. */
static void fresh_group(char *buf, size_t len)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "loyaltyctl-redrive-%ld-%ld-%ld", (long)getpid(), (long)ts.tv_sec,
             ts.tv_nsec);
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *err,
                              size_t errlen)
{
    rd_kafka_t *rk;

    if (conf == NULL) {
        return NULL;
    }
    rk = rd_kafka_new(type, conf, err, errlen); /* takes conf when it succeeds */
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* The topic's partition ids, from the metadata. */
static int topic_partitions(struct dlq_reader *r, char *err, size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->rk, r->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;
    int rc = -1;

    if (rkt == NULL) {
        snprintf(err, errlen, "%s: %s", r->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    e = rd_kafka_metadata(r->rk, 0, rkt, &md, META_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s: metadata: %s", r->topic, rd_kafka_err2str(e));
    } else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "topic %s: %s", r->topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not found");
    } else if ((r->parts = calloc((size_t)md->topics[0].partition_cnt + 1,
                                  sizeof(*r->parts))) == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        r->nparts = (size_t)md->topics[0].partition_cnt;
        for (size_t i = 0; i < r->nparts; i++) {
            r->parts[i].partition = md->topics[0].partitions[i].id;
        }
        rc = 0;
    }
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Every partition with records from its low watermark, the high one noted. */
static int assign_all(struct dlq_reader *r, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *tp =
        rd_kafka_topic_partition_list_new((int)r->nparts);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (size_t i = 0; i < r->nparts && !e; i++) {
        int64_t low = 0, high = 0;

        e = rd_kafka_query_watermark_offsets(r->rk, r->topic, r->parts[i].partition, &low,
                                             &high, META_TIMEOUT_MS);
        r->parts[i].high = high;
        r->parts[i].done = e || high <= low;
        if (!r->parts[i].done) {
            rd_kafka_topic_partition_list_add(tp, r->topic, r->parts[i].partition)
                ->offset = low;
            r->left++;
        }
    }
    if (e) {
        snprintf(err, errlen, "%s: watermarks: %s", r->topic, rd_kafka_err2str(e));
    } else if (r->left &&
               (e = rd_kafka_assign(r->rk, tp)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "%s: assign: %s", r->topic, rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(tp);
    return e ? -1 : 0;
}

struct dlq_reader *dlq_reader_open(const struct pipeline_opts *cfg, char *err,
                                   size_t errlen)
{
    struct dlq_reader *r = calloc(1, sizeof(*r));
    char group[128];

    if (r == NULL || (r->topic = strdup(cfg->topic[TOPIC_DLQ])) == NULL) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fresh_group(group, sizeof(group));
    r->rk =
        new_client(RD_KAFKA_CONSUMER, kconf_reader(cfg, group, err, errlen), err, errlen);
    if (r->rk == NULL || topic_partitions(r, err, errlen) < 0 ||
        assign_all(r, err, errlen) < 0) {
        dlq_reader_close(r);
        return NULL;
    }
    return r;
}

static struct dlq_part *part_of(struct dlq_reader *r, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++) {
        if (r->parts[i].partition == partition) {
            return &r->parts[i];
        }
    }
    return NULL;
}

static void part_done(struct dlq_reader *r, struct dlq_part *p)
{
    if (p != NULL && !p->done) {
        p->done = 1;
        r->left--;
    }
}

static void header(rd_kafka_headers_t *hdrs, const char *name, char *out)
{
    const void *val = NULL;
    size_t size = 0;

    out[0] = '\0';
    if (hdrs && rd_kafka_header_get_last(hdrs, name, &val, &size) == 0 && val != NULL) {
        size = size < DLQ_HDR_MAX - 1 ? size : DLQ_HDR_MAX - 1;
        memcpy(out, val, size);
        out[size] = '\0';
    }
}

static void fill(const rd_kafka_message_t *m, struct dlq_record *rec)
{
    rd_kafka_headers_t *hdrs = NULL;

    rec->key = m->key;
    rec->keylen = m->key ? m->key_len : 0;
    rec->value = m->payload ? m->payload : "";
    rec->len = m->payload ? m->len : 0;
    rec->partition = m->partition;
    rec->offset = m->offset;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hdrs = NULL;
    }
    header(hdrs, "reason", rec->reason);
    header(hdrs, "source_topic", rec->source_topic);
    header(hdrs, "source_partition", rec->source_partition);
    header(hdrs, "source_offset", rec->source_offset);
    header(hdrs, "truncated", rec->truncated);
}

/* 1: m is a record to return; 0: nothing for the caller; -1: an error. */
static int take(struct dlq_reader *r, const rd_kafka_message_t *m, char *err,
                size_t errlen)
{
    struct dlq_part *p = m->rkt && strcmp(rd_kafka_topic_name(m->rkt), r->topic) == 0
                             ? part_of(r, m->partition)
                             : NULL;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        part_done(r, p);
        return 0;
    }
    if (m->err) {
        snprintf(err, errlen, "%s: %s", r->topic, rd_kafka_message_errstr(m));
        return -1;
    }
    if (p == NULL || p->done) {
        return 0;
    }
    if (m->offset >= p->high) { /* produced since the open */
        part_done(r, p);
        return 0;
    }
    if (m->offset >= p->high - 1) {
        part_done(r, p);
    }
    return 1;
}

int dlq_reader_next(struct dlq_reader *r, struct dlq_record *rec, int timeout_ms,
                    char *err, size_t errlen)
{
    int64_t deadline = mono_ms() + timeout_ms;

    if (r->cur) {
        rd_kafka_message_destroy(r->cur);
        r->cur = NULL;
    }
    while (r->left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 200);
        int rc;

        if (m == NULL) {
            if (mono_ms() > deadline) {
                snprintf(err, errlen,
                         "%s: nothing read for %d ms (%zu partitions unfinished)",
                         r->topic, timeout_ms, r->left);
                return -1;
            }
            continue;
        }
        if ((rc = take(r, m, err, errlen)) == 1) {
            r->cur = m;
            fill(m, rec);
            return 1;
        }
        rd_kafka_message_destroy(m);
        if (rc < 0) {
            return -1;
        }
        deadline = mono_ms() + timeout_ms;
    }
    return 0;
}

void dlq_reader_close(struct dlq_reader *r)
{
    if (r == NULL) {
        return;
    }
    if (r->cur) {
        rd_kafka_message_destroy(r->cur);
    }
    if (r->rk) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    free(r->parts);
    free(r->topic);
    free(r);
}

/* ---- the sender ---- */

struct dlq_sender {
    rd_kafka_t *rk;
    size_t sent, delivered, failed;
    char first_err[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dlq_sender *s = opaque;

    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        s->delivered++;
        return;
    }
    if (s->failed++ == 0) {
        snprintf(s->first_err, sizeof(s->first_err), "%s [%" PRId32 "]: %s",
                 rd_kafka_topic_name(m->rkt), m->partition, rd_kafka_err2str(m->err));
    }
}

struct dlq_sender *dlq_sender_open(const struct pipeline_opts *cfg, char *err,
                                   size_t errlen)
{
    struct dlq_sender *s = calloc(1, sizeof(*s));
    rd_kafka_conf_t *conf;

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    conf = kconf_producer(cfg, err, errlen);
    if (conf) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, s);
    }
    if ((s->rk = new_client(RD_KAFKA_PRODUCER, conf, err, errlen)) == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

int dlq_sender_send(struct dlq_sender *s, const char *topic, int32_t partition,
                    const char *key, size_t keylen, const char *value, size_t len,
                    char *err, size_t errlen)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)(uintptr_t)key, key ? keylen : 0),
            RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len), RD_KAFKA_V_END);

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            s->sent++;
            rd_kafka_poll(s->rk, 0);
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "%s: %s", topic, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(s->rk, 100);
    }
}

int dlq_sender_flush(struct dlq_sender *s, int timeout_ms, size_t *delivered,
                     size_t *failed, char *err, size_t errlen)
{
    int64_t deadline = mono_ms() + timeout_ms;

    while (s->delivered + s->failed < s->sent && mono_ms() < deadline) {
        rd_kafka_flush(s->rk, 200);
    }
    rd_kafka_poll(s->rk, 0);
    *delivered = s->delivered;
    *failed = s->sent - s->delivered; /* those without a report count as failed */
    if (s->failed) {
        snprintf(err, errlen, "%s", s->first_err);
    } else if (*failed) {
        snprintf(err, errlen, "%zu not acknowledged within %d ms", *failed, timeout_ms);
    }
    return *failed ? -1 : 0;
}

void dlq_sender_close(struct dlq_sender *s)
{
    if (s == NULL) {
        return;
    }
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(s->rk, 0);
    rd_kafka_destroy(s->rk);
    free(s);
}
