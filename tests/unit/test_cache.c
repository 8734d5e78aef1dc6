/*
 * test_cache.c - state/engine/cache.c: the customer cache bounded in bytes.  Lookup,
 * byte accounting of the packed blobs, least-recently-used eviction, pinned
 * entries, dropping a task's entries, and many entries (rehashing).  Blob
 * memory is the cache's: the suite runs clean under AddressSanitizer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/engine/cache.h"
#include "tests/unit/check_main.h"

/* A blob of len bytes, each byte `fill`. */
static unsigned char *blob_of(size_t len, int fill)
{
    unsigned char *b = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(b);
    memset(b, fill, len);
    return b;
}

static void set_blob(struct cache *k, struct cache_entry *e, size_t len, int fill)
{
    cache_set_blob(k, e, blob_of(len, fill), len);
}

/* What one entry without a blob costs in cache_bytes. */
static size_t entry_cost(void)
{
    struct cache *k = cache_new(1 << 20);
    size_t n;

    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_nonnull(cache_put(k, "x", 0));
    n = cache_bytes(k);
    cache_free(k);
    ck_assert_uint_ge(n, sizeof(struct cache_entry));
    return n;
}

static struct cache_entry *put(struct cache *k, const char *id, int32_t task)
{
    struct cache_entry *e = cache_put(k, id, task);

    ck_assert_ptr_nonnull(e);
    return e;
}

START_TEST(test_get_put)
{
    struct cache *k = cache_new(1 << 20);
    struct cache_entry *e;

    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_null(cache_get(k, "alice"));
    ck_assert_uint_eq(cache_count(k), 0);
    ck_assert_uint_eq(cache_bytes(k), 0);
    e = put(k, "alice", 7);
    ck_assert_str_eq(e->id, "alice");
    ck_assert_int_eq(e->task, 7);
    ck_assert_uint_eq(e->pinned, 0);
    ck_assert_ptr_null(e->blob);
    ck_assert_uint_eq(e->len, 0);
    ck_assert_int_eq(e->misroute_logged, 0);
    ck_assert_int_eq(e->meta.exists, 0);
    ck_assert_ptr_eq(cache_get(k, "alice"), e);
    ck_assert_ptr_null(cache_get(k, "alic"));
    ck_assert_ptr_null(cache_get(k, "alicee"));
    ck_assert_ptr_null(cache_get(k, "bob"));
    ck_assert_ptr_eq(cache_get(k, "alice"), e);
    ck_assert_uint_eq(cache_count(k), 1);
    cache_drop(k, e);
    ck_assert_ptr_null(cache_get(k, "alice"));
    ck_assert_uint_eq(cache_count(k), 0);
    ck_assert_uint_eq(cache_bytes(k), 0);
    cache_free(k);
}
END_TEST

START_TEST(test_blob_bytes)
{
    size_t per = entry_cost();
    struct cache *k = cache_new(1 << 20);
    struct cache_entry *a, *b;

    ck_assert_ptr_nonnull(k);
    a = put(k, "a", 0);
    ck_assert_uint_eq(cache_bytes(k), per);
    set_blob(k, a, 100, 0xa1);
    ck_assert_uint_eq(cache_bytes(k), per + 100);
    ck_assert_uint_eq(a->len, 100);
    ck_assert_int_eq(a->blob[99], 0xa1);
    set_blob(k, a, 40, 0xa2); /* replaced: the old one freed, 60 bytes less */
    ck_assert_uint_eq(cache_bytes(k), per + 40);
    ck_assert_int_eq(a->blob[0], 0xa2);
    b = put(k, "b", 0);
    set_blob(k, b, 10, 0xb1);
    ck_assert_uint_eq(cache_bytes(k), 2 * per + 50);
    set_blob(k, a, 1000, 0xa3);
    ck_assert_uint_eq(cache_bytes(k), 2 * per + 1010);
    cache_drop(k, a);
    ck_assert_uint_eq(cache_bytes(k), per + 10);
    cache_set_blob(k, b, NULL, 0);
    ck_assert_uint_eq(cache_bytes(k), per);
    ck_assert_ptr_null(b->blob);
    set_blob(k, b, 5, 0xb2);
    cache_free(k); /* frees b's blob */
}
END_TEST

/* Over budget, the least recently used go first; cache_get refreshes. */
START_TEST(test_lru_eviction)
{
    size_t per = entry_cost();
    struct cache *k = cache_new(3 * per);
    struct cache_entry *a, *d;

    ck_assert_ptr_nonnull(k);
    a = put(k, "a", 0);
    put(k, "b", 0);
    put(k, "c", 0);
    ck_assert_uint_eq(cache_count(k), 3);
    ck_assert_ptr_eq(cache_get(k, "a"), a); /* now b is the oldest */
    d = put(k, "d", 0);
    ck_assert_uint_eq(cache_count(k), 3);
    ck_assert_uint_le(cache_bytes(k), 3 * per);
    ck_assert_ptr_null(cache_get(k, "b"));
    ck_assert_ptr_eq(cache_get(k, "a"), a);
    ck_assert_ptr_nonnull(cache_get(k, "c"));
    ck_assert_ptr_eq(cache_get(k, "d"), d);
    /* Recency now: a, c, d.  Another put evicts a. */
    put(k, "e", 0);
    ck_assert_ptr_null(cache_get(k, "a"));
    ck_assert_ptr_nonnull(cache_get(k, "c"));
    ck_assert_ptr_nonnull(cache_get(k, "d"));
    ck_assert_ptr_nonnull(cache_get(k, "e"));
    ck_assert_uint_eq(cache_count(k), 3);
    cache_free(k);
}
END_TEST

/* Blobs count against the budget: trimming evicts oldest first until the
 * bytes fit, and no more than that. */
START_TEST(test_trim_by_blob_bytes)
{
    size_t per = entry_cost();
    struct cache *k = cache_new(2 * per + 250);
    const char *ids[] = {"w", "x", "y", "z"};
    struct cache_entry *e[4];

    ck_assert_ptr_nonnull(k);
    for (int i = 0; i < 4; i++) {
        e[i] = put(k, ids[i], 0);
        e[i]->pinned = 1; /* in use while the batch loads them */
    }
    for (int i = 0; i < 4; i++) {
        set_blob(k, e[i], 100, i);
        e[i]->pinned = 0;
    }
    ck_assert_uint_eq(cache_count(k), 4);
    ck_assert_uint_eq(cache_bytes(k), 4 * per + 400);
    cache_trim(k); /* w leaves 3 * per + 300, still over; x too */
    ck_assert_uint_eq(cache_count(k), 2);
    ck_assert_ptr_null(cache_get(k, "w"));
    ck_assert_ptr_null(cache_get(k, "x"));
    ck_assert_ptr_eq(cache_get(k, "y"), e[2]);
    ck_assert_ptr_eq(cache_get(k, "z"), e[3]);
    ck_assert_uint_eq(cache_bytes(k), 2 * per + 200);
    cache_trim(k); /* within budget: nothing goes */
    ck_assert_uint_eq(cache_count(k), 2);
    cache_free(k);
}
END_TEST

START_TEST(test_pinned_not_evicted)
{
    size_t per = entry_cost();
    struct cache *k = cache_new(2 * per);
    struct cache_entry *a, *b, *c;

    ck_assert_ptr_nonnull(k);
    a = put(k, "a", 0);
    a->pinned++;
    b = put(k, "b", 0);
    b->pinned += 2;
    c = put(k, "c", 0); /* over budget, but a and b are in use */
    ck_assert_uint_eq(c->pinned, 0);
    ck_assert_uint_eq(cache_count(k), 3);
    ck_assert_uint_eq(cache_bytes(k), 3 * per);
    set_blob(k, a, 2 * per, 1);
    set_blob(k, b, 2 * per, 2);
    c->pinned = 1;
    cache_trim(k);
    ck_assert_uint_eq(cache_count(k), 3);
    ck_assert_ptr_eq(cache_get(k, "a"), a);
    ck_assert_ptr_eq(cache_get(k, "b"), b);
    ck_assert_ptr_eq(cache_get(k, "c"), c);
    ck_assert_int_eq(a->blob[2 * per - 1], 1); /* still valid memory */

    /* Unpinned, a and c go (still over budget after a); b stays pinned. */
    a->pinned--;
    b->pinned--; /* still pinned once */
    c->pinned--;
    cache_trim(k);
    ck_assert_ptr_null(cache_get(k, "a"));
    ck_assert_ptr_eq(cache_get(k, "b"), b);
    ck_assert_uint_eq(cache_count(k), 1);
    ck_assert_ptr_null(cache_get(k, "c"));
    ck_assert_uint_eq(cache_bytes(k), 3 * per);
    b->pinned--;
    cache_free(k);
}
END_TEST

/* With no budget at all the entry just put is still returned and kept (it
 * is pinned during its own put); the next put evicts it. */
START_TEST(test_zero_budget)
{
    struct cache *k = cache_new(0);
    struct cache_entry *a, *b;

    ck_assert_ptr_nonnull(k);
    a = put(k, "a", 0);
    ck_assert_uint_eq(cache_count(k), 1);
    ck_assert_str_eq(a->id, "a");
    set_blob(k, a, 64, 3);
    b = put(k, "b", 0);
    ck_assert_uint_eq(cache_count(k), 1);
    ck_assert_ptr_null(cache_get(k, "a"));
    ck_assert_ptr_eq(cache_get(k, "b"), b);
    cache_free(k);
}
END_TEST

START_TEST(test_drop_task)
{
    struct cache *k = cache_new(1 << 24);
    struct cache_entry *pinned1;
    char id[32];

    ck_assert_ptr_nonnull(k);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        set_blob(k, put(k, id, i % 3), 20, i);
    }
    pinned1 = cache_get(k, "c4"); /* task 1 */
    ck_assert_ptr_nonnull(pinned1);
    ck_assert_int_eq(pinned1->task, 1);
    pinned1->pinned = 1;
    cache_drop_task(k, 1);
    ck_assert_uint_eq(cache_count(k), 21);
    for (int i = 0; i < 30; i++) {
        struct cache_entry *e;

        snprintf(id, sizeof(id), "c%d", i);
        e = cache_get(k, id);
        if (i % 3 == 1 && i != 4) {
            ck_assert_msg(e == NULL, "%s of task 1 kept", id);
        } else {
            ck_assert_msg(e != NULL, "%s dropped", id);
            ck_assert_int_eq(e->task, i % 3);
            ck_assert_int_eq(e->blob[0], i);
        }
    }
    cache_drop_task(k, 5); /* no such task */
    ck_assert_uint_eq(cache_count(k), 21);
    cache_drop_task(k, -1);
    ck_assert_uint_eq(cache_count(k), 1);
    ck_assert_ptr_eq(cache_get(k, "c4"), pinned1);
    ck_assert_uint_eq(cache_bytes(k), entry_cost() + 20);
    pinned1->pinned = 0;
    cache_drop_task(k, -1);
    ck_assert_uint_eq(cache_count(k), 0);
    ck_assert_uint_eq(cache_bytes(k), 0);
    cache_free(k);
}
END_TEST

/* 10000 ids: the table rehashes several times and every entry is still
 * found, with its own blob; dropping some leaves the rest reachable. */
START_TEST(test_many_entries)
{
    enum { N = 10000 };
    size_t per = entry_cost();
    struct cache *k = cache_new((size_t)1 << 30);
    size_t blob_total = 0;
    char id[32];

    ck_assert_ptr_nonnull(k);
    for (int i = 0; i < N; i++) {
        struct cache_entry *e;

        snprintf(id, sizeof(id), "customer-%06d", i);
        ck_assert_ptr_null(cache_get(k, id));
        e = put(k, id, i % 8);
        set_blob(k, e, (size_t)(i % 50) + 1, i & 0xff);
        blob_total += (size_t)(i % 50) + 1;
    }
    ck_assert_uint_eq(cache_count(k), N);
    ck_assert_uint_eq(cache_bytes(k), N * per + blob_total);
    for (int i = 0; i < N; i++) {
        struct cache_entry *e;

        snprintf(id, sizeof(id), "customer-%06d", i);
        e = cache_get(k, id);
        ck_assert_msg(e != NULL, "%s not found", id);
        ck_assert_str_eq(e->id, id);
        ck_assert_int_eq(e->task, i % 8);
        ck_assert_uint_eq(e->len, (size_t)(i % 50) + 1);
        ck_assert_int_eq(e->blob[e->len - 1], i & 0xff);
    }
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof(id), "customer-%06d", i);
        cache_drop(k, cache_get(k, id));
    }
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "customer-%06d", i);
        if (i % 3 == 0) {
            ck_assert_ptr_null(cache_get(k, id));
        } else {
            ck_assert_ptr_nonnull(cache_get(k, id));
        }
    }
    ck_assert_uint_eq(cache_count(k), N - (N + 2) / 3);
    cache_free(k);
}
END_TEST

/* A budget of 100 entries and 1000 puts: exactly the newest 100 remain. */
START_TEST(test_keeps_newest)
{
    size_t per = entry_cost();
    struct cache *k = cache_new(100 * per);
    char id[32];

    ck_assert_ptr_nonnull(k);
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "n%d", i);
        put(k, id, 0);
        ck_assert_uint_le(cache_bytes(k), 100 * per);
    }
    ck_assert_uint_eq(cache_count(k), 100);
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "n%d", i);
        if (i < 900) {
            ck_assert_ptr_null(cache_get(k, id));
        } else {
            ck_assert_ptr_nonnull(cache_get(k, id));
        }
    }
    cache_free(k);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_get_put);
    tcase_add_test(tc, test_blob_bytes);
    tcase_add_test(tc, test_lru_eviction);
    tcase_add_test(tc, test_trim_by_blob_bytes);
    tcase_add_test(tc, test_pinned_not_evicted);
    tcase_add_test(tc, test_zero_budget);
    tcase_add_test(tc, test_drop_task);
    tcase_add_test(tc, test_many_entries);
    tcase_add_test(tc, test_keeps_newest);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(cache_suite)
