#include "config.h"

/*
 * sobol.c - scrambled Sobol points: GSL's Sobol generator (at most 40
 * dimensions) with a seeded random digital shift, i.e. every coordinate's
 * 32-bit binary fraction is XORed with a per-dimension random word. The
 * shift keeps the (t,s)-net structure and makes different seeds give
 * different, equally uniform sequences. GSL starts after the origin; the
 * origin is emitted first here, so that the first 2^k points form a
 * complete net (every axis bin of width 2^-k holds exactly one point).
 */
#include <gsl/gsl_qrng.h>
#include <math.h>
#include <stdlib.h>

#include "internal.h"

struct protein_sobol {
    gsl_qrng *q;
    size_t dim;
    int started; /* the origin has been emitted */
    uint32_t shift[PROTEIN_SOBOL_MAX_DIM];
};

/* Creates a generator for dim dimensions (1..PROTEIN_SOBOL_MAX_DIM) whose
 * shift is drawn from seed. Returns PROTEIN_EINVAL for a bad dim and
 * PROTEIN_ENOMEM when allocation fails; *out is set only on success and is
 * freed with protein_sobol_free. */
int protein_sobol_create(size_t dim, uint64_t seed, protein_sobol **out)
{
    protein_sobol *s;
    protein_rng rng;

    if (dim == 0 || dim > PROTEIN_SOBOL_MAX_DIM || out == NULL)
        return PROTEIN_EINVAL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return PROTEIN_ENOMEM;
    s->q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned int)dim);
    if (s->q == NULL) {
        free(s);
        return PROTEIN_ENOMEM;
    }
    s->dim = dim;
    protein_rng_seed(&rng, seed);
    for (size_t j = 0; j < dim; j++)
        s->shift[j] = (uint32_t)(protein_rng_next(&rng) >> 32);
    *out = s;
    return PROTEIN_OK;
}

/* Writes the next point (dim values in [0, 1)) to point. */
void protein_sobol_next(protein_sobol *s, double *point)
{
    if (s->started) {
        gsl_qrng_get(s->q, point);
    } else {
        for (size_t j = 0; j < s->dim; j++)
            point[j] = 0.0;
        s->started = 1;
    }
    for (size_t j = 0; j < s->dim; j++) {
        uint32_t bits = (uint32_t)ldexp(point[j], 32);
        point[j] = ldexp((double)(bits ^ s->shift[j]), -32);
    }
}

/* Frees s; NULL is allowed. */
void protein_sobol_free(protein_sobol *s)
{
    if (s == NULL)
        return;
    gsl_qrng_free(s->q);
    free(s);
}
