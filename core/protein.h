/*
 * protein.h - the Protein optimizer: sweep configs, parameter spaces and
 * cost-aware Bayesian suggestions.
 *
 * This is the public API of core/. It is pure computation: no sockets, no
 * Slurm, no files except the config loaders. Every function that can fail
 * returns a protein_status (0 on success) and, where a protein_error is
 * passed, fills it with a human-readable message. Objects returned through
 * an out-pointer are owned by the caller and freed by the matching *_free().
 *
 * Values: a trial is a vector of n_params doubles in "value space", one per
 * parameter, in config order. Numeric parameters hold their value; a
 * categorical parameter holds the index of its choice in values[]; a
 * constant holds its numeric value (or 0 when the constant is a string).
 */
#ifndef PROTEIN_H
#define PROTEIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "protein_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (protein_status, PROTEIN_*) and protein_strerror are in
 * common/protein_status.h, shared with the queue. */

/* Where and why something failed. file/key may be empty; line 0 = unknown. */
typedef struct protein_error {
    char file[256];
    int line;
    char key[128];
    char message[512];
} protein_error;

/* Formats err as "FILE:LINE: KEY: MESSAGE" (omitting empty parts) into buf. */
void protein_error_format(const protein_error *err, char *buf, size_t len);

/* ------------------------------------------------------------------ config */

typedef enum protein_param_kind {
    PROTEIN_PARAM_LINEAR,      /* uniform / int_uniform / q_uniform */
    PROTEIN_PARAM_LOG,         /* log_uniform_values / log_normal with min and
                                * max / W&B's log_uniform, inv_log_uniform */
    PROTEIN_PARAM_POW2,        /* uniform_pow2: always an integer power of 2 */
    PROTEIN_PARAM_LOGIT,       /* logit_normal: log10 of (1 - v) */
    PROTEIN_PARAM_CATEGORICAL, /* values: [...] */
    PROTEIN_PARAM_CONSTANT,    /* value: x */
    PROTEIN_PARAM_NORMAL,      /* W&B normal / q_normal: mu, sigma */
    PROTEIN_PARAM_LOGNORMAL,   /* W&B log_normal / q_log_normal: ln v is
                                * normal with mu, sigma */
    PROTEIN_PARAM_BETA         /* W&B beta / q_beta: a (mu), b (sigma) */
} protein_param_kind;

/* The unbounded W&B distributions (normal, log-normal, beta's tails) are
 * searched between these quantiles: the model coordinate maps linearly to
 * the cumulative probability in [LO, HI] and through the inverse CDF to
 * the value, so a uniform coordinate draws from the distribution itself
 * (less the outer 0.1 % on each side). */
#define PROTEIN_QUANTILE_LO 0.001
#define PROTEIN_QUANTILE_HI 0.999

/* What a categorical choice or a constant is in the trial's JSON
 * (PROTEIN_PARAMS) and in W&B's command arguments. */
typedef enum protein_value_type {
    PROTEIN_VALUE_STRING,
    PROTEIN_VALUE_NUMBER,
    PROTEIN_VALUE_BOOL, /* text "true" or "false" */
    PROTEIN_VALUE_NULL, /* text "null" */
    PROTEIN_VALUE_JSON  /* a list or mapping; the text is its JSON */
} protein_value_type;

/* A PROTEIN_VALUE_NUMBER's text ".inf", "-.inf" or ".nan" (YAML's float
 * infinity and NaN) as a trial's JSON gives it: "Infinity", "-Infinity",
 * "NaN", which Python's json writes and reads (JSON has no such number).
 * NULL for any other text. */
const char *protein_value_nonfinite_json(const char *text);

/* W&B's early_terminate: {type: hyperband, ...}. */
typedef struct protein_hyperband {
    int enabled;
    long min_iter; /* first band (0 when max_iter and s are given) */
    long max_iter; /* with s: bands max_iter / eta^k, k = 1..s */
    int s;
    double eta; /* default 3 */
    int strict; /* default true: judge the value at the band itself */
} protein_hyperband;

typedef enum protein_method {
    PROTEIN_METHOD_PROTEIN,
    PROTEIN_METHOD_RANDOM,
    PROTEIN_METHOD_GRID
} protein_method;

typedef struct protein_param {
    char *name; /* as written in the config, e.g. "train/lr" */
    protein_param_kind kind;
    int is_integer;  /* rounded to the nearest integer on output */
    double min, max; /* numeric kinds */
    double scale;    /* perturbation half-width in model units */
    int has_default;
    double default_value;       /* value space (categorical: index) */
    size_t n_values;            /* categorical choices / 1 for a constant */
    char **values;              /* choices (and the constant) as text */
    double *numeric_values;     /* same, parsed; NaN where not a number */
    unsigned char *value_types; /* n_values protein_value_type, or NULL:
                                 * numbers where numeric_values is a
                                 * number, strings elsewhere */
    double *probabilities;      /* categorical: W&B probabilities, or NULL */
    double q;                   /* quantum: values are rounded to multiples of
                                 * q (q_* distributions); 0 = none */
    double mu, sigma; /* NORMAL, LOGNORMAL: mu and sigma; BETA: a, b */
    int line;         /* config line where the parameter starts */
    size_t group_len; /* W&B parameters: groups: the length of the name's
                       * group prefix ("opt/" of "opt/lr"), 0 for a
                       * top-level parameter; a '/' past it belongs to the
                       * parameter's own name, as W&B passes it flat */
} protein_param;

typedef struct protein_sweep_config {
    char *name;
    char *source; /* file name the config came from */
    protein_method method;
    char *metric;      /* default "score" */
    int minimize;      /* goal: minimize */
    char *cost_metric; /* result key for cost; default "cost" */
    char *cost_param;  /* optional parameter whose value is the cost axis */
    long max_trials;   /* 0 = unlimited */
    double max_suggestion_cost; /* seconds; default 3600 */
    int has_seed;
    uint64_t seed;
    /* Protein knobs, with the research note's defaults (expansion_rate:
     * PROTEIN_DEFAULT_EXPANSION_RATE) */
    int num_random_samples;     /* 10 */
    int suggestions_per_pareto; /* 256 */
    double expansion_rate;      /* 1.0 (Protein: 0.1) */
    double early_stop_quantile; /* 0.3 */
    int gp_max_obs;             /* 0 = no cap */
    int gp_training_iter;       /* 50 */
    int prune_pareto;           /* 1 */
    size_t n_params;
    protein_param *params;
    /* W&B settings: what `protein run`/`agent`/`exec` start when no
     * COMMAND is given (the W&B agent's program and command template). */
    char *program;  /* NULL = none */
    char **command; /* n_command items; NULL = W&B's default
                     * ${env} ${interpreter} ${program} ${args} */
    size_t n_command;
    char *description, *project, *entity; /* NULL = none */
    int has_target;              /* metric.target: no new trials once a */
    double target;               /* trial's score reaches it */
    protein_hyperband hyperband; /* early_terminate */
    /* PufferLib settings */
    int percentile_metric; /* metric_distribution = percentile */
    int downsample;        /* progress points per run observed (0 =
                            * the final result only) */
    char *warnings;        /* keys read but not acted on (or not as
                            * written: a categorical's repeated
                            * values), one line each, for the user;
                            * NULL = none */
} protein_sweep_config;

/* expansion_rate of a config that sets none, and of one set below 0
 * (Protein's own default is 0.1; docs/algorithm.md says why 1.0). */
#define PROTEIN_DEFAULT_EXPANSION_RATE 1.0

/* Parses a W&B sweep file as it is (or a PufferLib INI file when the name
 * ends in .ini, merged over the default.ini PufferLib would merge it
 * with). On failure returns PROTEIN_ECONFIG or PROTEIN_EIO and fills err
 * with file, line and key. *out is set only on success; keys read but
 * without effect (or not acted on as written) are listed in
 * (*out)->warnings. */
int protein_config_load_file(const char *path, protein_sweep_config **out,
                             protein_error *err);

/* Parses YAML text (a W&B sweep file, or protein's own keys); `filename`
 * names the file in errors, and when it ends in .yaml or .yml gives the
 * sweep its name if the text has none. Without either, cfg->name is NULL
 * (a stored config: the caller knows the sweep's name). */
int protein_config_parse_yaml(const char *text, size_t len,
                              const char *filename, protein_sweep_config **out,
                              protein_error *err);

/* Parses PufferLib INI text ([sweep] plus [sweep.section.param] sections). */
int protein_config_parse_ini(const char *text, size_t len, const char *filename,
                             protein_sweep_config **out, protein_error *err);

/* Writes cfg as canonical YAML that protein_config_parse_yaml reads back to
 * an equal config. Returns PROTEIN_EIO on a write error. */
int protein_config_write_yaml(const protein_sweep_config *cfg, FILE *fp);

/* Same, into a malloc'ed NUL-terminated string the caller frees. */
int protein_config_to_yaml(const protein_sweep_config *cfg, char **out);

/* Frees cfg and everything it owns; NULL is a no-op. */
void protein_config_free(protein_sweep_config *cfg);

/* Index of the parameter called name, or -1. */
int protein_config_find_param(const protein_sweep_config *cfg,
                              const char *name);

/* ------------------------------------------------------------------ space */

/* Number of model-space dimensions: numeric params count 1, a categorical
 * with k choices counts k (one-hot), a constant counts 0. */
size_t protein_space_dim(const protein_sweep_config *cfg);

/* Maps a value-space vector to model space u in [-1,1]^dim. */
void protein_space_normalize(const protein_sweep_config *cfg,
                             const double *values, double *u);

/* Maps model space back to values (rounding integers, pow2, argmax of a
 * one-hot block). normalize(denormalize(u)) is a fixed point. */
void protein_space_denormalize(const protein_sweep_config *cfg, const double *u,
                               double *values);

/* The index of the choice a categorical value selects among n_values > 0:
 * rounded to the nearest, clamped to [0, n_values - 1]; a negative value
 * or NaN selects 0. */
size_t protein_choice_index(double value, size_t n_values);

/* Formats parameter i's value as text: integers without a decimal point,
 * floats with %.17g (exact on reading back, not the shortest such text),
 * categorical as its choice. */
void protein_format_value(const protein_param *p, double value, char *buf,
                          size_t len);

/* The value of W&B distribution parameter p (NORMAL, LOGNORMAL, BETA) at
 * cumulative probability c in (0, 1): its inverse CDF, before any
 * quantization. Other kinds: min + c * (max - min). */
double protein_distribution_quantile(const protein_param *p, double c);

/* ------------------------------------------------------------------ rng */

/* A small, seedable generator (xoshiro256**). Never shared across threads. */
typedef struct protein_rng {
    uint64_t s[4];
} protein_rng;

/* Seeds rng deterministically from seed (any value, 0 included). */
void protein_rng_seed(protein_rng *rng, uint64_t seed);
/* The next 64 random bits. */
uint64_t protein_rng_next(protein_rng *rng);
double protein_rng_uniform(protein_rng *rng); /* [0, 1) */
double protein_rng_normal(protein_rng *rng);  /* N(0, 1) */

/* Scrambled (random digital shift, seeded) Sobol points in [0,1)^dim, from
 * GSL; dim <= 40 (PROTEIN_SOBOL_MAX_DIM), more is PROTEIN_EINVAL. */
#define PROTEIN_SOBOL_MAX_DIM 40
typedef struct protein_sobol protein_sobol;
int protein_sobol_create(size_t dim, uint64_t seed, protein_sobol **out);
void protein_sobol_next(protein_sobol *s, double *point);
void protein_sobol_free(protein_sobol *s);

/* ------------------------------------------------------------- optimizer */

struct protein_gp_backend; /* see gp.h */

typedef struct protein_optimizer_options {
    const struct protein_gp_backend *backend; /* NULL = CPU (LAPACK) */
    int use_default_first; /* first suggestion = config defaults (when all
                              given) */
} protein_optimizer_options;

typedef enum protein_suggestion_source {
    PROTEIN_SOURCE_DEFAULT, /* the config's defaults */
    PROTEIN_SOURCE_SOBOL,   /* warm-up */
    PROTEIN_SOURCE_MODEL,   /* GP acquisition */
    PROTEIN_SOURCE_RANDOM,  /* method: random */
    PROTEIN_SOURCE_GRID     /* method: grid */
} protein_suggestion_source;

typedef struct protein_suggestion_info {
    protein_suggestion_source source;
    double predicted_score; /* model suggestions; NaN otherwise */
    double predicted_cost;  /* seconds; NaN when not predicted */
    double target_cost;     /* normalized log-cost target; NaN if none */
    size_t n_candidates;
    /* model suggestions: 1 when only candidates near the best success
     * competed (a local pick while trials run), else 0 */
    int local;
    double fit_seconds, predict_seconds;
} protein_suggestion_info;

typedef enum protein_outcome {
    PROTEIN_OUTCOME_SUCCESS,
    PROTEIN_OUTCOME_FAILURE
} protein_outcome;

typedef struct protein_optimizer protein_optimizer;

/* Creates an optimizer for cfg (which must outlive it). Seeded from
 * cfg->seed when has_seed, else from the clock. */
int protein_optimizer_create(const protein_sweep_config *cfg,
                             const protein_optimizer_options *opts,
                             protein_optimizer **out, protein_error *err);
void protein_optimizer_free(protein_optimizer *opt);

/* The number of points of opt's grid (method: grid), however many were
 * suggested; 0 for the other methods. */
size_t protein_optimizer_grid_size(const protein_optimizer *opt);

/* Writes the next suggestion (value space, cfg->n_params) to values.
 * Accounts for pending points. info may be NULL. Returns PROTEIN_EXHAUSTED
 * when a grid is done. A failing GP fit falls back to a Sobol point and
 * reports it through info->source. */
int protein_suggest(protein_optimizer *opt, double *values,
                    protein_suggestion_info *info);

/* For a restarted sweep: continues opt's seeded warm-up sequence (Sobol,
 * random points, grid) past the n points handed out before, by suggesting
 * and dropping them, so that they are not suggested again. Method protein
 * drops at most its num_random_samples warm-up points (model suggestions
 * repeat nothing anyway); every method at most max. Call it after the
 * earlier trials were observed. Returns how many were dropped: fewer than
 * asked after a grid's last point, at a cap or on a failure. */
long protein_skip_handed_out(protein_optimizer *opt, long n, long max);

/* Writes up to n suggestions to values (n rows of cfg->n_params), each
 * marked pending (protein_add_pending) before the next is made, so none
 * lands near another or near the points already pending. Model
 * suggestions share one GP fit, one candidate set and one prediction
 * pass: a batch of n costs about one protein_suggest plus O(n m d) for m
 * candidates. infos (may be NULL) receives n entries. *made: how many
 * were written, fewer than n only after a grid's last point (PROTEIN_OK
 * then, PROTEIN_EXHAUSTED when none) or a failure (PROTEIN_ENOMEM,
 * PROTEIN_EINVAL for NULL arguments). */
int protein_suggest_batch(protein_optimizer *opt, size_t n, double *values,
                          protein_suggestion_info *infos, size_t *made);

/* Records a finished trial. score is the metric as reported (the optimizer
 * negates it itself for goal: minimize); cost is in seconds (> 0). A
 * failure's score and cost are ignored by the models. */
int protein_observe(protein_optimizer *opt, const double *values, double score,
                    double cost, protein_outcome outcome);

/* The score to pass to protein_observe for a reported score: the score
 * itself, or with the config's percentile metric (PufferLib's
 * metric_distribution = percentile, a rate in (0, 1)) its logit, clipped
 * as PufferLib clips it. */
double protein_observed_score(const protein_sweep_config *cfg, double score);

/* 1 when s can be a result key (a config's metric or cost key, a key of
 * `protein report`): 1..64 printable ASCII characters other than '=' and
 * '#', with no space at either end (W&B metrics such as "val mAP" keep
 * their inner spaces); 0 otherwise. */
int protein_valid_metric(const char *s);

/* One report along a trial's learning curve: the step it reached (the
 * report's number, or what the program called its step, e.g. timesteps),
 * the metric, and the cost so far (NaN: not reported). */
typedef struct protein_curve_point {
    double step, score, cost;
} protein_curve_point;

/* Most points a curve in Redis holds (queue/functions.lua keeps 1024). */
#define PROTEIN_CURVE_MAX 4096

/* Parses a curve as protein_progress keeps it (queue/functions.lua): one
 * "STEP SCORE COST\n" line per report, finite numbers, COST "-" when not
 * reported, at most PROTEIN_CURVE_MAX lines. On success *out (malloc'ed,
 * NULL when *n is 0) is the caller's. PROTEIN_EINVAL for any malformed
 * line (nothing returned), PROTEIN_ENOMEM. */
int protein_curve_parse(const char *text, size_t len, protein_curve_point **out,
                        size_t *n);

/* Most bands protein_hyperband_bands gives. */
#define PROTEIN_HYPERBAND_BANDS_MAX 100

/* W&B's hyperband bands (wandb/sweeps hyperband_stopping.py): the report
 * counts at which the running trials are compared, from min_iter (times
 * eta^i, up to 100 of them) or max_iter and s (max_iter / eta^i, i = 1..s,
 * while >= 1); ascending, a repeated band once. Writes at most max into
 * bands; returns the count, 0 when h is NULL or disabled. */
size_t protein_hyperband_bands(const protein_hyperband *h, long *bands,
                               size_t max);

/* PufferLib's downsample of a curve of n points into out (room for m + 1
 * points): with fewer than m points, the points as they are; else m bin
 * means of the points before the last one (their most recent multiple of
 * m) and the last one as it is. m <= 0: the last point only. Returns the
 * count written. */
size_t protein_downsample(const protein_curve_point *pts, size_t n, int m,
                          protein_curve_point *out);

/* Observes a trial that succeeded with score and cost (> 0) at values;
 * with the config's downsample and a curve of n > 1 reports (may be
 * NULL), first the downsampled points before the last as PufferLib does:
 * each with the cost parameter (if any) replaced by the point's step and
 * at the point's cost (a report without one gets its share of cost by its
 * place in the curve). Returns PROTEIN_OK, PROTEIN_ENOMEM, or what
 * protein_observe returns. */
int protein_observe_run(protein_optimizer *opt, const protein_sweep_config *cfg,
                        const double *values, double score, double cost,
                        const protein_curve_point *curve, size_t n);

/* Marks a point as handed out but unfinished; suggestions avoid it. */
int protein_add_pending(protein_optimizer *opt, const double *values);
/* Forgets every pending point. */
void protein_clear_pending(protein_optimizer *opt);

/* Successes kept (a replaced or dropped one not counted), failures
 * recorded and pending points; 0 for a NULL opt. */
size_t protein_num_observations(const protein_optimizer *opt);
size_t protein_num_failures(const protein_optimizer *opt);
size_t protein_num_pending(const protein_optimizer *opt);
/* Finished trials: every protein_observe call that returned PROTEIN_OK,
 * successes and failures alike, a protein_observe_run counting once
 * however many points of its curve it observed. The cost cooling counts
 * trials by it. */
size_t protein_num_finished(const protein_optimizer *opt);

/* Copies success i (observation order, as protein_pareto_front indexes it):
 * values (cfg->n_params, may be NULL), score in the user's direction and
 * cost in seconds (either may be NULL). PROTEIN_EINVAL when i is out of
 * range. */
int protein_get_observation(const protein_optimizer *opt, size_t i,
                            double *values, double *score, double *cost);

/* Early-stop threshold for a run that has spent `cost` so far, in the
 * units of the costs observed, in the metric's own units and direction: a
 * run whose score is worse than this should stop. Returns -INFINITY
 * (maximize) / +INFINITY (minimize) when not fitted: fewer than 30
 * successes, or every success cost the same. */
double protein_early_stop_threshold(const protein_optimizer *opt, double cost);

/* Refits the early-stop model on the observations so far (a model
 * suggestion also does): the quantile line, and the upper cost threshold
 * when no suggestion has set it yet (the pruned front's highest cost).
 * For a coordinator that judges running trials between suggestions: with
 * a deep queue, the last suggestion may predate most observations.
 * PROTEIN_EINVAL for NULL opt, PROTEIN_ENOMEM. */
int protein_early_stop_refit(protein_optimizer *opt);

/* Pareto front of the successes (score vs cost), best-first by cost.
 * Writes up to max indices into observation order, and the front's size
 * (which may exceed max) into *count: 0 without successes. Returns
 * PROTEIN_OK, PROTEIN_EINVAL (NULL opt or count), PROTEIN_ENOMEM. */
int protein_pareto_front(const protein_optimizer *opt, size_t *indices,
                         size_t max, size_t *count);

/* Sets the BLAS thread count of this process, once at start-up before any
 * fit: `requested` when > 0 (a command-line option), else
 * $PROTEIN_BLAS_THREADS, else leaves it to OpenBLAS when OPENBLAS_NUM_THREADS
 * or OMP_NUM_THREADS is set, else 1. Writes a line saying what was chosen
 * and why into why. Returns the count set, 0 when it was left to the BLAS
 * (environment, or a BLAS other than OpenBLAS), -1 when
 * PROTEIN_BLAS_THREADS is not a count 1-4096 (why says so). */
int protein_blas_threads_choose(int requested, char *why, size_t why_len);

/* Corrects the BLAS kernels of this process: when a DYNAMIC_ARCH OpenBLAS
 * chose kernels without AVX2 on a CPU that has AVX2 and FMA (a CPU newer
 * than the library), runs this program again (execv of the file
 * /proc/self/exe names, with argv, which must be main's) with OPENBLAS_CORETYPE
 * naming the kernels the CPU runs. In that second run it removes
 * OPENBLAS_CORETYPE and its own marker from the environment, so that no child
 * inherits them, and returns 0. Leaves everything alone (returns 0) with a
 * non-empty OPENBLAS_CORETYPE of the user's, with another BLAS, or when the
 * kernels suit the CPU. Call it first in main, before any output or side
 * effect. Returns -1 when the second run could not be started (no /proc): this
 * run goes on with the library's kernels. */
int protein_blas_kernels_check(char *const argv[]);

/* The kernels OpenBLAS would better use on a CPU with AVX2 and FMA
 * (avx2_fma) and AVX-512 (avx512), when corename (openblas_get_corename())
 * names kernels without AVX2: "SkylakeX" or "Haswell"; else NULL (the
 * kernels suit the CPU, or the CPU has no AVX2). */
const char *protein_blas_kernels_for_cpu(const char *corename, int avx2_fma,
                                         int avx512);

/* protein_blas_kernels_for_cpu for the linked OpenBLAS's kernels and this
 * CPU: the kernels protein_blas_kernels_check asks for, or NULL (they
 * suit the CPU, or the BLAS is not a DYNAMIC_ARCH OpenBLAS). */
const char *protein_blas_kernels_wanted(void);

/* Describes the BLAS in use into buf: "OpenBLAS 0.3.21, SkylakeX kernels",
 * saying so when protein_blas_kernels_check chose them. */
void protein_blas_describe(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_H */
