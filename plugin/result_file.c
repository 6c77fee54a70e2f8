/*
 * result_file.c - $PROTEIN_RESULT: created for the job's user before the
 * trial is claimed, read by root in slurmstepd when the task exits.
 *
 * The file lives in a directory private to the user (DIR/protein-UID,
 * mode 0700, made on first use) under an unpredictable name created with
 * O_EXCL, so that another user can neither pre-create, read nor replace
 * it. When DIR/protein-UID is taken by something else (another user's
 * directory, a symlink), the step makes a private directory of its own
 * (DIR/protein-UID.XXXXXX) instead of failing.
 *
 * The reader trusts nothing in the file's place: it opens the file
 * relative to its directory with O_NOFOLLOW and O_NONBLOCK (no symlink,
 * no FIFO hang), accepts only a regular file owned by the job's uid, reads
 * a bounded number of bytes and removes the file through the same
 * directory handle.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spank_protein.h"

/* The directory that holds per-user result directories: result_dir,
 * else an absolute $TMPDIR, else /tmp. */
static const char *result_base(const char *result_dir, const char *tmpdir)
{
    if (result_dir != NULL && result_dir[0] == '/')
        return result_dir;
    if (tmpdir != NULL && tmpdir[0] == '/')
        return tmpdir;
    return "/tmp";
}

/* Fills hex with 2 * n random hex digits and a NUL. Returns 0 or -1. */
static int random_hex(char *hex, size_t n)
{
    unsigned char raw[16];
    size_t got = 0, i;

    if (n > sizeof(raw))
        return -1;
    while (got < n) {
        ssize_t r = getrandom(raw + got, n - got, 0);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    for (i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* Opens dir (no symlink) and makes sure that it is a directory owned by
 * uid and private to it: a directory this process just made as root is
 * given to uid:gid first, and group or other permission bits of uid's own
 * directory are removed. Returns the descriptor, or -1 with the reason in
 * err. */
static int open_private_dir(const char *dir, int made, uid_t uid, gid_t gid,
                            char *err, size_t errlen)
{
    struct stat st;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (dfd < 0) {
        snprintf(err, errlen, "%s: %s", dir,
                 errno == ELOOP || errno == ENOTDIR
                     ? "not a directory (a symlink or a file)"
                     : strerror(errno));
        return -1;
    }
    if (fstat(dfd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    if (made && st.st_uid != uid && st.st_uid == geteuid() &&
        fchown(dfd, uid, gid) == 0)
        st.st_uid = uid;
    if (st.st_uid != uid) {
        snprintf(err, errlen, "%s belongs to uid %ld, not to the job's uid %ld",
                 dir, (long)st.st_uid, (long)uid);
        goto fail;
    }
    if ((st.st_mode & 077) != 0 && fchmod(dfd, 0700) != 0) {
        snprintf(err, errlen, "%s: cannot make it private: %s", dir,
                 strerror(errno));
        goto fail;
    }
    return dfd;
fail:
    close(dfd);
    return -1;
}

int spank_protein_result_create(const char *result_dir, const char *tmpdir,
                                const char *claim_key, uid_t uid, gid_t gid,
                                spank_protein_result_file *out, char *err,
                                size_t errlen)
{
    const char *base = result_base(result_dir, tmpdir);
    const char *sep = base[strlen(base) - 1] == '/' ? "" : "/";
    char dir[sizeof(out->path)], why[sizeof(out->path) + 160];
    char hex[33];
    int dfd, fd = -1, n, tries, made;

    memset(out, 0, sizeof(*out));
    n = snprintf(dir, sizeof(dir), "%s%sprotein-%ld", base, sep, (long)uid);
    if (n < 0 || (size_t)n >= sizeof(dir) - 64) {
        snprintf(err, errlen, "protein: result directory %s: path too long",
                 base);
        return -1;
    }
    made = mkdir(dir, 0700) == 0;
    if (!made && errno != EEXIST) {
        snprintf(why, sizeof(why), "cannot make the directory %s: %s", dir,
                 strerror(errno));
        dfd = -1;
    } else if ((dfd = open_private_dir(dir, made, uid, gid, why, sizeof(why))) <
               0) {
        /* Taken by someone else (or not a directory): a private directory
         * of this step's own, so that nobody can make the job fail. */
        slurm_info("protein: %s; this step uses a directory of its own", why);
        snprintf(dir + n, sizeof(dir) - (size_t)n, ".XXXXXX");
        if (mkdtemp(dir) != NULL) {
            out->own_dir = 1;
            dfd = open_private_dir(dir, 1, uid, gid, why, sizeof(why));
        } else {
            snprintf(why, sizeof(why), "cannot make a directory %s: %s", dir,
                     strerror(errno));
        }
    }
    if (dfd < 0) {
        snprintf(err, errlen, "protein: cannot create the result file: %s",
                 why);
        goto fail;
    }
    for (tries = 0; fd < 0 && tries < 4; tries++) {
        if (random_hex(hex, 8) != 0) {
            snprintf(err, errlen,
                     "protein: cannot create the result file: getrandom: %s",
                     strerror(errno));
            goto fail;
        }
        n = snprintf(out->path, sizeof(out->path), "%s/protein.%s.%s.result",
                     dir, claim_key, hex);
        if (n < 0 || (size_t)n >= sizeof(out->path)) {
            snprintf(err, errlen, "protein: result file path in %s too long",
                     dir);
            goto fail;
        }
        fd = openat(dfd, strrchr(out->path, '/') + 1,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            snprintf(err, errlen,
                     "protein: cannot create the result file %s: %s", out->path,
                     strerror(errno));
            goto fail;
        }
    }
    if (fd < 0) {
        snprintf(err, errlen,
                 "protein: cannot create a result file with a fresh name in %s",
                 dir);
        goto fail;
    }
    if (geteuid() == 0 && uid != 0 && fchown(fd, uid, gid) != 0) {
        snprintf(err, errlen,
                 "protein: cannot give the result file %s to uid %ld: %s",
                 out->path, (long)uid, strerror(errno));
        close(fd);
        unlinkat(dfd, strrchr(out->path, '/') + 1, 0);
        goto fail;
    }
    close(fd);
    close(dfd);
    return 0;
fail:
    if (dfd >= 0)
        close(dfd);
    if (out->own_dir)
        rmdir(dir);
    memset(out, 0, sizeof(*out));
    return -1;
}

void spank_protein_result_discard(const spank_protein_result_file *f)
{
    char dir[sizeof(f->path)];
    char *slash;

    if (f->path[0] == '\0')
        return;
    unlink(f->path);
    if (!f->own_dir)
        return;
    snprintf(dir, sizeof(dir), "%s", f->path);
    slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(dir);
    }
}

/* Reads up to cap bytes at the end of fd (of size `size`) into a new
 * NUL-terminated buffer, dropping a partial first line when it skipped
 * anything. Returns 0 or -1 (errno set). */
static int read_tail(int fd, off_t size, size_t cap, char **text, size_t *len)
{
    size_t want = (size_t)size > cap ? cap : (size_t)size;
    off_t start = size - (off_t)want;
    size_t got = 0;
    char *buf = malloc(want + 1);

    if (buf == NULL)
        return -1;
    while (got < want) {
        ssize_t n = pread(fd, buf + got, want - got, start + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (start > 0) {
        char *nl = memchr(buf, '\n', got);
        size_t skip = nl ? (size_t)(nl - buf) + 1 : got;

        memmove(buf, buf + skip, got - skip + 1);
        got -= skip;
    }
    *text = buf;
    *len = got;
    return 0;
}

int spank_protein_result_read(const char *path, uid_t uid, size_t cap,
                              int unlink_after, char **text, size_t *len,
                              char *err, size_t errlen)
{
    char dir[SPANK_PROTEIN_PATH_MAX + 64];
    const char *slash = strrchr(path, '/');
    const char *base;
    struct stat st;
    int dfd = -1, fd = -1, rv = -1;

    *text = NULL;
    *len = 0;
    if (slash == NULL || slash[1] == '\0' ||
        (size_t)(slash - path) >= sizeof(dir)) {
        snprintf(err, errlen, "bad result file path %s", path);
        return -1;
    }
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    base = slash + 1;
    dfd = open(dir[0] ? dir : "/",
               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "result directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, errlen, "result file %s is a symlink: refused", path);
        else
            snprintf(err, errlen, "result file %s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "result file %s is not a regular file: refused",
                 path);
        goto fail;
    }
    if (st.st_uid != uid) {
        snprintf(err, errlen,
                 "result file %s belongs to uid %ld, not to the job's uid %ld: "
                 "refused",
                 path, (long)st.st_uid, (long)uid);
        goto fail;
    }
    if (read_tail(fd, st.st_size, cap, text, len) != 0) {
        snprintf(err, errlen, "result file %s: %s", path, strerror(errno));
        goto fail;
    }
    /* said if the metric is not in what was read */
    if ((uintmax_t)st.st_size > cap)
        snprintf(err, errlen,
                 "no metric line in the last %zu bytes of the %ju-byte result "
                 "file (only those are read)",
                 cap, (uintmax_t)st.st_size);
    if (unlink_after)
        unlinkat(dfd, base, 0);
    rv = 0;
fail:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    return rv;
}
