/* fuzz_msgpack.c - libFuzzer target for the msgpack that protein reads
 * back from Redis: packed params (queue and fallback entries, the packed
 * copy kept per trial) and observation stream entries. Params that decode
 * must pack and unpack to the same parameters; an observation that
 * decodes must hold a positive trial id and finite numbers. A crash, a
 * leak or a broken invariant (abort) is a finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when a and b hold the same parameters in the same order. */
static int same_params(const pq_params *a, const pq_params *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const pq_param *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->name, y->name) != 0 || x->is_string != y->is_string)
            return 0;
        if (x->is_string
                ? strcmp(x->text, y->text) != 0
                : x->number != y->number || x->is_integer != y->is_integer)
            return 0;
    }
    return 1;
}

static void params_round_trip(const pq_params *p)
{
    pq_params back;
    char *buf = NULL;
    size_t len = 0;

    if (pq_params_pack(p, &buf, &len) != PQ_OK)
        abort();
    if (pq_params_unpack(buf, len, &back) != PQ_OK || !same_params(p, &back))
        abort();
    free(buf);
    pq_params_free(&back);
}

/* Decodes data as packed params and as an observation entry. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pq_params p;
    pq_observation o;

    if (pq_params_unpack((const char *)data, size, &p) == PQ_OK) {
        params_round_trip(&p);
        pq_params_free(&p);
    }
    if (pq_observation_decode((const char *)data, size, &o) == PQ_OK) {
        if (o.trial_id < 1 || (o.has_score && !isfinite(o.score)) ||
            (o.has_cost && !isfinite(o.cost)) || (int)o.outcome < 0 ||
            (int)o.outcome >= PQ_TRIAL_NSTATES)
            abort();
        params_round_trip(&o.params);
        pq_params_free(&o.params);
    }
    return 0;
}
