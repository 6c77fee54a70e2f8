/*
 * optimizer_state.h - the optimizer's state, shared by optimizer.c (its
 * life, observations, pending points and the dispatch of a suggestion)
 * and model.c (the model suggestion); not public.
 *
 * Everything inside maximizes: scores are negated for goal: minimize when
 * observed and negated back when shown. Failures never enter the cost GP.
 * Categorical parameters are one-hot. All randomness comes from one seeded
 * generator, so that a seed and a set of observations give one suggestion.
 */
#ifndef PROTEIN_OPTIMIZER_STATE_H
#define PROTEIN_OPTIMIZER_STATE_H

#include "gp.h"
#include "internal.h"

/* The cost targets' shuffled pool (model.c's target_pool). */
#define PROTEIN_TARGET_POOL_SIZE 6

struct protein_optimizer {
    const protein_sweep_config *cfg;
    const protein_gp_backend *backend;
    int use_default_first;
    size_t dim, nfree;
    long cost_dim; /* model-space index of cfg->cost_param, -1 if none */
    /* the cost parameter's warm-up coordinate (its index among the free
     * parameters), -1 if none, and the share of its unit range the
     * warm-up spans: 1, or up to its default (see warmup_point) */
    long cost_unit;
    double cost_warm_share;
    /* the defaults in model space when every parameter has one (a
     * PufferLib config's means): the warm-up's centre; NULL otherwise */
    double *default_u;
    protein_rng rng;
    protein_sobol *sobol; /* NULL when nfree is 0 or above 40 */
    long n_suggested;
    /* the best success (index into obs_*) when the last pick was made
     * while trials ran; SIZE_MAX before the first */
    size_t best_at_last_pick;

    /* successes, in observation order; scores in the internal direction */
    size_t n_obs, cap_obs;
    double *obs_values, *obs_u, *obs_score, *obs_cost;
    /* obs_u's rows by their PROTEIN_DEDUP_RADIUS cell: the success a new
     * one replaces */
    protein_cell_index obs_cells;
    /* failures (model space only) */
    size_t n_fail, cap_fail;
    /* finished trials, successes and failures, each counted once however
     * many points of its curve were observed */
    size_t n_finished;
    double spent; /* the finished trials' costs, summed */
    double *fail_u;
    /* pending points (model space) */
    size_t n_pending, cap_pending;
    double *pending_u;
    double *scratch_u; /* dim doubles (dim >= nfree, so also a z vector) */

    void *score_state, *cost_state;
    protein_gp_params score_params, cost_params;
    protein_cost_model stop;
    double pool[PROTEIN_TARGET_POOL_SIZE];
    size_t pool_left;

    protein_grid grid; /* method grid only */
};

/* Resets info to describe a suggestion from source, with nothing
 * predicted and no time spent. */
void protein_suggestion_info_reset(protein_suggestion_info *info,
                                   protein_suggestion_source source);

/* The GPs' initial hyperparameters (gp.h) in *p, for the score GP when
 * score is non-zero; PROTEIN_ENOMEM. The caller frees *p with
 * protein_gp_params_free. */
int protein_model_params_init(const protein_optimizer *opt,
                              protein_gp_params *p, int score);

/* One model suggestion (the top of model.c): values receives
 * cfg->n_params values, info what the models predicted there. Returns
 * PROTEIN_OK, PROTEIN_ENOMEM, or another status when the models fail
 * (the caller then falls back to a warm-up point). */
int protein_model_suggest(protein_optimizer *opt, double *values,
                          protein_suggestion_info *info);

/* Up to n model suggestions from one fit, each added as a pending point;
 * values holds n rows of cfg->n_params, infos (may be NULL) n entries,
 * *made how many were made. PROTEIN_OK when at least one was, else as
 * protein_model_suggest. */
int protein_model_batch(protein_optimizer *opt, size_t n, double *values,
                        protein_suggestion_info *infos, size_t *made);

#endif
