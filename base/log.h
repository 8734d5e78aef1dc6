/*
 * log.h - level-gated logging to stderr with syslog priority prefixes
 * ("<3>"), which journald turns into levels.  Safe to call from any thread:
 * each line is one fprintf.
 */
#ifndef LOYALTY_LOG_H
#define LOYALTY_LOG_H

#define LOG_LVL_ERR   3
#define LOG_LVL_WARN  4
#define LOG_LVL_NOTE  5
#define LOG_LVL_INFO  6
#define LOG_LVL_DEBUG 7

void log_set_level(int level);
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
