/*
 * gp_cuda_internal.h - what the translation units of the CUDA backend
 * share: the backend state, the error checks and the host functions that
 * gp_cuda.cu (kernels, loss, gradient, fit, predict), gp_cuda_tri.cu (the
 * triangular layer over cuBLAS) and gp_cuda_bench.cu (the benchmark hook)
 * call across files. C++ for nvcc only; nothing here is public.
 */
#ifndef PROTEIN_GP_CUDA_INTERNAL_H
#define PROTEIN_GP_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <cusolverDn.h>

#include <stddef.h>

#include "gp.h"
#include "protein.h"

namespace protein_cuda
{

const int INV_BLOCK = 1024; /* block of trtri_lower and lauum_lower (512
                             * and 256 measured slower on an H200) */

struct cuda_state {
    size_t d;
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cusolverDnHandle_t solver;
    cusolverDnParams_t params;

    size_t cap_n;  /* training capacity (points) */
    double *K;     /* cap_n^2: K, then L, then K^-1 */
    double *X;     /* d x cap_n, transposed */
    double *Xs;    /* d x cap_n, X / l */
    double *y, *a; /* cap_n */
    void *dwork;   /* cuSOLVER device workspace */
    size_t dwork_bytes;
    void *hwork; /* cuSOLVER host workspace */
    size_t hwork_bytes;
    double *part; /* (d + 3) x grad_blocks partial sums */
    int grad_blocks;

    double *theta, *m, *v, *vmax, *prev; /* d + 3 each, one allocation;
                                          * prev: theta before the last
                                          * Adam step */
    double *hp;   /* d + 3 mapped values, then d + 3 softplus slopes */
    double *scal; /* SC_GRAD + d + 3 reported scalars */
    int *info;    /* potrf, potrs status */
    double *tri;  /* INV_BLOCK^2: a diagonal block of lauum */

    double *host_in;    /* pinned staging for uploads */
    size_t host_in_cap; /* doubles */
    double *host_out;   /* pinned: scal copy */
    int *host_info;     /* pinned: info copy */

    size_t cap_m; /* predict batch capacity */
    double *Ks;   /* cap_n x cap_m */
    double *Xc;   /* d x cap_m candidates */
    double *pmean, *pvar;

    size_t n;     /* training points uploaded */
    int factored; /* K holds L (and a) for the device theta */
    int fitted;   /* the last fit succeeded: predict may run */
};

/* The name of a cuSOLVER status, for messages. */
const char *solver_status_name(cusolverStatus_t s);

/* Each check turns a failed call into PROTEIN_EBACKEND with a message naming
 * the call and the library's reason (reason(status)), then jumps to the
 * function's fail. */
#define STATUS_CHECK(type, ok, reason, call, what)                             \
    do {                                                                       \
        type e_ = (call);                                                      \
        if (e_ != (ok)) {                                                      \
            rc = protein_gp_fail(PROTEIN_EBACKEND, errbuf, errlen,             \
                                 "GP (cuda): %s failed: %s", (what),           \
                                 reason(e_));                                  \
            goto fail;                                                         \
        }                                                                      \
    } while (0)
#define CU_CHECK(call, what)                                                   \
    STATUS_CHECK(cudaError_t, cudaSuccess, cudaGetErrorString, call, what)
#define BLAS_CHECK(call, what)                                                 \
    STATUS_CHECK(cublasStatus_t, CUBLAS_STATUS_SUCCESS, cublasGetStatusString, \
                 call, what)
#define SOLVER_CHECK(call, what)                                               \
    STATUS_CHECK(cusolverStatus_t, CUSOLVER_STATUS_SUCCESS,                    \
                 solver_status_name, call, what)

/* A kernel launch: the launch error now, execution errors at the next sync. */
#define LAUNCH_CHECK(what) CU_CHECK(cudaGetLastError(), (what))

/* Blocks of `threads` threads to cover `work` items (1 to 65535). */
int grid_for(size_t work, int threads);

/* Allocates / frees a backend state for d dimensions (the backend table's
 * create and destroy). */
int cuda_create(void **state, size_t d, char *errbuf, size_t errlen);
void cuda_destroy(void *state);

/* Makes room for n training points (grows, never shrinks; a growth drops
 * the kept fit) and sizes the cuSOLVER workspaces for n. */
int ensure_train(cuda_state *s, size_t n, char *errbuf, size_t errlen);

/* Copies a row-major rows x d host matrix into a d x rows device matrix. */
int upload_transposed(cuda_state *s, const double *src, size_t rows,
                      double *dst, char *errbuf, size_t errlen);

/* Launches the hyper kernel: hp from the device theta, Xs = X / l for the
 * first n points. Launch errors only; execution errors surface at the
 * next synchronization. */
int launch_hyper(cuda_state *s, size_t n, char *errbuf, size_t errlen);

/* Launches build_k: the lower triangle of K for the first n points with
 * `jitter` added to the diagonal (after launch_hyper). */
int launch_build_k(cuda_state *s, size_t n, double jitter, char *errbuf,
                   size_t errlen);

/* Queues the Cholesky factorization of the first n x n of K in place
 * (cusolverDnXpotrf, lower); its status lands in s->info[0] at the next
 * synchronization. Errors of the call itself only. */
int launch_potrf(cuda_state *s, size_t n, char *errbuf, size_t errlen);

/* In place, L (lower, m x m, leading dimension n) -> L^-1 (gp_cuda_tri.cu). */
int trtri_lower(cuda_state *s, size_t n, double *A, size_t m, char *errbuf,
                size_t errlen);

/* In place, M = L^-1 (lower, n x n) -> the lower triangle of M' M = K^-1
 * (gp_cuda_tri.cu). */
int lauum_lower(cuda_state *s, size_t n, double *A, char *errbuf,
                size_t errlen);

} /* namespace protein_cuda */

#endif /* PROTEIN_GP_CUDA_INTERNAL_H */
