/*
 * coordinator.c - what proteind uses: the sweep's leader lease, the ready
 * queue, pending points, lease expiry, refit info and the observation
 * stream.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <msgpack.h>

#include "pq_internal.h"

/* Observations read per XREAD when no count is given. */
#define OBS_DEFAULT_COUNT 1000

/* Contract in protein_queue.h. */
int pq_coordinator_acquire(pq_context *ctx, const char *sweep,
                           const char *holder_id, int ttl_ms, int *is_leader)
{
    char ttl[32];
    const char *argv[2] = {holder_id, ttl};
    pq_reply *r = NULL;
    int rc;

    *is_leader = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!holder_id || !*holder_id || ttl_ms <= 0)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': the coordinator lease needs a holder "
                            "id and a positive TTL",
                            sweep);
    snprintf(ttl, sizeof ttl, "%d", ttl_ms);
    rc = pq_sweep_fcall(ctx, sweep, "protein_coord_acquire", 0, NULL, 2, argv,
                        NULL, &r);
    if (rc == PQ_OK)
        *is_leader = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                     r->element[0]->type == REDIS_REPLY_INTEGER &&
                     r->element[0]->integer == 1;
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_coordinator_release(pq_context *ctx, const char *sweep,
                           const char *holder_id)
{
    const char *argv[1] = {holder_id};
    int rc;

    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!holder_id)
        return pq_set_error(ctx, PQ_EINVAL, "sweep '%s': no holder id", sweep);
    return pq_sweep_fcall(ctx, sweep, "protein_coord_release", 0, NULL, 1, argv,
                          NULL, NULL);
}

/* Contract in protein_queue.h. */
int pq_queue_replace(pq_context *ctx, const char *sweep, const char *holder_id,
                     const pq_params *points, size_t n)
{
    pq_point_args args;
    int rc;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!holder_id || !*holder_id)
        return pq_set_error(ctx, PQ_EINVAL, "sweep '%s': no holder id", sweep);
    if ((rc = pq_point_args_build(ctx, sweep, "queue", 1, points, n, &args)) !=
        PQ_OK)
        return rc;
    args.argv[0] = holder_id;
    args.argvlen[0] = strlen(holder_id);
    rc = pq_sweep_fcall(ctx, sweep, "protein_queue_replace", 0, NULL,
                        (int)(n + 1), args.argv, args.argvlen, NULL);
    pq_point_args_free(&args);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_queue_depth(pq_context *ctx, const char *sweep, long *depth)
{
    pq_reply *r = NULL;
    int rc;
    *depth = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    rc =
        pq_sweep_fcall(ctx, sweep, "protein_depth", 1, NULL, 0, NULL, NULL, &r);
    if (rc == PQ_OK && r->type == REDIS_REPLY_INTEGER)
        *depth = (long)r->integer;
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_running_points(pq_context *ctx, const char *sweep, pq_params **pts,
                      size_t *n)
{
    pq_reply *r = NULL;
    int rc;
    *pts = NULL;
    *n = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    rc = pq_sweep_fcall(ctx, sweep, "protein_pending", 1, NULL, 0, NULL, NULL,
                        &r);
    if (rc != PQ_OK)
        return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        *pts = calloc(r->elements, sizeof **pts);
        if (!*pts) {
            rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_STRING)
                continue;
            rc = pq_params_from_json(e->str, &(*pts)[*n]);
            if (rc == PQ_ENOMEM) {
                pq_set_error(ctx, rc, "out of memory");
                goto fail;
            }
            /* A damaged trial's point only steers the model away from
             * itself: skipped, it must not stop every refill. */
            if (rc == PQ_OK)
                (*n)++;
        }
    }
    pq_reply_free(r);
    return PQ_OK;
fail:
    pq_reply_free(r);
    pq_params_array_free(*pts, *n);
    *pts = NULL;
    *n = 0;
    return rc;
}

/* Contract in protein_queue.h. */
int pq_budget_spent(long max_trials, long n_trials, long n_lost, long n_running,
                    long retry_depth)
{
    return max_trials > 0 && n_trials - n_lost >= max_trials &&
           n_running == 0 && retry_depth == 0;
}

/* protein_demand's reply r into *out (zeroed first); PQ_EPROTO when it
 * is malformed. */
static int read_demand(pq_context *ctx, const char *sweep, const pq_reply *r,
                       pq_demand_info *out)
{
    long *fields[] = {&out->queue_depth, &out->n_running,  &out->n_waiting,
                      &out->max_trials,  &out->n_trials,   &out->n_lost,
                      &out->retry_depth, &out->n_fallback, &out->fallback_next,
                      &out->n_progress};
    const size_t n_fields = sizeof fields / sizeof fields[0];
    size_t n_given;

    memset(out, 0, sizeof *out);
    /* another build's functions (which this Redis user may not replace)
     * may not count progress reports (n_progress is then -1), or may
     * answer with fields a later build added (left out) */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < n_fields ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return pq_set_error(ctx, PQ_EPROTO,
                            "sweep '%s': malformed demand reply", sweep);
    out->state = strcmp(r->element[0]->str, "active") == 0   ? PQ_SWEEP_ACTIVE
                 : strcmp(r->element[0]->str, "paused") == 0 ? PQ_SWEEP_PAUSED
                                                             : PQ_SWEEP_STOPPED;
    n_given = r->elements - 1 < n_fields ? r->elements - 1 : n_fields;
    for (size_t i = 0; i < n_given; i++)
        *fields[i] = r->element[i + 1]->type == REDIS_REPLY_INTEGER
                         ? (long)r->element[i + 1]->integer
                         : 0;
    if (n_given < n_fields)
        out->n_progress = -1;
    if (r->elements > n_fields + 1 &&
        r->element[n_fields + 1]->type == REDIS_REPLY_STRING)
        out->created_at = pq_parse_double(r->element[n_fields + 1]->str, 0);
    return PQ_OK;
}

/* Where protein_demand's reply, asked for the leases due too, holds
 * protein_due's reply: after the state, the ten figures and created_at. */
#define DEMAND_DUE_AT 12

/* Contract in protein_queue.h. */
int pq_demand(pq_context *ctx, const char *sweep, pq_demand_info *out)
{
    pq_reply *r = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    rc = pq_sweep_fcall(ctx, sweep, "protein_demand", 1, NULL, 0, NULL, NULL,
                        &r);
    if (rc == PQ_OK)
        rc = read_demand(ctx, sweep, r, out);
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_fallback_add(pq_context *ctx, const char *sweep, const char *holder_id,
                    const pq_params *points, size_t n, long *size)
{
    pq_point_args args;
    pq_reply *r = NULL;
    int rc;

    if (size)
        *size = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!holder_id || !*holder_id)
        return pq_set_error(ctx, PQ_EINVAL, "sweep '%s': no holder id", sweep);
    if ((rc = pq_point_args_build(ctx, sweep, "fallback", 1, points, n,
                                  &args)) != PQ_OK)
        return rc;
    args.argv[0] = holder_id;
    args.argvlen[0] = strlen(holder_id);
    rc = pq_sweep_fcall(ctx, sweep, "protein_fallback_add", 0, NULL,
                        (int)(n + 1), args.argv, args.argvlen, &r);
    pq_point_args_free(&args);
    if (rc == PQ_OK && size && r->type == REDIS_REPLY_INTEGER)
        *size = (long)r->integer;
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_claimed(pq_context *ctx, const char *sweep, const char *claim_key,
               long *trial_id)
{
    const char *argv[1] = {claim_key};
    pq_reply *r = NULL;
    int rc;

    *trial_id = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!claim_key || !*claim_key)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': a lookup needs a claim key", sweep);
    rc = pq_sweep_fcall(ctx, sweep, "protein_claimed", 1, NULL, 1, argv, NULL,
                        &r);
    if (rc == PQ_OK && r->type == REDIS_REPLY_INTEGER)
        *trial_id = (long)r->integer;
    pq_reply_free(r);
    return rc;
}

/* Reads protein_release's reply r into *out: {id, "requeued" or
 * "interrupted"}, {0, "none"}, or the id alone (0: none) from the
 * functions of a build before this one, which do not say how (nor read
 * the argument that asks them to). Returns PQ_OK, or PQ_EPROTO for any
 * other reply. */
static int read_released(pq_context *ctx, const char *sweep,
                         const redisReply *r, pq_released *out)
{
    static const struct {
        const char *name;
        pq_release_outcome outcome;
    } hows[] = {{"none", PQ_RELEASE_NONE},
                {"requeued", PQ_RELEASE_REQUEUED},
                {"interrupted", PQ_RELEASE_INTERRUPTED}};
    long id;

    if (r->type == REDIS_REPLY_INTEGER) {
        out->trial_id = (long)r->integer;
        out->outcome = r->integer > 0 ? PQ_RELEASE_UNREPORTED : PQ_RELEASE_NONE;
        return PQ_OK;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        id = (long)r->element[0]->integer;
        for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++)
            if (strcmp(r->element[1]->str, hows[i].name) == 0 &&
                (id > 0) == (hows[i].outcome != PQ_RELEASE_NONE)) {
                out->trial_id = id;
                out->outcome = hows[i].outcome;
                return PQ_OK;
            }
    }
    return pq_set_error(ctx, PQ_EPROTO, "sweep '%s': malformed release reply",
                        sweep);
}

/* Contract in protein_queue.h. */
void pq_released_text(const pq_released *r, char *buf, size_t len)
{
    const char *how = "";

    switch (r->outcome) {
    case PQ_RELEASE_REQUEUED: how = "goes back to the retry list"; break;
    case PQ_RELEASE_INTERRUPTED:
        how = "ends as interrupted (the sweep is stopped; the job's next "
              "requeue resumes it)";
        break;
    case PQ_RELEASE_UNREPORTED:
        how = "goes back to the retry list or, in a stopped sweep, ends as "
              "interrupted (Redis keeps another build's protein functions, "
              "which do not say which)";
        break;
    case PQ_RELEASE_NONE:
        snprintf(buf, len,
                 "nothing to release: Redis never served the claim, or its "
                 "trial moved on since (resumed by a requeued task, ended or "
                 "expired)");
        return;
    case PQ_RELEASE_UNKNOWN:
        snprintf(buf, len,
                 "released by a try that got no answer, or nothing "
                 "to release");
        return;
    }
    snprintf(buf, len, "released: trial %ld %s", r->trial_id, how);
}

/* Contract in protein_queue.h. */
int pq_release(pq_context *ctx, const char *sweep, const char *claim_key,
               const char *token, const char *reason, pq_released *released)
{
    /* "1": the reply says what became of the trial (without it, the
     * functions answer an older build's plugin as it reads) */
    const char *argv[4] = {claim_key, reason ? reason : "", token ? token : "",
                           "1"};
    pq_released got = {0, PQ_RELEASE_NONE};
    pq_reply *r = NULL;
    int rc;

    if (released)
        *released = got;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!claim_key || !*claim_key)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': a release needs a claim key", sweep);
    rc = pq_sweep_fcall(ctx, sweep, "protein_release", 0, NULL, 4, argv, NULL,
                        &r);
    if (rc == PQ_OK)
        rc = read_released(ctx, sweep, r, &got);
    pq_reply_free(r);
    if (rc == PQ_OK && released)
        *released = got;
    return rc;
}

/* Contract in protein_queue.h. */
int pq_set_refit_info(pq_context *ctx, const char *sweep, long n_obs, double ms,
                      const char *backend)
{
    char nb[32], msb[32];
    const char *argv[3] = {nb, msb, backend ? backend : ""};
    int rc;

    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    snprintf(nb, sizeof nb, "%ld", n_obs);
    snprintf(msb, sizeof msb, "%.3f", ms);
    return pq_sweep_fcall(ctx, sweep, "protein_set_refit", 0, NULL, 3, argv,
                          NULL, NULL);
}

/* Expired leases protein_expire handles per call (its EXPIRE_CHUNK). */
#define EXPIRE_CHUNK 1000
/* Calls per pq_expire_leases, at most: a backlog beyond this many chunks
 * waits for the coordinator's next round. */
#define EXPIRE_CALLS_MAX 100

/* Contract in protein_queue.h. */
int pq_expire_leases(pq_context *ctx, const char *sweep, long *expired)
{
    return pq_expire_leases_after(ctx, sweep, 0, 0, NULL, 0, expired);
}

/* Contract in protein_queue.h. */
int pq_expire_leases_after(pq_context *ctx, const char *sweep, long grace_s,
                           double before, const long *spare, size_t n_spare,
                           long *expired)
{
    /* grace, before, then one decimal id per trial spared */
    char text[2 + PQ_DUE_MAX][48];
    const char *argv[2 + PQ_DUE_MAX];
    int rc;

    if (expired)
        *expired = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (grace_s < 0 || grace_s > PQ_EXPIRE_GRACE_MAX)
        return pq_set_error(
            ctx, PQ_EINVAL,
            "sweep '%s': an expiry's grace is 0 to %d s, not %ld", sweep,
            PQ_EXPIRE_GRACE_MAX, grace_s);
    if (n_spare > PQ_DUE_MAX)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': an expiry spares at most %d trials, "
                            "not %zu",
                            sweep, PQ_DUE_MAX, n_spare);
    snprintf(text[0], sizeof text[0], "%ld", grace_s);
    text[1][0] = '\0';
    /* %.17g: the very deadline pq_leases_due read (its cut), not one
     * rounded below it, which would keep that lease forever */
    if (before > 0)
        snprintf(text[1], sizeof text[1], "%.17g", before);
    for (size_t i = 0; i < n_spare; i++)
        snprintf(text[2 + i], sizeof text[2 + i], "%ld", spare[i]);
    for (size_t i = 0; i < 2 + n_spare; i++)
        argv[i] = text[i];
    for (int call = 0; call < EXPIRE_CALLS_MAX; call++) {
        pq_reply *r = NULL;
        long got;

        rc = pq_sweep_fcall(ctx, sweep, "protein_expire", 0, NULL,
                            (int)(2 + n_spare), argv, NULL, &r);
        if (rc != PQ_OK)
            return rc;
        got = r->type == REDIS_REPLY_INTEGER ? (long)r->integer : 0;
        pq_reply_free(r);
        if (expired)
            *expired += got;
        if (got < EXPIRE_CHUNK)
            break;
    }
    return PQ_OK;
}

/* One trial of protein_due's reply into *d; 0 when it is malformed. */
static int due_entry(const pq_reply *e, pq_due_lease *d)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 4)
        return 0;
    for (size_t i = 0; i < 4; i++)
        if (e->element[i]->type != REDIS_REPLY_STRING)
            return 0;
    d->id = pq_parse_long(e->element[0]->str, 0);
    if (d->id < 1 || e->element[1]->len > PQ_DUE_KEY_MAX)
        return 0;
    memcpy(d->claim_key, e->element[1]->str, e->element[1]->len);
    d->claim_key[e->element[1]->len] = '\0';
    d->uid = e->element[2]->len ? pq_parse_long(e->element[2]->str, -1) : -1;
    d->deadline = pq_parse_double(e->element[3]->str, 0);
    return 1;
}

/* PQ_EINVAL unless max is a count of leases due one read may take. */
static int check_due_max(pq_context *ctx, const char *sweep, int max)
{
    if (max < 1 || max > PQ_DUE_MAX)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': trials due are read 1 to %d at a time",
                            sweep, PQ_DUE_MAX);
    return PQ_OK;
}

/* protein_due's reply r (of a read of max leases) into *due (allocated,
 * the caller frees it; NULL when none), *n, *owner_uid and *cut, which
 * the caller set to NULL, 0, -1 and 0; PQ_EPROTO when it is malformed,
 * PQ_ENOMEM, those left so. */
static int read_due(pq_context *ctx, const char *sweep, const pq_reply *r,
                    int max, pq_due_lease **due, size_t *n, long *owner_uid,
                    double *cut)
{
    pq_due_lease *out = NULL;
    size_t got = 0;
    double read_cut = -1;

    /* {owner_uid, cut, trial...} */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
        read_cut = pq_parse_double(r->element[1]->str, -1);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->elements > (size_t)max + 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || !(read_cut >= 0))
        return pq_set_error(ctx, PQ_EPROTO,
                            "sweep '%s': malformed reply of protein_due",
                            sweep);
    if (r->elements > 2 && !(out = calloc(r->elements - 2, sizeof *out)))
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    for (size_t i = 2; i < r->elements; i++)
        if (!due_entry(r->element[i], &out[got++])) {
            free(out);
            return pq_set_error(ctx, PQ_EPROTO,
                                "sweep '%s': malformed trial %zu in the reply "
                                "of protein_due",
                                sweep, i - 1);
        }
    *owner_uid = (long)r->element[0]->integer;
    *cut = read_cut;
    *due = out;
    *n = got;
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_leases_due(pq_context *ctx, const char *sweep, int max,
                  pq_due_lease **due, size_t *n, long *owner_uid, double *cut)
{
    char mb[16];
    const char *argv[1] = {mb};
    pq_reply *r = NULL;
    int rc;

    *due = NULL;
    *n = 0;
    *owner_uid = -1;
    *cut = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK ||
        (rc = check_due_max(ctx, sweep, max)) != PQ_OK)
        return rc;
    snprintf(mb, sizeof mb, "%d", max);
    rc = pq_sweep_fcall(ctx, sweep, "protein_due", 1, NULL, 1, argv, NULL, &r);
    if (rc == PQ_OK)
        rc = read_due(ctx, sweep, r, max, due, n, owner_uid, cut);
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_demand_due(pq_context *ctx, const char *sweep, int max,
                  pq_demand_info *demand, pq_due_lease **due, size_t *n,
                  long *owner_uid, double *cut)
{
    char mb[16];
    const char *argv[1] = {mb};
    pq_reply *r = NULL;
    int rc;

    memset(demand, 0, sizeof *demand);
    *due = NULL;
    *n = 0;
    *owner_uid = -1;
    *cut = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK ||
        (rc = check_due_max(ctx, sweep, max)) != PQ_OK)
        return rc;
    snprintf(mb, sizeof mb, "%d", max);
    rc = pq_sweep_fcall(ctx, sweep, "protein_demand", 1, NULL, 1, argv, NULL,
                        &r);
    if (rc == PQ_OK)
        rc = read_demand(ctx, sweep, r, demand);
    if (rc != PQ_OK)
        goto fail;
    /* another build's functions ignore the count and answer the demand
     * alone (their figures are never arrays): the leases due are a call of
     * their own */
    if (r->elements > DEMAND_DUE_AT &&
        r->element[DEMAND_DUE_AT]->type == REDIS_REPLY_ARRAY)
        rc = read_due(ctx, sweep, r->element[DEMAND_DUE_AT], max, due, n,
                      owner_uid, cut);
    else
        rc = pq_leases_due(ctx, sweep, max, due, n, owner_uid, cut);
    if (rc != PQ_OK)
        goto fail;
    pq_reply_free(r);
    return PQ_OK;
fail:
    pq_reply_free(r);
    memset(demand, 0, sizeof *demand);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_lease_extend(pq_context *ctx, const char *sweep, const char *holder_id,
                    long id, const char *claim_key, double *deadline)
{
    char ib[32];
    const char *argv[3] = {holder_id, ib, claim_key};
    pq_reply *r = NULL;
    int rc;

    if (deadline)
        *deadline = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!holder_id || !*holder_id || !claim_key || !*claim_key || id < 1)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': a lease extension needs the holder, "
                            "a trial id and its claim key",
                            sweep);
    snprintf(ib, sizeof ib, "%ld", id);
    rc = pq_sweep_fcall(ctx, sweep, "protein_extend", 0, NULL, 3, argv, NULL,
                        &r);
    if (rc == PQ_OK && deadline && r->type == REDIS_REPLY_STRING)
        *deadline = pq_parse_double(r->str, 0);
    pq_reply_free(r);
    return rc;
}

/* ------------------------------------------------------------ observations */

/* Contract in protein_queue.h. */
void pq_observations_free(pq_observation *obs, size_t n)
{
    if (!obs)
        return;
    for (size_t i = 0; i < n; i++)
        pq_params_free(&obs[i].params);
    free(obs);
}

/* 1 when the msgpack map key k is the string name, 0 for any other key or a
 * key that is not a string. */
static int key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* A msgpack number as a double; 0 with *ok = 0 when not a finite number. */
static double obj_number(const msgpack_object *v, int *ok)
{
    double d;
    *ok = 1;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return (double)v->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (double)v->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        d = v->via.f64;
        if (isfinite(d))
            return d;
        break;
    default: break;
    }
    *ok = 0;
    return 0;
}

/* A msgpack str object as a trial state, or -1 (not a str, not a state
 * name, or a name with a NUL in it). */
static int obj_state(const msgpack_object *v)
{
    char name[16];
    if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= sizeof name)
        return -1;
    memcpy(name, v->via.str.ptr, v->via.str.size);
    name[v->via.str.size] = '\0';
    if (strlen(name) != v->via.str.size)
        return -1;
    return pq_trial_state_parse(name);
}

/* Contract in pq_internal.h. */
int pq_observation_decode(const char *buf, size_t len, pq_observation *o)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = PQ_EINVAL, have_trial = 0, have_outcome = 0, ok = 1, fine = 1;
    double id = 0;
    memset(o, 0, sizeof *o);
    if (!pq_msgpack_bounded(buf, len))
        return PQ_EINVAL;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP)
        goto fail;
    for (uint32_t i = 0; i < u.data.via.map.size && fine; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        const msgpack_object *v = &u.data.via.map.ptr[i].val;
        if (key_is(k, "trial")) {
            id = obj_number(v, &have_trial);
        } else if (key_is(k, "outcome")) {
            int s = obj_state(v);
            have_outcome = s >= 0;
            o->outcome = (pq_trial_state)s;
        } else if (key_is(k, "score")) {
            o->score = obj_number(v, &o->has_score);
            fine = o->has_score;
        } else if (key_is(k, "cost")) {
            o->cost = obj_number(v, &o->has_cost);
            fine = o->has_cost;
        } else if (key_is(k, "fallback")) {
            o->fallback = obj_number(v, &ok) == 1;
        } else if (key_is(k, "params")) {
            pq_params_free(&o->params);
            if ((rc = pq_params_from_object(v, &o->params)) != PQ_OK)
                goto fail;
            rc = PQ_EINVAL;
        }
    }
    /* Trial ids are whole numbers from 1 up; anything else (and a score or
     * cost that is not a finite number) is not an entry protein wrote. */
    if (fine && have_trial && have_outcome && id >= 1 && id <= 9e15 &&
        id == floor(id)) {
        o->trial_id = (long)id;
        rc = PQ_OK;
    }
fail:
    msgpack_unpacked_destroy(&u);
    if (rc != PQ_OK) {
        pq_params_free(&o->params);
        memset(o, 0, sizeof *o);
    }
    return rc;
}

/* Appends the entries of an XREAD reply [[key, [[id, [f, v, ...]], ...]]]
 * to *obs and sets next_id to the last id. */
static int append_entries(pq_context *ctx, const char *sweep,
                          const redisReply *r, pq_observation **obs, size_t *n,
                          char *next_id)
{
    const redisReply *entries;
    pq_observation *grown;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
        r->element[0]->type != REDIS_REPLY_ARRAY ||
        r->element[0]->elements != 2)
        return PQ_OK;
    entries = r->element[0]->element[1];
    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return PQ_OK;
    grown = realloc(*obs, (*n + entries->elements) * sizeof *grown);
    if (!grown)
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    *obs = grown;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i], *body;
        pq_observation *o = &grown[*n];
        const char *id;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            return pq_set_error(ctx, PQ_EPROTO,
                                "sweep '%s': malformed observation entry",
                                sweep);
        id = e->element[0]->str;
        body = e->element[1];
        memset(o, 0, sizeof *o);
        if (body->type != REDIS_REPLY_ARRAY || body->elements != 2 ||
            body->element[1]->type != REDIS_REPLY_STRING ||
            pq_observation_decode(body->element[1]->str, body->element[1]->len,
                                  o) != PQ_OK) {
            /* One stray entry must not stop every later read. */
            o->undecodable = 1;
        }
        snprintf(o->entry_id, sizeof o->entry_id, "%s", id);
        snprintf(next_id, PQ_STREAM_ID_MAX, "%s", id);
        (*n)++;
    }
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_observations_read(pq_context *ctx, const char *sweep,
                         const char *last_id, int block_ms, size_t max_count,
                         pq_observation **obs, size_t *n,
                         char next_id[PQ_STREAM_ID_MAX])
{
    char key[128], count[32], block[32], start[PQ_STREAM_ID_MAX];
    pq_reply *r = NULL;
    int rc, argc = 0;
    const char *argv[8];

    *obs = NULL;
    *n = 0;
    snprintf(start, sizeof start, "%s", last_id && *last_id ? last_id : "0-0");
    memcpy(next_id, start, sizeof start);
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    pq_key(key, sizeof key, sweep, "observations");
    snprintf(count, sizeof count, "%zu",
             max_count > 0 ? max_count : OBS_DEFAULT_COUNT);
    snprintf(block, sizeof block, "%d", block_ms);
    argv[argc++] = "XREAD";
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = key;
    argv[argc++] = start;
    if ((rc = pq_command(ctx, argc, argv, NULL, block_ms > 0 ? block_ms : 0,
                         &r)) != PQ_OK)
        return rc;
    rc = append_entries(ctx, sweep, r, obs, n, next_id);
    pq_reply_free(r);
    if (rc != PQ_OK) {
        pq_observations_free(*obs, *n);
        *obs = NULL;
        *n = 0;
    }
    return rc;
}

/* Contract in protein_queue.h. */
int pq_observations_all(pq_context *ctx, const char *sweep,
                        pq_observation **obs, size_t *n,
                        char next_id[PQ_STREAM_ID_MAX])
{
    pq_observation *all = NULL;
    size_t total = 0;
    char from[PQ_STREAM_ID_MAX] = "0-0";
    int rc;

    *obs = NULL;
    *n = 0;
    for (;;) {
        pq_observation *part = NULL, *grown;
        size_t got = 0;

        rc = pq_observations_read(ctx, sweep, from, 0, OBS_DEFAULT_COUNT, &part,
                                  &got, from);
        if (rc != PQ_OK)
            goto fail;
        if (got == 0)
            break;
        grown = realloc(all, (total + got) * sizeof *grown);
        if (!grown) {
            pq_observations_free(part, got);
            rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
            goto fail;
        }
        all = grown;
        memcpy(all + total, part, got * sizeof *part);
        total += got;
        free(part);
    }
    snprintf(next_id, PQ_STREAM_ID_MAX, "%s", from);
    *obs = all;
    *n = total;
    return PQ_OK;
fail:
    pq_observations_free(all, total);
    return rc;
}
