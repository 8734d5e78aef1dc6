/*
 * test_codec.c - customer <-> hash fields + aux string: exact round trips
 * after random event sequences, value limits, bad input, and the encoded
 * size of a typical customer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_fixture.h"
#include "state/codec.h"
#include "tests/unit/check_main.h"

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static const char *const brands[] = {"Acme", "Zenith, Inc.", "Bolt|Co", "nova%", "Ünï"};
static const char *const cats[] = {"shoes", "tea;green", "books"};

static void random_event(struct fx *f, unsigned *s, int64_t ts, int i)
{
    char oid[32], conv[32];
    unsigned r = rnd(s) % 9;

    snprintf(oid, sizeof(oid), "o%u", rnd(s) % (unsigned)(i + 1));
    snprintf(conv, sizeof(conv), "cv%u", rnd(s) % 4);
    switch (r) {
    case 0:
    case 1:
        fx_order_full(f, oid, ts, (rnd(s) % 50000) / 100.0, (rnd(s) % 3) ? 0 : 5.25,
                      (enum ev_shipping)(rnd(s) % 4), cats[rnd(s) % 3],
                      brands[rnd(s) % 5]);
        break;
    case 2:
        fx_order_event(f, (enum ev_type)(EV_ORDER_SHIPPED + rnd(s) % 2), oid, ts);
        break;
    case 3:
        fx_return(f, oid, ts, (rnd(s) % 3000) / 100.0,
                  (enum ev_return_reason)(rnd(s) % 6));
        break;
    case 4:
        fx_order_event(f, EV_ORDER_CANCELLED, oid, ts);
        break;
    case 5:
        fx_review(f, ts, 1 + (int)(rnd(s) % 5), (int)(rnd(s) % 2));
        break;
    default:
        fx_message(f, ts, conv, (enum ev_direction)(1 + rnd(s) % 2),
                   (enum ev_msg_kind)(rnd(s) % MSG__COUNT));
        break;
    }
}

static void encode_ok(const struct customer *c, struct kvlist *kv, char **aux)
{
    kvlist_init(kv);
    ck_assert_int_eq(codec_encode(c, kv, aux), 0);
}

static void assert_same(const struct kvlist *a, const char *aux_a, const struct kvlist *b,
                        const char *aux_b)
{
    ck_assert_uint_eq(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_str_eq(a->v[i].name, b->v[i].name);
        ck_assert_str_eq(a->v[i].value, b->v[i].value);
        ck_assert_int_le((int)strlen(a->v[i].value), 64);
    }
    ck_assert_str_eq(aux_a, aux_b);
}

static void roundtrip(const struct customer *c)
{
    struct kvlist kv1, kv2;
    char *aux1, *aux2, err[256];
    struct customer *d = malloc(sizeof(*d));

    encode_ok(c, &kv1, &aux1);
    ck_assert_msg(codec_decode(d, c->id, &kv1, aux1, err, sizeof(err)) == 0, "%s", err);
    encode_ok(d, &kv2, &aux2);
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
    int n = 1 + (int)(rnd(&s) % 120);

    fx_init(&f, "rand");
    for (int i = 0; i < n; i++) {
        /* Mostly forward in time, sometimes back (interleaved topics). */
        ts += (int64_t)(rnd(&s) % 10) * DAY / 3 - (rnd(&s) % 5 == 0 ? DAY : 0);
        random_event(&f, &s, ts, i);
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

        ts += (int64_t)(rnd(&s) % 6) * DAY / 2;
        s2 = s;
        random_event(&a, &s, ts, i);
        random_event(&b, &s2, ts, i);
        encode_ok(b.c, &kv, &aux);
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

/* ~5 orders, a review, a few messages: the size budget of docs/state.md. */
START_TEST(test_typical_size)
{
    struct fx f;
    struct kvlist kv;
    char *aux;
    size_t bytes = 0;

    fx_init(&f, "customer-000123");
    fx_order_full(&f, "A-1001", T0, 42.5, 0, SHIP_STANDARD, "shoes", "Acme");
    fx_order_event(&f, EV_ORDER_SHIPPED, "A-1001", T0 + DAY);
    fx_order_event(&f, EV_ORDER_DELIVERED, "A-1001", T0 + 3 * DAY);
    fx_message(&f, T0 + 20 * DAY, "conv-77", DIR_INBOUND, MSG_INQUIRY);
    fx_message(&f, T0 + 20 * DAY + HOUR, "conv-77", DIR_OUTBOUND, MSG_REPLY);
    fx_order_full(&f, "A-1002", T0 + 21 * DAY, 19.99, 5, SHIP_STANDARD, "shoes", "Acme");
    fx_order_full(&f, "A-1003", T0 + 60 * DAY, 80, 0, SHIP_EXPEDITED, "socks", "Bolt");
    fx_review(&f, T0 + 65 * DAY, 5, 0);
    fx_message(&f, T0 + 70 * DAY, "mkt-1", DIR_OUTBOUND, MSG_MARKETING);
    fx_order_full(&f, "A-1004", T0 + 120 * DAY, 35, 0, SHIP_STANDARD, "shoes", "Zenith");
    fx_order_full(&f, "A-1005", T0 + 200 * DAY, 55, 0, SHIP_STANDARD, "shoes", "Acme");
    encode_ok(f.c, &kv, &aux);
    for (size_t i = 0; i < kv.n; i++) {
        bytes += strlen(kv.v[i].name) + strlen(kv.v[i].value);
    }
    printf(
        "typical customer: %zu hash fields, %zu bytes of names+values, aux %zu bytes\n",
        kv.n, bytes, strlen(aux));
    printf("aux: %s\n", aux);
    ck_assert_uint_lt(kv.n, 100);
    ck_assert_uint_lt(bytes + strlen(aux), 1600);
    kvlist_free(&kv);
    free(aux);
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
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(suite)
