#include "config.h"

/*
 * score_transform.c - the score GP's target. Mostly rank to normal, as
 * CARBS does. Protein min-max scales the scores to [0, 1]; a metric with a
 * long tail then squeezes every near-optimal score into the last percent
 * of the range, the posterior mean is flat where it matters and the cost
 * triangle alone picks the suggestion. The score GP is trained instead on
 * Phi^-1((rank - 1/2) / n), min-max scaled to [0, 1] so that the
 * acquisition (mean times a weight) keeps Protein's form; predicted scores
 * are mapped back by interpolation.
 *
 * Ranks drop the magnitudes, and a sequential sweep with a cost parameter
 * needs them: a run a little longer than the best one, and a little
 * better, takes the next rank up whatever it gained, so the model never
 * sees the score level off along the cost axis and the sweep buys runs far
 * past the point where longer stops paying. Such a sweep is trained on
 * the mean of the rank targets and the min-max-scaled scores
 * (protein_rank_magnitude_targets); the scores alone made sweeps commit to
 * the first good choice of a categorical where most of the space scores
 * near zero. A few very low scores that stretch the range leave it on the
 * ranks alone.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

/* Standard normal quantile, by bisection on the CDF 0.5 erfc(-x / sqrt 2)
 * (monotone and exact to the last bits that matter here); p in (0, 1). */
static double probit(double p)
{
    double lo = -40, hi = 40;
    for (int k = 0; k < 100 && hi - lo > 1e-12; k++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / M_SQRT2) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

typedef struct ranked {
    double y;
    size_t index;
} ranked;

/* qsort order of ranked: by value, ties by index, so that the sort is
 * stable. */
static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->y != y->y)
        return x->y < y->y ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* y[0..n) with their indices, sorted by value (ties by index); NULL when
 * out of memory. The caller frees it. */
static ranked *sort_ranked(const double *y, size_t n)
{
    ranked *r = malloc(n * sizeof(*r));
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        r[i].y = y[i];
        r[i].index = i;
    }
    qsort(r, n, sizeof(*r), cmp_ranked);
    return r;
}

/* Writes protein_rank_normal(y) to out (n > 0) and returns y sorted by
 * sort_ranked, which the caller frees; NULL when out of memory. */
static ranked *rank_normal_sorted(const double *y, size_t n, double *out)
{
    ranked *r;
    double lo, hi;

    assert(n > 0);
    r = sort_ranked(y, n);
    if (r == NULL)
        return NULL;
    for (size_t a = 0, b; a < n; a = b) {
        double rank; /* 1-based mid-rank of the tie group [a, b) */
        for (b = a + 1; b < n && r[b].y == r[a].y; b++)
            ;
        rank = 0.5 * (double)(a + 1 + b);
        for (size_t k = a; k < b; k++)
            out[r[k].index] = probit((rank - 0.5) / (double)n);
    }
    lo = out[r[0].index];
    hi = out[r[n - 1].index];
    for (size_t i = 0; i < n; i++)
        out[i] = hi > lo ? (out[i] - lo) / (hi - lo) : 1.0;
    return r;
}

/* Rank-to-normal transform; see internal.h. */
int protein_rank_normal(const double *y, size_t n, double *out)
{
    ranked *r;

    if (n == 0)
        return PROTEIN_OK;
    r = rank_normal_sorted(y, n, out);
    if (r == NULL)
        return PROTEIN_ENOMEM;
    free(r);
    return PROTEIN_OK;
}

/* A share of the range of the scores: when the best score lies less than
 * this above their median, the range is mostly the low tail's (a few
 * diverged runs) and protein_rank_magnitude_targets keeps to the ranks. */
#define MAGNITUDE_TAIL_SHARE 0.1

/* Ranks and magnitudes, half each; see internal.h. */
int protein_rank_magnitude_targets(const double *y, size_t n, double *out)
{
    ranked *r;
    double lo, hi, median;

    if (n == 0)
        return PROTEIN_OK;
    r = rank_normal_sorted(y, n, out);
    if (r == NULL)
        return PROTEIN_ENOMEM;
    lo = r[0].y;
    hi = r[n - 1].y;
    median = n % 2 ? r[n / 2].y : 0.5 * (r[n / 2 - 1].y + r[n / 2].y);
    free(r);
    if (!(hi > lo) || hi - median < MAGNITUDE_TAIL_SHARE * (hi - lo))
        return PROTEIN_OK;
    for (size_t i = 0; i < n; i++)
        out[i] = 0.5 * (out[i] + (y[i] - lo) / (hi - lo));
    return PROTEIN_OK;
}

/* Inverse of the score GP's targets; see internal.h. */
double protein_score_target_inverse(const double *y, const double *t, size_t n,
                                    double v)
{
    size_t below = SIZE_MAX, above = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (t[i] <= v && (below == SIZE_MAX || t[i] > t[below] ||
                          (t[i] == t[below] && y[i] > y[below])))
            below = i;
        if (t[i] >= v && (above == SIZE_MAX || t[i] < t[above] ||
                          (t[i] == t[above] && y[i] < y[above])))
            above = i;
    }
    if (below == SIZE_MAX && above == SIZE_MAX)
        return NAN;
    if (below == SIZE_MAX)
        return y[above];
    if (above == SIZE_MAX || t[above] == t[below])
        return y[below];
    return y[below] +
           (y[above] - y[below]) * (v - t[below]) / (t[above] - t[below]);
}

/* The score the optimizer observes for a reported one; see protein.h.
 * PufferLib's percentile metric: logit of the score clipped to
 * [1e-9, 1 - 1e-9], then to [-5, 100]. */
double protein_observed_score(const protein_sweep_config *cfg, double score)
{
    double p, l;

    if (!cfg->percentile_metric || !isfinite(score))
        return score;
    p = score < 1e-9 ? 1e-9 : score > 1 - 1e-9 ? 1 - 1e-9 : score;
    l = log(p / (1 - p));
    return l < -5 ? -5 : l > 100 ? 100 : l;
}
