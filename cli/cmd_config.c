/*
 * cmd_config.c - `protein config FILE`: the sweep a config file gives, as
 * protein reads it (a W&B sweep file, a PufferLib INI over its
 * default.ini), in canonical YAML: every parameter with its kind, bounds,
 * scale and choices, the settings with their defaults filled in.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

#define VERB "config"

/* Contract in cli.h. */
int cmd_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, CLI_OPT_HELP}, {NULL, 0, NULL, 0}};
    protein_sweep_config *cfg;
    int c, rc;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, NULL)) != -1)
        return cli_option_other(VERB, c, argv);
    if (argc - optind != 1)
        return cli_usage_error(VERB, argc - optind < 1 ? "missing CONFIG"
                                                       : "too many arguments");
    cfg = cli_load_config(VERB, argv[optind], 0);
    if (!cfg)
        return CLI_EUSAGE;
    rc = protein_config_write_yaml(cfg, stdout);
    protein_config_free(cfg);
    if (rc != PROTEIN_OK)
        return cli_fail(VERB, "cannot write to standard output");
    return CLI_OK;
}
