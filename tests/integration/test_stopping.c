/*
 * test_stopping.c - a sweep's stopping rules on a real redis-server
 * (tests/common/redis_harness.h): the curve protein_progress keeps for
 * each trial (bounded, read back by pq_trial_curve and
 * protein_curve_parse), W&B's hyperband applied to each report from the
 * sweep's shared per-band records, metric.target ending the sweep, and
 * malformed stored values refused before anything is written.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "protein.h"
#include "protein_queue.h"
#include "queue_suite.h"

#define OWNER 1000

static redis_harness server;
static pq_context *ctx;

static int suite_init(void)
{
    return queue_suite_open(&server, &ctx);
}

static int suite_clean(void)
{
    queue_suite_close(&server, ctx);
    return 0;
}

/* 1 when redis-cli ARGS... prints exactly want (redis_harness_cli_is). */
#define CLI_IS(want, ...)                                                      \
    redis_harness_cli_is(&server, want,                                        \
                         (const char *const[]){__VA_ARGS__, NULL})
/* redis-cli ARGS... for its effect. */
#define CLI(...)                                                               \
    free(redis_harness_cli(&server, (const char *const[]){__VA_ARGS__, NULL}))

/* A stopping rule for make_sweep: hyperband bands (n 0: none) and a
 * target (has_target 0: none). */
typedef struct rule {
    int minimize;
    long bands[4];
    size_t n_bands;
    double eta;
    int strict;
    int has_target;
    double target;
} rule;

static int make_sweep(const char *name, rule r)
{
    pq_param item = {.name = "x", .number = 0.5};
    pq_params fb = {1, &item};
    pq_sweep_spec spec = {.name = name,
                          .config_yaml = "metric: score\n",
                          .metric = "score",
                          .cost_metric = "cost",
                          .goal_minimize = r.minimize,
                          .owner_uid = OWNER,
                          .fallback = &fb,
                          .n_fallback = 1,
                          .has_target = r.has_target,
                          .target = r.target,
                          .hyperband_bands = r.bands,
                          .n_hyperband_bands = r.n_bands,
                          .hyperband_eta = r.eta,
                          .hyperband_strict = r.strict};

    return pq_sweep_create(ctx, &spec);
}

static pq_trial *claim(const char *sweep, const char *key)
{
    pq_claim_request q = {.claim_key = key,
                          .uid = OWNER,
                          .job_id = "1",
                          .array_index = -1,
                          .node = "n",
                          .wait_ms = 0};
    pq_trial *t = NULL;
    int rc = pq_claim(ctx, sweep, &q, &t);

    if (rc != PQ_OK)
        fprintf(stderr, "claim on %s: %s\n", sweep, ctx->errstr);
    CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
    return t;
}

/* Sends reports v[0..n) of t; returns the stop flag of the last, -1 on a
 * failed call. */
static int reports(const char *sweep, const pq_trial *t, const double *v,
                   size_t n)
{
    int stop = 0;

    for (size_t i = 0; i < n; i++)
        if (pq_progress(ctx, sweep, t->id, t->token, (double)(i + 1), v[i], -1,
                        &stop) != PQ_OK)
            return -1;
    return stop;
}

static pq_trial_state state_of(const char *sweep, long id)
{
    pq_trial_record *r = NULL;
    pq_trial_state st = PQ_TRIAL_QUEUED;

    if (pq_trial_get(ctx, sweep, id, &r) == PQ_OK)
        st = r->state;
    pq_trial_record_free(r);
    return st;
}

static void test_bands(void)
{
    long b[PROTEIN_HYPERBAND_BANDS_MAX];
    protein_hyperband h = {.enabled = 1, .min_iter = 3, .eta = 3, .strict = 1};
    size_t n = protein_hyperband_bands(&h, b, PROTEIN_HYPERBAND_BANDS_MAX);

    CU_ASSERT(n > 10);
    CU_ASSERT(b[0] == 3 && b[1] == 9 && b[2] == 27 && b[3] == 81);
    /* int() of 1, 1.5, 2.25, 3.375, 5.06: 1 twice, kept once */
    h = (protein_hyperband){.enabled = 1, .min_iter = 1, .eta = 1.5};
    n = protein_hyperband_bands(&h, b, 5);
    CU_ASSERT(n == 5 && b[0] == 1 && b[1] == 2 && b[2] == 3 && b[3] == 5 &&
              b[4] == 7);
    h = (protein_hyperband){.enabled = 1, .max_iter = 27, .s = 2, .eta = 3};
    n = protein_hyperband_bands(&h, b, PROTEIN_HYPERBAND_BANDS_MAX);
    CU_ASSERT(n == 2 && b[0] == 3 && b[1] == 9);
    h.enabled = 0;
    CU_ASSERT_EQUAL(protein_hyperband_bands(&h, b, 5), 0);
}

static void test_curve_parse(void)
{
    protein_curve_point *p = NULL;
    size_t n = 9;
    const char *ok = "1 0.5 -\n2 0.25 3.5\n";
    const char *bad[] = {"1 0.5\n",       "1 0.5 - \n", "1 nan -\n",
                         "1  0.5 -\n",    "1 0.5 -",    "x 0.5 -\n",
                         "1 0.5 1e999\n", " 1 2 3\n",   "1 2 3 4\n",
                         "1 2 --\n",      "\n"};

    CU_ASSERT_EQUAL(protein_curve_parse(ok, strlen(ok), &p, &n), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT(p[0].step == 1 && p[0].score == 0.5 && isnan(p[0].cost));
    CU_ASSERT(p[1].step == 2 && p[1].score == 0.25 && p[1].cost == 3.5);
    free(p);
    CU_ASSERT_EQUAL(protein_curve_parse("", 0, &p, &n), PROTEIN_OK);
    CU_ASSERT(n == 0 && p == NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(protein_curve_parse(bad[i], strlen(bad[i]), &p, &n),
                        PROTEIN_EINVAL);
        CU_ASSERT(n == 0 && p == NULL);
    }
}

/* The curve holds each report, then stays bounded and spans the run. */
static void test_curve_kept(void)
{
    protein_curve_point *p = NULL;
    pq_trial *t;
    char *text = NULL;
    long n_reports = 0;
    size_t n = 0;
    int stop = 0, ok = 1;

    CU_ASSERT_EQUAL_FATAL(make_sweep("curve", (rule){.minimize = 1}), PQ_OK);
    t = claim("curve", "c1");
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "curve", t->id, t->token, 10, 0.5, -1, &stop), PQ_OK);
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "curve", t->id, t->token, 20, 0.25, 7.5, &stop),
        PQ_OK);
    CU_ASSERT_EQUAL(stop, 0);
    CU_ASSERT_EQUAL(pq_trial_curve(ctx, "curve", t->id, &text, &n_reports),
                    PQ_OK);
    CU_ASSERT_EQUAL(n_reports, 2);
    CU_ASSERT_STRING_EQUAL(text, "10 0.5 -\n20 0.25 7.5\n");
    free(text);
    for (int i = 3; i <= 2600 && ok; i++)
        ok = pq_progress(ctx, "curve", t->id, t->token, 10.0 * i, 1.0 / i, -1,
                         &stop) == PQ_OK;
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(pq_trial_curve(ctx, "curve", t->id, &text, &n_reports),
                    PQ_OK);
    CU_ASSERT_EQUAL(n_reports, 2600);
    CU_ASSERT_EQUAL(protein_curve_parse(text, strlen(text), &p, &n),
                    PROTEIN_OK);
    free(text);
    /* every 4th report from the first: 650, the whole run */
    CU_ASSERT(n > 512 && n <= 1024);
    if (n > 2) {
        CU_ASSERT(p[0].step == 10 && p[1].step == 50);
        CU_ASSERT(p[n - 1].step > 25900);
        for (size_t i = 1; i < n; i++)
            CU_ASSERT(p[i].step - p[i - 1].step == 40);
    }
    free(p);
    CU_ASSERT_EQUAL(pq_complete(ctx, "curve", t->id, t->token, 0.1, -1), PQ_OK);
    CU_ASSERT_EQUAL(state_of("curve", t->id), PQ_TRIAL_COMPLETED);
    pq_trial_free(t);
}

/* strict, minimize: at band 2, a trial worse than the value ranked
 * int(count / 3) stops; before a band nothing stops. */
static void test_hyperband_strict(void)
{
    const double a[] = {1.0, 0.5}, b[] = {9.0, 3.0}, c[] = {0.9, 0.4};
    pq_trial *ta, *tb, *tc;
    int stop = 0;

    CU_ASSERT_EQUAL_FATAL(make_sweep("hb", (rule){.minimize = 1,
                                                  .bands = {2, 6},
                                                  .n_bands = 2,
                                                  .eta = 3,
                                                  .strict = 1}),
                          PQ_OK);
    ta = claim("hb", "a");
    tb = claim("hb", "b");
    tc = claim("hb", "c");
    CU_ASSERT_EQUAL(reports("hb", ta, a, 2), 0);
    CU_ASSERT_EQUAL(reports("hb", tb, b, 1), 0); /* no band reached yet */
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "hb", tb->id, tb->token, 2, 3.0, -1, &stop), PQ_OK);
    CU_ASSERT_EQUAL(stop, 1); /* 3.0 worse than 0.5 */
    CU_ASSERT(CLI_IS("1", "HGET", "protein:{hb}:trial:2", "stop_requested"));
    CU_ASSERT_EQUAL(reports("hb", tc, c, 2), 0); /* 0.4 beats rank 1: 0.5 */
    CU_ASSERT(CLI_IS("3", "ZCARD", "protein:{hb}:milestone:1"));
    /* stopped: its outcome is recorded as pruned */
    CU_ASSERT_EQUAL(pq_complete(ctx, "hb", tb->id, tb->token, 3.0, -1), PQ_OK);
    CU_ASSERT_EQUAL(state_of("hb", tb->id), PQ_TRIAL_PRUNED);
    /* report 3 of a: still judged at band 2 by its value there (0.5, the
     * value ranked 1 of 0.4, 0.5, 3.0: not worse) */
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "hb", ta->id, ta->token, 3, 7.0, -1, &stop), PQ_OK);
    CU_ASSERT_EQUAL(stop, 0);
    CU_ASSERT_EQUAL(pq_complete(ctx, "hb", ta->id, ta->token, 0.5, -1), PQ_OK);
    CU_ASSERT_EQUAL(state_of("hb", ta->id), PQ_TRIAL_COMPLETED);
    /* deleting the sweep removes its band records */
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "hb", OWNER), PQ_OK);
    CU_ASSERT(CLI_IS("0", "EXISTS", "protein:{hb}:milestone:1"));
    pq_trial_free(ta);
    pq_trial_free(tb);
    pq_trial_free(tc);
}

/* not strict, maximize: a trial is judged by its best value so far. */
static void test_hyperband_best(void)
{
    const double a[] = {1.0, 2.0}, c[] = {0.2, 0.5}, b[] = {5.0, 0.0};
    pq_trial *ta, *tb, *tc;

    CU_ASSERT_EQUAL_FATAL(make_sweep("hbmax", (rule){.minimize = 0,
                                                     .bands = {2},
                                                     .n_bands = 1,
                                                     .eta = 3,
                                                     .strict = 0}),
                          PQ_OK);
    ta = claim("hbmax", "a");
    tc = claim("hbmax", "c");
    tb = claim("hbmax", "b");
    CU_ASSERT_EQUAL(reports("hbmax", ta, a, 2), 0);
    CU_ASSERT_EQUAL(reports("hbmax", tc, c, 2), 1); /* best 0.5 < 2.0 */
    /* at band 2 its value (0) is the worst, but its best (5) is not */
    CU_ASSERT_EQUAL(reports("hbmax", tb, b, 2), 0);
    pq_trial_free(ta);
    pq_trial_free(tb);
    pq_trial_free(tc);
}

/* A new run of a trial (pq_progress_restart) starts its record over: its
 * report count, best, curve and band records; a report without the
 * restart flag goes on counting. */
static void test_restart(void)
{
    const double a[] = {1.0, 0.5}, b[] = {0.1, 0.2, 0.3};
    /* FCALL protein_progress with trial 2's token (set below), step 3,
     * score 1, no cost and restart "2" */
    const char *bad[] = {"FCALL", "protein_progress",
                         "1",     "protein:{rs}:meta",
                         "2",     NULL,
                         "3",     "1",
                         "",      "2",
                         NULL};
    pq_trial *ta, *tb;
    char *text = NULL, *out;
    long n = 0;
    int stop = 0;

    CU_ASSERT_EQUAL_FATAL(make_sweep("rs", (rule){.minimize = 1,
                                                  .bands = {2},
                                                  .n_bands = 1,
                                                  .eta = 3,
                                                  .strict = 1}),
                          PQ_OK);
    ta = claim("rs", "a");
    tb = claim("rs", "b");
    CU_ASSERT_EQUAL(reports("rs", ta, a, 2), 0);
    CU_ASSERT_EQUAL(reports("rs", tb, b, 3), 0);
    CU_ASSERT(CLI_IS("0.20000000000000001", "ZSCORE",
                     "protein:{rs}:milestone:1", "2"));
    CU_ASSERT_EQUAL(
        pq_progress_restart(ctx, "rs", tb->id, tb->token, 1, 9.0, -1, &stop),
        PQ_OK);
    CU_ASSERT_EQUAL(stop, 0); /* report 1 of the new run: before any band */
    CU_ASSERT(CLI_IS("", "ZSCORE", "protein:{rs}:milestone:1", "2"));
    CU_ASSERT(CLI_IS("9", "HGET", "protein:{rs}:trial:2", "progress_best"));
    CU_ASSERT_EQUAL(pq_trial_curve(ctx, "rs", tb->id, &text, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_STRING_EQUAL(text ? text : "", "1 9 -\n");
    free(text);
    /* its second report is judged at band 2 again: 9.5 against 0.5 */
    CU_ASSERT_EQUAL(
        pq_progress(ctx, "rs", tb->id, tb->token, 2, 9.5, -1, &stop), PQ_OK);
    CU_ASSERT_EQUAL(stop, 1);
    /* a restart flag that is neither 0 nor 1 is refused, nothing written */
    bad[5] = tb->token;
    out = redis_harness_cli(&server, bad);
    CU_ASSERT(out == NULL || strstr(out, "restart must be 0 or 1"));
    free(out);
    CU_ASSERT(CLI_IS("2", "HGET", "protein:{rs}:trial:2", "progress_n"));
    pq_trial_free(ta);
    pq_trial_free(tb);
}

/* metric.target: the trial that reaches it stops the sweep; no claims
 * after it, running trials still finish. */
static void test_target(void)
{
    pq_trial *a, *b, *c, *d = NULL;
    pq_claim_request q = {.claim_key = "d",
                          .uid = OWNER,
                          .job_id = "1",
                          .array_index = -1,
                          .node = "n"};
    char *why;

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("tgt",
                   (rule){.minimize = 1, .has_target = 1, .target = 0.2}),
        PQ_OK);
    a = claim("tgt", "a");
    b = claim("tgt", "b");
    c = claim("tgt", "c");
    CU_ASSERT_EQUAL(pq_complete(ctx, "tgt", a->id, a->token, 0.3, -1), PQ_OK);
    CU_ASSERT(CLI_IS("active", "HGET", "protein:{tgt}:meta", "state"));
    CU_ASSERT_EQUAL(pq_complete(ctx, "tgt", b->id, b->token, 0.2, -1), PQ_OK);
    CU_ASSERT(CLI_IS("stopped", "HGET", "protein:{tgt}:meta", "state"));
    why = redis_harness_cli_line(
        &server, (const char *const[]){"HGET", "protein:{tgt}:meta",
                                       "stopped_by", NULL});
    CU_ASSERT_STRING_EQUAL(why,
                           "trial 2 reached the target 0.20000000000000001");
    free(why);
    CU_ASSERT_EQUAL(pq_claim(ctx, "tgt", &q, &d), PQ_ESTOPPED);
    CU_ASSERT_EQUAL(pq_complete(ctx, "tgt", c->id, c->token, 0.9, -1), PQ_OK);
    CU_ASSERT_EQUAL(state_of("tgt", c->id), PQ_TRIAL_COMPLETED);
    pq_trial_free(a);
    pq_trial_free(b);
    pq_trial_free(c);
    pq_trial_free(d);

    CU_ASSERT_EQUAL_FATAL(
        make_sweep("tgtmax", (rule){.has_target = 1, .target = 10}), PQ_OK);
    a = claim("tgtmax", "a");
    CU_ASSERT_EQUAL(pq_fail(ctx, "tgtmax", a->id, a->token, 1, "x"), PQ_OK);
    CU_ASSERT(CLI_IS("active", "HGET", "protein:{tgtmax}:meta", "state"));
    pq_trial_free(a);
    a = claim("tgtmax", "b");
    CU_ASSERT_EQUAL(pq_complete(ctx, "tgtmax", a->id, a->token, 12, -1), PQ_OK);
    CU_ASSERT(CLI_IS("stopped", "HGET", "protein:{tgtmax}:meta", "state"));
    pq_trial_free(a);
}

/* Malformed stored values and arguments: refused, nothing written. */
static void test_damaged(void)
{
    const char *bad_create[] = {"FCALL",
                                "protein_create",
                                "2",
                                "protein:{raw}:meta",
                                "protein:sweeps",
                                "raw",
                                "",
                                "score",
                                "cost",
                                "1",
                                "0",
                                "1",
                                "0",
                                "60",
                                "0",
                                "",
                                "1 1 2",
                                "{}",
                                NULL};
    char *big, *out;
    pq_trial *t;
    int stop = 0;

    /* eta 1 is no rule: refused by the client and by the function */
    CU_ASSERT_EQUAL(
        make_sweep("eta1", (rule){.bands = {2}, .n_bands = 1, .eta = 1}),
        PQ_EINVAL);
    out = redis_harness_cli(&server, bad_create);
    CU_ASSERT(out == NULL || strstr(out, "hyperband") != NULL);
    free(out);
    CU_ASSERT(CLI_IS("0", "EXISTS", "protein:{raw}:meta"));

    CU_ASSERT_EQUAL_FATAL(make_sweep("dmg", (rule){.minimize = 1,
                                                   .bands = {2},
                                                   .n_bands = 1,
                                                   .eta = 3,
                                                   .strict = 1,
                                                   .has_target = 1,
                                                   .target = 0}),
                          PQ_OK);
    t = claim("dmg", "a");
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", t->id, t->token, 1, 1, -1, &stop),
                    PQ_OK);
    /* a report count that is not a number */
    CLI("HSET", "protein:{dmg}:trial:1", "progress_n", "x");
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", t->id, t->token, 2, 1, -1, &stop),
                    PQ_EPROTO);
    CU_ASSERT(CLI_IS("1", "HGET", "protein:{dmg}:trial:1", "progress_step"));
    CLI("HSET", "protein:{dmg}:trial:1", "progress_n", "1");
    /* a curve longer than any protein keeps */
    big = malloc(100000);
    memset(big, '1', 99999);
    big[99999] = '\0';
    CLI("HSET", "protein:{dmg}:trial:1", "curve", big);
    free(big);
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", t->id, t->token, 2, 1, -1, &stop),
                    PQ_EPROTO);
    CLI("HSET", "protein:{dmg}:trial:1", "curve", "1 1 -\n");
    /* a band record of the wrong type */
    CLI("SET", "protein:{dmg}:milestone:1", "x");
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", t->id, t->token, 2, 1, -1, &stop),
                    PQ_EPROTO);
    CU_ASSERT(CLI_IS("1", "HGET", "protein:{dmg}:trial:1", "progress_n"));
    CLI("DEL", "protein:{dmg}:milestone:1");
    /* a hyperband rule that is not one */
    CLI("HSET", "protein:{dmg}:meta", "hyperband", "3 1 9 2");
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", t->id, t->token, 2, 1, -1, &stop),
                    PQ_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "hyperband"));
    CLI("HSET", "protein:{dmg}:meta", "hyperband", "3 1 2");
    CU_ASSERT_EQUAL(pq_progress(ctx, "dmg", t->id, t->token, 2, 1, -1, &stop),
                    PQ_OK);
    /* a target that is not a number: the outcome is refused, the trial
     * still running */
    CLI("HSET", "protein:{dmg}:meta", "target", "soon");
    CU_ASSERT_EQUAL(pq_complete(ctx, "dmg", t->id, t->token, 1, -1), PQ_EPROTO);
    CU_ASSERT_EQUAL(state_of("dmg", t->id), PQ_TRIAL_RUNNING);
    CLI("HSET", "protein:{dmg}:meta", "target", "0");
    CU_ASSERT_EQUAL(pq_complete(ctx, "dmg", t->id, t->token, 1, -1), PQ_OK);
    CU_ASSERT(CLI_IS("active", "HGET", "protein:{dmg}:meta", "state"));
    pq_trial_free(t);
}

static const cunit_test tests[] = {
    {"hyperband bands as W&B makes them", test_bands},
    {"curve text parsed, malformed refused", test_curve_parse},
    {"curve kept per trial, bounded", test_curve_kept},
    {"hyperband strict, minimize", test_hyperband_strict},
    {"hyperband on the best so far, maximize", test_hyperband_best},
    {"a new run of a trial starts its record over", test_restart},
    {"metric.target stops the sweep", test_target},
    {"damaged store: nothing half-written", test_damaged},
};

int main(void)
{
    if (system("redis-server --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: redis-server not found\n");
        return 77;
    }
    return cunit_run_suite_fixture("stopping", suite_init, suite_clean, tests,
                                   CUNIT_COUNT(tests));
}
