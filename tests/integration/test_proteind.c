/*
 * test_proteind.c - the proteind daemon against a private redis-server.
 *
 * Each test creates its own sweep, runs real proteind processes on it
 * (--sweep NAME, short lease and debounce) and plays the workers through the
 * queue API: claim, complete, let a lease run out. Waits poll Redis with a
 * deadline; nothing depends on a timing being fast, only on it happening.
 * Skips (77) when redis-server is missing.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protein_queue.h"
#include "redis_harness.h"
#include "cunit_run.h"

#define LEASE_TTL "1000"
#define DEPTH 4

static redis_harness harness;
static pq_context *ctx;
static pid_t children[16]; /* proteinds started and not yet reaped */
static size_t n_children;
static char proteind_path[1024];
static char log_dir[256];

/* A sweep of two uniform parameters; two warm-up points, then the model.
 * The sweep's name is prepended. */
static const char *const sweep_yaml =
    "method: protein\n"
    "metric: {name: score, goal: maximize}\n"
    "seed: 7\n"
    "protein: {num_random_samples: 2, gp_training_iter: 10, "
    "suggestions_per_pareto: 32}\n"
    "parameters:\n"
    "  x: {distribution: uniform, min: -1, max: 1}\n"
    "  y: {distribution: uniform, min: -1, max: 1}\n";

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Starts proteind with the common options plus extra (NULL-terminated),
 * stderr to LOG_DIR/<log>.log. Returns the pid. */
static pid_t start_proteind(const char *log, const char *const *extra)
{
    const char *argv[32];
    char path[512];
    size_t n = 0;
    pid_t pid;

    argv[n++] = proteind_path;
    argv[n++] = "--redis";
    argv[n++] = harness.url;
    argv[n++] = "--device";
    argv[n++] = "cpu";
    argv[n++] = "--lease-ttl";
    argv[n++] = LEASE_TTL;
    argv[n++] = "--debounce";
    argv[n++] = "50";
    argv[n++] = "--queue-depth";
    argv[n++] = "4";
    /* the host's Slurm, if any, is none of these tests' business (extra
     * may say otherwise: the last --slurm counts) */
    argv[n++] = "--slurm";
    argv[n++] = "off";
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    snprintf(path, sizeof path, "%s/%s.log", log_dir, log);
    pid = fork();
    if (pid == 0) {
        if (!freopen(path, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(proteind_path, (char *const *)argv);
        _exit(127);
    }
    if (pid > 0 && n_children < sizeof children / sizeof children[0])
        children[n_children++] = pid;
    return pid;
}

/* Forgets a reaped child. */
static void forget(pid_t pid)
{
    for (size_t i = 0; i < n_children; i++)
        if (children[i] == pid)
            children[i] = children[--n_children];
}

static void kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    forget(pid);
}

/* Kills every proteind a (possibly failed) test left running. */
static void kill_children(void)
{
    while (n_children > 0)
        kill9(children[0]);
}

/* Waits for pid to exit (up to ms); returns its wait status or -1. */
static int wait_exit(pid_t pid, int ms)
{
    int64_t end = now_ms() + ms;
    int status;

    while (now_ms() < end) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            forget(pid);
            return status;
        }
        sleep_ms(20);
    }
    kill9(pid);
    return -1;
}

/* 1 when pid is still running; otherwise says how it ended. */
static int alive(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, WNOHANG) != pid)
        return 1;
    forget(pid);
    if (WIFSIGNALED(status))
        fprintf(stderr, "proteind %ld died of signal %d\n", (long)pid,
                WTERMSIG(status));
    else
        fprintf(stderr, "proteind %ld exited with %d\n", (long)pid,
                WEXITSTATUS(status));
    return 0;
}

/* Reads a whole log file into a malloc'ed string ("" when missing). */
static char *read_log(const char *log)
{
    char path[512];
    FILE *fp;
    char *buf = calloc(1, 65536);
    size_t n;

    snprintf(path, sizeof path, "%s/%s.log", log_dir, log);
    fp = fopen(path, "r");
    if (fp && buf) {
        n = fread(buf, 1, 65535, fp);
        buf[n] = '\0';
    }
    if (fp)
        fclose(fp);
    return buf;
}

/* Lines of log that contain needle (however long the log). */
static long count_log(const char *log, const char *needle)
{
    char path[512], line[1024];
    long n = 0;
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s.log", log_dir, log);
    if (!(fp = fopen(path, "r")))
        return 0;
    while (fgets(line, sizeof line, fp))
        n += strstr(line, needle) != NULL;
    fclose(fp);
    return n;
}

/* Polls until the log contains needle (1) or ms pass (0). */
static int wait_log(const char *log, const char *needle, int ms)
{
    int64_t end = now_ms() + ms;
    int found = 0;

    while (!found && now_ms() < end) {
        char *text = read_log(log);

        found = text && strstr(text, needle) != NULL;
        free(text);
        if (!found)
            sleep_ms(20);
    }
    return found;
}

/* The sweep's snapshot; the test fails (NULL) when it cannot be read. */
static pq_sweep_info *info_of(const char *sweep)
{
    pq_sweep_info *info = NULL;

    if (pq_sweep_get(ctx, sweep, &info) != PQ_OK)
        return NULL;
    return info;
}

/* Whether the lease holder `coordinator` is the proteind started with
 * --id name: name, '#' and its 8-digit random tag. */
static int held_by(const char *coordinator, const char *name)
{
    size_t n = strlen(name);

    return coordinator && strncmp(coordinator, name, n) == 0 &&
           coordinator[n] == '#' && strlen(coordinator + n + 1) == 8 &&
           strspn(coordinator + n + 1, "0123456789abcdef") == 8;
}

/* Polls until the sweep's ready queue holds at least `depth` points (it
 * grows past --queue-depth with the claim rate) and, when holder is
 * non-NULL, that coordinator holds the lease. */
static int wait_queue(const char *sweep, long depth, const char *holder, int ms)
{
    int64_t end = now_ms() + ms;
    pq_sweep_info *info;
    int ok = 0;

    while (!ok && now_ms() < end) {
        info = info_of(sweep);
        ok = info && info->queue_depth >= depth &&
             (!holder || held_by(info->coordinator, holder));
        pq_sweep_info_free(info);
        if (!ok)
            sleep_ms(20);
    }
    return ok;
}

/* Polls until a refit is recorded that counted at least n successes, with
 * the queue full. proteind records a refit after it has replaced the
 * queue, so a full queue alone does not mean the record is there. */
static int wait_refit_n(const char *sweep, long n, int ms)
{
    int64_t end = now_ms() + ms;
    pq_sweep_info *info;
    int ok = 0;

    while (!ok && now_ms() < end) {
        info = info_of(sweep);
        ok = info && info->last_refit_at > 0 && info->last_refit_n >= n &&
             info->queue_depth >= DEPTH;
        pq_sweep_info_free(info);
        if (!ok)
            sleep_ms(20);
    }
    return ok;
}

/* Creates a sweep of sweep_yaml: max_trials 0 has no budget. */
static int create_budgeted(const char *name, int max_retries, long max_trials)
{
    pq_param p[2] = {{.name = "x", .number = 0}, {.name = "y", .number = 0}};
    pq_params fallback = {2, p};
    char yaml[1024];
    pq_sweep_spec spec = {
        .name = name,
        .config_yaml = yaml,
        .owner_uid = (long)getuid(),
        .max_trials = max_trials,
        .max_retries = max_retries,
        .fallback = &fallback,
        .n_fallback = 1,
    };

    snprintf(yaml, sizeof yaml, "name: %s\n%s", name, sweep_yaml);
    return pq_sweep_create(ctx, &spec);
}

static int create_sweep(const char *name, int max_retries)
{
    return create_budgeted(name, max_retries, 0);
}

static pq_trial *claim(const char *sweep, const char *key, int lease_s)
{
    pq_claim_request req = {
        .claim_key = key,
        .uid = (long)getuid(),
        .array_index = -1,
        .lease_seconds = lease_s,
        .wait_ms = 3000,
    };
    pq_trial *t = NULL;

    if (pq_claim(ctx, sweep, &req, &t) != PQ_OK)
        return NULL;
    return t;
}

/* Claims a trial and completes it with a score peaked at (0.3, -0.2). */
static int run_trial(const char *sweep, const char *key, long *id, char **json)
{
    pq_trial *t = claim(sweep, key, 60);
    double x = 0, y = 0, score;
    int rc;

    if (!t)
        return -1;
    for (size_t i = 0; i < t->params.n; i++) {
        if (strcmp(t->params.items[i].name, "x") == 0)
            x = t->params.items[i].number;
        else
            y = t->params.items[i].number;
    }
    score = -((x - 0.3) * (x - 0.3) + (y + 0.2) * (y + 0.2));
    if (id)
        *id = t->id;
    if (json)
        pq_params_to_json(&t->params, json);
    rc = pq_complete(ctx, sweep, t->id, t->token, score, 10.0 + x);
    pq_trial_free(t);
    return rc;
}

static int suite_init(void)
{
    const char *builddir = getenv("top_builddir");
    pq_connect_options co = {0};

    snprintf(proteind_path, sizeof proteind_path, "%s/coordinator/proteind",
             builddir ? builddir : "..");
    snprintf(log_dir, sizeof log_dir, "%s/proteind-logs.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(log_dir))
        return -1;
    co.url = harness.url;
    ctx = pq_connect(&co);
    if (!ctx || ctx->err != PQ_OK) {
        fprintf(stderr, "pq_connect: %s\n", ctx ? ctx->errstr : "no memory");
        return -1;
    }
    return 0;
}

/* After each test: no proteind outlives it, whatever failed. */
static void test_teardown(void)
{
    kill_children();
}

static int suite_clean(void)
{
    char cmd[600];

    pq_free(ctx);
    if (CU_get_number_of_failures() > 0) {
        /* The daemons' own story of what went wrong, for test-suite.log. */
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s'/*.log >&2", log_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(no proteind logs)\n");
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", log_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ tests */

static void test_usage(void)
{
    char cmd[1400];

    snprintf(cmd, sizeof cmd, "'%s' --help | grep -q -- --queue-depth",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' --version | grep -q '^proteind'",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' --bogus 2>/dev/null", proteind_path);
    CU_ASSERT_EQUAL(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' --queue-depth 0 2>/dev/null",
             proteind_path);
    CU_ASSERT_EQUAL(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' --max-fit-obs -1 2>/dev/null",
             proteind_path);
    CU_ASSERT_EQUAL(WEXITSTATUS(system(cmd)), 2);
    /* a typo in the unit file: exit 2, which systemd does not restart */
    snprintf(cmd, sizeof cmd,
             "'%s' --device tpu 2>&1 | grep -q 'unknown device'",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' --device tpu 2>/dev/null", proteind_path);
    CU_ASSERT_EQUAL(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' --help | grep -q -- '--log-level LEVEL'",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* under systemd, stderr the journal's stream ($JOURNAL_STREAM names
     * it): each line starts with its priority, which journald takes and
     * strips; another stream of the same name is not the journal's */
    snprintf(cmd, sizeof cmd,
             "f=$(mktemp) && exec 2>\"$f\" && JOURNAL_STREAM=$(stat -c %%d:%%i "
             "\"$f\") '%s' --once --redis redis://127.0.0.1:1; "
             "grep -q '^<3>[0-9T:.-]*Z proteind: error: ' \"$f\" && rm \"$f\"",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "f=$(mktemp) && exec 2>\"$f\" && JOURNAL_STREAM=1:1 '%s' --once "
             "--redis redis://127.0.0.1:1; grep -q '^[0-9T:.-]*Z proteind: "
             "error: ' \"$f\" && rm \"$f\"",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* a bad level: exit 2, naming the option and the levels */
    snprintf(cmd, sizeof cmd,
             "'%s' --log-level loud 2>&1 | grep -q \"^proteind: --log-level: "
             "'loud' is not a log level (error, warn, info or debug)$\"",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' --log-level loud 2>/dev/null",
             proteind_path);
    CU_ASSERT_EQUAL(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd,
             "'%s' --slurm maybe 2>&1 | grep -q \"^proteind: --slurm: "
             "'maybe' is not auto, on or off$\"",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    /* --slurm on where Slurm cannot be used (no slurm.conf; or no
     * libslurm, or a build without its headers): exit 1, saying why */
    snprintf(cmd, sizeof cmd,
             "SLURM_CONF=/nonexistent/slurm.conf '%s' --slurm on --once "
             "--redis redis://127.0.0.1:1 2>&1 | grep -q 'error: --slurm on: "
             "Slurm cannot be used'",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "SLURM_CONF=/nonexistent/slurm.conf '%s' --slurm on --once "
             "--redis redis://127.0.0.1:1 2>/dev/null",
             proteind_path);
    CU_ASSERT_EQUAL(WEXITSTATUS(system(cmd)), 1);
    /* Slurm is tried before the device: its probe forks, and the child
     * must not inherit a CUDA driver's threads, so an unusable Slurm is
     * what a start with both unusable reports */
    snprintf(cmd, sizeof cmd,
             "SLURM_CONF=/nonexistent/slurm.conf "
             "PROTEIN_CUDA_MODULE=/nonexistent/cuda.so '%s' --slurm on "
             "--device cuda --once --redis redis://127.0.0.1:1 2>&1 | "
             "grep -q 'error: --slurm on: Slurm cannot be used'",
             proteind_path);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* A new sweep, discovered while proteind runs, gets a full queue. */
static void test_fills_new_sweep(void)
{
    const char *extra[] = {"--id", "fill", NULL};
    pid_t pid = start_proteind("fill", extra);

    sleep_ms(200);
    CU_ASSERT_EQUAL_FATAL(create_sweep("fill", 0), PQ_OK);
    CU_ASSERT(wait_queue("fill", DEPTH, "fill", 10000));
    kill9(pid);
}

/* A person stuffs their own sweep index (their ACL lets them) with names
 * of sweeps that do not exist: a proteind serving every sweep reads only
 * the first PQ_OWNER_INDEX_MAX of them, says so, looks each up once and
 * then after a backoff (not once per discovery, every 2 s), and still
 * serves everyone else's sweeps. */
static void test_stuffed_index(void)
{
    const char *extra[] = {"--id", "stuff", NULL};
    pid_t pid;

    redis_harness_stuff_index(&harness, "stuffer", 12000);
    CU_ASSERT_EQUAL_FATAL(create_sweep("stuffok", 0), PQ_OK);
    pid = start_proteind("stuff", extra);
    CU_ASSERT(wait_queue("stuffok", DEPTH, "stuff", 20000));
    CU_ASSERT(wait_log(
        "stuff", "user stuffer's sweep index holds over 10000 entries", 10000));
    /* Two more discoveries (every 2 s) pass. */
    sleep_ms(4500);
    CU_ASSERT(alive(pid));
    CU_ASSERT_EQUAL(count_log("stuff", "stuffer/j000001: no such sweep"), 1);
    CU_ASSERT_EQUAL(count_log("stuff", "stuffer/j010001"), 0);
    CU_ASSERT_EQUAL(count_log("stuff", "index holds over"), 1);
    kill9(pid);
    redis_harness_stuff_index(&harness, "stuffer", 0);
}

/* A sweep that appears while another is held is served in name order,
 * before it: the held sweep's state, moved in the served set, renews its
 * own lease during its refits, not the lease of the sweep now in its old
 * place (here a stopped one, which proteind finds stopped with a read and
 * does not take) nor freed memory. The stopped sweep appears at once (its
 * meta key renamed back), so that proteind meets it stopped. */
static void test_sweep_inserted_before(void)
{
    const char *extra[] = {"--id",    "mover", "--sweep", "movez",
                           "--sweep", "movea", NULL};
    const char *hide[] = {"RENAME", "protein:{movea}:meta",
                          "protein:{movea}:hidden", NULL};
    const char *show[] = {"RENAME", "protein:{movea}:hidden",
                          "protein:{movea}:meta", NULL};
    char key[32];
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("movez", 0), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(create_sweep("movea", 0), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(
        pq_sweep_set_state(ctx, "movea", "stop", (long)getuid()), PQ_OK);
    free(redis_harness_cli(&harness, hide));
    pid = start_proteind("mover", extra);
    CU_ASSERT(wait_queue("movez", DEPTH, "mover", 20000));
    free(redis_harness_cli(&harness, show));
    CU_ASSERT(wait_log("mover", "1 sweep has nothing to coordinate", 20000));
    for (long i = 1; i <= 3; i++) {
        snprintf(key, sizeof key, "mv-%ld", i);
        CU_ASSERT_EQUAL(run_trial("movez", key, NULL, NULL), PQ_OK);
        CU_ASSERT(wait_refit_n("movez", i, 20000));
    }
    CU_ASSERT(alive(pid));
    CU_ASSERT_EQUAL(count_log("mover", "sweep movea: now the coordinator"), 0);
    CU_ASSERT_EQUAL(count_log("mover", "sweep movez: now the coordinator"), 1);
    CU_ASSERT_EQUAL(count_log("mover", "sweep movez: serving it failed"), 0);
    kill9(pid);
}

/* Writes n completed observations at random points of the (x, y) space
 * straight into sweep's stream, as a person may into their own sweep. */
static void fill_observations(const char *sweep, int n)
{
    char key[128], count[32];
    const char *fill[] = {
        "EVAL",
        "for i = 1, tonumber(ARGV[1]) do local x = math.random() * 2 - 1; "
        "local y = math.random() * 2 - 1; redis.call('XADD', KEYS[1], '*', "
        "'m', cmsgpack.pack({trial = i, outcome = 'completed', params = {x = "
        "x, y = y}, fallback = 0, score = -(x * x + y * y), cost = 1})) end "
        "return 1",
        "1",
        key,
        count,
        NULL};

    snprintf(key, sizeof(key), "protein:{%s}:observations", sweep);
    snprintf(count, sizeof(count), "%d", n);
    free(redis_harness_cli(&harness, fill));
}

/* A fit that outlasts the lease (3000 observations on the CPU take
 * seconds, the lease its shortest, 0.3 s; a person can write that many
 * into their own sweep's stream) still lands: proteind takes the lapsed
 * lease again and writes the batch, instead of throwing it away,
 * rebuilding the sweep and fitting again for ever. The log shows that the
 * lease lapsed, so that a machine fast enough to fit within the lease
 * fails the test instead of passing it untried. */
static void test_long_fit(void)
{
    const char *extra[] = {"--id",          "long",        "--sweep",
                           "longfit",       "--lease-ttl", "300",
                           "--max-fit-obs", "0",           NULL};
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("longfit", 0), PQ_OK);
    fill_observations("longfit", 3000);
    pid = start_proteind("long", extra);
    CU_ASSERT(wait_refit_n("longfit", 3000, 90000));
    CU_ASSERT(count_log("long", "sweep longfit: lease lapsed") >= 1);
    kill9(pid);
}

/* --max-fit-obs bounds what one sweep's refit costs a proteind that
 * serves many: 3000 observations written into a sweep's stream are fitted
 * on 200 of them, said in the log, and the lease never lapses. */
static void test_max_fit_obs(void)
{
    const char *extra[] = {"--id",          "cap", "--sweep", "capfit",
                           "--max-fit-obs", "200", NULL};
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("capfit", 0), PQ_OK);
    fill_observations("capfit", 3000);
    pid = start_proteind("cap", extra);
    CU_ASSERT(wait_refit_n("capfit", 3000, 30000));
    CU_ASSERT(wait_log("cap",
                       "sweep capfit: fitting at most 200 observations "
                       "(--max-fit-obs; its config says 0, 0 = no cap)",
                       1000));
    CU_ASSERT_EQUAL(count_log("cap", "lease lapsed"), 0);
    kill9(pid);
}

/* Observations make proteind refit (the refit info counts them) and
 * replace the queue: the points handed out after a refit are new. */
static void test_refit_replaces(void)
{
    const char *extra[] = {"--id", "refit", "--sweep", "refit", NULL};
    char *seen[12] = {0};
    char key[32];
    pq_sweep_info *info;
    double first_refit;
    pid_t pid;
    int k = 0;

    CU_ASSERT_EQUAL_FATAL(create_sweep("refit", 0), PQ_OK);
    pid = start_proteind("refit", extra);
    CU_ASSERT_FATAL(wait_queue("refit", DEPTH, "refit", 10000));
    CU_ASSERT_FATAL(wait_refit_n("refit", 0, 10000));
    info = info_of("refit");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    first_refit = info->last_refit_at;
    CU_ASSERT(first_refit > 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(info->last_refit_backend);
    CU_ASSERT_STRING_EQUAL(info->last_refit_backend, "cpu");
    pq_sweep_info_free(info);
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 2; i++, k++) {
            snprintf(key, sizeof key, "refit-%d", k);
            CU_ASSERT_EQUAL(run_trial("refit", key, NULL, &seen[k]), PQ_OK);
        }
        CU_ASSERT(wait_refit_n("refit", 2 * round, 10000));
    }
    info = info_of("refit");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT(info->last_refit_at > first_refit);
    CU_ASSERT_EQUAL(info->last_refit_n, 6);
    pq_sweep_info_free(info);
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            CU_ASSERT(seen[i] && seen[j] && strcmp(seen[i], seen[j]) != 0);
    for (int i = 0; i < k; i++)
        free(seen[i]);
    kill9(pid);
}

/* A stray entry in the observation stream (not protein's) is skipped
 * with a log line naming it; refits go on, and a restart that rereads the
 * whole stream skips it again. */
static void test_stray_observation(void)
{
    const char *extra[] = {"--id", "stray", "--sweep", "stray", NULL};
    const char *restart[] = {"--id", "stray2", "--sweep", "stray", NULL};
    const char *xadd[] = {
        "XADD", "protein:{stray}:observations", "*", "m", "\x01 not msgpack",
        NULL};
    char *log, *out;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("stray", 0), PQ_OK);
    pid = start_proteind("stray", extra);
    CU_ASSERT_FATAL(wait_queue("stray", DEPTH, "stray", 10000));
    out = redis_harness_cli(&harness, xadd);
    CU_ASSERT_PTR_NOT_NULL(out);
    free(out);
    CU_ASSERT_EQUAL(run_trial("stray", "stray-1", NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(run_trial("stray", "stray-2", NULL, NULL), PQ_OK);
    CU_ASSERT(wait_refit_n("stray", 2, 10000));
    kill9(pid);
    log = read_log("stray");
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "sweep stray: stream entry "));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(log, " skipped: not an observation written by protein"));
    free(log);

    pid = start_proteind("stray-restart", restart);
    CU_ASSERT(wait_log("stray-restart", "skipped: not an observation", 10000));
    CU_ASSERT(wait_log(
        "stray-restart",
        "sweep stray: rebuilt from Redis: 3 stream entries, 2 successes",
        10000));
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* A sweep whose stored config no longer parses is given up with a log
 * line naming the file's problem; the same proteind serves its other
 * sweep, and the broken sweep's tasks still get fallback points at once. */
static void test_broken_config(void)
{
    const char *extra[] = {"--id",    "cfg",     "--sweep", "cfgbad",
                           "--sweep", "cfggood", NULL};
    const char *set[] = {"SET", "protein:{cfgbad}:config",
                         "name: cfgbad\nparameters: [", NULL};
    pq_claim_request req = {.claim_key = "cfgbad-1",
                            .uid = (long)getuid(),
                            .array_index = -1,
                            .wait_ms = 5000};
    pq_trial *t = NULL;
    int64_t t0;
    char *log;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("cfgbad", 0), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(create_sweep("cfggood", 0), PQ_OK);
    free(redis_harness_cli(&harness, set));
    pid = start_proteind("cfg", extra);
    CU_ASSERT(wait_queue("cfggood", DEPTH, "cfg", 10000));
    sleep_ms(300);
    CU_ASSERT(alive(pid));
    log = read_log("cfg");
    CU_ASSERT_PTR_NOT_NULL(
        strstr(log, "sweep cfgbad: stored config rejected: "));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(log, "sweep cfgbad: giving up on this sweep"));
    free(log);
    t0 = now_ms();
    CU_ASSERT_EQUAL(pq_claim(ctx, "cfgbad", &req, &t), PQ_OK);
    CU_ASSERT(now_ms() - t0 < 2000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_TRUE(t->fallback);
    pq_trial_free(t);
    /* deleted and created anew with a usable config, at once (no discovery
     * sees it gone): served, not given up for good */
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "cfgbad", (long)getuid()), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(create_sweep("cfgbad", 0), PQ_OK);
    CU_ASSERT(wait_queue("cfgbad", DEPTH, "cfg", 10000));
    CU_ASSERT_EQUAL(
        count_log("cfg", "sweep cfgbad: named in its owner's wake stream"), 1);
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* A sweep deleted and created again with another space while proteind
 * serves it (named with --sweep: no discovery sees it gone), its lease
 * renewed in between: proteind
 * builds its model again, and every point claimed is a queued point of
 * the new space, none of the old one's queued by the old model. */
static void test_recreated_sweep_rebuilt(void)
{
    const char *extra[] = {"--id", "anew", "--sweep", "anew", NULL};
    const char *get[] = {"GET", "protein:{anew}:coordinator", NULL};
    const char *lease[] = {
        "SET", "protein:{anew}:coordinator", NULL, "PX", "10000", NULL};
    char *holder;
    pq_param z = {.name = "z", .number = 5.5};
    pq_params fallback = {1, &z};
    pq_sweep_spec spec = {
        .name = "anew",
        .config_yaml = "name: anew\n"
                       "method: protein\n"
                       "metric: {name: score, goal: maximize}\n"
                       "seed: 7\n"
                       "parameters:\n"
                       "  z: {distribution: uniform, min: 5, max: 6}\n",
        .owner_uid = (long)getuid(),
        .fallback = &fallback,
        .n_fallback = 1,
    };
    char key[32];
    pq_trial *t;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("anew", 0), PQ_OK);
    pid = start_proteind("anew", extra);
    CU_ASSERT(wait_queue("anew", DEPTH, "anew", 10000));
    holder = redis_harness_cli_line(&harness, get);
    CU_ASSERT_PTR_NOT_NULL_FATAL(holder);
    CU_ASSERT_PTR_NOT_NULL(strstr(holder, "anew"));
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "anew", (long)getuid()), PQ_OK);
    /* proteind renewed its lease between the delete and its next queue
     * write (which the delete's removal of the lease fails otherwise) */
    lease[2] = holder;
    free(redis_harness_cli(&harness, lease));
    free(holder);
    CU_ASSERT_EQUAL_FATAL(pq_sweep_create(ctx, &spec), PQ_OK);
    CU_ASSERT(wait_queue("anew", DEPTH, "anew", 10000));
    for (int i = 0; i < 2 * DEPTH; i++) {
        snprintf(key, sizeof key, "anew-%d", i);
        t = claim("anew", key, 60);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_FALSE(t->fallback);
        CU_ASSERT_EQUAL(t->params.n, 1);
        CU_ASSERT_STRING_EQUAL(t->params.items[0].name, "z");
        CU_ASSERT(t->params.items[0].number >= 5 &&
                  t->params.items[0].number <= 6);
        CU_ASSERT_EQUAL(pq_complete(ctx, "anew", t->id, t->token,
                                    t->params.items[0].number, 1.0),
                        PQ_OK);
        pq_trial_free(t);
    }
    /* Built once more: on seeing it created anew, or, when a turn fell
     * between the delete and the create (a loaded machine), on serving it
     * again after it was found missing. */
    CU_ASSERT_EQUAL(count_log("anew", "sweep anew: rebuilt from Redis"), 2);
    CU_ASSERT_EQUAL(
        count_log("anew",
                  "sweep anew: created anew since its model was built") +
            (count_log("anew", "serving it failed: no sweep 'anew'") > 0),
        1);
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* A sweep whose owner wrote a created_at that is no number ("nan") is
 * built once and served: it is no sweep created anew at every turn (NaN
 * differs from itself: proteind built it again at each turn, ten times a
 * second, with a line each, and never queued a point). */
static void test_created_at_nan(void)
{
    const char *extra[] = {"--id", "nanat", "--sweep", "nanat", NULL};
    const char *damage[] = {"HSET", "protein:{nanat}:meta", "created_at", "nan",
                            NULL};
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("nanat", 0), PQ_OK);
    free(redis_harness_cli(&harness, damage));
    pid = start_proteind("nanat", extra);
    CU_ASSERT(wait_queue("nanat", DEPTH, "nanat", 10000));
    sleep_ms(500);
    CU_ASSERT_EQUAL(count_log("nanat", "created anew since its model"), 0);
    CU_ASSERT_EQUAL(count_log("nanat", "sweep nanat: rebuilt from Redis"), 1);
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* Counts the lines of a log that contain needle. */
static int count_lines(const char *log, const char *needle)
{
    char *text = read_log(log), *line, *save = NULL;
    int n = 0;

    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        n += strstr(line, needle) != NULL;
    free(text);
    return n;
}

/* A sweep whose keys are broken (a wrong type where a sorted set belongs)
 * is logged with its name and retried with a backoff, not in a hot loop;
 * the sweep named after it is served all along, and the broken one is
 * served again once its keys are repaired. */
static void test_broken_keys(void)
{
    const char *extra[] = {"--id",    "keys",     "--sweep", "keysbad",
                           "--sweep", "keysgood", NULL};
    const char *breaks[] = {"SET", "protein:{keysbad}:leases", "x", NULL};
    const char *repair[] = {"DEL", "protein:{keysbad}:leases", NULL};
    long id;
    int errors;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("keysbad", 0), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(create_sweep("keysgood", 0), PQ_OK);
    free(redis_harness_cli(&harness, breaks));
    pid = start_proteind("keys", extra);
    CU_ASSERT(wait_queue("keysgood", DEPTH, "keys", 10000));
    CU_ASSERT(wait_log("keys",
                       "sweep keysbad: cannot rebuild it from Redis: ", 10000));
    CU_ASSERT(wait_log(
        "keys", "the type of key protein:{keysbad}:leases is 'string'", 100));
    CU_ASSERT_EQUAL(run_trial("keysgood", "keysgood-1", &id, NULL), PQ_OK);
    sleep_ms(3000);
    /* 500 ms doubling: about 3 attempts in 3 s, not thousands. */
    errors = count_lines("keys", "sweep keysbad: cannot rebuild");
    CU_ASSERT(errors >= 2 && errors <= 5);
    CU_ASSERT(wait_queue("keysgood", DEPTH, "keys", 5000));
    free(redis_harness_cli(&harness, repair));
    CU_ASSERT(wait_queue("keysbad", DEPTH, "keys", 20000));
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* A damaged n_trials (fifteen digits) in a random sweep: the restart's
 * skip over the points handed out stops at a bound, says so, and the
 * queue is filled, where it used to skip for years and ignore SIGTERM. */
static void test_damaged_n_trials(void)
{
    const char *extra[] = {"--id", "ntr", "--sweep", "ntrbad", NULL};
    const char *set_config[] = {
        "SET", "protein:{ntrbad}:config",
        "name: ntrbad\nmethod: random\nseed: 7\nparameters:\n"
        "  x: {distribution: uniform, min: -1, max: 1}\n"
        "  y: {distribution: uniform, min: -1, max: 1}\n",
        NULL};
    const char *set_n[] = {"HSET", "protein:{ntrbad}:meta", "n_trials",
                           "999999999999999", NULL};
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("ntrbad", 0), PQ_OK);
    free(redis_harness_cli(&harness, set_config));
    free(redis_harness_cli(&harness, set_n));
    pid = start_proteind("ntr", extra);
    CU_ASSERT(wait_queue("ntrbad", DEPTH, "ntr", 30000));
    CU_ASSERT(wait_log("ntr",
                       "sweep ntrbad: 999999999999999 trials handed out is "
                       "more than any sweep hands out",
                       100));
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* A sweep whose owner wrote a demand no array has (100,000 claims
 * waiting, no budget) into its own keys gets bounded batches, and the
 * sweep served after it gets its queue in the same few seconds; the
 * hostile sweep's demand used to become one batch of 100,000 suggestions
 * with as many pending points, which held proteind for good. */
static void test_hostile_demand(void)
{
    /* the batch sizes are read from the refit lines: debug */
    const char *extra[] = {"--id",        "hog",     "--sweep",
                           "aaahog",      "--sweep", "zzfair",
                           "--log-level", "debug",   NULL};
    const char *flood[] = {
        "EVAL",
        "for i = 1, 100000 do redis.call('ZADD', KEYS[1], 1e12, 'w' .. i) "
        "end",
        "1", "protein:{aaahog}:waiting", NULL};
    pq_sweep_info *info;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("aaahog", 0), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(create_sweep("zzfair", 0), PQ_OK);
    /* past the warm-up: its batches are the model's, not Sobol points */
    for (int i = 0; i < 4; i++) {
        char key[32];
        pq_trial *t;

        snprintf(key, sizeof key, "hog-%d", i);
        t = claim("aaahog", key, 60);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(pq_complete(ctx, "aaahog", t->id, t->token, 0.1 * i, 1),
                        PQ_OK);
        pq_trial_free(t);
    }
    free(redis_harness_cli(&harness, flood));
    pid = start_proteind("hog", extra);
    CU_ASSERT(wait_queue("zzfair", DEPTH, "hog", 10000));
    CU_ASSERT(wait_queue("aaahog", 256, "hog", 10000));
    sleep_ms(500);
    info = info_of("aaahog");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT(info->queue_depth <= 1024);
    pq_sweep_info_free(info);
    CU_ASSERT_EQUAL(count_log("hog", "fresh=1024 "), 0);
    CU_ASSERT(count_log("hog", "fresh=256 ") >= 1);
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* The ready queue follows demand: with 10 trials running it holds 10
 * points, not --queue-depth's 4; the fallback pool is topped up ahead of
 * its use. */
static void test_queue_follows_demand(void)
{
    const char *extra[] = {"--id", "dm", "--sweep", "demand", NULL};
    pq_trial *running[10];
    pq_sweep_info *info;
    char key[32];
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("demand", 0), PQ_OK);
    pid = start_proteind("demand", extra);
    CU_ASSERT_FATAL(wait_queue("demand", DEPTH, "dm", 10000));
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "demand-%d", i);
        running[i] = claim("demand", key, 60);
        CU_ASSERT_PTR_NOT_NULL(running[i]);
    }
    CU_ASSERT(wait_queue("demand", 10, "dm", 10000));
    /* by default a CPU proteind fits at most 2000 observations */
    CU_ASSERT_EQUAL(count_log("demand", "fits of at most 2000 observations"),
                    1);
    CU_ASSERT(count_log("demand", "sweep demand: fitting at most 2000 "
                                  "observations") >= 1);
    info = info_of("demand");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT(info->n_fallback > 512);
    pq_sweep_info_free(info);
    for (int i = 0; i < 10; i++) {
        if (running[i])
            CU_ASSERT_EQUAL(pq_complete(ctx, "demand", running[i]->id,
                                        running[i]->token, 0.5, 1),
                            PQ_OK);
        pq_trial_free(running[i]);
    }
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* kill -9 mid-sweep, restart: every observation is still counted, the
 * queue is refilled, and no trial (nor point) is handed out twice. */
static void test_kill9_restart(void)
{
    const char *extra1[] = {"--id", "k1", "--sweep", "restart", NULL};
    const char *extra2[] = {"--id", "k2", "--sweep", "restart", NULL};
    char *seen[10] = {0};
    long ids[10];
    char key[32];
    pq_sweep_info *info;
    pid_t pid;
    int k = 0;

    CU_ASSERT_EQUAL_FATAL(create_sweep("restart", 0), PQ_OK);
    pid = start_proteind("restart1", extra1);
    CU_ASSERT_FATAL(wait_queue("restart", DEPTH, "k1", 10000));
    for (; k < 3; k++) {
        snprintf(key, sizeof key, "restart-%d", k);
        CU_ASSERT_EQUAL(run_trial("restart", key, &ids[k], &seen[k]), PQ_OK);
    }
    kill9(pid);
    pid = start_proteind("restart2", extra2);
    CU_ASSERT(wait_queue("restart", DEPTH, "k2", 10000));
    CU_ASSERT(wait_refit_n("restart", 3, 10000));
    for (; k < 10; k++) {
        snprintf(key, sizeof key, "restart-%d", k);
        CU_ASSERT_EQUAL(run_trial("restart", key, &ids[k], &seen[k]), PQ_OK);
    }
    CU_ASSERT(alive(pid));
    info = info_of("restart");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_COMPLETED], 10);
    CU_ASSERT_EQUAL(info->n_trials, 10);
    pq_sweep_info_free(info);
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) {
            CU_ASSERT(ids[i] != ids[j]);
            CU_ASSERT(seen[i] && seen[j] && strcmp(seen[i], seen[j]) != 0);
        }
    for (int i = 0; i < k; i++)
        free(seen[i]);
    kill9(pid);
}

/* Two proteinds: exactly one holds the lease; after kill -9 of it the
 * other takes over within a few seconds. */
static void test_failover(void)
{
    const char *ea[] = {"--id", "fa", "--sweep", "failover", NULL};
    const char *eb[] = {"--id", "fb", "--sweep", "failover", NULL};
    pq_sweep_info *info;
    pid_t a, b, leader;
    const char *other;
    int64_t t0, took = -1;

    CU_ASSERT_EQUAL_FATAL(create_sweep("failover", 0), PQ_OK);
    a = start_proteind("failover-a", ea);
    b = start_proteind("failover-b", eb);
    CU_ASSERT_FATAL(wait_queue("failover", DEPTH, NULL, 10000));
    sleep_ms(1500); /* several renewals: the holder must stay the same */
    info = info_of("failover");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_PTR_NOT_NULL_FATAL(info->coordinator);
    CU_ASSERT(held_by(info->coordinator, "fa") ||
              held_by(info->coordinator, "fb"));
    leader = held_by(info->coordinator, "fa") ? a : b;
    other = leader == a ? "fb" : "fa";
    pq_sweep_info_free(info);
    kill9(leader);
    t0 = now_ms();
    while (now_ms() - t0 < 5000) {
        info = info_of("failover");
        if (info && held_by(info->coordinator, other))
            took = now_ms() - t0;
        pq_sweep_info_free(info);
        if (took >= 0)
            break;
        sleep_ms(20);
    }
    CU_ASSERT(took >= 0);
    printf("\n    failover took %lld ms (lease TTL %s ms) ", (long long)took,
           LEASE_TTL);
    CU_ASSERT(wait_queue("failover", DEPTH, other, 5000));
    kill9(leader == a ? b : a);
}

/* Two proteinds given one --id (a copied unit file) are still two
 * coordinators: one holds the lease and the other stands by, instead of
 * each renewing the other's lease as its own and both filling the queue;
 * when the holder dies the other takes over. */
static void test_same_id(void)
{
    const char *extra[] = {"--id", "twin", "--sweep", "twins", NULL};
    const char *took = "sweep twins: now the coordinator";
    pq_sweep_info *info;
    pid_t a, b;
    int a_leads;

    CU_ASSERT_EQUAL_FATAL(create_sweep("twins", 0), PQ_OK);
    a = start_proteind("twins-a", extra);
    b = start_proteind("twins-b", extra);
    CU_ASSERT_FATAL(wait_queue("twins", DEPTH, "twin", 10000));
    sleep_ms(1500); /* several renewals by each */
    CU_ASSERT_EQUAL(count_log("twins-a", took) + count_log("twins-b", took), 1);
    a_leads = count_log("twins-a", took) == 1;
    info = info_of("twins");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT(held_by(info->coordinator, "twin"));
    pq_sweep_info_free(info);
    kill9(a_leads ? a : b);
    CU_ASSERT(wait_log(a_leads ? "twins-b" : "twins-a", took, 5000));
    kill9(a_leads ? b : a);
}

/* Polls trial id until it is in `state`; returns 1 when it got there. */
static int wait_trial_state(const char *sweep, long id, pq_trial_state state,
                            int ms)
{
    int64_t end = now_ms() + ms;
    pq_trial_record *rec = NULL;
    int ok = 0;

    while (!ok && now_ms() < end) {
        if (pq_trial_get(ctx, sweep, id, &rec) == PQ_OK)
            ok = rec->state == state;
        pq_trial_record_free(rec);
        rec = NULL;
        if (!ok)
            sleep_ms(50);
    }
    return ok;
}

/* Creates sweep `name`, starts proteind (log and --id `name`, `extra`)
 * on it into *pid, and once its queue is full claims a trial with a
 * lease of 1 s, which nothing renews. Returns the trial's id, or -1. */
static long serve_and_claim(const char *name, int max_retries,
                            const char *const *extra, pid_t *pid)
{
    pq_trial *t;
    long id;

    *pid = -1;
    if (create_sweep(name, max_retries) != PQ_OK)
        return -1;
    *pid = start_proteind(name, extra);
    if (!wait_queue(name, DEPTH, name, 10000) ||
        !(t = claim(name, "lease-1s", 1)))
        return -1;
    id = t->id;
    pq_trial_free(t);
    return id;
}

/* A running trial whose lease runs out is expired by proteind: with
 * max_retries 1 it is first queued again for a retry (the next claim gets
 * the same trial), and lost for good when its second lease runs out. */
static void test_lease_expiry(void)
{
    const char *extra[] = {"--id",    "expiry", "--sweep", "expiry",
                           "--slurm", "auto",   NULL};
    pq_sweep_info *info;
    pq_trial *t;
    pid_t pid;
    long id;

    /* Slurm unusable (no slurm.conf, or no libslurm): --slurm auto goes
     * on without it, said once, and leases expire as they always did */
    setenv("SLURM_CONF", "/nonexistent/slurm.conf", 1);
    id = serve_and_claim("expiry", 1, extra, &pid);
    unsetenv("SLURM_CONF");
    CU_ASSERT_FATAL(id > 0);
    CU_ASSERT_EQUAL(count_log("expiry", ", Slurm off ("), 1);
    CU_ASSERT_FATAL(wait_trial_state("expiry", id, PQ_TRIAL_QUEUED, 8000));
    info = info_of("expiry");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_EQUAL(info->retry_depth, 1);
    pq_sweep_info_free(info);

    t = claim("expiry", "expiry-1", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->id, id);
    pq_trial_free(t);
    CU_ASSERT(wait_trial_state("expiry", id, PQ_TRIAL_LOST, 8000));
    info = info_of("expiry");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_EQUAL(info->counts[PQ_TRIAL_LOST], 1);
    CU_ASSERT_EQUAL(info->retry_depth, 0);
    pq_sweep_info_free(info);
    kill9(pid);
}

/* Protein's early stop judges a running trial at the cost its progress
 * report gives, in the units the trials report: far below what runs of
 * that cost scored, it is asked to stop; above them, it is not; a report
 * without a cost is never judged. Wall-clock time is not the sweep's
 * cost: measured by it, a report with no cost was judged at its elapsed
 * seconds, and past 0.3 x the front's highest cost + 10 it had to reach
 * 0.9 x the best score (a sweep whose runs report no cost, all costing 1,
 * stopped every run ten seconds in). So the cost-less trial is watched
 * here for longer than that. */
static void test_early_stop_cost_units(void)
{
    /* an early stop's line is per trial: debug */
    const char *extra[] = {"--id",        "es",    "--sweep", "es",
                           "--log-level", "debug", NULL};
    const double report_score[3] = {-100, 100, -100};
    const double report_cost[3] = {18, 18, -1}; /* -1: none */
    int stopped[3] = {0, 0, 0};
    pq_trial *running[3] = {NULL, NULL, NULL};
    int64_t end;
    char key[32];
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("es", 0), PQ_OK);
    pid = start_proteind("es", extra);
    CU_ASSERT_FATAL(wait_queue("es", DEPTH, "es", 10000));
    /* 32 runs whose score is their cost, from 1 to 20 */
    for (int i = 0; i < 32; i++) {
        double cost = 1.0 + 19.0 * i / 31.0;
        pq_trial *t;

        snprintf(key, sizeof key, "es-%d", i);
        t = claim("es", key, 60);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(pq_complete(ctx, "es", t->id, t->token, cost, cost),
                        PQ_OK);
        pq_trial_free(t);
    }
    CU_ASSERT_FATAL(wait_refit_n("es", 32, 30000));
    for (int k = 0; k < 3; k++) {
        snprintf(key, sizeof key, "es-run-%d", k);
        running[k] = claim("es", key, 60);
        CU_ASSERT_PTR_NOT_NULL_FATAL(running[k]);
    }
    end = now_ms() + 22000; /* > 0.3 x 20 + 10 s, plus a 5 s round */
    while (now_ms() < end) {
        for (int k = 0; k < 3; k++) {
            int stop = 0;

            CU_ASSERT_EQUAL(pq_progress(ctx, "es", running[k]->id,
                                        running[k]->token, 1, report_score[k],
                                        report_cost[k], &stop),
                            PQ_OK);
            stopped[k] |= stop;
        }
        sleep_ms(250);
    }
    CU_ASSERT(stopped[0]);
    CU_ASSERT_FALSE(stopped[1]);
    CU_ASSERT_FALSE(stopped[2]);
    CU_ASSERT(wait_log("es", "early stop (score -100 worse than", 1000));
    for (int k = 0; k < 3; k++)
        pq_trial_free(running[k]);
    kill9(pid);
}

/* --device cuda: fails with a clear message when no CUDA device is usable;
 * where one is, the daemon starts on the cuda backend. */
static void test_device_cuda(void)
{
    const char *extra[] = {"--device", "cuda", "--once",
                           "--sweep",  "none", NULL};
    pid_t pid = start_proteind("cuda", extra);
    int status = wait_exit(pid, 20000);
    char *log = read_log("cuda");

    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT(WIFEXITED(status));
    if (WEXITSTATUS(status) == 1) {
        CU_ASSERT_PTR_NOT_NULL(strstr(log, "proteind: error: --device cuda: "));
        CU_ASSERT_PTR_NOT_NULL(strstr(log, "use --device auto or cpu"));
    } else {
        CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(log, "(backend cuda)"));
    }
    free(log);
}

/* --device cuda with PROTEIN_CUDA_MODULE naming no file: exit 1, naming
 * the file and why it did not load (a build without CUDA: its own
 * refusal). */
static void test_device_cuda_module_missing(void)
{
    const char *extra[] = {"--device", "cuda", "--once",
                           "--sweep",  "none", NULL};
    const char *env = getenv("PROTEIN_CUDA_MODULE");
    char *saved = env ? strdup(env) : NULL;
    char *log;
    pid_t pid;
    int status;

    setenv("PROTEIN_CUDA_MODULE", "/nonexistent/protein-gp-cuda.so", 1);
    pid = start_proteind("cuda-module", extra);
    if (saved)
        setenv("PROTEIN_CUDA_MODULE", saved, 1);
    else
        unsetenv("PROTEIN_CUDA_MODULE");
    free(saved);
    status = wait_exit(pid, 20000);
    log = read_log("cuda-module");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
#ifdef HAVE_CUDA
    CU_ASSERT_PTR_NOT_NULL(strstr(
        log, "proteind: error: --device cuda: cannot load the CUDA backend "
             "module /nonexistent/protein-gp-cuda.so: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "No such file or directory"));
#else
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "built without CUDA"));
#endif
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "use --device auto or cpu"));
    free(log);
}

/* 1 when the process maps a CUDA library, whose name goes to lib. */
static int maps_cuda(pid_t pid, char *lib, size_t len)
{
    static const char *const names[] = {"libcuda.so", "libcudart", "libcublas",
                                        "libcusolver", "protein-gp-cuda"};
    char path[64], line[1024];
    int found = 0;
    FILE *fp;

    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    fp = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    while (!found && fgets(line, sizeof line, fp))
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strstr(line, names[i])) {
                snprintf(lib, len, "%s", line);
                found = 1;
            }
    fclose(fp);
    return found;
}

/* A proteind fitting on the CPU maps no CUDA library (in a CUDA build,
 * about 190 MB resident): not with --device cpu, nor with --device auto
 * where there is no NVIDIA driver. */
static void test_cpu_maps_no_cuda(void)
{
    const char *cpu[] = {"--sweep", "none", NULL};
    const char *autod[] = {"--device", "auto", "--sweep", "none", NULL};
    char lib[1024] = "";
    char *log;
    pid_t pid;

    pid = start_proteind("maps-cpu", cpu);
    CU_ASSERT_FATAL(wait_log("maps-cpu", "proteind: starting: ", 20000));
    CU_ASSERT_FALSE(maps_cuda(pid, lib, sizeof lib));
    if (lib[0])
        printf("\n    --device cpu maps %s", lib);
    kill9(pid);

    pid = start_proteind("maps-auto", autod);
    CU_ASSERT_FATAL(wait_log("maps-auto", "proteind: starting: ", 20000));
    log = read_log("maps-auto");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    if (strstr(log, "no NVIDIA driver") || strstr(log, "built without CUDA")) {
        lib[0] = '\0';
        CU_ASSERT_FALSE(maps_cuda(pid, lib, sizeof lib));
        if (lib[0])
            printf("\n    --device auto maps %s", lib);
    } else {
        printf("\n    auto not checked: an NVIDIA driver is here, so auto "
               "loads the CUDA module ");
    }
    free(log);
    kill9(pid);
}

/* A driver that finds no GPU (the CUDA toolkit's stub libcuda.so as
 * libcuda.so.1, ahead on the library path): --device auto fits on the CPU
 * saying why, with no CUDA library mapped, the driver included (about
 * 190 MB resident were the module loaded); --device cuda exits 1. */
static void test_auto_driver_without_gpu(void)
{
    const char *autod[] = {"--device", "auto", "--sweep", "none", NULL};
    const char *cudad[] = {"--device", "cuda", "--once",
                           "--sweep",  "none", NULL};
    const char *stub = getenv("CUDA_STUB_DRIVER");
    const char *old_path = getenv("LD_LIBRARY_PATH");
    char *saved = old_path ? strdup(old_path) : NULL;
    char dir[512], link[600], want[800], lib[1024] = "";
    char *log;
    pid_t pid;
    int status;

    if (!stub || stub[0] == '\0') {
        printf("\n    not run: no stub libcuda.so of a CUDA toolkit (a build "
               "without CUDA) ");
        free(saved);
        return;
    }
    snprintf(dir, sizeof dir, "%s/stub-driver", log_dir);
    snprintf(link, sizeof link, "%s/libcuda.so.1", dir);
    CU_ASSERT_FATAL(mkdir(dir, 0700) == 0 && symlink(stub, link) == 0);
    setenv("LD_LIBRARY_PATH", dir, 1);

    pid = start_proteind("stub-auto", autod);
    CU_ASSERT(wait_log("stub-auto", "proteind: starting: ", 20000));
    snprintf(want, sizeof want,
             "proteind: device auto: fitting on the CPU: no usable CUDA "
             "device: cuInit of the NVIDIA driver %s failed: CUresult 34 "
             "(CUDA_ERROR_STUB_LIBRARY",
             link);
    log = read_log("stub-auto");
    CU_ASSERT_PTR_NOT_NULL(strstr(log, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "(backend cpu)"));
    CU_ASSERT_FALSE(maps_cuda(pid, lib, sizeof lib));
    if (lib[0])
        printf("\n    --device auto maps %s", lib);
    free(log);
    kill9(pid);

    pid = start_proteind("stub-cuda", cudad);
    status = wait_exit(pid, 20000);
    log = read_log("stub-cuda");
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(log, "proteind: error: --device cuda: no usable CUDA device: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "use --device auto or cpu"));
    free(log);

    if (saved)
        setenv("LD_LIBRARY_PATH", saved, 1);
    else
        unsetenv("LD_LIBRARY_PATH");
    free(saved);
}

/* SIGTERM: exit 0 and the lease is released at once. */
static void test_sigterm(void)
{
    const char *extra[] = {"--id", "term", "--sweep", "term", NULL};
    pq_sweep_info *info;
    pid_t pid;
    int status;

    CU_ASSERT_EQUAL_FATAL(create_sweep("term", 0), PQ_OK);
    pid = start_proteind("term", extra);
    CU_ASSERT_FATAL(wait_queue("term", DEPTH, "term", 10000));
    kill(pid, SIGTERM);
    status = wait_exit(pid, 5000);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    info = info_of("term");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_EQUAL(info->coordinator_alive, 0);
    pq_sweep_info_free(info);
}

/* CPU seconds (user + system) a process has used, from /proc; -1 when
 * unreadable. */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long utime, stime;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fp = fopen(path, "r");
    if (!fp)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* fields 14 and 15 follow the command name */
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Redis goes away for a while: proteind logs it, retries with backoff
 * without spinning, and once Redis is back takes the sweep up again and
 * refills its queue. Runs on a server of its own (with an AOF, so the
 * sweep survives the restart). */
static void test_redis_down(void)
{
    redis_harness_options ho = {.appendonly = 1};
    redis_harness h2;
    pq_connect_options co = {0};
    pq_context *main_ctx = ctx;
    double cpu0, cpu1;
    char *log;
    pid_t pid;

    if (redis_harness_start(&h2, &ho) != 0) {
        CU_FAIL("second redis-server did not start");
        return;
    }
    co.url = h2.url;
    ctx = pq_connect(&co); /* the helpers talk to this server now */
    if (!ctx || ctx->err != PQ_OK || create_sweep("down", 0) != PQ_OK) {
        CU_FAIL("cannot set up the second server");
        goto out;
    }
    {
        /* The later --redis wins over start_proteind's. */
        const char *extra[] = {"--redis", h2.url, "--id", "down",
                               "--sweep", "down", NULL};
        pid = start_proteind("down", extra);
    }
    CU_ASSERT(wait_queue("down", DEPTH, "down", 10000));
    pq_free(ctx);
    ctx = NULL;
    CU_ASSERT_EQUAL(redis_harness_kill(&h2), 0);
    sleep_ms(300);
    cpu0 = cpu_seconds(pid);
    sleep_ms(2000);
    cpu1 = cpu_seconds(pid);
    CU_ASSERT(cpu0 >= 0 && cpu1 >= 0);
    CU_ASSERT(cpu1 - cpu0 < 0.2); /* backing off, not spinning */
    if (redis_harness_restart(&h2) != 0) {
        CU_FAIL("redis-server did not come back");
        goto out;
    }
    ctx = pq_connect(&co);
    CU_ASSERT(ctx && ctx->err == PQ_OK &&
              wait_queue("down", DEPTH, "down", 15000));
    log = read_log("down");
    CU_ASSERT(log && strstr(log, "Redis unreachable"));
    CU_ASSERT(log && strstr(log, "Redis is back"));
    free(log);

    /* A Redis that takes connections but refuses writes (full, under
     * noeviction): proteind backs off, it does not reconnect in a loop */
    {
        const char *full[] = {"CONFIG", "SET", "maxmemory", "1", NULL};
        const char *room[] = {"CONFIG", "SET", "maxmemory", "0", NULL};
        char *out = redis_harness_cli(&h2, full);
        size_t lines = 0;

        free(out);
        sleep_ms(300);
        cpu0 = cpu_seconds(pid);
        sleep_ms(2000);
        cpu1 = cpu_seconds(pid);
        out = redis_harness_cli(&h2, room);
        free(out);
        CU_ASSERT(cpu1 - cpu0 < 0.2);
        log = read_log("down");
        for (const char *p = log; p && (p = strstr(p, "Redis failed")); p++)
            lines++;
        CU_ASSERT(lines >= 1 && lines < 20);
        if (lines >= 20)
            fprintf(stderr, "proteind logged 'Redis failed' %zu times\n",
                    lines);
        free(log);

        /* --once's one pass fails: exit 1, not a loop */
        const char *once[] = {"--redis", h2.url, "--id",   "once",
                              "--sweep", "down", "--once", NULL};
        int status;
        out = redis_harness_cli(&h2, full);
        free(out);
        status = wait_exit(start_proteind("once", once), 10000);
        out = redis_harness_cli(&h2, room);
        free(out);
        CU_ASSERT(status != -1 && WIFEXITED(status) &&
                  WEXITSTATUS(status) == 1);
    }
out:
    kill_children();
    pq_free(ctx);
    ctx = main_ctx;
    redis_harness_stop(&h2);
}

/* Starts proteind on url (with extra options, NULL-terminated, after it)
 * and checks that it gives up at once, as for settings no retry can fix:
 * exit 1 within a few seconds, the reason (needle) on one line, and no
 * retry. */
static void expect_gives_up(const char *log, const char *url,
                            const char *const *extra, const char *needle)
{
    const char *argv[8] = {"--redis", url, "--id", log};
    size_t n = 4;
    int64_t t0 = now_ms();
    int status;
    char *text;

    for (size_t i = 0; extra && extra[i] && n < 7; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    status = wait_exit(start_proteind(log, argv), 10000);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    CU_ASSERT(now_ms() - t0 < 5000);
    text = read_log(log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "proteind: error: cannot use Redis: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, needle));
    CU_ASSERT_PTR_NULL(strstr(text, "retrying"));
    if (!strstr(text, needle))
        fprintf(stderr, "%s: %s\n", log, text);
    free(text);
}

/* Settings no retry can fix end proteind with exit 1 and one clear line: a
 * password in the URL, a bad URL, a database the server refuses. */
static void test_bad_settings(void)
{
    char url[128];
    int port = 0;

    sscanf(harness.url, "redis://127.0.0.1:%d", &port);
    CU_ASSERT_FATAL(port > 0);
    snprintf(url, sizeof url, "redis://u:secret@127.0.0.1:%d", port);
    expect_gives_up("urlpw", url, NULL, "carries a password");
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    expect_gives_up("badurl", url, NULL, "bad Redis URL");
    snprintf(url, sizeof url, "%s/99", harness.url);
    expect_gives_up("db99", url, NULL, "SELECT failed: ERR DB index");
}

/* A Redis that wants a password: none given, or a wrong one, ends proteind
 * with exit 1, saying plainly how to give one; a refused connection at
 * start-up, which may pass, is retried. */
static void test_password_wanted(void)
{
    redis_harness_options ho = {.password = "s3cret"};
    const char *wrong[] = {"--password-file", NULL, NULL};
    redis_harness h2;
    char url[128], pwfile[300];
    FILE *fp;
    pid_t pid;
    char *log;

    unsetenv("PROTEIN_REDIS_PASSWORD");
    if (redis_harness_start(&h2, &ho) != 0) {
        CU_FAIL("redis-server with requirepass did not start");
        return;
    }
    snprintf(url, sizeof url, "redis://protein-proteind@127.0.0.1:%d", h2.port);
    expect_gives_up("nopw", url, NULL,
                    "wants a password and none was given: pass a file "
                    "holding it (--password-file, password_file=) or set "
                    "PROTEIN_REDIS_PASSWORD");
    expect_gives_up("nopw2", h2.url, NULL, "wants a password");
    snprintf(pwfile, sizeof pwfile, "%s/wrong.pass", log_dir);
    fp = fopen(pwfile, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs("not-it\n", fp);
    fclose(fp);
    wrong[1] = pwfile;
    expect_gives_up("wrongpw", h2.url, wrong, "AUTH failed: WRONGPASS");
    /* $PROTEIN_REDIS_PASSWORD_FILE, as the protein command reads it */
    setenv("PROTEIN_REDIS_PASSWORD_FILE", pwfile, 1);
    expect_gives_up("envpwfile", h2.url, NULL, "AUTH failed: WRONGPASS");
    unsetenv("PROTEIN_REDIS_PASSWORD_FILE");

    CU_ASSERT_EQUAL(redis_harness_kill(&h2), 0);
    {
        const char *extra[] = {"--redis", h2.url, "--id", "refused", NULL};
        pid = start_proteind("refused", extra);
    }
    CU_ASSERT(wait_log("refused", "retrying in", 5000));
    sleep_ms(600);
    CU_ASSERT(alive(pid));
    log = read_log("refused");
    CU_ASSERT(log && strstr(log, "Redis unreachable: cannot connect"));
    free(log);
    kill_children();
    redis_harness_stop(&h2);
}

/* A sweep whose budget is used, with no trial running, is let go: its
 * model is freed and its lease given up, once (a long-lived proteind kept
 * every finished sweep's model, hundreds of MB each, until a stop). */
static void test_spent_sweep_let_go(void)
{
    const char *extra[] = {"--id", "spent", "--sweep", "spent", NULL};
    char key[32];
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_budgeted("spent", 0, 3), PQ_OK);
    pid = start_proteind("spent", extra);
    CU_ASSERT(wait_queue("spent", 1, "spent", 20000));
    for (long i = 1; i <= 3; i++) {
        snprintf(key, sizeof key, "sp-%ld", i);
        CU_ASSERT_EQUAL(run_trial("spent", key, NULL, NULL), PQ_OK);
        /* the sweep is not let go while a budget slot is left */
        if (i < 3)
            CU_ASSERT_EQUAL(count_log("spent", "no longer coordinating"), 0);
    }
    CU_ASSERT(wait_log("spent",
                       "sweep spent: its budget of 3 trials is used and none "
                       "runs; no longer coordinating it",
                       20000));
    /* two discoveries later: not taken again */
    sleep_ms(4500);
    CU_ASSERT(alive(pid));
    CU_ASSERT_EQUAL(count_log("spent", "sweep spent: now the coordinator"), 1);
    kill9(pid);
}

/* Points left in a spent sweep's ready queue, which no claim will get,
 * are removed when proteind lets it go (protein show listed them as
 * ready). They are left when claims take fallback points meanwhile (no
 * coordinator, or a claim's wait ran out during a long refit): here the
 * trials are claimed with no coordinator, then the points are queued
 * under a lease the test holds. */
static void test_spent_queue_emptied(void)
{
    const char *extra[] = {"--id", "left", "--sweep", "leftover", NULL};
    pq_param p[2] = {{.name = "x", .number = 0.5}, {.name = "y", .number = 0}};
    pq_params points[3] = {{2, p}, {2, p}, {2, p}};
    pq_sweep_info *info;
    int leader = 0;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_budgeted("leftover", 0, 2), PQ_OK);
    CU_ASSERT_EQUAL(run_trial("leftover", "left-0", NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL(run_trial("leftover", "left-1", NULL, NULL), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(
        pq_coordinator_acquire(ctx, "leftover", "tester", 10000, &leader),
        PQ_OK);
    CU_ASSERT_FATAL(leader);
    CU_ASSERT_EQUAL_FATAL(
        pq_queue_replace(ctx, "leftover", "tester", points, 3), PQ_OK);
    CU_ASSERT_EQUAL(pq_coordinator_release(ctx, "leftover", "tester"), PQ_OK);
    pid = start_proteind("left", extra);
    CU_ASSERT(wait_log("left",
                       "sweep leftover: emptied its ready queue (3 points no "
                       "trial will get)",
                       20000));
    info = info_of("leftover");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_EQUAL(info->queue_depth, 0);
    CU_ASSERT_PTR_NULL(info->coordinator);
    pq_sweep_info_free(info);
    /* a claim past the budget is refused, the queue emptied or not */
    CU_ASSERT_PTR_NULL(claim("leftover", "left-2", 60));
    kill9(pid);
}

/* Runs the 2 trials of sweep `name` (a budget of 2) while proteind `log`
 * serves it, then waits until proteind lets it go. */
static void spend(const char *name, const char *log)
{
    char key[64], said[128];

    CU_ASSERT(wait_queue(name, 1, NULL, 20000));
    for (int i = 0; i < 2; i++) {
        snprintf(key, sizeof key, "%s-%d", name, i);
        CU_ASSERT_EQUAL(run_trial(name, key, NULL, NULL), PQ_OK);
    }
    snprintf(said, sizeof said,
             "sweep %s: its budget of 2 trials is used and none runs; no "
             "longer coordinating it",
             name);
    CU_ASSERT(wait_log(log, said, 20000));
}

/* A finished sweep leaves proteind's served set, so that one running for
 * months does not walk (and keep) every sweep it ever served; deleted and
 * created again under its name, it is served again from scratch, whether
 * a discovery saw it gone (again1, named with --sweep) or not (again2,
 * found by discovery, deleted and created again at once: rechecked). */
static void test_finished_sweep_served_anew(void)
{
    const char *extra[] = {"--id", "again", "--sweep", "again1", NULL};
    const char *all[] = {"--id", "again-all", NULL};
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_budgeted("again1", 0, 2), PQ_OK);
    pid = start_proteind("again", extra);
    spend("again1", "again");
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "again1", (long)getuid()), PQ_OK);
    /* a discovery (every 2 s) finds it gone */
    sleep_ms(2500);
    CU_ASSERT_EQUAL_FATAL(create_budgeted("again1", 0, 2), PQ_OK);
    CU_ASSERT(wait_queue("again1", 1, "again", 20000));
    CU_ASSERT(
        wait_log("again", "sweep again1: rebuilt from Redis: 0 stream", 5000));
    CU_ASSERT_EQUAL(count_log("again", "sweep again1: now the coordinator"), 2);
    kill9(pid);

    CU_ASSERT_EQUAL_FATAL(create_budgeted("again2", 0, 2), PQ_OK);
    pid = start_proteind("again-all", all);
    spend("again2", "again-all");
    sleep_ms(2500);
    CU_ASSERT_EQUAL(pq_sweep_delete(ctx, "again2", (long)getuid()), PQ_OK);
    CU_ASSERT_EQUAL_FATAL(create_budgeted("again2", 0, 2), PQ_OK);
    CU_ASSERT(wait_queue("again2", 1, "again-all", 20000));
    CU_ASSERT(wait_log("again-all",
                       "sweep again2: has trials to coordinate again", 5000));
    /* taken at the start and once created anew; again-all serves every
     * sweep the earlier tests left (longfit's fits among them), so under
     * load a pass outlasts the 1 s lease, which lapses and is taken again
     * (seen 4 times with the CPU busy): those are not counted */
    CU_ASSERT_EQUAL(
        count_log("again-all", "sweep again2: now the coordinator") -
            count_log("again-all", "sweep again2: lease lapsed"),
        2);
    kill9(pid);
}

/* A spent sweep whose owner raises its budget (protein budget) has trials
 * to coordinate again: proteind serves it again, and the new trials are
 * the model's picks, not fallback points. */
static void test_raised_budget_served_again(void)
{
    const char *extra[] = {"--id", "raised", "--sweep", "raised", NULL};
    long budget = 0, used = 0;
    pq_trial *t;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_budgeted("raised", 0, 2), PQ_OK);
    pid = start_proteind("raised", extra);
    spend("raised", "raised");
    CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, "raised", 2, 1, (long)getuid(),
                                        NULL, 0, &budget, &used),
                    PQ_OK);
    CU_ASSERT_EQUAL(budget, 4);
    CU_ASSERT_EQUAL(used, 2);
    CU_ASSERT(wait_log("raised", "sweep raised: has trials to coordinate again",
                       10000));
    CU_ASSERT(wait_queue("raised", 1, "raised", 20000));
    CU_ASSERT(
        wait_log("raised", "sweep raised: rebuilt from Redis: 2 stream", 5000));
    t = claim("raised", "raised-more", 60);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->fallback, 0);
    pq_trial_free(t);
    kill9(pid);
}

/* Spent sweeps present at a proteind's start are found so with a read
 * each and said in one line (their names at debug), not with a lease
 * taken and two lines each. Eight of 128 raised (protein budget), and a
 * user's, are all served again at the next discovery, read from the wake
 * streams: the
 * periodic recheck looks at 16 of them per discovery (every 2 s), so
 * eight spread over the names took four discoveries or more. */
static void test_wake_raised_budgets(void)
{
    const char *all[] = {"--id", "wake", "--log-level", "debug", NULL};
    char name[PQ_SWEEP_NAME_MAX + 1], own[PQ_SWEEP_NAME_MAX + 1];
    char user[PQ_OWNER_MAX + 1];
    char key[PQ_SWEEP_NAME_MAX + 32];
    const char *share[] = {"HSET", key, "shared", "1", NULL};
    char said[160];
    int64_t first = 0, last = 0, end;
    int served[9] = {0}, n_served = 0;
    pid_t pid;

    /* and one of the caller's own (their own wake stream) */
    CU_ASSERT_EQUAL_FATAL(pq_user_name(getuid(), user, sizeof user), PQ_OK);
    snprintf(own, sizeof own, "%s/wake", user);
    snprintf(key, sizeof key, "protein:{%s}:meta", own);
    CU_ASSERT_EQUAL_FATAL(create_budgeted(own, 0, 1), PQ_OK);
    /* claimed here with no user name: as a shared sweep */
    free(redis_harness_cli(&harness, share));
    CU_ASSERT_EQUAL_FATAL(run_trial(own, "own-0", NULL, NULL), PQ_OK);
    for (int i = 0; i < 128; i++) {
        snprintf(name, sizeof name, "wake%03d", i);
        CU_ASSERT_EQUAL_FATAL(create_budgeted(name, 0, 1), PQ_OK);
        snprintf(key, sizeof key, "%s-0", name);
        CU_ASSERT_EQUAL_FATAL(run_trial(name, key, NULL, NULL), PQ_OK);
    }
    pid = start_proteind("wake", all);
    CU_ASSERT(wait_log("wake", "sweeps have nothing to coordinate", 20000));
    CU_ASSERT(wait_log(
        "wake", "sweep wake127: nothing to coordinate (its budget used", 1000));
    CU_ASSERT_EQUAL(count_log("wake", "sweeps have nothing to coordinate"), 1);
    for (int i = 0; i < 128; i++) {
        snprintf(said, sizeof said, "sweep wake%03d: now the coordinator", i);
        CU_ASSERT_EQUAL(count_log("wake", said), 0);
    }
    CU_ASSERT_EQUAL(count_log("wake", "budget of 1 trials is used"), 0);
    /* a discovery takes their names */
    sleep_ms(2500);
    for (int k = 0; k < 9; k++) {
        if (k < 8)
            snprintf(name, sizeof name, "wake%03d", 16 * k + 7);
        else
            snprintf(name, sizeof name, "%s", own);
        CU_ASSERT_EQUAL(pq_sweep_set_budget(ctx, name, 1, 1, (long)getuid(),
                                            NULL, 0, NULL, NULL),
                        PQ_OK);
    }
    end = now_ms() + 30000;
    while (n_served < 9 && now_ms() < end) {
        for (int k = 0; k < 9; k++) {
            if (served[k])
                continue;
            if (k < 8)
                snprintf(said, sizeof said,
                         "sweep wake%03d: has trials to coordinate again",
                         16 * k + 7);
            else
                snprintf(said, sizeof said,
                         "sweep %s: has trials to coordinate again", own);
            if (count_log("wake", said) > 0) {
                served[k] = 1;
                n_served++;
                last = now_ms();
                if (!first)
                    first = last;
            }
        }
        sleep_ms(20);
    }
    CU_ASSERT_EQUAL(n_served, 9);
    /* one discovery, or two when one fell among the raises */
    CU_ASSERT(last - first < 3000);
    for (int k = 0; k < 8; k++) {
        snprintf(name, sizeof name, "wake%03d", 16 * k + 7);
        CU_ASSERT(wait_queue(name, 1, "wake", 20000));
    }
    CU_ASSERT(wait_queue(own, 1, "wake", 20000));
    CU_ASSERT(alive(pid));
    kill9(pid);
}

/* Loads into the test's Redis protein's library of another build, which
 * has no protein_wakes (a build from before the wake streams). 0 when it
 * is loaded. */
static int load_wakeless_functions(void)
{
    const char *srcdir = getenv("top_srcdir");
    const char *load[] = {"FUNCTION", "LOAD", "REPLACE", NULL, NULL};
    char path[512], *text = calloc(1, 256 * 1024), *at, *line;
    size_t n = 0;
    FILE *fp;
    int ok;

    snprintf(path, sizeof path, "%s/queue/functions.lua",
             srcdir ? srcdir : "..");
    if (!text || !(fp = fopen(path, "r"))) {
        free(text);
        return -1;
    }
    n = fread(text, 1, 256 * 1024 - 1, fp);
    fclose(fp);
    text[n] = '\0';
    /* another build's version, and no protein_wakes registered */
    at = strstr(text, "@CONTENT_SHA256@");
    line = strstr(text, "register('protein_wakes'");
    if (at)
        memcpy(at, "wakeless00000000", 16);
    if (line)
        memcpy(line, "--", 2);
    load[3] = text;
    ok = at && line && redis_harness_cli_is(&harness, "protein", load);
    free(text);
    return ok ? 0 : -1;
}

/* Redis keeps another build's functions, without protein_wakes, which
 * proteind's Redis user may not replace (a service user, before an admin
 * connected): proteind serves its sweeps all the same and says once that
 * it cannot read the wake streams, not at every discovery (a warning
 * every 2 s, for as long as it ran). */
static void test_wakes_unreadable_said_once(void)
{
    const char *user[] = {"ACL", "SETUSER", "wakeless", "on",        ">wakepw",
                          "~*",  "&*",      "+@all",    "-function", NULL};
    const char *deluser[] = {"ACL", "DELUSER", "wakeless", NULL};
    char url[256], pass[512];
    const char *extra[] = {"--id",    "wakeless", "--sweep",         "wakeless",
                           "--redis", url,        "--password-file", pass,
                           NULL};
    pq_connect_options co = {0};
    pq_context *admin;
    FILE *fp;
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("wakeless", 0), PQ_OK);
    snprintf(url, sizeof url, "redis://wakeless@%s", harness.url + 8);
    snprintf(pass, sizeof pass, "%s/wakeless.pass", log_dir);
    fp = fopen(pass, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fputs("wakepw\n", fp);
    fclose(fp);
    chmod(pass, 0600);
    free(redis_harness_cli(&harness, user));
    CU_ASSERT_EQUAL_FATAL(load_wakeless_functions(), 0);
    pid = start_proteind("wakeless", extra);
    CU_ASSERT(wait_queue("wakeless", DEPTH, "wakeless", 10000));
    CU_ASSERT(wait_log("wakeless", "cannot read the wake streams", 5000));
    /* three discoveries more */
    sleep_ms(6500);
    CU_ASSERT(alive(pid));
    CU_ASSERT_EQUAL(count_log("wakeless", "Redis keeps another build's"), 1);
    CU_ASSERT_EQUAL(count_log("wakeless", "cannot read the wake streams"), 1);
    kill9(pid);
    free(redis_harness_cli(&harness, deluser));
    /* this build's functions again, for the tests after this one */
    co.url = harness.url;
    admin = pq_connect(&co);
    CU_ASSERT(admin && admin->err == PQ_OK);
    pq_free(admin);
}

/* A stopped sweep with a trial running is served until none runs: the
 * trial of a task that vanished is expired (claims, refused on a stopped
 * sweep, never do it), not left running for ever; then the sweep is let
 * go and its ready queue emptied. */
static void test_stopped_sweep_expires_leases(void)
{
    const char *extra[] = {"--id", "stopr", "--sweep", "stopr", NULL};
    pq_sweep_info *info;
    pid_t pid;
    long id = serve_and_claim("stopr", 0, extra, &pid);

    CU_ASSERT_FATAL(id > 0);
    CU_ASSERT_EQUAL(pq_sweep_set_state(ctx, "stopr", "stop", (long)getuid()),
                    PQ_OK);
    CU_ASSERT(wait_log("stopr",
                       "sweep stopr: stopped; serving it until its 1 running",
                       10000));
    CU_ASSERT(wait_trial_state("stopr", id, PQ_TRIAL_LOST, 8000));
    CU_ASSERT(wait_log("stopr", "sweep stopr: stopped; no longer coordinating",
                       10000));
    CU_ASSERT(wait_log("stopr", "sweep stopr: emptied its ready queue", 5000));
    info = info_of("stopr");
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    CU_ASSERT_EQUAL(info->queue_depth, 0);
    CU_ASSERT_PTR_NULL(info->coordinator);
    pq_sweep_info_free(info);
    kill9(pid);
}

/* --log-level: info (the default) logs changes of state, not a line per
 * refit; warn leaves those out too. */
static void test_log_levels(void)
{
    const char *info_args[] = {"--id", "lvl", "--sweep", "lvl", NULL};
    const char *warn_args[] = {"--id",        "lvlw", "--sweep", "lvl",
                               "--log-level", "warn", NULL};
    pid_t pid;

    CU_ASSERT_EQUAL_FATAL(create_sweep("lvl", 0), PQ_OK);
    pid = start_proteind("lvl-info", info_args);
    CU_ASSERT_FATAL(wait_queue("lvl", DEPTH, "lvl", 10000));
    CU_ASSERT_EQUAL(run_trial("lvl", "lvl-0", NULL, NULL), PQ_OK);
    CU_ASSERT(wait_refit_n("lvl", 1, 20000));
    CU_ASSERT_EQUAL(count_log("lvl-info", "sweep lvl: now the coordinator"), 1);
    CU_ASSERT_EQUAL(count_log("lvl-info", "starting: id lvl#"), 1);
    CU_ASSERT_EQUAL(count_log("lvl-info", "sweep=lvl "), 0);
    kill9(pid);

    pid = start_proteind("lvl-warn", warn_args);
    CU_ASSERT_FATAL(wait_queue("lvl", DEPTH, "lvlw", 10000));
    CU_ASSERT_EQUAL(run_trial("lvl", "lvl-1", NULL, NULL), PQ_OK);
    CU_ASSERT(wait_refit_n("lvl", 2, 20000));
    CU_ASSERT_EQUAL(count_log("lvl-warn", "proteind: "), 0);
    kill9(pid);
}

/* Sweeps that no trial reads from, served by one proteind with a short
 * lease: no lease lapses. Each idle sweep's blocking read lasted up to
 * 100 ms whatever its timeout (Redis checks those 10 times a second), so
 * a pass over seven took 0.7 s, longer than the 0.4 s lease, and every
 * lease lapsed every pass (claims then take fallback points). */
static void test_idle_sweeps_keep_leases(void)
{
    static const char *const names[] = {"idle1", "idle2", "idle3", "idle4",
                                        "idle5", "idle6", "idle7"};
    const char *extra[32] = {"--id", "idle", "--lease-ttl", "400"};
    size_t n = 4;
    pid_t pid;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(create_sweep(names[i], 0), PQ_OK);
        extra[n++] = "--sweep";
        extra[n++] = names[i];
    }
    extra[n] = NULL;
    pid = start_proteind("idle", extra);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CU_ASSERT(wait_queue(names[i], 1, "idle", 20000));
    sleep_ms(3000);
    CU_ASSERT(alive(pid));
    CU_ASSERT_EQUAL(count_log("idle", "lease lapsed"), 0);
    if (count_log("idle", "lease lapsed") != 0) {
        char *log = read_log("idle");
        fprintf(stderr, "%s\n", log ? log : "");
        free(log);
    }
    kill9(pid);
}

static const cunit_test tests[] = {
    {"usage and exit codes", test_usage},
    {"fills a new sweep's queue", test_fills_new_sweep},
    {"a stuffed user index: read in part, looked up once", test_stuffed_index},
    {"refits and replaces the queue", test_refit_replaces},
    {"a fit that outlasts the lease lands", test_long_fit},
    {"idle sweeps keep their leases", test_idle_sweeps_keep_leases},
    {"a sweep served before a held one", test_sweep_inserted_before},
    {"--max-fit-obs bounds a refit", test_max_fit_obs},
    {"a stray stream entry is skipped", test_stray_observation},
    {"a broken stored config is given up", test_broken_config},
    {"a sweep deleted and created again is built again",
     test_recreated_sweep_rebuilt},
    {"a created_at that is no number: built once", test_created_at_nan},
    {"broken keys: logged, backed off, others served", test_broken_keys},
    {"a damaged n_trials: the restart skip is bounded", test_damaged_n_trials},
    {"the ready queue follows demand", test_queue_follows_demand},
    {"kill -9 and restart", test_kill9_restart},
    {"failover to a standby", test_failover},
    {"two proteinds given one --id", test_same_id},
    {"a sweep's hostile demand is bounded", test_hostile_demand},
    {"a spent sweep is let go", test_spent_sweep_let_go},
    {"a spent sweep's queue is emptied", test_spent_queue_emptied},
    {"a finished sweep created again is served anew",
     test_finished_sweep_served_anew},
    {"a spent sweep whose budget is raised is served again",
     test_raised_budget_served_again},
    {"raised budgets served at the next discovery; finished sweeps in a line",
     test_wake_raised_budgets},
    {"the wake streams unreadable: said once", test_wakes_unreadable_said_once},
    {"a stopped sweep's running trials are expired",
     test_stopped_sweep_expires_leases},
    {"--log-level", test_log_levels},
    {"lease expiry: lost and retried", test_lease_expiry},
    {"early stop at the reported cost", test_early_stop_cost_units},
    {"--device cuda", test_device_cuda},
    {"--device cuda, the CUDA module missing", test_device_cuda_module_missing},
    {"a proteind on the CPU maps no CUDA library", test_cpu_maps_no_cuda},
    {"--device auto with a driver that finds no GPU",
     test_auto_driver_without_gpu},
    {"SIGTERM releases the lease", test_sigterm},
    {"Redis down and back", test_redis_down},
    {"settings no retry can fix: exit 1", test_bad_settings},
    {"a password wanted: exit 1, said plainly", test_password_wanted},
};

int main(void)
{
    int status;

    if (redis_harness_start(&harness, NULL) != 0) {
        fprintf(stderr, "SKIP: no redis-server could be started\n");
        return 77;
    }
    status = cunit_run_suite_setup("proteind", suite_init, suite_clean, NULL,
                                   test_teardown, tests, CUNIT_COUNT(tests));
    redis_harness_stop(&harness);
    return status;
}
