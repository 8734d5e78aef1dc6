/*
 * parse.c - JSON bytes -> struct event (README, "Events in"), or a rejection reason.
 *
 * The order of the checks matters.  Size, UTF-8 and a byte scan (nesting
 * depth, raw control bytes) all run before cJSON sees the input, so cJSON's
 * recursive descent never meets hostile depth.  Then the common fields, the
 * type/topic pairing and the fields of the type.  Every helper returns PR_OK
 * or a reason, and writes the detail only when it fails; the first failure
 * wins.  Callers may parse on several threads: the only state beyond the
 * call is each thread's allocation arena for cJSON (below).
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/civil.h"
#include "base/currency.h"
#include "base/minor.h"
#include "base/names.h"
#include "consumers/parse.h"

#define TS_MIN_MS 1LL               /* 0 means "absent" in struct event */
#define TS_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define QTY_MAX   1000000.0

/*
 * cJSON allocates every node, key and string of a tree on its own; a
 * message's tree is dozens of small blocks, and their malloc and free were a
 * tenth of the daemon's time per event.  So during parse_event cJSON takes
 * them from an arena of the calling thread, emptied once the tree is freed;
 * what does not fit, and every allocation outside parse_event (the
 * statistics parse, anything else in the process using cJSON), goes to
 * malloc.  The hooks are installed once and never changed, so a thread never
 * frees with another allocator than it allocated with.  AddressSanitizer
 * builds (gcc's and clang's, the fuzzers too) keep malloc, so that they still
 * see every block's bounds.
 */
#ifndef PARSE_ARENA
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define PARSE_ARENA 0
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define PARSE_ARENA 0
#endif
#endif
#endif
#ifndef PARSE_ARENA
#define PARSE_ARENA 1
#endif
#define ARENA_BYTES 65536

struct arena {
    size_t used;
    int active; /* inside parse_event */
    _Alignas(max_align_t) unsigned char mem[ARENA_BYTES];
};

/* A thread's arena is also its value of arena_key, whose destructor frees
 * it when the thread ends (the _Thread_local pointer goes with the thread).
 * Without the key (pthread_key_create failed) there is no arena. */
static _Thread_local struct arena *arena;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static pthread_key_t arena_key;
static int arena_key_made;

static void *arena_malloc(size_t n)
{
    struct arena *a = arena;
    size_t need = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);

    if (a != NULL && a->active && need >= n && need <= ARENA_BYTES - a->used) {
        void *p = a->mem + a->used;

        a->used += need;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    const struct arena *a = arena;

    if (a != NULL && (unsigned char *)p >= a->mem &&
        (unsigned char *)p < a->mem + ARENA_BYTES) {
        return; /* emptied whole when the parse ends */
    }
    free(p);
}

static void install_hooks(void)
{
    cJSON_Hooks hooks = {.malloc_fn = arena_malloc, .free_fn = arena_free};

    arena_key_made = pthread_key_create(&arena_key, free) == 0;
    cJSON_InitHooks(&hooks);
}

/* This thread's arena, active; NULL without one (then cJSON mallocs). */
static struct arena *arena_begin(void)
{
    if (!PARSE_ARENA) {
        return NULL;
    }
    pthread_once(&hooks_once, install_hooks);
    if (arena == NULL) {
        struct arena *a = arena_key_made ? malloc(sizeof(*a)) : NULL;

        if (a == NULL) {
            return NULL;
        }
        if (pthread_setspecific(arena_key, a) != 0) {
            free(a);
            return NULL;
        }
        arena = a;
    }
    arena->used = 0;
    arena->active = 1;
    return arena;
}

static void arena_end(struct arena *a)
{
    if (a != NULL) {
        a->active = 0;
        a->used = 0;
    }
}

/* Per-call state: limits, the caller's clock and where a rejection goes. */
struct pctx {
    const struct parse_limits *lim;
    int64_t now_ms;
    char *detail;
    size_t detail_len;
    char prefix[24]; /* "items[12]." while inside an item, else "" */
};

/* Describes a rejection.  `field` is one of our own field names, never input,
 * so the detail cannot leak or inject message content. */
static enum parse_reason fail(struct pctx *c, enum parse_reason r, const char *field,
                              const char *what)
{
    if (c->detail == NULL || c->detail_len == 0) {
        return r;
    }
    if (field != NULL) {
        snprintf(c->detail, c->detail_len, "field '%s%s': %s", c->prefix, field, what);
    } else {
        snprintf(c->detail, c->detail_len, "%s", what);
    }
    return r;
}

/* ---- names and limits -------------------------------------------------- */

const char *const parse_reason_names[PR__COUNT] = {
    [PR_OK] = "ok",
    [PR_TOO_LARGE] = "too_large",
    [PR_INVALID_UTF8] = "invalid_utf8",
    [PR_TOO_DEEP] = "too_deep",
    [PR_INVALID_JSON] = "invalid_json",
    [PR_NOT_OBJECT] = "not_object",
    [PR_MISSING_FIELD] = "missing_field",
    [PR_WRONG_TYPE] = "wrong_type",
    [PR_UNKNOWN_TYPE] = "unknown_type",
    [PR_WRONG_TOPIC] = "wrong_topic",
    [PR_BAD_ENUM] = "bad_enum",
    [PR_BAD_ID] = "bad_id",
    [PR_BAD_AMOUNT] = "bad_amount",
    [PR_BAD_CURRENCY] = "bad_currency",
    [PR_BAD_QUANTITY] = "bad_quantity",
    [PR_BAD_RATING] = "bad_rating",
    [PR_BAD_TIMESTAMP] = "bad_timestamp",
    [PR_FUTURE_TIMESTAMP] = "future_timestamp",
    [PR_TOO_MANY_ITEMS] = "too_many_items",
    [PR_BAD_KEY] = "bad_key",
    [PR_NO_RATE] = "no_rate",
    [PR_NO_MEMORY] = "no_memory",
};

const char *parse_reason_name(enum parse_reason r)
{
    return names_get(parse_reason_names, PR__COUNT, (int)r);
}

void parse_limits_default(struct parse_limits *lim)
{
    if (lim == NULL) {
        return;
    }
    lim->max_message_bytes = 1024 * 1024;
    lim->max_depth = 32;
    lim->max_amount = 1e9;
    lim->max_future_skew_ms = 24LL * 3600 * 1000;
    lim->cluster_ids = 0;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Length of the sequence a lead byte starts (0: invalid lead) and the range
 * its second byte must fall in; the ranges exclude overlongs (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4). */
static int utf8_lead(unsigned char b, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80) {
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        return 2;
    }
    if (b == 0xE0) {
        *lo = 0xA0;
    } else if (b == 0xED) {
        *hi = 0x9F;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        return 3;
    }
    if (b == 0xF0) {
        *lo = 0x90;
    } else if (b == 0xF4) {
        *hi = 0x8F;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        return 4;
    }
    return 0;
}

int parse_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL) {
        return len == 0;
    }
    while (i < len) {
        unsigned char lo, hi;
        int n = utf8_lead(p[i], &lo, &hi);

        if (n == 0 || len - i < (size_t)n) {
            return 0;
        }
        if (n > 1 && (p[i + 1] < lo || p[i + 1] > hi)) {
            return 0;
        }
        for (int k = 2; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += (size_t)n;
    }
    return 1;
}

/* ---- byte scan before cJSON -------------------------------------------- */

/* Scans a string body; *i is on the opening quote and is left on the closing
 * one (or at len if unterminated, which cJSON then rejects).  Raw control
 * bytes are invalid JSON that cJSON would accept.  "\u0000" is valid JSON,
 * but cJSON decodes it into a C string cut short, so "a\u0000x" and "a" would
 * become the same id: refuse it. */
static enum parse_reason scan_string(struct pctx *c, const char *buf, size_t len,
                                     size_t *i)
{
    size_t k;

    for (k = *i + 1; k < len && buf[k] != '"'; k++) {
        if ((unsigned char)buf[k] < 0x20) {
            return fail(c, PR_INVALID_JSON, NULL, "control character inside a string");
        }
        if (buf[k] != '\\') {
            continue;
        }
        if (len - k >= 6 && memcmp(buf + k + 1, "u0000", 5) == 0) {
            return fail(c, PR_INVALID_JSON, NULL, "\\u0000 escape is not accepted");
        }
        k++; /* the escaped byte cannot end the string */
    }
    *i = k;
    return PR_OK;
}

/* Counts [ and { outside strings.  cJSON fails at the first structural error,
 * so the depth it reaches never exceeds the running count checked here. */
static enum parse_reason scan_bytes(struct pctx *c, const char *buf, size_t len)
{
    int depth = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)buf[i];
        enum parse_reason r = PR_OK;

        if (b == '"') {
            r = scan_string(c, buf, len, &i);
        } else if ((b == '{' || b == '[') && ++depth > c->lim->max_depth) {
            r = fail(c, PR_TOO_DEEP, NULL, "nesting deeper than the limit");
        } else if ((b == '}' || b == ']') && --depth < 0) {
            r = fail(c, PR_INVALID_JSON, NULL, "unbalanced brackets");
        } else if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') {
            r = fail(c, PR_INVALID_JSON, NULL, "NUL or control byte outside a string");
        }
        if (r != PR_OK) {
            return r;
        }
    }
    return PR_OK;
}

static enum parse_reason check_bytes(struct pctx *c, const char *buf, size_t len)
{
    if (len > c->lim->max_message_bytes) {
        return fail(c, PR_TOO_LARGE, NULL, "message larger than the limit");
    }
    if (!parse_utf8_valid(buf, len)) {
        return fail(c, PR_INVALID_UTF8, NULL, "not valid UTF-8");
    }
    return scan_bytes(c, buf, len);
}

/* cJSON's require_null_terminated mode wants the NUL inside buffer_length,
 * and Kafka payloads carry none, so the same rule is applied here: nothing
 * but JSON whitespace after the value.  On success *out owns the tree. */
static enum parse_reason parse_json(struct pctx *c, const char *buf, size_t len,
                                    cJSON **out)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);

    if (root == NULL) {
        return fail(c, PR_INVALID_JSON, NULL, "not valid JSON");
    }
    *out = root;
    while (end < buf + len &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
        end++;
    }
    if (end != buf + len) {
        return fail(c, PR_INVALID_JSON, NULL, "trailing data after the JSON value");
    }
    if (!cJSON_IsObject(root)) {
        return fail(c, PR_NOT_OBJECT, NULL, "top level is not an object");
    }
    return PR_OK;
}

/* ---- field helpers: one per kind of field ------------------------------- */

/* A JSON null is the same as an absent key; absence is an error only for a
 * required field.  A repeated key is refused: another reader of the same
 * bytes might pick the other copy. */
static enum parse_reason get_field(struct pctx *c, const cJSON *obj, const char *name,
                                   int required, const cJSON **out)
{
    const cJSON *it, *found = NULL;

    *out = NULL;
    cJSON_ArrayForEach(it, obj)
    {
        if (it->string == NULL || strcmp(it->string, name) != 0) {
            continue;
        }
        if (found != NULL) {
            return fail(c, PR_INVALID_JSON, name, "duplicate key");
        }
        found = it;
    }
    if (found == NULL || cJSON_IsNull(found)) {
        return required ? fail(c, PR_MISSING_FIELD, name, "missing") : PR_OK;
    }
    *out = found;
    return PR_OK;
}

/* Copies a string of min..max bytes into dst, which holds max + 1. */
static enum parse_reason get_string(struct pctx *c, const cJSON *obj, const char *name,
                                    int required, size_t min, size_t max, char *dst)
{
    const cJSON *it;
    enum parse_reason r = get_field(c, obj, name, required, &it);
    size_t n;

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL) {
        return fail(c, PR_WRONG_TYPE, name, "not a string");
    }
    n = strlen(it->valuestring);
    if (n < min) {
        return fail(c, PR_BAD_ID, name, "empty");
    }
    if (n > max) {
        return fail(c, PR_BAD_ID, name, "too long");
    }
    memcpy(dst, it->valuestring, n + 1);
    return PR_OK;
}

/* Ids (event, customer, order, conversation) are never empty. */
static enum parse_reason get_id(struct pctx *c, const cJSON *obj, const char *name,
                                int required, char *dst)
{
    return get_string(c, obj, name, required, 1, EV_ID_MAX, dst);
}

/* sku, brand, category: optional; "" is the same as absent. */
static enum parse_reason get_name(struct pctx *c, const cJSON *obj, const char *name,
                                  char *dst)
{
    return get_string(c, obj, name, 0, 0, EV_NAME_MAX, dst);
}

static enum parse_reason get_number(struct pctx *c, const cJSON *obj, const char *name,
                                    int required, const cJSON **out)
{
    enum parse_reason r = get_field(c, obj, name, required, out);

    if (r == PR_OK && *out != NULL && !cJSON_IsNumber(*out)) {
        return fail(c, PR_WRONG_TYPE, name, "not a number");
    }
    return r;
}

/* cJSON turns 1e400 into inf, hence the finiteness test.  The amount in
 * minor units of a currency of exponent exp, exactly (base/minor.h): an
 * amount with more decimal places than its currency has is refused, never
 * rounded. */
static enum parse_reason get_amount(struct pctx *c, const cJSON *obj, const char *name,
                                    int required, int exp, int64_t *out)
{
    const cJSON *it;
    enum parse_reason r = get_number(c, obj, name, required, &it);
    const char *why;
    double d;

    if (r != PR_OK || it == NULL) {
        return r;
    }
    d = it->valuedouble;
    if (!isfinite(d)) {
        return fail(c, PR_BAD_AMOUNT, name, "not finite");
    }
    if (d < 0) {
        return fail(c, PR_BAD_AMOUNT, name, "negative");
    }
    if (d > c->lim->max_amount) {
        return fail(c, PR_BAD_AMOUNT, name, "above the maximum");
    }
    if (minor_from_double(d, exp, out, &why) < 0) {
        return fail(c, PR_BAD_AMOUNT, name, why);
    }
    return PR_OK;
}

/* An optional exchange rate: a positive decimal of at most 15 significant
 * digits and 15 after the point (base/fx.h), as written. */
static enum parse_reason get_rate(struct pctx *c, const cJSON *obj, const char *name,
                                  struct fx_rate *out)
{
    const cJSON *it;
    enum parse_reason r = get_number(c, obj, name, 0, &it);
    char buf[MINOR_DECIMAL_MAX];
    const char *why = "not finite";

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (!isfinite(it->valuedouble)) {
        return fail(c, PR_BAD_AMOUNT, name, why);
    }
    if (it->valuedouble <= 0) {
        return fail(c, PR_BAD_AMOUNT, name, it->valuedouble < 0 ? "negative" : "zero");
    }
    if (minor_decimal(it->valuedouble, buf, sizeof(buf)) < 0) {
        return fail(c, PR_BAD_AMOUNT, name, "out of range");
    }
    if (fx_rate_parse(buf, strlen(buf), out, &why) < 0) {
        return fail(c, PR_BAD_AMOUNT, name, why);
    }
    return PR_OK;
}

/* An integer-valued field: one table row per field. */
struct int_field {
    const char *field;
    double lo, hi; /* accepted range */
    int required;
    enum parse_reason bad; /* reason and detail for a fraction or out of range */
    const char *what;
};

enum { IF_QTY, IF_RATING };

static const struct int_field int_fields[] = {
    /* field, accepted lo..hi, required, reason and detail if not */
    [IF_QTY] = {"qty", 1, QTY_MAX, 0, PR_BAD_QUANTITY, "not a positive integer"},
    [IF_RATING] = {"rating", 1, 5, 1, PR_BAD_RATING, "not an integer 1..5"},
};

/* Leaves *out alone when an optional field is absent. */
static enum parse_reason get_int(struct pctx *c, const cJSON *obj,
                                 const struct int_field *f, int64_t *out)
{
    const cJSON *it;
    enum parse_reason r = get_number(c, obj, f->field, f->required, &it);
    double d;

    if (r != PR_OK || it == NULL) {
        return r;
    }
    d = it->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < f->lo || d > f->hi) {
        return fail(c, f->bad, f->field, f->what);
    }
    *out = (int64_t)d;
    return PR_OK;
}

static enum parse_reason get_bool(struct pctx *c, const cJSON *obj, const char *name,
                                  int *out)
{
    const cJSON *it;
    enum parse_reason r = get_field(c, obj, name, 0, &it);

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (!cJSON_IsBool(it)) {
        return fail(c, PR_WRONG_TYPE, name, "not a boolean");
    }
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return PR_OK;
}

/* An active ISO 4217 code, and its exponent into *exp; both left alone
 * when an optional one is absent. */
static enum parse_reason get_currency(struct pctx *c, const cJSON *obj, int required,
                                      char *dst, int *exp)
{
    const cJSON *it;
    enum parse_reason r = get_field(c, obj, "currency", required, &it);
    const char *s;

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL) {
        return fail(c, PR_WRONG_TYPE, "currency", "not a string");
    }
    s = it->valuestring;
    if (strlen(s) != 3) {
        return fail(c, PR_BAD_CURRENCY, "currency", "not three letters");
    }
    for (int i = 0; i < 3; i++) {
        if (s[i] < 'A' || s[i] > 'Z') {
            return fail(c, PR_BAD_CURRENCY, "currency", "not upper-case ASCII letters");
        }
    }
    if ((*exp = currency_exponent(s)) < 0) {
        return fail(c, PR_BAD_CURRENCY, "currency", "not an ISO 4217 currency");
    }
    memcpy(dst, s, 4);
    return PR_OK;
}

/* The range test comes before the cast: converting an out-of-range double to
 * an integer is undefined. */
static int ms_from_number(double d, int64_t *out)
{
    if (!isfinite(d) || d != floor(d) || fabs(d) > (double)TS_MAX_MS) {
        return -1;
    }
    *out = (int64_t)d;
    return 0;
}

/* An RFC 3339 string with offset, or integral epoch milliseconds; either way
 * after 1970-01-01T00:00:00.000Z (0 means "absent" in struct event) and before
 * the year 10000. */
static enum parse_reason get_ts(struct pctx *c, const cJSON *obj, const char *name,
                                int required, int64_t *out)
{
    const cJSON *it;
    enum parse_reason r = get_field(c, obj, name, required, &it);
    int64_t ms = 0;
    int bad;

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (cJSON_IsString(it) && it->valuestring != NULL) {
        bad = civil_rfc3339_parse(it->valuestring, &ms);
    } else if (cJSON_IsNumber(it)) {
        bad = ms_from_number(it->valuedouble, &ms);
    } else {
        return fail(c, PR_WRONG_TYPE, name, "not a string or number");
    }
    if (bad) {
        return fail(c, PR_BAD_TIMESTAMP, name,
                    "neither RFC 3339 with an offset nor integral epoch ms");
    }
    if (ms < TS_MIN_MS || ms > TS_MAX_MS) {
        return fail(c, PR_BAD_TIMESTAMP, name, "not between 1970 and 9999");
    }
    *out = ms;
    return PR_OK;
}

/* ---- enumerations: one table row per enumerated field ------------------- */

struct enum_field {
    const char *field;
    const char *const *names; /* wire names, indexed by value (base/names.h) */
    int first, last;          /* accepted values */
    int required;
    enum parse_reason unknown; /* reason for a string that names no value */
};

enum { EF_TYPE, EF_SHIPPING, EF_REASON, EF_DIRECTION, EF_KIND, EF_CATEGORY };

static const struct enum_field enum_fields[] = {
    /* field, wire names, accepted first..last, required, reason if unknown */
    [EF_TYPE] = {"type", event_type_names, EV_ORDER_PLACED, EV__COUNT - 1, 1,
                 PR_UNKNOWN_TYPE},
    [EF_SHIPPING] = {"shipping", event_shipping_names, SHIP_STANDARD, SHIP__COUNT - 1, 0,
                     PR_BAD_ENUM},
    [EF_REASON] = {"reason", event_return_reason_names, RET_NOT_AS_DESCRIBED,
                   RET__COUNT - 1, 0, PR_BAD_ENUM},
    [EF_DIRECTION] = {"direction", event_direction_names, DIR_INBOUND, DIR__COUNT - 1, 1,
                      PR_BAD_ENUM},
    [EF_KIND] = {"kind", event_msg_kind_names, MSG_INQUIRY, MSG__COUNT - 1, 1,
                 PR_BAD_ENUM},
    [EF_CATEGORY] = {"complaint_category", event_category_names, CAT_LOGISTICS,
                     CAT__COUNT - 1, 0, PR_BAD_ENUM},
};

/* Leaves *out alone when an optional field is absent. */
static enum parse_reason get_enum(struct pctx *c, const cJSON *obj,
                                  const struct enum_field *f, int *out)
{
    const cJSON *it;
    enum parse_reason r = get_field(c, obj, f->field, f->required, &it);
    int v;

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL) {
        return fail(c, PR_WRONG_TYPE, f->field, "not a string");
    }
    v = names_index(f->names, (size_t)f->last + 1, it->valuestring);
    if (v < f->first) {
        return fail(c, f->unknown, f->field, "unknown value");
    }
    *out = v;
    return PR_OK;
}

/* ---- items ----------------------------------------------------------------- */

/* Prices in minor units of the order's currency, of exponent exp. */
static enum parse_reason get_item(struct pctx *c, const cJSON *o, size_t idx, int exp,
                                  struct ev_item *item)
{
    enum parse_reason r;

    if (!cJSON_IsObject(o)) {
        char name[24];

        snprintf(name, sizeof(name), "items[%zu]", idx);
        return fail(c, PR_WRONG_TYPE, name, "not an object");
    }
    snprintf(c->prefix, sizeof(c->prefix), "items[%zu].", idx);
    item->qty = 1; /* a line without a quantity is one unit */
    item->unit_cost_minor = -1;
    r = get_name(c, o, "sku", item->sku);
    if (r == PR_OK) {
        r = get_name(c, o, "brand", item->brand);
    }
    if (r == PR_OK) {
        r = get_name(c, o, "category", item->category);
    }
    if (r == PR_OK) {
        r = get_int(c, o, &int_fields[IF_QTY], &item->qty);
    }
    if (r == PR_OK) {
        r = get_amount(c, o, "unit_price", 0, exp, &item->unit_price_minor);
    }
    if (r == PR_OK) {
        r = get_amount(c, o, "list_price", 0, exp, &item->list_price_minor);
    }
    if (r == PR_OK) {
        r = get_amount(c, o, "unit_cost", 0, exp, &item->unit_cost_minor);
    }
    item->has_cost = item->unit_cost_minor >= 0;
    if (!item->has_cost) {
        item->unit_cost_minor = 0;
    }
    return r;
}

/* The count is checked before anything is allocated, and without walking a
 * huge array to its end.  ev owns items as soon as they exist, so event_free
 * releases them whatever fails later. */
static enum parse_reason get_items(struct pctx *c, const cJSON *obj, struct event *ev)
{
    const cJSON *arr, *it;
    enum parse_reason r = get_field(c, obj, "items", 0, &arr);
    size_t n = 0, i = 0;

    if (r != PR_OK || arr == NULL) {
        return r;
    }
    if (!cJSON_IsArray(arr)) {
        return fail(c, PR_WRONG_TYPE, "items", "not an array");
    }
    for (it = arr->child; it != NULL && n <= EV_ITEMS_MAX; it = it->next) {
        n++;
    }
    if (n > EV_ITEMS_MAX) {
        return fail(c, PR_TOO_MANY_ITEMS, "items", "too many entries");
    }
    if (n == 0) {
        return PR_OK;
    }
    ev->items = calloc(n, sizeof(*ev->items));
    if (ev->items == NULL) {
        return fail(c, PR_NO_MEMORY, "items", "out of memory");
    }
    ev->n_items = n;
    for (it = arr->child; it != NULL && r == PR_OK; it = it->next, i++) {
        r = get_item(c, it, i, ev->exponent, &ev->items[i]);
    }
    if (r == PR_OK) {
        c->prefix[0] = '\0';
    }
    return r;
}

/* ---- one function per event type ----------------------------------------- */

static enum parse_reason parse_order_placed(struct pctx *c, const cJSON *o,
                                            struct event *ev)
{
    int ship = SHIP_NONE;
    enum parse_reason r = get_id(c, o, "order_id", 1, ev->order_id);

    /* the currency first: it says how many decimal places the amounts have */
    if (r == PR_OK) {
        r = get_currency(c, o, 1, ev->currency, &ev->exponent);
    }
    if (r == PR_OK) {
        r = get_amount(c, o, "amount", 1, ev->exponent, &ev->amount_minor);
    }
    if (r == PR_OK) {
        r = get_amount(c, o, "discount", 0, ev->exponent, &ev->discount_minor);
    }
    if (r == PR_OK) {
        r = get_rate(c, o, "fx_rate", &ev->fx_rate);
    }
    if (r == PR_OK) {
        r = get_items(c, o, ev);
    }
    if (r == PR_OK) {
        r = get_enum(c, o, &enum_fields[EF_SHIPPING], &ship);
    }
    if (r == PR_OK) {
        r = get_ts(c, o, "promised_ship_by", 0, &ev->promised_ship_by_ms);
    }
    if (r == PR_OK) {
        r = get_ts(c, o, "promised_delivery_by", 0, &ev->promised_delivery_by_ms);
    }
    if (r == PR_OK) {
        r = get_id(c, o, "conversation_id", 0, ev->conversation_id);
    }
    if (r == PR_OK) {
        r = get_id(c, o, "reward_event_id", 0, ev->reward_event_id);
    }
    ev->shipping = (enum ev_shipping)ship;
    return r;
}

/* order.shipped, order.delivered, order.cancelled */
static enum parse_reason parse_order_ref(struct pctx *c, const cJSON *o, struct event *ev)
{
    return get_id(c, o, "order_id", 1, ev->order_id);
}

static enum parse_reason parse_order_returned(struct pctx *c, const cJSON *o,
                                              struct event *ev)
{
    int reason = RET_NONE;
    enum parse_reason r = get_id(c, o, "order_id", 1, ev->order_id);

    /* A return may name its currency (and the rate to convert it at);
     * without one its amount is read in hundredths, as the model keeps
     * money (consumers/convert.c says in which currency). */
    ev->exponent = MINOR_MODEL_EXPONENT;
    if (r == PR_OK) {
        r = get_currency(c, o, 0, ev->currency, &ev->exponent);
    }
    if (r == PR_OK) {
        r = get_amount(c, o, "amount", 1, ev->exponent, &ev->amount_minor);
    }
    if (r == PR_OK) {
        r = get_rate(c, o, "fx_rate", &ev->fx_rate);
    }
    if (r == PR_OK) {
        r = get_enum(c, o, &enum_fields[EF_REASON], &reason);
    }
    ev->reason = (enum ev_return_reason)reason;
    return r;
}

/* Only the presence of `text` is kept; the model never reads review prose. */
static enum parse_reason get_has_text(struct pctx *c, const cJSON *o, int *has_text)
{
    const cJSON *it;
    enum parse_reason r = get_field(c, o, "text", 0, &it);

    if (r != PR_OK || it == NULL) {
        return r;
    }
    if (!cJSON_IsString(it) || it->valuestring == NULL) {
        return fail(c, PR_WRONG_TYPE, "text", "not a string");
    }
    *has_text = it->valuestring[0] != '\0';
    return PR_OK;
}

static enum parse_reason parse_review(struct pctx *c, const cJSON *o, struct event *ev)
{
    int64_t rating = 0;
    enum parse_reason r = get_id(c, o, "order_id", 0, ev->order_id);

    if (r == PR_OK) {
        r = get_name(c, o, "sku", ev->sku);
    }
    if (r == PR_OK) {
        r = get_name(c, o, "brand", ev->brand);
    }
    if (r == PR_OK) {
        r = get_int(c, o, &int_fields[IF_RATING], &rating);
    }
    if (r == PR_OK) {
        r = get_has_text(c, o, &ev->has_text);
    }
    if (r == PR_OK) {
        r = get_bool(c, o, "shared", &ev->shared);
    }
    ev->rating = (int)rating;
    return r;
}

static enum parse_reason parse_message(struct pctx *c, const cJSON *o, struct event *ev)
{
    int dir = DIR_NONE, kind = MSG_OTHER, cat = CAT_NONE;
    enum parse_reason r = get_id(c, o, "conversation_id", 1, ev->conversation_id);

    if (r == PR_OK) {
        r = get_enum(c, o, &enum_fields[EF_DIRECTION], &dir);
    }
    if (r == PR_OK) {
        r = get_enum(c, o, &enum_fields[EF_KIND], &kind);
    }
    if (r == PR_OK && kind == MSG_RESOLUTION && dir != DIR_OUTBOUND) {
        r = fail(c, PR_BAD_ENUM, "kind", "resolution is sent by the shop (outbound)");
    }
    if (r == PR_OK) {
        r = get_bool(c, o, "mentions_competitor", &ev->mentions_competitor);
    }
    if (r == PR_OK) {
        r = get_enum(c, o, &enum_fields[EF_CATEGORY], &cat);
    }
    ev->direction = (enum ev_direction)dir;
    ev->kind = (enum ev_msg_kind)kind;
    ev->category = (enum ev_category)cat;
    return r;
}

typedef enum parse_reason (*type_parser)(struct pctx *, const cJSON *, struct event *);

static const struct {
    enum ev_source source;
    type_parser parse;
} type_rules[EV__COUNT] = {
    [EV_ORDER_PLACED] = {SRC_ORDERS, parse_order_placed},
    [EV_ORDER_SHIPPED] = {SRC_ORDERS, parse_order_ref},
    [EV_ORDER_DELIVERED] = {SRC_ORDERS, parse_order_ref},
    [EV_ORDER_RETURNED] = {SRC_ORDERS, parse_order_returned},
    [EV_ORDER_CANCELLED] = {SRC_ORDERS, parse_order_ref},
    [EV_REVIEW_POSTED] = {SRC_REVIEWS, parse_review},
    [EV_MESSAGE_SENT] = {SRC_MESSAGES, parse_message},
};

/* ---- the event ------------------------------------------------------------- */

static enum parse_reason check_topic(struct pctx *c, enum ev_type t, enum ev_source src)
{
    char what[96];

    if (type_rules[t].source == src) {
        return PR_OK;
    }
    snprintf(what, sizeof(what), "%s is not accepted on the %s topic", event_type_name(t),
             event_source_name(src));
    return fail(c, PR_WRONG_TOPIC, "type", what);
}

static enum parse_reason check_future(struct pctx *c, int64_t ts_ms)
{
    int64_t skew = c->lim->max_future_skew_ms;

    if (ts_ms > c->now_ms && ts_ms - c->now_ms > skew) {
        return fail(c, PR_FUTURE_TIMESTAMP, "ts", "too far in the future");
    }
    return PR_OK;
}

static enum parse_reason parse_fields(struct pctx *c, const cJSON *o, enum ev_source src,
                                      struct event *ev)
{
    int type = EV_ORDER_PLACED;
    enum parse_reason r = get_id(c, o, "event_id", 1, ev->event_id);

    if (r == PR_OK) {
        r = get_id(c, o, "customer_id", 1, ev->customer_id);
    }
    if (r == PR_OK && c->lim->cluster_ids && ev->customer_id[0] == '}') {
        r = fail(c, PR_BAD_ID, "customer_id",
                 "starts with '}': on a Redis Cluster its keys would not share a slot");
    }
    if (r == PR_OK) {
        r = get_enum(c, o, &enum_fields[EF_TYPE], &type);
    }
    if (r == PR_OK) {
        r = check_topic(c, (enum ev_type)type, src);
    }
    if (r == PR_OK) {
        r = get_ts(c, o, "ts", 1, &ev->ts_ms);
    }
    if (r == PR_OK) {
        r = check_future(c, ev->ts_ms);
    }
    if (r == PR_OK) {
        r = type_rules[type].parse(c, o, ev);
    }
    ev->type = (enum ev_type)type;
    return r;
}

enum parse_reason parse_event(const char *buf, size_t len, enum ev_source src,
                              const struct parse_limits *lim, int64_t now_ms,
                              struct event *ev, char *detail, size_t detail_len)
{
    struct parse_limits defaults;
    struct pctx c = {
        .lim = lim, .now_ms = now_ms, .detail = detail, .detail_len = detail_len};
    cJSON *root = NULL;
    struct arena *a;
    enum parse_reason r;

    if (lim == NULL) {
        parse_limits_default(&defaults);
        c.lim = &defaults;
    }
    if (detail != NULL && detail_len > 0) {
        detail[0] = '\0';
    }
    event_init(ev);
    if (ev == NULL || (buf == NULL && len > 0)) {
        return fail(&c, PR_INVALID_JSON, NULL, "no input");
    }

    r = check_bytes(&c, buf, len);
    a = arena_begin();
    if (r == PR_OK) {
        r = parse_json(&c, buf, len, &root);
    }
    if (r == PR_OK) {
        r = parse_fields(&c, root, src, ev);
    }

    cJSON_Delete(root);
    arena_end(a);
    if (r != PR_OK) {
        event_free(ev);
    }
    return r;
}
