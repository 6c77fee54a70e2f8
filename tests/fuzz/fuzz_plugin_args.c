/* fuzz_plugin_args.c - libFuzzer target for the SPANK plugin's plugstack
 * arguments (spank_protein_args_parse, read by slurmstepd, srun and
 * sbatch from plugstack.conf): the input, cut at NUL bytes, is the
 * arguments ("key=value" each). A crash, a leak, a setting out of its
 * documented range, a path that is not absolute, a failure without a
 * message or a message without a failure (abort) is a finding. */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spank_protein.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Most arguments one plugstack line gets here. */
#define MAX_ARGS 32

/* 1 when path (a buffer of SPANK_PROTEIN_PATH_MAX) is a string that is
 * empty or absolute. */
static int path_ok(const char *path)
{
    return memchr(path, '\0', SPANK_PROTEIN_PATH_MAX) &&
           (!path[0] || path[0] == '/');
}

/* Aborts unless cfg holds settings in their documented ranges. */
static void check(const spank_protein_config *cfg)
{
    pq_connect_options o;

    if (!memchr(cfg->redis_url, '\0', sizeof cfg->redis_url) ||
        !path_ok(cfg->password_file) || !path_ok(cfg->result_dir) ||
        !path_ok(cfg->spool_dir) || !cfg->spool_dir[0] ||
        cfg->claim_timeout_s < 0 || cfg->claim_timeout_s > 3600 ||
        cfg->connect_timeout_ms < 1 || cfg->connect_timeout_ms > 60000 ||
        cfg->command_timeout_ms < 1 || cfg->command_timeout_ms > 600000 ||
        cfg->lease_s < 0 || cfg->lease_margin_s < 0 ||
        cfg->lease_margin_s > 86400 || cfg->outcome_retry_s < 0 ||
        cfg->outcome_retry_s > 3600 ||
        (cfg->submit_check != 0 && cfg->submit_check != 1) ||
        (cfg->redis_down_requeue != 0 && cfg->redis_down_requeue != 1) ||
        cfg->requeue_max < 1 || cfg->requeue_max > 1000)
        abort();
    o = spank_protein_connect_options(cfg, 1, cfg->claim_timeout_s * 1000);
    if ((cfg->redis_url[0] ? o.url != cfg->redis_url
                           : !o.url || strcmp(o.url, PQ_DEFAULT_URL) != 0) ||
        (o.password_file && o.password_file != cfg->password_file) ||
        o.command_timeout_ms < cfg->command_timeout_ms)
        abort();
}

/* Parses data as plugstack arguments, with a full and a short message
 * buffer. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *av[MAX_ARGS], err[1024], tiny[8];
    spank_protein_config cfg;
    size_t start = 0;
    int ac = 0, rc;

    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    for (size_t i = 0; i <= size && ac < MAX_ARGS; i++) {
        if (i < size && text[i] != '\0')
            continue;
        av[ac++] = text + start;
        start = i + 1;
    }
    rc = spank_protein_args_parse(&cfg, ac, av, err, sizeof err);
    if ((rc != 0 && rc != -1) || (rc == 0) != (err[0] == '\0') ||
        !memchr(err, '\0', sizeof err))
        abort();
    check(&cfg);
    memset(tiny, 'x', sizeof tiny);
    if (spank_protein_args_parse(&cfg, ac, av, tiny, sizeof tiny) != rc ||
        !memchr(tiny, '\0', sizeof tiny))
        abort();
    check(&cfg);
    free(text);
    return 0;
}
