#include "config.h"

/*
 * test_gp.c - CUnit suite for the exact GP (core/gp.h): the shared host
 * pieces (softplus, noise and lengthscale priors, params, Adam, the fit
 * loop), the CPU backend (loss against a direct computation, analytic
 * gradient against finite differences, prediction, the jitter ladder,
 * both fit methods, argument errors). Every problem is generated from a
 * fixed seed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "gp.h"
#include "protein.h"

static const protein_gp_backend *cpu = &protein_gp_backend_cpu;

static protein_rng rng;

/* n random points in [0,1]^d and targets from a smooth function plus a
 * little noise, as the optimizer would hand them over. */
static void make_problem(uint64_t seed, size_t n, size_t d, double *X,
                         double *y)
{
    protein_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < d; k++) {
            X[i * d + k] = protein_rng_uniform(&rng);
            s += sin(3.0 * X[i * d + k] + (double)k) / (double)(k + 1);
        }
        y[i] = s + 0.05 * (protein_rng_uniform(&rng) - 0.5);
    }
}

/* A raw value whose softplus is exactly target (searched over the
 * neighbouring doubles of the analytic inverse); NAN when none is. */
static double raw_exact(double target)
{
    double lo = protein_gp_softplus_inverse(target), hi = lo;

    for (int i = 0; i < 4096; i++) {
        if (protein_gp_softplus(lo) == target)
            return lo;
        if (protein_gp_softplus(hi) == target)
            return hi;
        lo = nextafter(lo, -INFINITY);
        hi = nextafter(hi, INFINITY);
    }
    return NAN;
}

/* ------------------------------------------------------------ common */

static void test_softplus(void)
{
    const double vals[] = {1e-3, 0.01, 1.0, 3.5, 50.0, 1e6};
    const double raws[] = {-40.0, -3.0, 0.0, 2.0, 40.0};

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        CU_ASSERT_DOUBLE_EQUAL(
            protein_gp_softplus(protein_gp_softplus_inverse(vals[i])), vals[i],
            1e-12 * vals[i]);
    CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus(0.0), log(2.0) + 1e-4, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus(-800.0), 1e-4, 1e-20);
    CU_ASSERT(isfinite(protein_gp_softplus(800.0)));
    CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus(800.0), 800.0001, 1e-9);
    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        double h = 1e-6, r = raws[i];
        double fd =
            (protein_gp_softplus(r + h) - protein_gp_softplus(r - h)) / (2 * h);
        CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus_grad(r), fd, 1e-8);
    }
    CU_ASSERT(protein_gp_softplus_grad(-800.0) >= 0);
    CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus_grad(800.0), 1.0, 1e-15);
}

static void test_noise_prior(void)
{
    /* Direct LogNormal(ln 0.01, 0.5) log density plus log sigmoid(raw). */
    const double raws[] = {-6.0, -4.6, -2.0, 0.5};

    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        double r = raws[i], g, h = 1e-6;
        double x = log1p(exp(r)) + 1e-4;
        double z = (log(x) - log(0.01)) / 0.5;
        double logp = -log(x * 0.5 * sqrt(2 * M_PI)) - 0.5 * z * z +
                      log(1.0 / (1.0 + exp(-r)));
        double v = protein_gp_noise_prior(r, &g);
        double fd = (protein_gp_noise_prior(r + h, NULL) -
                     protein_gp_noise_prior(r - h, NULL)) /
                    (2 * h);

        CU_ASSERT_DOUBLE_EQUAL(v, -logp, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(g, fd, 1e-6 * fmax(1.0, fabs(fd)));
    }
}

/* -log of the direct LogNormal(0, 1) density at softplus(raw) + 1e-4,
 * minus log sigmoid(raw): one lengthscale's prior term. */
static double lengthscale_neglogp(double raw)
{
    double x = log1p(exp(raw)) + 1e-4;
    double z = log(x);

    return log(x * sqrt(2 * M_PI)) + 0.5 * z * z + log1p(exp(-raw));
}

static void test_lengthscale_prior(void)
{
    const double theta[4] = {-5.0, -0.5, 0.54, 3.0};
    const size_t d = 4, n = 7;
    double grad[4] = {0.25, 0.25, 0.25, 0.25}, want = 0, h = 1e-6;

    CU_ASSERT(PROTEIN_GP_LENGTHSCALE_PRIOR_MU == 0.0);
    CU_ASSERT(PROTEIN_GP_LENGTHSCALE_PRIOR_SIGMA == 1.0);
    for (size_t k = 0; k < d; k++)
        want += lengthscale_neglogp(theta[k]);
    CU_ASSERT_DOUBLE_EQUAL(protein_gp_lengthscale_prior(theta, d, n, grad),
                           want / (double)n, 1e-12);
    /* The gradient is added to what grad held, each term divided by n. */
    for (size_t k = 0; k < d; k++) {
        double fd = (lengthscale_neglogp(theta[k] + h) -
                     lengthscale_neglogp(theta[k] - h)) /
                    (2 * h);
        CU_ASSERT_DOUBLE_EQUAL(grad[k] - 0.25, fd / (double)n,
                               1e-6 * fmax(1.0, fabs(fd)));
    }
    /* A collapsing lengthscale costs more than one near 1. */
    CU_ASSERT(lengthscale_neglogp(-9.0) > lengthscale_neglogp(0.54) + 5.0);
}

static void test_fit_options_resolve(void)
{
    protein_gp_fit_options in = {0}, out;
    char err[256] = "";

    CU_ASSERT_EQUAL_FATAL(
        protein_gp_fit_options_resolve(NULL, &out, err, sizeof(err)),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(out.iterations, 50);
    CU_ASSERT_DOUBLE_EQUAL(out.learning_rate, 1e-3, 0);
    CU_ASSERT_EQUAL(out.method, PROTEIN_GP_FIT_LBFGS);
    CU_ASSERT_EQUAL(out.max_evaluations, 12);
    CU_ASSERT_DOUBLE_EQUAL(out.ftol_nats, PROTEIN_GP_LBFGS_FTOL_NATS, 0);
    in.method = PROTEIN_GP_FIT_ADAM;
    in.iterations = 7;
    CU_ASSERT_EQUAL_FATAL(
        protein_gp_fit_options_resolve(&in, &out, err, sizeof(err)),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(out.method, PROTEIN_GP_FIT_ADAM);
    CU_ASSERT_EQUAL(out.iterations, 7);
    in.learning_rate = -1;
    CU_ASSERT_EQUAL(protein_gp_fit_options_resolve(&in, &out, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad options"));
}

static void test_params(void)
{
    protein_gp_params p;
    size_t d = 4;

    CU_ASSERT_EQUAL(protein_gp_params_init(&p, 0), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(protein_gp_params_init(NULL, 3), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, d), PROTEIN_OK);
    CU_ASSERT_EQUAL(p.d, d);
    CU_ASSERT_EQUAL(p.step, 0);
    for (size_t k = 0; k < d + 2; k++)
        CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus(p.theta[k]), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(protein_gp_softplus(p.theta[d + 2]), 0.01, 1e-14);
    for (size_t k = 0; k < PROTEIN_GP_NTHETA(d); k++)
        CU_ASSERT(p.m[k] == 0 && p.v[k] == 0 && p.vmax[k] == 0);

    {
        /* The first Adam step moves every coordinate by lr against the sign
         * of its gradient (bias-corrected m / sqrt(v) = sign(g)). */
        double g[PROTEIN_GP_NTHETA(4)] = {1.0,  -2.0, 0.5, 3.0,
                                          -1.0, 1e-3, -7.0};
        double before[PROTEIN_GP_NTHETA(4)];

        memcpy(before, p.theta, sizeof(before));
        protein_gp_adam_step(&p, g, 0.01);
        CU_ASSERT_EQUAL(p.step, 1);
        for (size_t k = 0; k < PROTEIN_GP_NTHETA(d); k++)
            CU_ASSERT_DOUBLE_EQUAL(p.theta[k] - before[k],
                                   g[k] > 0 ? -0.01 : 0.01, 1e-6);
        /* amsgrad: vmax keeps the largest second moment. */
        g[0] = 0.0;
        protein_gp_adam_step(&p, g, 0.01);
        CU_ASSERT(p.vmax[0] > p.v[0]);
    }
    protein_gp_params_reset_moments(&p);
    CU_ASSERT_EQUAL(p.step, 0);
    CU_ASSERT(p.m[1] == 0 && p.v[1] == 0 && p.vmax[0] == 0);
    protein_gp_params_free(&p);
    CU_ASSERT_PTR_NULL(p.theta);
    protein_gp_params_free(&p);
    protein_gp_params_free(NULL);
}

/* A quadratic objective for the fit loop: loss = sum c_k (t_k - 1)^2. */
typedef struct quad_ctx {
    double t[5];
    int calls_loss, calls_grad, fail_above; /* fail when t_0 > fail_above */
} quad_ctx;

static int quad_loss(void *ctx, const double *theta, double *loss,
                     double *jitter, char *errbuf, size_t errlen)
{
    quad_ctx *q = ctx;

    q->calls_loss++;
    if (q->fail_above && theta[0] > q->fail_above)
        return protein_gp_fail(PROTEIN_ENUMERIC, errbuf, errlen, "singular");
    memcpy(q->t, theta, sizeof(q->t));
    *loss = 0;
    for (int k = 0; k < 5; k++)
        *loss += (k + 1) * (theta[k] - 1) * (theta[k] - 1);
    *jitter = 0;
    return PROTEIN_OK;
}

static int quad_grad(void *ctx, double *grad, char *errbuf, size_t errlen)
{
    quad_ctx *q = ctx;

    q->calls_grad++;
    for (int k = 0; k < 5; k++)
        grad[k] = 2.0 * (k + 1) * (q->t[k] - 1);
    return PROTEIN_OK;
}

static void test_minimize(void)
{
    quad_ctx q = {0};
    protein_gp_objective obj = {&q, quad_loss, quad_grad, 1};
    protein_gp_params p;
    protein_gp_fit_options o = {0};
    protein_gp_fit_report rep;
    char err[256] = "";

    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, 2), PROTEIN_OK);
    for (int k = 0; k < 5; k++)
        p.theta[k] = 0;

    o.method = PROTEIN_GP_FIT_LBFGS;
    o.max_evaluations = 30;
    o.ftol_nats = 1e-12; /* run to the minimum */
    CU_ASSERT_EQUAL(protein_gp_minimize(&obj, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_OK);
    CU_ASSERT(rep.final_loss < 1e-8);
    CU_ASSERT(rep.evaluations <= 31);
    CU_ASSERT(rep.iterations_done > 0);
    for (int k = 0; k < 5; k++) {
        CU_ASSERT_DOUBLE_EQUAL(p.theta[k], 1.0, 1e-4);
        /* The last loss() call was at the returned theta. */
        CU_ASSERT_EQUAL(q.t[k], p.theta[k]);
    }
    CU_ASSERT(p.lbfgs_count > 0);
    {
        /* The stored pairs carry the curvature to the next fit: from a new
         * start it converges in fewer evaluations than without them. */
        protein_gp_fit_report with, without;

        for (int k = 0; k < 5; k++)
            p.theta[k] = -1.0 + 0.3 * k;
        CU_ASSERT_EQUAL(
            protein_gp_minimize(&obj, &p, &o, &with, err, sizeof(err)),
            PROTEIN_OK);
        for (int k = 0; k < 5; k++)
            p.theta[k] = -1.0 + 0.3 * k;
        protein_gp_params_reset_moments(&p);
        CU_ASSERT_EQUAL(p.lbfgs_count, 0);
        CU_ASSERT_EQUAL(
            protein_gp_minimize(&obj, &p, &o, &without, err, sizeof(err)),
            PROTEIN_OK);
        CU_ASSERT(with.final_loss < 1e-8 && without.final_loss < 1e-8);
        CU_ASSERT(with.evaluations < without.evaluations);
    }
    {
        /* The default rule stops once a step gains less than 0.001 nats of
         * n * loss: sooner than the tight one, and near the minimum. With
         * 100 observations the same step sizes are worth 100 times more
         * nats, so it runs longer. */
        protein_gp_fit_options dflt = {.max_evaluations = 30};
        protein_gp_fit_report loose, hundred;
        protein_gp_objective many = obj;

        for (int k = 0; k < 5; k++)
            p.theta[k] = 0;
        protein_gp_params_reset_moments(&p);
        CU_ASSERT_EQUAL(
            protein_gp_minimize(&obj, &p, &dflt, &loose, err, sizeof(err)),
            PROTEIN_OK);
        CU_ASSERT(loose.evaluations < rep.evaluations);
        CU_ASSERT(loose.final_loss < 0.005);
        CU_ASSERT(loose.final_loss > rep.final_loss);
        for (int k = 0; k < 5; k++)
            p.theta[k] = 0;
        protein_gp_params_reset_moments(&p);
        many.n = 100;
        CU_ASSERT_EQUAL(
            protein_gp_minimize(&many, &p, &dflt, &hundred, err, sizeof(err)),
            PROTEIN_OK);
        CU_ASSERT(hundred.evaluations > loose.evaluations);
        CU_ASSERT(hundred.final_loss < loose.final_loss);
        /* No observations, or a tolerance that is no tolerance: refused. */
        many.n = 0;
        CU_ASSERT_EQUAL(
            protein_gp_minimize(&many, &p, &dflt, &loose, err, sizeof(err)),
            PROTEIN_EINVAL);
        dflt.ftol_nats = -1;
        CU_ASSERT_EQUAL(
            protein_gp_minimize(&obj, &p, &dflt, &loose, err, sizeof(err)),
            PROTEIN_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "ftol -1 nats"));
    }

    /* Adam: iterations steps of size ~lr from 0 towards 1. */
    for (int k = 0; k < 5; k++)
        p.theta[k] = 0;
    protein_gp_params_reset_moments(&p);
    memset(&o, 0, sizeof(o));
    o.method = PROTEIN_GP_FIT_ADAM;
    o.iterations = 20;
    o.learning_rate = 0.01;
    q.calls_loss = q.calls_grad = 0;
    CU_ASSERT_EQUAL(protein_gp_minimize(&obj, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(rep.iterations_done, 20);
    CU_ASSERT_EQUAL(q.calls_grad, 20);
    CU_ASSERT_EQUAL(q.calls_loss, 21);
    CU_ASSERT_EQUAL(p.step, 20);
    /* amsgrad keeps each step at most lr; the shrinking gradient makes
     * the later ones a little shorter. */
    CU_ASSERT(p.theta[0] > 0.18 && p.theta[0] <= 0.2 + 1e-12);
    CU_ASSERT(rep.final_loss < 15.0);

    /* A step into a singular region is undone and ends the loop. */
    for (int k = 0; k < 5; k++)
        p.theta[k] = 0;
    protein_gp_params_reset_moments(&p);
    q.fail_above = 1;
    o.learning_rate = 0.3;
    CU_ASSERT_EQUAL(protein_gp_minimize(&obj, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_OK);
    CU_ASSERT(rep.iterations_done < 20);
    CU_ASSERT(p.theta[0] <= 1);
    CU_ASSERT_EQUAL(q.t[0], p.theta[0]);

    /* L-BFGS backs off from singular trial points too. */
    for (int k = 0; k < 5; k++)
        p.theta[k] = 0;
    q.fail_above = 1;
    o.method = PROTEIN_GP_FIT_LBFGS;
    o.max_evaluations = 40;
    o.ftol_nats = 1e-12;
    CU_ASSERT_EQUAL(protein_gp_minimize(&obj, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_OK);
    CU_ASSERT(p.theta[0] <= 1);
    CU_ASSERT(rep.final_loss < 1e-6);

    /* A singular starting point is an error; so are bad options. */
    p.theta[0] = 5;
    CU_ASSERT_EQUAL(protein_gp_minimize(&obj, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_ENUMERIC);
    o.method = 7;
    CU_ASSERT_EQUAL(protein_gp_minimize(&obj, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "method 7") != NULL);
    CU_ASSERT_EQUAL(protein_gp_minimize(NULL, &p, NULL, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    protein_gp_params_free(&p);
}

/* ------------------------------------------------------------ cpu backend */

/* Loss and gradient at theta on a fresh state. */
static int loss_grad(size_t d, const double *X, const double *y, size_t n,
                     const double *theta, double *loss, double *grad)
{
    void *st = NULL;
    char err[256];
    int rc = cpu->create(&st, d, err, sizeof(err));

    if (rc != PROTEIN_OK)
        return rc;
    rc = cpu->loss_grad(st, X, y, n, theta, loss, grad, err, sizeof(err));
    cpu->destroy(st);
    return rc;
}

static void test_loss_direct(void)
{
    /* n = 3, d = 2: K built entry by entry, inverted by cofactors. */
    const double X[6] = {0.1, 0.9, 0.5, 0.3, 0.8, 0.7};
    const double y[3] = {0.4, -0.2, 1.1};
    double theta[PROTEIN_GP_NTHETA(2)] = {0.3, -0.4, 0.2, 0.7, -3.0};
    double h[5], K[3][3], C[3][3], det, quad = 0, loss, want;

    for (int k = 0; k < 5; k++)
        h[k] = log1p(exp(theta[k])) + 1e-4;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double a = (X[2 * i] - X[2 * j]) / h[0];
            double b = (X[2 * i + 1] - X[2 * j + 1]) / h[1];
            double r = sqrt(a * a + b * b);
            double lin = X[2 * i] * X[2 * j] + X[2 * i + 1] * X[2 * j + 1];
            K[i][j] =
                h[2] * (lin + h[3] + (1 + sqrt(3.0) * r) * exp(-sqrt(3.0) * r));
            if (i == j)
                K[i][j] += h[4];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            int i1 = (i + 1) % 3, i2 = (i + 2) % 3;
            int j1 = (j + 1) % 3, j2 = (j + 2) % 3;
            C[j][i] = K[i1][j1] * K[i2][j2] - K[i1][j2] * K[i2][j1];
        }
    det = K[0][0] * C[0][0] + K[0][1] * C[1][0] + K[0][2] * C[2][0];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            quad += y[i] * C[i][j] / det * y[j];
    want = (0.5 * quad + 0.5 * log(det) + 1.5 * log(2 * M_PI) +
            lengthscale_neglogp(theta[0]) + lengthscale_neglogp(theta[1])) /
               3.0 +
           protein_gp_noise_prior(theta[4], NULL);
    CU_ASSERT_EQUAL_FATAL(loss_grad(2, X, y, 3, theta, &loss, NULL),
                          PROTEIN_OK);
    CU_ASSERT_DOUBLE_EQUAL(loss, want, 1e-12 * fabs(want));
}

/* Central differences, h = 1e-5: truncation and rounding errors are both
 * near 1e-10 here (measured: at most 2.3e-10), so each component must
 * agree with the analytic one to 1e-8 relative to the gradient's largest
 * component (at least 1). */
static void check_gradient(size_t d, size_t n, uint64_t seed)
{
    size_t nt = PROTEIN_GP_NTHETA(d);
    double *X = malloc(n * d * sizeof(double)), *y = malloc(n * sizeof(double));
    double theta[PROTEIN_GP_NTHETA(8)], g[PROTEIN_GP_NTHETA(8)], loss;
    double scale = 1.0;

    CU_ASSERT_FATAL(X != NULL && y != NULL && d <= 8);
    make_problem(seed, n, d, X, y);
    protein_gp_theta_init(theta, d);
    for (size_t k = 0; k < nt; k++)
        theta[k] += protein_rng_uniform(&rng) - 0.5;
    CU_ASSERT_EQUAL_FATAL(loss_grad(d, X, y, n, theta, &loss, g), PROTEIN_OK);
    for (size_t k = 0; k < nt; k++)
        scale = fmax(scale, fabs(g[k]));
    for (size_t k = 0; k < nt; k++) {
        double tp[PROTEIN_GP_NTHETA(8)], tm[PROTEIN_GP_NTHETA(8)], fp, fm;
        double h = 1e-5;

        memcpy(tp, theta, nt * sizeof(double));
        memcpy(tm, theta, nt * sizeof(double));
        tp[k] += h;
        tm[k] -= h;
        CU_ASSERT_EQUAL_FATAL(loss_grad(d, X, y, n, tp, &fp, NULL), PROTEIN_OK);
        CU_ASSERT_EQUAL_FATAL(loss_grad(d, X, y, n, tm, &fm, NULL), PROTEIN_OK);
        CU_ASSERT_DOUBLE_EQUAL(g[k], (fp - fm) / (2 * h), 1e-8 * scale);
    }
    free(X);
    free(y);
}

static void test_gradient_d1(void)
{
    check_gradient(1, 25, 11);
}
static void test_gradient_d3(void)
{
    check_gradient(3, 40, 12);
}
static void test_gradient_d8(void)
{
    check_gradient(8, 60, 13);
}

static void test_predict(void)
{
    enum { N = 30, D = 3 };
    double X[N * D], y[N], mean[N + 2], var[N + 2], far[2 * D];
    void *st = NULL;
    protein_gp_params p;
    protein_gp_fit_options o = {0};
    protein_gp_fit_report rep;
    char err[256];

    make_problem(21, N, D, X, y);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, D, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    /* Predict before fit is refused. */
    CU_ASSERT_EQUAL(cpu->predict(st, X, 1, mean, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    /* One evaluation: factorize at the initial theta with the noise at its
     * floor (sn2 = 1e-4 + 2e-22) and short lengthscales. */
    p.theta[D + 2] = -50;
    for (int k = 0; k < D; k++)
        p.theta[k] = protein_gp_softplus_inverse(0.3);
    o.method = PROTEIN_GP_FIT_LBFGS;
    o.max_evaluations = 1;
    CU_ASSERT_EQUAL_FATAL(cpu->fit(st, X, y, N, &p, &o, &rep, err, sizeof(err)),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL(rep.evaluations, 1);
    CU_ASSERT_EQUAL(rep.jitter_used, 0);
    for (int k = 0; k < D; k++) {
        far[k] = 2.5;
        far[D + k] = -1.5;
    }
    /* Training points, then two points far from the data. */
    CU_ASSERT_EQUAL_FATAL(cpu->predict(st, X, N, mean, var, err, sizeof(err)),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(
        cpu->predict(st, far, 2, mean + N, var + N, err, sizeof(err)),
        PROTEIN_OK);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_DOUBLE_EQUAL(mean[i], y[i], 1e-2);
        CU_ASSERT(var[i] >= 0);
        CU_ASSERT(var[i] < 2e-4);
    }
    CU_ASSERT(var[N] > 0.5);
    CU_ASSERT(var[N + 1] > 0.5);
    {
        /* Variance grows along a ray leaving the data. */
        double ray[4 * D], m4[4], v4[4];
        for (int s = 0; s < 4; s++)
            for (int k = 0; k < D; k++)
                ray[s * D + k] = 0.5 + 0.4 * s;
        CU_ASSERT_EQUAL(cpu->predict(st, ray, 4, m4, v4, err, sizeof(err)),
                        PROTEIN_OK);
        for (int s = 1; s < 4; s++)
            CU_ASSERT(v4[s] > v4[s - 1]);
        /* The mean without the variance is the same. */
        double m4b[4];
        CU_ASSERT_EQUAL(cpu->predict(st, ray, 4, m4b, NULL, err, sizeof(err)),
                        PROTEIN_OK);
        for (int s = 0; s < 4; s++)
            CU_ASSERT_EQUAL(m4b[s], m4[s]);
    }
    /* Zero points is a no-op; NULL points or NaN are refused. */
    CU_ASSERT_EQUAL(cpu->predict(st, NULL, 0, NULL, NULL, err, sizeof(err)),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(cpu->predict(st, NULL, 3, mean, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    far[1] = NAN;
    CU_ASSERT_EQUAL(cpu->predict(st, far, 1, mean, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "NaN") != NULL);
    protein_gp_params_free(&p);
    cpu->destroy(st);
}

/* In-place Cholesky A = L L' of an n x n row-major SPD matrix (lower
 * triangle), then x = A^-1 b in place: the test's own direct solver. */
static void direct_solve(double *A, size_t n, double *b)
{
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < j; k++)
            A[j * n + j] -= A[j * n + k] * A[j * n + k];
        A[j * n + j] = sqrt(A[j * n + j]);
        for (size_t i = j + 1; i < n; i++) {
            for (size_t k = 0; k < j; k++)
                A[i * n + j] -= A[i * n + k] * A[j * n + k];
            A[i * n + j] /= A[j * n + j];
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            b[i] -= A[i * n + k] * b[k];
        b[i] /= A[i * n + i];
    }
    for (size_t i = n; i-- > 0;) {
        for (size_t k = i + 1; k < n; k++)
            b[i] -= A[k * n + i] * b[k];
        b[i] /= A[i * n + i];
    }
}

/* k(a, b) from the definition in gp.h, distances summed directly. */
static double direct_kernel(const double *a, const double *b, size_t d,
                            const double *theta)
{
    double r2 = 0, lin = 0, r;

    for (size_t k = 0; k < d; k++) {
        double z = (a[k] - b[k]) / protein_gp_softplus(theta[k]);
        r2 += z * z;
        lin += a[k] * b[k];
    }
    r = sqrt(r2);
    return protein_gp_softplus(theta[d]) *
           (lin + protein_gp_softplus(theta[d + 1]) +
            (1 + sqrt(3.0) * r) * exp(-sqrt(3.0) * r));
}

/* The mean (from the gemm distances and X' alpha) and the variance agree
 * with the posterior computed entry by entry: at random points, at the
 * training points (gemm distances near 0) and far away (Matern part 0).
 * N = 43 leaves a tail after the four-wide loop. */
static void test_predict_direct(void)
{
    enum { N = 43, D = 5, M = N + 24 };
    double X[N * D], y[N], Xs[M * D], mean[M], var[M], mean_only[M];
    double *K = malloc(N * N * sizeof(double));
    double *C = malloc(N * N * sizeof(double));
    double theta[PROTEIN_GP_NTHETA(D)], alpha[N], kx[N];
    void *st = NULL;
    protein_gp_params p;
    protein_gp_fit_options o = {.method = PROTEIN_GP_FIT_LBFGS,
                                .max_evaluations = 1};
    protein_gp_fit_report rep;
    char err[256];

    CU_ASSERT_FATAL(K != NULL && C != NULL);
    make_problem(41, N, D, X, y);
    protein_gp_theta_init(theta, D);
    for (size_t k = 0; k < PROTEIN_GP_NTHETA(D); k++)
        theta[k] += protein_rng_uniform(&rng) - 0.5;
    memcpy(Xs, X, sizeof(X));
    for (size_t i = N * D; i < (M - 1) * D; i++)
        Xs[i] = 1.5 * protein_rng_uniform(&rng) - 0.25;
    for (size_t k = 0; k < D; k++)
        Xs[(M - 1) * D + k] = 1e3;
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, D, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    memcpy(p.theta, theta, sizeof(theta));
    CU_ASSERT_EQUAL_FATAL(cpu->fit(st, X, y, N, &p, &o, &rep, err, sizeof(err)),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL(rep.jitter_used, 0);
    CU_ASSERT_EQUAL_FATAL(cpu->predict(st, Xs, M, mean, var, err, sizeof(err)),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(
        cpu->predict(st, Xs, M, mean_only, NULL, err, sizeof(err)), PROTEIN_OK);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++)
            K[i * N + j] = direct_kernel(X + i * D, X + j * D, D, theta);
        K[i * N + i] += protein_gp_softplus(theta[D + 2]);
    }
    memcpy(alpha, y, sizeof(y));
    memcpy(C, K, N * N * sizeof(double));
    direct_solve(C, N, alpha);
    for (size_t c = 0; c < M; c++) {
        const double *xs = Xs + c * D;
        double want = 0, scale = 0, prior = direct_kernel(xs, xs, D, theta);
        double v = prior;

        for (size_t i = 0; i < N; i++) {
            kx[i] = direct_kernel(X + i * D, xs, D, theta);
            want += alpha[i] * kx[i];
            scale += fabs(alpha[i] * kx[i]);
        }
        CU_ASSERT_DOUBLE_EQUAL(mean[c], want, 1e-12 * scale);
        CU_ASSERT_EQUAL(mean_only[c], mean[c]);
        memcpy(C, K, N * N * sizeof(double));
        {
            double s[N];

            memcpy(s, kx, sizeof(s));
            direct_solve(C, N, s);
            for (size_t i = 0; i < N; i++)
                v -= kx[i] * s[i];
        }
        CU_ASSERT_DOUBLE_EQUAL(var[c], v > 0 ? v : 0, 1e-10 * prior);
    }
    protein_gp_params_free(&p);
    cpu->destroy(st);
    free(K);
    free(C);
}

/* Chunked prediction (more candidates than one chunk) agrees with
 * point-by-point prediction. */
static void test_predict_chunks(void)
{
    enum { N = 300, D = 2, M = 4200 };
    double *X = malloc(N * D * sizeof(double)), *y = malloc(N * sizeof(double));
    double *Xs = malloc(M * D * sizeof(double));
    double *mean = malloc(M * sizeof(double)),
           *var = malloc(M * sizeof(double));
    void *st = NULL;
    protein_gp_params p;
    protein_gp_fit_options o = {.method = PROTEIN_GP_FIT_LBFGS,
                                .max_evaluations = 1};
    char err[256];

    CU_ASSERT_FATAL(X && y && Xs && mean && var);
    make_problem(31, N, D, X, y);
    for (size_t i = 0; i < M * D; i++)
        Xs[i] = protein_rng_uniform(&rng);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, D, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cpu->fit(st, X, y, N, &p, &o, NULL, err, sizeof(err)),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cpu->predict(st, Xs, M, mean, var, err, sizeof(err)),
                          PROTEIN_OK);
    for (size_t i = 0; i < M; i += 487) {
        double m1, v1;
        CU_ASSERT_EQUAL(
            cpu->predict(st, Xs + i * D, 1, &m1, &v1, err, sizeof(err)),
            PROTEIN_OK);
        CU_ASSERT_DOUBLE_EQUAL(m1, mean[i], 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(v1, var[i], 1e-9);
    }
    protein_gp_params_free(&p);
    cpu->destroy(st);
    free(X);
    free(y);
    free(Xs);
    free(mean);
    free(var);
}

static void test_jitter_ladder(void)
{
    /* Three copies of x = 0 with sf = 1 and b = 2^40 - 1, both exact: every
     * entry of k(X, X) is 2^40, whose half ulp (2^-13) swallows sn2 = 1e-4,
     * so K is exactly singular. sn2 + 1e-8 and sn2 + 1e-6 are swallowed too;
     * sn2 + 1e-4 adds one ulp to the diagonal, which makes K positive
     * definite. With sf = 4 (entries 2^42, still a perfect square) the
     * ulp is four times larger and nothing helps. */
    const double X[3] = {0, 0, 0}, y[3] = {0.1, 0.2, 0.3};
    double theta[PROTEIN_GP_NTHETA(1)], loss;
    protein_gp_params p;
    protein_gp_fit_options o = {.method = PROTEIN_GP_FIT_LBFGS,
                                .max_evaluations = 1};
    protein_gp_fit_report rep;
    void *st = NULL;
    char err[256] = "";

    theta[0] = 0;
    theta[1] = raw_exact(1.0);
    theta[2] = raw_exact(1099511627775.0);
    theta[3] = -50;
    CU_ASSERT_FATAL(!isnan(theta[1]) && !isnan(theta[2]));
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, 1, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, 1), PROTEIN_OK);
    memcpy(p.theta, theta, sizeof(theta));
    CU_ASSERT_EQUAL(cpu->fit(st, X, y, 3, &p, &o, &rep, err, sizeof(err)),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(rep.jitter_used, 1e-4);
    CU_ASSERT(isfinite(rep.final_loss));

    theta[1] = raw_exact(4.0);
    CU_ASSERT_FATAL(!isnan(theta[1]));
    CU_ASSERT_EQUAL(
        cpu->loss_grad(st, X, y, 3, theta, &loss, NULL, err, sizeof(err)),
        PROTEIN_ENUMERIC);
    CU_ASSERT(strstr(err, "not positive definite") != NULL);
    /* loss_grad replaced the fitted data: predict needs a new fit. */
    CU_ASSERT_EQUAL(cpu->predict(st, X, 1, &loss, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    protein_gp_params_free(&p);
    cpu->destroy(st);
}

/* Both methods lower the loss from the initial theta, and L-BFGS with 12
 * evaluations gets lower than 50 Adam steps. */
static void test_fit_methods(void)
{
    enum { N = 80, D = 4 };
    double X[N * D], y[N], loss0;
    double theta0[PROTEIN_GP_NTHETA(D)];
    protein_gp_params p;
    protein_gp_fit_report adam, lbfgs, dflt;
    protein_gp_fit_options o = {0};
    void *st = NULL;
    char err[256];

    make_problem(41, N, D, X, y);
    protein_gp_theta_init(theta0, D);
    CU_ASSERT_EQUAL_FATAL(loss_grad(D, X, y, N, theta0, &loss0, NULL),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, D, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);

    o.method = PROTEIN_GP_FIT_ADAM;
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N, &p, &o, &adam, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL(adam.iterations_done, 50);
    CU_ASSERT_EQUAL(adam.evaluations, 51);
    CU_ASSERT_EQUAL(p.step, 50);
    CU_ASSERT(adam.final_loss < loss0);

    protein_gp_params_free(&p);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    o.method = PROTEIN_GP_FIT_LBFGS;
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N, &p, &o, &lbfgs, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT(lbfgs.evaluations <= 13);
    CU_ASSERT(lbfgs.final_loss < adam.final_loss);
    {
        /* final_loss is the loss at the returned theta. */
        double again;
        CU_ASSERT_EQUAL(loss_grad(D, X, y, N, p.theta, &again, NULL),
                        PROTEIN_OK);
        CU_ASSERT_DOUBLE_EQUAL(again, lbfgs.final_loss, 1e-12);
    }

    /* Default options (NULL) are L-BFGS with 12 evaluations. */
    protein_gp_params_free(&p);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N, &p, NULL, &dflt, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL(dflt.final_loss, lbfgs.final_loss);
    CU_ASSERT_EQUAL(p.step, 0);
    protein_gp_params_free(&p);
    cpu->destroy(st);
}

/* A warm refit after a few new points (default options: L-BFGS with the
 * history of the earlier fits) lands near the optimum: a long run from
 * where it stopped gains less than 1e-4. */
static void test_warm_refit(void)
{
    enum { N = 63, D = 3 };
    double X[N * D], y[N];
    protein_gp_params p, q;
    protein_gp_fit_options longer = {.method = PROTEIN_GP_FIT_LBFGS,
                                     .max_evaluations = 200};
    protein_gp_fit_report cold, warm, best;
    void *st = NULL;
    char err[256];

    make_problem(61, N, D, X, y);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, D, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&q, D), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N - 3, &p, NULL, &cold, err, sizeof(err)),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(cold.evaluations, 12);
    CU_ASSERT(p.lbfgs_count > 0);
    /* Bring it to the optimum, then refit with three more points. */
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N - 3, &p, &longer, NULL, err, sizeof(err)),
        PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N, &p, NULL, &warm, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT(warm.evaluations <= 12);
    memcpy(q.theta, p.theta, PROTEIN_GP_NTHETA(D) * sizeof(double));
    CU_ASSERT_EQUAL_FATAL(
        cpu->fit(st, X, y, N, &q, &longer, &best, err, sizeof(err)),
        PROTEIN_OK);
    CU_ASSERT(best.final_loss <= warm.final_loss);
    CU_ASSERT(warm.final_loss - best.final_loss < 1e-4);
    protein_gp_params_reset_moments(&p);
    CU_ASSERT_EQUAL(p.lbfgs_count, 0);
    protein_gp_params_free(&p);
    protein_gp_params_free(&q);
    cpu->destroy(st);
}

static void test_bad_arguments(void)
{
    double X[4] = {0.1, 0.2, 0.3, 0.4}, y[2] = {0, 1};
    double theta[PROTEIN_GP_NTHETA(2)], loss;
    protein_gp_params p, p3;
    void *st = NULL;
    char err[256];

    CU_ASSERT_EQUAL(cpu->create(&st, 0, err, sizeof(err)), PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "d >= 1") != NULL);
    CU_ASSERT_EQUAL(cpu->create(NULL, 2, NULL, 0), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, 2, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, 2), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p3, 3), PROTEIN_OK);
    protein_gp_theta_init(theta, 2);

    CU_ASSERT_EQUAL(cpu->fit(st, X, y, 0, &p, NULL, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "n = 0") != NULL);
    CU_ASSERT_EQUAL(cpu->fit(st, NULL, y, 2, &p, NULL, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(cpu->fit(st, X, NULL, 2, &p, NULL, NULL, NULL, 0),
                    PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(cpu->fit(st, X, y, 2, NULL, NULL, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(cpu->fit(st, X, y, 2, &p3, NULL, NULL, err, sizeof(err)),
                    PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "d = 3") != NULL);
    CU_ASSERT_EQUAL(
        cpu->loss_grad(st, X, y, 0, theta, &loss, NULL, err, sizeof(err)),
        PROTEIN_EINVAL);
    CU_ASSERT_EQUAL(
        cpu->loss_grad(st, X, y, 2, NULL, &loss, NULL, err, sizeof(err)),
        PROTEIN_EINVAL);
    y[1] = INFINITY;
    CU_ASSERT_EQUAL(
        cpu->loss_grad(st, X, y, 2, theta, &loss, NULL, err, sizeof(err)),
        PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "NaN or Inf") != NULL);
    y[1] = 1;
    theta[0] = NAN;
    CU_ASSERT_EQUAL(
        cpu->loss_grad(st, X, y, 2, theta, &loss, NULL, err, sizeof(err)),
        PROTEIN_EINVAL);
    {
        protein_gp_fit_options o = {.iterations = -1};
        CU_ASSERT_EQUAL(cpu->fit(st, X, y, 2, &p, &o, NULL, err, sizeof(err)),
                        PROTEIN_EINVAL);
        CU_ASSERT(strstr(err, "bad options") != NULL);
    }
    protein_gp_params_free(&p);
    protein_gp_params_free(&p3);
    cpu->destroy(st);
    cpu->destroy(NULL);
}

/* The state grows its buffers and refits on data of another size. */
static void test_refit_sizes(void)
{
    enum { D = 3 };
    const size_t sizes[] = {50, 10, 120, 121, 1};
    double X[121 * D], y[121], a, b;
    protein_gp_params p;
    protein_gp_fit_report rep;
    void *st = NULL;
    char err[256];

    CU_ASSERT_EQUAL_FATAL(cpu->create(&st, D, err, sizeof(err)), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, D), PROTEIN_OK);
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        make_problem(51 + s, sizes[s], D, X, y);
        CU_ASSERT_EQUAL_FATAL(
            cpu->fit(st, X, y, sizes[s], &p, NULL, &rep, err, sizeof(err)),
            PROTEIN_OK);
        CU_ASSERT_EQUAL(cpu->predict(st, X, 1, &a, NULL, err, sizeof(err)),
                        PROTEIN_OK);
        CU_ASSERT_DOUBLE_EQUAL(a, y[0], 0.2);
        CU_ASSERT_EQUAL(loss_grad(D, X, y, sizes[s], p.theta, &b, NULL),
                        PROTEIN_OK);
        CU_ASSERT_DOUBLE_EQUAL(b, rep.final_loss, 1e-12);
    }
    protein_gp_params_free(&p);
    cpu->destroy(st);
}

static const cunit_test tests[] = {
    {"softplus", test_softplus},
    {"noise prior", test_noise_prior},
    {"lengthscale prior", test_lengthscale_prior},
    {"fit options resolved", test_fit_options_resolve},
    {"params and Adam", test_params},
    {"fit loop", test_minimize},
    {"loss vs direct 3x3", test_loss_direct},
    {"gradient d=1", test_gradient_d1},
    {"gradient d=3", test_gradient_d3},
    {"gradient d=8", test_gradient_d8},
    {"predict", test_predict},
    {"predict vs direct", test_predict_direct},
    {"predict in chunks", test_predict_chunks},
    {"jitter ladder", test_jitter_ladder},
    {"fit methods", test_fit_methods},
    {"warm refit", test_warm_refit},
    {"bad arguments", test_bad_arguments},
    {"refit other sizes", test_refit_sizes},
};

int main(void)
{
    return cunit_run_suite("gp", tests, CUNIT_COUNT(tests));
}
