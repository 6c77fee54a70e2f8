/*
 * result.c - result files: the KEY=VALUE lines a trial writes to
 * PROTEIN_RESULT (metric, cost, step).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

/* Trims spaces and tabs from both ends of [*b, *e). */
static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t' || **b == '\r'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

/* 1 when [b, e) is a decimal number: [+-]digits[.digits][(e|E)[+-]digits]
 * with digits on at least one side of the point. */
static int decimal(const char *b, const char *e)
{
    const char *s = b;
    size_t whole = 0, frac = 0;
    if (s < e && (*s == '+' || *s == '-'))
        s++;
    for (; s < e && *s >= '0' && *s <= '9'; s++)
        whole++;
    if (s < e && *s == '.')
        for (s++; s < e && *s >= '0' && *s <= '9'; s++)
            frac++;
    if (whole + frac == 0)
        return 0;
    if (s < e && (*s == 'e' || *s == 'E')) {
        size_t exp = 0;
        s++;
        if (s < e && (*s == '+' || *s == '-'))
            s++;
        for (; s < e && *s >= '0' && *s <= '9'; s++)
            exp++;
        if (exp == 0)
            return 0;
    }
    return s == e;
}

/* Sets *has and *val from the value text [b, e): the last value wins, and
 * one that is not a finite decimal number clears an earlier one (and sets
 * *rejected when rejected is not NULL). */
static void take_value(const char *b, const char *e, int *has, double *val,
                       int *rejected)
{
    char tmp[64];
    size_t n = (size_t)(e - b);
    double v = 0;
    int ok = n > 0 && n < sizeof tmp && decimal(b, e);
    if (ok) {
        memcpy(tmp, b, n);
        tmp[n] = '\0';
        v = strtod(tmp, NULL);
        ok = isfinite(v);
    }
    *has = ok;
    if (ok)
        *val = v;
    if (rejected)
        *rejected = !ok;
}

/* 1 when the text [b, e) is exactly key. */
static int key_is(const char *b, const char *e, const char *key)
{
    size_t n = strlen(key);
    return (size_t)(e - b) == n && memcmp(b, key, n) == 0;
}

/* Splits the line [b, e) at its first '=' into the trimmed key [*kb, *ke)
 * and value [*vb, *ve); -1 when it has no '='. */
static int split_line(const char *b, const char *e, const char **kb,
                      const char **ke, const char **vb, const char **ve)
{
    const char *eq = memchr(b, '=', (size_t)(e - b));

    if (!eq)
        return -1;
    *kb = b;
    *ke = eq;
    *vb = eq + 1;
    *ve = e;
    trim(kb, ke);
    trim(vb, ve);
    return 0;
}

/* Contract in protein_queue.h. */
double pq_result_cost(const pq_result *r)
{
    return r->has_cost && isfinite(r->cost) && r->cost > 0 ? r->cost : 1.0;
}

/* Contract in protein_queue.h. */
int pq_result_line_value(const char *line, size_t len, const char *key,
                         double *v)
{
    const char *kb, *ke, *vb, *ve;
    int has = 0;

    if (split_line(line, line + len, &kb, &ke, &vb, &ve) != 0 ||
        !key_is(kb, ke, key))
        return -1;
    take_value(vb, ve, &has, v, NULL);
    return has ? 0 : -1;
}

/* Keeps [kb, ke) as out->other_key when it is a key a metric could have
 * (protein_metric_name_valid) and [vb, ve) a finite number: a log line
 * that merely holds an '=' is no candidate. */
static void take_other_key(const char *kb, const char *ke, const char *vb,
                           const char *ve, pq_result *out)
{
    size_t n = (size_t)(ke - kb);
    double v;
    int has = 0;

    if (!protein_metric_name_valid(kb, n))
        return;
    take_value(vb, ve, &has, &v, NULL);
    if (!has)
        return;
    memcpy(out->other_key, kb, n);
    out->other_key[n] = '\0';
}

/* Contract in protein_queue.h. */
int pq_result_parse(const char *text, size_t len, const char *metric_key,
                    const char *cost_key, pq_result *out)
{
    const char *p = text, *end = text + len;
    memset(out, 0, sizeof *out);
    if (!metric_key)
        metric_key = "score";
    if (!cost_key)
        cost_key = "cost";
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *kb, *ke, *vb, *ve;
        int split = split_line(p, le, &kb, &ke, &vb, &ve);
        p = nl ? nl + 1 : end;
        if (split != 0 || kb == ke || *kb == '#')
            continue;
        if (key_is(kb, ke, metric_key))
            take_value(vb, ve, &out->has_metric, &out->metric,
                       &out->metric_rejected);
        else if (key_is(kb, ke, cost_key))
            take_value(vb, ve, &out->has_cost, &out->cost, NULL);
        else if (key_is(kb, ke, "step"))
            take_value(vb, ve, &out->has_step, &out->step, NULL);
        else
            take_other_key(kb, ke, vb, ve, out);
    }
    return PQ_OK;
}
