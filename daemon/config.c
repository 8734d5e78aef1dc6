#include "daemon/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/array.h"
#include "base/cfgtab.h"
#include "base/currency.h"
#include "base/log.h"
#include "base/names.h"
#include "consumers/kconf.h"
#include "daemon/http.h"
#include "state/model/model.h"
#include "state/store/slot.h"
#include "state/store/store.h"

/* A hook for each key the engine does not read itself.  A word its key's
 * help does not list is refused with CFGTAB_NOT_LISTED, and the error then
 * quotes the help. */

static void *slot(void *cfg, const struct cfgtab_key *k)
{
    return (char *)cfg + k->offset;
}

/* The int field of k set to v, the index of the value's word among those the
 * key lists; CFGTAB_NOT_LISTED for -1, none of them. */
static int set_index(void *cfg, const struct cfgtab_key *k, int v)
{
    if (v < 0) {
        return CFGTAB_NOT_LISTED;
    }
    *(int *)slot(cfg, k) = v;
    return 0;
}

static int parse_clock(void *cfg, const struct cfgtab_key *k, const char *value,
                       char *why, size_t whylen)
{
    static const char *const words[] = {[CLOCK_WALL] = "wall", [CLOCK_STREAM] = "stream"};
    int v = names_index(words, NAMES_COUNT(words), value);

    (void)why;
    (void)whylen;
    if (v < 0) {
        return CFGTAB_NOT_LISTED;
    }
    *(enum clock_mode *)slot(cfg, k) = (enum clock_mode)v;
    return 0;
}

static int parse_log_level(void *cfg, const struct cfgtab_key *k, const char *value,
                           char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    return set_index(cfg, k, log_level_parse(value));
}

static int parse_log_format(void *cfg, const struct cfgtab_key *k, const char *value,
                            char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    return set_index(cfg, k, log_format_parse(value));
}

/* pipe.bad_key_apply: 0 dead-letters, 1 applies. */
static int parse_bad_key(void *cfg, const struct cfgtab_key *k, const char *value,
                         char *why, size_t whylen)
{
    static const char *const words[] = {"dlq", "apply"};

    (void)why;
    (void)whylen;
    return set_index(cfg, k, names_index(words, NAMES_COUNT(words), value));
}

/* reward.currency: reporting or order, kept in the model's tunables too. */
static int parse_reward_currency(void *cfg, const struct cfgtab_key *k, const char *value,
                                 char *why, size_t whylen)
{
    static const char *const words[] = {"reporting", "order"};
    int v = names_index(words, NAMES_COUNT(words), value);

    (void)why;
    (void)whylen;
    if (v >= 0) {
        model_config_reward_currency(((struct config *)cfg)->model, v);
    }
    return set_index(cfg, k, v);
}

/* pipe.money.currency: "" (none), or an active ISO 4217 code. */
static int parse_money_currency(void *cfg, const struct cfgtab_key *k, const char *value,
                                char *why, size_t whylen)
{
    char *dst = slot(cfg, k);

    if (value[0] && (strlen(value) != 3 || currency_exponent(value) < 0)) {
        snprintf(why, whylen,
                 "'%s' is not an ISO 4217 currency code (EUR, USD, JPY, ...)", value);
        return -1;
    }
    memset(dst, 0, k->size);
    memcpy(dst, value, strlen(value));
    return 0;
}

/* pipe.redis_lost_replay: 0 refuses, 1 replays. */
static int parse_lost(void *cfg, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    static const char *const words[] = {"refuse", "replay"};

    (void)why;
    (void)whylen;
    return set_index(cfg, k, names_index(words, NAMES_COUNT(words), value));
}

/* fit.gate: 0 off, 1 validate. */
static int parse_gate(void *cfg, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    static const char *const words[] = {"off", "validate"};

    (void)why;
    (void)whylen;
    return set_index(cfg, k, names_index(words, NAMES_COUNT(words), value));
}

/* "risk, value" -> the STORE_IDX_* bits; "" -> none. */
static int parse_indices(void *cfg, const struct cfgtab_key *k, const char *value,
                         char *why, size_t whylen)
{
    const char *p = value;
    unsigned mask = 0;

    while (*p != '\0') {
        size_t n;
        int idx;

        p += strspn(p, " \t,");
        n = strcspn(p, " \t,");
        if (n == 0) {
            break;
        }
        if ((idx = store_index_parse(p, n)) < 0) {
            snprintf(why, whylen, "'%.*s' is not an index (risk, loyalty, clv, value)",
                     (int)n, p);
            return -1;
        }
        mask |= 1u << idx;
        p += n;
    }
    *(unsigned *)slot(cfg, k) = mask;
    return 0;
}

/* "" (the endpoint disabled) or ADDRESS:PORT. */
static int check_listen(void *cfg, const struct cfgtab_key *k, const char *value,
                        char *why, size_t whylen)
{
    (void)cfg;
    (void)k;
    return value[0] ? http_check_listen(value, why, whylen) : 0;
}

/* "" (one Redis) or a seed list HOST:PORT,HOST:PORT,... */
static int check_cluster(void *cfg, const struct cfgtab_key *k, const char *value,
                         char *why, size_t whylen)
{
    struct slot_nodes seeds = {0};
    int rc = 0;

    (void)cfg;
    (void)k;
    if (value[0] != '\0') {
        rc = slot_seeds_parse(value, &seeds, why, whylen) < 0 ? -1 : 0;
        array_free(&seeds);
    }
    return rc;
}

#define FIELD(f) CFGTAB_FIELD(struct config, f)

/* The one table of the daemon's own keys.  Order is the order of --help-config.
 * CFGTAB_NONEMPTY: empty, a topic, the group or the key prefix would make the
 * daemon read, write or join the wrong thing. */
static const struct cfgtab_key cfg_keys[] = {
    {"topic.orders", CFGTAB_STR, FIELD(pipe.topic[TOPIC_ORDERS]), "orders", 0, 0,
     "input topic of order.* events", CFGTAB_NONEMPTY, NULL},
    {"topic.reviews", CFGTAB_STR, FIELD(pipe.topic[TOPIC_REVIEWS]), "reviews", 0, 0,
     "input topic of review.posted", CFGTAB_NONEMPTY, NULL},
    {"topic.messages", CFGTAB_STR, FIELD(pipe.topic[TOPIC_MESSAGES]), "messages", 0, 0,
     "input topic of message.sent", CFGTAB_NONEMPTY, NULL},
    {"topic.churn_risk", CFGTAB_STR, FIELD(pipe.topic[TOPIC_OUT + OUT_CHURN_RISK]),
     "loyalty.churn-risk", 0, 0, "output topic of churn-risk events", CFGTAB_NONEMPTY,
     NULL},
    {"topic.rewards", CFGTAB_STR, FIELD(pipe.topic[TOPIC_OUT + OUT_REWARD]),
     "loyalty.rewards", 0, 0, "output topic of reward-trigger events", CFGTAB_NONEMPTY,
     NULL},
    {"topic.segments", CFGTAB_STR, FIELD(pipe.topic[TOPIC_OUT + OUT_SEGMENT]),
     "loyalty.segments", 0, 0,
     "output topic of segment-change events (a customer's segment, brand type or "
     "loyalty type changed)",
     CFGTAB_NONEMPTY, NULL},
    {"topic.dlq", CFGTAB_STR, FIELD(pipe.topic[TOPIC_DLQ]), "loyalty.dlq", 0, 0,
     "dead-letter topic of rejected input", CFGTAB_NONEMPTY, NULL},
    {"group.id", CFGTAB_STR, FIELD(pipe.group_id), "loyaltyd", 0, 0,
     "Kafka consumer group", CFGTAB_NONEMPTY, NULL},
    {"group.instance_id", CFGTAB_STR, FIELD(pipe.group_instance_id), "", 0, 0,
     "static group membership (Kafka group.instance.id, unique in the group): an "
     "instance back within the session timeout gets its partitions again without a "
     "rebalance; empty: $LOYALTYD_INSTANCE if set (loyaltyd@NAME.service sets it to "
     "HOST-NAME), else a dynamic member",
     0, NULL},
    {"redis.cluster", CFGTAB_STR, FIELD(redis_cluster), "", 0, 0,
     "seed nodes of a Redis Cluster, HOST:PORT,HOST:PORT,... (empty: the one Redis of "
     "redis.host and redis.port; set, those and redis.db may not be); the user, "
     "password and timeout apply to every node",
     0, check_cluster},
    {"redis.host", CFGTAB_STR, FIELD(redis_host), "127.0.0.1", 0, 0,
     "Redis host or unix socket path", CFGTAB_NONEMPTY, NULL},
    {"redis.port", CFGTAB_INT, FIELD(redis_port), "6379", 0, 65535,
     "Redis port (0 = unix socket)", 0, NULL},
    {"redis.user", CFGTAB_STR, FIELD(redis_user), "", 0, 0,
     "Redis ACL user (empty: the default user); README, \"Security\", gives the "
     "least-privilege rule for it",
     0, NULL},
    {"redis.password_file", CFGTAB_STR, FIELD(redis_password_file), "", 0, 0,
     "file holding the Redis password (never put the password itself in the config)", 0,
     NULL},
    {"redis.db", CFGTAB_INT, FIELD(redis_db), "0", 0, 1000, "Redis database number", 0,
     NULL},
    {"redis.prefix", CFGTAB_STR, FIELD(redis_prefix), "loyalty:", 0, 0,
     "prefix of every key (several shops can share one Redis)", CFGTAB_NONEMPTY, NULL},
    {"redis.lost", CFGTAB_CUSTOM, FIELD(pipe.redis_lost_replay), "refuse", 0, 0,
     "when Redis holds no state under the prefix but the consumer group has committed "
     "offsets (Redis lost its data): 'refuse' (apply nothing, not ready, until an "
     "operator decides) or 'replay' (rebuild the state from the earliest retained "
     "offsets)",
     0, parse_lost},
    {"redis.indices", CFGTAB_CUSTOM, FIELD(redis_indices), "risk,value", 0, 0,
     "the operators' sorted sets kept for loyaltyctl top, comma-separated: risk, "
     "loyalty, "
     "clv, value (empty: none; each costs about 100 bytes per customer in Redis, and one "
     "left out is deleted at start)",
     0, parse_indices},
    {"redis.timeout_ms", CFGTAB_INT, FIELD(redis_timeout_ms), "2000", 10, 600000,
     "connect and command timeout", 0, NULL},
    {"redis.wait_replicas", CFGTAB_INT, FIELD(pipe.wait_replicas), "0", 0, 16,
     "a batch's progress is recorded (and its input offsets stored) only once WAIT "
     "confirms its writes reached this many replicas of every master written; "
     "fewer within half of redis.timeout_ms and the batch is tried again "
     "(README, \"Redis Cluster\"); 0: no wait",
     0, NULL},
    {"http.listen", CFGTAB_STR, FIELD(http_listen), "127.0.0.1:9464", 0, 0,
     "address of /metrics, /health, /ready; empty disables", 0, check_listen},
    {"clock", CFGTAB_CUSTOM, FIELD(pipe.clock), "wall", 0, 0,
     "'wall': now is the wall clock; 'stream': now is the newest event time (replay)", 0,
     parse_clock},
    {"log.level", CFGTAB_CUSTOM, FIELD(log_level), "info", 0, 0,
     "error, warning, notice, info or debug", CFGTAB_IN_PLACE, parse_log_level},
    {"log.format", CFGTAB_CUSTOM, FIELD(log_format), "auto", 0, 0,
     "auto (journal when stderr is the journal, else text), journal (<N> prefixes), text "
     "(UTC time and level) or json (one object per line)",
     0, parse_log_format},
    {"input.bad_key", CFGTAB_CUSTOM, FIELD(pipe.bad_key_apply), "dlq", 0, 0,
     "an event without a message key or keyed by another than its customer_id: 'dlq' "
     "(dead-lettered, reason bad_key) or 'apply' (applied and counted)",
     0, parse_bad_key},
    {"money.currency", CFGTAB_CUSTOM, FIELD(pipe.money.currency), "", 0, 0,
     "the reporting currency every amount is converted to, at the exchange rate in force "
     "on its event's day (loyaltyctl fx import); empty: amounts summed as given",
     0, parse_money_currency},
    {"reward.currency", CFGTAB_CUSTOM, FIELD(reward_currency), "reporting", 0, 0,
     "what a reward's coupon, cashback or gift value is stated in: 'reporting' (the "
     "money.currency, or the customer's first order's without one) or 'order' (the "
     "currency of the customer's latest order, converted at that order's rate); a "
     "reload applies it with the model's tunables",
     CFGTAB_IN_PLACE, parse_reward_currency},
    {"money.max_rate_age_days", CFGTAB_INT, FIELD(pipe.money.max_rate_age_days), "7", 0,
     36500,
     "an exchange rate older than this on its event's day still converts, counted in "
     "loyaltyd_fx_stale_rate_total",
     0, NULL},
    {"limits.max_message_bytes", CFGTAB_SIZE, FIELD(pipe.limits.max_message_bytes),
     "1048576", 64, 64 << 20, "larger input messages are dead-lettered", 0, NULL},
    {"limits.max_depth", CFGTAB_INT, FIELD(pipe.limits.max_depth), "32", 2, 1000,
     "deeper JSON nesting is dead-lettered", 0, NULL},
    {"limits.max_amount", CFGTAB_DOUBLE, FIELD(pipe.limits.max_amount), "1e9", 0, 1e15,
     "larger amounts are dead-lettered", 0, NULL},
    {"limits.max_future_skew_s", CFGTAB_SECS64, FIELD(pipe.limits.max_future_skew_ms),
     "86400", 0, 31536000, "event times further in the future are dead-lettered", 0,
     NULL},
    {"dlq.max_payload_bytes", CFGTAB_INT, FIELD(pipe.dlq_max_payload_bytes), "65536", 64,
     16 << 20, "longer rejected messages keep only this prefix in the DLQ record", 0,
     NULL},
    {"sweep.interval_s", CFGTAB_SECS, FIELD(sweep_interval_ms), "60", 0, 86400,
     "how often the sweeper looks for due customers (0 disables)", 0, NULL},
    {"sweep.batch", CFGTAB_INT, FIELD(pipe.sweep_batch), "100", 1, 100000,
     "customers handled per sweep step (up to five steps per partition and pass)", 0,
     NULL},
    {"model.refresh_s", CFGTAB_SECS, FIELD(model_refresh_ms), "30", 1, 86400,
     "how often the fitted model parameters are re-read from Redis", 0, NULL},
    {"rescore.per_s", CFGTAB_INT, FIELD(pipe.rescore_per_s), "1000", 0, 1000000,
     "customers evaluated again per second, in the background, after a refit (0: "
     "each on its next event or sweep only)",
     0, NULL},
    {"merge.max_idle_ms", CFGTAB_INT, FIELD(pipe.merge_max_idle_ms), "2000", 0, 3600000,
     "how long a task waits for an input partition that is behind but has nothing "
     "fetched before applying the others' events without it",
     0, NULL},
    {"merge.grace_ms", CFGTAB_INT, FIELD(pipe.merge_grace_ms), "0", 0, 60000,
     "how long an event appended this recently waits for a caught-up input partition of "
     "its task to show an earlier one (0: not at all; each event of a live stream with a "
     "quiet topic is delayed by up to this)",
     0, NULL},
    {"merge.queue_max", CFGTAB_INT, FIELD(pipe.merge_queue_max), "200", 16, 1000000,
     "parsed messages buffered per input partition for the merge", 0, NULL},
    {"batch.max_events", CFGTAB_INT, FIELD(pipe.batch_max_events), "3000", 1, 100000,
     "merged events of one task applied and committed together", 0, NULL},
    {"dedup.window", CFGTAB_INT, FIELD(pipe.dedup_window), "64", 0, 256,
     "event ids (and order ids of order.placed) each customer remembers, so an "
     "event re-sent upstream at another offset is applied once (0: none)",
     0, NULL},
    {"cache.max_bytes", CFGTAB_SIZE, FIELD(pipe.cache_max_bytes), "12582912", 0, 1e12,
     "memory for customers kept between batches (0 keeps none)", 0, NULL},
    {"output.max_pending_bytes", CFGTAB_SIZE, FIELD(pipe.output_max_pending_bytes),
     "33554432", 65536, 1e12,
     "derived events and DLQ records not yet acknowledged by Kafka, in bytes of keys and "
     "values: above it the input is paused until they are down to half",
     0, NULL},
    /* Read by loyaltyctl fit, never by the daemon: a change needs no restart. */
    {"fit.gate", CFGTAB_CUSTOM, FIELD(fit_gate), "off", 0, 0,
     "what loyaltyctl fit --save (the refit timer) checks besides convergence and "
     "--max-change: 'off' or 'validate' (the model fitted up to fit.gate_holdout_days "
     "before the data's last purchase must forecast those days: the level within "
     "fit.gate_max_error, the ranking within fit.gate_margin of recency's, no worse than "
     "the saved model; else nothing is saved, exit 3; docs/validate.md)",
     CFGTAB_IN_PLACE, parse_gate},
    {"fit.gate_holdout_days", CFGTAB_INT, FIELD(fit_gate_holdout_days), "273", 28, 3650,
     "the refit gate's holdout: the data's last days, which the model fitted on the "
     "days before must forecast (273: the 39 weeks of the CDNOW validation; at most "
     "about 300 from Redis, whose day buckets hold 365 days)",
     CFGTAB_IN_PLACE, NULL},
    {"fit.gate_max_error", CFGTAB_DOUBLE, FIELD(fit_gate_max_error), "0.2", 0, 100,
     "the refit gate refuses a model whose expected repeat purchases in the holdout "
     "are further than this share of the actual ones from them (0.2: 20 %)",
     CFGTAB_IN_PLACE, NULL},
    {"fit.gate_margin", CFGTAB_DOUBLE, FIELD(fit_gate_margin), "0.05", 0, 1,
     "how far the refit gate lets a model fall behind: the AUC of its P(a purchase) "
     "below recency's, its relative error on the holdout above the saved model's",
     CFGTAB_IN_PLACE, NULL},
};

static const struct cfgtab daemon_keys = {"", cfg_keys,
                                          sizeof(cfg_keys) / sizeof(cfg_keys[0])};

static int props_add(struct kafka_props *p, const char *name, const char *value)
{
    struct kafka_prop kp = {strdup(name), strdup(value)};

    if (kp.name == NULL || kp.value == NULL || array_append(p, kp) < 0) {
        free(kp.name);
        free(kp.value);
        return -1;
    }
    return 0;
}

static void props_free(struct kafka_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    array_free(p);
}

static int read_secret(const char *path, char **out, int missing_ok, char *err,
                       size_t errlen);

/* librdkafka's properties that hold a secret: only their _file form (or a
 * systemd credential) is accepted. */
static int kafka_secret(const char *name)
{
    static const char *const secrets[] = {
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.key.pem",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
    };

    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (strcmp(name, secrets[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* kafka.NAME, kafka.consumer.NAME, kafka.producer.NAME: checked against
 * librdkafka now, so a bad property stops the start with its line.
 * kafka.NAME_file = PATH sets NAME to the first line of PATH (a secret such
 * as sasl.password stays out of the configuration). */
static int kafka_prop(struct config *cfg, const char *key, const char *value, char *err,
                      size_t errlen)
{
    struct kafka_props *props = &cfg->pipe.kafka_common;
    const char *name = key + 6;
    char why[512], *secret = NULL, stripped[256];
    size_t n;
    int rc;

    if (strncmp(key, "kafka.consumer.", 15) == 0) {
        props = &cfg->pipe.kafka_consumer;
        name = key + 15;
    } else if (strncmp(key, "kafka.producer.", 15) == 0) {
        props = &cfg->pipe.kafka_producer;
        name = key + 15;
    }
    n = strlen(name);
    if (n > 5 && n - 5 < sizeof(stripped) && strcmp(name + n - 5, "_file") == 0 &&
        kconf_check_property(name, value, why, sizeof(why)) < 0) {
        memcpy(stripped, name, n - 5);
        stripped[n - 5] = '\0';
        if (read_secret(value, &secret, 0, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: %s", key, why);
            return -1;
        }
        if ((rc = kconf_check_property(stripped, secret, why, sizeof(why))) < 0) {
            snprintf(err, errlen, "%s: %s", key, why);
        } else if ((rc = props_add(props, stripped, secret)) < 0) {
            snprintf(err, errlen, "out of memory");
        }
        explicit_bzero(secret, strlen(secret));
        free(secret);
        return rc;
    }
    if (kafka_secret(name)) {
        snprintf(err, errlen,
                 "%s holds a secret, and the configuration is readable by the service "
                 "and often by everyone: set %s_file = PATH to a file only root reads "
                 "(README, \"Security\")",
                 key, key);
        return -1;
    }
    if (kconf_check_property(name, value, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s", key, why);
        return -1;
    }
    return props_add(props, name, value);
}

int config_set(struct config *cfg, const char *key, const char *value, char *err,
               size_t errlen)
{
    int rc;

    if (strncmp(key, "kafka.", 6) == 0) {
        return kafka_prop(cfg, key, value, err, errlen);
    }
    if ((rc = cfgtab_set(&daemon_keys, cfg, key, value, err, errlen)) != CFGTAB_UNKNOWN) {
        return rc;
    }
    rc = cfgtab_set(model_config_keys(), cfg->model, key, value, err, errlen);
    return rc < 0 ? -1 : 0;
}

int config_init(struct config *cfg)
{
    char err[256];

    memset(cfg, 0, sizeof(*cfg));
    cfg->model = model_config_new();
    if (cfg->model == NULL) {
        return -1;
    }
    return cfgtab_defaults(&daemon_keys, cfg, err, sizeof(err));
}

void config_store_opts(const struct config *cfg, struct store_opts *out)
{
    *out = (struct store_opts){
        .cluster = cfg->redis_cluster,
        .host = cfg->redis_host,
        .port = cfg->redis_port,
        .user = cfg->redis_user,
        .password = cfg->redis_password,
        .db = cfg->redis_db,
        .prefix = cfg->redis_prefix,
        .timeout_ms = cfg->redis_timeout_ms,
        .indices = cfg->redis_indices,
    };
}

void config_fini(struct config *cfg)
{
    cfgtab_free(&daemon_keys, cfg);
    if (cfg->redis_password) {
        explicit_bzero(cfg->redis_password, strlen(cfg->redis_password));
        free(cfg->redis_password);
    }
    props_free(&cfg->pipe.kafka_common);
    props_free(&cfg->pipe.kafka_consumer);
    props_free(&cfg->pipe.kafka_producer);
    model_config_free(cfg->model);
    memset(cfg, 0, sizeof(*cfg));
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    end = s + strlen(s);
    while (end > s &&
           (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r')) {
        *--end = '\0';
    }
    return s;
}

/*
 * The value of a line, in place: as written, or between double quotes (with
 * \" and \\) or single quotes (literal), which may hold a '#' or outer
 * spaces; a comment may follow a quoted value.  An unquoted value with a '#'
 * after a blank is refused rather than guessed at: "shop1:  # tenant" must
 * not become a key prefix, and a password may hold " #".  Returns 1 for a
 * single-quoted value (taken literally), 0 for one to expand, -1 on error.
 */
static int parse_value(char *v, char *err, size_t errlen)
{
    char *rest;

    if (v[0] == '"' || v[0] == '\'') {
        char q = v[0], *out = v, *in = v + 1;

        for (; *in != '\0' && *in != q; in++) {
            if (q == '"' && *in == '\\' && (in[1] == '"' || in[1] == '\\')) {
                in++;
            }
            *out++ = *in;
        }
        if (*in != q) {
            snprintf(err, errlen, "no closing %c", q);
            return -1;
        }
        rest = trim(in + 1);
        *out = '\0';
        if (*rest != '\0' && *rest != '#') {
            snprintf(err, errlen, "text after the closing %c", q);
            return -1;
        }
        return q == '\'';
    }
    for (rest = strchr(v, '#'); rest != NULL; rest = strchr(rest + 1, '#')) {
        if (rest == v || rest[-1] == ' ' || rest[-1] == '\t') {
            snprintf(err, errlen,
                     "a '#' after the value: comments go on lines of their own "
                     "(quote the value if the '#' belongs to it)");
            return -1;
        }
    }
    return 0;
}

/*
 * Environment references in a value: ${NAME} is NAME's value, ${NAME:-WORD}
 * is WORD when NAME is unset or empty, $$ is one '$'; any other '$' stands
 * for itself.  An unset NAME without a default is an error: an empty topic
 * or prefix taken for a forgotten variable would read or write the wrong
 * thing.  Into out (outlen bytes).  0, or -1 with err.
 */
static int expand_env(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
    size_t len = 0;

    for (const char *p = in; *p != '\0';) {
        const char *add = p, *close, *dash;
        size_t n = 1;
        char name[256];

        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            if ((close = strchr(p + 2, '}')) == NULL) {
                snprintf(err, errlen, "'${' without its '}'");
                return -1;
            }
            dash = strstr(p + 2, ":-");
            if (dash != NULL && dash > close) {
                dash = NULL;
            }
            n = (size_t)((dash ? dash : close) - (p + 2));
            if (n == 0 || n >= sizeof(name) ||
                strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz"
                              "0123456789_") != n) {
                snprintf(err, errlen, "'%.*s' is not a variable name", (int)n, p + 2);
                return -1;
            }
            memcpy(name, p + 2, n);
            name[n] = '\0';
            add = getenv(name);
            if (add != NULL && add[0] != '\0') {
                n = strlen(add);
            } else if (dash != NULL) {
                add = dash + 2;
                n = (size_t)(close - add);
            } else {
                snprintf(err, errlen,
                         "environment variable %.64s is %s (write ${%.64s:-DEFAULT} "
                         "for a default)",
                         name, add ? "empty" : "not set", name);
                return -1;
            }
            p = close + 1;
        } else {
            p++;
        }
        if (len + n >= outlen) {
            snprintf(err, errlen, "value too long after expansion");
            return -1;
        }
        memcpy(out + len, add, n);
        len += n;
    }
    out[len] = '\0';
    return 0;
}

/* One line: blank, "# comment" or "key = value"; the key is copied to
 * key_out for the duplicate check. */
static int config_line(struct config *cfg, char *line, char *key_out, size_t key_len,
                       char *err, size_t errlen)
{
    char *s = trim(line), *eq, *key, *value, expanded[4096];
    int literal;

    if (*s == '\0' || *s == '#') {
        return 0;
    }
    eq = strchr(s, '=');
    if (eq == NULL) {
        snprintf(err, errlen, "expected 'key = value'");
        return -1;
    }
    *eq = '\0';
    key = trim(s);
    value = trim(eq + 1);
    if (*key == '\0') {
        snprintf(err, errlen, "empty key");
        return -1;
    }
    snprintf(key_out, key_len, "%s", key);
    if ((literal = parse_value(value, err, errlen)) < 0) {
        return -1;
    }
    if (!literal) {
        if (expand_env(value, expanded, sizeof(expanded), err, errlen) < 0) {
            return -1;
        }
        value = expanded;
    }
    return config_set(cfg, key, value, err, errlen);
}

/* Keys already set by the file, with their lines: a key set twice is refused
 * (which of the two was meant is not ours to guess). */
struct seen_key {
    char *key;
    unsigned line;
};

struct seen {
    ARRAY(struct seen_key);
};

static unsigned seen_line(const struct seen *sn, const char *key)
{
    for (size_t i = 0; i < sn->n; i++) {
        if (strcmp(sn->v[i].key, key) == 0) {
            return sn->v[i].line;
        }
    }
    return 0;
}

static int seen_add(struct seen *sn, const char *key, unsigned line)
{
    struct seen_key k = {strdup(key), line};

    if (k.key == NULL || array_append(sn, k) < 0) {
        free(k.key);
        return -1;
    }
    return 0;
}

static void seen_free(struct seen *sn)
{
    for (size_t i = 0; i < sn->n; i++) {
        free(sn->v[i].key);
    }
    array_free(sn);
}

/* redis.cluster names every node: redis.host, redis.port and redis.db
 * (a cluster has database 0 only) beside it would be a second answer.  A
 * brace in the prefix would make a hash tag of it: every key in one slot. */
static int check_redis_cluster(const struct config *cfg, const struct seen *sn,
                               const char *path, char *err, size_t errlen)
{
    static const char *const single[] = {"redis.host", "redis.port", "redis.db"};
    unsigned at = seen_line(sn, "redis.cluster"), line;

    if (cfg->redis_cluster[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        if ((line = seen_line(sn, single[i])) != 0) {
            snprintf(err, errlen,
                     "%s:%u: %s names one Redis, and redis.cluster (line %u) a cluster: "
                     "keep one of them",
                     path, line, single[i], at);
            return -1;
        }
    }
    if (strpbrk(cfg->redis_prefix, "{}") != NULL) {
        line = seen_line(sn, "redis.prefix");
        snprintf(err, errlen,
                 "%s:%u: redis.prefix '%s' holds a brace: on a Redis Cluster it would "
                 "put every key in one slot",
                 path, line ? line : at, cfg->redis_prefix);
        return -1;
    }
    return 0;
}

/* The seven topics are seven: an output written to an input would feed the
 * daemon its own events, two outputs in one topic mix their schemas. */
static int check_topics(const struct config *cfg, char *err, size_t errlen)
{
    static const char *const names[TOPIC__COUNT] = {
        [TOPIC_ORDERS] = "topic.orders",
        [TOPIC_REVIEWS] = "topic.reviews",
        [TOPIC_MESSAGES] = "topic.messages",
        [TOPIC_OUT + OUT_CHURN_RISK] = "topic.churn_risk",
        [TOPIC_OUT + OUT_REWARD] = "topic.rewards",
        [TOPIC_OUT + OUT_SEGMENT] = "topic.segments",
        [TOPIC_DLQ] = "topic.dlq"};

    for (int i = 0; i < TOPIC__COUNT; i++) {
        for (int j = i + 1; j < TOPIC__COUNT; j++) {
            if (strcmp(cfg->pipe.topic[i], cfg->pipe.topic[j]) == 0) {
                snprintf(err, errlen, "%s and %s are the same topic '%s'", names[i],
                         names[j], cfg->pipe.topic[i]);
                return -1;
            }
        }
    }
    return 0;
}

/* The first line of a secret's file, trimmed, into *out.  0, or -1 with err;
 * missing_ok: a file that does not exist leaves *out alone and returns 1. */
static int read_secret(const char *path, char **out, int missing_ok, char *err,
                       size_t errlen)
{
    char buf[512];
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        if (missing_ok && errno == ENOENT) {
            return 1;
        }
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(buf, sizeof(buf), f) == NULL) {
        buf[0] = '\0';
    }
    fclose(f);
    if (*out) {
        explicit_bzero(*out, strlen(*out));
        free(*out);
    }
    *out = strdup(trim(buf));
    explicit_bzero(buf, sizeof(buf));
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int has_prop(const struct kafka_props *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * The secrets, never in the file itself: the Redis password from
 * redis.password_file or else from the systemd credential "redis-password"
 * ($CREDENTIALS_DIRECTORY, LoadCredential=); the Kafka SASL password from the
 * credential "kafka-sasl-password" unless the file names its own
 * kafka.sasl.password_file.  Each is judged on its own.
 */
static int read_secrets(struct config *cfg, char *err, size_t errlen)
{
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    char path[4096], why[512];

    if (cfg->redis_password_file[0] != '\0') {
        if (read_secret(cfg->redis_password_file, &cfg->redis_password, 0, err, errlen) <
            0) {
            return -1;
        }
    } else if (creds != NULL && creds[0] != '\0') {
        snprintf(path, sizeof(path), "%s/redis-password", creds);
        if (read_secret(path, &cfg->redis_password, 1, err, errlen) < 0) {
            return -1;
        }
    }
    if (creds == NULL || creds[0] == '\0' ||
        has_prop(&cfg->pipe.kafka_common, "sasl.password") ||
        has_prop(&cfg->pipe.kafka_consumer, "sasl.password") ||
        has_prop(&cfg->pipe.kafka_producer, "sasl.password")) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/kafka-sasl-password", creds);
    if (access(path, F_OK) < 0 && errno == ENOENT) {
        return 0;
    }
    if (kafka_prop(cfg, "kafka.sasl.password_file", path, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "credential kafka-sasl-password: %s", why);
        return -1;
    }
    return 0;
}

/* group.instance_id left empty takes $LOYALTYD_INSTANCE (the systemd
 * template's HOST-NAME), so each instance of a template is a static member. */
static int instance_from_env(struct config *cfg, char *err, size_t errlen)
{
    const char *inst = getenv("LOYALTYD_INSTANCE");
    char *dup;

    if (cfg->pipe.group_instance_id[0] != '\0' || inst == NULL || inst[0] == '\0') {
        return 0;
    }
    if ((dup = strdup(inst)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(cfg->pipe.group_instance_id);
    cfg->pipe.group_instance_id = dup;
    return 0;
}

int config_read(struct config *cfg, FILE *f, const char *path, char *err, size_t errlen)
{
    char line[4096], why[512], key[4096];
    unsigned lineno = 0, before;
    struct seen sn = {0};
    int rc = -1;

    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            goto out;
        }
        why[0] = key[0] = '\0';
        if (config_line(cfg, line, key, sizeof(key), why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno,
                     why[0] ? why : "out of memory");
            goto out;
        }
        if (key[0] == '\0') {
            continue;
        }
        if ((before = seen_line(&sn, key)) != 0) {
            snprintf(err, errlen, "%s:%u: %s is already set on line %u", path, lineno,
                     key, before);
            goto out;
        }
        if (seen_add(&sn, key, lineno) < 0) {
            snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    /* Rules that span several model keys (tiers ascending, re-arm below the
     * threshold) can only be judged once the whole file is read. */
    if (model_config_check(cfg->model, why, sizeof(why)) < 0 ||
        check_topics(cfg, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        goto out;
    }
    if (check_redis_cluster(cfg, &sn, path, err, errlen) < 0) {
        goto out;
    }
    cfg->pipe.limits.cluster_ids = cfg->redis_cluster[0] != '\0';
    if ((rc = instance_from_env(cfg, err, errlen)) == 0) {
        rc = read_secrets(cfg, err, errlen);
    }
out:
    seen_free(&sn);
    return rc;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    int rc;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = config_read(cfg, f, path, err, errlen);
    fclose(f);
    return rc;
}

static int props_differ(const struct kafka_props *a, const struct kafka_props *b)
{
    if (a->n != b->n) {
        return 1;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].name, b->v[i].name) != 0 ||
            strcmp(a->v[i].value, b->v[i].value) != 0) {
            return 1;
        }
    }
    return 0;
}

static void list_add(char *out, size_t outlen, const char *name)
{
    size_t len = strlen(out);

    if (len + 1 < outlen) {
        snprintf(out + len, outlen - len, "%s%s", len ? ", " : "", name);
    }
}

size_t config_restart_changes(const struct config *running, const struct config *fresh,
                              char *out, size_t outlen)
{
    size_t n;

    out[0] = '\0';
    n = cfgtab_changes(&daemon_keys, running, fresh, out, outlen);
    if (props_differ(&running->pipe.kafka_common, &fresh->pipe.kafka_common) ||
        props_differ(&running->pipe.kafka_consumer, &fresh->pipe.kafka_consumer) ||
        props_differ(&running->pipe.kafka_producer, &fresh->pipe.kafka_producer)) {
        list_add(out, outlen, "kafka.*");
        n++;
    }
    if (strcmp(running->redis_password ? running->redis_password : "",
               fresh->redis_password ? fresh->redis_password : "") != 0) {
        list_add(out, outlen, "the Redis password");
        n++;
    }
    return n;
}

void config_describe(FILE *out)
{
    cfgtab_describe(&daemon_keys, out);
    fprintf(out, "# any librdkafka property: kafka.NAME (both), kafka.consumer.NAME, "
                 "kafka.producer.NAME\nkafka.bootstrap.servers = 127.0.0.1:9092\n");
    cfgtab_describe(model_config_keys(), out);
}
