/*
 * idset.h - a set of 128-bit ids (derived events' 32-hex event_ids) handed to
 * the producer and not yet acknowledged, so an outbox entry returned again by
 * a later commit is not published twice while its first copy is in flight.
 * Open addressing with tombstones; main thread only.
 */
#ifndef LOYALTY_IDSET_H
#define LOYALTY_IDSET_H

#include <stddef.h>

struct idset;

struct idset *idset_new(void);
void idset_free(struct idset *s);
/* 1 if added, 0 if already present, -1 on ENOMEM or an id that is not 32 hex
 * digits. */
int idset_add(struct idset *s, const char *hex_id);
int idset_contains(const struct idset *s, const char *hex_id);
void idset_remove(struct idset *s, const char *hex_id);
size_t idset_size(const struct idset *s);

#endif
