/* replay.c - runs a libFuzzer target's LLVMFuzzerTestOneInput over files, as
 * a plain program for make check: with arguments, over each file or
 * directory named; without, over $top_srcdir/tests/fuzz/corpus/TARGET,
 * TARGET being the FUZZ_TARGET this copy was compiled with. Exits 1 when
 * a file or directory cannot be read or the corpus is empty (a crash ends
 * the run by itself), 0 otherwise. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;
    int rc = 1;

    if (!fp) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0)
        goto done;
    buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size)
        goto done;
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    fclose(fp);
    return rc;
}

static int replay_path(const char *path, size_t *count)
{
    struct stat st;
    struct dirent *e;
    DIR *dir;
    char child[4096];
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    if (!(dir = opendir(path))) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        rc |= replay_path(child, count);
    }
    closedir(dir);
    return rc;
}

/* Replays the files and directories in argv, or the source corpus. */
int main(int argc, char **argv)
{
    const char *top = getenv("top_srcdir");
    char corpus[4096];
    size_t count = 0;
    int i, rc = 0;

    if (argc > 1) {
        for (i = 1; i < argc; i++)
            rc |= replay_path(argv[i], &count);
    } else {
        snprintf(corpus, sizeof corpus, "%s/tests/fuzz/corpus/%s",
                 top ? top : ".", FUZZ_TARGET);
        rc = replay_path(corpus, &count);
    }
    printf("replayed %zu inputs\n", count);
    return rc || count == 0;
}
