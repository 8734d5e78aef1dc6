/*
 * civil.c - civil dates and RFC 3339 (see civil.h).
 */
#include "base/civil.h"

#include <inttypes.h>
#include <stdio.h>

#define SEC_PER_DAY 86400LL

int civil_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int civil_days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return month == 2 && civil_is_leap(year) ? 29 : days[month - 1];
}

int64_t civil_days_from_ymd(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

void civil_ymd_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */

    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

int civil_rfc3339_format(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms / 1000, days, sod, year;
    int msec = (int)(ms % 1000), month, day, n;

    if (msec < 0) {
        msec += 1000;
        secs--;
    }
    days = secs / SEC_PER_DAY;
    sod = secs % SEC_PER_DAY;
    if (sod < 0) {
        sod += SEC_PER_DAY;
        days--;
    }
    civil_ymd_from_days(days, &year, &month, &day);
    n = snprintf(buf, len, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month,
                 day, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), msec);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Exactly n decimal digits; stops at the first non-digit, so never reads past
 * the terminating NUL. */
static int read_digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS" -> seconds since the epoch, as if it were UTC. */
static int rfc3339_datetime(const char *s, int64_t *secs)
{
    int y, mo, d, h, mi, sec;

    if (read_digits(s, 4, &y) || s[4] != '-' || read_digits(s + 5, 2, &mo) ||
        s[7] != '-' || read_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        read_digits(s + 11, 2, &h) || s[13] != ':' || read_digits(s + 14, 2, &mi) ||
        s[16] != ':' || read_digits(s + 17, 2, &sec)) {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > civil_days_in_month(y, mo) || h > 23 ||
        mi > 59 || sec > 60) {
        return -1;
    }
    *secs = civil_days_from_ymd(y, mo, d) * SEC_PER_DAY + h * 3600 + mi * 60 + sec;
    return 0;
}

/* Optional ".ddd..." (at least one digit; milliseconds kept, the rest
 * truncated), then "Z" or "+hh:mm"/"-hh:mm", then the end of the string. */
static int rfc3339_tail(const char *p, int *ms, int *offset_s)
{
    int scale = 100, oh, om;

    *ms = 0;
    if (*p == '.') {
        if (*++p < '0' || *p > '9') {
            return -1;
        }
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10) {
            *ms += (*p - '0') * scale;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        *offset_s = 0;
        return p[1] == '\0' ? 0 : -1;
    }
    if ((*p != '+' && *p != '-') || read_digits(p + 1, 2, &oh) || p[3] != ':' ||
        read_digits(p + 4, 2, &om) || p[6] != '\0' || oh > 23 || om > 59) {
        return -1;
    }
    *offset_s = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    return 0;
}

int civil_rfc3339_parse(const char *s, int64_t *out_ms)
{
    int64_t secs;
    int ms, offset_s;

    if (s == NULL || out_ms == NULL) {
        return -1;
    }
    if (rfc3339_datetime(s, &secs) != 0 || rfc3339_tail(s + 19, &ms, &offset_s) != 0) {
        return -1;
    }
    *out_ms = (secs - offset_s) * 1000 + ms;
    return 0;
}
