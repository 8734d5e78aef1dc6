/*
 * digest.h - identifiers that outsiders cannot make collide: the first 128
 * bits of SHA-256 (OpenSSL's libcrypto) of strings joined by NUL bytes.
 *
 * The ids of derived events are built from customer ids that come from
 * outside; with a fast non-cryptographic hash, a crafted customer id could
 * give another customer's reward id, and a downstream consumer that drops
 * duplicates would drop the real one.
 */
#ifndef LOYALTY_DIGEST_H
#define LOYALTY_DIGEST_H

#include <stddef.h>

/* 32 lowercase hex digits and a NUL: SHA-256 of parts[0] NUL parts[1] NUL ...
 * parts[n-1] (no NUL after the last), truncated to 16 bytes.  0, or -1 when
 * libcrypto fails (out of memory). */
int digest_id128(const char *const *parts, size_t n, char out[33]);

#endif
