/*
 * fit.c - text and JSON forms of BG/NBD and Gamma-Gamma fits (see fit.h).
 */
#include "state/fit/fit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

/* Appends to a fixed buffer; once something did not fit, stays failed. */
struct fbuf {
    char *p;
    size_t len, used;
    int full;
};

__attribute__((format(printf, 2, 3))) static void fb_printf(struct fbuf *b,
                                                            const char *fmt, ...)
{
    va_list ap;
    int w;

    if (b->full)
        return;
    va_start(ap, fmt);
    w = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= b->len - b->used) {
        b->full = 1;
        return;
    }
    b->used += (size_t)w;
}

static int fb_init(struct fbuf *b, char *buf, size_t len)
{
    *b = (struct fbuf){buf, len, 0, 0};
    if (len == 0)
        return -1;
    buf[0] = '\0';
    return 0;
}

static int fb_finish(const struct fbuf *b)
{
    return b->full ? -1 : (int)b->used;
}

int fit_format_text(char *buf, size_t len, const struct bg_fit_result *bg,
                    const struct gg_fit_result *gg)
{
    struct fbuf b;

    if (fb_init(&b, buf, len) < 0)
        return -1;
    if (bg != NULL)
        fb_printf(&b, "bgnbd r=%.6f alpha=%.6f a=%.6f b=%.6f loglik=%.4f n=%zu\n",
                  bg->params.r, bg->params.alpha, bg->params.a, bg->params.b, bg->loglik,
                  bg->n);
    if (gg != NULL)
        fb_printf(&b, "gammagamma p=%.6f q=%.6f gamma=%.6f n=%zu\n", gg->params.p,
                  gg->params.q, gg->params.gamma, gg->n);
    return fb_finish(&b);
}

/* "name":value with `decimals` digits; JSON has no NaN or infinity. */
static void fb_num(struct fbuf *b, const char *name, double v, int decimals)
{
    if (isfinite(v))
        fb_printf(b, "\"%s\":%.*f,", name, decimals, v);
    else
        fb_printf(b, "\"%s\":null,", name);
}

/* A JSON string literal. */
static void fb_str(struct fbuf *b, const char *s)
{
    fb_printf(b, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fb_printf(b, "\\%c", c);
        else if (c < 0x20)
            fb_printf(b, "\\u%04x", c);
        else
            fb_printf(b, "%c", c);
    }
    fb_printf(b, "\"");
}

int fit_format_json(char *buf, size_t len, const struct bg_fit_result *bg,
                    const struct gg_fit_result *gg, const char *unit)
{
    struct fbuf b;

    if (fb_init(&b, buf, len) < 0)
        return -1;
    fb_printf(&b, "{");
    if (bg != NULL) {
        fb_printf(&b, "\"bgnbd\":{");
        fb_num(&b, "r", bg->params.r, 6);
        fb_num(&b, "alpha", bg->params.alpha, 6);
        fb_num(&b, "a", bg->params.a, 6);
        fb_num(&b, "b", bg->params.b, 6);
        fb_num(&b, "loglik", bg->loglik, 4);
        fb_printf(&b, "\"n\":%zu},", bg->n);
    }
    if (gg != NULL) {
        fb_printf(&b, "\"gammagamma\":{");
        fb_num(&b, "p", gg->params.p, 6);
        fb_num(&b, "q", gg->params.q, 6);
        fb_num(&b, "gamma", gg->params.gamma, 6);
        fb_num(&b, "loglik", gg->loglik, 4);
        fb_printf(&b, "\"n\":%zu},", gg->n);
    }
    fb_printf(&b, "\"unit\":");
    fb_str(&b, unit != NULL ? unit : "");
    fb_printf(&b, "}");
    return fb_finish(&b);
}
