/*
 * sentset.h - the ids of the derived events Kafka acknowledged most
 * recently, so that a batch run again after its commit failed (Redis
 * answered with an error, or not at all) does not publish them a second
 * time.  A set of at most `cap` ids: adding one more forgets the oldest.
 * Main thread only (the producer's).
 *
 * Ids are the 32 hex digits of a derived event's event_id; anything else is
 * neither added nor found.
 */
#ifndef LOYALTY_SENTSET_H
#define LOYALTY_SENTSET_H

#include <stddef.h>

struct sentset;

/* cap is rounded up to a power of two; NULL when memory is short. */
struct sentset *sentset_new(size_t cap);
void sentset_free(struct sentset *s);
void sentset_add(struct sentset *s, const char *id);
int sentset_has(const struct sentset *s, const char *id);
size_t sentset_count(const struct sentset *s);

#endif
