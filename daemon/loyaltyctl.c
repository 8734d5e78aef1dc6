/*
 * loyaltyctl.c - the operators' command line: inspect and repair the state
 * loyaltyd keeps in Redis, fit the churn model, redrive dead-lettered
 * input (redrive.c), and import and list exchange rates (fxctl.c).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/array.h"
#include "base/civil.h"
#include "base/clock.h"
#include "base/minor.h"
#include "daemon/config.h"
#include "daemon/fxctl.h"
#include "daemon/redrive.h"
#include "daemon/svg.h"
#include "state/fit/bgfit.h"
#include "state/fit/cdnow.h"
#include "state/fit/fit.h"
#include "state/fit/gate.h"
#include "state/fit/validate.h"
#include "state/model/model.h"
#include "state/store/codec.h"
#include "state/store/store.h"

#define EXIT_USAGE 2
#define EXIT_GATE  3 /* the refit gate refused the fit: nothing saved */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: loyaltyctl [-c FILE] [--redis HOST:PORT] [--prefix P] [--json] COMMAND "
        "[ARGS]\n"
        "       loyaltyctl --version | --help\n"
        "--json (before or after the command): one JSON document on stdout\n"
        "commands:\n"
        "  show CUSTOMER [--now]    state, with the explanation of every score (as of\n"
        "                           its last evaluation, or of the wall clock)\n"
        "  dump CUSTOMER...         the summary hash and the whole state, decoded\n"

        "  delete CUSTOMER          remove a customer's state, index and due entries\n"
        "  top [--by risk|loyalty|clv|value] [-n N]\n"
        "  model                    the model parameters the daemon uses\n"
        "  quarantine [release CUSTOMER]\n"
        "                           customers set aside as their stored state cannot be\n"
        "                           read; release one once repaired\n"
        "  functions                load the Redis function library (an administrator's\n"
        "                           step when the daemon's Redis user may not)\n"
        "  stats                    customers, and how many are on an older model "
        "version\n"
        "  fit --from-redis [--as-of YYYY-MM-DD] [--unit weeks|days] [--json]\n"
        "      [--save [--max-change F] [--force]] [--gate | --no-gate]\n"
        "  fit --input FILE --format cdnow-transactions|cdnow-summary\n"
        "      [--calibration-end YYYY-MM-DD] [--unit weeks|days] [--json] [--save "
        "...]\n"
        "                           --gate: a backtest on the data's last days must\n"
        "                           pass before --save saves (fit.gate in -c FILE;\n"
        "                           exit 3 when it refuses; docs/validate.md)\n"
        "  validate --calibration-end YYYY-MM-DD [--holdout-end YYYY-MM-DD]\n"
        "      (--input FILE --format cdnow-transactions | --from-redis)\n"
        "      [--model fit|stored] [--json] [--plot DIR]\n"
        "                           the churn model's predictions for the holdout\n"
        "                           against what happened (docs/validate.md)\n"
        "  fx import FILE [--format ecb|plain] [--base CUR] [--replace]\n"
        "                           exchange rates into Redis from the ECB's CSV or a\n"
        "                           date,currency,rate file (rates: units of each\n"
        "                           currency per unit of the base, default EUR); a\n"
        "                           bad line refuses the whole file, and a rate stored\n"
        "                           with another value refuses it unless --replace\n"
        "  fx list [--currency CUR] [--on YYYY-MM-DD]\n"
        "                           the rates in force on a day (default: the latest)\n"
        "                           per currency, with the date each took effect\n"
        "  redrive --reason REASON [--customer ID] [--dry-run]\n"
        "                           produce the DLQ records of that reason (and\n"
        "                           customer) again to their source topic, once the\n"
        "                           cause is fixed; truncated ones are skipped. It\n"
        "                           reads the DLQ to its end as of the start, commits\n"
        "                           no offsets; a record redriven twice is harmless:\n"
        "                           the daemon skips an event_id it has applied\n");
}

static void usage_exit(const char *why) __attribute__((noreturn));

static void usage_exit(const char *why)
{
    if (why) {
        fprintf(stderr, "loyaltyctl: %s\n", why);
    }
    usage(stderr);
    exit(EXIT_USAGE);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("loyaltyctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* "YYYY-MM-DD" -> epoch day; exits 2 on a malformed date. */
static long parse_day(const char *s, const char *what)
{
    int y, m, d, n = 0;
    char compact[16];
    long day;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || s[n] != '\0') {
        usage_exit(what);
    }
    snprintf(compact, sizeof(compact), "%04d%02d%02d", y, m, d);
    if (cdnow_parse_date(compact, &day) < 0) {
        usage_exit(what);
    }
    return day;
}

/* ---- connection ---- */

struct ctl {
    struct config cfg;
    struct store *store;
    struct model_ctx model;
    int json; /* --json: print one JSON document */
};

/* Print a JSON document and free it. */
static void put_json(cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;

    if (text == NULL) {
        die("out of memory");
    }
    puts(text);
    free(text);
    cJSON_Delete(doc);
}

static void ctl_connect(struct ctl *c)
{
    char err[512];

    struct store_opts sopts;

    config_store_opts(&c->cfg, &sopts);
    c->store = store_new(&sopts);
    if (c->store == NULL) {
        die("out of memory");
    }
    if (store_connect(c->store, err, sizeof(err)) < 0) {
        die("%s", err);
    }
    c->model.cfg = c->cfg.model;
    bg_params_default(&c->model.bg);
    gg_params_default(&c->model.gg);
    if (store_model_get(c->store, &c->model.bg, &c->model.gg, &c->model.version) < 0) {
        die("redis: cannot read the model parameters");
    }
}

static void load_customer(struct ctl *c, const char *id, struct customer *cu)
{
    struct store_meta meta;
    char err[512];

    if (store_load(c->store, id, cu, &meta, err, sizeof(err)) < 0) {
        die("%s", err);
    }
    if (!meta.exists) {
        die("no customer '%s' under prefix '%s'", id, c->cfg.redis_prefix);
    }
}

/* fn(cu, arg) for every customer under the prefix, each loaded in turn
 * into one buffer. */
static void each_customer(struct ctl *c, void (*fn)(const struct customer *cu, void *arg),
                          void *arg)
{
    struct customer *cu = malloc(sizeof(*cu));
    uint64_t cursor = 0;

    if (cu == NULL) {
        die("out of memory");
    }
    do {
        char **ids;
        size_t count;

        if (store_scan_customers(c->store, &cursor, &ids, &count) < 0) {
            die("redis: cannot list customers");
        }
        for (size_t i = 0; i < count; i++) {
            load_customer(c, ids[i], cu);
            fn(cu, arg);
        }
        store_ids_free(ids, count);
    } while (cursor != 0);
    free(cu);
}

/* ---- commands ---- */

/* The orders as paid (docs/state.md): as stated and as counted. */
static void add_paid(cJSON *doc, const struct customer *cu)
{
    cJSON *list = cJSON_AddArrayToObject(doc, "orders_as_paid");

    for (uint32_t i = 0; i < cu->npaid; i++) {
        const struct cu_paid *p = &cu->paid[i];
        cJSON *o = cJSON_CreateObject();
        char day[FX_DAY_TEXT];
        int64_t cents = 0;

        fx_day_format(p->day, day);
        cJSON_AddStringToObject(o, "day", day);
        cJSON_AddStringToObject(o, "currency", p->currency);
        cJSON_AddNumberToObject(o, "amount",
                                minor_value(p->amount_minor, (int)p->exponent));
        if (cu_paid_cents(p, &cents) == 0) {
            cJSON_AddNumberToObject(o, "converted", (double)cents / 100.0);
        }
        cJSON_AddStringToObject(o, "converted_currency", cu->currency);
        cJSON_AddNumberToObject(o, "rate", fx_ratio_value(&p->rate));
        cJSON_AddBoolToObject(o, "own_rate", (p->flags & PAID_OWN_RATE) != 0);
        cJSON_AddBoolToObject(o, "cancelled", (p->flags & PAID_CANCELLED) != 0);
        cJSON_AddBoolToObject(o, "refunded_at_its_rate", (p->flags & PAID_RETURNED) != 0);
        cJSON_AddItemToArray(list, o);
    }
}

/* Explained as of the time the daemon last evaluated the customer (so the
 * figures match the stored ones), or as of now with --now. */
static int cmd_show(struct ctl *c, const char *id, int at_wall_clock)
{
    struct customer *cu = malloc(sizeof(*cu));
    char *buf = malloc(65536);
    int64_t when;

    if (cu == NULL || buf == NULL) {
        die("out of memory");
    }
    load_customer(c, id, cu);
    when = at_wall_clock || cu->as_of_ms <= 0 ? wall_ms() : cu->as_of_ms;
    if (model_explain(cu, &c->model, when, buf, 65536) < 0) {
        die("cannot explain customer '%s'", id);
    }
    if (cu->model_version < c->model.version) {
        size_t len = strlen(buf);

        snprintf(buf + len, 65536 - len,
                 "note: the stored p_alive, churn_risk and clv are from model version "
                 "%" PRId64 "; the current model is version %" PRId64
                 " (the figures above); a running daemon rescores it in the background\n",
                 cu->model_version, c->model.version);
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject(), *lines = cJSON_AddArrayToObject(doc, "lines");

        cJSON_AddStringToObject(doc, "customer_id", id);
        cJSON_AddNumberToObject(doc, "as_of_ms", (double)when);
        cJSON_AddNumberToObject(doc, "model_version", (double)cu->model_version);
        cJSON_AddNumberToObject(doc, "current_model_version", (double)c->model.version);
        for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            cJSON_AddItemToArray(lines, cJSON_CreateString(line));
        }
        add_paid(doc, cu);
        put_json(doc);
    } else {
        fputs(buf, stdout);
    }
    free(buf);
    free(cu);
    return 0;
}

/* The store's part of a customer as the fields layout 2 kept in its hash:
 * rev, partition, wm:SOURCE:PARTITION. */
static int meta_fields(const struct store_meta *m, struct kvlist *kv)
{
    char name[64], val[32];
    int rc = 0;

    snprintf(val, sizeof(val), "%" PRId64, m->rev);
    rc |= kvlist_add(kv, "rev", val);
    snprintf(val, sizeof(val), "%" PRId32, m->partition);
    rc |= kvlist_add(kv, "partition", val);
    for (size_t i = 0; i < m->nwm; i++) {
        snprintf(name, sizeof(name), "wm:%s:%" PRId32,
                 event_source_name((enum ev_source)m->wm[i].source), m->wm[i].partition);
        snprintf(val, sizeof(val), "%" PRId64, m->wm[i].offset);
        rc |= kvlist_add(kv, name, val);
    }
    return rc;
}

/* One customer: its summary hash as stored, and its whole state in the
 * readable form (docs/state.md): the fields at their defaults left out, as
 * `show` reads them. */
static cJSON *dump_one(struct ctl *c, const char *id, struct customer *cu)
{
    struct kvlist summary, fields;
    struct store_meta meta;
    char *aux = NULL, err[512];
    cJSON *doc = NULL;

    kvlist_init(&summary);
    kvlist_init(&fields);
    if (store_load(c->store, id, cu, &meta, err, sizeof(err)) < 0) {
        die("%s", err);
    }
    if (!meta.exists) {
        die("no customer '%s' under prefix '%s'", id, c->cfg.redis_prefix);
    }
    if (store_summary(c->store, id, &summary) < 0 || meta_fields(&meta, &fields) < 0 ||
        codec_encode(cu, &fields, &aux) < 0) {
        die("redis: cannot read customer '%s'", id);
    }
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "customer_id", id);
    cJSON_AddNumberToObject(doc, "layout", meta.layout);
    for (int part = 0; part < 2; part++) {
        const struct kvlist *kv = part ? &fields : &summary;
        cJSON *o = cJSON_AddObjectToObject(doc, part ? "fields" : "summary");

        for (size_t i = 0; i < kv->n; i++) {
            if (kv->v[i].value[0] != '\0') {
                cJSON_AddStringToObject(o, kv->v[i].name, kv->v[i].value);
            }
        }
    }
    cJSON_AddStringToObject(doc, "aux", aux ? aux : "");
    free(aux);
    kvlist_free(&fields);
    kvlist_free(&summary);
    return doc;
}

static void dump_print(const cJSON *doc)
{
    const cJSON *f;

    printf("customer %s (layout %d)\n",
           cJSON_GetObjectItem(doc, "customer_id")->valuestring,
           cJSON_GetObjectItem(doc, "layout")->valueint);
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(doc, "summary"))
        printf("summary.%s = %s\n", f->string, f->valuestring);
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(doc, "fields"))
        printf("%s = %s\n", f->string, f->valuestring);
    printf("aux = %s\n", cJSON_GetObjectItem(doc, "aux")->valuestring);
}

/* dump CUSTOMER...: with --json one object, or an array of them for several. */
static int cmd_dump(struct ctl *c, int n, char **ids)
{
    struct customer *cu = malloc(sizeof(*cu));
    cJSON *all = cJSON_CreateArray();

    if (cu == NULL || all == NULL) {
        die("out of memory");
    }
    for (int i = 0; i < n; i++) {
        cJSON *doc = dump_one(c, ids[i], cu);

        if (!c->json) {
            dump_print(doc);
            cJSON_Delete(doc);
        } else {
            cJSON_AddItemToArray(all, doc);
        }
    }
    if (c->json && n == 1) {
        put_json(cJSON_DetachItemFromArray(all, 0));
    } else if (c->json) {
        put_json(all); /* takes it */
        all = NULL;
    }
    cJSON_Delete(all);
    free(cu);
    return 0;
}

static int cmd_delete(struct ctl *c, const char *id)
{
    long long n = store_delete_customer(c->store, id);

    if (n < 0) {
        die("redis: cannot delete '%s'", id);
    }
    if (n == 0) {
        die("no customer '%s' under prefix '%s'", id, c->cfg.redis_prefix);
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject();

        cJSON_AddStringToObject(doc, "deleted", id);
        put_json(doc);
    } else {
        printf("deleted %s\n", id);
    }
    return 0;
}

/* The customers set aside because their stored state cannot be read, with
 * when and why; or one released (README, "Quarantine"). */
static int cmd_quarantine(struct ctl *c, int argc, char **argv)
{
    char **ids, **texts, err[256];
    size_t n;
    int rc;

    if (argc == 2 && strcmp(argv[0], "release") == 0) {
        if ((rc = store_quarantine_release(c->store, argv[1], err, sizeof(err))) < 0) {
            die("%s", err);
        }
        if (rc == 0) {
            die("customer '%s' is not quarantined under prefix '%s'", argv[1],
                c->cfg.redis_prefix);
        }
        printf("released %s\n", argv[1]);
        return 0;
    }
    if (argc != 0) {
        usage_exit("quarantine takes nothing, or release CUSTOMER");
    }
    if (store_quarantine_list(c->store, &ids, &texts, &n, err, sizeof(err)) < 0) {
        die("%s", err);
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateArray();

        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            char *sp = strchr(texts[i], ' ');

            cJSON_AddStringToObject(o, "customer_id", ids[i]);
            cJSON_AddNumberToObject(o, "since_ms", strtod(texts[i], NULL));
            cJSON_AddStringToObject(o, "reason", sp ? sp + 1 : "");
            cJSON_AddItemToArray(doc, o);
        }
        put_json(doc);
    } else {
        for (size_t i = 0; i < n; i++) {
            char when[CIVIL_RFC3339_MAX], *sp = strchr(texts[i], ' ');

            civil_rfc3339_format(strtoll(texts[i], NULL, 10), when, sizeof(when));
            printf("%s  since %s  %s\n", ids[i], when, sp ? sp + 1 : "");
        }
    }
    store_quarantine_free(ids, texts, n);
    return 0;
}

static int cmd_top(struct ctl *c, int argc, char **argv)
{
    enum store_index_kind k = STORE_IDX_RISK;
    long n = 10;
    char **ids = NULL, *end;
    double *scores = NULL;
    size_t count = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            int j = store_index_parse(argv[i + 1], strlen(argv[i + 1]));

            if (j < 0) {
                usage_exit("--by takes risk, loyalty, clv or value");
            }
            k = (enum store_index_kind)j;
            i++;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n <= 0 || n > 100000) {
                usage_exit("-n takes a number from 1 to 100000");
            }
        } else {
            usage_exit("top: unexpected argument");
        }
    }
    if (!(c->cfg.redis_indices & (1u << k))) {
        die("the %s index is not kept (add it to redis.indices in the daemon's "
            "configuration; see -c)",
            store_index_name(k));
    }
    if (store_top(c->store, k, (size_t)n, &ids, &scores, &count) < 0) {
        die("redis: cannot read index %s", store_index_name(k));
    }
    if (count == 0) { /* an empty table would hide a mistyped prefix */
        long long all = 0;

        if (store_index_count(c->store, k, &all) < 0) {
            die("redis: cannot read index %s", store_index_name(k));
        }
        if (all == 0) {
            die("no customers under prefix '%s' (the daemon's is redis.prefix in its "
                "configuration; see -c and --prefix)",
                c->cfg.redis_prefix);
        }
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(doc, "top");

        cJSON_AddStringToObject(doc, "by", store_index_name(k));
        for (size_t i = 0; i < count; i++) {
            cJSON *r = cJSON_CreateObject();

            cJSON_AddNumberToObject(r, "rank", (double)(i + 1));
            cJSON_AddStringToObject(r, "customer_id", ids[i]);
            cJSON_AddNumberToObject(r, "score", scores[i]);
            cJSON_AddItemToArray(rows, r);
        }
        put_json(doc);
    } else {
        printf("%-5s %-40s %s\n", "rank", "customer", store_index_name(k));
        for (size_t i = 0; i < count; i++) {
            printf("%-5zu %-40s %.4f\n", i + 1, ids[i], scores[i]);
        }
    }
    store_ids_free(ids, count);
    free(scores);
    return 0;
}

static int cmd_model(struct ctl *c)
{
    if (c->json) {
        cJSON *doc = cJSON_CreateObject(), *bg = cJSON_AddObjectToObject(doc, "bgnbd"),
              *gg = cJSON_AddObjectToObject(doc, "gammagamma");

        cJSON_AddNumberToObject(bg, "r", c->model.bg.r);
        cJSON_AddNumberToObject(bg, "alpha", c->model.bg.alpha);
        cJSON_AddNumberToObject(bg, "a", c->model.bg.a);
        cJSON_AddNumberToObject(bg, "b", c->model.bg.b);
        cJSON_AddStringToObject(bg, "unit", "weeks");
        cJSON_AddNumberToObject(gg, "p", c->model.gg.p);
        cJSON_AddNumberToObject(gg, "q", c->model.gg.q);
        cJSON_AddNumberToObject(gg, "gamma", c->model.gg.gamma);
        cJSON_AddNumberToObject(doc, "version", (double)c->model.version);
        put_json(doc);
        return 0;
    }
    printf("version %" PRId64 "%s\n", c->model.version,
           c->model.version ? "" : " (defaults: no fit saved)");
    printf("bgnbd r=%.6f alpha=%.6f a=%.6f b=%.6f (weeks)\n", c->model.bg.r,
           c->model.bg.alpha, c->model.bg.a, c->model.bg.b);
    printf("gammagamma p=%.6f q=%.6f gamma=%.6f\n", c->model.gg.p, c->model.gg.q,
           c->model.gg.gamma);
    return 0;
}

/* ---- fit ---- */

struct fit_args {
    const char *input, *format;
    long cal_end;
    int has_cal_end, from_redis, json, save, force;
    int gate; /* --gate 1, --no-gate 0, neither -1: fit.gate when saving */
    double unit_days, max_change;
};

static void parse_fit_args(int argc, char **argv, struct fit_args *f)
{
    memset(f, 0, sizeof(*f));
    f->unit_days = 7;
    f->max_change = 3;
    f->gate = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--from-redis") == 0) {
            f->from_redis = 1;
        } else if (strcmp(a, "--json") == 0) {
            f->json = 1;
        } else if (strcmp(a, "--save") == 0) {
            f->save = 1;
        } else if (strcmp(a, "--force") == 0) {
            f->force = 1;
        } else if (strcmp(a, "--gate") == 0 || strcmp(a, "--no-gate") == 0) {
            f->gate = a[2] == 'g';
        } else if (v && strcmp(a, "--max-change") == 0) {
            char *end;

            f->max_change = strtod(argv[++i], &end);
            if (*end != '\0' || !(f->max_change > 1) || f->max_change > 1000) {
                usage_exit("--max-change takes a factor above 1 (at most 1000)");
            }
        } else if (v && strcmp(a, "--input") == 0) {
            f->input = argv[++i];
        } else if (v && strcmp(a, "--format") == 0) {
            f->format = argv[++i];
        } else if (v &&
                   (strcmp(a, "--calibration-end") == 0 || strcmp(a, "--as-of") == 0)) {
            f->cal_end = parse_day(argv[++i], "dates are YYYY-MM-DD");
            f->has_cal_end = 1;
        } else if (v && strcmp(a, "--unit") == 0) {
            i++;
            if (strcmp(v, "weeks") != 0 && strcmp(v, "days") != 0) {
                usage_exit("--unit takes weeks or days");
            }
            f->unit_days = v[0] == 'w' ? 7 : 1;
        } else {
            usage_exit("fit: unexpected argument");
        }
    }
    if (f->from_redis == (f->input != NULL)) {
        usage_exit("fit needs exactly one of --from-redis and --input FILE");
    }
    if (f->input && (f->format == NULL || (strcmp(f->format, "cdnow-transactions") != 0 &&
                                           strcmp(f->format, "cdnow-summary") != 0))) {
        usage_exit("--format takes cdnow-transactions or cdnow-summary");
    }
    if (f->input && f->format[6] == 't' && !f->has_cal_end) {
        usage_exit("cdnow-transactions needs --calibration-end YYYY-MM-DD");
    }
}

/* BG/NBD statistics of one customer as of a day: 0, or -1 if the customer
 * has no purchase by then or bought after it (the state cannot be rewound). */
static int customer_obs(const struct customer *cu, long as_of_day, double unit_days,
                        struct bg_obs *o)
{
    if (cu->first_day < 0 || cu->first_day > as_of_day || cu->last_day > as_of_day) {
        return -1;
    }
    customer_bg_obs(cu, (int32_t)as_of_day, unit_days, o);
    return 0;
}

struct obs_acc {
    long as_of_day;
    double unit_days;
    ARRAY(struct bg_obs) obs;
    size_t skipped;
};

static void obs_add(const struct customer *cu, void *arg)
{
    struct obs_acc *a = arg;

    if (array_reserve(&a->obs, a->obs.n + 1) < 0) {
        die("out of memory");
    }
    if (customer_obs(cu, a->as_of_day, a->unit_days, &a->obs.v[a->obs.n]) == 0) {
        a->obs.n++;
    } else {
        a->skipped++;
    }
}

/* Every customer's (x, t_x, T) as of `as_of_day` from the daemon's state. */
static void obs_from_redis(struct ctl *c, long as_of_day, double unit_days,
                           struct bg_obs **out, size_t *n_out)
{
    struct obs_acc a = {.as_of_day = as_of_day, .unit_days = unit_days};

    each_customer(c, obs_add, &a);
    if (a.skipped) {
        fprintf(stderr,
                "loyaltyctl: %zu customers left out (no purchase up to the as-of "
                "day, or purchases after it)\n",
                a.skipped);
    }
    *out = a.obs.v;
    *n_out = a.obs.n;
}

/* The refit gate's run (docs/validate.md, "The refit gate"): what it judged
 * and why it refused; gate_run() below, with the validation's loaders. */
struct gate_run {
    struct gate_limits lim;
    int holdout_days;
    int judged;    /* the backtest ran; else why says what stopped it */
    char why[512]; /* "" when the fit passed */
    long cal_end, hold_end;
    size_t customers, left_out;
    struct bg_params backtest; /* fitted up to cal_end, weeks */
    int64_t stored_version;    /* 0: no saved model */
    struct gate_figures fig;
    struct gate_verdict v;
};

static void gate_run(struct ctl *c, const struct fit_args *f,
                     const struct bg_params *cand, struct gate_run *g);
static void gate_json(cJSON *doc, const struct gate_run *g);
static void gate_log(const struct gate_run *g);

static void fit_print(const struct fit_args *f, const struct bg_fit_result *bg,
                      const struct gg_fit_result *gg, const struct gate_run *g)
{
    char buf[1024];

    if (f->json) {
        const char *unit = f->unit_days == 7 ? "weeks" : "days";
        cJSON *doc;

        fit_format_json(buf, sizeof(buf), bg, gg, unit);
        if (g != NULL) {
            if ((doc = cJSON_Parse(buf)) == NULL) {
                die("out of memory");
            }
            gate_json(doc, g);
            put_json(doc);
            return;
        }
    } else {
        fit_format_text(buf, sizeof(buf), bg, gg);
    }
    fputs(buf, stdout);
    if (buf[0] && buf[strlen(buf) - 1] != '\n') {
        fputc('\n', stdout);
    }
}

/* A saved fit replaces the one the daemon uses: refused when a parameter
 * moves by more than a factor of max_change from the stored one (a fit on a
 * truncated or broken data set, not a population that changed overnight),
 * unless --force. */
static void check_plausible(const struct model_ctx *old, const struct bg_params *bg,
                            const struct gg_params *gg, double max_change)
{
    static const char *const names[] = {"r", "alpha", "a", "b", "p", "q", "gamma"};
    const double was[] = {old->bg.r, old->bg.alpha, old->bg.a,    old->bg.b,
                          old->gg.p, old->gg.q,     old->gg.gamma};
    const double now[] = {bg->r, bg->alpha, bg->a, bg->b, gg->p, gg->q, gg->gamma};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(now[i] <= was[i] * max_change && now[i] >= was[i] / max_change)) {
            die("%s moves from %g to %g, more than a factor of %g: nothing saved (check "
                "the data; --max-change F or --force to save all the same)",
                names[i], was[i], now[i], max_change);
        }
    }
}

/* Customers, the model version and how many are behind it. */
static int cmd_stats(struct ctl *c)
{
    uint64_t cursor = 0, total = 0, behind = 0;
    char err[512];

    do {
        char **ids;
        size_t count;
        int32_t *part;
        int64_t *ver;

        if (store_scan_versions(c->store, &cursor, &ids, &part, &ver, &count, err,
                                sizeof(err)) < 0) {
            die("%s", err);
        }
        for (size_t i = 0; i < count; i++) {
            total += part[i] >= 0;
            behind += part[i] >= 0 && ver[i] < c->model.version;
        }
        free(part);
        free(ver);
        store_ids_free(ids, count);
    } while (cursor != 0);
    if (total == 0) {
        die("no customers under prefix '%s' (the daemon's is redis.prefix in its "
            "configuration; see -c and --prefix)",
            c->cfg.redis_prefix);
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject();

        cJSON_AddNumberToObject(doc, "customers", (double)total);
        cJSON_AddNumberToObject(doc, "model_version", (double)c->model.version);
        cJSON_AddNumberToObject(doc, "behind", (double)behind);
        put_json(doc);
    } else {
        printf("customers      %" PRIu64 "\nmodel version  %" PRId64
               "\non an older    %" PRIu64 " (rescored in the background)\n",
               total, c->model.version, behind);
    }
    return 0;
}

/* --gate or --no-gate, else fit.gate of the configuration when saving. */
static int fit_gated(const struct ctl *c, const struct fit_args *f)
{
    int gate = f->gate >= 0 ? f->gate : f->save && c->cfg.fit_gate;

    if (gate && f->input && strcmp(f->format, "cdnow-transactions") != 0) {
        usage_exit("the refit gate needs purchase days: --from-redis or --format "
                   "cdnow-transactions (--no-gate to fit without it)");
    }
    return gate;
}

static int cmd_fit(struct ctl *c, int argc, char **argv)
{
    struct bg_fit_result bg;
    struct gg_fit_result gg;
    struct gate_run g;
    struct bg_params wk;
    struct fit_args f;
    struct bg_obs *obs = NULL;
    size_t n = 0;
    char err[512];
    int rc, gate;

    parse_fit_args(argc, argv, &f);
    f.json |= c->json;
    gate = fit_gated(c, &f);
    if (f.from_redis) {
        ctl_connect(c);
        obs_from_redis(c, f.has_cal_end ? f.cal_end : (long)(wall_ms() / 86400000),
                       f.unit_days, &obs, &n);
    } else {
        rc = f.format[6] == 't'
                 ? cdnow_load_transactions(f.input, f.cal_end, f.unit_days, &obs, &n, err,
                                           sizeof(err))
                 : cdnow_load_summary(f.input, f.unit_days, &obs, &n, err, sizeof(err));
        if (rc < 0) {
            die("%s", err);
        }
    }
    if (bg_fit(obs, n, &bg) < 0) {
        die("nothing to fit (%zu customers)", n);
    }
    rc = gg_fit(obs, n, &gg);
    wk = bg.params;
    wk.alpha *= f.unit_days / 7.0; /* alpha scales time: the daemon works in weeks */
    gate &= bg.converged;          /* a fit that did not converge is refused below */
    if (gate) {
        gate_run(c, &f, &wk, &g);
        gate_log(&g);
    }
    fit_print(&f, &bg, rc == 0 ? &gg : NULL, gate ? &g : NULL);
    if (f.save) {
        const struct gg_params *ggp;
        int64_t version;

        if (c->store == NULL) {
            ctl_connect(c);
        }
        ggp = rc == 0 && gg.converged ? &gg.params : &c->model.gg;
        fprintf(
            stderr,
            "loyaltyctl: model version %" PRId64 ": r=%g alpha=%g a=%g b=%g p=%g q=%g "
            "gamma=%g\n"
            "loyaltyctl: fitted:          r=%g alpha=%g a=%g b=%g p=%g q=%g gamma=%g\n",
            c->model.version, c->model.bg.r, c->model.bg.alpha, c->model.bg.a,
            c->model.bg.b, c->model.gg.p, c->model.gg.q, c->model.gg.gamma, wk.r,
            wk.alpha, wk.a, wk.b, ggp->p, ggp->q, ggp->gamma);
        if (!bg.converged) {
            die("the BG/NBD fit did not converge (too few repeat customers or no dropout "
                "in the data); nothing saved");
        }
        if (c->model.version > 0 && !f.force) {
            check_plausible(&c->model, &wk, ggp, f.max_change);
        }
        if (gate && g.why[0]) {
            fprintf(stderr,
                    "loyaltyctl: the refit gate refuses the fit: %s; nothing saved "
                    "(fit.gate, docs/validate.md)\n",
                    g.why);
            free(obs);
            exit(EXIT_GATE);
        }
        snprintf(err, sizeof(err),
                 "{\"n\":%zu,\"loglik\":%.4f,\"saved_at_ms\":%" PRId64 "}", bg.n,
                 bg.loglik, wall_ms());
        if ((version = store_model_put(c->store, &wk, ggp, err)) < 0) {
            die("redis: cannot save the model");
        }
        fprintf(stderr,
                "loyaltyctl: saved as model version %" PRId64
                "; the daemon picks it up within model.refresh_s and rescores every "
                "customer in the background (rescore.per_s)\n",
                version);
    } else if (!bg.converged) {
        die("the BG/NBD fit did not converge (too few repeat customers or no dropout in "
            "the data)");
    } else if (gate && g.why[0]) {
        fprintf(stderr, "loyaltyctl: the refit gate would refuse the fit: %s\n", g.why);
        free(obs);
        exit(EXIT_GATE);
    }
    free(obs);
    return 0;
}

/* ---- validate ---- */

#define VAL_MIN_HOLD_DAYS 28  /* fewer weeks say little about repeat buying */
#define VAL_MIN_CUSTOMERS 100 /* below this a decile holds a handful */

struct val_args {
    const char *input, *format, *plot_dir;
    long cal_end, hold_end;
    int has_cal_end, has_hold_end, from_redis, json, stored;
};

static void parse_val_args(int argc, char **argv, struct val_args *v)
{
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *n = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--from-redis") == 0) {
            v->from_redis = 1;
        } else if (strcmp(a, "--json") == 0) {
            v->json = 1;
        } else if (n && strcmp(a, "--input") == 0) {
            v->input = argv[++i];
        } else if (n && strcmp(a, "--format") == 0) {
            v->format = argv[++i];
        } else if (n && strcmp(a, "--plot") == 0) {
            v->plot_dir = argv[++i];
        } else if (n && strcmp(a, "--model") == 0) {
            i++;
            if (strcmp(n, "fit") != 0 && strcmp(n, "stored") != 0) {
                usage_exit("--model takes fit or stored");
            }
            v->stored = n[0] == 's';
        } else if (n && strcmp(a, "--calibration-end") == 0) {
            v->cal_end = parse_day(argv[++i], "dates are YYYY-MM-DD");
            v->has_cal_end = 1;
        } else if (n && strcmp(a, "--holdout-end") == 0) {
            v->hold_end = parse_day(argv[++i], "dates are YYYY-MM-DD");
            v->has_hold_end = 1;
        } else {
            usage_exit("validate: unexpected argument");
        }
    }
    if (!v->has_cal_end) {
        usage_exit("validate needs --calibration-end YYYY-MM-DD");
    }
    if (v->from_redis == (v->input != NULL)) {
        usage_exit("validate needs exactly one of --from-redis and --input FILE");
    }
    if (v->input && (v->format == NULL || strcmp(v->format, "cdnow-transactions") != 0)) {
        usage_exit("validate reads --format cdnow-transactions (purchase days, not a "
                   "summary)");
    }
    if (v->has_hold_end && v->hold_end - v->cal_end < VAL_MIN_HOLD_DAYS) {
        usage_exit("the holdout (calibration end to holdout end) must be at least 4 "
                   "weeks");
    }
}

/* The customers of the calibration cohort and where their days live. */
struct val_data {
    ARRAY(struct val_cust) c;
    ARRAY(size_t) off; /* c.v[i].days = pool.v + off.v[i] once all are read */
    ARRAY(long) pool;  /* every customer's repeat days, one after the other */
    size_t left_out;
    long first, last; /* the data's first and last purchase day */
};

/* Room for one more customer with up to `days` days. */
static void vd_reserve(struct val_data *d, size_t days)
{
    if (array_reserve(&d->c, d->c.n + 1) < 0 || array_reserve(&d->off, d->c.n + 1) < 0 ||
        array_reserve(&d->pool, d->pool.n + days) < 0) {
        die("out of memory");
    }
}

static void vd_range(struct val_data *d, long first, long last)
{
    if (d->first > first) {
        d->first = first;
    }
    if (d->last < last) {
        d->last = last;
    }
}

/* Keeps a customer split into the pool's free end. */
static void vd_keep(struct val_data *d)
{
    d->off.v[d->off.n++] = d->pool.n;
    d->pool.n += d->c.v[d->c.n++].ndays;
}

static void vd_finish(struct val_data *d)
{
    for (size_t i = 0; i < d->c.n; i++) {
        d->c.v[i].days = d->pool.v + d->off.v[i];
    }
}

static void vd_free(struct val_data *d)
{
    array_free(&d->c);
    array_free(&d->off);
    array_free(&d->pool);
}

/* "YYYY-MM-DD" of an epoch day, in one of three rotating buffers (one
 * message names up to three dates). */
static const char *day_str(long day)
{
    static char buf[3][32];
    static int k;
    int64_t year;
    int month, mday;

    k = (k + 1) % 3;
    civil_ymd_from_days(day, &year, &month, &mday);
    snprintf(buf[k], sizeof(buf[k]), "%04" PRId64 "-%02d-%02d", year, month, mday);
    return buf[k];
}

/* Why the data cannot be judged on a split at cal_end with the holdout to
 * hold_end: 0, or -1 with the reason in why. */
static int val_unjudgeable(long cal_end, long hold_end, const struct val_data *d,
                           char *why, size_t len)
{
    if (d->last < d->first) {
        snprintf(why, len, "no purchases to validate on");
    } else if (cal_end < d->first || cal_end >= d->last) {
        snprintf(why, len,
                 "the calibration end %s is outside the data: its purchases run from %s "
                 "to %s",
                 day_str(cal_end), day_str(d->first), day_str(d->last));
    } else if (hold_end > d->last) {
        snprintf(why, len,
                 "the holdout end %s is after the data's last purchase (%s): the holdout "
                 "would miss purchases the data do not have",
                 day_str(hold_end), day_str(d->last));
    } else if (hold_end - cal_end < VAL_MIN_HOLD_DAYS) {
        snprintf(why, len,
                 "the data end %ld days after the calibration end; the holdout needs at "
                 "least %d (4 weeks)",
                 hold_end - cal_end, VAL_MIN_HOLD_DAYS);
    } else {
        return 0;
    }
    return -1;
}

/* Refuses what cannot be judged: exit 1, the reason on stderr.  Returns
 * the holdout end (the data's last purchase day unless given). */
static long val_check(const struct val_args *v, const struct val_data *d)
{
    long hold_end = v->has_hold_end ? v->hold_end : d->last;
    char why[256];

    if (val_unjudgeable(v->cal_end, hold_end, d, why, sizeof(why)) < 0) {
        die("%s", why);
    }
    return hold_end;
}

/* A transaction file's purchase days, customer by customer (cdnow.h). */
struct file_days {
    long *day;
    double *value;
    size_t *start, n;
};

/* Reads them, and the data's range into d. */
static void file_days_read(const char *path, struct file_days *fd, struct val_data *d)
{
    char err[512];

    if (cdnow_load_days(path, &fd->day, &fd->value, &fd->start, &fd->n, err,
                        sizeof(err)) < 0) {
        die("%s", err);
    }
    for (size_t i = 0; i < fd->n; i++) {
        vd_range(d, fd->day[fd->start[i]], fd->day[fd->start[i + 1] - 1]);
    }
}

/* The cohort of the split at cal_end into d. */
static void file_days_split(const struct file_days *fd, long cal_end, long hold_end,
                            struct val_data *d)
{
    for (size_t i = 0; i < fd->n; i++) {
        size_t k = fd->start[i], m = fd->start[i + 1] - k;

        vd_reserve(d, m);
        if (val_split(fd->day + k, fd->value + k, m, cal_end, hold_end,
                      d->pool.v + d->pool.n, &d->c.v[d->c.n]) == 0) {
            vd_keep(d);
        }
    }
}

static void file_days_free(struct file_days *fd)
{
    free(fd->start);
    free(fd->value);
    free(fd->day);
    memset(fd, 0, sizeof(*fd));
}

/* The cohort from a transaction file. */
static long val_from_file(const struct val_args *v, struct val_data *d)
{
    struct file_days fd;
    long hold_end;

    file_days_read(v->input, &fd, d);
    hold_end = val_check(v, d);
    file_days_split(&fd, v->cal_end, hold_end, d);
    file_days_free(&fd);
    return hold_end;
}

struct val_acc {
    long cal_end, hold_end;
    struct val_data *d;
};

static void val_add(const struct customer *cu, void *arg)
{
    const struct val_acc *a = arg;
    struct val_data *d = a->d;
    long buf[CU_DAYS_MAX + 3];
    int rc;

    if (cu->purchase_days <= 0) {
        return;
    }
    vd_range(d, cu->first_day, cu->last_day);
    if (a->hold_end < 0) {
        return;
    }
    vd_reserve(d, CU_DAYS_MAX + 3);
    rc = val_from_state(cu, a->cal_end, a->hold_end, buf, &d->c.v[d->c.n]);
    if (rc < 0) {
        d->left_out++;
    }
    if (rc != 0) {
        return;
    }
    memcpy(d->pool.v + d->pool.n, d->c.v[d->c.n].days,
           d->c.v[d->c.n].ndays * sizeof(*d->pool.v));
    vd_keep(d);
}

/* The cohort from the daemon's state.  A customer whose split the state
 * cannot tell any more (its day buckets hold the last CU_WINDOW_DAYS days) is
 * left out and counted.  hold_end < 0: only the data's range is read. */
static void val_from_redis(struct ctl *c, long cal_end, long hold_end, struct val_data *d)
{
    struct val_acc a = {cal_end, hold_end, d};

    each_customer(c, val_add, &a);
}

/* BG/NBD and Gamma-Gamma fitted on the cohort's calibration period, as
 * `fit` fits them (weeks; Gamma-Gamma's defaults if it does not converge).
 * 0, or -1 if BG/NBD does not converge. */
static int fit_calibration(const struct val_data *d, struct bg_params *bp,
                           struct gg_params *gp)
{
    struct bg_obs *obs = malloc((d->c.n ? d->c.n : 1) * sizeof(*obs));
    struct bg_fit_result bg;
    struct gg_fit_result gg;
    int rc = -1;

    if (obs == NULL) {
        die("out of memory");
    }
    for (size_t i = 0; i < d->c.n; i++) {
        obs[i] = d->c.v[i].cal;
    }
    if (bg_fit(obs, d->c.n, &bg) == 0 && bg.converged) {
        *bp = bg.params;
        if (gg_fit(obs, d->c.n, &gg) == 0 && gg.converged) {
            *gp = gg.params;
        } else {
            gg_params_default(gp);
        }
        rc = 0;
    }
    free(obs);
    return rc;
}

/* The model to judge: fitted on the calibration period, as `fit` does, or
 * the one the daemon uses. */
static void val_model(struct ctl *c, const struct val_args *v, const struct val_data *d,
                      struct bg_params *bp, struct gg_params *gp)
{
    if (v->stored) {
        if (c->store == NULL) {
            ctl_connect(c);
        }
        *bp = c->model.bg;
        *gp = c->model.gg;
        return;
    }
    if (fit_calibration(d, bp, gp) < 0) {
        die("the BG/NBD fit on the calibration period did not converge (too few repeat "
            "customers or no dropout in the data); nothing to validate");
    }
}

static const char *const val_group_names[VAL_GROUPS] = {"0", "1", "2", "3",
                                                        "4", "5", "6", "7+"};

static void val_print_text(const struct val_args *v, long hold_end, size_t left_out,
                           const struct bg_params *bp, const struct gg_params *gp,
                           const struct val_report *r)
{
    const struct val_spend *sp = &r->spend;

    printf("calibration to %s, holdout to %s (%.1f weeks): %zu customers",
           day_str(v->cal_end), day_str(hold_end), r->hold_weeks, r->customers);
    if (left_out) {
        printf(" (%zu left out: their state no longer tells the split)", left_out);
    }
    printf("\nmodel (%s): bgnbd r=%.6f alpha=%.6f a=%.6f b=%.6f (weeks), gammagamma "
           "p=%.6f q=%.6f gamma=%.6f\n\n",
           v->stored ? "stored" : "fitted on the calibration period", bp->r, bp->alpha,
           bp->a, bp->b, gp->p, gp->q, gp->gamma);
    printf("repeat purchases      actual   expected\n"
           "  calibration       %8.0f   %8.1f  (tracking: E[X(t)] since each first "
           "purchase)\n"
           "  holdout           %8.0f   %8.1f  (conditional on the calibration)\n"
           "                               %8.1f  (tracking)\n\n",
           r->cal_actual, r->track_cal, r->actual, r->expected, r->track_hold);
    printf("calibration repeat purchases   customers   holdout actual   expected\n");
    for (int k = 0; k < VAL_GROUPS; k++) {
        printf("  %-28s %9zu   %14.3f   %8.3f\n", val_group_names[k], r->groups[k].n,
               r->groups[k].actual, r->groups[k].predicted);
    }
    printf("\nwho buys again in the holdout (%zu of %zu), AUC of\n"
           "  P(alive)                         %.3f\n"
           "  1 - churn_risk without signals   %.3f\n"
           "  P(purchase in the holdout)       %.3f\n"
           "  recency (baseline)               %.3f\n\n",
           r->buyers, r->customers, r->auc_palive, r->auc_risk, r->auc_active,
           r->auc_recency);
    printf("decile of P(purchase in holdout)   customers   predicted   observed\n");
    for (int k = 0; k < VAL_DECILES; k++) {
        printf("  %-32d %9zu   %9.3f   %8.3f\n", k + 1, r->deciles[k].n,
               r->deciles[k].predicted, r->deciles[k].observed);
    }
    printf("\nspend per purchase, customers buying in both periods (%zu): Gamma-Gamma "
           "%.2f, actual %.2f, mean absolute error %.2f\n",
           sp->n, sp->predicted, sp->actual, sp->mae);
}

static void val_json_model(cJSON *doc, const struct bg_params *bp,
                           const struct gg_params *gp)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "bgnbd");

    cJSON_AddNumberToObject(o, "r", bp->r);
    cJSON_AddNumberToObject(o, "alpha", bp->alpha);
    cJSON_AddNumberToObject(o, "a", bp->a);
    cJSON_AddNumberToObject(o, "b", bp->b);
    o = cJSON_AddObjectToObject(doc, "gammagamma");
    cJSON_AddNumberToObject(o, "p", gp->p);
    cJSON_AddNumberToObject(o, "q", gp->q);
    cJSON_AddNumberToObject(o, "gamma", gp->gamma);
}

/* The aggregate, the table, AUCs and the spend. */
static void val_json_figures(cJSON *doc, const struct val_report *r)
{
    cJSON *o = cJSON_AddObjectToObject(doc, "aggregate"), *a;

    cJSON_AddNumberToObject(o, "calibration_actual", r->cal_actual);
    cJSON_AddNumberToObject(o, "calibration_tracking", r->track_cal);
    cJSON_AddNumberToObject(o, "holdout_actual", r->actual);
    cJSON_AddNumberToObject(o, "holdout_expected", r->expected);
    cJSON_AddNumberToObject(o, "holdout_tracking", r->track_hold);
    a = cJSON_AddArrayToObject(doc, "conditional");
    for (int k = 0; k < VAL_GROUPS; k++) {
        cJSON *g = cJSON_CreateObject();

        cJSON_AddStringToObject(g, "x", val_group_names[k]);
        cJSON_AddNumberToObject(g, "n", (double)r->groups[k].n);
        cJSON_AddNumberToObject(g, "actual", r->groups[k].actual);
        cJSON_AddNumberToObject(g, "expected", r->groups[k].predicted);
        cJSON_AddItemToArray(a, g);
    }
    o = cJSON_AddObjectToObject(doc, "discrimination");
    cJSON_AddNumberToObject(o, "buyers", (double)r->buyers);
    cJSON_AddNumberToObject(o, "auc_p_alive", r->auc_palive);
    cJSON_AddNumberToObject(o, "auc_churn_risk", r->auc_risk);
    cJSON_AddNumberToObject(o, "auc_p_purchase", r->auc_active);
    cJSON_AddNumberToObject(o, "auc_recency", r->auc_recency);
    o = cJSON_AddObjectToObject(doc, "spend");
    cJSON_AddNumberToObject(o, "n", (double)r->spend.n);
    cJSON_AddNumberToObject(o, "expected", r->spend.predicted);
    cJSON_AddNumberToObject(o, "actual", r->spend.actual);
    cJSON_AddNumberToObject(o, "mae", r->spend.mae);
}

/* The deciles and the tracking points. */
static void val_json_series(cJSON *doc, const struct val_report *r)
{
    cJSON *a = cJSON_AddArrayToObject(doc, "calibration");

    for (int k = 0; k < VAL_DECILES; k++) {
        cJSON *b = cJSON_CreateObject();

        cJSON_AddNumberToObject(b, "decile", k + 1);
        cJSON_AddNumberToObject(b, "n", (double)r->deciles[k].n);
        cJSON_AddNumberToObject(b, "predicted", r->deciles[k].predicted);
        cJSON_AddNumberToObject(b, "observed", r->deciles[k].observed);
        cJSON_AddItemToArray(a, b);
    }
    a = cJSON_AddArrayToObject(doc, "tracking");
    for (size_t k = 0; k < r->ntrack; k++) {
        cJSON *t = cJSON_CreateObject();

        cJSON_AddStringToObject(t, "date", day_str(r->track[k].day));
        cJSON_AddNumberToObject(t, "expected", r->track[k].expected);
        if (isnan(r->track[k].actual)) {
            cJSON_AddNullToObject(t, "actual");
        } else {
            cJSON_AddNumberToObject(t, "actual", r->track[k].actual);
        }
        cJSON_AddItemToArray(a, t);
    }
}

static void val_print_json(const struct val_args *v, long hold_end, size_t left_out,
                           const struct bg_params *bp, const struct gg_params *gp,
                           const struct val_report *r)
{
    cJSON *doc = cJSON_CreateObject();

    cJSON_AddStringToObject(doc, "calibration_end", day_str(v->cal_end));
    cJSON_AddStringToObject(doc, "holdout_end", day_str(hold_end));
    cJSON_AddNumberToObject(doc, "holdout_weeks", r->hold_weeks);
    cJSON_AddNumberToObject(doc, "customers", (double)r->customers);
    cJSON_AddNumberToObject(doc, "left_out", (double)left_out);
    cJSON_AddStringToObject(doc, "model", v->stored ? "stored" : "fit");
    cJSON_AddStringToObject(doc, "unit", "weeks");
    val_json_model(doc, bp, gp);
    val_json_figures(doc, r);
    val_json_series(doc, r);
    put_json(doc);
}

/* Writes one chart to DIR/NAME; exits 1 if it cannot. */
static void val_plot_file(const char *dir, const char *name, const struct svg_chart *ch,
                          int bars)
{
    char path[4096];
    FILE *fp;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fp = fopen(path, "w")) == NULL) {
        die("%s: %s", path, strerror(errno));
    }
    rc = bars ? svg_bars(fp, ch) : svg_lines(fp, ch);
    if (fclose(fp) != 0 || rc < 0) {
        die("%s: cannot write the plot", path);
    }
    fprintf(stderr, "loyaltyctl: wrote %s\n", path);
}

/* tracking.svg, conditional.svg and calibration.svg in dir (made if
 * missing): the figures of docs/validate.md. */
static void val_plots(const char *dir, long cal_end, const struct val_report *r)
{
    static const char *const deciles[VAL_DECILES] = {"1", "2", "3", "4", "5",
                                                     "6", "7", "8", "9", "10"};
    double *wk = malloc(r->ntrack * sizeof(*wk)), *ex = malloc(r->ntrack * sizeof(*ex)),
           *ac = malloc(r->ntrack * sizeof(*ac));
    double ga[VAL_GROUPS], ge[VAL_GROUPS], dp[VAL_DECILES], dobs[VAL_DECILES];
    char xlabel[96];

    if (wk == NULL || ex == NULL || ac == NULL) {
        die("out of memory");
    }
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        die("%s: %s", dir, strerror(errno));
    }
    for (size_t k = 0; k < r->ntrack; k++) {
        wk[k] = (double)(r->track[k].day - cal_end) / 7.0;
        ex[k] = r->track[k].expected;
        ac[k] = r->track[k].actual;
    }
    snprintf(xlabel, sizeof(xlabel), "weeks from the calibration end (%s)",
             day_str(cal_end));
    val_plot_file(dir, "tracking.svg",
                  &(struct svg_chart){.title = "Cumulative repeat purchases",
                                      .xlabel = xlabel,
                                      .ylabel = "repeat purchases",
                                      .n = r->ntrack,
                                      .x = wk,
                                      .s = {{"actual", ac}, {"expected (BG/NBD)", ex}},
                                      .nseries = 2,
                                      .mark_x = 0.0,
                                      .mark_label = "calibration end"},
                  0);
    for (int k = 0; k < VAL_GROUPS; k++) {
        ga[k] = r->groups[k].n ? r->groups[k].actual : NAN;
        ge[k] = r->groups[k].n ? r->groups[k].predicted : NAN;
    }
    val_plot_file(
        dir, "conditional.svg",
        &(struct svg_chart){.title = "Holdout purchases by calibration repeat purchases",
                            .xlabel = "repeat purchases in the calibration period",
                            .ylabel = "mean purchases in the holdout",
                            .n = VAL_GROUPS,
                            .cats = val_group_names,
                            .s = {{"actual", ga}, {"expected (BG/NBD)", ge}},
                            .nseries = 2,
                            .mark_x = NAN},
        1);
    for (int k = 0; k < VAL_DECILES; k++) {
        dp[k] = r->deciles[k].n ? r->deciles[k].predicted : NAN;
        dobs[k] = r->deciles[k].n ? r->deciles[k].observed : NAN;
    }
    val_plot_file(
        dir, "calibration.svg",
        &(struct svg_chart){.title = "Calibration of P(a purchase in the holdout)",
                            .xlabel = "decile of the predicted probability",
                            .ylabel = "share of customers buying",
                            .n = VAL_DECILES,
                            .cats = deciles,
                            .s = {{"observed", dobs}, {"predicted", dp}},
                            .nseries = 2,
                            .mark_x = NAN},
        1);
    free(ac);
    free(ex);
    free(wk);
}

/* The cohort, from the file or from the state; returns the holdout end. */
static long val_load(struct ctl *c, const struct val_args *v, struct val_data *d)
{
    long hold_end;

    if (v->input) {
        return val_from_file(v, d);
    }
    ctl_connect(c);
    if (!v->has_hold_end) { /* the data's last day first */
        val_from_redis(c, v->cal_end, -1, d);
    }
    hold_end = v->has_hold_end ? v->hold_end : val_check(v, d);
    val_from_redis(c, v->cal_end, hold_end, d);
    val_check(v, d);
    if (d->left_out) {
        fprintf(stderr,
                "loyaltyctl: %zu customers left out: their day buckets (the last %d "
                "days) no longer tell their purchases around the calibration end\n",
                d->left_out, CU_WINDOW_DAYS);
    }
    return hold_end;
}

static int cmd_validate(struct ctl *c, int argc, char **argv)
{
    struct val_data d = {.first = LONG_MAX, .last = LONG_MIN};
    struct val_report r;
    struct val_args v;
    struct bg_params bp;
    struct gg_params gp;
    long hold_end;

    parse_val_args(argc, argv, &v);
    v.json |= c->json;
    hold_end = val_load(c, &v, &d);
    vd_finish(&d);
    if (d.c.n < VAL_MIN_CUSTOMERS) {
        die("%zu customers bought by the calibration end; at least %d are needed to "
            "judge the model",
            d.c.n, VAL_MIN_CUSTOMERS);
    }
    val_model(c, &v, &d, &bp, &gp);
    if (val_run(d.c.v, d.c.n, &bp, &gp, c->cfg.model->onetime_half_life_days, v.cal_end,
                hold_end, &r) < 0) {
        die("out of memory");
    }
    if (v.json) {
        val_print_json(&v, hold_end, d.left_out, &bp, &gp, &r);
    } else {
        val_print_text(&v, hold_end, d.left_out, &bp, &gp, &r);
    }
    if (v.plot_dir) {
        val_plots(v.plot_dir, v.cal_end, &r);
    }
    val_report_free(&r);
    vd_free(&d);
    return 0;
}

/* ---- the refit gate ---- */

/* The backtest of `fit --save` with the gate (docs/validate.md, "The refit
 * gate"): the data the fit reads, split at (last purchase day -
 * fit.gate_holdout_days), the model fitted on the calibration period, the
 * checks of state/fit/gate.h.  What cannot be judged (too short a history,
 * too few customers, no convergence) is refused too, with g->judged 0. */
static void gate_run(struct ctl *c, const struct fit_args *f,
                     const struct bg_params *cand, struct gate_run *g)
{
    struct val_data d = {.first = LONG_MAX, .last = LONG_MIN};
    struct file_days fd = {0};
    struct gg_params gp;
    double t_hold;

    memset(g, 0, sizeof(*g));
    g->lim = (struct gate_limits){c->cfg.fit_gate_max_error, c->cfg.fit_gate_margin};
    g->holdout_days = c->cfg.fit_gate_holdout_days;
    if (c->store == NULL) {
        ctl_connect(c); /* the saved model */
    }
    g->stored_version = c->model.version;
    if (f->input) {
        file_days_read(f->input, &fd, &d);
    } else {
        val_from_redis(c, 0, -1, &d);
    }
    if (d.last < d.first) {
        snprintf(g->why, sizeof(g->why), "data: no purchases to judge the model on");
        goto out;
    }
    g->hold_end = d.last;
    g->cal_end = d.last - g->holdout_days;
    if (g->cal_end < d.first) {
        snprintf(g->why, sizeof(g->why),
                 "data: the purchases run from %s to %s, not longer than "
                 "fit.gate_holdout_days (%d): no calibration period before the holdout",
                 day_str(d.first), day_str(d.last), g->holdout_days);
        goto out;
    }
    if (f->input) {
        file_days_split(&fd, g->cal_end, g->hold_end, &d);
    } else {
        val_from_redis(c, g->cal_end, g->hold_end, &d);
    }
    vd_finish(&d);
    g->customers = d.c.n;
    g->left_out = d.left_out;
    if (d.c.n < VAL_MIN_CUSTOMERS) {
        snprintf(g->why, sizeof(g->why),
                 "data: %zu customers bought by %s (%zu more left out), at least %d are "
                 "needed to judge the model",
                 d.c.n, day_str(g->cal_end), d.left_out, VAL_MIN_CUSTOMERS);
        goto out;
    }
    if (fit_calibration(&d, &g->backtest, &gp) < 0) {
        snprintf(g->why, sizeof(g->why),
                 "data: the BG/NBD fit on the purchases up to %s did not converge",
                 day_str(g->cal_end));
        goto out;
    }
    if (gate_backtest(d.c.v, d.c.n, &g->backtest, g->cal_end, g->hold_end, &g->fig) < 0) {
        die("out of memory");
    }
    t_hold = (double)(g->hold_end - g->cal_end) / 7.0;
    g->fig.cand_expected = gate_expected(d.c.v, d.c.n, cand, t_hold);
    g->fig.has_stored = g->stored_version > 0;
    if (g->fig.has_stored) {
        g->fig.stored_expected = gate_expected(d.c.v, d.c.n, &c->model.bg, t_hold);
    }
    gate_judge(&g->lim, &g->fig, &g->v);
    gate_reason(&g->lim, &g->fig, &g->v, g->why, sizeof(g->why));
    g->judged = 1;
out:
    file_days_free(&fd);
    vd_free(&d);
}

static const char *gate_mark_name(int mark)
{
    return mark == GATE_PASSED ? "passed" : mark == GATE_FAILED ? "failed" : "not judged";
}

/* What the gate judged, on stderr (stdout holds the fit). */
static void gate_log(const struct gate_run *g)
{
    const struct gate_figures *fg = &g->fig;
    const struct gate_verdict *v = &g->v;

    if (!g->judged) {
        return;
    }
    fprintf(stderr,
            "loyaltyctl: refit gate: the model fitted up to %s (r=%g alpha=%g a=%g b=%g) "
            "on the %d days after it, to %s: %zu customers",
            day_str(g->cal_end), g->backtest.r, g->backtest.alpha, g->backtest.a,
            g->backtest.b, g->holdout_days, day_str(g->hold_end), g->customers);
    if (g->left_out) {
        fprintf(stderr, " (%zu left out: their state no longer tells the split)",
                g->left_out);
    }
    fprintf(stderr,
            "\nloyaltyctl: refit gate: level %s: %.1f repeat purchases expected, %.0f "
            "happened, relative error %.3f (at most %g)\n",
            gate_mark_name(v->mark[GATE_LEVEL]), fg->expected, fg->actual, v->error,
            g->lim.max_error);
    fprintf(stderr,
            "loyaltyctl: refit gate: ranking %s: AUC of P(a purchase) %.3f, of recency "
            "%.3f (at most %g below)\n",
            gate_mark_name(v->mark[GATE_RANKING]), fg->auc_model, fg->auc_recency,
            g->lim.margin);
    if (fg->has_stored) {
        fprintf(stderr,
                "loyaltyctl: refit gate: stored %s: relative error of the new fit %.3f, "
                "of model version %" PRId64 " %.3f (at most %g more)\n",
                gate_mark_name(v->mark[GATE_STORED]), v->cand_error, g->stored_version,
                v->stored_error, g->lim.margin);
    } else {
        fprintf(stderr, "loyaltyctl: refit gate: stored not judged: no saved model\n");
    }
    if (v->passed) {
        fprintf(stderr, "loyaltyctl: refit gate passed\n");
    }
}

/* A number, or null where JSON has none (NaN, infinity). */
static void json_number(cJSON *o, const char *name, double v)
{
    if (isfinite(v)) {
        cJSON_AddNumberToObject(o, name, v);
    } else {
        cJSON_AddNullToObject(o, name);
    }
}

/* "gate" in the fit's JSON document. */
static void gate_json(cJSON *doc, const struct gate_run *g)
{
    const struct gate_figures *fg = &g->fig;
    const struct gate_verdict *v = &g->v;
    cJSON *o = cJSON_AddObjectToObject(doc, "gate"), *k;

    cJSON_AddBoolToObject(o, "passed", g->why[0] == '\0');
    if (g->why[0] == '\0') {
        cJSON_AddNullToObject(o, "failed");
        cJSON_AddNullToObject(o, "reason");
    } else {
        cJSON_AddStringToObject(o, "failed",
                                g->judged ? gate_check_name(v->failed) : "data");
        cJSON_AddStringToObject(o, "reason", g->why);
    }
    cJSON_AddNumberToObject(o, "holdout_days", g->holdout_days);
    cJSON_AddNumberToObject(o, "max_error", g->lim.max_error);
    cJSON_AddNumberToObject(o, "margin", g->lim.margin);
    cJSON_AddNumberToObject(o, "stored_version", (double)g->stored_version);
    if (!g->judged) {
        return;
    }
    cJSON_AddStringToObject(o, "calibration_end", day_str(g->cal_end));
    cJSON_AddStringToObject(o, "holdout_end", day_str(g->hold_end));
    cJSON_AddNumberToObject(o, "customers", (double)g->customers);
    cJSON_AddNumberToObject(o, "left_out", (double)g->left_out);
    k = cJSON_AddObjectToObject(o, "backtest");
    cJSON_AddNumberToObject(k, "r", g->backtest.r);
    cJSON_AddNumberToObject(k, "alpha", g->backtest.alpha);
    cJSON_AddNumberToObject(k, "a", g->backtest.a);
    cJSON_AddNumberToObject(k, "b", g->backtest.b);
    k = cJSON_AddObjectToObject(o, "level");
    cJSON_AddStringToObject(k, "result", gate_mark_name(v->mark[GATE_LEVEL]));
    json_number(k, "actual", fg->actual);
    json_number(k, "expected", fg->expected);
    json_number(k, "error", v->error);
    k = cJSON_AddObjectToObject(o, "ranking");
    cJSON_AddStringToObject(k, "result", gate_mark_name(v->mark[GATE_RANKING]));
    json_number(k, "auc_p_purchase", fg->auc_model);
    json_number(k, "auc_recency", fg->auc_recency);
    k = cJSON_AddObjectToObject(o, "stored");
    cJSON_AddStringToObject(k, "result", gate_mark_name(v->mark[GATE_STORED]));
    if (fg->has_stored) {
        json_number(k, "fit_expected", fg->cand_expected);
        json_number(k, "fit_error", v->cand_error);
        json_number(k, "stored_expected", fg->stored_expected);
        json_number(k, "stored_error", v->stored_error);
    }
}

/* ---- main ---- */

static void apply_redis_arg(struct config *cfg, const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    char err[256], host[256];

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
        usage_exit("--redis takes HOST:PORT");
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    if (config_set(cfg, "redis.host", host, err, sizeof(err)) < 0 ||
        config_set(cfg, "redis.port", colon + 1, err, sizeof(err)) < 0) {
        usage_exit(err);
    }
}

static int run(struct ctl *c, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "fit") == 0) {
        return cmd_fit(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "validate") == 0) {
        return cmd_validate(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "redrive") == 0) {
        const char *why = NULL;
        int rc = redrive_command(&c->cfg, argc - 1, argv + 1, c->json, &why);

        if (rc == REDRIVE_USAGE) {
            usage_exit(why);
        }
        return rc;
    }
    if (strcmp(cmd, "fx") == 0) {
        const char *why = NULL;
        int rc = fxctl_command(&c->cfg, argc - 1, argv + 1, c->json, &why);

        if (rc == FXCTL_USAGE) {
            usage_exit(why);
        }
        return rc;
    }
    if (strcmp(cmd, "top") == 0) {
        ctl_connect(c);
        return cmd_top(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "model") == 0 && argc == 1) {
        ctl_connect(c);
        return cmd_model(c);
    }
    if (strcmp(cmd, "quarantine") == 0) {
        ctl_connect(c);
        return cmd_quarantine(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "functions") == 0 && argc == 1) {
        ctl_connect(c); /* loads the library unless Redis has this version */
        puts("loyaltyd's function library of this version is loaded");
        return 0;
    }
    if (strcmp(cmd, "stats") == 0 && argc == 1) {
        ctl_connect(c);
        return cmd_stats(c);
    }
    if (strcmp(cmd, "show") == 0 && argc == 3 && strcmp(argv[2], "--now") == 0) {
        ctl_connect(c);
        return cmd_show(c, argv[1], 1);
    }
    if (strcmp(cmd, "dump") == 0 && argc >= 2) {
        ctl_connect(c);
        return cmd_dump(c, argc - 1, argv + 1);
    }
    if (argc != 2) {
        usage_exit(strcmp(cmd, "show") && strcmp(cmd, "dump") && strcmp(cmd, "delete")
                       ? "unknown command"
                       : "this command takes one CUSTOMER");
    }
    ctl_connect(c);
    if (strcmp(cmd, "show") == 0) {
        return cmd_show(c, argv[1], 0);
    }
    if (strcmp(cmd, "delete") == 0) {
        return cmd_delete(c, argv[1]);
    }
    usage_exit("unknown command");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"redis", required_argument, NULL, 'r'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *redis = NULL, *prefix = NULL;
    struct ctl c;
    char err[512];
    int o, rc;

    memset(&c, 0, sizeof(c));
    /* '+': stop at the command, its options are its own. */
    while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
        if (o == 'c') {
            config = optarg;
        } else if (o == 'r') {
            redis = optarg;
        } else if (o == 'p') {
            prefix = optarg;
        } else if (o == 'j') {
            c.json = 1;
        } else if (o == 'h') {
            usage(stdout);
            return 0;
        } else if (o == 'V') {
            printf("loyaltyctl %s\n", LOYALTY_VERSION);
            return 0;
        } else {
            usage_exit(NULL);
        }
    }
    if (optind >= argc) {
        usage_exit("missing COMMAND");
    }
    /* --json may follow the command too (as fit has always taken it). */
    o = optind;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            c.json = 1;
        } else {
            argv[o++] = argv[i];
        }
    }
    argv[o] = NULL;
    argc = o;
    if (optind >= argc) {
        usage_exit("missing COMMAND");
    }
    if (config_init(&c.cfg) < 0) {
        die("out of memory");
    }
    if (config && config_load(&c.cfg, config, err, sizeof(err)) < 0) {
        die("%s", err);
    }
    if (redis) {
        apply_redis_arg(&c.cfg, redis);
    }
    if (prefix && config_set(&c.cfg, "redis.prefix", prefix, err, sizeof(err)) < 0) {
        die("%s", err);
    }
    rc = run(&c, argc - optind, argv + optind);
    store_free(c.store);
    config_fini(&c.cfg);
    return rc;
}
