/*
 * cmd_sweep.c - the verbs that create, inspect and control sweeps in Redis:
 * create, list, status, pause/resume/stop/cancel and delete.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "queue_model.h"

/* The fallback pool holds max_trials points when the sweep has a budget up
 * to this size (so fallback points never repeat); other sweeps start with
 * this many and proteind tops the pool up. */
#define MAX_FALLBACK 4096

/* The array throttle `protein create` suggests: one task at a time per
 * TRIALS_PER_RUNNING trials of the budget, from MIN_RUNNING to
 * MAX_RUNNING. A trial is chosen without the results of the trials
 * still running, and on the peer bench sweeps of 40-80 trials found
 * about what sequential ones find with 2 or 4 running, and clearly less
 * with 8 or 16; at 240 trials 16 running still lost on three problems
 * of five (docs/benchmarks.md, sixteenth round). More at once finishes
 * sooner, so the suggestion grows with the budget, up to the widest
 * measured. */
#define TRIALS_PER_RUNNING 15
#define MIN_RUNNING 2
#define MAX_RUNNING 16
/* The array `protein create` suggests for a sweep without a budget. */
#define UNBUDGETED_ARRAY 100

/* What to do when a stopped sweep is resumed, paused or given a budget:
 * a stop is final (user-guide.md, protein budget). */
#define STOPPED_WAY_ON "create a new sweep (protein create CONFIG --name NEW)"

/* How many of an array of `tasks` sweep tasks to run at once (see
 * TRIALS_PER_RUNNING). */
static long suggested_running(long tasks)
{
    long n = tasks / TRIALS_PER_RUNNING;

    return n < MIN_RUNNING ? MIN_RUNNING : n > MAX_RUNNING ? MAX_RUNNING : n;
}

/* Whether the full sweep name OWNER/NAME names a sweep of the user
 * running this command. */
static int owned_by_caller(const char *full)
{
    const char *user = cli_user_name();
    size_t n = user ? strlen(user) : 0;

    return user && strncmp(full, user, n) == 0 && full[n] == '/';
}

/* The sweep name of a config: --name, the config's name, else the file
 * name without directory and extension. Malloc'ed. */
static char *sweep_name_for(const char *given, const protein_sweep_config *cfg,
                            const char *path)
{
    const char *base;
    size_t len;

    if (given)
        return strdup(given);
    if (cfg->name)
        return strdup(cfg->name);
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    len = strcspn(base, ".");
    return strndup(base, len);
}

/* The text protein create stores for the config file at path (cfg, as
 * read): the file itself, or for an INI file, which the stored text may
 * not be, cfg as canonical YAML. 0 with *yaml malloc'ed, or -1 after
 * saying why. */
static int stored_yaml(const char *verb, const char *path,
                       const protein_sweep_config *cfg, char **yaml)
{
    size_t len;

    if (strlen(path) > 4 && strcmp(path + strlen(path) - 4, ".ini") == 0) {
        if (protein_config_to_yaml(cfg, yaml) != PROTEIN_OK) {
            cli_fail(verb, "%s: cannot convert to YAML", path);
            return -1;
        }
    } else if (cli_read_file(path, yaml, &len) < 0) {
        cli_fail(verb, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Says what protein create made of cfg (read from path) as sweep `name`
 * (a grid of `grid` points, a budget of `size` trials, 0 for none) and
 * how to run its trials: the sbatch array line, its width by method, how
 * a batch script starts the config's program, and protein agent. */
static void print_created(const protein_sweep_config *cfg, const char *path,
                          const char *name, long grid, long size)
{
    long tasks, running;

    printf("created sweep %s: %zu parameter%s, %s %s, ", name, cfg->n_params,
           cfg->n_params == 1 ? "" : "s",
           cfg->minimize ? "minimize" : "maximize",
           cfg->metric ? cfg->metric : "score");
    if (cfg->max_trials > 0)
        printf("budget %ld trials", cfg->max_trials);
    else
        printf("no trial budget");
    if (grid > 0)
        printf(", a grid of %ld points (each run once)", grid);
    printf("\n");
    tasks = size > 0 ? size : UNBUDGETED_ARRAY;
    if (cfg->method == PROTEIN_METHOD_PROTEIN) {
        running = suggested_running(tasks);
        printf("run trials with:\n  sbatch --array=0-%ld%%%ld --sweep=%s "
               "your.sbatch\n"
               "  (%ld at a time: each trial is chosen without the results "
               "of those still running,\n  so more at once finish sooner "
               "but find less; see the user guide)\n",
               tasks - 1, running, name, running);
    } else {
        /* random and grid trials never depend on results: width is free */
        running = tasks < MAX_RUNNING ? tasks : MAX_RUNNING;
        printf("run trials with:\n  sbatch --array=0-%ld%%%ld --sweep=%s "
               "your.sbatch\n"
               "  (%s trials do not depend on each other's results: run as "
               "many at once\n  as your share of the cluster allows)\n",
               tasks - 1, running, name,
               cfg->method == PROTEIN_METHOD_GRID ? "grid" : "random search");
    }
    /* a W&B user's batch script has no other way to start the program */
    if (cfg->program || cfg->command)
        printf("  (your.sbatch runs the config's program with: protein exec "
               "%s)\n",
               path);
    printf("or, outside Slurm:\n  protein agent %s%s\n", name,
           cfg->program || cfg->command ? "  (runs the config's program)"
                                        : " -- COMMAND");
}

/* Contract in cli.h. */
int cmd_create(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},
        {"shared", no_argument, NULL, 's'},
        {"lease", required_argument, NULL, 'l'},
        {"max-retries", required_argument, NULL, 'r'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *verb = argv[0], *given = NULL, *path, *full;
    cli_redis_opts r = {0};
    protein_sweep_config *cfg = NULL;
    pq_context *ctx = NULL;
    pq_params *fallback = NULL;
    pq_sweep_spec spec;
    long bands[PROTEIN_HYPERBAND_BANDS_MAX], grid, size, pool;
    char *name = NULL, *yaml = NULL;
    size_t n_fallback = 0;
    long lease = 0, retries = 0;
    int c, shared = 0, rc, ret = CLI_EFAIL;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        switch (c) {
        case 'n': given = optarg; break;
        case 's': shared = 1; break;
        case 'l':
            if (cli_parse_long(verb, "--lease", optarg, 1, INT_MAX, &lease))
                return CLI_EUSAGE;
            break;
        case 'r':
            if (cli_parse_long(verb, "--max-retries", optarg, 0, 1000,
                               &retries))
                return CLI_EUSAGE;
            break;
        default: return cli_option_other(verb, c, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(verb, argc - optind < 1 ? "missing CONFIG"
                                                       : "too many arguments");
    path = argv[optind];
    cfg = cli_load_config(verb, path, 0);
    if (!cfg)
        return CLI_EUSAGE;
    name = sweep_name_for(given, cfg, path);
    if (!name) {
        ret = cli_fail(verb, "out of memory");
        goto done;
    }
    /* cli_sweep_name says what is wrong; a name not given by --name is
     * one the config loader already checked, so only the owner can fail. */
    full = cli_sweep_name(verb, name);
    if (!full) {
        ret = CLI_EUSAGE;
        goto done;
    }
    /* Another user's namespace is theirs: a sweep created there would
     * belong to you while its name says it is theirs, and take a name
     * they may want. Their Redis user's keys are closed to yours where
     * the server has ACL users; this says so where it has not. */
    if (!owned_by_caller(full)) {
        ret = cli_usage_error(
            verb,
            "sweep '%s': you can create only your own sweeps, named NAME or "
            "%s/NAME",
            full, cli_user_name() ? cli_user_name() : "USER");
        goto done;
    }
    free(name);
    if (!(name = strdup(full))) {
        ret = cli_fail(verb, "out of memory");
        goto done;
    }
    if (stored_yaml(verb, path, cfg, &yaml) < 0)
        goto done;
    /* A grid hands out its points once, as W&B's does: its size is a
     * budget. */
    grid = pq_model_grid_points(cfg);
    size = cfg->max_trials > 0 ? cfg->max_trials : 0;
    if (grid > 0 && (size == 0 || grid < size))
        size = grid;
    /* The pool: max_trials points, or a grid's, past max_trials too (a
     * trial lost for good gives its budget slot back, and the next claim
     * takes the grid's next point); at most MAX_FALLBACK. */
    pool = grid > 0 ? grid : size;
    n_fallback = pool > 0 && pool < MAX_FALLBACK ? (size_t)pool : MAX_FALLBACK;
    /* The defaults first: they are the first trial's values, also when no
     * coordinator runs and the first claim takes the pool's first point. */
    rc = pq_model_fallback_points(
        cfg, cfg->has_seed ? cfg->seed : (uint64_t)time(NULL), 0, n_fallback, 1,
        &fallback);
    if (rc != PROTEIN_OK) {
        cli_fail(verb, "cannot draw fallback points: %s", protein_strerror(rc));
        n_fallback = 0;
        goto done;
    }
    if ((ret = cli_connect(verb, &r, &ctx)) != CLI_OK)
        goto done;
    ret = CLI_EFAIL;
    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.config_yaml = yaml;
    spec.metric = cfg->metric;
    spec.cost_metric = cfg->cost_metric;
    spec.goal_minimize = cfg->minimize;
    spec.max_trials = cfg->max_trials;
    spec.owner_uid = (long)getuid();
    spec.shared = shared;
    spec.lease_seconds = (int)lease;
    spec.max_retries = (int)retries;
    spec.fallback = fallback;
    spec.n_fallback = n_fallback;
    spec.grid_points = grid;
    pq_model_stopping(cfg, &spec, bands);
    rc = pq_sweep_create(ctx, &spec);
    if (rc == PQ_EEXISTS) {
        cli_fail(
            verb,
            "sweep '%s' already exists (protein delete %s, or --name another)",
            name, name);
        goto done;
    }
    if (rc != PQ_OK) {
        cli_queue_fail(verb, ctx, name, rc);
        goto done;
    }
    print_created(cfg, path, name, grid, size);
    ret = CLI_OK;
done:
    if (fallback)
        pq_params_array_free(fallback, n_fallback);
    pq_free(ctx);
    free(yaml);
    free(name);
    protein_config_free(cfg);
    return ret;
}

/* Contract in cli.h. */
int cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {{"all", no_argument, NULL, 'a'},
                                             CLI_REDIS_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    cli_redis_opts r = {0};
    pq_context *ctx;
    char **names = NULL, **cut = NULL;
    const char *user = cli_user_name();
    size_t n = 0, n_cut = 0, i;
    int ret = CLI_OK, rc, c, all = 0;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        if (c != 'a')
            return cli_option_other(argv[0], c, argv);
        all = 1;
    }
    if (optind < argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'",
                               argv[optind]);
    if (!all && !user)
        return cli_usage_error(argv[0], "your login name is not one protein "
                                        "accepts as an owner: use --all");
    if ((ret = cli_connect(argv[0], &r, &ctx)) != CLI_OK)
        return ret;
    rc = all ? pq_sweep_list(ctx, &names, &n, &cut, &n_cut)
             : pq_sweep_list_owned(ctx, user, &names, &n);
    if (rc != PQ_OK) {
        ret = cli_queue_fail(argv[0], ctx, NULL, rc);
        goto done;
    }
    for (i = 0; i < n_cut; i++)
        fprintf(stderr,
                "protein %s: warning: user %s's index holds over %d entries: "
                "only sweeps among its first %d are listed (protein list as "
                "%s lists them all)\n",
                argv[0], cut[i], PQ_OWNER_INDEX_MAX, PQ_OWNER_INDEX_MAX,
                cut[i]);
    if (n > 0)
        printf("%-24s %-8s %9s %9s %7s %6s  %s\n", "NAME", "STATE", "TRIALS",
               "COMPLETED", "RUNNING", "FAILED", "COORDINATOR");
    else /* on stderr: a script reading stdout still gets no line */
        fprintf(stderr,
                "protein %s: no sweeps%s in Redis at %s (protein "
                "create CONFIG stores one)\n",
                argv[0], all ? "" : " of yours", ctx->url);
    for (i = 0; i < n; i++) {
        pq_sweep_info *info = NULL;
        char budget[48];

        if (pq_sweep_get(ctx, names[i], &info) != PQ_OK)
            continue; /* deleted between the list and the read */
        if (info->max_trials > 0)
            snprintf(budget, sizeof(budget), "%ld/%ld", info->n_trials,
                     info->max_trials);
        else
            snprintf(budget, sizeof(budget), "%ld", info->n_trials);
        printf("%-24s %-8s %9s %9ld %7ld %6ld  %s\n", info->name,
               pq_sweep_state_name(info->state), budget,
               info->counts[PQ_TRIAL_COMPLETED], info->counts[PQ_TRIAL_RUNNING],
               info->counts[PQ_TRIAL_FAILED],
               info->coordinator_alive ? "alive" : "none");
        pq_sweep_info_free(info);
    }
done:
    pq_strings_free(names, n);
    pq_strings_free(cut, n_cut);
    pq_free(ctx);
    return ret;
}

/* Contract in cli.h. */
int cmd_status(int argc, char **argv)
{
    cli_redis_opts r = {0};
    pq_context *ctx;
    pq_sweep_info *info = NULL;
    char *pos[1], when[64];
    int ret = CLI_OK, rc, s;

    if (cli_parse_simple(argc, argv, &r, NULL, pos, &ret) < 0)
        return ret;
    if ((ret = cli_connect(argv[0], &r, &ctx)) != CLI_OK)
        return ret;
    rc = pq_sweep_get(ctx, pos[0], &info);
    if (rc != PQ_OK) {
        ret = cli_queue_fail(argv[0], ctx, pos[0], rc);
        goto done;
    }
    /* the admin's terminal shows what the sweep's owner stored */
    cli_strip_controls(info->stopped_by);
    cli_strip_controls(info->metric);
    cli_strip_controls(info->cost_metric);
    cli_strip_controls(info->coordinator);
    cli_strip_controls(info->last_refit_backend);
    printf("sweep %s: %s%s%s%s\n", info->name, pq_sweep_state_name(info->state),
           info->stopped_by ? " (" : "",
           info->stopped_by ? info->stopped_by : "",
           info->stopped_by ? ")" : "");
    printf("metric: %s (%s), cost: %s\n", info->metric ? info->metric : "score",
           info->goal_minimize ? "minimize" : "maximize",
           info->cost_metric ? info->cost_metric : "cost");
    if (info->max_trials > 0)
        printf("budget: %ld of %ld trials handed out\n", info->n_trials,
               info->max_trials);
    else
        printf("budget: %ld trials handed out, no limit\n", info->n_trials);
    if (info->grid_points > 0)
        printf("grid: %ld of %ld points handed out\n",
               info->fallback_next < info->grid_points ? info->fallback_next
                                                       : info->grid_points,
               info->grid_points);
    printf("trials:");
    for (s = 0; s < PQ_TRIAL_NSTATES; s++)
        printf(" %s %ld%s", pq_trial_state_name((pq_trial_state)s),
               info->counts[s], s + 1 < PQ_TRIAL_NSTATES ? "," : "\n");
    printf("queue: %ld ready, %ld to retry; fallback pool: %ld of %zu "
           "points handed out%s\n",
           info->queue_depth, info->retry_depth,
           info->fallback_next < (long)info->n_fallback
               ? info->fallback_next
               : (long)info->n_fallback,
           info->n_fallback,
           info->fallback_next > (long)info->n_fallback && info->n_fallback > 0
               ? " (now handed out again from its start)"
               : "");
    if (info->coordinator_alive)
        printf("coordinator: alive (%s)\n",
               info->coordinator ? info->coordinator : "?");
    else if (info->state == PQ_SWEEP_STOPPED)
        printf("coordinator: none (the sweep is stopped)\n");
    else if (pq_budget_spent(info->max_trials, info->n_trials,
                             info->counts[PQ_TRIAL_LOST],
                             info->counts[PQ_TRIAL_RUNNING], info->retry_depth))
        printf("coordinator: none (the budget is used and no trial runs: "
               "nothing to coordinate)\n");
    else
        printf("coordinator: none (claims take fallback points)\n");
    if (info->last_refit_at > 0 && info->last_refit_n == 0) {
        /* nothing to fit: the coordinator queued warm-up points */
        cli_time_text(info->last_refit_at, when, sizeof(when));
        printf("last refit: %s, no observations yet (warm-up points)\n", when);
    } else if (info->last_refit_at > 0) {
        cli_time_text(info->last_refit_at, when, sizeof(when));
        printf("last refit: %s, %ld observations, %.1f ms, %s\n", when,
               info->last_refit_n, info->last_refit_ms,
               info->last_refit_backend ? info->last_refit_backend : "?");
    } else {
        printf("last refit: never\n");
    }
done:
    pq_sweep_info_free(info);
    pq_free(ctx);
    return ret;
}

/* Moves *id past the digits it starts with; whether there were 1 to 12. */
static int job_id_part(const char **id)
{
    size_t n = strspn(*id, "0123456789");

    *id += n;
    return n >= 1 && n <= 12;
}

/* Whether id reads as a Slurm job id as the plugin records it: JOBID,
 * ARRAYJOBID_TASKID or JOBID.STEPID, digits each. Anything else in a
 * trial's job_id was written by hand into its owner's keys, and must not
 * reach scancel's command line as an option ("--user=someone"). */
static int job_id_valid(const char *id)
{
    if (!job_id_part(&id))
        return 0;
    if (*id == '_' && (id++, !job_id_part(&id)))
        return 0;
    if (*id == '.' && (id++, !job_id_part(&id)))
        return 0;
    return *id == '\0';
}

/* Moves the n_more records of more (pq_trial_list's array, freed here in
 * every case) to the end of *arr (n records, pq_trial_list's or NULL),
 * growing it. Returns 0, or -1 when out of memory (*arr and *n as they
 * were, more's records freed). */
static int append_records(pq_trial_record **arr, size_t *n,
                          pq_trial_record *more, size_t n_more)
{
    pq_trial_record *grown;

    if (n_more == 0) {
        free(more);
        return 0;
    }
    grown = realloc(*arr, (*n + n_more) * sizeof *grown);
    if (!grown) {
        pq_trial_records_free(more, n_more);
        return -1;
    }
    memcpy(grown + *n, more, n_more * sizeof *grown);
    free(more);
    *arr = grown;
    *n += n_more;
    return 0;
}

/* Runs `scancel -- JOB...` for the valid job ids of trials, as
 * the sweep's owner when root runs it (so that Slurm lets it cancel only
 * that user's jobs, whatever ids were written into the sweep's keys).
 * Returns how many ids were passed, or -1 when scancel could not run or
 * failed; *bad counts the ids left out. */
static int scancel_jobs(const char *verb, pq_trial_record *trials, size_t n,
                        long owner_uid, size_t *bad)
{
    char **argv = calloc(n + 3, sizeof(char *));
    struct passwd *pw = owner_uid > 0 ? getpwuid((uid_t)owner_uid) : NULL;
    gid_t gid = pw ? pw->pw_gid : (gid_t)owner_uid;
    size_t i, k = 2;
    pid_t pid;
    int status;

    *bad = 0;
    if (!argv)
        return -1;
    argv[0] = "scancel";
    argv[1] = "--";
    for (i = 0; i < n; i++) {
        if (!trials[i].job_id || !*trials[i].job_id)
            continue;
        if (job_id_valid(trials[i].job_id))
            argv[k++] = trials[i].job_id;
        else
            (*bad)++;
    }
    if (k == 2) {
        free(argv);
        return 0;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && owner_uid > 0 &&
            (setgroups(0, NULL) < 0 || setgid(gid) < 0 ||
             setuid((uid_t)owner_uid) < 0)) {
            fprintf(stderr,
                    "protein %s: cannot become uid %ld for scancel: %s\n", verb,
                    owner_uid, strerror(errno));
            _exit(126);
        }
        execvp("scancel", argv);
        fprintf(stderr, "protein %s: cannot run scancel: %s\n", verb,
                strerror(errno));
        _exit(127);
    }
    free(argv);
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return -1;
    return (int)(k - 2);
}

/* Stops sweep name again (for uid) while trials stay queued for a retry:
 * one stop ends at most 1000 of them (the functions' bounded work per
 * call), and each left would stay queued in the stopped sweep, its job
 * out of cancel's reach, until a later stop made it resumable. Stops when
 * none is left, or when a stop ended none (a list someone keeps filling,
 * or older functions that end none). Returns pq_demand's or
 * pq_sweep_set_state's code. */
static int end_queued_retries(pq_context *ctx, const char *name, long uid)
{
    pq_demand_info d;
    long left = -1;
    int rc;

    for (;;) {
        if ((rc = pq_demand(ctx, name, &d)) != PQ_OK)
            return rc;
        if (d.retry_depth == 0 || (left >= 0 && d.retry_depth >= left))
            return PQ_OK;
        left = d.retry_depth;
        if ((rc = pq_sweep_set_state(ctx, name, "stop", uid)) != PQ_OK)
            return rc;
    }
}

/* Contract in cli.h. */
int cmd_control(int argc, char **argv)
{
    const char *verb = argv[0];
    int cancel = strcmp(verb, "cancel") == 0;
    cli_redis_opts r = {0};
    pq_context *ctx;
    pq_trial_record *in_flight = NULL, *interrupted = NULL;
    pq_sweep_info *info = NULL;
    size_t n_in_flight = 0, n_interrupted = 0, skipped = 0, bad = 0;
    char *pos[1];
    int ret = CLI_OK, rc, sent;

    if (cli_parse_simple(argc, argv, &r, NULL, pos, &ret) < 0)
        return ret;
    if ((ret = cli_connect(verb, &r, &ctx)) != CLI_OK)
        return ret;
    rc =
        pq_sweep_set_state(ctx, pos[0], cancel ? "stop" : verb, (long)getuid());
    if (rc == PQ_ESTATE) {
        /* the one refusal of protein_set_state: a stopped sweep's pause or
         * resume */
        ret = cli_fail(verb, "sweep %s is stopped for good: " STOPPED_WAY_ON,
                       pos[0]);
        goto done;
    }
    if (rc == PQ_EPERM) {
        ret = cli_fail(verb, "sweep %s belongs to another user", pos[0]);
        goto done;
    }
    if (rc != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, pos[0], rc);
        goto done;
    }
    printf("sweep %s: %s\n", pos[0],
           strcmp(verb, "pause") == 0    ? "paused"
           : strcmp(verb, "resume") == 0 ? "active"
                                         : "stopped");
    if ((cancel || strcmp(verb, "stop") == 0) &&
        (rc = end_queued_retries(ctx, pos[0], (long)getuid())) != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, pos[0], rc);
        goto done;
    }
    if (!cancel)
        goto done;
    rc = pq_trial_list(ctx, pos[0], PQ_TRIAL_RUNNING, &in_flight, &n_in_flight,
                       &skipped);
    if (rc != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, pos[0], rc);
        goto done;
    }
    cli_warn_skipped(verb, ctx, pos[0], skipped);
    /* A stopped sweep still lets a requeued job resume its interrupted
     * trial (preempted, or `scontrol requeue`d, and pending): its job is
     * cancelled too, or it would run the trial once Slurm starts it.
     * Most interrupted trials' jobs have ended; scancel ignores those. */
    rc = pq_trial_list(ctx, pos[0], PQ_TRIAL_INTERRUPTED, &interrupted,
                       &n_interrupted, &skipped);
    if (rc != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, pos[0], rc);
        goto done;
    }
    cli_warn_skipped(verb, ctx, pos[0], skipped);
    if (append_records(&in_flight, &n_in_flight, interrupted, n_interrupted) !=
        0) {
        ret = cli_fail(verb, "out of memory");
        goto done;
    }
    if (n_in_flight == 0) {
        printf("no running or interrupted trials\n");
    } else if (cli_command_runnable("scancel") != 0) {
        printf("%zu trial%s running or interrupted; scancel is not on PATH, "
               "so their jobs were not cancelled\n",
               n_in_flight, n_in_flight == 1 ? "" : "s");
    } else if ((rc = pq_sweep_get(ctx, pos[0], &info)) != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, pos[0], rc);
    } else {
        sent =
            scancel_jobs(verb, in_flight, n_in_flight, info->owner_uid, &bad);
        if (bad > 0)
            fprintf(stderr,
                    "protein %s: sweep %s: %zu running or interrupted trials "
                    "have a job id that is not a Slurm job id; not passed to "
                    "scancel\n",
                    verb, pos[0], bad);
        if (sent < 0)
            ret = cli_fail(verb, "sweep %s: scancel failed", pos[0]);
        else
            printf("scancel sent for %d of %zu running or interrupted "
                   "trials\n",
                   sent, n_in_flight);
    }
done:
    pq_trial_records_free(in_flight, n_in_flight);
    pq_sweep_info_free(info);
    pq_free(ctx);
    return ret;
}

/* Fresh fallback points for the budget of sweep `name` to become `budget`
 * (or to grow by it, when add): as many as the pool, of the budget it was
 * created with, lacks up to MAX_FALLBACK, from past the pool's end
 * (pq_model_fallback_seed: not the points proteind's top-ups draw), so that the
 * claims past the old budget that find no queued point get points none
 * got before. Returns 0 with *points and *n (none: NULL, 0; free with
 * pq_params_array_free), -1 with the failure reported. None are drawn
 * for a sweep the budget call refuses (a grid, a stopped or unreadable
 * sweep): it says why. */
static int fresh_fallback(const char *verb, pq_context *ctx, const char *name,
                          long budget, int add, pq_params **points, size_t *n)
{
    pq_sweep_info *info = NULL;
    protein_sweep_config *cfg = NULL;
    protein_error err = {0};
    char msg[512];
    long want;
    int rc;

    *points = NULL;
    *n = 0;
    /* unreadable (gone, another user's): the budget call says why */
    if (pq_sweep_get(ctx, name, &info) != PQ_OK)
        return 0;
    want = add ? info->max_trials + budget : budget;
    if (want > MAX_FALLBACK)
        want = MAX_FALLBACK;
    want -= (long)info->n_fallback;
    if (want <= 0 || info->grid_points > 0 || info->state == PQ_SWEEP_STOPPED ||
        (add && info->max_trials <= 0)) {
        pq_sweep_info_free(info);
        return 0;
    }
    if (pq_model_load_config(name, info->config_yaml, strlen(info->config_yaml),
                             &cfg, &err) != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof msg);
        cli_fail(verb, "sweep %s: %s", name, msg);
        pq_sweep_info_free(info);
        return -1;
    }
    rc = pq_model_fallback_points(
        cfg,
        pq_model_fallback_seed(name, info->n_fallback, PQ_FALLBACK_BY_BUDGET),
        info->n_fallback, (size_t)want, 0, points);
    protein_config_free(cfg);
    pq_sweep_info_free(info);
    if (rc != PROTEIN_OK) {
        *points = NULL;
        cli_fail(verb, "sweep %s: cannot draw fallback points: %s", name,
                 protein_strerror(rc));
        return -1;
    }
    *n = (size_t)want;
    return 0;
}

/* Contract in cli.h. */
int cmd_budget(int argc, char **argv)
{
    const char *verb = argv[0];
    cli_redis_opts r = {0};
    pq_context *ctx;
    pq_params *points = NULL;
    size_t n_points = 0;
    char *pos[2];
    long n, budget, used;
    int ret = CLI_OK, rc, add;

    if (cli_parse_simple(argc, argv, &r, "N or +N", pos, &ret) < 0)
        return ret;
    add = pos[1][0] == '+';
    /* strtol would take a sign or spaces after the '+' too: "++5" */
    if (pos[1][add] < '0' || pos[1][add] > '9')
        return cli_usage_error(verb, "the budget: '%s' is not N or +N", pos[1]);
    if (cli_parse_long(verb, add ? "the budget's increase (+N)" : "the budget",
                       pos[1] + add, 1, PQ_BUDGET_MAX, &n) < 0)
        return CLI_EUSAGE;
    if ((ret = cli_connect(verb, &r, &ctx)) != CLI_OK)
        return ret;
    if (fresh_fallback(verb, ctx, pos[0], n, add, &points, &n_points) < 0) {
        pq_free(ctx);
        return CLI_EFAIL;
    }
    rc = pq_sweep_set_budget(ctx, pos[0], n, add, (long)getuid(), points,
                             n_points, &budget, &used);
    pq_params_array_free(points, n_points);
    if (rc == PQ_ESTATE)
        ret = cli_fail(verb, "sweep %s is stopped for good: " STOPPED_WAY_ON,
                       pos[0]);
    else if (rc == PQ_EPERM)
        ret = cli_fail(verb, "sweep %s belongs to another user", pos[0]);
    else if (rc != PQ_OK)
        ret = cli_queue_fail(verb, ctx, pos[0], rc);
    else if (used < budget)
        printf("sweep %s: budget %ld trial%s, %ld used: %ld more to hand out\n",
               pos[0], budget, budget == 1 ? "" : "s", used, budget - used);
    else
        printf("sweep %s: budget %ld trial%s, %ld used: it hands out no new "
               "trials (those queued for a retry still run); running trials "
               "finish\n",
               pos[0], budget, budget == 1 ? "" : "s", used);
    pq_free(ctx);
    return ret;
}

/* Contract in cli.h. */
int cmd_delete(int argc, char **argv)
{
    static const struct option longopts[] = {{"yes", no_argument, NULL, 'y'},
                                             CLI_REDIS_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    const char *verb = argv[0];
    cli_redis_opts r = {0};
    const char *sweep;
    pq_context *ctx = NULL;
    pq_sweep_info *info = NULL;
    char answer[16];
    int c, yes = 0, rc, ret = CLI_EFAIL;

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, &r)) != -1) {
        if (c != 'y')
            return cli_option_other(verb, c, argv);
        yes = 1;
    }
    if (argc - optind != 1)
        return cli_usage_error(verb, "expected one sweep NAME");
    if (!(sweep = cli_sweep_name(verb, argv[optind])))
        return CLI_EUSAGE;
    if (!yes && !isatty(STDIN_FILENO))
        return cli_usage_error(verb,
                               "refusing to delete sweep %s without --yes "
                               "(stdin is not a terminal)",
                               sweep);
    if ((ret = cli_connect(verb, &r, &ctx)) != CLI_OK)
        return ret;
    rc = pq_sweep_get(ctx, sweep, &info);
    /* A damaged store is what delete is for: it goes on without the info. */
    if (rc == PQ_EPROTO)
        fprintf(stderr, "protein %s: warning: %s; deleting what is there\n",
                verb, ctx->errstr);
    else if (rc != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, sweep, rc);
        goto done;
    }
    if (!yes) {
        if (info)
            printf("delete sweep %s and its %ld trials? [y/N] ", info->name,
                   info->n_trials);
        else
            printf("delete damaged sweep %s and all its keys? [y/N] ", sweep);
        fflush(stdout);
        if (!fgets(answer, sizeof(answer), stdin) ||
            (answer[0] != 'y' && answer[0] != 'Y')) {
            printf("not deleted\n");
            ret = CLI_EFAIL;
            goto done;
        }
    }
    rc = pq_sweep_delete(ctx, sweep, (long)getuid());
    if (rc == PQ_EPERM) {
        ret = cli_fail(verb, "sweep %s belongs to another user", sweep);
        goto done;
    }
    if (rc != PQ_OK) {
        ret = cli_queue_fail(verb, ctx, sweep, rc);
        goto done;
    }
    printf("deleted sweep %s\n", sweep);
    ret = CLI_OK;
done:
    pq_sweep_info_free(info);
    pq_free(ctx);
    return ret;
}
