/*
 * objective.c - a small trial program for examples/sweeps/quadratic.yaml.
 *
 * It shows the whole environment contract without any library: it reads
 * its hyperparameters from PROTEIN_PARAM_<NAME> (falling back to the JSON
 * object in PROTEIN_PARAMS, then to a default), computes a noisy score with
 * a known optimum, sleeps for a few milliseconds that grow with `layers`
 * (the cost-like parameter) and appends `score=` and `cost=` lines to the file
 * named by $PROTEIN_RESULT (to stdout when it is unset).
 *
 * Parameters (those of examples/sweeps/quadratic.yaml): lr (log scale),
 * x (uniform), layers (integer; the cost-like one: the run sleeps about
 * 2 + 4 * layers milliseconds and reports that as its cost in seconds) and
 * optimizer (adam, sgd, rmsprop). The score is maximal (about 1.0) at
 * lr = 1e-3, x = 0.5, layers = 4, optimizer = adam. The noise (sd 0.01) is
 * seeded by $PROTEIN_TRIAL, so a trial's score is reproducible.
 *
 * Exit status: 0 on success, 1 when the result file cannot be written.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The value text of parameter `name`: $PROTEIN_PARAM_<NAME>, else the raw
 * value in $PROTEIN_PARAMS (copied into buf, quotes removed), else NULL. */
static const char *param_text(const char *name, char *buf, size_t len)
{
    char var[128] = "PROTEIN_PARAM_";
    size_t n = strlen(var), i;
    const char *json, *at, *end;
    char key[128];

    for (i = 0; name[i] && n + 1 < sizeof(var); i++)
        var[n++] = isalnum((unsigned char)name[i])
                       ? (char)toupper((unsigned char)name[i])
                       : '_';
    var[n] = '\0';
    if (getenv(var))
        return getenv(var);
    json = getenv("PROTEIN_PARAMS");
    if (!json)
        return NULL;
    snprintf(key, sizeof(key), "\"%s\"", name);
    at = strstr(json, key);
    if (!at)
        return NULL;
    at += strlen(key);
    while (*at == ' ' || *at == ':')
        at++;
    if (*at == '"') {
        at++;
        end = strchr(at, '"');
    } else {
        end = at + strcspn(at, ",} ");
    }
    if (!end || (size_t)(end - at) >= len)
        return NULL;
    memcpy(buf, at, (size_t)(end - at));
    buf[end - at] = '\0';
    return buf;
}

static double param_number(const char *name, double fallback)
{
    char buf[128];
    const char *text = param_text(name, buf, sizeof(buf));
    char *end;
    double v;

    if (!text)
        return fallback;
    errno = 0;
    v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "objective: parameter %s: '%s' is not a number\n", name,
                text);
        return fallback;
    }
    return v;
}

/* Standard normal noise from a 64-bit seed (splitmix64 + Box-Muller). */
static double noise(uint64_t seed)
{
    uint64_t z[2];
    int i;

    for (i = 0; i < 2; i++) {
        seed += 0x9e3779b97f4a7c15ULL;
        z[i] = seed;
        z[i] = (z[i] ^ (z[i] >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z[i] = (z[i] ^ (z[i] >> 27)) * 0x94d049bb133111ebULL;
        z[i] ^= z[i] >> 31;
    }
    return sqrt(-2.0 * log(((double)(z[0] >> 11) + 1.0) / 9007199254740993.0)) *
           cos(2.0 * M_PI * (double)(z[1] >> 11) / 9007199254740992.0);
}

int main(void)
{
    char buf[128];
    const char *opt_text = param_text("optimizer", buf, sizeof(buf));
    double lr = param_number("lr", 1e-2);
    double x = param_number("x", 0.0);
    double layers = param_number("layers", 2);
    const char *trial = getenv("PROTEIN_TRIAL");
    const char *path = getenv("PROTEIN_RESULT");
    double penalty, score, cost;
    struct timespec nap;
    FILE *fp;

    penalty = !opt_text || strcmp(opt_text, "adam") == 0 ? 0.0
              : strcmp(opt_text, "sgd") == 0             ? 0.15
                                                         : 0.05;
    if (lr <= 0)
        lr = 1e-2;
    score = 1.0 - pow((log10(lr) + 3.0) / 2.0, 2) - pow((x - 0.5) / 2.0, 2) -
            pow((layers - 4.0) / 4.0, 2) - penalty +
            0.01 * noise(trial ? strtoull(trial, NULL, 10) : 0);
    cost = 0.002 + 0.004 * fabs(layers);
    nap.tv_sec = (time_t)cost;
    nap.tv_nsec = (long)((cost - (double)nap.tv_sec) * 1e9);
    nanosleep(&nap, NULL);

    fp = path ? fopen(path, "a") : stdout;
    if (!fp) {
        fprintf(stderr, "objective: cannot open %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    fprintf(fp, "score=%.17g\ncost=%.17g\n", score, cost);
    if ((path ? fclose(fp) : fflush(fp)) != 0) {
        fprintf(stderr, "objective: cannot write %s: %s\n",
                path ? path : "stdout", strerror(errno));
        return 1;
    }
    return 0;
}
