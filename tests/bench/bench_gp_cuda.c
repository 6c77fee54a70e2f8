#include "config.h"

/*
 * bench_gp_cuda.c - the CUDA GP backend next to the CPU backend, in one
 * run: a refit (two full hyperparameter fits, score GP and log-cost GP, from
 * the initial theta) and the scoring of 16,384 candidates (mean and
 * variance of both GPs) at d = 21, for several n; plus the rates of the
 * Cholesky factorization (cusolverDnXpotrf) and of the in-place inverse
 * against the H200's FP64 tensor peak.
 *
 * Usage: bench_gp_cuda [--cpu-max N] [--adam-max N] [--cpu-adam-max N]
 *                      [--potrf-reps R] [N...]
 *   N...           training sizes (default 1000 5000 10000 20000 50000)
 *   --cpu-max      largest n the CPU backend is run at (default 5000)
 *   --adam-max     largest n the 50-step Adam refit is run at (default 20000)
 *   --cpu-adam-max the same for the CPU backend (default 1000)
 *   --potrf-reps timed factorizations per size (default 5)
 * Prints one table; exits 77 when no CUDA device is usable.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gp.h"
#include "gp_cuda.h"
#include "protein.h"

#define BENCH_D 21
#define BENCH_M 16384
#define FP64_PEAK_TFLOPS 66.9 /* H200 SXM, FP64 tensor core */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct data {
    size_t n, m, d;
    double *X, *score, *cost, *C;
} data;

/* Training points in [-1, 1]^d with a smooth score and a log-cost target,
 * both standardized, and m candidates. */
static int data_make(data *b, size_t n, size_t m, size_t d, uint64_t seed)
{
    protein_rng rng;
    double *t[2];

    protein_rng_seed(&rng, seed);
    b->n = n;
    b->m = m;
    b->d = d;
    b->X = malloc(n * d * sizeof(double));
    b->score = malloc(n * sizeof(double));
    b->cost = malloc(n * sizeof(double));
    b->C = malloc(m * d * sizeof(double));
    if (!b->X || !b->score || !b->cost || !b->C)
        return PROTEIN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        double s = 0, c = 0;
        for (size_t k = 0; k < d; k++) {
            double x = 2 * protein_rng_uniform(&rng) - 1;
            b->X[i * d + k] = x;
            s += sin(2 * x + (double)k) / (double)(k + 1);
            c += 0.3 * x * (double)(k % 3);
        }
        b->score[i] = s + 0.05 * protein_rng_normal(&rng);
        b->cost[i] = c + 0.05 * protein_rng_normal(&rng);
    }
    for (size_t i = 0; i < m * d; i++)
        b->C[i] = 2 * protein_rng_uniform(&rng) - 1;
    t[0] = b->score;
    t[1] = b->cost;
    for (int q = 0; q < 2; q++) {
        double mean = 0, sd = 0;
        for (size_t i = 0; i < n; i++)
            mean += t[q][i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++)
            sd += (t[q][i] - mean) * (t[q][i] - mean);
        sd = sqrt(sd / (double)n) + 1e-12;
        for (size_t i = 0; i < n; i++)
            t[q][i] = (t[q][i] - mean) / sd;
    }
    return PROTEIN_OK;
}

static void data_free(data *b)
{
    free(b->X);
    free(b->score);
    free(b->cost);
    free(b->C);
}

typedef struct result {
    double refit, score; /* seconds: two fits; two predicts */
    double score_mean;   /* seconds: two predicts, mean only */
    int evaluations;     /* loss evaluations of the two fits */
    int ok;
} result;

/* One refit (both GPs from the initial theta, opts) and one scoring pass on
 * states that were already used once (a warm process, as in proteind). */
static int run_backend(const protein_gp_backend *be, void *st[2], const data *b,
                       const protein_gp_fit_options *opts, result *r, char *err,
                       size_t errlen)
{
    const double *targets[2] = {b->score, b->cost};
    double *mean = malloc(b->m * sizeof(double));
    double *var = malloc(b->m * sizeof(double));
    double t0;
    int rc = PROTEIN_OK;

    memset(r, 0, sizeof *r);
    if (!mean || !var) {
        rc = PROTEIN_ENOMEM;
        goto done;
    }
    t0 = now();
    for (int q = 0; q < 2; q++) {
        protein_gp_params p;
        protein_gp_fit_report rep;
        rc = protein_gp_params_init(&p, b->d);
        if (rc != PROTEIN_OK)
            goto done;
        rc =
            be->fit(st[q], b->X, targets[q], b->n, &p, opts, &rep, err, errlen);
        protein_gp_params_free(&p);
        if (rc != PROTEIN_OK)
            goto done;
        r->evaluations += rep.evaluations;
    }
    r->refit = now() - t0;
    /* The first pass may grow the prediction buffers; time the second, as
     * in a running sweep. */
    for (int pass = 0; pass < 2; pass++) {
        t0 = now();
        for (int q = 0; q < 2; q++) {
            rc = be->predict(st[q], b->C, b->m, mean, var, err, errlen);
            if (rc != PROTEIN_OK)
                goto done;
        }
        r->score = now() - t0;
    }
    t0 = now();
    for (int q = 0; q < 2; q++) {
        rc = be->predict(st[q], b->C, b->m, mean, NULL, err, errlen);
        if (rc != PROTEIN_OK)
            goto done;
    }
    r->score_mean = now() - t0;
    r->ok = 1;
done:
    free(mean);
    free(var);
    return rc;
}

/* A small fit so that library loading, handles and kernels are warm. */
static int warm_up(const protein_gp_backend *be, void *st, char *err,
                   size_t errlen)
{
    data w;
    protein_gp_params p;
    double mean[16];
    int rc = data_make(&w, 256, 16, BENCH_D, 7);

    if (rc == PROTEIN_OK)
        rc = protein_gp_params_init(&p, BENCH_D);
    if (rc == PROTEIN_OK) {
        rc = be->fit(st, w.X, w.score, w.n, &p, NULL, NULL, err, errlen);
        if (rc == PROTEIN_OK)
            rc = be->predict(st, w.C, w.m, mean, NULL, err, errlen);
        protein_gp_params_free(&p);
    }
    data_free(&w);
    return rc;
}

static void print_cell(const result *r)
{
    if (r->ok)
        printf(" %8.4f %8.4f %8.4f %4d |", r->refit, r->score, r->score_mean,
               r->evaluations);
    else
        printf(" %8s %8s %8s %4s |", "-", "-", "-", "-");
}

int main(int argc, char **argv)
{
    size_t sizes[32], nsizes = 0, cpu_max = 5000, adam_max = 20000,
                      cpu_adam_max = 1000;
    int reps = 5;
    const protein_gp_backend *backends[2];
    const char *names[2] = {"cuda", "cpu"};
    void *st[2][2] = {{NULL, NULL}, {NULL, NULL}};
    protein_gp_fit_options lbfgs = {0};
    protein_gp_fit_options adam = {.method = PROTEIN_GP_FIT_ADAM,
                                   .iterations = 50};
    char err[512] = "";
    int status = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu-max") == 0 && i + 1 < argc)
            cpu_max = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--adam-max") == 0 && i + 1 < argc)
            adam_max = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--cpu-adam-max") == 0 && i + 1 < argc)
            cpu_adam_max = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--potrf-reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (nsizes < 32 && strtoul(argv[i], NULL, 10) > 0)
            sizes[nsizes++] = strtoul(argv[i], NULL, 10);
        else {
            fprintf(stderr,
                    "usage: %s [--cpu-max N] [--adam-max N] [--cpu-adam-max N] "
                    "[--potrf-reps R] [N...]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nsizes == 0) {
        static const size_t def[] = {1000, 5000, 10000, 20000, 50000};
        memcpy(sizes, def, sizeof def);
        nsizes = 5;
    }
    backends[0] = protein_gp_backend_cuda();
    backends[1] = &protein_gp_backend_cpu;
    if (backends[0] == NULL || !protein_gp_cuda_available(err, sizeof err)) {
        printf("SKIP: no CUDA device: %s\n", err);
        return 77;
    }
    for (int be = 0; be < 2; be++)
        for (int q = 0; q < 2; q++) {
            if (backends[be]->create(&st[be][q], BENCH_D, err, sizeof err) !=
                    PROTEIN_OK ||
                warm_up(backends[be], st[be][q], err, sizeof err) !=
                    PROTEIN_OK) {
                fprintf(stderr, "%s: %s\n", names[be], err);
                return 1;
            }
        }

    printf("GP refit = 2 fits (score, log-cost) from the initial theta; score "
           "= mean+variance of both GPs at %d candidates; d = %d.\n"
           "L-BFGS: the default fit (<= 12 loss evaluations); Adam: 50 steps. "
           "CPU only up to n = %zu (Adam: %zu), CUDA Adam up to n = %zu.\n"
           "columns per cell: refit s, score s (mean+variance), score s "
           "(mean only), loss evaluations\n\n",
           BENCH_M, BENCH_D, cpu_max, cpu_adam_max, adam_max);
    printf("%6s | %-33s | %-33s | %-33s | %-33s\n", "n", "cuda L-BFGS",
           "cuda Adam-50", "cpu L-BFGS", "cpu Adam-50");
    for (size_t si = 0; si < nsizes; si++) {
        size_t n = sizes[si];
        data b;
        result r[2][2];

        memset(r, 0, sizeof r);
        if (data_make(&b, n, BENCH_M, BENCH_D, 1000 + n) != PROTEIN_OK) {
            fprintf(stderr, "out of memory for n = %zu\n", n);
            return 1;
        }
        for (int be = 0; be < 2; be++) {
            if (be == 1 && n > cpu_max)
                continue;
            for (int meth = 0; meth < 2; meth++) {
                if (meth == 1 && n > (be == 0 ? adam_max : cpu_adam_max))
                    continue;
                if (run_backend(backends[be], st[be], &b, meth ? &adam : &lbfgs,
                                &r[be][meth], err, sizeof err) != PROTEIN_OK) {
                    fprintf(stderr, "%s n=%zu: %s\n", names[be], n, err);
                    status = 1;
                }
            }
        }
        printf("%6zu |", n);
        print_cell(&r[0][0]);
        print_cell(&r[0][1]);
        print_cell(&r[1][0]);
        print_cell(&r[1][1]);
        printf("\n");
        fflush(stdout);
        data_free(&b);
    }

    printf("\nDense FP64 steps of one loss+gradient evaluation, median of %d; "
           "FP64 tensor peak %.1f TFLOP/s\n",
           reps, FP64_PEAK_TFLOPS);
    printf("%6s %10s %8s %7s %10s %10s %10s\n", "n", "potrf s", "TFLOP/s",
           "of peak", "trtri s", "lauum s", "inv TF/s");
    for (size_t si = 0; si < nsizes; si++) {
        size_t n = sizes[si];
        double t[3], n3 = (double)n * (double)n * (double)n;
        if (protein_gp_cuda_time_cholesky(n, reps, t, err, sizeof err) !=
            PROTEIN_OK) {
            fprintf(stderr, "potrf n=%zu: %s\n", n, err);
            status = 1;
            continue;
        }
        /* trtri and lauum are n^3/3 flops each */
        printf("%6zu %10.6f %8.2f %6.1f%% %10.6f %10.6f %10.2f\n", n, t[0],
               n3 / 3.0 / t[0] / 1e12,
               100.0 * n3 / 3.0 / t[0] / 1e12 / FP64_PEAK_TFLOPS, t[1], t[2],
               2.0 * n3 / 3.0 / (t[1] + t[2]) / 1e12);
        fflush(stdout);
    }
    for (int be = 0; be < 2; be++)
        for (int q = 0; q < 2; q++)
            backends[be]->destroy(st[be][q]);
    return status;
}
