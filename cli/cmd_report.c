/*
 * cmd_report.c - `protein report KEY=VALUE...`: what a trial program (or a
 * shell script around it) calls to report values. The lines go to
 * $PROTEIN_RESULT; inside a sweep trial the metric, step and cost also go
 * to Redis as progress, and the answer says whether to stop early.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define VERB "report"

/* Whether the len bytes at key are a result key, as a config's metric
 * name may be one ("val mAP"): protein_valid_metric. */
static int key_valid(const char *key, size_t len)
{
    char text[65];

    if (len >= sizeof(text))
        return 0;
    memcpy(text, key, len);
    text[len] = '\0';
    return protein_valid_metric(text);
}

/* Whether arg (KEY=VALUE) is a line of `key`. */
static int arg_is(const char *arg, const char *key)
{
    size_t klen = strlen(key);

    return strncmp(arg, key, klen) == 0 && arg[klen] == '=';
}

/* The value of `key` among the KEY=VALUE arguments (the last one wins) as a
 * finite number, read as the result file's reader reads the line; NAN when
 * absent or not a number there (0x10, nan), so that progress never
 * differs from the result. */
static double arg_number(char **args, int n, const char *key)
{
    double v = NAN, x;
    int i;

    for (i = 0; i < n; i++)
        if (arg_is(args[i], key))
            v = pq_result_line_value(args[i], strlen(args[i]), key, &x) == 0
                    ? x
                    : NAN;
    return v;
}

/* Warns on stderr about each argument of the metric, the cost or step
 * whose value the result file's reader takes as no value (text, 0,5, nan):
 * it is written all the same (a last score=nan is how a run says it
 * diverged), but a typo there would otherwise show only as a trial
 * failed for "no result". */
static void warn_not_numbers(char **args, int n, const char *metric,
                             const char *cost)
{
    const char *keys[3] = {metric, cost, "step"};
    double x;
    int i, k;

    for (i = 0; i < n; i++)
        for (k = 0; k < 3; k++)
            if (arg_is(args[i], keys[k]) &&
                pq_result_line_value(args[i], strlen(args[i]), keys[k], &x) <
                    0) {
                fprintf(stderr,
                        "protein report: %s: not a finite decimal number "
                        "(such as 0.91 or -2.5e-3), so the trial reads this "
                        "%s= line as no value\n",
                        args[i], keys[k]);
                break;
            }
}

/* Where the KEY=VALUE argument goes in the result file: 0 for step, 1 for
 * the sweep's cost key (cost), 2 for any other key. protein run reads a
 * report's cost only between its step= line and its metric line
 * (cli_curve_update). */
static int line_rank(const char *arg, const char *cost)
{
    size_t klen = strcspn(arg, "=");

    if (klen == 4 && strncmp(arg, "step", 4) == 0)
        return 0;
    return klen == strlen(cost) && strncmp(arg, cost, klen) == 0 ? 1 : 2;
}

/* Appends the KEY=VALUE lines to path in one write: the step= lines first,
 * then the lines of cost (the sweep's cost key), then the others, each
 * group in the order given (so the last line of a key is still the one
 * given last). */
static int append_lines(const char *path, char **args, int n, const char *cost)
{
    size_t len = 0, off = 0;
    char *buf;
    int fd, i, rank, saved;
    ssize_t w;

    for (i = 0; i < n; i++)
        len += strlen(args[i]) + 1;
    buf = malloc(len + 1);
    if (!buf)
        return -1;
    for (rank = 0; rank <= 2; rank++)
        for (i = 0; i < n; i++)
            if (line_rank(args[i], cost) == rank)
                off += (size_t)sprintf(buf + off, "%s\n", args[i]);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        saved = errno;
        free(buf);
        errno = saved;
        return -1;
    }
    w = write(fd, buf, len);
    saved = errno;
    free(buf);
    if (close(fd) != 0 || w != (ssize_t)len) {
        errno = w < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

/* Sends progress for the trial in the environment: the values of its
 * metric and cost keys ($PROTEIN_METRIC_KEY, $PROTEIN_COST_KEY; the sweep's
 * stored config when a launcher older than them left them unset). Returns
 * pq_progress's answer: PQ_STOP_EARLY or PQ_STOP_ENDED when the run should
 * stop, 0 otherwise (including when Redis cannot be reached: the values
 * are in the result file, so this only warns). */
static int send_progress(const cli_redis_opts *r, char **args, int n)
{
    const char *sweep = getenv("PROTEIN_SWEEP");
    const char *trial = getenv("PROTEIN_TRIAL");
    const char *token = getenv("PROTEIN_TOKEN");
    const char *metric = cli_env("PROTEIN_METRIC_KEY");
    const char *cost_key = cli_env("PROTEIN_COST_KEY");
    pq_sweep_info *info = NULL;
    pq_context *ctx;
    double score, step, cost;
    int stop = 0, rc;
    char *end;
    long id;

    if (!sweep || !trial || !token)
        return 0;
    id = strtol(trial, &end, 10);
    if (end == trial || *end != '\0') {
        fprintf(stderr,
                "protein report: PROTEIN_TRIAL='%s' is not a trial id; "
                "progress not sent\n",
                trial);
        return 0;
    }
    if (cli_connect(VERB, r, &ctx) != CLI_OK) {
        fprintf(stderr, "protein report: progress not sent (the values are in "
                        "$PROTEIN_RESULT)\n");
        return 0;
    }
    rc = PQ_OK;
    if (!metric || !cost_key) {
        rc = pq_sweep_get(ctx, sweep, &info);
        if (rc == PQ_OK) {
            metric = info->metric ? info->metric : "score";
            cost_key = info->cost_metric ? info->cost_metric : "cost";
        }
    }
    if (rc == PQ_OK) {
        score = arg_number(args, n, metric);
        step = arg_number(args, n, "step");
        cost = arg_number(args, n, cost_key);
        if (isnan(score))
            goto done; /* progress needs the metric */
        rc = pq_progress(ctx, sweep, id, token, isnan(step) ? 0 : step, score,
                         isnan(cost) ? -1 : cost, &stop);
    }
    if (rc == PQ_EPERM)
        fprintf(stderr,
                "protein report: sweep %s trial %ld: progress not sent: the "
                "sweep is another user's, which your Redis user may not change "
                "(the outcome still comes from $PROTEIN_RESULT at the end)\n",
                sweep, id);
    else if (rc != PQ_OK)
        fprintf(stderr,
                "protein report: sweep %s trial %ld: progress not sent: %s\n",
                sweep, id, ctx->errstr[0] ? ctx->errstr : protein_strerror(rc));
done:
    pq_sweep_info_free(info);
    pq_free(ctx);
    return stop;
}

/* Contract in cli.h. */
int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_REDIS_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    cli_redis_opts r = {0};
    const char *path = getenv("PROTEIN_RESULT");
    const char *cost = cli_env("PROTEIN_COST_KEY");
    char **args;
    int c, i, n;

    optind = 1;
    if ((c = cli_getopt(argc, argv, "+:", longopts, &r)) != -1)
        return cli_option_other(VERB, c, argv);
    args = argv + optind;
    n = argc - optind;
    if (n == 0)
        return cli_usage_error(VERB, "expected KEY=VALUE arguments");
    for (i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');

        if (!eq || !key_valid(args[i], (size_t)(eq - args[i])) ||
            eq[1] == '\0' || strpbrk(eq + 1, "\r\n"))
            return cli_usage_error(VERB,
                                   "'%s' is not KEY=VALUE (a key of 1 "
                                   "to 64 printable characters without '=' "
                                   "or '#' and no space at either end, a "
                                   "one-line value)",
                                   args[i]);
    }
    if (!path || !*path)
        return cli_fail(
            VERB, "PROTEIN_RESULT is not set: run this inside a trial (protein "
                  "run, protein agent or an sbatch job with --sweep)");
    if (append_lines(path, args, n, cost ? cost : "cost") < 0)
        return cli_fail(VERB, "cannot append to %s: %s", path, strerror(errno));
    warn_not_numbers(
        args, n,
        cli_env("PROTEIN_METRIC_KEY") ? cli_env("PROTEIN_METRIC_KEY") : "score",
        cost ? cost : "cost");
    switch (send_progress(&r, args, n)) {
    case PQ_STOP_EARLY:
        fprintf(stderr,
                "protein report: the sweep asks trial %s to stop early "
                "(exit status 3)\n",
                getenv("PROTEIN_TRIAL"));
        return CLI_ESTOP;
    case PQ_STOP_ENDED:
        fprintf(stderr,
                "protein report: trial %s already has its outcome from another "
                "claim (whose lease had expired, and whose task ended after "
                "all): this run's would not be recorded; stop (exit status "
                "3)\n",
                getenv("PROTEIN_TRIAL"));
        return CLI_ESTOP;
    }
    return CLI_OK;
}
