/*
 * gp_cuda.h - the CUDA GP backend: an implementation of the backend table
 * of core/gp.h (the only part of core it uses), a device check, and a
 * timing hook for benchmarks. Linked, with the CUDA libraries, into the
 * module proteind loads (gp_cuda_module.h) and into the GPU tests and
 * benchmark.
 */
#ifndef PROTEIN_GP_CUDA_H
#define PROTEIN_GP_CUDA_H

#include <stddef.h>

#include "gp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CUDA backend table (static storage, never freed). Its create()
 * fails with PROTEIN_EBACKEND and a clear message when no usable device
 * is present. */
const protein_gp_backend *protein_gp_backend_cuda(void);

/* 1 when the backend can run here: a CUDA device is present and this
 * build's kernels load on it; else 0 with the reason in errbuf (may be
 * NULL): "no usable CUDA device: " and why (no driver, none present, or a
 * device architecture the build has no code for). */
int protein_gp_cuda_available(char *errbuf, size_t errlen);

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
