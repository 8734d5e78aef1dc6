/*
 * stats.c - what the pipeline tells its metrics: whether Kafka is up, from
 * the consumer's errors and statistics (which also give the consumer lag),
 * each task's event-time lag and overdue timers, and a batch's counters;
 * and a client's fatal error, which ends the pipeline.  The librdkafka
 * callbacks here run on the main thread (pipeline_int.h).
 */
#include "consumers/pipeline_int.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/producer.h"
#include "consumers/task.h"
#include "state/engine/cache.h"

/* The oldest Kafka timestamp among a task's inputs not yet applied, or 0.
 * Each queue is in offset order: its head stands for it. */
static int64_t oldest_pending_ms(const struct ptask *pt)
{
    int64_t oldest = 0;

    for (size_t i = 0; i < pt->nbatch; i++) {
        const struct inmsg *in = pt->batch[i].msg;

        if (in->kafka_ts_ms > 0 && (oldest == 0 || in->kafka_ts_ms < oldest)) {
            oldest = in->kafka_ts_ms;
        }
    }
    for (int s = 0; s < SRC__COUNT; s++) {
        const struct task_queue *q = &pt->t.q[s];
        const struct inmsg *in;

        if (q->n == 0) {
            continue;
        }
        in = q->v[q->head].msg;
        if (in->kafka_ts_ms > 0 && (oldest == 0 || in->kafka_ts_ms < oldest)) {
            oldest = in->kafka_ts_ms;
        }
    }
    return oldest;
}

/* The task's due timers that its timer clock has passed and the sweeper has
 * not fired yet (it fires them on its next pass). */
static void account_timers(struct pipeline *pl, const struct ptask *pt)
{
    int64_t now = sweep_timer_clock(pl, pt), count = 0, oldest = 0;

    if (now <= 0 || (pl->paused & HOLD_REDIS) || !store_ok(pl->store)) {
        return;
    }
    if (store_due_overdue(pl->store, pt->t.partition, now, &count, &oldest) < 0) {
        metrics_redis_error(store_err_class(store_last_error(pl->store)));
        if (!hold_stores_ok(pl)) { /* Redis went away: as when a batch finds it */
            hold_back(pl);
        }
        return;
    }
    metrics_set_timers_overdue(pt->t.partition, count,
                               count > 0 && now > oldest ? (double)(now - oldest) / 1000.0
                                                         : 0);
}

/* Event-time lag of each task: the age of its oldest input not applied yet.
 * When nothing is fetched but the broker says a partition is behind, the
 * age of the last input applied stands in (the next one is no older). */
void stats_account_lag(struct pipeline *pl)
{
    int64_t now = mono_ms(), wall = wall_ms();

    if (now < pl->lag_at_ms) {
        return;
    }
    pl->lag_at_ms = now + 1000;
    for (size_t p = 0; p < pl->tasks.n; p++) {
        const struct ptask *pt = pl->tasks.v[p];
        int64_t from;

        if (pt == NULL) {
            continue;
        }
        if ((from = oldest_pending_ms(pt)) == 0) {
            for (int s = 0; s < SRC__COUNT && from == 0; s++) {
                if (metrics_lag(pl->cfg->topic[s], (int32_t)p) > 0) {
                    from = pt->applied_ts_ms;
                }
            }
        }
        metrics_set_task_lag(
            (int32_t)p, from > 0 && wall > from ? (double)(wall - from) / 1000.0 : 0);
        account_timers(pl, pt);
    }
    metrics_set_derived_in_flight(producer_backlog(pl->producer));
}

void stats_account_batch(struct pipeline *pl, int32_t task, const struct batch_stats *st)
{
    metrics_add(MC_BATCHES, 1);
    metrics_timers_fired(task, st->timers);
    metrics_add(MC_CACHE_HITS, st->cache_hits);
    metrics_add(MC_CACHE_MISSES, st->cache_misses);
    metrics_add(MC_COMMITS, st->commits);
    metrics_add(MC_COMMIT_CONFLICTS, st->conflicts);
    metrics_add(MC_STATE_REWOUND, st->rewound);
    if (st->rewound > 0) {
        log_warn("partition %d: %" PRIu64 " customers' state in Redis was older than "
                 "this instance had committed: Redis lost writes it had acknowledged "
                 "(a failover or a restart; README, \"Redis Cluster\"); the events of "
                 "that window are not in their state",
                 (int)task, st->rewound);
    }
    metrics_add(MC_MISROUTED, st->misrouted);
    metrics_set_cache(cache_count(pl->cache), cache_bytes(pl->cache));
}

/* A fatal error of either client: it can do nothing more (an idempotent
 * producer that lost its guarantee, a fenced static member), and only a new
 * one can go on, so the pipeline fails and the process ends with a failure
 * status (systemd restarts it); what was not committed is read again.  The
 * error callbacks only announce it: librdkafka keeps it, and this asks every
 * turn.  1 when there is one. */
int stats_kafka_fatal(struct pipeline *pl)
{
    static const char *const client[] = {"consumer", "producer"};
    rd_kafka_t *rk[] = {pl->consumer, producer_handle(pl->producer)};
    char reason[512];

    if (pl->kafka_fatal) {
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk[i], reason, sizeof(reason));

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            continue;
        }
        log_err("kafka %s: fatal error %s: %s; ending, for a restart with a new client",
                client[i], rd_kafka_err2name(err), reason);
        pl->kafka_fatal = i == 0 ? FATAL_CONSUMER : FATAL_PRODUCER;
        pl->failed = 1;
        metrics_set_ready(0);
        return 1;
    }
    return 0;
}

void stats_while_waiting(void *arg)
{
    struct pipeline *pl = arg;

    metrics_set_ready(pipeline_ready(pl));
}

void stats_brokers_down(void *arg)
{
    struct pipeline *pl = arg;

    pl->kafka_up = 0;
    metrics_set_kafka_up(0);
    metrics_set_ready(0);
}

void stats_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct pipeline *pl = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        return; /* stats_kafka_fatal says it, with the underlying error */
    }
    /* One broker's connection lost (a broker closes idle ones) is not
     * Kafka down: librdkafka reconnects, and the statistics say when every
     * broker is up again. */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        pl->kafka_up = 0;
        metrics_set_kafka_up(0);
    }
    log_warn("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* Kafka is up while one of the cluster's brokers (not a bootstrap
 * address) has a connection in state UP. */
static void brokers_state(struct pipeline *pl, const cJSON *brokers)
{
    const cJSON *b;
    int known = 0, up = 0;

    cJSON_ArrayForEach(b, brokers)
    {
        const cJSON *id = cJSON_GetObjectItem(b, "nodeid");
        const cJSON *state = cJSON_GetObjectItem(b, "state");

        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || !cJSON_IsString(state)) {
            continue;
        }
        known++;
        up += strcmp(state->valuestring, "UP") == 0;
    }
    if (known > 0 && (up > 0) != pl->kafka_up) {
        pl->kafka_up = up > 0;
        metrics_set_kafka_up(pl->kafka_up);
        if (pl->kafka_up) {
            log_note("kafka: %d of %d brokers connected", up, known);
        }
    }
}

/* Consumer lag per partition, and the brokers' state, from the statistics. */
int stats_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *topic, *part;
    struct pipeline *pl = opaque;

    (void)rk;
    brokers_state(pl, cJSON_GetObjectItem(root, "brokers"));
    cJSON_ArrayForEach(topic, cJSON_GetObjectItem(root, "topics"))
    {
        cJSON_ArrayForEach(part, cJSON_GetObjectItem(topic, "partitions"))
        {
            cJSON *lag = cJSON_GetObjectItem(part, "consumer_lag");
            cJSON *state = cJSON_GetObjectItem(part, "fetch_state");
            int p = atoi(part->string), role = pipeline_role_of(pl, topic->string);

            /* The statistics list every partition the client has seen; only
             * the assigned ones are being fetched.  Statistics taken before a
             * revocation may arrive after it: a partition this process no
             * longer has would keep the lag it had then (the revocation
             * cleared it), so only the tasks held now count. */
            if (!cJSON_IsString(state) || strcmp(state->valuestring, "none") == 0 ||
                strncmp(state->valuestring, "stop", 4) == 0 || role < TOPIC_ORDERS ||
                role > TOPIC_MESSAGES || pipeline_task_of(pl, p) == NULL) {
                continue;
            }
            if (p >= 0 && cJSON_IsNumber(lag) && lag->valuedouble >= 0) {
                metrics_set_lag(topic->string, p, (int64_t)lag->valuedouble);
            }
        }
    }
    cJSON_Delete(root);
    return 0;
}

/* A producer's errors: logged (the consumer's errors tell the state of the
 * cluster); a fatal one is the pipeline's turn's to say (stats_kafka_fatal). */
