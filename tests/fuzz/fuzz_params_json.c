/* fuzz_params_json.c - libFuzzer target for trial parameters as JSON (the
 * params of claim replies, trial hashes and pending points in Redis, and
 * $PROTEIN_PARAMS). Parameters that decode must survive a write and
 * re-read unchanged (the written text is a fixed point) and render as an
 * environment; a crash, a leak or a failed round trip (abort) is a
 * finding. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protein_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes p as JSON, reads it back and writes again: both texts must be
 * equal, or the process aborts. */
static void round_trip(const pq_params *p)
{
    pq_params back;
    char *text = NULL, *again = NULL;

    if (pq_params_to_json(p, &text) != PQ_OK)
        abort();
    if (pq_params_from_json(text, &back) != PQ_OK || back.n != p->n)
        abort();
    if (pq_params_to_json(&back, &again) != PQ_OK || strcmp(text, again) != 0)
        abort();
    free(text);
    free(again);
    pq_params_free(&back);
}

/* Decodes data (cut at its first NUL, as a C string) as params JSON;
 * what decodes is round-tripped and rendered as an environment, which may
 * refuse it (colliding or empty names) but must not crash. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    pq_params p;
    pq_env env;

    if (!json)
        return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    if (pq_params_from_json(json, &p) == PQ_OK) {
        round_trip(&p);
        if (pq_env_build("fuzz", 1, &p, NULL, NULL, "/tmp/r", "t", &env) ==
            PQ_OK)
            pq_env_free(&env);
        pq_params_free(&p);
    }
    free(json);
    return 0;
}
