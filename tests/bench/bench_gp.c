#include "config.h"

/*
 * bench_gp.c - timings of the CPU GP backend (not a test).
 *
 *   bench_gp [--large] [--runs R]   fit (Adam, L-BFGS) and predict times at
 *                                   d = 21, n = 100, 750, 2000 (and 5000
 *                                   with --large), median of R runs, each
 *                                   next to the same run's dpotrf time
 *   bench_gp --sweep                Adam vs L-BFGS on a simulated sweep:
 *                                   warm-started refits that each add a few
 *                                   points; loss reached and time per refit
 *
 * Data: points uniform in [0,1]^21, targets a smooth function plus noise,
 * normalized to [0,1] as the optimizer does. Set OPENBLAS_NUM_THREADS and
 * OPENBLAS_CORETYPE to compare BLAS settings.
 */
#include <lapack.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gp.h"
#include "protein.h"

#define D 21
#define CANDIDATES 16384

static const protein_gp_backend *cpu = &protein_gp_backend_cpu;
static uint64_t rng_state = 12345;

static double uniform(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

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
            X[i * D + k] = uniform();
        y[i] = objective(X + i * D) + 0.05 * (uniform() - 0.5);
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
        Xs[i] = uniform();
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
        rc = cpu->loss_grad(st, X, y, n, p.theta, &loss, grad, err,
                            sizeof(err));
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
                   : n <= 750       ? 5
                   : n <= 2000      ? 3
                                    : 1;
        timing t = {0};

        if (run_size(n, runs, &t) != PROTEIN_OK)
            return 1;
        printf("%6zu %10.5f %9.5f (%5.1fx) %9.4f (%5.0fx) %9.4f (%5.0fx) "
               "%9.4f (%5.1fx) %9.4f (%5.1fx)  %.4f / %.4f\n",
               n, t.potrf, t.eval, t.eval / t.potrf, t.fit_adam,
               t.fit_adam / t.potrf, t.fit_lbfgs, t.fit_lbfgs / t.potrf,
               t.predict_mean, t.predict_mean / t.potrf, t.predict_var,
               t.predict_var / t.potrf, t.loss_adam, t.loss_lbfgs);
        fflush(stdout);
    }
    return 0;
}

/* A sweep: n0 points, then refits adding `add` points each; each method
 * warm-starts from its own previous params. The reference is a long L-BFGS
 * run (200 evaluations) from the better of the two thetas. */
static int bench_sweep(size_t n0, size_t add, int refits)
{
    size_t nmax = n0 + add * (size_t)refits;
    double *X = malloc(nmax * D * sizeof(double)), *y = malloc(nmax * sizeof(double));
    double *yn = malloc(nmax * sizeof(double));
    protein_gp_params pa = {0}, pl = {0}, pr = {0};
    protein_gp_fit_options adam = {.method = PROTEIN_GP_FIT_ADAM};
    protein_gp_fit_options lbfgs = {.method = PROTEIN_GP_FIT_LBFGS};
    protein_gp_fit_options ref = {.method = PROTEIN_GP_FIT_LBFGS,
                                  .max_evaluations = 200};
    double ta = 0, tl = 0, sa = 0, sl = 0;
    void *st = NULL;
    char err[256] = "";
    int rc = PROTEIN_ENOMEM;

    if (!X || !y || !yn)
        goto fail;
    for (size_t i = 0; i < nmax; i++) {
        for (int k = 0; k < D; k++)
            X[i * D + k] = uniform();
        y[i] = objective(X + i * D) + 0.05 * (uniform() - 0.5);
    }
    if ((rc = cpu->create(&st, D, err, sizeof(err))) != PROTEIN_OK ||
        (rc = protein_gp_params_init(&pa, D)) != PROTEIN_OK ||
        (rc = protein_gp_params_init(&pl, D)) != PROTEIN_OK ||
        (rc = protein_gp_params_init(&pr, D)) != PROTEIN_OK)
        goto fail;
    printf("sweep at d = %d: n from %zu, +%zu per refit; loss after each "
           "refit and seconds per refit\n", D, n0, add);
    printf("%6s %10s %8s %10s %8s %10s\n", "n", "adam(50)", "s", "lbfgs(12)",
           "s", "reference");
    for (int r = 0; r <= refits; r++) {
        size_t n = n0 + add * (size_t)r;
        double lo = INFINITY, hi = -INFINITY, t;
        protein_gp_fit_report ra, rl, rr;

        for (size_t i = 0; i < n; i++) {
            lo = fmin(lo, y[i]);
            hi = fmax(hi, y[i]);
        }
        for (size_t i = 0; i < n; i++)
            yn[i] = (y[i] - lo) / (hi - lo + 1e-6);
        t = now();
        rc = cpu->fit(st, X, yn, n, &pa, &adam, &ra, err, sizeof(err));
        t = now() - t;
        if (rc != PROTEIN_OK)
            goto fail;
        ta += t;
        sa += ra.final_loss;
        printf("%6zu %10.5f %8.4f", n, ra.final_loss, t);
        t = now();
        rc = cpu->fit(st, X, yn, n, &pl, &lbfgs, &rl, err, sizeof(err));
        t = now() - t;
        if (rc != PROTEIN_OK)
            goto fail;
        tl += t;
        sl += rl.final_loss;
        memcpy(pr.theta, rl.final_loss < ra.final_loss ? pl.theta : pa.theta,
               PROTEIN_GP_NTHETA(D) * sizeof(double));
        rc = cpu->fit(st, X, yn, n, &pr, &ref, &rr, err, sizeof(err));
        if (rc != PROTEIN_OK)
            goto fail;
        printf(" %10.5f %8.4f %10.5f\n", rl.final_loss, t, rr.final_loss);
        fflush(stdout);
    }
    printf("mean loss adam %.5f in %.4f s/refit; lbfgs %.5f in %.4f s/refit\n",
           sa / (refits + 1), ta / (refits + 1), sl / (refits + 1),
           tl / (refits + 1));
    rc = PROTEIN_OK;
fail:
    if (rc != PROTEIN_OK)
        fprintf(stderr, "bench_gp: sweep: %s: %s\n", protein_strerror(rc), err);
    protein_gp_params_free(&pa);
    protein_gp_params_free(&pl);
    protein_gp_params_free(&pr);
    cpu->destroy(st);
    free(X);
    free(y);
    free(yn);
    return rc == PROTEIN_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    int large = 0, sweep = 0, runs = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--large") == 0) {
            large = 1;
        } else if (strcmp(argv[i], "--sweep") == 0) {
            sweep = 1;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--large] [--runs R] | --sweep\n",
                    argv[0]);
            return 2;
        }
    }
    if (sweep)
        return bench_sweep(100, 4, 10) || bench_sweep(740, 4, 5);
    return bench_sizes(large, runs);
}
