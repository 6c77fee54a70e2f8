/*
 * blas_kernels.c - the BLAS kernels of a protein process, checked against
 * the CPU. A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels when it is
 * loaded, from the CPU's model number: a CPU newer than the library is run
 * on its oldest kernels. Debian 12's OpenBLAS 0.3.21 takes Intel's Emerald
 * Rapids (model 207) for a Prescott and factors an n = 750 GP matrix
 * (dpotrf) in 9.1 ms instead of the 3.9 ms of its SkylakeX kernels, which
 * makes a suggestion take 0.25 s instead of 0.15 s
 * (docs/benchmarks.md). OpenBLAS reads OPENBLAS_CORETYPE only when it is
 * loaded, so the choice is corrected by running the program again with it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "protein.h"

/* OpenBLAS's own reports, when the linked BLAS is OpenBLAS (weak: null
 * with any other BLAS, as in blas_threads.c). */
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));

/* Set in the environment of the second run, to the kernels OpenBLAS chose
 * in the first: it tells that run that protein set OPENBLAS_CORETYPE (and
 * so removes both, for no child to inherit them) and what it corrected. */
#define CHOSEN_OVER "PROTEIN_BLAS_CHOSEN_OVER"

/* The kernels OpenBLAS chose before protein set OPENBLAS_CORETYPE, for
 * protein_blas_describe; empty when protein left the choice alone. */
static char chosen_over[32];

/* Contract in protein.h. */
const char *protein_blas_kernels_for_cpu(const char *corename, int avx2_fma,
                                         int avx512)
{
    /* OpenBLAS's x86-64 kernels that use AVX2 and FMA (0.3.21 and later) */
    static const char *const avx2_kernels[] = {"Haswell",        "Zen",
                                               "SkylakeX",       "Cooperlake",
                                               "SapphireRapids", "Excavator"};
    size_t i;

    if (!corename || !avx2_fma)
        return NULL;
    for (i = 0; i < sizeof(avx2_kernels) / sizeof(avx2_kernels[0]); i++)
        if (strcasecmp(corename, avx2_kernels[i]) == 0)
            return NULL;
    return avx512 ? "SkylakeX" : "Haswell";
}

/* What this CPU, with its operating system's consent, runs: AVX2 with FMA,
 * and the AVX-512 of OpenBLAS's SkylakeX kernels. GCC's checks read XCR0
 * too, so a CPU whose OS keeps the wide registers off says no. */
static void cpu_features(int *avx2_fma, int *avx512)
{
    *avx2_fma = 0;
    *avx512 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    *avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    *avx512 = *avx2_fma && __builtin_cpu_supports("avx512f") &&
              __builtin_cpu_supports("avx512cd") &&
              __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512dq") &&
              __builtin_cpu_supports("avx512vl");
#endif
}

/* Contract in protein.h. */
const char *protein_blas_kernels_wanted(void)
{
    int avx2_fma, avx512;

    if (!openblas_get_corename || !openblas_get_config ||
        !strstr(openblas_get_config(), "DYNAMIC_ARCH"))
        return NULL;
    cpu_features(&avx2_fma, &avx512);
    return protein_blas_kernels_for_cpu(openblas_get_corename(), avx2_fma,
                                        avx512);
}

/* Contract in protein.h. */
int protein_blas_kernels_check(char *const argv[])
{
    const char *over = getenv(CHOSEN_OVER);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    const char *better;
    char self[4096];
    ssize_t len;

    if (over) { /* the second run: the kernels are those asked for */
        snprintf(chosen_over, sizeof(chosen_over), "%s", over);
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv(CHOSEN_OVER);
        return 0;
    }
    if (coretype && *coretype)
        return 0; /* the user's choice; an empty one counts as unset */
    better = protein_blas_kernels_wanted();
    if (!better)
        return 0;
    /* the path /proc/self/exe names, not the link itself: a tool that runs
     * this program (valgrind) answers the readlink for it */
    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0 && (size_t)len < sizeof(self) - 1 &&
        setenv("OPENBLAS_CORETYPE", better, 1) == 0 &&
        setenv(CHOSEN_OVER, openblas_get_corename(), 1) == 0) {
        self[len] = '\0';
        execv(self, argv);
    }
    /* no second run (no /proc, say): the slow kernels it is */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(CHOSEN_OVER);
    return -1;
}

/* Contract in protein.h. */
void protein_blas_describe(char *buf, size_t len)
{
    const char *config, *version;

    if (!openblas_get_corename || !openblas_get_config) {
        snprintf(buf, len, "a BLAS other than OpenBLAS");
        return;
    }
    config = openblas_get_config();
    version = strncmp(config, "OpenBLAS ", 9) == 0 ? config + 9 : config;
    snprintf(buf, len, "OpenBLAS %.*s, %s kernels%s%s%s",
             (int)strcspn(version, " "), version, openblas_get_corename(),
             chosen_over[0] ? " (OPENBLAS_CORETYPE set by protein: OpenBLAS "
                              "took this CPU for a "
                            : "",
             chosen_over, chosen_over[0] ? ")" : "");
}
