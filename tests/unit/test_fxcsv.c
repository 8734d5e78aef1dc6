/*
 * test_fxcsv.c - base/fxcsv.c: the ECB's reference-rate CSV and the plain
 * date,currency,rate CSV read into quotes, what they tolerate, and every
 * refusal with its line.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "base/fx.h"
#include "base/fxcsv.h"
#include "tests/unit/check_main.h"

static struct fx_quotes quotes;
static struct fxcsv_report rep;
static char err[512];

static int parse(const char *text, enum fxcsv_format fmt, const char *base)
{
    err[0] = '\0';
    return fxcsv_parse(text, strlen(text), "rates.csv", fmt, base, &quotes, &rep, err,
                       sizeof(err));
}

static void teardown(void)
{
    fx_quotes_free(&quotes);
}

/* Quote i is code on day at rate (as printed) from line. */
static void expect_quote(size_t i, const char *code, const char *day, const char *rate,
                         unsigned line)
{
    char d[FX_DAY_TEXT], r[FX_RATE_TEXT_MAX];
    const struct fx_quote *q;

    ck_assert_uint_lt(i, quotes.q.n);
    q = &quotes.q.v[i];
    fx_day_format(q->day, d);
    fx_rate_format(&q->rate, r, sizeof(r));
    ck_assert_msg(strcmp(q->code, code) == 0 && strcmp(d, day) == 0 &&
                      strcmp(r, rate) == 0 && q->line == line,
                  "quote %zu: %s %s %s line %u", i, q->code, d, r, q->line);
}

/* The text is refused with exactly this message, and leaves no quote. */
static void expect_refused(const char *text, enum fxcsv_format fmt, const char *base,
                           const char *message)
{
    ck_assert_msg(parse(text, fmt, base) == -1, "accepted: %s", text);
    ck_assert_msg(strcmp(err, message) == 0, "\n got: %s\nwant: %s", err, message);
    ck_assert_uint_eq(quotes.q.n, 0);
}

/* ---- ecb ---- */

START_TEST(test_ecb_sample)
{
    const char *text = "Date,USD,JPY,GBP,\n"
                       "2024-01-08,1.0946,158.28,0.85903,\n"
                       "2024-01-05,1.0921,158.41,0.86035,\n"
                       "2024-01-02,1.0956,155.52,0.86645,\n";

    ck_assert_int_eq(parse(text, FXCSV_ECB, "EUR"), 0);
    ck_assert_str_eq(quotes.base, "EUR");
    ck_assert_uint_eq(quotes.q.n, 9);
    /* by currency, then day */
    expect_quote(0, "GBP", "2024-01-02", "0.86645", 4);
    expect_quote(2, "GBP", "2024-01-08", "0.85903", 2);
    expect_quote(3, "JPY", "2024-01-02", "155.52", 4);
    expect_quote(7, "USD", "2024-01-05", "1.0921", 3);
    expect_quote(8, "USD", "2024-01-08", "1.0946", 2);
    ck_assert_int_eq(rep.format, FXCSV_ECB);
    ck_assert_uint_eq(rep.rows, 3);
    ck_assert_uint_eq(rep.missing, 0);
    ck_assert_uint_eq(rep.withdrawn, 0);
    {
        char d[FX_DAY_TEXT];

        fx_day_format(rep.first_day, d);
        ck_assert_str_eq(d, "2024-01-02");
        fx_day_format(rep.last_day, d);
        ck_assert_str_eq(d, "2024-01-08");
    }
    /* the same, recognised */
    ck_assert_int_eq(parse(text, FXCSV_AUTO, "EUR"), 0);
    ck_assert_int_eq(rep.format, FXCSV_ECB);
    ck_assert_uint_eq(quotes.q.n, 9);
}
END_TEST

START_TEST(test_ecb_tolerated)
{
    /* a byte-order mark, CRLF, the daily file's spaces after commas, quotes,
     * N/A and empty values, blank lines, no trailing comma, a withdrawn
     * currency's column, the base's own column at 1, a day repeated alike */
    const char *text = "\xef\xbb\xbf"
                       "Date, USD, CYP, JPY, EUR, GBP\r\n"
                       "\r\n"
                       "2024-01-05, 1.0921, N/A, \"158.41\", 1, 0.86035,\r\n"
                       "2024-01-04,1.0953,n/a,,1.0000,N/A\r\n"
                       "   \r\n"
                       "2024-01-05,1.0921,N/A,158.41,,\r\n";

    ck_assert_int_eq(parse(text, FXCSV_AUTO, "EUR"), 0);
    ck_assert_uint_eq(quotes.q.n, 4);
    expect_quote(0, "GBP", "2024-01-05", "0.86035", 3);
    expect_quote(1, "JPY", "2024-01-05", "158.41", 3);
    expect_quote(2, "USD", "2024-01-04", "1.0953", 4);
    expect_quote(3, "USD", "2024-01-05", "1.0921", 3);
    ck_assert_uint_eq(rep.rows, 3);
    ck_assert_uint_eq(rep.missing, 4); /* JPY "", GBP N/A; EUR "", GBP "" (CYP's not) */
    ck_assert_uint_eq(rep.repeated, 2);
    ck_assert_uint_eq(rep.withdrawn, 1);
    ck_assert_str_eq(rep.withdrawn_codes, "CYP");
}
END_TEST

START_TEST(test_ecb_other_base)
{
    const char *text = "Date,EUR,JPY,\n2024-01-05,0.9157,145.05,\n";

    ck_assert_int_eq(parse(text, FXCSV_ECB, "USD"), 0);
    ck_assert_str_eq(quotes.base, "USD");
    expect_quote(0, "EUR", "2024-01-05", "0.9157", 2);
    expect_quote(1, "JPY", "2024-01-05", "145.05", 2);
}
END_TEST

START_TEST(test_ecb_refusals)
{
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"", "rates.csv: empty: no header"},
        {"\n  \n", "rates.csv: empty: no header"},
        {"Day,USD\n2024-01-05,1.09\n",
         "rates.csv:1: the header must start with Date, then the currencies (the ECB's "
         "layout)"},
        {"Date,\n2024-01-05,1.09\n", "rates.csv:1: the header names no currency"},
        {"Date,USD,XYZ,\n", "rates.csv:1: unknown currency code 'XYZ' (not an active ISO "
                            "4217 code)"},
        {"Date,USD,usd,\n", "rates.csv:1: 'usd' is not a currency code (three upper-case "
                            "letters)"},
        {"Date,USD,,JPY\n", "rates.csv:1: column 3 of the header names no currency"},
        {"Date,USD,JPY,USD,\n",
         "rates.csv:1: USD is named twice in the header (columns 2 and 4)"},
        {"Date,USD,JPY,\n", "rates.csv: no rates: a header and nothing else"},
        {"Date,USD,JPY,\n2024-01-05,N/A,,\n",
         "rates.csv: no rates: every value is N/A or empty"},
        {"Date,USD,JPY,\n2024-01-05,1.0921,158.41,\n2024-13-01,1.0921,158.41,\n",
         "rates.csv:3: '2024-13-01' is not a date (YYYY-MM-DD)"},
        {"Date,USD\n\n05 January 2024,1.0921\n",
         "rates.csv:3: '05 January 2024' is not a date (YYYY-MM-DD)"},
        {"Date,USD,JPY\n2024-01-05,1.0921,0.000\n",
         "rates.csv:2: JPY: '0.000' is not a rate: zero"},
        {"Date,USD,JPY\n2024-01-05,-1.0921,158.41\n",
         "rates.csv:2: USD: '-1.0921' is not a rate: negative"},
        {"Date,USD,JPY\n2024-01-05,1.0921,abc\n",
         "rates.csv:2: JPY: 'abc' is not a rate: not a plain decimal number"},
        {"Date,USD,JPY\n2024-01-05,1.0921,inf\n",
         "rates.csv:2: JPY: 'inf' is not a rate: not a plain decimal number"},
        {"Date,USD,JPY\n2024-01-05,1.0921,1.5841e2\n",
         "rates.csv:2: JPY: '1.5841e2' is not a rate: not a plain decimal number"},
        {"Date,USD\n2024-01-05,1.08230000000000003970\n",
         "rates.csv:2: USD: '1.08230000000000003970' is not a rate: more than 15 digits "
         "after the point"},
        {"Date,USD\n2024-01-05,1234567890123456\n",
         "rates.csv:2: USD: '1234567890123456' is not a rate: more than 15 significant "
         "digits"},
        {"Date,USD,JPY,GBP,\n2024-01-05,1.0921,158.41\n",
         "rates.csv:2: 2 values, the header names 3 currencies"},
        {"Date,USD,JPY,\n2024-01-05,1.0921,158.41,0.86,\n",
         "rates.csv:2: 3 values, the header names 2 currencies"},
        {"Date,USD,EUR,\n2024-01-05,1.0921,1.1,\n",
         "rates.csv:2: EUR is the base: its rate is 1, not '1.1'"},
        {"Date,USD,JPY,\n2024-01-05,1.0921,158.41,\n2024-01-04,1.0953,157.81,\n"
         "2024-01-05,1.0921,158.42,\n",
         "rates.csv:4: JPY on 2024-01-05 is 158.42 here and 158.41 on line 2"},
        /* the first bad line wins, whatever comes after */
        {"Date,USD\n2024-01-05,x\n2024-99-01,y\n",
         "rates.csv:2: USD: 'x' is not a rate: not a plain decimal number"},
        /* what is shown of a long or binary field is bounded */
        {"Date,USD\n2024-01-05,1.09\x01\xff\n",
         "rates.csv:2: USD: '1.09?\?' is not a rate: not a plain decimal number"},
        {"Date,USD\n2024-01-05,123456789012345678901234567890\n",
         "rates.csv:2: USD: '123456789012345678901234...' is not a rate: more than 15 "
         "significant digits"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused(bad[i].text, FXCSV_ECB, "EUR", bad[i].message);
    }
    expect_refused("Date,USD\n2024-01-05,1.09\n", FXCSV_ECB, "XYZ",
                   "rates.csv: the base 'XYZ' is not an active ISO 4217 code");
}
END_TEST

/* ---- plain ---- */

START_TEST(test_plain)
{
    const char *text = "date,currency,rate\n"
                       "2024-01-05,EUR,0.9157\n"
                       "2024-01-05,JPY,145.05,\n"
                       "2024-01-05,USD,1\n" /* the base itself */
                       "\n"
                       " 2024-01-04 , EUR , 0.913 \n"
                       "2024-01-05,EUR,0.91570\n"; /* the same again */

    ck_assert_int_eq(parse(text, FXCSV_AUTO, "USD"), 0);
    ck_assert_int_eq(rep.format, FXCSV_PLAIN);
    ck_assert_str_eq(quotes.base, "USD");
    ck_assert_uint_eq(quotes.q.n, 3);
    expect_quote(0, "EUR", "2024-01-04", "0.913", 6);
    expect_quote(1, "EUR", "2024-01-05", "0.9157", 2);
    expect_quote(2, "JPY", "2024-01-05", "145.05", 3);
    ck_assert_uint_eq(rep.rows, 5);
    ck_assert_uint_eq(rep.repeated, 1);
    /* the header in any case, CRLF */
    ck_assert_int_eq(
        parse("Date,Currency,Rate\r\n2024-01-05,GBP,0.86035\r\n", FXCSV_PLAIN, "EUR"), 0);
    expect_quote(0, "GBP", "2024-01-05", "0.86035", 2);
}
END_TEST

START_TEST(test_plain_refusals)
{
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"2024-01-05,USD,1.0921\n", "rates.csv:1: the header must be date,currency,rate"},
        {"date,currency\n2024-01-05,USD\n",
         "rates.csv:1: the header must be date,currency,rate"},
        {"date,currency,rate\n", "rates.csv: no rates: a header and nothing else"},
        {"date,currency,rate\n2024-01-05,USD,1.0921\n2024-01-05,JPY\n",
         "rates.csv:3: 2 fields, 3 wanted (date,currency,rate)"},
        {"date,currency,rate\n2024-01-05,USD,1.0921,x\n",
         "rates.csv:2: 4 fields, 3 wanted (date,currency,rate)"},
        {"date,currency,rate\n2024-01-05,USD,\n",
         "rates.csv:2: 2 fields, 3 wanted (date,currency,rate)"},
        {"date,currency,rate\n2024-01-05,,1.0921\n",
         "rates.csv:2: '' is not a currency code (three upper-case letters)"},
        {"date,currency,rate\n2024-01-05,ABC,1.0921\n",
         "rates.csv:2: unknown currency code 'ABC' (not an active ISO 4217 code)"},
        {"date,currency,rate\n2024-01-05,CYP,0.58\n",
         "rates.csv:2: unknown currency code 'CYP' (not an active ISO 4217 code)"},
        {"date,currency,rate\n2024-01-05,US Dollar,1.0921\n",
         "rates.csv:2: 'US Dollar' is not a currency code (three upper-case letters)"},
        {"date,currency,rate\n2024-1-5,USD,1.0921\n",
         "rates.csv:2: '2024-1-5' is not a date (YYYY-MM-DD)"},
        {"date,currency,rate\n2024-02-30,USD,1.0921\n",
         "rates.csv:2: '2024-02-30' is not a date (YYYY-MM-DD)"},
        {"date,currency,rate\n2024-01-05,USD,0\n",
         "rates.csv:2: USD: '0' is not a rate: zero"},
        {"date,currency,rate\n2024-01-05,USD,-0.5\n",
         "rates.csv:2: USD: '-0.5' is not a rate: negative"},
        {"date,currency,rate\n2024-01-05,USD,NaN\n",
         "rates.csv:2: USD: 'NaN' is not a rate: not a plain decimal number"},
        {"date,currency,rate\n2024-01-05,USD,N/A\n",
         "rates.csv:2: USD: 'N/A' is not a rate: not a plain decimal number"},
        {"date,currency,rate\n2024-01-05,EUR,1.0001\n",
         "rates.csv:2: EUR is the base: its rate is 1, not '1.0001'"},
        {"date,currency,rate\n2024-01-05,USD,1.0921\n2024-01-06,USD,1.0921\n"
         "2024-01-05,USD,1.0925\n",
         "rates.csv:4: USD on 2024-01-05 is 1.0925 here and 1.0921 on line 2"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_refused(bad[i].text, FXCSV_PLAIN, "EUR", bad[i].message);
    }
    /* forced to ecb, a plain file's header is refused there */
    expect_refused("date,currency,rate\n2024-01-05,USD,1.0921\n", FXCSV_ECB, "EUR",
                   "rates.csv:1: 'currency' is not a currency code (three upper-case "
                   "letters)");
}
END_TEST

START_TEST(test_refusal_leaves_nothing)
{
    /* quotes from an earlier file are gone after a refused one */
    ck_assert_int_eq(
        parse("date,currency,rate\n2024-01-05,USD,1.0921\n", FXCSV_AUTO, "EUR"), 0);
    ck_assert_uint_eq(quotes.q.n, 1);
    ck_assert_int_eq(
        parse("date,currency,rate\n2024-01-05,USD,1.0921\n2024-01-06,USD,x\n", FXCSV_AUTO,
              "EUR"),
        -1);
    ck_assert_uint_eq(quotes.q.n, 0);
}
END_TEST

START_TEST(test_format_names)
{
    ck_assert_int_eq(fxcsv_format_parse("ecb"), FXCSV_ECB);
    ck_assert_int_eq(fxcsv_format_parse("plain"), FXCSV_PLAIN);
    ck_assert_int_eq(fxcsv_format_parse("auto"), FXCSV_AUTO);
    ck_assert_int_eq(fxcsv_format_parse("csv"), -1);
    ck_assert_str_eq(fxcsv_format_name(FXCSV_ECB), "ecb");
    ck_assert_str_eq(fxcsv_format_name(FXCSV_PLAIN), "plain");
}
END_TEST

static Suite *fxcsv_suite(void)
{
    Suite *s = suite_create("fxcsv");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_ecb_sample);
    tcase_add_test(tc, test_ecb_tolerated);
    tcase_add_test(tc, test_ecb_other_base);
    tcase_add_test(tc, test_ecb_refusals);
    tcase_add_test(tc, test_plain);
    tcase_add_test(tc, test_plain_refusals);
    tcase_add_test(tc, test_refusal_leaves_nothing);
    tcase_add_test(tc, test_format_names);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(fxcsv_suite)
