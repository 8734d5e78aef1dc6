/*
 * task.h - a task is partition number p of every input topic, applied as one
 * stream in event-time order (README, "Guarantees": "Same input, same output").
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

#include "state/model/model.h"

/* A consumed, parsed input message waiting in its queue.  A malformed one
 * (reason != 0) waits its turn in offset order too, so that it is dead-
 * lettered only after the events before it: a restart then never reads it
 * again once recorded. */
struct task_msg {
    void *msg;   /* the caller's copy of the message */
    void *entry; /* the caller's offset tracker entry */
    int64_t offset;
    int64_t append_ms; /* wall clock: appended (Kafka timestamp) or read, the
                          earlier; 0: unknown, never held by the grace */
    int reason;        /* 0, or the enum parse_reason that rejects it */
    struct event ev;   /* valid when reason == 0 */
};

struct task_queue {
    struct task_msg *v;
    size_t head, n, cap;
    int at_end;       /* the partition's end was reached and nothing came since */
    int idle_expired; /* waited max_idle_ms for it; no longer waited for */
};

struct task {
    int32_t partition;
    int64_t grace_ms; /* merge.grace_ms; 0: none (task_init) */
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
/* Fetching stopped (input paused): the ends the partitions reached are no
 * longer known, as their producers go on.  An empty queue is waited for
 * again (up to max_idle_ms) until it gets a message or its end is seen
 * anew, so that a partition whose fetch comes back first after the pause
 * does not run ahead of the others. */
void task_forget_ends(struct task *t);

enum task_wait { TASK_READY = 0, TASK_EMPTY, TASK_WAITING };

/*
 * Which queue's head is next, at monotonic time now_ms and wall time wall_ms
 * (a malformed head first: it has no time and changes no state): TASK_READY
 * with *src set, TASK_EMPTY when no queue has anything, or TASK_WAITING when a
 * queue that is behind must be waited for, or the head is within its grace
 * (*wait_ms: how long at most).  When the wait for a queue that is behind runs
 * out the queue is given up on until it gets a message or reaches its end,
 * and *timed_out is set (counted by the caller).
 */
enum task_wait task_next(struct task *t, int64_t now_ms, int64_t wall_ms,
                         int64_t max_idle_ms, int *src, int64_t *wait_ms, int *timed_out);
/* Remove the head of queue src into *out (the caller frees its event).  Sets
 * *late when its event time is before the task's stream time. */
void task_pop(struct task *t, int src, struct task_msg *out, int *late);

size_t task_queued(const struct task *t, int src);

/*
 * The task's timer clock (docs/model.md "Timers"): the due times up to it may
 * fire.  With wall_ms 0 (clock = stream) it is the stream time.  Otherwise
 * (clock = wall) it is wall_ms, held back by the input the task still has:
 * never past the time of a message waiting in a queue (a due time at its
 * instant fires before it), nor past the stream time while a partition that
 * is not at its end may bring more.  So a due time fires between the same
 * events in a backlog as live, and a quiet shop still gets its timers once
 * its input is caught up.  0: nothing to judge by yet.
 */
int64_t task_timer_clock(const struct task *t, int64_t wall_ms);

#endif
