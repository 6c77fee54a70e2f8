/*
 * trial.c - claiming trials and recording their outcomes and progress;
 * reading trial records.
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "pq_internal.h"
#include "protein_number.h"
#include "protein_clock.h"

/* Trials read per protein_trials call. */
#define TRIALS_CHUNK 1000
/* Longest claim key, job id or node name accepted. */
#define CLAIM_FIELD_MAX 256
/* Longest sleep between two claim attempts while waiting for a point. */
#define CLAIM_POLL_MAX_MS 50

/* Contract in protein_queue.h. */
void pq_trial_free(pq_trial *t)
{
    if (!t)
        return;
    free(t->sweep);
    free(t->token);
    free(t->metric);
    free(t->cost_metric);
    pq_params_free(&t->params);
    free(t);
}

/* Element i of array reply r as a string, or NULL when r is not an array,
 * has no element i, or that element is not a string. The string belongs to
 * r. */
static const char *elem_str(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* Element i of array reply r as an integer, or -1 when r is not an array,
 * has no element i, or that element is not an integer (ids and counts are
 * never negative). */
static long long elem_int(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_INTEGER)
        return -1;
    return r->element[i]->integer;
}

/* Contract in pq_internal.h. */
int pq_trial_from_claim_reply(pq_context *ctx, const char *sweep,
                              const pq_reply *r, pq_trial **out,
                              long *claimed_id)
{
    const long id = (long)elem_int(r, 0);
    const char *token = elem_str(r, 1), *status = elem_str(r, 2);
    const char *json = elem_str(r, 6);
    pq_trial *t;
    int rc;

    *claimed_id = id >= 1 && token ? id : 0;
    if (id < 1 || !token)
        return pq_set_error(ctx, PQ_EPROTO,
                            "sweep '%s': malformed claim reply from %s", sweep,
                            ctx->url);
    if (!status || pq_trial_state_parse(status) != PQ_TRIAL_RUNNING || !json)
        return pq_set_error(
            ctx, PQ_EPROTO,
            "trial %ld of sweep '%s': malformed claim reply from %s", id, sweep,
            ctx->url);
    t = calloc(1, sizeof *t);
    if (!t)
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    t->id = id;
    t->state = PQ_TRIAL_RUNNING;
    t->fallback = elem_int(r, 3) == 1;
    t->resumed = elem_int(r, 4) == 1;
    t->attempts = (int)elem_int(r, 5);
    t->sweep = pq_strdup(sweep);
    t->token = pq_strdup(token);
    t->metric = pq_strdup(elem_str(r, 7) ? elem_str(r, 7) : "score");
    t->cost_metric = pq_strdup(elem_str(r, 8) ? elem_str(r, 8) : "cost");
    rc = pq_params_from_json(json, &t->params);
    if (rc == PQ_OK &&
        (!t->sweep || !t->token || !t->metric || !t->cost_metric))
        rc = PQ_ENOMEM;
    if (rc != PQ_OK)
        pq_trial_free(t);
    if (rc == PQ_ENOMEM)
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    if (rc != PQ_OK)
        return pq_set_error(
            ctx, PQ_EPROTO,
            "trial %ld of sweep '%s': its parameters stored in Redis are not a "
            "flat JSON object of numbers and strings",
            id, sweep);
    *out = t;
    return PQ_OK;
}

/* A trial was claimed but its reply cannot be used: records it as failed
 * with the reason already in ctx->errstr (which is kept, with what became
 * of the trial appended), so that it neither stays running nor blocks its
 * claim key. */
static void fail_undecodable(pq_context *ctx, const char *sweep, long id,
                             const char *token)
{
    char reason[sizeof ctx->errstr];
    int err = ctx->err, rc;

    snprintf(reason, sizeof reason, "%s", ctx->errstr);
    rc = pq_fail(ctx, sweep, id, token, 0, reason);
    if (rc == PQ_OK)
        pq_set_error(ctx, err, "%s (recorded the trial as failed)", reason);
    else
        pq_set_error(ctx, err,
                     "%s (the trial stays running until its lease expires: %s)",
                     reason, ctx->errstr);
}

/* Calls protein_claim for req (checked by pq_claim) with token, again
 * while the queue is empty and req->wait_ms has not passed; the last call
 * says that it is the last, so that the server may then hand out a
 * fallback point. Returns the last call's code, and its reply in *r.
 * The wait is measured on the monotonic clock: a step of the wall clock
 * (NTP, a VM resumed) would otherwise cut it short or stretch it. */
static int claim_call(pq_context *ctx, const char *sweep,
                      const pq_claim_request *req, const char *token,
                      pq_reply **r)
{
    char uid[32], aidx[32], lease[32];
    const char *argv[9] = {req->claim_key,
                           uid,
                           req->job_id ? req->job_id : "",
                           aidx,
                           req->node ? req->node : "",
                           lease,
                           "0",
                           token,
                           req->user ? req->user : ""};
    double deadline = protein_clock_seconds(CLOCK_MONOTONIC) +
                      (req->wait_ms > 0 ? req->wait_ms : 0) / 1000.0;
    int rc, poll_ms = 5;

    snprintf(uid, sizeof uid, "%ld", req->uid);
    snprintf(aidx, sizeof aidx, "%ld", req->array_index);
    snprintf(lease, sizeof lease, "%d",
             req->lease_seconds > 0 ? req->lease_seconds : 0);
    for (;;) {
        int late = protein_clock_seconds(CLOCK_MONOTONIC) >= deadline;
        double left_ms;

        argv[6] = late ? "1" : "0";
        rc = pq_sweep_fcall(ctx, sweep, "protein_claim", 0, NULL, 9, argv, NULL,
                            r);
        if (rc != PQ_EEMPTY || late)
            return rc;
        left_ms = (deadline - protein_clock_seconds(CLOCK_MONOTONIC)) * 1000.0;
        protein_sleep_ms(left_ms < poll_ms ? (int)left_ms + 1 : poll_ms);
        poll_ms =
            poll_ms * 2 < CLAIM_POLL_MAX_MS ? poll_ms * 2 : CLAIM_POLL_MAX_MS;
    }
}

/* Contract in protein_queue.h. */
int pq_claim(pq_context *ctx, const char *sweep, const pq_claim_request *req,
             pq_trial **out)
{
    char token[PQ_TOKEN_LEN + 1];
    pq_reply *r = NULL;
    int rc;

    *out = NULL;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (!req || !req->claim_key || !*req->claim_key)
        return pq_set_error(ctx, PQ_EINVAL,
                            "sweep '%s': a claim needs a claim key", sweep);
    if (strlen(req->claim_key) > CLAIM_FIELD_MAX ||
        (req->job_id && strlen(req->job_id) > CLAIM_FIELD_MAX) ||
        (req->node && strlen(req->node) > CLAIM_FIELD_MAX))
        return pq_set_error(
            ctx, PQ_EINVAL,
            "sweep '%s': claim key, job id and node must be at most %d bytes",
            sweep, CLAIM_FIELD_MAX);
    if (pq_random_token(token) != PQ_OK)
        return pq_set_error(ctx, PQ_EIO,
                            "sweep '%s': getrandom failed for a trial token",
                            sweep);
    if (req->token_out)
        memcpy(req->token_out, token, sizeof token);
    rc = claim_call(ctx, sweep, req, token, &r);
    if (rc == PQ_OK) {
        long claimed = 0;

        rc = pq_trial_from_claim_reply(ctx, sweep, r, out, &claimed);
        if (rc != PQ_OK && claimed > 0)
            fail_undecodable(ctx, sweep, claimed, elem_str(r, 1));
    }
    pq_reply_free(r);
    return rc;
}

/* PQ_OK when sweep is a valid sweep name and trial_id a possible trial
 * number; else the error (PQ_EINVAL or PQ_ENOTRIAL), set in ctx. Reads
 * nothing from Redis. */
static int check_trial_ref(pq_context *ctx, const char *sweep, long trial_id)
{
    int rc;

    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    if (trial_id < 1)
        return pq_set_error(ctx, PQ_ENOTRIAL, "sweep '%s': no trial %ld", sweep,
                            trial_id);
    return PQ_OK;
}

/* Shared front of the outcome calls: checks sweep, trial id and token and
 * writes the id text. */
static int outcome_prep(pq_context *ctx, const char *sweep, long trial_id,
                        const char *token, char id[32])
{
    int rc;

    if ((rc = check_trial_ref(ctx, sweep, trial_id)) != PQ_OK)
        return rc;
    if (!token)
        return pq_set_error(ctx, PQ_ETOKEN,
                            "trial %ld of sweep '%s': no token given", trial_id,
                            sweep);
    snprintf(id, 32, "%ld", trial_id);
    return PQ_OK;
}

/* Copies text into buf (PQ_ERROR_MAX + 1 bytes), cut at PQ_ERROR_MAX bytes
 * without splitting a UTF-8 sequence. */
static const char *truncate_text(const char *text, char *buf)
{
    size_t n = text ? strlen(text) : 0;

    if (n <= PQ_ERROR_MAX)
        return text ? text : "";
    n = PQ_ERROR_MAX;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return buf;
}

/* Contract in protein_queue.h. */
int pq_complete(pq_context *ctx, const char *sweep, long trial_id,
                const char *token, double score, double cost)
{
    char id[32], s[32], c[32] = "";
    const char *argv[4] = {id, token, s, c};
    int rc;

    if ((rc = outcome_prep(ctx, sweep, trial_id, token, id)) != PQ_OK)
        return rc;
    if (!isfinite(score) || !isfinite(cost))
        return pq_set_error(
            ctx, PQ_EINVAL,
            "trial %ld of sweep '%s': score and cost must be finite numbers",
            trial_id, sweep);
    protein_number_text(score, s, sizeof s);
    if (cost >= 0)
        protein_number_text(cost, c, sizeof c);
    return pq_sweep_fcall(ctx, sweep, "protein_complete", 0, NULL, 4, argv,
                          NULL, NULL);
}

/* Contract in protein_queue.h. */
int pq_fail(pq_context *ctx, const char *sweep, long trial_id,
            const char *token, int exit_status, const char *error)
{
    char id[32], st[16], buf[PQ_ERROR_MAX + 1];
    const char *argv[4] = {id, token, st, NULL};
    int rc;

    if ((rc = outcome_prep(ctx, sweep, trial_id, token, id)) != PQ_OK)
        return rc;
    snprintf(st, sizeof st, "%d", exit_status);
    argv[3] = truncate_text(error, buf);
    return pq_sweep_fcall(ctx, sweep, "protein_fail_trial", 0, NULL, 4, argv,
                          NULL, NULL);
}

/* Contract in pq_internal.h. */
int pq_interrupt_call(pq_context *ctx, const char *sweep, long trial_id,
                      const char *token, const char *reason, int spooled)
{
    char id[32], buf[PQ_ERROR_MAX + 1];
    const char *argv[4] = {id, token, NULL, spooled ? "1" : "0"};
    int rc;

    if ((rc = outcome_prep(ctx, sweep, trial_id, token, id)) != PQ_OK)
        return rc;
    argv[2] = truncate_text(reason, buf);
    return pq_sweep_fcall(ctx, sweep, "protein_interrupt", 0, NULL, 4, argv,
                          NULL, NULL);
}

/* Contract in protein_queue.h. */
int pq_interrupt(pq_context *ctx, const char *sweep, long trial_id,
                 const char *token, const char *reason)
{
    return pq_interrupt_call(ctx, sweep, trial_id, token, reason, 0);
}

/* protein_progress with ARGV restart "1" or "0": see pq_progress and
 * pq_progress_restart. */
static int progress_call(pq_context *ctx, const char *sweep, long trial_id,
                         const char *token, double step, double score,
                         double cost, int restart, int *should_stop)
{
    char id[32], st[32], s[32], c[32] = "";
    const char *argv[6] = {id, token, st, s, c, restart ? "1" : "0"};
    pq_reply *r = NULL;
    int rc;

    if (should_stop)
        *should_stop = 0;
    if ((rc = outcome_prep(ctx, sweep, trial_id, token, id)) != PQ_OK)
        return rc;
    if (!isfinite(step) || !isfinite(score) || !isfinite(cost))
        return pq_set_error(ctx, PQ_EINVAL,
                            "trial %ld of sweep '%s': progress step, score and "
                            "cost must be finite numbers",
                            trial_id, sweep);
    protein_number_text(step, st, sizeof st);
    protein_number_text(score, s, sizeof s);
    if (cost >= 0)
        protein_number_text(cost, c, sizeof c);
    rc = pq_sweep_fcall(ctx, sweep, "protein_progress", 0, NULL, 6, argv, NULL,
                        &r);
    if (rc == PQ_OK && should_stop)
        *should_stop =
            r->type == REDIS_REPLY_INTEGER &&
                    (r->integer == PQ_STOP_EARLY || r->integer == PQ_STOP_ENDED)
                ? (int)r->integer
                : 0;
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_progress(pq_context *ctx, const char *sweep, long trial_id,
                const char *token, double step, double score, double cost,
                int *should_stop)
{
    return progress_call(ctx, sweep, trial_id, token, step, score, cost, 0,
                         should_stop);
}

/* Contract in protein_queue.h. */
int pq_progress_restart(pq_context *ctx, const char *sweep, long trial_id,
                        const char *token, double step, double score,
                        double cost, int *should_stop)
{
    return progress_call(ctx, sweep, trial_id, token, step, score, cost, 1,
                         should_stop);
}

/* Contract in protein_queue.h. */
int pq_renew(pq_context *ctx, const char *sweep, long trial_id,
             const char *token, int *should_stop)
{
    char id[32];
    const char *argv[2] = {id, token};
    pq_reply *r = NULL;
    int rc;

    *should_stop = 0;
    if ((rc = outcome_prep(ctx, sweep, trial_id, token, id)) != PQ_OK)
        return rc;
    rc =
        pq_sweep_fcall(ctx, sweep, "protein_renew", 0, NULL, 2, argv, NULL, &r);
    if (rc == PQ_OK)
        *should_stop = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_trial_curve(pq_context *ctx, const char *sweep, long trial_id,
                   char **text, long *reports)
{
    char id[32], *end;
    const char *argv[1] = {id};
    pq_reply *r = NULL;
    int rc;

    *text = NULL;
    *reports = 0;
    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    snprintf(id, sizeof id, "%ld", trial_id);
    rc =
        pq_sweep_fcall(ctx, sweep, "protein_curve", 1, NULL, 1, argv, NULL, &r);
    if (rc != PQ_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING) {
        pq_reply_free(r);
        return pq_set_error(ctx, PQ_EPROTO,
                            "sweep '%s' trial %ld: the "
                            "curve reply has the wrong shape",
                            sweep, trial_id);
    }
    *reports = strtol(r->element[0]->str, &end, 10);
    if (end == r->element[0]->str || *end != '\0' || *reports < 0)
        *reports = 0;
    *text = malloc(r->element[2]->len + 1);
    if (*text) {
        memcpy(*text, r->element[2]->str, r->element[2]->len);
        (*text)[r->element[2]->len] = '\0';
    }
    pq_reply_free(r);
    return *text ? PQ_OK : pq_set_error(ctx, PQ_ENOMEM, "out of memory");
}

/* Contract in protein_queue.h. */
int pq_trial_request_stop(pq_context *ctx, const char *sweep, long trial_id)
{
    char id[32];
    const char *argv[1] = {id};
    int rc;

    if ((rc = pq_check_sweep(ctx, sweep)) != PQ_OK)
        return rc;
    snprintf(id, sizeof id, "%ld", trial_id);
    return pq_sweep_fcall(ctx, sweep, "protein_request_stop", 0, NULL, 1, argv,
                          NULL, NULL);
}

/* ------------------------------------------------------------ records */

/* Frees what one record holds, not the record. */
static void record_clear(pq_trial_record *r)
{
    pq_params_free(&r->params);
    free(r->job_id);
    free(r->node);
    free(r->claim_key);
    free(r->error);
    free(r->stopped_by);
    free(r->late_key);
}

/* Contract in protein_queue.h. */
void pq_trial_record_free(pq_trial_record *r)
{
    if (!r)
        return;
    record_clear(r);
    free(r);
}

/* Contract in protein_queue.h. */
void pq_trial_records_free(pq_trial_record *arr, size_t n)
{
    if (!arr)
        return;
    for (size_t i = 0; i < n; i++)
        record_clear(&arr[i]);
    free(arr);
}

/* A numeric field of a trial hash: absent or empty leaves *has at 0;
 * otherwise *has = 1 and *val its value. Returns 0, or -1 when the text
 * is not a finite number. */
static int finite_field(const pq_reply *h, const char *field, int *has,
                        double *val)
{
    const char *v = pq_flat_get(h, field);
    *has = 0;
    if (!v || !*v)
        return 0;
    *val = pq_parse_double(v, NAN);
    if (!isfinite(*val))
        return -1;
    *has = 1;
    return 0;
}

/* Contract in pq_internal.h. */
int pq_trial_record_from_flat(pq_context *ctx, const char *sweep,
                              const pq_reply *h, pq_trial_record *rec)
{
    int oom = 0, has_progress_score = 0, rc;
    const char *bad = NULL, *key_type = pq_flat_get(h, "key_type");
    char key[PQ_SWEEP_NAME_MAX + 64], suffix[40];

    memset(rec, 0, sizeof *rec);
    if (key_type) {
        long id = pq_flat_long(h, "id", 0);
        snprintf(suffix, sizeof suffix, "trial:%ld", id);
        pq_key(key, sizeof key, sweep, suffix);
        return pq_set_error(ctx, PQ_EPROTO,
                            "sweep '%s': trial %ld: key %s holds a %.16s, not "
                            "a hash (a damaged or hand-edited store)",
                            sweep, id, key, key_type);
    }
    rec->id = pq_flat_long(h, "id", 0);
    rec->state = (pq_trial_state)pq_trial_state_parse(pq_flat_get(h, "status"));
    if (finite_field(h, "score", &rec->has_score, &rec->score) != 0)
        bad = "score";
    if (finite_field(h, "cost", &rec->has_cost, &rec->cost) != 0)
        bad = "cost";
    if (finite_field(h, "progress_step", &rec->has_progress,
                     &rec->progress_step) != 0 ||
        finite_field(h, "progress_score", &has_progress_score,
                     &rec->progress_score) != 0 ||
        finite_field(h, "progress_cost", &rec->has_progress_cost,
                     &rec->progress_cost) != 0)
        bad = "progress";
    if (rec->has_progress && !has_progress_score)
        rec->progress_score = NAN;
    rec->job_id = pq_flat_strdup(h, "job_id", &oom);
    rec->node = pq_flat_strdup(h, "node", &oom);
    rec->claim_key = pq_flat_strdup(h, "claim_key", &oom);
    rec->error = pq_flat_strdup(h, "error", &oom);
    rec->stopped_by = pq_flat_strdup(h, "stopped_by", &oom);
    rec->late_key = pq_flat_strdup(h, "late_key", &oom);
    rec->late_expired_at = pq_flat_double(h, "late_expired_at", 0);
    rec->array_index = pq_flat_long(h, "array_index", -1);
    rec->claimed_at = pq_flat_double(h, "claimed_at", 0);
    rec->started_at = pq_flat_double(h, "started_at", 0);
    rec->ended_at = pq_flat_double(h, "ended_at", 0);
    rec->deadline = pq_flat_double(h, "deadline", 0);
    rec->attempts = (int)pq_flat_long(h, "attempts", 0);
    rec->retries = (int)pq_flat_long(h, "retries", 0);
    rec->exit_status = (int)pq_flat_long(h, "exit_status", 0);
    rec->fallback = pq_flat_long(h, "fallback", 0) == 1;
    rec->stop_requested = pq_flat_long(h, "stop_requested", 0) == 1;
    rec->progress_n = pq_flat_long(h, "progress_n", 0);
    if (rec->progress_n < 0)
        rec->progress_n = 0;
    rc = pq_params_from_json(pq_flat_get(h, "params"), &rec->params);
    if (oom || rc == PQ_ENOMEM) {
        record_clear(rec);
        return pq_set_error(ctx, PQ_ENOMEM, "out of memory");
    }
    if (rec->id < 1)
        bad = "id";
    else if ((int)rec->state < 0)
        bad = "status";
    else if (rc != PQ_OK)
        bad = "params";
    if (bad) {
        long id = rec->id;
        record_clear(rec);
        memset(rec, 0, sizeof *rec);
        return pq_set_error(
            ctx, PQ_EPROTO,
            "sweep '%s': trial %ld: the stored %s field is malformed", sweep,
            id, bad);
    }
    return PQ_OK;
}

/* Reads trials first..last (inclusive; with running set, the first..last
 * of the trials holding a lease, by deadline) and appends those matching
 * the filter to *arr (capacity *cap, count *n). A malformed trial hash is
 * counted in *skipped and left out; with skipped NULL it fails the read
 * (PQ_EPROTO naming it). *found (may be NULL) counts the trials that
 * exist in the range. */
static int read_trials(pq_context *ctx, const char *sweep, long first,
                       long last, int running, int state_filter,
                       pq_trial_record **arr, size_t *n, size_t *cap,
                       size_t *skipped, size_t *found)
{
    char a[32], b[32];
    const char *argv[3] = {a, b, "running"};
    pq_reply *r = NULL;
    int rc;

    if (found)
        *found = 0;
    snprintf(a, sizeof a, "%ld", first);
    snprintf(b, sizeof b, "%ld", last);
    rc = pq_sweep_fcall(ctx, sweep, "protein_trials", 1, NULL, running ? 3 : 2,
                        argv, NULL, &r);
    if (rc != PQ_OK)
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *h = r->element[i];

        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0)
            continue;
        if (found)
            (*found)++;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            pq_trial_record *grown = realloc(*arr, ncap * sizeof *grown);

            if (!grown) {
                rc = pq_set_error(ctx, PQ_ENOMEM, "out of memory");
                break;
            }
            *arr = grown;
            *cap = ncap;
        }
        rc = pq_trial_record_from_flat(ctx, sweep, h, &(*arr)[*n]);
        if (rc == PQ_EPROTO && skipped) {
            (*skipped)++;
            rc = PQ_OK;
            continue;
        }
        if (rc != PQ_OK)
            break;
        if (state_filter >= 0 && (int)(*arr)[*n].state != state_filter)
            record_clear(&(*arr)[*n]);
        else
            (*n)++;
    }
    pq_reply_free(r);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_trial_list(pq_context *ctx, const char *sweep, int state_filter,
                  pq_trial_record **arr, size_t *n, size_t *skipped)
{
    pq_sweep_info *info = NULL;
    size_t cap = 0, bad = 0;
    char why[sizeof ctx->errstr] = "";
    long total;
    int rc, running;

    *arr = NULL;
    *n = 0;
    if (skipped)
        *skipped = 0;
    if ((rc = pq_sweep_get(ctx, sweep, &info)) != PQ_OK)
        return rc;
    /* The running trials are read from the leases, a page at a time by
     * deadline, until a page is short (proteind's early stop asks every
     * few seconds: paging through every trial of a sweep of thousands
     * cost Redis about 30 us a trial). Another build's functions, which
     * this Redis user may not replace, may not know how: they page
     * through every trial. */
    running = state_filter == PQ_TRIAL_RUNNING && !ctx->functions_stale;
    total = running ? LONG_MAX : info->n_trials;
    pq_sweep_info_free(info);
    for (long first = 1; first <= total; first += TRIALS_CHUNK) {
        long last =
            first + TRIALS_CHUNK - 1 < total ? first + TRIALS_CHUNK - 1 : total;
        size_t bad_before = bad, found = 0;
        rc = read_trials(ctx, sweep, first, last, running, state_filter, arr, n,
                         &cap, &bad, &found);
        if (bad > bad_before)
            snprintf(why, sizeof why, "%s", ctx->errstr);
        if (rc != PQ_OK) {
            pq_trial_records_free(*arr, *n);
            *arr = NULL;
            *n = 0;
            return rc;
        }
        /* Trial ids are dense from 1: a chunk without any ends them, even
         * when a damaged n_trials claims billions more; the leases end
         * with a short page. */
        if (found == 0 || (running && found < TRIALS_CHUNK))
            break;
    }
    if (skipped)
        *skipped = bad;
    snprintf(ctx->errstr, sizeof ctx->errstr, "%s", why);
    return PQ_OK;
}

/* Contract in protein_queue.h. */
int pq_trial_get(pq_context *ctx, const char *sweep, long trial_id,
                 pq_trial_record **out)
{
    pq_trial_record *arr = NULL;
    size_t n = 0, cap = 0;
    int rc;
    *out = NULL;
    if ((rc = check_trial_ref(ctx, sweep, trial_id)) != PQ_OK)
        return rc;
    if ((rc = read_trials(ctx, sweep, trial_id, trial_id, 0, -1, &arr, &n, &cap,
                          NULL, NULL)) != PQ_OK) {
        pq_trial_records_free(arr, n);
        return rc;
    }
    if (n == 0) {
        free(arr);
        return pq_set_error(ctx, PQ_ENOTRIAL, "sweep '%s' has no trial %ld",
                            sweep, trial_id);
    }
    *out = arr;
    return PQ_OK;
}
