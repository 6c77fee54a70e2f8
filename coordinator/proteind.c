/*
 * proteind.c - the coordinator daemon: options, signals, the Redis
 * connection and the loop that serves every sweep.
 *
 * One loop, one thread (slurm.c has its own, which only asks slurmctld):
 * discover sweeps, keep or take each sweep's leader
 * lease (leader.c), and give every held sweep a turn of its refit loop
 * (refit.c). A sweep with nothing left to coordinate is let go, and one
 * discovery no longer finds is forgotten, so that the served set holds
 * the sweeps that may need a coordinator, not every sweep ever seen. All
 * state lives in Redis; a lost connection drops every local sweep state,
 * and they are rebuilt from Redis once it is back.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proteind.h"
#include "protein_clock.h"

/* Reconnection backoff after Redis fails: doubles up to the maximum. */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
/* Backoff of one sweep whose keys or data fail: doubles up to the maximum
 * while the other sweeps go on being served. */
#define SWEEP_BACKOFF_MIN_MS 500
#define SWEEP_BACKOFF_MAX_MS 30000
/* The default --max-fit-obs: a refit of this many observations takes
 * about a second on one CPU core, or on a GPU; a sweep's owner can write
 * any number into its stream, and a fit of 50,000 needs 20 GB per matrix
 * (docs/benchmarks.md). */
#define DEFAULT_FIT_OBS_CPU 2000
#define DEFAULT_FIT_OBS_GPU 10000
/* Sweeps let go as finished that one discovery looks at again: an eighth
 * of them, so that each is looked at within 8 discoveries (16 s: a budget
 * raised is served again soon), but at least FINISHED_RECHECKS_MIN and at
 * most FINISHED_RECHECKS_MAX (a read each, about 35 us of Redis time: 0.5%
 * of it at most). */
#define FINISHED_RECHECKS_MIN 16
#define FINISHED_RECHECKS_MAX 256
/* Longest --id: the lease holder is the name, '#' and an 8-digit tag. */
#define ID_NAME_MAX 118

static volatile sig_atomic_t stop_signal;
static proteind_level log_level = PROTEIND_INFO;
/* stderr is the journal's stream (a systemd service): each line starts
 * with its syslog priority, <3> to <7>, which journald takes as the
 * line's priority (journalctl -p warning) and strips */
static int log_to_journal;

/* A sweep this process serves or stands by for. */
typedef struct served {
    proteind_lease lease;
    proteind_sweep *state; /* non-NULL while the lease is held */
    int dropped;           /* unusable config: skipped until it is listed
                              no more, or named in its owner's wake stream
                              (created anew) */
    int finished;          /* nothing left to coordinate: leaves the served
                              set after this pass (retire_finished) */
    int looked;            /* its demand was read before its first turn */
    int missing;           /* no such sweep (yet): skipped until it exists */
    int64_t retry_at;      /* after an error: not served before this */
    int64_t backoff_ms;    /* the next error's pause; 0 after a good turn */
} served;

typedef struct daemon_state {
    proteind_options opts;
    const protein_gp_backend *backend;
    pq_context *ctx;
    /* each allocated alone: a sweep's state keeps a pointer to its lease
     * while the array grows and its entries move */
    served **sweeps;
    size_t n_sweeps; /* sorted by name */
    /* The sweeps let go as finished that discovery still finds, sorted
     * malloc'ed names: not served again unless recheck_finished finds
     * them with work again. */
    char **finished;
    size_t n_finished;
    size_t recheck_next; /* where recheck_finished goes on */
    /* The wake streams of the owners of the finished and dropped sweeps,
     * sorted by owner (NULL, the sweeps without one, first), each owner
     * malloc'ed; wake_ms is the server's time at the last read, where a
     * stream read from the next discovery on starts. */
    pq_wake_stream *wakes;
    size_t n_wakes;
    int64_t wake_ms;
    int wakes_failing; /* logged that the last read failed (said once until
                          one works: another build's functions fail every
                          read) */
    /* sweeps found with nothing to coordinate at their first look in
     * this pass: one line says how many */
    size_t n_found_finished;
    size_t n_cut; /* users whose index was read in part (logged) */
    int said_own; /* logged that only the caller's own sweeps are served */
    int64_t next_discovery;
} daemon_state;

/* Contract in proteind.h. */
int64_t proteind_now_ms(void)
{
    return (int64_t)(protein_clock_seconds(CLOCK_MONOTONIC) * 1000.0);
}

/* Whether stderr is the stream systemd named in $JOURNAL_STREAM
 * ("DEVICE:INODE" of the stream it connected a service's stderr to):
 * one inherited by a program the service started is not. */
static int stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char end;

    return stream && sscanf(stream, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
           fstat(STDERR_FILENO, &st) == 0 &&
           (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

/* Contract in proteind.h. */
void proteind_log_level_set(proteind_level level)
{
    log_level = level;
    log_to_journal = stderr_is_journal();
}

/* Contract in proteind.h. */
void proteind_log_at(proteind_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"error: ", "warning: ", "", ""};
    static const char *const priorities[] = {"<3>", "<4>", "<6>", "<7>"};
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    va_list ap;

    if (level > log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* one line whole: slurm.c's thread logs too */
    flockfile(stderr);
    fprintf(stderr, "%s%s.%03ldZ proteind: %s",
            log_to_journal ? priorities[level] : "", stamp,
            ts.tv_nsec / 1000000, tags[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Contract in proteind.h. */
int proteind_stopping(void)
{
    return stop_signal != 0;
}

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* Sleeps ms milliseconds or until a stop signal arrives. */
static void nap(int64_t ms)
{
    if (ms <= 0 || proteind_stopping())
        return;
    protein_sleep_ms(ms > INT_MAX ? INT_MAX : (int)ms);
}

/* Output lines stay within 72 columns so that each is one source line. */
static const char usage_text[] =
    "Usage: proteind [OPTION]...\n"
    "The protein coordinator: refits each sweep's optimizer as observations\n"
    "arrive and keeps the sweep's ready queue filled. One proteind is\n"
    "active per sweep (a leader lease in Redis); others wait as standbys\n"
    "and take over.\n"
    "\n"
    "  --redis URL         Redis to use (default $PROTEIN_REDIS, else\n"
    "                      redis://127.0.0.1:6379)\n"
    "  --password-file F   read the Redis password from F (default\n"
    "                      $PROTEIN_REDIS_PASSWORD_FILE, else\n"
    "                      $PROTEIN_REDIS_PASSWORD; else, when the URL\n"
    "                      names no user, your own identity from\n"
    "                      `protein admin add-user`, as protein uses it)\n"
    "  --device D          GP backend: auto (CUDA when usable, else CPU),\n"
    "                      cpu or cuda (fails when no CUDA device is\n"
    "                      usable); default auto. cuda, and auto where\n"
    "                      the NVIDIA driver counts a GPU, load the CUDA\n"
    "                      backend module: $PROTEIN_CUDA_MODULE, else\n"
    "                      the installed one (below, in a CUDA build)\n"
    "  --sweep NAME        serve only this sweep (repeatable; a bare NAME\n"
    "                      is your own, USER/NAME); default: every sweep\n"
    "                      that is not stopped, discovered as they appear\n"
    "  --queue-depth N     smallest ready queue per sweep (default 16); it\n"
    "                      grows to the sweep's running trials plus\n"
    "                      waiting claims\n"
    "  --lease-ttl MS      leader lease TTL, renewed every MS/3\n"
    "                      (default 5000)\n"
    "  --debounce MS       quiet time that ends a burst of observations\n"
    "                      before one refit (default 200)\n"
    "  --id ID             this coordinator's name in the lease (default\n"
    "                      HOST:PID); a random tag is added to it, so\n"
    "                      that two proteinds given one ID still hold\n"
    "                      each sweep one at a time\n"
    "  --max-fit-obs N     fit each sweep's GPs on at most N observations\n"
    "                      (its config's gp_max_obs when that is lower),\n"
    "                      so that no sweep's refit holds up the others\n"
    "                      for long; default 2000 on the CPU, 10000 on a\n"
    "                      GPU; 0: the config's gp_max_obs alone (whose 0\n"
    "                      means all)\n"
    "  --log-level LEVEL   error, warn, info or debug (default info): info\n"
    "                      logs each change of state (a sweep taken, let\n"
    "                      go or failed over, trials lost, Redis gone or\n"
    "                      back), warn only what failed, debug adds a\n"
    "                      line per refit, queue top-up and early stop\n"
    "  --slurm MODE        auto, on or off (default auto): before a\n"
    "                      trial's lease is expired, ask slurmctld whether\n"
    "                      its job still runs (RUNNING or SUSPENDED, as\n"
    "                      the sweep's owner or the claim's user) and if\n"
    "                      so renew the lease by the trial's lease\n"
    "                      instead; auto uses Slurm when libslurm loads\n"
    "                      and finds slurm.conf ($SLURM_CONF), on fails\n"
    "                      to start without it, off never asks\n"
    "  --once              fill each sweep's queue once, then exit\n"
    "  --blas-threads N    BLAS threads for CPU fits (default\n"
    "                      $PROTEIN_BLAS_THREADS, else OpenBLAS's own\n"
    "                      choice when OPENBLAS_NUM_THREADS or\n"
    "                      OMP_NUM_THREADS is set, else 1)\n"
    "  -h, --help          show this help and exit\n"
    "  -V, --version       show the version and exit\n"
    "\n"
    "Logs go to stderr, one line per event: time, level when error or\n"
    "warning, then what happened (with debug, a refit's line gives the\n"
    "sweep, observations, ms and backend). SIGTERM or SIGINT release the\n"
    "leases and exit 0.\n"
    "Exit status: 0 on a clean stop; 1 when it cannot run (--device cuda\n"
    "without a CUDA module that loads or a usable CUDA device; --slurm on\n"
    "without a libslurm that loads and initializes; a bad Redis\n"
    "URL or database; Redis refused the password, or wants one and none\n"
    "was given; --once without Redis); 2 on a bad option. Other Redis\n"
    "failures (refused connections, timeouts, a server loading or gone)\n"
    "are retried with backoff.\n";

static void usage(FILE *fp)
{
    fputs(usage_text, fp);
#ifdef HAVE_CUDA
    fprintf(fp, "CUDA backend module: %s\n", proteind_cuda_module_path());
#endif
}

/* Fills *out from --sweep `given` (see proteind_named_sweep). Returns 0,
 * or 2 after a message on stderr when given is not a sweep name. */
static int name_sweep(const char *given, proteind_named_sweep *out)
{
    char user[PQ_OWNER_MAX + 1];

    if (!pq_sweep_name_valid(given)) {
        fprintf(stderr,
                "proteind: --sweep: '%s' is not a valid sweep name (1-64 "
                "of A-Z a-z 0-9 . _ -, not starting with . or -, "
                "optionally after OWNER/)\n",
                given);
        return 2;
    }
    out->bare[0] = '\0';
    if (!strchr(given, '/') &&
        pq_user_name(getuid(), user, sizeof user) == PQ_OK &&
        pq_sweep_qualify(given, user, out->name, sizeof out->name) == PQ_OK)
        snprintf(out->bare, sizeof out->bare, "%s", given);
    else
        snprintf(out->name, sizeof out->name, "%s", given);
    return 0;
}

/* Parses a positive integer option; prints why and returns -1 when bad. */
static int parse_positive(const char *opt, const char *text, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v <= 0 || v > INT_MAX) {
        fprintf(stderr, "proteind: %s: '%s' is not a positive integer\n", opt,
                text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Parses --log-level's name into *out; prints why and returns -1 when it
 * names no level. */
static int parse_level(const char *text, proteind_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (proteind_level)i;
            return 0;
        }
    fprintf(stderr,
            "proteind: --log-level: '%s' is not a log level (error, warn, "
            "info or debug)\n",
            text);
    return -1;
}

/* A random tag that makes this process's lease holder its own: two
 * proteinds given one --id (a unit file copied to a second host), or two
 * containers with one hostname whose proteinds are both pid 1, would
 * otherwise each renew the other's lease as their own and both fill the
 * sweep's queue and append its grid. The clock and pid stand in when the
 * kernel gives no entropy. */
static uint32_t id_tag(void)
{
    uint32_t tag;

    if (getentropy(&tag, sizeof tag) == 0)
        return tag;
    return (uint32_t)proteind_now_ms() ^ ((uint32_t)getpid() << 16);
}

/* Fills opts from argv. Returns 0 to run, 1 when --help/--version was
 * handled, 2 on a usage error (message printed). */
static int parse_options(int argc, char **argv, proteind_options *opts)
{
    enum {
        OPT_REDIS = 256,
        OPT_PASSWORD_FILE,
        OPT_DEVICE,
        OPT_SWEEP,
        OPT_DEPTH,
        OPT_TTL,
        OPT_DEBOUNCE,
        OPT_ID,
        OPT_ONCE,
        OPT_BLAS_THREADS,
        OPT_MAX_FIT_OBS,
        OPT_LOG_LEVEL,
        OPT_SLURM
    };
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, OPT_REDIS},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"sweep", required_argument, NULL, OPT_SWEEP},
        {"queue-depth", required_argument, NULL, OPT_DEPTH},
        {"lease-ttl", required_argument, NULL, OPT_TTL},
        {"debounce", required_argument, NULL, OPT_DEBOUNCE},
        {"id", required_argument, NULL, OPT_ID},
        {"once", no_argument, NULL, OPT_ONCE},
        {"blas-threads", required_argument, NULL, OPT_BLAS_THREADS},
        {"max-fit-obs", required_argument, NULL, OPT_MAX_FIT_OBS},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"slurm", required_argument, NULL, OPT_SLURM},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char host[64] = "localhost";
    char name[ID_NAME_MAX + 1];
    const char *env_file;
    int c;

    memset(opts, 0, sizeof *opts);
    opts->device = "auto";
    opts->slurm = "auto";
    opts->queue_depth = 16;
    opts->lease_ttl_ms = 5000;
    opts->debounce_ms = 200;
    opts->max_fit_obs = -1; /* the backend's default, once it is known */
    opts->log_level = PROTEIND_INFO;
    /* Claims that find the queue empty are seen within one poll. */
    opts->poll_ms = 100;
    opts->discover_ms = 2000;
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "%s:%ld", host, (long)getpid());
    opts->sweeps = calloc((size_t)argc, sizeof *opts->sweeps);
    if (!opts->sweeps) {
        fprintf(stderr, "proteind: out of memory\n");
        return 2;
    }
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_REDIS: opts->redis_url = optarg; break;
        case OPT_PASSWORD_FILE: opts->password_file = optarg; break;
        case OPT_DEVICE:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "cpu") != 0 &&
                strcmp(optarg, "cuda") != 0) {
                fprintf(stderr,
                        "proteind: --device: unknown device '%s' (use auto, "
                        "cpu or cuda)\n",
                        optarg);
                return 2;
            }
            opts->device = optarg;
            break;
        case OPT_SLURM:
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "on") != 0 &&
                strcmp(optarg, "off") != 0) {
                fprintf(stderr,
                        "proteind: --slurm: '%s' is not auto, on or off\n",
                        optarg);
                return 2;
            }
            opts->slurm = optarg;
            break;
        case OPT_SWEEP:
            if (name_sweep(optarg, &opts->sweeps[opts->n_sweeps]) != 0)
                return 2;
            opts->n_sweeps++;
            break;
        case OPT_DEPTH:
            if (parse_positive("--queue-depth", optarg, &opts->queue_depth))
                return 2;
            break;
        case OPT_TTL:
            if (parse_positive("--lease-ttl", optarg, &opts->lease_ttl_ms))
                return 2;
            if (opts->lease_ttl_ms < 300) {
                fprintf(stderr,
                        "proteind: --lease-ttl: %d ms is too short "
                        "(at least 300)\n",
                        opts->lease_ttl_ms);
                return 2;
            }
            break;
        case OPT_DEBOUNCE:
            if (parse_positive("--debounce", optarg, &opts->debounce_ms))
                return 2;
            break;
        case OPT_ID:
            if (!*optarg || strlen(optarg) > ID_NAME_MAX) {
                fprintf(stderr, "proteind: --id: must be 1-%d characters\n",
                        ID_NAME_MAX);
                return 2;
            }
            snprintf(name, sizeof name, "%s", optarg);
            break;
        case OPT_ONCE: opts->once = 1; break;
        case OPT_BLAS_THREADS:
            if (parse_positive("--blas-threads", optarg, &opts->blas_threads))
                return 2;
            break;
        case OPT_MAX_FIT_OBS:
            if (strcmp(optarg, "0") == 0)
                opts->max_fit_obs = 0;
            else if (parse_positive("--max-fit-obs", optarg,
                                    &opts->max_fit_obs))
                return 2;
            break;
        case OPT_LOG_LEVEL:
            if (parse_level(optarg, &opts->log_level))
                return 2;
            break;
        case 'h': usage(stdout); return 1;
        case 'V':
            printf("proteind (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            return 1;
        default: fprintf(stderr, "Try 'proteind --help'.\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "proteind: unexpected argument '%s'\nTry 'proteind --help'.\n",
                argv[optind]);
        return 2;
    }
    /* as the protein command reads it (a systemd EnvironmentFile= may set
     * it for both) */
    env_file = getenv("PROTEIN_REDIS_PASSWORD_FILE");
    if (!opts->password_file && env_file && *env_file)
        opts->password_file = env_file;
    snprintf(opts->id, sizeof opts->id, "%s#%08" PRIx32, name, id_tag());
    /* Renewals must fit several loop turns into one TTL. */
    if (opts->poll_ms > opts->lease_ttl_ms / 4)
        opts->poll_ms = opts->lease_ttl_ms / 4;
    return 0;
}

/* Forgets the local state of one sweep (the lease is left to expire or
 * released by the caller). A model of thousands of observations is
 * hundreds of MB that glibc keeps in its arenas once freed: they go back
 * to the system, so that a long-lived proteind is as large as the sweeps
 * it serves now, not the largest it ever served. */
static void drop_state(served *sv)
{
    if (!sv->state)
        return;
    proteind_sweep_free(sv->state);
    sv->state = NULL;
#ifdef HAVE_MALLOC_TRIM
    malloc_trim(0);
#endif
}

static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether `name` is in names[0..n) (sorted), looked for from *at on: the
 * names looked for come in order too, so that one pass walks both. */
static int sorted_has(char *const *names, size_t n, size_t *at,
                      const char *name)
{
    while (*at < n && strcmp(names[*at], name) < 0)
        (*at)++;
    return *at < n && strcmp(names[*at], name) == 0;
}

/* Gives sv's lease up, frees its state, its name and sv itself. */
static void forget_served(daemon_state *d, served *sv)
{
    proteind_lease_release(d->ctx, &sv->lease, &d->opts);
    drop_state(sv);
    free(sv->lease.sweep);
    free(sv);
}

/* Makes the served set follow the sweeps discovery found: names (n
 * malloc'ed names, sorted, no repeats). Those not served yet are added,
 * unless they were let go as finished; those served are no longer
 * missing. When the discovery was complete (every sweep that exists is
 * in names), the served sweeps and the finished names it did not find
 * are forgotten: deleted, or out of the index. The served set stays
 * sorted by name; one pass over each list, as a user's index may hold
 * thousands of names. The strings of the names added are taken over
 * (NULL in names). Returns 0 or PQ_ENOMEM (nothing changed). */
static int sync_served(daemon_state *d, char **names, size_t n, int complete)
{
    size_t fresh = 0, i, j = 0, f = 0, k = 0, a;
    served **next, **added = NULL;

    for (i = 0; i < n; i++) {
        while (j < d->n_sweeps &&
               strcmp(d->sweeps[j]->lease.sweep, names[i]) < 0)
            j++;
        if ((j == d->n_sweeps ||
             strcmp(d->sweeps[j]->lease.sweep, names[i]) != 0) &&
            !sorted_has(d->finished, d->n_finished, &f, names[i]))
            fresh++;
    }
    next = malloc((d->n_sweeps + fresh + 1) * sizeof *next);
    if (fresh > 0)
        added = calloc(fresh, sizeof *added);
    for (a = 0; added && a < fresh; a++)
        if (!(added[a] = calloc(1, sizeof **added)))
            break;
    if (!next || a < fresh) {
        for (size_t x = 0; added && x < a; x++)
            free(added[x]);
        free(added);
        free(next);
        return PQ_ENOMEM;
    }
    if (complete) {
        for (f = 0, i = 0; f < d->n_finished; f++) {
            if (sorted_has(names, n, &i, d->finished[f]))
                d->finished[k++] = d->finished[f];
            else
                free(d->finished[f]);
        }
        d->n_finished = k;
    }
    for (i = 0, j = 0, f = 0, k = 0, a = 0; i < n || j < d->n_sweeps;) {
        int c = i == n ? -1
                : j == d->n_sweeps
                    ? 1
                    : strcmp(d->sweeps[j]->lease.sweep, names[i]);
        served *sv = c <= 0 ? d->sweeps[j++] : NULL;

        if (c < 0 && complete) {
            if (sv->lease.held)
                proteind_info("sweep %s: no longer listed (deleted?); no "
                              "longer serving it",
                              sv->lease.sweep);
            else
                proteind_debug("sweep %s: no longer listed; forgotten",
                               sv->lease.sweep);
            forget_served(d, sv);
        } else if (sv) {
            sv->missing = sv->missing && c < 0;
            next[k++] = sv;
        } else if (!sorted_has(d->finished, d->n_finished, &f, names[i])) {
            next[k] = added[a++];
            next[k++]->lease.sweep = names[i];
            names[i] = NULL;
        }
        i += c >= 0;
    }
    free(added);
    free(d->sweeps);
    d->sweeps = next;
    d->n_sweeps = k;
    return 0;
}

/* Looks at the finished sweep d->finished[at] again (one read), and
 * forgets its name when it is gone or has work again, so that discovery
 * serves it anew: a sweep deleted and created again between two
 * discoveries is listed all along, a spent sweep's budget may be raised
 * (protein budget), a spent sweep whose resumed trial is lost gets a
 * budget slot back, and a stopped sweep's trial resumed by a requeued
 * task (protein_claim) runs again, whose lease needs watching (a claim
 * wakes no proteind: this look is what finds it). Nothing else brings a
 * finished sweep back (stopped is final). Returns 1 when the name was
 * forgotten, 0 when it stays (a sweep that cannot be read stays finished),
 * PQ_EIO when Redis failed. */
static int recheck_one(daemon_state *d, size_t at)
{
    pq_demand_info di;
    int rc = pq_demand(d->ctx, d->finished[at], &di);

    if (rc == PQ_EIO)
        return rc;
    if ((rc == PQ_OK && proteind_nothing_left(&di)) ||
        (rc != PQ_OK && rc != PQ_ENOSWEEP))
        return 0;
    if (rc == PQ_OK)
        proteind_info("sweep %s: has trials to coordinate again "
                      "(created anew, its budget raised, a resumed "
                      "trial lost, or a stopped sweep's trial resumed by "
                      "a requeued task); serving it",
                      d->finished[at]);
    free(d->finished[at]);
    memmove(&d->finished[at], &d->finished[at + 1],
            (d->n_finished - at - 1) * sizeof *d->finished);
    d->n_finished--;
    return 1;
}

/* Looks at an eighth of the sweeps let go as finished (see
 * FINISHED_RECHECKS_MIN) in turn, with recheck_one: the safety net of the
 * wake streams (read_wakes), which a sweep's owner may damage. Returns
 * PQ_EIO when Redis failed, else PQ_OK. */
static int recheck_finished(daemon_state *d)
{
    size_t todo = d->n_finished / 8;

    if (todo < FINISHED_RECHECKS_MIN)
        todo = FINISHED_RECHECKS_MIN;
    if (todo > FINISHED_RECHECKS_MAX)
        todo = FINISHED_RECHECKS_MAX;
    if (todo > d->n_finished)
        todo = d->n_finished;

    for (size_t c = 0; c < todo && d->n_finished > 0; c++) {
        size_t at = d->recheck_next % d->n_finished;
        int rc = recheck_one(d, at);

        if (rc == PQ_EIO)
            return rc;
        d->recheck_next = rc == 1 ? at : at + 1;
    }
    return PQ_OK;
}

/* Orders wake streams by owner, NULL (the sweeps without one) first. */
static int wake_cmp(const void *a, const void *b)
{
    const char *x = ((const pq_wake_stream *)a)->owner;
    const char *y = ((const pq_wake_stream *)b)->owner;

    if (!x || !y)
        return (x != NULL) - (y != NULL);
    return strcmp(x, y);
}

/* wake_cmp for streams whose owner is still a sweep's name, "OWNER/NAME":
 * compared up to the '/'. */
static int owner_cmp(const void *a, const void *b)
{
    const char *x = ((const pq_wake_stream *)a)->owner;
    const char *y = ((const pq_wake_stream *)b)->owner;
    size_t nx, ny;
    int c;

    if (!x || !y)
        return (x != NULL) - (y != NULL);
    nx = strcspn(x, "/");
    ny = strcspn(y, "/");
    c = strncmp(x, y, nx < ny ? nx : ny);
    return c ? c : (nx > ny) - (nx < ny);
}

/* Sets streams[0..*n) to the wake streams of the owners of the finished
 * and dropped sweeps, each once, sorted, with the place d kept for each
 * (each owner malloc'ed). streams has room for one per such sweep. PQ_OK
 * or PQ_ENOMEM (*n then counts the owners allocated so far). */
static int wanted_wakes(const daemon_state *d, pq_wake_stream *streams,
                        size_t *n)
{
    size_t k = 0, u = 0;

    for (size_t i = 0; i < d->n_finished + d->n_sweeps; i++) {
        const char *name = i < d->n_finished
                               ? d->finished[i]
                               : d->sweeps[i - d->n_finished]->lease.sweep;
        const char *slash = strchr(name, '/');

        if (i >= d->n_finished && !d->sweeps[i - d->n_finished]->dropped)
            continue;
        /* the name itself for now, its owner (up to the '/') once unique */
        streams[k].owner = slash ? name : NULL;
        streams[k++].cursor[0] = '\0';
    }
    if (k > 1)
        qsort(streams, k, sizeof *streams, owner_cmp);
    for (size_t i = 0; i < k; i++) {
        const char *name = streams[i].owner;
        const pq_wake_stream *old;
        char *owner = NULL;

        if (i > 0 && owner_cmp(&streams[i - 1], &streams[i]) == 0)
            continue;
        if (name && !(owner = strndup(name, strcspn(name, "/")))) {
            *n = u;
            return PQ_ENOMEM;
        }
        streams[u] = (pq_wake_stream){owner, ""};
        old = d->n_wakes ? bsearch(&streams[u], d->wakes, d->n_wakes,
                                   sizeof *d->wakes, wake_cmp)
                         : NULL;
        if (old)
            memcpy(streams[u].cursor, old->cursor, sizeof old->cursor);
        u++;
    }
    *n = u;
    return PQ_OK;
}

static void wakes_free(pq_wake_stream *streams, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)streams[i].owner);
    free(streams);
}

/* Compares a sweep name with a served sweep's, for bsearch. */
static int served_cmp(const void *name, const void *sv)
{
    return strcmp(name, (*(served *const *)sv)->lease.sweep);
}

/* Acts on the sweeps named in names[0..n) (sorted, repeats possible) by
 * wake streams: a finished one is looked at again at once (recheck_one),
 * and a dropped one gets its turn again (after the backoff of its last
 * drop, so that wakes written by hand cost a config reading per backoff).
 * Returns PQ_EIO when Redis failed, else PQ_OK. */
static int act_on_wakes(daemon_state *d, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char **hit;
        served **sv;

        if (i > 0 && strcmp(names[i - 1], names[i]) == 0)
            continue;
        hit = d->n_finished ? bsearch(&names[i], d->finished, d->n_finished,
                                      sizeof *d->finished, names_cmp)
                            : NULL;
        if (hit && recheck_one(d, (size_t)(hit - d->finished)) == PQ_EIO)
            return PQ_EIO;
        sv = d->n_sweeps ? bsearch(names[i], d->sweeps, d->n_sweeps,
                                   sizeof *d->sweeps, served_cmp)
                         : NULL;
        if (sv && (*sv)->dropped) {
            proteind_info("sweep %s: named in its owner's wake stream "
                          "(created anew?); reading its config again",
                          names[i]);
            (*sv)->dropped = 0;
        }
    }
    return PQ_OK;
}

/* Reads the wake streams of the owners of the finished and dropped
 * sweeps (a stream new to this list from where the last read left the
 * server's time, so that a wake written since is read) and acts on the
 * sweeps they name (act_on_wakes): a sweep created or whose budget was
 * raised is served at this discovery, not at its turn of recheck_finished.
 * Each read is bounded (PQ_WAKE_ENTRIES_MAX per stream), and a name is
 * acted on once per discovery. Returns PQ_EIO when Redis failed, PQ_ENOMEM,
 * or PQ_OK (another failure is logged once until a read works: the
 * periodic recheck still works). */
static int read_wakes(daemon_state *d)
{
    size_t cap = d->n_finished + d->n_sweeps, n = 0, n_names = 0;
    pq_wake_stream *streams = calloc(cap ? cap : 1, sizeof *streams);
    char **names = NULL;
    int64_t server_ms = d->wake_ms;
    int rc = streams ? wanted_wakes(d, streams, &n) : PQ_ENOMEM;

    /* one call at least: the server's time starts the streams to come */
    for (size_t at = 0; rc == PQ_OK && (at < n || at == 0);
         at += PQ_WAKE_STREAMS_MAX) {
        size_t batch =
            n - at < PQ_WAKE_STREAMS_MAX ? n - at : PQ_WAKE_STREAMS_MAX;
        char **got = NULL, **grown;
        size_t n_got = 0;

        rc = pq_wakes_read(d->ctx, streams + at, batch, d->wake_ms, &server_ms,
                           &got, &n_got);
        if (rc != PQ_OK)
            break;
        if (n_got > 0) {
            grown = realloc(names, (n_names + n_got) * sizeof *names);
            if (!grown) {
                pq_strings_free(got, n_got);
                rc = PQ_ENOMEM;
                break;
            }
            names = grown;
            memcpy(names + n_names, got, n_got * sizeof *got);
            n_names += n_got;
        }
        free(got);
    }
    if (rc == PQ_OK) {
        d->wakes_failing = 0;
        wakes_free(d->wakes, d->n_wakes);
        d->wakes = streams;
        d->n_wakes = n;
        d->wake_ms = server_ms;
        if (n_names > 1)
            qsort(names, n_names, sizeof *names, names_cmp);
        rc = act_on_wakes(d, names, n_names);
    } else {
        if (rc != PQ_EIO && rc != PQ_ENOMEM && !d->wakes_failing)
            proteind_warn("cannot read the wake streams: %s (said once until "
                          "a read works; the sweeps let go are looked at "
                          "again in turn meanwhile)",
                          d->ctx->errstr);
        d->wakes_failing =
            d->wakes_failing || (rc != PQ_EIO && rc != PQ_ENOMEM);
        wakes_free(streams, n);
    }
    pq_strings_free(names, n_names);
    return rc == PQ_EIO || rc == PQ_ENOMEM ? rc : PQ_OK;
}

/* Moves the served sweeps marked finished out of the served set: each
 * one's name goes to the finished names (kept sorted, so that discovery
 * does not serve it again), the rest is freed. Run between passes. Out
 * of memory, they stay marked and are moved after a later pass. */
static void retire_finished(daemon_state *d)
{
    size_t m = 0, k = 0, i, j;
    char **grown;

    for (i = 0; i < d->n_sweeps; i++)
        m += d->sweeps[i]->finished;
    if (m == 0)
        return;
    grown = realloc(d->finished, (d->n_finished + m) * sizeof *grown);
    if (!grown)
        return;
    d->finished = grown;
    /* Merged from the back, so that nothing is overwritten before moved. */
    for (i = d->n_sweeps, j = d->n_finished, k = d->n_finished + m; i > 0;) {
        served *sv = d->sweeps[i - 1];

        if (!sv->finished)
            i--;
        else if (j > 0 && strcmp(grown[j - 1], sv->lease.sweep) > 0)
            grown[--k] = grown[--j];
        else {
            grown[--k] = sv->lease.sweep;
            sv->lease.sweep = NULL;
            i--;
        }
    }
    d->n_finished += m;
    for (i = 0, k = 0; i < d->n_sweeps; i++) {
        if (d->sweeps[i]->finished)
            forget_served(d, d->sweeps[i]);
        else
            d->sweeps[k++] = d->sweeps[i];
    }
    d->n_sweeps = k;
}

/* Adds the sweeps named with --sweep (once they exist), or every sweep in
 * Redis, to the served set, and forgets those that are gone (sync_served):
 * a named sweep that does not exist (any more) is looked up again on
 * every discovery, and served once it does. Sweeps let go as finished
 * are looked at again a few at a time (recheck_finished). */
static int discover(daemon_state *d)
{
    char **names = NULL, **cut = NULL;
    size_t n = 0, n_cut = 0, kept = 0;
    int rc = PQ_OK, complete = 1;

    if (d->opts.n_sweeps > 0) {
        names = calloc(d->opts.n_sweeps, sizeof *names);
        if (!names)
            return PQ_ENOMEM;
        for (size_t i = 0;
             i < d->opts.n_sweeps && rc != PQ_EIO && rc != PQ_ENOMEM; i++) {
            proteind_named_sweep *named = &d->opts.sweeps[i];
            const char *found = named->name;

            rc = pq_sweep_exists(d->ctx, found);
            if (rc == PQ_ENOSWEEP && named->bare[0] != '\0') {
                found = named->bare;
                rc = pq_sweep_exists(d->ctx, found);
            }
            if (rc == PQ_ENOSWEEP) {
                if (!named->said_missing)
                    proteind_info("sweep %s does not exist yet; serving it "
                                  "once it is created",
                                  named->name);
                named->said_missing = 1;
                rc = PQ_OK;
                continue;
            }
            if (rc == PQ_OK) {
                if ((names[n] = strdup(found)) != NULL)
                    n++;
                else
                    rc = PQ_ENOMEM;
            } else {
                /* which of its names is served is unknown: keep both */
                complete = 0;
                if (rc != PQ_EIO)
                    proteind_warn("sweep %s: cannot look it up: %s", found,
                                  d->ctx->errstr);
            }
        }
        /* The same sweep may be named twice (NAME and USER/NAME). */
        qsort(names, n, sizeof *names, names_cmp);
        for (size_t i = 1; i < n; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                free(names[i - 1]);
                names[i - 1] = NULL;
            }
    } else {
        char own[PQ_OWNER_MAX + 1];

        rc = pq_sweep_list(d->ctx, &names, &n, &cut, &n_cut);
        /* a person's own proteind: their Redis user reads their sweeps */
        if (rc == PQ_EPERM &&
            pq_user_name(getuid(), own, sizeof(own)) == PQ_OK) {
            if (!d->said_own)
                proteind_info("this Redis user may not list every user's "
                              "sweeps: serving %s's own (--sweep NAME "
                              "chooses)",
                              own);
            d->said_own = 1;
            rc = pq_sweep_list_owned(d->ctx, own, &names, &n);
        }
        if (rc != PQ_OK)
            return rc;
        if (n_cut != d->n_cut)
            for (size_t i = 0; i < n_cut; i++)
                proteind_warn("user %s's sweep index holds over %d entries: "
                              "only sweeps among its first %d are served",
                              cut[i], PQ_OWNER_INDEX_MAX, PQ_OWNER_INDEX_MAX);
        d->n_cut = n_cut;
        pq_strings_free(cut, n_cut);
    }
    for (size_t i = 0; i < n; i++)
        if (names[i])
            names[kept++] = names[i];
    if (rc != PQ_EIO && rc != PQ_ENOMEM) {
        int woken = read_wakes(d);

        if (woken == PQ_EIO ||
            (woken == PQ_OK && recheck_finished(d) == PQ_EIO))
            rc = PQ_EIO;
        else if (woken == PQ_ENOMEM ||
                 sync_served(d, names, kept, complete) != 0)
            rc = PQ_ENOMEM;
    }
    pq_strings_free(names, kept);
    return rc;
}

/* Drops every local sweep state after Redis failed: leases cannot be
 * renewed, so they are treated as lost and retaken once Redis is back. */
static void disconnect(daemon_state *d)
{
    /* a Redis back from an older snapshot may hold work (or another
     * config) for the sweeps let go or given up on: discovery looks at
     * each once more, and the wake streams are read from its time on */
    for (size_t i = 0; i < d->n_sweeps; i++) {
        drop_state(d->sweeps[i]);
        d->sweeps[i]->lease.held = 0;
        d->sweeps[i]->lease.renew_at = 0;
        d->sweeps[i]->dropped = 0;
    }
    pq_strings_free(d->finished, d->n_finished);
    d->finished = NULL;
    d->n_finished = 0;
    d->recheck_next = 0;
    wakes_free(d->wakes, d->n_wakes);
    d->wakes = NULL;
    d->n_wakes = 0;
    d->wake_ms = 0;
    pq_free(d->ctx);
    d->ctx = NULL;
}

/* Connects, retrying with backoff until it works or a stop signal comes
 * (with --once: a single attempt). Settings no retry can fix (pq_connect's
 * PQ_EINVAL and PQ_EAUTH: a bad URL or database, a password refused,
 * unreadable or missing) end the attempts with one line. Returns 0 when
 * connected, -1 when stopped or out of memory, -2 on such settings or when
 * --once could not connect. */
static int connect_redis(daemon_state *d)
{
    static char user[PQ_OWNER_MAX + 1], path[4096];
    pq_connect_options co = {0};
    int64_t backoff = BACKOFF_MIN_MS;
    int logged = 0;

    co.url = d->opts.redis_url;
    co.password_file = d->opts.password_file;
    /* a person's own proteind logs in as the protein command does */
    pq_own_credentials(&co, user, path, sizeof(path));
    while (!proteind_stopping()) {
        d->ctx = pq_connect(&co);
        if (!d->ctx) {
            proteind_error("out of memory connecting to Redis");
            return -1;
        }
        if (d->ctx->err == PQ_OK) {
            if (logged)
                proteind_info("Redis is back (%s)",
                              d->ctx->url ? d->ctx->url : "default URL");
            if (d->ctx->functions_stale)
                proteind_warn("%s", PQ_STALE_FUNCTIONS);
            return 0;
        }
        if (d->ctx->err == PQ_EINVAL || d->ctx->err == PQ_EAUTH) {
            proteind_error("cannot use Redis: %s", d->ctx->errstr);
            pq_free(d->ctx);
            d->ctx = NULL;
            return -2;
        }
        if (d->opts.once) {
            proteind_error("Redis unreachable: %s", d->ctx->errstr);
            pq_free(d->ctx);
            d->ctx = NULL;
            return -2;
        }
        proteind_warn("Redis unreachable: %s; retrying in %lld ms",
                      d->ctx->errstr, (long long)backoff);
        logged = 1;
        pq_free(d->ctx);
        d->ctx = NULL;
        nap(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return -1;
}

/* Sets sv's next turn at least its backoff from now, and doubles the
 * backoff for the next error in a row. */
static void back_off(served *sv)
{
    if (sv->backoff_ms < SWEEP_BACKOFF_MIN_MS)
        sv->backoff_ms = SWEEP_BACKOFF_MIN_MS;
    sv->retry_at = proteind_now_ms() + sv->backoff_ms;
    sv->backoff_ms = sv->backoff_ms * 2 > SWEEP_BACKOFF_MAX_MS
                         ? SWEEP_BACKOFF_MAX_MS
                         : sv->backoff_ms * 2;
}

/* Sets sweep sv aside after an error in its keys or data (not a lost
 * connection): logs it with the sweep's name, forgets its local state and
 * gives its lease up, so that claims stop waiting for it and a standby may
 * try, and serves it again after a backoff that doubles with each error in
 * a row. */
static void sweep_failed(daemon_state *d, served *sv, const char *what)
{
    if (sv->backoff_ms < SWEEP_BACKOFF_MIN_MS)
        sv->backoff_ms = SWEEP_BACKOFF_MIN_MS;
    proteind_warn("sweep %s: %s: %s; retrying in %lld ms", sv->lease.sweep,
                  what, d->ctx->errstr[0] ? d->ctx->errstr : "failed",
                  (long long)sv->backoff_ms);
    drop_state(sv);
    proteind_lease_release(d->ctx, &sv->lease, &d->opts);
    back_off(sv);
}

/* Lets sweep sv go, with nothing left to coordinate (stopped with no
 * trial running, or its budget spent): empties its ready queue, whose
 * points no claim will get (`protein show` would go on listing them; a
 * claim racing with this is refused by the server all the same, and
 * resumes and retries never take queued points), gives the lease up and
 * marks it for retire_finished. Returns PQ_EIO when the connection is
 * gone (the sweep is then let go on a later turn), else PQ_OK. */
static int let_go(daemon_state *d, served *sv)
{
    const char *name = sv->lease.sweep;
    long depth = 0;
    int rc = pq_queue_depth(d->ctx, name, &depth);

    if (rc == PQ_OK && depth > 0) {
        rc = pq_queue_replace(d->ctx, name, d->opts.id, NULL, 0);
        if (rc == PQ_OK)
            proteind_info("sweep %s: emptied its ready queue (%ld points "
                          "no trial will get)",
                          name, depth);
    }
    if (rc == PQ_EIO)
        return rc;
    if (rc != PQ_OK)
        proteind_warn("sweep %s: cannot empty its ready queue: %s", name,
                      d->ctx->errstr);
    proteind_lease_release(d->ctx, &sv->lease, &d->opts);
    drop_state(sv);
    sv->finished = 1;
    return PQ_OK;
}

/* Reads the demand of a sweep new to the served set (one read) and marks
 * it finished, without taking its lease, when it has nothing to
 * coordinate and an empty ready queue: at a start, the sweeps that
 * finished long ago cost a read each and are counted in one line
 * (n_found_finished), not a lease taken and given up and two lines each.
 * Any other answer leaves the sweep to its turn. Returns PQ_EIO when Redis
 * failed, else PQ_OK. */
static int first_look(daemon_state *d, served *sv)
{
    pq_demand_info di;
    int rc = pq_demand(d->ctx, sv->lease.sweep, &di);

    if (rc == PQ_EIO)
        return rc;
    sv->looked = 1;
    if (rc == PQ_OK && proteind_nothing_left(&di) && di.queue_depth == 0) {
        proteind_debug("sweep %s: nothing to coordinate (%s, no trial "
                       "running); not serving it",
                       sv->lease.sweep,
                       di.state == PQ_SWEEP_STOPPED ? "stopped"
                                                    : "its budget used");
        sv->finished = 1;
        d->n_found_finished++;
    }
    return PQ_OK;
}

/* One turn of one sweep: lease, then (when held) its refit loop. Returns
 * PQ_EIO when the connection is gone (every sweep is then dropped) and
 * PQ_OK otherwise: an error of this sweep alone sets it aside for a while
 * (sweep_failed) and the other sweeps go on. */
static int tick_sweep(daemon_state *d, served *sv, int wait_ms)
{
    int rc, held;

    if (!sv->looked && !sv->lease.held) {
        if (first_look(d, sv) == PQ_EIO)
            return PQ_EIO;
        if (sv->finished)
            return PQ_OK;
    }
    held = proteind_lease_tick(d->ctx, &sv->lease, &d->opts, proteind_now_ms());
    if (held == PQ_ENOSWEEP) {
        /* Said once, and looked up again after a backoff even when it is
         * listed: a name a person wrote into their own index by hand costs
         * a call now and then, not one per discovery. */
        if (sv->backoff_ms == 0)
            proteind_info("sweep %s: no such sweep (deleted?); waiting for it",
                          sv->lease.sweep);
        back_off(sv);
        sv->missing = 1;
        sv->lease.held = 0;
        drop_state(sv);
        return PQ_OK;
    }
    if (held == PQ_EIO)
        return held;
    if (held < 0) {
        sweep_failed(d, sv, "cannot take or renew its lease");
        return PQ_OK;
    }
    if (!held) {
        drop_state(sv);
        return PQ_OK;
    }
    if (!sv->state) {
        rc = proteind_sweep_open(d->ctx, &sv->lease, d->backend, &d->opts,
                                 &sv->state);
        if (rc == PQ_EIO)
            return rc;
        if (rc == PQ_ESTOPPED)
            return let_go(d, sv);
        if (rc == PQ_EINVAL) {
            /* Unusable config: leave the sweep to someone who can, until
             * it is created anew (read_wakes); the backoff bounds how often
             * wakes written by hand make it read again. */
            proteind_warn("sweep %s: giving up on this sweep until it is "
                          "created anew",
                          sv->lease.sweep);
            proteind_lease_release(d->ctx, &sv->lease, &d->opts);
            sv->dropped = 1;
            back_off(sv);
            return PQ_OK;
        }
        if (rc != PQ_OK) {
            sweep_failed(d, sv, "cannot rebuild it from Redis");
            return PQ_OK;
        }
    }
    rc = proteind_sweep_step(d->ctx, sv->state, wait_ms);
    if (rc == PQ_ESTATE) {
        /* The server says another coordinator holds the lease now, or the
         * sweep is a new one of the same name: built again while the
         * lease is ours. */
        sv->lease.renew_at = 0;
        drop_state(sv);
        return PQ_OK;
    }
    if (rc == PQ_EIO)
        return rc;
    if (rc != PQ_OK) {
        sweep_failed(d, sv, "serving it failed");
        return PQ_OK;
    }
    sv->backoff_ms = 0;
    if (proteind_sweep_done(sv->state))
        return let_go(d, sv);
    return PQ_OK;
}

/* Number of sweeps this process coordinates now. */
static size_t count_held(const daemon_state *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->n_sweeps; i++)
        n += d->sweeps[i]->state != NULL;
    return n;
}

/* Redis failed in a turn (PQ_EIO): drops the connection and pauses for
 * *backoff_ms, doubled for the next failure in a row. A Redis that
 * accepts connections but refuses the turn's writes (out of memory, a
 * read-only replica) would otherwise be reconnected to at once, for ever.
 * Returns 1 with --once, whose one pass has failed, else 0. */
static int redis_failed(daemon_state *d, int64_t *backoff_ms)
{
    if (d->opts.once) {
        proteind_error("Redis failed: %s", d->ctx->errstr);
        disconnect(d);
        return 1;
    }
    proteind_warn("Redis failed: %s; retrying in %lld ms", d->ctx->errstr,
                  (long long)*backoff_ms);
    disconnect(d);
    nap(*backoff_ms);
    *backoff_ms =
        *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
    return 0;
}

/* Renews the held leases that are due (each every lease TTL / 3). With
 * many busy sweeps one pass over them takes longer than a TTL (40 sweeps
 * refitting at 80 claims/s: 7.5 s against 5), and a lease renewed only on
 * its own sweep's turn lapsed every pass, sending claims to fallback
 * points meanwhile. Returns PQ_EIO when Redis failed, else PQ_OK: a lease
 * another coordinator took is noticed on its sweep's turn. */
static int renew_due_leases(daemon_state *d)
{
    int64_t now = proteind_now_ms();

    for (size_t i = 0; i < d->n_sweeps; i++) {
        served *sv = d->sweeps[i];

        if (!sv->state || !sv->lease.held || now < sv->lease.renew_at)
            continue;
        if (proteind_lease_tick(d->ctx, &sv->lease, &d->opts, now) == PQ_EIO)
            return PQ_EIO;
    }
    return PQ_OK;
}

/* Whether sweep sv gets a turn in the pass starting at now: not given up
 * or finished, not missing, not set aside after a failure. */
static int has_turn(const served *sv, int64_t now)
{
    return !sv->dropped && !sv->finished && !sv->missing && now >= sv->retry_at;
}

/* Whether sv's turn may serve it: held, or its lease to be tried for (one
 * that another coordinator holds is looked at again only later). */
static int may_serve(const served *sv, int64_t now)
{
    return has_turn(sv, now) && (sv->lease.held || now >= sv->lease.renew_at);
}

/* Serves sweeps until a stop signal (or one pass with --once). Returns
 * the exit status: 0, or 1 when the Redis settings cannot work
 * (connect_redis) or Redis failed during --once's pass. */
static int run(daemon_state *d)
{
    int64_t now, backoff_ms = BACKOFF_MIN_MS;
    size_t n_turns;
    int wait_ms, rc;

    while (!proteind_stopping()) {
        if (!d->ctx && connect_redis(d) != 0)
            return proteind_stopping() ? 0 : 1;
        now = proteind_now_ms();
        if (now >= d->next_discovery) {
            rc = discover(d);
            if (rc == PQ_EIO) {
                if (redis_failed(d, &backoff_ms))
                    return 1;
                continue;
            }
            if (rc != PQ_OK)
                proteind_warn(
                    "sweep discovery failed: %s; trying again in %d ms",
                    d->ctx->errstr[0] ? d->ctx->errstr : protein_strerror(rc),
                    d->opts.discover_ms);
            d->next_discovery = now + d->opts.discover_ms;
        }
        /* One sweep waits for observations in its read; several read
         * without waiting and the pass is paced below: a short blocking
         * read lasts up to 100 ms all the same (Redis checks blocked
         * clients' timeouts 10 times a second by default), so 40 idle
         * sweeps made a pass of 4 s. */
        n_turns = 0;
        for (size_t i = 0; i < d->n_sweeps; i++)
            n_turns += may_serve(d->sweeps[i], now);
        wait_ms = d->opts.once || n_turns > 1 ? 0 : d->opts.poll_ms;
        rc = PQ_OK;
        for (size_t i = 0; i < d->n_sweeps && rc == PQ_OK; i++) {
            if (!has_turn(d->sweeps[i], now))
                continue;
            rc = tick_sweep(d, d->sweeps[i], wait_ms);
            if (rc == PQ_OK)
                rc = renew_due_leases(d);
            if (proteind_stopping())
                break;
        }
        retire_finished(d);
        if (d->n_found_finished > 0)
            proteind_info("%zu sweep%s nothing to coordinate (budget used, or "
                          "stopped, and no trial running): not serving %s "
                          "(--log-level debug names each)",
                          d->n_found_finished,
                          d->n_found_finished == 1 ? " has" : "s have",
                          d->n_found_finished == 1 ? "it" : "them");
        d->n_found_finished = 0;
        if (rc == PQ_EIO) {
            if (redis_failed(d, &backoff_ms))
                return 1;
            continue;
        }
        backoff_ms = BACKOFF_MIN_MS;
        if (d->opts.once)
            return 0;
        /* No blocking read paced this pass (several sweeps, or none held):
         * a pass starts every poll_ms at most. */
        if ((wait_ms == 0 || count_held(d) == 0) &&
            proteind_now_ms() - now < d->opts.poll_ms)
            nap(d->opts.poll_ms - (proteind_now_ms() - now));
    }
    return 0;
}

int main(int argc, char **argv)
{
    daemon_state d;
    struct sigaction sa;
    char err[512] = "";
    char blas[160], kernels[160], slurm[640];
    int rc;

    /* first: it may run proteind again, with the kernels the CPU runs */
    protein_blas_kernels_check(argv);
    memset(&d, 0, sizeof d);
    rc = parse_options(argc, argv, &d.opts);
    if (rc != 0) {
        free(d.opts.sweeps);
        return rc == 1 ? 0 : 2;
    }
    proteind_log_level_set(d.opts.log_level);
    /* before the device is probed (seconds with CUDA): no retry fixes it */
    if (pq_url_check(d.opts.redis_url, err, sizeof err) != PQ_OK) {
        proteind_error("cannot use Redis: %s", err);
        free(d.opts.sweeps);
        return 1;
    }
    if (protein_blas_threads_choose(d.opts.blas_threads, blas, sizeof blas) <
        0) {
        fprintf(stderr, "proteind: %s\n", blas);
        free(d.opts.sweeps);
        return 2;
    }
    /* before the device is probed, and before the signal handlers:
     * slurm_init is tried in a forked child, which must not inherit the
     * threads and locks of a CUDA driver */
    if (proteind_slurm_start(d.opts.slurm, slurm, sizeof slurm) < 0) {
        proteind_error("--slurm on: Slurm %s", slurm);
        free(d.opts.sweeps);
        return 1;
    }
    d.backend = proteind_backend_select(d.opts.device, err, sizeof err);
    if (!d.backend) {
        proteind_error("%s", err);
        proteind_slurm_stop();
        free(d.opts.sweeps);
        return 1;
    }
    if (err[0] != '\0')
        proteind_info("device %s: fitting on the CPU: %s", d.opts.device, err);
    if (d.opts.max_fit_obs < 0)
        d.opts.max_fit_obs = strcmp(d.backend->name, "cpu") == 0
                                 ? DEFAULT_FIT_OBS_CPU
                                 : DEFAULT_FIT_OBS_GPU;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    protein_blas_describe(kernels, sizeof kernels);
    proteind_info("starting: id %s, device %s (backend %s), queue depth %d, "
                  "lease %d ms, debounce %d ms, fits of at most %d "
                  "observations (0: no cap), BLAS threads %s, %s, Slurm %s",
                  d.opts.id, d.opts.device, d.backend->name, d.opts.queue_depth,
                  d.opts.lease_ttl_ms, d.opts.debounce_ms, d.opts.max_fit_obs,
                  blas, kernels, slurm);

    rc = run(&d);

    proteind_slurm_stop();
    for (size_t i = 0; i < d.n_sweeps; i++)
        forget_served(&d, d.sweeps[i]);
    free(d.sweeps);
    pq_strings_free(d.finished, d.n_finished);
    wakes_free(d.wakes, d.n_wakes);
    pq_free(d.ctx);
    free(d.opts.sweeps);
    if (proteind_stopping())
        proteind_info("stopped by signal %d", (int)stop_signal);
    return rc;
}
