/* fuzz_wandb_params.c - libFuzzer target for a trial's parameters as the
 * W&B launcher hands them to a user's script: params JSON from Redis
 * ($PROTEIN_PARAMS, claim replies), nested names ("outer/inner") and JSON
 * values rewritten in Python's repr and as json.dumps, through every
 * command macro (cli_wandb_command) and the parameter files
 * (cli_wandb_write_params, written to /dev/null). The input, cut at NUL
 * bytes, is the params JSON and then, when there are more pieces, the
 * config's command: items in place of every macro. A crash, a leak, or a
 * command with its first item wrong (abort) is a finding. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 32

static char *every_macro[] = {"${env}",
                              "${interpreter}",
                              "${program}",
                              "${args}",
                              "${args_no_hyphens}",
                              "${args_no_boolean_flags}",
                              "${args_json}",
                              "${args_no_equals}",
                              "${args_append_hydra}",
                              "${args_json_file}",
                              "${args_override_hydra}",
                              "x${envvar:FUZZ_UNSET}y",
                              "${project}",
                              "${entity}",
                              "${unknown}"};

/* Decodes the input's first piece as params JSON and launches it through
 * the W&B macros. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static protein_sweep_config cfg;
    char *text = malloc(size + 1), **argv = NULL, why[256] = "";
    char *items[MAX_ITEMS];
    cli_wandb_job job = {&cfg, NULL, "/dev/null", "/dev/null"};
    size_t n_items = 0, at;
    pq_params p;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (at = strlen(text) + 1; at <= size && n_items < MAX_ITEMS;
         at += strlen(text + at) + 1)
        items[n_items++] = text + at;
    cfg.program = "train.py";
    cfg.project = "proj";
    cfg.entity = "ent";
    cfg.command = n_items ? items : every_macro;
    cfg.n_command =
        n_items ? n_items : sizeof every_macro / sizeof every_macro[0];
    if (pq_params_from_json(text, &p) == PQ_OK) {
        job.params = &p;
        if (cli_wandb_command(&job, &argv, why, sizeof why) == 0) {
            if (!n_items && strcmp(argv[0], "/usr/bin/env") != 0)
                abort();
            cli_strv_free(argv);
        }
        cli_wandb_write_params(&job, why, sizeof why);
        pq_params_free(&p);
    }
    free(text);
    return 0;
}
