/*
 * producer.c - everything loyaltyd produces: derived events (counted down in
 * their batch's wait counter on delivery) and DLQ records, each produced
 * again after a failed delivery, with a backoff per output topic and a
 * rate-limited log line.  Main thread only: delivery reports are served
 * from producer_serve(), producer_await() and producer_settle().
 */
#include "consumers/producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "consumers/sentset.h"

/* A topic's failed messages are produced again in rounds: the first
 * REPRODUCE_MIN_MS after the failure, each next one after twice the wait of
 * the last, up to REPRODUCE_MAX_MS; a delivery to the topic starts over. */
#define REPRODUCE_MIN_MS 100
#define REPRODUCE_MAX_MS 5000
/* A topic's failures get a log line at most this often; the next line counts
 * the attempts left out. */
#define FAIL_LOG_EVERY_MS 5000

/* One output topic (indexed by enum topic_role; the input roles stay
 * unused). */
struct outlet {
    struct outmsg *retry, **retry_tail; /* failed, to produce again; oldest first */
    int64_t retry_at_ms;                /* the next round; 0: nothing waits */
    int64_t backoff_ms;                 /* the wait before the round after it */
    size_t pending;         /* handed over, not yet delivered (retry list included) */
    int64_t quiet_since_ms; /* its last delivery, or when pending rose from 0 */
    uint64_t failures;      /* failed attempts since its last delivery */
    uint64_t unlogged;      /* of those, since the last log line */
    int64_t log_at_ms;      /* the next failure line may be written from then */
};

struct producer {
    const struct pipeline_opts *cfg;
    rd_kafka_t *rk;
    struct outlet out[TOPIC__COUNT];
    size_t outstanding;   /* produced, delivery report not yet seen */
    size_t derived;       /* derived events handed over, not yet delivered */
    size_t pending_bytes; /* keys and values handed over, not yet delivered */
    struct sentset *sent; /* ids of the derived events delivered last */
    struct producer_hooks hooks;
};

/* How often producer_await lets its owner look around. */
#define AWAIT_HOOK_MS 100

/* How many delivered ids are remembered: a batch whose commit failed runs
 * again within a few batches, each of at most a few thousand events. */
#define SENT_IDS 16384

/* A message handed to the producer.  Owned by the pipeline until its delivery
 * report; the payload must stay valid that long (librdkafka does not copy). */
struct outmsg {
    struct producer *pr;
    struct tracker_entry **entries; /* the inputs it came from (held) */
    size_t nentries;
    enum topic_role role;
    enum out_kind kind; /* derived events only */
    unsigned *pending;  /* derived events: the batch's wait counter */
    char event_id[33];  /* derived events: theirs */
    char *key, *payload;
    size_t keylen, len;
    rd_kafka_headers_t *hdrs; /* DLQ only; a copy is handed over per attempt */
    struct outmsg *next;      /* in its topic's retry list */
};

/* ---- messages ---- */

static void outmsg_free(struct outmsg *om)
{
    if (om->hdrs) {
        rd_kafka_headers_destroy(om->hdrs);
    }
    free(om->entries);
    free(om->key);
    free(om->payload);
    free(om);
}

/* entries[0..n) are held once each until the delivery report. */
static struct outmsg *outmsg_new(struct producer *pr,
                                 struct tracker_entry *const *entries, size_t n,
                                 enum topic_role role, const char *key, size_t keylen,
                                 const char *payload, size_t len)
{
    struct outmsg *om = calloc(1, sizeof(*om));

    if (om == NULL) {
        return NULL;
    }
    om->pr = pr;
    om->role = role;
    om->key = malloc(keylen + 1);
    om->payload = malloc(len + 1);
    om->entries = n ? malloc(n * sizeof(*om->entries)) : NULL;
    if (om->key == NULL || om->payload == NULL || (n && om->entries == NULL)) {
        outmsg_free(om);
        return NULL;
    }
    memcpy(om->key, key, keylen);
    memcpy(om->payload, payload, len);
    om->key[keylen] = om->payload[len] = '\0';
    om->keylen = keylen;
    om->len = len;
    for (size_t i = 0; i < n; i++) {
        if (entries[i] != NULL) {
            tracker_hold(om->entries[om->nentries++] = entries[i]);
        }
    }
    return om;
}

static void outmsg_done(struct outmsg *om)
{
    for (size_t i = 0; i < om->nentries; i++) {
        tracker_release(om->entries[i]);
    }
    outmsg_free(om);
}

/* A failed attempt at om (err): it waits in its topic's retry list for the
 * next round.  A full local queue is no failure of the topic: not counted
 * nor said. */
static void retry_later(struct producer *pr, struct outmsg *om, const char *what,
                        rd_kafka_resp_err_t err)
{
    struct outlet *o = &pr->out[om->role];
    int64_t now = mono_ms();

    om->next = NULL;
    *o->retry_tail = om;
    o->retry_tail = &om->next;
    if (o->retry_at_ms == 0) {
        o->retry_at_ms = now + o->backoff_ms;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return;
    }
    metrics_delivery_failed();
    o->failures++;
    if (now < o->log_at_ms) {
        o->unlogged++;
        return;
    }
    if (o->failures == 1) {
        log_warn("%s to %s failed: %s; produced again after %" PRId64
                 " ms, then backing off up to %d s (said every %d s while it fails)",
                 what, pr->cfg->topic[om->role], rd_kafka_err2str(err),
                 o->retry_at_ms - now, REPRODUCE_MAX_MS / 1000, FAIL_LOG_EVERY_MS / 1000);
    } else {
        log_warn("%s to %s still failing: %s; %" PRIu64
                 " more failed attempts since the last line, %zu messages waiting",
                 what, pr->cfg->topic[om->role], rd_kafka_err2str(err), o->unlogged,
                 o->pending);
    }
    o->unlogged = 0;
    o->log_at_ms = now + FAIL_LOG_EVERY_MS;
}

/* Hand one message to librdkafka; refused (a full queue, a topic in error),
 * it waits for its topic's next round, so nothing is ever dropped. */
static void produce(struct producer *pr, struct outmsg *om)
{
    rd_kafka_headers_t *hdrs = om->hdrs ? rd_kafka_headers_copy(om->hdrs) : NULL;
    rd_kafka_resp_err_t err;

    err = rd_kafka_producev(
        pr->rk, RD_KAFKA_V_TOPIC(pr->cfg->topic[om->role]),
        RD_KAFKA_V_KEY(om->key, om->keylen), RD_KAFKA_V_VALUE(om->payload, om->len),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(om), RD_KAFKA_V_END);
    if (err) {
        if (hdrs) { /* librdkafka takes them over only with the message */
            rd_kafka_headers_destroy(hdrs);
        }
        retry_later(pr, om, "produce", err);
        return;
    }
    pr->outstanding++;
}

/* A new message: it counts as pending until its delivery. */
static void submit(struct producer *pr, struct outmsg *om)
{
    struct outlet *o = &pr->out[om->role];

    if (o->pending++ == 0) {
        o->quiet_since_ms = mono_ms();
    }
    pr->pending_bytes += om->keylen + om->len;
    produce(pr, om);
}

static void account_delivered(struct producer *pr, const struct outmsg *om)
{
    struct outlet *o = &pr->out[om->role];

    o->pending--;
    pr->pending_bytes -= om->keylen + om->len;
    o->quiet_since_ms = mono_ms();
    o->backoff_ms = REPRODUCE_MIN_MS;
    if (o->failures > 0) {
        log_note("delivery to %s works again after %" PRIu64 " failed attempts",
                 pr->cfg->topic[om->role], o->failures);
    }
    o->failures = o->unlogged = 0;
    o->log_at_ms = 0;
}

/* The rounds that are due: each topic's retry list produced again, the next
 * round's wait doubled. */
static void produce_retries(struct producer *pr)
{
    int64_t now = mono_ms();

    for (int r = 0; r < TOPIC__COUNT; r++) {
        struct outlet *o = &pr->out[r];
        struct outmsg *list = o->retry;

        if (list == NULL || now < o->retry_at_ms) {
            continue;
        }
        o->retry = NULL;
        o->retry_tail = &o->retry;
        o->retry_at_ms = 0;
        o->backoff_ms =
            o->backoff_ms * 2 < REPRODUCE_MAX_MS ? o->backoff_ms * 2 : REPRODUCE_MAX_MS;
        while (list != NULL) {
            struct outmsg *om = list;

            list = om->next;
            produce(pr, om);
        }
    }
}

static int retries_waiting(const struct producer *pr)
{
    for (int r = 0; r < TOPIC__COUNT; r++) {
        if (pr->out[r].retry != NULL) {
            return 1;
        }
    }
    return 0;
}

size_t producer_backlog(const struct producer *pr)
{
    return pr->derived;
}

size_t producer_pending_bytes(const struct producer *pr)
{
    return pr->pending_bytes;
}

int64_t producer_quiet_ms(const struct producer *pr, int *role)
{
    int64_t now = mono_ms(), longest = 0;

    for (int r = 0; r < TOPIC__COUNT; r++) {
        const struct outlet *o = &pr->out[r];

        if (o->pending > 0 && now - o->quiet_since_ms >= longest) {
            longest = now - o->quiet_since_ms;
            if (role) {
                *role = r;
            }
        }
    }
    return longest;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct outmsg *om = m->_private;
    struct producer *pr = opaque;

    (void)rk;
    pr->outstanding--;
    if (m->err) {
        retry_later(pr, om, "delivery", m->err);
        return;
    }
    account_delivered(pr, om);
    if (om->role != TOPIC_DLQ) {
        sentset_add(pr->sent, om->event_id);
        metrics_emitted(om->kind);
        pr->derived--;
        if (om->pending) {
            (*om->pending)--;
        }
    }
    outmsg_done(om);
}

int producer_publish(void *arg, const char *customer_id, const struct publish_list *l,
                     unsigned *pending)
{
    struct producer *pr = arg;

    for (size_t i = 0; i < l->n; i++) {
        const struct publish_entry *e = &l->v[i];
        struct outmsg *om;

        /* Delivered already, by this batch's earlier run whose commit failed:
         * the same event (same id), not to be published twice. */
        if (sentset_has(pr->sent, e->event_id)) {
            metrics_republish_skipped();
            continue;
        }
        om = outmsg_new(pr, NULL, 0, topic_of(e->kind), customer_id, strlen(customer_id),
                        e->payload, strlen(e->payload));
        if (om == NULL) {
            return -1;
        }
        memcpy(om->event_id, e->event_id, sizeof(om->event_id));
        om->kind = e->kind;
        om->pending = pending;
        (*pending)++;
        pr->derived++;
        submit(pr, om);
    }
    return 0;
}

int producer_await(void *arg, const unsigned *pending, int timeout_ms)
{
    struct producer *pr = arg;
    int64_t now = mono_ms(), until = now + timeout_ms, hook = now + AWAIT_HOOK_MS;

    while (*pending > 0) {
        produce_retries(pr);
        if (*pending == 0 || (now = mono_ms()) >= until) {
            break;
        }
        if (now >= hook && pr->hooks.waiting) {
            pr->hooks.waiting(pr->hooks.arg);
            hook = now + AWAIT_HOOK_MS;
        }
        rd_kafka_poll(pr->rk, 5);
    }
    return *pending == 0 ? 0 : -1;
}

void producer_set_hooks(struct producer *pr, const struct producer_hooks *h)
{
    pr->hooks = *h;
}

void producer_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct producer *pr = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        return; /* the pipeline asks for fatal errors and says them */
    }
    log_warn("kafka producer: %s: %s", rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && pr->hooks.brokers_down) {
        pr->hooks.brokers_down(pr->hooks.arg);
    }
}

struct inmsg *inmsg_new(const rd_kafka_message_t *m, int src, size_t max_payload)
{
    size_t plen = m->len < max_payload ? m->len : max_payload;
    struct inmsg *in = malloc(sizeof(*in) + m->key_len + plen);
    rd_kafka_timestamp_type_t tstype;

    if (in == NULL) {
        return NULL;
    }
    in->src = src;
    in->partition = m->partition;
    in->offset = m->offset;
    in->kafka_ts_ms = rd_kafka_message_timestamp(m, &tstype);
    in->len = m->len;
    in->detail = NULL;
    in->keylen = m->key ? m->key_len : 0;
    in->plen = m->payload ? plen : 0;
    if (in->keylen) {
        memcpy(in->data, m->key, in->keylen);
    }
    if (in->plen) {
        memcpy(in->data + in->keylen, m->payload, in->plen);
    }
    return in;
}

/* The original bytes (or a prefix) as the value, the verdict in headers. */
int producer_dead_letter(struct producer *pr, struct tracker_entry *entry,
                         const struct inmsg *in, const char *reason, const char *detail)
{
    struct outmsg *om = outmsg_new(pr, &entry, 1, TOPIC_DLQ, in->data, in->keylen,
                                   in->data + in->keylen, in->plen);
    char num[32];

    if (om == NULL || (om->hdrs = rd_kafka_headers_new(8)) == NULL) {
        if (om) {
            outmsg_done(om);
        }
        return -1;
    }
    rd_kafka_header_add(om->hdrs, "reason", -1, reason, -1);
    rd_kafka_header_add(om->hdrs, "detail", -1, detail, -1);
    rd_kafka_header_add(om->hdrs, "source_topic", -1, pr->cfg->topic[in->src], -1);
    snprintf(num, sizeof(num), "%" PRId32, in->partition);
    rd_kafka_header_add(om->hdrs, "source_partition", -1, num, -1);
    snprintf(num, sizeof(num), "%" PRId64, in->offset);
    rd_kafka_header_add(om->hdrs, "source_offset", -1, num, -1);
    snprintf(num, sizeof(num), "%zu", in->len);
    rd_kafka_header_add(om->hdrs, "original_size", -1, num, -1);
    rd_kafka_header_add(om->hdrs, "truncated", -1, in->plen < in->len ? "true" : "false",
                        -1);
    submit(pr, om);
    return 0;
}

void inmsg_free(struct inmsg *in)
{
    if (in != NULL) {
        free(in->detail);
    }
    free(in);
}

struct producer *producer_new(const struct pipeline_opts *cfg, rd_kafka_conf_t *conf,
                              char *err, size_t errlen)
{
    struct producer *pr = calloc(1, sizeof(*pr));

    if (pr == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pr->cfg = cfg;
    for (int r = 0; r < TOPIC__COUNT; r++) {
        pr->out[r].retry_tail = &pr->out[r].retry;
        pr->out[r].backoff_ms = REPRODUCE_MIN_MS;
    }
    if ((pr->sent = sentset_new(SENT_IDS)) == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "out of memory");
        free(pr);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, pr);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if ((pr->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen)) == NULL) {
        rd_kafka_conf_destroy(conf);
        producer_free(pr);
        return NULL;
    }
    return pr;
}

void producer_free(struct producer *pr)
{
    if (pr == NULL) {
        return;
    }
    if (pr->rk) {
        rd_kafka_destroy(pr->rk); /* undelivered: dr callbacks free them */
    }
    for (int r = 0; r < TOPIC__COUNT; r++) {
        while (pr->out[r].retry) {
            struct outmsg *om = pr->out[r].retry;

            pr->out[r].retry = om->next;
            outmsg_done(om);
        }
    }
    sentset_free(pr->sent);
    free(pr);
}

rd_kafka_t *producer_handle(struct producer *pr)
{
    return pr->rk;
}

void producer_serve(struct producer *pr)
{
    produce_retries(pr);
    rd_kafka_poll(pr->rk, 0);
}

void producer_settle(struct producer *pr, int timeout_ms)
{
    int64_t until = mono_ms() + timeout_ms;

    do {
        produce_retries(pr);
        rd_kafka_poll(pr->rk, 50);
    } while ((pr->outstanding > 0 || retries_waiting(pr)) && mono_ms() < until);
}

void producer_flush(struct producer *pr, int timeout_ms)
{
    rd_kafka_flush(pr->rk, timeout_ms);
}
