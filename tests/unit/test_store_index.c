/*
 * test_store_index.c - the commands state/store/store_index.c builds for a
 * batch's index entries and due times: one ZADD per index and task, one
 * ZADD and one ZREM per task's due set, each on a key "P t:{N}:..." of the
 * customers' task, in the slot of the task's other keys.  What Redis makes
 * of them is tests/integration's (test_cli.py, test_journeys.py).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "state/store/slot.h"
#include "state/store/store_int.h"
#include "tests/unit/check_main.h"

/* Argument i of b as a string (in buf). */
static const char *arg(const struct argv_buf *b, size_t i, char *buf, size_t len)
{
    const struct argv_arg *g = &b->v[i];
    const char *p = g->off != 0 ? b->arena.s + g->off - 1 : g->s;

    snprintf(buf, len, "%.*s", (int)g->len, p);
    return buf;
}

/* b's arguments joined by spaces. */
static const char *joined(const struct argv_buf *b)
{
    static char out[1024];
    char one[256];
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < b->n; i++) {
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "",
                              arg(b, i, one, sizeof(one)));
    }
    return out;
}

static void fake_store(struct store *s, const char *prefix)
{
    memset(s, 0, sizeof(*s));
    s->opts.prefix = prefix;
    s->opts.indices = (1u << STORE_IDX__COUNT) - 1;
}

/* Three customers: two of task 3 (one never due), one of task 12. */
static void requests(struct store_index_req q[3])
{
    memset(q, 0, 3 * sizeof(*q));
    q[0] = (struct store_index_req){.id = "alice",
                                    .set = STORE_INDEX_ALL,
                                    .score = {0.5, 10, 20.25, 300},
                                    .partition = 3,
                                    .due_ms = 1700000000000};
    q[1] = (struct store_index_req){.id = "bob",
                                    .set = (1u << STORE_IDX_RISK) | STORE_INDEX_DUE,
                                    .score = {0.75, 0, 0, 0},
                                    .partition = 3,
                                    .due_ms = INT64_MAX};
    q[2] = (struct store_index_req){.id = "carol",
                                    .set = STORE_INDEX_ALL,
                                    .score = {0.125, 1, 2, 3},
                                    .partition = 12,
                                    .due_ms = 1700000000001};
}

START_TEST(test_index_per_task)
{
    struct store s;
    struct argv_buf b = {0};
    struct store_index_req q[3];

    fake_store(&s, "loyalty:");
    requests(q);
    store_index_argv(&b, &s, STORE_IDX_RISK, 3, q, 3);
    ck_assert_str_eq(joined(&b), "ZADD loyalty:t:{3}:idx:risk 0.5 alice 0.75 bob");
    store_argv_reset(&b);
    store_index_argv(&b, &s, STORE_IDX_VALUE, 3, q, 3);
    ck_assert_str_eq(joined(&b), "ZADD loyalty:t:{3}:idx:value 300 alice");
    store_argv_reset(&b);
    store_index_argv(&b, &s, STORE_IDX_CLV, 12, q, 3);
    ck_assert_str_eq(joined(&b), "ZADD loyalty:t:{12}:idx:clv 2 carol");
    store_argv_reset(&b);
    store_index_argv(&b, &s, STORE_IDX_LOYALTY, 7, q, 3); /* no customer of task 7 */
    ck_assert_uint_eq(b.n, 0);
    store_argv_free(&b);
}
END_TEST

START_TEST(test_due_per_task)
{
    struct store s;
    struct argv_buf b = {0};
    struct store_index_req q[3];

    fake_store(&s, "shop:");
    requests(q);
    store_due_argv(&b, &s, 3, 0, q, 3);
    ck_assert_str_eq(joined(&b), "ZADD shop:t:{3}:due 1700000000000 alice");
    store_argv_reset(&b);
    store_due_argv(&b, &s, 3, 1, q, 3);
    ck_assert_str_eq(joined(&b), "ZREM shop:t:{3}:due bob");
    store_argv_reset(&b);
    store_due_argv(&b, &s, 12, 0, q, 3);
    ck_assert_str_eq(joined(&b), "ZADD shop:t:{12}:due 1700000000001 carol");
    store_argv_reset(&b);
    store_due_argv(&b, &s, 12, 1, q, 3); /* nothing of task 12 is never due */
    ck_assert_uint_eq(b.n, 0);
    q[0].set &= ~STORE_INDEX_DUE; /* alice's due time unchanged */
    store_due_argv(&b, &s, 3, 0, q, 3);
    ck_assert_uint_eq(b.n, 0);
    store_argv_free(&b);
}
END_TEST

/* Every key of a task is in the slot of its tag, the task's number, so on
 * Redis Cluster the tasks' keys spread over the masters. */
START_TEST(test_task_keys_share_a_slot)
{
    const char *suffixes[] = {"progress",    "due",     "idx:risk",
                              "idx:loyalty", "idx:clv", "idx:value"};
    char key[STORE_KEY_MAX], tag[16];

    store_task_key(key, sizeof(key), "loyalty:", 7, "due");
    ck_assert_str_eq(key, "loyalty:t:{7}:due");
    for (int32_t t = 0; t < 64; t++) {
        snprintf(tag, sizeof(tag), "%d", (int)t);
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
            store_task_key(key, sizeof(key), "loyalty:", t, suffixes[i]);
            ck_assert_int_eq(slot_of(key, strlen(key)), slot_of(tag, strlen(tag)));
        }
    }
}
END_TEST

START_TEST(test_scan_pattern)
{
    char out[64];

    ck_assert_int_eq(store_pattern("a*b[1]:", "t:{[0-9]*}:due", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "a\\*b\\[1\\]:t:{[0-9]*}:due");
    ck_assert_int_eq(store_pattern("loyalty:", "c:{*}", out, 8), -1);
}
END_TEST

static Suite *store_index_suite(void)
{
    Suite *s = suite_create("store_index");
    TCase *tc = tcase_create("commands");

    tcase_add_test(tc, test_index_per_task);
    tcase_add_test(tc, test_due_per_task);
    tcase_add_test(tc, test_task_keys_share_a_slot);
    tcase_add_test(tc, test_scan_pattern);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(store_index_suite)
