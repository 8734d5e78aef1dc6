/*
 * loyaltyctl.c - the operators' command line: inspect and repair the state
 * loyaltyd keeps in Redis, and fit the churn model.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "daemon/config.h"
#include "state/bgnbd.h"
#include "state/cdnow.h"
#include "state/codec.h"
#include "state/fit.h"
#include "state/model.h"
#include "state/store.h"

#define EXIT_USAGE 2

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
        "  stats                    customers, and how many are on an older model "
        "version\n"
        "  fit --from-redis [--as-of YYYY-MM-DD] [--unit weeks|days] [--json]\n"
        "      [--save [--max-change F] [--force]]\n"
        "  fit --input FILE --format cdnow-transactions|cdnow-summary\n"
        "      [--calibration-end YYYY-MM-DD] [--unit weeks|days] [--json] [--save "
        "...]\n");
}

static void usage_exit(const char *why) __attribute__((noreturn));

static void usage_exit(const char *why)
{
    if (why)
        fprintf(stderr, "loyaltyctl: %s\n", why);
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

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || s[n] != '\0')
        usage_exit(what);
    snprintf(compact, sizeof(compact), "%04d%02d%02d", y, m, d);
    if (cdnow_parse_date(compact, &day) < 0)
        usage_exit(what);
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

    if (text == NULL)
        die("out of memory");
    puts(text);
    free(text);
    cJSON_Delete(doc);
}

static void ctl_connect(struct ctl *c)
{
    char err[512];

    c->store = store_new(&(struct store_opts){
        c->cfg.redis_host, c->cfg.redis_port, c->cfg.redis_password, c->cfg.redis_db,
        c->cfg.redis_prefix, c->cfg.redis_timeout_ms});
    if (c->store == NULL)
        die("out of memory");
    if (store_connect(c->store, err, sizeof(err)) < 0)
        die("%s", err);
    c->model.cfg = c->cfg.model;
    bg_params_default(&c->model.bg);
    gg_params_default(&c->model.gg);
    if (store_model_get(c->store, &c->model.bg, &c->model.gg, &c->model.version) < 0)
        die("redis: cannot read the model parameters");
}

static void load_customer(struct ctl *c, const char *id, struct customer *cu)
{
    struct store_meta meta;
    char err[512];

    if (store_load(c->store, id, cu, &meta, err, sizeof(err)) < 0)
        die("%s", err);
    if (!meta.exists)
        die("no customer '%s' under prefix '%s'", id, c->cfg.redis_prefix);
}

/* ---- commands ---- */

/* Explained as of the time the daemon last evaluated the customer (so the
 * figures match the stored ones), or as of now with --now. */
static int cmd_show(struct ctl *c, const char *id, int at_wall_clock)
{
    struct customer *cu = malloc(sizeof(*cu));
    char *buf = malloc(65536);
    int64_t when;

    if (cu == NULL || buf == NULL)
        die("out of memory");
    load_customer(c, id, cu);
    when = at_wall_clock || cu->as_of_ms <= 0 ? wall_ms() : cu->as_of_ms;
    if (model_explain(cu, &c->model, when, buf, 65536) < 0)
        die("cannot explain customer '%s'", id);
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
        for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
            cJSON_AddItemToArray(lines, cJSON_CreateString(line));
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
    if (store_load(c->store, id, cu, &meta, err, sizeof(err)) < 0)
        die("%s", err);
    if (!meta.exists)
        die("no customer '%s' under prefix '%s'", id, c->cfg.redis_prefix);
    if (store_summary(c->store, id, &summary) < 0 || meta_fields(&meta, &fields) < 0 ||
        codec_encode(cu, &fields, &aux) < 0)
        die("redis: cannot read customer '%s'", id);
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "customer_id", id);
    cJSON_AddNumberToObject(doc, "layout", meta.layout);
    for (int part = 0; part < 2; part++) {
        const struct kvlist *kv = part ? &fields : &summary;
        cJSON *o = cJSON_AddObjectToObject(doc, part ? "fields" : "summary");

        for (size_t i = 0; i < kv->n; i++)
            if (kv->v[i].value[0] != '\0')
                cJSON_AddStringToObject(o, kv->v[i].name, kv->v[i].value);
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

    if (cu == NULL || all == NULL)
        die("out of memory");
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

    if (n < 0)
        die("redis: cannot delete '%s'", id);
    if (n == 0)
        die("no customer '%s' under prefix '%s'", id, c->cfg.redis_prefix);
    if (c->json) {
        cJSON *doc = cJSON_CreateObject();

        cJSON_AddStringToObject(doc, "deleted", id);
        put_json(doc);
    } else {
        printf("deleted %s\n", id);
    }
    return 0;
}

static int cmd_top(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"risk", "loyalty", "clv", "value"};
    enum store_index_kind k = STORE_IDX_RISK;
    long n = 10;
    char **ids = NULL, *end;
    double *scores = NULL;
    size_t count = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--by") == 0 && i + 1 < argc) {
            size_t j;

            for (j = 0; j < 4 && strcmp(argv[i + 1], names[j]) != 0; j++)
                ;
            if (j == 4)
                usage_exit("--by takes risk, loyalty, clv or value");
            k = (enum store_index_kind)j;
            i++;
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n <= 0 || n > 100000)
                usage_exit("-n takes a number from 1 to 100000");
        } else {
            usage_exit("top: unexpected argument");
        }
    }
    if (store_top(c->store, k, (size_t)n, &ids, &scores, &count) < 0)
        die("redis: cannot read index %s", names[k]);
    if (count == 0) { /* an empty table would hide a mistyped prefix */
        long long all = 0;

        if (store_indexed_count(c->store, &all) < 0)
            die("redis: cannot read index %s", names[0]);
        if (all == 0)
            die("no customers under prefix '%s' (the daemon's is redis.prefix in its "
                "configuration; see -c and --prefix)",
                c->cfg.redis_prefix);
    }
    if (c->json) {
        cJSON *doc = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(doc, "top");

        cJSON_AddStringToObject(doc, "by", names[k]);
        for (size_t i = 0; i < count; i++) {
            cJSON *r = cJSON_CreateObject();

            cJSON_AddNumberToObject(r, "rank", (double)(i + 1));
            cJSON_AddStringToObject(r, "customer_id", ids[i]);
            cJSON_AddNumberToObject(r, "score", scores[i]);
            cJSON_AddItemToArray(rows, r);
        }
        put_json(doc);
    } else {
        printf("%-5s %-40s %s\n", "rank", "customer", names[k]);
        for (size_t i = 0; i < count; i++)
            printf("%-5zu %-40s %.4f\n", i + 1, ids[i], scores[i]);
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
    double unit_days, max_change;
};

static void parse_fit_args(int argc, char **argv, struct fit_args *f)
{
    memset(f, 0, sizeof(*f));
    f->unit_days = 7;
    f->max_change = 3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--from-redis") == 0)
            f->from_redis = 1;
        else if (strcmp(a, "--json") == 0)
            f->json = 1;
        else if (strcmp(a, "--save") == 0)
            f->save = 1;
        else if (strcmp(a, "--force") == 0)
            f->force = 1;
        else if (v && strcmp(a, "--max-change") == 0) {
            char *end;

            f->max_change = strtod(argv[++i], &end);
            if (*end != '\0' || !(f->max_change > 1) || f->max_change > 1000)
                usage_exit("--max-change takes a factor above 1 (at most 1000)");
        } else if (v && strcmp(a, "--input") == 0)
            f->input = argv[++i];
        else if (v && strcmp(a, "--format") == 0)
            f->format = argv[++i];
        else if (v &&
                 (strcmp(a, "--calibration-end") == 0 || strcmp(a, "--as-of") == 0)) {
            f->cal_end = parse_day(argv[++i], "dates are YYYY-MM-DD");
            f->has_cal_end = 1;
        } else if (v && strcmp(a, "--unit") == 0) {
            i++;
            if (strcmp(v, "weeks") != 0 && strcmp(v, "days") != 0)
                usage_exit("--unit takes weeks or days");
            f->unit_days = v[0] == 'w' ? 7 : 1;
        } else
            usage_exit("fit: unexpected argument");
    }
    if (f->from_redis == (f->input != NULL))
        usage_exit("fit needs exactly one of --from-redis and --input FILE");
    if (f->input && (f->format == NULL || (strcmp(f->format, "cdnow-transactions") != 0 &&
                                           strcmp(f->format, "cdnow-summary") != 0)))
        usage_exit("--format takes cdnow-transactions or cdnow-summary");
    if (f->input && f->format[6] == 't' && !f->has_cal_end)
        usage_exit("cdnow-transactions needs --calibration-end YYYY-MM-DD");
}

/* BG/NBD statistics of one customer as of a day: 0, or -1 if the customer
 * has no purchase by then or bought after it (the state cannot be rewound). */
static int customer_obs(const struct customer *cu, long as_of_day, double unit_days,
                        struct bg_obs *o)
{
    if (cu->first_day < 0 || cu->first_day > as_of_day || cu->last_day > as_of_day)
        return -1;
    customer_bg_obs(cu, (int32_t)as_of_day, unit_days, o);
    return 0;
}

/* Every customer's (x, t_x, T) as of `as_of_day` from the daemon's state. */
static void obs_from_redis(struct ctl *c, long as_of_day, double unit_days,
                           struct bg_obs **out, size_t *n_out)
{
    struct customer *cu = malloc(sizeof(*cu));
    struct bg_obs *obs = NULL;
    size_t n = 0, cap = 0, skipped = 0;
    uint64_t cursor = 0;

    if (cu == NULL)
        die("out of memory");
    do {
        char **ids;
        size_t count;

        if (store_scan_customers(c->store, &cursor, &ids, &count) < 0)
            die("redis: cannot list customers");
        for (size_t i = 0; i < count; i++) {
            load_customer(c, ids[i], cu);
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                if ((obs = realloc(obs, cap * sizeof(*obs))) == NULL)
                    die("out of memory");
            }
            if (customer_obs(cu, as_of_day, unit_days, &obs[n]) == 0)
                n++;
            else
                skipped++;
        }
        store_ids_free(ids, count);
    } while (cursor != 0);
    if (skipped)
        fprintf(stderr,
                "loyaltyctl: %zu customers left out (no purchase up to the as-of "
                "day, or purchases after it)\n",
                skipped);
    free(cu);
    *out = obs;
    *n_out = n;
}

static void fit_print(const struct fit_args *f, const struct bg_fit_result *bg,
                      const struct gg_fit_result *gg)
{
    char buf[1024];

    if (f->json)
        fit_format_json(buf, sizeof(buf), bg, gg, f->unit_days == 7 ? "weeks" : "days");
    else
        fit_format_text(buf, sizeof(buf), bg, gg);
    fputs(buf, stdout);
    if (buf[0] && buf[strlen(buf) - 1] != '\n')
        fputc('\n', stdout);
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

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!(now[i] <= was[i] * max_change && now[i] >= was[i] / max_change))
            die("%s moves from %g to %g, more than a factor of %g: nothing saved (check "
                "the data; --max-change F or --force to save all the same)",
                names[i], was[i], now[i], max_change);
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
                                sizeof(err)) < 0)
            die("%s", err);
        for (size_t i = 0; i < count; i++) {
            total += part[i] >= 0;
            behind += part[i] >= 0 && ver[i] < c->model.version;
        }
        free(part);
        free(ver);
        store_ids_free(ids, count);
    } while (cursor != 0);
    if (total == 0)
        die("no customers under prefix '%s' (the daemon's is redis.prefix in its "
            "configuration; see -c and --prefix)",
            c->cfg.redis_prefix);
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

static int cmd_fit(struct ctl *c, int argc, char **argv)
{
    struct bg_fit_result bg;
    struct gg_fit_result gg;
    struct fit_args f;
    struct bg_obs *obs = NULL;
    size_t n = 0;
    char err[512];
    int rc;

    parse_fit_args(argc, argv, &f);
    f.json |= c->json;
    if (f.from_redis) {
        ctl_connect(c);
        obs_from_redis(c, f.has_cal_end ? f.cal_end : (long)(wall_ms() / 86400000),
                       f.unit_days, &obs, &n);
    } else {
        rc = f.format[6] == 't'
                 ? cdnow_load_transactions(f.input, f.cal_end, f.unit_days, &obs, &n, err,
                                           sizeof(err))
                 : cdnow_load_summary(f.input, f.unit_days, &obs, &n, err, sizeof(err));
        if (rc < 0)
            die("%s", err);
    }
    if (bg_fit(obs, n, &bg) < 0)
        die("nothing to fit (%zu customers)", n);
    rc = gg_fit(obs, n, &gg);
    fit_print(&f, &bg, rc == 0 ? &gg : NULL);
    if (f.save) {
        struct bg_params wk = bg.params;
        const struct gg_params *ggp;
        int64_t version;

        if (!f.from_redis)
            ctl_connect(c);
        ggp = rc == 0 && gg.converged ? &gg.params : &c->model.gg;
        wk.alpha *= 7.0 / f.unit_days; /* the daemon works in weeks */
        fprintf(
            stderr,
            "loyaltyctl: model version %" PRId64 ": r=%g alpha=%g a=%g b=%g p=%g q=%g "
            "gamma=%g\n"
            "loyaltyctl: fitted:          r=%g alpha=%g a=%g b=%g p=%g q=%g gamma=%g\n",
            c->model.version, c->model.bg.r, c->model.bg.alpha, c->model.bg.a,
            c->model.bg.b, c->model.gg.p, c->model.gg.q, c->model.gg.gamma, wk.r,
            wk.alpha, wk.a, wk.b, ggp->p, ggp->q, ggp->gamma);
        if (!bg.converged)
            die("the BG/NBD fit did not converge (too few repeat customers or no dropout "
                "in the data); nothing saved");
        if (c->model.version > 0 && !f.force)
            check_plausible(&c->model, &wk, ggp, f.max_change);
        snprintf(err, sizeof(err),
                 "{\"n\":%zu,\"loglik\":%.4f,\"saved_at_ms\":%" PRId64 "}", bg.n,
                 bg.loglik, wall_ms());
        if ((version = store_model_put(c->store, &wk, ggp, err)) < 0)
            die("redis: cannot save the model");
        fprintf(stderr,
                "loyaltyctl: saved as model version %" PRId64
                "; the daemon picks it up within model.refresh_s and rescores every "
                "customer in the background (rescore.per_s)\n",
                version);
    } else if (!bg.converged) {
        die("the BG/NBD fit did not converge (too few repeat customers or no dropout in "
            "the data)");
    }
    free(obs);
    return 0;
}

/* ---- main ---- */

static void apply_redis_arg(struct config *cfg, const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    char err[256], host[256];

    if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
        usage_exit("--redis takes HOST:PORT");
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    if (config_set(cfg, "redis.host", host, err, sizeof(err)) < 0 ||
        config_set(cfg, "redis.port", colon + 1, err, sizeof(err)) < 0)
        usage_exit(err);
}

static int run(struct ctl *c, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "fit") == 0)
        return cmd_fit(c, argc - 1, argv + 1);
    if (strcmp(cmd, "top") == 0) {
        ctl_connect(c);
        return cmd_top(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "model") == 0 && argc == 1) {
        ctl_connect(c);
        return cmd_model(c);
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
    if (argc != 2)
        usage_exit(strcmp(cmd, "show") && strcmp(cmd, "dump") && strcmp(cmd, "delete")
                       ? "unknown command"
                       : "this command takes one CUSTOMER");
    ctl_connect(c);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(c, argv[1], 0);
    if (strcmp(cmd, "delete") == 0)
        return cmd_delete(c, argv[1]);
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
        if (o == 'c')
            config = optarg;
        else if (o == 'r')
            redis = optarg;
        else if (o == 'p')
            prefix = optarg;
        else if (o == 'j')
            c.json = 1;
        else if (o == 'h') {
            usage(stdout);
            return 0;
        } else if (o == 'V') {
            printf("loyaltyctl %s\n", LOYALTY_VERSION);
            return 0;
        } else
            usage_exit(NULL);
    }
    if (optind >= argc)
        usage_exit("missing COMMAND");
    /* --json may follow the command too (as fit has always taken it). */
    o = optind;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            c.json = 1;
        else
            argv[o++] = argv[i];
    }
    argv[o] = NULL;
    argc = o;
    if (optind >= argc)
        usage_exit("missing COMMAND");
    if (config_init(&c.cfg) < 0)
        die("out of memory");
    if (config && config_load(&c.cfg, config, err, sizeof(err)) < 0)
        die("%s", err);
    if (redis)
        apply_redis_arg(&c.cfg, redis);
    if (prefix && config_set(&c.cfg, "redis.prefix", prefix, err, sizeof(err)) < 0)
        die("%s", err);
    rc = run(&c, argc - optind, argv + optind);
    store_free(c.store);
    config_fini(&c.cfg);
    return rc;
}
