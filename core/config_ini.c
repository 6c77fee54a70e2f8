/*
 * config_ini.c - PufferLib INI sweeps, read the way PufferLib reads them:
 * an environment's file merged over default.ini key by key (configparser's
 * read([default, env])), values as Python literals (30_000_000), a '#' or
 * ';' outside quotes ending a line as in PufferLib's C reader, a [sweep]
 * section with the sweep settings and one [sweep.SECTION.PARAM] section
 * per parameter, named "SECTION/PARAM"; sweep_only keeps the parameters
 * whose last name part contains one of its comma-separated words. Other
 * sections (the training config itself) give only the keys PufferLib's
 * CLI has and their types.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_common.h"

/* [sweep] keys of PufferLib's trainer that protein reads and does not act
 * on, each with the reason the user sees. */
static const struct ignored_key {
    const char *key;
    const char *why;
} ignored_keys[] = {
    {"use_gpu",
     "proteind fits on the GPU when it has one (see proteind --device)"},
    {"gpus",
     "Slurm decides how many trials run at once (sbatch --array=...%N)"},
    {"match_", "PufferLib's match scoring runs inside the trainer; protein "
               "takes the score the trial reports"},
};

static const char *const sweep_keys[] = {
    "name",
    "method",
    "metric",
    "goal",
    "cost",
    "cost_param",
    "max_runs",
    "max_trials",
    "max_suggestion_cost",
    "seed",
    "sweep_only",
    PROTEIN_KNOBS(PROTEIN_KNOB_NAME) "metric_distribution",
    "use_gpu",
    "gpus",
    NULL};

#define MAX_NUMBER_TEXT 64

static const char *const param_keys[] = {
    "distribution", "min", "max", "scale", "mean", "default", "integer", NULL};

/* The distributions PufferLib's sweep.py knows (it raises ValueError on
 * any other); W&B's names mean other things (log_uniform's bounds are
 * natural logs). */
static const char *const puffer_distributions[] = {
    "uniform",    "int_uniform",  "uniform_pow2",
    "log_normal", "logit_normal", NULL};

/* The fields of a [sweep.SECTION.PARAM] section and their keys (the
 * default's is `mean` or `default`: the spec's def_key). */
enum {
    FIELD_DISTRIBUTION,
    FIELD_MIN,
    FIELD_MAX,
    FIELD_SCALE,
    FIELD_INTEGER,
    FIELD_DEFAULT,
    N_FIELDS
};
static const char *const field_keys[FIELD_DEFAULT] = {
    "distribution", "min", "max", "scale", "integer"};

/* Field f of spec s. */
static protein_spec_field *spec_field(protein_param_spec *s, int f)
{
    protein_spec_field *const fields[N_FIELDS] = {
        &s->distribution, &s->min, &s->max, &s->scale, &s->integer, &s->def};
    return fields[f];
}

/* The field key k sets (a FIELD_ value), or -1 for no field. */
static int field_of_key(const char *k)
{
    if (strcmp(k, "mean") == 0 || strcmp(k, "default") == 0)
        return FIELD_DEFAULT;
    for (int f = 0; f < FIELD_DEFAULT; f++)
        if (strcmp(k, field_keys[f]) == 0)
            return f;
    return -1;
}

typedef struct ini_param {
    protein_param_spec spec;
    char *name;       /* "train/learning_rate" */
    char *key;        /* "sweep.train.learning_rate" */
    const char *file; /* the file of its last section, for errors */
    int pass;         /* which file opened it: 0 default.ini, 1 the file */
    unsigned set;     /* fields set in the current file (bit per field) */
    /* the file each field's line is in: an env file overrides some
     * fields of default.ini's section and keeps the others */
    const char *field_files[N_FIELDS];
} ini_param;

/* The file that holds field f's line (see ini_param). */
static const char *field_file(const ini_param *p, int f)
{
    return p->field_files[f] ? p->field_files[f] : p->file;
}

typedef struct ini_ctx {
    const char *file; /* the file being read */
    int pass;         /* 0: default.ini, 1: the file itself */
    int merged;       /* read over a default.ini */
    protein_error *err;
    protein_sweep_config *cfg;
    ini_param *params;
    size_t n_params;
    int sweep_line; /* 0 until [sweep] is seen */
    const char *sweep_file;
    const char *sweep_only;
    int sweep_only_line;
    const char *sweep_only_file;
    int cost_param_line;
    const char *seen[64]; /* keys already set in [sweep] */
    int seen_line[64];
    int seen_pass[64];
    size_t n_seen;
    char **numbers; /* Python number literals rewritten */
    size_t n_numbers;
    size_t cur;      /* the parameter of the current section */
    char other[128]; /* the current section when it is not a sweep one */
    /* "SECTION/KEY" of every value outside the sweep, and whether it is a
     * Python int literal: PufferLib's CLI has --SECTION.KEY for these
     * only, parsed with type int for the int ones */
    struct train_key {
        char *name;
        int is_int;
    } * keys;
    size_t n_keys;
} ini_ctx;

/* Cuts white space off both ends of s in place and returns where the text
 * now starts. */
static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Errors on the unknown key k of section, suggesting the closest of known
 * when one is near. Returns PROTEIN_ECONFIG. */
static int unknown_key(ini_ctx *c, int line, const char *section, const char *k,
                       const char *const *known)
{
    const char *near = protein_closest_word(k, known);
    char key[192];

    protein_config_key(key, sizeof key, section, k);
    if (near)
        return protein_config_error(c->err, c->file, line, key,
                                    "unknown key '%s'; did you mean '%s'?", k,
                                    near);
    return protein_config_error(
        c->err, c->file, line, key,
        "unknown key '%s'; remove it or check the spelling", k);
}

/* Starts a [sweep.A.B] section: a new parameter, or one of default.ini
 * that this file overrides key by key. */
static int begin_param(ini_ctx *c, const char *rest, int line)
{
    ini_param *grown, *p;
    size_t i, n = strlen(rest);

    if (strcmp(rest, "metric") == 0 || strcmp(rest, "parameters") == 0 ||
        strncmp(rest, "parameters.", 11) == 0)
        return protein_config_error(
            c->err, c->file, line, "",
            "section [sweep.%s] belongs to PufferLib's older W&B-style INI "
            "layout ([sweep.metric], "
            "[sweep.parameters.SECTION.parameters.PARAM]) that PufferLib 1.x "
            "and 2.0 handed to W&B; PufferLib 3 and protein read metric and "
            "goal in [sweep] and one [sweep.SECTION.PARAM] per parameter: "
            "rewrite it that way",
            rest);
    for (i = 0; i < c->n_params; i++) {
        if (strcmp(c->params[i].key + 6, rest) != 0)
            continue;
        if (c->params[i].pass == c->pass)
            return protein_config_error(
                c->err, c->file, line, c->params[i].key,
                "section [%s] appears twice (first on line %d); merge them",
                c->params[i].key, c->params[i].spec.line);
        c->params[i].pass = c->pass;
        c->params[i].file = c->file;
        c->params[i].set = 0;
        c->params[i].spec.line = line;
        c->cur = i;
        return 0;
    }
    if (n == 0 || n > PROTEIN_PARAM_NAME_MAX || rest[0] == '.' ||
        rest[n - 1] == '.' || strstr(rest, ".."))
        return protein_config_error(c->err, c->file, line, "",
                                    "section [sweep.%s] does not name a "
                                    "parameter; write [sweep.SECTION.PARAM]",
                                    rest);
    if (c->n_params >= PROTEIN_MAX_PARAMS)
        return protein_config_error(c->err, c->file, line, "",
                                    "too many parameters (at most %d)",
                                    PROTEIN_MAX_PARAMS);
    grown = realloc(c->params, (c->n_params + 1) * sizeof *grown);
    if (!grown)
        return PROTEIN_ENOMEM;
    c->params = grown;
    p = &c->params[c->n_params];
    memset(p, 0, sizeof *p);
    p->name = strdup(rest);
    p->key = malloc(n + 7);
    if (!p->name || !p->key) {
        free(p->name);
        free(p->key);
        return PROTEIN_ENOMEM;
    }
    memcpy(p->key, "sweep.", 6);
    memcpy(p->key + 6, rest, n + 1);
    for (i = 0; i < n; i++)
        if (p->name[i] == '.')
            p->name[i] = '/';
    p->spec.name = p->name;
    p->spec.key = p->key;
    p->spec.line = line;
    p->spec.def_key = "mean";
    p->file = c->file;
    p->pass = c->pass;
    c->cur = c->n_params++;
    return 0;
}

/* Sets the field k of parameter p's spec to v from line `line`: an
 * unknown key, or one this section already set, is an error naming file,
 * line and key. 0 or an error code. */
static int param_key(ini_ctx *c, ini_param *p, const char *k, const char *v,
                     int line)
{
    protein_param_spec *s = &p->spec;
    protein_spec_field *f;
    int field = field_of_key(k);
    unsigned bit;
    char key[192];

    if (field < 0)
        return unknown_key(c, line, p->key, k, param_keys);
    f = spec_field(s, field);
    bit = 1u << field;
    p->field_files[field] = c->file;
    if (p->set & bit)
        return protein_config_error(
            c->err, c->file, line,
            protein_config_key(key, sizeof key, p->key, k),
            "set twice in this section (first on line %d); keep one", f->line);
    p->set |= bit;
    if (f == &s->def)
        s->def_key = strcmp(k, "mean") == 0 ? "mean" : "default";
    f->text = v;
    f->line = line;
    return 0;
}

/* Sets one key of [sweep] from line `line`: a key set twice in one pass is
 * an error, a key PufferLib uses for itself is ignored with a warning, and
 * the rest are set as the YAML top level sets them (max_runs as
 * max_trials). 0, or an error code with c->err filled. */
static int sweep_key(ini_ctx *c, const char *k, const char *v, int line)
{
    char key[192];
    size_t i;
    int rc;

    protein_config_key(key, sizeof key, "sweep", k);
    for (i = 0; i < c->n_seen; i++)
        if (c->seen_pass[i] == c->pass && strcmp(c->seen[i], k) == 0)
            return protein_config_error(
                c->err, c->file, line, key,
                "set twice in [sweep] (first on line %d); keep one",
                c->seen_line[i]);
    if (c->n_seen < sizeof c->seen / sizeof c->seen[0]) {
        c->seen[c->n_seen] = k;
        c->seen_pass[c->n_seen] = c->pass;
        c->seen_line[c->n_seen++] = line;
    }
    for (i = 0; i < sizeof ignored_keys / sizeof ignored_keys[0]; i++) {
        size_t n = strlen(ignored_keys[i].key);
        if (ignored_keys[i].key[n - 1] == '_'
                ? strncmp(k, ignored_keys[i].key, n)
                : strcmp(k, ignored_keys[i].key))
            continue;
        return protein_config_warn(c->cfg, "%s:%d: %s: ignored: %s",
                                   c->file ? c->file : "", line, key,
                                   ignored_keys[i].why);
    }
    if (strcmp(k, "sweep_only") == 0) {
        c->sweep_only = v;
        c->sweep_only_line = line;
        c->sweep_only_file = c->file;
        return 0;
    }
    if (strcmp(k, "cost_param") == 0)
        c->cost_param_line = line;
    rc = protein_config_set_option(
        c->cfg, strcmp(k, "max_runs") == 0 ? "max_trials" : k, v, c->file, line,
        key, c->err);
    if (rc == PROTEIN_ENOTFOUND || (rc == 0 && !protein_in_list(k, sweep_keys)))
        return unknown_key(c, line, "sweep", k, sweep_keys);
    return rc;
}

/* A Python number literal with '_' separators (30_000_000, 1_0.5e1_0)
 * without them, as ast.literal_eval reads it; v itself otherwise. NULL
 * when out of memory. */
static const char *py_number(ini_ctx *c, const char *v)
{
    char buf[MAX_NUMBER_TEXT], *copy, **grown;
    double d;
    size_t i, o = 0;

    if (!strchr(v, '_') || strlen(v) >= sizeof buf)
        return v;
    for (i = 0; v[i]; i++) {
        if (v[i] == '_') {
            if (i == 0 || !isdigit((unsigned char)v[i - 1]) ||
                !isdigit((unsigned char)v[i + 1]))
                return v;
            continue;
        }
        buf[o++] = v[i];
    }
    buf[o] = '\0';
    if (protein_parse_number(buf, &d) != 0)
        return v;
    grown = realloc(c->numbers, (c->n_numbers + 1) * sizeof *grown);
    if (!grown || !(copy = strdup(buf))) {
        if (grown)
            c->numbers = grown;
        return NULL;
    }
    c->numbers = grown;
    c->numbers[c->n_numbers++] = copy;
    return copy;
}

/* Ends line at its first '#' or ';' outside quotes, as PufferLib's own C
 * reader (src/ini.h, puf_ini_strip_comment) does since its trainer left
 * Python: a quote not after a backslash opens or closes a quoted run.
 * configparser (PufferLib 3.0) keeps such a comment in the value, where no
 * sweep of 3.0 could use it (a bound or distribution with a comment is not
 * one), so both kinds of file read the same way. */
static void strip_inline_comment(char *line)
{
    char quote = '\0';

    for (char *s = line; *s; s++) {
        if ((*s == '\'' || *s == '"') && (s == line || s[-1] != '\\')) {
            if (!quote)
                quote = *s;
            else if (quote == *s)
                quote = '\0';
        } else if ((*s == '#' || *s == ';') && !quote) {
            *s = '\0';
            return;
        }
    }
}

/* Strips one pair of matching quotes ('x' or "x"). */
static char *unquote(char *v)
{
    size_t n = strlen(v);

    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

/* The key "SECTION/KEY" of a non-sweep section, or NULL. */
static struct train_key *train_key(const ini_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_keys; i++)
        if (strcmp(c->keys[i].name, name) == 0)
            return &c->keys[i];
    return NULL;
}

/* Notes key k of the current non-sweep section and whether its value v
 * is a Python int literal (the last assignment wins, as in configparser).
 * Returns 0 or PROTEIN_ENOMEM. */
static int note_type(ini_ctx *c, const char *k, const char *v)
{
    char name[256];
    struct train_key *key, *grown;
    long long integer;

    if ((size_t)snprintf(name, sizeof name, "%s/%s", c->other, k) >=
        sizeof name)
        return 0;
    if (!(key = train_key(c, name))) {
        grown = realloc(c->keys, (c->n_keys + 1) * sizeof *grown);
        if (!grown)
            return PROTEIN_ENOMEM;
        c->keys = grown;
        key = &c->keys[c->n_keys];
        if (!(key->name = strdup(name)))
            return PROTEIN_ENOMEM;
        c->n_keys++;
    }
    key->is_int = protein_parse_integer(v, &integer) == 0;
    return 0;
}

/* Reads every line of buf (modified in place). */
static int read_lines(ini_ctx *c, char *buf)
{
    enum { NONE, SWEEP, PARAM, OTHER } section = NONE;
    char *line = buf, *next;
    int lineno = 0, rc;

    for (; line; line = next) {
        char *s, *sep, *k, *v;
        const char *value;
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        strip_inline_comment(line);
        s = trim(line);
        if (*s == '\0')
            continue;
        if (*s == '[') {
            size_t n = strlen(s);
            if (s[n - 1] != ']')
                return protein_config_error(
                    c->err, c->file, lineno, "",
                    "a section header must end with ']'");
            s[n - 1] = '\0';
            s = trim(s + 1);
            if (strcmp(s, "sweep") == 0) {
                if (c->sweep_line && c->sweep_file == c->file)
                    return protein_config_error(
                        c->err, c->file, lineno, "sweep",
                        "section [sweep] appears twice (first on line %d); "
                        "merge them",
                        c->sweep_line);
                c->sweep_line = lineno;
                c->sweep_file = c->file;
                section = SWEEP;
            } else if (strncmp(s, "sweep.", 6) == 0) {
                if ((rc = begin_param(c, s + 6, lineno)))
                    return rc;
                section = PARAM;
            } else {
                section = OTHER;
                snprintf(c->other, sizeof c->other, "%s", s);
            }
            continue;
        }
        sep = strpbrk(s, "=:");
        if (!sep)
            return protein_config_error(
                c->err, c->file, lineno, "",
                "expected 'key = value' or a [section] header");
        *sep = '\0';
        k = trim(s);
        v = unquote(trim(sep + 1));
        for (s = k; *s; s++)
            *s = (char)tolower((unsigned char)*s);
        if (*k == '\0')
            return protein_config_error(c->err, c->file, lineno, "",
                                        "a key is missing before '='");
        if (section == NONE)
            return protein_config_error(c->err, c->file, lineno, k,
                                        "key outside any section; put it under "
                                        "[sweep] or [sweep.SECTION.PARAM]");
        value = py_number(c, v);
        if (!value)
            return PROTEIN_ENOMEM;
        if (section == SWEEP)
            rc = sweep_key(c, k, value, lineno);
        else if (section == PARAM)
            rc = param_key(c, &c->params[c->cur], k, value, lineno);
        else
            rc = note_type(c, k, value);
        if (rc)
            return rc;
    }
    return 0;
}

/* 1 when the last part of name (after its last '/') contains one of the
 * comma-separated words of list, PufferLib's sweep_only rule (an empty
 * word matches every name, as Python's '' in name does). */
static int sweep_only_match(const char *list, const char *name)
{
    const char *leaf = strrchr(name, '/'), *p = list;

    leaf = leaf ? leaf + 1 : name;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n == 0 || memmem(leaf, strlen(leaf), p, n))
            return 1;
        if (!end)
            return 0;
        p = end + 1;
    }
}

/* Appends to order[*n] the parameters under prefix (of length plen) in
 * the order of PufferLib's nested dict args['sweep']: a section joins the
 * others of its group, groups in the order they first appeared. */
static void nested_order(const ini_ctx *c, const char *prefix, size_t plen,
                         size_t *order, size_t *n, unsigned char *done)
{
    size_t i, j;

    for (i = 0; i < c->n_params; i++) {
        const char *name = c->params[i].name, *rest, *slash;
        if (done[i] || strncmp(name, prefix, plen) != 0)
            continue;
        rest = name + plen;
        slash = strchr(rest, '/');
        if (!slash) {
            done[i] = 1;
            order[(*n)++] = i;
            continue;
        }
        for (j = 0; j < i; j++)
            if (!done[j] && strncmp(c->params[j].name, name,
                                    (size_t)(slash - name) + 1) == 0)
                break;
        if (j == i)
            nested_order(c, name, (size_t)(slash - name) + 1, order, n, done);
    }
}

/* An error about one field of parameter p names the file of that field's
 * line: default.ini's when the env file did not set the field. */
static void name_field_file(protein_error *err, ini_param *p)
{
    const char *dot = strrchr(err->key, '.');
    int f = dot ? field_of_key(dot + 1) : -1;

    if (f >= 0 && spec_field(&p->spec, f)->line == err->line &&
        field_file(p, f))
        snprintf(err->file, sizeof err->file, "%s", field_file(p, f));
}

/* Whether text is absent or a whole number. */
static int whole_or_absent(const char *text)
{
    double d;

    return !text || (protein_parse_number(text, &d) == 0 && d == floor(d));
}

/* Adds parameter p to the config. PufferLib's CLI parses --SECTION.KEY
 * with the type of the value in [SECTION] (argparse type=int for
 * total_timesteps = 10_000_000, which refuses 34612775.4; PufferLib's own
 * sweep fills its dict and never meets this). So a uniform or log_normal
 * parameter whose own value is an int literal is handed out as an
 * integer when its bounds and mean are whole numbers; any other parameter
 * of a kind that is not always an integer is warned about by name (its
 * PROTEIN_ARGS would not parse there). */
static int add_param(ini_ctx *c, ini_param *p)
{
    protein_param_spec spec = p->spec;
    const char *d = spec.distribution.text;
    const struct train_key *key = train_key(c, p->name);
    int section = (int)strcspn(p->name, "/"), rc = 0;
    char flag[256];
    size_t i;

    snprintf(flag, sizeof flag, "%s", p->name);
    for (i = 0; flag[i]; i++)
        flag[i] = flag[i] == '/' ? '.' : flag[i] == '_' ? '-' : flag[i];
    if (!protein_in_list(d, puffer_distributions))
        return protein_config_error(
            c->err, field_file(p, FIELD_DISTRIBUTION), spec.distribution.line,
            p->key,
            "distribution '%s' is not one of PufferLib's (uniform, "
            "int_uniform, uniform_pow2, log_normal, logit_normal; PufferLib "
            "refuses it too)%s",
            d,
            strcmp(d, "log_uniform") == 0 ||
                    strcmp(d, "log_uniform_values") == 0
                ? ": for a log scale write log_normal, with min and max as "
                  "the values themselves"
                : "");
    /* PufferLib's CLI has an argument for the keys of its config's
     * sections only: puffer train refuses any other --SECTION.KEY. Known
     * for an env file read over default.ini: the whole config. */
    if (c->merged && !key && strchr(p->name, '/') == p->name + section &&
        !strchr(p->name + section + 1, '/') &&
        protein_config_warn(
            c->cfg,
            "%s:%d: %s: no '%s' in [%.*s] of this config, so PufferLib's CLI "
            "has no --%s: puffer train refuses the trial's PROTEIN_ARGS (add "
            "the key to [%.*s], fix the [%s] section's name, or read the "
            "trial's parameters from PROTEIN_PARAMS)",
            p->file ? p->file : "", p->spec.line, p->key, p->name + section + 1,
            section, p->name, flag, section, p->name, p->key))
        return PROTEIN_ENOMEM;
    if (key && strncmp(p->name, "base/", 5) == 0 &&
        protein_config_warn(
            c->cfg,
            "%s:%d: %s: PufferLib's CLI takes [base] keys as --%s, not --%s as "
            "in PROTEIN_ARGS; read PROTEIN_PARAM_<NAME> or PROTEIN_PARAMS "
            "instead (and PufferLib's own sweep does not apply [base] keys)",
            p->file ? p->file : "", p->spec.line, p->key, flag + 5, flag))
        return PROTEIN_ENOMEM;
    if (key && key->is_int && !spec.integer.text &&
        strcmp(d, "int_uniform") != 0 && strcmp(d, "uniform_pow2") != 0) {
        if ((strcmp(d, "uniform") == 0 || strcmp(d, "log_normal") == 0) &&
            whole_or_absent(spec.min.text) && whole_or_absent(spec.max.text) &&
            whole_or_absent(spec.def.text)) {
            spec.integer.text = "true";
            spec.integer.line = spec.line;
            rc = protein_config_warn(
                c->cfg,
                "%s:%d: %s: handed out as an integer: PufferLib's CLI parses "
                "--%s as an int (its value in [%.*s] is one); write that value "
                "with a decimal point for a float",
                p->file ? p->file : "", p->spec.line, p->key, flag, section,
                p->name);
        } else {
            rc = protein_config_warn(
                c->cfg,
                "%s:%d: %s: PufferLib's CLI parses --%s as an int (its value "
                "in [%.*s] is one) and refuses the fractional values this "
                "sweep draws; write that value with a decimal point, or read "
                "the trial's parameters from PROTEIN_PARAMS",
                p->file ? p->file : "", p->spec.line, p->key, flag, section,
                p->name);
        }
        if (rc)
            return PROTEIN_ENOMEM;
    }
    rc = protein_config_add_param(c->cfg, p->file, &spec, c->err);
    if (rc && rc != PROTEIN_ENOMEM)
        name_field_file(c->err, p);
    return rc;
}

/* Turns the sections read into c->cfg: checks there is a [sweep] (or a
 * default.ini read under the file), names the sweep, adds the parameters in
 * nesting order (those sweep_only selects), requires at least one, and
 * defaults cost_param to train/total_timesteps as PufferLib does. 0, or an
 * error code with c->err filled. */
static int build(ini_ctx *c)
{
    size_t i, n = 0, *order;
    unsigned char *done;
    int rc, cost;

    if (!c->sweep_line && c->n_params > 0 && !c->merged)
        return protein_config_error(
            c->err, c->file, c->params[0].spec.line, "sweep",
            "[sweep.SECTION.PARAM] sections but no [sweep] section, and no "
            "default.ini next to this file or in the two directories above: "
            "PufferLib reads an environment's file over config/default.ini, "
            "which holds [sweep] and the other parameters; keep the file in "
            "PufferLib's config/ tree, or add a [sweep] section (method, "
            "metric, goal)");
    if (!c->sweep_line)
        return protein_config_error(
            c->err, c->file, 1, "sweep",
            "no [sweep] section; this is not a PufferLib sweep config");
    if ((rc = protein_config_name_from_file(c->cfg, c->file, c->sweep_line,
                                            "sweep.name", c->err)))
        return rc;
    order = calloc(c->n_params + 1, sizeof *order);
    done = calloc(c->n_params + 1, 1);
    if (!order || !done) {
        free(order);
        free(done);
        return PROTEIN_ENOMEM;
    }
    nested_order(c, "", 0, order, &n, done);
    free(done);
    for (rc = 0, i = 0; i < n && rc == 0; i++) {
        ini_param *p = &c->params[order[i]];
        if (c->sweep_only && !sweep_only_match(c->sweep_only, p->name))
            continue;
        if (!p->spec.distribution.text)
            rc = protein_config_error(
                c->err, p->file, p->spec.line, p->key,
                "no distribution; PufferLib needs one in every "
                "[sweep.SECTION.PARAM] (it stops on an assert without): add "
                "distribution = uniform, int_uniform, uniform_pow2, log_normal "
                "or logit_normal");
        else
            rc = add_param(c, p);
    }
    free(order);
    if (rc)
        return rc;
    if (c->cfg->n_params == 0 && c->sweep_only)
        return protein_config_error(
            c->err, c->sweep_only_file, c->sweep_only_line, "sweep.sweep_only",
            "'%s' matches no parameter; fix it or remove it", c->sweep_only);
    if (c->cfg->n_params == 0 && c->merged)
        return protein_config_error(
            c->err, c->file, c->sweep_line, "sweep",
            "no parameters to sweep; add a [sweep.SECTION.PARAM] section");
    if (c->cfg->n_params == 0)
        return protein_config_error(
            c->err, c->file, c->sweep_line, "sweep",
            "no parameters to sweep, and no default.ini next to this file "
            "or in the two directories above to read it over (PufferLib "
            "reads an environment's file over its config/default.ini, "
            "which holds the [sweep.SECTION.PARAM] sections); put that "
            "default.ini there, or add [sweep.SECTION.PARAM] sections");
    cost = protein_config_find_param(c->cfg, "train/total_timesteps");
    if (!c->cfg->cost_param && cost >= 0 &&
        c->cfg->params[cost].kind != PROTEIN_PARAM_CATEGORICAL &&
        c->cfg->params[cost].kind != PROTEIN_PARAM_CONSTANT)
        return protein_config_set_string(&c->cfg->cost_param,
                                         "train/total_timesteps");
    return protein_config_check(c->cfg, c->file, c->sweep_line,
                                "sweep.cost_param", c->cost_param_line, c->err);
}

/* A copy of text to parse in place, less a UTF-8 byte order mark; NULL
 * with err filled when the text holds a NUL byte, or out of memory (*rc
 * tells which). */
static char *ini_text(const char *text, size_t len, const char *file,
                      protein_error *err, int *rc)
{
    const char *nul = memchr(text, '\0', len);
    char *buf;
    size_t i;

    if (nul) {
        int line = 1;
        for (i = 0; text + i < nul; i++)
            line += text[i] == '\n';
        *rc = protein_config_error(
            err, file, line, "",
            "the file contains a NUL byte; it is not a text file");
        return NULL;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    *rc = PROTEIN_ENOMEM;
    if (!(buf = malloc(len + 1)))
        return NULL;
    memcpy(buf, text, len);
    buf[len] = '\0';
    return buf;
}

/* Contract in config_common.h. */
int protein_config_parse_ini_over(const char *base, size_t base_len,
                                  const char *base_file, const char *text,
                                  size_t len, const char *filename,
                                  protein_sweep_config **out,
                                  protein_error *err)
{
    ini_ctx c;
    char *buf = NULL, *base_buf = NULL;
    size_t i;
    int rc = PROTEIN_ENOMEM;

    if (!text || !out)
        return PROTEIN_EINVAL;
    memset(&c, 0, sizeof c);
    c.err = err;
    if (base && !(base_buf = ini_text(base, base_len, base_file, err, &rc)))
        return rc;
    if (!(buf = ini_text(text, len, filename, err, &rc)))
        goto fail;
    rc = PROTEIN_ENOMEM;
    if (!(c.cfg = protein_config_new(filename)))
        goto fail;
    if (base_buf) {
        c.file = base_file;
        c.merged = 1;
        if ((rc = read_lines(&c, base_buf)))
            goto fail;
        rc = protein_config_warn(c.cfg,
                                 "%s: read over %s, as PufferLib merges an "
                                 "environment's file with it",
                                 filename ? filename : "", base_file);
        if (rc)
            goto fail;
    }
    c.file = filename;
    c.pass = 1;
    if ((rc = read_lines(&c, buf)) || (rc = build(&c)))
        goto fail;
    *out = c.cfg;
    c.cfg = NULL;
fail:
    for (i = 0; i < c.n_params; i++) {
        free(c.params[i].name);
        free(c.params[i].key);
    }
    for (i = 0; i < c.n_numbers; i++)
        free(c.numbers[i]);
    free(c.numbers);
    for (i = 0; i < c.n_keys; i++)
        free(c.keys[i].name);
    free(c.keys);
    free(c.params);
    protein_config_free(c.cfg);
    free(buf);
    free(base_buf);
    return rc;
}

/* Parses PufferLib INI text (see protein.h). The text may hold anything but
 * NUL bytes; filename (may be NULL) names the file in errors and gives the
 * sweep its name when [sweep] has no name key. */
int protein_config_parse_ini(const char *text, size_t len, const char *filename,
                             protein_sweep_config **out, protein_error *err)
{
    return protein_config_parse_ini_over(NULL, 0, NULL, text, len, filename,
                                         out, err);
}
