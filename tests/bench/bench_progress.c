/*
 * bench_progress.c - what a progress report costs since protein_progress
 * keeps each trial's curve (and applies W&B's hyperband): the latency of
 * pq_progress (p50, p99) and the server time per call (INFO commandstats)
 * on a private redis-server, one client, along one trial's 6000 reports
 * (see run), in a sweep without and one with hyperband bands whose
 * records hold 50 other trials; next to a PING round trip on the same
 * server.
 *
 * usage: bench_progress
 * Prints one line per phase.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "protein_queue.h"
#include "redis_harness.h"

#define OTHERS 50
#define OTHER_REPORTS 200
#define REPORTS 6000

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Microseconds of server time per FCALL since the last reset, and resets. */
static double server_us(const redis_harness *h)
{
    const char *info[] = {"INFO", "commandstats", NULL};
    const char *reset[] = {"CONFIG", "RESETSTAT", NULL};
    char *out = redis_harness_cli(h, info), *at;
    double us = -1;

    if (out && (at = strstr(out, "cmdstat_fcall:")) &&
        (at = strstr(at, "usec_per_call=")))
        us = strtod(at + strlen("usec_per_call="), NULL);
    free(out);
    free(redis_harness_cli(h, reset));
    return us;
}

/* Prints the p50 and p99 of lat[0..n) (sorted here) and, when >= 0, the
 * server's time per call. */
static void report(const char *what, double *lat, int n, double server)
{
    qsort(lat, (size_t)n, sizeof *lat, by_value);
    printf("%-58s p50 %6.1f us  p99 %7.1f us", what, lat[n / 2] * 1e6,
           lat[n * 99 / 100] * 1e6);
    if (server >= 0)
        printf("  (all %d: server %.1f us/call)", REPORTS, server);
    printf("\n");
}

/* REPORTS reports of one claimed trial, timed one by one; prints the
 * phases: a short curve (reports 1-200), every report appended to a curve
 * of 824-1023 points (the costliest: the text rewritten grows to ~40 KB),
 * and past the cap (reports 5001-6000: the stride is 8, one report in 8
 * appended). Server time is over all REPORTS calls. */
static int run(pq_context *ctx, const redis_harness *h, const char *sweep,
               const char *label)
{
    static const int from[] = {0, 824, 5000}, to[] = {200, 1024, 6000};
    pq_claim_request q = {
        .uid = 1, .array_index = -1, .node = "n", .claim_key = "me"};
    double *lat = malloc(REPORTS * sizeof *lat), t0, server;
    char what[128];
    pq_trial *t = NULL;
    int stop, i;

    if (!lat || pq_claim(ctx, sweep, &q, &t) != PQ_OK)
        return -1;
    server_us(h);
    for (i = 0; i < REPORTS; i++) {
        t0 = now_s();
        if (pq_progress(ctx, sweep, t->id, t->token, i + 1, 1.0 / (i + 1), -1,
                        &stop) != PQ_OK)
            return -1;
        lat[i] = now_s() - t0;
    }
    server = server_us(h);
    for (i = 0; i < 3; i++) {
        snprintf(what, sizeof what, "%s, reports %d-%d:", label, from[i] + 1,
                 to[i]);
        report(what, lat + from[i], to[i] - from[i], i == 2 ? server : -1);
    }
    pq_trial_free(t);
    free(lat);
    return 0;
}

int main(void)
{
    static const long bands[] = {2, 6, 18, 54, 162, 486};
    int n = 2000;
    pq_param item = {.name = "x", .number = 0.5};
    pq_params fb = {1, &item};
    pq_sweep_spec spec = {.config_yaml = "metric: score\n",
                          .owner_uid = 1,
                          .goal_minimize = 1,
                          .fallback = &fb,
                          .n_fallback = 1,
                          .hyperband_eta = 3,
                          .hyperband_strict = 1};
    pq_connect_options o = {.connect_timeout_ms = 1000,
                            .command_timeout_ms = 5000};
    redis_harness h;
    redisContext *raw;
    redisReply *r;
    pq_context *ctx;
    double *lat, t0;
    char key[32];
    int i, k, stop;

    if (redis_harness_start(&h, NULL) != 0)
        return 77;
    o.url = h.url;
    ctx = pq_connect(&o);
    raw = redisConnect("127.0.0.1", h.port);
    lat = malloc((size_t)n * sizeof *lat);
    if (!ctx || ctx->err != PQ_OK || !raw || raw->err || !lat)
        return 1;
    for (i = 0; i < n; i++) {
        t0 = now_s();
        r = redisCommand(raw, "PING");
        lat[i] = now_s() - t0;
        freeReplyObject(r);
    }
    report("PING", lat, n, -1);
    spec.name = "plain";
    if (pq_sweep_create(ctx, &spec) != PQ_OK ||
        run(ctx, &h, "plain", "curve") < 0)
        return 1;
    spec.name = "hb";
    spec.hyperband_bands = bands;
    spec.n_hyperband_bands = sizeof bands / sizeof bands[0];
    if (pq_sweep_create(ctx, &spec) != PQ_OK)
        return 1;
    for (k = 0; k < OTHERS; k++) {
        pq_claim_request q = {
            .uid = 1, .array_index = -1, .node = "n", .claim_key = key};
        pq_trial *t = NULL;

        snprintf(key, sizeof key, "other%d", k);
        if (pq_claim(ctx, "hb", &q, &t) != PQ_OK)
            return 1;
        for (i = 1; i <= OTHER_REPORTS; i++)
            pq_progress(ctx, "hb", t->id, t->token, i,
                        (double)rand() / RAND_MAX, -1, &stop);
        pq_complete(ctx, "hb", t->id, t->token, 0.5, -1);
        pq_trial_free(t);
    }
    if (run(ctx, &h, "hb", "curve + hyperband (6 bands, 50 trials)") < 0)
        return 1;
    free(lat);
    redisFree(raw);
    pq_free(ctx);
    redis_harness_stop(&h);
    return 0;
}
