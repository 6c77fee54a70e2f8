/*
 * test_plugin_stub.c - the spank_* and slurm_* functions that slurmstepd,
 * sbatch and srun provide to spank_protein.so, for the plugin's unit
 * tests. They record what the plugin did (messages, exported variables,
 * the registered option) in `plugin_stub`, and serve job items from it.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "test_plugin_stub.h"

struct plugin_stub plugin_stub;

void plugin_stub_reset(void)
{
    size_t i;

    for (i = 0; i < plugin_stub.n_env; i++) {
        free(plugin_stub.env_names[i]);
        free(plugin_stub.env_values[i]);
    }
    memset(&plugin_stub, 0, sizeof(plugin_stub));
    plugin_stub.context = S_CTX_ALLOCATOR;
}

const char *plugin_stub_env(const char *name)
{
    size_t i;

    for (i = 0; i < plugin_stub.n_env; i++)
        if (strcmp(plugin_stub.env_names[i], name) == 0)
            return plugin_stub.env_values[i];
    return NULL;
}

spank_context_t spank_context(void)
{
    return plugin_stub.context;
}

spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
    (void)sp;
    plugin_stub.option = opt;
    return plugin_stub.register_fails ? ESPANK_BAD_ARG : ESPANK_SUCCESS;
}

spank_err_t spank_get_item(spank_t sp, spank_item_t item, ...)
{
    va_list ap;
    spank_err_t rc = ESPANK_SUCCESS;

    (void)sp;
    va_start(ap, item);
    switch (item) {
    case S_JOB_ID: *va_arg(ap, uint32_t *) = plugin_stub.job_id; break;
    case S_JOB_STEPID: *va_arg(ap, uint32_t *) = plugin_stub.step_id; break;
    case S_JOB_ARRAY_ID:
        *va_arg(ap, uint32_t *) = plugin_stub.array_job_id;
        break;
    case S_JOB_ARRAY_TASK_ID:
        *va_arg(ap, uint32_t *) = plugin_stub.array_task_id;
        break;
    case S_JOB_LOCAL_TASK_COUNT:
        *va_arg(ap, uint32_t *) = plugin_stub.tasks;
        break;
    case S_JOB_NODEID: *va_arg(ap, uint32_t *) = plugin_stub.node_id; break;
    case S_JOB_UID: *va_arg(ap, uid_t *) = plugin_stub.uid; break;
    case S_JOB_GID: *va_arg(ap, gid_t *) = plugin_stub.gid; break;
    case S_TASK_ID: *va_arg(ap, int *) = 0; break;
    case S_TASK_EXIT_STATUS:
        *va_arg(ap, int *) = plugin_stub.exit_status;
        break;
    default: rc = ESPANK_NOT_AVAIL; break;
    }
    va_end(ap);
    return rc;
}

spank_err_t spank_getenv(spank_t sp, const char *var, char *buf, int len)
{
    const char *v = plugin_stub_env(var);

    (void)sp;
    if (v == NULL)
        return ESPANK_ENV_NOEXIST;
    if ((int)strlen(v) >= len)
        return ESPANK_NOSPACE;
    strcpy(buf, v);
    return ESPANK_SUCCESS;
}

spank_err_t spank_setenv(spank_t sp, const char *var, const char *val,
                         int overwrite)
{
    size_t i;

    (void)sp;
    for (i = 0; i < plugin_stub.n_env; i++) {
        if (strcmp(plugin_stub.env_names[i], var) == 0) {
            if (!overwrite)
                return ESPANK_ENV_EXISTS;
            free(plugin_stub.env_values[i]);
            plugin_stub.env_values[i] = strdup(val);
            return ESPANK_SUCCESS;
        }
    }
    if (plugin_stub.n_env == PLUGIN_STUB_MAX_ENV)
        return ESPANK_NOSPACE;
    plugin_stub.env_names[plugin_stub.n_env] = strdup(var);
    plugin_stub.env_values[plugin_stub.n_env] = strdup(val);
    plugin_stub.n_env++;
    return ESPANK_SUCCESS;
}

const char *spank_strerror(spank_err_t err)
{
    return err == ESPANK_SUCCESS ? "Success" : "stub error";
}

static void record(char *dst, const char *fmt, va_list ap)
{
    vsnprintf(dst, PLUGIN_STUB_MSG, fmt, ap);
    plugin_stub.n_messages++;
}

void slurm_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(plugin_stub.last_error, fmt, ap);
    va_end(ap);
    if (plugin_stub.error_fd > 0 &&
        (write(plugin_stub.error_fd, plugin_stub.last_error,
               strlen(plugin_stub.last_error)) < 0 ||
         write(plugin_stub.error_fd, "\n", 1) < 0))
        plugin_stub.error_fd = 0;
}

void slurm_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(plugin_stub.last_info, fmt, ap);
    va_end(ap);
}

void slurm_debug(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(plugin_stub.last_debug, fmt, ap);
    va_end(ap);
}

void slurm_spank_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(plugin_stub.last_log, fmt, ap);
    va_end(ap);
}

/* The job as plugin_stub says; its derived exit code the step's end's
 * once slurm_get_job_steps stopped listing the step. */
int slurm_load_job(job_info_msg_t **resp, uint32_t job_id, uint16_t flags)
{
    job_info_msg_t *msg;

    (void)flags;
    plugin_stub.n_load_job++;
    if (!plugin_stub.ctld_up)
        return -1;
    msg = calloc(1, sizeof(*msg));
    msg->job_array = calloc(1, sizeof(*msg->job_array));
    msg->record_count = 1;
    msg->job_array[0].job_id = job_id;
    msg->job_array[0].job_state = plugin_stub.job_state;
    msg->job_array[0].restart_cnt = plugin_stub.restarts;
    msg->job_array[0].derived_ec =
        plugin_stub.n_get_steps > plugin_stub.step_calls
            ? plugin_stub.derived_ec_end
            : plugin_stub.derived_ec;
    *resp = msg;
    return 0;
}

void slurm_free_job_info_msg(job_info_msg_t *msg)
{
    free(msg->job_array);
    free(msg);
}

/* The batch step, and step 0 on the first step_calls calls. */
int slurm_get_job_steps(time_t update_time, uint32_t job_id, uint32_t step_id,
                        job_step_info_response_msg_t **resp, uint16_t flags)
{
    job_step_info_response_msg_t *msg;

    (void)update_time;
    (void)step_id;
    (void)flags;
    plugin_stub.n_get_steps++;
    if (!plugin_stub.ctld_up)
        return -1;
    msg = calloc(1, sizeof(*msg));
    msg->job_steps = calloc(2, sizeof(*msg->job_steps));
    msg->job_steps[0].step_id.job_id = job_id;
    msg->job_steps[0].step_id.step_id = SLURM_BATCH_SCRIPT;
    msg->job_step_count = 1;
    if (plugin_stub.n_get_steps <= plugin_stub.step_calls) {
        msg->job_steps[1].step_id.job_id = job_id;
        msg->job_steps[1].step_id.step_id = 0;
        msg->job_step_count = 2;
    }
    *resp = msg;
    return 0;
}

void slurm_free_job_step_info_response_msg(job_step_info_response_msg_t *msg)
{
    free(msg->job_steps);
    free(msg);
}
