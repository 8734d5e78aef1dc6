/*
 * store_route.c - where each command goes (store_int.h): the one Redis, or
 * on a Redis Cluster the master that serves its key's slot.
 *
 * Every command the store sends passes here in protocol form.  Without a
 * cluster that is the one connection.  On a cluster the store keeps one
 * connection per master and a list of the commands whose replies are
 * unread, in the order they were sent, each with the node it went to: a
 * pipeline spread over the masters is written to all of them at once
 * (store_flush) and its replies read back in order (store_next), so a
 * caller sees one pipeline whatever the number of masters.
 *
 * Redirections (Redis Cluster specification, "Redirection and
 * resharding"), followed by store_next before the caller sees the reply:
 *
 *   MOVED slot host:port   the slot lives there now: the command is sent
 *                          there, and the map is read again before the
 *                          next pipeline (not in the middle of one, whose
 *                          replies are still coming on the old routes);
 *   ASK slot host:port     this command only goes there, after ASKING (a
 *                          slot being migrated; the map is unchanged);
 *   TRYAGAIN, CLUSTERDOWN  a multi-key command during a migration, or a
 *                          cluster without a master for some slot (a
 *                          failover): tried again after a pause.
 *
 * A command sent again goes on the target's side connection, never on its
 * pipeline connection, whose replies may not all be read yet.  After
 * ROUTE_TRIES attempts the last error reply is the caller's, who treats it
 * as any error of Redis (the Redis-down path: pause, retry, resume).  A
 * connection that fails drops them all: store_connect reads the map again,
 * from the masters last known and then from the seeds.
 */
#include "state/store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/metrics.h"

/* Redirections and retries of one command before its error is returned. */
#define ROUTE_TRIES 8

/* One bulk string of a command in protocol form ("$LEN\r\nBYTES\r\n") at
 * *p, before e: its bytes in *s, *n, and *p past it.  0, or -1 if what is
 * there is not one. */
static int resp_bulk(const char **p, const char *e, const char **s, size_t *n)
{
    const char *q = *p;
    size_t len = 0;

    if (q >= e || *q != '$') {
        return -1;
    }
    for (q++; q < e && *q >= '0' && *q <= '9'; q++) {
        len = len * 10 + (size_t)(*q - '0');
    }
    if (e - q < 2 || q[0] != '\r' || q[1] != '\n') {
        return -1;
    }
    q += 2;
    if ((size_t)(e - q) < len + 2) {
        return -1;
    }
    *s = q;
    *n = len;
    *p = q + len + 2;
    return 0;
}

static int name_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

/* The store's commands name their key first, except the scripts' (FCALL
 * name numkeys key...) and the server's own commands listed here. */
int store_command_key(const char *cmd, size_t len, const char **key, size_t *klen)
{
    static const char *const keyless[] = {
        "ASKING",   "AUTH", "CLIENT", "CLUSTER", "CONFIG", "DBSIZE", "DISCARD", "EXEC",
        "FUNCTION", "INFO", "MULTI",  "PING",    "SCAN",   "SELECT", "UNWATCH", "WAIT",
    };
    const char *p = cmd, *e = cmd + len, *name, *arg;
    size_t n, alen;

    /* "*ARGC\r\n": the count is not needed, the bulk strings end it. */
    if ((p = memchr(cmd, '\n', len)) == NULL) {
        return 0;
    }
    p++;
    if (resp_bulk(&p, e, &name, &n) < 0) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++) {
        if (name_is(name, n, keyless[i])) {
            return 0;
        }
    }
    if (name_is(name, n, "FCALL") || name_is(name, n, "FCALL_RO") ||
        name_is(name, n, "EVAL") || name_is(name, n, "EVALSHA")) {
        if (resp_bulk(&p, e, &arg, &alen) < 0 || resp_bulk(&p, e, &arg, &alen) < 0 ||
            (alen == 1 && arg[0] == '0')) {
            return 0; /* no keys */
        }
    }
    return resp_bulk(&p, e, key, klen) == 0;
}

/* The index in nodes of the master a command goes to, or -1 (its slot has
 * none). */
static int route(const struct store_cluster *c, const char *cmd, size_t len)
{
    const char *key;
    size_t klen;

    if (!store_command_key(cmd, len, &key, &klen)) {
        return c->keyless;
    }
    return c->map.master[slot_of(key, klen)];
}

static int same_node(const struct slot_node *a, const struct slot_node *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void node_close(struct store_node *n)
{
    if (n->ctx) {
        redisFree(n->ctx);
    }
    if (n->side) {
        redisFree(n->side);
    }
    n->ctx = n->side = NULL;
}

/* The slot map as the node at addr sees it: 0, or -1 with err. */
static int map_from(struct store *s, const struct slot_node *addr, struct slot_map *m,
                    char *err, size_t errlen)
{
    redisContext *ctx = store_open(s, addr->host, addr->port, 1, err, errlen);
    redisReply *r;
    int rc;

    if (ctx == NULL) {
        return -1;
    }
    if ((r = redisCommand(ctx, "CLUSTER SLOTS")) == NULL) {
        snprintf(err, errlen, "redis %s:%d: %s", addr->host, addr->port, ctx->errstr);
        redisFree(ctx);
        return -1;
    }
    rc = slot_map_from_reply(m, r, err, errlen);
    freeReplyObject(r);
    redisFree(ctx);
    /* A node known only by its port is on the host that named it. */
    for (size_t i = 0; rc == 0 && i < m->nodes.n; i++) {
        if (m->nodes.v[i].host[0] == '\0') {
            memcpy(m->nodes.v[i].host, addr->host, sizeof(addr->host));
        }
    }
    return rc;
}

/*
 * Read the map again and connect to every master it names: the connections
 * to masters that remain are kept, a new master's is opened (the function
 * library loaded on it before anything is written there), a former
 * master's closed.  The masters last known are asked first, then the
 * seeds.  0, or -1 with err and every connection dropped.
 */
static int refresh(struct store *s, char *err, size_t errlen)
{
    struct store_cluster *c = s->cluster;
    struct slot_nodes ask = {0};
    struct slot_map m;
    struct store_node *nodes = NULL;
    int rc = -1;

    slot_map_init(&m);
    for (size_t i = 0; i < c->map.nodes.n; i++) {
        if (array_append(&ask, c->map.nodes.v[i]) < 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < c->seeds.n; i++) {
        if (array_append(&ask, c->seeds.v[i]) < 0) {
            goto out;
        }
    }
    snprintf(err, errlen, "redis cluster: no node to ask");
    for (size_t i = 0; i < ask.n && rc < 0; i++) {
        rc = map_from(s, &ask.v[i], &m, err, errlen);
    }
    if (rc < 0) {
        goto out;
    }
    rc = -1;
    if (m.covered < SLOT_COUNT) {
        snprintf(err, errlen,
                 "redis cluster: %d of %d slots have a master (a failover or a "
                 "resharding under way, or a cluster still being set up)",
                 m.covered, SLOT_COUNT);
        goto out;
    }
    if ((nodes = calloc(m.nodes.n ? m.nodes.n : 1, sizeof(*nodes))) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m.nodes.n; i++) {
        struct store_node *n = &nodes[i];

        n->addr = m.nodes.v[i];
        for (size_t j = 0; c->nodes && j < c->map.nodes.n; j++) {
            if (c->nodes[j].ctx && same_node(&c->nodes[j].addr, &n->addr)) {
                *n = c->nodes[j];
                c->nodes[j].ctx = c->nodes[j].side = NULL;
                break;
            }
        }
        if (n->ctx == NULL && (n->ctx = store_open(s, n->addr.host, n->addr.port, 0, err,
                                                   errlen)) == NULL) {
            goto out;
        }
    }
    rc = 0;
out:
    /* What was not carried over is closed; on failure, everything. */
    for (size_t i = 0; c->nodes && i < c->map.nodes.n; i++) {
        node_close(&c->nodes[i]);
    }
    free(c->nodes);
    c->nodes = NULL;
    if (rc == 0) {
        slot_map_free(&c->map);
        c->map = m;
        c->nodes = nodes;
        /* A SCAN going from master to master stays on its place. */
        if (c->keyless >= (int)m.nodes.n) {
            c->keyless = 0;
        }
        c->stale = 0;
    } else {
        for (size_t i = 0; nodes && i < m.nodes.n; i++) {
            node_close(&nodes[i]);
        }
        free(nodes);
        /* Keep the masters last known as the first to ask next time. */
        if (m.nodes.n > 0) {
            slot_map_free(&c->map);
            c->map = m;
        } else {
            slot_map_free(&m);
        }
    }
    array_free(&ask);
    return rc;
}

int store_route_connect(struct store *s, char *err, size_t errlen)
{
    return refresh(s, err, errlen);
}

int store_route_ok(const struct store *s)
{
    const struct store_cluster *c = s->cluster;

    if (c == NULL || c->nodes == NULL) {
        return 0;
    }
    for (size_t i = 0; i < c->map.nodes.n; i++) {
        if (c->nodes[i].ctx == NULL || c->nodes[i].ctx->err) {
            return 0;
        }
    }
    return 1;
}

void store_route_drop(struct store *s)
{
    struct store_cluster *c = s->cluster;

    if (c == NULL) {
        return;
    }
    for (size_t i = 0; c->nodes && i < c->map.nodes.n; i++) {
        node_close(&c->nodes[i]);
    }
    free(c->nodes);
    c->nodes = NULL;
    array_clear(&c->pending);
    c->next = 0;
    strbuf_reset(&c->sent);
}

void store_route_free(struct store *s)
{
    struct store_cluster *c = s->cluster;

    if (c == NULL) {
        return;
    }
    store_route_drop(s);
    slot_map_free(&c->map);
    array_free(&c->seeds);
    array_free(&c->pending);
    strbuf_free(&c->sent);
    free(c);
    s->cluster = NULL;
}

size_t store_scan_places(const struct store *s)
{
    return s->cluster ? s->cluster->map.nodes.n : 1;
}

void store_scan_place(struct store *s, size_t i)
{
    if (s->cluster && i < s->cluster->map.nodes.n) {
        s->cluster->keyless = (int)i;
    }
}

/* An I/O error of ctx: every connection dropped, -1. */
static int io_failed(struct store *s, redisContext *ctx, const struct slot_node *at,
                     char *err, size_t errlen)
{
    if (at) {
        snprintf(s->last_err, sizeof(s->last_err), "redis %s:%d: %s", at->host, at->port,
                 ctx ? ctx->errstr : "out of memory");
    } else {
        snprintf(s->last_err, sizeof(s->last_err), "redis: %s",
                 ctx ? ctx->errstr : "out of memory");
    }
    if (err) {
        snprintf(err, errlen, "%s", s->last_err);
    }
    store_drop(s);
    return -1;
}

int store_send(struct store *s, const char *cmd, size_t len)
{
    struct store_cluster *c = s->cluster;
    struct store_sent *q;
    char err[160];
    int node;

    if (c == NULL) {
        if (s->ctx == NULL || redisAppendFormattedCommand(s->ctx, cmd, len) != REDIS_OK) {
            return io_failed(s, s->ctx, NULL, NULL, 0);
        }
        return 0;
    }
    /* A MOVED seen: read the map again before a new pipeline. */
    if (c->stale && c->next == c->pending.n && refresh(s, err, sizeof(err)) < 0) {
        snprintf(s->last_err, sizeof(s->last_err), "%s", err);
        store_drop(s);
        return -1;
    }
    if (c->nodes == NULL) {
        snprintf(s->last_err, sizeof(s->last_err), "redis: not connected");
        return -1;
    }
    if ((node = route(c, cmd, len)) < 0) {
        snprintf(s->last_err, sizeof(s->last_err),
                 "redis cluster: CLUSTERDOWN a slot has no master");
        store_drop(s);
        return -1;
    }
    if ((q = array_push(&c->pending)) == NULL) {
        return io_failed(s, NULL, NULL, NULL, 0);
    }
    q->node = node;
    q->off = c->sent.len;
    q->len = len;
    strbuf_append(&c->sent, cmd, len);
    if (c->sent.failed ||
        redisAppendFormattedCommand(c->nodes[node].ctx, cmd, len) != REDIS_OK) {
        return io_failed(s, c->nodes[node].ctx, &c->nodes[node].addr, NULL, 0);
    }
    /* A MULTI or EXEC goes where the key before it went. */
    c->keyless = node;
    return 0;
}

int store_vsendf(struct store *s, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap), rc;

    if (len < 0) {
        snprintf(s->last_err, sizeof(s->last_err), "redis: out of memory");
        store_drop(s);
        return -1;
    }
    rc = store_send(s, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

int store_sendf(struct store *s, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = store_vsendf(s, fmt, ap);
    va_end(ap);
    return rc;
}

void store_flush(struct store *s)
{
    struct store_cluster *c = s->cluster;

    if (c == NULL) {
        int done = 0;

        while (store_ok(s) && !done) {
            if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
                store_drop(s);
            }
        }
        return;
    }
    for (size_t i = 0; c->nodes && i < c->map.nodes.n; i++) {
        redisContext *ctx = c->nodes[i].ctx;
        int done = 0;

        while (ctx && !done) {
            if (redisBufferWrite(ctx, &done) != REDIS_OK) {
                (void)io_failed(s, ctx, &c->nodes[i].addr, NULL, 0);
                return;
            }
        }
    }
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The reply of the command cmd sent again to the node at `to`, after
 * ASKING if `asking`: on the side connection of a master the map names, or
 * on a connection of its own to any other node.  NULL with err on an I/O
 * error. */
static redisReply *resend(struct store *s, const struct slot_node *to, int asking,
                          const char *cmd, size_t len, char *err, size_t errlen)
{
    struct store_cluster *c = s->cluster;
    redisContext **side = NULL, *own = NULL, *ctx;
    redisReply *r = NULL, *ok = NULL;

    for (size_t i = 0; c->nodes && i < c->map.nodes.n && side == NULL; i++) {
        if (same_node(&c->nodes[i].addr, to)) {
            side = &c->nodes[i].side;
        }
    }
    if (side && *side == NULL) {
        *side = store_open(s, to->host, to->port, 0, err, errlen);
    }
    ctx = side ? *side : (own = store_open(s, to->host, to->port, 0, err, errlen));
    if (ctx == NULL) {
        snprintf(s->last_err, sizeof(s->last_err), "%s", err);
        return NULL;
    }
    if ((asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
        redisAppendFormattedCommand(ctx, cmd, len) != REDIS_OK ||
        (asking && redisGetReply(ctx, (void **)&ok) != REDIS_OK) ||
        redisGetReply(ctx, (void **)&r) != REDIS_OK) {
        snprintf(err, errlen, "redis %s:%d: %s", to->host, to->port, ctx->errstr);
        snprintf(s->last_err, sizeof(s->last_err), "%s", err);
        r = NULL;
        if (side) {
            redisFree(*side);
            *side = NULL;
        }
    }
    if (ok) {
        freeReplyObject(ok);
    }
    if (own) {
        redisFree(own);
    }
    return r;
}

static int starts(const redisReply *r, const char *word)
{
    size_t n = strlen(word);

    return r->len >= n && strncmp(r->str, word, n) == 0;
}

/* Follow the redirections and retries of the command q whose reply *rp is
 * an error (see the top of the file).  0 with the final reply in *rp, which
 * may still be an error; -1 with err, *rp NULL, on an I/O error. */
static int follow(struct store *s, const struct store_sent *q, redisReply **rp, char *err,
                  size_t errlen)
{
    struct store_cluster *c = s->cluster;
    struct slot_node to = c->nodes[q->node].addr;
    const char *cmd = strbuf_str(&c->sent) + q->off;

    for (int tries = 0; (*rp)->type == REDIS_REPLY_ERROR && tries < ROUTE_TRIES;
         tries++) {
        struct slot_redirect rd;
        enum slot_redirect_kind k = slot_redirect_parse((*rp)->str, (*rp)->len, &rd);

        if (k != SLOT_REDIRECT_NONE) {
            if (rd.node.host[0] == '\0') {
                memcpy(rd.node.host, to.host, sizeof(to.host));
            }
            to = rd.node;
            c->stale |= k == SLOT_REDIRECT_MOVED;
            metrics_add(k == SLOT_REDIRECT_MOVED ? MC_REDIS_MOVED : MC_REDIS_ASK, 1);
        } else if (starts(*rp, "TRYAGAIN") || starts(*rp, "CLUSTERDOWN")) {
            metrics_add(MC_REDIS_TRYAGAIN, 1);
            nap_ms(10L << (tries < 5 ? tries : 5));
        } else {
            break;
        }
        freeReplyObject(*rp);
        if ((*rp = resend(s, &to, k == SLOT_REDIRECT_ASK, cmd, q->len, err, errlen)) ==
            NULL) {
            return -1;
        }
    }
    return 0;
}

int store_next(struct store *s, redisReply **out, char *err, size_t errlen)
{
    struct store_cluster *c = s->cluster;
    struct store_sent q;
    redisReply *r;
    int rc = 0;

    *out = NULL;
    if (c == NULL) {
        if (s->ctx == NULL || redisGetReply(s->ctx, (void **)&r) != REDIS_OK) {
            return io_failed(s, s->ctx, NULL, err, errlen);
        }
        *out = r;
        return 0;
    }
    if (c->nodes == NULL || c->next >= c->pending.n) {
        snprintf(err, errlen, "redis: not connected");
        return -1;
    }
    q = c->pending.v[c->next++];
    if (redisGetReply(c->nodes[q.node].ctx, (void **)&r) != REDIS_OK) {
        return io_failed(s, c->nodes[q.node].ctx, &c->nodes[q.node].addr, err, errlen);
    }
    if (r->type == REDIS_REPLY_ERROR && (rc = follow(s, &q, &r, err, errlen)) < 0) {
        store_drop(s);
        return -1;
    }
    /* The last reply of the pipeline: its bytes are no longer needed. */
    if (c->next == c->pending.n) {
        array_clear(&c->pending);
        c->next = 0;
        strbuf_reset(&c->sent);
    }
    *out = r;
    return rc;
}

int store_wait_replicas(struct store *s, int n, char *err, size_t errlen)
{
    size_t places = store_scan_places(s), i;
    int wait_ms = s->opts.timeout_ms / 2, rc = 0;
    redisReply *r;

    if (!store_usable(s, err, errlen)) {
        return -1;
    }
    for (i = 0; i < places; i++) {
        store_scan_place(s, i);
        if (store_sendf(s, "WAIT %d %d", n, wait_ms) < 0) {
            snprintf(err, errlen, "%s", s->last_err);
            return -1;
        }
    }
    store_flush(s);
    for (i = 0; i < 2 * places; i++) {
        const struct slot_node *at = NULL;

        if (i < places) {
            if (store_next(s, &r, err, errlen) < 0) {
                return -1;
            }
            at = s->cluster ? &s->cluster->nodes[i].addr : NULL;
        } else {
            /* A redirected command went on a side connection: WAIT counts
             * the writes of the connection it is sent on. */
            struct store_node *nd = s->cluster ? &s->cluster->nodes[i - places] : NULL;

            if (nd == NULL || nd->side == NULL) {
                continue;
            }
            if ((r = redisCommand(nd->side, "WAIT %d %d", n, wait_ms)) == NULL) {
                snprintf(err, errlen, "redis %s:%d: %s", nd->addr.host, nd->addr.port,
                         nd->side->errstr);
                redisFree(nd->side);
                nd->side = NULL;
                return -1;
            }
            at = &nd->addr;
        }
        if (rc == 0 && (r->type != REDIS_REPLY_INTEGER || r->integer < n)) {
            if (r->type == REDIS_REPLY_INTEGER) {
                snprintf(err, errlen,
                         "redis %s:%d: the writes reached %lld of the %d replicas "
                         "redis.wait_replicas asks for within %d ms",
                         at ? at->host : s->opts.host, at ? at->port : s->opts.port,
                         r->integer, n, wait_ms);
            } else {
                snprintf(err, errlen, "redis: WAIT: %s",
                         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            }
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}
