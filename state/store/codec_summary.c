/*
 * codec_summary.c - the summary hash's fields (README, "State in Redis"):
 * a few of the codec's fields, always written, in the order Redis keeps.
 */
#include "state/store/codec_int.h"

#include <pthread.h>
#include <stddef.h>

/* The summary's fields, in the order Redis keeps them (README, "State in
 * Redis"): the ones that change most often first. */
static const char *const summary_names[] = {
    "as_of",        "churn_risk", "p_alive",     "clv",       "loyalty_score",
    "attitude",     "spend_365d", "orders_365d", "net_spend", "segment",
    "loyalty_type", "brand_type", "tier",        "currency",  "model_version",
};

#define NSUMMARY (sizeof(summary_names) / sizeof(summary_names[0]))

static const struct field *summary_fields[NSUMMARY];

static pthread_once_t summary_once = PTHREAD_ONCE_INIT;

static void init_summary(void)
{
    pthread_once(&codec_order_once, codec_init_order);
    for (size_t i = 0; i < NSUMMARY; i++) {
        summary_fields[i] = codec_field_named(summary_names[i]);
    }
}

int codec_summary_diff(const struct customer *prev, const struct customer *c,
                       struct kvlist *out)
{
    char val[96];

    pthread_once(&summary_once, init_summary);
    for (size_t i = 0; i < NSUMMARY; i++) {
        if (prev && codec_field_same(prev, c, summary_fields[i])) {
            continue;
        }
        codec_encode_field(c, summary_fields[i], val, sizeof(val));
        if (kvlist_add(out, summary_fields[i]->name, val) < 0) {
            return -1;
        }
    }
    return 0;
}
