/*
 * store_pipe.c - pipelined requests (store.h, "Pipelined requests") and the
 * command writer: the arguments of one command built in a buffer the store
 * keeps, then appended in the protocol's own form.
 */
#include "state/store/store_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/decimal.h"
#include "base/numfmt.h"

/* A send may begin: connected, and any earlier pipeline's replies are part of
 * this one (they are read first, in order). */
int store_pipe_usable(struct store *s, char *err, size_t errlen)
{
    if (!store_ok(s)) {
        snprintf(err, errlen, "redis: not connected");
        return 0;
    }
    if (s->inflight == 0) {
        s->sent_us = mono_us();
    }
    return 1;
}

/* n more replies to read. */
void store_pipe_sent(struct store *s, size_t n)
{
    s->inflight += n;
}

/* The next n replies of the pipeline.  0 with all n (the caller frees them),
 * or -1 with none and the connection dropped on an I/O error.  The round
 * trip is timed when its last reply is in. */
int store_pipe_recv(struct store *s, redisReply **r, size_t n, char *err, size_t errlen)
{
    if (!store_ok(s) || n > s->inflight) {
        snprintf(err, errlen, "redis: not connected");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (redisGetReply(s->ctx, (void **)&r[i]) != REDIS_OK) {
            while (i-- > 0) {
                freeReplyObject(r[i]);
            }
            snprintf(err, errlen, "redis: %s", s->ctx->errstr);
            store_drop(s);
            return -1;
        }
    }
    s->inflight -= n;
    if (s->inflight == 0) {
        store_note_latency(s->sent_us);
    }
    return 0;
}

void store_push(struct store *s)
{
    int done = 0;

    while (store_ok(s) && !done) {
        if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
            store_drop(s);
        }
    }
}

void store_abandon(struct store *s)
{
    if (s->inflight > 0) {
        store_drop(s);
    }
}

/* The replies of n commands just appended (one round trip); as store_pipe_recv. */
int store_roundtrip(struct store *s, redisReply **r, size_t n, char *err, size_t errlen)
{
    store_pipe_sent(s, n);
    return store_pipe_recv(s, r, n, err, errlen);
}

/* Room for the replies of n commands; NULL with err on ENOMEM. */
redisReply **store_replies_new(size_t n, char *err, size_t errlen)
{
    redisReply **r = calloc(n ? n : 1, sizeof(*r));

    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
    }
    return r;
}

void store_free_replies(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i]) {
            freeReplyObject(r[i]);
        }
    }
}

void store_argv_push(struct argv_buf *b, const char *s, size_t len, size_t off)
{
    if (b->failed) {
        return;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        const char **v = realloc(b->argv, cap * sizeof(*v));
        size_t *l = v ? realloc(b->lens, cap * sizeof(*l)) : NULL;
        size_t *o = l ? realloc(b->off, cap * sizeof(*o)) : NULL;

        if (v) {
            b->argv = v;
        }
        if (l) {
            b->lens = l;
        }
        if (o == NULL) {
            b->failed = 1;
            return;
        }
        b->off = o;
        b->cap = cap;
    }
    b->argv[b->n] = s;
    b->lens[b->n] = len;
    b->off[b->n++] = off;
}

void store_argv_str(struct argv_buf *b, const char *s)
{
    store_argv_push(b, s, strlen(s), 0);
}

/* Room for len more bytes in the arena (kept), or NULL (failed set). */
static char *argv_room(struct argv_buf *b, size_t len)
{
    if (b->failed) {
        return NULL;
    }
    if (b->room - b->used <= len) {
        size_t room = b->room ? b->room : 4096;
        char *a;

        while (room - b->used <= len) {
            room *= 2;
        }
        if ((a = realloc(b->arena, room)) == NULL) {
            b->failed = 1;
            return NULL;
        }
        b->arena = a;
        b->room = room;
    }
    return b->arena + b->used;
}

/* The string written at the arena's end (len bytes at p) as the next
 * argument. */
static void argv_take(struct argv_buf *b, char *p, size_t len)
{
    p[len] = '\0';
    store_argv_push(b, NULL, len, b->used + 1);
    b->used += len + 1;
}

/* The concatenation of n strings as one argument. */
static void argv_cat(struct argv_buf *b, const char *const *parts, size_t n)
{
    size_t len = 0, l;
    char *p;

    for (size_t i = 0; i < n; i++) {
        len += strlen(parts[i]);
    }
    if ((p = argv_room(b, len)) == NULL) {
        return;
    }
    len = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(p + len, parts[i], l = strlen(parts[i]));
        len += l;
    }
    argv_take(b, p, len);
}

/* A customer's key: PREFIX c:{ID}SUFFIX. */
void store_argv_key(struct argv_buf *b, const struct store *s, const char *id,
                    const char *suffix)
{
    const char *parts[] = {s->opts.prefix, "c:{", id, "}", suffix};

    argv_cat(b, parts, 5);
}

void store_argv_int(struct argv_buf *b, int64_t v)
{
    char *p = argv_room(b, DECIMAL_MAX);

    if (p != NULL) {
        argv_take(b, p, decimal_i64(p, v));
    }
}

/* The shortest decimal that reads back as v (what Redis parses a score
 * with gives v exactly). */
void store_argv_double(struct argv_buf *b, double v)
{
    char *p = argv_room(b, 32);

    if (p != NULL) {
        numfmt_double(p, 32, v);
        argv_take(b, p, strlen(p));
    }
}

void store_argv_fmt(struct argv_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *p;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((p = argv_room(b, (size_t)n)) == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    argv_take(b, p, (size_t)n);
}

/* Empty the buffer for the next command, keeping its memory. */
void store_argv_reset(struct argv_buf *b)
{
    b->n = b->used = 0;
    b->failed = 0;
}

void store_argv_free(struct argv_buf *b)
{
    free(b->argv);
    free(b->lens);
    free(b->off);
    free(b->arena);
    memset(b, 0, sizeof(*b));
}

/* Append the command to the connection's output, in the protocol's form
 * (written here: hiredis' own formatting is a tenth of the commit path's
 * CPU).  0, -1 on ENOMEM. */
int store_argv_append(struct store *s, struct argv_buf *b)
{
    size_t need = 1 + DECIMAL_MAX + 2;
    char *p;

    if (b->failed) {
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        need += 1 + DECIMAL_MAX + 2 + b->lens[i] + 2;
    }
    if (need > s->resp_room) {
        char *r = realloc(s->resp, need);

        if (r == NULL) {
            return -1;
        }
        s->resp = r;
        s->resp_room = need;
    }
    p = s->resp;
    *p++ = '*';
    p += decimal_i64(p, (int64_t)b->n);
    *p++ = '\r';
    *p++ = '\n';
    for (size_t i = 0; i < b->n; i++) {
        const char *a = b->off[i] != 0 ? b->arena + b->off[i] - 1 : b->argv[i];

        *p++ = '$';
        p += decimal_i64(p, (int64_t)b->lens[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, a, b->lens[i]);
        p += b->lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    return redisAppendFormattedCommand(s->ctx, s->resp, (size_t)(p - s->resp)) == REDIS_OK
               ? 0
               : -1;
}
