#include "config.h"

/* test_pareto.c - the Pareto front and its tail pruning, on the research
 * note's fixtures, and the optimizer's front for goal: minimize. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "optimizer_fixture.h"
#include "cunit_run.h"

static void test_front_fixture(void)
{
    const double score[] = {1, 3, 2, 4, 2.5}, cost[] = {10, 30, 20, 50, 40};
    const size_t expect[] = {0, 2, 1, 3};
    size_t front[5], nf = 99;
    CU_ASSERT_EQUAL(protein_pareto_compute(score, cost, 5, front, &nf),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(nf, 4);
    for (size_t k = 0; k < 4; k++)
        CU_ASSERT_EQUAL(front[k], expect[k]);
}

static void test_front_edges(void)
{
    const double score[] = {2, 2 + 5e-7, 1, 3}, cost[] = {5, 6, 5, 5};
    size_t front[4], nf = 99;
    CU_ASSERT_EQUAL(protein_pareto_compute(score, cost, 0, front, &nf),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(nf, 0);
    /* a gain under 1e-6 is no gain */
    CU_ASSERT_EQUAL(protein_pareto_compute(score, cost, 2, front, &nf),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(nf, 1);
    CU_ASSERT_EQUAL(front[0], 0);
    /* at equal cost only the best score is on the front, wherever it
     * stands in the input (with unit costs the front is the best trial) */
    CU_ASSERT_EQUAL(protein_pareto_compute(score, cost, 4, front, &nf),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(nf, 1);
    CU_ASSERT_EQUAL(front[0], 3);
}

static void test_prune_fixture(void)
{
    const double score[] = {1, 2, 2.5, 2.51}, cost[] = {10, 20, 30, 100};
    const size_t front[] = {0, 1, 2, 3};
    CU_ASSERT_EQUAL(protein_pareto_prune(score, cost, front, 4), 3);
}

static void test_prune_keeps_efficient(void)
{
    /* a steep last step is efficient: nothing is removed */
    const double score[] = {1, 2, 3, 4}, cost[] = {10, 20, 30, 40};
    const size_t front[] = {0, 1, 2, 3};
    /* the first two points always stay */
    const double flat[] = {1, 1.0019, 1.002}, fcost[] = {1, 100, 1000};
    CU_ASSERT_EQUAL(protein_pareto_prune(score, cost, front, 4), 4);
    CU_ASSERT_EQUAL(protein_pareto_prune(flat, fcost, front, 3), 2);
    CU_ASSERT_EQUAL(protein_pareto_prune(flat, fcost, front, 2), 2);
}

static void test_prune_negative_scores(void)
{
    /* internal scores of a minimized loss: -10, -5, -4.99 at a 10x cost */
    const double score[] = {-10, -5, -4.99}, cost[] = {1, 2, 20};
    const size_t front[] = {0, 1, 2};
    CU_ASSERT_EQUAL(protein_pareto_prune(score, cost, front, 3), 2);
}

static void test_minimize_front(void)
{
    fx_sweep s;
    protein_optimizer *opt = NULL;
    const double loss[] = {4, 2, 3, 1, 2.5}, cost[] = {10, 30, 20, 50, 40};
    size_t idx[5], n;
    double v, sc, c;
    fx_init(&s, 3);
    s.cfg.minimize = 1;
    fx_numeric(&s, "x", PROTEIN_PARAM_LINEAR, 0, 10);
    CU_ASSERT_FATAL(protein_optimizer_create(&s.cfg, NULL, &opt, NULL) ==
                    PROTEIN_OK);
    for (int i = 0; i < 5; i++) {
        v = i;
        CU_ASSERT(protein_observe(opt, &v, loss[i], cost[i],
                                  PROTEIN_OUTCOME_SUCCESS) == PROTEIN_OK);
    }
    CU_ASSERT_EQUAL(protein_pareto_front(opt, idx, 5, &n), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(idx[0], 0); /* loss 4 at 10 */
    CU_ASSERT_EQUAL(idx[1], 2); /* loss 3 at 20 */
    CU_ASSERT_EQUAL(idx[2], 1); /* loss 2 at 30 */
    CU_ASSERT_EQUAL(idx[3], 3); /* loss 1 at 50 */
    CU_ASSERT_EQUAL(protein_get_observation(opt, idx[3], &v, &sc, &c),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(sc, 1.0); /* reported in the user's direction */
    CU_ASSERT_EQUAL(c, 50.0);
    CU_ASSERT_EQUAL(protein_pareto_front(opt, idx, 2, &n), PROTEIN_OK);
    CU_ASSERT_EQUAL(n, 4); /* truncated */
    CU_ASSERT_EQUAL(protein_pareto_front(NULL, idx, 2, &n), PROTEIN_EINVAL);
    protein_optimizer_free(opt);
}

static const cunit_test tests[] = {
    {"front fixture", test_front_fixture},
    {"front edges", test_front_edges},
    {"prune fixture", test_prune_fixture},
    {"prune keeps efficient", test_prune_keeps_efficient},
    {"prune negative scores", test_prune_negative_scores},
    {"minimize front", test_minimize_front},
};

int main(void)
{
    return cunit_run_suite("pareto", tests, CUNIT_COUNT(tests));
}
