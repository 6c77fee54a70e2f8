#include "config.h"

/*
 * grid.c - method: grid. Categorical parameters contribute all their
 * choices, constants their value; int_uniform and q_uniform parameters
 * every value W&B's grid gives them (wandb/sweeps grid_search.py: every
 * integer of [min, max]; numpy's arange(min, max, q), max excluded),
 * other numeric parameters (which W&B's grid refuses)
 * PROTEIN_GRID_POINTS points evenly spaced in model space (u = -1, -0.5,
 * 0, 0.5, 1; repeats after integer rounding removed). Points are
 * enumerated with the last parameter varying fastest.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define PROTEIN_GRID_POINTS 5
/* The most values one parameter may give the grid */
#define PROTEIN_GRID_AXIS_MAX 1000000

/* The number of values W&B's grid gives p (int_uniform: max - min + 1;
 * q_uniform: ceil((max - min) / q), as numpy's arange counts), 0 when it
 * is not one of those two, or more than PROTEIN_GRID_AXIS_MAX + 1 when
 * there are too many. */
static double wandb_axis_len(const protein_param *p)
{
    if (p->kind != PROTEIN_PARAM_LINEAR)
        return 0;
    if (p->q > 0)
        return fmax(ceil((p->max - p->min) / p->q), 0.0);
    if (p->is_integer)
        return floor(p->max) - ceil(p->min) + 1;
    return 0;
}

/* Refuses a parameter with more grid values than a grid enumerates; see
 * internal.h. */
int protein_grid_check(const protein_sweep_config *cfg, protein_error *err)
{
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        const double len = wandb_axis_len(p);
        char msg[160];

        if (len <= PROTEIN_GRID_AXIS_MAX)
            continue;
        snprintf(msg, sizeof msg,
                 "grid: %.0f values, more than a grid enumerates (%d); "
                 "narrow min and max, raise q, or use method: random",
                 len, PROTEIN_GRID_AXIS_MAX);
        protein_error_set(err, cfg, p->name, msg);
        if (err != NULL)
            err->line = p->line;
        return PROTEIN_ECONFIG;
    }
    return PROTEIN_OK;
}

/* Builds the axes of cfg's grid; see internal.h. */
int protein_grid_init(protein_grid *grid, const protein_sweep_config *cfg,
                      protein_error *err)
{
    const size_t dim = protein_space_dim(cfg);
    double *u = NULL, *vals = NULL;
    int rc = protein_grid_check(cfg, err);

    if (rc != PROTEIN_OK)
        return rc;
    rc = PROTEIN_ENOMEM;

    grid->n_params = cfg->n_params;
    grid->len = calloc(cfg->n_params ? cfg->n_params : 1, sizeof(*grid->len));
    grid->axis = calloc(cfg->n_params ? cfg->n_params : 1, sizeof(*grid->axis));
    u = calloc(dim ? dim : 1, sizeof(*u));
    vals = calloc(cfg->n_params ? cfg->n_params : 1, sizeof(*vals));
    if (grid->len == NULL || grid->axis == NULL || u == NULL || vals == NULL)
        goto fail;
    grid->total = 1;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        const double wandb_len = wandb_axis_len(p);
        size_t n = p->kind == PROTEIN_PARAM_CATEGORICAL ? p->n_values
                   : p->kind == PROTEIN_PARAM_CONSTANT  ? 1
                   : wandb_len > 0 ? (size_t)fmin(wandb_len, SIZE_MAX / 2)
                                   : PROTEIN_GRID_POINTS;
        size_t off = protein_space_offset(cfg, i);
        grid->axis[i] = malloc(n * sizeof(double));
        if (grid->axis[i] == NULL)
            goto fail;
        for (size_t k = 0; k < n; k++) {
            double v;
            if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
                v = (double)k;
            } else if (p->kind == PROTEIN_PARAM_CONSTANT) {
                protein_space_denormalize(cfg, u, vals);
                v = vals[i];
            } else if (wandb_len > 0) {
                v = p->q > 0 ? p->min + (double)k * p->q
                             : ceil(p->min) + (double)k;
            } else {
                u[off] = -1.0 + 2.0 * (double)k / (PROTEIN_GRID_POINTS - 1);
                protein_space_denormalize(cfg, u, vals);
                v = vals[i];
            }
            if (grid->len[i] == 0 || grid->axis[i][grid->len[i] - 1] != v)
                grid->axis[i][grid->len[i]++] = v;
        }
        if (grid->total > SIZE_MAX / grid->len[i]) {
            protein_error_set(
                err, cfg, p->name,
                "grid: the number of grid points overflows; use method: "
                "protein or random for a space this large");
            rc = PROTEIN_ECONFIG;
            goto fail;
        }
        grid->total *= grid->len[i];
    }
    rc = PROTEIN_OK;
fail:
    free(u);
    free(vals);
    return rc;
}

/* The next grid point; see internal.h. */
int protein_grid_next(protein_grid *grid, double *values)
{
    size_t idx;
    if (grid->next >= grid->total)
        return PROTEIN_EXHAUSTED;
    idx = grid->next++;
    for (size_t i = grid->n_params; i-- > 0;) {
        values[i] = grid->axis[i][idx % grid->len[i]];
        idx /= grid->len[i];
    }
    return PROTEIN_OK;
}

/* Frees what protein_grid_init allocated; see internal.h. */
void protein_grid_free(protein_grid *grid)
{
    if (grid->axis != NULL)
        for (size_t i = 0; i < grid->n_params; i++)
            free(grid->axis[i]);
    free(grid->axis);
    free(grid->len);
    grid->axis = NULL;
    grid->len = NULL;
}
