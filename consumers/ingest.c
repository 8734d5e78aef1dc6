/*
 * ingest.c - consuming: each task's partition queues pulled as far as its
 * merge has room, every message copied, parsed and its key checked into its
 * task's queue (a malformed one too, to be dead-lettered in its turn), the
 * consumer's own queue polled (rebalances, errors, statistics), and the
 * dead-letter topic with its rate-limited log lines.
 */
#include "consumers/pipeline_int.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/convert.h"
#include "consumers/parse.h"
#include "consumers/producer.h"
#include "consumers/task.h"
#include "consumers/tracker.h"

/* Messages taken from the consumer per turn, at most. */
#define POLL_BURST 5000

/* A consumed message given up unapplied with its task: its offset was never
 * stored, so the task's next owner reads it again. */
void ingest_drop_queued(void *arg, void *msg, void *entry)
{
    (void)arg;
    metrics_add(MC_REVOKED_UNAPPLIED, 1);
    if (entry) {
        tracker_release(entry);
    }
    inmsg_free(msg);
}

/* Producers must key every event by its customer_id (README: co-partitioned
 * topics, one partitioner): an unkeyed or otherwise keyed event may sit on
 * another partition than its customer's other events, out of their order.
 * Counted either way; dead-lettered (bad_key, the default), or with
 * input.bad_key = apply applied, since its content is valid, and said once a
 * minute at most.  Returns PR_OK, or PR_BAD_KEY with detail. */
static int check_key(struct pipeline *pl, const rd_kafka_message_t *m,
                     const struct event *ev, char *detail, size_t len)
{
    size_t n = strlen(ev->customer_id);
    int unkeyed = m->key == NULL || m->key_len == 0;

    if (!unkeyed && m->key_len == n && memcmp(m->key, ev->customer_id, n) == 0) {
        return PR_OK;
    }
    metrics_add(unkeyed ? MC_UNKEYED : MC_KEY_MISMATCH, 1);
    if (!pl->cfg->bad_key_apply) {
        if (unkeyed) {
            snprintf(detail, len, "no message key (it must be the customer_id)");
        } else { /* the key itself is message content: not echoed */
            snprintf(detail, len, "message key (%zu bytes) is not the customer_id",
                     m->key_len);
        }
        return PR_BAD_KEY;
    }
    if (mono_ms() >= pl->key_warn_at_ms) {
        pl->key_warn_at_ms = mono_ms() + 60000;
        log_warn("%s/%d@%" PRId64 ": event for customer %s %s; producers must key by "
                 "customer_id (loyaltyd_unkeyed_total, loyaltyd_key_mismatch_total; "
                 "said once a minute)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                 ev->customer_id, unkeyed ? "has no key" : "is keyed otherwise");
    }
    return PR_OK;
}

/* The event's money in the model's currency (consumers/convert.h): PR_OK,
 * or the reason with detail.  A stale rate converts, and is counted. */
static int convert_money(struct pipeline *pl, struct event *ev, char *detail, size_t len)
{
    const struct fx_table *rates = pl->fx_loaded ? &pl->fx : NULL;

    switch (convert_event(&pl->cfg->money, rates, ev, detail, len)) {
    case CONVERT_OK:
        return PR_OK;
    case CONVERT_STALE:
        metrics_add(MC_FX_STALE_RATE, 1);
        return PR_OK;
    case CONVERT_NO_RATE:
        return PR_NO_RATE;
    case CONVERT_RANGE:
        break;
    }
    return PR_BAD_AMOUNT;
}

static void consume_message(struct pipeline *pl, rd_kafka_message_t *m, int src,
                            struct ptask *pt)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    int64_t wall = wall_ms();
    struct task_msg tm = {.offset = m->offset, .append_ms = wall};
    struct inmsg *in;
    char detail[256];

    if ((tm.msg = in = inmsg_new(m, src, (size_t)pl->cfg->dlq_max_payload_bytes)) ==
            NULL ||
        (tm.entry = tracker_add(pl->tracker, topic, m->partition, m->offset)) == NULL) {
        goto nomem;
    }
    if (in->kafka_ts_ms > 0 && in->kafka_ts_ms < tm.append_ms) {
        tm.append_ms = in->kafka_ts_ms;
    }
    event_init(&tm.ev);
    tm.reason = parse_event(m->payload, m->len, (enum ev_source)src, &pl->cfg->limits,
                            wall, &tm.ev, detail, sizeof(detail));
    if (tm.reason == PR_OK) {
        tm.reason = check_key(pl, m, &tm.ev, detail, sizeof(detail));
    }
    if (tm.reason == PR_OK) {
        tm.reason = convert_money(pl, &tm.ev, detail, sizeof(detail));
    }
    if (tm.reason != PR_OK && tm.reason != PR_NO_MEMORY &&
        (in->detail = strdup(detail)) == NULL) {
        tm.reason = PR_NO_MEMORY;
    }
    if (tm.reason != PR_NO_MEMORY && task_push(&pt->t, src, &tm) == 0) {
        rd_kafka_message_destroy(m);
        return;
    }
    event_free(&tm.ev);
    tracker_release(tm.entry);
nomem:
    log_err("%s/%d@%" PRId64 ": out of memory; re-read after a restart", topic,
            (int)m->partition, m->offset);
    inmsg_free(tm.msg);
    rd_kafka_message_destroy(m);
}

/* Whether a dead-lettered message gets its own log line: a stream of bad
 * input must not flood the journal.  The lines left out are counted and said
 * when the next second starts. */
#define DLQ_LOG_BURST 10

void ingest_dlq_log_roll(struct pipeline *pl)
{
    int64_t second = mono_ms() / 1000;

    if (second == pl->dlq_log_second) {
        return;
    }
    if (pl->dlq_unlogged > 0) {
        log_info("%u more messages dead-lettered without a line of their own "
                 "(loyaltyd_dead_lettered_total counts them by reason)",
                 pl->dlq_unlogged);
    }
    pl->dlq_log_second = second;
    pl->dlq_logged = pl->dlq_unlogged = 0;
}

static int dlq_log_ok(struct pipeline *pl)
{
    ingest_dlq_log_roll(pl);
    if (pl->dlq_logged < DLQ_LOG_BURST) {
        pl->dlq_logged++;
        return 1;
    }
    pl->dlq_unlogged++;
    return 0;
}

/* A malformed message's turn: to the DLQ, its offset stored once recorded. */
void ingest_dead_letter_bad(struct pipeline *pl, struct task_msg *tm)
{
    const struct inmsg *in = tm->msg;

    ingest_dead_letter(pl, tm, tm->reason, in->detail);
    event_free(&tm->ev);
    tracker_release(tm->entry);
    inmsg_free(tm->msg);
}

void ingest_dead_letter(struct pipeline *pl, const struct task_msg *tm, int why,
                        const char *detail)
{
    const struct inmsg *in = tm->msg;
    const char *reason = parse_reason_name((enum parse_reason)why);

    if (dlq_log_ok(pl)) {
        log_info("%s/%d@%" PRId64 ": dead-lettered: %s (%s)", pl->cfg->topic[in->src],
                 (int)in->partition, in->offset, reason, detail);
    }
    if (producer_dead_letter(pl->producer, tm->entry, in, reason, detail) == 0) {
        metrics_dead_lettered(why);
    } else {
        log_err("%s/%d@%" PRId64
                ": out of memory dead-lettering; re-read after a restart",
                pl->cfg->topic[in->src], (int)in->partition, in->offset);
    }
}

_Static_assert((int)MT_ORDERS == (int)TOPIC_ORDERS &&
                   (int)MT_REVIEWS == (int)TOPIC_REVIEWS &&
                   (int)MT_MESSAGES == (int)TOPIC_MESSAGES,
               "metrics count input topics by their index");

static void consume_one(struct pipeline *pl, rd_kafka_message_t *m)
{
    int role = m->rkt ? pipeline_role_of(pl, rd_kafka_topic_name(m->rkt)) : -1;
    struct ptask *pt = pipeline_task_of(pl, m->partition);

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (pt && role >= TOPIC_ORDERS && role <= TOPIC_MESSAGES) {
            task_at_end(&pt->t, role);
        }
        rd_kafka_message_destroy(m);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        hold_input_reset(pl, m->rkt ? rd_kafka_topic_name(m->rkt) : "?", m->partition,
                         m->offset, rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return;
    }
    if (m->err) {
        /* A fatal error comes this way too: stats_kafka_fatal says it. */
        if (m->err != RD_KAFKA_RESP_ERR__FATAL) {
            log_warn("consume: %s", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        return;
    }
    pl->kafka_up = 1;
    metrics_set_kafka_up(1);
    if (pt == NULL || role < TOPIC_ORDERS || role > TOPIC_MESSAGES) {
        rd_kafka_message_destroy(m); /* not ours (revoked meanwhile) */
        return;
    }
    metrics_consumed((enum metric_topic)role);
    consume_message(pl, m, role, pt);
}

/* Take from the task's partition queues what its queues have room for.
 * Returns the number of messages taken. */
size_t ingest_pull_task(struct pipeline *pl, struct ptask *pt)
{
    const size_t max = (size_t)pl->cfg->merge_queue_max;
    rd_kafka_message_t *v[256];
    size_t got = 0;

    for (int s = 0; s < SRC__COUNT; s++) {
        size_t queued = task_queued(&pt->t, s);
        ssize_t n;

        while (pt->kq[s] != NULL && queued < max) {
            size_t room = max - queued < 256 ? max - queued : 256;

            if ((n = rd_kafka_consume_batch_queue(pt->kq[s], 0, v, room)) <= 0) {
                break;
            }
            for (ssize_t i = 0; i < n; i++) {
                consume_one(pl, v[i]);
            }
            got += (size_t)n;
            queued = task_queued(&pt->t, s);
        }
    }
    return got;
}

size_t ingest_pull_partitions(struct pipeline *pl)
{
    size_t got = 0;

    for (size_t p = 0; p < pl->tasks.n; p++) {
        if (pl->tasks.v[p] != NULL) {
            got += ingest_pull_task(pl, pl->tasks.v[p]);
        }
    }
    return got;
}

/* Rebalances, errors, statistics, and any message that came through the
 * consumer's queue before its partition queue was detached. */
void ingest_poll_consumer(struct pipeline *pl)
{
    rd_kafka_message_t *m;

    for (int i = 0; i < POLL_BURST; i++) {
        if ((m = rd_kafka_consumer_poll(pl->consumer, 0)) == NULL) {
            break;
        }
        consume_one(pl, m);
    }
}
