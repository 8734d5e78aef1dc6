/*
 * bench_model - in-process micro-benchmarks of the pure parts of loyaltyd:
 * no Kafka, no Redis, no I/O inside the timed loops.
 *
 *   bench_model EVENTS_DIR SUMMARY_CSV [SECONDS]
 *
 * EVENTS_DIR holds orders.txt, reviews.txt and messages.txt as written by
 * deploy/sample-events.py ("customer<TAB>json" per line); SUMMARY_CSV is the
 * CDNOW summary ("ID,x,t_x,T,zbar", weeks).  SECONDS (default 0.3) is the
 * least time of one measured round; every figure is the median of ROUNDS
 * rounds, printed with the spread (min..max) because the machine is shared.
 *
 * Measured:
 *   parse       parse_event over every input message (MB/s of JSON, events/s)
 *   apply       model_apply over the valid events, per customer in time order
 *               (what the daemon does between load and commit), events/s
 *   apply+codec the daemon's in-process path per event without Redis:
 *               codec_decode of the previous state, model_apply, codec_encode
 *   codec       codec_encode + codec_decode round trips of the final states
 *   fit         bg_fit and gg_fit on the CDNOW summary, ms per fit
 *
 * Output: human-readable lines, plus "RESULT key value" lines that
 * bench/run.sh collects into its summary.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/array.h"
#include "consumers/parse.h"
#include "state/fit/bgfit.h"
#include "state/fit/cdnow.h"
#include "state/model/model.h"
#include "state/store/codec.h"

#define ROUNDS 5

struct raw {
    char *json;
    size_t len;
    enum ev_source src;
    size_t order; /* position in input, for a stable sort */
};

struct rawlist {
    ARRAY(struct raw);
    size_t bytes;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_model: %s\n", what);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        die("out of memory");
    }
    return q;
}

static void load_file(struct rawlist *l, const char *dir, const char *name,
                      enum ev_source src)
{
    char path[4096];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *fp;
    struct raw *r;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "r");
    if (fp == NULL) {
        perror(path);
        exit(1);
    }
    while ((n = getline(&line, &cap, fp)) > 0) {
        char *tab = memchr(line, '\t', (size_t)n);
        char *js = tab ? tab + 1 : line;
        size_t len = (size_t)n - (size_t)(js - line);

        while (len > 0 && (js[len - 1] == '\n' || js[len - 1] == '\r')) {
            len--;
        }
        if ((r = array_push(l)) == NULL) {
            die("out of memory");
        }
        r->json = xrealloc(NULL, len + 1);
        memcpy(r->json, js, len);
        r->json[len] = '\0';
        r->len = len;
        r->src = src;
        r->order = l->n - 1;
        l->bytes += len;
    }
    free(line);
    fclose(fp);
}

/* ---- measurement: median of ROUNDS rounds of at least min_s each ---- */

struct rate {
    double med, lo, hi; /* units per second */
};

typedef double (*pass_fn)(void *arg); /* one pass; returns units of work done */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static struct rate measure(pass_fn fn, void *arg, double min_s)
{
    double rates[ROUNDS];
    struct rate r;

    fn(arg); /* warm-up: caches, allocator */
    for (int i = 0; i < ROUNDS; i++) {
        double units = 0, t0 = now_s(), dt;

        do {
            units += fn(arg);
            dt = now_s() - t0;
        } while (dt < min_s);
        rates[i] = units / dt;
    }
    qsort(rates, ROUNDS, sizeof(rates[0]), cmp_double);
    r.med = rates[ROUNDS / 2];
    r.lo = rates[0];
    r.hi = rates[ROUNDS - 1];
    return r;
}

static void print_rate(const char *what, const char *unit, struct rate r, double scale)
{
    printf("  %-34s %12.0f %-9s (min %.0f, max %.0f)\n", what, r.med * scale, unit,
           r.lo * scale, r.hi * scale);
}

/* ---- parse ---- */

struct parse_arg {
    const struct rawlist *raw;
    struct parse_limits lim;
    int64_t now_ms;
    size_t ok, rejected;
};

static double pass_parse(void *p)
{
    struct parse_arg *a = p;
    char detail[256];

    a->ok = a->rejected = 0;
    for (size_t i = 0; i < a->raw->n; i++) {
        const struct raw *r = &a->raw->v[i];
        struct event ev;

        event_init(&ev);
        if (parse_event(r->json, r->len, r->src, &a->lim, a->now_ms, &ev, detail,
                        sizeof(detail)) == PR_OK) {
            a->ok++;
            event_free(&ev);
        } else {
            a->rejected++;
        }
    }
    return (double)a->raw->n;
}

static double pass_parse_bytes(void *p)
{
    struct parse_arg *a = p;

    pass_parse(p);
    return (double)a->raw->bytes;
}

/* ---- model ---- */

struct evrec {
    struct event ev;
    size_t order;
};

static int cmp_evrec(const void *a, const void *b)
{
    const struct evrec *x = a, *y = b;
    int c = strcmp(x->ev.customer_id, y->ev.customer_id);

    if (c) {
        return c;
    }
    if (x->ev.ts_ms != y->ev.ts_ms) {
        return x->ev.ts_ms < y->ev.ts_ms ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

struct model_arg {
    struct evrec *ev;
    size_t n;
    struct model_ctx m;
    struct customer *c;     /* scratch */
    struct customer *final; /* one per customer, filled by pass_apply */
    size_t ncust;
    size_t emitted;
    size_t failed;
    size_t cur; /* pass_apply_codec: where the next pass starts */
};

static double pass_apply(void *p)
{
    struct model_arg *a = p;
    struct emission_list out;
    char err[256];
    size_t cust = 0;

    a->emitted = a->failed = 0;
    emission_list_init(&out);
    for (size_t i = 0; i < a->n; i++) {
        const struct event *ev = &a->ev[i].ev;

        if (i == 0 || strcmp(ev->customer_id, a->ev[i - 1].ev.customer_id) != 0) {
            if (i > 0) {
                a->final[cust++] = *a->c;
            }
            customer_init(a->c, ev->customer_id);
        }
        if (model_apply(a->c, ev, &a->m, &out, err, sizeof(err)) < 0) {
            a->failed++;
        }
        a->emitted += out.n;
        emission_list_free(&out);
    }
    if (a->n > 0) {
        a->final[cust++] = *a->c;
    }
    a->ncust = cust;
    return (double)a->n;
}

/* The daemon's per-event work without Redis: decode the stored strings,
 * apply, encode the new strings.  One pass is ~CHUNK events (whole customers,
 * resuming where the previous pass stopped, wrapping around), so that rounds
 * stay short and still cover the whole population over a measurement. */
#define CHUNK 3000

static double pass_apply_codec(void *p)
{
    struct model_arg *a = p;
    struct emission_list out;
    struct kvlist kv;
    char *aux = NULL;
    char err[256];
    size_t i = a->cur, done = 0;

    emission_list_init(&out);
    kvlist_init(&kv);
    for (; i < a->n; i++, done++) {
        const struct event *ev = &a->ev[i].ev;

        if (i == a->cur || strcmp(ev->customer_id, a->ev[i - 1].ev.customer_id) != 0) {
            if (done >= CHUNK) {
                break;
            }
            kvlist_free(&kv);
            free(aux);
            aux = NULL; /* a new customer: nothing stored yet */
        }
        if (codec_decode(a->c, ev->customer_id, &kv, aux, err, sizeof(err)) < 0) {
            die(err);
        }
        if (model_apply(a->c, ev, &a->m, &out, err, sizeof(err)) < 0) {
            a->failed++;
        }
        emission_list_free(&out);
        kvlist_free(&kv);
        free(aux);
        aux = NULL;
        if (codec_encode(a->c, &kv, &aux) < 0) {
            die("codec_encode failed");
        }
    }
    kvlist_free(&kv);
    free(aux);
    a->cur = i < a->n ? i : 0;
    return (double)done;
}

struct codec_arg {
    const struct customer *v;
    size_t n;
    struct customer *scratch;
    double fields, bytes_fields, bytes_aux; /* per customer sums of the last pass */
};

static double pass_codec(void *p)
{
    struct codec_arg *a = p;
    char err[256];

    a->fields = a->bytes_fields = a->bytes_aux = 0;
    for (size_t i = 0; i < a->n; i++) {
        struct kvlist kv;
        char *aux = NULL;

        kvlist_init(&kv);
        if (codec_encode(&a->v[i], &kv, &aux) < 0) {
            die("codec_encode failed");
        }
        if (codec_decode(a->scratch, a->v[i].id, &kv, aux, err, sizeof(err)) < 0) {
            die(err);
        }
        a->fields += (double)kv.n;
        for (size_t k = 0; k < kv.n; k++) {
            a->bytes_fields += (double)(strlen(kv.v[k].name) + strlen(kv.v[k].value));
        }
        a->bytes_aux += (double)strlen(aux);
        kvlist_free(&kv);
        free(aux);
    }
    return (double)a->n;
}

/* ---- fit ---- */

static void bench_fit(const char *summary)
{
    struct bg_obs *obs;
    size_t n;
    char err[512];
    double bg_ms[3], gg_ms[3];
    struct bg_fit_result bg;
    struct gg_fit_result gg;

    if (cdnow_load_summary(summary, 7.0, &obs, &n, err, sizeof(err)) < 0) {
        die(err);
    }
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();

        if (bg_fit(obs, n, &bg) < 0) {
            die("bg_fit failed");
        }
        bg_ms[i] = (now_s() - t0) * 1e3;
        t0 = now_s();
        if (gg_fit(obs, n, &gg) < 0) {
            die("gg_fit failed");
        }
        gg_ms[i] = (now_s() - t0) * 1e3;
    }
    qsort(bg_ms, 3, sizeof(double), cmp_double);
    qsort(gg_ms, 3, sizeof(double), cmp_double);
    printf("fit (CDNOW summary, %zu customers, weeks; median of 3):\n", n);
    printf("  %-34s %12.1f ms        (min %.1f, max %.1f)\n", "BG/NBD fit", bg_ms[1],
           bg_ms[0], bg_ms[2]);
    printf("  %-34s r=%.4f alpha=%.4f a=%.4f b=%.4f loglik=%.4f converged=%d\n", "",
           bg.params.r, bg.params.alpha, bg.params.a, bg.params.b, bg.loglik,
           bg.converged);
    printf("  %-34s %12.1f ms        (min %.1f, max %.1f)\n", "Gamma-Gamma fit", gg_ms[1],
           gg_ms[0], gg_ms[2]);
    printf("  %-34s p=%.4f q=%.4f gamma=%.4f n=%zu converged=%d\n", "", gg.params.p,
           gg.params.q, gg.params.gamma, gg.n, gg.converged);
    printf("RESULT fit_bgnbd_ms %.1f\n", bg_ms[1]);
    printf("RESULT fit_gg_ms %.1f\n", gg_ms[1]);
    free(obs);
}

int main(int argc, char **argv)
{
    struct rawlist raw = {0};
    struct parse_arg pa;
    struct model_arg ma;
    struct codec_arg ca;
    struct model_config *cfg;
    struct rate r_parse, r_bytes, r_apply, r_apply_codec, r_codec;
    double min_s = 0.3;
    size_t nev = 0;
    char detail[256];

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: bench_model EVENTS_DIR SUMMARY_CSV [SECONDS]\n");
        return 2;
    }
    if (argc == 4) {
        min_s = atof(argv[3]);
    }
    load_file(&raw, argv[1], "orders.txt", SRC_ORDERS);
    load_file(&raw, argv[1], "reviews.txt", SRC_REVIEWS);
    load_file(&raw, argv[1], "messages.txt", SRC_MESSAGES);
    printf("input: %zu messages, %.2f MB of JSON (%.0f bytes/message)\n", raw.n,
           (double)raw.bytes / 1e6, (double)raw.bytes / (double)raw.n);

    /* parse */
    memset(&pa, 0, sizeof(pa));
    pa.raw = &raw;
    parse_limits_default(&pa.lim);
    pa.now_ms = (int64_t)time(NULL) * 1000;
    r_parse = measure(pass_parse, &pa, min_s);
    r_bytes = measure(pass_parse_bytes, &pa, min_s);
    printf("parse_event (%zu valid, %zu rejected):\n", pa.ok, pa.rejected);
    print_rate("parse", "events/s", r_parse, 1);
    print_rate("parse", "MB/s", r_bytes, 1e-6);

    /* the valid events, per customer in time order */
    memset(&ma, 0, sizeof(ma));
    ma.ev = xrealloc(NULL, raw.n * sizeof(*ma.ev));
    for (size_t i = 0; i < raw.n; i++) {
        struct evrec *e = &ma.ev[nev];

        event_init(&e->ev);
        if (parse_event(raw.v[i].json, raw.v[i].len, raw.v[i].src, &pa.lim, pa.now_ms,
                        &e->ev, detail, sizeof(detail)) == PR_OK) {
            e->order = i;
            nev++;
        }
    }
    qsort(ma.ev, nev, sizeof(*ma.ev), cmp_evrec);
    ma.n = nev;
    cfg = model_config_new();
    if (cfg == NULL) {
        die("out of memory");
    }
    ma.m.cfg = cfg;
    bg_params_default(&ma.m.bg);
    gg_params_default(&ma.m.gg);
    ma.c = xrealloc(NULL, sizeof(*ma.c));
    ma.final = xrealloc(NULL, (nev ? nev : 1) * sizeof(*ma.final)); /* >= customers */
    pass_apply(&ma);
    ma.final = xrealloc(ma.final, (ma.ncust ? ma.ncust : 1) * sizeof(*ma.final));
    r_apply = measure(pass_apply, &ma, min_s);
    printf("model_apply (%zu events, %zu customers, %zu derived events, %zu refused):\n",
           ma.n, ma.ncust, ma.emitted, ma.failed);
    print_rate("model_apply", "events/s", r_apply, 1);
    r_apply_codec = measure(pass_apply_codec, &ma, min_s);
    print_rate("decode + model_apply + encode", "events/s", r_apply_codec, 1);

    /* codec round trips of the final states */
    memset(&ca, 0, sizeof(ca));
    ca.v = ma.final;
    ca.n = ma.ncust;
    ca.scratch = ma.c;
    r_codec = measure(pass_codec, &ca, min_s);
    printf("codec (final state of %zu customers; mean %.1f fields, %.0f bytes of "
           "names+values, "
           "%.0f bytes aux):\n",
           ca.n, ca.fields / (double)ca.n, ca.bytes_fields / (double)ca.n,
           ca.bytes_aux / (double)ca.n);
    print_rate("codec_encode + codec_decode", "trips/s", r_codec, 1);

    bench_fit(argv[2]);

    printf("ratios (same run):\n");
    printf("  %-34s %12.2f\n", "parse / model_apply (events/s)",
           r_parse.med / r_apply.med);
    printf("  %-34s %12.2f\n", "apply+codec / apply (events/s)",
           r_apply_codec.med / r_apply.med);
    printf("RESULT sizeof_customer %zu\n", sizeof(struct customer));
    printf("RESULT parse_events_s %.0f\n", r_parse.med);
    printf("RESULT parse_mb_s %.1f\n", r_bytes.med / 1e6);
    printf("RESULT apply_events_s %.0f\n", r_apply.med);
    printf("RESULT apply_codec_events_s %.0f\n", r_apply_codec.med);
    printf("RESULT codec_trips_s %.0f\n", r_codec.med);
    printf("RESULT codec_fields %.1f\n", ca.fields / (double)ca.n);
    printf("RESULT codec_bytes %.0f\n", (ca.bytes_fields + ca.bytes_aux) / (double)ca.n);

    for (size_t i = 0; i < nev; i++) {
        event_free(&ma.ev[i].ev);
    }
    for (size_t i = 0; i < raw.n; i++) {
        free(raw.v[i].json);
    }
    array_free(&raw);
    free(ma.ev);
    free(ma.c);
    free(ma.final);
    model_config_free(cfg);
    return 0;
}
