#include "config.h"

/*
 * optimizer.c - the Protein optimizer's life and entry points: creating
 * it, observations and pending points, and each suggestion's source: the
 * config's defaults, the warm-up, or a model suggestion (model.c, the
 * research note's sections 2-4); methods random and grid. docs/algorithm.md
 * says what each step does and where it departs from PufferLib; the
 * measurements behind each choice are in docs/benchmarks.md ("Choices
 * behind the optimizer").
 *
 * Warm-up. Scrambled Sobol (protein_sobol) over the non-constant
 * parameters. GSL's Sobol tables stop at 40 dimensions; beyond that the
 * warm-up uses seeded uniform random points, which lose only the
 * low-discrepancy property.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optimizer_state.h"

/* When every parameter has a default (a PufferLib config's means), the
 * warm-up searches around it, as Protein starts from its centre: each
 * Sobol point keeps WARMUP_SPREAD of its offset from the defaults, and
 * each categorical its Sobol choice with that probability (else the
 * default's). On the peer bench's rl objective with PufferLib's centre as
 * defaults, 30 seeds: 87.9 -> 94.8 sequentially, 74.9 -> 82.0 with 16
 * pending (docs/benchmarks.md, eleventh round). */
#define WARMUP_SPREAD 0.5

/* Squared Euclidean distance of two d-vectors. */
static double dist2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

/* Makes room in *p for `need` rows of width doubles (width 0 counts as 1),
 * doubling *cap from 64; the contents are kept. PROTEIN_OK, or
 * PROTEIN_ENOMEM with *p and *cap unchanged. */
static int grow(double **p, size_t *cap, size_t need, size_t width)
{
    size_t ncap;
    double *np;
    if (need <= *cap)
        return PROTEIN_OK;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    np = realloc(*p, ncap * (width ? width : 1) * sizeof(double));
    if (np == NULL)
        return PROTEIN_ENOMEM;
    *p = np;
    *cap = ncap;
    return PROTEIN_OK;
}

/* Makes room for `need` observations in all four observation arrays, which
 * share one capacity. PROTEIN_OK, or PROTEIN_ENOMEM with the arrays still
 * valid (some may have grown). */
static int reserve_obs(protein_optimizer *opt, size_t need)
{
    size_t cap;
    if (need <= opt->cap_obs)
        return PROTEIN_OK;
    cap = opt->cap_obs;
    if (grow(&opt->obs_values, &cap, need, opt->cfg->n_params))
        return PROTEIN_ENOMEM;
    cap = opt->cap_obs;
    if (grow(&opt->obs_u, &cap, need, opt->dim))
        return PROTEIN_ENOMEM;
    cap = opt->cap_obs;
    if (grow(&opt->obs_score, &cap, need, 1))
        return PROTEIN_ENOMEM;
    cap = opt->cap_obs;
    if (grow(&opt->obs_cost, &cap, need, 1))
        return PROTEIN_ENOMEM;
    opt->cap_obs = cap;
    return PROTEIN_OK;
}

/* Writes the config's defaults (constants as themselves); returns 0, with
 * values partly written, when some parameter has no default. */
static int defaults_point(const protein_optimizer *opt, double *values)
{
    const protein_sweep_config *cfg = opt->cfg;
    protein_space_denormalize(cfg, opt->scratch_u, values); /* constants */
    for (size_t i = 0; i < cfg->n_params; i++) {
        if (cfg->params[i].kind == PROTEIN_PARAM_CONSTANT)
            continue;
        if (!cfg->params[i].has_default)
            return 0;
        values[i] = cfg->params[i].default_value;
    }
    return 1;
}

/* Sets opt->default_u when every parameter has a default; PROTEIN_ENOMEM
 * when memory runs out. */
static int init_default_centre(protein_optimizer *opt)
{
    double *values =
        malloc((opt->cfg->n_params ? opt->cfg->n_params : 1) * sizeof(double));
    int rc = PROTEIN_OK;

    if (values == NULL)
        return PROTEIN_ENOMEM;
    if (defaults_point(opt, values)) {
        opt->default_u = malloc(opt->dim * sizeof(double));
        if (opt->default_u == NULL)
            rc = PROTEIN_ENOMEM;
        else
            protein_space_normalize(opt->cfg, values, opt->default_u);
    }
    free(values);
    return rc;
}

/* Sets opt's cost_dim, cost_unit and cost_warm_share (see
 * optimizer_state.h) from cfg->cost_param: -1, -1 and 1 when there is
 * none, or it names no parameter, a categorical or a constant. */
static void locate_cost_param(protein_optimizer *opt)
{
    const protein_sweep_config *cfg = opt->cfg;
    const protein_param *cost;
    int i;

    opt->cost_dim = -1;
    opt->cost_unit = -1;
    opt->cost_warm_share = 1.0;
    if (cfg->cost_param == NULL)
        return;
    i = protein_config_find_param(cfg, cfg->cost_param);
    if (i < 0 || cfg->params[i].kind == PROTEIN_PARAM_CATEGORICAL ||
        cfg->params[i].kind == PROTEIN_PARAM_CONSTANT)
        return;
    cost = &cfg->params[i];
    opt->cost_dim = (long)protein_space_offset(cfg, (size_t)i);
    opt->cost_unit = 0;
    for (int k = 0; k < i; k++)
        opt->cost_unit += cfg->params[k].kind != PROTEIN_PARAM_CONSTANT;
    if (cost->has_default) {
        double top = protein_param_normalize(cost, cost->default_value);
        opt->cost_warm_share = fmin(fmax((top + 1) / 2, 0), 1);
    }
}

/* Gives opt (method protein, dim > 0) its score and cost GPs: initial
 * hyperparameters and a backend state each. PROTEIN_OK, or an error code
 * (err says which backend failed to start); what was made is freed with
 * opt. */
static int start_models(protein_optimizer *opt, protein_error *err)
{
    char errbuf[256] = "", msg[512];
    int rc;

    rc = protein_model_params_init(opt, &opt->score_params, 1);
    if (rc == PROTEIN_OK)
        rc = protein_model_params_init(opt, &opt->cost_params, 0);
    if (rc != PROTEIN_OK)
        return rc;
    rc = opt->backend->create(&opt->score_state, opt->dim, errbuf,
                              sizeof(errbuf));
    if (rc == PROTEIN_OK)
        rc = opt->backend->create(&opt->cost_state, opt->dim, errbuf,
                                  sizeof(errbuf));
    if (rc != PROTEIN_OK) {
        snprintf(msg, sizeof(msg), "GP backend \"%s\" failed to start: %s",
                 opt->backend->name, errbuf);
        protein_error_set(err, opt->cfg, NULL, msg);
    }
    return rc;
}

/* Creates an optimizer; see protein.h. A cost_param that names no numeric
 * parameter is ignored (the config parser rejects it). Fails with
 * PROTEIN_EINVAL for NULL arguments, PROTEIN_ECONFIG (err names the
 * parameter) for a categorical parameter without choices or a grid too
 * large to count, PROTEIN_EBACKEND (err says why) when the GP backend
 * cannot start, PROTEIN_ENOMEM. */
int protein_optimizer_create(const protein_sweep_config *cfg,
                             const protein_optimizer_options *opts,
                             protein_optimizer **out, protein_error *err)
{
    protein_optimizer *opt;
    uint64_t seed;
    int rc = PROTEIN_ENOMEM;

    if (cfg == NULL || out == NULL ||
        (cfg->n_params > 0 && cfg->params == NULL)) {
        protein_error_set(err, cfg, NULL,
                          "protein_optimizer_create: NULL argument");
        return PROTEIN_EINVAL;
    }
    for (size_t i = 0; i < cfg->n_params; i++) {
        if (cfg->params[i].kind == PROTEIN_PARAM_CATEGORICAL &&
            cfg->params[i].n_values == 0) {
            protein_error_set(
                err, cfg, cfg->params[i].name,
                "categorical parameter has no values; give at least one");
            return PROTEIN_ECONFIG;
        }
    }
    opt = calloc(1, sizeof(*opt));
    if (opt == NULL)
        return PROTEIN_ENOMEM;
    opt->cfg = cfg;
    opt->backend = opts != NULL && opts->backend != NULL
                       ? opts->backend
                       : &protein_gp_backend_cpu;
    opt->use_default_first = opts != NULL && opts->use_default_first;
    opt->dim = protein_space_dim(cfg);
    opt->nfree = protein_space_free_params(cfg);
    locate_cost_param(opt);
    if (cfg->has_seed) {
        seed = cfg->seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
    }
    protein_rng_seed(&opt->rng, seed);
    opt->best_at_last_pick = SIZE_MAX;
    protein_cell_index_init(&opt->obs_cells, PROTEIN_DEDUP_RADIUS);
    opt->scratch_u = calloc(opt->dim ? opt->dim : 1, sizeof(double));
    if (opt->scratch_u == NULL)
        goto fail;
    if (cfg->method == PROTEIN_METHOD_PROTEIN && opt->dim > 0) {
        rc = init_default_centre(opt);
        if (rc != PROTEIN_OK)
            goto fail;
    }
    if (cfg->method == PROTEIN_METHOD_GRID) {
        rc = protein_grid_init(&opt->grid, cfg, err);
        if (rc != PROTEIN_OK)
            goto fail;
    }
    if (cfg->method == PROTEIN_METHOD_PROTEIN && opt->nfree > 0 &&
        opt->nfree <= PROTEIN_SOBOL_MAX_DIM) {
        rc = protein_sobol_create(opt->nfree, protein_rng_next(&opt->rng),
                                  &opt->sobol);
        if (rc != PROTEIN_OK)
            goto fail;
    }
    if (cfg->method == PROTEIN_METHOD_PROTEIN && opt->dim > 0) {
        rc = start_models(opt, err);
        if (rc != PROTEIN_OK)
            goto fail;
    }
    *out = opt;
    return PROTEIN_OK;
fail:
    protein_optimizer_free(opt);
    return rc;
}

/* Frees opt and everything it owns; NULL is allowed. */
void protein_optimizer_free(protein_optimizer *opt)
{
    if (opt == NULL)
        return;
    if (opt->score_state != NULL)
        opt->backend->destroy(opt->score_state);
    if (opt->cost_state != NULL)
        opt->backend->destroy(opt->cost_state);
    protein_gp_params_free(&opt->score_params);
    protein_gp_params_free(&opt->cost_params);
    protein_sobol_free(opt->sobol);
    protein_grid_free(&opt->grid);
    free(opt->obs_values);
    free(opt->obs_u);
    free(opt->obs_score);
    free(opt->obs_cost);
    protein_cell_index_free(&opt->obs_cells);
    free(opt->fail_u);
    free(opt->pending_u);
    free(opt->scratch_u);
    free(opt->default_u);
    free(opt);
}

/* The size of opt's grid; see protein.h. */
size_t protein_optimizer_grid_size(const protein_optimizer *opt)
{
    return opt->cfg->method == PROTEIN_METHOD_GRID ? opt->grid.total : 0;
}

/* Resets info; see optimizer_state.h. */
void protein_suggestion_info_reset(protein_suggestion_info *info,
                                   protein_suggestion_source source)
{
    info->source = source;
    info->predicted_score = NAN;
    info->predicted_cost = NAN;
    info->target_cost = NAN;
    info->n_candidates = 0;
    info->local = 0;
    info->fit_seconds = 0;
    info->predict_seconds = 0;
}

/* A uniform point of the unit cube of the free parameters, in
 * opt->scratch_u (dim >= nfree), which it returns. */
static double *uniform_unit(protein_optimizer *opt)
{
    for (size_t j = 0; j < opt->nfree; j++)
        opt->scratch_u[j] = protein_rng_uniform(&opt->rng);
    return opt->scratch_u;
}

/* A uniform point in parameter space (method random). */
static void random_point(protein_optimizer *opt, double *values)
{
    protein_space_from_unit(opt->cfg, uniform_unit(opt), values);
}

/* Pulls a warm-up point toward the config's defaults (opt->default_u):
 * each numeric model coordinate to the default plus WARMUP_SPREAD of its
 * offset from it, each categorical back to its default choice with
 * probability 1 - WARMUP_SPREAD. */
static void pull_to_defaults(protein_optimizer *opt, double *values)
{
    const protein_sweep_config *cfg = opt->cfg;
    const double *c = opt->default_u;
    double *u = opt->scratch_u;

    protein_space_normalize(cfg, values, u);
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        size_t off = protein_space_offset(cfg, i);
        if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
            if (!(protein_rng_uniform(&opt->rng) < WARMUP_SPREAD))
                memcpy(u + off, c + off, p->n_values * sizeof(double));
        } else if (p->kind != PROTEIN_PARAM_CONSTANT) {
            u[off] = c[off] + WARMUP_SPREAD * (u[off] - c[off]);
        }
    }
    protein_space_denormalize(cfg, u, values);
}

/* A warm-up point: scrambled Sobol in parameter space (uniform beyond 40
 * parameters), the cost parameter included; when it has a default
 * (PufferLib's `mean`), the warm-up keeps it between its minimum and that
 * default, so that no warm-up run is longer than the run the user would
 * make. PufferLib forces it near its cheap end (u = -0.8); on the peer
 * bench's RL objective such runs scored near 0 whatever the other
 * parameters, and a 16-wide sweep then kept to cheap runs and did worse
 * than random search (docs/algorithm.md). When every parameter has a
 * default, the point is then pulled toward them (pull_to_defaults). */
static void warmup_point(protein_optimizer *opt, double *values)
{
    double z[PROTEIN_SOBOL_MAX_DIM], *unit = z;

    if (opt->sobol != NULL)
        protein_sobol_next(opt->sobol, z);
    else
        unit = uniform_unit(opt);
    if (opt->cost_unit >= 0)
        unit[opt->cost_unit] *= opt->cost_warm_share;
    protein_space_from_unit(opt->cfg, unit, values);
    if (opt->default_u != NULL)
        pull_to_defaults(opt, values);
}

/* Whether suggestion number k (1-based) of method protein is a warm-up
 * point: the first num_random_samples, and any while there is no success
 * or nothing to model. */
static int in_warmup(const protein_optimizer *opt, long k)
{
    long warmup =
        opt->cfg->num_random_samples > 0 ? opt->cfg->num_random_samples : 0;
    return k <= warmup || opt->n_obs == 0 || opt->dim == 0;
}

/* Next suggestion; see protein.h. Method protein: the config defaults
 * first when asked for and all given, Sobol warm-up for the first
 * num_random_samples suggestions (and while there is no success), then
 * the model; a model failure other than PROTEIN_ENOMEM gives a warm-up
 * point with info->source = PROTEIN_SOURCE_SOBOL. The budget (max_trials)
 * is the queue's job, not enforced here. Returns PROTEIN_EINVAL for NULL
 * opt or values, PROTEIN_EXHAUSTED after a grid's last point. */
int protein_suggest(protein_optimizer *opt, double *values,
                    protein_suggestion_info *info)
{
    protein_suggestion_info dummy;
    int rc;

    if (opt == NULL || values == NULL)
        return PROTEIN_EINVAL;
    if (info == NULL)
        info = &dummy;
    switch (opt->cfg->method) {
    case PROTEIN_METHOD_RANDOM:
        protein_suggestion_info_reset(info, PROTEIN_SOURCE_RANDOM);
        random_point(opt, values);
        return PROTEIN_OK;
    case PROTEIN_METHOD_GRID:
        protein_suggestion_info_reset(info, PROTEIN_SOURCE_GRID);
        return protein_grid_next(&opt->grid, values);
    default: break;
    }
    opt->n_suggested++;
    if (opt->use_default_first && opt->n_suggested == 1 &&
        defaults_point(opt, values)) {
        protein_suggestion_info_reset(info, PROTEIN_SOURCE_DEFAULT);
        return PROTEIN_OK;
    }
    protein_suggestion_info_reset(info, PROTEIN_SOURCE_SOBOL);
    if (in_warmup(opt, opt->n_suggested)) {
        warmup_point(opt, values);
        return PROTEIN_OK;
    }
    rc = protein_model_suggest(opt, values, info);
    if (rc == PROTEIN_ENOMEM)
        return rc;
    if (rc != PROTEIN_OK) {
        double fit = info->fit_seconds, pred = info->predict_seconds;
        protein_suggestion_info_reset(info, PROTEIN_SOURCE_SOBOL);
        info->fit_seconds = fit;
        info->predict_seconds = pred;
        warmup_point(opt, values);
    }
    return PROTEIN_OK;
}

/* Drops the warm-up points handed out before a restart; see protein.h. */
long protein_skip_handed_out(protein_optimizer *opt, long n, long max)
{
    double *values;
    long cap = n, i;

    if (opt == NULL || n <= 0)
        return 0;
    if (opt->cfg->method == PROTEIN_METHOD_PROTEIN &&
        cap > opt->cfg->num_random_samples)
        cap = opt->cfg->num_random_samples;
    if (cap > max)
        cap = max;
    values =
        calloc(opt->cfg->n_params ? opt->cfg->n_params : 1, sizeof(*values));
    if (values == NULL)
        return 0;
    for (i = 0; i < cap; i++)
        if (protein_suggest(opt, values, NULL) != PROTEIN_OK)
            break;
    free(values);
    return i;
}

/* Suggestions in a batch; see protein.h. Warm-up, default and non-model
 * methods go one at a time through protein_suggest; model suggestions
 * come from protein_model_batch, one fit for the rest of the batch. A failing
 * model gives a warm-up point, as in protein_suggest. */
int protein_suggest_batch(protein_optimizer *opt, size_t n, double *values,
                          protein_suggestion_info *infos, size_t *made)
{
    protein_suggestion_info dummy;
    size_t k;
    int rc;

    if (made != NULL)
        *made = 0;
    if (opt == NULL || values == NULL || made == NULL)
        return PROTEIN_EINVAL;
    while (*made < n) {
        double *v = values + *made * opt->cfg->n_params;
        protein_suggestion_info *info = infos ? &infos[*made] : &dummy;
        int model = opt->cfg->method == PROTEIN_METHOD_PROTEIN &&
                    !(opt->use_default_first && opt->n_suggested == 0) &&
                    !in_warmup(opt, opt->n_suggested + 1);

        if (model) {
            rc =
                protein_model_batch(opt, n - *made, v, infos ? info : NULL, &k);
            *made += k;
            if (rc == PROTEIN_ENOMEM || k > 0) {
                if (rc != PROTEIN_OK)
                    return rc;
                continue;
            }
            protein_suggestion_info_reset(info, PROTEIN_SOURCE_SOBOL);
            warmup_point(opt, v);
        } else {
            rc = protein_suggest(opt, v, info);
            if (rc == PROTEIN_EXHAUSTED)
                return *made > 0 ? PROTEIN_OK : rc;
            if (rc != PROTEIN_OK)
                return rc;
        }
        rc = protein_add_pending(opt, v);
        if (rc != PROTEIN_OK)
            return rc;
        (*made)++;
    }
    return PROTEIN_OK;
}

/* 1 when all of the config's n_params values are finite. */
static int values_finite(const protein_optimizer *opt, const double *values)
{
    for (size_t i = 0; i < opt->cfg->n_params; i++)
        if (!isfinite(values[i]))
            return 0;
    return 1;
}

/* Removes the first pending point within PROTEIN_DEDUP_RADIUS of u (model
 * coordinates), the one a finished trial was handed out as; none there is
 * no change. */
static void drop_pending_at(protein_optimizer *opt, const double *u)
{
    const double r2 = PROTEIN_DEDUP_RADIUS * PROTEIN_DEDUP_RADIUS;
    for (size_t p = 0; p < opt->n_pending; p++) {
        if (dist2(opt->pending_u + p * opt->dim, u, opt->dim) <= r2) {
            memmove(opt->pending_u + p * opt->dim,
                    opt->pending_u + (p + 1) * opt->dim,
                    (opt->n_pending - p - 1) * opt->dim * sizeof(double));
            opt->n_pending--;
            return;
        }
    }
}

/* Records one observed point; see protein_observe in protein.h, which
 * also counts it as a finished trial. As Protein, a success at the place
 * of an earlier one replaces it: Protein's test is a distance under 1e-6
 * in model space, ours the same cell of side 1e-6 (obs_cells), found in
 * constant time where the distance needed a scan of every success; a
 * success whose cost parameter sits at or below its minimum (u <= -1) is
 * not kept (it says nothing about the cost axis); a non-finite score
 * counts as a failure. A pending point at the same place is removed. Returns
 * PROTEIN_EINVAL for NULL or non-finite values or, on success, a negative
 * or non-finite cost; PROTEIN_ENOMEM. */
int protein_observe_point(protein_optimizer *opt, const double *values,
                          double score, double cost, protein_outcome outcome)
{
    const size_t d = opt != NULL ? opt->dim : 0;
    double *u;
    size_t i;

    if (opt == NULL || values == NULL || !values_finite(opt, values))
        return PROTEIN_EINVAL;
    u = opt->scratch_u;
    protein_space_normalize(opt->cfg, values, u);
    if (outcome == PROTEIN_OUTCOME_SUCCESS && isfinite(score) &&
        !(cost >= 0 && isfinite(cost)))
        return PROTEIN_EINVAL;
    drop_pending_at(opt, u);
    if (outcome != PROTEIN_OUTCOME_SUCCESS || !isfinite(score)) {
        if (grow(&opt->fail_u, &opt->cap_fail, opt->n_fail + 1, d))
            return PROTEIN_ENOMEM;
        memcpy(opt->fail_u + opt->n_fail++ * d, u, d * sizeof(double));
        return PROTEIN_OK;
    }
    assert(opt->obs_cells.n_rows == opt->n_obs);
    i = protein_cell_index_find(&opt->obs_cells, opt->obs_u, d, u);
    if (i == SIZE_MAX) {
        if (opt->cost_dim >= 0 && u[opt->cost_dim] <= -1.0)
            return PROTEIN_OK;
        if (reserve_obs(opt, opt->n_obs + 1) != PROTEIN_OK)
            return PROTEIN_ENOMEM;
        i = opt->n_obs;
        memcpy(opt->obs_u + i * d, u, d * sizeof(double));
        if (protein_cell_index_add(&opt->obs_cells, opt->obs_u, d) !=
            PROTEIN_OK)
            return PROTEIN_ENOMEM;
        opt->n_obs++;
    }
    memcpy(opt->obs_values + i * opt->cfg->n_params, values,
           opt->cfg->n_params * sizeof(double));
    memcpy(opt->obs_u + i * d, u, d * sizeof(double));
    opt->obs_score[i] = opt->cfg->minimize ? -score : score;
    opt->obs_cost[i] = fmax(cost, 1e-6);
    return PROTEIN_OK;
}

/* Records a finished trial; see protein.h. */
int protein_observe(protein_optimizer *opt, const double *values, double score,
                    double cost, protein_outcome outcome)
{
    int rc = protein_observe_point(opt, values, score, cost, outcome);

    if (rc == PROTEIN_OK) {
        opt->n_finished++;
        opt->spent += cost > 0 ? cost : 0;
    }
    return rc;
}

/* Marks a pending point; see protein.h. PROTEIN_EINVAL for NULL or
 * non-finite values, PROTEIN_ENOMEM. */
int protein_add_pending(protein_optimizer *opt, const double *values)
{
    if (opt == NULL || values == NULL || !values_finite(opt, values))
        return PROTEIN_EINVAL;
    if (grow(&opt->pending_u, &opt->cap_pending, opt->n_pending + 1, opt->dim))
        return PROTEIN_ENOMEM;
    protein_space_normalize(opt->cfg, values,
                            opt->pending_u + opt->n_pending * opt->dim);
    opt->n_pending++;
    return PROTEIN_OK;
}

/* Forgets all pending points. */
void protein_clear_pending(protein_optimizer *opt)
{
    if (opt != NULL)
        opt->n_pending = 0;
}

/* Number of successes kept (replacements and dropped ones not counted). */
size_t protein_num_observations(const protein_optimizer *opt)
{
    return opt != NULL ? opt->n_obs : 0;
}

/* Number of failures recorded. */
size_t protein_num_failures(const protein_optimizer *opt)
{
    return opt != NULL ? opt->n_fail : 0;
}

/* Number of pending points. */
size_t protein_num_pending(const protein_optimizer *opt)
{
    return opt != NULL ? opt->n_pending : 0;
}

/* Contract in protein.h. */
size_t protein_num_finished(const protein_optimizer *opt)
{
    return opt != NULL ? opt->n_finished : 0;
}

/* Copies success i (observation order); see protein.h. */
int protein_get_observation(const protein_optimizer *opt, size_t i,
                            double *values, double *score, double *cost)
{
    if (opt == NULL || i >= opt->n_obs)
        return PROTEIN_EINVAL;
    if (values != NULL)
        memcpy(values, opt->obs_values + i * opt->cfg->n_params,
               opt->cfg->n_params * sizeof(double));
    if (score != NULL)
        *score = opt->cfg->minimize ? -opt->obs_score[i] : opt->obs_score[i];
    if (cost != NULL)
        *cost = opt->obs_cost[i];
    return PROTEIN_OK;
}

/* Unpruned Pareto front; see protein.h. */
int protein_pareto_front(const protein_optimizer *opt, size_t *indices,
                         size_t max, size_t *count)
{
    size_t *front, nf = 0;
    int rc;

    if (opt == NULL || count == NULL)
        return PROTEIN_EINVAL;
    *count = 0;
    if (opt->n_obs == 0)
        return PROTEIN_OK;
    front = malloc(opt->n_obs * sizeof(*front));
    if (front == NULL)
        return PROTEIN_ENOMEM;
    rc = protein_pareto_compute(opt->obs_score, opt->obs_cost, opt->n_obs,
                                front, &nf);
    if (rc == PROTEIN_OK) {
        if (indices != NULL)
            memcpy(indices, front, (nf < max ? nf : max) * sizeof(*front));
        *count = nf;
    }
    free(front);
    return rc;
}
