#include "config.h"

/*
 * pareto.c - Protein's score/cost Pareto front and its tail pruning
 * (research note section 5). Scores are in the internal direction: higher
 * is better.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

typedef struct cost_key {
    double cost, score;
    size_t index;
} cost_key;

/* Cheapest first; at equal cost the best score first, so that only it can
 * enter the front (a later, worse one at the same cost is dominated). */
static int cmp_cost(const void *a, const void *b)
{
    const cost_key *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Pareto front; see internal.h. */
int protein_pareto_compute(const double *score, const double *cost, size_t n,
                           size_t *front, size_t *nfront)
{
    cost_key *keys;
    double best = -INFINITY;
    size_t nf = 0;

    *nfront = 0;
    if (n == 0)
        return PROTEIN_OK;
    keys = malloc(n * sizeof(*keys));
    if (keys == NULL)
        return PROTEIN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        keys[i].cost = cost[i];
        keys[i].score = score[i];
        keys[i].index = i;
    }
    qsort(keys, n, sizeof(*keys), cmp_cost);
    for (size_t k = 0; k < n; k++) {
        size_t i = keys[k].index;
        if (score[i] > best + 1e-6) {
            front[nf++] = i;
            best = score[i];
        }
    }
    free(keys);
    *nfront = nf;
    return PROTEIN_OK;
}

/* Tail pruning; see internal.h. */
size_t protein_pareto_prune(const double *score, const double *cost,
                            const size_t *front, size_t nf)
{
    double smin, smax, cmin, cmax, srange, crange, stop_below;

    if (nf < 3)
        return nf;
    smin = smax = score[front[0]];
    cmin = cmax = cost[front[0]];
    for (size_t k = 1; k < nf; k++) {
        double s = score[front[k]], c = cost[front[k]];
        smin = s < smin ? s : smin;
        smax = s > smax ? s : smax;
        cmin = c < cmin ? c : cmin;
        cmax = c > cmax ? c : cmax;
    }
    srange = fmax(smax - smin, 1e-6);
    crange = fmax(cmax - cmin, 1e-6);
    smax = score[front[nf - 1]];
    stop_below = smax - 0.02 * fabs(smax);
    while (nf > 2) {
        size_t i = front[nf - 1], prev = front[nf - 2];
        double eff;
        if (score[prev] < stop_below)
            break;
        eff = ((score[i] - score[prev]) / srange) /
              ((cost[i] - cost[prev]) / crange + 1e-6);
        if (eff >= 0.5)
            break;
        nf--;
    }
    return nf;
}
