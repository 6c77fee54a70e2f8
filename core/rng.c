#include "config.h"

/*
 * rng.c - xoshiro256** (Blackman and Vigna), seeded through splitmix64.
 * Every optimizer owns one generator; nothing here has global state.
 */
#include <assert.h>
#include <math.h>

#include "internal.h"

/* The next output of splitmix64 with state *x, which it advances; seeds
 * xoshiro from any 64-bit value. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* x rotated left by k bits (0 < k < 64). */
static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Seeds rng deterministically from seed (any value, 0 included). */
void protein_rng_seed(protein_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

/* The next 64 random bits. */
uint64_t protein_rng_next(protein_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* A uniform double in [0, 1) with 53 random bits. */
double protein_rng_uniform(protein_rng *rng)
{
    return (double)(protein_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* A standard normal variate (Box-Muller; one value per call). */
double protein_rng_normal(protein_rng *rng)
{
    double u1 = 1.0 - protein_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = protein_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* A uniform index in [0, n); n must be > 0. Rejection sampling, so there
 * is no modulo bias. */
size_t protein_rng_index(protein_rng *rng, size_t n)
{
    uint64_t bound = (uint64_t)n, limit, r;

    assert(n > 0);
    limit = UINT64_MAX - UINT64_MAX % bound;
    do
        r = protein_rng_next(rng);
    while (r >= limit);
    return (size_t)(r % bound);
}
