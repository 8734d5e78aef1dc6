/*
 * rates.c - the exchange rates the pipeline converts with (ingest.c,
 * consumers/convert.h): read from Redis at the start, and again whenever
 * an import moved P {fx}:version (store/store_fx.h).  Main thread, on the
 * pipeline's first store: a version check is one GET, so it runs every
 * second; the table is read whole only after an import.
 */
#include "consumers/pipeline_int.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/log.h"
#include "state/store/store_fx.h"

int pipeline_refresh_rates(struct pipeline *pl, char *err, size_t errlen)
{
    struct fx_table t;
    int64_t version = 0;
    int rc;

    if (!pl->cfg->money.currency[0]) {
        return 0;
    }
    if (!store_ok(pl->store) || store_fx_version(pl->store, &version, err, errlen) < 0) {
        if (store_ok(pl->store)) {
            return -1; /* Redis answered: what it holds cannot be read */
        }
        if (pl->fx_loaded) {
            return 0; /* Redis is away: the table read before stays */
        }
        snprintf(err, errlen, "redis is not connected; the rates are read once it is");
        return PIPELINE_RATES_AWAY;
    }
    if (pl->fx_loaded && version == pl->fx_version) {
        return 0;
    }
    if ((rc = store_fx_load(pl->store, &t, &version, err, errlen)) < 0) {
        return -1;
    }
    fx_table_free(&pl->fx);
    pl->fx = t;
    pl->fx_version = version;
    pl->fx_loaded = 1;
    log_note("exchange rates version %" PRId64 ": %zu currencies against %s%s", version,
             t.series.n, t.base, rc == 0 ? " (none stored)" : "");
    return 0;
}

void pipeline_free_rates(struct pipeline *pl)
{
    fx_table_free(&pl->fx);
    pl->fx_loaded = 0;
}
