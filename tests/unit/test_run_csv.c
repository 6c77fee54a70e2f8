#include "config.h"

/* test_run_csv.c - the reader of `protein run --out` files that --resume
 * uses (cli/csv.c): RFC 4180 fields, the rows' values in the config's
 * units, rows cut short, and the messages (file, line, column) of the
 * headers and rows it refuses. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cunit_run.h"

static const char yaml[] = "name: t\n"
                           "method: protein\n"
                           "parameters:\n"
                           "  lr: {distribution: log_uniform_values, "
                           "min: 1e-5, max: 1e-1}\n"
                           "  layers: {distribution: int_uniform, min: 1, "
                           "max: 8}\n"
                           "  act: {values: [relu, tanh, \"a,b\"]}\n"
                           "  env: {value: pong}\n";

#define HEADER "trial,status,score,cost,lr,layers,act,env,error\n"
#define CURVE_HEADER "trial,status,score,cost,lr,layers,act,env,error,curve\n"

static protein_sweep_config *cfg;

static int setup(void)
{
    protein_error err;

    return protein_config_parse_yaml(yaml, strlen(yaml), "t.yaml", &cfg,
                                     &err) == PROTEIN_OK
               ? 0
               : -1;
}

static int teardown(void)
{
    protein_config_free(cfg);
    return 0;
}

static int parse(const char *text, cli_run_csv *out, char *why, size_t len)
{
    return cli_run_csv_parse("f.csv", text, strlen(text), cfg, out, why, len);
}

static void test_good_rows(void)
{
    static const char text[] =
        HEADER "1,completed,0.5,12.5,0.001,4,relu,pong,\n"
               "3,failed,,1,1e-05,1,\"a,b\",pong,\"exit status 3, \"\"x\"\"\n"
               "second line\"\n"
               "2,pruned,-1.25,3,0.1,8,tanh,pong,stopped by hyperband\r\n";
    cli_run_csv c;
    char why[512];

    CU_ASSERT_FATAL(parse(text, &c, why, sizeof(why)) == 0);
    CU_ASSERT_EQUAL_FATAL(c.n, 3);
    CU_ASSERT_EQUAL(c.max_id, 3);
    CU_ASSERT_EQUAL(c.keep, strlen(text));
    CU_ASSERT_EQUAL(c.cut_line, 0);
    CU_ASSERT_EQUAL(c.rows[0].id, 1);
    CU_ASSERT_EQUAL(c.rows[0].status, CLI_ROW_COMPLETED);
    CU_ASSERT_EQUAL(c.rows[0].score, 0.5);
    CU_ASSERT_EQUAL(c.rows[0].cost, 12.5);
    CU_ASSERT_EQUAL(c.rows[0].values[0], 0.001);
    CU_ASSERT_EQUAL(c.rows[0].values[1], 4.0);
    CU_ASSERT_EQUAL(c.rows[0].values[2], 0.0);
    CU_ASSERT_EQUAL(c.rows[1].status, CLI_ROW_FAILED);
    CU_ASSERT(isnan(c.rows[1].score));
    CU_ASSERT_EQUAL(c.rows[1].values[2], 2.0);
    CU_ASSERT_STRING_EQUAL(c.rows[1].params.items[2].text, "a,b");
    CU_ASSERT_STRING_EQUAL(c.rows[1].error,
                           "exit status 3, \"x\"\nsecond line");
    CU_ASSERT_EQUAL(c.rows[1].line, 3);
    CU_ASSERT_EQUAL(c.rows[2].line, 5);
    CU_ASSERT_EQUAL(c.rows[2].status, CLI_ROW_PRUNED);
    CU_ASSERT_EQUAL(c.rows[2].score, -1.25);
    CU_ASSERT_STRING_EQUAL(c.rows[2].error, "stopped by hyperband");
    CU_ASSERT_STRING_EQUAL(c.rows[2].params.items[3].name, "env");
    cli_run_csv_free(&c);
    CU_ASSERT_EQUAL(c.n, 0);
    CU_ASSERT_PTR_NULL(c.rows);
}

/* The curve column: each row's reports, read as protein run writes
 * them; an empty field is no report; the rows of a file without the
 * column have none. */
static void test_curves(void)
{
    static const char text[] =
        "trial,status,score,cost,lr,layers,act,env,error,curve\n"
        "1,completed,0.5,12.5,0.001,4,relu,pong,,1 0.25 -;2 0.5 12.5\n"
        "2,failed,,1,0.001,4,relu,pong,exit status 1,\n"
        "3,pruned,-1,2,0.001,4,relu,pong,stopped,1e3 -1 2\n";
    cli_run_csv c;
    char why[512];

    CU_ASSERT_FATAL(parse(text, &c, why, sizeof(why)) == 0);
    CU_ASSERT(c.has_curve);
    CU_ASSERT_EQUAL_FATAL(c.n, 3);
    CU_ASSERT_EQUAL_FATAL(c.rows[0].n_curve, 2);
    CU_ASSERT_EQUAL(c.rows[0].curve[0].step, 1.0);
    CU_ASSERT_EQUAL(c.rows[0].curve[0].score, 0.25);
    CU_ASSERT(isnan(c.rows[0].curve[0].cost));
    CU_ASSERT_EQUAL(c.rows[0].curve[1].step, 2.0);
    CU_ASSERT_EQUAL(c.rows[0].curve[1].cost, 12.5);
    CU_ASSERT_STRING_EQUAL(c.rows[0].error, "");
    CU_ASSERT_EQUAL(c.rows[1].n_curve, 0);
    CU_ASSERT_PTR_NULL(c.rows[1].curve);
    CU_ASSERT_STRING_EQUAL(c.rows[1].error, "exit status 1");
    CU_ASSERT_EQUAL_FATAL(c.rows[2].n_curve, 1);
    CU_ASSERT_EQUAL(c.rows[2].curve[0].step, 1000.0);
    CU_ASSERT_EQUAL(c.rows[2].curve[0].score, -1.0);
    cli_run_csv_free(&c);

    CU_ASSERT_FATAL(parse(HEADER "1,completed,0.5,1,0.001,4,relu,pong,\n", &c,
                          why, sizeof(why)) == 0);
    CU_ASSERT_FALSE(c.has_curve);
    CU_ASSERT_EQUAL(c.rows[0].n_curve, 0);
    cli_run_csv_free(&c);
}

/* No header, a header only, and rows cut short by a crash. */
static void test_cut_short(void)
{
    static const char *const cut[] = {
        "2,completed,0.5,1,0.001,4,relu,pong,",
        "2,completed,0.5,1,0.001,4,relu,pong,\r",
        "2,failed,,1,0.001,4,relu,pong,\"exit\nstatus",
        "2",
        "2,completed,",
    };
    const char *good = HEADER "1,completed,0.5,1,0.001,4,relu,pong,\n";
    char text[512], why[512];
    cli_run_csv c;
    size_t i;

    CU_ASSERT_FATAL(parse("", &c, why, sizeof(why)) == 0);
    CU_ASSERT(c.n == 0 && c.keep == 0 && c.cut_line == 0 && c.max_id == 0);
    CU_ASSERT_FATAL(parse("trial,sta", &c, why, sizeof(why)) == 0);
    CU_ASSERT(c.n == 0 && c.keep == 0 && c.cut_line == 1);
    CU_ASSERT_FATAL(parse(HEADER, &c, why, sizeof(why)) == 0);
    CU_ASSERT(c.n == 0 && c.keep == strlen(HEADER) && c.cut_line == 0);
    for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        snprintf(text, sizeof(text), "%s%s", good, cut[i]);
        CU_ASSERT_FATAL(parse(text, &c, why, sizeof(why)) == 0);
        CU_ASSERT_EQUAL(c.n, 1);
        CU_ASSERT_EQUAL(c.max_id, 1);
        CU_ASSERT_EQUAL(c.keep, strlen(good));
        CU_ASSERT_EQUAL(c.cut_line, 3);
        cli_run_csv_free(&c);
    }
}

/* Refused: the message names the file, the line and the column. */
static void test_refused(void)
{
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"trial,status,score,cost,lr,act,layers,env,error\n",
         "f.csv:1: column 6: 'act' where the config has 'layers'"},
        {"trial,status,score,cost,lr,layers,act,env\n",
         "f.csv:1: column 9: missing 'error'"},
        {"trial,status,score,cost,lr,layers,act,env,error,x\n",
         "f.csv:1: column 10: 'x' after the last column"},
        {"trial,status,score,cost,lr,layers,act,env,error,curve,x\n",
         "f.csv:1: column 11: 'x' after the last columns, 'error' and "
         "'curve'"},
        {"trial,status,score,cost,lr,layers,act,env,curve\n",
         "f.csv:1: column 9: 'curve' where the config has 'error'"},
        {CURVE_HEADER "1,completed,0.5,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 10: the row has 9 fields, the header 10"},
        {CURVE_HEADER "1,completed,0.5,1,0.001,4,relu,pong,,1 0.5\n",
         "f.csv:2: column 10 (curve): not a learning curve"},
        {CURVE_HEADER "1,completed,0.5,1,0.001,4,relu,pong,,1 nan -\n",
         "f.csv:2: column 10 (curve): not a learning curve"},
        {CURVE_HEADER "1,completed,0.5,1,0.001,4,relu,pong,,1 0.5 -;\n",
         "f.csv:2: column 10 (curve): not a learning curve"},
        {CURVE_HEADER "1,completed,0.5,1,0.001,4,relu,pong,,1 0.5 0\n",
         "f.csv:2: column 10 (curve): not a learning curve"},
        {HEADER "1,completed,0.5,1,0.001,4,relu,pong\n",
         "f.csv:2: column 9: the row has 8 fields, the header 9"},
        {HEADER "1,completed,0.5,1,0.001,4,relu,pong,,\n",
         "f.csv:2: column 10: the row has 10 fields"},
        {HEADER "0,completed,0.5,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 1 (trial): '0' is not a trial number"},
        {HEADER "x1,completed,0.5,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 1 (trial): 'x1'"},
        {HEADER "1,done,0.5,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 2 (status): 'done' is not completed"},
        {HEADER "1,completed,,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 3 (score): '' is not a finite number"},
        {HEADER "1,completed,nan,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 3 (score): 'nan'"},
        {HEADER "1,failed,x,1,0.001,4,relu,pong,\n",
         "f.csv:2: column 3 (score): 'x' is not a finite number (nor empty"},
        {HEADER "1,completed,0.5,0,0.001,4,relu,pong,\n",
         "f.csv:2: column 4 (cost): '0' is not a number > 0"},
        {HEADER "1,completed,0.5,1,0.2,4,relu,pong,\n",
         "f.csv:2: column 5 (lr): 0.2 is outside the parameter's range"},
        {HEADER "1,completed,0.5,1,abc,4,relu,pong,\n",
         "f.csv:2: column 5 (lr): 'abc' is not a number"},
        {HEADER "1,completed,0.5,1,0.001,4.5,relu,pong,\n",
         "f.csv:2: column 6 (layers): 4.5 is not a whole number, in the "
         "parameter's range [1, 8]"},
        {HEADER "1,completed,0.5,1,0.001,4,gelu,pong,\n",
         "f.csv:2: column 7 (act): 'gelu' is not one of its values"},
        {HEADER "1,completed,0.5,1,0.001,4,relu,breakout,\n",
         "f.csv:2: column 8 (env): 'breakout' is not the config's value"},
        {HEADER "1,completed,0.5,1,0.001,4,re\"lu,pong,\n",
         "f.csv:2: column 7 (act): a quote inside an unquoted field"},
        {HEADER "1,completed,0.5,1,0.001,4,\"relu\"x,pong,\n",
         "f.csv:2: column 7 (act): text after the closing quote"},
        {HEADER "1,completed,0.5,1,0.001,4,relu,pong,\n"
                "2,completed,0.5,1,0.001,4,relu,pong,\n"
                "1,failed,,1,0.001,4,relu,pong,\n",
         "f.csv:4: column 1 (trial): trial 1 again (line 2 has it"},
        {HEADER "1,completed,0.5,1,0.001,4,relu,pong,\n\n",
         "f.csv:3: column 2: the row has 1 fields"},
    };
    char why[1024];
    cli_run_csv c;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(parse(bad[i].text, &c, why, sizeof(why)), -1);
        CU_ASSERT_EQUAL(c.n, 0);
        CU_ASSERT_PTR_NULL(c.rows);
        if (!strstr(why, bad[i].says))
            printf("\ncase %zu: '%s'\n  lacks '%s'\n", i, why, bad[i].says);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].says));
    }
}

/* A row's values at the ends of their ranges, as the optimizer writes
 * them (a log parameter's max may come back a rounding above it). */
static void test_range_ends(void)
{
    static const char text[] =
        HEADER "7,completed,1,1,1e-05,1,relu,pong,\n"
               "9,completed,1,1,0.10000000000000002,8,tanh,pong,\n";
    char why[512];
    cli_run_csv c;

    CU_ASSERT_FATAL(parse(text, &c, why, sizeof(why)) == 0);
    CU_ASSERT_EQUAL(c.n, 2);
    CU_ASSERT_EQUAL(c.max_id, 9);
    cli_run_csv_free(&c);
}

/* uniform_pow2 takes the powers of 2 in its range only. */
static void test_pow2(void)
{
    static const char pow2_yaml[] =
        "parameters:\n"
        "  bs: {distribution: uniform_pow2, min: 16, max: 1024}\n";
    static const char good[] = "trial,status,score,cost,bs,error\n"
                               "1,completed,1,1,64,\n";
    static const char bad[] = "trial,status,score,cost,bs,error\n"
                              "1,completed,1,1,48,\n";
    protein_sweep_config *pow2;
    protein_error err;
    char why[512];
    cli_run_csv c;

    CU_ASSERT_FATAL(protein_config_parse_yaml(pow2_yaml, strlen(pow2_yaml),
                                              "p.yaml", &pow2,
                                              &err) == PROTEIN_OK);
    CU_ASSERT_EQUAL(cli_run_csv_parse("p.csv", good, strlen(good), pow2, &c,
                                      why, sizeof(why)),
                    0);
    CU_ASSERT_EQUAL(c.n, 1);
    cli_run_csv_free(&c);
    CU_ASSERT_EQUAL(cli_run_csv_parse("p.csv", bad, strlen(bad), pow2, &c, why,
                                      sizeof(why)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(why, "p.csv:2: column 5 (bs): 48 is not a power of 2"));
    protein_config_free(pow2);
}

static const cunit_test tests[] = {
    {"good rows", test_good_rows},
    {"rows cut short", test_cut_short},
    {"learning curves", test_curves},
    {"refused headers and rows", test_refused},
    {"values at the ends of their ranges", test_range_ends},
    {"powers of 2", test_pow2},
};

int main(void)
{
    return cunit_run_suite_fixture("run_csv", setup, teardown, tests,
                                   CUNIT_COUNT(tests));
}
