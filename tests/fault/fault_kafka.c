/*
 * fault_kafka.c - the Kafka faults a real broker cannot easily give, on
 * librdkafka's mock cluster, with the real pipeline and a real Redis
 * (REDIS_PORT, default 16379).  The pipeline's producer runs on the settings
 * the daemon ships (consumers/kconf.c: idempotent, acks=all, no message
 * timeout).
 *
 * Orders come in two waves, each for CUSTOMERS customers with two purchase
 * days, so every customer earns exactly one first-repeat milestone.
 *  1. Produce requests fail with a retriable error: librdkafka produces them
 *     again, no reward is acknowledged and no input offset committed
 *     meanwhile, and the pipeline says it is not ready once the rewards topic
 *     has taken nothing for a few seconds; once produce works every order is
 *     applied.
 *  2. The broker goes down while the second wave's rewards are stored but
 *     their acknowledgement is still on its way: the pipeline keeps running,
 *     is not ready while the broker is down, and ready again once it is back
 *     though no input comes.
 *  3. Malformed orders come while produce to the DLQ fails (topic
 *     authorization): the input is paused with the backlog bounded, the
 *     failed records are produced again with backoff and said in a few log
 *     lines, the pipeline is not ready; once the DLQ takes records again
 *     every one gets there.
 * Then every milestone must be in the rewards topic exactly once, every
 * malformed order in the DLQ exactly once, and every input offset committed.
 *  4. A fatal error injected into the producer of a fresh pipeline, then into
 *     the consumer of another: the pipeline fails, is not ready, says so in
 *     one line and closes at once.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/metrics.h"
#include "consumers/pipeline.h"
#include "daemon/config.h"
#include "state/store/store.h"

#define CUSTOMERS  40
#define PARTITIONS 2
#define WAVES      2
/* Malformed orders sent while the DLQ is blocked: several times what the
 * test's output.max_pending_bytes holds, so that the pause shows. */
#define BAD       4000
#define BAD_BOUND "65536"
/* How long the DLQ stays blocked: past the pipeline's OUTPUT_STALL_MS (5 s),
 * and long enough for the backoff to reach seconds. */
#define DLQ_BLOCK_MS 7000
#define ORDERS_FED   (WAVES * 2 * CUSTOMERS + BAD)

/* Kafka protocol ApiKeys (rdkafka_mock.h takes them as numbers). */
enum { API_PRODUCE = 0 };
/* The mock cluster's only broker. */
#define BROKER 1

static int failures, passes;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("%s: ", ok ? "ok" : "FAILED");
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    va_end(ap);
    if (ok) {
        passes++;
    } else {
        failures++;
    }
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "fault_kafka: %s: %s\n", what, err);
    exit(1);
}

/* What the test shares: the cluster, a client of it, the Redis prefix. */
struct world {
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
    rd_kafka_t *feeder; /* produces the input, and asks for watermarks */
    char prefix[64];
};

static void feed(rd_kafka_t *rk, const char *key, char *value, size_t len)
{
    if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("orders"),
                          RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value, len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
        die("produce", "queue full");
    }
}

static void feed_flush(rd_kafka_t *rk)
{
    if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("flush", "input not delivered");
    }
}

/* Two orders a week apart for each customer of the wave. */
static void feed_orders(rd_kafka_t *rk, int wave)
{
    char id[32], json[512];

    for (int c = 0; c < CUSTOMERS; c++) {
        snprintf(id, sizeof(id), "fk%d-%03d", wave, c);
        for (int day = 0; day < 2; day++) {
            int n = snprintf(
                json, sizeof(json),
                "{\"event_id\":\"e-%d-%d-%d\",\"customer_id\":\"%s\","
                "\"type\":\"order.placed\",\"ts\":\"2024-03-%02dT10:00:00Z\","
                "\"order_id\":\"o-%d-%d-%d\",\"amount\":20.5,\"currency\":\"EUR\"}",
                wave, c, day, id, 1 + day * 7, wave, c, day);

            feed(rk, id, json, (size_t)n);
        }
    }
    feed_flush(rk);
}

static void feed_malformed(rd_kafka_t *rk, int n)
{
    char key[32], value[128];

    for (int i = 0; i < n; i++) {
        int len = snprintf(value, sizeof(value), "not json %06d %64s", i, "");

        snprintf(key, sizeof(key), "bad-%d", i);
        feed(rk, key, value, (size_t)len);
    }
    feed_flush(rk);
}

/* Every Produce request fails with err until produce_works(). */
static void produce_fails(rd_kafka_mock_cluster_t *mc, rd_kafka_resp_err_t err)
{
    enum { N = 100000 };
    rd_kafka_resp_err_t *errs = calloc(N, sizeof(*errs));

    if (errs == NULL) {
        die("produce_fails", "out of memory");
    }
    for (size_t i = 0; i < N; i++) {
        errs[i] = err;
    }
    rd_kafka_mock_push_request_errors_array(mc, API_PRODUCE, N, errs);
    free(errs);
}

static void produce_works(rd_kafka_mock_cluster_t *mc)
{
    rd_kafka_mock_clear_request_errors(mc, API_PRODUCE);
}

static void configure(struct config *cfg, const struct world *w, const char *group,
                      const char *max_pending)
{
    const char *port = getenv("REDIS_PORT") ? getenv("REDIS_PORT") : "16379";
    const char *kv[][2] = {
        {"kafka.bootstrap.servers", w->bootstraps},
        {"group.id", group},
        {"redis.port", port},
        {"redis.prefix", w->prefix},
        {"http.listen", ""},
        {"sweep.interval_s", "0"},
        {"log.level", "warning"},
        {"output.max_pending_bytes", max_pending},
    };
    char err[256];

    if (config_init(cfg) < 0) {
        die("config", "out of memory");
    }
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        if (config_set(cfg, kv[i][0], kv[i][1], err, sizeof(err)) < 0) {
            die("config", err);
        }
    }
}

static void run_for(struct pipeline *pl, int ms)
{
    long long until = now_ms() + ms;

    while (now_ms() < until) {
        pipeline_step(pl, 50);
    }
}

/* Steps until done(pl, w) (asked every 100 ms at most) or ms passed. */
static int run_until(struct pipeline *pl, const struct world *w, int ms,
                     int (*done)(struct pipeline *, const struct world *))
{
    long long until = now_ms() + ms, ask = 0;

    while (now_ms() < until) {
        pipeline_step(pl, 50);
        if (now_ms() >= ask) {
            if (done(pl, w)) {
                return 1;
            }
            ask = now_ms() + 100;
        }
    }
    return 0;
}

static int is_ready(struct pipeline *pl, const struct world *w)
{
    (void)w;
    return pipeline_ready(pl);
}

static int not_ready(struct pipeline *pl, const struct world *w)
{
    return !is_ready(pl, w);
}

static int has_failed(struct pipeline *pl, const struct world *w)
{
    (void)w;
    return pipeline_failed(pl);
}

static int first_wave_applied(struct pipeline *pl, const struct world *w)
{
    (void)pl;
    (void)w;
    return metrics_applied_total() >= 2 * CUSTOMERS &&
           metrics_emitted_count(OUT_REWARD) >= CUSTOMERS;
}

static int all_rewarded(struct pipeline *pl, const struct world *w)
{
    (void)pl;
    (void)w;
    return metrics_emitted_count(OUT_REWARD) >= WAVES * CUSTOMERS;
}

/* Messages the broker holds in the topic, all partitions. */
static long long stored(const struct world *w, const char *topic)
{
    long long sum = 0;

    for (int p = 0; p < PARTITIONS; p++) {
        int64_t lo = 0, hi = 0;

        if (rd_kafka_query_watermark_offsets(w->feeder, topic, p, &lo, &hi, 5000) == 0) {
            sum += hi - lo;
        }
    }
    return sum;
}

static int dlq_stored(struct pipeline *pl, const struct world *w)
{
    (void)pl;
    return stored(w, "loyalty.dlq") >= BAD;
}

/* Every message of the topic (up to the high watermarks) to each(). */
static void read_topic(const struct world *w, const char *topic,
                       void (*each)(void *arg, const rd_kafka_message_t *m), void *arg)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    long long until = now_ms() + 15000, want = stored(w, topic), got = 0;
    char err[256];
    rd_kafka_t *rk;

    rd_kafka_conf_set(conf, "bootstrap.servers", w->bootstraps, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "fault-reader", err, sizeof(err));
    if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err))) == NULL) {
        die("reader", err);
    }
    for (int p = 0; p < PARTITIONS; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, l);
    while (got < want && now_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

        if (m != NULL && !m->err) {
            each(arg, m);
            got++;
        }
        if (m != NULL) {
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

struct rewards {
    int messages, distinct;
    char ids[2 * WAVES * CUSTOMERS][33];
};

/* A reward's event id, counted once. */
static void count_reward(void *arg, const rd_kafka_message_t *m)
{
    struct rewards *r = arg;
    const char *at = memmem(m->payload, m->len, "\"event_id\":\"", 12);
    int seen = 0;

    r->messages++;
    if (at == NULL || r->distinct >= 2 * WAVES * CUSTOMERS) {
        return;
    }
    for (int i = 0; i < r->distinct; i++) {
        seen |= memcmp(r->ids[i], at + 12, 32) == 0;
    }
    if (!seen) {
        memcpy(r->ids[r->distinct++], at + 12, 32);
    }
}

struct dlq {
    int messages, distinct;
    unsigned char seen[PARTITIONS][ORDERS_FED]; /* by source partition and offset */
};

static long header_long(rd_kafka_headers_t *h, const char *name)
{
    const void *v;
    size_t len;
    char buf[32];

    if (h == NULL || rd_kafka_header_get_last(h, name, &v, &len) != 0 ||
        len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    return strtol(buf, NULL, 10);
}

/* A DLQ record's source, counted once. */
static void count_dead_letter(void *arg, const rd_kafka_message_t *m)
{
    struct dlq *d = arg;
    rd_kafka_headers_t *h = NULL;
    long p, o;

    d->messages++;
    (void)rd_kafka_message_headers(m, &h);
    p = header_long(h, "source_partition");
    o = header_long(h, "source_offset");
    if (p < 0 || p >= PARTITIONS || o < 0 || o >= ORDERS_FED || d->seen[p][o]) {
        return;
    }
    d->seen[p][o] = 1;
    d->distinct++;
}

static long long committed_total(const struct world *w, const char *group)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    char err[256];
    long long sum = 0;
    rd_kafka_t *rk;

    rd_kafka_conf_set(conf, "bootstrap.servers", w->bootstraps, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
    if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err))) == NULL) {
        die("committed", err);
    }
    for (int p = 0; p < PARTITIONS; p++) {
        rd_kafka_topic_partition_list_add(l, "orders", p);
    }
    if (rd_kafka_committed(rk, l, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int p = 0; p < PARTITIONS; p++) {
            sum += l->elems[p].offset > 0 ? l->elems[p].offset : 0;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return sum;
}

/* The log (stderr) goes to a file while a scenario runs, to be counted. */
struct capture {
    FILE *f;
    int saved;
};

static void capture_start(struct capture *c)
{
    fflush(stderr);
    if ((c->f = tmpfile()) == NULL || (c->saved = dup(2)) < 0 ||
        dup2(fileno(c->f), 2) < 0) {
        die("capture", "cannot redirect stderr");
    }
}

/* Stops the capture: the lines holding `what`, and all lines in *total. */
static long capture_stop(struct capture *c, const char *what, long *total)
{
    char line[4096];
    long n = 0;

    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    rewind(c->f);
    *total = 0;
    while (fgets(line, sizeof(line), c->f) != NULL) {
        (*total)++;
        n += strstr(line, what) != NULL;
    }
    fclose(c->f);
    return n;
}

/* 1. Produce fails with a retriable error: librdkafka retries (no message
 * timeout), the batches wait uncommitted, nothing is committed. */
static void produce_failing(struct pipeline *pl, const struct world *w)
{
    long long t0, committed;
    uint64_t applied;
    int stalled;

    check(run_until(pl, w, 15000, is_ready), "ready at the start");
    feed_orders(w->feeder, 0);
    produce_fails(w->mc, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    t0 = now_ms();
    stalled = run_until(pl, w, 30000, not_ready);
    t0 = now_ms() - t0;
    check(stalled && t0 >= 5000,
          "not ready once the outputs took nothing for a while (after %lld ms)", t0);
    /* A customer's second order earns the reward, and its batch waits for
     * it; a batch of first orders alone may commit (its events derive
     * nothing).  Each customer's two orders are next to each other in its
     * partition, so a committed offset past a partition's first order would
     * be an order whose reward is not delivered. */
    applied = metrics_applied_total();
    committed = committed_total(w, w->prefix);
    check(metrics_emitted_count(OUT_REWARD) == 0 && applied <= CUSTOMERS,
          "no reward acknowledged while produce fails, %llu first orders applied",
          (unsigned long long)applied);
    check(committed <= PARTITIONS,
          "no order committed while its reward is not delivered (%lld committed)",
          committed);
    produce_works(w->mc);
    check(run_until(pl, w, 30000, first_wave_applied),
          "once produce works, all %d orders applied and %d rewards delivered",
          2 * CUSTOMERS, CUSTOMERS);
    check(run_until(pl, w, 10000, is_ready), "and ready again");
}

/* 2. The broker goes down while the second wave's derived events are in
 * flight: their Produce requests taken, the answers (a retriable error)
 * delayed past the moment it goes.  librdkafka sends them again once it is
 * back.  (The mock cluster keeps no idempotence state for a producer without
 * a transactional.id, so a request it had stored would be stored twice: an
 * answer lost after the broker stored it is not a case it can show.) */
static void broker_down_in_flight(struct pipeline *pl, const struct world *w)
{
    enum { DELAYED = 4 }; /* rewards and segments, two partitions each */
    size_t left = DELAYED, last = DELAYED;
    long long until, steady = 0;

    feed_orders(w->feeder, 1);
    rd_kafka_mock_broker_push_request_error_rtts(
        w->mc, BROKER, API_PRODUCE, DELAYED, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 4000,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 4000,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 4000,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 4000);
    /* Until the requests taken stop growing for half a second. */
    for (until = now_ms() + 15000; now_ms() < until;) {
        pipeline_step(pl, 50);
        rd_kafka_mock_broker_error_stack_cnt(w->mc, BROKER, API_PRODUCE, &left);
        if (left != last) {
            steady = now_ms() + 500;
        } else if (left < DELAYED && now_ms() >= steady) {
            break;
        }
        last = left;
    }
    check(left < DELAYED && metrics_emitted_count(OUT_REWARD) == CUSTOMERS,
          "%zu Produce requests of the second wave in flight, none answered",
          (size_t)DELAYED - left);
    rd_kafka_mock_broker_set_down(w->mc, BROKER);
    run_for(pl, 3000);
    check(!pipeline_ready(pl), "not ready while the broker is down");
    rd_kafka_mock_broker_set_up(w->mc, BROKER);
    check(run_until(pl, w, 15000, is_ready),
          "ready again with the broker back, though no input came");
    check(run_until(pl, w, 30000, all_rewarded), "every reward of both waves delivered");
}

/* 3. The DLQ cannot be written (authorization) while malformed orders come. */
static void dlq_blocked(struct pipeline *pl, const struct world *w)
{
    unsigned long long taken0 = metrics_dead_lettered_total(), taken;
    unsigned long long failed0 = metrics_delivery_failures_total(), failed;
    struct capture cap;
    long lines, total;
    int ready;

    feed_malformed(w->feeder, BAD);
    produce_fails(w->mc, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    capture_start(&cap);
    run_for(pl, DLQ_BLOCK_MS);
    ready = pipeline_ready(pl);
    taken = metrics_dead_lettered_total() - taken0;
    failed = metrics_delivery_failures_total() - failed0;
    lines = capture_stop(&cap, "loyalty.dlq", &total);
    check(taken < BAD / 2,
          "input paused: %llu of %d malformed orders taken in %d s while the DLQ takes "
          "none (output.max_pending_bytes %s)",
          taken, BAD, DLQ_BLOCK_MS / 1000, BAD_BOUND);
    /* A record is tried at once, then 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s
     * after its first failure: 7 attempts in 7 s at most. */
    check(failed > 0 && failed <= 8 * taken,
          "failed records produced again with backoff: %llu failed attempts for %llu "
          "records",
          failed, taken);
    check(lines <= 4, "%ld log lines name the DLQ topic in %d s (%ld lines in all)",
          lines, DLQ_BLOCK_MS / 1000, total);
    check(!ready, "not ready while the DLQ takes nothing");
    produce_works(w->mc);
    check(run_until(pl, w, 30000, dlq_stored),
          "once the DLQ takes records again, all %d are stored", BAD);
    check(run_until(pl, w, 10000, is_ready), "and ready again");
}

/* 4. A fatal error of one client of a fresh pipeline. */
static void fatal_error(const struct world *w, struct store *store, int producer)
{
    const char *client = producer ? "producer" : "consumer";
    char group[96], err[512], line[64];
    struct capture cap;
    struct config cfg;
    struct pipeline *pl;
    long lines, total;
    long long t0;
    int failed;

    snprintf(group, sizeof(group), "%sfatal-%s", w->prefix, client);
    configure(&cfg, w, group, "33554432");
    if ((pl = pipeline_new(&cfg.pipe, cfg.model, store, err, sizeof(err))) == NULL ||
        pipeline_probe(pl, 5000, err, sizeof(err)) < 0) {
        die("pipeline", err);
    }
    run_for(pl, 300);
    check(pipeline_ready(pl) && !pipeline_failed(pl), "fresh pipeline ready");
    metrics_set_ready(1); /* as the daemon's loop would have it */
    capture_start(&cap);
    rd_kafka_test_fatal_error(pipeline_test_client(pl, producer),
                              producer ? RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER
                                       : RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID,
                              "injected by the fault test");
    failed = run_until(pl, w, 5000, has_failed);
    t0 = now_ms();
    pipeline_close(pl, 20000);
    t0 = now_ms() - t0;
    snprintf(line, sizeof(line), "kafka %s: fatal error", client);
    lines = capture_stop(&cap, line, &total);
    check(failed && !pipeline_ready(pl) && !metrics_ready(),
          "fatal error of the %s: the pipeline failed and is not ready", client);
    check(lines == 1, "said in one line (%ld; %ld lines in all)", lines, total);
    check(t0 < 3000, "closed in %lld ms", t0);
    pipeline_free(pl);
    config_fini(&cfg);
}

static void world_init(struct world *w, rd_kafka_t **host)
{
    static const char *const topics[] = {"orders",
                                         "reviews",
                                         "messages",
                                         "loyalty.rewards",
                                         "loyalty.churn-risk",
                                         "loyalty.segments",
                                         "loyalty.dlq"};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];

    snprintf(w->prefix, sizeof(w->prefix), "fault-%d-%lld:", (int)getpid(), now_ms());
    /* One handle hosts the mock cluster; the feeder is a client of it. */
    if ((*host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL) {
        die("host", err);
    }
    if ((w->mc = rd_kafka_mock_cluster_new(*host, 1)) == NULL) {
        die("mock cluster", "cannot create");
    }
    w->bootstraps = rd_kafka_mock_cluster_bootstraps(w->mc);
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", w->bootstraps, err, sizeof(err)) ||
        (w->feeder = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL) {
        die("feeder", err);
    }
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        rd_kafka_mock_topic_create(w->mc, topics[i], PARTITIONS, 1);
    }
}

int main(void)
{
    static struct rewards rewards;
    static struct dlq dlq;
    char err[512];
    struct world w;
    struct config cfg;
    struct store_opts sopts;
    struct store *store;
    struct pipeline *pl;
    long long committed, t0 = now_ms();
    rd_kafka_t *host;

    world_init(&w, &host);
    metrics_init();
    configure(&cfg, &w, w.prefix, BAD_BOUND);
    log_set_level(cfg.log_level);
    config_store_opts(&cfg, &sopts);
    store = store_new(&sopts);
    if (store == NULL || store_connect(store, err, sizeof(err)) < 0) {
        die("redis", err);
    }
    if ((pl = pipeline_new(&cfg.pipe, cfg.model, store, err, sizeof(err))) == NULL ||
        pipeline_probe(pl, 5000, err, sizeof(err)) < 0 ||
        pipeline_subscribe(pl, err, sizeof(err)) < 0) {
        die("pipeline", err);
    }

    /* The DLQ's before the broker's: once a broker has an error stack of
     * its own for an ApiKey, the mock cluster's is not looked at. */
    produce_failing(pl, &w);
    dlq_blocked(pl, &w);
    broker_down_in_flight(pl, &w);
    run_for(pl, 1000);
    pipeline_close(pl, 10000);

    read_topic(&w, "loyalty.rewards", count_reward, &rewards);
    check(rewards.distinct == WAVES * CUSTOMERS,
          "rewards topic holds %d distinct milestone ids (want %d)", rewards.distinct,
          WAVES * CUSTOMERS);
    check(rewards.messages == rewards.distinct, "and no duplicates (%d messages)",
          rewards.messages);
    read_topic(&w, "loyalty.dlq", count_dead_letter, &dlq);
    check(dlq.distinct == BAD && dlq.messages == BAD,
          "DLQ holds each malformed order once (%d records, %d distinct, want %d)",
          dlq.messages, dlq.distinct, BAD);
    committed = committed_total(&w, w.prefix);
    check(committed == ORDERS_FED, "every input offset committed (%lld of %d)", committed,
          ORDERS_FED);
    pipeline_free(pl);
    config_fini(&cfg);

    fatal_error(&w, store, 1);
    fatal_error(&w, store, 0);

    store_free(store);
    rd_kafka_destroy(w.feeder);
    rd_kafka_mock_cluster_destroy(w.mc);
    rd_kafka_destroy(host);
    metrics_fini();
    printf("fault_kafka: %d passed, %d failed (%lld s)\n", passes, failures,
           (now_ms() - t0) / 1000);
    return failures ? 1 : 0;
}
