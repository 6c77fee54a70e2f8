/* fuzz_oom_cgroup.c - libFuzzer target for what the SPANK plugin reads to
 * tell an out-of-memory kill (plugin/oom.c, spank_protein_oom_kills, run
 * by root in slurmstepd): the input, cut at its first NUL byte, is the
 * text of /proc/self/cgroup and of /proc/self/mountinfo, in which "@ROOT@"
 * stands for a directory of this process's own. That directory holds a
 * cgroup v1 and a v2 tree of job 42's batch step, with counters, so that
 * a mountinfo naming it reaches the counting. A crash, a leak, a count
 * from a failed read, a failure without a reason or a reason without its
 * NUL is a finding (abort). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "spank_protein.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The directory standing for /proc/self and for the cgroup mounts. */
static char root[64];

/* Writes text to root/rel (made with its directories); aborts when it
 * cannot. */
static void put(const char *rel, const char *text)
{
    char path[512];
    FILE *fp;

    for (const char *s = strchr(rel, '/'); s; s = strchr(s + 1, '/')) {
        snprintf(path, sizeof path, "%s/%.*s", root, (int)(s - rel), rel);
        mkdir(path, 0700);
    }
    snprintf(path, sizeof path, "%s/%s", root, rel);
    fp = fopen(path, "w");
    if (!fp || fputs(text, fp) < 0 || fclose(fp) != 0)
        abort();
}

/* Removes root and everything in it, at exit (root is ours: no quote in
 * it). */
static void remove_root(void)
{
    char cmd[sizeof root + 16];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_oom_cgroup: cannot remove %s\n", root);
}

/* Makes root and its trees once: v1 under root/memory (the step and
 * task_0 counted), v2 under root/unified (task_0 counted alone, as with
 * memory_localevents). */
static void make_root(void)
{
    if (root[0])
        return;
    snprintf(root, sizeof root, "/tmp/protein-fuzz-oom.%ld", (long)getpid());
    if (mkdir(root, 0700) != 0)
        abort();
    atexit(remove_root);
    put("memory/slurm_n/uid_0/job_42/step_batch/memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    put("memory/slurm_n/uid_0/job_42/step_batch/task_0/memory.oom_control",
        "oom_kill 2\n");
    put("unified/s/job_42/step_batch/user/memory.events",
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n");
    put("unified/s/job_42/step_batch/user/task_0/memory.events",
        "oom 1\noom_kill 1\n");
}

/* Writes len bytes of text, with each "@ROOT@" replaced by root, to
 * root/name. */
static void put_expanded(const char *name, const char *text, size_t len)
{
    char *out = malloc(len * (sizeof root) + 1), *o = out;

    if (!out)
        abort();
    for (size_t i = 0; i < len;) {
        if (len - i >= 6 && memcmp(text + i, "@ROOT@", 6) == 0) {
            o += sprintf(o, "%s", root);
            i += 6;
        } else {
            *o++ = text[i++];
        }
    }
    *o = '\0';
    put(name, out);
    free(out);
}

/* Runs spank_protein_oom_kills on the input as root's cgroup and
 * mountinfo files, for the batch step and for step 0. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t first = nul ? (size_t)(nul - text) : size;
    static const uint32_t steps[] = {SLURM_BATCH_SCRIPT, 0};
    char msg[512];

    make_root();
    put_expanded("cgroup", text, first);
    put_expanded("mountinfo", nul ? nul + 1 : "", nul ? size - first - 1 : 0);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        unsigned long long kills = 99;
        int rc;

        memset(msg, 'x', sizeof msg);
        rc = spank_protein_oom_kills(root, 42, steps[k], &kills, msg,
                                     sizeof msg);
        if ((rc != 0 && rc != -1) || !memchr(msg, '\0', sizeof msg) ||
            (rc == -1 && (msg[0] == '\0' || kills != 0)))
            abort();
    }
    return 0;
}
