/*
 * pipeline.h - the Kafka side of loyaltyd: consumer group, rebalance,
 * offsets, the producer of derived events and of the dead-letter topic, and
 * the one-way flow message -> parse -> task merge (event time) -> batch apply
 * (state/engine/batch.h) -> publish -> store offset.  Main thread only; librdkafka's own
 * threads never call into this module except the statistics and log callbacks, which
 * touch only metrics and the logger.
 */
#ifndef LOYALTY_PIPELINE_H
#define LOYALTY_PIPELINE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "consumers/options.h"
#include "state/store/store.h"

struct pipeline;
struct model_config;

/* Creates the consumer and the producer (nothing is fetched yet).  The store
 * is borrowed and must outlive the pipeline. */
struct pipeline *pipeline_new(const struct pipeline_opts *cfg,
                              const struct model_config *model, struct store *store,
                              char *err, size_t errlen);
void pipeline_free(struct pipeline *pl);

/* Ask the cluster for metadata: 0 if a broker answered within timeout_ms. */
int pipeline_probe(struct pipeline *pl, int timeout_ms, char *err, size_t errlen);
/* Connect the Redis connections not yet made (the first is the caller's)
 * and publish readiness, so that /ready agrees with READY=1 from the start. */
void pipeline_connect(struct pipeline *pl);
int pipeline_subscribe(struct pipeline *pl, char *err, size_t errlen);

/* One turn of the main loop: poll (at most timeout_ms), process, serve
 * delivery reports, store offsets, retry Redis if it was lost. */
void pipeline_step(struct pipeline *pl, int timeout_ms);

/* One sweeper pass over the due customers of the assigned partitions. */
void pipeline_sweep(struct pipeline *pl);

/* Re-read the fitted model parameters from Redis. */
void pipeline_refresh_model(struct pipeline *pl);

/* With money.currency set, read the exchange rates from Redis if they were
 * never read or an import changed them since (consumers/rates.c): 0, -1
 * with err (what is stored cannot be read; the table read before, if any,
 * still converts), or PIPELINE_RATES_AWAY with err when Redis is not
 * connected and no table was ever read (orders would be refused no_rate:
 * the start waits for it). */
#define PIPELINE_RATES_AWAY (-2)
int pipeline_refresh_rates(struct pipeline *pl, char *err, size_t errlen);

/* Swap in new tunables (SIGHUP); the old ones are returned for freeing. */
struct model_config *pipeline_set_model_config(struct pipeline *pl,
                                               struct model_config *cfg);

/* Orderly stop: finish in-flight work, flush the producer, store and commit
 * offsets, leave the group.  Bounded by timeout_ms. */
void pipeline_close(struct pipeline *pl, int timeout_ms);

/* 1 when Redis is usable, a broker answered recently, every output topic
 * took what was produced to it within the last few seconds, and the
 * pipeline has not failed. */
int pipeline_ready(const struct pipeline *pl);
/* 1 after a condition the daemon must not run on (input topics with unequal
 * partition counts, Redis lost acknowledged writes, a fatal librdkafka error
 * of either client); the log says which.  The main loop ends on it. */
int pipeline_failed(const struct pipeline *pl);
size_t pipeline_assigned(const struct pipeline *pl);

/* For the fault tests only (tests/fault/fault_kafka.c), which inject faults
 * into the clients themselves (rd_kafka_test_fatal_error): the consumer's
 * handle (producer 0) or the producer's (1), owned by the pipeline. */
rd_kafka_t *pipeline_test_client(struct pipeline *pl, int producer);

#endif
