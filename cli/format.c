/*
 * format.c - text output shared by the verbs: CSV fields, JSON strings and
 * parameter values.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "protein_number.h"

/* Contract in cli.h. */
void cli_csv_field(FILE *fp, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

/* Contract in cli.h. */
void cli_strip_controls(char *s)
{
    for (; s && *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n') ||
            *s == 0x7f)
            *s = '?';
}

/* Contract in cli.h. */
void cli_json_string(FILE *fp, const char *s)
{
    char *quoted = NULL;

    if (s == NULL || pq_json_quote(s, &quoted) != PQ_OK) {
        fputs("null", fp);
        return;
    }
    fputs(quoted, fp);
    free(quoted);
}

/* Contract in cli.h. */
void cli_param_text(const pq_param *q, char *buf, size_t len)
{
    if (q->is_string)
        snprintf(buf, len, "%s", q->text ? q->text : "");
    else if (q->is_integer && fabs(q->number) < 9e15)
        snprintf(buf, len, "%.0f", q->number);
    else
        protein_number_text(q->number, buf, len);
}

/* Contract in cli.h. */
void cli_number_text(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "%s", "");
    else
        protein_number_text(v, buf, len);
}

/* Contract in cli.h. */
int cli_better(int minimize, double a, double b)
{
    return minimize ? a < b : a > b;
}

/* Contract in cli.h. */
void cli_time_text(double t, char *buf, size_t len)
{
    time_t secs;
    struct tm tm;

    /* Some 30 million years either way: a time_t holds it, and a
     * struct tm's year too. */
    if (!(fabs(t) < 1e15)) {
        snprintf(buf, len, "%g (not a date)", t);
        return;
    }
    secs = (time_t)t;
    if (!localtime_r(&secs, &tm) ||
        strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, len, "%g (not a date)", t);
}

/* Contract in cli.h. */
void cli_duration_text(double seconds, char *buf, size_t len)
{
    long whole = seconds > 0 && seconds < 1e15 ? lround(seconds) : 0;

    if (isnan(seconds))
        snprintf(buf, len, "? s");
    else if (seconds < 59.95) /* what "%.1f" shows as under 60 */
        snprintf(buf, len, "%.1f s", seconds > 0 ? seconds : 0.0);
    else if (whole < 3600)
        snprintf(buf, len, "%ld min %02ld s", whole / 60, whole % 60);
    else
        snprintf(buf, len, "%ld h %02ld min", whole / 3600, whole % 3600 / 60);
}

/* Contract in cli.h. */
void cli_params_inline(FILE *fp, const pq_params *params)
{
    char text[256];
    size_t i;

    for (i = 0; i < params->n; i++) {
        cli_param_text(&params->items[i], text, sizeof(text));
        fprintf(fp, "%s%s = %s", i > 0 ? ", " : "", params->items[i].name,
                text);
    }
}
