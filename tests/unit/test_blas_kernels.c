#include "config.h"

/* test_blas_kernels.c - the BLAS kernels of a protein process: which
 * kernels a CPU should get, and that this process, checked at start as
 * protein run and proteind check theirs, runs them without leaving
 * OPENBLAS_CORETYPE to its children. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "protein.h"
#include "cunit_run.h"

/* LAPACK's Cholesky: a call links this test with the BLAS protein's fits
 * use (protein's own references to OpenBLAS are weak) */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
                    int *info);

/* OPENBLAS_CORETYPE as this test was started with it (NULL: unset) */
static const char *coretype_given;

static void test_kernels_for_cpu(void)
{
    /* kernels older than the CPU: the best the CPU runs */
    CU_ASSERT_STRING_EQUAL(protein_blas_kernels_for_cpu("Prescott", 1, 1),
                           "SkylakeX");
    CU_ASSERT_STRING_EQUAL(protein_blas_kernels_for_cpu("Prescott", 1, 0),
                           "Haswell");
    CU_ASSERT_STRING_EQUAL(protein_blas_kernels_for_cpu("Sandybridge", 1, 0),
                           "Haswell");
    CU_ASSERT_STRING_EQUAL(protein_blas_kernels_for_cpu("Unknown", 1, 1),
                           "SkylakeX");
    /* kernels with AVX2 are the library's choice, whatever the CPU has
     * beyond them (case as OpenBLAS versions spell it) */
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("Haswell", 1, 1));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("Zen", 1, 1));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("SkylakeX", 1, 1));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("Cooperlake", 1, 1));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("COOPERLAKE", 1, 1));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("SapphireRapids", 1, 1));
    /* a CPU without AVX2 and FMA, or no name: nothing to correct */
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("Prescott", 0, 0));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu("Sandybridge", 0, 0));
    CU_ASSERT_PTR_NULL(protein_blas_kernels_for_cpu(NULL, 1, 1));
}

static void test_this_process(void)
{
    char text[160];
    double one = 4.0;
    int n = 1, info = -1;

    dpotrf_("L", &n, &one, &n, &info);
    CU_ASSERT_EQUAL(info, 0);
    CU_ASSERT_DOUBLE_EQUAL(one, 2.0, 1e-15);
    protein_blas_describe(text, sizeof text);
    fprintf(stderr, "\nBLAS: %s\n", text);
    if (coretype_given) {
        /* the user's choice stands, and stays for the children */
        CU_ASSERT_PTR_NOT_NULL(getenv("OPENBLAS_CORETYPE"));
        CU_ASSERT_PTR_NULL(strstr(text, "set by protein"));
        return;
    }
    /* the kernels suit this CPU: on a CPU newer than the library
     * (Debian 12's OpenBLAS on Emerald Rapids) the check ran this test
     * again with better ones */
    CU_ASSERT_PTR_NULL(protein_blas_kernels_wanted());
    /* and no child inherits what the check set */
    CU_ASSERT_PTR_NULL(getenv("OPENBLAS_CORETYPE"));
    CU_ASSERT_PTR_NULL(getenv("PROTEIN_BLAS_CHOSEN_OVER"));
}

static const cunit_test tests[] = {
    {"kernels a CPU gets", test_kernels_for_cpu},
    {"this process's kernels", test_this_process},
};

int main(int argc, char **argv)
{
    coretype_given =
        getenv("PROTEIN_BLAS_CHOSEN_OVER") ? NULL : getenv("OPENBLAS_CORETYPE");
    protein_blas_kernels_check(argv);
    return cunit_run_suite("blas_kernels", tests, CUNIT_COUNT(tests));
}
