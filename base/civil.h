/*
 * civil.h - civil dates in the proleptic Gregorian calendar and RFC 3339
 * timestamps.  Days are UTC epoch days (1970-01-01 is 0), instants epoch
 * milliseconds.  No timegm(), gmtime() or strftime(): no TZ, no locale, the
 * same answer on every machine.  Pure; safe from any thread.
 */
#ifndef LOYALTY_CIVIL_H
#define LOYALTY_CIVIL_H

#include <stddef.h>
#include <stdint.h>

/* Room for any civil_rfc3339_format text and its NUL. */
#define CIVIL_RFC3339_MAX 40

int civil_is_leap(int64_t year);
/* Days of month (1..12) in year. */
int civil_days_in_month(int64_t year, int month);

/* The epoch day of year-month-day (Howard Hinnant's days_from_civil): exact
 * for every Gregorian date; the fields are not checked (a day past the end
 * of its month counts on into the next). */
int64_t civil_days_from_ymd(int64_t year, int month, int day);
/* The inverse (Hinnant's civil_from_days): month 1..12, day 1..31. */
void civil_ymd_from_days(int64_t days, int64_t *year, int *month, int *day);

/* "2024-05-01T12:00:00.000Z": UTC with milliseconds, the year in at least
 * four digits.  Returns 0, or -1 if buf is too small. */
int civil_rfc3339_format(int64_t ms, char *buf, size_t len);

/* RFC 3339 with a mandatory offset ("Z" or +hh:mm), fractional seconds
 * optional (digits past milliseconds are truncated) -> epoch ms.  Returns 0 on
 * success, -1 on any syntax error or out-of-range field (month, day of that
 * month, hour, minute, second <= 60, offset).  Times before 1970 are returned
 * as negative values: rejecting them is the caller's business. */
int civil_rfc3339_parse(const char *s, int64_t *out_ms);

#endif
