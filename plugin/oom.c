/*
 * oom.c - whether the kernel's out-of-memory killer killed a process of
 * this step: the oom_kill counters of the step's memory cgroup, found and
 * read as Slurm's task/cgroup does when the step ends (cgroup/v1 and v2
 * of Slurm 22.05).
 *
 * slurmstepd lives in its step's memory cgroup, beside the tasks:
 *   v1  MOUNT/slurm_NODE/uid_UID/job_JOB/step_STEP         slurmstepd
 *       MOUNT/slurm_NODE/uid_UID/job_JOB/step_STEP/task_N  task N
 *   v2  SCOPE/job_JOB/step_STEP/slurm                      slurmstepd
 *       SCOPE/job_JOB/step_STEP/user/task_N                task N
 * (STEP is batch, extern, interactive or the number), so the step is
 * found in slurmstepd's own /proc/self/cgroup, whatever the node's prefix
 * (/slurm, /slurm_NODE, the systemd scope of v2), and its directory
 * through the hierarchy's mount in /proc/self/mountinfo (CgroupMountpoint
 * need not be the default).
 *
 * v1 counts a kill only in the victim's own cgroup (memory.oom_control,
 * "oom_kill N", kernel 4.13 and later): the step's and each task_N's are
 * added up, as Slurm does. v2 counts in the victim's cgroup and its
 * ancestors (memory.events, "oom_kill N"): step_STEP/user's, as Slurm
 * reads it; when that is 0, each user/task_N's is added too, for a
 * hierarchy mounted with memory_localevents, where each cgroup counts
 * only its own.
 *
 * Every read is bounded and nothing blocks: this runs in slurmstepd at
 * task exit.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "spank_protein.h"

/* /proc/self/cgroup: one line per hierarchy. */
#define CGROUP_FILE_MAX (64 * 1024)
/* /proc/self/mountinfo: a node with many mounts is cut here (the cgroup
 * mounts come early). */
#define MOUNTINFO_MAX (1024 * 1024)
/* memory.oom_control, memory.events: a few short lines. */
#define COUNTER_FILE_MAX 4096
/* Entries of a v1 step directory looked at for task_N (files included). */
#define STEP_ENTRIES_MAX 16384

/* Reads at most cap - 1 bytes of path into buf, NUL-terminated. Returns
 * the length, or -1 (errno set). */
static ssize_t read_bounded(const char *path, char *buf, size_t cap)
{
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (got < cap - 1) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* The value of the line "key N" of a cgroup counter file's text into
 * *out. Returns 0, or -1 when no line has that key and a number. */
static int counter_value(const char *text, const char *key,
                         unsigned long long *out)
{
    size_t klen = strlen(key);
    const char *line = text;

    while (*line != '\0') {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ' &&
            line[klen + 1] >= '0' && line[klen + 1] <= '9') {
            char *end;

            errno = 0;
            *out = strtoull(line + klen + 1, &end, 10);
            if (errno == 0 && (*end == '\n' || *end == '\0'))
                return 0;
        }
        line = strchr(line, '\n');
        if (line == NULL)
            break;
        line++;
    }
    return -1;
}

/* Adds the oom_kill counter of the file DIR/NAME (NAME may hold a
 * subdirectory) to *sum. Returns 0, or -1 when it cannot be read or has
 * no counter. */
static int add_counter(const char *dir, const char *name,
                       unsigned long long *sum)
{
    char path[PATH_MAX], text[COUNTER_FILE_MAX];
    unsigned long long n;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        read_bounded(path, text, sizeof(text)) < 0 ||
        counter_value(text, "oom_kill", &n) != 0)
        return -1;
    *sum += n;
    return 0;
}

/* Whether the comma-separated list of len bytes has the item. */
static int has_item(const char *list, size_t len, const char *item)
{
    const char *end = list + len;
    size_t n = strlen(item);

    while (list < end) {
        const char *comma = memchr(list, ',', (size_t)(end - list));
        size_t l = comma ? (size_t)(comma - list) : (size_t)(end - list);

        if (l == n && strncmp(list, item, n) == 0)
            return 1;
        list += l + 1;
    }
    return 0;
}

/* Finds the memory controller's line in the text of /proc/PID/cgroup
 * ("ID:CONTROLLERS:PATH"): a v1 hierarchy naming memory, else the v2
 * line ("0::PATH"), where the memory controller is when no v1 hierarchy
 * has it. Copies PATH into path (len bytes) and returns 1 or 2, the
 * version; 0 when there is no such line or its path does not fit. */
static int memory_cgroup(const char *text, char *path, size_t len)
{
    const char *line, *next, *found = NULL;
    int version = 0;

    for (line = text; *line != '\0' && version != 1; line = next) {
        size_t end = strcspn(line, "\n");
        const char *c1 = memchr(line, ':', end), *c2;

        next = line + end + (line[end] == '\n');
        if (c1 == NULL ||
            (c2 = memchr(c1 + 1, ':', end - (size_t)(c1 + 1 - line))) == NULL)
            continue;
        if (has_item(c1 + 1, (size_t)(c2 - c1 - 1), "memory"))
            version = 1;
        else if (c2 == c1 + 1 && c1 == line + 1 && line[0] == '0')
            version = 2; /* unless a v1 line follows */
        else
            continue;
        found = c2 + 1;
    }
    if (found == NULL || strcspn(found, "\n") >= len)
        return 0;
    snprintf(path, len, "%.*s", (int)strcspn(found, "\n"), found);
    return version;
}

/* Cuts path (a cgroup path) just after its ".../job_JOB/step_STEP" part,
 * STEP named as Slurm names it. Returns 0, or -1 when path has none. */
static int cut_at_step(char *path, uint32_t job_id, uint32_t step_id)
{
    char step[16], needle[64];
    char *at = path;
    size_t n;

    if (step_id == SLURM_BATCH_SCRIPT)
        snprintf(step, sizeof(step), "batch");
    else if (step_id == SLURM_EXTERN_CONT)
        snprintf(step, sizeof(step), "extern");
    else if (step_id == SLURM_INTERACTIVE_STEP)
        snprintf(step, sizeof(step), "interactive");
    else
        snprintf(step, sizeof(step), "%u", (unsigned)step_id);
    n = (size_t)snprintf(needle, sizeof(needle), "/job_%u/step_%s",
                         (unsigned)job_id, step);
    while ((at = strstr(at, needle)) != NULL) {
        if (at[n] == '\0' || at[n] == '/') {
            at[n] = '\0';
            return 0;
        }
        at += n;
    }
    return -1;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
    char *out = s;

    for (; *s != '\0'; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
            s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + s[3] - '0');
            s += 3;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* Finds, in the text of /proc/PID/mountinfo (modified: split in place),
 * the mount of the memory hierarchy (version 1: a "cgroup" mount with
 * the memory option; 2: the "cgroup2" mount) that holds cgroup_path, and
 * writes the directory of cgroup_path under it into dir (len bytes).
 * Returns 0, or -1 when none holds it. A last line without its newline
 * (a file cut at MOUNTINFO_MAX) is not read. */
static int cgroup_dir(char *mountinfo, int version, const char *cgroup_path,
                      char *dir, size_t len)
{
    char *line = mountinfo, *nl;

    for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        char *f[64], *save = NULL, *tok;
        const char *rel;
        size_t nf = 0, dash;

        *nl = '\0';
        for (tok = strtok_r(line, " ", &save); tok != NULL && nf < 64;
             tok = strtok_r(NULL, " ", &save))
            f[nf++] = tok;
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE
         * SOURCE SUPER-OPTIONS */
        for (dash = 6; dash < nf && strcmp(f[dash], "-") != 0; dash++)
            ;
        if (dash + 3 >= nf)
            continue;
        if (version == 1
                ? strcmp(f[dash + 1], "cgroup") != 0 ||
                      !has_item(f[dash + 3], strlen(f[dash + 3]), "memory")
                : strcmp(f[dash + 1], "cgroup2") != 0)
            continue;
        unescape_octal(f[3]);
        unescape_octal(f[4]);
        /* a mount of a subtree (ROOT not /) holds the paths under it */
        rel = cgroup_path;
        if (strcmp(f[3], "/") != 0) {
            size_t r = strlen(f[3]);

            if (strncmp(cgroup_path, f[3], r) != 0 ||
                (cgroup_path[r] != '/' && cgroup_path[r] != '\0'))
                continue;
            rel += r;
        }
        if (snprintf(dir, len, "%s%s", strcmp(f[4], "/") == 0 ? "" : f[4],
                     rel) >= (int)len)
            return -1;
        return 0;
    }
    return -1;
}

/* Adds the oom_kill counters (the file `counter` of each) of the task_N
 * directories in dir to *sum (a task whose counter cannot be read adds
 * nothing). */
static void add_task_counters(const char *dir, const char *counter,
                              unsigned long long *sum)
{
    struct dirent *de;
    char name[300];
    size_t seen = 0;
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL && seen++ < STEP_ENTRIES_MAX) {
        if (strncmp(de->d_name, "task_", 5) != 0 ||
            (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
            continue;
        snprintf(name, sizeof(name), "%s/%s", de->d_name, counter);
        add_counter(dir, name, sum);
    }
    closedir(d);
}

int spank_protein_oom_kills(const char *proc_self, uint32_t job_id,
                            uint32_t step_id, unsigned long long *kills,
                            char *msg, size_t msglen)
{
    char path[PATH_MAX], cgpath[PATH_MAX], dir[PATH_MAX];
    char *mountinfo = NULL, *text = NULL;
    int version, rv = -1;

    *kills = 0;
    text = malloc(CGROUP_FILE_MAX);
    mountinfo = malloc(MOUNTINFO_MAX);
    if (text == NULL || mountinfo == NULL) {
        snprintf(msg, msglen, "out of memory");
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/cgroup", proc_self);
    if (read_bounded(path, text, CGROUP_FILE_MAX) < 0) {
        snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    version = memory_cgroup(text, cgpath, sizeof(cgpath));
    if (version == 0) {
        snprintf(msg, msglen, "no memory cgroup in %s", path);
        goto fail;
    }
    if (cut_at_step(cgpath, job_id, step_id) != 0) {
        snprintf(msg, msglen,
                 "slurmstepd's memory cgroup %s is not its step's (no "
                 "task/cgroup memory enforcement?)",
                 cgpath);
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/mountinfo", proc_self);
    if (read_bounded(path, mountinfo, MOUNTINFO_MAX) < 0) {
        snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (cgroup_dir(mountinfo, version, cgpath, dir, sizeof(dir)) != 0) {
        snprintf(msg, msglen, "no cgroup v%d mount holding %s in %s", version,
                 cgpath, path);
        goto fail;
    }
    if (add_counter(dir,
                    version == 1 ? "memory.oom_control" : "user/memory.events",
                    kills) != 0) {
        snprintf(msg, msglen, "no oom_kill counter in %s/%s", dir,
                 version == 1 ? "memory.oom_control" : "user/memory.events");
        goto fail;
    }
    if (version == 1) {
        add_task_counters(dir, "memory.oom_control", kills);
    } else if (*kills == 0 && snprintf(path, sizeof(path), "%s/user", dir) <
                                  (int)sizeof(path)) {
        add_task_counters(path, "memory.events", kills);
    }
    snprintf(msg, msglen, "%s", dir);
    rv = 0;
fail:
    free(text);
    free(mountinfo);
    return rv;
}
