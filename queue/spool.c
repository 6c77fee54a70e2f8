/*
 * spool.c - outcomes (and releases of abandoned claims) that could not
 * reach Redis, kept on the node and applied later, exactly once.
 *
 * One record per file in a directory private to root: "key=value" lines,
 * written to a temporary name and renamed, so a reader never sees half a
 * record. Applying a record is one of protein's functions, which refuse a
 * second outcome for the same trial (EDONE from the token whose outcome
 * it has, else ESTATE, ETOKEN): a record whose outcome already arrived,
 * or whose trial was claimed again, is dropped, so replaying twice
 * changes nothing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pq_internal.h"

/* Suffix of a complete record; temporary files start with '.'. */
#define RECORD_SUFFIX ".rec"
/* A record is a few hundred bytes; anything larger is not ours. */
#define RECORD_MAX 8192

static const char *const kind_names[] = {"completed", "failed", "interrupted",
                                         "release"};

/* Copies src into dst (len bytes) with newlines and other control
 * characters turned into spaces, so that a value stays on its line. */
static void one_line(char *dst, size_t len, const char *src)
{
    size_t i = 0;

    for (; src && src[i] && i + 1 < len; i++)
        dst[i] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
    dst[i] = '\0';
}

/* Whether s is 1..max characters of A-Z a-z 0-9 and `extra`. */
static int safe_word(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(extra, c)))
            return 0;
    }
    return 1;
}

/* Contract in protein_queue.h. */
int pq_spool_dir_prepare(const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (!dir || dir[0] != '/') {
        snprintf(err, errlen, "spool directory '%s' is not an absolute path",
                 dir ? dir : "");
        return -1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create spool directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    if (lstat(dir, &st) != 0) {
        snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022) != 0) {
        snprintf(err, errlen,
                 "spool directory %s is not a directory owned by uid %ld and "
                 "writable by it alone: refused",
                 dir, (long)geteuid());
        return -1;
    }
    return 0;
}

/* Contract in protein_queue.h. */
int pq_spool_write(const char *dir, const pq_spool_record *rec, char *path,
                   size_t pathlen, char *err, size_t errlen)
{
    char tmp[PQ_SPOOL_PATH_MAX], text[PQ_ERROR_MAX + 1], body[RECORD_MAX];
    char token_head[9], file_sweep[PQ_SWEEP_NAME_MAX + 1];
    int fd = -1, n;
    ssize_t w;

    if (pq_spool_dir_prepare(dir, err, errlen) != 0)
        return -1;
    if ((unsigned)rec->kind > PQ_SPOOL_RELEASE ||
        !pq_sweep_name_valid(rec->sweep) ||
        (rec->kind == PQ_SPOOL_RELEASE
             ? !safe_word(rec->claim_key, 256, "._-:") ||
                   (rec->token[0] && !safe_word(rec->token, 128, ""))
             : rec->trial_id < 1 || !safe_word(rec->token, 128, ""))) {
        snprintf(err, errlen, "spool record for sweep '%s' is incomplete",
                 rec->sweep);
        return -1;
    }
    one_line(text, sizeof text, rec->text);
    n = snprintf(body, sizeof body,
                 "kind=%s\nsweep=%s\ntrial=%ld\ntoken=%s\nclaim_key=%s\n"
                 "score=%.17g\ncost=%.17g\nexit_status=%d\nwritten_at=%.6f\n"
                 "text=%s\n",
                 kind_names[rec->kind], rec->sweep, rec->trial_id, rec->token,
                 rec->claim_key, rec->score, rec->cost, rec->exit_status,
                 (double)time(NULL), text);
    if (n < 0 || (size_t)n >= sizeof body) {
        snprintf(err, errlen, "spool record too long");
        return -1;
    }
    memcpy(token_head, rec->token, sizeof token_head - 1);
    token_head[sizeof token_head - 1] = '\0';
    /* "USER/NAME" names a file as "USER+NAME" ('+' is in no sweep name). */
    snprintf(file_sweep, sizeof file_sweep, "%s", rec->sweep);
    for (char *c = strchr(file_sweep, '/'); c; c = strchr(c, '/'))
        *c = '+';
    if (rec->kind == PQ_SPOOL_RELEASE)
        n = snprintf(path, pathlen, "%s/%s.release.%s%s", dir, file_sweep,
                     rec->claim_key, RECORD_SUFFIX);
    else
        n = snprintf(path, pathlen, "%s/%s.%ld.%s%s", dir, file_sweep,
                     rec->trial_id, token_head, RECORD_SUFFIX);
    if (n < 0 || (size_t)n >= pathlen ||
        snprintf(tmp, sizeof tmp, "%s/.tmp.%ld.%ld", dir, (long)getpid(),
                 (long)rec->trial_id) >= (int)sizeof tmp) {
        snprintf(err, errlen, "spool path too long");
        return -1;
    }
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    n = (int)strlen(body);
    w = write(fd, body, (size_t)n);
    if (w != (ssize_t)n || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp,
                 w < 0 ? strerror(errno) : "short write");
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Copies field value v into dst (size bytes); -1 when it does not fit: a
 * sweep name, token or claim key cut short would name another. */
static int copy_field(char *dst, size_t size, const char *v)
{
    if (strlen(v) >= size)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* Contract in pq_internal.h. */
int pq_spool_parse_record(char *text, pq_spool_record *rec)
{
    char *line, *save = NULL, *end;
    int seen = 0;

    memset(rec, 0, sizeof *rec);
    rec->kind = (pq_spool_kind)-1;
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        const char *v;

        if (!eq)
            return -1;
        *eq = '\0';
        v = eq + 1;
        errno = 0;
        if (strcmp(line, "kind") == 0) {
            for (int k = 0; k <= PQ_SPOOL_RELEASE; k++)
                if (strcmp(v, kind_names[k]) == 0)
                    rec->kind = (pq_spool_kind)k;
            seen |= 1;
        } else if (strcmp(line, "sweep") == 0) {
            if (copy_field(rec->sweep, sizeof rec->sweep, v))
                return -1;
            seen |= 2;
        } else if (strcmp(line, "trial") == 0) {
            rec->trial_id = strtol(v, &end, 10);
            if (errno || *end)
                return -1;
        } else if (strcmp(line, "token") == 0) {
            if (copy_field(rec->token, sizeof rec->token, v))
                return -1;
        } else if (strcmp(line, "claim_key") == 0) {
            if (copy_field(rec->claim_key, sizeof rec->claim_key, v))
                return -1;
        } else if (strcmp(line, "score") == 0) {
            rec->score = strtod(v, &end);
            if (*end)
                return -1;
        } else if (strcmp(line, "cost") == 0) {
            rec->cost = strtod(v, &end);
            if (*end)
                return -1;
        } else if (strcmp(line, "exit_status") == 0) {
            long status = strtol(v, &end, 10);
            if (errno || *end || status < INT_MIN || status > INT_MAX)
                return -1;
            rec->exit_status = (int)status;
        } else if (strcmp(line, "written_at") == 0) {
            rec->written_at = strtod(v, &end);
        } else if (strcmp(line, "text") == 0) {
            snprintf(rec->text, sizeof rec->text, "%s", v);
        }
    }
    if (seen != 3 || (unsigned)rec->kind > PQ_SPOOL_RELEASE ||
        !pq_sweep_name_valid(rec->sweep))
        return -1;
    if (rec->kind == PQ_SPOOL_RELEASE)
        return rec->claim_key[0] ? 0 : -1;
    if (rec->trial_id < 1 || !rec->token[0])
        return -1;
    if (rec->kind == PQ_SPOOL_COMPLETED &&
        (!isfinite(rec->score) || !isfinite(rec->cost)))
        return -1;
    return 0;
}

/* pq_spool_apply, with a release's result (pq_release's) into *released
 * when released is not NULL. */
static int apply(pq_context *ctx, const pq_spool_record *rec,
                 pq_released *released)
{
    switch (rec->kind) {
    case PQ_SPOOL_COMPLETED:
        return pq_complete(ctx, rec->sweep, rec->trial_id, rec->token,
                           rec->score, rec->cost);
    case PQ_SPOOL_FAILED:
        return pq_fail(ctx, rec->sweep, rec->trial_id, rec->token,
                       rec->exit_status, rec->text);
    case PQ_SPOOL_INTERRUPTED:
        return pq_interrupt(ctx, rec->sweep, rec->trial_id, rec->token,
                            rec->text);
    case PQ_SPOOL_RELEASE:
        return pq_release(ctx, rec->sweep, rec->claim_key, rec->token,
                          rec->text, released);
    }
    return pq_set_error(ctx, PQ_EINVAL, "unknown spool record kind");
}

/* Contract in protein_queue.h. */
int pq_spool_apply(pq_context *ctx, const pq_spool_record *rec)
{
    return apply(ctx, rec, NULL);
}

/* apply() for a record replayed from the spool: an interrupt there may
 * be older than its trial's latest claim (pq_interrupt_call). */
static int apply_spooled(pq_context *ctx, const pq_spool_record *rec,
                         pq_released *released)
{
    if (rec->kind == PQ_SPOOL_INTERRUPTED)
        return pq_interrupt_call(ctx, rec->sweep, rec->trial_id, rec->token,
                                 rec->text, 1);
    return apply(ctx, rec, released);
}

/* Contract in protein_queue.h. */
int pq_spool_apply_try(pq_context *ctx, const pq_spool_record *rec,
                       int *unanswered, pq_released *released)
{
    pq_released got = {0, PQ_RELEASE_NONE};
    int rc;

    rc = apply(ctx, rec, &got);
    if (rc == PQ_OK && rec->kind == PQ_SPOOL_RELEASE &&
        got.outcome == PQ_RELEASE_NONE && *unanswered)
        got.outcome = PQ_RELEASE_UNKNOWN;
    if (released)
        *released = got;
    if (rc == PQ_EDONE)
        return *unanswered ? PQ_OK : PQ_ESTATE;
    *unanswered |= rc == PQ_EIO && ctx->unanswered;
    return rc;
}

/* Reads the record file `name` in the directory open as dfd, refusing
 * anything but a regular file of ours of sane size. Returns 0 with the
 * record in rec, or -1. */
static int read_record(int dfd, const char *name, pq_spool_record *rec)
{
    char text[RECORD_MAX + 1];
    struct stat st;
    ssize_t n;
    int fd, rc = -1;

    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        st.st_size <= RECORD_MAX) {
        n = read(fd, text, RECORD_MAX);
        if (n >= 0) {
            text[n] = '\0';
            rc = pq_spool_parse_record(text, rec);
        }
    }
    close(fd);
    return rc;
}

/* Hands log the line fmt makes, whole, in memory sized to it and freed
 * here: its spool path (any spelling of the directory), claim key, sweep
 * and error text together have no bound that a fixed buffer would keep,
 * and a line cut short loses its tail, what the replay did. Without the
 * memory, log gets a line saying that one was lost. */
static void log_whole(void (*log)(void *arg, const char *line), void *arg,
                      const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        log(arg, "spool: a replay's log line is lost: out of memory");
        return;
    }
    log(arg, line);
    free(line);
}

/* Contract in protein_queue.h. */
int pq_spool_replay(pq_context *ctx, const char *dir, size_t max,
                    pq_spool_stats *stats,
                    void (*log)(void *arg, const char *line), void *arg)
{
    char said[256];
    pq_released released = {0, PQ_RELEASE_NONE};
    pq_spool_record rec;
    struct dirent *de;
    DIR *d;
    int rc = PQ_OK;

    memset(stats, 0, sizeof *stats);
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? PQ_OK
                               : pq_set_error(ctx, PQ_EINVAL, "spool %s: %s",
                                              dir, strerror(errno));
    while ((de = readdir(d)) != NULL &&
           (max == 0 || stats->applied + stats->dropped < max)) {
        size_t len = strlen(de->d_name);
        int arc;

        if (de->d_name[0] == '.' || len <= strlen(RECORD_SUFFIX) ||
            strcmp(de->d_name + len - strlen(RECORD_SUFFIX), RECORD_SUFFIX))
            continue;
        if (read_record(dirfd(d), de->d_name, &rec) != 0) {
            stats->bad++;
            if (log)
                log_whole(log, arg,
                          "spool %s/%s: not a readable record; left in place",
                          dir, de->d_name);
            continue;
        }
        arc = apply_spooled(ctx, &rec, &released);
        if (arc == PQ_EIO || arc == PQ_EAUTH || arc == PQ_ENOMEM ||
            arc == PQ_EPERM) {
            stats->kept++;
            rc = arc;
            break; /* Redis (or our access) is not back yet: later */
        }
        unlinkat(dirfd(d), de->d_name, 0);
        if (arc == PQ_OK)
            stats->applied++;
        else
            stats->dropped++;
        if (log) {
            if (rec.kind == PQ_SPOOL_RELEASE) {
                pq_released_text(&released, said, sizeof said);
                log_whole(log, arg,
                          "spool %s/%s: release of claim %s in sweep %s %s%s",
                          dir, de->d_name, rec.claim_key, rec.sweep,
                          arc == PQ_OK ? "applied: " : "dropped: ",
                          arc == PQ_OK ? said : ctx->errstr);
            } else
                log_whole(log, arg, "spool %s/%s: sweep %s trial %ld %s %s%s",
                          dir, de->d_name, rec.sweep, rec.trial_id,
                          kind_names[rec.kind],
                          arc == PQ_OK ? "recorded" : "dropped: ",
                          arc == PQ_OK ? "" : ctx->errstr);
        }
    }
    closedir(d);
    return rc;
}
