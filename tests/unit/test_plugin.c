/*
 * test_plugin.c - unit tests of the SPANK plugin's logic (plugin/), with
 * the spank_* functions stubbed (test_plugin_stub.c): plugstack arguments,
 * --sweep validation, claim keys, outcome decisions, result-file
 * safety and the out-of-memory count of a step's memory cgroup (a cgroup
 * tree and /proc files of our own in a temporary directory). Needs no Slurm and
 * no Redis (an unreachable Redis is tested on a closed loopback port).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "cunit_run.h"
#include "spank_protein.h"
#include "test_plugin_stub.h"

static char tmpdir[256];

static int suite_init(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/test_plugin.XXXXXX",
             base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    plugin_stub_reset();
    spank_protein_options_clear();
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ args */

static int parse(spank_protein_config *cfg, char *err, size_t len, int ac, ...)
{
    char *av[16];
    va_list ap;
    int i;

    va_start(ap, ac);
    for (i = 0; i < ac; i++)
        av[i] = va_arg(ap, char *);
    va_end(ap);
    return spank_protein_args_parse(cfg, ac, av, err, len);
}

static void test_args_defaults(void)
{
    spank_protein_config cfg;
    char err[512];

    CU_ASSERT_EQUAL(spank_protein_args_parse(&cfg, 0, NULL, err, sizeof(err)),
                    0);
    CU_ASSERT_STRING_EQUAL(cfg.redis_url, "");
    CU_ASSERT_EQUAL(cfg.claim_timeout_s, 5);
    CU_ASSERT_EQUAL(cfg.connect_timeout_ms, 1000);
    CU_ASSERT_EQUAL(cfg.command_timeout_ms, 5000);
    CU_ASSERT_EQUAL(cfg.lease_s, 0);
    CU_ASSERT_EQUAL(cfg.submit_check, 1);
    CU_ASSERT_EQUAL(cfg.redis_down_requeue, 1);
    CU_ASSERT_EQUAL(cfg.requeue_max, 5);
}

static void test_args_every_key(void)
{
    spank_protein_config cfg;
    char err[512];
    pq_connect_options o;

    CU_ASSERT_EQUAL(
        parse(&cfg, err, sizeof(err), 10, "redis=redis://10.0.0.5:6380/2",
              "password_file=/etc/slurm/protein.pass",
              "result_dir=/var/tmp/protein", "claim_timeout=12",
              "connect_timeout=250", "command_timeout=9000", "lease=7200",
              "submit_check=no", "on_redis_down=fail", "requeue_max=1000"),
        0);
    CU_ASSERT_STRING_EQUAL(cfg.redis_url, "redis://10.0.0.5:6380/2");
    CU_ASSERT_STRING_EQUAL(cfg.password_file, "/etc/slurm/protein.pass");
    CU_ASSERT_STRING_EQUAL(cfg.result_dir, "/var/tmp/protein");
    CU_ASSERT_EQUAL(cfg.claim_timeout_s, 12);
    CU_ASSERT_EQUAL(cfg.connect_timeout_ms, 250);
    CU_ASSERT_EQUAL(cfg.command_timeout_ms, 9000);
    CU_ASSERT_EQUAL(cfg.lease_s, 7200);
    CU_ASSERT_EQUAL(cfg.submit_check, 0);
    CU_ASSERT_EQUAL(cfg.redis_down_requeue, 0);
    CU_ASSERT_EQUAL(cfg.requeue_max, 1000);

    o = spank_protein_connect_options(&cfg, 1, 12000);
    CU_ASSERT_STRING_EQUAL(o.url, "redis://10.0.0.5:6380/2");
    CU_ASSERT_STRING_EQUAL(o.password_file, "/etc/slurm/protein.pass");
    CU_ASSERT_EQUAL(o.connect_timeout_ms, 250);
    CU_ASSERT_EQUAL(o.command_timeout_ms, 21000);
    /* Submit hosts never read root's password file. */
    o = spank_protein_connect_options(&cfg, 0, 0);
    CU_ASSERT_PTR_NULL(o.password_file);
    CU_ASSERT_EQUAL(o.command_timeout_ms, 9000);
    /* Without redis=, the default Redis, whatever the environment of the
     * process that loaded the plugin names. */
    cfg.redis_url[0] = '\0';
    setenv("PROTEIN_REDIS", "redis://10.9.9.9:6379", 1);
    o = spank_protein_connect_options(&cfg, 1, 0);
    unsetenv("PROTEIN_REDIS");
    CU_ASSERT_STRING_EQUAL(o.url, PQ_DEFAULT_URL);
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 2, "on_redis_down=requeue",
                          "requeue_max=1"),
                    0);
    CU_ASSERT_EQUAL(cfg.redis_down_requeue, 1);
    CU_ASSERT_EQUAL(cfg.requeue_max, 1);
}

static void test_args_unknown_key(void)
{
    spank_protein_config cfg;
    char err[512];

    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 3, "claim_timeout=3",
                          "redis_url=redis://x", "lease=60"),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "unknown plugstack argument 'redis_url'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "protein: "));
    /* The good arguments still apply (slurmstepd ignores the bad one). */
    CU_ASSERT_EQUAL(cfg.claim_timeout_s, 3);
    CU_ASSERT_EQUAL(cfg.lease_s, 60);
}

static void test_args_bad_values(void)
{
    static const char *const bad[] = {"claim_timeout=abc",
                                      "claim_timeout=-1",
                                      "claim_timeout=3601",
                                      "claim_timeout=",
                                      "connect_timeout=0",
                                      "connect_timeout=5x",
                                      "command_timeout=600001",
                                      "lease=-5",
                                      "submit_check=maybe",
                                      "on_redis_down=retry",
                                      "on_redis_down=",
                                      "requeue_max=0",
                                      "requeue_max=1001",
                                      "requeue_max=two",
                                      "result_dir=relative/dir",
                                      "password_file=pass.txt",
                                      "redis=",
                                      "noequals",
                                      "=value"};
    spank_protein_config cfg;
    char err[512];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, bad[i]), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "protein: plugstack argument"));
    }
    /* Defaults survive a bad value. */
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, "claim_timeout=x"), -1);
    CU_ASSERT_EQUAL(cfg.claim_timeout_s, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'claim_timeout': bad value 'x'"));
    CU_ASSERT_EQUAL(
        parse(&cfg, err, sizeof(err), 2, "on_redis_down=Fail", "requeue_max=0"),
        -1);
    CU_ASSERT_EQUAL(cfg.redis_down_requeue, 1);
    CU_ASSERT_EQUAL(cfg.requeue_max, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'on_redis_down': bad value 'Fail' "
                                       "(expected requeue or fail)"));
    /* A Redis URL that pq_connect would refuse is refused here, naming
     * what is wrong, and marked: slurmstepd, which goes on, fails closed on
     * it rather than connect to the default Redis. */
    CU_ASSERT_EQUAL(
        parse(&cfg, err, sizeof(err), 1, "redis=http://127.0.0.1:6379"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "plugstack argument redis: bad Redis "
                                       "URL 'http://127.0.0.1:6379'"));
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1,
                          "redis=redis://u:secret@127.0.0.1:6379"),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "plugstack argument redis:"));
    CU_ASSERT_PTR_NULL(strstr(err, "secret"));
    CU_ASSERT(cfg.redis_refused);
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, "redis="), -1);
    CU_ASSERT(cfg.redis_refused);
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, "redis=redis://h:1"), 0);
    CU_ASSERT_FALSE(cfg.redis_refused);
    /* A key given twice is a mistake, refused; slurmstepd goes on with the
     * last, as it did. */
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 2, "redis=redis://a:1",
                          "redis=redis://b:2"),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'redis' is given twice"));
    CU_ASSERT_STRING_EQUAL(cfg.redis_url, "redis://b:2");
    /* lease=0 is not the sweep's lease outright: the job's time limit
     * comes first (admin.md, the lease row). */
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, "lease=-1"), -1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "0: the job's time limit plus lease_margin, else the "
                    "sweep's lease"));
}

static void test_args_too_long(void)
{
    spank_protein_config cfg;
    char err[512];
    char arg[1200];

    memset(arg, 'a', sizeof(arg) - 1);
    arg[sizeof(arg) - 1] = '\0';
    memcpy(arg, "result_dir=/", 12);
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, arg), -1);
    CU_ASSERT_STRING_EQUAL(cfg.result_dir, "");
    /* slurmstepd goes on with the defaults: a spool directory, not "" */
    memcpy(arg, "spool_dir=/", 11);
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 1, arg), -1);
    CU_ASSERT_STRING_EQUAL(cfg.spool_dir, SPANK_PROTEIN_SPOOL_DIR);
    memcpy(arg, "redis=redis://", 14);
    CU_ASSERT_EQUAL(parse(&cfg, err, sizeof(err), 2, "redis=redis://h:1", arg),
                    -1);
    CU_ASSERT_STRING_EQUAL(cfg.redis_url, "redis://h:1");
}

static void test_password_file_check(void)
{
    char path[512], msg[2048];

    snprintf(path, sizeof(path), "%s/pass", tmpdir);
    CU_ASSERT_EQUAL(spank_protein_password_file_check("", msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(spank_protein_password_file_check(path, msg, sizeof(msg)),
                    0); /* missing: pq_connect says */
    close(open(path, O_WRONLY | O_CREAT, 0644));
    CU_ASSERT_EQUAL(chmod(path, 0644), 0);
    CU_ASSERT_EQUAL(spank_protein_password_file_check(path, msg, sizeof(msg)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "mode 644"));
    CU_ASSERT_EQUAL(chmod(path, 0600), 0);
    CU_ASSERT_EQUAL(spank_protein_password_file_check(path, msg, sizeof(msg)),
                    getuid() == 0 ? 0 : -1); /* must be root's */
    unlink(path);
}

/* ------------------------------------------------------------ options */

static void test_option_register(void)
{
    plugin_stub_reset();
    CU_ASSERT_EQUAL(spank_protein_options_register(NULL), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_stub.option);
    CU_ASSERT_STRING_EQUAL(plugin_stub.option->name, "sweep");
    CU_ASSERT_EQUAL(plugin_stub.option->has_arg, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.option->usage, "[protein]"));

    plugin_stub.register_fails = 1;
    CU_ASSERT_EQUAL(spank_protein_options_register(NULL), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_error,
                                  "protein: couldn't register option --sweep"));
}

static void test_sweep_check_names(void)
{
    static const char *const bad[] = {
        "",
        "-x",
        ".hidden",
        "has space",
        "semi;colon",
        "a/b/c",
        "Upper/x",
        "/x",
        "x/",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    spank_protein_config cfg;
    size_t i;

    spank_protein_config_defaults(&cfg);
    cfg.submit_check = 0;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        plugin_stub_reset();
        CU_ASSERT_EQUAL(spank_protein_sweep_check(&cfg, bad[i], 1000), -1);
        CU_ASSERT_PTR_NOT_NULL(
            strstr(plugin_stub.last_error, "protein: --sweep="));
    }
    plugin_stub_reset();
    CU_ASSERT_EQUAL(spank_protein_sweep_check(&cfg, "ppo-lr_2.v1", 1000), 0);
    CU_ASSERT_EQUAL(plugin_stub.n_messages, 0);
}

static void test_sweep_check_redis_down(void)
{
    spank_protein_config cfg;

    spank_protein_config_defaults(&cfg);
    /* Port 1 on loopback: refused at once. */
    snprintf(cfg.redis_url, sizeof(cfg.redis_url), "redis://127.0.0.1:1");
    cfg.connect_timeout_ms = 200;
    unsetenv("PROTEIN_TRIAL");
    plugin_stub_reset();
    CU_ASSERT_EQUAL(spank_protein_sweep_check(&cfg, "demo", 1000), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(plugin_stub.last_info,
               "protein: warning: could not check sweep 'demo'"));
    CU_ASSERT_STRING_EQUAL(plugin_stub.last_error, "");
}

static void test_option_callback(void)
{
    spank_protein_config cfg;
    spank_opt_cb_f cb;

    spank_protein_config_defaults(&cfg);
    cfg.submit_check = 0;
    spank_protein_options_use_config(&cfg);
    plugin_stub_reset();
    spank_protein_options_clear();
    CU_ASSERT_EQUAL_FATAL(spank_protein_options_register(NULL), 0);
    cb = plugin_stub.option->cb;

    /* Submit side: a bad name refuses the submission. */
    CU_ASSERT_EQUAL(cb(0, "bad name", 0), -1);
    CU_ASSERT_PTR_NULL(spank_protein_sweep());
    CU_ASSERT_EQUAL(cb(0, "good", 0), 0);
    CU_ASSERT_STRING_EQUAL(spank_protein_sweep(), "good");
    /* Slurm may deliver the same value twice. */
    CU_ASSERT_EQUAL(cb(0, "good", 0), 0);

    /* slurmstepd: never fails, keeps the problem for task_init. */
    spank_protein_options_clear();
    CU_ASSERT_EQUAL(cb(0, "-bad", 1), 0);
    CU_ASSERT_PTR_NOT_NULL(spank_protein_sweep_error());
    spank_protein_options_clear();
    CU_ASSERT_EQUAL(cb(0, "fine", 1), 0);
    CU_ASSERT_PTR_NULL(spank_protein_sweep_error());
    CU_ASSERT_STRING_EQUAL(spank_protein_sweep(), "fine");
    spank_protein_options_clear();
}

/* ------------------------------------------------------------ claim key */

static void test_claim_key(void)
{
    char key[SPANK_PROTEIN_CLAIM_KEY_MAX];

    CU_ASSERT_EQUAL(spank_protein_claim_key(1041, SLURM_BATCH_SCRIPT, 1000, 41,
                                            key, sizeof(key)),
                    0);
    CU_ASSERT_STRING_EQUAL(key, "1000_41");
    /* A requeued task has a new job id but the same key. */
    CU_ASSERT_EQUAL(spank_protein_claim_key(2000, SLURM_BATCH_SCRIPT, 1000, 41,
                                            key, sizeof(key)),
                    0);
    CU_ASSERT_STRING_EQUAL(key, "1000_41");
    /* Plain batch job: array id 0 and task NO_VAL. */
    CU_ASSERT_EQUAL(spank_protein_claim_key(77, SLURM_BATCH_SCRIPT, 0, NO_VAL,
                                            key, sizeof(key)),
                    0);
    CU_ASSERT_STRING_EQUAL(key, "77");
    /* srun step of its own (array id equals the job id there). */
    CU_ASSERT_EQUAL(
        spank_protein_claim_key(78, 0, 78, NO_VAL, key, sizeof(key)), 0);
    CU_ASSERT_STRING_EQUAL(key, "78.0");
    CU_ASSERT_EQUAL(spank_protein_claim_key(4294967000u, SLURM_BATCH_SCRIPT,
                                            4294967000u, 4000000000u, key, 8),
                    -1);
}

static void test_claim_errors(void)
{
    pq_context ctx;
    char err[1024];

    memset(&ctx, 0, sizeof(ctx));
    snprintf(
        ctx.errstr, sizeof(ctx.errstr),
        "cannot connect to Redis at redis://10.1.2.3:6379: Connection refused");
    ctx.url = "redis://10.1.2.3:6379";
    spank_protein_claim_error(&ctx, PQ_EIO, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        err, "protein: cannot claim a trial of sweep 'ppo': cannot connect to "
             "Redis at redis://10.1.2.3:6379: Connection refused"));
    /* The library's message already names the URL: said once. */
    CU_ASSERT_PTR_NULL(strstr(strstr(err, "Redis at") + 1, "Redis at"));
    spank_protein_claim_error(&ctx, PQ_EBUDGET, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_trials"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "protein budget ppo +N"));
    snprintf(ctx.errstr, sizeof(ctx.errstr), "sweep 'alice/ppo' is paused");
    spank_protein_claim_error(&ctx, PQ_ESTOPPED, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "protein: sweep 'alice/ppo' is paused: no trial handed out "
                    "(protein resume ppo hands out trials again"));
    snprintf(ctx.errstr, sizeof(ctx.errstr), "sweep 'alice/ppo' is stopped");
    spank_protein_claim_error(&ctx, PQ_ESTOPPED, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "protein: sweep 'alice/ppo' is stopped: no trial handed "
                    "out (a stopped sweep hands out no trial again"));
    CU_ASSERT_PTR_NULL(strstr(err, "resume"));
    spank_protein_claim_error(&ctx, PQ_EPERM, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "belongs to another user"));
    spank_protein_claim_error(&ctx, PQ_ENOSWEEP, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "sweep 'ppo' does not exist"));
    /* scontrol requeue of a task whose trial has ended says what to do */
    snprintf(ctx.errstr, sizeof(ctx.errstr),
             "trial 1 of sweep 'ppo' claimed by 37_1 is already failed");
    spank_protein_claim_error(&ctx, PQ_ESTATE, "ppo", err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is already failed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "submit the task again"));
}

/* ------------------------------------------------------------ outcome */

/* A parsed result file that holds only the metric. */
static pq_result metric_result(double metric)
{
    pq_result r;

    memset(&r, 0, sizeof(r));
    r.has_metric = 1;
    r.metric = metric;
    return r;
}

/* No usable cost counts as 1, as under protein run; a reported one wins. */
static void test_outcome_completed(void)
{
    static const double unusable[] = {-2.5, -1, 0, NAN, INFINITY, -INFINITY};
    spank_protein_outcome o;
    pq_result r = metric_result(0.93);

    spank_protein_outcome_decide(0, &r, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_COMPLETED);
    CU_ASSERT_DOUBLE_EQUAL(o.score, 0.93, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(o.cost, 1, 1e-12); /* not reported */
    r.has_cost = 1;
    for (size_t i = 0; i < sizeof(unusable) / sizeof(*unusable); i++) {
        r.cost = unusable[i];
        spank_protein_outcome_decide(0, &r, NULL, &o);
        CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_COMPLETED);
        CU_ASSERT_DOUBLE_EQUAL(o.cost, 1, 1e-12);
    }
    r.cost = 300;
    spank_protein_outcome_decide(0, &r, NULL, &o);
    CU_ASSERT_DOUBLE_EQUAL(o.cost, 300, 1e-12); /* reported cost wins */
    r.cost = 0.25;
    spank_protein_outcome_decide(0, &r, NULL, &o);
    CU_ASSERT_DOUBLE_EQUAL(o.cost, 0.25, 1e-12);
}

static void test_outcome_failed(void)
{
    spank_protein_outcome o;
    pq_result r = metric_result(1);
    const char *text;

    spank_protein_outcome_decide(3 << 8, &r, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(o.exit_status, 3);
    CU_ASSERT_STRING_EQUAL(o.reason, "exit status 3");

    spank_protein_outcome_decide(0, NULL, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(o.exit_status, 0);
    CU_ASSERT_EQUAL(strncmp(o.reason, "no result", 9), 0);

    /* a result file with a number under another key names it */
    text = "epoch=3\nlog: a=b\nval_loss=0.5\n";
    CU_ASSERT_EQUAL(pq_result_parse(text, strlen(text), "loss", NULL, &r),
                    PQ_OK);
    CU_ASSERT_FALSE(r.has_metric);
    CU_ASSERT_STRING_EQUAL(r.other_key, "val_loss");
    spank_protein_outcome_decide(0, &r, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_STRING_EQUAL(
        o.reason, "no result: exit 0 without a metric in the result "
                  "file (it has 'val_loss=': is the metric misnamed?)");
    /* step, cost, lines whose value is no number and keys no metric can
     * have (protein_metric_name_valid: a '#') are never named */
    text = "step=1\ncost=2\nnote=fine\nval#2=0.5\n";
    CU_ASSERT_EQUAL(pq_result_parse(text, strlen(text), "loss", NULL, &r),
                    PQ_OK);
    CU_ASSERT_STRING_EQUAL(r.other_key, "");

    r.has_metric = 0;
    spank_protein_outcome_decide(0, &r, "result file x is a symlink: refused",
                                 &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_STRING_EQUAL(o.reason,
                           "no result: result file x is a symlink: refused");
}

static void test_outcome_interrupted(void)
{
    spank_protein_outcome o;
    pq_result r = metric_result(0);

    spank_protein_outcome_decide(SIGTERM, &r, NULL, &o); /* scancel */
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    CU_ASSERT_EQUAL(o.signal, SIGTERM);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.reason, "signal 15"));
    spank_protein_outcome_decide(SIGKILL, NULL, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    CU_ASSERT_EQUAL(o.signal, SIGKILL);
    /* A batch shell whose child scancel killed first exits 128 + 15. */
    spank_protein_outcome_decide((128 + SIGTERM) << 8, &r, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    CU_ASSERT_EQUAL(o.signal, SIGTERM);
    CU_ASSERT_EQUAL(o.exit_status, 143);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.reason, "exit status 143"));
    /* 128 + a signal Slurm does not end jobs with is an ordinary failure. */
    spank_protein_outcome_decide((128 + SIGSEGV) << 8, &r, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(o.exit_status, 128 + SIGSEGV);
    spank_protein_outcome_decide(200 << 8, &r, NULL, &o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
}

/* Killed at the job's time limit: a failure the optimizer learns from,
 * for SIGTERM and SIGKILL (the shell's 143 too), not for other signals. */
static void test_outcome_time_limit(void)
{
    spank_protein_outcome o;

    spank_protein_outcome_decide((128 + SIGTERM) << 8, NULL, NULL, &o);
    spank_protein_outcome_time_limit(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(o.exit_status, 143);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.reason, "killed at the job's time limit"));
    spank_protein_outcome_decide(SIGKILL, NULL, NULL, &o);
    spank_protein_outcome_time_limit(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    spank_protein_outcome_decide(SIGUSR1, NULL, NULL, &o);
    spank_protein_outcome_time_limit(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    spank_protein_outcome_decide(3 << 8, NULL, NULL, &o);
    spank_protein_outcome_time_limit(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.reason, "exit status 3"));
}

/* Killed by SIGKILL in a step whose memory cgroup counted an OOM kill: a
 * failure the optimizer learns from (the shell's 137 too); a SIGKILL with
 * no kill counted (scancel --batch --signal=KILL) or another signal stays
 * an interrupt, and other outcomes are left alone. */
static void test_outcome_oom(void)
{
    spank_protein_outcome o;

    spank_protein_outcome_decide(SIGKILL, NULL, NULL, &o);
    spank_protein_outcome_oom(&o, 1);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_STRING_EQUAL(o.reason,
                           "killed by the out-of-memory killer (the step's "
                           "memory cgroup counted 1 oom kill)");
    spank_protein_outcome_decide((128 + SIGKILL) << 8, NULL, NULL, &o);
    spank_protein_outcome_oom(&o, 2);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(o.exit_status, 137);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.reason, "counted 2 oom kills)"));
    spank_protein_outcome_decide(SIGKILL, NULL, NULL, &o);
    spank_protein_outcome_oom(&o, 0);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    spank_protein_outcome_decide(SIGTERM, NULL, NULL, &o);
    spank_protein_outcome_oom(&o, 1);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    spank_protein_outcome_decide(3 << 8, NULL, NULL, &o);
    spank_protein_outcome_oom(&o, 1);
    CU_ASSERT_STRING_EQUAL(o.reason, "exit status 3");
}

/* A failed batch step of a job whose srun step ran out of memory: still
 * failed, its reason says so first and keeps the old one (cut to fit);
 * an interrupt or a completed trial is left alone. */
static void test_outcome_srun_oom(void)
{
    static const char prefix[] =
        "killed by the out-of-memory killer in an srun step of the job, then ";
    spank_protein_outcome o;
    pq_result r;
    char problem[200];

    spank_protein_outcome_decide(1 << 8, NULL, NULL, &o);
    spank_protein_outcome_srun_oom(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(o.exit_status, 1);
    CU_ASSERT_STRING_EQUAL(o.reason,
                           "killed by the out-of-memory killer in an "
                           "srun step of the job, then exit status 1");
    memset(problem, 'x', sizeof(problem) - 1);
    problem[sizeof(problem) - 1] = '\0';
    spank_protein_outcome_decide(0, NULL, problem, &o);
    spank_protein_outcome_srun_oom(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_FAILED);
    CU_ASSERT_EQUAL(strncmp(o.reason, prefix, strlen(prefix)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.reason, ", then no result: xxx"));
    CU_ASSERT_EQUAL(strlen(o.reason), sizeof(o.reason) - 1);
    spank_protein_outcome_decide(SIGKILL, NULL, NULL, &o);
    spank_protein_outcome_srun_oom(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_INTERRUPTED);
    CU_ASSERT_STRING_EQUAL(o.reason, "killed by signal 9 (Killed)");
    memset(&r, 0, sizeof(r));
    r.has_metric = 1;
    r.metric = 0.5;
    spank_protein_outcome_decide(0, &r, NULL, &o);
    spank_protein_outcome_srun_oom(&o);
    CU_ASSERT_EQUAL(o.kind, SPANK_PROTEIN_COMPLETED);
    CU_ASSERT_STRING_EQUAL(o.reason, "");
}

/* Writes text into tmpdir/rel, making its directories. */
static void put(const char *rel, const char *text)
{
    char path[1024], *slash;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    for (slash = strchr(path + strlen(tmpdir) + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* Writes tmpdir/NAME/proc/{cgroup,mountinfo}: slurmstepd in cgroup_line's
 * hierarchy, mounted as mount_line says (MNT: tmpdir/NAME/mnt, escaped as
 * mountinfo escapes a space). */
static void put_proc(const char *name, const char *cgroup_text,
                     const char *mount_line)
{
    char rel[128], mnt[1024], line[2048];
    const char *at = strstr(mount_line, "MNT");

    snprintf(rel, sizeof(rel), "%s/proc/cgroup", name);
    put(rel, cgroup_text);
    snprintf(mnt, sizeof(mnt), "%s/%s/mnt", tmpdir, name);
    snprintf(line, sizeof(line),
             "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n"
             "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
             "%.*s%s%s\n",
             (int)(at - mount_line), mount_line, mnt, at + 3);
    snprintf(rel, sizeof(rel), "%s/proc/mountinfo", name);
    put(rel, line);
}

static int oom_kills(const char *name, uint32_t job, uint32_t step,
                     unsigned long long *kills, char *msg, size_t len)
{
    char proc[512];

    snprintf(proc, sizeof(proc), "%s/%s/proc", tmpdir, name);
    return spank_protein_oom_kills(proc, job, step, kills, msg, len);
}

/* cgroup v1, as seen on a Slurm 22.05 node: slurmstepd in
 * slurm_NODE/uid_0/job_J/step_batch, each task in task_N below it, the
 * kill counted only in the victim's task_N. */
static void test_oom_v1(void)
{
    const char *step = "v1/mnt/slurm_vm/uid_0/job_7/step_batch";
    char rel[256], want[1024], msg[4096];
    unsigned long long kills = 99;

    put_proc("v1",
             "9:name=systemd:/\n6:freezer:/slurm_vm/uid_0/job_7\n"
             "4:memory:/slurm_vm/uid_0/job_7/step_batch\n0::/\n",
             "35 31 0:32 / MNT rw,relatime - cgroup cgroup rw,memory");
    snprintf(rel, sizeof(rel), "%s/memory.oom_control", step);
    put(rel, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    snprintf(rel, sizeof(rel), "%s/task_0/memory.oom_control", step);
    put(rel, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    snprintf(rel, sizeof(rel), "%s/task_1/memory.oom_control", step);
    put(rel, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    /* not a task's: not counted */
    snprintf(rel, sizeof(rel), "%s/other/memory.oom_control", step);
    put(rel, "oom_kill 40\n");
    snprintf(rel, sizeof(rel), "%s/task_2/cpu.stat", step);
    put(rel, "nr_periods 0\n"); /* a task without the file adds nothing */
    CU_ASSERT_EQUAL(
        oom_kills("v1", 7, SLURM_BATCH_SCRIPT, &kills, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(kills, 3);
    snprintf(want, sizeof(want), "%s/%s", tmpdir, step);
    CU_ASSERT_STRING_EQUAL(msg, want);
    /* another job's or step's stepd: not this step's cgroup */
    CU_ASSERT_EQUAL(
        oom_kills("v1", 70, SLURM_BATCH_SCRIPT, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "is not its step's"));
    CU_ASSERT_EQUAL(oom_kills("v1", 7, 0, &kills, msg, sizeof(msg)), -1);
    /* a kernel older than 4.13 has no oom_kill line */
    snprintf(rel, sizeof(rel), "%s/memory.oom_control", step);
    put(rel, "oom_kill_disable 0\nunder_oom 0\n");
    CU_ASSERT_EQUAL(
        oom_kills("v1", 7, SLURM_BATCH_SCRIPT, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no oom_kill counter in"));
}

/* Step numbers, co-mounted controllers, a mount of a subtree under a
 * path with a space, and the nodes where no count can be read. */
static void test_oom_v1_paths(void)
{
    char want[1024], msg[4096];
    unsigned long long kills = 0;

    /* step 12 of job 8 is not step 123; step 1 and job 88 are not 12 of 8 */
    put_proc("v1b", "5:blkio,memory:/slurm/uid_1000/job_8/step_123\n",
             "35 31 0:32 / MNT rw - cgroup cgroup rw,blkio,memory");
    CU_ASSERT_EQUAL(oom_kills("v1b", 8, 12, &kills, msg, sizeof(msg)), -1);
    put_proc("v1b", "5:blkio,memory:/slurm/uid_1000/job_8/step_12\n",
             "35 31 0:32 / MNT rw - cgroup cgroup rw,blkio,memory");
    put("v1b/mnt/slurm/uid_1000/job_8/step_12/memory.oom_control",
        "oom_kill 4\n");
    CU_ASSERT_EQUAL(oom_kills("v1b", 8, 1, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_EQUAL(oom_kills("v1b", 88, 12, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_EQUAL(oom_kills("v1b", 8, 12, &kills, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(kills, 4);
    /* "memoryx" is not memory; the mount holds /slurm only, at a path
     * with a space */
    put_proc("v1c", "3:memoryx:/\n4:memory:/slurm/uid_0/job_9/step_extern\n",
             "35 31 0:32 /slurm MNT/a\\040b rw - cgroup cgroup rw,memory");
    put("v1c/mnt/a b/uid_0/job_9/step_extern/memory.oom_control",
        "oom_kill 1\n");
    CU_ASSERT_EQUAL(
        oom_kills("v1c", 9, SLURM_EXTERN_CONT, &kills, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(kills, 1);
    snprintf(want, sizeof(want), "%s/v1c/mnt/a b/uid_0/job_9/step_extern",
             tmpdir);
    CU_ASSERT_STRING_EQUAL(msg, want);
    /* no memory controller mounted, no mount for it, no /proc files */
    put_proc("none", "1:cpu:/\n", "35 31 0:32 / MNT rw - cgroup cgroup rw,cpu");
    CU_ASSERT_EQUAL(oom_kills("none", 9, 0, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no memory cgroup in"));
    put_proc("nomount", "4:memory:/slurm/uid_0/job_9/step_0\n",
             "35 31 0:32 / MNT rw - cgroup cgroup rw,cpu");
    CU_ASSERT_EQUAL(oom_kills("nomount", 9, 0, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no cgroup v1 mount holding"));
    CU_ASSERT_EQUAL(oom_kills("absent", 9, 0, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cannot read"));
}

/* cgroup v2, as Slurm 22.05 lays it out: slurmstepd in step_S/slurm, the
 * tasks below step_S/user, whose memory.events counts their kills. */
static void test_oom_v2(void)
{
    const char *step = "v2/mnt/system.slice/vm_slurmstepd.scope/job_5/step_0";
    char rel[256], want[1024], msg[4096];
    unsigned long long kills = 0;

    put_proc("v2", "0::/system.slice/vm_slurmstepd.scope/job_5/step_0/slurm\n",
             "30 23 0:26 / MNT rw,nosuid - cgroup2 cgroup2 rw,nsdelegate");
    snprintf(rel, sizeof(rel), "%s/user/memory.events", step);
    put(rel, "low 0\nhigh 0\nmax 12\noom 3\noom_group_kill 9\n"
             "oom_kill 2\n");
    CU_ASSERT_EQUAL(oom_kills("v2", 5, 0, &kills, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(kills, 2);
    snprintf(want, sizeof(want), "%s/%s", tmpdir, step);
    CU_ASSERT_STRING_EQUAL(msg, want);
    /* a task's kill, counted in user/ (events propagate up) or, with
     * memory_localevents, in the task's own cgroup alone: once either way */
    snprintf(rel, sizeof(rel), "%s/user/task_0/memory.events", step);
    put(rel, "oom 1\noom_kill 1\n");
    CU_ASSERT_EQUAL(oom_kills("v2", 5, 0, &kills, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(kills, 2);
    snprintf(rel, sizeof(rel), "%s/user/memory.events", step);
    put(rel, "oom 0\noom_kill 0\n");
    CU_ASSERT_EQUAL(oom_kills("v2", 5, 0, &kills, msg, sizeof(msg)), 0);
    CU_ASSERT_EQUAL(kills, 1);
    /* hybrid: a v1 memory hierarchy wins over the v2 line */
    put_proc("v2",
             "0::/system.slice/vm_slurmstepd.scope/job_5/step_0/slurm\n"
             "4:memory:/\n",
             "30 23 0:26 / MNT rw,nosuid - cgroup2 cgroup2 rw,nsdelegate");
    CU_ASSERT_EQUAL(oom_kills("v2", 5, 0, &kills, msg, sizeof(msg)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "memory cgroup / is not its step's"));
}

static void test_status_merge(void)
{
    int s = 0;

    s = spank_protein_status_merge(s, 0);
    CU_ASSERT_EQUAL(s, 0);
    s = spank_protein_status_merge(s, 2 << 8);
    CU_ASSERT_EQUAL(s, 2 << 8);
    s = spank_protein_status_merge(s, 5 << 8); /* first failure kept */
    CU_ASSERT_EQUAL(s, 2 << 8);
    CU_ASSERT_EQUAL(spank_protein_status_merge(s, 143 << 8), 143 << 8);
    s = spank_protein_status_merge(s, SIGTERM);
    CU_ASSERT_EQUAL(s, SIGTERM);
    s = spank_protein_status_merge(s, 0);
    CU_ASSERT_EQUAL(s, SIGTERM);
}

/* ------------------------------------------------------------ result file */

/* Creates a result file under base for key, asserting success. */
static void create_ok(const char *base, const char *key,
                      spank_protein_result_file *f)
{
    char err[512];

    err[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(spank_protein_result_create(base, NULL, key, getuid(),
                                                      getgid(), f, err,
                                                      sizeof(err)),
                          0);
    if (err[0])
        fprintf(stderr, "\n    %s", err);
}

/* Files go into a private per-user directory under unpredictable names:
 * nobody else can pre-create, read or replace them. */
static void test_result_create_private(void)
{
    spank_protein_result_file a, b;
    char dir[600], want[700];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/protein-%ld", tmpdir, (long)getuid());
    create_ok(tmpdir, "5_1", &a);
    create_ok(tmpdir, "5_1", &b);
    snprintf(want, sizeof(want), "%s/protein.5_1.", dir);
    CU_ASSERT_EQUAL(strncmp(a.path, want, strlen(want)), 0);
    CU_ASSERT_EQUAL(strlen(a.path), strlen(want) + 16 + strlen(".result"));
    CU_ASSERT_STRING_NOT_EQUAL(a.path, b.path); /* unpredictable */
    CU_ASSERT_EQUAL(a.own_dir, 0);
    CU_ASSERT_EQUAL_FATAL(lstat(dir, &st), 0);
    CU_ASSERT(S_ISDIR(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
    CU_ASSERT_EQUAL(st.st_uid, getuid());
    CU_ASSERT_EQUAL_FATAL(lstat(a.path, &st), 0);
    CU_ASSERT(S_ISREG(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(st.st_size, 0);
    spank_protein_result_discard(&a);
    spank_protein_result_discard(&b);
    CU_ASSERT_EQUAL(access(a.path, F_OK), -1);
    CU_ASSERT_EQUAL(access(dir, F_OK), 0); /* shared by steps */

    /* The user's own directory, too open: made private again. */
    CU_ASSERT_EQUAL(chmod(dir, 0755), 0);
    create_ok(tmpdir, "5_2", &a);
    CU_ASSERT_EQUAL_FATAL(stat(dir, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
    spank_protein_result_discard(&a);
}

/* DIR/protein-UID taken by something that is not the user's directory (a
 * symlink planted by another user, a file, and as root another user's
 * directory): the step makes a private directory of its own instead of
 * failing or writing through it, and removes it afterwards. */
static void test_result_create_taken(void)
{
    spank_protein_result_file f;
    char base[400], dir[600], target[600], want[700];
    struct stat st;
    int round;

    for (round = 0; round < 3; round++) {
        snprintf(base, sizeof(base), "%s/taken%d", tmpdir, round);
        CU_ASSERT_EQUAL_FATAL(mkdir(base, 0777), 0);
        snprintf(dir, sizeof(dir), "%s/protein-%ld", base, (long)getuid());
        snprintf(target, sizeof(target), "%s/elsewhere", base);
        CU_ASSERT_EQUAL_FATAL(mkdir(target, 0700), 0);
        if (round == 0) {
            CU_ASSERT_EQUAL_FATAL(symlink(target, dir), 0);
        } else if (round == 1) {
            CU_ASSERT_EQUAL_FATAL(close(open(dir, O_CREAT | O_WRONLY, 0600)),
                                  0);
        } else {
            if (geteuid() != 0)
                continue; /* needs a 2nd uid */
            CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
            CU_ASSERT_EQUAL_FATAL(chown(dir, getuid() + 4242, 0), 0);
        }
        create_ok(base, "7", &f);
        CU_ASSERT_EQUAL(f.own_dir, 1);
        snprintf(want, sizeof(want), "%s.", dir);
        CU_ASSERT_EQUAL(strncmp(f.path, want, strlen(want)), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(plugin_stub.last_info, dir));
        *strrchr(f.path, '/') = '\0';
        CU_ASSERT_EQUAL_FATAL(stat(f.path, &st), 0);
        CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
        CU_ASSERT_EQUAL(st.st_uid, getuid());
        f.path[strlen(f.path)] = '/';
        spank_protein_result_discard(&f);
        *strrchr(f.path, '/') = '\0';
        CU_ASSERT_EQUAL(access(f.path, F_OK), -1); /* own dir removed */
        CU_ASSERT_EQUAL(rmdir(target), 0);         /* nothing went there */
    }
}

/* A base directory that does not exist: a clear error, nothing made. */
static void test_result_create_no_base(void)
{
    spank_protein_result_file f;
    char err[512];

    CU_ASSERT_EQUAL(spank_protein_result_create("/nonexistent-protein-dir",
                                                NULL, "9", getuid(), getgid(),
                                                &f, err, sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent-protein-dir/protein-"));
    CU_ASSERT_STRING_EQUAL(f.path, "");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* Asserts that reading the result file at path for `uid` fails, returns
 * no text and says `why`. */
static void expect_read_refused(const char *path, uid_t uid, const char *why)
{
    char err[512];
    char *text = NULL;
    size_t len;

    CU_ASSERT_EQUAL(spank_protein_result_read(path, uid, 1 << 20, 1, &text,
                                              &len, err, sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NULL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
}

static void test_result_roundtrip(void)
{
    spank_protein_result_file f;
    char err[512];
    char *text = NULL;
    size_t len = 0;
    pq_result r;

    create_ok(tmpdir, "1", &f);
    write_file(f.path, "score=0.5\ncost=7\nscore=0.75\n");
    CU_ASSERT_EQUAL_FATAL(spank_protein_result_read(f.path, getuid(), 1 << 20,
                                                    1, &text, &len, err,
                                                    sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(len, strlen("score=0.5\ncost=7\nscore=0.75\n"));
    CU_ASSERT_EQUAL(pq_result_parse(text, len, "score", "cost", &r), PQ_OK);
    CU_ASSERT(r.has_metric && r.metric == 0.75);
    CU_ASSERT(r.has_cost && r.cost == 7);
    free(text);
    CU_ASSERT_EQUAL(access(f.path, F_OK), -1); /* removed after reading */
    expect_read_refused(f.path, getuid(), "No such file");
}

static void test_result_symlink_refused(void)
{
    char path[700], target[512], dir[400], link_dir[400];

    snprintf(target, sizeof(target), "%s/secret", tmpdir);
    snprintf(path, sizeof(path), "%s/protein.2.result", tmpdir);
    write_file(target, "score=1\n");
    CU_ASSERT_EQUAL_FATAL(symlink(target, path), 0);
    expect_read_refused(path, getuid(), "symlink: refused");
    unlink(path);
    /* A directory swapped for a symlink is not followed either. */
    snprintf(dir, sizeof(dir), "%s/real", tmpdir);
    snprintf(link_dir, sizeof(link_dir), "%s/swapped", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    CU_ASSERT_EQUAL_FATAL(symlink(dir, link_dir), 0);
    snprintf(path, sizeof(path), "%s/protein.2.result", dir);
    write_file(path, "score=1\n");
    snprintf(path, sizeof(path), "%s/protein.2.result", link_dir);
    expect_read_refused(path, getuid(), "result directory");
    unlink(link_dir);
    unlink(target);
}

static void test_result_wrong_owner_refused(void)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/protein.3.result", tmpdir);
    write_file(path, "score=1\n");
    expect_read_refused(path, getuid() + 1, "not to the job's uid");
    CU_ASSERT_EQUAL(access(path, F_OK), 0); /* left in place */
    unlink(path);
}

static void test_result_not_regular_refused(void)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/protein.4.result", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    /* A FIFO with no writer must neither hang nor be read. */
    expect_read_refused(path, getuid(), "not a regular file");
    unlink(path);
}

static void test_result_oversize_capped(void)
{
    char path[512], err[512];
    char *text = NULL;
    size_t len = 0, i;
    FILE *f;
    pq_result r;

    snprintf(path, sizeof(path), "%s/protein.5.result", tmpdir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (i = 0; i < 5000; i++)
        fprintf(f, "step=%zu\n", i);
    fputs("score=0.125\n", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(spank_protein_result_read(path, getuid(), 4096, 0,
                                                    &text, &len, err,
                                                    sizeof(err)),
                          0);
    CU_ASSERT(len <= 4096);
    CU_ASSERT(len > 4000);
    CU_ASSERT_EQUAL(strncmp(text, "step=", 5), 0); /* starts at a line */
    CU_ASSERT_EQUAL(pq_result_parse(text, len, "score", "cost", &r), PQ_OK);
    CU_ASSERT(r.has_metric && r.metric == 0.125);
    free(text);
    CU_ASSERT_EQUAL(access(path, F_OK), 0); /* unlink_after = 0 */
    /* the metric before the part read: the reason says where it looked */
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("score=0.5\n", f);
    for (i = 0; i < 5000; i++)
        fprintf(f, "step=%zu\n", i);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(spank_protein_result_read(path, getuid(), 4096, 0,
                                                    &text, &len, err,
                                                    sizeof(err)),
                          0);
    CU_ASSERT_EQUAL(pq_result_parse(text, len, "score", "cost", &r), PQ_OK);
    CU_ASSERT_FALSE(r.has_metric);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "no metric line in the last 4096 bytes"));
    free(text);
    unlink(path);
}

static const cunit_test tests[] = {
    {"args: defaults", test_args_defaults},
    {"args: every key", test_args_every_key},
    {"args: unknown key", test_args_unknown_key},
    {"args: bad values", test_args_bad_values},
    {"args: too long", test_args_too_long},
    {"args: password file check", test_password_file_check},
    {"option: register", test_option_register},
    {"option: sweep names", test_sweep_check_names},
    {"option: redis down warns", test_sweep_check_redis_down},
    {"option: callback", test_option_callback},
    {"claim key", test_claim_key},
    {"claim errors", test_claim_errors},
    {"outcome: completed", test_outcome_completed},
    {"outcome: failed", test_outcome_failed},
    {"outcome: interrupted", test_outcome_interrupted},
    {"outcome: time limit", test_outcome_time_limit},
    {"outcome: merge", test_status_merge},
    {"outcome: out of memory", test_outcome_oom},
    {"outcome: out of memory in an srun step", test_outcome_srun_oom},
    {"oom: cgroup v1", test_oom_v1},
    {"oom: cgroup v1 paths", test_oom_v1_paths},
    {"oom: cgroup v2", test_oom_v2},
    {"result: private directory, fresh names", test_result_create_private},
    {"result: directory taken by another", test_result_create_taken},
    {"result: base directory missing", test_result_create_no_base},
    {"result: round trip", test_result_roundtrip},
    {"result: symlink refused", test_result_symlink_refused},
    {"result: wrong owner refused", test_result_wrong_owner_refused},
    {"result: FIFO refused", test_result_not_regular_refused},
    {"result: oversize capped", test_result_oversize_capped},
};

int main(void)
{
    return cunit_run_suite_fixture("plugin", suite_init, suite_clean, tests,
                                   CUNIT_COUNT(tests));
}
