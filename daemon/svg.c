/*
 * svg.c - line and bar charts as SVG (see svg.h).
 */
#include "daemon/svg.h"

#include <math.h>
#include <string.h>

#define W      640.0
#define H      400.0
#define LEFT   70.0
#define RIGHT  20.0
#define TOP    40.0
#define BOTTOM 60.0
#define PLOT_W (W - LEFT - RIGHT)
#define PLOT_H (H - TOP - BOTTOM)

static const char *const colors[SVG_SERIES_MAX] = {"#1f77b4", "#d62728"};

/* Text with the XML specials escaped. */
static void put_text(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') {
            fputs("&amp;", fp);
        } else if (*s == '<') {
            fputs("&lt;", fp);
        } else if (*s == '>') {
            fputs("&gt;", fp);
        } else {
            fputc(*s, fp);
        }
    }
}

static void label(FILE *fp, double x, double y, const char *anchor, const char *extra,
                  const char *text)
{
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor, extra);
    put_text(fp, text);
    fputs("</text>\n", fp);
}

/* A round step giving about `want` intervals up to hi: 1, 2 or 5 times a
 * power of ten. */
static double nice_step(double hi, int want)
{
    double raw = hi / want, mag, f;

    if (!(raw > 0)) {
        return 1.0;
    }
    mag = pow(10.0, floor(log10(raw)));
    f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* The largest value of every series, at least something above 0. */
static double y_max(const struct svg_chart *c)
{
    double m = 0.0;

    for (int k = 0; k < c->nseries; k++) {
        for (size_t i = 0; i < c->n; i++) {
            if (isfinite(c->s[k].y[i]) && c->s[k].y[i] > m) {
                m = c->s[k].y[i];
            }
        }
    }
    return m > 0 ? m : 1.0;
}

static double py(double v, double top)
{
    return TOP + PLOT_H * (1.0 - v / top);
}

/* Header, title, axes, y ticks and labels, legend; returns the y scale's top. */
static double frame(FILE *fp, const struct svg_chart *c)
{
    double step = nice_step(y_max(c), 5), top = ceil(y_max(c) / step) * step;
    char num[32];

    fprintf(fp,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    label(fp, W / 2, 22, "middle", " font-size=\"15\"", c->title);
    fprintf(fp, "<path d=\"M%.1f %.1f V%.1f H%.1f\" stroke=\"black\" fill=\"none\"/>\n",
            LEFT, TOP, TOP + PLOT_H, LEFT + PLOT_W);
    for (double v = 0; v <= top + step / 2; v += step) {
        fprintf(fp, "<path d=\"M%.1f %.1f H%.1f\" stroke=\"#ddd\"/>\n", LEFT + 1,
                py(v, top), LEFT + PLOT_W);
        snprintf(num, sizeof(num), "%g", v);
        label(fp, LEFT - 6, py(v, top) + 4, "end", "", num);
    }
    label(fp, LEFT + PLOT_W / 2, H - 14, "middle", "", c->xlabel);
    fprintf(fp,
            "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
            TOP + PLOT_H / 2);
    put_text(fp, c->ylabel);
    fputs("</text>\n", fp);
    for (int k = 0; k < c->nseries; k++) {
        double ly = TOP + 14 + 16 * k;

        fprintf(fp,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/>\n",
                LEFT + 16, ly - 6, colors[k]);
        label(fp, LEFT + 36, ly, "start", "", c->s[k].name);
    }
    return top;
}

int svg_lines(FILE *fp, const struct svg_chart *c)
{
    double x0, x1, top, step;
    char num[32];

    if (c->n < 2 || c->x == NULL) {
        return -1;
    }
    x0 = c->x[0];
    x1 = c->x[c->n - 1] > x0 ? c->x[c->n - 1] : x0 + 1;
    top = frame(fp, c);
#define PX(v) (LEFT + PLOT_W * ((v)-x0) / (x1 - x0))
    step = nice_step(x1 - x0, 8);
    for (double v = ceil(x0 / step) * step; v <= x1; v += step) {
        snprintf(num, sizeof(num), "%g", v);
        fprintf(fp, "<path d=\"M%.1f %.1f v5\" stroke=\"black\"/>\n", PX(v),
                TOP + PLOT_H);
        label(fp, PX(v), TOP + PLOT_H + 18, "middle", "", num);
    }
    if (isfinite(c->mark_x)) {
        fprintf(
            fp,
            "<path d=\"M%.1f %.1f V%.1f\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
            PX(c->mark_x), TOP, TOP + PLOT_H);
        label(fp, PX(c->mark_x) + 4, TOP + PLOT_H - 6, "start", " fill=\"#555\"",
              c->mark_label ? c->mark_label : "");
    }
    for (int k = 0; k < c->nseries; k++) {
        int pen = 0;

        fprintf(fp, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"",
                colors[k], k ? " stroke-dasharray=\"6 3\"" : "");
        for (size_t i = 0; i < c->n; i++) {
            if (!isfinite(c->s[k].y[i])) {
                pen = 0;
                continue;
            }
            fprintf(fp, "%s%.1f %.1f ", pen ? "L" : "M", PX(c->x[i]),
                    py(c->s[k].y[i], top));
            pen = 1;
        }
        fputs("\"/>\n", fp);
    }
#undef PX
    fputs("</svg>\n", fp);
    return ferror(fp) ? -1 : 0;
}

int svg_bars(FILE *fp, const struct svg_chart *c)
{
    double slot, bar, top;

    if (c->n == 0 || c->cats == NULL || c->nseries < 1) {
        return -1;
    }
    top = frame(fp, c);
    slot = PLOT_W / (double)c->n;
    bar = slot * 0.8 / c->nseries;
    for (size_t i = 0; i < c->n; i++) {
        double x = LEFT + slot * (double)i + slot * 0.1;

        for (int k = 0; k < c->nseries; k++) {
            double v = c->s[k].y[i];

            if (!isfinite(v)) {
                continue;
            }
            fprintf(fp,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"/>\n",
                    x + bar * k, py(v, top), bar, TOP + PLOT_H - py(v, top), colors[k]);
        }
        label(fp, LEFT + slot * ((double)i + 0.5), TOP + PLOT_H + 18, "middle", "",
              c->cats[i]);
    }
    fputs("</svg>\n", fp);
    return ferror(fp) ? -1 : 0;
}
