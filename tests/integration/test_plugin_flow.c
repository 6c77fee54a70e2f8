/*
 * test_plugin_flow.c - the plugin's slurmstepd entry points in the order
 * slurmstepd calls them (init, option, init_post_opt, user_init, task_init,
 * task_exit, exit), with the spank_* functions stubbed
 * (test_plugin_stub.c) and a real private redis-server
 * (tests/common/redis_harness.h): claim, export, outcome, requeue, srun
 * steps inside a job, Redis down, jobs without --sweep, claims refused
 * (deleted, stopped, paused, spent sweeps), a result file that cannot
 * be created and result files planted by another user. Skips (77) when
 * redis-server is missing.
 */
#include "config.h"

#include <dirent.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "cunit_run.h"
#include "protein_clock.h"
#include "protein_queue.h"
#include "redis_harness.h"
#include "spank_protein.h"
#include "test_plugin_stub.h"

static redis_harness harness;
static char tmpdir[256];
static char arg_redis[128], arg_result_dir[300];

/* "USER/name", USER the test's login name: what the plugin makes of a
 * bare --sweep=name for a job of this user (rotating static buffers). */
static const char *q(const char *name)
{
    static char buf[4][160];
    static int next;
    struct passwd *pw = getpwuid(getuid());
    char *b = buf[next++ % 4];

    snprintf(b, sizeof(buf[0]), "%s/%s", pw ? pw->pw_name : "?", name);
    return b;
}

/* before, q(name) and after, joined in a static buffer. */
static const char *want_q(const char *before, const char *name,
                          const char *after)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s%s%s", before, q(name), after);
    return buf;
}

/* Creates sweep `name` with two fallback points ({"lr": 0.1}, {"lr": 0.2})
 * and a budget of max_trials (<= 0: none). */
static int create_sweep_budget(const char *name, long max_trials)
{
    pq_connect_options o;
    pq_context *ctx;
    pq_param p[2];
    pq_params points[2];
    pq_sweep_spec spec;
    int rc, i;

    memset(&o, 0, sizeof(o));
    o.url = harness.url;
    ctx = pq_connect(&o);
    if (ctx == NULL || ctx->err != PQ_OK)
        return -1;
    for (i = 0; i < 2; i++) {
        memset(&p[i], 0, sizeof(p[i]));
        p[i].name = "lr";
        p[i].number = 0.1 * (i + 1);
        points[i].n = 1;
        points[i].items = &p[i];
    }
    memset(&spec, 0, sizeof(spec));
    spec.name = q(name);
    spec.config_yaml = "name: test\n";
    spec.owner_uid = (long)getuid();
    spec.fallback = points;
    spec.n_fallback = 2;
    spec.max_trials = max_trials;
    rc = pq_sweep_create(ctx, &spec);
    pq_free(ctx);
    return rc;
}

static int create_sweep(const char *name)
{
    return create_sweep_budget(name, 0);
}

/* 1 when the plugin exported name=value. */
static int env_is(const char *name, const char *value)
{
    const char *v = plugin_stub_env(name);

    return v != NULL && strcmp(v, value) == 0;
}

/* The trial's record (caller frees), or NULL. */
static pq_trial_record *trial(const char *sweep, long id)
{
    pq_connect_options o;
    pq_context *ctx;
    pq_trial_record *r = NULL;

    memset(&o, 0, sizeof(o));
    o.url = harness.url;
    ctx = pq_connect(&o);
    if (ctx != NULL && ctx->err == PQ_OK)
        pq_trial_get(ctx, q(sweep), id, &r);
    pq_free(ctx);
    return r;
}

/* A step (step_id) of array task 3 of job 500 in slurmstepd, with
 * --sweep=sweep (NULL: none) and the plugstack arguments av[0..ac). */
static void start_step_av(const char *sweep, uint32_t job_id, uint32_t step_id,
                          int ac, char **av)
{
    plugin_stub_reset();
    plugin_stub.context = S_CTX_REMOTE;
    plugin_stub.job_id = job_id;
    plugin_stub.step_id = step_id;
    plugin_stub.array_job_id = 500;
    plugin_stub.array_task_id = 3;
    plugin_stub.tasks = 1;
    plugin_stub.uid = getuid();
    plugin_stub.gid = getgid();
    CU_ASSERT_EQUAL(slurm_spank_init(NULL, ac, av), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub.option);
    if (sweep != NULL)
        CU_ASSERT_EQUAL(plugin_stub.option->cb(0, sweep, 1), 0);
}

/* start_step_av with the given redis and result_dir arguments. */
static void start_step_in(const char *sweep, const char *redis_arg,
                          const char *result_dir_arg, uint32_t job_id,
                          uint32_t step_id)
{
    char *av[4];

    av[0] = (char *)redis_arg;
    av[1] = (char *)result_dir_arg;
    av[2] = "claim_timeout=0";
    av[3] = "connect_timeout=300";
    start_step_av(sweep, job_id, step_id, 4, av);
}

/* start_step_in with the test's result directory. */
static void start_step(const char *sweep, const char *redis_arg,
                       uint32_t job_id, uint32_t step_id)
{
    start_step_in(sweep, redis_arg, arg_result_dir, job_id, step_id);
}

static void test_claim_complete(void)
{
    const char *result;
    char want[400];
    pq_trial_record *r;
    FILE *f;

    start_step("flow", arg_redis, 501, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub_env("PROTEIN_TRIAL"));
    CU_ASSERT(env_is("PROTEIN_SWEEP", q("flow")));
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    CU_ASSERT(env_is("PROTEIN_PARAMS", "{\"lr\": 0.1}"));
    CU_ASSERT_PTR_NOT_NULL(plugin_stub_env("PROTEIN_PARAM_LR"));
    CU_ASSERT(env_is("PROTEIN_METRIC_KEY", "score"));
    CU_ASSERT(env_is("PROTEIN_COST_KEY", "cost"));
    CU_ASSERT_PTR_NOT_NULL(plugin_stub_env("PROTEIN_TOKEN"));
    result = plugin_stub_env("PROTEIN_RESULT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    snprintf(want, sizeof(want), "%s/protein-%ld/protein.500_3.", tmpdir,
             (long)getuid());
    CU_ASSERT_EQUAL(strncmp(result, want, strlen(want)), 0);
    CU_ASSERT_EQUAL(access(result, W_OK), 0);

    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(plugin_stub.last_log,
               want_q("protein: sweep ", "flow",
                      " trial 1 (fallback point): {\"lr\": 0.1}")));
    f = fopen(result, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.5\ncost=12\n", f);
    fclose(f);
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(access(result, F_OK), -1); /* read and removed */
    CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0);

    r = trial("flow", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT(r->has_score && r->score == 0.5);
    CU_ASSERT(r->has_cost && r->cost == 12);
    CU_ASSERT_STRING_EQUAL(r->claim_key, "500_3");
    CU_ASSERT_EQUAL(r->array_index, 3);
    pq_trial_record_free(r);
}

static void test_interrupt_and_requeue(void)
{
    pq_trial_record *r;

    plugin_stub_reset();
    CU_ASSERT_EQUAL(create_sweep("flow2"), PQ_OK);
    start_step("flow2", arg_redis, 601, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    /* scancel --batch --signal=KILL, requeue: this process is in no
     * memory cgroup of job 601's, so there is no out-of-memory count to
     * tell an OOM kill: interrupted, said at debug level only */
    plugin_stub.exit_status = SIGKILL;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(plugin_stub.last_debug, "no out-of-memory count"));
    CU_ASSERT_STRING_EQUAL(plugin_stub.last_error, "");
    r = trial("flow2", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_INTERRUPTED);
    pq_trial_record_free(r);

    /* The requeued task (new job id, same array task) resumes trial 1. */
    start_step("flow2", arg_redis, 602, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_log, "(resumed)"));
    plugin_stub.exit_status = 3 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
    r = trial("flow2", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_FAILED);
    CU_ASSERT_EQUAL(r->exit_status, 3);
    CU_ASSERT_EQUAL(r->attempts, 2);
    pq_trial_record_free(r);
}

static void test_srun_step_inside_job(void)
{
    start_step("flow", arg_redis, 501, 0);
    /* The batch step exported the trial into the job's environment. */
    spank_setenv(NULL, "PROTEIN_TRIAL", "1", 1);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(plugin_stub.n_env, 1); /* nothing exported */
    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    plugin_stub.exit_status = 1 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
}

static void test_no_sweep(void)
{
    start_step(NULL, arg_redis, 700, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(plugin_stub.n_env, 0);
    CU_ASSERT_EQUAL(plugin_stub.n_messages, 0);
    slurm_spank_exit(NULL, 0, NULL);
}

static int task_init_status(char *msg, size_t len);

/* Redis unreachable: init_post_opt and user_init still succeed (an error
 * there drains the node); the task fails in task_init with status 1. A
 * batch step asks for a requeue (on_redis_down=requeue), which this
 * process, without libslurm's API, cannot send: the message says so (the
 * requeue itself: test_chaos_e2e.sh). A step that is not the batch step
 * is never requeued; on_redis_down=fail says nothing of a requeue. */
static void test_redis_down(void)
{
    static const struct {
        const char *on_redis_down;
        uint32_t step;
        const char *says; /* NULL: no "requeued" in the message */
    } cases[] = {
        {"on_redis_down=requeue", SLURM_BATCH_SCRIPT,
         "; not requeued: slurmctld could not be asked about job 800"},
        {"on_redis_down=requeue", 0,
         "; not requeued: step 0 is not a batch step"},
        {"on_redis_down=fail", SLURM_BATCH_SCRIPT, NULL},
    };
    char msg[PLUGIN_STUB_MSG + 2];
    char *av[4] = {"redis=redis://127.0.0.1:1", NULL, "connect_timeout=300",
                   NULL};

    av[1] = arg_result_dir;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        av[3] = (char *)cases[i].on_redis_down;
        start_step_av("flow", 800, cases[i].step, 4, av);
        CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
        CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
        CU_ASSERT_EQUAL(plugin_stub.n_env, 0);
        CU_ASSERT_EQUAL(task_init_status(msg, sizeof(msg)), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "protein: cannot claim a trial of "
                                           "sweep 'flow': cannot connect to "
                                           "Redis at redis://127.0.0.1:1"));
        if (cases[i].says != NULL) {
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, cases[i].says));
        } else {
            CU_ASSERT_PTR_NULL(strstr(msg, "requeued"));
        }
        plugin_stub.exit_status = 1 << 8;
        CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
        slurm_spank_exit(NULL, 0, NULL);
    }
}

/* A node whose plugstack line has a redis= the plugin refuses (a password
 * in it, empty) logs it and goes on, as slurmstepd must; a --sweep step
 * then claims nothing, failing closed, rather than reach the default
 * Redis (the suite's Redis runs there only by chance; none is asked). */
static void test_redis_refused_fails_closed(void)
{
    static const char *const bad[] = {"redis=redis://u:pw@127.0.0.1:1",
                                      "redis="};
    char msg[PLUGIN_STUB_MSG + 2];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start_step("flow", bad[i], 810 + (uint32_t)i, SLURM_BATCH_SCRIPT);
        CU_ASSERT_PTR_NOT_NULL(
            strstr(plugin_stub.last_info, "plugstack argument redis: "));
        CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
        CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
        CU_ASSERT_EQUAL(plugin_stub.n_env, 0);
        CU_ASSERT_EQUAL(task_init_status(msg, sizeof(msg)), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, "a redis= that the plugin refused"));
        plugin_stub.exit_status = 1 << 8;
        CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
        slurm_spank_exit(NULL, 0, NULL);
    }
}

/* Runs task_init in a child, as slurmstepd would before exec. Returns its
 * exit status (-1 when it did not exit) with what it passed to
 * slurm_error in msg. */
static int task_init_status(char *msg, size_t len)
{
    int fds[2], status = 0;
    ssize_t got, total = 0;
    pid_t pid;

    msg[0] = '\0';
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        plugin_stub.error_fd = fds[1];
        slurm_spank_task_init(NULL, 0, NULL);
        _exit(0);
    }
    close(fds[1]);
    while (pid > 0 && (size_t)total + 1 < len &&
           (got = read(fds[0], msg + total, len - 1 - (size_t)total)) > 0)
        total += got;
    msg[total] = '\0';
    close(fds[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* Opens a connection to the test server (the test fails without one). */
static pq_context *connect_queue(void)
{
    pq_connect_options o;
    pq_context *ctx;

    memset(&o, 0, sizeof(o));
    o.url = harness.url;
    ctx = pq_connect(&o);
    CU_ASSERT_FATAL(ctx != NULL && ctx->err == PQ_OK);
    return ctx;
}

/* A claim that cannot be served: init_post_opt and user_init still
 * succeed (never drain the node), the task fails in task_init with status
 * 1 and a message naming the sweep and the cause; nothing is exported. */
static void expect_task_fails_in(const char *sweep, const char *result_dir_arg,
                                 uint32_t job_id, const char *want)
{
    char msg[PLUGIN_STUB_MSG + 2];

    start_step_in(sweep, arg_redis, result_dir_arg, job_id, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(plugin_stub.n_env, 0);
    CU_ASSERT_EQUAL(task_init_status(msg, sizeof(msg)), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
    if (strstr(msg, want) == NULL)
        fprintf(stderr, "\n    got: %s", msg);
    plugin_stub.exit_status = 1 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
}

static void expect_task_fails(const char *sweep, uint32_t job_id,
                              const char *want)
{
    expect_task_fails_in(sweep, arg_result_dir, job_id, want);
}

/* Deleted, stopped, paused and spent sweeps at claim time. */
static void test_claim_refused(void)
{
    pq_context *ctx = connect_queue();
    pq_claim_request req;
    pq_trial *t = NULL;

    CU_ASSERT_EQUAL_FATAL(create_sweep("gone"), PQ_OK);
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, q("gone"), (long)getuid()), PQ_OK);
    expect_task_fails("gone", 901,
                      want_q("protein: sweep '", "gone", "' does not exist"));

    CU_ASSERT_EQUAL_FATAL(create_sweep("halted"), PQ_OK);
    CU_ASSERT_EQUAL(
        pq_sweep_set_state(ctx, q("halted"), "stop", (long)getuid()), PQ_OK);
    expect_task_fails(
        "halted", 902,
        want_q("protein: sweep '", "halted", "' is stopped: no trial"));

    CU_ASSERT_EQUAL_FATAL(create_sweep("resting"), PQ_OK);
    CU_ASSERT_EQUAL(
        pq_sweep_set_state(ctx, q("resting"), "pause", (long)getuid()), PQ_OK);
    expect_task_fails(
        "resting", 903,
        want_q("protein: sweep '", "resting", "' is paused: no trial"));

    CU_ASSERT_EQUAL_FATAL(create_sweep_budget("spent", 1), PQ_OK);
    memset(&req, 0, sizeof(req));
    req.claim_key = "someone-else";
    req.uid = (long)getuid();
    req.user = getpwuid(getuid())->pw_name;
    req.array_index = -1;
    CU_ASSERT_EQUAL_FATAL(pq_claim(ctx, q("spent"), &req, &t), PQ_OK);
    pq_trial_free(t);
    expect_task_fails("spent", 904,
                      want_q("protein: sweep '", "spent",
                             "' has handed out all of its trials (its "
                             "max_trials, or every point of its grid)"));
    pq_free(ctx);
}

/* The number of trials sweep has handed out (-1 when unreadable). */
static long trials_handed_out(const char *sweep)
{
    pq_context *ctx = connect_queue();
    pq_sweep_info *info = NULL;
    long n = -1;

    if (pq_sweep_get(ctx, q(sweep), &info) == PQ_OK)
        n = info->n_trials;
    pq_sweep_info_free(info);
    pq_free(ctx);
    return n;
}

/* The result file cannot be created (result_dir missing): it is made
 * before the claim, so no trial is spent, and the task fails with the
 * reason. */
static void test_result_dir_missing(void)
{
    CU_ASSERT_EQUAL_FATAL(create_sweep("nodir"), PQ_OK);
    expect_task_fails_in("nodir", "result_dir=/nonexistent-protein-result-dir",
                         905, "/nonexistent-protein-result-dir");
    CU_ASSERT_EQUAL(trials_handed_out("nodir"), 0);
}

/* Another user planted files at the old predictable name and a symlink
 * at the per-user directory: the job still runs and records its score,
 * and nothing is written through the symlink. */
static void test_result_planted(void)
{
    char base[300], path[400], target[400];
    const char *result;
    pq_trial_record *r;
    FILE *f;

    CU_ASSERT_EQUAL_FATAL(create_sweep("planted"), PQ_OK);
    snprintf(base, sizeof(base), "result_dir=%s/planted", tmpdir);
    snprintf(target, sizeof(target), "%s/planted/decoy", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(base + strlen("result_dir="), 0777), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(target, 0777), 0);
    snprintf(path, sizeof(path), "%s/planted/protein-%ld", tmpdir,
             (long)getuid());
    CU_ASSERT_EQUAL_FATAL(symlink(target, path), 0);
    snprintf(path, sizeof(path), "%s/planted/protein.500_3.result", tmpdir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=666\n", f);
    fclose(f);

    start_step_in("planted", arg_redis, base, 910, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    result = plugin_stub_env("PROTEIN_RESULT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    CU_ASSERT_PTR_NULL(strstr(result, "decoy"));
    f = fopen(result, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.25\n", f);
    fclose(f);
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
    r = trial("planted", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT(r->has_score && r->score == 0.25);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(rmdir(target), 0); /* still empty */
}

/* A batch step of job job_id (array task 3 of job 500) with short
 * timeouts and the test's spool; outcome_retry is its plugstack argument. */
static void start_step_spooled(const char *sweep, uint32_t job_id,
                               const char *outcome_retry)
{
    static char arg_spool[300];
    char *av[7];

    snprintf(arg_spool, sizeof(arg_spool), "spool_dir=%s/spool", tmpdir);
    av[0] = arg_redis;
    av[1] = arg_result_dir;
    av[2] = "claim_timeout=0";
    av[3] = "command_timeout=300";
    av[4] = arg_spool;
    av[5] = (char *)outcome_retry;
    av[6] = "connect_timeout=300";
    start_step_av(sweep, job_id, SLURM_BATCH_SCRIPT, 7, av);
}

/* Redis frozen while the claim is on the wire: the claim times out on the
 * node (the task fails), Redis serves it once it resumes, and task exit
 * gives the trial back: nothing stays running without a task. stop_first
 * stops the sweep before task exit: the trial then ends as interrupted,
 * for the job's requeue to resume. The node's log says which of the two
 * happened (it said "goes back to the retry list (or ends as interrupted
 * when the sweep is stopped)" whatever happened). */
static void abandoned_claim_released(const char *sweep, uint32_t job_id,
                                     int stop_first, const char *logged,
                                     pq_trial_state state)
{
    char msg[PLUGIN_STUB_MSG + 2];
    const char *said;
    pq_context *ctx;
    pq_trial_record *r;

    CU_ASSERT_EQUAL_FATAL(create_sweep(sweep), PQ_OK);
    start_step_spooled(sweep, job_id, "outcome_retry=5");
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(redis_harness_freeze(&harness), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(redis_harness_thaw(&harness), 0);
    CU_ASSERT_EQUAL(plugin_stub.n_env, 0);
    CU_ASSERT_EQUAL(task_init_status(msg, sizeof(msg)), 1);
    if (stop_first) {
        ctx = connect_queue();
        CU_ASSERT_EQUAL(
            pq_sweep_set_state(ctx, q(sweep), "stop", (long)getuid()), PQ_OK);
        pq_free(ctx);
    }
    plugin_stub.exit_status = 1 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    said = strstr(plugin_stub.last_info, logged);
    CU_ASSERT(said && strcmp(said, logged) == 0);
    slurm_spank_exit(NULL, 0, NULL);
    r = trial(sweep, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, state);
    CU_ASSERT_PTR_NOT_NULL(r->error && strstr(r->error, "released: "));
    pq_trial_record_free(r);
}

/* The sweep runs: the trial goes back to the retry list. */
static void test_abandoned_claim_released(void)
{
    abandoned_claim_released("frozen", 950, 0,
                             "claim 500_3 timed out on the node; released: "
                             "trial 1 goes back to the retry list",
                             PQ_TRIAL_QUEUED);
}

/* The sweep was stopped meanwhile: the trial ends as interrupted. */
static void test_abandoned_claim_stopped(void)
{
    abandoned_claim_released("frozen3", 952, 1,
                             "claim 500_3 timed out on the node; released: "
                             "trial 1 ends as interrupted (the sweep is "
                             "stopped; the job's next requeue resumes it)",
                             PQ_TRIAL_INTERRUPTED);
}

/* The same, but a requeued task resumed the trial under the claim key
 * before this task's exit: the release gives nothing back, and the node's
 * log says so (it said "released" whatever happened). */
static void test_abandoned_claim_moved_on(void)
{
    char msg[PLUGIN_STUB_MSG + 2];
    pq_claim_request req;
    pq_context *ctx;
    pq_trial *t = NULL;
    pq_trial_record *r;

    CU_ASSERT_EQUAL_FATAL(create_sweep("frozen2"), PQ_OK);
    start_step_spooled("frozen2", 951, "outcome_retry=5");
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(redis_harness_freeze(&harness), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(redis_harness_thaw(&harness), 0);
    CU_ASSERT_EQUAL(task_init_status(msg, sizeof(msg)), 1);
    ctx = connect_queue();
    memset(&req, 0, sizeof(req));
    req.claim_key = "500_3";
    req.uid = (long)getuid();
    req.user = getpwuid(getuid())->pw_name;
    req.array_index = 3;
    CU_ASSERT_EQUAL_FATAL(pq_claim(ctx, q("frozen2"), &req, &t), PQ_OK);
    CU_ASSERT_EQUAL(t->id, 1);
    CU_ASSERT_TRUE(t->resumed);
    plugin_stub.exit_status = 1 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_info,
                                  "claim 500_3 timed out on the node; "
                                  "nothing to release"));
    CU_ASSERT_PTR_NULL(strstr(plugin_stub.last_info, "released:"));
    slurm_spank_exit(NULL, 0, NULL);
    r = trial("frozen2", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    pq_trial_free(t);
    pq_free(ctx);
}

/* Number of spool records (*.rec) in dir. */
static int count_records(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0;

    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        n += len > 4 && strcmp(de->d_name + len - 4, ".rec") == 0;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* Redis unreachable past outcome_retry at task exit: the outcome goes to
 * the spool; the next step that records an outcome on this node replays
 * it, once. */
static void test_outcome_spooled_and_replayed(void)
{
    char path[600];
    const char *result;
    pq_trial_record *r;
    FILE *f;

    CU_ASSERT_EQUAL_FATAL(create_sweep("spooled"), PQ_OK);
    start_step_spooled("spooled", 960, "outcome_retry=1");
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    result = plugin_stub_env("PROTEIN_RESULT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    f = fopen(result, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.75\n", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(redis_harness_freeze(&harness), 0);
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(redis_harness_thaw(&harness), 0);
    /* the node's log says the outcome waits in the spool */
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_info,
                                  "trial 1 completed: score 0.75 cost 1 "
                                  "(spooled: recorded when replayed)"));
    slurm_spank_exit(NULL, 0, NULL);
    snprintf(path, sizeof(path), "%s/spool", tmpdir);
    CU_ASSERT_EQUAL(count_records(path), 1);
    r = trial("spooled", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);

    start_step_spooled("spooled", 961, "outcome_retry=1");
    plugin_stub.array_task_id = 4;
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    plugin_stub.exit_status = 2 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
    r = trial("spooled", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT(r->has_score && r->score == 0.75);
    pq_trial_record_free(r);
    r = trial("spooled", 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_FAILED);
    pq_trial_record_free(r);
    CU_ASSERT_EQUAL(count_records(path), 0);
}

/* A spool_dir the spool would refuse (writable by others) is said at the
 * step's start, in the node's log, not first found at task exit during a
 * Redis outage, when the outcome it should keep is lost. The claim goes
 * on. */
static void test_spool_dir_refused_at_start(void)
{
    char dir[600], arg_spool[640];
    char *av[4];

    CU_ASSERT_EQUAL_FATAL(create_sweep("badspool"), PQ_OK);
    snprintf(dir, sizeof(dir), "%s/shared-spool", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(chmod(dir, 0777), 0);
    snprintf(arg_spool, sizeof(arg_spool), "spool_dir=%s", dir);
    av[0] = arg_redis;
    av[1] = arg_result_dir;
    av[2] = "claim_timeout=0";
    av[3] = arg_spool;
    start_step_av("badspool", 970, SLURM_BATCH_SCRIPT, 4, av);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_error, dir));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(plugin_stub.last_error, "will be lost: fix spool_dir"));
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    plugin_stub.exit_status = 1 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
}

/* sbatch's check of a paused sweep points at protein resume; of a stopped
 * one, which resume cannot bring back, at a new sweep. */
static void test_submit_check_paused_stopped(void)
{
    static const char *const states[2][3] = {
        {"pause", "subpaused",
         "the sweep is paused; no trial would be handed "
         "out (`protein resume subpaused` resumes it)"},
        {"stop", "substopped",
         "the sweep is stopped; no trial would be handed out again (create a "
         "new sweep: protein create CONFIG --name NEW)"}};
    pq_context *ctx = connect_queue();
    char *av[1] = {arg_redis};

    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(create_sweep(states[i][1]), PQ_OK);
        CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, q(states[i][1]), states[i][0],
                                           (long)getuid()),
                        PQ_OK);
        plugin_stub_reset();
        plugin_stub.context = S_CTX_LOCAL; /* sbatch */
        plugin_stub.uid = getuid();
        CU_ASSERT_EQUAL(slurm_spank_init(NULL, 1, av), 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub.option);
        CU_ASSERT_NOT_EQUAL(plugin_stub.option->cb(0, states[i][1], 0), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_error, states[i][2]));
        slurm_spank_exit(NULL, 0, NULL);
    }
    pq_free(ctx);
}

/* sbatch's check of a sweep logs in as the submitter's own Redis user;
 * a submitter without a password file is told that, not pointed at the
 * plugstack URL's user. */
static void test_submit_check_without_password_file(void)
{
    redis_harness_options ho = {.password = "s3cret"};
    redis_harness h2;
    char user[PQ_OWNER_MAX + 1], path[4096], arg[160];
    char *av[1] = {arg};

    if (pq_own_identity(getuid(), user, sizeof(user), path, sizeof(path)) !=
            PQ_OK ||
        path[0]) {
        fprintf(stderr, "  (skipped: this user has a protein password file or "
                        "no name protein accepts)\n");
        return;
    }
    unsetenv("PROTEIN_REDIS_PASSWORD");
    unsetenv("PROTEIN_TRIAL");
    if (redis_harness_start(&h2, &ho) != 0) {
        CU_FAIL("redis-server with requirepass did not start");
        return;
    }
    snprintf(arg, sizeof(arg), "redis=redis://protein-plugin@127.0.0.1:%d",
             h2.port);
    plugin_stub_reset();
    plugin_stub.context = S_CTX_LOCAL; /* sbatch */
    plugin_stub.uid = getuid();
    CU_ASSERT_EQUAL(slurm_spank_init(NULL, 1, av), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub.option);
    CU_ASSERT_EQUAL(plugin_stub.option->cb(0, "demo", 0), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_info,
                                  "could not check sweep 'demo' (the check "
                                  "logs in as your own Redis user"));
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_info, user));
    CU_ASSERT_PTR_NULL(strstr(plugin_stub.last_info, "protein-plugin"));
    slurm_spank_exit(NULL, 0, NULL);
    /* a submitter with no passwd entry (uid 54321 here) has no own
     * identity: the check ran as the plugstack URL's user, and the message
     * says what Redis said */
    if (getpwuid(54321) == NULL) {
        spank_protein_config cfg;

        spank_protein_config_defaults(&cfg);
        snprintf(cfg.redis_url, sizeof(cfg.redis_url), "%s", arg + 6);
        plugin_stub_reset();
        CU_ASSERT_EQUAL(spank_protein_sweep_check(&cfg, "alice/x", 54321), 0);
        CU_ASSERT_PTR_NOT_NULL(
            strstr(plugin_stub.last_info, "could not check sweep 'alice/x'"));
        CU_ASSERT_PTR_NULL(
            strstr(plugin_stub.last_info, "your own Redis user"));
    }
    redis_harness_stop(&h2);
}

/* Task exit while Redis is frozen ends within outcome_retry, the tries
 * included: a step that outlives Slurm's UnkillableStepTimeout drains the
 * node. With 2 s commands and outcome_retry=3 a second try (0.25 s after
 * the first, 2 s long) would end past it. */
static void test_outcome_retry_bound(void)
{
    char *av[6], arg_spool[300];
    double t0, took;

    CU_ASSERT_EQUAL_FATAL(create_sweep("bound"), PQ_OK);
    snprintf(arg_spool, sizeof(arg_spool), "spool_dir=%s/spool", tmpdir);
    av[0] = arg_redis;
    av[1] = arg_result_dir;
    av[2] = "command_timeout=2000";
    av[3] = arg_spool;
    av[4] = "outcome_retry=3";
    av[5] = "connect_timeout=300";
    start_step_av("bound", 970, SLURM_BATCH_SCRIPT, 6, av);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(redis_harness_freeze(&harness), 0);
    plugin_stub.exit_status = 1 << 8;
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    took = protein_clock_seconds(CLOCK_MONOTONIC) - t0;
    CU_ASSERT_EQUAL(redis_harness_thaw(&harness), 0);
    slurm_spank_exit(NULL, 0, NULL);
    CU_ASSERT(took < 3.0);
    if (took >= 3.0)
        fprintf(stderr, "task exit took %.2f s with outcome_retry=3\n", took);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_error, "spooled to"));
    /* the log says there was no retry, and why */
    CU_ASSERT_PTR_NOT_NULL(
        strstr(plugin_stub.last_error,
               "Redis unreachable (1 try; outcome_retry=3 s leaves no time for "
               "a second, which can take 2.3 s: "));
}

/* A plugin loaded by two plugstack lines (Debian's plugstack.conf
 * includes plugstack.conf.d): Slurm calls every callback twice in a row,
 * on one shared state. The first line's arguments count, one trial is
 * claimed, and its outcome waits for the step's last task. A step of a
 * plugin loaded once afterwards claims as usual. */
static void test_listed_twice(void)
{
    char *first[4], *second[1];
    pq_trial_record *r;
    const char *result;
    FILE *f;
    int i;

    CU_ASSERT_EQUAL_FATAL(create_sweep("twice"), PQ_OK);
    first[0] = arg_redis;
    first[1] = arg_result_dir;
    first[2] = "claim_timeout=0";
    first[3] = "connect_timeout=300";
    second[0] = "redis=redis://127.0.0.1:1";
    start_step_av("twice", 801, SLURM_BATCH_SCRIPT, 4, first);
    plugin_stub.tasks = 2;
    CU_ASSERT_EQUAL(slurm_spank_init(NULL, 1, second), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_error,
                                  "loaded by more than one plugstack.conf"));
    for (i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    for (i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    result = plugin_stub_env("PROTEIN_RESULT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    r = trial("twice", 2);
    CU_ASSERT_PTR_NULL(r); /* one claim, not two */
    pq_trial_record_free(r);
    f = fopen(result, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.25\n", f);
    fclose(f);
    plugin_stub.exit_status = 0;
    /* the first task's two calls: one task of two has ended */
    for (i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    r = trial("twice", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);
    for (i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    r = trial("twice", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT(r->has_score && r->score == 0.25);
    pq_trial_record_free(r);
    for (i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0);

    start_step("twice", arg_redis, 802, SLURM_BATCH_SCRIPT);
    plugin_stub.array_task_id = 4; /* another claim key than 500_3 */
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "2"));
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0);
    r = trial("twice", 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_FAILED); /* no score: "no result" */
    pq_trial_record_free(r);
}

/* A step on two nodes (srun -N2 --sweep): both claim the one trial, and
 * only the first node records it, whatever the other's tasks left. */
static void test_step_on_two_nodes(void)
{
    pq_trial_record *r;
    const char *result;
    FILE *f;

    CU_ASSERT_EQUAL_FATAL(create_sweep("two-nodes"), PQ_OK);
    start_step("two-nodes", arg_redis, 901, 0);
    plugin_stub.array_job_id = 0; /* a job of its own, no array */
    plugin_stub.array_task_id = NO_VAL;
    plugin_stub.node_id = 1;
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_STRING_EQUAL(plugin_stub.last_log, ""); /* node 0 prints it */
    plugin_stub.exit_status = 0; /* exit 0, nothing in its result file */
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_info, "first node records"));
    CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0);
    r = trial("two-nodes", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING);
    pq_trial_record_free(r);

    start_step("two-nodes", arg_redis, 901, 0);
    plugin_stub.array_job_id = 0;
    plugin_stub.array_task_id = NO_VAL;
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_log, "trial 1"));
    result = plugin_stub_env("PROTEIN_RESULT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    f = fopen(result, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.5\n", f);
    fclose(f);
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0);
    r = trial("two-nodes", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_COMPLETED);
    CU_ASSERT(r->has_score && r->score == 0.5);
    pq_trial_record_free(r);
}

/* sbatch --export=NONE: the option reaches the batch step only in the
 * job's SPANK environment, and the batch step claims from there; an srun
 * step inside, which --export=NONE leaves without PROTEIN_TRIAL, finds the
 * batch step's claim and claims nothing, saying why. */
static void test_export_none(void)
{
    pq_trial_record *r;
    long before;

    CU_ASSERT_EQUAL_FATAL(create_sweep("export-none"), PQ_OK);
    start_step(NULL, arg_redis, 960, SLURM_BATCH_SCRIPT);
    /* the name Slurm gives it: SLURM_SPANK_ + _SLURM_SPANK_OPTION_ +
     * plugin + _ + option */
    CU_ASSERT_EQUAL(
        spank_setenv(NULL, "SLURM_SPANK__SLURM_SPANK_OPTION_protein_sweep",
                     "export-none", 1),
        ESPANK_SUCCESS);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    before = trials_handed_out("export-none");
    CU_ASSERT_EQUAL(before, 1);
    CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0); /* another stepd */

    /* the step: the option came with srun, the variables did not */
    start_step("export-none", arg_redis, 960, 0);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NULL(plugin_stub_env("PROTEIN_TRIAL"));
    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(plugin_stub.last_log, "shares trial 1 of sweep"));
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(trials_handed_out("export-none"), before);
    r = trial("export-none", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->state, PQ_TRIAL_RUNNING); /* the batch step's still */
    pq_trial_record_free(r);
}

static const cunit_test tests[] = {
    {"claim, export, complete", test_claim_complete},
    {"interrupt, requeue, fail", test_interrupt_and_requeue},
    {"srun step inside the job", test_srun_step_inside_job},
    {"no --sweep", test_no_sweep},
    {"Redis down", test_redis_down},
    {"a refused redis= fails closed", test_redis_refused_fails_closed},
    {"deleted, stopped, paused, spent sweeps", test_claim_refused},
    {"result_dir missing: no trial spent", test_result_dir_missing},
    {"result files planted by another user", test_result_planted},
    {"a claim timed out on the node is released",
     test_abandoned_claim_released},
    {"a claim timed out on the node, its sweep stopped since: interrupted",
     test_abandoned_claim_stopped},
    {"a timed-out claim whose trial moved on: nothing released, said so",
     test_abandoned_claim_moved_on},
    {"an outcome spooled, then replayed once",
     test_outcome_spooled_and_replayed},
    {"a spool_dir the spool refuses is said at the start",
     test_spool_dir_refused_at_start},
    {"sbatch's check without a password file",
     test_submit_check_without_password_file},
    {"submit check of a paused and a stopped sweep: resume, or a new sweep",
     test_submit_check_paused_stopped},
    {"loaded by two plugstack lines", test_listed_twice},
    {"a step on two nodes", test_step_on_two_nodes},
    {"sbatch --export=NONE", test_export_none},
    {"task exit ends within outcome_retry", test_outcome_retry_bound},
};

int main(void)
{
    int status;
    const char *base = getenv("TMPDIR");
    char cmd[300];

    if (redis_harness_start(&harness, NULL) != 0) {
        fprintf(stderr, "test_plugin_flow: SKIP: no redis-server\n");
        return 77;
    }
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_plugin_flow.XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL || create_sweep("flow") != PQ_OK) {
        redis_harness_stop(&harness);
        return 1;
    }
    snprintf(arg_redis, sizeof(arg_redis), "redis=%s", harness.url);
    snprintf(arg_result_dir, sizeof(arg_result_dir), "result_dir=%s", tmpdir);
    status = cunit_run_suite("plugin_flow", tests, CUNIT_COUNT(tests));
    plugin_stub_reset();
    redis_harness_stop(&harness);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0 && status == 0)
        status = 1;
    return status;
}
