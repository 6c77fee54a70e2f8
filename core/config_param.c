#include "config.h"

/*
 * config_param.c - the parameter builders shared by the sweep-config
 * readers: a parameter spec as read from YAML or INI is checked field by
 * field (distribution, bounds, scale, choices, default) and turned into a
 * protein_param; errors name the file, line and dotted key.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_common.h"
#include "internal.h"

/* Largest bound magnitude of a numeric parameter: far enough below
 * DBL_MAX that the range's width and points in it stay finite. */
#define BOUND_MAX 1e300
/* Largest bound magnitude of an integer parameter: 2^53, below which
 * every whole number is exact as a double. */
#define INTEGER_BOUND_MAX 9007199254740992.0

/* How a distribution is read: the kind it selects and its fields. */
typedef enum bounds_form {
    NO_BOUNDS,    /* mu/sigma or a/b instead of min/max */
    VALUE_BOUNDS, /* min and max are values */
    LN_BOUNDS,    /* W&B log_uniform: min and max are natural logs */
    INV_LN_BOUNDS /* W&B inv_log_uniform: v = exp(-x), x in [min, max] */
} bounds_form;

typedef struct dist_info {
    const char *name;
    int kind;      /* protein_param_kind */
    int integer;   /* always an integer */
    int quantized; /* takes q (default 1) */
    bounds_form bounds;
} dist_info;

static const dist_info dists[] = {
    {"uniform", PROTEIN_PARAM_LINEAR, 0, 0, VALUE_BOUNDS},
    {"int_uniform", PROTEIN_PARAM_LINEAR, 1, 0, VALUE_BOUNDS},
    {"q_uniform", PROTEIN_PARAM_LINEAR, 0, 1, VALUE_BOUNDS},
    {"log_uniform_values", PROTEIN_PARAM_LOG, 0, 0, VALUE_BOUNDS},
    {"log_uniform", PROTEIN_PARAM_LOG, 0, 0, LN_BOUNDS},
    {"q_log_uniform", PROTEIN_PARAM_LOG, 0, 1, LN_BOUNDS},
    {"q_log_uniform_values", PROTEIN_PARAM_LOG, 0, 1, VALUE_BOUNDS},
    {"inv_log_uniform", PROTEIN_PARAM_LOG, 0, 0, INV_LN_BOUNDS},
    {"inv_log_uniform_values", PROTEIN_PARAM_LOG, 0, 0, VALUE_BOUNDS},
    {"normal", PROTEIN_PARAM_NORMAL, 0, 0, NO_BOUNDS},
    {"q_normal", PROTEIN_PARAM_NORMAL, 0, 1, NO_BOUNDS},
    {"log_normal", PROTEIN_PARAM_LOGNORMAL, 0, 0, NO_BOUNDS},
    {"q_log_normal", PROTEIN_PARAM_LOGNORMAL, 0, 1, NO_BOUNDS},
    {"beta", PROTEIN_PARAM_BETA, 0, 0, NO_BOUNDS},
    {"q_beta", PROTEIN_PARAM_BETA, 0, 1, NO_BOUNDS},
    {"logit_normal", PROTEIN_PARAM_LOGIT, 0, 0, VALUE_BOUNDS},
    {"uniform_pow2", PROTEIN_PARAM_POW2, 1, 0, VALUE_BOUNDS},
    {"categorical", PROTEIN_PARAM_CATEGORICAL, 0, 0, NO_BOUNDS},
    {"categorical_w_probabilities", PROTEIN_PARAM_CATEGORICAL, 0, 0, NO_BOUNDS},
    {"constant", PROTEIN_PARAM_CONSTANT, 0, 0, NO_BOUNDS},
};

/* Protein's log_normal (PufferLib's: min and max, searched in log10) is
 * W&B's log_normal when the spec gives mu or sigma, or no bounds at all. */
static const dist_info protein_log_normal = {"log_normal", PROTEIN_PARAM_LOG, 0,
                                             0, VALUE_BOUNDS};

/* The distribution called d for spec s, or NULL. */
static const dist_info *find_distribution(const char *d,
                                          const protein_param_spec *s)
{
    size_t i;

    if (strcmp(d, "log_normal") == 0 && !s->mu.text && !s->sigma.text &&
        (s->min.text || s->max.text))
        return &protein_log_normal;
    for (i = 0; i < sizeof dists / sizeof dists[0]; i++)
        if (strcmp(d, dists[i].name) == 0)
            return &dists[i];
    return NULL;
}

static const char *const distribution_names[] = {"uniform",
                                                 "int_uniform",
                                                 "q_uniform",
                                                 "log_uniform_values",
                                                 "log_uniform",
                                                 "q_log_uniform",
                                                 "q_log_uniform_values",
                                                 "inv_log_uniform",
                                                 "inv_log_uniform_values",
                                                 "normal",
                                                 "q_normal",
                                                 "log_normal",
                                                 "q_log_normal",
                                                 "beta",
                                                 "q_beta",
                                                 "logit_normal",
                                                 "uniform_pow2",
                                                 "categorical",
                                                 "constant",
                                                 NULL};

/* 1 when v is a whole number a double holds exactly (|v| <= 2^53). */
static int is_integral(double v)
{
    return v == floor(v) && fabs(v) <= 9007199254740992.0;
}

/* 1 when v is a power of two, 1 included. */
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
    char note[512]; /* a warning for cfg once the parameter is in, or "" */
} spec_ctx;

/* Formats a message about the field `field` of c's parameter (NULL: the
 * parameter as a whole) into c->err, at f's line when f was given and set,
 * else the parameter's line. Returns PROTEIN_ECONFIG (what
 * protein_config_error returns). */
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
        field ? protein_config_key(c->key, sizeof c->key, c->s->key, field)
              : c->s->key,
        "%s", msg);
}

/* Parses field f (named `field`) as a number into *out: 0, or an error
 * through spec_fail. */
static int spec_number(spec_ctx *c, const protein_spec_field *f,
                       const char *field, double *out)
{
    if (protein_parse_number(f->text, out) != 0)
        return spec_fail(
            c, f, field,
            "'%s' is not a number; write a value such as 0.5, 10 or 1e-4",
            f->text);
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

/* The distribution name a parameter of this kind is written with, for
 * messages. */
static const char *kind_word(protein_param_kind kind)
{
    switch (kind) {
    case PROTEIN_PARAM_LINEAR: return "uniform";
    case PROTEIN_PARAM_LOG: return "log_uniform_values";
    case PROTEIN_PARAM_POW2: return "uniform_pow2";
    case PROTEIN_PARAM_LOGIT: return "logit_normal";
    case PROTEIN_PARAM_CATEGORICAL: return "categorical";
    case PROTEIN_PARAM_NORMAL: return "normal";
    case PROTEIN_PARAM_LOGNORMAL: return "log_normal";
    case PROTEIN_PARAM_BETA: return "beta";
    default: return "constant";
    }
}

/* mu/sigma (normal, log-normal) or a/b (beta) of a W&B distribution
 * without bounds; its searched range is the quantiles LO..HI. */
static int build_shape(spec_ctx *c, protein_param *p, const char *dist)
{
    const protein_param_spec *s = c->s;
    int beta = p->kind == PROTEIN_PARAM_BETA;
    const protein_spec_field *f1 = beta ? &s->a : &s->mu;
    const protein_spec_field *f2 = beta ? &s->b : &s->sigma;
    const char *n1 = beta ? "a" : "mu", *n2 = beta ? "b" : "sigma";
    char what[64];

    snprintf(what, sizeof what, "%s (it takes %s and %s)", dist, n1, n2);
    if (spec_unused(c, &s->min, "min", what) ||
        spec_unused(c, &s->max, "max", what) ||
        spec_unused(c, beta ? &s->mu : &s->a, beta ? "mu" : "a", what) ||
        spec_unused(c, beta ? &s->sigma : &s->b, beta ? "sigma" : "b", what))
        return PROTEIN_ECONFIG;
    p->mu = beta ? 1.0 : 0.0;
    p->sigma = 1.0;
    if ((f1->text && spec_number(c, f1, n1, &p->mu)) ||
        (f2->text && spec_number(c, f2, n2, &p->sigma)))
        return PROTEIN_ECONFIG;
    if (beta && p->mu <= 0)
        return spec_fail(c, f1, n1, "a must be > 0; got %s", f1->text);
    if (p->sigma <= 0)
        return spec_fail(c, f2, n2, "%s must be > 0; got %s", n2, f2->text);
    p->min = protein_distribution_quantile(p, PROTEIN_QUANTILE_LO);
    p->max = protein_distribution_quantile(p, PROTEIN_QUANTILE_HI);
    if (!isfinite(p->min) || !isfinite(p->max) || p->min >= p->max)
        return spec_fail(c, f2, n2, "%s %s and %s %s give no range to search",
                         n1, f1->text ? f1->text : "(default)", n2,
                         f2->text ? f2->text : "(default)");
    return 0;
}

/* min and max of a bounded distribution, after W&B's natural-log forms. */
static int build_bounds(spec_ctx *c, protein_param *p, const dist_info *di)
{
    const protein_param_spec *s = c->s;
    double lo, hi;

    if (spec_unused(c, &s->mu, "mu", di->name) ||
        spec_unused(c, &s->sigma, "sigma", di->name) ||
        spec_unused(c, &s->a, "a", di->name) ||
        spec_unused(c, &s->b, "b", di->name))
        return PROTEIN_ECONFIG;
    if (!s->min.text || !s->max.text)
        return spec_fail(c, NULL, s->min.text ? "max" : "min",
                         "%s is missing; a %s parameter needs min and max",
                         s->min.text ? "max" : "min", di->name);
    if (spec_number(c, &s->min, "min", &lo) ||
        spec_number(c, &s->max, "max", &hi))
        return PROTEIN_ECONFIG;
    if (lo >= hi)
        return spec_fail(c, &s->max, "max",
                         "max (%s) must be greater than min (%s)", s->max.text,
                         s->min.text);
    if (di->bounds == LN_BOUNDS) {
        /* W&B's classic mistake: the values written where their logs go
         * (min: 0.0001, max: 0.1 searches 1.0001 to 1.105). Both bounds
         * in (0, 1) are almost never meant as exponents. */
        if (lo > 0 && hi < 1)
            snprintf(c->note, sizeof c->note,
                     "%s:%d: %s: %s takes natural logs of the bounds (W&B): "
                     "this searches exp(%s) to exp(%s), %.6g to %.6g; for "
                     "values from %s to %s write %s_values",
                     c->file ? c->file : "", s->line,
                     protein_config_key(c->key, sizeof c->key, s->key,
                                        "distribution"),
                     di->name, s->min.text, s->max.text, exp(lo), exp(hi),
                     s->min.text, s->max.text, di->name);
        lo = exp(lo);
        hi = exp(hi);
    } else if (di->bounds == INV_LN_BOUNDS) {
        double t = exp(-hi);
        hi = exp(-lo);
        lo = t;
    }
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi) ||
        (di->bounds != VALUE_BOUNDS && lo <= 0))
        return spec_fail(
            c, &s->max, "max",
            "%s takes natural-log bounds (W&B): exp(%s) to exp(%s) is no range "
            "of positive numbers; for the values themselves write %s_values",
            di->name, s->min.text, s->max.text, di->name);
    p->min = lo;
    p->max = hi;
    return 0;
}

/* Refuses a range that arithmetic on would overflow (bounds beyond
 * +-BOUND_MAX) or, for an integer, that a double cannot hold exactly
 * (beyond +-2^53), naming the field that gave it. */
static int check_range(spec_ctx *c, const protein_param *p, const dist_info *di)
{
    const protein_param_spec *s = c->s;
    double limit = p->is_integer ? INTEGER_BOUND_MAX : BOUND_MAX;
    const char *within =
        p->is_integer
            ? "-2^53 and 2^53 (9007199254740992) for an integer parameter, "
              "where every whole number is exact"
            : "-1e300 and 1e300 (a wider range would overflow to inf)";
    const protein_spec_field *f;

    if (fabs(p->min) <= limit && fabs(p->max) <= limit)
        return 0;
    if (di->bounds == NO_BOUNDS) {
        f = p->kind == PROTEIN_PARAM_BETA ? &s->a : &s->mu;
        return spec_fail(c, f->text ? f : NULL,
                         p->kind == PROTEIN_PARAM_BETA ? "a" : "mu",
                         "the range %g to %g that %s gives is too large: it "
                         "must lie within %s",
                         p->min, p->max, di->name, within);
    }
    f = fabs(p->min) > limit ? &s->min : &s->max;
    return spec_fail(c, f, f == &s->min ? "min" : "max",
                     "%s is too large: bounds must lie within %s", f->text,
                     within);
}

/* Kind, integer flag, bounds, quantum, scale and default of a numeric
 * parameter. */
static int build_numeric(spec_ctx *c, protein_param *p, const dist_info *di)
{
    const protein_param_spec *s = c->s;
    const char *dist = di->name;
    long long qi;
    int integer, rc;

    if (s->has_values) {
        protein_spec_field values = {"values", s->values_line};
        return spec_fail(c, &values, "values",
                         "values makes a categorical but distribution is %s; "
                         "remove one of them",
                         dist);
    }
    if (s->has_probabilities) {
        protein_spec_field f = {"probabilities", s->probabilities_line};
        return spec_fail(
            c, &f, "probabilities",
            "probabilities apply to values (a categorical) only; remove them");
    }
    if (s->q.text) {
        if (!di->quantized)
            return spec_fail(
                c, &s->q, "q",
                "q applies to the q_* distributions; write q_%s or remove q",
                dist);
        if (spec_number(c, &s->q, "q", &p->q))
            return PROTEIN_ECONFIG;
        if (!(p->q > 0))
            return spec_fail(c, &s->q, "q", "q must be > 0; got %s", s->q.text);
        /* W&B returns integers when q is written as one */
        p->is_integer = protein_parse_integer(s->q.text, &qi) == 0;
    } else if (di->quantized) {
        p->q = 1.0;
    }
    if (s->integer.text) {
        if (p->kind == PROTEIN_PARAM_POW2 || p->kind == PROTEIN_PARAM_LOGIT)
            return spec_fail(
                c, &s->integer, "integer",
                "integer does not apply to %s; remove it (%s is %s)", dist,
                dist,
                p->kind == PROTEIN_PARAM_POW2 ? "always an integer"
                                              : "never an integer");
        if (protein_parse_bool(s->integer.text, &integer) != 0)
            return spec_fail(c, &s->integer, "integer",
                             "'%s' is not a boolean; write true or false",
                             s->integer.text);
        if (di->integer && !integer)
            return spec_fail(c, &s->integer, "integer",
                             "int_uniform is always an integer; use "
                             "distribution: uniform for floats");
        p->is_integer = integer;
    }
    p->is_integer = p->is_integer || di->integer;
    rc = di->bounds == NO_BOUNDS ? build_shape(c, p, dist)
                                 : build_bounds(c, p, di);
    if (rc || (rc = check_range(c, p, di)))
        return rc;
    if (p->kind == PROTEIN_PARAM_POW2) {
        const protein_spec_field *f = is_pow2(p->min) ? &s->max : &s->min;
        double v = is_pow2(p->min) ? p->max : p->min;
        if (!is_pow2(v)) {
            double lo = v >= 1 ? pow2_below(v) : 1.0;
            return spec_fail(c, f, f == &s->min ? "min" : "max",
                             "uniform_pow2 bounds must be powers of two (1, 2, "
                             "4, ...); got %s, use %.17g or %.17g",
                             f->text, lo, v >= 1 ? 2 * lo : 2.0);
        }
    }
    if (p->is_integer && !p->q && di->bounds == VALUE_BOUNDS &&
        (!is_integral(p->min) || !is_integral(p->max)))
        return spec_fail(
            c, is_integral(p->min) ? &s->max : &s->min,
            is_integral(p->min) ? "max" : "min",
            "bounds of an integer parameter must be whole numbers; got %s",
            is_integral(p->min) ? s->max.text : s->min.text);
    if ((p->kind == PROTEIN_PARAM_LOG || p->kind == PROTEIN_PARAM_POW2) &&
        p->min <= 0)
        return spec_fail(c, &s->min, "min",
                         "%s needs min > 0 (it works on a log scale); got %s",
                         dist, s->min.text);
    if (p->kind == PROTEIN_PARAM_LOGIT && (p->min <= 0 || p->max >= 1))
        return spec_fail(c, p->min <= 0 ? &s->min : &s->max,
                         p->min <= 0 ? "min" : "max",
                         "logit_normal bounds must lie strictly between 0 and "
                         "1 (it works on log10(1 - v)); got %s",
                         p->min <= 0 ? s->min.text : s->max.text);
    p->scale = 0.5;
    if (s->scale.text && strcmp(s->scale.text, "auto") != 0) {
        if (strcmp(s->scale.text, "time") == 0) {
            if (p->kind != PROTEIN_PARAM_LOG)
                return spec_fail(c, &s->scale, "scale",
                                 "scale: time needs log_uniform_values or "
                                 "log_normal; use auto or a number for %s",
                                 dist);
            p->scale = 1.0 / (log2(p->max) - log2(p->min));
        } else if (protein_parse_number(s->scale.text, &p->scale) != 0 ||
                   p->scale <= 0) {
            return spec_fail(
                c, &s->scale, "scale",
                "'%s' is not a valid scale; write auto, time or a number > 0",
                s->scale.text);
        }
    }
    if (s->def.text) {
        if (spec_number(c, &s->def, s->def_key, &p->default_value))
            return PROTEIN_ECONFIG;
        if (p->default_value < p->min || p->default_value > p->max)
            return spec_fail(c, &s->def, s->def_key,
                             "%s %s is outside [%.17g, %.17g]; move it inside "
                             "the bounds or remove it",
                             s->def_key, s->def.text, p->min, p->max);
        if (p->is_integer && !is_integral(p->default_value))
            return spec_fail(
                c, &s->def, s->def_key,
                "%s %s must be a whole number (the parameter is an integer)",
                s->def_key, s->def.text);
        if (p->kind == PROTEIN_PARAM_POW2 && !is_pow2(p->default_value))
            return spec_fail(c, &s->def, s->def_key,
                             "%s %s must be a power of two", s->def_key,
                             s->def.text);
        p->has_default = 1;
    }
    return 0;
}

/* Rejects the W&B distribution fields on a categorical or constant. */
static int shape_unused(spec_ctx *c, const char *what)
{
    const protein_param_spec *s = c->s;

    return spec_unused(c, &s->mu, "mu", what) ||
           spec_unused(c, &s->sigma, "sigma", what) ||
           spec_unused(c, &s->a, "a", what) ||
           spec_unused(c, &s->b, "b", what) || spec_unused(c, &s->q, "q", what);
}

/* Copies the W&B probabilities of the choices, normalized to sum 1: one
 * per choice as written, a repeated choice's added to the one kept
 * (keep[i] is choice i's index among the n kept). */
static int build_probabilities(spec_ctx *c, protein_param *p,
                               const size_t *keep, size_t n)
{
    const protein_param_spec *s = c->s;
    protein_spec_field f = {"probabilities", s->probabilities_line};
    double sum = 0, v;
    size_t i;

    if (s->n_probabilities != s->n_values)
        return spec_fail(c, &f, "probabilities",
                         "%zu probabilities for %zu values; give one per value",
                         s->n_probabilities, s->n_values);
    p->probabilities = calloc(n, sizeof *p->probabilities);
    if (!p->probabilities)
        return PROTEIN_ENOMEM;
    for (i = 0; i < s->n_values; i++) {
        if (protein_parse_number(s->probabilities[i], &v) || v < 0)
            return spec_fail(c, &f, "probabilities",
                             "'%s' is not a probability; write numbers >= 0",
                             s->probabilities[i]);
        p->probabilities[keep[i]] += v;
        sum += v;
    }
    if (!(sum > 0))
        return spec_fail(c, &f, "probabilities",
                         "the probabilities sum to 0; give at least one > 0");
    for (i = 0; i < n; i++)
        p->probabilities[i] /= sum;
    return 0;
}

/* The number choice i of s stands for, into *out: a number, or a string
 * written unquoted that reads as one (YAML 1.1, as PyYAML, reads 1e-3 as a
 * string). 0 on success, -1 for any other choice. */
static int choice_number(const protein_param_spec *s, size_t i, double *out)
{
    int type = s->value_types ? s->value_types[i] : PROTEIN_VALUE_STRING;

    if (type != PROTEIN_VALUE_NUMBER &&
        (type != PROTEIN_VALUE_STRING ||
         (s->value_plain && !s->value_plain[i])))
        return -1;
    return protein_parse_number(s->values[i], out);
}

/* 1 when choices i and j of s are one choice: written the same and of one
 * type, or numbers (choice_number) of equal value (1 and 1.0). */
static int same_choice(const protein_param_spec *s, size_t i, size_t j)
{
    double a, b;

    if (strcmp(s->values[i], s->values[j]) == 0 &&
        (!s->value_types || s->value_types[i] == s->value_types[j]))
        return 1;
    return choice_number(s, i, &a) == 0 && choice_number(s, j, &b) == 0 &&
           a == b;
}

/* Sets keep[i] to the index choice i of c->s keeps among the distinct
 * choices (each kept at its first occurrence, in order) and returns how
 * many those are. When some choice repeats (W&B samples from the list as
 * written, so a repeat weighs more there), c->note says which, where and
 * what protein does instead. */
static size_t distinct_choices(spec_ctx *c, size_t *keep)
{
    const protein_param_spec *s = c->s;
    size_t i, j, k, n = 0, times = 0, more = 0, second = 0, first = 0;
    const char *also = NULL;
    char again[80] = "", others[64] = "";

    for (i = 0; i < s->n_values; i++) {
        for (j = 0; j < i && !same_choice(s, i, j); j++)
            continue;
        keep[i] = j < i ? keep[j] : n++;
    }
    for (k = 0; k < n; k++) {
        size_t count = 0, at = 0, other = 0;
        for (i = 0; i < s->n_values; i++) {
            if (keep[i] != k)
                continue;
            if (count == 0)
                at = i;
            else if (count == 1)
                second = times ? second : i;
            if (count && !other && strcmp(s->values[i], s->values[at]) != 0)
                other = i;
            count++;
        }
        if (count > 1 && times) {
            more++;
        } else if (count > 1) {
            times = count;
            first = at;
            also = other ? s->values[other] : NULL;
        }
    }
    if (!times)
        return n;
    if (also)
        snprintf(again, sizeof again, " (also as '%.60s')", also);
    if (more)
        snprintf(others, sizeof others, ", and %zu other value%s repeat%s",
                 more, more == 1 ? "" : "s", more == 1 ? "s" : "");
    snprintf(c->note, sizeof c->note,
             "%s:%d: %s: '%.60s' is listed %zu times%s%s; protein keeps each "
             "value once, in order (one model dimension per distinct value, "
             "%s; a grid runs each value once)%s",
             c->file ? c->file : "", s->value_lines[second],
             protein_config_key(c->key, sizeof c->key, s->key, "values"),
             s->values[first], times, again, others,
             s->has_probabilities ? "a repeat's probability added to it"
                                  : "so a repeat adds no weight",
             n == 1                 ? "; one value is left: every trial gets it"
             : s->has_probabilities ? ""
                                    : "; to weight a value, give "
                                      "probabilities: [...]");
    return n;
}

/* Builds a categorical p from c's spec: refuses the fields a categorical
 * has no use for and an empty or too long values list, keeps each distinct
 * choice once (a warning in c->note for repeats), and the default as a
 * choice index. 0, or an error code with c->err filled; what p holds then
 * is freed with the config. */
static int build_categorical(spec_ctx *c, protein_param *p)
{
    const protein_param_spec *s = c->s;
    protein_spec_field values = {"values", s->values_line};
    size_t i, j, n, *keep = NULL;
    int rc;

    if (spec_unused(c, &s->min, "min", "a categorical (values)") ||
        spec_unused(c, &s->max, "max", "a categorical (values)") ||
        spec_unused(c, &s->scale, "scale", "a categorical (values)") ||
        spec_unused(c, &s->integer, "integer", "a categorical (values)") ||
        spec_unused(c, &s->value, "value",
                    "a categorical (values); use one of them") ||
        shape_unused(c, "a categorical (values)"))
        return PROTEIN_ECONFIG;
    if (s->n_values == 0)
        return spec_fail(c, &values, "values",
                         "values is empty; list at least one choice");
    if (s->n_values > PROTEIN_MAX_VALUES)
        return spec_fail(c, &values, "values",
                         "%zu choices is too many (at most %d)", s->n_values,
                         PROTEIN_MAX_VALUES);
    rc = PROTEIN_ENOMEM;
    if (!(keep = calloc(s->n_values, sizeof *keep)))
        goto fail;
    n = distinct_choices(c, keep);
    p->values = calloc(n, sizeof *p->values);
    p->numeric_values = calloc(n, sizeof *p->numeric_values);
    if (!p->values || !p->numeric_values ||
        (s->value_types && !(p->value_types = malloc(n))))
        goto fail;
    p->n_values = n;
    for (i = 0; i < s->n_values; i++) {
        j = keep[i];
        if (p->values[j])
            continue;
        if (!(p->values[j] = strdup(s->values[i])))
            goto fail;
        if ((s->value_types && s->value_types[i] != PROTEIN_VALUE_NUMBER) ||
            protein_parse_number(s->values[i], &p->numeric_values[j]) != 0)
            p->numeric_values[j] = NAN;
        if (s->value_types)
            p->value_types[j] = s->value_types[i];
    }
    if (s->has_probabilities && (rc = build_probabilities(c, p, keep, n)))
        goto fail;
    p->min = 0;
    p->max = (double)(n - 1);
    p->scale = 0.5;
    /* The default is looked up among the values as written, then mapped
     * to the one kept: a default written as a repeat's second spelling
     * ([1e-3, 0.001], default 0.001) is that value. */
    if (s->def.text) {
        double dv, v;
        int numeric = protein_parse_number(s->def.text, &dv) == 0;
        for (i = 0; i < s->n_values; i++)
            if (strcmp(s->values[i], s->def.text) == 0)
                break;
        for (j = 0; i == s->n_values && numeric && j < s->n_values; j++)
            if ((!s->value_types ||
                 s->value_types[j] == PROTEIN_VALUE_NUMBER) &&
                protein_parse_number(s->values[j], &v) == 0 && v == dv)
                i = j;
        if (i == s->n_values) {
            rc = spec_fail(c, &s->def, s->def_key,
                           "%s '%s' is not one of the values; pick one of "
                           "them or remove it",
                           s->def_key, s->def.text);
            goto fail;
        }
        p->has_default = 1;
        p->default_value = (double)keep[i];
    }
    rc = 0;
fail:
    free(keep);
    return rc;
}

/* Builds a constant p (value:) from c's spec, refusing the fields a
 * constant has no use for; its default, min and max are the value (0 for a
 * value that is not a number). 0, or an error code with c->err filled. */
static int build_constant(spec_ctx *c, protein_param *p)
{
    const protein_param_spec *s = c->s;
    const char *what = "a constant (value)";

    if (spec_unused(c, &s->min, "min", what) ||
        spec_unused(c, &s->max, "max", what) ||
        spec_unused(c, &s->scale, "scale", what) ||
        spec_unused(c, &s->integer, "integer", what) ||
        spec_unused(c, &s->def, s->def_key, what) || shape_unused(c, what))
        return PROTEIN_ECONFIG;
    if (s->has_probabilities) {
        protein_spec_field f = {"probabilities", s->probabilities_line};
        return spec_fail(
            c, &f, "probabilities",
            "probabilities apply to values (a categorical) only; remove them");
    }
    p->values = calloc(1, sizeof *p->values);
    p->numeric_values = calloc(1, sizeof *p->numeric_values);
    if (!p->values || !p->numeric_values ||
        !(p->values[0] = strdup(s->value.text)))
        return PROTEIN_ENOMEM;
    p->n_values = 1;
    if ((s->value_types && s->value_type != PROTEIN_VALUE_NUMBER) ||
        protein_parse_number(s->value.text, &p->numeric_values[0]) != 0)
        p->numeric_values[0] = NAN;
    if (s->value_types) {
        p->value_types = malloc(1);
        if (!p->value_types)
            return PROTEIN_ENOMEM;
        p->value_types[0] = s->value_type;
    }
    p->has_default = 1;
    p->default_value = isnan(p->numeric_values[0]) ? 0.0 : p->numeric_values[0];
    p->min = p->max = p->default_value;
    p->scale = 0;
    return 0;
}

/* W&B's rule for a parameter without a distribution: min and max both
 * written as integers make int_uniform, other bounds uniform. */
static const dist_info *inferred_distribution(const protein_param_spec *s)
{
    long long v;

    if (protein_parse_integer(s->min.text, &v) == 0 &&
        protein_parse_integer(s->max.text, &v) == 0)
        return find_distribution("int_uniform", s);
    return find_distribution("uniform", s);
}

/* Decides the distribution from distribution / values / value / min and
 * max; NULL after an error. */
static const dist_info *spec_distribution(spec_ctx *c)
{
    const protein_param_spec *s = c->s;
    const char *d = s->distribution.text;
    const dist_info *di;

    if (!d) {
        if (s->value.text && s->has_values) {
            spec_fail(
                c, &s->value, "value",
                "give either value (a constant) or values (choices), not both");
            return NULL;
        }
        if (s->value.text)
            return find_distribution("constant", s);
        if (s->has_values)
            return find_distribution("categorical", s);
        if (s->min.text && s->max.text)
            return inferred_distribution(s);
        spec_fail(c, NULL, NULL,
                  "parameter '%s' needs a distribution with min and max, a "
                  "values list or a value",
                  s->name);
        return NULL;
    }
    di = find_distribution(d, s);
    if (!di) {
        const char *near = protein_closest_word(d, distribution_names);
        size_t nl = near ? strlen(near) : 0;
        /* "log_unifrom" is nearest the exponent form, though a min and max
         * written as values are the commoner intent: name both forms */
        int exponent_form = nl >= 11 && !strcmp(near + nl - 11, "log_uniform");

        spec_fail(c, &s->distribution, "distribution",
                  "unknown distribution '%s'%s%s%s%s%s; use one of uniform, "
                  "int_uniform, q_uniform, log_uniform_values, log_uniform, "
                  "q_log_uniform(_values), inv_log_uniform(_values), normal, "
                  "q_normal, log_normal, q_log_normal, beta, q_beta, "
                  "logit_normal, uniform_pow2, categorical, constant",
                  d, near ? " (did you mean '" : "", near ? near : "",
                  exponent_form ? "' (min and max as exponents) or '" : "",
                  exponent_form ? near : "",
                  !near           ? ""
                  : exponent_form ? "_values' (min and max as values)?)"
                                  : "'?)");
        return NULL;
    }
    if (s->value.text && di->kind != PROTEIN_PARAM_CONSTANT) {
        spec_fail(
            c, &s->value, "value",
            "value makes a constant but distribution is %s; remove one of them",
            d);
        return NULL;
    }
    if (di->kind == PROTEIN_PARAM_CONSTANT && !s->value.text) {
        spec_fail(c, &s->distribution, "distribution",
                  "distribution: constant needs value: x");
        return NULL;
    }
    if (di->kind == PROTEIN_PARAM_CATEGORICAL && !s->has_values) {
        spec_fail(c, &s->distribution, "distribution",
                  "distribution: categorical needs values: [...]");
        return NULL;
    }
    return di;
}

/* The index of a parameter of cfg whose PROTEIN_PARAM_ variable is the one
 * that name becomes (protein_param_env_char), or -1. A trial gets each
 * parameter in its own variable, so such a pair cannot be swept. */
static int env_twin(const protein_sweep_config *cfg, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < cfg->n_params; i++) {
        const char *o = cfg->params[i].name;
        size_t j = 0;
        if (strlen(o) != n)
            continue;
        while (j < n &&
               protein_param_env_char(o[j]) == protein_param_env_char(name[j]))
            j++;
        if (j == n)
            return (int)i;
    }
    return -1;
}

/* Validates one parameter spec and appends it to cfg (which owns the copy);
 * a categorical's repeated choices are kept once, with a line in
 * cfg->warnings. PROTEIN_ECONFIG names the file, line and dotted key of the
 * bad field; cfg is unchanged on any failure. */
int protein_config_add_param(protein_sweep_config *cfg, const char *file,
                             const protein_param_spec *spec, protein_error *err)
{
    spec_ctx c = {file, spec, err, "", ""};
    protein_param p;
    protein_param *grown;
    const dist_info *di;
    int rc, other;

    memset(&p, 0, sizeof p);
    if (!protein_valid_name(spec->name, PROTEIN_PARAM_NAME_MAX, 1))
        return spec_fail(&c, NULL, NULL,
                         "parameter name '%s' is invalid; use 1 to %d "
                         "characters of A-Z a-z 0-9 . _ - /",
                         spec->name, PROTEIN_PARAM_NAME_MAX);
    other = protein_config_find_param(cfg, spec->name);
    if (other >= 0)
        return spec_fail(&c, NULL, NULL,
                         "parameter '%s' is defined twice (also on line %d); "
                         "rename or remove one",
                         spec->name, cfg->params[other].line);
    other = env_twin(cfg, spec->name);
    if (other >= 0) {
        char env[PROTEIN_PARAM_NAME_MAX + 1];
        protein_param_env_suffix(spec->name, env);
        return spec_fail(
            &c, NULL, NULL,
            "parameters '%s' and '%s' both become PROTEIN_PARAM_%s "
            "in the environment: rename one",
            cfg->params[other].name, spec->name, env);
    }
    if (cfg->n_params >= PROTEIN_MAX_PARAMS)
        return spec_fail(&c, NULL, NULL, "too many parameters (at most %d)",
                         PROTEIN_MAX_PARAMS);
    di = spec_distribution(&c);
    if (!di)
        return PROTEIN_ECONFIG;
    p.kind = (protein_param_kind)di->kind;
    p.line = spec->line;
    if (p.kind == PROTEIN_PARAM_CATEGORICAL)
        rc = build_categorical(&c, &p);
    else if (p.kind == PROTEIN_PARAM_CONSTANT)
        rc = build_constant(&c, &p);
    else
        rc = build_numeric(&c, &p, di);
    if (rc != 0)
        goto fail;
    rc = PROTEIN_ENOMEM;
    if (!(p.name = strdup(spec->name)))
        goto fail;
    grown = realloc(cfg->params, (cfg->n_params + 1) * sizeof *grown);
    if (!grown)
        goto fail;
    cfg->params = grown;
    if (c.note[0] && protein_config_warn(cfg, "%s", c.note))
        goto fail;
    cfg->params[cfg->n_params++] = p;
    return PROTEIN_OK;
fail:
    protein_param_clear(&p);
    return rc;
}

/* Whole-config checks after all parameters are in: at least one, a grid
 * it can enumerate, and a cost_param that names a numeric one. 0 or
 * PROTEIN_ECONFIG. */
int protein_config_check(const protein_sweep_config *cfg, const char *file,
                         int params_line, const char *cost_key, int cost_line,
                         protein_error *err)
{
    int i;

    if (cfg->n_params == 0)
        return protein_config_error(err, file, params_line, "parameters",
                                    "no parameters to sweep; add at least one");
    if (cfg->method == PROTEIN_METHOD_GRID && protein_grid_check(cfg, err))
        return PROTEIN_ECONFIG;
    if (!cfg->cost_param)
        return PROTEIN_OK;
    i = protein_config_find_param(cfg, cfg->cost_param);
    if (i < 0)
        return protein_config_error(err, file, cost_line, cost_key,
                                    "cost parameter '%s' is not a parameter of "
                                    "this sweep; name one of them or remove it",
                                    cfg->cost_param);
    if (cfg->params[i].kind == PROTEIN_PARAM_CATEGORICAL ||
        cfg->params[i].kind == PROTEIN_PARAM_CONSTANT)
        return protein_config_error(err, file, cost_line, cost_key,
                                    "cost parameter '%s' must be numeric (a "
                                    "distribution with min and max), not %s",
                                    cfg->cost_param,
                                    kind_word(cfg->params[i].kind));
    return PROTEIN_OK;
}
