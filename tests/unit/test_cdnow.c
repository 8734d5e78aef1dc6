/*
 * test_cdnow.c - state/fit/cdnow.c: the CDNOW loaders.  Test case `loaders`:
 * the dates, empty, malformed (the error names the file and line) and small
 * files; test case `sample`: the CDNOW sample shipped in data/cdnow (read
 * through cdnow_fixture.h; LOYALTY_CDNOW_DIR overrides it), its
 * transactions against the published summary and the holdout counts against
 * the published figures (Fader, Hardie & Lee 2005).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/civil.h"
#include "state/fit/cdnow.h"
#include "state/model/bgnbd.h"
#include "tests/unit/cdnow_fixture.h"
#include "tests/unit/check_main.h"

/* Writes `content` to a fresh temporary file; the caller unlinks it. */
static void write_tmp(char *path, size_t len, const char *content)
{
    const char *dir = getenv("TMPDIR");
    FILE *fp;
    int fd;

    snprintf(path, len, "%s/test_cdnow.XXXXXX", dir ? dir : "/tmp");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fp = fdopen(fd, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    ck_assert_int_eq(fclose(fp), 0);
}

/* ---- the CDNOW sample ------------------------------------------------------ */

START_TEST(test_transactions_match_summary)
{
    size_t n, ns;
    struct bg_obs *tx = load_tx(NULL, &n);
    struct bg_obs *sum =
        load_summary("cdnow_customers_summary_with_transactions.csv", 7.0, &ns);

    ck_assert_uint_eq(n, ns);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(tx[i].x == sum[i].x, "customer %zu: x", i + 1);
        ck_assert_msg(round(tx[i].t_x * 100) == round(sum[i].t_x * 100),
                      "customer %zu: t_x", i + 1);
        ck_assert_msg(round(tx[i].T * 100) == round(sum[i].T * 100), "customer %zu: T",
                      i + 1);
        /* Half-cent means may round either way in the published file. */
        ck_assert_msg(fabs(tx[i].mvalue - sum[i].mvalue) <= 0.005 + 1e-9,
                      "customer %zu: mvalue %.4f zbar %.2f", i + 1, tx[i].mvalue,
                      sum[i].mvalue);
    }
    free(sum);
    free(tx);
}
END_TEST

START_TEST(test_holdout_zero_repeaters)
{
    struct bg_params pub;
    unsigned *hold;
    size_t n, zeros = 0;
    unsigned actual = 0;
    double predicted = 0.0;
    struct bg_obs *obs = load_tx(&hold, &n);

    bg_params_default(&pub);
    ck_assert_double_eq_tol((HOLD_END - CAL_END) / 7.0, 39.0, 1e-12);
    for (size_t i = 0; i < n; i++) {
        if (obs[i].x != 0) {
            continue;
        }
        zeros++;
        actual += hold[i];
        predicted += bg_expected_purchases(&pub, 0, 0, obs[i].T, 39.0);
    }
    ck_assert_uint_eq(zeros, 1411);
    ck_assert_uint_eq(actual, 334);
    ck_assert_double_eq_tol(predicted / (double)zeros, 0.23, 0.005);
    free(hold);
    free(obs);
}
END_TEST

/* ---- loaders -------------------------------------------------------------- */

START_TEST(test_dates)
{
    long d;

    ck_assert_int_eq(cdnow_parse_date("19970930", &d), 0);
    ck_assert_int_eq(d, 10134);
    ck_assert_int_eq(cdnow_parse_date("19970230", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("19000229", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("1997093", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("199709301", &d), -1);
    ck_assert_int_eq(cdnow_parse_date("1997-9-3", &d), -1);
}
END_TEST

START_TEST(test_loaders_empty)
{
    char path[512], err[ERRLEN] = "";
    struct bg_obs dummy, *obs = &dummy;
    size_t n = 99;

    write_tmp(path, sizeof path, "");
    ck_assert_int_eq(cdnow_load_transactions(path, CAL_END, 7, &obs, &n, err, sizeof err),
                     -1);
    ck_assert_ptr_null(obs);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err, path));
    err[0] = '\0';
    ck_assert_int_eq(cdnow_load_summary(path, 7, &obs, &n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    unlink(path);

    write_tmp(path, sizeof path, "ID,x,t_x,T,zbar\r\n");
    ck_assert_int_eq(cdnow_load_summary(path, 7, &obs, &n, err, sizeof err), -1);
    unlink(path);
    ck_assert_int_eq(
        cdnow_load_summary("/nonexistent/x.csv", 7, &obs, &n, err, sizeof err), -1);
}
END_TEST

/* Loads `content` with the given loader and expects "path:LINE: ...". */
static void expect_bad(int transactions, const char *content, int line)
{
    char path[512], err[ERRLEN] = "", want[600];
    struct bg_obs *obs;
    size_t n;
    int rc;

    write_tmp(path, sizeof path, content);
    rc = transactions
             ? cdnow_load_transactions(path, CAL_END, 7, &obs, &n, err, sizeof err)
             : cdnow_load_summary(path, 7, &obs, &n, err, sizeof err);
    unlink(path);
    snprintf(want, sizeof want, "%s:%d: ", path, line);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "want '%s...', got '%s'", want,
                  err);
}

START_TEST(test_loaders_malformed)
{
    expect_bad(1, " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970132 1 3.00\r\n",
               2);
    expect_bad(1, " 00004 0001 19970101  2\r\n", 1);
    expect_bad(1, " 00004 0001 19970101 2 29.33 7\n", 1);
    expect_bad(1, "\n\n 00004 0001 19970101 2 -1\n", 3);
    expect_bad(1, " 00004 x001 19970101 2 1\n", 1);
    expect_bad(0, "ID,frequency,recency,T\n1,2,30.43,38.86\n2,1,1.71\n", 3);
    expect_bad(0, "ID,frequency,recency,T\n1,2,40,38.86\n", 2);
    expect_bad(0, "ID,frequency,recency,T\n1,2.5,30,38.86\n", 2);
    expect_bad(0, "ID,x,t_x,T,zbar\r\n1,2,30.43,38.86,abc\r\n", 2);
    expect_bad(0, "ID,x,t_x,T,zbar\r\n1,2,30.43,38.86,1,\r\n", 2);
    expect_bad(0, "id;x;t_x;T\n1;2;3;4\n", 1);
}
END_TEST

START_TEST(test_loaders_small_files)
{
    char path[512], err[ERRLEN] = "";
    struct bg_obs *obs;
    unsigned *hold;
    size_t n;

    /* CRLF, no final newline, weeks converted to days. */
    write_tmp(path, sizeof path,
              "ID,x,t_x,T,zbar\r\n7,2,1.00,3.00,10.50\r\n\r\n8,0,0,2,0");
    ck_assert_int_eq(cdnow_load_summary(path, 1, &obs, &n, err, sizeof err), 0);
    unlink(path);
    ck_assert_uint_eq(n, 2);
    ck_assert_double_eq_tol(obs[0].t_x, 7.0, 1e-12);
    ck_assert_double_eq_tol(obs[0].T, 21.0, 1e-12);
    ck_assert_double_eq_tol(obs[0].mvalue, 10.5, 1e-12);
    ck_assert_double_eq_tol(obs[1].T, 14.0, 1e-12);
    free(obs);

    /* Unsorted input; two transactions on one day are one purchase; customer
     * 3 starts after the calibration end and is left out. */
    write_tmp(path, sizeof path,
              "1 0002 19970110 1 5.00\n"
              "1 0001 19970101 1 1.00\n"
              "1 0001 19970108 1 2.00\n"
              "1 0001 19970108 1 4.00\n"
              "1 0001 19970115 1 9.00\n"
              "1 0001 19971001 1 9.00\n"
              "1 0001 19971001 1 9.00\n"
              "1 0001 19971008 1 9.00\n"
              "3 0003 19971002 1 1.00\n");
    ck_assert_int_eq(cdnow_load_transactions_holdout(path, CAL_END, HOLD_END, 7, &obs,
                                                     &hold, &n, err, sizeof err),
                     0);
    unlink(path);
    ck_assert_uint_eq(n, 2);
    ck_assert_double_eq(obs[0].x, 2);
    ck_assert_double_eq_tol(obs[0].t_x, 2.0, 1e-12);
    ck_assert_double_eq_tol(obs[0].T, (CAL_END - civil_days_from_ymd(1997, 1, 1)) / 7.0,
                            1e-12);
    ck_assert_double_eq_tol(obs[0].mvalue, (2.0 + 4.0 + 9.0) / 2, 1e-12);
    ck_assert_uint_eq(hold[0], 2);
    ck_assert_double_eq(obs[1].x, 0);
    ck_assert_double_eq(obs[1].mvalue, 0);
    ck_assert_uint_eq(hold[1], 0);
    free(hold);
    free(obs);
}
END_TEST

static Suite *cdnow_suite(void)
{
    Suite *s = suite_create("cdnow");
    TCase *io = tcase_create("loaders");
    TCase *data = tcase_create("sample");

    tcase_add_test(io, test_dates);
    tcase_add_test(io, test_loaders_empty);
    tcase_add_test(io, test_loaders_malformed);
    tcase_add_test(io, test_loaders_small_files);
    suite_add_tcase(s, io);

    /* Reading the whole sample is slower in sanitizer builds. */
    tcase_set_timeout(data, 60);
    tcase_add_test(data, test_transactions_match_summary);
    tcase_add_test(data, test_holdout_zero_repeaters);
    suite_add_tcase(s, data);
    return s;
}

CHECK_MAIN(cdnow_suite)
