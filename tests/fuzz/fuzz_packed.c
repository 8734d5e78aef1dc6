/*
 * fuzz_packed.c - the packed-state decoder (state/packed.c) on arbitrary
 * bytes, as a damaged or hostile value under a customer's state key would
 * be.  What decodes must encode again (in this build's layout, whatever
 * layout it read), and decode(encode(x)) must give back x and its store meta
 * exactly, re-encoding to the same bytes; and the model
 * must run on it without undefined behaviour.
 */
#include <stdio.h>
#include <string.h>

#include "state/model/model.h"
#include "state/store/packed.h"
#include "tests/fuzz/fuzz.h"

#define ID "fuzz-1"

/* Too large for the stack of a fuzzing thread; one input at a time. */
static struct customer first, again;

/* The model on a decoded state: an order, then every due time up to a year
 * later.  Whatever a damaged state holds, the arithmetic must stay defined
 * (the sanitizers of this build abort on overflow). */
static void model_on(struct customer *c)
{
    static struct model_config *cfg;
    static struct model_ctx m;
    struct emission_list em;
    struct event ev;
    char err[160];

    if (cfg == NULL) {
        FUZZ_CHECK((cfg = model_config_new()) != NULL, "out of memory");
        m.cfg = cfg;
        bg_params_default(&m.bg);
        gg_params_default(&m.gg);
    }
    memset(&ev, 0, sizeof(ev));
    ev.type = EV_ORDER_PLACED;
    ev.ts_ms = c->as_of_ms > 0 && c->as_of_ms < INT64_MAX / 2 ? c->as_of_ms + 1000 : 1000;
    snprintf(ev.event_id, sizeof(ev.event_id), "fuzz-ev");
    snprintf(ev.customer_id, sizeof(ev.customer_id), "%s", ID);
    snprintf(ev.order_id, sizeof(ev.order_id), "fuzz-order");
    ev.amount_minor = 199900;
    ev.exponent = 2;
    memcpy(ev.currency, "USD", 4);
    emission_list_init(&em);
    FUZZ_CHECK(model_advance(c, ev.ts_ms, &m, &em) >= 0, "out of memory");
    (void)model_apply(c, &ev, &m, &em, err, sizeof(err));
    FUZZ_CHECK(model_advance(c, ev.ts_ms + 365LL * 86400000, &m, &em) >= 0,
               "out of memory");
    emission_list_free(&em);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct store_meta meta, meta2;
    unsigned char *buf, *buf2;
    size_t len, len2;
    char err[256];

    if (packed_decode(data, size, ID, &first, &meta, err, sizeof(err)) < 0) {
        FUZZ_CHECK(strstr(err, ID) != NULL, "refusal does not name the customer");
        return 0;
    }
    FUZZ_CHECK(strcmp(first.id, ID) == 0, "decoded customer has another id");
    buf = packed_new(&first, &meta, &len);
    FUZZ_CHECK(buf != NULL, "out of memory");
    FUZZ_CHECK(packed_encode(&first, &meta, NULL, 0) == len, "measured size differs");
    FUZZ_CHECK(packed_decode(buf, len, ID, &again, &meta2, err, sizeof(err)) == 0,
               "re-encoded state does not decode");
    /* An older layout read is written in this build's. */
    FUZZ_CHECK(meta2.layout == PACKED_LAYOUT, "re-encoded in another layout");
    meta.layout = PACKED_LAYOUT;
    FUZZ_CHECK(memcmp(&meta, &meta2, sizeof(meta)) == 0, "store meta differs");
    FUZZ_CHECK(memcmp(&first, &again, sizeof(first)) == 0, "decode(encode(x)) is not x");
    buf2 = packed_new(&again, &meta2, &len2);
    FUZZ_CHECK(buf2 != NULL, "out of memory");
    FUZZ_CHECK(len2 == len && memcmp(buf, buf2, len) == 0, "re-encoded bytes differ");
    free(buf2);
    free(buf);
    model_on(&first);
    return 0;
}
