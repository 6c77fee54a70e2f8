/*
 * cmd_trials.c - the verbs that read a sweep's trials: trials, show, best,
 * export and plot.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "queue_model.h"

/* What the read verbs load: the sweep and (some of) its trials. */
typedef struct sweep_data {
    pq_context *ctx;
    pq_sweep_info *info;
    pq_trial_record *trials;
    size_t n;
} sweep_data;

/* The texts a trial's record takes from its jobs (the node and job id a
 * job's environment gave, the reasons written with its outcome) and its
 * parameters (a JSON \u escape decodes to any byte) without control
 * characters: a job of a shared sweep is another user's, and the sweep
 * the admin reads is its owner's; an escape sequence in them would reach
 * the reader's terminal from protein show and --format csv. */
static void strip_record(pq_trial_record *t)
{
    cli_strip_controls(t->job_id);
    cli_strip_controls(t->node);
    cli_strip_controls(t->claim_key);
    cli_strip_controls(t->error);
    cli_strip_controls(t->stopped_by);
    cli_strip_controls(t->late_key);
    for (size_t i = 0; i < t->params.n; i++) {
        cli_strip_controls(t->params.items[i].name);
        if (t->params.items[i].is_string)
            cli_strip_controls(t->params.items[i].text);
    }
}

/* Frees what d holds (trials, sweep info, connection) and zeroes d. */
static void sweep_data_free(sweep_data *d)
{
    pq_trial_records_free(d->trials, d->n);
    pq_sweep_info_free(d->info);
    pq_free(d->ctx);
    memset(d, 0, sizeof(*d));
}

/* Connects and reads the sweep and its trials in `state` (< 0: all).
 * Returns CLI_OK, or the exit status after printing why. */
static int sweep_data_load(const char *verb, const cli_redis_opts *r,
                           const char *sweep, int state, sweep_data *d)
{
    size_t skipped = 0;
    int rc, ret;

    memset(d, 0, sizeof(*d));
    if (!(sweep = cli_sweep_name(verb, sweep)))
        return CLI_EUSAGE;
    if ((ret = cli_connect(verb, r, &d->ctx)) != CLI_OK)
        return ret;
    rc = pq_sweep_get(d->ctx, sweep, &d->info);
    if (rc == PQ_OK)
        rc = pq_trial_list(d->ctx, sweep, state, &d->trials, &d->n, &skipped);
    if (rc != PQ_OK) {
        cli_queue_fail(verb, d->ctx, sweep, rc);
        sweep_data_free(d);
        return CLI_EFAIL;
    }
    cli_warn_skipped(verb, d->ctx, sweep, skipped);
    for (size_t i = 0; i < d->n; i++)
        strip_record(&d->trials[i]);
    /* printed as column names: the owner's texts, read by the admin too */
    cli_strip_controls(d->info->metric);
    cli_strip_controls(d->info->cost_metric);
    return CLI_OK;
}

/* The sweep's metric name, "score" when it names none. */
static const char *metric_of(const pq_sweep_info *info)
{
    return info->metric ? info->metric : "score";
}

/* Whether score a is better than b under the sweep's goal. */
static int better(const pq_sweep_info *info, double a, double b)
{
    return cli_better(info->goal_minimize, a, b);
}

/* Writes `, "name": T`: the time t (seconds since the epoch, to the
 * millisecond), or null when it was never set (0: a trial not started or
 * not ended, an outcome that was not late). */
static void json_time(FILE *fp, const char *name, double t)
{
    if (t > 0)
        fprintf(fp, ", \"%s\": %.3f", name, t);
    else
        fprintf(fp, ", \"%s\": null", name);
}

/* Writes one trial as a JSON object (no newline). */
static void trial_json(FILE *fp, const pq_trial_record *t)
{
    char *params = NULL;
    char num[64];

    fprintf(fp, "{\"trial\": %ld, \"status\": ", t->id);
    cli_json_string(fp, pq_trial_state_name(t->state));
    cli_number_text(t->has_score ? t->score : NAN, num, sizeof(num));
    fprintf(fp, ", \"score\": %s", t->has_score ? num : "null");
    cli_number_text(t->has_cost ? t->cost : NAN, num, sizeof(num));
    fprintf(fp, ", \"cost\": %s", t->has_cost ? num : "null");
    fprintf(fp, ", \"params\": %s",
            pq_params_to_json(&t->params, &params) == PQ_OK ? params : "null");
    free(params);
    fputs(", \"job_id\": ", fp);
    cli_json_string(fp, t->job_id);
    fputs(", \"node\": ", fp);
    cli_json_string(fp, t->node);
    fprintf(fp,
            ", \"array_index\": %ld, \"attempts\": %d, \"retries\": %d, "
            "\"fallback\": %s, \"exit_status\": %d",
            t->array_index, t->attempts, t->retries,
            t->fallback ? "true" : "false", t->exit_status);
    json_time(fp, "started_at", t->started_at);
    json_time(fp, "ended_at", t->ended_at);
    fputs(", \"error\": ", fp);
    cli_json_string(fp, t->error);
    fputs(", \"late_key\": ", fp);
    cli_json_string(fp, t->late_key);
    json_time(fp, "late_expired_at", t->late_key ? t->late_expired_at : 0);
    fputs(", \"stopped_by\": ", fp);
    cli_json_string(fp, t->stop_requested ? t->stopped_by : NULL);
    if (t->has_progress) {
        cli_number_text(t->progress_step, num, sizeof(num));
        fprintf(fp, ", \"progress_step\": %s", num);
        cli_number_text(t->progress_score, num, sizeof(num));
        fprintf(fp, ", \"progress_score\": %s", num);
    }
    fputc('}', fp);
}

/* Appends name to cols (n_cols of them) unless it is there. Returns 0,
 * -1 out of memory. */
static int add_column(const char ***cols, size_t *n_cols, const char *name)
{
    const char **grown;
    size_t k;

    for (k = 0; k < *n_cols; k++)
        if (strcmp((*cols)[k], name) == 0)
            return 0;
    grown = realloc(*cols, (*n_cols + 1) * sizeof(**cols));
    if (!grown)
        return -1;
    *cols = grown;
    (*cols)[(*n_cols)++] = name;
    return 0;
}

/* The parameter columns of the sweep's CSV: the stored config's
 * parameters in config order, so that the header does not depend on which
 * trials are listed (none, or a --status that matches none), then any
 * other name a trial has (a config that cannot be read: every name seen,
 * in first-seen order). *cfg (free with protein_config_free, NULL when
 * unreadable) owns the config's names; the trials own the others.
 * Returns the count; *names is malloc'ed. */
static size_t param_columns(const sweep_data *d, protein_sweep_config **cfg,
                            const char ***names)
{
    const char **cols = NULL;
    size_t n_cols = 0, i, j;
    protein_error err;

    memset(&err, 0, sizeof(err));
    *cfg = NULL;
    if (d->info->config_yaml &&
        pq_model_load_config(d->info->name, d->info->config_yaml,
                             strlen(d->info->config_yaml), cfg,
                             &err) != PROTEIN_OK)
        *cfg = NULL;
    for (j = 0; *cfg && j < (*cfg)->n_params; j++)
        if (add_column(&cols, &n_cols, (*cfg)->params[j].name) < 0)
            goto done;
    for (i = 0; i < d->n; i++)
        for (j = 0; j < d->trials[i].params.n; j++)
            if (add_column(&cols, &n_cols, d->trials[i].params.items[j].name) <
                0)
                goto done;
done:
    *names = cols;
    return n_cols;
}

/* Writes d's trials as CSV on stdout: trial, status, score, cost, a column
 * per parameter (param_columns' order), job id, node, and why it failed or
 * was pruned. */
static void print_csv(const sweep_data *d)
{
    protein_sweep_config *cfg;
    const char **cols = NULL;
    size_t n_cols = param_columns(d, &cfg, &cols), i, j;
    const char *why;
    char text[256];

    fputs("trial,status,score,cost", stdout);
    for (j = 0; j < n_cols; j++) {
        putchar(',');
        cli_csv_field(stdout, cols[j]);
    }
    puts(",job_id,node,error");
    for (i = 0; i < d->n; i++) {
        const pq_trial_record *t = &d->trials[i];

        printf("%ld,%s,", t->id, pq_trial_state_name(t->state));
        cli_number_text(t->has_score ? t->score : NAN, text, sizeof(text));
        printf("%s,", text);
        cli_number_text(t->has_cost ? t->cost : NAN, text, sizeof(text));
        fputs(text, stdout);
        for (j = 0; j < n_cols; j++) {
            const pq_param *q = pq_model_find_param(&t->params, cols[j]);

            putchar(',');
            if (q) {
                cli_param_text(q, text, sizeof(text));
                cli_csv_field(stdout, text);
            }
        }
        putchar(',');
        cli_csv_field(stdout, t->job_id ? t->job_id : "");
        putchar(',');
        cli_csv_field(stdout, t->node ? t->node : "");
        putchar(',');
        /* a pruned trial says why, as protein run's CSV does */
        why = t->error ? t->error : "";
        if (!t->error && t->state == PQ_TRIAL_PRUNED) {
            snprintf(text, sizeof(text), "stopped by %s",
                     t->stopped_by ? t->stopped_by : "the sweep");
            why = text;
        } else if (!t->error && t->late_key) {
            snprintf(text, sizeof(text),
                     "recorded late: the lease of %.128s had expired",
                     t->late_key);
            why = text;
        }
        cli_csv_field(stdout, why);
        putchar('\n');
    }
    free(cols);
    protein_config_free(cfg);
}

/* One table row: id, status, score, cost, then name=value pairs, and a
 * fallback point marked so. */
static void print_row(const pq_trial_record *t)
{
    char text[256];
    size_t j;

    printf("%6ld  %-11s ", t->id, pq_trial_state_name(t->state));
    if (t->has_score)
        printf("%12.6g ", t->score);
    else
        printf("%12s ", "-");
    if (t->has_cost)
        printf("%10.4g ", t->cost);
    else
        printf("%10s ", "-");
    for (j = 0; j < t->params.n; j++) {
        cli_param_text(&t->params.items[j], text, sizeof(text));
        printf(" %s=%s", t->params.items[j].name, text);
    }
    /* as protein show says it: not the model's point */
    if (t->fallback)
        fputs("  (fallback point)", stdout);
    if (t->late_key)
        fputs("  (recorded late: its lease had expired)", stdout);
    putchar('\n');
}

/* The heading of protein trials' table, matching print_row's columns. */
static void print_header(const pq_sweep_info *info)
{
    printf("%6s  %-11s %12s %10s  %s\n", "TRIAL", "STATUS", metric_of(info),
           "COST", "PARAMETERS");
}

/* Contract in cli.h. */
int cmd_trials(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"status", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 's'}, /* the old name */
        {"format", required_argument, NULL, 'f'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *verb = argv[0], *format = "table";
    cli_redis_opts r = {0};
    sweep_data d;
    int c, state = -1, ret;
    size_t i;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        switch (c) {
        case 's':
            state = pq_trial_state_parse(optarg);
            if (state < 0)
                return cli_usage_error(
                    verb,
                    "--status: unknown status '%s'; write queued, running, "
                    "completed, failed, interrupted, lost or pruned",
                    optarg);
            break;
        case 'f':
            format = optarg;
            if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 &&
                strcmp(format, "json") != 0)
                return cli_usage_error(
                    verb, "--format: '%s' is not table, csv or json", format);
            break;
        default: return cli_option_other(verb, c, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(verb, "expected one sweep NAME");
    ret = sweep_data_load(verb, &r, argv[optind], state, &d);
    if (ret != CLI_OK)
        return ret;
    if (strcmp(format, "csv") == 0) {
        print_csv(&d);
    } else if (strcmp(format, "json") == 0) {
        putchar('[');
        for (i = 0; i < d.n; i++) {
            fputs(i ? ",\n " : "", stdout);
            trial_json(stdout, &d.trials[i]);
        }
        puts("]");
    } else {
        print_header(d.info);
        for (i = 0; i < d.n; i++)
            print_row(&d.trials[i]);
    }
    sweep_data_free(&d);
    return CLI_OK;
}

/* Contract in cli.h. */
int cmd_export(int argc, char **argv)
{
    cli_redis_opts r = {0};
    sweep_data d;
    char *pos[1];
    int ret = CLI_OK;
    size_t i;

    if (cli_parse_simple(argc, argv, &r, NULL, pos, &ret) < 0)
        return ret;
    ret = sweep_data_load(argv[0], &r, pos[0], -1, &d);
    if (ret != CLI_OK)
        return ret;
    for (i = 0; i < d.n; i++) {
        trial_json(stdout, &d.trials[i]);
        putchar('\n');
    }
    sweep_data_free(&d);
    return CLI_OK;
}

/* A "label time" line of protein show, left out when t is 0 (never set). */
static void print_time_field(const char *label, double t)
{
    char buf[64];

    if (t > 0) {
        cli_time_text(t, buf, sizeof(buf));
        printf("%-12s %s\n", label, buf);
    }
}

/* Contract in cli.h. */
int cmd_show(int argc, char **argv)
{
    cli_redis_opts r = {0};
    pq_context *ctx;
    pq_trial_record *t = NULL;
    char *pos[2], text[256];
    long id;
    int ret = CLI_OK, rc;
    size_t j;

    if (cli_parse_simple(argc, argv, &r, "TRIAL", pos, &ret) < 0)
        return ret;
    if (cli_parse_long(argv[0], "TRIAL", pos[1], 1, 1L << 53, &id))
        return CLI_EUSAGE;
    if ((ret = cli_connect(argv[0], &r, &ctx)) != CLI_OK)
        return ret;
    rc = pq_trial_get(ctx, pos[0], id, &t);
    if (rc == PQ_ENOTRIAL) {
        ret = cli_fail(argv[0], "sweep %s has no trial %ld", pos[0], id);
        goto done;
    }
    if (rc != PQ_OK) {
        ret = cli_queue_fail(argv[0], ctx, pos[0], rc);
        goto done;
    }
    strip_record(t);
    printf("%-12s %s\n%-12s %ld\n%-12s %s%s\n", "sweep", pos[0], "trial", t->id,
           "status", pq_trial_state_name(t->state),
           t->fallback ? " (fallback point)" : "");
    if (t->has_score) {
        cli_number_text(t->score, text, sizeof(text));
        printf("%-12s %s\n", "score", text);
    }
    if (t->has_cost)
        printf("%-12s %.6g\n", "cost", t->cost);
    for (j = 0; j < t->params.n; j++) {
        cli_param_text(&t->params.items[j], text, sizeof(text));
        printf("param        %s = %s\n", t->params.items[j].name, text);
    }
    if (t->job_id)
        printf("%-12s %s\n", "job", t->job_id);
    if (t->array_index >= 0)
        printf("%-12s %ld\n", "array index", t->array_index);
    if (t->node)
        printf("%-12s %s\n", "node", t->node);
    if (t->claim_key)
        printf("%-12s %s\n", "claim key", t->claim_key);
    printf("%-12s %d (retries %d)\n", "attempts", t->attempts, t->retries);
    print_time_field("started", t->started_at);
    print_time_field("claimed", t->claimed_at);
    print_time_field("ended", t->ended_at);
    print_time_field("deadline", t->deadline);
    if (t->state == PQ_TRIAL_FAILED)
        printf("%-12s %d\n", "exit status", t->exit_status);
    if (t->error)
        printf("%-12s %s\n", "error", t->error);
    if (t->late_key) {
        cli_time_text(t->late_expired_at, text, sizeof(text));
        printf("%-12s recorded from %s after its lease expired at %s (the "
               "task was suspended or ran past its lease, and finished)\n",
               "late", t->late_key, text);
    }
    if (t->has_progress) {
        char step[64];

        cli_number_text(t->progress_step, step, sizeof(step));
        cli_number_text(t->progress_score, text, sizeof(text));
        printf("%-12s step %s, score %s (%ld report%s)\n", "progress", step,
               text, t->progress_n, t->progress_n == 1 ? "" : "s");
    }
    if (t->stop_requested)
        printf("%-12s yes%s%s%s\n", "stop asked", t->stopped_by ? " (" : "",
               t->stopped_by ? t->stopped_by : "", t->stopped_by ? ")" : "");
done:
    pq_trial_records_free(t, t ? 1 : 0);
    pq_free(ctx);
    return ret;
}

/* Ranks the completed trials on the score/cost Pareto front, computed by
 * the optimizer (core) from the sweep's stored config (its cost axis is the
 * config's cost_param when set, else the trial cost): front[i] is the
 * 1-based position of d->trials[i] in the core's order (cheapest first),
 * 0 when it is not on the front. Returns 0, or -1 when the config cannot be
 * used (printed). */
static int pareto_ranks(const char *verb, const sweep_data *d, size_t *front)
{
    protein_sweep_config *cfg = NULL;
    protein_optimizer *opt = NULL;
    protein_error err;
    double *values = NULL;
    size_t *order = NULL, *idx = NULL, n_obs = 0, n_front, rank, i;
    int ret = -1;
    char msg[1024];

    memset(&err, 0, sizeof(err));
    if (!d->info->config_yaml ||
        pq_model_load_config(d->info->name, d->info->config_yaml,
                             strlen(d->info->config_yaml), &cfg,
                             &err) != PROTEIN_OK ||
        protein_optimizer_create(cfg, NULL, &opt, &err) != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof(msg));
        cli_fail(verb, "cannot compute the Pareto front: %s", msg);
        goto done;
    }
    values = calloc(cfg->n_params + 1, sizeof(double));
    order = calloc(d->n + 1, sizeof(size_t));
    idx = calloc(d->n + 1, sizeof(size_t));
    if (!values || !order || !idx)
        goto done;
    for (i = 0; i < d->n; i++) {
        const pq_trial_record *t = &d->trials[i];

        front[i] = 0;
        if (t->state != PQ_TRIAL_COMPLETED || !t->has_score || !t->has_cost ||
            pq_model_params_to_values(cfg, &t->params, values, &err) !=
                PROTEIN_OK ||
            protein_observe(opt, values, t->score, t->cost > 0 ? t->cost : 1e-9,
                            PROTEIN_OUTCOME_SUCCESS) != PROTEIN_OK)
            continue;
        order[n_obs++] = i;
    }
    if (protein_pareto_front(opt, idx, n_obs, &n_front) != PROTEIN_OK)
        goto done;
    for (i = 0, rank = 0; i < n_front; i++)
        if (idx[i] < n_obs && !front[order[idx[i]]])
            front[order[idx[i]]] = ++rank;
    ret = 0;
done:
    free(values);
    free(order);
    free(idx);
    protein_optimizer_free(opt);
    protein_config_free(cfg);
    return ret;
}

static const sweep_data *sort_data; /* qsort has no context argument */

/* qsort order of indices into sort_data's trials: best score first under
 * the sweep's goal, ties by trial number. */
static int by_score(const void *a, const void *b)
{
    const pq_trial_record *x = &sort_data->trials[*(const size_t *)a];
    const pq_trial_record *y = &sort_data->trials[*(const size_t *)b];

    if (better(sort_data->info, x->score, y->score))
        return -1;
    if (better(sort_data->info, y->score, x->score))
        return 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Contract in cli.h. */
int cmd_best(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"top", required_argument, NULL, 'k'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *verb = argv[0];
    cli_redis_opts r = {0};
    sweep_data d;
    size_t *order = NULL, *front = NULL, n_done = 0, n_front = 0, i;
    long top = 5;
    int c, ret;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        if (c != 'k')
            return cli_option_other(verb, c, argv);
        if (cli_parse_long(verb, "--top", optarg, 1, 1000000, &top))
            return CLI_EUSAGE;
    }
    if (argc - optind != 1)
        return cli_usage_error(verb, "expected one sweep NAME");
    ret = sweep_data_load(verb, &r, argv[optind], PQ_TRIAL_COMPLETED, &d);
    if (ret != CLI_OK)
        return ret;
    order = calloc(d.n + 1, sizeof(size_t));
    front = calloc(d.n + 1, sizeof(size_t));
    if (!order || !front) {
        ret = cli_fail(verb, "out of memory");
        goto done;
    }
    for (i = 0; i < d.n; i++)
        if (d.trials[i].has_score)
            order[n_done++] = i;
    if (n_done == 0) {
        ret =
            cli_fail(verb, "sweep %s has no completed trial yet", d.info->name);
        goto done;
    }
    sort_data = &d;
    qsort(order, n_done, sizeof(size_t), by_score);
    printf("best %ld of %zu completed trials (%s %s):\n",
           top < (long)n_done ? top : (long)n_done, n_done,
           d.info->goal_minimize ? "minimize" : "maximize", metric_of(d.info));
    print_header(d.info);
    for (i = 0; i < n_done && (long)i < top; i++)
        print_row(&d.trials[order[i]]);
    if (pareto_ranks(verb, &d, front) < 0) {
        ret = CLI_EFAIL;
        goto done;
    }
    for (i = 0; i < d.n; i++)
        if (front[i]) {
            order[front[i] - 1] = i;
            n_front++;
        }
    printf("\nPareto front (%s vs cost, cheapest first):\n", metric_of(d.info));
    print_header(d.info);
    for (i = 0; i < n_front; i++)
        print_row(&d.trials[order[i]]);
done:
    free(order);
    free(front);
    sweep_data_free(&d);
    return ret;
}

/* Contract in cli.h. */
int cmd_plot(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *verb = argv[0];
    cli_redis_opts r = {0};
    cli_plot_point *points = NULL;
    sweep_data d;
    const char *out_arg = NULL;
    char *out;
    size_t *front = NULL;
    size_t n = 0, i;
    FILE *fp;
    int c, ret;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        if (c != 'o')
            return cli_option_other(verb, c, argv);
        out_arg = optarg;
    }
    if (argc - optind != 1)
        return cli_usage_error(verb, "expected one sweep NAME");
    if (out_arg)
        out = strdup(out_arg);
    else if (asprintf(&out, "%s.svg",
                      strrchr(argv[optind], '/')
                          ? strrchr(argv[optind], '/') + 1
                          : argv[optind]) < 0)
        out = NULL;
    if (!out)
        return cli_fail(verb, "out of memory");
    ret = sweep_data_load(verb, &r, argv[optind], PQ_TRIAL_COMPLETED, &d);
    if (ret != CLI_OK) {
        free(out);
        return ret;
    }
    points = calloc(d.n + 1, sizeof(*points));
    front = calloc(d.n + 1, sizeof(size_t));
    if (!points || !front) {
        ret = cli_fail(verb, "out of memory");
        goto done;
    }
    if (pareto_ranks(verb, &d, front) < 0) {
        ret = CLI_EFAIL;
        goto done;
    }
    for (i = 0; i < d.n; i++) {
        if (!d.trials[i].has_score)
            continue;
        points[n].id = d.trials[i].id;
        points[n].score = d.trials[i].score;
        points[n].cost = d.trials[i].has_cost ? d.trials[i].cost : NAN;
        points[n].on_front = front[i] > 0;
        n++;
    }
    fp = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
    if (!fp) {
        ret = cli_fail(verb, "cannot write %s: %s", out, strerror(errno));
        goto done;
    }
    c = cli_plot_svg(fp, d.info->name, points, n, d.info->goal_minimize,
                     metric_of(d.info));
    if (fp != stdout && fclose(fp) != 0)
        c = -1;
    if (c < 0) {
        ret = cli_fail(verb, "cannot write %s: %s", out, strerror(errno));
        goto done;
    }
    if (fp != stdout)
        printf("wrote %s (%zu completed trials)\n", out, n);
    ret = CLI_OK;
done:
    free(points);
    free(front);
    free(out);
    sweep_data_free(&d);
    return ret;
}
