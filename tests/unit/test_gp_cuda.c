#include "config.h"

/*
 * test_gp_cuda.c - the CUDA GP backend against the CPU backend (the
 * oracle) on seeded random problems: loss, gradient, both fit methods,
 * prediction (mean and variance), buffer reuse across refits, error paths,
 * and a whole seeded sweep through the optimizer. Skips (exit 77) when no
 * CUDA device is usable.
 *
 * Tolerances (FP64 on both sides; the backends differ in summation order,
 * triangle (upper vs lower) and the blocking of the factorizations):
 *   loss:      |cuda - cpu| <= 1e-9 * max(1, |cpu|)
 *   gradient:  |cuda - cpu| <= 1e-7 * max(1, max_k |cpu_k|)
 *   fit theta: |cuda - cpu| <= 1e-6 (Adam: 50 steps; L-BFGS: 12 evaluations)
 *   mean/var:  |cuda - cpu| <= 1e-8 * max(1, |cpu|)
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"
#include "gp_cuda.h"
#include "optimizer_fixture.h"
#include "protein.h"
#include "cunit_run.h"

#define TOL_LOSS 1e-9
#define TOL_GRAD 1e-7
#define TOL_THETA 1e-6
#define TOL_PRED 1e-8

static const protein_gp_backend *cuda;
static const protein_gp_backend *cpu = &protein_gp_backend_cpu;

/* Worst observed differences, printed at the end for the record. */
static double worst_loss, worst_grad, worst_theta, worst_pred;

typedef struct problem {
    size_t n, d;
    double *X, *y, *theta;
} problem;

/* n points in [-1, 1]^d (model space), a smooth target plus noise,
 * standardized, and a theta scattered around the initial one. */
static void problem_make(problem *p, size_t n, size_t d, uint64_t seed)
{
    protein_rng rng;
    double mean = 0, sd = 0;

    protein_rng_seed(&rng, seed);
    p->n = n;
    p->d = d;
    p->X = malloc(n * d * sizeof(double));
    p->y = malloc(n * sizeof(double));
    p->theta = malloc(PROTEIN_GP_NTHETA(d) * sizeof(double));
    CU_ASSERT_FATAL(p->X != NULL && p->y != NULL && p->theta != NULL);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < d; k++) {
            double x = 2 * protein_rng_uniform(&rng) - 1;
            p->X[i * d + k] = x;
            s += sin(3 * x + (double)k) / (double)(k + 1);
        }
        p->y[i] = s + 0.1 * protein_rng_normal(&rng);
        mean += p->y[i];
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        sd += (p->y[i] - mean) * (p->y[i] - mean);
    sd = sqrt(sd / (double)n) + 1e-12;
    for (size_t i = 0; i < n; i++)
        p->y[i] = (p->y[i] - mean) / sd;
    protein_gp_theta_init(p->theta, d);
    for (size_t k = 0; k < PROTEIN_GP_NTHETA(d); k++)
        p->theta[k] += protein_rng_uniform(&rng) - 0.5;
}

static void problem_free(problem *p)
{
    free(p->X);
    free(p->y);
    free(p->theta);
}

static double rel_diff(double a, double b)
{
    return fabs(a - b) / fmax(1.0, fabs(b));
}

/* Loss and gradient of both backends at the problem's theta. */
static void check_loss_grad(size_t n, size_t d, uint64_t seed)
{
    problem p;
    void *sc = NULL, *sg = NULL;
    size_t nt = PROTEIN_GP_NTHETA(d);
    double lc, lg, gmax = 0, gdiff = 0;
    double *gc = malloc(nt * sizeof(double)), *gg = malloc(nt * sizeof(double));
    char err[256] = "";

    problem_make(&p, n, d, seed);
    CU_ASSERT_FATAL(gc != NULL && gg != NULL);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&sc, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cuda->create(&sg, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL(
        cpu->loss_grad(sc, p.X, p.y, n, p.theta, &lc, gc, err, sizeof err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(
        cuda->loss_grad(sg, p.X, p.y, n, p.theta, &lg, gg, err, sizeof err),
        PROTEIN_OK);
    for (size_t k = 0; k < nt; k++)
        gmax = fmax(gmax, fabs(gc[k]));
    for (size_t k = 0; k < nt; k++)
        gdiff = fmax(gdiff, fabs(gg[k] - gc[k]) / fmax(1.0, gmax));
    CU_ASSERT(rel_diff(lg, lc) <= TOL_LOSS);
    CU_ASSERT(gdiff <= TOL_GRAD);
    if (rel_diff(lg, lc) > TOL_LOSS || gdiff > TOL_GRAD)
        fprintf(stderr,
                "\n  n=%zu d=%zu: loss %.17g vs %.17g, grad diff %.3g\n", n, d,
                lg, lc, gdiff);
    worst_loss = fmax(worst_loss, rel_diff(lg, lc));
    worst_grad = fmax(worst_grad, gdiff);
    /* loss only (grad NULL) gives the same loss */
    CU_ASSERT_EQUAL(
        cuda->loss_grad(sg, p.X, p.y, n, p.theta, &lg, NULL, err, sizeof err),
        PROTEIN_OK);
    CU_ASSERT(rel_diff(lg, lc) <= TOL_LOSS);
    cpu->destroy(sc);
    cuda->destroy(sg);
    free(gc);
    free(gg);
    problem_free(&p);
}

static void test_loss_grad_small(void)
{
    check_loss_grad(10, 1, 1);
    check_loss_grad(37, 2, 2);
    check_loss_grad(200, 5, 3);
}

static void test_loss_grad_wide(void)
{
    /* d = 40 needs two passes of the gradient kernel (32 lengthscales each) */
    check_loss_grad(500, 21, 4);
    check_loss_grad(300, 40, 5);
}

static void test_loss_grad_large(void)
{
    check_loss_grad(1000, 30, 6);
    check_loss_grad(2000, 30, 7);
}

/* The analytic gradient against central differences of the CUDA loss
 * itself (independent of the CPU backend). */
static void test_gradient_finite_difference(void)
{
    problem p;
    void *sg = NULL;
    size_t d = 3, n = 60, nt = PROTEIN_GP_NTHETA(3);
    double g[6], lp, lm, l0, h = 1e-5;
    char err[256] = "";

    problem_make(&p, n, d, 11);
    CU_ASSERT_EQUAL_FATAL(cuda->create(&sg, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL(
        cuda->loss_grad(sg, p.X, p.y, n, p.theta, &l0, g, err, sizeof err),
        PROTEIN_OK);
    for (size_t k = 0; k < nt; k++) {
        double t = p.theta[k], fd;
        p.theta[k] = t + h;
        CU_ASSERT_EQUAL(cuda->loss_grad(sg, p.X, p.y, n, p.theta, &lp, NULL,
                                        err, sizeof err),
                        PROTEIN_OK);
        p.theta[k] = t - h;
        CU_ASSERT_EQUAL(cuda->loss_grad(sg, p.X, p.y, n, p.theta, &lm, NULL,
                                        err, sizeof err),
                        PROTEIN_OK);
        p.theta[k] = t;
        fd = (lp - lm) / (2 * h);
        CU_ASSERT(fabs(fd - g[k]) <= 1e-6 * fmax(1.0, fabs(g[k])));
    }
    cuda->destroy(sg);
    problem_free(&p);
}

/* Fits both backends from the same start with opts and compares theta,
 * the report and (for Adam) the moments; then predictions at m points. */
static void check_fit(size_t n, size_t d, const protein_gp_fit_options *opts,
                      uint64_t seed, size_t m)
{
    problem p, q;
    protein_gp_params pc, pg;
    protein_gp_fit_report rc_, rg;
    void *sc = NULL, *sg = NULL;
    size_t nt = PROTEIN_GP_NTHETA(d);
    double *mc, *mg, *vc, *vg, *m2;
    char err[256] = "";

    problem_make(&p, n, d, seed);
    problem_make(&q, m, d, seed + 1000);
    mc = malloc(m * sizeof(double));
    mg = malloc(m * sizeof(double));
    vc = malloc(m * sizeof(double));
    vg = malloc(m * sizeof(double));
    m2 = malloc(m * sizeof(double));
    CU_ASSERT_FATAL(mc && mg && vc && vg && m2);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&pc, d), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&pg, d), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&sc, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cuda->create(&sg, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL(cpu->fit(sc, p.X, p.y, n, &pc, opts, &rc_, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(cuda->fit(sg, p.X, p.y, n, &pg, opts, &rg, err, sizeof err),
                    PROTEIN_OK);
    for (size_t k = 0; k < nt; k++) {
        CU_ASSERT(fabs(pg.theta[k] - pc.theta[k]) <= TOL_THETA);
        CU_ASSERT(fabs(pg.m[k] - pc.m[k]) <= TOL_THETA);
        worst_theta = fmax(worst_theta, fabs(pg.theta[k] - pc.theta[k]));
    }
    CU_ASSERT_EQUAL(pg.step, pc.step);
    CU_ASSERT_EQUAL(rg.iterations_done, rc_.iterations_done);
    CU_ASSERT_EQUAL(rg.evaluations, rc_.evaluations);
    CU_ASSERT_EQUAL(rg.jitter_used, rc_.jitter_used);
    CU_ASSERT(rel_diff(rg.final_loss, rc_.final_loss) <= 1e-8);

    CU_ASSERT_EQUAL(cpu->predict(sc, q.X, m, mc, vc, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(cuda->predict(sg, q.X, m, mg, vg, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT_EQUAL(cuda->predict(sg, q.X, m, m2, NULL, err, sizeof err),
                    PROTEIN_OK);
    for (size_t i = 0; i < m; i++) {
        CU_ASSERT(rel_diff(mg[i], mc[i]) <= TOL_PRED);
        CU_ASSERT(rel_diff(vg[i], vc[i]) <= TOL_PRED);
        CU_ASSERT(vg[i] >= 0);
        CU_ASSERT_EQUAL(m2[i], mg[i]);
        worst_pred = fmax(worst_pred,
                          fmax(rel_diff(mg[i], mc[i]), rel_diff(vg[i], vc[i])));
    }
    cpu->destroy(sc);
    cuda->destroy(sg);
    protein_gp_params_free(&pc);
    protein_gp_params_free(&pg);
    free(mc);
    free(mg);
    free(vc);
    free(vg);
    free(m2);
    problem_free(&p);
    problem_free(&q);
}

static void test_fit_adam(void)
{
    protein_gp_fit_options o = {.method = PROTEIN_GP_FIT_ADAM,
                                .iterations = 50};
    check_fit(300, 5, &o, 21, 500);
    check_fit(1500, 21, &o, 22, 3000);
}

static void test_fit_lbfgs_default(void)
{
    check_fit(300, 5, NULL, 31, 500);
    check_fit(1000, 12, NULL, 32, 5000);
}

/* One state refit on growing and shrinking data keeps matching the CPU
 * (device buffers are grown and reused, never stale). */
static void test_refit_sizes(void)
{
    static const size_t sizes[] = {400, 100, 800, 800, 50};
    size_t d = 4, m = 300;
    void *sc = NULL, *sg = NULL;
    problem q;
    double mc[300], mg[300], vc[300], vg[300];
    char err[256] = "";

    problem_make(&q, m, d, 99);
    CU_ASSERT_EQUAL_FATAL(cpu->create(&sc, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(cuda->create(&sg, d, err, sizeof err), PROTEIN_OK);
    for (size_t r = 0; r < sizeof sizes / sizeof sizes[0]; r++) {
        problem p;
        protein_gp_params pc, pg;
        protein_gp_fit_options o = {.method = PROTEIN_GP_FIT_ADAM,
                                    .iterations = 5};

        problem_make(&p, sizes[r], d, 40 + r);
        CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&pc, d), PROTEIN_OK);
        CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&pg, d), PROTEIN_OK);
        CU_ASSERT_EQUAL(
            cpu->fit(sc, p.X, p.y, p.n, &pc, &o, NULL, err, sizeof err),
            PROTEIN_OK);
        CU_ASSERT_EQUAL(
            cuda->fit(sg, p.X, p.y, p.n, &pg, &o, NULL, err, sizeof err),
            PROTEIN_OK);
        CU_ASSERT_EQUAL(cpu->predict(sc, q.X, m, mc, vc, err, sizeof err),
                        PROTEIN_OK);
        CU_ASSERT_EQUAL(cuda->predict(sg, q.X, m, mg, vg, err, sizeof err),
                        PROTEIN_OK);
        for (size_t i = 0; i < m; i++) {
            CU_ASSERT(rel_diff(mg[i], mc[i]) <= TOL_PRED);
            CU_ASSERT(rel_diff(vg[i], vc[i]) <= TOL_PRED);
        }
        protein_gp_params_free(&pc);
        protein_gp_params_free(&pg);
        problem_free(&p);
    }
    cpu->destroy(sc);
    cuda->destroy(sg);
    problem_free(&q);
}

/* More candidates than one device batch (65,536): every batch lands in
 * the right place. */
static void test_predict_batches(void)
{
    protein_gp_fit_options o = {.method = PROTEIN_GP_FIT_ADAM, .iterations = 3};
    check_fit(100, 3, &o, 51, 70001);
}

static void test_errors(void)
{
    problem p;
    protein_gp_params pg, wrong;
    protein_gp_fit_options bad = {.method = 7};
    void *sg = NULL;
    double loss, mean[4], *Xsing;
    size_t n = 20, d = 2;
    char err[256] = "";

    problem_make(&p, n, d, 5);
    CU_ASSERT_EQUAL(cuda->create(&sg, 0, err, sizeof err), PROTEIN_EINVAL);
    CU_ASSERT_EQUAL_FATAL(cuda->create(&sg, d, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&pg, d), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&wrong, d + 1), PROTEIN_OK);

    err[0] = '\0';
    CU_ASSERT_EQUAL(cuda->predict(sg, p.X, 4, mean, NULL, err, sizeof err),
                    PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "before a successful fit") != NULL);
    CU_ASSERT_EQUAL(
        cuda->fit(sg, p.X, p.y, n, &wrong, NULL, NULL, err, sizeof err),
        PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "d = 3") != NULL);
    CU_ASSERT_EQUAL(
        cuda->fit(sg, p.X, p.y, n, &pg, &bad, NULL, err, sizeof err),
        PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "method 7") != NULL);
    CU_ASSERT_EQUAL(
        cuda->loss_grad(sg, p.X, p.y, 0, p.theta, &loss, NULL, err, sizeof err),
        PROTEIN_EINVAL);
    p.X[3] = NAN;
    CU_ASSERT_EQUAL(
        cuda->loss_grad(sg, p.X, p.y, n, p.theta, &loss, NULL, err, sizeof err),
        PROTEIN_EINVAL);
    CU_ASSERT(strstr(err, "NaN") != NULL);

    /* All points equal and huge: K is rank one to working precision, so
     * every rung of the jitter ladder fails. */
    Xsing = malloc(n * d * sizeof(double));
    CU_ASSERT_FATAL(Xsing != NULL);
    for (size_t i = 0; i < n * d; i++)
        Xsing[i] = 1e6;
    p.theta[d] = 20;      /* sf ~ 20 */
    p.theta[d + 2] = -50; /* sn2 at its 1e-4 floor */
    err[0] = '\0';
    CU_ASSERT_EQUAL(cuda->loss_grad(sg, Xsing, p.y, n, p.theta, &loss, NULL,
                                    err, sizeof err),
                    PROTEIN_ENUMERIC);
    CU_ASSERT(strstr(err, "positive definite") != NULL);
    /* the state stays usable after the failure */
    p.X[3] = 0.5;
    CU_ASSERT_EQUAL(
        cuda->fit(sg, p.X, p.y, n, &pg, NULL, NULL, err, sizeof err),
        PROTEIN_OK);
    CU_ASSERT_EQUAL(cuda->predict(sg, p.X, 4, mean, NULL, err, sizeof err),
                    PROTEIN_OK);
    free(Xsing);
    protein_gp_params_free(&pg);
    protein_gp_params_free(&wrong);
    cuda->destroy(sg);
    problem_free(&p);
}

/* A seeded sweep of 100 suggestions through the optimizer on either
 * backend: the same points for at least the first 30 (measured on an H200:
 * identical through 30), and after any divergence, which FP64 rounding in
 * a different order may eventually cause, equivalent results: both sweeps
 * end with best scores within 0.02 of each other (the objective spans
 * about 5). */
#define SWEEP_SUGGESTIONS 100
#define SWEEP_IDENTICAL 30

static double objective(const double *v)
{
    return -(v[0] - 0.3) * (v[0] - 0.3) -
           0.5 * (log10(v[1]) + 2) * (log10(v[1]) + 2) + 0.1 * v[2];
}

static void test_seeded_sweep(void)
{
    fx_sweep s;
    protein_optimizer *oc = NULL, *og = NULL;
    protein_optimizer_options occ = {0}, ogg = {0};
    protein_error perr;
    double vc[3], vg[3], best_c = -INFINITY, best_g = -INFINITY;
    int diverged_at = -1;

    fx_init(&s, 1234);
    fx_numeric(&s, "x", PROTEIN_PARAM_LINEAR, -1, 1);
    fx_numeric(&s, "lr", PROTEIN_PARAM_LOG, 1e-5, 1e-1);
    fx_numeric(&s, "z", PROTEIN_PARAM_LINEAR, 0, 1);
    occ.backend = cpu;
    ogg.backend = cuda;
    CU_ASSERT_EQUAL_FATAL(protein_optimizer_create(&s.cfg, &occ, &oc, &perr),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_optimizer_create(&s.cfg, &ogg, &og, &perr),
                          PROTEIN_OK);
    for (int t = 0; t < SWEEP_SUGGESTIONS; t++) {
        protein_suggestion_info ic, ig;
        CU_ASSERT_EQUAL(protein_suggest(oc, vc, &ic), PROTEIN_OK);
        CU_ASSERT_EQUAL(protein_suggest(og, vg, &ig), PROTEIN_OK);
        for (int k = 0; k < 3 && diverged_at < 0; k++)
            if (fabs(vc[k] - vg[k]) > 1e-9 * fmax(1.0, fabs(vc[k])) ||
                ic.source != ig.source)
                diverged_at = t;
        best_c = fmax(best_c, objective(vc));
        best_g = fmax(best_g, objective(vg));
        CU_ASSERT_EQUAL(protein_observe(oc, vc, objective(vc), 10 + vc[2],
                                        PROTEIN_OUTCOME_SUCCESS),
                        PROTEIN_OK);
        CU_ASSERT_EQUAL(protein_observe(og, vg, objective(vg), 10 + vg[2],
                                        PROTEIN_OUTCOME_SUCCESS),
                        PROTEIN_OK);
    }
    printf("\n    identical through suggestion %d of %d; best cpu %.6f, cuda "
           "%.6f ",
           diverged_at < 0 ? SWEEP_SUGGESTIONS : diverged_at, SWEEP_SUGGESTIONS,
           best_c, best_g);
    CU_ASSERT(diverged_at < 0 || diverged_at >= SWEEP_IDENTICAL);
    CU_ASSERT_DOUBLE_EQUAL(best_c, best_g, 0.02);
    protein_optimizer_free(oc);
    protein_optimizer_free(og);
}

static const cunit_test tests[] = {
    {"loss/grad vs cpu, small", test_loss_grad_small},
    {"loss/grad vs cpu, wide d", test_loss_grad_wide},
    {"loss/grad vs cpu, n up to 2000", test_loss_grad_large},
    {"gradient vs finite differences", test_gradient_finite_difference},
    {"fit (Adam) + predict vs cpu", test_fit_adam},
    {"fit (L-BFGS default) + predict vs cpu", test_fit_lbfgs_default},
    {"refits of changing size", test_refit_sizes},
    {"predict in several batches", test_predict_batches},
    {"error paths", test_errors},
    {"seeded sweep picks the same points", test_seeded_sweep},
};

int main(void)
{
    char why[256] = "";
    int status;

    cuda = protein_gp_backend_cuda();
    if (cuda == NULL || !protein_gp_cuda_available(why, sizeof why)) {
        printf("SKIP: CUDA GP backend not testable: %s\n",
               why[0] ? why : "not built");
        return 77;
    }
    status = cunit_run_suite("gp_cuda", tests, CUNIT_COUNT(tests));
    printf("worst |cuda - cpu|: loss %.2e (rel), grad %.2e (rel to max), theta "
           "%.2e, predict %.2e (rel)\n",
           worst_loss, worst_grad, worst_theta, worst_pred);
    return status;
}
