/*
 * store.h - everything that speaks Redis: connection, the server-side
 * function library, the key schema (README "State in Redis").
 *
 * One struct store per thread; all calls are synchronous.  Any error makes the
 * connection unusable (hiredis 0.14): the call returns -1, store_ok() turns
 * false and the caller retries store_connect() with backoff.  The function
 * library is loaded on every (re)connect, so a restarted or failed-over Redis
 * never answers "function not found" for long.
 */
#ifndef LOYALTY_STORE_H
#define LOYALTY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "state/bgnbd.h"
#include "state/codec.h"
#include "state/customer.h"

#define STORE_SCHEMA_VERSION 1

struct store;

struct store_opts {
    const char *host; /* a path starting with '/' means a unix socket */
    int port;
    const char *password; /* NULL or "" for none */
    int db;
    const char *prefix;
    int timeout_ms;
};

/* Output topics an outbox entry is bound for. */
enum store_topic { STORE_TOPIC_CHURN = 0, STORE_TOPIC_REWARDS, STORE_TOPIC__COUNT };

struct store_outbox_entry {
    enum store_topic topic;
    char event_id[33];
    char *payload; /* owned */
};

struct store_outbox {
    struct store_outbox_entry *v;
    size_t n, cap;
};

void store_outbox_init(struct store_outbox *o);
void store_outbox_free(struct store_outbox *o);
int store_outbox_add(struct store_outbox *o, enum store_topic t, const char *id,
                     const char *payload);

/* What store_load saw: the revision for the optimistic commit, and whether the
 * event at (source, partition, offset) was already applied. */
struct store_snapshot {
    int64_t rev;
    int duplicate;
    int exists;
};

/* Where an event came from, for the replay watermark; offset < 0 for the
 * sweeper (no watermark). */
struct store_origin {
    const char *source; /* "orders", "reviews", "messages" */
    int32_t partition;
    int64_t offset;
};

enum store_commit_result {
    STORE_APPLIED = 0,
    STORE_DUPLICATE,
    STORE_CONFLICT,
    STORE_ERROR
};

struct store *store_new(const struct store_opts *opts);
void store_free(struct store *s);
int store_connect(struct store *s, char *err, size_t errlen);
int store_ok(const struct store *s);
/* Round trips since the last call: their number and total time (for the
 * latency metric); resets both. */
void store_take_latency(struct store *s, int64_t *sum_us, uint64_t *n);

int store_load(struct store *s, const char *id, const struct store_origin *o,
               struct customer *c, struct store_snapshot *snap, char *err, size_t errlen);

/*
 * Atomically (one server-side function on the customer's keys): check the
 * watermark and the revision, write the customer, raise the watermark, add the
 * new outbox entries.  Whatever the result, *pending receives every entry
 * still in the customer's outbox (new ones and ones left by an earlier
 * crash), for the caller to publish.
 */
enum store_commit_result
store_commit(struct store *s, const struct customer *c, const struct store_snapshot *snap,
             const struct store_origin *o, const struct store_outbox *add,
             struct store_outbox *pending, char *err, size_t errlen);

/* Outbox entries still pending for one customer (after a duplicate). */
int store_outbox_pending(struct store *s, const char *id, struct store_outbox *pending);
/* Delivery confirmed: drop the entry. */
int store_outbox_ack(struct store *s, const char *id, const char *event_id);

/* Refresh the operator indices and the sweeper's due time of one customer
 * (idempotent; not in the atomic commit, because on Redis Cluster the global
 * keys live in other slots).  due_ms == INT64_MAX removes it from the set. */
int store_index(struct store *s, const struct customer *c, int32_t partition,
                int64_t due_ms);

/* Up to `max` customers of `partition` due at or before now_ms. */
int store_due(struct store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
              size_t *n);
void store_ids_free(char **ids, size_t n);

/* Fitted population parameters; 1 if stored, 0 if not (defaults kept). */
int store_model_get(struct store *s, struct bg_params *bg, struct gg_params *gg);
int store_model_put(struct store *s, const struct bg_params *bg,
                    const struct gg_params *gg, const char *meta_json);

/* Customers known to the store, by an index (for loyaltyctl): ids with score. */
enum store_index_kind {
    STORE_IDX_RISK = 0,
    STORE_IDX_LOYALTY,
    STORE_IDX_CLV,
    STORE_IDX_VALUE
};
int store_top(struct store *s, enum store_index_kind k, size_t n, char ***ids,
              double **scores, size_t *count);
/* Iterate all customers: cursor starts at 0, returns next cursor (0 = done). */
int store_scan_customers(struct store *s, uint64_t *cursor, char ***ids, size_t *n);
/* Raw hash of one customer (for loyaltyctl show/dump). */
int store_raw(struct store *s, const char *id, struct kvlist *fields, char **aux);
int store_delete_customer(struct store *s, const char *id);

#endif
