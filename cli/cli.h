/*
 * cli.h - internals shared by the files of the `protein` command.
 *
 * Every verb is a handler `int cmd_VERB(int argc, char **argv)` with argv[0]
 * the verb itself; it returns the process exit status (CLI_* below) and
 * prints its own messages, prefixed "protein VERB: ".
 */
#ifndef PROTEIN_CLI_H
#define PROTEIN_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#include "protein.h"
#include "protein_queue.h"

/* Exit statuses of the protein command (documented in docs/user-guide.md). */
enum {
    CLI_OK = 0,     /* success */
    CLI_EFAIL = 1,  /* runtime failure: Redis down, unknown sweep, ... */
    CLI_EUSAGE = 2, /* bad command line or config; nothing was changed */
    CLI_ESTOP = 3,  /* protein report: the trial should stop early */
    CLI_EINTR = 130 /* interrupted by SIGINT, SIGTERM or SIGHUP */
};

/* ------------------------------------------------------------ main.c */

/* Prints the usage of `verb` (its synopsis and option list) to fp; the
 * general usage when verb is NULL or unknown. */
void cli_usage(FILE *fp, const char *verb);

/* Prints "protein VERB: MESSAGE\n" to stderr, then a hint to run
 * `protein VERB --help`, and returns CLI_EUSAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "protein VERB: MESSAGE\n" to stderr and returns CLI_EFAIL. */
int cli_fail(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ options.c */

/* Parses all of `text` as a decimal integer in [min, max] into *out.
 * Returns 0, or -1 after printing a usage error naming `option`. */
int cli_parse_long(const char *verb, const char *option, const char *text,
                   long min, long max, long *out);

/* Where to find Redis: --redis URL and --password-file FILE (the password
 * itself never comes from argv; $PROTEIN_REDIS_PASSWORD is read by the
 * queue library). NULL fields take the library's defaults. */
typedef struct cli_redis_opts {
    const char *url;
    const char *password_file;
} cli_redis_opts;

/* Option codes of the Redis options, for getopt_long tables; CLI_REDIS_LONGOPTS
 * expands to their struct option entries. */
enum { CLI_OPT_REDIS = 1000, CLI_OPT_PASSWORD_FILE, CLI_OPT_HELP };
/* clang-format 14 takes a macro of braced initialisers for a block and
 * scatters it over lines. */
/* clang-format off */
#define CLI_REDIS_LONGOPTS                                                   \
    {"redis", required_argument, NULL, CLI_OPT_REDIS},                       \
    {"password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE},       \
    {"help", no_argument, NULL, CLI_OPT_HELP}
/* clang-format on */

/* getopt_long over argv[0..argc) with opterr off, for a verb whose
 * optstring starts with ':' (a missing value comes back as ':'). Stores the
 * Redis options in *r on the way (r may be NULL when longopts has none)
 * and returns the next other code, or -1 after the last option (optind is
 * then the first operand). The verb sets optind = 1 before its first call. */
int cli_getopt(int argc, char **argv, const char *optstring,
               const struct option *longopts, cli_redis_opts *r);

/* Handles a code from cli_getopt (over argv) that the verb does not
 * handle itself: CLI_OPT_HELP prints the verb's usage to
 * stdout and returns CLI_OK; ':' (an option without its value) and any
 * other code (an unknown option) print a usage error and return
 * CLI_EUSAGE. The verb returns the result at once. */
int cli_option_other(const char *verb, int c, char **argv);

/* The index of the "--" in argv[1..argc) that ends the arguments of a verb
 * of the form `VERB [OPTIONS] WHAT -- COMMAND [ARGS...]`; argc when there
 * is none. The verb runs getopt_long over argv[0..dash). */
int cli_command_dash(int argc, char **argv);

/* After getopt_long stopped (optind) before `dash`: checks that exactly one
 * operand (`what`, as named in messages, e.g. "CONFIG") stands before "--"
 * and a command after it that execvp can run (an executable file, found in
 * $PATH when its name has no '/'), so that a mistyped command stops the
 * sweep before its first trial instead of failing every trial. Returns 0
 * (the operand is argv[optind], the command argv + dash + 1), 1 when there
 * is no "--" at all (one operand, no command: the verb runs the config's
 * W&B program), or -1 after printing a usage error. */
int cli_command_check(const char *verb, const char *what, int argc, char **argv,
                      int dash);

/* 0 when execvp could run name (a path with a '/', else a name found in
 * $PATH) as an executable regular file, else why not (an errno: ENOENT,
 * EACCES). */
int cli_command_runnable(const char *name);

/* With no COMMAND (the config's W&B program runs): checks that the
 * config's command could start on this machine, from this directory, as
 * cli_command_check does for a COMMAND, so that a missing `python` (W&B's
 * ${interpreter}; Debian and others have only python3 outside a
 * virtualenv) or a program: not in this directory stops the sweep before
 * its first trial. Checks what it can name: the command's first word
 * after ${env} or env (a macro other than ${interpreter} and ${program}
 * is not checked), and the program: file when the command passes
 * ${program} to an interpreter. An item that is no macro (a typo such as
 * ${interpereter}) gets a warning and is skipped, as each trial's command
 * line leaves it out. Returns 0, or -1 after printing why, naming
 * `source` (the config file or the sweep); the verb exits 2, as for a bad
 * config. */
int cli_program_check(const char *verb, const char *source,
                      const protein_sweep_config *cfg);

/* The command `protein exec --quiet CONFIG_PATH` with this program's own
 * path (its caller printed the config's warnings), as
 * a NULL-terminated vector (*out, free with cli_strv_free). Returns 0, or
 * -1 (out of memory, /proc/self/exe unreadable). */
int cli_exec_command(const char *config_path, char ***out);

/* Parses the options of a verb that takes only the Redis options and
 * its positional arguments, stored in pos[]: a sweep (qualified by
 * cli_sweep_name), then, when second is not NULL, one more, which second
 * names as the synopsis does ("TRIAL"), for the message when it is
 * missing. Returns 0, or -1 when the verb should return *ret at once
 * (after --help, or a usage error that was printed). */
int cli_parse_simple(int argc, char **argv, cli_redis_opts *r,
                     const char *second, char **pos, int *ret);

/* The caller's login name when protein accepts it as a sweep owner
 * (pq_acl_user_name_valid), else NULL. Static storage. */
const char *cli_user_name(void);

/* The value of environment variable name; NULL when it is unset or empty
 * (an empty one counts as unset). */
const char *cli_env(const char *name);

/* The full name ("OWNER/NAME") of the sweep a user names: a bare NAME is
 * the caller's own. Static storage, overwritten by the next call; NULL
 * after printing a usage error for a bad name. */
const char *cli_sweep_name(const char *verb, const char *given);

/* Connects to Redis with bounded timeouts (connect 2 s, commands 5 s).
 * The password comes from --password-file, else the file
 * $PROTEIN_REDIS_PASSWORD_FILE names (protein agent hands its trials its
 * own --password-file so), else $PROTEIN_REDIS_PASSWORD, else the
 * password file that `protein admin add-user` left in the
 * caller's home directory, used as the Redis user of the caller's login
 * name (unless the URL names a user).
 * Returns CLI_OK with the context in *out, which the caller frees with
 * pq_free; else *out is NULL after "protein VERB: REASON" is printed (the
 * library's reason, naming the redacted URL), and the result is
 * CLI_EUSAGE for a Redis URL that is malformed or names a database the
 * server refuses (a config error), CLI_EFAIL for the rest (unreachable,
 * password refused, out of memory). */
int cli_connect(const char *verb, const cli_redis_opts *r, pq_context **out);

/* Warns on stderr, when skipped > 0, that pq_trial_list left out that
 * many trials of sweep whose stored records are malformed, with ctx's
 * reason for the last one. */
void cli_warn_skipped(const char *verb, const pq_context *ctx,
                      const char *sweep, size_t skipped);

/* Prints the failure of a queue call on ctx ("protein VERB: sweep S: ...";
 * an ACL refusal, PQ_EPERM, with what a Redis user may reach) and returns
 * CLI_EFAIL. */
int cli_queue_fail(const char *verb, const pq_context *ctx, const char *sweep,
                   int rc);

/* Reads a whole file into a malloc'ed NUL-terminated buffer (*text, *len).
 * Returns 0, or -1 with errno set; nothing is allocated on failure. */
int cli_read_file(const char *path, char **text, size_t *len);

/* Loads a sweep config file and prints its load warnings on stderr
 * unless quiet; on failure prints "protein VERB: FILE:LINE: KEY: MESSAGE"
 * and returns NULL. The caller frees with protein_config_free. */
protein_sweep_config *cli_load_config(const char *verb, const char *path,
                                      int quiet);

/* ------------------------------------------------------------ format.c */

/* Writes s as one CSV field: quoted (with "" for ") when it holds a comma,
 * quote, CR or LF; as is otherwise. */
void cli_csv_field(FILE *fp, const char *s);

/* Replaces the control characters (other than tab and newline) of s, if
 * any, with '?': texts read from Redis that another user wrote (the owner
 * of a sweep the admin looks at, a job of a shared sweep) must not send
 * escape sequences to the reader's terminal. */
void cli_strip_controls(char *s);

/* Writes s as a JSON string literal (quotes and escapes included, as
 * pq_json_quote writes it); a NULL s, or one that runs out of memory, as
 * null. */
void cli_json_string(FILE *fp, const char *s);

/* Formats a parameter value as text: strings as they are, integers without
 * a fraction, other numbers with the shortest round-trip form. */
void cli_param_text(const pq_param *q, char *buf, size_t len);

/* Formats a number with the shortest text that reads back exactly, or as
 * "" for NaN. */
void cli_number_text(double v, char *buf, size_t len);

/* Whether score a is better than score b under the goal (minimize: lower
 * is better, else higher). */
int cli_better(int minimize, double a, double b);

/* Formats unix seconds as local "YYYY-MM-DD HH:MM:SS"; a value that is no
 * date (a damaged store: NaN, inf, 1e300) as "%g (not a date)". */
void cli_time_text(double t, char *buf, size_t len);

/* Formats a span of seconds for people, rounded to what it shows:
 * "4.2 s" under a minute, "3 min 05 s" under an hour, "2 h 05 min"
 * above; "? s" for NaN. */
void cli_duration_text(double seconds, char *buf, size_t len);

/* Writes params on one line, "name = value, name = value" (values as
 * cli_param_text gives them), with no newline. */
void cli_params_inline(FILE *fp, const pq_params *params);

/* ------------------------------------------------------------ csv.c */

/* How a row of `protein run --out` says a trial ended. */
typedef enum cli_row_status {
    CLI_ROW_COMPLETED,
    CLI_ROW_PRUNED, /* stopped early, recorded at its last report */
    CLI_ROW_FAILED
} cli_row_status;

/* One trial's row read back from `protein run --out`. */
typedef struct cli_run_row {
    long id;   /* 1 to 1000000000 */
    long line; /* where the row starts in the file */
    cli_row_status status;
    double score;     /* finite; NaN for a failed trial */
    double cost;      /* > 0 */
    double *values;   /* cfg->n_params, value space (categoricals: index) */
    pq_params params; /* the parameters as the row writes them, as strings */
    char *error;      /* the error column */
    protein_curve_point *curve; /* its reports (the curve column), or NULL */
    size_t n_curve;
} cli_run_row;

/* The rows of a `protein run --out` file. */
typedef struct cli_run_csv {
    size_t n;
    cli_run_row *rows; /* in file order */
    long max_id;       /* the highest trial number (0: no row) */
    size_t keep;       /* bytes up to the end of the last complete row (the
                        * header's when there is none; 0 without a whole
                        * header) */
    long cut_line;     /* the line of a last row that the text ends inside
                        * (no newline: cut short by a crash), dropped; 0 when
                        * none */
    int has_curve;     /* the header ends in curve (files written before
                        * protein kept curves have no such column) */
} cli_run_csv;

/* Between the points of the curve column ("STEP SCORE COST", COST '-'
 * when not reported): no quoting needed, one line per row. */
#define CLI_CURVE_SEP ';'

/* Reads the CSV text (len bytes) that `protein run --out` wrote for cfg:
 * the header must be trial,status,score,cost, cfg's parameter names in
 * order, error, then curve (or nothing: out->has_curve); each row a trial
 * number (unique), a status, a finite score (empty for a failed trial), a
 * cost > 0, values that fit cfg's parameters (in range, whole for
 * integers, a power of 2 for uniform_pow2, one of a categorical's values),
 * an error text and its curve (empty, or at most PROTEIN_CURVE_MAX points
 * separated by CLI_CURVE_SEP, each as protein_curve_parse reads a line).
 * Quoted fields are read as RFC 4180 has them.
 * A last row without its newline is dropped (out->cut_line). Returns 0
 * with *out (free with cli_run_csv_free), or -1 with why ("PATH:LINE:
 * column C (NAME): what", len bytes) and *out empty; path only names the
 * file in messages. */
int cli_run_csv_parse(const char *path, const char *text, size_t len,
                      const protein_sweep_config *cfg, cli_run_csv *out,
                      char *why, size_t why_len);

/* Frees what cli_run_csv_parse returned and empties c. */
void cli_run_csv_free(cli_run_csv *c);

/* ------------------------------------------------------------ child.c */

/* Blocks SIGINT, SIGTERM, SIGHUP (unless ignored, as under nohup) and
 * SIGCHLD so that cli_child_wait can take them synchronously; *old
 * receives the previous mask. */
void cli_signals_block(sigset_t *old);

/* 1 when sig (from cli_child_wait) tells the runner to stop: SIGINT,
 * SIGTERM or SIGHUP; else 0. */
int cli_stop_signal(int sig);

/* How long a stopped trial has between SIGTERM and SIGKILL. */
#define CLI_STOP_GRACE_MS 5000

/* Ends this process by signal sig, as a program killed by it ends: its
 * default action, unblocked. Returns only when that action is not to end
 * (SIGCHLD, say). */
void cli_raise_default(int sig);

/* In a child just forked from parent (the pid before the fork): asks for
 * SIGTERM when parent dies (PR_SET_PDEATHSIG; the parent is single
 * threaded), and exits with 127 at once when parent is gone already. */
void cli_child_tie(pid_t parent);

/* In a child forked from runner, tied to it (cli_child_tie) and leader of
 * its own process group: runs argv[0] (searched in PATH) as its own child,
 * with the signal mask child_mask, and stays between the two as the
 * program's guard. Exits as the program exits (its exit status, or its
 * signal). When the runner dies outright (kill -9, the OOM killer), the
 * guard stops the whole process group as a runner would: SIGTERM, then
 * SIGKILL after CLI_STOP_GRACE_MS, so that no process a trial started
 * (the training a shell script runs) runs on unseen; PR_SET_PDEATHSIG
 * alone reaches only the runner's own child. The guard first closes the
 * runner's close-on-exec descriptors, as an exec would, so that it holds
 * nothing of the runner's (the --out CSV's lock). Messages start with
 * who. */
_Noreturn void cli_child_guard(pid_t runner, char *const argv[],
                               const sigset_t *child_mask, const char *who);

/* Starts argv[0] (searched in PATH) as a child in its own process group,
 * with this process's environment less any inherited contract variables
 * (PROTEIN_SWEEP, _TRIAL, _PARAMS, _ARGS, _RESULT, _TOKEN, _PARAM_*), plus
 * env's variables (env NULL: this process's environment as it is), and the
 * signal mask `child_mask` restored; *pid is its guard (cli_child_guard),
 * which exits as argv[0] does, so a runner killed outright leaves no
 * process of the trial behind. Returns 0 and *pid, or -1 with errno (fork
 * failed). When exec fails, the child prints why, after who, and exits
 * with 127. */
int cli_child_start(const char *who, char *const argv[], const pq_env *env,
                    const sigset_t *child_mask, pid_t *pid);

/* Waits up to timeout_ms for SIGCHLD or a stop signal (blocked with
 * cli_signals_block). Returns the signal number, or 0 on timeout. */
int cli_child_wait(int timeout_ms);

/* Describes a wait status as text: "exit status 3", "killed by signal 9
 * (Killed)". */
void cli_wait_status_text(int status, char *buf, size_t len);

/* Sends SIGTERM to every child's process group in pids[0..n) (0 entries are
 * skipped), waits up to grace_ms for them, then sends SIGKILL and reaps the
 * rest. Every reaped entry is set to 0. */
void cli_children_stop(pid_t *pids, size_t n, int grace_ms);

/* Creates a private temporary directory (mode 0700) under $TMPDIR or /tmp.
 * Returns a malloc'ed path or NULL with errno set. */
char *cli_private_dir(void);

/* Creates an empty result file DIR/trial-ID.result with mode 0600 and
 * returns its malloc'ed path, or NULL with errno set. */
char *cli_result_file(const char *dir, long id);

/* Reads and parses a result file (missing file = empty). Returns 0, or -1
 * with errno set when it exists but cannot be read. */
int cli_result_read(const char *path, const char *metric_key,
                    const char *cost_key, pq_result *out);

/* What `protein run` and `protein agent` share to run trial programs. */
typedef struct cli_runner {
    const char *sweep;   /* the name trials see as $PROTEIN_SWEEP */
    char **command;      /* the trial program and its arguments */
    char *dir;           /* private directory of result files; NULL: closed */
    sigset_t child_mask; /* the mask before cli_runner_open, for children */
} cli_runner;

/* Creates rn->dir (cli_private_dir) and blocks SIGINT, SIGTERM and SIGCHLD
 * (cli_signals_block), keeping the previous mask in rn->child_mask.
 * Returns 0, or -1 after printing "protein VERB: cannot create a private
 * temporary directory: REASON" (rn->dir stays NULL). */
int cli_runner_open(const char *verb, cli_runner *rn);

/* Restores the signal mask, removes rn->dir (which must hold no result
 * file any more) and frees it. Does nothing when rn->dir is NULL. */
void cli_runner_close(cli_runner *rn);

/* Starts trial `id` of rn->sweep: creates its result file in rn->dir and
 * runs rn->command with the environment contract of params (metric and
 * cost_key: the sweep's result keys, NULL for "score" and "cost"; token:
 * the claim token, NULL outside the queue). Returns 0 with *result_path
 * (malloc'ed; the caller unlinks and frees it) and *pid, or -1 after
 * printing "protein VERB: sweep S trial N: REASON" (nothing to free). */
int cli_trial_start(const char *verb, const cli_runner *rn, long id,
                    const pq_params *params, const char *metric,
                    const char *cost_key, const char *token, char **result_path,
                    pid_t *pid);

/* How a trial's child ended. */
typedef enum cli_trial_end {
    CLI_TRIAL_OK,     /* exit 0 with a metric line: res->metric is the score */
    CLI_TRIAL_FAILED, /* a non-zero exit, or no readable metric line */
    CLI_TRIAL_KILLED  /* killed by a signal */
} cli_trial_end;

/* Decides how a trial whose child ended with wait status `status` went:
 * killed by a signal, else failed on a non-zero exit status, an unreadable
 * result file or one without a `metric=` line (metric NULL: "score"), else
 * completed. *res receives the parsed result when the child exited 0 and
 * the file could be read, zeroes otherwise. why
 * (len bytes) tells people how it failed ("exit status 3", "killed by
 * signal 9 (Killed)", "cannot read PATH: REASON", "no result: no 'score='
 * line in $PROTEIN_RESULT"); it is "" for CLI_TRIAL_OK. */
cli_trial_end cli_trial_outcome(int status, const char *result_path,
                                const char *metric, const char *cost_metric,
                                pq_result *res, char *why, size_t len);

/* A runner that fails at once on every trial (a COMMAND that does not
 * exist as its interpreter sees it, a missing module) stops, as `wandb
 * agent` does, rather than spend the whole budget on failures: `max`
 * trials failed within CLI_START_WINDOW_S of the start and none
 * succeeded before them. */
#define CLI_MAX_INITIAL_FAILURES 3
#define CLI_START_WINDOW_S 60.0
typedef struct cli_start_guard {
    long max;        /* 0: never stop */
    long failures;   /* in the window, before any success */
    int succeeded;   /* a trial completed (or was pruned) */
    double start;    /* monotonic seconds */
    char last[1025]; /* the reason of the last failure counted */
} cli_start_guard;

/* Starts g's window now, with no failure counted; max as in the struct
 * (0: the guard never stops the runner). */
void cli_start_guard_init(cli_start_guard *g, long max);

/* Counts a finished trial: failed 1 when it failed as a broken COMMAND
 * fails (cli_start_guard_failure; why: how, kept for the explanation), 0
 * when it completed or was pruned; an interrupted trial, or one that
 * failed otherwise, is not counted. Returns 1 while the runner should
 * launch nothing more: max failures counted and no success (a later
 * success ends that). */
int cli_start_guard_note(cli_start_guard *g, int failed, const char *why);

/* Whether a trial that ended as `end` (exit status `status`, result res)
 * failed as a COMMAND that cannot run fails: a non-zero exit, or exit 0
 * without a metric line. A metric that is not a finite number (a run
 * that diverged, nan) is a result of the hyperparameters, not of the
 * COMMAND. */
int cli_start_guard_failure(cli_trial_end end, int status,
                            const pq_result *res);

/* Says why the runner stopped, on stderr (verb: the command's name). */
void cli_start_guard_explain(const char *verb, const cli_start_guard *g);

/* ------------------------------------------------------------ wandb.c */

#define CLI_WANDB_MAX_HISTORY 1000000

/* The sweep metric of one W&B run, as its .wandb log holds it. */
typedef struct cli_wandb_metric {
    size_t n_history; /* values logged with wandb.log, in order */
    double *history;
    int has_summary; /* the run summary's value (W&B's score) */
    double summary;
} cli_wandb_metric;

/* What a W&B training script is started with for one trial. */
typedef struct cli_wandb_job {
    const protein_sweep_config *cfg; /* program, command, project, entity */
    const pq_params *params;         /* the trial's parameters */
    const char *param_path;          /* where WANDB_SWEEP_PARAM_PATH goes */
    const char *json_path;           /* the ${args_json_file} */
} cli_wandb_job;

/* Frees the history of m and zeroes it. */
void cli_wandb_metric_free(cli_wandb_metric *m);

/* Reads the metric's history and summary from the .wandb log at path
 * into *out (which must be zeroed or hold an earlier result; freed and
 * refilled; release it with cli_wandb_metric_free). A record torn off at
 * the end (a run still writing) ends the read quietly. Returns 0, or -1
 * when the file cannot be read, is not a regular file of this process's
 * user (a symbolic link, a FIFO: refused without blocking) or is not a
 * .wandb log. */
int cli_wandb_read_log(const char *path, const char *metric,
                       cli_wandb_metric *out);

/* Adds the metric's values in one protobuf wandb Record (data, len: a
 * record's bytes, as the log's blocks hold them) to *out: history items
 * appended (CLI_WANDB_MAX_HISTORY at most), a summary item replacing the
 * summary. Only finite numbers are taken; malformed bytes end the walk
 * quietly. */
void cli_wandb_take_record(const unsigned char *data, size_t len,
                           const char *metric, cli_wandb_metric *out);

/* Finds the log of run `run_id` under wandb_dir (the run directory
 * offline-run-*-RUN_ID, newest name last, a directory of this process's
 * user). Returns 0 with *path (malloc'ed), or -1 when there is none. */
int cli_wandb_find_log(const char *wandb_dir, const char *run_id, char **path);

/* The argument vector of the trial: the config's command (W&B's default
 * ${env} ${interpreter} ${program} ${args} when it has none) with W&B's
 * macros replaced as `wandb agent` does: values in Python's str() form
 * (True, [32, 32], 1e-05), nested parameters as dicts, ${envvar:NAME},
 * unknown macros dropped. Returns 0 with *out (NULL-terminated, free with
 * cli_strv_free), or -1 with why filled. */
int cli_wandb_command(const cli_wandb_job *job, char ***out, char *why,
                      size_t len);

/* 1 when item of a command: is a whole ${NAME} that is no macro (a typo
 * such as ${interpereter}): cli_wandb_command drops it, as `wandb agent`
 * does; else 0. */
int cli_wandb_dropped_macro(const char *item);

/* Writes job->param_path (the YAML of {name: {value: v}} that wandb.init()
 * reads through WANDB_SWEEP_PARAM_PATH) and job->json_path (the params as
 * json.dumps writes them). Returns 0, or -1 with why filled. */
int cli_wandb_write_params(const cli_wandb_job *job, char *why, size_t len);

/* Appends to the result file the history values after the first
 * *reported ones as "step=N" and "METRIC=V" lines, and with `final` the
 * score line (the summary value, else the last history value). Updates
 * *reported. Returns 0, or -1 when the file cannot be written. */
int cli_wandb_result(const cli_wandb_metric *m, const char *metric,
                     const char *result_path, size_t *reported, int final);

/* Frees a NULL-terminated vector of strings and the strings. */
void cli_strv_free(char **v);

/* ------------------------------------------------------------ curve.c */

/* A trial's learning curve, read from its result file as it grows. */
typedef struct cli_curve {
    size_t n;
    protein_curve_point *points; /* the metric value after each step= line,
                                  * with the cost= since that step (else
                                  * NAN) */
    size_t offset;               /* bytes of the file read so far */
    int has_step, has_cost;
    double step, cost; /* the last step= and cost= not yet used */
} cli_curve;

/* Reads the complete lines added to the result file at path since the
 * last call and appends their reports to c (metric and cost_key name the
 * keys): a report is a metric line after a step= line, and its cost the
 * positive cost_key line between the two (NAN when there is none). A
 * missing file adds nothing. Returns 0, or -1 (errno) when the file
 * cannot be read or memory runs out. */
int cli_curve_update(cli_curve *c, const char *path, const char *metric,
                     const char *cost_key);

/* Frees c's points and zeroes it. */
void cli_curve_free(cli_curve *c);

/* How a finished trial is recorded, by the rule protein run and protein
 * agent share (cli_trial_judge). */
typedef struct cli_trial_verdict {
    cli_trial_end end; /* how its child ended (cli_trial_outcome) */
    pq_result res;     /* its parsed result, as cli_trial_outcome gave it */
    int ok;            /* it has a score: completed, or pruned */
    double score;      /* NaN when !ok */
    double cost;       /* 1 when !ok or when nothing reported a cost
                        * (pq_result_cost says why) */
} cli_trial_verdict;

/* Judges a trial whose child ended with wait status `status` into *v,
 * with why (len bytes) as cli_trial_outcome writes it. A trial that the
 * sweep's stopping rule stopped (stopped_by names who, e.g. "hyperband";
 * NULL for a trial that ran to its own end) is pruned and judged by what
 * it reported, whatever its exit: its final result when it wrote one on
 * the way out (a SIGTERM handler, protein exec's W&B script), else its
 * last report in curve (its reports, read to the end: cli_curve_update)
 * at that report's cost; why then says "stopped by WHO after N reports".
 * A stopped trial that reported nothing is judged as cli_trial_outcome
 * judges it. Nothing to free. */
void cli_trial_judge(int status, const char *result_path, const char *metric,
                     const char *cost_metric, const cli_curve *curve,
                     const char *stopped_by, cli_trial_verdict *v, char *why,
                     size_t len);

/* W&B's hyperband rule (wandb/sweeps hyperband_stopping.py): whether the
 * trial of curves[which] should stop now. An iteration is one report;
 * the bands come from h; at the last band the trial has reached, the
 * threshold is the value ranked int(n / eta) (0-based, best first) among
 * the n curves (NULL entries skipped) that reached it, and the trial
 * stops when its value at the band (strict) or its best so far is worse. */
int cli_hyperband_stop(const protein_hyperband *h, int minimize,
                       const cli_curve *const *curves, size_t n, size_t which);

/* ------------------------------------------------------------ progress.c */

/* Progress display of a running sweep: on a terminal one line rewritten in
 * place, elsewhere one plain line per finished trial. */
typedef struct cli_progress {
    FILE *fp;
    int tty;
    int drawn; /* a status line is on screen and needs clearing */
    int minimize;
    const char *metric; /* the metric's name, as the lines show it */
    long total, finished, running, failed, pruned;
    long unrecorded; /* trials whose outcome the sweep refused (not in
                        finished) */
    int has_best;
    double best, best_cost;
    long best_id;
} cli_progress;

/* Starts the display for `total` trials of a metric named `metric` (NULL:
 * "score"; not copied, it must outlive p), better when lower if
 * minimize. A total <= 0 is a runner that does not know how many trials
 * it runs (protein agent shares its sweep's budget): one plain line per
 * trial, on a terminal too, without the "[finished/total]" count. */
void cli_progress_init(cli_progress *p, FILE *fp, long total, int minimize,
                       const char *metric);

/* Records a finished trial (ok = it has a score, completed or, when
 * pruned, stopped early at its last report) and shows it: a plain line
 * elsewhere, the status line on a terminal (failures also get a line of
 * their own there). `seconds` is how long it ran, shown when >= 0.
 * `detail` is the reason of a failure or of the stop ("" when there is
 * none to show). recorded is 0 for a trial whose outcome the sweep
 * refused (protein agent's, once another claim ran the trial): its line
 * says so, and it counts in unrecorded, not among the finished trials
 * nor as the best. */
void cli_progress_trial(cli_progress *p, long id, int ok, int pruned,
                        double score, double cost, double seconds,
                        const char *detail, int recorded);

/* Writes the line that counts finished trials, "6 trials: 4 completed, 2
 * pruned, 0 failed", to fp. */
void cli_summary_counts(FILE *fp, long completed, long pruned, long failed);

/* Writes the line of the best trial, "best: trial 5, loss 0.27, cost 12",
 * to fp (metric NULL: "score"). */
void cli_summary_best(FILE *fp, long id, const char *metric, double score,
                      double cost);

/* Updates the running count and redraws the status line (terminal only). */
void cli_progress_running(cli_progress *p, long running);

/* Ends the status line so that later output starts on a fresh line. */
void cli_progress_end(cli_progress *p);

/* ------------------------------------------------------------ plot.c */

/* One point of a plot: a finished trial with its score and cost. */
typedef struct cli_plot_point {
    long id;
    double score, cost;
    int on_front; /* on the Pareto front */
} cli_plot_point;

/* Writes an SVG document with two panels: score against cost (log axis)
 * with the Pareto front drawn as a line through its points, and best score so
 * far against trial id. points are in trial-id order. Returns 0, or -1 when
 * writing fails. */
int cli_plot_svg(FILE *fp, const char *title, const cli_plot_point *points,
                 size_t n, int minimize, const char *metric);

/* The most ticks an axis gets (cli_axis_ticks() aims for 3 to 7). */
#define CLI_AXIS_MAX_TICKS 12

/* How an axis maps its values. */
typedef enum cli_axis_scale {
    CLI_AXIS_LINEAR,  /* real values */
    CLI_AXIS_INTEGER, /* counts such as trial ids: ticks at whole numbers */
    CLI_AXIS_LOG      /* positive values on a log10 scale */
} cli_axis_scale;

/* One plot axis: its drawn range and its labelled ticks. Positions (lo,
 * hi, at) are the values themselves, or their log10 on a CLI_AXIS_LOG
 * axis. */
typedef struct cli_axis {
    double lo, hi;                      /* the drawn range, lo < hi */
    size_t n;                           /* ticks, in increasing order */
    double at[CLI_AXIS_MAX_TICKS];      /* tick positions within [lo, hi] */
    char label[CLI_AXIS_MAX_TICKS][16]; /* their text: "0.25", "-10", "1k" */
} cli_axis;

/* Fills ax with an axis for data in [lo, hi] (either order), the way a
 * plotting library would: the range padded by 5% (a single value is first
 * widened to a visible range), ticks at 1, 2, 2.5 or 5 times a power of
 * ten (whole numbers on an integer axis), and on a log axis at powers of
 * ten, with 2x and 5x added below three decades and nice linear values
 * when those give fewer than three ticks. Labels are exact decimals, with k, M,
 * G or T for large steps. Non-finite bounds, or non-positive ones on a log
 * axis, give a default range; bounds beyond +-1e300 are cut there. Never
 * fails. */
void cli_axis_ticks(cli_axis *ax, cli_axis_scale scale, double lo, double hi);

/* ------------------------------------------------------------ verbs
 * Each takes the verb's arguments (argv[0] = the verb), prints its output
 * on stdout and its errors on stderr, and returns the exit status: CLI_OK,
 * CLI_EUSAGE for a bad command line or config (nothing changed), CLI_EFAIL
 * at run time (Redis unreachable, unknown sweep, ...). docs/user-guide.md
 * documents each one. */

/* Runs a sweep locally (cmd_run.c); CLI_EINTR after SIGINT/SIGTERM,
 * CLI_EFAIL when no trial completed. */
int cmd_run(int argc, char **argv);
/* Validates a config and stores the sweep with its fallback pool. */
int cmd_create(int argc, char **argv);
/* One line per sweep in Redis. */
int cmd_list(int argc, char **argv);
/* `protein admin`: Redis identities for users and services (cmd_admin.c). */
int cmd_admin(int argc, char **argv);
/* State, counts, queue and coordinator of one sweep. */
int cmd_status(int argc, char **argv);
/* pause, resume, stop, and cancel (stop + scancel), by argv[0]. */
int cmd_control(int argc, char **argv);
/* Sets (N) or raises (+N) a sweep's trial budget. */
int cmd_budget(int argc, char **argv);
/* Deletes a sweep (asks, or needs --yes without a terminal). */
int cmd_delete(int argc, char **argv);
/* Lists trials as a table, CSV or JSON. */
int cmd_trials(int argc, char **argv);
/* Everything stored about one trial. */
int cmd_show(int argc, char **argv);
/* The top-k trials and the Pareto front. */
int cmd_best(int argc, char **argv);
/* All trials as JSON lines. */
int cmd_export(int argc, char **argv);
/* Writes the SVG plot of a sweep. */
int cmd_plot(int argc, char **argv);
/* Appends KEY=VALUE lines to $PROTEIN_RESULT and sends progress;
 * CLI_ESTOP when the trial should stop early. */
int cmd_report(int argc, char **argv);
/* Claims and runs trials until the budget is used or the sweep stops;
 * CLI_EINTR after SIGINT/SIGTERM. */
int cmd_agent(int argc, char **argv);
/* Applies the outcomes the plugin spooled on this node (as root). */
int cmd_replay(int argc, char **argv);

/* Prints the canonical YAML of a config file (cmd_config.c). */
int cmd_config(int argc, char **argv);

/* Runs the config's W&B program inside a trial (cmd_exec.c). */
int cmd_exec(int argc, char **argv);

#endif /* PROTEIN_CLI_H */
