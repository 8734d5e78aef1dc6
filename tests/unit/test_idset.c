/*
 * test_idset.c - consumers/idset.c: membership through growth and removal.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "consumers/idset.h"
#include "tests/unit/check_main.h"

static void id_of(unsigned n, char out[33])
{
    /* Ids that differ only in the high half collide in the low bits. */
    snprintf(out, 33, "%016x%016x", n * 2654435761u, n % 3);
}

START_TEST(test_add_contains_remove)
{
    struct idset *s = idset_new();
    char id[33];

    id_of(1, id);
    ck_assert_int_eq(idset_contains(s, id), 0);
    ck_assert_int_eq(idset_add(s, id), 1);
    ck_assert_int_eq(idset_add(s, id), 0);
    ck_assert_int_eq(idset_contains(s, id), 1);
    ck_assert_uint_eq(idset_size(s), 1);
    idset_remove(s, id);
    ck_assert_int_eq(idset_contains(s, id), 0);
    ck_assert_uint_eq(idset_size(s), 0);
    idset_free(s);
}
END_TEST

START_TEST(test_many_with_churn)
{
    struct idset *s = idset_new();
    char id[33];

    for (unsigned i = 0; i < 5000; i++) {
        id_of(i, id);
        ck_assert_int_eq(idset_add(s, id), 1);
        if (i >= 100) { /* keep about 100 in flight, like deliveries do */
            id_of(i - 100, id);
            idset_remove(s, id);
        }
    }
    ck_assert_uint_eq(idset_size(s), 100);
    for (unsigned i = 0; i < 5000; i++) {
        id_of(i, id);
        ck_assert_int_eq(idset_contains(s, id), i >= 4900);
    }
    idset_free(s);
}
END_TEST

START_TEST(test_rejects_malformed)
{
    struct idset *s = idset_new();

    ck_assert_int_eq(idset_add(s, "abc"), -1);
    ck_assert_int_eq(idset_add(s, "zz000000000000000000000000000000"), -1);
    ck_assert_int_eq(idset_add(s, "000000000000000000000000000000001"), -1);
    ck_assert_uint_eq(idset_size(s), 0);
    idset_free(s);
}
END_TEST

static Suite *idset_suite(void)
{
    Suite *su = suite_create("idset");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_add_contains_remove);
    tcase_add_test(tc, test_many_with_churn);
    tcase_add_test(tc, test_rejects_malformed);
    suite_add_tcase(su, tc);
    return su;
}

CHECK_MAIN(idset_suite)
