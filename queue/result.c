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

/* Sets *has and *val from the value text: last value wins, and a value that
 * is not a finite number clears an earlier one. */
static void take_value(const char *b, const char *e, int *has, double *val)
{
    char tmp[64];
    size_t n = (size_t)(e - b);
    if (n == 0 || n >= sizeof tmp) {
        *has = 0;
        return;
    }
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (*end != '\0' || !isfinite(v)) {
        *has = 0;
        return;
    }
    *has = 1;
    *val = v;
}

static int key_is(const char *b, const char *e, const char *key)
{
    size_t n = strlen(key);
    return (size_t)(e - b) == n && memcmp(b, key, n) == 0;
}

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
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        const char *kb = p, *ke = eq, *vb = eq ? eq + 1 : NULL, *ve = le;
        p = nl ? nl + 1 : end;
        if (!eq)
            continue;
        trim(&kb, &ke);
        if (kb == ke || *kb == '#')
            continue;
        trim(&vb, &ve);
        if (key_is(kb, ke, metric_key))
            take_value(vb, ve, &out->has_metric, &out->metric);
        else if (key_is(kb, ke, cost_key))
            take_value(vb, ve, &out->has_cost, &out->cost);
        else if (key_is(kb, ke, "step"))
            take_value(vb, ve, &out->has_step, &out->step);
    }
    return PQ_OK;
}
