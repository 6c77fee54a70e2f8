/*
 * test_plot_ticks.c - the axes of `protein plot` (cli/plot.c): nice
 * linear, integer and log ticks from cli_axis_ticks(), and their use in
 * the SVG that cli_plot_svg() writes.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <float.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cunit_run.h"

/*
 * Builds the axis for data [lo, hi] and checks what every axis must
 * satisfy: a drawn range that holds the data, 3 to 7 ticks in increasing
 * order inside it, distinct non-empty labels. Then compares the labels,
 * joined by spaces, with `labels`.
 */
static void expect_axis(cli_axis *ax, cli_axis_scale scale, double lo,
                        double hi, const char *labels)
{
    char joined[CLI_AXIS_MAX_TICKS * 17] = "";
    double dlo = scale == CLI_AXIS_LOG ? log10(lo) : lo;
    double dhi = scale == CLI_AXIS_LOG ? log10(hi) : hi;
    size_t i, j;

    cli_axis_ticks(ax, scale, lo, hi);
    CU_ASSERT(ax->lo < ax->hi);
    if (isfinite(dlo) && isfinite(dhi)) {
        CU_ASSERT(ax->lo < dlo);
        CU_ASSERT(ax->hi > dhi);
    }
    CU_ASSERT(ax->n >= 3 && ax->n <= 7);
    for (i = 0; i < ax->n; i++) {
        CU_ASSERT(ax->at[i] >= ax->lo && ax->at[i] <= ax->hi);
        CU_ASSERT(i == 0 || ax->at[i] > ax->at[i - 1]);
        CU_ASSERT(ax->label[i][0] != '\0');
        for (j = 0; j < i; j++)
            CU_ASSERT(strcmp(ax->label[i], ax->label[j]) != 0);
        strcat(joined, i ? " " : "");
        strcat(joined, ax->label[i]);
    }
    CU_ASSERT_STRING_EQUAL(joined, labels);
}

/* Linear data get steps of 1, 2, 2.5 or 5 times a power of ten, labelled
 * with the decimals the step needs and nothing more. */
static void test_linear(void)
{
    cli_axis ax;

    expect_axis(&ax, CLI_AXIS_LINEAR, -0.55, 33.5, "0 10 20 30");
    CU_ASSERT_DOUBLE_EQUAL(ax.at[1], 10.0, 1e-12);
    expect_axis(&ax, CLI_AXIS_LINEAR, -0.929, 0.9377, "-1.0 -0.5 0.0 0.5 1.0");
    expect_axis(&ax, CLI_AXIS_LINEAR, -0.85, 0.86,
                "-0.75 -0.50 -0.25 0.00 0.25 0.50 0.75");
    expect_axis(&ax, CLI_AXIS_LINEAR, 0.1, 0.7, "0.1 0.2 0.3 0.4 0.5 0.6 0.7");
    expect_axis(&ax, CLI_AXIS_LINEAR, 1000, 1001,
                "1000.0 1000.2 1000.4 1000.6 1000.8 1001.0");
    expect_axis(&ax, CLI_AXIS_LINEAR, 0, 12000, "0 2k 4k 6k 8k 10k 12k");
    expect_axis(&ax, CLI_AXIS_LINEAR, 33.5, -0.55, "0 10 20 30");
}

/* Ranges below zero, and across it, keep their signs and never show -0. */
static void test_negative(void)
{
    cli_axis ax;

    expect_axis(&ax, CLI_AXIS_LINEAR, -5, -1, "-5 -4 -3 -2 -1");
    expect_axis(&ax, CLI_AXIS_LINEAR, -0.0371, -0.0055,
                "-0.035 -0.030 -0.025 -0.020 -0.015 -0.010 -0.005");
    expect_axis(&ax, CLI_AXIS_LINEAR, -1, 0.4,
                "-1.00 -0.75 -0.50 -0.25 0.00 0.25");
}

/* A single value is widened to a range around it; missing data give a
 * default range. */
static void test_degenerate(void)
{
    cli_axis ax;

    expect_axis(&ax, CLI_AXIS_LINEAR, 0, 0, "-1.0 -0.5 0.0 0.5 1.0");
    expect_axis(&ax, CLI_AXIS_LINEAR, 0.5, 0.5, "0.46 0.48 0.50 0.52 0.54");
    expect_axis(&ax, CLI_AXIS_LINEAR, -40, -40, "-44 -42 -40 -38 -36");
    expect_axis(&ax, CLI_AXIS_INTEGER, 3, 3, "2 3 4");
    expect_axis(&ax, CLI_AXIS_LOG, 2, 2, "1 2 5");
    expect_axis(&ax, CLI_AXIS_LINEAR, INFINITY, -INFINITY,
                "0.0 0.2 0.4 0.6 0.8 1.0");
    expect_axis(&ax, CLI_AXIS_LOG, 0, 5, "1 2 5 10");
}

/* Scores near DBL_MAX (a damaged store) give an axis cut at 1e300, with
 * its 3 to 7 ticks, not an endless search for a step (the alarm turns a
 * hang into a failure). */
static void expect_cut(cli_axis_scale scale, double lo, double hi,
                       const char *labels)
{
    char joined[CLI_AXIS_MAX_TICKS * 17] = "";
    cli_axis ax;

    alarm(10);
    cli_axis_ticks(&ax, scale, lo, hi);
    alarm(0);
    CU_ASSERT(isfinite(ax.lo) && isfinite(ax.hi) && ax.lo < ax.hi);
    CU_ASSERT(ax.n >= 3 && ax.n <= 7);
    for (size_t i = 0; i < ax.n; i++) {
        strcat(joined, i ? " " : "");
        strcat(joined, ax.label[i]);
    }
    CU_ASSERT_STRING_EQUAL(joined, labels);
}

static void test_huge(void)
{
    expect_cut(CLI_AXIS_LINEAR, -1e308, 1e308,
               "-1e+300 -5e+299 0 5e+299 1e+300");
    expect_cut(CLI_AXIS_LINEAR, 5e-324, DBL_MAX,
               "0 2e+299 4e+299 6e+299 8e+299 1e+300");
    expect_cut(CLI_AXIS_LINEAR, 1e305, 1e308,
               "9e+299 9.5e+299 1e+300 1.05e+300 1.1e+300");
    expect_cut(CLI_AXIS_LOG, 1e-300, DBL_MAX,
               "1e-249 1e-166 1e-83 1 1e+83 1e+166 1e+249");
}

/* Trial numbers get whole-number ticks, however few trials there are. */
static void test_integer(void)
{
    cli_axis ax;

    expect_axis(&ax, CLI_AXIS_INTEGER, 1, 24, "0 5 10 15 20 25");
    expect_axis(&ax, CLI_AXIS_INTEGER, 0, 2, "0 1 2");
    expect_axis(&ax, CLI_AXIS_INTEGER, 1, 4, "1 2 3 4");
    expect_axis(&ax, CLI_AXIS_INTEGER, 0, 950, "0 200 400 600 800");
}

/* Log axes: powers of ten (every other one over many decades), 1-2-5
 * below three decades, linear values below one; positions are log10. */
static void test_log(void)
{
    cli_axis ax;

    expect_axis(&ax, CLI_AXIS_LOG, 0.01, 1000, "0.01 0.1 1 10 100 1k");
    CU_ASSERT_DOUBLE_EQUAL(ax.at[0], -2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ax.at[5], 3.0, 1e-12);
    expect_axis(&ax, CLI_AXIS_LOG, 1e-3, 1e9, "0.01 1 100 10k 1M 100M");
    expect_axis(&ax, CLI_AXIS_LOG, 0.2, 30, "0.2 0.5 1 2 5 10 20");
    CU_ASSERT_DOUBLE_EQUAL(ax.at[1], log10(0.5), 1e-12);
    expect_axis(&ax, CLI_AXIS_LOG, 0.0055, 0.0371, "0.005 0.01 0.02");
    expect_axis(&ax, CLI_AXIS_LOG, 0.006, 0.037, "0.01 0.02 0.03 0.04");
    CU_ASSERT_DOUBLE_EQUAL(ax.at[2], log10(0.03), 1e-12);
    expect_axis(&ax, CLI_AXIS_LOG, 1.0, 1.5, "1.0 1.2 1.4");
}

/* Writes the plot of points into a string (the caller frees it). */
static char *plot_text(const cli_plot_point *points, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    CU_ASSERT_EQUAL(cli_plot_svg(fp, "t<1>", points, n, 0, "score"), 0);
    fclose(fp);
    return buf;
}

/* The SVG labels its axes with the ticks above, and stays whole without
 * data. */
static void test_svg(void)
{
    static const cli_plot_point points[] = {
        {1, -0.5, 0.01, 0},
        {2, 0.25, 0.1, 1},
        {3, 0.75, 1000, 1},
    };
    char *svg = plot_text(points, 3);

    CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">0.01</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">1k</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">-0.4</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">0.0</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, ">3</text>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "t&lt;1&gt;"));
    CU_ASSERT_PTR_NULL(strstr(svg, "nan"));
    CU_ASSERT_PTR_NULL(strstr(svg, "inf"));
    free(svg);
    svg = plot_text(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "no completed trials yet"));
    CU_ASSERT_PTR_NULL(strstr(svg, "nan"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "</svg>\n"));
    free(svg);
}

/* Spans of time as the run and agent lines show them (format.c): the
 * unit changes where the rounded text would reach the next one. */
static void test_duration_text(void)
{
    static const struct {
        double seconds;
        const char *text;
    } cases[] = {
        {0, "0.0 s"},           {-3, "0.0 s"},         {4.24, "4.2 s"},
        {59.94, "59.9 s"},      {59.96, "1 min 00 s"}, {185, "3 min 05 s"},
        {3599.9, "1 h 00 min"}, {7500, "2 h 05 min"},  {NAN, "? s"}};
    char buf[64];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_duration_text(cases[i].seconds, buf, sizeof buf);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].text);
    }
}

static const cunit_test tests[] = {
    {"linear", test_linear},
    {"negative", test_negative},
    {"degenerate", test_degenerate},
    {"integer", test_integer},
    {"log", test_log},
    {"values near DBL_MAX", test_huge},
    {"svg", test_svg},
    {"durations", test_duration_text},
};

int main(void)
{
    return cunit_run_suite("plot_ticks", tests, CUNIT_COUNT(tests));
}
