/*
 * plugin_step.c - one batch step of a Slurm job through the SPANK plugin's
 * real entry points (the spank_* functions stubbed, tests/unit/
 * test_plugin_stub.c), for tests/integration/test_identity.sh: it shows
 * what a user's job gets from the plugin, which holds the privileged
 * service credentials, without a Slurm cluster.
 *
 *   plugin_step SWEEP UID JOBID SCORE PLUGSTACK_ARGS...
 *
 * claims a trial of --sweep=SWEEP for a job of UID (array task JOBID_0),
 * prints "trial ID token TOKEN", then appends score=SCORE to the result
 * file and ends the step with status 0, so that the plugin records the
 * outcome. SCORE "-" leaves the trial running (the step never ends).
 * Exits 1 with the plugin's message on stderr when the claim is refused.
 * SCORE "submit" instead checks --sweep=SWEEP as sbatch does, as the
 * calling user (run it as them): exits 0 when the submission would go
 * ahead, 1 when refused; the plugin's messages go to stderr.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slurm/slurm.h>

#include "test_plugin_stub.h"

int main(int argc, char **argv)
{
    const char *trial, *token, *result;
    struct passwd *pw;
    FILE *f;

    if (argc < 5) {
        fprintf(stderr,
                "usage: plugin_step SWEEP UID JOBID SCORE PLUGSTACK_ARGS...\n");
        return 2;
    }
    pw = getpwuid((uid_t)strtoul(argv[2], NULL, 10));
    if (!pw) {
        fprintf(stderr, "plugin_step: no user with uid %s\n", argv[2]);
        return 2;
    }
    plugin_stub_reset();
    if (strcmp(argv[4], "submit") == 0) {
        plugin_stub.context = S_CTX_LOCAL;
        plugin_stub.error_fd = 2;
        if (slurm_spank_init(NULL, argc - 5, argv + 5) != 0 ||
            !plugin_stub.option)
            return 2;
        int rc = plugin_stub.option->cb(0, argv[1], 0);
        if (plugin_stub.last_info[0])
            fprintf(stderr, "%s\n", plugin_stub.last_info);
        return rc == 0 ? 0 : 1;
    }
    plugin_stub.context = S_CTX_REMOTE;
    plugin_stub.error_fd = 2;
    plugin_stub.job_id = (uint32_t)strtoul(argv[3], NULL, 10);
    plugin_stub.step_id = SLURM_BATCH_SCRIPT;
    plugin_stub.array_job_id = plugin_stub.job_id;
    plugin_stub.array_task_id = 0;
    plugin_stub.tasks = 1;
    plugin_stub.uid = pw->pw_uid;
    plugin_stub.gid = pw->pw_gid;
    if (slurm_spank_init(NULL, argc - 5, argv + 5) != 0 ||
        !plugin_stub.option || plugin_stub.option->cb(0, argv[1], 1) != 0 ||
        slurm_spank_init_post_opt(NULL, 0, NULL) != 0 ||
        slurm_spank_user_init(NULL, 0, NULL) != 0) {
        fprintf(stderr, "plugin_step: the plugin failed to start the step\n");
        return 2;
    }
    /* A refused claim: task_init prints the reason and exits 1. */
    slurm_spank_task_init(NULL, 0, NULL);
    trial = plugin_stub_env("PROTEIN_TRIAL");
    token = plugin_stub_env("PROTEIN_TOKEN");
    result = plugin_stub_env("PROTEIN_RESULT");
    if (!trial || !token || !result)
        return 1;
    printf("trial %s token %s\n", trial, token);
    fflush(stdout);
    if (strcmp(argv[4], "-") == 0)
        return 0;
    f = fopen(result, "a");
    if (!f || fprintf(f, "score=%s\n", argv[4]) < 0 || fclose(f) != 0) {
        fprintf(stderr, "plugin_step: cannot write %s\n", result);
        return 2;
    }
    plugin_stub.exit_status = 0;
    slurm_spank_task_exit(NULL, 0, NULL);
    slurm_spank_exit(NULL, 0, NULL);
    return 0;
}
