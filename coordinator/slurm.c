/*
 * slurm.c - whether the Slurm job behind a trial whose lease is due still
 * runs (--slurm), so that a job suspended or given a longer time limit
 * keeps its trial instead of losing it to a retry (refit.c, step 2).
 *
 * libslurm is loaded at run time (dlopen), as device.c loads the CUDA
 * module: proteind runs where Slurm is not installed (agents only, CI),
 * and links no Slurm library. The name tried is the soname of the
 * libslurm configure found (PROTEIN_LIBSLURM_SONAME), then libslurm.so;
 * a library is used only when its API (slurm_api_version) is the one
 * configure recorded, since job_info_t is read with this build's headers.
 * It is loaded RTLD_GLOBAL: the plugins it loads in turn (auth/munge,
 * hash/k12) take their symbols from it.
 *
 * Slurm 22.05 needs slurm_init before any call, and slurm_init ends the
 * process (fatal) when it finds no slurm.conf: it is tried first in a
 * child process, bounded in time, and only called here once the child
 * came through.
 *
 * The job table is read with one slurm_load_jobs per JOBS_MAX_AGE_MS at
 * most, only when some sweep has a trial due, and shared by every sweep.
 * A slurmctld that does not answer costs one call (up to twice its
 * MessageTimeout: 20 s by default), then none for NOANSWER_BACKOFF_MS,
 * doubling up to the grace while it stays silent: the callers keep due
 * trials for that grace meanwhile and then expire them as without
 * Slurm. That is said once, and once when slurmctld answers again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proteind.h"

#ifdef HAVE_SLURM_SLURM_H
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

/* The job table is read again when it is older than this. */
#define JOBS_MAX_AGE_MS 1000
/* After a call slurmctld did not answer, no call for this long, doubled
 * after each further one up to the grace (a hung slurmctld holds each
 * call for twice its MessageTimeout, and the refit loop with it). */
#define NOANSWER_BACKOFF_MS 30000
#define NOANSWER_BACKOFF_MAX_MS (PROTEIND_SLURM_GRACE_S * 1000)
/* How long slurm_init may take in the probe (a DNS lookup for configless
 * Slurm included). */
#define PROBE_TIMEOUT_MS 10000

typedef struct job_key {
    uint32_t job;  /* the array job id, or the job id */
    uint32_t task; /* the array task id, NO_VAL when not an array task */
    size_t index;  /* in the loaded job_info_msg_t */
} job_key;

static struct {
    void *lib;
    void (*init)(const char *);
    long (*api_version)(void);
    int (*load_jobs)(time_t, job_info_msg_t **, uint16_t);
    void (*free_jobs)(job_info_msg_t *);
    int (*get_errno)(void);
    char *(*strerror)(int);
    job_info_msg_t *jobs;
    job_key *keys; /* sorted by (job, task) */
    int64_t loaded_at;
    int64_t quiet_until; /* no call before this (ms): slurmctld silent */
    int64_t backoff_ms;  /* the next quiet time after an unanswered call */
    int said_silent;
} S;

/* Loads the library `name` and its calls into S; 0, or -1 with why. */
static int load_lib(const char *name, char *why, size_t len)
{
    long want_api = 0;

    S.lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!S.lib) {
        snprintf(why, len, "%s", dlerror());
        return -1;
    }
    *(void **)&S.init = dlsym(S.lib, "slurm_init");
    *(void **)&S.api_version = dlsym(S.lib, "slurm_api_version");
    *(void **)&S.load_jobs = dlsym(S.lib, "slurm_load_jobs");
    *(void **)&S.free_jobs = dlsym(S.lib, "slurm_free_job_info_msg");
    *(void **)&S.get_errno = dlsym(S.lib, "slurm_get_errno");
    *(void **)&S.strerror = dlsym(S.lib, "slurm_strerror");
    if (!S.init || !S.api_version || !S.load_jobs || !S.free_jobs ||
        !S.get_errno || !S.strerror) {
        snprintf(why, len, "%s lacks slurm_init or slurm_load_jobs", name);
        goto fail;
    }
#ifdef PROTEIN_LIBSLURM_API
    want_api = PROTEIN_LIBSLURM_API;
#endif
    if (want_api > 0 && (S.api_version() >> 16) != want_api) {
        snprintf(why, len,
                 "%s has Slurm API %ld, this proteind was built for API %ld "
                 "(rebuild it against the cluster's Slurm)",
                 name, S.api_version() >> 16, want_api);
        goto fail;
    }
    return 0;
fail:
    dlclose(S.lib);
    S.lib = NULL;
    return -1;
}

/* Keeps, of what Slurm wrote into text, the last line's message (past
 * "PROGRAM: fatal: " or "error: "), or says that it wrote nothing. */
static void last_words(char *text, size_t len)
{
    char *end = text + strlen(text), *line, *msg;

    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        *--end = '\0';
    line = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
    if ((msg = strstr(line, "fatal: ")) != NULL)
        line = msg + strlen("fatal: ");
    else if ((msg = strstr(line, "error: ")) != NULL)
        line = msg + strlen("error: ");
    memmove(text, line, strlen(line) + 1);
    if (!text[0])
        snprintf(text, len, "slurm_init failed");
}

/* Runs slurm_init in a child, which Slurm ends when it finds no config;
 * 0 when the child came through, else -1 with what it said in why. */
static int probe_init(char *why, size_t len)
{
    int fds[2], status = 0;
    size_t got = 0;
    int64_t until = proteind_now_ms() + PROBE_TIMEOUT_MS;
    pid_t pid;

    if (pipe(fds) != 0) {
        snprintf(why, len, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(why, len, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        S.init(NULL);
        _exit(0);
    }
    close(fds[1]);
    why[0] = '\0';
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t left = until - proteind_now_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            snprintf(why, len, "slurm_init took over %d ms", PROBE_TIMEOUT_MS);
            break;
        }
        n = read(fds[0], why + got, len - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        why[got] = '\0';
        if (got + 1 >= len)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    last_words(why, len);
    return -1;
}

/* Contract in proteind.h. */
int proteind_slurm_start(const char *mode, char *msg, size_t len)
{
    static const char *const names[] = {
#ifdef PROTEIN_LIBSLURM_SONAME
        PROTEIN_LIBSLURM_SONAME,
#endif
        "libslurm.so"};
    char why[512] = "";
    const char *name = NULL, *conf = getenv("SLURM_CONF");

    if (strcmp(mode, "off") == 0) {
        snprintf(msg, len, "off (--slurm off)");
        return 0;
    }
    /* slurm_init waits for a missing $SLURM_CONF to appear */
    if (conf && *conf && access(conf, R_OK) != 0)
        snprintf(why, sizeof why, "SLURM_CONF=%s: %s", conf, strerror(errno));
    for (size_t i = 0; !why[0] && i < sizeof names / sizeof names[0] && !S.lib;
         i++)
        if (load_lib(names[i], why, sizeof why) == 0)
            name = names[i];
    if (S.lib && probe_init(why, sizeof why) != 0) {
        dlclose(S.lib);
        S.lib = NULL;
    }
    if (!S.lib) {
        snprintf(msg, len, "%s (libslurm: %s)",
                 strcmp(mode, "on") == 0 ? "cannot be used" : "off", why);
        return strcmp(mode, "on") == 0 ? -1 : 0;
    }
    S.init(NULL);
    snprintf(msg, len, "on (%s): a job that still runs keeps its trial", name);
    return 1;
}

/* Contract in proteind.h. */
int proteind_slurm_on(void)
{
    return S.lib != NULL;
}

static int key_cmp(const void *a, const void *b)
{
    const job_key *x = a, *y = b;

    if (x->job != y->job)
        return x->job < y->job ? -1 : 1;
    if (x->task != y->task)
        return x->task < y->task ? -1 : 1;
    return 0;
}

/* Reads the job table when the last one is stale; 0 when one not older
 * than JOBS_MAX_AGE_MS is loaded, -1 when slurmctld did not answer now or
 * lately. */
static int load_jobs(void)
{
    int64_t now = proteind_now_ms();
    job_info_msg_t *jobs = NULL;
    job_key *keys;

    if (S.jobs && now - S.loaded_at < JOBS_MAX_AGE_MS)
        return 0;
    if (now < S.quiet_until)
        return -1;
    if (S.load_jobs(0, &jobs, SHOW_ALL) != 0) {
        int e = S.get_errno();

        if (!S.said_silent) {
            S.backoff_ms = NOANSWER_BACKOFF_MS;
            proteind_warn(
                "slurmctld does not answer (%s): trials whose lease is due "
                "are kept for up to %d s past it, then expired as without "
                "Slurm; asking again in %d s, then less and less often",
                S.strerror(e), PROTEIND_SLURM_GRACE_S,
                NOANSWER_BACKOFF_MS / 1000);
        }
        S.quiet_until = proteind_now_ms() + S.backoff_ms;
        S.backoff_ms = S.backoff_ms * 2 > NOANSWER_BACKOFF_MAX_MS
                           ? NOANSWER_BACKOFF_MAX_MS
                           : S.backoff_ms * 2;
        S.said_silent = 1;
        return -1;
    }
    keys = jobs->record_count ? calloc(jobs->record_count, sizeof *keys) : NULL;
    if (jobs->record_count && !keys) {
        S.free_jobs(jobs);
        return -1;
    }
    for (uint32_t i = 0; i < jobs->record_count; i++) {
        const slurm_job_info_t *j = &jobs->job_array[i];
        int array = j->array_task_id != NO_VAL && j->array_job_id != 0 &&
                    j->array_job_id != NO_VAL;

        keys[i].job = array ? j->array_job_id : j->job_id;
        keys[i].task = array ? j->array_task_id : NO_VAL;
        keys[i].index = i;
    }
    if (jobs->record_count)
        qsort(keys, jobs->record_count, sizeof *keys, key_cmp);
    if (S.said_silent)
        proteind_info("slurmctld answers again");
    S.said_silent = 0;
    if (S.jobs)
        S.free_jobs(S.jobs);
    free(S.keys);
    S.jobs = jobs;
    S.keys = keys;
    S.loaded_at = proteind_now_ms();
    return 0;
}

/* A whole number of up to 10 digits at *s into *v, *s moved past it; 0
 * when there is none or it is over UINT32_MAX - 2 (Slurm's NO_VAL). */
static int id_at(const char **s, uint32_t *v)
{
    unsigned long long x = 0;
    int n = 0;

    while (**s >= '0' && **s <= '9' && n < 11) {
        x = x * 10 + (unsigned long long)(**s - '0');
        (*s)++;
        n++;
    }
    if (n == 0 || n > 10 || x == 0 || x >= NO_VAL - 1)
        return 0;
    *v = (uint32_t)x;
    return 1;
}

/* The job the plugin's claim key names (plugin/claim.c
 * spank_protein_claim_key): "JOB" or "JOB.STEP" (a job's step), task
 * NO_VAL, or "ARRAYJOB_TASK"; 0 when key is none of these. */
static int parse_claim_key(const char *key, job_key *k)
{
    uint32_t step;

    k->task = NO_VAL;
    if (!id_at(&key, &k->job))
        return 0;
    if (*key == '_') {
        key++;
        if (!(*key >= '0' && *key <= '9'))
            return 0;
        if (*key == '0' && key[1] == '\0') {
            k->task = 0;
            return 1;
        }
        return id_at(&key, &k->task) && *key == '\0';
    }
    if (*key == '.') {
        key++;
        if (*key == '0' && key[1] == '\0')
            return 1;
        return id_at(&key, &step) && *key == '\0';
    }
    return *key == '\0';
}

/* Contract in proteind.h. */
int proteind_slurm_job(const char *claim_key, long uid_a, long uid_b,
                       char *state, size_t len)
{
    job_key want, *found;
    const slurm_job_info_t *j;
    uint32_t base;

    snprintf(state, len, "unknown to slurmctld");
    if (!S.lib || !parse_claim_key(claim_key, &want)) {
        snprintf(state, len, "not a Slurm job's claim");
        return PROTEIND_JOB_ENDED;
    }
    if (load_jobs() != 0)
        return PROTEIND_JOB_NOANSWER;
    found = S.jobs->record_count ? bsearch(&want, S.keys, S.jobs->record_count,
                                           sizeof *S.keys, key_cmp)
                                 : NULL;
    if (!found)
        return PROTEIND_JOB_ENDED;
    j = &S.jobs->job_array[found->index];
    base = j->job_state & JOB_STATE_BASE;
    snprintf(state, len, "%s",
             base == JOB_RUNNING     ? "RUNNING"
             : base == JOB_SUSPENDED ? "SUSPENDED"
             : base == JOB_PENDING   ? "PENDING"
                                     : "ended");
    if (base != JOB_RUNNING && base != JOB_SUSPENDED)
        return PROTEIND_JOB_ENDED;
    if ((long)j->user_id != uid_a && (long)j->user_id != uid_b) {
        snprintf(state, len,
                 "%s as uid %u, not the sweep's owner's or the "
                 "claim's",
                 base == JOB_RUNNING ? "RUNNING" : "SUSPENDED", j->user_id);
        return PROTEIND_JOB_ENDED;
    }
    return PROTEIND_JOB_RUNS;
}

#else /* no Slurm headers: proteind cannot read job_info_t */

/* Contract in proteind.h. */
int proteind_slurm_start(const char *mode, char *msg, size_t len)
{
    if (strcmp(mode, "on") == 0) {
        snprintf(msg, len,
                 "cannot be used: proteind was built without "
                 "Slurm's headers (libslurm-dev)");
        return -1;
    }
    snprintf(msg, len, "off (built without Slurm's headers)");
    return 0;
}

/* Contract in proteind.h. */
int proteind_slurm_on(void)
{
    return 0;
}

/* Contract in proteind.h. */
int proteind_slurm_job(const char *claim_key, long uid_a, long uid_b,
                       char *state, size_t len)
{
    (void)claim_key;
    (void)uid_a;
    (void)uid_b;
    snprintf(state, len, "no Slurm support");
    return PROTEIND_JOB_ENDED;
}

#endif
