/*
 * queue_suite.h - the fixture of a CUnit suite that tests the queue
 * library against a private redis-server (tests/common/redis_harness.h),
 * written once (header only, like cunit_run.h).
 *
 * queue_suite_open() starts the server and connects to it with bounded
 * timeouts (1 s to connect, 5 s per command), so that a wedged server
 * fails the suite instead of hanging it; queue_suite_close() undoes both.
 *
 * Typical use:
 *     static redis_harness server;
 *     static pq_context *ctx;
 *     static int suite_init(void) { return queue_suite_open(&server, &ctx); }
 *     static int suite_clean(void)
 *     {
 *         queue_suite_close(&server, ctx);
 *         return 0;
 *     }
 */
#ifndef PROTEIN_QUEUE_SUITE_H
#define PROTEIN_QUEUE_SUITE_H

#include <stdio.h>

#include "protein_queue.h"
#include "redis_harness.h"

/* Starts *server and connects *ctx to it. Returns 0 on success; -1 when
 * the server did not start or the connection failed (the reason on
 * stderr). *ctx may be set on failure too: queue_suite_close() frees it. */
static inline int queue_suite_open(redis_harness *server, pq_context **ctx)
{
    pq_connect_options o = {.connect_timeout_ms = 1000,
                            .command_timeout_ms = 5000};

    *ctx = NULL;
    if (redis_harness_start(server, NULL) != 0)
        return -1;
    o.url = server->url;
    *ctx = pq_connect(&o);
    if (*ctx == NULL || (*ctx)->err != PQ_OK) {
        fprintf(stderr, "connect: %s\n",
                *ctx ? (*ctx)->errstr : "out of memory");
        return -1;
    }
    return 0;
}

/* Frees ctx (may be NULL) and stops the server (safe if it never
 * started). */
static inline void queue_suite_close(redis_harness *server, pq_context *ctx)
{
    pq_free(ctx);
    redis_harness_stop(server);
}

#endif /* PROTEIN_QUEUE_SUITE_H */
