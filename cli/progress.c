/*
 * progress.c - the progress display of `protein run` and `protein agent`:
 * one status line rewritten in place on a terminal, plain lines elsewhere
 * (logs, pipes), and the summary lines at the end.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Contract in cli.h. */
void cli_progress_init(cli_progress *p, FILE *fp, long total, int minimize,
                       const char *metric)
{
    memset(p, 0, sizeof(*p));
    p->fp = fp;
    p->tty = isatty(fileno(fp));
    p->total = total;
    p->minimize = minimize;
    p->metric = metric != NULL ? metric : "score";
    p->best_id = -1;
    /* no budget to count against: no status line either */
    if (total <= 0)
        p->tty = 0;
}

/* Erases the status line when one is drawn, so that other output starts on
 * a clean line. */
static void clear_line(cli_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", p->fp);
        p->drawn = 0;
    }
}

/* Redraws the status line (counts and best so far) in place, on a terminal
 * only. */
static void draw(cli_progress *p)
{
    if (!p->tty)
        return;
    clear_line(p);
    fprintf(p->fp, "[%ld/%ld] running %ld, failed %ld", p->finished, p->total,
            p->running, p->failed);
    if (p->has_best)
        fprintf(p->fp, ", best %.6g (trial %ld)", p->best, p->best_id);
    fflush(p->fp);
    p->drawn = 1;
}

/* Contract in cli.h. */
void cli_progress_trial(cli_progress *p, long id, int ok, int pruned,
                        double score, double cost, double seconds,
                        const char *detail, int recorded)
{
    const char *unrecorded = recorded ? "" : "; outcome not recorded";
    char took[64] = "";

    if (p->running > 0)
        p->running--; /* it ran until now */
    if (!recorded) {
        p->unrecorded++;
    } else {
        p->finished++;
        if (!ok)
            p->failed++;
        else if (pruned)
            p->pruned++;
    }
    if (recorded && ok &&
        (!p->has_best || cli_better(p->minimize, score, p->best))) {
        p->has_best = 1;
        p->best = score;
        p->best_cost = cost;
        p->best_id = id;
    }
    if (p->tty) {
        if (!ok || !recorded) {
            clear_line(p);
            if (ok)
                fprintf(p->fp, "trial %ld ended%s\n", id, unrecorded);
            else
                fprintf(p->fp, "trial %ld failed: %s%s\n", id, detail,
                        unrecorded);
        }
        draw(p);
        return;
    }
    if (seconds >= 0) {
        memcpy(took, " after ", 7);
        cli_duration_text(seconds, took + 7, sizeof(took) - 7);
    }
    if (p->total > 0)
        fprintf(p->fp, "[%ld/%ld] ", p->finished, p->total);
    if (!ok) {
        fprintf(p->fp, "trial %ld failed%s: %s", id, took, detail);
    } else {
        fprintf(p->fp, "trial %ld %s%s: %s %.6g, cost %.6g", id,
                pruned ? "pruned" : "completed", took, p->metric, score, cost);
        if (pruned && detail[0])
            fprintf(p->fp, " (%s)", detail);
    }
    fputs(unrecorded, p->fp);
    if (p->has_best)
        fprintf(p->fp, " (best %.6g, trial %ld)", p->best, p->best_id);
    fputc('\n', p->fp);
    fflush(p->fp);
}

/* Contract in cli.h. */
void cli_progress_running(cli_progress *p, long running)
{
    p->running = running;
    draw(p);
}

/* Contract in cli.h. */
void cli_progress_end(cli_progress *p)
{
    if (p->drawn) {
        fputc('\n', p->fp);
        fflush(p->fp);
        p->drawn = 0;
    }
}

/* Contract in cli.h. */
void cli_summary_counts(FILE *fp, long completed, long pruned, long failed)
{
    long total = completed + pruned + failed;

    fprintf(fp, "%ld trial%s: %ld completed, %ld pruned, %ld failed\n", total,
            total == 1 ? "" : "s", completed, pruned, failed);
}

/* Contract in cli.h. */
void cli_summary_best(FILE *fp, long id, const char *metric, double score,
                      double cost)
{
    char text[64];

    cli_number_text(score, text, sizeof(text));
    fprintf(fp, "best: trial %ld, %s %s, cost %.6g\n", id,
            metric ? metric : "score", text, cost);
}
