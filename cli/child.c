/*
 * child.c - running trial programs: signals, fork/exec with the
 * environment contract, wait statuses, private result files and trial
 * outcomes. Shared by `protein run` and `protein agent`.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "protein_clock.h"

/* The signals cli_child_wait takes: the stop signals and SIGCHLD. SIGHUP
 * (the terminal closed) stops like SIGTERM unless this process was started
 * with it ignored (nohup): a blocked signal is kept pending even when
 * ignored, and taking it would stop a nohup'ed runner. */
static void stop_set(sigset_t *set)
{
    struct sigaction hup;

    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGCHLD);
    if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
        sigaddset(set, SIGHUP);
}

/* Contract in cli.h. */
int cli_stop_signal(int sig)
{
    return sig == SIGINT || sig == SIGTERM || sig == SIGHUP;
}

/* Contract in cli.h. */
void cli_signals_block(sigset_t *old)
{
    sigset_t set;

    stop_set(&set);
    sigprocmask(SIG_BLOCK, &set, old);
}

/* Whether environment entry "NAME=VALUE" is a variable of the contract
 * (which a trial must only see from its own launcher). */
static int contract_variable(const char *entry)
{
    static const char *const names[] = {
        "PROTEIN_SWEEP=",      "PROTEIN_TRIAL=",    "PROTEIN_PARAMS=",
        "PROTEIN_ARGS=",       "PROTEIN_RESULT=",   "PROTEIN_TOKEN=",
        "PROTEIN_METRIC_KEY=", "PROTEIN_COST_KEY=", "PROTEIN_PARAM_"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* Removes the contract variables inherited from this process's own
 * environment (protein run inside a trial), keeping PROTEIN_REDIS etc. */
static void clear_contract(void)
{
    char name[256];
    size_t i, len;

    for (i = 0; environ[i];) {
        if (!contract_variable(environ[i])) {
            i++;
            continue;
        }
        len = strcspn(environ[i], "=");
        if (len >= sizeof(name)) {
            i++;
            continue;
        }
        memcpy(name, environ[i], len);
        name[len] = '\0';
        unsetenv(name); /* shifts environ: look at index i again */
    }
}

/* Contract in cli.h. */
void cli_raise_default(int sig)
{
    sigset_t one;

    signal(sig, SIG_DFL);
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
}

/* Contract in cli.h. */
void cli_child_tie(pid_t parent)
{
    /* A runner killed outright (kill -9) leaves no trial running on
     * unseen: the trial gets SIGTERM, as from a runner that stops it (it
     * may save its work); a runner gone already ends it here. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(127);
}

/* Ends the guard as its program ended: the same exit status, or the same
 * signal (without a core file: the program wrote its own). */
static _Noreturn void exit_as(int status)
{
    if (WIFSIGNALED(status)) {
        const struct rlimit no_core = {0, 0};

        setrlimit(RLIMIT_CORE, &no_core);
        cli_raise_default(WTERMSIG(status));
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

/* The runner is gone: its trial gets what a runner that stops it gives,
 * SIGTERM to the whole process group and, after the grace period, SIGKILL
 * to whatever of the group is left, this guard included. */
static _Noreturn void end_group(pid_t program)
{
    const double deadline =
        protein_clock_seconds(CLOCK_MONOTONIC) + CLI_STOP_GRACE_MS / 1000.0;
    int status;

    kill(-getpgrp(), SIGTERM);
    while (waitpid(program, &status, WNOHANG) == 0 &&
           protein_clock_seconds(CLOCK_MONOTONIC) < deadline)
        cli_child_wait(50);
    kill(-getpgrp(), SIGKILL);
    _exit(127);
}

/* Closes fd when it is open and marked close-on-exec. */
static void close_if_exec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags >= 0 && (flags & FD_CLOEXEC))
        close(fd);
}

/* Closes the descriptors marked close-on-exec, which the guard, forked
 * and never exec'ed, would otherwise hold on the runner's behalf after it
 * died: the --out CSV and its lock, the agent's Redis connection. The
 * others are the program's to inherit (the user's own 3>file). */
static void close_exec_descriptors(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    long fd, max;

    if (!dir) { /* no /proc: every descriptor number there may be */
        max = sysconf(_SC_OPEN_MAX);
        for (fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
            close_if_exec((int)fd);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        char *end;

        fd = strtol(e->d_name, &end, 10);
        if (!*end && end != e->d_name && fd != dirfd(dir))
            close_if_exec((int)fd);
    }
    closedir(dir);
}

/* Contract in cli.h. */
void cli_child_guard(pid_t runner, char *const argv[],
                     const sigset_t *child_mask, const char *who)
{
    sigset_t stop;
    pid_t program, guard = getpid();
    int status;

    /* the stop signals and SIGCHLD are taken by cli_child_wait here: a
     * SIGTERM from the runner (to the whole group) is the program's to
     * act on, and only the runner's death ends the group from here */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigaddset(&stop, SIGCHLD);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    fflush(NULL);
    close_exec_descriptors();
    program = fork();
    if (program < 0) {
        fprintf(stderr, "%s: cannot start %s: %s\n", who, argv[0],
                strerror(errno));
        _exit(127);
    }
    if (program == 0) {
        cli_child_tie(guard);
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: cannot run %s: %s\n", who, argv[0],
                strerror(errno));
        _exit(127);
    }
    for (;;) {
        if (waitpid(program, &status, WNOHANG) == program)
            exit_as(status);
        if (getppid() != runner)
            end_group(program);
        cli_child_wait(1000);
    }
}

/* Contract in cli.h. */
int cli_child_start(const char *who, char *const argv[], const pq_env *env,
                    const sigset_t *child_mask, pid_t *pid)
{
    pid_t p, parent = getpid();
    size_t i;

    fflush(NULL);
    p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        setpgid(0, 0);
        cli_child_tie(parent);
        if (env) {
            clear_contract();
            for (i = 0; i < env->n; i++)
                setenv(env->names[i], env->values[i], 1);
        }
        cli_child_guard(parent, argv, child_mask, who);
    }
    setpgid(p, p); /* also here, so that a signal never misses the group */
    *pid = p;
    return 0;
}

/* Contract in cli.h. */
int cli_child_wait(int timeout_ms)
{
    sigset_t set;
    struct timespec ts;
    int sig;

    stop_set(&set);
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    sig = sigtimedwait(&set, NULL, &ts);
    return sig < 0 ? 0 : sig;
}

/* Contract in cli.h. */
void cli_wait_status_text(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "wait status %d", status);
}

/* Reaps whichever of pids[] have exited, without blocking; returns how many
 * are left. */
static size_t reap_some(pid_t *pids, size_t n)
{
    size_t i, left = 0;
    int status;

    for (i = 0; i < n; i++) {
        pid_t r;

        if (pids[i] <= 0)
            continue;
        r = waitpid(pids[i], &status, WNOHANG);
        if (r == pids[i] || (r < 0 && errno == ECHILD))
            pids[i] = 0;
        else
            left++;
    }
    return left;
}

/* Contract in cli.h. */
void cli_children_stop(pid_t *pids, size_t n, int grace_ms)
{
    double deadline =
        protein_clock_seconds(CLOCK_MONOTONIC) + grace_ms / 1000.0;
    size_t i;
    int status;

    for (i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(-pids[i], SIGTERM);
    while (reap_some(pids, n) > 0 &&
           protein_clock_seconds(CLOCK_MONOTONIC) < deadline)
        cli_child_wait(50);
    for (i = 0; i < n; i++) {
        if (pids[i] <= 0)
            continue;
        kill(-pids[i], SIGKILL);
        waitpid(pids[i], &status, 0);
        pids[i] = 0;
    }
}

/* Contract in cli.h. */
char *cli_private_dir(void)
{
    const char *tmp = cli_env("TMPDIR");
    char *dir;

    if (!tmp)
        tmp = "/tmp";
    if (asprintf(&dir, "%s/protein.XXXXXX", tmp) < 0)
        return NULL;
    if (!mkdtemp(dir)) {
        int saved = errno;

        free(dir);
        errno = saved;
        return NULL;
    }
    return dir;
}

/* Contract in cli.h. */
char *cli_result_file(const char *dir, long id)
{
    char *path;
    int fd, saved;

    if (asprintf(&path, "%s/trial-%ld.result", dir, id) < 0)
        return NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        saved = errno;
        free(path);
        errno = saved;
        return NULL;
    }
    close(fd);
    return path;
}

/* Contract in cli.h. */
int cli_result_read(const char *path, const char *metric_key,
                    const char *cost_key, pq_result *out)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (cli_read_file(path, &text, &len) < 0)
        return errno == ENOENT ? 0 : -1;
    rc = pq_result_parse(text, len, metric_key ? metric_key : "score",
                         cost_key ? cost_key : "cost", out);
    free(text);
    if (rc != PQ_OK) {
        errno = rc == PQ_ENOMEM ? ENOMEM : EINVAL;
        return -1;
    }
    return 0;
}

/* Contract in cli.h. */
int cli_runner_open(const char *verb, cli_runner *rn)
{
    rn->dir = cli_private_dir();
    if (!rn->dir) {
        cli_fail(verb, "cannot create a private temporary directory: %s",
                 strerror(errno));
        return -1;
    }
    cli_signals_block(&rn->child_mask);
    return 0;
}

/* Contract in cli.h. */
void cli_runner_close(cli_runner *rn)
{
    if (!rn->dir)
        return;
    sigprocmask(SIG_SETMASK, &rn->child_mask, NULL);
    rmdir(rn->dir);
    free(rn->dir);
    rn->dir = NULL;
}

/* Contract in cli.h. */
int cli_trial_start(const char *verb, const cli_runner *rn, long id,
                    const pq_params *params, const char *metric,
                    const char *cost_key, const char *token, char **result_path,
                    pid_t *pid)
{
    char *path;
    pq_env env = {0};

    path = cli_result_file(rn->dir, id);
    if (!path) {
        cli_fail(verb,
                 "sweep %s trial %ld: cannot create a result file in %s: %s",
                 rn->sweep, id, rn->dir, strerror(errno));
        return -1;
    }
    if (pq_env_build(rn->sweep, id, params, metric, cost_key, path, token,
                     &env) != PQ_OK) {
        char why[600];

        if (pq_params_env_check(params, why, sizeof(why)) == PQ_OK)
            snprintf(why, sizeof(why), "a parameter cannot be written");
        cli_fail(verb, "sweep %s trial %ld: cannot build its environment: %s",
                 rn->sweep, id, why);
        goto fail;
    }
    if (cli_child_start("protein", rn->command, &env, &rn->child_mask, pid) <
        0) {
        cli_fail(verb, "sweep %s trial %ld: fork failed: %s", rn->sweep, id,
                 strerror(errno));
        goto fail;
    }
    pq_env_free(&env);
    *result_path = path;
    return 0;
fail:
    pq_env_free(&env);
    unlink(path);
    free(path);
    return -1;
}

/* Contract in cli.h. */
cli_trial_end cli_trial_outcome(int status, const char *result_path,
                                const char *metric, const char *cost_metric,
                                pq_result *res, char *why, size_t len)
{
    memset(res, 0, sizeof(*res));
    why[0] = '\0';
    if (WIFSIGNALED(status)) {
        cli_wait_status_text(status, why, len);
        return CLI_TRIAL_KILLED;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_wait_status_text(status, why, len);
        return CLI_TRIAL_FAILED;
    }
    if (cli_result_read(result_path, metric, cost_metric, res) < 0) {
        snprintf(why, len, "cannot read %s: %s", result_path, strerror(errno));
        memset(res, 0, sizeof(*res));
        return CLI_TRIAL_FAILED;
    }
    if (!res->has_metric && res->metric_rejected) {
        snprintf(why, len,
                 "no result: the last '%s=' line in $PROTEIN_RESULT is not a "
                 "finite number",
                 metric ? metric : "score");
        return CLI_TRIAL_FAILED;
    }
    if (!res->has_metric) {
        snprintf(why, len, "no result: no '%s=' line in $PROTEIN_RESULT%s%s%s",
                 metric ? metric : "score",
                 res->other_key[0] ? " (it has '" : "", res->other_key,
                 res->other_key[0] ? "=': is the metric misnamed?)" : "");
        return CLI_TRIAL_FAILED;
    }
    return CLI_TRIAL_OK;
}

/* Contract in cli.h. */
void cli_start_guard_init(cli_start_guard *g, long max)
{
    memset(g, 0, sizeof(*g));
    g->max = max;
    g->start = protein_clock_seconds(CLOCK_MONOTONIC);
}

/* Contract in cli.h. */
int cli_start_guard_note(cli_start_guard *g, int failed, const char *why)
{
    if (!failed) {
        g->succeeded = 1;
    } else if (!g->succeeded &&
               protein_clock_seconds(CLOCK_MONOTONIC) - g->start <=
                   CLI_START_WINDOW_S) {
        g->failures++;
        snprintf(g->last, sizeof(g->last), "%s", why);
    }
    return g->max > 0 && !g->succeeded && g->failures >= g->max;
}

/* Contract in cli.h. */
int cli_start_guard_failure(cli_trial_end end, int status, const pq_result *res)
{
    if (end != CLI_TRIAL_FAILED)
        return 0;
    return !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
           !res->metric_rejected;
}

/* Contract in cli.h. */
void cli_start_guard_explain(const char *verb, const cli_start_guard *g)
{
    fprintf(stderr,
            "protein %s: the first %ld trials failed within %.0f s of the "
            "start and none completed (the last: %s): the COMMAND or its "
            "environment looks broken; stopping (--max-initial-failures 0 "
            "runs on)\n",
            verb, g->max, CLI_START_WINDOW_S, g->last);
}
