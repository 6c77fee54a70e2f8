/*
 * test_params.c - unit tests of queue/params.c, json.c, env.c and result.c:
 * JSON rendering and parsing, arguments, environment names, msgpack round
 * trip, result files.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "pq_internal.h"

/* Three parameters: a float, an integer and a string needing escapes. */
static pq_params sample(void)
{
    static pq_param items[3];
    items[0] = (pq_param){.name = "train/learning_rate", .number = 0.001};
    items[1] = (pq_param){.name = "batch", .is_integer = 1, .number = 256};
    items[2] =
        (pq_param){.name = "act", .is_string = 1, .text = "re\"lu\\\n\x01"};
    return (pq_params){3, items};
}

static void test_json_render(void)
{
    pq_params p = sample();
    char *json = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_params_to_json(&p, &json), PQ_OK);
    CU_ASSERT_STRING_EQUAL(json, "{\"train/learning_rate\": 0.001, \"batch\": "
                                 "256, \"act\": \"re\\\"lu\\\\\\n\\u0001\"}");
    free(json);

    pq_param whole = {.name = "x", .number = 3.0};
    pq_params one = {1, &whole};
    CU_ASSERT_EQUAL_FATAL(pq_params_to_json(&one, &json), PQ_OK);
    CU_ASSERT_STRING_EQUAL(json, "{\"x\": 3.0}");
    free(json);

    whole.number = NAN;
    CU_ASSERT_EQUAL(pq_params_to_json(&one, &json), PQ_EINVAL);
    CU_ASSERT_PTR_NULL(json);
    whole.is_integer = 1;
    whole.number = 2.5;
    CU_ASSERT_EQUAL(pq_params_to_json(&one, &json), PQ_EINVAL);
    whole.number = 1e19;
    CU_ASSERT_EQUAL(pq_params_to_args(&one, &json), PQ_EINVAL);
    size_t len;
    CU_ASSERT_EQUAL(pq_params_pack(&one, &json, &len), PQ_EINVAL);
    CU_ASSERT_PTR_NULL(json);
}

static void test_json_round_trip(void)
{
    pq_params p = sample(), back = {0};
    char *json = NULL;
    p.items[0].number = 0.1 + 0.2;
    CU_ASSERT_EQUAL_FATAL(pq_params_to_json(&p, &json), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_params_from_json(json, &back), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(back.n, 3);
    CU_ASSERT_STRING_EQUAL(back.items[0].name, "train/learning_rate");
    CU_ASSERT_EQUAL(back.items[0].number, 0.1 + 0.2);
    CU_ASSERT_FALSE(back.items[0].is_integer);
    CU_ASSERT_TRUE(back.items[1].is_integer);
    CU_ASSERT_EQUAL(back.items[1].number, 256);
    CU_ASSERT_TRUE(back.items[2].is_string);
    CU_ASSERT_STRING_EQUAL(back.items[2].text, "re\"lu\\\n\x01");
    pq_params_free(&back);
    free(json);
}

/* The one JSON string writer: every control character escaped (the short
 * forms where JSON has them), quotes and backslashes too, UTF-8 copied. */
static void test_json_quote(void)
{
    char *q = NULL;

    CU_ASSERT_EQUAL_FATAL(
        pq_json_quote("a\"b\\c\r\t\b\f\n\x1f\x7f\xc3\xa9", &q), PQ_OK);
    CU_ASSERT_STRING_EQUAL(q,
                           "\"a\\\"b\\\\c\\r\\t\\b\\f\\n\\u001f\x7f\xc3\xa9\"");
    free(q);
    CU_ASSERT_EQUAL_FATAL(pq_json_quote("", &q), PQ_OK);
    CU_ASSERT_STRING_EQUAL(q, "\"\"");
    free(q);
}

static void test_json_parse_errors(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "{\"a\": }",
        "{\"a\": tru}",
        "{\"a\": {\"b\" 1}}",
        "{\"a\": [1,]}",
        "{\"a\": [1 2]}",
        "{\"a\": nul}",
        "{\"a\": "
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "}",
        "{\"a\": 01}",
        "{\"a\": 1,}",
        "{\"a\" 1}",
        "{\"a\": 1} x",
        "{\"a\": \"\\q\"}",
        "{\"a\": 1e999}",
        "{\"a\": \"\\ud800\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pq_params p = {0};
        CU_ASSERT_EQUAL(pq_params_from_json(bad[i], &p), PQ_EINVAL);
        CU_ASSERT_EQUAL(p.n, 0);
        CU_ASSERT_PTR_NULL(p.items);
    }
    pq_params p = {0};
    CU_ASSERT_EQUAL_FATAL(
        pq_params_from_json(
            " { \"u\" : \"\\u00e9\\ud83d\\ude00\" ,\"n\":-2.5E+1} ", &p),
        PQ_OK);
    CU_ASSERT_STRING_EQUAL(p.items[0].text, "\xc3\xa9\xf0\x9f\x98\x80");
    CU_ASSERT_EQUAL(p.items[1].number, -25.0);
    CU_ASSERT_FALSE(p.items[1].is_integer);
    pq_params_free(&p);
    CU_ASSERT_EQUAL(pq_params_from_json("{}", &p), PQ_OK);
    CU_ASSERT_EQUAL(p.n, 0);
}

/* Booleans, null, lists and objects (W&B values) are kept as their JSON
 * text and written back as they came. */
static void test_json_values(void)
{
    static const char json[] =
        "{\"f\": true, \"g\": false, \"n\": null, \"l\": [32, [1.5, \"x\"], "
        "{\"k\": null}], \"o\": {\"a\": [true]}}";
    pq_params p = {0};
    char *back = NULL, *args = NULL;

    CU_ASSERT_EQUAL_FATAL(pq_params_from_json(json, &p), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(p.n, 5);
    CU_ASSERT(p.items[0].is_string && p.items[0].is_json);
    CU_ASSERT_STRING_EQUAL(p.items[0].text, "true");
    CU_ASSERT_STRING_EQUAL(p.items[2].text, "null");
    CU_ASSERT_STRING_EQUAL(p.items[3].text,
                           "[32, [1.5, \"x\"], {\"k\": null}]");
    CU_ASSERT_EQUAL(pq_params_to_json(&p, &back), PQ_OK);
    CU_ASSERT_STRING_EQUAL(back, json);
    CU_ASSERT_EQUAL(pq_params_to_args(&p, &args), PQ_OK);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(args, "--f=true --g=false --n=null --l=[32, "));
    free(back);
    free(args);
    pq_params_free(&p);
}

static void test_args(void)
{
    pq_params p = sample();
    p.items[2].text = "relu";
    char *args = NULL;
    CU_ASSERT_EQUAL_FATAL(pq_params_to_args(&p, &args), PQ_OK);
    /* a sectioned name (PufferLib INI) takes the form PufferLib's CLI parses */
    CU_ASSERT_STRING_EQUAL(
        args, "--train.learning-rate=0.001 --batch=256 --act=relu");
    free(args);
    pq_params none = {0};
    CU_ASSERT_EQUAL_FATAL(pq_params_to_args(&none, &args), PQ_OK);
    CU_ASSERT_STRING_EQUAL(args, "");
    free(args);
}

static void test_env_names(void)
{
    char buf[64];
    CU_ASSERT_EQUAL(pq_param_env_name("train/learning-rate.x", buf, sizeof buf),
                    PQ_OK);
    CU_ASSERT_STRING_EQUAL(buf, "PROTEIN_PARAM_TRAIN_LEARNING_RATE_X");
    CU_ASSERT_EQUAL(pq_param_env_name("ab", buf, 17), PQ_OK);
    CU_ASSERT_STRING_EQUAL(buf, "PROTEIN_PARAM_AB");
    CU_ASSERT_EQUAL(pq_param_env_name("abc", buf, 17), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_param_env_name("", buf, sizeof buf), PQ_EINVAL);
}

static const char *env_get(const pq_env *env, const char *name)
{
    for (size_t i = 0; i < env->n; i++)
        if (strcmp(env->names[i], name) == 0)
            return env->values[i];
    return NULL;
}

static void test_env_build(void)
{
    pq_params p = sample();
    pq_env env;
    p.items[2].text = "relu";
    CU_ASSERT_EQUAL_FATAL(
        pq_env_build("ppo", 42, &p, "loss", "gpu_hours", "/tmp/r", "abc", &env),
        PQ_OK);
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_SWEEP"), "ppo");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_TRIAL"), "42");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_PARAM_BATCH"), "256");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_PARAM_ACT"), "relu");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_PARAM_TRAIN_LEARNING_RATE"),
                           "0.001");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_METRIC_KEY"), "loss");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_COST_KEY"), "gpu_hours");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_RESULT"), "/tmp/r");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_TOKEN"), "abc");
    CU_ASSERT_PTR_NOT_NULL(env_get(&env, "PROTEIN_PARAMS"));
    CU_ASSERT_PTR_NOT_NULL(env_get(&env, "PROTEIN_ARGS"));
    pq_env_free(&env);
    CU_ASSERT_EQUAL_FATAL(
        pq_env_build("ppo", 1, &p, NULL, NULL, NULL, NULL, &env), PQ_OK);
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_METRIC_KEY"), "score");
    CU_ASSERT_STRING_EQUAL(env_get(&env, "PROTEIN_COST_KEY"), "cost");
    CU_ASSERT_PTR_NULL(env_get(&env, "PROTEIN_RESULT"));
    CU_ASSERT_PTR_NULL(env_get(&env, "PROTEIN_TOKEN"));
    CU_ASSERT_EQUAL(env.n, 9);
    pq_env_free(&env);
}

static void test_msgpack_round_trip(void)
{
    pq_params p = sample(), back = {0};
    char *buf = NULL;
    size_t len = 0;
    p.items[1].number = -7;
    CU_ASSERT_EQUAL_FATAL(pq_params_pack(&p, &buf, &len), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(pq_params_unpack(buf, len, &back), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(back.n, 3);
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(back.items[i].name, p.items[i].name);
        CU_ASSERT_EQUAL(back.items[i].is_string, p.items[i].is_string);
        CU_ASSERT_EQUAL(back.items[i].is_integer, p.items[i].is_integer);
    }
    CU_ASSERT_EQUAL(back.items[0].number, 0.001);
    CU_ASSERT_EQUAL(back.items[1].number, -7);
    CU_ASSERT_STRING_EQUAL(back.items[2].text, p.items[2].text);
    pq_params_free(&back);
    CU_ASSERT_EQUAL(pq_params_unpack(buf, len - 1, &back), PQ_EINVAL);
    CU_ASSERT_EQUAL(back.n, 0);
    free(buf);
    static const char not_a_map[] = {(char)0x93, 1, 2, 3};
    CU_ASSERT_EQUAL(pq_params_unpack(not_a_map, sizeof not_a_map, &back),
                    PQ_EINVAL);
}

static void test_params_copy(void)
{
    pq_params p = sample(), c = {0};
    CU_ASSERT_EQUAL_FATAL(pq_params_copy(&p, &c), PQ_OK);
    CU_ASSERT_EQUAL(c.n, 3);
    CU_ASSERT_PTR_NOT_EQUAL(c.items[0].name, p.items[0].name);
    CU_ASSERT_STRING_EQUAL(c.items[2].text, p.items[2].text);
    pq_params_free(&c);
    CU_ASSERT_PTR_NULL(c.items);
}

static void test_result_parse(void)
{
    static const char text[] = "# comment\n"
                               "score=1.5\n"
                               "  score = 2.5  \n"
                               "garbage line\n"
                               "cost=10\n"
                               "loss=3\n"
                               "step=100\r\n"
                               "=7\n"
                               "cost=nan\n"
                               "cost=12";
    pq_result r;
    CU_ASSERT_EQUAL_FATAL(
        pq_result_parse(text, sizeof text - 1, NULL, NULL, &r), PQ_OK);
    CU_ASSERT_TRUE(r.has_metric);
    CU_ASSERT_EQUAL(r.metric, 2.5);
    CU_ASSERT_TRUE(r.has_cost);
    CU_ASSERT_EQUAL(r.cost, 12);
    CU_ASSERT_TRUE(r.has_step);
    CU_ASSERT_EQUAL(r.step, 100);

    CU_ASSERT_EQUAL(pq_result_parse(text, sizeof text - 1, "loss", "none", &r),
                    PQ_OK);
    CU_ASSERT_TRUE(r.has_metric);
    CU_ASSERT_EQUAL(r.metric, 3);
    CU_ASSERT_FALSE(r.has_cost);

    static const char nan_last[] = "score=1\nscore=inf\n";
    CU_ASSERT_EQUAL(
        pq_result_parse(nan_last, sizeof nan_last - 1, NULL, NULL, &r), PQ_OK);
    CU_ASSERT_FALSE(r.has_metric);
    static const char nan_only[] = "score=NaN";
    CU_ASSERT_EQUAL(
        pq_result_parse(nan_only, sizeof nan_only - 1, NULL, NULL, &r), PQ_OK);
    CU_ASSERT_FALSE(r.has_metric);
    CU_ASSERT_EQUAL(pq_result_parse("", 0, NULL, NULL, &r), PQ_OK);
    CU_ASSERT_FALSE(r.has_metric || r.has_cost || r.has_step);
}

/* One line by the same rule: the key trimmed and matched whole, a finite
 * decimal value; anything else leaves *v as it was. */
static void test_result_line(void)
{
    static const char good[] = "  loss = 2.5e-1\r", other[] = "losses=1",
                      hex[] = "loss=0x10", none[] = "loss 1";
    double v = 7;
    CU_ASSERT_EQUAL(pq_result_line_value(good, sizeof good - 1, "loss", &v), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.25, 0);
    v = 7;
    CU_ASSERT_EQUAL(pq_result_line_value(other, sizeof other - 1, "loss", &v),
                    -1);
    CU_ASSERT_EQUAL(pq_result_line_value(hex, sizeof hex - 1, "loss", &v), -1);
    CU_ASSERT_EQUAL(pq_result_line_value(none, sizeof none - 1, "loss", &v),
                    -1);
    CU_ASSERT_DOUBLE_EQUAL(v, 7, 0);
}

/* Values are read exactly as docs/user-guide.md says: a whole decimal
 * number or nothing; the last line of a key wins even when it is not a
 * number (a trailing nan means the run diverged: no score). */
static void test_result_exact(void)
{
    static const char nul[] = "score=15\0junk\n";
    pq_result r;
    CU_ASSERT_EQUAL(pq_result_parse(nul, sizeof nul - 1, NULL, NULL, &r),
                    PQ_OK);
    CU_ASSERT_FALSE(r.has_metric);
    CU_ASSERT_TRUE(r.metric_rejected);

    static const char nan_after[] = "score=1\nscore=nan\n";
    CU_ASSERT_EQUAL(
        pq_result_parse(nan_after, sizeof nan_after - 1, NULL, NULL, &r),
        PQ_OK);
    CU_ASSERT_FALSE(r.has_metric);
    CU_ASSERT_TRUE(r.metric_rejected);
    static const char nan_before[] = "score=nan\nscore=1\n";
    CU_ASSERT_EQUAL(
        pq_result_parse(nan_before, sizeof nan_before - 1, NULL, NULL, &r),
        PQ_OK);
    CU_ASSERT_TRUE(r.has_metric && r.metric == 1);
    CU_ASSERT_FALSE(r.metric_rejected);

    static const struct {
        const char *value;
        int ok;
        double want;
    } cases[] = {
        {"1e5", 1, 1e5},
        {".5", 1, 0.5},
        {"5.", 1, 5},
        {"+2", 1, 2},
        {" -2.5e-3 ", 1, -2.5e-3},
        {"0x10", 0, 0},
        {"1e", 0, 0},
        {"--1", 0, 0},
        {"1e999", 0, 0},
        {"inf", 0, 0},
        {"1,5", 0, 0},
        {"", 0, 0},
        {".", 0, 0},
        {"1 2", 0, 0},
        {"e5", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[64];
        int n = snprintf(line, sizeof line, "score=%s", cases[i].value);
        CU_ASSERT_EQUAL(pq_result_parse(line, (size_t)n, NULL, NULL, &r),
                        PQ_OK);
        CU_ASSERT_EQUAL(r.has_metric, cases[i].ok);
        if (r.has_metric != cases[i].ok)
            fprintf(stderr, "\n    score=%s: has_metric %d", cases[i].value,
                    r.has_metric);
        if (cases[i].ok)
            CU_ASSERT_EQUAL(r.metric, cases[i].want);
    }
}

/* Names that give the same variable are refused, naming both. */
static void test_env_collisions(void)
{
    static const char *const clash[] = {"a.b", "lr", "A/B"};
    static const char *const fine[] = {"a.b", "lr", "ab"};
    static const char *const empty[] = {"lr", ""};
    char why[600];
    CU_ASSERT_EQUAL(pq_env_names_check(clash, 3, why, sizeof why), PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "'a.b'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "'A/B'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "PROTEIN_PARAM_A_B"));
    CU_ASSERT_EQUAL(pq_env_names_check(fine, 3, why, sizeof why), PQ_OK);
    CU_ASSERT_STRING_EQUAL(why, "");
    CU_ASSERT_EQUAL(pq_env_names_check(empty, 2, why, sizeof why), PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no environment variable name"));

    pq_param items[2] = {{.name = "a_b", .number = 1},
                         {.name = "a.b", .number = 2}};
    pq_params p = {2, items};
    pq_env env;
    CU_ASSERT_EQUAL(pq_env_build("s", 1, &p, NULL, NULL, NULL, NULL, &env),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(env.n, 0);
    CU_ASSERT_EQUAL(pq_params_env_check(&p, why, sizeof why), PQ_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "'a_b' and 'a.b'"));
}

/* JSON and msgpack decoders refuse what cannot round-trip: empty names,
 * NUL characters, integers beyond int64 (JSON keeps them as numbers). */
static void test_decoders_strict(void)
{
    pq_params p;
    CU_ASSERT_EQUAL(pq_params_from_json("{\"\": 1}", &p), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_params_from_json("{\"a\\u0000b\": 1}", &p), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_params_from_json("{\"a\": \"x\\u0000\"}", &p),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL_FATAL(
        pq_params_from_json("{\"big\": 100000000000000000000000}", &p), PQ_OK);
    CU_ASSERT_FALSE(p.items[0].is_integer);
    char *json = NULL;
    CU_ASSERT_EQUAL(pq_params_to_json(&p, &json), PQ_OK);
    CU_ASSERT_STRING_EQUAL(json, "{\"big\": 1e+23}");
    free(json);
    pq_params_free(&p);

    /* msgpack {"a": 2^64 - 1}, {"": 1}, {"a\0b": 1}, {"a": "x\0"} */
    static const char huge[] =
        "\x81\xa1\x61\xcf\xff\xff\xff\xff\xff\xff\xff\xff";
    static const char empty[] = "\x81\xa0\x01";
    static const char nul_key[] = "\x81\xa3\x61\x00\x62\x01";
    static const char nul_val[] = "\x81\xa1\x61\xa2\x78\x00";
    CU_ASSERT_EQUAL(pq_params_unpack(huge, sizeof huge - 1, &p), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_params_unpack(empty, sizeof empty - 1, &p), PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_params_unpack(nul_key, sizeof nul_key - 1, &p),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(pq_params_unpack(nul_val, sizeof nul_val - 1, &p),
                    PQ_EINVAL);
    CU_ASSERT_EQUAL(p.n, 0);

    /* 12 bytes declaring a map of 2^32 - 2^28 entries (found by
     * fuzz_msgpack: msgpack-c asked for 64 GiB before reading them). */
    static const char huge_map[] =
        "\x81\xa1\x61\xdf\xef\xff\xff\xff\xff\xff\xff\xff";
    CU_ASSERT_EQUAL(pq_params_unpack(huge_map, sizeof huge_map - 1, &p),
                    PQ_EINVAL);
    pq_observation o;
    CU_ASSERT_EQUAL(pq_observation_decode(huge_map, sizeof huge_map - 1, &o),
                    PQ_EINVAL);
    static const char long_str[] = "\x81\xa1\x61\xdb\xff\xff\xff\xff";
    CU_ASSERT_EQUAL(pq_params_unpack(long_str, sizeof long_str - 1, &p),
                    PQ_EINVAL);
}

static void test_names(void)
{
    CU_ASSERT_TRUE(pq_sweep_name_valid("ppo-lr_2.v1"));
    CU_ASSERT_FALSE(pq_sweep_name_valid(""));
    CU_ASSERT_FALSE(pq_sweep_name_valid(NULL));
    CU_ASSERT_FALSE(pq_sweep_name_valid("-x"));
    CU_ASSERT_FALSE(pq_sweep_name_valid(".x"));
    CU_ASSERT_FALSE(pq_sweep_name_valid("a}b"));
    CU_ASSERT_FALSE(pq_sweep_name_valid("a b"));
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    CU_ASSERT_FALSE(pq_sweep_name_valid(long_name));
    long_name[64] = '\0';
    CU_ASSERT_TRUE(pq_sweep_name_valid(long_name));
    for (int s = 0; s < PQ_TRIAL_NSTATES; s++)
        CU_ASSERT_EQUAL(
            pq_trial_state_parse(pq_trial_state_name((pq_trial_state)s)), s);
    CU_ASSERT_EQUAL(pq_trial_state_parse("bogus"), -1);
    CU_ASSERT_STRING_EQUAL(pq_sweep_state_name(PQ_SWEEP_PAUSED), "paused");
    CU_ASSERT_STRING_EQUAL(protein_strerror(PQ_EBUDGET),
                           "the sweep's trial budget is used up");
    CU_ASSERT_STRING_EQUAL(protein_strerror(12345), "unknown error");
}

static const cunit_test tests[] = {
    {"JSON rendering", test_json_render},
    {"JSON round trip", test_json_round_trip},
    {"JSON string literal", test_json_quote},
    {"JSON parse errors", test_json_parse_errors},
    {"JSON values", test_json_values},
    {"arguments", test_args},
    {"environment names", test_env_names},
    {"environment contract", test_env_build},
    {"msgpack round trip", test_msgpack_round_trip},
    {"params copy", test_params_copy},
    {"result files", test_result_parse},
    {"result values read exactly", test_result_exact},
    {"one result line", test_result_line},
    {"environment name collisions", test_env_collisions},
    {"decoders refuse what cannot round-trip", test_decoders_strict},
    {"names and messages", test_names},
};

int main(void)
{
    return cunit_run_suite("queue_params", tests, CUNIT_COUNT(tests));
}
