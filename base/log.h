/*
 * log.h - level-gated logging to stderr.  Under journald (stderr is the
 * stream named by JOURNAL_STREAM) each line carries a syslog priority prefix
 * ("<3>"), which the journal turns into a level; elsewhere it starts with a
 * UTC timestamp and the level's name, or is one JSON object per line
 * (log.format = json).  Safe to call from any thread: each line is one
 * fprintf.
 */
#ifndef LOYALTY_LOG_H
#define LOYALTY_LOG_H

#define LOG_LVL_ERR   3
#define LOG_LVL_WARN  4
#define LOG_LVL_NOTE  5
#define LOG_LVL_INFO  6
#define LOG_LVL_DEBUG 7

enum log_format { LOG_FMT_AUTO = 0, LOG_FMT_JOURNAL, LOG_FMT_TEXT, LOG_FMT_JSON };

void log_set_level(int level);
void log_set_format(enum log_format f);
/* "auto", "journal", "text", "json" -> enum log_format; -1 if unknown. */
int log_format_parse(const char *name);
/* "error", "warning", "notice", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like log_msg, with ": strerror(errno)" appended. */
void log_errno(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_note(...)  log_msg(LOG_LVL_NOTE, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
