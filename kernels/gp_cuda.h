/*
 * gp_cuda.h - extras of the CUDA GP backend beyond the backend table of
 * core/gp.h: a timing hook for benchmarks. The backend itself is reached
 * through protein_gp_backend_cuda() and protein_gp_cuda_available(),
 * declared in core/gp.h.
 */
#ifndef PROTEIN_GP_CUDA_H
#define PROTEIN_GP_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Times the dense linear algebra of one loss-and-gradient evaluation on
 * an n x n GP kernel matrix (reproducible pseudo-random inputs in d = 8
 * dimensions, theta = 0): times[0] the Cholesky factorization
 * (cusolverDnXpotrf, FP64, lower), times[1] the triangular inverse L^-1
 * and times[2] the product L^-T L^-1 (both in place, blocked over cuBLAS).
 * Runs one untimed round, then reps timed ones (CUDA events), and stores
 * the median seconds of each step. Allocates and frees its own device state
 * (n^2 doubles and more). Returns PROTEIN_OK, or PROTEIN_EINVAL (n or reps
 * is 0, times is NULL), PROTEIN_ENOMEM (host), PROTEIN_EBACKEND (any CUDA,
 * cuBLAS or cuSOLVER failure, out of device memory included) or
 * PROTEIN_ENUMERIC (the matrix was not positive definite), with a message
 * in errbuf (may be NULL). */
int protein_gp_cuda_time_cholesky(size_t n, int reps, double times[3],
                                  char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_GP_CUDA_H */
