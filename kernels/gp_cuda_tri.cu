/*
 * gp_cuda_tri.cu - the triangular layer of the CUDA backend over cuBLAS:
 * K^-1 = L^-T L^-1 in place from the Cholesky factor, as a recursive
 * triangular inverse (trtri) and a blocked L^-T L^-1 product (lauum), both
 * arranged so that most of the work is gemm: cuSOLVER's potri and Xtrtri
 * and cuBLAS trmm alone ran far below the gemm rate (docs/gpu-results).
 */
#include "config.h"

#include <stdint.h>

#include "gp_cuda_internal.h"

namespace protein_cuda
{

namespace
{

/* dst (b x b, leading dimension ldd) = the lower triangle of src (b x b,
 * leading dimension lda), zeros above. */
__global__ void copy_lower_kernel(size_t b, const double *src, size_t lda,
                                  double *dst, size_t ldd)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= b * b)
        return;
    size_t r = e % b, c = e / b;
    dst[c * ldd + r] = r >= c ? src[c * lda + r] : 0.0;
}

/* dst (b x b, leading dimension b) = I. */
__global__ void identity_kernel(size_t b, double *dst)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e < b * b)
        dst[e] = e % b == e / b ? 1.0 : 0.0;
}

/* Splits m > INV_BLOCK rows into a first part of a multiple of 64 near
 * m / 2 and the rest. */
size_t split_rows(size_t m)
{
    size_t m1 = (m / 2 + 63) / 64 * 64;
    return m1 < m ? m1 : m / 2;
}

/* In place, B (m x k, leading dimension n) := alpha T B with T lower
 * triangular m x m (leading dimension n); recursive so that most of the
 * work is gemm (cuBLAS trmm alone runs far below the gemm rate). */
int trmm_left(cuda_state *s, size_t n, const double *T, size_t m, double *B,
              size_t k, double alpha, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    const double one = 1.0;
    if (m <= (size_t)INV_BLOCK) {
        BLAS_CHECK(cublasDtrmm_64(s->blas, CUBLAS_SIDE_LEFT,
                                  CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N,
                                  CUBLAS_DIAG_NON_UNIT, (int64_t)m, (int64_t)k,
                                  &alpha, T, (int64_t)n, B, (int64_t)n, B,
                                  (int64_t)n),
                   "cublasDtrmm (left)");
        return PROTEIN_OK;
    }
    {
        size_t m1 = split_rows(m), m2 = m - m1;
        /* [B1; B2] := [T11 B1; T21 B1 + T22 B2], B2 first. */
        rc = trmm_left(s, n, T + m1 * n + m1, m2, B + m1, k, alpha, errbuf,
                       errlen);
        if (rc != PROTEIN_OK)
            return rc;
        BLAS_CHECK(cublasDgemm_64(s->blas, CUBLAS_OP_N, CUBLAS_OP_N,
                                  (int64_t)m2, (int64_t)k, (int64_t)m1, &alpha,
                                  T + m1, (int64_t)n, B, (int64_t)n, &one,
                                  B + m1, (int64_t)n),
                   "cublasDgemm (trmm left)");
        return trmm_left(s, n, T, m1, B, k, alpha, errbuf, errlen);
    }
fail:
    return rc;
}

/* In place, B (k x m, leading dimension n) := B T with T lower triangular
 * m x m; recursive like trmm_left. */
int trmm_right(cuda_state *s, size_t n, double *B, size_t k, const double *T,
               size_t m, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    const double one = 1.0;
    if (m <= (size_t)INV_BLOCK) {
        BLAS_CHECK(cublasDtrmm_64(s->blas, CUBLAS_SIDE_RIGHT,
                                  CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N,
                                  CUBLAS_DIAG_NON_UNIT, (int64_t)k, (int64_t)m,
                                  &one, T, (int64_t)n, B, (int64_t)n, B,
                                  (int64_t)n),
                   "cublasDtrmm (right)");
        return PROTEIN_OK;
    }
    {
        size_t m1 = split_rows(m), m2 = m - m1;
        /* [B1 B2] := [B1 T11 + B2 T21, B2 T22], B1 first. */
        rc = trmm_right(s, n, B, k, T, m1, errbuf, errlen);
        if (rc != PROTEIN_OK)
            return rc;
        BLAS_CHECK(cublasDgemm_64(s->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int64_t)k,
                                  (int64_t)m1, (int64_t)m2, &one, B + m1 * n,
                                  (int64_t)n, T + m1, (int64_t)n, &one, B,
                                  (int64_t)n),
                   "cublasDgemm (trmm right)");
        return trmm_right(s, n, B + m1 * n, k, T + m1 * n + m1, m2, errbuf,
                          errlen);
    }
fail:
    return rc;
}

} /* namespace */

/* In place, L (lower, m x m, leading dimension n) -> L^-1, recursively:
 * inv [A 0; B C] = [A^-1 0; -C^-1 B A^-1, C^-1]. Blocks of at most
 * INV_BLOCK rows are inverted by trsm against the identity in s->tri. */
int trtri_lower(cuda_state *s, size_t n, double *A, size_t m, char *errbuf,
                size_t errlen)
{
    int rc = PROTEIN_OK;
    const double one = 1.0;
    if (m <= (size_t)INV_BLOCK) {
        identity_kernel<<<grid_for(m * m, 256), 256, 0, s->stream>>>(m, s->tri);
        LAUNCH_CHECK("identity kernel launch");
        BLAS_CHECK(cublasDtrsm_64(s->blas, CUBLAS_SIDE_LEFT,
                                  CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N,
                                  CUBLAS_DIAG_NON_UNIT, (int64_t)m, (int64_t)m,
                                  &one, A, (int64_t)n, s->tri, (int64_t)m),
                   "cublasDtrsm (block inverse)");
        copy_lower_kernel<<<grid_for(m * m, 256), 256, 0, s->stream>>>(
            m, s->tri, m, A, n);
        LAUNCH_CHECK("block copy launch");
        return PROTEIN_OK;
    }
    {
        size_t m1 = split_rows(m), m2 = m - m1;
        double *C = A + m1 * n + m1, *B = A + m1;
        rc = trtri_lower(s, n, A, m1, errbuf, errlen);
        if (rc == PROTEIN_OK)
            rc = trtri_lower(s, n, C, m2, errbuf, errlen);
        if (rc == PROTEIN_OK)
            rc = trmm_left(s, n, C, m2, B, m1, -1.0, errbuf, errlen);
        if (rc == PROTEIN_OK)
            rc = trmm_right(s, n, B, m2, A, m1, errbuf, errlen);
        return rc;
    }
fail:
    return rc;
}

/* In place, M = L^-1 (lower) -> the lower triangle of M' M = K^-1, blocked
 * (LAPACK dlauum, lower) with cuBLAS: per block row, trmm by the diagonal
 * block, the diagonal block's own product by syrk from a copy, then gemm
 * and syrk with the rows below. */
int lauum_lower(cuda_state *s, size_t n, double *A, char *errbuf, size_t errlen)
{
    int rc = PROTEIN_OK;
    const double one = 1.0, zero = 0.0;
    size_t nb = INV_BLOCK;
    for (size_t i = 0; i < n; i += nb) {
        size_t ib = n - i < nb ? n - i : nb, rest = n - i - ib;
        double *Aii = A + i * n + i, *Ai0 = A + i;
        if (i > 0)
            BLAS_CHECK(cublasDtrmm_64(s->blas, CUBLAS_SIDE_LEFT,
                                      CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T,
                                      CUBLAS_DIAG_NON_UNIT, (int64_t)ib,
                                      (int64_t)i, &one, Aii, (int64_t)n, Ai0,
                                      (int64_t)n, Ai0, (int64_t)n),
                       "cublasDtrmm (lauum)");
        copy_lower_kernel<<<grid_for(ib * ib, 256), 256, 0, s->stream>>>(
            ib, Aii, n, s->tri, ib);
        LAUNCH_CHECK("block copy launch");
        BLAS_CHECK(cublasDsyrk_64(s->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_T,
                                  (int64_t)ib, (int64_t)ib, &one, s->tri,
                                  (int64_t)ib, &zero, Aii, (int64_t)n),
                   "cublasDsyrk (lauum diagonal)");
        if (rest > 0) {
            const double *Bi = A + i * n + i + ib, *B0 = A + i + ib;
            if (i > 0)
                BLAS_CHECK(cublasDgemm_64(
                               s->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int64_t)ib,
                               (int64_t)i, (int64_t)rest, &one, Bi, (int64_t)n,
                               B0, (int64_t)n, &one, Ai0, (int64_t)n),
                           "cublasDgemm (lauum)");
            BLAS_CHECK(cublasDsyrk_64(s->blas, CUBLAS_FILL_MODE_LOWER,
                                      CUBLAS_OP_T, (int64_t)ib, (int64_t)rest,
                                      &one, Bi, (int64_t)n, &one, Aii,
                                      (int64_t)n),
                       "cublasDsyrk (lauum)");
        }
    }
fail:
    return rc;
}

} /* namespace protein_cuda */
