/*
 * rescore.c - rescoring after a refit: every customer of this instance's
 * tasks whose state was evaluated with an older model version is evaluated
 * again at its own as_of time (model_rescore), in the background and at most
 * rescore_per_s a second.  Two passes over every customer (a SCAN of the
 * summary hashes, so no index is needed), a chunk with the customers'
 * partitions and versions at a time: the first counts the customers behind (the pending
 * figure), the second rescores each chunk's, in batches of one task's customers, before
 * it reads the next chunk; so memory holds one chunk, whatever the number of
 * customers.  The stored version is the progress: a restart, a rebalance or
 * another refit starts over and finds only the customers still behind, and
 * one met twice is current the second time.
 */
#include "consumers/pipeline_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"

static void rescore_chunk_free(struct rescore *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].id);
    }
    free(rs->v);
    rs->v = NULL;
    rs->n = rs->next = 0;
}

void rescore_fini(struct rescore *rs)
{
    rescore_chunk_free(rs);
    memset(rs, 0, sizeof(*rs));
}

static void rescore_publish(const struct pipeline *pl)
{
    const struct rescore *rs = &pl->rs;
    uint64_t pending = 0;

    if (rs->phase == RS_COUNTING) {
        pending = rs->behind; /* so far */
    } else if (rs->phase == RS_RESCORING && rs->behind > rs->processed) {
        pending = rs->behind - rs->processed;
    }
    metrics_set_rescore(pl->model.version, pending, rs->phase == RS_COUNTING);
}

/* From the start (again): the model's version, this instance's tasks. */
void rescore_start(struct pipeline *pl)
{
    struct rescore *rs = &pl->rs;

    rescore_chunk_free(rs);
    rs->target = pl->model.version;
    rs->phase = rs->target > 0 && pl->cfg->rescore_per_s > 0 ? RS_COUNTING : RS_IDLE;
    rs->cursor = 0;
    rs->last_chunk = 0;
    rs->behind = rs->processed = rs->rescored = 0;
    rs->tokens = 0;
    rs->refill_ms = rs->started_ms = mono_ms();
    rescore_publish(pl);
}

static int rs_cmp(const void *a, const void *b)
{
    const struct rs_cust *x = a, *y = b;

    if (x->partition != y->partition) {
        return x->partition < y->partition ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

/* The next ZSCAN chunk's customers of our tasks that are behind: counted
 * (first pass) or kept in v, in partition and id order (second).  0, or -1
 * when Redis failed or memory ran short (the same chunk again later). */
static int rescore_scan(struct pipeline *pl, int keep)
{
    struct rescore *rs = &pl->rs;
    char **ids, err[512];
    int32_t *part;
    int64_t *ver;
    uint64_t cursor = rs->cursor;
    size_t n;
    int rc = 0;

    if (store_scan_versions(pl->store, &rs->cursor, &ids, &part, &ver, &n, err,
                            sizeof(err)) < 0) {
        log_warn("rescore: %s", err);
        return -1;
    }
    if (keep && n > 0 && (rs->v = malloc(n * sizeof(*rs->v))) == NULL) {
        log_warn("rescore: out of memory");
        rs->cursor = cursor; /* the same chunk again */
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (ver[i] >= rs->target || pipeline_task_of(pl, part[i]) == NULL) {
            continue;
        }
        if (!keep) {
            rs->behind++;
            continue;
        }
        rs->v[rs->n++] = (struct rs_cust){ids[i], part[i]};
        ids[i] = NULL;
    }
    if (rs->n > 1) { /* (an empty chunk has no array at all) */
        qsort(rs->v, rs->n, sizeof(*rs->v), rs_cmp);
    }
    rs->last_chunk = rs->cursor == 0;
out:
    store_ids_free(ids, n);
    free(part);
    free(ver);
    return rc;
}

/* The next batch of the chunk: up to sweep.batch customers of one idle
 * task, as far as the rate allows.  0 when there is nothing to do now. */
static size_t rescore_batch(struct pipeline *pl)
{
    struct rescore *rs = &pl->rs;
    int64_t now = mono_ms();
    struct ptask *pt;
    struct batch_ctx b;
    struct batch_stats st = {0};
    char err[512];
    size_t n = 0, max;

    rs->tokens += (double)(now - rs->refill_ms) * pl->cfg->rescore_per_s / 1000.0;
    if (rs->tokens > pl->cfg->rescore_per_s) {
        rs->tokens = pl->cfg->rescore_per_s; /* a second's worth at most */
    }
    rs->refill_ms = now;
    max = rs->tokens < (double)pl->cfg->sweep_batch ? (size_t)rs->tokens
                                                    : (size_t)pl->cfg->sweep_batch;
    /* Customers of partitions no longer ours are left to their new owner. */
    while (rs->next < rs->n && pipeline_task_of(pl, rs->v[rs->next].partition) == NULL) {
        rs->next++;
    }
    if (max == 0 || rs->next == rs->n) {
        return 0;
    }
    pt = pipeline_task_of(pl, rs->v[rs->next].partition);
    if (pt->nbatch > 0 || pt->lane >= 0) {
        return 0; /* its events first */
    }
    while (n < max && rs->next + n < rs->n &&
           rs->v[rs->next + n].partition == pt->t.partition) {
        pl->items[n] = (struct batch_item){.sweep_id = rs->v[rs->next + n].id,
                                           .rescore = 1,
                                           .source = -1,
                                           .partition = pt->t.partition,
                                           .offset = -1};
        n++;
    }
    b = lanes_batch_ctx_of(pl, pt, pl->store, &pl->pending);
    if (batch_run(&b, pl->items, n, &st, err, sizeof(err)) < 0) {
        log_warn("rescore of partition %d: %s", (int)pt->t.partition, err);
        return 0; /* the same customers next time */
    }
    stats_account_batch(pl, pt->t.partition, &st);
    rs->tokens -= (double)n;
    rs->rescored += st.rescored;
    rs->processed += n;
    metrics_add(MC_RESCORED, st.rescored);
    rs->next += n;
    return n;
}

/* Some of the rescoring, within the step's time, after the sweeper's. */
void rescore_some(struct pipeline *pl)
{
    struct rescore *rs = &pl->rs;
    int64_t t0 = mono_ms();

    if (rs->phase == RS_IDLE || !store_ok(pl->store) || pl->paused ||
        pipeline_assigned(pl) == 0) {
        return;
    }
    if (pl->model.version != rs->target) {
        rescore_start(pl); /* another refit meanwhile */
        return;
    }
    if (rs->phase == RS_COUNTING) {
        if (rescore_scan(pl, 0) == 0 && rs->cursor == 0) {
            log_note("rescore: %" PRIu64
                     " customers of this instance's partitions behind "
                     "model version %" PRId64 ", at most %d a second",
                     rs->behind, rs->target, pl->cfg->rescore_per_s);
            rs->phase = RS_RESCORING; /* from the first chunk again */
            rs->last_chunk = 0;
        }
    } else if (rs->next == rs->n && rs->last_chunk) {
        log_note("rescore: model version %" PRId64 " reached, %" PRIu64
                 " customers rescored in %.1f s",
                 rs->target, rs->rescored, (double)(mono_ms() - rs->started_ms) / 1e3);
        rescore_chunk_free(rs);
        rs->phase = RS_IDLE;
    } else if (rs->next == rs->n) {
        rescore_chunk_free(rs);
        (void)rescore_scan(pl, 1);
    } else {
        while (rescore_batch(pl) > 0 && mono_ms() - t0 < SWEEP_STEP_MS) {
            ;
        }
    }
    rescore_publish(pl);
}
