#include "config.h"

/* test_earlystop.c - the early-stop model: pinball loss, quantile
 * regression, the upper cost threshold and the thresholds, also through
 * the optimizer in both goal directions. */
#include <math.h>
#include <stdlib.h>

#include "cunit_run.h"
#include "internal.h"
#include "optimizer_fixture.h"

static void test_pinball(void)
{
    const double y[] = {1, 3}, x[] = {0, 0};
    /* residuals +1 and -1 at a=2, b=0: (0.3 * 1 + 0.7 * 1) / 2 */
    CU_ASSERT_DOUBLE_EQUAL(protein_pinball_loss(y, x, 2, 0.3, 2, 0), 0.5,
                           1e-12);
    CU_ASSERT_DOUBLE_EQUAL(protein_pinball_loss(y, x, 2, 0.3, 0, 0), 0.3 * 2,
                           1e-12);
    CU_ASSERT_DOUBLE_EQUAL(protein_pinball_loss(y, x, 0, 0.3, 0, 0), 0, 0);
}

static void make_data(double *score, double *cost, size_t n, double noise,
                      uint64_t seed)
{
    protein_rng r;
    protein_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        cost[i] = exp(1.0 + 6.0 * protein_rng_uniform(&r));
        score[i] = 0.5 + 0.3 * log(cost[i]) +
                   noise * (2 * protein_rng_uniform(&r) - 1);
    }
}

static void test_recovers_line(void)
{
    enum { N = 400 };
    double score[N], cost[N];
    protein_cost_model m = {0};
    make_data(score, cost, N, 0, 5);
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, N, 0.3),
                    PROTEIN_OK);
    CU_ASSERT_FATAL(m.fitted);
    CU_ASSERT_DOUBLE_EQUAL(m.a, 0.5, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(m.b, 0.3, 1e-3);
    /* uniform noise on [-0.1, 0.1]: the 0.3 quantile sits 0.04 lower */
    make_data(score, cost, N, 0.1, 6);
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, N, 0.3),
                    PROTEIN_OK);
    CU_ASSERT_FATAL(m.fitted);
    CU_ASSERT_DOUBLE_EQUAL(m.a, 0.46, 0.03);
    CU_ASSERT_DOUBLE_EQUAL(m.b, 0.3, 0.01);
}

static void test_slope_nonnegative(void)
{
    enum { N = 60 };
    double score[N], cost[N];
    protein_cost_model m = {0};
    for (size_t i = 0; i < N; i++) {
        cost[i] = 1.0 + (double)i;
        score[i] = 5.0 - log(cost[i]);
    }
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, N, 0.3),
                    PROTEIN_OK);
    CU_ASSERT(m.fitted);
    CU_ASSERT(m.b >= 0);
}

static void test_unfitted_and_errors(void)
{
    double score[40], cost[40];
    protein_cost_model m = {0};
    make_data(score, cost, 40, 0, 1);
    for (int i = 0; i < 15; i++)
        cost[i] = 0; /* ignored: only 25 usable points remain */
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, 40, 0.3),
                    PROTEIN_OK);
    CU_ASSERT_FALSE(m.fitted);
    CU_ASSERT(isinf(protein_cost_model_threshold(&m, 1000)));
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, 40, 1.5),
                    PROTEIN_EINVAL);
}

/* Runs that report no cost all count as costing 1: a quantile line over
 * one cost cannot judge a run at any other, so there is no threshold
 * (before, every run past 1.2 x that cost had to reach 0.9 x the best). */
static void test_unfitted_equal_costs(void)
{
    double score[40], cost[40];
    protein_cost_model m = {0};
    make_data(score, cost, 40, 0, 2);
    for (int i = 0; i < 40; i++)
        cost[i] = 1.0;
    protein_cost_model_update_upper(&m, 1.0);
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, 40, 0.3),
                    PROTEIN_OK);
    CU_ASSERT_FALSE(m.fitted);
    CU_ASSERT(protein_cost_model_threshold(&m, 1.0) == -INFINITY);
    CU_ASSERT(protein_cost_model_threshold(&m, 1e4) == -INFINITY);
    cost[7] = 2.0; /* a second cost is enough */
    CU_ASSERT_EQUAL(protein_cost_model_fit(&m, score, cost, 40, 0.3),
                    PROTEIN_OK);
    CU_ASSERT(m.fitted);
}

static void test_thresholds(void)
{
    protein_cost_model m = {0};
    m.fitted = 1;
    m.a = 0.5;
    m.b = 0.3;
    m.max_score = 4;
    protein_cost_model_update_upper(&m, 1000);
    CU_ASSERT_EQUAL(m.upper_cost, 1000);
    protein_cost_model_update_upper(&m, 2000);
    CU_ASSERT_DOUBLE_EQUAL(m.upper_cost, 1010, 1e-9);
    protein_cost_model_update_upper(&m, 500);
    CU_ASSERT_DOUBLE_EQUAL(m.upper_cost, 1010, 1e-9);
    CU_ASSERT(protein_cost_model_threshold(&m, 300) == -INFINITY);
    CU_ASSERT_DOUBLE_EQUAL(protein_cost_model_threshold(&m, 500),
                           0.5 + 0.3 * log(500), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(protein_cost_model_threshold(&m, 1300), 3.6, 1e-12);
    m.max_score = -4; /* sign-safe: below the best, not above it */
    CU_ASSERT_DOUBLE_EQUAL(protein_cost_model_threshold(&m, 1300), -4.4, 1e-12);
}

/* Through the optimizer: 40 seeded successes on score = 0.5 + 0.3 ln c;
 * one model suggestion, or protein_early_stop_refit without one, fits
 * the model; minimize mirrors the threshold. */
static double threshold_via_optimizer(int minimize, int refit)
{
    fx_sweep s;
    protein_optimizer *opt = NULL;
    protein_rng r;
    double v[2], t;
    fx_init(&s, 9);
    s.cfg.minimize = minimize;
    s.cfg.num_random_samples = 0;
    s.cfg.suggestions_per_pareto = 16;
    fx_numeric(&s, "x", PROTEIN_PARAM_LINEAR, 0, 1);
    fx_numeric(&s, "y", PROTEIN_PARAM_LINEAR, 0, 1);
    if (protein_optimizer_create(&s.cfg, NULL, &opt, NULL) != PROTEIN_OK)
        return NAN;
    CU_ASSERT(protein_early_stop_threshold(opt, 100) ==
              (minimize ? INFINITY : -INFINITY));
    protein_rng_seed(&r, 4);
    for (int i = 0; i < 40; i++) {
        double c = 20.0 + 10.0 * i, sc = 0.5 + 0.3 * log(c);
        v[0] = protein_rng_uniform(&r);
        v[1] = protein_rng_uniform(&r);
        protein_observe(opt, v, minimize ? -sc : sc, c,
                        PROTEIN_OUTCOME_SUCCESS);
    }
    CU_ASSERT(protein_early_stop_threshold(opt, 300) ==
              (minimize ? INFINITY : -INFINITY));
    if (refit) {
        CU_ASSERT(protein_early_stop_refit(opt) == PROTEIN_OK);
    } else {
        CU_ASSERT(protein_suggest(opt, v, NULL) == PROTEIN_OK);
    }
    t = protein_early_stop_threshold(opt, 300);
    protein_optimizer_free(opt);
    return t;
}

static void test_optimizer_threshold(void)
{
    double up = threshold_via_optimizer(0, 0);
    double down = threshold_via_optimizer(1, 0);
    CU_ASSERT_DOUBLE_EQUAL(up, 0.5 + 0.3 * log(300), 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(down, -up, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(threshold_via_optimizer(0, 1), up, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(threshold_via_optimizer(1, 1), down, 1e-9);
    CU_ASSERT(protein_early_stop_refit(NULL) == PROTEIN_EINVAL);
}

static const cunit_test tests[] = {
    {"pinball loss", test_pinball},
    {"recovers 0.5 + 0.3 ln c", test_recovers_line},
    {"slope non-negative", test_slope_nonnegative},
    {"unfitted and errors", test_unfitted_and_errors},
    {"unfitted when every run cost the same", test_unfitted_equal_costs},
    {"thresholds", test_thresholds},
    {"through the optimizer", test_optimizer_threshold},
};

int main(void)
{
    return cunit_run_suite("earlystop", tests, CUNIT_COUNT(tests));
}
