/*
 * sweep.c - the sweeper: a pass (pipeline_sweep, on main's timer) goes over
 * every task that has nothing taken or in flight and evaluates its due
 * customers at every due time up to its timer clock, a few batches per step
 * of the main loop, so that a long pass does not hold up the events.
 */
#include "consumers/pipeline_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/task.h"

/* A pass sweeps at most this many batches of one task (a step works at
 * most SWEEP_STEP_MS). */
#define SWEEP_CHUNKS 5

/* The task's timer clock (task_timer_clock): the sweeper runs on a task
 * only while none of its events is taken or in flight, so with
 * clock = stream every event up to it is applied. */
int64_t sweep_timer_clock(const struct pipeline *pl, const struct ptask *pt)
{
    return task_timer_clock(&pt->t, pl->cfg->clock == CLOCK_WALL ? wall_ms() : 0);
}

/* Due customers whose stored state cannot be read leave the due times, so
 * that every pass does not try them again (and they do not count as
 * overdue timers); they are noted as set aside. */
static void forget_set_aside(struct pipeline *pl, int32_t partition, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct batch_item *it = &pl->items[i];

        if (it->status == BATCH_QUARANTINED) {
            lanes_quarantine_note(pl, it->sweep_id, it->err);
            store_due_forget(pl->store, partition, it->sweep_id);
        }
    }
}

/* One batch of the task's due customers; each is evaluated at every due time
 * up to now, so the result does not depend on when this runs. */
static size_t sweep_task(struct pipeline *pl, struct ptask *pt, int64_t now)
{
    struct batch_ctx b = lanes_batch_ctx_of(pl, pt, pl->store, &pl->pending);
    struct batch_stats st = {0};
    char **ids = NULL, err[512];
    size_t n = 0;

    if (store_due(pl->store, pt->t.partition, now, (size_t)pl->cfg->sweep_batch, &ids,
                  &n) < 0) {
        metrics_redis_error(store_err_class(store_last_error(pl->store)));
        if (!hold_stores_ok(pl)) {
            hold_back(pl);
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        pl->items[i] = (struct batch_item){.sweep_id = ids[i],
                                           .sweep_until_ms = now,
                                           .source = -1,
                                           .partition = pt->t.partition,
                                           .offset = -1};
    }
    if (batch_run(&b, pl->items, n, &st, err, sizeof(err)) < 0) {
        log_warn("sweep of partition %d: %s", (int)pt->t.partition, err);
        metrics_redis_error(store_err_class(err));
        if (!hold_stores_ok(pl)) {
            hold_back(pl);
        }
    } else {
        stats_account_batch(pl, pt->t.partition, &st);
        forget_set_aside(pl, pt->t.partition, n);
    }
    store_ids_free(ids, n);
    return n;
}

void pipeline_sweep(struct pipeline *pl)
{
    if (pl->sweeping) {
        return; /* the last pass is still going */
    }
    pl->sweeping = 1;
    pl->sweep_next = 0;
    pl->sweep_chunks = 0;
    pl->sweep_swept = 0;
}

/* Some of the sweeper's pass: batches of due customers, task after task,
 * until SWEEP_STEP_MS have gone (at least one batch), so that a pass over
 * many due customers does not hold up the events of the step after it. */
void sweep_some(struct pipeline *pl)
{
    int64_t t0 = mono_ms();

    if (!pl->sweeping || !store_ok(pl->store) || pl->paused) {
        return;
    }
    while (pl->sweep_next < pl->tasks.n) {
        struct ptask *pt = pl->tasks.v[pl->sweep_next];
        int64_t now = pt ? sweep_timer_clock(pl, pt) : 0;
        size_t n = 0;

        if (now > 0 && pt->nbatch == 0 && pt->lane < 0) {
            n = sweep_task(pl, pt, now);
            pl->sweep_swept += n;
        }
        /* A full batch: there may be more due, up to SWEEP_CHUNKS batches. */
        if (n < (size_t)pl->cfg->sweep_batch || ++pl->sweep_chunks >= SWEEP_CHUNKS) {
            pl->sweep_next++;
            pl->sweep_chunks = 0;
        }
        if (mono_ms() - t0 >= SWEEP_STEP_MS) {
            return;
        }
    }
    pl->sweeping = 0;
    metrics_sweep_run(pl->sweep_swept);
    if (pl->sweep_swept > 0) {
        log_debug("sweeper: %zu customers re-evaluated", pl->sweep_swept);
    }
}
