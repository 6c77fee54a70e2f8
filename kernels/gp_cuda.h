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

/* Times cusolverDnXpotrf (FP64, lower) on an n x n GP kernel matrix built on
 * the device from reproducible pseudo-random inputs in d = 8 dimensions.
 * Runs one untimed factorization, then reps timed ones (CUDA events) and
 * stores the median seconds per factorization in *seconds. Allocates and
 * frees its own device memory (n^2 doubles). Returns PROTEIN_OK, or
 * PROTEIN_EINVAL (n or reps is 0), PROTEIN_ENOMEM (host), PROTEIN_EBACKEND
 * (any CUDA/cuSOLVER failure, out of device memory included) or
 * PROTEIN_ENUMERIC (the matrix was not positive definite) with a message in
 * errbuf (may be NULL). */
int protein_gp_cuda_time_potrf(size_t n, int reps, double *seconds,
                               char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_GP_CUDA_H */
