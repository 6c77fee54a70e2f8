#include "config.h"

/*
 * gp_cpu.c - the LAPACK/BLAS GP backend (protein_gp_backend_cpu), FP64
 * throughout; the reference the other backends are tested against.
 *
 * Matrices are column-major with leading dimension n and only their upper
 * triangles are used. One loss evaluation builds K (and E = exp(-sqrt3 r)
 * for the gradient) in one pass over the upper triangle, factorizes
 * K = U'U with dpotrf (retrying with the jitter ladder) and solves for
 * a = K^-1 y. The gradient then forms K^-1 in place with dpotri, turns it
 * into P = W o E (W = a a' - K^-1) in one more pass that also collects the
 * sf, b and noise terms, and gets all d lengthscale terms from one dsymm:
 *   sum_ij P_ij (x_ik - x_jk)^2 = 2 sum_i x_ik (x_ik (P 1)_i - (P X)_ik),
 * on inputs centered per column to keep the cancellation small.
 */
#include <cblas.h>
#include <lapack.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"
#include "protein.h"

#define SQRT3 1.7320508075688772935
#define LOG_2PI 1.8378770664093454836
/* Predict works on chunks of candidates whose cross-kernel holds at most
 * this many doubles, and at most PREDICT_CHUNK_MAX candidates. */
#define PREDICT_CHUNK_DOUBLES ((size_t)1 << 22)
#define PREDICT_CHUNK_MAX ((size_t)4096)

static const double jitter_ladder[] = {0, 1e-8, 1e-6, 1e-4};
#define JITTER_LEVELS (sizeof(jitter_ladder) / sizeof(jitter_ladder[0]))

typedef struct cpu_gp {
    size_t d, nt;
    size_t n, cap;   /* training points; capacity of the n-sized buffers */
    double *X;       /* n x d row-major: the training inputs */
    double *Xt;      /* d x n: X transposed */
    double *Zt;      /* d x n: X transposed, each row k divided by l_k */
    double *Xc;      /* n x (d+1) column-major: X centered, then ones */
    double *Q;       /* n x (d+1): P Xc */
    double *y, *alpha;
    double *K;       /* n x n: K, then U, then K^-1 and P (upper) */
    double *E;       /* n x n: exp(-sqrt3 r_ij) (strict upper) */
    double *r2, *dt; /* n: scratch for squared distances and dot products */
    double *theta;   /* nt: raw theta of the factorization in K */
    double *Ks;      /* predict: cross-kernel chunk */
    size_t cap_ks;
    double *linv;    /* d: 1 / l_k at theta */
    double *zs;      /* d: a prediction point divided by the lengthscales */
    double sf, b, sn2, jitter;
    int factored;    /* K holds U at theta for the current data */
    int fitted;      /* the last fit succeeded: predict may run */
} cpu_gp;

static void cpu_destroy(void *state)
{
    cpu_gp *st = state;

    if (st == NULL)
        return;
    free(st->X);
    free(st->Xt);
    free(st->Zt);
    free(st->Xc);
    free(st->Q);
    free(st->y);
    free(st->alpha);
    free(st->K);
    free(st->E);
    free(st->r2);
    free(st->dt);
    free(st->theta);
    free(st->linv);
    free(st->zs);
    free(st->Ks);
    free(st);
}

static int cpu_create(void **state, size_t d, char *errbuf, size_t errlen)
{
    cpu_gp *st;

    if (state == NULL || d == 0)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): create needs a state pointer and "
                               "d >= 1 (got d = %zu)", d);
    *state = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cpu): out of memory");
    st->d = d;
    st->nt = PROTEIN_GP_NTHETA(d);
    st->theta = calloc(st->nt, sizeof(double));
    st->linv = calloc(d, sizeof(double));
    st->zs = calloc(d, sizeof(double));
    if (st->theta == NULL || st->linv == NULL || st->zs == NULL) {
        cpu_destroy(st);
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cpu): out of memory");
    }
    *state = st;
    return PROTEIN_OK;
}

/* Reallocates *p to count doubles (contents are not kept). */
static int regrow(double **p, size_t count)
{
    double *q = realloc(*p, count * sizeof(double));

    if (q == NULL)
        return -1;
    *p = q;
    return 0;
}

/* Makes the n-sized buffers hold at least n points, growing by a quarter
 * beyond n so that a sweep adding a few points per refit rarely
 * reallocates. */
static int ensure_capacity(cpu_gp *st, size_t n, char *errbuf, size_t errlen)
{
    size_t cap, d = st->d;

    if (n <= st->cap)
        return PROTEIN_OK;
    cap = n + n / 4 + 16;
    st->cap = 0;
    if (regrow(&st->X, cap * d) || regrow(&st->Xt, cap * d) ||
        regrow(&st->Zt, cap * d) || regrow(&st->Xc, cap * (d + 1)) ||
        regrow(&st->Q, cap * (d + 1)) || regrow(&st->y, cap) ||
        regrow(&st->alpha, cap) || regrow(&st->r2, cap) ||
        regrow(&st->dt, cap) || regrow(&st->K, cap * cap) ||
        regrow(&st->E, cap * cap))
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cpu): out of memory for %zu points", n);
    st->cap = cap;
    return PROTEIN_OK;
}

static int all_finite(const double *a, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

/* Copies the training data into the state and derives its layouts. */
static int set_data(cpu_gp *st, const double *X, const double *y, size_t n,
                    char *errbuf, size_t errlen)
{
    size_t d = st->d;
    int rc;

    if (X == NULL || y == NULL || n == 0)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): no training data (n = %zu)", n);
    if (!all_finite(X, n * d) || !all_finite(y, n))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): training data holds NaN or Inf");
    rc = ensure_capacity(st, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    st->n = n;
    st->factored = 0;
    st->fitted = 0;
    memcpy(st->X, X, n * d * sizeof(double));
    memcpy(st->y, y, n * sizeof(double));
    for (size_t k = 0; k < d; k++) {
        double mean = 0;

        for (size_t i = 0; i < n; i++) {
            st->Xt[k * n + i] = X[i * d + k];
            mean += X[i * d + k];
        }
        mean /= (double)n;
        for (size_t i = 0; i < n; i++)
            st->Xc[k * n + i] = X[i * d + k] - mean;
    }
    for (size_t i = 0; i < n; i++)
        st->Xc[d * n + i] = 1.0;
    return PROTEIN_OK;
}

/* Maps theta to the kernel hyperparameters and scales Zt by them. */
static void set_theta(cpu_gp *st, const double *theta)
{
    size_t d = st->d, n = st->n;

    memcpy(st->theta, theta, st->nt * sizeof(double));
    for (size_t k = 0; k < d; k++) {
        st->linv[k] = 1.0 / protein_gp_softplus(theta[k]);
        for (size_t i = 0; i < n; i++)
            st->Zt[k * n + i] = st->Xt[k * n + i] * st->linv[k];
    }
    st->sf = protein_gp_softplus(theta[d]);
    st->b = protein_gp_softplus(theta[d + 1]);
    st->sn2 = protein_gp_softplus(theta[d + 2]);
}

/* Squared scaled distances r2[i] and dot products dt[i] between training
 * points 0..count-1 and the point with scaled coordinates z[] and raw
 * coordinates x[] (both read with the given stride). */
static void distances(const cpu_gp *st, size_t count, const double *z,
                      const double *x, size_t stride)
{
    size_t n = st->n;

    memset(st->r2, 0, count * sizeof(double));
    memset(st->dt, 0, count * sizeof(double));
    for (size_t k = 0; k < st->d; k++) {
        const double *zk = st->Zt + k * n, *xk = st->Xt + k * n;
        double zj = z[k * stride], xj = x[k * stride];

        for (size_t i = 0; i < count; i++) {
            double diff = zk[i] - zj;
            st->r2[i] += diff * diff;
            st->dt[i] += xk[i] * xj;
        }
    }
}

/* Builds the upper triangle of K = k(X, X) + (sn2 + jitter) I and of E. */
static void build_kernel(cpu_gp *st, double jitter)
{
    size_t n = st->n;

    for (size_t j = 0; j < n; j++) {
        double *Kj = st->K + j * n, *Ej = st->E + j * n;

        distances(st, j, st->Zt + j, st->Xt + j, n);
        for (size_t i = 0; i < j; i++) {
            double r = sqrt(st->r2[i]);
            double e = exp(-SQRT3 * r);

            Ej[i] = e;
            Kj[i] = st->sf * (st->dt[i] + st->b + (1 + SQRT3 * r) * e);
        }
        {
            double xx = 0;
            for (size_t k = 0; k < st->d; k++)
                xx += st->Xt[k * n + j] * st->Xt[k * n + j];
            Kj[j] = st->sf * (xx + st->b + 1) + (st->sn2 + jitter);
        }
    }
}

/* protein_gp_objective.loss: K at theta, its Cholesky factor (jitter
 * ladder), a = K^-1 y and the loss. */
static int cpu_loss(void *ctx, const double *theta, double *loss,
                    double *jitter_used, char *errbuf, size_t errlen)
{
    cpu_gp *st = ctx;
    lapack_int n = (lapack_int)st->n, one = 1, info = 0;
    double fit = 0, logdet = 0, prior;
    size_t level;

    st->factored = 0;
    set_theta(st, theta);
    for (level = 0; level < JITTER_LEVELS; level++) {
        build_kernel(st, jitter_ladder[level]);
        LAPACK_dpotrf("U", &n, st->K, &n, &info);
        if (info == 0)
            break;
        if (info < 0)
            return protein_gp_fail(PROTEIN_EBACKEND, errbuf, errlen,
                                   "GP (cpu): dpotrf rejected argument %d",
                                   (int)-info);
    }
    if (level == JITTER_LEVELS)
        return protein_gp_fail(PROTEIN_ENUMERIC, errbuf, errlen,
                               "GP (cpu): K (n = %zu) is not positive "
                               "definite even with jitter %g",
                               st->n, jitter_ladder[JITTER_LEVELS - 1]);
    st->jitter = jitter_ladder[level];
    memcpy(st->alpha, st->y, st->n * sizeof(double));
    LAPACK_dpotrs("U", &n, &one, st->K, &n, st->alpha, &n, &info);
    for (size_t i = 0; i < st->n; i++) {
        fit += st->y[i] * st->alpha[i];
        logdet += log(st->K[i * st->n + i]);
    }
    prior = protein_gp_noise_prior(theta[st->d + 2], NULL);
    *loss = (0.5 * fit + logdet + 0.5 * (double)st->n * LOG_2PI) /
                (double)st->n + prior;
    *jitter_used = st->jitter;
    st->factored = 1;
    return PROTEIN_OK;
}

/* protein_gp_objective.gradient: d loss / d theta_raw at the theta of the
 * last cpu_loss; consumes the factorization (K^-1 overwrites it). */
static int cpu_gradient(void *ctx, double *grad, char *errbuf, size_t errlen)
{
    cpu_gp *st = ctx;
    size_t n = st->n, d = st->d;
    lapack_int ni = (lapack_int)n, info = 0;
    double sum_w = 0, tr_w = 0, ya = 0, dn = (double)n;
    double g_sf, g_b, g_sn2, prior_grad;

    if (!st->factored)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): gradient without a factorization");
    st->factored = 0;
    LAPACK_dpotri("U", &ni, st->K, &ni, &info);
    if (info != 0)
        return protein_gp_fail(PROTEIN_ENUMERIC, errbuf, errlen,
                               "GP (cpu): dpotri failed (info %d)", (int)info);
    /* One pass over the upper triangle: W = a a' - K^-1 into P = W o E. */
    for (size_t j = 0; j < n; j++) {
        double *Pj = st->K + j * n;
        const double *Ej = st->E + j * n;
        double aj = st->alpha[j], col = 0;

        for (size_t i = 0; i < j; i++) {
            double w = st->alpha[i] * aj - Pj[i];
            col += w;
            Pj[i] = w * Ej[i];
        }
        {
            double w = aj * aj - Pj[j];
            sum_w += 2 * col + w;
            tr_w += w;
            Pj[j] = 0;
        }
        ya += st->y[j] * aj;
    }
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, (int)n, (int)(d + 1),
                1.0, st->K, (int)n, st->Xc, (int)n, 0.0, st->Q, (int)n);
    for (size_t k = 0; k < d; k++) {
        const double *xk = st->Xc + k * n, *qk = st->Q + k * n,
                     *p1 = st->Q + d * n;
        double s = 0, l = 1.0 / st->linv[k];

        for (size_t i = 0; i < n; i++)
            s += xk[i] * (xk[i] * p1[i] - qk[i]);
        /* d MLL / d l_k = 1/2 sum_ij W_ij sf 3 E_ij D_ijk^2 / l_k^3 */
        grad[k] = -(0.5 * st->sf * 3.0 * 2.0 * s / (l * l * l)) / dn *
                  protein_gp_softplus_grad(st->theta[k]);
    }
    /* sum W o (K - (sn2 + jitter) I) = tr(W K) - (sn2 + jitter) tr W, and
     * tr(W K) = a'K a - n = y'a - n. */
    g_sf = 0.5 * ((ya - dn) - (st->sn2 + st->jitter) * tr_w) / st->sf;
    g_b = 0.5 * st->sf * sum_w;
    g_sn2 = 0.5 * tr_w;
    protein_gp_noise_prior(st->theta[d + 2], &prior_grad);
    grad[d] = -g_sf / dn * protein_gp_softplus_grad(st->theta[d]);
    grad[d + 1] = -g_b / dn * protein_gp_softplus_grad(st->theta[d + 1]);
    grad[d + 2] = -g_sn2 / dn * protein_gp_softplus_grad(st->theta[d + 2]) +
                  prior_grad;
    return PROTEIN_OK;
}

static int cpu_loss_grad(void *state, const double *X, const double *y,
                         size_t n, const double *theta, double *loss,
                         double *grad, char *errbuf, size_t errlen)
{
    cpu_gp *st = state;
    double jitter;
    int rc;

    if (st == NULL || theta == NULL || loss == NULL)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): loss_grad needs a state, theta and "
                               "a loss pointer");
    if (!all_finite(theta, st->nt))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): theta holds NaN or Inf");
    rc = set_data(st, X, y, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    rc = cpu_loss(st, theta, loss, &jitter, errbuf, errlen);
    if (rc != PROTEIN_OK || grad == NULL)
        return rc;
    return cpu_gradient(st, grad, errbuf, errlen);
}

static int cpu_fit(void *state, const double *X, const double *y, size_t n,
                   protein_gp_params *params,
                   const protein_gp_fit_options *opts,
                   protein_gp_fit_report *report, char *errbuf, size_t errlen)
{
    cpu_gp *st = state;
    protein_gp_objective obj = {st, cpu_loss, cpu_gradient};
    int rc;

    if (st == NULL || params == NULL || params->theta == NULL)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): fit needs a state and parameters");
    if (params->d != st->d)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): parameters are for d = %zu, the "
                               "state for d = %zu", params->d, st->d);
    if (!all_finite(params->theta, st->nt))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): theta holds NaN or Inf");
    rc = set_data(st, X, y, n, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    rc = protein_gp_minimize(&obj, params, opts, report, errbuf, errlen);
    if (rc != PROTEIN_OK)
        return rc;
    st->fitted = st->factored;
    if (!st->fitted)
        return protein_gp_fail(PROTEIN_EBACKEND, errbuf, errlen,
                               "GP (cpu): fit ended without a factorization");
    return PROTEIN_OK;
}

static int cpu_predict(void *state, const double *Xs, size_t m, double *mean,
                       double *var, char *errbuf, size_t errlen)
{
    cpu_gp *st = state;
    size_t n, d, chunk;

    if (st == NULL || (m > 0 && (Xs == NULL || mean == NULL)))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): predict needs a state, points and "
                               "a mean array");
    if (!st->fitted)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): predict before a successful fit");
    n = st->n;
    d = st->d;
    if (!all_finite(Xs, m * d))
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): prediction points hold NaN or Inf");
    chunk = PREDICT_CHUNK_DOUBLES / n;
    if (chunk > PREDICT_CHUNK_MAX)
        chunk = PREDICT_CHUNK_MAX;
    if (chunk < 1)
        chunk = 1;
    if (chunk > m)
        chunk = m;
    if (chunk * n > st->cap_ks) {
        if (regrow(&st->Ks, chunk * n))
            return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                                   "GP (cpu): out of memory predicting %zu "
                                   "points", m);
        st->cap_ks = chunk * n;
    }
    for (size_t off = 0; off < m; off += chunk) {
        size_t mc = m - off < chunk ? m - off : chunk;

        for (size_t c = 0; c < mc; c++) {
            const double *xs = Xs + (off + c) * d;
            double *kc = st->Ks + c * n;

            for (size_t k = 0; k < d; k++)
                st->zs[k] = xs[k] * st->linv[k];
            distances(st, n, st->zs, xs, 1);
            for (size_t i = 0; i < n; i++) {
                double r = sqrt(st->r2[i]);
                kc[i] = st->sf * (st->dt[i] + st->b +
                                  (1 + SQRT3 * r) * exp(-SQRT3 * r));
            }
        }
        cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)mc, 1.0, st->Ks,
                    (int)n, st->alpha, 1, 0.0, mean + off, 1);
        if (var == NULL)
            continue;
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans,
                    CblasNonUnit, (int)n, (int)mc, 1.0, st->K, (int)n, st->Ks,
                    (int)n);
        for (size_t c = 0; c < mc; c++) {
            const double *xs = Xs + (off + c) * d, *vc = st->Ks + c * n;
            double xx = 0, vv = 0, v;

            for (size_t k = 0; k < d; k++)
                xx += xs[k] * xs[k];
            for (size_t i = 0; i < n; i++)
                vv += vc[i] * vc[i];
            v = st->sf * (xx + st->b + 1) - vv;
            var[off + c] = v > 0 ? v : 0;
        }
    }
    return PROTEIN_OK;
}

const protein_gp_backend protein_gp_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .loss_grad = cpu_loss_grad,
    .fit = cpu_fit,
    .predict = cpu_predict,
    .destroy = cpu_destroy,
};
