#include "consumers/tracker.h"

#include <stdlib.h>
#include <string.h>

#include "base/array.h"

struct tracker_entry {
    struct tracker_part *part; /* NULL once the partition was forgotten */
    struct tracker_entry *next;
    int64_t offset;
    int refs;
};

struct tracker_part {
    char *topic;
    int32_t partition;
    struct tracker_entry *head, *tail; /* in offset order */
    size_t inflight;
    int64_t stored;  /* next offset last reported, -1 if none */
    int64_t pending; /* next offset not yet reported, -1 if none */
};

struct tracker {
    ARRAY(struct tracker_part *) parts; /* in no order */
};

struct tracker *tracker_new(void)
{
    return calloc(1, sizeof(struct tracker));
}

static void part_free(struct tracker_part *p)
{
    struct tracker_entry *e = p->head, *next;

    /* Entries still referenced are detached, freed by their last release. */
    for (; e != NULL; e = next) {
        next = e->next;
        e->part = NULL;
        e->next = NULL;
        if (e->refs == 0) {
            free(e);
        }
    }
    free(p->topic);
    free(p);
}

void tracker_free(struct tracker *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->parts.n; i++) {
        part_free(t->parts.v[i]);
    }
    array_free(&t->parts);
    free(t);
}

static struct tracker_part *part_find(const struct tracker *t, const char *topic,
                                      int32_t partition)
{
    for (size_t i = 0; i < t->parts.n; i++) {
        if (t->parts.v[i]->partition == partition &&
            strcmp(t->parts.v[i]->topic, topic) == 0) {
            return t->parts.v[i];
        }
    }
    return NULL;
}

static struct tracker_part *part_get(struct tracker *t, const char *topic,
                                     int32_t partition)
{
    struct tracker_part *p = part_find(t, topic, partition);

    if (p != NULL) {
        return p;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        return NULL;
    }
    p->partition = partition;
    p->stored = p->pending = -1;
    if ((p->topic = strdup(topic)) == NULL || array_append(&t->parts, p) < 0) {
        free(p->topic);
        free(p);
        return NULL;
    }
    return p;
}

struct tracker_entry *tracker_add(struct tracker *t, const char *topic, int32_t partition,
                                  int64_t offset)
{
    struct tracker_part *p = part_get(t, topic, partition);
    struct tracker_entry *e;

    if (p == NULL || (e = calloc(1, sizeof(*e))) == NULL) {
        return NULL;
    }
    e->part = p;
    e->offset = offset;
    e->refs = 1;
    if (p->tail) {
        p->tail->next = e;
    } else {
        p->head = e;
    }
    p->tail = e;
    p->inflight++;
    return e;
}

void tracker_hold(struct tracker_entry *e)
{
    e->refs++;
}

/* Pop completed entries off the head and note the new store point. */
static void part_advance(struct tracker_part *p)
{
    while (p->head != NULL && p->head->refs == 0) {
        struct tracker_entry *e = p->head;

        p->head = e->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->pending = e->offset + 1;
        free(e);
    }
}

void tracker_release(struct tracker_entry *e)
{
    struct tracker_part *p = e->part;

    if (--e->refs > 0) {
        return;
    }
    if (p == NULL) {
        free(e); /* detached: its partition was forgotten */
        return;
    }
    p->inflight--;
    part_advance(p);
}

void tracker_unadd(struct tracker_entry *e)
{
    struct tracker_part *p = e->part;
    struct tracker_entry **link;

    if (p == NULL) {
        free(e);
        return;
    }
    for (link = &p->head; *link != NULL && *link != e; link = &(*link)->next) {
        ;
    }
    if (*link == NULL) {
        return;
    }
    *link = e->next;
    if (p->tail == e) {
        p->tail = NULL;
        for (struct tracker_entry *x = p->head; x != NULL; x = x->next) {
            p->tail = x;
        }
    }
    p->inflight--;
    free(e);
    part_advance(p);
}

void tracker_collect(struct tracker *t,
                     void (*cb)(void *arg, const char *topic, int32_t partition,
                                int64_t next_offset),
                     void *arg)
{
    for (size_t i = 0; i < t->parts.n; i++) {
        struct tracker_part *p = t->parts.v[i];

        if (p->pending > p->stored) {
            cb(arg, p->topic, p->partition, p->pending);
            p->stored = p->pending;
        }
    }
}

size_t tracker_inflight(const struct tracker *t, const char *topic, int32_t partition)
{
    const struct tracker_part *p = part_find(t, topic, partition);

    return p ? p->inflight : 0;
}

size_t tracker_inflight_total(const struct tracker *t)
{
    size_t n = 0;

    for (size_t i = 0; i < t->parts.n; i++) {
        n += t->parts.v[i]->inflight;
    }
    return n;
}

void tracker_forget(struct tracker *t, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < t->parts.n; i++) {
        struct tracker_part *p = t->parts.v[i];

        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            part_free(p);
            t->parts.v[i] = t->parts.v[--t->parts.n];
            return;
        }
    }
}
