/*
 * strbuf.h - the one growable string of the tree: append bytes, text or
 * printf output, reset keeping the memory, hand the text over.
 *
 * A zeroed struct strbuf (= {0}) is empty and ready; it allocates on the
 * first append.  The buffer owns `s` until strbuf_detach() hands it to the
 * caller, who frees it with free(); strbuf_free() releases it and leaves
 * an empty buffer (strbuf_free(NULL) does nothing).
 *
 * Failure is sticky: when memory runs out or a format fails, `failed` is set,
 * the text stays as it was and every later append does nothing, so a writer
 * appends freely and looks once at the end (strbuf_detach() returns NULL).
 * A writer that finds its own input bad may set `failed` itself to the same
 * effect.
 *
 * One owner at a time: nothing here locks.
 */
#ifndef LOYALTY_STRBUF_H
#define LOYALTY_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *s;    /* the text, NUL-terminated; NULL until something is appended */
    size_t len; /* its length, without the NUL */
    size_t cap; /* bytes allocated at s */
    int failed;
};

void strbuf_append(struct strbuf *b, const void *p, size_t n);
void strbuf_puts(struct strbuf *b, const char *text);
void strbuf_putc(struct strbuf *b, char ch);
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The text so far, "" while there is none; valid until the next change. */
const char *strbuf_str(const struct strbuf *b);

/* Empty again, the memory kept for what comes next; clears `failed`. */
void strbuf_reset(struct strbuf *b);

/* The text, now the caller's (free() it), and the buffer empty; NULL if
 * the buffer failed (its memory is then released) or, for an empty text,
 * if there is no memory for its "". */
char *strbuf_detach(struct strbuf *b);

void strbuf_free(struct strbuf *b);

/* The text into buf (len bytes, NUL included), for interfaces that fill the
 * caller's buffer: its length, or -1 if the buffer failed or the text does
 * not fit with its NUL (buf then holds as much as fits, NUL-terminated,
 * unless len is 0). */
int strbuf_copy(const struct strbuf *b, char *buf, size_t len);

#endif
