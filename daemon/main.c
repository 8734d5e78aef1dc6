/*
 * main.c - loyaltyd's process life: arguments, configuration, signals,
 * systemd notification, the main loop and its timers.  Reads like a table of
 * contents; the work happens in consumers/ (pipeline.c says which file does
 * what) and state/.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/parse.h"
#include "consumers/pipeline.h"
#include "daemon/config.h"
#include "daemon/http.h"
#include "state/model/model.h"
#include "state/store/store.h"

#define EXIT_USAGE       2
#define EXIT_CONFIG      78 /* EX_CONFIG: systemd need not restart us */
#define LOOP_POLL_MS     100
#define STATUS_EVERY_MS  5000
#define CLOSE_TIMEOUT_MS 20000

static volatile sig_atomic_t got_stop, got_reload;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        got_reload = 1;
    } else {
        got_stop = 1;
    }
}

static int signals_init(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
        sigaction(SIGHUP, &sa, NULL) < 0) {
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* What the metrics label their series with, once for the process: the
 * dead-letter reasons, the Redis errors' and the input topics' names. */
static void label_metrics(const struct config *cfg)
{
    metrics_reasons(parse_reason_names, PR__COUNT);
    metrics_redis_error_reasons(store_err_names, STORE_ERR__COUNT);
    metrics_set_topics(cfg->pipe.topic[TOPIC_ORDERS], cfg->pipe.topic[TOPIC_REVIEWS],
                       cfg->pipe.topic[TOPIC_MESSAGES]);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: loyaltyd -c FILE [-t]\n"
                 "       loyaltyd --help-config\n"
                 "  -c, --config FILE   configuration file (key = value lines)\n"
                 "  -t, --test-config   check the configuration and exit\n"
                 "      --help-config   print every configuration key with its default\n"
                 "  -V, --version       print the version\n"
                 "  -h, --help          this text\n");
}

struct args {
    const char *config;
    int test_only;
};

/* Returns -1 to exit 0 (help printed), 0 to run, or exits 2 on a bad argument. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"test-config", no_argument, NULL, 't'},
        {"help-config", no_argument, NULL, 'H'},  {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 't':
            a->test_only = 1;
            break;
        case 'H':
            config_describe(stdout);
            return -1;
        case 'V':
            printf("loyaltyd %s\n", LOYALTY_VERSION);
            return -1;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            exit(EXIT_USAGE);
        }
    }
    if (optind < argc || a->config == NULL) {
        fprintf(stderr, "loyaltyd: %s\n",
                optind < argc ? "unexpected argument" : "missing -c FILE");
        usage(stderr);
        exit(EXIT_USAGE);
    }
    return 0;
}

/* Connect Redis, then reach Kafka; retry both until they answer or we are told
 * to stop. */
static int wait_for_services(struct store *store, struct pipeline *pl)
{
    struct store_migration m = {0};
    char err[512];
    int delay_ms = 200, pruned;

    /* The keys of the release before are moved before anything is consumed
     * (again after a failure: the migration is idempotent). */
    while (!got_stop && (store_connect(store, err, sizeof(err)) < 0 ||
                         store_check_eviction(store, err, sizeof(err)) < 0 ||
                         store_migrate_task_keys(store, &m, err, sizeof(err)) < 0)) {
        log_warn("%s (retrying)", err);
        metrics_redis_error(store_err_class(err));
        sd_notifyf(0, "STATUS=waiting for redis: %s", err);
        usleep((useconds_t)delay_ms * 1000);
        delay_ms = delay_ms < 5000 ? delay_ms * 2 : 5000;
    }
    metrics_set_redis_up(!got_stop);
    if (!got_stop && m.keys > 0) {
        log_note("moved the keys of the release before to the tasks' keys: %lld due "
                 "time(s) into t:{N}:due, %lld index entries into t:{N}:idx:KIND, %lld "
                 "dropped (customer gone), %lld old key(s) deleted",
                 m.due, m.indexed, m.dropped, m.keys);
    }
    if (!got_stop && store_aof(store) == 0) {
        log_warn("redis runs without AOF (appendonly no): a restart loses the writes "
                 "since its last snapshot; loyaltyd applies them again from Kafka "
                 "(README, \"Guarantees\"), but enable appendonly for a shorter gap");
    }
    if (!got_stop && (pruned = store_indices_prune(store)) > 0) {
        log_note("deleted %d index(es) that redis.indices no longer keeps", pruned);
    }
    while (!got_stop && pipeline_probe(pl, 2000, err, sizeof(err)) < 0) {
        log_warn("%s (retrying)", err);
        sd_notifyf(0, "STATUS=waiting for kafka: %s", err);
    }
    return got_stop ? -1 : 0;
}

/* SIGHUP: re-read the file; tunables and the log level change in place, the
 * consumer keeps its group membership. */
static void reload(const char *path, struct config *cfg, struct pipeline *pl)
{
    struct config fresh;
    char err[512];

    sd_notify(0, "RELOADING=1");
    if (config_init(&fresh) < 0 || config_load(&fresh, path, err, sizeof(err)) < 0) {
        log_err("reload refused, keeping the running configuration: %s", err);
        metrics_reload(0);
    } else {
        struct model_config *cur = fresh.model;
        char later[512];
        size_t n = config_restart_changes(cfg, &fresh, later, sizeof(later));

        fresh.model = pipeline_set_model_config(pl, cur); /* the old one, freed below */
        cfg->model = cur;
        cfg->log_level = fresh.log_level;
        log_set_level(fresh.log_level);
        metrics_reload(1);
        if (n > 0) {
            log_warn("configuration reloaded from %s (log level, model.*); not applied "
                     "until a restart: %s",
                     path, later);
        } else {
            log_note("configuration reloaded from %s", path);
        }
    }
    config_fini(&fresh);
    sd_notify(0, "READY=1");
}

/* How often the exchange rates' version is checked (one GET), and how
 * often a failing check is said. */
#define RATES_CHECK_MS 1000
#define RATES_WARN_MS  60000

struct timers {
    int64_t sweep, model, rates, rates_warn, status, watchdog;
    int64_t watchdog_every_ms; /* half of WATCHDOG_USEC; 0: no watchdog */
};

static void run_timers(const struct config *cfg, struct pipeline *pl, struct timers *t)
{
    int64_t now = mono_ms();

    if (cfg->sweep_interval_ms > 0 && now >= t->sweep) {
        pipeline_sweep(pl);
        t->sweep = now + cfg->sweep_interval_ms;
    }
    if (now >= t->model) {
        pipeline_refresh_model(pl);
        t->model = now + cfg->model_refresh_ms;
    }
    if (now >= t->rates) {
        char err[256];

        if (pipeline_refresh_rates(pl, err, sizeof(err)) < 0 && now >= t->rates_warn) {
            log_warn("exchange rates: %s (the rates read before still convert; said once "
                     "a minute)",
                     err);
            t->rates_warn = now + RATES_WARN_MS;
        }
        t->rates = now + RATES_CHECK_MS;
    }
    if (now >= t->status) {
        sd_notifyf(0,
                   "STATUS=%s: %zu partitions, %" PRIu64 " applied, %" PRIu64
                   " dead-lettered, %" PRIu64 " emitted",
                   pipeline_ready(pl) ? "running" : "degraded", pipeline_assigned(pl),
                   metrics_applied_total(), metrics_dead_lettered_total(),
                   metrics_emitted_total());
        t->status = now + STATUS_EVERY_MS;
    }
    metrics_set_ready(pipeline_ready(pl));
    if (t->watchdog_every_ms > 0 && now >= t->watchdog) {
        sd_notify(0, "WATCHDOG=1");
        t->watchdog = now + t->watchdog_every_ms;
    }
}

static void main_loop(const char *path, struct config *cfg, struct pipeline *pl)
{
    struct timers t = {0};
    uint64_t usec = 0;

    /* Pinged at half the interval systemd watches (WatchdogSec=). */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        t.watchdog_every_ms = (int64_t)(usec / 2000) > 0 ? (int64_t)(usec / 2000) : 1;
    }

    while (!got_stop && !pipeline_failed(pl)) {
        if (got_reload) {
            got_reload = 0;
            reload(path, cfg, pl);
        }
        pipeline_step(pl, LOOP_POLL_MS);
        run_timers(cfg, pl, &t);
    }
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct args args;
    struct store_opts sopts;
    struct store *store = NULL;
    struct pipeline *pl = NULL;
    struct http *http = NULL;
    char err[512];
    int rc = EXIT_FAILURE, fx;

    if (parse_args(argc, argv, &args) < 0) {
        return 0;
    }
    if (config_init(&cfg) < 0) {
        log_err("out of memory");
        return EXIT_FAILURE;
    }
    /* Errors from here on go through the logger, at error priority. */
    if (config_load(&cfg, args.config, err, sizeof(err)) < 0) {
        log_err("%s", err);
        config_fini(&cfg);
        return EXIT_CONFIG;
    }
    log_set_format((enum log_format)cfg.log_format);
    if (args.test_only) {
        printf("%s: ok\n", args.config);
        config_fini(&cfg);
        return 0;
    }
    log_set_level(cfg.log_level);
    metrics_init();
    metrics_set_sweep_interval(cfg.sweep_interval_ms);
    label_metrics(&cfg);
    if (signals_init() < 0) {
        log_errno(LOG_LVL_ERR, "sigaction");
        goto out;
    }
    config_store_opts(&cfg, &sopts);
    store = store_new(&sopts);
    if (store == NULL ||
        (pl = pipeline_new(&cfg.pipe, cfg.model, store, err, sizeof(err))) == NULL) {
        log_err("start: %s", store ? err : "out of memory");
        goto out;
    }
    if (cfg.http_listen[0] &&
        (http = http_start(cfg.http_listen, err, sizeof(err))) == NULL) {
        log_err("%s", err);
        goto out;
    }
    if (wait_for_services(store, pl) < 0 ||
        pipeline_subscribe(pl, err, sizeof(err)) < 0) {
        if (!got_stop) {
            log_err("%s", err);
        }
        rc = got_stop ? 0 : EXIT_FAILURE;
        goto out;
    }
    pipeline_refresh_model(pl);
    /* Orders are converted from the first one on: the table is read before
     * anything is consumed, Redis waited for if it went away meanwhile. */
    for (int tries = 0;
         (fx = pipeline_refresh_rates(pl, err, sizeof(err))) == PIPELINE_RATES_AWAY &&
         !got_stop;
         tries++) {
        if (tries == 0) {
            log_warn("exchange rates: %s (retrying every second)", err);
        }
        sleep(1);
        (void)store_connect(store, err, sizeof(err));
    }
    if (fx < 0 || got_stop) {
        if (!got_stop) {
            log_err("exchange rates: %s", err);
        }
        rc = got_stop ? 0 : EXIT_FAILURE;
        goto out;
    }
    pipeline_connect(pl);
    sd_notify(0, "READY=1");
    if (cfg.redis_cluster[0] != '\0') {
        log_note("loyaltyd %s running (group %s, redis cluster %s)", LOYALTY_VERSION,
                 cfg.pipe.group_id, cfg.redis_cluster);
    } else {
        log_note("loyaltyd %s running (group %s, redis %s:%d)", LOYALTY_VERSION,
                 cfg.pipe.group_id, cfg.redis_host, cfg.redis_port);
    }
    main_loop(args.config, &cfg, pl);
    sd_notify(0, "STOPPING=1");
    log_note("stopping: finishing in-flight work");
    pipeline_close(pl, CLOSE_TIMEOUT_MS);
    rc = pipeline_failed(pl) ? EXIT_FAILURE : 0;
out:
    pipeline_free(pl);
    http_stop(http);
    store_free(store);
    metrics_fini();
    config_fini(&cfg);
    return rc;
}
