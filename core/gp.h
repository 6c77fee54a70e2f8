/*
 * gp.h - the exact Gaussian process behind Protein, and the backend table
 * through which the optimizer reaches it. The CPU/LAPACK backend is here in
 * core/; other backends live outside core/, implement the same table with
 * the shared pieces below, and are chosen by the program that links them.
 *
 * Model. Inputs X are n points in model space (row-major, n x d); targets y
 * are already normalized by the caller. With r^2 = sum_j ((x_j - x'_j)/l_j)^2:
 *
 *   k(x, x') = sf * ( x.x' + b + (1 + sqrt(3) r) exp(-sqrt(3) r) )
 *   K = k(X, X) + sn2 * I,   zero mean.
 *
 * Hyperparameters are stored raw, theta = [raw_l_1..raw_l_d, raw_sf, raw_b,
 * raw_sn2] (PROTEIN_GP_NTHETA(d) values) and mapped by softplus(raw) + 1e-4.
 * Initial values: l = 1, sf = 1, b = 1, sn2 = 0.01 (protein_gp_theta_init).
 *
 * Loss minimized by fit: -(MLL + sum_k log p(l_k))/n - log p(sn2), with
 *   MLL = -1/2 y'a - sum log L_ii - n/2 log 2pi,  a = K^-1 y,
 * a LogNormal(mu = ln 0.01, sigma = 0.5) prior on sn2 (Protein's) and a
 * LogNormal(0, 1) prior on each lengthscale (ours), softplus Jacobians
 * included. Protein moves theta only by 50 small Adam steps from l = 1, so
 * its lengthscales stay near 1; a fit run to convergence needs the
 * lengthscale prior, or the lengthscales of the parameters that matter
 * collapse on a few points (each point its own spike, the linear part
 * extrapolating to the box edges). docs/algorithm.md and
 * docs/benchmarks.md have the measurements.
 * Every backend computes exactly this loss and its analytic gradient; the
 * CPU backend is the oracle that others are tested against.
 *
 * On a failed Cholesky a backend retries with a jitter ladder added to the
 * diagonal (1e-8, 1e-6, 1e-4) before returning PROTEIN_ENUMERIC.
 */
#ifndef PROTEIN_GP_H
#define PROTEIN_GP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROTEIN_GP_NTHETA(d) ((d) + 3)
/* softplus(raw) + PROTEIN_GP_SOFTPLUS_FLOOR maps raw hyperparameters. */
#define PROTEIN_GP_SOFTPLUS_FLOOR 1e-4
/* Adam-amsgrad, as Protein runs it. */
#define PROTEIN_GP_ADAM_BETA1 0.9
#define PROTEIN_GP_ADAM_BETA2 0.999
#define PROTEIN_GP_ADAM_EPS 1e-8
/* The priors of the loss below, shared by every backend. */
#define PROTEIN_GP_NOISE_PRIOR_MU (-4.605170185988091) /* ln 0.01 */
#define PROTEIN_GP_NOISE_PRIOR_SIGMA 0.5
#define PROTEIN_GP_LENGTHSCALE_PRIOR_MU 0.0
#define PROTEIN_GP_LENGTHSCALE_PRIOR_SIGMA 1.0

/* Curvature pairs the L-BFGS fit keeps (added by gp). */
#define PROTEIN_GP_LBFGS_MEMORY 10

/* Optimizer state carried across refits (warm start). */
typedef struct protein_gp_params {
    size_t d;
    double *theta;        /* raw hyperparameters, PROTEIN_GP_NTHETA(d) */
    double *m, *v, *vmax; /* Adam-amsgrad moments, same length */
    long step;            /* Adam step count since the last reset */
    /* Added by gp: the L-BFGS history carried across refits, so that a
     * warm-started fit takes quasi-Newton steps from its first one:
     * PROTEIN_GP_LBFGS_MEMORY steps s, then as many gradient changes y,
     * each PROTEIN_GP_NTHETA(d) long, in ring order. */
    double *lbfgs_pairs;
    int lbfgs_count, lbfgs_head; /* pairs stored; next slot */
} protein_gp_params;

/* Hyperparameter optimizers (protein_gp_fit_options.method). Added by gp;
 * protein_gp_minimize (gp_common.c) is the reference implementation.
 *
 * PROTEIN_GP_FIT_ADAM is Protein's own loop: opts->iterations times, loss
 * and gradient at theta, then protein_gp_adam_step; a step to a theta where
 * K cannot be factorized is undone and ends the loop; a final loss() at the
 * returned theta.
 *
 * PROTEIN_GP_FIT_LBFGS (the default: it reaches a lower loss per unit time,
 * see the gp bench) is L-BFGS on theta_raw, warm-started from params->theta
 * AND from the curvature pairs of earlier fits kept in params:
 *  - loss and gradient at theta (at most opts->max_evaluations loss calls
 *    in all, each a Cholesky factorization);
 *  - direction by the two-loop recursion over the stored pairs, initial
 *    Hessian (s'y / y'y) I of the newest pair; if it is not a descent
 *    direction, the history is dropped and the direction is -g;
 *  - line search: first trial step 1, or 1 / max|dir_k| when no pairs are
 *    stored and that is smaller; accept on Armijo (c1 = 1e-4); else shrink
 *    to the minimizer of the quadratic through f, g.dir and the trial loss,
 *    clamped to [0.1, 0.5] of the step; a trial where K cannot be
 *    factorized shrinks the step tenfold;
 *  - stop when the budget is spent, when max|g_k| < PROTEIN_GP_LBFGS_GTOL,
 *    or when an accepted step lowers n * loss (the negative log posterior
 *    of all n observations, in nats) by less than opts->ftol_nats (no
 *    gradient is computed then);
 *  - a pair (s, y) is stored when s'y > 1e-10 |s| |y|;
 *  - if the last loss() call was not at the returned theta, one more. */
#define PROTEIN_GP_LBFGS_ARMIJO 1e-4
#define PROTEIN_GP_LBFGS_GTOL 1e-6
/* The default ftol_nats: a step worth less than a likelihood ratio of
 * 1.001 ends the fit. The rule is in nats of the whole posterior, not per
 * point, so that large warm refits stop once their steps stop mattering;
 * docs/benchmarks.md ("Choices behind the optimizer") has the figures. */
#define PROTEIN_GP_LBFGS_FTOL_NATS 0.001
enum {
    PROTEIN_GP_FIT_DEFAULT = 0,
    PROTEIN_GP_FIT_ADAM = 1,
    PROTEIN_GP_FIT_LBFGS = 2
};

/* Zero fields take their defaults; a NULL options pointer means all
 * defaults. */
typedef struct protein_gp_fit_options {
    int iterations;       /* Adam steps; default 50 */
    double learning_rate; /* Adam; default 1e-3 */
    int method;           /* PROTEIN_GP_FIT_*; 0 = PROTEIN_GP_FIT_LBFGS */
    int max_evaluations;  /* L-BFGS loss evaluations; default 12 (a
                           * warm refit usually stops after 2 to 4) */
    double ftol_nats;     /* L-BFGS stopping rule (above); default
                           * PROTEIN_GP_LBFGS_FTOL_NATS */
} protein_gp_fit_options;

typedef struct protein_gp_fit_report {
    int iterations_done; /* Adam steps / accepted L-BFGS steps */
    double final_loss;   /* -MLL/n - log prior at the returned theta */
    double jitter_used;  /* largest jitter any factorization of the fit
                          * needed; 0 when none was needed */
    int evaluations;     /* loss evaluations (Cholesky factorizations) */
} protein_gp_fit_report;

/* A GP backend. Each function returns a protein_status; errbuf (may be
 * NULL) receives a message on failure. A backend state holds the training
 * data and factorization of the last successful fit, for predict. */
typedef struct protein_gp_backend {
    const char *name; /* "cpu", ... */

    /* Allocates a backend state for d input dimensions. */
    int (*create)(void **state, size_t d, char *errbuf, size_t errlen);

    /* Loss and gradient (d loss / d theta_raw) at theta for data (X, y).
     * grad may be NULL. Used by tests and by fit. It replaces the state's
     * data, so predict needs a new fit afterwards (PROTEIN_EINVAL before). */
    int (*loss_grad)(void *state, const double *X, const double *y, size_t n,
                     const double *theta, double *loss, double *grad,
                     char *errbuf, size_t errlen);

    /* Fits theta from params (updated in place) with the method of opts
     * (NULL = defaults; see PROTEIN_GP_FIT_*), then keeps the
     * factorization of K at the returned theta for predict. X (n x d,
     * row-major) and y are copied. report may be NULL. */
    int (*fit)(void *state, const double *X, const double *y, size_t n,
               protein_gp_params *params, const protein_gp_fit_options *opts,
               protein_gp_fit_report *report, char *errbuf, size_t errlen);

    /* Posterior mean (and variance when var != NULL) at m points Xs
     * (m x d row-major), in the normalized target units. The variance is
     * that of the latent function (no sn2), clamped at 0. m = 0 is a
     * no-op; PROTEIN_EINVAL before a successful fit. */
    int (*predict)(void *state, const double *Xs, size_t m, double *mean,
                   double *var, char *errbuf, size_t errlen);

    /* Frees the state and all it holds; NULL is a no-op. */
    void (*destroy)(void *state);
} protein_gp_backend;

/* The LAPACK/BLAS reference backend. */
extern const protein_gp_backend protein_gp_backend_cpu;

#ifdef PROTEIN_FAULT_INJECTION
/* Test builds only (gp_cpu.c compiled into a test with
 * -DPROTEIN_FAULT_INJECTION): the next `count` CPU fits run, then fail with
 * PROTEIN_ENUMERIC ("injected fault: ...") and leave no fit to predict
 * from, as a fit whose kernel matrix cannot be factorized does. */
void protein_gp_cpu_inject_fit_failures(int count);
#endif

/* Allocates params for d dims with the initial theta and zero moments.
 * Returns PROTEIN_EINVAL for d == 0 or a NULL p, PROTEIN_ENOMEM when out of
 * memory (p is then left empty). Free with protein_gp_params_free. */
int protein_gp_params_init(protein_gp_params *p, size_t d);
/* Zeroes the Adam moments and step count and forgets the L-BFGS history
 * (theta is kept). */
void protein_gp_params_reset_moments(protein_gp_params *p);
/* Frees what params_init allocated and zeroes p; NULL-safe. */
void protein_gp_params_free(protein_gp_params *p);

/* Writes the initial raw theta (l = 1, sf = 1, b = 1, sn2 = 0.01) for d
 * dims into theta (PROTEIN_GP_NTHETA(d) values). */
void protein_gp_theta_init(double *theta, size_t d);

/* softplus(raw) + 1e-4 and its derivative. */
double protein_gp_softplus(double raw);
double protein_gp_softplus_grad(double raw);
/* The raw value whose softplus(raw) + 1e-4 is value (> 1e-4). */
double protein_gp_softplus_inverse(double value);

/* -log p(sn2) of the LogNormal(ln 0.01, 0.5) noise prior, softplus
 * Jacobian included, as a function of raw_sn2; its derivative with
 * respect to raw_sn2 goes to *grad when grad != NULL. */
double protein_gp_noise_prior(double raw_sn2, double *grad);

/* Sum over the d lengthscales of -log p(l_k) under the lengthscale prior,
 * softplus Jacobian included, divided by n (the loss is per observation);
 * when grad != NULL, adds the derivative with respect to raw l_k to
 * grad[k] for k < d. */
double protein_gp_lengthscale_prior(const double *theta, size_t d, size_t n,
                                    double *grad);

/* One Adam-amsgrad update (beta 0.9/0.999, eps 1e-8) of params->theta from
 * grad; shared by all backends that run the loop on the host. */
void protein_gp_adam_step(protein_gp_params *params, const double *grad,
                          double learning_rate);

/* Added by gp: the host-side fit loop shared by the backends. A backend
 * supplies its loss and gradient as an objective:
 *   loss(ctx, theta, &loss, &jitter, ...) evaluates the loss at theta
 *     (factorizing K, with the jitter ladder; *jitter = the jitter used)
 *     and keeps what gradient() needs; PROTEIN_ENUMERIC marks a theta
 *     where K cannot be factorized (the optimizer then backs off).
 *   gradient(ctx, grad, ...) writes d loss / d theta_raw at the theta of
 *     the last successful loss() call.
 *   n is the number of observations: the loss is per observation, and
 *     L-BFGS's stopping rule is in nats of n * loss. */
typedef struct protein_gp_objective {
    void *ctx;
    int (*loss)(void *ctx, const double *theta, double *loss, double *jitter,
                char *errbuf, size_t errlen);
    int (*gradient)(void *ctx, double *grad, char *errbuf, size_t errlen);
    size_t n;
} protein_gp_objective;

/* Copies opts (NULL = all defaults) to out with every zero field set to
 * its default (iterations 50, learning rate 1e-3, method L-BFGS, at most
 * 12 loss evaluations, ftol_nats 0.001). PROTEIN_EINVAL with a message for
 * options no fit can use; PROTEIN_OK otherwise. Every backend resolves
 * options here. */
int protein_gp_fit_options_resolve(const protein_gp_fit_options *opts,
                                   protein_gp_fit_options *out, char *errbuf,
                                   size_t errlen);

/* Minimizes obj from params->theta with the method of opts (NULL = all
 * defaults) and writes the result back to params (theta, and the Adam
 * moments for PROTEIN_GP_FIT_ADAM). On success the last call made to
 * obj was loss() at the returned theta, so the backend's factorization
 * matches it. Fails with PROTEIN_EINVAL for bad options or obj->n == 0,
 * PROTEIN_ENUMERIC when K cannot be factorized even at the starting theta,
 * or whatever obj returned otherwise; report (may be NULL) is filled on
 * success. */
int protein_gp_minimize(const protein_gp_objective *obj,
                        protein_gp_params *params,
                        const protein_gp_fit_options *opts,
                        protein_gp_fit_report *report, char *errbuf,
                        size_t errlen);

/* Formats a message into errbuf (NULL-safe, always terminated) and returns
 * status, for "return protein_gp_fail(PROTEIN_EINVAL, errbuf, ...)". */
int protein_gp_fail(int status, char *errbuf, size_t errlen, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_GP_H */
