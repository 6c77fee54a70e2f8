/*
 * test_plugin_stub.h - a recording stub of the spank_* / slurm_* functions
 * for the plugin's unit tests (see test_plugin_stub.c).
 */
#ifndef TEST_PLUGIN_STUB_H
#define TEST_PLUGIN_STUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <slurm/spank.h>

#define PLUGIN_STUB_MSG 2048
#define PLUGIN_STUB_MAX_ENV 64

struct plugin_stub {
    spank_context_t context;     /* what spank_context() answers */
    int register_fails;          /* spank_option_register fails */
    struct spank_option *option; /* the last option registered */
    uint32_t job_id, step_id, array_job_id, array_task_id, tasks;
    uint32_t node_id; /* S_JOB_NODEID: this node's index in the step */
    uid_t uid;
    gid_t gid;
    int exit_status; /* S_TASK_EXIT_STATUS */
    size_t n_env;    /* spank_setenv'ed variables */
    char *env_names[PLUGIN_STUB_MAX_ENV];
    char *env_values[PLUGIN_STUB_MAX_ENV];
    int n_messages; /* calls of the log functions */
    char last_error[PLUGIN_STUB_MSG];
    char last_info[PLUGIN_STUB_MSG];
    char last_log[PLUGIN_STUB_MSG];
    char last_debug[PLUGIN_STUB_MSG];
    int error_fd; /* > 0: slurm_error also writes each
                   * message and a newline here (to see
                   * the error of a task that _exits) */
};

extern struct plugin_stub plugin_stub;

/* Frees the recorded variables and zeroes everything (context: allocator). */
void plugin_stub_reset(void);

/* The value spank_setenv stored for name, or NULL. */
const char *plugin_stub_env(const char *name);

#endif /* TEST_PLUGIN_STUB_H */
