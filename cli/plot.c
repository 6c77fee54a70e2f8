/*
 * plot.c - a hand-written SVG of a sweep: score against cost with the
 * Pareto front, and the best score so far against trial number.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#define PANEL_W 460
#define PANEL_H 360
#define MARGIN_L 70
#define MARGIN_R 20
#define MARGIN_T 40
#define MARGIN_B 50
/* The largest magnitude an axis spans. */
#define AXIS_LIMIT 1e300

/* A panel: its origin in the document and its two axes. */
typedef struct panel {
    double x0, y0; /* top-left corner of the panel */
    cli_axis x, y;
} panel;

/* Linear ticks are these times a power of ten; log ticks below three
 * decades too. */
static const double nice_steps[] = {1, 2, 2.5, 5};
static const double log_steps[] = {1, 2, 5};

/* Writes s with XML's special characters escaped. */
static void xml_text(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        default: fputc(*s, fp);
        }
    }
}

/* The SVG x of data value x in panel p. */
static double px(const panel *p, double x)
{
    return p->x0 + MARGIN_L +
           (x - p->x.lo) / (p->x.hi - p->x.lo) *
               (PANEL_W - MARGIN_L - MARGIN_R);
}

/* The SVG y of data value y in panel p (up is larger). */
static double py(const panel *p, double y)
{
    return p->y0 + PANEL_H - MARGIN_B -
           (y - p->y.lo) / (p->y.hi - p->y.lo) *
               (PANEL_H - MARGIN_T - MARGIN_B);
}

/* Labels v, a multiple of step, with the decimals step needs (so no float
 * noise) and an SI suffix when step is a thousand or more. */
static void tick_label(char *buf, size_t len, double v, double step)
{
    static const char *const suffix[] = {"", "k", "M", "G", "T"};
    double scale = 1, x, p = 1;
    int s = 0, decimals = 0;

    while (s < 4 && step >= scale * 1000) {
        scale *= 1000;
        s++;
    }
    x = step / scale;
    while (decimals <= 5 && fabs(x * p - nearbyint(x * p)) > 1e-6 * x * p) {
        decimals++;
        p *= 10;
    }
    if (decimals > 5 || fabs(v / scale) >= 1e6)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.*f%s", decimals, v / scale, v ? suffix[s] : "");
}

/* Appends a tick at position `at` for value v, labelled for step. */
static void add_tick(cli_axis *ax, double at, double v, double step)
{
    if (ax->n == CLI_AXIS_MAX_TICKS)
        return;
    ax->at[ax->n] = at;
    tick_label(ax->label[ax->n], sizeof(ax->label[0]), v, step);
    ax->n++;
}

/* Ticks at the multiples of the finest nice step (a whole number when
 * integer) that puts at most max of them in [lo, hi]; positions are log10
 * of the values when log_pos. */
static void linear_ticks(cli_axis *ax, double lo, double hi, int max,
                         int integer, int log_pos)
{
    double mag = pow(10, floor(log10((hi - lo) / max))), step = 1, k, last;
    size_t i = 0;

    for (;; i++) {
        if (i == sizeof(nice_steps) / sizeof(nice_steps[0])) {
            i = 0;
            mag *= 10;
        }
        step = nice_steps[i] * mag;
        if (integer && step != floor(step))
            continue;
        if (floor(hi / step) - ceil(lo / step) < max)
            break;
    }
    last = floor(hi / step);
    for (k = ceil(lo / step); k <= last; k++) {
        double v = k * step + 0.0; /* + 0.0 turns -0 into 0 */

        add_tick(ax, log_pos ? log10(v) : v, v, step);
    }
}

/* Ticks of a log axis over [lo, hi] (log10 units): every power of ten, or
 * every second, third, ... one to keep at most 7; 1, 2 and 5 times them
 * below three decades; when those give fewer than three, at most 4 linear
 * ticks (more would crowd at the top of the range). */
static void log_ticks(cli_axis *ax, double lo, double hi)
{
    double stride = 1, k;
    size_t i;

    if (hi - lo >= 3) {
        while (floor(hi / stride) - ceil(lo / stride) >= 7)
            stride++;
        for (k = ceil(lo / stride); k <= floor(hi / stride); k++)
            add_tick(ax, k * stride, pow(10, k * stride), pow(10, k * stride));
        return;
    }
    for (k = floor(lo); k <= ceil(hi); k++)
        for (i = 0; i < sizeof(log_steps) / sizeof(log_steps[0]); i++) {
            double at = k + log10(log_steps[i]);

            if (at >= lo && at <= hi)
                add_tick(ax, at, log_steps[i] * pow(10, k), pow(10, k));
        }
    if (ax->n < 3) {
        ax->n = 0;
        linear_ticks(ax, pow(10, lo), pow(10, hi), 4, 0, 1);
    }
}

/* Contract in cli.h. */
void cli_axis_ticks(cli_axis *ax, cli_axis_scale scale, double lo, double hi)
{
    double pad;

    if (lo > hi) {
        pad = lo;
        lo = hi;
        hi = pad;
    }
    if (!isfinite(lo) || !isfinite(hi) || (scale == CLI_AXIS_LOG && lo <= 0)) {
        lo = scale == CLI_AXIS_LOG ? 1 : 0;
        hi = scale == CLI_AXIS_LOG ? 10 : 1;
    }
    /* Values near DBL_MAX (a damaged store) would overflow the padded
     * range and stall the tick search: the axis stops at 1e300, and what
     * lies beyond is drawn outside the panel. */
    lo = fmin(fmax(lo, -AXIS_LIMIT), AXIS_LIMIT);
    hi = fmin(fmax(hi, -AXIS_LIMIT), AXIS_LIMIT);
    if (scale == CLI_AXIS_LOG) {
        lo = log10(lo);
        hi = log10(hi);
    }
    if (hi - lo <= 1e-9 * fmax(fabs(lo), fabs(hi))) {
        pad = scale == CLI_AXIS_LOG                  ? 0.5
              : scale == CLI_AXIS_INTEGER || lo == 0 ? 1
                                                     : 0.1 * fabs(lo);
        lo -= pad;
        hi += pad;
    }
    pad = 0.05 * (hi - lo);
    ax->lo = lo - pad;
    ax->hi = hi + pad;
    ax->n = 0;
    if (scale == CLI_AXIS_LOG)
        log_ticks(ax, ax->lo, ax->hi);
    else
        linear_ticks(ax, ax->lo, ax->hi, 7, scale == CLI_AXIS_INTEGER, 0);
}

/* Frame, title, axis labels, grid lines and the ticks of both axes. */
static void axes(FILE *fp, const panel *p, const char *title,
                 const char *xlabel, const char *ylabel)
{
    double left = p->x0 + MARGIN_L, right = p->x0 + PANEL_W - MARGIN_R;
    double top = p->y0 + MARGIN_T, bottom = p->y0 + PANEL_H - MARGIN_B;
    size_t i;

    for (i = 0; i < p->x.n; i++) {
        double x = px(p, p->x.at[i]);

        fprintf(fp,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#e8e8e8\"/>\n"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#444\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                "font-size=\"11\">%s</text>\n",
                x, top, x, bottom, x, bottom, x, bottom + 5, x, bottom + 18,
                p->x.label[i]);
    }
    for (i = 0; i < p->y.n; i++) {
        double y = py(p, p->y.at[i]);

        fprintf(fp,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#e8e8e8\"/>\n"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#444\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                "font-size=\"11\">%s</text>\n",
                left, y, right, y, left - 5, y, left, y, left - 8, y + 4,
                p->y.label[i]);
    }
    fprintf(fp,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#444\"/>\n",
            left, top, right - left, bottom - top);
    fprintf(fp,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-weight=\"bold\">%s</text>\n",
            (left + right) / 2, p->y0 + 24, title);
    fprintf(fp,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            (left + right) / 2, bottom + 40, xlabel);
    fprintf(fp,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">",
            p->x0 + 16, (top + bottom) / 2, p->x0 + 16, (top + bottom) / 2);
    xml_text(fp, ylabel);
    fputs("</text>\n", fp);
}

/* qsort order of point pointers by cost, cheapest first. */
static int by_cost(const void *a, const void *b)
{
    const cli_plot_point *x = *(const cli_plot_point *const *)a;
    const cli_plot_point *y = *(const cli_plot_point *const *)b;

    return x->cost < y->cost ? -1 : x->cost > y->cost;
}

/* Score against log10(cost); the front as a polyline, cheapest first. */
static void cost_panel(FILE *fp, const cli_plot_point *pts, size_t n,
                       const char *metric)
{
    panel p = {.x0 = 0, .y0 = 0};
    const cli_plot_point **front = calloc(n + 1, sizeof(*front));
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t i, n_front = 0;

    for (i = 0; i < n; i++) {
        if (!(pts[i].cost > 0))
            continue;
        xmin = fmin(xmin, pts[i].cost);
        xmax = fmax(xmax, pts[i].cost);
        ymin = fmin(ymin, pts[i].score);
        ymax = fmax(ymax, pts[i].score);
    }
    cli_axis_ticks(&p.x, CLI_AXIS_LOG, xmin, xmax);
    cli_axis_ticks(&p.y, CLI_AXIS_LINEAR, ymin, ymax);
    axes(fp, &p, "score vs cost (Pareto front)", "cost (s, log scale)", metric);
    for (i = 0; i < n; i++) {
        if (!(pts[i].cost > 0))
            continue;
        fprintf(
            fp,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
            "fill=\"%s\"><title>trial %ld: %.6g at %.4g s</title></circle>\n",
            px(&p, log10(pts[i].cost)), py(&p, pts[i].score),
            pts[i].on_front ? "#d62728" : "#9aa7b8", pts[i].id, pts[i].score,
            pts[i].cost);
        if (pts[i].on_front && front)
            front[n_front++] = &pts[i];
    }
    if (front && n_front > 1) {
        qsort(front, n_front, sizeof(*front), by_cost);
        fputs("<polyline class=\"front\" fill=\"none\" stroke=\"#d62728\" "
              "stroke-width=\"1.5\" points=\"",
              fp);
        for (i = 0; i < n_front; i++)
            fprintf(fp, "%s%.1f,%.1f", i ? " " : "",
                    px(&p, log10(front[i]->cost)), py(&p, front[i]->score));
        fputs("\"/>\n", fp);
    }
    free(front);
}

/* Every score against its trial number, with the best so far as steps. */
static void progress_panel(FILE *fp, const cli_plot_point *pts, size_t n,
                           int minimize, const char *metric)
{
    panel p = {.x0 = PANEL_W, .y0 = 0};
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    double best = 0, prev_x = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        xmin = fmin(xmin, (double)pts[i].id);
        xmax = fmax(xmax, (double)pts[i].id);
        ymin = fmin(ymin, pts[i].score);
        ymax = fmax(ymax, pts[i].score);
    }
    cli_axis_ticks(&p.x, CLI_AXIS_INTEGER, xmin, xmax);
    cli_axis_ticks(&p.y, CLI_AXIS_LINEAR, ymin, ymax);
    axes(fp, &p, "best so far", "trial", metric);
    for (i = 0; i < n; i++)
        fprintf(fp,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                "fill=\"#9aa7b8\"><title>trial %ld: %.6g</title></circle>\n",
                px(&p, (double)pts[i].id), py(&p, pts[i].score), pts[i].id,
                pts[i].score);
    if (n == 0)
        return;
    fputs("<polyline class=\"best\" fill=\"none\" stroke=\"#1f77b4\" "
          "stroke-width=\"2\" points=\"",
          fp);
    for (i = 0; i < n; i++) {
        double x = (double)pts[i].id;

        if (i == 0 || cli_better(minimize, pts[i].score, best)) {
            if (i > 0)
                fprintf(fp, " %.1f,%.1f", px(&p, x), py(&p, best));
            best = pts[i].score;
        }
        fprintf(fp, "%s%.1f,%.1f", i ? " " : "", px(&p, x), py(&p, best));
        prev_x = x;
    }
    fprintf(fp, " %.1f,%.1f\"/>\n", px(&p, prev_x), py(&p, best));
}

/* Contract in cli.h. */
int cli_plot_svg(FILE *fp, const char *title, const cli_plot_point *points,
                 size_t n, int minimize, const char *metric)
{
    int i;

    fprintf(fp,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" font-family=\"sans-serif\" font-size=\"13\">\n"
            "<title>protein sweep ",
            2 * PANEL_W, PANEL_H + 20);
    xml_text(fp, title);
    fprintf(
        fp,
        "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    cost_panel(fp, points, n, metric);
    progress_panel(fp, points, n, minimize, metric);
    for (i = 0; n == 0 && i < 2; i++) /* in the middle of each frame */
        fprintf(fp,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                "fill=\"#888\">no completed trials yet</text>\n",
                i * PANEL_W + (PANEL_W + MARGIN_L - MARGIN_R) / 2,
                (PANEL_H + MARGIN_T - MARGIN_B) / 2);
    fputs("</svg>\n", fp);
    fflush(fp);
    return ferror(fp) ? -1 : 0;
}
