/* fuzz_queue_model.c - libFuzzer target for trial parameters as proteind
 * feeds them to the optimizer: the params of an observation stream entry
 * or a running trial (params JSON) mapped onto a sweep's parameters
 * (pq_model_params_to_values), against a fixed config with every kind of
 * parameter or, after the input's first NUL, the stored config given
 * there (pq_model_load_config). Values that map must be finite and render
 * back as parameters (pq_model_values_to_params). A crash, a leak or a
 * broken invariant (abort) is a finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_yaml[] =
    "method: protein\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}\n"
    "  x: {distribution: uniform, min: -2, max: 2}\n"
    "  layers: {distribution: int_uniform, min: 1, max: 8}\n"
    "  q: {distribution: q_uniform, min: 0, max: 10, q: 2.5}\n"
    "  n: {distribution: normal, mu: 0, sigma: 1}\n"
    "  opt: {values: [adam, sgd, 3, 0.5, true, null, [1, 2], .inf]}\n"
    "  k: {value: 7}\n"
    "  model:\n"
    "    parameters:\n"
    "      width: {values: [64, 128]}\n";

/* Maps params onto cfg; values that map are checked and rendered back. */
static void map(const protein_sweep_config *cfg, const pq_params *p)
{
    double *values = calloc(cfg->n_params + 1, sizeof *values);
    protein_error err = {0};
    pq_params back;

    if (values && pq_model_params_to_values(cfg, p, values, &err) == 0) {
        for (size_t i = 0; i < cfg->n_params; i++)
            if (!isfinite(values[i]))
                abort();
        if (pq_model_values_to_params(cfg, values, &back) == 0)
            pq_params_free(&back);
    }
    free(values);
}

/* Decodes the input's first piece as params JSON and maps it. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static protein_sweep_config *fixed;
    protein_sweep_config *cfg = NULL;
    protein_error err = {0};
    char *text = malloc(size + 1);
    size_t first;
    pq_params p;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    first = strlen(text);
    if (!fixed && pq_model_load_config("fuzz", fixed_yaml, strlen(fixed_yaml),
                                       &fixed, &err) != 0)
        abort();
    if (first < size && pq_model_load_config("fuzz", text + first + 1,
                                             size - first - 1, &cfg, &err) != 0)
        goto done;
    if (pq_params_from_json(text, &p) == PQ_OK) {
        map(cfg ? cfg : fixed, &p);
        pq_params_free(&p);
    }
done:
    protein_config_free(cfg);
    free(text);
    return 0;
}
