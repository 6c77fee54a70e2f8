/*
 * protein_queue.h - the Redis trial queue shared by the SPANK plugin, the
 * proteind coordinator and the protein CLI.
 *
 * This header has three parts:
 *   1. trial parameters and the environment contract (no Redis): how a
 *      trial's parameters are represented, rendered as JSON, --name=value
 *      arguments and PROTEIN_* variables, and how a result file is read;
 *   2. the client context (connect with bounded timeouts, errors);
 *   3. the operations, each one atomic on the server (Redis Functions).
 *
 * Conventions (as in hiredis): a pq_context carries `err` (a PQ_E* code)
 * and `errstr` of the last failure; functions return PQ_OK (0) or the same
 * negative code. Structs returned through out-pointers are owned by the
 * caller and freed by the matching pq_*_free(). Nothing here links the
 * optimizer, BLAS or CUDA: the plugin, loaded into every slurmstepd, uses
 * this library alone. A pq_context serves one thread at a time; after a
 * lost connection its next call reconnects once.
 *
 * The key schema is documented in docs/redis-schema.md.
 */
#ifndef PROTEIN_QUEUE_H
#define PROTEIN_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protein_names.h"
#include "protein_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (ctx->err and return values): enum pq_error (PQ_*) in
 * common/protein_status.h, one set with the optimizer's, described by
 * protein_strerror. */

/* ------------------------------------------------------------ parameters */

typedef struct pq_param {
    char *name;     /* as in the sweep config, e.g. "train/learning_rate" */
    int is_string;  /* categorical or constant given as text */
    int is_integer; /* number printed without a fraction */
    int is_json;    /* with is_string: text is a JSON literal (true,
                     * false, null, a list or an object), written into
                     * PROTEIN_PARAMS as is */
    double number;  /* valid when !is_string */
    char *text;     /* valid when is_string */
} pq_param;

typedef struct pq_params {
    size_t n;
    pq_param *items;
} pq_params;

/* Frees the items and their strings, not p itself; p is left empty.
 * NULL is a no-op. */
void pq_params_free(pq_params *p);

/* Renders params as a JSON object ({"lr": 0.001, "act": "relu"}) into a
 * malloc'ed string (caller frees). Numbers use the shortest text that reads
 * back exactly; non-integers always carry '.' or an exponent ("3.0"), so
 * pq_params_from_json restores is_integer. PQ_EINVAL for numbers that
 * pq_params_pack refuses, PQ_ENOMEM; *out is NULL then. */
int pq_params_to_json(const pq_params *p, char **out);

/* Renders s (NUL-terminated, not NULL) as a JSON string literal, quotes
 * included, into a malloc'ed string (caller frees): the short escapes,
 * \u00XX for other control characters, bytes from 0x80 on as they are (so
 * UTF-8 stays UTF-8). The one JSON string writer of the project: parameter
 * JSON in Redis and PROTEIN_PARAMS, and the CLI's JSON output. PQ_ENOMEM
 * (*out NULL) is its only failure. */
int pq_json_quote(const char *s, char **out);

/* Renders params as "--name=value --name2=value2" (malloc'ed, caller
 * frees; "" for no params). A sectioned name ("train/learning_rate", from
 * a PufferLib INI) is written the way PufferLib's CLI takes it:
 * "--train.learning-rate=0.001". Values are not quoted; booleans, null
 * and lists as their JSON text. Failures as above. */
int pq_params_to_args(const pq_params *p, char **out);

/* Writes PROTEIN_PARAM_<NAME> for a parameter name: upper-cased, every
 * character other than [A-Z0-9] as '_'. Returns PQ_EINVAL if it won't fit. */
int pq_param_env_name(const char *name, char *buf, size_t len);

/* msgpack round trip of params (queue entries, stream entries): a map
 * name -> int64 (is_integer), float64 or str. *buf is malloc'ed. PQ_EINVAL
 * for a non-finite number, an is_integer number that is not a whole int64,
 * or (unpack) anything but such a map. */
int pq_params_pack(const pq_params *p, char **buf, size_t *len);
int pq_params_unpack(const char *buf, size_t len, pq_params *out);

/* The environment contract (docs/user-guide.md) as name/value pairs:
 * PROTEIN_SWEEP, PROTEIN_TRIAL, PROTEIN_PARAMS, PROTEIN_ARGS,
 * PROTEIN_PARAM_<NAME>..., PROTEIN_METRIC_KEY and PROTEIN_COST_KEY (the
 * result keys of the sweep's metric and cost, so that `protein report`
 * knows them without asking Redis), PROTEIN_RESULT (omitted when
 * result_path is NULL), plus PROTEIN_TOKEN when token is non-NULL. */
typedef struct pq_env {
    size_t n;
    char **names;
    char **values;
} pq_env;

/* Fills *out (free with pq_env_free) with malloc'ed copies; metric_key
 * and cost_key NULL give the defaults "score" and "cost". PQ_EINVAL
 * when a parameter cannot be rendered, its name gives no variable name or
 * two names give the same one (pq_env_names_check says which), PQ_ENOMEM;
 * *out is empty then. */
int pq_env_build(const char *sweep, long trial_id, const pq_params *params,
                 const char *metric_key, const char *cost_key,
                 const char *result_path, const char *token, pq_env *out);
/* Frees the names and values and empties env (NULL: no-op). */
void pq_env_free(pq_env *env);

/* Checks that the n parameter names each give a PROTEIN_PARAM_<NAME>
 * variable and no two give the same one ("a.b", "a_b" and "A/B" all give
 * PROTEIN_PARAM_A_B). Returns PQ_OK, or PQ_EINVAL with why (len bytes;
 * may be NULL) naming the parameters and the variable, or PQ_ENOMEM. */
int pq_env_names_check(const char *const *names, size_t n, char *why,
                       size_t len);
/* pq_env_names_check on the names of params. */
int pq_params_env_check(const pq_params *params, char *why, size_t len);

/* The longest result key pq_result keeps as other_key: a metric name's
 * limit. */
#define PQ_RESULT_KEY_MAX PROTEIN_METRIC_NAME_MAX

/* A parsed result file: KEY=VALUE lines, spaces and tabs around key and
 * value ignored (and a \r before the newline). Blank lines, comments (#)
 * and lines without '=' are skipped. The last line of each key wins, even
 * when its value is not a finite decimal number ([+-]digits[.digits]
 * [e[+-]digits], at most 63 characters: not nan, inf, hex, or text, or a
 * value with a NUL byte in it): the key then counts as absent (a run whose
 * last score is nan diverged and reports no score, whatever it said
 * before), and metric_rejected says so for the metric. */
typedef struct pq_result {
    int has_metric;
    double metric;
    int metric_rejected; /* the last metric line held no finite number */
    int has_cost;
    double cost;
    int has_step;
    double step;
    /* the last key of a KEY=number line that is none of the metric, cost
     * and step ("" when none), at most PQ_RESULT_KEY_MAX printable ASCII
     * characters: a trial without its metric names it, as the likely
     * misnamed metric */
    char other_key[PQ_RESULT_KEY_MAX + 1];
} pq_result;

/* Parses len bytes of text (no NUL needed; NUL bytes are data). metric_key
 * NULL: "score"; cost_key NULL: "cost"; the progress key is "step".
 * Always PQ_OK. */
int pq_result_parse(const char *text, size_t len, const char *metric_key,
                    const char *cost_key, pq_result *out);

/* The cost a completed trial is recorded at: the reported cost when it is
 * a positive finite number, else 1, under every runner. A wall-time cost
 * of a quick program is start-up and machine load, a noise that moved the
 * optimizer's cost model and front, so a seeded sweep did not reproduce;
 * and the log-cost model needs a positive cost. */
double pq_result_cost(const pq_result *r);

/* One line of a result file (len bytes, without its newline): 0 and *v
 * when its key, trimmed, is key and its value a finite decimal number (the
 * rule of pq_result_parse); -1 otherwise, *v unchanged. */
int pq_result_line_value(const char *line, size_t len, const char *key,
                         double *v);

/* ------------------------------------------------------------ client */

/* The Redis a connection uses when neither its URL nor $PROTEIN_REDIS
 * names one. */
#define PQ_DEFAULT_URL "redis://127.0.0.1:6379"

typedef struct pq_connect_options {
    /* redis://[user@]host:port[/db] or unix:///path; NULL =
     * $PROTEIN_REDIS or PQ_DEFAULT_URL; a password in it is refused
     * (PQ_EINVAL) */
    const char *url;
    /* The password: this, else the first line of password_file, else
     * $PROTEIN_REDIS_PASSWORD (empty counts as unset), else none. A
     * default file (the user's PQ_USER_PASSWORD_FILE) must lose to the
     * variable, so a caller passes it only when the variable is unset. */
    const char *password;
    const char *password_file;
    const char *user;       /* ACL user, instead of the URL's (NULL: the
                               URL's, else AUTH with the password alone) */
    int connect_timeout_ms; /* <= 0: 2000 */
    int command_timeout_ms; /* <= 0: 5000 */
} pq_connect_options;

/* $PROTEIN_REDIS_PASSWORD when it is set and not empty, else NULL: the
 * one reading of the variable, so that pq_connect and the callers that
 * choose a default password file agree on when it counts. */
const char *pq_env_password(void);

typedef struct pq_context {
    int err;           /* PQ_OK or the last failure's code */
    char errstr[1024]; /* the last failure, for people */
    void *redis;       /* private: the connection and how to redo it */
    char *url;         /* the URL connected to, redacted (pq_url_redact) */
    /* set by pq_connect: the server keeps another build's function
     * library, which this client's Redis user may not replace, so the two
     * may disagree until an admin's client connects (PQ_STALE_FUNCTIONS
     * says so for people) */
    int functions_stale;
    /* set by a call that failed with PQ_EIO after it was sent, with no
     * answer (a timeout, a connection lost): the server may have run it.
     * 0 after any other outcome, a "not now" refusal included. */
    int unanswered;
} pq_context;

/* 1 when err, the text of a PQ_EPERM failure (ctx->errstr), is Redis'
 * ACL refusing the call or a command in it; 0 when it is a refusal of
 * protein's functions (a sweep that is not shared, not the caller's). */
int pq_error_is_acl(const char *err);

/* What a client whose ctx->functions_stale is set tells people. */
#define PQ_STALE_FUNCTIONS                                                     \
    "Redis keeps another build's protein functions and this Redis user may "   \
    "not replace them: one protein command run as the Redis admin does "       \
    "(docs/redis-schema.md)"

/* Writes url into buf (len bytes) with any password of its user part
 * replaced by "***" (redis://user:secret@host -> redis://user:***@host),
 * so that it may be printed. The password is taken to run from the first
 * ':' after the scheme to the URL's last '@', so that one holding '@' or
 * '/' is hidden whole. Returns 1 when something was hidden, 0 when
 * not, -1 when it did not fit (buf then holds a cut, still redacted,
 * prefix). NULL url is "". */
int pq_url_redact(const char *url, char *buf, size_t len);

/* Checks url (NULL or "": $PROTEIN_REDIS, else the default, as
 * pq_connect_options.url) as pq_connect reads it, without connecting: PQ_OK, or
 * PQ_EINVAL with why (len bytes) saying what is wrong, the URL redacted
 * (a password in it is itself an error), or PQ_ENOMEM. For settings read
 * long before the first connection (a plugstack line, proteind's start). */
int pq_url_check(const char *url, char *why, size_t len);

/* Connects, authenticates and makes sure protein's server functions are
 * loaded (FUNCTION LOAD when missing or older). Never returns NULL except
 * on out-of-memory: check ctx->err, then pq_free(ctx). PQ_EINVAL (a bad
 * URL, a database the server refuses) and PQ_EAUTH (a password refused,
 * unreadable, or wanted and not given) are settings no retry can fix;
 * PQ_EIO (unreachable, timed out, busy, loading) may pass. */
pq_context *pq_connect(const pq_connect_options *opts);
/* Closes the connection and frees ctx (NULL: no-op). */
void pq_free(pq_context *ctx);

/* Sweep names: a name as protein_sweep_name_valid (1..64 characters of
 * [A-Za-z0-9._-], not starting with '.' or '-'), optionally after "OWNER/"
 * (a user's sweep; OWNER as pq_acl_user_name_valid). Returns 1 when
 * valid. */
int pq_sweep_name_valid(const char *name);

/* Longest owner (user) name, and longest full sweep name "OWNER/NAME". */
#define PQ_OWNER_MAX 32
#define PQ_SWEEP_NAME_MAX (PQ_OWNER_MAX + 1 + 64)

/* The full name of sweep `name` as `user` means it: "USER/NAME" for a
 * bare NAME (your own sweep), name itself when it names an owner. Writes
 * it into out (len bytes, PQ_SWEEP_NAME_MAX + 1 suffice). PQ_EINVAL when
 * the result is not a valid sweep name or user is NULL for a bare name. */
int pq_sweep_qualify(const char *name, const char *user, char *out, size_t len);

/* ------------------------------------------------------------ identities */

/* Who a Redis ACL user is to protein (docs/admin.md, "Security"). */
typedef enum pq_acl_role {
    PQ_ACL_USER,   /* a cluster user: the keys of their own sweeps only */
    PQ_ACL_SERVICE /* the plugin or proteind: every protein key; acts for
                      the users whose jobs it serves */
} pq_acl_role;

/* Where `protein admin add-user` puts a user's Redis password, below their
 * home directory; the CLI and the plugin's submit check read it there. */
#define PQ_USER_PASSWORD_FILE ".config/protein/redis-password"

/* A user name protein accepts as a sweep owner and ACL user: 1 to
 * PQ_OWNER_MAX characters of [a-z0-9_.-], starting with [a-z_]. */
int pq_acl_user_name_valid(const char *name);

/* Writes the login name of uid into buf (len bytes) and returns PQ_OK when
 * protein accepts it as a sweep owner (pq_acl_user_name_valid); PQ_EINVAL
 * otherwise (no such user, a name it cannot own sweeps under, or len too
 * small). The owner a bare sweep NAME means to the plugin, the CLI and
 * proteind. */
int pq_user_name(uid_t uid, char *buf, size_t len);

/* The passwd entry of user name (name non-NULL) or else of uid, into *pw,
 * its strings in a buffer grown while getpwnam_r / getpwuid_r says
 * ERANGE, up to PQ_PASSWD_MAX bytes (a directory service's entry can
 * outgrow any fixed size). Returns that buffer, which the caller frees
 * once done with *pw, or NULL when there is no such user, the entry is
 * larger still, or memory ran out. Safe in threads (slurmstepd). */
#define PQ_PASSWD_MAX (1u << 20)
struct passwd;
char *pq_passwd_lookup(const char *name, uid_t uid, struct passwd *pw);

/* The Redis identity `protein admin add-user` gave uid: writes its login
 * name into user (ulen bytes) and returns PQ_OK when protein accepts it
 * (pq_user_name), PQ_EINVAL otherwise; writes the path of its password
 * file (PQ_USER_PASSWORD_FILE below its home directory) into path (plen
 * bytes) when that is a regular file, else makes path empty (plen 0:
 * path is not looked at). */
int pq_own_identity(uid_t uid, char *user, size_t ulen, char *path,
                    size_t plen);

/* The protein command's and proteind's default identity: when o names no
 * password file, $PROTEIN_REDIS_PASSWORD is unset and the URL (o->url,
 * else $PROTEIN_REDIS) names no user, and the calling user has a password
 * file from `protein admin add-user`, sets o->user and o->password_file to
 * theirs, kept in user (PQ_OWNER_MAX + 1 bytes) and path (plen bytes),
 * which must outlive o's use. Otherwise o is left as it is. */
void pq_own_credentials(pq_connect_options *o, char *user, char *path,
                        size_t plen);

/* Writes the ACL SETUSER rules (everything after "ACL SETUSER NAME on
 * >PASSWORD") of role for user `name` into buf. PQ_EINVAL for an invalid
 * name (PQ_ACL_USER) or a buf too small (1024 bytes are enough). */
int pq_acl_rules(pq_acl_role role, const char *name, char *buf, size_t len);

/* Writes a fresh random password for pq_acl_provision into password (32
 * hex digits and NUL). Returns PQ_OK, or PQ_EIO when the system has no
 * randomness to give. */
int pq_acl_password(char password[33]);

/* Creates (or resets) the Redis ACL user `name` with role's rules and the
 * given password (from pq_acl_password), and lists a PQ_ACL_USER in
 * protein:users (so that pq_sweep_list finds their sweeps). The caller
 * makes the password from pq_acl_password and stores it before calling,
 * so that a password it could not store never replaces the working one.
 * Needs an admin connection (ACL SETUSER). *saved = 1 when the server has
 * an ACL file and ACL SAVE wrote it, 0 when the user lasts only until
 * Redis restarts. PQ_EINVAL for a bad name or an empty password, PQ_EPERM
 * when the connection may not change ACLs. */
int pq_acl_provision(pq_context *ctx, pq_acl_role role, const char *name,
                     const char *password, int *saved);

/* ------------------------------------------------------------ trials */

typedef enum pq_trial_state {
    PQ_TRIAL_QUEUED,
    PQ_TRIAL_RUNNING,
    PQ_TRIAL_COMPLETED,
    PQ_TRIAL_FAILED,
    PQ_TRIAL_INTERRUPTED,
    PQ_TRIAL_LOST,
    PQ_TRIAL_PRUNED
} pq_trial_state;

/* "queued", "running", ...; "unknown" for other values. Static. */
const char *pq_trial_state_name(pq_trial_state s);

typedef struct pq_trial {
    char *sweep;
    long id;
    char *token; /* proof of ownership for complete/fail/progress */
    pq_trial_state state;
    int fallback; /* drawn from the fallback pool, not the coordinator */
    int resumed;  /* the claim key already held this trial */
    int attempts;
    pq_params params;
    char *metric;      /* the sweep's metric key (result file) */
    char *cost_metric; /* the sweep's cost key */
} pq_trial;

/* Frees a claimed trial and everything it holds (NULL: no-op). */
void pq_trial_free(pq_trial *t);

/* Hex digits of a claim's token (128 random bits). */
#define PQ_TOKEN_LEN 32

typedef struct pq_claim_request {
    const char *claim_key; /* idempotency key: Slurm job id, or host:pid */
    long uid;              /* claiming user's uid and name: believed only */
    const char *user;      /* from a privileged service (the plugin), and
                              checked against the sweep's owner; a user's
                              own ACL decides for everyone else */
    const char *job_id;    /* recorded on the trial; may be NULL */
    long array_index;      /* -1 when not an array task */
    const char *node;      /* may be NULL */
    int lease_seconds;     /* <= 0: the sweep's default lease */
    int wait_ms;           /* how long to wait for a coordinator point
                              before taking a fallback point */
    char *token_out;       /* may be NULL; else PQ_TOKEN_LEN + 1 bytes that
                              get the claim's token before it is sent, so
                              that a claim that fails on the client's side
                              (a timeout) can be released by its own token
                              (pq_release) */
} pq_claim_request;

/* Claims a trial for req->claim_key: the same trial again if the key
 * already holds one (t->resumed; running or interrupted trials only, a
 * finished one is PQ_ESTATE), else a trial whose lease expired and is
 * queued for a retry, else the head of the ready queue, else, after
 * req->wait_ms (polling) or at once when no coordinator is alive, a
 * fallback point (t->fallback). Never waits longer than wait_ms plus one
 * command timeout. Fails with PQ_EBUDGET, PQ_ESTOPPED, PQ_EPERM,
 * PQ_ENOSWEEP, PQ_EINVAL (no claim key, or a key, job id or node over 256
 * bytes). *out: free with pq_trial_free. */
int pq_claim(pq_context *ctx, const char *sweep, const pq_claim_request *req,
             pq_trial **out);

/* Records outcomes. Each checks the token (PQ_ETOKEN) and the trial's
 * state atomically: complete and fail take a running trial, or one whose
 * lease expired (lost, or queued for a retry), also from the token of the
 * claim whose lease expired once another claim holds the trial for its
 * retry (running or interrupted: that claim's outcome and resume are then
 * PQ_ESTATE, and the record's late_key names the late one); an outcome
 * for a trial that already has one is PQ_EDONE from the token whose
 * outcome it has (a repeat), PQ_ESTATE from any other. A trial asked to stop
 * (pq_trial_request_stop) ends as pruned, unless the stop was asked of
 * the retry that a late outcome ends. score and cost must be
 * finite (PQ_EINVAL otherwise, nothing changed); cost < 0 means "not
 * reported". error and reason are cut to 1 KiB. pq_interrupt takes running
 * trials only. Each outcome appends an observation. */
int pq_complete(pq_context *ctx, const char *sweep, long trial_id,
                const char *token, double score, double cost);
int pq_fail(pq_context *ctx, const char *sweep, long trial_id,
            const char *token, int exit_status, const char *error);
int pq_interrupt(pq_context *ctx, const char *sweep, long trial_id,
                 const char *token, const char *reason);

/* pq_progress's answers besides 0 ("run on"): the sweep asks the run to
 * stop early, or the trial already has another claim's outcome. */
enum { PQ_STOP_EARLY = 1, PQ_STOP_ENDED = 2 };

/* Reports progress (step, metric, cost so far; cost < 0: none) of a
 * running trial and renews its lease (PQ_ESTATE when not running,
 * PQ_EINVAL for non-finite values). *should_stop (may be NULL) is set to
 * PQ_STOP_EARLY when the coordinator's early-stop model says the run
 * should stop (the trial then becomes pruned when it finishes), else 0.
 * A trial that already ended with another claim's outcome (a late one of
 * the claim whose lease expired, while this retry ran) is PQ_OK with
 * PQ_STOP_ENDED and nothing recorded: the run works for nothing. A trial
 * merely lost, queued or interrupted stays PQ_ESTATE: the run's late
 * outcome is still recorded. */
int pq_progress(pq_context *ctx, const char *sweep, long trial_id,
                const char *token, double step, double score, double cost,
                int *should_stop);

/* pq_progress for the first report of a new run of the trial (a W&B run
 * that protein exec started afresh after a requeue): the trial's report
 * count, best value, curve and hyperband band records start over with
 * this report, so that hyperband counts the new run's reports. */
int pq_progress_restart(pq_context *ctx, const char *sweep, long trial_id,
                        const char *token, double step, double score,
                        double cost, int *should_stop);

/* Renews the lease of running trial trial_id (token checked: PQ_ETOKEN)
 * from now by its lease length, as a report does, for a worker that is
 * alive and still runs it; *should_stop receives its stop flag. A trial
 * no longer running is PQ_ESTATE. */
int pq_renew(pq_context *ctx, const char *sweep, long trial_id,
             const char *token, int *should_stop);

/* The curve protein_progress keeps for a trial: *text (malloc'ed, "" when
 * it reported nothing) holds one "STEP SCORE COST" line per kept report
 * (COST "-" when not reported; protein_curve_parse reads it), *reports
 * the reports sent. PQ_ENOTRIAL, PQ_ENOSWEEP, PQ_EPROTO for a reply of
 * the wrong shape. */
int pq_trial_curve(pq_context *ctx, const char *sweep, long trial_id,
                   char **text, long *reports);

/* Marks a running trial "should stop" (the coordinator's early-stop
 * decision); the trial's next pq_progress() returns *should_stop = 1 and its
 * completion or failure records it as pruned. PQ_ENOTRIAL, PQ_ESTATE when
 * the trial is not running. */
int pq_trial_request_stop(pq_context *ctx, const char *sweep, long trial_id);

/* Number of trial states: sizes pq_sweep_info.counts. */
#define PQ_TRIAL_NSTATES 7

/* Parses a trial state name ("running", ...). Returns the state or -1. */
int pq_trial_state_parse(const char *name);

/* Parses a JSON object of parameters (as written by pq_params_to_json)
 * into *out (caller frees with pq_params_free). Numbers without '.', 'e'
 * or 'E' become integers (beyond int64: plain numbers); true, false, null,
 * lists and objects (nested at most 32 deep) are kept as their JSON text
 * with is_json set. PQ_EINVAL on bad syntax, an empty name or a \u0000
 * escape, with *out left empty. */
int pq_params_from_json(const char *json, pq_params *out);

/* Deep copy of params into *out (caller frees with pq_params_free). */
int pq_params_copy(const pq_params *src, pq_params *out);

/* Frees an array of n params sets and the array itself. */
void pq_params_array_free(pq_params *arr, size_t n);

/* Frees an array of n malloc'ed strings and the array itself. */
void pq_strings_free(char **strings, size_t n);

/* ------------------------------------------------------------ sweeps */

typedef enum pq_sweep_state {
    PQ_SWEEP_ACTIVE,
    PQ_SWEEP_PAUSED,
    PQ_SWEEP_STOPPED
} pq_sweep_state;

/* "active", "paused", "stopped". Static. */
const char *pq_sweep_state_name(pq_sweep_state s);

/* The most points a grid sweep counts (the Redis functions hold whole
 * numbers of up to 15 digits); a larger grid is handed out up to there. */
#define PQ_GRID_POINTS_MAX 999999999999999L

/* What pq_sweep_create stores. Strings are copied; nothing is kept. */
typedef struct pq_sweep_spec {
    const char *name;        /* pq_sweep_name_valid() */
    const char *config_yaml; /* the sweep file's text, stored verbatim */
    const char *metric;      /* result key of the score; NULL: "score" */
    const char *cost_metric; /* result key of the cost; NULL: "cost" */
    int goal_minimize;       /* 1: lower scores are better */
    long max_trials;         /* budget: trials ever handed out; <= 0: none */
    long owner_uid;          /* who may claim and control the sweep */
    int shared;              /* 1: any uid may claim (control stays owner's) */
    int lease_seconds;       /* default lease of a running trial; <= 0: 86400 */
    int max_retries;         /* requeues of a lost trial's point; < 0: 0 */
    const pq_params *fallback; /* points claimed when no coordinator serves */
    size_t n_fallback;         /* must be >= 1 */
    /* method grid: the grid's number of points (0 < grid_points <=
     * PQ_GRID_POINTS_MAX), fallback holding its first points in grid
     * order; claims then take the grid's points from the pool alone, each
     * once, and PQ_EBUDGET after the last. 0: not a grid */
    long grid_points;
    int has_target; /* metric.target: a trial that completes at */
    double target;  /* or beyond it stops the sweep */
    /* W&B hyperband (early_terminate): protein_progress stops a trial at
     * these report counts (ascending, at most 100; n_bands 0: none) */
    const long *hyperband_bands;
    size_t n_hyperband_bands;
    double hyperband_eta; /* > 1 */
    int hyperband_strict;
} pq_sweep_spec;

/* Creates the sweep atomically and lists it in its index
 * (protein:{OWNER/}:sweeps for "OWNER/NAME", protein:sweeps otherwise).
 * PQ_EEXISTS if it already exists, PQ_EINVAL for a bad name, an empty fallback
 * pool, grid_points out of range or oversized values (each fallback point's
 * JSON must fit in 64 KiB). */
int pq_sweep_create(pq_context *ctx, const pq_sweep_spec *spec);

/* A snapshot of one sweep, from pq_sweep_get (free with pq_sweep_info_free). */
typedef struct pq_sweep_info {
    char *name;
    pq_sweep_state state;
    char *config_yaml;
    char *metric;
    char *cost_metric;
    int goal_minimize;
    long max_trials; /* <= 0: unlimited */
    long owner_uid;
    int shared;
    int lease_seconds;
    int max_retries;
    double created_at; /* unix seconds */
    long n_trials;     /* trials handed out so far (the budget used) */
    long counts[PQ_TRIAL_NSTATES]; /* trials per pq_trial_state */
    long queue_depth;      /* coordinator points waiting in the ready queue */
    long retry_depth;      /* lost trials waiting to be claimed again */
    size_t n_fallback;     /* size of the fallback pool */
    long fallback_next;    /* the next fallback point's index */
    long grid_points;      /* method grid: its number of points; 0: none */
    long n_waiting;        /* claims waiting for a coordinator point */
    int coordinator_alive; /* a coordinator holds the sweep's lease */
    char *coordinator;     /* its holder id, NULL when none */
    double last_refit_at;  /* unix seconds; 0 when never */
    long last_refit_n;     /* observations in the last refit */
    double last_refit_ms;  /* its duration */
    char *last_refit_backend; /* "cpu", "cuda", ...; NULL when never */
    char *stopped_by;         /* why the sweep stopped by itself ("trial 3
                               * reached the target 0.5"); NULL: it did not */
} pq_sweep_info;

/* Reads a snapshot of the sweep into *out. PQ_ENOSWEEP when absent. */
int pq_sweep_get(pq_context *ctx, const char *name, pq_sweep_info **out);
/* Frees a snapshot (NULL: no-op). */
void pq_sweep_info_free(pq_sweep_info *info);

/* Returns PQ_OK when the sweep exists, PQ_ENOSWEEP when not (or an error). */
int pq_sweep_exists(pq_context *ctx, const char *name);

/* Entries of one user's index that pq_sweep_list reads, at most: a user
 * may write their own index, and a shared proteind must not page through
 * millions of names that a person stuffed into it. */
#define PQ_OWNER_INDEX_MAX 10000

/* Lists every sweep name (sorted): those without an owner and those of
 * each user in protein:users, a page of names per call to the server.
 * Names an index should not hold (a user may write their own index: another
 * owner's name, a malformed one) are left out. Of each user's index only
 * the first PQ_OWNER_INDEX_MAX entries (in name order) are read: the users
 * whose index holds more are listed in *cut (sorted), so that the caller
 * can say that their later sweeps are left out. Needs a privileged
 * service's ACL (PQ_EPERM for a user's). *names and *cut are malloc'ed
 * arrays of malloc'ed strings (NULL and 0 on an error); free with
 * pq_strings_free(*names, *n) and pq_strings_free(*cut, *n_cut). */
int pq_sweep_list(pq_context *ctx, char ***names, size_t *n, char ***cut,
                  size_t *n_cut);

/* Lists the sweeps of one owner ("OWNER/NAME", sorted), as pq_sweep_list
 * but from the whole of the owner's index. A user's ACL allows their own
 * list. */
int pq_sweep_list_owned(pq_context *ctx, const char *owner, char ***names,
                        size_t *n);

/* Wake streams: creating a sweep, or raising its budget, names it in its
 * owner's wake stream (protein:{USER/}:wake; protein:wake for the sweeps
 * without an owner), which proteind reads at each discovery to serve a
 * sweep it let go (or gave up on) again at once. */

/* Longest place in a wake stream, with the NUL. */
#define PQ_WAKE_CURSOR_MAX 48
/* Wake streams one pq_wakes_read reads, at most, and entries of each. */
#define PQ_WAKE_STREAMS_MAX 128
#define PQ_WAKE_ENTRIES_MAX 32

/* One reader's place in one owner's wake stream. */
typedef struct pq_wake_stream {
    const char *owner; /* NULL: the sweeps without an owner */
    /* where the next read starts (set by pq_wakes_read); "" for a stream
     * not read yet */
    char cursor[PQ_WAKE_CURSOR_MAX];
} pq_wake_stream;

/* Reads the entries of streams[0..n) (n <= PQ_WAKE_STREAMS_MAX) past each
 * cursor, at most PQ_WAKE_ENTRIES_MAX of each, in one read-only call, and
 * moves each cursor past them; a stream not read yet is read from the
 * server's time since_ms on (since_ms <= 0: from the server's now). The
 * names of the entries that are sweeps of the stream's owner (others are
 * left out: a user may write their own stream) go into *names, a
 * malloc'ed array of malloc'ed strings (repeats possible; NULL when none;
 * free with pq_strings_free(*names, *n_names)). *server_ms receives the
 * server's time in ms, the since_ms for streams read from a later call on.
 * Needs each stream's key readable (a user's ACL covers their own).
 * PQ_EINVAL (too many streams, an invalid owner), PQ_EIO, PQ_EPERM,
 * PQ_EPROTO, PQ_ENOMEM: nothing moved, *names NULL. */
int pq_wakes_read(pq_context *ctx, pq_wake_stream *streams, size_t n,
                  int64_t since_ms, int64_t *server_ms, char ***names,
                  size_t *n_names);

/* action "pause" | "resume" | "stop" by uid (the owner or 0). Paused sweeps
 * resume; stopped is final (resume is PQ_ESTATE). Claims on a paused or
 * stopped sweep get PQ_ESTOPPED; running trials may still finish.
 * PQ_EPERM for another uid, PQ_EINVAL for an unknown action. */
int pq_sweep_set_state(pq_context *ctx, const char *name, const char *action,
                       long uid);

/* The largest trial budget, as a config's max_trials allows. */
#define PQ_BUDGET_MAX 1000000000L

/* Sets the sweep's trial budget to n trials, or raises it by n when add
 * is non-zero (in one step on the server: two raises of 50 make 100),
 * for uid (the owner or 0). Raised, a sweep that used its budget hands
 * out trials again; lowered to what it handed out or less, it hands out
 * no more and its running trials finish. points[0..n_points) (none: NULL,
 * 0) are appended to the fallback pool in the same step: a raise beyond
 * the pool's size brings fresh points for the claims that find no queued
 * one, which would otherwise get the pool's points again from its start
 * (pq_model_fallback_points past the pool's end, with a seed of its own).
 * *budget and *used (each may be NULL) receive the new budget and the
 * trials counted against it (lost ones are not). PQ_EINVAL for a budget
 * outside 1..PQ_BUDGET_MAX, a raise of a sweep without a budget, or a
 * grid sweep (its budget is its points); PQ_ESTATE for a stopped sweep;
 * PQ_EPERM for another uid. */
int pq_sweep_set_budget(pq_context *ctx, const char *name, long n, int add,
                        long uid, const pq_params *points, size_t n_points,
                        long *budget, long *used);

/* Deletes every key of the sweep (owner or uid 0), a bounded chunk per
 * call to the server: after the first the sweep is "deleting" (no claims,
 * gone from its index) until the last. Works on a sweep whose meta is
 * damaged too. */
int pq_sweep_delete(pq_context *ctx, const char *name, long uid);

/* ------------------------------------------------------------ trial records */

/* Everything stored about one trial (its Redis hash), for people and the
 * coordinator. */
typedef struct pq_trial_record {
    long id;
    pq_trial_state state;
    pq_params params;
    int has_score;
    double score;
    int has_cost;
    double cost;
    char *job_id;     /* NULL when not recorded */
    long array_index; /* -1 when not an array task */
    char *node;       /* NULL when not recorded */
    char *claim_key;
    double claimed_at; /* unix seconds of the latest claim; 0: never */
    double started_at; /* first claim */
    double ended_at;   /* 0 while not finished */
    double deadline;   /* lease deadline while running; 0 otherwise */
    int attempts;      /* claims including resumes */
    int retries;       /* requeues after a lost lease */
    int exit_status;   /* of a failed trial; 0 otherwise */
    char *error;       /* failure or interrupt reason; NULL when none */
    int fallback;
    int stop_requested;
    char *stopped_by; /* who asked ("hyperband at report 2"); NULL */
    /* The claim key whose lease had expired when it recorded the outcome
     * (its task was suspended or outlived its lease, and finished after
     * all), and that lease's deadline (unix seconds); NULL and 0 for an
     * outcome recorded in time. */
    char *late_key;
    double late_expired_at;
    long progress_n; /* progress reports sent (0: none) */
    int has_progress;
    double progress_step; /* last pq_progress() values */
    double progress_score;
    int has_progress_cost; /* the last report carried a cost */
    double progress_cost;
} pq_trial_record;

/* Frees one malloc'ed record and what it holds: pq_trial_get's *out
 * (NULL: no-op). Never an element of pq_trial_list's array. */
void pq_trial_record_free(pq_trial_record *r);
/* Frees n records and the array: pq_trial_list's *arr (or pq_trial_get's
 * *out with n = 1). */
void pq_trial_records_free(pq_trial_record *arr, size_t n);

/* Lists the sweep's trials in id order, all of them (state_filter < 0) or
 * those in one pq_trial_state. *arr is malloc'ed (NULL when *n is 0). A
 * malformed trial hash (no id or status, params that are not a flat JSON
 * object, a score, cost or progress that is not a finite number) is left
 * out and counted in *skipped (may be NULL); when *skipped > 0,
 * ctx->errstr says what was wrong with the last one left out. */
int pq_trial_list(pq_context *ctx, const char *sweep, int state_filter,
                  pq_trial_record **arr, size_t *n, size_t *skipped);

/* Reads one trial into a malloc'ed record (free with
 * pq_trial_record_free). PQ_ENOTRIAL, PQ_ENOSWEEP; PQ_EPROTO naming the
 * field for a malformed trial hash (as pq_trial_list skips). */
int pq_trial_get(pq_context *ctx, const char *sweep, long trial_id,
                 pq_trial_record **out);

/* ------------------------------------------------------------ coordinator */

/* Takes or renews the sweep's coordinator lease (SET NX PX, or PEXPIRE when
 * holder_id already holds it). *is_leader = 1 when holder_id holds it after
 * the call, 0 when another holder does. PQ_ENOSWEEP. */
int pq_coordinator_acquire(pq_context *ctx, const char *sweep,
                           const char *holder_id, int ttl_ms, int *is_leader);

/* Drops the lease if holder_id holds it (no error otherwise). */
int pq_coordinator_release(pq_context *ctx, const char *sweep,
                           const char *holder_id);

/* Atomically replaces the ready queue with points (claims take them in
 * order), only while holder_id holds the lease: PQ_ESTATE otherwise, the
 * queue unchanged. Points already claimed from the queue (same JSON) are
 * left out, so a stale copy of a point claimed meanwhile is never handed
 * out twice; pq_queue_depth tells how many remain. n == 0 empties it.
 * PQ_EINVAL for a point over 64 KiB or with a non-finite number. */
int pq_queue_replace(pq_context *ctx, const char *sweep, const char *holder_id,
                     const pq_params *points, size_t n);

/* Number of points waiting in the ready queue. */
int pq_queue_depth(pq_context *ctx, const char *sweep, long *depth);

/* Parameters of trials handed out but not finished (running, or queued for
 * a retry): the pending points the model must account for. Points whose
 * stored params cannot be decoded are left out. *pts is malloc'ed; free
 * with pq_params_array_free(*pts, *n). */
int pq_running_points(pq_context *ctx, const char *sweep, pq_params **pts,
                      size_t *n);

/* What the coordinator sizes a sweep's ready queue by (pq_demand). */
typedef struct pq_demand_info {
    pq_sweep_state state;
    long queue_depth;   /* points in the ready queue */
    long n_running;     /* trials holding a lease */
    long n_waiting;     /* claims that found the queue empty in the last
                           10 s and have not claimed since */
    long max_trials;    /* <= 0: no budget */
    long n_trials;      /* trial ids handed out */
    long n_lost;        /* of those, lost for good (back in the budget) */
    long retry_depth;   /* trials queued for a retry */
    long n_fallback;    /* fallback pool size */
    long fallback_next; /* the next fallback point's index */
    long n_progress;    /* progress reports ever made in the sweep; -1 when
                           the server's functions (another build's) do not
                           count them */
    double created_at;  /* unix seconds the sweep was created (as
                           pq_sweep_info's); 0 when the server's functions
                           do not say */
} pq_demand_info;

/* 1 when a sweep's budget (max_trials > 0) is handed out (a lost trial
 * gives its slot back) and no trial runs or waits for a retry: no trial
 * can come back, nothing is left to coordinate. The figures are those of
 * pq_demand_info (pq_sweep_info's counts give running and lost). */
int pq_budget_spent(long max_trials, long n_trials, long n_lost, long n_running,
                    long retry_depth);

/* Reads the demand figures of a sweep in one read-only call. PQ_ENOSWEEP. */
int pq_demand(pq_context *ctx, const char *sweep, pq_demand_info *out);

/* Appends n fallback points to the sweep's pool while holder_id holds the
 * coordinator lease (PQ_ESTATE otherwise, nothing added). *size (may be
 * NULL) receives the pool's new size. */
int pq_fallback_add(pq_context *ctx, const char *sweep, const char *holder_id,
                    const pq_params *points, size_t n, long *size);

/* The trial claimed under claim_key while it runs: *trial_id receives its
 * id, 0 when the key holds no running trial. Read-only. */
int pq_claimed(pq_context *ctx, const char *sweep, const char *claim_key,
               long *trial_id);

/* What a release did with the trial its claim key held (pq_release). */
typedef enum pq_release_outcome {
    PQ_RELEASE_NONE,        /* nothing released */
    PQ_RELEASE_REQUEUED,    /* back on the retry list, queued */
    PQ_RELEASE_INTERRUPTED, /* ended as interrupted: the sweep is stopped */
    PQ_RELEASE_UNREPORTED,  /* released; the server's functions (another
                               build's) do not say which of the two */
    PQ_RELEASE_UNKNOWN      /* nothing released by the try that answered;
                               an earlier one that got no answer may have
                               (pq_spool_apply_try) */
} pq_release_outcome;

/* A release's result: the trial it gave back (0 when none) and how. */
typedef struct pq_released {
    long trial_id;
    pq_release_outcome outcome;
} pq_released;

/* Writes what the release r did, for a log line, into buf (len bytes):
 * "released: trial 5 goes back to the retry list", "nothing to release:
 * ...", and so on: the one thing that happened; 256 bytes hold any. */
void pq_released_text(const pq_released *r, char *buf, size_t len);

/* Gives back the trial claimed under claim_key when it is still running:
 * for a claim its client gave up on (a timeout while the server served
 * it), so that no trial stays running without a task. The trial goes
 * back to the retry list (not counted as a retry; the next claim takes
 * it, so it costs no budget) with error "released: REASON" (" (the sweep
 * is paused)" added in a paused sweep), its token is revoked and the key
 * forgotten. token (may be NULL: any claim) is the given-up claim's own
 * (pq_claim_request.token_out): the trial is released only while that
 * claim is its last, not once a later claim under the same key (a
 * requeued task) resumed it, nor when that claim never reached the
 * server. In a stopped sweep, which claims no retry, the trial ends as
 * interrupted instead (error "released: REASON (the sweep is stopped)"),
 * its token revoked and the key still holding it, so that a requeued task
 * of its job resumes it. *released (may be NULL) receives the trial's id
 * and PQ_RELEASE_REQUEUED or PQ_RELEASE_INTERRUPTED; {0,
 * PQ_RELEASE_NONE} when nothing was released or on a failure. */
int pq_release(pq_context *ctx, const char *sweep, const char *claim_key,
               const char *token, const char *reason, pq_released *released);

/* ------------------------------------------------------------ spool */

/* Longest spool file path accepted, with the NUL. */
#define PQ_SPOOL_PATH_MAX 1400

/* What a spool record asks for: an outcome, or the release of a claim
 * whose client gave up (pq_release). */
typedef enum pq_spool_kind {
    PQ_SPOOL_COMPLETED,
    PQ_SPOOL_FAILED,
    PQ_SPOOL_INTERRUPTED,
    PQ_SPOOL_RELEASE
} pq_spool_kind;

/* An outcome that could not reach Redis, kept on the node. */
typedef struct pq_spool_record {
    pq_spool_kind kind;
    char sweep[PQ_SWEEP_NAME_MAX + 1];
    long trial_id;       /* outcomes; 0 for a release */
    char token[132];     /* outcomes: the claim's token */
    char claim_key[260]; /* the claim key (a release needs it) */
    double score, cost;  /* completed; cost < 0: not reported */
    int exit_status;     /* failed */
    char text[1025];     /* failed: error; interrupted, release: reason */
    double written_at;   /* unix seconds (set by pq_spool_write) */
} pq_spool_record;

/* Creates dir (mode 0700) when missing and checks that it is a directory
 * owned by the caller's euid and writable by it alone. Returns 0, or -1
 * with the reason in err. */
int pq_spool_dir_prepare(const char *dir, char *err, size_t errlen);

/* Writes rec into dir (prepared as above) as one file, atomically (a
 * temporary file renamed), mode 0600; its path goes to path (pathlen
 * bytes). Returns 0, or -1 with the reason in err. */
int pq_spool_write(const char *dir, const pq_spool_record *rec, char *path,
                   size_t pathlen, char *err, size_t errlen);

/* Applies one record through ctx: pq_complete, pq_fail, pq_interrupt or
 * pq_release. Returns their pq_error: PQ_EDONE, PQ_ESTATE or PQ_ETOKEN
 * mean that the outcome already arrived (PQ_EDONE: this one), the trial
 * ended otherwise or was claimed again. */
int pq_spool_apply(pq_context *ctx, const pq_spool_record *rec);

/* One try of several at pq_spool_apply, for a caller that tries again
 * while Redis does not answer (PQ_EIO). *unanswered is 0 before the first
 * try and becomes 1 once a try was sent and got no answer
 * (ctx->unanswered). After such a try, an outcome's PQ_EDONE ("the trial
 * already has this claim's outcome") is PQ_OK: a frozen Redis runs what
 * it was sent once it resumes, and that ending is this outcome. PQ_ESTATE
 * stays: the trial ended otherwise (another claim's outcome came first,
 * a late one of a claim whose lease expired, or the retry's), or the
 * release's claim holds no trial. PQ_EDONE after answered tries only is
 * PQ_ESTATE, the repeat it is refused as. released (may be NULL)
 * receives a release's result (pq_release's), but PQ_RELEASE_UNKNOWN
 * where this try released nothing after one that got no answer (a
 * frozen Redis runs that one once it resumes); {0, PQ_RELEASE_NONE} for
 * any other record and on a failure. Returns pq_spool_apply's code, read
 * so. */
int pq_spool_apply_try(pq_context *ctx, const pq_spool_record *rec,
                       int *unanswered, pq_released *released);

typedef struct pq_spool_stats {
    size_t applied; /* recorded now, file removed */
    size_t dropped; /* already recorded or superseded, file removed */
    size_t kept;    /* Redis failed: left for the next replay */
    size_t bad;     /* unreadable files, left in place */
} pq_spool_stats;

/* Applies the records of dir (a missing dir has none), at most max (0:
 * all), each exactly once: a file is removed once its record was applied
 * or refused for good (PQ_EDONE, PQ_ESTATE, PQ_ETOKEN, PQ_ENOTRIAL,
 * PQ_ENOSWEEP,
 * PQ_EINVAL); a connection or permission failure stops the replay and
 * returns its code, the rest left for later. Only regular files owned by
 * the caller's euid are read. An interrupt whose trial was claimed
 * again since it was spooled (a requeued task resumed it) is refused
 * (PQ_ESTATE), so that it never ends the later run. log (may be NULL)
 * gets one line per record. */
int pq_spool_replay(pq_context *ctx, const char *dir, size_t max,
                    pq_spool_stats *stats,
                    void (*log)(void *arg, const char *line), void *arg);

/* Records the coordinator's last refit (shown by pq_sweep_get). */
int pq_set_refit_info(pq_context *ctx, const char *sweep, long n_obs, double ms,
                      const char *backend);

/* Marks running trials whose lease deadline has passed by the server's
 * clock lost, appending a "lost" observation each, and queues each one
 * again for a retry while its retries < max_retries (a bounded chunk per
 * call to the server, as many calls as it takes). *expired (may be NULL)
 * receives how many became lost. */
int pq_expire_leases(pq_context *ctx, const char *sweep, long *expired);

/* The most grace pq_expire_leases_after takes (protein_expire's
 * GRACE_MAX), in seconds. */
#define PQ_EXPIRE_GRACE_MAX 3600

/* pq_expire_leases, sparing the trials spare[0..n_spare) (n_spare at
 * most PQ_DUE_MAX, spare may be NULL when 0) while their deadline passed
 * grace_s seconds ago or less (0 to PQ_EXPIRE_GRACE_MAX, else PQ_EINVAL):
 * a coordinator that has no answer yet from Slurm about a trial's job
 * keeps that trial that long, and expires the others due at once. With
 * before > 0 (the cut of a pq_leases_due call), only those due at or
 * before it: a coordinator expires none it did not read (one that fell
 * due after the read, or beyond the PQ_DUE_MAX read); with before = 0,
 * every one due. All in the server's calls, each atomic. */
int pq_expire_leases_after(pq_context *ctx, const char *sweep, long grace_s,
                           double before, const long *spare, size_t n_spare,
                           long *expired);

/* The most trials one pq_leases_due call returns (protein_due's DUE_MAX),
 * and the longest claim key it passes on. */
#define PQ_DUE_MAX 256
#define PQ_DUE_KEY_MAX 256

/* A running trial whose lease deadline has passed (pq_leases_due). */
typedef struct pq_due_lease {
    long id;
    char claim_key[PQ_DUE_KEY_MAX + 1];
    long uid;        /* the uid its claim was made for; -1: not recorded */
    double deadline; /* the lease's deadline, server time (s) */
} pq_due_lease;

/* Reads up to max (1 to PQ_DUE_MAX) leases of sweep whose deadline has
 * passed by the server's clock, the earliest first, in one read-only
 * call: the running trials among them into *due (n of them; free() it;
 * NULL when none), the sweep's owner uid into *owner_uid, and into *cut
 * the deadline the read went up to (0: none was due; 1 for damaged
 * deadlines below 1): every lease due at
 * or before *cut was read, those of no running trial (or with no claim
 * key) too, which are left out of *due. Nothing changes: the caller
 * extends (pq_lease_extend) some and expires the rest with
 * pq_expire_leases_after(before = *cut), which ends those left out too,
 * and none that fell due after the read, nor beyond max. Returns PQ_OK,
 * PQ_EINVAL (bad max), PQ_ENOSWEEP, PQ_EPROTO (a malformed reply),
 * PQ_ENOMEM, or the connection's failure. */
int pq_leases_due(pq_context *ctx, const char *sweep, int max,
                  pq_due_lease **due, size_t *n, long *owner_uid, double *cut);

/* pq_demand and pq_leases_due(ctx, sweep, max, ...) of a coordinator's
 * turn, in one read-only call where Redis holds this build's functions
 * (protein_demand answers the leases due too when given max), in two
 * where it holds another build's, which answer the demand alone. Outputs,
 * failures and who frees *due are those of the two; on a failure *demand
 * is zeroed and *due NULL. */
int pq_demand_due(pq_context *ctx, const char *sweep, int max,
                  pq_demand_info *demand, pq_due_lease **due, size_t *n,
                  long *owner_uid, double *cut);

/* For the sweep's coordinator (holder_id holds its lease,
 * pq_coordinator_acquire): renews the lease of trial id, which Slurm says
 * still runs, from now by the trial's lease_seconds (never shortening
 * it), while the trial is running under claim_key. *deadline (may be
 * NULL) receives the new deadline, server time. PQ_ESTATE when the holder
 * does not hold the sweep, or the trial is not running under claim_key
 * (its outcome came, or it was expired and claimed again): nothing
 * changes. Also PQ_ENOTRIAL, PQ_ENOSWEEP, PQ_EINVAL, PQ_ECORRUPT, or the
 * connection's failure. */
int pq_lease_extend(pq_context *ctx, const char *sweep, const char *holder_id,
                    long id, const char *claim_key, double *deadline);

/* ------------------------------------------------------------ observations */

/* Stream entry ids are "ms-seq"; this fits any of them with the NUL. */
#define PQ_STREAM_ID_MAX 48

/* One outcome from the sweep's observation stream. outcome is one of
 * COMPLETED, FAILED, INTERRUPTED, LOST, PRUNED. */
typedef struct pq_observation {
    char entry_id[PQ_STREAM_ID_MAX];
    long trial_id;
    pq_trial_state outcome;
    pq_params params;
    int has_score;
    double score;
    int has_cost;
    double cost;
    int fallback;
    /* 1 when the entry's body is not an observation protein's functions
     * wrote (a stray XADD, a newer format): only entry_id is set. Readers
     * skip it; the stream position still moves past it. */
    int undecodable;
} pq_observation;

/* Frees n observations and the array (NULL: no-op). */
void pq_observations_free(pq_observation *obs, size_t n);

/* Reads up to max_count (0: 1000) observations after last_id ("0" or ""
 * = from the start), waiting up to block_ms (0: no wait) when none is
 * there. *obs is malloc'ed (NULL when *n is 0). next_id receives the id to
 * pass next time (last_id itself when nothing arrived). */
int pq_observations_read(pq_context *ctx, const char *sweep,
                         const char *last_id, int block_ms, size_t max_count,
                         pq_observation **obs, size_t *n,
                         char next_id[PQ_STREAM_ID_MAX]);

/* Reads every observation from the start (a restarted coordinator).
 * Neither read reports an unknown sweep: it simply has no observations.
 * Reading needs the XREAD command (see the ACL in docs/redis-schema.md). */
int pq_observations_all(pq_context *ctx, const char *sweep,
                        pq_observation **obs, size_t *n,
                        char next_id[PQ_STREAM_ID_MAX]);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_QUEUE_H */
