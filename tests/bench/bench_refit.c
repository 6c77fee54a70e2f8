/*
 * bench_refit.c - proteind's reaction time: from an observation arriving
 * (pq_complete returns) to fresh suggestions in the ready queue (the refit
 * info in Redis counts the new observation), at a given number of
 * observations already in the sweep.
 *
 * For each n it creates a sweep on a private redis-server, preloads n
 * completed trials through the queue API (no coordinator runs yet, so the
 * claims draw from a fallback pool of n random points), starts proteind
 * (--debounce 1, so the figure is the refit itself), waits for its first
 * refit, then times R rounds of claim + complete + "refit counted it", and
 * prints the median.
 *
 * Usage: bench_refit [--device auto|cpu|cuda] [--runs R] [N ...]
 * (defaults: cpu, 5 runs, N = 100 750). Run from the build tree, or set
 * top_builddir. Prefix OPENBLAS_NUM_THREADS=1 for single-thread figures.
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protein_queue.h"
#include "redis_harness.h"

#define MAX_RUNS 64
#define QUEUE_DEPTH 4 /* proteind's default --queue-depth */

/* The sweep's config; "name: NAME" is prepended. */
static const char *const bench_yaml =
    "method: protein\n"
    "metric: {name: score, goal: maximize}\n"
    "seed: 11\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}\n"
    "  gamma: {distribution: uniform, min: 0.8, max: 0.999}\n"
    "  width: {distribution: uniform_pow2, min: 16, max: 1024}\n"
    "  ent: {distribution: uniform, min: 0.0, max: 0.1}\n";

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* A cheap synthetic objective: score and cost from the parameters. */
static void objective(const pq_params *p, double *score, double *cost)
{
    double lr = 1e-3, gamma = 0.9, width = 64, ent = 0.01;

    for (size_t i = 0; i < p->n; i++) {
        const pq_param *q = &p->items[i];

        if (strcmp(q->name, "lr") == 0)
            lr = q->number;
        else if (strcmp(q->name, "gamma") == 0)
            gamma = q->number;
        else if (strcmp(q->name, "width") == 0)
            width = q->number;
        else
            ent = q->number;
    }
    *score = -(log10(lr) + 3.0) * (log10(lr) + 3.0) -
             10 * (gamma - 0.97) * (gamma - 0.97) -
             20 * (ent - 0.02) * (ent - 0.02) + 0.1 * log2(width);
    *cost = 30.0 + width / 4.0;
}

/* Waits until the ready queue holds depth points again (or timeout_s).
 * Returns 0 when it does. */
static int wait_depth(pq_context *ctx, const char *sweep, long depth,
                      double timeout_s)
{
    double end = now_s() + timeout_s;
    long d = -1;

    while (now_s() < end) {
        if (pq_queue_depth(ctx, sweep, &d) == PQ_OK && d >= depth)
            return 0;
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    return -1;
}

/* Claims one trial and completes it; returns a pq_error. With a coordinator
 * (wait_ms > 0), waits for it to top the queue up after the claim before
 * completing, so that what is timed next is the refit alone. */
static int one_trial(pq_context *ctx, const char *sweep, long k, int wait_ms)
{
    char key[64];
    pq_claim_request req = {.claim_key = key,
                            .uid = (long)getuid(),
                            .array_index = -1,
                            .wait_ms = wait_ms};
    pq_trial *t = NULL;
    double score, cost;
    int rc;

    snprintf(key, sizeof key, "bench-%ld", k);
    rc = pq_claim(ctx, sweep, &req, &t);
    if (rc != PQ_OK)
        return rc;
    if (wait_ms > 0 && wait_depth(ctx, sweep, QUEUE_DEPTH, 120) != 0) {
        pq_trial_free(t);
        return PQ_EEMPTY;
    }
    objective(&t->params, &score, &cost);
    rc = pq_complete(ctx, sweep, t->id, t->token, score, cost);
    pq_trial_free(t);
    return rc;
}

/* Waits until the sweep's last refit counted n successes (or timeout_s),
 * polling every 0.2 ms. Returns 0 when it did. */
static int wait_refit(pq_context *ctx, const char *sweep, long n,
                      double timeout_s)
{
    double end = now_s() + timeout_s;
    pq_sweep_info *info = NULL;
    int ok = 0;

    while (!ok && now_s() < end) {
        if (pq_sweep_get(ctx, sweep, &info) == PQ_OK)
            ok = info->last_refit_n >= n;
        pq_sweep_info_free(info);
        info = NULL;
        if (!ok)
            nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    return ok ? 0 : -1;
}

/* Creates sweep NAME with a fallback pool of n random points. */
static int create(pq_context *ctx, const char *name, long n)
{
    pq_params *pool = calloc((size_t)n, sizeof *pool);
    char yaml[1024];
    pq_sweep_spec spec = {.name = name,
                          .config_yaml = yaml,
                          .owner_uid = (long)getuid(),
                          .n_fallback = (size_t)n};
    unsigned seed = 12345;
    int rc;

    if (!pool)
        return PQ_ENOMEM;
    snprintf(yaml, sizeof yaml, "name: %s\n%s", name, bench_yaml);
    for (long i = 0; i < n; i++) {
        pq_param *it = calloc(4, sizeof *it);

        if (!it) {
            pq_params_array_free(pool, (size_t)i);
            return PQ_ENOMEM;
        }
        pool[i].n = 4;
        pool[i].items = it;
        it[0].name = strdup("lr");
        it[0].number = pow(10, -5 + 4.0 * rand_r(&seed) / RAND_MAX);
        it[1].name = strdup("gamma");
        it[1].number = 0.8 + 0.199 * rand_r(&seed) / RAND_MAX;
        it[2].name = strdup("width");
        it[2].is_integer = 1;
        it[2].number = 1 << (4 + rand_r(&seed) % 7);
        it[3].name = strdup("ent");
        it[3].number = 0.1 * rand_r(&seed) / RAND_MAX;
    }
    spec.fallback = pool;
    rc = pq_sweep_create(ctx, &spec);
    pq_params_array_free(pool, (size_t)n);
    return rc;
}

static pid_t start_proteind(const char *path, const char *url,
                            const char *device, const char *sweep)
{
    pid_t pid = fork();

    if (pid == 0) {
        /* every observation in the fit: the figure is the refit at n */
        execl(path, path, "--redis", url, "--device", device, "--sweep", sweep,
              "--debounce", "1", "--id", "bench", "--max-fit-obs", "0",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Benchmarks one n; prints a result line. Returns 0 on success. */
static int bench_n(pq_context *ctx, const char *url, const char *proteind,
                   const char *device, long n, int runs)
{
    char name[32];
    double t[MAX_RUNS], t0;
    pid_t pid;
    int rc = -1;

    snprintf(name, sizeof name, "bench-%ld", n);
    if (create(ctx, name, n) != PQ_OK) {
        fprintf(stderr, "bench_refit: create %s: %s\n", name, ctx->errstr);
        return -1;
    }
    for (long k = 0; k < n; k++)
        if (one_trial(ctx, name, k, 0) != PQ_OK) {
            fprintf(stderr, "bench_refit: preload trial %ld: %s\n", k,
                    ctx->errstr);
            return -1;
        }
    pid = start_proteind(proteind, url, device, name);
    t0 = now_s();
    if (wait_refit(ctx, name, n, 120) != 0) {
        fprintf(stderr, "bench_refit: no first refit at n=%ld\n", n);
        goto done;
    }
    fprintf(stderr, "n=%ld: start-up (rebuild + first refit) %.3f s\n", n,
            now_s() - t0);
    for (int r = 0; r < runs; r++) {
        if (one_trial(ctx, name, n + r, 60000) != PQ_OK) {
            fprintf(stderr, "bench_refit: run %d: %s\n", r, ctx->errstr);
            goto done;
        }
        t0 = now_s();
        if (wait_refit(ctx, name, n + r + 1, 120) != 0) {
            fprintf(stderr, "bench_refit: run %d: no refit\n", r);
            goto done;
        }
        t[r] = now_s() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    printf("bench_refit device=%s n=%ld runs=%d median_ms=%.1f min_ms=%.1f "
           "max_ms=%.1f\n",
           device, n, runs, 1e3 * t[runs / 2], 1e3 * t[0], 1e3 * t[runs - 1]);
    fflush(stdout);
    rc = 0;
done:
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return rc;
}

int main(int argc, char **argv)
{
    const char *device = "cpu", *builddir = getenv("top_builddir");
    long ns[16] = {100, 750};
    size_t n_ns = 0;
    int runs = 5, rc = 0;
    char proteind[1024], module[1024];
    redis_harness h;
    pq_connect_options co = {0};
    pq_context *ctx;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            device = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (n_ns < 16 && atol(argv[i]) > 0)
            ns[n_ns++] = atol(argv[i]);
        else {
            fprintf(stderr,
                    "usage: bench_refit [--device D] [--runs R] [N ...]\n");
            return 2;
        }
    }
    if (n_ns == 0)
        n_ns = 2;
    if (runs < 1 || runs > MAX_RUNS)
        runs = 5;
    snprintf(proteind, sizeof proteind, "%s/coordinator/proteind",
             builddir ? builddir : "..");
    /* --device cuda: the build tree's CUDA module, unless one is named */
    snprintf(module, sizeof module, "%s/kernels/.libs/protein-gp-cuda.so",
             builddir ? builddir : "..");
    setenv("PROTEIN_CUDA_MODULE", module, 0);
    if (access(proteind, X_OK) != 0) {
        fprintf(stderr,
                "bench_refit: %s not found "
                "(run from the build tree's tests/ or set top_builddir)\n",
                proteind);
        return 1;
    }
    if (redis_harness_start(&h, NULL) != 0)
        return 77;
    co.url = h.url;
    co.command_timeout_ms = 60000;
    ctx = pq_connect(&co);
    if (!ctx || ctx->err != PQ_OK) {
        fprintf(stderr, "bench_refit: %s\n", ctx ? ctx->errstr : "no memory");
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && i < n_ns; i++)
        rc = bench_n(ctx, h.url, proteind, device, ns[i], runs) ? 1 : 0;
    pq_free(ctx);
    redis_harness_stop(&h);
    return rc;
}
