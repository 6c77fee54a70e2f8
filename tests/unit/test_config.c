/* test_config.c - CUnit suite for sweep configs: YAML and PufferLib INI
 * parsing, validation errors (file, line, key), the canonical YAML writer,
 * load_file and the example configs. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_run.h"
#include "protein.h"

#ifndef PROTEIN_SRCDIR
#error "PROTEIN_SRCDIR must name the source tree (set in tests/config.am)"
#endif

static protein_sweep_config *parse_yaml(const char *text)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char msg[1024];
    int rc;

    memset(&err, 0, sizeof err);
    rc = protein_config_parse_yaml(text, strlen(text), "t.yaml", &cfg, &err);
    if (rc != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "\nunexpected error: %s\n", msg);
    }
    CU_ASSERT_EQUAL(rc, PROTEIN_OK);
    return cfg;
}

static protein_sweep_config *parse_ini(const char *text, const char *file)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char msg[1024];
    int rc;

    memset(&err, 0, sizeof err);
    rc = protein_config_parse_ini(text, strlen(text), file, &cfg, &err);
    if (rc != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "\nunexpected error: %s\n", msg);
    }
    CU_ASSERT_EQUAL(rc, PROTEIN_OK);
    return cfg;
}

/* Parses text (YAML, or INI when ini) expecting PROTEIN_ECONFIG at line
 * with key and a message containing words. */
static void expect_error(int ini, const char *text, int line, const char *key,
                         const char *words)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    const char *file = ini ? "t.ini" : "t.yaml";
    int rc;

    memset(&err, 0, sizeof err);
    rc = ini ? protein_config_parse_ini(text, strlen(text), file, &cfg, &err)
             : protein_config_parse_yaml(text, strlen(text), file, &cfg, &err);
    CU_ASSERT_EQUAL(rc, PROTEIN_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_STRING_EQUAL(err.file, file);
    CU_ASSERT_EQUAL(err.line, line);
    CU_ASSERT_STRING_EQUAL(err.key, key);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, words));
    if (rc != PROTEIN_ECONFIG || err.line != line ||
        strcmp(err.key, key) != 0 || !strstr(err.message, words))
        fprintf(stderr, "\nfor:\n%s\ngot rc %d line %d key '%s' message '%s'\n",
                text, rc, err.line, err.key, err.message);
    protein_config_free(cfg);
}

#define HEAD "name: t\nparameters:\n"

/* ------------------------------------------------------------ YAML */

static void test_defaults(void)
{
    protein_sweep_config *cfg =
        parse_yaml(HEAD "  x: {distribution: uniform, min: 0, max: 1}\n");

    if (!cfg)
        return;
    CU_ASSERT_STRING_EQUAL(cfg->name, "t");
    CU_ASSERT_STRING_EQUAL(cfg->source, "t.yaml");
    CU_ASSERT_EQUAL(cfg->method, PROTEIN_METHOD_PROTEIN);
    CU_ASSERT_STRING_EQUAL(cfg->metric, "score");
    CU_ASSERT_EQUAL(cfg->minimize, 1); /* W&B: no goal is minimize */
    CU_ASSERT_STRING_EQUAL(cfg->cost_metric, "cost");
    CU_ASSERT_PTR_NULL(cfg->cost_param);
    CU_ASSERT_EQUAL(cfg->max_trials, 0);
    CU_ASSERT_EQUAL(cfg->max_suggestion_cost, 3600.0);
    CU_ASSERT_EQUAL(cfg->has_seed, 0);
    CU_ASSERT_EQUAL(cfg->num_random_samples, 10);
    CU_ASSERT_EQUAL(cfg->suggestions_per_pareto, 256);
    CU_ASSERT_EQUAL(cfg->expansion_rate, 1.0);
    CU_ASSERT_EQUAL(cfg->early_stop_quantile, 0.3);
    CU_ASSERT_EQUAL(cfg->gp_max_obs, 0);
    CU_ASSERT_EQUAL(cfg->gp_training_iter, 50);
    CU_ASSERT_EQUAL(cfg->prune_pareto, 1);
    CU_ASSERT_EQUAL_FATAL(cfg->n_params, 1);
    CU_ASSERT_STRING_EQUAL(cfg->params[0].name, "x");
    CU_ASSERT_EQUAL(cfg->params[0].kind, PROTEIN_PARAM_LINEAR);
    CU_ASSERT_EQUAL(cfg->params[0].is_integer, 0);
    CU_ASSERT_EQUAL(cfg->params[0].min, 0.0);
    CU_ASSERT_EQUAL(cfg->params[0].max, 1.0);
    CU_ASSERT_EQUAL(cfg->params[0].scale, 0.5);
    CU_ASSERT_EQUAL(cfg->params[0].has_default, 0);
    CU_ASSERT_EQUAL(cfg->params[0].line, 3);
    protein_config_free(cfg);
}

static void test_options(void)
{
    protein_sweep_config *cfg =
        parse_yaml("name: My.sweep-2_b\n"
                   "method: random\n"
                   "metric: {name: val/loss, goal: minimize}\n"
                   "cost: {name: seconds}\n"
                   "cost_param: steps\n"
                   "max_trials: 500\n"
                   "max_suggestion_cost: 120.5\n"
                   "seed: 18446744073709551615\n"
                   "protein:\n"
                   "  num_random_samples: 3\n"
                   "  suggestions_per_pareto: 64\n"
                   "  expansion_rate: 0.25\n"
                   "  early_stop_quantile: 0\n"
                   "  gp_max_obs: 750\n"
                   "  gp_training_iter: 7\n"
                   "  prune_pareto: false\n"
                   "parameters:\n"
                   "  steps: {distribution: log_normal, min: 1e3, max: 1e6, "
                   "integer: true}\n");

    if (!cfg)
        return;
    CU_ASSERT_STRING_EQUAL(cfg->name, "My.sweep-2_b");
    CU_ASSERT_EQUAL(cfg->method, PROTEIN_METHOD_RANDOM);
    CU_ASSERT_STRING_EQUAL(cfg->metric, "val/loss");
    CU_ASSERT_EQUAL(cfg->minimize, 1);
    CU_ASSERT_STRING_EQUAL(cfg->cost_metric, "seconds");
    CU_ASSERT_STRING_EQUAL(cfg->cost_param, "steps");
    CU_ASSERT_EQUAL(cfg->max_trials, 500);
    CU_ASSERT_EQUAL(cfg->max_suggestion_cost, 120.5);
    CU_ASSERT_EQUAL(cfg->has_seed, 1);
    CU_ASSERT(cfg->seed == UINT64_MAX);
    CU_ASSERT_EQUAL(cfg->num_random_samples, 3);
    CU_ASSERT_EQUAL(cfg->suggestions_per_pareto, 64);
    CU_ASSERT_EQUAL(cfg->expansion_rate, 0.25);
    CU_ASSERT_EQUAL(cfg->early_stop_quantile, 0.0);
    CU_ASSERT_EQUAL(cfg->gp_max_obs, 750);
    CU_ASSERT_EQUAL(cfg->gp_training_iter, 7);
    CU_ASSERT_EQUAL(cfg->prune_pareto, 0);
    protein_config_free(cfg);

    cfg = parse_yaml("name: g\nmethod: grid\nparameters:\n  a: {value: 1}\n");
    if (cfg)
        CU_ASSERT_EQUAL(cfg->method, PROTEIN_METHOD_GRID);
    protein_config_free(cfg);
    cfg = parse_yaml("name: b\nmethod: bayes\nparameters:\n  a: {value: 1}\n");
    if (cfg)
        CU_ASSERT_EQUAL(cfg->method, PROTEIN_METHOD_PROTEIN);
    protein_config_free(cfg);
}

static const protein_param *param(const protein_sweep_config *cfg,
                                  const char *name)
{
    int i = protein_config_find_param(cfg, name);

    CU_ASSERT_FATAL(i >= 0);
    return &cfg->params[i];
}

static void test_distributions(void)
{
    protein_sweep_config *cfg = parse_yaml(
        HEAD "  u: {distribution: uniform, min: -1.5, max: 2.5, default: 0, "
             "scale: 0.25}\n"
             "  i: {distribution: int_uniform, min: 1, max: 8, default: 3}\n"
             "  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1, "
             "scale: auto}\n"
             "  steps: {distribution: log_normal, min: 1024, max: 1048576, "
             "scale: time, integer: true}\n"
             "  gamma: {distribution: logit_normal, min: 0.8, max: 0.999, "
             "default: 0.99}\n"
             "  batch: {distribution: uniform_pow2, min: 16, max: 1024, "
             "default: 64}\n"
             "  opt: {values: [adam, sgd, 3.5], default: sgd}\n"
             "  width: {distribution: categorical, values: [64, 128], "
             "default: 128.0}\n"
             "  env: {value: breakout}\n"
             "  k: {distribution: constant, value: 4}\n"
             "  ui: {distribution: uniform, min: 0, max: 10, integer: yes}\n");
    const protein_param *p;

    if (!cfg)
        return;
    CU_ASSERT_EQUAL(cfg->n_params, 11);
    p = param(cfg, "u");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && !p->is_integer);
    CU_ASSERT(p->min == -1.5 && p->max == 2.5 && p->scale == 0.25);
    CU_ASSERT(p->has_default && p->default_value == 0.0);
    p = param(cfg, "i");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && p->is_integer);
    CU_ASSERT(p->default_value == 3.0 && p->line == 4);
    p = param(cfg, "lr");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && !p->is_integer &&
              p->scale == 0.5);
    CU_ASSERT(p->min == 1e-5 && p->max == 1e-1 && !p->has_default);
    p = param(cfg, "steps");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->is_integer);
    CU_ASSERT_DOUBLE_EQUAL(p->scale, 0.1, 1e-15); /* 1 / (20 - 10) */
    p = param(cfg, "gamma");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOGIT && p->default_value == 0.99);
    p = param(cfg, "batch");
    CU_ASSERT(p->kind == PROTEIN_PARAM_POW2 && p->is_integer);
    CU_ASSERT(p->min == 16 && p->max == 1024 && p->default_value == 64);
    p = param(cfg, "opt");
    CU_ASSERT_EQUAL_FATAL(p->kind, PROTEIN_PARAM_CATEGORICAL);
    CU_ASSERT_EQUAL_FATAL(p->n_values, 3);
    CU_ASSERT_STRING_EQUAL(p->values[0], "adam");
    CU_ASSERT_STRING_EQUAL(p->values[2], "3.5");
    CU_ASSERT(isnan(p->numeric_values[0]) && p->numeric_values[2] == 3.5);
    CU_ASSERT(p->has_default && p->default_value == 1.0);
    p = param(cfg, "width");
    CU_ASSERT(p->kind == PROTEIN_PARAM_CATEGORICAL && p->default_value == 1.0);
    CU_ASSERT(p->numeric_values[0] == 64 && p->numeric_values[1] == 128);
    p = param(cfg, "env");
    CU_ASSERT(p->kind == PROTEIN_PARAM_CONSTANT && p->n_values == 1);
    CU_ASSERT_STRING_EQUAL(p->values[0], "breakout");
    CU_ASSERT(isnan(p->numeric_values[0]) && p->default_value == 0.0);
    p = param(cfg, "k");
    CU_ASSERT(p->kind == PROTEIN_PARAM_CONSTANT && p->numeric_values[0] == 4.0);
    CU_ASSERT(p->has_default && p->default_value == 4.0);
    p = param(cfg, "ui");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && p->is_integer);
    CU_ASSERT_EQUAL(protein_config_find_param(cfg, "nope"), -1);
    CU_ASSERT_EQUAL(protein_config_find_param(NULL, "u"), -1);
    protein_config_free(cfg);
}

static void test_groups(void)
{
    protein_sweep_config *cfg = parse_yaml(
        HEAD
        "  train:\n"
        "    parameters:\n"
        "      lr: {distribution: log_normal, min: 1e-4, max: 1e-2}\n"
        "      adam:\n"
        "        parameters:\n"
        "          beta1: {distribution: logit_normal, min: 0.5, max: 0.99}\n"
        "  seed_offset: {value: 0}\n");

    if (!cfg)
        return;
    CU_ASSERT_EQUAL_FATAL(cfg->n_params, 3);
    CU_ASSERT_STRING_EQUAL(cfg->params[0].name, "train/lr");
    CU_ASSERT_EQUAL(cfg->params[0].line, 5);
    CU_ASSERT_STRING_EQUAL(cfg->params[1].name, "train/adam/beta1");
    CU_ASSERT_STRING_EQUAL(cfg->params[2].name, "seed_offset");
    protein_config_free(cfg);
}

/* One expected YAML error. */
typedef struct yaml_case {
    const char *text;
    int line;
    const char *key;
    const char *words;
} yaml_case;

static const yaml_case yaml_errors[] = {
    {"name: t\nparamters:\n  x: {value: 1}\n", 2, "paramters",
     "did you mean 'parameters'"},
    {"name: t\njob: wandb/x:latest\n", 2, "job", "W&B Launch"},
    {"name: t\nmetrics: []\n", 2, "metrics", "multi-objective"},
    {"name: t\nrun_cap: 0\n", 2, "run_cap", "from 1 to"},
    {"name: t\ncommand: []\n", 2, "command", "empty"},
    {"name: t\ncommand: python\n", 2, "command", "list of arguments"},
    {"name: t\nearly_terminate: {type: median}\n", 2, "early_terminate.type",
     "hyperband"},
    {"name: t\nearly_terminate: {type: hyperband, eta: 3}\n", 2,
     "early_terminate", "min_iter"},
    {"name: t\nearly_terminate: {type: hyperband, min_iter: 3, eta: 1}\n", 2,
     "early_terminate.eta", "> 1"},
    {"name: t\nearly_terminate: {type: hyperband, min_iter: 3, max_iter: 27}\n",
     2, "early_terminate", "give s, or remove max_iter"},
    /* W&B's grid would list five million integers */
    {"name: t\nmethod: grid\nparameters:\n  s: {distribution: int_uniform, "
     "min: 0, max: 5000000}\n",
     4, "s", "or use method: random"},
    {"name: t\nmetric: {name: s, distribution: log}\n", 2,
     "metric.distribution", "linear or percentile"},
    {"name: t\nfoo: 1\n", 2, "foo", "check the spelling"},
    {HEAD "  x: {distribution: uniform, mn: 0, max: 1}\n", 3, "parameters.x.mn",
     "did you mean 'min'"},
    {HEAD "  x:\n    distribution: uniform\n    min: abc\n    max: 1\n", 5,
     "parameters.x.min", "'abc' is not a number"},
    {HEAD "  x: {distribution: uniform, min: 2, max: 2}\n", 3,
     "parameters.x.max", "must be greater than min"},
    {HEAD "  x: {distribution: log_uniform_values, min: 0, max: 1}\n", 3,
     "parameters.x.min", "min > 0"},
    {HEAD "  x: {distribution: log_normal, min: -1, max: 1}\n", 3,
     "parameters.x.min", "min > 0"},
    {HEAD "  x: {distribution: logit_normal, min: 0.5, max: 1}\n", 3,
     "parameters.x.max", "strictly between 0 and 1"},
    {HEAD "  x: {distribution: logit_normal, min: 0, max: 0.5}\n", 3,
     "parameters.x.min", "strictly between 0 and 1"},
    {HEAD "  x: {distribution: uniform_pow2, min: 3, max: 64}\n", 3,
     "parameters.x.min", "use 2 or 4"},
    {HEAD "  x: {distribution: uniform_pow2, min: 2, max: 100}\n", 3,
     "parameters.x.max", "use 64 or 128"},
    {HEAD "  x: {distribution: uniform_pow2, min: 0.5, max: 4}\n", 3,
     "parameters.x.min", "powers of two"},
    {HEAD "  x: {distribution: int_uniform, min: 0.5, max: 4}\n", 3,
     "parameters.x.min", "whole numbers"},
    {"name: t\nparameters: {}\n", 2, "parameters", "no parameters"},
    {"name: t\nparameters:\n", 2, "parameters", "no parameters"},
    {"name: t\n", 1, "parameters", "no parameters"},
    {HEAD "  train/lr: {value: 1}\n  train:\n    parameters:\n      lr: "
          "{value: 2}\n",
     6, "parameters.train.parameters.lr", "defined twice (also on line 3)"},
    {HEAD "  x: {value: 1}\n  x: {value: 2}\n", 4, "parameters.x",
     "appears twice (first on line 3)"},
    {HEAD "  a.b: {value: 1}\n  a_b: {value: 2}\n", 4, "parameters.a_b",
     "parameters 'a.b' and 'a_b' both become PROTEIN_PARAM_A_B in the "
     "environment: rename one"},
    {HEAD "  lr: {value: 1}\n  x: {value: 2}\n  LR: {value: 3}\n", 5,
     "parameters.LR", "'lr' and 'LR' both become PROTEIN_PARAM_LR"},
    {HEAD "  train_lr: {value: 1}\n  train:\n    parameters:\n      lr: "
          "{value: 2}\n",
     6, "parameters.train.parameters.lr",
     "'train_lr' and 'train/lr' both become PROTEIN_PARAM_TRAIN_LR"},
    {HEAD "  x: {distribution: uniform, min: 0, max: 1, default: 2}\n", 3,
     "parameters.x.default", "outside [0, 1]"},
    {HEAD "  x: {distribution: int_uniform, min: 0, max: 9, default: 2.5}\n", 3,
     "parameters.x.default", "whole number"},
    {HEAD "  x: {distribution: uniform_pow2, min: 1, max: 64, default: 5}\n", 3,
     "parameters.x.default", "power of two"},
    {HEAD "  x:\n    values: [a, b]\n    default: c\n", 5,
     "parameters.x.default", "not one of the values"},
    {HEAD "  x: {values: []}\n", 3, "parameters.x.values", "values is empty"},
    {HEAD "  x: {values: 3}\n", 3, "parameters.x.values",
     "expected a list of choices [a, b, ...], found a scalar"},
    {HEAD "  x:\n    values: [1, 2]\n    values: [3]\n", 5,
     "parameters.x.values", "key 'values' appears twice"},
    {HEAD "  x: {value: 1, distribution: uniform, min: 0, max: 1}\n", 3,
     "parameters.x.value", "remove one of them"},
    {HEAD "  x: {values: [1, 2], distribution: uniform, min: 0, max: 1}\n", 3,
     "parameters.x.values", "remove one of them"},
    {HEAD "  x: {value: 1, values: [1]}\n", 3, "parameters.x.value",
     "not both"},
    {HEAD "  x: {values: [1, 2], min: 0}\n", 3, "parameters.x.min",
     "does not apply"},
    {HEAD "  x: {value: 1, default: 1}\n", 3, "parameters.x.default",
     "does not apply"},
    {HEAD "  x: {min: 0}\n", 3, "parameters.x", "needs a distribution"},
    {HEAD "  x: {distribution: normal, min: 0, max: 1}\n", 3,
     "parameters.x.min", "takes mu and sigma"},
    {HEAD "  x: {distribution: normal, sigma: 0}\n", 3, "parameters.x.sigma",
     "> 0"},
    {HEAD "  x: {distribution: beta, a: -1}\n", 3, "parameters.x.a", "> 0"},
    {HEAD "  x: {distribution: uniform, min: 0, max: 1, q: 2}\n", 3,
     "parameters.x.q", "q_* distributions"},
    {HEAD "  x: {distribution: q_uniform, min: 0, max: 1, q: 0}\n", 3,
     "parameters.x.q", "> 0"},
    {HEAD "  x: {distribution: log_uniform, min: 0, max: 1000}\n", 3,
     "parameters.x.max", "natural-log bounds"},
    {HEAD "  x: {values: [a, b], probabilities: [1]}\n", 3,
     "parameters.x.probabilities", "one per value"},
    {HEAD "  x: {values: [a, b], probabilities: [1, -1]}\n", 3,
     "parameters.x.probabilities", ">= 0"},
    {HEAD "  x: {distribution: uniform, min: 0, max: 1, probabilities: [1]}\n",
     3, "parameters.x.probabilities", "categorical"},
    {HEAD "  x: {distribution: unifrom, min: 0, max: 1}\n", 3,
     "parameters.x.distribution", "did you mean 'uniform'"},
    {HEAD "  x: {distribution: log_unifrom, min: 1e-5, max: 1e-2}\n", 3,
     "parameters.x.distribution",
     "did you mean 'log_uniform' (min and max as exponents) or "
     "'log_uniform_values' (min and max as values)?)"},
    {HEAD "  x: {distribution: q_log_unifrom_values, min: 1, max: 8}\n", 3,
     "parameters.x.distribution", "did you mean 'q_log_uniform_values'?)"},
    {HEAD "  x: {distribution: uniform, max: 1}\n", 3, "parameters.x.min",
     "min is missing"},
    {HEAD "  x: {distribution: uniform, min: -1e308, max: 1e308}\n", 3,
     "parameters.x.min", "within -1e300 and 1e300"},
    {HEAD "  x: {distribution: uniform, min: 0, max: 1.7e308}\n", 3,
     "parameters.x.max", "would overflow"},
    {HEAD "  x: {distribution: log_uniform_values, min: 1, max: 1e301}\n", 3,
     "parameters.x.max", "within -1e300"},
    {HEAD "  x: {distribution: int_uniform, min: 0, max: 1e17}\n", 3,
     "parameters.x.max", "2^53"},
    {HEAD "  x: {distribution: uniform, min: 0, max: 1, scale: time}\n", 3,
     "parameters.x.scale", "scale: time needs"},
    {HEAD "  x: {distribution: uniform, min: 0, max: 1, scale: -1}\n", 3,
     "parameters.x.scale", "auto, time or a number > 0"},
    {HEAD
     "  x: {distribution: logit_normal, min: 0.1, max: 0.9, integer: true}\n",
     3, "parameters.x.integer", "does not apply"},
    {HEAD "  x: {distribution: log_normal, min: 1, max: 9, integer: maybe}\n",
     3, "parameters.x.integer", "not a boolean"},
    {HEAD "  x: {distribution: int_uniform, min: 1, max: 9, integer: false}\n",
     3, "parameters.x.integer", "always an integer"},
    {HEAD "  x: 5\n", 3, "parameters.x", "expected a parameter spec"},
    {HEAD "  x: {values: 5}\n", 3, "parameters.x.values", "expected a list"},
    {HEAD "  g:\n    parameters:\n      a: {value: 1}\n    min: 0\n", 4,
     "parameters.g.parameters", "cannot have other keys"},
    {HEAD "  x: {value: \"a\\0b\"}\n", 3, "parameters.x.value", "NUL"},
    {HEAD "  \"a b\": {value: 1}\n", 3, "parameters.a b",
     "parameter name 'a b' is invalid"},
    {"name: t\ncost_param: y\n"
     "parameters:\n  x: {value: 1}\n",
     2, "cost_param", "not a parameter"},
    {"name: t\ncost_param: x\n"
     "parameters:\n  x: {values: [1, 2]}\n",
     2, "cost_param", "must be numeric"},
    {"name: t\nmethod: hyperband\n", 2, "method", "random or grid"},
    {"name: t\nmethod: custom\n", 2, "method", "W&B Launch scheduler"},
    {"name: t\nmetric: score\n", 2, "metric", "expected a mapping"},
    {"name: t\nmetric: {name: score, goal: up}\n", 2, "metric.goal",
     "maximize or minimize"},
    {"name: t\nmetric: {name: a=b}\n", 2, "metric.name",
     "cannot be a result key"},
    {"name: t\nmetric: {nme: a}\n", 2, "metric.nme", "did you mean 'name'"},
    {"name: t\ncost: {name: \"\"}\n", 2, "cost.name", "cannot be a result key"},
    {"name: t\nmax_trials: 0\n", 2, "max_trials", "from 1 to"},
    {"name: t\nmax_trials: 1.5\n", 2, "max_trials", "whole number"},
    {"name: t\nmax_suggestion_cost: 0\n", 2, "max_suggestion_cost",
     "number > 0"},
    {"name: t\nseed: -1\n", 2, "seed", "whole number from 0"},
    {"name: t\nseed: 18446744073709551616\n", 2, "seed", "whole number from 0"},
    {"name: t\nprotein:\n  early_stop_quantile: 2\n", 3,
     "protein.early_stop_quantile", "<= 1"},
    {"name: t\nprotein:\n  num_random: 2\n", 3, "protein.num_random",
     "did you mean 'num_random_samples'"},
    {"name: t\nprotein:\n  prune_pareto: 2\n", 3, "protein.prune_pareto",
     "not a boolean"},
    {"name: t\nname: u\n", 2, "name", "appears twice"},
    {"name: t\nparameters:\n  x: {value: 1\n", 4, "", "invalid YAML"},
    {"name: t\n  bad: indent\n", 2, "", "invalid YAML"},
    {"name: t\n---\nname: u\n", 2, "", "second YAML document"},
    {"- a\n- b\n", 1, "", "expected a mapping of sweep settings"},
    {"", 1, "", "empty"},
    {"? [a]\n: 1\n", 1, "", "expected a plain key"},
    {HEAD "  a: &g {parameters: {b: {parameters: {c: {parameters: {d: "
          "{parameters: {e: {parameters: {f: {parameters: {g: {parameters: {h: "
          "{parameters: {i: {parameters: {j: {value: 1}}}}}}}}}}}}}}}}}}}\n",
     3,
     "parameters.a.parameters.b.parameters.c.parameters.d.parameters.e."
     "parameters.f.parameters.g.parameters.h.parameters.i",
     "deeper than 8"},
};

static void test_yaml_errors(void)
{
    size_t i;

    for (i = 0; i < sizeof yaml_errors / sizeof yaml_errors[0]; i++)
        expect_error(0, yaml_errors[i].text, yaml_errors[i].line,
                     yaml_errors[i].key, yaml_errors[i].words);
}

/* JSON values that a written config could not hold are refused when read
 * (fuzz_config found a long key that YAML cannot write back as a plain
 * key); a raw line separator inside one is written escaped. */
static void test_json_value_limits(void)
{
    char text[1400], key[1002];
    protein_sweep_config *cfg = NULL, *back = NULL;
    protein_error err;
    char *yaml = NULL;

    memset(key, 'k', 1001);
    key[1001] = '\0';
    snprintf(text, sizeof text, HEAD "  x: {values: [{\"%s\": 1}, 2]}\n", key);
    expect_error(0, text, 3, "parameters.x.values",
                 "plain keys of at most 1000 characters");
    expect_error(0,
                 HEAD "  x: {values: "
                      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]"
                      "]]]]]]]]]]]]]}\n",
                 3, "parameters.x.values", "deeper than 32");

    static const char sep[] = HEAD "  x: {values: [{\"a\\u2028b\": 1}, 2]}\n";
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(sep, strlen(sep), "t.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_config_to_yaml(cfg, &yaml), PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(yaml, "a\\u2028b"));
    CU_ASSERT_EQUAL(
        protein_config_parse_yaml(yaml, strlen(yaml), "w.yaml", &back, &err),
        PROTEIN_OK);
    free(yaml);
    protein_config_free(cfg);
    protein_config_free(back);

    /* "__061" is a string (YAML 1.1 numbers start with a digit), so it
     * stays one when written and read back (fuzz_config). */
    static const char under[] = HEAD "  x: {values: [__061, 2]}\n";
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(under, strlen(under), "t.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(cfg->params[0].value_types[0], PROTEIN_VALUE_STRING);
    CU_ASSERT_STRING_EQUAL(cfg->params[0].values[0], "__061");
    protein_config_free(cfg);

    /* "+80" inside a list value: an int, as PyYAML reads it, so written
     * "80" (not "8e+01", a YAML 1.1 string). */
    static const char plus[] = HEAD "  x: {values: [[+80], 2]}\n";
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(plus, strlen(plus), "t.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(cfg->params[0].values[0], "[80]");
    CU_ASSERT_EQUAL_FATAL(protein_config_to_yaml(cfg, &yaml), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(yaml, strlen(yaml), "w.yaml", &back, &err),
        PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(back->params[0].values[0], "[80]");
    free(yaml);
    protein_config_free(cfg);
    protein_config_free(back);

    /* DEL is written escaped too (YAML refuses it raw). */
    static const char del[] = HEAD "  x: {values: [{\"a\\x7fb\": 1}, 2]}\n";
    cfg = back = NULL;
    yaml = NULL;
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(del, strlen(del), "t.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_config_to_yaml(cfg, &yaml), PROTEIN_OK);
    CU_ASSERT_EQUAL(
        protein_config_parse_yaml(yaml, strlen(yaml), "w.yaml", &back, &err),
        PROTEIN_OK);
    free(yaml);
    protein_config_free(cfg);
    protein_config_free(back);
}

/* Deep flow nesting is refused up front (libyaml is quadratic in it). */
static void test_deep_nesting(void)
{
    size_t n = 100000, i;
    char *text = malloc(2 * n + 32);

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    strcpy(text, "name: t\nparameters: ");
    for (i = 0; i < n; i++)
        strcat(text + 20 + i, "[");
    expect_error(0, text, 2, "", "deeper than 256");
    free(text);
}

static void test_bad_arguments(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char *text = NULL;

    CU_ASSERT_EQUAL(protein_config_parse_yaml(NULL, 0, NULL, &cfg, &err),
                    PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_config_parse_yaml("a: 1", 4, NULL, NULL, &err),
                    PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_config_parse_ini(NULL, 0, NULL, &cfg, &err),
                    PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_config_load_file(NULL, &cfg, &err), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_config_to_yaml(NULL, &text), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_config_write_yaml(NULL, stdout), PROTEIN_EINVAL);
    CU_ASSERT_PTR_NULL(cfg);
    /* a NULL err is allowed: only the status comes back */
    CU_ASSERT_EQUAL(protein_config_parse_yaml("name: t\n", 8, NULL, &cfg, NULL),
                    PROTEIN_ECONFIG);
    protein_config_free(NULL);
}

/* ------------------------------------------------------------ INI */

static const char puffer_ini[] = "; PufferLib-like config\n"
                                 "[base]\n"
                                 "env_name = breakout\n"
                                 "[train]\n"
                                 "learning_rate = 0.0003\n"
                                 "[sweep]\n"
                                 "method = Protein\n"
                                 "metric = environment/score\n"
                                 "goal = minimize\n"
                                 "downsample = 5\n"
                                 "max_runs = 100\n"
                                 "max_suggestion_cost = 600\n"
                                 "early_stop_quantile = 0.2\n"
                                 "prune_pareto = False\n"
                                 "use_gpu = True\n"
                                 "metric_distribution = linear\n"
                                 "match_env = 1\n"
                                 "\n"
                                 "[sweep.train.total_timesteps]\n"
                                 "distribution = log_normal\n"
                                 "min = 3e7\n"
                                 "max = 1e10\n"
                                 "mean = 5e7\n"
                                 "scale = time\n"
                                 "[sweep.train.learning_rate]\n"
                                 "distribution = log_normal\n"
                                 "min: 1e-5\n"
                                 "max = 1e-1\n"
                                 "scale = auto\n"
                                 "[sweep.train.gamma]\n"
                                 "distribution = \"logit_normal\"\n"
                                 "min = 0.8\n"
                                 "max = 0.9999\n"
                                 "[sweep.policy.hidden_size]\n"
                                 "distribution = uniform_pow2\n"
                                 "min = 16\n"
                                 "max = 1024\n"
                                 "[sweep.vec.num_envs]\n"
                                 "Distribution = int_uniform\n"
                                 "min = 1\n"
                                 "max = 8\n"
                                 "mean = 4\n"
                                 "scale = 1.5\n";

static void test_ini(void)
{
    protein_sweep_config *cfg = parse_ini(puffer_ini, "configs/breakout.ini");
    const protein_param *p;

    if (!cfg)
        return;
    CU_ASSERT_STRING_EQUAL(cfg->name, "breakout");
    CU_ASSERT_STRING_EQUAL(cfg->source, "configs/breakout.ini");
    CU_ASSERT_EQUAL(cfg->method, PROTEIN_METHOD_PROTEIN);
    CU_ASSERT_STRING_EQUAL(cfg->metric, "environment/score");
    CU_ASSERT_EQUAL(cfg->minimize, 1);
    CU_ASSERT_EQUAL(cfg->max_trials, 100);
    CU_ASSERT_EQUAL(cfg->max_suggestion_cost, 600.0);
    CU_ASSERT_EQUAL(cfg->early_stop_quantile, 0.2);
    CU_ASSERT_EQUAL(cfg->prune_pareto, 0);
    CU_ASSERT_STRING_EQUAL(cfg->cost_param, "train/total_timesteps");
    CU_ASSERT_EQUAL_FATAL(cfg->n_params, 5);
    p = param(cfg, "train/total_timesteps");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->has_default &&
              p->default_value == 5e7);
    CU_ASSERT_DOUBLE_EQUAL(p->scale, 1.0 / (log2(1e10) - log2(3e7)), 1e-15);
    CU_ASSERT_EQUAL(p->line, 19);
    p = param(cfg, "train/learning_rate");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->min == 1e-5 &&
              p->scale == 0.5);
    p = param(cfg, "train/gamma");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOGIT && p->max == 0.9999);
    p = param(cfg, "policy/hidden_size");
    CU_ASSERT(p->kind == PROTEIN_PARAM_POW2);
    p = param(cfg, "vec/num_envs");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && p->is_integer &&
              p->scale == 1.5);
    CU_ASSERT(p->default_value == 4.0);
    protein_config_free(cfg);
}

static void test_ini_options(void)
{
    protein_sweep_config *cfg = parse_ini(
        "\xef\xbb\xbf[sweep]\nname = named\nsweep_only = policy, lr,n\n"
        "seed = 5\n"
        "cost_param = vec/n\n"
        "[sweep.train.lr]\ndistribution = uniform\nmin = 0\nmax = 1\n"
        "[sweep.policy.width]\ndistribution = uniform\nmin = 0\nmax = 1\n"
        "[sweep.vec.n]\ndistribution = int_uniform\nmin = 0\nmax = 1\n",
        NULL);
    if (!cfg)
        return;
    CU_ASSERT_STRING_EQUAL(cfg->name, "named");
    CU_ASSERT_PTR_NULL(cfg->source);
    CU_ASSERT(cfg->has_seed && cfg->seed == 5);
    /* PufferLib matches sweep_only on the last name part: "policy" keeps
     * nothing, "lr" keeps train/lr, "n" keeps vec/n */
    CU_ASSERT_EQUAL(cfg->n_params, 2);
    CU_ASSERT_EQUAL(protein_config_find_param(cfg, "policy/width"), -1);
    CU_ASSERT_STRING_EQUAL(cfg->cost_param, "vec/n");
    protein_config_free(cfg);
}

/* PufferLib's C reader (src/ini.h) ends a line at '#' or ';' outside
 * quotes, with or without a space before it. */
static void test_ini_inline_comments(void)
{
    protein_sweep_config *cfg =
        parse_ini("[sweep] ; settings\n"
                  "metric = 'env;perf' # quoted text keeps ';'\n"
                  "goal = minimize;lower is better\n"
                  "name = named # the sweep's name\n"
                  "[sweep.train.learning_rate]\n"
                  "distribution = log_normal # base 10\n"
                  "min = 0.0005 # comment\n"
                  "max = 0.01;x\n"
                  "scale = auto\t# 0.5\n",
                  "c.ini");
    const protein_param *p;

    if (!cfg)
        return;
    CU_ASSERT_STRING_EQUAL(cfg->metric, "env;perf");
    CU_ASSERT_EQUAL(cfg->minimize, 1);
    CU_ASSERT_STRING_EQUAL(cfg->name, "named");
    CU_ASSERT_EQUAL_FATAL(cfg->n_params, 1);
    p = param(cfg, "train/learning_rate");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->min == 0.0005 &&
              p->max == 0.01 && p->scale == 0.5);
    protein_config_free(cfg);
}

static void test_ini_errors(void)
{
    static const yaml_case cases[] = {
        {"[sweep]\nmetrc = score\n", 2, "sweep.metrc", "did you mean 'metric'"},
        {"[sweep]\ngoal = up\n", 2, "sweep.goal", "maximize or minimize"},
        {"[sweep]\nmax_runs = 0\n", 2, "sweep.max_runs", "from 1 to"},
        {"[sweep]\ngoal = maximize\ngoal = minimize\n", 3, "sweep.goal",
         "set twice"},
        {"[sweep]\n[sweep.train.lr]\ndistribution = uniform\nmin = abc\nmax = "
         "1\n",
         4, "sweep.train.lr.min", "not a number"},
        {"[sweep]\n[sweep.train.lr]\ndistribution = uniform\nmin = 0\nmax = "
         "1\nmeam = 0.5\n",
         6, "sweep.train.lr.meam", "did you mean 'mean'"},
        {"[sweep]\n[sweep.train.lr]\ndistribution = uniform\nmin = 0\nmax = "
         "1\nmean = 5\n",
         6, "sweep.train.lr.mean", "outside [0, 1]"},
        {"[sweep]\n[sweep.train.lr]\nmin = 0\nmin = 1\n", 4,
         "sweep.train.lr.min", "set twice"},
        {"[sweep]\n[sweep.a.b]\ndistribution = uniform\nmin = 0\nmax = "
         "1\n[sweep.a.b]\n",
         6, "sweep.a.b", "appears twice"},
        {"[sweep]\n[sweep.a.b-c]\ndistribution = uniform\nmin = 0\nmax = "
         "1\n[sweep.a.b_c]\ndistribution = uniform\nmin = 0\nmax = 1\n",
         6, "sweep.a.b_c",
         "parameters 'a/b-c' and 'a/b_c' both become PROTEIN_PARAM_A_B_C in "
         "the environment: rename one"},
        {"[sweep]\n[sweep..b]\n", 2, "", "does not name a parameter"},
        {"[sweep]\n[sweep.a]\ndistribution = uniform\nmin = 0\nmax = "
         "1\n[sweep]\n",
         6, "sweep", "appears twice"},
        {"[sweep]\njust words\n", 2, "", "key = value"},
        {"[sweep\n", 1, "", "must end with ']'"},
        {"x = 1\n[sweep]\n", 1, "x", "outside any section"},
        {"[train]\nlr = 1\n", 1, "sweep", "no [sweep] section"},
        {"[sweep]\nmethod = protein\n", 1, "sweep", "no parameters"},
        /* read over no default.ini: the message says where PufferLib's
         * [sweep.*] sections would come from */
        {"[sweep]\nmethod = protein\n", 1, "sweep",
         "no default.ini next to this file"},
        {"[sweep]\nsweep_only = zzz\n[sweep.a.b]\ndistribution = uniform\nmin "
         "= 0\nmax = 1\n",
         2, "sweep.sweep_only", "matches no parameter"},
        {"[sweep]\ncost_param = a/c\n[sweep.a.b]\ndistribution = uniform\nmin "
         "= 0\nmax = 1\n",
         2, "sweep.cost_param", "not a parameter"},
        {"[sweep]\n = 1\n", 2, "", "key is missing"},
        {"[sweep]\nmethod = bayes\n[sweep.metric]\ngoal = maximize\n", 3, "",
         "older W&B-style INI layout"},
        {"[sweep]\n[sweep.parameters.train.parameters.lr]\ndistribution = "
         "uniform\n",
         2, "", "older W&B-style INI layout"},
        {"[sweep]\nmetric_distribution = logit\n", 2,
         "sweep.metric_distribution", "linear or percentile"},
        {"[sweep]\ndownsample = -1\n", 2, "sweep.downsample", "whole number"},
        /* W&B's names mean other things: log_uniform's bounds are logs */
        {"[sweep]\n[sweep.train.lr]\ndistribution = log_uniform\nmin = "
         "1e-5\nmax = 0.1\n",
         3, "sweep.train.lr", "not one of PufferLib's"},
        /* an env file copied away from its default.ini */
        {"[base]\nenv_name = x\n[sweep.train.lr]\ndistribution = "
         "uniform\nmin = 0\nmax = 1\n",
         3, "sweep", "but no [sweep] section, and no default.ini"},
    };
    static const char one[] =
        "[sweep]\n[sweep.a.b]\ndistribution = uniform\nmin = 0\nmax = 1\n";
    protein_sweep_config *cfg = NULL;
    protein_error err;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(1, cases[i].text, cases[i].line, cases[i].key,
                     cases[i].words);
    /* the name comes from the file name, made a valid one */
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(protein_config_parse_ini(
                              one, strlen(one), "dir/my sweep.ini", &cfg, &err),
                          PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, "my-sweep");
    protein_config_free(cfg);
    cfg = NULL;
    CU_ASSERT_EQUAL(
        protein_config_parse_ini(one, strlen(one), NULL, &cfg, &err),
        PROTEIN_ECONFIG);
    CU_ASSERT_STRING_EQUAL(err.key, "sweep.name");
    CU_ASSERT_EQUAL(
        protein_config_parse_ini("[sweep]\n\0x = 1\n", 15, "n.ini", &cfg, &err),
        PROTEIN_ECONFIG);
    CU_ASSERT_EQUAL(err.line, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "NUL"));
    CU_ASSERT_PTR_NULL(cfg);
}

static void check_round_trip(const protein_sweep_config *cfg);

/* PufferLib's reading: Python number literals, percentile, downsample,
 * keys it has and protein does not act on named in warnings. */
static void test_ini_pufferlib(void)
{
    protein_sweep_config *cfg = parse_ini(
        "[sweep]\nmethod = Protein\nmetric = score\ngoal = maximize\n"
        "metric_distribution = percentile\ndownsample = 5\nuse_gpu = True\n"
        "match_num_games = 1024\n"
        "[sweep.train.total_timesteps]\ndistribution = log_normal\n"
        "min = 30_000_000\nmax = 1_000_000_000\nmean = 100_000_000\n"
        "scale = time\n",
        "p.ini");

    if (!cfg)
        return;
    CU_ASSERT_EQUAL(cfg->params[0].min, 3e7);
    CU_ASSERT_EQUAL(cfg->params[0].max, 1e9);
    CU_ASSERT_EQUAL(cfg->params[0].default_value, 1e8);
    CU_ASSERT_EQUAL(cfg->percentile_metric, 1);
    CU_ASSERT_EQUAL(cfg->downsample, 5);
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "sweep.use_gpu: ignored"));
    CU_ASSERT_PTR_NOT_NULL(
        cfg->warnings &&
        strstr(cfg->warnings, "sweep.match_num_games: ignored"));
    check_round_trip(cfg);
    protein_config_free(cfg);
}

/* A metric without a goal is minimized, as W&B does; a config that does
 * not say so gets one warning naming the file, the line and the metric,
 * since a score that is higher for better runs would be searched the
 * wrong way. */
/* run_cap (W&B's name) and max_trials (protein's) are one setting: a file
 * that gives both gets a warning naming the second and the line of the
 * first, rather than the last one winning without a word (a warning, so
 * that sweeps stored with both still load). */
static void test_yaml_budget_twice(void)
{
    protein_sweep_config *cfg =
        parse_yaml("method: random\nmax_trials: 10\nmetric: {name: s, goal: "
                   "minimize}\nrun_cap: 20\nparameters:\n  x: {min: 0.0, "
                   "max: 1.0}\n");

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->max_trials, 20);
    CU_ASSERT_PTR_NOT_NULL(
        cfg->warnings &&
        strstr(cfg->warnings,
               "t.yaml:4: run_cap: run_cap and max_trials are one setting, "
               "the budget, which max_trials gave on line 2; this one, the "
               "last, counts: keep one"));
    protein_config_free(cfg);
    cfg = parse_yaml("method: random\nrun_cap: 20\nmetric: {name: s, goal: "
                     "minimize}\nparameters:\n  x: {min: 0.0, max: 1.0}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NULL(cfg->warnings);
    protein_config_free(cfg);
}

static void test_yaml_goal_warning(void)
{
    static const char *const space = "parameters:\n  x: {min: 0.0, max: 1.0}\n";
    char text[256];
    protein_sweep_config *cfg;

    snprintf(text, sizeof text, "method: random\nmetric: {name: acc}\n%s",
             space);
    cfg = parse_yaml(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->minimize, 1);
    CU_ASSERT_PTR_NOT_NULL(
        cfg->warnings && strstr(cfg->warnings, "t.yaml:2: metric.goal: none "
                                               "given, so 'acc' is minimized"));
    protein_config_free(cfg);
    /* no metric at all: the default one, 'score', is minimized */
    snprintf(text, sizeof text, "method: random\n%s", space);
    cfg = parse_yaml(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings,
                                  "t.yaml:1: metric.goal: none given, so "
                                  "'score' is minimized"));
    protein_config_free(cfg);
    /* a goal written, either way: no warning */
    snprintf(text, sizeof text,
             "method: random\nmetric: {name: acc, goal: minimize}\n%s", space);
    cfg = parse_yaml(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NULL(cfg->warnings);
    protein_config_free(cfg);
    /* a W&B program without a metric: the one warning about the metric
     * says to add the goal too */
    snprintf(text, sizeof text, "program: train.py\nmethod: random\n%s", space);
    cfg = parse_yaml(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "metric: none given"));
    CU_ASSERT_PTR_NULL(cfg->warnings &&
                       strstr(cfg->warnings, "metric.goal: none given"));
    protein_config_free(cfg);
}

/* A parameter whose value in its own section is an int is parsed by
 * PufferLib's CLI as an int: handed out as an integer when its bounds
 * allow, warned about by name when they do not; a float value, or a later
 * float assignment of the key, leaves it a float. */
static void test_ini_cli_types(void)
{
    protein_sweep_config *cfg = parse_ini(
        "[train]\ntotal_timesteps = 10_000_000\ngamma = 1\nlr = 1\n"
        "lr = 0.5\n[env]\nring = 1\n"
        "[sweep]\nmethod = Protein\nmetric = score\n"
        "[sweep.train.total_timesteps]\ndistribution = log_normal\n"
        "min = 1e6\nmax = 1e8\nmean = 2_000_000\nscale = auto\n"
        "[sweep.train.gamma]\ndistribution = logit_normal\nmin = 0.8\n"
        "max = 0.99\nmean = 0.9\nscale = auto\n"
        "[sweep.train.lr]\ndistribution = uniform\nmin = 0\nmax = 4\n"
        "mean = 1\nscale = auto\n"
        "[sweep.env.ring]\ndistribution = uniform\nmin = 0.5\nmax = 4\n"
        "mean = 1\nscale = auto\n",
        "t.ini");

    if (!cfg)
        return;
    CU_ASSERT_EQUAL(cfg->params[0].is_integer, 1);
    CU_ASSERT_EQUAL(cfg->params[1].is_integer, 0); /* logit: never */
    CU_ASSERT_EQUAL(cfg->params[2].is_integer, 0); /* lr = 0.5 came last */
    CU_ASSERT_EQUAL(cfg->params[3].is_integer, 0); /* min 0.5 */
    /* each names the file, the parameter's section line and its key */
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings,
                                  "t.ini:11: sweep.train.total_timesteps: "
                                  "handed out as an integer: PufferLib's CLI "
                                  "parses --train.total-timesteps"));
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "t.ini:29: sweep.env.ring: "
                                                 "PufferLib's CLI parses "
                                                 "--env.ring as an int"));
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "t.ini:17: sweep.train.gamma: "
                                                 "PufferLib's CLI parses "
                                                 "--train.gamma as an int"));
    CU_ASSERT_PTR_NULL(cfg->warnings &&
                       strstr(cfg->warnings, "sweep.train.lr:"));
    check_round_trip(cfg);
    protein_config_free(cfg);
}

/* Writes text to path (a fatal assertion when it cannot). */
static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs(text, fp);
    fclose(fp);
}

/* An environment's INI is read over the default.ini above it, key by key,
 * as PufferLib's configparser.read([default, env]) merges them. */
static void test_ini_merge(void)
{
    char dir[] = "/tmp/test_config.XXXXXX", path[128], def[128];
    protein_sweep_config *cfg = NULL;
    protein_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(def, sizeof def, "%s/default.ini", dir);
    write_text(
        def,
        "[sweep]\nmetric = score\ngoal = maximize\nsweep_only = lr, n\n"
        "[sweep.train.lr]\ndistribution = log_normal\nmin = 1e-5\nmax = 1e-1\n"
        "scale = auto\n[sweep.train.gamma]\ndistribution = logit_normal\n"
        "min = 0.8\nmax = 0.999\nscale = auto\n");
    snprintf(path, sizeof path, "%s/ocean", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/ocean/env.ini", dir);
    write_text(path, "[base]\nenv_name = env\n[sweep]\nmetric = perf\n"
                     "sweep_only = lr, gamma\n[sweep.train.lr]\nmax = 0.5\n");
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(protein_config_load_file(path, &cfg, &err),
                          PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, "env");
    CU_ASSERT_STRING_EQUAL(cfg->metric, "perf");
    CU_ASSERT_EQUAL(cfg->minimize, 0);
    CU_ASSERT_EQUAL_FATAL(cfg->n_params, 2);
    CU_ASSERT_EQUAL(cfg->params[0].min, 1e-5); /* from default.ini */
    CU_ASSERT_EQUAL(cfg->params[0].max, 0.5);  /* from env.ini */
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "default.ini"));
    protein_config_free(cfg);
    cfg = NULL;
    /* an error about a field default.ini set names default.ini's line */
    write_text(path, "[base]\nenv_name = env\n[sweep.train.lr]\nmin = 0.9\n");
    CU_ASSERT_EQUAL(protein_config_load_file(path, &cfg, &err),
                    PROTEIN_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.file, "default.ini"));
    CU_ASSERT_EQUAL(err.line, 8);
    CU_ASSERT_STRING_EQUAL(err.key, "sweep.train.lr.max");
    unlink(path);
    snprintf(path, sizeof path, "%s/ocean", dir);
    rmdir(path);
    unlink(def);
    rmdir(dir);
}

/* A swept key that its section lacks in the whole config (an env file
 * read over default.ini): PufferLib's CLI has no argument for it. */
static void test_ini_missing_key(void)
{
    char dir[] = "/tmp/test_config.XXXXXX", path[128], def[128];
    protein_sweep_config *cfg = NULL;
    protein_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(def, sizeof def, "%s/default.ini", dir);
    write_text(def, "[train]\nlr = 0.5\n[sweep]\nmetric = score\n"
                    "[sweep.train.lr]\ndistribution = uniform\nmin = 0\n"
                    "max = 1\n");
    snprintf(path, sizeof path, "%s/env.ini", dir);
    write_text(path, "[base]\nenv_name = env\n[sweep.train.lr_typo]\n"
                     "distribution = uniform\nmin = 0\nmax = 1\n");
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(protein_config_load_file(path, &cfg, &err),
                          PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL(
        cfg->warnings &&
        strstr(cfg->warnings, "env.ini:3: sweep.train.lr_typo: no 'lr_typo' "
                              "in [train] of this config, so PufferLib's CLI "
                              "has no --train.lr-typo"));
    CU_ASSERT_PTR_NULL(cfg->warnings &&
                       strstr(cfg->warnings, "no 'lr' in [train]"));
    protein_config_free(cfg);
    unlink(path);
    unlink(def);
    rmdir(dir);
}

/* An environment's file read over a default.ini that sweeps nothing:
 * the message does not send the reader looking for a default.ini. */
static void test_ini_over_no_params(void)
{
    char dir[] = "/tmp/test_config.XXXXXX", path[128], def[128];
    protein_sweep_config *cfg = NULL;
    protein_error err;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(def, sizeof def, "%s/default.ini", dir);
    write_text(def, "[sweep]\nmetric = score\n");
    snprintf(path, sizeof path, "%s/env.ini", dir);
    write_text(path, "[base]\nenv_name = env\n[sweep]\ngoal = maximize\n");
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(protein_config_load_file(path, &cfg, &err),
                    PROTEIN_ECONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no parameters to sweep"));
    CU_ASSERT_PTR_NULL(strstr(err.message, "no default.ini"));
    unlink(path);
    unlink(def);
    rmdir(dir);
}

/* ------------------------------------------------------------ round trip */

static int same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* 1 when a and b hold the same sweep (source not compared). */
static int config_equal(const protein_sweep_config *a,
                        const protein_sweep_config *b)
{
    size_t i, j;

    if (!same_string(a->name, b->name) || a->method != b->method ||
        !same_string(a->metric, b->metric) || a->minimize != b->minimize ||
        !same_string(a->cost_metric, b->cost_metric) ||
        !same_string(a->cost_param, b->cost_param) ||
        a->max_trials != b->max_trials ||
        a->max_suggestion_cost != b->max_suggestion_cost ||
        a->has_seed != b->has_seed || a->seed != b->seed ||
        a->num_random_samples != b->num_random_samples ||
        a->suggestions_per_pareto != b->suggestions_per_pareto ||
        a->expansion_rate != b->expansion_rate ||
        a->early_stop_quantile != b->early_stop_quantile ||
        a->gp_max_obs != b->gp_max_obs ||
        a->gp_training_iter != b->gp_training_iter ||
        a->prune_pareto != b->prune_pareto || a->n_params != b->n_params ||
        !same_string(a->program, b->program) ||
        !same_string(a->project, b->project) ||
        !same_string(a->entity, b->entity) ||
        !same_string(a->description, b->description) ||
        a->n_command != b->n_command || a->has_target != b->has_target ||
        (a->has_target && a->target != b->target) ||
        a->percentile_metric != b->percentile_metric ||
        a->downsample != b->downsample ||
        memcmp(&a->hyperband, &b->hyperband, sizeof a->hyperband) != 0)
        return 0;
    for (i = 0; i < a->n_command; i++)
        if (strcmp(a->command[i], b->command[i]) != 0)
            return 0;
    for (i = 0; i < a->n_params; i++) {
        const protein_param *p = &a->params[i], *q = &b->params[i];
        if (strcmp(p->name, q->name) != 0 || p->kind != q->kind ||
            p->is_integer != q->is_integer || p->min != q->min ||
            p->max != q->max || p->scale != q->scale || p->q != q->q ||
            p->mu != q->mu || p->sigma != q->sigma ||
            p->has_default != q->has_default ||
            p->default_value != q->default_value ||
            p->n_values != q->n_values || !p->value_types != !q->value_types ||
            !p->probabilities != !q->probabilities)
            return 0;
        for (j = 0; j < p->n_values; j++)
            if (strcmp(p->values[j], q->values[j]) != 0 ||
                !same_double(p->numeric_values[j], q->numeric_values[j]) ||
                (p->value_types && p->value_types[j] != q->value_types[j]) ||
                (p->probabilities &&
                 fabs(p->probabilities[j] - q->probabilities[j]) > 1e-15))
                return 0;
    }
    return 1;
}

/* Writes cfg, parses the text back and checks both are equal and that
 * writing again gives the same text. */
static void check_round_trip(const protein_sweep_config *cfg)
{
    protein_sweep_config *back = NULL;
    protein_error err;
    char *text = NULL, *again = NULL;

    CU_ASSERT_EQUAL_FATAL(protein_config_to_yaml(cfg, &text), PROTEIN_OK);
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(
        protein_config_parse_yaml(text, strlen(text), "rt.yaml", &back, &err),
        PROTEIN_OK);
    if (!back) {
        fprintf(stderr, "\nround trip failed: line %d %s: %s\n%s\n", err.line,
                err.key, err.message, text);
        free(text);
        return;
    }
    CU_ASSERT(config_equal(cfg, back));
    CU_ASSERT_EQUAL(protein_config_to_yaml(back, &again), PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(text, again);
    free(text);
    free(again);
    protein_config_free(back);
}

static void test_round_trip(void)
{
    protein_sweep_config *cfg = parse_yaml(
        "name: rt\nmethod: grid\n"
        "metric: {name: \"val/acc@1\", goal: minimize}\ncost: {name: gpu_s}\n"
        "cost_param: g/steps\nmax_trials: 9\nmax_suggestion_cost: 0.1\n"
        "seed: 0\n"
        "protein: {expansion_rate: 0.3, early_stop_quantile: 0.7, "
        "gp_max_obs: 3}\n"
        "parameters:\n"
        "  u: {distribution: uniform, min: -0.1, max: 0.7, default: 0.3, "
        "scale: 0.123456789012345678}\n"
        "  i: {distribution: int_uniform, min: -5, max: 5}\n"
        "  lr: {distribution: log_uniform_values, min: 1.5e-7, max: 3e-1, "
        "default: 1e-3}\n"
        "  g:\n    parameters:\n"
        "      steps: {distribution: log_normal, min: 3e7, max: 1e11, "
        "scale: time, integer: true, default: 1e8}\n"
        "  gamma: {distribution: logit_normal, min: 0.8, max: 0.9999}\n"
        "  b: {distribution: uniform_pow2, min: 1, max: 4096, default: 256}\n"
        "  c: {values: [\"a \\\"q\\\" \\\\ b\", \"tab\\there\", "
        "\"caf\\u00e9\", \"line\\u2028sep\", \"ls\\u2029 \\u0085 x\", "
        "\"\\x01\", 7, 1e-3, \"08\", \"true\", \"\"], "
        "default: \"tab\\there\"}\n"
        "  k1: {value: \"x: y, [z]\"}\n"
        "  k2: {value: -2.5e-3}\n");
    protein_sweep_config *ini;

    if (!cfg)
        return;
    check_round_trip(cfg);
    ini = parse_ini(puffer_ini, "breakout.ini");
    if (ini)
        check_round_trip(ini);
    protein_config_free(ini);
    protein_config_free(cfg);
}

static void test_write_file(void)
{
    protein_sweep_config *cfg =
        parse_yaml(HEAD "  x: {distribution: uniform, min: 0, max: 1}\n");
    char *text = NULL, buf[4096];
    FILE *fp = tmpfile();
    size_t n;

    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    if (!cfg) {
        fclose(fp);
        return;
    }
    CU_ASSERT_EQUAL(protein_config_write_yaml(cfg, fp), PROTEIN_OK);
    rewind(fp);
    n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    CU_ASSERT_EQUAL(protein_config_to_yaml(cfg, &text), PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(buf, text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "name: \"t\"\nmethod: protein\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "  expansion_rate: 1\n"));
    free(text);
    fclose(fp);
    protein_config_free(cfg);
}

/* ------------------------------------------------------------ files */

static protein_sweep_config *load_example(const char *name)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char path[1024], msg[1024];

    snprintf(path, sizeof path, "%s/examples/sweeps/%s", PROTEIN_SRCDIR, name);
    memset(&err, 0, sizeof err);
    if (protein_config_load_file(path, &cfg, &err) != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "\n%s\n", msg);
    }
    CU_ASSERT_PTR_NOT_NULL(cfg);
    return cfg;
}

static void test_examples(void)
{
    protein_sweep_config *cfg = load_example("quadratic.yaml");

    if (cfg) {
        CU_ASSERT_STRING_EQUAL(cfg->name, "quadratic");
        CU_ASSERT_EQUAL(cfg->max_trials, 32);
        CU_ASSERT_EQUAL(cfg->n_params, 4);
        CU_ASSERT_EQUAL(param(cfg, "lr")->kind, PROTEIN_PARAM_LOG);
        CU_ASSERT_EQUAL(param(cfg, "optimizer")->kind,
                        PROTEIN_PARAM_CATEGORICAL);
        check_round_trip(cfg);
    }
    protein_config_free(cfg);
    cfg = load_example("pufferlib-ppo.yaml");
    if (cfg) {
        CU_ASSERT_STRING_EQUAL(cfg->cost_param, "train/total_timesteps");
        CU_ASSERT_EQUAL(param(cfg, "train/gamma")->kind, PROTEIN_PARAM_LOGIT);
        CU_ASSERT_EQUAL(param(cfg, "env/frameskip")->kind,
                        PROTEIN_PARAM_CONSTANT);
        check_round_trip(cfg);
    }
    protein_config_free(cfg);
    cfg = load_example("pufferlib.ini");
    if (cfg) {
        CU_ASSERT_STRING_EQUAL(cfg->name, "pufferlib");
        CU_ASSERT_STRING_EQUAL(cfg->cost_param, "train/total_timesteps");
        CU_ASSERT_EQUAL(cfg->n_params, 5);
        check_round_trip(cfg);
    }
    protein_config_free(cfg);
}

static void test_load_file_errors(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char path[1024];

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(
        protein_config_load_file("/nonexistent/sweep.yaml", &cfg, &err),
        PROTEIN_EIO);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_STRING_EQUAL(err.file, "/nonexistent/sweep.yaml");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "No such file"));
    /* a directory opens but cannot be read */
    snprintf(path, sizeof path, "%s/examples", PROTEIN_SRCDIR);
    CU_ASSERT_EQUAL(protein_config_load_file(path, &cfg, &err), PROTEIN_EIO);
    CU_ASSERT_STRING_EQUAL(err.file, path);
    CU_ASSERT_PTR_NULL(cfg);
}

/* ------------------------------------------------------------ errors */

static void test_error_format(void)
{
    protein_error err;
    char buf[256];

    memset(&err, 0, sizeof err);
    strcpy(err.file, "s.yaml");
    err.line = 7;
    strcpy(err.key, "parameters.lr.min");
    strcpy(err.message, "bad");
    protein_error_format(&err, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "s.yaml:7: parameters.lr.min: bad");
    err.line = 0;
    protein_error_format(&err, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "s.yaml: parameters.lr.min: bad");
    err.file[0] = '\0';
    err.line = 3;
    protein_error_format(&err, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "line 3: parameters.lr.min: bad");
    err.line = 0;
    err.key[0] = '\0';
    protein_error_format(&err, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "bad");
    strcpy(err.file, "s.yaml");
    protein_error_format(&err, buf, 5);
    CU_ASSERT_STRING_EQUAL(buf, "s.ya");
    protein_error_format(NULL, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_STRING_EQUAL(protein_strerror(PROTEIN_ECONFIG),
                           "invalid sweep config");
    CU_ASSERT_STRING_EQUAL(protein_strerror(PROTEIN_OK), "success");
    CU_ASSERT_STRING_EQUAL(protein_strerror(12345), "unknown error");
}

/* ------------------------------------------------------------ W&B */

/* A W&B sweep file as people write it: every top-level key, macros, a
 * name from the file, inferred distributions, typed values. */
static void test_wandb_file(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    const protein_param *p;
    static const char text[] =
        "program: train.py\n"
        "description: a test\nproject: proj\nentity: me\nrun_cap: 7\n"
        "controller: {type: local}\n"
        "command:\n  - ${env}\n  - ${interpreter}\n  - ${program}\n  - --x\n"
        "  - ${args_no_hyphens}\n"
        "metric: {name: val mAP, target: 0.9}\n"
        "early_terminate: {type: hyperband, max_iter: 27, s: 2, eta: 3}\n"
        "parameters:\n"
        "  i: {min: 1, max: 8}\n"
        "  f: {min: 1, max: 8.0}\n"
        "  flag: {values: [true, false]}\n"
        "  sflag: {values: [\"true\", \"false\"]}\n"
        "  arch: {values: [[32, 32], [64, 1.0e-5]]}\n"
        "  lr: {values: [1.0e-3, 1e-4]}\n"
        "  opt: {values: [adam, sgd], probabilities: [3, 1]}\n"
        "  c: {value: null}\n"
        "  big: {value: 1_000}\n";

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(protein_config_parse_yaml(text, strlen(text),
                                                    "dir/my sweep.yaml", &cfg,
                                                    &err),
                          PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(cfg->name, "my-sweep");
    CU_ASSERT_STRING_EQUAL(cfg->program, "train.py");
    CU_ASSERT_STRING_EQUAL(cfg->project, "proj");
    CU_ASSERT_STRING_EQUAL(cfg->entity, "me");
    CU_ASSERT_EQUAL(cfg->max_trials, 7);
    CU_ASSERT_EQUAL_FATAL(cfg->n_command, 5);
    CU_ASSERT_STRING_EQUAL(cfg->command[4], "${args_no_hyphens}");
    CU_ASSERT_STRING_EQUAL(cfg->metric, "val mAP");
    CU_ASSERT_EQUAL(cfg->minimize, 1);
    CU_ASSERT(cfg->has_target && cfg->target == 0.9);
    CU_ASSERT(cfg->hyperband.enabled && cfg->hyperband.max_iter == 27 &&
              cfg->hyperband.s == 2 && cfg->hyperband.eta == 3 &&
              cfg->hyperband.strict);
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "controller"));
    p = param(cfg, "i");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && p->is_integer);
    p = param(cfg, "f");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && !p->is_integer);
    p = param(cfg, "flag");
    CU_ASSERT(p->value_types[0] == PROTEIN_VALUE_BOOL &&
              strcmp(p->values[0], "true") == 0);
    p = param(cfg, "sflag");
    CU_ASSERT(p->value_types[0] == PROTEIN_VALUE_STRING);
    p = param(cfg, "arch");
    CU_ASSERT(p->value_types[1] == PROTEIN_VALUE_JSON &&
              strcmp(p->values[1], "[64, 1.0e-5]") == 0);
    /* YAML 1.1 (PyYAML, so W&B): a float needs a dot, 1e-4 is a string */
    p = param(cfg, "lr");
    CU_ASSERT(p->value_types[0] == PROTEIN_VALUE_NUMBER &&
              p->value_types[1] == PROTEIN_VALUE_STRING);
    p = param(cfg, "opt");
    CU_ASSERT(p->probabilities && p->probabilities[0] == 0.75);
    p = param(cfg, "c");
    CU_ASSERT(p->kind == PROTEIN_PARAM_CONSTANT &&
              p->value_types[0] == PROTEIN_VALUE_NULL);
    p = param(cfg, "big");
    CU_ASSERT(p->numeric_values[0] == 1000);
    check_round_trip(cfg);
    protein_config_free(cfg);
}

/* Every W&B distribution, with W&B's bounds and the quantile map of the
 * unbounded ones. */
/* A JSON sweep file (as `wandb sweep FILE` reads it, with PyYAML) is
 * named from its file name, as a YAML one is. */
static void test_json_file_name(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    static const char text[] =
        "{\"method\": \"random\", \"metric\": {\"name\": \"acc\"},\n"
        " \"parameters\": {\"lr\": {\"values\": [0.01, 0.001]}}}\n";

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(protein_config_parse_yaml(text, strlen(text),
                                                    "dir/sweep config.json",
                                                    &cfg, &err),
                          PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->name);
    CU_ASSERT_STRING_EQUAL(cfg->name, "sweep-config");
    protein_config_free(cfg);
}

/* A W&B metric named "cost", protein's default cost key, is warned
 * about (its value would be each trial's cost too), unless cost: names
 * the cost key. */
static void test_metric_named_cost(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    static const char text[] = "metric: {name: cost, goal: minimize}\n"
                               "parameters:\n  x: {values: [1, 2]}\n";
    static const char named[] = "metric: {name: cost}\ncost: {name: t}\n"
                                "parameters:\n  x: {values: [1, 2]}\n";

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(text, strlen(text), "c.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings, "c.yaml:1: metric.name: "
                                                 "'cost' is also the key"));
    protein_config_free(cfg);
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(named, strlen(named), "c.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(cfg->cost_metric, "t");
    CU_ASSERT_PTR_NULL(cfg->warnings &&
                       strstr(cfg->warnings, "is also the key"));
    protein_config_free(cfg);
}

/* With both min_iter and max_iter (and s), W&B's hyperband
 * (wandb/sweeps hyperband_stopping.py) reads max_iter first: its bands
 * are max_iter/eta^k, and min_iter is unused. */
static void test_hyperband_max_iter_first(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    long bands[PROTEIN_HYPERBAND_BANDS_MAX];
    static const char text[] =
        "metric: {name: loss}\n"
        "early_terminate: {type: hyperband, min_iter: 2, max_iter: 27, s: 2}\n"
        "parameters:\n  x: {min: 0.0, max: 1.0}\n";

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(text, strlen(text), "both.yaml", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(cfg->hyperband.max_iter, 27);
    CU_ASSERT_EQUAL(cfg->hyperband.s, 2);
    CU_ASSERT_EQUAL(cfg->hyperband.min_iter, 0);
    CU_ASSERT_EQUAL_FATAL(protein_hyperband_bands(&cfg->hyperband, bands,
                                                  PROTEIN_HYPERBAND_BANDS_MAX),
                          2);
    CU_ASSERT_EQUAL(bands[0], 3); /* 27/3^2, 27/3: not 2, 6, 18, ... */
    CU_ASSERT_EQUAL(bands[1], 9);
    protein_config_free(cfg);
}

static void test_wandb_distributions(void)
{
    protein_sweep_config *cfg = parse_yaml(
        "name: t\nparameters:\n"
        "  qu: {distribution: q_uniform, min: 0, max: 256, q: 8}\n"
        "  qf: {distribution: q_uniform, min: 0, max: 1, q: 0.25}\n"
        "  lu: {distribution: log_uniform, min: -11, max: -2}\n"
        "  qlu: {distribution: q_log_uniform, min: 0, max: 5}\n"
        "  qluv: {distribution: q_log_uniform_values, min: 1, max: 256, q: 1}\n"
        "  ilu: {distribution: inv_log_uniform, min: 1, max: 3}\n"
        "  iluv: {distribution: inv_log_uniform_values, min: 0.01, max: 0.1}\n"
        "  n: {distribution: normal, mu: 5, sigma: 2}\n"
        "  qn: {distribution: q_normal, q: 2}\n"
        "  ln: {distribution: log_normal, mu: 0, sigma: 1}\n"
        "  pln: {distribution: log_normal, min: 1e-5, max: 1e-1}\n"
        "  qln: {distribution: q_log_normal, mu: 1, sigma: 0.5, q: 1}\n"
        "  b: {distribution: beta, a: 2, b: 5}\n"
        "  qb: {distribution: q_beta, q: 0.1}\n"
        "  k: {distribution: constant, value: x}\n"
        "  cat: {distribution: categorical, values: [1, 2]}\n");
    const protein_param *p;

    if (!cfg)
        return;
    p = param(cfg, "qu");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LINEAR && p->q == 8 && p->is_integer);
    p = param(cfg, "qf");
    CU_ASSERT(p->q == 0.25 && !p->is_integer);
    p = param(cfg, "lu");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && fabs(p->min - exp(-11)) < 1e-18 &&
              fabs(p->max - exp(-2)) < 1e-15);
    p = param(cfg, "qlu");
    CU_ASSERT(p->q == 1 && !p->is_integer && fabs(p->max - exp(5)) < 1e-9);
    p = param(cfg, "qluv");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->is_integer && p->max == 256);
    p = param(cfg, "ilu");
    CU_ASSERT(fabs(p->min - exp(-3)) < 1e-15 && fabs(p->max - exp(-1)) < 1e-15);
    p = param(cfg, "iluv");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->min == 0.01 && p->max == 0.1);
    p = param(cfg, "n");
    CU_ASSERT(p->kind == PROTEIN_PARAM_NORMAL && p->mu == 5 && p->sigma == 2);
    /* the searched range is the 0.1 % .. 99.9 % quantiles */
    CU_ASSERT(fabs(p->min - (5 - 2 * 3.090232306167814)) < 1e-9);
    CU_ASSERT(fabs(p->max - (5 + 2 * 3.090232306167814)) < 1e-9);
    p = param(cfg, "qn");
    CU_ASSERT(p->mu == 0 && p->sigma == 1 && p->q == 2 && p->is_integer);
    p = param(cfg, "ln");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOGNORMAL &&
              fabs(p->max - exp(3.090232306167814)) < 1e-9);
    p = param(cfg, "pln");
    CU_ASSERT(p->kind == PROTEIN_PARAM_LOG && p->min == 1e-5);
    p = param(cfg, "b");
    CU_ASSERT(p->kind == PROTEIN_PARAM_BETA && p->mu == 2 && p->sigma == 5 &&
              p->min > 0 && p->max < 1);
    p = param(cfg, "qb");
    CU_ASSERT(p->mu == 1 && p->sigma == 1 && fabs(p->min - 0.001) < 1e-12);
    CU_ASSERT(param(cfg, "k")->kind == PROTEIN_PARAM_CONSTANT);
    CU_ASSERT(param(cfg, "cat")->kind == PROTEIN_PARAM_CATEGORICAL);
    /* bounds written as logs (lu, qlu) are no mistake: no warning */
    CU_ASSERT_PTR_NULL(cfg->warnings &&
                       strstr(cfg->warnings, "takes natural logs"));
    check_round_trip(cfg);
    protein_config_free(cfg);
    /* the values themselves where their logs go: searched as written, as
     * W&B does, with a warning naming the fix */
    cfg = parse_yaml(
        "name: t\nparameters:\n"
        "  lr: {distribution: log_uniform, min: 0.0001, max: 0.1}\n");
    if (!cfg)
        return;
    CU_ASSERT(fabs(param(cfg, "lr")->min - exp(0.0001)) < 1e-12);
    CU_ASSERT_PTR_NOT_NULL(
        cfg->warnings &&
        strstr(cfg->warnings,
               ":3: parameters.lr.distribution: log_uniform takes natural logs "
               "of the bounds (W&B): this searches exp(0.0001) to exp(0.1), "
               "1.0001 to 1.10517; for values from 0.0001 to 0.1 write "
               "log_uniform_values"));
    protein_config_free(cfg);
}

/* Choice i of p is a number with canonical text want (PyYAML's value). */
static void expect_number(const protein_param *p, size_t i, const char *want)
{
    CU_ASSERT_FATAL(p != NULL && i < p->n_values && p->value_types);
    CU_ASSERT_EQUAL(p->value_types[i], PROTEIN_VALUE_NUMBER);
    if (strcmp(p->values[i], want) != 0)
        fprintf(stderr, "\n%s[%zu]: '%s', not '%s'\n", p->name, i, p->values[i],
                want);
    CU_ASSERT_STRING_EQUAL(p->values[i], want);
}

/* YAML 1.1's other number forms, with the values PyYAML gives them (so
 * W&B's wandb.config): octal, hex, binary, base 60, .inf and .nan, '_'
 * ignored; forms PyYAML leaves strings stay strings. */
static void test_yaml11_numbers(void)
{
    static const char *const ints[] = {"10",    "16", "5",   "-16",
                                       "63",    "0",  "-10", "12345",
                                       "43384", "-3", "1000"};
    static const char *const floats[] = {"90.5",   "685230.15", "30.5",  "1.0",
                                         "1.0e+5", "1.5",       "-10.01"};
    static const char *const infs[] = {".inf", "-.inf", ".nan"};
    static const char *const spellings[][2] = {
        {".Inf", ".inf"},   {".INF", ".inf"},   {"+.inf", ".inf"},
        {"-.Inf", "-.inf"}, {"-.INF", "-.inf"}, {".NaN", ".nan"},
        {".NAN", ".nan"}};
    protein_sweep_config *cfg = parse_yaml(
        "name: t\nparameters:\n"
        "  i: {values: [012, 0x10, 0b101, -0x1_0, 07_7, 00, -012, 3:25:45,\n"
        "               1_2:3:4, -0b11, 1_000]}\n"
        "  f: {values: [1:30.5, 190:20:30.15, 0:30.5, 1., 1.e+5, 1._5,\n"
        "               -1_0.0_1]}\n"
        "  inf: {values: [.inf, -.inf, .nan]}\n"
        "  s: {values: [08, 0:30, 1:60, 0o17, 1e-5, -.5, 1.5e5, \"012\"]}\n"
        "  c: {value: .inf}\n"
        "  l: {value: [.inf, 0x10]}\n"
        "  lf: {value: [.5e+3, 0100.0, 1:30:00.0, 2.5]}\n");
    const protein_param *p;
    size_t i;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    for (i = 0; i < sizeof ints / sizeof *ints; i++)
        expect_number(param(cfg, "i"), i, ints[i]);
    for (i = 0; i < sizeof floats / sizeof *floats; i++)
        expect_number(param(cfg, "f"), i, floats[i]);
    for (i = 0; i < sizeof infs / sizeof *infs; i++)
        expect_number(param(cfg, "inf"), i, infs[i]);
    p = param(cfg, "s");
    for (i = 0; i < p->n_values; i++)
        CU_ASSERT_EQUAL(p->value_types[i], PROTEIN_VALUE_STRING);
    CU_ASSERT_STRING_EQUAL(p->values[0], "08");
    expect_number(param(cfg, "c"), 0, ".inf");
    /* inside a list as Python's json writes (and reads) it */
    CU_ASSERT_STRING_EQUAL(param(cfg, "l")->values[0], "[Infinity, 16]");
    /* floats JSON cannot spell stay floats there: 500.0, not 500 */
    CU_ASSERT_STRING_EQUAL(param(cfg, "lf")->values[0],
                           "[500.0, 100.0, 5400.0, 2.5]");
    CU_ASSERT_STRING_EQUAL(protein_value_nonfinite_json(".nan"), "NaN");
    check_round_trip(cfg);
    protein_config_free(cfg);
    for (i = 0; i < sizeof spellings / sizeof *spellings; i++) {
        char text[80];
        snprintf(text, sizeof text, "name: t\nparameters:\n  c: {value: %s}\n",
                 spellings[i][0]);
        cfg = parse_yaml(text);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
        expect_number(param(cfg, "c"), 0, spellings[i][1]);
        protein_config_free(cfg);
    }
}

/* The number of lines of warnings that contain words. */
static int warning_lines(const char *warnings, const char *words)
{
    const char *line = warnings;
    int n = 0;

    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        n += strstr(buf, words) != NULL;
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* A W&B file may repeat a categorical's value (W&B samples from the list
 * as written): protein keeps each distinct value once, in order, with one
 * warning per parameter naming the file, line, key and the value. Numbers
 * equal as numbers are one value, strings compare as written. */
static void test_repeated_values(void)
{
    protein_sweep_config *cfg = parse_yaml(
        HEAD "  act:\n"
             "    values:\n"
             "      - relu\n"
             "      - gelu\n"
             "      - relu\n"
             "      - relu\n"
             "  n: {values: [1, 1.0, 2, 1.0e-3, 1e-3, 0.001, 2]}\n"
             "  s: {values: [\"3.10\", \"3.1\", \"1\", 1, true, \"true\"]}\n"
             "  only: {values: [x, x, x], default: x}\n"
             "  p: {values: [a, b, a], probabilities: [1, 2, 1]}\n"
             "  d: {values: [1, 2, 1.0], default: 1.0}\n");
    const protein_param *p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg->warnings);
    p = param(cfg, "act");
    CU_ASSERT_EQUAL_FATAL(p->n_values, 2);
    CU_ASSERT_STRING_EQUAL(p->values[0], "relu");
    CU_ASSERT_STRING_EQUAL(p->values[1], "gelu");
    CU_ASSERT_EQUAL(p->max, 1);
    CU_ASSERT_EQUAL(
        warning_lines(cfg->warnings,
                      "t.yaml:7: parameters.act.values: 'relu' is listed 3 "
                      "times; protein keeps each value once, in order (one "
                      "model dimension per distinct value, so a repeat adds "
                      "no weight; a grid runs each value once)"),
        1);
    /* 1 and 1.0 are one number, and so are 1.0e-3, 0.001 and 1e-3 (a
     * string in YAML 1.1, but written as a number) */
    p = param(cfg, "n");
    CU_ASSERT_EQUAL_FATAL(p->n_values, 3);
    CU_ASSERT_STRING_EQUAL(p->values[0], "1");
    CU_ASSERT_STRING_EQUAL(p->values[1], "2");
    CU_ASSERT_EQUAL(p->numeric_values[2], 1.0e-3);
    CU_ASSERT_EQUAL(p->value_types[2], PROTEIN_VALUE_NUMBER);
    CU_ASSERT_EQUAL(warning_lines(cfg->warnings, "parameters.n.values"), 1);
    CU_ASSERT_EQUAL(
        warning_lines(cfg->warnings,
                      "t.yaml:9: parameters.n.values: '1' is listed 2 times "
                      "(also as '1.0'), and 2 other values repeat"),
        1);
    /* quoted strings compare as written, and a string is not a number */
    p = param(cfg, "s");
    CU_ASSERT_EQUAL(p->n_values, 6);
    CU_ASSERT_EQUAL(warning_lines(cfg->warnings, "parameters.s."), 0);
    /* a list of one value repeated is a one-value categorical, as
     * values: [x] is: every trial gets x */
    p = param(cfg, "only");
    CU_ASSERT_EQUAL(p->kind, PROTEIN_PARAM_CATEGORICAL);
    CU_ASSERT_EQUAL_FATAL(p->n_values, 1);
    CU_ASSERT_STRING_EQUAL(p->values[0], "x");
    CU_ASSERT(p->has_default && p->default_value == 0 && p->max == 0);
    CU_ASSERT_EQUAL(
        warning_lines(cfg->warnings,
                      "parameters.only.values: 'x' is listed 3 times; "
                      "protein keeps each value once, in order (one model "
                      "dimension per distinct value, so a repeat adds no "
                      "weight; a grid runs each value once); one value is "
                      "left: every trial gets it"),
        1);
    /* W&B's probabilities of a repeated value add up */
    p = param(cfg, "p");
    CU_ASSERT_EQUAL_FATAL(p->n_values, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->probabilities);
    CU_ASSERT_DOUBLE_EQUAL(p->probabilities[0], 0.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(p->probabilities[1], 0.5, 1e-15);
    CU_ASSERT_EQUAL(warning_lines(cfg->warnings,
                                  "t.yaml:12: parameters.p.values: 'a' is "
                                  "listed 2 times; protein keeps each value "
                                  "once, in order (one model dimension per "
                                  "distinct value, a repeat's probability "
                                  "added to it; a grid runs each value once)"),
                    1);
    p = param(cfg, "d");
    CU_ASSERT_EQUAL(p->n_values, 2);
    CU_ASSERT(p->has_default && p->default_value == 0);
    check_round_trip(cfg);
    protein_config_free(cfg);
}

/* A JSON sweep file goes through the same reader: its repeats too. */
static void test_repeated_values_json(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    static const char text[] =
        "{\"method\": \"grid\",\n"
        " \"parameters\": {\"bs\": {\"values\": [32, 64, 32.0]}}}\n";

    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL_FATAL(
        protein_config_parse_yaml(text, strlen(text), "s.json", &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(cfg->params[0].n_values, 2);
    CU_ASSERT_PTR_NOT_NULL(cfg->warnings &&
                           strstr(cfg->warnings,
                                  "s.json:2: parameters.bs.values: '32' is "
                                  "listed 2 times (also as '32.0')"));
    protein_config_free(cfg);
}

/* A default written as the second spelling of a repeated value is that
 * value: [1e-3, 0.001] keeps the first, and default 0.001 picks it (the
 * kept 1e-3, a YAML 1.1 string, is no number to compare it with). */
static void test_repeated_values_default(void)
{
    protein_sweep_config *cfg =
        parse_yaml(HEAD "  lr: {values: [1e-3, 0.001], default: 0.001}\n"
                        "  bs: {values: [64, 32, 32.0], default: 32.0}\n");
    const protein_param *p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    p = param(cfg, "lr");
    CU_ASSERT_EQUAL_FATAL(p->n_values, 1);
    CU_ASSERT_STRING_EQUAL(p->values[0], "1e-3");
    CU_ASSERT(p->has_default && p->default_value == 0);
    p = param(cfg, "bs");
    CU_ASSERT_EQUAL_FATAL(p->n_values, 2);
    CU_ASSERT(p->has_default && p->default_value == 1);
    check_round_trip(cfg);
    protein_config_free(cfg);
}

/* An integer no trial can be given is refused where it is written,
 * rather than failing every trial without saying which value. */
static void test_yaml_huge_integer(void)
{
    expect_error(0,
                 "name: t\nparameters:\n"
                 "  p: {value: 123456789012345678901234567890}\n",
                 3, "parameters.p.value", "too large");
    expect_error(
        0,
        "name: t\nparameters:\n  p: {values: [1, 0x1_0000_0000_0000_0000]}\n",
        3, "parameters.p.values", "too large");
    expect_error(
        0, "name: t\nparameters:\n  p: {value: [1, 9:0:0:0:0:0:0:0:0:0:0:0]}\n",
        3, "parameters.p.value", "too large");
}

static const cunit_test tests[] = {
    {"wandb file", test_wandb_file},
    {"hyperband: max_iter before min_iter", test_hyperband_max_iter_first},
    {"a JSON file is named from its file name", test_json_file_name},
    {"a metric named cost warns", test_metric_named_cost},
    {"wandb distributions", test_wandb_distributions},
    {"yaml 1.1 numbers", test_yaml11_numbers},
    {"yaml huge integer", test_yaml_huge_integer},
    {"repeated values are kept once", test_repeated_values},
    {"repeated values of a JSON file", test_repeated_values_json},
    {"a default spelled as a repeat", test_repeated_values_default},
    {"defaults", test_defaults},
    {"options", test_options},
    {"distributions", test_distributions},
    {"groups", test_groups},
    {"yaml errors", test_yaml_errors},
    {"JSON values a written config cannot hold", test_json_value_limits},
    {"deep nesting", test_deep_nesting},
    {"bad arguments", test_bad_arguments},
    {"ini", test_ini},
    {"ini options", test_ini_options},
    {"ini inline comments", test_ini_inline_comments},
    {"ini errors", test_ini_errors},
    {"INI: a swept key its section lacks", test_ini_missing_key},
    {"ini over a default.ini without parameters", test_ini_over_no_params},
    {"ini pufferlib", test_ini_pufferlib},
    {"ini values typed as PufferLib's CLI parses them", test_ini_cli_types},
    {"yaml metric without a goal warned about", test_yaml_goal_warning},
    {"yaml run_cap and max_trials both given", test_yaml_budget_twice},
    {"ini merge", test_ini_merge},
    {"round trip", test_round_trip},
    {"write file", test_write_file},
    {"examples", test_examples},
    {"load_file errors", test_load_file_errors},
    {"error format", test_error_format},
};

int main(void)
{
    return cunit_run_suite("config", tests, CUNIT_COUNT(tests));
}
