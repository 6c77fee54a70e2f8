#include "config.h"

/*
 * space.c - the mapping between value space (what a trial runs with) and
 * model space (what the GPs see): every numeric parameter to [-1, 1]
 * (research note section 1), a categorical one to a one-hot block of +1/-1,
 * constants to nothing. Also the geometry helpers shared by the optimizer.
 */
#include <gsl/gsl_cdf.h>
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* 1 for a parameter with a numeric range (one model dimension), 0 for a
 * categorical or constant. */
static int is_numeric(const protein_param *p)
{
    return p->kind != PROTEIN_PARAM_CATEGORICAL &&
           p->kind != PROTEIN_PARAM_CONSTANT;
}

/* The model dimensions p takes: 0 for a constant, one per choice for a
 * categorical (one-hot), 1 otherwise. */
static size_t param_dim(const protein_param *p)
{
    if (p->kind == PROTEIN_PARAM_CONSTANT)
        return 0;
    if (p->kind == PROTEIN_PARAM_CATEGORICAL)
        return p->n_values;
    return 1;
}

/* Model-space dimension count; see protein.h. */
size_t protein_space_dim(const protein_sweep_config *cfg)
{
    size_t dim = 0;
    for (size_t i = 0; i < cfg->n_params; i++)
        dim += param_dim(&cfg->params[i]);
    return dim;
}

/* Non-constant parameter count; see internal.h. */
size_t protein_space_free_params(const protein_sweep_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_params; i++)
        n += cfg->params[i].kind != PROTEIN_PARAM_CONSTANT;
    return n;
}

/* First model dimension of parameter i; see internal.h. */
size_t protein_space_offset(const protein_sweep_config *cfg, size_t i)
{
    size_t off = 0;
    for (size_t k = 0; k < i; k++)
        off += param_dim(&cfg->params[k]);
    return off;
}

/* Perturbation half-width; see internal.h. */
double protein_param_scale(const protein_param *p)
{
    return p->scale > 0 ? p->scale : 0.5;
}

/* Per-dimension perturbation half-widths; see internal.h. */
void protein_space_scales(const protein_sweep_config *cfg, double *s)
{
    size_t off = 0;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        for (size_t j = 0; j < param_dim(p); j++)
            s[off + j] = protein_param_scale(p);
        off += param_dim(p);
    }
}

/* Cumulative probability of v under a W&B distribution parameter,
 * clamped to the searched quantiles. */
static double distribution_cdf(const protein_param *p, double v)
{
    double c;

    switch (p->kind) {
    case PROTEIN_PARAM_NORMAL:
        c = gsl_cdf_gaussian_P(v - p->mu, p->sigma);
        break;
    case PROTEIN_PARAM_LOGNORMAL:
        c = v > 0 ? gsl_cdf_lognormal_P(v, p->mu, p->sigma) : 0.0;
        break;
    default:
        c = v <= 0 ? 0.0 : v >= 1 ? 1.0 : gsl_cdf_beta_P(v, p->mu, p->sigma);
        break;
    }
    return c < PROTEIN_QUANTILE_LO   ? PROTEIN_QUANTILE_LO
           : c > PROTEIN_QUANTILE_HI ? PROTEIN_QUANTILE_HI
                                     : c;
}

/* See protein.h: the inverse CDF of a W&B distribution parameter. */
double protein_distribution_quantile(const protein_param *p, double c)
{
    switch (p->kind) {
    case PROTEIN_PARAM_NORMAL:
        return p->mu + gsl_cdf_gaussian_Pinv(c, p->sigma);
    case PROTEIN_PARAM_LOGNORMAL:
        return gsl_cdf_lognormal_Pinv(c, p->mu, p->sigma);
    case PROTEIN_PARAM_BETA: return gsl_cdf_beta_Pinv(c, p->mu, p->sigma);
    default: return p->min + c * (p->max - p->min);
    }
}

/* The transformed bounds of a numeric parameter: value v maps linearly
 * from [lo, hi] of t(v) to [-1, 1]. */
static double transform(const protein_param *p, double v)
{
    switch (p->kind) {
    case PROTEIN_PARAM_LOG: return log10(v > 0 ? v : p->min);
    case PROTEIN_PARAM_POW2: return log2(v > 0 ? v : p->min);
    case PROTEIN_PARAM_LOGIT:
        v = v < p->min ? p->min : v > p->max ? p->max : v;
        return log10(1.0 - v);
    case PROTEIN_PARAM_NORMAL:
    case PROTEIN_PARAM_LOGNORMAL:
    case PROTEIN_PARAM_BETA: return distribution_cdf(p, v);
    default: return v;
    }
}

/* Rounds v to a multiple of the parameter's quantum (W&B's q_*), then to
 * an integer when the parameter is one. */
static double quantize(const protein_param *p, double v)
{
    if (p->q > 0)
        v = nearbyint(v / p->q) * p->q;
    return p->is_integer ? nearbyint(v) : v;
}

/* The parameter value at t in the transformed range (the inverse of
 * transform), quantized to the parameter's step. */
static double untransform(const protein_param *p, double t)
{
    double v;
    switch (p->kind) {
    case PROTEIN_PARAM_LOG: v = pow(10.0, t); break;
    case PROTEIN_PARAM_POW2: return ldexp(1.0, (int)lround(t));
    case PROTEIN_PARAM_LOGIT: return 1.0 - pow(10.0, t);
    case PROTEIN_PARAM_NORMAL:
    case PROTEIN_PARAM_LOGNORMAL:
    case PROTEIN_PARAM_BETA: v = protein_distribution_quantile(p, t); break;
    default: v = t; break;
    }
    return quantize(p, v);
}

/* Model coordinate of a numeric value; see internal.h. */
double protein_param_normalize(const protein_param *p, double v)
{
    double lo = transform(p, p->min), hi = transform(p, p->max);
    if (hi == lo)
        return 0.0;
    return 2.0 * (transform(p, v) - lo) / (hi - lo) - 1.0;
}

/* The parameter value at model coordinate u in [-1, 1]: linear in the
 * transformed range, quantized. */
static double u_to_numeric(const protein_param *p, double u)
{
    double lo = transform(p, p->min), hi = transform(p, p->max);
    return untransform(p, lo + (u + 1.0) / 2.0 * (hi - lo));
}

/* A constant parameter's value as a number: 0 when it has none or its value
 * is not a number (a string constant). */
static double constant_value(const protein_param *p)
{
    if (p->numeric_values == NULL || p->n_values == 0 ||
        isnan(p->numeric_values[0]))
        return 0.0;
    return p->numeric_values[0];
}

/* Contract in protein.h. */
size_t protein_choice_index(double value, size_t n_values)
{
    assert(n_values > 0);
    if (!(value > 0)) /* negative or NaN */
        return 0;
    if (value >= (double)(n_values - 1))
        return n_values - 1;
    return (size_t)lround(value);
}

/* Value space -> model space; see protein.h. Out-of-range numeric values
 * give |u| > 1 (except logit, which clamps); a categorical index is
 * rounded and clamped to its choices. */
void protein_space_normalize(const protein_sweep_config *cfg,
                             const double *values, double *u)
{
    size_t off = 0;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
            size_t c = protein_choice_index(values[i], p->n_values);
            for (size_t k = 0; k < p->n_values; k++)
                u[off + k] = k == c ? 1.0 : -1.0;
        } else if (is_numeric(p)) {
            u[off] = protein_param_normalize(p, values[i]);
        }
        off += param_dim(p);
    }
}

/* Model space -> value space; see protein.h. A constant gets its numeric
 * value, or 0 when it is not a number. */
void protein_space_denormalize(const protein_sweep_config *cfg, const double *u,
                               double *values)
{
    size_t off = 0;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
            size_t best = 0;
            for (size_t k = 1; k < p->n_values; k++)
                if (u[off + k] > u[off + best])
                    best = k;
            values[i] = (double)best;
        } else if (p->kind == PROTEIN_PARAM_CONSTANT) {
            values[i] = constant_value(p);
        } else {
            values[i] = u_to_numeric(p, u[off]);
        }
        off += param_dim(p);
    }
}

/* Formats one value; see protein.h. */
void protein_format_value(const protein_param *p, double value, char *buf,
                          size_t len)
{
    if (len == 0)
        return;
    if (p->kind == PROTEIN_PARAM_CATEGORICAL && p->n_values > 0 &&
        p->values != NULL) {
        snprintf(buf, len, "%s",
                 p->values[protein_choice_index(value, p->n_values)]);
    } else if (p->kind == PROTEIN_PARAM_CONSTANT && p->n_values > 0 &&
               p->values != NULL) {
        snprintf(buf, len, "%s", p->values[0]);
    } else if ((p->is_integer || p->kind == PROTEIN_PARAM_POW2) &&
               isfinite(value)) {
        snprintf(buf, len, "%.0f", value);
    } else {
        snprintf(buf, len, "%.17g", value);
    }
}

/* The choice a unit coordinate z in [0, 1) selects: equal shares, or
 * shares in proportion to the W&B probabilities when given. */
static size_t choice_at(const protein_param *p, double z)
{
    size_t c;
    double sum = 0;

    if (!p->probabilities) {
        c = (size_t)(z * (double)p->n_values);
        return c < p->n_values ? c : p->n_values - 1;
    }
    for (c = 0; c + 1 < p->n_values; c++) {
        sum += p->probabilities[c];
        if (z < sum)
            return c;
    }
    return p->n_values - 1;
}

/* Unit cube -> value space; see internal.h. */
void protein_space_from_unit(const protein_sweep_config *cfg, const double *z,
                             double *values)
{
    size_t j = 0;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        if (p->kind == PROTEIN_PARAM_CONSTANT) {
            values[i] = constant_value(p);
            continue;
        }
        if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
            values[i] = (double)choice_at(p, z[j]);
        } else {
            values[i] = u_to_numeric(p, 2.0 * z[j] - 1.0);
        }
        j++;
    }
}

/* Snaps u to a runnable point; see internal.h. */
void protein_space_snap(const protein_sweep_config *cfg, double *u,
                        double *values)
{
    protein_space_denormalize(cfg, u, values);
    protein_space_normalize(cfg, values, u);
}

typedef struct keyed_row {
    double key;
    size_t row;
} keyed_row;

/* qsort order of keyed_row: by key, ties by row, so that the sort is
 * stable. */
static int cmp_keyed(const void *a, const void *b)
{
    const keyed_row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Weights of the projection direction: golden-ratio steps in [1, 2), so
 * that distinct grid points rarely share a projection. */
static double projection_weight(size_t j)
{
    return 1.0 + fmod(0.6180339887498949 * (double)(j + 1), 1.0);
}

/* Near-duplicate removal; see internal.h. Rows are sorted by their
 * projection on a fixed direction w; two rows within `radius` have
 * projections within |w| * radius, so only that window is compared. */
size_t protein_dedup_rows(const double *X, size_t n, size_t d, double radius,
                          unsigned char *keep)
{
    keyed_row *rows;
    double wnorm2 = 0, window, r2 = radius * radius;
    size_t kept = 0;

    if (n == 0)
        return 0;
    rows = malloc(n * sizeof(*rows));
    if (rows == NULL)
        return (size_t)-1;
    for (size_t j = 0; j < d; j++) {
        double w = projection_weight(j);
        wnorm2 += w * w;
    }
    for (size_t i = 0; i < n; i++) {
        double key = 0;
        for (size_t j = 0; j < d; j++)
            key += projection_weight(j) * X[i * d + j];
        rows[i].key = key;
        rows[i].row = i;
        keep[i] = 1;
    }
    qsort(rows, n, sizeof(*rows), cmp_keyed);
    window = sqrt(wnorm2) * radius;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n && rows[b].key - rows[a].key <= window;
             b++) {
            const double *x = X + rows[a].row * d, *y = X + rows[b].row * d;
            double dist2 = 0;
            for (size_t j = 0; j < d && dist2 <= r2; j++)
                dist2 += (x[j] - y[j]) * (x[j] - y[j]);
            if (dist2 <= r2) {
                size_t older =
                    rows[a].row < rows[b].row ? rows[a].row : rows[b].row;
                keep[older] = 0;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        kept += keep[i];
    free(rows);
    return kept;
}
