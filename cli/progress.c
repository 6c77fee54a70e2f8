/*
 * progress.c - the progress display of `protein run`: one status line
 * rewritten in place on a terminal, plain lines elsewhere (logs, pipes).
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
                        double score, double cost, const char *detail)
{
    p->finished++;
    if (p->running > 0)
        p->running--; /* it ran until now */
    if (!ok)
        p->failed++;
    if (ok && (!p->has_best || cli_better(p->minimize, score, p->best))) {
        p->has_best = 1;
        p->best = score;
        p->best_id = id;
    }
    if (p->tty) {
        if (!ok) {
            clear_line(p);
            fprintf(p->fp, "trial %ld failed: %s\n", id, detail);
        }
        draw(p);
        return;
    }
    if (!ok) {
        fprintf(p->fp, "[%ld/%ld] trial %ld failed: %s", p->finished, p->total,
                id, detail);
    } else {
        fprintf(p->fp, "[%ld/%ld] trial %ld %s: %s %.6g, cost %.6g",
                p->finished, p->total, id, pruned ? "pruned" : "completed",
                p->metric, score, cost);
        if (pruned && detail[0])
            fprintf(p->fp, " (%s)", detail);
    }
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
