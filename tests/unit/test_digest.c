/*
 * test_digest.c - base/digest.c against published SHA-256 values, and the
 * derived events' ids built on it.
 */
#include <check.h>
#include <string.h>

#include "base/digest.h"
#include "state/model/derived.h"
#include "tests/unit/check_main.h"

/* FIPS 180-2 examples, first 16 bytes. */
START_TEST(test_known_vectors)
{
    const char *abc[] = {"abc"}, *empty[] = {""};
    const char *long_msg[] = {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    char out[33];

    ck_assert_int_eq(digest_id128(abc, 1, out), 0);
    ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223");
    ck_assert_int_eq(digest_id128(empty, 1, out), 0);
    ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb924");
    ck_assert_int_eq(digest_id128(long_msg, 1, out), 0);
    ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039");
}
END_TEST

/* Parts are joined by one NUL each: "a" "bc" is not "ab" "c". */
START_TEST(test_parts_are_separated)
{
    const char *x[] = {"a", "bc"}, *y[] = {"ab", "c"}, *abc[] = {"abc"};
    char ox[33], oy[33], oabc[33];

    ck_assert_int_eq(digest_id128(x, 2, ox), 0);
    ck_assert_int_eq(digest_id128(y, 2, oy), 0);
    ck_assert_int_eq(digest_id128(abc, 1, oabc), 0);
    ck_assert_str_ne(ox, oy);
    ck_assert_str_ne(ox, oabc);
    ck_assert_uint_eq(strlen(ox), 32);
}
END_TEST

/* The id of a derived event: SHA-256 of customer NUL kind NUL cause (the
 * value from Python's hashlib, as the integration tests compute it). */
START_TEST(test_derived_id)
{
    char id[33];

    ck_assert_int_eq(derived_id("cust-1", "reward-trigger", "milestone:3", id), 0);
    ck_assert_str_eq(id, "f07195af37d4c81989c4ec2fa5ccbf22");
}
END_TEST

static Suite *digest_suite(void)
{
    Suite *s = suite_create("digest");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_known_vectors);
    tcase_add_test(tc, test_parts_are_separated);
    tcase_add_test(tc, test_derived_id);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(digest_suite)
