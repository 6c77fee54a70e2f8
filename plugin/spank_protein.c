/*
 * spank_protein.c - the entry points of spank_protein.so.
 *
 * What runs where (Slurm 22.05):
 *   sbatch/salloc/srun  init: plugstack arguments, --sweep registered; the
 *                       option callback checks the sweep (options.c).
 *   slurmstepd          init_post_opt (root): connect to Redis;
 *                       user_init (stepd, euid = job user, before the
 *                       tasks fork): create the result file, claim the
 *                       trial, export the environment (claim.c);
 *                       task_init (the task, before exec): print the
 *                       trial, or fail the task with the claim's error;
 *                       task_exit (root, stepd): record the outcome once
 *                       the step's last task ended (outcome.c; a SIGKILL
 *                       the step's memory cgroup counted as an
 *                       out-of-memory kill, oom.c; a failed batch
 *                       step whose srun step slurmctld says ran out of
 *                       memory, claim.c).
 *
 * An error from remote init, init_post_opt or user_init drains the node in
 * a batch step, so those never fail: a problem is kept in the step state
 * and surfaces from task_init in the job's output. A job without --sweep
 * makes no connection and touches no file.
 *
 * A batch step that cannot reach Redis to claim (refused, timed out,
 * busy, loading) asks slurmctld to requeue its job (on_redis_down, at
 * most requeue_max times, claim.c) and then fails its task as before: a
 * Redis outage delays an array rather than failing every task that starts
 * during it.
 *
 * Only the batch step of a job claims (one trial per array task). An srun
 * step inside it finds PROTEIN_TRIAL in the job's environment and does
 * nothing; one started with --export=NONE, which hides that, finds the
 * batch step's claim in Redis and claims nothing either (its output says
 * that it lacks the trial's variables); an srun or salloc step of its own
 * claims for "JOBID.STEPID".
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "spank_protein.h"
#include "protein_clock.h"

SPANK_PLUGIN(protein, 1);

/* How long a failed batch step waits for an srun step's end to reach
 * slurmctld (milliseconds as a rule; longer only while an srun step of the
 * job still runs past the batch script's end). */
#define SRUN_OOM_WAIT_MS 1500

/* The per-step state of slurmstepd (and the config of every context). */
static struct {
    spank_protein_config cfg;
    int active;       /* this step claims a trial */
    pq_context *ctx;  /* from init_post_opt to user_init */
    char error[2048]; /* reported from task_init when set */
    spank_protein_trial trial;
    uint32_t tasks; /* local tasks of the step */
    uint32_t node;  /* this node's index among the step's nodes */
    uint32_t job_id;
    uint32_t step_id;
    uint32_t exited; /* tasks seen by task_exit so far */
    int status;      /* merged wait status of those tasks */
    uid_t uid;
    double connect_ms; /* time spent connecting in init_post_opt */
    int lease_s;       /* from the job's time limit; 0: none known */
    /* A claim sent whose answer never came: the server may still have
     * served it, so task_exit releases what the key holds, if that
     * claim (its token) is still the trial's last. */
    char release_key[SPANK_PROTEIN_CLAIM_KEY_MAX];
    char release_token[PQ_TOKEN_LEN + 1]; /* that claim's token */
    char sweep[PQ_SWEEP_NAME_MAX + 1];    /* the full name: USER/NAME */
    /* a step that shares the batch step's trial without its variables
     * (srun --export=NONE): said in its output by task_init */
    char shared_note[512];
} state;

/* Slurm runs each callback once per plugstack line that loads this
 * plugin, the lines' calls one after the other, and every line shares
 * this file's state (one .so, loaded once). Debian's plugstack.conf
 * includes every file of plugstack.conf.d, so a protein line written into both
 * loads it twice; the second user_init then claimed with the context the
 * first had freed (slurmstepd crashed) and task_exit counted each task
 * twice. Only the first call of each run acts, with the first line's
 * arguments. */
enum callback {
    CB_POST_OPT,
    CB_USER_INIT,
    CB_TASK_INIT,
    CB_TASK_EXIT,
    CB_EXIT,
    CB_COUNT
};
static struct {
    unsigned copies;          /* plugstack lines loading the plugin */
    unsigned calls[CB_COUNT]; /* calls of each callback so far */
} lines;

/* Counts a call of callback cb; whether it is the first of its run, the
 * one that acts. */
static int acting_call(enum callback cb)
{
    return lines.copies <= 1 || lines.calls[cb]++ % lines.copies == 0;
}

static void state_reset(void)
{
    spank_protein_trial_clear(&state.trial);
    if (state.ctx != NULL)
        pq_free(state.ctx);
    memset(&state, 0, sizeof(state));
    spank_protein_options_clear();
}

/* sbatch, salloc, srun and slurmstepd: parses the plugstack arguments
 * and registers --sweep. A bad argument fails the plugin on the submit
 * side (with a message) and is logged and ignored in slurmstepd. */
int slurm_spank_init(spank_t sp, int ac, char **av)
{
    spank_context_t where = spank_context();
    char err[512];

    if (lines.copies++ > 0) {
        if (lines.copies == 2 &&
            (where == S_CTX_LOCAL || where == S_CTX_ALLOCATOR ||
             where == S_CTX_REMOTE))
            slurm_error("protein: spank_protein.so is loaded by more than one "
                        "plugstack.conf line (Debian's plugstack.conf "
                        "includes plugstack.conf.d/*.conf); the first line "
                        "counts: remove the others");
        return 0;
    }
    if (where != S_CTX_LOCAL && where != S_CTX_ALLOCATOR &&
        where != S_CTX_REMOTE)
        return 0;
    if (spank_protein_args_parse(&state.cfg, ac, av, err, sizeof(err)) != 0) {
        if (where != S_CTX_REMOTE) {
            slurm_error("%s; fix the protein line in plugstack.conf", err);
            return -1;
        }
        slurm_info("%s; ignored", err);
    }
    spank_protein_options_use_config(&state.cfg);
    /* Without the option slurmstepd has nothing to do: never fail there. */
    if (spank_protein_options_register(sp) != 0 && where != S_CTX_REMOTE)
        return -1;
    return 0;
}

/* Reads a uint32_t item; records the failure in state.error. */
static int get_u32(spank_t sp, spank_item_t item, const char *what,
                   uint32_t *out)
{
    spank_err_t rc = spank_get_item(sp, item, out);

    if (rc != ESPANK_SUCCESS) {
        snprintf(state.error, sizeof(state.error),
                 "protein: couldn't get the %s: %s", what, spank_strerror(rc));
        return -1;
    }
    return 0;
}

/* The claim (or the connection before it) of step `step` of job job_id
 * could not reach Redis, state.error says so: with on_redis_down=requeue,
 * a batch step asks slurmctld to requeue the job, so that an outage does
 * not fail every array task that starts during it; the outcome, or why
 * not, is added to state.error (the job's output) and said in the slurmd
 * log. Any other step fails as before, saying why. */
static void redis_down(uint32_t job_id, uint32_t step)
{
    char note[256];
    size_t n = strlen(state.error);

    if (!state.cfg.redis_down_requeue)
        return;
    if (step != SLURM_BATCH_SCRIPT)
        snprintf(note, sizeof(note),
                 "not requeued: step %u is not a batch step (only the "
                 "batch step of an sbatch job is requeued)",
                 step);
    else if (spank_protein_requeue(&state.cfg, job_id, note, sizeof(note)) == 0)
        snprintf(note + strlen(note), sizeof(note) - strlen(note),
                 ": the task runs again after Slurm's hold of a requeued job "
                 "and claims its trial then");
    snprintf(state.error + n, sizeof(state.error) - n, "; %s", note);
    slurm_info("%s (job %u)", state.error, job_id);
}

/* slurmstepd, as root, once the options are known: decides whether this
 * step claims (a --sweep job's batch step, or a step of its own) and
 * connects to Redis, where password_file is readable. Never fails. */
int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
    const char *sweep = spank_protein_sweep();
    pq_connect_options opts;
    uint32_t step, job_id;
    char probe[16], msg[SPANK_PROTEIN_PATH_MAX + 160];
    char env_sweep[PQ_SWEEP_NAME_MAX + 1];
    double t0;

    if (!acting_call(CB_POST_OPT) || spank_context() != S_CTX_REMOTE)
        return 0;
    if (spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS ||
        step == SLURM_EXTERN_CONT)
        return 0;
    if (sweep == NULL && step == SLURM_BATCH_SCRIPT &&
        spank_getenv(sp, SPANK_PROTEIN_SWEEP_ENV, env_sweep,
                     sizeof(env_sweep)) == ESPANK_SUCCESS) {
        spank_protein_options_from_env(env_sweep);
        sweep = spank_protein_sweep();
    }
    if (sweep == NULL)
        return 0;
    /* An srun inside a job that already holds a trial shares it. */
    if (step != SLURM_BATCH_SCRIPT &&
        spank_getenv(sp, "PROTEIN_TRIAL", probe, sizeof(probe)) ==
            ESPANK_SUCCESS)
        return 0;
    state.active = 1;
    if (spank_protein_sweep_error() != NULL) {
        snprintf(state.error, sizeof(state.error), "%s",
                 spank_protein_sweep_error());
        return 0;
    }
    if (state.cfg.redis_refused) {
        snprintf(state.error, sizeof(state.error),
                 "protein: the node's plugstack.conf line has a redis= that "
                 "the plugin refused (the slurmd log says why); no trial was "
                 "claimed: ask the cluster's admin");
        return 0;
    }
    if (spank_protein_password_file_check(state.cfg.password_file, msg,
                                          sizeof(msg)) != 0)
        slurm_info("%s", msg);
    /* Found now, not at task exit during a Redis outage, when the
     * outcome it should have kept would be lost. */
    if (pq_spool_dir_prepare(state.cfg.spool_dir, msg, sizeof(msg)) != 0)
        slurm_error("protein: %s; an outcome that cannot reach Redis at task "
                    "exit will be lost: fix spool_dir in the protein line of "
                    "plugstack.conf",
                    msg);
    if (spank_get_item(sp, S_JOB_ID, &job_id) == ESPANK_SUCCESS)
        state.lease_s = spank_protein_lease_seconds(&state.cfg, job_id);
    opts = spank_protein_connect_options(&state.cfg, 1,
                                         state.cfg.claim_timeout_s * 1000);
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    state.ctx = pq_connect(&opts);
    state.connect_ms = (protein_clock_seconds(CLOCK_MONOTONIC) - t0) * 1e3;
    if (state.ctx == NULL)
        snprintf(state.error, sizeof(state.error),
                 "protein: out of memory connecting to Redis");
    else if (state.ctx->err != PQ_OK) {
        spank_protein_claim_error(state.ctx, state.ctx->err, sweep, state.error,
                                  sizeof(state.error));
        if (state.ctx->err == PQ_EIO &&
            spank_get_item(sp, S_JOB_ID, &job_id) == ESPANK_SUCCESS)
            redis_down(job_id, step);
    }
    return 0;
}

/* Whether a step (not the batch step) of job belongs to a job whose batch
 * step holds a running trial of the sweep: then it claims nothing, as a
 * step that sees PROTEIN_TRIAL does not, and task_init says that it lacks
 * the trial's variables (srun --export=NONE hid them). A failed lookup is
 * no: the step claims as before. */
static int shares_batch_trial(const spank_protein_job *job)
{
    char key[SPANK_PROTEIN_CLAIM_KEY_MAX];
    long id = 0;

    if (spank_protein_claim_key(job->job_id, SLURM_BATCH_SCRIPT,
                                job->array_job_id, job->array_task_id, key,
                                sizeof(key)) != 0 ||
        pq_claimed(state.ctx, state.sweep, key, &id) != PQ_OK || id <= 0)
        return 0;
    snprintf(state.shared_note, sizeof(state.shared_note),
             "protein: this step shares trial %ld of sweep %s with job %s's "
             "batch step but does not see its PROTEIN_* variables (srun "
             "--export=NONE?): run it with --export=ALL to pass them",
             id, state.sweep, key);
    return 1;
}

/* slurmstepd, euid = the job's user, before the tasks fork: creates the
 * result file as the user, claims the trial and exports the variables
 * (which every task of the step inherits). Never fails: a problem is kept
 * for task_init. */
int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
    spank_protein_job job;
    char node[256], tmpdir[SPANK_PROTEIN_PATH_MAX], user[PQ_OWNER_MAX + 1];
    double t0;

    if (!acting_call(CB_USER_INIT) || !state.active || state.error[0] != '\0')
        return 0;
    memset(&job, 0, sizeof(job));
    if (get_u32(sp, S_JOB_ID, "job id", &job.job_id) != 0 ||
        get_u32(sp, S_JOB_STEPID, "step id", &job.step_id) != 0 ||
        get_u32(sp, S_JOB_ARRAY_ID, "array job id", &job.array_job_id) != 0 ||
        get_u32(sp, S_JOB_ARRAY_TASK_ID, "array task id", &job.array_task_id) !=
            0 ||
        get_u32(sp, S_JOB_LOCAL_TASK_COUNT, "task count", &state.tasks) != 0 ||
        get_u32(sp, S_JOB_NODEID, "node index", &state.node) != 0 ||
        spank_get_item(sp, S_JOB_UID, &job.uid) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_GID, &job.gid) != ESPANK_SUCCESS) {
        if (state.error[0] == '\0')
            snprintf(state.error, sizeof(state.error),
                     "protein: couldn't get the job's uid or gid");
        goto done;
    }
    state.uid = job.uid;
    state.job_id = job.job_id;
    state.step_id = job.step_id;
    if (pq_user_name(job.uid, user, sizeof(user)) == PQ_OK)
        job.user = user;
    if (pq_sweep_qualify(spank_protein_sweep(), job.user, state.sweep,
                         sizeof(state.sweep)) != PQ_OK)
        snprintf(state.sweep, sizeof(state.sweep), "%s", spank_protein_sweep());
    if (spank_getenv(sp, "SLURMD_NODENAME", node, sizeof(node)) ==
            ESPANK_SUCCESS ||
        gethostname(node, sizeof(node)) == 0) {
        node[sizeof(node) - 1] = '\0';
        job.node = node;
    }
    if (spank_getenv(sp, "TMPDIR", tmpdir, sizeof(tmpdir)) == ESPANK_SUCCESS)
        job.tmpdir = tmpdir;
    job.lease_s = state.lease_s;
    job.claim_token = state.release_token;
    if (job.step_id != SLURM_BATCH_SCRIPT && shares_batch_trial(&job))
        goto done;
    t0 = protein_clock_seconds(CLOCK_MONOTONIC);
    if (spank_protein_claim(sp, state.ctx, &state.cfg, state.sweep, &job,
                            &state.trial, state.error,
                            sizeof(state.error)) == 0)
        slurm_info("protein: sweep %s trial %ld claimed and exported in %.2f "
                   "ms (connect %.2f ms)%s",
                   state.trial.trial->sweep, state.trial.trial->id,
                   state.connect_ms +
                       (protein_clock_seconds(CLOCK_MONOTONIC) - t0) * 1e3,
                   state.connect_ms,
                   state.trial.trial->fallback ? " (fallback point)" : "");
    else if (state.ctx->err == PQ_EIO) {
        spank_protein_claim_key(job.job_id, job.step_id, job.array_job_id,
                                job.array_task_id, state.release_key,
                                sizeof(state.release_key));
        redis_down(job.job_id, job.step_id);
    }
done:
    if (state.ctx != NULL)
        pq_free(state.ctx);
    state.ctx = NULL;
    return 0;
}

/* Runs in the task just before exec. A claim that failed fails the task
 * here: returning -1 only stops a `required` plugin's task, so the task
 * exits with status 1 itself, after the message reached its output. */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
    int task = 0;

    if (!acting_call(CB_TASK_INIT) || !state.active)
        return 0;
    if (state.shared_note[0] != '\0') {
        if (spank_get_item(sp, S_TASK_ID, &task) == ESPANK_SUCCESS &&
            task == 0 && state.node == 0)
            slurm_spank_log("%s", state.shared_note);
        return 0;
    }
    if (state.error[0] != '\0') {
        slurm_error("%s", state.error);
        fflush(NULL);
        _exit(1);
    }
    if (state.node == 0 &&
        spank_get_item(sp, S_TASK_ID, &task) == ESPANK_SUCCESS && task == 0 &&
        state.trial.banner != NULL)
        slurm_spank_log("%s", state.trial.banner);
    return 0;
}

/* The claim of this step timed out on our side, but Redis may have served
 * it (a frozen or overloaded server runs it once it resumes): gives back
 * what the claim key holds while that claim is its trial's last (the
 * record names its token), so that no trial stays running without a
 * task, with the outcome's retry and spool; a release replayed late from
 * the spool leaves alone a requeued task that resumed the trial since.
 * Once per step. */
static void release_abandoned_claim(void)
{
    pq_spool_record rec;
    pq_released released = {0, PQ_RELEASE_NONE};
    char said[256];

    memset(&rec, 0, sizeof(rec));
    rec.kind = PQ_SPOOL_RELEASE;
    snprintf(rec.sweep, sizeof(rec.sweep), "%s", state.sweep);
    snprintf(rec.claim_key, sizeof(rec.claim_key), "%s", state.release_key);
    snprintf(rec.token, sizeof(rec.token), "%s", state.release_token);
    snprintf(rec.text, sizeof(rec.text),
             "the claim timed out on the node; the task did not run the trial");
    state.release_key[0] = '\0';
    if (spank_protein_record(&state.cfg, &rec,
                             protein_clock_seconds(CLOCK_MONOTONIC),
                             &released) != 0)
        return;
    pq_released_text(&released, said, sizeof(said));
    slurm_info("protein: sweep %s: claim %s timed out on the node; %s",
               rec.sweep, rec.claim_key, said);
}

/* A task killed by SIGKILL: by the out-of-memory killer when the step's
 * memory cgroup (task/cgroup's) counted a kill, then o becomes a failure.
 * Without such a cgroup it stays an interrupt, said at debug level. */
static void check_oom(spank_protein_outcome *o)
{
    unsigned long long kills = 0;
    char msg[PATH_MAX + 160];

    if (o->kind != SPANK_PROTEIN_INTERRUPTED || o->signal != SIGKILL)
        return;
    if (spank_protein_oom_kills("/proc/self", state.job_id, state.step_id,
                                &kills, msg, sizeof(msg)) != 0) {
        slurm_debug("protein: sweep %s trial %ld: killed by SIGKILL; no "
                    "out-of-memory count to tell an OOM kill (%s): "
                    "interrupted",
                    state.trial.trial->sweep, state.trial.trial->id, msg);
        return;
    }
    slurm_debug("protein: sweep %s trial %ld: killed by SIGKILL; %s counted "
                "%llu out-of-memory kills",
                state.trial.trial->sweep, state.trial.trial->id, msg, kills);
    /* a kill counted earlier in the step (a child the trial outlived)
     * does not make Slurm's own SIGKILL (scancel, preemption, the time
     * limit, requeue) an out-of-memory kill */
    if (kills > 0 && spank_protein_job_ended_by_slurm(state.job_id))
        return;
    spank_protein_outcome_oom(o, kills);
}

/* A failed batch step: by the out-of-memory killer when slurmctld says
 * an srun step of the job ran out of memory. That kill happened in the
 * srun step's own cgroup, which its slurmstepd removes before srun even
 * returns, and cgroup v1 counts it nowhere else, so only Slurm's verdict
 * on the step is left. */
static void check_srun_oom(spank_protein_outcome *o)
{
    if (o->kind != SPANK_PROTEIN_FAILED ||
        state.step_id != SLURM_BATCH_SCRIPT ||
        !spank_protein_srun_oom(state.job_id, SRUN_OOM_WAIT_MS))
        return;
    spank_protein_outcome_srun_oom(o);
}

/* slurmstepd, as root, once per task: when the step's last task ended,
 * reads the result file and records the trial's outcome. Never fails.
 * A step on several nodes claims its one trial on each; only its first
 * node records, where the step's task 0 (the rank that reports, as a
 * rule) runs: another node's result file, usually empty, would end the
 * trial as failed before task 0 is done. */
int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
    const double started = protein_clock_seconds(CLOCK_MONOTONIC);
    spank_protein_outcome outcome;
    pq_result result;
    char *text = NULL;
    size_t len = 0;
    char problem[512];
    int status = 0, have_result = 0;

    if (!acting_call(CB_TASK_EXIT))
        return 0;
    if (state.active && state.trial.trial == NULL &&
        state.release_key[0] != '\0') {
        release_abandoned_claim();
        return 0;
    }
    if (!state.active || state.trial.trial == NULL)
        return 0;
    if (spank_get_item(sp, S_TASK_EXIT_STATUS, &status) != ESPANK_SUCCESS) {
        slurm_error(
            "protein: sweep %s trial %ld: couldn't get the task's exit status",
            state.trial.trial->sweep, state.trial.trial->id);
        status = 1 << 8;
    }
    state.status = spank_protein_status_merge(state.status, status);
    if (++state.exited < state.tasks)
        return 0;
    if (state.node > 0) {
        slurm_info("protein: sweep %s trial %ld: node %u of the step is "
                   "done; the step's first node records the outcome",
                   state.trial.trial->sweep, state.trial.trial->id,
                   (unsigned)state.node);
        spank_protein_result_discard(&state.trial.result);
        spank_protein_trial_clear(&state.trial);
        return 0;
    }
    problem[0] = '\0';
    if (spank_protein_result_read(state.trial.result.path, state.uid,
                                  SPANK_PROTEIN_RESULT_CAP, 1, &text, &len,
                                  problem, sizeof(problem)) == 0 &&
        pq_result_parse(text, len, state.trial.trial->metric,
                        state.trial.trial->cost_metric, &result) == PQ_OK)
        have_result = 1;
    spank_protein_outcome_decide(state.status, have_result ? &result : NULL,
                                 problem[0] ? problem : NULL, &outcome);
    /* the srun step's verdict first: it applies to a script that failed,
     * check_oom to one killed, so neither asks about the other's */
    check_srun_oom(&outcome);
    check_oom(&outcome);
    if (outcome.kind == SPANK_PROTEIN_INTERRUPTED &&
        spank_protein_time_limit_reached(state.job_id))
        spank_protein_outcome_time_limit(&outcome);
    spank_protein_outcome_report(&state.cfg, state.trial.trial, &outcome,
                                 started);
    spank_protein_result_discard(&state.trial.result);
    free(text);
    spank_protein_trial_clear(&state.trial);
    return 0;
}

/* Every context: forgets the step's state (after the last line's call,
 * the count of lines too). */
int slurm_spank_exit(spank_t sp, int ac, char **av)
{
    if (acting_call(CB_EXIT))
        state_reset();
    if (lines.copies <= 1 || lines.calls[CB_EXIT] >= lines.copies)
        memset(&lines, 0, sizeof(lines));
    return 0;
}
