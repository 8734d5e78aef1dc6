/*
 * slot.c - key slots, the slot map and the cluster's redirections (slot.h).
 *
 * The CRC is computed a bit at a time, as the specification defines it:
 * keys are a few dozen bytes and each costs a round trip to Redis, so a
 * table would buy nothing measurable.
 */
#include "state/store/slot.h"

#include <stdio.h>
#include <string.h>

uint16_t slot_crc16(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned crc = 0;

    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)b[i] << 8;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
        }
    }
    return (uint16_t)crc;
}

int slot_of(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    if (open != NULL) {
        size_t after = (size_t)(open - key) + 1;

        close = memchr(open + 1, '}', len - after);
        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - key);
        }
    }
    return slot_crc16(key, len) & (SLOT_COUNT - 1);
}

void slot_map_init(struct slot_map *m)
{
    memset(&m->nodes, 0, sizeof(m->nodes));
    m->covered = 0;
    for (int s = 0; s < SLOT_COUNT; s++) {
        m->master[s] = -1;
    }
}

void slot_map_free(struct slot_map *m)
{
    array_free(&m->nodes);
    slot_map_init(m);
}

const struct slot_node *slot_map_master(const struct slot_map *m, int slot)
{
    if (slot < 0 || slot >= SLOT_COUNT || m->master[slot] < 0) {
        return NULL;
    }
    return &m->nodes.v[m->master[slot]];
}

/* ---- CLUSTER SLOTS ------------------------------------------------------------ */

static const char *type_name(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING:
        return "a string";
    case REDIS_REPLY_ARRAY:
        return "an array";
    case REDIS_REPLY_INTEGER:
        return "an integer";
    case REDIS_REPLY_NIL:
        return "nil";
    case REDIS_REPLY_STATUS:
        return "a status";
    case REDIS_REPLY_ERROR:
        return "an error";
    default:
        return "of an unknown type";
    }
}

/* What r is, for an error when it should have been an array of at least
 * min elements. */
static const char *shape(const redisReply *r, size_t min)
{
    if (r == NULL) {
        return "missing";
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        return type_name(r->type);
    }
    if (r->elements > 0 && r->element == NULL) {
        return "an array without its elements";
    }
    return min == 2 ? "an array of fewer than 2 elements"
                    : "an array of fewer than 3 elements";
}

/* A node [host, port, ...] of a range into *out; 0, or -1 with the reason
 * (without the range, which the caller puts before it) in why. */
static int read_node(const redisReply *r, struct slot_node *out, char *why, size_t whylen)
{
    const redisReply *host, *port;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element == NULL) {
        snprintf(why, whylen, "is %s, not an array of host and port", shape(r, 2));
        return -1;
    }
    host = r->element[0];
    port = r->element[1];
    memset(out, 0, sizeof(*out));
    if (host == NULL ||
        (host->type != REDIS_REPLY_STRING && host->type != REDIS_REPLY_NIL)) {
        snprintf(why, whylen, "host is %s, not a string",
                 host == NULL ? "missing" : type_name(host->type));
        return -1;
    }
    if (host->type == REDIS_REPLY_STRING) {
        if (host->len >= SLOT_HOST_MAX) {
            snprintf(why, whylen, "host of %zu bytes, longer than %d", host->len,
                     SLOT_HOST_MAX - 1);
            return -1;
        }
        if (host->len > 0 && (host->str == NULL || memchr(host->str, '\0', host->len))) {
            snprintf(why, whylen, "host holds a NUL byte");
            return -1;
        }
        if (host->len > 0) {
            memcpy(out->host, host->str, host->len);
        }
    }
    if (port == NULL || port->type != REDIS_REPLY_INTEGER) {
        snprintf(why, whylen, "port is %s, not an integer",
                 port == NULL ? "missing" : type_name(port->type));
        return -1;
    }
    if (port->integer < 1 || port->integer > 65535) {
        snprintf(why, whylen, "port %lld out of 1..65535", port->integer);
        return -1;
    }
    out->port = (int)port->integer;
    return 0;
}

/* The index of node in nodes, added if it is not there yet; -1 on ENOMEM. */
static int node_index(struct slot_nodes *nodes, const struct slot_node *node)
{
    for (size_t i = 0; i < nodes->n; i++) {
        if (nodes->v[i].port == node->port && strcmp(nodes->v[i].host, node->host) == 0) {
            return (int)i;
        }
    }
    if (array_append(nodes, *node) < 0) {
        return -1;
    }
    return (int)nodes->n - 1;
}

/* Range i of the reply into t; 0, or -1 with err set. */
static int read_range(struct slot_map *t, const redisReply *e, size_t i, char *err,
                      size_t errlen)
{
    const redisReply *lo, *hi;
    struct slot_node node;
    char why[160];
    int idx;

    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element == NULL) {
        snprintf(err, errlen,
                 "CLUSTER SLOTS: range %zu is %s, not an array of start, end and nodes",
                 i, shape(e, 3));
        return -1;
    }
    lo = e->element[0];
    hi = e->element[1];
    if (lo == NULL || hi == NULL || lo->type != REDIS_REPLY_INTEGER ||
        hi->type != REDIS_REPLY_INTEGER) {
        const redisReply *bad = (lo == NULL || lo->type != REDIS_REPLY_INTEGER) ? lo : hi;

        snprintf(err, errlen, "CLUSTER SLOTS: range %zu: %s is %s, not an integer", i,
                 bad == lo ? "start" : "end",
                 bad == NULL ? "missing" : type_name(bad->type));
        return -1;
    }
    if (lo->integer < 0 || hi->integer >= SLOT_COUNT || lo->integer > hi->integer) {
        snprintf(err, errlen, "CLUSTER SLOTS: range %zu: slots %lld-%lld not within 0-%d",
                 i, lo->integer, hi->integer, SLOT_COUNT - 1);
        return -1;
    }
    for (size_t k = e->elements; k-- > 2;) {
        /* the replicas first, so that node is the master's at the end */
        if (read_node(e->element[k], &node, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "CLUSTER SLOTS: range %zu (slots %lld-%lld): %s %s", i,
                     lo->integer, hi->integer, k == 2 ? "master" : "replica", why);
            return -1;
        }
    }
    if (strcmp(node.host, "?") == 0) {
        snprintf(err, errlen,
                 "CLUSTER SLOTS: range %zu (slots %lld-%lld): the master's endpoint is "
                 "\"?\" (a hostname preferred, none configured)",
                 i, lo->integer, hi->integer);
        return -1;
    }
    for (long long s = lo->integer; s <= hi->integer; s++) {
        if (t->master[s] >= 0) {
            snprintf(err, errlen,
                     "CLUSTER SLOTS: range %zu: slot %lld is in an earlier range too", i,
                     s);
            return -1;
        }
    }
    if ((idx = node_index(&t->nodes, &node)) < 0) {
        snprintf(err, errlen, "CLUSTER SLOTS: out of memory");
        return -1;
    }
    for (long long s = lo->integer; s <= hi->integer; s++) {
        t->master[s] = (int16_t)idx;
    }
    t->covered += (int)(hi->integer - lo->integer + 1);
    return 0;
}

int slot_map_from_reply(struct slot_map *m, const redisReply *r, char *err, size_t errlen)
{
    struct slot_map t;

    if (r == NULL) {
        snprintf(err, errlen, "CLUSTER SLOTS: no reply");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "CLUSTER SLOTS: %.*s",
                 r->str ? (int)(r->len > 200 ? 200 : r->len) : 0, r->str ? r->str : "");
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS: the reply is %s, not an array",
                 type_name(r->type));
        return -1;
    }
    if (r->elements > 0 && r->element == NULL) {
        snprintf(err, errlen, "CLUSTER SLOTS: the reply's array has no elements");
        return -1;
    }
    slot_map_init(&t);
    for (size_t i = 0; i < r->elements; i++) {
        if (read_range(&t, r->element[i], i, err, errlen) < 0) {
            slot_map_free(&t);
            return -1;
        }
    }
    slot_map_free(m);
    *m = t;
    return 0;
}

/* ---- MOVED and ASK, seeds ------------------------------------------------------- */

/* The n bytes at p as a decimal number in 0..max (digits only, at most 9):
 * the number, or -1. */
static long parse_number(const char *p, size_t n, long max)
{
    long v = 0;

    if (n == 0 || n > 9) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    return v <= max ? v : -1;
}

enum slot_redirect_kind slot_redirect_parse(const char *text, size_t len,
                                            struct slot_redirect *out)
{
    enum slot_redirect_kind kind;
    const char *p, *end, *sp, *colon, *host;
    size_t hostlen;
    long slot, port;

    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        return SLOT_REDIRECT_NONE;
    }
    end = text + len;
    if (len > 6 && memcmp(text, "MOVED ", 6) == 0) {
        kind = SLOT_REDIRECT_MOVED;
        p = text + 6;
    } else if (len > 4 && memcmp(text, "ASK ", 4) == 0) {
        kind = SLOT_REDIRECT_ASK;
        p = text + 4;
    } else {
        return SLOT_REDIRECT_NONE;
    }
    if ((sp = memchr(p, ' ', (size_t)(end - p))) == NULL ||
        (slot = parse_number(p, (size_t)(sp - p), SLOT_COUNT - 1)) < 0) {
        return SLOT_REDIRECT_NONE;
    }
    host = sp + 1;
    colon = NULL;
    for (const char *q = host; q < end; q++) {
        if (*q == ' ' || *q == '\0' || *q == '\r' || *q == '\n') {
            return SLOT_REDIRECT_NONE;
        }
        if (*q == ':') {
            colon = q;
        }
    }
    if (colon == NULL ||
        (port = parse_number(colon + 1, (size_t)(end - colon - 1), 65535)) < 1) {
        return SLOT_REDIRECT_NONE;
    }
    hostlen = (size_t)(colon - host);
    if (hostlen >= 2 && host[0] == '[' && host[hostlen - 1] == ']') {
        host++;
        hostlen -= 2;
    }
    if (hostlen >= SLOT_HOST_MAX) {
        return SLOT_REDIRECT_NONE;
    }
    out->kind = kind;
    out->slot = (int)slot;
    memcpy(out->node.host, host, hostlen);
    out->node.port = (int)port;
    return kind;
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

static int ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.';
}

static void bad_char(char *why, size_t whylen, char c, const char *where)
{
    if (c >= ' ' && c < 127) {
        snprintf(why, whylen, "'%c' in %s", c, where);
    } else {
        snprintf(why, whylen, "byte 0x%02x in %s", (unsigned char)c, where);
    }
}

/* One entry of n bytes at p (blanks trimmed, not empty) into *node; 0, or
 * -1 with the reason in why. */
static int read_seed(const char *p, size_t n, struct slot_node *node, char *why,
                     size_t whylen)
{
    const char *host = p, *colon;
    size_t hostlen;
    long port;
    int bracketed = p[0] == '[';

    if (bracketed) {
        const char *close = memchr(p, ']', n);

        if (close == NULL) {
            snprintf(why, whylen, "'[' without its ']'");
            return -1;
        }
        host = p + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
        if (colon == p + n || *colon != ':') {
            snprintf(why, whylen, "no :PORT after the ']'");
            return -1;
        }
        if (hostlen == 0 || memchr(host, ':', hostlen) == NULL) {
            snprintf(why, whylen, "not an IPv6 address between the brackets");
            return -1;
        }
        for (size_t i = 0; i < hostlen; i++) {
            if (!ipv6_char(host[i])) {
                bad_char(why, whylen, host[i], "an IPv6 address");
                return -1;
            }
        }
    } else {
        colon = memchr(p, ':', n);
        if (colon == NULL) {
            snprintf(why, whylen, "no :PORT");
            return -1;
        }
        if (memchr(colon + 1, ':', (size_t)(p + n - colon - 1)) != NULL) {
            snprintf(why, whylen, "an IPv6 address goes in brackets, as [::1]:7000");
            return -1;
        }
        hostlen = (size_t)(colon - p);
        if (hostlen == 0) {
            snprintf(why, whylen, "no host before the ':'");
            return -1;
        }
        for (size_t i = 0; i < hostlen; i++) {
            if (!host_char(p[i])) {
                bad_char(why, whylen, p[i], "a host name");
                return -1;
            }
        }
    }
    if (hostlen >= SLOT_HOST_MAX) {
        snprintf(why, whylen, "a host of %zu bytes, longer than %d", hostlen,
                 SLOT_HOST_MAX - 1);
        return -1;
    }
    port = parse_number(colon + 1, (size_t)(p + n - colon - 1), 65535);
    if (port < 1) {
        snprintf(why, whylen, "the port is not a number in 1..65535");
        return -1;
    }
    memset(node, 0, sizeof(*node));
    memcpy(node->host, host, hostlen);
    node->port = (int)port;
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

int slot_seeds_parse(const char *text, struct slot_nodes *out, char *err, size_t errlen)
{
    size_t n0 = out->n;
    const char *p = text;
    int count = 0;

    if (text == NULL || text[strspn(text, " \t")] == '\0') {
        snprintf(err, errlen, "seed list: empty (HOST:PORT,HOST:PORT,...)");
        return -1;
    }
    for (;;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p), *b = p;
        struct slot_node node;
        char why[96];
        int bad;

        while (b < end && blank(*b)) {
            b++;
        }
        while (end > b && blank(end[-1])) {
            end--;
        }
        if (b == end) {
            snprintf(err, errlen, "seed list: entry %d is empty", count + 1);
            bad = 1;
        } else if (read_seed(b, (size_t)(end - b), &node, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "seed list: entry %d \"%.*s\": %s", count + 1,
                     (int)((end - b) > 80 ? 80 : (end - b)), b, why);
            bad = 1;
        } else if (array_append(out, node) < 0) {
            snprintf(err, errlen, "seed list: out of memory");
            bad = 1;
        } else {
            bad = 0;
        }
        if (bad) {
            out->n = n0;
            return -1;
        }
        count++;
        if (comma == NULL) {
            return count;
        }
        p = comma + 1;
    }
}
