/*
 * optimizer_fixture.h - sweep configs built in code for the optimizer's
 * tests and benchmarks (no YAML involved). A fx_sweep owns its parameter
 * array; its strings are literals, so it is never passed to
 * protein_config_free.
 */
#ifndef PROTEIN_OPTIMIZER_FIXTURE_H
#define PROTEIN_OPTIMIZER_FIXTURE_H

#include <math.h>
#include <string.h>

#include "protein.h"

#define FX_MAX_PARAMS 48
#define FX_MAX_CHOICES 8

typedef struct fx_sweep {
    protein_sweep_config cfg;
    protein_param params[FX_MAX_PARAMS];
    char *choices[FX_MAX_PARAMS][FX_MAX_CHOICES];
    double numeric[FX_MAX_PARAMS][FX_MAX_CHOICES];
} fx_sweep;

/* A method: protein sweep with the research note's defaults, seeded. */
static inline void fx_init(fx_sweep *s, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->cfg.name = (char *)"fixture";
    s->cfg.source = (char *)"fixture.yaml";
    s->cfg.method = PROTEIN_METHOD_PROTEIN;
    s->cfg.metric = (char *)"score";
    s->cfg.cost_metric = (char *)"cost";
    s->cfg.max_suggestion_cost = 3600;
    s->cfg.has_seed = 1;
    s->cfg.seed = seed;
    s->cfg.num_random_samples = 10;
    s->cfg.suggestions_per_pareto = 256;
    s->cfg.expansion_rate = 0.1;
    s->cfg.early_stop_quantile = 0.3;
    s->cfg.gp_max_obs = 0;
    s->cfg.gp_training_iter = 50;
    s->cfg.prune_pareto = 1;
    s->cfg.params = s->params;
}

static inline protein_param *fx_add(fx_sweep *s, const char *name,
                                    protein_param_kind kind)
{
    protein_param *p = &s->params[s->cfg.n_params];
    p->name = (char *)name;
    p->kind = kind;
    p->values = s->choices[s->cfg.n_params];
    p->numeric_values = s->numeric[s->cfg.n_params];
    p->line = (int)s->cfg.n_params + 1;
    s->cfg.n_params++;
    return p;
}

/* A numeric parameter (LINEAR, LOG, POW2 or LOGIT) on [min, max]. */
static inline protein_param *fx_numeric(fx_sweep *s, const char *name,
                                        protein_param_kind kind, double min,
                                        double max)
{
    protein_param *p = fx_add(s, name, kind);
    p->min = min;
    p->max = max;
    p->is_integer = kind == PROTEIN_PARAM_POW2;
    p->values = NULL;
    p->numeric_values = NULL;
    return p;
}

/* A categorical parameter with k (<= FX_MAX_CHOICES) choices "a", "b"... */
static inline protein_param *fx_categorical(fx_sweep *s, const char *name,
                                            size_t k)
{
    static char *const names[FX_MAX_CHOICES] = {"a", "b", "c", "d",
                                                "e", "f", "g", "h"};
    protein_param *p = fx_add(s, name, PROTEIN_PARAM_CATEGORICAL);
    p->n_values = k;
    for (size_t i = 0; i < k; i++) {
        p->values[i] = names[i];
        p->numeric_values[i] = NAN;
    }
    return p;
}

/* A numeric constant; text is how it is written. */
static inline protein_param *fx_constant(fx_sweep *s, const char *name,
                                         const char *text, double value)
{
    protein_param *p = fx_add(s, name, PROTEIN_PARAM_CONSTANT);
    p->n_values = 1;
    p->values[0] = (char *)text;
    p->numeric_values[0] = value;
    return p;
}

#endif
