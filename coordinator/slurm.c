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
 * slurmctld is asked by one worker thread, the only one that calls
 * libslurm once slurm_init ran: the refit loop never waits on slurmctld.
 * proteind_slurm_job answers from what the worker last heard (an answer
 * is used for ANSWER_MAX_AGE_MS, and once more, however old within the
 * grace, if no one read it yet: a refit loop whose passes take longer
 * than ANSWER_MAX_AGE_MS, with many busy sweeps, would otherwise find
 * every answer stale and never learn a job's state) and otherwise posts
 * the job's key for the worker's next round and answers "not known yet":
 * the caller keeps that trial for the turn (the grace), and asks again in
 * a later one. A round starts at most once per ROUND_MIN_MS, only when
 * some key was asked, and asks about every key posted since the last,
 * shared by every sweep: one slurm_load_job per job id when they name
 * SINGLE_MAX or fewer (slurmctld packs only that job, or that array's
 * records), else one slurm_load_jobs for the whole table. A slurmctld
 * that does not answer holds the worker's call (up to twice its
 * MessageTimeout: 20 s by default), then no round for
 * NOANSWER_BACKOFF_MS, doubling up to the grace while it stays silent:
 * the callers keep due trials for that grace meanwhile and then expire
 * them as without Slurm. That is said once, and once when slurmctld
 * answers again. proteind's exit waits STOP_WAIT_MS at most for a call in
 * flight, then leaves the worker detached (the process ends; libslurm's
 * call with it).
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
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

/* A round of calls starts at most this often (ms). */
#define ROUND_MIN_MS 1000
/* An answer is used for this long after the call that gave it began. */
#define ANSWER_MAX_AGE_MS 3000
/* An answer no one read yet is kept this long (the grace). */
#define UNREAD_MAX_AGE_MS (PROTEIND_SLURM_GRACE_S * 1000)
/* Up to this many distinct job ids in a round: one slurm_load_job each
 * (slurmctld packs that job, or that array's records); more: one
 * slurm_load_jobs for the whole table. */
#define SINGLE_MAX 16
/* Keys asked for one round at most; more wait for a later turn. */
#define ASKED_MAX 1024
/* Answers kept: ANSWER_MAX_AGE_MS holds at most 4 rounds' worth. */
#define ANSWERS_MAX (5 * ASKED_MAX)
/* After a round slurmctld did not answer, no round for this long,
 * doubled after each further one up to the grace (a hung slurmctld holds
 * each call for twice its MessageTimeout). */
#define NOANSWER_BACKOFF_MS 30000
#define NOANSWER_BACKOFF_MAX_MS (PROTEIND_SLURM_GRACE_S * 1000)
/* How long slurm_init may take in the probe (a DNS lookup for configless
 * Slurm included). */
#define PROBE_TIMEOUT_MS 10000
/* How long proteind's exit waits for the worker's call to return. */
#define STOP_WAIT_MS 2000

typedef struct job_key {
    uint32_t job;  /* the array job id, or the job id */
    uint32_t task; /* the array task id, NO_VAL when not an array task */
} job_key;

/* What slurmctld said of one job key. */
typedef struct answer {
    job_key key;
    int listed;    /* 0: not listed (ended past MinJobAge, or hidden) */
    uint32_t base; /* its state (JOB_STATE_BASE bits) when listed */
    uint32_t uid;  /* its user when listed */
    int64_t at;    /* when the call that said so began (ms) */
    int unread;    /* not yet used by proteind_slurm_job */
} answer;

/* Which thread owns what (no other sharing; checked by reading, since
 * proteind has no TSan build):
 *  - set by proteind_slurm_start before the worker starts, then only read
 *    by both threads: lib and the function pointers;
 *  - the main thread's alone: the fields under "main thread";
 *  - the worker's alone: every libslurm call after slurm_init, and the
 *    fields under "worker";
 *  - under lock, both threads: the fields under "shared". The main
 *    thread holds lock only to copy an answer or append a key, never
 *    across a call to slurmctld, so it never waits on slurmctld. */
static struct {
    void *lib;
    void (*init)(const char *);
    long (*api_version)(void);
    int (*load_jobs)(time_t, job_info_msg_t **, uint16_t);
    int (*load_job)(job_info_msg_t **, uint32_t, uint16_t);
    void (*free_jobs)(job_info_msg_t *);
    int (*get_errno)(void);
    char *(*strerror)(int);
    /* main thread */
    pthread_t thread;
    int started; /* the worker was started and not yet stopped */
    /* worker */
    int64_t backoff_ms;     /* the next quiet time after an unanswered round */
    int said_silent;        /* the warning is out; say when it answers */
    long n_single, n_table; /* calls made, for the line at exit */
    job_key round[ASKED_MAX];
    answer got[ASKED_MAX];
    answer merged[ANSWERS_MAX];
    /* shared */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a key was asked, or stop: the worker looks */
    pthread_cond_t over; /* the worker is done */
    job_key asked[ASKED_MAX];
    size_t n_asked;
    answer answers[ANSWERS_MAX]; /* sorted by key */
    size_t n_answers;
    int64_t next_round; /* no round before this (ms) */
    int stop, done;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

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
    *(void **)&S.load_job = dlsym(S.lib, "slurm_load_job");
    *(void **)&S.free_jobs = dlsym(S.lib, "slurm_free_job_info_msg");
    *(void **)&S.get_errno = dlsym(S.lib, "slurm_get_errno");
    *(void **)&S.strerror = dlsym(S.lib, "slurm_strerror");
    if (!S.init || !S.api_version || !S.load_jobs || !S.load_job ||
        !S.free_jobs || !S.get_errno || !S.strerror) {
        snprintf(why, len, "%s lacks slurm_init or slurm_load_job(s)", name);
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

static int key_cmp(const void *a, const void *b)
{
    const job_key *x = a, *y = b;

    if (x->job != y->job)
        return x->job < y->job ? -1 : 1;
    if (x->task != y->task)
        return x->task < y->task ? -1 : 1;
    return 0;
}

/* The claim key's job key of a record of slurmctld's: its array job and
 * task for an array task, else its job id and NO_VAL (an array's pending
 * tasks, in one record, are none of them). */
static job_key record_key(const slurm_job_info_t *j)
{
    int array = j->array_task_id != NO_VAL && j->array_job_id != 0 &&
                j->array_job_id != NO_VAL;
    job_key k = {array ? j->array_job_id : j->job_id,
                 array ? j->array_task_id : NO_VAL};

    return k;
}

/* A record of a reply, by its key. */
typedef struct record_at {
    job_key key; /* first: compared as a job_key by key_cmp */
    uint32_t index;
} record_at;

/* Into got[i], for each of the n keys, what jobs lists of it (a reply of
 * slurmctld; NULL: it lists none), as of at. 0, or -1 without memory. */
static int answer_from(const job_info_msg_t *jobs, const job_key *keys,
                       size_t n, answer *got, int64_t at)
{
    uint32_t count = jobs ? jobs->record_count : 0;
    record_at *index = count ? calloc(count, sizeof *index) : NULL;

    if (count && !index)
        return -1;
    for (uint32_t r = 0; r < count; r++) {
        index[r].key = record_key(&jobs->job_array[r]);
        index[r].index = r;
    }
    if (count)
        qsort(index, count, sizeof *index, key_cmp);
    for (size_t i = 0; i < n; i++) {
        const record_at *found =
            count ? bsearch(&keys[i], index, count, sizeof *index, key_cmp)
                  : NULL;
        const slurm_job_info_t *j =
            found ? &jobs->job_array[found->index] : NULL;

        got[i] = (answer){keys[i],
                          j != NULL,
                          j ? j->job_state & JOB_STATE_BASE : 0,
                          j ? j->user_id : 0,
                          at,
                          1};
    }
    free(index);
    return 0;
}

/* One round for the n distinct keys (sorted): one slurm_load_job per job
 * id when they name SINGLE_MAX job ids or fewer, else one
 * slurm_load_jobs. Fills got with the keys answered and returns how many
 * (the first ones); *silent is set when slurmctld did not answer (a call
 * failed other than for a job it does not know or shows no one), with
 * the error in *err. Worker thread only. */
static size_t ask_round(const job_key *keys, size_t n, answer *got, int *silent,
                        int *err)
{
    job_info_msg_t *jobs = NULL;
    size_t n_jobs = 0, done = 0;
    int64_t at = proteind_now_ms();

    *silent = 0;
    for (size_t i = 0; i < n; i++)
        n_jobs += i == 0 || keys[i].job != keys[i - 1].job;
    if (n_jobs > SINGLE_MAX) {
        S.n_table++;
        if (S.load_jobs(0, &jobs, SHOW_ALL) != 0) {
            *silent = 1;
            *err = S.get_errno();
            return 0;
        }
        done = answer_from(jobs, keys, n, got, at) == 0 ? n : 0;
        S.free_jobs(jobs);
        return done;
    }
    for (size_t i = 0; i < n; i = done) {
        size_t end = i;
        int rc;

        while (end < n && keys[end].job == keys[i].job)
            end++;
        S.n_single++;
        jobs = NULL;
        if (S.load_job(&jobs, keys[i].job, SHOW_ALL) != 0) {
            int e = S.get_errno();

            if (e != ESLURM_INVALID_JOB_ID && e != ESLURM_ACCESS_DENIED) {
                *silent = 1;
                *err = e;
                return done;
            }
            jobs = NULL;
        }
        rc = answer_from(jobs, keys + i, end - i, got + i, at);
        if (jobs)
            S.free_jobs(jobs);
        if (rc != 0)
            return done;
        done = end;
    }
    return done;
}
/* Merges the n answers of a round (sorted) into S.answers, the new one
 * of a key replacing the old, dropping those older than
 * ANSWER_MAX_AGE_MS unless still unread (then older than the grace).
 * Rounds start ROUND_MIN_MS apart at least, so the answers of 4 rounds
 * at most are that young; unread ones beyond ANSWERS_MAX are dropped,
 * and their keys asked about again. Worker thread, S.lock held. */
static void publish(const answer *got, size_t n, int64_t now)
{
    size_t i = 0, j = 0, m = 0;

    while (i < S.n_answers || j < n) {
        int c = i == S.n_answers ? 1
                : j == n         ? -1
                                 : key_cmp(&S.answers[i].key, &got[j].key);
        const answer *a = c < 0 ? &S.answers[i] : &got[j];

        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
        if (m < ANSWERS_MAX &&
            (now - a->at <= ANSWER_MAX_AGE_MS ||
             (a->unread && now - a->at <= UNREAD_MAX_AGE_MS)))
            S.merged[m++] = *a;
    }
    memcpy(S.answers, S.merged, m * sizeof *S.merged);
    S.n_answers = m;
}

/* The CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait on
 * S.wake and S.over (start_worker: a wall clock set back does not stretch
 * a wait). */
static struct timespec monotonic_in(int64_t ms)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Sorts the n keys and drops repeats; returns how many are left. */
static size_t unique_keys(job_key *keys, size_t n)
{
    size_t u = 0;

    qsort(keys, n, sizeof *keys, key_cmp);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || key_cmp(&keys[i], &keys[u - 1]) != 0)
            keys[u++] = keys[i];
    return u;
}

/* The worker: waits for keys asked (proteind_slurm_job), at most one
 * round per ROUND_MIN_MS, asks slurmctld about them (ask_round) and
 * publishes the answers. After a round slurmctld did not answer, waits
 * NOANSWER_BACKOFF_MS, doubling up to the grace; says so once, and once
 * when it answers again. Ends when S.stop is set. */
static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&S.lock);
    for (;;) {
        int64_t now = proteind_now_ms();
        size_t n, got;
        int silent = 0, err = 0;

        if (S.stop)
            break;
        if (S.n_asked == 0 || now < S.next_round) {
            struct timespec until =
                monotonic_in(S.n_asked == 0 ? 60000 : S.next_round - now);

            pthread_cond_timedwait(&S.wake, &S.lock, &until);
            continue;
        }
        n = S.n_asked;
        memcpy(S.round, S.asked, n * sizeof *S.asked);
        S.n_asked = 0;
        pthread_mutex_unlock(&S.lock);

        n = unique_keys(S.round, n);
        got = ask_round(S.round, n, S.got, &silent, &err);
        if (silent && !S.said_silent) {
            S.backoff_ms = NOANSWER_BACKOFF_MS;
            proteind_warn(
                "slurmctld does not answer (%s): trials whose lease is due "
                "are kept for up to %d s past it, then expired as without "
                "Slurm; asking again in %d s, then less and less often",
                S.strerror(err), PROTEIND_SLURM_GRACE_S,
                NOANSWER_BACKOFF_MS / 1000);
            S.said_silent = 1;
        } else if (!silent && S.said_silent) {
            proteind_info("slurmctld answers again");
            S.said_silent = 0;
        }

        pthread_mutex_lock(&S.lock);
        now = proteind_now_ms();
        if (got > 0)
            publish(S.got, got, now);
        if (silent) {
            S.next_round = now + S.backoff_ms;
            S.backoff_ms = S.backoff_ms * 2 > NOANSWER_BACKOFF_MAX_MS
                               ? NOANSWER_BACKOFF_MAX_MS
                               : S.backoff_ms * 2;
        } else {
            S.next_round = now + ROUND_MIN_MS;
        }
    }
    S.done = 1;
    pthread_cond_broadcast(&S.over);
    pthread_mutex_unlock(&S.lock);
    proteind_info("Slurm: %ld slurm_load_job and %ld slurm_load_jobs calls "
                  "made",
                  S.n_single, S.n_table);
    return NULL;
}

/* Starts the worker with every signal blocked in it, so that SIGTERM and
 * SIGINT reach the main thread. 0, or -1 with why. */
static int start_worker(char *why, size_t len)
{
    pthread_condattr_t attr;
    sigset_t all, old;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&S.wake, &attr);
    pthread_cond_init(&S.over, &attr);
    pthread_condattr_destroy(&attr);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&S.thread, NULL, worker, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(why, len, "cannot start a thread: %s", strerror(rc));
        return -1;
    }
    S.started = 1;
    return 0;
}

/* Contract in proteind.h. */
void proteind_slurm_stop(void)
{
    struct timespec until = monotonic_in(STOP_WAIT_MS);
    int done;

    if (!S.started)
        return;
    pthread_mutex_lock(&S.lock);
    S.stop = 1;
    pthread_cond_signal(&S.wake);
    while (!S.done &&
           pthread_cond_timedwait(&S.over, &S.lock, &until) != ETIMEDOUT)
        ;
    done = S.done;
    pthread_mutex_unlock(&S.lock);
    S.started = 0;
    if (done) {
        pthread_join(S.thread, NULL);
        return;
    }
    proteind_warn("slurmctld has not answered a call in %d s: exiting "
                  "without it",
                  STOP_WAIT_MS / 1000);
    pthread_detach(S.thread);
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
    if (start_worker(why, sizeof why) != 0) {
        snprintf(msg, len, "%s (%s)",
                 strcmp(mode, "on") == 0 ? "cannot be used" : "off", why);
        dlclose(S.lib);
        S.lib = NULL;
        return strcmp(mode, "on") == 0 ? -1 : 0;
    }
    snprintf(msg, len, "on (%s): a job that still runs keeps its trial", name);
    return 1;
}

/* Contract in proteind.h. */
int proteind_slurm_on(void)
{
    return S.lib != NULL;
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
    job_key want;
    answer a = {{0, 0}, 0, 0, 0, 0, 0};
    answer *found;
    int64_t age;
    const char *word;
    int known = 0;

    if (!S.lib || !parse_claim_key(claim_key, &want)) {
        snprintf(state, len, "not a Slurm job's claim");
        return PROTEIND_JOB_ENDED;
    }
    pthread_mutex_lock(&S.lock);
    found = S.n_answers ? bsearch(&want, S.answers, S.n_answers,
                                  sizeof *S.answers, key_cmp)
                        : NULL;
    age = found ? proteind_now_ms() - found->at : 0;
    if (found && (age <= ANSWER_MAX_AGE_MS ||
                  (found->unread && age <= UNREAD_MAX_AGE_MS))) {
        found->unread = 0;
        a = *found;
        known = 1;
    } else if (S.n_asked < ASKED_MAX) {
        S.asked[S.n_asked++] = want;
        pthread_cond_signal(&S.wake);
    }
    pthread_mutex_unlock(&S.lock);
    if (!known) {
        snprintf(state, len, "not known yet (slurmctld asked)");
        return PROTEIND_JOB_UNKNOWN;
    }
    if (!a.listed) {
        snprintf(state, len, "unknown to slurmctld");
        return PROTEIND_JOB_ENDED;
    }
    word = a.base == JOB_RUNNING     ? "RUNNING"
           : a.base == JOB_SUSPENDED ? "SUSPENDED"
           : a.base == JOB_PENDING   ? "PENDING"
                                     : "ended";
    snprintf(state, len, "%s", word);
    if (a.base != JOB_RUNNING && a.base != JOB_SUSPENDED)
        return PROTEIND_JOB_ENDED;
    if ((long)a.uid != uid_a && (long)a.uid != uid_b) {
        snprintf(state, len,
                 "%s as uid %u, not the sweep's owner's or the claim's", word,
                 a.uid);
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
void proteind_slurm_stop(void)
{
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
