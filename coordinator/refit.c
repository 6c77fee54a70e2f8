/*
 * refit.c - the refit loop of one sweep.
 *
 * A held sweep's state is rebuilt from Redis alone (proteind_sweep_open):
 * the stored config and every observation of the sweep's stream, from its
 * start. Then each turn (proteind_sweep_step):
 *
 *   1. read new observations (blocking, bounded) and feed them to the
 *      optimizer; a burst of them only marks the model stale;
 *   2. expire running trials whose lease ran out (pq_expire_leases applies
 *      the retry policy; the lost outcomes arrive through the stream);
 *      with Slurm support (--slurm, slurm.c), first renew the leases of
 *      those whose job slurmctld says still runs (keep_running), and
 *      expire only leases that read saw;
 *   3. read the sweep's demand (queue_target): the ready queue is kept as
 *      deep as the running trials plus the claims waiting for a point, so
 *      a burst of claims as wide as the array's throttle is served from
 *      the queue; the fallback pool is kept ahead of its use;
 *   4. once the burst has been quiet for the debounce time (or has lasted
 *      MAX_BURST_DEBOUNCES debounces), refit: replace the queued model
 *      suggestions at the queue's head, now stale, with fresh ones;
 *      warm-up (Sobol, default) points stay. When claims drain the queue,
 *      top it up. Suggestions are made in one batch (one GP fit) with
 *      running trials, the points kept in the queue and each earlier
 *      suggestion of the batch pending; the queue is written with
 *      pq_queue_replace, which checks our lease on the server;
 *   5. now and then, ask running trials that fall below the early-stop
 *      threshold to stop (pq_trial_request_stop; pq_progress answers it),
 *      unless the config has W&B's hyperband (early_terminate), which
 *      protein_progress applies to each report itself.
 *
 * With PufferLib's downsample, a completed trial's curve (the reports
 * protein_progress kept) is observed along with its result.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proteind.h"
#include "protein_clock.h"
#include "queue_model.h"

/* A burst that keeps going is cut after this many debounce periods. */
#define MAX_BURST_DEBOUNCES 10
/* How often running trials are checked against the early-stop threshold
 * (pq_trial_list reads every trial of the sweep). */
#define EARLY_STOP_PERIOD_MS 5000
/* Pause after a batch that could not be suggested. */
#define RETRY_MS 5000
/* The fallback pool is topped up when fewer than this many of its points
 * are left unused, by this many points (a budget caps both). */
#define FALLBACK_LOW 512
#define FALLBACK_CHUNK 1024
/* A restart skips at most this many warm-up points (one suggestion each,
 * about a second in all): no sweep hands out more trials, and a damaged
 * n_trials must not hold the coordinator in the skip for years. */
#define SKIP_MAX 1000000L
/* Bounds on one sweep's work per turn, whatever its keys say: the demand
 * (running trials, waiting claims, the budget) is the sweep owner's to
 * write, and a refit is O((observations + pending points)^3). The ready
 * queue holds at most QUEUE_MAX points, one batch suggests at most
 * BATCH_MAX (the next turns top the queue up, after the other sweeps had
 * theirs), and at most PENDING_MAX running or queued points are pending
 * in the model (more than a 1000-task array at full width). */
#define QUEUE_MAX 1024
#define BATCH_MAX 256
#define PENDING_MAX 1024

/* A point this process put in the ready queue. */
typedef struct queued_point {
    pq_params params;
    double *values; /* value space, cfg->n_params */
    int warmup;     /* a default or Sobol point: never stale */
} queued_point;

struct proteind_sweep {
    char *name;
    proteind_lease *lease; /* renewed during long refits */
    const proteind_options *opts;
    const protein_gp_backend *backend;
    protein_sweep_config *cfg;
    protein_optimizer *opt;
    long grid;      /* a grid sweep's points (meta grid); 0: not a grid */
    double *values; /* scratch: one value vector */
    char last_id[PQ_STREAM_ID_MAX];
    queued_point *queued; /* the last batch, head first */
    size_t n_queued;
    int stale;           /* observations arrived since the last batch */
    int64_t burst_start; /* first observation of the current burst */
    int64_t last_obs;    /* latest observation of the current burst */
    int64_t next_early_stop;
    /* progress reports made in the sweep (pq_demand_info.n_progress, -1:
     * not counted), and that count and the model's finished trials when
     * the running trials were last judged for early stopping (finished,
     * not observations: a success at an earlier point replaces it and
     * moves the model with their number unchanged) */
    long n_progress, judged_progress;
    size_t judged_finished;
    int64_t retry_at;  /* a failed batch is not retried before this */
    long target;       /* the ready queue's size by the last demand */
    long waiting;      /* claims waiting by the last demand */
    long seen_trials;  /* n_trials at the last demand read */
    int64_t seen_at;   /* when it was read (ms); 0: never */
    double claim_rate; /* claims per second, smoothed */
    int active;        /* the sweep accepts claims (not paused) */
    int said_stopped;  /* logged that it is stopped with trials running */
    int done;          /* nothing left to coordinate */
    double created_at; /* the sweep's, when this state was built */
};

/* The curve trial `id` reported (pq_trial_curve), parsed into *pts (NULL
 * and 0 when unreadable: the trial is then observed at its end only, and
 * why is logged). */
static void read_curve(pq_context *ctx, proteind_sweep *s, long id,
                       protein_curve_point **pts, size_t *n)
{
    char *text = NULL;
    long reports = 0;
    int rc;

    *pts = NULL;
    *n = 0;
    rc = pq_trial_curve(ctx, s->name, id, &text, &reports);
    if (rc != PQ_OK) {
        if (rc != PQ_ENOTRIAL)
            proteind_warn("sweep %s: trial %ld: curve not read, observed at "
                          "its end only: %s",
                          s->name, id, ctx->errstr);
        return;
    }
    if (protein_curve_parse(text, strlen(text), pts, n) != PROTEIN_OK)
        proteind_warn("sweep %s: trial %ld: its stored curve is malformed; "
                      "observed at its end only",
                      s->name, id);
    free(text);
}

/* Feeds one stream entry to the optimizer. Outcomes that say nothing about
 * the point are skipped: interrupted (the trial resumes) and lost (a dead
 * node or an expired lease, and the point may be retried). A completed or
 * pruned trial with a score is a success (pruned at its shorter cost); a
 * failed one, or one without a score, a failure. Entries that are not
 * protein's, and those whose parameters no longer fit the config, are
 * logged and skipped. */
static void ingest(pq_context *ctx, proteind_sweep *s, const pq_observation *o)
{
    protein_curve_point *curve = NULL;
    size_t n_curve = 0;
    protein_error err = {0};
    char msg[768];
    double cost;
    int rc;

    if (o->undecodable) {
        proteind_warn("sweep %s: stream entry %s skipped: not an observation "
                      "written by protein",
                      s->name, o->entry_id);
        return;
    }
    if (o->outcome == PQ_TRIAL_INTERRUPTED || o->outcome == PQ_TRIAL_LOST)
        return;
    rc = pq_model_params_to_values(s->cfg, &o->params, s->values, &err);
    if (rc != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        proteind_warn("sweep %s: trial %ld: observation skipped: %s", s->name,
                      o->trial_id, msg);
        return;
    }
    if ((o->outcome == PQ_TRIAL_COMPLETED || o->outcome == PQ_TRIAL_PRUNED) &&
        o->has_score && isfinite(o->score)) {
        /* The optimizer needs a positive cost; unreported means 1 s. */
        cost = o->has_cost && o->cost > 0 ? o->cost : 1.0;
        /* PufferLib's downsample: points along the trial's curve too */
        if (s->cfg->downsample > 0)
            read_curve(ctx, s, o->trial_id, &curve, &n_curve);
        rc = protein_observe_run(s->opt, s->cfg, s->values, o->score, cost,
                                 curve, n_curve);
        free(curve);
    } else {
        rc = protein_observe(s->opt, s->values, 0.0, 1.0,
                             PROTEIN_OUTCOME_FAILURE);
    }
    if (rc != PROTEIN_OK)
        proteind_warn("sweep %s: trial %ld: observation rejected: %s", s->name,
                      o->trial_id, protein_strerror(rc));
}

static void ingest_all(pq_context *ctx, proteind_sweep *s,
                       const pq_observation *obs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ingest(ctx, s, &obs[i]);
}

/* A restarted coordinator continues the seeded warm-up (Sobol, grid)
 * sequence past the points handed out or queued before, instead of
 * suggesting them again (protein_skip_handed_out). At most SKIP_MAX are
 * skipped (logged when n is beyond it). */
static void skip_handed_out(proteind_sweep *s, long n)
{
    if (protein_skip_handed_out(s->opt, n, SKIP_MAX) == SKIP_MAX &&
        n > SKIP_MAX)
        proteind_warn("sweep %s: %ld trials handed out is more than any sweep "
                      "hands out (a damaged n_trials?); the warm-up sequence "
                      "goes on after point %ld",
                      s->name, n, SKIP_MAX);
}

/* Contract in proteind.h. */
int proteind_sweep_open(pq_context *ctx, proteind_lease *lease,
                        const protein_gp_backend *backend,
                        const proteind_options *opts, proteind_sweep **out)
{
    const char *name = lease->sweep;
    proteind_sweep *s = NULL;
    pq_sweep_info *info = NULL;
    pq_observation *obs = NULL;
    size_t n_obs = 0;
    protein_error err = {0};
    protein_optimizer_options oo = {0};
    char msg[768];
    int rc;

    *out = NULL;
    rc = pq_sweep_get(ctx, name, &info);
    if (rc != PQ_OK) {
        proteind_warn("sweep %s: cannot read the sweep: %s", name, ctx->errstr);
        goto fail;
    }
    /* Nothing to coordinate, nothing to rebuild. A stopped sweep's
     * running trials still need their leases expired (no claim does it:
     * claims are refused), so it is served until none runs. */
    if (info->state == PQ_SWEEP_STOPPED &&
        info->counts[PQ_TRIAL_RUNNING] == 0) {
        proteind_info("sweep %s: stopped; nothing to coordinate", name);
        rc = PQ_ESTOPPED;
        goto fail;
    }
    if (pq_budget_spent(info->max_trials, info->n_trials,
                        info->counts[PQ_TRIAL_LOST],
                        info->counts[PQ_TRIAL_RUNNING], info->retry_depth)) {
        proteind_info("sweep %s: its budget of %ld trials is used and none "
                      "runs; nothing to coordinate",
                      name, info->max_trials);
        rc = PQ_ESTOPPED;
        goto fail;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        rc = PQ_ENOMEM;
        goto fail;
    }
    s->lease = lease;
    s->opts = opts;
    s->backend = backend;
    if (pq_model_load_config(name, info->config_yaml, strlen(info->config_yaml),
                             &s->cfg, &err) != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        proteind_warn("sweep %s: stored config rejected: %s", name, msg);
        rc = PQ_EINVAL;
        goto fail;
    }
    if (opts->max_fit_obs > 0 &&
        (s->cfg->gp_max_obs == 0 || s->cfg->gp_max_obs > opts->max_fit_obs)) {
        proteind_info("sweep %s: fitting at most %d observations "
                      "(--max-fit-obs; its config says %d, 0 = no cap)",
                      name, opts->max_fit_obs, s->cfg->gp_max_obs);
        s->cfg->gp_max_obs = opts->max_fit_obs;
    }
    s->values =
        calloc(s->cfg->n_params ? s->cfg->n_params : 1, sizeof *s->values);
    if (!s->values) {
        rc = PQ_ENOMEM;
        goto fail;
    }
    oo.backend = backend;
    /* The defaults go first only in a sweep that has handed nothing out:
     * after a restart they were suggested already. */
    oo.use_default_first = info->n_trials == 0;
    if (protein_optimizer_create(s->cfg, &oo, &s->opt, &err) != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        proteind_warn("sweep %s: cannot create the optimizer: %s", name, msg);
        rc = PQ_EINVAL;
        goto fail;
    }
    /* as the sweep stores it: the claims count a grid by it */
    s->grid = info->grid_points;
    s->created_at = info->created_at;
    rc = pq_observations_all(ctx, name, &obs, &n_obs, s->last_id);
    if (rc != PQ_OK) {
        proteind_warn("sweep %s: cannot read the observation stream: %s", name,
                      ctx->errstr);
        goto fail;
    }
    ingest_all(ctx, s, obs, n_obs);
    skip_handed_out(s, info->n_trials + info->queue_depth);
    proteind_info("sweep %s: rebuilt from Redis: %zu stream entries, %zu "
                  "successes, %zu failures",
                  name, n_obs, protein_num_observations(s->opt),
                  protein_num_failures(s->opt));
    pq_observations_free(obs, n_obs);
    s->active = info->state == PQ_SWEEP_ACTIVE;
    s->stale = 1; /* whatever is queued predates this process */
    s->burst_start = s->last_obs = proteind_now_ms() - opts->debounce_ms;
    pq_sweep_info_free(info);
    *out = s;
    return PQ_OK;

fail:
    pq_sweep_info_free(info);
    proteind_sweep_free(s);
    return rc;
}

/* Frees the points of q[0..n) and the array. */
static void queued_free(queued_point *q, size_t n)
{
    if (!q)
        return;
    for (size_t i = 0; i < n; i++) {
        pq_params_free(&q[i].params);
        free(q[i].values);
    }
    free(q);
}

/* Whether queued point i, at place `rank` from the queue's head, stays in
 * the queue: warm-up points never go stale; model points do when
 * observations arrived since they were made, but are only replaced when
 * the burst is over (replace_stale), and only among the first
 * --queue-depth points, the next ones claimed: a refit then costs a
 * bounded number of suggestions however deep demand made the queue, and
 * the deeper points come up for replacement at later refits. */
static int keepable(const proteind_sweep *s, size_t i, size_t rank,
                    int replace_stale)
{
    return s->queued[i].warmup || !s->stale || !replace_stale ||
           rank >= (size_t)s->opts->queue_depth;
}

/* Suggests up to n fresh points into fresh[] (values and params set) in
 * one batch (protein_suggest_batch: one GP fit for all the model points,
 * each pending for the next); stops early when the method is exhausted.
 * *made receives how many were made, also on failure (the slots are freed
 * by the caller either way). Returns PQ_OK (the lease held, or taken again
 * after a fit that outlasted it), PQ_ESTATE when the lease was lost to
 * another coordinator, a pq_error from Redis, or the optimizer's
 * protein_status when it failed (logged). */
static int suggest_batch(pq_context *ctx, proteind_sweep *s,
                         queued_point *fresh, size_t n, size_t *made)
{
    const size_t np = s->cfg->n_params ? s->cfg->n_params : 1;
    protein_suggestion_info *infos = NULL;
    double *values = NULL;
    size_t got = 0;
    int rc;

    *made = 0;
    if (n == 0)
        return PQ_OK;
    rc = proteind_lease_tick(ctx, s->lease, s->opts, proteind_now_ms());
    if (rc <= 0)
        return rc == 0 ? PQ_ESTATE : rc;
    values = calloc(n * np, sizeof *values);
    infos = calloc(n, sizeof *infos);
    rc = values && infos ? protein_suggest_batch(s->opt, n, values, infos, &got)
                         : PROTEIN_ENOMEM;
    if (rc == PROTEIN_EXHAUSTED)
        rc = PROTEIN_OK;
    for (size_t i = 0; i < got && rc == PROTEIN_OK; i++) {
        queued_point *q = &fresh[i];

        q->values = malloc(np * sizeof *q->values);
        if (!q->values) {
            rc = PROTEIN_ENOMEM;
            break;
        }
        memcpy(q->values, values + i * np, np * sizeof *q->values);
        rc = pq_model_values_to_params(s->cfg, q->values, &q->params);
        q->warmup = infos[i].source != PROTEIN_SOURCE_MODEL;
        *made = i + 1;
    }
    free(values);
    free(infos);
    if (rc != PROTEIN_OK) {
        proteind_warn("sweep %s: suggestion failed: %s; retrying in %d ms",
                      s->name, protein_strerror(rc), RETRY_MS);
        s->retry_at = proteind_now_ms() + RETRY_MS;
        return rc;
    }
    /* A fit may outlast the lease (thousands of observations on the CPU):
     * the lease is taken again unless another coordinator took it
     * meanwhile, so that the batch is written, not thrown away and fitted
     * again for ever. */
    rc = proteind_lease_tick(ctx, s->lease, s->opts, proteind_now_ms());
    if (rc <= 0)
        return rc == 0 ? PQ_ESTATE : rc;
    return PQ_OK;
}

/* Marks values pending in the sweep's model while *n_pending (counted
 * here) is under PENDING_MAX. */
static void add_pending(proteind_sweep *s, const double *values,
                        size_t *n_pending)
{
    if (*n_pending < PENDING_MAX &&
        protein_add_pending(s->opt, values) == PROTEIN_OK)
        (*n_pending)++;
}

/* Makes the ready queue hold `target` points: the points of the last batch
 * that no claim has taken yet and that are kept (see keepable: with
 * replace_stale, stale model points are dropped; without, the queue is only
 * topped up), then at most BATCH_MAX fresh suggestions, made with the
 * running trials and the kept points pending (PENDING_MAX of them). `depth` is
 * the queue's length read just before. Logs one line per refit. On failure the
 * queue's contents count as unknown (the next refill replaces them all). */
static int refill(pq_context *ctx, proteind_sweep *s, long target, long depth,
                  int replace_stale)
{
    pq_params *running = NULL, *points = NULL;
    queued_point *fresh = NULL, *next = NULL;
    size_t n_running = 0, n_fresh = 0, n_next = 0, n_keep = 0, first, head;
    size_t n_pending = 0, n_want;
    protein_error err = {0};
    int64_t t0 = proteind_now_ms();
    double ms;
    long depth_now;
    int rc;

    fresh = calloc((size_t)target + 1, sizeof *fresh);
    next = calloc((size_t)target + 1, sizeof *next);
    if (!fresh || !next) {
        rc = PQ_ENOMEM;
        goto fail;
    }
    rc = pq_running_points(ctx, s->name, &running, &n_running);
    if (rc != PQ_OK)
        goto fail;
    protein_clear_pending(s->opt);
    for (size_t i = 0; i < n_running; i++) {
        if (pq_model_params_to_values(s->cfg, &running[i], s->values, &err) !=
            PROTEIN_OK)
            continue; /* a point from an older config: nothing to avoid */
        add_pending(s, s->values, &n_pending);
    }
    /* Claims take points from the head: the last `depth` ones remain. When
     * the queue holds more than we know of, replace it all. */
    first = (size_t)depth <= s->n_queued ? s->n_queued - (size_t)depth
                                         : s->n_queued;
    for (size_t i = first; i < s->n_queued; i++) {
        if (!keepable(s, i, i - first, replace_stale) ||
            n_keep == (size_t)target)
            continue;
        add_pending(s, s->queued[i].values, &n_pending);
        n_keep++;
    }
    n_want = (size_t)target - n_keep;
    rc = suggest_batch(ctx, s, fresh, n_want < BATCH_MAX ? n_want : BATCH_MAX,
                       &n_fresh);
    if (rc != PQ_OK)
        goto fail;
    /* Re-read the depth right before the replacement, so that a point
     * claimed meanwhile is not kept (the server also leaves out any point
     * already handed out). */
    rc = pq_queue_depth(ctx, s->name, &depth_now);
    if (rc != PQ_OK)
        goto fail;
    head = first;
    if (depth_now < depth)
        first += (size_t)(depth - depth_now);
    for (size_t i = first; i < s->n_queued && n_next < n_keep; i++) {
        if (!keepable(s, i, i - head, replace_stale))
            continue;
        next[n_next++] = s->queued[i];
        memset(&s->queued[i], 0, sizeof s->queued[i]);
    }
    for (size_t i = 0; i < n_fresh; i++) {
        next[n_next++] = fresh[i];
        memset(&fresh[i], 0, sizeof fresh[i]);
    }
    points = calloc(n_next + 1, sizeof *points);
    if (!points) {
        rc = PQ_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n_next; i++)
        points[i] = next[i].params; /* shallow: next owns them */
    rc = pq_queue_replace(ctx, s->name, s->opts->id, points, n_next);
    free(points);
    if (rc == PQ_OK)
        rc = pq_queue_depth(ctx, s->name, &depth_now);
    if (rc != PQ_OK)
        goto fail;
    queued_free(s->queued, s->n_queued);
    s->queued = next;
    s->n_queued = n_next;
    next = NULL;
    if ((size_t)depth_now != n_next) {
        /* The server left out points handed out meanwhile (or a claim came
         * in): which ones remain is unknown, so the next refill replaces
         * them all. */
        queued_free(s->queued, s->n_queued);
        s->queued = NULL;
        s->n_queued = 0;
    }
    ms = (double)(proteind_now_ms() - t0);
    proteind_debug(
        "%s sweep=%s n=%zu ms=%.0f backend=%s fresh=%zu queued=%zu running=%zu",
        replace_stale ? "refit" : "topup", s->name,
        protein_num_observations(s->opt), ms,
        proteind_backend_last_used(s->backend), n_fresh, (size_t)depth_now,
        n_running);
    if (replace_stale) {
        s->stale = 0;
        if (pq_set_refit_info(ctx, s->name,
                              (long)protein_num_observations(s->opt), ms,
                              proteind_backend_last_used(s->backend)) != PQ_OK)
            proteind_warn("sweep %s: could not record the refit: %s", s->name,
                          ctx->errstr);
    }
    pq_params_array_free(running, n_running);
    queued_free(fresh, (size_t)target + 1);
    return PQ_OK;

fail:
    if (protein_status_is_queue(rc) && rc != PQ_ESTATE)
        proteind_warn("sweep %s: refill failed: %s", s->name, ctx->errstr);
    pq_params_array_free(running, n_running);
    queued_free(fresh, fresh ? (size_t)target + 1 : 0);
    queued_free(next, next ? (size_t)target + 1 : 0);
    queued_free(s->queued, s->n_queued);
    s->queued = NULL;
    s->n_queued = 0;
    return rc;
}

/* Asks running trials whose latest progress is worse than the early-stop
 * threshold at the cost that progress report gave to stop. The model's
 * costs are the ones trials report, in the user's units (a trial that
 * reports none counts as costing 1), so a report without a cost cannot be
 * placed on it and is left alone: measured by wall-clock seconds instead,
 * a sweep with no costs (all 1) asked every run still short of 0.9 x the
 * best score to stop ten seconds in. The model is refitted before the
 * first report it judges: with a deep queue no model suggestion, which
 * refits it too, may follow the latest observations. */
static int early_stop(pq_context *ctx, proteind_sweep *s)
{
    pq_trial_record *trials = NULL;
    size_t n = 0, skipped = 0;
    double thr;
    int rc, worse, refitted = 0;

    rc = pq_trial_list(ctx, s->name, PQ_TRIAL_RUNNING, &trials, &n, &skipped);
    if (rc != PQ_OK)
        return rc;
    if (skipped)
        proteind_warn("sweep %s: %zu running trials not considered for early "
                      "stopping: %s",
                      s->name, skipped, ctx->errstr);
    for (size_t i = 0; i < n; i++) {
        const pq_trial_record *t = &trials[i];

        if (!t->has_progress || !t->has_progress_cost || t->stop_requested ||
            !(t->progress_cost > 0))
            continue;
        if (!refitted) {
            if (protein_early_stop_refit(s->opt) == PROTEIN_ENOMEM) {
                rc = PQ_ENOMEM;
                break;
            }
            refitted = 1;
        }
        thr = protein_early_stop_threshold(s->opt, t->progress_cost);
        worse = s->cfg->minimize ? t->progress_score > thr
                                 : t->progress_score < thr;
        if (!worse)
            continue;
        rc = pq_trial_request_stop(ctx, s->name, t->id);
        if (rc == PQ_OK)
            proteind_debug(
                "sweep %s: trial %ld: early stop (score %g worse than "
                "%g at cost %g)",
                s->name, t->id, t->progress_score, thr, t->progress_cost);
        else if (rc != PQ_ESTATE && rc != PQ_ENOTRIAL)
            break;
        rc = PQ_OK;
    }
    pq_trial_records_free(trials, n);
    return rc;
}

/* Keeps the fallback pool ahead of its use, so that fallback points do not
 * repeat: when fewer than FALLBACK_LOW are left unused, appends
 * FALLBACK_CHUNK (never more than the budget, or a grid, needs): a grid's
 * next points in grid order, else fresh Sobol points. A failure is logged
 * and left for the next turn, unless the connection is gone. */
static int top_up_fallback(pq_context *ctx, proteind_sweep *s,
                           const pq_demand_info *d)
{
    pq_params *points = NULL;
    long n = FALLBACK_CHUNK, size = 0;
    int rc;

    if (d->n_fallback - d->fallback_next >= FALLBACK_LOW)
        return PQ_OK;
    /* A grid: up to its last point, past max_trials too (a trial lost for
     * good gives its budget slot back, then the next point is claimed). */
    if (s->grid == 0 && d->max_trials > 0 && d->max_trials - d->n_fallback < n)
        n = d->max_trials - d->n_fallback;
    if (s->grid > 0 && s->grid - d->n_fallback < n)
        n = s->grid - d->n_fallback;
    if (n <= 0)
        return PQ_OK;
    /* no defaults: the pool's first point, or the queue's, gave them */
    if (pq_model_fallback_points(
            s->cfg,
            pq_model_fallback_seed(s->name, (size_t)d->n_fallback,
                                   PQ_FALLBACK_BY_COORDINATOR),
            (size_t)d->n_fallback, (size_t)n, 0, &points) != PROTEIN_OK) {
        proteind_warn("sweep %s: cannot draw fallback points", s->name);
        return PQ_OK;
    }
    rc = pq_fallback_add(ctx, s->name, s->opts->id, points, (size_t)n, &size);
    pq_params_array_free(points, (size_t)n);
    if (rc == PQ_OK)
        proteind_debug(
            "sweep %s: fallback pool topped up to %ld points (%ld used)",
            s->name, size, d->fallback_next);
    else if (rc != PQ_EIO)
        proteind_warn("sweep %s: cannot top up the fallback pool: %s", s->name,
                      ctx->errstr);
    return rc == PQ_EIO || rc == PQ_ESTATE ? rc : PQ_OK;
}

/* Seconds of claims at the current rate that the ready queue holds, so
 * that short tasks arriving faster than one batch takes are served from
 * the queue while the next batch is made. */
#define CLAIM_HORIZON_S 2.0
/* Weight of the newest rate sample in the smoothed claim rate. */
#define RATE_WEIGHT 0.3

/* Updates s->claim_rate from the trial ids handed out since the last
 * demand read. */
static void track_claim_rate(proteind_sweep *s, long n_trials)
{
    int64_t now = proteind_now_ms();
    double dt = (double)(now - s->seen_at) / 1000.0;

    if (s->seen_at > 0 && dt > 0.05 && n_trials >= s->seen_trials) {
        double rate = (double)(n_trials - s->seen_trials) / dt;

        s->claim_rate = RATE_WEIGHT * rate + (1 - RATE_WEIGHT) * s->claim_rate;
    }
    if (s->seen_at == 0 || dt > 0.05) {
        s->seen_trials = n_trials;
        s->seen_at = now;
    }
}

/* From the sweep's demand d (pq_demand), sets s->target to how many
 * points the ready queue should hold now: as many as the sweep's real
 * concurrency (running trials plus claims waiting for a point), or
 * CLAIM_HORIZON_S seconds of claims at the current rate when more (short
 * tasks), at least --queue-depth, never more than the budget has left or
 * QUEUE_MAX, 0 when paused.
 * *depth receives the queue's length. Tops the fallback pool up on the
 * way. */
static int queue_target(pq_context *ctx, proteind_sweep *s,
                        const pq_demand_info *d, long *depth)
{
    long want, left;

    /* Deleted and created again between two discoveries: this model, its
     * space and its place in the observations are the old sweep's. A time
     * that is not a number (its owner's "nan", which differs from itself)
     * says nothing, as a missing one. */
    if (isnormal(d->created_at) && isnormal(s->created_at) &&
        d->created_at != s->created_at) {
        proteind_info("sweep %s: created anew since its model was built; "
                      "building it again",
                      s->name);
        return PQ_ESTATE;
    }
    s->active = d->state == PQ_SWEEP_ACTIVE;
    if (!s->done && proteind_nothing_left(d)) {
        /* Its model, up to hundreds of MB, is freed; a restart or a
         * standby looks at it again. */
        if (d->state == PQ_SWEEP_STOPPED)
            proteind_info("sweep %s: stopped; no longer coordinating it",
                          s->name);
        else
            proteind_info("sweep %s: its budget of %ld trials is used and "
                          "none runs; no longer coordinating it",
                          s->name, d->max_trials);
        s->done = 1;
    } else if (d->state == PQ_SWEEP_STOPPED && !s->said_stopped) {
        proteind_info("sweep %s: stopped; serving it until its %ld running "
                      "trials end or their leases expire",
                      s->name, d->n_running);
        s->said_stopped = 1;
    }
    track_claim_rate(s, d->n_trials);
    s->n_progress = d->n_progress;
    /* The budget the model paces its cost by (cost cooling) is the one the
     * claims obey: protein budget may have changed it since the config was
     * read. A grid's is its points. */
    if (s->grid == 0)
        s->cfg->max_trials = d->max_trials;
    want = d->n_running + d->n_waiting;
    if (want < (long)ceil(s->claim_rate * CLAIM_HORIZON_S))
        want = (long)ceil(s->claim_rate * CLAIM_HORIZON_S);
    if (want < s->opts->queue_depth)
        want = s->opts->queue_depth;
    if (d->max_trials > 0) {
        /* Trials queued for a retry are claimed before the queue. */
        left = d->max_trials - (d->n_trials - d->n_lost) - d->retry_depth;
        if (left < want)
            want = left;
    }
    /* A grid's points are the fallback pool's, handed out in grid order by
     * the claims' own cursor, which a restart cannot repeat or skip: the
     * queue stays empty. */
    if (s->grid > 0)
        want = 0;
    if (want > QUEUE_MAX)
        want = QUEUE_MAX;
    s->target = s->active && want > 0 ? want : 0;
    s->waiting = d->n_waiting;
    *depth = d->queue_depth;
    if (s->active && !s->done)
        return top_up_fallback(ctx, s, d);
    return PQ_OK;
}

/* Whether the ready queue, `depth` points deep, needs a top-up now: when
 * a claim waits, or when it lost a quarter of its target. Every batch
 * costs a GP fit and a prediction pass, so the queue is not topped up
 * point by point: refilled below --queue-depth too, a queue of 16 got one
 * fit per claim, 1.75 fits a trial with the refits, and proteind's CPU
 * grew with the observations (a whole core at n = 650-850 for 6 claims/s). */
static int short_of(const proteind_sweep *s, long depth)
{
    if (depth >= s->target)
        return 0;
    return s->waiting > 0 || depth <= s->target - s->target / 4;
}

/* With Slurm support, the trials of s whose lease is due and whose job
 * still runs (proteind_slurm_job: RUNNING or SUSPENDED, as the sweep's
 * owner or the uid of the trial's claim, the claim key naming the job)
 * get their lease renewed by their lease_seconds (pq_lease_extend: only
 * while they run under that claim key), so that each is asked about once
 * per lease at most; the rest are expired by the caller, but for the
 * trials whose job's state is not known yet (slurm.c asks slurmctld
 * meanwhile, or slurmctld is silent): their ids go to spare (*n_spare of
 * them, PQ_DUE_MAX at most), for the caller to keep each up to
 * PROTEIND_SLURM_GRACE_S past its own deadline. The sweep's demand comes
 * in the same read (pq_demand_due) into *demand. *cut is set to the cut
 * of the read (pq_leases_due: 0 when none was due), for the caller to
 * expire none due after it: a lease that fell due after this read, or
 * beyond the PQ_DUE_MAX read, was not asked about, and the next turn
 * reads it. The trial's
 * claim key and uid are written by the sweep's owner as much as by the
 * plugin: they keep a trial of the owner's own sweep running at most as
 * long as some job of the owner, or of the claim's user, runs under that
 * key. */
static int keep_running(pq_context *ctx, proteind_sweep *s,
                        pq_demand_info *demand, long *spare, size_t *n_spare,
                        double *cut)
{
    pq_due_lease *due = NULL;
    size_t n = 0;
    long owner = -1;
    double deadline;
    char state[128];
    int rc;

    *n_spare = 0;
    /* More may be due at the expiry than were read: a lease that fell due
     * since this read, or beyond the first PQ_DUE_MAX. The caller expires
     * none due after the cut, which it would end unasked; those renewed
     * or expired leave the front, so the next turns read the rest. The
     * lease entries the read passes over (no running trial, no claim key)
     * are within the cut: the expiry clears them. */
    rc = pq_demand_due(ctx, s->name, PQ_DUE_MAX, demand, &due, &n, &owner, cut);
    if (rc != PQ_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int job = proteind_slurm_job(due[i].claim_key, owner, due[i].uid, state,
                                     sizeof state);

        if (job == PROTEIND_JOB_UNKNOWN) {
            spare[(*n_spare)++] = due[i].id;
            continue;
        }
        if (job != PROTEIND_JOB_RUNS) {
            proteind_debug("sweep %s: trial %ld: job %s %s: its lease "
                           "expires",
                           s->name, due[i].id, due[i].claim_key, state);
            continue;
        }
        rc = pq_lease_extend(ctx, s->name, s->opts->id, due[i].id,
                             due[i].claim_key, &deadline);
        if (rc == PQ_OK)
            proteind_info("sweep %s: trial %ld: job %s is %s: lease renewed "
                          "(%.0f s from now)",
                          s->name, due[i].id, due[i].claim_key, state,
                          deadline - (double)time(NULL));
        else if (rc != PQ_ESTATE && rc != PQ_ENOTRIAL)
            break;
        rc = PQ_OK;
    }
    free(due);
    return rc;
}

/* Contract in proteind.h. */
int proteind_sweep_step(pq_context *ctx, proteind_sweep *s, int wait_ms)
{
    pq_observation *obs = NULL;
    size_t n = 0;
    long expired = 0, depth = 0;
    long spare[PQ_DUE_MAX];
    size_t n_spare = 0;
    double due_cut = 0;
    pq_demand_info demand;
    int64_t now = proteind_now_ms(), quiet_at, cut_at;
    int rc, burst_over;

    if (s->stale && s->active) {
        /* Wake up when the burst is due, not later. */
        quiet_at = s->last_obs + s->opts->debounce_ms;
        if (quiet_at < s->retry_at)
            quiet_at = s->retry_at;
        if (quiet_at - now < wait_ms)
            wait_ms = quiet_at > now ? (int)(quiet_at - now) : 0;
    }
    rc = pq_observations_read(ctx, s->name, s->last_id, wait_ms, 0, &obs, &n,
                              s->last_id);
    if (rc != PQ_OK)
        return rc;
    now = proteind_now_ms();
    if (n > 0) {
        ingest_all(ctx, s, obs, n);
        if (!s->stale)
            s->burst_start = now;
        s->stale = 1;
        s->last_obs = now;
    }
    pq_observations_free(obs, n);

    if (!proteind_slurm_on())
        rc = pq_expire_leases(ctx, s->name, &expired);
    else if ((rc = keep_running(ctx, s, &demand, spare, &n_spare, &due_cut)) ==
                 PQ_OK &&
             due_cut > 0)
        rc = pq_expire_leases_after(ctx, s->name, PROTEIND_SLURM_GRACE_S,
                                    due_cut, spare, n_spare, &expired);
    if (rc != PQ_OK)
        return rc;
    /* Demand is read every turn (one read-only call): a burst of claims is
     * answered within one poll. With Slurm, keep_running read it with the
     * leases due; an expiry since changed it. */
    if ((!proteind_slurm_on() || expired > 0) &&
        (rc = pq_demand(ctx, s->name, &demand)) != PQ_OK)
        return rc;
    if (expired > 0)
        proteind_info("sweep %s: %ld trial lease%s expired (lost; requeued "
                      "within the retry policy)",
                      s->name, expired, expired == 1 ? "" : "s");

    quiet_at = s->last_obs + s->opts->debounce_ms;
    cut_at =
        s->burst_start + (int64_t)MAX_BURST_DEBOUNCES * s->opts->debounce_ms;
    burst_over = s->stale && (now >= quiet_at || now >= cut_at);
    rc = queue_target(ctx, s, &demand, &depth);
    if (rc != PQ_OK)
        return rc;
    if (s->done)
        return PQ_OK;
    /* After a burst: one refit. Claims during a burst: top-ups only. */
    if (now >= s->retry_at && s->active && (burst_over || short_of(s, depth))) {
        rc = refill(ctx, s, s->target, depth, burst_over);
        /* An optimizer failure was logged and retries later; Redis
         * failures and lack of memory end the round. */
        if (rc != PQ_OK && (protein_status_is_queue(rc) || rc == PQ_ENOMEM))
            return rc;
    }

    /* W&B's hyperband, when the config has it, replaces Protein's
     * early-stop model: protein_progress applies it to each report. */
    if (!s->cfg->hyperband.enabled && now >= s->next_early_stop &&
        protein_num_observations(s->opt) > 0) {
        s->next_early_stop = now + EARLY_STOP_PERIOD_MS;
        /* Reading every running trial costs Redis about 30 us a trial:
         * done only when a report came or the model moved since. */
        if (s->n_progress < 0 || s->n_progress != s->judged_progress ||
            protein_num_finished(s->opt) != s->judged_finished) {
            rc = early_stop(ctx, s);
            if (rc != PQ_OK)
                return rc;
            s->judged_progress = s->n_progress;
            s->judged_finished = protein_num_finished(s->opt);
        }
    }
    return PQ_OK;
}

/* Contract in proteind.h. */
int proteind_nothing_left(const pq_demand_info *d)
{
    return (d->state == PQ_SWEEP_STOPPED && d->n_running == 0) ||
           pq_budget_spent(d->max_trials, d->n_trials, d->n_lost, d->n_running,
                           d->retry_depth);
}

/* Contract in proteind.h. */
int proteind_sweep_done(const proteind_sweep *s)
{
    return s->done;
}

/* Contract in proteind.h. */
void proteind_sweep_free(proteind_sweep *s)
{
    if (!s)
        return;
    queued_free(s->queued, s->n_queued);
    protein_optimizer_free(s->opt);
    protein_config_free(s->cfg);
    free(s->values);
    free(s->name);
    free(s);
}
