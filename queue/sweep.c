/*
 * sweep.c - creating, inspecting, listing, pausing/stopping and deleting
 * sweeps (each change one FCALL; see functions.lua).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "pq_internal.h"
#include "protein_number.h"

#define SWEEPS_KEY "protein:sweeps"
#define USERS_KEY "protein:users"
#define WAKE_KEY "protein:wake"
/* Names per protein_list call (the function's own cap). */
#define LIST_PAGE 1000

/* The index a sweep is listed in: protein:{OWNER/}:sweeps for
 * "OWNER/NAME", protein:sweeps for a sweep without an owner. */
static void index_key(char *buf, size_t len, const char *sweep)
{
    const char *slash = strchr(sweep, '/');
    if (slash)
        snprintf(buf, len, "protein:{%.*s/}:sweeps", (int)(slash - sweep),
                 sweep);
    else
        snprintf(buf, len, "%s", SWEEPS_KEY);
}

/* Number of fixed arguments of protein_create before the fallback points. */
#define CREATE_ARGS 13

/* Contract in protein_queue.h. */
int pq_sweep_qualify(const char *name, const char *user, char *out, size_t len)
{
    int n;
    if (!name)
        return PQ_EINVAL;
    if (strchr(name, '/'))
        n = snprintf(out, len, "%s", name);
    else if (user)
        n = snprintf(out, len, "%s/%s", user, name);
    else
        return PQ_EINVAL;
    if (n < 0 || (size_t)n >= len || !pq_sweep_name_valid(out))
        return PQ_EINVAL;
    return PQ_OK;
}

/* The hyperband rule as protein_create takes it, "ETA STRICT BAND...",
 * into buf; PQ_EINVAL when it does not fit or is not a rule. */
static int hyperband_text(pq_context *ctx, const pq_sweep_spec *spec, char *buf,
                          size_t len)
{
    size_t at;
    int n;

    buf[0] = '\0';
    if (spec->n_hyperband_bands == 0)
        return PQ_OK;
    if (!spec->hyperband_bands || spec->n_hyperband_bands > 100 ||
        !(spec->hyperband_eta > 1) || !isfinite(spec->hyperband_eta))
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': hyperband needs "
                            "eta > 1 and 1 to 100 bands",
                            spec->name);
    protein_number_text(spec->hyperband_eta, buf, len);
    at = strlen(buf);
    n = snprintf(buf + at, len - at, " %d", spec->hyperband_strict ? 1 : 0);
    for (size_t i = 0;
         n >= 0 && (size_t)n < len - at && i < spec->n_hyperband_bands; i++) {
        at += (size_t)n;
        n = snprintf(buf + at, len - at, " %ld", spec->hyperband_bands[i]);
    }
    if (n < 0 || (size_t)n >= len - at)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': hyperband bands "
                            "too long",
                            spec->name);
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_sweep_create(pq_context *ctx, const pq_sweep_spec *spec)
{
    char num[5][32], target[32] = "", hyperband[32 * 102];
    char index[128];
    pq_point_args args;
    size_t n = spec ? spec->n_fallback : 0;
    int rc;

    if (!spec)
        return pq_set_error(ctx, PQ_EINVAL, "no sweep given");
    if ((rc = pq_check_sweep(ctx, spec->name)) != PQ_OK)
        return rc;
    if (n == 0 || !spec->fallback)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s' needs at least one fallback point",
                            spec->name);
    if (spec->has_target && !isfinite(spec->target))
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': the target must be "
                            "a finite number",
                            spec->name);
    if (spec->grid_points < 0 || spec->grid_points > PQ_GRID_POINTS_MAX)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': a grid counts 1 to %ld points",
                            spec->name, PQ_GRID_POINTS_MAX);
    if ((rc = hyperband_text(ctx, spec, hyperband, sizeof hyperband)) != PQ_OK)
        return rc;
    if (spec->has_target)
        protein_number_text(spec->target, target, sizeof target);
    rc = pq_point_args_build(ctx, spec->name, "fallback", CREATE_ARGS,
                             spec->fallback, n, &args);
    if (rc != PQ_OK)
        return rc;
    snprintf(num[0], sizeof num[0], "%ld",
             spec->max_trials > 0 ? spec->max_trials : 0);
    snprintf(num[1], sizeof num[1], "%ld", spec->owner_uid);
    snprintf(num[2], sizeof num[2], "%d",
             spec->lease_seconds > 0 ? spec->lease_seconds : 86400);
    snprintf(num[3], sizeof num[3], "%d",
             spec->max_retries > 0 ? spec->max_retries : 0);
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
    args.argv[10] = target;
    args.argv[11] = hyperband;
    snprintf(num[4], sizeof num[4], "%ld", spec->grid_points);
    args.argv[12] = num[4];
    for (int i = 0; i < CREATE_ARGS; i++)
        args.argvlen[i] = strlen(args.argv[i]);
    index_key(index, sizeof index, spec->name);
    rc = pq_sweep_fcall(ctx, spec->name, "protein_create", 0, index,
                        (int)(CREATE_ARGS + n), args.argv, args.argvlen, NULL);
    pq_point_args_free(&args);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_sweep_get(pq_context *ctx, const char *name, pq_sweep_info **out)
{
    pq_reply *r = NULL;
    pq_sweep_info *info;
    const char *state;
    int rc, oom = 0;

    *out = NULL;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    if ((rc = pq_sweep_fcall(ctx, name, "protein_info", 1, NULL, 0, NULL, NULL,
                             &r)) != PQ_OK)
        return rc;
    info = calloc(1, sizeof *info);
    if (!info) {
        pq_reply_free(r);
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    }
    state = pq_flat_get(r, "state");
    info->state = !state || strcmp(state, "active") == 0 ? PQ_SWEEP_ACTIVE
                  : strcmp(state, "paused") == 0         ? PQ_SWEEP_PAUSED
                                                         : PQ_SWEEP_STOPPED;
    info->name = pq_strdup(name);
    info->config_yaml =
        pq_strdup(pq_flat_get(r, "config") ? pq_flat_get(r, "config") : "");
    info->metric = pq_flat_strdup(r, "metric", &oom);
    info->cost_metric = pq_flat_strdup(r, "cost_metric", &oom);
    info->coordinator = pq_flat_strdup(r, "coordinator", &oom);
    info->last_refit_backend = pq_flat_strdup(r, "refit_backend", &oom);
    info->stopped_by = pq_flat_strdup(r, "stopped_by", &oom);
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
        snprintf(field, sizeof field, "n_%s",
                 pq_trial_state_name((pq_trial_state)s));
        info->counts[s] = pq_flat_long(r, field, 0);
    }
    info->queue_depth = pq_flat_long(r, "queue_depth", 0);
    info->retry_depth = pq_flat_long(r, "retry_depth", 0);
    info->n_fallback = (size_t)pq_flat_long(r, "n_fallback", 0);
    info->fallback_next = pq_flat_long(r, "fallback_next", 0);
    info->grid_points = pq_flat_long(r, "grid", 0);
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

/* Contract in protein_queue.h. */
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
    free(info->stopped_by);
    free(info);
}

/* Contract in protein_queue.h. */
int pq_sweep_exists(pq_context *ctx, const char *name)
{
    int rc;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    return pq_sweep_fcall(ctx, name, "protein_depth", 1, NULL, 0, NULL, NULL,
                          NULL);
}

/* A growing array of malloc'ed names. */
typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

/* Appends a copy of name to list. PQ_OK or PQ_ENOMEM. */
static int name_add(name_list *list, const char *name)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        char **grown = realloc(list->names, cap * sizeof *grown);
        if (!grown)
            return PQ_ENOMEM;
        list->names = grown;
        list->cap = cap;
    }
    if (!(list->names[list->n] = pq_strdup(name)))
        return PQ_ENOMEM;
    list->n++;
    return PQ_OK;
}

/* What an index holds: names of sweeps without an owner (protein:sweeps),
 * user names (protein:users), or OWNER's sweeps (protein:{OWNER/}:sweeps). */
typedef enum index_kind { INDEX_BARE, INDEX_USERS, INDEX_OWNER } index_kind;

/* Whether name belongs in an index of that kind: anything else was
 * written there by hand (a user may write their own index) and is left out. */
static int name_fits(index_kind kind, const char *owner, const char *name)
{
    size_t olen;
    switch (kind) {
    case INDEX_BARE: return !strchr(name, '/') && pq_sweep_name_valid(name);
    case INDEX_USERS: return pq_acl_user_name_valid(name);
    case INDEX_OWNER:
        olen = strlen(owner);
        return strncmp(name, owner, olen) == 0 && name[olen] == '/' &&
               pq_sweep_name_valid(name);
    }
    return 0;
}

/* Appends the names of index key that fit its kind (name_fits) to list,
 * page by page, in order; with max > 0 (a multiple of LIST_PAGE), from its
 * first max entries only (fitting or not), setting *cut when the index
 * holds more. */
static int read_index(pq_context *ctx, const char *key, index_kind kind,
                      const char *owner, size_t max, name_list *list, int *cut)
{
    char *after = NULL, count[16];
    size_t read = 0;
    int rc = PQ_OK;

    snprintf(count, sizeof count, "%d", LIST_PAGE);
    for (;;) {
        pq_reply *r = NULL;
        int peek = max > 0 && read >= max; /* is there more than max? */
        const char *argv[2] = {after ? after : "", peek ? "1" : count};
        size_t got;

        if ((rc = pq_fcall(ctx, "protein_list", 1, key, NULL, 2, argv, NULL,
                           &r)) != PQ_OK)
            break;
        if (r->type != REDIS_REPLY_ARRAY) {
            pq_reply_free(r);
            rc = pq_set_error(ctx, PQ_EPROTO,
                              "protein_list %s: unexpected reply", key);
            break;
        }
        got = r->elements;
        if (peek) {
            *cut = got > 0;
            pq_reply_free(r);
            break;
        }
        for (size_t i = 0; i < got && rc == PQ_OK; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_STRING)
                continue;
            if (name_fits(kind, owner, e->str) &&
                name_add(list, e->str) != PQ_OK)
                rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
            /* The next page starts after the last name, fitting or not. */
            free(after);
            if (!(after = pq_strdup(e->str)))
                rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
        }
        pq_reply_free(r);
        read += got;
        if (rc != PQ_OK || got < LIST_PAGE)
            break;
    }
    free(after);
    return rc;
}

/* qsort order of an array of sweep names (char *): strcmp's. */
static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists into *names: the owner's index when owner is given, else
 * protein:sweeps and the first PQ_OWNER_INDEX_MAX entries of the index of
 * every user in protein:users, the users whose index holds more going
 * into *cut (when cut is not NULL). */
static int list_sweeps(pq_context *ctx, const char *owner, char ***names,
                       size_t *n, name_list *cut)
{
    name_list list = {0}, users = {0};
    char key[128];
    int rc, was_cut = 0;
    *names = NULL;
    *n = 0;
    if (owner) {
        if (!pq_acl_user_name_valid(owner))
            return pq_set_error(ctx, PQ_EINVAL, "invalid user name '%s'",
                                owner);
        snprintf(key, sizeof key, "protein:{%s/}:sweeps", owner);
        rc = read_index(ctx, key, INDEX_OWNER, owner, 0, &list, &was_cut);
    } else {
        rc = read_index(ctx, SWEEPS_KEY, INDEX_BARE, NULL, 0, &list, &was_cut);
        if (rc == PQ_OK)
            rc = read_index(ctx, USERS_KEY, INDEX_USERS, NULL, 0, &users,
                            &was_cut);
        for (size_t i = 0; rc == PQ_OK && i < users.n; i++) {
            was_cut = 0;
            snprintf(key, sizeof key, "protein:{%s/}:sweeps", users.names[i]);
            rc = read_index(ctx, key, INDEX_OWNER, users.names[i],
                            PQ_OWNER_INDEX_MAX, &list, &was_cut);
            if (rc == PQ_OK && was_cut && cut &&
                name_add(cut, users.names[i]) != PQ_OK)
                rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
        }
        pq_strings_free(users.names, users.n);
    }
    if (rc != PQ_OK) {
        pq_strings_free(list.names, list.n);
        return rc;
    }
    if (list.n)
        qsort(list.names, list.n, sizeof *list.names, names_cmp);
    *names = list.names;
    *n = list.n;
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_sweep_list(pq_context *ctx, char ***names, size_t *n, char ***cut,
                  size_t *n_cut)
{
    name_list users = {0};
    int rc = list_sweeps(ctx, NULL, names, n, &users);

    if (rc != PQ_OK) {
        pq_strings_free(users.names, users.n);
        users.names = NULL;
        users.n = 0;
    }
    *cut = users.names;
    *n_cut = users.n;
    return rc;
}

/* Contract in protein_queue.h. */
int pq_sweep_list_owned(pq_context *ctx, const char *owner, char ***names,
                        size_t *n)
{
    if (!owner) {
        *names = NULL;
        *n = 0;
        return pq_set_error(ctx, PQ_EINVAL, "no owner given");
    }
    return list_sweeps(ctx, owner, names, n, NULL);
}

/* Whether reply r of protein_wakes has the server time and one
 * {cursor, names...} array of strings per stream of n, each cursor of
 * fitting length. */
static int wakes_reply_ok(const redisReply *r, size_t n)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n + 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i + 1];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[0]->len >= PQ_WAKE_CURSOR_MAX)
            return 0;
        for (size_t j = 1; j < e->elements; j++)
            if (e->element[j]->type != REDIS_REPLY_STRING)
                return 0;
    }
    return 1;
}

/* Contract in protein_queue.h. */
int pq_wakes_read(pq_context *ctx, pq_wake_stream *streams, size_t n,
                  int64_t since_ms, int64_t *server_ms, char ***names,
                  size_t *n_names)
{
    char keys[PQ_WAKE_STREAMS_MAX][PQ_OWNER_MAX + 16];
    char starts[PQ_WAKE_STREAMS_MAX][PQ_WAKE_CURSOR_MAX];
    const char *key_ptrs[PQ_WAKE_STREAMS_MAX], *argv[PQ_WAKE_STREAMS_MAX];
    name_list list = {0};
    pq_reply *r = NULL;
    int rc;

    *names = NULL;
    *n_names = 0;
    if (n > PQ_WAKE_STREAMS_MAX)
        return pq_set_error(ctx, PQ_EINVAL,
                            "at most %d wake streams per read, not %zu",
                            PQ_WAKE_STREAMS_MAX, n);
    for (size_t i = 0; i < n; i++) {
        const char *owner = streams[i].owner;

        if (owner && !pq_acl_user_name_valid(owner))
            return pq_set_error(ctx, PQ_EINVAL, "invalid user name '%s'",
                                owner);
        if (owner)
            snprintf(keys[i], sizeof keys[i], "protein:{%s/}:wake", owner);
        else
            snprintf(keys[i], sizeof keys[i], "%s", WAKE_KEY);
        if (streams[i].cursor[0] == '\0' && since_ms > 0)
            snprintf(starts[i], sizeof starts[i], "%lld-0",
                     (long long)since_ms);
        else
            snprintf(starts[i], sizeof starts[i], "%s", streams[i].cursor);
        key_ptrs[i] = keys[i];
        argv[i] = starts[i];
    }
    rc = pq_fcall_keys(ctx, "protein_wakes", 1, (int)n, key_ptrs, (int)n, argv,
                       NULL, &r);
    if (rc != PQ_OK)
        return rc;
    if (!wakes_reply_ok(r, n)) {
        pq_reply_free(r);
        return pq_set_error(ctx, PQ_EPROTO,
                            "protein_wakes answered no time and no cursor "
                            "and names per stream");
    }
    for (size_t i = 0; i < n && rc == PQ_OK; i++) {
        const redisReply *e = r->element[i + 1];
        index_kind kind = streams[i].owner ? INDEX_OWNER : INDEX_BARE;

        for (size_t j = 1; j < e->elements && rc == PQ_OK; j++)
            if (name_fits(kind, streams[i].owner, e->element[j]->str))
                rc = name_add(&list, e->element[j]->str);
    }
    if (rc != PQ_OK) {
        pq_reply_free(r);
        pq_strings_free(list.names, list.n);
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        snprintf(streams[i].cursor, sizeof streams[i].cursor, "%s",
                 r->element[i + 1]->element[0]->str);
    *server_ms = (int64_t)r->element[0]->integer;
    pq_reply_free(r);
    *names = list.names;
    *n_names = list.n;
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_sweep_set_state(pq_context *ctx, const char *name, const char *action,
                       long uid)
{
    char uidbuf[32];
    const char *argv[2] = {action, uidbuf};
    int rc;

    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    if (!action || (strcmp(action, "pause") && strcmp(action, "resume") &&
                    strcmp(action, "stop")))
        return pq_set_error(
            ctx, PQ_EINVAL,
            "sweep '%s': unknown action '%s' (pause, resume or stop)", name,
            action ? action : "(null)");
    snprintf(uidbuf, sizeof uidbuf, "%ld", uid);
    return pq_sweep_fcall(ctx, name, "protein_set_state", 0, NULL, 2, argv,
                          NULL, NULL);
}

/* Contract in protein_queue.h. */
int pq_sweep_set_budget(pq_context *ctx, const char *name, long n, int add,
                        long uid, const pq_params *points, size_t n_points,
                        long *budget, long *used)
{
    char nbuf[32], uidbuf[32];
    pq_point_args args;
    pq_reply *r = NULL;
    int rc;

    if (budget)
        *budget = 0;
    if (used)
        *used = 0;
    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    if (n < 1 || n > PQ_BUDGET_MAX)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': a budget is a whole number of trials "
                            "from 1 to %ld, not %ld",
                            name, PQ_BUDGET_MAX, n);
    if (n_points > 0 && !points)
        return pq_set_error(ctx, PQ_EINVAL, "sweep '%s': no fallback points",
                            name);
    if ((rc = pq_point_args_build(ctx, name, "fallback", 2, points, n_points,
                                  &args)) != PQ_OK)
        return rc;
    snprintf(nbuf, sizeof nbuf, "%s%ld", add ? "+" : "", n);
    snprintf(uidbuf, sizeof uidbuf, "%ld", uid);
    args.argv[0] = nbuf;
    args.argvlen[0] = strlen(nbuf);
    args.argv[1] = uidbuf;
    args.argvlen[1] = strlen(uidbuf);
    rc = pq_sweep_fcall(ctx, name, "protein_set_budget", 0, NULL,
                        (int)(n_points + 2), args.argv, args.argvlen, &r);
    pq_point_args_free(&args);
    if (rc == PQ_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->type == REDIS_REPLY_INTEGER) {
        if (budget)
            *budget = (long)r->element[0]->integer;
        if (used)
            *used = (long)r->element[1]->integer;
    } else if (rc == PQ_OK) {
        rc = pq_set_error(ctx, PQ_EPROTO,
                          "sweep '%s': protein_set_budget answered no "
                          "{budget, used} pair",
                          name);
    }
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_sweep_delete(pq_context *ctx, const char *name, long uid)
{
    char uidbuf[32], index[128];
    const char *argv[1] = {uidbuf};
    pq_reply *r = NULL;
    int rc;

    if ((rc = pq_check_sweep(ctx, name)) != PQ_OK)
        return rc;
    snprintf(uidbuf, sizeof uidbuf, "%ld", uid);
    index_key(index, sizeof index, name);
    /* Each call removes a bounded chunk; 1 means "call again". Every call
     * but the last removes at least one trial hash, so this ends. */
    for (;;) {
        int again;

        rc = pq_sweep_fcall(ctx, name, "protein_delete", 0, index, 1, argv,
                            NULL, &r);
        if (rc != PQ_OK)
            return rc;
        again = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        pq_reply_free(r);
        if (!again)
            return PQ_OK;
    }
}
