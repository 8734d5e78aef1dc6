/*
 * test_model.c - aggregates, windows, milestones and the derived scores of
 * the loyalty model, through model_apply and model_sweep only.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "model_fixture.h"
#include "state/derived.h"

START_TEST(test_first_repeat_milestone_once)
{
    struct fx f;

    fx_init(&f, "c1");
    fx_order(&f, "o1", T0, 20);
    ck_assert_uint_eq(fx_take(&f, EM_REWARD, "\"milestone\""), 0);
    /* Three orders on the second purchase day: one milestone. */
    fx_order(&f, "o2", T0 + 3 * DAY, 30);
    ck_assert_uint_eq(f.out.n, 1);
    ck_assert_ptr_nonnull(strstr(f.out.v[0].payload, "\"milestone\":2"));
    ck_assert_ptr_nonnull(strstr(f.out.v[0].payload, "first_repeat_purchase"));
    ck_assert_uint_eq(fx_take(&f, EM_REWARD, "\"milestone\":2"), 1);
    fx_order(&f, "o3", T0 + 3 * DAY + HOUR, 30);
    fx_order(&f, "o4", T0 + 3 * DAY + 2 * HOUR, 30);
    ck_assert_uint_eq(fx_take(&f, EM_REWARD, "\"milestone\""), 0);
    ck_assert_int_eq(f.c->purchase_days, 2);
    ck_assert_int_eq(f.c->milestone, 2);
    fx_free(&f);
}
END_TEST

START_TEST(test_milestone_id_deterministic)
{
    struct fx a, b;

    fx_init(&a, "c1");
    fx_init(&b, "c1");
    fx_order(&a, "o1", T0, 20);
    fx_order(&a, "o2", T0 + DAY, 20);
    fx_order(&b, "o1", T0, 20);
    fx_order(&b, "o2", T0 + DAY, 20);
    ck_assert_uint_eq(a.out.n, 1);
    ck_assert_uint_eq(b.out.n, 1);
    ck_assert_str_eq(a.out.v[0].event_id, b.out.v[0].event_id);
    ck_assert_str_eq(a.out.v[0].payload, b.out.v[0].payload);
    ck_assert_int_eq((int)strlen(a.out.v[0].event_id), 32);
    ck_assert_ptr_null(strstr(a.out.v[0].payload, "emitted_at"));
    fx_free(&a);
    fx_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_first_repeat_milestone_once);
    tcase_add_test(tc, test_milestone_id_deterministic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
