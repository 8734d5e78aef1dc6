/*
 * store_fx.h - exchange rates in Redis (README, "Currencies and exchange
 * rates"), read into and written from the quotes and tables of base/fx.h:
 *
 *   P {fx}:CUR         hash     YYYY-MM-DD -> the rate in force from that day:
 *                               units of CUR for one unit of the base, in
 *                               decimal as fx_rate_format writes it
 *   P {fx}:base        string   the base every quote is against (EUR for the
 *                               ECB's rates)
 *   P {fx}:currencies  set      the currencies that have a hash
 *   P {fx}:version     integer  one more per import that changed anything
 *
 * The hash tag {fx} keeps them in one slot of a Redis Cluster: an import's
 * MULTI/EXEC spans them all.
 *
 * An import writes all of its quotes, the base, the set and the new version
 * in one MULTI/EXEC, after reading what is stored under WATCH: a reader
 * never sees half an import, and one that read the version before and
 * after its reads of the rates saw one import's state.  A rate already
 * stored for a (currency, day) with another value is refused unless the
 * caller replaces: the rate in force on a past day changing changes what a
 * replay of that day's orders would compute.
 */
#ifndef LOYALTY_STORE_FX_H
#define LOYALTY_STORE_FX_H

#include <stddef.h>
#include <stdint.h>

#include "base/fx.h"

struct store;

enum store_fx_outcome {
    STORE_FX_IMPORTED = 0, /* written (or nothing new to write) */
    STORE_FX_CONFLICT,     /* rates stored with other values; nothing written */
    STORE_FX_OTHER_BASE,   /* the stored quotes are against another base */
    STORE_FX_RACED,        /* another writer changed the rates meanwhile */
};

struct store_fx_result {
    size_t added;                  /* quotes of a (currency, day) not stored before */
    size_t unchanged;              /* stored already with the same rate */
    size_t replaced;               /* stored with another rate, overwritten */
    size_t conflicts;              /* stored with another rate (replaced or refused) */
    size_t first_conflict;         /* the index in the quotes of the first
                                      (the earliest line of the file) */
    char stored[FX_RATE_TEXT_MAX]; /* its stored rate as stored */
    char stored_base[4];           /* the base stored before ("" for none) */
    int64_t version;               /* P {fx}:version after the import */
};

/*
 * Import the quotes q (sorted by currency, then day, each pair once, as
 * fxcsv_parse leaves them).  With replace, rates stored with other values
 * are overwritten; without, any such rate refuses the whole import.  An
 * import that would change nothing writes nothing (the version stays).
 * Returns an enum store_fx_outcome with res filled, or -1 with err (Redis
 * failed, or a key is not of its type).
 */
int store_fx_import(struct store *s, const struct fx_quotes *q, int replace,
                    struct store_fx_result *res, char *err, size_t errlen);

/* P {fx}:version (0 when none is stored): 0, or -1 with err.  What a reader
 * polls to notice an import cheaply. */
int store_fx_version(struct store *s, int64_t *version, char *err, size_t errlen);

/*
 * Every stored rate into t (initialised here against the stored base,
 * sorted, the caller frees it with fx_table_free), with the version it is.
 * 1, 0 when no rate is stored (t then empty, against "EUR"), or -1 with err
 * (a stored value that is no date or rate names its key and field).
 */
int store_fx_load(struct store *s, struct fx_table *t, int64_t *version, char *err,
                  size_t errlen);

#endif
