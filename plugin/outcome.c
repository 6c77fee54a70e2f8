/*
 * outcome.c - what a finished task means for its trial, and recording it.
 *
 *   killed by a signal (scancel, time limit, preemption)  -> interrupted
 *   exit 128+N for a signal N that Slurm uses to end jobs  -> interrupted
 *     but SIGKILL by the out-of-memory killer               -> failed
 *     and SIGTERM/SIGKILL at the job's time limit           -> failed
 *   other non-zero exit status                            -> failed (status)
 *   exit 0 with the metric in the result file             -> completed
 *   exit 0 without it                                     -> failed "no result"
 *   a failed batch step whose srun step ran out of memory -> failed, said so
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "spank_protein.h"
#include "protein_clock.h"

/*
 * The signal that a shell reports as exit status 128+N when its child was
 * killed by signal N, or 0. Only the signals with which Slurm ends a job
 * (scancel, time limit, preemption, --signal) count: when scancel's SIGTERM
 * reaches `python train.py` before the batch shell, the shell exits 143
 * instead of dying by the signal itself, and the trial was interrupted all
 * the same.
 */
static int shell_reported_signal(int status)
{
    static const int job_end_signals[] = {SIGHUP,  SIGINT,  SIGKILL, SIGUSR1,
                                          SIGUSR2, SIGTERM, SIGXCPU};
    int code;

    if (!WIFEXITED(status) || WEXITSTATUS(status) <= 128)
        return 0;
    code = WEXITSTATUS(status) - 128;
    for (size_t i = 0; i < sizeof(job_end_signals) / sizeof(*job_end_signals);
         i++)
        if (job_end_signals[i] == code)
            return code;
    return 0;
}

/* 2: killed by a signal, 1: non-zero exit, 0: exit 0. */
static int status_rank(int status)
{
    if (WIFSIGNALED(status) || shell_reported_signal(status) != 0)
        return 2;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int spank_protein_status_merge(int merged, int status)
{
    return status_rank(status) > status_rank(merged) ? status : merged;
}

void spank_protein_outcome_decide(int wait_status, const pq_result *result,
                                  const char *result_problem,
                                  spank_protein_outcome *out)
{
    memset(out, 0, sizeof(*out));
    if (WIFSIGNALED(wait_status)) {
        out->kind = SPANK_PROTEIN_INTERRUPTED;
        out->signal = WTERMSIG(wait_status);
        snprintf(out->reason, sizeof(out->reason), "killed by signal %d (%s)",
                 out->signal, strsignal(out->signal));
        return;
    }
    if (shell_reported_signal(wait_status) != 0) {
        out->kind = SPANK_PROTEIN_INTERRUPTED;
        out->signal = shell_reported_signal(wait_status);
        out->exit_status = WEXITSTATUS(wait_status);
        snprintf(out->reason, sizeof(out->reason),
                 "exit status %d: its child killed by signal %d (%s)",
                 out->exit_status, out->signal, strsignal(out->signal));
        return;
    }
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        out->kind = SPANK_PROTEIN_FAILED;
        out->exit_status =
            WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : wait_status;
        snprintf(out->reason, sizeof(out->reason), "exit status %d",
                 out->exit_status);
        return;
    }
    if (result == NULL || !result->has_metric) {
        out->kind = SPANK_PROTEIN_FAILED;
        out->exit_status = 0;
        if (result_problem != NULL)
            snprintf(out->reason, sizeof(out->reason), "no result: %s",
                     result_problem);
        else if (result != NULL && result->metric_rejected)
            snprintf(out->reason, sizeof(out->reason),
                     "no result: the metric's last line in the result file is "
                     "not a finite number");
        else if (result != NULL && result->other_key[0])
            snprintf(out->reason, sizeof(out->reason),
                     "no result: exit 0 without a metric in the result file "
                     "(it has '%s=': is the metric misnamed?)",
                     result->other_key);
        else
            snprintf(out->reason, sizeof(out->reason),
                     "no result: exit 0 without a metric in the result file");
        return;
    }
    out->kind = SPANK_PROTEIN_COMPLETED;
    out->score = result->metric;
    out->cost = pq_result_cost(result);
}

void spank_protein_outcome_time_limit(spank_protein_outcome *out)
{
    if (out->kind != SPANK_PROTEIN_INTERRUPTED ||
        (out->signal != SIGTERM && out->signal != SIGKILL))
        return;
    out->kind = SPANK_PROTEIN_FAILED;
    snprintf(out->reason, sizeof(out->reason),
             "killed at the job's time limit (signal %d, %s)", out->signal,
             strsignal(out->signal));
}

void spank_protein_outcome_oom(spank_protein_outcome *out,
                               unsigned long long kills)
{
    if (out->kind != SPANK_PROTEIN_INTERRUPTED || out->signal != SIGKILL ||
        kills == 0)
        return;
    out->kind = SPANK_PROTEIN_FAILED;
    snprintf(out->reason, sizeof(out->reason),
             "killed by the out-of-memory killer (the step's memory cgroup "
             "counted %llu oom kill%s)",
             kills, kills == 1 ? "" : "s");
}

void spank_protein_outcome_srun_oom(spank_protein_outcome *out)
{
    static const char prefix[] =
        "killed by the out-of-memory killer in an srun step of the job, then ";
    char was[sizeof(out->reason)];

    if (out->kind != SPANK_PROTEIN_FAILED)
        return;
    memcpy(was, out->reason, sizeof(was));
    snprintf(out->reason, sizeof(out->reason), "%s%.*s", prefix,
             (int)(sizeof(out->reason) - sizeof(prefix)), was);
}

/* pq_spool_replay's log lines go to the slurmd log. */
static void log_replay(void *arg, const char *line)
{
    (void)arg;
    slurm_info("protein: %s", line);
}

/* What a record is, for messages: "sweep S trial N" or "sweep S claim K". */
static void describe(const pq_spool_record *rec, char *buf, size_t len)
{
    if (rec->kind == PQ_SPOOL_RELEASE)
        snprintf(buf, len, "sweep %s claim %s", rec->sweep, rec->claim_key);
    else
        snprintf(buf, len, "sweep %s trial %ld", rec->sweep, rec->trial_id);
}

int spank_protein_record(const spank_protein_config *cfg,
                         const pq_spool_record *rec, double started,
                         pq_released *released)
{
    pq_connect_options opts = spank_protein_connect_options(cfg, 1, 0);
    const double start = protein_clock_seconds(CLOCK_MONOTONIC);
    const double deadline = started + cfg->outcome_retry_s;
    /* the longest one try can take: the whole of task exit, slurmctld's
     * answers included, stays within outcome_retry (or one try past what
     * slurmctld took), which the admin keeps below Slurm's
     * UnkillableStepTimeout (a step that outlasts it drains the node) */
    const double try_s =
        (cfg->connect_timeout_ms + cfg->command_timeout_ms) / 1000.0;
    pq_context *ctx = NULL;
    char what[400], path[PQ_SPOOL_PATH_MAX], err[PQ_SPOOL_PATH_MAX + 256];
    char why[sizeof ctx->errstr] = "", tried[160];
    pq_spool_stats stats;
    int rc, tries = 0, pause = 250, unanswered = 0;
    pq_released released_got = {0, PQ_RELEASE_NONE};

    describe(rec, what, sizeof(what));
    for (;;) {
        tries++;
        ctx = pq_connect(&opts);
        if (ctx == NULL) {
            slurm_error("protein: %s: out of memory recording the outcome",
                        what);
            return -1;
        }
        rc = ctx->err != PQ_OK
                 ? ctx->err
                 : pq_spool_apply_try(ctx, rec, &unanswered, &released_got);
        if (rc != PQ_EIO)
            break;
        snprintf(why, sizeof(why), "%s", ctx->errstr);
        pq_free(ctx);
        ctx = NULL;
        if (protein_clock_seconds(CLOCK_MONOTONIC) + pause / 1000.0 + try_s >
            deadline)
            break;
        if (tries == 1)
            slurm_info("protein: %s: Redis unreachable (%s); retrying for up "
                       "to %.0f s",
                       what, why,
                       deadline - protein_clock_seconds(CLOCK_MONOTONIC));
        protein_sleep_ms(pause);
        pause = pause * 2 > 4000 ? 4000 : pause * 2;
    }
    if (rc == PQ_OK) {
        if (released)
            *released = released_got;
        /* Redis answers: apply what earlier tasks on this node spooled. */
        if (pq_spool_replay(ctx, cfg->spool_dir, 64, &stats, log_replay,
                            NULL) != PQ_OK &&
            stats.kept > 0)
            slurm_info("protein: spool %s: replay stopped: %s", cfg->spool_dir,
                       ctx->errstr);
        pq_free(ctx);
        return 0;
    }
    if (rc != PQ_EIO) {
        slurm_error("protein: %s: cannot record it: %s", what, ctx->errstr);
        pq_free(ctx);
        return -1;
    }
    /* what was tried, said as it was: with outcome_retry below one try's
     * length, or spent on slurmctld's answers, there is no second try */
    if (tries > 1)
        snprintf(tried, sizeof(tried), "%d tries in %.0f s", tries,
                 protein_clock_seconds(CLOCK_MONOTONIC) - start);
    else if (start - started >= 1)
        snprintf(tried, sizeof(tried),
                 "1 try; outcome_retry=%d s, %.0f s of it spent waiting for "
                 "slurmctld, leaves no time for a second, which can take "
                 "%.1f s",
                 cfg->outcome_retry_s, start - started, try_s);
    else
        snprintf(tried, sizeof(tried),
                 "1 try; outcome_retry=%d s leaves no time for a second, "
                 "which can take %.1f s",
                 cfg->outcome_retry_s, try_s);
    if (pq_spool_write(cfg->spool_dir, rec, path, sizeof(path), err,
                       sizeof(err)) != 0) {
        slurm_error(
            "protein: %s: Redis unreachable (%s: %s) and the spool failed: %s; "
            "the outcome is lost (the trial's lease will expire)",
            what, tried, why, err);
        return -1;
    }
    slurm_error(
        "protein: %s: Redis unreachable (%s: %s); spooled to %s (replayed by "
        "the next task that ends on this node, or by `protein replay`)",
        what, tried, why, path);
    return 1;
}

int spank_protein_outcome_report(const spank_protein_config *cfg,
                                 const pq_trial *t,
                                 const spank_protein_outcome *o, double started)
{
    pq_spool_record rec;
    const char *when;
    int rc;

    memset(&rec, 0, sizeof(rec));
    snprintf(rec.sweep, sizeof(rec.sweep), "%s", t->sweep);
    snprintf(rec.token, sizeof(rec.token), "%s", t->token);
    rec.trial_id = t->id;
    rec.exit_status = o->exit_status;
    rec.score = o->score;
    rec.cost = o->cost;
    snprintf(rec.text, sizeof(rec.text), "%s", o->reason);
    rec.kind = o->kind == SPANK_PROTEIN_COMPLETED ? PQ_SPOOL_COMPLETED
               : o->kind == SPANK_PROTEIN_FAILED  ? PQ_SPOOL_FAILED
                                                  : PQ_SPOOL_INTERRUPTED;
    if ((rc = spank_protein_record(cfg, &rec, started, NULL)) < 0)
        return -1;
    when = rc == 1 ? " (spooled: recorded when replayed)" : "";
    if (o->kind == SPANK_PROTEIN_COMPLETED)
        slurm_info("protein: sweep %s trial %ld completed: score %g cost %g%s",
                   t->sweep, t->id, o->score, o->cost, when);
    else
        slurm_info("protein: sweep %s trial %ld %s: %s%s", t->sweep, t->id,
                   o->kind == SPANK_PROTEIN_FAILED ? "failed" : "interrupted",
                   o->reason, when);
    return 0;
}
