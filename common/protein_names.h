/*
 * protein_names.h - the rule for sweep names, one for every component: the
 * config readers (core/), the queue's keys (queue/), the plugin's
 * --sweep, proteind's --sweep and the protein command; and the rule that
 * turns a parameter name into its environment variable, which the config
 * readers check and the queue applies; and the rule for a metric's result
 * key, which the config readers check and the queue's result parser
 * applies to the keys it offers as a misnamed metric. Header-only, like
 * everything in common/.
 */
#ifndef PROTEIN_NAMES_H
#define PROTEIN_NAMES_H

#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest sweep name. */
#define PROTEIN_SWEEP_NAME_MAX 64

/* 1 when name is 1..PROTEIN_SWEEP_NAME_MAX characters of [A-Za-z0-9._-]
 * not starting with '.' or '-' (it would read as a hidden file or an
 * option), else 0 (NULL included). */
static inline int protein_sweep_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > PROTEIN_SWEEP_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

/* Longest metric (or cost) result key. */
#define PROTEIN_METRIC_NAME_MAX 64

/* 1 when the n characters at s are a key a result file can give a metric
 * by: 1..PROTEIN_METRIC_NAME_MAX printable ASCII characters other than
 * '=' (it ends the key) and '#' (it starts a comment), with no space at
 * either end (the parser trims them; W&B metrics such as "val mAP" keep
 * their inner spaces); else 0. */
static inline int protein_metric_name_valid(const char *s, size_t n)
{
    if (n < 1 || n > PROTEIN_METRIC_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < ' ' || c >= 0x7f || c == '=' || c == '#')
            return 0;
    }
    return 1;
}

/* The character that character c of a parameter name becomes in the
 * name's PROTEIN_PARAM_<NAME> variable: upper-cased, '_' for anything but
 * [A-Z0-9], so "a.b", "a_b" and "A/B" all become PROTEIN_PARAM_A_B. ASCII
 * only, whatever the locale: every component must agree. */
static inline char protein_param_env_char(char c)
{
    unsigned char u = (unsigned char)c;
    if (u >= 'a' && u <= 'z')
        return (char)(u - 'a' + 'A');
    return (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ? c : '_';
}

/* Writes what name becomes after PROTEIN_PARAM_ into out, which holds
 * strlen(name) + 1 bytes: each character by protein_param_env_char. */
static inline void protein_param_env_suffix(const char *name, char *out)
{
    size_t i;
    for (i = 0; name[i]; i++)
        out[i] = protein_param_env_char(name[i]);
    out[i] = '\0';
}

#ifdef __cplusplus
}
#endif
#endif /* PROTEIN_NAMES_H */
