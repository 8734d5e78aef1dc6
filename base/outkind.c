/*
 * outkind.c - the names of the kinds of derived event (see outkind.h).
 */
#include "base/outkind.h"

const char *const out_kind_names[OUT__COUNT] = {
    [OUT_CHURN_RISK] = "churn_risk",
    [OUT_REWARD] = "reward_trigger",
    [OUT_SEGMENT] = "segment_change",
};
