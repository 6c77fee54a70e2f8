/*
 * result_file.c - $PROTEIN_RESULT: created for the job's user when the
 * trial is claimed, read by root in slurmstepd when the task exits.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spank_protein.h"

int spank_protein_result_path(const char *result_dir, const char *tmpdir,
                              const char *claim_key, char *buf, size_t len)
{
    const char *dir = "/tmp";
    int n;

    if (result_dir != NULL && result_dir[0] == '/')
        dir = result_dir;
    else if (tmpdir != NULL && tmpdir[0] == '/')
        dir = tmpdir;
    n = snprintf(buf, len, "%s%sprotein.%s.result", dir,
                 dir[strlen(dir) - 1] == '/' ? "" : "/", claim_key);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int spank_protein_result_create(const char *path, uid_t uid, gid_t gid,
                                char *err, size_t errlen)
{
    struct stat st;
    int fd, rv = -1;

    fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
              0600);
    if (fd < 0) {
        snprintf(err, errlen, "protein: cannot create the result file %s: %s",
                 path, errno == ELOOP ? "it is a symlink" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "protein: result file %s is not a regular file",
                 path);
        goto fail;
    }
    if (st.st_uid != uid && st.st_uid != geteuid()) {
        snprintf(err, errlen, "protein: result file %s belongs to uid %ld, "
                 "not to the job's uid %ld", path, (long)st.st_uid, (long)uid);
        goto fail;
    }
    if (ftruncate(fd, 0) != 0 || fchmod(fd, 0600) != 0 ||
        (geteuid() == 0 && st.st_uid != uid && fchown(fd, uid, gid) != 0)) {
        snprintf(err, errlen, "protein: cannot prepare the result file %s: %s",
                 path, strerror(errno));
        goto fail;
    }
    rv = 0;
fail:
    close(fd);
    return rv;
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
    dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
        snprintf(err, errlen, "result file %s belongs to uid %ld, not to the "
                 "job's uid %ld: refused", path, (long)st.st_uid, (long)uid);
        goto fail;
    }
    if (read_tail(fd, st.st_size, cap, text, len) != 0) {
        snprintf(err, errlen, "result file %s: %s", path, strerror(errno));
        goto fail;
    }
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
