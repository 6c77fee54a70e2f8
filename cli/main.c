/*
 * main.c - the `protein` command: a table of verbs and the dispatcher.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define REDIS_OPTS                                                             \
    "  --redis URL           Redis to use (default $PROTEIN_REDIS, else\n"     \
    "                        redis://127.0.0.1:6379)\n"                        \
    "  --password-file FILE  read the Redis password from FILE (default\n"     \
    "                        $PROTEIN_REDIS_PASSWORD_FILE, else\n"             \
    "                        $PROTEIN_REDIS_PASSWORD, else\n"                  \
    "                        ~/.config/protein/redis-password as the\n"        \
    "                        Redis user of your login name)\n"

struct verb {
    const char *name;
    int (*handler)(int argc, char **argv);
    const char *summary;
    const char *usage; /* synopsis and options */
};

static const struct verb verbs[] = {
    {"run", cmd_run, "run a whole sweep on this machine (no Redis, no Slurm)",
     "protein run CONFIG [--trials N] [--parallel K] [--seed S] "
     "[--out FILE.csv [--resume | --overwrite]] [--max-initial-failures N] "
     "[-- COMMAND [ARGS...]]\n"
     "  without COMMAND each trial runs the config's W&B program/command\n"
     "  (protein exec CONFIG)\n"
     "  --trials N    trials to run (default: max_trials of the config, "
     "else the\n"
     "                whole grid for method: grid, else 20)\n"
     "  --parallel K  trials running at once (default 1)\n"
     "  --seed S      seed of the optimizer (default: the config's seed, "
     "else the\n"
     "                clock)\n"
     "  --out FILE    write one CSV row per trial to FILE as it finishes "
     "(checked\n"
     "                before the first trial), with its learning curve; "
     "a FILE\n"
     "                that holds rows already is refused without --resume "
     "or\n"
     "                --overwrite\n"
     "  --resume      go on with the sweep whose rows FILE (--out) holds: "
     "its trials\n"
     "                are observed (with their curves) and count toward "
     "--trials N,\n"
     "                new rows are appended; a missing FILE starts a new "
     "sweep\n"
     "  --overwrite   start a new sweep over what FILE (--out) holds\n"
     "  --max-initial-failures N\n"
     "                stop when the first N trials fail within 60 s of the "
     "start\n"
     "                and none completed, as wandb agent does (default 3; "
     "0: never)\n"},
    {"create", cmd_create, "validate a sweep config and store it in Redis",
     "protein create CONFIG [--name NAME] [--shared] [--lease SECONDS] "
     "[--max-retries N]\n"
     "  --name NAME        sweep name (default: the config's name, else the\n"
     "                     file name without its extension)\n"
     "  --shared           let any user claim trials (control stays yours)\n"
     "  --lease SECONDS    lease of a running trial (default 86400)\n"
     "  --max-retries N    requeues of a lost trial's point "
     "(default 0)\n" REDIS_OPTS},
    {"admin", cmd_admin, "give users and services their Redis identities",
     "protein admin add-user NAME\n"
     "       protein admin add-service NAME --secret-file FILE\n"
     "       protein admin rules user NAME | rules service\n"
     "  add-user NAME       Redis ACL user NAME, reaching NAME's sweeps only;\n"
     "                      password in ~NAME/.config/protein/redis-password\n"
     "  add-service NAME    a privileged service (plugin, proteind): every\n"
     "                      sweep; password in FILE (mode 0600)\n"
     "  rules               print a role's ACL rules (for users.acl)\n"
     "  Connect as the Redis admin (--redis, --password-file).\n" REDIS_OPTS},
    {"list", cmd_list, "list your sweeps in Redis",
     "protein list [--all]\n"
     "  --all                 every user's sweeps (a privileged service's or\n"
     "                        the admin's Redis user)\n" REDIS_OPTS},
    {"status", cmd_status,
     "trial counts, queue depth and coordinator of a sweep",
     "protein status NAME\n" REDIS_OPTS},
    {"trials", cmd_trials, "list a sweep's trials",
     "protein trials NAME [--status STATUS] [--format table|csv|json]\n"
     "  --status STATUS only trials with STATUS (queued, running, completed,\n"
     "                  failed, interrupted, lost, pruned; "
     "--state also works)\n"
     "  --format F      table (default), csv or json\n" REDIS_OPTS},
    {"show", cmd_show, "everything stored about one trial",
     "protein show NAME TRIAL\n" REDIS_OPTS},
    {"best", cmd_best, "the best trials and the score/cost Pareto front",
     "protein best NAME [--top K]\n"
     "  --top K   how many of the best trials to show "
     "(default 5)\n" REDIS_OPTS},
    {"report", cmd_report,
     "report values from a trial program (exit 3: stop early)",
     "protein report KEY=VALUE...\n"
     "  Appends the lines to $PROTEIN_RESULT: step= first, then the cost\n"
     "  ($PROTEIN_COST_KEY=, default cost=), then the others in the order\n"
     "  given. Inside a sweep trial ($PROTEIN_SWEEP, $PROTEIN_TRIAL and\n"
     "  $PROTEIN_TOKEN set) also sends step, metric ($PROTEIN_METRIC_KEY)\n"
     "  and cost progress to Redis, and exits with status 3 when the sweep\n"
     "  asks the trial to stop early, or when the trial already has its\n"
     "  outcome from another claim (a late one: this run's would be\n"
     "  refused).\n" REDIS_OPTS},
    {"pause", cmd_control, "stop handing out trials until resume",
     "protein pause NAME\n" REDIS_OPTS},
    {"resume", cmd_control, "hand out trials again after pause",
     "protein resume NAME\n" REDIS_OPTS},
    {"stop", cmd_control,
     "hand out no more trials; running ones finish (final)",
     "protein stop NAME\n" REDIS_OPTS},
    {"cancel", cmd_control,
     "stop, and scancel the running and interrupted trials' jobs",
     "protein cancel NAME\n" REDIS_OPTS},
    {"budget", cmd_budget, "set or raise a sweep's trial budget",
     "protein budget NAME N|+N\n"
     "  N    the sweep's budget becomes N trials (fewer than it handed out:\n"
     "       no new trials, and its running ones finish)\n"
     "  +N   N trials more: a sweep that used its budget hands out trials\n"
     "       again, the model's picks from where it stopped once proteind\n"
     "       serves it again (fresh fallback points until then)\n" REDIS_OPTS},
    {"export", cmd_export, "all trials as JSON lines",
     "protein export NAME\n" REDIS_OPTS},
    {"plot", cmd_plot, "an SVG plot: score vs cost, best so far",
     "protein plot NAME [--out FILE.svg]\n"
     "  --out FILE   where to write the SVG (default NAME.svg; "
     "- for stdout)\n" REDIS_OPTS},
    {"delete", cmd_delete, "delete a sweep and all its trials",
     "protein delete NAME [--yes]\n"
     "  --yes   do not ask for confirmation (required when stdin is not a\n"
     "          terminal)\n" REDIS_OPTS},
    {"agent", cmd_agent, "run a sweep's trials on this machine, from Redis",
     "protein agent NAME [--count N] [--claim-key KEY] [--lease SECONDS]\n"
     "              [--max-initial-failures N] [-- COMMAND [ARGS...]]\n"
     "  without COMMAND each trial runs the stored config's W&B\n"
     "  program/command (protein exec)\n"
     "  --count N        run at most N trials (default: until the budget is\n"
     "                   used or the sweep is stopped)\n"
     "  --claim-key KEY  idempotency key of the claims "
     "(default HOST:PID)\n"
     "  --lease SECONDS  how long the trial of an agent that vanished stays\n"
     "                   running before it is retried or lost (default 120,\n"
     "                   or the sweep's lease when shorter; the agent renews\n"
     "                   it every 2 s, or a third of it when shorter, while "
     "it\n"
     "                   runs the trial)\n"
     "  --max-initial-failures N\n"
     "                   stop (exit 1) when the first N trials fail within "
     "60 s\n"
     "                   of the start and none completed, as wandb agent "
     "does\n"
     "                   (default 3; 0: never)\n"
     "  COMMAND gets --redis as $PROTEIN_REDIS and --password-file (the\n"
     "  path of a file private to you, never the password) as\n"
     "  $PROTEIN_REDIS_PASSWORD_FILE, for its protein report\n" REDIS_OPTS},
    {"replay", cmd_replay,
     "record the outcomes spooled on this node while Redis was down",
     "protein replay [--spool DIR]\n"
     "  --spool DIR   the plugin's spool_dir, an absolute path (default\n"
     "                /var/spool/protein);\n"
     "                run as root, on the node that spooled\n" REDIS_OPTS},
    {"config", cmd_config,
     "print the sweep a config file gives, as protein reads it",
     "protein config CONFIG\n"
     "  the canonical YAML of CONFIG (a W&B sweep file, protein YAML, or a\n"
     "  PufferLib INI read over its default.ini): every parameter with its\n"
     "  distribution, bounds, scale and choices, every setting filled in\n"},
    {"exec", cmd_exec, "inside a trial: run the config's W&B program offline",
     "protein exec [--quiet] CONFIG\n"
     "  runs the program/command of CONFIG (a W&B sweep file) with this\n"
     "  trial's parameters ($PROTEIN_PARAMS) as `wandb agent` would, with\n"
     "  WANDB_MODE=offline; the sweep metric the program logs with\n"
     "  wandb.log becomes the trial's score ($PROTEIN_RESULT)\n"
     "  --quiet  leave out CONFIG's warnings (protein run and agent pass\n"
     "           it: they printed them once)\n"},
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

/* The verb table's entry for name, or NULL (for a NULL name too). */
static const struct verb *find_verb(const char *name)
{
    size_t i;

    for (i = 0; name && i < N_VERBS; i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

/* Contract in cli.h. */
void cli_usage(FILE *fp, const char *verb)
{
    const struct verb *v = find_verb(verb);
    size_t i;

    if (v) {
        fprintf(fp, "usage: %s", v->usage);
        return;
    }
    fprintf(fp, "usage: protein VERB [OPTIONS] [ARGS]\n"
                "       protein --help | --version | VERB --help\n\n"
                "Cost-aware Bayesian hyperparameter sweeps (Protein) for Slurm "
                "clusters.\n"
                "\n"
                "verbs:\n");
    for (i = 0; i < N_VERBS; i++)
        fprintf(fp, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(fp, "\nexit status: 0 ok, 1 failure, 2 usage or config error, "
                "3 stop early (report),\n"
                "130 interrupted.\n"
                "See 'man protein' and " PROTEIN_DOCDIR "/user-guide.md.\n");
}

/* Prints "protein VERB: MESSAGE" (no VERB when NULL) on stderr. */
static void vmessage(const char *verb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vmessage(const char *verb, const char *fmt, va_list ap)
{
    fprintf(stderr, "protein%s%s: ", verb ? " " : "", verb ? verb : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* Contract in cli.h. */
int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(verb, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'protein %s%s--help' for more information.\n",
            verb ? verb : "", verb ? " " : "");
    return CLI_EUSAGE;
}

/* Contract in cli.h. */
int cli_fail(const char *verb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmessage(verb, fmt, ap);
    va_end(ap);
    return CLI_EFAIL;
}

/* `protein VERB ...`: help and version itself, every other verb by its
 * handler (argv from the verb on), whose exit status it returns. */
int main(int argc, char **argv)
{
    const struct verb *v;
    char blas[160];

    if (argc < 2) {
        cli_usage(stderr, NULL);
        return CLI_EUSAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage(stdout, argc > 2 ? argv[2] : NULL);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("protein %s\n", PACKAGE_VERSION);
        return CLI_OK;
    }
    v = find_verb(argv[1]);
    if (!v)
        return cli_usage_error(NULL, "unknown verb '%s'", argv[1]);
    /* the one verb that fits GPs: it may run again, with the BLAS kernels
     * this CPU runs */
    if (v->handler == cmd_run)
        protein_blas_kernels_check(argv);
    if (protein_blas_threads_choose(0, blas, sizeof blas) < 0)
        return cli_usage_error(NULL, "%s", blas);
    return v->handler(argc - 1, argv + 1);
}
