/*
 * test_sentset.c - consumers/sentset.c: exactly the last `cap` distinct ids
 * added are found, with ids that crowd one part of the index too.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/sentset.h"
#include "tests/unit/check_main.h"

#define IDS 100

/* id i as 32 hex digits; with crowd, ids share their low 16 bits in groups
 * of 8, so they land on the same index slots. */
static void make_id(unsigned i, int crowd, char out[33])
{
    unsigned long long hi = 0x9e3779b97f4a7c15ULL * (i + 1), lo = hi ^ (hi >> 29);

    if (crowd) {
        lo = (lo & ~0xffffULL) | ((i / 8) & 0xffffULL);
    }
    snprintf(out, 33, "%016llx%016llx", hi, lo);
}

/* After every add, membership equals that of a plain FIFO of the last cap
 * distinct ids (the reference). */
START_TEST(test_fifo_exact)
{
    const int crowd = _i;
    static char ids[IDS][33];
    int window[IDS], nwin = 0;
    struct sentset *s = sentset_new(16);
    unsigned seed = 7;

    ck_assert_ptr_nonnull(s);
    for (unsigned i = 0; i < IDS; i++) {
        make_id(i, crowd, ids[i]);
    }
    for (int step = 0; step < 1000; step++) {
        int pick = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 40 + step / 8;
        int present = 0;

        if (pick >= IDS) {
            pick %= IDS;
        }
        for (int j = 0; j < nwin; j++) {
            present |= window[j] == pick;
        }
        sentset_add(s, ids[pick]);
        if (!present) {
            if (nwin == 16) {
                memmove(window, window + 1, --nwin * sizeof(*window));
            }
            window[nwin++] = pick;
        }
        ck_assert_uint_eq(sentset_count(s), (size_t)nwin);
        for (int id = 0; id < IDS; id++) {
            int want = 0;

            for (int j = 0; j < nwin; j++) {
                want |= window[j] == id;
            }
            ck_assert_msg(sentset_has(s, ids[id]) == want, "step %d id %d: want %d", step,
                          id, want);
        }
    }
    sentset_free(s);
}
END_TEST

/* Only event ids count: other text is neither added nor found. */
START_TEST(test_only_ids)
{
    struct sentset *s = sentset_new(4);

    sentset_add(s, "not-an-id");
    sentset_add(s, "0123456789abcdef0123456789abcdeF");
    sentset_add(s, "0123456789abcdef0123456789abcdef0");
    ck_assert_uint_eq(sentset_count(s), 0);
    sentset_add(s, "0123456789abcdef0123456789abcdef");
    ck_assert(sentset_has(s, "0123456789abcdef0123456789abcdef"));
    ck_assert(!sentset_has(s, "0123456789abcdef0123456789abcde"));
    ck_assert(!sentset_has(NULL, "0123456789abcdef0123456789abcdef"));
    sentset_free(s);
    sentset_free(NULL);
}
END_TEST

static Suite *sentset_suite(void)
{
    Suite *s = suite_create("sentset");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_fifo_exact, 0, 2);
    tcase_add_test(tc, test_only_ids);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(sentset_suite)
