/*
 * test_proteind_device.c - proteind's --device choice and its CUDA-to-CPU
 * fallback (coordinator/device.c), against a fake CUDA backend.
 *
 * The test defines protein_gp_backend_by_name (so the core's registry is
 * not linked) and proteind_log (to see the log lines). The fake "cuda"
 * backend runs the CPU code and fails on demand: no device at all, a failing
 * create, or a failing fit.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proteind.h"
#include "cunit_run.h"

static int fake_unavailable; /* by_name("cuda") finds nothing */
static int fake_create_fails;
static int fake_fit_fails;
static char last_log[1024];

/* Captures proteind's log lines (the real one is in proteind.c). */
void proteind_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
}

static int fake_create(void **state, size_t d, char *errbuf, size_t errlen)
{
    if (fake_create_fails) {
        snprintf(errbuf, errlen, "no CUDA-capable device is detected");
        return PROTEIN_EBACKEND;
    }
    return protein_gp_backend_cpu.create(state, d, errbuf, errlen);
}

static int fake_loss_grad(void *state, const double *X, const double *y,
                          size_t n, const double *theta, double *loss,
                          double *grad, char *errbuf, size_t errlen)
{
    return protein_gp_backend_cpu.loss_grad(state, X, y, n, theta, loss, grad,
                                            errbuf, errlen);
}

static int fake_fit(void *state, const double *X, const double *y, size_t n,
                    protein_gp_params *params,
                    const protein_gp_fit_options *opts,
                    protein_gp_fit_report *report, char *errbuf,
                    size_t errlen)
{
    if (fake_fit_fails) {
        /* A failing device may leave the parameters half-updated. */
        params->theta[0] = NAN;
        snprintf(errbuf, errlen, "cudaErrorMemoryAllocation");
        return PROTEIN_EBACKEND;
    }
    return protein_gp_backend_cpu.fit(state, X, y, n, params, opts, report,
                                      errbuf, errlen);
}

static int fake_predict(void *state, const double *Xs, size_t m, double *mean,
                        double *var, char *errbuf, size_t errlen)
{
    return protein_gp_backend_cpu.predict(state, Xs, m, mean, var, errbuf,
                                          errlen);
}

static void fake_destroy(void *state)
{
    protein_gp_backend_cpu.destroy(state);
}

static const protein_gp_backend fake_cuda = {
    .name = "cuda",
    .create = fake_create,
    .loss_grad = fake_loss_grad,
    .fit = fake_fit,
    .predict = fake_predict,
    .destroy = fake_destroy,
};

/* Stands in for the core's registry. */
const protein_gp_backend *protein_gp_backend_by_name(const char *name,
                                                     char *errbuf,
                                                     size_t errlen)
{
    if (strcmp(name, "cpu") == 0)
        return &protein_gp_backend_cpu;
    if (fake_unavailable) {
        if (strcmp(name, "auto") == 0)
            return &protein_gp_backend_cpu;
        snprintf(errbuf, errlen, "protein was built without CUDA");
        return NULL;
    }
    return &fake_cuda;
}

static void reset(void)
{
    fake_unavailable = fake_create_fails = fake_fit_fails = 0;
    last_log[0] = '\0';
}

static void test_cpu_and_unknown(void)
{
    char err[256] = "";

    reset();
    CU_ASSERT_PTR_EQUAL(proteind_backend_select("cpu", err, sizeof err),
                        &protein_gp_backend_cpu);
    CU_ASSERT_PTR_NULL(proteind_backend_select("tpu", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown --device 'tpu'"));
}

static void test_no_cuda(void)
{
    char err[256] = "";

    reset();
    fake_unavailable = 1;
    CU_ASSERT_PTR_NULL(proteind_backend_select("cuda", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--device cuda: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "built without CUDA"));
    CU_ASSERT_PTR_EQUAL(proteind_backend_select("auto", err, sizeof err),
                        &protein_gp_backend_cpu);

    reset();
    fake_create_fails = 1; /* built with CUDA, but no device */
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(proteind_backend_select("cuda", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no usable CUDA device"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no CUDA-capable device"));
    CU_ASSERT_PTR_EQUAL(proteind_backend_select("auto", err, sizeof err),
                        &protein_gp_backend_cpu);
}

/* Five points on a line in 2-d, targets from a smooth function. */
static void data(double *X, double *y)
{
    for (int i = 0; i < 5; i++) {
        X[2 * i] = -0.8 + 0.4 * i;
        X[2 * i + 1] = 0.5 - 0.2 * i;
        y[i] = sin(2.0 * X[2 * i]) + X[2 * i + 1];
    }
}

static void test_fit_falls_back_to_cpu(void)
{
    const protein_gp_backend *b;
    protein_gp_params p = {0}, ref = {0};
    protein_gp_fit_options fo = { .iterations = 20, .learning_rate = 1e-2 };
    protein_gp_fit_report rep;
    double X[10], y[5], xs[2] = { 0.1, 0.1 }, mean = NAN, var = NAN;
    void *st = NULL, *cpu = NULL;
    char err[256] = "";

    reset();
    data(X, y);
    b = proteind_backend_select("cuda", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(b->name, "cuda");
    CU_ASSERT_PTR_NOT_EQUAL(b, &fake_cuda); /* the wrapper */
    CU_ASSERT_STRING_EQUAL(proteind_backend_last_used(b), "cuda");
    CU_ASSERT_EQUAL_FATAL(b->create(&st, 2, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, 2), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&ref, 2), PROTEIN_OK);

    fake_fit_fails = 1;
    CU_ASSERT_EQUAL(b->fit(st, X, y, 5, &p, &fo, &rep, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_log, "CUDA fit of 5 observations "
                                  "failed (cudaErrorMemoryAllocation)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_log, "refitting on the CPU backend"));
    CU_ASSERT_STRING_EQUAL(proteind_backend_last_used(b),
                           "cpu (cuda fallback)");
    /* The CPU refit started from the parameters before the failed try. */
    CU_ASSERT_EQUAL_FATAL(protein_gp_backend_cpu.create(&cpu, 2, err,
                                                        sizeof err),
                          PROTEIN_OK);
    CU_ASSERT_EQUAL(protein_gp_backend_cpu.fit(cpu, X, y, 5, &ref, &fo, &rep,
                                               err, sizeof err),
                    PROTEIN_OK);
    for (size_t i = 0; i < PROTEIN_GP_NTHETA(2); i++)
        CU_ASSERT_DOUBLE_EQUAL(p.theta[i], ref.theta[i], 1e-12);
    CU_ASSERT_EQUAL(b->predict(st, xs, 1, &mean, &var, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT(isfinite(mean) && isfinite(var) && var >= 0);

    fake_fit_fails = 0;
    CU_ASSERT_EQUAL(b->fit(st, X, y, 5, &p, &fo, &rep, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT_STRING_EQUAL(proteind_backend_last_used(b), "cuda");

    b->destroy(st);
    protein_gp_backend_cpu.destroy(cpu);
    protein_gp_params_free(&p);
    protein_gp_params_free(&ref);
}

static const cunit_test tests[] = {
    {"cpu and unknown devices", test_cpu_and_unknown},
    {"--device cuda without CUDA", test_no_cuda},
    {"a failing CUDA fit is redone on the CPU", test_fit_falls_back_to_cpu},
};

int main(void)
{
    return cunit_run_suite("proteind device", tests, CUNIT_COUNT(tests));
}
