/*
 * cunit_run.h - the main() of a CUnit test program, written once.
 *
 * A program lists its tests in a table and hands it to cunit_run_suite()
 * (or cunit_run_suite_fixture() when the suite has init/cleanup
 * functions, cunit_run_suite_setup() when its tests also have a setup and
 * teardown), which registers one suite, runs it in CUnit's verbose basic
 * mode and cleans the registry up again.
 *
 * Typical use:
 *     static const cunit_test tests[] = {
 *         {"defaults", test_defaults},
 *         {"errors", test_errors},
 *     };
 *     int main(void)
 *     {
 *         return cunit_run_suite("config", tests, CUNIT_COUNT(tests));
 *     }
 */
#ifndef PROTEIN_CUNIT_RUN_H
#define PROTEIN_CUNIT_RUN_H

#include <stddef.h>

#include <CUnit/Basic.h>

/* Exit status when CUnit itself fails (automake's "hard error"). */
#define CUNIT_HARD_ERROR 99

/* The number of entries in a test table (an array, not a pointer). */
#define CUNIT_COUNT(table) (sizeof(table) / sizeof((table)[0]))

typedef struct cunit_test {
    const char *name;
    CU_TestFunc func;
} cunit_test;

/*
 * Runs the n tests of `tests` as one suite named `suite`, with `init` and
 * `clean` (either may be NULL) run before and after it, and `setup` and
 * `teardown` (either may be NULL) around each test. Returns 0 when
 * every test passed; 1 when an assertion, a test or the suite's init or
 * cleanup failed; CUNIT_HARD_ERROR when CUnit could not set the suite up.
 * The registry is cleaned up in every case.
 */
static inline int cunit_run_suite_setup(const char *suite,
                                        CU_InitializeFunc init,
                                        CU_CleanupFunc clean,
                                        CU_SetUpFunc setup,
                                        CU_TearDownFunc teardown,
                                        const cunit_test *tests, size_t n)
{
    CU_pSuite s;
    unsigned failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return CUNIT_HARD_ERROR;
    s = CU_add_suite_with_setup_and_teardown(suite, init, clean, setup,
                                             teardown);
    for (size_t i = 0; s != NULL && i < n; i++)
        if (CU_add_test(s, tests[i].name, tests[i].func) == NULL)
            s = NULL;
    if (s == NULL) {
        CU_cleanup_registry();
        return CUNIT_HARD_ERROR;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
             CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* cunit_run_suite_setup() without per-test setup and teardown. */
static inline int cunit_run_suite_fixture(const char *suite,
                                          CU_InitializeFunc init,
                                          CU_CleanupFunc clean,
                                          const cunit_test *tests, size_t n)
{
    return cunit_run_suite_setup(suite, init, clean, NULL, NULL, tests, n);
}

/* cunit_run_suite_fixture() for a suite without init or cleanup. */
static inline int cunit_run_suite(const char *suite, const cunit_test *tests,
                                  size_t n)
{
    return cunit_run_suite_fixture(suite, NULL, NULL, tests, n);
}

#endif
