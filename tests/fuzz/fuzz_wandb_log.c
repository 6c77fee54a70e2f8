/* fuzz_wandb_log.c - libFuzzer target for the offline .wandb log of a
 * W&B run (cli_wandb_read_log: LevelDB log blocks holding protobuf
 * Records), which `protein run` and `protein agent` read back for the
 * sweep metric of a user's training script. The input is read as the
 * whole file and, since a mutated record rarely keeps its CRC, also as
 * one Record's bytes (cli_wandb_take_record). A crash, a leak, a hang, or
 * a value taken that is not a finite number (abort) is a finding. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless every value m holds is finite. */
static void check_metric(const cli_wandb_metric *m)
{
    for (size_t i = 0; i < m->n_history; i++)
        if (!isfinite(m->history[i]))
            abort();
    if (m->has_summary && !isfinite(m->summary))
        abort();
}

/* Reads data as a .wandb log (through a memory file, the reader takes a
 * path) and as one Record, for two metric names, a plain and a nested
 * one. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const metrics[] = {"loss", "eval.loss"};
    cli_wandb_metric m = {0};
    char path[64];
    int fd = memfd_create("fuzz_wandb_log", MFD_CLOEXEC);

    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        cli_wandb_take_record(data, size, metrics[i], &m);
        check_metric(&m);
    }
    if (fd < 0)
        goto done;
    if (write(fd, data, size) == (ssize_t)size) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
            if (cli_wandb_read_log(path, metrics[i], &m) == 0)
                check_metric(&m);
    }
    close(fd);
done:
    cli_wandb_metric_free(&m);
    return 0;
}
