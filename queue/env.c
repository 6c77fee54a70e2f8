/*
 * env.c - the environment contract of a trial (PROTEIN_SWEEP,
 * PROTEIN_TRIAL, PROTEIN_PARAMS, PROTEIN_ARGS, PROTEIN_PARAM_<NAME>,
 * PROTEIN_METRIC_KEY, PROTEIN_COST_KEY, PROTEIN_RESULT, PROTEIN_TOKEN) and
 * the --name=value argument string.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_internal.h"

/* The option name of a parameter: as it is, or for a sectioned name
 * ("train/learning_rate", a PufferLib INI sweep) the form PufferLib's CLI
 * parses, "train.learning-rate". */
static void arg_name(pq_strbuf *b, const char *name)
{
    if (!strchr(name, '/')) {
        pq_sb_puts(b, name);
        return;
    }
    for (; *name; name++) {
        char c = *name == '/' ? '.' : *name == '_' ? '-' : *name;
        pq_sb_add(b, &c, 1);
    }
}

/* Contract in protein_queue.h. */
int pq_params_to_args(const pq_params *p, char **out)
{
    pq_strbuf b = {0};
    *out = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const pq_param *it = &p->items[i];
        if (i)
            pq_sb_add(&b, " ", 1);
        pq_sb_add(&b, "--", 2);
        arg_name(&b, it->name ? it->name : "");
        pq_sb_add(&b, "=", 1);
        if (pq_sb_param_value(&b, it, 0) != PQ_OK) {
            free(b.s);
            return PQ_EINVAL;
        }
    }
    return pq_sb_finish(&b, out);
}

/* Contract in protein_queue.h. */
int pq_param_env_name(const char *name, char *buf, size_t len)
{
    static const char prefix[] = "PROTEIN_PARAM_";
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || sizeof prefix + n > len)
        return PQ_EINVAL;
    memcpy(buf, prefix, sizeof prefix - 1);
    protein_param_env_suffix(name, buf + sizeof prefix - 1);
    return PQ_OK;
}

/* One parameter's variable name and its index, for sorting. */
typedef struct env_slot {
    char name[256];
    size_t index;
} env_slot;

/* qsort order of env_slot: by name, then by index, so that the repeats of a
 * name are adjacent in their order of appearance. */
static int slot_cmp(const void *a, const void *b)
{
    const env_slot *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Contract in protein_queue.h. */
int pq_env_names_check(const char *const *names, size_t n, char *why,
                       size_t len)
{
    env_slot *slots;
    int rc = PQ_OK;
    if (why && len)
        why[0] = '\0';
    if (n == 0)
        return PQ_OK;
    if (!(slots = malloc(n * sizeof *slots))) {
        if (why && len)
            snprintf(why, len, "out of memory");
        return PQ_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        slots[i].index = i;
        if (pq_param_env_name(names[i], slots[i].name, sizeof slots[i].name) !=
            PQ_OK) {
            if (why && len)
                snprintf(why, len,
                         "parameter '%.200s' gives no environment variable "
                         "name (empty or over 240 bytes)",
                         names[i] ? names[i] : "");
            rc = PQ_EINVAL;
            goto done;
        }
    }
    qsort(slots, n, sizeof *slots, slot_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(slots[i - 1].name, slots[i].name) == 0) {
            if (why && len)
                snprintf(why, len,
                         "parameters '%.200s' and '%.200s' both become %s in "
                         "the environment: rename one",
                         names[slots[i - 1].index], names[slots[i].index],
                         slots[i].name);
            rc = PQ_EINVAL;
            goto done;
        }
    }
done:
    free(slots);
    return rc;
}

/* Appends one name/value pair (both copied). */
static int env_add(pq_env *env, const char *name, const char *value)
{
    char **names = realloc(env->names, (env->n + 1) * sizeof *names);
    char **values;

    if (!names)
        return PQ_ENOMEM;
    env->names = names;
    values = realloc(env->values, (env->n + 1) * sizeof *values);
    if (!values)
        return PQ_ENOMEM;
    env->values = values;
    names[env->n] = pq_strdup(name);
    values[env->n] = pq_strdup(value);
    env->n++;
    return (names[env->n - 1] && values[env->n - 1]) ? PQ_OK : PQ_ENOMEM;
}

/* Contract in protein_queue.h. */
int pq_params_env_check(const pq_params *params, char *why, size_t len)
{
    const char **names;
    int rc;
    if (params->n == 0)
        return PQ_OK;
    if (!(names = malloc(params->n * sizeof *names)))
        return PQ_ENOMEM;
    for (size_t i = 0; i < params->n; i++)
        names[i] = params->items[i].name;
    rc = pq_env_names_check(names, params->n, why, len);
    free(names);
    return rc;
}

/* Contract in protein_queue.h. */
int pq_env_build(const char *sweep, long trial_id, const pq_params *params,
                 const char *metric_key, const char *cost_key,
                 const char *result_path, const char *token, pq_env *out)
{
    char *json = NULL, *args = NULL;
    char num[40], name[256];
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = pq_params_env_check(params, NULL, 0)) != PQ_OK)
        return rc;
    if ((rc = pq_params_to_json(params, &json)) != PQ_OK ||
        (rc = pq_params_to_args(params, &args)) != PQ_OK)
        goto fail;
    snprintf(num, sizeof num, "%ld", trial_id);
    if ((rc = env_add(out, "PROTEIN_SWEEP", sweep)) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_TRIAL", num)) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_PARAMS", json)) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_ARGS", args)) != PQ_OK)
        goto fail;
    for (size_t i = 0; i < params->n; i++) {
        const pq_param *p = &params->items[i];
        if ((rc = pq_param_env_name(p->name, name, sizeof name)) != PQ_OK)
            goto fail;
        if (!p->is_string)
            pq_param_number_text(p, num);
        if ((rc = env_add(out, name, p->is_string ? p->text : num)) != PQ_OK)
            goto fail;
    }
    if ((rc = env_add(out, "PROTEIN_METRIC_KEY",
                      metric_key ? metric_key : "score")) != PQ_OK ||
        (rc = env_add(out, "PROTEIN_COST_KEY", cost_key ? cost_key : "cost")) !=
            PQ_OK)
        goto fail;
    if (result_path &&
        (rc = env_add(out, "PROTEIN_RESULT", result_path)) != PQ_OK)
        goto fail;
    if (token && (rc = env_add(out, "PROTEIN_TOKEN", token)) != PQ_OK)
        goto fail;
    free(json);
    free(args);
    return PQ_OK;
fail:
    free(json);
    free(args);
    pq_env_free(out);
    return rc;
}

/* Contract in protein_queue.h. */
void pq_env_free(pq_env *env)
{
    if (!env)
        return;
    pq_strings_free(env->names, env->n);
    pq_strings_free(env->values, env->n);
    memset(env, 0, sizeof *env);
}
