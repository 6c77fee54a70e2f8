/*
 * sweep.c - creating, inspecting, listing, pausing/stopping and deleting
 * sweeps (each change one FCALL; see functions.lua).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "pq_internal.h"

#define SWEEPS_KEY "protein:sweeps"

/* Number of fixed arguments of protein_create before the fallback points. */
#define CREATE_ARGS 10

int pq_sweep_create(pq_context *ctx, const pq_sweep_spec *spec)
{
    char num[4][32];
    pq_point_args args;
    size_t n = spec ? spec->n_fallback : 0;
    int rc;

    if (!spec)
        return pq_set_error(ctx, PQ_EINVAL, "no sweep given");
    if ((rc = pq_check_sweep(ctx, spec->name)) != PQ_OK)
        return rc;
    if (n == 0 || !spec->fallback)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s' needs at least one fallback point", spec->name);
    rc = pq_point_args_build(ctx, spec->name, "fallback", CREATE_ARGS, spec->fallback, n,
                             &args);
    if (rc != PQ_OK)
        return rc;
    snprintf(num[0], sizeof num[0], "%ld", spec->max_trials > 0 ? spec->max_trials : 0);
    snprintf(num[1], sizeof num[1], "%ld", spec->owner_uid);
    snprintf(num[2], sizeof num[2], "%d", spec->lease_seconds > 0 ? spec->lease_seconds : 86400);
    snprintf(num[3], sizeof num[3], "%d", spec->max_retries > 0 ? spec->max_retries : 0);
    args.argv[0] = spec->name;
    args.argv[1] = spec->config_yaml ? spec->config_yaml : "";
    args.argv[2] = spec->metric ? spec->metric : "score";
    args.argv[3] = spec->cost_metric ? spec->cost_metric : "cost";
    args.argv[4] = spec->goal_minimize ? "1" : "0";
    args.argv[5] = num[0];
    args.argv[6] = num[1];
    args.argv[7] = spec->shared ? "1" : "0";
    args.argv[8] = num[2];
    args.argv[9] = num[3];
    for (int i = 0; i < CREATE_ARGS; i++)
        args.argvlen[i] = strlen(args.argv[i]);
    rc = pq_sweep_fcall(ctx, spec->name, "protein_create", 0, SWEEPS_KEY,
                        (int)(CREATE_ARGS + n), args.argv, args.argvlen, NULL);
    pq_point_args_free(&args);
    return rc;
}

int pq_sweep_get(pq_context *ctx, const char *name, pq_sweep_info **out)
{
    pq_reply *r = NULL;
    int rc, oom = 0;
    *out = NULL;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    if ((rc = pq_sweep_fcall(ctx, name, "protein_info", 1, NULL, 0, NULL, NULL, &r)) != PQ_OK)
        return rc;
    pq_sweep_info *info = calloc(1, sizeof *info);
    if (!info) {
        pq_reply_free(r);
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    }
    const char *state = pq_flat_get(r, "state");
    info->state = !state || strcmp(state, "active") == 0 ? PQ_SWEEP_ACTIVE
                  : strcmp(state, "paused") == 0     ? PQ_SWEEP_PAUSED
                                                     : PQ_SWEEP_STOPPED;
    info->name = pq_strdup(name);
    info->config_yaml = pq_strdup(pq_flat_get(r, "config") ? pq_flat_get(r, "config") : "");
    info->metric = pq_flat_strdup(r, "metric", &oom);
    info->cost_metric = pq_flat_strdup(r, "cost_metric", &oom);
    info->coordinator = pq_flat_strdup(r, "coordinator", &oom);
    info->last_refit_backend = pq_flat_strdup(r, "refit_backend", &oom);
    if (!info->name || !info->config_yaml)
        oom = 1;
    info->goal_minimize = (int)pq_flat_long(r, "goal_minimize", 0);
    info->max_trials = pq_flat_long(r, "max_trials", 0);
    info->owner_uid = pq_flat_long(r, "owner_uid", -1);
    info->shared = (int)pq_flat_long(r, "shared", 0);
    info->lease_seconds = (int)pq_flat_long(r, "lease_seconds", 0);
    info->max_retries = (int)pq_flat_long(r, "max_retries", 0);
    info->created_at = pq_flat_double(r, "created_at", 0);
    info->n_trials = pq_flat_long(r, "n_trials", 0);
    for (int s = 0; s < PQ_TRIAL_NSTATES; s++) {
        char field[32];
        snprintf(field, sizeof field, "n_%s", pq_trial_state_name((pq_trial_state)s));
        info->counts[s] = pq_flat_long(r, field, 0);
    }
    info->queue_depth = pq_flat_long(r, "queue_depth", 0);
    info->retry_depth = pq_flat_long(r, "retry_depth", 0);
    info->n_fallback = (size_t)pq_flat_long(r, "n_fallback", 0);
    info->fallback_next = pq_flat_long(r, "fallback_next", 0);
    info->n_waiting = pq_flat_long(r, "n_waiting", 0);
    info->coordinator_alive = info->coordinator != NULL;
    info->last_refit_at = pq_flat_double(r, "refit_at", 0);
    info->last_refit_n = pq_flat_long(r, "refit_n", 0);
    info->last_refit_ms = pq_flat_double(r, "refit_ms", 0);
    pq_reply_free(r);
    if (oom) {
        pq_sweep_info_free(info);
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    }
    *out = info;
    return PQ_OK;
}

void pq_sweep_info_free(pq_sweep_info *info)
{
    if (!info)
        return;
    free(info->name);
    free(info->config_yaml);
    free(info->metric);
    free(info->cost_metric);
    free(info->coordinator);
    free(info->last_refit_backend);
    free(info);
}

int pq_sweep_exists(pq_context *ctx, const char *name)
{
    int rc;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    return pq_sweep_fcall(ctx, name, "protein_depth", 1, NULL, 0, NULL, NULL, NULL);
}

int pq_sweep_list(pq_context *ctx, char ***names, size_t *n)
{
    pq_reply *r = NULL;
    int rc;
    *names = NULL;
    *n = 0;
    if ((rc = pq_fcall(ctx, "protein_list", 1, SWEEPS_KEY, NULL, 0, NULL, NULL, &r)) != PQ_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY) {
        pq_reply_free(r);
        return pq_set_error(ctx, PQ_EPROTO, "Redis at %s: protein_list: unexpected reply",
                            ctx->url);
    }
    if (r->elements) {
        *names = calloc(r->elements, sizeof **names);
        if (!*names) {
            pq_reply_free(r);
            return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (!((*names)[i] = pq_strdup(r->element[i]->str ? r->element[i]->str : ""))) {
            pq_strings_free(*names, i);
            *names = NULL;
            pq_reply_free(r);
            return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
        }
    }
    *n = r->elements;
    pq_reply_free(r);
    return PQ_OK;
}

int pq_sweep_set_state(pq_context *ctx, const char *name, const char *action,
                       long uid)
{
    char uidbuf[32];
    int rc;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    if (!action || (strcmp(action, "pause") && strcmp(action, "resume") &&
                    strcmp(action, "stop")))
        return pq_set_error(ctx, PQ_EINVAL, "sweep '%s': unknown action '%s' "
                            "(pause, resume or stop)", name, action ? action : "(null)");
    snprintf(uidbuf, sizeof uidbuf, "%ld", uid);
    const char *argv[2] = {action, uidbuf};
    return pq_sweep_fcall(ctx, name, "protein_set_state", 0, NULL, 2, argv, NULL, NULL);
}

int pq_sweep_delete(pq_context *ctx, const char *name, long uid)
{
    char uidbuf[32];
    int rc;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    snprintf(uidbuf, sizeof uidbuf, "%ld", uid);
    const char *argv[1] = {uidbuf};
    return pq_sweep_fcall(ctx, name, "protein_delete", 0, SWEEPS_KEY, 1, argv, NULL, NULL);
}
