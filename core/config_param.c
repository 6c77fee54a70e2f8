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
    protein_param_clear(&p);
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
