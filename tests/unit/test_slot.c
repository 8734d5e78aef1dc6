/*
 * test_slot.c - state/store/slot.c: CRC16-XMODEM against published vectors,
 * hash tags as the Redis Cluster specification reads them, the slot map from
 * hand-built CLUSTER SLOTS replies (good ones of every Redis version's shape,
 * and malformed ones refused with the map kept), MOVED and ASK, seed lists.
 * tests/integration/test_cluster.py checks slot_of against Redis itself.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/store/slot.h"
#include "state/store/store_int.h"
#include "tests/unit/check_main.h"

/* ---- slots ------------------------------------------------------------------------ */

static int whole(const char *key, size_t len)
{
    return slot_crc16(key, len) % SLOT_COUNT;
}

static int slot_str(const char *key)
{
    return slot_of(key, strlen(key));
}

START_TEST(test_crc16_vectors)
{
    /* The CRC catalogue's check value of CRC-16/XMODEM, and others of the
     * same parameters; the slots of the Redis documentation's examples. */
    ck_assert_uint_eq(slot_crc16("123456789", 9), 0x31C3);
    ck_assert_uint_eq(slot_crc16("", 0), 0x0000);
    ck_assert_uint_eq(slot_crc16("A", 1), 0x58E5);
    ck_assert_uint_eq(slot_crc16("foo", 3), 0xAF96);
    ck_assert_uint_eq(slot_crc16("\0", 1), 0x0000);
    ck_assert_uint_eq(slot_crc16("\xff", 1), 0x1EF0);
    ck_assert_int_eq(slot_str("foo"), 12182);
    ck_assert_int_eq(slot_str("somekey"), 11058);
    ck_assert_int_eq(slot_str("foo{hash_tag}"), 2515);
    ck_assert_int_eq(slot_str("123456789"), 0x31C3 % SLOT_COUNT);
}
END_TEST

START_TEST(test_hash_tags)
{
    /* The specification's examples. */
    ck_assert_int_eq(slot_str("{user1000}.following"), slot_str("user1000"));
    ck_assert_int_eq(slot_str("{user1000}.followers"), slot_str("user1000"));
    ck_assert_int_eq(slot_str("foo{}{bar}"), whole("foo{}{bar}", 10));
    ck_assert_int_eq(slot_str("foo{{bar}}zap"), slot_str("{bar"));
    ck_assert_int_eq(slot_str("foo{bar}{zap}"), slot_str("bar"));
    /* An empty tag, no tag, a tag not closed: the whole key. */
    ck_assert_int_eq(slot_str("{}"), whole("{}", 2));
    ck_assert_int_eq(slot_str("{}x"), whole("{}x", 3));
    ck_assert_int_eq(slot_str("plainkey"), whole("plainkey", 8));
    ck_assert_int_eq(slot_str("{"), whole("{", 1));
    ck_assert_int_eq(slot_str("}"), whole("}", 1));
    ck_assert_int_eq(slot_str("{abc"), whole("{abc", 4));
    ck_assert_int_eq(slot_str(""), 0);
    /* A '}' before the first '{' does not close it. */
    ck_assert_int_eq(slot_str("}{"), whole("}{", 2));
    ck_assert_int_eq(slot_str("a}b{c"), whole("a}b{c", 5));
    ck_assert_int_eq(slot_str("a}b{c}d"), slot_str("c"));
    /* The first '}' after the first '{', whatever comes after it. */
    ck_assert_int_eq(slot_str("x{a}b}"), slot_str("a"));
    ck_assert_int_eq(slot_str("{{}}"), slot_str("{"));
    /* The project's keys: a customer's hash and packed state share a slot. */
    ck_assert_int_eq(slot_str("loyalty:c:{42}"), slot_str("42"));
    ck_assert_int_eq(slot_str("loyalty:c:{42}:state"), slot_str("loyalty:c:{42}"));
    ck_assert_int_ne(slot_str("loyalty:c:{42}"), slot_str("loyalty:c:{43}"));
    /* Bytes, not C strings: a NUL inside the key or the tag counts. */
    ck_assert_int_eq(slot_of("a\0{x}", 5), slot_str("x"));
    ck_assert_int_eq(slot_of("{\0}", 3), slot_of("\0", 1));
    ck_assert_int_eq(slot_of("{ab}", 3), whole("{ab", 3)); /* the '}' not within len */
    ck_assert_int_ne(slot_of("ab\0", 3), slot_of("ab", 2));
}
END_TEST

/* Every slot is in range and the tag rules hold for generated keys: a key
 * with a non-empty tag has the tag's slot, others the whole key's. */
START_TEST(test_slot_range)
{
    unsigned seed = 12345;
    char key[24];

    for (int i = 0; i < 20000; i++) {
        size_t len = (seed = seed * 1103515245u + 12345u) >> 16 & 15;
        int s;

        for (size_t j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            key[j] = "ab{}\0\xff"[(seed >> 16) % 6];
        }
        s = slot_of(key, len);
        ck_assert_int_ge(s, 0);
        ck_assert_int_lt(s, SLOT_COUNT);
        {
            const char *o = memchr(key, '{', len);
            const char *c = o ? memchr(o + 1, '}', len - (size_t)(o + 1 - key)) : NULL;

            if (c != NULL && c > o + 1) {
                ck_assert_int_eq(s, whole(o + 1, (size_t)(c - o - 1)));
            } else {
                ck_assert_int_eq(s, whole(key, len));
            }
        }
    }
}
END_TEST

/* ---- hand-built replies -------------------------------------------------------------
 */

static redisReply *rep_new(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    ck_assert_ptr_nonnull(r);
    r->type = type;
    return r;
}

static redisReply *rep_int(long long v)
{
    redisReply *r = rep_new(REDIS_REPLY_INTEGER);

    r->integer = v;
    return r;
}

static redisReply *rep_bytes(int type, const char *s, size_t len)
{
    redisReply *r = rep_new(type);

    r->str = malloc(len + 1);
    ck_assert_ptr_nonnull(r->str);
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static redisReply *rep_str(const char *s)
{
    return rep_bytes(REDIS_REPLY_STRING, s, strlen(s));
}

static redisReply *rep_nil(void)
{
    return rep_new(REDIS_REPLY_NIL);
}

/* An array of n replies (NULL stands for a missing element). */
static redisReply *rep_arr(int n, ...)
{
    redisReply *r = rep_new(REDIS_REPLY_ARRAY);
    va_list ap;

    r->elements = (size_t)n;
    if (n > 0) {
        r->element = calloc((size_t)n, sizeof(*r->element));
        ck_assert_ptr_nonnull(r->element);
    }
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        r->element[i] = va_arg(ap, redisReply *);
    }
    va_end(ap);
    return r;
}

static void rep_free(redisReply *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        rep_free(r->element[i]);
    }
    free(r->element);
    free(r->str);
    free(r);
}

/* A node as Redis 7 gives it: ip, port, id, metadata. */
static redisReply *node7(const char *ip, int port, const char *id)
{
    return rep_arr(4, rep_str(ip), rep_int(port), rep_str(id), rep_arr(0));
}

/* What a cluster of three masters with a replica each answers. */
static redisReply *three_masters(void)
{
    return rep_arr(
        3,
        rep_arr(4, rep_int(0), rep_int(5460), node7("127.0.0.1", 17001, "a1"),
                node7("127.0.0.1", 17005, "r1")),
        rep_arr(4, rep_int(5461), rep_int(10922), node7("127.0.0.1", 17002, "a2"),
                node7("127.0.0.1", 17006, "r2")),
        rep_arr(4, rep_int(10923), rep_int(16383), node7("127.0.0.1", 17003, "a3"),
                node7("127.0.0.1", 17004, "r3")));
}

static void assert_master(const struct slot_map *m, int slot, const char *host, int port)
{
    const struct slot_node *n = slot_map_master(m, slot);

    ck_assert_msg(n != NULL, "slot %d: no master", slot);
    ck_assert_str_eq(n->host, host);
    ck_assert_int_eq(n->port, port);
}

START_TEST(test_map_three_masters)
{
    struct slot_map *m = malloc(sizeof(*m));
    redisReply *r = three_masters();
    char err[256] = "";

    ck_assert_ptr_nonnull(m);
    slot_map_init(m);
    ck_assert_int_eq(m->covered, 0);
    ck_assert_ptr_null(slot_map_master(m, 0));
    ck_assert_msg(slot_map_from_reply(m, r, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(m->covered, SLOT_COUNT);
    ck_assert_uint_eq(m->nodes.n, 3);
    assert_master(m, 0, "127.0.0.1", 17001);
    assert_master(m, 5460, "127.0.0.1", 17001);
    assert_master(m, 5461, "127.0.0.1", 17002);
    assert_master(m, 10922, "127.0.0.1", 17002);
    assert_master(m, 10923, "127.0.0.1", 17003);
    assert_master(m, 16383, "127.0.0.1", 17003);
    assert_master(m, slot_str("foo"), "127.0.0.1", 17003); /* 12182 */
    ck_assert_ptr_null(slot_map_master(m, -1));
    ck_assert_ptr_null(slot_map_master(m, SLOT_COUNT));
    /* Read again into the same map: replaced, not added to. */
    ck_assert_int_eq(slot_map_from_reply(m, r, err, sizeof(err)), 0);
    ck_assert_uint_eq(m->nodes.n, 3);
    ck_assert_int_eq(m->covered, SLOT_COUNT);
    rep_free(r);
    slot_map_free(m);
    ck_assert_uint_eq(m->nodes.n, 0);
    ck_assert_ptr_null(slot_map_master(m, 0));
    free(m);
}
END_TEST

START_TEST(test_map_shapes)
{
    struct slot_map *m = malloc(sizeof(*m));
    char err[256] = "";
    redisReply *r;

    ck_assert_ptr_nonnull(m);
    slot_map_init(m);

    /* Redis 3: host and port only; one master for several ranges, kept
     * once; slots no range names stay unserved. */
    r = rep_arr(3,
                rep_arr(3, rep_int(0), rep_int(99),
                        rep_arr(2, rep_str("10.0.0.1"), rep_int(6379))),
                rep_arr(3, rep_int(200), rep_int(299),
                        rep_arr(2, rep_str("10.0.0.1"), rep_int(6379))),
                rep_arr(3, rep_int(100), rep_int(100),
                        rep_arr(2, rep_str("10.0.0.1"), rep_int(6380))));
    ck_assert_msg(slot_map_from_reply(m, r, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(m->nodes.n, 2);
    ck_assert_int_eq(m->covered, 201);
    assert_master(m, 0, "10.0.0.1", 6379);
    assert_master(m, 99, "10.0.0.1", 6379);
    assert_master(m, 100, "10.0.0.1", 6380);
    ck_assert_ptr_null(slot_map_master(m, 101));
    ck_assert_ptr_null(slot_map_master(m, 199));
    assert_master(m, 299, "10.0.0.1", 6379);
    ck_assert_ptr_null(slot_map_master(m, 300));
    rep_free(r);

    /* Redis 7: a NIL endpoint (unknown) and an empty one (a node that does
     * not know its address) are the asked host: ""; so are they one node
     * when their ports are equal. A replica's "?" is not read. */
    r = rep_arr(2,
                rep_arr(4, rep_int(0), rep_int(8191),
                        rep_arr(4, rep_nil(), rep_int(7000), rep_str("id"), rep_arr(0)),
                        node7("?", 7003, "r")),
                rep_arr(3, rep_int(8192), rep_int(16383),
                        rep_arr(3, rep_str(""), rep_int(7000), rep_str("id"))));
    ck_assert_msg(slot_map_from_reply(m, r, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(m->nodes.n, 1);
    ck_assert_int_eq(m->covered, SLOT_COUNT);
    assert_master(m, 0, "", 7000);
    assert_master(m, 16383, "", 7000);
    rep_free(r);

    /* A hostname, and IPv6, as they come. */
    r = rep_arr(2,
                rep_arr(3, rep_int(0), rep_int(0), node7("redis-0.example", 6379, "x")),
                rep_arr(3, rep_int(1), rep_int(1), node7("::1", 6379, "y")));
    ck_assert_msg(slot_map_from_reply(m, r, err, sizeof(err)) == 0, "%s", err);
    assert_master(m, 0, "redis-0.example", 6379);
    assert_master(m, 1, "::1", 6379);
    ck_assert_int_eq(m->covered, 2);
    rep_free(r);

    /* No slot assigned yet: a map that serves none. */
    r = rep_arr(0);
    ck_assert_msg(slot_map_from_reply(m, r, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(m->covered, 0);
    ck_assert_uint_eq(m->nodes.n, 0);
    ck_assert_ptr_null(slot_map_master(m, 0));
    rep_free(r);

    slot_map_free(m);
    free(m);
}
END_TEST

static char long_host[SLOT_HOST_MAX + 1];

/* Malformed reply number _i, with the words its error must hold. */
static redisReply *malformed(int i, const char **want)
{
#define RANGE3(a, b, node) rep_arr(3, rep_int(a), rep_int(b), node)
#define ONE(x)             rep_arr(1, x)
    switch (i) {
    case 0:
        *want = "CLUSTER SLOTS: ERR This instance has cluster support disabled";
        return rep_bytes(REDIS_REPLY_ERROR,
                         "ERR This instance has cluster support disabled", 47);
    case 1:
        *want = "the reply is an integer, not an array";
        return rep_int(3);
    case 2:
        *want = "the reply is a string, not an array";
        return rep_str("0 16383 127.0.0.1:7000");
    case 3:
        *want = "the reply is nil";
        return rep_nil();
    case 4:
        *want = "range 0 is an integer, not an array of start, end and nodes";
        return ONE(rep_int(0));
    case 5:
        *want = "range 0 is an array of fewer than 3 elements";
        return ONE(rep_arr(2, rep_int(0), rep_int(16383)));
    case 6:
        *want = "range 1 is missing";
        return rep_arr(2, RANGE3(0, 1, node7("h", 1, "i")), NULL);
    case 7:
        *want = "range 0: start is a string, not an integer";
        return ONE(rep_arr(3, rep_str("0"), rep_int(5), node7("h", 1, "i")));
    case 8:
        *want = "range 0: end is nil, not an integer";
        return ONE(rep_arr(3, rep_int(0), rep_nil(), node7("h", 1, "i")));
    case 9:
        *want = "range 0: slots 10-9 not within 0-16383";
        return ONE(RANGE3(10, 9, node7("h", 1, "i")));
    case 10:
        *want = "range 0: slots 0-16384 not within 0-16383";
        return ONE(RANGE3(0, 16384, node7("h", 1, "i")));
    case 11:
        *want = "range 0: slots -1-5 not within 0-16383";
        return ONE(RANGE3(-1, 5, node7("h", 1, "i")));
    case 12:
        *want = "range 0 (slots 0-5): master is a string, not an array of host and port";
        return ONE(RANGE3(0, 5, rep_str("h:1")));
    case 13:
        *want = "master is an array of fewer than 2 elements";
        return ONE(RANGE3(0, 5, rep_arr(1, rep_str("h"))));
    case 14:
        *want = "master host is an integer, not a string";
        return ONE(RANGE3(0, 5, rep_arr(2, rep_int(1), rep_int(1))));
    case 15:
        *want = "master port is a string, not an integer";
        return ONE(RANGE3(0, 5, rep_arr(2, rep_str("h"), rep_str("7000"))));
    case 16:
        *want = "master port 0 out of 1..65535";
        return ONE(RANGE3(0, 5, node7("h", 0, "i")));
    case 17:
        *want = "master port 65536 out of 1..65535";
        return ONE(RANGE3(0, 5, node7("h", 65536, "i")));
    case 18:
        *want = "master host holds a NUL byte";
        return ONE(RANGE3(
            0, 5, rep_arr(2, rep_bytes(REDIS_REPLY_STRING, "h\0x", 3), rep_int(1))));
    case 19:
        *want = "master host of 256 bytes, longer than 255";
        memset(long_host, 'h', SLOT_HOST_MAX);
        return ONE(RANGE3(0, 5, node7(long_host, 1, "i")));
    case 20:
        *want = "the master's endpoint is \"?\"";
        return ONE(RANGE3(0, 5, node7("?", 7000, "i")));
    case 21:
        *want = "range 0 (slots 0-5): replica port is nil, not an integer";
        return ONE(rep_arr(4, rep_int(0), rep_int(5), node7("h", 1, "i"),
                           rep_arr(2, rep_str("r"), rep_nil())));
    case 22:
        *want = "range 1: slot 5 is in an earlier range too";
        return rep_arr(2, RANGE3(0, 5, node7("h", 1, "i")),
                       RANGE3(5, 9, node7("g", 1, "j")));
    case 23:
        *want = "range 0 (slots 0-5): master is missing";
        return ONE(rep_arr(3, rep_int(0), rep_int(5), NULL));
    case 24:
        *want = "master host is missing";
        return ONE(RANGE3(0, 5, rep_arr(2, NULL, rep_int(1))));
    case 25:
        *want = "range 2: slot 50 is in an earlier range too";
        return rep_arr(3, RANGE3(100, 200, node7("h", 1, "i")),
                       RANGE3(0, 99, node7("h", 1, "i")),
                       RANGE3(50, 100, node7("h", 1, "i")));
    default:
        return NULL;
    }
#undef RANGE3
#undef ONE
}

#define MALFORMED 26

START_TEST(test_map_malformed)
{
    struct slot_map *m = malloc(sizeof(*m));
    redisReply *good = three_masters(), *bad;
    const char *want = NULL;
    char err[256];

    ck_assert_ptr_nonnull(m);
    slot_map_init(m);
    ck_assert_int_eq(slot_map_from_reply(m, good, err, sizeof(err)), 0);
    bad = malformed(_i, &want);
    err[0] = '\0';
    ck_assert_int_eq(slot_map_from_reply(m, bad, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, want) != NULL, "case %d: \"%s\" does not say \"%s\"", _i,
                  err, want);
    /* The map is the one before. */
    ck_assert_int_eq(m->covered, SLOT_COUNT);
    ck_assert_uint_eq(m->nodes.n, 3);
    assert_master(m, 0, "127.0.0.1", 17001);
    assert_master(m, 16383, "127.0.0.1", 17003);
    rep_free(bad);
    rep_free(good);
    slot_map_free(m);
    free(m);
}
END_TEST

START_TEST(test_map_no_reply)
{
    struct slot_map *m = malloc(sizeof(*m));
    char err[256];

    ck_assert_ptr_nonnull(m);
    slot_map_init(m);
    ck_assert_int_eq(slot_map_from_reply(m, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "CLUSTER SLOTS: no reply");
    /* an array that says it has elements but has none */
    {
        redisReply r = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = NULL};

        ck_assert_int_eq(slot_map_from_reply(m, &r, err, sizeof(err)), -1);
        ck_assert_ptr_nonnull(strstr(err, "no elements"));
    }
    /* arrays that say they have elements but have none, inside */
    {
        redisReply range = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = NULL};
        redisReply *elems[] = {&range};
        redisReply r = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = elems};

        ck_assert_int_eq(slot_map_from_reply(m, &r, err, sizeof(err)), -1);
        ck_assert_str_eq(err,
                         "CLUSTER SLOTS: range 0 is an array without its elements, not "
                         "an array of start, end and nodes");
    }
    {
        redisReply lo = {.type = REDIS_REPLY_INTEGER, .integer = 0};
        redisReply hi = {.type = REDIS_REPLY_INTEGER, .integer = 1};
        redisReply node = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = NULL};
        redisReply *parts[] = {&lo, &hi, &node};
        redisReply range = {.type = REDIS_REPLY_ARRAY, .elements = 3, .element = parts};
        redisReply *elems[] = {&range};
        redisReply r = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = elems};

        ck_assert_int_eq(slot_map_from_reply(m, &r, err, sizeof(err)), -1);
        ck_assert_str_eq(err,
                         "CLUSTER SLOTS: range 0 (slots 0-1): master is an array without "
                         "its elements, not an array of host and port");
    }
    /* a short err buffer is cut, not overrun */
    {
        redisReply *r = rep_int(1);
        char tiny[8];

        ck_assert_int_eq(slot_map_from_reply(m, r, tiny, sizeof(tiny)), -1);
        ck_assert_str_eq(tiny, "CLUSTER");
        rep_free(r);
    }
    ck_assert_int_eq(m->covered, 0);
    slot_map_free(m);
    free(m);
}
END_TEST

/* ---- MOVED and ASK ---------------------------------------------------------------- */

static enum slot_redirect_kind redirect(const char *text, struct slot_redirect *out)
{
    return slot_redirect_parse(text, strlen(text), out);
}

START_TEST(test_redirects)
{
    struct slot_redirect r;

    ck_assert_int_eq(redirect("MOVED 3999 127.0.0.1:6381", &r), SLOT_REDIRECT_MOVED);
    ck_assert_int_eq(r.kind, SLOT_REDIRECT_MOVED);
    ck_assert_int_eq(r.slot, 3999);
    ck_assert_str_eq(r.node.host, "127.0.0.1");
    ck_assert_int_eq(r.node.port, 6381);

    ck_assert_int_eq(redirect("ASK 3999 127.0.0.1:6381", &r), SLOT_REDIRECT_ASK);
    ck_assert_int_eq(r.kind, SLOT_REDIRECT_ASK);
    ck_assert_int_eq(r.slot, 3999);
    ck_assert_str_eq(r.node.host, "127.0.0.1");
    ck_assert_int_eq(r.node.port, 6381);

    ck_assert_int_eq(redirect("MOVED 0 redis-2.example:1", &r), SLOT_REDIRECT_MOVED);
    ck_assert_int_eq(r.slot, 0);
    ck_assert_str_eq(r.node.host, "redis-2.example");
    ck_assert_int_eq(r.node.port, 1);

    ck_assert_int_eq(redirect("MOVED 16383 h:65535", &r), SLOT_REDIRECT_MOVED);
    ck_assert_int_eq(r.slot, 16383);
    ck_assert_int_eq(r.node.port, 65535);

    /* Redis 7's unknown endpoint: the same host, this port. */
    ck_assert_int_eq(redirect("MOVED 3999 :6380", &r), SLOT_REDIRECT_MOVED);
    ck_assert_str_eq(r.node.host, "");
    ck_assert_int_eq(r.node.port, 6380);

    /* IPv6 as Redis writes it, and in brackets. */
    ck_assert_int_eq(redirect("ASK 12 ::1:7000", &r), SLOT_REDIRECT_ASK);
    ck_assert_str_eq(r.node.host, "::1");
    ck_assert_int_eq(r.node.port, 7000);
    ck_assert_int_eq(redirect("MOVED 12 [fe80::1]:7000", &r), SLOT_REDIRECT_MOVED);
    ck_assert_str_eq(r.node.host, "fe80::1");

    /* Only len bytes are read. */
    ck_assert_int_eq(slot_redirect_parse("MOVED 1 h:6379trailing", 14, &r),
                     SLOT_REDIRECT_MOVED);
    ck_assert_int_eq(r.node.port, 6379);
}
END_TEST

static const char *const not_redirects[] = {
    "",
    "MOVED",
    "MOVED ",
    "MOVED 1",
    "MOVED 1 ",
    "ASK",
    "ERR unknown command",
    "CLUSTERDOWN The cluster is down",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "moved 1 h:1",
    "MOVEDX 1 h:1",
    "MOVED  1 h:1",
    "MOVED 1  h:1",
    "MOVED x h:1",
    "MOVED -1 h:1",
    "MOVED +1 h:1",
    "MOVED 16384 h:1",
    "MOVED 99999999999 h:1",
    "MOVED 1 h",
    "MOVED 1 h:",
    "MOVED 1 h:0",
    "MOVED 1 h:65536",
    "MOVED 1 h:x",
    "MOVED 1 h:1 ",
    "MOVED 1 h:1 extra",
    "MOVED 1 h:1\r\n",
    "ASK 1 h:-1",
};

START_TEST(test_not_redirects)
{
    struct slot_redirect r;
    char big[SLOT_HOST_MAX + 32];

    memset(&r, 0x5a, sizeof(r));
    ck_assert_msg(redirect(not_redirects[_i], &r) == SLOT_REDIRECT_NONE, "\"%s\"",
                  not_redirects[_i]);
    ck_assert_int_eq(r.kind, SLOT_REDIRECT_NONE);
    ck_assert_int_eq(r.slot, 0);
    ck_assert_str_eq(r.node.host, "");
    if (_i == 0) {
        /* a host too long for a slot_node; one byte shorter fits */
        snprintf(big, sizeof(big), "MOVED 1 %0*d:1", SLOT_HOST_MAX, 0);
        ck_assert_int_eq(redirect(big, &r), SLOT_REDIRECT_NONE);
        snprintf(big, sizeof(big), "MOVED 1 %0*d:1", SLOT_HOST_MAX - 1, 0);
        ck_assert_int_eq(redirect(big, &r), SLOT_REDIRECT_MOVED);
        ck_assert_uint_eq(strlen(r.node.host), SLOT_HOST_MAX - 1);
        ck_assert_int_eq(slot_redirect_parse("MOVED 1 h\0x:1", 13, &r),
                         SLOT_REDIRECT_NONE);
        ck_assert_int_eq(slot_redirect_parse(NULL, 0, &r), SLOT_REDIRECT_NONE);
    }
}
END_TEST

/* ---- seed lists ----------------------------------------------------------------- */

START_TEST(test_seeds)
{
    struct slot_nodes seeds = {0};
    char err[256] = "";
    int n;

    n = slot_seeds_parse(
        "127.0.0.1:7000,redis-a.example:7001, [::1]:7002 ,\t[fe80::1]:17000", &seeds, err,
        sizeof(err));
    ck_assert_msg(n == 4, "%d: %s", n, err);
    ck_assert_uint_eq(seeds.n, 4);
    ck_assert_str_eq(seeds.v[0].host, "127.0.0.1");
    ck_assert_int_eq(seeds.v[0].port, 7000);
    ck_assert_str_eq(seeds.v[1].host, "redis-a.example");
    ck_assert_int_eq(seeds.v[1].port, 7001);
    ck_assert_str_eq(seeds.v[2].host, "::1");
    ck_assert_int_eq(seeds.v[2].port, 7002);
    ck_assert_str_eq(seeds.v[3].host, "fe80::1");
    ck_assert_int_eq(seeds.v[3].port, 17000);

    /* appended to what is there */
    n = slot_seeds_parse("localhost:1", &seeds, err, sizeof(err));
    ck_assert_int_eq(n, 1);
    ck_assert_uint_eq(seeds.n, 5);
    ck_assert_str_eq(seeds.v[4].host, "localhost");
    ck_assert_int_eq(seeds.v[4].port, 1);

    n = slot_seeds_parse("[::ffff:10.0.0.1]:65535", &seeds, err, sizeof(err));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(seeds.v[5].host, "::ffff:10.0.0.1");
    ck_assert_int_eq(seeds.v[5].port, 65535);
    array_free(&seeds);
}
END_TEST

static const struct {
    const char *text, *want;
} bad_seeds[] = {
    {"", "seed list: empty"},
    {" \t ", "seed list: empty"},
    {"a:1,", "entry 2 is empty"},
    {",a:1", "entry 1 is empty"},
    {"a:1,,b:2", "entry 2 is empty"},
    {"a:1, ,b:2", "entry 2 is empty"},
    {"redis", "entry 1 \"redis\": no :PORT"},
    {"a:1,redis", "entry 2 \"redis\": no :PORT"},
    {":7000", "entry 1 \":7000\": no host before the ':'"},
    {"a:", "entry 1 \"a:\": the port is not a number in 1..65535"},
    {"a:0", "entry 1 \"a:0\": the port is not a number in 1..65535"},
    {"a:65536", "entry 1 \"a:65536\": the port is not a number"},
    {"a:x", "entry 1 \"a:x\": the port is not a number"},
    {"a:-1", "entry 1 \"a:-1\": the port is not a number"},
    {"a:+1", "entry 1 \"a:+1\": the port is not a number"},
    {"a:1 2", "entry 1 \"a:1 2\": the port is not a number"},
    {"a:99999999999", "the port is not a number"},
    {"::1:7000", "entry 1 \"::1:7000\": an IPv6 address goes in brackets"},
    {"a:1:2", "an IPv6 address goes in brackets"},
    {"[::1]", "entry 1 \"[::1]\": no :PORT after the ']'"},
    {"[::1]7000", "no :PORT after the ']'"},
    {"[::1:7000", "entry 1 \"[::1:7000\": '[' without its ']'"},
    {"[]:1", "not an IPv6 address between the brackets"},
    {"[127.0.0.1]:1", "not an IPv6 address between the brackets"},
    {"[::g]:1", "'g' in an IPv6 address"},
    {"a b:1", "entry 1 \"a b:1\": ' ' in a host name"},
    {"a/b:1", "'/' in a host name"},
    {"a\x01:1", "byte 0x01 in a host name"},
    {"ok:1,a;b:2", "entry 2 \"a;b:2\": ';' in a host name"},
};

START_TEST(test_bad_seeds)
{
    struct slot_nodes seeds = {0};
    char err[256] = "";

    ck_assert_int_eq(slot_seeds_parse("kept:1", &seeds, err, sizeof(err)), 1);
    ck_assert_int_eq(slot_seeds_parse(bad_seeds[_i].text, &seeds, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, bad_seeds[_i].want) != NULL,
                  "\"%s\": \"%s\" does not say \"%s\"", bad_seeds[_i].text, err,
                  bad_seeds[_i].want);
    /* nothing appended, not even the good entries before the bad one */
    ck_assert_uint_eq(seeds.n, 1);
    ck_assert_str_eq(seeds.v[0].host, "kept");
    array_free(&seeds);
}
END_TEST

START_TEST(test_seed_host_length)
{
    struct slot_nodes seeds = {0};
    char text[SLOT_HOST_MAX + 16], err[256] = "";

    snprintf(text, sizeof(text), "%0*d:1", SLOT_HOST_MAX - 1, 0);
    ck_assert_int_eq(slot_seeds_parse(text, &seeds, err, sizeof(err)), 1);
    ck_assert_uint_eq(strlen(seeds.v[0].host), SLOT_HOST_MAX - 1);
    snprintf(text, sizeof(text), "%0*d:1", SLOT_HOST_MAX, 0);
    ck_assert_int_eq(slot_seeds_parse(text, &seeds, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "a host of 256 bytes, longer than 255"));
    ck_assert_int_eq(slot_seeds_parse(NULL, &seeds, err, sizeof(err)), -1);
    ck_assert_uint_eq(seeds.n, 1);
    array_free(&seeds);
}
END_TEST

/* The key a command is routed by (store_route.c), read from the command in
 * protocol form as hiredis formats it. */
static int routed_by(const char *want, const char *fmt, ...)
{
    const char *key = NULL;
    size_t klen = 0;
    char *cmd = NULL;
    va_list ap;
    int len, got;

    va_start(ap, fmt);
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    ck_assert_int_gt(len, 0);
    got = store_command_key(cmd, (size_t)len, &key, &klen);
    if (want == NULL) {
        ck_assert_int_eq(got, 0);
    } else {
        ck_assert_int_eq(got, 1);
        ck_assert_uint_eq(klen, strlen(want));
        ck_assert(memcmp(key, want, klen) == 0);
    }
    redisFreeCommand(cmd);
    return got;
}

START_TEST(test_command_key)
{
    routed_by("p:c:{42}", "HGETALL %s", "p:c:{42}");
    routed_by("p:c:{42}", "hmget %s a b", "p:c:{42}");
    routed_by("p:c:{7}", "FCALL loyaltyd_commit_4 4 %s %s x", "p:c:{7}", "p:c:{7}:state");
    routed_by("p:c:{7}", "fcall_ro loyaltyd_load_4 1 %s", "p:c:{7}");
    routed_by("p:model", "EVAL %s 1 %s r 1", "return 1", "p:model");
    routed_by(NULL, "FCALL f 0 a b");
    routed_by(NULL, "SCAN 0 MATCH %s COUNT 1000", "p:c:{*}");
    routed_by(NULL, "MULTI");
    routed_by(NULL, "EXEC");
    routed_by(NULL, "INFO memory");
    routed_by(NULL, "FUNCTION LIST");
    routed_by(NULL, "WAIT 1 100");
    /* A key with a NUL and with CRLF inside: the length counts, not the bytes. */
    routed_by("a\r\nb", "GET %b", "a\r\nb", (size_t)4);
    /* Not a command at all: no key, never a read past the end. */
    {
        const char *key;
        size_t klen;

        const char *cut = "*2\r\n$3\r\nGET\r\n$9\r\nab";

        ck_assert_int_eq(store_command_key(cut, strlen(cut), &key, &klen), 0);
        ck_assert_int_eq(store_command_key("", 0, &key, &klen), 0);
    }
}
END_TEST

static Suite *slot_suite(void)
{
    Suite *s = suite_create("slot");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_crc16_vectors);
    tcase_add_test(tc, test_hash_tags);
    tcase_add_test(tc, test_slot_range);
    tcase_add_test(tc, test_map_three_masters);
    tcase_add_test(tc, test_map_shapes);
    tcase_add_loop_test(tc, test_map_malformed, 0, MALFORMED);
    tcase_add_test(tc, test_map_no_reply);
    tcase_add_test(tc, test_redirects);
    tcase_add_loop_test(tc, test_not_redirects, 0,
                        (int)(sizeof(not_redirects) / sizeof(not_redirects[0])));
    tcase_add_test(tc, test_seeds);
    tcase_add_loop_test(tc, test_bad_seeds, 0,
                        (int)(sizeof(bad_seeds) / sizeof(bad_seeds[0])));
    tcase_add_test(tc, test_seed_host_length);
    tcase_add_test(tc, test_command_key);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(slot_suite)
