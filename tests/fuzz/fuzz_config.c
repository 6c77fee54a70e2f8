/* fuzz_config.c - libFuzzer target for the sweep-config readers. Each input
 * is parsed as YAML and as PufferLib INI; a YAML config that parses must
 * also survive the canonical writer: its output parses back and writes
 * the same text again. A crash, a leak or a failed round trip (abort) is a
 * finding. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protein.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes cfg, reads it back and writes again: both texts must be equal
 * (the canonical form is a fixed point) or the process aborts. */
static void round_trip(const protein_sweep_config *cfg)
{
    protein_sweep_config *back = NULL;
    protein_error err;
    char *text = NULL, *again = NULL;

    if (protein_config_to_yaml(cfg, &text) != PROTEIN_OK)
        abort();
    if (protein_config_parse_yaml(text, strlen(text), "rt.yaml", &back, &err) !=
            PROTEIN_OK ||
        back->n_params != cfg->n_params)
        abort();
    if (protein_config_to_yaml(back, &again) != PROTEIN_OK ||
        strcmp(text, again) != 0)
        abort();
    free(text);
    free(again);
    protein_config_free(back);
}

/* Parses data as YAML and as INI and frees the results; aborts when a
 * config that parsed does not survive a write and re-read. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char line[1024];

    if (protein_config_parse_yaml((const char *)data, size, "fuzz.yaml", &cfg,
                                  &err) == PROTEIN_OK) {
        round_trip(cfg);
        protein_config_free(cfg);
    } else {
        protein_error_format(&err, line, sizeof line);
    }
    cfg = NULL;
    if (protein_config_parse_ini((const char *)data, size, "fuzz.ini", &cfg,
                                 &err) == PROTEIN_OK) {
        round_trip(cfg);
        protein_config_free(cfg);
    } else {
        protein_error_format(&err, line, sizeof line);
    }
    return 0;
}
