/*
 * test_array.c - base/array.c: the typed array's push, append, reserve,
 * resize, clear and free, on elements of several sizes, and as the
 * anonymous member of a struct.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "tests/unit/check_main.h"

struct big {
    char name[40];
    int64_t value;
};

/* A struct that is an array, read as b->v and b->n. */
struct bigs {
    ARRAY(struct big);
    size_t extra; /* other members beside it */
};

START_TEST(test_append_and_read)
{
    ARRAY(int) a = {0};

    for (int i = 0; i < 10000; i++) {
        ck_assert_int_eq(array_append(&a, i * 3), 0);
    }
    ck_assert_uint_eq(a.n, 10000);
    ck_assert_uint_ge(a.cap, a.n);
    for (int i = 0; i < 10000; i++) {
        ck_assert_int_eq(a.v[i], i * 3);
    }
    array_free(&a);
    ck_assert_ptr_null(a.v);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_uint_eq(a.cap, 0);
    array_free(&a); /* twice is harmless */
}
END_TEST

START_TEST(test_push_is_zeroed)
{
    struct bigs b = {0};

    for (int i = 0; i < 1000; i++) {
        struct big *e = array_push(&b);

        ck_assert_ptr_nonnull(e);
        ck_assert_ptr_eq(e, &b.v[b.n - 1]);
        ck_assert_str_eq(e->name, "");
        ck_assert_int_eq(e->value, 0);
        e->value = i;
        memset(e->name, 'x', sizeof(e->name) - 1);
    }
    ck_assert_uint_eq(b.n, 1000);
    for (size_t i = 0; i < b.n; i++) {
        ck_assert_int_eq(b.v[i].value, (int64_t)i);
        ck_assert_uint_eq(strlen(b.v[i].name), sizeof(b.v[i].name) - 1);
    }
    ck_assert_uint_eq(b.extra, 0);
    array_free(&b);
}
END_TEST

START_TEST(test_append_struct_and_pointer)
{
    struct bigs b = {0};
    ARRAY(const char *) names = {0};
    struct big one = {"one", 1};

    ck_assert_int_eq(array_append(&b, one), 0);
    ck_assert_int_eq(array_append(&b, ((struct big){"two", 2})), 0);
    ck_assert_str_eq(b.v[1].name, "two");
    ck_assert_int_eq(b.v[0].value, 1);
    ck_assert_int_eq(array_append(&names, "a"), 0);
    ck_assert_int_eq(array_append(&names, "b"), 0);
    ck_assert_str_eq(names.v[1], "b");
    array_free(&b);
    array_free(&names);
}
END_TEST

START_TEST(test_reserve_clear)
{
    ARRAY(double) a = {0};
    double *v;

    ck_assert_int_eq(array_reserve(&a, 0), 0);
    ck_assert_ptr_null(a.v);
    ck_assert_int_eq(array_reserve(&a, 1000), 0);
    ck_assert_uint_ge(a.cap, 1000);
    ck_assert_uint_eq(a.n, 0);
    v = a.v;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(array_append(&a, i / 2.0), 0);
    }
    ck_assert_ptr_eq(a.v, v); /* reserved: nothing moved */
    array_clear(&a);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_ptr_eq(a.v, v);
    ck_assert_int_eq(array_append(&a, 7.5), 0);
    ck_assert(a.v[0] == 7.5);
    array_free(&a);
}
END_TEST

START_TEST(test_resize)
{
    ARRAY(int *) a = {0};
    int x = 1;

    ck_assert_int_eq(array_resize(&a, 5), 0);
    ck_assert_uint_eq(a.n, 5);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_ptr_null(a.v[i]);
    }
    a.v[4] = &x;
    ck_assert_int_eq(array_resize(&a, 2), 0);
    ck_assert_uint_eq(a.n, 2);
    ck_assert_int_eq(array_resize(&a, 40), 0); /* what grows back is zeroed */
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_ptr_null(a.v[i]);
    }
    ck_assert_int_eq(array_resize(&a, 0), 0);
    ck_assert_uint_eq(a.n, 0);
    array_free(&a);
}
END_TEST

/* More than memory: refused, the array unchanged. */
START_TEST(test_too_large)
{
    struct bigs b = {0};

    ck_assert_ptr_nonnull(array_push(&b));
    ck_assert_int_eq(array_reserve(&b, SIZE_MAX / 2), -1);
    ck_assert_int_eq(array_resize(&b, SIZE_MAX / 8), -1);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_ptr_nonnull(b.v);
    array_free(&b);
}
END_TEST

static Suite *array_suite(void)
{
    Suite *s = suite_create("array");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_append_and_read);
    tcase_add_test(tc, test_push_is_zeroed);
    tcase_add_test(tc, test_append_struct_and_pointer);
    tcase_add_test(tc, test_reserve_clear);
    tcase_add_test(tc, test_resize);
    tcase_add_test(tc, test_too_large);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(array_suite)
