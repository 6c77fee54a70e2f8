/*
 * test_hostile.c - a corrupted store and hostile input harm nothing:
 * against a private redis-server (tests/common/redis_harness.h), values
 * planted behind the library's back are rejected with a message, no trial
 * is left running because of them, and Redis URLs never show a password.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cunit_run.h"
#include "protein_queue.h"
#include "queue_suite.h"

#define OWNER 1000

static redis_harness server;
static pq_context *ctx;
static redisContext *raw; /* plants what the library would never write */

/* {"lr": 0.5, "layers": 2} */
static pq_params point(void)
{
    pq_params p = {2, calloc(2, sizeof(pq_param))};
    p.items[0] = (pq_param){.name = strdup("lr"), .number = 0.5};
    p.items[1] =
        (pq_param){.name = strdup("layers"), .is_integer = 1, .number = 2};
    return p;
}

static void make_sweep(const char *name)
{
    pq_params fb = point();
    pq_sweep_spec spec = {.name = name,
                          .config_yaml = "metric: score\n",
                          .owner_uid = OWNER,
                          .fallback = &fb,
                          .n_fallback = 1};
    CU_ASSERT_EQUAL_FATAL(pq_sweep_create(ctx, &spec), PQ_OK);
    pq_params_free(&fb);
}

static pq_trial *claim(const char *sweep, const char *key, int *rc)
{
    pq_claim_request r = {.claim_key = key, .uid = OWNER, .array_index = -1};
    pq_trial *t = NULL;
    *rc = pq_claim(ctx, sweep, &r, &t);
    return t;
}

/* Runs a command given as a format on the raw connection; 0 unless it
 * failed or the server answered an error. */
static int plant(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(raw, fmt, ap);
    va_end(ap);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

/* The status field of a trial hash, read raw ("" when absent). */
static void raw_status(const char *sweep, long id, char *buf, size_t len)
{
    redisReply *r =
        redisCommand(raw, "HGET protein:{%s}:trial:%ld status", sweep, id);
    snprintf(buf, len, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
    if (r)
        freeReplyObject(r);
}

/* ------------------------------------------------------------ tests */

/* A queue entry whose params JSON cannot be decoded: the claim fails with
 * a message, the trial it took is recorded as failed (not left running),
 * and the next claim gets a good point. This path once read the freed
 * trial (use-after-free). */
static void test_undecodable_claim(void)
{
    /* msgpack ["{bad", "\x80"]: a valid entry around an invalid JSON. */
    static const char entry[] = "\x92\xa4{bad\xa1\x80";
    char status[32];
    int rc;
    make_sweep("badq");
    CU_ASSERT_EQUAL_FATAL(
        plant("RPUSH protein:{badq}:queue %b", entry, sizeof entry - 1), 0);
    pq_trial *t = claim("badq", "job1", &rc);
    CU_ASSERT_EQUAL(rc, PQ_EPROTO);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "trial 1 of sweep 'badq'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "parameters"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "recorded the trial as failed"));
    raw_status("badq", 1, status, sizeof status);
    CU_ASSERT_STRING_EQUAL(status, "failed");
    pq_sweep_info *info = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_sweep_get(ctx, "badq", &info), PQ_OK);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_RUNNING], 0);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_FAILED], 1);
    pq_sweep_info_free(info);

    t = claim("badq", "job2", &rc);
    CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
    CU_ASSERT_EQUAL(t->id, 2);
    CU_ASSERT_EQUAL(t->params.n, 2);
    pq_trial_free(t);
}

/* One malformed trial hash is left out of a listing and counted, with the
 * field named; reading it alone says what is wrong with it. */
static void test_malformed_hash_skipped(void)
{
    pq_trial_record *arr = NULL, *one = NULL;
    size_t n = 0, skipped = 0;
    int rc;
    make_sweep("badh");
    for (int i = 0; i < 4; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        pq_trial *t = claim("badh", key, &rc);
        CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
        pq_trial_free(t);
    }
    CU_ASSERT_EQUAL_FATAL(plant("HSET protein:{badh}:trial:2 params {\"lr\":"),
                          0);
    CU_ASSERT_EQUAL_FATAL(plant("HSET protein:{badh}:trial:3 score nan"), 0);
    CU_ASSERT_EQUAL_FATAL(plant("HSET protein:{badh}:trial:4 status bogus"), 0);

    CU_ASSERT_EQUAL_FATAL(pq_trial_list(ctx, "badh", -1, &arr, &n, &skipped),
                          PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(skipped, 3);
    CU_ASSERT_EQUAL(arr[0].id, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "trial 4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "status"));
    pq_trial_records_free(arr, n);

    CU_ASSERT_EQUAL(pq_trial_get(ctx, "badh", 2, &one), PQ_EPROTO);
    CU_ASSERT_PTR_NULL(one);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "params"));
    CU_ASSERT_EQUAL(pq_trial_get(ctx, "badh", 3, &one), PQ_EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "score"));
    CU_ASSERT_EQUAL_FATAL(pq_trial_get(ctx, "badh", 1, &one), PQ_OK);
    CU_ASSERT_EQUAL(one->id, 1);
    pq_trial_record_free(one);
}

/* A trial key that holds a string, not a hash: listings leave it out and
 * count it, reading it alone names the key, and the pending points of a
 * refill skip it, where each of these used to fail whole on WRONGTYPE. */
static void test_wrong_type_trial_skipped(void)
{
    pq_trial_record *arr = NULL, *one = NULL;
    pq_params *pts = NULL;
    size_t n = 0, skipped = 0;
    int rc;
    make_sweep("badt");
    for (int i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "t%d", i);
        pq_trial *t = claim("badt", key, &rc);
        CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
        pq_trial_free(t);
    }
    CU_ASSERT_EQUAL_FATAL(plant("DEL protein:{badt}:trial:2"), 0);
    CU_ASSERT_EQUAL_FATAL(plant("SET protein:{badt}:trial:2 x"), 0);

    CU_ASSERT_EQUAL_FATAL(pq_trial_list(ctx, "badt", -1, &arr, &n, &skipped),
                          PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(skipped, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr,
                                  "trial 2: key protein:{badt}:trial:2 holds a "
                                  "string, not a hash"));
    pq_trial_records_free(arr, n);
    CU_ASSERT_EQUAL(pq_trial_get(ctx, "badt", 2, &one), PQ_EPROTO);
    CU_ASSERT_PTR_NULL(one);
    CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "protein:{badt}:trial:2"));
    CU_ASSERT_EQUAL(pq_running_points(ctx, "badt", &pts, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    pq_params_array_free(pts, n);
}

/* A damaged fallback entry and no coordinator: the claim fails naming the
 * entry and its key, where it used to answer "empty" and leave `protein
 * agent` waiting for ever; no trial is spent, and the pool's cursor moves
 * on, so that the next claim takes the next point. */
static void test_damaged_fallback_named(void)
{
    redisReply *good;
    char n_trials[32];
    int rc;
    make_sweep("badfb");
    good = redisCommand(raw, "LINDEX protein:{badfb}:fallback 0");
    CU_ASSERT_FATAL(good && good->type == REDIS_REPLY_STRING);
    CU_ASSERT_EQUAL_FATAL(
        plant("RPUSH protein:{badfb}:fallback %b", good->str, good->len), 0);
    CU_ASSERT_EQUAL_FATAL(plant("LSET protein:{badfb}:fallback 0 x"), 0);
    pq_trial *t = claim("badfb", "f1", &rc);
    CU_ASSERT_EQUAL(rc, PQ_EPROTO);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(ctx->errstr, "entry 0 of key protein:{badfb}:fallback"));
    redisReply *r = redisCommand(raw, "HGET protein:{badfb}:meta n_trials");
    snprintf(n_trials, sizeof n_trials, "%s",
             r && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    CU_ASSERT_STRING_EQUAL(n_trials, "0");
    t = claim("badfb", "f2", &rc);
    CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
    CU_ASSERT_EQUAL(t->id, 1);
    CU_ASSERT_TRUE(t->fallback);
    pq_trial_free(t);
    freeReplyObject(good);
}

/* A meta whose n_trials claims far more trials than exist: the listing
 * ends at the first chunk without any instead of paging for hours. */
static void test_listing_ends_at_last_trial(void)
{
    pq_trial_record *arr = NULL;
    size_t n = 0, skipped = 0;
    int rc;
    make_sweep("many");
    for (int i = 0; i < 2; i++) {
        pq_trial *t = claim("many", i ? "m1" : "m0", &rc);
        CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
        pq_trial_free(t);
    }
    CU_ASSERT_EQUAL_FATAL(
        plant("HSET protein:{many}:meta n_trials 900000000000"), 0);
    CU_ASSERT_EQUAL(pq_trial_list(ctx, "many", -1, &arr, &n, &skipped), PQ_OK);
    CU_ASSERT_EQUAL(n, 2);
    pq_trial_records_free(arr, n);
}

/* A running trial whose stored params are damaged is left out of the
 * pending points instead of stopping every refill of the sweep. */
static void test_pending_point_skipped(void)
{
    pq_params *pts = NULL;
    size_t n = 0;
    int rc;
    make_sweep("badp");
    for (int i = 0; i < 2; i++) {
        pq_trial *t = claim("badp", i ? "p1" : "p0", &rc);
        CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
        pq_trial_free(t);
    }
    CU_ASSERT_EQUAL_FATAL(plant("HSET protein:{badp}:trial:1 params [1,2]"), 0);
    CU_ASSERT_EQUAL(pq_running_points(ctx, "badp", &pts, &n), PQ_OK);
    CU_ASSERT_EQUAL(n, 1);
    pq_params_array_free(pts, n);
}

/* A key of the wrong type under the sweep: whatever the function makes
 * of it, the message names the function or the damage, never a raw
 * server or Lua error. */
static void test_no_raw_server_error(void)
{
    long depth = 0;
    make_sweep("wrongtype");
    CU_ASSERT_EQUAL_FATAL(plant("SET protein:{wrongtype}:queue x"), 0);
    CU_ASSERT_EQUAL(pq_queue_depth(ctx, "wrongtype", &depth), PQ_EPROTO);
    CU_ASSERT(strncmp(ctx->errstr, "WRONGTYPE", 9) != 0 &&
              strncmp(ctx->errstr, "ERR", 3) != 0);
    CU_ASSERT(strstr(ctx->errstr, "protein_depth") != NULL ||
              strstr(ctx->errstr, "damaged") != NULL);
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "wrongtype", 0), PQ_OK);
}

/* A sweep key of the wrong type that the sweep's snapshot reads (what
 * status, trials, best and proteind read first): the error names the key,
 * not only the function that met it. */
static void test_info_names_wrong_key(void)
{
    static const char *const sfx[] = {"retry", "config", "meta"};
    pq_sweep_info *info = NULL;
    char name[16], key[64];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(name, sizeof name, "wrongkey%zu", i);
        make_sweep(name);
        snprintf(key, sizeof key, "protein:{%s}:%s", name, sfx[i]);
        CU_ASSERT_EQUAL_FATAL(plant("DEL %s", key), 0);
        CU_ASSERT_EQUAL_FATAL(plant("SADD %s x", key), 0);
        CU_ASSERT_EQUAL(pq_sweep_get(ctx, name, &info), PQ_EPROTO);
        CU_ASSERT_PTR_NULL(info);
        CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, key));
        CU_ASSERT_PTR_NOT_NULL(strstr(ctx->errstr, "'set'"));
        CU_ASSERT_PTR_NULL(strstr(ctx->errstr, "WRONGTYPE"));
    }
}

/* An observations stream whose last ID is the largest (its owner may
 * XADD one, MAXLEN 0 even leaving it empty) takes no entry: the outcome
 * is still recorded whole and a lease that ran out still ends, where the
 * failed XADD once aborted the function after its first writes (a
 * completion answered with a raw server error; an expired trial left
 * running with no lease, which nothing ended again). */
static void test_exhausted_observations(void)
{
    char status[32];
    long expired = 0;
    int rc;
    make_sweep("exhausted");
    pq_trial *a = claim("exhausted", "job1", &rc);
    CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
    pq_trial *b = claim("exhausted", "job2", &rc);
    CU_ASSERT_EQUAL_FATAL(rc, PQ_OK);
    CU_ASSERT_EQUAL_FATAL(
        plant("XADD protein:{exhausted}:observations MAXLEN 0 "
              "18446744073709551615-18446744073709551615 m x"),
        0);
    CU_ASSERT_EQUAL(pq_complete(ctx, "exhausted", a->id, a->token, 0.5, 1),
                    PQ_OK);
    raw_status("exhausted", a->id, status, sizeof status);
    CU_ASSERT_STRING_EQUAL(status, "completed");
    CU_ASSERT_EQUAL_FATAL(plant("ZADD protein:{exhausted}:leases 1 %ld", b->id),
                          0);
    CU_ASSERT_EQUAL(pq_expire_leases(ctx, "exhausted", &expired), PQ_OK);
    CU_ASSERT_EQUAL(expired, 1);
    raw_status("exhausted", b->id, status, sizeof status);
    CU_ASSERT_STRING_EQUAL(status, "lost");
    pq_trial_free(a);
    pq_trial_free(b);
}

/* A password in the URL is refused, and no message shows it. */
static void test_url_password(void)
{
    char url[128], shown[128];
    snprintf(url, sizeof url, "redis://alice:s3cret@127.0.0.1:%d", server.port);
    pq_connect_options o = {
        .url = url, .connect_timeout_ms = 500, .command_timeout_ms = 500};
    pq_context *c = pq_connect(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->err, PQ_EINVAL);
    CU_ASSERT_PTR_NULL(strstr(c->errstr, "s3cret"));
    CU_ASSERT_PTR_NULL(strstr(c->url, "s3cret"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, "redis://alice:***@127.0.0.1"));
    char want[400];
    snprintf(want, sizeof want,
             "Redis URL 'redis://alice:***@127.0.0.1:%d' carries a password: "
             "protein never takes one from a URL (it would show in job "
             "environments and logs); put it in a file only you can read and "
             "pass that file (--password-file, password_file=) or set "
             "PROTEIN_REDIS_PASSWORD",
             server.port);
    CU_ASSERT_STRING_EQUAL(c->errstr, want);
    pq_free(c);

    /* However long the URL, the advice reaches the user whole. */
    char long_url[3000];
    int n = snprintf(long_url, sizeof long_url, "redis://");
    memset(long_url + n, 'u', 2000);
    snprintf(long_url + n + 2000, sizeof long_url - (size_t)n - 2000,
             ":s3cret@127.0.0.1:%d", server.port);
    o.url = long_url;
    c = pq_connect(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->err, PQ_EINVAL);
    const char *tail = "or set PROTEIN_REDIS_PASSWORD";
    size_t len = strlen(c->errstr);
    CU_ASSERT(len > strlen(tail) &&
              strcmp(c->errstr + len - strlen(tail), tail) == 0);
    pq_free(c);

    /* A password holding '/' or '@' is refused and hidden whole (it was
     * read as the port, and the message showed it). */
    const char *odd[] = {"zq/x9", "zq@x9", "zq/x@9?y#"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        snprintf(url, sizeof url, "redis://alice:%s@127.0.0.1:%d/1", odd[i],
                 server.port);
        o.url = url;
        c = pq_connect(&o);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(c->err, PQ_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, "carries a password"));
        CU_ASSERT_PTR_NULL(strstr(c->errstr, "x9"));
        CU_ASSERT_PTR_NULL(strstr(c->errstr, "zq"));
        CU_ASSERT_PTR_NOT_NULL(strstr(c->url, "redis://alice:***@127.0.0.1:"));
        pq_free(c);
    }
    CU_ASSERT_EQUAL(pq_url_redact("redis://u:p@ss@h:1", shown, sizeof shown),
                    1);
    CU_ASSERT_STRING_EQUAL(shown, "redis://u:***@h:1");
    CU_ASSERT_EQUAL(pq_url_redact("redis://:pw@h:1/2", shown, sizeof shown), 1);
    CU_ASSERT_STRING_EQUAL(shown, "redis://:***@h:1/2");
    CU_ASSERT_EQUAL(pq_url_redact("redis://u@h:1", shown, sizeof shown), 0);
    CU_ASSERT_STRING_EQUAL(shown, "redis://u@h:1");
    CU_ASSERT_EQUAL(
        pq_url_redact("unix:///run/redis.sock", shown, sizeof shown), 0);
    CU_ASSERT_STRING_EQUAL(shown, "unix:///run/redis.sock");
    /* Cut short, the password still never shows. */
    CU_ASSERT_EQUAL(pq_url_redact("redis://user:longsecret@h", shown, 16), -1);
    CU_ASSERT_PTR_NULL(strstr(shown, "long"));
}

/* A server that stops answering: the message says it timed out and after
 * how long, not "Resource temporarily unavailable". */
static void test_timeout_message(void)
{
    pq_connect_options o = {.url = server.url,
                            .connect_timeout_ms = 300,
                            .command_timeout_ms = 300};
    pq_context *c = pq_connect(&o);
    CU_ASSERT_EQUAL_FATAL(c->err, PQ_OK);
    CU_ASSERT_EQUAL_FATAL(redis_harness_freeze(&server), 0);
    int rc = pq_sweep_exists(c, "badq");
    redis_harness_thaw(&server);
    CU_ASSERT_EQUAL(rc, PQ_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, "did not answer"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, "within 300 ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c->errstr, server.url));
    CU_ASSERT_PTR_NULL(strstr(c->errstr, "temporarily"));
    /* Said once: the URL is not repeated. */
    const char *first = strstr(c->errstr, "Redis at");
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_NULL(strstr(first + 1, "Redis at"));
    pq_free(c);
}

static int suite_init(void)
{
    if (queue_suite_open(&server, &ctx) != 0)
        return -1;
    raw = redisConnect("127.0.0.1", server.port);
    return raw && !raw->err ? 0 : -1;
}

static int suite_clean(void)
{
    if (raw)
        redisFree(raw);
    queue_suite_close(&server, ctx);
    return 0;
}

static const cunit_test tests[] = {
    {"undecodable claim fails its trial", test_undecodable_claim},
    {"malformed trial hash skipped and counted", test_malformed_hash_skipped},
    {"wrong-typed trial key skipped", test_wrong_type_trial_skipped},
    {"a damaged fallback entry is named", test_damaged_fallback_named},
    {"listing ends at the last trial", test_listing_ends_at_last_trial},
    {"damaged pending point skipped", test_pending_point_skipped},
    {"no raw server error", test_no_raw_server_error},
    {"a wrong-typed key is named", test_info_names_wrong_key},
    {"an exhausted observations stream", test_exhausted_observations},
    {"URL password refused and redacted", test_url_password},
    {"timeout message", test_timeout_message},
};

int main(void)
{
    if (system("redis-server --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: redis-server not found\n");
        return 77;
    }
    return cunit_run_suite_fixture("hostile", suite_init, suite_clean, tests,
                                   CUNIT_COUNT(tests));
}
