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

/* A config holding every default and nothing else; NULL when out of
 * memory. The caller frees it with protein_config_free(). */
protein_sweep_config *protein_config_new(void)
{
    protein_sweep_config *cfg = calloc(1, sizeof *cfg);

    if (!cfg)
        return NULL;
    cfg->method = PROTEIN_METHOD_PROTEIN;
    cfg->metric = strdup("score");
    cfg->cost_metric = strdup("cost");
    if (!cfg->metric || !cfg->cost_metric) {
        protein_config_free(cfg);
        return NULL;
    }
    cfg->max_suggestion_cost = 3600.0;
    cfg->num_random_samples = 10;
    cfg->suggestions_per_pareto = 256;
    cfg->expansion_rate = 1.0;
    cfg->early_stop_quantile = 0.3;
    cfg->gp_max_obs = 0;
    cfg->gp_training_iter = 50;
    cfg->prune_pareto = 1;
    return cfg;
}

static void param_clear(protein_param *p)
{
    size_t i;

    free(p->name);
    for (i = 0; p->values && i < p->n_values; i++)
        free(p->values[i]);
    free(p->values);
    free(p->numeric_values);
}

/* Frees cfg and everything it owns (names, parameters, choices). NULL is
 * a no-op. */
void protein_config_free(protein_sweep_config *cfg)
{
    size_t i;

    if (!cfg)
        return;
    for (i = 0; i < cfg->n_params; i++)
        param_clear(&cfg->params[i]);
    free(cfg->params);
    free(cfg->name);
    free(cfg->source);
    free(cfg->metric);
    free(cfg->cost_metric);
    free(cfg->cost_param);
    free(cfg);
}

/* Index of the parameter called name (exact match), or -1 when there is
 * none or cfg/name is NULL. */
int protein_config_find_param(const protein_sweep_config *cfg,
                              const char *name)
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
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
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

/* 1 when s can be a key of a PROTEIN_RESULT line. */
int protein_valid_metric(const char *s)
{
    size_t n = 0;

    if (!s)
        return 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c <= ' ' || c >= 0x7f || c == '=' || c == '#')
            return 0;
    }
    return n >= 1 && n <= PROTEIN_METRIC_NAME_MAX;
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

/* ------------------------------------------------------------ parameters */

static const char *const distributions[] = {
    "uniform", "int_uniform", "log_uniform_values", "log_normal",
    "logit_normal", "uniform_pow2", "categorical", "constant", NULL
};

/* The kind a distribution name selects; -1 for categorical/constant words
 * that need values/value, -2 for an unknown name. */
static int distribution_kind(const char *d, int *is_integer)
{
    *is_integer = 0;
    if (strcmp(d, "uniform") == 0)
        return PROTEIN_PARAM_LINEAR;
    if (strcmp(d, "int_uniform") == 0) {
        *is_integer = 1;
        return PROTEIN_PARAM_LINEAR;
    }
    if (strcmp(d, "log_uniform_values") == 0 || strcmp(d, "log_normal") == 0)
        return PROTEIN_PARAM_LOG;
    if (strcmp(d, "logit_normal") == 0)
        return PROTEIN_PARAM_LOGIT;
    if (strcmp(d, "uniform_pow2") == 0) {
        *is_integer = 1;
        return PROTEIN_PARAM_POW2;
    }
    if (strcmp(d, "categorical") == 0)
        return PROTEIN_PARAM_CATEGORICAL;
    if (strcmp(d, "constant") == 0)
        return PROTEIN_PARAM_CONSTANT;
    return -2;
}


static int is_integral(double v)
{
    return v == floor(v) && fabs(v) <= 9007199254740992.0;
}

static int is_pow2(double v)
{
    int e;

    return v >= 1.0 && is_integral(v) && frexp(v, &e) == 0.5;
}

/* Largest power of two <= v (v >= 1). */
static double pow2_below(double v)
{
    int e;

    frexp(v, &e);
    return ldexp(1.0, e - 1);
}

typedef struct spec_ctx {
    const char *file;
    const protein_param_spec *s;
    protein_error *err;
    char key[160];
} spec_ctx;

static int spec_fail(spec_ctx *c, const protein_spec_field *f,
                     const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int spec_fail(spec_ctx *c, const protein_spec_field *f,
                     const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return protein_config_error(
        c->err, c->file, f && f->text ? f->line : c->s->line,
        field ? protein_config_key(c->key, sizeof c->key, c->s->key, field) : c->s->key,
        "%s", msg);
}

static int spec_number(spec_ctx *c, const protein_spec_field *f,
                       const char *field, double *out)
{
    if (protein_parse_number(f->text, out) != 0)
        return spec_fail(c, f, field, "'%s' is not a number; write a value "
                         "such as 0.5, 10 or 1e-4", f->text);
    return 0;
}

/* Rejects a field that the parameter's kind does not use. */
static int spec_unused(spec_ctx *c, const protein_spec_field *f,
                       const char *field, const char *what)
{
    if (!f->text)
        return 0;
    return spec_fail(c, f, field, "%s does not apply to %s; remove it", field,
                     what);
}

static const char *kind_word(protein_param_kind kind)
{
    switch (kind) {
    case PROTEIN_PARAM_LINEAR: return "uniform";
    case PROTEIN_PARAM_LOG: return "log_uniform_values";
    case PROTEIN_PARAM_POW2: return "uniform_pow2";
    case PROTEIN_PARAM_LOGIT: return "logit_normal";
    case PROTEIN_PARAM_CATEGORICAL: return "categorical";
    default: return "constant";
    }
}

/* Kind, integer flag, bounds, scale and default of a numeric parameter. */
static int build_numeric(spec_ctx *c, protein_param *p, const char *dist)
{
    const protein_param_spec *s = c->s;
    int integer;

    if (s->has_values) {
        protein_spec_field values = { "values", s->values_line };
        return spec_fail(c, &values, "values", "values makes a categorical but "
                         "distribution is %s; remove one of them", dist);
    }
    if (s->integer.text) {
        if (p->kind != PROTEIN_PARAM_LINEAR && p->kind != PROTEIN_PARAM_LOG)
            return spec_fail(c, &s->integer, "integer", "integer applies to "
                             "uniform, log_uniform_values and log_normal only; "
                             "remove it (%s is %s)", dist,
                             p->kind == PROTEIN_PARAM_POW2 ? "always an integer"
                                                            : "never an integer");
        if (protein_parse_bool(s->integer.text, &integer) != 0)
            return spec_fail(c, &s->integer, "integer", "'%s' is not a boolean; "
                             "write true or false", s->integer.text);
        if (p->is_integer && !integer)
            return spec_fail(c, &s->integer, "integer", "int_uniform is always "
                             "an integer; use distribution: uniform for floats");
        p->is_integer = p->is_integer || integer;
    }
    if (!s->min.text || !s->max.text)
        return spec_fail(c, NULL, s->min.text ? "max" : "min", "%s is missing; "
                         "a %s parameter needs min and max", s->min.text ? "max"
                         : "min", dist);
    if (spec_number(c, &s->min, "min", &p->min) ||
        spec_number(c, &s->max, "max", &p->max))
        return PROTEIN_ECONFIG;
    if (p->min >= p->max)
        return spec_fail(c, &s->max, "max", "max (%s) must be greater than min "
                         "(%s)", s->max.text, s->min.text);
    if (p->kind == PROTEIN_PARAM_POW2) {
        const protein_spec_field *f = is_pow2(p->min) ? &s->max : &s->min;
        double v = is_pow2(p->min) ? p->max : p->min;
        if (!is_pow2(v)) {
            double lo = v >= 1 ? pow2_below(v) : 1.0;
            return spec_fail(c, f, f == &s->min ? "min" : "max", "uniform_pow2 "
                             "bounds must be powers of two (1, 2, 4, ...); got "
                             "%s, use %.17g or %.17g", f->text, lo,
                             v >= 1 ? 2 * lo : 2.0);
        }
    }
    if (p->is_integer && (!is_integral(p->min) || !is_integral(p->max)))
        return spec_fail(c, is_integral(p->min) ? &s->max : &s->min,
                         is_integral(p->min) ? "max" : "min", "bounds of an "
                         "integer parameter must be whole numbers; got %s",
                         is_integral(p->min) ? s->max.text : s->min.text);
    if ((p->kind == PROTEIN_PARAM_LOG || p->kind == PROTEIN_PARAM_POW2) &&
        p->min <= 0)
        return spec_fail(c, &s->min, "min", "%s needs min > 0 (it works on a "
                         "log scale); got %s", dist, s->min.text);
    if (p->kind == PROTEIN_PARAM_LOGIT && (p->min <= 0 || p->max >= 1))
        return spec_fail(c, p->min <= 0 ? &s->min : &s->max,
                         p->min <= 0 ? "min" : "max", "logit_normal bounds must "
                         "lie strictly between 0 and 1 (it works on log10(1 - "
                         "v)); got %s", p->min <= 0 ? s->min.text : s->max.text);
    p->scale = 0.5;
    if (s->scale.text && strcmp(s->scale.text, "auto") != 0) {
        if (strcmp(s->scale.text, "time") == 0) {
            if (p->kind != PROTEIN_PARAM_LOG)
                return spec_fail(c, &s->scale, "scale", "scale: time needs "
                                 "log_uniform_values or log_normal; use auto or "
                                 "a number for %s", dist);
            p->scale = 1.0 / (log2(p->max) - log2(p->min));
        } else if (protein_parse_number(s->scale.text, &p->scale) != 0 ||
                   p->scale <= 0) {
            return spec_fail(c, &s->scale, "scale", "'%s' is not a valid scale; "
                             "write auto, time or a number > 0", s->scale.text);
        }
    }
    if (s->def.text) {
        if (spec_number(c, &s->def, s->def_key, &p->default_value))
            return PROTEIN_ECONFIG;
        if (p->default_value < p->min || p->default_value > p->max)
            return spec_fail(c, &s->def, s->def_key, "%s %s is outside [%s, %s];"
                             " move it inside the bounds or remove it",
                             s->def_key, s->def.text, s->min.text, s->max.text);
        if (p->is_integer && !is_integral(p->default_value))
            return spec_fail(c, &s->def, s->def_key, "%s %s must be a whole "
                             "number (the parameter is an integer)", s->def_key,
                             s->def.text);
        if (p->kind == PROTEIN_PARAM_POW2 && !is_pow2(p->default_value))
            return spec_fail(c, &s->def, s->def_key, "%s %s must be a power of "
                             "two", s->def_key, s->def.text);
        p->has_default = 1;
    }
    return 0;
}

static int build_categorical(spec_ctx *c, protein_param *p)
{
    const protein_param_spec *s = c->s;
    protein_spec_field values = { "values", s->values_line };
    size_t i, j;

    if (spec_unused(c, &s->min, "min", "a categorical (values)") ||
        spec_unused(c, &s->max, "max", "a categorical (values)") ||
        spec_unused(c, &s->scale, "scale", "a categorical (values)") ||
        spec_unused(c, &s->integer, "integer", "a categorical (values)") ||
        spec_unused(c, &s->value, "value", "a categorical (values); use one "
                    "of them"))
        return PROTEIN_ECONFIG;
    if (s->n_values == 0)
        return spec_fail(c, &values, "values", "values is empty; list at least "
                         "one choice");
    if (s->n_values > PROTEIN_MAX_VALUES)
        return spec_fail(c, &values, "values", "%zu choices is too many (at most"
                         " %d)", s->n_values, PROTEIN_MAX_VALUES);
    for (i = 0; i < s->n_values; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(s->values[i], s->values[j]) == 0) {
                protein_spec_field f = { s->values[i], s->value_lines[i] };
                return spec_fail(c, &f, "values", "choice '%s' is listed twice;"
                                 " remove the duplicate", s->values[i]);
            }
        }
    }
    p->values = calloc(s->n_values, sizeof *p->values);
    p->numeric_values = calloc(s->n_values, sizeof *p->numeric_values);
    if (!p->values || !p->numeric_values)
        return PROTEIN_ENOMEM;
    p->n_values = s->n_values;
    for (i = 0; i < s->n_values; i++) {
        if (!(p->values[i] = strdup(s->values[i])))
            return PROTEIN_ENOMEM;
        if (protein_parse_number(s->values[i], &p->numeric_values[i]) != 0)
            p->numeric_values[i] = NAN;
    }
    p->min = 0;
    p->max = (double)(s->n_values - 1);
    p->scale = 0.5;
    if (s->def.text) {
        double dv;
        int numeric = protein_parse_number(s->def.text, &dv) == 0;
        for (i = 0; i < p->n_values; i++)
            if (strcmp(p->values[i], s->def.text) == 0)
                break;
        for (j = 0; i == p->n_values && numeric && j < p->n_values; j++)
            if (p->numeric_values[j] == dv)
                i = j;
        if (i == p->n_values)
            return spec_fail(c, &s->def, s->def_key, "%s '%s' is not one of the "
                             "values; pick one of them or remove it",
                             s->def_key, s->def.text);
        p->has_default = 1;
        p->default_value = (double)i;
    }
    return 0;
}

static int build_constant(spec_ctx *c, protein_param *p)
{
    const protein_param_spec *s = c->s;
    const char *what = "a constant (value)";

    if (spec_unused(c, &s->min, "min", what) ||
        spec_unused(c, &s->max, "max", what) ||
        spec_unused(c, &s->scale, "scale", what) ||
        spec_unused(c, &s->integer, "integer", what) ||
        spec_unused(c, &s->def, s->def_key, what))
        return PROTEIN_ECONFIG;
    p->values = calloc(1, sizeof *p->values);
    p->numeric_values = calloc(1, sizeof *p->numeric_values);
    if (!p->values || !p->numeric_values || !(p->values[0] = strdup(s->value.text)))
        return PROTEIN_ENOMEM;
    p->n_values = 1;
    if (protein_parse_number(s->value.text, &p->numeric_values[0]) != 0)
        p->numeric_values[0] = NAN;
    p->has_default = 1;
    p->default_value = isnan(p->numeric_values[0]) ? 0.0 : p->numeric_values[0];
    p->min = p->max = p->default_value;
    p->scale = 0;
    return 0;
}

/* Decides the kind from distribution / values / value. */
static int spec_kind(spec_ctx *c, protein_param *p)
{
    const protein_param_spec *s = c->s;
    const char *d = s->distribution.text;
    int kind;

    if (!d) {
        if (s->value.text && s->has_values)
            return spec_fail(c, &s->value, "value", "give either value (a "
                             "constant) or values (choices), not both");
        if (s->value.text)
            return PROTEIN_PARAM_CONSTANT;
        if (s->has_values)
            return PROTEIN_PARAM_CATEGORICAL;
        return spec_fail(c, NULL, NULL, "parameter '%s' needs a distribution "
                         "with min and max, a values list or a value", s->name);
    }
    kind = distribution_kind(d, &p->is_integer);
    if (kind == -2) {
        const char *near = strcmp(d, "log_uniform") == 0 ? NULL
                           : protein_closest_word(d, distributions);
        if (strcmp(d, "log_uniform") == 0)
            return spec_fail(c, &s->distribution, "distribution", "log_uniform "
                             "takes natural-log bounds in W&B; write "
                             "log_uniform_values with the real bounds");
        return spec_fail(c, &s->distribution, "distribution", "unknown "
                         "distribution '%s'%s%s%s; use uniform, int_uniform, "
                         "log_uniform_values, log_normal, logit_normal, "
                         "uniform_pow2, categorical or constant", d,
                         near ? " (did you mean '" : "", near ? near : "",
                         near ? "'?)" : "");
    }
    if (s->value.text && kind != PROTEIN_PARAM_CONSTANT)
        return spec_fail(c, &s->value, "value", "value makes a constant but "
                         "distribution is %s; remove one of them", d);
    if (kind == PROTEIN_PARAM_CONSTANT && !s->value.text)
        return spec_fail(c, &s->distribution, "distribution", "distribution: "
                         "constant needs value: x");
    if (kind == PROTEIN_PARAM_CATEGORICAL && !s->has_values)
        return spec_fail(c, &s->distribution, "distribution", "distribution: "
                         "categorical needs values: [...]");
    return kind;
}

/* Validates one parameter spec and appends it to cfg (which owns the copy).
 * PROTEIN_ECONFIG names the file, line and dotted key of the bad field;
 * cfg is unchanged on any failure. */
int protein_config_add_param(protein_sweep_config *cfg, const char *file,
                             const protein_param_spec *spec,
                             protein_error *err)
{
    spec_ctx c = { file, spec, err, "" };
    protein_param p;
    protein_param *grown;
    int kind, rc, other;

    memset(&p, 0, sizeof p);
    if (!protein_valid_name(spec->name, PROTEIN_PARAM_NAME_MAX, 1))
        return spec_fail(&c, NULL, NULL, "parameter name '%s' is invalid; use "
                         "1 to %d characters of A-Z a-z 0-9 . _ - /",
                         spec->name, PROTEIN_PARAM_NAME_MAX);
    other = protein_config_find_param(cfg, spec->name);
    if (other >= 0)
        return spec_fail(&c, NULL, NULL, "parameter '%s' is defined twice (also"
                         " on line %d); rename or remove one", spec->name,
                         cfg->params[other].line);
    if (cfg->n_params >= PROTEIN_MAX_PARAMS)
        return spec_fail(&c, NULL, NULL, "too many parameters (at most %d)",
                         PROTEIN_MAX_PARAMS);
    kind = spec_kind(&c, &p);
    if (kind < 0)
        return kind;
    p.kind = (protein_param_kind)kind;
    p.line = spec->line;
    if (p.kind == PROTEIN_PARAM_CATEGORICAL)
        rc = build_categorical(&c, &p);
    else if (p.kind == PROTEIN_PARAM_CONSTANT)
        rc = build_constant(&c, &p);
    else
        rc = build_numeric(&c, &p, spec->distribution.text);
    if (rc != 0)
        goto fail;
    rc = PROTEIN_ENOMEM;
    if (!(p.name = strdup(spec->name)))
        goto fail;
    grown = realloc(cfg->params, (cfg->n_params + 1) * sizeof *grown);
    if (!grown)
        goto fail;
    cfg->params = grown;
    cfg->params[cfg->n_params++] = p;
    return PROTEIN_OK;
fail:
    param_clear(&p);
    return rc;
}

/* Whole-config checks after all parameters are in: at least one, and a
 * cost_param that names a numeric one. 0 or PROTEIN_ECONFIG. */
int protein_config_check(const protein_sweep_config *cfg, const char *file,
                         int params_line, const char *cost_key, int cost_line,
                         protein_error *err)
{
    int i;

    if (cfg->n_params == 0)
        return protein_config_error(err, file, params_line, "parameters",
                                    "no parameters to sweep; add at least one");
    if (!cfg->cost_param)
        return PROTEIN_OK;
    i = protein_config_find_param(cfg, cfg->cost_param);
    if (i < 0)
        return protein_config_error(err, file, cost_line, cost_key, "cost "
                                    "parameter '%s' is not a parameter of this "
                                    "sweep; name one of them or remove it",
                                    cfg->cost_param);
    if (cfg->params[i].kind == PROTEIN_PARAM_CATEGORICAL ||
        cfg->params[i].kind == PROTEIN_PARAM_CONSTANT)
        return protein_config_error(err, file, cost_line, cost_key, "cost "
                                    "parameter '%s' must be numeric (a "
                                    "distribution with min and max), not %s",
                                    cfg->cost_param,
                                    kind_word(cfg->params[i].kind));
    return PROTEIN_OK;
}

/* ------------------------------------------------------------ options */

static int option_int(const char *text, long long lo, long long hi,
                      long long *out, const char *file, int line,
                      const char *key, protein_error *err)
{
    if (protein_parse_integer(text, out) != 0 || *out < lo || *out > hi)
        return protein_config_error(err, file, line, key, "'%s' is not valid; "
                                    "write a whole number from %lld to %lld",
                                    text, lo, hi);
    return 0;
}

static int option_double(const char *text, double lo, int lo_open, double hi,
                         double *out, const char *file, int line,
                         const char *key, protein_error *err)
{
    double v;

    if (protein_parse_number(text, &v) != 0 || v < lo || (lo_open && v == lo) ||
        v > hi)
        return protein_config_error(err, file, line, key, "'%s' is not valid; "
                                    "write a number %s %g%s%.17g", text,
                                    lo_open ? ">" : ">=", lo,
                                    hi < 1e300 ? " and <= " : "",
                                    hi < 1e300 ? hi : 0.0);
    *out = v;
    return 0;
}

/* The integer knobs: name, field offset, range. */
typedef struct int_knob {
    const char *name;
    size_t offset;
    long long lo, hi;
} int_knob;

static const int_knob int_knobs[] = {
    { "num_random_samples", offsetof(protein_sweep_config, num_random_samples), 0, 1000000 },
    { "suggestions_per_pareto", offsetof(protein_sweep_config, suggestions_per_pareto), 1, 65536 },
    { "gp_max_obs", offsetof(protein_sweep_config, gp_max_obs), 0, 10000000 },
    { "gp_training_iter", offsetof(protein_sweep_config, gp_training_iter), 0, 100000 },
};

/* Sets a scalar sweep option or Protein knob from text after validating
 * it; PROTEIN_ENOTFOUND (err untouched) when opt is not an option. */
int protein_config_set_option(protein_sweep_config *cfg, const char *opt,
                              const char *text, const char *file, int line,
                              const char *key, protein_error *err)
{
    long long v;
    size_t i;
    int rc;

    for (i = 0; i < sizeof int_knobs / sizeof int_knobs[0]; i++) {
        if (strcmp(opt, int_knobs[i].name) == 0) {
            rc = option_int(text, int_knobs[i].lo, int_knobs[i].hi, &v, file,
                            line, key, err);
            if (rc == 0)
                *(int *)((char *)cfg + int_knobs[i].offset) = (int)v;
            return rc;
        }
    }
    if (strcmp(opt, "name") == 0) {
        if (!protein_valid_name(text, PROTEIN_NAME_MAX, 0))
            return protein_config_error(err, file, line, key, "sweep name '%s' "
                                        "is invalid; use 1 to %d characters of "
                                        "A-Z a-z 0-9 . _ -", text,
                                        PROTEIN_NAME_MAX);
        return protein_config_set_string(&cfg->name, text);
    }
    if (strcmp(opt, "method") == 0) {
        if (strcasecmp(text, "protein") == 0 || strcasecmp(text, "bayes") == 0)
            cfg->method = PROTEIN_METHOD_PROTEIN;
        else if (strcasecmp(text, "random") == 0)
            cfg->method = PROTEIN_METHOD_RANDOM;
        else if (strcasecmp(text, "grid") == 0)
            cfg->method = PROTEIN_METHOD_GRID;
        else
            return protein_config_error(err, file, line, key, "unknown method "
                                        "'%s'; write protein, random or grid",
                                        text);
        return 0;
    }
    if (strcmp(opt, "metric") == 0 || strcmp(opt, "cost") == 0) {
        if (!protein_valid_metric(text))
            return protein_config_error(err, file, line, key, "'%s' cannot be a"
                                        " result key; use 1 to %d characters "
                                        "without spaces, '=' or '#'", text,
                                        PROTEIN_METRIC_NAME_MAX);
        return protein_config_set_string(opt[0] == 'm' ? &cfg->metric
                                                       : &cfg->cost_metric,
                                         text);
    }
    if (strcmp(opt, "goal") == 0) {
        if (strcasecmp(text, "maximize") == 0)
            cfg->minimize = 0;
        else if (strcasecmp(text, "minimize") == 0)
            cfg->minimize = 1;
        else
            return protein_config_error(err, file, line, key, "unknown goal "
                                        "'%s'; write maximize or minimize",
                                        text);
        return 0;
    }
    if (strcmp(opt, "cost_param") == 0)
        return protein_config_set_string(&cfg->cost_param, text);
    if (strcmp(opt, "max_trials") == 0) {
        rc = option_int(text, 1, 1000000000, &v, file, line, key, err);
        if (rc == 0)
            cfg->max_trials = (long)v;
        return rc;
    }
    if (strcmp(opt, "max_suggestion_cost") == 0)
        return option_double(text, 0, 1, 1e300, &cfg->max_suggestion_cost, file,
                             line, key, err);
    if (strcmp(opt, "expansion_rate") == 0)
        return option_double(text, 0, 0, 10, &cfg->expansion_rate, file, line,
                             key, err);
    if (strcmp(opt, "early_stop_quantile") == 0)
        return option_double(text, 0, 0, 1, &cfg->early_stop_quantile, file,
                             line, key, err);
    if (strcmp(opt, "prune_pareto") == 0) {
        if (protein_parse_bool(text, &cfg->prune_pareto) != 0)
            return protein_config_error(err, file, line, key, "'%s' is not a "
                                        "boolean; write true or false", text);
        return 0;
    }
    if (strcmp(opt, "seed") == 0) {
        if (protein_parse_u64(text, &cfg->seed) != 0)
            return protein_config_error(err, file, line, key, "'%s' is not "
                                        "valid; write a whole number from 0 to "
                                        "18446744073709551615", text);
        cfg->has_seed = 1;
        return 0;
    }
    return PROTEIN_ENOTFOUND;
}
