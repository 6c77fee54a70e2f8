/* test_wandb.c - CUnit suite for cli/wandb.c: the W&B agent's command
 * macros and value forms, the sweep-parameter file wandb.init() reads, and
 * the reader of offline .wandb logs, checked against a log written by the
 * real wandb 0.31.0 (tests/data/wandb-0.31.0-offline.wandb, made by
 * tests/data/wandb-0.31.0-offline.py). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cunit_run.h"

#ifndef PROTEIN_SRCDIR
#error "PROTEIN_SRCDIR must name the source tree (set in tests/cli.am)"
#endif

#define FIXTURE PROTEIN_SRCDIR "/tests/data/wandb-0.31.0-offline.wandb"

static char tmpdir[64];

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    CU_ASSERT_EQUAL(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/* The fixture logged loss = 1 / (i + 1) nine times (records spanning a
 * 32 KiB block boundary), then set the summary's loss to 0.125. */
static void test_read_log(void)
{
    cli_wandb_metric m = {0};
    size_t i;

    CU_ASSERT_EQUAL_FATAL(cli_wandb_read_log(FIXTURE, "loss", &m), 0);
    CU_ASSERT_EQUAL_FATAL(m.n_history, 9);
    for (i = 0; i < 9; i++)
        CU_ASSERT_DOUBLE_EQUAL(m.history[i], 1.0 / (double)(i + 1), 1e-15);
    CU_ASSERT(m.has_summary && m.summary == 0.125);
    CU_ASSERT_EQUAL(cli_wandb_read_log(FIXTURE, "pad", &m), 0);
    CU_ASSERT_EQUAL(m.n_history, 0); /* text values are not scores */
    CU_ASSERT_EQUAL(cli_wandb_read_log(FIXTURE, "los", &m), 0);
    CU_ASSERT_EQUAL(m.n_history, 0);
    CU_ASSERT_FALSE(m.has_summary);
    cli_wandb_metric_free(&m);
}

/* A log cut anywhere (a run still writing) or damaged gives a prefix of
 * the history, never a crash or a wrong value. */
static void test_torn_log(void)
{
    cli_wandb_metric m = {0};
    char path[128], *buf;
    size_t len = 0, cut, i;

    buf = slurp(FIXTURE, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    snprintf(path, sizeof path, "%s/torn.wandb", tmpdir);
    for (cut = 0; cut < len; cut += 997) {
        spit(path, buf, cut);
        if (cut < 7) {
            CU_ASSERT_EQUAL(cli_wandb_read_log(path, "loss", &m), -1);
            continue;
        }
        CU_ASSERT_EQUAL_FATAL(cli_wandb_read_log(path, "loss", &m), 0);
        CU_ASSERT(m.n_history <= 9);
        for (i = 0; i < m.n_history; i++)
            CU_ASSERT_DOUBLE_EQUAL(m.history[i], 1.0 / (double)(i + 1), 1e-15);
    }
    buf[len / 2] ^= 0x5a; /* a damaged record ends the read there */
    spit(path, buf, len);
    CU_ASSERT_EQUAL(cli_wandb_read_log(path, "loss", &m), 0);
    CU_ASSERT(m.n_history < 9);
    memcpy(buf, "PK\3\4", 4);
    spit(path, buf, len);
    CU_ASSERT_EQUAL(cli_wandb_read_log(path, "loss", &m), -1);
    CU_ASSERT_EQUAL(cli_wandb_read_log("/nonexistent/x.wandb", "loss", &m), -1);
    unlink(path);
    cli_wandb_metric_free(&m);
    free(buf);
}

static void test_find_log(void)
{
    char dir[128], run[192], *path = NULL;

    snprintf(dir, sizeof dir, "%s/wandb", tmpdir);
    CU_ASSERT_EQUAL(cli_wandb_find_log(dir, "abc", &path), -1);
    mkdir(dir, 0700);
    snprintf(run, sizeof run, "%s/offline-run-20260101_000000-abc", dir);
    mkdir(run, 0700);
    snprintf(run, sizeof run, "%s/offline-run-20260101_000000-xabc", dir);
    mkdir(run, 0700);
    CU_ASSERT_EQUAL_FATAL(cli_wandb_find_log(dir, "abc", &path), 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(path, "offline-run-20260101_000000-abc/run-abc.wandb"));
    CU_ASSERT_PTR_NULL(strstr(path, "xabc"));
    free(path);
    rmdir(run);
    snprintf(run, sizeof run, "%s/offline-run-20260101_000000-abc", dir);
    rmdir(run);
    rmdir(dir);
}

/* A job from a W&B sweep file and a trial's PROTEIN_PARAMS. */
typedef struct job_fixture {
    protein_sweep_config *cfg;
    pq_params params;
    cli_wandb_job job;
    char param_path[128], json_path[128];
} job_fixture;

static int make_job(job_fixture *f, const char *yaml, const char *json)
{
    protein_error err;

    memset(f, 0, sizeof(*f));
    memset(&err, 0, sizeof err);
    if (protein_config_parse_yaml(yaml, strlen(yaml), "t.yaml", &f->cfg,
                                  &err) != PROTEIN_OK) {
        fprintf(stderr, "\n%s: %s\n", err.key, err.message);
        return -1;
    }
    if (pq_params_from_json(json, &f->params) != PQ_OK)
        return -1;
    snprintf(f->param_path, sizeof f->param_path, "%s/config.yaml", tmpdir);
    snprintf(f->json_path, sizeof f->json_path, "%s/config.json", tmpdir);
    f->job.cfg = f->cfg;
    f->job.params = &f->params;
    f->job.param_path = f->param_path;
    f->job.json_path = f->json_path;
    return 0;
}

static void free_job(job_fixture *f)
{
    protein_config_free(f->cfg);
    pq_params_free(&f->params);
    unlink(f->param_path);
    unlink(f->json_path);
}

static const char params_json[] =
    "{\"lr\": 1e-05, \"flag\": true, \"off\": false, \"arch\": [32, 1.5e-07], "
    "\"opt\": \"adam\", \"n\": 3, \"x\": 2.0, \"big\": 1e+16, \"nest/a\": 1, "
    "\"nest/b\": \"it's\"}";

/* Every macro as the W&B agent renders it (wandb 0.31.0,
 * wandb_agent.py and sdk/launch/sweeps/utils.py): Python's str() of each
 * value, nested parameters as one dict. */
static void test_command(void)
{
    static const char yaml[] =
        "program: train.py\nproject: proj\n"
        "command:\n  - ${env}\n  - ${interpreter}\n  - ${program}\n"
        "  - --home=${envvar:PROTEIN_TEST_HOME}\n  - ${args}\n"
        "  - ${args_no_hyphens}\n  - ${args_no_boolean_flags}\n"
        "  - ${args_json}\n  - ${args_json_file}\n  - ${project}\n"
        "  - ${args_append_hydra}\n  - ${args_override_hydra}\n"
        "  - ${unknown}\n"
        "parameters:\n  lr: {min: 0.1, max: 1.0}\n";
    static const char *const args[] = {"--lr=1e-05",
                                       "--flag=True",
                                       "--off=False",
                                       "--arch=[32, 1.5e-07]",
                                       "--opt=adam",
                                       "--n=3",
                                       "--x=2.0",
                                       "--big=1e+16",
                                       "--nest={'a': 1, 'b': \"it's\"}"};
    job_fixture f;
    char **argv = NULL, why[200] = "";
    size_t i, k = 0;

    setenv("PROTEIN_TEST_HOME", "/h", 1);
    if (make_job(&f, yaml, params_json) != 0) {
        CU_FAIL("fixture");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(cli_wandb_command(&f.job, &argv, why, sizeof why), 0);
    CU_ASSERT_STRING_EQUAL(argv[k++], "/usr/bin/env");
    CU_ASSERT_STRING_EQUAL(argv[k++], "python");
    CU_ASSERT_STRING_EQUAL(argv[k++], "train.py");
    CU_ASSERT_STRING_EQUAL(argv[k++], "--home=/h");
    for (i = 0; i < 9; i++)
        CU_ASSERT_STRING_EQUAL(argv[k++], args[i]);
    for (i = 0; i < 9; i++)
        CU_ASSERT_STRING_EQUAL(argv[k++], args[i] + 2);
    CU_ASSERT_STRING_EQUAL(argv[k++], "--lr=1e-05");
    CU_ASSERT_STRING_EQUAL(argv[k++], "--flag"); /* true: a bare flag */
    CU_ASSERT_STRING_EQUAL(argv[k++], "--arch=[32, 1.5e-07]"); /* false: gone */
    k += 5;
    CU_ASSERT_STRING_EQUAL(
        argv[k++], "{\"lr\": 1e-05, \"flag\": true, \"off\": false, \"arch\": "
                   "[32, 1.5e-07], \"opt\": \"adam\", \"n\": 3, \"x\": 2.0, "
                   "\"big\": 1e+16, \"nest\": {\"a\": 1, \"b\": \"it's\"}}");
    CU_ASSERT_STRING_EQUAL(argv[k++], f.json_path);
    CU_ASSERT_STRING_EQUAL(argv[k++], "proj");
    for (i = 0; i < 9; i++) { /* Hydra's append, then override */
        CU_ASSERT_PTR_NOT_NULL_FATAL(argv[k]);
        CU_ASSERT_EQUAL(argv[k][0], '+');
        CU_ASSERT_STRING_EQUAL(argv[k++] + 1, args[i] + 2);
    }
    for (i = 0; i < 9; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(argv[k]);
        CU_ASSERT_EQUAL(strncmp(argv[k], "++", 2), 0);
        CU_ASSERT_STRING_EQUAL(argv[k++] + 2, args[i] + 2);
    }
    CU_ASSERT_PTR_NULL(argv[k]); /* ${unknown} dropped, as W&B does */
    cli_strv_free(argv);
    free_job(&f);
}

/* A '/' in a parameter's own name stays in it, as W&B passes such a
 * parameter flat (its nesting delimiter is no '/'); only the leaves of a
 * parameters: group nest, under the group's name. */
static void test_slash_names(void)
{
    static const char yaml[] =
        "program: train.py\ncommand:\n  - ${args}\n  - ${args_json}\n"
        "parameters:\n"
        "  opt/init_args/lr: {min: 0.1, max: 1.0}\n"
        "  grp:\n    parameters:\n      x: {value: 1}\n"
        "      a/b: {value: 2}\n";
    static const char json[] =
        "{\"opt/init_args/lr\": 0.5, \"grp/x\": 1, \"grp/a/b\": 2}";
    job_fixture f;
    char **argv = NULL, why[200] = "";

    if (make_job(&f, yaml, json) != 0) {
        CU_FAIL("fixture");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(cli_wandb_command(&f.job, &argv, why, sizeof why), 0);
    CU_ASSERT_STRING_EQUAL(argv[0], "--opt/init_args/lr=0.5");
    CU_ASSERT_STRING_EQUAL(argv[1], "--grp={'x': 1, 'a/b': 2}");
    CU_ASSERT_STRING_EQUAL(argv[2], "{\"opt/init_args/lr\": 0.5, \"grp\": "
                                    "{\"x\": 1, \"a/b\": 2}}");
    CU_ASSERT_PTR_NULL(argv[3]);
    cli_strv_free(argv);
    free_job(&f);
}

/* No command: W&B's default; no program either: a clear refusal. */
static void test_default_command(void)
{
    job_fixture f;
    char **argv = NULL, why[200] = "";

    if (make_job(&f, "program: t.py\nparameters:\n  n: {value: 1}\n",
                 "{\"n\": 1}") != 0) {
        CU_FAIL("fixture");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(cli_wandb_command(&f.job, &argv, why, sizeof why), 0);
    CU_ASSERT_STRING_EQUAL(argv[0], "/usr/bin/env");
    CU_ASSERT_STRING_EQUAL(argv[2], "t.py");
    CU_ASSERT_STRING_EQUAL(argv[3], "--n=1");
    CU_ASSERT_PTR_NULL(argv[4]);
    cli_strv_free(argv);
    free_job(&f);
    if (make_job(&f, "parameters:\n  n: {value: 1}\n", "{\"n\": 1}") != 0) {
        CU_FAIL("fixture");
        return;
    }
    CU_ASSERT_EQUAL(cli_wandb_command(&f.job, &argv, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no program"));
    free_job(&f);
}

/* The sweep-parameter YAML: floats PyYAML reads as floats ("1.0e-05"),
 * booleans, lists, nested dicts; the JSON file as json.dumps writes it. */
static void test_param_files(void)
{
    job_fixture f;
    char why[200] = "", *text;
    size_t len;

    if (make_job(&f, "program: t.py\nparameters:\n  n: {value: 1}\n",
                 params_json) != 0) {
        CU_FAIL("fixture");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(cli_wandb_write_params(&f.job, why, sizeof why), 0);
    text = slurp(f.param_path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "wandb_version: 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"lr\":\n  value: 1.0e-05\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"flag\":\n  value: true\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"arch\":\n  value: [32, 1.5e-07]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"big\":\n  value: 1.0e+16\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "\"nest\":\n  value: {\"a\": 1, \"b\": \"it's\"}\n"));
    free(text);
    text = slurp(f.json_path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"x\": 2.0, \"big\": 1e+16"));
    free(text);
    free_job(&f);
}

/* Non-ASCII text: as is in ${args} (Python's str), as \\u escapes (with
 * surrogate pairs) in the JSON, as json.dumps' default ensure_ascii. */
static void test_unicode(void)
{
    job_fixture f;
    char **argv = NULL, why[200] = "", *text;
    size_t len;

    if (make_job(&f, "program: t.py\nparameters:\n  u: {value: x}\n",
                 "{\"u\": \"\\u00e9\\ud83d\\ude00\"}") != 0) {
        CU_FAIL("fixture");
        return;
    }
    CU_ASSERT_EQUAL_FATAL(cli_wandb_command(&f.job, &argv, why, sizeof why), 0);
    CU_ASSERT_STRING_EQUAL(argv[3], "--u=\xc3\xa9\xf0\x9f\x98\x80");
    cli_strv_free(argv);
    CU_ASSERT_EQUAL_FATAL(cli_wandb_write_params(&f.job, why, sizeof why), 0);
    text = slurp(f.json_path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, "{\"u\": \"\\u00e9\\ud83d\\ude00\"}");
    free(text);
    free_job(&f);
}

/* History lines, then the summary as the score (the last value wins). */
static void test_result_lines(void)
{
    cli_wandb_metric m = {0};
    char path[128], *text;
    size_t reported = 0, len;
    FILE *fp;

    snprintf(path, sizeof path, "%s/result", tmpdir);
    fp = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fclose(fp);
    CU_ASSERT_EQUAL_FATAL(cli_wandb_read_log(FIXTURE, "loss", &m), 0);
    m.n_history = 2;
    CU_ASSERT_EQUAL(cli_wandb_result(&m, "val loss", path, &reported, 0), 0);
    CU_ASSERT_EQUAL(reported, 2);
    m.n_history = 3;
    CU_ASSERT_EQUAL(cli_wandb_result(&m, "val loss", path, &reported, 1), 0);
    text = slurp(path, &len);
    CU_ASSERT_STRING_EQUAL(text, "step=1\nval loss=1.0\nstep=2\nval loss=0.5\n"
                                 "step=3\nval loss=0.3333333333333333\n"
                                 "val loss=0.125\n");
    free(text);
    unlink(path);
    cli_wandb_metric_free(&m);
}

static const cunit_test tests[] = {
    {"read log", test_read_log},
    {"torn log", test_torn_log},
    {"find log", test_find_log},
    {"command", test_command},
    {"a '/' in a parameter's own name stays", test_slash_names},
    {"default command", test_default_command},
    {"param files", test_param_files},
    {"unicode", test_unicode},
    {"result lines", test_result_lines},
};

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_wandb.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    int rc = cunit_run_suite("wandb", tests, CUNIT_COUNT(tests));
    rmdir(tmpdir);
    return rc;
}
