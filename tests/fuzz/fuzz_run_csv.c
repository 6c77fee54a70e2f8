/* fuzz_run_csv.c - libFuzzer target for the `protein run --out` CSV that
 * `protein run --resume` reads back (cli_run_csv_parse, cli/csv.c), against
 * a fixed config with every kind of parameter. A file that reads must give
 * rows fit to observe (a trial number from 1 up, each once; a finite score
 * unless failed; a cost > 0; finite values in range; a curve of finite
 * steps and scores, costs > 0 or NaN, only in a file with the curve
 * column) and a keep offset at
 * the end of a line, and its first keep bytes must read back to the same
 * rows with nothing cut short (what --resume appends after); a refused
 * one must say why, naming the file, and leave nothing. A crash, a leak or
 * a broken invariant (abort) is a finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_yaml[] =
    "method: protein\n"
    "parameters:\n"
    "  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}\n"
    "  x: {distribution: uniform, min: -2, max: 2}\n"
    "  layers: {distribution: int_uniform, min: 1, max: 8}\n"
    "  bs: {distribution: uniform_pow2, min: 16, max: 1024}\n"
    "  n: {distribution: normal, mu: 0, sigma: 1}\n"
    "  opt: {values: [adam, \"s,g\\\"d\", 3, true]}\n"
    "  k: {value: 7}\n";

/* Aborts unless c holds rows fit to observe. */
static void check(const protein_sweep_config *cfg, const cli_run_csv *c,
                  const char *text, size_t size)
{
    for (size_t i = 0; i < c->n; i++) {
        const cli_run_row *r = &c->rows[i];

        if (r->id < 1 || r->id > c->max_id || !(r->cost > 0) ||
            !isfinite(r->cost) || !r->error || r->params.n != cfg->n_params ||
            (r->status != CLI_ROW_FAILED && !isfinite(r->score)))
            abort();
        for (size_t j = 0; j < i; j++)
            if (c->rows[j].id == r->id)
                abort();
        for (size_t j = 0; j < cfg->n_params; j++)
            if (!isfinite(r->values[j]))
                abort();
        if ((r->n_curve > 0) != (r->curve != NULL) ||
            (r->n_curve > 0 && !c->has_curve) || r->n_curve > PROTEIN_CURVE_MAX)
            abort();
        for (size_t j = 0; j < r->n_curve; j++)
            if (!isfinite(r->curve[j].step) || !isfinite(r->curve[j].score) ||
                r->curve[j].cost <= 0 || isinf(r->curve[j].cost))
                abort();
    }
    if (c->keep > size || (c->keep > 0 && text[c->keep - 1] != '\n') ||
        (c->cut_line > 0) != (c->keep < size))
        abort();
}

/* Reads the input as a --out file, then its first keep bytes. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static protein_sweep_config *cfg;
    protein_error err = {0};
    cli_run_csv c, again;
    char why[2048];
    size_t n;

    if (!cfg && protein_config_parse_yaml(fixed_yaml, strlen(fixed_yaml),
                                          "fuzz.yaml", &cfg, &err) != 0)
        abort();
    if (cli_run_csv_parse("f.csv", (const char *)data, size, cfg, &c, why,
                          sizeof(why)) != 0) {
        if (c.n != 0 || c.rows || strncmp(why, "f.csv", 5) != 0)
            abort();
        return 0;
    }
    check(cfg, &c, (const char *)data, size);
    n = c.n;
    if (cli_run_csv_parse("f.csv", (const char *)data, c.keep, cfg, &again, why,
                          sizeof(why)) != 0 ||
        again.n != n || again.cut_line != 0 || again.keep != c.keep)
        abort();
    cli_run_csv_free(&again);
    cli_run_csv_free(&c);
    return 0;
}
