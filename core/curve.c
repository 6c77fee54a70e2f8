/*
 * curve.c - what a trial's learning curve (its progress reports) means to
 * a sweep: W&B's hyperband bands, and PufferLib's downsampling of a curve
 * into observations. Shared by `protein run` and proteind, so that a
 * sweep learns the same from a curve wherever the trial ran.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Bands past this report count are never reached. */
#define BAND_LIMIT 1e15

/* Contract in protein.h. */
size_t protein_hyperband_bands(const protein_hyperband *h, long *bands,
                               size_t max)
{
    size_t nb = 0, i, k;
    double band;

    if (!h || !h->enabled || !(h->eta > 1) || max == 0)
        return 0;
    if (h->min_iter > 0) {
        /* wandb/sweeps: min_iter * eta^i, i < 100 */
        band = (double)h->min_iter;
        for (i = 0; i < 100 && band < BAND_LIMIT && nb < max; i++) {
            if (nb == 0 || (long)band != bands[nb - 1])
                bands[nb++] = (long)band;
            band *= h->eta;
        }
        return nb;
    }
    /* max_iter / eta^i, i = 1..s, while at least 1; ascending */
    band = (double)h->max_iter;
    for (i = 0; i < (size_t)(h->s > 0 ? h->s : 0) && nb < max; i++) {
        band /= h->eta;
        if (band < 1)
            break;
        bands[nb++] = (long)band;
    }
    for (i = 0; i + 1 < nb; i++)
        for (k = i + 1; k < nb; k++)
            if (bands[k] < bands[i]) {
                long t = bands[i];
                bands[i] = bands[k];
                bands[k] = t;
            }
    for (i = k = 0; i < nb; i++) /* int() of close values can repeat */
        if (k == 0 || bands[i] != bands[k - 1])
            bands[k++] = bands[i];
    return k;
}

/* Contract in protein.h. */
size_t protein_downsample(const protein_curve_point *pts, size_t n, int m,
                          protein_curve_point *out)
{
    size_t kept, start, per, b, i;

    if (n == 0)
        return 0;
    if (m <= 0) {
        out[0] = pts[n - 1];
        return 1;
    }
    if ((size_t)m > n) {
        memcpy(out, pts, n * sizeof(*out));
        return n;
    }
    /* PufferLib: the last point as it is, and the points before it (the
     * most recent multiple of m of them) averaged in m bins */
    kept = (n - 1) / (size_t)m * (size_t)m;
    start = n - 1 - kept;
    per = kept / (size_t)m;
    for (b = 0; b < (size_t)m && per > 0; b++) {
        protein_curve_point mean = {0, 0, 0};
        for (i = 0; i < per; i++) {
            const protein_curve_point *p = &pts[start + b * per + i];
            mean.step += p->step;
            mean.score += p->score;
            mean.cost += p->cost;
        }
        out[b].step = mean.step / (double)per;
        out[b].score = mean.score / (double)per;
        out[b].cost = mean.cost / (double)per;
    }
    out[per > 0 ? m : 0] = pts[n - 1];
    return per > 0 ? (size_t)m + 1 : 1;
}

/* Contract in protein.h. */
int protein_observe_run(protein_optimizer *opt, const protein_sweep_config *cfg,
                        const double *values, double score, double cost,
                        const protein_curve_point *curve, size_t n)
{
    protein_curve_point *costed = NULL, *pts = NULL;
    double *moved = NULL;
    size_t made = 0, i;
    int cost_i = -1, rc;

    if (cfg->cost_param)
        cost_i = protein_config_find_param(cfg, cfg->cost_param);
    if (cfg->downsample > 0 && curve && n > 1) {
        costed = malloc(n * sizeof(*costed));
        pts = malloc(((size_t)cfg->downsample + 1) * sizeof(*pts));
        moved = malloc((cfg->n_params ? cfg->n_params : 1) * sizeof(*moved));
        if (!costed || !pts || !moved) {
            rc = PROTEIN_ENOMEM;
            goto done;
        }
        /* a report without a cost: its share of the trial's cost, by its
         * place in the curve */
        for (i = 0; i < n; i++) {
            costed[i] = curve[i];
            if (isnan(costed[i].cost))
                costed[i].cost = cost * (double)(i + 1) / (double)n;
        }
        made = protein_downsample(costed, n, cfg->downsample, pts);
    }
    /* the downsample's last point is the trial's end: the final result
     * below stands for it */
    for (i = 0; i + 1 < made; i++) {
        memcpy(moved, values, cfg->n_params * sizeof(*moved));
        if (cost_i >= 0)
            moved[cost_i] = pts[i].step;
        rc = protein_observe_point(
            opt, moved, protein_observed_score(cfg, pts[i].score),
            pts[i].cost > 1e-6 ? pts[i].cost : 1e-6, PROTEIN_OUTCOME_SUCCESS);
        if (rc != PROTEIN_OK)
            goto done;
    }
    rc = protein_observe(opt, values, protein_observed_score(cfg, score), cost,
                         PROTEIN_OUTCOME_SUCCESS);
done:
    free(costed);
    free(pts);
    free(moved);
    return rc;
}

/* The finite number that is all of the len bytes at s, into *v; -1 if
 * they are not one. */
static int parse_number(const char *s, size_t len, double *v)
{
    char buf[64], *end;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == ' ' || buf[0] == '\t' || buf[0] == '\n')
        return -1;
    *v = strtod(buf, &end);
    return *end == '\0' && isfinite(*v) ? 0 : -1;
}

/* Contract in protein.h. */
int protein_curve_parse(const char *text, size_t len, protein_curve_point **out,
                        size_t *n)
{
    protein_curve_point *pts = NULL;
    size_t at = 0, lines = 0, i;

    *out = NULL;
    *n = 0;
    for (i = 0; i < len; i++)
        if (text[i] == '\n')
            lines++;
    if (len == 0)
        return PROTEIN_OK;
    if (text[len - 1] != '\n' || lines > PROTEIN_CURVE_MAX)
        return PROTEIN_EINVAL;
    pts = malloc(lines * sizeof(*pts));
    if (!pts)
        return PROTEIN_ENOMEM;
    for (i = 0; i < lines; i++) {
        const char *line = text + at, *nl = memchr(line, '\n', len - at);
        const char *sp1 = memchr(line, ' ', (size_t)(nl - line)), *sp2;

        if (!sp1)
            goto bad;
        sp2 = memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1));
        if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(nl - sp2 - 1)) ||
            parse_number(line, (size_t)(sp1 - line), &pts[i].step) < 0 ||
            parse_number(sp1 + 1, (size_t)(sp2 - sp1 - 1), &pts[i].score) < 0)
            goto bad;
        if (nl - sp2 == 2 && sp2[1] == '-')
            pts[i].cost = NAN;
        else if (parse_number(sp2 + 1, (size_t)(nl - sp2 - 1), &pts[i].cost) <
                 0)
            goto bad;
        at = (size_t)(nl - text) + 1;
    }
    *out = pts;
    *n = lines;
    return PROTEIN_OK;
bad:
    free(pts);
    return PROTEIN_EINVAL;
}
