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
 * this library alone.
 *
 * The key schema is documented in docs/redis-schema.md.
 */
#ifndef PROTEIN_QUEUE_H
#define PROTEIN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (ctx->err and return values). */
enum pq_error {
    PQ_OK = 0,
    PQ_EIO = -1,        /* connection failed, timed out or was lost */
    PQ_EPROTO = -2,     /* the server answered something unexpected */
    PQ_ENOMEM = -3,
    PQ_EINVAL = -4,     /* a bad argument: malformed name, NaN metric, ... */
    PQ_ENOSWEEP = -5,   /* no such sweep */
    PQ_EEXISTS = -6,    /* the sweep already exists */
    PQ_ENOTRIAL = -7,   /* no such trial */
    PQ_ETOKEN = -8,     /* the trial token does not match */
    PQ_ESTATE = -9,     /* the trial or sweep is not in a state allowing it */
    PQ_EBUDGET = -10,   /* max_trials reached: no trial handed out */
    PQ_EPERM = -11,     /* the sweep belongs to another user and is not shared */
    PQ_ESTOPPED = -12,  /* the sweep is paused or stopped */
    PQ_EEMPTY = -13,    /* ready queue empty and a coordinator is alive */
    PQ_EAUTH = -14      /* authentication failed or password unreadable */
};

/* A static English description of a pq_error. Never NULL. */
const char *pq_strerror(int err);

/* ------------------------------------------------------------ parameters */

typedef struct pq_param {
    char *name;       /* as in the sweep config, e.g. "train/learning_rate" */
    int is_string;    /* categorical or constant given as text */
    int is_integer;   /* number printed without a fraction */
    double number;    /* valid when !is_string */
    char *text;       /* valid when is_string */
} pq_param;

typedef struct pq_params {
    size_t n;
    pq_param *items;
} pq_params;

void pq_params_free(pq_params *p); /* frees the items, not p itself */

/* Renders params as a JSON object ({"lr": 0.001, "act": "relu"}) into a
 * malloc'ed string. Numbers use the shortest text that reads back exactly. */
int pq_params_to_json(const pq_params *p, char **out);

/* Renders params as "--name=value --name2=value2" (malloc'ed). */
int pq_params_to_args(const pq_params *p, char **out);

/* Writes PROTEIN_PARAM_<NAME> for a parameter name: upper-cased, every
 * character other than [A-Z0-9] as '_'. Returns PQ_EINVAL if it won't fit. */
int pq_param_env_name(const char *name, char *buf, size_t len);

/* msgpack round trip of params (queue entries, stream entries). */
int pq_params_pack(const pq_params *p, char **buf, size_t *len);
int pq_params_unpack(const char *buf, size_t len, pq_params *out);

/* The environment contract of DESIGN.md as name/value pairs:
 * PROTEIN_SWEEP, PROTEIN_TRIAL, PROTEIN_PARAMS, PROTEIN_ARGS,
 * PROTEIN_PARAM_<NAME>..., PROTEIN_RESULT (omitted when result_path is
 * NULL), plus PROTEIN_TOKEN when token is non-NULL. */
typedef struct pq_env {
    size_t n;
    char **names;
    char **values;
} pq_env;

int pq_env_build(const char *sweep, long trial_id, const pq_params *params,
                 const char *result_path, const char *token, pq_env *out);
void pq_env_free(pq_env *env);

/* A parsed result file: key=value lines, the last value of each key wins.
 * Lines that are blank, comments (#) or malformed are skipped. */
typedef struct pq_result {
    int has_metric;
    double metric;   /* non-finite values are rejected: has_metric stays 0 */
    int has_cost;
    double cost;
    int has_step;
    double step;
} pq_result;

int pq_result_parse(const char *text, size_t len, const char *metric_key,
                    const char *cost_key, pq_result *out);

/* ------------------------------------------------------------ client */

typedef struct pq_connect_options {
    const char *url;            /* redis://[user@]host:port[/db] or unix:///path;
                                   NULL = $PROTEIN_REDIS or redis://127.0.0.1:6379 */
    const char *password;       /* NULL: $PROTEIN_REDIS_PASSWORD, then password_file */
    const char *password_file;  /* read when no password is given */
    int connect_timeout_ms;     /* <= 0: 2000 */
    int command_timeout_ms;     /* <= 0: 5000 */
} pq_connect_options;

typedef struct pq_context {
    int err;            /* PQ_OK or the last failure's code */
    char errstr[256];   /* the last failure, for people */
    void *redis;        /* redisContext *, private */
    char *url;
} pq_context;

/* Connects, authenticates and makes sure protein's server functions are
 * loaded (FUNCTION LOAD when missing or older). Never returns NULL except
 * on out-of-memory: check ctx->err, then pq_free(ctx). */
pq_context *pq_connect(const pq_connect_options *opts);
void pq_free(pq_context *ctx);

/* Sweep names: 1..64 characters of [A-Za-z0-9._-], not starting with '.'
 * or '-'. Returns 1 when valid. */
int pq_sweep_name_valid(const char *name);

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

const char *pq_trial_state_name(pq_trial_state s);

typedef struct pq_trial {
    char *sweep;
    long id;
    char *token;        /* proof of ownership for complete/fail/progress */
    pq_trial_state state;
    int fallback;       /* drawn from the fallback pool, not the coordinator */
    int resumed;        /* the claim key already held this trial */
    int attempts;
    pq_params params;
    char *metric;       /* the sweep's metric key (result file) */
    char *cost_metric;  /* the sweep's cost key */
} pq_trial;

void pq_trial_free(pq_trial *t);

typedef struct pq_claim_request {
    const char *claim_key;  /* idempotency key: Slurm job id, or host:pid */
    long uid;               /* claiming user; checked against the owner */
    const char *job_id;     /* recorded on the trial; may be NULL */
    long array_index;       /* -1 when not an array task */
    const char *node;       /* may be NULL */
    int lease_seconds;      /* <= 0: the sweep's default lease */
    int wait_ms;            /* how long to wait for a coordinator point
                               before taking a fallback point */
} pq_claim_request;

/* Claims a trial for req->claim_key: the same trial again if the key
 * already holds one (t->resumed), else the head of the ready queue, else,
 * after req->wait_ms or at once when no coordinator is alive, a fallback
 * point. Fails with PQ_EBUDGET, PQ_ESTOPPED, PQ_EPERM, PQ_ENOSWEEP. */
int pq_claim(pq_context *ctx, const char *sweep, const pq_claim_request *req,
             pq_trial **out);

/* Records outcomes. Each checks the token and the trial's state
 * atomically; a second completion of a finished trial is PQ_ESTATE.
 * score and cost must be finite (PQ_EINVAL otherwise); cost < 0 means
 * "not reported". */
int pq_complete(pq_context *ctx, const char *sweep, long trial_id,
                const char *token, double score, double cost);
int pq_fail(pq_context *ctx, const char *sweep, long trial_id,
            const char *token, int exit_status, const char *error);
int pq_interrupt(pq_context *ctx, const char *sweep, long trial_id,
                 const char *token, const char *reason);

/* Reports progress (step, metric, cost so far). *should_stop is set to 1
 * when the coordinator's early-stop model says the run should stop (the
 * trial then becomes pruned when it finishes). */
int pq_progress(pq_context *ctx, const char *sweep, long trial_id,
                const char *token, double step, double score, double cost,
                int *should_stop);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_QUEUE_H */
