/*
 * queue_model.h - the bridge between the optimizer's value vectors
 * (core/protein.h) and the queue's trial parameters (protein_queue.h).
 *
 * The optimizer works on a vector of n_params doubles in config order
 * (categoricals as the index of their choice); the queue, the plugin and
 * the trial program see named parameters rendered as numbers or text. This
 * module converts both ways and loads a sweep's config from the YAML text
 * that the queue stores in Redis. It is linked by the coordinator and the
 * CLI, never by the plugin.
 *
 * Every function returns a protein_status (PROTEIN_OK = 0 on success) and,
 * when given a protein_error, fills it with a message naming the parameter.
 */
#ifndef PROTEIN_QUEUE_MODEL_H
#define PROTEIN_QUEUE_MODEL_H

#include "protein.h"
#include "protein_queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Renders the value vector `values` (cfg->n_params entries) as trial
 * parameters, one per config parameter in config order. Each value is
 * formatted with protein_format_value; the result is a number when that
 * text is numeric and a string otherwise (text choices and constants).
 * is_integer is set for integer and pow2 parameters, and for numeric
 * choices and constants written without a fraction or exponent. On success *out
 * owns the items and the caller releases them with pq_params_free(out). Fails
 * with PROTEIN_ENOMEM (out is then left empty) or PROTEIN_EINVAL. */
int pq_model_values_to_params(const protein_sweep_config *cfg,
                              const double *values, pq_params *out);

/* The inverse: finds each config parameter by name in `params` and writes
 * its value-space value to values[i] (a categorical's choice index, a
 * constant's numeric value or 0). Extra parameters are ignored. Fails with
 * PROTEIN_ENOTFOUND when a non-constant parameter is missing, PROTEIN_EINVAL
 * when a value does not fit the parameter (text for a numeric parameter, a
 * choice that is not in values[], a non-finite number); err->key names the
 * parameter. values is undefined after a failure. */
int pq_model_params_to_values(const protein_sweep_config *cfg,
                              const pq_params *params, double *values,
                              protein_error *err);

/* The parameter called `name` in params, or NULL (also for NULL params).
 * The pointer is borrowed from params. */
const pq_param *pq_model_find_param(const pq_params *params, const char *name);

/* Parses the YAML config text stored for sweep `sweep` (len bytes, need not
 * be NUL-terminated). Errors name the source as "sweep NAME (stored config)"
 * since there is no file. The config's name is set to `sweep` when it has
 * none. On success *out is owned by the caller (protein_config_free). */
int pq_model_load_config(const char *sweep, const char *yaml, size_t len,
                         protein_sweep_config **out, protein_error *err);

/* Who adds fallback points past a sweep's pool: proteind's top-ups, or
 * protein budget when it raises the budget. */
typedef enum {
    PQ_FALLBACK_BY_COORDINATOR,
    PQ_FALLBACK_BY_BUDGET
} pq_fallback_drawer;

/* The seed of the fallback points `drawer` adds to sweep `name`'s pool of
 * `size` points: each addition draws a differently scrambled Sobol
 * sequence, so that its points are fresh, not the pool's first ones
 * again, and the two drawers' points differ even when both add past the
 * same size at once. The same arguments give the same seed. */
uint64_t pq_model_fallback_seed(const char *name, size_t size,
                                pq_fallback_drawer drawer);

/* The fallback pool's points from its point `first` on, n of them,
 * rendered as trial parameters. For method grid: the grid's points first
 * .. first + n - 1 in grid order (the order proteind's optimizer suggests
 * them), n at most pq_model_grid_points(cfg) - first. For the other
 * methods (first unused): n points of the optimizer's warm-up (scrambled
 * Sobol over the non-constant parameters, the cost parameter near its
 * cheap end; uniform random beyond PROTEIN_SOBOL_MAX_DIM) for seed `seed`,
 * whatever cfg's method; with defaults_first, the first point is the
 * config's defaults when method protein would suggest them first (every
 * parameter has a default), as a new sweep's coordinator does. The same
 * seed gives the same points, in the same order, and not those of the
 * warm-up of a sweep seeded with `seed`. On success *out is malloc'ed
 * (pq_params_array_free(*out, n)); PROTEIN_ENOMEM, PROTEIN_EINVAL (also
 * for a grid with fewer than first + n points) or PROTEIN_ECONFIG
 * otherwise, nothing to free. */
int pq_model_fallback_points(const protein_sweep_config *cfg, uint64_t seed,
                             size_t first, size_t n, int defaults_first,
                             pq_params **out);

/* The number of points of cfg's grid, at most PQ_GRID_POINTS_MAX, for
 * method grid; 0 for the other methods and for a config whose grid cannot
 * be built (protein_optimizer_create refuses it then). */
long pq_model_grid_points(const protein_sweep_config *cfg);

/* Sets spec's target and hyperband fields from cfg's metric.target and
 * early_terminate, the bands written into bands (room for
 * PROTEIN_HYPERBAND_BANDS_MAX), which spec then points to. */
void pq_model_stopping(const protein_sweep_config *cfg, pq_sweep_spec *spec,
                       long *bands);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_QUEUE_MODEL_H */
