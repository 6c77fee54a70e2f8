/* fuzz_curve.c - libFuzzer target for a trial's curve as Redis keeps it
 * (protein_progress's "STEP SCORE COST" lines, read back by proteind for
 * PufferLib's downsample): the input is parsed, and a curve that parses
 * is downsampled. A crash, a leak, or a parsed point with a non-finite
 * step or score, or a downsample of more points than asked (abort) is a
 * finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "protein.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses data as a curve and downsamples it to 1..5 points. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    protein_curve_point *pts = NULL, out[6];
    size_t n = 0, i;
    int m;

    if (protein_curve_parse((const char *)data, size, &pts, &n) != PROTEIN_OK)
        return 0;
    for (i = 0; i < n; i++)
        if (!isfinite(pts[i].step) || !isfinite(pts[i].score) ||
            isinf(pts[i].cost))
            abort();
    for (m = 0; m <= 5; m++)
        if (protein_downsample(pts, n, m, out) > (size_t)(m > 0 ? m + 1 : 1) &&
            (size_t)m <= n)
            abort();
    free(pts);
    return 0;
}
