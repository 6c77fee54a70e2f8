/*
 * config_common.c - what the sweep-config readers share: the config
 * object's life (new, free, warnings), errors that name file, line and
 * key, the sweep name taken from a file name, and the parsers of numbers,
 * integers and booleans and the name rules every format applies alike.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_common.h"

/* Fills err (may be NULL) with where and why; returns PROTEIN_ECONFIG so
 * callers can write `return protein_config_error(...)`. */
int protein_config_error(protein_error *err, const char *file, int line,
                         const char *key, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return PROTEIN_ECONFIG;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    snprintf(err->key, sizeof err->key, "%s", key ? key : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return PROTEIN_ECONFIG;
}

/* A new config with every default; see config_common.h. */
protein_sweep_config *protein_config_new(const char *source)
{
    protein_sweep_config *cfg = calloc(1, sizeof *cfg);

    if (!cfg)
        return NULL;
    cfg->method = PROTEIN_METHOD_PROTEIN;
    cfg->metric = strdup("score");
    cfg->cost_metric = strdup("cost");
    if (!cfg->metric || !cfg->cost_metric ||
        (source && protein_config_set_string(&cfg->source, source))) {
        protein_config_free(cfg);
        return NULL;
    }
    cfg->max_suggestion_cost = 3600.0;
    for (size_t i = 0; i < protein_n_knobs; i++) {
        const protein_knob *k = &protein_knobs[i];
        char *field = (char *)cfg + k->offset;
        if (k->type == PROTEIN_KNOB_DOUBLE)
            *(double *)field = k->def;
        else
            *(int *)field = (int)k->def;
    }
    return cfg;
}

/* Frees what p owns; see config_common.h. */
void protein_param_clear(protein_param *p)
{
    size_t i;

    free(p->name);
    for (i = 0; p->values && i < p->n_values; i++)
        free(p->values[i]);
    free(p->values);
    free(p->numeric_values);
    free(p->value_types);
    free(p->probabilities);
}

/* Frees cfg and everything it owns (names, parameters, choices). NULL is
 * a no-op. */
void protein_config_free(protein_sweep_config *cfg)
{
    size_t i;

    if (!cfg)
        return;
    for (i = 0; i < cfg->n_params; i++)
        protein_param_clear(&cfg->params[i]);
    free(cfg->params);
    free(cfg->name);
    free(cfg->source);
    free(cfg->metric);
    free(cfg->cost_metric);
    free(cfg->cost_param);
    for (i = 0; i < cfg->n_command; i++)
        free(cfg->command[i]);
    free(cfg->command);
    free(cfg->program);
    free(cfg->description);
    free(cfg->project);
    free(cfg->entity);
    free(cfg->warnings);
    free(cfg);
}

/* Appends a warning line; see config_common.h. */
int protein_config_warn(protein_sweep_config *cfg, const char *fmt, ...)
{
    char line[512], *grown;
    size_t have = cfg->warnings ? strlen(cfg->warnings) : 0, n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n = strlen(line);
    grown = realloc(cfg->warnings, have + n + 2);
    if (!grown)
        return PROTEIN_ENOMEM;
    memcpy(grown + have, line, n);
    grown[have + n] = '\n';
    grown[have + n + 1] = '\0';
    cfg->warnings = grown;
    return PROTEIN_OK;
}

/* Slug of a sweep name; see config_common.h. */
int protein_slug_name(const char *text, char *buf, size_t len)
{
    size_t i, n = strlen(text);
    int changed = 0;

    if (n > PROTEIN_SWEEP_NAME_MAX) {
        n = PROTEIN_SWEEP_NAME_MAX;
        changed = 1;
    }
    if (n >= len)
        n = len - 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[i] = isalnum(c) || c == '.' || c == '_' || c == '-' ? (char)c : '-';
        changed |= buf[i] != (char)c;
    }
    buf[n] = '\0';
    return changed;
}

/* Name from the file name; see config_common.h. */
int protein_config_name_from_file(protein_sweep_config *cfg, const char *file,
                                  int line, const char *key, protein_error *err)
{
    const char *base, *dot;
    char stem[PROTEIN_SWEEP_NAME_MAX * 4], name[PROTEIN_SWEEP_NAME_MAX + 1];
    size_t n;

    if (cfg->name)
        return 0;
    if (!file)
        return protein_config_error(
            err, file, line, key, "the sweep has no name; add name: my-sweep");
    base = strrchr(file, '/');
    base = base ? base + 1 : file;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= sizeof stem)
        n = sizeof stem - 1;
    memcpy(stem, base, n);
    stem[n] = '\0';
    protein_slug_name(stem, name, sizeof name);
    if (!protein_sweep_name_valid(name))
        return protein_config_error(err, file, line, key,
                                    "the config has no name and the file name "
                                    "gives none; add name: my-sweep");
    return protein_config_set_string(&cfg->name, name);
}

/* Index of the parameter called name (exact match), or -1 when there is
 * none or cfg/name is NULL. */
int protein_config_find_param(const protein_sweep_config *cfg, const char *name)
{
    size_t i;

    if (!cfg || !name)
        return -1;
    for (i = 0; i < cfg->n_params; i++)
        if (cfg->params[i].name && strcmp(cfg->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* A whole string as a finite double (no leading blanks, no trailing
 * text): 0, or -1 with *out untouched. */
int protein_parse_number(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))
        return -1;
    *out = v;
    return 0;
}

/* Contract in protein.h. */
const char *protein_value_nonfinite_json(const char *text)
{
    if (!text)
        return NULL;
    return strcmp(text, ".inf") == 0    ? "Infinity"
           : strcmp(text, "-.inf") == 0 ? "-Infinity"
           : strcmp(text, ".nan") == 0  ? "NaN"
                                        : NULL;
}

/* A whole string as a base-10 long long: 0, or -1 with *out untouched. */
int protein_parse_integer(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* A whole string of digits (no sign) as a uint64_t: 0, or -1 with *out
 * untouched. */
int protein_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* true/yes/on -> 1, false/no/off -> 0 (any case): 0, or -1 otherwise. */
int protein_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    size_t i;

    if (!s)
        return -1;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Edit distance of two short strings (longer inputs are never close). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t row[65];

    if (la > 64 || lb > 64)
        return (size_t)-1;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (tolower((unsigned char)a[i - 1]) !=
                                  tolower((unsigned char)b[j - 1]));
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known word within a small edit distance of word (or that word
 * abbreviates), as a likely typo fix; NULL when none. */
const char *protein_closest_word(const char *word, const char *const *known)
{
    const char *best = NULL, *prefix = NULL;
    size_t best_d = (size_t)-1, len = strlen(word);

    for (; *known; known++) {
        size_t d = edit_distance(word, *known);
        if (d < best_d) {
            best_d = d;
            best = *known;
        }
        if (!prefix && len >= 3 && strncasecmp(*known, word, len) == 0)
            prefix = *known;
    }
    if (best && (best_d <= 2 || best_d * 3 <= len) && best_d < len)
        return best;
    return prefix;
}

/* 1 when word is exactly one of the NULL-terminated list. */
int protein_in_list(const char *word, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(word, *list) == 0)
            return 1;
    return 0;
}

/* 1 when s is a valid sweep (allow_slash = 0) or parameter name. */
int protein_valid_name(const char *s, size_t max, int allow_slash)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-' &&
            !(allow_slash && c == '/'))
            return 0;
    }
    return n >= 1 && n <= max;
}

/* Contract in protein.h. */
int protein_valid_metric(const char *s)
{
    return s != NULL && protein_metric_name_valid(s, strlen(s));
}

/* Joins prefix and name with a dot into buf (truncating); returns buf. */
const char *protein_config_key(char *buf, size_t len, const char *prefix,
                               const char *name)
{
    int n = snprintf(buf, len, "%s%s%s", prefix, *prefix ? "." : "", name);

    if (n < 0)
        buf[0] = '\0';
    return buf;
}

/* *dst = copy of src, freeing the old value; PROTEIN_ENOMEM leaves *dst. */
int protein_config_set_string(char **dst, const char *src)
{
    char *copy = strdup(src);

    if (!copy)
        return PROTEIN_ENOMEM;
    free(*dst);
    *dst = copy;
    return PROTEIN_OK;
}

/* ------------------------------------------------------------ options */

/* Parses text as a whole number from lo to hi into *out: 0, or
 * PROTEIN_ECONFIG with err naming file, line and key. */
static int option_int(const char *text, long long lo, long long hi,
                      long long *out, const char *file, int line,
                      const char *key, protein_error *err)
{
    if (protein_parse_integer(text, out) != 0 || *out < lo || *out > hi)
        return protein_config_error(
            err, file, line, key,
            "'%s' is not valid; write a whole number from %lld to %lld", text,
            lo, hi);
    return 0;
}

/* Parses text as a finite number in [lo, hi] (lo excluded when lo_open)
 * into *out: 0, or PROTEIN_ECONFIG with err naming file, line and key; *out
 * is untouched then. */
static int option_double(const char *text, double lo, int lo_open, double hi,
                         double *out, const char *file, int line,
                         const char *key, protein_error *err)
{
    double v;

    if (protein_parse_number(text, &v) != 0 || v < lo || (lo_open && v == lo) ||
        v > hi)
        return protein_config_error(
            err, file, line, key,
            "'%s' is not valid; write a number %s %g%s%.17g", text,
            lo_open ? ">" : ">=", lo, hi < 1e300 ? " and <= " : "",
            hi < 1e300 ? hi : 0.0);
    *out = v;
    return 0;
}

#define KNOB_ROW(name, type, lo, hi, def)                                      \
    {#name, KNOB_TYPE_##type, offsetof(protein_sweep_config, name), lo, hi,    \
     def},
#define KNOB_TYPE_int PROTEIN_KNOB_INT
#define KNOB_TYPE_double PROTEIN_KNOB_DOUBLE
#define KNOB_TYPE_bool PROTEIN_KNOB_BOOL

/* Contract in config_common.h. */
const protein_knob protein_knobs[] = {PROTEIN_KNOBS(KNOB_ROW)};
const size_t protein_n_knobs = sizeof protein_knobs / sizeof protein_knobs[0];

/* Sets knob k of cfg from text; 0 or PROTEIN_ECONFIG. */
static int set_knob(protein_sweep_config *cfg, const protein_knob *k,
                    const char *text, const char *file, int line,
                    const char *key, protein_error *err)
{
    char *field = (char *)cfg + k->offset;
    long long v;
    int rc;

    switch (k->type) {
    case PROTEIN_KNOB_BOOL:
        if (protein_parse_bool(text, (int *)field) != 0)
            return protein_config_error(
                err, file, line, key,
                "'%s' is not a boolean; write true or false", text);
        return 0;
    case PROTEIN_KNOB_DOUBLE:
        return option_double(text, k->lo, 0, k->hi, (double *)field, file, line,
                             key, err);
    case PROTEIN_KNOB_INT: break;
    }
    rc = option_int(text, (long long)k->lo, (long long)k->hi, &v, file, line,
                    key, err);
    if (rc == 0)
        *(int *)field = (int)v;
    return rc;
}

/* Sets a scalar sweep option or Protein knob from text after validating
 * it; PROTEIN_ENOTFOUND (err untouched) when opt is not an option. */
int protein_config_set_option(protein_sweep_config *cfg, const char *opt,
                              const char *text, const char *file, int line,
                              const char *key, protein_error *err)
{
    long long v;
    size_t i;
    int rc;

    for (i = 0; i < protein_n_knobs; i++)
        if (strcmp(opt, protein_knobs[i].name) == 0)
            return set_knob(cfg, &protein_knobs[i], text, file, line, key, err);
    if (strcmp(opt, "name") == 0) {
        if (!protein_sweep_name_valid(text))
            return protein_config_error(
                err, file, line, key,
                "sweep name '%s' is invalid; use 1 to %d characters of A-Z a-z "
                "0-9 . _ -, not starting with . or -",
                text, PROTEIN_SWEEP_NAME_MAX);
        return protein_config_set_string(&cfg->name, text);
    }
    if (strcmp(opt, "method") == 0) {
        if (strcasecmp(text, "protein") == 0 || strcasecmp(text, "bayes") == 0)
            cfg->method = PROTEIN_METHOD_PROTEIN;
        else if (strcasecmp(text, "random") == 0)
            cfg->method = PROTEIN_METHOD_RANDOM;
        else if (strcasecmp(text, "grid") == 0)
            cfg->method = PROTEIN_METHOD_GRID;
        else if (strcasecmp(text, "custom") == 0)
            return protein_config_error(
                err, file, line, key,
                "method: custom runs a W&B Launch scheduler, which needs "
                "W&B's servers; write protein (or bayes), random or grid");
        else
            return protein_config_error(err, file, line, key,
                                        "unknown method '%s'; write protein "
                                        "(or W&B's bayes), random or grid",
                                        text);
        return 0;
    }
    if (strcmp(opt, "metric") == 0 || strcmp(opt, "cost") == 0) {
        if (!protein_valid_metric(text))
            return protein_config_error(
                err, file, line, key,
                "'%s' cannot be a result key; use 1 to %d printable "
                "characters without '=' or '#' and no space at either end",
                text, PROTEIN_METRIC_NAME_MAX);
        return protein_config_set_string(
            opt[0] == 'm' ? &cfg->metric : &cfg->cost_metric, text);
    }
    if (strcmp(opt, "goal") == 0) {
        if (strcasecmp(text, "maximize") == 0)
            cfg->minimize = 0;
        else if (strcasecmp(text, "minimize") == 0)
            cfg->minimize = 1;
        else
            return protein_config_error(
                err, file, line, key,
                "unknown goal '%s'; write maximize or minimize", text);
        return 0;
    }
    if (strcmp(opt, "cost_param") == 0)
        return protein_config_set_string(&cfg->cost_param, text);
    if (strcmp(opt, "target") == 0) {
        rc = option_double(text, -1e300, 0, 1e300, &cfg->target, file, line,
                           key, err);
        cfg->has_target = rc == 0;
        return rc;
    }
    if (strcmp(opt, "metric_distribution") == 0) {
        if (strcasecmp(text, "linear") == 0)
            cfg->percentile_metric = 0;
        else if (strcasecmp(text, "percentile") == 0)
            cfg->percentile_metric = 1;
        else
            return protein_config_error(
                err, file, line, key,
                "unknown metric distribution '%s'; write linear or percentile",
                text);
        return 0;
    }
    if (strcmp(opt, "max_trials") == 0) {
        rc = option_int(text, 1, 1000000000, &v, file, line, key, err);
        if (rc == 0)
            cfg->max_trials = (long)v;
        return rc;
    }
    if (strcmp(opt, "max_suggestion_cost") == 0)
        return option_double(text, 0, 1, 1e300, &cfg->max_suggestion_cost, file,
                             line, key, err);
    if (strcmp(opt, "seed") == 0) {
        if (protein_parse_u64(text, &cfg->seed) != 0)
            return protein_config_error(err, file, line, key,
                                        "'%s' is not valid; write a whole "
                                        "number from 0 to 18446744073709551615",
                                        text);
        cfg->has_seed = 1;
        return 0;
    }
    return PROTEIN_ENOTFOUND;
}
