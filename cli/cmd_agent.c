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
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define VERB "agent"
#define CLAIM_WAIT_MS 5000
#define EMPTY_RETRY_MS 1000
#define STOP_GRACE_MS 5000

typedef struct agent {
    pq_context *ctx;
    const char *sweep;
    char **command;
    char *dir;
    sigset_t child_mask;
    char claim_base[200];
    char host[128];
    long done;
} agent;

/* Runs one claimed trial to its end and records the outcome. Returns 0, a
 * signal number when the agent was told to stop, or -1 on a fatal error. */
static int run_trial(agent *a, pq_trial *t)
{
    char *result = NULL, why[400];
    pq_env env = {0};
    pq_result res;
    double started;
    pid_t pid, pids[1];
    int status = 0, sig = 0, rc, ret = -1;

    result = cli_result_file(a->dir, t->id);
    if (!result) {
        cli_fail(VERB, "sweep %s trial %ld: cannot create a result file: %s",
                 a->sweep, t->id, strerror(errno));
        goto fail;
    }
    if (pq_env_build(a->sweep, t->id, &t->params, result, t->token, &env) !=
        PQ_OK) {
        cli_fail(VERB, "sweep %s trial %ld: cannot build its environment",
                 a->sweep, t->id);
        goto fail;
    }
    started = cli_now();
    if (cli_child_start(a->command, &env, &a->child_mask, &pid) < 0) {
        cli_fail(VERB, "fork failed: %s", strerror(errno));
        goto fail;
    }
    printf("trial %ld%s: started\n", t->id, t->resumed ? " (resumed)" : "");
    fflush(stdout);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid)
            break;
        sig = cli_child_wait(1000);
        if (sig == SIGINT || sig == SIGTERM) {
            pids[0] = pid;
            cli_children_stop(pids, 1, STOP_GRACE_MS);
            snprintf(why, sizeof(why), "agent %s stopped by %s", a->claim_base,
                     strsignal(sig));
            rc = pq_interrupt(a->ctx, a->sweep, t->id, t->token, why);
            printf("trial %ld: interrupted\n", t->id);
            if (rc != PQ_OK)
                cli_queue_fail(VERB, a->ctx, a->sweep, rc);
            ret = sig;
            goto fail;
        }
    }
    if (cli_result_read(result, t->metric, t->cost_metric, &res) < 0)
        memset(&res, 0, sizeof(res));
    if (WIFSIGNALED(status)) {
        cli_wait_status_text(status, why, sizeof(why));
        rc = pq_interrupt(a->ctx, a->sweep, t->id, t->token, why);
    } else if (WEXITSTATUS(status) != 0) {
        cli_wait_status_text(status, why, sizeof(why));
        rc = pq_fail(a->ctx, a->sweep, t->id, t->token, WEXITSTATUS(status),
                     why);
    } else if (!res.has_metric) {
        snprintf(why, sizeof(why), "no result: no '%s=' line in "
                                   "$PROTEIN_RESULT",
                 t->metric ? t->metric : "score");
        rc = pq_fail(a->ctx, a->sweep, t->id, t->token, 0, why);
    } else {
        double wall = cli_now() - started;

        snprintf(why, sizeof(why), "score %.6g", res.metric);
        rc = pq_complete(a->ctx, a->sweep, t->id, t->token, res.metric,
                         res.has_cost && res.cost >= 0 ? res.cost
                                                       : (wall > 0 ? wall : 0));
    }
    printf("trial %ld: %s\n", t->id, why);
    fflush(stdout);
    if (rc != PQ_OK) {
        cli_fail(VERB, "sweep %s trial %ld: cannot record the outcome: %s",
                 a->sweep, t->id,
                 a->ctx->errstr[0] ? a->ctx->errstr : pq_strerror(rc));
        goto fail;
    }
    ret = 0;
fail:
    pq_env_free(&env);
    if (result) {
        unlink(result);
        free(result);
    }
    return ret;
}

/* Claims and runs trials until the budget is used, the sweep is stopped,
 * `count` trials ran (count < 0: no limit) or a signal arrives. Returns
 * the exit status. */
static int agent_loop(agent *a, long count)
{
    pq_claim_request req;
    char key[256];
    pq_trial *t = NULL;
    int rc, sig;

    memset(&req, 0, sizeof(req));
    req.uid = (long)getuid();
    req.array_index = -1;
    req.node = a->host;
    req.wait_ms = CLAIM_WAIT_MS;
    while (count < 0 || a->done < count) {
        /* one key per trial: a restarted agent with the same --claim-key
         * gets its unfinished trial back, a finished one is not re-run */
        snprintf(key, sizeof(key), "%s:%ld", a->claim_base, a->done + 1);
        req.claim_key = key;
        rc = pq_claim(a->ctx, a->sweep, &req, &t);
        if (rc == PQ_EBUDGET) {
            printf("sweep %s: budget used; %ld trials ran here\n", a->sweep,
                   a->done);
            return CLI_OK;
        }
        if (rc == PQ_ESTOPPED) {
            printf("sweep %s is paused or stopped; %ld trials ran here\n",
                   a->sweep, a->done);
            return CLI_OK;
        }
        if (rc == PQ_EEMPTY) {
            sig = cli_child_wait(EMPTY_RETRY_MS);
            if (sig == SIGINT || sig == SIGTERM)
                return CLI_EINTR;
            continue;
        }
        if (rc != PQ_OK)
            return cli_queue_fail(VERB, a->ctx, a->sweep, rc);
        if (t->state != PQ_TRIAL_RUNNING) {
            /* a resumed key whose trial already finished: take the next */
            a->done++;
            pq_trial_free(t);
            t = NULL;
            continue;
        }
        rc = run_trial(a, t);
        pq_trial_free(t);
        t = NULL;
        if (rc > 0)
            return CLI_EINTR;
        if (rc < 0)
            return CLI_EFAIL;
        a->done++;
    }
    printf("%ld trials ran here (--count reached)\n", a->done);
    return CLI_OK;
}

int cmd_agent(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"claim-key", required_argument, NULL, 'k'},
        CLI_REDIS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    cli_redis_opts r = {0};
    const char *claim_key = NULL;
    agent a;
    sigset_t old_mask;
    long count = -1;
    int c, dash, ret;

    memset(&a, 0, sizeof(a));
    for (dash = 1; dash < argc && strcmp(argv[dash], "--") != 0; dash++)
        ;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(dash, argv, ":", longopts, NULL)) != -1) {
        if (cli_redis_option(c, optarg, &r))
            continue;
        switch (c) {
        case 'c':
            if (cli_parse_long(VERB, "--count", optarg, 1, LONG_MAX, &count))
                return CLI_EUSAGE;
            break;
        case 'k':
            claim_key = optarg;
            break;
        case CLI_OPT_HELP:
            cli_usage(stdout, VERB);
            return CLI_OK;
        case ':':
            return cli_usage_error(VERB, "option '%s' needs a value",
                                   argv[optind - 1]);
        default:
            return cli_usage_error(VERB, "unknown option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind >= dash)
        return cli_usage_error(VERB, "missing sweep NAME");
    if (optind + 1 < dash)
        return cli_usage_error(VERB, "unexpected argument '%s' (the command "
                                     "goes after '--')", argv[optind + 1]);
    if (dash + 1 >= argc)
        return cli_usage_error(VERB, "missing '-- COMMAND [ARGS...]'");
    a.sweep = argv[optind];
    a.command = argv + dash + 1;
    if (!pq_sweep_name_valid(a.sweep))
        return cli_usage_error(VERB, "'%s' is not a valid sweep name", a.sweep);
    if (gethostname(a.host, sizeof(a.host)) != 0)
        snprintf(a.host, sizeof(a.host), "localhost");
    if (claim_key)
        snprintf(a.claim_base, sizeof(a.claim_base), "%s", claim_key);
    else
        snprintf(a.claim_base, sizeof(a.claim_base), "%s:%ld", a.host,
                 (long)getpid());
    a.ctx = cli_connect(VERB, &r);
    if (!a.ctx)
        return CLI_EFAIL;
    a.dir = cli_private_dir();
    if (!a.dir) {
        ret = cli_fail(VERB, "cannot create a private temporary directory: %s",
                       strerror(errno));
        goto done;
    }
    cli_signals_block(&old_mask);
    a.child_mask = old_mask;
    ret = agent_loop(&a, count);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    rmdir(a.dir);
done:
    free(a.dir);
    pq_free(a.ctx);
    return ret;
}
