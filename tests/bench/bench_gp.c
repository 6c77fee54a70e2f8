#include "config.h"

/*
 * bench_gp.c - timings of the CPU GP backend (not a test).
 *
 *   bench_gp [--large] [--runs R]   fit (Adam, L-BFGS) and predict times at
 *                                   d = 21, n = 100, 750, 2000 (and 5000
 *                                   with --large), median of R runs, each
 *                                   next to the same run's dpotrf time
 *   bench_gp --suggestion           the GP work of one suggestion at
 *                                   n = 750: two warm refits (score and
 *                                   cost GPs) and two predictions of 5120
 *                                   candidates, per method
 *   bench_gp --sweep                Adam vs L-BFGS (the default; at most
 *                                   6 evaluations; stopping at 1e-4 and
 *                                   1e-2 nats) on simulated sweeps:
 *                                   warm-started refits that each add a
 *                                   few points, from
 *                                   n = 20 cold, and from n = 100 and 740
 *                                   already fitted; loss above a reference
 *                                   and time per refit
 *
 * Data: points uniform in [0,1]^21, targets a smooth function plus noise,
 * normalized to [0,1] as the optimizer does. Set OPENBLAS_NUM_THREADS and
 * OPENBLAS_CORETYPE to compare BLAS settings.
 */
#include <lapack.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gp.h"
#include "protein.h"

#define D 21
#define CANDIDATES 16384

static const protein_gp_backend *cpu = &protein_gp_backend_cpu;
static protein_rng rng;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A smooth objective of 21 inputs with a few dominant ones. */
static double objective(const double *x)
{
    double s = 0;

    for (int k = 0; k < D; k++)
        s += sin(4.0 * x[k] + 0.3 * k) / (1.0 + k * k);
    return s - 2.0 * (x[0] - 0.6) * (x[0] - 0.6) + 0.5 * x[1] * x[2];
}

/* Fills n points and normalized noisy targets. */
static void make_data(size_t n, double *X, double *y)
{
    double lo = INFINITY, hi = -INFINITY;

    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < D; k++)
            X[i * D + k] = protein_rng_uniform(&rng);
        y[i] = objective(X + i * D) + 0.05 * (protein_rng_uniform(&rng) - 0.5);
    }
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, y[i]);
        hi = fmax(hi, y[i]);
    }
    for (size_t i = 0; i < n; i++)
        y[i] = (y[i] - lo) / (hi - lo + 1e-6);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int count)
{
    qsort(v, (size_t)count, sizeof(double), cmp_double);
    return count % 2 ? v[count / 2] : 0.5 * (v[count / 2 - 1] + v[count / 2]);
}

/* Seconds for one dpotrf of the Matern-3/2 K of X at unit lengthscales. */
static double time_potrf(const double *X, size_t n, double *K)
{
    int ni = (int)n, info;
    double t;

    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i <= j; i++) {
            double r2 = 0, r;
            for (int k = 0; k < D; k++) {
                double diff = X[i * D + k] - X[j * D + k];
                r2 += diff * diff;
            }
            r = sqrt(r2);
            K[i + j * n] = (1 + sqrt(3.0) * r) * exp(-sqrt(3.0) * r) +
                           (i == j ? 0.01 : 0.0);
        }
    t = now();
    LAPACK_dpotrf("U", &ni, K, &ni, &info);
    t = now() - t;
    return info == 0 ? t : NAN;
}

typedef struct timing {
    double potrf, eval, fit_adam, fit_lbfgs, predict_mean, predict_var;
    double loss_adam, loss_lbfgs;
} timing;

static int run_size(size_t n, int runs, timing *med)
{
    double *X = malloc(n * D * sizeof(double)), *y = malloc(n * sizeof(double));
    double *K = malloc(n * n * sizeof(double));
    double *Xs = malloc((size_t)CANDIDATES * D * sizeof(double));
    double *mean = malloc(CANDIDATES * sizeof(double));
    double *var = malloc(CANDIDATES * sizeof(double));
    double *samples = malloc(6 * (size_t)runs * sizeof(double));
    double grad[PROTEIN_GP_NTHETA(D)], loss;
    protein_gp_params p = {0};
    protein_gp_fit_report rep;
    void *st = NULL;
    char err[256] = "";
    int rc = PROTEIN_ENOMEM;

    if (!X || !y || !K || !Xs || !mean || !var || !samples)
        goto fail;
    make_data(n, X, y);
    for (size_t i = 0; i < (size_t)CANDIDATES * D; i++)
        Xs[i] = protein_rng_uniform(&rng);
    rc = cpu->create(&st, D, err, sizeof(err));
    if (rc != PROTEIN_OK)
        goto fail;
    for (int r = 0; r < runs; r++) {
        protein_gp_fit_options adam = {.method = PROTEIN_GP_FIT_ADAM};
        protein_gp_fit_options lbfgs = {.method = PROTEIN_GP_FIT_LBFGS};
        double t;

        samples[0 * runs + r] = time_potrf(X, n, K);
        if ((rc = protein_gp_params_init(&p, D)) != PROTEIN_OK)
            goto fail;
        t = now();
        rc =
            cpu->loss_grad(st, X, y, n, p.theta, &loss, grad, err, sizeof(err));
        samples[1 * runs + r] = now() - t;
        if (rc != PROTEIN_OK)
            goto fail;
        t = now();
        rc = cpu->fit(st, X, y, n, &p, &adam, &rep, err, sizeof(err));
        samples[2 * runs + r] = now() - t;
        med->loss_adam = rep.final_loss;
        if (rc != PROTEIN_OK)
            goto fail;
        protein_gp_params_free(&p);
        if ((rc = protein_gp_params_init(&p, D)) != PROTEIN_OK)
            goto fail;
        t = now();
        rc = cpu->fit(st, X, y, n, &p, &lbfgs, &rep, err, sizeof(err));
        samples[3 * runs + r] = now() - t;
        med->loss_lbfgs = rep.final_loss;
        if (rc != PROTEIN_OK)
            goto fail;
        t = now();
        rc = cpu->predict(st, Xs, CANDIDATES, mean, NULL, err, sizeof(err));
        samples[4 * runs + r] = now() - t;
        if (rc != PROTEIN_OK)
            goto fail;
        t = now();
        rc = cpu->predict(st, Xs, CANDIDATES, mean, var, err, sizeof(err));
        samples[5 * runs + r] = now() - t;
        if (rc != PROTEIN_OK)
            goto fail;
        protein_gp_params_free(&p);
    }
    med->potrf = median(samples, runs);
    med->eval = median(samples + runs, runs);
    med->fit_adam = median(samples + 2 * runs, runs);
    med->fit_lbfgs = median(samples + 3 * runs, runs);
    med->predict_mean = median(samples + 4 * runs, runs);
    med->predict_var = median(samples + 5 * runs, runs);
    rc = PROTEIN_OK;
fail:
    if (rc != PROTEIN_OK)
        fprintf(stderr, "bench_gp: n = %zu: %s: %s\n", n, protein_strerror(rc),
                err);
    protein_gp_params_free(&p);
    cpu->destroy(st);
    free(X);
    free(y);
    free(K);
    free(Xs);
    free(mean);
    free(var);
    free(samples);
    return rc;
}

static int bench_sizes(int large, int runs_override)
{
    const size_t sizes[] = {100, 750, 2000, 5000};
    size_t count = large ? 4 : 3;

    printf("d = %d, %d candidates; median seconds (x = multiple of dpotrf)\n",
           D, CANDIDATES);
    printf("%6s %10s %18s %18s %18s %18s %18s  %s\n", "n", "dpotrf",
           "loss+grad", "fit adam(50)", "fit lbfgs(12)", "predict mean",
           "predict mean+var", "loss adam / lbfgs");
    for (size_t s = 0; s < count; s++) {
        size_t n = sizes[s];
        int runs = runs_override > 0 ? runs_override
                   : n <= 750        ? 5
                   : n <= 2000       ? 3
                                     : 1;
        timing t = {0};

        if (run_size(n, runs, &t) != PROTEIN_OK)
            return 1;
        printf("%6zu %10.5f %9.5f (%5.1fx) %9.4f (%5.0fx) %9.4f (%5.0fx) %9.4f "
               "(%5.1fx) %9.4f (%5.1fx)  %.4f / %.4f\n",
               n, t.potrf, t.eval, t.eval / t.potrf, t.fit_adam,
               t.fit_adam / t.potrf, t.fit_lbfgs, t.fit_lbfgs / t.potrf,
               t.predict_mean, t.predict_mean / t.potrf, t.predict_var,
               t.predict_var / t.potrf, t.loss_adam, t.loss_lbfgs);
        fflush(stdout);
    }
    return 0;
}

/* A sweep: n0 points, then refits that each add `add` points; every method
 * warm-starts from its own previous params. Cold: all start at the
 * initial theta. Warm: all start at the optimum for the first n0 points
 * (as deep into a sweep, after many refits). Prints each method's loss
 * above a reference (a 200-evaluation L-BFGS to 1e-9 nats from the best of
 * them) and its seconds per refit. */
#define SWEEP_METHODS 5
static int bench_sweep(size_t n0, size_t add, int refits, int warm)
{
    static const protein_gp_fit_options methods[SWEEP_METHODS] = {
        {.method = PROTEIN_GP_FIT_ADAM},
        {.method = PROTEIN_GP_FIT_LBFGS, .max_evaluations = 6},
        {.method = PROTEIN_GP_FIT_LBFGS, .ftol_nats = 1e-4},
        {.method = PROTEIN_GP_FIT_LBFGS}, /* the default: 12, 1e-3 nats */
        {.method = PROTEIN_GP_FIT_LBFGS, .ftol_nats = 1e-2},
    };
    static const char *names[SWEEP_METHODS] = {
        "adam(50)", "lbfgs(6)", "lbfgs:1e-4", "lbfgs", "lbfgs:1e-2"};
    protein_gp_fit_options ref = {.method = PROTEIN_GP_FIT_LBFGS,
                                  .max_evaluations = 200,
                                  .ftol_nats = 1e-9};
    size_t nmax = n0 + add * (size_t)refits, nt = PROTEIN_GP_NTHETA(D);
    double *X = malloc(nmax * D * sizeof(double)),
           *y = malloc(nmax * sizeof(double));
    double *yn = malloc(nmax * sizeof(double));
    double gap_sum[SWEEP_METHODS] = {0}, time_sum[SWEEP_METHODS] = {0};
    protein_gp_params p[SWEEP_METHODS + 1] = {{0}};
    void *st = NULL;
    char err[256] = "";
    int rc = PROTEIN_ENOMEM;

    if (!X || !y || !yn)
        goto fail;
    for (size_t i = 0; i < nmax; i++) {
        for (int k = 0; k < D; k++)
            X[i * D + k] = protein_rng_uniform(&rng);
        y[i] = objective(X + i * D) + 0.05 * (protein_rng_uniform(&rng) - 0.5);
    }
    if ((rc = cpu->create(&st, D, err, sizeof(err))) != PROTEIN_OK)
        goto fail;
    for (int m = 0; m <= SWEEP_METHODS; m++)
        if ((rc = protein_gp_params_init(&p[m], D)) != PROTEIN_OK)
            goto fail;
    printf("%s sweep at d = %d: n from %zu, +%zu per refit; loss above the "
           "reference, seconds per refit\n%6s %9s",
           warm ? "warm" : "cold", D, n0, add, "n", "reference");
    for (int m = 0; m < SWEEP_METHODS; m++)
        printf(" %10s %7s", names[m], "s");
    printf("\n");
    for (int r = 0; r <= refits; r++) {
        size_t n = n0 + add * (size_t)r;
        double lo = INFINITY, hi = -INFINITY, best = INFINITY, t;
        double loss[SWEEP_METHODS], secs[SWEEP_METHODS];
        protein_gp_fit_report rep;

        for (size_t i = 0; i < n; i++) {
            lo = fmin(lo, y[i]);
            hi = fmax(hi, y[i]);
        }
        for (size_t i = 0; i < n; i++)
            yn[i] = (y[i] - lo) / (hi - lo + 1e-6);
        if (warm && r == 0) {
            rc = cpu->fit(st, X, yn, n, &p[SWEEP_METHODS], &ref, &rep, err,
                          sizeof(err));
            if (rc != PROTEIN_OK)
                goto fail;
            for (int m = 0; m < SWEEP_METHODS; m++)
                memcpy(p[m].theta, p[SWEEP_METHODS].theta, nt * sizeof(double));
        }
        for (int m = 0; m < SWEEP_METHODS; m++) {
            t = now();
            rc = cpu->fit(st, X, yn, n, &p[m], &methods[m], &rep, err,
                          sizeof(err));
            secs[m] = now() - t;
            if (rc != PROTEIN_OK)
                goto fail;
            loss[m] = rep.final_loss;
            if (loss[m] < best) {
                best = loss[m];
                memcpy(p[SWEEP_METHODS].theta, p[m].theta, nt * sizeof(double));
            }
        }
        rc = cpu->fit(st, X, yn, n, &p[SWEEP_METHODS], &ref, &rep, err,
                      sizeof(err));
        if (rc != PROTEIN_OK)
            goto fail;
        printf("%6zu %9.5f", n, rep.final_loss);
        for (int m = 0; m < SWEEP_METHODS; m++) {
            gap_sum[m] += loss[m] - rep.final_loss;
            time_sum[m] += secs[m];
            printf(" %10.5f %7.4f", loss[m] - rep.final_loss, secs[m]);
        }
        printf("\n");
        fflush(stdout);
    }
    printf("%6s %9s", "mean", "");
    for (int m = 0; m < SWEEP_METHODS; m++)
        printf(" %10.5f %7.4f", gap_sum[m] / (refits + 1),
               time_sum[m] / (refits + 1));
    printf("\n");
    rc = PROTEIN_OK;
fail:
    if (rc != PROTEIN_OK)
        fprintf(stderr, "bench_gp: sweep: %s: %s\n", protein_strerror(rc), err);
    for (int m = 0; m <= SWEEP_METHODS; m++)
        protein_gp_params_free(&p[m]);
    cpu->destroy(st);
    free(X);
    free(y);
    free(yn);
    return rc == PROTEIN_OK ? 0 : 1;
}

/* The GP work of one Protein suggestion deep into a sweep: with n points
 * (after a first long fit), each suggestion adds 4 points, refits a score
 * GP and a cost GP with the given options (warm) and predicts the mean of
 * 5120 candidates with both. Prints the median seconds per suggestion. */
#define SUGGESTIONS 7
static int bench_suggestion(size_t n, const protein_gp_fit_options *opts,
                            const char *label)
{
    enum { M = 5120 };
    size_t nmax = n + 4 * SUGGESTIONS;
    double *X = malloc(nmax * D * sizeof(double));
    double *ys = malloc(nmax * sizeof(double)),
           *yc = malloc(nmax * sizeof(double));
    double *Xs = malloc((size_t)M * D * sizeof(double));
    double *ms = malloc(M * sizeof(double)), *mc = malloc(M * sizeof(double));
    double secs[SUGGESTIONS], fit_secs[SUGGESTIONS];
    protein_gp_fit_options first = {.method = PROTEIN_GP_FIT_LBFGS,
                                    .max_evaluations = 100};
    protein_gp_params ps = {0}, pc = {0};
    void *ss = NULL, *sc = NULL;
    char err[256] = "";
    int rc = PROTEIN_ENOMEM;

    if (!X || !ys || !yc || !Xs || !ms || !mc)
        goto fail;
    make_data(nmax, X, ys);
    for (size_t i = 0; i < nmax; i++)
        yc[i] = 0.3 * X[i * D + 3] + 0.5 * X[i * D + 4] * X[i * D + 5] +
                0.02 * protein_rng_uniform(&rng);
    for (size_t i = 0; i < (size_t)M * D; i++)
        Xs[i] = protein_rng_uniform(&rng);
    if ((rc = cpu->create(&ss, D, err, sizeof(err))) != PROTEIN_OK ||
        (rc = cpu->create(&sc, D, err, sizeof(err))) != PROTEIN_OK ||
        (rc = protein_gp_params_init(&ps, D)) != PROTEIN_OK ||
        (rc = protein_gp_params_init(&pc, D)) != PROTEIN_OK ||
        (rc = cpu->fit(ss, X, ys, n, &ps, &first, NULL, err, sizeof(err))) !=
            PROTEIN_OK ||
        (rc = cpu->fit(sc, X, yc, n, &pc, &first, NULL, err, sizeof(err))) !=
            PROTEIN_OK)
        goto fail;
    for (int r = 0; r < SUGGESTIONS; r++) {
        size_t nr = n + 4 * (size_t)(r + 1);
        double t = now();

        if ((rc = cpu->fit(ss, X, ys, nr, &ps, opts, NULL, err, sizeof(err))) !=
                PROTEIN_OK ||
            (rc = cpu->fit(sc, X, yc, nr, &pc, opts, NULL, err, sizeof(err))) !=
                PROTEIN_OK)
            goto fail;
        fit_secs[r] = now() - t;
        if ((rc = cpu->predict(ss, Xs, M, ms, NULL, err, sizeof(err))) !=
                PROTEIN_OK ||
            (rc = cpu->predict(sc, Xs, M, mc, NULL, err, sizeof(err))) !=
                PROTEIN_OK)
            goto fail;
        secs[r] = now() - t;
    }
    printf("suggestion at n = %zu, d = %d, %d candidates, %s: median %.4f s "
           "(fits %.4f s)\n",
           n, D, M, label, median(secs, SUGGESTIONS),
           median(fit_secs, SUGGESTIONS));
fail:
    if (rc != PROTEIN_OK)
        fprintf(stderr, "bench_gp: suggestion: %s: %s\n", protein_strerror(rc),
                err);
    protein_gp_params_free(&ps);
    protein_gp_params_free(&pc);
    cpu->destroy(ss);
    cpu->destroy(sc);
    free(X);
    free(ys);
    free(yc);
    free(Xs);
    free(ms);
    free(mc);
    return rc == PROTEIN_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    int large = 0, sweep = 0, suggestion = 0, runs = 0;

    /* first: it may run this program again, with the BLAS kernels the CPU
     * runs (as protein run and proteind do) */
    protein_blas_kernels_check(argv);

    protein_rng_seed(&rng, 12345);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--large") == 0) {
            large = 1;
        } else if (strcmp(argv[i], "--sweep") == 0) {
            sweep = 1;
        } else if (strcmp(argv[i], "--suggestion") == 0) {
            suggestion = 1;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else {
            fprintf(stderr,
                    "usage: %s [--large] [--runs R] | --sweep | --suggestion\n",
                    argv[0]);
            return 2;
        }
    }
    if (suggestion) {
        protein_gp_fit_options lbfgs = {.method = PROTEIN_GP_FIT_LBFGS};
        protein_gp_fit_options adam = {.method = PROTEIN_GP_FIT_ADAM};
        return bench_suggestion(750, &lbfgs, "lbfgs (default)") ||
               bench_suggestion(750, &adam, "adam(50)");
    }
    if (sweep)
        return bench_sweep(20, 4, 20, 0) || bench_sweep(100, 4, 10, 1) ||
               bench_sweep(740, 4, 5, 1);
    return bench_sizes(large, runs);
}
