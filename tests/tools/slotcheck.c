/*
 * slotcheck - state/store/slot.c from outside, for tests/integration/test_cluster.py,
 * which holds its answers against a real Redis Cluster's.
 *
 *   slotcheck keys < hex-lines          each line a key in hex (an empty line is
 *                                       the empty key): prints slot_of of each,
 *                                       one a line
 *   slotcheck map HOST PORT             CLUSTER SLOTS of that node through
 *                                       slot_map_from_reply: "covered N",
 *                                       "masters N", then "FIRST-LAST HOST:PORT"
 *                                       for each run of slots with one master
 *   slotcheck redirect HOST PORT KEY... GET each key on that node: "KEY here"
 *                                       if it answers, or "KEY MOVED|ASK SLOT
 *                                       HOST:PORT" as slot_redirect_parse reads
 *                                       the error ("KEY error TEXT" for others)
 *
 * Exits 1 when a reply cannot be had or read (the message on stderr), 2 on
 * bad arguments.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/store/slot.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int cmd_keys(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        size_t n = 0;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            len--;
        }
        if (len % 2 != 0) {
            fprintf(stderr, "slotcheck: odd hex line\n");
            rc = 1;
            break;
        }
        for (ssize_t i = 0; i < len; i += 2) {
            int hi = hexval(line[i]), lo = hexval(line[i + 1]);

            if (hi < 0 || lo < 0) {
                fprintf(stderr, "slotcheck: not hex\n");
                free(line);
                return 1;
            }
            line[n++] = (char)(hi << 4 | lo);
        }
        printf("%d\n", slot_of(line, n));
    }
    free(line);
    return rc;
}

static redisContext *connect_to(const char *host, const char *port)
{
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(host, atoi(port), tv);

    if (c == NULL || c->err) {
        fprintf(stderr, "slotcheck: %s:%s: %s\n", host, port,
                c ? c->errstr : "no memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static int cmd_map(const char *host, const char *port)
{
    redisContext *c = connect_to(host, port);
    struct slot_map *m = malloc(sizeof(*m));
    redisReply *r;
    char err[256];
    int rc = 1;

    if (c == NULL || m == NULL) {
        free(m);
        redisFree(c);
        return 1;
    }
    slot_map_init(m);
    r = redisCommand(c, "CLUSTER SLOTS");
    if (r == NULL) {
        fprintf(stderr, "slotcheck: %s\n", c->errstr);
    } else if (slot_map_from_reply(m, r, err, sizeof(err)) < 0) {
        fprintf(stderr, "slotcheck: %s\n", err);
    } else {
        printf("covered %d\nmasters %zu\n", m->covered, m->nodes.n);
        for (int s = 0; s < SLOT_COUNT;) {
            int e = s;

            while (e + 1 < SLOT_COUNT && m->master[e + 1] == m->master[s]) {
                e++;
            }
            if (m->master[s] >= 0) {
                const struct slot_node *n = slot_map_master(m, s);

                printf("%d-%d %s:%d\n", s, e, n->host, n->port);
            }
            s = e + 1;
        }
        rc = 0;
    }
    freeReplyObject(r);
    slot_map_free(m);
    free(m);
    redisFree(c);
    return rc;
}

static int cmd_redirect(const char *host, const char *port, int nkeys, char **keys)
{
    redisContext *c = connect_to(host, port);
    static const char *const kinds[] = {"none", "MOVED", "ASK"};

    if (c == NULL) {
        return 1;
    }
    for (int i = 0; i < nkeys; i++) {
        redisReply *r = redisCommand(c, "GET %s", keys[i]);
        struct slot_redirect rd;

        if (r == NULL) {
            fprintf(stderr, "slotcheck: %s\n", c->errstr);
            redisFree(c);
            return 1;
        }
        if (r->type != REDIS_REPLY_ERROR) {
            printf("%s here\n", keys[i]);
        } else if (slot_redirect_parse(r->str, r->len, &rd) != SLOT_REDIRECT_NONE) {
            printf("%s %s %d %s:%d\n", keys[i], kinds[rd.kind], rd.slot, rd.node.host,
                   rd.node.port);
        } else {
            printf("%s error %s\n", keys[i], r->str);
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "keys") == 0) {
        return cmd_keys();
    }
    if (argc == 4 && strcmp(argv[1], "map") == 0) {
        return cmd_map(argv[2], argv[3]);
    }
    if (argc >= 4 && strcmp(argv[1], "redirect") == 0) {
        return cmd_redirect(argv[2], argv[3], argc - 4, argv + 4);
    }
    fprintf(stderr, "usage: slotcheck keys < hex-lines | slotcheck map HOST PORT | "
                    "slotcheck redirect HOST PORT KEY...\n");
    return 2;
}
