/*
 * options.c - the --sweep=NAME option of sbatch, salloc and srun.
 *
 * In sbatch, salloc and srun (remote == 0) a bad value refuses the
 * submission: the option callback is the one place where an error stops
 * Slurm cleanly. In slurmstepd (remote == 1) the callback never fails,
 * since that would drain the node: a problem is kept and reported from
 * task_init instead.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spank_protein.h"

static char *sweep_value;
static char sweep_problem[256];
static const spank_protein_config *option_config;

static int sweep_cb(int val, const char *optarg, int remote);

static struct spank_option sweep_option = {
    "sweep",
    "NAME",
    "[protein] draw this job's hyperparameters from the protein sweep NAME "
    "(one trial per array task)",
    1,
    0,
    sweep_cb};

void spank_protein_options_use_config(const spank_protein_config *cfg)
{
    option_config = cfg;
}

int spank_protein_options_register(spank_t sp)
{
    spank_err_t rc = spank_option_register(sp, &sweep_option);

    if (rc != ESPANK_SUCCESS) {
        slurm_error("protein: couldn't register option --%s: %s",
                    sweep_option.name, spank_strerror(rc));
        return -1;
    }
    return 0;
}

const char *spank_protein_sweep(void)
{
    return sweep_value;
}

const char *spank_protein_sweep_error(void)
{
    return sweep_problem[0] ? sweep_problem : NULL;
}

void spank_protein_options_from_env(const char *value)
{
    sweep_cb(0, value, 1);
}

void spank_protein_options_clear(void)
{
    free(sweep_value);
    sweep_value = NULL;
    sweep_problem[0] = '\0';
}

/* In sbatch, salloc and srun (running as the submitter, uid): the check
 * logs in as the submitter's own Redis user (their login name), never as
 * the plugstack URL's, which is slurmstepd's. The password is
 * $PROTEIN_REDIS_PASSWORD when set (pq_connect reads it when no file is
 * given), else the file `protein admin add-user` left in their home;
 * o's user and password_file point into user and path. A login name
 * protein cannot take as a Redis user leaves o as it is. */
static void submitter_credentials(uid_t uid, pq_connect_options *o, char *user,
                                  size_t ulen, char *path, size_t plen)
{
    if (pq_own_identity(uid, user, ulen, path, plen) != PQ_OK)
        return;
    o->user = user;
    if (!pq_env_password() && path[0])
        o->password_file = path;
}

/* Why a sweep name is malformed, for people. */
static void describe_bad_name(const char *name, char *buf, size_t len)
{
    snprintf(buf, len,
             "protein: --sweep='%.64s%s': a sweep name is 1 to 64 characters "
             "of A-Z a-z 0-9 . _ - and does not start with '.' or '-', "
             "optionally after OWNER/ (another user's sweep)",
             name, strlen(name) > 64 ? "..." : "");
}

/* Redis did not answer at submission: the job goes ahead (the compute
 * nodes may still reach Redis), with a warning. */
static void warn_unchecked(const char *sweep, const char *why)
{
    slurm_info(
        "protein: warning: could not check sweep '%s' (%s); submitting anyway",
        sweep, why);
}

int spank_protein_sweep_check(const spank_protein_config *cfg,
                              const char *sweep, long uid)
{
    char msg[256], user[PQ_OWNER_MAX + 1], full[PQ_SWEEP_NAME_MAX + 1];
    char own_user[PQ_OWNER_MAX + 1] = "", own_path[4096] = "";
    const char *owner;
    pq_connect_options o;
    pq_context *ctx = NULL;
    pq_sweep_info *info = NULL;
    int rc, rv = -1, have_user;

    have_user = pq_user_name((uid_t)uid, user, sizeof(user)) == PQ_OK;
    if (!pq_sweep_name_valid(sweep)) {
        describe_bad_name(sweep, msg, sizeof(msg));
        slurm_error("%s", msg);
        return -1;
    }
    if (pq_sweep_qualify(sweep, have_user ? user : NULL, full, sizeof(full)) !=
        PQ_OK) {
        slurm_error("protein: --sweep=%s: your login name is not one protein "
                    "accepts as a sweep owner; name the sweep OWNER/NAME",
                    sweep);
        return -1;
    }
    /* Inside a job (an srun step of a batch task) the trial is already
     * claimed: the sweep may have been stopped since, and that must not
     * break the running job. */
    if (cfg == NULL || !cfg->submit_check || getenv("PROTEIN_TRIAL") != NULL)
        return 0;

    o = spank_protein_connect_options(cfg, 0, 0);
    submitter_credentials((uid_t)uid, &o, own_user, sizeof(own_user), own_path,
                          sizeof(own_path));
    ctx = pq_connect(&o);
    if (ctx != NULL && ctx->err == PQ_EAUTH && o.user == own_user &&
        !own_path[0] && !pq_env_password()) {
        /* the URL in the message is the plugstack's; the check itself
         * asked as the submitter, who has no password file */
        snprintf(msg, sizeof(msg),
                 "the check logs in as your own Redis user %s, and you have "
                 "no password file ~/" PQ_USER_PASSWORD_FILE,
                 own_user);
        warn_unchecked(sweep, msg);
        rv = 0;
        goto fail;
    }
    if (ctx == NULL || ctx->err != PQ_OK) {
        warn_unchecked(sweep, ctx ? ctx->errstr : protein_strerror(PQ_ENOMEM));
        rv = 0;
        goto fail;
    }
    rc = pq_sweep_get(ctx, full, &info);
    if (rc == PQ_ENOSWEEP) {
        slurm_error("protein: --sweep=%s: no such sweep %s (create it with "
                    "`protein create FILE`; `protein list` shows yours)",
                    sweep, full);
        goto fail;
    }
    if (rc == PQ_EPERM) {
        /* Another user's sweep, which the submitter's Redis user may not
         * read: the claim decides (shared or not). */
        rv = 0;
        goto fail;
    }
    if (rc != PQ_OK) {
        warn_unchecked(sweep, ctx->errstr);
        rv = 0;
        goto fail;
    }
    if (info->state == PQ_SWEEP_PAUSED) {
        slurm_error("protein: --sweep=%s: the sweep is paused; no trial would "
                    "be handed out (`protein resume %s` resumes it)",
                    sweep, sweep);
        goto fail;
    }
    if (info->state != PQ_SWEEP_ACTIVE) {
        /* a stop is final: resume would be refused */
        slurm_error("protein: --sweep=%s: the sweep is %s; no trial would be "
                    "handed out again (create a new sweep: protein create "
                    "CONFIG --name NEW)",
                    sweep, pq_sweep_state_name(info->state));
        goto fail;
    }
    owner = strchr(full, '/') ? full : NULL;
    if (!info->shared &&
        (owner ? !have_user || strncmp(full, user, strlen(user)) != 0 ||
                     full[strlen(user)] != '/'
               : info->owner_uid != uid)) {
        slurm_error(
            "protein: --sweep=%s: the sweep belongs to %s and is not shared",
            full, owner ? "another user" : "another uid");
        goto fail;
    }
    rv = 0;
fail:
    if (info != NULL)
        pq_sweep_info_free(info);
    if (ctx != NULL)
        pq_free(ctx);
    return rv;
}

/* Slurm may call the callback twice with the same value (command line and
 * #SBATCH line, or environment): the same value again is accepted. */
static int sweep_cb(int val, const char *optarg, int remote)
{
    const char *name = optarg ? optarg : "";

    if (sweep_value != NULL && strcmp(sweep_value, name) == 0)
        return 0;
    if (remote) {
        if (!pq_sweep_name_valid(name))
            describe_bad_name(name, sweep_problem, sizeof(sweep_problem));
    } else if (spank_protein_sweep_check(option_config, name, (long)getuid()) !=
               0) {
        return -1;
    }
    free(sweep_value);
    sweep_value = strdup(name);
    if (sweep_value == NULL) {
        if (!remote) {
            slurm_error("protein: out of memory");
            return -1;
        }
        snprintf(sweep_problem, sizeof(sweep_problem),
                 "protein: out of memory reading --sweep");
    }
    return 0;
}
