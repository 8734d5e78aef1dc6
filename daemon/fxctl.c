/*
 * fxctl.c - `loyaltyctl fx import` and `loyaltyctl fx list`: a file of
 * exchange rates (the ECB's CSV, or date,currency,rate) read whole and
 * checked (base/fxcsv.c) before anything is written, then imported into
 * Redis in one transaction (state/store/store_fx.c); the rates in force on
 * a day listed per currency.
 */
#include "daemon/fxctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/currency.h"
#include "base/fx.h"
#include "base/fxcsv.h"
#include "state/store/store.h"
#include "state/store/store_fx.h"

#define ERRLEN 512
/* A rates file larger than this is refused (the ECB's whole history since
 * 1999 is under 1 MiB). */
#define FILE_MAX (64u << 20)

struct import_args {
    const char *file;
    enum fxcsv_format format;
    char base[4];
    int replace;
};

struct list_args {
    char currency[4]; /* "" for all */
    int32_t day;      /* INT32_MAX: the latest */
};

static int print_json(cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;

    cJSON_Delete(doc);
    if (text == NULL) {
        fprintf(stderr, "loyaltyctl: out of memory\n");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

static int is_code(const char *s)
{
    return strlen(s) == 3 && currency_exponent(s) >= 0;
}

static int parse_import(int argc, char **argv, struct import_args *a, const char **why)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->base, "EUR", 4);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            int f = fxcsv_format_parse(argv[++i]);

            if (f < 0) {
                *why = "--format takes ecb or plain";
                return -1;
            }
            a->format = (enum fxcsv_format)f;
        } else if (strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
            if (!is_code(argv[++i])) {
                *why = "--base takes an active ISO 4217 currency code (EUR, USD, ...)";
                return -1;
            }
            memcpy(a->base, argv[i], 4);
        } else if (strcmp(argv[i], "--replace") == 0) {
            a->replace = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            *why = "fx import: unexpected option";
            return -1;
        } else if (a->file == NULL) {
            a->file = argv[i];
        } else {
            *why = "fx import takes one FILE";
            return -1;
        }
    }
    if (a->file == NULL) {
        *why = "fx import needs a FILE";
        return -1;
    }
    return 0;
}

static int parse_list(int argc, char **argv, struct list_args *a, const char **why)
{
    memset(a, 0, sizeof(*a));
    a->day = INT32_MAX;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--currency") == 0 && i + 1 < argc) {
            if (!is_code(argv[++i])) {
                *why =
                    "--currency takes an active ISO 4217 currency code (USD, JPY, ...)";
                return -1;
            }
            memcpy(a->currency, argv[i], 4);
        } else if (strcmp(argv[i], "--on") == 0 && i + 1 < argc) {
            if (fx_day_parse(argv[i + 1], strlen(argv[i + 1]), &a->day) < 0) {
                *why = "--on takes a date YYYY-MM-DD";
                return -1;
            }
            i++;
        } else {
            *why = "fx list: unexpected argument";
            return -1;
        }
    }
    return 0;
}

/* The whole file, NUL-terminated: its length, or -1 (said on stderr). */
static long read_file(const char *path, char **text)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, n = 0;
    char *buf = NULL;

    if (f == NULL) {
        fprintf(stderr, "loyaltyctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        char *more;

        if (n + 1 >= cap || buf == NULL) {
            if (buf != NULL) {
                cap *= 2;
            }
            if (cap > (size_t)FILE_MAX + 2) {
                fprintf(stderr, "loyaltyctl: %s: larger than %u MiB\n", path,
                        FILE_MAX >> 20);
                break;
            }
            if ((more = realloc(buf, cap)) == NULL) {
                fprintf(stderr, "loyaltyctl: out of memory\n");
                break;
            }
            buf = more;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) {
            fprintf(stderr, "loyaltyctl: %s: %s\n", path, strerror(errno));
            break;
        }
        if (feof(f)) {
            fclose(f);
            buf[n] = '\0';
            *text = buf;
            return (long)n;
        }
    }
    fclose(f);
    free(buf);
    return -1;
}

static struct store *connect_store(const struct config *cfg)
{
    struct store_opts sopts;
    struct store *s;
    char err[ERRLEN];

    config_store_opts(cfg, &sopts);
    if ((s = store_new(&sopts)) == NULL) {
        fprintf(stderr, "loyaltyctl: out of memory\n");
        return NULL;
    }
    if (store_connect(s, err, sizeof(err)) < 0) {
        fprintf(stderr, "loyaltyctl: %s\n", err);
        store_free(s);
        return NULL;
    }
    return s;
}

/* The currencies of sorted quotes, their number. */
static size_t count_currencies(const struct fx_quotes *q)
{
    size_t n = 0;

    for (size_t i = 0; i < q->q.n; i++) {
        n += i == 0 || strcmp(q->q.v[i - 1].code, q->q.v[i].code) != 0;
    }
    return n;
}

static void import_print(const struct import_args *a, const struct fx_quotes *q,
                         const struct fxcsv_report *rep,
                         const struct store_fx_result *res, int json)
{
    char first[FX_DAY_TEXT], last[FX_DAY_TEXT];
    size_t ncur = count_currencies(q);

    fx_day_format(rep->first_day, first);
    fx_day_format(rep->last_day, last);
    if (json) {
        cJSON *doc = cJSON_CreateObject(), *cur, *wd;
        char codes[sizeof(rep->withdrawn_codes)];

        cJSON_AddStringToObject(doc, "file", a->file);
        cJSON_AddStringToObject(doc, "format", fxcsv_format_name(rep->format));
        cJSON_AddStringToObject(doc, "base", q->base);
        cJSON_AddNumberToObject(doc, "rates", (double)q->q.n);
        cur = cJSON_AddArrayToObject(doc, "currencies");
        for (size_t i = 0; i < q->q.n; i++) {
            if (i == 0 || strcmp(q->q.v[i - 1].code, q->q.v[i].code) != 0) {
                cJSON_AddItemToArray(cur, cJSON_CreateString(q->q.v[i].code));
            }
        }
        cJSON_AddStringToObject(doc, "first", first);
        cJSON_AddStringToObject(doc, "last", last);
        cJSON_AddNumberToObject(doc, "added", (double)res->added);
        cJSON_AddNumberToObject(doc, "unchanged", (double)res->unchanged);
        cJSON_AddNumberToObject(doc, "replaced", (double)res->replaced);
        cJSON_AddNumberToObject(doc, "missing_skipped", (double)rep->missing);
        wd = cJSON_AddArrayToObject(doc, "withdrawn_skipped");
        memcpy(codes, rep->withdrawn_codes, sizeof(codes));
        for (char *save = NULL, *c = strtok_r(codes, " ", &save); c != NULL;
             c = strtok_r(NULL, " ", &save)) {
            cJSON_AddItemToArray(wd, cJSON_CreateString(c));
        }
        cJSON_AddNumberToObject(doc, "version", (double)res->version);
        print_json(doc);
        return;
    }
    printf("%s (%s, rates against %s): %zu rate%s of %zu currenc%s, %s to %s\n", a->file,
           fxcsv_format_name(rep->format), q->base, q->q.n, q->q.n == 1 ? "" : "s", ncur,
           ncur == 1 ? "y" : "ies", first, last);
    if (rep->missing > 0) {
        printf("skipped %zu N/A or empty value%s\n", rep->missing,
               rep->missing == 1 ? "" : "s");
    }
    if (rep->withdrawn > 0) {
        printf("skipped the column%s of withdrawn %s\n", rep->withdrawn == 1 ? "" : "s",
               rep->withdrawn_codes);
    }
    if (res->added + res->replaced == 0) {
        printf("nothing new: %zu rate%s stored already; version %" PRId64 " unchanged\n",
               res->unchanged, res->unchanged == 1 ? "" : "s", res->version);
    } else {
        printf("imported: %zu new, %zu unchanged, %zu replaced; version %" PRId64 "\n",
               res->added, res->unchanged, res->replaced, res->version);
    }
}

static int cmd_import(const struct config *cfg, const struct import_args *a, int json)
{
    struct fx_quotes q;
    struct fxcsv_report rep;
    struct store_fx_result res;
    struct store *s = NULL;
    char err[ERRLEN], *text = NULL;
    long len;
    int rc = 1, outcome;

    memset(&q, 0, sizeof(q));
    if ((len = read_file(a->file, &text)) < 0) {
        return 1;
    }
    if (fxcsv_parse(text, (size_t)len, a->file, a->format, a->base, &q, &rep, err,
                    sizeof(err)) < 0) {
        fprintf(stderr, "loyaltyctl: %s; nothing imported\n", err);
        goto out;
    }
    if ((s = connect_store(cfg)) == NULL) {
        goto out;
    }
    outcome = store_fx_import(s, &q, a->replace, &res, err, sizeof(err));
    if (outcome < 0) {
        fprintf(stderr, "loyaltyctl: %s; nothing imported\n", err);
    } else if (outcome == STORE_FX_OTHER_BASE) {
        fprintf(stderr,
                "loyaltyctl: the stored rates are quoted against %s, %s against %s; "
                "nothing imported (--base names the file's base)\n",
                res.stored_base, a->file, q.base);
    } else if (outcome == STORE_FX_CONFLICT) {
        const struct fx_quote *c = &q.q.v[res.first_conflict];
        char day[FX_DAY_TEXT], rate[FX_RATE_TEXT_MAX];

        fx_day_format(c->day, day);
        fx_rate_format(&c->rate, rate, sizeof(rate));
        fprintf(stderr,
                "loyaltyctl: %s:%u: %s on %s is stored as %s, the file says %s (%zu "
                "stored rate%s differ%s): a rate in force on a past date that changes "
                "changes what a replay of that date's orders computes; nothing "
                "imported (--replace overwrites them)\n",
                a->file, c->line, c->code, day, res.stored, rate, res.conflicts,
                res.conflicts == 1 ? "" : "s", res.conflicts == 1 ? "s" : "");
    } else if (outcome == STORE_FX_RACED) {
        fprintf(stderr, "loyaltyctl: the stored rates changed during the import (another "
                        "import?); nothing imported: run it again\n");
    } else {
        import_print(a, &q, &rep, &res, json);
        rc = 0;
    }
out:
    store_free(s);
    fx_quotes_free(&q);
    free(text);
    return rc;
}

struct in_force {
    const char *code;
    struct fx_rate rate;
    int32_t since; /* INT32_MIN: the base, always 1 */
};

static void list_print(const struct list_args *a, const struct fx_table *t,
                       int64_t version, const struct in_force *rows, size_t n, int json)
{
    char on[FX_DAY_TEXT] = "", since[FX_DAY_TEXT], rate[FX_RATE_TEXT_MAX];

    if (a->day != INT32_MAX) {
        fx_day_format(a->day, on);
    }
    if (json) {
        cJSON *doc = cJSON_CreateObject(), *arr;

        cJSON_AddStringToObject(doc, "base", t->base);
        cJSON_AddNumberToObject(doc, "version", (double)version);
        if (on[0]) {
            cJSON_AddStringToObject(doc, "on", on);
        } else {
            cJSON_AddNullToObject(doc, "on");
        }
        arr = cJSON_AddArrayToObject(doc, "rates");
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();

            fx_rate_format(&rows[i].rate, rate, sizeof(rate));
            cJSON_AddStringToObject(o, "currency", rows[i].code);
            cJSON_AddStringToObject(o, "rate", rate);
            if (rows[i].since == INT32_MIN) {
                cJSON_AddNullToObject(o, "since");
            } else {
                fx_day_format(rows[i].since, since);
                cJSON_AddStringToObject(o, "since", since);
            }
            cJSON_AddItemToArray(arr, o);
        }
        print_json(doc);
        return;
    }
    printf("rates: units of each currency for 1 %s, %s%s; version %" PRId64 "\n", t->base,
           on[0] ? "in force on " : "the latest", on, version);
    printf("%-8s %-20s %s\n", "currency", "rate", "since");
    for (size_t i = 0; i < n; i++) {
        fx_rate_format(&rows[i].rate, rate, sizeof(rate));
        if (rows[i].since == INT32_MIN) {
            printf("%-8s %-20s %s\n", rows[i].code, rate, "(the base)");
        } else {
            fx_day_format(rows[i].since, since);
            printf("%-8s %-20s %s\n", rows[i].code, rate, since);
        }
    }
}

static int cmd_list(const struct config *cfg, const struct list_args *a, int json)
{
    struct fx_table t;
    struct in_force *rows = NULL;
    struct store *s;
    char err[ERRLEN], on[FX_DAY_TEXT];
    int64_t version = 0;
    size_t n = 0;
    int rc = 1, loaded;

    if ((s = connect_store(cfg)) == NULL) {
        return 1;
    }
    loaded = store_fx_load(s, &t, &version, err, sizeof(err));
    fx_day_format(a->day, on);
    if (loaded < 0) {
        fprintf(stderr, "loyaltyctl: %s\n", err);
        goto out;
    }
    if (loaded == 0) {
        fprintf(stderr,
                "loyaltyctl: no exchange rates under prefix '%s' (loyaltyctl fx import "
                "FILE stores them)\n",
                cfg->redis_prefix);
        goto out;
    }
    if ((rows = calloc(t.series.n + 1, sizeof(*rows))) == NULL) {
        fprintf(stderr, "loyaltyctl: out of memory\n");
        goto out;
    }
    if (a->currency[0] && strcmp(a->currency, t.base) == 0) {
        rows[n++] = (struct in_force){t.base, FX_RATE_ONE, INT32_MIN};
    }
    for (size_t i = 0; i < t.series.n; i++) {
        const char *code = t.series.v[i].code;
        struct in_force *f = &rows[n];

        if (a->currency[0] && strcmp(a->currency, code) != 0) {
            continue;
        }
        if (fx_rate_on(&t, code, a->day, &f->rate, &f->since) == FX_OK) {
            f->code = code;
            n++;
        }
    }
    if (n == 0) {
        if (a->currency[0]) {
            int known = 0;

            for (size_t i = 0; i < t.series.n; i++) {
                known |= strcmp(t.series.v[i].code, a->currency) == 0;
            }
            if (known) {
                fprintf(stderr,
                        "loyaltyctl: no rate of %s in force on %s: its first is "
                        "later\n",
                        a->currency, on);
            } else {
                fprintf(stderr, "loyaltyctl: no rates of %s under prefix '%s'\n",
                        a->currency, cfg->redis_prefix);
            }
        } else if (a->day == INT32_MAX) {
            fprintf(stderr, "loyaltyctl: no rates under prefix '%s'\n",
                    cfg->redis_prefix);
        } else {
            fprintf(stderr,
                    "loyaltyctl: no rate in force on %s: every currency's first is "
                    "later\n",
                    on);
        }
        goto out;
    }
    list_print(a, &t, version, rows, n, json);
    rc = 0;
out:
    free(rows);
    fx_table_free(&t);
    store_free(s);
    return rc;
}

int fxctl_command(const struct config *cfg, int argc, char **argv, int json,
                  const char **why)
{
    if (argc >= 1 && strcmp(argv[0], "import") == 0) {
        struct import_args a;

        if (parse_import(argc - 1, argv + 1, &a, why) < 0) {
            return FXCTL_USAGE;
        }
        return cmd_import(cfg, &a, json);
    }
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        struct list_args a;

        if (parse_list(argc - 1, argv + 1, &a, why) < 0) {
            return FXCTL_USAGE;
        }
        return cmd_list(cfg, &a, json);
    }
    *why = argc == 0 ? "fx needs import or list" : "fx takes import or list";
    return FXCTL_USAGE;
}
