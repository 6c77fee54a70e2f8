/*
 * cmd_replay.c - `protein replay`: applies the outcomes that the SPANK
 * plugin spooled on this node while Redis was unreachable (and the
 * releases of claims that timed out), each exactly once.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define VERB "replay"
/* The plugin's default spool_dir (plugin/spank_protein.h). */
#define DEFAULT_SPOOL "/var/spool/protein"

/* pq_spool_replay's report callback: one line on stdout. */
static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("%s\n", line);
}

/* Contract in cli.h. */
int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"spool", required_argument, NULL, 's'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *spool = DEFAULT_SPOOL;
    int spool_given = 0;
    cli_redis_opts r = {0};
    pq_spool_stats stats;
    struct stat st;
    pq_context *ctx;
    int c, rc, ret;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        if (c == 's') {
            spool = optarg;
            spool_given = 1;
        } else {
            return cli_option_other(VERB, c, argv);
        }
    }
    if (optind != argc)
        return cli_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
    if (spool[0] != '/')
        return cli_usage_error(VERB, "--spool: '%s' is not an absolute path",
                               spool);
    /* A node that never spooled has no default directory: nothing to do.
     * A directory named on the command line must exist: a mistyped one
     * would otherwise report "0 applied" and hide what is spooled. */
    if (stat(spool, &st) != 0) {
        if (errno == ENOENT && !spool_given) {
            printf("nothing spooled on this node (%s does not exist)\n", spool);
            return CLI_OK;
        }
        return cli_usage_error(VERB, "--spool: %s: %s", spool, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return cli_usage_error(VERB, "--spool: %s is not a directory", spool);
    if ((ret = cli_connect(VERB, &r, &ctx)) != CLI_OK)
        return ret;
    rc = pq_spool_replay(ctx, spool, 0, &stats, print_line, NULL);
    printf("%zu applied, %zu dropped (already recorded or superseded), %zu "
           "left for later, %zu unreadable\n",
           stats.applied, stats.dropped, stats.kept, stats.bad);
    if (rc != PQ_OK)
        cli_fail(VERB, "replay stopped: %s", ctx->errstr);
    pq_free(ctx);
    return rc == PQ_OK && stats.bad == 0 ? CLI_OK : CLI_EFAIL;
}
