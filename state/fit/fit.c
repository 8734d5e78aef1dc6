/*
 * fit.c - text and JSON forms of BG/NBD and Gamma-Gamma fits (see fit.h).
 */
#include "state/fit/fit.h"

#include <math.h>
#include <stdio.h>

#include "base/strbuf.h"

/* The text of b into the caller's buffer: its length, or -1 if it does not
 * fit; b released. */
static int copy_out(struct strbuf *b, char *buf, size_t len)
{
    int n = strbuf_copy(b, buf, len);

    strbuf_free(b);
    return n;
}

int fit_format_text(char *buf, size_t len, const struct bg_fit_result *bg,
                    const struct gg_fit_result *gg)
{
    struct strbuf b = {0};

    if (bg != NULL) {
        strbuf_printf(&b, "bgnbd r=%.6f alpha=%.6f a=%.6f b=%.6f loglik=%.4f n=%zu\n",
                      bg->params.r, bg->params.alpha, bg->params.a, bg->params.b,
                      bg->loglik, bg->n);
    }
    if (gg != NULL) {
        strbuf_printf(&b, "gammagamma p=%.6f q=%.6f gamma=%.6f n=%zu\n", gg->params.p,
                      gg->params.q, gg->params.gamma, gg->n);
    }
    return copy_out(&b, buf, len);
}

/* "name":value with `decimals` digits; JSON has no NaN or infinity. */
static void json_num(struct strbuf *b, const char *name, double v, int decimals)
{
    if (isfinite(v)) {
        strbuf_printf(b, "\"%s\":%.*f,", name, decimals, v);
    } else {
        strbuf_printf(b, "\"%s\":null,", name);
    }
}

/* A JSON string literal. */
static void json_str(struct strbuf *b, const char *s)
{
    strbuf_putc(b, '"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            strbuf_printf(b, "\\%c", c);
        } else if (c < 0x20) {
            strbuf_printf(b, "\\u%04x", c);
        } else {
            strbuf_putc(b, (char)c);
        }
    }
    strbuf_putc(b, '"');
}

int fit_format_json(char *buf, size_t len, const struct bg_fit_result *bg,
                    const struct gg_fit_result *gg, const char *unit)
{
    struct strbuf b = {0};

    strbuf_putc(&b, '{');
    if (bg != NULL) {
        strbuf_puts(&b, "\"bgnbd\":{");
        json_num(&b, "r", bg->params.r, 6);
        json_num(&b, "alpha", bg->params.alpha, 6);
        json_num(&b, "a", bg->params.a, 6);
        json_num(&b, "b", bg->params.b, 6);
        json_num(&b, "loglik", bg->loglik, 4);
        strbuf_printf(&b, "\"n\":%zu},", bg->n);
    }
    if (gg != NULL) {
        strbuf_puts(&b, "\"gammagamma\":{");
        json_num(&b, "p", gg->params.p, 6);
        json_num(&b, "q", gg->params.q, 6);
        json_num(&b, "gamma", gg->params.gamma, 6);
        json_num(&b, "loglik", gg->loglik, 4);
        strbuf_printf(&b, "\"n\":%zu},", gg->n);
    }
    strbuf_puts(&b, "\"unit\":");
    json_str(&b, unit != NULL ? unit : "");
    strbuf_putc(&b, '}');
    return copy_out(&b, buf, len);
}
