/*
 * redis_harness.h - a private redis-server for integration tests.
 *
 * redis_harness_start() runs Debian's redis-server (found on PATH, or
 * $REDIS_SERVER) on a free loopback port, in its own temporary directory
 * (mkdtemp under $TMPDIR or /tmp), waits until it answers PING and fills
 * h->url ("redis://127.0.0.1:PORT"). redis_harness_stop() kills it by pid,
 * waits for it and removes the directory. The server's stdout is
 * /dev/null and its stderr goes to DIR/redis.log (so that it never holds a
 * test's output pipe open), and it is killed if the test process dies.
 * Tests link libtestharness.la
 * (tests/queue.am) and need nothing else.
 *
 * Typical use:
 *     redis_harness h;
 *     if (redis_harness_start(&h, NULL) != 0) return 77;   // skip
 *     ... pq_connect with url = h.url ...
 *     redis_harness_stop(&h);
 */
#ifndef PROTEIN_REDIS_HARNESS_H
#define PROTEIN_REDIS_HARNESS_H

#include <sys/types.h>

typedef struct redis_harness_options {
    int appendonly;       /* 1: appendonly yes, appendfsync always */
    const char *password; /* non-NULL: requirepass (and h->password) */
    /* extra redis.conf lines (e.g. ACL users); may be NULL */
    const char *extra_conf;
} redis_harness_options;

typedef struct redis_harness {
    pid_t pid; /* redis-server's pid; 0 when stopped */
    int port;
    char dir[256]; /* private directory: redis.conf, log, AOF */
    char url[64];  /* redis://127.0.0.1:PORT */
    redis_harness_options opts;
    char password[128];
} redis_harness;

/* Starts a server (opts may be NULL: defaults). Returns 0 when it answers
 * PING within 5 s; -1 otherwise with a reason on stderr (redis-server
 * missing, start failure), everything cleaned up. */
int redis_harness_start(redis_harness *h, const redis_harness_options *opts);

/* Stops the server with SIGTERM (so an AOF is flushed), SIGKILL after 5 s,
 * keeping the directory, so that redis_harness_restart() can start it again
 * on the same port and data. Returns 0 when the process was reaped. */
int redis_harness_kill(redis_harness *h);

/* Starts the server again in the same directory and port after
 * redis_harness_kill() (AOF data is reloaded). Returns 0 when it answers. */
int redis_harness_restart(redis_harness *h);

/* Freezes the server with SIGSTOP and returns once it has stopped (0), so
 * that a request sent next cannot be answered before the freeze; -1 when
 * it is not running or did not stop. redis_harness_thaw() resumes it. */
int redis_harness_freeze(redis_harness *h);

/* Resumes a server frozen by redis_harness_freeze(). Returns kill()'s
 * result. */
int redis_harness_thaw(redis_harness *h);

/* Kills the server (if running) and removes its directory. Safe to call
 * twice. */
void redis_harness_stop(redis_harness *h);

/* Runs redis-cli against the server (with its password) and the given
 * arguments (NULL terminated), returning its stdout (malloc'ed; the caller
 * frees it), or NULL when redis-cli could not run or exited non-zero. */
char *redis_harness_cli(const redis_harness *h, const char *const *args);

/* redis_harness_cli's output up to its first newline (malloc'ed; "" when
 * redis-cli failed; NULL only when memory ran out). */
char *redis_harness_cli_line(const redis_harness *h, const char *const *args);

/* 1 when redis_harness_cli_line prints exactly want; else 0, with what it
 * printed on stderr. */
int redis_harness_cli_is(const redis_harness *h, const char *want,
                         const char *const *args);

/* Makes `user` a known user (protein:users) whose own sweep index holds n
 * names user/j000001 ... of sweeps that do not exist: a person stuffing
 * the index their ACL lets them write. n = 0 takes the index and the
 * user away again. */
void redis_harness_stuff_index(const redis_harness *h, const char *user,
                               long n);

#endif /* PROTEIN_REDIS_HARNESS_H */
