/*
 * svg.h - small SVG charts for `loyaltyctl validate --plot`: one or two
 * series as lines over a numeric x, or as bars side by side per category,
 * with axes, ticks, labels and a legend.  Written by hand so that the plots
 * need nothing beyond the C library (docs/validate.md).
 */
#ifndef LOYALTY_SVG_H
#define LOYALTY_SVG_H

#include <stddef.h>
#include <stdio.h>

#define SVG_SERIES_MAX 2

struct svg_series {
    const char *name;
    const double *y; /* n values; NaN leaves a gap in a line, no bar */
};

struct svg_chart {
    const char *title, *xlabel, *ylabel;
    size_t n;
    const double *x;         /* lines: ascending x values */
    const char *const *cats; /* bars: a label per category */
    struct svg_series s[SVG_SERIES_MAX];
    int nseries;
    double mark_x;          /* lines: a vertical marker at this x (NaN: none) */
    const char *mark_label; /* its label */
};

/* Both return 0, or -1 on a write error or a chart without points. */
int svg_lines(FILE *fp, const struct svg_chart *c);
int svg_bars(FILE *fp, const struct svg_chart *c);

#endif
