/*
 * test_cfgtab.c - base/cfgtab.c: defaults, every type set from text and
 * checked against its bounds, the wording of every error, the keys that
 * differ between two configurations, the description.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfgtab.h"
#include "tests/unit/check_main.h"

struct sample {
    char *name, *path;
    int count, ms;
    size_t bytes;
    double ratio, days;
    int64_t skew_ms;
    int mode;
    int list[4], nlist;
};

/* "on" or "off". */
static int parse_mode(void *obj, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    (void)why;
    (void)whylen;
    if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
        return CFGTAB_NOT_LISTED;
    }
    *(int *)(void *)((char *)obj + k->offset) = value[1] == 'n';
    return 0;
}

/* Up to four integers in [min, max], comma-separated. */
static int parse_list(void *obj, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    struct sample *s = obj;
    int tmp[4] = {0}, n = 0;

    for (const char *p = value; *p != '\0';) {
        char *end;
        long x = strtol(p, &end, 10);

        if (end == p || x < k->min || x > k->max || n == 4 || (*end && *end != ',')) {
            snprintf(why, whylen, "must be at most 4 integers between %g and %g", k->min,
                     k->max);
            return -1;
        }
        tmp[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    memcpy(s->list, tmp, sizeof(tmp));
    s->nlist = n;
    return 0;
}

static int check_path(void *obj, const struct cfgtab_key *k, const char *value, char *why,
                      size_t whylen)
{
    (void)obj;
    (void)k;
    if (value[0] != '\0' && value[0] != '/') {
        snprintf(why, whylen, "'%s' is not an absolute path", value);
        return -1;
    }
    return 0;
}

#define F(f) CFGTAB_FIELD(struct sample, f)

static const struct cfgtab_key keys[] = {
    {"name", CFGTAB_STR, F(name), "x", 0, 0, "a name", CFGTAB_NONEMPTY, NULL},
    {"path", CFGTAB_STR, F(path), "", 0, 0, "a path", 0, check_path},
    {"count", CFGTAB_INT, F(count), "3", 1, 10, "a count", 0, NULL},
    {"wait_s", CFGTAB_SECS, F(ms), "2", 0, 60, "a wait", 0, NULL},
    {"bytes", CFGTAB_SIZE, F(bytes), "1048576", 0, 1e12, "a size", 0, NULL},
    {"ratio", CFGTAB_DOUBLE, F(ratio), "0.5", 0, 1, "a ratio", 0, NULL},
    {"days", CFGTAB_WHOLE, F(days), "7", 1, 365, "a whole number of days", 0, NULL},
    {"skew_s", CFGTAB_SECS64, F(skew_ms), "86400", 0, 31536000, "a skew", 0, NULL},
    {"mode", CFGTAB_CUSTOM, F(mode), "off", 0, 0, "'on' or 'off'", CFGTAB_IN_PLACE,
     parse_mode},
    {"list", CFGTAB_CUSTOM, F(list), "2,5", 1, 100, "integers", 0, parse_list},
};

static const struct cfgtab plain = {"", keys, sizeof(keys) / sizeof(keys[0])};
static const struct cfgtab prefixed = {"sample.", keys, sizeof(keys) / sizeof(keys[0])};

static void make(struct sample *s)
{
    char err[256] = "";

    memset(s, 0, sizeof(*s));
    ck_assert_msg(cfgtab_defaults(&plain, s, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_defaults)
{
    struct sample s;

    make(&s);
    ck_assert_str_eq(s.name, "x");
    ck_assert_str_eq(s.path, "");
    ck_assert_int_eq(s.count, 3);
    ck_assert_int_eq(s.ms, 2000);
    ck_assert_uint_eq(s.bytes, 1048576);
    ck_assert_double_eq(s.ratio, 0.5);
    ck_assert_double_eq(s.days, 7);
    ck_assert(s.skew_ms == 86400000LL);
    ck_assert_int_eq(s.mode, 0);
    ck_assert_int_eq(s.nlist, 2);
    ck_assert_int_eq(s.list[1], 5);
    cfgtab_free(&plain, &s);
    ck_assert_ptr_null(s.name);
    ck_assert_ptr_null(s.path);
}
END_TEST

START_TEST(test_values)
{
    struct sample s;
    char err[256] = "";

    make(&s);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "name", "shop", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "path", "/tmp/x", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "count", "1e1", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "wait_s", "60", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "bytes", "1e12", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "ratio", "0.25", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "days", "365", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "skew_s", "0", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "mode", "on", err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&plain, &s, "list", "", err, sizeof(err)), 0);
    ck_assert_str_eq(s.name, "shop");
    ck_assert_str_eq(s.path, "/tmp/x");
    ck_assert_int_eq(s.count, 10);
    ck_assert_int_eq(s.ms, 60000);
    ck_assert_uint_eq(s.bytes, (size_t)1e12);
    ck_assert_double_eq(s.ratio, 0.25);
    ck_assert_double_eq(s.days, 365);
    ck_assert(s.skew_ms == 0);
    ck_assert_int_eq(s.mode, 1);
    ck_assert_int_eq(s.nlist, 0);
    cfgtab_free(&plain, &s);
}
END_TEST

/* Every error is "KEY: reason", the prefix part of the key. */
static const struct {
    const char *key, *value, *expect;
} bad[] = {
    {"name", "", "name: must not be empty"},
    {"path", "tmp", "path: 'tmp' is not an absolute path"},
    {"count", "11", "count: must be an integer between 1 and 10"},
    {"count", "2.5", "count: must be an integer between 1 and 10"},
    {"count", "12x", "count: '12x' is not a number"},
    {"count", "", "count: '' is not a number"},
    {"wait_s", "1.5", "wait_s: must be an integer between 0 and 60"},
    {"bytes", "-1", "bytes: must be an integer between 0 and 1e+12"},
    {"ratio", "1.5", "ratio: must be a number between 0 and 1"},
    {"ratio", "nan", "ratio: 'nan' is not a number"},
    {"ratio", "inf", "ratio: 'inf' is not a number"},
    {"days", "0.5", "days: must be an integer between 1 and 365"},
    {"skew_s", "lots", "skew_s: 'lots' is not a number"},
    {"mode", "maybe", "mode: 'maybe' is not one of the allowed values ('on' or 'off')"},
    {"list", "1,2,3,4,5", "list: must be at most 4 integers between 1 and 100"},
    {"nope", "1", "unknown key 'nope'"},
};

START_TEST(test_errors)
{
    struct sample s, before;
    char err[256] = "", out[256] = "";
    int rc;

    make(&s);
    make(&before);
    rc = cfgtab_set(&plain, &s, bad[_i].key, bad[_i].value, err, sizeof(err));
    ck_assert_int_eq(rc, strcmp(bad[_i].key, "nope") == 0 ? CFGTAB_UNKNOWN : -1);
    ck_assert_str_eq(err, bad[_i].expect);
    /* a refused value leaves the configuration as it was */
    ck_assert_uint_eq(cfgtab_changes(&plain, &s, &before, out, sizeof(out)), 0);
    ck_assert_int_eq(s.mode, before.mode);
    ck_assert_int_eq(s.nlist, before.nlist);
    cfgtab_free(&plain, &s);
    cfgtab_free(&plain, &before);
}
END_TEST

START_TEST(test_prefix)
{
    struct sample s;
    char err[256] = "";

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(cfgtab_defaults(&prefixed, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(cfgtab_set(&prefixed, &s, "sample.count", "4", err, sizeof(err)), 0);
    ck_assert_int_eq(s.count, 4);
    ck_assert_int_eq(cfgtab_set(&prefixed, &s, "count", "4", err, sizeof(err)),
                     CFGTAB_UNKNOWN);
    ck_assert_str_eq(err, "unknown key 'count'");
    ck_assert_int_eq(cfgtab_set(&prefixed, &s, "sample.count", "0", err, sizeof(err)),
                     -1);
    ck_assert_str_eq(err, "sample.count: must be an integer between 1 and 10");
    ck_assert_int_eq(cfgtab_set(&prefixed, &s, "sample.", "0", err, sizeof(err)),
                     CFGTAB_UNKNOWN);
    cfgtab_free(&prefixed, &s);
}
END_TEST

/* A default its own key refuses is a mistake in the table, reported. */
START_TEST(test_bad_default)
{
    static const struct cfgtab_key wrong[] = {
        {"count", CFGTAB_INT, F(count), "0", 1, 10, "a count", 0, NULL}};
    static const struct cfgtab tab = {"t.", wrong, 1};
    struct sample s;
    char err[256] = "";

    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(cfgtab_defaults(&tab, &s, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "t.count: must be an integer between 1 and 10");
}
END_TEST

/* What differs, in table order, keys applied in place left out. */
START_TEST(test_changes)
{
    struct sample a, b;
    char err[256] = "", out[256] = "";

    make(&a);
    make(&b);
    ck_assert_uint_eq(cfgtab_changes(&plain, &a, &b, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
    cfgtab_set(&plain, &b, "mode", "on", err, sizeof(err));
    ck_assert_uint_eq(cfgtab_changes(&plain, &a, &b, out, sizeof(out)), 0);
    cfgtab_set(&plain, &b, "name", "y", err, sizeof(err));
    cfgtab_set(&plain, &b, "bytes", "7", err, sizeof(err));
    cfgtab_set(&plain, &b, "days", "8", err, sizeof(err));
    cfgtab_set(&plain, &b, "skew_s", "1", err, sizeof(err));
    cfgtab_set(&plain, &b, "list", "2,6", err, sizeof(err));
    ck_assert_uint_eq(cfgtab_changes(&plain, &a, &b, out, sizeof(out)), 5);
    ck_assert_str_eq(out, "name, bytes, days, skew_s, list");
    /* appended to what out holds, cut at its size */
    snprintf(out, sizeof(out), "first");
    ck_assert_uint_eq(cfgtab_changes(&prefixed, &a, &b, out, sizeof(out)), 5);
    ck_assert_str_eq(out, "first, sample.name, sample.bytes, sample.days, sample.skew_s, "
                          "sample.list");
    out[0] = '\0';
    ck_assert_uint_eq(cfgtab_changes(&plain, &a, &b, out, 8), 5);
    ck_assert_str_eq(out, "name, b");
    cfgtab_free(&plain, &a);
    cfgtab_free(&plain, &b);
}
END_TEST

START_TEST(test_describe)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    cfgtab_describe(&prefixed, f);
    fclose(f);
    ck_assert_ptr_eq(
        strstr(text, "# a name\nsample.name = x\n# a path\nsample.path = \n"), text);
    ck_assert_ptr_nonnull(strstr(text, "\n# integers\nsample.list = 2,5\n"));
    ck_assert_int_eq(text[len - 1], '\n');
    free(text);
}
END_TEST

static Suite *cfgtab_suite(void)
{
    Suite *s = suite_create("cfgtab");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_values);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_prefix);
    tcase_add_test(tc, test_bad_default);
    tcase_add_test(tc, test_changes);
    tcase_add_test(tc, test_describe);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(cfgtab_suite)
