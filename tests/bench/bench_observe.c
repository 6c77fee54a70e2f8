#include "config.h"

/*
 * bench_observe.c - the cost of taking in a sweep's observations, as
 * proteind does when it (re)builds a sweep from its stream: protein_observe
 * of n distinct random successes on a 21-parameter space, timed from the
 * first to the last, median of --repeats runs per n. A memcpy of the same
 * points into one array, measured in the same run, is the baseline (the
 * floor for anything that keeps them).
 *
 *   bench_observe [--sizes 10000,100000,1000000] [--repeats 5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protein.h"
#include "protein_clock.h"

#define DIM 21
#define MAX_REPEATS 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double now(void)
{
    return protein_clock_seconds(CLOCK_MONOTONIC);
}

/* n points of the unit cube, row-major, from a fixed LCG. */
static double *random_points(size_t n)
{
    double *x = malloc(n * DIM * sizeof(double));
    unsigned s = 12345;
    for (size_t i = 0; x != NULL && i < n * DIM; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (double)(s >> 8) / 16777216.0;
    }
    return x;
}

/* Seconds to observe the n points in one new optimizer, or -1. */
static double observe_all(const protein_sweep_config *cfg, const double *x,
                          size_t n)
{
    protein_optimizer *opt = NULL;
    protein_error err;
    double t0, t;

    if (protein_optimizer_create(cfg, NULL, &opt, &err) != PROTEIN_OK)
        return -1;
    t0 = now();
    for (size_t i = 0; i < n; i++)
        if (protein_observe(opt, x + i * DIM, (double)i, 1,
                            PROTEIN_OUTCOME_SUCCESS) != PROTEIN_OK) {
            protein_optimizer_free(opt);
            return -1;
        }
    t = now() - t0;
    if (protein_num_observations(opt) != n)
        t = -1;
    protein_optimizer_free(opt);
    return t;
}

static double copy_all(const double *x, size_t n)
{
    double *y = malloc(n * DIM * sizeof(double)), t0, t;
    if (y == NULL)
        return -1;
    t0 = now();
    memcpy(y, x, n * DIM * sizeof(double));
    t = now() - t0;
    if (y[n * DIM - 1] != x[n * DIM - 1])
        t = -1;
    free(y);
    return t;
}

int main(int argc, char **argv)
{
    const char *sizes = "10000,100000,1000000";
    int repeats = 5;
    char yaml[2048], *list, *tok, *save = NULL;
    int off;
    protein_sweep_config *cfg = NULL;
    protein_error err;

    /* first: it may run this program again, with the BLAS kernels the CPU
     * runs (as protein run and proteind do) */
    protein_blas_kernels_check(argv);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_observe [--sizes N,N,...] "
                            "[--repeats R]\n");
            return 2;
        }
    }
    if (repeats < 1 || repeats > MAX_REPEATS) {
        fprintf(stderr, "bench_observe: --repeats must be 1-%d\n", MAX_REPEATS);
        return 2;
    }
    off = snprintf(yaml, sizeof(yaml),
                   "name: bench\nmethod: protein\n"
                   "metric: {name: score, goal: maximize}\nparameters:\n");
    for (int j = 0; j < DIM; j++)
        off += snprintf(yaml + off, sizeof(yaml) - (size_t)off,
                        "  p%d: {min: 0.0, max: 1.0}\n", j);
    if (protein_config_parse_yaml(yaml, strlen(yaml), NULL, &cfg, &err) !=
        PROTEIN_OK) {
        fprintf(stderr, "bench_observe: %s\n", err.message);
        return 1;
    }
    list = strdup(sizes);
    printf("%10s %14s %14s %12s\n", "n", "observe (s)", "memcpy (s)",
           "per point");
    for (tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        size_t n = strtoul(tok, NULL, 10);
        double *x = n > 0 ? random_points(n) : NULL, obs[MAX_REPEATS],
               cpy[MAX_REPEATS];
        if (x == NULL) {
            fprintf(stderr, "bench_observe: bad size or no memory: %s\n", tok);
            return 1;
        }
        for (int r = 0; r < repeats; r++) {
            obs[r] = observe_all(cfg, x, n);
            cpy[r] = copy_all(x, n);
            if (obs[r] < 0 || cpy[r] < 0) {
                fprintf(stderr, "bench_observe: a run failed at n = %zu\n", n);
                return 1;
            }
        }
        {
            double o = median(obs, repeats), c = median(cpy, repeats);
            printf("%10zu %14.4f %14.5f %9.2f us\n", n, o, c, 1e6 * o / n);
        }
        fflush(stdout);
        free(x);
    }
    free(list);
    protein_config_free(cfg);
    return 0;
}
