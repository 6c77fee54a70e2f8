#include "config.h"

/*
 * model.c - the model suggestion of Protein (research note sections
 * 2-4): the score and cost GPs, Pareto centers, perturbed candidates and
 * the cost-aware acquisition, one pick or a batch of picks from one fit;
 * and the early-stop model, fitted with the Pareto front. optimizer.c
 * decides when a suggestion comes from here. docs/algorithm.md says what
 * each step does and where it departs from PufferLib; the measurements
 * behind each choice are in docs/benchmarks.md ("Choices behind the
 * optimizer").
 *
 * Cost target. t = (1 + expansion_rate) r, r in [0, 1], asks for t > 1 for
 * runs beyond the longest seen. Only a cost parameter can make runs
 * longer, so without one t stays in [0, 1]. The triangle
 * 1 - |t - c| / max(1, max_k |t - c_k|) is Protein's 1 - |t - c| whenever
 * every candidate lies within 1 of the target; otherwise it is rescaled so
 * that it never turns negative (a negative weight would reward a low
 * predicted score).
 *
 * Candidates. A perturbation that leaves the box is reflected back at the
 * bound it crossed rather than clipped: clipping puts a finite share of the
 * candidates exactly on the bound, where the GP's linear kernel tends to
 * extrapolate highest.
 *
 * Acquisition. log EI of the score GP (its variance rescaled to the prior
 * variance of the box centre) plus the log of Protein's cost triangle,
 * less a cooling exponent times the log of the predicted cost (EI per
 * unit cost early in a sweep with a trial budget, plain EI later; with no
 * trial in flight, the cost over a rising ceiling instead);
 * candidates from the Pareto centers, from the whole space and from a
 * local refinement of the best ones (docs/algorithm.md).
 *
 * Pending trials. A kriging believer: the score GP is refactorized with
 * each pending point added at its predicted score, which lowers the
 * variance and so the expected improvement around it; a local penalty
 * log(1 - exp(-r^2 / (2 rho^2))), r^2 = mean_j ((x_j - p_j) / s_j)^2 to
 * the nearest pending point p (s_j the perturbation half-width of
 * dimension j, rho = P^(-1/d) / 2 for P pending points in d model
 * dimensions) keeps a suggestion from landing on one. The pending points
 * are also search centers: a batch would otherwise lag the in-flight
 * frontier by its whole width, and along a cost parameter whose
 * perturbation is small the sweep could extend the cost only once per
 * batch. Every other pick while trials run is local, and so is the
 * first pick after a new best success: only candidates near the best
 * success compete. Fifteen picks made from the same few
 * observations all followed the score GP's extrapolation (its linear
 * kernel's trend) away from the data, and with no result back in
 * between, a 16-wide sweep spent its second and third batches no better
 * than random (BBOB ellipsoid d10, Rosenbrock d5); the local picks
 * improve on the incumbent while the others explore. A sequential sweep
 * steps from a new best at once; a wide one, with its alternation, left
 * half of its new bests to an exploring pick first. The cost parameter
 * is left out of the distance, so a local pick can still extend the cost
 * of the best trial.
 */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer_state.h"
#include "protein_clock.h"

#define TOP_K 5
#define MAX_CANDIDATES 65536
#define PREDICT_BATCH 2048
#define RESET_FREQUENCY 50
#define FAILURE_IMPUTE_LIMIT 100
#define COST_QUANTILE 0.97
/* The score GP's targets span [0, SCORE_TARGET_SPAN] and its inputs are
 * model-space points times SCORE_INPUT_SCALE (docs/algorithm.md). */
#define SCORE_TARGET_SPAN 3.0
#define SCORE_INPUT_SCALE 0.25
/* Added to the incumbent to make the EI threshold, in score-target units
 * (docs/algorithm.md): without it the EI of re-sampling the incumbent
 * stayed ahead, and sequential sweeps spent their last third on one
 * peak. */
#define EI_MARGIN 0.05
#define GLOBAL_CANDIDATES 1024
/* Loss evaluations per refit (each a Cholesky of n rows): gp.h's default
 * up to FIT_FULL_BUDGET_ROWS rows, then fewer in proportion to 1/n^3, at
 * least FIT_MIN_BUDGET; warm starts carry the fit on across refits. */
#define FIT_FULL_BUDGET 12
#define FIT_FULL_BUDGET_ROWS 256
#define FIT_MIN_BUDGET 3
#define CATEGORY_JUMP 0.25
#define REFINE_STARTS 4
#define REFINE_ROUNDS 3
#define REFINE_POINTS 64 /* per start and round, at most */
/* Flops (n^2 per point for n training rows) spent on predictive variances
 * beyond the posterior means: the candidates' and the refinement's. Above
 * the first budget only the best candidates by a proxy get a variance. */
#define VARIANCE_FLOPS 1.5e8
#define REFINE_FLOPS 1e8
#define REFINE_MIN_POINTS 4
#define PROXY_SAMPLE 64
/* Subtracted from the log acquisition of a candidate predicted to cost
 * more than max_suggestion_cost: it ranks below every affordable one. */
#define OVER_BUDGET_PENALTY 1e6
/* Cost cooling: with a trial budget, the acquisition divides EI by the
 * predicted cost to the power COOL_EXPONENT right after the warm-up,
 * falling linearly to 0 once COOL_UNTIL of the budget's model trials are
 * spent (docs/algorithm.md). A suggestion made with no trial in flight
 * (and a warm-up that spanned the cost range; see cooling()) divides EI
 * by the predicted cost over a ceiling instead, COOL_EXPONENT throughout:
 * no reward for a run cheaper than the ceiling, which rises from
 * CEILING_START to CEILING_END of the log-cost range (cheapest success to
 * the 0.97 quantile) and lifts at COOL_UNTIL. EI per cost^4 sent the
 * first model trials of sequential sweeps to the cheapest runs, which on
 * a cost axis like timesteps score near 0 whatever the other parameters. */
#define COOL_EXPONENT 4.0
#define COOL_UNTIL 0.7
#define CEILING_START 0.4
#define CEILING_END 0.8
/* Spend cap: a suggestion made with no trial in flight, in a sweep with a
 * cost parameter, ranks a candidate predicted to cost more than
 * SPEND_SHARE of what the finished trials cost in all below every other,
 * until the cooling ends (never without a trial budget). The sweep's
 * spend grows by at most that share per trial, so whatever budget it is
 * stopped at, it has found what cheap runs can find before it pays for
 * long ones; without the cap each new best run was followed by one a
 * little longer and a little better, the budget went on a chain of ever
 * longer runs of one configuration, and the other parameters were not
 * explored (docs/benchmarks.md, fourteenth round). */
#define SPEND_SHARE 0.1
/* While trials run, every LOCAL_EVERY-th pick is local, and so is the
 * first pick after a new best success: only candidates within
 * LOCAL_RADIUS (scaled_r2, the cost parameter left out) of the best
 * success compete (see the top of this file). */
#define LOCAL_EVERY 2
#define LOCAL_RADIUS 0.5

static const double target_pool[PROTEIN_TARGET_POOL_SIZE] = {0.16, 0.32, 0.48,
                                                             0.64, 0.80, 1.00};

/* Everything one model suggestion allocates, freed together. */
typedef struct work {
    double lmin, lrange; /* log-cost target scaling */
    double *ts;          /* the score GP's target for each success (n_obs) */
    size_t *rows;        /* training rows: < n_fail failures, else successes */
    unsigned char *keep;
    double *Xs, *ys, *Xc, *yc; /* score and cost training sets */
    size_t ns, nc;
    size_t *front;
    double *centers, *cand; /* candidates: m x dim */
    size_t m;
    size_t m_all, cap_cand; /* candidates scored, refinements included */
    double *pred_s, *var_s, *pred_c, *acq, *values;
    double *near; /* squared distance r^2 to the nearest pending point */
    unsigned char *taken; /* picked earlier in a batch */
    const double *sc;     /* perturbation half-widths (dim) */
    double t, reach;      /* cost target and the cost triangle's width */
    double best;          /* EI threshold, in score-target units */
    double offset;        /* the score GP's constant-kernel variance b */
    double proxy_var;     /* when >= 0: the variance assumed for every point */
    double rho;           /* the pending penalty's radius */
    const double *local;  /* local pick: the best success (model space) */
    double cool;          /* cost cooling exponent (0: none) */
    double ceiling;       /* log-cost the cooling never rewards going below */
    double spend_cap;     /* log-cost above which a candidate ranks last */
    size_t n_train;       /* rows the score GP is factorized on */
    size_t picks;         /* suggestions made from this work (a batch's n) */
    int cost_flat;        /* every success cost the same: no cost model */
} work;

/* x clipped to the model box [-1, 1]. */
static double clip1(double x)
{
    return x < -1 ? -1 : x > 1 ? 1 : x;
}

/* x folded back into [-1, 1] at the bound it crossed (clipped if it is
 * more than a box width out). */
static double reflect1(double x)
{
    if (x > 1)
        x = 2 - x;
    else if (x < -1)
        x = -2 - x;
    return clip1(x);
}

/* The GPs' initial hyperparameters; see optimizer_state.h. The score GP's
 * signal variance starts at the square of its targets' span: a fit from
 * 1 spent its whole evaluation budget for many refits climbing there. */
int protein_model_params_init(const protein_optimizer *opt,
                              protein_gp_params *p, int score)
{
    int rc = protein_gp_params_init(p, opt->dim);
    if (rc == PROTEIN_OK && score)
        p->theta[opt->dim] =
            protein_gp_softplus_inverse(SCORE_TARGET_SPAN * SCORE_TARGET_SPAN);
    return rc;
}

/* Target cost t (research note section 3.1): one element of the shuffled
 * pool per call, jittered by 0.1 N(0,1), clipped to [0,1], times
 * 1 + expansion_rate when there is a cost parameter (see the top of this
 * file). */
static double sample_target(protein_optimizer *opt)
{
    double r, expansion = opt->cfg->expansion_rate;
    if (opt->pool_left == 0) {
        memcpy(opt->pool, target_pool, sizeof(opt->pool));
        for (size_t i = PROTEIN_TARGET_POOL_SIZE - 1; i > 0; i--) {
            size_t j = protein_rng_index(&opt->rng, i + 1);
            double t = opt->pool[i];
            opt->pool[i] = opt->pool[j];
            opt->pool[j] = t;
        }
        opt->pool_left = PROTEIN_TARGET_POOL_SIZE;
    }
    r = opt->pool[--opt->pool_left] + 0.1 * protein_rng_normal(&opt->rng);
    r = r < 0 ? 0 : r > 1 ? 1 : r;
    if (opt->cost_dim < 0)
        return r;
    if (expansion < 0)
        expansion = PROTEIN_DEFAULT_EXPANSION_RATE;
    return (1.0 + expansion) * r;
}

/* qsort order of doubles, ascending (no NaN expected). */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Frees every buffer of w (one model suggestion's scratch); w itself is the
 * caller's. */
static void work_free(work *w)
{
    free(w->ts);
    free(w->rows);
    free(w->keep);
    free(w->Xs);
    free(w->ys);
    free(w->Xc);
    free(w->yc);
    free(w->front);
    free(w->centers);
    free(w->cand);
    free(w->pred_s);
    free(w->pred_c);
    free(w->var_s);
    free(w->near);
    free(w->taken);
    free(w->acq);
    free(w->values);
}

/* Selects the training rows (failures first, then successes, oldest
 * first): near-duplicates dropped keeping the newest, then the
 * gp_max_obs cap (newest half plus a uniform sample of the older ones).
 * Returns the row count in *nrows, or PROTEIN_ENOMEM. */
static int select_rows(protein_optimizer *opt, work *w, size_t *nrows)
{
    size_t nfail = opt->n_obs < FAILURE_IMPUTE_LIMIT ? opt->n_fail : 0;
    size_t total = nfail + opt->n_obs, n = 0, cap;
    double *X = NULL;

    w->rows = malloc(total * sizeof(*w->rows));
    w->keep = malloc(total);
    if (w->rows == NULL || w->keep == NULL)
        return PROTEIN_ENOMEM;
    if (nfail > 0) {
        X = malloc(total * opt->dim * sizeof(*X));
        if (X == NULL)
            return PROTEIN_ENOMEM;
        memcpy(X, opt->fail_u, nfail * opt->dim * sizeof(*X));
        memcpy(X + nfail * opt->dim, opt->obs_u,
               opt->n_obs * opt->dim * sizeof(*X));
        if (protein_dedup_rows(X, total, opt->dim, PROTEIN_DEDUP_RADIUS,
                               w->keep) == (size_t)-1) {
            free(X);
            return PROTEIN_ENOMEM;
        }
        free(X);
    } else {
        memset(w->keep, 1, total);
    }
    for (size_t i = 0; i < total; i++)
        if (w->keep[i])
            w->rows[n++] = i < nfail ? i : opt->n_fail + (i - nfail);
    cap = opt->cfg->gp_max_obs > 0 ? (size_t)opt->cfg->gp_max_obs : 0;
    if (cap > 0 && n > cap) {
        size_t newest = cap / 2, older = n - newest, take = cap - newest;
        /* partial Fisher-Yates over the older rows, then restore order */
        for (size_t k = 0; k < take; k++) {
            size_t j = k + protein_rng_index(&opt->rng, older - k);
            size_t t = w->rows[k];
            w->rows[k] = w->rows[j];
            w->rows[j] = t;
        }
        memmove(w->rows + take, w->rows + older, newest * sizeof(*w->rows));
        n = cap;
        for (size_t a = 1; a < take; a++) { /* insertion sort of the sample */
            size_t v = w->rows[a], b = a;
            for (; b > 0 && w->rows[b - 1] > v; b--)
                w->rows[b] = w->rows[b - 1];
            w->rows[b] = v;
        }
    }
    *nrows = n;
    return PROTEIN_OK;
}

/* Posterior means of the GP in state at the m rows of X (opt->dim columns)
 * into mean, PREDICT_BATCH rows a call. PROTEIN_OK or the backend's error
 * code. */
static int predict_all(protein_optimizer *opt, void *state, const double *X,
                       size_t m, double *mean)
{
    char errbuf[256];
    for (size_t at = 0; at < m; at += PREDICT_BATCH) {
        size_t b = m - at < PREDICT_BATCH ? m - at : PREDICT_BATCH;
        int rc = opt->backend->predict(state, X + at * opt->dim, b, mean + at,
                                       NULL, errbuf, sizeof(errbuf));
        if (rc != PROTEIN_OK)
            return rc;
    }
    return PROTEIN_OK;
}

/* Fits the GP in state to (X, y), n rows, from params (updated in place)
 * with the optimizer's fit options. PROTEIN_OK, or the backend's error
 * code with params reset to their initial values (PROTEIN_ENOMEM when
 * that fails too). */
static int fit_gp(protein_optimizer *opt, void *state,
                  protein_gp_params *params, const double *X, const double *y,
                  size_t n)
{
    protein_gp_fit_options fo;
    protein_gp_fit_report rep;
    char errbuf[256];
    int rc;

    memset(&fo, 0, sizeof(fo)); /* the backend's defaults (gp.h) */
    fo.iterations =
        opt->cfg->gp_training_iter > 0 ? opt->cfg->gp_training_iter : 0;
    if (n > FIT_FULL_BUDGET_ROWS) {
        double r = (double)FIT_FULL_BUDGET_ROWS / (double)n;
        fo.max_evaluations = (int)(FIT_FULL_BUDGET * r * r * r);
        if (fo.max_evaluations < FIT_MIN_BUDGET)
            fo.max_evaluations = FIT_MIN_BUDGET;
    }
    rc = opt->backend->fit(state, X, y, n, params, &fo, &rep, errbuf,
                           sizeof(errbuf));
    if (rc != PROTEIN_OK) {
        /* start the next fit from scratch rather than from a bad theta */
        protein_gp_params_free(params);
        if (protein_model_params_init(
                opt, params, params == &opt->score_params) != PROTEIN_OK)
            return PROTEIN_ENOMEM;
    }
    return rc;
}

/* The scaled squared distance r^2 between candidate x and point p: the
 * mean over the dimensions but `skip` (-1: none) of ((x_j - p_j) / sc_j)^2,
 * used by the pending penalty and the local pick (see the top of this
 * file); 0 when no dimension is left. */
static double scaled_r2(const double *x, const double *p, const double *sc,
                        size_t d, long skip)
{
    double r2 = 0;
    size_t n = 0;
    for (size_t j = 0; j < d; j++) {
        double z;
        if ((long)j == skip)
            continue;
        z = (x[j] - p[j]) / sc[j];
        r2 += z * z;
        n++;
    }
    return n > 0 ? r2 / (double)n : 0;
}

/* The radius rho of the pending penalty for P pending points. */
static double pending_rho(const protein_optimizer *opt, size_t n_pending)
{
    return 0.5 * pow((double)n_pending, -1.0 / (double)opt->dim);
}

/* log of the local penalty at squared pending distance r2 (see the top of
 * this file): 0 far from every pending point, very negative on one. */
static double pending_penalty(double r2, double rho)
{
    return log(fmax(1.0 - exp(-r2 / (2 * rho * rho)), DBL_MIN));
}

/* Training targets: scores through protein_rank_normal, or, for a
 * suggestion made with no trial in flight in a sweep with a cost
 * parameter, through protein_rank_magnitude_targets (score_transform.c
 * says why; with trials in flight the ranks measured better); log-costs from
 * their minimum to their 0.97 quantile (research note section 4). */
static int compute_targets(const protein_optimizer *opt, work *w)
{
    const size_t n = opt->n_obs;
    double pos = COST_QUANTILE * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
    double *lc = malloc(n * sizeof(double));
    int rc;

    w->ts = malloc(n * sizeof(double));
    if (lc == NULL || w->ts == NULL) {
        free(lc);
        return PROTEIN_ENOMEM;
    }
    if (opt->cost_dim >= 0 && opt->n_pending == 0)
        rc = protein_rank_magnitude_targets(opt->obs_score, n, w->ts);
    else
        rc = protein_rank_normal(opt->obs_score, n, w->ts);
    if (rc != PROTEIN_OK) {
        free(lc);
        return PROTEIN_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        w->ts[i] *= SCORE_TARGET_SPAN;
    for (size_t i = 0; i < n; i++)
        lc[i] = log(opt->obs_cost[i]);
    qsort(lc, n, sizeof(double), cmp_double);
    w->lmin = lc[0];
    w->lrange = lc[lo] + (pos - (double)lo) * (lc[hi] - lc[lo]) - lc[0] + 1e-6;
    free(lc);
    return PROTEIN_OK;
}

/* Builds both training sets from the selected rows: the score GP gets the
 * failures (imputed at the minimum score) and successes, its inputs scaled
 * by SCORE_INPUT_SCALE; the cost GP gets the successes only. */
static int build_training(const protein_optimizer *opt, work *w, size_t nrows)
{
    const size_t d = opt->dim;
    w->Xs = malloc(nrows * d * sizeof(double));
    w->ys = malloc(nrows * sizeof(double));
    w->Xc = malloc(nrows * d * sizeof(double));
    w->yc = malloc(nrows * sizeof(double));
    if (w->Xs == NULL || w->ys == NULL || w->Xc == NULL || w->yc == NULL)
        return PROTEIN_ENOMEM;
    w->ns = w->nc = 0;
    for (size_t k = 0; k < nrows; k++) {
        size_t r = w->rows[k];
        if (r < opt->n_fail) {
            for (size_t j = 0; j < d; j++)
                w->Xs[w->ns * d + j] =
                    SCORE_INPUT_SCALE * opt->fail_u[r * d + j];
            w->ys[w->ns++] = 0.0;
        } else {
            size_t i = r - opt->n_fail;
            for (size_t j = 0; j < d; j++)
                w->Xs[w->ns * d + j] =
                    SCORE_INPUT_SCALE * opt->obs_u[i * d + j];
            w->ys[w->ns++] = w->ts[i];
            memcpy(w->Xc + w->nc * d, opt->obs_u + i * d, d * sizeof(double));
            w->yc[w->nc++] = (log(opt->obs_cost[i]) - w->lmin) / w->lrange;
        }
    }
    return PROTEIN_OK;
}

/* The early-stop model's quantile: the config's, 0.3 when unset. */
static double stop_quantile(const protein_sweep_config *cfg)
{
    return cfg->early_stop_quantile > 0 && cfg->early_stop_quantile < 1
               ? cfg->early_stop_quantile
               : 0.3;
}

/* The Pareto front of the successes in front[0..*nfront) (front has room
 * for n_obs indices), pruned to its first *npruned, and the early-stop
 * model fitted on all observations. Its upper cost threshold follows the
 * pruned front's highest cost as Protein moves it, once per suggestion
 * (per_suggestion), or is only set when nothing has set it yet (a refit
 * between suggestions, which may come every few seconds). */
static int fit_stop_model(protein_optimizer *opt, size_t *front, size_t *nfront,
                          size_t *npruned, int per_suggestion)
{
    int rc = protein_pareto_compute(opt->obs_score, opt->obs_cost, opt->n_obs,
                                    front, nfront);

    if (rc != PROTEIN_OK)
        return rc;
    *npruned =
        protein_pareto_prune(opt->obs_score, opt->obs_cost, front, *nfront);
    if (per_suggestion || opt->stop.upper_cost <= 0)
        protein_cost_model_update_upper(&opt->stop,
                                        opt->obs_cost[front[*npruned - 1]]);
    return protein_cost_model_fit(&opt->stop, opt->obs_score, opt->obs_cost,
                                  opt->n_obs, stop_quantile(opt->cfg));
}

/* Pareto front, pruning and the early-stop model; w->front[0..*nf) are
 * the search centers from the front (pruned when prune_pareto). */
static int update_front(protein_optimizer *opt, work *w, size_t *nf)
{
    size_t nfront, npruned;
    int rc;

    w->front = malloc(opt->n_obs * sizeof(size_t));
    if (w->front == NULL)
        return PROTEIN_ENOMEM;
    rc = fit_stop_model(opt, w->front, &nfront, &npruned, 1);
    if (rc == PROTEIN_OK)
        *nf = opt->cfg->prune_pareto ? npruned : nfront;
    return rc;
}

/* Search centers: the front points, plus the TOP_K best scores, each as
 * two copies moved 1/2 and 1/3 of the way toward the cheapest cost (or
 * as they are without a cost parameter), plus the pending points. */
static int build_centers(const protein_optimizer *opt, work *w, size_t nf,
                         size_t *ncenters)
{
    const size_t d = opt->dim, n = opt->n_obs;
    size_t top[TOP_K], ntop = 0, c;

    for (; ntop < TOP_K && ntop < n; ntop++) {
        size_t bi = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (size_t k = 0; k < ntop; k++)
                taken |= top[k] == i;
            if (!taken &&
                (bi == SIZE_MAX || opt->obs_score[i] > opt->obs_score[bi]))
                bi = i;
        }
        top[ntop] = bi;
    }
    *ncenters = nf + (opt->cost_dim >= 0 ? 2 : 1) * ntop + opt->n_pending;
    w->centers = malloc(*ncenters * d * sizeof(double));
    if (w->centers == NULL)
        return PROTEIN_ENOMEM;
    for (size_t k = 0; k < nf; k++)
        memcpy(w->centers + k * d, opt->obs_u + w->front[k] * d,
               d * sizeof(double));
    c = nf;
    for (size_t k = 0; k < ntop; k++) {
        const double *u = opt->obs_u + top[k] * d;
        if (opt->cost_dim >= 0) {
            double uc = u[opt->cost_dim];
            memcpy(w->centers + c * d, u, d * sizeof(double));
            w->centers[c++ * d + opt->cost_dim] = uc - (uc + 1) / 2;
            memcpy(w->centers + c * d, u, d * sizeof(double));
            w->centers[c++ * d + opt->cost_dim] = uc - (uc + 1) / 3;
        } else {
            memcpy(w->centers + c++ * d, u, d * sizeof(double));
        }
    }
    if (opt->n_pending > 0)
        memcpy(w->centers + c * d, opt->pending_u,
               opt->n_pending * d * sizeof(double));
    return PROTEIN_OK;
}

/* Sets the one-hot block of every categorical parameter of u to a choice
 * drawn uniformly, each with probability CATEGORY_JUMP. */
static void jump_categories(protein_optimizer *opt, double *u)
{
    const protein_sweep_config *cfg = opt->cfg;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const protein_param *q = &cfg->params[i];
        size_t off, c;
        if (q->kind != PROTEIN_PARAM_CATEGORICAL || q->n_values < 2 ||
            !(protein_rng_uniform(&opt->rng) < CATEGORY_JUMP))
            continue;
        off = protein_space_offset(cfg, i);
        c = protein_rng_index(&opt->rng, q->n_values);
        for (size_t k = 0; k < q->n_values; k++)
            u[off + k] = k == c ? 1.0 : -1.0;
    }
}

/* A point drawn uniformly from the whole space, written to u (model
 * space); values is scratch of cfg->n_params doubles. */
static void global_point(protein_optimizer *opt, double *u, double *values)
{
    double *z = opt->scratch_u; /* dim >= nfree */
    for (size_t j = 0; j < opt->nfree; j++)
        z[j] = protein_rng_uniform(&opt->rng);
    protein_space_from_unit(opt->cfg, z, values);
    protein_space_normalize(opt->cfg, values, u);
}

/* Candidates: suggestions_per_pareto per center (at most MAX_CANDIDATES),
 * each a uniform perturbation of +-scale per dimension around a random
 * center, reflected into [-1, 1], each categorical parameter redrawn with
 * probability CATEGORY_JUMP; then GLOBAL_CANDIDATES points drawn
 * uniformly from the whole space; all snapped to a runnable point and
 * deduplicated. Sets w->m; w->cand has room for one refinement's points
 * after them (w->cap_cand rows in all). */
static int make_candidates(protein_optimizer *opt, work *w, size_t ncenters,
                           const double *sc)
{
    const protein_sweep_config *cfg = opt->cfg;
    const size_t d = opt->dim;
    size_t spp = cfg->suggestions_per_pareto > 0
                     ? (size_t)cfg->suggestions_per_pareto
                     : 256;
    size_t local =
        ncenters * spp < MAX_CANDIDATES ? ncenters * spp : MAX_CANDIDATES;
    size_t m = local + GLOBAL_CANDIDATES, kept;

    w->cap_cand = m + REFINE_STARTS * (REFINE_ROUNDS * REFINE_POINTS + d);
    w->cand = malloc(w->cap_cand * d * sizeof(double));
    w->values = malloc((cfg->n_params ? cfg->n_params : 1) * sizeof(double));
    free(w->keep); /* the training rows' flags are no longer needed */
    w->keep = malloc(m);
    if (w->cand == NULL || w->values == NULL || w->keep == NULL)
        return PROTEIN_ENOMEM;
    for (size_t k = 0; k < local; k++) {
        const double *c =
            w->centers + protein_rng_index(&opt->rng, ncenters) * d;
        double *x = w->cand + k * d;
        for (size_t j = 0; j < d; j++)
            x[j] = reflect1(
                c[j] + sc[j] * (2.0 * protein_rng_uniform(&opt->rng) - 1.0));
        jump_categories(opt, x);
        protein_space_snap(cfg, x, w->values);
    }
    for (size_t k = local; k < m; k++)
        global_point(opt, w->cand + k * d, w->values);
    kept = protein_dedup_rows(w->cand, m, d, PROTEIN_DEDUP_RADIUS, w->keep);
    if (kept == (size_t)-1)
        return PROTEIN_ENOMEM;
    for (size_t k = 0, o = 0; k < m; k++)
        if (w->keep[k])
            memmove(w->cand + o++ * d, w->cand + k * d, d * sizeof(double));
    w->m = kept;
    return PROTEIN_OK;
}

/* Score-GP predictions (mean, and variance when var != NULL) at m
 * model-space points, scaled into the GP's inputs by SCORE_INPUT_SCALE, in
 * batches of PREDICT_BATCH. */
static int score_predict(protein_optimizer *opt, const double *X, size_t m,
                         double *mean, double *var)
{
    const size_t d = opt->dim;
    double *Y = malloc(((m < PREDICT_BATCH ? m : PREDICT_BATCH) * d + 1) *
                       sizeof(double));
    char errbuf[256];
    int rc = PROTEIN_OK;

    if (Y == NULL)
        return PROTEIN_ENOMEM;
    for (size_t at = 0; rc == PROTEIN_OK && at < m; at += PREDICT_BATCH) {
        size_t b = m - at < PREDICT_BATCH ? m - at : PREDICT_BATCH;
        for (size_t k = 0; k < b * d; k++)
            Y[k] = SCORE_INPUT_SCALE * X[at * d + k];
        rc = opt->backend->predict(opt->score_state, Y, b, mean + at,
                                   var != NULL ? var + at : NULL, errbuf,
                                   sizeof(errbuf));
    }
    free(Y);
    return rc;
}

/* Predictions at the candidates w->cand[from..to): score-GP mean and
 * variance (w->proxy_var instead when that is >= 0), the variance
 * rescaled to the prior variance of the box centre (the linear kernel's
 * prior variance grows toward the corners, which is not uncertainty about
 * the score), the cost-GP mean (0 when the cost is flat), and each one's
 * squared distance to the nearest pending point. */
static int predict_range(protein_optimizer *opt, work *w, size_t from,
                         size_t to)
{
    const size_t d = opt->dim;
    const double a2 = SCORE_INPUT_SCALE * SCORE_INPUT_SCALE;
    int rc;

    rc = score_predict(opt, w->cand + from * d, to - from, w->pred_s + from,
                       w->proxy_var >= 0 ? NULL : w->var_s + from);
    if (rc == PROTEIN_OK && !w->cost_flat)
        rc = predict_all(opt, opt->cost_state, w->cand + from * d, to - from,
                         w->pred_c + from);
    if (rc != PROTEIN_OK)
        return rc;
    for (size_t k = from; k < to; k++) {
        const double *x = w->cand + k * d;
        double xx = 0;
        for (size_t j = 0; j < d; j++)
            xx += x[j] * x[j];
        if (w->proxy_var >= 0)
            w->var_s[k] = w->proxy_var;
        else
            w->var_s[k] *= (1.0 + w->offset) / (a2 * xx + w->offset + 1.0);
        if (w->cost_flat)
            w->pred_c[k] = 0.0;
        w->near[k] = INFINITY;
        for (size_t p = 0; p < opt->n_pending; p++)
            w->near[k] = fmin(
                w->near[k], scaled_r2(x, opt->pending_u + p * d, w->sc, d, -1));
    }
    return PROTEIN_OK;
}

/* The acquisition of candidates [from, to) from their predictions:
 *   log EI(mean, sd; w->best) + log(1 - |t - c| / reach)
 *     - w->cool max(log(predicted cost), w->ceiling)
 *     + the local penalty of the nearest pending point,
 * less OVER_BUDGET_PENALTY where the predicted cost exceeds
 * max_suggestion_cost or the spend cap (log-cost w->spend_cap); -inf for a
 * candidate taken earlier in a batch and, in a local pick, for one outside its
 * region. */
static void acquire_range(const protein_optimizer *opt, work *w, size_t from,
                          size_t to)
{
    const double max_cost = opt->cfg->max_suggestion_cost;
    for (size_t k = from; k < to; k++) {
        double c = w->pred_c[k], lc = c * w->lrange + w->lmin, a;
        if (w->local != NULL &&
            scaled_r2(w->cand + k * opt->dim, w->local, w->sc, opt->dim,
                      opt->cost_dim) > LOCAL_RADIUS * LOCAL_RADIUS) {
            w->acq[k] = -INFINITY; /* outside a local pick's region */
            continue;
        }
        a = protein_log_ei(w->pred_s[k], sqrt(w->var_s[k]), w->best);
        if (!w->cost_flat)
            a += log(fmax(1.0 - fabs(w->t - c) / w->reach, DBL_MIN)) -
                 w->cool * fmax(lc, w->ceiling);
        if ((max_cost > 0 && !(exp(lc) < max_cost)) || lc > w->spend_cap)
            a -= OVER_BUDGET_PENALTY;
        if (opt->n_pending > 0)
            a += pending_penalty(w->near[k], w->rho);
        w->acq[k] = isfinite(a) && !(k < w->m && w->taken[k]) ? a : -INFINITY;
    }
}

/* Index of the largest finite w->acq[from..to), or SIZE_MAX. */
static size_t argmax_acq(const work *w, size_t from, size_t to)
{
    size_t best = SIZE_MAX;
    for (size_t k = from; k < to; k++)
        if (isfinite(w->acq[k]) &&
            (best == SIZE_MAX || w->acq[k] > w->acq[best]))
            best = k;
    return best;
}

/* Scores the candidates [from, to) appended to w->cand (w->m_all becomes
 * to) and moves *start to the best of them when that scores higher. */
static int refine_step(protein_optimizer *opt, work *w, size_t from, size_t to,
                       size_t *start)
{
    size_t b;
    int rc;

    w->m_all = to;
    rc = predict_range(opt, w, from, to);
    if (rc != PROTEIN_OK)
        return rc;
    acquire_range(opt, w, from, to);
    b = argmax_acq(w, from, to);
    if (b != SIZE_MAX && w->acq[b] > w->acq[*start])
        *start = b;
    return PROTEIN_OK;
}

/* The discrete step of the refinement: each start with each other choice
 * of each categorical parameter (the perturbations rarely change a
 * choice); a start moves to the best of them when that scores higher. */
static int refine_categories(protein_optimizer *opt, work *w, size_t *starts,
                             size_t ns)
{
    const protein_sweep_config *cfg = opt->cfg;
    const size_t d = opt->dim;
    int rc;

    for (size_t q = 0; q < ns; q++) {
        size_t from = w->m_all, to = from;
        for (size_t i = 0; i < cfg->n_params; i++) {
            const protein_param *p = &cfg->params[i];
            size_t off;
            if (p->kind != PROTEIN_PARAM_CATEGORICAL)
                continue;
            off = protein_space_offset(cfg, i);
            for (size_t c = 0; c < p->n_values; c++) {
                double *x = w->cand + to * d;
                if (w->cand[starts[q] * d + off + c] > 0)
                    continue; /* its current choice */
                memcpy(x, w->cand + starts[q] * d, d * sizeof(double));
                for (size_t k = 0; k < p->n_values; k++)
                    x[off + k] = k == c ? 1.0 : -1.0;
                to++;
            }
        }
        if (to == from)
            return PROTEIN_OK;
        rc = refine_step(opt, w, from, to, &starts[q]);
        if (rc != PROTEIN_OK)
            return rc;
    }
    return PROTEIN_OK;
}

/* Local refinement of the acquisition: the REFINE_STARTS best candidates
 * each spawn perturbations at 1/4 of the search box, then 1/16, then
 * 1/64; a start moves to its best child whenever that scores higher. The
 * children are appended to w->cand (w->m_all grows); their number per
 * start and round follows REFINE_FLOPS, shared by the w->picks picks of a
 * batch; below REFINE_MIN_POINTS there is no refinement. */
static int refine(protein_optimizer *opt, work *w)
{
    const size_t d = opt->dim;
    const double n2 = (double)w->n_train * (double)w->n_train;
    size_t starts[REFINE_STARTS], ns = 0, per;
    int rc;

    per = (size_t)(REFINE_FLOPS /
                   (n2 * REFINE_STARTS * REFINE_ROUNDS * (double)w->picks));
    if (per < REFINE_MIN_POINTS)
        return PROTEIN_OK;
    per = per > REFINE_POINTS ? REFINE_POINTS : per;
    for (; ns < REFINE_STARTS; ns++) {
        size_t bi = SIZE_MAX;
        for (size_t k = 0; k < w->m; k++) {
            int used = 0;
            for (size_t q = 0; q < ns; q++)
                used |= starts[q] == k;
            if (!used && isfinite(w->acq[k]) &&
                (bi == SIZE_MAX || w->acq[k] > w->acq[bi]))
                bi = k;
        }
        if (bi == SIZE_MAX)
            break;
        starts[ns] = bi;
    }
    rc = refine_categories(opt, w, starts, ns);
    if (rc != PROTEIN_OK)
        return rc;
    for (int r = 1; r <= REFINE_ROUNDS; r++) {
        const double f = pow(0.25, (double)r);
        for (size_t q = 0; q < ns; q++) {
            size_t from = w->m_all, to = from + per;
            const double *c = w->cand + starts[q] * d;
            for (size_t k = from; k < to; k++) {
                double *x = w->cand + k * d;
                for (size_t j = 0; j < d; j++)
                    x[j] = reflect1(
                        c[j] +
                        f * w->sc[j] *
                            (2.0 * protein_rng_uniform(&opt->rng) - 1.0));
                protein_space_snap(opt->cfg, x, w->values);
            }
            rc = refine_step(opt, w, from, to, &starts[q]);
            if (rc != PROTEIN_OK)
                return rc;
        }
    }
    return PROTEIN_OK;
}

/* Index of the best success (n_obs > 0), the centre of a local pick. */
static size_t best_success(const protein_optimizer *opt)
{
    size_t bi = 0;

    assert(opt->n_obs > 0);
    for (size_t i = 1; i < opt->n_obs; i++)
        if (opt->obs_score[i] > opt->obs_score[bi])
            bi = i;
    return bi;
}

/* One pick at cost target t: the acquisition of the candidates, a local
 * refinement of the best, and the winner's index in *best (it may be a
 * refinement point, past w->m); PROTEIN_ENUMERIC when no candidate has a
 * finite acquisition. Refinement points of an earlier pick are dropped.
 * While trials run, every LOCAL_EVERY-th suggestion and the first after
 * a new best success are local picks (see the top of this file); one
 * with no candidate in its region is an ordinary pick. */
static int pick(protein_optimizer *opt, work *w, double t, size_t *best)
{
    int rc;

    w->t = t;
    w->rho = pending_rho(opt, opt->n_pending);
    w->reach = 1.0;
    for (size_t k = 0; k < w->m; k++)
        if (isfinite(w->pred_c[k]))
            w->reach = fmax(w->reach, fabs(t - w->pred_c[k]));
    w->local = NULL;
    if (opt->n_pending > 0 && opt->n_obs > 0) {
        size_t b = best_success(opt);
        if (opt->n_suggested % LOCAL_EVERY == 0 || b != opt->best_at_last_pick)
            w->local = opt->obs_u + b * opt->dim;
        opt->best_at_last_pick = b;
    }
    for (;;) {
        w->m_all = w->m;
        acquire_range(opt, w, 0, w->m);
        rc = refine(opt, w);
        if (rc != PROTEIN_OK)
            return rc;
        *best = argmax_acq(w, 0, w->m_all);
        if (*best != SIZE_MAX || w->local == NULL)
            break;
        w->local = NULL;
    }
    return *best != SIZE_MAX ? PROTEIN_OK : PROTEIN_ENUMERIC;
}

/* qsort order of doubles, descending (no NaN expected). */
static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* Keeps only the `keep` candidates of highest log EI under a proxy
 * variance (the median variance of the first PROXY_SAMPLE candidates), in
 * their order: at large n a variance for every candidate costs more than
 * the rest of the suggestion. */
static int shortlist(protein_optimizer *opt, work *w, size_t keep)
{
    const size_t d = opt->dim;
    size_t sample = w->m < PROXY_SAMPLE ? w->m : PROXY_SAMPLE, o = 0;
    double *sorted, bar;
    int rc;

    w->proxy_var = -1;
    rc = predict_range(opt, w, 0, sample);
    if (rc != PROTEIN_OK)
        return rc;
    sorted = malloc(w->m * sizeof(double));
    if (sorted == NULL)
        return PROTEIN_ENOMEM;
    memcpy(sorted, w->var_s, sample * sizeof(double));
    qsort(sorted, sample, sizeof(double), cmp_double);
    w->proxy_var = sorted[sample / 2];
    rc = score_predict(opt, w->cand, w->m, w->pred_s, NULL);
    w->proxy_var = -1;
    if (rc != PROTEIN_OK) {
        free(sorted);
        return rc;
    }
    for (size_t k = 0; k < w->m; k++)
        w->acq[k] =
            protein_log_ei(w->pred_s[k], sqrt(sorted[sample / 2]), w->best);
    memcpy(sorted, w->acq, w->m * sizeof(double));
    qsort(sorted, w->m, sizeof(double), cmp_double_desc);
    bar = sorted[keep - 1];
    free(sorted);
    for (size_t k = 0; k < w->m && o < keep; k++)
        if (w->acq[k] >= bar)
            memmove(w->cand + o++ * d, w->cand + k * d, d * sizeof(double));
    w->m = o;
    return PROTEIN_OK;
}

/* The EI threshold: the largest posterior mean of the score GP at the
 * successes (the incumbent as the model sees it; a noisy best score would
 * otherwise set a bar no prediction reaches) plus EI_MARGIN. */
static int incumbent(protein_optimizer *opt, work *w)
{
    double *mu = malloc((opt->n_obs ? opt->n_obs : 1) * sizeof(double));
    int rc;
    if (mu == NULL)
        return PROTEIN_ENOMEM;
    rc = score_predict(opt, opt->obs_u, opt->n_obs, mu, NULL);
    w->best = -INFINITY;
    for (size_t i = 0; rc == PROTEIN_OK && i < opt->n_obs; i++)
        w->best = fmax(w->best, mu[i]);
    w->best += EI_MARGIN;
    free(mu);
    return rc;
}

/* Kriging believer: the score GP is refactorized with the same
 * hyperparameters and every pending point added at its predicted score, so
 * that its variance, and with it the expected improvement, falls around
 * the trials still running. The EI threshold stays the observed
 * incumbent: raised to the best believed score, it left EI only to the
 * points of highest variance, the box's corners. */
static int believe_pending(protein_optimizer *opt, work *w)
{
    const size_t d = opt->dim, P = opt->n_pending, n = w->ns;
    double *X, *y;
    protein_gp_fit_options fo;
    char errbuf[256];
    int rc = PROTEIN_ENOMEM;

    X = malloc((n + P) * d * sizeof(double));
    y = malloc((n + P) * sizeof(double));
    if (X == NULL || y == NULL)
        goto done;
    memcpy(X, w->Xs, n * d * sizeof(double));
    memcpy(y, w->ys, n * sizeof(double));
    for (size_t k = 0; k < P * d; k++)
        X[n * d + k] = SCORE_INPUT_SCALE * opt->pending_u[k];
    rc = score_predict(opt, opt->pending_u, P, y + n, NULL);
    if (rc != PROTEIN_OK)
        goto done;
    memset(&fo, 0, sizeof(fo));
    fo.max_evaluations = 1; /* factorize at the fitted theta, no step */
    rc = opt->backend->fit(opt->score_state, X, y, n + P, &opt->score_params,
                           &fo, NULL, errbuf, sizeof(errbuf));
done:
    free(X);
    free(y);
    return rc;
}

/* The cost cooling (see COOL_EXPONENT) in w->cool and w->ceiling: none
 * (0 and -inf) without a trial budget (max_trials) or a cost model, or
 * once COOL_UNTIL of the budget's model trials are spent; trials count
 * from the first after the warm-up, running and failed ones included, and
 * a trial observed with the points of its curve counts once: counted by
 * observations, a downsample of 6 spent the cooling in a seventh of its
 * budget. The ceiling only applies with no trial in flight and when the
 * warm-up spanned the cost parameter's whole range (one with a default
 * keeps the warm-up under it: the log-cost range the ceiling is measured
 * on is then that of short runs, and a ceiling inside it starved the
 * sweep of the long runs it needs). The spend cap (SPEND_SHARE) in
 * w->spend_cap: with no trial in flight and a cost parameter, until the
 * cooling ends; +inf otherwise. */
static void cooling(const protein_optimizer *opt, work *w)
{
    double warmup = opt->cfg->num_random_samples > 0
                        ? (double)opt->cfg->num_random_samples
                        : 0;
    double budget = (double)opt->cfg->max_trials - warmup, done, f;

    w->cool = 0;
    w->ceiling = -INFINITY;
    w->spend_cap = INFINITY;
    if (w->cost_flat)
        return;
    if (opt->cost_dim >= 0 && opt->n_pending == 0 && opt->spent > 0)
        w->spend_cap = log(SPEND_SHARE * opt->spent);
    if (opt->cfg->max_trials <= 0 || budget < 1)
        return;
    done = (double)(opt->n_finished + opt->n_pending) - warmup;
    f = fmax(done, 0) / budget / COOL_UNTIL;
    if (f >= 1) {
        w->spend_cap = INFINITY;
        return;
    }
    if (opt->n_pending > 0 || opt->cost_warm_share < 1) {
        w->cool = COOL_EXPONENT * (1.0 - f);
        return;
    }
    w->cool = COOL_EXPONENT;
    w->ceiling = w->lmin + w->lrange * (CEILING_START +
                                        (CEILING_END - CEILING_START) * f);
}

/* Everything a model suggestion needs before the acquisition: both GPs
 * fitted (warm-started; Adam moments reset every 50 suggestions; the cost
 * GP skipped when every success cost the same), the incumbent, the
 * pending points believed, the search centers, the candidates (a
 * shortlist of them at large n) and the predictions at them, in *w (the
 * caller frees it with work_free). sc receives the perturbation scales. */
static int model_prepare(protein_optimizer *opt, work *w, double *sc,
                         protein_suggestion_info *info)
{
    size_t nrows, nf, ncenters, keep;
    double t0, n2;
    int rc;

    protein_space_scales(opt->cfg, sc);
    w->sc = sc;
    rc = compute_targets(opt, w);
    if (rc == PROTEIN_OK)
        rc = select_rows(opt, w, &nrows);
    if (rc == PROTEIN_OK)
        rc = build_training(opt, w, nrows);
    if (rc != PROTEIN_OK)
        return rc;
    /* every success cost the same (no cost reported): nothing to model */
    w->cost_flat = w->lrange <= 2e-6;
    if (opt->n_suggested % RESET_FREQUENCY == 0) {
        protein_gp_params_reset_moments(&opt->score_params);
        protein_gp_params_reset_moments(&opt->cost_params);
    }
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    rc = fit_gp(opt, opt->score_state, &opt->score_params, w->Xs, w->ys, w->ns);
    if (rc == PROTEIN_OK && !w->cost_flat)
        rc = fit_gp(opt, opt->cost_state, &opt->cost_params, w->Xc, w->yc,
                    w->nc);
    if (rc == PROTEIN_OK)
        rc = incumbent(opt, w);
    w->n_train = w->ns;
    if (rc == PROTEIN_OK && opt->n_pending > 0) {
        rc = believe_pending(opt, w);
        w->n_train += opt->n_pending;
    }
    info->fit_seconds = protein_clock_seconds(CLOCK_MONOTONIC) - t0;
    if (rc != PROTEIN_OK)
        return rc;
    w->offset = protein_gp_softplus(opt->score_params.theta[opt->dim + 1]);
    cooling(opt, w);

    rc = update_front(opt, w, &nf);
    if (rc == PROTEIN_OK)
        rc = build_centers(opt, w, nf, &ncenters);
    if (rc == PROTEIN_OK)
        rc = make_candidates(opt, w, ncenters, sc);
    if (rc != PROTEIN_OK)
        return rc;
    w->acq = malloc(w->cap_cand * sizeof(double));
    w->pred_s = malloc(w->cap_cand * sizeof(double));
    w->var_s = malloc(w->cap_cand * sizeof(double));
    w->pred_c = malloc(w->cap_cand * sizeof(double));
    w->near = malloc(w->cap_cand * sizeof(double));
    w->taken = calloc(w->cap_cand, 1);
    if (w->acq == NULL || w->pred_s == NULL || w->var_s == NULL ||
        w->pred_c == NULL || w->near == NULL || w->taken == NULL)
        return PROTEIN_ENOMEM;
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    n2 = (double)w->n_train * (double)w->n_train;
    keep = (size_t)(VARIANCE_FLOPS / n2);
    if (keep < PROXY_SAMPLE)
        keep = PROXY_SAMPLE;
    rc = keep < w->m ? shortlist(opt, w, keep) : PROTEIN_OK;
    w->proxy_var = -1;
    if (rc == PROTEIN_OK)
        rc = predict_range(opt, w, 0, w->m);
    info->predict_seconds = protein_clock_seconds(CLOCK_MONOTONIC) - t0;
    return rc;
}

/* Writes candidate `best` of *w to values and describes it in info. */
static void model_pick(const protein_optimizer *opt, const work *w, size_t best,
                       double t, double *values, protein_suggestion_info *info)
{
    protein_space_denormalize(opt->cfg, w->cand + best * opt->dim, values);
    info->source = PROTEIN_SOURCE_MODEL;
    info->predicted_score = protein_score_target_inverse(
        opt->obs_score, w->ts, opt->n_obs, w->pred_s[best]);
    if (opt->cfg->minimize)
        info->predicted_score = -info->predicted_score;
    info->predicted_cost = exp(w->pred_c[best] * w->lrange + w->lmin);
    info->target_cost = w->cost_flat ? NAN : t;
    info->n_candidates = w->m_all;
    info->local = w->local != NULL;
}

/* The GP-guided suggestion (docs/algorithm.md); see optimizer_state.h. */
int protein_model_suggest(protein_optimizer *opt, double *values,
                          protein_suggestion_info *info)
{
    work w;
    size_t best = 0;
    double scales[512], *sc = scales, t, t0;
    int rc;

    memset(&w, 0, sizeof(w));
    if (opt->dim > sizeof(scales) / sizeof(scales[0])) {
        sc = malloc(opt->dim * sizeof(*sc));
        if (sc == NULL)
            return PROTEIN_ENOMEM;
    }
    w.picks = 1;
    rc = model_prepare(opt, &w, sc, info);
    if (rc != PROTEIN_OK)
        goto fail;
    t = sample_target(opt);
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    rc = pick(opt, &w, t, &best);
    info->predict_seconds += protein_clock_seconds(CLOCK_MONOTONIC) - t0;
    if (rc == PROTEIN_OK)
        model_pick(opt, &w, best, t, values, info);
fail:
    if (sc != scales)
        free(sc);
    work_free(&w);
    return rc;
}

/* Up to n model suggestions from one fit and one candidate set: each is
 * the best candidate by the acquisition at its own target cost, after a
 * local refinement, lowered near the pending points and near the
 * suggestions made before it in the batch, which become pending points.
 * The nearest pending distance of every candidate is kept and updated
 * with each pick. values holds n rows of cfg->n_params; infos (may be
 * NULL) n entries. *made receives how many were made (all of them unless
 * the candidates run out). Returns PROTEIN_OK when at least one was made,
 * PROTEIN_ENOMEM, or another status when the models fail. */
int protein_model_batch(protein_optimizer *opt, size_t n, double *values,
                        protein_suggestion_info *infos, size_t *made)
{
    const size_t d = opt->dim, np = opt->cfg->n_params;
    protein_suggestion_info first;
    double *sc = NULL, *picked = NULL, t;
    work w;
    size_t best = 0;
    int rc;

    *made = 0;
    memset(&w, 0, sizeof(w));
    protein_suggestion_info_reset(&first, PROTEIN_SOURCE_MODEL);
    sc = malloc(d * sizeof(*sc));
    picked = malloc(d * sizeof(*picked));
    if (sc == NULL || picked == NULL) {
        rc = PROTEIN_ENOMEM;
        goto fail;
    }
    opt->n_suggested++;
    w.picks = n;
    rc = model_prepare(opt, &w, sc, &first);
    if (rc != PROTEIN_OK)
        goto fail;
    for (; *made < n; (*made)++) {
        protein_suggestion_info *info = infos ? &infos[*made] : &first;
        double *v = values + *made * np;

        if (*made > 0) {
            opt->n_suggested++;
            cooling(opt, &w); /* the picks before this one are in flight */
        }
        if (infos)
            protein_suggestion_info_reset(info, PROTEIN_SOURCE_MODEL);
        t = sample_target(opt);
        rc = pick(opt, &w, t, &best);
        if (rc != PROTEIN_OK)
            break;
        if (infos && *made == 0) {
            info->fit_seconds = first.fit_seconds;
            info->predict_seconds = first.predict_seconds;
        }
        model_pick(opt, &w, best, t, v, info);
        if (best < w.m)
            w.taken[best] = 1;
        memcpy(picked, w.cand + best * d, d * sizeof(double));
        rc = protein_add_pending(opt, v);
        if (rc != PROTEIN_OK)
            break;
        for (size_t k = 0; k < w.m; k++)
            w.near[k] =
                fmin(w.near[k], scaled_r2(w.cand + k * d, picked, sc, d, -1));
    }
    if (*made > 0 && rc == PROTEIN_ENUMERIC)
        rc = PROTEIN_OK;
fail:
    free(sc);
    free(picked);
    work_free(&w);
    return rc;
}

/* Early-stop model refit; see protein.h. */
int protein_early_stop_refit(protein_optimizer *opt)
{
    size_t *front, nfront, npruned;
    int rc;

    if (opt == NULL)
        return PROTEIN_EINVAL;
    if (opt->n_obs == 0)
        return PROTEIN_OK;
    front = malloc(opt->n_obs * sizeof(*front));
    if (front == NULL)
        return PROTEIN_ENOMEM;
    rc = fit_stop_model(opt, front, &nfront, &npruned, 0);
    free(front);
    return rc;
}

/* Early-stop threshold in the user's direction; see protein.h. */
double protein_early_stop_threshold(const protein_optimizer *opt, double cost)
{
    double t;
    if (opt == NULL)
        return -INFINITY;
    t = protein_cost_model_threshold(&opt->stop, cost);
    return opt->cfg->minimize ? -t : t;
}
