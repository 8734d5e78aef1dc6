/*
 * store_int.h - the store's private types and what its files share; the
 * store's users include store.h only.  One concern a file:
 *
 *   store.c           the connection, commands one at a time, error classes
 *   store_route.c     where each command goes: the one Redis, or the master
 *                     of its slot on a Redis Cluster, redirections followed
 *   store_pipe.c      pipelined requests, the command writer (argv -> RESP)
 *   store_schema.c    the key schema, the schema mark, the checks at start
 *   store_load.c      customers loaded, derived events a layout 2 outbox left
 *   store_commit.c    one customer's atomic commit
 *   store_index.c     the operators' indices and the sweeper's due sets
 *   store_progress.c  a task's progress
 *   store_model.c     the fitted model parameters
 *   store_admin.c     top, scan, summary, delete, counts (loyaltyctl)
 *
 * As store.h says: one struct store per thread, every call on the thread
 * that owns it.
 */
#ifndef LOYALTY_STORE_INT_H
#define LOYALTY_STORE_INT_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/array.h"
#include "base/strbuf.h"
#include "state/store/slot.h"
#include "state/store/store.h"

/* One argument of a command: a borrowed string, or one in the arena. */
struct argv_arg {
    const char *s; /* borrowed, or NULL */
    size_t len;
    size_t off; /* offset in the arena + 1, or 0 for a borrowed string */
};

/* argv of one command: strings borrowed, or formatted into the buffer's own
 * arena (kept as offsets until appended, as the arena may move). */
struct argv_buf {
    ARRAY(struct argv_arg); /* the arguments, b->v[0 .. b->n - 1] */
    struct strbuf arena;
    int failed; /* ENOMEM on the way: the command is not to be sent */
};

/* A master of a Redis Cluster and the store's connections to it: ctx for
 * the pipeline, side for a command a redirection sends there while ctx may
 * still have replies to read (opened when first needed). */
struct store_node {
    struct slot_node addr;
    redisContext *ctx;
    redisContext *side;
};

/* A command sent to a cluster whose reply is not read yet: the node it went
 * to, and its bytes (in cluster.sent) to send again if it is redirected. */
struct store_sent {
    int node;
    size_t off, len;
};

/* The store's view of a Redis Cluster (store_route.c). */
struct store_cluster {
    struct slot_nodes seeds;  /* redis.cluster */
    struct slot_map map;      /* slot -> index into nodes */
    struct store_node *nodes; /* map.nodes.n of them */
    ARRAY(struct store_sent) pending;
    size_t next;        /* pending.v[next] is the next reply to read */
    struct strbuf sent; /* the pending commands' bytes */
    int keyless;        /* the node of a command without a key */
    int stale;          /* a MOVED seen: read the map again when idle */
};

struct store {
    struct store_opts opts;        /* strings owned (copies) */
    redisContext *ctx;             /* the one Redis (no cluster configured) */
    struct store_cluster *cluster; /* or a cluster's masters */
    struct argv_buf argv;          /* the command being built, memory kept */
    struct strbuf resp;            /* its protocol form */
    size_t inflight;               /* pipelined requests whose replies are not read yet */
    int64_t sent_us;               /* when the first of them was sent */
    char last_err[512];            /* the last I/O error, for store_last_error */
};

/* store_route.c: every command passes here as protocol bytes.  store_send
 * appends one to its node's output (without a cluster: the one
 * connection's); store_next reads the next reply, in the order sent,
 * following a cluster's redirections; store_flush writes what waits.  On an
 * I/O error they return -1 with the connection dropped. */

int store_send(struct store *s, const char *cmd, size_t len);
/* A command in hiredis' format (store_cmd's), sent as store_send. */
int store_sendf(struct store *s, const char *fmt, ...);
int store_vsendf(struct store *s, const char *fmt, va_list ap);
int store_next(struct store *s, redisReply **r, char *err, size_t errlen);
void store_flush(struct store *s);
/* How many places a SCAN must visit (the masters of a cluster, else 1), and
 * the one the keyless commands that follow go to. */
size_t store_scan_places(const struct store *s);
void store_scan_place(struct store *s, size_t i);
/* The key a command in protocol form is routed by: 1 with its first key in
 * *key, *klen; 0 for a command that names none (it goes where the command
 * before it went, or where store_scan_place says). */
int store_command_key(const char *cmd, size_t len, const char **key, size_t *klen);
/* A cluster's connections opened (every master, the library loaded on
 * each); closed. */
int store_route_connect(struct store *s, char *err, size_t errlen);
void store_route_drop(struct store *s);
int store_route_ok(const struct store *s);
void store_route_free(struct store *s);
/* store.c: a connection of the store's options to host:port: authenticated,
 * and with the library of this version loaded unless `bare`. */
redisContext *store_open(const struct store *s, const char *host, int port, int bare,
                         char *err, size_t errlen);

/* store.c: the connection and commands one at a time.  A command's format
 * is hiredis' (no %zu).  The commands return NULL, or -1, with err set; an
 * I/O error drops the connection (store_drop). */

void store_note_latency(int64_t t0);
void store_drop(struct store *s);
/* Connected, and no pipelined reply unread; else 0 with err. */
int store_usable(const struct store *s, char *err, size_t errlen);
/* The reply (the caller frees it), an error reply included. */
redisReply *store_cmd(struct store *s, char *err, size_t errlen, const char *fmt, ...);
/* 0, or -1 on an error reply too. */
int store_simple(struct store *s, char *err, size_t errlen, const char *fmt, ...);
/* An integer reply added to *sum: 0, or -1. */
int store_count_cmd(struct store *s, long long *sum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int store_reply_to_kvlist(const redisReply *r, struct kvlist *kv);
/* Copies of the strings at every step-th element of an array reply. */
int store_ids_from_reply(const redisReply *r, size_t step, char ***ids, size_t *n);

/* store_pipe.c: pipelined requests and the command writer. */

int store_pipe_usable(struct store *s, char *err, size_t errlen);
void store_pipe_sent(struct store *s, size_t n);
int store_pipe_recv(struct store *s, redisReply **r, size_t n, char *err, size_t errlen);
int store_roundtrip(struct store *s, redisReply **r, size_t n, char *err, size_t errlen);
redisReply **store_replies_new(size_t n, char *err, size_t errlen);
void store_free_replies(redisReply **r, size_t n);

void store_argv_push(struct argv_buf *b, const char *s, size_t len, size_t off);
void store_argv_str(struct argv_buf *b, const char *s);
void store_argv_key(struct argv_buf *b, const struct store *s, const char *id,
                    const char *suffix);
void store_argv_int(struct argv_buf *b, int64_t v);
void store_argv_double(struct argv_buf *b, double v);
void store_argv_fmt(struct argv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void store_argv_reset(struct argv_buf *b);
void store_argv_free(struct argv_buf *b);
int store_argv_append(struct store *s, struct argv_buf *b);

/* store_schema.c: keys and the schema mark. */

/* A customer's key: PREFIX c:{ID}SUFFIX. */
void store_key_of(const struct store *s, char *buf, size_t len, const char *id,
                  const char *suffix);
int store_check_schema(struct store *s, char *err, size_t errlen);
/* A SCAN pattern: the prefix with Redis's glob characters escaped, then
 * tail (a pattern itself).  0, -1 when it does not fit in room. */
int store_pattern(const char *prefix, const char *tail, char *out, size_t room);
/* The numbers N of the zsets "P HEAD N AFTER" (a SCAN: "t:{", "}:due" for
 * the tasks' due sets), each once, in ascending order; the caller frees
 * *tasks.  0, -1. */
int store_scan_tasks(struct store *s, const char *head, const char *after,
                     int32_t **tasks, size_t *n);

/* store_index.c: the commands of store_index_send, one at a time into b
 * (nothing when none is to be sent): the ZADD of index k's scores of the
 * requests of `partition` that set them, and the ZADD (remove: the ZREM,
 * for "never due") of their due times. */
void store_index_argv(struct argv_buf *b, const struct store *s, enum store_index_kind k,
                      int32_t partition, const struct store_index_req *q, size_t n);
void store_due_argv(struct argv_buf *b, const struct store *s, int32_t partition,
                    int remove, const struct store_index_req *q, size_t n);

/* store_index.c: the indices' names, by enum store_index_kind. */

extern const char *const store_index_names[STORE_IDX__COUNT];

#endif
