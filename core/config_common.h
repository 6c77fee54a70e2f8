/* config_common.h - helpers shared by the sweep-config readers (YAML, INI)
 * and the writer. Not public: only core/config_*.c include it. */
#ifndef PROTEIN_CONFIG_COMMON_H
#define PROTEIN_CONFIG_COMMON_H

#include "protein.h"
#include "protein_names.h"

#define PROTEIN_PARAM_NAME_MAX 100 /* flattened parameter name length */
#define PROTEIN_MAX_PARAMS 256     /* parameters in one sweep */
#define PROTEIN_MAX_VALUES 1024    /* choices of one categorical */

/* One optional field of a parameter spec: its text as written and the
 * config line it is on. text == NULL means absent. */
typedef struct protein_spec_field {
    const char *text;
    int line;
} protein_spec_field;

/* A parameter as read from a file, before validation. The readers fill it
 * with borrowed strings; protein_config_add_param() checks it and copies
 * what it keeps. */
typedef struct protein_param_spec {
    const char *name; /* flattened name, e.g. "train/lr" */
    const char *key;  /* key path for errors, e.g. "parameters.lr" */
    int line;         /* line of the parameter's name */
    protein_spec_field distribution, min, max, scale, integer, value, def;
    protein_spec_field mu, sigma, a, b, q; /* W&B distribution fields */
    const char *def_key; /* what the default is called: "default", "mean" */
    int has_values;      /* a values list was given (maybe empty) */
    int values_line;
    size_t n_values;
    const char *const *values;
    const int *value_lines;
    const unsigned char *value_types; /* n_values protein_value_type, or
                                       * NULL: numbers and strings by text */
    const unsigned char *value_plain; /* n_values: 1 where the choice was
                                       * written unquoted, or NULL: all */
    unsigned char value_type; /* of value (a constant); with value_types */
    int has_probabilities;    /* W&B probabilities: [...] of the values */
    int probabilities_line;
    size_t n_probabilities;
    const char *const *probabilities;
} protein_param_spec;

/* Fills err (when not NULL) with file (NULL = ""), line, key (NULL = "")
 * and the printf-formatted message. Returns PROTEIN_ECONFIG. */
int protein_config_error(protein_error *err, const char *file, int line,
                         const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A new config with every default set (metric "score", maximize, cost
 * "cost", max_suggestion_cost 3600, the Protein knobs), its source file
 * name when source is not NULL, and no name or parameters; NULL when out
 * of memory. Free with protein_config_free(). */
protein_sweep_config *protein_config_new(const char *source);

/* Strict number parsing of a whole string: a finite double / an integer
 * that fits a long long / an unsigned 64-bit integer without a sign.
 * Return 0 on success, -1 (out untouched) otherwise. */
int protein_parse_number(const char *s, double *out);
int protein_parse_integer(const char *s, long long *out);
int protein_parse_u64(const char *s, uint64_t *out);

/* true/yes/on and false/no/off, any case: 0 on success, -1 otherwise. */
int protein_parse_bool(const char *s, int *out);

/* The word of the NULL-terminated list `known` closest to `word` by edit
 * distance, or NULL when none is close enough to be a likely typo. */
const char *protein_closest_word(const char *word, const char *const *known);

/* 1 when word is one of the NULL-terminated list, else 0. */
int protein_in_list(const char *word, const char *const *list);

/* 1 when s is 1..max characters of [A-Za-z0-9._-] plus '/' when
 * allow_slash; 0 otherwise. */
int protein_valid_name(const char *s, size_t max, int allow_slash);

/* Writes the dotted key "PREFIX.NAME" (just NAME when prefix is empty) into
 * buf, truncating to len; returns buf. */
const char *protein_config_key(char *buf, size_t len, const char *prefix,
                               const char *name);

/* Replaces *dst (freed) by a copy of src. PROTEIN_ENOMEM on failure, when
 * *dst is left unchanged. */
int protein_config_set_string(char **dst, const char *src);

/* The optimizer's knobs, in one table: the readers' key lists (the
 * protein: mapping of a YAML config, [sweep] of a PufferLib INI),
 * protein_config_set_option's checks, protein_config_new's defaults and
 * the writer all come from it. X(name, type, lo, hi, default): name is the
 * key and the protein_sweep_config field, type int, double or bool (an int
 * field), and a value outside [lo, hi] is refused. */
#define PROTEIN_KNOBS(X)                                                       \
    X(num_random_samples, int, 0, 1000000, 10)                                 \
    X(suggestions_per_pareto, int, 1, 65536, 256)                              \
    X(expansion_rate, double, 0, 10, PROTEIN_DEFAULT_EXPANSION_RATE)           \
    X(early_stop_quantile, double, 0, 1, 0.3)                                  \
    X(gp_max_obs, int, 0, 10000000, 0)                                         \
    X(gp_training_iter, int, 0, 100000, 50)                                    \
    X(prune_pareto, bool, 0, 1, 1)                                             \
    X(downsample, int, 0, 1000, 0)

/* Expands to a knob's name and a comma, for key lists:
 * { PROTEIN_KNOBS(PROTEIN_KNOB_NAME) NULL }. */
#define PROTEIN_KNOB_NAME(name, type, lo, hi, def) #name,

typedef enum protein_knob_type {
    PROTEIN_KNOB_INT,
    PROTEIN_KNOB_DOUBLE,
    PROTEIN_KNOB_BOOL
} protein_knob_type;

/* One row of PROTEIN_KNOBS. */
typedef struct protein_knob {
    const char *name;
    protein_knob_type type;
    size_t offset; /* of the int or double field in protein_sweep_config */
    double lo, hi, def;
} protein_knob;

/* The rows of PROTEIN_KNOBS, in its order; protein_n_knobs of them. */
extern const protein_knob protein_knobs[];
extern const size_t protein_n_knobs;

/* Sets one scalar sweep option from its text: name, method, metric (the
 * metric's name), goal, cost (the cost result key), cost_param, max_trials,
 * max_suggestion_cost, seed, or a Protein knob (num_random_samples,
 * suggestions_per_pareto, expansion_rate, early_stop_quantile, gp_max_obs,
 * gp_training_iter, prune_pareto). Errors name file, line and key (the
 * option as the file spells it). Returns PROTEIN_ENOTFOUND (err untouched)
 * when opt is none of these, PROTEIN_ECONFIG for a bad value, or
 * PROTEIN_ENOMEM. */
int protein_config_set_option(protein_sweep_config *cfg, const char *opt,
                              const char *text, const char *file, int line,
                              const char *key, protein_error *err);

/* Frees what p owns (name, choices, numeric values); the struct itself
 * is the caller's. */
void protein_param_clear(protein_param *p);

/* Appends one line (printf-formatted) to cfg->warnings: a key that was
 * read but has no effect here (or not as written), for the reader to show
 * the user. Returns
 * 0 or PROTEIN_ENOMEM. */
int protein_config_warn(protein_sweep_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets cfg->name from the base name of file (less its extension) when the
 * config names none, making it a valid sweep name (other characters
 * become '-', cut to PROTEIN_SWEEP_NAME_MAX). line and key locate the error
 * when there is no file name. Returns 0, PROTEIN_ECONFIG or PROTEIN_ENOMEM. */
int protein_config_name_from_file(protein_sweep_config *cfg, const char *file,
                                  int line, const char *key,
                                  protein_error *err);

/* A valid sweep name made of text: characters outside [A-Za-z0-9._-]
 * become '-', cut to PROTEIN_SWEEP_NAME_MAX, into buf (len >
 * PROTEIN_SWEEP_NAME_MAX). Returns 1 when that changed text, 0 when text was
 * valid as it is. */
int protein_slug_name(const char *text, char *buf, size_t len);

/* Parses PufferLib INI text read over base (default.ini, may be NULL) the
 * way configparser's read([base, file]) merges them: a key of text
 * replaces the same key of base, sections and keys of base stay. Errors
 * name the file the offending line is in. As protein_config_parse_ini
 * otherwise. */
int protein_config_parse_ini_over(const char *base, size_t base_len,
                                  const char *base_file, const char *text,
                                  size_t len, const char *filename,
                                  protein_sweep_config **out,
                                  protein_error *err);

/* Validates spec and appends it to cfg->params; a name that another
 * parameter has, or whose PROTEIN_PARAM_ variable another one has, is
 * refused on spec's line. A categorical keeps each distinct choice once
 * (numbers equal as numbers, 1 and 1.0, are one choice), in the order of
 * their first occurrence, with their probabilities added up, and a
 * repeat is named in cfg->warnings (file, line, key). file is for errors. On
 * failure returns PROTEIN_ECONFIG (err names file, line and the dotted key of
 * the offending field) or PROTEIN_ENOMEM; cfg is unchanged then. */
int protein_config_add_param(protein_sweep_config *cfg, const char *file,
                             const protein_param_spec *spec,
                             protein_error *err);

/* Checks what needs the whole config: at least one parameter (else an error
 * on params_line), a grid (method: grid) of no axis too long to enumerate
 * (the parameter's line), cost_param naming a numeric parameter (cost_key
 * and cost_line locate it). Returns 0 or PROTEIN_ECONFIG. */
int protein_config_check(const protein_sweep_config *cfg, const char *file,
                         int params_line, const char *cost_key, int cost_line,
                         protein_error *err);

#endif /* PROTEIN_CONFIG_COMMON_H */
