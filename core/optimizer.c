#include "config.h"

/*
 * optimizer.c - the suggestion path of Protein (research note sections
 * 2-4): warm-up, the score and cost GPs, Pareto centers, perturbed
 * candidates and the cost-aware acquisition. docs/algorithm.md says what
 * each step does and where it departs from PufferLib; the measurements
 * behind each choice are in docs/benchmarks.md ("Choices behind the
 * optimizer").
 *
 * Everything inside maximizes: scores are negated for goal: minimize when
 * observed and negated back when shown. Failures never enter the cost GP.
 * Categorical parameters are one-hot. All randomness comes from one seeded
 * generator, so that a seed and a set of observations give one suggestion.
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
 * Pending trials. Protein's acquisition uses the posterior mean only, and a
 * kriging believer (appending pending points at their predicted mean)
 * leaves that mean unchanged, so it cannot keep parallel suggestions apart.
 * Instead the acquisition of a candidate is lowered by
 *   spread * max_k exp(-r_k^2 / (2 rho^2)),
 *   r_k^2 = mean_j ((x_j - p_kj) / s_j)^2,
 * where p_k are the pending points, s_j the perturbation half-width of
 * dimension j and spread the range of the acquisition over the
 * candidates: a candidate on top of a pending point ranks below every
 * unpenalized one. The radius is rho = P^(-1/d) / 4 for P pending points
 * in d model dimensions, so that P balls of radius rho fill about as much
 * of the space as one of a quarter of the perturbation box; a larger
 * radius pushes batches into regions known to be bad, a smaller one puts
 * parallel points so close that on a noisy metric they are repeats.
 * The pending points are also search centers: a batch would otherwise lag
 * the in-flight frontier by its whole width, and along a cost parameter
 * whose perturbation is small the sweep could extend the cost only once
 * per batch.
 *
 * Warm-up. Scrambled Sobol (protein_sobol) over the non-constant
 * parameters. GSL's Sobol tables stop at 40 dimensions; beyond that the
 * warm-up uses seeded uniform random points, which lose only the
 * low-discrepancy property.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gp.h"
#include "internal.h"
#include "protein_clock.h"

#define TOP_K 5
#define MAX_CANDIDATES 65536
#define PREDICT_BATCH 2048
#define RESET_FREQUENCY 50
#define FAILURE_IMPUTE_LIMIT 100
#define COST_QUANTILE 0.97

static const double target_pool[] = {0.16, 0.32, 0.48, 0.64, 0.80, 1.00};
#define POOL_SIZE (sizeof(target_pool) / sizeof(target_pool[0]))

struct protein_optimizer {
    const protein_sweep_config *cfg;
    const protein_gp_backend *backend;
    int use_default_first;
    size_t dim, nfree;
    long cost_dim; /* model-space index of cfg->cost_param, -1 if none */
    protein_rng rng;
    protein_sobol *sobol; /* NULL when nfree is 0 or above 40 */
    long n_suggested;

    /* successes, in observation order; scores in the internal direction */
    size_t n_obs, cap_obs;
    double *obs_values, *obs_u, *obs_score, *obs_cost;
    /* failures (model space only) */
    size_t n_fail, cap_fail;
    double *fail_u;
    /* pending points (model space) */
    size_t n_pending, cap_pending;
    double *pending_u;
    double *scratch_u; /* dim doubles (dim >= nfree, so also a z vector) */

    void *score_state, *cost_state;
    protein_gp_params score_params, cost_params;
    protein_cost_model stop;
    double pool[POOL_SIZE];
    size_t pool_left;

    protein_grid grid; /* method grid only */
};

/* Everything one model suggestion allocates, freed together. */
typedef struct work {
    double lmin, lrange; /* log-cost target scaling */
    double *ts; /* the score GP's target for each success (n_obs) */
    size_t *rows; /* training rows: < n_fail failures, else successes */
    unsigned char *keep;
    double *Xs, *ys, *Xc, *yc; /* score and cost training sets */
    size_t ns, nc;
    size_t *front;
    double *centers, *cand; /* candidates: m x dim */
    size_t m;
    double *pred_s, *pred_c, *acq, *values;
} work;

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

static double dist2(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

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
    char errbuf[256] = "";
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
            protein_error_set(err, cfg, cfg->params[i].name,
                              "categorical parameter has no values; give at "
                              "least one");
            return PROTEIN_ECONFIG;
        }
    }
    opt = calloc(1, sizeof(*opt));
    if (opt == NULL)
        return PROTEIN_ENOMEM;
    opt->cfg = cfg;
    opt->backend = opts != NULL && opts->backend != NULL
                       ? opts->backend : &protein_gp_backend_cpu;
    opt->use_default_first = opts != NULL && opts->use_default_first;
    opt->dim = protein_space_dim(cfg);
    opt->nfree = protein_space_free_params(cfg);
    opt->cost_dim = -1;
    if (cfg->cost_param != NULL) {
        int i = protein_config_find_param(cfg, cfg->cost_param);
        if (i >= 0 && cfg->params[i].kind != PROTEIN_PARAM_CATEGORICAL &&
            cfg->params[i].kind != PROTEIN_PARAM_CONSTANT) {
            opt->cost_dim = (long)protein_space_offset(cfg, (size_t)i);
        }
    }
    if (cfg->has_seed) {
        seed = cfg->seed;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
    }
    protein_rng_seed(&opt->rng, seed);
    opt->scratch_u = calloc(opt->dim ? opt->dim : 1, sizeof(double));
    if (opt->scratch_u == NULL)
        goto fail;
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
        rc = protein_gp_params_init(&opt->score_params, opt->dim);
        if (rc == PROTEIN_OK)
            rc = protein_gp_params_init(&opt->cost_params, opt->dim);
        if (rc != PROTEIN_OK)
            goto fail;
        rc = opt->backend->create(&opt->score_state, opt->dim, errbuf,
                                  sizeof(errbuf));
        if (rc == PROTEIN_OK)
            rc = opt->backend->create(&opt->cost_state, opt->dim, errbuf,
                                      sizeof(errbuf));
        if (rc != PROTEIN_OK) {
            char msg[512];
            snprintf(msg, sizeof(msg), "GP backend \"%s\" failed to start: %s",
                     opt->backend->name, errbuf);
            protein_error_set(err, cfg, NULL, msg);
            goto fail;
        }
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
    free(opt->fail_u);
    free(opt->pending_u);
    free(opt->scratch_u);
    free(opt);
}

static void info_reset(protein_suggestion_info *info,
                       protein_suggestion_source source)
{
    info->source = source;
    info->predicted_score = NAN;
    info->predicted_cost = NAN;
    info->target_cost = NAN;
    info->n_candidates = 0;
    info->fit_seconds = 0;
    info->predict_seconds = 0;
}

/* A uniform point in parameter space (method random, and the warm-up
 * beyond 40 parameters). */
static void random_point(protein_optimizer *opt, double *values)
{
    double *z = opt->scratch_u; /* dim >= nfree */
    for (size_t j = 0; j < opt->nfree; j++)
        z[j] = protein_rng_uniform(&opt->rng);
    protein_space_from_unit(opt->cfg, z, values);
}

/* A warm-up point: scrambled Sobol in parameter space with the cost
 * parameter forced near the cheap end (u = -0.8 + 0.1 N(0,1)). */
static void warmup_point(protein_optimizer *opt, double *values)
{
    if (opt->sobol != NULL) {
        double z[PROTEIN_SOBOL_MAX_DIM];
        protein_sobol_next(opt->sobol, z);
        protein_space_from_unit(opt->cfg, z, values);
    } else {
        random_point(opt, values);
    }
    if (opt->cost_dim >= 0) {
        double *u = opt->scratch_u;
        protein_space_normalize(opt->cfg, values, u);
        u[opt->cost_dim] =
            clip1(-0.8 + 0.1 * protein_rng_normal(&opt->rng));
        protein_space_denormalize(opt->cfg, u, values);
    }
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


/* Target cost t (research note section 3.1): one element of the shuffled
 * pool per call, jittered by 0.1 N(0,1), clipped to [0,1], times
 * 1 + expansion_rate when there is a cost parameter (see the top of this
 * file). */
static double sample_target(protein_optimizer *opt)
{
    double r, expansion = opt->cfg->expansion_rate;
    if (opt->pool_left == 0) {
        memcpy(opt->pool, target_pool, sizeof(opt->pool));
        for (size_t i = POOL_SIZE - 1; i > 0; i--) {
            size_t j = protein_rng_index(&opt->rng, i + 1);
            double t = opt->pool[i];
            opt->pool[i] = opt->pool[j];
            opt->pool[j] = t;
        }
        opt->pool_left = POOL_SIZE;
    }
    r = opt->pool[--opt->pool_left] + 0.1 * protein_rng_normal(&opt->rng);
    r = r < 0 ? 0 : r > 1 ? 1 : r;
    if (opt->cost_dim < 0)
        return r;
    if (expansion < 0)
        expansion = PROTEIN_DEFAULT_EXPANSION_RATE;
    return (1.0 + expansion) * r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

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

static int fit_gp(protein_optimizer *opt, void *state,
                  protein_gp_params *params, const double *X, const double *y,
                  size_t n)
{
    protein_gp_fit_options fo;
    protein_gp_fit_report rep;
    char errbuf[256];
    int rc;

    memset(&fo, 0, sizeof(fo)); /* the backend's defaults (gp.h) */
    fo.iterations = opt->cfg->gp_training_iter > 0 ? opt->cfg->gp_training_iter
                                                   : 0;
    rc = opt->backend->fit(state, X, y, n, params, &fo, &rep, errbuf,
                           sizeof(errbuf));
    if (rc != PROTEIN_OK) {
        /* start the next fit from scratch rather than from a bad theta */
        protein_gp_params_free(params);
        if (protein_gp_params_init(params, opt->dim) != PROTEIN_OK)
            return PROTEIN_ENOMEM;
    }
    return rc;
}

/* The scaled squared distance r^2 between candidate x and pending point
 * p used by the pending penalty (see the top of this file). */
static double pending_r2(const double *x, const double *p, const double *sc,
                         size_t d)
{
    double r2 = 0;
    for (size_t j = 0; j < d; j++) {
        double z = (x[j] - p[j]) / sc[j];
        r2 += z * z;
    }
    return r2 / (double)d;
}

/* The radius rho of the pending penalty for P pending points. */
static double pending_rho(const protein_optimizer *opt, size_t n_pending)
{
    return 0.25 * pow((double)n_pending, -1.0 / (double)opt->dim);
}

/* Lowers the acquisition acq of the m candidates near pending points by
 * up to `spread` (see the comment at the top of this file). */
static void penalize_pending(const protein_optimizer *opt, const double *cand,
                             size_t m, const double *sc, double spread,
                             double *acq)
{
    const size_t d = opt->dim;
    const double rho = pending_rho(opt, opt->n_pending);
    for (size_t k = 0; k < m; k++) {
        double r2 = INFINITY;
        for (size_t p = 0; p < opt->n_pending; p++)
            r2 = fmin(r2, pending_r2(cand + k * d, opt->pending_u + p * d,
                                     sc, d));
        acq[k] -= spread * exp(-r2 / (2 * rho * rho));
    }
}

/* Training targets: scores through protein_rank_normal; log-costs from
 * their minimum to their 0.97 quantile (research note section 4). */
static int compute_targets(const protein_optimizer *opt, work *w)
{
    const size_t n = opt->n_obs;
    double pos = COST_QUANTILE * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
    double *lc = malloc(n * sizeof(double));

    w->ts = malloc(n * sizeof(double));
    if (lc == NULL || w->ts == NULL) {
        free(lc);
        return PROTEIN_ENOMEM;
    }
    if (protein_rank_normal(opt->obs_score, n, w->ts) != PROTEIN_OK) {
        free(lc);
        return PROTEIN_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        lc[i] = log(opt->obs_cost[i]);
    qsort(lc, n, sizeof(double), cmp_double);
    w->lmin = lc[0];
    w->lrange = lc[lo] + (pos - (double)lo) * (lc[hi] - lc[lo]) - lc[0] + 1e-6;
    free(lc);
    return PROTEIN_OK;
}

/* Builds both training sets from the selected rows: the score GP gets the
 * failures (imputed at the minimum score) and successes, the cost GP the
 * successes only. */
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
            memcpy(w->Xs + w->ns * d, opt->fail_u + r * d, d * sizeof(double));
            w->ys[w->ns++] = 0.0;
        } else {
            size_t i = r - opt->n_fail;
            memcpy(w->Xs + w->ns * d, opt->obs_u + i * d, d * sizeof(double));
            w->ys[w->ns++] = w->ts[i];
            memcpy(w->Xc + w->nc * d, opt->obs_u + i * d, d * sizeof(double));
            w->yc[w->nc++] = (log(opt->obs_cost[i]) - w->lmin) / w->lrange;
        }
    }
    return PROTEIN_OK;
}

/* Pareto front, pruning and the early-stop model; w->front[0..*nf) are
 * the search centers from the front (pruned when prune_pareto). */
static int update_front(protein_optimizer *opt, work *w, size_t *nf)
{
    const protein_sweep_config *cfg = opt->cfg;
    double q = cfg->early_stop_quantile > 0 && cfg->early_stop_quantile < 1
                   ? cfg->early_stop_quantile : 0.3;
    size_t nfront, npruned;
    int rc;

    w->front = malloc(opt->n_obs * sizeof(size_t));
    if (w->front == NULL)
        return PROTEIN_ENOMEM;
    rc = protein_pareto_compute(opt->obs_score, opt->obs_cost, opt->n_obs,
                                w->front, &nfront);
    if (rc != PROTEIN_OK)
        return rc;
    npruned = protein_pareto_prune(opt->obs_score, opt->obs_cost, w->front,
                                   nfront);
    protein_cost_model_update_upper(&opt->stop,
                                    opt->obs_cost[w->front[npruned - 1]]);
    rc = protein_cost_model_fit(&opt->stop, opt->obs_score, opt->obs_cost,
                                opt->n_obs, q);
    *nf = cfg->prune_pareto ? npruned : nfront;
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
            if (!taken && (bi == SIZE_MAX ||
                           opt->obs_score[i] > opt->obs_score[bi]))
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

/* Candidates: suggestions_per_pareto per center (at most MAX_CANDIDATES),
 * each a uniform perturbation of +-scale per dimension around a random
 * center, reflected into [-1, 1], snapped to a runnable point and
 * deduplicated. Sets w->m. */
static int make_candidates(protein_optimizer *opt, work *w, size_t ncenters,
                           const double *sc)
{
    const protein_sweep_config *cfg = opt->cfg;
    const size_t d = opt->dim;
    size_t spp = cfg->suggestions_per_pareto > 0
                     ? (size_t)cfg->suggestions_per_pareto : 256;
    size_t m = ncenters * spp < MAX_CANDIDATES ? ncenters * spp
                                               : MAX_CANDIDATES;
    size_t kept;

    w->cand = malloc(m * d * sizeof(double));
    w->values = malloc((cfg->n_params ? cfg->n_params : 1) * sizeof(double));
    free(w->keep); /* the training rows' flags are no longer needed */
    w->keep = malloc(m);
    if (w->cand == NULL || w->values == NULL || w->keep == NULL)
        return PROTEIN_ENOMEM;
    for (size_t k = 0; k < m; k++) {
        const double *c =
            w->centers + protein_rng_index(&opt->rng, ncenters) * d;
        double *x = w->cand + k * d;
        for (size_t j = 0; j < d; j++)
            x[j] = reflect1(c[j] + sc[j] * (2.0 * protein_rng_uniform(
                                                   &opt->rng) - 1.0));
        protein_space_snap(cfg, x, w->values);
    }
    kept = protein_dedup_rows(w->cand, m, d, PROTEIN_DEDUP_RADIUS, w->keep);
    if (kept == (size_t)-1)
        return PROTEIN_ENOMEM;
    for (size_t k = 0, o = 0; k < m; k++)
        if (w->keep[k])
            memmove(w->cand + o++ * d, w->cand + k * d, d * sizeof(double));
    w->m = kept;
    return PROTEIN_OK;
}

/* Acquisition before the pending penalty (research note section 3): the
 * predicted score times the budget mask times the cost triangle
 * 1 - |t - c| (rescaled when some candidate lies further than 1 from t),
 * into acq[0..m); its finite range goes to *amin, *amax. */
static void base_acquisition(const protein_optimizer *opt, const work *w,
                             double t, double *acq, double *amin,
                             double *amax)
{
    const double max_cost = opt->cfg->max_suggestion_cost;
    double reach = 1.0;

    *amin = INFINITY;
    *amax = -INFINITY;
    for (size_t k = 0; k < w->m; k++)
        if (isfinite(w->pred_c[k]))
            reach = fmax(reach, fabs(t - w->pred_c[k]));
    for (size_t k = 0; k < w->m; k++) {
        double a = w->pred_s[k], c = w->pred_c[k];
        if (max_cost > 0 && !(exp(c * w->lrange + w->lmin) < max_cost))
            a = 0.0;
        else
            a *= 1.0 - fabs(t - c) / reach;
        acq[k] = a;
        if (isfinite(a)) {
            *amin = fmin(*amin, a);
            *amax = fmax(*amax, a);
        }
    }
}

/* The index of the largest finite acq[k] in *best, skipping candidates
 * with taken[k] set (taken may be NULL); PROTEIN_ENUMERIC when none. */
static int argmax_acquisition(const double *acq, size_t m,
                              const unsigned char *taken, size_t *best)
{
    double top = -INFINITY;

    for (size_t k = 0; k < m; k++) {
        if ((taken == NULL || !taken[k]) && isfinite(acq[k]) &&
            acq[k] > top) {
            top = acq[k];
            *best = k;
        }
    }
    return isfinite(top) ? PROTEIN_OK : PROTEIN_ENUMERIC;
}

/* Acquisition (base_acquisition) lowered near pending points. Returns the
 * best candidate's index in *best, or PROTEIN_ENUMERIC when no candidate
 * has a finite acquisition. */
static int choose(protein_optimizer *opt, work *w, const double *sc,
                  double t, size_t *best)
{
    double amin, amax;

    w->acq = malloc(w->m * sizeof(double));
    if (w->acq == NULL)
        return PROTEIN_ENOMEM;
    base_acquisition(opt, w, t, w->acq, &amin, &amax);
    if (opt->n_pending > 0 && amax >= amin)
        penalize_pending(opt, w->cand, w->m, sc, amax - amin + 1e-12, w->acq);
    return argmax_acquisition(w->acq, w->m, NULL, best);
}

/* Everything a model suggestion needs before the acquisition: both GPs
 * fitted (warm-started; Adam moments reset every 50 suggestions), the
 * search centers, the candidates and both GPs' predictions at them, in
 * *w (the caller frees it with work_free). sc receives the perturbation
 * scales. */
static int model_prepare(protein_optimizer *opt, work *w, double *sc,
                         protein_suggestion_info *info)
{
    size_t nrows, nf, ncenters;
    double t0;
    int rc;

    protein_space_scales(opt->cfg, sc);
    rc = compute_targets(opt, w);
    if (rc == PROTEIN_OK)
        rc = select_rows(opt, w, &nrows);
    if (rc == PROTEIN_OK)
        rc = build_training(opt, w, nrows);
    if (rc != PROTEIN_OK)
        return rc;

    if (opt->n_suggested % RESET_FREQUENCY == 0) {
        protein_gp_params_reset_moments(&opt->score_params);
        protein_gp_params_reset_moments(&opt->cost_params);
    }
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    rc = fit_gp(opt, opt->score_state, &opt->score_params, w->Xs, w->ys, w->ns);
    if (rc == PROTEIN_OK)
        rc = fit_gp(opt, opt->cost_state, &opt->cost_params, w->Xc, w->yc, w->nc);
    info->fit_seconds = protein_clock_seconds(CLOCK_MONOTONIC) - t0;
    if (rc != PROTEIN_OK)
        return rc;

    rc = update_front(opt, w, &nf);
    if (rc == PROTEIN_OK)
        rc = build_centers(opt, w, nf, &ncenters);
    if (rc == PROTEIN_OK)
        rc = make_candidates(opt, w, ncenters, sc);
    if (rc != PROTEIN_OK)
        return rc;
    w->pred_s = malloc(w->m * sizeof(double));
    w->pred_c = malloc(w->m * sizeof(double));
    if (w->pred_s == NULL || w->pred_c == NULL)
        return PROTEIN_ENOMEM;
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    rc = predict_all(opt, opt->score_state, w->cand, w->m, w->pred_s);
    if (rc == PROTEIN_OK)
        rc = predict_all(opt, opt->cost_state, w->cand, w->m, w->pred_c);
    info->predict_seconds = protein_clock_seconds(CLOCK_MONOTONIC) - t0;
    return rc;
}

/* Writes candidate `best` of *w to values and describes it in info. */
static void model_pick(const protein_optimizer *opt, const work *w,
                       size_t best, double t, double *values,
                       protein_suggestion_info *info)
{
    protein_space_denormalize(opt->cfg, w->cand + best * opt->dim, values);
    info->source = PROTEIN_SOURCE_MODEL;
    info->predicted_score = protein_rank_normal_inverse(
        opt->obs_score, w->ts, opt->n_obs, w->pred_s[best]);
    if (opt->cfg->minimize)
        info->predicted_score = -info->predicted_score;
    info->predicted_cost = exp(w->pred_c[best] * w->lrange + w->lmin);
    info->target_cost = t;
    info->n_candidates = w->m;
}

/* The GP-guided suggestion (research note section 3). Returns PROTEIN_OK,
 * PROTEIN_ENOMEM, or another status when the models fail (the caller then
 * falls back to a warm-up point). */
static int model_suggest(protein_optimizer *opt, double *values,
                         protein_suggestion_info *info)
{
    work w;
    size_t best = 0;
    double scales[512], *sc = scales, t;
    int rc;

    memset(&w, 0, sizeof(w));
    if (opt->dim > sizeof(scales) / sizeof(scales[0])) {
        sc = malloc(opt->dim * sizeof(*sc));
        if (sc == NULL)
            return PROTEIN_ENOMEM;
    }
    rc = model_prepare(opt, &w, sc, info);
    if (rc != PROTEIN_OK)
        goto fail;
    t = sample_target(opt);
    rc = choose(opt, &w, sc, t, &best);
    if (rc == PROTEIN_OK)
        model_pick(opt, &w, best, t, values, info);
fail:
    if (sc != scales)
        free(sc);
    work_free(&w);
    return rc;
}

/* Up to n model suggestions from one fit, one candidate set and one
 * prediction pass: each is the best candidate by the acquisition at its
 * own target cost, lowered near the pending points and near the
 * suggestions made before it in the batch, which become pending points.
 * The nearest pending distance of every candidate is kept and updated
 * with each pick, so a pick costs O(m d) rather than O(m P d). values
 * holds n rows of cfg->n_params; infos (may be NULL) n entries. *made
 * receives how many were made (all of them unless the candidates run
 * out). Returns PROTEIN_OK when at least one was made, PROTEIN_ENOMEM, or
 * another status when the models fail. */
static int model_batch(protein_optimizer *opt, size_t n, double *values,
                       protein_suggestion_info *infos, size_t *made)
{
    const size_t d = opt->dim, np = opt->cfg->n_params;
    protein_suggestion_info first;
    unsigned char *taken = NULL;
    double *near = NULL, *sc = NULL, amin, amax, t, rho;
    work w;
    size_t best = 0;
    int rc;

    *made = 0;
    memset(&w, 0, sizeof(w));
    info_reset(&first, PROTEIN_SOURCE_MODEL);
    sc = malloc(d * sizeof(*sc));
    if (sc == NULL)
        return PROTEIN_ENOMEM;
    opt->n_suggested++;
    rc = model_prepare(opt, &w, sc, &first);
    if (rc != PROTEIN_OK)
        goto fail;
    rc = PROTEIN_ENOMEM;
    w.acq = malloc(w.m * sizeof(double));
    near = malloc(w.m * sizeof(double));
    taken = calloc(w.m ? w.m : 1, 1);
    if (w.acq == NULL || near == NULL || taken == NULL)
        goto fail;
    for (size_t k = 0; k < w.m; k++) {
        near[k] = INFINITY;
        for (size_t p = 0; p < opt->n_pending; p++)
            near[k] = fmin(near[k], pending_r2(w.cand + k * d,
                                               opt->pending_u + p * d, sc, d));
    }
    for (; *made < n; (*made)++) {
        protein_suggestion_info *info = infos ? &infos[*made] : &first;
        double *v = values + *made * np;

        if (*made > 0)
            opt->n_suggested++;
        if (infos)
            info_reset(info, PROTEIN_SOURCE_MODEL);
        t = sample_target(opt);
        base_acquisition(opt, &w, t, w.acq, &amin, &amax);
        rho = pending_rho(opt, opt->n_pending);
        if (opt->n_pending > 0 && amax >= amin)
            for (size_t k = 0; k < w.m; k++)
                w.acq[k] -= (amax - amin + 1e-12) *
                            exp(-near[k] / (2 * rho * rho));
        rc = argmax_acquisition(w.acq, w.m, taken, &best);
        if (rc != PROTEIN_OK)
            break;
        if (infos && *made == 0) {
            info->fit_seconds = first.fit_seconds;
            info->predict_seconds = first.predict_seconds;
        }
        model_pick(opt, &w, best, t, v, info);
        taken[best] = 1;
        rc = protein_add_pending(opt, v);
        if (rc != PROTEIN_OK)
            break;
        for (size_t k = 0; k < w.m; k++)
            near[k] = fmin(near[k], pending_r2(w.cand + k * d,
                                               w.cand + best * d, sc, d));
    }
    if (*made > 0 && rc == PROTEIN_ENUMERIC)
        rc = PROTEIN_OK;
fail:
    free(sc);
    free(near);
    free(taken);
    work_free(&w);
    return rc;
}

/* Whether suggestion number k (1-based) of method protein is a warm-up
 * point: the first num_random_samples, and any while there is no success
 * or nothing to model. */
static int in_warmup(const protein_optimizer *opt, long k)
{
    long warmup = opt->cfg->num_random_samples > 0
                      ? opt->cfg->num_random_samples : 0;
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
        info_reset(info, PROTEIN_SOURCE_RANDOM);
        random_point(opt, values);
        return PROTEIN_OK;
    case PROTEIN_METHOD_GRID:
        info_reset(info, PROTEIN_SOURCE_GRID);
        return protein_grid_next(&opt->grid, values);
    default:
        break;
    }
    opt->n_suggested++;
    if (opt->use_default_first && opt->n_suggested == 1 &&
        defaults_point(opt, values)) {
        info_reset(info, PROTEIN_SOURCE_DEFAULT);
        return PROTEIN_OK;
    }
    info_reset(info, PROTEIN_SOURCE_SOBOL);
    if (in_warmup(opt, opt->n_suggested)) {
        warmup_point(opt, values);
        return PROTEIN_OK;
    }
    rc = model_suggest(opt, values, info);
    if (rc == PROTEIN_ENOMEM)
        return rc;
    if (rc != PROTEIN_OK) {
        double fit = info->fit_seconds, pred = info->predict_seconds;
        info_reset(info, PROTEIN_SOURCE_SOBOL);
        info->fit_seconds = fit;
        info->predict_seconds = pred;
        warmup_point(opt, values);
    }
    return PROTEIN_OK;
}

/* Suggestions in a batch; see protein.h. Warm-up, default and non-model
 * methods go one at a time through protein_suggest; model suggestions
 * come from model_batch, one fit for the rest of the batch. A failing
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
            rc = model_batch(opt, n - *made, v, infos ? info : NULL, &k);
            *made += k;
            if (rc == PROTEIN_ENOMEM || k > 0) {
                if (rc != PROTEIN_OK)
                    return rc;
                continue;
            }
            info_reset(info, PROTEIN_SOURCE_SOBOL);
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

static int values_finite(const protein_optimizer *opt, const double *values)
{
    for (size_t i = 0; i < opt->cfg->n_params; i++)
        if (!isfinite(values[i]))
            return 0;
    return 1;
}

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

/* Records a finished trial; see protein.h. Follows Protein: a success
 * within 1e-6 (model space) of an earlier one replaces it; a success whose
 * cost parameter sits at or below its minimum (u <= -1) is not kept (it
 * says nothing about the cost axis); a non-finite score counts as a
 * failure. A pending point at the same place is removed. Returns
 * PROTEIN_EINVAL for NULL or non-finite values or, on success, a negative
 * or non-finite cost; PROTEIN_ENOMEM. */
int protein_observe(protein_optimizer *opt, const double *values, double score,
                    double cost, protein_outcome outcome)
{
    const size_t d = opt != NULL ? opt->dim : 0;
    const double r2 = PROTEIN_DEDUP_RADIUS * PROTEIN_DEDUP_RADIUS;
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
    for (i = 0; i < opt->n_obs; i++)
        if (dist2(opt->obs_u + i * d, u, d) <= r2)
            break;
    if (i == opt->n_obs) {
        if (opt->cost_dim >= 0 && u[opt->cost_dim] <= -1.0)
            return PROTEIN_OK;
        if (reserve_obs(opt, opt->n_obs + 1) != PROTEIN_OK)
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

/* Early-stop threshold in the user's direction; see protein.h. */
double protein_early_stop_threshold(const protein_optimizer *opt, double cost)
{
    double t;
    if (opt == NULL)
        return -INFINITY;
    t = protein_cost_model_threshold(&opt->stop, cost);
    return opt->cfg->minimize ? -t : t;
}

/* Unpruned Pareto front; see protein.h. Returns the front's size, which
 * may exceed max (only max indices are written then); 0 on allocation
 * failure or without successes. */
size_t protein_pareto_front(const protein_optimizer *opt, size_t *indices,
                            size_t max)
{
    size_t *front, nf = 0;
    if (opt == NULL || opt->n_obs == 0)
        return 0;
    front = malloc(opt->n_obs * sizeof(*front));
    if (front == NULL)
        return 0;
    if (protein_pareto_compute(opt->obs_score, opt->obs_cost, opt->n_obs, front,
                               &nf) != PROTEIN_OK)
        nf = 0;
    if (indices != NULL)
        memcpy(indices, front, (nf < max ? nf : max) * sizeof(*front));
    free(front);
    return nf;
}
