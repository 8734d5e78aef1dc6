/*
 * fuzz_packed.c - the packed-state decoder (state/packed.c) on arbitrary
 * bytes, as a damaged or hostile value under a customer's state key would
 * be.  What decodes must encode again, and decode(encode(x)) must give back
 * x and its store meta exactly, re-encoding to the same bytes.
 */
#include <string.h>

#include "state/model/model.h"
#include "state/store/packed.h"
#include "tests/fuzz/fuzz.h"

#define ID "fuzz-1"

/* Too large for the stack of a fuzzing thread; one input at a time. */
static struct customer first, again;

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
    FUZZ_CHECK(memcmp(&meta, &meta2, sizeof(meta)) == 0, "store meta differs");
    FUZZ_CHECK(memcmp(&first, &again, sizeof(first)) == 0, "decode(encode(x)) is not x");
    buf2 = packed_new(&again, &meta2, &len2);
    FUZZ_CHECK(buf2 != NULL, "out of memory");
    FUZZ_CHECK(len2 == len && memcmp(buf, buf2, len) == 0, "re-encoded bytes differ");
    free(buf2);
    free(buf);
    return 0;
}
