/*
 * test_proteind_device.c - proteind's --device choice and its CUDA-to-CPU
 * fallback (coordinator/device.c, where the backends are chosen) against
 * the real backends: the CPU backend and, when this build has CUDA and the
 * machine a device, the CUDA backend.
 *
 * Without a device, the tests check the real refusals (--device cuda: no
 * CUDA built, or no usable device) and that auto picks the CPU; the
 * fallback test then says why it cannot run. With a device, --device cuda
 * and auto give the wrapper, and a CUDA fit made to fail by fault
 * injection (device.c, built here with PROTEIN_FAULT_INJECTION) is redone
 * on the CPU from the parameters before the failed try.
 *
 * In a CUDA build, the build tree's backend module (PROTEIN_CUDA_MODULE,
 * set by make check) loads here with or without a GPU (the CUDA runtime
 * loads without a driver), and the loader's refusals are checked: no file,
 * a library that is not a module, a module of another build (its ABI,
 * version or interface fingerprint).
 *
 * The test defines proteind_log_at (proteind.c, not linked here) to see
 * the log lines.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proteind.h"
#include "cunit_run.h"
#ifdef HAVE_CUDA
#include "gp_cuda_module.h"
#endif

/* Why this machine cannot run CUDA ("" when it can). */
static char no_device[256];
static char last_log[1024];
static proteind_level last_level;

/* Captures proteind's log lines (the real sink is in proteind.c). */
void proteind_log_at(proteind_level level, const char *fmt, ...)
{
    va_list ap;

    last_level = level;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
}

static void test_cpu_and_unknown(void)
{
    char err[256] = "";

    CU_ASSERT_PTR_EQUAL(proteind_backend_select("cpu", err, sizeof err),
                        &protein_gp_backend_cpu);
    CU_ASSERT_STRING_EQUAL(proteind_backend_last_used(&protein_gp_backend_cpu),
                           "cpu");
    CU_ASSERT_PTR_NULL(proteind_backend_select("tpu", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown --device 'tpu'"));
    CU_ASSERT_PTR_NULL(proteind_backend_select("", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "use auto, cpu or cuda"));
    CU_ASSERT_PTR_NULL(proteind_backend_select("CPU", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown --device 'CPU'"));
}

static void test_cuda_and_auto(void)
{
    const protein_gp_backend *cuda, *autob;
    char err[256] = "";

    cuda = proteind_backend_select("cuda", err, sizeof err);
    autob = proteind_backend_select("auto", err, sizeof err);
    if (no_device[0] != '\0') {
        /* The real refusal, naming the cause and the way out. */
        CU_ASSERT_PTR_NULL(cuda);
        CU_ASSERT_PTR_EQUAL(autob, &protein_gp_backend_cpu);
        err[0] = '\0';
        CU_ASSERT_PTR_NULL(proteind_backend_select("cuda", err, sizeof err));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "--device cuda: "));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "use --device auto or cpu"));
#ifdef HAVE_CUDA
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "no usable CUDA device"));
#else
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "built without CUDA"));
#endif
        /* auto says why it fits on the CPU (proteind logs it). */
        err[0] = '\0';
        CU_ASSERT_PTR_EQUAL(proteind_backend_select("auto", err, sizeof err),
                            &protein_gp_backend_cpu);
        CU_ASSERT_STRING_EQUAL(err, no_device);
    } else {
        /* Both give the wrapper, which is not the bare CUDA backend. */
        CU_ASSERT_PTR_NOT_NULL_FATAL(cuda);
        CU_ASSERT_PTR_EQUAL(autob, cuda);
        CU_ASSERT_STRING_EQUAL(cuda->name, "cuda");
#ifdef HAVE_CUDA
        CU_ASSERT_PTR_NOT_EQUAL(
            cuda, proteind_cuda_module_load(proteind_cuda_module_path(), err,
                                            sizeof err)
                      ->backend());
#endif
        err[0] = 'x';
        CU_ASSERT_PTR_EQUAL(proteind_backend_select("auto", err, sizeof err),
                            cuda);
        CU_ASSERT_STRING_EQUAL(err, "");
    }
}

#ifdef HAVE_CUDA
/* The build tree's module loads and resolves its entry point, without a
 * GPU too: this build's ABI and version, the CUDA backend, and a device
 * check that agrees with the machine. */
static void test_module_loads(void)
{
    const char *path = getenv("PROTEIN_CUDA_MODULE");
    const protein_gp_cuda_module *m;
    char why[512] = "";
    int ok;

    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_STRING_EQUAL(proteind_cuda_module_path(), path);
    m = proteind_cuda_module_load(path, why, sizeof why);
    if (!m)
        printf("\n    %s ", why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->abi, PROTEIN_GP_CUDA_MODULE_ABI);
    CU_ASSERT_STRING_EQUAL(m->fingerprint, PROTEIN_GP_CUDA_MODULE_FINGERPRINT);
    CU_ASSERT_STRING_EQUAL(m->version, PACKAGE_VERSION);
    CU_ASSERT_STRING_EQUAL(m->backend()->name, "cuda");
    CU_ASSERT(proteind_cuda_module_check(m, path, why, sizeof why));
    ok = m->available(why, sizeof why);
    CU_ASSERT(ok || strstr(why, "no usable CUDA device: ") != NULL);
    if (strstr(no_device, "no NVIDIA driver"))
        CU_ASSERT_FALSE(ok);
}

/* A module that cannot be used is refused with its file named and why. */
static void test_module_refused(void)
{
    const protein_gp_cuda_module *m;
    protein_gp_cuda_module stale;
    const char *env = getenv("PROTEIN_CUDA_MODULE");
    char *saved;
    char why[512] = "", err[1024] = "";

    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    saved = strdup(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(saved);
    CU_ASSERT_PTR_NULL(proteind_cuda_module_load(
        "/nonexistent/protein-gp-cuda.so", why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "cannot load the CUDA backend module "
                                       "/nonexistent/protein-gp-cuda.so: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "No such file or directory"));
    /* a shared library without the entry point */
    CU_ASSERT_PTR_NULL(proteind_cuda_module_load("libc.so.6", why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(why, "libc.so.6 is not a protein CUDA backend module: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, PROTEIN_GP_CUDA_MODULE_ENTRY));

    /* a module of another build: the real one's description, altered */
    m = proteind_cuda_module_load(saved, why, sizeof why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    stale = *m;
    stale.abi = PROTEIN_GP_CUDA_MODULE_ABI + 1;
    CU_ASSERT_FALSE(
        proteind_cuda_module_check(&stale, "/old/m.so", why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(why, "/old/m.so is the CUDA backend module of another protein "
                    "build (module ABI "));
    stale = *m;
    stale.version = "0.0.1";
    CU_ASSERT_FALSE(
        proteind_cuda_module_check(&stale, "/old/m.so", why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        why, "/old/m.so is the CUDA backend module of protein 0.0.1, this "
             "proteind is protein " PACKAGE_VERSION));
    /* one version built from another interface (gp.h changed, say): only
     * the fingerprint tells */
    stale = *m;
    stale.fingerprint = "0123456789abcdef";
    CU_ASSERT_FALSE(
        proteind_cuda_module_check(&stale, "/old/m.so", why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        why,
        "/old/m.so is the CUDA backend module of another "
        "protein " PACKAGE_VERSION
        " build, whose module interface differs (fingerprint "
        "0123456789abcdef, this proteind's " PROTEIN_GP_CUDA_MODULE_FINGERPRINT
        "): install this build's module"));
    stale.fingerprint = NULL;
    CU_ASSERT_FALSE(
        proteind_cuda_module_check(&stale, "/old/m.so", why, sizeof why));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "(fingerprint (none), this"));

    /* --device cuda says which module it could not load; auto fits on the
     * CPU (saying why) */
    setenv("PROTEIN_CUDA_MODULE", "/nonexistent/protein-gp-cuda.so", 1);
    CU_ASSERT_PTR_NULL(proteind_backend_select("cuda", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "--device cuda: cannot load the CUDA backend module "
                    "/nonexistent/protein-gp-cuda.so: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "use --device auto or cpu"));
    CU_ASSERT_PTR_EQUAL(proteind_backend_select("auto", err, sizeof err),
                        &protein_gp_backend_cpu);
    CU_ASSERT(strstr(err, "no NVIDIA driver") ||
              strstr(err, "/nonexistent/protein-gp-cuda.so"));
    setenv("PROTEIN_CUDA_MODULE", saved, 1);
    free(saved);
}
#endif

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
    protein_gp_fit_options fo = {.iterations = 20, .learning_rate = 1e-2};
    protein_gp_fit_report rep;
    double X[10], y[5], xs[2] = {0.1, 0.1}, mean = NAN, var = NAN;
    void *st = NULL, *cpu = NULL;
    char err[256] = "";

    if (no_device[0] != '\0') {
        printf("\n    not run: needs a CUDA device (%s) ", no_device);
        return;
    }
    data(X, y);
    b = proteind_backend_select("cuda", err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(b->create(&st, 2, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&p, 2), PROTEIN_OK);
    CU_ASSERT_EQUAL_FATAL(protein_gp_params_init(&ref, 2), PROTEIN_OK);

    proteind_inject_cuda_fit_failures(1);
    CU_ASSERT_EQUAL(b->fit(st, X, y, 5, &p, &fo, &rep, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(
        last_log, "CUDA fit of 5 observations failed (injected fault: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(last_log, "refitting on the CPU backend"));
    CU_ASSERT_EQUAL(last_level, PROTEIND_WARN);
    CU_ASSERT_STRING_EQUAL(proteind_backend_last_used(b),
                           "cpu (cuda fallback)");
    /* The CPU refit started from the parameters before the failed try. */
    CU_ASSERT_EQUAL_FATAL(
        protein_gp_backend_cpu.create(&cpu, 2, err, sizeof err), PROTEIN_OK);
    CU_ASSERT_EQUAL(protein_gp_backend_cpu.fit(cpu, X, y, 5, &ref, &fo, &rep,
                                               err, sizeof err),
                    PROTEIN_OK);
    for (size_t i = 0; i < PROTEIN_GP_NTHETA(2); i++)
        CU_ASSERT_DOUBLE_EQUAL(p.theta[i], ref.theta[i], 1e-12);
    CU_ASSERT_EQUAL(b->predict(st, xs, 1, &mean, &var, err, sizeof err),
                    PROTEIN_OK);
    CU_ASSERT(isfinite(mean) && isfinite(var) && var >= 0);

    /* The next fit runs on the device again. */
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
    {"--device cuda and auto on this machine", test_cuda_and_auto},
    {"a failing CUDA fit is redone on the CPU", test_fit_falls_back_to_cpu},
#ifdef HAVE_CUDA
    {"the CUDA module loads from the build tree", test_module_loads},
    {"a CUDA module that cannot be used is refused", test_module_refused},
#endif
};

int main(void)
{
    /* auto leaves the reason when it cannot use CUDA, "" otherwise. */
    proteind_backend_select("auto", no_device, sizeof no_device);
    printf("CUDA on this machine: %s\n",
           no_device[0] ? no_device : "a usable device");
    return cunit_run_suite("proteind device", tests, CUNIT_COUNT(tests));
}
