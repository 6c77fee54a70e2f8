/*
 * error.c - protein_error, the where and why of a config error: its
 * "FILE:LINE: KEY: MESSAGE" text and its filling from a status code.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Formats err as "FILE:LINE: KEY: MESSAGE" into buf (always NUL-terminated
 * when len > 0, truncated to fit). Empty parts are left out together with
 * their separator; a line without a file reads "line N". A NULL err gives
 * an empty string. */
void protein_error_format(const protein_error *err, char *buf, size_t len)
{
    size_t used = 0;
    int n;

    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    if (!err)
        return;
    if (err->file[0] && err->line > 0)
        n = snprintf(buf, len, "%s:%d", err->file, err->line);
    else if (err->file[0])
        n = snprintf(buf, len, "%s", err->file);
    else if (err->line > 0)
        n = snprintf(buf, len, "line %d", err->line);
    else
        n = 0;
    if (n < 0)
        return;
    used = (size_t)n < len ? (size_t)n : len - 1;
    if (err->key[0] && used < len) {
        n = snprintf(buf + used, len - used, "%s%s", used ? ": " : "",
                     err->key);
        if (n < 0)
            return;
        used += (size_t)n < len - used ? (size_t)n : len - used - 1;
    }
    if (err->message[0] && used < len)
        snprintf(buf + used, len - used, "%s%s", used ? ": " : "",
                 err->message);
}

/* Fills err (may be NULL); see internal.h. */
void protein_error_set(protein_error *err, const protein_sweep_config *cfg,
                       const char *key, const char *msg)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    if (cfg != NULL && cfg->source != NULL)
        snprintf(err->file, sizeof(err->file), "%s", cfg->source);
    if (key != NULL)
        snprintf(err->key, sizeof(err->key), "%s", key);
    snprintf(err->message, sizeof(err->message), "%s", msg);
}
