/*
 * test_codec.c - customer <-> hash fields + aux string: exact round trips
 * after random event sequences, value limits, bad input, and the encoded
 * size of a typical customer; the diff against the stored state
 * (codec_encode_diff) and the summary hash's fields (codec_summary_diff).
 * The packed form Redis stores is tested in test_packed.c.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/store/codec.h"
#include "tests/unit/check_main.h"
#include "tests/unit/model_fixture.h"

/* The same readable forms, and every value short enough for a listpack. */
static void assert_same(const struct kvlist *a, const char *aux_a, const struct kvlist *b,
                        const char *aux_b)
{
    fx_assert_same_text(a, aux_a, b, aux_b);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_int_le((int)strlen(a->v[i].value), 64);
    }
}

static void roundtrip(const struct customer *c)
{
    struct kvlist kv1, kv2;
    char *aux1, *aux2, err[256];
    struct customer *d = malloc(sizeof(*d));

    fx_encode_ok(c, &kv1, &aux1);
    ck_assert_msg(codec_decode(d, c->id, &kv1, aux1, err, sizeof(err)) == 0, "%s", err);
    fx_encode_ok(d, &kv2, &aux2);
    assert_same(&kv1, aux1, &kv2, aux2);
    kvlist_free(&kv1);
    kvlist_free(&kv2);
    free(aux1);
    free(aux2);
    free(d);
}

START_TEST(test_roundtrip_random)
{
    unsigned s = 12345u + (unsigned)_i * 7919u;
    struct fx f;
    int64_t ts = T0;
    int n = 1 + (int)(fx_rnd(&s) % 120);

    fx_init(&f, "rand");
    for (int i = 0; i < n; i++) {
        /* Mostly forward in time, sometimes back (interleaved topics). */
        ts += (int64_t)(fx_rnd(&s) % 10) * DAY / 3 - (fx_rnd(&s) % 5 == 0 ? DAY : 0);
        fx_random_event(&f, &s, ts, i);
        if (i % 7 == 0) {
            roundtrip(f.c);
        }
    }
    model_sweep(f.c, ts + 400 * DAY, &f.m, &f.out);
    roundtrip(f.c);
    fx_free(&f);
}
END_TEST

/* Decoding and then continuing gives what continuing directly gives. */
START_TEST(test_decode_continue)
{
    unsigned s = 99u + (unsigned)_i;
    struct fx a, b;
    int64_t ts = T0;
    char err[256];

    fx_init(&a, "cont");
    fx_init(&b, "cont");
    for (int i = 0; i < 60; i++) {
        struct kvlist kv;
        unsigned s2;
        char *aux;

        ts += (int64_t)(fx_rnd(&s) % 6) * DAY / 2;
        s2 = s;
        fx_random_event(&a, &s, ts, i);
        fx_random_event(&b, &s2, ts, i);
        fx_encode_ok(b.c, &kv, &aux);
        ck_assert_msg(codec_decode(b.c, "cont", &kv, aux, err, sizeof(err)) == 0, "%s",
                      err);
        kvlist_free(&kv);
        free(aux);
        ck_assert_uint_eq(a.out.n, b.out.n);
        for (size_t k = 0; k < a.out.n; k++) {
            ck_assert_str_eq(a.out.v[k].payload, b.out.v[k].payload);
        }
    }
    ck_assert_int_eq(model_next_due(a.c, &a.m) == model_next_due(b.c, &b.m), 1);
    fx_free(&a);
    fx_free(&b);
}
END_TEST

START_TEST(test_new_customer)
{
    struct customer *c = malloc(sizeof(*c));
    struct kvlist kv;
    char err[128];

    kvlist_init(&kv);
    ck_assert_int_eq(codec_decode(c, "fresh", &kv, NULL, err, sizeof(err)), 0);
    ck_assert_str_eq(c->id, "fresh");
    ck_assert_int_eq(c->risk_armed, 1);
    ck_assert_int_eq(c->first_day, -1);
    roundtrip(c);
    free(c);
}
END_TEST

START_TEST(test_bad_input)
{
    struct customer *c = malloc(sizeof(*c));
    struct kvlist kv;
    char err[128];

    kvlist_init(&kv);
    kvlist_add(&kv, "orders", "12x");
    ck_assert_int_eq(codec_decode(c, "bad", &kv, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "orders"));
    kvlist_free(&kv);
    kvlist_init(&kv);
    kvlist_add(&kv, "tier", "diamond");
    ck_assert_int_eq(codec_decode(c, "bad", &kv, NULL, err, sizeof(err)), -1);
    kvlist_free(&kv);
    kvlist_init(&kv);
    kvlist_add(&kv, "rev", "7");           /* the store's own field: ignored */
    kvlist_add(&kv, "wm:orders:3", "100"); /* likewise */
    ck_assert_int_eq(codec_decode(c, "bad", &kv, "D:1,2", err, sizeof(err)), -1);
    ck_assert_int_eq(codec_decode(c, "bad", &kv, "S:1,zz,1", err, sizeof(err)), -1);
    ck_assert_int_eq(codec_decode(c, "bad", &kv, "K:a%ZZ,1,", err, sizeof(err)), -1);
    ck_assert_int_eq(
        codec_decode(c, "bad", &kv, "Z:future;stuff|D:19723,1,100,0", err, sizeof(err)),
        0);
    ck_assert_uint_eq(c->ndays, 1);
    kvlist_free(&kv);
    free(c);
}
END_TEST

/* ~5 orders, a review, a few messages: the typical customer the size budgets
 * are about. */
static void build_typical(struct fx *f)
{
    fx_first_orders(f);
    fx_review(f, T0 + 65 * DAY, 5, 0);
    fx_message(f, T0 + 70 * DAY, "mkt-1", DIR_OUTBOUND, MSG_MARKETING);
    fx_order_full(f, "A-1004", T0 + 120 * DAY, 35, 0, SHIP_STANDARD, "shoes", "Zenith");
    fx_order_full(f, "A-1005", T0 + 200 * DAY, 55, 0, SHIP_STANDARD, "shoes", "Acme");
}

/* ~5 orders, a review, a few messages: the size budget of docs/state.md. */
START_TEST(test_typical_size)
{
    struct fx f;
    struct kvlist kv;
    char *aux;
    size_t bytes = 0, stored = 0;

    fx_init(&f, "customer-000123");
    build_typical(&f);
    fx_encode_ok(f.c, &kv, &aux);
    /* A field at its default is written as "" and deleted, not stored. */
    for (size_t i = 0; i < kv.n; i++) {
        if (kv.v[i].value[0]) {
            bytes += strlen(kv.v[i].name) + strlen(kv.v[i].value);
            stored++;
        }
    }
    printf("typical customer: %zu hash fields stored, %zu bytes of names+values, aux %zu "
           "bytes\n",
           stored, bytes, strlen(aux));
    printf("aux: %s\n", aux);
    ck_assert_uint_lt(stored, 100);
    ck_assert_uint_lt(bytes + strlen(aux), 1600);
    kvlist_free(&kv);
    free(aux);
    fx_free(&f);
}
END_TEST

/* ---- codec_encode_diff ---------------------------------------------------- */

/* The diff tests start from fx_build_full (model_fixture.h): the typical customer
 * of test_typical_size with every bounded list in use. */

static void diff_ok(const struct customer *prev, const struct customer *c,
                    struct kvlist *kv, char **aux)
{
    kvlist_init(kv);
    *aux = (char *)"not set";
    ck_assert_int_eq(codec_encode_diff(prev, c, kv, aux), 0);
}

static struct customer *copy_of(const struct customer *c)
{
    struct customer *d = malloc(sizeof(*d));

    ck_assert_ptr_nonnull(d);
    memcpy(d, c, sizeof(*d));
    return d;
}

START_TEST(test_diff_full)
{
    struct fx f;
    struct kvlist kv, full;
    char *aux, *full_aux;

    fx_init(&f, "d");
    fx_build_full(&f);
    diff_ok(NULL, f.c, &kv, &aux);
    fx_encode_ok(f.c, &full, &full_aux);
    ck_assert_ptr_nonnull(aux);
    ck_assert_str_eq(kv.v[0].name, "codec");
    ck_assert_str_eq(kv.v[0].value, "1");
    assert_same(&kv, aux, &full, full_aux);
    /* Every field, those at their default as "". */
    ck_assert_str_eq(kvlist_get(&kv, "orders"), "8");
    ck_assert_str_eq(kvlist_get(&kv, "orders_cancelled"), "");
    ck_assert_str_eq(kvlist_get(&kv, "cancelled_unknown"), "");
    ck_assert_ptr_nonnull(kvlist_get(&kv, "rewards_sent"));
    ck_assert_ptr_nonnull(kvlist_get(&kv, "tier"));
    ck_assert_ptr_nonnull(kvlist_get(&kv, "main_category"));
    ck_assert_str_eq(kvlist_get(&kv, "risk_armed"), f.c->risk_armed ? "" : "0");
    kvlist_free(&kv);
    kvlist_free(&full);
    free(aux);
    free(full_aux);
    fx_free(&f);
}
END_TEST

START_TEST(test_diff_identical)
{
    struct fx f;
    struct customer *prev;
    struct kvlist kv;
    char *aux;

    fx_init(&f, "same");
    fx_build_full(&f);
    prev = copy_of(f.c);
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 0);
    ck_assert_ptr_null(aux);
    kvlist_free(&kv);
    free(prev);
    fx_free(&f);
}
END_TEST

START_TEST(test_diff_one_counter)
{
    struct fx f;
    struct customer *prev;
    struct kvlist kv;
    char *aux, want[32];

    fx_init(&f, "one");
    fx_build_full(&f);
    prev = copy_of(f.c);
    f.c->msgs[MSG_COMPLAINT]++;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 1);
    ck_assert_str_eq(kv.v[0].name, "msg_complaint");
    snprintf(want, sizeof(want), "%lld", (long long)f.c->msgs[MSG_COMPLAINT]);
    ck_assert_str_eq(kv.v[0].value, want);
    ck_assert_ptr_null(aux);
    kvlist_free(&kv);

    /* spend_cents also moves the net spend it is shown with. */
    memcpy(prev, f.c, sizeof(*prev));
    f.c->spend_cents += 250;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 2);
    ck_assert_ptr_nonnull(kvlist_get(&kv, "spend_cents"));
    ck_assert_ptr_nonnull(kvlist_get(&kv, "net_spend"));
    ck_assert_ptr_null(aux);
    kvlist_free(&kv);

    /* A derived double. */
    memcpy(prev, f.c, sizeof(*prev));
    f.c->churn_risk = 0.625;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 1);
    ck_assert_str_eq(kv.v[0].name, "churn_risk");
    ck_assert_str_eq(kv.v[0].value, "0.625");
    ck_assert_ptr_null(aux);
    kvlist_free(&kv);
    free(prev);
    fx_free(&f);
}
END_TEST

START_TEST(test_diff_list)
{
    struct fx f;
    struct customer *prev;
    struct kvlist kv, full;
    char *aux, *full_aux;

    fx_init(&f, "list");
    fx_build_full(&f);
    prev = copy_of(f.c);
    f.c->days[0].refund_cents += 100;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 0); /* no scalar changed */
    ck_assert_ptr_nonnull(aux);
    fx_encode_ok(f.c, &full, &full_aux);
    ck_assert_str_eq(aux, full_aux); /* the whole aux string, as it is now */
    kvlist_free(&kv);
    kvlist_free(&full);
    free(aux);
    free(full_aux);

    /* A list growing, and a fixed array changing. */
    memcpy(prev, f.c, sizeof(*prev));
    f.c->mkt_ms[f.c->nmkt++] = T0 + 300 * DAY;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_ptr_nonnull(aux);
    ck_assert_ptr_nonnull(strstr(aux, "M:"));
    kvlist_free(&kv);
    free(aux);
    memcpy(prev, f.c, sizeof(*prev));
    f.c->reward_last_ms[RW_WINBACK] = T0 + 301 * DAY;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 0);
    ck_assert_ptr_nonnull(aux);
    kvlist_free(&kv);
    free(aux);
    free(prev);
    fx_free(&f);
}
END_TEST

/* Back at the default: the field is named with "" (the store deletes it). */
START_TEST(test_diff_back_to_default)
{
    struct fx f;
    struct customer *prev;
    struct kvlist kv;
    char *aux;

    fx_init(&f, "dflt");
    fx_build_full(&f);
    f.c->orders_cancelled = 2;
    f.c->risk_armed = 0;
    f.c->tier = TIER_GOLD;
    f.c->tier_grace_until_ms = T0;
    prev = copy_of(f.c);
    f.c->orders_cancelled = 0;
    f.c->risk_armed = 1;
    f.c->tier = TIER_NONE;
    f.c->tier_grace_until_ms = 0;
    diff_ok(prev, f.c, &kv, &aux);
    ck_assert_uint_eq(kv.n, 4);
    ck_assert_str_eq(kvlist_get(&kv, "orders_cancelled"), "");
    ck_assert_str_eq(kvlist_get(&kv, "risk_armed"), "");
    ck_assert_str_eq(kvlist_get(&kv, "tier"), "");
    ck_assert_str_eq(kvlist_get(&kv, "tier_grace_until"), "");
    ck_assert_ptr_null(aux);
    kvlist_free(&kv);
    free(prev);
    fx_free(&f);
}
END_TEST

/* The stored hash after writing a diff over prev's hash, as the store does
 * ("" deletes a field). */
static void apply_diff(const struct kvlist *stored, const struct kvlist *diff,
                       struct kvlist *out)
{
    kvlist_init(out);
    for (size_t i = 0; i < stored->n; i++) {
        const char *v = kvlist_get(diff, stored->v[i].name);

        if (v == NULL) {
            v = stored->v[i].value;
        }
        if (*v) {
            ck_assert_int_eq(kvlist_add(out, stored->v[i].name, v), 0);
        }
    }
    for (size_t i = 0; i < diff->n; i++) {
        if (*diff->v[i].value && !kvlist_get(stored, diff->v[i].name)) {
            ck_assert_int_eq(kvlist_add(out, diff->v[i].name, diff->v[i].value), 0);
        }
    }
}

/* Writing the diff over the stored state gives what a full write gives:
 * after random events, from a decoded (stored) prev, as the batch does. */
START_TEST(test_diff_applies)
{
    unsigned s = 777u + (unsigned)_i * 31u;
    struct fx f;
    int64_t ts = T0;
    char err[256];

    fx_init(&f, "apply");
    for (int step = 0; step < 12; step++) {
        struct customer *prev = copy_of(f.c), *d = malloc(sizeof(*d));
        struct kvlist kv_prev, stored, diff, merged, kv_c, kv_d;
        char *aux_prev, *aux_diff, *aux_c, *aux_d;
        int n = (int)(fx_rnd(&s) % 6); /* sometimes none: an empty diff */

        ck_assert_ptr_nonnull(d);
        for (int i = 0; i < n; i++) {
            ts += (int64_t)(fx_rnd(&s) % 10) * DAY / 3;
            fx_random_event(&f, &s, ts, step * 6 + i);
        }
        fx_encode_ok(prev, &kv_prev, &aux_prev);
        apply_diff(&kv_prev, &kv_prev, &stored); /* drops the "" fields */
        diff_ok(prev, f.c, &diff, &aux_diff);
        apply_diff(&stored, &diff, &merged);
        ck_assert_msg(codec_decode(d, f.c->id, &merged, aux_diff ? aux_diff : aux_prev,
                                   err, sizeof(err)) == 0,
                      "%s", err);
        fx_encode_ok(f.c, &kv_c, &aux_c);
        fx_encode_ok(d, &kv_d, &aux_d);
        assert_same(&kv_c, aux_c, &kv_d, aux_d);
        if (n == 0) {
            ck_assert_uint_eq(diff.n, 0);
            ck_assert_ptr_null(aux_diff);
        }
        kvlist_free(&kv_prev);
        kvlist_free(&stored);
        kvlist_free(&diff);
        kvlist_free(&merged);
        kvlist_free(&kv_c);
        kvlist_free(&kv_d);
        free(aux_prev);
        free(aux_diff);
        free(aux_c);
        free(aux_d);
        free(prev);
        free(d);
    }
    fx_free(&f);
}
END_TEST

/* ---- codec_summary_diff ------------------------------------------------- */

/* The summary hash's fields (README, "State in Redis"). */
static const char *const summary_names[] = {
    "as_of",        "churn_risk", "p_alive",     "clv",       "loyalty_score",
    "attitude",     "spend_365d", "orders_365d", "net_spend", "segment",
    "loyalty_type", "brand_type", "tier",        "currency",  "model_version",
};

#define NSUMMARY (sizeof(summary_names) / sizeof(summary_names[0]))

static void summary_ok(const struct customer *prev, const struct customer *c,
                       struct kvlist *kv)
{
    kvlist_init(kv);
    ck_assert_int_eq(codec_summary_diff(prev, c, kv), 0);
}

/* Without a previous state: every summary field, once, with the value the
 * full encoding gives it (never "": a summary field is always present). */
START_TEST(test_summary_full)
{
    struct fx f;
    struct kvlist kv, full;
    char *aux;

    fx_init(&f, "sum");
    fx_build_full(&f);
    summary_ok(NULL, f.c, &kv);
    fx_encode_ok(f.c, &full, &aux);
    ck_assert_uint_eq(kv.n, NSUMMARY);
    for (size_t i = 0; i < NSUMMARY; i++) {
        const char *v = kvlist_get(&kv, summary_names[i]);
        const char *want = kvlist_get(&full, summary_names[i]);
        size_t times = 0;

        ck_assert_msg(v != NULL, "summary field %s missing", summary_names[i]);
        ck_assert_msg(v[0] != '\0', "summary field %s empty", summary_names[i]);
        for (size_t k = 0; k < kv.n; k++) {
            times += strcmp(kv.v[k].name, summary_names[i]) == 0;
        }
        ck_assert_uint_eq(times, 1);
        /* The full encoding leaves a field at its default empty. */
        ck_assert_ptr_nonnull(want);
        if (want[0]) {
            ck_assert_str_eq(v, want);
        }
    }
    ck_assert_str_eq(kvlist_get(&kv, "currency"), "USD");
    ck_assert_str_eq(kvlist_get(&kv, "tier"), cu_tier_name(f.c->tier));
    ck_assert_str_eq(kvlist_get(&kv, "segment"), cu_segment_name(f.c->segment));
    kvlist_free(&kv);
    kvlist_free(&full);
    free(aux);
    fx_free(&f);
}
END_TEST

/* Nothing changed: no field. */
START_TEST(test_summary_identical)
{
    struct fx f;
    struct customer *prev;
    struct kvlist kv;

    fx_init(&f, "same");
    fx_build_full(&f);
    prev = copy_of(f.c);
    summary_ok(prev, f.c, &kv);
    ck_assert_uint_eq(kv.n, 0);
    kvlist_free(&kv);
    /* Nor when only fields outside the summary change. */
    f.c->msgs[MSG_COMPLAINT]++;
    f.c->days[0].refund_cents += 100;
    f.c->mkt_ms[f.c->nmkt++] = T0 + 300 * DAY;
    summary_ok(prev, f.c, &kv);
    ck_assert_uint_eq(kv.n, 0);
    kvlist_free(&kv);
    free(prev);
    fx_free(&f);
}
END_TEST

/* One summary field changed: exactly that one, with its new value. */
START_TEST(test_summary_one_field)
{
    struct fx f;
    struct customer *prev;
    struct kvlist kv;

    fx_init(&f, "one");
    fx_build_full(&f);
    prev = copy_of(f.c);
    f.c->churn_risk = 0.625;
    summary_ok(prev, f.c, &kv);
    ck_assert_uint_eq(kv.n, 1);
    ck_assert_str_eq(kv.v[0].name, "churn_risk");
    ck_assert_str_eq(kv.v[0].value, "0.625");
    kvlist_free(&kv);

    /* spend_cents is not in the summary, the net spend shown from it is. */
    memcpy(prev, f.c, sizeof(*prev));
    f.c->spend_cents += 250;
    summary_ok(prev, f.c, &kv);
    ck_assert_uint_eq(kv.n, 1);
    ck_assert_str_eq(kv.v[0].name, "net_spend");
    kvlist_free(&kv);
    free(prev);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_roundtrip_random, 0, 200);
    tcase_add_loop_test(tc, test_decode_continue, 0, 30);
    tcase_add_test(tc, test_new_customer);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_typical_size);
    tcase_add_test(tc, test_diff_full);
    tcase_add_test(tc, test_diff_identical);
    tcase_add_test(tc, test_diff_one_counter);
    tcase_add_test(tc, test_diff_list);
    tcase_add_test(tc, test_diff_back_to_default);
    tcase_add_loop_test(tc, test_diff_applies, 0, 40);
    tcase_add_test(tc, test_summary_full);
    tcase_add_test(tc, test_summary_identical);
    tcase_add_test(tc, test_summary_one_field);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
