#include "config.h"

/*
 * bench_quality.c - search quality of method protein against method
 * random on five synthetic objectives:
 *
 *   rl        RL-shaped (maximize): an optimizer choice (3 categories), a
 *             log learning rate whose best value depends on it, a discount
 *             (logit), a batch size (pow2) and timesteps (the cost
 *             parameter, cost = steps / 1e5 s) that buy score with
 *             diminishing returns; optimum 100.
 *   valley    Rosenbrock in 6-D on [-2, 2]^5 x an integer axis 0..20
 *             (minimize; optimum 0 at k = 15); no cost (every trial 1).
 *   puffer    PufferLib's synthetic sweep test: score = exp(-(log10 lr + 3)^2)
 *             * log10(steps / 1e6) / 3 (maximize; optimum 1 at lr = 1e-3,
 *             steps = 1e9), cost = steps / 1e6 seconds (the cost
 *             parameter), plus three parameters that do not matter.
 *   branin    Branin on [-5,10] x [0,15] (minimize; optimum 0.397887), cost
 *             5 exp(2 (x1 + 5) / 15) seconds: the optimum at x1 = -pi is
 *             the cheapest of the three.
 *   hartmann6 Hartmann-6 on [0,1]^6 (minimize; optimum -3.32237), cost
 *             5 exp(2 x1) seconds.
 *
 * Each run has --trials trials; --seeds seeds per arm. Sequential: suggest,
 * evaluate, observe. Parallel: 16 trials in flight (suggest 16, then
 * observe the oldest and suggest one more), with and without marking the
 * in-flight trials pending; and batches: 16 in flight, refilled 8 at a
 * time by one protein_suggest_batch each, as proteind fills a queue. Reported
 * per arm: the median over seeds of the best score, and of the best score
 * within equal total cost (the smaller of the two runs' total costs, per seed,
 * against random); the seeds where protein beat random at equal cost; the
 * median number of suggestions that landed within 0.01 (model space) of a trial
 * still in flight; the optimizer's time per trial.
 *
 *   bench_quality [--trials 200] [--seeds 10] [--objective NAME]
 *                 [--expansion 1.0]   (Protein's expansion_rate; the default)
 *                 [--arm sequential|pending|unmarked|batches]
 *                                   (one arm only)
 *                 [--verbose]   (also each seed's best and best at cost)
 *                 [--trace]     (also every trial: score, cost, values)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optimizer_fixture.h"

#define WINDOW 16
#define NEAR 0.01 /* model-space distance counted as a near-duplicate */
#define MAX_SEEDS 64

typedef struct objective {
    const char *name;
    int minimize;
    void (*space)(fx_sweep *s);
    double (*eval)(const double *v, double *cost);
    double optimum;
} objective;

static void puffer_space(fx_sweep *s)
{
    s->cfg.cost_param = (char *)"train/total_timesteps";
    fx_numeric(s, "train/learning_rate", PROTEIN_PARAM_LOG, 1e-5, 1e-1);
    fx_numeric(s, "train/total_timesteps", PROTEIN_PARAM_LOG, 1e7, 1e9)->scale =
        1.0 / (log2(1e9) - log2(1e7));
    fx_numeric(s, "train/ent_coef", PROTEIN_PARAM_LOG, 1e-4, 1e-1);
    fx_numeric(s, "train/gamma", PROTEIN_PARAM_LOGIT, 0.9, 0.999);
    fx_numeric(s, "train/minibatch_size", PROTEIN_PARAM_POW2, 16, 1024);
}

static double puffer_eval(const double *v, double *cost)
{
    double a = log10(v[0]) + 3.0;
    *cost = v[1] / 1e6;
    return exp(-a * a) * log10(v[1] / 1e6) / 3.0;
}

static void branin_space(fx_sweep *s)
{
    fx_numeric(s, "x1", PROTEIN_PARAM_LINEAR, -5, 10);
    fx_numeric(s, "x2", PROTEIN_PARAM_LINEAR, 0, 15);
}

static double branin_eval(const double *v, double *cost)
{
    const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    double x1 = v[0], x2 = v[1], q = x2 - b * x1 * x1 + c * x1 - 6;
    *cost = 5 * exp(2 * (x1 + 5) / 15);
    return q * q + 10 * (1 - t) * cos(x1) + 10;
}

static void hartmann_space(fx_sweep *s)
{
    static const char *names[6] = {"x1", "x2", "x3", "x4", "x5", "x6"};
    for (int i = 0; i < 6; i++)
        fx_numeric(s, names[i], PROTEIN_PARAM_LINEAR, 0, 1);
}

static double hartmann_eval(const double *v, double *cost)
{
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {
        {0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
        {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
        {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
        {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double f = 0;
    for (int i = 0; i < 4; i++) {
        double e = 0;
        for (int j = 0; j < 6; j++)
            e += A[i][j] * (v[j] - P[i][j]) * (v[j] - P[i][j]);
        f -= alpha[i] * exp(-e);
    }
    *cost = 5 * exp(2 * v[0]);
    return f;
}

/* RL-shaped: an optimizer choice, a learning rate whose best value
 * depends on it, a discount, a batch size and a number of timesteps that
 * buys score with diminishing returns and costs time. */
static void rl_space(fx_sweep *s)
{
    s->cfg.cost_param = (char *)"steps";
    fx_categorical(s, "optimizer", 3);
    fx_numeric(s, "lr", PROTEIN_PARAM_LOG, 1e-5, 1.0);
    fx_numeric(s, "gamma", PROTEIN_PARAM_LOGIT, 0.8, 0.9999);
    fx_numeric(s, "batch", PROTEIN_PARAM_POW2, 16, 4096);
    fx_numeric(s, "steps", PROTEIN_PARAM_LOG, 1e5, 1e8)->scale =
        1.0 / (log2(1e8) - log2(1e5));
}

static double rl_eval(const double *v, double *cost)
{
    static const double centre[3] = {-3.3, -1.2, -2.7},
                        peak[3] = {1.0, 0.85, 0.93};
    int o = (int)v[0];
    double a = (log10(v[1]) - centre[o]) / 0.8;
    double g = (log10(1.0 - v[2]) + 2.2) / 0.9;
    double b = (log2(v[3]) - 8.0) / 3.0;
    *cost = v[4] / 1e5;
    return 100.0 * peak[o] * exp(-a * a) * exp(-g * g) * exp(-b * b) *
           (1.0 - exp(-v[4] / 3e6));
}

/* A curved 6-D valley (Rosenbrock) whose last axis is an integer; no cost
 * is reported, so every trial costs 1. */
static void valley_space(fx_sweep *s)
{
    static const char *names[5] = {"x1", "x2", "x3", "x4", "x5"};
    for (int i = 0; i < 5; i++)
        fx_numeric(s, names[i], PROTEIN_PARAM_LINEAR, -2, 2);
    fx_numeric(s, "k", PROTEIN_PARAM_LINEAR, 0, 20)->is_integer = 1;
}

static double valley_eval(const double *v, double *cost)
{
    double x[6], f = 0;
    for (int i = 0; i < 5; i++)
        x[i] = v[i];
    x[5] = (v[5] - 10.0) / 5.0;
    for (int i = 0; i < 5; i++)
        f += 100 * (x[i + 1] - x[i] * x[i]) * (x[i + 1] - x[i] * x[i]) +
             (1 - x[i]) * (1 - x[i]);
    *cost = 1.0;
    return f;
}

static const objective objectives[] = {
    {"rl", 0, rl_space, rl_eval, 100.0},
    {"valley", 1, valley_space, valley_eval, 0.0},
    {"puffer", 0, puffer_space, puffer_eval, 1.0},
    {"branin", 1, branin_space, branin_eval, 0.397887},
    {"hartmann6", 1, hartmann_space, hartmann_eval, -3.32237},
};

/* One run's outcomes in completion order. */
typedef struct run {
    int n;
    double *score, *cost;
    double seconds;
    int near_dups; /* suggestions within NEAR of one still in flight */
} run;

typedef enum arm_mode {
    SEQUENTIAL,
    PARALLEL,
    PARALLEL_NO_PENDING,
    PARALLEL_BATCHES
} arm_mode;

/* The batches arm: the trials in flight are refilled WAVE at a time, each
 * refill one protein_suggest_batch (one fit), as proteind fills a queue. */
#define WAVE 8

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int better(const objective *o, double a, double b)
{
    return o->minimize ? a < b : a > b;
}

/* Print every trial in completion order (--trace). */
static int trace;
static const protein_sweep_config *trace_cfg;

static void record(run *r, const objective *o, protein_optimizer *opt,
                   const double *v)
{
    double cost, score = o->eval(v, &cost);
    if (trace) {
        printf("    trial %3d score %10.4f cost %10.3f |", r->n, score, cost);
        for (size_t i = 0; i < trace_cfg->n_params; i++)
            printf(" %.4g", v[i]);
        printf("\n");
    }
    r->score[r->n] = score;
    r->cost[r->n] = cost;
    r->n++;
    protein_observe(opt, v, score, cost, PROTEIN_OUTCOME_SUCCESS);
}

/* Whether v lies within NEAR (model space) of one of the n points in
 * flight, window[head..head+n). */
static int near_inflight(const protein_sweep_config *cfg,
                         double window[][FX_MAX_PARAMS], int head, int n,
                         const double *v)
{
    double u[FX_MAX_PARAMS], w[FX_MAX_PARAMS];
    size_t dim = protein_space_dim(cfg);
    protein_space_normalize(cfg, v, u);
    for (int k = 0; k < n; k++) {
        double d2 = 0;
        protein_space_normalize(cfg, window[(head + k) % WINDOW], w);
        for (size_t j = 0; j < dim; j++)
            d2 += (u[j] - w[j]) * (u[j] - w[j]);
        if (d2 < NEAR * NEAR)
            return 1;
    }
    return 0;
}

/* Print each seed's results (--verbose). */
static int verbose;

/* Protein's expansion_rate for every run (--expansion). */
static double expansion_rate = 1.0;

static int do_run(const objective *o, protein_method method, arm_mode mode,
                  uint64_t seed, int trials, run *r)
{
    fx_sweep s;
    protein_optimizer *opt = NULL;
    protein_error err;
    double window[WINDOW][FX_MAX_PARAMS];
    int head = 0, inflight = 0, rc;

    fx_init(&s, seed);
    s.cfg.method = method;
    s.cfg.minimize = o->minimize;
    s.cfg.expansion_rate = expansion_rate;
    s.cfg.max_trials = trials; /* the budget, as `protein run` gives it */
    o->space(&s);
    trace_cfg = &s.cfg;
    rc = protein_optimizer_create(&s.cfg, NULL, &opt, &err);
    if (rc != PROTEIN_OK) {
        fprintf(stderr, "bench_quality: %s: %s\n", o->name, err.message);
        return rc;
    }
    r->n = 0;
    r->near_dups = 0;
    r->seconds = now();
    for (int t = 0; mode == PARALLEL_BATCHES && t < trials;) {
        double batch[WINDOW * FX_MAX_PARAMS];
        size_t want = (size_t)(WINDOW - inflight), made = 0;

        if (want > (size_t)(trials - t))
            want = (size_t)(trials - t);
        rc = protein_suggest_batch(opt, want, batch, NULL, &made);
        if (rc != PROTEIN_OK || made == 0)
            break;
        for (size_t k = 0; k < made; k++, t++) {
            double *v = window[(head + inflight) % WINDOW];
            memcpy(v, batch + k * s.cfg.n_params, s.cfg.n_params * sizeof(*v));
            r->near_dups += near_inflight(&s.cfg, window, head, inflight, v);
            inflight++;
        }
        for (int k = 0; k < WAVE && inflight > 0 && t < trials; k++) {
            record(r, o, opt, window[head]);
            head = (head + 1) % WINDOW;
            inflight--;
        }
    }
    for (int t = 0; mode != PARALLEL_BATCHES && t < trials; t++) {
        double *v = window[(head + inflight) % WINDOW];
        rc = protein_suggest(opt, v, NULL);
        if (rc != PROTEIN_OK)
            break;
        if (mode == SEQUENTIAL) {
            record(r, o, opt, v);
            continue;
        }
        r->near_dups += near_inflight(&s.cfg, window, head, inflight, v);
        if (mode == PARALLEL)
            protein_add_pending(opt, v);
        if (++inflight == WINDOW) {
            record(r, o, opt, window[head]);
            head = (head + 1) % WINDOW;
            inflight--;
        }
    }
    for (; inflight > 0; inflight--, head = (head + 1) % WINDOW)
        record(r, o, opt, window[head]);
    r->seconds = now() - r->seconds;
    protein_optimizer_free(opt);
    if (rc != PROTEIN_OK)
        fprintf(stderr, "bench_quality: %s: suggest failed: %s\n", o->name,
                protein_strerror(rc));
    return rc;
}

static double best_within(const objective *o, const run *r, double budget)
{
    double best = NAN, spent = 0;
    for (int i = 0; i < r->n; i++) {
        spent += r->cost[i];
        if (spent > budget)
            break;
        if (isnan(best) || better(o, r->score[i], best))
            best = r->score[i];
    }
    return best;
}

static double total_cost(const run *r)
{
    double c = 0;
    for (int i = 0; i < r->n; i++)
        c += r->cost[i];
    return c;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int alloc_run(run *r, int trials)
{
    r->score = malloc((size_t)trials * sizeof(double));
    r->cost = malloc((size_t)trials * sizeof(double));
    return r->score != NULL && r->cost != NULL;
}

/* Runs `arm` (method, mode) and random in the same mode over all seeds
 * and prints one line. */
static int compare(const objective *o, arm_mode mode, const char *label,
                   int trials, int seeds)
{
    double best_p[MAX_SEEDS], best_r[MAX_SEEDS], eq_p[MAX_SEEDS],
        eq_r[MAX_SEEDS], dups[MAX_SEEDS], secs = 0;
    int wins = 0, rc = 0;
    run p = {0}, rnd = {0};

    if (!alloc_run(&p, trials) || !alloc_run(&rnd, trials)) {
        rc = PROTEIN_ENOMEM;
        goto done;
    }
    for (int k = 0; k < seeds; k++) {
        uint64_t seed = 1000 + (uint64_t)k;
        double budget;
        rc = do_run(o, PROTEIN_METHOD_PROTEIN, mode, seed, trials, &p);
        if (rc == PROTEIN_OK)
            rc = do_run(o, PROTEIN_METHOD_RANDOM, mode, seed, trials, &rnd);
        if (rc != PROTEIN_OK)
            goto done;
        secs += p.seconds;
        dups[k] = p.near_dups;
        best_p[k] = best_within(o, &p, INFINITY);
        best_r[k] = best_within(o, &rnd, INFINITY);
        budget = fmin(total_cost(&p), total_cost(&rnd));
        eq_p[k] = best_within(o, &p, budget);
        eq_r[k] = best_within(o, &rnd, budget);
        wins += better(o, eq_p[k], eq_r[k]);
        if (verbose)
            printf("  seed %-5llu best %12.5f random %12.5f   at cost %12.5f "
                   "random %12.5f\n",
                   (unsigned long long)seed, best_p[k], best_r[k], eq_p[k],
                   eq_r[k]);
    }
    printf("%-10s %-22s %12.5f %12.5f %12.5f %12.5f %5d/%-3d %6.0f %8.1f\n",
           o->name, label, median(best_p, seeds), median(best_r, seeds),
           median(eq_p, seeds), median(eq_r, seeds), wins, seeds,
           median(dups, seeds), 1e3 * secs / (seeds * trials));
    fflush(stdout);
done:
    free(p.score);
    free(p.cost);
    free(rnd.score);
    free(rnd.cost);
    return rc;
}

/* Whether the arm called name runs: all do without --arm. */
static int want(const char *arm, const char *name)
{
    return arm == NULL || strcmp(arm, name) == 0;
}

int main(int argc, char **argv)
{
    int trials = 200, seeds = 10;
    const char *only = NULL, *arm = NULL;

    /* first: it may run this program again, with the BLAS kernels the CPU
     * runs (as protein run and proteind do) */
    protein_blas_kernels_check(argv);

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--trials") == 0 && a + 1 < argc) {
            trials = atoi(argv[++a]);
        } else if (strcmp(argv[a], "--seeds") == 0 && a + 1 < argc) {
            seeds = atoi(argv[++a]);
        } else if (strcmp(argv[a], "--objective") == 0 && a + 1 < argc) {
            only = argv[++a];
        } else if (strcmp(argv[a], "--expansion") == 0 && a + 1 < argc) {
            expansion_rate = atof(argv[++a]);
        } else if (strcmp(argv[a], "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(argv[a], "--trace") == 0) {
            trace = 1;
        } else if (strcmp(argv[a], "--arm") == 0 && a + 1 < argc) {
            arm = argv[++a];
        } else {
            fprintf(stderr,
                    "usage: %s [--trials N] [--seeds N] [--objective "
                    "rl|valley|puffer|branin|hartmann6] [--expansion R] [--arm "
                    "sequential|pending|unmarked|batches] [--verbose] "
                    "[--trace]\n",
                    argv[0]);
            return 2;
        }
    }
    if (trials < WINDOW || seeds < 1 || seeds > MAX_SEEDS) {
        fprintf(stderr,
                "bench_quality: need --trials >= %d and --seeds in 1..%d\n",
                WINDOW, MAX_SEEDS);
        return 2;
    }
    printf("%d trials, %d seeds, expansion_rate %g; medians over seeds; 'equal "
           "cost' = best within the smaller total cost of the two runs\n",
           trials, seeds, expansion_rate);
    printf("%-10s %-22s %12s %12s %12s %12s %9s %6s %8s\n", "objective", "arm",
           "best", "random_best", "best@cost", "random@cost", "wins", "dups",
           "ms/trial");
    for (size_t i = 0; i < sizeof(objectives) / sizeof(objectives[0]); i++) {
        const objective *o = &objectives[i];
        if (only != NULL && strcmp(only, o->name) != 0)
            continue;
        if ((want(arm, "sequential") &&
             compare(o, SEQUENTIAL, "sequential", trials, seeds)) ||
            (want(arm, "pending") &&
             compare(o, PARALLEL, "16 pending", trials, seeds)) ||
            (want(arm, "unmarked") &&
             compare(o, PARALLEL_NO_PENDING, "16 in flight, unmarked", trials,
                     seeds)) ||
            (want(arm, "batches") &&
             compare(o, PARALLEL_BATCHES, "16, batches of 8", trials, seeds)))
            return 1;
        printf("%-10s %-22s optimum %.6g\n", o->name, "", o->optimum);
    }
    return 0;
}
