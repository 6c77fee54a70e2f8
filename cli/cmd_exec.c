/*
 * cmd_exec.c - `protein exec CONFIG`: inside a trial (a --sweep Slurm
 * job, or a trial of `protein run` / `protein agent` with no COMMAND),
 * starts the config's W&B program the way `wandb agent` would, offline,
 * and turns the sweep metric the script logged into the trial's result.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "protein_clock.h"

#define VERB "exec"
#define POLL_MS 2000
/* How far below the working directory a run written elsewhere is looked
 * for (Hydra's outputs/DATE/TIME/wandb is 4 levels down), and how many
 * directory entries are read at most (a working directory may hold a
 * dataset of a million files). */
#define SEARCH_DEPTH 5
#define SEARCH_ENTRIES 200000L

/* A W&B run id unique to this trial: letters, digits, '-' and '_' only. */
static void make_run_id(char *buf, size_t len, const char *sweep,
                        const char *trial)
{
    double now = protein_clock_seconds(CLOCK_REALTIME);
    unsigned long r;
    size_t i;

    r = (unsigned long)(fmod(now, 1.0) * 1e9) ^
        ((unsigned long)getpid() << 16) ^ (unsigned long)now;
    snprintf(buf, len, "%.32s-t%.12s-%06lx", sweep, trial, r & 0xffffff);
    for (i = 0; buf[i]; i++)
        if (!((buf[i] >= 'a' && buf[i] <= 'z') ||
              (buf[i] >= 'A' && buf[i] <= 'Z') ||
              (buf[i] >= '0' && buf[i] <= '9') || buf[i] == '_'))
            buf[i] = '-';
}

/* The directory wandb writes its runs into: $WANDB_DIR/wandb, else
 * ./wandb. */
static void wandb_dir(char *buf, size_t len)
{
    const char *d = cli_env("WANDB_DIR");

    snprintf(buf, len, "%s/wandb", d ? d : ".");
}

/* Looks below dir, at most depth levels down and *budget directory
 * entries in all (hidden ones, symbolic links and other users' directories
 * left out), for a directory named wandb that holds run run_id: where a
 * script that passes wandb.init a dir=, sets WANDB_DIR itself, or changes
 * directory (Hydra) has its run written. Returns 0 with that wandb
 * directory in buf; *budget is below 0 when the entries ran out. */
static int find_run_below(const char *dir, int depth, const char *run_id,
                          long *budget, char *buf, size_t len)
{
    char path[4096], *log = NULL;
    struct dirent *e;
    struct stat st;
    DIR *d;
    int found = -1;

    if (depth < 0 || !(d = opendir(dir)))
        return -1;
    while (found < 0 && (*budget)-- > 0 && (e = readdir(d)) != NULL) {
        /* directories of this user's only: another user's in a shared
         * working directory could hold a planted run */
        if (e->d_name[0] == '.' ||
            (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) ||
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
                (int)sizeof(path) ||
            lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != geteuid())
            continue;
        if (strcmp(e->d_name, "wandb") == 0 &&
            cli_wandb_find_log(path, run_id, &log) == 0) {
            free(log);
            snprintf(buf, len, "%s", path);
            found = 0;
        } else {
            found = find_run_below(path, depth - 1, run_id, budget, buf, len);
        }
    }
    closedir(d);
    return found;
}

/* Sets the W&B environment of the script: offline, the trial's params,
 * its run id, the sweep as the run group, the config's project/entity
 * unless the user chose others. */
static void set_wandb_env(const protein_sweep_config *cfg, const char *sweep,
                          const char *run_id, const char *param_path)
{
    setenv("WANDB_MODE", "offline", 1);
    setenv("WANDB_SWEEP_PARAM_PATH", param_path, 1);
    setenv("WANDB_RUN_ID", run_id, 1);
    setenv("WANDB_RUN_GROUP", sweep, 0);
    if (cfg->project)
        setenv("WANDB_PROJECT", cfg->project, 0);
    if (cfg->entity)
        setenv("WANDB_ENTITY", cfg->entity, 0);
}

/* Sends the values the script logged since report `from` (0-based) of a
 * trial claimed from Redis (a --sweep job or protein agent:
 * $PROTEIN_TOKEN is set) as its progress, one report each (W&B's
 * hyperband counts every logged value), so that the sweep's early
 * stopping sees W&B scripts too; no report after the answer "stop".
 * Returns pq_progress's PQ_STOP_EARLY or PQ_STOP_ENDED when the run
 * should stop, else 0. Redis out of reach only skips the reports. */
static int send_progress(const cli_wandb_metric *m, size_t from)
{
    const char *sweep = getenv("PROTEIN_SWEEP"),
               *trial = getenv("PROTEIN_TRIAL");
    const char *token = getenv("PROTEIN_TOKEN");
    cli_redis_opts r = {0};
    pq_context *ctx;
    int stop = 0;
    char *end;
    long id;

    if (!sweep || !trial || !token || m->n_history == 0)
        return 0;
    id = strtol(trial, &end, 10);
    if (end == trial || *end != '\0' || cli_connect(VERB, &r, &ctx) != CLI_OK)
        return 0;
    /* the run's first value starts the trial's record over: a trial run
     * again (requeued, preempted) is a new W&B run, its history from 1 */
    for (size_t i = from; i < m->n_history && !stop; i++) {
        double step = (double)(i + 1);
        int rc = i == 0 ? pq_progress_restart(ctx, sweep, id, token, step,
                                              m->history[i], -1, &stop)
                        : pq_progress(ctx, sweep, id, token, step,
                                      m->history[i], -1, &stop);
        if (rc != PQ_OK) {
            stop = 0;
            break;
        }
    }
    pq_free(ctx);
    return stop;
}

/* Copies the new history of the run's log into the result file (and, in a
 * claimed trial, to Redis as progress). Returns send_progress's answer:
 * nonzero when the run should stop. */
static int report(const char *dir, const char *run_id, const char *metric,
                  const char *result, size_t *reported, int final,
                  cli_wandb_metric *m)
{
    char *log = NULL;
    size_t before = *reported;
    int stop = 0;

    if (cli_wandb_find_log(dir, run_id, &log) < 0)
        return 0;
    if (cli_wandb_read_log(log, metric, m) == 0) {
        if (cli_wandb_result(m, metric, result, reported, final) < 0)
            fprintf(stderr, "protein exec: cannot append to %s: %s\n", result,
                    strerror(errno));
        else if (*reported > before) /* at the end too: the whole curve */
            stop = send_progress(m, before);
    }
    free(log);
    return stop;
}

/* Whether the result file at path has the config's metric already: a
 * program that writes $PROTEIN_RESULT itself logs nothing to W&B, and
 * that is no cause for a warning. */
static int result_has_metric(const char *path, const protein_sweep_config *cfg)
{
    pq_result res;

    return cli_result_read(path, cfg->metric, cfg->cost_metric, &res) == 0 &&
           res.has_metric;
}

/* Points wdir (len bytes) at the wandb directory that holds run run_id:
 * wdir itself when it does, else the one find_run_below finds below the
 * working directory (said on stderr), else wdir unchanged. *budget as in
 * find_run_below. The search runs once, at the end of a run that wrote no
 * result: a working directory may hold a whole dataset. */
static void locate_run(char *wdir, size_t len, const char *run_id, long *budget)
{
    char *log = NULL, elsewhere[4096];

    if (cli_wandb_find_log(wdir, run_id, &log) == 0) {
        free(log);
        return;
    }
    if (find_run_below(".", SEARCH_DEPTH, run_id, budget, elsewhere,
                       sizeof(elsewhere)) == 0) {
        fprintf(stderr,
                "protein exec: the run was written to %s, not %s (read at the "
                "end: the trial sent no progress reports while it ran)\n",
                elsewhere, wdir);
        snprintf(wdir, len, "%s", elsewhere);
    }
}

/* Contract in cli.h. */
int cmd_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, CLI_OPT_HELP},
        {NULL, 0, NULL, 0}};
    const char *json = getenv("PROTEIN_PARAMS");
    const char *result = getenv("PROTEIN_RESULT");
    const char *sweep = getenv("PROTEIN_SWEEP");
    const char *trial = getenv("PROTEIN_TRIAL");
    protein_sweep_config *cfg = NULL;
    pq_params params = {0};
    char *dir = NULL, *param_path = NULL, *json_path = NULL, **cmd = NULL;
    char run_id[96], why[300] = "", wdir[4096];
    cli_wandb_job job;
    cli_wandb_metric m = {0};
    sigset_t old;
    size_t reported = 0;
    pid_t pid;
    int c, status = 0, sig, stopping = 0, quiet = 0, wrote_result,
           ret = CLI_EFAIL;
    long budget = SEARCH_ENTRIES;
    char capped[64] = "";

    optind = 1;
    while ((c = cli_getopt(argc, argv, ":", longopts, NULL)) != -1) {
        if (c != 'q')
            return cli_option_other(VERB, c, argv);
        quiet = 1;
    }
    if (argc - optind != 1)
        return cli_usage_error(
            VERB, argc - optind < 1
                      ? "missing CONFIG, the sweep config"
                      : "too many arguments: give the sweep config alone "
                        "(protein exec runs its W&B program: or command:)");
    if (!json || !result)
        return cli_usage_error(
            VERB,
            "%s not set; run this inside a trial (a --sweep job, or "
            "protein run/agent)",
            !json && !result ? "$PROTEIN_PARAMS and $PROTEIN_RESULT are"
            : !json          ? "$PROTEIN_PARAMS is"
                             : "$PROTEIN_RESULT is");
    cfg = cli_load_config(VERB, argv[optind], quiet);
    if (!cfg)
        return CLI_EUSAGE;
    if (!cfg->program && !cfg->command) {
        ret = cli_usage_error(VERB,
                              "%s has no program: or command: to run (a "
                              "trial of a config without one runs its own "
                              "command, not protein exec)",
                              argv[optind]);
        goto done;
    }
    if (pq_params_from_json(json, &params) != PQ_OK) {
        cli_fail(VERB, "$PROTEIN_PARAMS is not a JSON object of parameters");
        goto done;
    }
    job.cfg = cfg;
    job.params = &params;
    dir = cli_private_dir();
    if (!dir || asprintf(&param_path, "%s/config.yaml", dir) < 0 ||
        asprintf(&json_path, "%s/config.json", dir) < 0) {
        cli_fail(VERB, "cannot create a private temporary directory: %s",
                 strerror(errno));
        goto done;
    }
    job.param_path = param_path;
    job.json_path = json_path;
    if (cli_wandb_write_params(&job, why, sizeof(why)) < 0 ||
        cli_wandb_command(&job, &cmd, why, sizeof(why)) < 0) {
        cli_fail(VERB, "%s", why);
        goto done;
    }
    make_run_id(run_id, sizeof(run_id), sweep ? sweep : cfg->name,
                trial ? trial : "0");
    set_wandb_env(cfg, sweep ? sweep : cfg->name, run_id, param_path);
    wandb_dir(wdir, sizeof(wdir));
    cli_signals_block(&old);
    /* the W&B program under a guard: when protein exec dies (killed outright
     * by a runner that gave up waiting), the program's group is stopped */
    if (cli_child_start("protein exec", cmd, NULL, &old, &pid) < 0) {
        cli_fail(VERB, "fork failed: %s", strerror(errno));
        goto done;
    }
    while (waitpid(pid, &status, WNOHANG) != pid) {
        sig = cli_child_wait(POLL_MS);
        if (cli_stop_signal(sig))
            kill(-pid, sig);
        else if (sig == 0 && !stopping &&
                 (stopping = report(wdir, run_id, cfg->metric, result,
                                    &reported, 0, &m)) != 0) {
            fprintf(stderr, "protein exec: %s; stopping the program\n",
                    stopping == PQ_STOP_ENDED
                        ? "the trial already has its outcome from another "
                          "claim (whose lease had expired)"
                        : "trial asked to stop early");
            kill(-pid, SIGTERM);
        }
    }
    wrote_result = result_has_metric(result, cfg);
    if (!wrote_result)
        locate_run(wdir, sizeof(wdir), run_id, &budget);
    report(wdir, run_id, cfg->metric, result, &reported, 1, &m);
    if (stopping && (m.n_history > 0 || m.has_summary)) {
        /* stopped at the sweep's request: its last report is the score */
        ret = 0;
    } else if (WIFSIGNALED(status)) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        cli_raise_default(WTERMSIG(status));
        ret = CLI_EFAIL;
    } else {
        ret = WIFEXITED(status) ? WEXITSTATUS(status) : CLI_EFAIL;
    }
    if (budget < 0)
        snprintf(capped, sizeof(capped), ", as far as its first %ld entries",
                 SEARCH_ENTRIES);
    if (ret == 0 && reported == 0 && !m.has_summary && !wrote_result)
        fprintf(stderr,
                "protein exec: the program logged no '%s' to W&B (run %s; "
                "looked in %s and below the working directory%s)%s\n",
                cfg->metric, run_id, wdir, capped,
                strcmp(cfg->metric, "score") == 0
                    ? "; 'score' is the metric of a config that names "
                      "none: add metric: {name: KEY}"
                    : "");
done:
    cli_wandb_metric_free(&m);
    cli_strv_free(cmd);
    if (param_path)
        unlink(param_path);
    if (json_path)
        unlink(json_path);
    if (dir)
        rmdir(dir);
    free(param_path);
    free(json_path);
    free(dir);
    pq_params_free(&params);
    protein_config_free(cfg);
    return ret;
}
