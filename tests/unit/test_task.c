/*
 * test_task.c - consumers/task.c: the event-time merge of one task's three
 * input queues (orders < reviews < messages on a tie), waiting for a queue
 * that is behind, the idle timeout, the grace for live input, malformed
 * messages, late events and the queue's growth.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/task.h"
#include "tests/unit/check_main.h"

#define IDLE 500 /* max_idle_ms of every test */
#define NOW  1000

/* Distinct addresses the task must hand back untouched. */
static char msg_tags[2048], entry_tags[2048];

static struct task_msg make(int64_t ts, int64_t offset)
{
    struct task_msg m;

    memset(&m, 0, sizeof(m));
    event_init(&m.ev);
    m.ev.ts_ms = ts;
    m.offset = offset;
    m.msg = &msg_tags[offset % (int64_t)sizeof(msg_tags)];
    m.entry = &entry_tags[offset % (int64_t)sizeof(entry_tags)];
    return m;
}

static void push(struct task *t, int src, int64_t ts, int64_t offset)
{
    struct task_msg m = make(ts, offset);

    ck_assert_int_eq(task_push(t, src, &m), 0);
}

static void push_bad(struct task *t, int src, int64_t offset, int reason)
{
    struct task_msg m = make(0, offset);

    m.reason = reason;
    ck_assert_int_eq(task_push(t, src, &m), 0);
}

/* task_next must say READY for queue src at now; pops its head and checks
 * the offset.  Returns the late flag. */
static int expect_pop(struct task *t, int64_t now, int src, int64_t offset)
{
    struct task_msg out;
    int got = -1, timed_out = -1, late = -1;
    int64_t wait_ms = -1;

    ck_assert_int_eq(task_next(t, now, 0, IDLE, &got, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(got, src);
    ck_assert_int_eq(timed_out, 0);
    task_pop(t, src, &out, &late);
    ck_assert_int_eq(out.offset, offset);
    ck_assert_ptr_eq(out.msg, &msg_tags[offset % (int64_t)sizeof(msg_tags)]);
    ck_assert_ptr_eq(out.entry, &entry_tags[offset % (int64_t)sizeof(entry_tags)]);
    event_free(&out.ev);
    return late;
}

static enum task_wait next(struct task *t, int64_t now, int *src, int64_t *wait_ms,
                           int *timed_out)
{
    return task_next(t, now, 0, IDLE, src, wait_ms, timed_out);
}

static void all_at_end(struct task *t)
{
    for (int s = 0; s < SRC__COUNT; s++) {
        task_at_end(t, s);
    }
}

static void push_appended(struct task *t, int src, int64_t ts, int64_t offset,
                          int64_t append_ms)
{
    struct task_msg m = make(ts, offset);

    m.append_ms = append_ms;
    ck_assert_int_eq(task_push(t, src, &m), 0);
}

#define GRACE 100
#define WALL  1700000000000LL

/* A head appended a moment ago waits out the grace while a caught-up queue
 * of the task is empty; an earlier event appended there meanwhile goes
 * first, and the held head follows once its grace has run. */
START_TEST(test_grace_holds_fresh_head)
{
    struct task t;
    struct task_msg out;
    int src = -1, timed_out = -1, late = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    t.grace_ms = GRACE;
    all_at_end(&t);
    push_appended(&t, SRC_ORDERS, 500, 1, WALL);
    ck_assert_int_eq(task_next(&t, NOW, WALL + 30, IDLE, &src, &wait_ms, &timed_out),
                     TASK_WAITING);
    ck_assert_int_eq(wait_ms, GRACE - 30);
    ck_assert_int_eq(timed_out, 0);
    push_appended(&t, SRC_REVIEWS, 400, 7, WALL + 20);
    /* Every other queue now has a head or is at its end with the earlier one
     * here: the reviews head is the smallest, but is itself within its grace
     * while the messages queue is empty at its end. */
    ck_assert_int_eq(task_next(&t, NOW, WALL + 60, IDLE, &src, &wait_ms, &timed_out),
                     TASK_WAITING);
    ck_assert_int_eq(wait_ms, GRACE - 40);
    ck_assert_int_eq(task_next(&t, NOW, WALL + 120, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    ck_assert_int_eq(src, SRC_REVIEWS);
    task_pop(&t, src, &out, &late);
    ck_assert_int_eq(out.offset, 7);
    ck_assert_int_eq(late, 0);
    event_free(&out.ev);
    task_at_end(&t, SRC_REVIEWS); /* the fetch after it found nothing more */
    ck_assert_int_eq(task_next(&t, NOW, WALL + 120, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    ck_assert_int_eq(src, SRC_ORDERS);
    task_pop(&t, src, &out, &late);
    ck_assert_int_eq(out.offset, 1);
    event_free(&out.ev);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* No hold when every other queue shows a head (their order is known), for a
 * head appended long ago (a backlog), or for one whose time is unknown. */
START_TEST(test_grace_not_needed)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    t.grace_ms = GRACE;
    all_at_end(&t);
    push_appended(&t, SRC_ORDERS, 500, 1, WALL);
    push_appended(&t, SRC_REVIEWS, 600, 2, WALL);
    push_appended(&t, SRC_MESSAGES, 700, 3, WALL);
    ck_assert_int_eq(task_next(&t, NOW, WALL + 1, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    ck_assert_int_eq(src, SRC_ORDERS);
    task_fini(&t, NULL, NULL);

    task_init(&t, 0);
    t.grace_ms = GRACE;
    all_at_end(&t);
    push_appended(&t, SRC_ORDERS, 500, 1, WALL - GRACE);
    ck_assert_int_eq(task_next(&t, NOW, WALL, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    push_appended(&t, SRC_REVIEWS, 500, 2, 0);
    ck_assert_int_eq(task_next(&t, NOW, WALL, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    task_fini(&t, NULL, NULL);

    /* Without a grace a fresh head goes at once. */
    task_init(&t, 0);
    all_at_end(&t);
    push_appended(&t, SRC_ORDERS, 500, 1, WALL);
    ck_assert_int_eq(task_next(&t, NOW, WALL, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* The timer clock: the stream time on the stream clock; on the wall clock
 * the wall clock, but never past a queued head, nor past the stream time
 * while a partition may still bring more. */
START_TEST(test_timer_clock)
{
    struct task t;
    struct task_msg out;
    int late;

    task_init(&t, 0);
    ck_assert_int_eq(task_timer_clock(&t, 0), 0);
    /* Nothing known of any partition: only what was released counts. */
    ck_assert_int_eq(task_timer_clock(&t, WALL), 0);
    all_at_end(&t);
    ck_assert_int_eq(task_timer_clock(&t, WALL), WALL);
    push(&t, SRC_REVIEWS, WALL - 5000, 1);
    push(&t, SRC_MESSAGES, WALL - 3000, 2);
    ck_assert_int_eq(task_timer_clock(&t, WALL), WALL - 5000);
    task_pop(&t, SRC_REVIEWS, &out, &late);
    event_free(&out.ev);
    ck_assert_int_eq(t.stream_ms, WALL - 5000);
    ck_assert_int_eq(task_timer_clock(&t, 0), WALL - 5000);
    /* The reviews partition is not known to be at its end any more. */
    ck_assert_int_eq(task_timer_clock(&t, WALL), WALL - 5000);
    task_at_end(&t, SRC_REVIEWS);
    ck_assert_int_eq(task_timer_clock(&t, WALL), WALL - 3000);
    task_pop(&t, SRC_MESSAGES, &out, &late);
    event_free(&out.ev);
    task_at_end(&t, SRC_MESSAGES);
    ck_assert_int_eq(task_timer_clock(&t, WALL), WALL);
    /* A malformed head has no time: it holds nothing back. */
    push_bad(&t, SRC_ORDERS, 3, 1);
    ck_assert_int_eq(task_timer_clock(&t, WALL), WALL);
    task_fini(&t, NULL, NULL);
}
END_TEST

START_TEST(test_smallest_time_first)
{
    struct task t;
    int src, timed_out;
    int64_t wait_ms;

    task_init(&t, 3);
    ck_assert_int_eq(t.partition, 3);
    push(&t, SRC_ORDERS, 30, 1);
    push(&t, SRC_ORDERS, 60, 2);
    push(&t, SRC_REVIEWS, 10, 5);
    push(&t, SRC_REVIEWS, 40, 6);
    push(&t, SRC_MESSAGES, 20, 9);
    all_at_end(&t);
    expect_pop(&t, NOW, SRC_REVIEWS, 5);
    expect_pop(&t, NOW, SRC_MESSAGES, 9);
    expect_pop(&t, NOW, SRC_ORDERS, 1);
    expect_pop(&t, NOW, SRC_REVIEWS, 6);
    expect_pop(&t, NOW, SRC_ORDERS, 2);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_EMPTY);
    ck_assert_int_eq(timed_out, 0);
    ck_assert_int_eq(t.stream_ms, 60);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* Equal event times: orders, then reviews, then messages; within one queue
 * offset order. */
START_TEST(test_ties_by_topic_then_offset)
{
    struct task t;

    task_init(&t, 0);
    push(&t, SRC_MESSAGES, 100, 30);
    push(&t, SRC_REVIEWS, 100, 20);
    push(&t, SRC_ORDERS, 100, 7);
    push(&t, SRC_ORDERS, 100, 8);
    push(&t, SRC_REVIEWS, 100, 21);
    all_at_end(&t);
    expect_pop(&t, NOW, SRC_ORDERS, 7);
    expect_pop(&t, NOW, SRC_ORDERS, 8);
    expect_pop(&t, NOW, SRC_REVIEWS, 20);
    expect_pop(&t, NOW, SRC_REVIEWS, 21);
    expect_pop(&t, NOW, SRC_MESSAGES, 30);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* A queue's order is its offset order, whatever the event times in it: the
 * merge only ever compares heads. */
START_TEST(test_queue_keeps_offset_order)
{
    struct task t;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 300, 1);
    push(&t, SRC_ORDERS, 100, 2);
    push(&t, SRC_REVIEWS, 200, 1);
    all_at_end(&t);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_REVIEWS, 1), 0);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 1), 0);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 2), 1); /* 100 < 300 */
    task_fini(&t, NULL, NULL);
}
END_TEST

START_TEST(test_waits_for_empty_queue)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 100, 1);
    task_at_end(&t, SRC_MESSAGES);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, IDLE);
    ck_assert_int_eq(timed_out, 0);
    ck_assert_int_eq(next(&t, NOW + 200, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, IDLE - 200);
    ck_assert_int_eq(next(&t, NOW + IDLE - 1, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, 1);
    ck_assert_uint_eq(task_queued(&t, SRC_ORDERS), 1);

    /* The awaited queue delivers an earlier event: it goes first. */
    push(&t, SRC_REVIEWS, 50, 4);
    expect_pop(&t, NOW + IDLE - 1, SRC_REVIEWS, 4);

    /* Empty again and not at its end: waited for again, a fresh wait. */
    ck_assert_int_eq(next(&t, NOW + 600, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, IDLE);

    /* Its end reached: no longer holds the orders head back. */
    task_at_end(&t, SRC_REVIEWS);
    expect_pop(&t, NOW + 601, SRC_ORDERS, 1);
    ck_assert_int_eq(next(&t, NOW + 601, &src, &wait_ms, &timed_out), TASK_EMPTY);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* A message after the end clears it: the queue is behind again. */
START_TEST(test_push_clears_at_end)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    all_at_end(&t);
    push(&t, SRC_REVIEWS, 10, 1);
    expect_pop(&t, NOW, SRC_REVIEWS, 1);
    push(&t, SRC_ORDERS, 20, 2);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, IDLE);
    task_at_end(&t, SRC_REVIEWS);
    expect_pop(&t, NOW, SRC_ORDERS, 2);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* Input paused: the ends seen before are forgotten.  An orders head that
 * would have gone ahead of the empty reviews and messages queues (at their
 * end) waits for them again, up to the idle wait; an earlier review fetched
 * after the pause goes first, and an end seen anew lets the head go. */
START_TEST(test_pause_forgets_ends)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    all_at_end(&t);
    push(&t, SRC_ORDERS, 100, 1);
    task_forget_ends(&t);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, IDLE);
    push(&t, SRC_REVIEWS, 50, 7);
    ck_assert_int_eq(next(&t, NOW + 10, &src, &wait_ms, &timed_out), TASK_WAITING);
    task_at_end(&t, SRC_MESSAGES);
    expect_pop(&t, NOW + 10, SRC_REVIEWS, 7);
    ck_assert_int_eq(next(&t, NOW + 10, &src, &wait_ms, &timed_out), TASK_WAITING);
    task_at_end(&t, SRC_REVIEWS);
    expect_pop(&t, NOW + 20, SRC_ORDERS, 1);

    /* A partition whose end is never signalled again is given up on after
     * the idle wait, as any partition that is behind. */
    push(&t, SRC_ORDERS, 200, 2);
    task_forget_ends(&t);
    ck_assert_int_eq(next(&t, NOW + 30, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(task_next(&t, NOW + 30 + IDLE, 0, IDLE, &src, &wait_ms, &timed_out),
                     TASK_READY);
    ck_assert_int_eq(timed_out, 1);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* A head released because the other queues are empty at their end says
 * which ones, so that the caller can look at them once more. */
START_TEST(test_ended_empty_reported)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 100, 1);
    push(&t, SRC_REVIEWS, 200, 1);
    task_at_end(&t, SRC_MESSAGES);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(src, SRC_ORDERS);
    ck_assert_uint_eq(t.ended_empty, 1u << SRC_MESSAGES);

    /* Every queue has a head: nothing was passed over. */
    push(&t, SRC_MESSAGES, 300, 1);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_uint_eq(t.ended_empty, 0);

    /* Two empty at their end. */
    expect_pop(&t, NOW, SRC_ORDERS, 1);
    task_at_end(&t, SRC_ORDERS);
    expect_pop(&t, NOW, SRC_REVIEWS, 1);
    task_at_end(&t, SRC_REVIEWS);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(src, SRC_MESSAGES);
    ck_assert_uint_eq(t.ended_empty, (1u << SRC_ORDERS) | (1u << SRC_REVIEWS));
    task_fini(&t, NULL, NULL);
}
END_TEST

START_TEST(test_idle_timeout)
{
    struct task t;
    struct task_msg out;
    int src = -1, timed_out = -1, late = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 100, 1);
    push(&t, SRC_ORDERS, 200, 2);
    task_at_end(&t, SRC_MESSAGES);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(next(&t, NOW + IDLE - 1, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(timed_out, 0);

    /* max_idle_ms has passed: released, and the timeout reported once. */
    ck_assert_int_eq(next(&t, NOW + IDLE, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(src, SRC_ORDERS);
    ck_assert_int_eq(timed_out, 1);
    task_pop(&t, src, &out, &late);
    ck_assert_int_eq(out.offset, 1);
    ck_assert_int_eq(late, 0);

    /* Given up on: the next head goes at once, with no second timeout. */
    ck_assert_int_eq(next(&t, NOW + IDLE + 1, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(src, SRC_ORDERS);
    ck_assert_int_eq(timed_out, 0);
    task_pop(&t, src, &out, &late);
    ck_assert_int_eq(out.offset, 2);
    ck_assert_int_eq(next(&t, NOW + IDLE + 2, &src, &wait_ms, &timed_out), TASK_EMPTY);
    ck_assert_int_eq(timed_out, 0);
    push(&t, SRC_ORDERS, 300, 3);
    expect_pop(&t, NOW + IDLE + 3, SRC_ORDERS, 3);
    task_at_end(&t, SRC_ORDERS);

    /* The given-up queue's message arrives late; afterwards it is waited
     * for again. */
    push(&t, SRC_REVIEWS, 150, 7);
    ck_assert_int_eq(expect_pop(&t, NOW + 2000, SRC_REVIEWS, 7), 1);
    ck_assert_int_eq(t.stream_ms, 300);
    push(&t, SRC_ORDERS, 400, 4);
    ck_assert_int_eq(next(&t, NOW + 2000, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(wait_ms, IDLE);
    ck_assert_int_eq(timed_out, 0);
    ck_assert_int_eq(next(&t, NOW + 2000 + IDLE, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(timed_out, 1);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* Reaching the end after a timeout: still not waited for; a message after
 * that makes it waited for again. */
START_TEST(test_timeout_then_end)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 100, 1);
    push(&t, SRC_ORDERS, 200, 2);
    task_at_end(&t, SRC_REVIEWS);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_WAITING);
    ck_assert_int_eq(next(&t, NOW + IDLE, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(timed_out, 1);
    expect_pop(&t, NOW + IDLE, SRC_ORDERS, 1);
    task_at_end(&t, SRC_MESSAGES);
    expect_pop(&t, NOW + IDLE + 1, SRC_ORDERS, 2);
    task_at_end(&t, SRC_ORDERS);
    push(&t, SRC_MESSAGES, 300, 3);
    expect_pop(&t, NOW + IDLE + 2, SRC_MESSAGES, 3);
    push(&t, SRC_ORDERS, 400, 4);
    ck_assert_int_eq(next(&t, NOW + IDLE + 3, &src, &wait_ms, &timed_out), TASK_WAITING);
    task_fini(&t, NULL, NULL);
}
END_TEST

START_TEST(test_empty)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_EMPTY);
    ck_assert_int_eq(timed_out, 0);
    all_at_end(&t);
    ck_assert_int_eq(next(&t, NOW + IDLE * 10, &src, &wait_ms, &timed_out), TASK_EMPTY);
    ck_assert_int_eq(timed_out, 0);
    for (int s = 0; s < SRC__COUNT; s++) {
        ck_assert_uint_eq(task_queued(&t, s), 0);
    }
    task_fini(&t, NULL, NULL);
}
END_TEST

/* A malformed head goes first, even while another queue is awaited and
 * whatever time its (unused) event says; it moves no stream time. */
START_TEST(test_malformed_first)
{
    struct task t;
    struct task_msg out;
    int src = -1, timed_out = -1, late = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 100, 1);
    push_bad(&t, SRC_MESSAGES, 3, 2);
    /* reviews: empty and not at its end, so the orders head must wait */
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_READY);
    ck_assert_int_eq(src, SRC_MESSAGES);
    ck_assert_int_eq(timed_out, 0);
    task_pop(&t, src, &out, &late);
    ck_assert_int_eq(out.offset, 3);
    ck_assert_int_eq(out.reason, 2);
    ck_assert_int_eq(late, 0);
    ck_assert_int_eq(t.stream_ms, 0);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_WAITING);

    /* A malformed message with a huge time in its event: still no time. */
    {
        struct task_msg m = make(INT64_C(9000000000000), 5);

        m.reason = 1;
        ck_assert_int_eq(task_push(&t, SRC_MESSAGES, &m), 0);
    }
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_MESSAGES, 5), 0);
    ck_assert_int_eq(t.stream_ms, 0);
    all_at_end(&t);
    expect_pop(&t, NOW, SRC_ORDERS, 1);
    ck_assert_int_eq(t.stream_ms, 100);

    /* Older than the stream time, but malformed: not late. */
    push_bad(&t, SRC_REVIEWS, 6, 3);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_REVIEWS, 6), 0);
    ck_assert_int_eq(t.stream_ms, 100);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* Only a head jumps the queue: a malformed message behind a valid one waits
 * for it (offset order within a topic). */
START_TEST(test_malformed_keeps_offset_order)
{
    struct task t;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 500, 1);
    push_bad(&t, SRC_ORDERS, 2, 1);
    push(&t, SRC_REVIEWS, 100, 1);
    all_at_end(&t);
    expect_pop(&t, NOW, SRC_REVIEWS, 1);
    expect_pop(&t, NOW, SRC_ORDERS, 1);
    expect_pop(&t, NOW, SRC_ORDERS, 2);
    task_fini(&t, NULL, NULL);
}
END_TEST

START_TEST(test_late_and_stream_time)
{
    struct task t;

    task_init(&t, 0);
    push(&t, SRC_ORDERS, 100, 1);
    push(&t, SRC_ORDERS, 50, 2);
    push(&t, SRC_ORDERS, 100, 3);
    push(&t, SRC_ORDERS, 99, 4);
    push(&t, SRC_ORDERS, 150, 5);
    all_at_end(&t);
    ck_assert_int_eq(t.stream_ms, 0);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 1), 0);
    ck_assert_int_eq(t.stream_ms, 100);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 2), 1);
    ck_assert_int_eq(t.stream_ms, 100); /* the maximum, not the last */
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 3), 0); /* equal: not late */
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 4), 1);
    ck_assert_int_eq(expect_pop(&t, NOW, SRC_ORDERS, 5), 0);
    ck_assert_int_eq(t.stream_ms, 150);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* 1000 messages in one queue (event times not in order): the queue grows
 * past its first 64 slots and hands them back in push order. */
START_TEST(test_growth_keeps_fifo)
{
    struct task t;
    int src = -1, timed_out = -1;
    int64_t wait_ms = -1;

    task_init(&t, 0);
    task_at_end(&t, SRC_REVIEWS);
    task_at_end(&t, SRC_MESSAGES);
    for (int64_t i = 0; i < 1000; i++) {
        push(&t, SRC_ORDERS, (i * 7919) % 1000, i);
    }
    ck_assert_uint_eq(task_queued(&t, SRC_ORDERS), 1000);
    for (int64_t i = 0; i < 1000; i++) {
        expect_pop(&t, NOW, SRC_ORDERS, i);
    }
    ck_assert_uint_eq(task_queued(&t, SRC_ORDERS), 0);
    ck_assert_int_eq(next(&t, NOW, &src, &wait_ms, &timed_out), TASK_EMPTY);
    task_fini(&t, NULL, NULL);
}
END_TEST

/* Growth while the ring has wrapped (head not at slot 0). */
START_TEST(test_growth_after_wrap)
{
    struct task t;
    int64_t pushed = 0, popped = 0;

    task_init(&t, 0);
    task_at_end(&t, SRC_REVIEWS);
    task_at_end(&t, SRC_MESSAGES);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 50; i++, pushed++) {
            push(&t, SRC_ORDERS, pushed, pushed);
        }
        for (int i = 0; i < 37; i++, popped++) {
            expect_pop(&t, NOW, SRC_ORDERS, popped);
        }
        ck_assert_uint_eq(task_queued(&t, SRC_ORDERS), (size_t)(pushed - popped));
    }
    while (popped < pushed) {
        expect_pop(&t, NOW, SRC_ORDERS, popped);
        popped++;
    }
    ck_assert_uint_eq(task_queued(&t, SRC_ORDERS), 0);
    task_fini(&t, NULL, NULL);
}
END_TEST

struct dropped {
    int calls;
    int seen[16];
};

static void on_drop(void *arg, void *msg, void *entry)
{
    struct dropped *d = arg;
    ptrdiff_t i = (char *)msg - msg_tags;

    d->calls++;
    ck_assert_int_ge(i, 0);
    ck_assert_int_lt(i, 16);
    ck_assert_ptr_eq(entry, &entry_tags[i]);
    d->seen[i]++;
}

/* Every message still queued is handed to drop, and its event freed (the
 * items below leak under ASan if not). */
START_TEST(test_fini_drops_queued)
{
    struct task t;
    struct dropped d;
    static const int offs[SRC__COUNT][3] = {{1, 2, 3}, {4, 5, 0}, {6, 0, 0}};
    static const int nq[SRC__COUNT] = {3, 2, 1};

    memset(&d, 0, sizeof(d));
    task_init(&t, 0);
    for (int s = 0; s < SRC__COUNT; s++) {
        for (int i = 0; i < nq[s]; i++) {
            struct task_msg m = make(10 * offs[s][i], offs[s][i]);

            m.ev.items = calloc(1, sizeof(*m.ev.items));
            ck_assert_ptr_nonnull(m.ev.items);
            m.ev.n_items = 1;
            ck_assert_int_eq(task_push(&t, s, &m), 0);
        }
    }
    push_bad(&t, SRC_MESSAGES, 7, 1);
    all_at_end(&t);
    expect_pop(&t, NOW, SRC_ORDERS, 1); /* the smallest time, 10 */
    task_fini(&t, on_drop, &d);
    ck_assert_int_eq(d.calls, 6);
    for (int i = 1; i <= 7; i++) {
        ck_assert_int_eq(d.seen[i], i == 1 ? 0 : 1);
    }
    for (int s = 0; s < SRC__COUNT; s++) {
        ck_assert_uint_eq(task_queued(&t, s), 0);
    }
    task_fini(&t, on_drop, &d); /* nothing left: no second drop */
    ck_assert_int_eq(d.calls, 6);
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_smallest_time_first);
    tcase_add_test(tc, test_ties_by_topic_then_offset);
    tcase_add_test(tc, test_queue_keeps_offset_order);
    tcase_add_test(tc, test_waits_for_empty_queue);
    tcase_add_test(tc, test_push_clears_at_end);
    tcase_add_test(tc, test_pause_forgets_ends);
    tcase_add_test(tc, test_ended_empty_reported);
    tcase_add_test(tc, test_idle_timeout);
    tcase_add_test(tc, test_timeout_then_end);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_malformed_first);
    tcase_add_test(tc, test_malformed_keeps_offset_order);
    tcase_add_test(tc, test_late_and_stream_time);
    tcase_add_test(tc, test_growth_keeps_fifo);
    tcase_add_test(tc, test_growth_after_wrap);
    tcase_add_test(tc, test_fini_drops_queued);
    tcase_add_test(tc, test_grace_holds_fresh_head);
    tcase_add_test(tc, test_grace_not_needed);
    tcase_add_test(tc, test_timer_clock);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(task_suite)
