/*
 * redrive.c - `loyaltyctl redrive`: the DLQ read from its earliest offset to
 * the high watermarks as of the start (consumers/dlqio.c: no group offsets
 * committed), the records of one reason (and one customer) produced again,
 * value and key, to their source topic and partition on the shipped producer
 * settings.  A record whose value is a prefix (`truncated`) or whose source
 * is not a configured input topic is skipped and counted.  Redriving a record
 * twice is harmless: the daemon skips an event_id it has applied.
 */
#include "daemon/redrive.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/dlqio.h"

#define READ_IDLE_MS    30000 /* the DLQ read gives up after so long without a record */
#define FLUSH_MS        60000 /* the deliveries are awaited so long */
#define SHOWN_TRUNCATED 5     /* truncated records named in the summary */
#define ERRLEN          512

struct redrive_args {
    const char *reason;
    const char *customer; /* NULL: every customer */
    int dry_run;
    int json;
};

struct redrive_counts {
    size_t read, matched;
    size_t redriven; /* selected and replayable: handed to the producer (listed on a dry
                        run) */
    size_t failed;   /* of those, not acknowledged */
    size_t truncated, unknown_topic;
    char shown[SHOWN_TRUNCATED][96]; /* the first truncated records' sources */
};

struct redrive {
    const struct config *cfg;
    struct redrive_args a;
    struct redrive_counts n;
    struct dlq_sender *sender; /* NULL on a dry run */
    cJSON *listed;             /* a dry run's records, with --json */
};

static int parse_args(int argc, char **argv, struct redrive_args *a, const char **why)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc && argv[i + 1][0]) {
            a->reason = argv[++i];
        } else if (strcmp(argv[i], "--customer") == 0 && i + 1 < argc && argv[i + 1][0]) {
            a->customer = argv[++i];
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            a->dry_run = 1;
        } else {
            *why = "redrive: unexpected argument (or an option without its value)";
            return -1;
        }
    }
    if (a->reason == NULL) {
        *why = "redrive takes --reason REASON";
        return -1;
    }
    return 0;
}

static int is_input_topic(const struct config *cfg, const char *topic)
{
    for (int t = TOPIC_ORDERS; t <= TOPIC_MESSAGES; t++) {
        if (strcmp(cfg->pipe.topic[t], topic) == 0) {
            return 1;
        }
    }
    return 0;
}

static int selected(const struct redrive_args *a, const struct dlq_record *rec)
{
    if (strcmp(rec->reason, a->reason) != 0) {
        return 0;
    }
    return a->customer == NULL ||
           (rec->key != NULL && rec->keylen == strlen(a->customer) &&
            memcmp(rec->key, a->customer, rec->keylen) == 0);
}

/* The source partition from its header; -1 (the partitioner's choice) if
 * it does not read as one. */
static int32_t source_partition(const struct dlq_record *rec)
{
    char *end;
    long p;

    errno = 0;
    p = strtol(rec->source_partition, &end, 10);
    if (errno || end == rec->source_partition || *end != '\0' || p < 0 || p > INT32_MAX) {
        return -1;
    }
    return (int32_t)p;
}

static void note_truncated(struct redrive_counts *n, const struct dlq_record *rec)
{
    if (n->truncated < SHOWN_TRUNCATED) {
        snprintf(n->shown[n->truncated], sizeof(n->shown[0]), "%.40s[%.8s]@%.20s",
                 rec->source_topic, rec->source_partition, rec->source_offset);
    }
    n->truncated++;
}

/* A dry run's line (or JSON entry) for a record it would redrive. */
static void list_record(struct redrive *rd, const struct dlq_record *rec)
{
    int keylen = rec->key ? (int)(rec->keylen < 128 ? rec->keylen : 128) : 0;
    char key[129];
    cJSON *o;

    snprintf(key, sizeof(key), "%.*s", keylen, rec->key ? rec->key : "");
    if (rd->listed == NULL) {
        printf("would redrive %s[%s]@%s key %s (%zu bytes; dlq %" PRId32 "@%" PRId64
               ")\n",
               rec->source_topic, rec->source_partition, rec->source_offset, key,
               rec->len, rec->partition, rec->offset);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source_topic", rec->source_topic);
    cJSON_AddNumberToObject(o, "source_partition", atof(rec->source_partition));
    cJSON_AddNumberToObject(o, "source_offset", atof(rec->source_offset));
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddNumberToObject(o, "size", (double)rec->len);
    cJSON_AddItemToArray(rd->listed, o);
}

/* One record read: counted, skipped, listed or produced.  0, or -1 with err. */
static int one_record(struct redrive *rd, const struct dlq_record *rec, char *err)
{
    rd->n.read++;
    if (!selected(&rd->a, rec)) {
        return 0;
    }
    rd->n.matched++;
    if (strcmp(rec->truncated, "true") == 0) {
        note_truncated(&rd->n, rec);
        return 0;
    }
    if (!is_input_topic(rd->cfg, rec->source_topic)) {
        rd->n.unknown_topic++;
        return 0;
    }
    rd->n.redriven++;
    if (rd->sender == NULL) {
        list_record(rd, rec);
        return 0;
    }
    return dlq_sender_send(rd->sender, rec->source_topic, source_partition(rec), rec->key,
                           rec->keylen, rec->value, rec->len, err, ERRLEN);
}

/* Every record up to the watermarks through one_record.  0, or -1 with err. */
static int read_all(struct redrive *rd, char *err)
{
    struct dlq_reader *r = dlq_reader_open(&rd->cfg->pipe, err, ERRLEN);
    struct dlq_record rec;
    int rc = 0;

    if (r == NULL) {
        return -1;
    }
    while ((rc = dlq_reader_next(r, &rec, READ_IDLE_MS, err, ERRLEN)) == 1) {
        if (one_record(rd, &rec, err) < 0) {
            rc = -1;
            break;
        }
    }
    dlq_reader_close(r);
    return rc;
}

static void print_json(const struct redrive *rd)
{
    const struct redrive_counts *n = &rd->n;
    cJSON *doc = cJSON_CreateObject(), *shown;
    char *text;

    cJSON_AddStringToObject(doc, "topic", rd->cfg->pipe.topic[TOPIC_DLQ]);
    cJSON_AddStringToObject(doc, "reason", rd->a.reason);
    if (rd->a.customer) {
        cJSON_AddStringToObject(doc, "customer", rd->a.customer);
    }
    cJSON_AddBoolToObject(doc, "dry_run", rd->a.dry_run);
    cJSON_AddNumberToObject(doc, "read", (double)n->read);
    cJSON_AddNumberToObject(doc, "matched", (double)n->matched);
    cJSON_AddNumberToObject(doc, "to_redrive", (double)n->redriven);
    cJSON_AddNumberToObject(doc, "redriven",
                            (double)(rd->a.dry_run ? 0 : n->redriven - n->failed));
    cJSON_AddNumberToObject(doc, "failed", (double)n->failed);
    cJSON_AddNumberToObject(doc, "skipped_truncated", (double)n->truncated);
    cJSON_AddNumberToObject(doc, "skipped_unknown_topic", (double)n->unknown_topic);
    shown = cJSON_AddArrayToObject(doc, "truncated_sources");
    for (size_t i = 0; i < n->truncated && i < SHOWN_TRUNCATED; i++) {
        cJSON_AddItemToArray(shown, cJSON_CreateString(n->shown[i]));
    }
    if (rd->listed) {
        cJSON_AddItemReferenceToObject(doc, "records", rd->listed);
    }
    if ((text = cJSON_PrintUnformatted(doc)) != NULL) {
        puts(text);
    }
    free(text);
    cJSON_Delete(doc);
}

static void print_text(const struct redrive *rd)
{
    const struct redrive_counts *n = &rd->n;

    printf("read %zu records of %s; %zu with reason %s%s%s\n", n->read,
           rd->cfg->pipe.topic[TOPIC_DLQ], n->matched, rd->a.reason,
           rd->a.customer ? " and customer " : "", rd->a.customer ? rd->a.customer : "");
    if (rd->a.dry_run) {
        printf("dry run: would redrive %zu, nothing produced\n", n->redriven);
    } else {
        printf("redriven %zu%s\n", n->redriven - n->failed,
               n->failed ? " (the others failed, see below)" : "");
    }
    printf("skipped %zu truncated (the value is only a prefix of the event: cannot be "
           "replayed)",
           n->truncated);
    for (size_t i = 0; i < n->truncated && i < SHOWN_TRUNCATED; i++) {
        printf("%s%s", i ? ", " : ": ", n->shown[i]);
    }
    printf("%s\n", n->truncated > SHOWN_TRUNCATED ? ", ..." : "");
    printf("skipped %zu from a topic that is no configured input topic\n",
           n->unknown_topic);
}

/* The deliveries awaited; 0, or -1 with err. */
static int finish(struct redrive *rd, char *err)
{
    size_t delivered = 0, failed = 0;
    int rc = dlq_sender_flush(rd->sender, FLUSH_MS, &delivered, &failed, err, ERRLEN);

    rd->n.failed = failed;
    return rc;
}

int redrive_command(const struct config *cfg, int argc, char **argv, int json,
                    const char **why)
{
    struct redrive rd = {.cfg = cfg, .a = {.json = json}};
    char err[ERRLEN] = "";
    int rc = 0;

    if (parse_args(argc, argv, &rd.a, why) < 0) {
        return REDRIVE_USAGE;
    }
    if (json && rd.a.dry_run && (rd.listed = cJSON_CreateArray()) == NULL) {
        fprintf(stderr, "loyaltyctl: out of memory\n");
        return 1;
    }
    if (!rd.a.dry_run && (rd.sender = dlq_sender_open(&cfg->pipe, err, ERRLEN)) == NULL) {
        fprintf(stderr, "loyaltyctl: redrive: %s\n", err);
        cJSON_Delete(rd.listed);
        return 1;
    }
    rc = read_all(&rd, err);
    if (rc == 0 && rd.sender) {
        rc = finish(&rd, err);
    } else if (rd.sender) { /* what was handed over before the failure */
        char ignored[ERRLEN];

        finish(&rd, ignored);
    }
    if (json) {
        print_json(&rd);
    } else {
        print_text(&rd);
    }
    if (rc < 0) {
        fprintf(stderr, "loyaltyctl: redrive: %s\n", err);
    }
    dlq_sender_close(rd.sender);
    cJSON_Delete(rd.listed);
    return rc < 0 ? 1 : 0;
}
