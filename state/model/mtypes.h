/*
 * mtypes.h - the types the model's modules share: the context a pass runs
 * with and the derived events it decides.  The modules inside the model
 * include this; everyone else gets it through model.h.
 */
#ifndef LOYALTY_MTYPES_H
#define LOYALTY_MTYPES_H

#include <stddef.h>
#include <stdint.h>

#include "base/array.h"
#include "base/outkind.h"
#include "state/model/bgnbd.h"

struct model_config; /* mconfig.h */

/* What the model needs besides the customer: tunables and the population
 * parameters of the churn model (fitted, read from Redis by the daemon). */
struct model_ctx {
    const struct model_config *cfg;
    struct bg_params bg; /* time unit: weeks */
    struct gg_params gg;
    int64_t version; /* of bg and gg: one more per saved fit, 0 for the defaults */
};

/*
 * A derived event decided by the model.  `event_id` is deterministic (a digest
 * of customer, kind and cause) so a replay yields the same id.  `payload` is
 * the complete JSON of the outgoing message except `emitted_at`, which
 * derived_finish() adds; it is malloc'd and owned by the emission list.
 */
struct emission {
    enum out_kind kind; /* and so its output topic */
    char event_id[33];
    char *payload;
};

/* The emissions in the order the model decided them (base/array.h): v, n. */
struct emission_list {
    ARRAY(struct emission);
};

#endif
