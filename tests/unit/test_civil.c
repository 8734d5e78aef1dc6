/*
 * test_civil.c - base/civil.c: epoch days of civil dates and back, RFC 3339
 * formatting (against the C library's gmtime_r) and parsing.
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/civil.h"
#include "tests/unit/check_main.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- civil dates ---------------------------------------------------------- */

START_TEST(test_days_from_ymd)
{
    ck_assert_int_eq(civil_days_from_ymd(1970, 1, 1), 0);
    ck_assert_int_eq(civil_days_from_ymd(1969, 12, 31), -1);
    ck_assert_int_eq(civil_days_from_ymd(1997, 9, 30), 10134);
    ck_assert_int_eq(civil_days_from_ymd(2000, 2, 29), 11016);
    ck_assert_int_eq(civil_days_from_ymd(2024, 1, 1), 19723);
    ck_assert_int_eq(civil_days_from_ymd(1600, 3, 1), -135080);
    ck_assert_int_eq(civil_days_from_ymd(0, 3, 1), -719468);
}
END_TEST

START_TEST(test_month_lengths)
{
    ck_assert_int_eq(civil_is_leap(2024), 1);
    ck_assert_int_eq(civil_is_leap(2023), 0);
    ck_assert_int_eq(civil_is_leap(1900), 0);
    ck_assert_int_eq(civil_is_leap(2000), 1);
    ck_assert_int_eq(civil_days_in_month(2024, 2), 29);
    ck_assert_int_eq(civil_days_in_month(1900, 2), 28);
    ck_assert_int_eq(civil_days_in_month(2023, 4), 30);
    ck_assert_int_eq(civil_days_in_month(2023, 12), 31);
}
END_TEST

/* Every day from 1600 to 2500 goes to its date and back, one after the
 * other: the dates run through each month's days in order. */
START_TEST(test_days_round_trip)
{
    int64_t from = civil_days_from_ymd(1600, 1, 1), to = civil_days_from_ymd(2500, 1, 1);
    int64_t year = 1599, y;
    int month = 12, day = 31, m, d;

    for (int64_t n = from; n < to; n++) {
        civil_ymd_from_days(n, &y, &m, &d);
        if (day < civil_days_in_month(year, month)) {
            day++;
        } else if (month < 12) {
            month++;
            day = 1;
        } else {
            year++;
            month = day = 1;
        }
        ck_assert_msg(y == year && m == month && d == day,
                      "day %" PRId64 ": %" PRId64 "-%d-%d, want %" PRId64 "-%d-%d", n, y,
                      m, d, year, month, day);
        ck_assert_int_eq(civil_days_from_ymd(y, m, d), n);
    }
}
END_TEST

/* ---- civil_rfc3339_format --------------------------------------------------- */

static void gmtime_text(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms / 1000;
    int msec = (int)(ms % 1000);
    time_t t;
    struct tm tm;

    if (msec < 0) {
        msec += 1000;
        secs--;
    }
    t = (time_t)secs;
    ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
}

START_TEST(test_format_known)
{
    char buf[CIVIL_RFC3339_MAX];

    ck_assert_int_eq(civil_rfc3339_format(0, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    ck_assert_int_eq(civil_rfc3339_format(-1, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    ck_assert_int_eq(civil_rfc3339_format(1714564800123LL, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "2024-05-01T12:00:00.123Z");
    ck_assert_int_eq(civil_rfc3339_format(253402300799999LL, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
}
END_TEST

/* The text gmtime_r gives, for instants spread over 1600..2500 (negative
 * ones included) and around the day's and the year's edges. */
START_TEST(test_format_as_gmtime)
{
    const int64_t lo = -11676096000000LL, hi = 16725225600000LL; /* 1600, 2500 */
    const int64_t edges[] = {0,
                             -1,
                             1,
                             999,
                             -999,
                             1000,
                             -1000,
                             86399999,
                             86400000,
                             -86400000,
                             -86400001,
                             951782400000LL,
                             951868799999LL,
                             1483228799999LL,
                             1483228800000LL};
    char got[CIVIL_RFC3339_MAX], want[64];
    uint64_t x = 88172645463325252ULL;

    for (int i = 0; i < N_OF(edges); i++) {
        ck_assert_int_eq(civil_rfc3339_format(edges[i], got, sizeof(got)), 0);
        gmtime_text(edges[i], want, sizeof(want));
        ck_assert_str_eq(got, want);
    }
    for (int i = 0; i < 200000; i++) {
        int64_t ms;

        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        ms = lo + (int64_t)(x % (uint64_t)(hi - lo));
        ck_assert_int_eq(civil_rfc3339_format(ms, got, sizeof(got)), 0);
        gmtime_text(ms, want, sizeof(want));
        ck_assert_msg(strcmp(got, want) == 0, "%" PRId64 ": %s, want %s", ms, got, want);
    }
}
END_TEST

START_TEST(test_format_small_buffer)
{
    char buf[25]; /* 24 characters and the NUL */

    ck_assert_int_eq(civil_rfc3339_format(0, buf, sizeof(buf) - 1), -1);
    ck_assert_int_eq(civil_rfc3339_format(0, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}
END_TEST

/* Formatting, then parsing, gives the instant back. */
START_TEST(test_format_parse_round_trip)
{
    const int64_t v[] = {
        1, 999, 86400000, 1714564800123LL, 951868799999LL, 253402300799999LL};
    char buf[CIVIL_RFC3339_MAX];
    int64_t ms;

    for (int i = 0; i < N_OF(v); i++) {
        ck_assert_int_eq(civil_rfc3339_format(v[i], buf, sizeof(buf)), 0);
        ck_assert_int_eq(civil_rfc3339_parse(buf, &ms), 0);
        ck_assert_int_eq(ms, v[i]);
    }
}
END_TEST

/* ---- civil_rfc3339_parse ------------------------------------------------- */

static const struct {
    const char *s;
    int64_t ms;
} rfc3339_good[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01T00:00:00.001Z", 1},
    {"1969-12-31T23:59:59Z", -1000},
    {"1997-01-01T00:00:00Z", 852076800000LL},
    {"2024-05-01T12:00:00Z", 1714564800000LL},
    {"2024-05-01T14:00:00+02:00", 1714564800000LL},
    {"2024-05-01T10:00:00-02:00", 1714564800000LL},
    {"2024-05-01T12:00:00.123+02:00", 1714557600123LL},
    {"2024-05-01T00:30:00+05:30", 1714503600000LL},
    {"2024-05-01t12:00:00z", 1714564800000LL},
    {"2024-05-01T12:00:00.1Z", 1714564800100LL},
    {"2024-05-01T12:00:00.123456789Z", 1714564800123LL},
    {"2024-02-29T00:00:00Z", 1709164800000LL},
    {"2000-02-29T23:59:59.999Z", 951868799999LL},
    {"2016-12-31T23:59:60Z", 1483228800000LL},
    {"1900-03-01T00:00:00Z", -2203891200000LL},
    {"9999-12-31T23:59:59.999Z", 253402300799999LL},
};

START_TEST(test_rfc3339_good)
{
    int64_t ms = -42;

    ck_assert_msg(civil_rfc3339_parse(rfc3339_good[_i].s, &ms) == 0, "%s rejected",
                  rfc3339_good[_i].s);
    ck_assert_msg(ms == rfc3339_good[_i].ms, "%s: %lld, want %lld", rfc3339_good[_i].s,
                  (long long)ms, (long long)rfc3339_good[_i].ms);
}
END_TEST

static const char *const rfc3339_bad[] = {
    "",
    "yesterday",
    "2024-05-01T12:00:00",
    "2024-05-01",
    "2024-05-01T12:00Z",
    "2024-05-01 12:00:00Z",
    "2024-5-01T12:00:00Z",
    "2024-05-01T12:00:00.Z",
    "2024-05-01T12:00:00Zjunk",
    "2024-05-01T12:00:00+0200",
    "2024-05-01T12:00:00+02",
    "2024-05-01T12:00:00+02:00 ",
    "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-04-31T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-00-10T00:00:00Z",
    "2024-05-00T00:00:00Z",
    "2024-05-01T24:00:00Z",
    "2024-05-01T12:60:00Z",
    "2024-05-01T12:00:61Z",
    "2024-05-01T12:00:00+24:00",
    "2024-05-01T12:00:00+02:60",
    "+2024-05-01T12:00:00Z",
    "2024-05-01T12:00:00\xEF\xBC\xBA",
};

START_TEST(test_rfc3339_bad)
{
    int64_t ms = -42;

    ck_assert_msg(civil_rfc3339_parse(rfc3339_bad[_i], &ms) == -1, "'%s' accepted",
                  rfc3339_bad[_i]);
    ck_assert_int_eq(ms, -42);
}
END_TEST

START_TEST(test_rfc3339_null)
{
    int64_t ms;

    ck_assert_int_eq(civil_rfc3339_parse(NULL, &ms), -1);
    ck_assert_int_eq(civil_rfc3339_parse("2024-05-01T12:00:00Z", NULL), -1);
}
END_TEST

static Suite *civil_suite(void)
{
    Suite *s = suite_create("civil");
    TCase *dates = tcase_create("dates");
    TCase *format = tcase_create("format");
    TCase *parse = tcase_create("parse");

    tcase_add_test(dates, test_days_from_ymd);
    tcase_add_test(dates, test_month_lengths);
    tcase_add_test(dates, test_days_round_trip);
    suite_add_tcase(s, dates);

    tcase_add_test(format, test_format_known);
    tcase_add_test(format, test_format_as_gmtime);
    tcase_add_test(format, test_format_small_buffer);
    tcase_add_test(format, test_format_parse_round_trip);
    suite_add_tcase(s, format);

    tcase_add_loop_test(parse, test_rfc3339_good, 0, N_OF(rfc3339_good));
    tcase_add_loop_test(parse, test_rfc3339_bad, 0, N_OF(rfc3339_bad));
    tcase_add_test(parse, test_rfc3339_null);
    suite_add_tcase(s, parse);
    return s;
}

CHECK_MAIN(civil_suite)
