/*
 * cdnow.h - loaders for the CDNOW cohort files (data/cdnow) into
 * BG/NBD observations.  File I/O: for loyaltyctl and the tests, never the
 * daemon.
 *
 * All loaders return 0 with *obs a malloc'd array of *n observations that the
 * caller frees, or -1 with *obs NULL and "path:LINE: reason" (or "path:
 * reason") in err.  Times come out in units of `unit_days` days (7 for
 * weeks, as published; 1 for days).
 */
#ifndef LOYALTY_CDNOW_H
#define LOYALTY_CDNOW_H

#include <stddef.h>

#include "state/model/model.h"

/* "YYYYMMDD" (exactly 8 digits, a real date) to a day number; 0 or -1. */
int cdnow_parse_date(const char *s, long *day);

/* CDNOW_sample.txt: "master_id sample_id YYYYMMDD count value" per line.
 * Customers are grouped by sample id and returned in ascending id order.
 * Only transactions up to calibration_end_day (inclusive) count; a day with
 * several transactions is one purchase whose value is their sum.
 * x = purchase days - 1, t_x = last - first, T = calibration_end - first,
 * mvalue = mean value of the purchase days after the first (0 if x == 0).
 * Customers whose first purchase is after calibration_end_day are left out. */
int cdnow_load_transactions(const char *path, long calibration_end_day, double unit_days,
                            struct bg_obs **obs, size_t *n, char *err, size_t errlen);

/* The same, plus (*holdout)[i]: customer i's purchase days in
 * (calibration_end_day, holdout_end_day], a malloc'd array of *n counts. */
int cdnow_load_transactions_holdout(const char *path, long calibration_end_day,
                                    long holdout_end_day, double unit_days,
                                    struct bg_obs **obs, unsigned **holdout, size_t *n,
                                    char *err, size_t errlen);

/* CDNOW_sample.txt as purchase days, every date kept: customers in
 * ascending sample id, each with its distinct purchase days ascending and
 * each day's value (its transactions summed).  Customer i's days are
 * (*day)[(*start)[i] .. (*start)[i + 1]) and the same in *value; *start has
 * *ncust + 1 entries.  All three arrays are malloc'd for the caller. */
int cdnow_load_days(const char *path, long **day, double **value, size_t **start,
                    size_t *ncust, char *err, size_t errlen);

/* A summary CSV in weeks, in file order: header "ID,frequency,recency,T" or
 * "ID,x,t_x,T,zbar" (mvalue = zbar; 0 without it).  CRLF and a missing final
 * newline are accepted, blank lines skipped. */
int cdnow_load_summary(const char *path, double unit_days, struct bg_obs **obs, size_t *n,
                       char *err, size_t errlen);

#endif
