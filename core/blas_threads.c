/*
 * blas_threads.c - the BLAS thread count of a protein process, chosen on
 * purpose. OpenBLAS otherwise starts one thread per core at load time: on a
 * shared node those threads fight every other process, and a cold GP fit at
 * n = 100 took 5.7-6.0 s on a busy 2-core machine against 0.015 s with one
 * thread. The GP matrices protein factors (n <= 750 by default) are too
 * small for threads to pay off, so one thread is the default.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "protein.h"

/* OpenBLAS's setter, when the linked BLAS is OpenBLAS. Declared weak so that
 * protein links and runs against any BLAS: with another one the pointer is
 * null and the thread count is left to that BLAS. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

/* Parses a positive thread count; 0 when text is not one. */
static int parse_threads(const char *text)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v <= 0 || v > 4096)
        return 0;
    return (int)v;
}

/* Contract in protein.h. */
int protein_blas_threads_choose(int requested, char *why, size_t why_len)
{
    const char *env = getenv("PROTEIN_BLAS_THREADS");
    int n;

    if (requested > 0) {
        n = requested;
        snprintf(why, why_len, "%d (command line)", n);
    } else if (env && *env) {
        n = parse_threads(env);
        if (!n) {
            snprintf(why, why_len,
                     "PROTEIN_BLAS_THREADS='%s' is not a thread count (1-4096)",
                     env);
            return -1;
        }
        snprintf(why, why_len, "%d (PROTEIN_BLAS_THREADS)", n);
    } else if (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS")) {
        snprintf(why, why_len, "as OPENBLAS_NUM_THREADS/OMP_NUM_THREADS say");
        return 0;
    } else {
        n = 1;
        snprintf(why, why_len, "1 (default; PROTEIN_BLAS_THREADS changes it)");
    }
    if (!openblas_set_num_threads) {
        snprintf(why, why_len, "left to the BLAS (not OpenBLAS)");
        return 0;
    }
    openblas_set_num_threads(n);
    return n;
}
