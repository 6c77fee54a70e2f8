/*
 * test_queue.c - integration tests of the Redis trial queue against a
 * private redis-server (tests/common/redis_harness.h).
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cunit_run.h"
#include "pq_internal.h"
#include "protein_queue.h"
#include "queue_suite.h"

#define OWNER 1000

static redis_harness server;
static pq_context *ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock Unix seconds, as the server's clock counts lease deadlines. */
static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static pq_context *connect_to(const char *url)
{
    pq_connect_options o = {
        .url = url, .connect_timeout_ms = 1000, .command_timeout_ms = 5000};
    return pq_connect(&o);
}

/* Fallback point i: {"lr": i / 10, "layers": i, "act": "relu"}. */
static pq_params point(int i)
{
    pq_params p = {3, calloc(3, sizeof(pq_param))};
    p.items[0] = (pq_param){.name = strdup("lr"), .number = i / 10.0};
    p.items[1] =
        (pq_param){.name = strdup("layers"), .is_integer = 1, .number = i};
    p.items[2] = (pq_param){
        .name = strdup("act"), .is_string = 1, .text = strdup("relu")};
    return p;
}

typedef struct sweep_opts {
    long max_trials;
    int shared;
    int lease_seconds;
    int max_retries;
    int n_fallback;
    long grid_points;
} sweep_opts;

static int make_sweep(const char *name, sweep_opts o)
{
    int n = o.n_fallback > 0 ? o.n_fallback : 2;
    pq_params *fb = calloc((size_t)n, sizeof *fb);
    for (int i = 0; i < n; i++)
        fb[i] = point(i + 1);
    pq_sweep_spec spec = {
        .name = name,
        .config_yaml = "metric: score\n",
        .metric = "score",
        .cost_metric = "cost",
        .max_trials = o.max_trials,
        .owner_uid = OWNER,
        .shared = o.shared,
        .lease_seconds = o.lease_seconds,
        .max_retries = o.max_retries,
        .fallback = fb,
        .n_fallback = (size_t)n,
        .grid_points = o.grid_points,
    };
    int rc = pq_sweep_create(ctx, &spec);
    pq_params_array_free(fb, (size_t)n);
    return rc;
}

static pq_claim_request req_for(const char *key)
{
    pq_claim_request r = {.claim_key = key,
                          .uid = OWNER,
                          .job_id = "77",
                          .array_index = 3,
                          .node = "node1",
                          .wait_ms = 0};
    return r;
}

/* claim_ok and record end the test (CUnit's fatal assertions) when the
 * call fails, so that callers may use the result. */
static pq_trial *claim_ok(const char *sweep, const char *key)
{
    pq_claim_request r = req_for(key);
    pq_trial *t = NULL;
    int rc = pq_claim(ctx, sweep, &r, &t);
    if (rc != PQ_OK)
        fprintf(stderr, "claim on %s failed: %s\n", sweep, ctx->errstr);
    CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
    return t;
}

/* Claims trials t[0..n) of sweep with claim_ok, keys PREFIX0, PREFIX1, ... */
static void claim_n(const char *sweep, const char *prefix, pq_trial **t, int n)
{
    char key[16];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        t[i] = claim_ok(sweep, key);
    }
}

/* Asserts that the observation stream of sweep (read through ctx) holds
 * `want` entries. */
static void expect_observations(const char *sweep, size_t want)
{
    pq_observation *obs = NULL;
    size_t n = 0;
    char next[PQ_STREAM_ID_MAX];
    CU_ASSERT_EQUAL(pq_observations_all(ctx, sweep, &obs, &n, next), PQ_OK);
    CU_ASSERT_EQUAL(n, want);
    pq_observations_free(obs, n);
}

static pq_trial_record *record(const char *sweep, long id)
{
    pq_trial_record *r = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_trial_get(ctx, sweep, id, &r), PQ_OK);
    return r;
}

/* ------------------------------------------------------------ tests */

static void test_connect(void)
{
    CU_ASSERT_EQUAL(ctx->err, PQ_OK);
    const char *args[] = {"FUNCTION", "LIST", "LIBRARYNAME", "protein", NULL};
    char *out = redis_harness_cli(&server, args);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "protein_claim"));
    free(out);

    /* A library that differs from the client's (here an older one) is
     * replaced on connect; the version is the hash of the client's. */
    const char *old_lib[] = {
        "FUNCTION", "LOAD", "REPLACE",
        "#!lua "
        "name=protein\nredis.register_function{function_name='protein_version',"
        " callback=function() return 1 end, flags={'no-writes'}}",
        NULL};
    out = redis_harness_cli(&server, old_lib);
    CU_ASSERT_PTR_NOT_NULL(out);
    free(out);
    const char *version[] = {"FCALL_RO", "protein_version", "0", NULL};
    out = redis_harness_cli(&server, version);
    CU_ASSERT(out && strcmp(out, "1\n") == 0);
    free(out);
    pq_context *fresh = connect_to(server.url);
    CU_ASSERT_EQUAL(fresh->err, PQ_OK);
    pq_free(fresh);
    out = redis_harness_cli(&server, version);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(strlen(pq_functions_version), 16);
    CU_ASSERT_NSTRING_EQUAL(out, pq_functions_version, 16);
    CU_ASSERT_STRING_EQUAL(out + 16, "\n");
    free(out);
    out = redis_harness_cli(&server, args);
    CU_ASSERT(out && strstr(out, "protein_claim"));
    free(out);

    pq_context *bad = connect_to("http://localhost");
    CU_ASSERT_EQUAL(bad->err, PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(bad->errstr, "http://localhost"));
    pq_free(bad);
}

static void test_sweep_lifecycle(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("life", (sweep_opts){.max_trials = 5}),
                          PQ_OK);
    CU_ASSERT_EQUAL(make_sweep("life", (sweep_opts){0}), PQ_EEXISTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "life"));
    CU_ASSERT_EQUAL(make_sweep("bad name", (sweep_opts){0}), PQ_EINVAL);
    pq_sweep_spec empty = {.name = "nofallback", .owner_uid = OWNER};
    CU_ASSERT_EQUAL(pq_sweep_create(ctx, &empty), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_sweep_exists(ctx, "nofallback"), PQ_ENOSWEEP);

    /* A fallback point over 64 KiB is refused and nothing is created. */
    char *big = malloc(70000);
    memset(big, 'x', 69999);
    big[69999] = '\0';
    pq_param bp = {.name = "blob", .is_string = 1, .text = big};
    pq_params bps = {1, &bp};
    pq_sweep_spec huge = {
        .name = "huge", .owner_uid = OWNER, .fallback = &bps, .n_fallback = 1};
    CU_ASSERT_EQUAL(pq_sweep_create(ctx, &huge), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_sweep_exists(ctx, "huge"), PQ_ENOSWEEP);
    free(big);

    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "life", &info), PQ_OK);
    CU_ASSERT_STRING_EQUAL(info->name, "life");
    CU_ASSERT_STRING_EQUAL(info->config_yaml, "metric: score\n");
    CU_ASSERT_EQUAL(info->state, PQ_SWEEP_ACTIVE);
    CU_ASSERT_EQUAL(info->max_trials, 5);
    CU_ASSERT_EQUAL(info->owner_uid, OWNER);
    CU_ASSERT_EQUAL(info->n_fallback, 2);
    CU_ASSERT_EQUAL(info->lease_seconds, 86400);
    CU_ASSERT_FALSE(info->coordinator_alive);
    CU_ASSERT(info->created_at > 1e9);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(pq_sweep_get(ctx, "absent", &info), PQ_ENOSWEEP);
    CU_ASSERT_PTR_NULL(info);

    char **names = NULL, **cut = NULL;
    size_t n = 0, n_cut = 0;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_list(ctx, &names, &n, &cut, &n_cut), PQ_OK);
    CU_ASSERT_EQUAL(n_cut, 0);
    pq_strings_free(cut, n_cut);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found += strcmp(names[i], "life") == 0;
    CU_ASSERT_EQUAL(found, 1);
    pq_strings_free(names, n);

    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "life", OWNER + 1), PQ_EPERM);
    pq_trial *t = claim_ok("life", "k1");
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "life", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_exists(ctx, "life"), PQ_ENOSWEEP);
    if (t)
        CU_ASSERT_EQUAL(pq_complete(ctx, "life", t->id, t->token, 1, 1),
                        PQ_ENOSWEEP);
    pq_trial_free(t);
    const char *args[] = {"--scan", "--pattern", "protein:{life}:*", NULL};
    char *out = redis_harness_cli(&server, args);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_STRING_EQUAL(out, "");
    free(out);
}

static void test_claim_complete(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("basic", (sweep_opts){.n_fallback = 3}),
                          PQ_OK);
    pq_trial *t = claim_ok("basic", "job-1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->id, 1);
    CU_ASSERT_EQUAL(t->state, PQ_TRIAL_RUNNING);
    CU_ASSERT_TRUE(t->fallback);
    CU_ASSERT_FALSE(t->resumed);
    CU_ASSERT_EQUAL(t->attempts, 1);
    CU_ASSERT_EQUAL(strlen(t->token), 32);
    CU_ASSERT_STRING_EQUAL(t->metric, "score");
    CU_ASSERT_EQUAL_FATAL(t->params.n, 3);
    CU_ASSERT_EQUAL(t->params.items[0].number, 0.1);
    CU_ASSERT_TRUE(t->params.items[1].is_integer);

    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", t->id, t->token, NAN, 1),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", t->id, t->token, 1, INFINITY),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", t->id, "0123", 1, 1), PQ_ETOKEN);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "basic"));
    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", 99, t->token, 1, 1), PQ_ENOTRIAL);
    pq_trial_record *r = record("basic", t->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);

    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", t->id, t->token, 0.75, 12.5),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", t->id, t->token, 0.5, 1),
                    PQ_EDONE);
    CU_ASSERT_EQUAL(pq_fail(ctx, "basic", t->id, t->token, 1, "x"), PQ_EDONE);

    r = record("basic", t->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_TRUE(r->has_score);
    CU_ASSERT_EQUAL(r->score, 0.75);
    CU_ASSERT_EQUAL(r->cost, 12.5);
    CU_ASSERT_STRING_EQUAL(r->job_id, "77");
    CU_ASSERT_EQUAL(r->array_index, 3);
    CU_ASSERT_STRING_EQUAL(r->node, "node1");
    CU_ASSERT(r->ended_at >= r->claimed_at && r->claimed_at > 0);
    pq_trial_record_free(r);

    /* The hash is plain text for redis-cli. */
    const char *args[] = {"HGETALL", "protein:{basic}:trial:1", NULL};
    char *out = redis_harness_cli(&server, args);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "completed"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "{\"lr\": 0.1, \"layers\": 1, \"act\": \"relu\"}"));
    CU_ASSERT_PTR_NULL(strstr(out, t->token));
    free(out);

    /* Fallback points rotate. */
    pq_trial *t2 = claim_ok("basic", "job-2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
    CU_ASSERT_EQUAL(t2->params.items[1].number, 2);
    CU_ASSERT_STRING_NOT_EQUAL(t2->token, t->token);
    CU_ASSERT_EQUAL(pq_fail(ctx, "basic", t2->id, t2->token, 3, "boom"), PQ_OK);
    r = record("basic", t2->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_FAILED);
    CU_ASSERT_EQUAL(r->exit_status, 3);
    CU_ASSERT_STRING_EQUAL(r->error, "boom");
    pq_trial_record_free(r);

    pq_observation *obs = NULL;
    size_t n = 0;
    char next[PQ_STREAM_ID_MAX];
    CU_ASSERT_EQUAL_FATAL(pq_observations_all(ctx, "basic", &obs, &n, next),
                          PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(obs[0].trial_id, 1);
    CU_ASSERT_EQUAL(obs[0].outcome, PQ_TRIAL_COMPLETED);
    CU_ASSERT_TRUE(obs[0].has_score && obs[0].has_cost);
    CU_ASSERT_EQUAL(obs[0].score, 0.75);
    CU_ASSERT_EQUAL(obs[0].cost, 12.5);
    CU_ASSERT_TRUE(obs[0].fallback);
    CU_ASSERT_EQUAL_FATAL(obs[0].params.n, 3);
    CU_ASSERT_EQUAL(obs[0].params.items[0].number, 0.1);
    CU_ASSERT_TRUE(obs[0].params.items[1].is_integer);
    CU_ASSERT_STRING_EQUAL(obs[0].params.items[2].text, "relu");
    CU_ASSERT_EQUAL(obs[1].outcome, PQ_TRIAL_FAILED);
    CU_ASSERT_FALSE(obs[1].has_score);
    CU_ASSERT_STRING_EQUAL(next, obs[1].entry_id);
    pq_observations_free(obs, n);

    /* A stray entry (not written by protein's functions) is returned
     * marked undecodable, and the entries around it still decode. */
    const char *stray[] = {
        "XADD", "protein:{basic}:observations", "*", "m", "not msgpack", NULL};
    free(redis_harness_cli(&server, stray));
    pq_trial *t3 = claim_ok("basic", "job-3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
    CU_ASSERT_EQUAL(pq_complete(ctx, "basic", t3->id, t3->token, 0.5, 1.0),
                    PQ_OK);
    CU_ASSERT_EQUAL_FATAL(
        pq_observations_read(ctx, "basic", next, 0, 10, &obs, &n, next), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_TRUE(obs[0].undecodable);
    CU_ASSERT(obs[0].entry_id[0] != '\0');
    CU_ASSERT_EQUAL(obs[0].params.n, 0);
    CU_ASSERT_FALSE(obs[1].undecodable);
    CU_ASSERT_EQUAL(obs[1].trial_id, t3->id);
    CU_ASSERT_EQUAL(obs[1].score, 0.5);
    CU_ASSERT_STRING_EQUAL(next, obs[1].entry_id);
    pq_observations_free(obs, n);
    pq_trial_free(t3);

    /* Nothing new after next: an empty read, and a blocking one waits. */
    double t0 = now_s();
    CU_ASSERT_EQUAL(
        pq_observations_read(ctx, "basic", next, 100, 10, &obs, &n, next),
        PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(now_s() - t0 >= 0.09);

    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "basic", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_trials, 3);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], 2);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_FAILED], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    pq_sweep_info_free(info);
    pq_trial_free(t);
    pq_trial_free(t2);
}

static void test_idempotent_claim(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("idem", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("idem", "job-9_1");
    pq_trial *b = claim_ok("idem", "job-9_1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(a->id, b->id);
    CU_ASSERT_TRUE(b->resumed);
    CU_ASSERT_EQUAL(b->attempts, 2);
    /* Each claim gets its own token; the first stays valid while the same
     * claim key holds the trial (the nodes of one step each claim it). */
    CU_ASSERT_STRING_NOT_EQUAL(a->token, b->token);

    /* Interrupted (preempted), then the requeued task resumes it. */
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "idem", a->id, a->token, "SIGTERM"),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "idem", a->id, a->token, "again"),
                    PQ_EDONE);
    /* the same key's other claim did not record it */
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "idem", b->id, b->token, "again"),
                    PQ_ESTATE);
    pq_trial_record *r = record("idem", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_INTERRUPTED);
    CU_ASSERT_STRING_EQUAL(r->error, "SIGTERM");
    pq_trial_record_free(r);
    pq_trial *c = claim_ok("idem", "job-9_1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->id, a->id);
    CU_ASSERT_TRUE(c->resumed);
    CU_ASSERT_EQUAL(c->state, PQ_TRIAL_RUNNING);
    CU_ASSERT_EQUAL(c->attempts, 3);

    /* A long error text is cut to 1 KiB. */
    char *long_err = malloc(5000);
    memset(long_err, 'e', 4999);
    long_err[4999] = '\0';
    CU_ASSERT_EQUAL(pq_fail(ctx, "idem", c->id, c->token, 9, long_err), PQ_OK);
    free(long_err);
    r = record("idem", c->id);
    CU_ASSERT_EQUAL(strlen(r->error), 1024);
    pq_trial_record_free(r);

    /* Claim keys are bounded. */
    char long_key[300];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    pq_claim_request lq = req_for(long_key);
    pq_trial *lt = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "idem", &lq, &lt), PQ_EINVAL);
    CU_ASSERT_PTR_NULL(lt);
    lq.claim_key = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "idem", &lq, &lt), PQ_EINVAL);

    /* The key of a finished trial gets no new trial. */
    pq_claim_request q = req_for("job-9_1");
    pq_trial *d = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "idem", &q, &d), PQ_ESTATE);
    CU_ASSERT_PTR_NULL(d);
    pq_trial *e = claim_ok("idem", "job-10_1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_NOT_EQUAL(e->id, a->id);
    pq_trial_free(a);
    pq_trial_free(b);
    pq_trial_free(c);
    pq_trial_free(e);
}

/* A trial that runs again or ends shows no error an earlier attempt left
 * (protein show and export printed a completed trial's old interrupt);
 * its attempt count keeps that history. */
static void test_rerun_clears_error(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("again", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("again", "myk");
    CU_ASSERT_EQUAL(
        pq_interrupt(ctx, "again", a->id, a->token, "stopped by Interrupt"),
        PQ_OK);
    pq_trial *b = claim_ok("again", "myk");
    CU_ASSERT_EQUAL(b->id, a->id);
    CU_ASSERT_TRUE(b->resumed);
    pq_trial_record *r = record("again", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    CU_ASSERT_PTR_NULL(r->error);
    CU_ASSERT_EQUAL(r->ended_at, 0);
    CU_ASSERT_EQUAL(r->attempts, 2);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_complete(ctx, "again", b->id, b->token, 0.5, -1), PQ_OK);
    r = record("again", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_PTR_NULL(r->error);
    CU_ASSERT(r->ended_at > 0);
    CU_ASSERT_EQUAL(r->attempts, 2);
    pq_trial_record_free(r);
    pq_trial_free(a);
    pq_trial_free(b);
}

static void test_budget_owner_state(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("budget", (sweep_opts){.max_trials = 3}),
                          PQ_OK);
    pq_trial *t[3];
    claim_n("budget", "k", t, 3);
    pq_claim_request q = req_for("k3");
    pq_trial *x = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "budget", &q, &x), PQ_EBUDGET);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "budget"));
    for (int i = 0; i < 3; i++)
        pq_trial_free(t[i]);

    CU_ASSERT_EQUAL_FATAL(make_sweep("owned", (sweep_opts){0}), PQ_OK);
    q = req_for("other");
    q.uid = OWNER + 1;
    CU_ASSERT_EQUAL(pq_claim(ctx, "owned", &q, &x), PQ_EPERM);
    CU_ASSERT_EQUAL_FATAL(make_sweep("shared", (sweep_opts){.shared = 1}),
                          PQ_OK);
    CU_ASSERT_EQUAL(pq_claim(ctx, "shared", &q, &x), PQ_OK);
    pq_trial_free(x);
    x = NULL;

    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "owned", "pause", OWNER + 1),
                    PQ_EPERM);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "owned", "explode", OWNER),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "owned", "pause", OWNER), PQ_OK);
    q = req_for("p1");
    CU_ASSERT_EQUAL(pq_claim(ctx, "owned", &q, &x), PQ_ESTOPPED);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "owned", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->state, PQ_SWEEP_PAUSED);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "owned", "resume", 0), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_claim(ctx, "owned", &q, &x), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "owned", "stop", OWNER), PQ_OK);
    pq_trial *y = NULL;
    q.claim_key = "p2";
    CU_ASSERT_EQUAL(pq_claim(ctx, "owned", &q, &y), PQ_ESTOPPED);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "owned", "resume", OWNER),
                    PQ_ESTATE);
    /* A running trial may still finish after the stop. */
    CU_ASSERT_EQUAL(pq_complete(ctx, "owned", x->id, x->token, 1, -1), PQ_OK);
    pq_trial_free(x);
}

/* A budget set or raised by its owner: a sweep that used its budget
 * hands out trials again; a raise adds on the server (two make both);
 * lowered below what it handed out, claims stop; a sweep without a budget
 * is not raised, a grid's budget is its points, a stopped sweep's is
 * final, and another uid is refused. */
static void test_set_budget(void)
{
    long budget = -1, used = -1;
    pq_claim_request q = req_for("more");
    pq_trial *t[2], *x = NULL;

    CU_ASSERT_EQUAL_FATAL(make_sweep("raise", (sweep_opts){.max_trials = 2}),
                          PQ_OK);
    claim_n("raise", "r", t, 2);
    CU_ASSERT_EQUAL(pq_claim(ctx, "raise", &q, &x), PQ_EBUDGET);
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "raise", 1, 1, OWNER + 1, NULL, 0,
                                        &budget, &used),
                    PQ_EPERM);
    CU_ASSERT_EQUAL(
        pq_sweep_set_budget(ctx, "raise", 1, 1, OWNER, NULL, 0, &budget, &used),
        PQ_OK);
    CU_ASSERT_EQUAL(budget, 3);
    CU_ASSERT_EQUAL(used, 2);
    CU_ASSERT_EQUAL(
        pq_sweep_set_budget(ctx, "raise", 2, 1, 0, NULL, 0, &budget, NULL),
        PQ_OK);
    CU_ASSERT_EQUAL(budget, 5);
    CU_ASSERT_EQUAL_FATAL(pq_claim(ctx, "raise", &q, &x), PQ_OK);
    pq_trial_free(x);
    x = NULL;
    CU_ASSERT_EQUAL(
        pq_sweep_set_budget(ctx, "raise", 2, 0, OWNER, NULL, 0, &budget, &used),
        PQ_OK);
    CU_ASSERT_EQUAL(budget, 2);
    CU_ASSERT_EQUAL(used, 3);
    q.claim_key = "less";
    CU_ASSERT_EQUAL(pq_claim(ctx, "raise", &q, &x), PQ_EBUDGET);
    CU_ASSERT_EQUAL(
        pq_sweep_set_budget(ctx, "raise", 0, 0, OWNER, NULL, 0, NULL, NULL),
        PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "raise", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "raise", 10, 1, OWNER, NULL, 0,
                                        &budget, &used),
                    PQ_ESTATE);
    for (int i = 0; i < 2; i++)
        pq_trial_free(t[i]);

    CU_ASSERT_EQUAL_FATAL(make_sweep("unlimited", (sweep_opts){0}), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "unlimited", 5, 1, OWNER, NULL, 0,
                                        &budget, &used),
                    PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "no budget to add to"));
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "unlimited", 5, 0, OWNER, NULL, 0,
                                        &budget, &used),
                    PQ_OK);
    CU_ASSERT_EQUAL(budget, 5);
    CU_ASSERT_EQUAL(used, 0);

    CU_ASSERT_EQUAL_FATAL(
        make_sweep(
            "gridbudget",
            (sweep_opts){.max_trials = 2, .grid_points = 2, .n_fallback = 2}),
        PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "gridbudget", 5, 1, OWNER, NULL, 0,
                                        &budget, &used),
                    PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "is a grid"));
}

/* The value of number parameter `name` of trial t, or -1. */
static double param_of(const pq_trial *t, const char *name)
{
    for (size_t i = 0; i < t->params.n; i++)
        if (strcmp(t->params.items[i].name, name) == 0)
            return t->params.items[i].number;
    return -1;
}

/* Fallback points given with a raise go to the pool's end: the claims
 * past the old budget that find no queued point (no coordinator) get
 * them, not the pool's points again from its start. */
static void test_set_budget_fresh_points(void)
{
    pq_params fresh[2] = {point(60), point(61)};
    long budget = -1, used = -1;
    pq_trial *t[2], *u[2];
    pq_sweep_info *info = NULL;

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("freshpool", (sweep_opts){.max_trials = 2}), PQ_OK);
    claim_n("freshpool", "f", t, 2);
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "freshpool", 2, 1, OWNER, fresh, 2,
                                        &budget, &used),
                    PQ_OK);
    CU_ASSERT_EQUAL(budget, 4);
    CU_ASSERT_EQUAL(used, 2);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "freshpool", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_fallback, 4);
    pq_sweep_info_free(info);
    claim_n("freshpool", "g", u, 2);
    CU_ASSERT_EQUAL(param_of(t[0], "layers"), 1);
    CU_ASSERT_EQUAL(param_of(t[1], "layers"), 2);
    CU_ASSERT_EQUAL(param_of(u[0], "layers"), 60);
    CU_ASSERT_EQUAL(param_of(u[1], "layers"), 61);
    for (int i = 0; i < 2; i++) {
        pq_trial_free(t[i]);
        pq_trial_free(u[i]);
        pq_params_free(&fresh[i]);
    }
}

static void test_lease_expiry(void)
{
    /* Leases of 3 s by the server's clock: protein_expire takes no time
     * from its caller, so the test waits for deadlines to pass. */
    CU_ASSERT_EQUAL_FATAL(
        make_sweep("lease", (sweep_opts){.lease_seconds = 3, .max_retries = 1}),
        PQ_OK);
    double t0 = unix_now();
    pq_trial *a = claim_ok("lease", "dead-job");
    pq_trial *b = claim_ok("lease", "live-job");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    long n = -1;
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "lease", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 0);

    /* Progress renews b's lease. */
    pq_trial_record *r = record("lease", b->id);
    double old_deadline = r->deadline;
    pq_trial_record_free(r);
    CU_ASSERT(old_deadline > t0 + 2);
    sleep_s(1.5);
    int stop = -1;
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "lease", b->id, b->token, 10, 0.5, 3, &stop), PQ_OK);
    CU_ASSERT_EQUAL(stop, 0);
    r = record("lease", b->id);
    CU_ASSERT(r->deadline > old_deadline + 1);
    CU_ASSERT_EQUAL(r->progress_score, 0.5);
    pq_trial_record_free(r);
    pq_params *pts = NULL;
    size_t np = 0;
    CU_ASSERT_EQUAL(pq_running_points(ctx, "lease", &pts, &np), PQ_OK);
    CU_ASSERT_EQUAL(np, 2);
    pq_params_array_free(pts, np);

    /* a's lease is over, b's renewed one is not: a gets a retry. */
    sleep_s(2.0);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "lease", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    r = record("lease", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    CU_ASSERT_EQUAL(r->retries, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r->error, "lease expired"));
    pq_trial_record_free(r);
    r = record("lease", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    /* The retry queue still counts as pending. */
    CU_ASSERT_EQUAL(pq_running_points(ctx, "lease", &pts, &np), PQ_OK);
    CU_ASSERT_EQUAL(np, 2);
    pq_params_array_free(pts, np);

    /* Then b's lease is over too; its late outcome is still taken (its
     * token is unchanged), which takes it off the retry queue. */
    sleep_s(1.5);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "lease", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(pq_complete(ctx, "lease", b->id, b->token, 2, 1), PQ_OK);
    r = record("lease", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_PTR_NULL(r->error);
    pq_trial_record_free(r);

    /* Another task gets a's point back: same trial, new token. */
    pq_trial *c = claim_ok("lease", "new-job");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->id, a->id);
    CU_ASSERT_FALSE(c->resumed);
    CU_ASSERT_EQUAL(c->attempts, 2);
    CU_ASSERT_STRING_NOT_EQUAL(c->token, a->token);
    /* a's token no longer runs the trial: no progress, renewal or
     * interruption (its late outcome: test_late_reclaimed) */
    CU_ASSERT_EQUAL(pq_renew(ctx, "lease", a->id, a->token, &stop), PQ_ETOKEN);
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "lease", a->id, a->token, "x"),
                    PQ_ETOKEN);

    /* No retries left: lost for good. */
    sleep_s(3.2);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "lease", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    r = record("lease", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_LOST);
    pq_trial_record_free(r);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "lease", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->n_trials, 2);
    pq_sweep_info_free(info);

    pq_observation *obs = NULL;
    size_t n_obs = 0;
    char next[PQ_STREAM_ID_MAX];
    CU_ASSERT_EQUAL_FATAL(pq_observations_all(ctx, "lease", &obs, &n_obs, next),
                          PQ_OK);
    int lost = 0;
    for (size_t i = 0; i < n_obs; i++)
        lost += obs[i].outcome == PQ_TRIAL_LOST;
    CU_ASSERT_EQUAL(lost, 3);
    pq_observations_free(obs, n_obs);
    pq_trial_free(a);
    pq_trial_free(b);
    pq_trial_free(c);
}

static void test_late_outcomes(void)
{
    /* Budget 1, one retry: the retry reuses the trial and costs no budget. */
    CU_ASSERT_EQUAL_FATAL(make_sweep("late", (sweep_opts){.max_trials = 1,
                                                          .lease_seconds = 1,
                                                          .max_retries = 1}),
                          PQ_OK);
    pq_trial *a = claim_ok("late", "first");
    long n = 0;
    sleep_s(1.2);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "late", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(pq_progress(ctx, "late", a->id, a->token, 1, 1, -1, NULL),
                    PQ_ESTATE);
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "late", a->id, a->token, "x"), PQ_ESTATE);
    pq_trial *b = claim_ok("late", "second");
    CU_ASSERT_EQUAL(b->id, a->id);
    CU_ASSERT_EQUAL(b->attempts, 2);
    pq_claim_request q = req_for("third");
    pq_trial *c = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "late", &q, &c), PQ_EBUDGET);

    /* Out of retries: lost; the holder's late result is still recorded. */
    sleep_s(1.2);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "late", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "late", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 1);
    pq_sweep_info_free(info);
    /* lost, the run's outcome still counts: its report does not stop it */
    int stop = -1;
    CU_ASSERT_EQUAL(pq_progress(ctx, "late", b->id, b->token, 1, 1, -1, &stop),
                    PQ_ESTATE);
    CU_ASSERT_EQUAL(stop, 0);
    CU_ASSERT_EQUAL(pq_fail(ctx, "late", b->id, b->token, 137, "killed"),
                    PQ_OK);
    pq_trial_record *r = record("late", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_FAILED);
    CU_ASSERT_EQUAL(r->exit_status, 137);
    CU_ASSERT_EQUAL(r->retries, 1);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "late", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_FAILED], 1);
    CU_ASSERT_EQUAL(info->n_trials, 1);
    pq_sweep_info_free(info);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* The number of observations of the sweep with that outcome. */
static int observed(const char *sweep, pq_trial_state outcome)
{
    pq_observation *obs = NULL;
    size_t n_obs = 0;
    char next[PQ_STREAM_ID_MAX];
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(pq_observations_all(ctx, sweep, &obs, &n_obs, next),
                          PQ_OK);
    for (size_t i = 0; i < n_obs; i++)
        n += obs[i].outcome == outcome;
    pq_observations_free(obs, n_obs);
    return n;
}

/* Makes sweep (a lease of 1 s, o's budget and retries), claims *a as
 * "suspended-job", lets its lease run out and expires it, then claims *b
 * as second_key: the point again when o allows a retry. */
static void outlive_lease(const char *sweep, sweep_opts o,
                          const char *second_key, pq_trial **a, pq_trial **b)
{
    long n = 0;
    o.lease_seconds = 1;
    CU_ASSERT_EQUAL_FATAL(make_sweep(sweep, o), PQ_OK);
    *a = claim_ok(sweep, "suspended-job");
    sleep_s(1.2);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, sweep, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    *b = claim_ok(sweep, second_key);
}

/* A task whose lease ran out (suspended, or its time limit raised) and
 * whose point another task claimed again for the retry still records its
 * outcome when it ends: the first outcome of the point wins, the retry's
 * run gets ESTATE, and the budget counts the trial once. */
static void test_late_reclaimed(void)
{
    pq_trial *a, *b;
    outlive_lease("reclaim", (sweep_opts){.max_trials = 1, .max_retries = 1},
                  "retry-job", &a, &b);
    CU_ASSERT_EQUAL_FATAL(b->id, a->id);
    /* only an outcome is taken from the expired claim */
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "reclaim", a->id, a->token, 1, 1, -1, NULL),
        PQ_ETOKEN);
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "reclaim", a->id, a->token, "x"),
                    PQ_ETOKEN);
    CU_ASSERT_EQUAL(pq_complete(ctx, "reclaim", a->id, a->token, 7, 3), PQ_OK);
    pq_trial_record *r = record("reclaim", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_EQUAL(r->score, 7);
    CU_ASSERT_EQUAL(r->retries, 1);
    CU_ASSERT_EQUAL(r->attempts, 2);
    CU_ASSERT_EQUAL(r->deadline, 0);
    CU_ASSERT_PTR_NULL(r->error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->late_key);
    CU_ASSERT_STRING_EQUAL(r->late_key, "suspended-job");
    CU_ASSERT(r->late_expired_at > r->started_at &&
              r->late_expired_at < r->claimed_at + 0.5);
    pq_trial_record_free(r);
    /* the retry's run is over: its renewal, outcome and resume say so, and
     * its report is told to stop, recording nothing */
    int stop = -1;
    CU_ASSERT_EQUAL(pq_renew(ctx, "reclaim", b->id, b->token, &stop),
                    PQ_ESTATE);
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "reclaim", b->id, b->token, 1, 2, -1, &stop), PQ_OK);
    CU_ASSERT_EQUAL(stop, PQ_STOP_ENDED);
    r = record("reclaim", a->id);
    CU_ASSERT_EQUAL(r->progress_n, 0);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_complete(ctx, "reclaim", b->id, b->token, 9, 1),
                    PQ_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "suspended-job"));
    CU_ASSERT_EQUAL(pq_complete(ctx, "reclaim", a->id, a->token, 8, 1),
                    PQ_EDONE);
    pq_claim_request q = req_for("retry-job");
    pq_trial *c = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "reclaim", &q, &c), PQ_ESTATE);
    q = req_for("third");
    CU_ASSERT_EQUAL(pq_claim(ctx, "reclaim", &q, &c), PQ_EBUDGET);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "reclaim", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_trials, 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 0);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(observed("reclaim", PQ_TRIAL_LOST), 1);
    CU_ASSERT_EQUAL(observed("reclaim", PQ_TRIAL_COMPLETED), 1);
    pq_trial_free(a);
    pq_trial_free(b);

    /* The retry interrupted (its job requeued): the late failure is
     * recorded, and the requeued job's resume is refused. */
    outlive_lease("reclaim2", (sweep_opts){.max_retries = 1}, "retry-job", &a,
                  &b);
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "reclaim2", b->id, b->token, "requeued"),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_fail(ctx, "reclaim2", a->id, a->token, 3, "exit 3"),
                    PQ_OK);
    r = record("reclaim2", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_FAILED);
    CU_ASSERT_EQUAL(r->exit_status, 3);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "reclaim2", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_FAILED], 1);
    pq_sweep_info_free(info);
    q = req_for("retry-job");
    CU_ASSERT_EQUAL(pq_claim(ctx, "reclaim2", &q, &c), PQ_ESTATE);
    pq_trial_free(a);
    pq_trial_free(b);

    /* Lost for good, its slot handed to another trial: the late result
     * takes the slot back, so the sweep holds one trial over its budget
     * and serves no claim while it does. */
    outlive_lease("reclaim3", (sweep_opts){.max_trials = 1}, "next-job", &a,
                  &b);
    CU_ASSERT_EQUAL(b->id, a->id + 1);
    CU_ASSERT_EQUAL(pq_complete(ctx, "reclaim3", a->id, a->token, 1, 1), PQ_OK);
    r = record("reclaim3", a->id);
    CU_ASSERT_PTR_NOT_NULL(r->late_key);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "reclaim3", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_trials, 2);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 1);
    pq_sweep_info_free(info);
    q = req_for("third");
    CU_ASSERT_EQUAL(pq_claim(ctx, "reclaim3", &q, &c), PQ_EBUDGET);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* With no coordinator alive, a claim ends the leases that ran out (a
 * worker killed mid-trial): the point is retried, or the slot of a trial
 * lost for good given back, instead of the trial staying running and the
 * budget used up for ever. While a coordinator holds the sweep, expiry
 * stays its job. */
static void test_claim_expires(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("orphan", (sweep_opts){.max_trials = 1,
                                                            .lease_seconds = 1,
                                                            .max_retries = 1}),
                          PQ_OK);
    pq_trial *a = claim_ok("orphan", "killed");
    int leader = -1;
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "orphan", "C", 5000, &leader),
                    PQ_OK);
    CU_ASSERT_EQUAL(leader, 1);
    sleep_s(1.2);
    pq_claim_request q = req_for("while-served");
    pq_trial *x = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "orphan", &q, &x), PQ_EBUDGET);
    pq_trial_record *r = record("orphan", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);

    /* no coordinator: the next claim retries the lost trial's point */
    CU_ASSERT_EQUAL(pq_coordinator_release(ctx, "orphan", "C"), PQ_OK);
    pq_trial *b = claim_ok("orphan", "next");
    CU_ASSERT_EQUAL(b->id, a->id);
    CU_ASSERT_EQUAL(b->attempts, 2);
    /* out of retries: lost for good, its slot given back to the budget */
    sleep_s(1.2);
    pq_trial *c = claim_ok("orphan", "last");
    CU_ASSERT_NOT_EQUAL(c->id, a->id);
    r = record("orphan", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_LOST);
    CU_ASSERT_PTR_NOT_NULL(strstr(r->error, "no outcome from next"));
    pq_trial_record_free(r);
    pq_trial_free(a);
    pq_trial_free(b);
    pq_trial_free(c);
}

/* protein_due lists the running trials past their deadline with their
 * claim keys; protein_extend renews one for the sweep's coordinator only
 * while it runs under the claim key asked about: never one that ended,
 * one retried under another claim, or under a wrong key. protein_expire's
 * grace leaves a due trial alone that long. */
static void test_lease_extend(void)
{
    pq_due_lease *due = NULL;
    pq_trial_record *r;
    size_t n_due = 0;
    long owner = -1, n = -1;
    double deadline = 0, b_deadline = 0, cut = -1;
    int leader = -1;

    CU_ASSERT_EQUAL_FATAL(make_sweep("extend", (sweep_opts){.lease_seconds = 1,
                                                            .max_retries = 1}),
                          PQ_OK);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "extend", "C", 60000, &leader),
                    PQ_OK);
    CU_ASSERT_EQUAL(leader, 1);
    pq_trial *a = claim_ok("extend", "ext-a");
    pq_trial *b = claim_ok("extend", "ext-b");
    CU_ASSERT_EQUAL(
        pq_leases_due(ctx, "extend", 16, &due, &n_due, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL(n_due, 0);
    CU_ASSERT_EQUAL(owner, OWNER);
    sleep_s(1.2);
    CU_ASSERT_EQUAL_FATAL(
        pq_leases_due(ctx, "extend", 16, &due, &n_due, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n_due, 2);
    CU_ASSERT_EQUAL(due[0].id, a->id);
    CU_ASSERT_STRING_EQUAL(due[0].claim_key, "ext-a");
    CU_ASSERT_EQUAL(due[0].uid, OWNER);
    CU_ASSERT(due[0].deadline > unix_now() - 1);
    CU_ASSERT_STRING_EQUAL(due[1].claim_key, "ext-b");
    b_deadline = due[1].deadline;
    CU_ASSERT_EQUAL(cut, b_deadline);
    free(due);
    CU_ASSERT_EQUAL(pq_leases_due(ctx, "extend", 1, &due, &n_due, &owner, &cut),
                    PQ_OK);
    CU_ASSERT_EQUAL(n_due, 1);
    free(due);
    CU_ASSERT_EQUAL(pq_leases_due(ctx, "extend", PQ_DUE_MAX + 1, &due, &n_due,
                                  &owner, &cut),
                    PQ_EINVAL);

    /* the right claim key: renewed by the trial's lease from now */
    CU_ASSERT_EQUAL(
        pq_lease_extend(ctx, "extend", "C", a->id, "ext-a", &deadline), PQ_OK);
    CU_ASSERT(deadline > unix_now() + 0.5 && deadline < unix_now() + 1.5);
    r = record("extend", a->id);
    CU_ASSERT_EQUAL(r->deadline, deadline);
    pq_trial_record_free(r);
    /* a wrong key, or a caller that is not the coordinator: nothing */
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "C", b->id, "ext-a", NULL),
                    PQ_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "not running under claim"));
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "X", b->id, "ext-b", NULL),
                    PQ_ESTATE);
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "C", 999, "ext-b", NULL),
                    PQ_ENOTRIAL);

    /* b is due: spared within a grace it stays, unspared it expires (a
     * retry queued); a cut before its deadline (the last read of a full
     * protein_due) keeps it too */
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "extend", 60, 0, &b->id, 1, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "extend", 0,
                                           b_deadline - 0.000001, NULL, 0, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "extend", -1, 0, &b->id, 1, &n),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "extend",
                                           PQ_EXPIRE_GRACE_MAX + 1, 0, &b->id,
                                           1, &n),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "extend", 60, 0, &b->id,
                                           PQ_DUE_MAX + 1, &n),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "extend", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    r = record("extend", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    /* a trial queued for its retry is not running: not extended */
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "C", b->id, "ext-b", NULL),
                    PQ_ESTATE);

    /* b's retry under claim ext-c: the old claim no longer extends it */
    pq_trial *c = claim_ok("extend", "ext-c");
    CU_ASSERT_EQUAL_FATAL(c->id, b->id);
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "C", b->id, "ext-b", NULL),
                    PQ_ESTATE);
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "C", c->id, "ext-c", NULL),
                    PQ_OK);

    /* a trial that ended is never extended, nor listed as due */
    CU_ASSERT_EQUAL(pq_complete(ctx, "extend", a->id, a->token, 1, 1), PQ_OK);
    CU_ASSERT_EQUAL(pq_lease_extend(ctx, "extend", "C", a->id, "ext-a", NULL),
                    PQ_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "completed, not running"));
    sleep_s(1.2);
    CU_ASSERT_EQUAL_FATAL(
        pq_leases_due(ctx, "extend", 16, &due, &n_due, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n_due, 1);
    CU_ASSERT_EQUAL(due[0].id, c->id);
    CU_ASSERT_STRING_EQUAL(due[0].claim_key, "ext-c");
    free(due);
    CU_ASSERT_EQUAL(
        pq_leases_due(ctx, "absent", 16, &due, &n_due, &owner, &cut),
        PQ_ENOSWEEP);
    pq_trial_free(a);
    pq_trial_free(b);
    pq_trial_free(c);
}

/* protein_expire's spared trials: each one named is kept while its own
 * deadline passed grace seconds ago or less, and the others due are
 * expired in the same call, however long a spared one may still wait
 * (the grace was per sweep: one job whose state slurmctld had not told
 * yet held every due trial of the sweep for up to the grace). A cut
 * (before) still spares the trials due after it; malformed ids are
 * refused. */
static void test_expire_spares_trials(void)
{
    pq_trial *t[4];
    pq_trial_record *r;
    long spare[3], n = 0;

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("spare", (sweep_opts){.lease_seconds = 1, .max_retries = 1}),
        PQ_OK);
    /* t1 due 20 ms after t0 at least: a cut falls between them */
    t[0] = claim_ok("spare", "sp0");
    sleep_s(0.02);
    t[1] = claim_ok("spare", "sp1");
    t[2] = claim_ok("spare", "sp2");
    t[3] = claim_ok("spare", "sp3");
    sleep_s(1.2);
    /* t0 and t1 spared (with an id not due, which changes nothing); t2
     * and t3 expired at once */
    spare[0] = t[0]->id;
    spare[1] = t[1]->id;
    spare[2] = 999;
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "spare", 60, 0, spare, 3, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    for (int i = 0; i < 4; i++) {
        r = record("spare", t[i]->id);
        CU_ASSERT_EQUAL(r->state, i < 2 ? PQ_TRIAL_RUNNING : PQ_TRIAL_QUEUED);
        pq_trial_record_free(r);
    }
    /* a cut just past t0's deadline: spared, t0 stays; then unspared it
     * goes, and t1, unspared too, stays, being due after the cut */
    r = record("spare", t[0]->id);
    double cut = r->deadline + 0.01;
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "spare", 60, cut, spare, 1, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "spare", 60, cut, NULL, 0, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    r = record("spare", t[1]->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    /* a spared trial whose deadline passed over grace seconds ago goes */
    sleep_s(1.1);
    CU_ASSERT_EQUAL(
        pq_expire_leases_after(ctx, "spare", 1, 0, &spare[1], 1, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    r = record("spare", t[1]->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    pq_trial_record_free(r);
    /* ids are decimal trial ids */
    char *out = redis_harness_cli_line(
        &server,
        (const char *const[]){"FCALL", "protein_expire", "1",
                              "protein:{spare}:meta", "0", "", "x1", NULL});
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "EINVAL"));
    free(out);
    for (int i = 0; i < 4; i++)
        pq_trial_free(t[i]);
}

static void test_coordinator_queue(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("coord", (sweep_opts){0}), PQ_OK);
    int leader = -1;
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "coord", "A", 5000, &leader),
                    PQ_OK);
    CU_ASSERT_EQUAL(leader, 1);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "coord", "B", 5000, &leader),
                    PQ_OK);
    CU_ASSERT_EQUAL(leader, 0);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "coord", "A", 5000, &leader),
                    PQ_OK);
    CU_ASSERT_EQUAL(leader, 1);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "nosuch", "A", 5000, &leader),
                    PQ_ENOSWEEP);

    pq_params pts[2] = {point(7), point(8)};
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "coord", "B", pts, 2), PQ_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "held by A"));
    long depth = -1;
    CU_ASSERT_EQUAL(pq_queue_depth(ctx, "coord", &depth), PQ_OK);
    CU_ASSERT_EQUAL(depth, 0);
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "coord", "A", pts, 2), PQ_OK);
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "coord", "A", pts, 2), PQ_OK);
    CU_ASSERT_EQUAL(pq_queue_depth(ctx, "coord", &depth), PQ_OK);
    CU_ASSERT_EQUAL(depth, 2);
    pq_params_free(&pts[0]);
    pq_params_free(&pts[1]);

    pq_trial *t1 = claim_ok("coord", "c1");
    CU_ASSERT_FALSE(t1->fallback);
    CU_ASSERT_EQUAL(t1->params.items[1].number, 7);

    /* A stale copy of the claimed point 7 is dropped from a replacement. */
    pq_params again[3] = {point(7), point(8), point(9)};
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "coord", "A", again, 3), PQ_OK);
    CU_ASSERT_EQUAL(pq_queue_depth(ctx, "coord", &depth), PQ_OK);
    CU_ASSERT_EQUAL(depth, 2);
    for (int i = 0; i < 3; i++)
        pq_params_free(&again[i]);
    pq_trial *t2 = claim_ok("coord", "c2");
    CU_ASSERT_EQUAL(t2->params.items[1].number, 8);
    pq_trial *t9 = claim_ok("coord", "c9");
    CU_ASSERT_EQUAL(t9->params.items[1].number, 9);
    pq_trial_free(t9);

    /* Queue empty, coordinator alive: wait wait_ms, then a fallback. */
    pq_claim_request q = req_for("c3");
    q.wait_ms = 150;
    pq_trial *t3 = NULL;
    double t0 = now_s();
    CU_ASSERT_EQUAL(pq_claim(ctx, "coord", &q, &t3), PQ_OK);
    double waited = now_s() - t0;
    CU_ASSERT(waited >= 0.15 && waited < 3.0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t3);
    CU_ASSERT_TRUE(t3->fallback);

    /* Refit info shows up in the sweep's snapshot. */
    CU_ASSERT_EQUAL(pq_set_refit_info(ctx, "coord", 42, 12.5, "cpu"), PQ_OK);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "coord", &info), PQ_OK);
    CU_ASSERT_TRUE(info->coordinator_alive);
    CU_ASSERT_STRING_EQUAL(info->coordinator, "A");
    CU_ASSERT_EQUAL(info->last_refit_n, 42);
    CU_ASSERT_EQUAL(info->last_refit_ms, 12.5);
    CU_ASSERT_STRING_EQUAL(info->last_refit_backend, "cpu");
    CU_ASSERT(info->last_refit_at > 1e9);
    pq_sweep_info_free(info);

    /* Released: no coordinator, so no waiting at all. */
    CU_ASSERT_EQUAL(pq_coordinator_release(ctx, "coord", "B"), PQ_OK);
    CU_ASSERT_EQUAL(pq_coordinator_release(ctx, "coord", "A"), PQ_OK);
    q.claim_key = "c4";
    q.wait_ms = 5000;
    pq_trial *t4 = NULL;
    t0 = now_s();
    CU_ASSERT_EQUAL(pq_claim(ctx, "coord", &q, &t4), PQ_OK);
    CU_ASSERT(now_s() - t0 < 3.0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t4);
    CU_ASSERT_TRUE(t4->fallback);
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "coord", "A", NULL, 0), PQ_ESTATE);

    /* Early stop: the flag reaches progress, the outcome is pruned. The
     * demand counts the reports, a refused one not. */
    pq_demand_info dem;
    CU_ASSERT_EQUAL(pq_demand(ctx, "coord", &dem), PQ_OK);
    CU_ASSERT_EQUAL(dem.n_progress, 0);
    CU_ASSERT_EQUAL(pq_trial_request_stop(ctx, "coord", t1->id), PQ_OK);
    int stop = 0;
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "coord", t1->id, t1->token, 5, 0.1, -1, &stop), PQ_OK);
    CU_ASSERT_EQUAL(stop, 1);
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "coord", t1->id, t1->token, NAN, 0.1, -1, &stop),
        PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_demand(ctx, "coord", &dem), PQ_OK);
    CU_ASSERT_EQUAL(dem.n_progress, 1);
    CU_ASSERT_EQUAL(pq_complete(ctx, "coord", t1->id, t1->token, 0.1, 5),
                    PQ_OK);
    pq_trial_record *r = record("coord", t1->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_PRUNED);
    CU_ASSERT_TRUE(r->has_progress);
    CU_ASSERT_EQUAL(r->progress_step, 5);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_trial_request_stop(ctx, "coord", t1->id), PQ_ESTATE);
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "coord", t1->id, t1->token, 6, 0.1, -1, &stop),
        PQ_ESTATE);

    pq_trial_record *all = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(pq_trial_list(ctx, "coord", -1, &all, &n, NULL), PQ_OK);
    CU_ASSERT_EQUAL(n, 5);
    pq_trial_records_free(all, n);
    CU_ASSERT_EQUAL(
        pq_trial_list(ctx, "coord", PQ_TRIAL_RUNNING, &all, &n, NULL), PQ_OK);
    CU_ASSERT_EQUAL(n, 4);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(all[i].state, PQ_TRIAL_RUNNING);
    pq_trial_records_free(all, n);
    pq_trial_free(t1);
    pq_trial_free(t2);
    pq_trial_free(t3);
    pq_trial_free(t4);
}

static void test_redis_down(void)
{
    /* A port nobody listens on: the harness's port after its server died
     * would do, but a fresh bind-and-close port is simpler. */
    redis_harness tmp;
    CU_ASSERT_EQUAL_FATAL(redis_harness_start(&tmp, NULL), 0);
    char url[64];
    snprintf(url, sizeof url, "%s", tmp.url);
    redis_harness_stop(&tmp);
    double t0 = now_s();
    pq_context *c = connect_to(url);
    CU_ASSERT(now_s() - t0 < 3.0);
    CU_ASSERT_EQUAL(c->err, PQ_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, url));
    pq_claim_request q = req_for("k");
    pq_trial *t = NULL;
    CU_ASSERT_EQUAL(pq_claim(c, "x", &q, &t), PQ_EIO);
    pq_free(c);

    /* A server that accepts but never answers: the command timeout ends
     * the wait. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    CU_ASSERT_EQUAL_FATAL(listen(fd, 4), 0);
    CU_ASSERT_EQUAL_FATAL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
    pq_connect_options o = {
        .url = url, .connect_timeout_ms = 300, .command_timeout_ms = 300};
    t0 = now_s();
    c = pq_connect(&o);
    double took = now_s() - t0;
    CU_ASSERT_EQUAL(c->err, PQ_EIO);
    CU_ASSERT(took >= 0.25 && took < 3.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, url));
    pq_free(c);
    close(fd);

    /* A server in protected mode answers DENIED, saying why, and closes
     * the connection: the message is its reason, not "connection closed". */
    static const char denied[] =
        "-DENIED Redis is running in protected mode because protected mode "
        "is enabled and no password is set for the default user.\r\n";
    fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = 0;
    len = sizeof a;
    CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    CU_ASSERT_EQUAL_FATAL(listen(fd, 4), 0);
    CU_ASSERT_EQUAL_FATAL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int conn = accept(fd, NULL, NULL);
        char buf[4096];
        if (conn >= 0 && read(conn, buf, sizeof buf) > 0 &&
            write(conn, denied, sizeof denied - 1) > 0)
            close(conn);
        _exit(0);
    }
    c = pq_connect(&o);
    CU_ASSERT_EQUAL(c->err, PQ_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, "protected mode"));
    pq_free(c);
    close(fd);
    waitpid(pid, NULL, 0);
}

static void test_url_forms(void)
{
    char dir[] = "/tmp/protein-sock-XXXXXX", conf[400], url[400], sock[100];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(conf, sizeof conf, "unixsocket %s\nunixsocketperm 700", sock);
    redis_harness u;
    redis_harness_options o = {.extra_conf = conf};
    CU_ASSERT_EQUAL_FATAL(redis_harness_start(&u, &o), 0);
    pq_context *saved = ctx;

    snprintf(url, sizeof url, "unix://%s", sock);
    ctx = connect_to(url);
    CU_ASSERT_EQUAL(ctx->err, PQ_OK);
    CU_ASSERT_EQUAL(make_sweep("sock", (sweep_opts){0}), PQ_OK);
    pq_free(ctx);

    /* user@ is accepted (used with a password file); /3 selects database
     * 3. A password in the URL is refused (test_hostile.c). */
    snprintf(url, sizeof url, "redis://someone@127.0.0.1:%d/3", u.port);
    ctx = connect_to(url);
    CU_ASSERT_EQUAL(ctx->err, PQ_OK);
    CU_ASSERT_EQUAL(make_sweep("db3", (sweep_opts){0}), PQ_OK);
    pq_free(ctx);
    ctx = saved;
    const char *in3[] = {"-n", "3", "EXISTS", "protein:{db3}:meta", NULL};
    const char *in0[] = {"-n", "0", "EXISTS", "protein:{db3}:meta", NULL};
    char *out = redis_harness_cli(&u, in3);
    CU_ASSERT_PTR_NOT_NULL(out);
    CU_ASSERT(out && strcmp(out, "1\n") == 0);
    free(out);
    out = redis_harness_cli(&u, in0);
    CU_ASSERT(out && strcmp(out, "0\n") == 0);
    free(out);

    static const char *const bad[] = {
        "redis://127.0.0.1:99999", "unix://relative/path", "redis://:6379",
        "redis://host/x",          "tcp://host:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pq_context *c = connect_to(bad[i]);
        CU_ASSERT_EQUAL(c->err, PQ_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, bad[i]));
        pq_free(c);
    }
    pq_context *tls = connect_to("rediss://127.0.0.1:6380");
    CU_ASSERT_EQUAL(tls->err, PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(tls->errstr, "TLS (rediss://) is not supported"));
    pq_free(tls);
    redis_harness_stop(&u);
    unlink(sock);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
}

static void test_password(void)
{
    redis_harness pw;
    redis_harness_options o = {.password = "s3cret"};
    CU_ASSERT_EQUAL_FATAL(redis_harness_start(&pw, &o), 0);
    pq_connect_options co = {.url = pw.url, .password = "wrong"};
    pq_context *c = pq_connect(&co);
    CU_ASSERT_EQUAL(c->err, PQ_EAUTH);
    pq_free(c);

    char path[300];
    snprintf(path, sizeof path, "%s/pwfile", pw.dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("s3cret\n", f);
    fclose(f);
    co.password = NULL;
    co.password_file = path;
    unsetenv("PROTEIN_REDIS_PASSWORD");
    c = pq_connect(&co);
    CU_ASSERT_EQUAL(c->err, PQ_OK);
    pq_free(c);

    co.password_file = "/nonexistent/pw";
    c = pq_connect(&co);
    CU_ASSERT_EQUAL(c->err, PQ_EAUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, "/nonexistent/pw"));
    pq_free(c);

    setenv("PROTEIN_REDIS_PASSWORD", "s3cret", 1);
    co.password_file = NULL;
    c = pq_connect(&co);
    CU_ASSERT_EQUAL(c->err, PQ_OK);
    pq_free(c);

    /* A file the caller names beats the variable, both ways round. */
    co.password_file = "/nonexistent/pw";
    c = pq_connect(&co);
    CU_ASSERT_EQUAL(c->err, PQ_EAUTH);
    pq_free(c);
    setenv("PROTEIN_REDIS_PASSWORD", "wrong", 1);
    co.password_file = path;
    c = pq_connect(&co);
    CU_ASSERT_EQUAL(c->err, PQ_OK);
    pq_free(c);
    unsetenv("PROTEIN_REDIS_PASSWORD");

    /* No password at all: said plainly, whichever command comes first
     * (SELECT with a database, else the function library's check). */
    char db_url[128];
    snprintf(db_url, sizeof db_url, "%s/1", pw.url);
    const char *urls[] = {pw.url, db_url};
    for (size_t i = 0; i < 2; i++) {
        pq_connect_options none = {.url = urls[i]};
        c = pq_connect(&none);
        CU_ASSERT_EQUAL(c->err, PQ_EAUTH);
        CU_ASSERT_PTR_NOT_NULL(
            strstr(c->errstr, "wants a password and none was given"));
        pq_free(c);
    }
    redis_harness_stop(&pw);
}

static void test_restart_aof(void)
{
    redis_harness aof;
    redis_harness_options o = {.appendonly = 1};
    CU_ASSERT_EQUAL_FATAL(redis_harness_start(&aof, &o), 0);
    pq_context *saved = ctx;
    ctx = connect_to(aof.url);
    CU_ASSERT_EQUAL_FATAL(ctx->err, PQ_OK);
    CU_ASSERT_EQUAL(make_sweep("durable", (sweep_opts){.max_trials = 10}),
                    PQ_OK);
    pq_trial *t[3];
    claim_n("durable", "d", t, 3);
    CU_ASSERT_EQUAL(pq_complete(ctx, "durable", t[0]->id, t[0]->token, 1.5, 2),
                    PQ_OK);

    /* Hard kill: appendfsync always keeps every acknowledged write. */
    kill(aof.pid, SIGKILL);
    waitpid(aof.pid, NULL, 0);
    aof.pid = 0;
    pq_claim_request q = req_for("while-down");
    pq_trial *x = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "durable", &q, &x), PQ_EIO);
    CU_ASSERT_EQUAL_FATAL(redis_harness_restart(&aof), 0);

    /* The same context reconnects. */
    pq_trial_record *r = record("durable", t[0]->id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_EQUAL(r->score, 1.5);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_complete(ctx, "durable", t[1]->id, t[1]->token, 2.5, 2),
                    PQ_OK);
    pq_trial *again = claim_ok("durable", "d2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(again);
    CU_ASSERT_EQUAL(again->id, t[2]->id);
    CU_ASSERT_TRUE(again->resumed);
    pq_trial *fresh = claim_ok("durable", "d3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fresh);
    CU_ASSERT_EQUAL(fresh->id, 4);
    expect_observations("durable", 2);
    for (int i = 0; i < 3; i++)
        pq_trial_free(t[i]);
    pq_trial_free(again);
    pq_trial_free(fresh);
    pq_free(ctx);
    ctx = saved;
    redis_harness_stop(&aof);
}

/* An admin that may load the functions (and is no service). */
#define ADMIN_ACL                                                              \
    "user protein-admin on >apw resetkeys ~protein:* resetchannels -@all "     \
    "+@read +@write +@keyspace +@scripting -@dangerous +function|load "        \
    "+function|list +ping +time"

/* The service identity of `protein admin add-service` (pq_acl_rules):
 * protein's functions and the commands they run, on protein:* keys only. */
static void test_acl(void)
{
    redis_harness acl;
    char rules[1024], conf[1400];
    CU_ASSERT_EQUAL_FATAL(
        pq_acl_rules(PQ_ACL_SERVICE, NULL, rules, sizeof rules), PQ_OK);
    snprintf(conf, sizeof conf, "user protein-worker on >wpw %s\n%s", rules,
             ADMIN_ACL);
    redis_harness_options o = {.extra_conf = conf};
    CU_ASSERT_EQUAL_FATAL(redis_harness_start(&acl, &o), 0);
    char worker_url[96];
    snprintf(worker_url, sizeof worker_url,
             "redis://protein-worker@127.0.0.1:%d", acl.port);
    pq_connect_options wo = {.url = worker_url, .password = "wpw"};

    /* Workers cannot load the functions: an admin must connect first. */
    pq_context *w = pq_connect(&wo);
    CU_ASSERT_EQUAL(w->err, PQ_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(w->errstr, "cannot load"));
    pq_free(w);

    char admin_url[96];
    snprintf(admin_url, sizeof admin_url, "redis://protein-admin@127.0.0.1:%d",
             acl.port);
    pq_connect_options ao = {.url = admin_url, .password = "apw"};
    pq_context *saved = ctx;
    ctx = pq_connect(&ao);
    CU_ASSERT_EQUAL_FATAL(ctx->err, PQ_OK);
    CU_ASSERT_EQUAL(make_sweep("acl", (sweep_opts){0}), PQ_OK);
    CU_ASSERT_EQUAL(make_sweep("acl2", (sweep_opts){0}), PQ_OK);
    pq_free(ctx);

    ctx = pq_connect(&wo);
    CU_ASSERT_EQUAL_FATAL(ctx->err, PQ_OK);
    pq_trial *t = claim_ok("acl", "w1");
    CU_ASSERT_EQUAL(pq_complete(ctx, "acl", t->id, t->token, 1, 2), PQ_OK);
    expect_observations("acl", 1);
    pq_trial_free(t);
    /* A service acts for the uid it names: not the owner, refused. */
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "acl2", OWNER + 1), PQ_EPERM);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "belongs to uid"));
    pq_free(ctx);
    ctx = pq_connect(&ao);
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "acl2", OWNER), PQ_OK);
    pq_free(ctx);
    ctx = saved;

    /* Anything else is refused. */
    static const char *const denied[][8] = {
        {"--user", "protein-worker", "--pass", "wpw", "--no-auth-warning",
         "FLUSHALL", NULL},
        {"--user", "protein-worker", "--pass", "wpw", "--no-auth-warning",
         "GET", "other", NULL},
        {"--user", "protein-worker", "--pass", "wpw", "--no-auth-warning",
         "FUNCTION", "DELETE", "protein"},
        {"--user", "protein-worker", "--pass", "wpw", "--no-auth-warning",
         "CONFIG", "GET", "dir"},
        {"--user", "protein-admin", "--pass", "apw", "--no-auth-warning",
         "FLUSHALL", NULL},
        {"--user", "protein-admin", "--pass", "apw", "--no-auth-warning", "GET",
         "other", NULL},
    };
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        const char *args[9] = {0};
        memcpy(args, denied[i], sizeof denied[i]);
        char *out = redis_harness_cli(&acl, args);
        CU_ASSERT_PTR_NOT_NULL(out);
        if (out)
            CU_ASSERT_PTR_NOT_NULL(strstr(out, "NOPERM"));
        free(out);
    }
    redis_harness_stop(&acl);
}

/* Child of the concurrency test: claims and completes until the budget is
 * used up, writing each trial id it completed to fd. */
static int worker(const char *url, int index, int fd)
{
    pq_context *c = connect_to(url);
    char key[32];
    int rc = c->err == PQ_OK ? 0 : 2;
    for (int i = 0; rc == 0; i++) {
        snprintf(key, sizeof key, "w%d-%d", index, i);
        pq_claim_request q = req_for(key);
        pq_trial *t = NULL;
        int cr = pq_claim(c, "crowd", &q, &t);
        if (cr == PQ_EBUDGET)
            break;
        if (cr != PQ_OK ||
            pq_complete(c, "crowd", t->id, t->token, t->id, 1) != PQ_OK) {
            fprintf(stderr, "worker %d: %s\n", index, c->errstr);
            rc = 3;
        } else if (write(fd, &t->id, sizeof t->id) != sizeof t->id) {
            rc = 4;
        }
        pq_trial_free(t);
    }
    pq_free(c);
    return rc;
}

static void test_concurrent_clients(void)
{
    enum { WORKERS = 64, BUDGET = 300 };
    CU_ASSERT_EQUAL_FATAL(make_sweep("crowd", (sweep_opts){.max_trials = BUDGET,
                                                           .n_fallback = 5}),
                          PQ_OK);
    int fds[2];
    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(fds[0]);
            _exit(worker(server.url, i, fds[1]));
        }
    }
    close(fds[1]);
    static int seen[BUDGET + 1];
    long id;
    int total = 0, dup = 0, out_of_range = 0;
    while (read(fds[0], &id, sizeof id) == sizeof id) {
        total++;
        if (id < 1 || id > BUDGET)
            out_of_range++;
        else if (seen[id]++)
            dup++;
    }
    close(fds[0]);
    int bad_exit = 0;
    for (int i = 0; i < WORKERS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        bad_exit += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    CU_ASSERT_EQUAL(bad_exit, 0);
    CU_ASSERT_EQUAL(total, BUDGET);
    CU_ASSERT_EQUAL(dup, 0);
    CU_ASSERT_EQUAL(out_of_range, 0);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "crowd", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_trials, BUDGET);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], BUDGET);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    pq_sweep_info_free(info);
}

/* Fallback points come from the pool in order, each once: a pool sized to
 * the budget never repeats a point. */
static void test_fallback_distinct(void)
{
    pq_trial *t[5];
    CU_ASSERT_EQUAL_FATAL(
        make_sweep("fbd", (sweep_opts){.max_trials = 5, .n_fallback = 5}),
        PQ_OK);
    claim_n("fbd", "f", t, 5);
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_TRUE(t[i]->fallback);
        for (int j = 0; j < i; j++)
            CU_ASSERT_NOT_EQUAL(t[i]->params.items[1].number,
                                t[j]->params.items[1].number);
    }
    for (int i = 0; i < 5; i++)
        pq_trial_free(t[i]);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "fbd", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->fallback_next, 5);
    pq_sweep_info_free(info);
}

/* The pool's first point may be the coordinator's first too (the config's
 * defaults): whichever hands it out first, it runs once. A fallback claim
 * passes over the pool's first point when the queue handed it out, and
 * when a fallback claim took it, it is left out of the coordinator's next
 * queue. */
static void test_fallback_handed_once(void)
{
    int leader = -1;
    long depth = -1;
    CU_ASSERT_EQUAL_FATAL(make_sweep("fbh", (sweep_opts){.n_fallback = 3}),
                          PQ_OK);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "fbh", "A", 5000, &leader),
                    PQ_OK);
    pq_params first[1] = {point(1)};
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "fbh", "A", first, 1), PQ_OK);
    pq_params_free(&first[0]);
    pq_trial *a = claim_ok("fbh", "h1");
    CU_ASSERT_FALSE(a->fallback);
    CU_ASSERT_EQUAL(a->params.items[1].number, 1);

    /* Point 1 again, from the pool: passed over. */
    CU_ASSERT_EQUAL(pq_coordinator_release(ctx, "fbh", "A"), PQ_OK);
    pq_trial *b = claim_ok("fbh", "h2");
    CU_ASSERT_TRUE(b->fallback);
    CU_ASSERT_EQUAL(b->params.items[1].number, 2);

    pq_trial_free(a);
    pq_trial_free(b);

    /* The other way round: the pool's first point, point 1, claimed from
     * the pool; the coordinator's copy of it is left out. */
    CU_ASSERT_EQUAL_FATAL(make_sweep("fbh2", (sweep_opts){.n_fallback = 3}),
                          PQ_OK);
    a = claim_ok("fbh2", "h3");
    CU_ASSERT_TRUE(a->fallback);
    CU_ASSERT_EQUAL(a->params.items[1].number, 1);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "fbh2", "A", 5000, &leader),
                    PQ_OK);
    pq_params next[2] = {point(1), point(3)};
    CU_ASSERT_EQUAL(pq_queue_replace(ctx, "fbh2", "A", next, 2), PQ_OK);
    pq_params_free(&next[0]);
    pq_params_free(&next[1]);
    CU_ASSERT_EQUAL(pq_queue_depth(ctx, "fbh2", &depth), PQ_OK);
    CU_ASSERT_EQUAL(depth, 1);
    b = claim_ok("fbh2", "h4");
    CU_ASSERT_FALSE(b->fallback);
    CU_ASSERT_EQUAL(b->params.items[1].number, 3);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* A grid's pool (grid_points) holds its points in grid order: each is
 * handed out once, the pool is never wrapped around (a claim past it is
 * EEMPTY until the coordinator adds the next points), a claim does not
 * wait for the coordinator's queue (it queues none for a grid), and past
 * the grid's last point claims get PQ_EBUDGET, as for a used budget. */
static void test_fallback_grid(void)
{
    const char *no_wait[] = {"FCALL", "protein_claim",
                             "1",     "protein:{fbg}:meta",
                             "g3",    "1000",
                             "",      "-1",
                             "n",     "60",
                             "0",     "0123456789abcdef0123456789abcdef",
                             "",      NULL};
    pq_claim_request r = req_for("g4");
    pq_params third[1];
    pq_sweep_info *info = NULL;
    pq_trial *t[3], *late = NULL;
    pq_trial_record *rec;
    int leader = -1;
    char *out;

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("fbg", (sweep_opts){.n_fallback = 2, .grid_points = 3}),
        PQ_OK);
    claim_n("fbg", "g", t, 2);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_TRUE(t[i]->fallback);
        CU_ASSERT_EQUAL(t[i]->params.items[1].number, i + 1);
        pq_trial_free(t[i]);
    }
    /* point 3 is not in the pool: no wrap-around to point 1 */
    CU_ASSERT_EQUAL(pq_claim(ctx, "fbg", &r, &late), PQ_EEMPTY);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(ctx->errstr, "grid point 3 is not in the fallback pool yet"));
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "fbg", "A", 5000, &leader),
                    PQ_OK);
    third[0] = point(3);
    CU_ASSERT_EQUAL(pq_fallback_add(ctx, "fbg", "A", third, 1, NULL), PQ_OK);
    pq_params_free(&third[0]);
    /* a claim that may not take a fallback point, with the coordinator
     * alive and its queue empty, takes the grid's next point */
    out = redis_harness_cli(&server, no_wait);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_PTR_NULL(strstr(out, "EEMPTY"));
    free(out);
    rec = record("fbg", 3);
    CU_ASSERT_EQUAL(rec->params.items[1].number, 3);
    pq_trial_record_free(rec);
    CU_ASSERT_EQUAL(pq_claim(ctx, "fbg", &r, &late), PQ_EBUDGET);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(ctx->errstr, "has handed out all 3 points of its grid"));
    CU_ASSERT_PTR_NULL(late);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "fbg", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_trials, 3);
    CU_ASSERT_EQUAL(info->grid_points, 3);
    pq_sweep_info_free(info);
}

/* A claim given up by its client is released: the trial goes back to the
 * retry list (no budget used again), its token is revoked, the key is
 * forgotten; a key holding nothing releases nothing. The release says
 * which. */
static void test_release(void)
{
    pq_released rel = {-1, PQ_RELEASE_UNKNOWN};
    CU_ASSERT_EQUAL_FATAL(make_sweep("rel", (sweep_opts){.max_trials = 2}),
                          PQ_OK);
    pq_trial *a = claim_ok("rel", "k1");
    CU_ASSERT_EQUAL(pq_release(ctx, "rel", "k1", NULL, "test", &rel), PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, a->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_REQUEUED);
    pq_trial_record *r = record("rel", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    CU_ASSERT_EQUAL(r->retries, 0);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_release(ctx, "rel", "k1", NULL, "again", &rel), PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, 0);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_NONE);
    CU_ASSERT_EQUAL(pq_complete(ctx, "rel", a->id, a->token, 1, 1), PQ_ETOKEN);
    pq_trial *b = claim_ok("rel", "k2");
    CU_ASSERT_EQUAL(b->id, a->id);
    CU_ASSERT_EQUAL(pq_complete(ctx, "rel", b->id, b->token, 1, 1), PQ_OK);
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "rel", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->n_trials, 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    pq_sweep_info_free(info);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* The spool record of trial t of sweep completed with score and cost. */
static pq_spool_record completion(const char *sweep, const pq_trial *t,
                                  double score, double cost)
{
    pq_spool_record rec = {0};

    rec.kind = PQ_SPOOL_COMPLETED;
    snprintf(rec.sweep, sizeof rec.sweep, "%s", sweep);
    snprintf(rec.token, sizeof rec.token, "%s", t->token);
    rec.trial_id = t->id;
    rec.score = score;
    rec.cost = cost;
    return rec;
}

/* Spooled records are applied once: a second replay of the same outcome
 * is dropped, the stream holds one observation; a release record frees
 * a claim; a stray file is left alone. */
static void test_spool_replay(void)
{
    char dir[] = "/tmp/protein-spool-test.XXXXXX", path[PQ_SPOOL_PATH_MAX];
    char err[512], stray[PQ_SPOOL_PATH_MAX + 16];
    pq_spool_record rec;
    pq_spool_stats st;
    FILE *fp;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    CU_ASSERT_EQUAL_FATAL(make_sweep("spool", (sweep_opts){0}), PQ_OK);
    pq_trial *t = claim_ok("spool", "s1");
    pq_trial *u = claim_ok("spool", "s2");
    rec = completion("spool", t, 0.25, 3);
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    snprintf(stray, sizeof stray, "%s/junk.rec", dir);
    fp = fopen(stray, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs("kind=completed\nnot a record\n", fp);
    fclose(fp);
    CU_ASSERT_EQUAL(pq_spool_replay(ctx, dir, 0, &st, NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(st.applied, 1);
    CU_ASSERT_EQUAL(st.bad, 1);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    pq_trial_record *r = record("spool", t->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_DOUBLE_EQUAL(r->score, 0.25, 1e-12);
    pq_trial_record_free(r);
    /* The same outcome again (a node that spooled it twice): dropped. */
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(pq_spool_replay(ctx, dir, 0, &st, NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(st.applied, 0);
    CU_ASSERT_EQUAL(st.dropped, 1);
    expect_observations("spool", 1);
    /* A release record. */
    memset(&rec, 0, sizeof rec);
    rec.kind = PQ_SPOOL_RELEASE;
    snprintf(rec.sweep, sizeof rec.sweep, "spool");
    snprintf(rec.claim_key, sizeof rec.claim_key, "s2");
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(pq_spool_replay(ctx, dir, 0, &st, NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(st.applied, 1);
    r = record("spool", u->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    pq_trial_record_free(r);
    unlink(stray);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
    pq_trial_free(t);
    pq_trial_free(u);
}

/* Loads into the test's server a library "protein" whose protein_release
 * answers body (a Lua expression of args), and whose version is not the
 * client's: the next connect replaces it. */
static void load_release_stub(const char *body)
{
    char lib[512];
    const char *load[] = {"FUNCTION", "LOAD", "REPLACE", lib, NULL};
    char *out;

    snprintf(lib, sizeof lib,
             "#!lua name=protein\n"
             "redis.register_function{function_name='protein_version', "
             "callback=function() return 'old' end, flags={'no-writes'}}\n"
             "redis.register_function('protein_release', "
             "function(keys, args) return %s end)",
             body);
    out = redis_harness_cli(&server, load);
    CU_ASSERT_PTR_NOT_NULL(out);
    free(out);
}

/* pq_release against the functions of an older build, which answer the
 * trial id alone (0: none): released, without saying how; and a reply of
 * neither form is PQ_EPROTO, not a release. */
static void test_release_older_functions(void)
{
    pq_released rel = {-1, PQ_RELEASE_UNKNOWN};
    char said[256];

    load_release_stub("args[1] == 'held' and 7 or 0");
    CU_ASSERT_EQUAL(pq_release(ctx, "oldlib", "held", NULL, "gone", &rel),
                    PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, 7);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_UNREPORTED);
    pq_released_text(&rel, said, sizeof said);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(said, "released: trial 7 goes back to the retry list or, in a "
                     "stopped sweep, ends as interrupted"));
    CU_ASSERT_EQUAL(pq_release(ctx, "oldlib", "free", NULL, "gone", &rel),
                    PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, 0);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_NONE);
    load_release_stub("{0, 'requeued'}");
    CU_ASSERT_EQUAL(pq_release(ctx, "oldlib", "held", NULL, "gone", &rel),
                    PQ_EPROTO);
    CU_ASSERT_EQUAL(rel.trial_id, 0);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_NONE);
    load_release_stub("{7, 'vanished'}");
    CU_ASSERT_EQUAL(pq_release(ctx, "oldlib", "held", NULL, "gone", &rel),
                    PQ_EPROTO);
    /* the next connect loads this build's functions back */
    pq_context *fresh = connect_to(server.url);
    CU_ASSERT_EQUAL(fresh->err, PQ_OK);
    pq_free(fresh);
    CU_ASSERT_EQUAL(make_sweep("oldlib", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("oldlib", "held");
    CU_ASSERT_EQUAL(pq_release(ctx, "oldlib", "held", NULL, "gone", &rel),
                    PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, a->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_REQUEUED);
    pq_trial_free(a);
}

/* A plugin of an older build (a job step started before an upgrade)
 * calls protein_release with three arguments and reads the trial id
 * alone (0: none), as its functions answered: this build's functions
 * answer it so; the pair {id, how} only to a caller that asks for it. */
static void test_release_for_older_clients(void)
{
    const char *old_call[] = {"FCALL", "protein_release",
                              "1",     "protein:{relold}:meta",
                              "ro-a",  "gone",
                              "",      NULL};
    char *out;

    CU_ASSERT_EQUAL_FATAL(make_sweep("relold", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("relold", "ro-a");
    out = redis_harness_cli(&server, old_call);
    CU_ASSERT(out && strcmp(out, "1\n") == 0 && a->id == 1);
    if (out && strcmp(out, "1\n") != 0)
        fprintf(stderr, "an older plugin's release got '%s'\n", out);
    free(out);
    out = redis_harness_cli(&server, old_call);
    CU_ASSERT(out && strcmp(out, "0\n") == 0);
    free(out);
    pq_trial_record *r = record("relold", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    pq_trial_record_free(r);
    pq_trial_free(a);
}

/* pq_spool_replay's log: keeps the last line in arg (a char[512]). */
static void keep_line(void *arg, const char *line)
{
    snprintf(arg, 512, "%s", line);
}

/* Spools a release of claim_key (any claim) in sweep and replays it,
 * expecting the replay's log line to say want. */
static void replay_release(const char *sweep, const char *claim_key,
                           const char *want)
{
    char dir[] = "/tmp/protein-spool-test.XXXXXX", path[PQ_SPOOL_PATH_MAX];
    char err[512], line[512] = "";
    pq_spool_record rec = {.kind = PQ_SPOOL_RELEASE};
    pq_spool_stats st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(rec.sweep, sizeof rec.sweep, "%s", sweep);
    snprintf(rec.claim_key, sizeof rec.claim_key, "%s", claim_key);
    snprintf(rec.text, sizeof rec.text, "timed out");
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(pq_spool_replay(ctx, dir, 0, &st, keep_line, line), PQ_OK);
    CU_ASSERT_EQUAL(st.applied, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, want));
    if (!strstr(line, want))
        fprintf(stderr, "replay said '%s', not '%s'\n", line, want);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
}

/* A release replayed from the spool says in its log line the one thing
 * it did: the trial requeued, ended as interrupted (a stopped sweep), or
 * nothing released (it said "applied" whatever happened). */
static void test_spool_release_replay_says(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("replrel", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("replrel", "r-a");
    pq_trial *b = claim_ok("replrel", "r-b");
    replay_release("replrel", "r-a",
                   "applied: released: trial 1 goes back "
                   "to the retry list");
    replay_release("replrel", "r-a", "applied: nothing to release");
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "replrel", "stop", OWNER), PQ_OK);
    replay_release("replrel", "r-b",
                   "applied: released: trial 2 ends as "
                   "interrupted (the sweep is stopped");
    pq_trial_free(a);
    pq_trial_free(b);
}

/* pq_spool_replay's log: keeps a copy of the last line in *(char **)arg
 * (freed by the caller). */
static void keep_whole_line(void *arg, const char *line)
{
    char **kept = arg;

    free(*kept);
    *kept = strdup(line);
}

/* A replay's log line is never cut short, however long its parts: the
 * longest sweep name, the longest claim key a spool file name can carry
 * beside it, and the spool directory spelled longer than any fixed
 * buffer (the CLI's --spool takes any spelling of it). The line ended at
 * 1911 bytes, cutting off what the release did. */
static void test_spool_replay_line_whole(void)
{
    char dir[] = "/tmp/protein-spool-test.XXXXXX", path[PQ_SPOOL_PATH_MAX];
    char sweep[65], err[512], *long_dir = NULL, *want = NULL, *line = NULL;
    /* A record file is SWEEP.release.KEY.rec, NAME_MAX (255) at most. */
    char key[255 - 64 - sizeof ".release..rec" + 2];
    pq_spool_record rec = {.kind = PQ_SPOOL_RELEASE};
    pq_spool_stats st;
    size_t dir_len;

    memset(sweep, 'w', sizeof sweep - 1);
    sweep[sizeof sweep - 1] = '\0';
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    CU_ASSERT_EQUAL_FATAL(make_sweep(sweep, (sweep_opts){0}), PQ_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(rec.sweep, sizeof rec.sweep, "%s", sweep);
    snprintf(rec.claim_key, sizeof rec.claim_key, "%s", key);
    snprintf(rec.text, sizeof rec.text, "timed out");
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    dir_len = strlen(dir);
    long_dir = malloc(dir_len + 2 * 1000 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(long_dir);
    memcpy(long_dir, dir, dir_len);
    for (int i = 0; i < 1000; i++)
        memcpy(long_dir + dir_len + 2 * i, "/.", 2);
    long_dir[dir_len + 2 * 1000] = '\0';
    CU_ASSERT_FATAL(asprintf(&want,
                             "spool %s/%s: release of claim %s in sweep %s "
                             "applied: nothing to release: Redis never served "
                             "the claim, or its trial moved on since (resumed "
                             "by a requeued task, ended or expired)",
                             long_dir, strrchr(path, '/') + 1, key, sweep) > 0);
    CU_ASSERT_EQUAL(
        pq_spool_replay(ctx, long_dir, 0, &st, keep_whole_line, &line), PQ_OK);
    CU_ASSERT_EQUAL(st.applied, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    CU_ASSERT_STRING_EQUAL(line, want);
    if (strcmp(line, want) != 0)
        fprintf(stderr, "replay logged %zu bytes of %zu, ending '%s'\n",
                strlen(line), strlen(want),
                line + (strlen(line) > 60 ? strlen(line) - 60 : 0));
    CU_ASSERT_EQUAL(rmdir(dir), 0);
    free(line);
    free(want);
    free(long_dir);
}

/* Protein's function calls the test's server has served so far (FCALL
 * and FCALL_RO, from INFO commandstats); -1 when it does not say. */
static long fcalls_served(void)
{
    const char *info[] = {"INFO", "commandstats", NULL};
    const char *names[] = {"cmdstat_fcall:calls=", "cmdstat_fcall_ro:calls="};
    char *out = redis_harness_cli(&server, info);
    long total = 0;

    if (!out)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        const char *at = strstr(out, names[i]);
        if (at)
            total += strtol(at + strlen(names[i]), NULL, 10);
    }
    free(out);
    return total;
}

/* A coordinator's turn reads the demand and the leases due in one call:
 * protein_demand given a count answers protein_due's reply as one more
 * element, the same as protein_due's own; without one it answers as
 * before (an older proteind); a count out of 1..PQ_DUE_MAX is refused. */
static void test_demand_with_due(void)
{
    const char *asked[] = {
        "FCALL_RO", "protein_demand", "1", "protein:{demdue}:meta", "16", NULL};
    const char *plain[] = {"FCALL_RO", "protein_demand", "1",
                           "protein:{demdue}:meta", NULL};
    pq_due_lease *due = NULL, *alone = NULL;
    pq_demand_info d, only;
    size_t n = 0, n_alone = 0, lines = 0;
    long owner = -1, owner_alone = -1, before;
    double cut = -1, cut_alone = -1;
    char *out;

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("demdue", (sweep_opts){.lease_seconds = 1}), PQ_OK);
    pq_trial *a = claim_ok("demdue", "dd-a");
    pq_trial *b = claim_ok("demdue", "dd-b");
    sleep_s(1.2);
    before = fcalls_served();
    CU_ASSERT_EQUAL_FATAL(
        pq_demand_due(ctx, "demdue", 16, &d, &due, &n, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL(fcalls_served() - before, 1);
    CU_ASSERT_EQUAL_FATAL(pq_leases_due(ctx, "demdue", 16, &alone, &n_alone,
                                        &owner_alone, &cut_alone),
                          PQ_OK);
    CU_ASSERT_EQUAL(pq_demand(ctx, "demdue", &only), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL_FATAL(n_alone, 2);
    CU_ASSERT_EQUAL(due[0].id, a->id);
    CU_ASSERT_STRING_EQUAL(due[0].claim_key, "dd-a");
    CU_ASSERT_EQUAL(due[1].id, b->id);
    CU_ASSERT_EQUAL(due[1].deadline, alone[1].deadline);
    CU_ASSERT_EQUAL(owner, OWNER);
    CU_ASSERT_EQUAL(cut, cut_alone);
    CU_ASSERT_EQUAL(d.state, PQ_SWEEP_ACTIVE);
    CU_ASSERT_EQUAL(d.n_running, 2);
    CU_ASSERT_EQUAL(d.n_trials, only.n_trials);
    CU_ASSERT_EQUAL(d.n_progress, only.n_progress);
    CU_ASSERT(d.created_at > 0 && d.created_at == only.created_at);
    free(due);
    free(alone);

    /* the reply's lines (redis-cli prints nested elements one a line):
     * the state, ten figures, created_at, then owner, cut and the two
     * trials' four fields */
    out = redis_harness_cli(&server, asked);
    for (const char *c = out; c && *c; c++)
        lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 12 + 2 + 2 * 4);
    free(out);
    out = redis_harness_cli(&server, plain);
    lines = 0;
    for (const char *c = out; c && *c; c++)
        lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 12);
    free(out);

    CU_ASSERT_EQUAL(pq_demand_due(ctx, "demdue", PQ_DUE_MAX + 1, &d, &due, &n,
                                  &owner, &cut),
                    PQ_EINVAL);
    CU_ASSERT_PTR_NULL(due);
    asked[4] = "0";
    out = redis_harness_cli(&server, asked);
    CU_ASSERT(out && strstr(out, "EINVAL"));
    free(out);
    CU_ASSERT_EQUAL(
        pq_demand_due(ctx, "nodemdue", 16, &d, &due, &n, &owner, &cut),
        PQ_ENOSWEEP);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* Against another build's functions, whose protein_demand ignores the
 * count and answers the demand alone, pq_demand_due reads the leases due
 * with a call of their own: the same figures, two calls. */
static void test_demand_with_due_older_functions(void)
{
    const char *load[] = {
        "FUNCTION", "LOAD", "REPLACE",
        "#!lua name=protein\n"
        "redis.register_function{function_name='protein_version', "
        "callback=function() return 'old' end, flags={'no-writes'}}\n"
        "redis.register_function{function_name='protein_demand', "
        "callback=function() return {'paused', 3, 1, 0, 9, 4, 0, 0, 2, 2, 5, "
        "'1700000000.5'} end, flags={'no-writes'}}\n"
        "redis.register_function{function_name='protein_due', "
        "callback=function(keys, args) return {1234, '1700000100.25', "
        "{'7', 'k-7', '', '1700000100.25'}} end, flags={'no-writes'}}",
        NULL};
    pq_due_lease *due = NULL;
    pq_demand_info d;
    size_t n = 0;
    long owner = -1, before;
    double cut = -1;
    char *out;

    out = redis_harness_cli(&server, load);
    CU_ASSERT_PTR_NOT_NULL(out);
    free(out);
    before = fcalls_served();
    CU_ASSERT_EQUAL_FATAL(
        pq_demand_due(ctx, "olddue", 16, &d, &due, &n, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL(fcalls_served() - before, 2);
    CU_ASSERT_EQUAL(d.state, PQ_SWEEP_PAUSED);
    CU_ASSERT_EQUAL(d.queue_depth, 3);
    CU_ASSERT_EQUAL(d.n_trials, 4);
    CU_ASSERT_EQUAL(d.n_progress, 5);
    CU_ASSERT_EQUAL(d.created_at, 1700000000.5);
    CU_ASSERT_EQUAL(owner, 1234);
    CU_ASSERT_EQUAL(cut, 1700000100.25);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(due[0].id, 7);
    CU_ASSERT_STRING_EQUAL(due[0].claim_key, "k-7");
    free(due);
    /* the next connect loads this build's functions back */
    pq_context *fresh = connect_to(server.url);
    CU_ASSERT_EQUAL(fresh->err, PQ_OK);
    pq_free(fresh);
}

/* An interrupt spooled by a task that was requeued while Redis was down
 * is void once the requeued task resumed the trial under the same claim
 * key: replayed then, it is dropped and the run goes on (its outcome is
 * recorded); replayed before the resume, it is applied. */
static void test_spool_interrupt_after_resume(void)
{
    char dir[] = "/tmp/protein-spool-test.XXXXXX", path[PQ_SPOOL_PATH_MAX];
    char err[512];
    pq_spool_record rec;
    pq_spool_stats st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    CU_ASSERT_EQUAL_FATAL(make_sweep("requeued", (sweep_opts){0}), PQ_OK);
    pq_trial *first = claim_ok("requeued", "12_3");
    rec = completion("requeued", first, 0, 0);
    rec.kind = PQ_SPOOL_INTERRUPTED;
    snprintf(rec.text, sizeof rec.text, "killed by signal 15");
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    pq_trial *again = claim_ok("requeued", "12_3");
    CU_ASSERT_EQUAL_FATAL(again->id, first->id);
    CU_ASSERT_EQUAL(pq_spool_replay(ctx, dir, 0, &st, NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(st.dropped, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "claimed again"));
    pq_trial_record *r = record("requeued", first->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(
        pq_complete(ctx, "requeued", again->id, again->token, 0.75, 1), PQ_OK);
    CU_ASSERT_EQUAL(observed("requeued", PQ_TRIAL_INTERRUPTED), 0);
    /* Replayed before the next run's claim: recorded, as it always was. */
    pq_trial *other = claim_ok("requeued", "12_4");
    rec = completion("requeued", other, 0, 0);
    rec.kind = PQ_SPOOL_INTERRUPTED;
    CU_ASSERT_EQUAL_FATAL(
        pq_spool_write(dir, &rec, path, sizeof path, err, sizeof err), 0);
    CU_ASSERT_EQUAL(pq_spool_replay(ctx, dir, 0, &st, NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(st.applied, 1);
    r = record("requeued", other->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_INTERRUPTED);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(rmdir(dir), 0);
    pq_trial_free(first);
    pq_trial_free(again);
    pq_trial_free(other);
}

/* The release of a claim that timed out on the node names that claim's
 * token: it gives the trial back while that claim is the trial's last,
 * not once a requeued task resumed the trial under the same key (a
 * release spooled while Redis was down and replayed late), nor when the
 * timed-out claim never reached Redis. */
static void test_release_by_token(void)
{
    char given_up[PQ_TOKEN_LEN + 1], never_sent[PQ_TOKEN_LEN + 1];
    pq_claim_request q = req_for("7_1");
    pq_trial *served = NULL;
    pq_released rel = {-1, PQ_RELEASE_UNKNOWN};

    CU_ASSERT_EQUAL_FATAL(make_sweep("reltok", (sweep_opts){0}), PQ_OK);
    q.token_out = given_up;
    CU_ASSERT_EQUAL_FATAL(pq_claim(ctx, "reltok", &q, &served), PQ_OK);
    CU_ASSERT_STRING_EQUAL(given_up, served->token);
    pq_trial *again = claim_ok("reltok", "7_1");
    CU_ASSERT_EQUAL_FATAL(again->id, served->id);
    CU_ASSERT_EQUAL(
        pq_release(ctx, "reltok", "7_1", given_up, "timed out", &rel), PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, 0);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_NONE);
    pq_trial_record *r = record("reltok", served->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_complete(ctx, "reltok", again->id, again->token, 0.5, 1),
                    PQ_OK);
    /* A claim that never reached the server releases nothing. */
    pq_trial *held = claim_ok("reltok", "7_2");
    memset(never_sent, 'a', PQ_TOKEN_LEN);
    never_sent[PQ_TOKEN_LEN] = '\0';
    CU_ASSERT_EQUAL(
        pq_release(ctx, "reltok", "7_2", never_sent, "timed out", &rel), PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, 0);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_NONE);
    /* Its own last claim: released. */
    CU_ASSERT_EQUAL(
        pq_release(ctx, "reltok", "7_2", held->token, "timed out", &rel),
        PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, held->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_REQUEUED);
    r = record("reltok", held->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    pq_trial_record_free(r);
    pq_trial_free(served);
    pq_trial_free(again);
    pq_trial_free(held);
}

/* A try after an unanswered one is taken as recorded only when the
 * trial's outcome came from the same claim: after a late outcome of the
 * claim whose lease expired, the retry's try is refused (it was not
 * recorded), the late claim's own repeat is taken. */
static void test_spool_apply_try_late(void)
{
    pq_spool_record late, retry;
    pq_trial *a, *b;
    int unanswered = 1;

    outlive_lease("trylate", (sweep_opts){.max_retries = 1}, "retry-job", &a,
                  &b);
    CU_ASSERT_EQUAL_FATAL(b->id, a->id);
    late = completion("trylate", a, 0.5, 1);
    retry = completion("trylate", b, 0.7, 1);
    CU_ASSERT_EQUAL(pq_spool_apply(ctx, &late), PQ_OK);
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &retry, &unanswered, NULL),
                    PQ_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "suspended-job"));
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &late, &unanswered, NULL), PQ_OK);
    CU_ASSERT_EQUAL(pq_complete(ctx, "trylate", a->id, a->token, 0.5, 1),
                    PQ_EDONE);
    unanswered = 0;
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &late, &unanswered, NULL),
                    PQ_ESTATE);
    pq_trial_record *r = record("trylate", a->id);
    CU_ASSERT_EQUAL(r->score, 0.5);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(observed("trylate", PQ_TRIAL_COMPLETED), 1);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* An outcome tried again: "already ended" is the outcome's own doing
 * only when an earlier try went unanswered (pq_spool_apply_try); an
 * answered try leaves *unanswered as it was. A release's trial id comes
 * back through it ({0, PQ_RELEASE_NONE}: nothing released, or not a
 * release); nothing released after an unanswered try may have been that
 * try's doing (PQ_RELEASE_UNKNOWN). */
static void test_spool_apply_try(void)
{
    int unanswered = 0;
    pq_released released = {-1, PQ_RELEASE_UNKNOWN};

    CU_ASSERT_EQUAL_FATAL(make_sweep("tryagain", (sweep_opts){0}), PQ_OK);
    pq_trial *t = claim_ok("tryagain", "a1");
    pq_spool_record rec = completion("tryagain", t, 0.5, 1);
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &rec, &unanswered, NULL), PQ_OK);
    CU_ASSERT_EQUAL(unanswered, 0);
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &rec, &unanswered, NULL),
                    PQ_ESTATE);
    CU_ASSERT_EQUAL(unanswered, 0);
    unanswered = 1;
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &rec, &unanswered, &released),
                    PQ_OK);
    CU_ASSERT_EQUAL(unanswered, 1);
    CU_ASSERT_EQUAL(released.trial_id, 0);
    CU_ASSERT_EQUAL(released.outcome, PQ_RELEASE_NONE);
    expect_observations("tryagain", 1);

    pq_trial *u = claim_ok("tryagain", "a2");
    pq_spool_record rel = {.kind = PQ_SPOOL_RELEASE};
    snprintf(rel.sweep, sizeof rel.sweep, "tryagain");
    snprintf(rel.claim_key, sizeof rel.claim_key, "a2");
    snprintf(rel.token, sizeof rel.token, "%s", u->token);
    snprintf(rel.text, sizeof rel.text, "timed out");
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &rel, &unanswered, &released),
                    PQ_OK);
    CU_ASSERT_EQUAL(released.trial_id, u->id);
    CU_ASSERT_EQUAL(released.outcome, PQ_RELEASE_REQUEUED);
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &rel, &unanswered, &released),
                    PQ_OK);
    CU_ASSERT_EQUAL(released.trial_id, 0);
    CU_ASSERT_EQUAL(released.outcome, PQ_RELEASE_UNKNOWN);
    unanswered = 0;
    CU_ASSERT_EQUAL(pq_spool_apply_try(ctx, &rel, &unanswered, &released),
                    PQ_OK);
    CU_ASSERT_EQUAL(released.outcome, PQ_RELEASE_NONE);
    pq_trial_free(t);
    pq_trial_free(u);
}

/* A spool record whose sweep name, token or claim key does not fit its
 * field, or whose exit status is not an int, is refused, not cut short
 * (a cut name could name another sweep). */
static void test_spool_parse_limits(void)
{
    char text[2048], name[PQ_SWEEP_NAME_MAX + 2];
    pq_spool_record rec;

    snprintf(text, sizeof text,
             "kind=failed\nsweep=spool\ntrial=3\ntoken=ab\n"
             "exit_status=2\ntext=x\n");
    CU_ASSERT_EQUAL(pq_spool_parse_record(text, &rec), 0);
    CU_ASSERT_EQUAL(rec.exit_status, 2);
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(text, sizeof text, "kind=failed\nsweep=%s\ntrial=3\ntoken=ab\n",
             name);
    CU_ASSERT_EQUAL(pq_spool_parse_record(text, &rec), -1);
    snprintf(text, sizeof text,
             "kind=failed\nsweep=spool\ntrial=3\ntoken=%0200d\n", 0);
    CU_ASSERT_EQUAL(pq_spool_parse_record(text, &rec), -1);
    snprintf(text, sizeof text, "kind=release\nsweep=spool\nclaim_key=%0300d\n",
             0);
    CU_ASSERT_EQUAL(pq_spool_parse_record(text, &rec), -1);
    snprintf(text, sizeof text,
             "kind=failed\nsweep=spool\ntrial=3\ntoken=ab\n"
             "exit_status=4294967298\n");
    CU_ASSERT_EQUAL(pq_spool_parse_record(text, &rec), -1);
}

static int suite_init(void)
{
    return queue_suite_open(&server, &ctx);
}

static int suite_clean(void)
{
    queue_suite_close(&server, ctx);
    return 0;
}

/* The output of redis-cli ARGS... against the suite's server, without
 * the trailing newline (malloc'ed; "" when redis-cli failed). */
static char *cli(const char *a0, const char *a1, const char *a2, const char *a3)
{
    const char *args[] = {a0, a1, a2, a3, NULL};
    return redis_harness_cli_line(&server, args);
}

/* 1 when redis-cli ARGS... prints exactly want. */
static int cli_is(const char *want, const char *a0, const char *a1,
                  const char *a2, const char *a3)
{
    const char *args[] = {a0, a1, a2, a3, NULL};
    return redis_harness_cli_is(&server, want, args);
}

/* The deadline of trial id's lease in sweep "cut", as the leases hold
 * it (0 when it holds none). */
static double cut_lease(long id)
{
    char idb[24];
    snprintf(idb, sizeof idb, "%ld", id);
    char *out = cli("ZSCORE", "protein:{cut}:leases", idb, NULL);
    double v = out && *out ? strtod(out, NULL) : 0;
    free(out);
    return v;
}

/* protein_due's cut: the deadline its read went up to. An expiry bounded
 * by it clears the lease entries the read passed over (a running trial
 * with no claim key, an entry of no trial), and never a lease that fell
 * due after the read (a read that listed no trial had no bound, and
 * ended such a trial without proteind asking Slurm about it); nor one
 * beyond the count read, even tied with the last one read. */
static void test_due_cut(void)
{
    pq_due_lease *due = NULL;
    pq_trial_record *r;
    size_t n_due = 0;
    long owner = -1, n = -1;
    double cut = -1;
    int leader = -1;

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("cut", (sweep_opts){.lease_seconds = 1, .max_retries = 1}),
        PQ_OK);
    CU_ASSERT_EQUAL(pq_coordinator_acquire(ctx, "cut", "C", 60000, &leader),
                    PQ_OK);
    /* none due: the cut is 0 */
    CU_ASSERT_EQUAL(pq_leases_due(ctx, "cut", 16, &due, &n_due, &owner, &cut),
                    PQ_OK);
    CU_ASSERT_EQUAL(n_due, 0);
    CU_ASSERT_EQUAL(cut, 0);
    /* a: running without a claim key; b due 0.9 s after a (the read
     * between them, 0.8 s before b falls due, on a loaded machine too) */
    pq_trial *a = claim_ok("cut", "cut-a");
    pq_trial *b = NULL;
    char tk[48];
    snprintf(tk, sizeof tk, "protein:{cut}:trial:%ld", a->id);
    free(cli("HDEL", tk, "claim_key", NULL));
    free(cli("ZADD", "protein:{cut}:leases", "1", "999"));
    sleep_s(0.9);
    b = claim_ok("cut", "cut-b");
    double a_deadline = cut_lease(a->id);
    sleep_s(a_deadline - unix_now() + 0.1);
    /* a and entry 999 are due, read and left out; b is not due yet */
    CU_ASSERT_EQUAL_FATAL(
        pq_leases_due(ctx, "cut", 16, &due, &n_due, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL(n_due, 0);
    CU_ASSERT_PTR_NULL(due);
    CU_ASSERT_EQUAL(cut, a_deadline);
    /* b falls due after the read: the expiry by its cut clears a and 999,
     * and leaves b running */
    sleep_s(cut_lease(b->id) - unix_now() + 0.1);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "cut", 60, cut, NULL, 0, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(cut_lease(999), 0);
    r = record("cut", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    pq_trial_record_free(r);
    r = record("cut", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    /* the next read names b, up to its own deadline */
    CU_ASSERT_EQUAL_FATAL(
        pq_leases_due(ctx, "cut", 16, &due, &n_due, &owner, &cut), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n_due, 1);
    CU_ASSERT_EQUAL(due[0].id, b->id);
    CU_ASSERT_EQUAL(cut, due[0].deadline);
    CU_ASSERT_EQUAL(cut, cut_lease(b->id));
    free(due);

    /* read one of three (900 before 901 and 902, tied): the cut is 900's,
     * not past 901 read, which 902 ties */
    free(cli("ZADD", "protein:{cut}:leases", "100.5", "900"));
    free(cli("ZADD", "protein:{cut}:leases", "200.25", "901"));
    free(cli("ZADD", "protein:{cut}:leases", "200.25", "902"));
    CU_ASSERT_EQUAL(pq_leases_due(ctx, "cut", 2, &due, &n_due, &owner, &cut),
                    PQ_OK);
    CU_ASSERT_EQUAL(cut, 100.5);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "cut", 0, cut, NULL, 0, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    /* all read tie with one left: the cut moves on all the same */
    CU_ASSERT_EQUAL(pq_leases_due(ctx, "cut", 1, &due, &n_due, &owner, &cut),
                    PQ_OK);
    CU_ASSERT_EQUAL(cut, 200.25);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "cut", 0, cut, NULL, 0, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    r = record("cut", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    pq_trial_free(a);
    pq_trial_free(b);

    /* damaged scores at or below 0 (none is written so), alone due: the
     * cut is 1, neither "none due" (0: proteind would keep them for
     * good) nor a malformed reply (a negative one) */
    CU_ASSERT_EQUAL_FATAL(make_sweep("cut0", (sweep_opts){0}), PQ_OK);
    free(cli("ZADD", "protein:{cut0}:leases", "-5", "998"));
    free(cli("ZADD", "protein:{cut0}:leases", "0", "997"));
    CU_ASSERT_EQUAL(pq_leases_due(ctx, "cut0", 16, &due, &n_due, &owner, &cut),
                    PQ_OK);
    CU_ASSERT_EQUAL(n_due, 0);
    CU_ASSERT_EQUAL(cut, 1);
    CU_ASSERT_EQUAL(pq_expire_leases_after(ctx, "cut0", 0, cut, NULL, 0, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(cli_is("0", "ZCARD", "protein:{cut0}:leases", NULL, NULL));
}

/* The running trials of a sweep are listed from its leases: those and
 * only those, whatever their ids, with the rest still listed in full. */
static void test_list_running(void)
{
    pq_trial *t[4];
    pq_trial_record *arr = NULL;
    size_t n = 0;
    char key[16];

    CU_ASSERT_EQUAL_FATAL(make_sweep("runlist", (sweep_opts){.n_fallback = 8}),
                          PQ_OK);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "r%d", i + 1);
        t[i] = claim_ok("runlist", key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t[i]);
    }
    CU_ASSERT_EQUAL(pq_complete(ctx, "runlist", t[0]->id, t[0]->token, 1, 1),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_complete(ctx, "runlist", t[2]->id, t[2]->token, 1, 1),
                    PQ_OK);
    CU_ASSERT_EQUAL(
        pq_trial_list(ctx, "runlist", PQ_TRIAL_RUNNING, &arr, &n, NULL), PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2)
        CU_ASSERT((arr[0].id == 2 && arr[1].id == 4) ||
                  (arr[0].id == 4 && arr[1].id == 2));
    pq_trial_records_free(arr, n);
    CU_ASSERT_EQUAL(pq_trial_list(ctx, "runlist", -1, &arr, &n, NULL), PQ_OK);
    CU_ASSERT_EQUAL(n, 4);
    pq_trial_records_free(arr, n);
    for (int i = 0; i < 4; i++)
        pq_trial_free(t[i]);
}

/* Values stored malformed on purpose: every function refuses (ECORRUPT,
 * PQ_EPROTO) before its first write, so nothing is half done; malformed
 * queue entries are dropped and the claim goes on. */
static void test_damaged_store(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("dmg", (sweep_opts){.n_fallback = 4}),
                          PQ_OK);
    pq_trial *a = claim_ok("dmg", "k1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    char *digests = cli("HGET", "protein:{dmg}:private", "token:1", NULL);

    /* A resume of a trial whose attempts field is not a number. */
    cli_is("0", "HSET", "protein:{dmg}:trial:1", "attempts", "x");
    pq_claim_request q = req_for("k1");
    pq_trial *t = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "dmg", &q, &t), PQ_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "damaged or hand-edited store"));
    CU_ASSERT(cli_is("x", "HGET", "protein:{dmg}:trial:1", "attempts", NULL));
    CU_ASSERT(
        cli_is(digests, "HGET", "protein:{dmg}:private", "token:1", NULL));
    cli_is("0", "HSET", "protein:{dmg}:trial:1", "attempts", "1");

    /* A new claim when n_trials is not a number: no trial, no point used. */
    cli_is("0", "HSET", "protein:{dmg}:meta", "n_trials", "1e11");
    q = req_for("k2");
    CU_ASSERT_EQUAL(pq_claim(ctx, "dmg", &q, &t), PQ_EPROTO);
    CU_ASSERT(cli_is("1", "HGET", "protein:{dmg}:meta", "fallback_next", NULL));
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{dmg}:trial:2", NULL, NULL));
    CU_ASSERT(cli_is("0", "HEXISTS", "protein:{dmg}:claims", "k2", NULL));
    CU_ASSERT(cli_is("1", "ZCARD", "protein:{dmg}:leases", NULL, NULL));
    cli_is("0", "HSET", "protein:{dmg}:meta", "n_trials", "1");

    /* A stray value at the head of the ready queue is dropped; the claim
     * takes the next point (here a fallback point): one trial, whole. */
    cli_is("1", "LPUSH", "protein:{dmg}:queue", "not msgpack", NULL);
    pq_trial *b = claim_ok("dmg", "k3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(b->id, 2);
    CU_ASSERT_TRUE(b->fallback);
    CU_ASSERT(cli_is("0", "LLEN", "protein:{dmg}:queue", NULL, NULL));
    CU_ASSERT(cli_is("2", "HGET", "protein:{dmg}:meta", "n_trials", NULL));

    /* A damaged count of progress reports (a hint for the coordinator)
     * starts over and costs no report. */
    cli_is("0", "HSET", "protein:{dmg}:meta", "progress_reports", "lots");
    int stop = 0;
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", b->id, b->token, 1, 0.5, -1, &stop),
                    PQ_OK);
    CU_ASSERT(
        cli_is("1", "HGET", "protein:{dmg}:meta", "progress_reports", NULL));
    CU_ASSERT(cli_is("1", "HGET", "protein:{dmg}:trial:2", "progress_n", NULL));
    /* digits HINCRBY refuses all the same (a leading zero) */
    cli_is("0", "HSET", "protein:{dmg}:meta", "progress_reports", "007");
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", b->id, b->token, 2, 0.5, -1, &stop),
                    PQ_OK);
    CU_ASSERT(
        cli_is("1", "HGET", "protein:{dmg}:meta", "progress_reports", NULL));

    /* An outcome whose counter is damaged: the trial stays running, no
     * observation is written. */
    char *xlen = cli("XLEN", "protein:{dmg}:observations", NULL, NULL);
    cli_is("0", "HSET", "protein:{dmg}:meta", "n_completed", "many");
    CU_ASSERT_EQUAL(pq_complete(ctx, "dmg", b->id, b->token, 1, 1), PQ_EPROTO);
    CU_ASSERT(
        cli_is("running", "HGET", "protein:{dmg}:trial:2", "status", NULL));
    CU_ASSERT(cli_is("2", "ZCARD", "protein:{dmg}:leases", NULL, NULL));
    CU_ASSERT(cli_is(xlen, "XLEN", "protein:{dmg}:observations", NULL, NULL));
    cli_is("0", "HSET", "protein:{dmg}:meta", "n_completed", "0");
    CU_ASSERT_EQUAL(pq_complete(ctx, "dmg", b->id, b->token, 1, 1), PQ_OK);

    /* A key of the wrong type: refused before anything is written. */
    cli_is("OK", "SET", "protein:{dmg}:waiting", "not a zset", NULL);
    q = req_for("k4");
    CU_ASSERT_EQUAL(pq_claim(ctx, "dmg", &q, &t), PQ_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "waiting"));
    CU_ASSERT(cli_is("2", "HGET", "protein:{dmg}:meta", "n_trials", NULL));
    CU_ASSERT(cli_is("0", "HEXISTS", "protein:{dmg}:claims", "k4", NULL));
    cli_is("1", "DEL", "protein:{dmg}:waiting", NULL, NULL);
    /* A retry id whose trial is not a hash is dropped. */
    cli_is("OK", "SET", "protein:{dmg}:trial:99", "x", NULL);
    cli_is("1", "RPUSH", "protein:{dmg}:retry", "99", NULL);
    pq_trial *c = claim_ok("dmg", "k5");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->id, 3);
    CU_ASSERT(cli_is("0", "LLEN", "protein:{dmg}:retry", NULL, NULL));
    pq_trial_free(c);

    /* A damaged sweep can still be deleted, even with meta not a hash. */
    cli_is("0", "HSET", "protein:{dmg}:meta", "state", "???");
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "dmg", 0), PQ_OK);
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{dmg}:meta", NULL, NULL));
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{dmg}:trial:1", NULL, NULL));
    CU_ASSERT_EQUAL_FATAL(make_sweep("dmg2", (sweep_opts){0}), PQ_OK);
    cli_is("1", "DEL", "protein:{dmg2}:meta", NULL, NULL);
    cli_is("OK", "SET", "protein:{dmg2}:meta", "garbage", NULL);
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "dmg2", 0), PQ_OK);
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{dmg2}:meta", NULL, NULL));
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{dmg2}:fallback", NULL, NULL));
    free(digests);
    free(xlen);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* Expiry goes in chunks of 1000 leases per call: 1100 expired leases take
 * two calls of protein_expire, which pq_expire_leases makes; deleting the
 * 1100 trials takes two calls of protein_delete too. */
/* Replies that mean "not now" (out of memory, a read-only replica during
 * a failover, loading, busy) are PQ_EIO, which the plugin spools and the
 * agent retries, not a final error that loses an outcome; the functions
 * flushed from under a connection are loaded again and the call runs. */
static void test_refused_for_now(void)
{
    CU_ASSERT_EQUAL_FATAL(make_sweep("busy", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("busy", "k1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);

    cli_is("OK", "CONFIG", "SET", "maxmemory", "1");
    CU_ASSERT_EQUAL(pq_complete(ctx, "busy", a->id, a->token, 0.5, 2), PQ_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "OOM"));
    CU_ASSERT_EQUAL(ctx->unanswered, 0); /* refused: it did not run */
    pq_claim_request q = req_for("k2");
    pq_trial *t = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "busy", &q, &t), PQ_EIO);
    cli_is("OK", "CONFIG", "SET", "maxmemory", "0");
    CU_ASSERT(
        cli_is("running", "HGET", "protein:{busy}:trial:1", "status", NULL));

    /* sent and not answered (a frozen server): it may run later */
    pq_connect_options quick = {.url = server.url,
                                .connect_timeout_ms = 300,
                                .command_timeout_ms = 300};
    pq_context *q2 = pq_connect(&quick);
    CU_ASSERT_EQUAL_FATAL(q2->err, PQ_OK);
    CU_ASSERT_EQUAL_FATAL(redis_harness_freeze(&server), 0);
    int stop;
    CU_ASSERT_EQUAL(pq_renew(q2, "busy", a->id, a->token, &stop), PQ_EIO);
    CU_ASSERT_EQUAL(q2->unanswered, 1);
    CU_ASSERT_EQUAL(redis_harness_thaw(&server), 0);
    pq_free(q2);

    cli_is("OK", "FUNCTION", "FLUSH", NULL, NULL);
    CU_ASSERT_EQUAL(pq_complete(ctx, "busy", a->id, a->token, 0.5, 2), PQ_OK);
    CU_ASSERT(
        cli_is("completed", "HGET", "protein:{busy}:trial:1", "status", NULL));
    pq_trial_free(a);

    /* An outcome after the sweep's meta went (evicted by allkeys-lru,
     * deleted by hand) is refused, and brings back no meta of bare
     * counters that would show as an active sweep. */
    a = claim_ok("busy", "k3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    cli_is("1", "DEL", "protein:{busy}:meta", NULL, NULL);
    CU_ASSERT_EQUAL(pq_complete(ctx, "busy", a->id, a->token, 0.5, 2),
                    PQ_ENOSWEEP);
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{busy}:meta", NULL, NULL));
    pq_trial_free(a);
}

static void test_expire_chunks(void)
{
    enum { N = 1100 };
    CU_ASSERT_EQUAL_FATAL(make_sweep("many", (sweep_opts){.lease_seconds = 1}),
                          PQ_OK);
    char key[32];
    for (int i = 0; i < N; i++) {
        pq_claim_request q;
        pq_trial *t = NULL;
        snprintf(key, sizeof key, "m%d", i);
        q = req_for(key);
        CU_ASSERT_EQUAL_FATAL(pq_claim(ctx, "many", &q, &t), PQ_OK);
        pq_trial_free(t);
    }
    sleep_s(1.2);
    /* trials spared (the first due) are read past, not counted: the chunk
     * is 1000 others */
    CU_ASSERT(
        redis_harness_cli_is(&server, "1000",
                             (const char *const[]){"FCALL", "protein_expire",
                                                   "1", "protein:{many}:meta",
                                                   "60", "", "1", "2", NULL}));
    CU_ASSERT(
        cli_is("running", "HGET", "protein:{many}:trial:1", "status", NULL));
    CU_ASSERT(
        cli_is("running", "HGET", "protein:{many}:trial:2", "status", NULL));
    long n = 0;
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "many", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, N - 1000);
    CU_ASSERT(cli_is("0", "ZCARD", "protein:{many}:leases", NULL, NULL));
    /* Delete goes in chunks too: the first call removes 1000 trials, marks
     * the sweep deleting and asks for another call (1). */
    const char *del[] = {"FCALL",
                         "protein_delete",
                         "2",
                         "protein:{many}:meta",
                         "protein:sweeps",
                         "0",
                         NULL};
    char *out = redis_harness_cli(&server, del);
    CU_ASSERT_PTR_NOT_NULL(out);
    if (out)
        CU_ASSERT_EQUAL(atoi(out), 1);
    free(out);
    CU_ASSERT(cli_is("deleting", "HGET", "protein:{many}:meta", "state", NULL));
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{many}:trial:1000", NULL, NULL));
    CU_ASSERT(cli_is("1", "EXISTS", "protein:{many}:trial:1001", NULL, NULL));
    pq_claim_request q = req_for("late");
    pq_trial *t = NULL;
    CU_ASSERT_EQUAL(pq_claim(ctx, "many", &q, &t), PQ_ESTOPPED);
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "many", 0), PQ_OK);
    CU_ASSERT(cli_is("0", "EXISTS", "protein:{many}:trial:1100", NULL, NULL));
}

/* A stopped sweep's requeued task resumes its trial, but the claim
 * timed out on the node and the plugin releases it (Redis served it
 * late): the trial ends as interrupted, its key still holding it, for
 * the job's next requeue to resume; on the retry list, which a stopped
 * sweep never claims, it stayed queued for good. A paused sweep's
 * release still queues the trial, for its resume. A stopped sweep's
 * expired lease ends its trial lost, never queued for a retry. */
static void test_stopped_sweep_release(void)
{
    pq_claim_request q = req_for("s-new");
    pq_trial *x = NULL;
    pq_trial_record *r;
    pq_sweep_info *info = NULL;
    pq_released rel = {-1, PQ_RELEASE_UNKNOWN};
    long id = -1;

    CU_ASSERT_EQUAL_FATAL(make_sweep("strand", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("strand", "s-job");
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "strand", a->id, a->token, "preempted"),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand", "stop", OWNER), PQ_OK);
    pq_trial *a2 = claim_ok("strand", "s-job");
    CU_ASSERT_EQUAL_FATAL(a2->id, a->id);
    CU_ASSERT_TRUE(a2->resumed);
    char *len = cli("XLEN", "protein:{strand}:observations", NULL, NULL);
    long n_obs = len ? atol(len) : -1;
    free(len);
    CU_ASSERT_EQUAL(
        pq_release(ctx, "strand", "s-job", a2->token, "timed out", &rel),
        PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, a->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_INTERRUPTED);
    r = record("strand", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_INTERRUPTED);
    CU_ASSERT_PTR_NOT_NULL(r->error && strstr(r->error, "released: timed out"));
    pq_trial_record_free(r);
    len = cli("XLEN", "protein:{strand}:observations", NULL, NULL);
    CU_ASSERT(len && atol(len) == n_obs + 1);
    free(len);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "strand", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 1);
    CU_ASSERT_EQUAL(info->retry_depth, 0);
    pq_sweep_info_free(info);
    /* its token is revoked; a second release finds nothing running */
    CU_ASSERT_EQUAL(pq_complete(ctx, "strand", a2->id, a2->token, 0.5, 1),
                    PQ_ETOKEN);
    CU_ASSERT_EQUAL(
        pq_release(ctx, "strand", "s-job", a2->token, "timed out", &rel),
        PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, 0);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_NONE);
    /* the job's next requeue resumes it, and its outcome counts */
    pq_trial *a3 = claim_ok("strand", "s-job");
    CU_ASSERT_EQUAL(a3->id, a->id);
    CU_ASSERT_TRUE(a3->resumed);
    CU_ASSERT_EQUAL(a3->attempts, 3);
    CU_ASSERT_EQUAL(pq_complete(ctx, "strand", a3->id, a3->token, 0.5, 1),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_claim(ctx, "strand", &q, &x), PQ_ESTOPPED);

    /* paused: back to the retry list, which the sweep's resume serves */
    CU_ASSERT_EQUAL_FATAL(make_sweep("strand2", (sweep_opts){0}), PQ_OK);
    pq_trial *b = claim_ok("strand2", "s-held");
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand2", "pause", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(
        pq_release(ctx, "strand2", "s-held", b->token, "timed out", &rel),
        PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, b->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_REQUEUED);
    r = record("strand2", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_QUEUED);
    CU_ASSERT_PTR_NOT_NULL(r->error &&
                           strstr(r->error, "released: timed out (the sweep "
                                            "is paused)"));
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand2", "resume", OWNER), PQ_OK);
    pq_trial *b2 = claim_ok("strand2", "s-other");
    CU_ASSERT_EQUAL(b2->id, b->id);
    /* stopped: a lease that runs out ends the trial lost, retries left
     * or not: a retry queued would never be claimed */
    CU_ASSERT_EQUAL_FATAL(make_sweep("strand3", (sweep_opts){.lease_seconds = 1,
                                                             .max_retries = 1}),
                          PQ_OK);
    pq_trial *c = claim_ok("strand3", "s-gone");
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand3", "stop", OWNER), PQ_OK);
    sleep_s(1.2);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "strand3", &id), PQ_OK);
    CU_ASSERT_EQUAL(id, 1);
    r = record("strand3", c->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_LOST);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "strand3", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->retry_depth, 0);
    pq_sweep_info_free(info);
    pq_trial_free(a);
    pq_trial_free(a2);
    pq_trial_free(a3);
    pq_trial_free(b);
    pq_trial_free(b2);
    pq_trial_free(c);
}

/* Asserts that trial id of sweep is in state, its error holding
 * error_part (NULL: any error, or none). */
static void expect_trial(const char *sweep, long id, pq_trial_state state,
                         const char *error_part)
{
    pq_trial_record *r = record(sweep, id);
    CU_ASSERT_EQUAL(r->state, state);
    if (error_part && (!r->error || !strstr(r->error, error_part))) {
        CU_FAIL("trial error");
        fprintf(stderr, "trial %ld of %s: error '%s', not '%s'\n", id, sweep,
                r->error ? r->error : "", error_part);
    }
    pq_trial_record_free(r);
}

/* A stop ends the trials queued for a retry: a stopped sweep claims no
 * retry, so queued they stayed so for good. A released one (its claim
 * given up while the sweep was paused or active) ends as a release in
 * the stopped sweep ends it: interrupted, its claim key holding it again
 * for the job's requeue to resume, its error saying what happened; lost
 * only when its key holds another trial by now. One queued after its
 * lease expired ends lost. So does the stop of a trial that reaches
 * metric.target. */
static void test_stop_ends_retries(void)
{
    pq_released rel = {-1, PQ_RELEASE_UNKNOWN};
    pq_sweep_info *info = NULL;
    pq_trial *a2, *c2, *e2, *g;
    long n = 0;

    /* paused, released, then stopped */
    CU_ASSERT_EQUAL_FATAL(make_sweep("strand4", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("strand4", "q-a");
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand4", "pause", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(
        pq_release(ctx, "strand4", "q-a", a->token, "timed out", &rel), PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, a->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_REQUEUED);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand4", "stop", OWNER), PQ_OK);
    expect_trial("strand4", a->id, PQ_TRIAL_INTERRUPTED,
                 "released: timed out (the sweep is paused); then the sweep "
                 "was stopped before a claim took it again");
    CU_ASSERT_EQUAL(observed("strand4", PQ_TRIAL_INTERRUPTED), 1);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "strand4", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 0);
    CU_ASSERT_EQUAL(info->retry_depth, 0);
    pq_sweep_info_free(info);
    /* a stop again finds none */
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand4", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "strand4", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 1);
    pq_sweep_info_free(info);
    /* the job's requeue resumes it, and its outcome counts */
    a2 = claim_ok("strand4", "q-a");
    CU_ASSERT_EQUAL(a2->id, a->id);
    CU_ASSERT_TRUE(a2->resumed);
    CU_ASSERT_EQUAL(pq_complete(ctx, "strand4", a2->id, a2->token, 0.5, 1),
                    PQ_OK);

    /* stopped by a trial that reaches the target */
    CU_ASSERT_EQUAL_FATAL(make_sweep("strand5", (sweep_opts){0}), PQ_OK);
    free(cli("HSET", "protein:{strand5}:meta", "target", "1"));
    free(cli("HSET", "protein:{strand5}:meta", "goal_minimize", "1"));
    pq_trial *c = claim_ok("strand5", "q-c");
    pq_trial *d = claim_ok("strand5", "q-d");
    CU_ASSERT_EQUAL(
        pq_release(ctx, "strand5", "q-c", c->token, "timed out", &rel), PQ_OK);
    CU_ASSERT_EQUAL(rel.trial_id, c->id);
    CU_ASSERT_EQUAL(rel.outcome, PQ_RELEASE_REQUEUED);
    CU_ASSERT_EQUAL(pq_complete(ctx, "strand5", d->id, d->token, 0.5, 1),
                    PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "strand5", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->state, PQ_SWEEP_STOPPED);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 1);
    CU_ASSERT_EQUAL(info->retry_depth, 0);
    pq_sweep_info_free(info);
    expect_trial("strand5", c->id, PQ_TRIAL_INTERRUPTED,
                 "released: timed out; then the sweep was stopped");
    c2 = claim_ok("strand5", "q-c");
    CU_ASSERT_EQUAL(c2->id, c->id);

    /* released, its key taking another retry since: nothing resumes it */
    CU_ASSERT_EQUAL_FATAL(make_sweep("strand6", (sweep_opts){0}), PQ_OK);
    pq_trial *e = claim_ok("strand6", "q-e");
    pq_trial *f = claim_ok("strand6", "q-f");
    CU_ASSERT_EQUAL(pq_release(ctx, "strand6", "q-e", NULL, "gone", NULL),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_release(ctx, "strand6", "q-f", NULL, "gone", NULL),
                    PQ_OK);
    e2 = claim_ok("strand6", "q-f");
    CU_ASSERT_EQUAL_FATAL(e2->id, e->id);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand6", "stop", OWNER), PQ_OK);
    expect_trial("strand6", f->id, PQ_TRIAL_LOST,
                 "released: gone; then the sweep was stopped");
    expect_trial("strand6", e->id, PQ_TRIAL_RUNNING, NULL);

    /* queued after its lease expired: lost */
    CU_ASSERT_EQUAL_FATAL(make_sweep("strand7", (sweep_opts){.lease_seconds = 1,
                                                             .max_retries = 1}),
                          PQ_OK);
    g = claim_ok("strand7", "q-g");
    sleep_s(1.2);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "strand7", &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "strand7", "stop", OWNER), PQ_OK);
    expect_trial("strand7", g->id, PQ_TRIAL_LOST, "lease expired");
    pq_trial_free(a);
    pq_trial_free(a2);
    pq_trial_free(c);
    pq_trial_free(c2);
    pq_trial_free(d);
    pq_trial_free(e);
    pq_trial_free(e2);
    pq_trial_free(f);
    pq_trial_free(g);
}

/* Whether s is valid UTF-8 (no sequence cut short, no stray continuation
 * byte). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int more = *p < 0x80             ? 0
                   : (*p & 0xE0) == 0xC0 ? 1
                   : (*p & 0xF0) == 0xE0 ? 2
                   : (*p & 0xF8) == 0xF0 ? 3
                                         : -1;
        if (more < 0)
            return 0;
        p++;
        for (; more > 0; more--, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

/* More trials released than one stop ends (1000): the stop ends the
 * first 1000 as interrupted, a stop again the rest; every claim key then
 * resumes its own trial and none another's, and the counters follow. */
static void test_stop_ends_released_in_chunks(void)
{
    enum { N = 1001 };
    pq_trial **t = calloc(N, sizeof *t);
    pq_claim_request q = req_for("none-held");
    pq_sweep_info *info = NULL;
    pq_trial *x = NULL;
    char key[16];

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL_FATAL(make_sweep("chunked", (sweep_opts){0}), PQ_OK);
    claim_n("chunked", "ch", t, N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "ch%d", i);
        CU_ASSERT_EQUAL(pq_release(ctx, "chunked", key, NULL, "gone", NULL),
                        PQ_OK);
    }
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "chunked", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "chunked", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 1000);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], N - 1000);
    CU_ASSERT_EQUAL(info->retry_depth, N - 1000);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "chunked", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "chunked", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "chunked", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], N);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(observed("chunked", PQ_TRIAL_INTERRUPTED), N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "ch%d", i);
        x = claim_ok("chunked", key);
        CU_ASSERT_EQUAL(x->id, t[i]->id);
        CU_ASSERT_TRUE(x->resumed);
        pq_trial_free(x);
        pq_trial_free(t[i]);
    }
    CU_ASSERT_EQUAL(pq_claim(ctx, "chunked", &q, &x), PQ_ESTOPPED);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "chunked", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], N);
    pq_sweep_info_free(info);
    free(t);
}

/* One claim key released twice, each time holding another trial, both
 * still queued at the stop: the key holds one of them again
 * (interrupted), the other is lost, and the first trial's first key
 * resumes nothing: no trial goes to two claims. */
static void test_stop_released_twice_by_one_key(void)
{
    pq_claim_request q = req_for("tw-0");
    pq_sweep_info *info = NULL;
    pq_trial *x = NULL, *r = NULL;

    CU_ASSERT_EQUAL_FATAL(make_sweep("twice", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("twice", "tw-0");
    pq_trial *b = claim_ok("twice", "tw-k");
    CU_ASSERT_EQUAL(pq_release(ctx, "twice", "tw-0", NULL, "gone", NULL),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_release(ctx, "twice", "tw-k", NULL, "gone", NULL),
                    PQ_OK);
    /* the key's requeue takes the retry list's head, a's trial */
    pq_trial *a2 = claim_ok("twice", "tw-k");
    CU_ASSERT_EQUAL_FATAL(a2->id, a->id);
    CU_ASSERT_EQUAL(
        pq_release(ctx, "twice", "tw-k", a2->token, "gone again", NULL), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "twice", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "twice", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_INTERRUPTED], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 1);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_QUEUED], 0);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(observed("twice", PQ_TRIAL_INTERRUPTED), 1);
    r = claim_ok("twice", "tw-k");
    CU_ASSERT_TRUE(r->resumed);
    CU_ASSERT(r->id == a->id || r->id == b->id);
    expect_trial("twice", r->id == a->id ? b->id : a->id, PQ_TRIAL_LOST,
                 "; then the sweep was stopped");
    CU_ASSERT_EQUAL(pq_claim(ctx, "twice", &q, &x), PQ_ESTOPPED);
    pq_trial_free(a);
    pq_trial_free(a2);
    pq_trial_free(b);
    pq_trial_free(r);
}

/* A release's error is at most 1 KiB (PQ_ERROR_MAX), with its suffix
 * ("(the sweep is paused)") and once the stop added its own, and a long
 * reason of non-ASCII text is never cut inside a UTF-8 sequence. */
static void test_release_error_bounded(void)
{
    char reason[PQ_ERROR_MAX + 1];
    pq_trial_record *r;
    size_t n = 0;

    reason[n++] = 'x';
    reason[n++] = 'y';
    while (n + 2 <= PQ_ERROR_MAX - 1) {
        reason[n++] = (char)0xC3; /* é */
        reason[n++] = (char)0xA9;
    }
    reason[n++] = 'x';
    reason[n] = '\0';
    CU_ASSERT_EQUAL_FATAL(make_sweep("longwhy", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("longwhy", "lw-a");
    pq_trial *b = claim_ok("longwhy", "lw-b");
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "longwhy", "pause", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(pq_release(ctx, "longwhy", "lw-a", NULL, reason, NULL),
                    PQ_OK);
    r = record("longwhy", a->id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->error);
    CU_ASSERT(strlen(r->error) <= PQ_ERROR_MAX);
    CU_ASSERT(utf8_valid(r->error));
    CU_ASSERT_PTR_NOT_NULL(strstr(r->error, "(the sweep is paused)"));
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "longwhy", "stop", OWNER), PQ_OK);
    r = record("longwhy", a->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_INTERRUPTED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->error);
    CU_ASSERT(strlen(r->error) <= PQ_ERROR_MAX);
    CU_ASSERT(utf8_valid(r->error));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r->error, "; then the sweep was stopped before a claim took it "
                         "again"));
    pq_trial_record_free(r);
    /* released in the stopped sweep */
    CU_ASSERT_EQUAL(pq_release(ctx, "longwhy", "lw-b", NULL, reason, NULL),
                    PQ_OK);
    r = record("longwhy", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_INTERRUPTED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->error);
    CU_ASSERT(strlen(r->error) <= PQ_ERROR_MAX);
    CU_ASSERT(utf8_valid(r->error));
    CU_ASSERT_PTR_NOT_NULL(strstr(r->error, "(the sweep is stopped)"));
    pq_trial_record_free(r);
    pq_trial_free(a);
    pq_trial_free(b);
}

/* A stopped sweep hands out no new trial, but a requeued task resumes its
 * running or interrupted trial under the same claim key and records its
 * outcome ("running trials finish and are recorded"); so does a paused
 * one. A sweep being deleted resumes nothing. */
static void test_stopped_sweep_resumes(void)
{
    pq_claim_request q = req_for("h-new");
    pq_trial *x = NULL;

    CU_ASSERT_EQUAL_FATAL(make_sweep("halt", (sweep_opts){0}), PQ_OK);
    pq_trial *a = claim_ok("halt", "h-run");
    pq_trial *b = claim_ok("halt", "h-int");
    CU_ASSERT_EQUAL(pq_interrupt(ctx, "halt", b->id, b->token, "preempted"),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "halt", "stop", OWNER), PQ_OK);
    CU_ASSERT_EQUAL(pq_claim(ctx, "halt", &q, &x), PQ_ESTOPPED);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "is stopped"));
    pq_trial *a2 = claim_ok("halt", "h-run");
    pq_trial *b2 = claim_ok("halt", "h-int");
    CU_ASSERT_EQUAL(a2->id, a->id);
    CU_ASSERT_TRUE(a2->resumed);
    CU_ASSERT_EQUAL(b2->id, b->id);
    CU_ASSERT_TRUE(b2->resumed);
    CU_ASSERT_EQUAL(pq_complete(ctx, "halt", a2->id, a2->token, 0.5, -1),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_complete(ctx, "halt", b2->id, b2->token, 0.25, -1),
                    PQ_OK);
    pq_trial_record *r = record("halt", b->id);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT_EQUAL(r->attempts, 2);
    pq_trial_record_free(r);
    /* a key whose trial ended gets nothing, stopped or not */
    q.claim_key = "h-run";
    CU_ASSERT_EQUAL(pq_claim(ctx, "halt", &q, &x), PQ_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "already completed"));
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "halt", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->state, PQ_SWEEP_STOPPED);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], 2);
    pq_sweep_info_free(info);

    CU_ASSERT_EQUAL_FATAL(make_sweep("held", (sweep_opts){0}), PQ_OK);
    pq_trial *c = claim_ok("held", "p-run");
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "held", "pause", OWNER), PQ_OK);
    q.claim_key = "p-new";
    CU_ASSERT_EQUAL(pq_claim(ctx, "held", &q, &x), PQ_ESTOPPED);
    pq_trial *c2 = claim_ok("held", "p-run");
    CU_ASSERT_EQUAL(c2->id, c->id);
    CU_ASSERT_TRUE(c2->resumed);

    CU_ASSERT_EQUAL_FATAL(make_sweep("gone", (sweep_opts){0}), PQ_OK);
    pq_trial *d = claim_ok("gone", "g-run");
    CU_ASSERT(cli_is("0", "HSET", "protein:{gone}:meta", "state", "deleting"));
    q.claim_key = "g-run";
    CU_ASSERT_EQUAL(pq_claim(ctx, "gone", &q, &x), PQ_ESTOPPED);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "is deleting"));
    CU_ASSERT_PTR_NULL(x);
    pq_trial_free(a);
    pq_trial_free(b);
    pq_trial_free(a2);
    pq_trial_free(b2);
    pq_trial_free(c);
    pq_trial_free(c2);
    pq_trial_free(d);
}

/* A user may write their own index: pq_sweep_list reads the first
 * PQ_OWNER_INDEX_MAX entries of it and names the user whose index holds
 * more, so that a shared proteind does not page through millions of names
 * stuffed into it. Exactly PQ_OWNER_INDEX_MAX entries are read whole. */
static void test_stuffed_index(void)
{
    const char *more[] = {"ZADD", "protein:{stuffer/}:sweeps", "0", "stuffer/k",
                          NULL};
    char **names = NULL, **cut = NULL;
    size_t n = 0, n_cut = 0, stuffed = 0;

    redis_harness_stuff_index(&server, "stuffer", PQ_OWNER_INDEX_MAX);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_list(ctx, &names, &n, &cut, &n_cut), PQ_OK);
    for (size_t i = 0; i < n; i++)
        stuffed += strncmp(names[i], "stuffer/", 8) == 0;
    CU_ASSERT_EQUAL(stuffed, PQ_OWNER_INDEX_MAX);
    CU_ASSERT_EQUAL(n_cut, 0);
    pq_strings_free(names, n);
    pq_strings_free(cut, n_cut);

    free(redis_harness_cli(&server, more));
    CU_ASSERT_EQUAL_FATAL(pq_sweep_list(ctx, &names, &n, &cut, &n_cut), PQ_OK);
    stuffed = 0;
    for (size_t i = 0; i < n; i++)
        stuffed += strncmp(names[i], "stuffer/", 8) == 0;
    CU_ASSERT_EQUAL(stuffed, PQ_OWNER_INDEX_MAX);
    CU_ASSERT_EQUAL_FATAL(n_cut, 1);
    CU_ASSERT_STRING_EQUAL(cut[0], "stuffer");
    pq_strings_free(names, n);
    pq_strings_free(cut, n_cut);
    /* The owner's own list reads the whole of it. */
    CU_ASSERT_EQUAL(pq_sweep_list_owned(ctx, "stuffer", &names, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, PQ_OWNER_INDEX_MAX + 1);
    pq_strings_free(names, n);
    redis_harness_stuff_index(&server, "stuffer", 0);
}

/* Creating a sweep and raising its budget name it in its owner's wake
 * stream, which pq_wakes_read reads on from where it left off, each entry
 * once and a bounded number per call; what a user may write into their
 * own stream by hand (another owner's sweep, another key type) names
 * nothing and fails nothing, and the stream is trimmed. */
static void test_wake_streams(void)
{
    pq_wake_stream s[2] = {{NULL, ""}, {"carol", ""}};
    pq_wake_stream late = {"carol", ""}, erin = {"erin", ""};
    pq_wake_stream many[PQ_WAKE_STREAMS_MAX + 1] = {{NULL, ""}};
    const char *forged[] = {
        "XADD", "protein:{carol/}:wake", "*", "sweep", "dave/x", NULL};
    const char *wrong[] = {"SET", "protein:{erin/}:wake", "x", NULL};
    char **names = NULL;
    size_t n = 0;
    int64_t first = 0, ms = 0;
    char *len;

    /* from now: not the wakes of the sweeps made before (a millisecond
     * ago at least) */
    sleep_s(0.002);
    CU_ASSERT_EQUAL_FATAL(pq_wakes_read(ctx, s, 2, 0, &first, &names, &n),
                          PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(first > 1600000000000LL);
    CU_ASSERT_EQUAL_FATAL(make_sweep("wk1", (sweep_opts){.max_trials = 2}),
                          PQ_OK);
    CU_ASSERT_EQUAL_FATAL(
        make_sweep("carol/wk2", (sweep_opts){.max_trials = 2}), PQ_OK);
    CU_ASSERT_EQUAL(
        pq_sweep_set_budget(ctx, "wk1", 1, 1, OWNER, NULL, 0, NULL, NULL),
        PQ_OK);
    /* lowered: nothing to wake a coordinator for */
    CU_ASSERT_EQUAL(
        pq_sweep_set_budget(ctx, "wk1", 1, 0, OWNER, NULL, 0, NULL, NULL),
        PQ_OK);
    free(redis_harness_cli(&server, forged));
    CU_ASSERT_EQUAL_FATAL(pq_wakes_read(ctx, s, 2, first, &ms, &names, &n),
                          PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(names[0], "wk1");
    CU_ASSERT_STRING_EQUAL(names[1], "wk1");
    CU_ASSERT_STRING_EQUAL(names[2], "carol/wk2");
    CU_ASSERT(ms >= first);
    pq_strings_free(names, n);
    CU_ASSERT_EQUAL(pq_wakes_read(ctx, s, 2, first, &ms, &names, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    /* a stream new to the reader starts at the time it is given */
    CU_ASSERT_EQUAL(pq_wakes_read(ctx, &late, 1, first, &ms, &names, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(names[0], "carol/wk2");
    pq_strings_free(names, n);
    /* bounded reads, none lost */
    for (int i = 0; i < PQ_WAKE_ENTRIES_MAX + 8; i++)
        pq_sweep_set_budget(ctx, "wk1", 1, 1, OWNER, NULL, 0, NULL, NULL);
    CU_ASSERT_EQUAL(pq_wakes_read(ctx, s, 1, first, &ms, &names, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, PQ_WAKE_ENTRIES_MAX);
    pq_strings_free(names, n);
    CU_ASSERT_EQUAL(pq_wakes_read(ctx, s, 1, first, &ms, &names, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 8);
    pq_strings_free(names, n);
    for (int i = 0; i < 400; i++)
        pq_sweep_set_budget(ctx, "wk1", 1, 1, OWNER, NULL, 0, NULL, NULL);
    len = cli("XLEN", "protein:wake", NULL, NULL);
    CU_ASSERT(len && atol(len) >= 256 && atol(len) < 400);
    free(len);
    /* a key of another type: the sweep is created, the read names nothing */
    free(redis_harness_cli(&server, wrong));
    CU_ASSERT_EQUAL(make_sweep("erin/wk3", (sweep_opts){.max_trials = 1}),
                    PQ_OK);
    CU_ASSERT_EQUAL(pq_wakes_read(ctx, &erin, 1, first, &ms, &names, &n),
                    PQ_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(pq_wakes_read(ctx, many, PQ_WAKE_STREAMS_MAX + 1, first,
                                  &ms, &names, &n),
                    PQ_EINVAL);
}

static const cunit_test tests[] = {
    {"connect and load functions", test_connect},
    {"sweep lifecycle", test_sweep_lifecycle},
    {"a stuffed user index is read in part", test_stuffed_index},
    {"claim, complete, fail, tokens", test_claim_complete},
    {"idempotent claim and resume", test_idempotent_claim},
    {"a trial run again keeps no old error", test_rerun_clears_error},
    {"budget, owner, pause and stop", test_budget_owner_state},
    {"an expiry spares the trials it names, alone", test_expire_spares_trials},
    {"a stopped sweep resumes a requeued task's trial",
     test_stopped_sweep_resumes},
    {"a stopped sweep's resumed trial released ends interrupted",
     test_stopped_sweep_release},
    {"a stop ends the trials queued for a retry", test_stop_ends_retries},
    {"a stop ends more released trials than one chunk",
     test_stop_ends_released_in_chunks},
    {"a key released twice, its trials queued at the stop",
     test_stop_released_twice_by_one_key},
    {"a release's error is bounded, UTF-8 kept whole",
     test_release_error_bounded},
    {"a budget set or raised", test_set_budget},
    {"a raise's fresh fallback points", test_set_budget_fresh_points},
    {"wake streams", test_wake_streams},
    {"lease expiry and retry", test_lease_expiry},
    {"late outcomes and retry budget", test_late_outcomes},
    {"a late outcome of a point claimed again", test_late_reclaimed},
    {"a late outcome tried again", test_spool_apply_try_late},
    {"a claim ends the leases no coordinator ends", test_claim_expires},
    {"a running job's lease extended by its coordinator", test_lease_extend},
    {"an expiry bounded by protein_due's cut", test_due_cut},
    {"a spool replay's log line is never cut short",
     test_spool_replay_line_whole},
    {"the demand and the leases due in one call", test_demand_with_due},
    {"the demand and the leases due from an older build's functions",
     test_demand_with_due_older_functions},
    {"coordinator, queue, wait then fallback", test_coordinator_queue},
    {"Redis down", test_redis_down},
    {"URL forms", test_url_forms},
    {"password", test_password},
    {"restart with appendonly", test_restart_aof},
    {"fallback points in order, each once", test_fallback_distinct},
    {"a point handed out from the queue or the pool runs once",
     test_fallback_handed_once},
    {"a grid's points: each once, in order, then EBUDGET", test_fallback_grid},
    {"release of an abandoned claim", test_release},
    {"spooled outcomes replayed exactly once", test_spool_replay},
    {"a spooled interrupt replayed after its task's requeue resumed the trial",
     test_spool_interrupt_after_resume},
    {"a release replayed from the spool says what it did",
     test_spool_release_replay_says},
    {"a release against an older build's functions",
     test_release_older_functions},
    {"a release by an older build's client", test_release_for_older_clients},
    {"a release names its claim's token: none once the key's trial resumed",
     test_release_by_token},
    {"an outcome tried again after no answer", test_spool_apply_try},
    {"spool records too long for a field refused", test_spool_parse_limits},
    {"running trials listed from the leases", test_list_running},
    {"damaged store: nothing half-written", test_damaged_store},
    {"'not now' replies are PQ_EIO; flushed functions come back",
     test_refused_for_now},
    {"expiry in chunks", test_expire_chunks},
    {"ACL for workers", test_acl},
    {"64 concurrent clients", test_concurrent_clients},
};

int main(void)
{
    if (system("redis-server --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: redis-server not found\n");
        return 77;
    }
    return cunit_run_suite_fixture("queue", suite_init, suite_clean, tests,
                                   CUNIT_COUNT(tests));
}
