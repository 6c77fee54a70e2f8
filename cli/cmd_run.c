/*
 * cmd_run.c - `protein run`: a whole sweep on this machine. The optimizer
 * runs in this process; every trial is a child process that sees the
 * environment contract and writes its score to a private result file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "queue_model.h"

#define VERB "run"
#define DEFAULT_TRIALS 20
/* The most trials --trials takes, and so a grid's default */
#define MAX_TRIALS 1000000

typedef enum run_status { RUN_RUNNING, RUN_COMPLETED, RUN_FAILED } run_status;

typedef struct run_trial {
    long id;
    run_status status;
    pid_t pid;
    double *values;
    pq_params params;
    char *result_path;
    double score, cost;
    char reason[160];
    cli_curve curve; /* the reports read so far */
    int pruned;      /* stopped early, by the sweep's stopping rule */
    int grid_done;   /* resumed: a grid suggestion matched its point */
} run_trial;

typedef struct run_state {
    const protein_sweep_config *cfg;
    protein_optimizer *opt;
    cli_runner run;
    run_trial *trials;
    long n_trials;  /* trials asked for, the resumed ones included */
    long launched;  /* trials[0..launched) exist */
    long resumed;   /* trials[0..resumed) were read back from --out */
    long grid_left; /* resumed trials whose grid point is not matched yet */
    long next_id;   /* the number of the next trial launched */
    long running;
    long completed, pruned, failed; /* finished trials, by CSV status */
    int exhausted;      /* the optimizer has no more suggestions (grid) */
    int target_reached; /* a trial reached metric.target: no new trials */
    cli_progress progress;
    FILE *csv;  /* --out, a row written as each trial finishes */
    int csv_fd; /* --out locked (csv_lock) and not yet st->csv, else -1 */
    const char *csv_path;
    int csv_curves;     /* its rows end in the trial's curve (a file resumed
                           from before protein kept curves has none) */
    int csv_errno;      /* the first write error, reported at the end */
    long stop_model_at; /* trials finished when the early-stop model was
                           last refitted (-1: never) */
    cli_start_guard start_guard;
    int broken; /* the start guard stopped the sweep */
} run_state;

/* The rule that stops trials early: W&B's hyperband when the config has
 * early_terminate, else Protein's early-stop model. */
static const char *stop_rule(const protein_sweep_config *cfg)
{
    return cfg->hyperband.enabled ? "hyperband" : "the early-stop model";
}

/* The sweep name the trials see: the config's name when valid, else "local". */
static const char *sweep_name(const protein_sweep_config *cfg)
{
    return cfg->name && pq_sweep_name_valid(cfg->name) ? cfg->name : "local";
}

/* Tells the optimizer that trial id runs at values; a failure (out of
 * memory) is only a warning: the trial runs on, and later suggestions
 * may land next to it. */
static void note_pending(run_state *st, long id, const double *values)
{
    int rc = protein_add_pending(st->opt, values);

    if (rc != PROTEIN_OK)
        fprintf(stderr,
                "protein %s: warning: the optimizer cannot count trial %ld as "
                "running (%s); suggestions may land next to it\n",
                VERB, id, protein_strerror(rc));
}

/* Re-marks every running trial as pending after one finished. */
static void refresh_pending(run_state *st)
{
    long i;

    protein_clear_pending(st->opt);
    for (i = 0; i < st->launched; i++)
        if (st->trials[i].status == RUN_RUNNING)
            note_pending(st, st->trials[i].id, st->trials[i].values);
}

/* Whether params (a grid point) are those of a resumed trial whose point
 * no suggestion matched yet: the grid ran it before; that trial is then
 * matched. */
static int grid_point_done(run_state *st, const pq_params *params)
{
    char text[256];
    long i;
    size_t j;

    for (i = 0; st->grid_left > 0 && i < st->resumed; i++) {
        run_trial *t = &st->trials[i];

        if (t->grid_done || t->params.n != params->n)
            continue;
        for (j = 0; j < params->n; j++) {
            const pq_param *q = &params->items[j];

            cli_param_text(q, text, sizeof(text));
            if (strcmp(q->is_string && q->text ? q->text : text,
                       t->params.items[j].text) != 0)
                break;
        }
        if (j == params->n) {
            t->grid_done = 1;
            st->grid_left--;
            return 1;
        }
    }
    return 0;
}

/* Suggests, renders and starts trial number st->next_id (a grid skips the
 * points of resumed trials). Returns 0, 1 when the optimizer is exhausted,
 * -1 on a fatal error (printed). */
static int launch(run_state *st)
{
    run_trial *t = &st->trials[st->launched];
    int rc;

    memset(t, 0, sizeof(*t));
    t->id = st->next_id;
    t->values =
        calloc(st->cfg->n_params ? st->cfg->n_params : 1, sizeof(double));
    if (!t->values)
        return cli_fail(VERB, "out of memory"), -1;
    do {
        pq_params_free(&t->params);
        rc = protein_suggest(st->opt, t->values, NULL);
        if (rc == PROTEIN_EXHAUSTED) {
            free(t->values);
            t->values = NULL;
            return 1;
        }
        if (rc != PROTEIN_OK) {
            cli_fail(VERB, "trial %ld: the optimizer failed: %s", t->id,
                     protein_strerror(rc));
            goto fail;
        }
        if (pq_model_values_to_params(st->cfg, t->values, &t->params) !=
            PROTEIN_OK) {
            cli_fail(VERB, "out of memory");
            goto fail;
        }
    } while (grid_point_done(st, &t->params));
    if (cli_trial_start(VERB, &st->run, t->id, &t->params, st->cfg->metric,
                        st->cfg->cost_metric, NULL, &t->result_path,
                        &t->pid) < 0)
        goto fail;
    t->status = RUN_RUNNING;
    note_pending(st, t->id, t->values);
    st->launched++;
    st->next_id++;
    st->running++;
    return 0;
fail:
    free(t->values);
    t->values = NULL;
    pq_params_free(&t->params);
    return -1;
}

/* Closes st->csv_fd (and so drops its lock), keeping errno; returns -1. */
static int csv_drop(run_state *st)
{
    int e = errno;

    close(st->csv_fd);
    st->csv_fd = -1;
    errno = e;
    return -1;
}

/* Opens the --out CSV for writing, creating it when missing and cutting
 * nothing, into st->csv_fd, and takes its lock (flock), which stays held
 * until the CSV is closed: a second run given the same --out, whose rows
 * would mix with this run's or cut them off, is refused instead. The
 * descriptor is close-on-exec, so that no trial inherits it. Returns 0,
 * or -1 with errno set (EWOULDBLOCK: another run holds the lock); nothing
 * is left open then. Where the file system has no locks, 0 unlocked. */
static int csv_lock(run_state *st, const char *path, int create)
{
    st->csv_fd =
        open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0666);
    if (st->csv_fd < 0)
        return -1;
    /* a file system without locks (NFS mounted nolock: ENOLCK) writes
     * unlocked, as before locks were taken */
    if (flock(st->csv_fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
        return csv_drop(st);
    return 0;
}

/* Why the --out CSV cannot be written, for errno from csv_lock, csv_open
 * or csv_reopen. */
static const char *csv_open_error(int e)
{
    return e == EWOULDBLOCK ? "another protein run writes it (it holds the "
                              "file's lock)"
                            : strerror(e);
}

/* Makes st->csv_fd st->csv, opened with mode (fdopen), or closes it.
 * Returns 0, or -1 with errno set. */
static int csv_adopt(run_state *st, const char *path, const char *mode)
{
    st->csv = fdopen(st->csv_fd, mode);
    if (!st->csv)
        return csv_drop(st);
    st->csv_fd = -1;
    st->csv_path = path;
    return 0;
}

/* Creates the --out CSV (locked by csv_lock, unless st->csv_fd holds it
 * locked already) and writes its header: trial,status,score,cost, one
 * column per parameter, then error and curve. Called before the first trial so
 * that a path that cannot be written stops the sweep before it starts. Returns
 * 0, or -1 with errno set (nothing is left open). */
static int csv_open(run_state *st, const char *path)
{
    size_t j;

    if (st->csv_fd < 0 && csv_lock(st, path, 1) < 0)
        return -1;
    if (ftruncate(st->csv_fd, 0) < 0)
        return csv_drop(st);
    if (csv_adopt(st, path, "w") < 0)
        return -1;
    fputs("trial,status,score,cost", st->csv);
    for (j = 0; j < st->cfg->n_params; j++) {
        fputc(',', st->csv);
        cli_csv_field(st->csv, st->cfg->params[j].name);
    }
    fputs(",error,curve\n", st->csv);
    st->csv_curves = 1;
    if (fflush(st->csv) != 0) {
        int e = errno;

        fclose(st->csv);
        st->csv = NULL;
        errno = e;
        return -1;
    }
    return 0;
}

/* Writes curve c as the curve column (csv.c reads it back): its points
 * "STEP SCORE COST" (COST '-' when not reported) separated by
 * CLI_CURVE_SEP; past PROTEIN_CURVE_MAX points, the first ones and the
 * last, so that the report counts W&B's hyperband compares at stay right
 * and the last report stays last. */
static void csv_curve(FILE *fp, const cli_curve *c)
{
    char step[64], score[64], cost[64];
    size_t i;

    for (i = 0; i < c->n; i++) {
        const protein_curve_point *p = &c->points[i];

        if (i >= PROTEIN_CURVE_MAX - 1 && i != c->n - 1)
            continue;
        cli_number_text(p->step, step, sizeof(step));
        cli_number_text(p->score, score, sizeof(score));
        if (p->cost > 0)
            cli_number_text(p->cost, cost, sizeof(cost));
        else
            snprintf(cost, sizeof(cost), "-");
        if (i > 0)
            fputc(CLI_CURVE_SEP, fp);
        fprintf(fp, "%s %s %s", step, score, cost);
    }
}

/* Appends the row of finished trial t to the CSV and flushes it, so that the
 * rows of finished trials survive whatever happens to the sweep later. A
 * write error is kept (the first one) for csv_close to report. */
static void csv_row(run_state *st, const run_trial *t)
{
    char text[256];
    FILE *fp = st->csv;
    size_t j;

    if (!fp || st->csv_errno)
        return;
    fprintf(fp, "%ld,%s,", t->id,
            t->status != RUN_COMPLETED ? "failed"
            : t->pruned                ? "pruned"
                                       : "completed");
    cli_number_text(t->score, text, sizeof(text));
    fprintf(fp, "%s,", text);
    cli_number_text(t->cost, text, sizeof(text));
    fputs(text, fp);
    for (j = 0; j < t->params.n; j++) {
        const pq_param *q = &t->params.items[j];

        fputc(',', fp);
        /* a string whole, however long: --resume reads it back */
        cli_param_text(q, text, sizeof(text));
        cli_csv_field(fp, q->is_string && q->text ? q->text : text);
    }
    fputc(',', fp);
    cli_csv_field(fp, t->reason);
    if (st->csv_curves) {
        fputc(',', fp);
        csv_curve(fp, &t->curve);
    }
    fputc('\n', fp);
    if (fflush(fp) != 0 || ferror(fp))
        st->csv_errno = errno ? errno : EIO;
}

/* Opens the --out CSV of a resumed sweep, locked in st->csv_fd by
 * resume_read, for appending after its first keep bytes (its header and
 * complete rows): a row cut short beyond them is cut off first. New rows
 * have a curve column when the header has one (has_curve). Returns 0, or
 * -1 with errno set (nothing is left open). */
static int csv_reopen(run_state *st, const char *path, size_t keep,
                      int has_curve)
{
    struct stat sb;

    st->csv_curves = has_curve;
    if (fstat(st->csv_fd, &sb) < 0 ||
        ((size_t)sb.st_size > keep && ftruncate(st->csv_fd, (off_t)keep) < 0) ||
        lseek(st->csv_fd, 0, SEEK_END) < 0)
        return csv_drop(st);
    return csv_adopt(st, path, "a");
}

/* Closes the CSV; returns 0, or -1 after printing which write failed. */
static int csv_close(run_state *st)
{
    int failed;

    if (!st->csv)
        return 0;
    failed = fclose(st->csv) != 0;
    if (failed && !st->csv_errno)
        st->csv_errno = errno ? errno : EIO;
    st->csv = NULL;
    if (!st->csv_errno)
        return 0;
    cli_fail(VERB,
             "cannot write %s: %s; the rows of the trials that finished before "
             "the error are in it",
             st->csv_path, strerror(st->csv_errno));
    return -1;
}

/* Stops new trials when finished trial t reached the config's
 * metric.target (the first one to reach it says so). */
static void check_target(run_state *st, const run_trial *t)
{
    if (t->status == RUN_COMPLETED && st->cfg->has_target &&
        !st->target_reached &&
        (st->cfg->minimize ? t->score <= st->cfg->target
                           : t->score >= st->cfg->target)) {
        char target[64];

        st->target_reached = 1;
        cli_number_text(st->cfg->target, target, sizeof(target));
        printf("trial %ld reached the target %s %s: no new trials\n", t->id,
               st->cfg->metric, target);
    }
}

/* Records the outcome of a trial whose child exited with `status`. A
 * trial the sweep's stopping rule stopped is pruned: recorded at its last
 * report. */
static void finish(run_state *st, run_trial *t, int status)
{
    cli_trial_verdict v;
    int ok;

    /* what the program left running in its group ends with it, as at
     * the end of a Slurm job (the group outlives its reaped leader only
     * while such processes remain, so the id is not another's) */
    if (t->pid > 0)
        kill(-t->pid, SIGTERM);
    t->pid = 0;
    st->running--;
    cli_curve_update(&t->curve, t->result_path, st->cfg->metric,
                     st->cfg->cost_metric);
    cli_trial_judge(status, t->result_path, st->cfg->metric,
                    st->cfg->cost_metric, &t->curve,
                    t->pruned ? stop_rule(st->cfg) : NULL, &v, t->reason,
                    sizeof(t->reason));
    ok = v.ok;
    t->score = v.score;
    t->cost = v.cost;
    t->status = ok ? RUN_COMPLETED : RUN_FAILED;
    /* a trial killed by a signal here crashed (protein run kills none
     * but the pruned, which are ok): counted as a failure too */
    if (ok || (v.end == CLI_TRIAL_KILLED && !t->pruned) ||
        cli_start_guard_failure(v.end, status, &v.res))
        st->broken = cli_start_guard_note(&st->start_guard, !ok, t->reason);
    if (!ok)
        st->failed++;
    else if (t->pruned)
        st->pruned++;
    else
        st->completed++;
    refresh_pending(st);
    if (ok)
        protein_observe_run(st->opt, st->cfg, t->values, t->score, t->cost,
                            t->curve.points, t->curve.n);
    else
        protein_observe(st->opt, t->values, 0.0, t->cost,
                        PROTEIN_OUTCOME_FAILURE);
    cli_progress_trial(&st->progress, t->id, ok, t->pruned, t->score, t->cost,
                       -1, t->reason, 1);
    csv_row(st, t);
    check_target(st, t);
}

/* Stops the running trials whose latest report is worse than Protein's
 * early-stop threshold at the cost that report gave, as proteind does
 * under Slurm: a report without cost= is not judged (the model's costs
 * are the ones trials report). The model is refitted before the first
 * report it judges after a trial has finished. */
static void check_early_stop(run_state *st)
{
    long finished = st->completed + st->pruned + st->failed, i;

    for (i = 0; i < st->launched; i++) {
        run_trial *t = &st->trials[i];
        const protein_curve_point *last;
        double threshold;

        if (t->status != RUN_RUNNING || t->pruned || t->pid <= 0 ||
            t->curve.n == 0)
            continue;
        last = &t->curve.points[t->curve.n - 1];
        if (!(last->cost > 0))
            continue;
        if (finished != st->stop_model_at) {
            if (protein_early_stop_refit(st->opt) != PROTEIN_OK)
                return;
            st->stop_model_at = finished;
        }
        threshold = protein_early_stop_threshold(st->opt, last->cost);
        if (!(st->cfg->minimize ? last->score > threshold
                                : last->score < threshold))
            continue;
        t->pruned = 1;
        kill(-t->pid, SIGTERM);
    }
}

/* Reads the running trials' new reports and stops those the sweep's
 * stopping rule says to stop: W&B's hyperband (early_terminate), else
 * Protein's early-stop model. */
static void check_progress(run_state *st)
{
    const cli_curve **curves;
    long i;

    for (i = 0; i < st->launched; i++) {
        run_trial *t = &st->trials[i];
        if (t->status == RUN_RUNNING)
            cli_curve_update(&t->curve, t->result_path, st->cfg->metric,
                             st->cfg->cost_metric);
    }
    if (!st->cfg->hyperband.enabled) {
        check_early_stop(st);
        return;
    }
    curves = calloc((size_t)st->launched + 1, sizeof(*curves));
    if (!curves)
        return;
    for (i = 0; i < st->launched; i++)
        curves[i] = &st->trials[i].curve;
    for (i = 0; i < st->launched; i++) {
        run_trial *t = &st->trials[i];
        if (t->status != RUN_RUNNING || t->pruned || t->pid <= 0 ||
            !cli_hyperband_stop(&st->cfg->hyperband, st->cfg->minimize, curves,
                                (size_t)st->launched, (size_t)i))
            continue;
        t->pruned = 1;
        kill(-t->pid, SIGTERM);
    }
    free(curves);
}

/* Reaps every exited child; returns how many were reaped. */
static int reap(run_state *st)
{
    int status, n = 0;
    pid_t pid;
    long i;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < st->launched; i++) {
            if (st->trials[i].status == RUN_RUNNING &&
                st->trials[i].pid == pid) {
                finish(st, &st->trials[i], status);
                n++;
                break;
            }
        }
    }
    return n;
}

/* Signals and reaps the running trials after a stop signal; they are
 * dropped (not recorded). */
static void stop_all(run_state *st)
{
    pid_t *pids = calloc((size_t)st->launched + 1, sizeof(pid_t));
    long i;

    for (i = 0; i < st->launched; i++) {
        if (st->trials[i].status != RUN_RUNNING)
            continue;
        if (pids)
            pids[i] = st->trials[i].pid;
        else
            kill(-st->trials[i].pid, SIGKILL);
    }
    if (pids)
        cli_children_stop(pids, (size_t)st->launched, CLI_STOP_GRACE_MS);
    else
        while (waitpid(-1, NULL, 0) > 0)
            ;
    free(pids);
}

/* Takes the lock of --out (csv_lock) and reads its rows back for --resume
 * into *prior. Returns 1 when the file exists (*prior holds its rows; a
 * last row cut short is dropped with a warning; st->csv_fd holds the
 * lock), 0 when it does not (said on stderr: the sweep starts anew), -1
 * after printing why it cannot be resumed. */
static int resume_read(run_state *st, const char *out,
                       const protein_sweep_config *cfg, cli_run_csv *prior)
{
    char *text = NULL, why[1536];
    size_t len;
    int rc;

    if (csv_lock(st, out, 0) < 0 && errno == ENOENT) {
        fprintf(stderr,
                "protein run: --resume: %s does not exist; starting "
                "a new sweep\n",
                out);
        return 0;
    }
    if (st->csv_fd < 0 || cli_read_file(out, &text, &len) < 0) {
        cli_fail(VERB,
                 "cannot resume %s (--out): %s; no trial was run and the "
                 "file is left as it was",
                 out, csv_open_error(errno));
        return -1;
    }
    rc = cli_run_csv_parse(out, text, len, cfg, prior, why, sizeof(why));
    free(text);
    if (rc < 0) {
        cli_fail(VERB,
                 "cannot resume: %s; no trial was run and %s is left "
                 "as it was",
                 why, out);
        return -1;
    }
    if (prior->cut_line > 0)
        fprintf(stderr,
                "protein run: %s:%ld: the last row is cut short (no newline: "
                "the runner stopped while writing it); it is dropped\n",
                out, prior->cut_line);
    return 1;
}

/* Makes the rows read back for --resume trials[0..n) of st, counted and
 * observed as finish() counts and observes finished trials (completed and
 * pruned ones at their score and cost, with their learning curves when
 * the file keeps them; failed ones as failures), taking over their
 * values, parameters and curves (which W&B's hyperband compares the new
 * trials with). New trials are numbered after the highest
 * number; the optimizer's seeded warm-up sequence goes on after the
 * points handed out before, and a grid skips the points of the resumed
 * trials. Returns 0, or -1 after printing why. */
static int resume_take(run_state *st, cli_run_csv *prior)
{
    size_t i;
    int rc;

    for (i = 0; i < prior->n; i++) {
        cli_run_row *row = &prior->rows[i];
        run_trial *t = &st->trials[i];

        memset(t, 0, sizeof(*t));
        t->id = row->id;
        t->values = row->values;
        row->values = NULL;
        t->params = row->params;
        memset(&row->params, 0, sizeof(row->params));
        t->score = row->score;
        t->cost = row->cost;
        snprintf(t->reason, sizeof(t->reason), "%s", row->error);
        t->curve.points = row->curve;
        t->curve.n = row->n_curve;
        row->curve = NULL;
        row->n_curve = 0;
        t->pruned = row->status == CLI_ROW_PRUNED;
        t->status = row->status == CLI_ROW_FAILED ? RUN_FAILED : RUN_COMPLETED;
        st->launched = st->resumed = (long)i + 1;
        if (t->status == RUN_FAILED) {
            st->failed++;
            rc = protein_observe(st->opt, t->values, 0.0, t->cost,
                                 PROTEIN_OUTCOME_FAILURE);
        } else {
            if (t->pruned)
                st->pruned++;
            else
                st->completed++;
            rc = protein_observe_run(st->opt, st->cfg, t->values, t->score,
                                     t->cost, t->curve.points, t->curve.n);
        }
        if (rc != PROTEIN_OK)
            return cli_fail(VERB,
                            "%s:%ld: trial %ld: the optimizer refused "
                            "it: %s",
                            st->csv_path, row->line, t->id,
                            protein_strerror(rc)),
                   -1;
    }
    st->next_id = prior->max_id + 1;
    if (st->cfg->method == PROTEIN_METHOD_GRID)
        st->grid_left = st->resumed;
    else
        protein_skip_handed_out(st->opt, prior->max_id, MAX_TRIALS);
    return 0;
}

/* Writes params one " name = value" line each. */
static void print_params(FILE *fp, const pq_params *params)
{
    char text[256];
    size_t i;

    for (i = 0; i < params->n; i++) {
        cli_param_text(&params->items[i], text, sizeof(text));
        fprintf(fp, "  %s = %s\n", params->items[i].name, text);
    }
}

/* The completed trial with the best score under the sweep's goal (the first
 * of equals), or NULL when none completed. */
static const run_trial *best_trial(const run_state *st)
{
    const run_trial *best = NULL;
    long i;

    for (i = 0; i < st->launched; i++) {
        const run_trial *t = &st->trials[i];

        if (t->status != RUN_COMPLETED)
            continue;
        if (!best || cli_better(st->cfg->minimize, t->score, best->score))
            best = t;
    }
    return best;
}

/* The main loop: keeps `parallel` trials running until n_trials are done
 * or a signal arrives. Returns the signal, 0 when done, -1 on error. */
static int loop(run_state *st, long parallel)
{
    int sig;

    for (;;) {
        while (!st->exhausted && !st->target_reached && !st->broken &&
               st->running < parallel && st->launched < st->n_trials) {
            int rc = launch(st);

            if (rc < 0)
                return -1;
            if (rc > 0)
                st->exhausted = 1;
        }
        cli_progress_running(&st->progress, st->running);
        if (st->running == 0)
            return 0;
        sig = cli_child_wait(1000);
        if (cli_stop_signal(sig))
            return sig;
        check_progress(st);
        reap(st);
    }
}

/* Says, on resuming from out, how many trials the CSV gave and the best
 * of them. */
static void print_resumed(const run_state *st, const char *out)
{
    const run_trial *best = best_trial(st);
    char text[64];

    printf("resuming: %ld trials from %s (", st->resumed, out);
    if (best) {
        cli_number_text(best->score, text, sizeof(text));
        printf("best so far: trial %ld, %s %s)\n", best->id,
               st->cfg->metric ? st->cfg->metric : "score", text);
    } else {
        printf("no trial completed so far)\n");
    }
}

/* Says how the sweep of `trials` trials ended: a stop by signal sig (> 0)
 * on stderr, then on stdout an exhausted grid, the counts, why trials
 * were pruned, and the best trial with its parameters. Returns that trial,
 * NULL when none completed. */
static const run_trial *print_summary(const run_state *st, int sig, long trials)
{
    const run_trial *best;

    if (sig > 0)
        fprintf(stderr,
                "protein run: %s: stopped; %ld trials finished, "
                "running ones were killed\n",
                strsignal(sig), st->completed + st->pruned + st->failed);
    if (st->exhausted && st->launched < trials)
        printf(
            "the optimizer has no more points (grid done) after %ld trials\n",
            st->launched);
    best = best_trial(st);
    cli_summary_counts(stdout, st->completed, st->pruned, st->failed);
    if (st->pruned > 0)
        printf("%ld pruned: stopped early by %s%s, recorded at their last "
               "report\n",
               st->pruned, stop_rule(st->cfg),
               st->cfg->hyperband.enabled ? " (early_terminate)" : "");
    if (best) {
        cli_summary_best(stdout, best->id, st->cfg->metric, best->score,
                         best->cost);
        print_params(stdout, &best->params);
    }
    return best;
}

/* Closes the CSV and frees what st owns: the trials (their result files
 * removed), the runner and the optimizer; st->cfg is the caller's. */
static void run_state_free(run_state *st)
{
    if (st->csv)
        fclose(st->csv);
    if (st->csv_fd >= 0)
        close(st->csv_fd);
    for (long i = 0; i < st->launched; i++) {
        cli_curve_free(&st->trials[i].curve);
        free(st->trials[i].values);
        pq_params_free(&st->trials[i].params);
        if (st->trials[i].result_path)
            unlink(st->trials[i].result_path);
        free(st->trials[i].result_path);
    }
    cli_runner_close(&st->run);
    free(st->trials);
    protein_optimizer_free(st->opt);
}

/* protein run's options (trials and seed -1 when not given). */
typedef struct run_options {
    long trials, parallel, seed, max_initial_failures;
    const char *out;
    int resume, overwrite;
} run_options;

/* Parses the options among argv[1..dash) into *o, leaving optind at the
 * first operand (CONFIG). Returns -1 to go on, else the exit status,
 * after saying why (a usage error) or printing the help. */
static int parse_run_options(int dash, char **argv, run_options *o)
{
    static const struct option longopts[] = {
        {"trials", required_argument, NULL, 't'},
        {"parallel", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"resume", no_argument, NULL, 'r'},
        {"overwrite", no_argument, NULL, 'w'},
        {"max-initial-failures", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, CLI_OPT_HELP},
        {NULL, 0, NULL, 0}};
    int c;

    *o = (run_options){.trials = -1,
                       .parallel = 1,
                       .seed = -1,
                       .max_initial_failures = CLI_MAX_INITIAL_FAILURES};
    optind = 1;
    while ((c = cli_getopt(dash, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (cli_parse_long(VERB, "--trials", optarg, 1, MAX_TRIALS,
                               &o->trials))
                return CLI_EUSAGE;
            break;
        case 'p':
            if (cli_parse_long(VERB, "--parallel", optarg, 1, 4096,
                               &o->parallel))
                return CLI_EUSAGE;
            break;
        case 's':
            if (cli_parse_long(VERB, "--seed", optarg, 0, LONG_MAX, &o->seed))
                return CLI_EUSAGE;
            break;
        case 'o': o->out = optarg; break;
        case 'r': o->resume = 1; break;
        case 'w': o->overwrite = 1; break;
        case 'f':
            if (cli_parse_long(VERB, "--max-initial-failures", optarg, 0,
                               LONG_MAX, &o->max_initial_failures))
                return CLI_EUSAGE;
            break;
        default: return cli_option_other(VERB, c, argv);
        }
    }
    if (o->resume && !o->out)
        return cli_usage_error(VERB, "--resume needs --out FILE, the CSV of "
                                     "the sweep to resume");
    if (o->overwrite && !o->out)
        return cli_usage_error(VERB, "--overwrite needs --out FILE, the CSV "
                                     "to start over");
    if (o->overwrite && o->resume)
        return cli_usage_error(VERB, "--resume goes on with FILE's sweep and "
                                     "--overwrite starts over: give one");
    return -1;
}

/* Refuses to start a new sweep over the results of an earlier one: an
 * --out FILE that exists as a regular file with something in it, given
 * without --resume or --overwrite (a rerun of the same command would
 * otherwise cut that sweep's rows). A device, a pipe or an empty file is
 * written as before. Returns 0 to go on, else CLI_EUSAGE after saying
 * why and the ways on (the exit status of an --out that cannot be
 * written). */
static int out_check(const run_options *o)
{
    struct stat sb;

    if (!o->out || o->resume || o->overwrite || stat(o->out, &sb) != 0 ||
        !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return 0;
    cli_fail(
        VERB,
        "%s (--out) exists and is not empty (%lld bytes; an earlier sweep's "
        "results?); "
        "no trial was run and the file is left as it was: add --resume to go "
        "on with that sweep, or --overwrite to start a new one over it",
        o->out, (long long)sb.st_size);
    return CLI_EUSAGE;
}

/* Contract in cli.h. */
int cmd_run(int argc, char **argv)
{
    protein_optimizer_options first_defaults = {NULL, 1};
    protein_sweep_config *cfg = NULL;
    protein_error err;
    run_state st;
    cli_run_csv prior;
    run_options o;
    const char *out;
    long trials, seed;
    const run_trial *best;
    char **exec_cmd = NULL;
    int dash, sig, has_command, resume, ret = CLI_EFAIL;
    long i;

    memset(&st, 0, sizeof(st));
    memset(&prior, 0, sizeof(prior));
    st.stop_model_at = -1;
    st.csv_fd = -1;
    st.next_id = 1;
    dash = cli_command_dash(argc, argv);
    if ((ret = parse_run_options(dash, argv, &o)) >= 0)
        return ret;
    if ((ret = out_check(&o)) != 0)
        return ret;
    ret = CLI_EFAIL;
    out = o.out;
    trials = o.trials;
    seed = o.seed;
    resume = o.resume;
    has_command = cli_command_check(VERB, "CONFIG", argc, argv, dash);
    if (has_command < 0)
        return CLI_EUSAGE;
    st.run.command = argv + dash + 1;
    cfg = cli_load_config(VERB, argv[optind], 0);
    if (!cfg)
        return CLI_EUSAGE;
    if (has_command == 1) {
        const char *dot = strrchr(argv[optind], '.');
        if (!cfg->program && !cfg->command && dot && strcmp(dot, ".ini") == 0) {
            protein_config_free(cfg);
            return cli_usage_error(
                VERB,
                "%s is a PufferLib config, which names no program: give each "
                "trial's command after '--', e.g. for PufferLib's trainer: "
                "protein run %s -- sh -c 'python3 " PROTEIN_PKGDATADIR
                "/pufferlib_train.py ENV_NAME $PROTEIN_ARGS'",
                argv[optind], argv[optind]);
        }
        if (!cfg->program && !cfg->command) {
            protein_config_free(cfg);
            return cli_usage_error(
                VERB,
                "%s has no program: or command: to run; give one after '--'",
                argv[optind]);
        }
        if (cli_program_check(VERB, argv[optind], cfg) < 0) {
            protein_config_free(cfg);
            return CLI_EUSAGE;
        }
        if (cli_exec_command(argv[optind], &exec_cmd) < 0) {
            protein_config_free(cfg);
            return cli_fail(VERB, "cannot find this program's own path");
        }
        st.run.command = exec_cmd;
    }
    if (seed >= 0) {
        cfg->has_seed = 1;
        cfg->seed = (uint64_t)seed;
    }
    if (trials < 0 && cfg->max_trials > 0)
        trials = cfg->max_trials;
    /* the optimizer paces its cost by it (a grid, which runs to its end
     * when no budget is given, paces nothing) */
    cfg->max_trials = trials > 0 ? trials : DEFAULT_TRIALS;
    st.cfg = cfg;
    st.run.sweep = sweep_name(cfg);
    if (resume) {
        resume = resume_read(&st, out, cfg, &prior);
        if (resume < 0) {
            ret = CLI_EUSAGE;
            goto done;
        }
        /* the defaults were trial 1 of the sweep resumed */
        first_defaults.use_default_first = prior.max_id == 0;
    }
    memset(&err, 0, sizeof(err));
    /* a new sweep, as proteind starts one: the config's defaults first */
    if (protein_optimizer_create(cfg, &first_defaults, &st.opt, &err) !=
        PROTEIN_OK) {
        char msg[1024];

        protein_error_format(&err, msg, sizeof(msg));
        cli_fail(VERB, "cannot create the optimizer: %s", msg);
        goto done;
    }
    if (trials < 0) { /* a grid runs to its end, as under wandb agent */
        size_t grid = protein_optimizer_grid_size(st.opt);
        trials = grid == 0           ? DEFAULT_TRIALS
                 : grid > MAX_TRIALS ? MAX_TRIALS
                                     : (long)grid;
    }
    st.n_trials = trials;
    if ((long)prior.n >= trials) {
        printf("%s holds %zu trials, and the sweep runs %ld (--trials, else "
               "the config's max_trials or its whole grid): nothing to run\n",
               out, prior.n, trials);
        ret = CLI_OK;
        goto done;
    }
    st.trials = calloc((size_t)trials, sizeof(*st.trials));
    if (!st.trials) {
        cli_fail(VERB, "out of memory for %ld trials", trials);
        goto done;
    }
    st.csv_path = out;
    if (resume > 0) {
        if (resume_take(&st, &prior) < 0)
            goto done;
        print_resumed(&st, out);
        for (i = 0; i < st.resumed; i++)
            check_target(&st, &st.trials[i]);
        fflush(stdout);
    }
    if (out && (resume > 0 && prior.keep > 0
                    ? csv_reopen(&st, out, prior.keep, prior.has_curve)
                    : csv_open(&st, out)) < 0) {
        cli_fail(VERB, "cannot write %s (--out): %s; no trial was run", out,
                 csv_open_error(errno));
        ret = CLI_EUSAGE;
        goto done;
    }
    if (cli_runner_open(VERB, &st.run) < 0)
        goto done;
    cli_progress_init(&st.progress, stdout, trials, cfg->minimize, cfg->metric);
    /* the resumed trials, as the display would have counted them */
    st.progress.finished = st.resumed;
    st.progress.failed = st.failed;
    best = best_trial(&st);
    if (best) {
        st.progress.has_best = 1;
        st.progress.best = best->score;
        st.progress.best_id = best->id;
    }
    /* resumed trials do not count: the guard is about this start */
    cli_start_guard_init(&st.start_guard, o.max_initial_failures);
    sig = loop(&st, o.parallel);
    if (sig != 0)
        stop_all(&st);
    cli_progress_end(&st.progress);
    if (st.broken)
        cli_start_guard_explain(VERB, &st.start_guard);
    best = print_summary(&st, sig, trials);
    ret = sig > 0                         ? CLI_EINTR
          : sig < 0 || !best || st.broken ? CLI_EFAIL
                                          : CLI_OK;
    if (!best && sig == 0 && !st.broken)
        fprintf(stderr,
                "protein run: no trial completed; see the failures above\n");
    if (csv_close(&st) < 0)
        ret = CLI_EFAIL;
done:
    run_state_free(&st);
    cli_run_csv_free(&prior);
    cli_strv_free(exec_cmd);
    protein_config_free(cfg);
    return ret;
}
