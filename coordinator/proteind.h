/*
 * proteind.h - internal interfaces of the coordinator daemon (not
 * installed). proteind.c holds main, options and signals; leader.c the
 * per-sweep leader leases; refit.c the refit loop of one sweep; device.c
 * the GP backend choice and the CUDA-to-CPU fallback.
 *
 * proteind is single-threaded: one loop serves every sweep.
 */
#ifndef PROTEIND_H
#define PROTEIND_H

#include <stddef.h>
#include <stdint.h>

#include "gp.h"
#include "protein.h"
#include "protein_queue.h"

/* A sweep named with --sweep: a bare NAME is the running user's own
 * (USER/NAME), as for the CLI and the plugin; failing that, the ownerless
 * sweep NAME, which the library lets a program create. */
typedef struct proteind_named_sweep {
    char name[PQ_SWEEP_NAME_MAX + 1]; /* USER/NAME for a bare NAME (NAME
                                         when the user's name is not an
                                         owner's), else as given */
    char bare[PQ_SWEEP_NAME_MAX + 1]; /* NAME when name is its USER/NAME,
                                         else "" */
    int said_missing;                 /* "does not exist yet" logged once */
} proteind_named_sweep;

/* How much proteind logs (--log-level): each level shows the lines of the
 * levels above it too. INFO, the default, is what an admin follows: state
 * changes (a sweep taken, let go, failed over, a trial lost, Redis gone and
 * back), one line each; DEBUG adds the lines of every refit, top-up and
 * early stop, about one per trial. */
typedef enum proteind_level {
    PROTEIND_ERROR, /* proteind cannot go on as asked (it exits) */
    PROTEIND_WARN,  /* something failed and is retried, or data skipped */
    PROTEIND_INFO,
    PROTEIND_DEBUG
} proteind_level;

/* Command-line settings, with the defaults of proteind_options_init. */
typedef struct proteind_options {
    const char *redis_url;     /* NULL: $PROTEIN_REDIS or the local default */
    const char *password_file; /* NULL: $PROTEIN_REDIS_PASSWORD or none */
    const char *device;        /* "auto", "cpu" or "cuda" */
    proteind_named_sweep *sweeps; /* the sweeps given with --sweep */
    size_t n_sweeps;              /* 0: serve every active sweep */
    int queue_depth;              /* ready suggestions kept per sweep */
    int lease_ttl_ms;             /* coordinator lease TTL */
    int debounce_ms;              /* quiet time that ends a burst */
    int poll_ms;                  /* bounded wait for new observations */
    int discover_ms;              /* how often to look for new sweeps */
    char id[128];                 /* the lease holder: NAME#TAG (--id) */
    int once;                     /* one pass over the sweeps, then exit */
    int blas_threads;             /* 0: $PROTEIN_BLAS_THREADS, else 1 */
    int max_fit_obs;              /* the most observations a fit uses
                                     (a config's gp_max_obs when lower);
                                     0: each config's gp_max_obs alone */
    proteind_level log_level;     /* --log-level */
    const char *slurm;            /* --slurm: "auto", "on" or "off" */
} proteind_options;

/* Milliseconds on the monotonic clock. */
int64_t proteind_now_ms(void);

/* Shows the lines of `level` and above from now on (PROTEIND_INFO until
 * called), and looks once whether stderr is the journal's stream
 * ($JOURNAL_STREAM, set by systemd). */
void proteind_log_level_set(proteind_level level);

/* Writes one line to stderr when `level` is shown: the level's syslog
 * priority (<3> to <7>) when stderr is the journal's stream, an ISO-8601
 * UTC time, "proteind:", "error: " or "warning: " for those levels, then
 * the printf-formatted message, one line whole whatever thread logs.
 * Use the macros below. */
void proteind_log_at(proteind_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define proteind_error(...) proteind_log_at(PROTEIND_ERROR, __VA_ARGS__)
#define proteind_warn(...) proteind_log_at(PROTEIND_WARN, __VA_ARGS__)
#define proteind_info(...) proteind_log_at(PROTEIND_INFO, __VA_ARGS__)
#define proteind_debug(...) proteind_log_at(PROTEIND_DEBUG, __VA_ARGS__)

/* Set by SIGTERM/SIGINT; the loops check it and wind down. */
int proteind_stopping(void);

/* ------------------------------------------------------------- slurm.c */

/* How long past its deadline a due trial is kept while slurmctld does not
 * answer (seconds; pq_expire_leases_after's grace). */
#define PROTEIND_SLURM_GRACE_S 300

/* Resolves --slurm: "off" loads nothing; "auto" and "on" load libslurm
 * (dlopen: the soname configure found, then libslurm.so, of the Slurm API
 * this build's headers describe) and run slurm_init, which is first tried
 * in a child process since Slurm ends a process that has no slurm.conf.
 * Returns 1 when Slurm is used, 0 when not ("off", or "auto" that could
 * not load or initialize it), -1 when "on" could not; msg (len bytes)
 * says which and why, for one log line. When Slurm is used, starts the
 * thread that asks slurmctld (proteind_slurm_stop ends it). Call once,
 * before any other thread. */
int proteind_slurm_start(const char *mode, char *msg, size_t len);

/* Ends the thread that asks slurmctld: joined when its call returns
 * within 2 s, else detached (a hung slurmctld; the process is ending)
 * with a warning. Nothing when Slurm is not used. Call once, from the
 * thread that called proteind_slurm_start, at exit. */
void proteind_slurm_stop(void);

/* 1 once proteind_slurm_start turned Slurm support on. */
int proteind_slurm_on(void);

/* What proteind_slurm_job says of a trial's job. */
enum {
    PROTEIND_JOB_RUNS = 1,    /* RUNNING or SUSPENDED, of a trusted uid */
    PROTEIND_JOB_ENDED = 0,   /* anything else: expire the trial */
    PROTEIND_JOB_UNKNOWN = -1 /* not known yet: slurmctld asked, or silent */
};

/* Whether the Slurm job that claim_key names (the plugin's "JOB",
 * "JOB.STEP" or "ARRAYJOB_TASK") still runs: RUNNING or SUSPENDED, as
 * uid_a or uid_b (the sweep's owner, the claim's uid; -1 matches none).
 * A key that is no Slurm job's, a job unknown to slurmctld, in any other
 * state or of another user is PROTEIND_JOB_ENDED. Never waits on
 * slurmctld: answers from what slurm.c's thread heard in the last 3 s,
 * else posts the job for that thread's next round (at most one a
 * second; after one slurmctld did not answer, none for 30 s, doubling up
 * to PROTEIND_SLURM_GRACE_S while it stays silent; one warning) and
 * returns PROTEIND_JOB_UNKNOWN. state (len bytes) gets the job's state
 * in words, for a log line. Main thread only. */
int proteind_slurm_job(const char *claim_key, long uid_a, long uid_b,
                       char *state, size_t len);

/* ------------------------------------------------------------ device.c */

/* Resolves --device: "cpu", "cuda" (fails when no CUDA device can be
 * used) or "auto" (CUDA when usable, else CPU). CUDA is usable when this
 * build has it, the backend module loads (proteind_cuda_module_load), a
 * device is present and the kernels load on it; "auto" loads the module
 * only when the NVIDIA driver (libcuda.so.1) initializes and counts a
 * device, and otherwise leaves no CUDA library loaded. "cpu" loads
 * nothing. A
 * CUDA choice is wrapped so that a failing CUDA fit is redone on the CPU
 * backend with a log line. Returns the backend (static storage, never
 * freed) or NULL with a message in errbuf; when "auto" falls back to the
 * CPU, errbuf says why (else it is left empty). */
const protein_gp_backend *proteind_backend_select(const char *device,
                                                  char *errbuf, size_t errlen);

#ifdef HAVE_CUDA
struct protein_gp_cuda_module;

/* The CUDA backend module proteind loads: $PROTEIN_CUDA_MODULE when set
 * and not empty (the build tree's, for tests), else protein-gp-cuda.so in
 * the installed $(pkglibdir). Static or environment storage: not freed. */
const char *proteind_cuda_module_path(void);

/* Loads the module at path (dlopen, every symbol bound now) and returns
 * its description, or NULL with the reason in why (len bytes, always
 * terminated), naming path: it does not load (missing, a CUDA library or
 * a core function missing: dlerror's words), has no entry point, or is
 * refused by proteind_cuda_module_check. The module stays loaded for the
 * life of the process once returned (its backend's code is in use); a
 * refused one is closed again. */
const struct protein_gp_cuda_module *
proteind_cuda_module_load(const char *path, char *why, size_t len);

/* 1 when m (the description of the module at path) is of this build's ABI,
 * protein version and module interface (its fingerprint); else 0 with the
 * reason in why, naming path and both numbers, versions or fingerprints. */
int proteind_cuda_module_check(const struct protein_gp_cuda_module *m,
                               const char *path, char *why, size_t len);
#endif

/* Name of the backend that served the most recent fit ("cuda", "cpu", or
 * "cpu (cuda fallback)"); `chosen`'s name before any fit. */
const char *proteind_backend_last_used(const protein_gp_backend *chosen);

#ifdef PROTEIN_FAULT_INJECTION
/* Test builds only: the next `count` CUDA fits through the wrapper fail
 * with PROTEIN_EBACKEND ("injected fault: ...") after the device has run. */
void proteind_inject_cuda_fit_failures(int count);
#endif

/* ------------------------------------------------------------ leader.c */

/* The leader lease of one sweep, held or wanted. */
typedef struct proteind_lease {
    char *sweep;
    int held;         /* 1 while this process is the sweep's coordinator */
    int64_t renew_at; /* monotonic ms of the next renewal */
    int64_t expires;  /* monotonic ms when the lease lapses unless renewed */
} proteind_lease;

/* Tries to take or renew the lease when it is due. Returns 1 when this
 * process holds the lease after the call, 0 when another coordinator does
 * (standby), or a negative pq_error when Redis failed (ctx->errstr says
 * why; a held lease is then considered lost once it expires). */
int proteind_lease_tick(pq_context *ctx, proteind_lease *lease,
                        const proteind_options *opts, int64_t now);

/* Gives the lease up at once (best effort) so a standby takes over without
 * waiting for the TTL. */
void proteind_lease_release(pq_context *ctx, proteind_lease *lease,
                            const proteind_options *opts);

/* ------------------------------------------------------------ refit.c */

typedef struct proteind_sweep proteind_sweep;

/* Builds the coordinator state of the sweep lease->sweep from Redis alone:
 * loads the stored config (its gp_max_obs lowered to opts->max_fit_obs
 * when that is set and the config's is 0 or larger: logged), creates an
 * optimizer on `backend` and feeds it
 * every observation of the sweep's stream from its start. The state keeps
 * `lease` (which must outlive it and stay where it is) to renew it
 * during long refits. Returns PQ_ESTOPPED, logged, for a sweep with
 * nothing to coordinate (stopped with no trial running, or its budget
 * spent); on another failure a negative code, with the reason logged.
 * *out is NULL then.
 * Free the result with proteind_sweep_free. */
int proteind_sweep_open(pq_context *ctx, proteind_lease *lease,
                        const protein_gp_backend *backend,
                        const proteind_options *opts, proteind_sweep **out);

/* One turn of the refit loop for a held sweep: reads new observations
 * (waiting at most wait_ms for them), refits once a burst has been quiet
 * for the debounce time, replaces stale queued suggestions and tops the
 * ready queue up to the depth, expires trial leases and asks running
 * trials whose progress is worse than the early-stop threshold at the
 * cost they reported to stop. Returns 0, PQ_ESTATE when the lease was lost to
 * another coordinator or the sweep was deleted and created again since
 * the state was built (free it; build it anew while the lease is held),
 * or a negative pq_error when Redis failed (the state stays usable; call
 * again later). */
int proteind_sweep_step(pq_context *ctx, proteind_sweep *s, int wait_ms);

/* 1 when a sweep with this demand has nothing left to coordinate: it is
 * stopped and no trial runs (a running trial's lease must still be
 * expired when its task vanishes), or its budget is spent
 * (pq_budget_spent). Neither changes back, but for a resumed trial of a
 * spent sweep that is lost (its budget slot comes back). */
int proteind_nothing_left(const pq_demand_info *d);

/* 1 when the sweep has nothing left to coordinate (proteind_nothing_left
 * at its last turn) and the coordinator can let it go. */
int proteind_sweep_done(const proteind_sweep *s);

void proteind_sweep_free(proteind_sweep *s);

#endif /* PROTEIND_H */
