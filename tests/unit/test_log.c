/*
 * test_log.c - base/log.c: one record is one line in every format, whatever
 * text from an event it carries.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "tests/unit/check_main.h"

/* What log_msg wrote to stderr in format f. */
static void logged(enum log_format f, const char *id, char *out, size_t len)
{
    char path[64];
    FILE *r;
    size_t n;
    int saved = dup(2);

    snprintf(path, sizeof(path), "/tmp/loyaltyd-log-%d", (int)getpid());
    ck_assert_ptr_nonnull(freopen(path, "w", stderr));
    log_set_format(f);
    log_msg(LOG_LVL_WARN, "dead-lettered: customer %s", id);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    r = fopen(path, "r");
    ck_assert_ptr_nonnull(r);
    n = fread(out, 1, len - 1, r);
    out[n] = '\0';
    fclose(r);
    unlink(path);
}

static size_t lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

/* A newline in an id would start a forged record of any priority. */
START_TEST(test_no_forged_lines)
{
    static const enum log_format formats[] = {LOG_FMT_TEXT, LOG_FMT_JOURNAL,
                                              LOG_FMT_JSON};
    char out[1024];

    logged(formats[_i], "c-1\n<0>emergency: forged\r\x1b[31m", out, sizeof(out));
    ck_assert_uint_eq(lines(out), 1);
    ck_assert_ptr_null(strchr(out, '\r'));
    ck_assert_ptr_null(strchr(out, '\x1b'));
    ck_assert_msg(strstr(out, "forged") != NULL, "the text is kept: %s", out);
    if (formats[_i] != LOG_FMT_JSON) {
        ck_assert_msg(strstr(out, "c-1\\x0a<0>emergency: forged\\x0d\\x1b[31m") != NULL,
                      "escaped as \\xNN: %s", out);
    }
    if (formats[_i] == LOG_FMT_JOURNAL) {
        ck_assert_msg(strncmp(out, "<4>", 3) == 0, "one priority prefix: %s", out);
    }
}
END_TEST

/* Plain text is written as it is. */
START_TEST(test_plain_text_unchanged)
{
    char out[1024];

    logged(LOG_FMT_TEXT, "cust-\xc3\xbc\xc3\x9f 42", out, sizeof(out));
    ck_assert_msg(
        strstr(out, " warning: dead-lettered: customer cust-\xc3\xbc\xc3\x9f 42\n") !=
            NULL,
        "%s", out);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_no_forged_lines, 0, 3);
    tcase_add_test(tc, test_plain_text_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(log_suite)
