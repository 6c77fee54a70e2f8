#include "config.h"

/*
 * gp_cpu.c - the LAPACK/BLAS GP backend (protein_gp_backend_cpu), FP64
 * throughout; the reference the other backends are tested against.
 *
 * Matrices are column-major with leading dimension n and only their upper
 * triangles are used. One loss evaluation gets the dot products and the
 * scaled squared distances of all pairs from two dsyrk calls (on inputs
 * centered per column, which keeps the cancellation in
 * |z_i|^2 + |z_j|^2 - 2 z_i.z_j small), turns them into K and
 * E = exp(-sqrt3 r) in one pass over the upper triangle, factorizes
 * K = U'U with dpotrf (retrying with the jitter ladder) and solves for
 * a = K^-1 y. The gradient then forms K^-1 in place with dpotri, turns it
 * into P = W o E (W = a a' - K^-1) in one more pass that also collects the
 * sf, b and noise terms, and gets all d lengthscale terms from one dsymm:
 *   sum_ij P_ij (x_ik - x_jk)^2 = 2 sum_i x_ik (x_ik (P 1)_i - (P X)_ik),
 * again on centered inputs. Prediction works in chunks of candidates: one
 * dgemm gives the scaled dot products, and the mean is
 *   sf (xs.(X'a) + b sum(a) + sum_i a_i (1 + sqrt3 r_i) E_i)
 * in one fused pass per candidate (the linear part of the kernel folded
 * into the d-vector X'a, so the mean needs no second dgemm and no stored
 * cross-kernel); the variance, only when asked for, builds the full
 * cross-kernel with a second dgemm and solves with U'.
 */
#include <cblas.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <lapack.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"
#include "protein.h"

#define SQRT3 1.7320508075688772935
#define LOG_2PI 1.8378770664093454836
/* Predict works on chunks of candidates whose cross-kernel holds at most
 * this many doubles (2 MiB: the two n x chunk matrices stay in cache, ~10%
 * faster than 32 MiB at n = 750), and at most PREDICT_CHUNK_MAX
 * candidates. */
#define PREDICT_CHUNK_DOUBLES ((size_t)1 << 18)
#define PREDICT_CHUNK_MAX ((size_t)4096)

/* A cap far beyond what fits in memory (n^2 doubles): it keeps the buffer
 * sizes clear of size_t overflow and n within the int of BLAS. */
#define MAX_POINTS ((size_t)1 << 24)

static const double jitter_ladder[] = {0, 1e-8, 1e-6, 1e-4};
#define JITTER_LEVELS (sizeof(jitter_ladder) / sizeof(jitter_ladder[0]))

/* e[i] = exp(-sqrt3 r[i]) for a row of distances: the hot loop of both
 * kernel builds (r >= 0). */
static void matern_exp_libm(const double *restrict r, double *restrict e,
                            size_t count)
{
    for (size_t i = 0; i < count; i++)
        e[i] = exp(-SQRT3 * r[i]);
}

/* The Matern part of the posterior mean at one candidate:
 *   sum_i alpha[i] (1 + sqrt3 r_i) exp(-sqrt3 r_i),
 *   r_i = sqrt(max(0, q[i] + cq - 2 g[i])),
 * from the dot products g of the scaled inputs with the candidate's, their
 * squared norms q and the candidate's cq (the gemm form of the distance). */
static double matern_sum_libm(const double *restrict g,
                              const double *restrict q, double cq,
                              const double *restrict alpha, size_t count)
{
    double sum = 0;

    for (size_t i = 0; i < count; i++) {
        double r2 = q[i] + cq - 2 * g[i];
        double r = sqrt(r2 > 0 ? r2 : 0);
        sum += alpha[i] * (1 + SQRT3 * r) * exp(-SQRT3 * r);
    }
    return sum;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_MATERN_AVX2 1
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));

/* exp(-sqrt3 r) of four distances r >= 0 with AVX2 and FMA: x = -sqrt3 r
 * = k ln2 + t with |t| <= ln2/2, e^t by its degree-13 Taylor polynomial
 * (truncation < 1e-17) in Estrin's scheme (short dependency chains), 2^k
 * from the exponent bits. Agrees with libm to 4.3e-16 relative (2 ulp);
 * x < -708 gives 0 (libm: below 3e-308). */
__attribute__((target("avx2,fma"))) static inline v4d exp_neg_sqrt3_v4(v4d r)
{
    const v4d shift = {0x1.8p52, 0x1.8p52, 0x1.8p52, 0x1.8p52};
    const v4d lowest = {-708.0, -708.0, -708.0, -708.0};
    v4d x, t, k, x2, x4, p01, p23, p45, p67, p89, p1011, p1213, p;
    v4i below, bits;

    x = r * -SQRT3;
    below = x < lowest;
    x = (v4d)(((v4i)x & ~below) | ((v4i)lowest & below));
    t = x * 1.4426950408889634074 + shift; /* k + 1.5 * 2^52 */
    k = t - shift;
    x = x - k * 0x1.62e42fefa3800p-1 - k * 0x1.ef35793c76730p-45;
    x2 = x * x;
    x4 = x2 * x2;
    p01 = 1.0 + x;
    p23 = 1.0 / 2 + x * (1.0 / 6);
    p45 = 1.0 / 24 + x * (1.0 / 120);
    p67 = 1.0 / 720 + x * (1.0 / 5040);
    p89 = 1.0 / 40320 + x * (1.0 / 362880);
    p1011 = 1.0 / 3628800 + x * (1.0 / 39916800);
    p1213 = 1.0 / 479001600 + x * (1.0 / 6227020800.0);
    p = (p01 + x2 * p23) + x4 * (p45 + x2 * p67) +
        (x4 * x4) * ((p89 + x2 * p1011) + x4 * p1213);
    bits = ((v4i)t - (v4i)shift + 1023) << 52;
    return (v4d)((v4i)(p * (v4d)bits) & ~below);
}

/* matern_exp_libm, four at a time (chosen at run time). */
__attribute__((target("avx2,fma"))) static void
matern_exp_avx2(const double *restrict r, double *restrict e, size_t count)
{
    size_t i = 0;

    for (; i + 4 <= count; i += 4) {
        v4d x, p;

        memcpy(&x, r + i, sizeof(x));
        p = exp_neg_sqrt3_v4(x);
        memcpy(e + i, &p, sizeof(p));
    }
    matern_exp_libm(r + i, e + i, count - i);
}

/* matern_sum_libm, four at a time in one fused pass (no stores). */
__attribute__((target("avx2,fma"))) static double
matern_sum_avx2(const double *restrict g, const double *restrict q, double cq,
                const double *restrict alpha, size_t count)
{
    const v4d zero = {0, 0, 0, 0};
    v4d acc = zero;
    size_t i = 0;

    for (; i + 4 <= count; i += 4) {
        v4d gv, qv, av, r2, r;

        memcpy(&gv, g + i, sizeof(gv));
        memcpy(&qv, q + i, sizeof(qv));
        memcpy(&av, alpha + i, sizeof(av));
        r2 = qv + cq - 2 * gv;
        r2 = (v4d)((v4i)r2 & (r2 > zero));
        r = (v4d)_mm256_sqrt_pd((__m256d)r2);
        acc += av * (1 + SQRT3 * r) * exp_neg_sqrt3_v4(r);
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]) +
           matern_sum_libm(g + i, q + i, cq, alpha + i, count - i);
}
#endif

typedef void (*matern_exp_fn)(const double *restrict, double *restrict, size_t);
typedef double (*matern_sum_fn)(const double *restrict, const double *restrict,
                                double, const double *restrict, size_t);

/* The fastest matern_exp and matern_sum this CPU runs. */
static void pick_matern(matern_exp_fn *exp_fn, matern_sum_fn *sum_fn)
{
    *exp_fn = matern_exp_libm;
    *sum_fn = matern_sum_libm;
#ifdef HAVE_MATERN_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        *exp_fn = matern_exp_avx2;
        *sum_fn = matern_sum_avx2;
    }
#endif
}

typedef struct cpu_gp {
    size_t d, nt;
    size_t n, cap; /* training points; capacity of the n-sized buffers */
    double *X;     /* n x d: the training inputs */
    double *Xc;    /* n x (d+1): X centered, then a column of ones */
    double *Z;     /* n x d: X centered, column k divided by l_k */
    double *q;     /* n: squared norms of the rows of Z */
    double *r;     /* n: scratch, the distances of one row */
    double *Q;     /* n x (d+1): P Xc */
    double *y, *alpha;
    double *K;        /* n x n: K, then U, then K^-1 and P (upper) */
    double *E;        /* n x n: exp(-sqrt3 r_ij) (strict upper) */
    double *theta;    /* nt: raw theta of the factorization in K */
    double *mu;       /* d: column means of X */
    double *linv;     /* d: 1 / l_k at theta */
    double *xa;       /* d: X' alpha, the linear part of the mean */
    double alpha_sum; /* sum of alpha */
    /* predict scratch for a chunk of c candidates: */
    double *cK, *cG;          /* n x c: cross-kernel; dot products */
    double *cX, *cZ;          /* c x d: the candidates; centered and scaled */
    double *cq;               /* c: squared norms of the rows of cZ */
    size_t cap_ck, cap_chunk; /* doubles in cK and cG; candidates */
    double sf, b, sn2, jitter;
    matern_exp_fn matern_exp;
    matern_sum_fn matern_sum;
    int factored; /* K holds U at theta for the current data */
    int fitted;   /* the last fit succeeded: predict may run */
} cpu_gp;

/* The backend table's destroy: frees the state and every buffer it holds;
 * NULL is a no-op. */
static void cpu_destroy(void *state)
{
    cpu_gp *st = state;

    if (st == NULL)
        return;
    free(st->X);
    free(st->Xc);
    free(st->Z);
    free(st->q);
    free(st->r);
    free(st->Q);
    free(st->y);
    free(st->alpha);
    free(st->K);
    free(st->E);
    free(st->theta);
    free(st->mu);
    free(st->linv);
    free(st->xa);
    free(st->cK);
    free(st->cG);
    free(st->cX);
    free(st->cZ);
    free(st->cq);
    free(st);
}

/* The backend table's create (contract in gp.h): a zeroed state for d
 * dimensions; its buffers grow with the data. */
static int cpu_create(void **state, size_t d, char *errbuf, size_t errlen)
{
    cpu_gp *st;

    if (state == NULL || d == 0)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cpu): create needs a state pointer and d >= 1 (got d = %zu)",
            d);
    *state = NULL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cpu): out of memory");
    st->d = d;
    st->nt = PROTEIN_GP_NTHETA(d);
    pick_matern(&st->matern_exp, &st->matern_sum);
    st->theta = calloc(st->nt, sizeof(double));
    st->mu = calloc(d, sizeof(double));
    st->linv = calloc(d, sizeof(double));
    st->xa = calloc(d, sizeof(double));
    if (st->theta == NULL || st->mu == NULL || st->linv == NULL ||
        st->xa == NULL) {
        cpu_destroy(st);
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cpu): out of memory");
    }
    *state = st;
    return PROTEIN_OK;
}

/* Replaces *p by an allocation of count doubles, without copying the old
 * contents; -1 (and *p NULL) when out of memory. */
static int regrow(double **p, size_t count)
{
    free(*p);
    *p = malloc(count * sizeof(double));
    return *p == NULL ? -1 : 0;
}

/* Makes the n-sized buffers hold at least n points, growing by a quarter
 * beyond n so that a sweep adding a few points per refit rarely
 * reallocates. */
static int ensure_capacity(cpu_gp *st, size_t n, char *errbuf, size_t errlen)
{
    size_t cap, d = st->d;

    if (n <= st->cap)
        return PROTEIN_OK;
    if (n > MAX_POINTS)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): %zu points is more than an exact GP "
                               "can hold (at most %zu)",
                               n, (size_t)MAX_POINTS);
    cap = n + n / 4 + 16;
    st->cap = 0;
    if (regrow(&st->X, cap * d) || regrow(&st->Xc, cap * (d + 1)) ||
        regrow(&st->Z, cap * d) || regrow(&st->q, cap) || regrow(&st->r, cap) ||
        regrow(&st->Q, cap * (d + 1)) || regrow(&st->y, cap) ||
        regrow(&st->alpha, cap) || regrow(&st->K, cap * cap) ||
        regrow(&st->E, cap * cap))
        return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                               "GP (cpu): out of memory for %zu points", n);
    st->cap = cap;
    return PROTEIN_OK;
}

/* 1 when every one of the count values at a is finite. */
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
    memcpy(st->y, y, n * sizeof(double));
    for (size_t k = 0; k < d; k++) {
        double mean = 0;

        for (size_t i = 0; i < n; i++) {
            st->X[k * n + i] = X[i * d + k];
            mean += X[i * d + k];
        }
        mean /= (double)n;
        st->mu[k] = mean;
        for (size_t i = 0; i < n; i++)
            st->Xc[k * n + i] = X[i * d + k] - mean;
    }
    for (size_t i = 0; i < n; i++)
        st->Xc[d * n + i] = 1.0;
    return PROTEIN_OK;
}

/* Maps theta to the kernel hyperparameters and scales Z by them. */
static void set_theta(cpu_gp *st, const double *theta)
{
    size_t d = st->d, n = st->n;

    memcpy(st->theta, theta, st->nt * sizeof(double));
    memset(st->q, 0, n * sizeof(double));
    for (size_t k = 0; k < d; k++) {
        const double *xc = st->Xc + k * n;
        double *z = st->Z + k * n;

        st->linv[k] = 1.0 / protein_gp_softplus(theta[k]);
        for (size_t i = 0; i < n; i++) {
            z[i] = xc[i] * st->linv[k];
            st->q[i] += z[i] * z[i];
        }
    }
    st->sf = protein_gp_softplus(theta[d]);
    st->b = protein_gp_softplus(theta[d + 1]);
    st->sn2 = protein_gp_softplus(theta[d + 2]);
}

/* Builds the upper triangles of K = k(X, X) + (sn2 + jitter) I and of E:
 * dot products into K and Z Z' into E by dsyrk, then one pass. */
static void build_kernel(cpu_gp *st, double jitter)
{
    size_t n = st->n;
    int ni = (int)n, di = (int)st->d;

    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, ni, di, 1.0, st->X, ni,
                0.0, st->K, ni);
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, ni, di, 1.0, st->Z, ni,
                0.0, st->E, ni);
    for (size_t j = 0; j < n; j++) {
        double *restrict Kj = st->K + j * n, *restrict Ej = st->E + j * n;
        const double *restrict q = st->q;
        double *restrict r = st->r;

        for (size_t i = 0; i < j; i++) {
            double r2 = q[i] + q[j] - 2 * Ej[i];
            r[i] = sqrt(r2 > 0 ? r2 : 0);
        }
        st->matern_exp(r, Ej, j);
        for (size_t i = 0; i < j; i++)
            Kj[i] = st->sf * (Kj[i] + st->b + (1 + SQRT3 * r[i]) * Ej[i]);
        Kj[j] = st->sf * (Kj[j] + st->b + 1) + (st->sn2 + jitter);
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
                               "GP (cpu): K (n = %zu) is not positive definite "
                               "even with jitter %g",
                               st->n, jitter_ladder[JITTER_LEVELS - 1]);
    st->jitter = jitter_ladder[level];
    memcpy(st->alpha, st->y, st->n * sizeof(double));
    LAPACK_dpotrs("U", &n, &one, st->K, &n, st->alpha, &n, &info);
    for (size_t i = 0; i < st->n; i++) {
        fit += st->y[i] * st->alpha[i];
        logdet += log(st->K[i * st->n + i]);
    }
    prior = protein_gp_noise_prior(theta[st->d + 2], NULL) +
            protein_gp_lengthscale_prior(theta, st->d, st->n, NULL);
    *loss =
        (0.5 * fit + logdet + 0.5 * (double)st->n * LOG_2PI) / (double)st->n +
        prior;
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
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, (int)n, (int)(d + 1), 1.0,
                st->K, (int)n, st->Xc, (int)n, 0.0, st->Q, (int)n);
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
    grad[d + 2] =
        -g_sn2 / dn * protein_gp_softplus_grad(st->theta[d + 2]) + prior_grad;
    protein_gp_lengthscale_prior(st->theta, d, n, grad);
    return PROTEIN_OK;
}

/* The backend table's loss_grad (contract in gp.h): sets the data, then the
 * loss (and gradient when grad is not NULL) at theta. */
static int cpu_loss_grad(void *state, const double *X, const double *y,
                         size_t n, const double *theta, double *loss,
                         double *grad, char *errbuf, size_t errlen)
{
    cpu_gp *st = state;
    double jitter;
    int rc;

    if (st == NULL || theta == NULL || loss == NULL)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cpu): loss_grad needs a state, theta and a loss pointer");
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

#ifdef PROTEIN_FAULT_INJECTION
static int injected_fit_failures;

/* Contract in gp.h. */
void protein_gp_cpu_inject_fit_failures(int count)
{
    injected_fit_failures = count;
}
#endif

/* The backend table's fit (contract in gp.h), by protein_gp_minimize over
 * this backend's loss and gradient. */
static int cpu_fit(void *state, const double *X, const double *y, size_t n,
                   protein_gp_params *params,
                   const protein_gp_fit_options *opts,
                   protein_gp_fit_report *report, char *errbuf, size_t errlen)
{
    cpu_gp *st = state;
    protein_gp_objective obj = {st, cpu_loss, cpu_gradient, n};
    int rc;

    if (st == NULL || params == NULL || params->theta == NULL)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): fit needs a state and parameters");
    if (params->d != st->d)
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cpu): parameters are for d = %zu, the state for d = %zu",
            params->d, st->d);
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
    cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)st->d, 1.0, st->X,
                (int)n, st->alpha, 1, 0.0, st->xa, 1);
    st->alpha_sum = 0;
    for (size_t i = 0; i < n; i++)
        st->alpha_sum += st->alpha[i];
#ifdef PROTEIN_FAULT_INJECTION
    if (injected_fit_failures > 0) {
        injected_fit_failures--;
        st->fitted = 0;
        return protein_gp_fail(
            PROTEIN_ENUMERIC, errbuf, errlen,
            "GP (cpu): injected fault: K is not positive definite");
    }
#endif
    return PROTEIN_OK;
}

/* Scales a chunk of mc candidates (row-major) like Z into cZ (column-major,
 * with squared row norms in cq), and copies them column-major into cX when
 * raw is set; then cK = Z cZ', the dot products that give the distances. */
static void candidate_products(cpu_gp *st, const double *xs, size_t mc, int raw)
{
    size_t d = st->d;

    memset(st->cq, 0, mc * sizeof(double));
    for (size_t k = 0; k < d; k++)
        for (size_t c = 0; c < mc; c++) {
            double z = (xs[c * d + k] - st->mu[k]) * st->linv[k];
            st->cZ[k * mc + c] = z;
            st->cq[c] += z * z;
            if (raw)
                st->cX[k * mc + c] = xs[c * d + k];
        }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)st->n, (int)mc,
                (int)d, 1.0, st->Z, (int)st->n, st->cZ, (int)mc, 0.0, st->cK,
                (int)st->n);
}

/* Posterior means of the chunk whose products candidate_products left in
 * cK (which it leaves untouched):
 *   mean = sf (xs.(X' a) + b sum(a) + sum_i a_i (1 + sqrt3 r_i) E_i),
 * the linear part of the kernel folded into the d-vector X' a. */
static void chunk_mean(const cpu_gp *st, const double *xs, size_t mc,
                       double *mean)
{
    size_t n = st->n, d = st->d;

    for (size_t c = 0; c < mc; c++) {
        double lin = 0;

        for (size_t k = 0; k < d; k++)
            lin += xs[c * d + k] * st->xa[k];
        mean[c] = st->sf * (lin + st->b * st->alpha_sum +
                            st->matern_sum(st->cK + c * n, st->q, st->cq[c],
                                           st->alpha, n));
    }
}

/* Turns the products in cK into the cross-kernel k(X, xs) of the chunk,
 * with the dot products of the raw inputs from one more dgemm. */
static void cross_kernel(cpu_gp *st, size_t mc)
{
    size_t n = st->n;

    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)mc,
                (int)st->d, 1.0, st->X, (int)n, st->cX, (int)mc, 0.0, st->cG,
                (int)n);
    for (size_t c = 0; c < mc; c++) {
        double *restrict kc = st->cK + c * n, *restrict r = st->r;
        const double *restrict gc = st->cG + c * n, *restrict q = st->q;

        for (size_t i = 0; i < n; i++) {
            double r2 = q[i] + st->cq[c] - 2 * kc[i];
            r[i] = sqrt(r2 > 0 ? r2 : 0);
        }
        st->matern_exp(r, kc, n);
        for (size_t i = 0; i < n; i++)
            kc[i] = st->sf * (gc[i] + st->b + (1 + SQRT3 * r[i]) * kc[i]);
    }
}

/* The mean needs one dgemm and one fused pass per chunk; the variance
 * (only when asked for) the full cross-kernel and a triangular solve. */
static int cpu_predict(void *state, const double *Xs, size_t m, double *mean,
                       double *var, char *errbuf, size_t errlen)
{
    cpu_gp *st = state;
    size_t n, d, chunk;

    if (st == NULL || (m > 0 && (Xs == NULL || mean == NULL)))
        return protein_gp_fail(
            PROTEIN_EINVAL, errbuf, errlen,
            "GP (cpu): predict needs a state, points and a mean array");
    if (!st->fitted)
        return protein_gp_fail(PROTEIN_EINVAL, errbuf, errlen,
                               "GP (cpu): predict before a successful fit");
    if (m == 0)
        return PROTEIN_OK;
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
    if (chunk * n > st->cap_ck) {
        st->cap_ck = 0;
        if (regrow(&st->cK, chunk * n) || regrow(&st->cG, chunk * n))
            goto nomem;
        st->cap_ck = chunk * n;
    }
    if (chunk > st->cap_chunk) {
        st->cap_chunk = 0;
        if (regrow(&st->cX, chunk * d) || regrow(&st->cZ, chunk * d) ||
            regrow(&st->cq, chunk))
            goto nomem;
        st->cap_chunk = chunk;
    }
    for (size_t off = 0; off < m; off += chunk) {
        size_t mc = m - off < chunk ? m - off : chunk;

        candidate_products(st, Xs + off * d, mc, var != NULL);
        chunk_mean(st, Xs + off * d, mc, mean + off);
        if (var == NULL)
            continue;
        cross_kernel(st, mc);
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, CblasTrans,
                    CblasNonUnit, (int)n, (int)mc, 1.0, st->K, (int)n, st->cK,
                    (int)n);
        for (size_t c = 0; c < mc; c++) {
            const double *xs = Xs + (off + c) * d, *vc = st->cK + c * n;
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
nomem:
    return protein_gp_fail(PROTEIN_ENOMEM, errbuf, errlen,
                           "GP (cpu): out of memory predicting %zu points", m);
}

const protein_gp_backend protein_gp_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .loss_grad = cpu_loss_grad,
    .fit = cpu_fit,
    .predict = cpu_predict,
    .destroy = cpu_destroy,
};
