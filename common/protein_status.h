/*
 * protein_status.h - the status codes of every protein library, in one set
 * with one description function. The optimizer's codes (PROTEIN_*, core/)
 * run from -1 down, the queue's (PQ_*, queue/) from -101 down; the two
 * share only success, "out of memory" and "invalid argument", which mean
 * the same in both. So a code says what failed wherever it travels
 * (queue_model and proteind pass both kinds on), and protein_strerror
 * describes any of them.
 *
 * Header-only, like everything in common/: core/ and queue/ share it
 * without depending on each other.
 */
#ifndef PROTEIN_STATUS_H
#define PROTEIN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* The optimizer's codes. Every failing call of core/ returns one of these
 * (never errno). */
typedef enum protein_status {
    PROTEIN_OK = 0,
    PROTEIN_ENOMEM = -1,    /* an allocation failed */
    PROTEIN_EINVAL = -2,    /* a caller passed an invalid argument */
    PROTEIN_ECONFIG = -3,   /* a sweep config is malformed; see protein_error */
    PROTEIN_EIO = -4,       /* a file could not be read or written */
    PROTEIN_ENUMERIC = -5,  /* a factorization failed even after jitter */
    PROTEIN_EBACKEND = -6,  /* a GP backend failed (device error, ...) */
    PROTEIN_EXHAUSTED = -7, /* no more suggestions (grid done, budget used) */
    PROTEIN_ENOTFOUND = -8  /* a named parameter or key does not exist */
} protein_status;

/* The queue's codes (ctx->err and return values of queue/). */
enum pq_error {
    PQ_OK = PROTEIN_OK,
    PQ_ENOMEM = PROTEIN_ENOMEM,
    PQ_EINVAL = PROTEIN_EINVAL, /* a bad argument: malformed name, NaN
                                   metric, ... */
    PQ_EIO = -101,              /* connection failed, timed out or was lost */
    PQ_EPROTO = -102,           /* the server answered something unexpected */
    PQ_ENOSWEEP = -105,         /* no such sweep */
    PQ_EEXISTS = -106,          /* the sweep already exists */
    PQ_ENOTRIAL = -107,         /* no such trial */
    PQ_ETOKEN = -108,           /* the trial token does not match */
    PQ_ESTATE = -109,   /* the trial or sweep is not in a state allowing it */
    PQ_EBUDGET = -110,  /* max_trials reached: no trial handed out */
    PQ_EPERM = -111,    /* the sweep belongs to another user and is not
                           shared, or Redis' ACL refused a command */
    PQ_ESTOPPED = -112, /* the sweep is paused or stopped */
    PQ_EEMPTY = -113,   /* ready queue empty and a coordinator is alive */
    PQ_EAUTH = -114,    /* authentication failed, or a password is
                           unreadable or wanted and not given */
    PQ_EDONE = -115     /* the trial already has the outcome of this same
                           claim (its token): a repeat, not another's */
};

/* 1 when status is one of the queue's own codes (PQ_EIO and below), whose
 * details are in the pq_context's errstr. */
static inline int protein_status_is_queue(int status)
{
    return status <= PQ_EIO;
}

/* A static English description of any protein_status or pq_error; unknown
 * codes get "unknown error". Never NULL, never to be freed. */
static inline const char *protein_strerror(int status)
{
    switch (status) {
    case PROTEIN_OK: return "success";
    case PROTEIN_ENOMEM: return "out of memory";
    case PROTEIN_EINVAL: return "invalid argument";
    case PROTEIN_ECONFIG: return "invalid sweep config";
    case PROTEIN_EIO: return "input/output error";
    case PROTEIN_ENUMERIC:
        return "numerical failure (matrix not positive definite)";
    case PROTEIN_EBACKEND: return "GP backend failure";
    case PROTEIN_EXHAUSTED: return "no more suggestions";
    case PROTEIN_ENOTFOUND: return "not found";
    case PQ_EIO: return "Redis connection failed, timed out or was lost";
    case PQ_EPROTO: return "unexpected answer from Redis";
    case PQ_ENOSWEEP: return "no such sweep";
    case PQ_EEXISTS: return "the sweep already exists";
    case PQ_ENOTRIAL: return "no such trial";
    case PQ_ETOKEN: return "the trial token does not match";
    case PQ_ESTATE: return "not allowed in the current state";
    case PQ_EBUDGET: return "the sweep's trial budget is used up";
    case PQ_EPERM: return "the sweep belongs to another user";
    case PQ_ESTOPPED: return "the sweep is paused or stopped";
    case PQ_EEMPTY: return "the ready queue is empty";
    case PQ_EAUTH: return "Redis authentication failed";
    case PQ_EDONE: return "the trial already has this claim's outcome";
    default: return "unknown error";
    }
}

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_STATUS_H */
