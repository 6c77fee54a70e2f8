/*
 * test_plugin_flow.c - the plugin's slurmstepd entry points in the order
 * slurmstepd calls them (init, option, init_post_opt, user_init, task_init,
 * task_exit, exit), with the spank_* functions stubbed
 * (test_plugin_stub.c) and a real private redis-server
 * (tests/common/redis_harness.h): claim, export, outcome, requeue, srun
 * steps inside a job, Redis down, jobs without --sweep. Skips (77) when
 * redis-server is missing.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "cunit_run.h"
#include "protein_queue.h"
#include "redis_harness.h"
#include "test_plugin_stub.h"

static redis_harness harness;
static char tmpdir[256];
static char arg_redis[128], arg_result_dir[300];

/* Creates sweep `name` with two fallback points ({"lr": 0.1}, {"lr": 0.2}). */
static int create_sweep(const char *name)
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
    spec.name = name;
    spec.config_yaml = "name: test\n";
    spec.owner_uid = (long)getuid();
    spec.fallback = points;
    spec.n_fallback = 2;
    rc = pq_sweep_create(ctx, &spec);
    pq_free(ctx);
    return rc;
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
        pq_trial_get(ctx, sweep, id, &r);
    pq_free(ctx);
    return r;
}

/* A batch step of array task ARRAY_TASK of job 500 in slurmstepd, with
 * --sweep=sweep (NULL: none) and the given redis argument. */
static void start_step(const char *sweep, const char *redis_arg,
                       uint32_t job_id, uint32_t step_id)
{
    char *av[4];

    av[0] = (char *)redis_arg;
    av[1] = arg_result_dir;
    av[2] = "claim_timeout=0";
    av[3] = "connect_timeout=300";
    plugin_stub_reset();
    plugin_stub.context = S_CTX_REMOTE;
    plugin_stub.job_id = job_id;
    plugin_stub.step_id = step_id;
    plugin_stub.array_job_id = 500;
    plugin_stub.array_task_id = 3;
    plugin_stub.tasks = 1;
    plugin_stub.uid = getuid();
    plugin_stub.gid = getgid();
    CU_ASSERT_EQUAL(slurm_spank_init(NULL, 4, av), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub.option);
    if (sweep != NULL)
        CU_ASSERT_EQUAL(plugin_stub.option->cb(0, sweep, 1), 0);
}

static void test_claim_complete(void)
{
    const char *result;
    pq_trial_record *r;
    FILE *f;

    start_step("flow", arg_redis, 501, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub_env("PROTEIN_TRIAL"));
    CU_ASSERT(env_is("PROTEIN_SWEEP", "flow"));
    CU_ASSERT(env_is("PROTEIN_TRIAL", "1"));
    CU_ASSERT(env_is("PROTEIN_PARAMS", "{\"lr\": 0.1}"));
    CU_ASSERT_PTR_NOT_NULL(plugin_stub_env("PROTEIN_PARAM_LR"));
    CU_ASSERT_PTR_NOT_NULL(plugin_stub_env("PROTEIN_TOKEN"));
    result = plugin_stub_env("PROTEIN_RESULT");
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    CU_ASSERT_PTR_NOT_NULL(strstr(result, "/protein.500_3.result"));
    CU_ASSERT_EQUAL(access(result, W_OK), 0);

    CU_ASSERT_EQUAL(slurm_spank_task_init(NULL, 0, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_log,
                                  "protein: sweep flow trial 1 (fallback "
                                  "point): {\"lr\": 0.1}"));
    f = fopen(result, "a");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.5\ncost=12\n", f);
    fclose(f);
    plugin_stub.exit_status = 0;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(access(result, F_OK), -1);      /* read and removed */
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
    plugin_stub.exit_status = SIGTERM;              /* scancel, requeue */
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
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
    CU_ASSERT_EQUAL(plugin_stub.n_env, 1);          /* nothing exported */
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

/* Redis unreachable: init_post_opt and user_init still succeed (an error
 * there drains the node); the task fails in task_init with status 1. */
static void test_redis_down(void)
{
    pid_t pid;
    int status = 0;

    start_step("flow", "redis=redis://127.0.0.1:1", 800, SLURM_BATCH_SCRIPT);
    CU_ASSERT_EQUAL(slurm_spank_init_post_opt(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(slurm_spank_user_init(NULL, 0, NULL), 0);
    CU_ASSERT_EQUAL(plugin_stub.n_env, 0);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        slurm_spank_task_init(NULL, 0, NULL);
        _exit(0);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    plugin_stub.exit_status = 1 << 8;
    CU_ASSERT_EQUAL(slurm_spank_task_exit(NULL, 0, NULL), 0);
    slurm_spank_exit(NULL, 0, NULL);
}

static const cunit_test tests[] = {
    {"claim, export, complete", test_claim_complete},
    {"interrupt, requeue, fail", test_interrupt_and_requeue},
    {"srun step inside the job", test_srun_step_inside_job},
    {"no --sweep", test_no_sweep},
    {"Redis down", test_redis_down},
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
