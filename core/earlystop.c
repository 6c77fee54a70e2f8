#include "config.h"

/*
 * earlystop.c - Protein's early-stop model (research note section 6): a
 * low quantile of score against ln(cost), fitted by minimizing the pinball
 * loss with a two-parameter Nelder-Mead from the least-squares line.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

#define NM_MAX_ITER 500
#define NM_TOL 1e-7

/* Mean pinball loss; see internal.h. */
double protein_pinball_loss(const double *y, const double *x, size_t n,
                            double q, double a, double b)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - (a + b * x[i]);
        sum += r >= 0 ? q * r : (q - 1.0) * r;
    }
    return n > 0 ? sum / (double)n : 0.0;
}

typedef struct pinball_problem {
    const double *y, *x;
    size_t n;
    double q;
} pinball_problem;

/* The objective with the slope constrained to b >= 0 by projection. */
static double objective(const pinball_problem *pb, const double *p)
{
    return protein_pinball_loss(pb->y, pb->x, pb->n, pb->q, p[0],
                                fmax(p[1], 0.0));
}

/* Nelder-Mead (reflection 1, expansion 2, contraction 1/2, shrink 1/2) in
 * two dimensions from p with initial steps `step`; p receives the best
 * vertex. Stops when the vertices' losses agree within NM_TOL. */
static void nelder_mead(const pinball_problem *pb, double *p,
                        const double *step)
{
    double v[3][2], f[3];

    for (int k = 0; k < 3; k++) {
        v[k][0] = p[0] + (k == 1 ? step[0] : 0);
        v[k][1] = p[1] + (k == 2 ? step[1] : 0);
        f[k] = objective(pb, v[k]);
    }
    for (int it = 0; it < NM_MAX_ITER; it++) {
        int lo = 0, hi = 0, mid;
        double c[2], r[2], fr;
        for (int k = 1; k < 3; k++) {
            if (f[k] < f[lo])
                lo = k;
            if (f[k] > f[hi])
                hi = k;
        }
        if (lo == hi)
            hi = (lo + 1) % 3;
        mid = 3 - lo - hi;
        if (fabs(f[hi] - f[lo]) <= NM_TOL * (fabs(f[lo]) + NM_TOL))
            break;
        c[0] = (v[lo][0] + v[mid][0]) / 2;
        c[1] = (v[lo][1] + v[mid][1]) / 2;
        r[0] = 2 * c[0] - v[hi][0];
        r[1] = 2 * c[1] - v[hi][1];
        fr = objective(pb, r);
        if (fr < f[lo]) {
            double e[2] = {3 * c[0] - 2 * v[hi][0], 3 * c[1] - 2 * v[hi][1]};
            double fe = objective(pb, e);
            int use_e = fe < fr;
            v[hi][0] = use_e ? e[0] : r[0];
            v[hi][1] = use_e ? e[1] : r[1];
            f[hi] = use_e ? fe : fr;
        } else if (fr < f[mid]) {
            v[hi][0] = r[0];
            v[hi][1] = r[1];
            f[hi] = fr;
        } else {
            double k[2] = {(c[0] + v[hi][0]) / 2, (c[1] + v[hi][1]) / 2};
            double fk = objective(pb, k);
            if (fk < f[hi]) {
                v[hi][0] = k[0];
                v[hi][1] = k[1];
                f[hi] = fk;
            } else {
                for (int s = 0; s < 3; s++) {
                    if (s == lo)
                        continue;
                    v[s][0] = (v[s][0] + v[lo][0]) / 2;
                    v[s][1] = (v[s][1] + v[lo][1]) / 2;
                    f[s] = objective(pb, v[s]);
                }
            }
        }
    }
    {
        int lo = 0;
        for (int k = 1; k < 3; k++)
            if (f[k] < f[lo])
                lo = k;
        p[0] = v[lo][0];
        p[1] = v[lo][1];
    }
}

/* Fits the quantile line; see internal.h. */
int protein_cost_model_fit(protein_cost_model *m, const double *score,
                           const double *cost, size_t n, double q)
{
    double *y = NULL, *x = NULL;
    double mx = 0, my = 0, sxx = 0, sxy = 0, p[2], step[2];
    size_t k = 0;
    pinball_problem pb;

    if (!(q > 0 && q < 1))
        return PROTEIN_EINVAL;
    m->fitted = 0;
    y = malloc((n > 0 ? n : 1) * sizeof(*y));
    x = malloc((n > 0 ? n : 1) * sizeof(*x));
    if (y == NULL || x == NULL) {
        free(y);
        free(x);
        return PROTEIN_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(cost[i] > 1e-6) || !isfinite(score[i]) || !isfinite(cost[i]))
            continue;
        y[k] = score[i];
        x[k] = log(cost[i]);
        k++;
    }
    if (k < PROTEIN_EARLYSTOP_MIN_OBS)
        goto done;
    m->max_score = -INFINITY;
    for (size_t i = 0; i < k; i++) {
        mx += x[i];
        my += y[i];
        m->max_score = fmax(m->max_score, y[i]);
    }
    mx /= (double)k;
    my /= (double)k;
    for (size_t i = 0; i < k; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    /* Every run cost the same (no cost reported: unit cost): a line
     * through one cost says nothing about a run at another. */
    if (!(sxx > 0))
        goto done;
    p[1] = fmax(sxy / sxx, 0.0);
    p[0] = my - p[1] * mx;
    step[0] = fmax(0.05, 0.1 * fabs(p[0]));
    step[1] = fmax(0.05, 0.1 * fabs(p[1]));
    pb.y = y;
    pb.x = x;
    pb.n = k;
    pb.q = q;
    nelder_mead(&pb, p, step);
    m->a = p[0];
    m->b = fmax(p[1], 0.0);
    m->fitted = 1;
done:
    free(y);
    free(x);
    return PROTEIN_OK;
}

/* Upper cost threshold update; see internal.h. */
void protein_cost_model_update_upper(protein_cost_model *m, double front_cost)
{
    if (m->upper_cost <= 0)
        m->upper_cost = front_cost;
    else if (front_cost > m->upper_cost)
        m->upper_cost *= 1.01;
}

/* Threshold at cost; see internal.h. */
double protein_cost_model_threshold(const protein_cost_model *m, double cost)
{
    if (!m->fitted || cost < 0.3 * m->upper_cost + 10.0)
        return -INFINITY;
    if (cost > 1.2 * m->upper_cost)
        return m->max_score - 0.1 * fabs(m->max_score);
    return m->a + m->b * log(cost);
}
