#include "base/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/strbuf.h"

#define LAG_MAX   256
#define TASKS_MAX 1024

struct lag_entry {
    char topic[128];
    int32_t partition;
    int64_t lag;
};

/* A histogram: buckets[i] counts observations up to bounds[i] (the last one
 * counts the rest, and all of them the count); the sum is in microseconds. */
struct hist {
    atomic_uint_fast64_t bucket[METRICS_LAT_BUCKETS + 1], us_sum;
};

static struct {
    atomic_uint_fast64_t consumed[MT__COUNT];
    atomic_uint_fast64_t applied, duplicates[METRICS_DUP__COUNT], model_rejected;
    atomic_uint_fast64_t quarantined, customers_quarantined;
    atomic_uint_fast64_t dead[METRICS_REASONS_MAX];
    atomic_uint_fast64_t emitted[OUT__COUNT];
    atomic_uint_fast64_t delivery_failed, republish_skipped, rebalances;
    atomic_uint_fast64_t redis_errors[METRICS_REASONS_MAX];
    atomic_uint_fast64_t sweep_runs, swept;
    atomic_uint_fast64_t counter[MC__COUNT];
    struct hist apply_lat, redis_lat;
    atomic_uint_fast64_t cache_entries, cache_bytes, derived_in_flight;
    atomic_int redis_up, kafka_up, ready, paused, redis_lost, input_reset;
    atomic_uint_fast64_t reloads[2]; /* refused, applied */
    atomic_int last_reload_ok;
    atomic_int_fast64_t last_sweep_ms, last_reload_ms, sweep_interval_ms;
    atomic_int_fast64_t model_version;
    atomic_uint_fast64_t rescore_pending;
    atomic_int rescore_listing;
    int64_t started_ms; /* when metrics_init ran: the process start, near enough */
} m;

/* Upper bounds of the buckets, in seconds: end to end (a message's Kafka
 * timestamp to its state committed) and one Redis round trip. */
static const double apply_bounds[METRICS_LAT_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double redis_bounds[METRICS_LAT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};

static const struct {
    const char *name, *help;
} counters[MC__COUNT] = {
    [MC_MERGE_IDLE_TIMEOUTS] = {"loyaltyd_merge_idle_timeouts_total",
                                "Times a task stopped waiting for an input partition "
                                "that was behind (merge.max_idle_ms)."},
    [MC_LATE_EVENTS] = {"loyaltyd_late_events_total",
                        "Events older than their task's stream time, applied anyway."},
    [MC_MISROUTED] = {"loyaltyd_misrouted_total",
                      "Events for a customer that arrived on another partition number "
                      "than the customer's."},
    [MC_BATCHES] = {"loyaltyd_batches_total", "Batches of merged events committed."},
    [MC_CACHE_HITS] = {"loyaltyd_cache_hits_total", "Customers found in the cache."},
    [MC_CACHE_MISSES] = {"loyaltyd_cache_misses_total", "Customers loaded from Redis."},
    [MC_COMMITS] = {"loyaltyd_commits_total", "Customer commits sent to Redis."},
    [MC_COMMIT_CONFLICTS] =
        {"loyaltyd_commit_conflicts_total",
         "Commits refused because another writer moved the revision."},
    [MC_UNKEYED] = {"loyaltyd_unkeyed_total",
                    "Input events without a message key (producers must key by "
                    "customer_id)."},
    [MC_KEY_MISMATCH] = {"loyaltyd_key_mismatch_total",
                         "Input events whose message key is not their customer_id."},
    [MC_RESCORED] = {"loyaltyd_rescored_total",
                     "Customers evaluated again in the background after a refit."},
    [MC_RESUMED_FROM_REDIS] =
        {"loyaltyd_resumed_from_redis_total",
         "Partitions resumed from the progress in Redis, behind the "
         "group's committed offset (Redis restored from an older "
         "state: the window it lost applied again)."},
    [MC_REVOKED_UNAPPLIED] = {"loyaltyd_revoked_unapplied_total",
                              "Input messages consumed but not applied when their "
                              "partition was revoked (its next owner reads them "
                              "again)."},
    [MC_REDIS_MOVED] = {"loyaltyd_redis_moved_total",
                        "Commands a Redis Cluster redirected with MOVED (a slot "
                        "that moved to another master), sent again there."},
    [MC_REDIS_ASK] = {"loyaltyd_redis_ask_total",
                      "Commands a Redis Cluster redirected with ASK (a slot being "
                      "migrated), sent again to its new master."},
    [MC_REDIS_TRYAGAIN] = {"loyaltyd_redis_tryagain_total",
                           "Commands a Redis Cluster answered with TRYAGAIN or "
                           "CLUSTERDOWN, tried again after a pause."},
    [MC_STATE_REWOUND] = {"loyaltyd_state_rewound_total",
                          "Commits that found a customer's state in Redis older than "
                          "this instance had committed: writes Redis acknowledged, "
                          "then lost (a failover or restart without "
                          "redis.wait_replicas)."},
    [MC_FX_STALE_RATE] = {"loyaltyd_fx_stale_rate_total",
                          "Amounts converted with an exchange rate older than "
                          "money.max_rate_age_days."},
};

static pthread_mutex_t lag_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lag_entry lag[LAG_MAX];
static size_t n_lag;
/* Event-time lag of each task, by partition number; -1: not a task of ours. */
static double task_lag[TASKS_MAX];
/* Per task: due times evaluated (since start), and the due timers at or
 * before the task's timer clock not yet evaluated (count, -1: not known) and
 * how far behind that clock the oldest one is. */
static atomic_uint_fast64_t timers_fired[TASKS_MAX];
static double timers_overdue[TASKS_MAX];
static double timers_overdue_s[TASKS_MAX];

static const char *const *reason_names;
static int n_reasons;
static const char *const *redis_reason_names;
static int n_redis_reasons;

/* The input topics' names, the `topic` label (as in loyaltyd_consumer_lag). */
static char topic_text[MT__COUNT][256] = {"orders", "reviews", "messages"};
static const char *const topic_names[MT__COUNT] = {
    topic_text[MT_ORDERS], topic_text[MT_REVIEWS], topic_text[MT_MESSAGES]};

#define INC(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define GET(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

void metrics_init(void)
{
    memset(&m, 0, sizeof(m));
    m.started_ms = wall_ms();
    atomic_store(&m.last_reload_ok, 1);
    metrics_clear_lag();
}

void metrics_set_topics(const char *orders, const char *reviews, const char *messages)
{
    const char *names[MT__COUNT] = {orders, reviews, messages};

    for (int i = 0; i < MT__COUNT; i++) {
        snprintf(topic_text[i], sizeof(topic_text[i]), "%s", names[i]);
    }
}

void metrics_fini(void)
{
    metrics_clear_lag();
}

void metrics_consumed(enum metric_topic t)
{
    INC(m.consumed[t]);
}

void metrics_applied(void)
{
    INC(m.applied);
}

static const char *const dup_names[METRICS_DUP__COUNT] = {"offset", "event_id",
                                                          "order_id"};

void metrics_duplicate(int why)
{
    if (why >= 0 && why < METRICS_DUP__COUNT) {
        INC(m.duplicates[why]);
    }
}

void metrics_reasons(const char *const *names, int n)
{
    reason_names = names;
    n_reasons = n < METRICS_REASONS_MAX ? n : METRICS_REASONS_MAX;
}

void metrics_dead_lettered(int r)
{
    if (r <= 0 || r >= METRICS_REASONS_MAX) {
        return;
    }
    INC(m.dead[r]);
}

void metrics_model_rejected(void)
{
    INC(m.model_rejected);
}

void metrics_quarantined(void)
{
    INC(m.quarantined);
}

void metrics_customer_quarantined(void)
{
    INC(m.customers_quarantined);
}

void metrics_emitted(enum out_kind k)
{
    INC(m.emitted[k]);
}

void metrics_delivery_failed(void)
{
    INC(m.delivery_failed);
}

void metrics_republish_skipped(void)
{
    INC(m.republish_skipped);
}

static void observe(struct hist *h, const double *bounds, int64_t us)
{
    size_t b = 0;

    if (us < 0) {
        us = 0;
    }
    while (b < METRICS_LAT_BUCKETS && (double)us > bounds[b] * 1e6) {
        b++;
    }
    INC(h->bucket[b]);
    atomic_fetch_add_explicit(&h->us_sum, (uint64_t)us, memory_order_relaxed);
}

void metrics_redis_latency(int64_t us)
{
    observe(&m.redis_lat, redis_bounds, us);
}

void metrics_add(enum metric_counter c, uint64_t n)
{
    atomic_fetch_add_explicit(&m.counter[c], n, memory_order_relaxed);
}

void metrics_apply_latency(int64_t us)
{
    observe(&m.apply_lat, apply_bounds, us);
}

void metrics_set_sweep_interval(int64_t ms)
{
    atomic_store(&m.sweep_interval_ms, ms);
}

void metrics_set_rescore(int64_t version, size_t pending, int counting)
{
    atomic_store(&m.model_version, version);
    atomic_store(&m.rescore_pending, pending);
    atomic_store(&m.rescore_listing, counting);
}

void metrics_set_derived_in_flight(size_t n)
{
    atomic_store(&m.derived_in_flight, n);
}

void metrics_set_cache(size_t entries, size_t bytes)
{
    atomic_store(&m.cache_entries, entries);
    atomic_store(&m.cache_bytes, bytes);
}

void metrics_redis_error_reasons(const char *const *names, int n)
{
    redis_reason_names = names;
    n_redis_reasons = n < METRICS_REASONS_MAX ? n : METRICS_REASONS_MAX;
}

void metrics_redis_error(int reason)
{
    if (reason >= 0 && reason < METRICS_REASONS_MAX) {
        INC(m.redis_errors[reason]);
    }
}

void metrics_rebalance(void)
{
    INC(m.rebalances);
}

void metrics_sweep_run(size_t customers)
{
    INC(m.sweep_runs);
    atomic_fetch_add_explicit(&m.swept, customers, memory_order_relaxed);
    atomic_store(&m.last_sweep_ms, wall_ms());
}

void metrics_reload(int applied)
{
    INC(m.reloads[applied ? 1 : 0]);
    atomic_store(&m.last_reload_ok, applied ? 1 : 0);
    atomic_store(&m.last_reload_ms, wall_ms());
}

void metrics_set_redis_lost(int lost)
{
    atomic_store(&m.redis_lost, lost);
}

void metrics_set_input_reset(int reset)
{
    atomic_store(&m.input_reset, reset);
}

void metrics_set_redis_up(int up)
{
    atomic_store(&m.redis_up, up);
}

void metrics_set_kafka_up(int up)
{
    atomic_store(&m.kafka_up, up);
}

void metrics_set_ready(int ready)
{
    atomic_store(&m.ready, ready);
}

void metrics_set_paused(int paused)
{
    atomic_store(&m.paused, paused);
}

int metrics_ready(void)
{
    return atomic_load(&m.ready);
}

void metrics_set_lag(const char *topic, int32_t partition, int64_t lag_value)
{
    pthread_mutex_lock(&lag_lock);
    for (size_t i = 0; i < n_lag; i++) {
        if (lag[i].partition == partition && strcmp(lag[i].topic, topic) == 0) {
            lag[i].lag = lag_value;
            goto out;
        }
    }
    if (n_lag < LAG_MAX) {
        snprintf(lag[n_lag].topic, sizeof(lag[n_lag].topic), "%s", topic);
        lag[n_lag].partition = partition;
        lag[n_lag++].lag = lag_value;
    }
out:
    pthread_mutex_unlock(&lag_lock);
}

int64_t metrics_lag(const char *topic, int32_t partition)
{
    int64_t v = -1;

    pthread_mutex_lock(&lag_lock);
    for (size_t i = 0; i < n_lag; i++) {
        if (lag[i].partition == partition && strcmp(lag[i].topic, topic) == 0) {
            v = lag[i].lag;
        }
    }
    pthread_mutex_unlock(&lag_lock);
    return v;
}

void metrics_clear_lag(void)
{
    pthread_mutex_lock(&lag_lock);
    n_lag = 0;
    for (size_t i = 0; i < TASKS_MAX; i++) {
        task_lag[i] = -1;
        timers_overdue[i] = timers_overdue_s[i] = -1;
    }
    pthread_mutex_unlock(&lag_lock);
}

void metrics_set_task_lag(int32_t partition, double seconds)
{
    if (partition < 0 || partition >= TASKS_MAX) {
        return;
    }
    pthread_mutex_lock(&lag_lock);
    task_lag[partition] = seconds;
    pthread_mutex_unlock(&lag_lock);
}

void metrics_timers_fired(int32_t partition, uint64_t n)
{
    if (partition >= 0 && partition < TASKS_MAX && n > 0) {
        atomic_fetch_add_explicit(&timers_fired[partition], n, memory_order_relaxed);
    }
}

void metrics_set_timers_overdue(int32_t partition, int64_t count, double oldest_s)
{
    if (partition < 0 || partition >= TASKS_MAX) {
        return;
    }
    pthread_mutex_lock(&lag_lock);
    timers_overdue[partition] = (double)count;
    timers_overdue_s[partition] = oldest_s;
    pthread_mutex_unlock(&lag_lock);
}

uint64_t metrics_applied_total(void)
{
    return GET(m.applied);
}

uint64_t metrics_dead_lettered_total(void)
{
    uint64_t n = 0;

    for (int i = 0; i < METRICS_REASONS_MAX; i++) {
        n += GET(m.dead[i]);
    }
    return n;
}

uint64_t metrics_emitted_count(enum out_kind k)
{
    return GET(m.emitted[k]);
}

uint64_t metrics_emitted_total(void)
{
    uint64_t n = 0;

    for (int i = 0; i < OUT__COUNT; i++) {
        n += GET(m.emitted[i]);
    }
    return n;
}

uint64_t metrics_delivery_failures_total(void)
{
    return GET(m.delivery_failed);
}

static void head(struct strbuf *o, const char *name, const char *type, const char *help)
{
    strbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The samples of a counter by one label: family{label="names[i]"} v[i] for
 * each i from `from` to n - 1. */
static void put_labelled(struct strbuf *o, const char *family, const char *label,
                         const char *const *names, atomic_uint_fast64_t *v, int from,
                         int n)
{
    for (int i = from; i < n; i++) {
        strbuf_printf(o, "%s{%s=\"%s\"} %llu\n", family, label, names[i], GET(v[i]));
    }
}

static void render_counters(struct strbuf *o)
{
    head(o, "loyaltyd_consumed_total", "counter", "Input messages consumed.");
    put_labelled(o, "loyaltyd_consumed_total", "topic", topic_names, m.consumed, 0,
                 MT__COUNT);
    head(o, "loyaltyd_applied_total", "counter", "Events applied to the state.");
    strbuf_printf(o, "loyaltyd_applied_total %llu\n", GET(m.applied));
    head(o, "loyaltyd_duplicates_skipped_total", "counter",
         "Events skipped because already applied, by how they were recognised: "
         "offset (a replay), event_id or order_id (re-sent upstream).");
    put_labelled(o, "loyaltyd_duplicates_skipped_total", "why", dup_names, m.duplicates,
                 0, METRICS_DUP__COUNT);
    head(o, "loyaltyd_dead_lettered_total", "counter",
         "Messages sent to the DLQ, by reason.");
    put_labelled(o, "loyaltyd_dead_lettered_total", "reason", reason_names, m.dead, 1,
                 n_reasons);
    strbuf_printf(o, "loyaltyd_dead_lettered_total{reason=\"model_rejected\"} %llu\n",
                  GET(m.model_rejected));
    strbuf_printf(o, "loyaltyd_dead_lettered_total{reason=\"quarantined\"} %llu\n",
                  GET(m.quarantined));
    head(o, "loyaltyd_customers_quarantined_total", "counter",
         "Customers set aside because their stored state cannot be read.");
    strbuf_printf(o, "loyaltyd_customers_quarantined_total %llu\n",
                  GET(m.customers_quarantined));
    head(o, "loyaltyd_emitted_total", "counter", "Derived events delivered, by type.");
    put_labelled(o, "loyaltyd_emitted_total", "type", out_kind_names, m.emitted, 0,
                 OUT__COUNT);
    head(o, "loyaltyd_delivery_failures_total", "counter",
         "Produce attempts that failed and were retried.");
    strbuf_printf(o, "loyaltyd_delivery_failures_total %llu\n", GET(m.delivery_failed));
    head(o, "loyaltyd_republish_skipped_total", "counter",
         "Derived events of a batch run again after its commit failed that were not "
         "published again (delivered by the earlier run).");
    strbuf_printf(o, "loyaltyd_republish_skipped_total %llu\n", GET(m.republish_skipped));
    head(o, "loyaltyd_redis_errors_total", "counter",
         "Redis failures that held input back (a batch, a sweep, a probe, a progress "
         "write or a reconnect attempt), by reason.");
    put_labelled(o, "loyaltyd_redis_errors_total", "reason", redis_reason_names,
                 m.redis_errors, 0, n_redis_reasons);
    head(o, "loyaltyd_rebalances_total", "counter", "Consumer group rebalances.");
    strbuf_printf(o, "loyaltyd_rebalances_total %llu\n", GET(m.rebalances));
    head(o, "loyaltyd_sweeper_runs_total", "counter", "Sweeper runs.");
    strbuf_printf(o, "loyaltyd_sweeper_runs_total %llu\n", GET(m.sweep_runs));
    head(o, "loyaltyd_sweeper_customers_total", "counter",
         "Customers re-evaluated by the sweeper.");
    strbuf_printf(o, "loyaltyd_sweeper_customers_total %llu\n", GET(m.swept));
    for (int i = 0; i < MC__COUNT; i++) {
        head(o, counters[i].name, "counter", counters[i].help);
        strbuf_printf(o, "%s %llu\n", counters[i].name, GET(m.counter[i]));
    }
}

static void render_hist(struct strbuf *o, const char *name, const char *help,
                        struct hist *h, const double *bounds)
{
    unsigned long long cum = 0;

    head(o, name, "histogram", help);
    for (int b = 0; b < METRICS_LAT_BUCKETS; b++) {
        cum += GET(h->bucket[b]);
        strbuf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b], cum);
    }
    cum += GET(h->bucket[METRICS_LAT_BUCKETS]);
    strbuf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
    strbuf_printf(o, "%s_sum %.6f\n", name, GET(h->us_sum) / 1e6);
    strbuf_printf(o, "%s_count %llu\n", name, cum);
}

static void render_latency(struct strbuf *o)
{
    render_hist(o, "loyaltyd_apply_latency_seconds",
                "From an input message's Kafka timestamp to its state change committed.",
                &m.apply_lat, apply_bounds);
    render_hist(o, "loyaltyd_redis_latency_seconds", "Redis round trips.", &m.redis_lat,
                redis_bounds);
    head(o, "loyaltyd_derived_in_flight", "gauge",
         "Derived events handed to Kafka and not yet acknowledged (their batch commits "
         "once they are).");
    strbuf_printf(o, "loyaltyd_derived_in_flight %llu\n", GET(m.derived_in_flight));
    head(o, "loyaltyd_cache_customers", "gauge", "Customers held in the cache.");
    strbuf_printf(o, "loyaltyd_cache_customers %llu\n", GET(m.cache_entries));
    head(o, "loyaltyd_cache_bytes", "gauge", "Memory held by the cache.");
    strbuf_printf(o, "loyaltyd_cache_bytes %llu\n", GET(m.cache_bytes));
}

/* One sample of `name` per task of this instance (lag_lock held) whose value
 * is known (v[i] >= 0), with `decimals` digits. */
static void put_per_task(struct strbuf *o, const char *name, const double *v,
                         int decimals)
{
    for (int i = 0; i < TASKS_MAX; i++) {
        if (task_lag[i] >= 0 && v[i] >= 0) {
            strbuf_printf(o, "%s{partition=\"%d\"} %.*f\n", name, i, decimals, v[i]);
        }
    }
}
static void render_gauges(struct strbuf *o)
{
    render_latency(o);
    head(o, "loyaltyd_redis_up", "gauge", "1 when Redis is usable.");
    strbuf_printf(o, "loyaltyd_redis_up %d\n", atomic_load(&m.redis_up));
    head(o, "loyaltyd_redis_state_lost", "gauge",
         "1 when Redis lost state it had acknowledged (nothing is applied until an "
         "operator decides, or the process restarts to apply the lost window again).");
    strbuf_printf(o, "loyaltyd_redis_state_lost %d\n", atomic_load(&m.redis_lost));
    head(o, "loyaltyd_input_reset", "gauge",
         "1 when an input partition no longer holds offsets already read from it (the "
         "topic was recreated or truncated, or retention passed the group): nothing is "
         "applied until an operator decides.");
    strbuf_printf(o, "loyaltyd_input_reset %d\n", atomic_load(&m.input_reset));
    head(o, "loyaltyd_kafka_up", "gauge", "1 when a Kafka broker is reachable.");
    strbuf_printf(o, "loyaltyd_kafka_up %d\n", atomic_load(&m.kafka_up));
    head(o, "loyaltyd_ready", "gauge", "1 when /ready answers 200.");
    strbuf_printf(o, "loyaltyd_ready %d\n", atomic_load(&m.ready));
    head(o, "loyaltyd_paused", "gauge", "1 while input partitions are paused.");
    strbuf_printf(o, "loyaltyd_paused %d\n", atomic_load(&m.paused));
    head(o, "loyaltyd_consumer_lag", "gauge", "Messages behind the partition's end.");
    pthread_mutex_lock(&lag_lock);
    for (size_t i = 0; i < n_lag; i++) {
        strbuf_printf(o, "loyaltyd_consumer_lag{topic=\"%s\",partition=\"%d\"} %lld\n",
                      lag[i].topic, (int)lag[i].partition, (long long)lag[i].lag);
    }
    head(o, "loyaltyd_event_time_lag_seconds", "gauge",
         "Per task: how old the oldest input message not yet applied is (0: caught up).");
    put_per_task(o, "loyaltyd_event_time_lag_seconds", task_lag, 3);
    head(o, "loyaltyd_timers_overdue", "gauge",
         "Per task: due timers at or before the task's timer clock (its stream time, or "
         "the wall clock once its input is caught up) not yet fired.");
    put_per_task(o, "loyaltyd_timers_overdue", timers_overdue, 0);
    head(o, "loyaltyd_timer_overdue_seconds", "gauge",
         "Per task: how far behind the task's timer clock the oldest due timer not yet "
         "fired is (0: none).");
    put_per_task(o, "loyaltyd_timer_overdue_seconds", timers_overdue_s, 3);
    pthread_mutex_unlock(&lag_lock);
    head(o, "loyaltyd_timers_fired_total", "counter",
         "Per task: due times evaluated, before a customer's event or by the sweeper.");
    for (int i = 0; i < TASKS_MAX; i++) {
        uint64_t n = atomic_load_explicit(&timers_fired[i], memory_order_relaxed);

        if (n > 0) {
            strbuf_printf(o, "loyaltyd_timers_fired_total{partition=\"%d\"} %llu\n", i,
                          (unsigned long long)n);
        }
    }
}

/* The process_* families every Prometheus client exports, from /proc. */
static void render_process(struct strbuf *o)
{
    static long ticks, page;
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0, btime = 0;
    long long rss = 0;
    char buf[1024], *p;
    struct rlimit rl;
    size_t fds = 0;
    FILE *f;
    DIR *d;

    if (ticks == 0) {
        ticks = sysconf(_SC_CLK_TCK);
        page = sysconf(_SC_PAGESIZE);
    }
    if ((f = fopen("/proc/self/stat", "r")) != NULL) {
        /* After the command name, which may hold spaces: field 3 on. */
        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL) {
            (void)sscanf(p + 2,
                         "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
                         "%*d %*d %*d %*d %llu %llu %lld",
                         &utime, &stime, &start, &vsize, &rss);
        }
        fclose(f);
    }
    if ((f = fopen("/proc/stat", "r")) != NULL) {
        while (fgets(buf, sizeof(buf), f)) {
            if (sscanf(buf, "btime %llu", &btime) == 1) {
                break;
            }
        }
        fclose(f);
    }
    if ((d = opendir("/proc/self/fd")) != NULL) {
        struct dirent *e;

        while ((e = readdir(d)) != NULL) {
            fds += e->d_name[0] != '.';
        }
        closedir(d);
        fds--; /* the directory's own */
    }
    head(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    strbuf_printf(o, "process_cpu_seconds_total %.2f\n",
                  (double)(utime + stime) / (double)ticks);
    head(o, "process_resident_memory_bytes", "gauge", "Resident memory size.");
    strbuf_printf(o, "process_resident_memory_bytes %lld\n", rss * page);
    head(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size.");
    strbuf_printf(o, "process_virtual_memory_bytes %llu\n", vsize);
    head(o, "process_start_time_seconds", "gauge", "Start time since the epoch.");
    /* The boot time is in /proc/stat, which a unit with ProcSubset=pid
     * does not see: then the time the metrics were set up stands in. */
    strbuf_printf(o, "process_start_time_seconds %.2f\n",
                  btime > 0 ? (double)btime + (double)start / (double)ticks
                            : (double)m.started_ms / 1000.0);
    head(o, "process_open_fds", "gauge", "Open file descriptors.");
    strbuf_printf(o, "process_open_fds %zu\n", fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        head(o, "process_max_fds", "gauge", "Limit of open file descriptors.");
        strbuf_printf(o, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}

static void render_info(struct strbuf *o)
{
    int64_t sweep = atomic_load(&m.last_sweep_ms);

    head(o, "loyaltyd_build_info", "gauge", "The running build (value 1).");
    strbuf_printf(o, "loyaltyd_build_info{version=\"%s\"} 1\n", LOYALTY_VERSION);
    head(o, "loyaltyd_config_reloads_total", "counter",
         "SIGHUP reloads, by result (refused: the file did not load).");
    strbuf_printf(o, "loyaltyd_config_reloads_total{result=\"applied\"} %llu\n",
                  GET(m.reloads[1]));
    strbuf_printf(o, "loyaltyd_config_reloads_total{result=\"refused\"} %llu\n",
                  GET(m.reloads[0]));
    head(o, "loyaltyd_config_last_reload_successful", "gauge",
         "0 when the last SIGHUP reload was refused (1 before any).");
    strbuf_printf(o, "loyaltyd_config_last_reload_successful %d\n",
                  atomic_load(&m.last_reload_ok));
    head(o, "loyaltyd_config_last_reload_timestamp_seconds", "gauge",
         "When the last SIGHUP reload was tried (0: none yet).");
    strbuf_printf(o, "loyaltyd_config_last_reload_timestamp_seconds %.3f\n",
                  (double)atomic_load(&m.last_reload_ms) / 1000.0);
    head(o, "loyaltyd_model_version", "gauge",
         "Version of the model parameters in use (one more per saved fit; 0: defaults).");
    strbuf_printf(o, "loyaltyd_model_version %lld\n",
                  (long long)atomic_load(&m.model_version));
    head(o, "loyaltyd_rescore_pending", "gauge",
         "Customers of this instance's partitions still on an older model version.");
    strbuf_printf(o, "loyaltyd_rescore_pending %llu\n", GET(m.rescore_pending));
    head(o, "loyaltyd_rescore_listing", "gauge",
         "1 while those customers are being counted (pending may still grow).");
    strbuf_printf(o, "loyaltyd_rescore_listing %d\n", atomic_load(&m.rescore_listing));
    head(o, "loyaltyd_sweep_interval_seconds", "gauge",
         "sweep.interval_s: how often the sweeper runs (0: disabled).");
    strbuf_printf(o, "loyaltyd_sweep_interval_seconds %.3f\n",
                  (double)atomic_load(&m.sweep_interval_ms) / 1000.0);
    head(o, "loyaltyd_last_sweep_timestamp_seconds", "gauge",
         "When the last sweeper pass ended (0: none yet).");
    strbuf_printf(o, "loyaltyd_last_sweep_timestamp_seconds %.3f\n",
                  (double)sweep / 1000.0);
}

char *metrics_render(void)
{
    struct strbuf o = {0};

    render_info(&o);
    render_counters(&o);
    render_gauges(&o);
    render_process(&o);
    return strbuf_detach(&o);
}
