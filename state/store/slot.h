/*
 * slot.h - the key slots of Redis Cluster and where they live: the ground
 * the store's routing on a cluster stands on (issue 20).  Nothing here does
 * I/O; the store sends the commands and hands over the replies.
 *
 *   slot_crc16, slot_of        a key's slot, hash tags as Redis reads them
 *   struct slot_map            slot -> its master, from a CLUSTER SLOTS reply
 *   slot_redirect_parse        a MOVED or ASK error reply
 *   slot_seeds_parse           a configured seed list HOST:PORT,HOST:PORT,...
 *
 * The slot of a key (Redis Cluster specification, "Key distribution model"):
 * CRC16 of the key, XMODEM variant (polynomial x^16 + x^12 + x^5 + 1, 0x1021;
 * initial value 0; bits not reflected; no final XOR), modulo 16384.  If the
 * key holds a `{` and a `}` after it with at least one byte between them,
 * only the bytes between the first `{` and the first `}` after it (the hash
 * tag) are hashed, so c:{C} and c:{C}:state of one customer share a slot.
 */
#ifndef LOYALTY_SLOT_H
#define LOYALTY_SLOT_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "base/array.h"

#define SLOT_COUNT 16384
/* Room for a host name (at most 255 bytes) or an address, and its NUL. */
#define SLOT_HOST_MAX 256

/* CRC16-XMODEM of the n bytes at p. */
uint16_t slot_crc16(const void *p, size_t n);

/* The slot (0 .. SLOT_COUNT - 1) of the key of len bytes at key (any bytes,
 * NULs included): of its hash tag if it has one, else of the whole key. */
int slot_of(const char *key, size_t len);

/* A node's address.  An empty host means the host the reply naming it came
 * from, with this port (Redis 7: a node whose endpoint is unknown, or one
 * that does not know its own address yet); the caller fills it in. */
struct slot_node {
    char host[SLOT_HOST_MAX];
    int port; /* 1 .. 65535 */
};

struct slot_nodes {
    ARRAY(struct slot_node);
};

/* Which master serves each slot: master[s] is an index into nodes, or -1
 * for a slot no node serves.  About 32 KiB.  A zeroed map is not ready:
 * slot_map_init it (then no slot is served), slot_map_free it. */
struct slot_map {
    struct slot_nodes nodes; /* the masters, each once, in reply order */
    int covered;             /* how many slots have a master */
    int16_t master[SLOT_COUNT];
};

void slot_map_init(struct slot_map *m);
void slot_map_free(struct slot_map *m);

/* The map read from the reply to CLUSTER SLOTS: an array of slot ranges,
 * each [start, end, master, replica...], a node being [host, port, ...]
 * (Redis 3 gave host and port only, later versions add the node id and, in
 * 7, a metadata array; what follows the port is not read).  A NIL or empty
 * host is kept as "" (see struct slot_node).  Replicas are checked for
 * shape but not kept.
 *
 * Returns 0 with *m replaced, or -1 with a message in err and *m as it was:
 * an error reply (its text), a reply of another shape (which element is
 * wrong), ranges outside 0 .. 16383 or reversed, a slot in two ranges, a
 * port outside 1 .. 65535, a host too long or holding a NUL, a master whose
 * endpoint is "?" (Redis: a hostname preferred but none configured), no
 * memory.  Slots no range names stay unserved: a cluster still being set up
 * or one that lost a master without a replica.  m must have been
 * initialised. */
int slot_map_from_reply(struct slot_map *m, const redisReply *r, char *err,
                        size_t errlen);

/* The master serving slot, or NULL if none does or slot is out of range. */
const struct slot_node *slot_map_master(const struct slot_map *m, int slot);

/* A cluster's redirection of a command, read from its error reply:
 *   MOVED 3999 127.0.0.1:6381   the slot now lives there (refresh the map)
 *   ASK 3999 127.0.0.1:6381     this one command goes there, after ASKING
 * The host may be empty (Redis 7: "MOVED 3999 :6381", the same host as the
 * command was sent to) or an IPv6 address, unbracketed as Redis writes it
 * (the port follows the last ':'). */
enum slot_redirect_kind {
    SLOT_REDIRECT_NONE = 0,
    SLOT_REDIRECT_MOVED,
    SLOT_REDIRECT_ASK
};

struct slot_redirect {
    enum slot_redirect_kind kind;
    int slot;
    struct slot_node node;
};

/* The kind of the error text of len bytes at text (hiredis's r->str,
 * without the leading '-'), with *out filled; SLOT_REDIRECT_NONE, *out
 * cleared, for any other error and for a redirection that is not well
 * formed (a slot out of range, a port out of 1 .. 65535, a host too long,
 * anything more or less than "KIND SLOT HOST:PORT"). */
enum slot_redirect_kind slot_redirect_parse(const char *text, size_t len,
                                            struct slot_redirect *out);

/* The seed list of a configuration, "HOST:PORT,HOST:PORT,...": a host name
 * or IPv4 address, or an IPv6 address in brackets ([::1]:7000); blanks
 * around an entry are ignored.  Appends the entries to *out (which the
 * caller frees with array_free) and returns how many, at least one; or
 * returns -1, *out unchanged, with a message naming the first bad entry in
 * err: empty, no port, a port not a number in 1 .. 65535, an IPv6 address
 * without brackets, a host with characters a host name or address cannot
 * have, or too long. */
int slot_seeds_parse(const char *text, struct slot_nodes *out, char *err, size_t errlen);

#endif
