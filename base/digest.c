#include "base/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int digest_id128(const char *const *parts, size_t n, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0) {
            ok = EVP_DigestUpdate(ctx, "", 1) == 1;
        }
        if (ok) {
            ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1;
        }
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len >= 16;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        out[0] = '\0';
        return -1;
    }
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
    return 0;
}
