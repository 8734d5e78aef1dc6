/*
 * task.h - a task is partition number p of every input topic, applied as one
 * stream in event-time order (DESIGN §6 "Same input, same output").
 *
 * Each input topic has a queue of parsed messages in offset order.  The merge
 * releases the head with the smallest (event time, topic, offset), but only
 * when every other queue either has a head (at a later or equal key, since the
 * smallest wins) or cannot produce an earlier one: it is at the end of its
 * partition, or the task has waited max_idle_ms for it.  Pure bookkeeping: the
 * caller feeds messages and end-of-partition notices and owns the clock.
 * Main thread only.
 */
#ifndef LOYALTY_TASK_H
#define LOYALTY_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "state/event.h"

/* A consumed, parsed input message waiting in its queue.  A malformed one
 * (reason != 0) waits its turn in offset order too, so that it is dead-
 * lettered only after the events before it: a restart then never reads it
 * again once recorded. */
struct task_msg {
    void *msg;   /* the caller's copy of the message */
    void *entry; /* the caller's offset tracker entry */
    int64_t offset;
    int reason;      /* 0, or the enum parse_reason that rejects it */
    struct event ev; /* valid when reason == 0 */
};

struct task_queue {
    struct task_msg *v;
    size_t head, n, cap;
    int at_end;       /* the partition's end was reached and nothing came since */
    int idle_expired; /* waited max_idle_ms for it; no longer waited for */
};

struct task {
    int32_t partition;
    struct task_queue q[SRC__COUNT];
    int64_t stream_ms;     /* newest event time released */
    int waiting;           /* a queue that is behind is being waited for */
    int64_t wait_since_ms; /* since when */
    /* After TASK_READY: bit s set when queue s is empty and was passed over
     * because it is at its end.  That end is only as fresh as the last fetch:
     * the caller may look at the partition once more before it pops. */
    unsigned ended_empty;
};

void task_init(struct task *t, int32_t partition);
/* Frees the queued messages' events; each message and entry is handed to
 * drop(arg, msg, entry) first. */
void task_fini(struct task *t, void (*drop)(void *arg, void *msg, void *entry),
               void *arg);

/* Append a message (its event moved in) to queue src.  0, -1 on ENOMEM. */
int task_push(struct task *t, int src, const struct task_msg *m);
/* The partition of topic src reached its end / nothing came since. */
void task_at_end(struct task *t, int src);

enum task_wait { TASK_READY = 0, TASK_EMPTY, TASK_WAITING };

/*
 * Which queue's head is next, at monotonic time now_ms (a malformed head
 * first: it has no time and changes no state): TASK_READY with *src
 * set, TASK_EMPTY when no queue has anything, or TASK_WAITING when a queue
 * that is behind must be waited for (*wait_ms: how long at most).  When the
 * wait runs out the queue is given up on until it gets a message or reaches
 * its end, and *timed_out is set (counted by the caller).
 */
enum task_wait task_next(struct task *t, int64_t now_ms, int64_t max_idle_ms, int *src,
                         int64_t *wait_ms, int *timed_out);
/* Remove the head of queue src into *out (the caller frees its event).  Sets
 * *late when its event time is before the task's stream time. */
void task_pop(struct task *t, int src, struct task_msg *out, int *late);

size_t task_queued(const struct task *t, int src);

#endif
