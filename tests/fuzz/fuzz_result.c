/* fuzz_result.c - libFuzzer target for result files ($PROTEIN_RESULT, read
 * by root in slurmstepd and by protein run/agent): every input is parsed
 * with the default keys and with custom ones. A crash, a leak, or a value
 * reported present that is not a finite number (abort) is a finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "protein_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless every value r reports is a finite number. */
static void check(const pq_result *r)
{
    if ((r->has_metric && !isfinite(r->metric)) ||
        (r->has_cost && !isfinite(r->cost)) ||
        (r->has_step && !isfinite(r->step)) ||
        (r->has_metric && r->metric_rejected))
        abort();
}

/* Parses data as a result file twice (default and custom keys). Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pq_result r;

    if (pq_result_parse((const char *)data, size, NULL, NULL, &r) != PQ_OK)
        abort();
    check(&r);
    if (pq_result_parse((const char *)data, size, "val/loss", "gpu_hours",
                        &r) != PQ_OK)
        abort();
    check(&r);
    return 0;
}
