/*
 * gp_cuda.cu - the CUDA backend of the GP in core/gp.h: the same model,
 * loss, gradient, fit methods and prediction as the CPU backend, in FP64
 * on one device with cuSOLVER (Xpotrf, Xpotrs), cuBLAS (gemm, syrk, trmm,
 * trsm, gemv) and the kernels below.
 *
 * Device layout. Inputs are stored transposed (d x n, column-major:
 * X[j * n + i]) so that consecutive threads read consecutive points. K is an
 * n x n column-major matrix of which only the lower triangle is used; it
 * becomes L after Xpotrf and K^-1 (lower) after the in-place inverse.
 * Theta, the Adam moments and the gradient live on the device; per loss or
 * gradient only the loss, the factorization status and (for L-BFGS) the
 * d + 3 gradient values come back, never a matrix. The L-BFGS fit is
 * core's protein_gp_minimize over this backend's loss and gradient; the
 * Adam fit runs on the device.
 *
 * Loss: hyper kernel (softplus, X / l) -> build_k (lower tiles) -> Xpotrf
 * (jitter ladder) -> Xpotrs (a = K^-1 y) -> loss kernel (log det, y'a,
 * priors). Gradient: K^-1 = L^-T L^-1 in place (gp_cuda_tri.cu: recursive
 * trtri and blocked lauum, both gemm-bound) -> one fused pass over the lower
 * triangle of W = a a' - K^-1 for all d + 3 hyperparameters with per-block
 * partial sums -> a one-block reduction in a fixed order (deterministic).
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"
#include "protein.h"
#include "gp_cuda.h"
#include "gp_cuda_internal.h"

namespace protein_cuda
{

/* ------------------------------------------------------------ constants */

const double SQRT3 = 1.7320508075688772;
const double LOG_2PI = 1.8378770664093453;
const double SOFTPLUS_FLOOR = PROTEIN_GP_SOFTPLUS_FLOOR;
const double ADAM_BETA1 = PROTEIN_GP_ADAM_BETA1;
const double ADAM_BETA2 = PROTEIN_GP_ADAM_BETA2;
const double ADAM_EPS = PROTEIN_GP_ADAM_EPS;
const double JITTER_LADDER[] = {0.0, 1e-8, 1e-6, 1e-4};
const int JITTER_RUNGS = 4;

const int TILE = 32;     /* tile edge of build_k and grad */
const int TILE_ROWS = 8; /* threads per tile column: 32 x 8 threads */
const int GRAD_THREADS = TILE * TILE_ROWS;
const int MAX_CHUNK = 32; /* lengthscales per grad launch */
const int FINISH_THREADS = 256;
const int PRED_BYTES = 1 << 30;      /* device memory for one predict batch */
const size_t PRED_MAX_BATCH = 65536; /* candidates per predict batch */
const int CROSS_CANDS = 8;           /* candidates per thread of cross_kernel */

/* Slots of the per-block partial sums of the grad kernel. */
enum { SLOT_SF = 0, SLOT_B = 1, SLOT_SN2 = 2, SLOT_L = 3 };

/* Layout of the mapped hyperparameters (device array hp). */
struct hp_index {
    size_t d;
    __host__ __device__ size_t l(size_t j) const
    {
        return j;
    }
    __host__ __device__ size_t sf() const
    {
        return d;
    }
    __host__ __device__ size_t b() const
    {
        return d + 1;
    }
    __host__ __device__ size_t sn2() const
    {
        return d + 2;
    }
};

/* Scalars the device reports back (scal). */
enum { SC_LOSS = 0, SC_GRAD = 1 };

/* ------------------------------------------------------------ errors */

/* Contract in gp_cuda_internal.h. */
const char *solver_status_name(cusolverStatus_t s)
{
    switch (s) {
    case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED:
        return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED:
        return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR:
        return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
    default: return "cuSOLVER error";
    }
}

/* ------------------------------------------------------------ device math */

/* The device twin of protein_gp_softplus (gp.h): the same value, overflow-
 * free for large x. */
__device__ double softplus(double x)
{
    return fmax(x, 0.0) + log1p(exp(-fabs(x))) + SOFTPLUS_FLOOR;
}

/* The logistic function, the derivative of softplus, without overflow for
 * large |x|. */
__device__ double sigmoid(double x)
{
    return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

/* Lower tile t of a T x T tile grid (row-major over ti >= tk). */
__device__ void tile_of(long long t, int *ti, int *tk)
{
    long long r = (long long)((sqrt(8.0 * (double)t + 1.0) - 1.0) * 0.5);
    while ((r + 1) * (r + 2) / 2 <= t)
        r++;
    while (r * (r + 1) / 2 > t)
        r--;
    *ti = (int)r;
    *tk = (int)(t - r * (r + 1) / 2);
}

/* r^2 in scaled coordinates and x.x' in raw ones, for points i and k. */
__device__ void pair_terms(const double *X, const double *Xs, size_t n,
                           size_t d, size_t i, size_t k, double *r2,
                           double *lin)
{
    double s = 0.0, p = 0.0;
    for (size_t j = 0; j < d; j++) {
        double diff = Xs[j * n + i] - Xs[j * n + k];
        s += diff * diff;
        p += X[j * n + i] * X[j * n + k];
    }
    *r2 = s;
    *lin = p;
}

/* Matérn-3/2 + linear kernel value without the outputscale. */
__device__ double kernel_unit(double r2, double lin, double b)
{
    double sr = SQRT3 * sqrt(r2);
    return lin + b + (1.0 + sr) * exp(-sr);
}

/* ------------------------------------------------------------ kernels */

/* hp[0..d+2] = softplus(theta) + floor, hp[d+3..] = softplus'(theta);
 * Xs = X / l. One grid-stride pass over the d x n inputs. */
__global__ void hyper_kernel(const double *theta, size_t d, const double *X,
                             double *Xs, size_t n, double *hp)
{
    size_t nt = d + 3;
    size_t tid = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    if (tid < nt) {
        hp[tid] = softplus(theta[tid]);
        hp[nt + tid] = sigmoid(theta[tid]);
    }
    for (size_t e = tid; e < d * n; e += stride) {
        size_t j = e / n;
        Xs[e] = X[e] / softplus(theta[j]);
    }
}

/* Lower triangle of K = sf * k(X, X) + (sn2 + jitter) I; one block per
 * 32 x 32 lower tile. */
__global__ void build_k_kernel(const double *X, const double *Xs, size_t n,
                               size_t d, const double *hp, double jitter,
                               double *K)
{
    hp_index ix = {d};
    int ti, tk;
    tile_of(blockIdx.x, &ti, &tk);
    size_t i = (size_t)ti * TILE + threadIdx.x;
    if (i >= n)
        return;
    double sf = hp[ix.sf()], b = hp[ix.b()], diag = hp[ix.sn2()] + jitter;
    for (int s = threadIdx.y; s < TILE; s += TILE_ROWS) {
        size_t k = (size_t)tk * TILE + s;
        if (k >= n || k > i)
            continue;
        double r2, lin;
        pair_terms(X, Xs, n, d, i, k, &r2, &lin);
        double v = sf * kernel_unit(r2, lin, b);
        if (i == k)
            v += diag;
        K[k * n + i] = v;
    }
}

/* -log of a LogNormal(mu, sigma) density at a mapped hyperparameter
 * value, softplus Jacobian (slope) included, as core's priors in
 * gp_common.c; its derivative with respect to the raw value goes to
 * *grad_raw. */
__device__ double lognormal_prior(double value, double slope, double mu,
                                  double sigma, double *grad_raw)
{
    double z = (log(value) - mu) / sigma;
    *grad_raw = -((-1.0 / value - z / (sigma * value)) * slope + (1.0 - slope));
    return log(value) + log(sigma) + 0.5 * LOG_2PI + 0.5 * z * z - log(slope);
}

/* The loss -MLL/n - log p(sn2) - sum_k log p(l_k) / n from L, y and
 * a = K^-1 y (one block): sum log L_ii and y'a by a block reduction, then
 * the priors on thread 0. */
__global__ void loss_kernel(const double *L, const double *y, const double *a,
                            size_t n, size_t d, const double *hp, double *scal)
{
    __shared__ double s_ld[FINISH_THREADS], s_ya[FINISH_THREADS];
    hp_index ix = {d};
    double ld = 0.0, ya = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
        ld += log(L[i * n + i]);
        ya += y[i] * a[i];
    }
    s_ld[threadIdx.x] = ld;
    s_ya[threadIdx.x] = ya;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) {
            s_ld[threadIdx.x] += s_ld[threadIdx.x + w];
            s_ya[threadIdx.x] += s_ya[threadIdx.x + w];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        const double *slope = hp + d + 3;
        double unused, priors = 0.0;
        for (size_t j = 0; j < d; j++)
            priors += lognormal_prior(
                hp[ix.l(j)], slope[ix.l(j)], PROTEIN_GP_LENGTHSCALE_PRIOR_MU,
                PROTEIN_GP_LENGTHSCALE_PRIOR_SIGMA, &unused);
        scal[SC_LOSS] =
            (0.5 * s_ya[0] + s_ld[0] + 0.5 * (double)n * LOG_2PI + priors) /
                (double)n +
            lognormal_prior(hp[ix.sn2()], slope[ix.sn2()],
                            PROTEIN_GP_NOISE_PRIOR_MU,
                            PROTEIN_GP_NOISE_PRIOR_SIGMA, &unused);
    }
}

/* The sum of v over the 32 lanes of a full warp, in lane 0 (the other lanes
 * hold partial sums). */
__device__ double warp_sum(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

/* One fused pass over the lower triangle of W = a a' - K^-1 (Kinv holds the
 * lower triangle of K^-1). Per block, partial sums of
 *   SLOT_SF:  sum W * (x.x' + b + m(r))        (d K / d sf, times sf^0)
 *   SLOT_B:   sum W                            (d K / d b, over sf)
 *   SLOT_SN2: sum_i W_ii                       (d K / d sn2)
 *   SLOT_L+c: sum W * e(r) * ((x_j - x'_j)/l_j)^2 for j = j0 + c
 * with off-diagonal entries counted twice. CHUNK lengthscales per launch,
 * starting at j0; the first three slots are written by the j0 = 0 launch. */
template <int CHUNK>
__global__ void __launch_bounds__(GRAD_THREADS)
    grad_kernel(const double *X, const double *Xs, size_t n, size_t d,
                const double *hp, const double *Kinv, const double *a,
                size_t j0, long long ntiles, double *part)
{
    hp_index ix = {d};
    double acc[3 + CHUNK];
#pragma unroll
    for (int c = 0; c < 3 + CHUNK; c++)
        acc[c] = 0.0;
    double b = hp[ix.b()];
    int nc = (int)((d - j0) < (size_t)CHUNK ? (d - j0) : (size_t)CHUNK);

    for (long long t = blockIdx.x; t < ntiles; t += gridDim.x) {
        int ti, tk;
        tile_of(t, &ti, &tk);
        size_t i = (size_t)ti * TILE + threadIdx.x;
        if (i >= n)
            continue;
        double ai = a[i];
        for (int s = threadIdx.y; s < TILE; s += TILE_ROWS) {
            size_t k = (size_t)tk * TILE + s;
            if (k >= n || k > i)
                continue;
            double w = ai * a[k] - Kinv[k * n + i];
            if (i != k)
                w *= 2.0;
            double r2, lin;
            pair_terms(X, Xs, n, d, i, k, &r2, &lin);
            double sr = SQRT3 * sqrt(r2);
            double e = exp(-sr);
            acc[SLOT_SF] += w * (lin + b + (1.0 + sr) * e);
            acc[SLOT_B] += w;
            if (i == k)
                acc[SLOT_SN2] += w;
            double we = w * e;
#pragma unroll
            for (int c = 0; c < CHUNK; c++) {
                if (c < nc) {
                    size_t j = j0 + c;
                    double diff = Xs[j * n + i] - Xs[j * n + k];
                    acc[SLOT_L + c] += we * diff * diff;
                }
            }
        }
    }

    __shared__ double s_acc[GRAD_THREADS / 32][3 + CHUNK];
    int tid = threadIdx.y * blockDim.x + threadIdx.x;
    int warp = tid / 32, lane = tid % 32;
#pragma unroll
    for (int c = 0; c < 3 + CHUNK; c++) {
        double v = warp_sum(acc[c]);
        if (lane == 0)
            s_acc[warp][c] = v;
    }
    __syncthreads();
    if (tid < 3 + nc) {
        double v = 0.0;
        for (int w = 0; w < GRAD_THREADS / 32; w++)
            v += s_acc[w][tid];
        if (tid < SLOT_L) {
            if (j0 == 0)
                part[(size_t)tid * gridDim.x + blockIdx.x] = v;
        } else {
            part[(size_t)(SLOT_L + j0 + (tid - SLOT_L)) * gridDim.x +
                 blockIdx.x] = v;
        }
    }
}

/* Sums the grad partials of nblocks blocks in a fixed order and writes
 * d loss / d theta_raw (theta order: l_1..l_d, sf, b, sn2) to scal. One
 * block. */
__global__ void grad_finish_kernel(size_t n, size_t d, const double *hp,
                                   const double *part, int nblocks,
                                   double *scal)
{
    hp_index ix = {d};
    size_t nt = d + 3;
    const double *slope = hp + nt;
    __shared__ double s_red[FINISH_THREADS];
    double scale = -1.0 / (2.0 * (double)n);

    for (size_t slot = 0; slot < nt; slot++) {
        double acc = 0.0;
        for (int bl = threadIdx.x; bl < nblocks; bl += blockDim.x)
            acc += part[slot * nblocks + bl];
        s_red[threadIdx.x] = acc;
        __syncthreads();
        for (int w = blockDim.x / 2; w > 0; w >>= 1) {
            if ((int)threadIdx.x < w)
                s_red[threadIdx.x] += s_red[threadIdx.x + w];
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            double sum = s_red[0];
            if (slot == SLOT_SF) {
                scal[SC_GRAD + ix.sf()] = scale * sum * slope[ix.sf()];
            } else if (slot == SLOT_B) {
                scal[SC_GRAD + ix.b()] =
                    scale * hp[ix.sf()] * sum * slope[ix.b()];
            } else if (slot == SLOT_SN2) {
                double g_prior;
                lognormal_prior(hp[ix.sn2()], slope[ix.sn2()],
                                PROTEIN_GP_NOISE_PRIOR_MU,
                                PROTEIN_GP_NOISE_PRIOR_SIGMA, &g_prior);
                scal[SC_GRAD + ix.sn2()] =
                    scale * sum * slope[ix.sn2()] + g_prior;
            } else {
                size_t j = slot - SLOT_L;
                double g_prior;
                lognormal_prior(hp[ix.l(j)], slope[ix.l(j)],
                                PROTEIN_GP_LENGTHSCALE_PRIOR_MU,
                                PROTEIN_GP_LENGTHSCALE_PRIOR_SIGMA, &g_prior);
                scal[SC_GRAD + ix.l(j)] = scale * 3.0 * hp[ix.sf()] /
                                              hp[ix.l(j)] * sum *
                                              slope[ix.l(j)] +
                                          g_prior / (double)n;
            }
        }
        __syncthreads();
    }
}

/* One Adam-amsgrad step (step number t) of theta from the gradient in
 * scal, keeping the previous theta in prev (for undoing the step). */
__global__ void adam_kernel(double *theta, double *m, double *v, double *vmax,
                            double *prev, const double *scal, size_t nt,
                            long long t, double lr)
{
    double bc1 = 1.0 - pow(ADAM_BETA1, (double)t);
    double bc2 = 1.0 - pow(ADAM_BETA2, (double)t);
    for (size_t k = threadIdx.x; k < nt; k += blockDim.x) {
        double g = scal[SC_GRAD + k];
        m[k] = ADAM_BETA1 * m[k] + (1 - ADAM_BETA1) * g;
        v[k] = ADAM_BETA2 * v[k] + (1 - ADAM_BETA2) * g * g;
        if (v[k] > vmax[k])
            vmax[k] = v[k];
        double denom = sqrt(vmax[k]) / sqrt(bc2) + ADAM_EPS;
        prev[k] = theta[k];
        theta[k] -= lr / bc1 * m[k] / denom;
    }
}

/* Ks[c * n + i] = k(x_i, xc_c) (full, with sf) and kss[c] = k(xc_c, xc_c)
 * for the CROSS_CANDS candidates c of block row blockIdx.y: each thread
 * reads its training point once per CROSS_CANDS candidates. */
__global__ void cross_kernel(const double *X, const double *Xs, size_t n,
                             const double *Xc, size_t mb, size_t d,
                             const double *hp, double *Ks, double *kss)
{
    hp_index ix = {d};
    size_t c0 = (size_t)blockIdx.y * CROSS_CANDS;
    int nc = mb - c0 < (size_t)CROSS_CANDS ? (int)(mb - c0) : CROSS_CANDS;
    double sf = hp[ix.sf()], b = hp[ix.b()];
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        double r2[CROSS_CANDS], dot[CROSS_CANDS];
#pragma unroll
        for (int q = 0; q < CROSS_CANDS; q++)
            r2[q] = dot[q] = 0.0;
        for (size_t j = 0; j < d; j++) {
            double inv_l = 1.0 / hp[ix.l(j)];
            double zi = Xs[j * n + i], xi = X[j * n + i];
            const double *xc = Xc + j * mb + c0;
#pragma unroll
            for (int q = 0; q < CROSS_CANDS; q++) {
                if (q < nc) {
                    double diff = zi - xc[q] * inv_l;
                    r2[q] += diff * diff;
                    dot[q] += xi * xc[q];
                }
            }
        }
#pragma unroll
        for (int q = 0; q < CROSS_CANDS; q++)
            if (q < nc)
                Ks[(c0 + q) * n + i] = sf * kernel_unit(r2[q], dot[q], b);
    }
    if (blockIdx.x == 0 && (int)threadIdx.x < nc) {
        size_t c = c0 + threadIdx.x;
        double p = 0.0;
        for (size_t j = 0; j < d; j++)
            p += Xc[j * mb + c] * Xc[j * mb + c];
        kss[c] = sf * (p + b + 1.0);
    }
}

/* var[c] = max(kss[c] - ||V[:, c]||^2, 0) with V = L^-1 Ks; one block per
 * column. */
__global__ void colvar_kernel(const double *V, size_t n, double *var)
{
    __shared__ double s_red[FINISH_THREADS];
    size_t c = blockIdx.x;
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
        double x = V[c * n + i];
        s += x * x;
    }
    s_red[threadIdx.x] = s;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w)
            s_red[threadIdx.x] += s_red[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        var[c] = fmax(var[c] - s_red[0], 0.0);
}

/* ------------------------------------------------------------ host side */

/* The number of TILE x TILE tiles on or below the diagonal of an n x n
 * matrix: the grid of the triangle kernels. */
long long lower_tiles(size_t n)
{
    long long t = (long long)((n + TILE - 1) / TILE);
    return t * (t + 1) / 2;
}

/* Contract in gp_cuda_internal.h. */
int grid_for(size_t work, int threads)
{
    size_t g = (work + threads - 1) / threads;
    if (g < 1)
        g = 1;
    return g > 65535 ? 65535 : (int)g;
}

/* Frees the training-size buffers (device and host workspaces) and sets
 * their capacity to 0, so that the next ensure_train allocates afresh. */
void free_train(cuda_state *s)
{
    cudaFree(s->K);
    cudaFree(s->X);
    cudaFree(s->Xs);
    cudaFree(s->y);
    cudaFree(s->a);
    cudaFree(s->dwork);
    cudaFree(s->part);
    free(s->hwork);
    s->K = s->X = s->Xs = s->y = s->a = s->part = NULL;
    s->dwork = s->hwork = NULL;
    s->cap_n = 0;
    s->dwork_bytes = s->hwork_bytes = 0;
}

/* Frees the predict-batch buffers and sets their capacity to 0. */
void free_predict(cuda_state *s)
{
    cudaFree(s->Ks);
    cudaFree(s->Xc);
    cudaFree(s->pmean);
    cudaFree(s->pvar);
    s->Ks = s->Xc = s->pmean = s->pvar = NULL;
    s->cap_m = 0;
}

/* Grows the pinned upload staging area to count doubles. */
int ensure_staging(cuda_state *s, size_t count, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    if (count <= s->host_in_cap)
        return PROTEIN_OK;
    cudaFreeHost(s->host_in);
    s->host_in = NULL;
    s->host_in_cap = 0;
    CU_CHECK(cudaMallocHost((void **)&s->host_in, count * sizeof(double)),
             "cudaMallocHost (staging)");
    s->host_in_cap = count;
fail:
    return rc;
}

/* Makes room for n training points (grows, never shrinks; a growth drops
 * the kept fit) and sizes the cuSOLVER workspaces for n. */
int ensure_train(cuda_state *s, size_t n, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    size_t nt = s->d + 3;
    if (n > s->cap_n) {
        /* A quarter of slack so that a sweep adding a few points per refit
         * rarely reallocates; exactly n when the slack does not fit. */
        size_t cap = n + n / 4 + 16;
        free_train(s);
        free_predict(s); /* its cross-covariance buffer is sized by cap_n */
        if (cudaMalloc((void **)&s->K, cap * cap * sizeof(double)) !=
            cudaSuccess) {
            cudaGetLastError(); /* clear the failed allocation */
            cap = n;
            CU_CHECK(cudaMalloc((void **)&s->K, cap * cap * sizeof(double)),
                     "cudaMalloc (kernel matrix)");
        }
        CU_CHECK(cudaMalloc((void **)&s->X, s->d * cap * sizeof(double)),
                 "cudaMalloc (inputs)");
        CU_CHECK(cudaMalloc((void **)&s->Xs, s->d * cap * sizeof(double)),
                 "cudaMalloc (scaled inputs)");
        CU_CHECK(cudaMalloc((void **)&s->y, cap * sizeof(double)),
                 "cudaMalloc (targets)");
        CU_CHECK(cudaMalloc((void **)&s->a, cap * sizeof(double)),
                 "cudaMalloc (alpha)");
        CU_CHECK(cudaMalloc((void **)&s->part,
                            nt * (size_t)s->grad_blocks * sizeof(double)),
                 "cudaMalloc (partial sums)");
        s->cap_n = cap;
    }
    {
        size_t dev = 0, host = 0;
        SOLVER_CHECK(cusolverDnXpotrf_bufferSize(
                         s->solver, s->params, CUBLAS_FILL_MODE_LOWER,
                         (int64_t)n, CUDA_R_64F, s->K, (int64_t)n, CUDA_R_64F,
                         &dev, &host),
                     "cusolverDnXpotrf_bufferSize");
        if (dev > s->dwork_bytes) {
            cudaFree(s->dwork);
            s->dwork = NULL;
            s->dwork_bytes = 0;
            CU_CHECK(cudaMalloc(&s->dwork, dev),
                     "cudaMalloc (cuSOLVER workspace)");
            s->dwork_bytes = dev;
        }
        if (host > s->hwork_bytes) {
            free(s->hwork);
            s->hwork = malloc(host);
            s->hwork_bytes = s->hwork ? host : 0;
            if (!s->hwork)
                return protein_gp_fail(
                    PROTEIN_ENOMEM, errbuf, errlen,
                    "GP (cuda): out of host memory (%zu bytes)", host);
        }
    }
fail:
    return rc;
}

/* Copies a row-major rows x d host matrix into a d x rows device matrix. */
int upload_transposed(cuda_state *s, const double *src, size_t rows,
                      double *dst, char *errbuf, size_t errlen)
{
    int rc = ensure_staging(s, rows * s->d, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < s->d; j++)
            s->host_in[j * rows + i] = src[i * s->d + j];
    CU_CHECK(cudaMemcpyAsync(dst, s->host_in, rows * s->d * sizeof(double),
                             cudaMemcpyHostToDevice, s->stream),
             "cudaMemcpyAsync (inputs)");
    /* the staging area is reused by the next upload: wait for this one */
    CU_CHECK(cudaStreamSynchronize(s->stream),
             "cudaStreamSynchronize (upload)");
fail:
    return rc;
}

/* Uploads training data (and nothing else) for n points. */
int upload_train(cuda_state *s, const double *X, const double *y, size_t n,
                 char *errbuf, size_t errlen)
{
    int rc = upload_transposed(s, X, n, s->X, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    CU_CHECK(cudaMemcpyAsync(s->y, y, n * sizeof(double),
                             cudaMemcpyHostToDevice, s->stream),
             "cudaMemcpyAsync (targets)");
fail:
    return rc;
}

/* 1 when none of the count values is NaN or infinite. */
int all_finite(const double *p, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(p[i]))
            return 0;
    return 1;
}

/* Waits for the stream; turns an execution error into PROTEIN_EBACKEND. */
int sync_stream(cuda_state *s, const char *what, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    CU_CHECK(cudaStreamSynchronize(s->stream), what);
fail:
    return rc;
}

/* Contract in gp_cuda_internal.h. */
int launch_hyper(cuda_state *s, size_t n, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    size_t d = s->d, nt = d + 3;
    hyper_kernel<<<grid_for(n * d > nt ? n * d : nt, 256), 256, 0, s->stream>>>(
        s->theta, d, s->X, s->Xs, n, s->hp);
    LAUNCH_CHECK("hyper kernel launch");
fail:
    return rc;
}

/* Contract in gp_cuda_internal.h. */
int launch_build_k(cuda_state *s, size_t n, double jitter, char *errbuf,
                   size_t errlen)
{
    int rc = PROTEIN_OK;
    build_k_kernel<<<(unsigned)lower_tiles(n), dim3(TILE, TILE_ROWS), 0,
                     s->stream>>>(s->X, s->Xs, n, s->d, s->hp, jitter, s->K);
    LAUNCH_CHECK("kernel-matrix launch");
fail:
    return rc;
}

/* Contract in gp_cuda_internal.h. */
int launch_potrf(cuda_state *s, size_t n, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    SOLVER_CHECK(cusolverDnXpotrf(s->solver, s->params, CUBLAS_FILL_MODE_LOWER,
                                  (int64_t)n, CUDA_R_64F, s->K, (int64_t)n,
                                  CUDA_R_64F, s->dwork, s->dwork_bytes,
                                  s->hwork, s->hwork_bytes, s->info),
                 "cusolverDnXpotrf");
fail:
    return rc;
}

/* The objective's loss at theta (host values, or the device theta when
 * theta is NULL) for the uploaded data: builds K, factorizes it with the
 * jitter ladder, solves for a and computes the loss on the device. Leaves L
 * and a in place for dev_gradient and predict. Returns PROTEIN_ENUMERIC
 * when no rung factorizes, PROTEIN_EBACKEND on a CUDA error. */
int dev_loss(cuda_state *s, const double *theta, double *loss, double *jitter,
             char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    size_t n = s->n, d = s->d, nt = d + 3;

    s->factored = 0;
    if (theta)
        CU_CHECK(cudaMemcpyAsync(s->theta, theta, nt * sizeof(double),
                                 cudaMemcpyHostToDevice, s->stream),
                 "cudaMemcpyAsync (theta)");
    rc = launch_hyper(s, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    for (int rung = 0; rung < JITTER_RUNGS; rung++) {
        rc = launch_build_k(s, n, JITTER_LADDER[rung], errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        rc = launch_potrf(s, n, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        /* Solve and score optimistically; discarded if potrf failed. */
        CU_CHECK(cudaMemcpyAsync(s->a, s->y, n * sizeof(double),
                                 cudaMemcpyDeviceToDevice, s->stream),
                 "cudaMemcpyAsync (alpha)");
        SOLVER_CHECK(cusolverDnXpotrs(s->solver, s->params,
                                      CUBLAS_FILL_MODE_LOWER, (int64_t)n, 1,
                                      CUDA_R_64F, s->K, (int64_t)n, CUDA_R_64F,
                                      s->a, (int64_t)n, s->info + 1),
                     "cusolverDnXpotrs");
        loss_kernel<<<1, FINISH_THREADS, 0, s->stream>>>(s->K, s->y, s->a, n, d,
                                                         s->hp, s->scal);
        LAUNCH_CHECK("loss kernel launch");
        CU_CHECK(cudaMemcpyAsync(s->host_info, s->info, 2 * sizeof(int),
                                 cudaMemcpyDeviceToHost, s->stream),
                 "cudaMemcpyAsync (status)");
        CU_CHECK(cudaMemcpyAsync(s->host_out, s->scal, sizeof(double),
                                 cudaMemcpyDeviceToHost, s->stream),
                 "cudaMemcpyAsync (loss)");
        rc = sync_stream(s, "GP loss on the device", errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        if (s->host_info[0] < 0 || s->host_info[1] < 0)
            return protein_gp_fail(
                PROTEIN_EBACKEND, errbuf, errlen,
                "GP (cuda): cuSOLVER rejected argument %d (n = %zu)",
                s->host_info[0] < 0 ? -s->host_info[0] : -s->host_info[1], n);
        if (s->host_info[0] == 0) {
            s->factored = 1;
            *jitter = JITTER_LADDER[rung];
            *loss = s->host_out[SC_LOSS];
            return PROTEIN_OK;
        }
    }
    return protein_gp_fail(
        PROTEIN_ENUMERIC, errbuf, errlen,
        "GP (cuda): K (n = %zu) is not positive definite even with jitter %g",
        n, JITTER_LADDER[JITTER_RUNGS - 1]);
fail:
    return rc;
}

/* The objective's gradient at the theta of the last successful dev_loss:
 * K^-1 = L^-T L^-1 in place (trtri_lower, lauum_lower; consumes L), the
 * fused gradient pass and its reduction, all on the device. The d + 3
 * values stay in scal (for the Adam kernel); when grad is not NULL they are
 * also copied there, after waiting for the device. */
int dev_gradient(cuda_state *s, double *grad, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    size_t n = s->n, d = s->d, nt = d + 3;
    long long ntiles = lower_tiles(n);
    dim3 tile_threads(TILE, TILE_ROWS);
    int nb = s->grad_blocks;

    if (!s->factored)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): gradient without a factorization");
    s->factored = 0;
    if ((long long)nb > ntiles)
        nb = (int)ntiles;
    rc = trtri_lower(s, n, s->K, n, errbuf, errlen);
    if (rc == PROTEIN_OK)
        rc = lauum_lower(s, n, s->K, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    for (size_t j0 = 0; j0 == 0 || j0 < d; j0 += MAX_CHUNK) {
        size_t left = d - j0;
#define GRAD_LAUNCH(C)                                                         \
    grad_kernel<C><<<nb, tile_threads, 0, s->stream>>>(                        \
        s->X, s->Xs, n, d, s->hp, s->K, s->a, j0, ntiles, s->part)
        if (left <= 4)
            GRAD_LAUNCH(4);
        else if (left <= 8)
            GRAD_LAUNCH(8);
        else if (left <= 16)
            GRAD_LAUNCH(16);
        else
            GRAD_LAUNCH(MAX_CHUNK);
#undef GRAD_LAUNCH
        LAUNCH_CHECK("gradient kernel launch");
    }
    grad_finish_kernel<<<1, FINISH_THREADS, 0, s->stream>>>(
        n, d, s->hp, s->part, nb, s->scal);
    LAUNCH_CHECK("gradient reduction launch");
    if (!grad)
        return PROTEIN_OK; /* stays on the device (Adam); errors surface at
                            * the next synchronization */
    CU_CHECK(cudaMemcpyAsync(s->host_out + SC_GRAD, s->scal + SC_GRAD,
                             nt * sizeof(double), cudaMemcpyDeviceToHost,
                             s->stream),
             "cudaMemcpyAsync (gradient)");
    rc = sync_stream(s, "GP gradient on the device", errbuf, errlen);
    if (rc == PROTEIN_OK)
        memcpy(grad, s->host_out + SC_GRAD, nt * sizeof(double));
fail:
    return rc;
}

/* Checks and uploads training data (X row-major n x d, y) for the next
 * evaluations; drops any kept fit. */
int set_data(cuda_state *s, const double *X, const double *y, size_t n,
             char *errbuf, size_t errlen)
{
    int rc;
    if (!X || !y || n == 0)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): no training data (n = %zu)", n);
    if (!all_finite(X, n * s->d) || !all_finite(y, n))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): training data holds NaN or Inf");
    s->fitted = 0;
    s->factored = 0;
    rc = ensure_train(s, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    s->n = n;
    return upload_train(s, X, y, n, errbuf, errlen);
}

/* ------------------------------------------------------------ fit loops
 *
 * L-BFGS (the default method) is core/gp_common.c's protein_gp_minimize,
 * driving the objective below: per call only theta goes up and the loss,
 * the factorization status and the d + 3 gradient values come back, never
 * a matrix. Adam runs on the device (theta, moments and gradient stay
 * there) with the same step as protein_gp_adam_step. */

/* protein_gp_objective.loss: dev_loss at the host theta. */
int objective_loss(void *ctx, const double *theta, double *loss, double *jitter,
                   char *errbuf, size_t errlen)
{
    return dev_loss((cuda_state *)ctx, theta, loss, jitter, errbuf, errlen);
}

/* protein_gp_objective.gradient: dev_gradient, copied to the host. */
int objective_gradient(void *ctx, double *grad, char *errbuf, size_t errlen)
{
    return dev_gradient((cuda_state *)ctx, grad, errbuf, errlen);
}

/* Loss at the device theta with the report's bookkeeping; a non-finite
 * loss is a failed factorization. */
int adam_loss(cuda_state *s, double *loss, protein_gp_fit_report *rep,
              char *errbuf, size_t errlen)
{
    double jitter = 0.0;
    int rc = dev_loss(s, NULL, loss, &jitter, errbuf, errlen);
    rep->evaluations++;
    if (rc != PROTEIN_OK)
        return rc;
    if (!isfinite(*loss))
        return protein_gp_fail(PROTEIN_ENUMERIC, errbuf, errlen,
                               "GP (cuda): GP loss is not finite");
    if (jitter > rep->jitter_used)
        rep->jitter_used = jitter;
    return PROTEIN_OK;
}

/* Adam-amsgrad with theta and the moments on the device; a step to a theta
 * where K cannot be factorized is undone and ends the loop. Ends with the
 * factorization at the returned theta. */
int fit_adam(cuda_state *s, protein_gp_params *params, int iterations,
             double lr, protein_gp_fit_report *rep, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    size_t nt = s->d + 3;
    double loss = 0.0;
    const double *src[4] = {params->theta, params->m, params->v, params->vmax};
    double *dst[4] = {params->theta, params->m, params->v, params->vmax};

    for (int q = 0; q < 4; q++)
        CU_CHECK(cudaMemcpyAsync(s->theta + q * nt, src[q], nt * sizeof(double),
                                 cudaMemcpyHostToDevice, s->stream),
                 "cudaMemcpyAsync (optimizer state)");
    for (int it = 0; it < iterations; it++) {
        rc = adam_loss(s, &loss, rep, errbuf, errlen);
        if (rc == PROTEIN_ENUMERIC && it > 0) {
            CU_CHECK(cudaMemcpyAsync(s->theta, s->prev, nt * sizeof(double),
                                     cudaMemcpyDeviceToDevice, s->stream),
                     "cudaMemcpyAsync (undo step)");
            rep->iterations_done--;
            break;
        }
        if (rc != PROTEIN_OK)
            return rc;
        rc = dev_gradient(s, NULL, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        params->step++;
        adam_kernel<<<1, 64, 0, s->stream>>>(s->theta, s->m, s->v, s->vmax,
                                             s->prev, s->scal, nt, params->step,
                                             lr);
        LAUNCH_CHECK("Adam kernel launch");
        rep->iterations_done++;
    }
    rc = adam_loss(s, &loss, rep, errbuf, errlen);
    if (rc == PROTEIN_ENUMERIC && rep->iterations_done > 0) {
        CU_CHECK(cudaMemcpyAsync(s->theta, s->prev, nt * sizeof(double),
                                 cudaMemcpyDeviceToDevice, s->stream),
                 "cudaMemcpyAsync (undo step)");
        rep->iterations_done--;
        rc = adam_loss(s, &loss, rep, errbuf, errlen);
    }
    if (rc != PROTEIN_OK)
        return rc;
    for (int q = 0; q < 4; q++)
        CU_CHECK(cudaMemcpyAsync(dst[q], s->theta + q * nt, nt * sizeof(double),
                                 cudaMemcpyDeviceToHost, s->stream),
                 "cudaMemcpyAsync (optimizer state back)");
    rc = sync_stream(s, "cudaStreamSynchronize (fit)", errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    rep->final_loss = loss;
fail:
    return rc;
}

/* ------------------------------------------------------------ backend */

/* Contract in gp_cuda_internal.h; frees every buffer and handle the state
 * holds, NULL being a no-op. */
void cuda_destroy(void *state)
{
    cuda_state *s = (cuda_state *)state;
    if (!s)
        return;
    free_train(s);
    free_predict(s);
    cudaFree(s->theta);
    cudaFree(s->hp);
    cudaFree(s->scal);
    cudaFree(s->info);
    cudaFree(s->tri);
    cudaFreeHost(s->host_in);
    cudaFreeHost(s->host_out);
    cudaFreeHost(s->host_info);
    if (s->params)
        cusolverDnDestroyParams(s->params);
    if (s->solver)
        cusolverDnDestroy(s->solver);
    if (s->blas)
        cublasDestroy(s->blas);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    free(s);
}

/* Contract in gp_cuda_internal.h: a stream, cuBLAS and cuSOLVER handles and
 * the fixed-size buffers; the training buffers grow with the data. */
int cuda_create(void **state, size_t d, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    size_t nt = d + 3;
    cudaDeviceProp prop;
    cuda_state *s = NULL;
    if (!state || d == 0)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): need d > 0 dimensions");
    *state = NULL;
    if (!protein_gp_cuda_available(errbuf, errlen))
        return PROTEIN_EBACKEND;
    s = (cuda_state *)calloc(1, sizeof *s);
    if (!s)
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cuda): out of host memory");
    s->d = d;
    CU_CHECK(cudaGetDevice(&s->device), "cudaGetDevice");
    CU_CHECK(cudaGetDeviceProperties(&prop, s->device),
             "cudaGetDeviceProperties");
    s->grad_blocks = prop.multiProcessorCount * 4;
    CU_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking),
             "cudaStreamCreate");
    BLAS_CHECK(cublasCreate(&s->blas), "cublasCreate");
    BLAS_CHECK(cublasSetStream(s->blas, s->stream), "cublasSetStream");
    SOLVER_CHECK(cusolverDnCreate(&s->solver), "cusolverDnCreate");
    SOLVER_CHECK(cusolverDnSetStream(s->solver, s->stream),
                 "cusolverDnSetStream");
    SOLVER_CHECK(cusolverDnCreateParams(&s->params), "cusolverDnCreateParams");
    CU_CHECK(cudaMalloc((void **)&s->theta, 5 * nt * sizeof(double)),
             "cudaMalloc (hyperparameters)");
    s->m = s->theta + nt;
    s->v = s->theta + 2 * nt;
    s->vmax = s->theta + 3 * nt;
    s->prev = s->theta + 4 * nt;
    CU_CHECK(cudaMalloc((void **)&s->hp, 2 * nt * sizeof(double)),
             "cudaMalloc (mapped hyperparameters)");
    CU_CHECK(cudaMalloc((void **)&s->scal, (SC_GRAD + nt) * sizeof(double)),
             "cudaMalloc (scalars)");
    CU_CHECK(cudaMalloc((void **)&s->info, 2 * sizeof(int)),
             "cudaMalloc (status)");
    CU_CHECK(cudaMalloc((void **)&s->tri,
                        (size_t)INV_BLOCK * INV_BLOCK * sizeof(double)),
             "cudaMalloc (block workspace)");
    CU_CHECK(cudaMemset(s->info, 0, 2 * sizeof(int)), "cudaMemset (status)");
    CU_CHECK(
        cudaMallocHost((void **)&s->host_out, (SC_GRAD + nt) * sizeof(double)),
        "cudaMallocHost (scalars)");
    CU_CHECK(cudaMallocHost((void **)&s->host_info, 2 * sizeof(int)),
             "cudaMallocHost (status)");
    *state = s;
    return PROTEIN_OK;
fail:
    cuda_destroy(s);
    return rc;
}

/* The backend table's loss_grad (contract in gp.h): sets the data, then the
 * loss (and gradient when grad is not NULL) at theta. */
int cuda_loss_grad(void *state, const double *X, const double *y, size_t n,
                   const double *theta, double *loss, double *grad,
                   char *errbuf, size_t errlen)
{
    cuda_state *s = (cuda_state *)state;
    double jitter;
    int rc;
    if (!s || !theta || !loss)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cuda): loss_grad needs a state, theta and a loss pointer");
    if (!all_finite(theta, s->d + 3))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): theta holds NaN or Inf");
    rc = set_data(s, X, y, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    rc = dev_loss(s, theta, loss, &jitter, errbuf, errlen);
    if (rc != PROTEIN_OK || !grad)
        return rc;
    return dev_gradient(s, grad, errbuf, errlen);
}

/* The backend table's fit (contract in gp.h). */
int cuda_fit(void *state, const double *X, const double *y, size_t n,
             protein_gp_params *params, const protein_gp_fit_options *opts,
             protein_gp_fit_report *report, char *errbuf, size_t errlen)
{
    cuda_state *s = (cuda_state *)state;
    protein_gp_objective obj = {s, objective_loss, objective_gradient, n};
    protein_gp_fit_report rep;
    int rc;

    memset(&rep, 0, sizeof rep);
    if (!s || !params || !params->theta)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): fit needs a state and parameters");
    if (params->d != s->d)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cuda): parameters are for d = %zu, the state for d = %zu",
            params->d, s->d);
    if (!all_finite(params->theta, s->d + 3))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): theta holds NaN or Inf");
    if (opts && opts->method == PROTEIN_GP_FIT_ADAM) {
        /* Adam runs here, on the device; everything else goes through
         * protein_gp_minimize. Both resolve options the same way. */
        protein_gp_fit_options o;

        rc = protein_gp_fit_options_resolve(opts, &o, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        if (!params->m || !params->v || !params->vmax)
            return protein_gp_fail(
                PROTEIN_EINVAL, errbuf, errlen,
                "GP (cuda): Adam needs the parameters' moments");
        rc = set_data(s, X, y, n, errbuf, errlen);
        if (rc == PROTEIN_OK)
            rc = fit_adam(s, params, o.iterations, o.learning_rate, &rep,
                          errbuf, errlen);
        if (rc == PROTEIN_OK && report)
            *report = rep;
    } else {
        rc = set_data(s, X, y, n, errbuf, errlen);
        if (rc == PROTEIN_OK)
            rc =
                protein_gp_minimize(&obj, params, opts, report, errbuf, errlen);
    }
    if (rc != PROTEIN_OK)
        return rc;
    s->fitted = s->factored;
    if (!s->fitted)
        return protein_gp_fail(PROTEIN_EBACKEND, errbuf, errlen,
                               "GP (cuda): fit ended without a factorization");
    return PROTEIN_OK;
}

/* Grows the predict buffers to mb candidates for the current cap_n. */
int ensure_predict(cuda_state *s, size_t mb, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    if (mb <= s->cap_m)
        return PROTEIN_OK;
    free_predict(s);
    CU_CHECK(cudaMalloc((void **)&s->Ks, s->cap_n * mb * sizeof(double)),
             "cudaMalloc (cross-covariance)");
    CU_CHECK(cudaMalloc((void **)&s->Xc, s->d * mb * sizeof(double)),
             "cudaMalloc (candidates)");
    CU_CHECK(cudaMalloc((void **)&s->pmean, mb * sizeof(double)),
             "cudaMalloc (mean)");
    CU_CHECK(cudaMalloc((void **)&s->pvar, mb * sizeof(double)),
             "cudaMalloc (variance)");
    s->cap_m = mb;
fail:
    return rc;
}

/* The backend table's predict (contract in gp.h), in batches of at most
 * PRED_MAX_BATCH candidates. */
int cuda_predict(void *state, const double *Xs, size_t m, double *mean,
                 double *var, char *errbuf, size_t errlen)
{
    cuda_state *s = (cuda_state *)state;
    int rc = PROTEIN_OK;
    size_t n, mb;
    const double one = 1.0, zero = 0.0;
    if (!s || (m > 0 && (!Xs || !mean)))
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cuda): predict needs points and a mean array");
    if (!s->fitted)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): predict before a successful fit");
    if (!all_finite(Xs, m * s->d))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cuda): prediction points hold NaN or Inf");
    if (m == 0)
        return PROTEIN_OK;
    n = s->n;
    mb = PRED_BYTES / (n * sizeof(double));
    if (mb < 64)
        mb = 64;
    if (mb > PRED_MAX_BATCH)
        mb = PRED_MAX_BATCH;
    if (mb > m)
        mb = m;
    rc = ensure_predict(s, mb, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    for (size_t c0 = 0; c0 < m; c0 += mb) {
        size_t cnt = m - c0 < mb ? m - c0 : mb;
        rc = upload_transposed(s, Xs + c0 * s->d, cnt, s->Xc, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        dim3 grid(grid_for(n, 256) < 64 ? grid_for(n, 256) : 64,
                  (unsigned)((cnt + CROSS_CANDS - 1) / CROSS_CANDS));
        cross_kernel<<<grid, 256, 0, s->stream>>>(s->X, s->Xs, n, s->Xc, cnt,
                                                  s->d, s->hp, s->Ks, s->pvar);
        LAUNCH_CHECK("cross-covariance kernel launch");
        BLAS_CHECK(cublasDgemv_64(s->blas, CUBLAS_OP_T, (int64_t)n,
                                  (int64_t)cnt, &one, s->Ks, (int64_t)n, s->a,
                                  1, &zero, s->pmean, 1),
                   "cublasDgemv (mean)");
        CU_CHECK(cudaMemcpyAsync(mean + c0, s->pmean, cnt * sizeof(double),
                                 cudaMemcpyDeviceToHost, s->stream),
                 "cudaMemcpyAsync (mean)");
        if (var) {
            BLAS_CHECK(cublasDtrsm_64(s->blas, CUBLAS_SIDE_LEFT,
                                      CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N,
                                      CUBLAS_DIAG_NON_UNIT, (int64_t)n,
                                      (int64_t)cnt, &one, s->K, (int64_t)n,
                                      s->Ks, (int64_t)n),
                       "cublasDtrsm (variance)");
            colvar_kernel<<<(unsigned)cnt, FINISH_THREADS, 0, s->stream>>>(
                s->Ks, n, s->pvar);
            LAUNCH_CHECK("variance kernel launch");
            CU_CHECK(cudaMemcpyAsync(var + c0, s->pvar, cnt * sizeof(double),
                                     cudaMemcpyDeviceToHost, s->stream),
                     "cudaMemcpyAsync (variance)");
        }
        CU_CHECK(cudaStreamSynchronize(s->stream),
                 "GP prediction on the device");
    }
fail:
    return rc;
}

const protein_gp_backend cuda_backend = {
    "cuda", cuda_create, cuda_loss_grad, cuda_fit, cuda_predict, cuda_destroy,
};

} /* namespace protein_cuda */

/* ------------------------------------------------------------ public */

/* Returns the CUDA backend table (static, never freed). */
extern "C" const protein_gp_backend *protein_gp_backend_cuda(void)
{
    return &protein_cuda::cuda_backend;
}

/* See gp_cuda.h. A kernel loads when the build holds machine code for the
 * device's architecture or PTX the driver can compile for it;
 * cudaFuncGetAttributes on one kernel tells without running anything, so
 * that a device the build cannot serve is refused here rather than by
 * every fit. */
extern "C" int protein_gp_cuda_available(char *errbuf, size_t errlen)
{
    int count = 0, device = 0;
    cudaFuncAttributes attr;
    cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceCount(&count);
    /* the runtime says "driver version is insufficient" also when there is
     * no NVIDIA driver at all, the common case on a CPU host */
    if (e == cudaErrorInsufficientDriver)
        return protein_gp_fail(0, errbuf, errlen,
                               "no usable CUDA device: no NVIDIA driver, or "
                               "one older than this build's CUDA runtime (%s)",
                               cudaGetErrorString(e));
    if (e != cudaSuccess)
        return protein_gp_fail(0, errbuf, errlen, "no usable CUDA device: %s",
                               cudaGetErrorString(e));
    if (count == 0)
        return protein_gp_fail(0, errbuf, errlen,
                               "no usable CUDA device: none present");
    e = cudaFuncGetAttributes(&attr, protein_cuda::hyper_kernel);
    if (e == cudaSuccess)
        return 1;
    cudaGetLastError(); /* clear the error so that later calls start clean */
    memset(&prop, 0, sizeof prop);
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaGetDeviceProperties(&prop, device) != cudaSuccess)
        snprintf(prop.name, sizeof prop.name, "unknown");
    return protein_gp_fail(
        0, errbuf, errlen,
        "no usable CUDA device: the CUDA kernels do not load on device %d (%s, "
        "compute capability %d.%d): %s; this build has %s (configure "
        "--with-cuda-arch=%d%d adds it)",
        device, prop.name, prop.major, prop.minor, cudaGetErrorString(e),
        PROTEIN_CUDA_ARCHS, prop.major, prop.minor);
}
