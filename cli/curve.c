/*
 * curve.c - a trial's learning curve from its result file (each metric
 * value that follows a step= line is one progress report), and W&B's
 * hyperband stopping rule over the curves of a sweep run by `protein run`
 * (under Redis, protein_progress in queue/functions.lua applies it).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Contract in cli.h. */
void cli_curve_free(cli_curve *c)
{
    free(c->points);
    memset(c, 0, sizeof(*c));
}

/* Contract in cli.h. */
int cli_curve_update(cli_curve *c, const char *path, const char *metric,
                     const char *cost_key)
{
    char *text = NULL;
    size_t len = 0, at;
    double v;

    if (cli_read_file(path, &text, &len) < 0)
        return errno == ENOENT ? 0 : -1;
    for (at = c->offset; at < len;) {
        char *nl = memchr(text + at, '\n', len - at);
        size_t n;
        if (!nl)
            break; /* a line still being written */
        n = (size_t)(nl - (text + at));
        if (pq_result_line_value(text + at, n, "step", &v) == 0) {
            c->has_step = 1;
            c->step = v;
            c->has_cost = 0;
        } else if (pq_result_line_value(text + at, n, cost_key, &v) == 0) {
            c->has_cost = 1;
            c->cost = v;
        } else if (c->has_step &&
                   pq_result_line_value(text + at, n, metric, &v) == 0) {
            protein_curve_point *g =
                realloc(c->points, (c->n + 1) * sizeof(*g));
            if (!g) {
                free(text);
                return -1;
            }
            c->points = g;
            g[c->n].step = c->step;
            g[c->n].score = v;
            g[c->n].cost = c->has_cost && c->cost > 0 ? c->cost : NAN;
            c->n++;
            c->has_step = 0;
        }
        at += n + 1;
    }
    c->offset = at;
    free(text);
    return 0;
}

/* Contract in cli.h. */
void cli_trial_judge(int status, const char *result_path, const char *metric,
                     const char *cost_metric, const cli_curve *curve,
                     const char *stopped_by, cli_trial_verdict *v, char *why,
                     size_t len)
{
    v->end = cli_trial_outcome(status, result_path, metric, cost_metric,
                               &v->res, why, len);
    v->ok = v->end == CLI_TRIAL_OK;
    v->score = v->ok ? v->res.metric : NAN;
    v->cost = v->ok ? pq_result_cost(&v->res) : 1.0;
    if (!stopped_by)
        return;
    if (!v->ok && curve->n > 0) {
        const protein_curve_point *last = &curve->points[curve->n - 1];

        v->ok = 1;
        v->score = last->score;
        if (last->cost > 0)
            v->cost = last->cost; /* the cost so far, when reported */
    }
    /* also when the program wrote its final result on the way out: still
     * pruned, and who stopped it is said */
    if (v->ok)
        snprintf(why, len, "stopped by %s after %zu reports", stopped_by,
                 curve->n);
}

/* Contract in cli.h. */
int cli_hyperband_stop(const protein_hyperband *h, int minimize,
                       const cli_curve *const *curves, size_t n, size_t which)
{
    long bands[PROTEIN_HYPERBAND_BANDS_MAX];
    size_t nb = 0, i, k, cnt;
    double *vals, band_thr = INFINITY, cond, sign = minimize ? 1.0 : -1.0;
    const cli_curve *me = curves[which];
    long closest = -1;

    if (!h->enabled || !me || me->n == 0)
        return 0;
    nb = protein_hyperband_bands(h, bands, PROTEIN_HYPERBAND_BANDS_MAX);
    for (i = 0; i < nb && bands[i] <= (long)me->n; i++)
        closest = bands[i];
    if (closest < 1)
        return 0;
    vals = malloc((n + 1) * sizeof(*vals));
    if (!vals)
        return 0;
    for (cnt = 0, i = 0; i < n; i++)
        if (curves[i] && curves[i]->n >= (size_t)closest)
            vals[cnt++] = sign * curves[i]->points[closest - 1].score;
    for (i = 1; i < cnt; i++) /* insertion sort: few trials */
        for (k = i; k > 0 && vals[k - 1] > vals[k]; k--) {
            double t = vals[k];
            vals[k] = vals[k - 1];
            vals[k - 1] = t;
        }
    if (cnt > 0)
        band_thr = vals[(size_t)((1.0 / h->eta) * (double)cnt)];
    free(vals);
    if (h->strict) {
        cond = sign * me->points[closest - 1].score;
    } else {
        cond = INFINITY;
        for (i = 0; i < me->n; i++)
            if (sign * me->points[i].score < cond)
                cond = sign * me->points[i].score;
    }
    return cond > band_thr;
}
