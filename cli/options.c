/*
 * options.c - command-line helpers shared by the verbs: numbers, the Redis
 * connection, files and configs.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unistd.h>

#include "cli.h"

/* Contract in cli.h. */
const char *cli_user_name(void)
{
    static char name[PQ_OWNER_MAX + 1];

    if (name[0])
        return name;
    if (pq_user_name(getuid(), name, sizeof(name)) != PQ_OK)
        return NULL;
    return name;
}

/* Contract in cli.h. */
const char *cli_env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

/* Contract in cli.h. */
const char *cli_sweep_name(const char *verb, const char *given)
{
    static char full[PQ_SWEEP_NAME_MAX + 1];
    const char *user = cli_user_name();

    if (given == full)
        return full;
    if (pq_sweep_qualify(given, user, full, sizeof(full)) == PQ_OK)
        return full;
    if (given && !strchr(given, '/') && !user)
        cli_usage_error(
            verb,
            "sweep '%s': your user name is not one protein accepts as an owner "
            "([a-z_][a-z0-9_.-]*, at most %d): name the sweep as OWNER/NAME",
            given, PQ_OWNER_MAX);
    else
        cli_usage_error(
            verb,
            "'%s' is not a valid sweep name: 1-64 of [A-Za-z0-9._-], not "
            "starting with . or -, optionally after OWNER/",
            given ? given : "");
    return NULL;
}

/* Contract in cli.h. */
int cli_parse_long(const char *verb, const char *option, const char *text,
                   long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || v < min || v > max) {
        cli_usage_error(verb, "%s: '%s' is not an integer in [%ld, %ld]",
                        option, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Contract in cli.h. */
int cli_parse_simple(int argc, char **argv, cli_redis_opts *r,
                     const char *second, char **pos, int *ret)
{
    static const struct option longopts[] = {CLI_REDIS_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    const int want = second ? 2 : 1;
    int c, i;

    optind = 1;
    if ((c = cli_getopt(argc, argv, ":", longopts, r)) != -1) {
        *ret = cli_option_other(argv[0], c, argv);
        return -1;
    }
    if (argc - optind > want) {
        *ret = cli_usage_error(argv[0], "unexpected argument '%s'",
                               argv[optind + want]);
        return -1;
    }
    if (argc - optind < want) {
        *ret = second ? cli_usage_error(argv[0], "expected sweep NAME and %s",
                                        second)
                      : cli_usage_error(argv[0], "expected one sweep NAME");
        return -1;
    }
    for (i = 0; i < want; i++)
        pos[i] = argv[optind + i];
    if (!(pos[0] = (char *)cli_sweep_name(argv[0], pos[0]))) {
        *ret = CLI_EUSAGE;
        return -1;
    }
    return 0;
}

/* Contract in cli.h. */
int cli_option_other(const char *verb, int c, char **argv)
{
    if (c == CLI_OPT_HELP) {
        cli_usage(stdout, verb);
        return CLI_OK;
    }
    if (c == ':')
        return cli_usage_error(verb, "option '%s' needs a value",
                               argv[optind - 1]);
    return cli_usage_error(verb, "unknown option '%s'", argv[optind - 1]);
}

/* Contract in cli.h. */
int cli_command_dash(int argc, char **argv)
{
    int dash;

    for (dash = 1; dash < argc && strcmp(argv[dash], "--") != 0; dash++)
        ;
    return dash;
}

/* Contract in cli.h. */
int cli_command_runnable(const char *name)
{
    const char *path = getenv("PATH"), *dir, *end;
    char full[4096];
    struct stat sb;
    int why = ENOENT;

    if (strchr(name, '/'))
        return stat(name, &sb) < 0      ? errno
               : !S_ISREG(sb.st_mode)   ? EACCES
               : access(name, X_OK) < 0 ? errno
                                        : 0;
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (dir = path;; dir = end + 1) {
        size_t n;

        end = strchr(dir, ':');
        n = end ? (size_t)(end - dir) : strlen(dir);
        if (snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? dir : ".",
                     name) < (int)sizeof(full) &&
            stat(full, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (access(full, X_OK) == 0)
                return 0;
            why = EACCES;
        }
        if (!end)
            return why;
    }
}

/* What a message that name cannot run adds: where a name without a
 * slash was looked for (cli_command_runnable searches $PATH for it). */
static const char *path_hint(const char *name)
{
    return strchr(name, '/') ? "" : " (looked in $PATH)";
}

/* Contract in cli.h. */
int cli_program_check(const char *verb, const char *source,
                      const protein_sweep_config *cfg)
{
    const char *first = cfg->command ? NULL : "${interpreter}";
    int passes_program = !cfg->command, why;
    struct stat sb;
    size_t i;

    for (i = 0; cfg->command && i < cfg->n_command; i++) {
        const char *item = cfg->command[i];
        if (cli_wandb_dropped_macro(item)) {
            /* the trial's command line is what is left without it */
            fprintf(stderr,
                    "protein %s: warning: %s: command: '%s' is no W&B macro, "
                    "so each trial's command line leaves it out, as wandb "
                    "agent does\n",
                    verb, source, item);
            continue;
        }
        if (strcmp(item, "${program}") == 0)
            passes_program = 1;
        if (!first && strcmp(item, "${env}") != 0 &&
            strcmp(item, "/usr/bin/env") != 0 && strcmp(item, "env") != 0)
            first = item;
    }
    if (!first)
        return 0;
    if (strcmp(first, "${interpreter}") == 0) {
        if ((why = cli_command_runnable("python")) != 0) {
            cli_fail(
                verb,
                "%s: the command runs 'python' (W&B's ${interpreter}), and "
                "there is no python in $PATH (%s); no trial was run: activate "
                "the virtualenv that has wandb, or give the config a command: "
                "[\"${env}\", python3, \"${program}\", \"${args}\"]",
                source, strerror(why));
            return -1;
        }
    } else if (strcmp(first, "${program}") == 0 || !strstr(first, "${")) {
        /* the program itself, or a named interpreter, starts first */
        int direct = strcmp(first, "${program}") == 0;
        const char *name = direct ? cfg->program : first;

        if (name && (why = cli_command_runnable(name)) != 0) {
            cli_fail(verb, "%s: cannot run its %s '%s': %s%s; no trial was run",
                     source, direct ? "program" : "command", name,
                     strerror(why), path_hint(name));
            return -1;
        }
        if (direct)
            return 0;
    } else {
        return 0;
    }
    /* an interpreter opens the program: relative to this directory, as
     * `wandb agent` runs it from where it was started */
    if (passes_program && cfg->program &&
        (stat(cfg->program, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        char cwd[4096];
        int relative = cfg->program[0] != '/';
        cli_fail(verb,
                 "%s: its program '%s' is not a file%s%s; no trial "
                 "was run: start protein in the directory that holds "
                 "it, as wandb agent is started",
                 source, cfg->program, relative ? " in " : "",
                 !relative                  ? ""
                 : getcwd(cwd, sizeof(cwd)) ? cwd
                                            : "this directory");
        return -1;
    }
    return 0;
}

/* Contract in cli.h. */
int cli_command_check(const char *verb, const char *what, int argc, char **argv,
                      int dash)
{
    int why;

    if (optind >= dash)
        cli_usage_error(verb, "missing %s", what);
    else if (optind + 1 < dash)
        cli_usage_error(
            verb, "unexpected argument '%s' (the command goes after '--')",
            argv[optind + 1]);
    else if (dash == argc)
        return 1;
    else if (dash + 1 >= argc)
        cli_usage_error(verb, "missing COMMAND after '--'");
    else if ((why = cli_command_runnable(argv[dash + 1])) != 0)
        cli_usage_error(
            verb, "cannot run the COMMAND '%s': %s%s; no trial was run",
            argv[dash + 1], strerror(why), path_hint(argv[dash + 1]));
    else
        return 0;
    return -1;
}

/* Contract in cli.h. */
int cli_exec_command(const char *config_path, char ***out)
{
    char self[4096], **v = calloc(5, sizeof(*v));
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    *out = NULL;
    if (!v || n <= 0) {
        free(v);
        return -1;
    }
    self[n] = '\0';
    v[0] = strdup(self);
    v[1] = strdup("exec");
    v[2] = strdup("--quiet");
    v[3] = strdup(config_path);
    if (!v[0] || !v[1] || !v[2] || !v[3]) {
        cli_strv_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

/* Contract in cli.h. */
int cli_getopt(int argc, char **argv, const char *optstring,
               const struct option *longopts, cli_redis_opts *r)
{
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        if (c == CLI_OPT_REDIS)
            r->url = optarg;
        else if (c == CLI_OPT_PASSWORD_FILE)
            r->password_file = optarg;
        else
            break;
    }
    return c;
}

/* Contract in cli.h. */
int cli_connect(const char *verb, const cli_redis_opts *r, pq_context **out)
{
    static char user[PQ_OWNER_MAX + 1], path[4096];
    pq_connect_options opts;
    pq_context *ctx;
    int ret;

    memset(&opts, 0, sizeof(opts));
    opts.url = r->url;
    opts.password_file = r->password_file
                             ? r->password_file
                             : cli_env("PROTEIN_REDIS_PASSWORD_FILE");
    pq_own_credentials(&opts, user, path, sizeof(path));
    opts.connect_timeout_ms = 2000;
    opts.command_timeout_ms = 5000;
    *out = NULL;
    ctx = pq_connect(&opts);
    if (!ctx)
        return cli_fail(verb, "out of memory");
    if (ctx->err != PQ_OK) {
        /* The library's message names the (redacted) URL itself; a
         * password problem is not cured by another URL, and its message
         * says what is. */
        cli_fail(verb, "%s%s",
                 ctx->errstr[0] ? ctx->errstr : protein_strerror(ctx->err),
                 ctx->err == PQ_EAUTH ? ""
                                      : " (set --redis URL or $PROTEIN_REDIS)");
        ret = ctx->err == PQ_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
        pq_free(ctx);
        return ret;
    }
    if (ctx->functions_stale)
        fprintf(stderr, "protein %s: warning: %s\n", verb, PQ_STALE_FUNCTIONS);
    *out = ctx;
    return CLI_OK;
}

/* Contract in cli.h. */
void cli_warn_skipped(const char *verb, const pq_context *ctx,
                      const char *sweep, size_t skipped)
{
    if (skipped == 0)
        return;
    fprintf(stderr,
            "protein %s: warning: sweep %s: %zu trial%s left out: the stored "
            "record%s malformed (%s)\n",
            verb, sweep, skipped, skipped == 1 ? "" : "s",
            skipped == 1 ? " is" : "s are", ctx->errstr);
}

/* Contract in cli.h. */
int cli_queue_fail(const char *verb, const pq_context *ctx, const char *sweep,
                   int rc)
{
    const char *why =
        ctx && ctx->errstr[0] ? ctx->errstr : protein_strerror(rc);

    if (rc == PQ_ENOSWEEP)
        return cli_fail(verb, "no sweep named '%s' (see protein list)", sweep);
    if (rc == PQ_EPERM && pq_error_is_acl(why))
        /* Redis' own words name no sweep and no rule: say which rule. */
        return cli_fail(
            verb,
            "%s%s%s%s (Redis' ACL refused it: a person's Redis user "
            "reaches only their own sweeps, USER/NAME, and list "
            "--all needs the admin's or a service's; if this is "
            "yours, check --redis and your password file)",
            sweep ? "sweep " : "", sweep ? sweep : "", sweep ? ": " : "", why);
    if (sweep)
        return cli_fail(verb, "sweep %s: %s", sweep, why);
    return cli_fail(verb, "%s", why);
}

/* Contract in cli.h. */
int cli_read_file(const char *path, char **text, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    int saved;

    if (!fp)
        return -1;
    for (;;) {
        if (cap - n < 4096) {
            char *grown = realloc(buf, cap + 65536);

            if (!grown)
                goto fail;
            buf = grown;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(fp)) {
        errno = EIO;
        goto fail;
    }
    fclose(fp);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
fail:
    saved = errno;
    free(buf);
    fclose(fp);
    errno = saved;
    return -1;
}

/* Contract in cli.h. */
protein_sweep_config *cli_load_config(const char *verb, const char *path,
                                      int quiet)
{
    protein_sweep_config *cfg = NULL;
    protein_error err;
    char msg[1024];

    memset(&err, 0, sizeof(err));
    if (protein_config_load_file(path, &cfg, &err) != PROTEIN_OK) {
        if (!err.file[0])
            snprintf(err.file, sizeof(err.file), "%s", path);
        protein_error_format(&err, msg, sizeof(msg));
        cli_fail(verb, "%s", msg);
        return NULL;
    }
    if (cfg->warnings && !quiet)
        fprintf(stderr, "%s", cfg->warnings);
    return cfg;
}
