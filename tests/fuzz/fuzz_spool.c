/* fuzz_spool.c - libFuzzer target for spool records (the outcomes the
 * SPANK plugin keeps on a node while Redis is down, read back by the next
 * task and by protein replay): the input is one record file's text, read
 * as pq_spool_replay reads it (pq_spool_parse_record). A record that
 * parses is written back with pq_spool_write into a private temporary
 * directory and read again. A crash, a leak, a parsed record that misses
 * what replaying it needs (abort), or one that the writer writes but that
 * does not read back the same (abort) is a finding. */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pq_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest record file pq_spool_replay reads. */
#define RECORD_MAX 8192

/* Aborts unless rec holds what pq_spool_apply needs. */
static void check(const pq_spool_record *rec)
{
    if ((unsigned)rec->kind > PQ_SPOOL_RELEASE ||
        !pq_sweep_name_valid(rec->sweep) ||
        !memchr(rec->token, '\0', sizeof rec->token) ||
        !memchr(rec->claim_key, '\0', sizeof rec->claim_key) ||
        !memchr(rec->text, '\0', sizeof rec->text))
        abort();
    if (rec->kind == PQ_SPOOL_RELEASE ? !rec->claim_key[0]
                                      : rec->trial_id < 1 || !rec->token[0])
        abort();
    if (rec->kind == PQ_SPOOL_COMPLETED &&
        (!isfinite(rec->score) || !isfinite(rec->cost)))
        abort();
}

/* The private directory records are written into; removed at exit. */
static char dir[64];

static void remove_dir(void)
{
    rmdir(dir);
}

static int same_number(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Writes rec with pq_spool_write, reads the file back and aborts unless it
 * parses to rec again (text with control characters as spaces, as the
 * writer keeps each value on its line). A record the writer refuses is
 * not a finding: the reader may take more than the writer writes. */
static void round_trip(const pq_spool_record *rec)
{
    char path[PQ_SPOOL_PATH_MAX], err[512], text[RECORD_MAX + 1];
    pq_spool_record back;
    ssize_t n;
    int fd;

    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/fuzz_spool.XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
    }
    if (pq_spool_write(dir, rec, path, sizeof path, err, sizeof err) != 0)
        return;
    fd = open(path, O_RDONLY);
    if (fd < 0 || (n = read(fd, text, RECORD_MAX)) < 0)
        abort();
    close(fd);
    unlink(path);
    text[n] = '\0';
    if (pq_spool_parse_record(text, &back) != 0)
        abort();
    for (char *c = back.text; *c; c++)
        if ((unsigned char)*c < 0x20)
            abort();
    for (size_t i = 0; rec->text[i]; i++)
        if (back.text[i] !=
            ((unsigned char)rec->text[i] < 0x20 ? ' ' : rec->text[i]))
            abort();
    if (back.kind != rec->kind || strcmp(back.sweep, rec->sweep) ||
        back.trial_id != rec->trial_id || strcmp(back.token, rec->token) ||
        strcmp(back.claim_key, rec->claim_key) ||
        !same_number(back.score, rec->score) ||
        !same_number(back.cost, rec->cost) ||
        back.exit_status != rec->exit_status ||
        strlen(back.text) != strlen(rec->text))
        abort();
}

/* Parses data as a spool record file. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[RECORD_MAX + 1];
    pq_spool_record rec;

    if (size > RECORD_MAX)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (pq_spool_parse_record(text, &rec) != 0)
        return 0;
    check(&rec);
    round_trip(&rec);
    return 0;
}
