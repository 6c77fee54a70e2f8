/*
 * cmd_agent.c - `protein agent NAME -- COMMAND`: a worker outside Slurm.
 * It claims trials through the same path as the SPANK plugin, runs COMMAND
 * for each with the environment contract, and records the outcome. Several
 * agents may share a sweep (and its budget).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "protein_clock.h"
#include "queue_model.h"

#define VERB "agent"
#define CLAIM_WAIT_MS 5000
#define EMPTY_RETRY_MS 1000
/* How often a running trial's stop flag (hyperband, proteind's early
 * stop, a user's request) is read and its lease renewed; a third of the
 * lease when that is shorter, so that a live agent's lease never ends. */
#define STOP_POLL_MS 2000
/* How long a claim or an outcome that gets no answer from Redis (a
 * restart, a frozen server) is retried, as the plugin's outcome_retry. */
#define REDIS_RETRY_S 30
/* The lease of an agent's trial unless --lease or the sweep's own is
 * shorter: the agent renews it (poll_ms), so it only says how
 * long the trial of an agent that vanished (killed, its machine down)
 * stays running before it is retried or lost; the sweep's default, a day,
 * suits a Slurm job, which nothing renews. */
#define AGENT_LEASE_S 120

typedef struct agent {
    pq_context *ctx;
    cli_runner run;
    char claim_base[200];
    char host[128];
    long done;    /* trials run here */
    long seq;     /* the sequence number of the next claim key */
    long lease_s; /* the lease its claims ask for */
    int poll_ms;  /* STOP_POLL_MS, or a third of lease_s when shorter */
    cli_start_guard start_guard; /* trials failing at once stop the agent */
    int broken;                  /* the start guard said stop */
    cli_progress progress;       /* its trials' end lines, and the summary */
} agent;

/* What a renewal of a running trial's lease says. */
typedef enum renewal {
    RENEWED,       /* run on */
    STOP_ASKED,    /* the sweep asks the trial to stop early (stop flag) */
    NO_LONGER_HELD /* its lease ended and it was claimed again or lost */
} renewal;

/* Renews trial t's lease (the agent is alive and runs it, so the trial
 * is lost only when the agent is gone for a lease) and reads its stop
 * flag. A call that fails otherwise (Redis down) says RENEWED, and the
 * next poll asks again. */
static renewal renew_lease(agent *a, const pq_trial *t)
{
    int stop = 0, rc = pq_renew(a->ctx, a->run.sweep, t->id, t->token, &stop);

    if (rc == PQ_ETOKEN || rc == PQ_ESTATE)
        return NO_LONGER_HELD;
    return rc == PQ_OK && stop ? STOP_ASKED : RENEWED;
}

/* What call_redis does: claim a trial, or record an outcome. */
typedef struct agent_call {
    const pq_claim_request *req; /* a claim into *trial, or */
    pq_trial **trial;
    const pq_spool_record *outcome; /* an outcome (req NULL) */
} agent_call;

/* Makes call c, and makes it again while Redis does not answer (PQ_EIO),
 * pausing 0.25 s doubling to 4 s, for up to REDIS_RETRY_S seconds, so that
 * a Redis restart or a frozen Redis neither loses a trial's outcome nor
 * ends the agent. what names the call for the one line that says so. A
 * claim retried keeps its claim key (a try Redis ran late is resumed); an
 * outcome that an earlier, timed-out try recorded after all is PQ_EDONE,
 * taken as recorded (pq_spool_apply_try), unlike another claim's outcome
 * (PQ_ESTATE). A stop signal (cli_stop_signal) ends
 * the retries (*sig, else 0). Returns the last call's code (its message in
 * a->ctx->errstr). */
static int call_redis(agent *a, const agent_call *c, const char *what, int *sig)
{
    double deadline = protein_clock_seconds(CLOCK_MONOTONIC) + REDIS_RETRY_S;
    int rc, tries = 0, pause = 250, unanswered = 0;

    *sig = 0;
    for (;;) {
        rc = c->req ? pq_claim(a->ctx, a->run.sweep, c->req, c->trial)
                    : pq_spool_apply_try(a->ctx, c->outcome, &unanswered, NULL);
        if (rc != PQ_EIO ||
            protein_clock_seconds(CLOCK_MONOTONIC) + pause / 1000.0 > deadline)
            return rc;
        if (tries++ == 0)
            fprintf(
                stderr,
                "protein agent: sweep %s: %s: %s; retrying for up to %d s\n",
                a->run.sweep, what, a->ctx->errstr, REDIS_RETRY_S);
        *sig = cli_child_wait(pause);
        if (cli_stop_signal(*sig))
            return rc;
        *sig = 0;
        pause = pause * 2 > 4000 ? 4000 : pause * 2;
    }
}

/* Records the outcome rec of trial t through call_redis. Returns 0, also
 * when the sweep refuses it for good because the trial's claim was
 * released, or another claim recorded its outcome first (after this
 * agent's lease ended, or this agent's after the retry's), or the trial
 * is gone from the sweep (said so: the agent goes on), or after
 * printing why it could not (the outcome is then lost: the trial runs
 * again for the same --claim-key, or is lost when its lease ends) the
 * signal that ended the retries, else -1. *recorded (may be NULL) is 1
 * when Redis recorded the outcome, else 0. */
static int record(agent *a, const pq_trial *t, const pq_spool_record *rec,
                  int *recorded)
{
    agent_call c = {NULL, NULL, rec};
    char what[64];
    int rc, sig;

    snprintf(what, sizeof(what), "trial %ld: recording its outcome", t->id);
    rc = call_redis(a, &c, what, &sig);
    if (recorded)
        *recorded = rc == PQ_OK;
    if (rc == PQ_OK)
        return 0;
    if (rc == PQ_ETOKEN || rc == PQ_ESTATE) {
        fprintf(stderr,
                "protein agent: sweep %s trial %ld: outcome not recorded: its "
                "lease ended and another claim ran the trial (%s); going on\n",
                a->run.sweep, t->id, a->ctx->errstr);
        return 0;
    }
    if (rc == PQ_ENOTRIAL) {
        fprintf(stderr,
                "protein agent: sweep %s trial %ld: outcome not recorded: the "
                "sweep has no such trial any more (Redis restarted from an "
                "older snapshot?); going on\n",
                a->run.sweep, t->id);
        return 0;
    }
    cli_fail(VERB, "sweep %s trial %ld: cannot record the outcome: %s%s",
             a->run.sweep, t->id,
             a->ctx->errstr[0] ? a->ctx->errstr : protein_strerror(rc),
             rc == PQ_EIO ? "; the outcome is lost: an agent restarted with "
                            "the same --claim-key runs the trial again, else "
                            "it is lost when its lease ends"
                          : "");
    return sig ? sig : -1;
}

/* Writes into who (len bytes) who asked trial t to stop: the trial's
 * stopped_by in Redis ("hyperband at report 2"), else "the sweep" (the
 * coordinator's early-stop model and a user's request name nobody, and
 * so does a trial Redis cannot read now). */
static void stopper(agent *a, const pq_trial *t, char *who, size_t len)
{
    pq_trial_record *r = NULL;

    if (pq_trial_get(a->ctx, a->run.sweep, t->id, &r) == PQ_OK && r->stopped_by)
        snprintf(who, len, "%s", r->stopped_by);
    else
        snprintf(who, len, "the sweep");
    pq_trial_record_free(r);
}

/* Runs one claimed trial to its end and records the outcome. A trial the
 * sweep asks to stop (its flag, polled every a->poll_ms) has COMMAND
 * stopped, as `wandb agent` stops a run; so is one whose COMMAND ended
 * on its own while the flag was up (it obeyed `protein report`'s exit
 * status 3, or failed on it, before the poll saw the flag). Either is
 * pruned by protein run's rule (cli_trial_judge): recorded at its final
 * result when it wrote one on the way out, else at its last report, and
 * said to be stopped by whom; Redis records it as pruned (one stopped
 * before its first report too, which the end line calls failed, saying
 * so). A trial no longer this agent's (its lease ended while the agent
 * was frozen, and another claim took it) has COMMAND stopped and nothing
 * recorded.
 * Prints one line as the trial starts (its parameters) and one as it
 * ends (a->progress: status, value, cost, time, best so far), as protein
 * run words them. Returns 0, a signal number when the agent was told to
 * stop, or -1 on a fatal error. */
static int run_trial(agent *a, pq_trial *t)
{
    char *result = NULL, who[256];
    pq_spool_record rec;
    char shown[sizeof(rec.text) + sizeof(who) + 64];
    cli_trial_verdict v;
    cli_curve curve;
    pid_t pid;
    int status = 0, sig, ret = -1, stopped = 0, recorded = 0;
    double started = protein_clock_seconds(CLOCK_MONOTONIC);
    double next_poll = started + a->poll_ms / 1000.0;

    memset(&rec, 0, sizeof(rec));
    memset(&curve, 0, sizeof(curve));
    snprintf(rec.sweep, sizeof(rec.sweep), "%s", a->run.sweep);
    snprintf(rec.token, sizeof(rec.token), "%s", t->token);
    rec.trial_id = t->id;
    if (cli_trial_start(VERB, &a->run, t->id, &t->params, t->metric,
                        t->cost_metric, t->token, &result, &pid) < 0)
        return -1;
    printf("trial %ld%s: started%s", t->id, t->resumed ? " (resumed)" : "",
           t->params.n > 0 ? ": " : "");
    cli_params_inline(stdout, &t->params);
    putchar('\n');
    fflush(stdout);
    while (waitpid(pid, &status, WNOHANG) != pid) {
        sig = cli_child_wait(a->poll_ms < 1000 ? a->poll_ms : 1000);
        if (cli_stop_signal(sig)) {
            cli_children_stop(&pid, 1, CLI_STOP_GRACE_MS);
            rec.kind = PQ_SPOOL_INTERRUPTED;
            snprintf(rec.text, sizeof(rec.text), "agent %s stopped by %s",
                     a->claim_base, strsignal(sig));
            printf("trial %ld: interrupted\n", t->id);
            fflush(stdout);
            record(a, t, &rec, NULL);
            ret = sig;
            goto done;
        }
        if (protein_clock_seconds(CLOCK_MONOTONIC) >= next_poll) {
            renewal r = renew_lease(a, t);

            next_poll =
                protein_clock_seconds(CLOCK_MONOTONIC) + a->poll_ms / 1000.0;
            if (r == NO_LONGER_HELD) {
                /* another worker runs it now, or it is lost: its outcome
                 * would still be taken (late), but a retry may run it
                 * already, and only one outcome counts */
                printf("trial %ld: its lease ended and the trial is no "
                       "longer this agent's (%s); stopping the command\n",
                       t->id, a->ctx->errstr);
                fflush(stdout);
                cli_children_stop(&pid, 1, CLI_STOP_GRACE_MS);
                ret = 0;
                goto done;
            }
            if (r == STOP_ASKED) {
                /* said by its end line (pruned, stopped by whom): one
                 * line a trial ends with, for sweeps of 1000s of them */
                cli_children_stop(&pid, 1, CLI_STOP_GRACE_MS);
                /* its wait status went with it: judged by what it
                 * reported, as if it had ended */
                status = 0;
                stopped = 1;
                break;
            }
        }
    }
    /* what the program left running in its group ends with it (as in
     * protein run); a stopped one's group is gone already (pid 0) */
    if (pid > 0)
        kill(-pid, SIGTERM);
    /* A program that ended before the next poll saw the flag (it obeyed
     * `protein report`'s exit status 3 by exiting 3 or by leaving its
     * loop and ending normally, the user guide's loop, or failed on it)
     * was stopped by the sweep all the same, and Redis records it as
     * pruned. */
    if (!stopped && renew_lease(a, t) == STOP_ASKED)
        stopped = 1;
    if (stopped)
        stopper(a, t, who, sizeof(who));
    cli_curve_update(&curve, result, t->metric, t->cost_metric);
    cli_trial_judge(status, result, t->metric, t->cost_metric, &curve,
                    stopped ? who : NULL, &v, rec.text, sizeof(rec.text));
    if (v.ok) {
        rec.kind = PQ_SPOOL_COMPLETED;
        rec.score = v.score;
        rec.cost = v.cost;
    } else if (v.end == CLI_TRIAL_KILLED) {
        rec.kind = PQ_SPOOL_INTERRUPTED;
    } else {
        rec.kind = PQ_SPOOL_FAILED;
        rec.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    }
    /* protein run's words: a crash is a failure, whatever Redis calls it,
     * and so is a trial stopped before its first report; the line says
     * what Redis records, and that the agent stopped the latter (its "no
     * result" is the stop's doing, not COMMAND's) */
    if (rec.kind == PQ_SPOOL_INTERRUPTED)
        snprintf(shown, sizeof(shown), "%s; recorded as interrupted", rec.text);
    else if (stopped && !v.ok)
        snprintf(shown, sizeof(shown),
                 "%s; stopped by %s before its first report, recorded as "
                 "pruned",
                 rec.text, who);
    else
        snprintf(shown, sizeof(shown), "%s", rec.text);
    /* a trial the sweep stopped is judged by its reports, not as a
     * COMMAND that cannot run */
    if (v.ok || stopped || cli_start_guard_failure(v.end, status, &v.res))
        a->broken =
            cli_start_guard_note(&a->start_guard, !v.ok && !stopped, rec.text);
    /* its end line comes once Redis answered: the summary and the best so
     * far count only the outcomes Redis recorded */
    ret = record(a, t, &rec, &recorded);
    cli_progress_trial(&a->progress, t->id, v.ok, stopped, v.score, v.cost,
                       protein_clock_seconds(CLOCK_MONOTONIC) - started, shown,
                       recorded);
done:
    cli_curve_free(&curve);
    unlink(result);
    free(result);
    return ret;
}

/* With no COMMAND: writes the sweep's stored config (info, as
 * pq_sweep_get gave it with get_rc; NULL when that failed) into the
 * runner's private directory and sets *cmd to `protein exec` of it, which
 * runs the config's W&B program for each trial. Returns 0, or after
 * printing why the exit status: CLI_EUSAGE when its config has no program
 * (the command line lacks a COMMAND), CLI_EFAIL otherwise (no such
 * sweep, a stored config that cannot be read or written). */
static int stored_program(agent *a, const pq_sweep_info *info, int get_rc,
                          char **path, char ***cmd)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char msg[1024];
    FILE *fp;
    int written = 0;
    int rc;

    if (get_rc != PQ_OK)
        return cli_queue_fail(VERB, a->ctx, a->run.sweep, get_rc), CLI_EFAIL;
    memset(&err, 0, sizeof(err));
    rc = CLI_EFAIL;
    if (!info->config_yaml ||
        pq_model_load_config(info->name, info->config_yaml,
                             strlen(info->config_yaml), &cfg,
                             &err) != PROTEIN_OK) {
        protein_error_format(&err, msg, sizeof(msg));
        cli_fail(VERB, "sweep %s: cannot read its stored config: %s",
                 a->run.sweep, msg);
        goto done;
    }
    if (!cfg->program && !cfg->command) {
        rc = cli_usage_error(
            VERB,
            "sweep %s has no program: or command: to run; give one after '--'",
            a->run.sweep);
        goto done;
    }
    if (cli_program_check(VERB, a->run.sweep, cfg) < 0) {
        rc = CLI_EUSAGE;
        goto done;
    }
    if (asprintf(path, "%s/config.yaml", a->run.dir) < 0) {
        *path = NULL;
        cli_fail(VERB, "out of memory");
        goto done;
    }
    fp = fopen(*path, "w");
    if (fp) {
        written = fputs(info->config_yaml, fp) >= 0;
        written = fclose(fp) == 0 && written;
    }
    if (!written || cli_exec_command(*path, cmd) < 0) {
        cli_fail(VERB, "cannot write %s: %s", *path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    protein_config_free(cfg);
    return rc;
}

/* Claims and runs trials until the budget is used, the sweep is stopped,
 * `count` trials ran (count < 0: no limit) or a signal arrives. Returns
 * the exit status. */
static int agent_loop(agent *a, long count)
{
    pq_claim_request req;
    char key[256];
    pq_trial *t = NULL;
    agent_call claim = {&req, &t, NULL};
    int rc, sig, said_empty = 0;

    memset(&req, 0, sizeof(req));
    req.uid = (long)getuid();
    req.user = cli_user_name();
    req.array_index = -1;
    req.node = a->host;
    req.wait_ms = CLAIM_WAIT_MS;
    req.lease_seconds = (int)a->lease_s;
    while (count < 0 || a->done < count) {
        /* one key per trial: a restarted agent with the same --claim-key
         * gets its unfinished trial back, a finished one is not re-run */
        snprintf(key, sizeof(key), "%s:%ld", a->claim_base, a->seq + 1);
        req.claim_key = key;
        rc = call_redis(a, &claim, "claiming a trial", &sig);
        if (cli_stop_signal(sig))
            return CLI_EINTR;
        if (rc == PQ_EBUDGET) {
            printf("sweep %s: budget used; %ld trial%s ran here\n",
                   a->run.sweep, a->done, a->done == 1 ? "" : "s");
            return CLI_OK;
        }
        if (rc == PQ_ESTOPPED) {
            /* the server's "sweep 'NAME' is paused" (or stopped) */
            printf("%s; %ld trial%s ran here\n",
                   a->ctx->errstr[0] ? a->ctx->errstr : protein_strerror(rc),
                   a->done, a->done == 1 ? "" : "s");
            return CLI_OK;
        }
        if (rc == PQ_EEMPTY) {
            /* Said once: nothing else tells the user why nothing runs. */
            if (!said_empty)
                fprintf(stderr,
                        "protein agent: sweep %s: no trial to run yet (%s); "
                        "waiting for one (a running proteind fills the "
                        "queue)\n",
                        a->run.sweep, a->ctx->errstr);
            said_empty = 1;
            sig = cli_child_wait(EMPTY_RETRY_MS);
            if (cli_stop_signal(sig))
                return CLI_EINTR;
            continue;
        }
        if (rc == PQ_ESTATE) {
            /* the key's trial finished before this agent (re)started with
             * the same --claim-key: take the next key */
            a->seq++;
            continue;
        }
        if (rc != PQ_OK)
            return cli_queue_fail(VERB, a->ctx, a->run.sweep, rc);
        a->seq++;
        rc = run_trial(a, t);
        pq_trial_free(t);
        t = NULL;
        if (rc > 0)
            return CLI_EINTR;
        if (rc < 0)
            return CLI_EFAIL;
        a->done++;
        if (a->broken) {
            cli_start_guard_explain(VERB, &a->start_guard);
            return CLI_EFAIL;
        }
    }
    printf("%ld trial%s ran here (--count reached)\n", a->done,
           a->done == 1 ? "" : "s");
    return CLI_OK;
}

/* Says, when the agent stops, how its finished trials ended as Redis
 * recorded them, how many more ran whose outcome Redis did not record
 * (refused, or Redis down), and which was the best (as protein run's
 * summary does); nothing when none finished. */
static void print_summary(const agent *a)
{
    const cli_progress *p = &a->progress;

    if (p->finished == 0 && p->unrecorded == 0)
        return;
    cli_summary_counts(stdout, p->finished - p->pruned - p->failed, p->pruned,
                       p->failed);
    if (p->unrecorded > 0)
        printf("%ld more ran, %s not recorded (said above)\n", p->unrecorded,
               p->unrecorded == 1 ? "its outcome" : "their outcomes");
    if (p->has_best)
        cli_summary_best(stdout, p->best_id, p->metric, p->best, p->best_cost);
    fflush(stdout);
}

/* Hands the agent's own Redis settings r to the trials it starts, so that a
 * `protein report` or `protein exec` in COMMAND reaches the same Redis as
 * the same Redis user: --redis as $PROTEIN_REDIS, --password-file as
 * $PROTEIN_REDIS_PASSWORD_FILE, its absolute path; never the password,
 * which other users may read in a process's environment or arguments.
 * The file is handed only when it is the caller's own and private to them
 * (no group or other bits, as `protein admin add-user` writes it);
 * otherwise a warning says why COMMAND does not get it. Returns 0, or -1
 * after printing why the environment could not be set. */
static int hand_redis_settings(const cli_redis_opts *r)
{
    char *path;
    struct stat st;
    int rc = 0;

    if (r->url && setenv("PROTEIN_REDIS", r->url, 1) != 0) {
        cli_fail(VERB, "cannot set PROTEIN_REDIS: %s", strerror(errno));
        return -1;
    }
    if (!r->password_file)
        return 0;
    path = realpath(r->password_file, NULL);
    if (!path || stat(path, &st) != 0)
        fprintf(stderr,
                "protein agent: warning: password file %s: %s; COMMAND is not "
                "handed it (a protein report in it looks for its password as "
                "any protein command does)\n",
                r->password_file, strerror(errno));
    else if (st.st_uid != getuid() || (st.st_mode & 077) != 0)
        fprintf(stderr,
                "protein agent: warning: password file %s is not private to "
                "you (owner uid %ld, mode %04o); COMMAND is not handed it (a "
                "protein report in it looks for its password as any protein "
                "command does): chmod 600 %s\n",
                path, (long)st.st_uid, (unsigned)(st.st_mode & 07777), path);
    else if (setenv("PROTEIN_REDIS_PASSWORD_FILE", path, 1) != 0) {
        cli_fail(VERB, "cannot set PROTEIN_REDIS_PASSWORD_FILE: %s",
                 strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

/* The lease the agent's claims ask for: `wanted`, or the sweep's own
 * lease (info; NULL when the sweep could not be read, which the first
 * claim then reports) when that is shorter. */
static long sweep_lease(const pq_sweep_info *info, long wanted)
{
    if (info != NULL && info->lease_seconds > 0 && info->lease_seconds < wanted)
        return info->lease_seconds;
    return wanted;
}

/* Contract in cli.h. */
int cmd_agent(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"claim-key", required_argument, NULL, 'k'},
        {"lease", required_argument, NULL, 'l'},
        {"max-initial-failures", required_argument, NULL, 'f'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    cli_redis_opts r = {0};
    const char *claim_key = NULL;
    agent a;
    long count = -1, lease = AGENT_LEASE_S;
    long max_initial_failures = CLI_MAX_INITIAL_FAILURES;
    char *config_path = NULL, **exec_cmd = NULL;
    pq_sweep_info *info = NULL;
    int c, dash, has_command, ret, get_rc;

    memset(&a, 0, sizeof(a));
    dash = cli_command_dash(argc, argv);
    optind = 1;
    while ((c = cli_getopt(dash, argv, ":", longopts, &r)) != -1) {
        switch (c) {
        case 'c':
            if (cli_parse_long(VERB, "--count", optarg, 1, LONG_MAX, &count))
                return CLI_EUSAGE;
            break;
        case 'k': claim_key = optarg; break;
        case 'l':
            if (cli_parse_long(VERB, "--lease", optarg, 1, 86400, &lease))
                return CLI_EUSAGE;
            break;
        case 'f':
            if (cli_parse_long(VERB, "--max-initial-failures", optarg, 0,
                               LONG_MAX, &max_initial_failures))
                return CLI_EUSAGE;
            break;
        default: return cli_option_other(VERB, c, argv);
        }
    }
    has_command = cli_command_check(VERB, "sweep NAME", argc, argv, dash);
    if (has_command < 0)
        return CLI_EUSAGE;
    a.run.sweep = cli_sweep_name(VERB, argv[optind]);
    a.run.command = argv + dash + 1;
    if (!a.run.sweep)
        return CLI_EUSAGE;
    if (gethostname(a.host, sizeof(a.host)) != 0)
        snprintf(a.host, sizeof(a.host), "localhost");
    if (claim_key)
        snprintf(a.claim_base, sizeof(a.claim_base), "%s", claim_key);
    else
        snprintf(a.claim_base, sizeof(a.claim_base), "%s:%ld", a.host,
                 (long)getpid());
    if ((ret = cli_connect(VERB, &r, &a.ctx)) != CLI_OK)
        return ret;
    if (hand_redis_settings(&r) < 0) {
        pq_free(a.ctx);
        return CLI_EFAIL;
    }
    get_rc = pq_sweep_get(a.ctx, a.run.sweep, &info);
    a.lease_s = sweep_lease(get_rc == PQ_OK ? info : NULL, lease);
    a.poll_ms = a.lease_s * 1000 / 3 < STOP_POLL_MS
                    ? (int)(a.lease_s * 1000 / 3)
                    : STOP_POLL_MS;
    ret = CLI_EFAIL;
    if (cli_runner_open(VERB, &a.run) == 0) {
        if (has_command == 0 ||
            (ret = stored_program(&a, info, get_rc, &config_path, &exec_cmd)) ==
                0) {
            if (exec_cmd)
                a.run.command = exec_cmd;
            cli_start_guard_init(&a.start_guard, max_initial_failures);
            cli_progress_init(&a.progress, stdout, 0,
                              get_rc == PQ_OK ? info->goal_minimize : 1,
                              get_rc == PQ_OK ? info->metric : NULL);
            ret = agent_loop(&a, count);
            print_summary(&a);
        }
        if (config_path)
            unlink(config_path);
        cli_runner_close(&a.run);
    }
    free(config_path);
    cli_strv_free(exec_cmd);
    pq_sweep_info_free(info);
    pq_free(a.ctx);
    return ret;
}
