/*
 * outkind.h - the kinds of derived event, one per output topic.  The model
 * decides events of a kind, the store keeps them by kind, the producer sends
 * each kind to its topic and the metrics count them by kind: every per-kind
 * table of the tree is an array indexed by enum out_kind.
 */
#ifndef LOYALTY_OUTKIND_H
#define LOYALTY_OUTKIND_H

enum out_kind { OUT_CHURN_RISK = 0, OUT_REWARD, OUT_SEGMENT, OUT__COUNT };

/* The kinds' names (base/names.h): the `type` label of
 * loyaltyd_emitted_total. */
extern const char *const out_kind_names[OUT__COUNT];

#endif
