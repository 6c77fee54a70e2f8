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
