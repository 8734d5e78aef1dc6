/*
 * test_config.c - daemon/config.c: defaults, typed keys, pass-through keys,
 * and a bad line refused with its line number.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon/config.h"
#include "state/store/store.h"
#include "tests/unit/check_main.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/loyaltyd-test-%d.conf", (int)getpid());
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int load(struct config *cfg, const char *text, char *err, size_t errlen)
{
    int rc;

    write_file(text);
    ck_assert_int_eq(config_init(cfg), 0);
    rc = config_load(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

START_TEST(test_defaults)
{
    struct config cfg;

    ck_assert_int_eq(config_init(&cfg), 0);
    ck_assert_str_eq(cfg.pipe.topic[TOPIC_ORDERS], "orders");
    ck_assert_str_eq(cfg.pipe.topic[topic_of(OUT_CHURN_RISK)], "loyalty.churn-risk");
    ck_assert_str_eq(cfg.pipe.topic[topic_of(OUT_REWARD)], "loyalty.rewards");
    ck_assert_str_eq(cfg.pipe.topic[topic_of(OUT_SEGMENT)], "loyalty.segments");
    ck_assert_str_eq(cfg.pipe.topic[TOPIC_DLQ], "loyalty.dlq");
    ck_assert_str_eq(cfg.redis_prefix, "loyalty:");
    ck_assert_int_eq(cfg.redis_port, 6379);
    ck_assert_int_eq(cfg.pipe.clock, CLOCK_WALL);
    ck_assert_int_eq(cfg.log_level, LOG_LVL_INFO);
    ck_assert_int_eq(cfg.log_format, LOG_FMT_AUTO);
    ck_assert_int_eq(cfg.pipe.bad_key_apply, 0);
    ck_assert_int_eq(cfg.pipe.redis_lost_replay, 0);
    ck_assert_str_eq(cfg.pipe.money.currency, ""); /* amounts summed as given */
    ck_assert_int_eq(cfg.pipe.money.max_rate_age_days, 7);
    ck_assert_int_eq(cfg.reward_currency, 0); /* rewards in the reporting currency */
    ck_assert_int_eq(cfg.model->reward_order_currency, 0);
    ck_assert_uint_eq(cfg.pipe.limits.max_message_bytes, 1048576);
    ck_assert(cfg.pipe.limits.max_future_skew_ms == 86400000LL);
    ck_assert_int_eq(cfg.sweep_interval_ms, 60000);
    ck_assert_str_eq(cfg.http_listen, "127.0.0.1:9464");
    ck_assert_uint_eq(cfg.redis_indices,
                      (1u << STORE_IDX_RISK) | (1u << STORE_IDX_VALUE));
    /* The refit gate is off unless asked for. */
    ck_assert_int_eq(cfg.fit_gate, 0);
    ck_assert_int_eq(cfg.fit_gate_holdout_days, 273);
    ck_assert_double_eq(cfg.fit_gate_max_error, 0.2);
    ck_assert_double_eq(cfg.fit_gate_margin, 0.05);
    config_fini(&cfg);
}
END_TEST

/* The refit gate's keys, read by loyaltyctl fit; a reload never waits for a
 * restart over them (the daemon does not read them). */
START_TEST(test_fit_gate)
{
    struct config a, b;
    char err[256] = "", out[256];

    ck_assert_int_eq(config_init(&a), 0);
    ck_assert_int_eq(load(&b,
                          "fit.gate = validate\nfit.gate_holdout_days = 91\n"
                          "fit.gate_max_error = 0.35\nfit.gate_margin = 0\n",
                          err, sizeof(err)),
                     0);
    ck_assert_int_eq(b.fit_gate, 1);
    ck_assert_int_eq(b.fit_gate_holdout_days, 91);
    ck_assert_double_eq(b.fit_gate_max_error, 0.35);
    ck_assert_double_eq(b.fit_gate_margin, 0);
    ck_assert_uint_eq(config_restart_changes(&a, &b, out, sizeof(out)), 0);
    config_fini(&b);
    ck_assert_int_eq(load(&b, "fit.gate = off\n", err, sizeof(err)), 0);
    ck_assert_int_eq(b.fit_gate, 0);
    config_fini(&b);
    config_fini(&a);
}
END_TEST

/* The indices kept: a list with any spacing, or none. */
START_TEST(test_indices)
{
    struct config cfg;
    char err[512] = "";

    ck_assert_int_eq(
        load(&cfg, "redis.indices = clv,loyalty ,  value\n", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.redis_indices, (1u << STORE_IDX_CLV) |
                                             (1u << STORE_IDX_LOYALTY) |
                                             (1u << STORE_IDX_VALUE));
    config_fini(&cfg);
    ck_assert_int_eq(load(&cfg, "redis.indices =\n", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.redis_indices, 0);
    config_fini(&cfg);
}
END_TEST

/* redis.cluster: a seed list; beside a key naming one Redis, a bad seed or
 * a prefix with a brace, the daemon stops at start with the line. */
START_TEST(test_redis_cluster)
{
    struct config cfg;
    char err[512] = "";

    ck_assert_int_eq(
        load(&cfg, "redis.cluster = 127.0.0.1:7000, [::1]:7001\n", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.redis_cluster, "127.0.0.1:7000, [::1]:7001");
    ck_assert_int_eq(cfg.pipe.limits.cluster_ids, 1);
    config_fini(&cfg);

    ck_assert_int_eq(load(&cfg, "redis.port = 6380\n", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.redis_cluster, "");
    ck_assert_int_eq(cfg.pipe.limits.cluster_ids, 0);
    config_fini(&cfg);

    ck_assert_int_eq(load(&cfg, "# cluster\nredis.cluster = h:7000\nredis.port = 6380\n",
                          err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, ":3: redis.port names one Redis, and redis.cluster "
                                      "(line 2) a cluster"));
    config_fini(&cfg);

    ck_assert_int_eq(
        load(&cfg, "redis.db = 2\nredis.cluster = h:7000\n", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":1: redis.db names one Redis"));
    config_fini(&cfg);

    ck_assert_int_eq(load(&cfg, "\nredis.cluster = h:7000,h\n", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, ":2: "));
    config_fini(&cfg);

    ck_assert_int_eq(
        load(&cfg, "redis.cluster = h:7000\nredis.prefix = shop{1}:\n", err, sizeof(err)),
        -1);
    ck_assert_ptr_nonnull(strstr(err, ":2: redis.prefix 'shop{1}:' holds a brace"));
    config_fini(&cfg);
}
END_TEST

START_TEST(test_values_and_passthrough)
{
    struct config cfg;
    char err[256] = "";

    ck_assert_int_eq(load(&cfg,
                          "# comment\n\n"
                          "topic.orders = shop.orders\n"
                          "  redis.port=7000  \n"
                          "clock = stream\n"
                          "log.level = debug\n"
                          "log.format = json\n"
                          "input.bad_key = apply\n"
                          "redis.lost = replay\n"
                          "limits.max_future_skew_s = 60\n"
                          "kafka.bootstrap.servers = 127.0.0.1:1\n"
                          "kafka.consumer.fetch.min.bytes = 1\n"
                          "kafka.producer.linger.ms = 7\n"
                          "http.listen =\n"
                          "money.currency = JPY\n"
                          "money.max_rate_age_days = 3\n"
                          "reward.currency = order\n",
                          err, sizeof(err)),
                     0);
    ck_assert_str_eq(cfg.pipe.money.currency, "JPY");
    ck_assert_int_eq(cfg.pipe.money.max_rate_age_days, 3);
    ck_assert_int_eq(cfg.reward_currency, 1);
    ck_assert_int_eq(cfg.model->reward_order_currency, 1);
    ck_assert_str_eq(cfg.pipe.topic[0], "shop.orders");
    ck_assert_int_eq(cfg.redis_port, 7000);
    ck_assert_int_eq(cfg.pipe.clock, CLOCK_STREAM);
    ck_assert_int_eq(cfg.log_level, LOG_LVL_DEBUG);
    ck_assert_int_eq(cfg.log_format, LOG_FMT_JSON);
    ck_assert_int_eq(cfg.pipe.bad_key_apply, 1);
    ck_assert_int_eq(cfg.pipe.redis_lost_replay, 1);
    ck_assert(cfg.pipe.limits.max_future_skew_ms == 60000);
    ck_assert_uint_eq(cfg.pipe.kafka_common.n, 1);
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].name, "bootstrap.servers");
    ck_assert_str_eq(cfg.pipe.kafka_consumer.v[0].name, "fetch.min.bytes");
    ck_assert_str_eq(cfg.pipe.kafka_producer.v[0].value, "7");
    ck_assert_str_eq(cfg.http_listen, "");
    config_fini(&cfg);
}
END_TEST

static const struct {
    const char *text;
    const char *expect; /* substring of the error */
} bad[] = {
    {"redis.port = 1\nnot a pair\n", ":2: expected 'key = value'"},
    {"\n\nbogus.key = 1\n", ":3: unknown key 'bogus.key'"},
    {"redis.port = 70000\n", ":1: redis.port: must be an integer between 0 and 65535"},
    {"redis.port = 12x\n", ":1: redis.port: '12x' is not a number"},
    {"redis.port = 1.5\n", ":1: redis.port"},
    {"clock = sundial\n", ":1: clock: 'sundial' is not one of the allowed values"},
    {"log.level = loud\n", ":1: log.level"},
    {"clock = Stream\n", ":1: clock: 'Stream' is not one of the allowed values"},
    {"log.format = xml\n", ":1: log.format: 'xml' is not one of the allowed values"},
    {"input.bad_key = drop\n",
     ":1: input.bad_key: 'drop' is not one of the allowed values"},
    {"\nmoney.currency = EURO\n",
     ":2: money.currency: 'EURO' is not an ISO 4217 currency code"},
    {"money.currency = eur\n", ":1: money.currency: 'eur' is not an ISO 4217"},
    {"money.currency = XAU\n", ":1: money.currency: 'XAU' is not an ISO 4217"},
    {"money.max_rate_age_days = -1\n", ":1: money.max_rate_age_days"},
    {"\n\nreward.currency = EUR\n",
     ":3: reward.currency: 'EUR' is not one of the allowed values"},
    {"redis.lost = rep\n", ":1: redis.lost: 'rep' is not one of the allowed values"},
    {"fit.gate = on\n", ":1: fit.gate: 'on' is not one of the allowed values"},
    {"fit.gate_holdout_days = 27\n",
     ":1: fit.gate_holdout_days: must be an integer between 28 and 3650"},
    {"fit.gate_max_error = -0.1\n", ":1: fit.gate_max_error"},
    {"fit.gate_margin = 1.5\n", ":1: fit.gate_margin: must be a number between 0 and 1"},
    {"limits.max_amount = nan\n", ":1: limits.max_amount"},
    {"= 5\n", ":1: empty key"},
    {"model.no_such_tunable = 1\n", ":1: unknown key 'model.no_such_tunable'"},
    {"model.churn_rearm = 0.9\n", ": model.churn_rearm: must be below"},
    /* The model's tunables are read as the daemon's keys are, with the same words. */
    {"model.weight_repeat = 1.5\n",
     ":1: model.weight_repeat: must be a number between 0 and 1"},
    {"\nmodel.lapse_days = 2.5\n",
     ":2: model.lapse_days: must be an integer between 1 and 36500"},
    {"model.goodwill = much\n", ":1: model.goodwill: 'much' is not a number"},
    {"model.milestones = 5,3\n", ":1: model.milestones: must be at most 16 ascending"},
    {"kafka.no.such.property = 1\n", ":1: kafka.no.such.property: No such configuration"},
    /* A comment after a value is refused, not kept in it or guessed away. */
    {"redis.prefix = shop1:  # tenant\n", ":1: a '#' after the value"},
    {"\ngroup.id = # later\n", ":2: a '#' after the value"},
    {"redis.prefix = shop1:\t#tenant\n", ":1: a '#' after the value"},
    {"redis.prefix = \"shop1:\n", ":1: no closing \""},
    {"redis.prefix = 'shop1:\n", ":1: no closing '"},
    {"redis.prefix = \"shop1:\" tenant\n", ":1: text after the closing \""},
    /* Empty where empty would read, write or join the wrong thing. */
    {"group.id =\n", ":1: group.id: must not be empty"},
    {"topic.orders = \"\"\n", ":1: topic.orders: must not be empty"},
    {"redis.prefix = ''\n", ":1: redis.prefix: must not be empty"},
    {"redis.host =\n", ":1: redis.host: must not be empty"},
    /* A key set twice: which one was meant is not guessed. */
    {"group.id = a\nlog.level = info\ngroup.id = b\n",
     ":3: group.id is already set on line 1"},
    {"kafka.consumer.fetch.min.bytes = 1\n\nkafka.consumer.fetch.min.bytes = 2\n",
     ":3: kafka.consumer.fetch.min.bytes is already set on line 1"},
    {"model.churn_threshold = 0.7\nmodel.churn_threshold = 0.6\n",
     ":2: model.churn_threshold is already set on line 1"},
    /* An output that is also an input would feed the daemon its own events. */
    {"topic.rewards = orders\n",
     ": topic.orders and topic.rewards are the same topic 'orders'"},
    {"topic.dlq = x\ntopic.churn_risk = x\n",
     ": topic.churn_risk and topic.dlq are the same topic 'x'"},
    {"topic.segments = loyalty.rewards\n",
     ": topic.rewards and topic.segments are the same topic 'loyalty.rewards'"},
    {"topic.segments = messages\n",
     ": topic.messages and topic.segments are the same topic 'messages'"},
    {"topic.segments = ''\n", ":1: topic.segments: must not be empty"},
    {"\nkafka.consumer.fetch.min.bytes = lots\n", ":2: kafka.consumer.fetch.min.bytes"},
    {"redis.indices = risk, churn\n", ":1: redis.indices: 'churn' is not an index"},
    {"http.listen = nonsense\n", ":1: http.listen: 'nonsense' is not ADDRESS:PORT"},
    {"http.listen = 127.0.0.1:99999\n", ":1: http.listen"},
    /* An environment reference that cannot be expanded. */
    {"\nredis.prefix = ${LOYALTYD_TEST_UNSET}:\n",
     ":2: environment variable LOYALTYD_TEST_UNSET is not set"},
    {"group.id = ${LOYALTYD_TEST_EMPTY}\n",
     ":1: environment variable LOYALTYD_TEST_EMPTY is empty"},
    {"group.id = ${LOYALTYD_TEST_SHOP\n", ":1: '${' without its '}'"},
    {"group.id = ${1 x}\n", ":1: '1 x' is not a variable name"},
    {"group.id = ${LOYALTYD_TEST_UNSET:-}\n", ":1: group.id: must not be empty"},
    {"kafka.sasl.password_file = /nonexistent/pw\n",
     ":1: kafka.sasl.password_file: /nonexistent/pw: No such file"},
    /* Secrets only from files: the configuration is readable by the service. */
    {"kafka.sasl.password = hunter2\n",
     ":1: kafka.sasl.password holds a secret, and the configuration is readable"},
    {"\nkafka.producer.ssl.key.password = x\n",
     ":2: kafka.producer.ssl.key.password holds a secret"},
    {"kafka.sasl.oauthbearer.client.secret = x\n",
     ":1: kafka.sasl.oauthbearer.client.secret holds a secret"},
};

START_TEST(test_bad_line_reported)
{
    struct config cfg;
    char err[512] = "";

    setenv("LOYALTYD_TEST_EMPTY", "", 1);
    unsetenv("LOYALTYD_TEST_UNSET");

    ck_assert_int_eq(load(&cfg, bad[_i].text, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad[_i].expect) != NULL, "case %d: got '%s'", _i, err);
    ck_assert_msg(strncmp(err, path, strlen(path)) == 0,
                  "error must start with the path");
    config_fini(&cfg);
}
END_TEST

START_TEST(test_missing_file)
{
    struct config cfg;
    char err[256] = "";

    ck_assert_int_eq(config_init(&cfg), 0);
    ck_assert_int_eq(config_load(&cfg, "/nonexistent/loyaltyd.conf", err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "No such file"));
    config_fini(&cfg);
}
END_TEST

/* Quotes hold what an unquoted value may not: a '#', outer spaces. */
START_TEST(test_quoted_values)
{
    struct config cfg;
    char err[256] = "";

    ck_assert_int_eq(load(&cfg,
                          "redis.prefix = \"shop #1: \"  # the first shop\n"
                          "group.id = 'a\\b \"c\"'\n"
                          "topic.orders = \"q\\\"x\\\\y\"\n"
                          "topic.reviews = shop#1.reviews\n",
                          err, sizeof(err)),
                     0);
    ck_assert_str_eq(cfg.redis_prefix, "shop #1: ");
    ck_assert_str_eq(cfg.pipe.group_id, "a\\b \"c\"");
    ck_assert_str_eq(cfg.pipe.topic[0], "q\"x\\y");
    ck_assert_str_eq(cfg.pipe.topic[1], "shop#1.reviews");
    config_fini(&cfg);
}
END_TEST

/* ${NAME}, ${NAME:-default} and $$ in unquoted and double-quoted values;
 * single quotes keep them as written. */
START_TEST(test_env_expansion)
{
    struct config cfg;
    char err[256] = "";

    setenv("LOYALTYD_TEST_SHOP", "shop7", 1);
    setenv("LOYALTYD_TEST_EMPTY", "", 1);
    ck_assert_int_eq(
        load(&cfg,
             "redis.prefix = ${LOYALTYD_TEST_SHOP}:\n"
             "group.id = \"g-${LOYALTYD_TEST_UNSET:-default} x\"\n"
             "topic.orders = '${LOYALTYD_TEST_SHOP}'\n"
             "topic.reviews = cost$$5$x\n"
             "topic.messages = ${LOYALTYD_TEST_EMPTY:-m}.${LOYALTYD_TEST_SHOP}\n"
             "redis.port = ${LOYALTYD_TEST_PORT:-6390}\n",
             err, sizeof(err)),
        0);
    ck_assert_str_eq(cfg.redis_prefix, "shop7:");
    ck_assert_str_eq(cfg.pipe.group_id, "g-default x");
    ck_assert_str_eq(cfg.pipe.topic[0], "${LOYALTYD_TEST_SHOP}");
    ck_assert_str_eq(cfg.pipe.topic[1], "cost$5$x");
    ck_assert_str_eq(cfg.pipe.topic[2], "m.shop7");
    ck_assert_int_eq(cfg.redis_port, 6390);
    config_fini(&cfg);
}
END_TEST

/* kafka.NAME_file sets NAME from a file: a secret stays out of the file. */
START_TEST(test_kafka_secret_file)
{
    char pw[64], text[256], err[256] = "";
    struct config cfg;
    FILE *f;

    snprintf(pw, sizeof(pw), "/tmp/loyaltyd-sasl-%d", (int)getpid());
    ck_assert_ptr_nonnull(f = fopen(pw, "w"));
    fputs("  sasl s3cret \nsecond line\n", f);
    fclose(f);
    snprintf(text, sizeof(text),
             "kafka.sasl.password_file = %s\nkafka.producer.ssl.key.password_file = %s\n",
             pw, pw);
    ck_assert_int_eq(load(&cfg, text, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.pipe.kafka_common.n, 1);
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].name, "sasl.password");
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].value, "sasl s3cret");
    ck_assert_uint_eq(cfg.pipe.kafka_producer.n, 1);
    ck_assert_str_eq(cfg.pipe.kafka_producer.v[0].name, "ssl.key.password");
    config_fini(&cfg);
    /* The file names no real property. */
    snprintf(text, sizeof(text), "kafka.no.such_file = %s\n", pw);
    ck_assert_int_eq(load(&cfg, text, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, ":1: kafka.no.such_file: No such configuration") != NULL,
                  "got '%s'", err);
    config_fini(&cfg);
    unlink(pw);
}
END_TEST

/* A reload names what it does not apply until a restart. */
START_TEST(test_restart_changes)
{
    struct config a, b;
    char err[256] = "", out[256];

    ck_assert_int_eq(
        load(&a, "redis.prefix = one:\nlog.level = info\n", err, sizeof(err)), 0);
    ck_assert_int_eq(
        load(&b, "redis.prefix = one:\nlog.level = debug\n", err, sizeof(err)), 0);
    ck_assert_uint_eq(config_restart_changes(&a, &b, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    config_fini(&b);
    ck_assert_int_eq(
        load(&b,
             "redis.prefix = two:\nlog.level = debug\nsweep.interval_s = 5\n"
             "kafka.consumer.fetch.min.bytes = 2\nmodel.churn_threshold = 0.6\n",
             err, sizeof(err)),
        0);
    ck_assert_uint_eq(config_restart_changes(&a, &b, out, sizeof(out)), 3);
    ck_assert_str_eq(out, "redis.prefix, sweep.interval_s, kafka.*");
    config_fini(&b);
    /* keys of a type of their own (a word, a list of indices) too */
    ck_assert_int_eq(load(&b,
                          "redis.prefix = one:\nclock = stream\nredis.indices = clv\n"
                          "log.format = json\ninput.bad_key = apply\n",
                          err, sizeof(err)),
                     0);
    ck_assert_uint_eq(config_restart_changes(&a, &b, out, sizeof(out)), 4);
    ck_assert_str_eq(out, "redis.indices, clock, log.format, input.bad_key");
    config_fini(&a);
    config_fini(&b);
}
END_TEST

/* What --help-config prints is a configuration that loads, every key at its
 * default. */
START_TEST(test_described_config_loads)
{
    struct config cfg, defaults;
    char *text = NULL, err[512] = "", out[256];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    config_describe(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\nredis.port = 6379\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nmodel.milestones = 2,5,10,20,50,100\n"));
    ck_assert_msg(load(&cfg, text, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(config_init(&defaults), 0);
    ck_assert_uint_eq(config_restart_changes(&defaults, &cfg, out, sizeof(out)), 1);
    ck_assert_str_eq(out, "kafka.*");
    config_fini(&defaults);
    config_fini(&cfg);
    free(text);
}
END_TEST

/* The password comes from its own file and never from the config line. */
START_TEST(test_password_file)
{
    char pw[64], text[128], err[256] = "";
    struct config cfg;
    FILE *f;

    snprintf(pw, sizeof(pw), "/tmp/loyaltyd-pw-%d", (int)getpid());
    f = fopen(pw, "w");
    ck_assert_ptr_nonnull(f);
    fputs("s3cret\n", f);
    fclose(f);
    snprintf(text, sizeof(text), "redis.password_file = %s\n", pw);
    ck_assert_int_eq(load(&cfg, text, err, sizeof(err)), 0);
    unlink(pw);
    ck_assert_str_eq(cfg.redis_password, "s3cret");
    config_fini(&cfg);
}
END_TEST

/* Static membership: group.instance_id, else $LOYALTYD_INSTANCE (set by
 * loyaltyd@NAME.service), else none. */
START_TEST(test_group_instance)
{
    char err[256] = "";
    struct config cfg;

    unsetenv("LOYALTYD_INSTANCE");
    ck_assert_int_eq(load(&cfg, "redis.port = 1\n", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.pipe.group_instance_id, "");
    config_fini(&cfg);
    setenv("LOYALTYD_INSTANCE", "host1-shop1", 1);
    ck_assert_int_eq(load(&cfg, "redis.port = 1\n", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.pipe.group_instance_id, "host1-shop1");
    config_fini(&cfg);
    ck_assert_int_eq(load(&cfg, "group.instance_id = mine\n", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.pipe.group_instance_id, "mine");
    config_fini(&cfg);
    unsetenv("LOYALTYD_INSTANCE");
}
END_TEST

/* systemd credentials: redis-password and kafka-sasl-password from
 * $CREDENTIALS_DIRECTORY, unless the file names its own. */
START_TEST(test_credentials)
{
    char dir[64], f[128], text[256], err[256] = "";
    struct config cfg;
    FILE *fp;

    snprintf(dir, sizeof(dir), "/tmp/loyaltyd-creds-%d", (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(f, sizeof(f), "%s/redis-password", dir);
    ck_assert_ptr_nonnull(fp = fopen(f, "w"));
    fputs("from-credential\n", fp);
    fclose(fp);
    snprintf(f, sizeof(f), "%s/kafka-sasl-password", dir);
    ck_assert_ptr_nonnull(fp = fopen(f, "w"));
    fputs("sasl-secret\n", fp);
    fclose(fp);
    setenv("CREDENTIALS_DIRECTORY", dir, 1);

    ck_assert_int_eq(load(&cfg, "redis.port = 1\n", err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.redis_password, "from-credential");
    ck_assert_uint_eq(cfg.pipe.kafka_common.n, 1);
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].name, "sasl.password");
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].value, "sasl-secret");
    config_fini(&cfg);

    /* The file's own choices win, each on its own: a Redis password file
     * leaves the SASL credential to be read. */
    snprintf(f, sizeof(f), "%s/other", dir);
    ck_assert_ptr_nonnull(fp = fopen(f, "w"));
    fputs("from-file\n", fp);
    fclose(fp);
    snprintf(text, sizeof(text), "redis.password_file = %s\n", f);
    ck_assert_int_eq(load(&cfg, text, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.redis_password, "from-file");
    ck_assert_uint_eq(cfg.pipe.kafka_common.n, 1);
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].value, "sasl-secret");
    config_fini(&cfg);
    snprintf(text, sizeof(text), "kafka.sasl.password_file = %s\n", f);
    ck_assert_int_eq(load(&cfg, text, err, sizeof(err)), 0);
    ck_assert_str_eq(cfg.redis_password, "from-credential");
    ck_assert_uint_eq(cfg.pipe.kafka_common.n, 1);
    ck_assert_str_eq(cfg.pipe.kafka_common.v[0].value, "from-file");
    config_fini(&cfg);

    /* No credentials there: no password, no error. */
    unlink(f);
    snprintf(f, sizeof(f), "%s/redis-password", dir);
    unlink(f);
    snprintf(f, sizeof(f), "%s/kafka-sasl-password", dir);
    unlink(f);
    ck_assert_int_eq(load(&cfg, "redis.port = 1\n", err, sizeof(err)), 0);
    ck_assert_ptr_null(cfg.redis_password);
    ck_assert_uint_eq(cfg.pipe.kafka_common.n, 0);
    config_fini(&cfg);
    rmdir(dir);
    unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_indices);
    tcase_add_test(tc, test_redis_cluster);
    tcase_add_test(tc, test_values_and_passthrough);
    tcase_add_loop_test(tc, test_bad_line_reported, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_quoted_values);
    tcase_add_test(tc, test_env_expansion);
    tcase_add_test(tc, test_kafka_secret_file);
    tcase_add_test(tc, test_restart_changes);
    tcase_add_test(tc, test_described_config_loads);
    tcase_add_test(tc, test_fit_gate);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_password_file);
    tcase_add_test(tc, test_credentials);
    tcase_add_test(tc, test_group_instance);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(config_suite)
