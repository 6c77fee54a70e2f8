/*
 * redis_harness.c - start and stop a private redis-server for tests
 * (see redis_harness.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_harness.h"

#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 5000

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback port nobody listens on right now (bind to port 0). */
static int free_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int write_conf(const redis_harness *h)
{
    char path[512];
    snprintf(path, sizeof path, "%s/redis.conf", h->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s/redis.log\n"
            "daemonize no\nsave \"\"\nmaxclients 2000\n",
            h->port, h->dir, h->dir);
    if (h->opts.appendonly)
        fprintf(f, "appendonly yes\nappendfsync always\n");
    if (h->password[0])
        fprintf(f, "requirepass %s\n", h->password);
    if (h->opts.extra_conf)
        fprintf(f, "%s\n", h->opts.extra_conf);
    return fclose(f) == 0 ? 0 : -1;
}

static const char *server_binary(void)
{
    const char *s = getenv("REDIS_SERVER");
    return s && *s ? s : "redis-server";
}

/* 1 when the server answers PING (after AUTH when a password is set). */
static int answers(const redis_harness *h)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", h->port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r =
            h->password[0] ? redisCommand(c, "AUTH %s", h->password) : NULL;
        if (r)
            freeReplyObject(r);
        r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

/* Forks redis-server on h's config and waits until it answers. */
static int spawn(redis_harness *h)
{
    char conf[512];
    snprintf(conf, sizeof conf, "%s/redis.conf", h->dir);
    pid_t pid = fork();
    if (pid < 0) {
        perror("redis_harness: fork");
        return -1;
    }
    if (pid == 0) {
        char log[512];
        snprintf(log, sizeof log, "%s/redis.log", h->dir);
        int null = open("/dev/null", O_RDWR);
        int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        if (logfd >= 0)
            dup2(logfd, 2);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp(server_binary(), server_binary(), conf, (char *)NULL);
        fprintf(stderr, "redis_harness: cannot run %s: %s\n", server_binary(),
                strerror(errno));
        _exit(127);
    }
    h->pid = pid;
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 10) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            h->pid = 0;
            fprintf(stderr,
                    "redis_harness: redis-server exited at start (status %d; "
                    "see %s/redis.log)\n",
                    status, h->dir);
            return -1;
        }
        if (answers(h))
            return 0;
        sleep_ms(10);
    }
    fprintf(stderr,
            "redis_harness: redis-server on port %d did not answer in %d ms\n",
            h->port, START_TIMEOUT_MS);
    redis_harness_kill(h);
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int redis_harness_start(redis_harness *h, const redis_harness_options *opts)
{
    const char *tmp = getenv("TMPDIR");
    memset(h, 0, sizeof *h);
    if (opts)
        h->opts = *opts;
    if (h->opts.password)
        snprintf(h->password, sizeof h->password, "%s", h->opts.password);
    h->opts.password = NULL;
    snprintf(h->dir, sizeof h->dir, "%s/protein-redis-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(h->dir)) {
        perror("redis_harness: mkdtemp");
        h->dir[0] = '\0';
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        h->port = free_port();
        snprintf(h->url, sizeof h->url, "redis://127.0.0.1:%d", h->port);
        if (h->port > 0 && write_conf(h) == 0 && spawn(h) == 0)
            return 0;
    }
    redis_harness_stop(h);
    return -1;
}

int redis_harness_kill(redis_harness *h)
{
    if (h->pid <= 0)
        return 0;
    kill(h->pid, SIGTERM);
    for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 10) {
        if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
            h->pid = 0;
            return 0;
        }
        sleep_ms(10);
    }
    kill(h->pid, SIGKILL);
    int rc = waitpid(h->pid, NULL, 0) == h->pid ? 0 : -1;
    h->pid = 0;
    return rc;
}

int redis_harness_freeze(redis_harness *h)
{
    int status;

    if (h->pid <= 0 || kill(h->pid, SIGSTOP) != 0)
        return -1;
    /* kill() only queues the signal; the server is our child, so waitpid
     * with WUNTRACED reports the moment it has really stopped. */
    if (waitpid(h->pid, &status, WUNTRACED) != h->pid || !WIFSTOPPED(status))
        return -1;
    return 0;
}

int redis_harness_thaw(redis_harness *h)
{
    return h->pid > 0 ? kill(h->pid, SIGCONT) : -1;
}

int redis_harness_restart(redis_harness *h)
{
    if (h->pid > 0 || !h->dir[0])
        return -1;
    return spawn(h);
}

void redis_harness_stop(redis_harness *h)
{
    redis_harness_kill(h);
    if (h->dir[0]) {
        nftw(h->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        h->dir[0] = '\0';
    }
}

char *redis_harness_cli(const redis_harness *h, const char *const *args)
{
    int fds[2];
    char port[16];
    size_t n = 0, cap = 0;
    char *out = NULL;
    if (pipe(fds) != 0)
        return NULL;
    snprintf(port, sizeof port, "%d", h->port);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        const char *argv[64];
        int argc = 0;
        argv[argc++] = "redis-cli";
        argv[argc++] = "-p";
        argv[argc++] = port;
        if (h->password[0]) {
            argv[argc++] = "--no-auth-warning";
            argv[argc++] = "-a";
            argv[argc++] = h->password;
        }
        for (int i = 0; args[i] && argc < 63; i++)
            argv[argc++] = args[i];
        argv[argc] = NULL;
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("redis-cli", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(out, cap);
            if (!grown)
                break;
            out = grown;
        }
        ssize_t got = read(fds[0], out + n, cap - n - 1);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (out)
        out[n] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *redis_harness_cli_line(const redis_harness *h, const char *const *args)
{
    char *out = redis_harness_cli(h, args);

    if (!out)
        return strdup("");
    out[strcspn(out, "\n")] = '\0';
    return out;
}

int redis_harness_cli_is(const redis_harness *h, const char *want,
                         const char *const *args)
{
    char *out = redis_harness_cli_line(h, args);
    int same = out && strcmp(out, want) == 0;

    if (!same) {
        fprintf(stderr, "\n    redis-cli");
        for (int i = 0; args[i]; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, ": '%s', expected '%s'", out ? out : "", want);
    }
    free(out);
    return same;
}

/* Contract in redis_harness.h. */
void redis_harness_stuff_index(const redis_harness *h, const char *user, long n)
{
    char key[256], count[32];
    const char *fill[] = {
        "EVAL",
        "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], 0, "
        "string.format('%s/j%06d', ARGV[2], i)) end return 1",
        "1",
        key,
        count,
        user,
        NULL};
    const char *add[] = {"ZADD", "protein:users", "0", user, NULL};
    const char *drop[] = {"DEL", key, NULL};
    const char *forget[] = {"ZREM", "protein:users", user, NULL};

    snprintf(key, sizeof key, "protein:{%s/}:sweeps", user);
    snprintf(count, sizeof count, "%ld", n);
    if (n > 0) {
        free(redis_harness_cli(h, fill));
        free(redis_harness_cli(h, add));
    } else {
        free(redis_harness_cli(h, drop));
        free(redis_harness_cli(h, forget));
    }
}
