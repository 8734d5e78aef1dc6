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
        if (store_next(s, &r[i], err, errlen) < 0) {
            while (i-- > 0) {
                freeReplyObject(r[i]);
            }
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
    store_flush(s);
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
    if (array_append(b, ((struct argv_arg){s, len, off})) < 0) {
        b->failed = 1;
    }
}

void store_argv_str(struct argv_buf *b, const char *s)
{
    store_argv_push(b, s, strlen(s), 0);
}

/* What the arena gained since `from` as the next argument. */
static void argv_take(struct argv_buf *b, size_t from)
{
    if (b->arena.failed) {
        b->failed = 1;
        return;
    }
    store_argv_push(b, NULL, b->arena.len - from, from + 1);
}

/* A customer's key: PREFIX c:{ID}SUFFIX. */
void store_argv_key(struct argv_buf *b, const struct store *s, const char *id,
                    const char *suffix)
{
    size_t from = b->arena.len;

    strbuf_puts(&b->arena, s->opts.prefix);
    strbuf_puts(&b->arena, "c:{");
    strbuf_puts(&b->arena, id);
    strbuf_putc(&b->arena, '}');
    strbuf_puts(&b->arena, suffix);
    argv_take(b, from);
}

void store_argv_int(struct argv_buf *b, int64_t v)
{
    size_t from = b->arena.len;
    char buf[DECIMAL_MAX];

    strbuf_append(&b->arena, buf, decimal_i64(buf, v));
    argv_take(b, from);
}

/* The shortest decimal that reads back as v (what Redis parses a score
 * with gives v exactly). */
void store_argv_double(struct argv_buf *b, double v)
{
    size_t from = b->arena.len;
    char buf[32];

    numfmt_double(buf, sizeof(buf), v);
    strbuf_puts(&b->arena, buf);
    argv_take(b, from);
}

void store_argv_fmt(struct argv_buf *b, const char *fmt, ...)
{
    size_t from = b->arena.len;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vprintf(&b->arena, fmt, ap);
    va_end(ap);
    argv_take(b, from);
}

/* Empty the buffer for the next command, keeping its memory. */
void store_argv_reset(struct argv_buf *b)
{
    array_clear(b);
    strbuf_reset(&b->arena);
    b->failed = 0;
}

void store_argv_free(struct argv_buf *b)
{
    array_free(b);
    strbuf_free(&b->arena);
    b->failed = 0;
}

/* "*N\r\n" or "$N\r\n": a count or a length, as the protocol writes it. */
static void resp_head(struct strbuf *o, char tag, size_t n)
{
    char buf[DECIMAL_MAX];

    strbuf_putc(o, tag);
    strbuf_append(o, buf, decimal_i64(buf, (int64_t)n));
    strbuf_append(o, "\r\n", 2);
}

/* Append the command to the connection's output, in the protocol's form
 * (written here: hiredis' own formatting is a tenth of the commit path's
 * CPU).  0, -1 on ENOMEM. */
int store_argv_append(struct store *s, struct argv_buf *b)
{
    struct strbuf *o = &s->resp;

    if (b->failed) {
        return -1;
    }
    strbuf_reset(o);
    resp_head(o, '*', b->n);
    for (size_t i = 0; i < b->n; i++) {
        const struct argv_arg *g = &b->v[i];

        resp_head(o, '$', g->len);
        strbuf_append(o, g->off != 0 ? strbuf_str(&b->arena) + g->off - 1 : g->s, g->len);
        strbuf_append(o, "\r\n", 2);
    }
    if (o->failed) {
        return -1;
    }
    return store_send(s, o->s, o->len);
}
