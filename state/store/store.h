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

#include "base/array.h"
#include "base/outkind.h"
#include "state/model/model.h"
#include "state/store/codec.h"
#include "state/store/packed.h"

#define STORE_SCHEMA_VERSION 1

struct store;

struct store_opts {
    /* Seed nodes of a Redis Cluster, "HOST:PORT,HOST:PORT,..." (slot.h's
     * slot_seeds_parse); NULL or "" for the one Redis at host:port. */
    const char *cluster;
    const char *host; /* a path starting with '/' means a unix socket */
    int port;
    const char *user;     /* ACL user; NULL or "" for the default user */
    const char *password; /* NULL or "" for none */
    int db;
    const char *prefix;
    int timeout_ms;
    unsigned indices; /* the operators' indices kept: 1 << STORE_IDX_* */
};

/* The operators' indices (sorted sets of customer ids). */
enum store_index_kind {
    STORE_IDX_RISK = 0,
    STORE_IDX_LOYALTY,
    STORE_IDX_CLV,
    STORE_IDX_VALUE,
    STORE_IDX__COUNT
};

/* An index's name ("risk", "loyalty", "clv", "value") and back: the kind of
 * the n bytes at name, or -1. */
const char *store_index_name(enum store_index_kind k);
int store_index_parse(const char *name, size_t n);

/* Why a Redis command failed, for the operator (a metric's label): read
 * from the error's text, an error reply's code or the connection's error. */
enum store_err {
    STORE_ERR_OTHER = 0,
    STORE_ERR_CONNECTION,  /* refused, reset, closed */
    STORE_ERR_TIMEOUT,     /* no answer within redis.timeout_ms */
    STORE_ERR_OOM,         /* maxmemory reached */
    STORE_ERR_READONLY,    /* a replica */
    STORE_ERR_MISCONF,     /* cannot persist, refuses writes */
    STORE_ERR_NO_FUNCTION, /* the function library is not loaded */
    STORE_ERR_BUSY,        /* a script runs too long */
    STORE_ERR_LOADING,     /* loading its dataset */
    STORE_ERR_AUTH,        /* NOAUTH, NOPERM, WRONGPASS */
    STORE_ERR__COUNT
};

enum store_err store_err_class(const char *err);
/* The classes' names, indexed by value (base/names.h): the metric's labels. */
extern const char *const store_err_names[STORE_ERR__COUNT];
const char *store_err_name(enum store_err e);
/* The text of the store's last I/O error ("" for none). */
const char *store_last_error(const struct store *s);

/* Derived events to publish: the batch's, and a layout 2 customer's outbox
 * left over from the release before. */
struct publish_entry {
    enum out_kind kind; /* and so its output topic */
    char event_id[33];
    char *payload; /* owned */
};

struct publish_list {
    ARRAY(struct publish_entry); /* o->v[0 .. o->n - 1], in the order added */
};

void publish_list_init(struct publish_list *o);
void publish_list_free(struct publish_list *o);
int publish_list_add(struct publish_list *o, enum out_kind k, const char *id,
                     const char *payload);

/* Room for a key: prefix, "c:{", a customer id (EV_ID_MAX) and a suffix. */
#define STORE_KEY_MAX 512
enum store_commit_result { STORE_APPLIED = 0, STORE_CONFLICT, STORE_ERROR };

/* One customer's commit: its new packed state, if revision `rev` is still the
 * stored one. */
struct store_commit_req {
    const char *id;
    int64_t rev;
    int upgrade;                /* stored in layout 2: its old keys are replaced */
    const unsigned char *state; /* packed (revision rev + 1); NULL: unchanged */
    size_t state_len;
    const struct kvlist *summary; /* changed summary fields (partition too) */
    /* results */
    enum store_commit_result res;
    int64_t new_rev;
};

/* store_index_req.set: which scores (bit k: index k) and the due time. */
#define STORE_INDEX_DUE (1u << STORE_IDX__COUNT)
#define STORE_INDEX_ALL ((1u << (STORE_IDX__COUNT + 1)) - 1)

struct store_index_req {
    const char *id;
    unsigned set;                   /* what to write, STORE_INDEX_* bits */
    double score[STORE_IDX__COUNT]; /* by enum store_index_kind */
    int32_t partition;
    int64_t due_ms; /* INT64_MAX: never due (removed from the set) */
};

/* A loaded customer, handed over in a scratch customer (customer_init for
 * one not stored); leftover: a layout 2 customer's outbox, derived events of
 * the release before that must still be published (NULL for none).  With c
 * NULL (meta and leftover too), the customer's stored state cannot be read
 * (a state that does not decode, a key of the wrong type): `damaged` says
 * why.  That is the customer's alone; a failure of Redis itself (no
 * function, OOM, a lost connection) fails the whole load instead. */
typedef int (*store_got_fn)(void *arg, size_t i, const struct customer *c,
                            const struct store_meta *meta,
                            const struct publish_list *leftover, const char *damaged);

struct store *store_new(const struct store_opts *opts);
/* Another store on the same server and prefix (a connection of its own). */
struct store *store_new_like(const struct store *s);
void store_free(struct store *s);
int store_connect(struct store *s, char *err, size_t errlen);
int store_ok(const struct store *s);
/* 1 when Redis holds no state of this prefix at all (the schema key absent:
 * a new Redis, or one that lost everything), 0 when it does, -1 on error.
 * The caller decides whether that may be, then store_mark() records the
 * prefix as in use (the daemon writes nothing before). */
int store_fresh(struct store *s);
int store_mark(struct store *s, char *err, size_t errlen);
/* -1 with err when Redis may evict keys (a maxmemory with a policy other
 * than noeviction): a customer's state would vanish without an error. */
int store_check_eviction(struct store *s, char *err, size_t errlen);
/* 1 when Redis appends every write to its AOF, 0 when it does not, -1 when
 * it does not say. */
int store_aof(struct store *s);

/* The key of task N's SUFFIX: PREFIX t:{N}:SUFFIX (the hash tag {N}: every
 * key of a task in one slot on Redis Cluster).  SUFFIX is "progress", "due"
 * or "idx:KIND". */
void store_task_key(char *buf, size_t len, const char *prefix, int32_t task,
                    const char *suffix);

/* Move the keys of the release before (one index "P idx:KIND" of all
 * customers, one due set "P due:N" per partition) to the task keys
 * ("P t:{N}:idx:KIND", "P t:{N}:due"), before anything is consumed.  Each old
 * key is copied, then deleted: a due time goes in unless the task's set has an
 * earlier one (ZADD LT), an index entry unless the task's index has the
 * customer already (ZADD NX), so a migration cut short and run again gives
 * the same result.  An index entry goes to the task of its customer's summary
 * (`partition`); one whose customer is gone is dropped, as is an index that
 * store_opts.indices does not keep.  *m: due times and index entries moved,
 * entries dropped (customer gone), old keys deleted.  0, or -1 with err. */
struct store_migration {
    long long due, indexed, dropped, keys;
};
int store_migrate_task_keys(struct store *s, struct store_migration *m, char *err,
                            size_t errlen);

/* A task's progress (README, "Guarantees"): per input topic of partition
 * `task`, the next offset after those applied and committed, -1 where none
 * is recorded; and the task's stream time (the newest event time its merge
 * released, 0: none), which its timers run by.  The put only ever raises
 * them.  0, or -1 with err. */
int store_progress_get(struct store *s, int32_t task, int64_t next[SRC__COUNT],
                       int64_t *stream_ms, char *err, size_t errlen);
int store_progress_put(struct store *s, int32_t task, const int64_t next[SRC__COUNT],
                       int64_t stream_ms, char *err, size_t errlen);

/* n customers in one round trip, handed one at a time to got().  0, or -1
 * with err (a failed got() stops the rest and sets err itself). */
int store_load_many(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                    void *arg, char *err, size_t errlen);
int store_load(struct store *s, const char *id, struct customer *c,
               struct store_meta *meta, char *err, size_t errlen);

/*
 * Pipelined requests.  A batch appends its loads, commits and index updates
 * as it goes, pushes them to Redis while it computes the rest, and then reads
 * the replies in the order the requests were sent: store_*_recv must be
 * called for every successful store_*_send, in the same order, before any
 * other call on the store.  A send that fails drops the connection (so no
 * reply is ever taken for another's); store_abandon does the same for a
 * caller that cannot read what it sent.
 */
/* Whether what this store wrote reached n replicas of every master (WAIT
 * n on each connection, all at once, each waiting at most half of the
 * store's timeout): 0, or -1 with err naming a master that confirmed
 * fewer, or an error.  Replication stays asynchronous: a master that fails
 * before its replicas have a write can take it with it, and this is how a
 * caller learns that they have it before it records its progress. */
int store_wait_replicas(struct store *s, int n, char *err, size_t errlen);

/* Write what was appended, so that Redis works while the caller computes. */
void store_push(struct store *s);
void store_abandon(struct store *s);

/* Loads of n customers (one function call each), then their replies handed
 * one at a time to got(), as store_load_many does. */
int store_load_send(struct store *s, const char *const *ids, size_t n, char *err,
                    size_t errlen);
int store_load_recv(struct store *s, const char *const *ids, size_t n, store_got_fn got,
                    void *arg, char *err, size_t errlen);

/*
 * Customers set aside because their stored state cannot be read, in the hash
 * "P quarantine" (customer id -> "EPOCH_MS REASON"), for loyaltyctl.
 * store_quarantine_note: 1 when newly noted, 0 when it was already, -1.
 * store_quarantine_list: every entry, 0 (free them with
 * store_quarantine_free), or -1 with err and nothing to free.
 * store_quarantine_release: 1 when it was there, 0 when not, -1.
 */
int store_quarantine_note(struct store *s, const char *id, const char *why,
                          int64_t now_ms);
int store_quarantine_list(struct store *s, char ***ids, char ***texts, size_t *n,
                          char *err, size_t errlen);
void store_quarantine_free(char **ids, char **texts, size_t n);
int store_quarantine_release(struct store *s, const char *id, char *err, size_t errlen);

/*
 * One commit, atomic (one server-side function on the customer's keys): if
 * the revision is still q->rev, write the packed state and the changed
 * summary fields (and for an upgrade, drop the keys of layout 2).  The
 * revision check is the fencing: an instance that lost the customer's task
 * and writes late finds a newer revision and is refused (STORE_CONFLICT).
 * store_commit_recv gives each of n requests sent its result and the new
 * revision.  Returns 0, or -1 when any request failed or the connection was
 * lost (err says why).
 */
int store_commit_send(struct store *s, const struct store_commit_req *q, char *err,
                      size_t errlen);
int store_commit_recv(struct store *s, struct store_commit_req *q, size_t n, char *err,
                      size_t errlen);

/* A customer's scores in the operators' indices. */
void store_index_scores(const struct customer *c, double score[STORE_IDX__COUNT]);
/* Refresh the operator indices and the sweeper's due times of n customers
 * (idempotent; not in the atomic commit, because on Redis Cluster the global
 * keys live in other slots): only what each request's `set` names.  The
 * send appends a few commands (*ncmds of them, 0 when nothing is to be set)
 * for store_index_recv. */
int store_index_send(struct store *s, const struct store_index_req *q, size_t n,
                     size_t *ncmds, char *err, size_t errlen);
int store_index_recv(struct store *s, size_t ncmds, char *err, size_t errlen);
int store_index_many(struct store *s, const struct store_index_req *q, size_t n);

/* Up to `max` customers of `partition` due at or before now_ms. */
int store_due(struct store *s, int32_t partition, int64_t now_ms, size_t max, char ***ids,
              size_t *n);
void store_ids_free(char **ids, size_t n);
/* Take a customer out of `partition`'s due times (set aside: the sweeper
 * stops trying it; its next committed event writes its due time again).
 * 0, -1. */
int store_due_forget(struct store *s, int32_t partition, const char *id);

/* How many customers of `partition` are due at or before now_ms, and the
 * earliest due time of all (0 when none is due).  0, -1 on error. */
int store_due_overdue(struct store *s, int32_t partition, int64_t now_ms, int64_t *count,
                      int64_t *oldest_ms);

/* Fitted population parameters and their version (one more per saved fit;
 * *version may be NULL); 1 if stored, 0 if not (defaults kept), -1. */
int store_model_get(struct store *s, struct bg_params *bg, struct gg_params *gg,
                    int64_t *version);
/* Save a fit: the parameters and a version one above the stored one, in one
 * step (a reader never sees new parameters under the old version).  The new
 * version, or -1. */
int64_t store_model_put(struct store *s, const struct bg_params *bg,
                        const struct gg_params *gg, const char *meta_json);

/* The n highest of index k (one of store_opts.indices). */
int store_top(struct store *s, enum store_index_kind k, size_t n, char ***ids,
              double **scores, size_t *count);
/* Iterate all customers (a SCAN of the summary hashes, so it needs no
 * index): cursor starts at 0, returns next cursor (0 = done). */
int store_scan_customers(struct store *s, uint64_t *cursor, char ***ids, size_t *n);
/* store_scan_customers with each customer's partition (-1: not stored) and
 * model version, read in one more round trip; *cursor moves on only when the
 * whole chunk was read.  The caller frees the three arrays (store_ids_free,
 * free).  0, or -1 with err. */
int store_scan_versions(struct store *s, uint64_t *cursor, char ***ids,
                        int32_t **partition, int64_t **version, size_t *n, char *err,
                        size_t errlen);
/* The summary hash of one customer as stored (loyaltyctl dump): 0 (fields
 * empty when there is none), -1. */
int store_summary(struct store *s, const char *id, struct kvlist *fields);
/* Remove a customer's keys and its index and due entries: the number of keys
 * and entries removed (0: there was no such customer), or -1. */
long long store_delete_customer(struct store *s, const char *id);
/* Customers in index k (every committed customer is in each kept index):
 * 0, -1. */
int store_index_count(struct store *s, enum store_index_kind k, long long *n);
/* Delete the indices not in store_opts.indices (left by a configuration
 * that kept them): how many were deleted, or -1. */
int store_indices_prune(struct store *s);

#endif
