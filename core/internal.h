/* internal.h - declarations shared between core/ modules, not public. */
#ifndef PROTEIN_INTERNAL_H
#define PROTEIN_INTERNAL_H

#include <stdint.h>

#include "protein.h"

/* ---------------------------------------------------------------- error */

/* Clears err (NULL is a no-op) and fills it with cfg's source file (when
 * cfg and its source are not NULL), key (NULL = none) and msg. */
void protein_error_set(protein_error *err, const protein_sweep_config *cfg,
                       const char *key, const char *msg);

/* ------------------------------------------------------------------ rng */

/* A uniform index in [0, n) without modulo bias; n must be > 0. */
size_t protein_rng_index(protein_rng *rng, size_t n);

/* ------------------------------------------------------------------ space */

/* Radius (L2, model space) under which two points count as the same. */
#define PROTEIN_DEDUP_RADIUS 1e-6

/* Number of parameters that are not constants (the Sobol/random dims). */
size_t protein_space_free_params(const protein_sweep_config *cfg);

/* First model-space dimension of parameter i (meaningless for constants,
 * which take none). */
size_t protein_space_offset(const protein_sweep_config *cfg, size_t i);

/* Perturbation half-width of p in model units: p->scale when positive,
 * else 0.5 (the "auto" scale). */
double protein_param_scale(const protein_param *p);

/* The model coordinate (protein_space_normalize) of value v of the
 * numeric parameter p. */
double protein_param_normalize(const protein_param *p, double v);

/* Writes the perturbation half-width of every model dimension (a
 * categorical's scale repeated over its one-hot block) to s (dim values). */
void protein_space_scales(const protein_sweep_config *cfg, double *s);

/* Maps z (one value in [0,1) per non-constant parameter, config order) to a
 * value-space vector: numeric parameters uniformly in model space (so log
 * scale for log parameters), categorical ones pick floor(z * k). */
void protein_space_from_unit(const protein_sweep_config *cfg, const double *z,
                             double *values);

/* Replaces the model-space point u by normalize(denormalize(u)), so that it
 * is a point a trial can actually run (integers rounded, one-hot exact).
 * values is scratch of cfg->n_params doubles. */
void protein_space_snap(const protein_sweep_config *cfg, double *u,
                        double *values);

/* Rows of a growing row-major table (d columns) indexed by grid cell:
 * cells of side `cell`, centred on its multiples (cell_index.c). Rows are
 * added in table order and never removed; a row may be overwritten by a
 * point in the same cell. */
typedef struct protein_cell_index {
    size_t *slot; /* row + 1, or 0 for a free slot */
    size_t n_slots, n_rows;
    double cell;
    uint64_t seed;
} protein_cell_index;

/* Sets up an empty index of cells of side `cell` (> 0); free its table
 * with protein_cell_index_free, which leaves it empty again. */
void protein_cell_index_init(protein_cell_index *ix, double cell);
void protein_cell_index_free(protein_cell_index *ix);

/* The row of rows (the table the index was built on) in u's cell, or
 * SIZE_MAX when none is. */
size_t protein_cell_index_find(const protein_cell_index *ix, const double *rows,
                               size_t d, const double *u);

/* Indexes the table's next row, rows[n_rows] (already written there);
 * PROTEIN_ENOMEM leaves the index as it was. The caller has checked with
 * protein_cell_index_find that no earlier row shares its cell. */
int protein_cell_index_add(protein_cell_index *ix, const double *rows,
                           size_t d);

/* Marks near-duplicate rows of X (n x d, row-major): keep[i] = 0 when a
 * later row lies within `radius` (L2) of row i, else 1, so one row (the
 * newest) of every cluster survives. Returns the number kept, or
 * (size_t)-1 when memory runs out (keep is then unspecified). */
size_t protein_dedup_rows(const double *X, size_t n, size_t d, double radius,
                          unsigned char *keep);

/* -------------------------------------------------------------- optimizer */

/* protein_observe without counting a finished trial: for the points of a
 * trial's curve before its end (protein_observe_run), which must not
 * advance the cost cooling's trial count. Same arguments and returns. */
int protein_observe_point(protein_optimizer *opt, const double *values,
                          double score, double cost, protein_outcome outcome);

/* ------------------------------------------------------- score transform */

/* log E[max(f - best, 0)] for f ~ N(mean, sd^2): finite for every finite
 * input (an sd below 1e-12 counts as 1e-12), accurate in the far tail
 * where the expected improvement itself underflows. */
double protein_log_ei(double mean, double sd, double best);

/* The score GP's output transform: out[i] = Phi^-1((r_i - 1/2) / n), r_i
 * the 1-based rank of y[i] among the n values (ties share their mid-rank),
 * then min-max scaled to [0, 1] (all 1 when every value is equal). It is
 * strictly increasing in y. Returns PROTEIN_ENOMEM on allocation failure. */
int protein_rank_normal(const double *y, size_t n, double *out);

/* The score GP's output transform where magnitudes matter (a sequential
 * sweep with a cost parameter; score_transform.c says why): out[i] = the
 * mean of protein_rank_normal(y)[i] and (y[i] - min) / (max - min); or
 * protein_rank_normal(y) alone when the largest value lies less than a
 * tenth of the range above the median (a few very low values stretch the
 * range). In [0, 1], strictly increasing in y, all 1 when every value is
 * equal. Returns PROTEIN_ENOMEM on allocation failure. */
int protein_rank_magnitude_targets(const double *y, size_t n, double *out);

/* Maps v in transformed units back to y units by linear interpolation
 * between the nearest (t[i], y[i]) pairs below and above v (t[i] the
 * transform of y[i]: protein_rank_normal or protein_rank_magnitude_targets);
 * outside [min t, max t] it returns the smallest or largest y. NaN when n
 * is 0. */
double protein_score_target_inverse(const double *y, const double *t, size_t n,
                                    double v);

/* ------------------------------------------------------------------- grid */

/* The points of method: grid, enumerated with the last parameter varying
 * fastest. */
typedef struct protein_grid {
    size_t n_params;
    size_t *len;   /* points per parameter */
    double **axis; /* the values per parameter */
    size_t total, next;
} protein_grid;

/* PROTEIN_ECONFIG (err names the parameter and its line) when a
 * parameter gives the grid more values than it enumerates (an int_uniform
 * or q_uniform of more than a million), else PROTEIN_OK. */
int protein_grid_check(const protein_sweep_config *cfg, protein_error *err);

/* Builds the axes of cfg's grid into grid (zeroed by the caller; cfg must
 * outlive it). Fails with PROTEIN_ENOMEM, or PROTEIN_ECONFIG (err names
 * the parameter) as protein_grid_check does or when the number of points
 * overflows a size_t; free grid with protein_grid_free in every case. */
int protein_grid_init(protein_grid *grid, const protein_sweep_config *cfg,
                      protein_error *err);

/* Writes the next grid point (cfg->n_params values) to values, or returns
 * PROTEIN_EXHAUSTED after the last. */
int protein_grid_next(protein_grid *grid, double *values);

/* Frees what protein_grid_init allocated (a zeroed grid is fine). */
void protein_grid_free(protein_grid *grid);

/* ------------------------------------------------------------------ pareto */

/* Pareto front of (score, cost) points, higher score better: sorts by cost
 * (ties keep input order) and keeps a point iff its score beats the best so
 * far by more than 1e-6. Writes the indices (ascending cost) to front (room
 * for n) and their number to *nfront. Returns PROTEIN_ENOMEM on allocation
 * failure. */
int protein_pareto_compute(const double *score, const double *cost, size_t n,
                           size_t *front, size_t *nfront);

/* Protein's pruning of the front's inefficient high-cost tail (research
 * note section 5; the 0.98 * s_max stop test is made sign-safe as
 * s_max - 0.02 |s_max|). front lists nf indices by ascending cost; returns
 * the length of the kept prefix (never below min(nf, 2)). */
size_t protein_pareto_prune(const double *score, const double *cost,
                            const size_t *front, size_t nf);

/* ------------------------------------------------------------- early stop */

/* Minimum number of successes before the early-stop model is fitted. */
#define PROTEIN_EARLYSTOP_MIN_OBS 30

/* The early-stop model: score ~ a + b ln(cost) at a low quantile, in the
 * optimizer's internal (maximize) direction. */
typedef struct protein_cost_model {
    int fitted;
    double a, b;
    double max_score;
    double upper_cost; /* 0 until the first model suggestion */
} protein_cost_model;

/* Mean pinball loss at quantile q of y against a + b * x over n points. */
double protein_pinball_loss(const double *y, const double *x, size_t n,
                            double q, double a, double b);

/* Fits a, b (b >= 0) minimizing the pinball loss at quantile q, from an
 * OLS start with Nelder-Mead, over the points with cost > 1e-6 and a finite
 * score. With fewer than PROTEIN_EARLYSTOP_MIN_OBS such points, or when
 * they all cost the same, the model is left unfitted and PROTEIN_OK
 * returned. PROTEIN_ENOMEM on allocation
 * failure, PROTEIN_EINVAL for q outside (0, 1). */
int protein_cost_model_fit(protein_cost_model *m, const double *score,
                           const double *cost, size_t n, double q);

/* Updates the upper cost threshold from the pruned front's highest cost:
 * set on the first call, then grown by 1% per call while exceeded. */
void protein_cost_model_update_upper(protein_cost_model *m, double front_cost);

/* Threshold at `cost` in the internal direction: -INFINITY when unfitted
 * or inside the safe zone (cost < 0.3 upper + 10), max_score - 0.1
 * |max_score| beyond 1.2 upper, else a + b ln(cost). */
double protein_cost_model_threshold(const protein_cost_model *m, double cost);

#endif
