/*
 * cfgtab.c - configuration key tables: defaults, values checked, changes,
 * descriptions (see cfgtab.h).
 */
#include "base/cfgtab.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *field(void *obj, const struct cfgtab_key *k)
{
    return (char *)obj + k->offset;
}

static const void *cfield(const void *obj, const struct cfgtab_key *k)
{
    return (const char *)obj + k->offset;
}

static const struct cfgtab_key *find(const struct cfgtab *tab, const char *name)
{
    size_t plen = strlen(tab->prefix);

    if (strncmp(name, tab->prefix, plen) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < tab->n; i++) {
        if (strcmp(tab->keys[i].name, name + plen) == 0) {
            return &tab->keys[i];
        }
    }
    return NULL;
}

static int parse_number(const char *value, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(value, &end);
    return (errno != 0 || end == value || *end != '\0' || !isfinite(*out)) ? -1 : 0;
}

/* A number within the key's bounds (an integer but for CFGTAB_DOUBLE). */
static int set_number(void *obj, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    int whole = k->type != CFGTAB_DOUBLE;
    void *f = field(obj, k);
    double d;

    if (parse_number(value, &d) < 0) {
        snprintf(why, whylen, "'%s' is not a number", value);
        return -1;
    }
    if (d < k->min || d > k->max || (whole && d != floor(d))) {
        snprintf(why, whylen, "must be %s between %g and %g",
                 whole ? "an integer" : "a number", k->min, k->max);
        return -1;
    }
    switch (k->type) {
    case CFGTAB_INT:
        *(int *)f = (int)d;
        break;
    case CFGTAB_SIZE:
        *(size_t *)f = (size_t)d;
        break;
    case CFGTAB_SECS:
        *(int *)f = (int)d * 1000;
        break;
    case CFGTAB_SECS64:
        *(int64_t *)f = (int64_t)d * 1000;
        break;
    default: /* CFGTAB_DOUBLE, CFGTAB_WHOLE */
        *(double *)f = d;
        break;
    }
    return 0;
}

static int set_string(void *obj, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    char **slot = field(obj, k), *copy;

    if ((k->flags & CFGTAB_NONEMPTY) && value[0] == '\0') {
        snprintf(why, whylen, "must not be empty");
        return -1;
    }
    if (k->hook != NULL && k->hook(obj, k, value, why, whylen) < 0) {
        return -1;
    }
    if ((copy = strdup(value)) == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    free(*slot);
    *slot = copy;
    return 0;
}

static int set_value(void *obj, const struct cfgtab_key *k, const char *value, char *why,
                     size_t whylen)
{
    int rc;

    switch (k->type) {
    case CFGTAB_STR:
        return set_string(obj, k, value, why, whylen);
    case CFGTAB_CUSTOM:
        if ((rc = k->hook(obj, k, value, why, whylen)) == CFGTAB_NOT_LISTED) {
            snprintf(why, whylen, "'%s' is not one of the allowed values (%s)", value,
                     k->help);
        }
        return rc < 0 ? -1 : 0;
    default:
        return set_number(obj, k, value, why, whylen);
    }
}

int cfgtab_set(const struct cfgtab *tab, void *obj, const char *name, const char *value,
               char *err, size_t errlen)
{
    const struct cfgtab_key *k = find(tab, name);
    char why[512] = "";

    if (k == NULL) {
        snprintf(err, errlen, "unknown key '%s'", name);
        return CFGTAB_UNKNOWN;
    }
    if (set_value(obj, k, value, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s%s: %s", tab->prefix, k->name, why);
        return -1;
    }
    return 0;
}

int cfgtab_defaults(const struct cfgtab *tab, void *obj, char *err, size_t errlen)
{
    char why[512] = "";

    for (size_t i = 0; i < tab->n; i++) {
        if (set_value(obj, &tab->keys[i], tab->keys[i].def, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s%s: %s", tab->prefix, tab->keys[i].name, why);
            return -1;
        }
    }
    return 0;
}

void cfgtab_free(const struct cfgtab *tab, void *obj)
{
    for (size_t i = 0; i < tab->n; i++) {
        if (tab->keys[i].type == CFGTAB_STR) {
            char **slot = field(obj, &tab->keys[i]);

            free(*slot);
            *slot = NULL;
        }
    }
}

static int differs(const struct cfgtab_key *k, const void *a, const void *b)
{
    const void *fa = cfield(a, k), *fb = cfield(b, k);

    switch (k->type) {
    case CFGTAB_STR:
        return strcmp(*(char *const *)fa, *(char *const *)fb) != 0;
    case CFGTAB_INT:
    case CFGTAB_SECS:
        return *(const int *)fa != *(const int *)fb;
    case CFGTAB_SIZE:
        return *(const size_t *)fa != *(const size_t *)fb;
    case CFGTAB_DOUBLE:
    case CFGTAB_WHOLE:
        return *(const double *)fa != *(const double *)fb;
    case CFGTAB_SECS64:
        return *(const int64_t *)fa != *(const int64_t *)fb;
    case CFGTAB_CUSTOM:
        return memcmp(fa, fb, k->size) != 0;
    }
    return 0;
}

size_t cfgtab_changes(const struct cfgtab *tab, const void *a, const void *b, char *out,
                      size_t outlen)
{
    size_t n = 0, len = strlen(out);

    for (size_t i = 0; i < tab->n; i++) {
        const struct cfgtab_key *k = &tab->keys[i];

        if ((k->flags & CFGTAB_IN_PLACE) || !differs(k, a, b)) {
            continue;
        }
        if (len + 1 < outlen) {
            snprintf(out + len, outlen - len, "%s%s%s", len ? ", " : "", tab->prefix,
                     k->name);
            len += strlen(out + len);
        }
        n++;
    }
    return n;
}

void cfgtab_describe(const struct cfgtab *tab, FILE *out)
{
    for (size_t i = 0; i < tab->n; i++) {
        fprintf(out, "# %s\n%s%s = %s\n", tab->keys[i].help, tab->prefix,
                tab->keys[i].name, tab->keys[i].def);
    }
}
