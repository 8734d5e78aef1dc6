/*
 * kconf.h - librdkafka configuration for the consumer and the producer.
 */
#ifndef LOYALTY_KCONF_H
#define LOYALTY_KCONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "consumers/options.h"

/* Would librdkafka accept `name = value`?  0, or -1 with its reason in err
 * (for the config file, so a bad line stops the start).  One property table
 * serves consumers and producers alike. */
int kconf_check_property(const char *name, const char *value, char *err, size_t errlen);

/* A new configuration (the caller owns it), or NULL with err.  The log goes
 * through loyaltyd's logger; callbacks and opaque are the caller's to set. */
rd_kafka_conf_t *kconf_consumer(const struct pipeline_opts *cfg, char *err,
                                size_t errlen);
rd_kafka_conf_t *kconf_producer(const struct pipeline_opts *cfg, char *err,
                                size_t errlen);
/* A consumer that only reads partitions it assigns itself (loyaltyctl
 * redrive): `kafka.*` and `kafka.consumer.*`, then no commits, no stored
 * offsets, partition EOF reported, and group_id as its group. */
rd_kafka_conf_t *kconf_reader(const struct pipeline_opts *cfg, const char *group_id,
                              char *err, size_t errlen);

#endif
