/*
 * leader.c - one active coordinator per sweep.
 *
 * Each sweep has a leader lease in Redis (pq_coordinator_acquire: a key with
 * a TTL holding the coordinator's id). The holder renews it every ttl/3; a
 * standby tries to take it at the same pace, so it takes over at most about
 * ttl + ttl/3 after the holder stops renewing (kill -9, network loss).
 * Every queue write checks the lease on the server (pq_queue_replace), so a
 * coordinator that lost its lease without noticing cannot hand out stale
 * points.
 */
#include "config.h"

#include "proteind.h"

/* Contract in proteind.h. */
int proteind_lease_tick(pq_context *ctx, proteind_lease *lease,
                        const proteind_options *opts, int64_t now)
{
    int64_t period = opts->lease_ttl_ms / 3;
    int is_leader = 0;
    int rc;

    if (lease->held && now >= lease->expires) {
        proteind_warn("sweep %s: lease lapsed before it could be renewed",
                      lease->sweep);
        lease->held = 0;
    }
    if (now < lease->renew_at)
        return lease->held;
    rc = pq_coordinator_acquire(ctx, lease->sweep, opts->id, opts->lease_ttl_ms,
                                &is_leader);
    if (rc != PQ_OK) {
        /* Try again on the next turn; the lease holds until it expires. */
        lease->renew_at = now + period;
        return rc;
    }
    lease->renew_at = now + period;
    if (is_leader) {
        if (!lease->held)
            proteind_info("sweep %s: now the coordinator (%s)", lease->sweep,
                          opts->id);
        lease->held = 1;
        lease->expires = now + opts->lease_ttl_ms;
    } else if (lease->held) {
        proteind_info(
            "sweep %s: another coordinator took the lease; standing by",
            lease->sweep);
        lease->held = 0;
    }
    return lease->held;
}

/* Contract in proteind.h. */
void proteind_lease_release(pq_context *ctx, proteind_lease *lease,
                            const proteind_options *opts)
{
    if (!lease->held)
        return;
    lease->held = 0;
    lease->renew_at = 0;
    if (ctx && pq_coordinator_release(ctx, lease->sweep, opts->id) != PQ_OK)
        proteind_warn(
            "sweep %s: could not release the lease (%s); it expires in %d ms",
            lease->sweep, ctx->errstr, opts->lease_ttl_ms);
}
