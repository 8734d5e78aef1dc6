#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/civil.h"
#include "base/names.h"

static int log_level = LOG_LVL_INFO;
static enum log_format log_format = LOG_FMT_AUTO;
static int to_journal = -1; /* LOG_FMT_AUTO resolved: stderr is the journal */

static const char *const level_names[] = {
    [LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning", [LOG_LVL_NOTE] = "notice",
    [LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};

void log_set_level(int level)
{
    log_level = level;
}

int log_level_parse(const char *name)
{
    return names_index(level_names, NAMES_COUNT(level_names), name);
}

void log_set_format(enum log_format f)
{
    log_format = f;
}

int log_format_parse(const char *name)
{
    static const char *const format_names[] = {
        [LOG_FMT_AUTO] = "auto",
        [LOG_FMT_JOURNAL] = "journal",
        [LOG_FMT_TEXT] = "text",
        [LOG_FMT_JSON] = "json",
    };

    return names_index(format_names, NAMES_COUNT(format_names), name);
}

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected; stderr is the journal only if it is still that stream. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* s as the body of a JSON string. */
static void json_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;

    for (; *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* s with its control characters written as \xNN, so that text from an event
 * (a customer id, an event id) cannot end the line and forge another one,
 * with a priority prefix of its own, in the text and journal formats. */
static void line_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;

    for (; *s && o + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static void log_vwrite(int level, const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_vwrite(int level, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048], stamp[64], esc[8200];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    enum log_format f = log_format;
    struct timespec ts;

    if (n < 0) {
        return;
    }
    if (suffix) {
        size_t l = strlen(line);

        snprintf(line + l, sizeof(line) - l, ": %s", suffix);
    }
    if (f == LOG_FMT_AUTO) {
        if (to_journal < 0) {
            to_journal = stderr_is_journal();
        }
        f = to_journal ? LOG_FMT_JOURNAL : LOG_FMT_TEXT;
    }
    if (f == LOG_FMT_JOURNAL) { /* journald stamps and levels it */
        line_escape(line, esc, sizeof(esc));
        fprintf(stderr, "<%d>%s\n", level, esc);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    civil_rfc3339_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, stamp,
                         sizeof(stamp));
    if (f == LOG_FMT_JSON) {
        json_escape(line, esc, sizeof(esc));
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", stamp,
                level_names[level], esc);
    } else {
        line_escape(line, esc, sizeof(esc));
        fprintf(stderr, "%s %s: %s\n", stamp, level_names[level], esc);
    }
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}

void log_errno(int level, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    log_vwrite(level, strerror(saved), fmt, ap);
    va_end(ap);
}
