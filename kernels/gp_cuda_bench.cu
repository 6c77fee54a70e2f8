/*
 * gp_cuda_bench.cu - the benchmark hook of the CUDA backend (gp_cuda.h):
 * times the dense linear algebra of one loss-and-gradient evaluation.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "gp_cuda.h"
#include "gp_cuda_internal.h"

using namespace protein_cuda;

/* Contract in gp_cuda.h. */
extern "C" int protein_gp_cuda_time_cholesky(size_t n, int reps,
                                             double times_out[3], char *errbuf,
                                             size_t errlen)
{
    const size_t d = 8;
    int rc = PROTEIN_OK;
    void *st = NULL;
    cuda_state *s;
    double *X = NULL, *times = NULL;
    cudaEvent_t ev[4] = {NULL, NULL, NULL, NULL};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    if (n == 0 || reps <= 0 || !times_out)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cuda): time_cholesky needs n > 0, reps > 0 and outputs");
    rc = cuda_create(&st, d, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    s = (cuda_state *)st;
    X = (double *)malloc(n * d * sizeof(double));
    times = (double *)malloc(3 * (size_t)reps * sizeof(double));
    if (!X || !times) {
        rc = protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                             "GP (cuda): out of host memory");
        goto fail;
    }
    for (size_t e = 0; e < n * d; e++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        X[e] = (double)(seed >> 11) / 9007199254740992.0;
    }
    rc = ensure_train(s, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        goto fail;
    s->n = n;
    rc = upload_transposed(s, X, n, s->X, errbuf, errlen);
    if (rc != PROTEIN_OK)
        goto fail;
    CU_CHECK(cudaMemsetAsync(s->theta, 0, (d + 3) * sizeof(double), s->stream),
             "cudaMemsetAsync (theta)");
    for (int q = 0; q < 4; q++)
        CU_CHECK(cudaEventCreate(&ev[q]), "cudaEventCreate");
    for (int r = -1; r < reps; r++) {
        float ms[3];
        rc = launch_hyper(s, n, errbuf, errlen);
        if (rc == PROTEIN_OK)
            rc = launch_build_k(s, n, 0.0, errbuf, errlen);
        if (rc != PROTEIN_OK)
            goto fail;
        CU_CHECK(cudaEventRecord(ev[0], s->stream), "cudaEventRecord");
        rc = launch_potrf(s, n, errbuf, errlen);
        if (rc != PROTEIN_OK)
            goto fail;
        CU_CHECK(cudaEventRecord(ev[1], s->stream), "cudaEventRecord");
        rc = trtri_lower(s, n, s->K, n, errbuf, errlen);
        if (rc != PROTEIN_OK)
            goto fail;
        CU_CHECK(cudaEventRecord(ev[2], s->stream), "cudaEventRecord");
        rc = lauum_lower(s, n, s->K, errbuf, errlen);
        if (rc != PROTEIN_OK)
            goto fail;
        CU_CHECK(cudaEventRecord(ev[3], s->stream), "cudaEventRecord");
        CU_CHECK(cudaMemcpyAsync(s->host_info, s->info, sizeof(int),
                                 cudaMemcpyDeviceToHost, s->stream),
                 "cudaMemcpyAsync (status)");
        CU_CHECK(cudaStreamSynchronize(s->stream), "Cholesky timing run");
        if (s->host_info[0] != 0) {
            rc = protein_gp_fail(PROTEIN_ENUMERIC, errbuf, errlen,
                                 "GP (cuda): timing matrix not positive "
                                 "definite (n = %zu, minor %d)",
                                 n, s->host_info[0]);
            goto fail;
        }
        for (int q = 0; q < 3; q++)
            CU_CHECK(cudaEventElapsedTime(&ms[q], ev[q], ev[q + 1]),
                     "cudaEventElapsedTime");
        if (r >= 0)
            for (int q = 0; q < 3; q++)
                times[q * reps + r] = ms[q] * 1e-3;
    }
    for (int q = 0; q < 3; q++) {
        double *t = times + q * reps;
        for (int i = 1; i < reps; i++)
            for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                double tmp = t[j];
                t[j] = t[j - 1];
                t[j - 1] = tmp;
            }
        times_out[q] = t[reps / 2];
    }
fail:
    for (int q = 0; q < 4; q++)
        if (ev[q])
            cudaEventDestroy(ev[q]);
    free(X);
    free(times);
    cuda_destroy(st);
    return rc;
}
