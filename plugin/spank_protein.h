/*
 * spank_protein.h - internal interface between the files of the SPANK
 * plugin spank_protein.so (not installed).
 *
 * The plugin is split by concern, as pyxis does:
 *   spank_protein.c  the slurm_spank_* entry points and the per-step state;
 *   args.c           plugstack.conf key=value arguments;
 *   options.c        the --sweep option and its submit-time checks;
 *   claim.c          the claim key and the claim + environment export;
 *   outcome.c        exit status + result -> completed/failed/interrupted;
 *   oom.c            out-of-memory kills counted by the step's cgroup;
 *   result_file.c    creating and safely reading $PROTEIN_RESULT.
 *
 * Every message starts with "protein: ". Only slurm_spank_* and the
 * SPANK_PLUGIN symbols leave the .so (spank_protein.map).
 */
#ifndef SPANK_PROTEIN_H
#define SPANK_PROTEIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <slurm/spank.h>

#include "protein_queue.h"

/* Longest accepted path (result_dir, password_file) and URL. */
#define SPANK_PROTEIN_PATH_MAX 1024
/* Result files larger than this are read from their last MiB only. */
#define SPANK_PROTEIN_RESULT_CAP (1024 * 1024)
/* Where outcomes that could not reach Redis wait (plugstack spool_dir). */
#define SPANK_PROTEIN_SPOOL_DIR "/var/spool/protein"
/* Fits "ARRAYJOBID_TASKID" and "JOBID.STEPID" with the NUL. */
#define SPANK_PROTEIN_CLAIM_KEY_MAX 32

/* ------------------------------------------------------------ args.c */

/* plugstack.conf arguments, e.g.
 *   optional spank_protein.so redis=redis://10.0.0.5:6379 claim_timeout=10 */
typedef struct spank_protein_config {
    char redis_url[SPANK_PROTEIN_PATH_MAX];     /* "" = queue default */
    char password_file[SPANK_PROTEIN_PATH_MAX]; /* "" = none */
    char result_dir[SPANK_PROTEIN_PATH_MAX];    /* "" = job's $TMPDIR, /tmp */
    int claim_timeout_s;    /* wait for a coordinator point; default 5 */
    int connect_timeout_ms; /* default 1000 */
    int command_timeout_ms; /* default 5000 */
    int lease_s;            /* 0 = time limit + margin, else the sweep's */
    int lease_margin_s;     /* added to the time limit; default 600 */
    int outcome_retry_s;    /* task exit retries this long; default 30 */
    char spool_dir[SPANK_PROTEIN_PATH_MAX]; /* default /var/spool/protein */
    int submit_check; /* 1: ask Redis about the sweep at submit */
    /* 1 (on_redis_down=requeue, the default): a batch step that cannot
     * reach Redis to claim asks slurmctld to requeue its job; 0: fails */
    int redis_down_requeue;
    int requeue_max; /* at most this many requeues of a job; default 5 */
    /* 1: the line's redis= was refused (empty, over-long, a URL protein
     * cannot use): a --sweep step claims nothing rather than reach
     * another Redis than the admin meant */
    int redis_refused;
} spank_protein_config;

/* Fills cfg with the defaults documented above. */
void spank_protein_config_defaults(spank_protein_config *cfg);

/* Parses the plugstack arguments av[0..ac-1] ("key=value") into cfg,
 * starting from the defaults. Returns 0, or -1 when any argument is an
 * unknown key, lacks '=', or has a bad value (not an integer, out of
 * range, relative or over-long path), with a message naming the first
 * such argument in err (errlen bytes). The good arguments are applied
 * either way (slurmstepd logs the bad ones and carries on). */
int spank_protein_args_parse(spank_protein_config *cfg, int ac, char **av,
                             char *err, size_t errlen);

/* Connection options for cfg (pointers into cfg; nothing to free): its
 * redis=, else PQ_DEFAULT_URL, never $PROTEIN_REDIS.
 * with_password_file: 0 leaves password_file out (submit hosts, where the
 * file is root's). extra_ms is added to the command timeout (a claim that
 * may wait on the server for a coordinator point). */
pq_connect_options
spank_protein_connect_options(const spank_protein_config *cfg,
                              int with_password_file, int extra_ms);

/* Checks that the password file at path (may be "": nothing to check) is
 * owned by root and not accessible to others. Returns 0 when it is (or
 * when it cannot be stat'ed: connecting reports that), -1 with a warning
 * for the slurmd log in msg otherwise. */
int spank_protein_password_file_check(const char *path, char *msg, size_t len);

/* ------------------------------------------------------------ options.c */

/* Registers --sweep=NAME (help text tagged [protein]). Returns 0 or -1
 * after logging why. */
int spank_protein_options_register(spank_t sp);

/* The --sweep value seen in this process, NULL when none. Owned by the
 * plugin; valid until spank_protein_options_clear(). */
const char *spank_protein_sweep(void);

/* The problem with a --sweep value received in remote context (where the
 * option callback must not fail), NULL when none. */
const char *spank_protein_sweep_error(void);

/* Forgets the --sweep value (the exit callback, and tests). */
void spank_protein_options_clear(void);

/* slurmstepd's batch step of `sbatch --export=NONE --sweep=NAME`: Slurm
 * passes the option only in the job's SPANK environment
 * (SPANK_PROTEIN_SWEEP_ENV), not in the variable it reads options from, so
 * the callback never ran. Takes the value from there, as the callback
 * would have (remote: a problem kept, never a failure). */
#define SPANK_PROTEIN_SWEEP_ENV "SLURM_SPANK__SLURM_SPANK_OPTION_protein_sweep"
void spank_protein_options_from_env(const char *value);

/* Submit-time check of the --sweep value (local and allocator context).
 * Returns 0 when the job may be submitted, -1 (after slurm_error with the
 * reason) for a malformed name or, when Redis answers, a sweep that does
 * not exist, is paused or stopped, or belongs to another uid and is not
 * shared. Unreachable Redis only logs a warning and returns 0. */
int spank_protein_sweep_check(const spank_protein_config *cfg,
                              const char *sweep, long uid);

/* Sets the plugstack configuration that the option callback uses for its
 * submit-time check (the callback has no argument for it). */
void spank_protein_options_use_config(const spank_protein_config *cfg);

/* ------------------------------------------------------------ claim.c */

/* Writes the idempotency key of a claim into buf (len bytes):
 *   array task (array_task_id != NO_VAL)  "ARRAYJOBID_TASKID"
 *   batch step of a plain job             "JOBID"
 *   any other step (srun, salloc)         "JOBID.STEPID"
 * Returns 0, or -1 when it does not fit. */
int spank_protein_claim_key(uint32_t job_id, uint32_t step_id,
                            uint32_t array_job_id, uint32_t array_task_id,
                            char *buf, size_t len);

/* A result file made by spank_protein_result_create. */
typedef struct spank_protein_result_file {
    char path[SPANK_PROTEIN_PATH_MAX + 128];
    int own_dir; /* its directory was made for this step alone */
} spank_protein_result_file;

/* What a step claimed, kept in slurmstepd from user_init to task_exit. */
typedef struct spank_protein_trial {
    pq_trial *trial; /* NULL when nothing was claimed */
    spank_protein_result_file result;
    char *banner; /* the line printed into the job's output */
} spank_protein_trial;

/* Who claims: the items of the step, read by the caller. */
typedef struct spank_protein_job {
    uint32_t job_id;
    uint32_t step_id;
    uint32_t array_job_id;
    uint32_t array_task_id; /* NO_VAL when not an array task */
    char *claim_token;      /* may be NULL; else PQ_TOKEN_LEN + 1 bytes that
                               get the claim's token as it is sent, kept
                               when the claim fails: the release of a claim
                               that timed out names it (pq_release) */
    uid_t uid;
    gid_t gid;
    const char *user;   /* the uid's login name when it is a valid
                           sweep owner (pq_user_name),
                           else NULL */
    const char *node;   /* may be NULL */
    const char *tmpdir; /* the job's $TMPDIR, may be NULL */
    int lease_s;        /* the trial's lease; 0: cfg's, else the sweep's */
} spank_protein_job;

/* Whether slurmctld has ended job_id for its time limit (its state is
 * TIMEOUT; asked with slurm_load_job, found in the slurmstepd that loaded
 * the plugin): a task killed then was killed by the limit. 0 when it has
 * not, or that cannot be learnt. */
int spank_protein_time_limit_reached(uint32_t job_id);

/* Whether slurmctld has cancelled, preempted, timed out or requeued job_id
 * (asked as spank_protein_time_limit_reached asks): a task SIGKILLed then
 * was killed by Slurm, whatever out-of-memory kills its step counted
 * before.
 * 0 when it has not, or that cannot be learnt. */
int spank_protein_job_ended_by_slurm(uint32_t job_id);

/* Whether an srun step of job_id ran out of memory: slurmctld's derived
 * exit code of the job (the highest of its srun steps') is Slurm's
 * out-of-memory code, which slurmstepd reports for a step whose memory
 * cgroup counted a kill (or that jobacct_gather killed for its memory).
 * While a numbered step is still listed, its code may be on its way
 * (srun returns before its step's end reaches slurmctld): asks again
 * after 20, 40, 80 ... ms, for up to wait_ms. 0 when none did, a later
 * srun step exited with a higher code, the job was requeued (the code
 * may be an earlier run's), or slurmctld cannot be asked (one RPC's
 * timeout: the job is asked first, its steps only once it answered). */
int spank_protein_srun_oom(uint32_t job_id, int wait_ms);

/* A batch step that could not reach Redis to claim (PQ_EIO: unreachable,
 * timed out, busy, loading) asks slurmctld to requeue its job job_id (an
 * array task's own id), through slurm_requeue found in the slurmstepd
 * that loaded the plugin: Slurm ends the step and holds the job a while
 * (about two minutes) before it runs again and claims then. Refuses, with
 * no RPC but the question, a job requeued cfg->requeue_max times already
 * (its restart_cnt: requeues of any cause), not a batch job, or one that
 * may not be requeued. Returns 0 with "requeued (N of MAX)" in note (len
 * bytes), or -1 with "not requeued: WHY" there. Nothing to free. */
int spank_protein_requeue(const spank_protein_config *cfg, uint32_t job_id,
                          char *note, size_t len);

/* The lease for a trial of job job_id: cfg->lease_s when set; else the
 * time the job has left by its time limit plus cfg->lease_margin_s (asked
 * of slurmctld through slurm_load_job, found in the slurmstepd that
 * loaded the plugin); 0 (the sweep's lease) when the job has no time
 * limit (INFINITE), one over 366 days, or it cannot be learnt. */
int spank_protein_lease_seconds(const spank_protein_config *cfg,
                                uint32_t job_id);

/* Creates the result file (spank_protein_result_create), then claims a
 * trial of `sweep` (a bare NAME is job->user's own: USER/NAME) for job
 * through ctx (connected by the caller with the claim wait added to its
 * command timeout) and exports the environment contract with
 * spank_setenv. On success fills *out (free with
 * spank_protein_trial_clear) and returns 0. On failure returns -1 with a
 * message for the job's output in err, having released what it took and
 * removed the result file: a result file that cannot be made spends no
 * trial; a trial claimed before a later step failed is recorded as
 * failed. */
int spank_protein_claim(spank_t sp, pq_context *ctx,
                        const spank_protein_config *cfg, const char *sweep,
                        const spank_protein_job *job, spank_protein_trial *out,
                        char *err, size_t errlen);

/* Writes the job-output message for a claim (or the connection before
 * it) that failed with rc on ctx: what went wrong with which sweep, and
 * what to do. */
void spank_protein_claim_error(const pq_context *ctx, int rc, const char *sweep,
                               char *err, size_t errlen);

/* Frees what spank_protein_claim stored and zeroes *t. */
void spank_protein_trial_clear(spank_protein_trial *t);

/* ------------------------------------------------------------ outcome.c */

typedef enum spank_protein_outcome_kind {
    SPANK_PROTEIN_COMPLETED,
    SPANK_PROTEIN_FAILED,
    SPANK_PROTEIN_INTERRUPTED
} spank_protein_outcome_kind;

typedef struct spank_protein_outcome {
    spank_protein_outcome_kind kind;
    int exit_status;  /* FAILED: the exit status (0 for "no result") */
    int signal;       /* INTERRUPTED: the signal number */
    double score;     /* COMPLETED */
    double cost;      /* COMPLETED: reported cost, else 1 */
    char reason[160]; /* FAILED/INTERRUPTED: for the trial's error field */
} spank_protein_outcome;

/* Merges the wait statuses of the tasks of one step into the status that
 * decides the trial: a signal beats a non-zero exit, which beats exit 0;
 * the first one wins among equals. Start with `merged` = 0. */
int spank_protein_status_merge(int merged, int status);

/* A trial killed (SIGTERM, SIGKILL) when its job reached its time limit
 * did not run out: out becomes FAILED, "killed at the job's time limit",
 * which the optimizer learns from, where an interrupt (scancel, a requeue)
 * it would skip. Other outcomes are left alone. */
void spank_protein_outcome_time_limit(spank_protein_outcome *out);

/* A trial whose task was killed by SIGKILL (itself, or a child the batch
 * shell reported as 137) in a step whose memory cgroup counted `kills` >
 * 0 out-of-memory kills ran out of memory: out becomes FAILED, "killed by
 * the out-of-memory killer", which the optimizer learns from, where a
 * rerun would run out again. Other outcomes, and kills == 0 (scancel
 * --signal=KILL), are left alone. */
void spank_protein_outcome_oom(spank_protein_outcome *out,
                               unsigned long long kills);

/* A failed batch step of a job whose srun step ran out of memory
 * (spank_protein_srun_oom): the usual `srun python train.py` inside the
 * batch script, where srun exits 1 for a task out of memory. out keeps
 * FAILED and its reason becomes "killed by the out-of-memory killer in
 * an srun step of the job, then " and the old reason. Other outcomes are
 * left alone. */
void spank_protein_outcome_srun_oom(spank_protein_outcome *out);

/* Decides a trial's outcome from a raw wait status and the parsed result
 * (NULL when there was none). A completed trial without a finite,
 * non-negative cost costs 1, as under `protein run`. result_problem, if
 * not NULL, says why no result could be read; it is added to the "no
 * result" reason. Never fails. */
void spank_protein_outcome_decide(int wait_status, const pq_result *result,
                                  const char *result_problem,
                                  spank_protein_outcome *out);

/* Applies rec (an outcome, or the release of an abandoned claim) through a
 * fresh connection made as root in slurmstepd (password_file readable).
 * A connection failure is retried with a doubling pause until
 * cfg->outcome_retry_s seconds after started (CLOCK_MONOTONIC seconds at
 * the start of task exit, so that the questions to slurmctld before it
 * count too; one try is always made); past that the record is written to
 * cfg->spool_dir for a later replay. Once Redis answered, up to 64 records
 * spooled earlier on this node are replayed on the same connection.
 * Returns 0 when recorded, 1 when spooled (a message said so), -1 after
 * logging (slurm_error) a message naming the sweep and trial. For a
 * release recorded (0), *released (may be NULL) receives what it did
 * (pq_spool_apply_try's: PQ_RELEASE_UNKNOWN when an earlier try got no
 * answer, as a frozen Redis may have run that one, which released it,
 * leaving nothing for the try that answered). */
int spank_protein_record(const spank_protein_config *cfg,
                         const pq_spool_record *rec, double started,
                         pq_released *released);

/* Records o for trial t with spank_protein_record (retry, then spool),
 * task exit having started at started. Returns 0, or -1 after logging a
 * message naming the sweep and trial. */
int spank_protein_outcome_report(const spank_protein_config *cfg,
                                 const pq_trial *t,
                                 const spank_protein_outcome *o,
                                 double started);

/* ------------------------------------------------------------ oom.c */

/* The out-of-memory kills counted so far in the memory cgroup of step
 * step_id of job job_id, found as Slurm's task/cgroup makes it (cgroup v1
 * or v2) from the cgroup of the calling process, which must be that
 * step's slurmstepd: proc_self is "/proc/self" (a test passes a directory
 * with "cgroup" and "mountinfo" files of its own). v1 adds the step's
 * memory.oom_control and each task_N's; v2 reads step_STEP/user's
 * memory.events. Reads are bounded and never block. Returns 0 with the
 * count in *kills and the step's cgroup directory in msg, or -1 with the
 * reason none was read in msg (no memory cgroup: no task/cgroup memory
 * enforcement, a kernel without the counter). Nothing to free. */
int spank_protein_oom_kills(const char *proc_self, uint32_t job_id,
                            uint32_t step_id, unsigned long long *kills,
                            char *msg, size_t msglen);

/* ------------------------------------------------------------ result_file.c */

/* Creates the result file of a claim, before the claim, as the job's
 * user (user_init) or as root giving it to uid:gid: an empty file, mode
 * 0600, named DIR/protein-UID/protein.KEY.RANDOM.result (16 random hex
 * digits, created with O_EXCL and O_NOFOLLOW), DIR being result_dir, else
 * an absolute tmpdir, else /tmp. DIR/protein-UID is made mode 0700 on
 * first use; an existing one must be a directory (not a symlink) owned by
 * uid, and loses any group or other permission. When it is not (another
 * user made it, or a symlink), the step makes DIR/protein-UID.XXXXXX
 * (own_dir = 1), so that no other user can make the job fail. Fills *out
 * and returns 0, or returns -1 with the reason in err and nothing left
 * behind. */
int spank_protein_result_create(const char *result_dir, const char *tmpdir,
                                const char *claim_key, uid_t uid, gid_t gid,
                                spank_protein_result_file *out, char *err,
                                size_t errlen);

/* Removes the result file at f->path if it is still there, and its
 * directory when f->own_dir (if empty). Does nothing for an empty path. */
void spank_protein_result_discard(const spank_protein_result_file *f);

/* Reads the result file at path safely (as root in slurmstepd): refuses a
 * symlink, anything but a regular file, and a file not owned by uid; reads
 * at most `cap` bytes (the last ones, from the start of a line, when the
 * file is larger). On success stores a malloc'ed, NUL-terminated buffer
 * in *text (caller frees) and its length in *len and returns 0 (with, for
 * a file larger than cap, a note in err for when the metric is not in what
 * was read); otherwise returns -1 with the reason in err. When
 * unlink_after is set the file is removed (through the same directory
 * handle) once read. */
int spank_protein_result_read(const char *path, uid_t uid, size_t cap,
                              int unlink_after, char **text, size_t *len,
                              char *err, size_t errlen);

#endif /* SPANK_PROTEIN_H */
