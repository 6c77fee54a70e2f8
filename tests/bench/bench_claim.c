/*
 * bench_claim.c - claim latency (p50, p99) and throughput with 1, 16, 64
 * and 256 concurrent client processes on a private redis-server, next to
 * `redis-benchmark -t ping` on the same server.
 *
 * usage: bench_claim [seconds per level (default 2)] [levels, e.g. 1,16,64]
 *                    [pair|claim]
 * pair (the default): each operation is a claim and the completion of the
 * claimed trial, the whole life of a trial in the queue. claim: claims
 * only, as when an array's tasks start together (the trials stay running).
 * Prints one line per level (operations per second; latency of the claims
 * and of whole operations) and the PING rate with the ratio.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protein_queue.h"
#include "redis_harness.h"

/* Latency samples kept over all clients of one level. */
#define SAMPLES_TOTAL (4u << 20)
#define MAX_CLIENTS 1024

/* Claims only, no completions (the "claim" mode). */
static int claim_only;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int create_sweep(pq_context *ctx, const char *name)
{
    enum { POINTS = 64 };
    pq_params pts[POINTS];
    pq_param items[POINTS][4];
    for (int i = 0; i < POINTS; i++) {
        items[i][0] = (pq_param){.name = "lr", .number = 1e-4 * (i + 1)};
        items[i][1] = (pq_param){.name = "gamma", .number = 0.9 + i * 1e-3};
        items[i][2] =
            (pq_param){.name = "layers", .is_integer = 1, .number = i % 8};
        items[i][3] = (pq_param){.name = "act", .is_string = 1, .text = "relu"};
        pts[i] = (pq_params){4, items[i]};
    }
    pq_sweep_spec spec = {.name = name,
                          .config_yaml = "bench\n",
                          .owner_uid = 1,
                          .fallback = pts,
                          .n_fallback = POINTS};
    return pq_sweep_create(ctx, &spec);
}

/* One client: claims (and completes, unless claim_only) for `seconds`,
 * storing each operation's latency (seconds) in lat[0..cap) and each
 * claim's in claim_lat[0..cap); returns the count via *count. */
static int client(const char *url, const char *sweep, int index, int start_fd,
                  double seconds, double *lat, double *claim_lat, size_t cap,
                  size_t *count)
{
    pq_connect_options o = {.url = url};
    pq_context *ctx = pq_connect(&o);
    char key[64], go;
    int rc = 0;
    *count = 0;
    if (ctx->err != PQ_OK) {
        fprintf(stderr, "client %d: %s\n", index, ctx->errstr);
        rc = 1;
    }
    if (read(start_fd, &go, 1) < 0)
        rc = 1;
    double until = now_s() + seconds;
    for (long i = 0; rc == 0 && now_s() < until; i++) {
        snprintf(key, sizeof key, "bench-%d-%ld", index, i);
        pq_claim_request req = {.claim_key = key, .uid = 1, .array_index = -1};
        pq_trial *t = NULL;
        double t0 = now_s(), t1 = t0;
        if (pq_claim(ctx, sweep, &req, &t) != PQ_OK) {
            rc = 1;
        } else {
            t1 = now_s();
            if (!claim_only &&
                pq_complete(ctx, sweep, t->id, t->token, 0.5, 1.0) != PQ_OK)
                rc = 1;
        }
        if (rc != 0)
            fprintf(stderr, "client %d: %s\n", index, ctx->errstr);
        double dt = now_s() - t0;
        pq_trial_free(t);
        if (rc == 0 && *count < cap) {
            claim_lat[*count] = t1 - t0;
            lat[(*count)++] = dt;
        }
    }
    pq_free(ctx);
    return rc;
}

/* Runs one level with n clients; prints its line. Returns ops/s or -1. */
static double run_level(const redis_harness *h, int n, double seconds,
                        double *samples, double *claim_samples, size_t *counts)
{
    char sweep[32];
    pq_connect_options o = {.url = h->url};
    pq_context *ctx = pq_connect(&o);
    snprintf(sweep, sizeof sweep, "bench-%d", n);
    if (ctx->err != PQ_OK || create_sweep(ctx, sweep) != PQ_OK) {
        fprintf(stderr, "bench: %s\n", ctx->errstr);
        pq_free(ctx);
        return -1;
    }
    pq_free(ctx);
    size_t cap = SAMPLES_TOTAL / (size_t)n;
    int start[2];
    pid_t pids[MAX_CLIENTS];
    if (pipe(start) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(start[1]);
            _exit(client(h->url, sweep, i, start[0], seconds,
                         samples + (size_t)i * cap,
                         claim_samples + (size_t)i * cap, cap, &counts[i]));
        }
    }
    close(start[0]);
    usleep(200000 + 2000 * (unsigned)n);
    double t0 = now_s();
    close(start[1]);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    double wall = now_s() - t0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        memmove(samples + total, samples + (size_t)i * cap,
                counts[i] * sizeof *samples);
        memmove(claim_samples + total, claim_samples + (size_t)i * cap,
                counts[i] * sizeof *claim_samples);
        total += counts[i];
    }
    if (failed || total == 0) {
        fprintf(stderr, "bench: %d of %d clients failed\n", failed, n);
        return -1;
    }
    qsort(samples, total, sizeof *samples, cmp_double);
    qsort(claim_samples, total, sizeof *claim_samples, cmp_double);
    double rate = (double)total / wall;
    size_t p50 = total / 2, p99 = (size_t)((double)total * 0.99);
    printf("%7d %9zu %8.2f %10.0f %8.3f %8.3f %8.3f %8.3f\n", n, total, wall,
           rate, claim_samples[p50] * 1e3, claim_samples[p99] * 1e3,
           samples[p50] * 1e3, samples[p99] * 1e3);
    fflush(stdout);
    return rate;
}

/* Reads "NAME: RATE requests per second" from a redis-benchmark line. */
static void take_rate(const char *line, double *best)
{
    const char *colon = strchr(line, ':');
    double r;
    if (colon && strstr(line, "requests per second") &&
        sscanf(colon + 1, "%lf", &r) == 1 && r > *best)
        *best = r;
}

/* Runs redis-benchmark -t ping on the server and returns the best of its
 * rates (-1 when it did not run). Its progress lines end in '\r'. */
static double ping_rate(const redis_harness *h)
{
    char cmd[256], line[512];
    size_t len = 0;
    double best = -1;
    int c;
    snprintf(cmd, sizeof cmd,
             "redis-benchmark -p %d -t ping -n 200000 -c 50 -q 2>/dev/null",
             h->port);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    while ((c = getc(p)) != EOF) {
        if (c == '\r' || c == '\n') {
            line[len] = '\0';
            take_rate(line, &best);
            len = 0;
        } else if (len + 1 < sizeof line) {
            line[len++] = (char)c;
        }
    }
    line[len] = '\0';
    take_rate(line, &best);
    pclose(p);
    return best;
}

/* Prints the server's own time per FCALL (INFO commandstats): what a
 * claim or an outcome costs Redis, apart from the network and the client. */
static void server_time(const redis_harness *h)
{
    const char *args[] = {"INFO", "commandstats", NULL};
    char *out = redis_harness_cli(h, args);
    const char *line = out ? strstr(out, "cmdstat_fcall:") : NULL;
    double per_call;
    long calls;
    if (line &&
        sscanf(line, "cmdstat_fcall:calls=%ld,usec=%*d,usec_per_call=%lf",
               &calls, &per_call) == 2)
        printf("server time per FCALL: %.1f us over %ld calls\n", per_call,
               calls);
    free(out);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    const char *levels = argc > 2 ? argv[2] : "1,16,64,256";
    const char *mode = argc > 3 ? argv[3] : "pair";
    redis_harness h;
    claim_only = strcmp(mode, "claim") == 0;
    if (seconds <= 0 || (!claim_only && strcmp(mode, "pair") != 0)) {
        fprintf(stderr, "usage: bench_claim [seconds per level] [levels, e.g. "
                        "1,16,64,256] [pair|claim]\n");
        return 2;
    }
    if (redis_harness_start(&h, NULL) != 0)
        return 77;
    double *samples =
        mmap(NULL, SAMPLES_TOTAL * sizeof(double), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    double *claim_samples =
        mmap(NULL, SAMPLES_TOTAL * sizeof(double), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t *counts =
        mmap(NULL, MAX_CLIENTS * sizeof(size_t), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (samples == MAP_FAILED || claim_samples == MAP_FAILED ||
        counts == MAP_FAILED) {
        perror("bench: mmap");
        redis_harness_stop(&h);
        return 1;
    }
    printf("%s on %s, %.1f s per level\n",
           claim_only ? "claim" : "claim+complete", h.url, seconds);
    printf("clients       ops  seconds      ops/s claim_p50 claim_p99  op_p50  "
           " op_p99 (ms)\n");
    double best = 0;
    int rc = 0;
    char *copy = strdup(levels);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        int n = atoi(tok);
        if (n < 1 || n > MAX_CLIENTS) {
            fprintf(stderr, "bench: bad level %s\n", tok);
            rc = 2;
            break;
        }
        double rate = run_level(&h, n, seconds, samples, claim_samples, counts);
        if (rate < 0) {
            rc = 1;
            break;
        }
        if (rate > best)
            best = rate;
    }
    free(copy);
    server_time(&h);
    double ping = ping_rate(&h);
    if (ping > 0)
        printf("redis-benchmark PING: %.0f req/s; best %s rate / PING = %.3f\n",
               ping, claim_only ? "claim" : "claim+complete", best / ping);
    else
        printf("redis-benchmark not available\n");
    redis_harness_stop(&h);
    return rc;
}
