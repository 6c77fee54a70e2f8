/*
 * claim.c - one trial per array task: the claim key, the claim itself and
 * the export of the environment contract into the job.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slurm/slurm.h>

#include "spank_protein.h"
#include "protein_clock.h"

int spank_protein_claim_key(uint32_t job_id, uint32_t step_id,
                            uint32_t array_job_id, uint32_t array_task_id,
                            char *buf, size_t len)
{
    int n;

    if (array_task_id != NO_VAL && array_job_id != 0 && array_job_id != NO_VAL)
        n = snprintf(buf, len, "%u_%u", array_job_id, array_task_id);
    else if (step_id == SLURM_BATCH_SCRIPT)
        n = snprintf(buf, len, "%u", job_id);
    else
        n = snprintf(buf, len, "%u.%u", job_id, step_id);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

void spank_protein_claim_error(const pq_context *ctx, int rc, const char *sweep,
                               char *err, size_t errlen)
{
    switch (rc) {
    case PQ_EIO:
    case PQ_EAUTH:
        /* ctx->errstr names the (redacted) Redis URL itself. */
        snprintf(
            err, errlen,
            "protein: cannot claim a trial of sweep '%s': %s (ask the admin to "
            "check Redis and the plugstack redis=/password_file= arguments)",
            sweep, ctx->errstr);
        break;
    case PQ_ENOSWEEP:
        snprintf(err, errlen,
                 "protein: sweep '%s' does not exist (it may have been deleted "
                 "since submission)",
                 sweep);
        break;
    case PQ_ESTOPPED: {
        /* the server's "sweep 'NAME' is paused" (or stopped, deleting),
         * said as it is, with the way on that state has */
        const char *why =
            ctx->errstr[0] ? ctx->errstr : protein_strerror(PQ_ESTOPPED);
        size_t n = strlen(why);

        if (n >= 10 && strcmp(why + n - 10, " is paused") == 0)
            snprintf(err, errlen,
                     "protein: %s: no trial handed out (protein resume %s "
                     "hands out trials again: submit this task again then)",
                     why, sweep);
        else
            snprintf(err, errlen,
                     "protein: %s: no trial handed out (a stopped sweep hands "
                     "out no trial again: scancel the array's tasks still "
                     "pending)",
                     why);
        break;
    }
    case PQ_EBUDGET:
        snprintf(err, errlen,
                 "protein: sweep '%s' has handed out all of its trials (its "
                 "max_trials, or every point of its grid): nothing left to run "
                 "(its owner may raise the budget: protein budget %s +N)",
                 sweep, sweep);
        break;
    case PQ_EPERM:
        snprintf(
            err, errlen,
            "protein: sweep '%s' belongs to another user and is not shared",
            sweep);
        break;
    case PQ_ESTATE:
        /* scontrol requeue of a task whose trial has ended */
        snprintf(err, errlen,
                 "protein: cannot claim a trial of sweep '%s': %s (a requeued "
                 "task reruns its trial only while that is running or "
                 "interrupted; submit the task again, e.g. sbatch "
                 "--array=N --sweep=..., for a new trial)",
                 sweep, ctx->errstr);
        break;
    default:
        snprintf(err, errlen, "protein: cannot claim a trial of sweep '%s': %s",
                 sweep, ctx->errstr[0] ? ctx->errstr : protein_strerror(rc));
        break;
    }
}

/* Slurm's step exit code for a step out of memory (SIG_OOM of Slurm's
 * private src/common/slurm_protocol_defs.h): slurmstepd reports it when
 * task/cgroup counted an out-of-memory kill in the step, or jobacct_gather
 * killed it over its memory (KILL_OOM). */
#define SLURM_SIG_OOM 253

/* What the plugin asks slurmctld about a job. */
struct job_facts {
    uint32_t state;      /* job_state, flags included */
    uint32_t derived_ec; /* the highest exit code of its srun steps */
    uint16_t restarts;   /* requeues so far */
    uint16_t batch;      /* an sbatch job */
    uint16_t requeue;    /* may be requeued (--requeue, JobRequeue) */
    uint32_t time_limit; /* minutes, or INFINITE */
    time_t end_time;     /* expected, for a running job */
};

/* The facts of job_id as slurmctld has them into *out: 0, or -1 when
 * they cannot be learnt. */
static int job_facts(uint32_t job_id, struct job_facts *out)
{
    int (*load_job)(job_info_msg_t **, uint32_t, uint16_t);
    void (*free_msg)(job_info_msg_t *);
    job_info_msg_t *msg = NULL;
    int rv = -1;

    *(void **)&load_job = dlsym(RTLD_DEFAULT, "slurm_load_job");
    *(void **)&free_msg = dlsym(RTLD_DEFAULT, "slurm_free_job_info_msg");
    if (load_job == NULL || free_msg == NULL ||
        load_job(&msg, job_id, SHOW_ALL) != 0 || msg == NULL)
        return -1;
    for (uint32_t i = 0; i < msg->record_count; i++)
        if (msg->job_array[i].job_id == job_id) {
            out->state = msg->job_array[i].job_state;
            out->derived_ec = msg->job_array[i].derived_ec;
            out->restarts = msg->job_array[i].restart_cnt;
            out->batch = msg->job_array[i].batch_flag;
            out->requeue = msg->job_array[i].requeue;
            out->time_limit = msg->job_array[i].time_limit;
            out->end_time = msg->job_array[i].end_time;
            rv = 0;
        }
    free_msg(msg);
    return rv;
}

/* A time limit further away than this is taken as none (as no job would
 * run that long). */
#define LEASE_LIMIT_MAX_S (366L * 24 * 3600)

int spank_protein_lease_seconds(const spank_protein_config *cfg,
                                uint32_t job_id)
{
    struct job_facts f;
    time_t now = time(NULL);

    if (cfg->lease_s > 0)
        return cfg->lease_s;
    /* The job's time limit says whether it has one: slurmctld gives a job
     * whose limit is INFINITE an end 365 days after its start, which a
     * step claiming days later sees nearer than any cut-off. */
    if (job_facts(job_id, &f) != 0 || f.time_limit == INFINITE ||
        f.end_time <= now || f.end_time - now > LEASE_LIMIT_MAX_S)
        return 0;
    return (int)(f.end_time - now) + cfg->lease_margin_s;
}

/* The state of job_id as slurmctld has it (job_state, flags included)
 * into *state: 0, or -1 when it cannot be learnt. */
static int job_state(uint32_t job_id, uint32_t *state)
{
    struct job_facts f;

    if (job_facts(job_id, &f) != 0)
        return -1;
    *state = f.state;
    return 0;
}

int spank_protein_time_limit_reached(uint32_t job_id)
{
    uint32_t state;

    /* The job's state, not its end time: slurmctld sets the end time to
     * "now" whenever it ends a job (scancel, requeue, preemption too), and
     * sets TIMEOUT before it signals the steps of a job out of time. */
    return job_state(job_id, &state) == 0 &&
           (state & JOB_STATE_BASE) == JOB_TIMEOUT;
}

int spank_protein_job_ended_by_slurm(uint32_t job_id)
{
    uint32_t state;

    /* slurmctld marks a job CANCELLED (scancel), PREEMPTED, TIMEOUT or
     * REQUEUE before it signals its steps */
    return job_state(job_id, &state) == 0 &&
           ((state & JOB_STATE_BASE) == JOB_CANCELLED ||
            (state & JOB_STATE_BASE) == JOB_PREEMPTED ||
            (state & JOB_STATE_BASE) == JOB_TIMEOUT ||
            (state & (JOB_REQUEUE | JOB_REQUEUE_HOLD)) != 0);
}

/* Whether slurmctld still lists a numbered step (an srun's) of job_id: 1
 * or 0; -1 when that cannot be learnt. */
static int srun_step_listed(uint32_t job_id)
{
    int (*get_steps)(time_t, uint32_t, uint32_t,
                     job_step_info_response_msg_t **, uint16_t);
    void (*free_msg)(job_step_info_response_msg_t *);
    job_step_info_response_msg_t *msg = NULL;
    int listed = 0;

    *(void **)&get_steps = dlsym(RTLD_DEFAULT, "slurm_get_job_steps");
    *(void **)&free_msg =
        dlsym(RTLD_DEFAULT, "slurm_free_job_step_info_response_msg");
    if (get_steps == NULL || free_msg == NULL ||
        get_steps(0, job_id, NO_VAL, &msg, SHOW_ALL) != 0 || msg == NULL)
        return -1;
    for (uint32_t i = 0; i < msg->job_step_count; i++)
        if (msg->job_steps[i].step_id.job_id == job_id &&
            msg->job_steps[i].step_id.step_id <= SLURM_MAX_NORMAL_STEP_ID)
            listed = 1;
    free_msg(msg);
    return listed;
}

int spank_protein_srun_oom(uint32_t job_id, int wait_ms)
{
    const double deadline =
        protein_clock_seconds(CLOCK_MONOTONIC) + wait_ms / 1000.0;
    struct job_facts f;
    int pause = 20, last_read = 0, listed;

    for (;;) {
        /* the job first: a slurmctld that does not answer costs this one
         * RPC's timeout (MessageTimeout) */
        if (job_facts(job_id, &f) != 0)
            return 0;
        /* a requeued job keeps the code of its earlier runs' steps */
        if (f.restarts != 0)
            return 0;
        if ((f.derived_ec & 0xff) == SLURM_SIG_OOM)
            return 1;
        if (last_read)
            return 0;
        /* srun exits once slurmstepd told it the tasks' end, before that
         * slurmstepd tells slurmctld the step's end: the code of a step
         * still listed may be on its way. slurmctld sets the derived exit
         * code and forgets the step in one go, so once no step is listed
         * the job read next holds every step's code. */
        listed = srun_step_listed(job_id);
        if (listed < 0)
            return 0;
        if (listed == 0) {
            last_read = 1;
            continue;
        }
        if (protein_clock_seconds(CLOCK_MONOTONIC) + pause / 1000.0 > deadline)
            return 0;
        protein_sleep_ms(pause);
        pause *= 2;
    }
}

int spank_protein_requeue(const spank_protein_config *cfg, uint32_t job_id,
                          char *note, size_t len)
{
    int (*requeue)(uint32_t, uint32_t);
    int (*get_errno)(void);
    char *(*str_error)(int);
    struct job_facts f;
    int e;

    if (job_facts(job_id, &f) != 0) {
        snprintf(note, len,
                 "not requeued: slurmctld could not be asked about job %u",
                 job_id);
        return -1;
    }
    /* restart_cnt counts every requeue of the job, whatever its cause
     * (scontrol requeue, a node failure, preemption): the cap bounds how
     * long the job may wait in all, without a record of its own. */
    if (f.restarts >= cfg->requeue_max) {
        snprintf(note, len,
                 "not requeued: job %u has been requeued %u times already "
                 "(requeue_max=%d)",
                 job_id, (unsigned)f.restarts, cfg->requeue_max);
        return -1;
    }
    if (!f.batch) {
        snprintf(note, len, "not requeued: job %u is not a batch job", job_id);
        return -1;
    }
    if (!f.requeue) {
        snprintf(note, len,
                 "not requeued: job %u may not be requeued (--no-requeue, or "
                 "JobRequeue=0 in slurm.conf)",
                 job_id);
        return -1;
    }
    *(void **)&requeue = dlsym(RTLD_DEFAULT, "slurm_requeue");
    *(void **)&get_errno = dlsym(RTLD_DEFAULT, "slurm_get_errno");
    *(void **)&str_error = dlsym(RTLD_DEFAULT, "slurm_strerror");
    if (requeue == NULL || get_errno == NULL || str_error == NULL) {
        snprintf(note, len,
                 "not requeued: slurm_requeue is not found in this process");
        return -1;
    }
    if (requeue(job_id, 0) != 0) {
        e = get_errno();
        snprintf(note, len, "not requeued: slurmctld refused: %s",
                 str_error(e));
        return -1;
    }
    snprintf(note, len, "requeued (%u of %d)", (unsigned)f.restarts + 1,
             cfg->requeue_max);
    return 0;
}

int spank_protein_claim(spank_t sp, pq_context *ctx,
                        const spank_protein_config *cfg, const char *sweep,
                        const spank_protein_job *job, spank_protein_trial *out,
                        char *err, size_t errlen)
{
    char key[SPANK_PROTEIN_CLAIM_KEY_MAX], full[PQ_SWEEP_NAME_MAX + 1];
    pq_claim_request req;
    pq_trial *t = NULL;
    pq_env env = {0, NULL, NULL};
    char *json = NULL;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (pq_sweep_qualify(sweep, job->user, full, sizeof(full)) != PQ_OK) {
        snprintf(
            err, errlen,
            "protein: --sweep=%s: the job's user (uid %ld) has no login name "
            "protein accepts as a sweep owner; name the sweep OWNER/NAME",
            sweep, (long)job->uid);
        goto fail;
    }
    sweep = full;
    if (spank_protein_claim_key(job->job_id, job->step_id, job->array_job_id,
                                job->array_task_id, key, sizeof(key)) != 0) {
        snprintf(err, errlen, "protein: job id too long for a claim key");
        goto fail;
    }
    memset(&req, 0, sizeof(req));
    req.claim_key = key;
    req.uid = (long)job->uid;
    req.user = job->user;
    req.job_id = key;
    req.array_index =
        job->array_task_id == NO_VAL ? -1 : (long)job->array_task_id;
    req.node = job->node;
    req.lease_seconds = job->lease_s > 0 ? job->lease_s : cfg->lease_s;
    req.wait_ms = cfg->claim_timeout_s * 1000;
    req.token_out = job->claim_token;
    /* The result file first: when it cannot be made, no trial is spent. */
    if (spank_protein_result_create(cfg->result_dir, job->tmpdir, key, job->uid,
                                    job->gid, &out->result, err, errlen) != 0)
        goto fail;
    rc = pq_claim(ctx, sweep, &req, &t);
    if (rc != PQ_OK) {
        spank_protein_claim_error(ctx, rc, sweep, err, errlen);
        goto fail;
    }
    rc = pq_env_build(sweep, t->id, &t->params, t->metric, t->cost_metric,
                      out->result.path, t->token, &env);
    if (rc != PQ_OK) {
        char why[600];

        if (pq_params_env_check(&t->params, why, sizeof(why)) == PQ_OK)
            snprintf(why, sizeof(why), "%s", protein_strerror(rc));
        snprintf(
            err, errlen,
            "protein: sweep '%s' trial %ld: cannot build the environment: %s",
            sweep, t->id, why);
        goto fail;
    }
    for (i = 0; i < env.n; i++) {
        spank_err_t src = spank_setenv(sp, env.names[i], env.values[i], 1);

        if (src != ESPANK_SUCCESS) {
            snprintf(err, errlen,
                     "protein: sweep '%s' trial %ld: cannot set %s: %s", sweep,
                     t->id, env.names[i], spank_strerror(src));
            goto fail;
        }
    }
    if (pq_params_to_json(&t->params, &json) != PQ_OK) {
        snprintf(err, errlen, "protein: out of memory");
        goto fail;
    }
    if (asprintf(&out->banner, "protein: sweep %s trial %ld%s%s: %s", sweep,
                 t->id, t->resumed ? " (resumed)" : "",
                 t->fallback ? " (fallback point)" : "", json) < 0) {
        out->banner = NULL;
        snprintf(err, errlen, "protein: out of memory");
        goto fail;
    }
    free(json);
    pq_env_free(&env);
    out->trial = t;
    return 0;
fail:
    if (t != NULL)
        pq_fail(ctx, sweep, t->id, t->token, 0, err);
    spank_protein_result_discard(&out->result);
    free(json);
    pq_env_free(&env);
    if (t != NULL)
        pq_trial_free(t);
    free(out->banner);
    memset(out, 0, sizeof(*out));
    return -1;
}

void spank_protein_trial_clear(spank_protein_trial *t)
{
    if (t->trial != NULL)
        pq_trial_free(t->trial);
    free(t->banner);
    memset(t, 0, sizeof(*t));
}
