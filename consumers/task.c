#include "consumers/task.h"

#include <stdlib.h>
#include <string.h>

void task_init(struct task *t, int32_t partition)
{
    memset(t, 0, sizeof(*t));
    t->partition = partition;
}

static struct task_msg *at(const struct task_queue *q, size_t i)
{
    return &q->v[(q->head + i) % q->cap];
}

void task_fini(struct task *t, void (*drop)(void *arg, void *msg, void *entry), void *arg)
{
    for (int s = 0; s < SRC__COUNT; s++) {
        struct task_queue *q = &t->q[s];

        for (size_t i = 0; i < q->n; i++) {
            struct task_msg *m = at(q, i);

            if (drop) {
                drop(arg, m->msg, m->entry);
            }
            event_free(&m->ev);
        }
        free(q->v);
    }
    memset(t->q, 0, sizeof(t->q));
}

static int grow(struct task_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 64;
    struct task_msg *v = malloc(cap * sizeof(*v));

    if (v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < q->n; i++) {
        v[i] = *at(q, i);
    }
    free(q->v);
    q->v = v;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int task_push(struct task *t, int src, const struct task_msg *m)
{
    struct task_queue *q = &t->q[src];

    if (q->n == q->cap && grow(q) < 0) {
        return -1;
    }
    q->v[(q->head + q->n) % q->cap] = *m;
    q->n++;
    q->at_end = 0;
    q->idle_expired = 0;
    return 0;
}

void task_at_end(struct task *t, int src)
{
    t->q[src].at_end = 1;
    t->q[src].idle_expired = 0;
}

void task_forget_ends(struct task *t)
{
    for (int s = 0; s < SRC__COUNT; s++) {
        t->q[s].at_end = 0;
        t->q[s].idle_expired = 0;
    }
}

/* Merge order: event time, then topic, then offset. */
static int before(const struct task_msg *a, int sa, const struct task_msg *b, int sb)
{
    if (a->ev.ts_ms != b->ev.ts_ms) {
        return a->ev.ts_ms < b->ev.ts_ms;
    }
    /* Heads of two queues are of two topics; within one topic the queue
     * keeps offset order. */
    return sa < sb;
}

enum task_wait task_next(struct task *t, int64_t now_ms, int64_t wall_ms,
                         int64_t max_idle_ms, int *src, int64_t *wait_ms, int *timed_out)
{
    int best = -1, behind = 0;
    unsigned ended_empty = 0;

    *timed_out = 0;
    t->ended_empty = 0;
    for (int s = 0; s < SRC__COUNT; s++) {
        if (t->q[s].n > 0 && at(&t->q[s], 0)->reason != 0) {
            *src = s;
            return TASK_READY;
        }
    }
    for (int s = 0; s < SRC__COUNT; s++) {
        const struct task_queue *q = &t->q[s];

        if (q->n == 0) {
            behind |= !q->at_end && !q->idle_expired;
            if (q->at_end) {
                ended_empty |= 1u << s;
            }
            continue;
        }
        if (best < 0 || before(at(q, 0), s, at(&t->q[best], 0), best)) {
            best = s;
        }
    }
    if (best < 0) {
        return TASK_EMPTY;
    }
    if (behind) {
        if (!t->waiting) {
            t->waiting = 1;
            t->wait_since_ms = now_ms;
        }
        if (now_ms - t->wait_since_ms < max_idle_ms) {
            *wait_ms = max_idle_ms - (now_ms - t->wait_since_ms);
            return TASK_WAITING;
        }
        for (int s = 0; s < SRC__COUNT; s++) {
            if (t->q[s].n == 0 && !t->q[s].at_end) {
                t->q[s].idle_expired = 1;
            }
        }
        *timed_out = 1;
    }
    t->waiting = 0;
    if (ended_empty && t->grace_ms > 0) {
        int64_t appended = at(&t->q[best], 0)->append_ms;

        if (appended > 0 && wall_ms - appended < t->grace_ms) {
            *wait_ms = t->grace_ms - (wall_ms - appended);
            return TASK_WAITING;
        }
    }
    t->ended_empty = ended_empty;
    *src = best;
    return TASK_READY;
}

void task_pop(struct task *t, int src, struct task_msg *out, int *late)
{
    struct task_queue *q = &t->q[src];

    *out = *at(q, 0);
    q->head = (q->head + 1) % q->cap;
    q->n--;
    *late = 0;
    if (out->reason != 0) {
        return;
    }
    *late = out->ev.ts_ms < t->stream_ms;
    if (out->ev.ts_ms > t->stream_ms) {
        t->stream_ms = out->ev.ts_ms;
    }
}

size_t task_queued(const struct task *t, int src)
{
    return t->q[src].n;
}

int64_t task_timer_clock(const struct task *t, int64_t wall_ms)
{
    int64_t now = wall_ms;

    if (wall_ms <= 0) {
        return t->stream_ms;
    }
    for (int s = 0; s < SRC__COUNT; s++) {
        const struct task_queue *q = &t->q[s];

        if (q->n > 0) {
            const struct task_msg *head = at(q, 0);

            if (head->reason == 0 && head->ev.ts_ms < now) {
                now = head->ev.ts_ms;
            }
        } else if (!q->at_end && t->stream_ms < now) {
            now = t->stream_ms;
        }
    }
    return now;
}
