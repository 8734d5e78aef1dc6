/*
 * fxcsv.h - files of exchange rates read into quotes (base/fx.h): pure,
 * from memory, all or nothing.
 *
 * Two layouts:
 *
 *   ecb    the European Central Bank's reference rates, as its CSV files
 *          have them: a header "Date,USD,JPY,BGN,..." naming a currency per
 *          column, then a row per date, "2024-01-05,1.0921,158.41,...",
 *          each value the units of that currency for one unit of the base
 *          (EUR, for the ECB's own files).  A value "N/A" or empty means no
 *          rate of that currency that day (skipped).  A trailing comma (the
 *          ECB ends every line with one) and blank lines are tolerated.  A
 *          column of a withdrawn currency the ECB's history still carries
 *          (CYP, EEK, HRK, ..., base/currency.h) is skipped whole and named
 *          in the report.
 *   plain  a header "date,currency,rate", then "2024-01-05,USD,1.0921" rows:
 *          units of the currency for one unit of the base.
 *
 * Both: fields are trimmed of spaces and tabs and of one pair of double
 * quotes; lines may end in CRLF; a UTF-8 byte-order mark is skipped.  Dates
 * are YYYY-MM-DD, currencies active ISO 4217 codes, rates as
 * fx_rate_parse takes them.  The base's own rate, when a file gives it,
 * must be 1 (it is then skipped).  The same currency and date twice is
 * tolerated with the same rate, refused with another.  Anything else (a
 * date, a currency or a rate that is not one, a row of another width than
 * the header) refuses the whole file: -1 with err "FILE:LINE: reason" and
 * no quotes.
 */
#ifndef LOYALTY_FXCSV_H
#define LOYALTY_FXCSV_H

#include <stddef.h>
#include <stdint.h>

#include "base/fx.h"

enum fxcsv_format {
    FXCSV_AUTO = 0, /* plain if the first line is its header, else ecb */
    FXCSV_ECB,
    FXCSV_PLAIN,
};

/* "ecb", "plain" (and "auto") -> the format, or -1. */
int fxcsv_format_parse(const char *name);
const char *fxcsv_format_name(enum fxcsv_format f);

/* What a file held besides its quotes. */
struct fxcsv_report {
    enum fxcsv_format format;    /* the one read (never FXCSV_AUTO) */
    size_t rows;                 /* dated rows */
    size_t missing;              /* "N/A" or empty values skipped */
    size_t repeated;             /* a quote given again with the same rate */
    size_t withdrawn;            /* columns of withdrawn currencies skipped */
    char withdrawn_codes[64];    /* their codes, space-separated (as many as fit) */
    int32_t first_day, last_day; /* of the quotes */
};

/*
 * The len bytes at text, a file named `file` (for the messages), in format
 * fmt, quoted against `base` (three letters, an active code).  0 with
 * out->q the quotes sorted by currency then day, each with its line, and
 * out->base set; or -1 with err and out->q empty.  out must be zeroed or
 * emptied before; rep may be NULL.
 */
int fxcsv_parse(const char *text, size_t len, const char *file, enum fxcsv_format fmt,
                const char base[3], struct fx_quotes *out, struct fxcsv_report *rep,
                char *err, size_t errlen);

#endif
