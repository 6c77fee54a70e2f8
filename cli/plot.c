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

/* A panel: its origin in the document and its data ranges. */
typedef struct panel {
    double x0, y0;         /* top-left corner of the panel */
    double xmin, xmax, ymin, ymax;
} panel;

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

static double px(const panel *p, double x)
{
    return p->x0 + MARGIN_L +
           (x - p->xmin) / (p->xmax - p->xmin) * (PANEL_W - MARGIN_L - MARGIN_R);
}

static double py(const panel *p, double y)
{
    return p->y0 + PANEL_H - MARGIN_B -
           (y - p->ymin) / (p->ymax - p->ymin) * (PANEL_H - MARGIN_T - MARGIN_B);
}

/* Widens a degenerate or empty range and pads it by 5%. */
static void fix_range(double *lo, double *hi)
{
    double pad;

    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    }
    if (*hi - *lo < 1e-12) {
        *lo -= 0.5;
        *hi += 0.5;
    }
    pad = 0.05 * (*hi - *lo);
    *lo -= pad;
    *hi += pad;
}

/* Frame, title, axis labels and five ticks per axis. x_log: the x data are
 * log10 values, labelled as 10^x. */
static void axes(FILE *fp, const panel *p, const char *title,
                 const char *xlabel, const char *ylabel, int x_log)
{
    double left = p->x0 + MARGIN_L, right = p->x0 + PANEL_W - MARGIN_R;
    double top = p->y0 + MARGIN_T, bottom = p->y0 + PANEL_H - MARGIN_B;
    int i;

    fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"none\" stroke=\"#444\"/>\n",
            left, top, right - left, bottom - top);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                "font-weight=\"bold\">%s</text>\n",
            (left + right) / 2, p->y0 + 24, title);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            (left + right) / 2, bottom + 40, xlabel);
    fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 %.1f %.1f)\">",
            p->x0 + 16, (top + bottom) / 2, p->x0 + 16, (top + bottom) / 2);
    xml_text(fp, ylabel);
    fputs("</text>\n", fp);
    for (i = 0; i <= 4; i++) {
        double x = p->xmin + (p->xmax - p->xmin) * i / 4.0;
        double y = p->ymin + (p->ymax - p->ymin) * i / 4.0;

        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#444\"/>\n",
                px(p, x), bottom, px(p, x), bottom + 5);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                    "font-size=\"11\">%.3g</text>\n",
                px(p, x), bottom + 18, x_log ? pow(10.0, x) : x);
        fprintf(fp, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#444\"/>\n",
                left - 5, py(p, y), left, py(p, y));
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                    "font-size=\"11\">%.4g</text>\n",
                left - 8, py(p, y) + 4, y);
    }
}

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
    panel p = {0, 0, INFINITY, -INFINITY, INFINITY, -INFINITY};
    const cli_plot_point **front = calloc(n + 1, sizeof(*front));
    size_t i, n_front = 0;

    for (i = 0; i < n; i++) {
        if (!(pts[i].cost > 0))
            continue;
        p.xmin = fmin(p.xmin, log10(pts[i].cost));
        p.xmax = fmax(p.xmax, log10(pts[i].cost));
        p.ymin = fmin(p.ymin, pts[i].score);
        p.ymax = fmax(p.ymax, pts[i].score);
    }
    fix_range(&p.xmin, &p.xmax);
    fix_range(&p.ymin, &p.ymax);
    axes(fp, &p, "score vs cost (Pareto front)", "cost (s, log scale)", metric,
         1);
    for (i = 0; i < n; i++) {
        if (!(pts[i].cost > 0))
            continue;
        fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\">"
                    "<title>trial %ld: %.6g at %.4g s</title></circle>\n",
                px(&p, log10(pts[i].cost)), py(&p, pts[i].score),
                pts[i].on_front ? "#d62728" : "#9aa7b8", pts[i].id,
                pts[i].score, pts[i].cost);
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
    panel p = {PANEL_W, 0, INFINITY, -INFINITY, INFINITY, -INFINITY};
    double best = 0, prev_x = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        p.xmin = fmin(p.xmin, (double)pts[i].id);
        p.xmax = fmax(p.xmax, (double)pts[i].id);
        p.ymin = fmin(p.ymin, pts[i].score);
        p.ymax = fmax(p.ymax, pts[i].score);
    }
    fix_range(&p.xmin, &p.xmax);
    fix_range(&p.ymin, &p.ymax);
    axes(fp, &p, "best so far", "trial", metric, 0);
    for (i = 0; i < n; i++)
        fprintf(fp, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#9aa7b8\">"
                    "<title>trial %ld: %.6g</title></circle>\n",
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

int cli_plot_svg(FILE *fp, const char *title, const cli_plot_point *points,
                 size_t n, int minimize, const char *metric)
{
    fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                "height=\"%d\" font-family=\"sans-serif\" font-size=\"13\">\n"
                "<title>protein sweep ",
            2 * PANEL_W, PANEL_H + 20);
    xml_text(fp, title);
    fprintf(fp, "</title>\n<rect width=\"100%%\" height=\"100%%\" "
                "fill=\"white\"/>\n");
    if (n == 0)
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no "
                    "completed trials yet</text>\n",
                PANEL_W, PANEL_H / 2);
    cost_panel(fp, points, n, metric);
    progress_panel(fp, points, n, minimize, metric);
    fputs("</svg>\n", fp);
    fflush(fp);
    return ferror(fp) ? -1 : 0;
}
