#include "config.h"

/* test_sobol.c - the random generator and the scrambled Sobol sequence:
 * determinism, seed dependence, uniformity, argument checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "internal.h"

static void test_rng_deterministic(void)
{
    protein_rng a, b, c;
    int same = 1, differ = 0;
    protein_rng_seed(&a, 42);
    protein_rng_seed(&b, 42);
    protein_rng_seed(&c, 43);
    for (int i = 0; i < 100; i++) {
        uint64_t x = protein_rng_next(&a), y = protein_rng_next(&b);
        same &= x == y;
        differ |= x != protein_rng_next(&c);
    }
    CU_ASSERT(same);
    CU_ASSERT(differ);
}

static void test_rng_distributions(void)
{
    protein_rng r;
    double sum = 0, nsum = 0, nsq = 0;
    size_t counts[7] = {0};
    const int n = 20000;
    protein_rng_seed(&r, 7);
    for (int i = 0; i < n; i++) {
        double u = protein_rng_uniform(&r), z = protein_rng_normal(&r);
        size_t k = protein_rng_index(&r, 7);
        CU_ASSERT_FATAL(u >= 0 && u < 1);
        CU_ASSERT_FATAL(k < 7);
        counts[k]++;
        sum += u;
        nsum += z;
        nsq += z * z;
    }
    CU_ASSERT_DOUBLE_EQUAL(sum / n, 0.5, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(nsum / n, 0.0, 0.03);
    CU_ASSERT_DOUBLE_EQUAL(nsq / n, 1.0, 0.04);
    for (int k = 0; k < 7; k++)
        CU_ASSERT(counts[k] > n / 7 - 300 && counts[k] < n / 7 + 300);
}

static void test_sobol_args(void)
{
    protein_sobol *s = NULL;
    CU_ASSERT_EQUAL(protein_sobol_create(0, 1, &s), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_sobol_create(PROTEIN_SOBOL_MAX_DIM + 1, 1, &s),
                    PROTEIN_EINVAL);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_EQUAL(protein_sobol_create(PROTEIN_SOBOL_MAX_DIM, 1, &s),
                    PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL(s);
    protein_sobol_free(s);
    protein_sobol_free(NULL);
}

static void test_sobol_determinism_and_seed(void)
{
    protein_sobol *a, *b, *c;
    double pa[5], pb[5], pc[5];
    int same = 1, differ = 0;
    CU_ASSERT_FATAL(protein_sobol_create(5, 11, &a) == PROTEIN_OK);
    CU_ASSERT_FATAL(protein_sobol_create(5, 11, &b) == PROTEIN_OK);
    CU_ASSERT_FATAL(protein_sobol_create(5, 12, &c) == PROTEIN_OK);
    for (int i = 0; i < 64; i++) {
        protein_sobol_next(a, pa);
        protein_sobol_next(b, pb);
        protein_sobol_next(c, pc);
        same &= memcmp(pa, pb, sizeof(pa)) == 0;
        differ |= memcmp(pa, pc, sizeof(pa)) != 0;
    }
    CU_ASSERT(same);
    CU_ASSERT(differ);
    protein_sobol_free(a);
    protein_sobol_free(b);
    protein_sobol_free(c);
}

/* The first 1024 points of a shifted Sobol sequence form a net: each of
 * 32 bins of every axis holds exactly 32 points, and each of the 16 x 16
 * cells of the first two axes exactly 4. */
static void test_sobol_uniformity(void)
{
    enum { N = 1024, D = 6, BINS = 32 };
    protein_sobol *s;
    double p[D], mean[D] = {0};
    unsigned counts[D][BINS];
    unsigned cell[16][16];
    memset(counts, 0, sizeof(counts));
    memset(cell, 0, sizeof(cell));
    CU_ASSERT_FATAL(protein_sobol_create(D, 99, &s) == PROTEIN_OK);
    for (int i = 0; i < N; i++) {
        protein_sobol_next(s, p);
        for (int j = 0; j < D; j++) {
            CU_ASSERT_FATAL(p[j] >= 0 && p[j] < 1);
            counts[j][(int)(p[j] * BINS)]++;
            mean[j] += p[j] / N;
        }
        cell[(int)(p[0] * 16)][(int)(p[1] * 16)]++;
    }
    for (int j = 0; j < D; j++) {
        CU_ASSERT_DOUBLE_EQUAL(mean[j], 0.5, 1e-3);
        for (int b = 0; b < BINS; b++)
            CU_ASSERT_EQUAL(counts[j][b], N / BINS);
    }
    for (int a = 0; a < 16; a++)
        for (int b = 0; b < 16; b++)
            CU_ASSERT(cell[a][b] == N / 256);
    protein_sobol_free(s);
}

static const cunit_test tests[] = {
    {"rng deterministic", test_rng_deterministic},
    {"rng distributions", test_rng_distributions},
    {"sobol arguments", test_sobol_args},
    {"sobol determinism and seed", test_sobol_determinism_and_seed},
    {"sobol uniformity", test_sobol_uniformity},
};

int main(void)
{
    return cunit_run_suite("sobol", tests, CUNIT_COUNT(tests));
}
