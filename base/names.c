/*
 * names.c - enum <-> name tables (see names.h).
 */
#include "base/names.h"

#include <limits.h>
#include <string.h>

const char *names_get(const char *const *names, size_t n, int i)
{
    if (i < 0 || (size_t)i >= n || names[i] == NULL) {
        return "unknown";
    }
    return names[i];
}

int names_lookup(const char *const *names, size_t n, const char *text, size_t len)
{
    for (size_t i = 0; i < n && i <= INT_MAX; i++) {
        if (names[i] != NULL && strlen(names[i]) == len &&
            memcmp(names[i], text, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int names_index(const char *const *names, size_t n, const char *text)
{
    return names_lookup(names, n, text, strlen(text));
}
