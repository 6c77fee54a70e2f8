/*
 * outcome.c - what a finished task means for its trial, and recording it.
 *
 *   killed by a signal (scancel, time limit, preemption)  -> interrupted
 *   non-zero exit status                                  -> failed (status)
 *   exit 0 with the metric in the result file             -> completed
 *   exit 0 without it                                     -> failed "no result"
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "spank_protein.h"

/* 2: killed by a signal, 1: non-zero exit, 0: exit 0. */
static int status_rank(int status)
{
    if (WIFSIGNALED(status))
        return 2;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int spank_protein_status_merge(int merged, int status)
{
    return status_rank(status) > status_rank(merged) ? status : merged;
}

void spank_protein_outcome_decide(int wait_status, const pq_result *result,
                                  const char *result_problem,
                                  double runtime_s,
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
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        out->kind = SPANK_PROTEIN_FAILED;
        out->exit_status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status)
                                                  : wait_status;
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
        else
            snprintf(out->reason, sizeof(out->reason),
                     "no result: exit 0 without a metric in the result file");
        return;
    }
    out->kind = SPANK_PROTEIN_COMPLETED;
    out->score = result->metric;
    out->cost = result->has_cost && isfinite(result->cost) && result->cost >= 0
                    ? result->cost
                    : runtime_s;
}

int spank_protein_outcome_report(const spank_protein_config *cfg,
                                 const pq_trial *t,
                                 const spank_protein_outcome *o)
{
    pq_connect_options opts = spank_protein_connect_options(cfg, 1, 0);
    pq_context *ctx = pq_connect(&opts);
    const char *what = "completed";
    int rc, rv = -1;

    if (ctx == NULL) {
        slurm_error("protein: sweep %s trial %ld: out of memory recording "
                    "the outcome", t->sweep, t->id);
        return -1;
    }
    if (ctx->err != PQ_OK) {
        slurm_error("protein: sweep %s trial %ld: cannot record the outcome: "
                    "%s (the trial stays running until its lease expires)",
                    t->sweep, t->id, ctx->errstr);
        goto fail;
    }
    switch (o->kind) {
    case SPANK_PROTEIN_COMPLETED:
        rc = pq_complete(ctx, t->sweep, t->id, t->token, o->score, o->cost);
        break;
    case SPANK_PROTEIN_FAILED:
        what = "failed";
        rc = pq_fail(ctx, t->sweep, t->id, t->token, o->exit_status,
                     o->reason);
        break;
    default:
        what = "interrupted";
        rc = pq_interrupt(ctx, t->sweep, t->id, t->token, o->reason);
        break;
    }
    if (rc != PQ_OK) {
        slurm_error("protein: sweep %s trial %ld: cannot record it as %s: %s",
                    t->sweep, t->id, what, ctx->errstr);
        goto fail;
    }
    if (o->kind == SPANK_PROTEIN_COMPLETED)
        slurm_info("protein: sweep %s trial %ld completed: score %g cost %g",
                   t->sweep, t->id, o->score, o->cost);
    else
        slurm_info("protein: sweep %s trial %ld %s: %s", t->sweep, t->id,
                   what, o->reason);
    rv = 0;
fail:
    pq_free(ctx);
    return rv;
}
