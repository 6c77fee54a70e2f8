/*
 * config_write.c - a sweep config written back as canonical YAML (what
 * `protein config` prints and Redis stores): every setting explicit, in a
 * fixed order, so that reading it back gives the same sweep.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_common.h"
#include "protein_number.h"

/* Canonical YAML: every setting explicit, a fixed key order, strings in
 * double quotes (escaped so that libyaml reads back the same bytes) and
 * numbers in the shortest form that reads back to the same double. */

/* Writes v in the shortest form that reads back to the same double. */
static void put_number(FILE *fp, double v)
{
    char buf[32];

    protein_number_text(v, buf, sizeof buf);
    fputs(buf, fp);
}

/* Length of the UTF-8 sequence starting at s and its code point; 1 and the
 * byte itself for an invalid sequence. */
static size_t utf8_next(const unsigned char *s, unsigned long *cp)
{
    size_t n, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        *cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        *cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        *cp = s[0] & 0x07;
    } else {
        *cp = s[0];
        return 1;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = s[0];
            return 1;
        }
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    return n;
}

/* 1 when libyaml accepts code point cp unescaped inside a quoted scalar
 * without folding it (printable, not a line or paragraph separator). */
static int yaml_printable(unsigned long cp)
{
    return (cp >= 0xa0 && cp <= 0xd7ff && cp != 0x2028 && cp != 0x2029) ||
           (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) ||
           (cp >= 0x10000 && cp <= 0x10ffff);
}

/* Writes str (NULL as "") as a double-quoted YAML scalar: printable UTF-8
 * as itself, the rest escaped, so that any string reads back the same. */
static void put_string(FILE *fp, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");

    fputc('"', fp);
    while (*s) {
        unsigned long cp;
        size_t n = utf8_next(s, &cp);
        if (n == 1 && *s < 0x80) {
            if (*s == '"' || *s == '\\')
                fprintf(fp, "\\%c", *s);
            else if (*s >= 0x20 && *s < 0x7f)
                fputc(*s, fp);
            else
                fprintf(fp, "\\x%02x", *s);
        } else if (n == 1) {
            fprintf(fp, "\\x%02x", *s);
        } else if (yaml_printable(cp)) {
            fwrite(s, 1, n, fp);
        } else if (cp <= 0xffff) {
            fprintf(fp, "\\u%04lx", cp);
        } else {
            fprintf(fp, "\\U%08lx", cp);
        }
        s += n;
    }
    fputc('"', fp);
}

/* A choice or constant: plain when it is a simple number, else quoted. */
static void put_value(FILE *fp, const char *text)
{
    double v;

    if (text && strspn(text, "0123456789.eE+-") == strlen(text) &&
        protein_parse_number(text, &v) == 0)
        fputs(text, fp);
    else
        put_string(fp, text);
}

/* JSON text as YAML: JSON is YAML, except that YAML folds or refuses
 * some characters JSON strings may hold raw (DEL, U+2028, U+2029, U+0085,
 * C1 controls); those are written as backslash-u escapes, which both read
 * alike. Python json's Infinity, -Infinity and NaN (a config's .inf and
 * .nan in a list) go back to YAML's spelling, as YAML reads them as
 * strings. */
static void put_json(FILE *fp, const char *text)
{
    static const char *const words[][2] = {
        {"Infinity", ".inf"}, {"-Infinity", "-.inf"}, {"NaN", ".nan"}};
    const unsigned char *s = (const unsigned char *)text;
    int in_string = 0, escaped = 0;
    size_t w;

    while (*s) {
        unsigned long cp;
        size_t n = utf8_next(s, &cp);
        for (w = 0; !in_string && w < 3; w++)
            if (strncmp((const char *)s, words[w][0], strlen(words[w][0])) == 0)
                break;
        if (!in_string && w < 3) {
            fputs(words[w][1], fp);
            s += strlen(words[w][0]);
            continue;
        }
        if (escaped)
            escaped = 0;
        else if (in_string && *s == '\\')
            escaped = 1;
        else if (*s == '"')
            in_string = !in_string;
        if (n == 1 && *s < 0x7f)
            fputc(*s, fp);
        else if (n == 1)
            fprintf(fp, "\\u%04x", *s);
        else if (yaml_printable(cp) || cp > 0xffff)
            fwrite(s, 1, n, fp);
        else
            fprintf(fp, "\\u%04lx", cp);
        s += n;
    }
}

/* Choice or constant i of p, keeping its type: strings always quoted,
 * booleans, null and JSON lists or mappings plain (put_json). */
static void put_typed(FILE *fp, const protein_param *p, size_t i)
{
    const char *text = p->values && i < p->n_values ? p->values[i] : "";

    if (!p->value_types)
        put_value(fp, text);
    else if (p->value_types[i] == PROTEIN_VALUE_STRING)
        put_string(fp, text);
    else
        put_json(fp, text);
}

/* The W&B distribution name of the numeric parameter p (its q_ form when
 * p is quantized), the one that reads p back as it is. */
static const char *distribution_name(const protein_param *p)
{
    switch (p->kind) {
    case PROTEIN_PARAM_LINEAR:
        return p->q > 0        ? "q_uniform"
               : p->is_integer ? "int_uniform"
                               : "uniform";
    case PROTEIN_PARAM_LOG:
        return p->q > 0 ? "q_log_uniform_values" : "log_uniform_values";
    case PROTEIN_PARAM_POW2: return "uniform_pow2";
    case PROTEIN_PARAM_NORMAL: return p->q > 0 ? "q_normal" : "normal";
    case PROTEIN_PARAM_LOGNORMAL:
        return p->q > 0 ? "q_log_normal" : "log_normal";
    case PROTEIN_PARAM_BETA: return p->q > 0 ? "q_beta" : "beta";
    default: return "logit_normal";
    }
}

/* Writes p as a YAML entry of parameters: (two spaces in), in the form
 * protein_config_parse_yaml reads back to an equal parameter. */
static void put_param(FILE *fp, const protein_param *p)
{
    size_t i;

    fputs("  ", fp);
    put_string(fp, p->name);
    fputs(":\n", fp);
    if (p->kind == PROTEIN_PARAM_CONSTANT) {
        fputs("    value: ", fp);
        put_typed(fp, p, 0);
        fputc('\n', fp);
        return;
    }
    if (p->kind == PROTEIN_PARAM_CATEGORICAL) {
        fputs("    values: [", fp);
        for (i = 0; i < p->n_values; i++) {
            if (i)
                fputs(", ", fp);
            put_typed(fp, p, i);
        }
        fputs("]\n", fp);
        if (p->probabilities) {
            fputs("    probabilities: [", fp);
            for (i = 0; i < p->n_values; i++) {
                if (i)
                    fputs(", ", fp);
                put_number(fp, p->probabilities[i]);
            }
            fputs("]\n", fp);
        }
        if (p->has_default && p->default_value >= 0 &&
            p->default_value < (double)p->n_values) {
            fputs("    default: ", fp);
            put_typed(fp, p, (size_t)p->default_value);
            fputc('\n', fp);
        }
        return;
    }
    fprintf(fp, "    distribution: %s\n", distribution_name(p));
    if (p->kind == PROTEIN_PARAM_NORMAL || p->kind == PROTEIN_PARAM_LOGNORMAL ||
        p->kind == PROTEIN_PARAM_BETA) {
        fputs(p->kind == PROTEIN_PARAM_BETA ? "    a: " : "    mu: ", fp);
        put_number(fp, p->mu);
        fputs(p->kind == PROTEIN_PARAM_BETA ? "\n    b: " : "\n    sigma: ",
              fp);
        put_number(fp, p->sigma);
    } else {
        fputs("    min: ", fp);
        put_number(fp, p->min);
        fputs("\n    max: ", fp);
        put_number(fp, p->max);
    }
    fputs("\n    scale: ", fp);
    put_number(fp, p->scale);
    fputc('\n', fp);
    if (p->q > 0) {
        fputs("    q: ", fp);
        put_number(fp, p->q);
        fputc('\n', fp);
    }
    if (p->kind != PROTEIN_PARAM_POW2 && p->kind != PROTEIN_PARAM_LOGIT &&
        (p->kind != PROTEIN_PARAM_LINEAR || p->q > 0))
        fprintf(fp, "    integer: %s\n", p->is_integer ? "true" : "false");
    if (p->has_default) {
        fputs("    default: ", fp);
        put_number(fp, p->default_value);
        fputc('\n', fp);
    }
}

/* The W&B settings: program, command, description, project, entity,
 * early_terminate. */
static void put_wandb(FILE *fp, const protein_sweep_config *cfg)
{
    const char *const keys[] = {"program", "description", "project", "entity"};
    const char *const vals[] = {cfg->program, cfg->description, cfg->project,
                                cfg->entity};
    const protein_hyperband *h = &cfg->hyperband;
    size_t i;

    for (i = 0; i < 4; i++) {
        if (!vals[i])
            continue;
        fprintf(fp, "%s: ", keys[i]);
        put_string(fp, vals[i]);
        fputc('\n', fp);
    }
    if (cfg->command) {
        fputs("command:\n", fp);
        for (i = 0; i < cfg->n_command; i++) {
            fputs("  - ", fp);
            put_string(fp, cfg->command[i]);
            fputc('\n', fp);
        }
    }
    if (h->enabled) {
        fputs("early_terminate:\n  type: hyperband\n", fp);
        if (h->min_iter)
            fprintf(fp, "  min_iter: %ld\n", h->min_iter);
        else
            fprintf(fp, "  max_iter: %ld\n  s: %d\n", h->max_iter, h->s);
        fputs("  eta: ", fp);
        put_number(fp, h->eta);
        fprintf(fp, "\n  strict: %s\n", h->strict ? "true" : "false");
    }
}

/* Writes one knob as "  NAME: VALUE" of the protein: mapping. */
static void put_knob(FILE *fp, const protein_sweep_config *cfg,
                     const protein_knob *k)
{
    const char *field = (const char *)cfg + k->offset;

    fprintf(fp, "  %s: ", k->name);
    if (k->type == PROTEIN_KNOB_DOUBLE)
        put_number(fp, *(const double *)field);
    else if (k->type == PROTEIN_KNOB_BOOL)
        fputs(*(const int *)field ? "true" : "false", fp);
    else
        fprintf(fp, "%d", *(const int *)field);
    fputc('\n', fp);
}

/* Writes cfg as canonical YAML (see protein.h). Returns PROTEIN_EINVAL for
 * a NULL argument, PROTEIN_EIO when fp reports a write error. */
int protein_config_write_yaml(const protein_sweep_config *cfg, FILE *fp)
{
    static const char *const methods[] = {"protein", "random", "grid"};
    size_t i;

    if (!cfg || !fp)
        return PROTEIN_EINVAL;
    if (cfg->name) {
        fputs("name: ", fp);
        put_string(fp, cfg->name);
        fputc('\n', fp);
    }
    fprintf(fp, "method: %s\nmetric:\n  name: ",
            methods[cfg->method <= PROTEIN_METHOD_GRID ? cfg->method : 0]);
    put_string(fp, cfg->metric);
    fprintf(fp, "\n  goal: %s\n", cfg->minimize ? "minimize" : "maximize");
    if (cfg->has_target) {
        fputs("  target: ", fp);
        put_number(fp, cfg->target);
        fputc('\n', fp);
    }
    if (cfg->percentile_metric)
        fputs("  distribution: percentile\n", fp);
    fputs("cost:\n  name: ", fp);
    put_string(fp, cfg->cost_metric);
    fputc('\n', fp);
    if (cfg->cost_param) {
        fputs("cost_param: ", fp);
        put_string(fp, cfg->cost_param);
        fputc('\n', fp);
    }
    if (cfg->max_trials > 0)
        fprintf(fp, "max_trials: %ld\n", cfg->max_trials);
    fputs("max_suggestion_cost: ", fp);
    put_number(fp, cfg->max_suggestion_cost);
    fputc('\n', fp);
    if (cfg->has_seed)
        fprintf(fp, "seed: %llu\n", (unsigned long long)cfg->seed);
    fputs("protein:\n", fp);
    for (i = 0; i < protein_n_knobs; i++)
        put_knob(fp, cfg, &protein_knobs[i]);
    put_wandb(fp, cfg);
    fputs("parameters:\n", fp);
    for (i = 0; i < cfg->n_params; i++)
        put_param(fp, &cfg->params[i]);
    if (fflush(fp) != 0 || ferror(fp))
        return PROTEIN_EIO;
    return PROTEIN_OK;
}

/* Same as protein_config_write_yaml into a malloc'ed string (*out, freed
 * by the caller). PROTEIN_ENOMEM when the buffer cannot be allocated. */
int protein_config_to_yaml(const protein_sweep_config *cfg, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;
    int rc;

    if (!cfg || !out)
        return PROTEIN_EINVAL;
    fp = open_memstream(&buf, &len);
    if (!fp)
        return PROTEIN_ENOMEM;
    rc = protein_config_write_yaml(cfg, fp);
    if (fclose(fp) != 0 && rc == PROTEIN_OK)
        rc = PROTEIN_ENOMEM;
    if (rc != PROTEIN_OK) {
        free(buf);
        return rc == PROTEIN_EIO ? PROTEIN_ENOMEM : rc;
    }
    *out = buf;
    return PROTEIN_OK;
}
