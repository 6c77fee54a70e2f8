/*
 * test_queue_model.c - CUnit suite of queue/queue_model.c: value vectors to
 * trial parameters and back, and configs stored as YAML text.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "queue_model.h"

static const char *yaml_text =
    "name: qm\n"
    "metric: {name: score, goal: maximize}\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 0.00001, max: 0.1}\n"
    "  width: {distribution: int_uniform, min: 16, max: 512}\n"
    "  optimizer: {values: [adam, sgd, rmsprop]}\n"
    "  batch: {values: [64, 128, 256]}\n"
    "  dropout: {distribution: uniform, min: 0.0, max: 0.5}\n"
    "  env: {value: cartpole}\n"
    "  epochs: {value: 3}\n";

static protein_sweep_config *load(void)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;

    memset(&err, 0, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(
        pq_model_load_config("qm", yaml_text, strlen(yaml_text), &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    return cfg;
}

static void fill_values(const protein_sweep_config *cfg, double *v)
{
    v[protein_config_find_param(cfg, "lr")] = 0.001;
    v[protein_config_find_param(cfg, "width")] = 128;
    v[protein_config_find_param(cfg, "optimizer")] = 1;
    v[protein_config_find_param(cfg, "batch")] = 2;
    v[protein_config_find_param(cfg, "dropout")] = 0.25;
    v[protein_config_find_param(cfg, "env")] = 0;
    v[protein_config_find_param(cfg, "epochs")] = 3;
}

static void test_load_config(void)
{
    protein_sweep_config *cfg = load();

    CU_ASSERT_EQUAL(cfg->n_params, 7);
    CU_ASSERT_STRING_EQUAL(cfg->name, "qm");
    CU_ASSERT(protein_config_find_param(cfg, "optimizer") >= 0);
    protein_config_free(cfg);
}

static void test_load_config_error_names_sweep(void)
{
    const char *bad =
        "parameters:\n  lr: {distribution: nope, min: 1, max: 2}\n";
    protein_sweep_config *cfg = NULL;
    protein_error err;

    memset(&err, 0, sizeof(err));
    CU_ASSERT_NOT_EQUAL(
        pq_model_load_config("broken", bad, strlen(bad), &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.file, "sweep broken"));
    CU_ASSERT_EQUAL(pq_model_load_config("x", NULL, 0, &cfg, &err),
                    PROTEIN_EINVAL);
}

static void test_values_to_params(void)
{
    protein_sweep_config *cfg = load();
    double v[7];
    pq_params p;
    const pq_param *q;

    fill_values(cfg, v);
    CU_ASSERT_EQUAL_FATAL(pq_model_values_to_params(cfg, v, &p), PROTEIN_OK);
    CU_ASSERT_EQUAL(p.n, 7);

    q = pq_model_find_param(&p, "lr");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FALSE(q->is_string);
    CU_ASSERT_FALSE(q->is_integer);
    CU_ASSERT_DOUBLE_EQUAL(q->number, 0.001, 1e-15);

    q = pq_model_find_param(&p, "width");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_TRUE(q->is_integer);
    CU_ASSERT_EQUAL(q->number, 128);

    q = pq_model_find_param(&p, "optimizer");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_TRUE(q->is_string);
    CU_ASSERT_STRING_EQUAL(q->text, "sgd");

    q = pq_model_find_param(&p, "batch");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FALSE(q->is_string);
    CU_ASSERT_TRUE(q->is_integer);
    CU_ASSERT_EQUAL(q->number, 256);

    q = pq_model_find_param(&p, "env");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_TRUE(q->is_string);
    CU_ASSERT_STRING_EQUAL(q->text, "cartpole");

    q = pq_model_find_param(&p, "epochs");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FALSE(q->is_string);
    CU_ASSERT_EQUAL(q->number, 3);

    pq_params_free(&p);
    protein_config_free(cfg);
}

/* A typed choice (true, null, a string) at a NaN or out-of-range value
 * selects the nearest end, as an untyped one does. */
static void test_typed_choice_out_of_range(void)
{
    static const char text[] = "name: t\n"
                               "parameters:\n"
                               "  flag: {values: [true, null, \"x\"]}\n";
    protein_sweep_config *cfg = NULL;
    protein_error err;
    double v[1];
    pq_params p;
    const pq_param *q;

    memset(&err, 0, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(
        pq_model_load_config("t", text, strlen(text), &cfg, &err), PROTEIN_OK);
    v[0] = NAN;
    CU_ASSERT_EQUAL_FATAL(pq_model_values_to_params(cfg, v, &p), PROTEIN_OK);
    q = pq_model_find_param(&p, "flag");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_TRUE(q->is_json);
    CU_ASSERT_STRING_EQUAL(q->text, "true");
    pq_params_free(&p);
    v[0] = 7;
    CU_ASSERT_EQUAL_FATAL(pq_model_values_to_params(cfg, v, &p), PROTEIN_OK);
    q = pq_model_find_param(&p, "flag");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_FALSE(q->is_json);
    CU_ASSERT_STRING_EQUAL(q->text, "x");
    pq_params_free(&p);
    protein_config_free(cfg);
}

static void test_find_param(void)
{
    protein_sweep_config *cfg = load();
    double v[7];
    pq_params p;

    fill_values(cfg, v);
    CU_ASSERT_EQUAL_FATAL(pq_model_values_to_params(cfg, v, &p), PROTEIN_OK);
    CU_ASSERT_PTR_EQUAL(pq_model_find_param(&p, "x-missing"), NULL);
    CU_ASSERT_PTR_EQUAL(pq_model_find_param(NULL, "lr"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pq_model_find_param(&p, "dropout"));
    CU_ASSERT_STRING_EQUAL(pq_model_find_param(&p, "dropout")->name, "dropout");
    pq_params_free(&p);
    protein_config_free(cfg);
}

static void test_round_trip(void)
{
    protein_sweep_config *cfg = load();
    double v[7], back[7];
    pq_params p;
    protein_error err;
    size_t i;

    fill_values(cfg, v);
    CU_ASSERT_EQUAL_FATAL(pq_model_values_to_params(cfg, v, &p), PROTEIN_OK);
    memset(back, 0, sizeof(back));
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, &p, back, &err), PROTEIN_OK);
    for (i = 0; i < 7; i++)
        CU_ASSERT_DOUBLE_EQUAL(back[i], v[i], 1e-12);
    pq_params_free(&p);
    protein_config_free(cfg);
}

static void test_params_from_json(void)
{
    protein_sweep_config *cfg = load();
    double v[7];
    pq_params p;
    protein_error err;

    /* what a trial hash holds; the choice "128" comes back as text */
    CU_ASSERT_EQUAL_FATAL(
        pq_params_from_json(
            "{\"lr\": 0.01, \"width\": 64, \"optimizer\": \"rmsprop\", "
            "\"batch\": 128, \"dropout\": 0.5, \"extra\": 1}",
            &p),
        PQ_OK);
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, &p, v, &err), PROTEIN_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[protein_config_find_param(cfg, "lr")], 0.01,
                           1e-15);
    CU_ASSERT_EQUAL(v[protein_config_find_param(cfg, "width")], 64);
    CU_ASSERT_EQUAL(v[protein_config_find_param(cfg, "optimizer")], 2);
    CU_ASSERT_EQUAL(v[protein_config_find_param(cfg, "batch")], 1);
    CU_ASSERT_EQUAL(v[protein_config_find_param(cfg, "epochs")], 3);
    pq_params_free(&p);
    protein_config_free(cfg);
}

/* Replaces parameter `name` of p (from fill_values) with a text value. */
static void set_text(pq_params *p, const char *name, const char *text)
{
    pq_param *q = (pq_param *)pq_model_find_param(p, name);

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    free(q->text);
    q->is_string = 1;
    q->text = strdup(text);
}

static void test_params_to_values_errors(void)
{
    protein_sweep_config *cfg = load();
    double v[7];
    pq_params p;
    protein_error err;

    fill_values(cfg, v);
    CU_ASSERT_EQUAL_FATAL(pq_model_values_to_params(cfg, v, &p), PROTEIN_OK);
    set_text(&p, "optimizer", "adamw");
    memset(&err, 0, sizeof(err));
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, &p, v, &err),
                    PROTEIN_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.key, "optimizer");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "adamw"));
    set_text(&p, "optimizer", "adam");
    set_text(&p, "width", "wide");
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, &p, v, &err),
                    PROTEIN_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.key, "width");
    set_text(&p, "width", "32");
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, &p, v, &err), PROTEIN_OK);
    CU_ASSERT_EQUAL(v[protein_config_find_param(cfg, "width")], 32);
    /* a missing parameter */
    free(p.items[0].name);
    p.items[0].name = strdup("renamed");
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, &p, v, &err),
                    PROTEIN_ENOTFOUND);
    CU_ASSERT_STRING_EQUAL(err.key, cfg->params[0].name);
    CU_ASSERT_EQUAL(pq_model_params_to_values(cfg, NULL, v, &err),
                    PROTEIN_EINVAL);
    pq_params_free(&p);
    protein_config_free(cfg);
}

/* x's value and o's choice in point p. */
static void point_xo(const pq_params *p, double *x, const char **o)
{
    const pq_param *px = pq_model_find_param(p, "x");
    const pq_param *po = pq_model_find_param(p, "o");

    CU_ASSERT_PTR_NOT_NULL_FATAL(px);
    CU_ASSERT_PTR_NOT_NULL_FATAL(po);
    *x = px->number;
    *o = po->is_string ? po->text : "";
}

/* Asked for, the fallback pool starts with the defaults of a method
 * protein config that gives every parameter one (the coordinator's first
 * suggestion of a new sweep); a top-up (not asked) and a random sweep do
 * not, and the defaults come once. */
static void test_fallback_defaults_first(void)
{
    static const char *const methods[] = {"protein", "random"};
    char text[512];
    protein_sweep_config *cfg = NULL;
    protein_error err;
    pq_params *pts = NULL;
    const char *o;
    double x;

    for (size_t m = 0; m < 2; m++) {
        snprintf(text, sizeof text,
                 "method: %s\n"
                 "metric: {name: score, goal: maximize}\n"
                 "parameters:\n"
                 "  x: {distribution: uniform, min: 0, max: 1, default: 0.3}\n"
                 "  o: {values: [a, b, c], default: b}\n",
                 methods[m]);
        memset(&err, 0, sizeof(err));
        CU_ASSERT_EQUAL_FATAL(
            pq_model_load_config("def", text, strlen(text), &cfg, &err),
            PROTEIN_OK);
        for (int first = 0; first <= 1; first++) {
            CU_ASSERT_EQUAL_FATAL(
                pq_model_fallback_points(cfg, 11, 0, 8, first, &pts),
                PROTEIN_OK);
            point_xo(&pts[0], &x, &o);
            CU_ASSERT_EQUAL(x == 0.3 && strcmp(o, "b") == 0, first && m == 0);
            for (size_t i = 1; i < 8; i++) {
                point_xo(&pts[i], &x, &o);
                CU_ASSERT_NOT_EQUAL(x, 0.3);
            }
            pq_params_array_free(pts, 8);
        }
        protein_config_free(cfg);
    }
}

/* A grid's fallback points are its own, in grid order (the last parameter
 * fastest), from any point on; past its end is refused; other methods have
 * no grid. */
static void test_fallback_grid(void)
{
    static const char *const text = "method: grid\n"
                                    "parameters:\n"
                                    "  o: {values: [a, b, c]}\n"
                                    "  x: {values: [0.25, 0.75]}\n";
    static const char *const want_o = "aabbcc";
    protein_sweep_config *cfg = NULL;
    protein_error err = {0};
    pq_params *pts = NULL;
    const char *o;
    double x;

    CU_ASSERT_EQUAL_FATAL(
        pq_model_load_config("grid", text, strlen(text), &cfg, &err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(pq_model_grid_points(cfg), 6);
    for (size_t first = 0; first < 6; first += 2) {
        CU_ASSERT_EQUAL_FATAL(
            pq_model_fallback_points(cfg, 11, first, 6 - first, 0, &pts),
            PROTEIN_OK);
        for (size_t i = 0; i < 6 - first; i++) {
            point_xo(&pts[i], &x, &o);
            CU_ASSERT_EQUAL(o[0], want_o[first + i]);
            CU_ASSERT_EQUAL(x, (first + i) % 2 ? 0.75 : 0.25);
        }
        pq_params_array_free(pts, 6 - first);
    }
    CU_ASSERT_EQUAL(pq_model_fallback_points(cfg, 11, 5, 2, 0, &pts),
                    PROTEIN_EINVAL);
    CU_ASSERT_PTR_NULL(pts);
    cfg->method = PROTEIN_METHOD_RANDOM;
    CU_ASSERT_EQUAL(pq_model_grid_points(cfg), 0);
    protein_config_free(cfg);
}

/* The seeds of points added to a pool: the same for the same sweep, pool
 * size and drawer; another for another of each, so that proteind's
 * top-ups and protein budget's raise never add the same points. */
static void test_fallback_seed(void)
{
    uint64_t a = pq_model_fallback_seed("s", 10, PQ_FALLBACK_BY_COORDINATOR);

    CU_ASSERT_EQUAL(
        a, pq_model_fallback_seed("s", 10, PQ_FALLBACK_BY_COORDINATOR));
    CU_ASSERT_NOT_EQUAL(a,
                        pq_model_fallback_seed("s", 10, PQ_FALLBACK_BY_BUDGET));
    CU_ASSERT_NOT_EQUAL(
        a, pq_model_fallback_seed("s", 11, PQ_FALLBACK_BY_COORDINATOR));
    CU_ASSERT_NOT_EQUAL(
        a, pq_model_fallback_seed("t", 10, PQ_FALLBACK_BY_COORDINATOR));
}

static const cunit_test tests[] = {
    {"load config", test_load_config},
    {"config errors name the sweep", test_load_config_error_names_sweep},
    {"values to params", test_values_to_params},
    {"typed choice out of range", test_typed_choice_out_of_range},
    {"find param", test_find_param},
    {"round trip", test_round_trip},
    {"params from JSON", test_params_from_json},
    {"params to values errors", test_params_to_values_errors},
    {"fallback pool starts with the defaults", test_fallback_defaults_first},
    {"a grid's fallback points are its own, in order", test_fallback_grid},
    {"fallback seeds: one per sweep, pool size and drawer", test_fallback_seed},
};

int main(void)
{
    return cunit_run_suite("queue_model", tests, CUNIT_COUNT(tests));
}
