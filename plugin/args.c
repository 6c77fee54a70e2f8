/*
 * args.c - the plugstack.conf arguments of spank_protein.so.
 *
 *   redis=URL               the queue (redis://[user@]host:port[/db], unix://)
 *   password_file=PATH      Redis password, read by root in slurmstepd only
 *   result_dir=DIR          where result files are created (default $TMPDIR)
 *   claim_timeout=SECONDS   wait for a coordinator point before a fallback
 *   connect_timeout=MS      bound on connecting to Redis
 *   command_timeout=MS      bound on each Redis command
 *   lease=SECONDS           lease of a running trial (0: the job's time
 *                           limit plus lease_margin, else the sweep's)
 *   lease_margin=SECONDS    added to the time limit for the lease
 *   outcome_retry=SECONDS   how long task exit retries recording an outcome
 *   spool_dir=DIR           where outcomes that could not be recorded wait
 *   submit_check=yes|no     ask Redis about --sweep at submit time
 *   on_redis_down=requeue|fail  a batch step that cannot reach Redis to
 *                           claim asks Slurm to requeue its job, or fails
 *   requeue_max=N           requeue a job at most N times in all
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spank_protein.h"

void spank_protein_config_defaults(spank_protein_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->claim_timeout_s = 5;
    cfg->connect_timeout_ms = 1000;
    cfg->command_timeout_ms = 5000;
    cfg->lease_s = 0;
    cfg->lease_margin_s = 600;
    cfg->outcome_retry_s = 30;
    snprintf(cfg->spool_dir, sizeof(cfg->spool_dir), "%s",
             SPANK_PROTEIN_SPOOL_DIR);
    cfg->submit_check = 1;
    cfg->redis_down_requeue = 1;
    cfg->requeue_max = 5;
}

/* Parses a decimal integer in [min, max]. Returns 0 or -1. */
static int parse_int(const char *text, int min, int max, int *out)
{
    char *end;
    long v;

    if (*text == '\0')
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"1", "yes", "true", "y"};
    static const char *const no[] = {"0", "no", "false", "n"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Copies value into dst, or fails when too long, leaving dst as it was:
 * slurmstepd logs a bad argument and goes on with the default, which an
 * emptied spool_dir would not be. */
static int copy_value(char *dst, size_t len, const char *value)
{
    size_t n = strlen(value);

    if (n >= len)
        return -1;
    memcpy(dst, value, n + 1);
    return 0;
}

/* Whether an argument before av[i] has arg's key (its first klen bytes and
 * an '='). */
static int given_before(char **av, int i, const char *arg, size_t klen)
{
    for (int j = 0; j < i; j++)
        if (strncmp(av[j], arg, klen + 1) == 0)
            return 1;
    return 0;
}

int spank_protein_args_parse(spank_protein_config *cfg, int ac, char **av,
                             char *err, size_t errlen)
{
    char url_why[1200];
    int i, rv = 0;

    spank_protein_config_defaults(cfg);
    if (errlen > 0)
        err[0] = '\0';
    for (i = 0; i < ac; i++) {
        const char *arg = av[i];
        const char *eq = strchr(arg, '=');
        const char *v;
        size_t klen;
        const char *what = NULL;
        int bad;

        if (eq == NULL || eq == arg) {
            if (rv == 0)
                snprintf(err, errlen,
                         "protein: plugstack argument '%s': expected key=value",
                         arg);
            rv = -1;
            continue;
        }
        klen = (size_t)(eq - arg);
        v = eq + 1;
#define KEY_IS(k) (klen == sizeof(k) - 1 && strncmp(arg, k, klen) == 0)
        /* A repeated key is refused, and still applied (the last one
         * counts, as before): slurmstepd, which only logs the refusal,
         * goes on with the line as written. */
        if (given_before(av, i, arg, klen)) {
            if (rv == 0)
                snprintf(err, errlen,
                         "protein: plugstack argument '%.*s' is given twice",
                         (int)klen, arg);
            rv = -1;
        }
        if (KEY_IS("redis")) {
            /* checked as pq_connect reads it, so that a bad URL is found
             * here and not by every job that asks for a trial; said
             * without the value, which may hold a password, and marked,
             * so that slurmstepd fails closed rather than connect to the
             * default Redis */
            cfg->redis_refused = 0;
            if (*v == '\0' ||
                copy_value(cfg->redis_url, sizeof(cfg->redis_url), v) != 0)
                snprintf(url_why, sizeof(url_why),
                         "empty, or longer than %zu characters",
                         sizeof(cfg->redis_url) - 1);
            else if (pq_url_check(v, url_why, sizeof(url_why)) == PQ_OK)
                continue;
            cfg->redis_refused = 1;
            if (rv == 0)
                snprintf(err, errlen, "protein: plugstack argument redis: %s",
                         url_why);
            rv = -1;
            continue;
        } else if (KEY_IS("password_file")) {
            bad = *v != '/' ||
                  copy_value(cfg->password_file, sizeof(cfg->password_file), v);
            what = "an absolute path of at most 1023 characters";
        } else if (KEY_IS("result_dir")) {
            bad = *v != '/' ||
                  copy_value(cfg->result_dir, sizeof(cfg->result_dir), v);
            what = "an absolute path of at most 1023 characters";
        } else if (KEY_IS("claim_timeout")) {
            bad = parse_int(v, 0, 3600, &cfg->claim_timeout_s);
            what = "seconds from 0 to 3600";
        } else if (KEY_IS("connect_timeout")) {
            bad = parse_int(v, 1, 60000, &cfg->connect_timeout_ms);
            what = "milliseconds from 1 to 60000";
        } else if (KEY_IS("command_timeout")) {
            bad = parse_int(v, 1, 600000, &cfg->command_timeout_ms);
            what = "milliseconds from 1 to 600000";
        } else if (KEY_IS("lease")) {
            bad = parse_int(v, 0, INT_MAX, &cfg->lease_s);
            what = "seconds (0: the job's time limit plus lease_margin, "
                   "else the sweep's lease)";
        } else if (KEY_IS("lease_margin")) {
            bad = parse_int(v, 0, 86400, &cfg->lease_margin_s);
            what = "seconds from 0 to 86400";
        } else if (KEY_IS("outcome_retry")) {
            bad = parse_int(v, 0, 3600, &cfg->outcome_retry_s);
            what = "seconds from 0 to 3600";
        } else if (KEY_IS("spool_dir")) {
            bad = *v != '/' ||
                  copy_value(cfg->spool_dir, sizeof(cfg->spool_dir), v);
            what = "an absolute path of at most 1023 characters";
        } else if (KEY_IS("submit_check")) {
            bad = parse_bool(v, &cfg->submit_check);
            what = "yes or no";
        } else if (KEY_IS("on_redis_down")) {
            bad = 0;
            if (strcmp(v, "requeue") == 0)
                cfg->redis_down_requeue = 1;
            else if (strcmp(v, "fail") == 0)
                cfg->redis_down_requeue = 0;
            else
                bad = 1;
            what = "requeue or fail";
        } else if (KEY_IS("requeue_max")) {
            bad = parse_int(v, 1, 1000, &cfg->requeue_max);
            what = "a count from 1 to 1000";
        } else {
            if (rv == 0)
                snprintf(
                    err, errlen,
                    "protein: unknown plugstack argument '%.*s' (known: redis, "
                    "password_file, result_dir, claim_timeout, "
                    "connect_timeout, command_timeout, lease, lease_margin, "
                    "outcome_retry, spool_dir, submit_check, on_redis_down, "
                    "requeue_max)",
                    (int)klen, arg);
            rv = -1;
            continue;
        }
#undef KEY_IS
        if (bad && rv == 0)
            snprintf(err, errlen,
                     "protein: plugstack argument '%.*s': bad value '%s' "
                     "(expected %s)",
                     (int)klen, arg, v, what);
        if (bad)
            rv = -1;
    }
    return rv;
}

pq_connect_options
spank_protein_connect_options(const spank_protein_config *cfg,
                              int with_password_file, int extra_ms)
{
    pq_connect_options o;

    memset(&o, 0, sizeof(o));
    /* never $PROTEIN_REDIS: the environment of whoever loaded the plugin
     * (a submitter, slurmd) does not choose the Redis of the cluster */
    o.url = cfg->redis_url[0] ? cfg->redis_url : PQ_DEFAULT_URL;
    o.password_file =
        with_password_file && cfg->password_file[0] ? cfg->password_file : NULL;
    o.connect_timeout_ms = cfg->connect_timeout_ms;
    o.command_timeout_ms = cfg->command_timeout_ms + extra_ms;
    return o;
}

int spank_protein_password_file_check(const char *path, char *msg, size_t len)
{
    struct stat st;

    if (path[0] == '\0' || stat(path, &st) != 0)
        return 0;
    if (st.st_uid == 0 && (st.st_mode & 077) == 0)
        return 0;
    snprintf(msg, len,
             "protein: warning: password_file %s is not private to root (owner "
             "uid %ld, mode %03o): chown root and chmod 600 it",
             path, (long)st.st_uid, (unsigned)(st.st_mode & 0777));
    return -1;
}
