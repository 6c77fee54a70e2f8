#include "config.h"

/*
 * acquisition.c - the log expected improvement that the optimizer ranks
 * candidates by (docs/algorithm.md).
 */
#include <math.h>

#include "internal.h"

#define LOG_SQRT_2PI 0.91893853320467274178
/* Below this standardized improvement the closed form loses its digits to
 * cancellation (z Phi(z) + phi(z), both terms near 1e-9); the asymptotic
 * series takes over. */
#define LOG_EI_SERIES_BELOW (-6.0)
/* A predictive standard deviation below this is treated as this: the
 * latent variance of a point on top of an observation can round to 0. */
#define LOG_EI_MIN_SD 1e-12

/* log EI; see internal.h. */
double protein_log_ei(double mean, double sd, double best)
{
    double z, x, x2;

    if (!(sd > LOG_EI_MIN_SD))
        sd = LOG_EI_MIN_SD;
    z = (mean - best) / sd;
    if (z > LOG_EI_SERIES_BELOW) {
        double cdf = 0.5 * erfc(-z / M_SQRT2);
        double pdf = exp(-0.5 * z * z - LOG_SQRT_2PI);
        return log(sd) + log(z * cdf + pdf);
    }
    /* z Phi(z) + phi(z) = phi(z) / z^2 (1 - 3/z^2 + 15/z^4 - 105/z^6 ...) */
    x = -z;
    x2 = x * x;
    return log(sd) - 0.5 * x2 - LOG_SQRT_2PI - 2.0 * log(x) +
           log1p((-3.0 + (15.0 - 105.0 / x2) / x2) / x2);
}
