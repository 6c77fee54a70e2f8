/*
 * protein_clock.h - the one clock_gettime wrapper of the tree: seconds as a
 * double from CLOCK_MONOTONIC (durations, deadlines) or CLOCK_REALTIME
 * (timestamps stored or shown), and the one millisecond sleep.
 * Header-only, like everything in common/.
 */
#ifndef PROTEIN_CLOCK_H
#define PROTEIN_CLOCK_H

#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME), with nanosecond
 * resolution. */
static inline double protein_clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sleeps ms milliseconds, or less when a signal arrives (the caller checks
 * what the signal asked for). */
static inline void protein_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_CLOCK_H */
