/*
 * test_strbuf.c - base/strbuf.c: appends of every kind against snprintf,
 * growth past many reallocations, reset, detach, the copy into a fixed
 * buffer, and a failure that sticks.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "tests/unit/check_main.h"

START_TEST(test_appends)
{
    struct strbuf b = {0};

    strbuf_puts(&b, "abc");
    strbuf_putc(&b, '-');
    strbuf_append(&b, "xyz!", 3);
    strbuf_printf(&b, "|%d|%s|%.2f", 42, "s", 1.5);
    strbuf_printf(&b, "%s", "");
    ck_assert_str_eq(strbuf_str(&b), "abc-xyz|42|s|1.50");
    ck_assert_uint_eq(b.len, strlen("abc-xyz|42|s|1.50"));
    ck_assert_int_eq(b.failed, 0);
    strbuf_free(&b);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

/* Every size from 0 up, so that each format lands at every distance from the
 * end of the allocation, against what snprintf writes. */
START_TEST(test_growth_matches_snprintf)
{
    struct strbuf b = {0};
    char *want = malloc(200000), piece[600];
    size_t wlen = 0;

    ck_assert_ptr_nonnull(want);
    for (int i = 0; wlen < 150000; i++) {
        int n;

        memset(piece, 'a' + i % 26, (size_t)(i % 500));
        piece[i % 500] = '\0';
        n = snprintf(want + wlen, 200000 - wlen, "[%d:%s]", i, piece);
        wlen += (size_t)n;
        strbuf_printf(&b, "[%d:%s]", i, piece);
        ck_assert_uint_eq(b.len, wlen);
    }
    ck_assert_int_eq(b.failed, 0);
    ck_assert_int_eq(memcmp(b.s, want, wlen + 1), 0);
    strbuf_free(&b);
    free(want);
}
END_TEST

START_TEST(test_reset_keeps_memory)
{
    struct strbuf b = {0};
    char *s;
    size_t cap;

    for (int i = 0; i < 100; i++) {
        strbuf_printf(&b, "line %d\n", i);
    }
    s = b.s;
    cap = b.cap;
    strbuf_reset(&b);
    ck_assert_str_eq(strbuf_str(&b), "");
    ck_assert_ptr_eq(b.s, s);
    ck_assert_uint_eq(b.cap, cap);
    strbuf_puts(&b, "again");
    ck_assert_str_eq(strbuf_str(&b), "again");
    ck_assert_ptr_eq(b.s, s);
    strbuf_free(&b);
}
END_TEST

START_TEST(test_detach)
{
    struct strbuf b = {0};
    char *s = strbuf_detach(&b);

    ck_assert_str_eq(s, ""); /* an empty text is a text too */
    free(s);
    ck_assert_str_eq(strbuf_str(&b), "");
    strbuf_puts(&b, "owned by the caller");
    s = strbuf_detach(&b);
    ck_assert_str_eq(s, "owned by the caller");
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    strbuf_puts(&b, "x"); /* the buffer is empty and ready again */
    ck_assert_str_eq(strbuf_str(&b), "x");
    strbuf_free(&b);
    strbuf_free(NULL);
    free(s);
}
END_TEST

/* A failure sticks: later appends do nothing, the text stays as it was,
 * detach gives NULL and leaves the buffer empty and ready; so does reset. */
START_TEST(test_failure_sticks)
{
    struct strbuf b = {0};

    strbuf_puts(&b, "kept");
    b.failed = 1;
    strbuf_puts(&b, "dropped");
    strbuf_printf(&b, "%d", 7);
    strbuf_putc(&b, '!');
    ck_assert_str_eq(strbuf_str(&b), "kept");
    ck_assert_ptr_null(strbuf_detach(&b));
    ck_assert_ptr_null(b.s);
    strbuf_puts(&b, "x");
    ck_assert_str_eq(strbuf_str(&b), "x");
    b.failed = 1;
    strbuf_reset(&b);
    strbuf_puts(&b, "fresh");
    ck_assert_str_eq(strbuf_str(&b), "fresh");
    strbuf_free(&b);
}
END_TEST

/* An allocation larger than memory fails cleanly. */
START_TEST(test_huge_append_fails)
{
    struct strbuf b = {0};

    strbuf_puts(&b, "before");
    strbuf_append(&b, "", SIZE_MAX - 2);
    ck_assert_int_eq(b.failed, 1);
    ck_assert_str_eq(strbuf_str(&b), "before");
    strbuf_free(&b);
}
END_TEST

START_TEST(test_copy)
{
    struct strbuf b = {0};
    char buf[16];

    memset(buf, 'x', sizeof(buf));
    ck_assert_int_eq(strbuf_copy(&b, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
    strbuf_puts(&b, "0123456789");
    ck_assert_int_eq(strbuf_copy(&b, buf, sizeof(buf)), 10);
    ck_assert_str_eq(buf, "0123456789");
    ck_assert_int_eq(strbuf_copy(&b, buf, 11), 10); /* exactly with its NUL */
    ck_assert_str_eq(buf, "0123456789");
    ck_assert_int_eq(strbuf_copy(&b, buf, 10), -1); /* one short */
    ck_assert_str_eq(buf, "012345678");
    ck_assert_int_eq(strbuf_copy(&b, buf, 0), -1);
    b.failed = 1;
    ck_assert_int_eq(strbuf_copy(&b, buf, sizeof(buf)), -1);
    strbuf_free(&b);
}
END_TEST

static Suite *strbuf_suite(void)
{
    Suite *s = suite_create("strbuf");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_appends);
    tcase_add_test(tc, test_growth_matches_snprintf);
    tcase_add_test(tc, test_reset_keeps_memory);
    tcase_add_test(tc, test_detach);
    tcase_add_test(tc, test_failure_sticks);
    tcase_add_test(tc, test_huge_append_fails);
    tcase_add_test(tc, test_copy);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(strbuf_suite)
