#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int log_level = LOG_LVL_INFO;

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
    for (int i = LOG_LVL_ERR; i <= LOG_LVL_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

static void log_vwrite(int level, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048];
    int n = vsnprintf(line, sizeof(line), fmt, ap);

    if (n < 0)
        return;
    fprintf(stderr, "<%d>%s%s%s\n", level, line, suffix ? ": " : "",
            suffix ? suffix : "");
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}

void log_errno(int level, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    log_vwrite(level, strerror(saved), fmt, ap);
    va_end(ap);
}
