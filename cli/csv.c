/*
 * csv.c - reading back the CSV that `protein run --out` writes, for
 * `protein run --resume`: RFC 4180 records (cli_csv_field writes them),
 * then each row checked against the sweep's config, its learning curve
 * (the last column, when the file has it) read as protein_curve_parse
 * reads a curve in Redis.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "queue_model.h"

/* The columns before the parameters. */
static const char *const lead[] = {"trial", "status", "score", "cost"};
#define N_LEAD 4
#define MAX_ID 1000000000L

/* One record: fields[0..n) are NUL-terminated and malloc'ed. */
typedef struct csv_record {
    size_t n, cap;
    char **fields;
} csv_record;

/* A field as it is read. */
typedef struct csv_buf {
    char *text;
    size_t len, cap;
} csv_buf;

enum { REC_OK = 1, REC_END = 0, REC_CUT = -1, REC_BAD = -2, REC_NOMEM = -3 };

/* Frees r's fields and empties r for the next record; the array itself is
 * kept. */
static void record_clear(csv_record *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->fields[i]);
    r->n = 0;
}

/* Appends c to the field being read, keeping it NUL-terminated. 0, or -1
 * out of memory (b unchanged). */
static int buf_add(csv_buf *b, char c)
{
    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char *grown = realloc(b->text, cap);

        if (!grown)
            return -1;
        b->text = grown;
        b->cap = cap;
    }
    b->text[b->len++] = c;
    b->text[b->len] = '\0';
    return 0;
}

/* Moves the field in b to the end of r (b is emptied). */
static int record_push(csv_record *r, csv_buf *b)
{
    char *field;

    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        char **grown = realloc(r->fields, cap * sizeof(*grown));

        if (!grown)
            return -1;
        r->fields = grown;
        r->cap = cap;
    }
    field = b->text ? b->text : strdup("");
    if (!field)
        return -1;
    r->fields[r->n++] = field;
    b->text = NULL;
    b->len = b->cap = 0;
    return 0;
}

/* Reads the record that starts at text[*pos] into r (emptied first); a
 * record ends at an LF (or CR LF) outside quotes. Returns REC_OK with *pos
 * past its end and *line counting the LFs read; REC_END at the end of the
 * text; REC_CUT when the text ends inside the record; REC_BAD for a quote
 * inside an unquoted field, text after a closing quote or a NUL byte
 * (*col: the 1-based field, *what: which); REC_NOMEM. */
static int record_next(const char *text, size_t len, size_t *pos, long *line,
                       csv_record *r, size_t *col, const char **what)
{
    csv_buf b = {NULL, 0, 0};
    size_t i = *pos;
    long lines = 0;
    int rc = REC_NOMEM;

    record_clear(r);
    if (i >= len)
        return REC_END;
    for (;;) {
        *col = r->n + 1;
        if (i >= len) { /* the text ends after a comma */
            rc = REC_CUT;
            goto done;
        }
        if (text[i] == '"') {
            for (i++;; i++) {
                if (i >= len) {
                    rc = REC_CUT;
                    goto done;
                }
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        i++;
                    } else {
                        i++;
                        break;
                    }
                }
                if (text[i] == '\0') {
                    *what = "a NUL byte";
                    rc = REC_BAD;
                    goto done;
                }
                if (text[i] == '\n')
                    lines++;
                if (buf_add(&b, text[i]) < 0)
                    goto done;
            }
            if (i < len && text[i] != ',' && text[i] != '\n' &&
                text[i] != '\r') {
                *what = "text after the closing quote";
                rc = REC_BAD;
                goto done;
            }
        } else {
            for (; i < len && text[i] != ',' && text[i] != '\n'; i++) {
                if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
                    break;
                if (text[i] == '"' || text[i] == '\0') {
                    *what = text[i] == '"' ? "a quote inside an unquoted field"
                                           : "a NUL byte";
                    rc = REC_BAD;
                    goto done;
                }
                if (buf_add(&b, text[i]) < 0)
                    goto done;
            }
        }
        if (i < len && text[i] == '\r') {
            if (i + 1 < len && text[i + 1] != '\n') {
                *what = "text after the closing quote";
                rc = REC_BAD;
                goto done;
            }
            i++;
        }
        if (i >= len) {
            rc = REC_CUT;
            goto done;
        }
        if (record_push(r, &b) < 0)
            goto done;
        if (text[i++] == '\n')
            break;
    }
    *pos = i;
    *line += lines + 1;
    rc = REC_OK;
done:
    free(b.text);
    return rc;
}

/* Formats why (len bytes, always terminated), the reason a caller returns
 * with. */
static void say(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* The name of column col (1-based) as the header of cfg's CSV has it. */
static const char *column_name(const protein_sweep_config *cfg, size_t col)
{
    if (col >= 1 && col <= N_LEAD)
        return lead[col - 1];
    if (col > N_LEAD && col <= N_LEAD + cfg->n_params)
        return cfg->params[col - N_LEAD - 1].name;
    if (col == N_LEAD + cfg->n_params + 1)
        return "error";
    return col == N_LEAD + cfg->n_params + 2 ? "curve" : "";
}

/* Checks the header against cfg's columns, the curve column last or (a
 * file written before protein kept curves) none; *has_curve says which.
 * Returns 0, or -1 with why. */
static int check_header(const char *path, const protein_sweep_config *cfg,
                        const csv_record *r, int *has_curve, char *why,
                        size_t len)
{
    size_t want = N_LEAD + cfg->n_params + 1, col;

    *has_curve = r->n > want && strcmp(r->fields[want], "curve") == 0;
    if (*has_curve)
        want++;

    for (col = 1; col <= want || col <= r->n; col++) {
        const char *expected = col <= want ? column_name(cfg, col) : NULL;
        const char *got = col <= r->n ? r->fields[col - 1] : NULL;

        if (expected && got && strcmp(expected, got) == 0)
            continue;
        if (!got)
            say(why, len, "%s:1: column %zu: missing '%s'", path, col,
                expected);
        else if (!expected)
            say(why, len,
                "%s:1: column %zu: '%s' after the last columns, "
                "'error' and 'curve'",
                path, col, got);
        else
            say(why, len, "%s:1: column %zu: '%s' where the config has '%s'",
                path, col, got, expected);
        snprintf(
            why + strlen(why), len - strlen(why),
            ": the file was written for other parameters (the header of "
            "%s is trial,status,score,cost, its parameters in order, "
            "error, curve); resume with the config it was written for, or give "
            "--out another file",
            cfg->source ? cfg->source : "this config");
        return -1;
    }
    return 0;
}

/* The finite number that is all of text, into *v; -1 if it is not one. */
static int parse_number(const char *text, double *v)
{
    char *end;

    if (!*text || *text == ' ' || *text == '\t')
        return -1;
    errno = 0;
    *v = strtod(text, &end);
    return *end || errno == ERANGE || !isfinite(*v) ? -1 : 0;
}

/* Why v does not fit numeric parameter p ("is outside ..."), or NULL when
 * it does: within [min, max] (by a rounding's width), whole for an
 * integer, a power of 2 for uniform_pow2. */
static const char *value_misfit(const protein_param *p, double v)
{
    double slack =
        1e-9 * fmax(fmax(fabs(p->min), fabs(p->max)), p->max - p->min);
    int exp2;

    if (v < p->min - slack || v > p->max + slack)
        return "is outside the parameter's range";
    if (p->kind == PROTEIN_PARAM_POW2 && frexp(v, &exp2) != 0.5)
        return "is not a power of 2, in the parameter's range";
    if (p->is_integer && v != floor(v))
        return "is not a whole number, in the parameter's range";
    return NULL;
}

/* Fills row's parameters from the record's fields and checks them. Returns
 * 0, -1 with why, or -2 out of memory. */
static int row_params(const char *path, long line,
                      const protein_sweep_config *cfg, csv_record *r,
                      cli_run_row *row, char *why, size_t len)
{
    protein_error err;
    size_t i;
    int rc;

    row->params.items =
        calloc(cfg->n_params ? cfg->n_params : 1, sizeof(*row->params.items));
    row->values = calloc(cfg->n_params ? cfg->n_params : 1, sizeof(double));
    if (!row->params.items || !row->values)
        return -2;
    for (i = 0; i < cfg->n_params; i++) {
        pq_param *q = &row->params.items[i];

        row->params.n = i + 1;
        q->name = strdup(cfg->params[i].name);
        if (!q->name)
            return -2;
        q->is_string = 1;
        q->text = r->fields[N_LEAD + i];
        r->fields[N_LEAD + i] = NULL;
    }
    memset(&err, 0, sizeof(err));
    rc = pq_model_params_to_values(cfg, &row->params, row->values, &err);
    if (rc == PROTEIN_ENOMEM)
        return -2;
    for (i = 0; rc == PROTEIN_OK && i < cfg->n_params; i++) {
        const protein_param *p = &cfg->params[i];
        const char *text = row->params.items[i].text;
        const char *nonfinite, *misfit;

        if (p->kind == PROTEIN_PARAM_CATEGORICAL)
            continue;
        if (p->kind == PROTEIN_PARAM_CONSTANT) {
            nonfinite =
                p->n_values ? protein_value_nonfinite_json(p->values[0]) : NULL;
            if (p->n_values && strcmp(text, p->values[0]) != 0 &&
                !(nonfinite && strcmp(text, nonfinite) == 0)) {
                say(why, len,
                    "%s:%ld: column %zu (%s): '%s' is not the config's "
                    "value, '%s'",
                    path, line, N_LEAD + i + 1, p->name, text, p->values[0]);
                return -1;
            }
            continue;
        }
        misfit = value_misfit(p, row->values[i]);
        if (misfit) {
            say(why, len, "%s:%ld: column %zu (%s): %s %s [%g, %g]", path, line,
                N_LEAD + i + 1, p->name, text, misfit, p->min, p->max);
            return -1;
        }
    }
    if (rc != PROTEIN_OK) {
        int at = protein_config_find_param(cfg, err.key);

        say(why, len, "%s:%ld: column %zu (%s): %s", path, line,
            at >= 0 ? N_LEAD + (size_t)at + 1 : N_LEAD + 1,
            err.key[0] ? err.key : column_name(cfg, N_LEAD + 1), err.message);
        return -1;
    }
    return 0;
}

/* Reads the curve column, field (column col), into row: empty for no
 * report, else the reports as protein run writes them (CLI_CURVE_SEP
 * between "STEP SCORE COST" points, COST '-' when not reported). Returns 0,
 * -1 with why, -2 out of memory. */
static int row_curve(const char *path, long line, size_t col, const char *field,
                     cli_run_row *row, char *why, size_t len)
{
    size_t n = strlen(field), i;
    char *text;
    int rc;

    if (n == 0)
        return 0;
    text = malloc(n + 2);
    if (!text)
        return -2;
    for (i = 0; i < n; i++)
        text[i] = field[i] == CLI_CURVE_SEP ? '\n' : field[i];
    text[n] = '\n';
    text[n + 1] = '\0';
    rc = protein_curve_parse(text, n + 1, &row->curve, &row->n_curve);
    free(text);
    if (rc == PROTEIN_ENOMEM)
        return -2;
    for (i = 0; rc == PROTEIN_OK && i < row->n_curve; i++)
        if (!(isnan(row->curve[i].cost) || row->curve[i].cost > 0))
            rc = PROTEIN_EINVAL; /* protein run writes '-' for no cost */
    if (rc != PROTEIN_OK) {
        free(row->curve);
        row->curve = NULL;
        row->n_curve = 0;
        say(why, len,
            "%s:%ld: column %zu (curve): not a learning curve as protein run "
            "writes one (at most %d points 'STEP SCORE COST', separated by "
            "'%c', COST > 0 or '-' when not reported; empty for none)",
            path, line, col, PROTEIN_CURVE_MAX, CLI_CURVE_SEP);
        return -1;
    }
    return 0;
}

/* Reads one data record into row (its last field the curve when
 * has_curve). Returns 0, -1 with why, -2 out of memory. */
static int row_read(const char *path, long line,
                    const protein_sweep_config *cfg, int has_curve,
                    csv_record *r, cli_run_row *row, char *why, size_t len)
{
    size_t err_col = N_LEAD + cfg->n_params + 1,
           want = err_col + (has_curve ? 1 : 0);
    const char *status;
    char *end;
    int rc;

    row->line = line;
    if (r->n != want) {
        size_t col = r->n < want ? r->n + 1 : want + 1;

        say(why, len,
            "%s:%ld: column %zu: the row has %zu fields, the header %zu", path,
            line, col, r->n, want);
        return -1;
    }
    errno = 0;
    row->id = strtol(r->fields[0], &end, 10);
    if (!r->fields[0][0] || *end || errno || row->id < 1 || row->id > MAX_ID ||
        r->fields[0][0] == ' ' || r->fields[0][0] == '+') {
        say(why, len,
            "%s:%ld: column 1 (trial): '%s' is not a trial number (1 to "
            "%ld)",
            path, line, r->fields[0], MAX_ID);
        return -1;
    }
    status = r->fields[1];
    if (strcmp(status, "completed") == 0)
        row->status = CLI_ROW_COMPLETED;
    else if (strcmp(status, "pruned") == 0)
        row->status = CLI_ROW_PRUNED;
    else if (strcmp(status, "failed") == 0)
        row->status = CLI_ROW_FAILED;
    else {
        say(why, len,
            "%s:%ld: column 2 (status): '%s' is not completed, pruned or "
            "failed",
            path, line, status);
        return -1;
    }
    row->score = NAN;
    if ((row->status != CLI_ROW_FAILED || r->fields[2][0]) &&
        parse_number(r->fields[2], &row->score) < 0) {
        say(why, len, "%s:%ld: column 3 (score): '%s' is not a finite number%s",
            path, line, r->fields[2],
            row->status == CLI_ROW_FAILED
                ? " (nor empty, as for a failed trial)"
                : "");
        return -1;
    }
    if (parse_number(r->fields[3], &row->cost) < 0 || !(row->cost > 0)) {
        say(why, len, "%s:%ld: column 4 (cost): '%s' is not a number > 0", path,
            line, r->fields[3]);
        return -1;
    }
    rc = row_params(path, line, cfg, r, row, why, len);
    if (rc < 0)
        return rc;
    if (has_curve) {
        rc = row_curve(path, line, want, r->fields[want - 1], row, why, len);
        if (rc < 0)
            return rc;
    }
    row->error = r->fields[err_col - 1];
    r->fields[err_col - 1] = NULL;
    return 0;
}

/* qsort order of row pointers by trial number, ties by line, so that
 * repeats of a number are adjacent in file order. */
static int by_id(const void *a, const void *b)
{
    const cli_run_row *x = *(cli_run_row *const *)a,
                      *y = *(cli_run_row *const *)b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Refuses a trial number that two rows give. Returns 0, -1 with why, -2
 * out of memory. */
static int check_unique(const char *path, const cli_run_csv *c, char *why,
                        size_t len)
{
    cli_run_row **sorted;
    size_t i;
    int rc = 0;

    if (c->n < 2)
        return 0;
    sorted = malloc(c->n * sizeof(*sorted));
    if (!sorted)
        return -2;
    for (i = 0; i < c->n; i++)
        sorted[i] = &c->rows[i];
    qsort(sorted, c->n, sizeof(*sorted), by_id);
    for (i = 1; i < c->n; i++) {
        if (sorted[i]->id != sorted[i - 1]->id)
            continue;
        say(why, len,
            "%s:%ld: column 1 (trial): trial %ld again (line %ld has it; "
            "each trial has one row)",
            path, sorted[i]->line, sorted[i]->id, sorted[i - 1]->line);
        rc = -1;
        break;
    }
    free(sorted);
    return rc;
}

/* Tells people what to do about the bad row that why describes. */
static void row_hint(char *why, size_t len)
{
    size_t used = strlen(why);

    snprintf(why + used, len - used, "; fix the row or remove it");
}

/* Contract in cli.h. */
int cli_run_csv_parse(const char *path, const char *text, size_t len,
                      const protein_sweep_config *cfg, cli_run_csv *out,
                      char *why, size_t why_len)
{
    csv_record r = {0, 0, NULL};
    size_t pos = 0, col = 0, cap = 0;
    const char *what = "";
    long line = 1, at;
    int rc = -2, got;

    memset(out, 0, sizeof(*out));
    why[0] = '\0';
    at = line;
    got = record_next(text, len, &pos, &line, &r, &col, &what);
    if (got == REC_OK &&
        check_header(path, cfg, &r, &out->has_curve, why, why_len) < 0) {
        rc = -1;
        goto fail;
    }
    if (got == REC_OK) /* else no complete header: nothing to keep */
        out->keep = pos;
    while (got == REC_OK) {
        cli_run_row *row;

        at = line;
        got = record_next(text, len, &pos, &line, &r, &col, &what);
        if (got != REC_OK)
            break;
        if (out->n == cap) {
            size_t grown_cap = cap ? 2 * cap : 64;
            cli_run_row *grown = realloc(out->rows, grown_cap * sizeof(*grown));

            if (!grown)
                goto fail;
            out->rows = grown;
            cap = grown_cap;
        }
        row = &out->rows[out->n++];
        memset(row, 0, sizeof(*row));
        rc = row_read(path, at, cfg, out->has_curve, &r, row, why, why_len);
        if (rc == -1)
            row_hint(why, why_len);
        if (rc < 0)
            goto fail;
        rc = -2;
        if (row->id > out->max_id)
            out->max_id = row->id;
        out->keep = pos;
    }
    if (got == REC_NOMEM)
        goto fail;
    if (got == REC_BAD) {
        say(why, why_len, "%s:%ld: column %zu (%s): %s", path, at, col,
            column_name(cfg, col), what);
        row_hint(why, why_len);
        rc = -1;
        goto fail;
    }
    if (got == REC_CUT)
        out->cut_line = at;
    rc = check_unique(path, out, why, why_len);
    if (rc == -1)
        row_hint(why, why_len);
    if (rc < 0)
        goto fail;
    record_clear(&r);
    free(r.fields);
    return 0;
fail:
    if (rc == -2)
        say(why, why_len, "%s: out of memory reading it", path);
    record_clear(&r);
    free(r.fields);
    cli_run_csv_free(out);
    return -1;
}

/* Contract in cli.h. */
void cli_run_csv_free(cli_run_csv *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->rows[i].values);
        pq_params_free(&c->rows[i].params);
        free(c->rows[i].error);
        free(c->rows[i].curve);
    }
    free(c->rows);
    memset(c, 0, sizeof(*c));
}
