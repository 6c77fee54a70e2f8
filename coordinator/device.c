/*
 * device.c - which GP backend proteind fits on (--device): the one place
 * that knows the backends (the CPU one of core/, the CUDA one of kernels/
 * when built), and the CUDA backend wrapped so that a failing CUDA fit is
 * redone on the CPU.
 *
 * The CUDA backend is a module, protein-gp-cuda.so (kernels/), loaded
 * only when CUDA is wanted: its CUDA libraries take about 190 MB resident,
 * which a proteind fitting on the CPU does not pay. --device auto first
 * asks the NVIDIA driver (libcuda.so.1, the driver API alone) for a
 * device, and without one fits on the CPU without loading the module
 * (driver_has_device says why not unload it instead); --device cuda
 * always loads the module, so that it fails with the module's own reason
 * (the file missing or stale, a CUDA library missing) or the runtime's
 * (no driver, no device).
 *
 * The wrapper is a protein_gp_backend of its own: the optimizer sees one
 * backend named "cuda"; each state holds a CUDA state and, after the first
 * failure, a CPU state. Predictions go to whichever backend served the last
 * successful fit, so a fallback refit is used consistently.
 *
 * Test builds (PROTEIN_FAULT_INJECTION, tests/coordinator.am only) can make
 * the next CUDA fits fail as a device error would, after the real backend
 * has run, the way SQLite injects faults: there is no other way to make a
 * healthy GPU fail on demand, and the fallback must be tested, not assumed.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_CUDA
#include <dlfcn.h>
#endif

#include "proteind.h"
#ifdef HAVE_CUDA
#include "gp_cuda_module.h"
#endif

/* The real CUDA backend behind the wrapper (set by proteind_backend_select). */
static const protein_gp_backend *cuda_backend;
/* Who served the most recent fit: "cuda" or "cpu (cuda fallback)". */
static const char *last_fit_backend;

typedef struct fallback_state {
    size_t d;
    void *cuda;  /* NULL when CUDA could not create a state */
    void *cpu;   /* created on the first fallback */
    int use_cpu; /* the last successful fit ran on the CPU */
} fallback_state;

#ifdef PROTEIN_FAULT_INJECTION
static int injected_fit_failures;

/* Contract in proteind.h. */
void proteind_inject_cuda_fit_failures(int count)
{
    injected_fit_failures = count;
}
#endif

/* The real CUDA fit; in test builds, turned into a device error (the
 * parameters left half-updated, as a failing device may leave them) while
 * injected failures remain. */
static int cuda_fit(fallback_state *st, const double *X, const double *y,
                    size_t n, protein_gp_params *params,
                    const protein_gp_fit_options *opts,
                    protein_gp_fit_report *report, char *errbuf, size_t errlen)
{
    int rc = cuda_backend->fit(st->cuda, X, y, n, params, opts, report, errbuf,
                               errlen);
#ifdef PROTEIN_FAULT_INJECTION
    if (rc == PROTEIN_OK && injected_fit_failures > 0) {
        injected_fit_failures--;
        params->theta[0] = NAN;
        snprintf(errbuf, errlen, "injected fault: cudaErrorLaunchFailure");
        rc = PROTEIN_EBACKEND;
    }
#endif
    return rc;
}

static int ensure_cpu(fallback_state *st, char *errbuf, size_t errlen)
{
    if (st->cpu)
        return PROTEIN_OK;
    return protein_gp_backend_cpu.create(&st->cpu, st->d, errbuf, errlen);
}

static int fb_create(void **state, size_t d, char *errbuf, size_t errlen)
{
    fallback_state *st = calloc(1, sizeof *st);
    char msg[256] = "";
    int rc;

    if (!st)
        return PROTEIN_ENOMEM;
    st->d = d;
    rc = cuda_backend->create(&st->cuda, d, msg, sizeof msg);
    if (rc != PROTEIN_OK) {
        st->cuda = NULL;
        proteind_warn(
            "CUDA backend failed to start (%s); fitting on the CPU backend",
            msg);
        rc = ensure_cpu(st, errbuf, errlen);
        if (rc != PROTEIN_OK) {
            free(st);
            return rc;
        }
        st->use_cpu = 1;
    }
    *state = st;
    return PROTEIN_OK;
}

static int fb_loss_grad(void *state, const double *X, const double *y, size_t n,
                        const double *theta, double *loss, double *grad,
                        char *errbuf, size_t errlen)
{
    fallback_state *st = state;
    int rc;

    if (st->cuda && !st->use_cpu) {
        rc = cuda_backend->loss_grad(st->cuda, X, y, n, theta, loss, grad,
                                     errbuf, errlen);
        if (rc == PROTEIN_OK)
            return rc;
    }
    rc = ensure_cpu(st, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    return protein_gp_backend_cpu.loss_grad(st->cpu, X, y, n, theta, loss, grad,
                                            errbuf, errlen);
}

/* Copies the optimizer state of src into dst (same d, both allocated). */
static void params_copy(protein_gp_params *dst, const protein_gp_params *src)
{
    size_t k = PROTEIN_GP_NTHETA(src->d) * sizeof(double);

    memcpy(dst->theta, src->theta, k);
    memcpy(dst->m, src->m, k);
    memcpy(dst->v, src->v, k);
    memcpy(dst->vmax, src->vmax, k);
    dst->step = src->step;
}

static int fb_fit(void *state, const double *X, const double *y, size_t n,
                  protein_gp_params *params, const protein_gp_fit_options *opts,
                  protein_gp_fit_report *report, char *errbuf, size_t errlen)
{
    fallback_state *st = state;
    protein_gp_params saved = {0};
    char msg[256] = "";
    int rc;

    if (st->cuda) {
        rc = protein_gp_params_init(&saved, params->d);
        if (rc != PROTEIN_OK)
            return rc;
        params_copy(&saved, params);
        rc = cuda_fit(st, X, y, n, params, opts, report, msg, sizeof msg);
        if (rc == PROTEIN_OK) {
            st->use_cpu = 0;
            last_fit_backend = "cuda";
            protein_gp_params_free(&saved);
            return rc;
        }
        proteind_warn("CUDA fit of %zu observations failed (%s); refitting on "
                      "the CPU backend",
                      n, msg);
        params_copy(params, &saved);
        protein_gp_params_free(&saved);
    }
    rc = ensure_cpu(st, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    rc = protein_gp_backend_cpu.fit(st->cpu, X, y, n, params, opts, report,
                                    errbuf, errlen);
    if (rc == PROTEIN_OK) {
        st->use_cpu = 1;
        last_fit_backend = "cpu (cuda fallback)";
    }
    return rc;
}

static int fb_predict(void *state, const double *Xs, size_t m, double *mean,
                      double *var, char *errbuf, size_t errlen)
{
    fallback_state *st = state;

    if (st->use_cpu)
        return protein_gp_backend_cpu.predict(st->cpu, Xs, m, mean, var, errbuf,
                                              errlen);
    return cuda_backend->predict(st->cuda, Xs, m, mean, var, errbuf, errlen);
}

static void fb_destroy(void *state)
{
    fallback_state *st = state;

    if (!st)
        return;
    if (st->cuda)
        cuda_backend->destroy(st->cuda);
    if (st->cpu)
        protein_gp_backend_cpu.destroy(st->cpu);
    free(st);
}

static const protein_gp_backend fallback_backend = {
    .name = "cuda",
    .create = fb_create,
    .loss_grad = fb_loss_grad,
    .fit = fb_fit,
    .predict = fb_predict,
    .destroy = fb_destroy,
};

#ifdef HAVE_CUDA
/* Contract in proteind.h. */
const char *proteind_cuda_module_path(void)
{
    const char *env = getenv("PROTEIN_CUDA_MODULE");

    if (env && env[0] != '\0')
        return env;
    return PROTEIN_PKGLIBDIR "/" PROTEIN_GP_CUDA_MODULE_FILE;
}

/* Contract in proteind.h. */
int proteind_cuda_module_check(const protein_gp_cuda_module *m,
                               const char *path, char *why, size_t len)
{
    /* only abi is known to be there in a module of another ABI */
    if (m->abi != PROTEIN_GP_CUDA_MODULE_ABI) {
        snprintf(why, len,
                 "%s is the CUDA backend module of another protein build "
                 "(module ABI %d, this proteind's %d): install this build's "
                 "module, or name it in PROTEIN_CUDA_MODULE",
                 path, m->abi, PROTEIN_GP_CUDA_MODULE_ABI);
        return 0;
    }
    if (!m->version || strcmp(m->version, PACKAGE_VERSION) != 0) {
        snprintf(why, len,
                 "%s is the CUDA backend module of protein %s, this proteind "
                 "is protein %s: install this build's module, or name it in "
                 "PROTEIN_CUDA_MODULE",
                 path, m->version ? m->version : "(unknown)", PACKAGE_VERSION);
        return 0;
    }
    if (!m->fingerprint ||
        strcmp(m->fingerprint, PROTEIN_GP_CUDA_MODULE_FINGERPRINT) != 0) {
        snprintf(why, len,
                 "%s is the CUDA backend module of another protein %s build, "
                 "whose module interface differs (fingerprint %s, this "
                 "proteind's %s): install this build's module, or name it "
                 "in PROTEIN_CUDA_MODULE",
                 path, PACKAGE_VERSION,
                 m->fingerprint ? m->fingerprint : "(none)",
                 PROTEIN_GP_CUDA_MODULE_FINGERPRINT);
        return 0;
    }
    return 1;
}

/* Contract in proteind.h. */
const protein_gp_cuda_module *proteind_cuda_module_load(const char *path,
                                                        char *why, size_t len)
{
    const protein_gp_cuda_module *(*entry)(void);
    const protein_gp_cuda_module *m;
    const char *err;
    void *handle;

    /* RTLD_NOW: a core function the loader does not export
     * (kernels/module-imports.list) or a CUDA library missing fails here,
     * not in the middle of a fit */
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(why, len, "cannot load the CUDA backend module %s: %s", path,
                 dlerror());
        return NULL;
    }
    dlerror();
    entry = (const protein_gp_cuda_module *(*)(void))dlsym(
        handle, PROTEIN_GP_CUDA_MODULE_ENTRY);
    if (!entry) {
        err = dlerror();
        snprintf(why, len, "%s is not a protein CUDA backend module: %s", path,
                 err ? err : "its entry point is NULL");
        dlclose(handle);
        return NULL;
    }
    m = entry();
    if (!m) {
        snprintf(why, len,
                 "%s is not a protein CUDA backend module: its entry "
                 "point gave nothing",
                 path);
        dlclose(handle);
        return NULL;
    }
    if (!proteind_cuda_module_check(m, path, why, len)) {
        dlclose(handle);
        return NULL;
    }
    return m;
}

/* The driver API's CUresult values (cuda.h) that driver_has_device names
 * itself: the toolkit's stub library answers every call, the error
 * strings' too, with CUDA_ERROR_STUB_LIBRARY. */
enum { CU_SUCCESS = 0, CU_ERROR_STUB_LIBRARY = 34 };

/* Writes to why the reason that the driver at `driver` (its file name)
 * gave rc to the call named fn, in the driver's own words when it has
 * them. */
static void driver_failure(void *driver, const char *file, const char *fn,
                           int rc, char *why, size_t len)
{
    int (*error_string)(int, const char **) =
        (int (*)(int, const char **))dlsym(driver, "cuGetErrorString");
    const char *text = NULL;

    if (rc == CU_ERROR_STUB_LIBRARY)
        text = "CUDA_ERROR_STUB_LIBRARY, the CUDA toolkit's stub of the "
               "driver, not an NVIDIA driver";
    else if (!error_string || error_string(rc, &text) != CU_SUCCESS || !text)
        text = "an error the driver does not name";
    snprintf(why, len,
             "no usable CUDA device: %s of the NVIDIA driver %s failed: "
             "CUresult %d (%s)",
             fn, file, rc, text);
}

/*
 * 1 when the NVIDIA driver (libcuda.so.1) loads, initializes (cuInit) and
 * counts a device (cuDeviceGetCount); else 0 with the reason in why
 * (len bytes, always terminated).
 *
 * This is the driver API alone, so that --device auto on a host with a
 * driver but no usable GPU (none present, the kernel module not loaded,
 * the toolkit's stub on the library path) fits on the CPU without mapping
 * the module's CUDA runtime, cuBLAS and cuSOLVER (about 190 MB resident).
 * Unloading the module after its own check fails is not the way: those
 * libraries register exit handlers and thread-key destructors, and once
 * the runtime has initialized a driver nothing documents that unloading
 * it is safe.
 *
 * A driver that failed is closed again (Ollama's GPU discovery does the
 * same after a failed cuInit); one that counted a device stays loaded for
 * the life of the process, initialized (each such call keeps one
 * reference): the module about to be loaded uses that same library.
 */
static int driver_has_device(char *why, size_t len)
{
    void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    int (*init)(unsigned int);
    int (*device_count)(int *);
    Dl_info info;
    const char *file = "libcuda.so.1";
    int rc, count = 0;

    if (!driver) {
        snprintf(why, len, "no usable CUDA device: no NVIDIA driver (%s)",
                 dlerror());
        return 0;
    }
    init = (int (*)(unsigned int))dlsym(driver, "cuInit");
    device_count = (int (*)(int *))dlsym(driver, "cuDeviceGetCount");
    if (init && dladdr((void *)init, &info) && info.dli_fname)
        file = info.dli_fname;
    if (!init || !device_count) {
        snprintf(why, len,
                 "no usable CUDA device: %s is not an NVIDIA driver (no "
                 "cuInit or cuDeviceGetCount)",
                 file);
        goto fail;
    }
    rc = init(0);
    if (rc != CU_SUCCESS) {
        driver_failure(driver, file, "cuInit", rc, why, len);
        goto fail;
    }
    rc = device_count(&count);
    if (rc != CU_SUCCESS) {
        driver_failure(driver, file, "cuDeviceGetCount", rc, why, len);
        goto fail;
    }
    if (count < 1) {
        snprintf(why, len,
                 "no usable CUDA device: the NVIDIA driver %s counts none",
                 file);
        goto fail;
    }
    return 1;
fail:
    dlclose(driver);
    return 0;
}
#endif

/* The CUDA backend when this build has one and it can run here (for auto,
 * the driver counting a device; the module loaded; a device present, the
 * kernels loading on it, a state created), else NULL with the reason in why. */
static const protein_gp_backend *cuda_usable(const char *device, char *why,
                                             size_t len)
{
#ifdef HAVE_CUDA
    const protein_gp_cuda_module *m;
    const protein_gp_backend *b;
    void *probe = NULL;
    char msg[256] = "";

    if (strcmp(device, "auto") == 0 && !driver_has_device(why, len))
        return NULL;
    m = proteind_cuda_module_load(proteind_cuda_module_path(), why, len);
    if (!m || !m->available(why, len))
        return NULL;
    b = m->backend();
    if (b->create(&probe, 1, msg, sizeof msg) != PROTEIN_OK) {
        snprintf(why, len, "no usable CUDA device: %s", msg);
        return NULL;
    }
    b->destroy(probe);
    return b;
#else
    snprintf(why, len,
             "protein was built without CUDA (configure --with-cuda)");
    return NULL;
#endif
}

/* Contract in proteind.h. */
const protein_gp_backend *proteind_backend_select(const char *device,
                                                  char *errbuf, size_t errlen)
{
    const protein_gp_backend *b;
    char why[512] = "";

    if (errlen > 0)
        errbuf[0] = '\0';
    if (strcmp(device, "cpu") == 0)
        return &protein_gp_backend_cpu;
    if (strcmp(device, "cuda") != 0 && strcmp(device, "auto") != 0) {
        snprintf(errbuf, errlen,
                 "unknown --device '%s' (use auto, cpu or cuda)", device);
        return NULL;
    }
    b = cuda_usable(device, why, sizeof why);
    if (b == NULL) {
        if (strcmp(device, "auto") == 0) {
            snprintf(errbuf, errlen, "%s", why);
            return &protein_gp_backend_cpu;
        }
        snprintf(errbuf, errlen, "--device cuda: %s; use --device auto or cpu",
                 why);
        return NULL;
    }
    cuda_backend = b;
    return &fallback_backend;
}

/* Contract in proteind.h. */
const char *proteind_backend_last_used(const protein_gp_backend *chosen)
{
    if (chosen == &fallback_backend && last_fit_backend)
        return last_fit_backend;
    return chosen->name;
}
