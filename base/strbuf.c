/*
 * strbuf.c - the growable string (see strbuf.h).
 */
#include "base/strbuf.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRBUF_MIN 64

/* Room for n more bytes and the NUL; sets `failed` when there is none. */
static int grow(struct strbuf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : STRBUF_MIN;
    char *p;

    if (b->failed) {
        return -1;
    }
    if (n < b->cap - b->len) {
        return 0;
    }
    if (n >= SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    while (cap <= b->len + n) {
        cap *= 2;
    }
    if ((p = realloc(b->s, cap)) == NULL) {
        b->failed = 1;
        return -1;
    }
    b->s = p;
    b->cap = cap;
    return 0;
}

void strbuf_append(struct strbuf *b, const void *p, size_t n)
{
    if (grow(b, n) < 0) {
        return;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *text)
{
    strbuf_append(b, text, strlen(text));
}

void strbuf_putc(struct strbuf *b, char ch)
{
    strbuf_append(b, &ch, 1);
}

void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
    va_list again;
    size_t room;
    int n;

    if (grow(b, 0) < 0) {
        return;
    }
    va_copy(again, ap);
    room = b->cap - b->len;
    n = vsnprintf(b->s + b->len, room, fmt, ap);
    if (n >= 0 && (size_t)n >= room) { /* did not fit: grow, write again */
        n = grow(b, (size_t)n) < 0
                ? -1
                : vsnprintf(b->s + b->len, b->cap - b->len, fmt, again);
    }
    va_end(again);
    if (n < 0) {
        b->s[b->len] = '\0'; /* the truncated write taken back */
        b->failed = 1;
        return;
    }
    b->len += (size_t)n;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *strbuf_str(const struct strbuf *b)
{
    return b->s ? b->s : "";
}

void strbuf_reset(struct strbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->s) {
        b->s[0] = '\0';
    }
}

char *strbuf_detach(struct strbuf *b)
{
    char *s;

    if (b->failed) {
        strbuf_free(b);
        return NULL;
    }
    s = b->s ? b->s : strdup("");
    *b = (struct strbuf){0};
    return s;
}

void strbuf_free(struct strbuf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->s);
    *b = (struct strbuf){0};
}

int strbuf_copy(const struct strbuf *b, char *buf, size_t len)
{
    size_t n;

    if (len == 0) {
        return -1;
    }
    n = b->len < len ? b->len : len - 1;
    if (n > 0) {
        memcpy(buf, b->s, n);
    }
    buf[n] = '\0';
    if (b->failed || n < b->len || b->len > INT_MAX) {
        return -1;
    }
    return (int)b->len;
}
