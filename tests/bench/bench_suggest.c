#include "config.h"

/*
 * bench_suggest.c - latency of one model suggestion (both GP refits,
 * candidate generation and scoring) against the number of observations n,
 * on a synthetic 21-parameter space with a cost parameter (PufferLib's
 * default PPO sweep, roughly), next to LAPACK dpotrf of an n x n matrix
 * measured in the same run.
 *
 * What is measured, per n:
 *  - cold: the first suggestion after n random observations, whose GP fits
 *    start from the initial hyperparameters (as after a coordinator
 *    restart); one sample;
 *  - steady: a sweep's steady state. After --warmup untimed cycles, each of
 *    --repeats timed cycles observes ONE new result (the synthetic score
 *    of the previous suggestion) and then suggests; the fits are warm
 *    started from the previous ones, as in a running sweep. The median of
 *    the cycles (observe + suggest), and of their fit and predict parts.
 * The warm-up cycles stand in for the hundreds of refits a real sweep has
 * made by the time it holds n observations; they bring the warm-started
 * fits to that converged state. Peak RSS is printed after the largest n.
 *
 *   bench_suggest [--sizes 100,750,2000,5000] [--repeats 5] [--warmup 10]
 *                 [--seed 1]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "internal.h"
#include "optimizer_fixture.h"

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
             int *info);

#define MAX_SIZES 16

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* 21 parameters; "train/total_timesteps" is the cost parameter. */
static void space21(fx_sweep *s, uint64_t seed)
{
    fx_init(s, seed);
    s->cfg.num_random_samples = 0; /* every suggestion is a model one */
    s->cfg.cost_param = (char *)"train/total_timesteps";
    fx_numeric(s, "train/learning_rate", PROTEIN_PARAM_LOG, 1e-5, 1e-1);
    fx_numeric(s, "train/total_timesteps", PROTEIN_PARAM_LOG, 3e7, 1e10)
        ->scale = 1.0 / (log2(1e10) - log2(3e7));
    fx_numeric(s, "train/batch_size", PROTEIN_PARAM_POW2, 65536, 1048576);
    fx_numeric(s, "train/minibatch_size", PROTEIN_PARAM_POW2, 4096, 262144);
    fx_numeric(s, "train/bptt_horizon", PROTEIN_PARAM_POW2, 16, 256);
    fx_numeric(s, "train/gamma", PROTEIN_PARAM_LOGIT, 0.8, 0.9999);
    fx_numeric(s, "train/gae_lambda", PROTEIN_PARAM_LOGIT, 0.6, 0.995);
    fx_numeric(s, "train/ent_coef", PROTEIN_PARAM_LOG, 1e-5, 1e-1);
    fx_numeric(s, "train/vf_coef", PROTEIN_PARAM_LINEAR, 0.1, 5);
    fx_numeric(s, "train/vf_clip_coef", PROTEIN_PARAM_LINEAR, 0.01, 5);
    fx_numeric(s, "train/clip_coef", PROTEIN_PARAM_LINEAR, 0.01, 1);
    fx_numeric(s, "train/max_grad_norm", PROTEIN_PARAM_LINEAR, 0.1, 5);
    fx_numeric(s, "train/update_epochs", PROTEIN_PARAM_LINEAR, 1, 8)
        ->is_integer = 1;
    fx_numeric(s, "train/adam_beta1", PROTEIN_PARAM_LOGIT, 0.5, 0.999);
    fx_numeric(s, "train/adam_beta2", PROTEIN_PARAM_LOGIT, 0.9, 0.99999);
    fx_numeric(s, "train/adam_eps", PROTEIN_PARAM_LOG, 1e-14, 1e-4);
    fx_numeric(s, "train/prio_alpha", PROTEIN_PARAM_LINEAR, 0, 1);
    fx_numeric(s, "train/prio_beta0", PROTEIN_PARAM_LINEAR, 0, 1);
    fx_numeric(s, "policy/hidden_size", PROTEIN_PARAM_POW2, 32, 1024);
    fx_numeric(s, "policy/num_layers", PROTEIN_PARAM_LINEAR, 1, 8);
    fx_numeric(s, "vec/num_envs", PROTEIN_PARAM_POW2, 1, 1024);
}

/* A smooth synthetic score over model space, and a cost from the
 * timesteps (seconds at 5e5 steps/s). */
static double synthetic(const fx_sweep *s, const double *v, double *cost)
{
    double u[32], score = 0;
    protein_space_normalize(&s->cfg, v, u);
    for (size_t j = 0; j < 21; j++)
        score -= (u[j] - 0.3) * (u[j] - 0.3) / (double)(j + 1);
    *cost = v[1] / 5e5;
    return score + 0.5 * (u[1] + 1);
}

/* Median seconds of dpotrf on an n x n SPD matrix (a Matern-like kernel
 * of random points plus a diagonal), each run on a fresh copy. */
static double time_potrf(int n, int repeats, protein_rng *rng)
{
    double *pts = malloc((size_t)n * 3 * sizeof(double));
    double *K = malloc((size_t)n * (size_t)n * sizeof(double));
    double *A = malloc((size_t)n * (size_t)n * sizeof(double));
    double t[32], res = NAN;
    int info;
    if (pts == NULL || K == NULL || A == NULL)
        goto done;
    for (int i = 0; i < n * 3; i++)
        pts[i] = protein_rng_uniform(rng);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double r = 0;
            for (int k = 0; k < 3; k++)
                r += (pts[i * 3 + k] - pts[j * 3 + k]) *
                     (pts[i * 3 + k] - pts[j * 3 + k]);
            r = sqrt(3 * r);
            K[(size_t)i * n + j] = (1 + r) * exp(-r) + (i == j ? 0.01 : 0);
        }
    for (int k = 0; k < repeats; k++) {
        double t0;
        memcpy(A, K, (size_t)n * (size_t)n * sizeof(double));
        t0 = now();
        dpotrf_("L", &n, A, &n, &info);
        t[k] = now() - t0;
        if (info != 0) {
            fprintf(stderr, "bench_suggest: dpotrf failed (info %d)\n", info);
            goto done;
        }
    }
    res = median(t, repeats);
done:
    free(pts);
    free(K);
    free(A);
    return res;
}

/* One suggestion; fails unless it came from the model. */
static int suggest_model(protein_optimizer *opt, int n, double *v,
                         protein_suggestion_info *info)
{
    int rc = protein_suggest(opt, v, info);

    if (rc != PROTEIN_OK || info->source != PROTEIN_SOURCE_MODEL) {
        fprintf(stderr,
                "bench_suggest: n = %d: suggestion failed (%s, source %d)\n", n,
                protein_strerror(rc), (int)info->source);
        return -1;
    }
    return 0;
}

/* Observes the synthetic result of the suggestion v (one cycle's "trial"). */
static int observe_result(fx_sweep *s, protein_optimizer *opt, int n,
                          const double *v)
{
    double cost, score = synthetic(s, v, &cost);
    int rc = protein_observe(opt, v, score, cost, PROTEIN_OUTCOME_SUCCESS);

    if (rc != PROTEIN_OK) {
        fprintf(stderr, "bench_suggest: n = %d: observe failed (%s)\n", n,
                protein_strerror(rc));
        return -1;
    }
    return 0;
}

/* Cold and steady-state timings at n observations (see the header). */
static int bench_size(int n, int repeats, int warmup, uint64_t seed)
{
    fx_sweep s;
    protein_optimizer *opt = NULL;
    protein_suggestion_info info;
    protein_rng rng;
    protein_error err;
    double v[21], tot[32], fit[32], pred[32], cold, cold_fit, potrf;
    int rc = -1;

    space21(&s, seed);
    if (protein_optimizer_create(&s.cfg, NULL, &opt, &err) != PROTEIN_OK) {
        fprintf(stderr, "bench_suggest: %s\n", err.message);
        return -1;
    }
    protein_rng_seed(&rng, seed + (uint64_t)n);
    for (int i = 0; i < n; i++) {
        double z[21], cost, score;
        for (int j = 0; j < 21; j++)
            z[j] = protein_rng_uniform(&rng);
        z[1] = 0.02 + 0.98 * z[1]; /* above the cost minimum: kept */
        protein_space_from_unit(&s.cfg, z, v);
        score = synthetic(&s, v, &cost);
        protein_observe(opt, v, score, cost, PROTEIN_OUTCOME_SUCCESS);
    }
    cold = now();
    if (suggest_model(opt, n, v, &info))
        goto done;
    cold = now() - cold;
    cold_fit = info.fit_seconds;
    for (int w = 0; w < warmup; w++)
        if (observe_result(&s, opt, n, v) || suggest_model(opt, n, v, &info))
            goto done;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (observe_result(&s, opt, n, v) || suggest_model(opt, n, v, &info))
            goto done;
        tot[r] = now() - t0;
        fit[r] = info.fit_seconds;
        pred[r] = info.predict_seconds;
    }
    potrf = time_potrf(n, repeats, &rng);
    printf("%6d %9.4f %8.4f %9.4f %8.4f %10.4f %10.5f %7.1f %7zu\n", n, cold,
           cold_fit, median(tot, repeats), median(fit, repeats),
           median(pred, repeats), potrf, median(tot, repeats) / potrf,
           info.n_candidates);
    fflush(stdout);
    rc = 0;
done:
    protein_optimizer_free(opt);
    return rc;
}

int main(int argc, char **argv)
{
    int sizes[MAX_SIZES] = {100, 750, 2000, 5000}, nsizes = 4, repeats = 5;
    int warmup = 10;
    uint64_t seed = 1;
    struct rusage ru;

    /* first: it may run this program again, with the BLAS kernels the CPU
     * runs (as protein run and proteind do) */
    protein_blas_kernels_check(argv);

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--sizes") == 0 && a + 1 < argc) {
            char *p = argv[++a];
            nsizes = 0;
            while (*p && nsizes < MAX_SIZES) {
                sizes[nsizes++] = (int)strtol(p, &p, 10);
                if (*p == ',')
                    p++;
            }
        } else if (strcmp(argv[a], "--repeats") == 0 && a + 1 < argc) {
            repeats = atoi(argv[++a]);
        } else if (strcmp(argv[a], "--warmup") == 0 && a + 1 < argc) {
            warmup = atoi(argv[++a]);
        } else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc) {
            seed = strtoull(argv[++a], NULL, 10);
        } else {
            fprintf(stderr,
                    "usage: %s [--sizes N,N,...] [--repeats R] [--warmup W] "
                    "[--seed S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (repeats < 1 || repeats > 32 || warmup < 0) {
        fprintf(stderr,
                "bench_suggest: --repeats must be 1..32 and --warmup >= 0\n");
        return 2;
    }
    {
        char kernels[160];

        protein_blas_describe(kernels, sizeof kernels);
        printf("BLAS: %s\n", kernels);
    }
    printf("d = 21 (cost parameter train/total_timesteps); cold = first "
           "suggestion (one sample);\nsteady = median of %d observe+suggest "
           "cycles after %d untimed ones; seconds\n",
           repeats, warmup);
    printf("%6s %9s %8s %9s %8s %10s %10s %7s %7s\n", "n", "cold_s", "cold_fit",
           "steady_s", "fit_s", "predict_s", "dpotrf_s", "ratio", "cands");
    for (int k = 0; k < nsizes; k++)
        if (bench_size(sizes[k], repeats, warmup, seed))
            return 1;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %.1f MiB (after n = %d)\n", (double)ru.ru_maxrss / 1024,
           sizes[nsizes - 1]);
    return 0;
}
