/*
 * cdnow_fixture.h - helpers shared by the unit tests that read the CDNOW
 * sample (test_bgfit.c, test_cdnow.c): where the files are (data/cdnow,
 * relative to the repository root where the tests run; LOYALTY_CDNOW_DIR
 * overrides it), the calibration and holdout ends of the published split,
 * and the two loaders called with those, asserting they succeed.
 * Header-only (static functions) so every test binary stays one file.
 */
#ifndef LOYALTY_CDNOW_FIXTURE_H
#define LOYALTY_CDNOW_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/civil.h"
#include "state/fit/cdnow.h"
#include "state/model/bgnbd.h"

#define ERRLEN   256
#define CAL_END  civil_days_from_ymd(1997, 9, 30)
#define HOLD_END civil_days_from_ymd(1998, 6, 30)

static inline const char *data_path(const char *file)
{
    static char path[1024];
    const char *dir = getenv("LOYALTY_CDNOW_DIR");

    snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/cdnow", file);
    return path;
}

static inline struct bg_obs *load_summary(const char *file, double unit_days, size_t *n)
{
    struct bg_obs *obs;
    char err[ERRLEN] = "";

    ck_assert_msg(
        cdnow_load_summary(data_path(file), unit_days, &obs, n, err, sizeof err) == 0,
        "%s", err);
    return obs;
}

static inline struct bg_obs *load_tx(unsigned **holdout, size_t *n)
{
    struct bg_obs *obs;
    char err[ERRLEN] = "";

    ck_assert_msg(cdnow_load_transactions_holdout(data_path("CDNOW_sample.txt"), CAL_END,
                                                  HOLD_END, 7.0, &obs, holdout, n, err,
                                                  sizeof err) == 0,
                  "%s", err);
    return obs;
}

#endif
