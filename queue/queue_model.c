/*
 * queue_model.c - value vectors <-> trial parameters, and stored configs
 * (see queue_model.h).
 */
#include "config.h"

#include "queue_model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills *err (when err is not NULL) with the message fmt, the config's
 * source as its file and, when p is given, p's name and line as key and
 * line; fields that do not fit are cut. */
static void set_error(protein_error *err, const char *source,
                      const protein_param *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(protein_error *err, const char *source,
                      const protein_param *p, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", source ? source : "");
    if (p) {
        snprintf(err->key, sizeof(err->key), "%s", p->name);
        err->line = p->line;
    }
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

/* Parses all of text as a finite number; returns 1 on success. */
static int parse_number(const char *text, double *out)
{
    char *end;
    double v;

    if (!text || !*text)
        return 0;
    errno = 0;
    v = strtod(text, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* A numeric text without fraction or exponent ("128", "-3"). */
static int looks_integral(const char *text)
{
    return strpbrk(text, ".eEnN") == NULL;
}

/* The text of the choice (or constant) value selects, whole however long;
 * NULL for numeric parameters. */
static const char *choice_text(const protein_param *p, double value)
{
    size_t k;

    if ((p->kind != PROTEIN_PARAM_CATEGORICAL &&
         p->kind != PROTEIN_PARAM_CONSTANT) ||
        !p->values || p->n_values == 0)
        return NULL;
    k = p->kind == PROTEIN_PARAM_CONSTANT
            ? 0
            : protein_choice_index(value, p->n_values);
    return p->values[k];
}

/* A categorical choice or constant whose config gave it a type: strings
 * stay strings (even "123"), booleans, null, lists and the numbers a
 * queue number cannot hold (.inf, .nan) become JSON values. Returns 1
 * when q was set from text (q->text NULL: out of memory), 0 for other
 * numbers and untyped values. */
static int typed_choice(const protein_param *p, double value, pq_param *q,
                        const char *text)
{
    const char *nonfinite;
    size_t k;

    if (!p->value_types || (p->kind != PROTEIN_PARAM_CATEGORICAL &&
                            p->kind != PROTEIN_PARAM_CONSTANT))
        return 0;
    k = p->kind == PROTEIN_PARAM_CONSTANT
            ? 0
            : protein_choice_index(value, p->n_values);
    nonfinite = protein_value_nonfinite_json(text);
    if (p->value_types[k] == PROTEIN_VALUE_NUMBER && !nonfinite)
        return 0;
    q->is_string = 1;
    q->is_json = p->value_types[k] != PROTEIN_VALUE_STRING;
    q->text = strdup(nonfinite ? nonfinite : text);
    return 1;
}

/* Contract in queue_model.h. */
int pq_model_values_to_params(const protein_sweep_config *cfg,
                              const double *values, pq_params *out)
{
    char text[128];
    const char *shown;
    size_t i;

    if (!cfg || !values || !out)
        return PROTEIN_EINVAL;
    out->n = 0;
    out->items = NULL;
    if (cfg->n_params == 0)
        return PROTEIN_OK;
    out->items = calloc(cfg->n_params, sizeof(*out->items));
    if (!out->items)
        return PROTEIN_ENOMEM;
    for (i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        pq_param *q = &out->items[i];
        double number;

        out->n = i + 1;
        q->name = strdup(p->name);
        if (!q->name)
            goto fail;
        protein_format_value(p, values[i], text, sizeof(text));
        shown = choice_text(p, values[i]);
        if (!shown)
            shown = text;
        if (typed_choice(p, values[i], q, shown)) {
            if (!q->text)
                goto fail;
        } else if (parse_number(shown, &number)) {
            q->number = number;
            if (p->kind == PROTEIN_PARAM_CATEGORICAL ||
                p->kind == PROTEIN_PARAM_CONSTANT)
                q->is_integer = looks_integral(shown);
            else
                q->is_integer = p->is_integer || p->kind == PROTEIN_PARAM_POW2;
        } else {
            q->is_string = 1;
            q->text = strdup(shown);
            if (!q->text)
                goto fail;
        }
    }
    return PROTEIN_OK;
fail:
    pq_params_free(out);
    out->n = 0;
    out->items = NULL;
    return PROTEIN_ENOMEM;
}

/* Contract in queue_model.h. */
const pq_param *pq_model_find_param(const pq_params *params, const char *name)
{
    size_t i;

    for (i = 0; params && name && i < params->n; i++)
        if (params->items[i].name && strcmp(params->items[i].name, name) == 0)
            return &params->items[i];
    return NULL;
}

/* The index of the choice of categorical p that q names, or -1. A choice
 * matches by text, or by number when both sides are numeric. */
static long find_choice(const protein_param *p, const pq_param *q)
{
    double number;
    int numeric;
    size_t k;

    numeric = q->is_string ? parse_number(q->text, &number) : 1;
    if (!q->is_string)
        number = q->number;
    for (k = 0; k < p->n_values; k++) {
        if (q->is_string && strcmp(p->values[k], q->text) == 0)
            return (long)k;
        if (numeric && !isnan(p->numeric_values[k]) &&
            p->numeric_values[k] == number)
            return (long)k;
    }
    return -1;
}

/* Contract in queue_model.h. */
int pq_model_params_to_values(const protein_sweep_config *cfg,
                              const pq_params *params, double *values,
                              protein_error *err)
{
    size_t i;

    if (!cfg || !params || !values)
        return PROTEIN_EINVAL;
    for (i = 0; i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        const pq_param *q = pq_model_find_param(params, p->name);
        double number;
        long choice;

        if (p->kind == PROTEIN_PARAM_CONSTANT) {
            values[i] = p->n_values > 0 && !isnan(p->numeric_values[0])
                            ? p->numeric_values[0]
                            : 0.0;
            continue;
        }
        if (!q) {
            set_error(err, cfg->source, p, "parameter missing from the trial");
            return PROTEIN_ENOTFOUND;
        }
        if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
            choice = find_choice(p, q);
            if (choice < 0) {
                set_error(err, cfg->source, p, "'%s' is not one of its values",
                          q->is_string ? q->text : "(number)");
                return PROTEIN_EINVAL;
            }
            values[i] = (double)choice;
            continue;
        }
        if (q->is_string) {
            if (!parse_number(q->text, &number)) {
                set_error(err, cfg->source, p, "'%s' is not a number", q->text);
                return PROTEIN_EINVAL;
            }
        } else {
            number = q->number;
        }
        if (!isfinite(number)) {
            set_error(err, cfg->source, p, "value is not a finite number");
            return PROTEIN_EINVAL;
        }
        values[i] = number;
    }
    return PROTEIN_OK;
}

/* Contract in queue_model.h. */
int pq_model_load_config(const char *sweep, const char *yaml, size_t len,
                         protein_sweep_config **out, protein_error *err)
{
    char source[128];
    protein_sweep_config *cfg = NULL;
    int rc;

    if (!sweep || !yaml || !out)
        return PROTEIN_EINVAL;
    snprintf(source, sizeof(source), "sweep %s (stored config)", sweep);
    rc = protein_config_parse_yaml(yaml, len, source, &cfg, err);
    if (rc != PROTEIN_OK)
        return rc;
    if (!cfg->name) {
        cfg->name = strdup(sweep);
        if (!cfg->name) {
            protein_config_free(cfg);
            return PROTEIN_ENOMEM;
        }
    }
    *out = cfg;
    return PROTEIN_OK;
}

/* Contract in queue_model.h. */
uint64_t pq_model_fallback_seed(const char *name, size_t size,
                                pq_fallback_drawer drawer)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    h ^= (uint64_t)size * 0x9E3779B97F4A7C15ULL;
    return drawer == PQ_FALLBACK_BY_COORDINATOR
               ? h
               : h ^ 0xD1B54A32D192ED03ULL; /* a sequence of its own */
}

/* Contract in queue_model.h. */
int pq_model_fallback_points(const protein_sweep_config *cfg, uint64_t seed,
                             size_t first, size_t n, int defaults_first,
                             pq_params **out)
{
    /* A grid's own points, in its order. Otherwise the optimizer's own
     * warm-up, reseeded: a sweep method protein with no observations
     * suggests nothing else. The seed is scrambled so that the pool does
     * not repeat the warm-up of a sweep seeded with `seed`. */
    const int grid = cfg->method == PROTEIN_METHOD_GRID;
    protein_sweep_config warm = *cfg;
    /* The defaults only where the coordinator suggests them: method
     * protein's first point. */
    protein_optimizer_options oo = {.use_default_first =
                                        defaults_first &&
                                        cfg->method == PROTEIN_METHOD_PROTEIN};
    protein_optimizer *opt = NULL;
    double *values = calloc(cfg->n_params + 1, sizeof(double));
    pq_params *pts = calloc(n + 1, sizeof(*pts));
    size_t i;
    int rc = PROTEIN_ENOMEM;

    *out = NULL;
    if (!values || !pts)
        goto fail;
    if (!grid) {
        warm.method = PROTEIN_METHOD_PROTEIN;
        warm.has_seed = 1;
        warm.seed = seed ^ 0x5bd1e9955bd1e995ULL;
    }
    rc = protein_optimizer_create(&warm, &oo, &opt, NULL);
    if (rc != PROTEIN_OK)
        goto fail;
    rc = PROTEIN_EINVAL;
    if (grid && (first > protein_optimizer_grid_size(opt) ||
                 n > protein_optimizer_grid_size(opt) - first))
        goto fail;
    /* the grid has the points skipped: only a failure leaves some */
    rc = PROTEIN_ENOMEM;
    if (grid &&
        protein_skip_handed_out(opt, (long)first, (long)first) != (long)first)
        goto fail;
    for (i = 0; i < n; i++) {
        rc = protein_suggest(opt, values, NULL);
        if (rc == PROTEIN_OK)
            rc = pq_model_values_to_params(cfg, values, &pts[i]);
        if (rc != PROTEIN_OK) {
            pq_params_array_free(pts, i);
            pts = NULL;
            goto fail;
        }
    }
    *out = pts;
    pts = NULL;
    rc = PROTEIN_OK;
fail:
    protein_optimizer_free(opt);
    free(pts);
    free(values);
    return rc;
}

/* Contract in queue_model.h. */
long pq_model_grid_points(const protein_sweep_config *cfg)
{
    protein_optimizer *opt = NULL;
    size_t size;

    if (cfg->method != PROTEIN_METHOD_GRID ||
        protein_optimizer_create(cfg, NULL, &opt, NULL) != PROTEIN_OK)
        return 0;
    size = protein_optimizer_grid_size(opt);
    protein_optimizer_free(opt);
    return size > (size_t)PQ_GRID_POINTS_MAX ? PQ_GRID_POINTS_MAX : (long)size;
}

/* Contract in queue_model.h. */
void pq_model_stopping(const protein_sweep_config *cfg, pq_sweep_spec *spec,
                       long *bands)
{
    spec->has_target = cfg->has_target;
    spec->target = cfg->target;
    spec->n_hyperband_bands = protein_hyperband_bands(
        &cfg->hyperband, bands, PROTEIN_HYPERBAND_BANDS_MAX);
    spec->hyperband_bands = spec->n_hyperband_bands ? bands : NULL;
    spec->hyperband_eta = cfg->hyperband.eta;
    spec->hyperband_strict = cfg->hyperband.strict;
}
