#include "config.h"

/*
 * gp_common.c - the host-side pieces every GP backend shares: the softplus
 * parameterization, the noise prior, hyperparameter state, and the fit loop
 * (Adam-amsgrad as in Protein, and a warm-started L-BFGS).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"
#include "protein.h"

#define SOFTPLUS_FLOOR PROTEIN_GP_SOFTPLUS_FLOOR
#define ADAM_BETA1 PROTEIN_GP_ADAM_BETA1
#define ADAM_BETA2 PROTEIN_GP_ADAM_BETA2
#define ADAM_EPS PROTEIN_GP_ADAM_EPS

#define DEFAULT_ITERATIONS 50
#define DEFAULT_LEARNING_RATE 1e-3
#define DEFAULT_MAX_EVALUATIONS 12
#define LBFGS_MEMORY PROTEIN_GP_LBFGS_MEMORY
#define LBFGS_ARMIJO PROTEIN_GP_LBFGS_ARMIJO
#define LBFGS_GRAD_TOL PROTEIN_GP_LBFGS_GTOL

/* Contract in gp.h. */
int protein_gp_fail(int status, char *errbuf, size_t errlen, const char *fmt,
                    ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return status;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* Contract in gp.h. */
double protein_gp_softplus(double raw)
{
    /* log(1 + e^raw) without overflow for large raw. */
    if (raw > 0)
        return raw + log1p(exp(-raw)) + SOFTPLUS_FLOOR;
    return log1p(exp(raw)) + SOFTPLUS_FLOOR;
}

/* Contract in gp.h. */
double protein_gp_softplus_grad(double raw)
{
    if (raw >= 0)
        return 1.0 / (1.0 + exp(-raw));
    return exp(raw) / (1.0 + exp(raw));
}

/* Contract in gp.h. */
double protein_gp_softplus_inverse(double value)
{
    double s = value - SOFTPLUS_FLOOR;

    /* raw = log(e^s - 1) = s + log(1 - e^-s). */
    if (s > 20)
        return s + log1p(-exp(-s));
    return log(expm1(s));
}

/* Contract in gp.h. */
void protein_gp_theta_init(double *theta, size_t d)
{
    double one = protein_gp_softplus_inverse(1.0);

    for (size_t k = 0; k < d; k++)
        theta[k] = one;                               /* lengthscales */
    theta[d] = one;                                   /* sf */
    theta[d + 1] = one;                               /* b */
    theta[d + 2] = protein_gp_softplus_inverse(0.01); /* sn2 */
}

/* -log of a LogNormal(mu, sigma) density at softplus(raw), softplus
 * Jacobian included, as a function of raw; the derivative with respect to
 * raw goes to *grad when grad != NULL. */
static double lognormal_prior(double raw, double mu, double sigma, double *grad)
{
    double value = protein_gp_softplus(raw);
    double sig = protein_gp_softplus_grad(raw);
    double z = (log(value) - mu) / sigma;
    double logp =
        -log(value) - log(sigma) - 0.5 * log(2 * M_PI) - 0.5 * z * z + log(sig);

    if (grad != NULL) {
        /* d/draw: d log sigmoid(raw) / draw = 1 - sigmoid(raw). */
        double dlogp_dvalue = -1.0 / value - z / (sigma * value);
        *grad = -(dlogp_dvalue * sig + (1.0 - sig));
    }
    return -logp;
}

/* Contract in gp.h. */
double protein_gp_noise_prior(double raw_sn2, double *grad)
{
    return lognormal_prior(raw_sn2, PROTEIN_GP_NOISE_PRIOR_MU,
                           PROTEIN_GP_NOISE_PRIOR_SIGMA, grad);
}

/* Contract in gp.h. */
double protein_gp_lengthscale_prior(const double *theta, size_t d, size_t n,
                                    double *grad)
{
    double total = 0;

    for (size_t k = 0; k < d; k++) {
        double g = 0;
        total += lognormal_prior(theta[k], PROTEIN_GP_LENGTHSCALE_PRIOR_MU,
                                 PROTEIN_GP_LENGTHSCALE_PRIOR_SIGMA,
                                 grad != NULL ? &g : NULL);
        if (grad != NULL)
            grad[k] += g / (double)n;
    }
    return total / (double)n;
}

/* Contract in gp.h. */
int protein_gp_params_init(protein_gp_params *p, size_t d)
{
    size_t nt = PROTEIN_GP_NTHETA(d);

    if (p == NULL || d == 0)
        return PROTEIN_EINVAL;
    memset(p, 0, sizeof(*p));
    p->theta = malloc(nt * sizeof(double));
    p->m = calloc(nt, sizeof(double));
    p->v = calloc(nt, sizeof(double));
    p->vmax = calloc(nt, sizeof(double));
    p->lbfgs_pairs = calloc(2 * LBFGS_MEMORY * nt, sizeof(double));
    if (p->theta == NULL || p->m == NULL || p->v == NULL || p->vmax == NULL ||
        p->lbfgs_pairs == NULL) {
        protein_gp_params_free(p);
        return PROTEIN_ENOMEM;
    }
    p->d = d;
    protein_gp_theta_init(p->theta, d);
    return PROTEIN_OK;
}

/* Contract in gp.h. */
void protein_gp_params_reset_moments(protein_gp_params *p)
{
    size_t nt = PROTEIN_GP_NTHETA(p->d);

    memset(p->m, 0, nt * sizeof(double));
    memset(p->v, 0, nt * sizeof(double));
    memset(p->vmax, 0, nt * sizeof(double));
    p->step = 0;
    p->lbfgs_count = 0;
    p->lbfgs_head = 0;
}

/* Contract in gp.h. */
void protein_gp_params_free(protein_gp_params *p)
{
    if (p == NULL)
        return;
    free(p->theta);
    free(p->m);
    free(p->v);
    free(p->vmax);
    free(p->lbfgs_pairs);
    memset(p, 0, sizeof(*p));
}

/* Contract in gp.h. */
void protein_gp_adam_step(protein_gp_params *params, const double *grad,
                          double learning_rate)
{
    size_t nt = PROTEIN_GP_NTHETA(params->d);
    double bc1, bc2;

    params->step++;
    bc1 = 1.0 - pow(ADAM_BETA1, (double)params->step);
    bc2 = 1.0 - pow(ADAM_BETA2, (double)params->step);
    for (size_t k = 0; k < nt; k++) {
        double g = grad[k];
        double denom;

        params->m[k] = ADAM_BETA1 * params->m[k] + (1 - ADAM_BETA1) * g;
        params->v[k] = ADAM_BETA2 * params->v[k] + (1 - ADAM_BETA2) * g * g;
        if (params->v[k] > params->vmax[k])
            params->vmax[k] = params->v[k];
        denom = sqrt(params->vmax[k]) / sqrt(bc2) + ADAM_EPS;
        params->theta[k] -= learning_rate / bc1 * params->m[k] / denom;
    }
}

/* -------------------------------------------------------------- fit loop */

/* Dot product of two n-vectors. */
static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* The largest absolute value of an n-vector (0 for n = 0). */
static double norm_inf(const double *a, size_t n)
{
    double m = 0;

    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

/* Scratch for one minimize call: nt-vectors, and a view of the L-BFGS
 * history kept in the params. */
typedef struct fit_work {
    size_t nt;
    double *buf; /* one allocation for x, g, xn, gn, dir */
    double *x, *g, *xn, *gn, *dir;
    double *s, *yv; /* LBFGS_MEMORY x nt ring buffers (params) */
    double rho[LBFGS_MEMORY];
    double alpha[LBFGS_MEMORY];
    int count, head; /* pairs stored; index of the next slot */
} fit_work;

/* Sets up w for one minimize call on params: one allocation for the five
 * nt-vectors (w->buf, which the caller frees) and a view of params' L-BFGS
 * history. PROTEIN_OK or PROTEIN_ENOMEM. */
static int fit_work_init(fit_work *w, protein_gp_params *params)
{
    size_t nt = PROTEIN_GP_NTHETA(params->d);

    memset(w, 0, sizeof(*w));
    w->nt = nt;
    w->buf = malloc(5 * nt * sizeof(double));
    if (w->buf == NULL)
        return PROTEIN_ENOMEM;
    w->x = w->buf;
    w->g = w->x + nt;
    w->xn = w->g + nt;
    w->gn = w->xn + nt;
    w->dir = w->gn + nt;
    w->s = params->lbfgs_pairs;
    w->yv = w->s + LBFGS_MEMORY * nt;
    w->count = params->lbfgs_count;
    w->head = params->lbfgs_head;
    if (w->s == NULL || w->count < 0 || w->count > LBFGS_MEMORY ||
        w->head < 0 || w->head >= LBFGS_MEMORY)
        w->count = w->head = 0;
    for (int c = 0; c < w->count; c++) {
        int idx = (w->head - 1 - c + LBFGS_MEMORY) % LBFGS_MEMORY;
        w->rho[idx] = 1.0 / dot(w->s + idx * nt, w->yv + idx * nt, nt);
    }
    return PROTEIN_OK;
}

/* Evaluates the loss and records the jitter; a non-finite loss counts as a
 * failed factorization. */
static int eval_loss(const protein_gp_objective *obj, const double *theta,
                     double *loss, protein_gp_fit_report *rep, char *errbuf,
                     size_t errlen)
{
    double jitter = 0;
    int rc = obj->loss(obj->ctx, theta, loss, &jitter, errbuf, errlen);

    rep->evaluations++;
    if (rc != PROTEIN_OK)
        return rc;
    if (!isfinite(*loss))
        return protein_gp_fail(PROTEIN_ENUMERIC, errbuf, errlen,
                               "GP loss is not finite");
    if (jitter > rep->jitter_used)
        rep->jitter_used = jitter;
    return PROTEIN_OK;
}

/* Protein's loop: iterations Adam-amsgrad steps, each at a fresh loss and
 * gradient; a step to a theta where K cannot be factorized is undone and
 * ends the loop. Ends with loss() at the returned theta. */
static int minimize_adam(const protein_gp_objective *obj,
                         protein_gp_params *params, int iterations, double lr,
                         fit_work *w, protein_gp_fit_report *rep, char *errbuf,
                         size_t errlen)
{
    size_t nt = w->nt;
    double loss = 0;
    int rc;

    for (int it = 0; it < iterations; it++) {
        rc = eval_loss(obj, params->theta, &loss, rep, errbuf, errlen);
        if (rc == PROTEIN_ENUMERIC && it > 0) {
            memcpy(params->theta, w->x, nt * sizeof(double));
            rep->iterations_done--;
            break;
        }
        if (rc != PROTEIN_OK)
            return rc;
        rc = obj->gradient(obj->ctx, w->g, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        memcpy(w->x, params->theta, nt * sizeof(double));
        protein_gp_adam_step(params, w->g, lr);
        rep->iterations_done++;
    }
    rc = eval_loss(obj, params->theta, &loss, rep, errbuf, errlen);
    if (rc == PROTEIN_ENUMERIC && rep->iterations_done > 0) {
        /* The last step went somewhere K is singular: undo it. */
        memcpy(params->theta, w->x, nt * sizeof(double));
        rep->iterations_done--;
        rc = eval_loss(obj, params->theta, &loss, rep, errbuf, errlen);
    }
    if (rc != PROTEIN_OK)
        return rc;
    rep->final_loss = loss;
    return PROTEIN_OK;
}

/* The L-BFGS direction -H g by the two-loop recursion over the stored
 * pairs, with the initial Hessian scaled by s'y / y'y of the newest pair. */
static void lbfgs_direction(fit_work *w)
{
    size_t nt = w->nt;
    double *q = w->dir;
    double gamma = 1.0;
    int idx;

    for (size_t k = 0; k < nt; k++)
        q[k] = -w->g[k];
    for (int c = 0; c < w->count; c++) {
        idx = (w->head - 1 - c + LBFGS_MEMORY) % LBFGS_MEMORY;
        w->alpha[idx] = w->rho[idx] * dot(w->s + idx * nt, q, nt);
        for (size_t k = 0; k < nt; k++)
            q[k] -= w->alpha[idx] * w->yv[idx * nt + k];
    }
    if (w->count > 0) {
        const double *yl;

        idx = (w->head - 1 + LBFGS_MEMORY) % LBFGS_MEMORY;
        yl = w->yv + idx * nt;
        gamma = dot(w->s + idx * nt, yl, nt) / dot(yl, yl, nt);
    }
    for (size_t k = 0; k < nt; k++)
        q[k] *= gamma;
    for (int c = w->count - 1; c >= 0; c--) {
        double beta;

        idx = (w->head - 1 - c + LBFGS_MEMORY) % LBFGS_MEMORY;
        beta = w->rho[idx] * dot(w->yv + idx * nt, q, nt);
        for (size_t k = 0; k < nt; k++)
            q[k] += (w->alpha[idx] - beta) * w->s[idx * nt + k];
    }
}

/* Stores the pair (xn - x, gn - g) when it has positive curvature. */
static void lbfgs_push(fit_work *w)
{
    size_t nt = w->nt;
    double *s = w->s + w->head * nt, *y = w->yv + w->head * nt;
    double sy;

    for (size_t k = 0; k < nt; k++) {
        s[k] = w->xn[k] - w->x[k];
        y[k] = w->gn[k] - w->g[k];
    }
    sy = dot(s, y, nt);
    if (!(sy > 1e-10 * sqrt(dot(s, s, nt) * dot(y, y, nt))))
        return;
    w->rho[w->head] = 1.0 / sy;
    w->head = (w->head + 1) % LBFGS_MEMORY;
    if (w->count < LBFGS_MEMORY)
        w->count++;
}

/* Exchanges two pointers (the line search swaps point buffers instead of
 * copying them). */
static void swap_ptr(double **a, double **b)
{
    double *t = *a;

    *a = *b;
    *b = t;
}

/* Backtracking Armijo line search from (x, f, g) along dir: writes the
 * accepted point to xn and its loss to *fn and returns 1, or returns 0 when
 * the evaluation budget ran out first (or < 0 on an error other than a
 * failed factorization). Steps are shrunk by safeguarded quadratic
 * interpolation; a trial point where K cannot be factorized shrinks the
 * step tenfold. */
static int line_search(const protein_gp_objective *obj, fit_work *w, double f,
                       double *fn, int max_eval, protein_gp_fit_report *rep,
                       char *errbuf, size_t errlen)
{
    size_t nt = w->nt;
    double gd = dot(w->g, w->dir, nt);
    double step = 1.0;

    if (w->count == 0) {
        /* No curvature yet: move each coordinate by at most 1. */
        double dmax = norm_inf(w->dir, nt);
        if (dmax > 1.0)
            step = 1.0 / dmax;
    }
    while (rep->evaluations < max_eval) {
        int rc;

        for (size_t k = 0; k < nt; k++)
            w->xn[k] = w->x[k] + step * w->dir[k];
        rc = eval_loss(obj, w->xn, fn, rep, errbuf, errlen);
        if (rc != PROTEIN_OK && rc != PROTEIN_ENUMERIC)
            return rc;
        if (rc == PROTEIN_OK && *fn <= f + LBFGS_ARMIJO * step * gd)
            return 1;
        if (rc == PROTEIN_OK) {
            double t = -gd * step * step / (2 * (*fn - f - gd * step));
            step = fmin(fmax(t, 0.1 * step), 0.5 * step);
        } else {
            step *= 0.1;
        }
    }
    return 0;
}

/* Warm-started L-BFGS from params->theta, at most max_eval loss
 * evaluations (plus one to refactorize at the result when the last one was
 * elsewhere). The gradient is computed only at accepted points, and not
 * after the budget is spent. Ends with loss() at the returned theta. */
static int minimize_lbfgs(const protein_gp_objective *obj,
                          protein_gp_params *params, int max_eval,
                          double ftol_nats, fit_work *w,
                          protein_gp_fit_report *rep, char *errbuf,
                          size_t errlen)
{
    size_t nt = w->nt;
    double f, fn = 0;
    int rc, last_at_x;

    memcpy(w->x, params->theta, nt * sizeof(double));
    rc = eval_loss(obj, w->x, &f, rep, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    last_at_x = 1;
    if (rep->evaluations < max_eval) {
        rc = obj->gradient(obj->ctx, w->g, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        last_at_x = 0;
    }
    while (rep->evaluations < max_eval &&
           norm_inf(w->g, nt) >= LBFGS_GRAD_TOL) {
        lbfgs_direction(w);
        if (!(dot(w->g, w->dir, nt) < 0)) {
            /* Not a descent direction: forget the history. */
            w->count = 0;
            for (size_t k = 0; k < nt; k++)
                w->dir[k] = -w->g[k];
        }
        rc = line_search(obj, w, f, &fn, max_eval, rep, errbuf, errlen);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            last_at_x = 0;
            break;
        }
        rep->iterations_done++;
        if (rep->evaluations >= max_eval ||
            (f - fn) * (double)obj->n < ftol_nats) {
            f = fn;
            swap_ptr(&w->x, &w->xn);
            last_at_x = 1;
            break;
        }
        f = fn;
        rc = obj->gradient(obj->ctx, w->gn, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        lbfgs_push(w);
        swap_ptr(&w->x, &w->xn);
        swap_ptr(&w->g, &w->gn);
        last_at_x = 0;
    }
    memcpy(params->theta, w->x, nt * sizeof(double));
    params->lbfgs_count = w->count;
    params->lbfgs_head = w->head;
    if (!last_at_x) {
        rc = eval_loss(obj, w->x, &f, rep, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
    }
    rep->final_loss = f;
    return PROTEIN_OK;
}

/* Contract in gp.h. */
int protein_gp_fit_options_resolve(const protein_gp_fit_options *opts,
                                   protein_gp_fit_options *out, char *errbuf,
                                   size_t errlen)
{
    protein_gp_fit_options o = {0};

    if (opts != NULL)
        o = *opts;
    if (o.iterations == 0)
        o.iterations = DEFAULT_ITERATIONS;
    if (o.learning_rate == 0)
        o.learning_rate = DEFAULT_LEARNING_RATE;
    if (o.method == PROTEIN_GP_FIT_DEFAULT)
        o.method = PROTEIN_GP_FIT_LBFGS;
    if (o.max_evaluations == 0)
        o.max_evaluations = DEFAULT_MAX_EVALUATIONS;
    if (o.ftol_nats == 0)
        o.ftol_nats = PROTEIN_GP_LBFGS_FTOL_NATS;
    if (o.iterations < 0 || !(o.learning_rate > 0) || o.max_evaluations < 1 ||
        !(o.ftol_nats > 0) ||
        (o.method != PROTEIN_GP_FIT_ADAM && o.method != PROTEIN_GP_FIT_LBFGS))
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP fit: bad options (iterations %d, learning rate %g, method %d, "
            "max evaluations %d, ftol %g nats)",
            o.iterations, o.learning_rate, o.method, o.max_evaluations,
            o.ftol_nats);
    *out = o;
    return PROTEIN_OK;
}

/* Contract in gp.h. */
int protein_gp_minimize(const protein_gp_objective *obj,
                        protein_gp_params *params,
                        const protein_gp_fit_options *opts,
                        protein_gp_fit_report *report, char *errbuf,
                        size_t errlen)
{
    protein_gp_fit_options o = {0};
    protein_gp_fit_report rep = {0};
    fit_work w;
    int rc;

    if (obj == NULL || obj->loss == NULL || obj->gradient == NULL ||
        obj->n == 0 || params == NULL || params->theta == NULL ||
        params->d == 0)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP fit: no objective, observations or parameters");
    rc = protein_gp_fit_options_resolve(opts, &o, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    rc = fit_work_init(&w, params);
    if (rc != PROTEIN_OK)
        return protein_gp_fail(rc, errbuf, errlen, "GP fit: out of memory");
    if (o.method == PROTEIN_GP_FIT_ADAM)
        rc = minimize_adam(obj, params, o.iterations, o.learning_rate, &w, &rep,
                           errbuf, errlen);
    else
        rc = minimize_lbfgs(obj, params, o.max_evaluations, o.ftol_nats, &w,
                            &rep, errbuf, errlen);
    free(w.buf);
    if (rc == PROTEIN_OK && report != NULL)
        *report = rep;
    return rc;
}
